//! DNS over UDP and TCP port 53 (RFC 1035), built and decoded with `hickory-proto`.
//!
//! PortQry only needs to know that *a DNS server* answered: any well-formed reply carrying the
//! query's ID proves it (the query compares the ID, [`message_id`]; this module only reads it), REFUSED, NXDOMAIN and SERVFAIL included (RFC 1035 §4.1.1). The
//! summary keeps enough of the reply for a troubleshooter to see what the server said.
//!
//! ```text
//! 0  2  ID
//! 2  2  QR(1) OPCODE(4) AA TC RD RA Z(3) RCODE(4)
//! 4  2  QDCOUNT     6  2  ANCOUNT     8  2  NSCOUNT     10  2  ARCOUNT
//! 12 .. questions, then answer, authority and additional RRs
//! ```
//!
//! Over TCP every message is preceded by a 2-byte big-endian length (RFC 1035 §4.2.2).

use super::bytes::{put_u16_be, u16_be_at};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;

/// Header field offsets (RFC 1035 §4.1.1).
mod field {
    use core::ops::Range;

    pub const ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    pub const NSCOUNT: Range<usize> = 8..10;
    pub const ARCOUNT: Range<usize> = 10..12;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 12;
/// Length of the TCP length prefix.
pub const TCP_PREFIX_LEN: usize = 2;
/// At most this many answers are kept in a [`DnsSummary`]: enough to show what answered,
/// without letting a huge reply flood the console.
pub const MAX_ANSWERS: usize = 20;

/// QR bit of the flags word: set in responses.
const FLAG_QR: u16 = 0x8000;
/// Smallest question: root name (1) + QTYPE (2) + QCLASS (2).
const MIN_QUESTION_LEN: usize = 5;
/// Smallest RR: root name (1) + TYPE, CLASS (4) + TTL (4) + RDLENGTH (2).
const MIN_RR_LEN: usize = 11;

/// Why a query could not be built or a reply was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("invalid DNS name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("cannot encode DNS query: {0}")]
    Encode(String),
    #[error("truncated DNS message")]
    Truncated,
    /// Not raised here: the query compares the ID ([`message_id`]) with its request's.
    #[error("DNS message id mismatch (expected {expected:#06x}, got {got:#06x})")]
    IdMismatch { expected: u16, got: u16 },
    #[error("DNS message is not a response")]
    NotResponse,
    #[error("DNS record counts exceed the message size")]
    CountsExceedData,
    #[error("malformed DNS message: {0}")]
    Malformed(String),
}

/// The query types PortQry's DNS probe may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum QueryKind {
    A,
    Aaaa,
    Soa,
    Ns,
    Ptr,
    Mx,
    Txt,
    Cname,
}

impl QueryKind {
    fn record_type(self) -> RecordType {
        match self {
            QueryKind::A => RecordType::A,
            QueryKind::Aaaa => RecordType::AAAA,
            QueryKind::Soa => RecordType::SOA,
            QueryKind::Ns => RecordType::NS,
            QueryKind::Ptr => RecordType::PTR,
            QueryKind::Mx => RecordType::MX,
            QueryKind::Txt => RecordType::TXT,
            QueryKind::Cname => RecordType::CNAME,
        }
    }
}

/// What a reply said, reduced to what a troubleshooter wants to see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsSummary {
    pub id: u16,
    /// Mnemonic RCODE: `NOERROR`, `NXDOMAIN`, `REFUSED`, ... (`RCODE<n>` if unassigned).
    /// Includes the EDNS extended bits when an OPT record carries them.
    pub rcode: String,
    pub authoritative: bool,
    pub recursion_available: bool,
    /// TC: over UDP, the full answer needs TCP.
    pub truncated: bool,
    /// Counts as the header states them (ARCOUNT includes any OPT record).
    pub answer_count: u16,
    pub authority_count: u16,
    pub additional_count: u16,
    /// Each answer as "name TTL class type rdata", at most [`MAX_ANSWERS`].
    pub answers: Vec<String>,
}

