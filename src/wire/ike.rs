//! IKE query of UDP 500: an IKEv2 IKE_SA_INIT request (RFC 7296 §1.2), which
//! any IKEv2 responder answers, with its own SA/KE/Nonce or with a Notify
//! refusing us (NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD, COOKIE).
//!
//! ```text
//! header (RFC 7296 §3.1), every field big-endian, 28 bytes:
//! | IKE SA Initiator's SPI (8) | IKE SA Responder's SPI (8) |
//! | Next Payload | MjVer|MnVer | Exchange Type | Flags | Message ID (4) | Length (4) |
//! generic payload header (§3.2): | Next Payload | C|RESERVED | Payload Length (2) | body...
//! SA (§3.3): proposals | Last(0/2) | 0 | Length (2) | Num | Protocol ID | SPI Size | #Transforms | SPI |
//!   transforms     | Last(0/3) | 0 | Length (2) | Type | 0 | Transform ID (2) | attributes (TV/TLV) |
//! KE (§3.4): | DH Group (2) | 0 (2) | public value |      Nonce (§3.9): | nonce |
//! Notify (§3.10): | Protocol ID | SPI Size | Notify Type (2) | SPI | data |
//! ```
//! IKEv1 (RFC 2408) shares the header and the generic payload header, so an
//! IKEv1-only responder's Informational reply (INVALID-MAJOR-VERSION, say) is
//! read too, with IKEv1's payload and notify numbers.
//!
//! A reply is ours only when it carries our random initiator SPI; the query
//! compares it ([`IkeAnswer::initiator`]) and ignores others ([`IkeError::OtherSpi`]). We never complete the exchange: after
//! an IKE_SA_INIT response the responder holds only a half-open IKE SA, which it
//! expires on its own (RFC 7296 §2.6), and there is no authenticated channel to
//! delete it over anyway, so nothing else is sent. Parsing is bounded and never
//! panics: a hostile reply yields an [`IkeError`].

use serde::Serialize;

use super::bytes::{put_u16_be, put_u32_be, u16_be_at, u32_be_at};

/// Header length (RFC 7296 §3.1).
pub const HEADER_LEN: usize = 28;
/// Offsets into the header.
const OFF_INITIATOR_SPI: usize = 0;
const OFF_RESPONDER_SPI: usize = 8;
const OFF_NEXT_PAYLOAD: usize = 16;
const OFF_VERSION: usize = 17;
const OFF_EXCHANGE: usize = 18;
const OFF_FLAGS: usize = 19;
const OFF_LENGTH: usize = 24;
/// IKEv2, major 2 minor 0.
const VERSION_2_0: u8 = 0x20;
/// Header flag: the sender is the original initiator.
const FLAG_INITIATOR: u8 = 0x08;
/// Header flag: this message is a response.
const FLAG_RESPONSE: u8 = 0x20;
/// Generic payload header length.
const PAYLOAD_HEADER_LEN: usize = 4;
/// Payloads decoded from one message; a datagram cannot hold many more anyway.
pub const MAX_PAYLOADS: usize = 64;
/// Transforms decoded from the chosen proposal.
const MAX_TRANSFORMS: usize = 32;
/// Vendor ID bytes kept for display (real ones are 16 to 20 bytes).
const MAX_VENDOR_ID: usize = 64;
/// Nonce we send: 32 bytes (RFC 7296 §2.10 wants at least half the PRF key size).
pub const NONCE_LEN: usize = 32;
/// The Diffie-Hellman group of our KE payload: MODP 2048 (RFC 3526), which
/// every current responder supports and whose public value (256 bytes) may be
/// any number between 1 and p - 1, so random bytes pass the responder's checks
/// (an ECP value would have to be a point on the curve). We never derive keys.
pub const KE_GROUP: u16 = dh::MODP_2048;
const KE_LEN: usize = 256;
/// Transform attribute "Key Length" in TV format (AF bit set, type 14).
const ATTR_KEY_LENGTH_TV: u16 = 0x800e;
/// Attribute format bit: TV (2-byte value) rather than TLV.
const ATTR_FORMAT_TV: u16 = 0x8000;
/// Protocol ID of an IKE SA proposal.
const PROTOCOL_IKE: u8 = 1;

/// IKEv2 payload types (RFC 7296 §3.2).
pub mod payload {
    pub const NONE: u8 = 0;
    pub const SA: u8 = 33;
    pub const KE: u8 = 34;
    pub const NONCE: u8 = 40;
    pub const NOTIFY: u8 = 41;
    pub const VENDOR_ID: u8 = 43;
    pub const ENCRYPTED: u8 = 46;
}

