//! SMB2 NEGOTIATE ([MS-SMB2] 2.2.3, 2.2.4) over the Direct TCP transport of
//! TCP 445 ([MS-SMB2] 2.1): the first message of every SMB2/3 session, which a
//! server answers before any authentication with its dialect, signing policy,
//! GUID, clock and capabilities.
//!
//! ```text
//! Direct TCP   | 00 | length (3 bytes, big-endian) | SMB2 message |
//! SMB2 header  | FE 'S' 'M' 'B' | StructureSize=64 (2) | CreditCharge (2) | Status (4) |
//!  (64 bytes,  | Command (2) | Credits (2) | Flags (4) | NextCommand (4) | MessageId (8) |
//!  LE fields)  | ProcessId (4) | TreeId (4) | SessionId (8) | Signature (16) |
//! NEGOTIATE    | StructureSize=36 | DialectCount | SecurityMode | 0 | Capabilities (4) |
//!  request     | ClientGuid (16) | NegotiateContextOffset (4) | Count (2) | 0 (2) | Dialects |
//!              | pad to 8 | contexts: Type (2) | DataLength (2) | 0 (4) | data, each 8-aligned |
//! NEGOTIATE    | StructureSize=65 | SecurityMode | DialectRevision | ContextCount |
//!  response    | ServerGuid (16) | Capabilities (4) | MaxTransact | MaxRead | MaxWrite (4 each) |
//!              | SystemTime (8) | ServerStartTime (8) | SecBufOffset (2) | SecBufLength (2) |
//!              | NegotiateContextOffset (4) | security blob | contexts |
//! ```
//! A server may answer with an SMB2 error (a non-zero Status and the 9-byte
//! error body) or, if it speaks only SMB1, with an SMB1 header (`FF 'S' 'M' 'B'`)
//! carrying an NT status; both parse into [`Smb2Reply::Error`]. Whether a reply
//! is ours (its MessageId) is the conversation's business. Parsing is bounded
//! and never panics: a hostile reply yields an [`Smb2Error`].

use serde::Serialize;

use super::bytes::{Reader, Truncated, put_u16_le, put_u32_le};

/// SMB2 header length ([MS-SMB2] 2.2.1).
pub const HEADER_LEN: usize = 64;
/// Direct TCP transport header length.
pub const TRANSPORT_LEN: usize = 4;
/// The largest message the Direct TCP header can announce (24 bits).
pub const MAX_MESSAGE: usize = 0x00ff_ffff;
/// ProtocolId of SMB2 and of SMB1.
pub const PROTOCOL_SMB2: [u8; 4] = [0xfe, b'S', b'M', b'B'];
pub const PROTOCOL_SMB1: [u8; 4] = [0xff, b'S', b'M', b'B'];
/// Offsets into the SMB2 header.
const OFF_STATUS: usize = 8;
const OFF_COMMAND: usize = 12;
const OFF_FLAGS: usize = 16;
const OFF_MESSAGE_ID: usize = 24;
/// Offsets into the SMB1 header ([MS-CIFS] 2.2.3.1): command, then a 32-bit status.
const SMB1_OFF_COMMAND: usize = 4;
const SMB1_OFF_STATUS: usize = 5;
/// Command code of NEGOTIATE.
pub const CMD_NEGOTIATE: u16 = 0x0000;
/// Header flag: the message is a response.
const FLAGS_SERVER_TO_REDIR: u32 = 0x0000_0001;
/// Body of the NEGOTIATE request before its dialects, and of the response before its buffer.
const REQUEST_FIXED: usize = 36;
const RESPONSE_FIXED: usize = 64;
/// StructureSize of an SMB2 ERROR response.
const ERROR_STRUCTURE_SIZE: u16 = 9;

