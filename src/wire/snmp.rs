//! SNMP query of UDP 161: an SNMPv2c GetRequest for the `system` group, and an
//! SNMPv3 engine-discovery request for agents that drop our community name.
//!
//! ```text
//! SNMPv1/v2c message (RFC 1157 §4, RFC 1901 §3)     SNMPv3 message (RFC 3412 §6)
//! SEQUENCE {                                        SEQUENCE {
//!   version INTEGER (0 = v1, 1 = v2c)                 msgVersion INTEGER (3)
//!   community OCTET STRING                            msgGlobalData SEQUENCE { msgID, msgMaxSize,
//!   PDU                                                 msgFlags OCTET STRING, msgSecurityModel }
//! }                                                   msgSecurityParameters OCTET STRING (USM, below)
//!                                                     msgData ScopedPDU SEQUENCE {
//! PDU ::= [context n] IMPLICIT SEQUENCE {               contextEngineID, contextName, PDU }
//!   request-id, error-status, error-index INTEGER   }
//!   variable-bindings SEQUENCE OF SEQUENCE {        UsmSecurityParameters (RFC 3414 §2.4) ::= SEQUENCE {
//!     name OBJECT IDENTIFIER, value ANY }             engineID OCTET STRING, engineBoots INTEGER,
//! }                                                   engineTime INTEGER, userName, authParams,
//!                                                     privParams OCTET STRING }
//! ```
//!
//! A v1/v2c agent silently drops a request whose community it does not know, so
//! silence proves nothing. An SNMPv3 agent answers the discovery request of RFC 3414
//! §4 (reportable, noAuthNoPriv, empty user and engine ID) with a Report PDU that
//! carries its engine ID, boots and time, whatever community we tried: a reply
//! either way proves that an SNMP agent listens.
//!
//! Parsing is bounded (see `ber`): a hostile reply yields an [`SnmpError`], never a
//! panic, and at most [`MAX_VARBINDS`] variable bindings are kept.

use super::ber::{self, BerError, Children, Tlv, tag};
use serde::Serialize;

/// `version` of an SNMPv1 message.
const VERSION_1: i64 = 0;
/// `version` of an SNMPv2c message (RFC 1901).
const VERSION_2C: i64 = 1;
/// `msgVersion` of an SNMPv3 message (RFC 3412).
const VERSION_3: i64 = 3;

/// PDU tags (RFC 3416 §3): context-specific, constructed.
mod pdu {
    use super::ber::{CLASS_CONTEXT, CONSTRUCTED};

    pub const GET_REQUEST: u8 = CLASS_CONTEXT | CONSTRUCTED;
    pub const RESPONSE: u8 = CLASS_CONTEXT | CONSTRUCTED | 2;
    pub const REPORT: u8 = CLASS_CONTEXT | CONSTRUCTED | 8;
}

/// Application-wide value types (RFC 2578 §7.1, RFC 1155 §3.2.3).
mod app {
    use super::ber::CLASS_APPLICATION;

    pub const IP_ADDRESS: u8 = CLASS_APPLICATION;
    pub const COUNTER32: u8 = CLASS_APPLICATION | 1;
    pub const GAUGE32: u8 = CLASS_APPLICATION | 2;
    pub const TIMETICKS: u8 = CLASS_APPLICATION | 3;
    pub const OPAQUE: u8 = CLASS_APPLICATION | 4;
    pub const COUNTER64: u8 = CLASS_APPLICATION | 6;
}

/// Exception values in a v2c/v3 variable binding (RFC 3416 §3), primitive NULLs.
mod exception {
    use super::ber::CLASS_CONTEXT;

    pub const NO_SUCH_OBJECT: u8 = CLASS_CONTEXT;
    pub const NO_SUCH_INSTANCE: u8 = CLASS_CONTEXT | 1;
    pub const END_OF_MIB_VIEW: u8 = CLASS_CONTEXT | 2;
}