/// IKEv1 payload types (RFC 2408 §3.1) we decode.
mod payload_v1 {
    pub const NOTIFICATION: u8 = 11;
    pub const VENDOR_ID: u8 = 13;
}

/// Exchange types (RFC 7296 §3.1, RFC 2408 §3.1).
pub mod exchange {
    pub const IKE_SA_INIT: u8 = 34;
}

/// Transform types (RFC 7296 §3.3.2).
pub mod transform {
    pub const ENCR: u8 = 1;
    pub const PRF: u8 = 2;
    pub const INTEG: u8 = 3;
    pub const DH: u8 = 4;
}

/// Diffie-Hellman group numbers (IANA "Transform Type 4").
pub mod dh {
    pub const MODP_2048: u16 = 14;
    pub const ECP_256: u16 = 19;
}

/// Notify message types (RFC 7296 §3.10.1).
pub mod notify {
    pub const NO_PROPOSAL_CHOSEN: u16 = 14;
    pub const INVALID_KE_PAYLOAD: u16 = 17;
    pub const COOKIE: u16 = 16390;
}

/// What we offer, in one proposal: common algorithms any current gateway
/// (strongSwan, Windows, Cisco) accepts in some combination.
#[rustfmt::skip]
const OFFER: &[(u8, u16, Option<u16>)] = &[
    (transform::ENCR, 12, Some(256)), // AES_CBC
    (transform::ENCR, 12, Some(128)),
    (transform::PRF, 5, None),        // PRF_HMAC_SHA2_256
    (transform::PRF, 2, None),        // PRF_HMAC_SHA1
    (transform::INTEG, 12, None),     // AUTH_HMAC_SHA2_256_128
    (transform::INTEG, 2, None),      // AUTH_HMAC_SHA1_96
    (transform::DH, dh::MODP_2048, None), // first: the group of our KE payload
    (transform::DH, dh::ECP_256, None),
];

/// Why a datagram is not an IKE reply to us.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IkeError {
    #[error("IKE reply shorter than its 28-byte header")]
    Truncated,
    /// Not raised here: the query compares [`IkeAnswer::initiator`] with its SPI.
    #[error("IKE reply for initiator SPI {0}, not ours")]
    OtherSpi(String),
    #[error("IKE header length {declared} does not fit the {present}-byte datagram")]
    BadLength { declared: usize, present: usize },
    #[error("IKE payload {kind} at offset {offset} overruns the message")]
    PayloadOverrun { kind: u8, offset: usize },
    #[error("IKE reply has more than 64 payloads")]
    TooManyPayloads,
}

/// One transform of the proposal the responder chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transform {
    /// "ENCR", "PRF", "INTEG", "DH", "ESN" or the number.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: u16,
    /// The algorithm's name, when known ("AES_CBC", "HMAC_SHA2_256").
    pub name: String,
    pub key_length: Option<u16>,
}

/// The responder's chosen proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    pub number: u8,
    pub protocol_id: u8,
    pub transforms: Vec<Transform>,
}

/// A Notify payload: its type by number and name, and what its data says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notify {
    #[serde(rename = "type")]
    pub kind: u16,
    pub name: String,
    /// INVALID_KE_PAYLOAD: the group the responder wants.
    pub wanted_group: Option<u16>,
    /// Bytes of notification data (a COOKIE's length, say).
    pub data_len: usize,
}

/// A Vendor ID payload: hex bytes and, when well known, whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorId {
    pub hex: String,
    pub name: Option<String>,
}

/// What an IKE responder told us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IkeAnswer {
    /// "2.0" for IKEv2, "1.0" for an IKEv1 reply.
    pub version: String,
    pub exchange_type: u8,
    /// "IKE_SA_INIT", "INFORMATIONAL", "Informational (IKEv1)", ...
    pub exchange: String,
    /// The Response flag is set.
    pub response: bool,
    /// The initiator SPI, which names the request this answers (the query checks it).
    #[serde(skip)]
    pub initiator: [u8; 8],
    pub initiator_spi: String,
    pub responder_spi: String,
    /// Payload names in the order sent.
    pub payloads: Vec<String>,
    pub proposal: Option<Proposal>,
    /// The KE payload's group and public value length.
    pub ke_group: Option<u16>,
    pub ke_len: Option<usize>,
    pub nonce_len: Option<usize>,
    pub notifies: Vec<Notify>,
    pub vendor_ids: Vec<VendorId>,
}

