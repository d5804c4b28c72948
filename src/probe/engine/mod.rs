//! Many probes at once: one thread, non-blocking sockets and `poll(2)`
//! (`WSAPoll` on Windows, through [`platform::poll_ready`]).
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
//! Targets rate-limit their refusals (Linux's per-peer and host-wide ICMP
//! limits, BSD's RST and ICMP limits, firewalls' `limit` rules): a fast round
//! leaves many closed ports silent. Once one transport of the target has both
//! refused some probes and left another silent (or unanswered for much longer
//! than its refusals take), its silent and untried ports go to a
//! [`Verifier`], which probes them at the refusal rate it measures and
//! reports a port silent only when its silence is proven ([`RateLimit::Wait`]),
//! or they are reported at once as unverified ([`RateLimit::Fast`], UDP only).

mod flight;

use super::pace::Verifier;
use super::tcp::{self, TcpOptions};
use super::udp::{self, UdpOptions};
use super::{Evidence, Note, Observation, Transport};
use crate::error::Error;
use crate::platform::{self, ConnectState};
use flight::{Flight, Launch, Settled, Spares, Tag, launch, observed, settle_tcp, settle_udp};
use socket2::{SockAddr, Socket};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr, TcpStream};
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
    /// Set when the target's refusal rate limit shaped the result.
    pub note: Option<Note>,
}

/// What to do with UDP ports left silent by a target's ICMP rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// Probe them again at the rate the target refuses, until proven.
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

/// Where the engine hands decided probes, in completion order.
pub trait Sink {
    /// One probe decided (or failed locally).
    fn done(&mut self, idx: usize, result: Result<Outcome, Error>);
    /// The engine is about to wait: pass on anything held back.
    fn flush(&mut self) {}
}

/// Raise the soft open-file limit toward the hard one; returns the soft limit.
pub fn raise_fd_limit() -> usize {
    platform::raise_fd_limit()
}

