//! NetBIOS Name Service node status (NBSTAT) on UDP 137.
//!
//! PortQry sends a node status ("adapter status") request for the wildcard name `*` and, if
//! anything answers, reports the port as LISTENING and prints the remote MAC address.
//!
//! References: RFC 1002 §4.1 (name encoding), §4.2.1 (header), §4.2.17 (NODE STATUS REQUEST),
//! §4.2.18 (NODE STATUS RESPONSE). All multi-byte fields are big-endian.
//!
//! ```text
//! Request (50 bytes)                     Response
//! 0   2  NAME_TRN_ID                     0   12  header (same layout)
//! 2   2  flags                           12  ..  RR_NAME (34-byte encoded name or 0xC0xx pointer)
//! 4   2  QDCOUNT = 1                     ..  2   RR_TYPE = 0x0021
//! 6   2  ANCOUNT = 0                     ..  2   RR_CLASS
//! 8   2  NSCOUNT = 0                     ..  4   TTL
//! 10  2  ARCOUNT = 0                     ..  2   RDLENGTH
//! 12  34 QUESTION_NAME                   ..  1   NUM_NAMES
//! 46  2  QUESTION_TYPE = 0x0021          ..  18N NODE_NAME entries
//! 48  2  QUESTION_CLASS = 1              ..  46  STATISTICS (first 6 bytes: UNIT_ID = MAC)
//! ```

use serde::Serialize;

use super::bytes::u16_be_at;

/// Header field offsets (RFC 1002 §4.2.1), relative to the start of the datagram.
mod field {
    use core::ops::Range;

    pub const TRN_ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    pub const NSCOUNT: Range<usize> = 8..10;
    pub const ARCOUNT: Range<usize> = 10..12;
    /// First byte after the fixed header: the question name (request) or RR_NAME (response).
    pub const NAME: usize = 12;

    /// Offsets inside the fixed part of a resource record, relative to the end of RR_NAME.
    pub const RR_TYPE: Range<usize> = 0..2;
    pub const RR_CLASS: Range<usize> = 2..4;
    pub const RR_TTL: Range<usize> = 4..8;
    pub const RR_RDLENGTH: Range<usize> = 8..10;
    pub const RR_FIXED_LEN: usize = 10;

    /// Offsets inside one NODE_NAME entry of the RDATA.
    pub const ENTRY_NAME: Range<usize> = 0..15;
    pub const ENTRY_SUFFIX: usize = 15;
    pub const ENTRY_FLAGS: Range<usize> = 16..18;
    pub const ENTRY_LEN: usize = 18;

    /// The statistics block starts with UNIT_ID, which Windows fills with the adapter's MAC.
    pub const STATS_UNIT_ID: Range<usize> = 0..6;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 12;
/// Length of the node status request for `*` (no scope).
pub const REQUEST_LEN: usize = 50;
/// NetBIOS names are 16 bytes: 15 name bytes plus the suffix ("type") byte.
const NETBIOS_NAME_LEN: usize = 16;
/// Length byte of the single first-level-encoded label: 16 bytes, two letters each.
const ENCODED_LABEL_LEN: u8 = 32;

/// RR / question type NBSTAT.
pub const TYPE_NBSTAT: u16 = 0x0021;
/// RR / question class IN.
pub const CLASS_IN: u16 = 0x0001;

/// Header flags word: `R(1) OPCODE(4) AA TC RD RA 0 0 B RCODE(4)`.
const FLAG_RESPONSE: u16 = 0x8000;
const RCODE_MASK: u16 = 0x000f;

/// Top two bits of a label length byte: `11` means a compression pointer.
const LABEL_POINTER: u8 = 0xc0;

/// NAME_FLAGS bits of a NODE_NAME entry (RFC 1002 §4.2.18).
pub mod name_flags {
    /// G: group name rather than unique name.
    pub const GROUP: u16 = 0x8000;
    /// ONT: owner node type, two bits.
    pub const ONT_MASK: u16 = 0x6000;
    /// DRG: the name is being deregistered.
    pub const DEREGISTERING: u16 = 0x1000;
    /// CNF: the name is in conflict.
    pub const CONFLICT: u16 = 0x0800;
    /// ACT: the name is active.
    pub const ACTIVE: u16 = 0x0400;
    /// PRM: the permanent node name.
    pub const PERMANENT: u16 = 0x0200;
}

/// Why a node status response was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("truncated NetBIOS packet")]
    Truncated,
    /// Not raised here: the query compares the id ([`transaction_id`]) with its request's.
    #[error("NetBIOS transaction id mismatch (expected {expected:#06x}, got {got:#06x})")]
    TrnIdMismatch { expected: u16, got: u16 },
    #[error("NetBIOS packet is not a response")]
    NotResponse,
    #[error("NetBIOS error response (RCODE {0})")]
    Rcode(u8),
    #[error("NetBIOS response has no answer record")]
    NoAnswer,
    #[error("malformed NetBIOS name")]
    BadName,
    #[error("unexpected NetBIOS record type {0:#06x} (want NBSTAT)")]
    WrongType(u16),
    #[error("NetBIOS name table is truncated")]
    NameTableTruncated,
}