impl IkeAnswer {
    /// The lines of portqry's block (PortQry's own ISAKMP output is undocumented).
    pub fn render_lines(&self) -> Vec<String> {
        let major = self.version.split('.').next().unwrap_or("?");
        let kind = if self.response { "response" } else { "message" };
        let mut lines = vec![
            format!("IKEv{major} {} {kind} (exchange type {})", self.exchange, self.exchange_type),
            format!("Initiator SPI: {}", self.initiator_spi),
            format!("Responder SPI: {}", self.responder_spi),
            format!(
                "Payloads: {}",
                if self.payloads.is_empty() { "none".into() } else { self.payloads.join(", ") }
            ),
        ];
        if let Some(p) = &self.proposal {
            let t: Vec<String> = p.transforms.iter().map(transform_label).collect();
            lines.push(format!("Chosen proposal {}: {}", p.number, t.join(", ")));
        }
        if let (Some(g), Some(n)) = (self.ke_group, self.ke_len) {
            lines.push(format!("Key exchange: group {g} ({}), {n} bytes", dh_name(g)));
        }
        if let Some(n) = self.nonce_len {
            lines.push(format!("Nonce: {n} bytes"));
        }
        for n in &self.notifies {
            let mut l = format!("Notify: {} ({})", n.name, n.kind);
            if let Some(g) = n.wanted_group {
                l.push_str(&format!(", responder wants group {g} ({})", dh_name(g)));
            } else if n.data_len > 0 {
                l.push_str(&format!(", {} bytes of data", n.data_len));
            }
            lines.push(l);
        }
        for v in &self.vendor_ids {
            match &v.name {
                Some(name) => lines.push(format!("Vendor ID: {} ({name})", v.hex)),
                None => lines.push(format!("Vendor ID: {}", v.hex)),
            }
        }
        lines
    }
}

fn transform_label(t: &Transform) -> String {
    match t.key_length {
        Some(k) => format!("{} {}-{k}", t.kind, t.name),
        None => format!("{} {}", t.kind, t.name),
    }
}

/// A fresh initiator SPI: random, never zero (RFC 7296 §3.1).
pub fn random_spi() -> [u8; 8] {
    let b = uuid::Uuid::new_v4().into_bytes();
    let mut spi = [0u8; 8];
    spi.copy_from_slice(&b[..8]);
    spi[0] |= 0x80;
    spi
}

fn random_bytes(n: usize) -> Vec<u8> {
    (0..n.div_ceil(16)).flat_map(|_| uuid::Uuid::new_v4().into_bytes()).take(n).collect()
}

/// Append a generic payload: header with `next` and length, then `body`.
fn push_payload(msg: &mut Vec<u8>, next: u8, body: &[u8]) {
    msg.push(next);
    msg.push(0); // not critical
    put_u16_be(msg, (PAYLOAD_HEADER_LEN + body.len()) as u16);
    msg.extend_from_slice(body);
}

/// The SA payload's body: one IKE proposal holding [`OFFER`].
fn sa_body() -> Vec<u8> {
    let mut transforms = Vec::new();
    for (i, &(kind, id, key_len)) in OFFER.iter().enumerate() {
        let last = if i + 1 == OFFER.len() { 0 } else { 3 };
        let attr_len = if key_len.is_some() { 4 } else { 0 };
        transforms.extend_from_slice(&[last, 0]);
        put_u16_be(&mut transforms, 8u16 + attr_len);
        transforms.extend_from_slice(&[kind, 0]);
        put_u16_be(&mut transforms, id);
        if let Some(k) = key_len {
            put_u16_be(&mut transforms, ATTR_KEY_LENGTH_TV);
            put_u16_be(&mut transforms, k);
        }
    }
    // Last proposal (0), reserved, length, number 1, IKE, no SPI, transform count.
    let mut body = vec![0, 0];
    put_u16_be(&mut body, (8 + transforms.len()) as u16);
    body.extend_from_slice(&[1, PROTOCOL_IKE, 0, OFFER.len() as u8]);
    body.extend_from_slice(&transforms);
    body
}

/// IKE_SA_INIT request with our SPI, the given KE public value and nonce.
pub fn emit_sa_init(spi: [u8; 8], ke_public: &[u8], nonce: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEADER_LEN + 256);
    msg.extend_from_slice(&spi);
    msg.extend_from_slice(&[0; 8]); // responder SPI: unknown yet
    msg.extend_from_slice(&[payload::SA, VERSION_2_0, exchange::IKE_SA_INIT, FLAG_INITIATOR]);
    put_u32_be(&mut msg, 0); // message ID 0
    put_u32_be(&mut msg, 0); // length, set below
    push_payload(&mut msg, payload::KE, &sa_body());
    let mut ke = Vec::with_capacity(4 + ke_public.len());
    put_u16_be(&mut ke, KE_GROUP);
    ke.extend_from_slice(&[0, 0]);
    ke.extend_from_slice(ke_public);
    push_payload(&mut msg, payload::NONCE, &ke);
    push_payload(&mut msg, payload::NONE, nonce);
    let len = (msg.len() as u32).to_be_bytes();
    msg[OFF_LENGTH..HEADER_LEN].copy_from_slice(&len);
    msg
}

