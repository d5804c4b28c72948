//! The RPC endpoint-mapper dump (`ept_lookup` until the server says no more)
//! over TCP (ncacn_ip_tcp) and UDP (ncadg_ip_udp), on top of the wire formats
//! in [`dcerpc`] and [`epm`].
//!
//! A hostile or broken server cannot keep a dump alive or make it grow without end:
//!
//! * every call has a deadline fixed when its request is sent ([`Limits::call`]);
//!   bytes, fragments, `working` or `nocall` that arrive meanwhile never move it;
//! * the whole dump has one too ([`Limits::dump`]: [`DUMP_CALL_DEADLINES`] call
//!   deadlines, at most [`DUMP_CEILING`] unless one call's deadline is longer);
//! * one reply is at most [`MAX_REPLY_BYTES`] in [`MAX_REPLY_FRAGMENTS`] fragments,
//!   and the dump keeps at most [`MAX_DUMP_ENTRIES`] entries from at most
//!   [`MAX_DUMP_BYTES`] of replies in at most [`epm::MAX_LOOKUP_CALLS`] calls;
//! * every wait is cut into [`cancel::slice_until`] slices, so Ctrl-C ends it
//!   within a second, keeping what was found.
//!
//! Entries are handed to the caller page by page as they arrive (to print them),
//! and a bound that cuts the list short says so in [`Dump::incomplete`].

use super::exchange::{self, Conn};
use super::{Answer, Block, Ctx, Line, Outcome, Query, Route, Sink};
use crate::cancel;
use crate::platform;
use crate::probe::{Evidence, Observation, State};
use crate::wire::dcerpc::{self, ClBody, RpcError};
use crate::wire::epm::{self, Entry};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Most entries one dump keeps (a busy Windows domain controller lists a few hundred).
pub const MAX_DUMP_ENTRIES: usize = 10_000;
/// Most reply bytes (stubs, summed over the calls) one dump reads before it stops.
pub const MAX_DUMP_BYTES: usize = 8 << 20;
/// Largest single reassembled reply (a 500-entry page is about 100 KiB).
pub const MAX_REPLY_BYTES: usize = 1 << 20;
/// Most fragments in a single reply (1 MiB in 4280-byte fragments is 245).
pub const MAX_REPLY_FRAGMENTS: usize = 1024;
/// The dump's deadline in call deadlines: 10 s with the default 2 s calls.
pub const DUMP_CALL_DEADLINES: u32 = 5;
/// The dump's deadline never exceeds this, unless a single call's deadline does.
pub const DUMP_CEILING: Duration = Duration::from_secs(60);

/// The deadlines of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Each call (bind, ept_lookup), counted from when its request was sent.
    pub call: Duration,
    /// The whole dump, counted from its first request.
    pub dump: Duration,
}

impl Limits {
    /// The deadlines for calls of `call` each.
    pub fn for_call(call: Duration) -> Limits {
        let dump = call.saturating_mul(DUMP_CALL_DEADLINES).min(DUMP_CEILING.max(call));
        Limits { call, dump }
    }
}

/// What a dump found: every entry kept, and why it stopped if not at the list's end.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Dump {
    pub entries: Vec<Entry>,
    /// Calls made to ept_lookup that were answered.
    pub calls: usize,
    /// Set when the list may be incomplete (a bound was reached, the server stopped
    /// answering, the run was interrupted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

/// Why a dump (or the rest of it) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DumpError {
    /// The server's bytes did not decode, or it answered with a fault or reject.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The call's own deadline passed before its reply was complete.
    #[error("no complete answer from the endpoint mapper within {0} ms of the call")]
    CallDeadline(u128),
    /// The server kept saying `working` until the call's deadline.
    #[error("the endpoint mapper was still working on the call when its {0} ms deadline passed")]
    StillWorking(u128),
    /// The whole dump's deadline passed.
    #[error("the dump's deadline of {0} ms passed")]
    DumpDeadline(u128),
    /// Ctrl-C (or SIGTERM / SIGHUP).
    #[error("interrupted")]
    Interrupted,
    #[error("the endpoint mapper closed the connection")]
    Closed,
    #[error("cannot send to the endpoint mapper: {0}")]
    Send(String),
    #[error("endpoint mapper connection failed: {0}")]
    Io(String),
}

/// When the current call must end, and which deadline that is.
#[derive(Debug, Clone, Copy)]
struct Due {
    at: Instant,
    /// The dump's deadline comes before the call's.
    by_dump: bool,
    limits: Limits,
}