impl DnsSummary {
    /// A status line, e.g.
    /// `DNS response: NOERROR, authoritative answer, recursion available, 1 answer(s)`,
    /// then each answer indented by two spaces.
    pub fn render_lines(&self) -> Vec<String> {
        let mut head = format!(
            "DNS response: {}, {}, {}",
            self.rcode,
            if self.authoritative { "authoritative answer" } else { "non-authoritative answer" },
            if self.recursion_available { "recursion available" } else { "recursion not available" },
        );
        if self.truncated {
            head.push_str(", truncated");
        }
        head.push_str(&format!(", {} answer(s)", self.answer_count));
        if self.authority_count > 0 {
            head.push_str(&format!(", {} authority", self.authority_count));
        }
        if self.additional_count > 0 {
            head.push_str(&format!(", {} additional", self.additional_count));
        }

        let mut lines = vec![head];
        lines.extend(self.answers.iter().map(|a| format!("  {a}")));
        let shown = self.answers.len();
        let total = usize::from(self.answer_count);
        if total > shown {
            lines.push(format!("  ... {} more answer(s) not shown", total - shown));
        }
        lines
    }
}

/// Mnemonic for an RCODE as dig and the RFCs spell it.
fn rcode_name(code: u16) -> String {
    let s = match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        // 16 is also BADSIG, but only inside TSIG; in a header/OPT rcode it is BADVERS.
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        n => return format!("RCODE{n}"),
    };
    s.to_string()
}

/// Parses `qname`. ASCII names keep their case (and accept `_` and escapes); other names go
/// through IDNA, which is what a resolver would put on the wire.
fn parse_name(qname: &str) -> Result<Name, ParseError> {
    let invalid = |reason: String| ParseError::InvalidName { name: qname.to_string(), reason };
    if qname.is_empty() {
        return Err(invalid("empty name".into()));
    }
    let mut name = if qname.is_ascii() { Name::from_ascii(qname) } else { Name::from_utf8(qname) }
        .map_err(|e| invalid(e.to_string()))?;
    // Queries are always for the absolute name; there is no search list here.
    name.set_fqdn(true);
    Ok(name)
}

/// Builds a standard query (OPCODE 0, RD=1, class IN, no EDNS) for `qname`.
pub fn emit_query(id: u16, qname: &str, qtype: QueryKind) -> Result<Vec<u8>, ParseError> {
    let name = parse_name(qname)?;
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name, qtype.record_type()));
    msg.to_vec().map_err(|e| ParseError::Encode(e.to_string()))
}

/// Prefixes `msg` with its 2-byte big-endian length for DNS over TCP.
///
/// # Panics
///
/// If `msg` is longer than 65535 bytes, which no DNS message can be.
pub fn frame_tcp(msg: &[u8]) -> Vec<u8> {
    let len = u16::try_from(msg.len()).expect("DNS message longer than 65535 bytes");
    let mut out = Vec::with_capacity(TCP_PREFIX_LEN + msg.len());
    put_u16_be(&mut out, len);
    out.extend_from_slice(msg);
    out
}

/// Total bytes (prefix included) of the first TCP-framed message in `buf`, or `None` while
/// the 2-byte prefix itself has not arrived. The caller reads until it has that many bytes.
pub fn tcp_frame_len(buf: &[u8]) -> Option<usize> {
    u16_be_at(buf, 0).map(|len| TCP_PREFIX_LEN + usize::from(len))
}

/// The big-endian u16 in header field `field`, or `Truncated`.
fn be_u16(buf: &[u8], field: core::ops::Range<usize>) -> Result<u16, ParseError> {
    u16_be_at(buf, field.start).ok_or(ParseError::Truncated)
}

/// The ID of a message (without the TCP prefix), or `None` if the header is not all there.
///
/// The query compares it with its request's before parsing the rest, so a stray datagram
/// gets a precise error before any decoding.
pub fn message_id(buf: &[u8]) -> Option<u16> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    u16_be_at(buf, field::ID.start)
}

