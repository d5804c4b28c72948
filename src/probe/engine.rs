//! Many probes at once: one thread, non-blocking sockets and `poll(2)`.
//!
//! Each probe keeps its own deadline; at most `concurrency` are in flight,
//! capped by the open-file limit, and descriptor exhaustion (EMFILE, ENOBUFS,
//! no ephemeral port) lowers the limit and retries instead of failing a port.
//! Verdict logic is shared with the one-at-a-time probes in [`tcp`]
//! and [`udp`], so both paths decide identically.
//!
//! A TCP connect is asked for its result right after it starts
//! ([`platform::connect_state`]): on loopback and veth links the target's RST
//! is processed inside `connect` itself, so most closed ports are decided
//! without a `poll`, and on Linux the refused socket is reused for the next
//! port (no `socket` + `close` per port). Results go to the caller's [`Sink`]
//! in completion order, flushed before every wait.
//!
//! UDP against Linux-like targets meets ICMP rate limiting: after a burst of
//! about six port-unreachables the target sends about one per second, so a
//! fast parallel pass leaves most closed ports silent. When some ports drew a
//! port-unreachable from the target and others stayed silent, the silent ones
//! are probed again one at a time at the rate the target sustains
//! ([`RateLimit::Wait`]), or reported as unverified ([`RateLimit::Fast`]).

use super::tcp::{self, TcpOptions};
use super::udp::{self, UdpOptions};
use super::{
    Evidence, IcmpMeaning, NOTE_NOT_REPROBED, NOTE_REPROBED, NOTE_UNVERIFIED, Observation, Transport,
    icmp_meaning,
};
use crate::error::Error;
use crate::platform::{self, ConnectState};
use socket2::{SockAddr, Socket};
use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One probe to run.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    pub addr: SocketAddr,
    pub transport: Transport,
    /// Keep the TCP connection open for a protocol query (only where one runs,
    /// so a host with thousands of open ports does not exhaust descriptors).
    pub keep_stream: bool,
}

/// A decided probe.
pub struct Outcome {
    pub observation: Observation,
    pub stream: Option<TcpStream>,
    /// Set when ICMP rate limiting shaped the result ([`NOTE_REPROBED`], [`NOTE_UNVERIFIED`]).
    pub note: Option<&'static str>,
}

/// What to do with UDP ports left silent by a target's ICMP rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// Probe them again, one at a time, at the rate the target answers.
    Wait,
    /// Report them at once as "LISTENING or FILTERED", marked as unverified.
    Fast,
}

/// Engine settings.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub tcp: TcpOptions,
    pub udp: UdpOptions,
    pub concurrency: usize,
    pub rate_limit: RateLimit,
    /// Shorten TCP deadlines to the measured round-trip time (the user gave no `--timeout`).
    pub adaptive: bool,
}

/// Shortest adaptive TCP deadline: a handshake slower than this on a path
/// whose RSTs and SYN-ACKs come back faster is not worth calling silence.
pub const MIN_ADAPTIVE_TIMEOUT: Duration = Duration::from_millis(250);

/// A retransmission-timeout estimator in the spirit of RFC 6298: smoothed
/// RTT plus four times its variance, from TCP answers (SYN-ACK or RST).
#[derive(Debug, Default)]
struct Rto {
    srtt: f64,
    rttvar: f64,
    samples: u32,
}

impl Rto {
    fn sample(&mut self, rtt: Duration) {
        let r = rtt.as_secs_f64();
        if self.samples == 0 {
            self.srtt = r;
            self.rttvar = r / 2.0;
        } else {
            self.rttvar = 0.75 * self.rttvar + 0.25 * (self.srtt - r).abs();
            self.srtt = 0.875 * self.srtt + 0.125 * r;
        }
        self.samples += 1;
    }

    /// The deadline for the next TCP try: the configured timeout until three
    /// answers were measured, then the estimate, clamped to
    /// [`MIN_ADAPTIVE_TIMEOUT`, configured timeout].
    fn timeout(&self, opts: &Options) -> Duration {
        if !opts.adaptive || self.samples < 3 {
            return opts.tcp.timeout;
        }
        let est = Duration::from_secs_f64(self.srtt + 4.0 * self.rttvar);
        est.clamp(MIN_ADAPTIVE_TIMEOUT.min(opts.tcp.timeout), opts.tcp.timeout)
    }
}

