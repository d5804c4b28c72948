//! L2TP query of UDP 1701: a Start-Control-Connection-Request (SCCRQ, RFC 2661
//! §6.1), the first message of a tunnel, which an LNS answers with SCCRP (or
//! refuses with StopCCN).
//!
//! ```text
//! control message header (RFC 2661 §3.1), every field big-endian:
//! |T|L|x|x|S|x|O|P|x|x|x|x| Ver |  Length  | Tunnel ID | Session ID | Ns | Nr | AVPs...
//!  T=1 control, L=1 length present, S=1 Ns/Nr present, O offset (never for control), Ver=2
//! AVP (RFC 2661 §4.1):
//! |M|H|rsvd| Length (10 bits, header included) | Vendor ID | Attribute Type | Value...
//! ```
//! A message without AVPs is a ZLB, a bare acknowledgement. The first AVP of any
//! other message is its Message Type.
//!
//! The tunnel an SCCRP opens is closed at once by the caller with the StopCCN
//! [`emit_stopccn`] builds (result 1, "general request to clear control
//! connection"), so no half-open tunnel is left on the server. Parsing is
//! bounded: a hostile reply yields an [`L2tpError`], never a panic.

use serde::Serialize;

use super::bytes::{put_u16_be, u16_be_at};

/// Header flag: control message (always set in what we parse).
const FLAG_TYPE: u16 = 0x8000;
/// Header flag: the Length field is present.
const FLAG_LENGTH: u16 = 0x4000;
/// Header flag: the Ns and Nr fields are present.
const FLAG_SEQUENCE: u16 = 0x0800;
/// Header flag: the Offset Size field is present.
const FLAG_OFFSET: u16 = 0x0200;
/// The version nibble of the header.
const VERSION_MASK: u16 = 0x000f;
/// L2TPv2, the version RFC 2661 defines (3 is L2TPv3, RFC 3931).
const VERSION_2: u16 = 2;
/// Flags of every control message we send: T, L, S and version 2.
const CONTROL_FLAGS: u16 = FLAG_TYPE | FLAG_LENGTH | FLAG_SEQUENCE | VERSION_2;
/// Header length with T, L and S set and no offset.
const HEADER_LEN: usize = 12;

/// AVP flag: mandatory (the peer must understand it or tear down).
const AVP_MANDATORY: u16 = 0x8000;
/// AVP flag: the value is hidden (encrypted with the tunnel secret).
const AVP_HIDDEN: u16 = 0x4000;
/// The 10-bit length of an AVP, header included.
const AVP_LENGTH_MASK: u16 = 0x03ff;
/// Flags, length, vendor ID and attribute type.
const AVP_HEADER_LEN: usize = 6;
/// Vendor ID of the IETF-defined AVPs.
const VENDOR_IETF: u16 = 0;
/// AVPs decoded from one message; a datagram cannot hold many more anyway.
pub const MAX_AVPS: usize = 256;
/// Bytes of a name or message kept for display.
const MAX_TEXT: usize = 256;

/// Attribute types (RFC 2661 §4.4).
pub mod avp {
    pub const MESSAGE_TYPE: u16 = 0;
    pub const RESULT_CODE: u16 = 1;
    pub const PROTOCOL_VERSION: u16 = 2;
    pub const FRAMING_CAPABILITIES: u16 = 3;
    pub const BEARER_CAPABILITIES: u16 = 4;
    pub const FIRMWARE_REVISION: u16 = 6;
    pub const HOST_NAME: u16 = 7;
    pub const VENDOR_NAME: u16 = 8;
    pub const ASSIGNED_TUNNEL_ID: u16 = 9;
    pub const RECEIVE_WINDOW_SIZE: u16 = 10;
}

/// Control message types (RFC 2661 §3.2).
pub mod message {
    pub const SCCRQ: u16 = 1;
    pub const SCCRP: u16 = 2;
    pub const SCCCN: u16 = 3;
    pub const STOPCCN: u16 = 4;
    pub const HELLO: u16 = 6;
    pub const OCRQ: u16 = 7;
    pub const OCRP: u16 = 8;
    pub const OCCN: u16 = 9;
    pub const ICRQ: u16 = 10;
    pub const ICRP: u16 = 11;
    pub const ICCN: u16 = 12;
    pub const CDN: u16 = 14;
    pub const WEN: u16 = 15;
    pub const SLI: u16 = 16;
}