impl Due {
    fn new(sent: Instant, limits: Limits, dump_end: Instant) -> Due {
        let call_end = sent + limits.call;
        Due { at: call_end.min(dump_end), by_dump: dump_end <= call_end, limits }
    }

    /// The error once `at` has passed.
    fn passed(&self) -> DumpError {
        if self.by_dump {
            DumpError::DumpDeadline(self.limits.dump.as_millis())
        } else {
            DumpError::CallDeadline(self.limits.call.as_millis())
        }
    }
}

/// Entries asked for per UDP call: small, so replies fit Windows' initial
/// 1024-byte fragment size and rarely need reassembly.
const MAX_ENTS_UDP: u32 = 4;

/// What to do after a page.
enum Next {
    /// Ask again with this handle.
    More([u8; epm::HANDLE_LEN]),
    /// The server said the list is complete (or ended it with a status).
    End,
    /// A bound stopped the dump; release this handle.
    Cut([u8; epm::HANDLE_LEN]),
}

/// Collects pages within the dump's bounds and hands their entries on as they come.
struct Collector<'a> {
    dump: Dump,
    bytes: usize,
    on_entries: &'a mut dyn FnMut(&[Entry]),
}

impl<'a> Collector<'a> {
    fn new(on_entries: &'a mut dyn FnMut(&[Entry])) -> Self {
        Collector { dump: Dump::default(), bytes: 0, on_entries }
    }

    /// Decode one reply stub and keep its entries, up to the bounds.
    fn page(&mut self, stub: &[u8]) -> Result<Next, DumpError> {
        let page = epm::parse_ept_lookup_reply(stub)?;
        self.dump.calls += 1;
        self.bytes = self.bytes.saturating_add(stub.len());
        let last = page.is_last();
        note_status(&mut self.dump, page.status);
        let mut entries = page.entries;
        let room = MAX_DUMP_ENTRIES.saturating_sub(self.dump.entries.len());
        let over = entries.len() > room;
        entries.truncate(room);
        if !entries.is_empty() {
            (self.on_entries)(&entries);
        }
        self.dump.entries.extend(entries);
        if over || (!last && self.dump.entries.len() >= MAX_DUMP_ENTRIES) {
            self.dump.incomplete = Some(format!("more than {MAX_DUMP_ENTRIES} entries (the dump's bound)"));
            return Ok(Next::Cut(page.entry_handle));
        }
        if last {
            return Ok(Next::End);
        }
        if self.bytes >= MAX_DUMP_BYTES {
            self.dump.incomplete =
                Some(format!("the replies reached {} MiB (the dump's bound)", MAX_DUMP_BYTES >> 20));
            return Ok(Next::Cut(page.entry_handle));
        }
        Ok(Next::More(page.entry_handle))
    }

    /// A failure before the first page fails the dump; after it, the list is cut short.
    fn fail(mut self, e: DumpError) -> Result<Dump, DumpError> {
        if self.dump.calls == 0 {
            return Err(e);
        }
        self.dump.incomplete = Some(e.to_string());
        Ok(self.dump)
    }

    fn call_cap(&mut self) {
        self.dump.incomplete = Some(format!("stopped after {} ept_lookup calls", epm::MAX_LOOKUP_CALLS));
    }
}

/// Dump over an open TCP connection. `on_entries` gets each page's entries as they
/// arrive; the result holds them all too (for JSON), within the bounds.
pub fn dump_tcp(
    stream: &mut dyn Conn,
    limits: Limits,
    on_entries: &mut dyn FnMut(&[Entry]),
) -> Result<Dump, DumpError> {
    let dump_end = Instant::now() + limits.dump;
    let mut conn = CoConn { stream, pending: Vec::new() };
    let due = Due::new(Instant::now(), limits, dump_end);
    conn.send(
        &dcerpc::emit_bind(1, dcerpc::CO_DEFAULT_MAX_FRAG, dcerpc::EPM_SYNTAX, dcerpc::NDR_SYNTAX),
        due,
    )?;
    let ack = dcerpc::parse_bind_ack(&conn.frame(due)?)?;
    ack.check_accepted()?;
    // The server's receive limit bounds our request fragments.
    let max_frag = ack.max_recv_frag.clamp(dcerpc::CO_HEADER_LEN as u16 + 64, dcerpc::CO_DEFAULT_MAX_FRAG);
    let mut col = Collector::new(on_entries);
    let mut handle = epm::NULL_HANDLE;
    for call in 0..epm::MAX_LOOKUP_CALLS {
        let call_id = 2 + call as u32;
        let stub = match lookup_tcp(&mut conn, call_id, &handle, max_frag, limits, dump_end) {
            Ok(stub) => stub,
            Err(e) => return col.fail(e),
        };
        match col.page(&stub) {
            Ok(Next::More(h)) => handle = h,
            Ok(Next::End) => return Ok(col.dump),
            Ok(Next::Cut(h)) => {
                conn.free(&h, max_frag);
                return Ok(col.dump);
            }
            Err(e) => return col.fail(e),
        }
    }
    col.call_cap();
    conn.free(&handle, max_frag);
    Ok(col.dump)
}

