//! SQL Server Resolution Protocol ([MC-SQLR]): the SQL Server Browser on UDP
//! 1434, which PortQry asks for the instances of a server.
//!
//! ```text
//! CLNT_UCAST_EX | 03 |                           (1 byte: "list every instance")
//! SVR_RESP      | 05 | RESP_SIZE (2 bytes, little-endian) | RESP_DATA (RESP_SIZE bytes) |
//! RESP_DATA     "ServerName;S;InstanceName;I;IsClustered;No;Version;15.0.2000.5;tcp;1433;;"
//!               one such record per instance, each ending with ";;"
//! ```
//! RESP_DATA is an MBCS string of `key;value` pairs; the keys after `Version`
//! name the transports the instance listens on (`tcp` port, `np` pipe name,
//! `via`, `rpc`, `spx`, `adsp`, `bv`). Parsing is bounded and never panics: a
//! hostile reply yields an [`SsrpError`].

use serde::Serialize;

use super::bytes::u16_le_at;

/// CLNT_UCAST_EX: ask one server for all its instances ([MC-SQLR] 2.2.2).
pub const CLNT_UCAST_EX: u8 = 0x03;
/// SVR_RESP: the server's answer ([MC-SQLR] 2.2.5).
pub const SVR_RESP: u8 = 0x05;
/// SVR_RESP byte plus RESP_SIZE.
const HEADER_LEN: usize = 3;
/// Instances kept; a server with more is reported with `instance_count` only.
pub const MAX_INSTANCES: usize = 64;
/// `key;value` pairs kept per instance (a real record has about six).
const MAX_PAIRS: usize = 32;
/// Bytes of a key or value kept for display (the spec allows 255 for names).
const MAX_FIELD: usize = 512;

/// Why a reply is not an SVR_RESP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsrpError {
    #[error("SQL Browser reply shorter than its 3-byte header")]
    Truncated,
    #[error("SQL Browser reply type {0:#04x} is not SVR_RESP (0x05)")]
    NotResponse(u8),
    #[error("SQL Browser RESP_SIZE says {declared} bytes, {present} present")]
    SizeMismatch { declared: usize, present: usize },
    #[error("SQL Browser reply lists no instance")]
    Empty,
}

/// One `key value` pair of an instance record, as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pair {
    pub key: String,
    pub value: String,
}

/// The server's instances, each as its pairs in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlBrowserAnswer {
    pub instances: Vec<Vec<Pair>>,
    /// Records in the reply (more than `instances` when over [`MAX_INSTANCES`]).
    pub instance_count: usize,
}

impl SqlBrowserAnswer {
    /// PortQry's lines: `key value` per pair, a blank line between instances.
    pub fn render_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (i, inst) in self.instances.iter().enumerate() {
            if i > 0 {
                lines.push(String::new());
            }
            lines.extend(inst.iter().map(|p| format!("{} {}", p.key, p.value)));
        }
        if self.instance_count > self.instances.len() {
            lines.push(String::new());
            lines.push(format!("({} more instances not shown)", self.instance_count - self.instances.len()));
        }
        lines
    }
}

/// The CLNT_UCAST_EX request: one byte.
pub fn emit_ucast_ex() -> Vec<u8> {
    vec![CLNT_UCAST_EX]
}

/// Parse an SVR_RESP answering CLNT_UCAST_EX.
pub fn parse_response(bytes: &[u8]) -> Result<SqlBrowserAnswer, SsrpError> {
    let header = bytes.get(..HEADER_LEN).ok_or(SsrpError::Truncated)?;
    if header[0] != SVR_RESP {
        return Err(SsrpError::NotResponse(header[0]));
    }
    let declared = usize::from(u16_le_at(header, 1).ok_or(SsrpError::Truncated)?);
    let data = &bytes[HEADER_LEN..];
    // A datagram carries exactly one response: fewer bytes than declared is a
    // cut reply; extra bytes would be something else glued on.
    if data.len() != declared {
        return Err(SsrpError::SizeMismatch { declared, present: data.len() });
    }
    let text = String::from_utf8_lossy(data);
    let mut instances = Vec::new();
    let mut instance_count = 0;
    // Records end with ";;"; a value never contains ';' (it separates pairs).
    for record in text.split(";;").filter(|r| !r.trim_matches(['\0', ' ']).is_empty()) {
        instance_count += 1;
        if instances.len() >= MAX_INSTANCES {
            continue;
        }
        let fields: Vec<&str> = record.split(';').collect();
        let pairs = fields
            .chunks(2)
            .take(MAX_PAIRS)
            .map(|kv| Pair { key: field(kv[0]), value: kv.get(1).map_or_else(String::new, |v| field(v)) })
            .collect();
        instances.push(pairs);
    }
    if instance_count == 0 {
        return Err(SsrpError::Empty);
    }
    Ok(SqlBrowserAnswer { instances, instance_count })
}

