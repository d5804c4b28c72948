//! DCE/RPC PDU encodings: connection-oriented (RPC v5, `ncacn_ip_tcp`) and
//! connectionless (RPC v4, `ncadg_ip_udp`).
//!
//! References: C706 (DCE 1.1 RPC) chapter 12 (PDU encodings), MS-RPCE §2.1.1.1 and
//! §2.1.2.1 (the two transports), §3.2 (CL rules) and §3.2.3.5.4.2 (the
//! `conv_who_are_you2` callback).
//!
//! This module is pure encode/decode: no sockets. Every length read from the wire is
//! treated as hostile: reads are bounds-checked, nothing is allocated from a count the
//! peer sent (only from bytes actually received), and reassembly is capped in size and
//! fragment count. Only little-endian `drep` is supported; a big-endian peer gets a clean
//! [`RpcError::BigEndian`].

use std::collections::BTreeMap;

use uuid::Uuid;

// ------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------

/// Everything that can go wrong while decoding (or, rarely, encoding) an RPC PDU.
///
/// Messages are short and meant to be shown to a user as-is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The buffer ends before a field that must be present.
    #[error("{0} truncated")]
    Truncated(&'static str),
    /// An ept_lookup reply ends inside entry `n` (1-based).
    #[error("endpoint mapper reply truncated in entry {0}")]
    TruncatedEntry(usize),
    /// An ept_lookup reply ends inside the tower of entry `n` (1-based).
    #[error("endpoint mapper reply truncated in the tower of entry {0}")]
    TruncatedTower(usize),
    /// Not the RPC version this parser handles.
    #[error("not a DCE/RPC packet (version {0}.{1})")]
    BadVersion(u8, u8),
    /// The peer marshals integers big-endian, which we do not decode.
    #[error("server uses a big-endian data representation (not supported)")]
    BigEndian,
    /// A CO `frag_length` shorter than the header, or an auth trailer that does not fit.
    #[error("invalid RPC fragment length {0}")]
    BadFragLength(u16),
    /// A PDU of a type other than the one expected here.
    #[error("unexpected RPC packet type {got} (expected {expected})")]
    UnexpectedPtype {
        /// What the caller was waiting for.
        expected: &'static str,
        /// The `PTYPE` actually received.
        got: u8,
    },
    /// A CO fragment belonging to another call.
    #[error("RPC reply for call {got}, expected call {expected}")]
    CallIdMismatch {
        /// Our call id.
        expected: u32,
        /// The call id in the PDU.
        got: u32,
    },
    /// Fragments do not form a valid sequence (missing first, conflicting last, ...).
    #[error("RPC fragments out of sequence ({0})")]
    BadFragmentSequence(&'static str),
    /// Reassembled data would exceed the configured cap.
    #[error("RPC reply larger than {0} bytes")]
    TooLarge(usize),
    /// More fragments than the configured cap.
    #[error("RPC reply has more than {0} fragments")]
    TooManyFragments(usize),
    /// A stub we were asked to send does not fit in one CL packet.
    #[error("RPC request stub of {0} bytes is too large")]
    StubTooLarge(usize),
    /// The server answered with a fault PDU.
    #[error("server returned RPC fault {0:#010x} ({name})", name = status_name(*.0))]
    Fault(u32),
    /// The server rejected a CL call.
    #[error("server rejected the RPC call: {0:#010x} ({name})", name = status_name(*.0))]
    Reject(u32),
    /// The server refused the bind (bind_nak).
    #[error("server refused the RPC bind: {name}", name = bind_nak_reason_name(*.0))]
    BindNak(u16),
    /// The bind_ack rejected our presentation context.
    #[error("server rejected the RPC interface: {name}", name = bind_reject_reason_name(*.0))]
    BindRejected(u16),
    /// A bind_ack with no results at all.
    #[error("RPC bind_ack has no results")]
    NoBindResult,
}

/// A short readable name for an RPC status or fault code (C706 Appendix E, winerror.h).
pub fn status_name(status: u32) -> &'static str {
    match status {
        0x0000_0005 => "access denied",
        0x0000_06d1 => "procedure number out of range",
        0x0000_06b5 => "unknown interface",
        0x0000_06f7 => "bad stub data",
        0x16c9_a0d6 => "no more endpoints",
        0x1c00_0001 => "nca_s_fault_int_div_by_zero",
        0x1c00_0002 => "nca_s_fault_addr_error",
        0x1c00_0008 => "nca_rpc_version_mismatch",
        0x1c00_0009 => "nca_unspec_reject",
        0x1c00_000a => "nca_s_bad_actid",
        0x1c00_000b => "nca_who_are_you_failed",
        0x1c00_000c => "nca_manager_not_entered",
        0x1c00_0012 => "nca_s_fault_unspec",
        0x1c00_001a => "nca_s_fault_context_mismatch",
        0x1c00_001b => "nca_s_fault_remote_no_memory",
        0x1c00_001c => "nca_invalid_pres_context_id",
        0x1c00_001d => "nca_unsupported_authn_level",
        0x1c01_0001 => "nca_comm_failure",
        0x1c01_0002 => "nca_op_rng_error",
        0x1c01_0003 => "nca_unk_if",
        0x1c01_0006 => "nca_wrong_boot_time",
        0x1c01_0009 => "nca_s_you_crashed",
        0x1c01_000b => "nca_proto_error",
        0x1c01_0013 => "nca_out_args_too_big",
        0x1c01_0014 => "nca_server_too_busy",
        0x1c01_0017 => "nca_unsupported_type",
        _ => "unknown status",
    }
}

/// Reason text for a bind_nak `provider_reject_reason` (C706 §12.6.3.1).
pub fn bind_nak_reason_name(reason: u16) -> &'static str {
    match reason {
        0 => "reason not specified",
        1 => "temporary congestion",
        2 => "local limit exceeded",
        3 => "called address unknown",
        4 => "protocol version not supported",
        5 => "default context not supported",
        6 => "user data not readable",
        7 => "no PSAP available",
        8 => "authentication type not recognized",
        9 => "invalid checksum",
        _ => "unknown reason",
    }
}

/// Reason text for a rejected presentation context in a bind_ack (C706 §12.6.3.1).
pub fn bind_reject_reason_name(reason: u16) -> &'static str {
    match reason {
        0 => "reason not specified",
        1 => "abstract syntax not supported",
        2 => "proposed transfer syntaxes not supported",
        3 => "local limit exceeded",
        _ => "unknown reason",
    }
}

// ------------------------------------------------------------------------------------------
// Shared primitives
// ------------------------------------------------------------------------------------------

/// An interface or transfer syntax identifier: UUID plus major/minor version.
///
/// On the wire (bind context elements) it is the UUID in NDR little-endian order followed
/// by a u32 whose low 16 bits are the major version and high 16 bits the minor version,
/// which is the same as u16 major then u16 minor in little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct SyntaxId {
    /// Interface UUID.
    pub uuid: Uuid,
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl SyntaxId {
    /// Encoded length: 16-byte UUID + u16 major + u16 minor.
    pub const LEN: usize = 20;

    /// Build a syntax id.
    pub const fn new(uuid: Uuid, major: u16, minor: u16) -> Self {
        SyntaxId { uuid, major, minor }
    }

    /// Append the 20-byte little-endian encoding.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.uuid.to_bytes_le());
        out.extend_from_slice(&self.major.to_le_bytes());
        out.extend_from_slice(&self.minor.to_le_bytes());
    }

    /// Decode the 20-byte little-endian encoding at `off`.
    pub fn parse(buf: &[u8], off: usize) -> Option<Self> {
        Some(SyntaxId {
            uuid: uuid_le(buf, off)?,
            major: le_u16(buf, off + 16)?,
            minor: le_u16(buf, off + 18)?,
        })
    }
}

/// The endpoint mapper interface, `e1af8308-5d1f-11c9-91a4-08002b14a0fa` v3.0.
pub const EPM_SYNTAX: SyntaxId = SyntaxId::new(Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa), 3, 0);

/// The NDR transfer syntax, `8a885d04-1ceb-11c9-9fe8-08002b104860` v2.0.
pub const NDR_SYNTAX: SyntaxId = SyntaxId::new(Uuid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860), 2, 0);

/// Little-endian integers, ASCII characters, IEEE floats: the only `drep` we send.
pub const DREP_LE: [u8; 4] = [0x10, 0x00, 0x00, 0x00];

/// The integer-representation nibble of drep byte 0: 1 = little-endian, 0 = big-endian.
const DREP_INT_MASK: u8 = 0xf0;
const DREP_INT_LE: u8 = 0x10;