/// msgFlags bit: a Report PDU may be sent back (RFC 3412 §6.4).
const MSG_FLAG_REPORTABLE: u8 = 0x04;
/// msgFlags bit: the ScopedPDU is encrypted (we cannot read it).
const MSG_FLAG_PRIV: u8 = 0x02;
/// msgSecurityModel of the User-based Security Model (RFC 3411 §5).
const SECURITY_MODEL_USM: i64 = 3;
/// msgMaxSize we announce: the largest UDP payload over IPv4, as net-snmp does.
const MSG_MAX_SIZE: i64 = 65_507;
/// Variable bindings kept from one reply; more are counted in `varbind_count` only.
pub const MAX_VARBINDS: usize = 64;

/// `sysDescr.0`, `sysObjectID.0`, `sysUpTime.0`, `sysName.0` (RFC 3418 `system` group):
/// what an administrator asks first, and readable in net-snmp's default view.
pub const SYSTEM_OIDS: [&[u32]; 4] = [
    &[1, 3, 6, 1, 2, 1, 1, 1, 0],
    &[1, 3, 6, 1, 2, 1, 1, 2, 0],
    &[1, 3, 6, 1, 2, 1, 1, 3, 0],
    &[1, 3, 6, 1, 2, 1, 1, 5, 0],
];

/// Names printed for the OIDs we ask for and the USM counters a Report carries.
const NAMES: &[(&[u32], &str)] = &[
    (&[1, 3, 6, 1, 2, 1, 1, 1, 0], "sysDescr.0"),
    (&[1, 3, 6, 1, 2, 1, 1, 2, 0], "sysObjectID.0"),
    (&[1, 3, 6, 1, 2, 1, 1, 3, 0], "sysUpTime.0"),
    (&[1, 3, 6, 1, 2, 1, 1, 5, 0], "sysName.0"),
    (&[1, 3, 6, 1, 6, 3, 15, 1, 1, 1, 0], "usmStatsUnsupportedSecLevels.0"),
    (&[1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0], "usmStatsNotInTimeWindows.0"),
    (&[1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0], "usmStatsUnknownUserNames.0"),
    (&[1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0], "usmStatsUnknownEngineIDs.0"),
    (&[1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0], "usmStatsWrongDigests.0"),
    (&[1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0], "usmStatsDecryptionErrors.0"),
];

/// Why an SNMP reply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnmpError {
    /// The BER framing or a field encoding is malformed.
    #[error("malformed SNMP message: {0}")]
    Ber(#[from] BerError),
    /// A message version other than 1, 2c or 3.
    #[error("unknown SNMP version number {0}")]
    Version(i64),
    /// A PDU that does not answer a request (a request, a trap, ...).
    #[error("SNMP PDU tag {0:#04x} is not a Response or Report")]
    UnexpectedPdu(u8),
    /// msgFlags is not exactly one byte.
    #[error("SNMPv3 msgFlags has {0} bytes (expected 1)")]
    BadFlags(usize),
    /// A reply to some other request. Not raised here: the query compares
    /// [`SnmpAnswer::echoed_id`] with its request's.
    #[error("SNMP {field} {found} does not match ours ({expected})")]
    IdMismatch {
        /// `request-id` (v1/v2c) or `msgID` (v3).
        field: &'static str,
        expected: i32,
        found: i64,
    },
}

/// One variable binding of a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VarBind {
    /// Dotted OID, e.g. `1.3.6.1.2.1.1.5.0`.
    pub oid: String,
    /// MIB name for the OIDs portqry knows (`sysName.0`), else `None`.
    pub name: Option<String>,
    /// SMI type: `OCTET STRING`, `INTEGER`, `OBJECT IDENTIFIER`, `TimeTicks`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The value as text (printable strings as they are, other bytes as `0x` hex).
    pub value: String,
}

/// The authoritative engine an SNMPv3 agent names in its reply (RFC 3414 §2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Engine {
    /// msgAuthoritativeEngineID as lowercase hex.
    pub id: String,
    /// msgAuthoritativeEngineBoots: how many times the engine restarted.
    pub boots: i64,
    /// msgAuthoritativeEngineTime: seconds since the last boot.
    pub time: i64,
}

