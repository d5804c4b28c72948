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

/// A datagram from the target: the address it came from and its bytes.
pub type FromTarget = (SocketAddr, Vec<u8>);

/// What one wait for an answer produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// A datagram (from the target's address) and the address it came from.
    Datagram(SocketAddr, Vec<u8>),
    /// Nothing the caller takes before the deadline.
    Timeout,
    /// An ICMP error (or another socket error turned into evidence).
    Error(Evidence),
}

/// A UDP socket as the retry loop ([`retry`]) sees it: sending a request and
/// waiting for what answers it. The connected socket of a probe and the
/// unconnected one of a conversation (`query::dialog`) implement it over the
/// OS; unit tests implement it with a script, so the loop's try counting and
/// evidence are tested without a network.
pub trait Datagrams {
    /// Send one datagram to the target. `Some(evidence)` when the send itself
    /// fails with an error that settles the port (an ICMP error for an earlier
    /// try can surface here); `Err` for a local failure.
    fn send(&self, payload: &[u8]) -> Result<Option<Evidence>, Error>;
    /// Wait until `deadline` for a datagram from the target that `accept`
    /// takes (others are skipped), or an error.
    fn recv_until(&self, deadline: Instant, accept: &dyn Fn(&[u8]) -> bool) -> Result<Received, Error>;
}

/// Send `payload` up to `opts.tries` times (at least once), waiting `opts.wait`
/// after each, until a datagram `accept` takes or an error settles it; after
/// the last silent try the evidence is `silence()`.
pub fn retry(
    sock: &dyn Datagrams,
    payload: &[u8],
    opts: &UdpOptions,
    accept: &dyn Fn(&[u8]) -> bool,
    silence: &dyn Fn() -> Evidence,
) -> Result<(Observation, Option<FromTarget>), Error> {
    let tries = opts.tries.max(1);
    let observed = |evidence, tries, rtt| Observation { evidence, tries, rtt, wait: opts.wait };
    for attempt in 1..=tries {
        let sent = Instant::now();
        if let Some(evidence) = sock.send(payload)? {
            return Ok((observed(evidence, attempt, Some(sent.elapsed())), None));
        }
        match sock.recv_until(sent + opts.wait, accept)? {
            Received::Datagram(from, bytes) => {
                let evidence = Evidence::Reply { bytes: bytes.len() };
                return Ok((observed(evidence, attempt, Some(sent.elapsed())), Some((from, bytes))));
            }
            Received::Error(evidence) => {
                return Ok((observed(evidence, attempt, Some(sent.elapsed())), None));
            }
            Received::Timeout => {}
        }
    }
    Ok((observed(silence(), tries, None), None))
}

/// Send `payload` to `target` up to `tries` times and report what answered.
///
/// The socket is connected, so the kernel delivers only datagrams from the
/// target's address and port, and only ICMP errors about this flow.
pub fn exchange(target: SocketAddr, payload: &[u8], opts: &UdpOptions) -> Result<UdpProbe, Error> {
    let sock = raw_socket(target, false, false)
        .map_err(|e| Error::Socket(format!("cannot create a UDP socket: {}", platform::describe(&e))))?;
    if let Some(port) = opts.source_port {
        bind_source_port(&sock, target, port)?;
    }
    if let Err(e) = sock.connect(&SockAddr::from(target)) {
        let evidence = error_evidence(&sock, &e)?;
        let observation = Observation { evidence, tries: 0, rtt: None, wait: opts.wait };
        return Ok(UdpProbe { observation, reply: None });
    }
    prepare_waits(&sock)?;
    let connected = Connected { sock, target };
    let (observation, reply) =
        retry(&connected, payload, opts, &|_| true, &|| super::silence_for(target.ip()))?;
    Ok(UdpProbe { observation, reply: reply.map(|(_, bytes)| bytes) })
}

/// A UDP socket connected to the target.
struct Connected {
    sock: Socket,
    target: SocketAddr,
}

impl Datagrams for Connected {
    fn send(&self, payload: &[u8]) -> Result<Option<Evidence>, Error> {
        match self.sock.send(payload) {
            Ok(_) => Ok(None),
            Err(e) => error_evidence(&self.sock, &e).map(Some),
        }
    }

    fn recv_until(&self, deadline: Instant, accept: &dyn Fn(&[u8]) -> bool) -> Result<Received, Error> {
        recv_from_target(&self.sock, self.target, deadline, accept)
    }
}