pub(crate) fn le_u16(buf: &[u8], off: usize) -> Option<u16> {
    let b = buf.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

pub(crate) fn le_u32(buf: &[u8], off: usize) -> Option<u32> {
    let b = buf.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// An NDR UUID (first three fields little-endian) at `off`.
pub(crate) fn uuid_le(buf: &[u8], off: usize) -> Option<Uuid> {
    let b: [u8; 16] = buf.get(off..off.checked_add(16)?)?.try_into().ok()?;
    Some(Uuid::from_bytes_le(b))
}

fn check_drep(byte0: u8) -> Result<(), RpcError> {
    if byte0 & DREP_INT_MASK == DREP_INT_LE { Ok(()) } else { Err(RpcError::BigEndian) }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

// ------------------------------------------------------------------------------------------
// Connection-oriented (RPC v5.0)
// ------------------------------------------------------------------------------------------

/// Byte offsets of the CO header and PDU bodies (C706 §12.6.3.1). Every field is named
/// even where the emitters write sequentially, so the layout reads in one place.
#[allow(dead_code)]
mod co_field {
    pub const RPC_VERS: usize = 0;
    pub const RPC_VERS_MINOR: usize = 1;
    pub const PTYPE: usize = 2;
    pub const PFC_FLAGS: usize = 3;
    pub const DREP: usize = 4;
    pub const FRAG_LENGTH: usize = 8;
    pub const AUTH_LENGTH: usize = 10;
    pub const CALL_ID: usize = 12;

    // bind / bind_ack
    pub const MAX_XMIT_FRAG: usize = 16;
    pub const MAX_RECV_FRAG: usize = 18;
    pub const ASSOC_GROUP: usize = 20;
    /// bind: n_context_elem u8 + 3 reserved bytes.
    pub const BIND_N_CTX: usize = 24;
    /// bind: first context element.
    pub const BIND_CTX: usize = 28;
    /// bind_ack: sec_addr length u16, then the string.
    pub const ACK_SEC_ADDR: usize = 24;

    // bind_nak
    pub const NAK_REASON: usize = 16;

    // request / response / fault
    pub const ALLOC_HINT: usize = 16;
    pub const P_CONT_ID: usize = 20;
    pub const OPNUM: usize = 22;
    pub const CANCEL_COUNT: usize = 22;
    pub const STUB: usize = 24;
    pub const FAULT_STATUS: usize = 24;
}

/// Length of the common CO header.
pub const CO_HEADER_LEN: usize = 16;
/// Length of the request/response header (common header + alloc_hint, ctx, opnum/cancel).
pub const CO_REQUEST_HEADER_LEN: usize = co_field::STUB;
/// Length of the security trailer that precedes auth data when `auth_length != 0`.
const CO_SEC_TRAILER_LEN: usize = 8;
/// Default fragment size we offer in bind (what impacket sends).
pub const CO_DEFAULT_MAX_FRAG: u16 = 4280;
/// Default cap on a reassembled CO or CL stub.
pub const DEFAULT_MAX_STUB: usize = 4 * 1024 * 1024;
/// Cap on the number of CO fragments in one reply: with 4 MiB and the smallest legal
/// fragment (C706's 1432-byte minimum) a real reply needs ~3000; empty fragments beyond
/// this are an attack, not a reply.
pub const CO_MAX_FRAGMENTS: usize = 8192;

/// CO packet types (C706 §12.6.4).
pub mod co_ptype {
    pub const REQUEST: u8 = 0;
    pub const RESPONSE: u8 = 2;
    pub const FAULT: u8 = 3;
    pub const BIND: u8 = 11;
    pub const BIND_ACK: u8 = 12;
    pub const BIND_NAK: u8 = 13;
    pub const ALTER_CONTEXT: u8 = 14;
    pub const ALTER_CONTEXT_RESP: u8 = 15;
}

/// CO `pfc_flags` bits.
pub mod pfc {
    pub const FIRST_FRAG: u8 = 0x01;
    pub const LAST_FRAG: u8 = 0x02;
    pub const PENDING_CANCEL: u8 = 0x04;
    pub const CONC_MPX: u8 = 0x10;
    pub const DID_NOT_EXECUTE: u8 = 0x20;
    pub const MAYBE: u8 = 0x40;
    pub const OBJECT_UUID: u8 = 0x80;
}

/// The common 16-byte header of a CO PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoHeader {
    /// Packet type, see [`co_ptype`].
    pub ptype: u8,
    /// `pfc_flags`, see [`pfc`].
    pub flags: u8,
    /// Total PDU length including this header.
    pub frag_length: u16,
    /// Length of the auth verifier (0 for unauthenticated calls).
    pub auth_length: u16,
    /// Call identifier; the response carries the request's value.
    pub call_id: u32,
}

impl CoHeader {
    /// Append the 16-byte header (version 5.0, little-endian drep).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[5, 0, self.ptype, self.flags]);
        out.extend_from_slice(&DREP_LE);
        put_u16(out, self.frag_length);
        put_u16(out, self.auth_length);
        put_u32(out, self.call_id);
    }
}

/// How many bytes the CO PDU starting at `buf[0]` occupies on the TCP stream.
///
/// Returns `None` until the first 10 bytes (up to and including `frag_length`) are
/// available. The value is never below [`CO_HEADER_LEN`], so a caller that reads that
/// many bytes always makes progress; a declared length below 16 is then rejected by
/// [`parse_co_header`].
pub fn co_frame_len(buf: &[u8]) -> Option<usize> {
    let b = buf.get(co_field::FRAG_LENGTH..co_field::FRAG_LENGTH + 2)?;
    let drep0 = *buf.get(co_field::DREP)?;
    // Framing honours the drep so that a big-endian peer still gets framed correctly and
    // is then reported cleanly by the parser, instead of desynchronising the stream.
    let len = if drep0 & DREP_INT_MASK == DREP_INT_LE {
        u16::from_le_bytes([b[0], b[1]])
    } else {
        u16::from_be_bytes([b[0], b[1]])
    };
    Some(usize::from(len).max(CO_HEADER_LEN))
}

/// Parse and validate the common CO header at the start of `buf`.
///
/// Checks the version (5.0 or 5.1), the drep (little-endian only) and that
/// `frag_length` is at least the header length. It does not require the whole fragment
/// to be present; the body parsers do.
pub fn parse_co_header(buf: &[u8]) -> Result<CoHeader, RpcError> {
    if buf.len() < CO_HEADER_LEN {
        return Err(RpcError::Truncated("RPC header"));
    }
    let (vers, minor) = (buf[co_field::RPC_VERS], buf[co_field::RPC_VERS_MINOR]);
    if vers != 5 || minor > 1 {
        return Err(RpcError::BadVersion(vers, minor));
    }
    check_drep(buf[co_field::DREP])?;
    let frag_length = le_u16(buf, co_field::FRAG_LENGTH).ok_or(RpcError::Truncated("RPC header"))?;
    if usize::from(frag_length) < CO_HEADER_LEN {
        return Err(RpcError::BadFragLength(frag_length));
    }
    Ok(CoHeader {
        ptype: buf[co_field::PTYPE],
        flags: buf[co_field::PFC_FLAGS],
        frag_length,
        auth_length: le_u16(buf, co_field::AUTH_LENGTH).ok_or(RpcError::Truncated("RPC header"))?,
        call_id: le_u32(buf, co_field::CALL_ID).ok_or(RpcError::Truncated("RPC header"))?,
    })
}

/// The PDU bytes up to the end of the body: header + body, without the auth trailer and
/// without any auth padding. `min_len` is the fixed part the caller needs.
fn co_pdu_without_auth<'a>(
    buf: &'a [u8],
    hdr: &CoHeader,
    min_len: usize,
    what: &'static str,
) -> Result<&'a [u8], RpcError> {
    let frag_len = usize::from(hdr.frag_length);
    let pdu = buf.get(..frag_len).ok_or(RpcError::Truncated(what))?;
    let mut end = frag_len;
    if hdr.auth_length != 0 {
        // An authenticated PDU ends with sec_trailer (8) + auth value; the byte at offset
        // 2 of sec_trailer says how many pad bytes precede it at the end of the stub.
        end = end
            .checked_sub(CO_SEC_TRAILER_LEN + usize::from(hdr.auth_length))
            .filter(|&e| e >= min_len)
            .ok_or(RpcError::BadFragLength(hdr.frag_length))?;
        let pad = usize::from(pdu[end + 2]);
        end =
            end.checked_sub(pad).filter(|&e| e >= min_len).ok_or(RpcError::BadFragLength(hdr.frag_length))?;
    }
    if end < min_len {
        return Err(RpcError::Truncated(what));
    }
    Ok(&pdu[..end])
}

fn expect_ptype(hdr: &CoHeader, want: u8, expected: &'static str) -> Result<(), RpcError> {
    if hdr.ptype == want { Ok(()) } else { Err(RpcError::UnexpectedPtype { expected, got: hdr.ptype }) }
}

/// Encode a bind PDU with one presentation context (id 0) and one transfer syntax.
///
/// `max_frag` is offered as both max_xmit_frag and max_recv_frag; assoc_group_id is 0
/// (new association).
pub fn emit_bind(
    call_id: u32,
    max_frag: u16,
    abstract_syntax: SyntaxId,
    transfer_syntax: SyntaxId,
) -> Vec<u8> {
    // header + frag sizes/assoc + n_ctx/reserved + ctx id/n_transfer/reserved + 2 syntaxes
    const LEN: usize = co_field::BIND_CTX + 4 + 2 * SyntaxId::LEN;
    let mut out = Vec::with_capacity(LEN);
    CoHeader {
        ptype: co_ptype::BIND,
        flags: pfc::FIRST_FRAG | pfc::LAST_FRAG,
        frag_length: LEN as u16,
        auth_length: 0,
        call_id,
    }
    .emit(&mut out);
    put_u16(&mut out, max_frag); // max_xmit_frag
    put_u16(&mut out, max_frag); // max_recv_frag
    put_u32(&mut out, 0); // assoc_group_id: ask for a new association
    out.extend_from_slice(&[1, 0, 0, 0]); // n_context_elem = 1, reserved
    put_u16(&mut out, 0); // p_cont_id
    out.extend_from_slice(&[1, 0]); // n_transfer_syn = 1, reserved
    abstract_syntax.emit(&mut out);
    transfer_syntax.emit(&mut out);
    debug_assert_eq!(out.len(), LEN);
    out
}