/// What an SNMP agent answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnmpAnswer {
    /// `v1`, `v2c` or `v3`: the version of the reply.
    pub version: &'static str,
    /// `response`, `report`, or `encrypted` (a v3 ScopedPDU we cannot read).
    pub pdu: &'static str,
    /// request-id of the PDU.
    pub request_id: Option<i64>,
    /// SNMPv3: msgID, which names the request a v3 message answers.
    #[serde(skip)]
    pub msg_id: Option<i64>,
    /// error-status (0 = noError).
    pub error_status: i64,
    /// RFC 3416 name of `error_status`.
    pub error_name: &'static str,
    /// error-index: which variable binding the error is about (1-based; 0 = none).
    pub error_index: i64,
    /// Variable bindings, at most [`MAX_VARBINDS`].
    pub varbinds: Vec<VarBind>,
    /// How many variable bindings the reply carried.
    pub varbind_count: usize,
    /// SNMPv3: the agent's engine.
    pub engine: Option<Engine>,
}

impl SnmpAnswer {
    /// The field naming the request this answers and its value: msgID for v3,
    /// request-id for v1/v2c.
    pub fn echoed_id(&self) -> (&'static str, i64) {
        match self.msg_id {
            Some(id) => ("msgID", id),
            None => ("request-id", self.request_id.unwrap_or_default()),
        }
    }

    /// `name: value` per variable binding, after the error when there is one.
    pub fn render_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.error_status != 0 {
            lines.push(format!(
                "SNMP error: {} ({}), variable {}",
                self.error_name, self.error_status, self.error_index
            ));
        }
        for v in &self.varbinds {
            lines.push(format!("{}: {}", v.name.as_deref().unwrap_or(&v.oid), v.value));
        }
        if self.varbind_count > self.varbinds.len() {
            lines.push(format!(
                "({} more variable bindings not shown)",
                self.varbind_count - self.varbinds.len()
            ));
        }
        lines
    }
}

/// RFC 3416 §3 name of an error-status.
pub fn error_name(status: i64) -> &'static str {
    match status {
        0 => "noError",
        1 => "tooBig",
        2 => "noSuchName",
        3 => "badValue",
        4 => "readOnly",
        5 => "genErr",
        6 => "noAccess",
        7 => "wrongType",
        8 => "wrongLength",
        9 => "wrongEncoding",
        10 => "wrongValue",
        11 => "noCreation",
        12 => "inconsistentValue",
        13 => "resourceUnavailable",
        14 => "commitFailed",
        15 => "undoFailed",
        16 => "authorizationError",
        17 => "notWritable",
        18 => "inconsistentName",
        _ => "unknown",
    }
}

/// Write a PDU: request-id, error-status 0, error-index 0, a NULL-valued binding per OID.
fn write_pdu(out: &mut Vec<u8>, pdu_tag: u8, request_id: i32, oids: &[&[u32]]) {
    ber::write_constructed(out, pdu_tag, |p| {
        ber::write_integer(p, tag::INTEGER, request_id.into());
        ber::write_integer(p, tag::INTEGER, 0);
        ber::write_integer(p, tag::INTEGER, 0);
        ber::write_constructed(p, tag::SEQUENCE, |list| {
            for oid in oids {
                ber::write_constructed(list, tag::SEQUENCE, |vb| {
                    ber::write_oid(vb, oid);
                    ber::write_tlv(vb, tag::NULL, &[]);
                });
            }
        });
    });
}

/// Encode an SNMPv2c GetRequest for `oids` with `community`.
pub fn emit_get_request(community: &[u8], request_id: i32, oids: &[&[u32]]) -> Vec<u8> {
    let mut out = Vec::new();
    ber::write_constructed(&mut out, tag::SEQUENCE, |msg| {
        ber::write_integer(msg, tag::INTEGER, VERSION_2C);
        ber::write_octet_string(msg, tag::OCTET_STRING, community);
        write_pdu(msg, pdu::GET_REQUEST, request_id, oids);
    });
    out
}

