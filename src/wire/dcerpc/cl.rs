//! Connectionless DCE/RPC (RPC v4, `ncadg_ip_udp`): C706 §12.5, MS-RPCE §3.2.

use super::*;

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
        put_u32_le(out, self.server_boot);
        put_u32_le(out, self.if_vers);
        put_u32_le(out, self.seq);
        put_u16_le(out, self.opnum);
        put_u16_le(out, self.ihint);
        put_u16_le(out, self.ahint);
        put_u16_le(out, self.body_len);
        put_u16_le(out, self.fragnum);
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
        let u16_at = |o| u16_le_at(hdr, o).unwrap_or_default();
        let u32_at = |o| u32_le_at(hdr, o).unwrap_or_default();
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
    pub(super) fn reply_to(other: &ClHeader, ptype: u8, body_len: u16) -> Self {
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
        put_u16_le(out, self.window_size);
        put_u32_le(out, self.max_tsdu);
        put_u32_le(out, self.max_frag_size);
        put_u16_le(out, self.serial_num);
        put_u16_le(out, u16::from(self.selack != 0));
        put_u32_le(out, self.selack);
    }

    /// Decode; `None` if the body is shorter than the fixed 16 bytes (nocall often has
    /// no body at all).
    pub fn parse(body: &[u8]) -> Option<Self> {
        if body.len() < Self::FIXED_LEN {
            return None;
        }
        let selack_len = u16_le_at(body, 14)?;
        Some(FackBody {
            vers: body[0],
            window_size: u16_le_at(body, 2)?,
            max_tsdu: u32_le_at(body, 4)?,
            max_frag_size: u32_le_at(body, 8)?,
            serial_num: u16_le_at(body, 12)?,
            selack_len,
            selack: if selack_len > 0 { u32_le_at(body, 16).unwrap_or(0) } else { 0 },
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
    let status = |what| u32_le_at(body, 0).ok_or(RpcError::Truncated(what));
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