/// One entry of the bind_ack result list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindResult {
    /// 0 acceptance, 1 user rejection, 2 provider rejection, 3 negotiate ack.
    pub result: u16,
    /// Provider reason, see [`bind_reject_reason_name`].
    pub reason: u16,
    /// Transfer syntax the server picked (nil when rejected).
    pub transfer_syntax: SyntaxId,
}

/// A decoded bind_ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAck {
    /// Call id echoed from the bind.
    pub call_id: u32,
    /// Largest fragment the server will send.
    pub max_xmit_frag: u16,
    /// Largest fragment the server accepts: use it as our fragment limit.
    pub max_recv_frag: u16,
    /// Association group the server assigned.
    pub assoc_group_id: u32,
    /// Secondary address (the server's port as a string, e.g. "135"), NULs removed.
    pub sec_addr: String,
    /// One result per presentation context we offered.
    pub results: Vec<BindResult>,
}

/// Result value meaning the presentation context was accepted.
pub const BIND_RESULT_ACCEPTANCE: u16 = 0;

impl BindAck {
    /// `Ok` when the first (our only) presentation context was accepted.
    pub fn check_accepted(&self) -> Result<(), RpcError> {
        match self.results.first() {
            None => Err(RpcError::NoBindResult),
            Some(r) if r.result == BIND_RESULT_ACCEPTANCE => Ok(()),
            Some(r) => Err(RpcError::BindRejected(r.reason)),
        }
    }
}

/// Decode a bind_ack frame (a complete PDU as delimited by [`co_frame_len`]).
///
/// A bind_nak is reported as [`RpcError::BindNak`], so a caller can use this directly on
/// whatever came back from a bind.
pub fn parse_bind_ack(frame: &[u8]) -> Result<BindAck, RpcError> {
    const WHAT: &str = "RPC bind_ack";
    let hdr = parse_co_header(frame)?;
    if hdr.ptype == co_ptype::BIND_NAK {
        return Err(RpcError::BindNak(parse_bind_nak(frame)?));
    }
    expect_ptype(&hdr, co_ptype::BIND_ACK, "bind_ack")?;
    let pdu = co_pdu_without_auth(frame, &hdr, co_field::ACK_SEC_ADDR + 2, WHAT)?;
    let t = RpcError::Truncated(WHAT);
    let max_xmit_frag = le_u16(pdu, co_field::MAX_XMIT_FRAG).ok_or(t.clone())?;
    let max_recv_frag = le_u16(pdu, co_field::MAX_RECV_FRAG).ok_or(t.clone())?;
    let assoc_group_id = le_u32(pdu, co_field::ASSOC_GROUP).ok_or(t.clone())?;
    let sec_len = usize::from(le_u16(pdu, co_field::ACK_SEC_ADDR).ok_or(t.clone())?);
    let sec_start = co_field::ACK_SEC_ADDR + 2;
    let sec = pdu.get(sec_start..sec_start + sec_len).ok_or(t.clone())?;
    let sec_addr: String = String::from_utf8_lossy(sec).trim_end_matches('\0').to_owned();
    // The result list is aligned to 4 counted from the start of the PDU (not the body).
    let mut off = (sec_start + sec_len + 3) & !3;
    let n_results = usize::from(*pdu.get(off).ok_or(t.clone())?);
    off += 4; // n_results u8 + reserved u8 + reserved2 u16
    const RESULT_LEN: usize = 4 + SyntaxId::LEN;
    // n_results is a u8 so this is small anyway, but size by what is really there.
    let mut results = Vec::with_capacity(n_results.min(pdu.len().saturating_sub(off) / RESULT_LEN));
    for _ in 0..n_results {
        let result = le_u16(pdu, off).ok_or(t.clone())?;
        let reason = le_u16(pdu, off + 2).ok_or(t.clone())?;
        let transfer_syntax = SyntaxId::parse(pdu, off + 4).ok_or(t.clone())?;
        results.push(BindResult { result, reason, transfer_syntax });
        off += RESULT_LEN;
    }
    Ok(BindAck { call_id: hdr.call_id, max_xmit_frag, max_recv_frag, assoc_group_id, sec_addr, results })
}

/// Decode a bind_nak frame and return its `provider_reject_reason`.
pub fn parse_bind_nak(frame: &[u8]) -> Result<u16, RpcError> {
    let hdr = parse_co_header(frame)?;
    expect_ptype(&hdr, co_ptype::BIND_NAK, "bind_nak")?;
    let pdu = co_pdu_without_auth(frame, &hdr, co_field::NAK_REASON + 2, "RPC bind_nak")?;
    le_u16(pdu, co_field::NAK_REASON).ok_or(RpcError::Truncated("RPC bind_nak"))
}

/// Encode a request, split into as many fragments as `max_frag` (the server's
/// max_recv_frag) requires. Each returned `Vec` is one PDU to write in order.
///
/// Stub chunks other than the last are a multiple of 8 bytes, so NDR alignment never
/// straddles a fragment boundary in a way a strict server could object to. `max_frag`
/// values too small to carry any stub are raised to the smallest useful size.
pub fn emit_request(call_id: u32, ctx_id: u16, opnum: u16, stub: &[u8], max_frag: u16) -> Vec<Vec<u8>> {
    let max_frag = usize::from(max_frag).max(CO_REQUEST_HEADER_LEN + 8);
    let chunk = ((max_frag - CO_REQUEST_HEADER_LEN) & !7).max(8);
    let mut pdus = Vec::with_capacity(stub.len() / chunk + 1);
    let mut off = 0;
    loop {
        let part = &stub[off..(off + chunk).min(stub.len())];
        let mut flags = 0;
        if off == 0 {
            flags |= pfc::FIRST_FRAG;
        }
        if off + part.len() == stub.len() {
            flags |= pfc::LAST_FRAG;
        }
        let frag_length = CO_REQUEST_HEADER_LEN + part.len(); // <= max_frag <= u16::MAX
        let mut out = Vec::with_capacity(frag_length);
        CoHeader {
            ptype: co_ptype::REQUEST,
            flags,
            frag_length: frag_length as u16,
            auth_length: 0,
            call_id,
        }
        .emit(&mut out);
        // alloc_hint: the stub bytes still to come, so the server can size its buffer.
        put_u32(&mut out, u32::try_from(stub.len() - off).unwrap_or(u32::MAX));
        put_u16(&mut out, ctx_id);
        put_u16(&mut out, opnum);
        out.extend_from_slice(part);
        pdus.push(out);
        off += part.len();
        if off >= stub.len() {
            return pdus;
        }
    }
}

/// A decoded response fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoResponse<'a> {
    /// Call id (must match our request).
    pub call_id: u32,
    /// `pfc_flags`: FIRST_FRAG / LAST_FRAG matter for reassembly.
    pub flags: u8,
    /// Server's hint of the remaining stub size: informational only, never trusted.
    pub alloc_hint: u32,
    /// Presentation context id.
    pub ctx_id: u16,
    /// Cancel count.
    pub cancel_count: u8,
    /// This fragment's part of the stub.
    pub stub: &'a [u8],
}

/// Decode a response frame. A fault PDU is returned as [`RpcError::Fault`].
pub fn parse_response(frame: &[u8]) -> Result<CoResponse<'_>, RpcError> {
    const WHAT: &str = "RPC response";
    let hdr = parse_co_header(frame)?;
    if hdr.ptype == co_ptype::FAULT {
        return Err(RpcError::Fault(parse_fault(frame)?.status));
    }
    expect_ptype(&hdr, co_ptype::RESPONSE, "response")?;
    let pdu = co_pdu_without_auth(frame, &hdr, CO_REQUEST_HEADER_LEN, WHAT)?;
    Ok(CoResponse {
        call_id: hdr.call_id,
        flags: hdr.flags,
        alloc_hint: le_u32(pdu, co_field::ALLOC_HINT).ok_or(RpcError::Truncated(WHAT))?,
        ctx_id: le_u16(pdu, co_field::P_CONT_ID).ok_or(RpcError::Truncated(WHAT))?,
        cancel_count: pdu[co_field::CANCEL_COUNT],
        stub: &pdu[co_field::STUB..],
    })
}

/// A decoded CO fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoFault {
    /// Call id of the failed call.
    pub call_id: u32,
    /// Fault status, see [`status_name`].
    pub status: u32,
    /// The server says the call was not executed at all.
    pub did_not_execute: bool,
}

/// Decode a fault frame.
pub fn parse_fault(frame: &[u8]) -> Result<CoFault, RpcError> {
    const WHAT: &str = "RPC fault";
    let hdr = parse_co_header(frame)?;
    expect_ptype(&hdr, co_ptype::FAULT, "fault")?;
    let pdu = co_pdu_without_auth(frame, &hdr, co_field::FAULT_STATUS + 4, WHAT)?;
    Ok(CoFault {
        call_id: hdr.call_id,
        status: le_u32(pdu, co_field::FAULT_STATUS).ok_or(RpcError::Truncated(WHAT))?,
        did_not_execute: hdr.flags & pfc::DID_NOT_EXECUTE != 0,
    })
}