/// Parses a reply (without the TCP prefix); which query it answers is the caller's
/// question ([`DnsSummary::id`]).
///
/// QR is checked by hand first. The header counts are checked against the bytes present
/// before hickory-proto sees the message, because its decoder reserves a `Vec` of QDCOUNT
/// entries up front.
pub fn parse_response(buf: &[u8]) -> Result<DnsSummary, ParseError> {
    if buf.len() < HEADER_LEN {
        return Err(ParseError::Truncated);
    }
    let got = be_u16(buf, field::ID)?;
    if be_u16(buf, field::FLAGS)? & FLAG_QR == 0 {
        return Err(ParseError::NotResponse);
    }
    let qdcount = be_u16(buf, field::QDCOUNT)?;
    let answer_count = be_u16(buf, field::ANCOUNT)?;
    let authority_count = be_u16(buf, field::NSCOUNT)?;
    let additional_count = be_u16(buf, field::ARCOUNT)?;
    let min_body = usize::from(qdcount) * MIN_QUESTION_LEN
        + (usize::from(answer_count) + usize::from(authority_count) + usize::from(additional_count))
            * MIN_RR_LEN;
    if min_body > buf.len() - HEADER_LEN {
        return Err(ParseError::CountsExceedData);
    }

    let msg = Message::from_vec(buf).map_err(|e| ParseError::Malformed(e.to_string()))?;
    let meta = &msg.metadata;

    Ok(DnsSummary {
        id: got,
        rcode: rcode_name(u16::from(meta.response_code)),
        authoritative: meta.authoritative,
        recursion_available: meta.recursion_available,
        truncated: meta.truncation,
        answer_count,
        authority_count,
        additional_count,
        answers: msg.answers.iter().take(MAX_ANSWERS).map(|r| r.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// protocols.md §2: ID 0x1234, RD, `A example.com`.
    const QUERY: [u8; 29] = [
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d,
        0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    /// NOERROR reply, AA+RD+RA, echoing the question, one A record for example.com (pointer to
    /// offset 12), TTL 3600, 93.184.216.34.
    const REPLY_A: [u8; 45] = [
        0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // header
        0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, // qname
        0x00, 0x01, 0x00, 0x01, // A IN
        0xc0, 0x0c, // name: pointer to the question
        0x00, 0x01, 0x00, 0x01, // A IN
        0x00, 0x00, 0x0e, 0x10, // TTL 3600
        0x00, 0x04, 0x5d, 0xb8, 0xd8, 0x22, // RDLENGTH 4, 93.184.216.34
    ];

    /// REFUSED reply (RCODE 5, RD+QR), question echoed, no records.
    const REPLY_REFUSED: [u8; 29] = [
        0x12, 0x34, 0x81, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d,
        0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    /// A reply whose single answer's name is a pointer to itself (offset 12).
    const POINTER_LOOP: [u8; 24] = [
        0x12, 0x34, 0x81, 0x80, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
        0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// Two names pointing at each other: offset 12 -> 14 -> 12.
    const POINTER_PAIR: [u8; 26] = [
        0x12, 0x34, 0x81, 0x80, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
        0xc0, 0x0e, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn query_matches_reference_bytes() {
        assert_eq!(emit_query(0x1234, "example.com", QueryKind::A).unwrap(), QUERY);
        // A trailing dot means the same absolute name.
        assert_eq!(emit_query(0x1234, "example.com.", QueryKind::A).unwrap(), QUERY);
    }

    #[test]
    fn query_types() {
        for (kind, code) in [
            (QueryKind::Aaaa, 28u8),
            (QueryKind::Soa, 6),
            (QueryKind::Ns, 2),
            (QueryKind::Ptr, 12),
            (QueryKind::Mx, 15),
            (QueryKind::Txt, 16),
            (QueryKind::Cname, 5),
        ] {
            let q = emit_query(0x1234, "example.com", kind).unwrap();
            assert_eq!(q[..26], QUERY[..26]);
            assert_eq!(q[26], code, "{kind:?}");
            assert_eq!(q[27..], QUERY[27..]);
        }
    }

    #[test]
    fn portqry_name_keeps_case() {
        let q = emit_query(7, "PortQry.Microsoft.com", QueryKind::A).unwrap();
        assert_eq!(&q[12..20], b"\x07PortQry");
    }

    #[test]
    fn invalid_names() {
        let long_label = "a".repeat(64);
        let long_name = vec!["abcdefghij"; 30].join(".");
        for bad in ["", "a..b", long_label.as_str(), long_name.as_str()] {
            assert!(
                matches!(emit_query(1, bad, QueryKind::A), Err(ParseError::InvalidName { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tcp_framing() {
        let framed = frame_tcp(&QUERY);
        assert_eq!(&framed[..2], &[0x00, 0x1d]);
        assert_eq!(&framed[2..], &QUERY);
        assert_eq!(tcp_frame_len(&framed), Some(31));
        assert_eq!(tcp_frame_len(&framed[..2]), Some(31));
        assert_eq!(tcp_frame_len(&framed[..1]), None);
        assert_eq!(tcp_frame_len(&[]), None);
        assert_eq!(tcp_frame_len(&[0xff, 0xff]), Some(65537));
    }

    #[test]
    fn parses_a_reply() {
        let s = parse_response(&REPLY_A).unwrap();
        assert_eq!(
            s,
            DnsSummary {
                id: 0x1234,
                rcode: "NOERROR".into(),
                authoritative: true,
                recursion_available: true,
                truncated: false,
                answer_count: 1,
                authority_count: 0,
                additional_count: 0,
                answers: vec!["example.com. 3600 IN A 93.184.216.34".into()],
            }
        );
        assert_eq!(
            s.render_lines(),
            vec![
                "DNS response: NOERROR, authoritative answer, recursion available, 1 answer(s)",
                "  example.com. 3600 IN A 93.184.216.34",
            ]
        );
    }

    #[test]
    fn refused_is_ok() {
        let s = parse_response(&REPLY_REFUSED).unwrap();
        assert_eq!(s.rcode, "REFUSED");
        assert!(!s.authoritative && !s.recursion_available && !s.truncated);
        assert_eq!(s.answer_count, 0);
        assert!(s.answers.is_empty());
        assert_eq!(
            s.render_lines(),
            vec!["DNS response: REFUSED, non-authoritative answer, recursion not available, 0 answer(s)"]
        );
    }

    #[test]
    fn nxdomain_and_servfail_are_ok() {
        for (code, name) in [(2u8, "SERVFAIL"), (3, "NXDOMAIN"), (0x0f, "RCODE15")] {
            let mut buf = REPLY_REFUSED;
            buf[3] = 0x80 | code;
            let s = parse_response(&buf).unwrap();
            assert_eq!(s.rcode, name);
            assert!(s.recursion_available);
        }
    }

    #[test]
    fn reads_the_id() {
        assert_eq!(message_id(&REPLY_A), Some(0x1234));
        assert_eq!(message_id(&REPLY_A[..HEADER_LEN]), Some(0x1234));
        assert_eq!(message_id(&REPLY_A[..HEADER_LEN - 1]), None);
        let mut other = REPLY_A;
        other[..2].copy_from_slice(&[0x43, 0x21]);
        assert_eq!(parse_response(&other).unwrap().id, 0x4321);
    }

    #[test]
    fn query_is_not_a_response() {
        assert!(matches!(parse_response(&QUERY), Err(ParseError::NotResponse)));
    }

    #[test]
    fn truncated_at_every_length() {
        for len in 0..REPLY_A.len() {
            assert!(parse_response(&REPLY_A[..len]).is_err(), "len {len}");
        }
        for len in 0..REPLY_REFUSED.len() {
            assert!(parse_response(&REPLY_REFUSED[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn pointer_loops_are_errors() {
        assert!(parse_response(&POINTER_LOOP).is_err());
        assert!(parse_response(&POINTER_PAIR).is_err());
    }

    #[test]
    fn hostile_counts_are_rejected_before_decoding() {
        let mut buf = REPLY_REFUSED;
        buf[4] = 0xff;
        buf[5] = 0xff;
        assert!(matches!(parse_response(&buf), Err(ParseError::CountsExceedData)));
    }

    #[test]
    fn answers_are_capped() {
        // 25 identical A records, each a pointer to the question name.
        let mut buf = REPLY_A[..29].to_vec();
        buf[7] = 25;
        for _ in 0..25 {
            buf.extend_from_slice(&REPLY_A[29..]);
        }
        let s = parse_response(&buf).unwrap();
        assert_eq!(s.answer_count, 25);
        assert_eq!(s.answers.len(), MAX_ANSWERS);
        let lines = s.render_lines();
        assert_eq!(lines.len(), 1 + MAX_ANSWERS + 1);
        assert_eq!(lines.last().unwrap(), "  ... 5 more answer(s) not shown");
    }

    /// Cheap deterministic fuzzing: random byte flips and cuts of the reference replies must
    /// never panic (the real fuzz target lives in fuzz/fuzz_targets/dns_response.rs).
    #[test]
    fn mutated_responses_never_panic() {
        let mut next = crate::wire::xorshift(0x2545_f491_4f6c_dd1d);
        for seed in [&REPLY_A[..], &REPLY_REFUSED[..], &POINTER_PAIR[..]] {
            for _ in 0..20_000 {
                let mut buf = seed.to_vec();
                for _ in 0..(next() % 4 + 1) {
                    let i = (next() as usize) % buf.len();
                    buf[i] = next() as u8;
                }
                buf.truncate((next() as usize) % (seed.len() + 1));
                let _ = parse_response(&buf);
            }
        }
    }
}