/// A key or value for display: bounded, control characters replaced.
fn field(s: &str) -> String {
    s.chars().take(MAX_FIELD).map(|c| if c.is_control() { '.' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two instances as a SQL Server Browser sends them ([MC-SQLR] 2.2.5 syntax):
    /// a default instance on TCP 1433 with a named pipe, a named one on 49733.
    const TWO: &[u8] = b"ServerName;SQL1;InstanceName;MSSQLSERVER;IsClustered;No;Version;15.0.2000.5;\
tcp;1433;np;\\\\SQL1\\pipe\\sql\\query;;ServerName;SQL1;InstanceName;SQLEXPRESS;IsClustered;No;\
Version;15.0.2000.5;tcp;49733;;";

    /// A one-instance SVR_RESP, byte by byte: 05, RESP_SIZE 86 (little-endian), the record.
    const ONE_INSTANCE: [u8; 89] = [
        0x05, 0x56, 0x00, 0x53, 0x65, 0x72, 0x76, 0x65, 0x72, 0x4e, 0x61, 0x6d, 0x65, 0x3b, 0x53, 0x51, 0x4c,
        0x31, 0x3b, 0x49, 0x6e, 0x73, 0x74, 0x61, 0x6e, 0x63, 0x65, 0x4e, 0x61, 0x6d, 0x65, 0x3b, 0x4d, 0x53,
        0x53, 0x51, 0x4c, 0x53, 0x45, 0x52, 0x56, 0x45, 0x52, 0x3b, 0x49, 0x73, 0x43, 0x6c, 0x75, 0x73, 0x74,
        0x65, 0x72, 0x65, 0x64, 0x3b, 0x4e, 0x6f, 0x3b, 0x56, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x3b, 0x31,
        0x36, 0x2e, 0x30, 0x2e, 0x31, 0x30, 0x30, 0x30, 0x2e, 0x36, 0x3b, 0x74, 0x63, 0x70, 0x3b, 0x31, 0x34,
        0x33, 0x33, 0x3b, 0x3b,
    ];

    fn response(data: &[u8]) -> Vec<u8> {
        let mut v = vec![SVR_RESP];
        v.extend_from_slice(&(data.len() as u16).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn one_instance_from_literal_bytes() {
        let a = parse_response(&ONE_INSTANCE).unwrap();
        assert_eq!(a.instance_count, 1);
        assert_eq!(a.instances[0][3], Pair { key: "Version".into(), value: "16.0.1000.6".into() });
        assert_eq!(a.render_lines()[4], "tcp 1433");
    }

    #[test]
    fn request_is_one_byte() {
        assert_eq!(emit_ucast_ex(), [0x03]);
    }

    #[test]
    fn two_instances() {
        let a = parse_response(&response(TWO)).unwrap();
        assert_eq!(a.instance_count, 2);
        let first: Vec<(&str, &str)> =
            a.instances[0].iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
        assert_eq!(
            first,
            [
                ("ServerName", "SQL1"),
                ("InstanceName", "MSSQLSERVER"),
                ("IsClustered", "No"),
                ("Version", "15.0.2000.5"),
                ("tcp", "1433"),
                ("np", "\\\\SQL1\\pipe\\sql\\query"),
            ]
        );
        assert_eq!(a.instances[1][1].value, "SQLEXPRESS");
        assert_eq!(a.instances[1][4], Pair { key: "tcp".into(), value: "49733".into() });
        let lines = a.render_lines();
        assert_eq!(lines[0], "ServerName SQL1");
        assert_eq!(lines[6], "");
        assert_eq!(lines.last().unwrap(), "tcp 49733");
    }

    #[test]
    fn literal_bytes_header() {
        // 05 | 09 00 (RESP_SIZE, little-endian) | "A;b;C;d;;"
        let bytes = [0x05, 0x09, 0x00, b'A', b';', b'b', b';', b'C', b';', b'd', b';', b';'];
        let a = parse_response(&bytes).unwrap();
        assert_eq!(
            a.instances,
            [vec![Pair { key: "A".into(), value: "b".into() }, Pair { key: "C".into(), value: "d".into() }]]
        );
    }

    #[test]
    fn malformed_replies_are_errors() {
        assert_eq!(parse_response(&[]), Err(SsrpError::Truncated));
        assert_eq!(parse_response(&[0x05, 0x01]), Err(SsrpError::Truncated));
        assert_eq!(parse_response(&[0x04, 0, 0]), Err(SsrpError::NotResponse(4)));
        assert_eq!(
            parse_response(&[0x05, 0x10, 0x00, b'a']),
            Err(SsrpError::SizeMismatch { declared: 16, present: 1 })
        );
        assert_eq!(parse_response(&[0x05, 0x02, 0x00, b';', b';']), Err(SsrpError::Empty));
        // Every truncation of a good reply fails cleanly (RESP_SIZE no longer matches).
        let good = response(TWO);
        for n in 0..good.len() {
            assert!(parse_response(&good[..n]).is_err(), "{n}");
        }
    }

    #[test]
    fn hostile_replies_are_bounded() {
        let many: Vec<u8> = (0..200).flat_map(|i| format!("ServerName;S{i};;").into_bytes()).collect();
        let a = parse_response(&response(&many)).unwrap();
        assert_eq!((a.instances.len(), a.instance_count), (MAX_INSTANCES, 200));
        assert!(a.render_lines().last().unwrap().contains("136 more"));
        let long = [b"k;".as_slice(), &[b'x'; 2000], b";;"].concat();
        let a = parse_response(&response(&long)).unwrap();
        assert_eq!(a.instances[0][0].value.len(), MAX_FIELD);
        let ctl = response(b"k;a\x1b[2Jb\n;;");
        assert_eq!(parse_response(&ctl).unwrap().instances[0][0].value, "a.[2Jb.");
        // Invalid UTF-8 and an odd number of fields do not panic.
        assert!(parse_response(&response(b"\xff\xfe;x;y;;")).is_ok());
    }
}
