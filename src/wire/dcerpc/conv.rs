//! The `conv_who_are_you2` callback a connectionless server may make (MS-RPCE §3.2.3.5.4.2).

use super::*;

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
            Some(WhoAreYou2 { actuid: uuid_le(body, 0)?, boot_time: u32_le_at(body, 16)? })
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
    put_u32_le(&mut out, our_seq);
    out.extend_from_slice(&cas_uuid.to_bytes_le());
    put_u32_le(&mut out, 0); // status: rpc_s_ok
    out
}