/// Any CO PDU a client can receive, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoPdu<'a> {
    /// bind_ack (also alter_context_resp, which has the same layout).
    BindAck(BindAck),
    /// bind_nak with its reject reason.
    BindNak(u16),
    /// A response fragment.
    Response(CoResponse<'a>),
    /// A fault.
    Fault(CoFault),
    /// Anything else, by header only.
    Other(CoHeader),
}

/// Decode any CO frame into a [`CoPdu`].
pub fn parse_co_pdu(frame: &[u8]) -> Result<CoPdu<'_>, RpcError> {
    let hdr = parse_co_header(frame)?;
    Ok(match hdr.ptype {
        co_ptype::BIND_ACK => CoPdu::BindAck(parse_bind_ack(frame)?),
        co_ptype::BIND_NAK => CoPdu::BindNak(parse_bind_nak(frame)?),
        co_ptype::RESPONSE => CoPdu::Response(parse_response(frame)?),
        co_ptype::FAULT => CoPdu::Fault(parse_fault(frame)?),
        _ => CoPdu::Other(hdr),
    })
}

/// Collects the stub of a multi-fragment CO response.
///
/// Feed it complete frames (as delimited by [`co_frame_len`]); it returns the whole stub
/// once the LAST_FRAG fragment arrives. Faults become [`RpcError::Fault`]. Total size and
/// fragment count are capped.
#[derive(Debug, Clone)]
pub struct CoReassembler {
    call_id: u32,
    max_len: usize,
    stub: Vec<u8>,
    fragments: usize,
    max_frags: usize,
}

impl CoReassembler {
    /// Reassemble the reply to `call_id`, refusing more than `max_len` stub bytes
    /// (and more than [`CO_MAX_FRAGMENTS`] fragments).
    pub fn new(call_id: u32, max_len: usize) -> Self {
        CoReassembler { call_id, max_len, stub: Vec::new(), fragments: 0, max_frags: CO_MAX_FRAGMENTS }
    }

    /// Refuse replies of more than `max_frags` fragments: empty fragments cost the
    /// server 24 bytes each and add nothing, so a caller bounds their number too.
    pub fn with_max_fragments(mut self, max_frags: usize) -> Self {
        self.max_frags = max_frags;
        self
    }

    /// Add one frame. `Ok(Some(stub))` when the reply is complete, `Ok(None)` when more
    /// fragments are needed.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, RpcError> {
        let resp = parse_response(frame)?;
        if resp.call_id != self.call_id {
            return Err(RpcError::CallIdMismatch { expected: self.call_id, got: resp.call_id });
        }
        let first = resp.flags & pfc::FIRST_FRAG != 0;
        if first != (self.fragments == 0) {
            return Err(RpcError::BadFragmentSequence(if first {
                "second first fragment"
            } else {
                "missing first fragment"
            }));
        }
        self.fragments += 1;
        if self.fragments > self.max_frags {
            return Err(RpcError::TooManyFragments(self.max_frags));
        }
        if self.stub.len() + resp.stub.len() > self.max_len {
            return Err(RpcError::TooLarge(self.max_len));
        }
        self.stub.extend_from_slice(resp.stub);
        if resp.flags & pfc::LAST_FRAG != 0 {
            self.fragments = 0;
            return Ok(Some(std::mem::take(&mut self.stub)));
        }
        Ok(None)
    }
}

// ------------------------------------------------------------------------------------------
// Connectionless (RPC v4)
// ------------------------------------------------------------------------------------------

/// Byte offsets of the 80-byte CL header (C706 §12.5.1).
#[allow(dead_code)]
mod cl_field {
    pub const RPC_VERS: usize = 0;
    pub const PTYPE: usize = 1;
    pub const FLAGS1: usize = 2;
    pub const FLAGS2: usize = 3;
    pub const DREP: usize = 4;
    pub const SERIAL_HI: usize = 7;
    pub const OBJECT: usize = 8;
    pub const INTERFACE: usize = 24;
    pub const ACTIVITY: usize = 40;
    pub const SERVER_BOOT: usize = 56;
    pub const IF_VERS: usize = 60;
    pub const SEQNUM: usize = 64;
    pub const OPNUM: usize = 68;
    pub const IHINT: usize = 70;
    pub const AHINT: usize = 72;
    pub const LEN: usize = 74;
    pub const FRAGNUM: usize = 76;
    pub const AUTH_PROTO: usize = 78;
    pub const SERIAL_LO: usize = 79;
}

/// Length of the CL header.
pub const CL_HEADER_LEN: usize = 80;

/// CL packet types (C706 §12.5.2).
pub mod cl_ptype {
    pub const REQUEST: u8 = 0;
    pub const PING: u8 = 1;
    pub const RESPONSE: u8 = 2;
    pub const FAULT: u8 = 3;
    pub const WORKING: u8 = 4;
    pub const NOCALL: u8 = 5;
    pub const REJECT: u8 = 6;
    pub const ACK: u8 = 7;
    pub const QUIT: u8 = 8;
    pub const FACK: u8 = 9;
    pub const QUACK: u8 = 10;
}

/// CL `flags1` bits. 0x01 ("forwarded") is internal to the runtime and never sent.
pub mod cl_flags1 {
    pub const LASTFRAG: u8 = 0x02;
    pub const FRAG: u8 = 0x04;
    pub const NOFACK: u8 = 0x08;
    pub const MAYBE: u8 = 0x10;
    pub const IDEMPOTENT: u8 = 0x20;
    pub const BROADCAST: u8 = 0x40;
    pub const BLAST_OUTS: u8 = 0x80;
}

/// CL `flags2` bits.
pub mod cl_flags2 {
    pub const CANCEL_PENDING: u8 = 0x02;
    /// Set by Windows on callbacks that are unrelated to the call in progress.
    pub const UNRELATED: u8 = 0x04;
}

/// "No hint" value for ihint / ahint.
const CL_NO_HINT: u16 = 0xffff;

/// The 80-byte CL header. Always little-endian when emitted; big-endian peers are
/// rejected on parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClHeader {
    /// Packet type, see [`cl_ptype`].
    pub ptype: u8,
    /// See [`cl_flags1`].
    pub flags1: u8,
    /// See [`cl_flags2`].
    pub flags2: u8,
    /// Packet serial number (serial_hi << 8 | serial_lo).
    pub serial: u16,
    /// Object UUID (nil for us).
    pub object: Uuid,
    /// Interface UUID.
    pub interface: Uuid,
    /// Activity UUID: identifies the client "thread" and matches replies to requests.
    pub activity: Uuid,
    /// Server boot time: 0 on the first call, then echoed from the server.
    pub server_boot: u32,
    /// Interface version (major in the low 16 bits, minor in the high 16 bits).
    pub if_vers: u32,
    /// Sequence number of the call within the activity.
    pub seq: u32,
    /// Operation number.
    pub opnum: u16,
    /// Interface hint.
    pub ihint: u16,
    /// Activity hint.
    pub ahint: u16,
    /// Body length.
    pub body_len: u16,
    /// Fragment number.
    pub fragnum: u16,
    /// Authentication protocol (0 = none).
    pub auth_proto: u8,
}

impl ClHeader {
    /// Append the 80-byte header.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let [serial_hi, serial_lo] = self.serial.to_be_bytes();
        out.extend_from_slice(&[4, self.ptype, self.flags1, self.flags2]);
        out.extend_from_slice(&DREP_LE[..3]);
        out.push(serial_hi);
        out.extend_from_slice(&self.object.to_bytes_le());
        out.extend_from_slice(&self.interface.to_bytes_le());
        out.extend_from_slice(&self.activity.to_bytes_le());
        put_u32(out, self.server_boot);
        put_u32(out, self.if_vers);
        put_u32(out, self.seq);
        put_u16(out, self.opnum);
        put_u16(out, self.ihint);
        put_u16(out, self.ahint);
        put_u16(out, self.body_len);
        put_u16(out, self.fragnum);
        out.push(self.auth_proto);
        out.push(serial_lo);
    }

    /// Parse and validate the header at the start of `buf` (version 4, little-endian).
    pub fn parse(buf: &[u8]) -> Result<Self, RpcError> {
        let hdr = buf.get(..CL_HEADER_LEN).ok_or(RpcError::Truncated("RPC datagram header"))?;
        if hdr[cl_field::RPC_VERS] != 4 {
            return Err(RpcError::BadVersion(hdr[cl_field::RPC_VERS], 0));
        }
        check_drep(hdr[cl_field::DREP])?;
        // All reads below are within the 80 bytes just checked.
        let u16_at = |o| le_u16(hdr, o).unwrap_or_default();
        let u32_at = |o| le_u32(hdr, o).unwrap_or_default();
        let uuid_at = |o| uuid_le(hdr, o).unwrap_or_default();
        Ok(ClHeader {
            ptype: hdr[cl_field::PTYPE],
            flags1: hdr[cl_field::FLAGS1],
            flags2: hdr[cl_field::FLAGS2],
            serial: u16::from_be_bytes([hdr[cl_field::SERIAL_HI], hdr[cl_field::SERIAL_LO]]),
            object: uuid_at(cl_field::OBJECT),
            interface: uuid_at(cl_field::INTERFACE),
            activity: uuid_at(cl_field::ACTIVITY),
            server_boot: u32_at(cl_field::SERVER_BOOT),
            if_vers: u32_at(cl_field::IF_VERS),
            seq: u32_at(cl_field::SEQNUM),
            opnum: u16_at(cl_field::OPNUM),
            ihint: u16_at(cl_field::IHINT),
            ahint: u16_at(cl_field::AHINT),
            body_len: u16_at(cl_field::LEN),
            fragnum: u16_at(cl_field::FRAGNUM),
            auth_proto: hdr[cl_field::AUTH_PROTO],
        })
    }

    /// A header for a packet we send back about the call `other` describes: same
    /// object, interface, activity, boot time, version, sequence and opnum.
    fn reply_to(other: &ClHeader, ptype: u8, body_len: u16) -> Self {
        ClHeader {
            ptype,
            flags1: 0,
            flags2: 0,
            serial: 0,
            object: other.object,
            interface: other.interface,
            activity: other.activity,
            server_boot: other.server_boot,
            if_vers: other.if_vers,
            seq: other.seq,
            opnum: other.opnum,
            ihint: CL_NO_HINT,
            ahint: CL_NO_HINT,
            body_len,
            fragnum: other.fragnum,
            auth_proto: 0,
        }
    }
}