/// Wait until `deadline` for a datagram from `target`'s address that `accept`
/// takes, or an error turned into evidence: the receive loop of every UDP
/// socket here (a connected one gets only the target's datagrams; an
/// unconnected one skips other hosts'). Only the deadline ends the wait:
/// skipped datagrams, however many, do not.
pub(crate) fn recv_from_target(
    sock: &Socket,
    target: SocketAddr,
    deadline: Instant,
    accept: &dyn Fn(&[u8]) -> bool,
) -> Result<Received, Error> {
    let mut buf = vec![MaybeUninit::<u8>::uninit(); MAX_DATAGRAM];
    // Short slices, so a stop request is seen within one.
    while let Some(slice) = crate::cancel::slice_until(deadline) {
        if crate::cancel::requested() {
            return Err(Error::Interrupted);
        }
        wait_for_datagram(sock, slice)?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => match from.as_socket() {
                Some(from) if from.ip() == target.ip() => {
                    // SAFETY: recv_from initialised the first n bytes.
                    let bytes: Vec<u8> = buf[..n].iter().map(|b| unsafe { b.assume_init() }).collect();
                    if accept(&bytes) {
                        return Ok(Received::Datagram(from, bytes));
                    }
                }
                _ => {} // another host: not an answer
            },
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                // Windows: the error may wait in SO_ERROR alone (Wine's
                // Winsock keeps a port-unreachable there), not on `recv_from`.
                #[cfg(windows)]
                if let Ok(Some(e)) = sock.take_error() {
                    return error_evidence(sock, &e).map(Received::Error);
                }
            }
            Err(e) => return error_evidence(sock, &e).map(Received::Error),
        }
    }
    Ok(Received::Timeout)
}

/// Make `sock` ready for [`wait_for_datagram`]. Windows: waits are WSAPoll
/// slices on a non-blocking socket (a receive that timed out leaves a Windows
/// socket in an undefined state). Unix: nothing to do.
pub(crate) fn prepare_waits(sock: &Socket) -> Result<(), Error> {
    #[cfg(windows)]
    sock.set_nonblocking(true)
        .map_err(|e| Error::Socket(format!("cannot set a receive deadline: {}", platform::describe(&e))))?;
    #[cfg(not(windows))]
    let _ = sock;
    Ok(())
}

/// Let the next `recv` wait at most `slice`: a receive timeout on Unix.
#[cfg(not(windows))]
pub(crate) fn wait_for_datagram(sock: &Socket, slice: Duration) -> Result<(), Error> {
    sock.set_read_timeout(Some(slice))
        .map_err(|e| Error::Socket(format!("cannot set a receive deadline: {e}")))
}