/// Protocol Version AVP value: version 1, revision 0.
const PROTOCOL_VERSION_1_0: [u8; 2] = [1, 0];
/// Framing Capabilities we announce: synchronous (1) and asynchronous (2).
const FRAMING_SYNC_ASYNC: u32 = 0x0000_0003;
/// StopCCN result code 1: general request to clear control connection.
pub const RESULT_CLEAR: u16 = 1;
/// The Host Name we announce.
pub const HOST_NAME: &str = "portqry";

/// Why a datagram is not an L2TP control message we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum L2tpError {
    #[error("L2TP {0} truncated")]
    Truncated(&'static str),
    #[error("an L2TP data message, not a control message")]
    NotControl,
    #[error("L2TP version {0} (expected 2)")]
    Version(u16),
    #[error("L2TP control message without its {0} field")]
    MissingField(&'static str),
    #[error("L2TP length {claimed} does not fit the {available}-byte datagram")]
    BadLength { claimed: usize, available: usize },
    #[error("L2TP AVP length {0} out of range")]
    BadAvpLength(usize),
    #[error("L2TP control message does not start with a Message Type AVP")]
    NoMessageType,
    #[error("L2TP AVP {0} has a value of the wrong size")]
    BadAvpValue(&'static str),
}

/// A Result Code AVP (RFC 2661 §4.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultCode {
    pub result: u16,
    /// RFC 2661 meaning of `result` for a StopCCN, else `None`.
    pub result_name: Option<&'static str>,
    pub error: Option<u16>,
    pub error_name: Option<&'static str>,
    /// The peer's text, control characters escaped.
    pub message: Option<String>,
}

/// One L2TP control message, as far as portqry shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlMessage {
    /// The receiver's tunnel ID (ours, in a reply to us).
    pub tunnel_id: u16,
    pub session_id: u16,
    pub ns: u16,
    pub nr: u16,
    /// `None` for a ZLB (an acknowledgement without AVPs).
    pub message_type: Option<u16>,
    /// `SCCRP`, `StopCCN`, ... or `ZLB`.
    pub message_name: &'static str,
    pub host_name: Option<String>,
    pub vendor_name: Option<String>,
    /// The tunnel ID the peer chose for itself: where our StopCCN goes.
    pub assigned_tunnel_id: Option<u16>,
    /// `version.revision`, e.g. `1.0`.
    pub protocol_version: Option<String>,
    pub firmware_revision: Option<u16>,
    pub framing_capabilities: Option<u32>,
    pub bearer_capabilities: Option<u32>,
    pub receive_window_size: Option<u16>,
    pub result: Option<ResultCode>,
    /// AVPs in the message (at most [`MAX_AVPS`] are read).
    pub avp_count: usize,
    /// Hidden (encrypted) AVPs, whose values we cannot read.
    pub hidden_avps: usize,
}

/// Short name and RFC 2661 long name of a message type.
pub fn message_names(t: u16) -> (&'static str, &'static str) {
    match t {
        message::SCCRQ => ("SCCRQ", "Start-Control-Connection-Request"),
        message::SCCRP => ("SCCRP", "Start-Control-Connection-Reply"),
        message::SCCCN => ("SCCCN", "Start-Control-Connection-Connected"),
        message::STOPCCN => ("StopCCN", "Stop-Control-Connection-Notification"),
        message::HELLO => ("HELLO", "Hello"),
        message::OCRQ => ("OCRQ", "Outgoing-Call-Request"),
        message::OCRP => ("OCRP", "Outgoing-Call-Reply"),
        message::OCCN => ("OCCN", "Outgoing-Call-Connected"),
        message::ICRQ => ("ICRQ", "Incoming-Call-Request"),
        message::ICRP => ("ICRP", "Incoming-Call-Reply"),
        message::ICCN => ("ICCN", "Incoming-Call-Connected"),
        message::CDN => ("CDN", "Call-Disconnect-Notify"),
        message::WEN => ("WEN", "WAN-Error-Notify"),
        message::SLI => ("SLI", "Set-Link-Info"),
        _ => ("unknown", "unknown message type"),
    }
}