/// The identity of one CL call: what goes in every header of its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClCall {
    /// Object UUID (nil for the endpoint mapper).
    pub object: Uuid,
    /// Interface UUID.
    pub interface: Uuid,
    /// Interface version as the header carries it (major | minor << 16).
    pub if_vers: u32,
    /// Activity UUID: random per run, stable across calls.
    pub activity: Uuid,
    /// 0 on the first call, then the value from the server's reply or callback.
    pub server_boot: u32,
    /// Call sequence number within the activity.
    pub seq: u32,
    /// Operation number.
    pub opnum: u16,
}

impl ClCall {
    /// An endpoint-mapper call (EPM v3.0, nil object) on `activity`.
    pub fn epm(activity: Uuid, seq: u32, server_boot: u32, opnum: u16) -> Self {
        ClCall {
            object: Uuid::nil(),
            interface: EPM_SYNTAX.uuid,
            if_vers: u32::from(EPM_SYNTAX.major) | u32::from(EPM_SYNTAX.minor) << 16,
            activity,
            server_boot,
            seq,
            opnum,
        }
    }
}

/// Encode a single-packet CL request (fragnum 0, FRAG clear, serial 0).
///
/// `flags1` is usually 0 or [`cl_flags1::IDEMPOTENT`]. The stub must fit one datagram:
/// anything above 65535 - 80 bytes is refused (the endpoint-mapper stub is 40 bytes).
pub fn emit_cl_request(call: &ClCall, stub: &[u8], flags1: u8) -> Result<Vec<u8>, RpcError> {
    let body_len = u16::try_from(stub.len())
        .ok()
        .filter(|&l| usize::from(l) <= usize::from(u16::MAX) - CL_HEADER_LEN)
        .ok_or(RpcError::StubTooLarge(stub.len()))?;
    let mut out = Vec::with_capacity(CL_HEADER_LEN + stub.len());
    ClHeader {
        ptype: cl_ptype::REQUEST,
        // FRAG/LASTFRAG only mean something together; a single packet leaves both clear.
        flags1: flags1 & !(cl_flags1::FRAG | cl_flags1::LASTFRAG | 0x01),
        flags2: 0,
        serial: 0,
        object: call.object,
        interface: call.interface,
        activity: call.activity,
        server_boot: call.server_boot,
        if_vers: call.if_vers,
        seq: call.seq,
        opnum: call.opnum,
        ihint: CL_NO_HINT,
        ahint: CL_NO_HINT,
        body_len,
        fragnum: 0,
        auth_proto: 0,
    }
    .emit(&mut out);
    out.extend_from_slice(stub);
    Ok(out)
}

/// A response fragment (or whole response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClResponse<'a> {
    /// Fragment number.
    pub fragnum: u16,
    /// FRAG flag: the response is fragmented.
    pub frag: bool,
    /// LASTFRAG flag.
    pub last_frag: bool,
    /// NOFACK flag: the server does not want a fack for this fragment.
    pub nofack: bool,
    /// Stub bytes of this fragment.
    pub body: &'a [u8],
}

impl ClResponse<'_> {
    /// Whether this fragment completes the response: an unfragmented response, or the
    /// fragment flagged LASTFRAG. (Some stacks set LASTFRAG on single packets; that
    /// reads the same.)
    pub fn is_last(&self) -> bool {
        !self.frag || self.last_frag
    }
}

/// A fack body (C706 §12.5.3.4, DCE `rpc_dg_fackpkt_body_t`); also optionally carried by
/// nocall. Only the first selective-ack word is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FackBody {
    /// Body version (we send 1).
    pub vers: u8,
    /// Receive window in fragments.
    pub window_size: u16,
    /// Largest transport SDU.
    pub max_tsdu: u32,
    /// Largest fragment.
    pub max_frag_size: u32,
    /// Serial number of the packet that caused this fack.
    pub serial_num: u16,
    /// Number of selective-ack words on the wire.
    pub selack_len: u16,
    /// First selective-ack word: bit i set = fragment (header fragnum + 1 + i) received.
    pub selack: u32,
}

impl FackBody {
    /// Length of what we emit: fixed part + one selack word.
    pub const LEN: usize = 20;
    const FIXED_LEN: usize = 16;

    /// Append the 20-byte encoding. Like the DCE runtime, the body always has room for
    /// one selack word; `selack_len` on the wire is 1 only when `selack` is non-zero (the
    /// `selack_len` field of `self` is ignored).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.vers);
        out.push(0); // pad
        put_u16(out, self.window_size);
        put_u32(out, self.max_tsdu);
        put_u32(out, self.max_frag_size);
        put_u16(out, self.serial_num);
        put_u16(out, u16::from(self.selack != 0));
        put_u32(out, self.selack);
    }

    /// Decode; `None` if the body is shorter than the fixed 16 bytes (nocall often has
    /// no body at all).
    pub fn parse(body: &[u8]) -> Option<Self> {
        if body.len() < Self::FIXED_LEN {
            return None;
        }
        let selack_len = le_u16(body, 14)?;
        Some(FackBody {
            vers: body[0],
            window_size: le_u16(body, 2)?,
            max_tsdu: le_u32(body, 4)?,
            max_frag_size: le_u32(body, 8)?,
            serial_num: le_u16(body, 12)?,
            selack_len,
            selack: if selack_len > 0 { le_u32(body, 16).unwrap_or(0) } else { 0 },
        })
    }
}

/// What a CL packet means to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClBody<'a> {
    /// A request sent to us: a callback such as conv_who_are_you2.
    Request(&'a [u8]),
    /// Response data.
    Response(ClResponse<'a>),
    /// The call failed with this status.
    Fault(u32),
    /// The server refused the call with this status.
    Reject(u32),
    /// The server is still working; keep waiting.
    Working,
    /// The server has no record of the call; retransmit. May carry a fack body.
    Nocall(Option<FackBody>),
    /// Fragment acknowledgement for our (fragmented) request.
    Fack(Option<FackBody>),
    /// Ack.
    Ack,
    /// Ping (a server pinging us during a callback).
    Ping,
    /// Cancel request.
    Quit,
    /// Cancel acknowledgement.
    Quack,
    /// Unknown packet type.
    Other(u8),
}

/// A decoded CL packet: header plus typed body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClPdu<'a> {
    /// The header (match `activity` and `seq` against the outstanding call).
    pub header: ClHeader,
    /// The typed body.
    pub body: ClBody<'a>,
}

/// Decode one CL datagram.
///
/// The body is exactly `len` bytes after the header; any trailing bytes (an auth
/// verifier) are ignored.
pub fn parse_cl_pdu(buf: &[u8]) -> Result<ClPdu<'_>, RpcError> {
    let header = ClHeader::parse(buf)?;
    let body = buf
        .get(CL_HEADER_LEN..CL_HEADER_LEN + usize::from(header.body_len))
        .ok_or(RpcError::Truncated("RPC datagram"))?;
    let status = |what| le_u32(body, 0).ok_or(RpcError::Truncated(what));
    let body = match header.ptype {
        cl_ptype::REQUEST => ClBody::Request(body),
        cl_ptype::RESPONSE => ClBody::Response(ClResponse {
            fragnum: header.fragnum,
            frag: header.flags1 & cl_flags1::FRAG != 0,
            last_frag: header.flags1 & cl_flags1::LASTFRAG != 0,
            nofack: header.flags1 & cl_flags1::NOFACK != 0,
            body,
        }),
        cl_ptype::FAULT => ClBody::Fault(status("RPC fault")?),
        cl_ptype::REJECT => ClBody::Reject(status("RPC reject")?),
        cl_ptype::WORKING => ClBody::Working,
        cl_ptype::NOCALL => ClBody::Nocall(FackBody::parse(body)),
        cl_ptype::FACK => ClBody::Fack(FackBody::parse(body)),
        cl_ptype::ACK => ClBody::Ack,
        cl_ptype::PING => ClBody::Ping,
        cl_ptype::QUIT => ClBody::Quit,
        cl_ptype::QUACK => ClBody::Quack,
        other => ClBody::Other(other),
    };
    Ok(ClPdu { header, body })
}

/// Encode a fack for the response whose header is `resp`, acknowledging fragments up to
/// `fragnum` (the highest received in order), with `body` describing our receive side.
pub fn emit_fack(resp: &ClHeader, fragnum: u16, body: &FackBody) -> Vec<u8> {
    let mut out = Vec::with_capacity(CL_HEADER_LEN + FackBody::LEN);
    let mut hdr = ClHeader::reply_to(resp, cl_ptype::FACK, FackBody::LEN as u16);
    hdr.fragnum = fragnum;
    hdr.emit(&mut out);
    body.emit(&mut out);
    out
}

