//! RDP connection start on TCP 3389 ([MS-RDPBCGR] 2.2.1.1, 2.2.1.2): an X.224
//! Connection Request carrying an RDP Negotiation Request, answered by an X.224
//! Connection Confirm carrying the security protocol the server chose (or why
//! it refused), before any TLS or credentials.
//!
//! ```text
//! TPKT (RFC 1006)   | 03 | 00 | length (2, big-endian, TPKT header included) |
//! X.224 CR (RFC 905) | LI | E0 | DST-REF (2) | SRC-REF (2) | class 0 | [cookie] | RDP_NEG_REQ |
//! X.224 CC           | LI | D0 | DST-REF (2) | SRC-REF (2) | class 0 | [RDP_NEG_RSP or FAILURE] |
//! RDP_NEG_REQ        | 01 | flags | length=8 (2, LE) | requestedProtocols (4, LE) |
//! RDP_NEG_RSP        | 02 | flags | length=8 (2, LE) | selectedProtocol (4, LE) |
//! RDP_NEG_FAILURE    | 03 | flags | length=8 (2, LE) | failureCode (4, LE) |
//! ```
//! LI counts the X.224 header bytes after itself (the negotiation structure included).
//! A CC without negotiation data comes from a server that only knows Standard RDP
//! Security (pre-RDP 5.2). Nothing in the CC echoes the request, so whether it is
//! ours is "a CC on the connection we just opened". Parsing is bounded and never
//! panics: a hostile reply yields an [`RdpError`].

use serde::Serialize;

use super::bytes::{Reader, Truncated, put_u16_be, put_u16_le, put_u32_le};

/// TPKT header length and version.
pub const TPKT_LEN: usize = 4;
pub const TPKT_VERSION: u8 = 3;
/// X.224 fixed header after LI (code, DST-REF, SRC-REF, class) and the LI byte itself.
const X224_FIXED: usize = 6;
/// TPDU codes (upper nibble of the code byte).
const TPDU_CR: u8 = 0xe0;
const TPDU_CC: u8 = 0xd0;
const TPDU_DR: u8 = 0x80;
const TPDU_ER: u8 = 0x70;
/// Negotiation structure types and length.
const TYPE_NEG_REQ: u8 = 0x01;
const TYPE_NEG_RSP: u8 = 0x02;
const TYPE_NEG_FAILURE: u8 = 0x03;
const NEG_LEN: u16 = 8;
/// requestedProtocols / selectedProtocol bits.
pub const PROTOCOL_RDP: u32 = 0x0000_0000;
pub const PROTOCOL_SSL: u32 = 0x0000_0001;
pub const PROTOCOL_HYBRID: u32 = 0x0000_0002;
pub const PROTOCOL_RDSTLS: u32 = 0x0000_0004;
pub const PROTOCOL_HYBRID_EX: u32 = 0x0000_0008;
pub const PROTOCOL_RDSAAD: u32 = 0x0000_0010;
/// What we ask for: TLS, CredSSP and CredSSP with Early User Authorization.
pub const REQUESTED: u32 = PROTOCOL_SSL | PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX;
/// RDP_NEG_RSP flags ([MS-RDPBCGR] 2.2.1.2.1) and their names.
pub const NEG_RSP_FLAGS: [(u8, &str); 5] = [
    (0x01, "EXTENDED_CLIENT_DATA_SUPPORTED"),
    (0x02, "DYNVC_GFX_PROTOCOL_SUPPORTED"),
    (0x04, "NEGRSP_FLAG_RESERVED"),
    (0x08, "RESTRICTED_ADMIN_MODE_SUPPORTED"),
    (0x10, "REDIRECTED_AUTHENTICATION_MODE_SUPPORTED"),
];

/// Why a reply is not an X.224 Connection Confirm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdpError {
    #[error("RDP reply truncated ({0})")]
    Truncated(#[from] Truncated),
    #[error("TPKT version {0} (3 expected)")]
    TpktVersion(u8),
    #[error("TPKT length {declared}, {present} bytes present")]
    TpktLength { declared: usize, present: usize },
    #[error("X.224 length indicator {li} does not fit the {present} bytes after it")]
    LengthIndicator { li: usize, present: usize },
    #[error("X.224 TPDU {0:#04x} is not a Connection Confirm (0xd0)")]
    NotConfirm(u8),
    #[error("RDP negotiation structure type {0:#04x} is neither a response (2) nor a failure (3)")]
    NegType(u8),
    #[error("RDP negotiation structure length {0} (8 expected)")]
    NegLength(u16),
}