/// Node type taken from the ONT bits of NAME_FLAGS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NodeType {
    /// Broadcast node.
    B,
    /// Point-to-point node (uses a WINS server).
    P,
    /// Mixed node (broadcast, then WINS).
    M,
    /// Hybrid node (WINS, then broadcast).
    H,
}

impl NodeType {
    fn from_flags(flags: u16) -> Self {
        match (flags & name_flags::ONT_MASK) >> 13 {
            0 => NodeType::B,
            1 => NodeType::P,
            2 => NodeType::M,
            _ => NodeType::H,
        }
    }

    /// The single letter `nmblookup` and `nbtstat` print.
    pub fn letter(self) -> char {
        match self {
            NodeType::B => 'B',
            NodeType::P => 'P',
            NodeType::M => 'M',
            NodeType::H => 'H',
        }
    }
}

/// One row of the remote name table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameEntry {
    /// The 15-byte name with trailing spaces trimmed; non-printable bytes (and `\`) are shown
    /// as `\xNN` so that e.g. `\x01\x02__MSBROWSE__\x02` stays readable and unambiguous.
    pub name: String,
    /// The 16th byte: 0x00 workstation/domain, 0x20 file server, 0x1C DC group, ...
    pub suffix: u8,
    /// G bit of the flags, repeated for convenience.
    pub group: bool,
    /// Raw NAME_FLAGS.
    pub flags: u16,
}

impl NameEntry {
    /// ACT: the name is active.
    pub fn is_active(&self) -> bool {
        self.flags & name_flags::ACTIVE != 0
    }

    /// PRM: the permanent node name.
    pub fn is_permanent(&self) -> bool {
        self.flags & name_flags::PERMANENT != 0
    }

    /// CNF: the name is in conflict.
    pub fn is_conflict(&self) -> bool {
        self.flags & name_flags::CONFLICT != 0
    }

    /// DRG: the name is being deregistered.
    pub fn is_deregistering(&self) -> bool {
        self.flags & name_flags::DEREGISTERING != 0
    }

    /// ONT: the owner's node type.
    pub fn node_type(&self) -> NodeType {
        NodeType::from_flags(self.flags)
    }

    /// The flag column of `nmblookup -A`: `<GROUP> ` or 8 spaces, the node type letter, then
    /// each set state flag, every item followed by one space.
    fn flags_column(&self) -> String {
        let mut s = String::from(if self.group { "<GROUP> " } else { "        " });
        s.push(self.node_type().letter());
        s.push(' ');
        if self.is_deregistering() {
            s.push_str("<DEREGISTERING> ");
        }
        if self.is_conflict() {
            s.push_str("<CONFLICT> ");
        }
        if self.is_active() {
            s.push_str("<ACTIVE> ");
        }
        if self.is_permanent() {
            s.push_str("<PERMANENT> ");
        }
        s
    }
}

/// A parsed node status response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// NAME_TRN_ID: the request this answers (the query checks it).
    #[serde(skip)]
    pub trn_id: u16,
    /// The remote name table, in the order the peer sent it.
    pub names: Vec<NameEntry>,
    /// UNIT_ID from the statistics block; `None` if the peer sent fewer than 6 bytes of it.
    /// Samba's nmbd sends all zeros here.
    #[serde(skip)] // shown as `mac`, PortQry's 12 hex digits, beside it
    pub mac: Option<[u8; 6]>,
}

impl NodeStatus {
    fn mac_or_zero(&self) -> [u8; 6] {
        self.mac.unwrap_or([0; 6])
    }

