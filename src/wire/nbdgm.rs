//! NetBIOS datagram service (UDP 138): the NETLOGON mailslot ping a domain
//! controller answers.
//!
//! The datagram service answers nothing by itself, so the request is the
//! NT4-style DC locator ping: a DIRECT_GROUP datagram to `DOMAIN<1C>` (RFC 1002
//! §4.4.1) carrying an SMB Transaction that writes a NETLOGON_SAM_LOGON_REQUEST
//! ([MS-ADTS] 6.3.1.4) to the mailslot `\MAILSLOT\NET\NETLOGON`. The DC writes
//! its NETLOGON_SAM_LOGON_RESPONSE(_EX) ([MS-ADTS] 6.3.1.8/6.3.1.9) to the reply
//! mailslot the request named, in a datagram sent to the header's SOURCE_IP and
//! SOURCE_PORT (Samba: from its port 138) — not to the UDP source port.
//!
//! ```text
//! Datagram header (big-endian)         SMB Transaction (little-endian)
//! 0   1  MSG_TYPE (0x10/0x11 direct)    0   32 SMB header, command 0x25
//! 1   1  FLAGS (0x02: first fragment)   32  1  WordCount = 17
//! 2   2  DGM_ID                         33  34 words (DataCount @22, DataOffset @24,
//! 4   4  SOURCE_IP                                 SetupCount @26, Setup[3] @28)
//! 8   2  SOURCE_PORT                    67  2  ByteCount
//! 10  2  DGM_LENGTH (bytes after 14)    69  .. mailslot name (ASCII, NUL), data
//! 12  2  PACKET_OFFSET
//! 14  34 SOURCE_NAME, 48 34 DESTINATION_NAME, 82 .. user data (the SMB)
//! ```

use super::bytes::{Reader, put_u16_be, put_u16_le, put_u32_le};
use serde::Serialize;
use std::net::Ipv4Addr;

mod field {
    use core::ops::Range;
    pub const MSG_TYPE: usize = 0;
    pub const SOURCE_IP: Range<usize> = 4..8;
    pub const SOURCE_PORT: Range<usize> = 8..10;
    pub const DGM_LENGTH: Range<usize> = 10..12;
    pub const HEADER_LEN: usize = 14;
    pub const NAME_LEN: usize = 34;
    pub const USER_DATA: usize = HEADER_LEN + 2 * NAME_LEN;

    pub const SMB_HEADER_LEN: usize = 32;
    pub const SMB_COMMAND: usize = 4;
    pub const SMB_WORDS: usize = 33;
    /// Offsets in the Transaction words.
    pub const TRANS_DATA_COUNT: usize = 22;
    pub const TRANS_DATA_OFFSET: usize = 24;
    pub const TRANS_WORDS: u8 = 17;
}

pub const DIRECT_UNIQUE: u8 = 0x10;
pub const DIRECT_GROUP: u8 = 0x11;
const SMB_COM_TRANSACTION: u8 = 0x25;
/// The mailslot every DC listens on.
pub const NETLOGON_MAILSLOT: &str = "\\MAILSLOT\\NET\\NETLOGON";

/// NETLOGON opcodes ([MS-ADTS] 6.3.1.2).
pub const LOGON_SAM_LOGON_REQUEST: u16 = 18;
pub const LOGON_PRIMARY_RESPONSE: u16 = 12;
pub const LOGON_SAM_LOGON_RESPONSE: u16 = 19;
pub const LOGON_SAM_USER_UNKNOWN: u16 = 21;
pub const LOGON_SAM_LOGON_RESPONSE_EX: u16 = 23;
pub const LOGON_SAM_USER_UNKNOWN_EX: u16 = 25;
/// NETLOGON_NT_VERSION_1 | _5 | _5EX: ask for the extended (DNS names, site) answer.
pub const NT_VERSION: u32 = 0x0000_0007;

