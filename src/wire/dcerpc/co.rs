//! Connection-oriented DCE/RPC (RPC v5.0, `ncacn_ip_tcp`): C706 §12.6.

use super::*;

// ------------------------------------------------------------------------------------------
// Connection-oriented (RPC v5.0)
// ------------------------------------------------------------------------------------------

/// Byte offsets of the CO header and PDU bodies (C706 §12.6.3.1). Every field is named
/// even where the emitters write sequentially, so the layout reads in one place.
#[allow(dead_code)]
pub(super) mod co_field {
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
        put_u16_le(out, self.frag_length);
        put_u16_le(out, self.auth_length);
        put_u32_le(out, self.call_id);
    }
}

/// How many bytes the CO PDU starting at `buf[0]` occupies on the TCP stream.
///
/// Returns `None` until the first 10 bytes (up to and including `frag_length`) are
/// available. The value is never below [`CO_HEADER_LEN`], so a caller that reads that
/// many bytes always makes progress; a declared length below 16 is then rejected by
/// [`parse_co_header`].
pub fn co_frame_len(buf: &[u8]) -> Option<usize> {
    let drep0 = *buf.get(co_field::DREP)?;
    // Framing honours the drep so that a big-endian peer still gets framed correctly and
    // is then reported cleanly by the parser, instead of desynchronising the stream.
    let len = if drep0 & DREP_INT_MASK == DREP_INT_LE {
        u16_le_at(buf, co_field::FRAG_LENGTH)?
    } else {
        u16_be_at(buf, co_field::FRAG_LENGTH)?
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
    let frag_length = u16_le_at(buf, co_field::FRAG_LENGTH).ok_or(RpcError::Truncated("RPC header"))?;
    if usize::from(frag_length) < CO_HEADER_LEN {
        return Err(RpcError::BadFragLength(frag_length));
    }
    Ok(CoHeader {
        ptype: buf[co_field::PTYPE],
        flags: buf[co_field::PFC_FLAGS],
        frag_length,
        auth_length: u16_le_at(buf, co_field::AUTH_LENGTH).ok_or(RpcError::Truncated("RPC header"))?,
        call_id: u32_le_at(buf, co_field::CALL_ID).ok_or(RpcError::Truncated("RPC header"))?,
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
    put_u16_le(&mut out, max_frag); // max_xmit_frag
    put_u16_le(&mut out, max_frag); // max_recv_frag
    put_u32_le(&mut out, 0); // assoc_group_id: ask for a new association
    out.extend_from_slice(&[1, 0, 0, 0]); // n_context_elem = 1, reserved
    put_u16_le(&mut out, 0); // p_cont_id
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
    let max_xmit_frag = u16_le_at(pdu, co_field::MAX_XMIT_FRAG).ok_or(t.clone())?;
    let max_recv_frag = u16_le_at(pdu, co_field::MAX_RECV_FRAG).ok_or(t.clone())?;
    let assoc_group_id = u32_le_at(pdu, co_field::ASSOC_GROUP).ok_or(t.clone())?;
    let sec_len = usize::from(u16_le_at(pdu, co_field::ACK_SEC_ADDR).ok_or(t.clone())?);
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
        let result = u16_le_at(pdu, off).ok_or(t.clone())?;
        let reason = u16_le_at(pdu, off + 2).ok_or(t.clone())?;
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
    u16_le_at(pdu, co_field::NAK_REASON).ok_or(RpcError::Truncated("RPC bind_nak"))
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
        put_u32_le(&mut out, u32::try_from(stub.len() - off).unwrap_or(u32::MAX));
        put_u16_le(&mut out, ctx_id);
        put_u16_le(&mut out, opnum);
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
    /// Call id: names the request this answers (the caller checks it).
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
        alloc_hint: u32_le_at(pdu, co_field::ALLOC_HINT).ok_or(RpcError::Truncated(WHAT))?,
        ctx_id: u16_le_at(pdu, co_field::P_CONT_ID).ok_or(RpcError::Truncated(WHAT))?,
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
        status: u32_le_at(pdu, co_field::FAULT_STATUS).ok_or(RpcError::Truncated(WHAT))?,
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
/// fragment count are capped. Which call a fragment answers is the caller's question:
/// parse it ([`parse_response`]), compare its `call_id`, then [`CoReassembler::add`] it.
#[derive(Debug, Clone)]
pub struct CoReassembler {
    max_len: usize,
    stub: Vec<u8>,
    fragments: usize,
    max_frags: usize,
}

impl CoReassembler {
    /// Reassemble a reply, refusing more than `max_len` stub bytes
    /// (and more than [`CO_MAX_FRAGMENTS`] fragments).
    pub fn new(max_len: usize) -> Self {
        CoReassembler { max_len, stub: Vec::new(), fragments: 0, max_frags: CO_MAX_FRAGMENTS }
    }

    /// Refuse replies of more than `max_frags` fragments: empty fragments cost the
    /// server 24 bytes each and add nothing, so a caller bounds their number too.
    pub fn with_max_fragments(mut self, max_frags: usize) -> Self {
        self.max_frags = max_frags;
        self
    }

    /// Parse one frame and [`CoReassembler::add`] it, whatever its call id.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, RpcError> {
        self.add(&parse_response(frame)?)
    }

    /// Add one parsed fragment. `Ok(Some(stub))` when the reply is complete, `Ok(None)`
    /// when more fragments are needed.
    pub fn add(&mut self, resp: &CoResponse<'_>) -> Result<Option<Vec<u8>>, RpcError> {
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