/// Encode the SNMPv3 engine-discovery request of RFC 3414 §4: reportable,
/// noAuthNoPriv, USM with empty engine ID and user, an empty GetRequest. `id` is
/// both msgID and request-id.
pub fn emit_discovery(id: i32) -> Vec<u8> {
    let mut usm = Vec::new();
    ber::write_constructed(&mut usm, tag::SEQUENCE, |p| {
        ber::write_octet_string(p, tag::OCTET_STRING, b""); // msgAuthoritativeEngineID
        ber::write_integer(p, tag::INTEGER, 0); // msgAuthoritativeEngineBoots
        ber::write_integer(p, tag::INTEGER, 0); // msgAuthoritativeEngineTime
        ber::write_octet_string(p, tag::OCTET_STRING, b""); // msgUserName
        ber::write_octet_string(p, tag::OCTET_STRING, b""); // msgAuthenticationParameters
        ber::write_octet_string(p, tag::OCTET_STRING, b""); // msgPrivacyParameters
    });
    let mut out = Vec::new();
    ber::write_constructed(&mut out, tag::SEQUENCE, |msg| {
        ber::write_integer(msg, tag::INTEGER, VERSION_3);
        ber::write_constructed(msg, tag::SEQUENCE, |g| {
            ber::write_integer(g, tag::INTEGER, id.into());
            ber::write_integer(g, tag::INTEGER, MSG_MAX_SIZE);
            ber::write_octet_string(g, tag::OCTET_STRING, &[MSG_FLAG_REPORTABLE]);
            ber::write_integer(g, tag::INTEGER, SECURITY_MODEL_USM);
        });
        ber::write_octet_string(msg, tag::OCTET_STRING, &usm);
        ber::write_constructed(msg, tag::SEQUENCE, |scoped| {
            ber::write_octet_string(scoped, tag::OCTET_STRING, b""); // contextEngineID
            ber::write_octet_string(scoped, tag::OCTET_STRING, b""); // contextName
            write_pdu(scoped, pdu::GET_REQUEST, id, &[]);
        });
    });
    out
}

/// Parse a reply to [`emit_get_request`] or [`emit_discovery`]; which request it
/// answers is the caller's question ([`SnmpAnswer::echoed_id`]: request-id for
/// v1/v2c, msgID for v3). Bytes after the message are ignored.
pub fn parse_reply(buf: &[u8]) -> Result<SnmpAnswer, SnmpError> {
    let (message, _) = ber::read_tlv(buf)?;
    let mut fields = message.expect(tag::SEQUENCE)?.children()?;
    let version = fields.expect_next(tag::INTEGER)?.integer_value()?;
    match version {
        VERSION_1 | VERSION_2C => {
            fields.expect_next(tag::OCTET_STRING)?; // community, echoed
            let pdu = fields.next_tlv()?.ok_or(BerError::Missing(pdu::RESPONSE))?;
            let mut answer = decode_pdu(pdu)?;
            answer.version = if version == VERSION_1 { "v1" } else { "v2c" };
            Ok(answer)
        }
        VERSION_3 => decode_v3(&mut fields),
        other => Err(SnmpError::Version(other)),
    }
}

/// The fields of an SNMPv3 message after msgVersion.
fn decode_v3(fields: &mut Children<'_>) -> Result<SnmpAnswer, SnmpError> {
    let mut global = fields.expect_next(tag::SEQUENCE)?.children()?;
    let msg_id = global.expect_next(tag::INTEGER)?.integer_value()?;
    global.expect_next(tag::INTEGER)?; // msgMaxSize
    let flags = match global.expect_next(tag::OCTET_STRING)?.value {
        [f] => *f,
        other => return Err(SnmpError::BadFlags(other.len())),
    };
    let model = global.expect_next(tag::INTEGER)?.integer_value()?;
    let params = fields.expect_next(tag::OCTET_STRING)?;
    // Other security models carry parameters we cannot read; the reply still counts.
    let engine = if model == SECURITY_MODEL_USM { Some(decode_usm(params.value)?) } else { None };
    let data = fields.next_tlv()?.ok_or(BerError::Missing(tag::SEQUENCE))?;
    let mut answer = if flags & MSG_FLAG_PRIV != 0 {
        data.expect(tag::OCTET_STRING)?;
        empty_answer("encrypted")
    } else {
        let mut scoped = data.expect(tag::SEQUENCE)?.children()?;
        scoped.expect_next(tag::OCTET_STRING)?; // contextEngineID
        scoped.expect_next(tag::OCTET_STRING)?; // contextName
        decode_pdu(scoped.next_tlv()?.ok_or(BerError::Missing(pdu::REPORT))?)?
    };
    answer.version = "v3";
    answer.msg_id = Some(msg_id);
    answer.engine = engine;
    Ok(answer)
}