/// The dialects we offer, oldest first: 2.0.2, 2.1, 3.0, 3.0.2, 3.1.1.
pub const DIALECTS: [u16; 5] = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311];
/// SecurityMode bits ([MS-SMB2] 2.2.3).
pub const SIGNING_ENABLED: u16 = 0x0001;
pub const SIGNING_REQUIRED: u16 = 0x0002;
/// Capability bits ([MS-SMB2] 2.2.3) and their names.
pub const CAPABILITIES: [(u32, &str); 7] = [
    (0x01, "DFS"),
    (0x02, "leasing"),
    (0x04, "large MTU"),
    (0x08, "multichannel"),
    (0x10, "persistent handles"),
    (0x20, "directory leasing"),
    (0x40, "encryption"),
];
/// What we claim: all of the above (the server answers with the subset it shares).
const CLIENT_CAPABILITIES: u32 = 0x7f;
/// Negotiate context types ([MS-SMB2] 2.2.3.1).
pub const CTX_PREAUTH_INTEGRITY: u16 = 0x0001;
pub const CTX_ENCRYPTION: u16 = 0x0002;
pub const CTX_COMPRESSION: u16 = 0x0003;
pub const CTX_NETNAME: u16 = 0x0005;
pub const CTX_TRANSPORT: u16 = 0x0006;
pub const CTX_RDMA_TRANSFORM: u16 = 0x0007;
pub const CTX_SIGNING: u16 = 0x0008;
/// Preauth integrity hash SHA-512, the only one defined.
pub const HASH_SHA512: u16 = 0x0001;
/// Ciphers we offer, strongest first ([MS-SMB2] 2.2.3.1.2).
const CIPHERS: [u16; 4] = [0x0004, 0x0003, 0x0002, 0x0001];
/// Signing algorithms we offer ([MS-SMB2] 2.2.3.1.7): AES-GMAC, AES-CMAC, HMAC-SHA256.
const SIGNING_ALGORITHMS: [u16; 3] = [0x0002, 0x0001, 0x0000];
/// Salt length of our preauth integrity context (Windows sends 32).
pub const SALT_LEN: usize = 32;
/// Contexts decoded from one reply (a real one has two to five).
pub const MAX_CONTEXTS: usize = 16;
/// Items decoded per context list.
const MAX_ITEMS: usize = 16;

/// Why a reply is not an SMB2 NEGOTIATE response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Smb2Error {
    #[error("SMB reply truncated ({0})")]
    Truncated(#[from] Truncated),
    #[error("Direct TCP header type {0:#04x} is not a session message (0x00)")]
    TransportType(u8),
    #[error("Direct TCP header says {declared} bytes, {present} present")]
    Length { declared: usize, present: usize },
    #[error("protocol id {0:02x?} is neither SMB2 (fe 53 4d 42) nor SMB1 (ff 53 4d 42)")]
    NotSmb([u8; 4]),
    #[error("SMB2 command {0:#06x} is not NEGOTIATE")]
    Command(u16),
    #[error("SMB2 message is not flagged as a response")]
    NotResponse,
    #[error("SMB2 NEGOTIATE response StructureSize {0} (65 expected)")]
    StructureSize(u16),
    #[error("SMB2 negotiate context at offset {0} is outside the message")]
    ContextOffset(usize),
}

/// One negotiate context of a 3.1.1 response, decoded where we know its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Context {
    PreauthIntegrity { hash_algorithms: Vec<String>, salt_len: usize },
    Encryption { ciphers: Vec<String> },
    Signing { algorithms: Vec<String> },
    Compression { algorithms: Vec<String> },
    Other { context_type: u16, data_len: usize },
}

impl Context {
    /// One line for the report.
    pub fn line(&self) -> String {
        match self {
            Context::PreauthIntegrity { hash_algorithms, salt_len } => {
                format!("preauth integrity: {} (salt {salt_len} bytes)", hash_algorithms.join(", "))
            }
            Context::Encryption { ciphers } => format!("encryption cipher: {}", or_none(ciphers)),
            Context::Signing { algorithms } => format!("signing algorithm: {}", or_none(algorithms)),
            Context::Compression { algorithms } => format!("compression: {}", or_none(algorithms)),
            Context::Other { context_type, data_len } => {
                format!("negotiate context {context_type:#06x} ({data_len} bytes)")
            }
        }
    }
}

fn or_none(v: &[String]) -> String {
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// A NEGOTIATE response's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Negotiate {
    pub message_id: u64,
    /// "3.1.1", "2.1", ...
    pub dialect: String,
    pub dialect_code: u16,
    pub security_mode: u16,
    pub signing_enabled: bool,
    pub signing_required: bool,
    /// The server GUID in its usual text form.
    pub server_guid: String,
    pub capabilities: u32,
    pub capability_names: Vec<&'static str>,
    pub max_transact_size: u32,
    pub max_read_size: u32,
    pub max_write_size: u32,
    /// FILETIME: 100 ns ticks since 1601-01-01 UTC (0: not given).
    pub system_time: u64,
    pub server_start_time: u64,
    /// The same as UTC text ("2026-12-01 04:20:01 UTC"); None when not given.
    pub system_time_utc: Option<String>,
    pub server_start_time_utc: Option<String>,
    pub security_blob_len: usize,
    pub contexts: Vec<Context>,
}

/// What came back: a NEGOTIATE response or an error status (SMB2 or SMB1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Smb2Reply {
    Negotiate(Negotiate),
    Error {
        /// "SMB2" or "SMB1".
        protocol: &'static str,
        /// The NT status code.
        status: u32,
        command: u16,
        /// The SMB2 MessageId (None for SMB1, which has no such field).
        message_id: Option<u64>,
    },
}