/// Wait for each rate-limited re-probe: Linux refills one ICMP token per second.
pub const RATE_LIMITED_WAIT: Duration = Duration::from_millis(1100);

struct Flight {
    idx: usize,
    attempt: u32,
    sock: Socket,
    sent: Instant,
    /// This try's wait (the TCP one may adapt to the measured RTT).
    wait: Duration,
    deadline: Instant,
}

enum Launch {
    Flight(Flight),
    Done(Outcome),
    /// Out of descriptors, buffers or ports: retry later with less in flight.
    Exhausted,
    /// A connect to our own ephemeral port (loopback): this try does not count.
    Again,
}

/// Where the engine hands decided probes, in completion order.
pub trait Sink {
    /// One probe decided (or failed locally).
    fn done(&mut self, idx: usize, result: Result<Outcome, Error>);
    /// The engine is about to wait: pass on anything held back.
    fn flush(&mut self) {}
}

/// Sockets refused at once, ready to connect again (Linux, see
/// [`platform::REUSE_REFUSED_SOCKETS`]): one spare list per address family.
#[derive(Default)]
struct Spares {
    v4: Vec<Socket>,
    v6: Vec<Socket>,
}

impl Spares {
    /// A few are enough: a refused socket is taken again by the next launch
    /// (a poll pass can decide several at once).
    const MAX: usize = 32;

    fn list(&mut self, addr: &SocketAddr) -> &mut Vec<Socket> {
        if addr.is_ipv6() { &mut self.v6 } else { &mut self.v4 }
    }

    /// Keep a decided TCP socket for the next port when it can be reused
    /// (no `-sp` binding, refused and reset by the kernel); otherwise close it.
    fn keep(&mut self, sock: Socket, job: &Job, opts: &Options, reusable: bool) {
        let list = self.list(&job.addr);
        if reusable && reusable_for(job, opts) && list.len() < Self::MAX {
            list.push(sock);
        }
    }
}

/// Only plain TCP sockets are reused: `-sp` binds each one to a port.
fn reusable_for(job: &Job, opts: &Options) -> bool {
    job.transport == Transport::Tcp && opts.tcp.source_port.is_none() && platform::REUSE_REFUSED_SOCKETS
}

/// Raise the soft open-file limit toward the hard one; returns the soft limit.
pub fn raise_fd_limit() -> usize {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 1024;
        }
        let want = rl.rlim_max.min(1 << 20);
        if rl.rlim_cur < want {
            let new = libc::rlimit { rlim_cur: want, rlim_max: rl.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &new) == 0 {
                rl.rlim_cur = want;
            }
        }
        usize::try_from(rl.rlim_cur).unwrap_or(1024)
    }
}

fn is_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL | libc::EAGAIN)
    )
}

