//! The one place that knows how each operating system reports ICMP errors
//! to an unprivileged socket (the trippy `platform` pattern).
//!
//! On Linux, `IP_RECVERR` / `IPV6_RECVERR` queue every ICMP error with its type,
//! code and the address of the host that sent it; [`take_icmp_error`] reads that
//! queue. Elsewhere only an `errno` is available (`ECONNREFUSED` on BSD/macOS,
//! `WSAECONNRESET` on Windows), and the portable fallback returns `None`, so the
//! caller classifies the error code alone.

use std::net::IpAddr;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{
    REUSE_REFUSED_SOCKETS, connect_state, enable_icmp_errors, neighbour_unresolved, take_icmp_error,
};

#[cfg(not(target_os = "linux"))]
mod portable;
#[cfg(not(target_os = "linux"))]
pub use portable::{
    REUSE_REFUSED_SOCKETS, connect_state, enable_icmp_errors, neighbour_unresolved, take_icmp_error,
};

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

/// Wait up to `timeout` for a socket to become writable (a non-blocking
/// connect finished, one way or the other); false when the time ran out.
#[cfg(unix)]
pub fn wait_writable(sock: &socket2::Socket, timeout: std::time::Duration) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd { fd: sock.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut pfd, 1, ms) } {
        n if n < 0 => {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted { Ok(false) } else { Err(e) }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}
