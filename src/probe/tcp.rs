//! TCP connect probe: a handshake, a RST, an ICMP error or silence.

use super::{Evidence, Observation};
use crate::error::Error;
use crate::platform;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How to probe a TCP port.
#[derive(Debug, Clone, Copy)]
pub struct TcpOptions {
    /// Deadline of each connection attempt.
    pub timeout: Duration,
    /// Attempts before silence is called FILTERED (PortQry: 3).
    pub tries: u32,
    /// Bind this local port first (`-sp`); `None` = ephemeral.
    pub source_port: Option<u16>,
}

/// The result of a TCP probe; `stream` is the open connection when LISTENING,
/// so a protocol query can use it.
pub struct TcpProbe {
    pub observation: Observation,
    pub stream: Option<TcpStream>,
}

/// Connect to `target` up to `tries` times, each with its own deadline.
///
/// Retries happen only on silence: a RST or an ICMP error is an answer.
pub fn probe(target: SocketAddr, opts: &TcpOptions) -> Result<TcpProbe, Error> {
    let tries = opts.tries.max(1);
    for attempt in 1..=tries {
        let sock = new_socket(target, opts.source_port)?;
        let started = Instant::now();
        let result = connect(&sock, target, opts.timeout);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::Interrupted) {
            return Err(Error::Interrupted);
        }
        let rtt = Some(started.elapsed());
        let observed = |evidence| Observation { evidence, tries: attempt, rtt, wait: opts.timeout };
        match result {
            Ok(()) => {
                // A connect to our own ephemeral port (TCP simultaneous open on
                // loopback) is not a listener: try again with another port.
                if sock.local_addr().ok().and_then(|a| a.as_socket()) == Some(target) {
                    continue;
                }
                return Ok(TcpProbe {
                    observation: observed(Evidence::Connected),
                    stream: Some(sock.into()),
                });
            }
            Err(e) if is_timeout(&e) => continue,
            Err(e) => {
                let evidence = classify_error(&sock, &e)?;
                return Ok(TcpProbe { observation: observed(evidence), stream: None });
            }
        }
    }
    Ok(TcpProbe {
        observation: Observation {
            evidence: super::silence_for(target.ip()),
            tries,
            rtt: None,
            wait: opts.timeout,
        },
        stream: None,
    })
}

/// A connect with a deadline that a stop request cuts short (an
/// `Interrupted` error): the wait is sliced ([`crate::cancel::SLICE`]).
fn connect(sock: &Socket, target: SocketAddr, timeout: std::time::Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    sock.set_nonblocking(true)?;
    match sock.connect(&SockAddr::from(target)) {
        Ok(()) => {}
        Err(e) if platform::is_in_progress(&e) => loop {
            if crate::cancel::requested() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let Some(slice) = crate::cancel::slice_until(deadline) else {
                return Err(io::ErrorKind::TimedOut.into());
            };
            if platform::wait_writable(sock, slice)? {
                // A completed handshake with no error pending is a listener,
                // even if the peer closed (or, on Windows, reset) it at once:
                // a health-check port, a server at its connection limit.
                if let Some(e) = sock.take_error()?
                    && !platform::is_reset_after_handshake(&e)
                {
                    return Err(e);
                }
                // Woken by an error-queue entry alone (an ICMP error with
                // IP_RECVERR): not connected; the caller reads the queue.
                #[cfg(target_os = "linux")]
                if sock.peer_addr().is_err() {
                    return Err(io::Error::other("the connect failed without an error code"));
                }
                break;
            }
        },
        Err(e) => return Err(e),
    }
    sock.set_nonblocking(false)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

/// Turn a failed connect into evidence, or into a local error.
pub(crate) fn classify_error(sock: &Socket, e: &io::Error) -> Result<Evidence, Error> {
    if let Some(report) = platform::take_icmp_error(sock) {
        let local = sock.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.ip());
        return Ok(super::icmp_evidence(report, local));
    }
    if e.kind() == io::ErrorKind::ConnectionRefused || e.kind() == io::ErrorKind::ConnectionReset {
        return Ok(Evidence::Reset);
    }
    if let Some(text) = unreachable_text(e) {
        return Ok(Evidence::Unreachable { error: text });
    }
    Err(Error::Socket(format!("connect failed: {}", platform::describe(e))))
}

/// Errors that describe the path to the target rather than this machine.
pub(crate) fn unreachable_text(e: &io::Error) -> Option<String> {
    platform::unreachable_text(e)
}

/// A fresh socket for one attempt, with ICMP details enabled and `-sp` bound.
pub(crate) fn new_socket(target: SocketAddr, source_port: Option<u16>) -> Result<Socket, Error> {
    let sock = raw_socket(target, true, false)
        .map_err(|e| Error::Socket(format!("cannot create a TCP socket: {}", platform::describe(&e))))?;
    if let Some(port) = source_port {
        bind_source_port(&sock, target, port)?;
    }
    Ok(sock)
}

/// A TCP (`stream`) or UDP socket for `target`'s family with ICMP details
/// enabled; the raw `io::Error` lets callers tell descriptor exhaustion from
/// other failures. Non-blocking sockets are created so in one call on Linux.
pub(crate) fn raw_socket(target: SocketAddr, stream: bool, nonblocking: bool) -> io::Result<Socket> {
    let (ty, proto) = if stream { (Type::STREAM, Protocol::TCP) } else { (Type::DGRAM, Protocol::UDP) };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let ty = if nonblocking { ty.nonblocking() } else { ty };
    let sock = Socket::new(Domain::for_address(target), ty, Some(proto))?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    if nonblocking {
        sock.set_nonblocking(true)?;
    }
    // Best effort: without it we still decide, just with less detail.
    let _ = platform::enable_icmp_errors(&sock, target.is_ipv6());
    Ok(sock)
}

/// Bind the wildcard address of the target's family to `port`.
pub(crate) fn bind_source_port(sock: &Socket, target: SocketAddr, port: u16) -> Result<(), Error> {
    // SO_REUSEADDR on Unix (our own TIME_WAIT from the previous port must not
    // block the next query), SO_EXCLUSIVEADDRUSE on Windows (where
    // SO_REUSEADDR would take over a port another program holds).
    platform::prepare_source_port(sock);
    let any: IpAddr =
        if target.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    sock.bind(&SockAddr::from(SocketAddr::new(any, port))).map_err(|e| {
        if platform::is_port_in_use(&e) {
            Error::SourcePortInUse(port)
        } else {
            Error::SourcePort(port, platform::describe(&e))
        }
    })
}