/// UsmSecurityParameters, BER inside the msgSecurityParameters OCTET STRING.
fn decode_usm(bytes: &[u8]) -> Result<Engine, SnmpError> {
    let (mut p, _) = ber::read_sequence(bytes)?;
    let id = p.expect_next(tag::OCTET_STRING)?.value;
    let boots = p.expect_next(tag::INTEGER)?.integer_value()?;
    let time = p.expect_next(tag::INTEGER)?.integer_value()?;
    Ok(Engine { id: hex_bytes(id), boots, time })
}

fn empty_answer(pdu: &'static str) -> SnmpAnswer {
    SnmpAnswer {
        version: "",
        pdu,
        request_id: None,
        msg_id: None,
        error_status: 0,
        error_name: error_name(0),
        error_index: 0,
        varbinds: Vec::new(),
        varbind_count: 0,
        engine: None,
    }
}

/// A Response or Report PDU.
fn decode_pdu(pdu_tlv: Tlv<'_>) -> Result<SnmpAnswer, SnmpError> {
    let kind = match pdu_tlv.tag {
        pdu::RESPONSE => "response",
        pdu::REPORT => "report",
        other => return Err(SnmpError::UnexpectedPdu(other)),
    };
    let mut f = pdu_tlv.children()?;
    let mut answer = empty_answer(kind);
    answer.request_id = Some(f.expect_next(tag::INTEGER)?.integer_value()?);
    answer.error_status = f.expect_next(tag::INTEGER)?.integer_value()?;
    answer.error_name = error_name(answer.error_status);
    answer.error_index = f.expect_next(tag::INTEGER)?.integer_value()?;
    for vb in f.expect_next(tag::SEQUENCE)?.children()? {
        let mut parts = vb?.expect(tag::SEQUENCE)?.children()?;
        let arcs = parts.expect_next(tag::OBJECT_IDENTIFIER)?.oid_value()?;
        let value = parts.next_tlv()?.ok_or(BerError::Missing(tag::NULL))?;
        answer.varbind_count += 1;
        if answer.varbinds.len() < MAX_VARBINDS {
            let (kind, value) = render(value);
            let name = NAMES.iter().find(|(o, _)| *o == arcs.as_slice()).map(|(_, n)| (*n).to_owned());
            answer.varbinds.push(VarBind { oid: dotted(&arcs), name, kind, value });
        }
    }
    Ok(answer)
}