/// Run every job; `sink.done(index, outcome)` is called once per job, in
/// completion order, and `sink.flush()` before every wait. Returns early
/// (without results for the rest) when `stop` is set.
pub fn run(jobs: &[Job], opts: &Options, stop: &AtomicBool, sink: &mut impl Sink) {
    let fd_cap = raise_fd_limit().saturating_sub(64).max(1);
    let mut limit = opts.concurrency.clamp(1, fd_cap);
    let mut queue: VecDeque<(usize, u32)> = (0..jobs.len()).map(|i| (i, 1)).collect();
    let mut flights: Vec<Flight> = Vec::new();
    let mut slow: Vec<(usize, Observation)> = Vec::new();
    let started = Instant::now();
    let mut unreachables = 0u32;
    let mut starved = 0u32;
    let mut rto = Rto::default();
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 65_535];
    let mut spares = Spares::default();
    loop {
        if stop.load(Ordering::Relaxed) {
            sink.flush();
            return;
        }
        while flights.len() < limit {
            // Most RST answers arrive inside `connect` itself: this loop can
            // decide thousands of ports without waiting, so it watches `stop`.
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let Some((idx, attempt)) = queue.pop_front() else { break };
            match launch(idx, attempt, &jobs[idx], opts, rto.timeout(opts), &mut spares) {
                Ok(Launch::Flight(f)) => {
                    starved = 0;
                    flights.push(f);
                }
                Ok(Launch::Done(o)) => {
                    starved = 0;
                    note_icmp(&o.observation, &jobs[idx], &mut unreachables);
                    sample_rtt(&mut rto, &o.observation);
                    sink.done(idx, Ok(o));
                }
                Ok(Launch::Again) => queue.push_front((idx, attempt)),
                Ok(Launch::Exhausted) => {
                    queue.push_front((idx, attempt));
                    limit = flights.len().max(1);
                    if flights.is_empty() {
                        // Nothing of ours to wait for: another process holds the
                        // resources. Back off, bounded, then give up on this port.
                        starved += 1;
                        if starved > 500 {
                            queue.pop_front();
                            sink.done(
                                idx,
                                Err(Error::Socket("out of sockets or ports on this machine".into())),
                            );
                            starved = 0;
                        } else {
                            sink.flush();
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                    break;
                }
                Err(e) => sink.done(idx, Err(e)),
            }
        }
        if flights.is_empty() {
            if !queue.is_empty() {
                continue;
            }
            break;
        }
        let mut st = Pass {
            queue: &mut queue,
            spares: &mut spares,
            slow: &mut slow,
            unreachables: &mut unreachables,
            rto: &mut rto,
        };
        sink.flush();
        wait_and_handle(jobs, opts, &mut flights, &mut st, &mut buf, sink);
        // Descriptors came back: let the limit grow again, slowly.
        if limit < opts.concurrency.min(fd_cap) && flights.len() + 1 >= limit {
            limit += 1;
        }
    }
    let limited = looks_rate_limited(unreachables, started.elapsed());
    finish_slow_lane(jobs, opts, slow, limited, stop, sink);
    sink.flush();
}

/// TCP answers (SYN-ACK or RST) feed the adaptive deadline.
fn sample_rtt(rto: &mut Rto, obs: &Observation) {
    if let (Evidence::Connected | Evidence::Reset, Some(rtt)) = (&obs.evidence, obs.rtt) {
        rto.sample(rtt);
    }
}

/// Whether the port-unreachables counted in the parallel pass look like a
/// rate limiter's: a few (Linux allows a burst of about 6, then about 1 per
/// second), not one per closed port as from an unlimited stack.
fn looks_rate_limited(unreachables: u32, elapsed: Duration) -> bool {
    unreachables > 0 && f64::from(unreachables) <= 10.0 + 2.0 * elapsed.as_secs_f64()
}

/// Re-probes in a row that may stay silent before the rest of the silent
/// ports are taken as genuinely silent (bounds the cost when few are closed).
pub const MAX_SILENT_REPROBES: u32 = 8;

fn note_icmp(obs: &Observation, job: &Job, unreachables: &mut u32) {
    if let Evidence::Icmp(r) = &obs.evidence
        && job.transport == Transport::Udp
        && icmp_meaning(r) == IcmpMeaning::PortUnreachable
        && r.offender == Some(job.addr.ip())
    {
        *unreachables += 1;
    }
}

/// Silent UDP ports on a target that rate-limits ICMP: probe again one at a
/// time (in port order, so output keeps flowing), or mark them unverified.
fn finish_slow_lane(
    jobs: &[Job],
    opts: &Options,
    slow: Vec<(usize, Observation)>,
    limited: bool,
    stop: &AtomicBool,
    sink: &mut impl Sink,
) {
    let mut slow = slow;
    slow.sort_by_key(|(i, _)| *i);
    if !limited || opts.rate_limit == RateLimit::Fast {
        let note = if limited { Some(NOTE_UNVERIFIED) } else { None };
        for (idx, obs) in slow {
            sink.done(idx, Ok(Outcome { observation: obs, stream: None, note }));
        }
        return;
    }
    let reprobe = |idx: usize, before: &Observation| {
        let opts = UdpOptions { wait: opts.udp.wait.max(RATE_LIMITED_WAIT), tries: 1, ..opts.udp };
        udp::exchange(jobs[idx].addr, &[], &opts).map(|p| {
            let mut o = p.observation;
            o.tries += before.tries;
            o
        })
    };
    let noted = |o: Observation, note| Ok(Outcome { observation: o, stream: None, note: Some(note) });
    // One re-probe per refill of the target's bucket, on a fixed schedule.
    let mut pacer = Pacer::new(REFILL_PERIOD, REFILL_MARGIN);
    let mut silent_in_a_row = 0;
    let mut answered = 0;
    let mut missed = Vec::new();
    for (idx, obs) in slow {
        if silent_in_a_row >= MAX_SILENT_REPROBES {
            sink.done(idx, noted(obs, NOTE_NOT_REPROBED));
            continue;
        }
        sink.flush();
        if !pacer.wait(stop) {
            return;
        }
        match reprobe(idx, &obs) {
            Ok(o) if o.evidence == Evidence::Silence => {
                silent_in_a_row += 1;
                missed.push((idx, o));
            }
            Ok(o) => {
                silent_in_a_row = 0;
                answered += 1;
                sink.done(idx, noted(o, NOTE_REPROBED));
            }
            Err(e) => sink.done(idx, Err(e)),
        }
    }
    // A re-probe can reach the target a hair before its bucket refills; when
    // others were answered, the silent ones get a second chance, spaced safely.
    let mut pacer = Pacer::new(RATE_LIMITED_WAIT, Duration::ZERO);
    let mut silent_in_a_row = 0;
    for (idx, obs) in missed {
        if answered == 0 || silent_in_a_row >= MAX_SILENT_REPROBES {
            sink.done(idx, noted(obs, NOTE_REPROBED));
            continue;
        }
        sink.flush();
        if !pacer.wait(stop) {
            return;
        }
        match reprobe(idx, &obs) {
            Ok(o) => {
                silent_in_a_row = if o.evidence == Evidence::Silence { silent_in_a_row + 1 } else { 0 };
                sink.done(idx, noted(o, NOTE_REPROBED));
            }
            Err(e) => sink.done(idx, Err(e)),
        }
    }
}

/// How often a Linux target refills one ICMP error token (`icmp_ratelimit`, 1000 ms).
const REFILL_PERIOD: Duration = Duration::from_millis(1000);
/// Slack added to every slot of the schedule (not accumulated): covers jitter
/// and the target's clock granularity.
const REFILL_MARGIN: Duration = Duration::from_millis(25);

/// Paces re-probes: the first waits [`RATE_LIMITED_WAIT`] (the parallel pass
/// just emptied the bucket), the next ones go at `anchor + n × period + margin`,
/// so a fast answer never pulls the next probe early and a slow one never
/// pushes the whole schedule late.
struct Pacer {
    first_at: Instant,
    anchor: Option<Instant>,
    sent: u32,
    period: Duration,
    margin: Duration,
}

impl Pacer {
    fn new(period: Duration, margin: Duration) -> Pacer {
        Pacer { first_at: Instant::now() + RATE_LIMITED_WAIT, anchor: None, sent: 0, period, margin }
    }

    /// Sleep until the next slot; false if the run was stopped meanwhile.
    fn wait(&mut self, stop: &AtomicBool) -> bool {
        let when = match self.anchor {
            None => self.first_at,
            Some(a) => a + self.period * self.sent + self.margin,
        };
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let now = Instant::now();
            if now >= when {
                break;
            }
            std::thread::sleep((when - now).min(Duration::from_millis(50)));
        }
        if self.anchor.is_none() {
            self.anchor = Some(Instant::now());
        }
        self.sent += 1;
        true
    }
}