/// Encode an ack (no body) for the call whose response header is `resp`, telling the
/// server it can free the call's state now rather than on a timer.
pub fn emit_ack(resp: &ClHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(CL_HEADER_LEN);
    ClHeader::reply_to(resp, cl_ptype::ACK, 0).emit(&mut out);
    out
}

/// Default cap on the number of CL fragments in one reply.
pub const CL_DEFAULT_MAX_FRAGMENTS: usize = 4096;

/// Collects CL response fragments by fragnum, in any order, duplicates ignored.
#[derive(Debug, Clone)]
pub struct ClReassembler {
    frags: BTreeMap<u16, Vec<u8>>,
    last: Option<u16>,
    total: usize,
    max_frags: usize,
    max_len: usize,
}

impl ClReassembler {
    /// Accept at most `max_frags` fragments and `max_len` stub bytes.
    pub fn new(max_frags: usize, max_len: usize) -> Self {
        ClReassembler { frags: BTreeMap::new(), last: None, total: 0, max_frags, max_len }
    }

    /// Add a decoded response; see [`ClReassembler::push`].
    pub fn push_response(&mut self, resp: &ClResponse<'_>) -> Result<Option<Vec<u8>>, RpcError> {
        self.push(resp.fragnum, resp.is_last(), resp.body)
    }

    /// Add fragment `fragnum`. `Ok(Some(stub))` once every fragment from 0 through the
    /// last one is present. A retransmitted fragment is ignored.
    pub fn push(&mut self, fragnum: u16, is_last: bool, body: &[u8]) -> Result<Option<Vec<u8>>, RpcError> {
        if usize::from(fragnum) >= self.max_frags {
            return Err(RpcError::TooManyFragments(self.max_frags));
        }
        if is_last {
            match self.last {
                Some(l) if l != fragnum => {
                    return Err(RpcError::BadFragmentSequence("two different last fragments"));
                }
                _ => {}
            }
            if self.frags.range(fragnum.saturating_add(1)..).next().is_some() {
                return Err(RpcError::BadFragmentSequence("fragment after the last one"));
            }
            self.last = Some(fragnum);
        } else if self.last.is_some_and(|l| fragnum >= l) {
            return Err(RpcError::BadFragmentSequence("fragment after the last one"));
        }
        if self.frags.contains_key(&fragnum) {
            return Ok(None); // retransmission
        }
        if self.total + body.len() > self.max_len {
            return Err(RpcError::TooLarge(self.max_len));
        }
        self.total += body.len();
        self.frags.insert(fragnum, body.to_vec());
        match self.last {
            // Keys are unique and all <= last, so a full count means 0..=last are there.
            Some(l) if self.frags.len() == usize::from(l) + 1 => {
                let mut stub = Vec::with_capacity(self.total);
                for part in std::mem::take(&mut self.frags).into_values() {
                    stub.extend_from_slice(&part);
                }
                self.last = None;
                self.total = 0;
                Ok(Some(stub))
            }
            _ => Ok(None),
        }
    }

    /// The highest fragnum such that all fragments 0..=it are present: what a fack
    /// acknowledges. `None` if fragment 0 is missing.
    pub fn highest_in_order(&self) -> Option<u16> {
        let mut expect: u16 = 0;
        let mut highest = None;
        // Bounded by the number of stored fragments.
        for &k in self.frags.keys() {
            if k != expect {
                break;
            }
            highest = Some(k);
            match expect.checked_add(1) {
                Some(n) => expect = n,
                None => break,
            }
        }
        highest
    }

    /// The fragnum to put in a fack header: [`Self::highest_in_order`], or 0xFFFF
    /// ("none yet", so that fragnum + 1 = 0) when fragment 0 is missing.
    pub fn fack_fragnum(&self) -> u16 {
        self.highest_in_order().unwrap_or(u16::MAX)
    }

    /// The first selective-ack word for a fack carrying [`Self::fack_fragnum`]: bit i set
    /// when fragment (fack_fragnum + 1 + i) is already held (as in the DCE runtime, the
    /// first bit is the fragment after the acknowledged one).
    pub fn selack(&self) -> u32 {
        let base = u32::from(self.fack_fragnum().wrapping_add(1));
        let mut word = 0u32;
        for &k in self.frags.keys() {
            let k = u32::from(k);
            if k >= base && k - base < 32 {
                word |= 1 << (k - base);
            }
        }
        word
    }
}

// ------------------------------------------------------------------------------------------
// conv_who_are_you2 callback (MS-RPCE §3.2.3.5.4.2, C706 Appendix P)
// ------------------------------------------------------------------------------------------

/// The `conv` interface the server calls back on: `333a2276-0000-0000-0d00-00809c000000`.
pub const CONV_UUID: Uuid = Uuid::from_u128(0x333a2276_0000_0000_0d00_00809c000000);
/// `conv_who_are_you2` opnum.
pub const CONV_WHO_ARE_YOU2_OPNUM: u16 = 1;

/// The arguments of a conv_who_are_you2 callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhoAreYou2 {
    /// The activity the server is asking about (ours).
    pub actuid: Uuid,
    /// The server's boot time: use it as `server_boot` in later requests.
    pub boot_time: u32,
}

/// Recognise a conv_who_are_you2 callback (a request on the conv interface, opnum 1).
pub fn parse_conv_who_are_you2(pdu: &ClPdu<'_>) -> Option<WhoAreYou2> {
    match pdu.body {
        ClBody::Request(body)
            if pdu.header.interface == CONV_UUID && pdu.header.opnum == CONV_WHO_ARE_YOU2_OPNUM =>
        {
            Some(WhoAreYou2 { actuid: uuid_le(body, 0)?, boot_time: le_u32(body, 16)? })
        }
        _ => None,
    }
}