/// One ept_lookup call over TCP: its reassembled reply stub.
fn lookup_tcp(
    conn: &mut CoConn<'_>,
    call_id: u32,
    handle: &[u8; epm::HANDLE_LEN],
    max_frag: u16,
    limits: Limits,
    dump_end: Instant,
) -> Result<Vec<u8>, DumpError> {
    let due = Due::new(Instant::now(), limits, dump_end);
    if due.at <= Instant::now() {
        return Err(due.passed());
    }
    let stub = epm::emit_ept_lookup_stub(handle, epm::MAX_ENTS_TCP);
    for frag in dcerpc::emit_request(call_id, 0, epm::EPT_LOOKUP_OPNUM, &stub, max_frag) {
        conn.send(&frag, due)?;
    }
    let mut reasm = dcerpc::CoReassembler::new(MAX_REPLY_BYTES).with_max_fragments(MAX_REPLY_FRAGMENTS);
    // Bounded by `due`: every frame() returns by then.
    loop {
        let frame = conn.frame(due)?;
        let resp = dcerpc::parse_response(&frame)?;
        // Every fragment must answer this call, checked before it joins the reply.
        if resp.call_id != call_id {
            return Err(RpcError::CallIdMismatch { expected: call_id, got: resp.call_id }.into());
        }
        if let Some(stub) = reasm.add(&resp)? {
            return Ok(stub);
        }
    }
}

/// A status other than "ok" or "no more entries" ends the list: say so.
fn note_status(dump: &mut Dump, status: u32) {
    if status != 0 && status != epm::EPT_S_NOT_REGISTERED {
        dump.incomplete = Some(format!(
            "the server ended the list with status {status:#010x} ({})",
            dcerpc::status_name(status)
        ));
    }
}

/// A CO connection that yields whole PDUs.
struct CoConn<'a> {
    stream: &'a mut dyn Conn,
    /// Bytes read but not yet framed: at most one 65,535-byte frame plus one read.
    pending: Vec<u8>,
}

