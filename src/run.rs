//! One run: expand and resolve the targets, probe their ports (many at once
//! for ranges and lists), run protocol queries, and report in PortQry's text
//! or JSON, in port order.

use crate::cli::{Config, Format};
use crate::error::Error;
use crate::probe::{self, Observation, State, Transport, tcp, udp};
use crate::query;
use crate::report::json::JsonSink;
use crate::report::{self, Output};
use crate::target::{self, Target, services::Services};
use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};

/// The run-wide stop flag ([`crate::cancel`]).
pub use crate::cancel::STOP;

pub use crate::report::{PortResult, aggregate_exit};

/// Run the query the command line describes; returns the exit code.
///
/// Errors that concern one target (a name that does not resolve) are printed
/// and folded into the exit code, so the other targets still run; errors that
/// stop everything (log file, services file, local sockets) are returned.
pub fn run(cfg: &Config) -> Result<i32, Error> {
    let prepared = prepare(cfg)?;
    let log = match &cfg.log {
        Some(path) => Some(report::open_log(path, cfg.overwrite, cfg.quiet, &cfg.command_line)?),
        None => None,
    };
    let mut out = Output::new(!cfg.quiet && cfg.format == Format::Text, log);
    let result = run_prepared(cfg, prepared, &mut out);
    // A closed or full stdout stopped the run: that is the error to report.
    let finished = out.finish();
    let code = result?;
    finished?;
    Ok(code)
}

/// Run the queries `cfg` describes into an [`Output`] the caller opened and
/// will finish (interactive mode runs every query of a session through here,
/// into one screen and one log); returns the exit code. A stop request
/// (Ctrl-C) ends the queries with what was decided and returns its code.
pub fn run_with(cfg: &Config, out: &mut Output) -> Result<i32, Error> {
    let prepared = prepare(cfg)?;
    run_prepared(cfg, prepared, out)
}

/// What is checked before anything is printed or a log file is opened:
/// the services file and the targets.
fn prepare(cfg: &Config) -> Result<(Services, Vec<String>), Error> {
    let services = Services::load(cfg.services.as_deref())?;
    let names = target::expand(&cfg.names, cfg.max_hosts)?;
    // A malformed literal (unknown IPv6 zone) is a command-line error: say so
    // before anything is printed or probed.
    for name in &names {
        target::check_literal(name, cfg.family)?;
    }
    Ok((services, names))
}

fn run_prepared(
    cfg: &Config,
    (services, names): (Services, Vec<String>),
    out: &mut Output,
) -> Result<i32, Error> {
    let mut json = JsonSink::new(if cfg.quiet { None } else { Some(cfg.format) }, &cfg.command_line);
    let fleet = names.len() > 1;
    // Per target, its results, kept only for a `--set` run's summary.
    let mut summaries: Vec<(Target, Vec<PortResult>)> = Vec::new();
    let (verdict, error_code, interrupted) = if fleet {
        run_fleet(cfg, &services, &names, out, &mut json, &mut summaries)?
    } else {
        run_one_by_one(cfg, &services, &names, out, &mut json, &mut summaries)?
    };
    if let Some(set) = cfg.set
        && cfg.format == Format::Text
        && !cfg.quiet
    {
        report::text::summary(set, &summaries, out);
    }
    json.finish(out);
    if interrupted {
        // Lines held for one write go out before the note on stderr.
        out.hold(false);
        if !out.failed() {
            report::error_line("portqry: interrupted: the results above were decided, the rest were not");
        }
        return Ok(crate::cancel::exit_code());
    }
    Ok(if error_code != 0 { error_code } else { verdict })
}

/// Targets one after another (one target): the
/// verdict, the worst error code, and whether a stop cut the run short.
fn run_one_by_one(
    cfg: &Config,
    services: &Services,
    names: &[String],
    out: &mut Output,
    json: &mut JsonSink,
    summaries: &mut Vec<(Target, Vec<PortResult>)>,
) -> Result<(i32, i32, bool), Error> {
    let (mut verdict, mut error_code) = (0, 0);
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.line("");
        }
        let target = match report::text::resolution(name, look_up(name, cfg), out) {
            Ok(t) => t,
            Err(Error::InterruptedWhile(_)) => return Ok((verdict, error_code, true)),
            Err(e) => {
                report::error_line(&format!("portqry: {e}"));
                error_code = error_code.max(e.exit_code());
                json.target(name, None, Some(&e.to_string()), out);
                continue;
            }
        };
        out.para("querying...");
        let (results, complete) = match scan(cfg, services, &target, out, json) {
            Ok(r) => r,
            // A stop request cut a probe or a query short: what was decided is printed.
            Err(Error::Interrupted) => return Ok((verdict, error_code, true)),
            Err(e) => return Err(e),
        };
        verdict = verdict.max(aggregate_exit(&results));
        json.target(name, Some(&target), None, out);
        if cfg.set.is_some() {
            summaries.push((target, results));
        }
        if !complete {
            return Ok((verdict, error_code, true));
        }
    }
    Ok((verdict, error_code, false))
}