/// The dialect's usual name ("3.1.1"); 0x02FF is the SMB1-negotiate wildcard.
pub fn dialect_name(code: u16) -> String {
    match code {
        0x0202 => "2.0.2".into(),
        0x0210 => "2.1".into(),
        0x0300 => "3.0".into(),
        0x0302 => "3.0.2".into(),
        0x0311 => "3.1.1".into(),
        0x02ff => "2.??? (wildcard)".into(),
        c => format!("unknown {c:#06x}"),
    }
}

/// Names of a few NT statuses a NEGOTIATE can meet ([MS-ERREF] 2.3.1).
pub fn status_name(status: u32) -> Option<&'static str> {
    Some(match status {
        0x0000_0000 => "STATUS_SUCCESS",
        0xc000_0002 => "STATUS_NOT_IMPLEMENTED",
        0xc000_000d => "STATUS_INVALID_PARAMETER",
        0xc000_0022 => "STATUS_ACCESS_DENIED",
        0xc000_00bb => "STATUS_NOT_SUPPORTED",
        0xc000_0016 => "STATUS_MORE_PROCESSING_REQUIRED",
        0xc000_009a => "STATUS_INSUFFICIENT_RESOURCES",
        0xc000_0205 => "STATUS_INSUFF_SERVER_RESOURCES",
        0xc000_00c3 => "STATUS_INVALID_NETWORK_RESPONSE",
        0xc000_022a => "STATUS_DUPLICATE_OBJECTID",
        0xc000_0225 => "STATUS_NOT_FOUND",
        0x0005_0002 => "SMB1 ERRSRV/ERRerror",
        0x0001_0002 => "SMB1 ERRDOS/ERRbadfunc",
        _ => return None,
    })
}

/// What the client puts in its request besides the fixed parts.
#[derive(Debug, Clone)]
pub struct NegotiateRequest {
    pub message_id: u64,
    pub client_guid: [u8; 16],
    /// The preauth integrity salt (random per request).
    pub salt: [u8; SALT_LEN],
}

fn pad8(out: &mut Vec<u8>, base: usize) {
    while !(out.len() - base).is_multiple_of(8) {
        out.push(0);
    }
}

fn put_context(out: &mut Vec<u8>, base: usize, ctype: u16, data: &[u8]) {
    pad8(out, base);
    put_u16_le(out, ctype);
    put_u16_le(out, data.len() as u16);
    put_u32_le(out, 0);
    out.extend_from_slice(data);
}

/// The NEGOTIATE request, framed for Direct TCP (4-byte header first).
pub fn emit_negotiate(req: &NegotiateRequest) -> Vec<u8> {
    let mut out = vec![0u8; TRANSPORT_LEN];
    let base = out.len();
    // Header.
    out.extend_from_slice(&PROTOCOL_SMB2);
    put_u16_le(&mut out, HEADER_LEN as u16);
    put_u16_le(&mut out, 0); // CreditCharge
    put_u32_le(&mut out, 0); // Status / ChannelSequence
    put_u16_le(&mut out, CMD_NEGOTIATE);
    put_u16_le(&mut out, 1); // credits requested
    put_u32_le(&mut out, 0); // Flags
    put_u32_le(&mut out, 0); // NextCommand
    out.extend_from_slice(&req.message_id.to_le_bytes());
    put_u32_le(&mut out, 0xfeff); // ProcessId (what Windows sends)
    put_u32_le(&mut out, 0); // TreeId
    out.extend_from_slice(&[0u8; 8]); // SessionId
    out.extend_from_slice(&[0u8; 16]); // Signature
    // NEGOTIATE body: the contexts follow the dialects, 8-aligned from the header.
    let ctx_offset = (HEADER_LEN + REQUEST_FIXED + 2 * DIALECTS.len()).next_multiple_of(8);
    put_u16_le(&mut out, REQUEST_FIXED as u16);
    put_u16_le(&mut out, DIALECTS.len() as u16);
    put_u16_le(&mut out, SIGNING_ENABLED);
    put_u16_le(&mut out, 0);
    put_u32_le(&mut out, CLIENT_CAPABILITIES);
    out.extend_from_slice(&req.client_guid);
    put_u32_le(&mut out, ctx_offset as u32);
    put_u16_le(&mut out, 3); // context count
    put_u16_le(&mut out, 0);
    for d in DIALECTS {
        put_u16_le(&mut out, d);
    }
    // Preauth integrity (required with 3.1.1): one hash, our salt.
    let mut preauth = Vec::new();
    put_u16_le(&mut preauth, 1);
    put_u16_le(&mut preauth, SALT_LEN as u16);
    put_u16_le(&mut preauth, HASH_SHA512);
    preauth.extend_from_slice(&req.salt);
    put_context(&mut out, base, CTX_PREAUTH_INTEGRITY, &preauth);
    let mut enc = Vec::new();
    put_u16_le(&mut enc, CIPHERS.len() as u16);
    CIPHERS.iter().for_each(|c| put_u16_le(&mut enc, *c));
    put_context(&mut out, base, CTX_ENCRYPTION, &enc);
    let mut sign = Vec::new();
    put_u16_le(&mut sign, SIGNING_ALGORITHMS.len() as u16);
    SIGNING_ALGORITHMS.iter().for_each(|a| put_u16_le(&mut sign, *a));
    put_context(&mut out, base, CTX_SIGNING, &sign);
    let len = (out.len() - TRANSPORT_LEN) as u32;
    out[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
    out
}

/// Direct TCP framing: the whole message's length (header included) once `buf`
/// holds it, `None` while more is needed. A first byte other than 0 cannot be
/// framed; the whole buffer is then handed over (the parser says why).
pub fn framed_len(buf: &[u8]) -> Option<usize> {
    let head = buf.get(..TRANSPORT_LEN)?;
    if head[0] != 0 {
        return Some(buf.len());
    }
    let n = TRANSPORT_LEN + (usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]));
    (buf.len() >= n).then_some(n)
}