/// Encode our answer to a conv_who_are_you2 callback whose header is `callback`.
///
/// The response carries the callback's activity, sequence, interface and opnum, and the
/// body `seq` (our current sequence number), `cas_uuid` (stable per process) and
/// status 0.
pub fn emit_conv_who_are_you2_response(callback: &ClHeader, our_seq: u32, cas_uuid: Uuid) -> Vec<u8> {
    const BODY_LEN: u16 = 4 + 16 + 4;
    let mut out = Vec::with_capacity(CL_HEADER_LEN + usize::from(BODY_LEN));
    let mut hdr = ClHeader::reply_to(callback, cl_ptype::RESPONSE, BODY_LEN);
    hdr.fragnum = 0;
    hdr.emit(&mut out);
    put_u32(&mut out, our_seq);
    out.extend_from_slice(&cas_uuid.to_bytes_le());
    put_u32(&mut out, 0); // status: rpc_s_ok
    out
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// protocols.md §3.2: minimal EPM bind.
    #[rustfmt::skip]
    const BIND_72: [u8; 72] = [
        0x05, 0x00, 0x0b, 0x03, 0x10, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0xb8, 0x10, 0xb8, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa,
        0x03, 0x00, 0x00, 0x00, 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00,
        0x2b, 0x10, 0x48, 0x60, 0x02, 0x00, 0x00, 0x00,
    ];

    /// A bind_ack as Windows sends it: sec_addr "135\0" (len 4) puts the result list at
    /// 26 + 4 = 30, padded to 32.
    fn bind_ack_frame(result: u16, reason: u16) -> Vec<u8> {
        let mut body = Vec::new();
        put_u16(&mut body, 5840);
        put_u16(&mut body, 5840);
        put_u32(&mut body, 0x1234);
        put_u16(&mut body, 4);
        body.extend_from_slice(b"135\0");
        body.extend_from_slice(&[0, 0]); // pad to 32 from PDU start
        body.extend_from_slice(&[1, 0, 0, 0]);
        put_u16(&mut body, result);
        put_u16(&mut body, reason);
        NDR_SYNTAX.emit(&mut body);
        co_frame(co_ptype::BIND_ACK, pfc::FIRST_FRAG | pfc::LAST_FRAG, 1, &body)
    }

    fn co_frame(ptype: u8, flags: u8, call_id: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        CoHeader { ptype, flags, frag_length: (CO_HEADER_LEN + body.len()) as u16, auth_length: 0, call_id }
            .emit(&mut out);
        out.extend_from_slice(body);
        out
    }

    fn response_frame(flags: u8, call_id: u32, stub: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        put_u32(&mut body, stub.len() as u32);
        put_u16(&mut body, 0);
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(stub);
        co_frame(co_ptype::RESPONSE, flags, call_id, &body)
    }

    #[test]
    fn bind_matches_reference_bytes() {
        let b = emit_bind(1, 4280, EPM_SYNTAX, NDR_SYNTAX);
        assert_eq!(b, BIND_72);
        assert_eq!(co_frame_len(&b), Some(72));
        let h = parse_co_header(&b).unwrap();
        assert_eq!((h.ptype, h.flags, h.frag_length, h.call_id), (11, 3, 72, 1));
    }

    #[test]
    fn bind_ack_accept_and_reject() {
        let ack = parse_bind_ack(&bind_ack_frame(0, 0)).unwrap();
        assert_eq!(ack.max_recv_frag, 5840);
        assert_eq!(ack.assoc_group_id, 0x1234);
        assert_eq!(ack.sec_addr, "135");
        assert_eq!(ack.results.len(), 1);
        assert_eq!(ack.results[0].transfer_syntax, NDR_SYNTAX);
        assert!(ack.check_accepted().is_ok());
        let rej = parse_bind_ack(&bind_ack_frame(2, 1)).unwrap();
        assert_eq!(rej.check_accepted(), Err(RpcError::BindRejected(1)));
        assert!(matches!(parse_co_pdu(&bind_ack_frame(0, 0)), Ok(CoPdu::BindAck(_))));
    }

    #[test]
    fn bind_ack_empty_sec_addr_pads_from_pdu_start() {
        // sec_addr length 0: results list at 26 rounded up to 28.
        let mut body = Vec::new();
        put_u16(&mut body, 4280);
        put_u16(&mut body, 4280);
        put_u32(&mut body, 0);
        put_u16(&mut body, 0);
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&[1, 0, 0, 0]);
        put_u16(&mut body, 0);
        put_u16(&mut body, 0);
        NDR_SYNTAX.emit(&mut body);
        let f = co_frame(co_ptype::BIND_ACK, 3, 1, &body);
        let ack = parse_bind_ack(&f).unwrap();
        assert_eq!(ack.sec_addr, "");
        assert_eq!(ack.results[0].transfer_syntax, NDR_SYNTAX);
    }

    #[test]
    fn bind_nak_is_reported() {
        let f = co_frame(co_ptype::BIND_NAK, 3, 1, &[4, 0]);
        assert_eq!(parse_bind_nak(&f), Ok(4));
        assert_eq!(parse_bind_ack(&f), Err(RpcError::BindNak(4)));
        assert_eq!(parse_co_pdu(&f), Ok(CoPdu::BindNak(4)));
    }

    #[test]
    fn request_matches_reference_bytes() {
        #[rustfmt::skip]
        const REQ_64: [u8; 64] = [
            0x05, 0x00, 0x00, 0x03, 0x10, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
            0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf4, 0x01, 0x00, 0x00,
        ];
        let pdus = emit_request(2, 0, 2, &REQ_64[24..], 5840);
        assert_eq!(pdus.len(), 1);
        assert_eq!(pdus[0], REQ_64);
    }

    #[test]
    fn request_fragments_when_stub_exceeds_max_frag() {
        let stub: Vec<u8> = (0..100u8).collect();
        // 24 header + 40 stub per fragment (48 rounded down to a multiple of 8 is 40).
        let pdus = emit_request(7, 0, 2, &stub, 24 + 44);
        assert_eq!(pdus.len(), 3);
        let mut joined = Vec::new();
        for (i, p) in pdus.iter().enumerate() {
            let h = parse_co_header(p).unwrap();
            assert_eq!(usize::from(h.frag_length), p.len());
            assert!(p.len() <= 68);
            assert_eq!(h.flags & pfc::FIRST_FRAG != 0, i == 0);
            assert_eq!(h.flags & pfc::LAST_FRAG != 0, i == 2);
            assert_eq!(le_u16(p, co_field::OPNUM), Some(2));
            joined.extend_from_slice(&p[24..]);
        }
        assert_eq!(joined, stub);
        assert_eq!(le_u32(&pdus[1], co_field::ALLOC_HINT), Some(60));
        // Empty stub and absurd max_frag still produce one well-formed PDU.
        let p = emit_request(1, 0, 0, &[], 0);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0][3], 3);
    }

    #[test]
    fn multi_fragment_response_is_reassembled() {
        let stub: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let frames = [
            response_frame(pfc::FIRST_FRAG, 9, &stub[..400]),
            response_frame(0, 9, &stub[400..800]),
            response_frame(pfc::LAST_FRAG, 9, &stub[800..]),
        ];
        // Simulate a TCP stream cut into frames by co_frame_len.
        let stream: Vec<u8> = frames.concat();
        let mut r = CoReassembler::new(9, DEFAULT_MAX_STUB);
        let mut rest = &stream[..];
        let mut out = None;
        for _ in 0..10 {
            let Some(n) = co_frame_len(rest) else { break };
            let (frame, tail) = rest.split_at(n);
            rest = tail;
            if let Some(s) = r.push(frame).unwrap() {
                out = Some(s);
                break;
            }
        }
        assert_eq!(out.as_deref(), Some(&stub[..]));
    }

    #[test]
    fn reassembler_rejects_bad_sequences() {
        let mut r = CoReassembler::new(1, 100);
        assert!(matches!(r.push(&response_frame(0, 1, b"x")), Err(RpcError::BadFragmentSequence(_))));
        let mut r = CoReassembler::new(1, 100);
        assert!(matches!(
            r.push(&response_frame(3, 2, b"x")),
            Err(RpcError::CallIdMismatch { expected: 1, got: 2 })
        ));
        let mut r = CoReassembler::new(1, 10);
        r.push(&response_frame(1, 1, &[0; 8])).unwrap();
        assert_eq!(r.push(&response_frame(0, 1, &[0; 8])), Err(RpcError::TooLarge(10)));
        // An endless run of empty middle fragments ends at the fragment cap.
        let mut r = CoReassembler::new(1, 100).with_max_fragments(3);
        r.push(&response_frame(1, 1, b"")).unwrap();
        r.push(&response_frame(0, 1, b"")).unwrap();
        r.push(&response_frame(0, 1, b"")).unwrap();
        assert_eq!(r.push(&response_frame(0, 1, b"")), Err(RpcError::TooManyFragments(3)));
    }

    #[test]
    fn fault_pdu() {
        let mut body = Vec::new();
        put_u32(&mut body, 0);
        put_u16(&mut body, 0);
        body.extend_from_slice(&[0, 0]);
        put_u32(&mut body, 0x1c01_0003);
        put_u32(&mut body, 0);
        let f = co_frame(co_ptype::FAULT, 3 | pfc::DID_NOT_EXECUTE, 2, &body);
        let fault = parse_fault(&f).unwrap();
        assert_eq!(fault.status, 0x1c01_0003);
        assert!(fault.did_not_execute);
        assert_eq!(parse_response(&f), Err(RpcError::Fault(0x1c01_0003)));
        let mut r = CoReassembler::new(2, 100);
        assert_eq!(r.push(&f), Err(RpcError::Fault(0x1c01_0003)));
        assert_eq!(
            RpcError::Fault(0x1c01_0003).to_string(),
            "server returned RPC fault 0x1c010003 (nca_unk_if)"
        );
    }

    #[test]
    fn co_header_rejections() {
        let mut b = BIND_72;
        b[4] = 0x00; // big-endian drep
        assert_eq!(parse_co_header(&b), Err(RpcError::BigEndian));
        assert_eq!(co_frame_len(&b), Some(0x4800));
        let mut b = BIND_72;
        b[0] = 4;
        assert_eq!(parse_co_header(&b), Err(RpcError::BadVersion(4, 0)));
        let mut b = BIND_72;
        b[8] = 3;
        assert_eq!(parse_co_header(&b), Err(RpcError::BadFragLength(3)));
        assert_eq!(co_frame_len(&b), Some(16));
        assert_eq!(co_frame_len(&b[..9]), None);
    }

    #[test]
    fn auth_trailer_is_stripped_and_hostile_auth_length_rejected() {
        let mut body = Vec::new();
        put_u32(&mut body, 4);
        put_u32(&mut body, 0);
        body.extend_from_slice(b"ABCD\0\0\0\0"); // 4 stub + 4 auth pad
        body.extend_from_slice(&[10, 2, 4, 0, 0, 0, 0, 0]); // sec_trailer, pad 4
        body.extend_from_slice(&[0xaa; 16]);
        let mut f = co_frame(co_ptype::RESPONSE, 3, 1, &body);
        f[co_field::AUTH_LENGTH] = 16;
        assert_eq!(parse_response(&f).unwrap().stub, b"ABCD");
        f[co_field::AUTH_LENGTH] = 0xff;
        f[co_field::AUTH_LENGTH + 1] = 0xff;
        assert!(parse_response(&f).is_err());
    }

    #[test]
    fn co_truncation_never_panics() {
        let frames = [
            BIND_72.to_vec(),
            bind_ack_frame(0, 0),
            response_frame(3, 1, &[1, 2, 3, 4, 5]),
            co_frame(co_ptype::BIND_NAK, 3, 1, &[4, 0]),
        ];
        for f in &frames {
            for n in 0..f.len() {
                let cut = &f[..n];
                let _ = parse_co_pdu(cut);
                let _ = CoReassembler::new(1, 100).push(cut);
                // Also with frag_length claiming only the cut length.
                let mut g = cut.to_vec();
                if g.len() >= 10 {
                    g[8..10].copy_from_slice(&(n as u16).to_le_bytes());
                    let _ = parse_co_pdu(&g);
                }
            }
            assert!(parse_co_pdu(f).is_ok());
        }
    }

    // ---------------------------------------------------------------- CL

    /// protocols.md §3.5: CL ept_lookup request, 120 bytes.
    #[rustfmt::skip]
    const CL_REQ_120: [u8; 120] = [
        0x04, 0x00, 0x20, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11,
        0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa, 0x10, 0xb8, 0xa7, 0x6b, 0xad, 0x9d, 0xd1, 0x41,
        0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    ];

    fn activity() -> Uuid {
        Uuid::from_bytes_le(CL_REQ_120[40..56].try_into().unwrap())
    }

    fn cl_packet(ptype: u8, flags1: u8, fragnum: u16, body: &[u8]) -> Vec<u8> {
        let mut hdr = ClHeader::parse(&CL_REQ_120).unwrap();
        hdr.ptype = ptype;
        hdr.flags1 = flags1;
        hdr.fragnum = fragnum;
        hdr.server_boot = 0x5eed;
        hdr.body_len = body.len() as u16;
        let mut out = Vec::new();
        hdr.emit(&mut out);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn cl_request_matches_reference_bytes() {
        let call = ClCall::epm(activity(), 0, 0, 2);
        let pkt = emit_cl_request(&call, &CL_REQ_120[80..], cl_flags1::IDEMPOTENT).unwrap();
        assert_eq!(pkt, CL_REQ_120);
        let hdr = ClHeader::parse(&pkt).unwrap();
        assert_eq!(hdr.activity.to_string(), "6ba7b810-9dad-41d1-80b4-00c04fd430c8");
        let mut again = Vec::new();
        hdr.emit(&mut again);
        assert_eq!(again, pkt[..80]);
        assert!(matches!(parse_cl_pdu(&pkt).unwrap().body, ClBody::Request(b) if b.len() == 40));
        assert_eq!(emit_cl_request(&call, &[0; 70_000], 0), Err(RpcError::StubTooLarge(70_000)));
    }

    #[test]
    fn cl_packet_kinds() {
        let p = cl_packet(cl_ptype::FAULT, 0, 0, &0x1c01_0002u32.to_le_bytes());
        assert_eq!(parse_cl_pdu(&p).unwrap().body, ClBody::Fault(0x1c01_0002));
        let p = cl_packet(cl_ptype::REJECT, 0, 0, &0x1c01_0003u32.to_le_bytes());
        assert_eq!(parse_cl_pdu(&p).unwrap().body, ClBody::Reject(0x1c01_0003));
        let p = cl_packet(cl_ptype::REJECT, 0, 0, &[1, 2]);
        assert!(parse_cl_pdu(&p).is_err());
        assert_eq!(parse_cl_pdu(&cl_packet(4, 0, 0, &[])).unwrap().body, ClBody::Working);
        assert_eq!(parse_cl_pdu(&cl_packet(5, 0, 0, &[])).unwrap().body, ClBody::Nocall(None));
        let p = cl_packet(cl_ptype::RESPONSE, cl_flags1::NOFACK, 0, b"stub");
        let pdu = parse_cl_pdu(&p).unwrap();
        assert_eq!(pdu.header.server_boot, 0x5eed);
        let ClBody::Response(r) = pdu.body else { panic!() };
        assert!(r.nofack && !r.frag && r.is_last());
        assert_eq!(r.body, b"stub");
        // Big-endian drep, wrong version, short packets.
        let mut be = p.clone();
        be[4] = 0;
        assert_eq!(parse_cl_pdu(&be), Err(RpcError::BigEndian));
        let mut v5 = p.clone();
        v5[0] = 5;
        assert!(matches!(parse_cl_pdu(&v5), Err(RpcError::BadVersion(5, _))));
        for n in 0..p.len() {
            assert!(parse_cl_pdu(&p[..n]).is_err());
        }
    }

    #[test]
    fn fack_and_ack_bytes() {
        let resp = ClHeader::parse(&cl_packet(cl_ptype::RESPONSE, cl_flags1::FRAG, 3, &[])).unwrap();
        let body = FackBody {
            vers: 1,
            window_size: 8,
            max_tsdu: 4096,
            max_frag_size: 1024,
            serial_num: 3,
            selack_len: 0,
            selack: 0,
        };
        let f = emit_fack(&resp, 2, &body);
        let mut want = CL_REQ_120[..80].to_vec();
        want[1] = cl_ptype::FACK;
        want[2] = 0; // flags1
        want[56..60].copy_from_slice(&0x5eedu32.to_le_bytes());
        want[74..76].copy_from_slice(&20u16.to_le_bytes());
        want[76..78].copy_from_slice(&2u16.to_le_bytes());
        want.extend_from_slice(&[1, 0, 8, 0, 0x00, 0x10, 0, 0, 0x00, 0x04, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(f, want);
        let pdu = parse_cl_pdu(&f).unwrap();
        assert_eq!(pdu.body, ClBody::Fack(Some(body)));

        let a = emit_ack(&resp);
        let mut want = CL_REQ_120[..80].to_vec();
        want[1] = cl_ptype::ACK;
        want[2] = 0;
        want[56..60].copy_from_slice(&0x5eedu32.to_le_bytes());
        want[74..76].copy_from_slice(&0u16.to_le_bytes());
        want[76..78].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(a, want);
    }

    #[test]
    fn cl_fragments_out_of_order() {
        let parts: [&[u8]; 3] = [b"first-", b"second-", b"third"];
        let pkts = [
            cl_packet(2, cl_flags1::FRAG, 0, parts[0]),
            cl_packet(2, cl_flags1::FRAG, 1, parts[1]),
            cl_packet(2, cl_flags1::FRAG | cl_flags1::LASTFRAG, 2, parts[2]),
        ];
        let mut r = ClReassembler::new(CL_DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_STUB);
        let mut push = |i: usize| {
            let pdu = parse_cl_pdu(&pkts[i]).unwrap();
            let ClBody::Response(resp) = pdu.body else { panic!() };
            r.push_response(&resp).unwrap()
        };
        assert_eq!(push(2), None);
        assert_eq!(push(0), None);
        assert_eq!(push(0), None); // retransmission ignored
        assert_eq!(push(1).as_deref(), Some(&b"first-second-third"[..]));

        let mut r = ClReassembler::new(CL_DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_STUB);
        r.push(2, true, b"c").unwrap();
        assert_eq!((r.fack_fragnum(), r.selack()), (u16::MAX, 0b100));
        r.push(0, false, b"a").unwrap();
        // Fragment 0 acknowledged; bit 1 = fragment 2 held beyond the gap at 1.
        assert_eq!((r.fack_fragnum(), r.selack()), (0, 0b10));
        assert_eq!(r.push(1, false, b"b"), Ok(Some(b"abc".to_vec())));
    }

    #[test]
    fn cl_reassembler_bounds() {
        let mut r = ClReassembler::new(4, 10);
        assert_eq!(r.push(4, false, b""), Err(RpcError::TooManyFragments(4)));
        assert_eq!(r.push(0, false, &[0; 11]), Err(RpcError::TooLarge(10)));
        r.push(2, true, b"").unwrap();
        assert!(r.push(3, false, b"").is_err());
        assert!(r.push(1, true, b"").is_err());
        let mut r = ClReassembler::new(4, 10);
        r.push(3, false, b"").unwrap();
        assert!(r.push(1, true, b"").is_err());
        let mut r = ClReassembler::new(usize::MAX, 10);
        assert_eq!(r.push(u16::MAX, true, b"x"), Ok(None));
        assert_eq!(r.selack(), 0);
    }

    #[test]
    fn conv_who_are_you2_round_trip() {
        // The callback: new activity, seq 0, conv interface v3, opnum 1, PF2_UNRELATED.
        let cb_activity = Uuid::from_u128(0x11112222_3333_4444_5555_666677778888);
        let mut body = activity().to_bytes_le().to_vec();
        body.extend_from_slice(&0x6000_0001u32.to_le_bytes());
        let hdr = ClHeader {
            ptype: cl_ptype::REQUEST,
            flags1: 0,
            flags2: cl_flags2::UNRELATED,
            serial: 0,
            object: Uuid::nil(),
            interface: CONV_UUID,
            activity: cb_activity,
            server_boot: 0,
            if_vers: 3,
            seq: 0,
            opnum: 1,
            ihint: 0xffff,
            ahint: 0xffff,
            body_len: 20,
            fragnum: 0,
            auth_proto: 0,
        };
        let mut pkt = Vec::new();
        hdr.emit(&mut pkt);
        pkt.extend_from_slice(&body);
        let pdu = parse_cl_pdu(&pkt).unwrap();
        let who = parse_conv_who_are_you2(&pdu).unwrap();
        assert_eq!(who.actuid, activity());
        assert_eq!(who.boot_time, 0x6000_0001);
        // Not a callback: our own EPM request.
        assert_eq!(parse_conv_who_are_you2(&parse_cl_pdu(&CL_REQ_120).unwrap()), None);

        let cas = Uuid::from_u128(0xaaaaaaaa_bbbb_cccc_dddd_eeeeeeeeeeee);
        let resp = emit_conv_who_are_you2_response(&pdu.header, 0, cas);
        let mut want = Vec::new();
        want.extend_from_slice(&[4, 2, 0, 0, 0x10, 0, 0, 0]);
        want.extend_from_slice(&[0; 16]);
        want.extend_from_slice(&[
            0x76, 0x22, 0x3a, 0x33, 0, 0, 0, 0, 0x0d, 0x00, 0x00, 0x80, 0x9c, 0x00, 0x00, 0x00,
        ]);
        want.extend_from_slice(&[
            0x22, 0x22, 0x11, 0x11, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x66, 0x66, 0x77, 0x77, 0x88, 0x88,
        ]);
        want.extend_from_slice(&[0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff]);
        want.extend_from_slice(&[0xff, 0xff, 24, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[0, 0, 0, 0]);
        want.extend_from_slice(&[
            0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xcc, 0xcc, 0xdd, 0xdd, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
        ]);
        want.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(resp, want);
        let back = parse_cl_pdu(&resp).unwrap();
        assert_eq!(back.header.activity, cb_activity);
        assert!(matches!(back.body, ClBody::Response(r) if r.body.len() == 24));
    }
}