/// Why a datagram is not a NETLOGON answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NbdgmError {
    #[error("NetBIOS datagram truncated ({0})")]
    Truncated(&'static str),
    #[error("NetBIOS datagram type 0x{0:02x} is not a direct datagram")]
    NotDirect(u8),
    #[error("NetBIOS datagram carries no SMB Transaction")]
    NotTransaction,
    #[error("NetBIOS datagram name is not a 32-byte encoded name")]
    BadName,
    #[error("NETLOGON opcode {0} does not answer a logon request")]
    UnexpectedOpcode(u16),
    #[error("NETLOGON DNS name loops or is too long")]
    BadPointer,
}

fn short(what: &'static str) -> impl Fn(super::bytes::Truncated) -> NbdgmError {
    move |_| NbdgmError::Truncated(what)
}

/// The ping to send.
#[derive(Debug, Clone)]
pub struct Ping<'a> {
    pub dgm_id: u16,
    /// Where the answer goes: our address toward the target and our port.
    pub source_ip: Ipv4Addr,
    pub source_port: u16,
    /// Our NetBIOS computer name (also the datagram's source name, `<00>`).
    pub computer: &'a str,
    /// The domain's NetBIOS name: the datagram goes to `DOMAIN<1C>`.
    pub domain: &'a str,
    /// The mailslot the DC writes its answer to.
    pub reply_mailslot: &'a str,
}

/// RFC 1002 §4.1 first-level encoding of `name` (upper-cased, space-padded to
/// 15 bytes) with `suffix`, as a length-prefixed label without scope.
pub fn encode_name(name: &str, suffix: u8) -> [u8; field::NAME_LEN] {
    let mut raw = [b' '; 16];
    for (d, s) in raw.iter_mut().zip(name.bytes().take(15)) {
        *d = s.to_ascii_uppercase();
    }
    raw[15] = suffix;
    let mut out = [0u8; field::NAME_LEN];
    out[0] = 0x20;
    for (i, b) in raw.iter().enumerate() {
        out[1 + 2 * i] = b'A' + (b >> 4);
        out[2 + 2 * i] = b'A' + (b & 0x0f);
    }
    out
}

/// The name and suffix of an encoded name; non-printable bytes as `\xNN`.
pub fn decode_name(enc: &[u8]) -> Result<(String, u8), NbdgmError> {
    if enc.len() != field::NAME_LEN || enc[0] != 0x20 || enc[33] != 0 {
        return Err(NbdgmError::BadName);
    }
    let mut raw = [0u8; 16];
    for (i, r) in raw.iter_mut().enumerate() {
        let (hi, lo) = (enc[1 + 2 * i].wrapping_sub(b'A'), enc[2 + 2 * i].wrapping_sub(b'A'));
        if hi > 15 || lo > 15 {
            return Err(NbdgmError::BadName);
        }
        *r = hi << 4 | lo;
    }
    let name: String =
        raw[..15]
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    (b as char).to_string()
                } else {
                    format!("\\x{b:02x}")
                }
            })
            .collect();
    Ok((name.trim_end().to_string(), raw[15]))
}

fn put_utf16z(out: &mut Vec<u8>, s: &str) {
    for u in s.encode_utf16().chain([0]) {
        put_u16_le(out, u);
    }
}

/// The NETLOGON_SAM_LOGON_REQUEST: no user name, no domain SID, NT version 1|5|5EX.
pub fn emit_sam_logon_request(computer: &str, reply_mailslot: &str) -> Vec<u8> {
    let mut m = Vec::new();
    put_u16_le(&mut m, LOGON_SAM_LOGON_REQUEST);
    put_u16_le(&mut m, 0); // RequestCount
    put_utf16z(&mut m, computer);
    put_utf16z(&mut m, ""); // UnicodeUserName
    m.extend_from_slice(reply_mailslot.as_bytes());
    m.push(0);
    put_u32_le(&mut m, 0); // AllowableAccountControlBits: any account
    put_u32_le(&mut m, 0); // DomainSidSize: none
    // Pad: the DomainSid would start 4-aligned (Samba's NDR reads it even without a SID).
    m.resize(m.len().next_multiple_of(4), 0);
    put_u32_le(&mut m, NT_VERSION);
    put_u16_le(&mut m, 0xffff); // LmNtToken
    put_u16_le(&mut m, 0xffff); // Lm20Token
    m
}