fn launch(
    idx: usize,
    attempt: u32,
    job: &Job,
    opts: &Options,
    tcp_wait: Duration,
    spares: &mut Spares,
) -> Result<Launch, Error> {
    let sp = match job.transport {
        Transport::Tcp => opts.tcp.source_port,
        Transport::Udp => opts.udp.source_port,
    };
    let reuse = reusable_for(job, opts);
    let fresh = || match tcp::raw_socket(job.addr, job.transport == Transport::Tcp, true) {
        Ok(s) => Ok(Some(s)),
        Err(e) if is_exhaustion(&e) => Ok(None),
        Err(e) => Err(Error::Socket(format!("cannot create a socket: {e}"))),
    };
    let wait = match job.transport {
        Transport::Tcp => tcp_wait,
        Transport::Udp => opts.udp.wait,
    };
    let mut spare = if reuse { spares.list(&job.addr).pop() } else { None };
    let (sock, sent) = loop {
        let from_spare = spare.is_some();
        let Some(sock) = (match spare.take() {
            Some(s) => Some(s),
            None => fresh()?,
        }) else {
            return Ok(Launch::Exhausted);
        };
        if let Some(port) = sp {
            tcp::bind_source_port(&sock, job.addr, port)?;
        }
        let sent = Instant::now();
        match start(&sock, job, attempt, opts) {
            Ok(None) => break (sock, sent),
            Ok(Some(decided)) => return Ok(decided),
            // A reused socket in a state we did not expect: use a new one.
            Err(_) if from_spare => continue,
            Err(e) => return Err(e),
        }
    };
    let flight = Flight { idx, attempt, sock, sent, wait, deadline: sent + wait };
    if job.transport == Transport::Udp {
        return Ok(Launch::Flight(flight));
    }
    // Ask the connect for its result before adding it to the poll set.
    Ok(match settle_tcp(&flight, job, false)? {
        Settled::Pending => Launch::Flight(flight),
        Settled::Again => Launch::Again,
        Settled::Decided(outcome, reusable) => {
            spares.keep(flight.sock, job, opts, reusable);
            Launch::Done(outcome)
        }
    })
}

