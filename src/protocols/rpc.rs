//! The RPC endpoint-mapper dump (`ept_lookup` until the server says no more)
//! over TCP (ncacn_ip_tcp) and UDP (ncadg_ip_udp), on top of the wire formats
//! in [`dcerpc`] and [`epm`].
//!
//! Every read has a deadline, the number of calls is capped
//! ([`epm::MAX_LOOKUP_CALLS`]), and reassembly is size-capped, so a hostile or
//! broken server ends in a clear message, never a hang.

use super::dcerpc::{self, ClBody, RpcError};
use super::epm::{self, Entry};
use crate::platform;
use crate::probe::{Evidence, Observation};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What a dump found: every entry, and why it stopped if not at the list's end.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Dump {
    pub entries: Vec<Entry>,
    /// Calls made to ept_lookup.
    pub calls: usize,
    /// Set when the list may be incomplete (call cap reached, server stopped answering).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

/// Entries asked for per UDP call: small, so replies fit Windows' initial
/// 1024-byte fragment size and rarely need reassembly.
const MAX_ENTS_UDP: u32 = 4;

/// Dump over an open TCP connection; `wait` bounds each read.
pub fn dump_tcp(stream: &mut TcpStream, wait: Duration) -> Result<Dump, String> {
    let mut conn = CoConn { stream, pending: Vec::new(), wait };
    conn.send(&dcerpc::emit_bind(1, dcerpc::CO_DEFAULT_MAX_FRAG, dcerpc::EPM_SYNTAX, dcerpc::NDR_SYNTAX))?;
    let ack_frame = conn.frame()?;
    let ack = dcerpc::parse_bind_ack(&ack_frame).map_err(|e| e.to_string())?;
    ack.check_accepted().map_err(|e| e.to_string())?;
    // The server's receive limit bounds our request fragments.
    let max_frag = ack.max_recv_frag.clamp(dcerpc::CO_HEADER_LEN as u16 + 64, dcerpc::CO_DEFAULT_MAX_FRAG);
    let mut dump = Dump::default();
    let mut handle = epm::NULL_HANDLE;
    for call in 0..epm::MAX_LOOKUP_CALLS {
        let call_id = 2 + call as u32;
        let stub = epm::emit_ept_lookup_stub(&handle, epm::MAX_ENTS_TCP);
        for frag in dcerpc::emit_request(call_id, 0, epm::EPT_LOOKUP_OPNUM, &stub, max_frag) {
            conn.send(&frag)?;
        }
        let mut reasm = dcerpc::CoReassembler::new(call_id, dcerpc::DEFAULT_MAX_STUB);
        let reply = loop {
            let frame = conn.frame()?;
            if let Some(stub) = reasm.push(&frame).map_err(|e| e.to_string())? {
                break stub;
            }
        };
        dump.calls += 1;
        let page = epm::parse_ept_lookup_reply(&reply).map_err(|e| e.to_string())?;
        let last = page.is_last();
        note_status(&mut dump, page.status);
        dump.entries.extend(page.entries);
        if last {
            return Ok(dump);
        }
        handle = page.entry_handle;
    }
    dump.incomplete = Some(format!("stopped after {} ept_lookup calls", epm::MAX_LOOKUP_CALLS));
    // Release the server's context handle; the connection closes right after anyway.
    let stub = epm::emit_ept_lookup_handle_free_stub(&handle);
    for frag in dcerpc::emit_request(999, 0, epm::EPT_LOOKUP_HANDLE_FREE_OPNUM, &stub, max_frag) {
        let _ = conn.send(&frag);
    }
    Ok(dump)
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
    stream: &'a mut TcpStream,
    pending: Vec<u8>,
    wait: Duration,
}

impl CoConn<'_> {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.set_write_timeout(Some(self.wait)).map_err(|e| e.to_string())?;
        self.stream.write_all(bytes).map_err(|e| format!("cannot send to the endpoint mapper: {e}"))
    }

    /// The next complete PDU, waiting at most `wait` for each read.
    fn frame(&mut self) -> Result<Vec<u8>, String> {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(n) = dcerpc::co_frame_len(&self.pending)
                && self.pending.len() >= n
            {
                return Ok(self.pending.drain(..n).collect());
            }
            self.stream.set_read_timeout(Some(self.wait)).map_err(|e| e.to_string())?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("the endpoint mapper closed the connection".into()),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Err(format!(
                        "no answer from the endpoint mapper within {} ms",
                        self.wait.as_millis()
                    ));
                }
                Err(e) => return Err(format!("endpoint mapper connection failed: {e}")),
            }
        }
    }
}

/// The outcome of a UDP dump: the evidence for the verdict, and what was found.
pub struct UdpDump {
    /// Evidence of the first call: a reply, an ICMP error, or silence.
    pub observation: Observation,
    /// Present once the server answered at all.
    pub result: Option<Result<Dump, String>>,
}