/// An SMB Transaction writing `data` to `mailslot` (class 2, unreliable).
fn emit_mailslot_write(mailslot: &str, data: &[u8]) -> Vec<u8> {
    let name_len = mailslot.len() + 1;
    let data_offset = (field::SMB_WORDS + 2 * usize::from(field::TRANS_WORDS) + 2 + name_len) as u16;
    let mut s = vec![0u8; field::SMB_HEADER_LEN];
    s[..4].copy_from_slice(b"\xffSMB");
    s[field::SMB_COMMAND] = SMB_COM_TRANSACTION;
    s.push(field::TRANS_WORDS);
    for w in [0, data.len() as u16, 0, 0, 0, 0, 0, 0, 0, 0, data_offset, data.len() as u16, data_offset] {
        put_u16_le(&mut s, w); // counts, MaxSetupCount/Flags/Timeout/Reserved2 zero, offsets
    }
    s.extend_from_slice(&[3, 0]); // SetupCount, Reserved3
    for w in [1, 1, 2] {
        put_u16_le(&mut s, w); // mailslot write, priority 1, class 2
    }
    put_u16_le(&mut s, (name_len + data.len()) as u16);
    s.extend_from_slice(mailslot.as_bytes());
    s.push(0);
    s.extend_from_slice(data);
    s
}

/// The whole datagram of the ping.
pub fn emit_ping(p: &Ping) -> Vec<u8> {
    let smb = emit_mailslot_write(NETLOGON_MAILSLOT, &emit_sam_logon_request(p.computer, p.reply_mailslot));
    let mut d = vec![DIRECT_GROUP, 0x02]; // F: first (and only) fragment, B node
    put_u16_be(&mut d, p.dgm_id);
    d.extend_from_slice(&p.source_ip.octets());
    put_u16_be(&mut d, p.source_port);
    put_u16_be(&mut d, (2 * field::NAME_LEN + smb.len()) as u16);
    put_u16_be(&mut d, 0); // PACKET_OFFSET
    d.extend_from_slice(&encode_name(p.computer, 0x00));
    d.extend_from_slice(&encode_name(p.domain, 0x1c));
    d.extend_from_slice(&smb);
    d
}

/// A DC's answer, as the datagram carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatagramReply {
    pub source_ip: String,
    pub source_port: u16,
    /// The datagram's source name (the DC's computer name).
    pub source_name: String,
    /// The mailslot the answer was written to (ours).
    pub mailslot: String,
    pub netlogon: NetlogonResponse,
}

/// A NETLOGON answer ([MS-ADTS] 6.3.1.8, 6.3.1.9, 6.3.1.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct NetlogonResponse {
    pub opcode: u16,
    pub opcode_name: &'static str,
    /// DS_FLAG bits (extended answers only).
    pub flags: Option<u32>,
    pub domain_guid: Option<String>,
    pub dc_name: String,
    pub domain_name: String,
    pub dns_forest: Option<String>,
    pub dns_domain: Option<String>,
    pub dns_host: Option<String>,
    pub dc_site: Option<String>,
    pub client_site: Option<String>,
}

fn opcode_name(op: u16) -> &'static str {
    match op {
        LOGON_PRIMARY_RESPONSE => "LOGON_PRIMARY_RESPONSE",
        LOGON_SAM_LOGON_RESPONSE => "LOGON_SAM_LOGON_RESPONSE",
        LOGON_SAM_USER_UNKNOWN => "LOGON_SAM_USER_UNKNOWN",
        LOGON_SAM_LOGON_RESPONSE_EX => "LOGON_SAM_LOGON_RESPONSE_EX",
        LOGON_SAM_USER_UNKNOWN_EX => "LOGON_SAM_USER_UNKNOWN_EX",
        _ => "unknown",
    }
}