/// What a probe's socket says now.
enum Settled {
    /// No answer yet.
    Pending,
    /// A connect to our own ephemeral port (loopback): try again.
    Again,
    /// Decided; `true` when the socket was refused and reset by the kernel,
    /// so it can connect again ([`platform::REUSE_REFUSED_SOCKETS`]).
    Decided(Outcome, bool),
}

/// Read a TCP connect's result. Where the OS cannot tell by asking again
/// ([`ConnectState::Unknown`]), only a socket `poll` flagged is read, through
/// `SO_ERROR`.
fn settle_tcp(f: &Flight, job: &Job, polled: bool) -> Result<Settled, Error> {
    let rtt = Some(f.sent.elapsed());
    let decided = |evidence, reusable| {
        let observation = observed(evidence, f.attempt, rtt, f.wait);
        Settled::Decided(Outcome { observation, stream: None, note: None }, reusable)
    };
    let connected = || {
        Ok(match tcp_connected(f, job)? {
            Some(outcome) => Settled::Decided(outcome, false),
            None => Settled::Again,
        })
    };
    let so_error =
        || f.sock.take_error().map_err(|e| Error::Socket(format!("cannot read a socket error: {e}")));
    match platform::connect_state(&f.sock, &SockAddr::from(job.addr)) {
        // An ICMP error that reached the socket while it was busy is only a
        // "soft" error: the connect stays in progress (Linux retransmits the
        // SYN) and only SO_ERROR reports it. `poll` flagged it (the error
        // queue is not empty): it is the answer, as on the one-at-a-time path.
        ConnectState::Pending if polled => match so_error()? {
            Some(e) => Ok(decided(tcp::classify_error(&f.sock, &e)?, false)),
            // An ICMP error queued without a socket error: still the answer (and
            // left queued it would make every later `poll` return at once).
            None => match platform::take_icmp_error(&f.sock) {
                Some(report) => Ok(decided(Evidence::Icmp(report), false)),
                None => Ok(Settled::Pending),
            },
        },
        ConnectState::Pending => Ok(Settled::Pending),
        ConnectState::Unknown if !polled => Ok(Settled::Pending),
        ConnectState::Unknown => match so_error()? {
            Some(e) => Ok(decided(tcp::classify_error(&f.sock, &e)?, false)),
            None => connected(),
        },
        ConnectState::Connected => connected(),
        ConnectState::Failed(e) => {
            let evidence = tcp::classify_error(&f.sock, &e)?;
            let refused = matches!(evidence, Evidence::Reset | Evidence::Icmp(_));
            Ok(decided(evidence, refused))
        }
    }
}