fn dotted(arcs: &[u32]) -> String {
    arcs.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// A value's SMI type name and text. Values that do not decode as their type says
/// are shown as hex rather than refused: the reply still proves an agent.
fn render(v: Tlv<'_>) -> (&'static str, String) {
    let or_hex = |r: Result<String, BerError>| r.unwrap_or_else(|_| format!("0x{}", hex_bytes(v.value)));
    match v.tag {
        tag::OCTET_STRING => ("OCTET STRING", super::ldap::render_value(v.value)),
        tag::INTEGER => ("INTEGER", or_hex(v.integer_value().map(|i| i.to_string()))),
        tag::OBJECT_IDENTIFIER => ("OBJECT IDENTIFIER", or_hex(v.oid_value().map(|a| dotted(&a)))),
        tag::NULL => ("NULL", String::new()),
        app::IP_ADDRESS => match v.value {
            [a, b, c, d] => ("IpAddress", format!("{a}.{b}.{c}.{d}")),
            _ => ("IpAddress", or_hex(Err(BerError::IntegerRange(v.value.len())))),
        },
        app::COUNTER32 => ("Counter32", or_hex(v.unsigned_value().map(|n| n.to_string()))),
        app::GAUGE32 => ("Gauge32", or_hex(v.unsigned_value().map(|n| n.to_string()))),
        app::COUNTER64 => ("Counter64", or_hex(v.unsigned_value().map(|n| n.to_string()))),
        app::TIMETICKS => ("TimeTicks", or_hex(v.unsigned_value().map(timeticks))),
        app::OPAQUE => ("Opaque", format!("0x{}", hex_bytes(v.value))),
        exception::NO_SUCH_OBJECT => ("noSuchObject", "noSuchObject".into()),
        exception::NO_SUCH_INSTANCE => ("noSuchInstance", "noSuchInstance".into()),
        exception::END_OF_MIB_VIEW => ("endOfMibView", "endOfMibView".into()),
        _ => ("unknown", format!("0x{}", hex_bytes(v.value))),
    }
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// TimeTicks (hundredths of a second) as net-snmp shows them: `4242 (0:00:42.42)`.
fn timeticks(t: u64) -> String {
    let days = t / 8_640_000;
    let (h, m, s, cs) = ((t / 360_000) % 24, (t / 6_000) % 60, (t / 100) % 60, t % 100);
    let day_part = match days {
        0 => String::new(),
        1 => "1 day, ".to_owned(),
        n => format!("{n} days, "),
    };
    format!("{t} ({day_part}{h}:{m:02}:{s:02}.{cs:02})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `emit_get_request(b"public", 0x1234, &SYSTEM_OIDS)`, as encoded by the
    /// independent Python encoder of fuzz/seeds/capture.py.
    const GET_REQUEST: [u8; 83] = [
        0x30, 0x51, 0x02, 0x01, 0x01, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0xa0, 0x44, 0x02, 0x02,
        0x12, 0x34, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x38, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01,
        0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01,
        0x02, 0x00, 0x05, 0x00, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x05,
        0x00, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x05, 0x00, 0x05, 0x00,
    ];

    /// `emit_discovery(0x1234)`, from the same Python encoder.
    const DISCOVERY: [u8; 60] = [
        0x30, 0x3a, 0x02, 0x01, 0x03, 0x30, 0x0f, 0x02, 0x02, 0x12, 0x34, 0x02, 0x03, 0x00, 0xff, 0xe3, 0x04,
        0x01, 0x04, 0x02, 0x01, 0x03, 0x04, 0x10, 0x30, 0x0e, 0x04, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
        0x04, 0x00, 0x04, 0x00, 0x04, 0x00, 0x30, 0x12, 0x04, 0x00, 0x04, 0x00, 0xa0, 0x0c, 0x02, 0x02, 0x12,
        0x34, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x00,
    ];

    /// net-snmp 5.9.3's Report to a discovery with msgID 0x5101 (captured).
    const V3_REPORT: [u8; 111] = [
        0x30, 0x6d, 0x02, 0x01, 0x03, 0x30, 0x0f, 0x02, 0x02, 0x51, 0x01, 0x02, 0x03, 0x00, 0xff, 0xe3, 0x04,
        0x01, 0x00, 0x02, 0x01, 0x03, 0x04, 0x21, 0x30, 0x1f, 0x04, 0x11, 0x80, 0x00, 0x1f, 0x88, 0x80, 0xa1,
        0x60, 0xee, 0x23, 0x18, 0x4f, 0x08, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x02, 0x01, 0x0f,
        0x04, 0x00, 0x04, 0x00, 0x04, 0x00, 0x30, 0x34, 0x04, 0x11, 0x80, 0x00, 0x1f, 0x88, 0x80, 0xa1, 0x60,
        0xee, 0x23, 0x18, 0x4f, 0x08, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0xa8, 0x1d, 0x02, 0x02, 0x51,
        0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x11, 0x30, 0x0f, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06,
        0x03, 0x0f, 0x01, 0x01, 0x04, 0x00, 0x41, 0x01, 0x03,
    ];

    /// net-snmp's v2c Response (request-id 0x5101) for sysServices.0 (noSuchInstance),
    /// 1.3.6.1.2.1.1.99.0 (noSuchObject) and snmpEngineID.0 (captured).
    const V2C_NOSUCH: [u8; 94] = [
        0x30, 0x5c, 0x02, 0x01, 0x01, 0x04, 0x0c, 0x70, 0x6f, 0x72, 0x74, 0x71, 0x72, 0x79, 0x2d, 0x74, 0x65,
        0x73, 0x74, 0xa2, 0x49, 0x02, 0x02, 0x51, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x3d, 0x30,
        0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x07, 0x00, 0x81, 0x00, 0x30, 0x0c, 0x06, 0x08,
        0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x63, 0x00, 0x80, 0x00, 0x30, 0x1f, 0x06, 0x0a, 0x2b, 0x06, 0x01,
        0x06, 0x03, 0x0a, 0x02, 0x01, 0x01, 0x00, 0x04, 0x11, 0x80, 0x00, 0x1f, 0x88, 0x80, 0xa1, 0x60, 0xee,
        0x23, 0x18, 0x4f, 0x08, 0x6b, 0x00, 0x00, 0x00, 0x00,
    ];

    const ENGINE_ID: &str = "80001f8880a160ee23184f086b00000000";

    /// A v1/v2c Response message with the given error and pre-encoded bindings.
    fn response(version: i64, id: i32, error: (i64, i64), bindings: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        ber::write_constructed(&mut out, tag::SEQUENCE, |m| {
            ber::write_integer(m, tag::INTEGER, version);
            ber::write_octet_string(m, tag::OCTET_STRING, b"public");
            ber::write_constructed(m, pdu::RESPONSE, |p| {
                ber::write_integer(p, tag::INTEGER, id.into());
                ber::write_integer(p, tag::INTEGER, error.0);
                ber::write_integer(p, tag::INTEGER, error.1);
                ber::write_constructed(p, tag::SEQUENCE, |l| {
                    for b in bindings {
                        l.extend_from_slice(b);
                    }
                });
            });
        });
        out
    }

    fn binding(oid: &[u32], value_tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        ber::write_constructed(&mut out, tag::SEQUENCE, |vb| {
            ber::write_oid(vb, oid);
            ber::write_tlv(vb, value_tag, value);
        });
        out
    }

    #[test]
    fn requests_match_reference_bytes() {
        assert_eq!(emit_get_request(b"public", 0x1234, &SYSTEM_OIDS), GET_REQUEST);
        assert_eq!(emit_discovery(0x1234), DISCOVERY);
    }

    #[test]
    fn our_requests_are_not_replies() {
        assert_eq!(parse_reply(&GET_REQUEST), Err(SnmpError::UnexpectedPdu(pdu::GET_REQUEST)));
        assert_eq!(parse_reply(&DISCOVERY), Err(SnmpError::UnexpectedPdu(pdu::GET_REQUEST)));
    }

    #[test]
    fn parses_net_snmp_report() {
        let a = parse_reply(&V3_REPORT).unwrap();
        assert_eq!((a.version, a.pdu, a.request_id), ("v3", "report", Some(0x5101)));
        assert_eq!(a.engine, Some(Engine { id: ENGINE_ID.into(), boots: 1, time: 15 }));
        assert_eq!(a.varbinds[0].kind, "Counter32");
        assert_eq!(a.render_lines(), ["usmStatsUnknownEngineIDs.0: 3"]);
        assert_eq!(a.echoed_id(), ("msgID", 0x5101));
    }

    #[test]
    fn parses_exceptions_and_binary_strings() {
        let a = parse_reply(&V2C_NOSUCH).unwrap();
        assert_eq!((a.version, a.pdu, a.engine.as_ref()), ("v2c", "response", None));
        assert_eq!(
            a.render_lines(),
            [
                "1.3.6.1.2.1.1.7.0: noSuchInstance".to_string(),
                "1.3.6.1.2.1.1.99.0: noSuchObject".to_string(),
                format!("1.3.6.1.6.3.10.2.1.1.0: 0x{ENGINE_ID}"),
            ]
        );
        assert_eq!(a.echoed_id(), ("request-id", 0x5101));
    }

    #[test]
    fn system_values_render_like_snmpget() {
        let mut uptime = Vec::new();
        ber::write_integer(&mut uptime, tag::INTEGER, 8_640_123);
        let mut oid = Vec::new();
        ber::write_oid(&mut oid, &[1, 3, 6, 1, 4, 1, 8072, 3, 2, 10]);
        let reply = response(
            VERSION_2C,
            42,
            (0, 0),
            &[
                binding(SYSTEM_OIDS[0], tag::OCTET_STRING, b"Linux pq 6.1.0 x86_64"),
                binding(SYSTEM_OIDS[1], tag::OBJECT_IDENTIFIER, &oid[2..]),
                binding(SYSTEM_OIDS[2], app::TIMETICKS, &uptime[2..]),
                binding(SYSTEM_OIDS[3], tag::OCTET_STRING, b"pq-snmp"),
                binding(&[1, 3, 6, 1, 2, 1, 4, 20, 1, 1, 10, 0, 0, 1], app::IP_ADDRESS, &[10, 0, 0, 1]),
                binding(
                    &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 1],
                    app::COUNTER64,
                    &[0, 0xff, 0, 0, 0, 0, 0, 0, 1],
                ),
            ],
        );
        let a = parse_reply(&reply).unwrap();
        assert_eq!(
            a.render_lines(),
            [
                "sysDescr.0: Linux pq 6.1.0 x86_64",
                "sysObjectID.0: 1.3.6.1.4.1.8072.3.2.10",
                "sysUpTime.0: 8640123 (1 day, 0:00:01.23)",
                "sysName.0: pq-snmp",
                "1.3.6.1.2.1.4.20.1.1.10.0.0.1: 10.0.0.1",
                "1.3.6.1.2.1.31.1.1.1.6.1: 18374686479671623681",
            ]
        );
        assert_eq!(timeticks(4242), "4242 (0:00:42.42)");
        assert_eq!(timeticks(3 * 8_640_000 + 360_000), "26280000 (3 days, 1:00:00.00)");
    }

    #[test]
    fn errors_versions_and_bad_values() {
        let bad = [
            binding(SYSTEM_OIDS[0], app::COUNTER32, &[0xff; 10]),
            binding(SYSTEM_OIDS[1], app::IP_ADDRESS, &[1, 2, 3]),
            binding(SYSTEM_OIDS[2], tag::OBJECT_IDENTIFIER, &[0x2b, 0x86]),
            binding(SYSTEM_OIDS[3], 0x1e, &[0xaa]), // BMPString: a type SNMP never uses
        ];
        let a = parse_reply(&response(VERSION_1, 9, (2, 1), &bad)).unwrap();
        assert_eq!(a.version, "v1");
        assert_eq!(
            a.render_lines(),
            [
                "SNMP error: noSuchName (2), variable 1",
                "sysDescr.0: 0xffffffffffffffffffff",
                "sysObjectID.0: 0x010203",
                "sysUpTime.0: 0x2b86",
                "sysName.0: 0xaa",
            ]
        );
        assert_eq!(parse_reply(&response(2, 9, (0, 0), &[])), Err(SnmpError::Version(2)));
    }

    #[test]
    fn variable_bindings_are_capped() {
        let many: Vec<Vec<u8>> = (0..100).map(|i| binding(&[1, 3, 6, 1, i], tag::NULL, &[])).collect();
        let a = parse_reply(&response(VERSION_2C, 1, (0, 0), &many)).unwrap();
        assert_eq!((a.varbinds.len(), a.varbind_count), (MAX_VARBINDS, 100));
        assert_eq!(a.render_lines().last().unwrap(), "(36 more variable bindings not shown)");
    }

    #[test]
    fn v3_encrypted_and_odd_headers() {
        // Same header as the report, but msgFlags authPriv and an encrypted ScopedPDU.
        let mut enc = V3_REPORT[..0x39].to_vec();
        enc[18] = 0x03;
        enc.extend_from_slice(&[0x04, 0x02, 0xde, 0xad]);
        enc[1] = (enc.len() - 2) as u8;
        let a = parse_reply(&enc).unwrap();
        assert_eq!((a.pdu, a.engine.unwrap().boots), ("encrypted", 1));
        // msgFlags of two bytes.
        let mut flags = V3_REPORT.to_vec();
        flags.splice(16..19, [0x04, 0x02, 0x00, 0x00]);
        flags[1] += 1;
        flags[6] += 1;
        assert_eq!(parse_reply(&flags), Err(SnmpError::BadFlags(2)));
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        for reply in [&V3_REPORT[..], &V2C_NOSUCH[..]] {
            for n in 0..reply.len() {
                assert!(parse_reply(&reply[..n]).is_err(), "prefix {n}");
            }
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        // Errors are fine, panics are not.
        crate::wire::mutate_each(&[V3_REPORT.to_vec(), V2C_NOSUCH.to_vec()], 20_000, |buf| {
            if let Ok(a) = parse_reply(buf) {
                let _ = a.render_lines();
            }
        });
    }
}