/// Run every job; `sink.done(index, outcome)` is called once per job, in
/// completion order, and `sink.flush()` before every wait. Returns early
/// (without results for the rest) when `stop` is set.
pub fn run(jobs: &[Job], opts: &Options, stop: &AtomicBool, sink: &mut impl Sink) {
    let fd_cap = raise_fd_limit().saturating_sub(64).max(1);
    // Where `-sp` binds exclusively (Windows), two probes cannot hold the
    // source port at once: one at a time, as PortQry.
    let exclusive =
        !platform::SOURCE_PORT_SHARED && (opts.tcp.source_port.is_some() || opts.udp.source_port.is_some());
    let most = if exclusive { 1 } else { opts.concurrency.clamp(1, fd_cap) };
    let mut limit = most;
    let mut flights: Vec<Flight> = Vec::new();
    let mut starved = 0u32;
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 65_535];
    let mut st = Pass {
        absent: HashMap::new(),
        queue: (0..jobs.len()).map(|i| (i, 1)).collect(),
        spares: Spares::default(),
        rto: Rto::default(),
        watch: HashMap::new(),
        refusing: [0, 0],
        slowest: Duration::ZERO,
        late: Vec::new(),
        late_probes: std::collections::HashSet::new(),
        late_checked: std::collections::HashSet::new(),
        late_current: None,
        late_idle: true,
    };
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
            let Some((idx, attempt)) = st.queue.pop_front() else { break };
            match launch(idx, attempt, &jobs[idx], opts, st.rto.timeout(opts), &mut st.spares) {
                Ok(Launch::Flight(mut f)) => {
                    starved = 0;
                    if st.late_probes.contains(&idx) {
                        f.deadline = f.sent + st.late_settle();
                    }
                    flights.push(f);
                }
                Ok(Launch::Done(o)) => {
                    starved = 0;
                    st.decided(jobs, idx, None, o, sink);
                }
                Ok(Launch::Again) => st.queue.push_front((idx, attempt)),
                Ok(Launch::Exhausted) => {
                    st.queue.push_front((idx, attempt));
                    limit = flights.len().max(1);
                    if flights.is_empty() {
                        // Nothing of ours to wait for: another process holds the
                        // resources. Back off, bounded, then give up on this port.
                        starved += 1;
                        if starved > 500 {
                            st.queue.pop_front();
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
        st.switch_if_limited(jobs, opts, &mut flights, Instant::now());
        st.launch_groups(jobs, opts, &mut flights, limit, sink);
        let wake = st.watch.values_mut().filter_map(|w| w.next_at(Instant::now())).min();
        st.close_released(jobs, &mut flights);
        if flights.is_empty() && st.queue.is_empty() {
            match wake {
                Some(t) => {
                    sink.flush();
                    let left = t.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
                    std::thread::sleep(left);
                    continue;
                }
                None if st.watch.values().all(Watch::is_done) => {
                    // Targets that never refused, held while others were:
                    // check them one at a time (see `Pass::late`).
                    sink.flush();
                    if st.next_late_check() {
                        continue;
                    }
                    break;
                }
                // Suspects left that nothing can probe: report what is known.
                None => {
                    st.abandon(opts, sink);
                    break;
                }
            }
        }
        if flights.is_empty() {
            continue;
        }
        sink.flush();
        wait_and_handle(jobs, opts, &mut flights, &mut st, wake, &mut buf, sink);
        // Descriptors came back: let the limit grow again, slowly.
        if limit < most && flights.len() + 1 >= limit {
            limit += 1;
        }
    }
    sink.flush();
}

/// TCP answers (SYN-ACK or RST) feed the adaptive deadline.
fn sample_rtt(rto: &mut Rto, obs: &Observation) {
    if let (Evidence::Connected | Evidence::Reset, Some(rtt)) = (&obs.evidence, obs.rtt) {
        rto.sample(rtt);
    }
}

/// Whether the target refused this probe itself: a TCP RST, or an ICMP error
/// from the target's own address (what its rate limiter rations).
fn is_refusal(obs: &Observation, job: &Job) -> bool {
    match (&obs.evidence, job.transport) {
        (Evidence::Reset, Transport::Tcp) => true,
        (Evidence::Icmp(r), Transport::Udp) => r.offender == Some(job.addr.ip()),
        (Evidence::Refused, Transport::Udp) => true,
        _ => false,
    }
}

/// One target's probes of one transport: each has its own limiter.
type Key = (IpAddr, Transport);

fn slot(t: Transport) -> usize {
    match t {
        Transport::Tcp => 0,
        Transport::Udp => 1,
    }
}

fn key(job: &Job) -> Key {
    (job.addr.ip(), job.transport)
}

/// How long the run stays idle before the late probes: every limiter refills
/// at least one token in that time (Linux's slowest, per peer: 1 a second).
const LATE_IDLE: Duration = Duration::from_millis(1100);

/// Shortest time without an answer after which a probe of a target that
/// refuses others in a fraction of it is taken as held back (the switch to
/// pacing; the verdict still waits for proof).
const EARLY_SILENCE: Duration = Duration::from_millis(50);

/// What one transport's probes of the target have shown.
struct Watch {
    refusals: u32,
    slowest: Duration,
    /// Ports that refused, the newest last (canaries for the verifier).
    refused: VecDeque<usize>,
    // Boxed: most targets never need one, and a /16 holds 65536 watches.
    verifier: Option<Box<Verifier>>,
}

impl Watch {
    fn new() -> Watch {
        Watch { refusals: 0, slowest: Duration::ZERO, refused: VecDeque::new(), verifier: None }
    }

    fn note_refusal(&mut self, idx: usize, rtt: Duration) {
        self.refusals += 1;
        self.slowest = self.slowest.max(rtt);
        self.refused.push_back(idx);
        if self.refused.len() > 32 {
            self.refused.pop_front();
        }
    }

    /// How long a probe may stay unanswered before pacing begins.
    fn early(&self) -> Duration {
        (self.slowest * 8).max(EARLY_SILENCE)
    }

    fn next_at(&mut self, now: Instant) -> Option<Instant> {
        self.verifier.as_mut().and_then(|v| v.next_at(now))
    }

    fn is_done(&self) -> bool {
        self.verifier.as_deref().is_none_or(Verifier::is_done)
    }

    fn rate(&self) -> Option<f64> {
        self.verifier.as_deref().and_then(Verifier::rate)
    }
}

/// The engine's bookkeeping between passes.
struct Pass {
    /// Per target: whether it never answered ARP / neighbour discovery (the
    /// evidence every silent port of it gets), and when that was last checked
    /// (at most every 500 ms).
    absent: HashMap<IpAddr, (Option<Evidence>, Instant)>,
    queue: VecDeque<(usize, u32)>,
    spares: Spares,
    rto: Rto,
    /// What each target's probes of each transport have shown.
    watch: HashMap<Key, Watch>,
    /// Targets that refused at least once, per transport (TCP, UDP), and the
    /// slowest refusal of the run: kept as refusals come, not searched for.
    refusing: [usize; 2],
    slowest: Duration,
    /// Silent ports of targets that never refused anything, held while other
    /// targets of the run were refused: several addresses may be one host
    /// behind one limiter that the others emptied. Once the run is otherwise
    /// done, after [`LATE_IDLE`] without a probe (every limiter then holds a
    /// token), each such target's ports are sent again at once, one target
    /// at a time: a refusal within [`Watch::early`] gives the target a
    /// verifier (then the run idles again before the next check), silence
    /// is its own and final.
    late: Vec<(Key, Vec<(usize, u32)>)>,
    /// Probes of the check under way, and targets already checked.
    late_probes: std::collections::HashSet<usize>,
    late_checked: std::collections::HashSet<Key>,
    /// The target checked last, and whether the run must idle before the next.
    late_current: Option<Key>,
    late_idle: bool,
}

impl Pass {
    /// A probe was decided by an answer (not by its deadline).
    fn decided(&mut self, jobs: &[Job], idx: usize, tag: Option<Tag>, mut o: Outcome, sink: &mut impl Sink) {
        let job = &jobs[idx];
        self.late_probes.remove(&idx);
        sample_rtt(&mut self.rto, &o.observation);
        if matches!(o.observation.evidence, Evidence::NoNeighbour { .. }) {
            self.absent.insert(job.addr.ip(), (Some(o.observation.evidence.clone()), Instant::now()));
        }
        let refusal = is_refusal(&o.observation, job);
        let w = self.watch.entry(key(job)).or_insert_with(Watch::new);
        let rtt = o.observation.rtt.unwrap_or_default();
        if refusal {
            if w.refusals == 0 {
                self.refusing[slot(job.transport)] += 1;
            }
            w.note_refusal(idx, rtt);
            self.slowest = self.slowest.max(rtt);
        }
        let rate = w.rate();
        match (tag, w.verifier.as_mut()) {
            (Some(t), Some(v)) => {
                if refusal {
                    v.refused(t.group, t.pos, rtt);
                } else {
                    v.answered(t.group, t.pos);
                }
                if t.canary {
                    return;
                }
                o.note = Some(Note::Paced(rate));
            }
            // A probe sent before pacing began still used a token.
            (None, Some(v)) if refusal => v.straggler(rtt),
            _ => {}
        }
        sink.done(idx, Ok(o));
    }

    /// What a port that stayed silent shows: silence, unless the target is
    /// an on-link host that never answered ARP (then every port says so).
    fn silence(&mut self, job: &Job) -> Evidence {
        let ip = job.addr.ip();
        let stale =
            |(e, at): &(Option<Evidence>, Instant)| e.is_none() && at.elapsed() > Duration::from_millis(500);
        if self.absent.get(&ip).is_none_or(stale) {
            let e = match super::silence_for(ip) {
                e @ Evidence::NoNeighbour { .. } => Some(e),
                _ => None,
            };
            self.absent.insert(ip, (e, Instant::now()));
        }
        self.absent.get(&ip).and_then(|(e, _)| e.clone()).unwrap_or(Evidence::Silence)
    }

    /// A probe's deadline passed without an answer.
    fn silent(&mut self, jobs: &[Job], opts: &Options, f: &Flight, sink: &mut impl Sink) {
        let job = &jobs[f.idx];
        let tries = match job.transport {
            Transport::Tcp => opts.tcp.tries,
            Transport::Udp => opts.udp.tries,
        };
        let w = self.watch.entry(key(job)).or_insert_with(Watch::new);
        let rate = w.rate();
        if let (Some(t), Some(v)) = (f.paced, w.verifier.as_mut()) {
            if let Some(fin) = v.silent(t.group, t.pos, Instant::now()) {
                let note = if fin.verified { Note::Verified(rate) } else { Note::Unverified(job.transport) };
                let observation = observed(Evidence::Silence, fin.tries, None, f.wait);
                sink.done(fin.idx, Ok(Outcome { observation, stream: None, note: Some(note) }));
            }
            return;
        }
        let late = self.late_probes.remove(&f.idx);
        if let Some(v) = w.verifier.as_mut() {
            // A late check of a target whose verifier gave up starts a new one.
            if late && v.is_done() {
                self.switch(jobs, opts, key(job), &mut Vec::new());
                if let Some(v) = self.verifier(key(job)) {
                    v.add_suspect(f.idx, f.attempt);
                }
            } else {
                v.add_suspect(f.idx, f.attempt);
            }
            return;
        }
        if f.attempt < tries.max(1) && !late {
            self.queue.push_front((f.idx, f.attempt + 1));
            return;
        }
        let mut note = None;
        // An on-link target that never answered ARP: nothing left this
        // machine, there is no limiter to wait out.
        if let absent @ Evidence::NoNeighbour { .. } = self.silence(job) {
            let observation = observed(absent, f.attempt, None, f.wait);
            sink.done(f.idx, Ok(Outcome { observation, stream: None, note: None }));
            return;
        }
        let w = self.watch.entry(key(job)).or_insert_with(Watch::new);
        let refusals = w.refusals;
        let others_refused = self.refusing[slot(job.transport)] > usize::from(refusals > 0);
        if refusals == 0 && others_refused && !self.late_checked.contains(&key(job)) {
            if !pace_allowed(job.transport, opts) {
                note = Some(Note::Unverified(job.transport));
            } else {
                match self.late.iter_mut().find(|(k, _)| *k == key(job)) {
                    Some((_, ports)) => ports.push((f.idx, f.attempt)),
                    None => self.late.push((key(job), vec![(f.idx, f.attempt)])),
                }
                return;
            }
        }
        let w = self.watch.entry(key(job)).or_insert_with(Watch::new);
        if w.refusals > 0 {
            if !pace_allowed(job.transport, opts) {
                note = Some(Note::Unverified(job.transport));
            } else {
                // Silent while other ports were refused: prove it before saying so.
                self.switch(jobs, opts, key(job), &mut Vec::new());
                if let Some(v) = self.watch.get_mut(&key(job)).and_then(|w| w.verifier.as_mut()) {
                    v.add_suspect(f.idx, f.attempt);
                }
                return;
            }
        }
        let observation = observed(self.silence(job), f.attempt, None, f.wait);
        sink.done(f.idx, Ok(Outcome { observation, stream: None, note }));
    }

    /// Start pacing a transport whose probes met refusals and were held back.
    fn switch_if_limited(&mut self, jobs: &[Job], opts: &Options, flights: &mut Vec<Flight>, now: Instant) {
        // One pass over the flights (not one per target): the ones held back
        // longer than their target's refusals take, on a target that refused.
        let mut held: Vec<Key> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for f in flights.iter().filter(|f| f.paced.is_none() && now.duration_since(f.sent) > EARLY_SILENCE) {
            let k = key(&jobs[f.idx]);
            let Some(w) = self.watch.get(&k) else { continue };
            if w.verifier.is_none()
                && w.refusals > 0
                && pace_allowed(k.1, opts)
                && now.duration_since(f.sent) > w.early()
                && seen.insert(k)
            {
                held.push(k);
            }
        }
        for k in held {
            self.switch(jobs, opts, k, flights);
        }
    }

    /// Hand a transport's untried, queued and unanswered probes to a verifier.
    fn switch(&mut self, jobs: &[Job], opts: &Options, k: Key, flights: &mut Vec<Flight>) {
        let w = self.watch.entry(k).or_insert_with(Watch::new);
        let mut v = Verifier::new(
            match k.1 {
                Transport::Tcp => opts.tcp.tries,
                Transport::Udp => opts.udp.tries,
            },
            w.refused.iter().rev().copied(),
        );
        let mut keep = VecDeque::with_capacity(self.queue.len());
        for (idx, attempt) in self.queue.drain(..) {
            if key(&jobs[idx]) == k {
                v.add_suspect(idx, attempt - 1);
            } else {
                keep.push_back((idx, attempt));
            }
        }
        self.queue = keep;
        // Probes still unanswered: their try proves nothing now; the verifier
        // sends them again (a late answer would be lost with the socket, but
        // every paced try waits the full deadline again).
        flights.retain(|f| {
            if f.paced.is_none() && key(&jobs[f.idx]) == k {
                v.add_suspect(f.idx, f.attempt);
                false
            } else {
                true
            }
        });
        w.verifier = Some(Box::new(v));
    }

    /// Send every group that is due, within the concurrency limit.
    fn launch_groups(
        &mut self,
        jobs: &[Job],
        opts: &Options,
        flights: &mut Vec<Flight>,
        limit: usize,
        sink: &mut impl Sink,
    ) {
        let keys: Vec<Key> =
            self.watch.iter().filter(|(_, w)| w.verifier.is_some()).map(|(k, _)| *k).collect();
        for k in keys {
            loop {
                let room = limit.saturating_sub(flights.len());
                let now = Instant::now();
                let Some(plan) = self.verifier(k).and_then(|v| v.plan(now, room)) else {
                    break;
                };
                let sends: Vec<usize> = plan.members.iter().copied().chain(plan.canary).collect();
                for (pos, &idx) in sends.iter().enumerate() {
                    let tag = Tag { group: plan.id, pos, canary: pos == plan.members.len() };
                    let Some(v) = self.watch.get_mut(&k).and_then(|w| w.verifier.as_mut()) else { break };
                    let attempt = if tag.canary { 1 } else { v.tries(idx) };
                    let job = &jobs[idx];
                    let sent = Instant::now();
                    match launch(idx, attempt, job, opts, self.rto.timeout(opts), &mut self.spares) {
                        Ok(Launch::Flight(mut f)) => {
                            v.sent(plan.id, pos, f.sent);
                            f.paced = Some(tag);
                            flights.push(f);
                        }
                        Ok(Launch::Done(o)) => {
                            v.sent(plan.id, pos, sent);
                            self.decided(jobs, idx, Some(tag), o, sink);
                        }
                        Ok(Launch::Again | Launch::Exhausted) => v.unsent(plan.id, pos),
                        Err(e) => {
                            v.unsent(plan.id, pos);
                            if !tag.canary {
                                v.answered(plan.id, pos);
                                sink.done(idx, Err(e));
                            }
                        }
                    }
                }
            }
            self.report_given_up(opts, k, sink);
        }
    }

    fn verifier(&mut self, k: Key) -> Option<&mut Verifier> {
        self.watch.get_mut(&k).and_then(|w| w.verifier.as_deref_mut())
    }

    fn report_given_up(&mut self, opts: &Options, k: Key, sink: &mut impl Sink) {
        let t = k.1;
        // Another verifier of this transport still at work may be emptying
        // a limiter this target shares (several addresses, one host): its
        // ports wait for a late check instead of being given up.
        let others_busy = self.watch.iter().any(|(o, w)| o.1 == t && *o != k && !w.is_done());
        let retry = others_busy && !self.late_checked.contains(&k);
        let Some(v) = self.verifier(k) else { return };
        let given_up = v.take_given_up();
        if given_up.is_empty() {
            return;
        }
        if retry {
            let ports = given_up.iter().map(|f| (f.idx, f.tries));
            match self.late.iter_mut().find(|(o, _)| *o == k) {
                Some((_, list)) => list.extend(ports),
                None => self.late.push((k, ports.collect())),
            }
            return;
        }
        let wait = match t {
            Transport::Tcp => opts.tcp.timeout,
            Transport::Udp => opts.udp.wait,
        };
        for fin in given_up {
            let observation = observed(Evidence::Silence, fin.tries, None, wait);
            sink.done(fin.idx, Ok(Outcome { observation, stream: None, note: Some(Note::Unverified(t)) }));
        }
    }

    /// Start the next late check when nothing else is under way; false when
    /// none is left.
    fn next_late_check(&mut self) -> bool {
        if let Some(k) = self.late_current.take() {
            // The check just ended: if its target refused, its verifier ran
            // and emptied a limiter it may share; let it refill.
            if self.watch.get(&k).is_some_and(|w| w.refusals > 0) {
                self.late_idle = true;
            }
        }
        if self.late.is_empty() {
            return false;
        }
        if self.late_idle {
            self.late_idle = false;
            if !crate::cancel::sleep_until(Instant::now() + LATE_IDLE) {
                return true; // the loop sees the stop
            }
        }
        let (k, ports) = self.late.remove(0);
        self.late_checked.insert(k);
        self.late_current = Some(k);
        for (idx, attempt) in ports {
            self.late_probes.insert(idx);
            self.queue.push_back((idx, attempt + 1));
        }
        true
    }

    /// How long a late check waits for a refusal: refusals come back within
    /// a round trip, so this is the early-silence threshold, not the deadline
    /// (the ports' own tries waited their full deadlines already).
    fn late_settle(&self) -> Duration {
        (self.slowest * 8).max(EARLY_SILENCE)
    }

    /// Close the sockets of sweep probes the verifier gave back.
    fn close_released(&mut self, jobs: &[Job], flights: &mut Vec<Flight>) {
        for (k, w) in self.watch.iter_mut() {
            let Some(v) = w.verifier.as_mut() else { continue };
            let released = v.take_released();
            if released.is_empty() {
                continue;
            }
            flights.retain(|f| {
                let tag = f.paced.filter(|_| key(&jobs[f.idx]) == *k);
                !tag.is_some_and(|g| released.contains(&(g.group, g.pos)))
            });
        }
    }

    /// Nothing can probe the suspects left (no canary answers any more):
    /// report them unverified.
    fn abandon(&mut self, opts: &Options, sink: &mut impl Sink) {
        let keys: Vec<Key> = self.watch.keys().copied().collect();
        for k in keys {
            if let Some(v) = self.verifier(k) {
                v.give_up_all();
            }
            self.report_given_up(opts, k, sink);
        }
    }
}

/// Pacing is always on for TCP; for UDP unless `--udp-fast`.
fn pace_allowed(t: Transport, opts: &Options) -> bool {
    t == Transport::Tcp || opts.rate_limit == RateLimit::Wait
}

fn wait_and_handle(
    jobs: &[Job],
    opts: &Options,
    flights: &mut Vec<Flight>,
    st: &mut Pass,
    wake: Option<Instant>,
    buf: &mut [MaybeUninit<u8>],
    sink: &mut impl Sink,
) {
    let now = Instant::now();
    let next = flights.iter().map(|f| f.deadline).chain(wake).min().unwrap_or(now);
    // Wake at least every 100 ms so a stop request is seen promptly; where
    // poll may not flag a UDP port-unreachable, every 20 ms to look for it.
    let udp_unflagged =
        platform::POLL_MISSES_UDP_ERRORS && flights.iter().any(|f| jobs[f.idx].transport == Transport::Udp);
    let cap = Duration::from_millis(if udp_unflagged { 20 } else { 100 });
    let timeout = next.saturating_duration_since(now).min(cap);
    let interest = |f: &Flight| match jobs[f.idx].transport {
        Transport::Tcp => platform::Interest::Write,
        Transport::Udp => platform::Interest::Read,
    };
    let socks: Vec<(&Socket, platform::Interest)> = flights.iter().map(|f| (&f.sock, interest(f))).collect();
    let Some(ready) = platform::poll_ready(&socks, timeout) else {
        return; // EINTR: loop again
    };
    let now = Instant::now();
    let mut keep = Vec::with_capacity(flights.len());
    for (f, ready) in std::mem::take(flights).into_iter().zip(ready) {
        let job = &jobs[f.idx];
        if ready || (udp_unflagged && job.transport == Transport::Udp) {
            let settled = match job.transport {
                Transport::Tcp => settle_tcp(&f, job, true),
                Transport::Udp => settle_udp(&f, opts, buf),
            };
            match settled {
                Ok(Settled::Decided(outcome, reusable)) => {
                    let (idx, tag) = (f.idx, f.paced);
                    st.spares.keep(f.sock, job, opts, reusable);
                    st.decided(jobs, idx, tag, outcome, sink);
                    continue;
                }
                Ok(Settled::Again) => {
                    match (f.paced, st.verifier(key(job))) {
                        (Some(t), Some(v)) => v.unsent(t.group, t.pos),
                        _ => st.queue.push_front((f.idx, f.attempt)),
                    }
                    continue;
                }
                Ok(Settled::Pending) => {}
                Err(e) => {
                    match (f.paced, st.verifier(key(job))) {
                        (Some(t), Some(v)) => {
                            v.answered(t.group, t.pos);
                            if !t.canary {
                                sink.done(f.idx, Err(e));
                            }
                        }
                        _ => sink.done(f.idx, Err(e)),
                    }
                    continue;
                }
            }
        }
        if now >= f.deadline {
            st.silent(jobs, opts, &f, sink);
            continue;
        }
        keep.push(f);
    }
    *flights = keep;
}

/// A completed handshake: LISTENING, unless it is a connect to our own
/// ephemeral port on loopback (`None`: try again).
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