/// Start the probe: a non-blocking connect, and for UDP the empty datagram.
/// `Some` when it is decided already (or resources ran out).
fn start(sock: &Socket, job: &Job, attempt: u32, opts: &Options) -> Result<Option<Launch>, Error> {
    let connected = sock.connect(&SockAddr::from(job.addr));
    let started = match job.transport {
        Transport::Tcp => match connected {
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(()),
            r => r, // Ok: poll reports it writable at once
        },
        Transport::Udp => connected.and_then(|_| sock.send(&[]).map(|_| ())),
    };
    let Err(e) = started else { return Ok(None) };
    if is_exhaustion(&e) {
        return Ok(Some(Launch::Exhausted));
    }
    let (evidence, wait) = match job.transport {
        Transport::Tcp => (tcp::classify_error(sock, &e)?, opts.tcp.timeout),
        Transport::Udp => (udp::error_evidence(sock, &e)?, opts.udp.wait),
    };
    let observation = observed(evidence, attempt, Some(Duration::ZERO), wait);
    Ok(Some(Launch::Done(Outcome { observation, stream: None, note: None })))
}

fn observed(evidence: Evidence, tries: u32, rtt: Option<Duration>, wait: Duration) -> Observation {
    Observation { evidence, tries, rtt, wait }
}

/// The engine's bookkeeping that one poll pass updates.
struct Pass<'a> {
    queue: &'a mut VecDeque<(usize, u32)>,
    spares: &'a mut Spares,
    slow: &'a mut Vec<(usize, Observation)>,
    unreachables: &'a mut u32,
    rto: &'a mut Rto,
}

fn wait_and_handle(
    jobs: &[Job],
    opts: &Options,
    flights: &mut Vec<Flight>,
    st: &mut Pass,
    buf: &mut [MaybeUninit<u8>],
    sink: &mut impl Sink,
) {
    let now = Instant::now();
    let next = flights.iter().map(|f| f.deadline).min().unwrap_or(now);
    // Wake at least every 100 ms so a stop request is seen promptly.
    let timeout = next.saturating_duration_since(now).min(Duration::from_millis(100));
    let mut fds: Vec<libc::pollfd> = flights
        .iter()
        .map(|f| libc::pollfd {
            fd: f.sock.as_raw_fd(),
            events: if jobs[f.idx].transport == Transport::Tcp { libc::POLLOUT } else { libc::POLLIN },
            revents: 0,
        })
        .collect();
    let ms = timeout.as_millis().clamp(0, 100) as libc::c_int;
    let ms = if timeout > Duration::ZERO { ms.max(1) } else { 0 };
    // SAFETY: fds is a valid array of pollfd of the given length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n < 0 {
        return; // EINTR: loop again
    }
    let now = Instant::now();
    let mut keep = Vec::with_capacity(flights.len());
    for (f, pfd) in std::mem::take(flights).into_iter().zip(fds) {
        let job = &jobs[f.idx];
        if pfd.revents != 0 {
            let settled = match job.transport {
                Transport::Tcp => settle_tcp(&f, job, true),
                Transport::Udp => settle_udp(&f, opts, buf),
            };
            match settled {
                Ok(Settled::Decided(outcome, reusable)) => {
                    note_icmp(&outcome.observation, job, st.unreachables);
                    sample_rtt(st.rto, &outcome.observation);
                    let idx = f.idx;
                    st.spares.keep(f.sock, job, opts, reusable);
                    sink.done(idx, Ok(outcome));
                    continue;
                }
                Ok(Settled::Again) => {
                    st.queue.push_front((f.idx, f.attempt));
                    continue;
                }
                Ok(Settled::Pending) => {}
                Err(e) => {
                    sink.done(f.idx, Err(e));
                    continue;
                }
            }
        }
        if now >= f.deadline {
            let tries = match job.transport {
                Transport::Tcp => opts.tcp.tries,
                Transport::Udp => opts.udp.tries,
            };
            if f.attempt < tries.max(1) {
                st.queue.push_front((f.idx, f.attempt + 1));
            } else {
                let obs = observed(Evidence::Silence, f.attempt, None, f.wait);
                if job.transport == Transport::Udp {
                    st.slow.push((f.idx, obs));
                } else {
                    sink.done(f.idx, Ok(Outcome { observation: obs, stream: None, note: None }));
                }
            }
            continue;
        }
        keep.push(f);
    }
    *flights = keep;
}