/// Parse a datagram from the DC: header, SMB Transaction, mailslot, NETLOGON answer.
pub fn parse_reply(buf: &[u8]) -> Result<DatagramReply, NbdgmError> {
    let mut r = Reader::new(buf);
    let head = r.bytes(field::HEADER_LEN).map_err(short("header"))?;
    let ty = head[field::MSG_TYPE];
    if ty != DIRECT_UNIQUE && ty != DIRECT_GROUP {
        return Err(NbdgmError::NotDirect(ty));
    }
    let ip = &head[field::SOURCE_IP];
    let source_ip = Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string();
    let source_port =
        u16::from_be_bytes([head[field::SOURCE_PORT.start], head[field::SOURCE_PORT.start + 1]]);
    let dgm_len =
        usize::from(u16::from_be_bytes([head[field::DGM_LENGTH.start], head[field::DGM_LENGTH.start + 1]]));
    // DGM_LENGTH bounds the datagram; trailing bytes beyond it are not ours to read.
    let body = r.bytes(dgm_len).map_err(short("DGM_LENGTH"))?;
    let (source_name, _) =
        decode_name(body.get(..field::NAME_LEN).ok_or(NbdgmError::Truncated("source name"))?)?;
    let smb = body.get(field::USER_DATA - field::HEADER_LEN..).ok_or(NbdgmError::Truncated("names"))?;
    let (mailslot, data) = parse_mailslot_write(smb)?;
    Ok(DatagramReply { source_ip, source_port, source_name, mailslot, netlogon: parse_netlogon(data)? })
}

/// The mailslot name and data of an SMB Transaction.
fn parse_mailslot_write(smb: &[u8]) -> Result<(String, &[u8]), NbdgmError> {
    let mut r = Reader::new(smb);
    let head = r.bytes(field::SMB_HEADER_LEN).map_err(short("SMB header"))?;
    if &head[..4] != b"\xffSMB" || head[field::SMB_COMMAND] != SMB_COM_TRANSACTION {
        return Err(NbdgmError::NotTransaction);
    }
    let wct = r.u8().map_err(short("SMB word count"))?;
    if wct < field::TRANS_WORDS {
        return Err(NbdgmError::NotTransaction);
    }
    let words = r.bytes(2 * usize::from(wct)).map_err(short("SMB words"))?;
    let at = |o: usize| usize::from(u16::from_le_bytes([words[o], words[o + 1]]));
    let (count, offset) = (at(field::TRANS_DATA_COUNT), at(field::TRANS_DATA_OFFSET));
    let bcc = usize::from(r.u16_le().map_err(short("SMB byte count"))?);
    let bytes = r.bytes(bcc).map_err(short("SMB bytes"))?;
    let nul = bytes.iter().position(|&b| b == 0).ok_or(NbdgmError::Truncated("mailslot name"))?;
    let mailslot = String::from_utf8_lossy(&bytes[..nul]).into_owned();
    let data = offset.checked_add(count).and_then(|end| smb.get(offset..end));
    Ok((mailslot, data.ok_or(NbdgmError::Truncated("SMB data"))?))
}

fn utf16z(r: &mut Reader, what: &'static str) -> Result<String, NbdgmError> {
    let mut units = Vec::new();
    loop {
        match r.u16_le().map_err(short(what))? {
            0 => return Ok(String::from_utf16_lossy(&units)),
            u => units.push(u),
        }
    }
}

/// A DNS-compressed name ([MS-ADTS] 6.3.1.9; pointers count from the message
/// start). Each pointer must land before the previous one's target, so
/// following them ends; a name longer than DNS allows is refused.
fn dns_name(msg: &[u8], r: &mut Reader, what: &'static str) -> Result<String, NbdgmError> {
    let mut labels: Vec<String> = Vec::new();
    let mut pos = r.position();
    let mut limit = pos;
    let mut total = 0usize;
    let mut jumped = false;
    loop {
        let len = *msg.get(pos).ok_or(NbdgmError::Truncated(what))?;
        if len & 0xc0 == 0xc0 {
            let lo = *msg.get(pos + 1).ok_or(NbdgmError::Truncated(what))?;
            let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
            if target >= limit {
                return Err(NbdgmError::BadPointer);
            }
            limit = target;
            if !jumped {
                r.skip(pos + 2 - r.position()).map_err(short(what))?;
                jumped = true;
            }
            pos = target;
        } else if len == 0 {
            if !jumped {
                r.skip(pos + 1 - r.position()).map_err(short(what))?;
            }
            return Ok(labels.join("."));
        } else {
            let label = msg.get(pos + 1..pos + 1 + usize::from(len)).ok_or(NbdgmError::Truncated(what))?;
            total += label.len() + 1;
            if total > 255 {
                return Err(NbdgmError::BadPointer);
            }
            labels.push(String::from_utf8_lossy(label).into_owned());
            pos += 1 + usize::from(len);
        }
    }
}