/// Wait at most `slice` for a datagram or an error (`WSAPoll`); the
/// non-blocking `recv` after it then answers at once (`WouldBlock`: nothing).
/// A port-unreachable for this try arrives as `WSAECONNRESET` on that `recv`.
#[cfg(windows)]
pub(crate) fn wait_for_datagram(sock: &Socket, slice: Duration) -> Result<(), Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::IcmpReport;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::net::{IpAddr, Ipv4Addr};

    const TARGET: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
    const ROUTER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 1, 1));

    /// What the scripted socket does at each step of the conversation.
    enum Step {
        /// A send fails with this evidence.
        SendFails(Evidence),
        /// A wait ends with this.
        Wait(Received),
    }

    /// A socket that plays a script and records what was sent.
    struct Script {
        steps: RefCell<VecDeque<Step>>,
        sent: RefCell<Vec<Vec<u8>>>,
    }

    impl Script {
        fn new(steps: Vec<Step>) -> Script {
            Script { steps: RefCell::new(steps.into()), sent: RefCell::new(Vec::new()) }
        }
    }

    impl Datagrams for Script {
        fn send(&self, payload: &[u8]) -> Result<Option<Evidence>, Error> {
            self.sent.borrow_mut().push(payload.to_vec());
            let mut steps = self.steps.borrow_mut();
            if let Some(Step::SendFails(_)) = steps.front() {
                let Some(Step::SendFails(e)) = steps.pop_front() else { unreachable!() };
                return Ok(Some(e));
            }
            Ok(None)
        }

        fn recv_until(&self, _: Instant, accept: &dyn Fn(&[u8]) -> bool) -> Result<Received, Error> {
            // Datagrams the caller does not take are skipped, as the real sockets do.
            loop {
                match self.steps.borrow_mut().pop_front() {
                    Some(Step::Wait(Received::Datagram(_, b))) if !accept(&b) => {}
                    Some(Step::Wait(r)) => return Ok(r),
                    Some(Step::SendFails(_)) => panic!("the script expected a send"),
                    None => return Ok(Received::Timeout),
                }
            }
        }
    }

    fn opts(tries: u32) -> UdpOptions {
        UdpOptions { wait: Duration::from_millis(10), tries, source_port: None }
    }

    fn from() -> SocketAddr {
        SocketAddr::new(TARGET, 53)
    }

    fn port_unreachable(offender: IpAddr) -> Evidence {
        Evidence::Icmp(IcmpReport { v6: false, icmp_type: 3, code: 3, offender: Some(offender) })
    }

    #[test]
    fn silence_sends_every_try_then_says_what_silence_means() {
        let s = Script::new(vec![]);
        let (o, reply) = retry(&s, b"q", &opts(3), &|_| true, &|| Evidence::Silence).unwrap();
        assert_eq!((o.evidence, o.tries, o.rtt, reply), (Evidence::Silence, 3, None, None));
        assert_eq!(s.sent.borrow().len(), 3);
        // An absent neighbour is the caller's word for silence.
        let s = Script::new(vec![]);
        let absent = || Evidence::NoNeighbour { reporter: None };
        let (o, _) = retry(&s, b"q", &opts(2), &|_| true, &absent).unwrap();
        assert_eq!((o.evidence, o.tries), (Evidence::NoNeighbour { reporter: None }, 2));
    }

    #[test]
    fn zero_tries_still_sends_once() {
        let s = Script::new(vec![]);
        let (o, _) = retry(&s, b"q", &opts(0), &|_| true, &|| Evidence::Silence).unwrap();
        assert_eq!((o.tries, s.sent.borrow().len()), (1, 1));
    }

    #[test]
    fn a_reply_on_a_later_try_counts_that_try_and_stops() {
        let s = Script::new(vec![
            Step::Wait(Received::Timeout),
            Step::Wait(Received::Datagram(from(), b"answer".to_vec())),
            Step::Wait(Received::Datagram(from(), b"never read".to_vec())),
        ]);
        let (o, reply) = retry(&s, b"q", &opts(3), &|_| true, &|| Evidence::Silence).unwrap();
        assert_eq!((o.evidence, o.tries), (Evidence::Reply { bytes: 6 }, 2));
        assert!(o.rtt.is_some());
        assert_eq!(reply, Some((from(), b"answer".to_vec())));
        assert_eq!(*s.sent.borrow(), vec![b"q".to_vec(), b"q".to_vec()]);
    }

    #[test]
    fn datagrams_the_caller_refuses_are_not_answers() {
        // An answer to someone else's request (another SPI, another id): skipped;
        // with nothing after it the try times out and the next one is sent.
        let s = Script::new(vec![
            Step::Wait(Received::Datagram(from(), b"theirs".to_vec())),
            Step::Wait(Received::Timeout),
            Step::Wait(Received::Datagram(from(), b"ours".to_vec())),
        ]);
        let ours = |b: &[u8]| b == b"ours";
        let (o, reply) = retry(&s, b"q", &opts(3), &ours, &|| Evidence::Silence).unwrap();
        assert_eq!((o.evidence, o.tries), (Evidence::Reply { bytes: 4 }, 2));
        assert_eq!(reply.map(|r| r.1), Some(b"ours".to_vec()));
    }

    #[test]
    fn an_icmp_error_settles_at_the_try_it_came_on() {
        let s = Script::new(vec![Step::Wait(Received::Error(port_unreachable(TARGET)))]);
        let (o, reply) = retry(&s, b"q", &opts(3), &|_| true, &|| Evidence::Silence).unwrap();
        assert_eq!((o.evidence.clone(), o.tries, reply), (port_unreachable(TARGET), 1, None));
        assert_eq!(s.sent.borrow().len(), 1, "no try after the port was refused");
        // The evidence keeps who sent it: the decision table tells a router's
        // message from the target's.
        assert_eq!(
            crate::probe::decide(crate::probe::Transport::Udp, &o.evidence, TARGET),
            crate::probe::State::NotListening
        );
        let s = Script::new(vec![Step::Wait(Received::Error(port_unreachable(ROUTER)))]);
        let (o, _) = retry(&s, b"q", &opts(3), &|_| true, &|| Evidence::Silence).unwrap();
        assert_ne!(
            crate::probe::decide(crate::probe::Transport::Udp, &o.evidence, TARGET),
            crate::probe::State::NotListening
        );
    }

    #[test]
    fn an_error_surfacing_on_a_later_send_ends_the_exchange_there() {
        // Linux can report an earlier try's port-unreachable on the next send.
        let s = Script::new(vec![Step::Wait(Received::Timeout), Step::SendFails(Evidence::Refused)]);
        let (o, reply) = retry(&s, b"q", &opts(3), &|_| true, &|| Evidence::Silence).unwrap();
        assert_eq!((o.evidence, o.tries, reply), (Evidence::Refused, 2, None));
        assert_eq!(s.sent.borrow().len(), 2);
    }
}