/// A completed handshake: LISTENING, unless it is a connect to our own
/// ephemeral port on loopback (`None`: try again).
fn tcp_connected(f: &Flight, job: &Job) -> Result<Option<Outcome>, Error> {
    if f.sock.local_addr().ok().and_then(|a| a.as_socket()) == Some(job.addr) {
        return Ok(None);
    }
    let stream = if job.keep_stream {
        let s: TcpStream = f.sock.try_clone().map_err(|e| Error::Socket(e.to_string()))?.into();
        s.set_nonblocking(false).map_err(|e| Error::Socket(e.to_string()))?;
        Some(s)
    } else {
        None
    };
    Ok(Some(Outcome {
        observation: observed(Evidence::Connected, f.attempt, Some(f.sent.elapsed()), f.wait),
        stream,
        note: None,
    }))
}

/// A UDP socket poll flagged: a reply, an error, or nothing yet.
fn settle_udp(f: &Flight, opts: &Options, buf: &mut [MaybeUninit<u8>]) -> Result<Settled, Error> {
    let rtt = Some(f.sent.elapsed());
    let evidence = match f.sock.recv(buf) {
        Ok(n) => Evidence::Reply { bytes: n },
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
            return Ok(Settled::Pending);
        }
        Err(e) => udp::error_evidence(&f.sock, &e)?,
    };
    let observation = observed(evidence, f.attempt, rtt, opts.udp.wait);
    Ok(Settled::Decided(Outcome { observation, stream: None, note: None }, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(adaptive: bool) -> Options {
        Options {
            tcp: TcpOptions { timeout: Duration::from_millis(1000), tries: 3, source_port: None },
            udp: UdpOptions { wait: Duration::from_millis(1000), tries: 2, source_port: None },
            concurrency: 8,
            rate_limit: RateLimit::Wait,
            adaptive,
        }
    }

    #[test]
    fn rate_limit_heuristic() {
        let s = Duration::from_secs;
        assert!(!looks_rate_limited(0, s(1)), "no unreachables: nothing to wait out");
        assert!(looks_rate_limited(6, s(1)), "Linux's burst");
        assert!(looks_rate_limited(14, s(3)));
        assert!(!looks_rate_limited(500, s(1)), "an unlimited stack answers every closed port");
    }

    #[test]
    fn rto_needs_samples_and_stays_in_bounds() {
        let mut r = Rto::default();
        assert_eq!(r.timeout(&opts(true)), Duration::from_millis(1000));
        for _ in 0..3 {
            r.sample(Duration::from_micros(100));
        }
        // A fast LAN: the floor, not 0.5 ms.
        assert_eq!(r.timeout(&opts(true)), MIN_ADAPTIVE_TIMEOUT);
        // A fixed --timeout is never shortened.
        assert_eq!(r.timeout(&opts(false)), Duration::from_millis(1000));
        let mut slow = Rto::default();
        for ms in [300, 400, 350, 380] {
            slow.sample(Duration::from_millis(ms));
        }
        let t = slow.timeout(&opts(true));
        assert!(t > Duration::from_millis(400) && t <= Duration::from_millis(1000), "{t:?}");
        let mut far = Rto::default();
        for _ in 0..5 {
            far.sample(Duration::from_secs(2));
        }
        assert_eq!(far.timeout(&opts(true)), Duration::from_millis(1000));
    }
}