fn cipher_name(c: u16) -> String {
    match c {
        0x0000 => "none".into(),
        0x0001 => "AES-128-CCM".into(),
        0x0002 => "AES-128-GCM".into(),
        0x0003 => "AES-256-CCM".into(),
        0x0004 => "AES-256-GCM".into(),
        c => format!("cipher {c:#06x}"),
    }
}

fn signing_name(a: u16) -> String {
    match a {
        0x0000 => "HMAC-SHA256".into(),
        0x0001 => "AES-CMAC".into(),
        0x0002 => "AES-GMAC".into(),
        a => format!("algorithm {a:#06x}"),
    }
}

fn hash_name(h: u16) -> String {
    match h {
        HASH_SHA512 => "SHA-512".into(),
        h => format!("hash {h:#06x}"),
    }
}

fn compression_name(a: u16) -> String {
    match a {
        0x0000 => "none".into(),
        0x0001 => "LZNT1".into(),
        0x0002 => "LZ77".into(),
        0x0003 => "LZ77+Huffman".into(),
        0x0004 => "Pattern_V1".into(),
        0x0005 => "LZ4".into(),
        a => format!("algorithm {a:#06x}"),
    }
}

/// A count-prefixed list of u16 ids, at most [`MAX_ITEMS`] kept.
fn id_list(r: &mut Reader, name: fn(u16) -> String) -> Result<Vec<String>, Truncated> {
    let n = r.u16_le()?;
    (0..n.min(MAX_ITEMS as u16)).map(|_| r.u16_le().map(name)).collect()
}

fn parse_context(ctype: u16, data: &[u8]) -> Result<Context, Truncated> {
    let mut r = Reader::new(data);
    Ok(match ctype {
        CTX_PREAUTH_INTEGRITY => {
            let count = r.u16_le()?;
            let salt_len = usize::from(r.u16_le()?);
            let hash_algorithms = (0..count.min(MAX_ITEMS as u16))
                .map(|_| r.u16_le().map(hash_name))
                .collect::<Result<_, _>>()?;
            Context::PreauthIntegrity { hash_algorithms, salt_len }
        }
        CTX_ENCRYPTION => Context::Encryption { ciphers: id_list(&mut r, cipher_name)? },
        CTX_SIGNING => Context::Signing { algorithms: id_list(&mut r, signing_name)? },
        CTX_COMPRESSION => {
            // CompressionAlgorithmCount, Padding, Flags, then the ids.
            let n = r.u16_le()?;
            r.skip(6)?;
            let algorithms = (0..n.min(MAX_ITEMS as u16))
                .map(|_| r.u16_le().map(compression_name))
                .collect::<Result<_, _>>()?;
            Context::Compression { algorithms }
        }
        t => Context::Other { context_type: t, data_len: data.len() },
    })
}

/// The SMB message of a Direct TCP frame (checks the 4-byte header against the length).
pub fn unframe(frame: &[u8]) -> Result<&[u8], Smb2Error> {
    let mut r = Reader::new(frame);
    let head = r.array::<TRANSPORT_LEN>()?;
    if head[0] != 0 {
        return Err(Smb2Error::TransportType(head[0]));
    }
    let declared = usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]);
    if r.remaining() != declared {
        return Err(Smb2Error::Length { declared, present: r.remaining() });
    }
    Ok(r.rest())
}