    /// The MAC as PortQry prints it ("MAC address 00155d01c61e"): 12 lowercase hex digits, no
    /// separators, all zeros if the peer sent none.
    pub fn mac_portqry(&self) -> String {
        self.mac_or_zero().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The name table in the layout of Samba's `nmblookup -A`, one line per name, then an empty
    /// line and the MAC line (nmblookup prints the blank line too):
    ///
    /// ```text
    /// \tWIN2K19DC       <00> -         B <ACTIVE>
    /// \tCORP            <00> - <GROUP> B <ACTIVE>
    ///
    /// \tMAC Address = 00-15-5D-01-02-03
    /// ```
    ///
    /// Each name line ends with one space, as nmblookup's does.
    pub fn render_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .names
            .iter()
            .map(|e| format!("\t{:<15} <{:02x}> - {}", e.name, e.suffix, e.flags_column()))
            .collect();
        let m = self.mac_or_zero();
        lines.push(String::new());
        lines.push(format!(
            "\tMAC Address = {:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        ));
        lines
    }
}

/// First-level encoding (RFC 1002 §4.1): each byte becomes two letters `'A' + nibble`.
fn encode_name(name: &[u8; NETBIOS_NAME_LEN]) -> [u8; 2 * NETBIOS_NAME_LEN] {
    let mut out = [0u8; 2 * NETBIOS_NAME_LEN];
    for (i, b) in name.iter().enumerate() {
        out[2 * i] = b'A' + (b >> 4);
        out[2 * i + 1] = b'A' + (b & 0x0f);
    }
    out
}

/// Builds the 50-byte NODE STATUS REQUEST for the wildcard name `*`.
///
/// Flags are all zero: a unicast query, no recursion, not broadcast. The wildcard is padded
/// with NULs rather than spaces, as RFC 1002 requires for `*`.
pub fn emit_node_status_request(trn_id: u16) -> Vec<u8> {
    let mut buf = vec![0u8; REQUEST_LEN];
    buf[field::TRN_ID].copy_from_slice(&trn_id.to_be_bytes());
    buf[field::FLAGS].copy_from_slice(&0u16.to_be_bytes());
    buf[field::QDCOUNT].copy_from_slice(&1u16.to_be_bytes());
    buf[field::ANCOUNT].copy_from_slice(&0u16.to_be_bytes());
    buf[field::NSCOUNT].copy_from_slice(&0u16.to_be_bytes());
    buf[field::ARCOUNT].copy_from_slice(&0u16.to_be_bytes());

    let mut wildcard = [0u8; NETBIOS_NAME_LEN];
    wildcard[0] = b'*';
    let mut pos = field::NAME;
    buf[pos] = ENCODED_LABEL_LEN;
    pos += 1;
    buf[pos..pos + 2 * NETBIOS_NAME_LEN].copy_from_slice(&encode_name(&wildcard));
    pos += 2 * NETBIOS_NAME_LEN;
    buf[pos] = 0; // root label: no scope
    pos += 1;
    buf[pos..pos + 2].copy_from_slice(&TYPE_NBSTAT.to_be_bytes());
    buf[pos + 2..pos + 4].copy_from_slice(&CLASS_IN.to_be_bytes());
    debug_assert_eq!(pos + 4, REQUEST_LEN);
    buf
}

/// The big-endian u16 in field `field`, or `Truncated` if it is not inside `buf`.
fn be_u16(buf: &[u8], field: core::ops::Range<usize>) -> Result<u16, ParseError> {
    u16_be_at(buf, field.start).ok_or(ParseError::Truncated)
}

/// Returns the offset just past the encoded name starting at `pos`.
///
/// The name is only skipped, never decoded: PortQry has no use for the echoed `*`. A pointer
/// ends the name, so it is not followed, and no loop is possible.
fn skip_name(buf: &[u8], mut pos: usize) -> Result<usize, ParseError> {
    loop {
        let len = *buf.get(pos).ok_or(ParseError::Truncated)?;
        match len & LABEL_POINTER {
            LABEL_POINTER => {
                // Two-byte pointer; its target is irrelevant here but must be present.
                buf.get(pos + 1).ok_or(ParseError::Truncated)?;
                return Ok(pos + 2);
            }
            0 if len == 0 => return Ok(pos + 1),
            0 => {
                pos += 1 + usize::from(len);
                if pos > buf.len() {
                    return Err(ParseError::Truncated);
                }
            }
            // 01 and 10 prefixes are reserved (RFC 1035 §4.1.4).
            _ => return Err(ParseError::BadName),
        }
    }
}

/// Renders a name field: trailing spaces trimmed, bytes outside printable ASCII (and the
/// backslash itself, so the escape stays unambiguous) as `\xNN`.
fn render_name(raw: &[u8]) -> String {
    let end = raw.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    let mut s = String::with_capacity(end);
    for &b in &raw[..end] {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// The NAME_TRN_ID of a packet, or `None` if the header is not all there.
///
/// The query compares it with its request's before parsing the rest, so a stray datagram
/// gets a precise error before any decoding.
pub fn transaction_id(buf: &[u8]) -> Option<u16> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    u16_be_at(buf, field::TRN_ID.start)
}

/// Parses a NODE STATUS RESPONSE; which request it answers is the caller's question
/// ([`NodeStatus::trn_id`]).
///
/// Reads are bounded by RDLENGTH and by the datagram, whichever ends first: a statistics block
/// shorter than RFC 1002's 46 bytes exists in the wild, so a short one only costs the MAC
/// (`mac` is `None` with fewer than 6 bytes). A name table that does not fit is an error.
pub fn parse_node_status_response(buf: &[u8]) -> Result<NodeStatus, ParseError> {
    if buf.len() < HEADER_LEN {
        return Err(ParseError::Truncated);
    }
    let trn_id = be_u16(buf, field::TRN_ID)?;
    let flags = be_u16(buf, field::FLAGS)?;
    if flags & FLAG_RESPONSE == 0 {
        return Err(ParseError::NotResponse);
    }
    let rcode = (flags & RCODE_MASK) as u8;
    if rcode != 0 {
        return Err(ParseError::Rcode(rcode));
    }
    if be_u16(buf, field::ANCOUNT)? == 0 {
        return Err(ParseError::NoAnswer);
    }

    // RFC 1002 says QDCOUNT is 0 here, but skip any echoed questions rather than misread them
    // as the answer. Each iteration consumes at least 5 bytes or fails, so this is bounded.
    let mut pos = field::NAME;
    for _ in 0..be_u16(buf, field::QDCOUNT)? {
        pos = skip_name(buf, pos)? + 4;
        if pos > buf.len() {
            return Err(ParseError::Truncated);
        }
    }

    pos = skip_name(buf, pos)?;
    let rr = buf.get(pos..pos + field::RR_FIXED_LEN).ok_or(ParseError::Truncated)?;
    let rr_type = be_u16(rr, field::RR_TYPE)?;
    if rr_type != TYPE_NBSTAT {
        return Err(ParseError::WrongType(rr_type));
    }
    // RR_CLASS is not checked: it carries nothing PortQry reports, and a wrong class from an
    // odd stack is still a NetBIOS answer. TTL (a u32, not u16 as some code assumes) likewise.
    let _class = be_u16(rr, field::RR_CLASS)?;
    let _ttl = rr.get(field::RR_TTL).ok_or(ParseError::Truncated)?;
    let rdlength = usize::from(be_u16(rr, field::RR_RDLENGTH)?);
    pos += field::RR_FIXED_LEN;

    let rdata_end = pos.saturating_add(rdlength).min(buf.len());
    let rdata = buf.get(pos..rdata_end).ok_or(ParseError::Truncated)?;

    let (&num_names, table) = rdata.split_first().ok_or(ParseError::Truncated)?;
    let table_len = usize::from(num_names) * field::ENTRY_LEN;
    if table.len() < table_len {
        return Err(ParseError::NameTableTruncated);
    }
    let (table, stats) = table.split_at(table_len);

    // Capacity is bounded: num_names entries are known to be present.
    let mut names = Vec::with_capacity(usize::from(num_names));
    for entry in table.chunks_exact(field::ENTRY_LEN) {
        let flags = be_u16(entry, field::ENTRY_FLAGS)?;
        names.push(NameEntry {
            name: render_name(&entry[field::ENTRY_NAME]),
            suffix: entry[field::ENTRY_SUFFIX],
            group: flags & name_flags::GROUP != 0,
            flags,
        });
    }

    let mac = stats.get(field::STATS_UNIT_ID).map(|m| [m[0], m[1], m[2], m[3], m[4], m[5]]);

    Ok(NodeStatus { trn_id, names, mac })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// protocols.md §1.1, TRN_ID 0x1337.
    const REQUEST: [u8; 50] = [
        0x13, 0x37, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x43, 0x4b, 0x41, 0x41,
        0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
        0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x00, 0x00, 0x21, 0x00, 0x01,
    ];

    /// protocols.md §1.2: 3 names, MAC 00-15-5d-01-02-03, 46-byte statistics. 157 bytes.
    const RESPONSE: [u8; 157] = [
        // header: trn 0x1337, flags 0x8400, QD 0, AN 1, NS 0, AR 0
        0x13, 0x37, 0x84, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        // RR_NAME: 0x20 "CKAAAA..." 0x00
        0x20, 0x43, 0x4b, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
        0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
        0x00, //
        // TYPE 0x21, CLASS 1, TTL 0, RDLENGTH 0x65 (1 + 3*18 + 46)
        0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x65, //
        // NUM_NAMES
        0x03, //
        // "WIN2K19DC      " <00> 0x0400
        0x57, 0x49, 0x4e, 0x32, 0x4b, 0x31, 0x39, 0x44, 0x43, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x00, 0x04,
        0x00, //
        // "CORP           " <00> 0x8400 (group)
        0x43, 0x4f, 0x52, 0x50, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x00, 0x84,
        0x00, //
        // "WIN2K19DC      " <20> 0x0400
        0x57, 0x49, 0x4e, 0x32, 0x4b, 0x31, 0x39, 0x44, 0x43, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x04,
        0x00, //
        // statistics: UNIT_ID (MAC) + 40 zero bytes
        0x00, 0x15, 0x5d, 0x01, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// A reply whose RR_NAME is a pointer to offset 12, one name with flags 0x6600 (H node,
    /// active, permanent), then a 5-byte statistics block (too short for a MAC).
    const POINTER_RESPONSE: [u8; 48] = [
        0xbe, 0xef, 0x84, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
        0xc0, 0x0c, // RR_NAME pointer
        0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, // RDLENGTH 24
        0x01, //
        0x01, 0x02, 0x5f, 0x5f, 0x4d, 0x53, 0x42, 0x52, 0x4f, 0x57, 0x53, 0x45, 0x5f, 0x5f, 0x02, 0x01, 0x66,
        0x00, //
        0xaa, 0xbb, 0xcc, 0xdd, 0xee, // 5 bytes of statistics
    ];

    #[test]
    fn request_matches_reference_bytes() {
        assert_eq!(emit_node_status_request(0x1337), REQUEST);
    }

    #[test]
    fn request_round_trips_trn_id() {
        let req = emit_node_status_request(0xa55a);
        assert_eq!(&req[..2], &[0xa5, 0x5a]);
        assert_eq!(&req[2..], &REQUEST[2..]);
    }

    #[test]
    fn parses_full_response() {
        let st = parse_node_status_response(&RESPONSE).unwrap();
        assert_eq!(st.mac, Some([0x00, 0x15, 0x5d, 0x01, 0x02, 0x03]));
        assert_eq!(st.mac_portqry(), "00155d010203");
        assert_eq!(
            st.names,
            vec![
                NameEntry { name: "WIN2K19DC".into(), suffix: 0x00, group: false, flags: 0x0400 },
                NameEntry { name: "CORP".into(), suffix: 0x00, group: true, flags: 0x8400 },
                NameEntry { name: "WIN2K19DC".into(), suffix: 0x20, group: false, flags: 0x0400 },
            ]
        );
        let e = &st.names[1];
        assert!(e.is_active() && !e.is_permanent() && !e.is_conflict() && !e.is_deregistering());
        assert_eq!(e.node_type(), NodeType::B);
    }

    #[test]
    fn renders_like_nmblookup() {
        let st = parse_node_status_response(&RESPONSE).unwrap();
        assert_eq!(
            st.render_lines(),
            vec![
                "\tWIN2K19DC       <00> -         B <ACTIVE> ",
                "\tCORP            <00> - <GROUP> B <ACTIVE> ",
                "\tWIN2K19DC       <20> -         B <ACTIVE> ",
                "",
                "\tMAC Address = 00-15-5D-01-02-03",
            ]
        );
    }

    #[test]
    fn parses_pointer_name_and_short_statistics() {
        let st = parse_node_status_response(&POINTER_RESPONSE).unwrap();
        assert_eq!(st.mac, None);
        assert_eq!(st.mac_portqry(), "000000000000");
        assert_eq!(st.names.len(), 1);
        let e = &st.names[0];
        assert_eq!(e.name, "\\x01\\x02__MSBROWSE__\\x02");
        assert_eq!(e.suffix, 0x01);
        assert!(!e.group && e.is_active() && e.is_permanent());
        assert_eq!(e.node_type(), NodeType::H);
        assert_eq!(
            st.render_lines(),
            vec![
                "\t\\x01\\x02__MSBROWSE__\\x02 <01> -         H <ACTIVE> <PERMANENT> ",
                "",
                "\tMAC Address = 00-00-00-00-00-00",
            ]
        );
    }

    #[test]
    fn rdlength_bounds_the_statistics() {
        // RDLENGTH says 1 + 18 + 3, though 5 statistics bytes follow: the MAC must not be read
        // from bytes outside the RDATA.
        let mut buf = POINTER_RESPONSE;
        buf[23] = 22;
        assert_eq!(parse_node_status_response(&buf).unwrap().mac, None);
    }

    #[test]
    fn truncated_at_every_length_never_panics() {
        for len in 0..RESPONSE.len() {
            let r = parse_node_status_response(&RESPONSE[..len]);
            // Up to the end of the name table the reply is unusable; after it, only the MAC
            // depends on how much is left.
            match r {
                Ok(st) => {
                    assert!(len >= 57 + 3 * 18, "Ok at length {len}");
                    assert_eq!(st.mac.is_some(), len >= 57 + 3 * 18 + 6);
                }
                Err(_) => assert!(len < 57 + 3 * 18, "Err at length {len}"),
            }
        }
        for len in 0..POINTER_RESPONSE.len() {
            let _ = parse_node_status_response(&POINTER_RESPONSE[..len]);
        }
    }

    #[test]
    fn num_names_larger_than_data() {
        let mut buf = RESPONSE;
        buf[56] = 0xff;
        assert!(matches!(parse_node_status_response(&buf), Err(ParseError::NameTableTruncated)));
        // NUM_NAMES fits the datagram but not RDLENGTH.
        let mut buf = RESPONSE;
        buf[55] = 1 + 18;
        assert!(matches!(parse_node_status_response(&buf), Err(ParseError::NameTableTruncated)));
    }

    #[test]
    fn reads_the_trn_id() {
        assert_eq!(transaction_id(&RESPONSE), Some(0x1337));
        assert_eq!(transaction_id(&RESPONSE[..HEADER_LEN - 1]), None);
        assert_eq!(parse_node_status_response(&RESPONSE).unwrap().trn_id, 0x1337);
        assert_eq!(parse_node_status_response(&POINTER_RESPONSE).unwrap().trn_id, 0xbeef);
    }

    #[test]
    fn rcode_nonzero() {
        let mut buf = RESPONSE;
        buf[3] = 0x03; // RCODE 3 (NAM_ERR)
        assert!(matches!(parse_node_status_response(&buf), Err(ParseError::Rcode(3))));
    }

    #[test]
    fn request_is_not_a_response() {
        assert!(matches!(parse_node_status_response(&REQUEST), Err(ParseError::NotResponse)));
    }

    #[test]
    fn wrong_type_and_bad_label() {
        let mut buf = RESPONSE;
        buf[47] = 0x20; // NB instead of NBSTAT
        assert!(matches!(parse_node_status_response(&buf), Err(ParseError::WrongType(0x20))));
        let mut buf = RESPONSE;
        buf[12] = 0x40; // reserved label prefix
        assert!(matches!(parse_node_status_response(&buf), Err(ParseError::BadName)));
    }

    #[test]
    fn no_answer() {
        let mut buf = RESPONSE;
        buf[7] = 0;
        assert!(matches!(parse_node_status_response(&buf), Err(ParseError::NoAnswer)));
    }

    #[test]
    fn hostile_question_count_is_bounded() {
        // QDCOUNT 0xffff with no questions present must fail fast, not loop or allocate.
        let mut buf = RESPONSE;
        buf[4] = 0xff;
        buf[5] = 0xff;
        assert!(parse_node_status_response(&buf).is_err());
    }

    /// Cheap deterministic fuzzing: random byte flips and cuts of the reference replies must
    /// never panic (the real fuzz target lives in fuzz/fuzz_targets/netbios_response.rs).
    #[test]
    fn mutated_responses_never_panic() {
        let mut next = crate::wire::xorshift(0x2545_f491_4f6c_dd1d);
        for seed in [&RESPONSE[..], &POINTER_RESPONSE[..]] {
            for _ in 0..20_000 {
                let mut buf = seed.to_vec();
                for _ in 0..(next() % 4 + 1) {
                    let i = (next() as usize) % buf.len();
                    buf[i] = next() as u8;
                }
                buf.truncate((next() as usize) % (seed.len() + 1));
                let _ = parse_node_status_response(&buf);
            }
        }
    }
}