/// RFC 2661 §4.4.2 meaning of a StopCCN result code.
pub fn stopccn_result_name(r: u16) -> &'static str {
    match r {
        1 => "general request to clear control connection",
        2 => "general error, see the error code",
        3 => "control channel already exists",
        4 => "requester is not authorized to establish a control channel",
        5 => "the protocol version of the requester is not supported",
        6 => "requester is being shut down",
        7 => "finite state machine error",
        _ => "unknown",
    }
}

/// RFC 2661 §4.4.2 meaning of a general error code.
pub fn error_code_name(e: u16) -> &'static str {
    match e {
        0 => "no general error",
        1 => "no control connection exists yet for this LAC-LNS pair",
        2 => "length is wrong",
        3 => "a field value was out of range or a reserved field was non-zero",
        4 => "insufficient resources to handle this operation now",
        5 => "the Session ID is invalid in this context",
        6 => "a generic vendor-specific error occurred",
        7 => "try another",
        8 => "unknown mandatory AVP received",
        _ => "unknown",
    }
}

/// A control message to `tunnel_id` (session 0) with the AVPs `avps` writes.
fn emit_control(tunnel_id: u16, ns: u16, nr: u16, avps: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    put_u16_be(&mut out, CONTROL_FLAGS);
    out.extend_from_slice(&[0, 0]); // Length, patched below
    for field in [tunnel_id, 0, ns, nr] {
        put_u16_be(&mut out, field);
    }
    avps(&mut out);
    // Our messages are a few dozen bytes; the cast cannot truncate.
    let len = out.len() as u16;
    out[2..4].copy_from_slice(&len.to_be_bytes());
    out
}

/// A mandatory IETF AVP. `value` is at most a few dozen bytes (ours are constants).
fn write_avp(out: &mut Vec<u8>, attribute: u16, value: &[u8]) {
    let len = (AVP_HEADER_LEN + value.len()) as u16 & AVP_LENGTH_MASK;
    put_u16_be(out, AVP_MANDATORY | len);
    put_u16_be(out, VENDOR_IETF);
    put_u16_be(out, attribute);
    out.extend_from_slice(value);
}

/// Encode an SCCRQ (Ns 0, to tunnel 0) announcing `our_tunnel_id` and `host_name`
/// (at most 256 bytes; ours is [`HOST_NAME`]).
pub fn emit_sccrq(our_tunnel_id: u16, host_name: &str) -> Vec<u8> {
    let host = &host_name.as_bytes()[..host_name.len().min(MAX_TEXT)];
    emit_control(0, 0, 0, |out| {
        write_avp(out, avp::MESSAGE_TYPE, &message::SCCRQ.to_be_bytes());
        write_avp(out, avp::PROTOCOL_VERSION, &PROTOCOL_VERSION_1_0);
        write_avp(out, avp::HOST_NAME, host);
        write_avp(out, avp::FRAMING_CAPABILITIES, &FRAMING_SYNC_ASYNC.to_be_bytes());
        write_avp(out, avp::ASSIGNED_TUNNEL_ID, &our_tunnel_id.to_be_bytes());
    })
}

/// Encode a StopCCN to the peer's `peer_tunnel_id` closing our `our_tunnel_id`,
/// with result [`RESULT_CLEAR`].
pub fn emit_stopccn(peer_tunnel_id: u16, our_tunnel_id: u16, ns: u16, nr: u16) -> Vec<u8> {
    emit_control(peer_tunnel_id, ns, nr, |out| {
        write_avp(out, avp::MESSAGE_TYPE, &message::STOPCCN.to_be_bytes());
        write_avp(out, avp::ASSIGNED_TUNNEL_ID, &our_tunnel_id.to_be_bytes());
        write_avp(out, avp::RESULT_CODE, &RESULT_CLEAR.to_be_bytes());
    })
}