/// What the Connection Confirm said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Confirm {
    /// RDP_NEG_RSP: the chosen protocol.
    Selected { protocol: u32, protocol_name: String, flags: u8, flag_names: Vec<&'static str> },
    /// RDP_NEG_FAILURE.
    Failure { code: u32, code_name: String },
    /// No negotiation data: a legacy server, Standard RDP Security.
    Legacy,
    /// An X.224 Disconnect Request or TPDU Error instead of a CC.
    Refused { tpdu: u8, tpdu_name: &'static str },
}

/// The selected protocol's name.
pub fn protocol_name(p: u32) -> String {
    match p {
        PROTOCOL_RDP => "Standard RDP Security".into(),
        PROTOCOL_SSL => "TLS".into(),
        PROTOCOL_HYBRID => "CredSSP (NLA)".into(),
        PROTOCOL_RDSTLS => "RDSTLS".into(),
        PROTOCOL_HYBRID_EX => "CredSSP EX (NLA with Early User Authorization)".into(),
        PROTOCOL_RDSAAD => "RDS AAD authentication".into(),
        p => format!("unknown protocol {p:#010x}"),
    }
}

/// An RDP_NEG_FAILURE code's name ([MS-RDPBCGR] 2.2.1.2.2).
pub fn failure_name(code: u32) -> String {
    match code {
        1 => "SSL_REQUIRED_BY_SERVER".into(),
        2 => "SSL_NOT_ALLOWED_BY_SERVER".into(),
        3 => "SSL_CERT_NOT_ON_SERVER".into(),
        4 => "INCONSISTENT_FLAGS".into(),
        5 => "HYBRID_REQUIRED_BY_SERVER".into(),
        6 => "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER".into(),
        c => format!("unknown failure code {c}"),
    }
}

/// The Connection Request: TPKT + X.224 CR (no cookie) + RDP_NEG_REQ asking `requested`.
pub fn emit_connection_request(requested: u32) -> Vec<u8> {
    let total = TPKT_LEN + 1 + X224_FIXED + usize::from(NEG_LEN);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&[TPKT_VERSION, 0]);
    put_u16_be(&mut out, total as u16);
    out.push((X224_FIXED + usize::from(NEG_LEN)) as u8); // LI
    out.push(TPDU_CR);
    put_u16_be(&mut out, 0); // DST-REF
    put_u16_be(&mut out, 0); // SRC-REF
    out.push(0); // class 0
    out.push(TYPE_NEG_REQ);
    out.push(0); // flags
    put_u16_le(&mut out, NEG_LEN);
    put_u32_le(&mut out, requested);
    out
}

/// TPKT framing: the whole packet's length once `buf` holds it, `None` while more
/// is needed. Not a TPKT (first byte not 3): the whole buffer (the parser says why).
pub fn framed_len(buf: &[u8]) -> Option<usize> {
    let head = buf.get(..TPKT_LEN)?;
    if head[0] != TPKT_VERSION {
        return Some(buf.len());
    }
    let n = usize::from(u16::from_be_bytes([head[2], head[3]])).max(TPKT_LEN);
    (buf.len() >= n).then_some(n)
}

/// Parse the server's first TPKT.
pub fn parse_confirm(frame: &[u8]) -> Result<Confirm, RdpError> {
    let mut r = Reader::new(frame);
    let tpkt = r.array::<TPKT_LEN>()?;
    if tpkt[0] != TPKT_VERSION {
        return Err(RdpError::TpktVersion(tpkt[0]));
    }
    let declared = usize::from(u16::from_be_bytes([tpkt[2], tpkt[3]]));
    if declared != frame.len() {
        return Err(RdpError::TpktLength { declared, present: frame.len() });
    }
    let li = usize::from(r.u8()?);
    let x224 = r.bytes(li).map_err(|_| RdpError::LengthIndicator { li, present: r.remaining() })?;
    let mut x = Reader::new(x224);
    let code = x.u8()? & 0xf0;
    match code {
        TPDU_CC => {}
        TPDU_DR => return Ok(Confirm::Refused { tpdu: code, tpdu_name: "Disconnect Request" }),
        TPDU_ER => return Ok(Confirm::Refused { tpdu: code, tpdu_name: "TPDU Error" }),
        c => return Err(RdpError::NotConfirm(c)),
    }
    x.skip(X224_FIXED - 1)?; // DST-REF, SRC-REF, class
    if x.is_empty() {
        return Ok(Confirm::Legacy);
    }
    let kind = x.u8()?;
    let flags = x.u8()?;
    let len = x.u16_le()?;
    if len != NEG_LEN {
        return Err(RdpError::NegLength(len));
    }
    let value = x.u32_le()?;
    match kind {
        TYPE_NEG_RSP => Ok(Confirm::Selected {
            protocol: value,
            protocol_name: protocol_name(value),
            flags,
            flag_names: NEG_RSP_FLAGS.iter().filter(|(b, _)| flags & b != 0).map(|(_, n)| *n).collect(),
        }),
        TYPE_NEG_FAILURE => Ok(Confirm::Failure { code: value, code_name: failure_name(value) }),
        k => Err(RdpError::NegType(k)),
    }
}

