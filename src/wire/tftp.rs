//! TFTP query of UDP 69: a read request (RRQ, RFC 1350) for a file that does
//! not exist, so that no data is transferred.
//!
//! ```text
//! RRQ    | 01 | 2 bytes opcode | file name | 0 | mode ("octet") | 0 |
//! DATA   | 03 | block number (2 bytes) | 0..512 data bytes (more after RFC 2348 blksize) |
//! ERROR  | 05 | error code (2 bytes) | message | 0 |
//! OACK   | 06 | option | 0 | value | 0 | ... (RFC 2347)
//! ```
//! Every field is big-endian. The server answers from a new port, its transfer
//! ID (TID), not from 69 (RFC 1350 §4): the caller must accept that.
//!
//! Any of these replies proves a TFTP server: an ERROR ("file not found",
//! "access violation"), or DATA/OACK when the name happens to exist, which the
//! caller stops with the ERROR packet [`stop_transfer`] builds. Parsing is
//! bounded: a hostile reply yields a [`TftpError`], never a panic.

use serde::Serialize;

use super::bytes::{put_u16_be, u16_be_at};

/// Opcodes (RFC 1350 §5; OACK from RFC 2347).
pub mod opcode {
    pub const RRQ: u16 = 1;
    pub const WRQ: u16 = 2;
    pub const DATA: u16 = 3;
    pub const ACK: u16 = 4;
    pub const ERROR: u16 = 5;
    pub const OACK: u16 = 6;
}

/// Error codes (RFC 1350 appendix; 8 from RFC 2347).
pub mod code {
    pub const NOT_DEFINED: u16 = 0;
    pub const FILE_NOT_FOUND: u16 = 1;
    pub const ACCESS_VIOLATION: u16 = 2;
    pub const DISK_FULL: u16 = 3;
    pub const ILLEGAL_OPERATION: u16 = 4;
    pub const UNKNOWN_TID: u16 = 5;
    pub const FILE_EXISTS: u16 = 6;
    pub const NO_SUCH_USER: u16 = 7;
    pub const OPTION_REFUSED: u16 = 8;
}

/// Transfer mode of our request: bytes as they are, no newline translation.
pub const MODE_OCTET: &str = "octet";
/// Start of the file names we ask for; a random suffix makes them absent.
pub const FILE_PREFIX: &str = "portqry-probe-";
/// Message of the ERROR packet that stops a transfer we did not want.
pub const STOP_MESSAGE: &str = "portqry: probe only, transfer not wanted";

/// Length of the opcode field.
const OPCODE_LEN: usize = 2;
/// Opcode plus error code or block number.
const HEADER_LEN: usize = 4;
/// Bytes of an ERROR message kept for display; a real one is a short sentence.
const MAX_MESSAGE: usize = 512;
/// OACK options kept; more are counted in `option_count` only.
pub const MAX_OPTIONS: usize = 16;

/// Why a reply is not a TFTP answer to a read request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TftpError {
    #[error("TFTP {0} truncated")]
    Truncated(&'static str),
    #[error("TFTP opcode {0} does not answer a read request")]
    UnexpectedOpcode(u16),
    #[error("TFTP option {0} is not NUL-terminated")]
    Unterminated(&'static str),
}

/// One option acknowledged by an OACK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TftpOption {
    pub name: String,
    pub value: String,
}

/// A server's answer to a read request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "opcode", rename_all = "lowercase")]
pub enum TftpReply {
    /// ERROR: the server refused the request (the expected answer).
    Error {
        code: u16,
        /// RFC 1350 meaning of `code`, e.g. `file not found`.
        name: &'static str,
        /// The server's own text, control characters escaped.
        message: String,
    },
    /// DATA: the file exists and the transfer started.
    Data {
        block: u16,
        /// Data bytes in this block.
        bytes: usize,
    },
    /// OACK: the server accepted options (we send none, but a server may).
    Oack {
        /// At most [`MAX_OPTIONS`].
        options: Vec<TftpOption>,
        option_count: usize,
    },
}