impl CoConn<'_> {
    /// Write all of `bytes` by `due`, in slices so that Ctrl-C is seen.
    fn send(&mut self, bytes: &[u8], due: Due) -> Result<(), DumpError> {
        let mut off = 0;
        while off < bytes.len() {
            if cancel::requested() {
                return Err(DumpError::Interrupted);
            }
            let slice = cancel::slice_until(due.at).ok_or_else(|| due.passed())?;
            self.stream.write_slice(slice).map_err(|e| DumpError::Io(e.to_string()))?;
            match self.stream.write(&bytes[off..]) {
                Ok(0) => return Err(DumpError::Closed),
                Ok(n) => off += n,
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(DumpError::Send(e.to_string())),
            }
        }
        Ok(())
    }

    /// The next complete PDU, by `due` whatever the server sends meanwhile.
    fn frame(&mut self, due: Due) -> Result<Vec<u8>, DumpError> {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(n) = dcerpc::co_frame_len(&self.pending)
                && self.pending.len() >= n
            {
                return Ok(self.pending.drain(..n).collect());
            }
            if cancel::requested() {
                return Err(DumpError::Interrupted);
            }
            let slice = cancel::slice_until(due.at).ok_or_else(|| due.passed())?;
            self.stream.read_slice(slice).map_err(|e| DumpError::Io(e.to_string()))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(DumpError::Closed),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(DumpError::Io(e.to_string())),
            }
        }
    }

    /// Release the server's context handle when stopping early; the connection
    /// closes right after anyway, so this waits for nothing.
    fn free(&mut self, handle: &[u8; epm::HANDLE_LEN], max_frag: u16) {
        if *handle == epm::NULL_HANDLE || cancel::requested() {
            return;
        }
        let stub = epm::emit_ept_lookup_handle_free_stub(handle);
        let short = Limits::for_call(cancel::SLICE);
        let due = Due::new(Instant::now(), short, Instant::now() + short.call);
        for frag in dcerpc::emit_request(999, 0, epm::EPT_LOOKUP_HANDLE_FREE_OPNUM, &stub, max_frag) {
            if self.send(&frag, due).is_err() {
                return;
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// The outcome of a UDP dump: the evidence for the verdict, and what was found.
pub struct UdpDump {
    /// Evidence of the first call: a reply, an ICMP error, or silence.
    pub observation: Observation,
    /// Present once the server answered at all.
    pub result: Option<Result<Dump, DumpError>>,
    /// The run was stopped before the server answered: silence proves nothing.
    pub interrupted: bool,
}

/// How one connectionless call ended.
enum CallEnd {
    /// The reassembled reply stub.
    Reply(Vec<u8>),
    /// The server answered (in DCE/RPC or not), but the call failed.
    Failed(DumpError),
    /// Nothing from the server: silence, an ICMP error, or a stop before any answer.
    Unanswered,
}

/// Dump over connectionless RPC (UDP 135). A call's deadline is `wait × tries` from
/// its first request, with a retransmission every `wait` while unanswered.
///
/// The socket is unconnected, because a server may answer or call back
/// (`conv_who_are_you2`) from another port; datagrams from other hosts are
/// ignored. ICMP errors still arrive through the platform error queue.
pub fn dump_udp(
    target: SocketAddr,
    wait: Duration,
    tries: u32,
    on_entries: &mut dyn FnMut(&[Entry]),
) -> Result<UdpDump, crate::Error> {
    let sock = Socket::new(Domain::for_address(target), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| crate::Error::Socket(format!("cannot create a UDP socket: {e}")))?;
    let _ = platform::enable_icmp_errors(&sock, target.is_ipv6());
    crate::probe::udp::prepare_waits(&sock)?;
    let tries = tries.max(1);
    let limits = Limits::for_call(wait.saturating_mul(tries));
    let mut cl = ClClient {
        sock,
        target,
        wait,
        tries,
        activity: Uuid::new_v4(),
        cas: Uuid::new_v4(),
        seq: 0,
        boot: 0,
    };
    let dump_end = Instant::now() + limits.dump;
    let mut col = Collector::new(on_entries);
    let mut handle = epm::NULL_HANDLE;
    let mut first: Option<Observation> = None;
    let done = |first: Option<Observation>, result| UdpDump {
        observation: first.unwrap_or_else(silence),
        result: Some(result),
        interrupted: false,
    };
    for _ in 0..epm::MAX_LOOKUP_CALLS {
        let due = Due::new(Instant::now(), limits, dump_end);
        if first.is_none() && cancel::requested() {
            // Stopped before asking: nothing was learnt about the port.
            return Ok(UdpDump { observation: silence(), result: None, interrupted: true });
        }
        let ended = if cancel::requested() {
            Some(DumpError::Interrupted)
        } else if due.at <= Instant::now() {
            Some(due.passed())
        } else {
            None
        };
        if let Some(e) = ended {
            return Ok(done(first, col.fail(e)));
        }
        let stub = epm::emit_ept_lookup_stub(&handle, MAX_ENTS_UDP);
        let (obs, end) = cl.call(&stub, due);
        let first_call = first.is_none();
        let first_obs = first.get_or_insert(obs).clone();
        let reply = match end {
            CallEnd::Reply(stub) => stub,
            CallEnd::Failed(e) => return Ok(done(Some(first_obs), col.fail(e))),
            CallEnd::Unanswered if first_call => {
                return Ok(UdpDump {
                    observation: first_obs,
                    result: None,
                    interrupted: cancel::requested(),
                });
            }
            CallEnd::Unanswered => {
                let why = if cancel::requested() {
                    DumpError::Interrupted.to_string()
                } else if due.by_dump {
                    due.passed().to_string()
                } else {
                    format!("the endpoint mapper stopped answering after {} entries", col.dump.entries.len())
                };
                col.dump.incomplete = Some(why);
                return Ok(done(Some(first_obs), Ok(col.dump)));
            }
        };
        cl.seq += 1;
        match col.page(&reply) {
            Ok(Next::More(h)) => handle = h,
            // A CL context handle dies with the activity; nothing to release.
            Ok(Next::End | Next::Cut(_)) => return Ok(done(Some(first_obs), Ok(col.dump))),
            Err(e) => return Ok(done(Some(first_obs), col.fail(e))),
        }
    }
    col.call_cap();
    Ok(done(first, Ok(col.dump)))
}

fn silence() -> Observation {
    Observation { evidence: Evidence::Silence, tries: 0, rtt: None, wait: Duration::ZERO }
}

struct ClClient {
    sock: Socket,
    target: SocketAddr,
    wait: Duration,
    tries: u32,
    activity: Uuid,
    cas: Uuid,
    seq: u32,
    boot: u32,
}

impl ClClient {
    /// One ept_lookup call, ended by `due` whatever arrives: the evidence (the first
    /// DCE/RPC answer about this call, or silence / an ICMP error) and how it ended.
    fn call(&mut self, stub: &[u8], due: Due) -> (Observation, CallEnd) {
        let mut reasm = dcerpc::ClReassembler::new(MAX_REPLY_FRAGMENTS, MAX_REPLY_BYTES);
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 65_535];
        let mut attempt = 0;
        let mut next_send = Instant::now();
        let mut sent_at = next_send;
        // Set once the server spoke DCE/RPC about this call: that already proves it.
        let mut answered: Option<Observation> = None;
        // The server's latest word was `working`.
        let mut working = false;
        // Bounded by `due`: every pass waits at most one slice, and sends are capped.
        loop {
            if cancel::requested() {
                return match answered {
                    Some(o) => (o, CallEnd::Failed(DumpError::Interrupted)),
                    None => (self.silence(attempt), CallEnd::Unanswered),
                };
            }
            let now = Instant::now();
            if now >= due.at {
                return match answered {
                    Some(o) if working && !due.by_dump => {
                        (o, CallEnd::Failed(DumpError::StillWorking(due.limits.call.as_millis())))
                    }
                    Some(o) => (o, CallEnd::Failed(due.passed())),
                    None => (self.silence(attempt), CallEnd::Unanswered),
                };
            }
            if attempt < self.tries && now >= next_send {
                attempt += 1;
                let call = dcerpc::ClCall::epm(self.activity, self.seq, self.boot, epm::EPT_LOOKUP_OPNUM);
                let req = match dcerpc::emit_cl_request(&call, stub, 0) {
                    Ok(r) => r,
                    Err(e) => return (silence(), CallEnd::Failed(e.into())),
                };
                sent_at = now;
                next_send = now + self.wait;
                if let Err(e) = self.sock.send_to(&req, &SockAddr::from(self.target)) {
                    return (self.error_obs(&e, attempt, sent_at), CallEnd::Unanswered);
                }
            }
            let until = if attempt < self.tries { next_send.min(due.at) } else { due.at };
            let Some(slice) = cancel::slice_until(until) else { continue };
            // A failed wait is a slice without a datagram: the deadline still ends the loop.
            let _ = crate::probe::udp::wait_for_datagram(&self.sock, slice);
            let (n, from) = match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => (n, from.as_socket()),
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return match answered {
                        Some(o) => (o, CallEnd::Failed(DumpError::Io(e.to_string()))),
                        None => (self.error_obs(&e, attempt, sent_at), CallEnd::Unanswered),
                    };
                }
            };
            if from.map(|a| a.ip()) != Some(self.target.ip()) {
                continue;
            }
            // SAFETY: recv_from initialised the first n bytes.
            let bytes: Vec<u8> = buf[..n].iter().map(|b| unsafe { b.assume_init() }).collect();
            let obs = Observation {
                evidence: Evidence::Reply { bytes: n },
                tries: attempt,
                rtt: Some(sent_at.elapsed()),
                wait: self.wait,
            };
            let Ok(pdu) = dcerpc::parse_cl_pdu(&bytes) else {
                // Something answered on the port, but not in DCE/RPC.
                let e = RpcError::Truncated("connectionless RPC reply");
                return (answered.unwrap_or(obs), CallEnd::Failed(e.into()));
            };
            if let Some(who) = dcerpc::parse_conv_who_are_you2(&pdu) {
                // The server asks who we are before running a non-idempotent call.
                answered.get_or_insert(obs);
                self.boot = who.boot_time;
                let resp = dcerpc::emit_conv_who_are_you2_response(&pdu.header, self.seq, self.cas);
                if let Some(from) = from {
                    let _ = self.sock.send_to(&resp, &SockAddr::from(from));
                }
                continue;
            }
            if pdu.header.activity != self.activity || pdu.header.seq != self.seq {
                continue;
            }
            let first = answered.get_or_insert(obs).clone();
            working = false;
            match pdu.body {
                ClBody::Response(r) => {
                    self.boot = pdu.header.server_boot;
                    // Store the fragment first: a fack names the highest fragment
                    // received in order *including* this one.
                    match reasm.push_response(&r) {
                        Ok(Some(stub)) => {
                            // The ack acknowledges every fragment, the last one included.
                            if let Some(from) = from {
                                let _ =
                                    self.sock.send_to(&dcerpc::emit_ack(&pdu.header), &SockAddr::from(from));
                            }
                            return (first, CallEnd::Reply(stub));
                        }
                        Ok(None) => {}
                        Err(e) => return (first, CallEnd::Failed(e.into())),
                    }
                    if r.frag && !r.nofack {
                        let body = dcerpc::FackBody {
                            vers: 1,
                            window_size: 64,
                            max_tsdu: 65_535,
                            max_frag_size: 65_535,
                            serial_num: pdu.header.serial,
                            selack_len: 0,
                            selack: reasm.selack(),
                        };
                        let fack = dcerpc::emit_fack(&pdu.header, reasm.fack_fragnum(), &body);
                        if let Some(from) = from {
                            let _ = self.sock.send_to(&fack, &SockAddr::from(from));
                        }
                    }
                }
                ClBody::Fault(status) => return (first, CallEnd::Failed(RpcError::Fault(status).into())),
                ClBody::Reject(status) => return (first, CallEnd::Failed(RpcError::Reject(status).into())),
                // Still executing: keep waiting, but only until `due`.
                ClBody::Working => working = true,
                // The server lost the call: send it again now, if tries are left.
                ClBody::Nocall(_) => next_send = Instant::now(),
                _ => {}
            }
        }
    }

    /// Silence after `attempt` requests.
    fn silence(&self, attempt: u32) -> Observation {
        Observation { evidence: Evidence::Silence, tries: attempt, rtt: None, wait: self.wait }
    }

    fn error_obs(&self, e: &io::Error, attempt: u32, sent_at: Instant) -> Observation {
        let evidence = match platform::take_icmp_error(&self.sock) {
            Some(r) => Evidence::Icmp(r),
            None if platform::is_refused(e) => Evidence::Refused,
            None => Evidence::Unreachable { error: e.to_string() },
        };
        Observation { evidence, tries: attempt, rtt: Some(sent_at.elapsed()), wait: self.wait }
    }
}

