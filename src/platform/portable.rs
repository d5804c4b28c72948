//! Portable fallback (macOS, BSD, Windows): no extended error queue.
//!
//! UDP still learns of a port-unreachable through the socket error
//! (`ECONNREFUSED`, or `WSAECONNRESET` on Windows, which Rust maps to
//! `ConnectionReset`), but not who sent it; callers say so in the evidence.

use super::{ConnectState, IcmpReport};
use socket2::Socket;

/// Nothing to enable: connected sockets already receive hard ICMP errors.
pub fn enable_icmp_errors(_sock: &Socket, _v6: bool) -> std::io::Result<()> {
    Ok(())
}

/// The type, code and sender of ICMP errors are not available here.
pub fn take_icmp_error(_sock: &Socket) -> Option<IcmpReport> {
    None
}

/// BSD and Windows do not promise that a refused socket can connect again.
pub const REUSE_REFUSED_SOCKETS: bool = false;

/// Only `poll` tells here (a second `connect` means different things on each OS).
pub fn connect_state(_sock: &Socket, _addr: &socket2::SockAddr) -> ConnectState {
    ConnectState::Unknown
}

/// The neighbour table is not read here.
pub fn neighbour_unresolved(_ip: std::net::IpAddr) -> bool {
    false
}

/// Local mode has no collector here yet (macOS, BSD; Linux and Windows fill the
/// same `local::Snapshot` in `linux_local.rs` and `windows_local.rs`).
#[cfg(not(windows))]
pub fn local_snapshot(_req: &crate::local::Request) -> Result<crate::local::Snapshot, crate::Error> {
    Err(crate::Error::Usage(crate::local::UNAVAILABLE.into()))
}