/// RFC 1350 meaning of an error code.
pub fn error_name(c: u16) -> &'static str {
    match c {
        code::NOT_DEFINED => "not defined",
        code::FILE_NOT_FOUND => "file not found",
        code::ACCESS_VIOLATION => "access violation",
        code::DISK_FULL => "disk full or allocation exceeded",
        code::ILLEGAL_OPERATION => "illegal TFTP operation",
        code::UNKNOWN_TID => "unknown transfer ID",
        code::FILE_EXISTS => "file already exists",
        code::NO_SUCH_USER => "no such user",
        code::OPTION_REFUSED => "option negotiation refused",
        _ => "unknown",
    }
}

/// `portqry-probe-` and 16 hex digits of `nonce`: a name no server holds.
pub fn probe_file_name(nonce: u64) -> String {
    format!("{FILE_PREFIX}{nonce:016x}")
}

/// Encode a read request. `file` and `mode` must not contain NUL (ours never do).
pub fn emit_read_request(file: &str, mode: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(OPCODE_LEN + file.len() + mode.len() + 2);
    put_u16_be(&mut out, opcode::RRQ);
    for field in [file, mode] {
        out.extend_from_slice(field.as_bytes());
        out.push(0);
    }
    out
}

/// Encode an ERROR packet.
pub fn emit_error(error_code: u16, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + message.len() + 1);
    put_u16_be(&mut out, opcode::ERROR);
    put_u16_be(&mut out, error_code);
    out.extend_from_slice(message.as_bytes());
    out.push(0);
    out
}

/// The ERROR packet that ends a transfer the server started (DATA: code 0; OACK:
/// code 8, as RFC 2347 asks of a client that declines), or `None` after an ERROR.
pub fn stop_transfer(reply: &TftpReply) -> Option<(u16, Vec<u8>)> {
    let c = match reply {
        TftpReply::Error { .. } => return None,
        TftpReply::Data { .. } => code::NOT_DEFINED,
        TftpReply::Oack { .. } => code::OPTION_REFUSED,
    };
    Some((c, emit_error(c, STOP_MESSAGE)))
}

/// Parse a reply to [`emit_read_request`]. An ERROR whose message lacks its NUL
/// is accepted (the text runs to the end): it still proves a TFTP server.
pub fn parse_reply(buf: &[u8]) -> Result<TftpReply, TftpError> {
    let op = u16_be_at(buf, 0).ok_or(TftpError::Truncated("opcode"))?;
    match op {
        opcode::ERROR => {
            let c = u16_be_at(buf, OPCODE_LEN).ok_or(TftpError::Truncated("ERROR packet"))?;
            let text = &buf[HEADER_LEN..];
            let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
            let message = super::ldap::sanitize_text(&text[..end.min(MAX_MESSAGE)]);
            Ok(TftpReply::Error { code: c, name: error_name(c), message })
        }
        opcode::DATA => {
            let block = u16_be_at(buf, OPCODE_LEN).ok_or(TftpError::Truncated("DATA packet"))?;
            Ok(TftpReply::Data { block, bytes: buf.len() - HEADER_LEN })
        }
        opcode::OACK => {
            let mut fields = buf[OPCODE_LEN..].split(|&b| b == 0);
            // split leaves the text after the last NUL: empty when every field ended.
            if fields.next_back().is_some_and(|tail| !tail.is_empty()) {
                return Err(TftpError::Unterminated("list"));
            }
            let mut options = Vec::new();
            let mut option_count = 0;
            while let Some(name) = fields.next() {
                let value = fields.next().ok_or(TftpError::Unterminated("value"))?;
                option_count += 1;
                if options.len() < MAX_OPTIONS {
                    let text = |b: &[u8]| super::ldap::sanitize_text(&b[..b.len().min(MAX_MESSAGE)]);
                    options.push(TftpOption { name: text(name), value: text(value) });
                }
            }
            Ok(TftpReply::Oack { options, option_count })
        }
        other => Err(TftpError::UnexpectedOpcode(other)),
    }
}