/// IKE_SA_INIT request with random KE public value and nonce.
pub fn emit_sa_init_random(spi: [u8; 8]) -> Vec<u8> {
    let mut ke = random_bytes(KE_LEN);
    // Top bit clear: below the MODP 2048 prime (which starts 0xffff...), as
    // responders check (RFC 7296 §5), and almost never 0 or 1.
    ke[0] &= 0x7f;
    ke[1] |= 0x01;
    emit_sa_init(spi, &ke, &random_bytes(NONCE_LEN))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse a reply; which request it answers is the caller's question
/// ([`IkeAnswer::initiator`]).
pub fn parse_reply(bytes: &[u8]) -> Result<IkeAnswer, IkeError> {
    let header = bytes.get(..HEADER_LEN).ok_or(IkeError::Truncated)?;
    let mut initiator = [0u8; 8];
    initiator.copy_from_slice(&header[OFF_INITIATOR_SPI..OFF_RESPONDER_SPI]);
    let declared = u32_be_at(header, OFF_LENGTH).ok_or(IkeError::Truncated)? as usize;
    if declared < HEADER_LEN || declared > bytes.len() {
        return Err(IkeError::BadLength { declared, present: bytes.len() });
    }
    let msg = &bytes[..declared];
    let version = header[OFF_VERSION];
    let v1 = version >> 4 == 1;
    let exchange_type = header[OFF_EXCHANGE];
    let mut answer = IkeAnswer {
        version: format!("{}.{}", version >> 4, version & 0x0f),
        exchange_type,
        exchange: exchange_name(exchange_type, v1),
        response: !v1 && header[OFF_FLAGS] & FLAG_RESPONSE != 0,
        initiator,
        initiator_spi: hex(&initiator),
        responder_spi: hex(&header[OFF_RESPONDER_SPI..OFF_NEXT_PAYLOAD]),
        payloads: Vec::new(),
        proposal: None,
        ke_group: None,
        ke_len: None,
        nonce_len: None,
        notifies: Vec::new(),
        vendor_ids: Vec::new(),
    };
    let mut next = header[OFF_NEXT_PAYLOAD];
    let mut off = HEADER_LEN;
    // IKEv2's Encrypted payload (46) and IKEv1's encrypted messages end the walk:
    // what follows is ciphertext, not payloads.
    let encrypted = v1 && header[OFF_FLAGS] & 0x01 != 0;
    while next != payload::NONE && !encrypted {
        if answer.payloads.len() >= MAX_PAYLOADS {
            return Err(IkeError::TooManyPayloads);
        }
        let kind = next;
        let overrun = IkeError::PayloadOverrun { kind, offset: off };
        let len = usize::from(u16_be_at(msg, off + 2).ok_or(overrun.clone())?);
        if len < PAYLOAD_HEADER_LEN || off + len > msg.len() {
            return Err(overrun);
        }
        next = msg[off];
        let body = &msg[off + PAYLOAD_HEADER_LEN..off + len];
        off += len;
        answer.payloads.push(payload_name(kind, v1));
        match (v1, kind) {
            (false, payload::SA) if answer.proposal.is_none() => answer.proposal = parse_sa(body),
            (false, payload::KE) => {
                answer.ke_group = u16_be_at(body, 0);
                answer.ke_len = body.len().checked_sub(4);
            }
            (false, payload::NONCE) => answer.nonce_len = Some(body.len()),
            (false, payload::NOTIFY) => answer.notifies.extend(parse_notify(body, 0, false)),
            // IKEv1 notification: a 4-byte DOI first.
            (true, payload_v1::NOTIFICATION) => answer.notifies.extend(parse_notify(body, 4, true)),
            (false, payload::VENDOR_ID) | (true, payload_v1::VENDOR_ID) => {
                let shown = &body[..body.len().min(MAX_VENDOR_ID)];
                answer.vendor_ids.push(VendorId { hex: hex(shown), name: vendor_name(body) });
            }
            (false, payload::ENCRYPTED) => break,
            _ => {}
        }
    }
    Ok(answer)
}

/// The first proposal of an SA payload (a response carries exactly one).
fn parse_sa(body: &[u8]) -> Option<Proposal> {
    let len = usize::from(u16_be_at(body, 2)?);
    let prop = body.get(..len)?;
    let (number, protocol_id, spi_size, count) =
        (*prop.get(4)?, *prop.get(5)?, usize::from(*prop.get(6)?), *prop.get(7)?);
    let mut off = 8 + spi_size;
    let mut transforms = Vec::new();
    for _ in 0..usize::from(count).min(MAX_TRANSFORMS) {
        let tlen = usize::from(u16_be_at(prop, off + 2)?);
        let t = prop.get(off..off + tlen).filter(|_| tlen >= 8)?;
        let (kind, id) = (t[4], u16_be_at(t, 6)?);
        let mut key_length = None;
        let mut a = 8;
        while a + 4 <= t.len() {
            let (ty, val) = (u16_be_at(t, a)?, u16_be_at(t, a + 2)?);
            if ty == ATTR_KEY_LENGTH_TV {
                key_length = Some(val);
            }
            // TV attributes are 4 bytes; TLV ones carry their length in `val`.
            a += if ty & ATTR_FORMAT_TV != 0 { 4 } else { 4 + usize::from(val) };
        }
        transforms.push(Transform {
            kind: transform_type_name(kind),
            id,
            name: transform_name(kind, id),
            key_length,
        });
        off += tlen;
    }
    Some(Proposal { number, protocol_id, transforms })
}

/// A Notify body after `skip` bytes (IKEv1's DOI).
fn parse_notify(body: &[u8], skip: usize, v1: bool) -> Option<Notify> {
    let spi_size = usize::from(*body.get(skip + 1)?);
    let kind = u16_be_at(body, skip + 2)?;
    let data = body.get(skip + 4 + spi_size..)?;
    let wanted_group = if !v1 && kind == notify::INVALID_KE_PAYLOAD { u16_be_at(data, 0) } else { None };
    Some(Notify { kind, name: notify_name(kind, v1), wanted_group, data_len: data.len() })
}

fn exchange_name(t: u8, v1: bool) -> String {
    let name = match (v1, t) {
        (false, 34) => "IKE_SA_INIT",
        (false, 35) => "IKE_AUTH",
        (false, 36) => "CREATE_CHILD_SA",
        (false, 37) => "INFORMATIONAL",
        (true, 2) => "Identity Protection (Main Mode)",
        (true, 4) => "Aggressive",
        (true, 5) => "Informational",
        (true, 32) => "Quick Mode",
        _ => return format!("exchange {t}"),
    };
    name.into()
}

fn payload_name(t: u8, v1: bool) -> String {
    let name = match (v1, t) {
        (false, 33) | (true, 1) => "SA",
        (false, 34) | (true, 4) => "KE",
        (false, 35) => "IDi",
        (false, 36) => "IDr",
        (false, 37) | (true, 6) => "CERT",
        (false, 38) | (true, 7) => "CERTREQ",
        (false, 39) => "AUTH",
        (false, 40) | (true, 10) => "Nonce",
        (false, 41) | (true, 11) => "Notify",
        (false, 42) | (true, 12) => "Delete",
        (false, 43) | (true, 13) => "Vendor ID",
        (false, 46) => "Encrypted",
        (false, 53) => "Encrypted Fragment",
        (true, 8) => "HASH",
        (true, 20) => "NAT-D",
        _ => return format!("payload {t}"),
    };
    name.into()
}

fn transform_type_name(t: u8) -> String {
    match t {
        transform::ENCR => "ENCR".into(),
        transform::PRF => "PRF".into(),
        transform::INTEG => "INTEG".into(),
        transform::DH => "DH".into(),
        5 => "ESN".into(),
        _ => format!("type {t}"),
    }
}

fn transform_name(kind: u8, id: u16) -> String {
    let name = match (kind, id) {
        (transform::ENCR, 3) => "3DES",
        (transform::ENCR, 12) => "AES_CBC",
        (transform::ENCR, 13) => "AES_CTR",
        (transform::ENCR, 18) => "AES_GCM_8",
        (transform::ENCR, 19) => "AES_GCM_12",
        (transform::ENCR, 20) => "AES_GCM_16",
        (transform::ENCR, 28) => "CHACHA20_POLY1305",
        (transform::PRF, 1) => "HMAC_MD5",
        (transform::PRF, 2) => "HMAC_SHA1",
        (transform::PRF, 4) => "AES128_XCBC",
        (transform::PRF, 5) => "HMAC_SHA2_256",
        (transform::PRF, 6) => "HMAC_SHA2_384",
        (transform::PRF, 7) => "HMAC_SHA2_512",
        (transform::PRF, 8) => "AES128_CMAC",
        (transform::INTEG, 0) => "NONE",
        (transform::INTEG, 1) => "HMAC_MD5_96",
        (transform::INTEG, 2) => "HMAC_SHA1_96",
        (transform::INTEG, 5) => "AES_XCBC_96",
        (transform::INTEG, 12) => "HMAC_SHA2_256_128",
        (transform::INTEG, 13) => "HMAC_SHA2_384_192",
        (transform::INTEG, 14) => "HMAC_SHA2_512_256",
        (transform::DH, g) => return dh_name(g).into(),
        _ => return id.to_string(),
    };
    name.into()
}

/// A Diffie-Hellman group's name (IANA "Transform Type 4").
pub fn dh_name(g: u16) -> &'static str {
    match g {
        0 => "NONE",
        1 => "MODP_768",
        2 => "MODP_1024",
        5 => "MODP_1536",
        14 => "MODP_2048",
        15 => "MODP_3072",
        16 => "MODP_4096",
        17 => "MODP_6144",
        18 => "MODP_8192",
        19 => "ECP_256",
        20 => "ECP_384",
        21 => "ECP_521",
        31 => "CURVE25519",
        32 => "CURVE448",
        _ => "unknown group",
    }
}