/// Parse a Direct TCP frame answering our NEGOTIATE.
pub fn parse_negotiate_reply(frame: &[u8]) -> Result<Smb2Reply, Smb2Error> {
    let msg = unframe(frame)?;
    let mut r = Reader::new(msg);
    let proto = r.peek(4)?;
    if proto == PROTOCOL_SMB1 {
        let h = r.bytes(SMB1_OFF_STATUS + 4)?;
        let status = u32::from_le_bytes([h[5], h[6], h[7], h[8]]);
        return Ok(Smb2Reply::Error {
            protocol: "SMB1",
            status,
            command: u16::from(h[SMB1_OFF_COMMAND]),
            message_id: None,
        });
    }
    if proto != PROTOCOL_SMB2 {
        let mut p = [0u8; 4];
        p.copy_from_slice(proto);
        return Err(Smb2Error::NotSmb(p));
    }
    let header = r.bytes(HEADER_LEN)?;
    let mut h = Reader::new(header);
    h.skip(OFF_STATUS)?;
    let status = h.u32_le()?;
    debug_assert_eq!(h.position(), OFF_COMMAND);
    let command = h.u16_le()?;
    h.skip(OFF_FLAGS - OFF_COMMAND - 2)?;
    let flags = h.u32_le()?;
    h.skip(OFF_MESSAGE_ID - OFF_FLAGS - 4)?;
    let message_id = u64::from(h.u32_le()?) | u64::from(h.u32_le()?) << 32;
    if flags & FLAGS_SERVER_TO_REDIR == 0 {
        return Err(Smb2Error::NotResponse);
    }
    let structure_size = r.u16_le()?;
    // An error response (or a non-zero status on any command): the status says it all.
    if status != 0 && structure_size == ERROR_STRUCTURE_SIZE {
        return Ok(Smb2Reply::Error { protocol: "SMB2", status, command, message_id: Some(message_id) });
    }
    if command != CMD_NEGOTIATE {
        return Err(Smb2Error::Command(command));
    }
    if status != 0 {
        return Ok(Smb2Reply::Error { protocol: "SMB2", status, command, message_id: Some(message_id) });
    }
    if structure_size != 65 {
        return Err(Smb2Error::StructureSize(structure_size));
    }
    let security_mode = r.u16_le()?;
    let dialect_code = r.u16_le()?;
    let context_count = r.u16_le()?;
    let guid = r.array::<16>()?;
    let capabilities = r.u32_le()?;
    let max_transact_size = r.u32_le()?;
    let max_read_size = r.u32_le()?;
    let max_write_size = r.u32_le()?;
    let system_time = u64::from(r.u32_le()?) | u64::from(r.u32_le()?) << 32;
    let server_start_time = u64::from(r.u32_le()?) | u64::from(r.u32_le()?) << 32;
    let _sec_offset = r.u16_le()?;
    let security_blob_len = usize::from(r.u16_le()?);
    let context_offset = r.u32_le()? as usize;
    debug_assert_eq!(r.position(), HEADER_LEN + RESPONSE_FIXED);
    let mut contexts = Vec::new();
    // Only 3.1.1 has contexts; elsewhere those two fields are reserved.
    if dialect_code == 0x0311 && context_count > 0 {
        let mut c = Reader::new(msg.get(context_offset..).ok_or(Smb2Error::ContextOffset(context_offset))?);
        for i in 0..context_count.min(MAX_CONTEXTS as u16) {
            if i > 0 {
                c.align(8);
            }
            let ctype = c.u16_le()?;
            let len = usize::from(c.u16_le()?);
            c.skip(4)?;
            contexts.push(parse_context(ctype, c.bytes(len)?)?);
        }
    }
    Ok(Smb2Reply::Negotiate(Negotiate {
        message_id,
        dialect: dialect_name(dialect_code),
        dialect_code,
        security_mode,
        signing_enabled: security_mode & SIGNING_ENABLED != 0,
        signing_required: security_mode & SIGNING_REQUIRED != 0,
        server_guid: guid_text(&guid),
        capabilities,
        capability_names: CAPABILITIES
            .iter()
            .filter(|(b, _)| capabilities & b != 0)
            .map(|(_, n)| *n)
            .collect(),
        max_transact_size,
        max_read_size,
        max_write_size,
        system_time,
        server_start_time,
        system_time_utc: filetime_utc(system_time),
        server_start_time_utc: filetime_utc(server_start_time),
        security_blob_len,
        contexts,
    }))
}

/// A GUID as Windows writes it: the first three fields little-endian.
pub fn guid_text(g: &[u8; 16]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
    )
}