/// Several targets: their look-ups run on a pool, then one engine probes
/// every (target, port, protocol) of the run at once — the concurrency limit
/// and descriptor budget are shared, each target keeps its own rate-limit
/// pacing — while the report comes out exactly as target after target.
fn run_fleet(
    cfg: &Config,
    services: &Services,
    names: &[String],
    out: &mut Output,
    json: &mut JsonSink,
    summaries: &mut Vec<(Target, Vec<PortResult>)>,
) -> Result<(i32, i32, bool), Error> {
    // The look-ups, in order (a stop while waiting ends the run before any line).
    let mut ahead = Lookahead::start(names, cfg);
    let mut found = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let f = match ahead.as_mut() {
            Some(a) => a.take(i),
            None => look_up(name, cfg),
        };
        if matches!(f, Err(Error::InterruptedWhile(_))) {
            return Ok((0, 0, true));
        }
        found.push(Some(f));
    }
    let address = |f: &Option<Result<target::Found, Error>>| match f {
        Some(Ok(target::Found::Literal { addr, scope_id, .. })) => Some((*addr, *scope_id)),
        Some(Ok(target::Found::Name(Ok(addr)))) => Some((*addr, 0)),
        _ => None,
    };
    let mut plan = Vec::new();
    let mut jobs = Vec::new();
    for (k, f) in found.iter().enumerate() {
        let Some((addr, scope_id)) = address(f) else { continue };
        let target = Target { input: names[k].clone(), addr, scope_id };
        for p in plan_for(cfg, services, k) {
            jobs.push(job_of(&target, &p));
            plan.push(p);
        }
    }
    // The report, target after target: each block when its first result is
    // ready (targets that did not resolve in between print their lines).
    struct Printer {
        next_target: usize,
        current: Option<(Target, Vec<PortResult>)>,
        verdict: i32,
        error_code: i32,
    }
    let mut pr = Printer { next_target: 0, current: None, verdict: 0, error_code: 0 };
    // Print the blocks of targets up to (not including) `upto`; returns the
    // target `upto` itself when it resolved, its header printed.
    let mut open_until =
        |pr: &mut Printer, upto: usize, out: &mut Output, json: &mut JsonSink| -> Result<(), Error> {
            if let Some((t, results)) = pr.current.take() {
                pr.verdict = pr.verdict.max(aggregate_exit(&results));
                json.target(&t.input, Some(&t), None, out);
                if cfg.set.is_some() {
                    summaries.push((t, results));
                }
            }
            while pr.next_target <= upto && pr.next_target < names.len() {
                let k = pr.next_target;
                pr.next_target += 1;
                if k > 0 {
                    out.line("");
                }
                let f = found[k].take().expect("each target is printed once");
                match report::text::resolution(&names[k], f, out) {
                    Ok(t) if k == upto => {
                        out.para("querying...");
                        pr.current = Some((t, Vec::new()));
                    }
                    Ok(t) => {
                        // Resolved but no probe reached it (a stop came first).
                        out.para("querying...");
                        json.target(&t.input, Some(&t), None, out);
                    }
                    Err(e @ Error::InterruptedWhile(_)) => return Err(e),
                    Err(e) => {
                        report::error_line(&format!("portqry: {e}"));
                        pr.error_code = pr.error_code.max(e.exit_code());
                        json.target(&names[k], None, Some(&e.to_string()), out);
                    }
                }
            }
            Ok(())
        };
    let mut each = |i: usize, o: probe::engine::Outcome, out: &mut Output| -> Result<(), Error> {
        let p = &plan[i];
        // The result opens its target's block unless that block is the open one.
        if pr.current.is_none() || pr.next_target != p.target + 1 {
            open_until(&mut pr, p.target, out, json)?;
        }
        let (target, results) = pr.current.as_mut().expect("the target's block is open");
        let r = report_port(cfg, target, p, o.observation, o.stream, o.note, out)?;
        json.result(target, &r, out);
        results.push(r);
        Ok(())
    };
    let complete = if jobs.is_empty() { true } else { scan_parallel(cfg, &plan, jobs, out, &mut each)? };
    if complete {
        // Close the last block, and print targets after it that did not resolve.
        open_until(&mut pr, names.len(), out, json)?;
    } else if let Some((t, results)) = pr.current.take() {
        pr.verdict = pr.verdict.max(aggregate_exit(&results));
        json.target(&t.input, Some(&t), None, out);
        if cfg.set.is_some() {
            summaries.push((t, results));
        }
    }
    Ok((pr.verdict, pr.error_code, !complete))
}