/// Dump over connectionless RPC (UDP 135).
///
/// The socket is unconnected, because a server may answer or call back
/// (`conv_who_are_you2`) from another port; datagrams from other hosts are
/// ignored. ICMP errors still arrive through the platform error queue.
pub fn dump_udp(target: SocketAddr, wait: Duration, tries: u32) -> Result<UdpDump, crate::Error> {
    let sock = Socket::new(Domain::for_address(target), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| crate::Error::Socket(format!("cannot create a UDP socket: {e}")))?;
    let _ = platform::enable_icmp_errors(&sock, target.is_ipv6());
    let mut cl = ClClient {
        sock,
        target,
        wait,
        tries: tries.max(1),
        activity: Uuid::new_v4(),
        cas: Uuid::new_v4(),
        seq: 0,
        boot: 0,
    };
    let mut dump = Dump::default();
    let mut handle = epm::NULL_HANDLE;
    let mut first: Option<Observation> = None;
    for _ in 0..epm::MAX_LOOKUP_CALLS {
        let stub = epm::emit_ept_lookup_stub(&handle, MAX_ENTS_UDP);
        let (obs, reply) = cl.call(&stub);
        let is_first = first.is_none();
        if is_first {
            first = Some(obs.clone());
        }
        let stub = match reply {
            Some(Ok(stub)) => stub,
            Some(Err(e)) => {
                let msg = e.to_string();
                return Ok(UdpDump { observation: first.unwrap_or(obs), result: Some(Err(msg)) });
            }
            None if is_first => {
                return Ok(UdpDump { observation: obs, result: None });
            }
            None => {
                dump.incomplete = Some(format!(
                    "the endpoint mapper stopped answering after {} entries",
                    dump.entries.len()
                ));
                break;
            }
        };
        dump.calls += 1;
        cl.seq += 1;
        let page = match epm::parse_ept_lookup_reply(&stub) {
            Ok(p) => p,
            Err(e) => {
                return Ok(UdpDump { observation: first.unwrap_or(obs), result: Some(Err(e.to_string())) });
            }
        };
        let last = page.is_last();
        note_status(&mut dump, page.status);
        dump.entries.extend(page.entries);
        if last {
            return Ok(UdpDump { observation: first.unwrap_or(obs), result: Some(Ok(dump)) });
        }
        handle = page.entry_handle;
    }
    if dump.incomplete.is_none() {
        dump.incomplete = Some(format!("stopped after {} ept_lookup calls", epm::MAX_LOOKUP_CALLS));
    }
    Ok(UdpDump { observation: first.unwrap_or_else(silence), result: Some(Ok(dump)) })
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
    /// One ept_lookup call: the evidence, and the reassembled reply stub
    /// (`None` for silence or an ICMP error).
    fn call(&mut self, stub: &[u8]) -> (Observation, Option<Result<Vec<u8>, RpcError>>) {
        let mut reasm =
            dcerpc::ClReassembler::new(dcerpc::CL_DEFAULT_MAX_FRAGMENTS, dcerpc::DEFAULT_MAX_STUB);
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 65_535];
        let mut attempt = 0;
        let mut send_now = true;
        let mut deadline = Instant::now();
        let mut sent_at = Instant::now();
        // Bounded: each pass either waits until a deadline or handles a datagram,
        // and the number of sends and of deadline extensions is capped.
        let mut extensions = 0;
        loop {
            if send_now {
                if attempt >= self.tries {
                    let obs = Observation {
                        evidence: Evidence::Silence,
                        tries: attempt,
                        rtt: None,
                        wait: self.wait,
                    };
                    return (obs, None);
                }
                attempt += 1;
                let call = dcerpc::ClCall::epm(self.activity, self.seq, self.boot, epm::EPT_LOOKUP_OPNUM);
                let req = match dcerpc::emit_cl_request(&call, stub, 0) {
                    Ok(r) => r,
                    Err(e) => return (silence(), Some(Err(e))),
                };
                sent_at = Instant::now();
                deadline = sent_at + self.wait;
                if let Err(e) = self.sock.send_to(&req, &SockAddr::from(self.target)) {
                    return (self.error_obs(&e, attempt, sent_at), None);
                }
                send_now = false;
            }
            let now = Instant::now();
            if now >= deadline {
                send_now = true;
                continue;
            }
            let _ = self.sock.set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))));
            let (n, from) = match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => (n, from.as_socket()),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    send_now = true;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return (self.error_obs(&e, attempt, sent_at), None),
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
                return (obs, Some(Err(RpcError::Truncated("connectionless RPC reply"))));
            };
            if let Some(who) = dcerpc::parse_conv_who_are_you2(&pdu) {
                // The server asks who we are before running a non-idempotent call.
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
                            return (obs, Some(Ok(stub)));
                        }
                        Ok(None) => deadline = Instant::now() + self.wait,
                        Err(e) => return (obs, Some(Err(e))),
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
                ClBody::Fault(status) => return (obs, Some(Err(RpcError::Fault(status)))),
                ClBody::Reject(status) => return (obs, Some(Err(RpcError::Reject(status)))),
                ClBody::Working if extensions < 10 => {
                    extensions += 1;
                    deadline = Instant::now() + self.wait;
                }
                ClBody::Nocall(_) => send_now = true,
                _ => {}
            }
        }
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

/// PortQry's block for a dump, after its "Querying Endpoint Mapper Database..." line.
pub fn render(dump: &Dump, names: bool) -> Vec<String> {
    let mut lines = vec!["Server's response:".to_string(), String::new()];
    lines.extend(epm::render_entries(&dump.entries, names));
    if lines.last().is_some_and(|l| !l.is_empty()) {
        lines.push(String::new());
    }
    lines.push(format!("Total endpoints found: {}", dump.entries.len()));
    lines.push(String::new());
    if let Some(why) = &dump.incomplete {
        lines.push(format!("The list may be incomplete: {why}"));
        lines.push(String::new());
    }
    lines.push("==== End of RPC Endpoint Mapper query response ====".to_string());
    lines.push(String::new());
    lines
}