fn notify_name(t: u16, v1: bool) -> String {
    let name = match (v1, t) {
        (false, 1) => "UNSUPPORTED_CRITICAL_PAYLOAD",
        (false, 4) => "INVALID_IKE_SPI",
        (false, 5) => "INVALID_MAJOR_VERSION",
        (false, 7) => "INVALID_SYNTAX",
        (false, 9) => "INVALID_MESSAGE_ID",
        (false, 11) => "INVALID_SPI",
        (false, 14) => "NO_PROPOSAL_CHOSEN",
        (false, 17) => "INVALID_KE_PAYLOAD",
        (false, 24) => "AUTHENTICATION_FAILED",
        (false, 43) => "TEMPORARY_FAILURE",
        (false, 16384) => "INITIAL_CONTACT",
        (false, 16388) => "NAT_DETECTION_SOURCE_IP",
        (false, 16389) => "NAT_DETECTION_DESTINATION_IP",
        (false, 16390) => "COOKIE",
        (false, 16404) => "MULTIPLE_AUTH_SUPPORTED",
        (false, 16406) => "REDIRECT_SUPPORTED",
        (false, 16418) => "CHILDLESS_IKEV2_SUPPORTED",
        (false, 16430) => "IKEV2_FRAGMENTATION_SUPPORTED",
        (false, 16431) => "SIGNATURE_HASH_ALGORITHMS",
        (true, 5) => "INVALID-MAJOR-VERSION",
        (true, 7) => "INVALID-EXCHANGE-TYPE",
        (true, 14) => "NO-PROPOSAL-CHOSEN",
        (true, 16) => "PAYLOAD-MALFORMED",
        (true, 24) => "AUTHENTICATION-FAILED",
        _ => return format!("type {t}"),
    };
    name.into()
}