/// A FILETIME as UTC ("2026-12-01 04:30:00 UTC"); None for 0 (not given) or out of range.
pub fn filetime_utc(ft: u64) -> Option<String> {
    // 100 ns ticks between 1601-01-01 and 1970-01-01.
    const UNIX_EPOCH_TICKS: u64 = 116_444_736_000_000_000;
    if ft == 0 {
        return None;
    }
    let since = i64::try_from(ft.checked_sub(UNIX_EPOCH_TICKS)? / 10_000_000).ok()?;
    let t = chrono::DateTime::from_timestamp(since, 0)?;
    Some(t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

impl Smb2Reply {
    /// The report's lines.
    pub fn render_lines(&self) -> Vec<String> {
        match self {
            Smb2Reply::Error { protocol, status, command, .. } => {
                let name = status_name(*status).map(|n| format!(" ({n})")).unwrap_or_default();
                vec![format!(
                    "{protocol} error reply to NEGOTIATE: status {status:#010x}{name}, command {command:#06x}"
                )]
            }
            Smb2Reply::Negotiate(n) => n.render_lines(),
        }
    }
}

impl Negotiate {
    /// The report's lines.
    pub fn render_lines(&self) -> Vec<String> {
        let signing = match (self.signing_enabled, self.signing_required) {
            (_, true) => "required",
            (true, false) => "enabled, not required",
            (false, false) => "not enabled",
        };
        let caps =
            if self.capability_names.is_empty() { "none".into() } else { self.capability_names.join(", ") };
        let time = |t: &Option<String>| t.clone().unwrap_or_else(|| "not given".into());
        let mut lines = vec![
            format!("SMB dialect: {}", self.dialect),
            format!("signing: {signing} (SecurityMode {:#06x})", self.security_mode),
            format!("server GUID: {}", self.server_guid),
            format!("system time: {}", time(&self.system_time_utc)),
            format!("server start time: {}", time(&self.server_start_time_utc)),
            format!("capabilities: {caps} ({:#010x})", self.capabilities),
            format!(
                "max transact/read/write size: {} / {} / {} bytes",
                self.max_transact_size, self.max_read_size, self.max_write_size
            ),
        ];
        lines.extend(self.contexts.iter().map(Context::line));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// Captured 2026-12-01 (fuzz/seeds/capture.py smb) from Samba 4.17.12 in the test
    /// namespaces, answering the request of `request_matches_capture`.
    const DC_311: &str = "0000012cfe534d4240000000000000000000010001000000000000000000000000000000fffe00000000000000000000\
        00000000000000000000000000000000000000004100030011030300646331000000000000000000000000000f000000\
        00008000000080000000800046988a3b4b81dd01000000000000000080006000e0000000605e06062b0601050502a054\
        3052a024302206092a864882f71201020206092a864886f712010202060a2b06010401823702020aa32a3028a0261b24\
        6e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265010026000000000001002000\
        01000491e188d15c9220f9db92d77749b1ff724bab95b713fd81279ce5c0fb0a5fda0000020004000000000001000200\
        00000000080004000000000001000200";
    const SMBD_311: &str = "0000011cfe534d4240000000000000000000010001000000000000000000000000000000fffe00000000000000000000\
        000000000000000000000000000000000000000041000100110303007071736d6200000000000000000000000f000000\
        000080000000800000008000ea228e3b4b81dd01000000000000000080004a00d0000000604806062b0601050502a03e\
        303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65645f696e5f52464334313738\
        40706c656173655f69676e6f72650000000000000100260000000000010020000100cb7d7aa716b3d575b30b1b6e4586\
        66fef6f959d1f1e0b754dde2e3ecdb6b6f78000002000400000000000100020000000000080004000000000001000200";
    const SMBD_2_02: &str = "000000cafe534d4240000000000000000000010001000000000000000000000000000000fffe00000000000000000000\
        000000000000000000000000000000000000000041000100020200007071736d62000000000000000000000001000000\
        00000100000001000000010042ec8f3b4b81dd01000000000000000080004a0000000000604806062b0601050502a03e\
        303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65645f696e5f52464334313738\
        40706c656173655f69676e6f7265";
    const SMBD_NO_DIALECT: &str = "00000049fe534d42400000000d0000c00000010001000000000000000000000000000000fffe00000000000000000000\
        0000000000000000000000000000000000000000090000000000000000";
    const SMBD_SMB1: &str =
        "00000025ff534d4272000000008813c00000000000000000000000000000fffe0000000001ffff0000";
    /// Our request with MessageId 0, client GUID 51..60 and salt 00..1f, as capture.py sent it.
    const REQUEST: &str = "000000c8fe534d4240000000000000000000010000000000000000000000000000000000fffe000000000000000000000000000000000000000000000000000000000000\
24000500010000007f0000005152535455565758595a5b5c5d5e5f6070000000030000000202100200030203110300000100260000000000010020000100000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f000002000a00000000000400040003000200010000000000000008000800000000000300020001000000";

    fn negotiate(hex: &str) -> Negotiate {
        match parse_negotiate_reply(&unhex(hex)).unwrap() {
            Smb2Reply::Negotiate(n) => n,
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn request_matches_capture() {
        let mut salt = [0u8; SALT_LEN];
        salt.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let mut client_guid = [0u8; 16];
        client_guid.iter_mut().enumerate().for_each(|(i, b)| *b = 0x51 + i as u8);
        let req = emit_negotiate(&NegotiateRequest { message_id: 0, client_guid, salt });
        assert_eq!(req, unhex(REQUEST));
        assert_eq!(framed_len(&req), Some(req.len()));
    }

    #[test]
    fn samba_dc_311() {
        let n = negotiate(DC_311);
        assert_eq!(n.message_id, 0);
        assert_eq!((n.dialect.as_str(), n.dialect_code), ("3.1.1", 0x0311));
        assert!(n.signing_enabled && n.signing_required);
        // Samba's GUID is its NetBIOS name, "dc1", padded.
        assert_eq!(n.server_guid, "00316364-0000-0000-0000-000000000000");
        assert_eq!(n.capability_names, ["DFS", "leasing", "large MTU", "multichannel"]);
        assert_eq!((n.max_transact_size, n.max_read_size, n.max_write_size), (8 << 20, 8 << 20, 8 << 20));
        assert_eq!(filetime_utc(n.system_time).unwrap(), "2026-12-01 04:20:01 UTC");
        assert_eq!(n.server_start_time, 0);
        assert_eq!(n.security_blob_len, 96);
        assert_eq!(
            n.contexts,
            [
                Context::PreauthIntegrity { hash_algorithms: vec!["SHA-512".into()], salt_len: 32 },
                Context::Encryption { ciphers: vec!["AES-128-GCM".into()] },
                Context::Signing { algorithms: vec!["AES-GMAC".into()] },
            ]
        );
        let lines = Smb2Reply::Negotiate(n).render_lines();
        assert_eq!(lines[0], "SMB dialect: 3.1.1");
        assert_eq!(lines[1], "signing: required (SecurityMode 0x0003)");
        assert_eq!(lines[4], "server start time: not given");
        assert_eq!(lines[7], "preauth integrity: SHA-512 (salt 32 bytes)");
        assert_eq!(lines[8], "encryption cipher: AES-128-GCM");
    }

    #[test]
    fn standalone_smbd_signing_not_required_and_2_02() {
        let n = negotiate(SMBD_311);
        assert!(n.signing_enabled && !n.signing_required);
        assert_eq!(n.server_guid, "6d737170-0062-0000-0000-000000000000");
        let old = negotiate(SMBD_2_02);
        assert_eq!(old.dialect, "2.0.2");
        assert_eq!(old.capability_names, ["DFS"]);
        assert_eq!(old.max_read_size, 65536);
        assert!(old.contexts.is_empty());
    }

    #[test]
    fn error_statuses() {
        let e = parse_negotiate_reply(&unhex(SMBD_NO_DIALECT)).unwrap();
        assert_eq!(
            e,
            Smb2Reply::Error { protocol: "SMB2", status: 0xc000_000d, command: 0, message_id: Some(0) }
        );
        assert_eq!(
            e.render_lines(),
            ["SMB2 error reply to NEGOTIATE: status 0xc000000d (STATUS_INVALID_PARAMETER), command 0x0000"]
        );
        let smb1 = parse_negotiate_reply(&unhex(SMBD_SMB1)).unwrap();
        assert_eq!(smb1, Smb2Reply::Error { protocol: "SMB1", status: 0, command: 0x72, message_id: None });
    }

    #[test]
    fn framing() {
        assert_eq!(framed_len(&[0, 0, 1]), None);
        assert_eq!(framed_len(&[0, 0, 0, 2, 9]), None);
        assert_eq!(framed_len(&[0, 0, 0, 2, 9, 9, 7]), Some(6));
        assert_eq!(framed_len(b"HTTP/1.1 400"), Some(12));
        assert_eq!(parse_negotiate_reply(b"HTTP/1.1 400"), Err(Smb2Error::TransportType(b'H')));
        assert_eq!(
            parse_negotiate_reply(&[0, 0, 0, 9, 1]),
            Err(Smb2Error::Length { declared: 9, present: 1 })
        );
        let mut other = unhex(SMBD_NO_DIALECT);
        other[4] = 0x42;
        assert!(matches!(parse_negotiate_reply(&other), Err(Smb2Error::NotSmb(_))));
    }

    /// A 3.1.1 response as Windows may send it, built from [MS-SMB2] 2.2.4: a random
    /// GUID, a start time, ENCRYPTION capability, and compression and transport
    /// contexts besides preauth (no capture: no Windows server here).
    #[test]
    fn windows_style_contexts() {
        let mut m = unhex(SMBD_NO_DIALECT)[4..68].to_vec();
        m[8..12].copy_from_slice(&[0; 4]); // Status SUCCESS
        let mut body = Vec::new();
        put_u16_le(&mut body, 65);
        put_u16_le(&mut body, SIGNING_ENABLED);
        put_u16_le(&mut body, 0x0311);
        put_u16_le(&mut body, 3); // contexts
        body.extend_from_slice(&[
            0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 9, 10, 11, 12, 13, 14, 15, 16,
        ]);
        put_u32_le(&mut body, 0x6f);
        for _ in 0..3 {
            put_u32_le(&mut body, 8 << 20);
        }
        body.extend_from_slice(&133_000_000_000_000_000u64.to_le_bytes());
        body.extend_from_slice(&132_000_000_000_000_000u64.to_le_bytes());
        put_u16_le(&mut body, 128);
        put_u16_le(&mut body, 0); // no security blob
        put_u32_le(&mut body, 128); // contexts right after the fixed part
        m.extend_from_slice(&body);
        put_context(&mut m, 0, CTX_PREAUTH_INTEGRITY, &[1, 0, 0x20, 0, 1, 0]);
        put_context(&mut m, 0, CTX_COMPRESSION, &[1, 0, 0, 0, 0, 0, 0, 0, 3, 0]);
        put_context(&mut m, 0, CTX_TRANSPORT, &[1, 0, 0, 0]);
        let mut frame = vec![0, 0, 0, m.len() as u8];
        frame.extend_from_slice(&m);
        let Smb2Reply::Negotiate(n) = parse_negotiate_reply(&frame).unwrap() else { panic!() };
        assert_eq!(n.server_guid, "44332211-6655-8877-090a-0b0c0d0e0f10");
        assert!(
            n.capability_names.contains(&"encryption") && n.capability_names.contains(&"directory leasing")
        );
        assert_eq!(n.system_time_utc.as_deref(), Some("2022-06-18 04:26:40 UTC"));
        assert_eq!(n.server_start_time_utc.as_deref(), Some("2019-04-17 18:40:00 UTC"));
        assert_eq!(
            n.contexts[1..],
            [
                Context::Compression { algorithms: vec!["LZ77+Huffman".into()] },
                Context::Other { context_type: CTX_TRANSPORT, data_len: 4 },
            ]
        );
        assert_eq!(n.contexts[2].line(), "negotiate context 0x0006 (4 bytes)");
        // The context offset pointing outside the message.
        let at = TRANSPORT_LEN + HEADER_LEN + 60;
        frame[at..at + 4].copy_from_slice(&4000u32.to_le_bytes());
        assert_eq!(parse_negotiate_reply(&frame), Err(Smb2Error::ContextOffset(4000)));
    }

    #[test]
    fn wraps_into_wire_error() {
        let w = crate::wire::WireError::from(Smb2Error::NotResponse);
        assert!(matches!(w, crate::wire::WireError::Smb2(Smb2Error::NotResponse)));
        assert_eq!(w.to_string(), "SMB2 message is not flagged as a response");
    }

    #[test]
    fn filetimes() {
        assert_eq!(filetime_utc(0), None);
        assert_eq!(filetime_utc(116_444_736_000_000_000).unwrap(), "1970-01-01 00:00:00 UTC");
        // Python: datetime(1601, 1, 1) + timedelta(microseconds=133_000_000_000_000_000 // 10).
        assert_eq!(filetime_utc(133_000_000_000_000_000).unwrap(), "2022-06-18 04:26:40 UTC");
        assert_eq!(filetime_utc(1), None);
    }

    #[test]
    fn mutated_captures_never_panic() {
        let seeds: Vec<Vec<u8>> =
            [DC_311, SMBD_311, SMBD_2_02, SMBD_NO_DIALECT, SMBD_SMB1].iter().map(|h| unhex(h)).collect();
        crate::wire::mutate_each(&seeds, 20_000, |b| {
            if let Some(n) = framed_len(b) {
                let _ = parse_negotiate_reply(&b[..n.min(b.len())]).map(|r| r.render_lines());
            }
        });
    }
}