/// What the TFTP query found, for the report and JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TftpAnswer {
    /// The file name we asked for.
    pub file: String,
    /// The port the server answered from (its transfer ID).
    pub server_port: u16,
    #[serde(flatten)]
    pub reply: TftpReply,
    /// The error code of the ERROR packet we sent to stop a transfer (DATA/OACK).
    pub stopped_with: Option<u16>,
}

impl TftpAnswer {
    /// PortQry-style lines: the request, then what came back.
    pub fn render_lines(&self) -> Vec<String> {
        let port = self.server_port;
        let mut lines = vec![format!("TFTP read request for {} ({MODE_OCTET} mode)", self.file)];
        match &self.reply {
            TftpReply::Error { code, name, message } if message.is_empty() => {
                lines.push(format!("TFTP error code {code} ({name}) from port {port}"));
            }
            TftpReply::Error { code, name, message } => {
                lines.push(format!("TFTP error code {code} ({name}) from port {port}: {message}"));
            }
            TftpReply::Data { block, bytes } => lines.push(format!(
                "The server offered the file: DATA block {block}, {bytes} byte(s), from port {port}"
            )),
            TftpReply::Oack { options, option_count } => {
                let shown: Vec<String> = options.iter().map(|o| format!("{}={}", o.name, o.value)).collect();
                let more = option_count - options.len();
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                lines.push(format!(
                    "The server offered the file: OACK ({}{more}) from port {port}",
                    shown.join(", ")
                ));
            }
        }
        if let Some(c) = self.stopped_with {
            lines.push(format!("Transfer stopped: TFTP error code {c} sent to port {port}"));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `emit_read_request("portqry-probe-0000000000001234", "octet")`, written by hand
    /// from RFC 1350 §5 (opcode 1, two NUL-terminated strings).
    const RRQ: [u8; 39] = [
        0x00, 0x01, 0x70, 0x6f, 0x72, 0x74, 0x71, 0x72, 0x79, 0x2d, 0x70, 0x72, 0x6f, 0x62, 0x65, 0x2d, 0x30,
        0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x32, 0x33, 0x34, 0x00, 0x6f,
        0x63, 0x74, 0x65, 0x74, 0x00,
    ];

    /// tftpd-hpa 5.2's answer to a missing file (captured: error 1, "File not found").
    const ERROR_NOT_FOUND: [u8; 19] = [
        0x00, 0x05, 0x00, 0x01, 0x46, 0x69, 0x6c, 0x65, 0x20, 0x6e, 0x6f, 0x74, 0x20, 0x66, 0x6f, 0x75, 0x6e,
        0x64, 0x00,
    ];

    /// `emit_error(0, "x")`.
    const ERROR_STOP: [u8; 6] = [0x00, 0x05, 0x00, 0x00, 0x78, 0x00];

    /// An OACK for blksize 1428 and tsize 0 (RFC 2347 §3 layout).
    const OACK: [u8; 23] = [
        0x00, 0x06, 0x62, 0x6c, 0x6b, 0x73, 0x69, 0x7a, 0x65, 0x00, 0x31, 0x34, 0x32, 0x38, 0x00, 0x74, 0x73,
        0x69, 0x7a, 0x65, 0x00, 0x30, 0x00,
    ];

    #[test]
    fn request_matches_reference_bytes() {
        let name = probe_file_name(0x1234);
        assert_eq!(name, "portqry-probe-0000000000001234");
        assert_eq!(emit_read_request(&name, MODE_OCTET), RRQ);
        assert_eq!(emit_error(0, "x"), ERROR_STOP);
    }

    #[test]
    fn parses_error_data_and_oack() {
        let e = parse_reply(&ERROR_NOT_FOUND).unwrap();
        assert_eq!(e, TftpReply::Error { code: 1, name: "file not found", message: "File not found".into() });
        assert_eq!(stop_transfer(&e), None);
        let d = parse_reply(&[0x00, 0x03, 0x00, 0x01, b'h', b'i']).unwrap();
        assert_eq!(d, TftpReply::Data { block: 1, bytes: 2 });
        assert_eq!(stop_transfer(&d).map(|(c, _)| c), Some(code::NOT_DEFINED));
        let o = parse_reply(&OACK).unwrap();
        let TftpReply::Oack { options, option_count } = &o else { panic!("{o:?}") };
        assert_eq!(*option_count, 2);
        assert_eq!((options[0].name.as_str(), options[0].value.as_str()), ("blksize", "1428"));
        let (c, pkt) = stop_transfer(&o).unwrap();
        assert_eq!((c, &pkt[..4]), (code::OPTION_REFUSED, &[0x00, 0x05, 0x00, 0x08][..]));
    }

    #[test]
    fn lenient_and_strict_edges() {
        // ERROR without its NUL, and with a hostile control character.
        let e = parse_reply(&[0x00, 0x05, 0x00, 0x02, b'n', 0x1b, b'o']).unwrap();
        assert_eq!(e, TftpReply::Error { code: 2, name: "access violation", message: "n\\u{1b}o".into() });
        assert_eq!(parse_reply(&[0x00, 0x05, 0x00]), Err(TftpError::Truncated("ERROR packet")));
        assert_eq!(parse_reply(&[0x00]), Err(TftpError::Truncated("opcode")));
        assert_eq!(parse_reply(&[0x00, 0x06, b'a', 0]), Err(TftpError::Unterminated("value")));
        assert_eq!(parse_reply(&[0x00, 0x06, b'a']), Err(TftpError::Unterminated("list")));
        // NUL padding after the last pair reads as an option without a value.
        assert_eq!(parse_reply(&[&OACK[..], &[0]].concat()), Err(TftpError::Unterminated("value")));
        assert_eq!(
            parse_reply(&ERROR_STOP[..4]).unwrap(),
            TftpReply::Error { code: 0, name: "not defined", message: String::new() }
        );
        // Our own request and an ACK are not answers to a read request.
        let rrq = emit_read_request("f", MODE_OCTET);
        assert_eq!(parse_reply(&rrq), Err(TftpError::UnexpectedOpcode(opcode::RRQ)));
        assert_eq!(parse_reply(&[0, 4, 0, 1]), Err(TftpError::UnexpectedOpcode(opcode::ACK)));
    }

    #[test]
    fn options_are_capped_and_rendered() {
        let mut many = vec![0x00, 0x06];
        for i in 0..40 {
            many.extend_from_slice(format!("opt{i}\0{i}\0").as_bytes());
        }
        let reply = parse_reply(&many).unwrap();
        let a = TftpAnswer { file: probe_file_name(1), server_port: 40000, reply, stopped_with: Some(8) };
        assert_eq!(
            a.render_lines()[1..],
            [
                format!(
                    "The server offered the file: OACK ({} and 24 more) from port 40000",
                    (0..16).map(|i| format!("opt{i}={i}")).collect::<Vec<_>>().join(", ")
                ),
                "Transfer stopped: TFTP error code 8 sent to port 40000".to_string(),
            ]
        );
        let e = TftpAnswer {
            file: probe_file_name(1),
            server_port: 40001,
            reply: parse_reply(&ERROR_NOT_FOUND).unwrap(),
            stopped_with: None,
        };
        assert_eq!(
            e.render_lines(),
            [
                "TFTP read request for portqry-probe-0000000000000001 (octet mode)",
                "TFTP error code 1 (file not found) from port 40001: File not found"
            ]
        );
    }

    #[test]
    fn every_truncation_fails_or_parses_cleanly() {
        for n in 0..ERROR_NOT_FOUND.len() {
            let _ = parse_reply(&ERROR_NOT_FOUND[..n]);
        }
        assert!(parse_reply(&ERROR_NOT_FOUND[..3]).is_err());
    }

    #[test]
    fn random_mutations_never_panic() {
        crate::wire::mutate_each(&[ERROR_NOT_FOUND.to_vec(), OACK.to_vec()], 20_000, |buf| {
            if let Ok(reply) = parse_reply(buf) {
                let a = TftpAnswer { file: String::new(), server_port: 1, reply, stopped_with: None };
                let _ = a.render_lines();
            }
        });
    }
}