/// Encode a ZLB: the acknowledgement of everything before `nr`.
pub fn emit_zlb(peer_tunnel_id: u16, ns: u16, nr: u16) -> Vec<u8> {
    emit_control(peer_tunnel_id, ns, nr, |_| {})
}

fn u16_value(v: &[u8], name: &'static str) -> Result<u16, L2tpError> {
    match v {
        [a, b] => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err(L2tpError::BadAvpValue(name)),
    }
}

fn u32_value(v: &[u8], name: &'static str) -> Result<u32, L2tpError> {
    let b: [u8; 4] = v.try_into().map_err(|_| L2tpError::BadAvpValue(name))?;
    Ok(u32::from_be_bytes(b))
}

fn text(v: &[u8]) -> String {
    super::ldap::sanitize_text(&v[..v.len().min(MAX_TEXT)])
}

/// Parse one L2TPv2 control message. Bytes after its Length are ignored; AVPs
/// of other vendors and unknown types are counted, not refused.
pub fn parse_control(buf: &[u8]) -> Result<ControlMessage, L2tpError> {
    let flags = u16_be_at(buf, 0).ok_or(L2tpError::Truncated("header"))?;
    if flags & FLAG_TYPE == 0 {
        return Err(L2tpError::NotControl);
    }
    if flags & VERSION_MASK != VERSION_2 {
        return Err(L2tpError::Version(flags & VERSION_MASK));
    }
    if flags & FLAG_LENGTH == 0 {
        return Err(L2tpError::MissingField("Length"));
    }
    if flags & FLAG_SEQUENCE == 0 {
        return Err(L2tpError::MissingField("Ns/Nr"));
    }
    let field = |at| u16_be_at(buf, at).ok_or(L2tpError::Truncated("header"));
    let length = usize::from(field(2)?);
    let mut msg = ControlMessage {
        tunnel_id: field(4)?,
        session_id: field(6)?,
        ns: field(8)?,
        nr: field(10)?,
        message_type: None,
        message_name: "ZLB",
        host_name: None,
        vendor_name: None,
        assigned_tunnel_id: None,
        protocol_version: None,
        firmware_revision: None,
        framing_capabilities: None,
        bearer_capabilities: None,
        receive_window_size: None,
        result: None,
        avp_count: 0,
        hidden_avps: 0,
    };
    // Control messages must not carry an offset, but skipping one is harmless.
    let start =
        if flags & FLAG_OFFSET != 0 { HEADER_LEN + 2 + usize::from(field(HEADER_LEN)?) } else { HEADER_LEN };
    if length < start || length > buf.len() {
        return Err(L2tpError::BadLength { claimed: length, available: buf.len() });
    }
    let mut rest = &buf[start..length];
    let mut result_raw: Option<&[u8]> = None;
    while !rest.is_empty() && msg.avp_count < MAX_AVPS {
        let head = u16_be_at(rest, 0).ok_or(L2tpError::Truncated("AVP header"))?;
        let len = usize::from(head & AVP_LENGTH_MASK);
        if len < AVP_HEADER_LEN || len > rest.len() {
            return Err(L2tpError::BadAvpLength(len));
        }
        let (vendor, attribute) = (u16_be_at(rest, 2).unwrap_or(0), u16_be_at(rest, 4).unwrap_or(0));
        let value = &rest[AVP_HEADER_LEN..len];
        rest = &rest[len..];
        let first = msg.avp_count == 0;
        msg.avp_count += 1;
        let ietf = vendor == VENDOR_IETF;
        if first != (ietf && attribute == avp::MESSAGE_TYPE) {
            return Err(L2tpError::NoMessageType);
        }
        if head & AVP_HIDDEN != 0 {
            msg.hidden_avps += 1;
            continue;
        }
        if !ietf {
            continue;
        }
        match attribute {
            avp::MESSAGE_TYPE => {
                let t = u16_value(value, "Message Type")?;
                msg.message_type = Some(t);
                msg.message_name = message_names(t).0;
            }
            avp::RESULT_CODE => result_raw = Some(value),
            avp::PROTOCOL_VERSION => match value {
                [v, r] => msg.protocol_version = Some(format!("{v}.{r}")),
                _ => return Err(L2tpError::BadAvpValue("Protocol Version")),
            },
            avp::FRAMING_CAPABILITIES => {
                msg.framing_capabilities = Some(u32_value(value, "Framing Capabilities")?)
            }
            avp::BEARER_CAPABILITIES => {
                msg.bearer_capabilities = Some(u32_value(value, "Bearer Capabilities")?)
            }
            avp::FIRMWARE_REVISION => msg.firmware_revision = Some(u16_value(value, "Firmware Revision")?),
            avp::HOST_NAME => msg.host_name = Some(text(value)),
            avp::VENDOR_NAME => msg.vendor_name = Some(text(value)),
            avp::ASSIGNED_TUNNEL_ID => msg.assigned_tunnel_id = Some(u16_value(value, "Assigned Tunnel ID")?),
            avp::RECEIVE_WINDOW_SIZE => {
                msg.receive_window_size = Some(u16_value(value, "Receive Window Size")?)
            }
            _ => {}
        }
    }
    if let Some(v) = result_raw {
        msg.result = Some(parse_result(v, msg.message_type == Some(message::STOPCCN))?);
    }
    Ok(msg)
}