/// The endpoint-mapper query (TCP and UDP 135): dump every registered endpoint,
/// printed page by page as it arrives.
#[derive(Debug)]
pub struct Epm;

impl Query for Epm {
    fn id(&self) -> &'static str {
        "epm"
    }
    fn label(&self) -> &'static str {
        "RPC"
    }
    fn route(&self) -> Route {
        Route { services: &["epmap", "loc-srv"], ports: &[135], transports: super::BOTH }
    }
    fn announce(&self, _ctx: &Ctx) -> Block {
        vec![Line::Plain("Querying Endpoint Mapper Database...".into())]
    }
    fn ephemeral(&self) -> bool {
        true
    }
    /// PortQry never dumps the endpoint mapper during a range scan (`-r`), only for `-e` and `-o`.
    fn in_ranges(&self) -> bool {
        false
    }

    /// Bind to the endpoint mapper and dump it over the open connection. Each
    /// call may take the TCP query wait, the dump [`Limits`] allow.
    fn tcp(&self, ctx: &Ctx, mut stream: TcpStream, sink: &mut dyn Sink) -> Outcome {
        // PortQry dumps over a new connection from an ephemeral port and says so;
        // portqry dumps over the probe's own connection, from `-sp`'s port if given.
        let from = match ctx.opts.source_port {
            Some(p) => format!("Using source port {p}"),
            None => "Using ephemeral source port".to_string(),
        };
        sink.show(vec![Line::Plain(from)]);
        sink.show(self.announce(ctx));
        let started = Instant::now();
        let wait = ctx.opts.tcp_wait;
        let mut pages = Pages { names: ctx.opts.rpc_names, head: false, sink };
        let result =
            dump_tcp(&mut stream, Limits::for_call(wait), &mut |e| pages.show(e)).map_err(|e| e.to_string());
        let head = pages.head;
        let observation = result.as_ref().ok().map(|_| Observation {
            evidence: Evidence::Reply { bytes: 0 },
            tries: 1,
            rtt: Some(started.elapsed()),
            wait,
        });
        outcome(State::Listening, observation, Some(result), head)
    }

    /// Connectionless `ept_lookup`; the first call's evidence decides.
    fn udp(&self, ctx: &Ctx, sink: &mut dyn Sink) -> Result<Outcome, crate::Error> {
        exchange::say_ephemeral(self, ctx, sink);
        sink.show(self.announce(ctx));
        let o = ctx.opts;
        let mut pages = Pages { names: o.rpc_names, head: false, sink };
        let d = dump_udp(ctx.target.socket_addr(ctx.port), o.udp_wait, o.udp_tries, &mut |e| pages.show(e))?;
        let head = pages.head;
        let result = d.result.map(|r| r.map_err(|e| e.to_string()));
        let state = if result.is_some() {
            // Any DCE/RPC answer (even `working` until the deadline) proves a server.
            State::Listening
        } else if d.interrupted {
            // Stopped before an answer: the probe's verdict stands.
            State::ListeningOrFiltered
        } else {
            exchange::udp_state(&d.observation.evidence, ctx.target.addr)
        };
        let mut out = outcome(state, Some(d.observation), result, head);
        if out.answer.is_none() && out.error.is_none() {
            out.notes.push(Line::Plain(String::new()));
        }
        Ok(out)
    }
}

