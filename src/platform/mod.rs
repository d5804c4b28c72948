//! The one place that knows how each operating system reports ICMP errors
//! to an unprivileged socket (the trippy `platform` pattern).
//!
//! On Linux, `IP_RECVERR` / `IPV6_RECVERR` queue every ICMP error with its type,
//! code and the address of the host that sent it; [`take_icmp_error`] reads that
//! queue. Elsewhere only an `errno` is available (`ECONNREFUSED` on BSD/macOS,
//! `WSAECONNRESET` on Windows), and the portable fallback returns `None`, so the
//! caller classifies the error code alone.
//!
//! `unix.rs` (POSIX) and `windows.rs` (Winsock) give the rest of the program
//! the same small interface: `poll_ready` (poll / `WSAPoll`) for the engine,
//! sliced waits, error codes in words (`describe`), source-port binding,
//! reverse look-ups and the stop handler.

use std::net::IpAddr;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
mod linux_local;
#[cfg(target_os = "linux")]
pub use linux::{
    REUSE_REFUSED_SOCKETS, connect_state, enable_icmp_errors, neighbour_unresolved, take_icmp_error,
};
#[cfg(target_os = "linux")]
pub use linux_local::local_snapshot;

#[cfg(not(target_os = "linux"))]
mod portable;

#[cfg(unix)]
mod unix;
#[cfg(not(any(target_os = "linux", windows)))]
pub use portable::local_snapshot;
#[cfg(not(target_os = "linux"))]
pub use portable::{
    REUSE_REFUSED_SOCKETS, connect_state, enable_icmp_errors, neighbour_unresolved, take_icmp_error,
};
#[cfg(unix)]
pub use unix::{
    Interest, KeyReader, POLL_MISSES_UDP_ERRORS, SOURCE_PORT_SHARED, describe, interface_exists,
    interface_index, is_broken_pipe, is_exhaustion, is_in_progress, is_no_reader, is_port_in_use,
    is_regular_fd, is_reset_after_handshake, on_stop_signals, open_nonblocking, poll_ready,
    prepare_source_port, raise_fd_limit, read_slice, reverse_name, set_blocking, unreachable_text,
    wait_readable, wait_writable, write_slice,
};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
mod windows_local;
#[cfg(windows)]
pub use windows::{
    Interest, POLL_MISSES_UDP_ERRORS, SOURCE_PORT_SHARED, describe, interface_exists, interface_index,
    is_broken_pipe, is_exhaustion, is_in_progress, is_port_in_use, is_reset_after_handshake, on_stop_signals,
    poll_ready, prepare_source_port, raise_fd_limit, read_slice, reverse_name, unreachable_text,
    wait_socket_readable, wait_writable, write_slice,
};
#[cfg(windows)]
pub use windows_local::local_snapshot;

/// What asking again says about a non-blocking TCP connect in progress.
#[derive(Debug)]
pub enum ConnectState {
    /// No answer yet: wait for the socket to become writable.
    Pending,
    /// The handshake completed.
    Connected,
    /// The connect failed with this error (already taken from the socket:
    /// classify it, do not read `SO_ERROR` again).
    Failed(std::io::Error),
    /// This OS cannot tell without waiting.
    Unknown,
}

/// An ICMP (or ICMPv6) error the kernel matched to one of our sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IcmpReport {
    /// True for ICMPv6, false for ICMPv4.
    pub v6: bool,
    /// ICMP type (3 = destination unreachable for v4, 1 for v6; 11/3 = time exceeded).
    #[serde(rename = "type")]
    pub icmp_type: u8,
    /// ICMP code (e.g. 3 = port unreachable for v4, 4 for v6).
    pub code: u8,
    /// The host that sent the ICMP message, when the OS tells us.
    pub offender: Option<IpAddr>,
}

/// Whether a socket error code means "the peer's stack refused the port":
/// `ECONNREFUSED` everywhere, and `WSAECONNRESET` for UDP on Windows.
pub fn is_refused(err: &std::io::Error) -> bool {
    matches!(err.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset)
}
