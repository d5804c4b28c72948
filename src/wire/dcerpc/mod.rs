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

use super::bytes::{array_at, put_u16_le, put_u32_le, u16_be_at, u16_le_at, u32_le_at};

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
    /// A CO fragment belonging to another call. Not raised by the reassembler: the
    /// query compares each fragment's call id with its request's.
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
        put_u16_le(out, self.major);
        put_u16_le(out, self.minor);
    }

    /// Decode the 20-byte little-endian encoding at `off`.
    pub fn parse(buf: &[u8], off: usize) -> Option<Self> {
        Some(SyntaxId {
            uuid: uuid_le(buf, off)?,
            major: u16_le_at(buf, off + 16)?,
            minor: u16_le_at(buf, off + 18)?,
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

/// An NDR UUID (first three fields little-endian) at `off`.
pub(crate) fn uuid_le(buf: &[u8], off: usize) -> Option<Uuid> {
    array_at(buf, off).map(Uuid::from_bytes_le)
}

fn check_drep(byte0: u8) -> Result<(), RpcError> {
    if byte0 & DREP_INT_MASK == DREP_INT_LE { Ok(()) } else { Err(RpcError::BigEndian) }
}

mod cl;
mod co;
mod conv;
pub use cl::*;
pub use co::*;
pub use conv::*;

#[cfg(test)]
mod tests;