/// Shows pages of entries as they arrive, after the block's head the first time.
struct Pages<'a> {
    names: bool,
    head: bool,
    sink: &'a mut dyn Sink,
}

impl Pages<'_> {
    fn show(&mut self, entries: &[Entry]) {
        let mut lines = Vec::new();
        if !self.head {
            self.head = true;
            lines.extend(render_head());
        }
        lines.extend(epm::render_entries(entries, self.names));
        self.sink.show(super::plain(lines));
    }
}

/// The outcome of a dump; its notes end the block after the entries already
/// shown (or say why it failed).
fn outcome(
    state: State,
    observation: Option<Observation>,
    result: Option<Result<Dump, String>>,
    head: bool,
) -> Outcome {
    let mut out = Outcome::new("epm", state);
    out.observation = observation;
    match result {
        Some(Ok(dump)) => {
            if !head {
                out.notes.extend(super::plain(render_head()));
            }
            out.notes.extend(super::plain(render_tail(&dump)));
            out.answer = Some(Arc::new(dump));
        }
        Some(Err(e)) => {
            out.notes.push(Line::Plain(String::new()));
            out.notes.push(Line::Para(format!("The endpoint mapper query failed: {e}")));
            out.error = Some(e);
        }
        None => {}
    }
    out
}

impl Answer for Dump {
    // The entries were shown as they came; the tail is in the outcome's notes.
    fn block(&self) -> Block {
        Vec::new()
    }
    fn json(&self) -> serde_json::Value {
        super::to_json(self)
    }
}