/// Look one item up (blocking, each look-up under its own deadline).
fn look_up(name: &str, cfg: &Config) -> Result<target::Found, Error> {
    if let Some((addr, scope_id)) = target::parse_literal(name)? {
        let reverse = (!cfg.no_reverse).then(|| target::reverse_lookup(addr, target::LOOKUP_TIMEOUT));
        return Ok(target::Found::Literal { addr, scope_id, reverse });
    }
    Ok(target::Found::Name(target::resolve_name(name, cfg.family, target::LOOKUP_TIMEOUT)))
}

/// Look-ups for many targets run ahead of the probes on a small pool, so 200
/// names cost about one look-up deadline, not 200 (results still print in the
/// order given).
struct Lookahead {
    rx: mpsc::Receiver<(usize, Result<target::Found, Error>)>,
    ready: HashMap<usize, Result<target::Found, Error>>,
    consumed: Arc<AtomicUsize>,
}

/// Look-ups in flight at once, and how far they may run ahead of the printing.
const LOOKUP_WORKERS: usize = 16;
const LOOKUP_AHEAD: usize = 256;

impl Lookahead {
    /// `None` when a worker cannot be started (the caller looks up in line).
    fn start(names: &[String], cfg: &Config) -> Option<Lookahead> {
        let names: Arc<Vec<String>> = Arc::new(names.to_vec());
        let next = Arc::new(AtomicUsize::new(0));
        let consumed = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let cfg = Arc::new(cfg.clone());
        for k in 0..LOOKUP_WORKERS.min(names.len()) {
            let (names, my_next, consumed, tx, cfg) =
                (Arc::clone(&names), Arc::clone(&next), Arc::clone(&consumed), tx.clone(), Arc::clone(&cfg));
            let started = std::thread::Builder::new().name(format!("lookup-{k}")).spawn(move || {
                loop {
                    // Past the end (also: the pool failed to start, see below).
                    let i = my_next.fetch_add(1, Ordering::SeqCst);
                    if i >= names.len() || STOP.load(Ordering::SeqCst) {
                        return;
                    }
                    // Bounded memory for a /16: stay near what is printed.
                    while i > consumed.load(Ordering::SeqCst) + LOOKUP_AHEAD {
                        if STOP.load(Ordering::SeqCst) {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    if tx.send((i, look_up(&names[i], &cfg))).is_err() {
                        return;
                    }
                }
            });
            if started.is_err() {
                // The workers already started find nothing left to do.
                next.store(usize::MAX / 2, Ordering::SeqCst);
                return None;
            }
        }
        Some(Lookahead { rx, ready: HashMap::new(), consumed })
    }

    /// The look-up of item `i`, waiting for it in slices a stop request cuts.
    fn take(&mut self, i: usize) -> Result<target::Found, Error> {
        loop {
            if let Some(found) = self.ready.remove(&i) {
                self.consumed.store(i + 1, Ordering::SeqCst);
                return found;
            }
            if crate::cancel::requested() {
                return Err(Error::InterruptedWhile("during a name look-up".into()));
            }
            match self.rx.recv_timeout(crate::cancel::SLICE) {
                Ok((j, found)) => {
                    self.ready.insert(j, found);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::InterruptedWhile("during a name look-up".into()));
                }
            }
        }
    }
}

/// One probe job of a target, in PortQry's order (each port: TCP, then UDP).
struct Planned {
    /// Which target (its index in the run's list; read by the one engine for
    /// several targets).
    target: usize,
    port: u16,
    transport: Transport,
    service: Option<String>,
    protocol: Option<&'static dyn query::Query>,
}

/// The probes of one target, in PortQry's order.
fn plan_for(cfg: &Config, services: &Services, target: usize) -> Vec<Planned> {
    cfg.plan()
        .into_iter()
        .map(|(port, transport)| {
            let service = services.name(port, transport).map(str::to_string);
            let protocol = query::select(transport, port, service.as_deref(), &cfg.query);
            Planned { target, port, transport, service, protocol }
        })
        .collect()
}

/// Probe every port of one target; returns the results in order and whether
/// the scan ran to the end (false after Ctrl-C).
fn scan(
    cfg: &Config,
    services: &Services,
    target: &Target,
    out: &mut Output,
    json: &mut JsonSink,
) -> Result<(Vec<PortResult>, bool), Error> {
    let plan = plan_for(cfg, services, 0);
    let mut results = Vec::with_capacity(plan.len());
    let mut finish = |p: &Planned, obs: Observation, stream: Option<TcpStream>, note, out: &mut Output| {
        let r = report_port(cfg, target, p, obs, stream, note, out)?;
        json.result(target, &r, out);
        results.push(r);
        Ok::<(), Error>(())
    };
    if plan.len() > 1 {
        let jobs = plan.iter().map(|p| job_of(target, p)).collect();
        let mut each = |i: usize, o: probe::engine::Outcome, out: &mut Output| {
            finish(&plan[i], o.observation, o.stream, o.note, out)
        };
        let complete = scan_parallel(cfg, &plan, jobs, out, &mut each)?;
        return Ok((results, complete));
    }
    // One port (PortQry's common case): one probe at a time.
    for p in &plan {
        if STOP.load(Ordering::SeqCst) {
            return Ok((results, false));
        }
        let addr = target.socket_addr(p.port);
        let (obs, stream) = match p.transport {
            Transport::Tcp => {
                let r = tcp::probe(addr, &cfg.probe.tcp)?;
                (r.observation, r.stream)
            }
            Transport::Udp => {
                let r = udp::exchange(addr, &[], &cfg.probe.udp).map_err(|e| isakmp_source_port(e, p));
                (r?.observation, None)
            }
        };
        finish(p, obs, stream, None, out)?;
    }
    Ok((results, !STOP.load(Ordering::SeqCst)))
}

/// The engine's job for one planned probe of `target`.
fn job_of(target: &Target, p: &Planned) -> probe::engine::Job {
    probe::engine::Job {
        addr: target.socket_addr(p.port),
        transport: p.transport,
        keep_stream: p.protocol.is_some() && p.transport == Transport::Tcp,
    }
}

/// Run `jobs` (one per entry of `plan`) through the concurrent engine on
/// helper threads and hand each result to `each` as soon as it and every
/// result before it are decided.
fn scan_parallel(
    cfg: &Config,
    plan: &[Planned],
    jobs: Vec<probe::engine::Job>,
    out: &mut Output,
    each: &mut impl FnMut(usize, probe::engine::Outcome, &mut Output) -> Result<(), Error>,
) -> Result<bool, Error> {
    use probe::engine::{self, Job};
    use std::time::Duration;
    let opts = cfg.probe;
    let progress = report::Progress::new(plan.len() as u64, !cfg.quiet);
    out.set_progress(progress.bar());
    let (tx, rx) = mpsc::channel::<Batch>();
    // TCP-only plans are striped over one engine per core (connects are
    // kernel-bound); UDP stays on one engine, whose pacing must see every
    // answer from the target to respect its ICMP rate limit. Where `-sp` is
    // bound exclusively (Windows) one engine probes one port at a time.
    let shared_sp = crate::platform::SOURCE_PORT_SHARED || cfg.source_port().is_none();
    let engines = if shared_sp && jobs.iter().all(|j| j.transport == Transport::Tcp) {
        std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4).min(jobs.len())
    } else {
        1
    };
    let mut workers = Vec::with_capacity(engines);
    for k in 0..engines {
        let index: Vec<usize> = (k..jobs.len()).step_by(engines).collect();
        let mine: Vec<Job> = index.iter().map(|&i| jobs[i]).collect();
        let opts = engine::Options { concurrency: (opts.concurrency / engines).max(1), ..opts };
        let mut sink = Sender { tx: tx.clone(), index, batch: Vec::new() };
        let started = std::thread::Builder::new()
            .name(format!("engine-{k}"))
            .spawn(move || engine::run(&mine, &opts, &STOP, &mut sink));
        match started {
            Ok(w) => workers.push(w),
            Err(e) => {
                // Stop the engines that did start, then say why.
                STOP.store(true, Ordering::SeqCst);
                for w in workers {
                    let _ = w.join();
                }
                return Err(Error::Thread(e.to_string()));
            }
        }
    }
    drop(tx);
    let mut pending: HashMap<usize, engine::Outcome> = HashMap::new();
    let mut next = 0;
    let mut failure = None;
    // Lines are written once per batch, and always before waiting for more.
    out.hold(true);
    'receive: while next < plan.len() {
        let batch = match rx.try_recv() {
            Ok(b) => b,
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => {
                out.release();
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(b) => b,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        progress.tick();
                        if STOP.load(Ordering::SeqCst) {
                            break;
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        for (i, r) in batch {
            match r {
                Ok(o) => {
                    progress.inc();
                    pending.insert(i, o);
                }
                Err(e) => {
                    failure = Some(isakmp_source_port(e, &plan[i]));
                    STOP.store(true, Ordering::SeqCst);
                    break 'receive;
                }
            }
        }
        while let Some(o) = pending.remove(&next) {
            if plan[next].protocol.is_some() {
                out.release(); // a query can take a while: show what is decided first
            }
            if let Err(e) = each(next, o, out) {
                out.hold(false);
                return Err(e);
            }
            next += 1;
        }
    }
    out.hold(false);
    for w in workers {
        let _ = w.join();
    }
    progress.done();
    out.set_progress(None);
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(next == plan.len())
}

/// PortQry's own words when `-sp 500` is taken while querying UDP 500: remote
/// ISAKMP/IPsec services may answer only source port 500.
fn isakmp_source_port(e: Error, p: &Planned) -> Error {
    match e {
        Error::SourcePortInUse(500) if p.transport == Transport::Udp && p.port == 500 => {
            Error::IkeSourcePortInUse
        }
        e => e,
    }
}

/// Results of one engine on their way to the printing thread.
type Batch = Vec<(usize, Result<probe::engine::Outcome, Error>)>;

/// Hands an engine's results to the printing thread in batches (one channel
/// message and one wake-up per batch, not per port), with the engine's own
/// indices mapped back to the plan's.
struct Sender {
    tx: std::sync::mpsc::Sender<Batch>,
    index: Vec<usize>,
    batch: Batch,
}

impl probe::engine::Sink for Sender {
    fn done(&mut self, idx: usize, result: Result<probe::engine::Outcome, Error>) {
        self.batch.push((self.index[idx], result));
        if self.batch.len() >= 256 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.batch.is_empty() {
            let _ = self.tx.send(std::mem::take(&mut self.batch));
        }
    }
}

/// Decide, print the status line (and evidence), run the protocol query.
#[allow(clippy::too_many_arguments)]
fn report_port(
    cfg: &Config,
    target: &Target,
    p: &Planned,
    observation: Observation,
    stream: Option<TcpStream>,
    note: Option<probe::Note>,
    out: &mut Output,
) -> Result<PortResult, Error> {
    let (transport, port) = (p.transport, p.port);
    let state = probe::decide(transport, &observation.evidence, target.addr);
    let shown = (transport, port, p.service.as_deref());
    report::text::status(out, shown, state, &observation, note, target, cfg.verbose);
    let ctx = query::Ctx { opts: &cfg.query, target, port, transport };
    let query = match (p.protocol, transport, state, stream) {
        (Some(q), Transport::Tcp, State::Listening, Some(stream)) => Some(q.tcp(&ctx, stream, out)),
        (Some(q), Transport::Udp, State::ListeningOrFiltered, _) if !STOP.load(Ordering::SeqCst) => {
            Some(q.udp(&ctx, out)?)
        }
        _ => None,
    };
    if let Some(o) = &query {
        report::text::outcome(out, o, transport, port, target, cfg.verbose);
    }
    // A UDP query settles "LISTENING or FILTERED"; a TCP query only adds detail.
    let final_state = match (&query, transport) {
        (Some(q), Transport::Udp) => q.state,
        _ => state,
    };
    // A protocol query that settled the port also settled what the rate limit left open.
    let unverified = note.is_some_and(|n| n.status_flag().is_some());
    let note = if final_state != state && unverified { None } else { note };
    Ok(PortResult {
        transport,
        port,
        service: p.service.clone(),
        state: final_state,
        probe_state: state,
        observation,
        note,
        query,
    })
}