fn guid(b: &[u8]) -> String {
    let u = uuid::Uuid::from_bytes_le(b.try_into().unwrap_or([0; 16]));
    u.hyphenated().to_string()
}

/// Parse a NETLOGON answer to a logon request.
pub fn parse_netlogon(msg: &[u8]) -> Result<NetlogonResponse, NbdgmError> {
    let mut r = Reader::new(msg);
    let opcode = r.u16_le().map_err(short("NETLOGON opcode"))?;
    let mut n = NetlogonResponse { opcode, opcode_name: opcode_name(opcode), ..Default::default() };
    match opcode {
        LOGON_SAM_LOGON_RESPONSE_EX | LOGON_SAM_USER_UNKNOWN_EX => {
            r.skip(2).map_err(short("NETLOGON Sbz"))?;
            n.flags = Some(r.u32_le().map_err(short("NETLOGON flags"))?);
            n.domain_guid = Some(guid(r.bytes(16).map_err(short("NETLOGON domain GUID"))?));
            n.dns_forest = Some(dns_name(msg, &mut r, "DnsForestName")?);
            n.dns_domain = Some(dns_name(msg, &mut r, "DnsDomainName")?);
            n.dns_host = Some(dns_name(msg, &mut r, "DnsHostName")?);
            n.domain_name = dns_name(msg, &mut r, "NetbiosDomainName")?;
            n.dc_name = dns_name(msg, &mut r, "NetbiosComputerName")?;
            dns_name(msg, &mut r, "UserName")?;
            n.dc_site = Some(dns_name(msg, &mut r, "DcSiteName")?);
            n.client_site = Some(dns_name(msg, &mut r, "ClientSiteName")?);
        }
        LOGON_SAM_LOGON_RESPONSE | LOGON_SAM_USER_UNKNOWN => {
            n.dc_name = utf16z(&mut r, "UnicodeLogonServer")?.trim_start_matches('\\').to_string();
            utf16z(&mut r, "UnicodeUserName")?;
            n.domain_name = utf16z(&mut r, "UnicodeDomainName")?;
        }
        LOGON_PRIMARY_RESPONSE => {
            // PrimaryDCName (OEM) then, aligned, the Unicode names.
            let rest = r.rest();
            let nul = rest.iter().position(|&b| b == 0).ok_or(NbdgmError::Truncated("PrimaryDCName"))?;
            r.skip(nul + 1).map_err(short("PrimaryDCName"))?;
            r.align(2);
            n.dc_name = utf16z(&mut r, "UnicodePrimaryDCName")?;
            n.domain_name = utf16z(&mut r, "UnicodeDomainName")?;
        }
        other => return Err(NbdgmError::UnexpectedOpcode(other)),
    }
    Ok(n)
}

impl NetlogonResponse {
    /// PortQry-style lines.
    pub fn render_lines(&self) -> Vec<String> {
        let mut v = vec![format!("NETLOGON answer: {} (opcode {})", self.opcode_name, self.opcode)];
        let host = self.dns_host.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
        v.push(format!("Domain controller: {}{host}", self.dc_name));
        let dns = self.dns_domain.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
        v.push(format!("Domain: {}{dns}", self.domain_name));
        if let Some(f) = &self.dns_forest {
            v.push(format!("Forest: {f}"));
        }
        if let Some(s) = self.dc_site.as_deref().filter(|s| !s.is_empty()) {
            v.push(format!("Site: {s}"));
        }
        if let Some(g) = &self.domain_guid {
            v.push(format!("Domain GUID: {g}"));
        }
        if let Some(f) = self.flags {
            v.push(format!("DC flags: 0x{f:08x}"));
        }
        v
    }
}

#[cfg(test)]
#[path = "nbdgm_tests.rs"]
mod tests;