/// Result Code value: result, then an optional error code and message.
fn parse_result(v: &[u8], stopccn: bool) -> Result<ResultCode, L2tpError> {
    let result = u16_be_at(v, 0).ok_or(L2tpError::BadAvpValue("Result Code"))?;
    let error = u16_be_at(v, 2);
    if v.len() == 3 {
        return Err(L2tpError::BadAvpValue("Result Code"));
    }
    let message = v.get(4..).filter(|m| !m.is_empty()).map(text);
    Ok(ResultCode {
        result,
        result_name: stopccn.then(|| stopccn_result_name(result)),
        error,
        error_name: error.map(error_code_name),
        message,
    })
}

impl ControlMessage {
    /// What the peer said: the message, then one `name: value` line per AVP shown.
    pub fn render_lines(&self) -> Vec<String> {
        let mut lines = vec![match self.message_type {
            Some(t) => {
                format!("L2TP response: {} ({}), message type {t}", self.message_name, message_names(t).1)
            }
            None => "L2TP response: ZLB (acknowledgement only)".to_string(),
        }];
        let mut add = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                lines.push(format!("{name}: {v}"));
            }
        };
        add("Host Name", self.host_name.clone());
        add("Vendor Name", self.vendor_name.clone());
        add("Assigned Tunnel ID", self.assigned_tunnel_id.map(|t| t.to_string()));
        add("Protocol Version", self.protocol_version.clone());
        add("Firmware Revision", self.firmware_revision.map(|f| format!("{f:#06x}")));
        add("Framing Capabilities", self.framing_capabilities.map(|f| format!("{f:#010x}")));
        add("Bearer Capabilities", self.bearer_capabilities.map(|b| format!("{b:#010x}")));
        add("Receive Window Size", self.receive_window_size.map(|w| w.to_string()));
        if let Some(r) = &self.result {
            let mut s = r.result.to_string();
            if let Some(n) = r.result_name {
                s.push_str(&format!(" ({n})"));
            }
            if let (Some(e), Some(n)) = (r.error, r.error_name) {
                s.push_str(&format!(", error {e} ({n})"));
            }
            if let Some(m) = &r.message {
                s.push_str(&format!(": {m}"));
            }
            add("Result Code", Some(s));
        }
        if self.hidden_avps > 0 {
            add("Hidden AVPs (not readable without the tunnel secret)", Some(self.hidden_avps.to_string()));
        }
        lines
    }
}

/// How an L2TP conversation was wound up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct L2tpClosing {
    /// `stopccn` (we closed the tunnel an SCCRP opened) or `zlb` (we acknowledged
    /// the peer's StopCCN).
    pub sent: &'static str,
    /// The peer's tunnel ID it went to.
    pub tunnel_id: u16,
    /// StopCCN: whether the peer acknowledged it; `None` for a ZLB.
    pub acknowledged: Option<bool>,
}

