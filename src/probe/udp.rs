//! UDP probe: send a datagram on a connected socket and wait for a reply or an
//! ICMP error, with a deadline for each try.

use super::{Evidence, Observation};
use crate::error::Error;
use crate::platform;
use crate::probe::tcp::{bind_source_port, raw_socket, unreachable_text};
use socket2::{SockAddr, Socket};
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How to probe a UDP port.
#[derive(Debug, Clone, Copy)]
pub struct UdpOptions {
    /// How long to wait for an answer after each datagram.
    pub wait: Duration,
    /// Datagrams to send before concluding silence.
    pub tries: u32,
    /// Bind this local port first (`-sp`); `None` = ephemeral.
    pub source_port: Option<u16>,
}

/// What came back: the observation and, for a reply, its bytes.
pub struct UdpProbe {
    pub observation: Observation,
    pub reply: Option<Vec<u8>>,
}

/// Largest datagram we accept; CLDAP and RPC replies can exceed the MTU.
const MAX_DATAGRAM: usize = 65_535;

/// Send `payload` to `target` up to `tries` times and report what answered.
///
/// The socket is connected, so the kernel delivers only datagrams from the
/// target's address and port, and only ICMP errors about this flow.
pub fn exchange(target: SocketAddr, payload: &[u8], opts: &UdpOptions) -> Result<UdpProbe, Error> {
    let tries = opts.tries.max(1);
    let sock = raw_socket(target, false, false)
        .map_err(|e| Error::Socket(format!("cannot create a UDP socket: {}", platform::describe(&e))))?;
    if let Some(port) = opts.source_port {
        bind_source_port(&sock, target, port)?;
    }
    let observed = |evidence, attempt, rtt| Observation { evidence, tries: attempt, rtt, wait: opts.wait };
    if let Err(e) = sock.connect(&SockAddr::from(target)) {
        let evidence = error_evidence(&sock, &e)?;
        return Ok(UdpProbe { observation: observed(evidence, 0, None), reply: None });
    }
    // Windows: waits are WSAPoll slices on a non-blocking socket (a receive
    // that timed out leaves a Windows socket in an undefined state).
    #[cfg(windows)]
    sock.set_nonblocking(true)
        .map_err(|e| Error::Socket(format!("cannot set a receive deadline: {}", platform::describe(&e))))?;
    let mut buf = vec![MaybeUninit::<u8>::uninit(); MAX_DATAGRAM];
    for attempt in 1..=tries {
        let sent = Instant::now();
        if let Err(e) = sock.send(payload) {
            // An ICMP error for an earlier try can surface on this send.
            let evidence = error_evidence(&sock, &e)?;
            return Ok(UdpProbe {
                observation: observed(evidence, attempt, Some(sent.elapsed())),
                reply: None,
            });
        }
        let deadline = sent + opts.wait;
        // Short slices, so a stop request is seen within one.
        while let Some(slice) = crate::cancel::slice_until(deadline) {
            if crate::cancel::requested() {
                return Err(Error::Interrupted);
            }
            wait_for_datagram(&sock, slice)?;
            match sock.recv(&mut buf) {
                Ok(n) => {
                    // SAFETY: recv initialised the first n bytes.
                    let bytes: Vec<u8> = buf[..n].iter().map(|b| unsafe { b.assume_init() }).collect();
                    return Ok(UdpProbe {
                        observation: observed(Evidence::Reply { bytes: n }, attempt, Some(sent.elapsed())),
                        reply: Some(bytes),
                    });
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                    ) =>
                {
                    // Windows: the error may wait in SO_ERROR alone (Wine's
                    // Winsock keeps a port-unreachable there), not on `recv`.
                    #[cfg(windows)]
                    if let Ok(Some(e)) = sock.take_error() {
                        let evidence = error_evidence(&sock, &e)?;
                        return Ok(UdpProbe {
                            observation: observed(evidence, attempt, Some(sent.elapsed())),
                            reply: None,
                        });
                    }
                }
                Err(e) => {
                    let evidence = error_evidence(&sock, &e)?;
                    return Ok(UdpProbe {
                        observation: observed(evidence, attempt, Some(sent.elapsed())),
                        reply: None,
                    });
                }
            }
        }
    }
    Ok(UdpProbe { observation: observed(super::silence_for(target.ip()), tries, None), reply: None })
}

/// Let the next `recv` wait at most `slice`: a receive timeout on Unix.
#[cfg(not(windows))]
fn wait_for_datagram(sock: &Socket, slice: Duration) -> Result<(), Error> {
    sock.set_read_timeout(Some(slice))
        .map_err(|e| Error::Socket(format!("cannot set a receive deadline: {e}")))
}

/// Wait at most `slice` for a datagram or an error (`WSAPoll`); the
/// non-blocking `recv` after it then answers at once (`WouldBlock`: nothing).
/// A port-unreachable for this try arrives as `WSAECONNRESET` on that `recv`.
#[cfg(windows)]
fn wait_for_datagram(sock: &Socket, slice: Duration) -> Result<(), Error> {
    platform::wait_socket_readable(sock, slice)
        .map(|_| ())
        .map_err(|e| Error::Socket(format!("cannot wait for a reply: {}", platform::describe(&e))))
}

/// Turn a socket error into evidence (ICMP details first), or a local error.
pub(crate) fn error_evidence(sock: &Socket, e: &io::Error) -> Result<Evidence, Error> {
    if let Some(report) = platform::take_icmp_error(sock) {
        let local = sock.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.ip());
        return Ok(super::icmp_evidence(report, local));
    }
    if platform::is_refused(e) {
        return Ok(Evidence::Refused);
    }
    if let Some(text) = unreachable_text(e) {
        return Ok(Evidence::Unreachable { error: text });
    }
    Err(Error::Socket(format!("UDP probe failed: {}", platform::describe(e))))
}