impl Confirm {
    /// The report's lines.
    pub fn render_lines(&self) -> Vec<String> {
        match self {
            Confirm::Selected { protocol, protocol_name, flags, flag_names } => {
                let mut v = vec![format!("RDP security protocol selected: {protocol_name} ({protocol:#x})")];
                let names = if flag_names.is_empty() { "none".into() } else { flag_names.join(", ") };
                v.push(format!("negotiation flags: {names} ({flags:#04x})"));
                v
            }
            Confirm::Failure { code, code_name } => {
                vec![format!("RDP negotiation failure: {code_name} ({code})")]
            }
            Confirm::Legacy => {
                vec![
                    "RDP security protocol: Standard RDP Security (the server sent no negotiation response)"
                        .into(),
                ]
            }
            Confirm::Refused { tpdu, tpdu_name } => {
                vec![format!("X.224 {tpdu_name} ({tpdu:#04x}) instead of a Connection Confirm")]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured 2026-12-01 (fuzz/seeds/capture.py rdp) from xrdp 0.9.21.1 in the test namespace.
    /// security_layer=negotiate, asked TLS|CredSSP|CredSSP EX: TLS, EXTENDED_CLIENT_DATA_SUPPORTED.
    const XRDP_NEGOTIATE: [u8; 19] = [
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x01, 0x08, 0x00, 0x01, 0x00,
        0x00, 0x00,
    ];
    /// security_layer=rdp, same request: Standard RDP Security selected.
    const XRDP_RDP_LAYER: [u8; 19] = [
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x01, 0x08, 0x00, 0x00, 0x00,
        0x00, 0x00,
    ];
    /// security_layer=tls, asked Standard RDP Security only: the failure, then xrdp's
    /// DisconnectProviderUltimatum (a second TPKT, not ours to parse).
    const XRDP_SSL_REQUIRED: [u8; 28] = [
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x03, 0x00, 0x08, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80,
    ];
    /// A CR without RDP_NEG_REQ: a CC without negotiation data.
    const XRDP_LEGACY: [u8; 11] = [0x03, 0x00, 0x00, 0x0b, 0x06, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00];

    #[test]
    fn request_bytes() {
        // What ensure.sh's readiness check and capture.py send.
        assert_eq!(
            emit_connection_request(REQUESTED),
            [0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x08, 0x00, 0x0b, 0, 0, 0]
        );
    }

    #[test]
    fn xrdp_confirms() {
        let c = parse_confirm(&XRDP_NEGOTIATE).unwrap();
        assert_eq!(
            c,
            Confirm::Selected {
                protocol: PROTOCOL_SSL,
                protocol_name: "TLS".into(),
                flags: 1,
                flag_names: vec!["EXTENDED_CLIENT_DATA_SUPPORTED"]
            }
        );
        assert_eq!(
            c.render_lines(),
            [
                "RDP security protocol selected: TLS (0x1)",
                "negotiation flags: EXTENDED_CLIENT_DATA_SUPPORTED (0x01)"
            ]
        );
        let rdp = parse_confirm(&XRDP_RDP_LAYER).unwrap();
        assert!(matches!(rdp, Confirm::Selected { protocol: PROTOCOL_RDP, .. }));
        assert_eq!(rdp.render_lines()[0], "RDP security protocol selected: Standard RDP Security (0x0)");
        let n = framed_len(&XRDP_SSL_REQUIRED).unwrap();
        assert_eq!(n, 19);
        let f = parse_confirm(&XRDP_SSL_REQUIRED[..n]).unwrap();
        assert_eq!(f, Confirm::Failure { code: 1, code_name: "SSL_REQUIRED_BY_SERVER".into() });
        assert_eq!(f.render_lines(), ["RDP negotiation failure: SSL_REQUIRED_BY_SERVER (1)"]);
        assert_eq!(parse_confirm(&XRDP_LEGACY).unwrap(), Confirm::Legacy);
    }

    /// What Windows sends when it requires NLA or chooses it, built from
    /// [MS-RDPBCGR] 2.2.1.2 (no capture: xrdp never selects CredSSP).
    #[test]
    fn credssp_selections_and_hybrid_required() {
        let confirm = |kind: u8, flags: u8, value: u8| {
            let mut c = XRDP_NEGOTIATE;
            c[11] = kind;
            c[12] = flags;
            c[15] = value;
            parse_confirm(&c).unwrap().render_lines()
        };
        assert_eq!(
            confirm(2, 0x1f, 2),
            [
                "RDP security protocol selected: CredSSP (NLA) (0x2)",
                "negotiation flags: EXTENDED_CLIENT_DATA_SUPPORTED, DYNVC_GFX_PROTOCOL_SUPPORTED, \
                 NEGRSP_FLAG_RESERVED, RESTRICTED_ADMIN_MODE_SUPPORTED, REDIRECTED_AUTHENTICATION_MODE_SUPPORTED (0x1f)"
            ]
        );
        assert_eq!(
            confirm(2, 0, 8)[0],
            "RDP security protocol selected: CredSSP EX (NLA with Early User Authorization) (0x8)"
        );
        assert_eq!(confirm(2, 0, 8)[1], "negotiation flags: none (0x00)");
        assert_eq!(confirm(3, 0, 5), ["RDP negotiation failure: HYBRID_REQUIRED_BY_SERVER (5)"]);
    }

    #[test]
    fn wraps_into_wire_error() {
        let w = crate::wire::WireError::from(RdpError::NegLength(9));
        assert!(matches!(w, crate::wire::WireError::Rdp(RdpError::NegLength(9))));
        assert_eq!(w.to_string(), "RDP negotiation structure length 9 (8 expected)");
    }

    #[test]
    fn failure_names() {
        let names: Vec<String> = (1..=6).map(failure_name).collect();
        assert_eq!(
            names,
            [
                "SSL_REQUIRED_BY_SERVER",
                "SSL_NOT_ALLOWED_BY_SERVER",
                "SSL_CERT_NOT_ON_SERVER",
                "INCONSISTENT_FLAGS",
                "HYBRID_REQUIRED_BY_SERVER",
                "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER"
            ]
        );
        assert_eq!(protocol_name(PROTOCOL_HYBRID), "CredSSP (NLA)");
        assert_eq!(failure_name(9), "unknown failure code 9");
    }

    #[test]
    fn not_a_confirm() {
        assert_eq!(framed_len(&[3, 0, 0]), None);
        assert_eq!(framed_len(&[3, 0, 0, 19, 0x0e]), None);
        assert_eq!(framed_len(b"SSH-2.0-OpenSSH"), Some(15));
        assert_eq!(parse_confirm(b"SSH-2.0-OpenSSH"), Err(RdpError::TpktVersion(b'S')));
        // A Disconnect Request instead of a CC.
        let dr = [3, 0, 0, 11, 6, 0x80, 0, 0, 0x12, 0x34, 0];
        assert_eq!(
            parse_confirm(&dr).unwrap(),
            Confirm::Refused { tpdu: 0x80, tpdu_name: "Disconnect Request" }
        );
        let mut cr = XRDP_NEGOTIATE;
        cr[5] = 0xe0;
        assert_eq!(parse_confirm(&cr), Err(RdpError::NotConfirm(0xe0)));
        let mut li = XRDP_NEGOTIATE;
        li[4] = 0x40;
        assert!(matches!(parse_confirm(&li), Err(RdpError::LengthIndicator { li: 0x40, .. })));
        let mut neg = XRDP_NEGOTIATE;
        neg[11] = 7;
        assert_eq!(parse_confirm(&neg), Err(RdpError::NegType(7)));
    }

    #[test]
    fn mutated_captures_never_panic() {
        let seeds = [
            XRDP_NEGOTIATE.to_vec(),
            XRDP_RDP_LAYER.to_vec(),
            XRDP_SSL_REQUIRED.to_vec(),
            XRDP_LEGACY.to_vec(),
        ];
        crate::wire::mutate_each(&seeds, 20_000, |b| {
            if let Some(n) = framed_len(b) {
                let _ = parse_confirm(&b[..n.min(b.len())]).map(|c| c.render_lines());
            }
        });
    }
}