/// What the L2TP query found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct L2tpAnswer {
    /// The tunnel ID we assigned in our SCCRQ.
    pub our_tunnel_id: u16,
    /// The port the peer answered from (1701 for xl2tpd).
    pub server_port: u16,
    /// The peer's answer (SCCRP, StopCCN, ...).
    pub reply: ControlMessage,
    pub closing: Option<L2tpClosing>,
}

impl L2tpAnswer {
    /// The peer's message, then how portqry wound the conversation up.
    pub fn render_lines(&self) -> Vec<String> {
        let mut lines = self.reply.render_lines();
        match &self.closing {
            Some(L2tpClosing { sent: "zlb", tunnel_id, .. }) => {
                lines.push(format!("StopCCN acknowledged with a ZLB to tunnel {tunnel_id}"));
            }
            Some(L2tpClosing { tunnel_id, acknowledged, .. }) => {
                let ack = if *acknowledged == Some(true) { "acknowledged" } else { "not acknowledged" };
                lines.push(format!("Tunnel closed: StopCCN sent to tunnel {tunnel_id}, {ack}"));
            }
            None => {}
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `emit_sccrq(0x1234, "portqry")`, written by hand from RFC 2661 §3.1, §4.4.1,
    /// §4.4.3 and §6.1: header c802 length 0x003b, tunnel 0, session 0, Ns 0, Nr 0;
    /// AVPs Message Type 1, Protocol Version 1.0, Host Name, Framing Capabilities 3,
    /// Assigned Tunnel ID 0x1234, each with the M bit.
    const SCCRQ: [u8; 59] = [
        0xc8, 0x02, 0x00, 0x3b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // header
        0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // Message Type SCCRQ
        0x80, 0x08, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, // Protocol Version 1.0
        0x80, 0x0d, 0x00, 0x00, 0x00, 0x07, 0x70, 0x6f, 0x72, 0x74, 0x71, 0x72, 0x79, // Host Name
        0x80, 0x0a, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x03, // Framing Capabilities
        0x80, 0x08, 0x00, 0x00, 0x00, 0x09, 0x12, 0x34, // Assigned Tunnel ID
    ];

    /// `emit_stopccn(0xbeef, 0x1234, 1, 1)`: Message Type 4, Assigned Tunnel ID, Result Code 1.
    const STOPCCN: [u8; 36] = [
        0xc8, 0x02, 0x00, 0x24, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, // header
        0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, // Message Type StopCCN
        0x80, 0x08, 0x00, 0x00, 0x00, 0x09, 0x12, 0x34, // Assigned Tunnel ID
        0x80, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, // Result Code 1
    ];

    /// xl2tpd 1.3.18's SCCRP to an SCCRQ assigning tunnel 0x5101 (captured):
    /// host name pq-lns.portqry.test, vendor xelerance.com, its own tunnel 0xa7bf
    /// in the Assigned Tunnel ID AVP.
    const XL2TPD_SCCRP: [u8; 116] = [
        0xc8, 0x02, 0x00, 0x74, 0x51, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x80, 0x08, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x02, 0x80, 0x08, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, 0x80, 0x0a, 0x00, 0x00, 0x00, 0x03,
        0x00, 0x00, 0x00, 0x03, 0x80, 0x0a, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
        0x00, 0x00, 0x06, 0x06, 0x90, 0x80, 0x19, 0x00, 0x00, 0x00, 0x07, 0x70, 0x71, 0x2d, 0x6c, 0x6e, 0x73,
        0x2e, 0x70, 0x6f, 0x72, 0x74, 0x71, 0x72, 0x79, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x00, 0x13, 0x00, 0x00,
        0x00, 0x08, 0x78, 0x65, 0x6c, 0x65, 0x72, 0x61, 0x6e, 0x63, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x80, 0x08,
        0x00, 0x00, 0x00, 0x09, 0xa7, 0xbf, 0x80, 0x08, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x04,
    ];

    /// An SCCRP laid out like xl2tpd's, plus a vendor-specific and a hidden AVP
    /// to check they are counted, not refused.
    fn sccrp() -> Vec<u8> {
        emit_control(0x1234, 0, 1, |out| {
            write_avp(out, avp::MESSAGE_TYPE, &message::SCCRP.to_be_bytes());
            write_avp(out, avp::PROTOCOL_VERSION, &PROTOCOL_VERSION_1_0);
            write_avp(out, avp::FRAMING_CAPABILITIES, &FRAMING_SYNC_ASYNC.to_be_bytes());
            write_avp(out, avp::BEARER_CAPABILITIES, &3u32.to_be_bytes());
            write_avp(out, avp::FIRMWARE_REVISION, &0x0690u16.to_be_bytes());
            write_avp(out, avp::HOST_NAME, b"pq-lns");
            write_avp(out, avp::VENDOR_NAME, b"xelerance.com");
            write_avp(out, avp::ASSIGNED_TUNNEL_ID, &0xbeefu16.to_be_bytes());
            write_avp(out, avp::RECEIVE_WINDOW_SIZE, &4u16.to_be_bytes());
            // Vendor 9 (Cisco), attribute 1, and a hidden IETF AVP.
            out.extend_from_slice(&[0x00, 0x08, 0x00, 0x09, 0x00, 0x01, 0xaa, 0xbb]);
            out.extend_from_slice(&[0xc0, 0x08, 0x00, 0x00, 0x00, 0x07, 0x01, 0x02]);
        })
    }

    #[test]
    fn requests_match_reference_bytes() {
        assert_eq!(emit_sccrq(0x1234, HOST_NAME), SCCRQ);
        assert_eq!(emit_stopccn(0xbeef, 0x1234, 1, 1), STOPCCN);
        assert_eq!(emit_zlb(0xbeef, 1, 1), [0xc8, 0x02, 0x00, 0x0c, 0xbe, 0xef, 0, 0, 0, 1, 0, 1]);
    }

    #[test]
    fn our_messages_parse_back() {
        let q = parse_control(&SCCRQ).unwrap();
        assert_eq!(
            (q.message_name, q.host_name.as_deref(), q.assigned_tunnel_id),
            ("SCCRQ", Some("portqry"), Some(0x1234))
        );
        assert_eq!(
            (q.protocol_version.as_deref(), q.framing_capabilities, q.avp_count),
            (Some("1.0"), Some(3), 5)
        );
        let s = parse_control(&STOPCCN).unwrap();
        assert_eq!((s.message_type, s.tunnel_id, s.ns, s.nr), (Some(message::STOPCCN), 0xbeef, 1, 1));
        let r = s.result.unwrap();
        assert_eq!(
            (r.result, r.result_name, r.error),
            (1, Some("general request to clear control connection"), None)
        );
        let z = parse_control(&emit_zlb(7, 1, 2)).unwrap();
        assert_eq!((z.message_type, z.message_name, z.nr), (None, "ZLB", 2));
    }

    #[test]
    fn parses_sccrp_with_foreign_and_hidden_avps() {
        let m = parse_control(&sccrp()).unwrap();
        assert_eq!((m.avp_count, m.hidden_avps), (11, 1));
        assert_eq!(
            m.render_lines(),
            [
                "L2TP response: SCCRP (Start-Control-Connection-Reply), message type 2",
                "Host Name: pq-lns",
                "Vendor Name: xelerance.com",
                "Assigned Tunnel ID: 48879",
                "Protocol Version: 1.0",
                "Firmware Revision: 0x0690",
                "Framing Capabilities: 0x00000003",
                "Bearer Capabilities: 0x00000003",
                "Receive Window Size: 4",
                "Hidden AVPs (not readable without the tunnel secret): 1",
            ]
        );
    }

    #[test]
    fn parses_xl2tpd_sccrp() {
        let m = parse_control(&XL2TPD_SCCRP).unwrap();
        assert_eq!((m.tunnel_id, m.ns, m.nr, m.message_type), (0x5101, 0, 1, Some(message::SCCRP)));
        assert_eq!(m.host_name.as_deref(), Some("pq-lns.portqry.test"));
        assert_eq!(m.vendor_name.as_deref(), Some("xelerance.com"));
        assert_eq!((m.assigned_tunnel_id, m.hidden_avps), (Some(0xa7bf), 0));
        // The StopCCN that closes it goes to that tunnel and acknowledges Ns 0.
        let stop = emit_stopccn(0xa7bf, 0x5101, 1, m.ns + 1);
        assert_eq!(&stop[4..12], &[0xa7, 0xbf, 0, 0, 0, 1, 0, 1]);
    }

    #[test]
    fn stopccn_with_error_and_message() {
        let refuse = emit_control(0x1234, 0, 1, |out| {
            write_avp(out, avp::MESSAGE_TYPE, &message::STOPCCN.to_be_bytes());
            write_avp(out, avp::ASSIGNED_TUNNEL_ID, &9u16.to_be_bytes());
            write_avp(out, avp::RESULT_CODE, &[0, 2, 0, 6, b'n', b'o', 0x07]);
        });
        let m = parse_control(&refuse).unwrap();
        assert_eq!(
            m.render_lines()[2],
            "Result Code: 2 (general error, see the error code), error 6 (a generic vendor-specific error occurred): no\\u{7}"
        );
        let odd = emit_control(1, 0, 1, |out| {
            write_avp(out, avp::MESSAGE_TYPE, &message::STOPCCN.to_be_bytes());
            write_avp(out, avp::RESULT_CODE, &[0, 2, 0]);
        });
        assert_eq!(parse_control(&odd), Err(L2tpError::BadAvpValue("Result Code")));
    }

    #[test]
    fn header_and_avp_errors() {
        assert_eq!(parse_control(&[0xc8]), Err(L2tpError::Truncated("header")));
        assert_eq!(parse_control(&[0x40, 0x02, 0, 12]), Err(L2tpError::NotControl));
        assert_eq!(parse_control(&[0xc8, 0x03, 0, 12]), Err(L2tpError::Version(3)));
        assert_eq!(parse_control(&[0x88, 0x02, 0, 12]), Err(L2tpError::MissingField("Length")));
        assert_eq!(parse_control(&[0xc0, 0x02, 0, 12]), Err(L2tpError::MissingField("Ns/Nr")));
        let mut long = STOPCCN.to_vec();
        long[3] = 0x30;
        assert_eq!(parse_control(&long), Err(L2tpError::BadLength { claimed: 0x30, available: 36 }));
        let mut avp_len = STOPCCN.to_vec();
        avp_len[13] = 0x05;
        assert_eq!(parse_control(&avp_len), Err(L2tpError::BadAvpLength(5)));
        // The Message Type must come first, and only first.
        let late = emit_control(1, 0, 1, |out| {
            write_avp(out, avp::ASSIGNED_TUNNEL_ID, &9u16.to_be_bytes());
            write_avp(out, avp::MESSAGE_TYPE, &message::STOPCCN.to_be_bytes());
        });
        assert_eq!(parse_control(&late), Err(L2tpError::NoMessageType));
        let twice = emit_control(1, 0, 1, |out| {
            write_avp(out, avp::MESSAGE_TYPE, &message::STOPCCN.to_be_bytes());
            write_avp(out, avp::MESSAGE_TYPE, &message::HELLO.to_be_bytes());
        });
        assert_eq!(parse_control(&twice), Err(L2tpError::NoMessageType));
        let short_type = emit_control(1, 0, 1, |out| write_avp(out, avp::MESSAGE_TYPE, &[4]));
        assert_eq!(parse_control(&short_type), Err(L2tpError::BadAvpValue("Message Type")));
        // Trailing bytes after Length are ignored.
        let mut trailing = STOPCCN.to_vec();
        trailing.extend_from_slice(&[0xff; 9]);
        assert!(parse_control(&trailing).is_ok());
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let reply = sccrp();
        for n in 0..reply.len() {
            assert!(parse_control(&reply[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        crate::wire::mutate_each(&[sccrp(), STOPCCN.to_vec()], 20_000, |buf| {
            if let Ok(m) = parse_control(buf) {
                let _ = m.render_lines();
            }
        });
    }
}