/// PortQry's block for a dump, after its "Querying Endpoint Mapper Database..." line.
pub fn render(dump: &Dump, names: bool) -> Vec<String> {
    let mut lines = render_head();
    lines.extend(epm::render_entries(&dump.entries, names));
    lines.extend(render_tail(dump));
    lines
}

/// The lines before the entries (printed with the first page, or at the end).
pub fn render_head() -> Vec<String> {
    vec!["Server's response:".to_string(), String::new()]
}

/// The lines after the entries: the count, why the list may be incomplete, the end marker.
pub fn render_tail(dump: &Dump) -> Vec<String> {
    let mut lines = vec![format!("Total endpoints found: {}", dump.entries.len()), String::new()];
    if let Some(why) = &dump.incomplete {
        lines.push(format!("The list may be incomplete: {why}"));
        lines.push(String::new());
    }
    lines.push("==== End of RPC Endpoint Mapper query response ====".to_string());
    lines.push(String::new());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_deadline_is_five_calls_within_the_ceiling() {
        let s = Duration::from_secs;
        assert_eq!(Limits::for_call(s(2)).dump, s(10));
        assert_eq!(Limits::for_call(Duration::from_millis(400)).dump, s(2));
        assert_eq!(Limits::for_call(s(20)).dump, s(60));
        // A single call longer than the ceiling still gets its own deadline.
        assert_eq!(Limits::for_call(s(100)).dump, s(100));
    }

    /// A page of `n` minimal entries with a non-NULL handle (more to come).
    fn page(n: usize) -> Vec<u8> {
        let mut s = vec![0, 0, 0, 0];
        s.extend_from_slice(&[7; 16]);
        for v in [n as u32, n as u32, 0, n as u32] {
            s.extend_from_slice(&v.to_le_bytes());
        }
        for _ in 0..n {
            s.extend_from_slice(&[0; 28]);
        }
        s.extend_from_slice(&0u32.to_le_bytes());
        s
    }

    #[test]
    fn collector_keeps_at_most_the_bound_and_streams() {
        let mut seen = 0;
        let mut sink = |e: &[Entry]| seen += e.len();
        let mut col = Collector::new(&mut sink);
        assert!(matches!(col.page(&page(6000)), Ok(Next::More(_))));
        assert!(matches!(col.page(&page(6000)), Ok(Next::Cut(_))));
        assert_eq!(col.dump.entries.len(), MAX_DUMP_ENTRIES);
        assert_eq!(col.dump.incomplete.as_deref(), Some("more than 10000 entries (the dump's bound)"));
        let dump = col.fail(DumpError::Interrupted).unwrap();
        assert_eq!(dump.incomplete.as_deref(), Some("interrupted"));
        assert_eq!(seen, MAX_DUMP_ENTRIES);
    }

    #[test]
    fn a_failure_before_the_first_page_fails_the_dump() {
        let mut sink = |_: &[Entry]| {};
        let col = Collector::new(&mut sink);
        assert_eq!(
            col.fail(DumpError::CallDeadline(400)).unwrap_err().to_string(),
            "no complete answer from the endpoint mapper within 400 ms of the call"
        );
        let mut col = Collector::new(&mut sink);
        assert!(matches!(col.page(&page(0)), Ok(Next::End)));
        assert!(matches!(col.page(b"short"), Err(DumpError::Rpc(_))));
    }
    /// What the Samba AD DC sent to one of our dumps, as captured (fuzz seeds):
    /// the bind_ack, ept_lookup call 2 (two fragments), call 3 (the end).
    fn samba_dc_session() -> Vec<u8> {
        let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/dcerpc_pdu/real-samba-dc-");
        ["bind-ack.bin", "ept-lookup-500-call1-stream.bin", "ept-lookup-500-call2-frame1.bin"]
            .iter()
            .flat_map(|f| std::fs::read(format!("{seeds}{f}")).unwrap())
            .collect()
    }

    fn scripted_dump(bytes: &[u8], chunk: usize) -> (Result<Dump, DumpError>, Vec<u8>, usize) {
        use super::exchange::script::{End, Peer};
        let mut peer = Peer::new(bytes, chunk, End::Close);
        let mut streamed = 0;
        let limits = Limits::for_call(Duration::from_secs(2));
        let dump = dump_tcp(&mut peer, limits, &mut |e| streamed += e.len());
        (dump, peer.sent, streamed)
    }

    #[test]
    fn the_samba_dc_dump_reads_the_same_however_its_bytes_are_cut() {
        let session = samba_dc_session();
        let (whole, sent, streamed) = scripted_dump(&session, 64 * 1024);
        let whole = whole.unwrap();
        assert_eq!((whole.calls, whole.incomplete.as_deref()), (2, None));
        assert!(whole.entries.len() > 20 && streamed == whole.entries.len(), "{}", whole.entries.len());
        // lsarpc over TCP is among what a DC registers.
        let lsarpc = Uuid::parse_str("12345778-1234-abcd-ef00-0123456789ab").unwrap();
        assert!(
            whole.entries.iter().any(|e| e
                .tower
                .as_ref()
                .and_then(|t| t.interface.as_ref())
                .is_some_and(|i| i.uuid == lsarpc))
        );
        // We sent a bind (call 1) and two ept_lookup requests (calls 2 and 3), nothing else.
        let calls: Vec<(u8, u32)> = {
            let (mut off, mut v) = (0, Vec::new());
            while off + 16 <= sent.len() {
                let len = u16::from_le_bytes([sent[off + 8], sent[off + 9]]) as usize;
                v.push((sent[off + 2], u32::from_le_bytes(sent[off + 12..off + 16].try_into().unwrap())));
                off += len.max(16);
            }
            v
        };
        assert_eq!(calls, vec![(11, 1), (0, 2), (0, 3)]);
        // Every byte its own read: the same entries.
        let (bytewise, _, _) = scripted_dump(&session, 1);
        assert_eq!(bytewise.unwrap().entries, whole.entries);
    }

    #[test]
    fn a_reply_to_another_call_or_a_cut_connection_fails_the_dump() {
        let mut session = samba_dc_session();
        // The first ept_lookup response now claims to answer call 7.
        session[60 + 12..60 + 16].copy_from_slice(&7u32.to_le_bytes());
        let (dump, _, _) = scripted_dump(&session, 1500);
        assert_eq!(dump.unwrap_err(), DumpError::Rpc(RpcError::CallIdMismatch { expected: 2, got: 7 }));
        // The server closes in the middle of the first reply.
        let session = samba_dc_session();
        let (dump, _, _) = scripted_dump(&session[..60 + 1000], 1500);
        assert_eq!(dump.unwrap_err(), DumpError::Closed);
        // ...or after the first call: what was read is kept, and said to be partial.
        let (dump, _, _) = scripted_dump(&session[..60 + 6732], 1500);
        let dump = dump.unwrap();
        assert!(!dump.entries.is_empty());
        assert_eq!(dump.incomplete.as_deref(), Some("the endpoint mapper closed the connection"));
    }
}