/// Well-known vendor IDs: (prefix, name). strongSwan's is MD5("strongSwan");
/// Windows sends MS NT5 ISAKMPOAKLEY followed by a version number.
#[rustfmt::skip]
const VENDORS: &[(&[u8], &str)] = &[
    (&[0x88, 0x2f, 0xe5, 0x6d, 0x6f, 0xd2, 0x0d, 0xbc, 0x22, 0x51, 0x61, 0x3b, 0x2e, 0xbe, 0x5b, 0xeb], "strongSwan"),
    (&[0x1e, 0x2b, 0x51, 0x69, 0x05, 0x99, 0x1c, 0x7d, 0x7c, 0x96, 0xfc, 0xbf, 0xb5, 0x87, 0xe4, 0x61], "Microsoft Windows"),
    (&[0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f], "RFC 3947 NAT-T"),
    (&[0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00], "Dead Peer Detection"),
    (&[0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3], "IKE fragmentation"),
];

fn vendor_name(id: &[u8]) -> Option<String> {
    VENDORS.iter().find(|(prefix, _)| id.starts_with(prefix)).map(|(_, name)| (*name).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPI: [u8; 8] = 0x8102_0304_0506_0708_u64.to_be_bytes();

    /// A Notify-only IKE_SA_INIT response, byte by byte: header (our SPI,
    /// responder SPI 0, next Notify, 2.0, IKE_SA_INIT, Response, ID 0, length 36),
    /// then Notify NO_PROPOSAL_CHOSEN (protocol 0, no SPI, type 14).
    const NO_PROPOSAL: [u8; 36] = [
        0x81, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x29, 0x20, 0x22, 0x20, 0, 0,
        0, 0, 0, 0, 0, 0x24, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x0e,
    ];

    fn response(next: u8, payloads: &[u8]) -> Vec<u8> {
        let mut m = SPI.to_vec();
        m.extend_from_slice(&[0x11; 8]);
        m.extend_from_slice(&[next, 0x20, 34, FLAG_RESPONSE, 0, 0, 0, 0]);
        m.extend_from_slice(&((HEADER_LEN + payloads.len()) as u32).to_be_bytes());
        m.extend_from_slice(payloads);
        m
    }

    #[test]
    fn request_layout() {
        let req = emit_sa_init(SPI, &[0xaa; KE_LEN], &[0xbb; NONCE_LEN]);
        assert_eq!(&req[..8], SPI);
        assert_eq!(&req[8..16], [0; 8]);
        // Next SA, version 2.0, IKE_SA_INIT, Initiator, message ID 0.
        assert_eq!(&req[16..24], [33, 0x20, 34, 0x08, 0, 0, 0, 0]);
        assert_eq!(u32::from_be_bytes(req[24..28].try_into().unwrap()) as usize, req.len());
        // SA: next KE; proposal 1, IKE, no SPI, 8 transforms; the first AES_CBC-256.
        let sa_len = usize::from(u16::from_be_bytes([req[30], req[31]]));
        assert_eq!(req[28], 34);
        assert_eq!(&req[32..40], [0, 0, ((sa_len - 4) >> 8) as u8, (sa_len - 4) as u8, 1, 1, 0, 8]);
        assert_eq!(&req[40..52], [3, 0, 0, 12, 1, 0, 0, 12, 0x80, 0x0e, 0x01, 0x00]);
        // KE: next Nonce, length 4 + 4 + 256, group 14.
        let ke = 28 + sa_len;
        assert_eq!(&req[ke..ke + 8], [40, 0, 0x01, 0x08, 0, 14, 0, 0]);
        // Nonce: last payload, 4 + 32 bytes.
        let nonce = ke + 264;
        assert_eq!(&req[nonce..nonce + 4], [0, 0, 0, 36]);
        assert_eq!(req.len(), nonce + 36);
        // Our own request parses as a (non-response) IKE_SA_INIT with the offer.
        let a = parse_reply(&req).unwrap();
        assert!(!a.response);
        assert_eq!(a.payloads, ["SA", "KE", "Nonce"]);
        assert_eq!(a.proposal.unwrap().transforms.len(), OFFER.len());
        assert_eq!((a.ke_group, a.ke_len, a.nonce_len), (Some(14), Some(256), Some(32)));
        let random = emit_sa_init_random(random_spi());
        assert_eq!(random.len(), req.len());
        assert_ne!(random[0] & 0x80, 0);
        assert_eq!(random[ke + 8] & 0x80, 0);
    }

    #[test]
    fn no_proposal_chosen_from_literal_bytes() {
        let a = parse_reply(&NO_PROPOSAL).unwrap();
        assert_eq!(a.version, "2.0");
        assert_eq!(a.exchange, "IKE_SA_INIT");
        assert!(a.response);
        assert_eq!(a.responder_spi, "0000000000000000");
        assert_eq!(a.notifies[0].name, "NO_PROPOSAL_CHOSEN");
        assert_eq!(a.render_lines()[4], "Notify: NO_PROPOSAL_CHOSEN (14)");
        assert_eq!(a.initiator, SPI);
        assert_eq!(a.initiator_spi, "8102030405060708");
    }

    #[test]
    fn full_response() {
        // SA: one proposal (num 1, IKE), AES_CBC-256, HMAC_SHA2_256, SHA2_256_128, ECP_256.
        let mut p = vec![
            34, 0, 0, 48, // SA header, next KE
            0, 0, 0, 44, 1, 1, 0, 4, // proposal
            3, 0, 0, 12, 1, 0, 0, 12, 0x80, 0x0e, 0x01, 0x00, // ENCR AES_CBC 256
            3, 0, 0, 8, 2, 0, 0, 5, // PRF
            3, 0, 0, 8, 3, 0, 0, 12, // INTEG
            0, 0, 0, 8, 4, 0, 0, 19, // DH
        ];
        p.extend_from_slice(&[40, 0, 0, 72, 0, 19, 0, 0]); // KE, next Nonce
        p.extend_from_slice(&[0x55; 64]);
        p.extend_from_slice(&[41, 0, 0, 36]); // Nonce, next Notify
        p.extend_from_slice(&[0x66; 32]);
        p.extend_from_slice(&[43, 0, 0, 12, 0, 0, 0x40, 0x2f, 0, 1, 0, 2]); // SIGNATURE_HASH_ALGORITHMS
        p.extend_from_slice(&[0, 0, 0, 20]); // Vendor ID, last
        p.extend_from_slice(VENDORS[0].0);
        let a = parse_reply(&response(33, &p)).unwrap();
        assert_eq!(a.payloads, ["SA", "KE", "Nonce", "Notify", "Vendor ID"]);
        let lines = a.render_lines();
        assert_eq!(lines[0], "IKEv2 IKE_SA_INIT response (exchange type 34)");
        assert_eq!(lines[2], "Responder SPI: 1111111111111111");
        assert_eq!(
            lines[4],
            "Chosen proposal 1: ENCR AES_CBC-256, PRF HMAC_SHA2_256, INTEG HMAC_SHA2_256_128, DH ECP_256"
        );
        assert_eq!(lines[5], "Key exchange: group 19 (ECP_256), 64 bytes");
        assert_eq!(lines[6], "Nonce: 32 bytes");
        assert_eq!(lines[7], "Notify: SIGNATURE_HASH_ALGORITHMS (16431), 4 bytes of data");
        assert_eq!(lines[8], "Vendor ID: 882fe56d6fd20dbc2251613b2ebe5beb (strongSwan)");
    }

    #[test]
    fn invalid_ke_and_cookie() {
        let p = [41, 0, 0, 10, 0, 0, 0, 17, 0, 14, 0, 0, 0, 16, 0, 0, 0x40, 0x06, 1, 2, 3, 4, 5, 6, 7, 8];
        let a = parse_reply(&response(41, &p)).unwrap();
        assert_eq!(a.notifies[0].wanted_group, Some(14));
        assert_eq!(a.notifies[1].name, "COOKIE");
        let lines = a.render_lines();
        assert_eq!(lines[4], "Notify: INVALID_KE_PAYLOAD (17), responder wants group 14 (MODP_2048)");
        assert_eq!(lines[5], "Notify: COOKIE (16390), 8 bytes of data");
    }

    #[test]
    fn ikev1_informational() {
        // IKEv1 header (1.0, Informational, no flags), Notification: DOI 1, protocol 1,
        // no SPI, INVALID-MAJOR-VERSION.
        let mut m = SPI.to_vec();
        m.extend_from_slice(&[0x22; 8]);
        m.extend_from_slice(&[11, 0x10, 5, 0, 0, 0, 0, 0, 0, 0, 0, 40]);
        m.extend_from_slice(&[0, 0, 0, 12, 0, 0, 0, 1, 1, 0, 0, 5]);
        let a = parse_reply(&m).unwrap();
        assert_eq!(a.version, "1.0");
        assert_eq!(a.exchange, "Informational");
        assert_eq!(a.notifies[0].name, "INVALID-MAJOR-VERSION");
        assert_eq!(a.render_lines()[0], "IKEv1 Informational message (exchange type 5)");
    }

    #[test]
    fn malformed_replies_are_errors() {
        assert_eq!(parse_reply(&[]), Err(IkeError::Truncated));
        assert_eq!(parse_reply(&NO_PROPOSAL[..27]), Err(IkeError::Truncated));
        let mut long = NO_PROPOSAL;
        long[27] = 0x40;
        assert_eq!(parse_reply(&long), Err(IkeError::BadLength { declared: 64, present: 36 }));
        let mut overrun = NO_PROPOSAL;
        overrun[31] = 0x09;
        assert_eq!(parse_reply(&overrun), Err(IkeError::PayloadOverrun { kind: 41, offset: 28 }));
        // A payload chain that loops on zero-length payloads is bounded.
        let mut chain = Vec::new();
        for _ in 0..100 {
            chain.extend_from_slice(&[43, 0, 0, 4]);
        }
        assert_eq!(parse_reply(&response(43, &chain)), Err(IkeError::TooManyPayloads));
        for n in 0..NO_PROPOSAL.len() {
            assert!(parse_reply(&NO_PROPOSAL[..n]).is_err(), "{n}");
        }
    }

    #[test]
    fn mutated_replies_never_panic() {
        let seeds = vec![NO_PROPOSAL.to_vec(), emit_sa_init(SPI, &[1; KE_LEN], &[2; NONCE_LEN])];
        crate::wire::mutate_each(&seeds, 20_000, |b| {
            let _ = parse_reply(b).map(|a| a.render_lines());
        });
    }
}
