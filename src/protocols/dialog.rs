//! UDP conversations with servers that may answer from another port: TFTP (a
//! server answers from its new transfer ID, never from 69), L2TP, and IKE (whose
//! replies count only when they carry our initiator SPI).
//!
//! A socket connected to the well-known port would never see such a reply, so
//! [`HostSocket`] stays unconnected, takes datagrams from the target's address
//! on any port and ignores every other sender. ICMP errors still arrive: Linux
//! queues them on unconnected sockets too once `IP_RECVERR` is set (what
//! `probe::tcp::raw_socket` does), so a port-unreachable *from the target*
//! still means NOT LISTENING. Every receive has a deadline, and every loop a
//! fixed bound.

use super::{ike, l2tp, tftp};
use crate::error::Error;
use crate::probe::tcp::{bind_source_port, raw_socket};
use crate::probe::udp::{UdpOptions, error_evidence};
use crate::probe::{Evidence, Observation};
use socket2::{SockAddr, Socket};
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::time::Instant;

/// Largest datagram we accept.
const MAX_DATAGRAM: usize = 65_535;

/// A datagram from the target: the port it came from and its bytes.
type FromTarget = (SocketAddr, Vec<u8>);

/// What one wait for a datagram from the target produced.
enum Received {
    Datagram(SocketAddr, Vec<u8>),
    Timeout,
    /// An ICMP error (or another socket error turned into evidence).
    Error(Evidence),
}

/// An unconnected UDP socket that talks to one host.
pub struct HostSocket {
    sock: Socket,
    target: SocketAddr,
}

impl HostSocket {
    /// A socket for `target`'s address family, bound to `-sp` when given.
    pub fn open(target: SocketAddr, source_port: Option<u16>) -> Result<HostSocket, Error> {
        let sock = raw_socket(target, false, false)
            .map_err(|e| Error::Socket(format!("cannot create a UDP socket: {e}")))?;
        if let Some(port) = source_port {
            bind_source_port(&sock, target, port)?;
        }
        Ok(HostSocket { sock, target })
    }

    fn send_to(&self, to: SocketAddr, payload: &[u8]) -> io::Result<()> {
        self.sock.send_to(payload, &SockAddr::from(to)).map(|_| ())
    }

    /// Wait until `deadline` for a datagram from the target's address (any port).
    fn recv_until(&self, deadline: Instant) -> Result<Received, Error> {
        self.recv_matching(deadline, &|_| true)
    }

    /// Wait until `deadline` for a datagram from the target's address that
    /// `accept` takes; others (an answer to someone else) are skipped.
    fn recv_matching(&self, deadline: Instant, accept: &dyn Fn(&[u8]) -> bool) -> Result<Received, Error> {
        let mut buf = vec![MaybeUninit::<u8>::uninit(); MAX_DATAGRAM];
        // Only the deadline ends the wait: datagrams from other hosts (or
        // answers to someone else), however many, are skipped.
        while let Some(slice) = crate::cancel::slice_until(deadline) {
            if crate::cancel::requested() {
                return Err(Error::Interrupted);
            }
            self.sock
                .set_read_timeout(Some(slice))
                .map_err(|e| Error::Socket(format!("cannot set a receive deadline: {e}")))?;
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => match from.as_socket() {
                    Some(from) if from.ip() == self.target.ip() => {
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
                    ) => {}
                Err(e) => return error_evidence(&self.sock, &e).map(Received::Error),
            }
        }
        Ok(Received::Timeout)
    }

    /// Send `request` to the target up to `opts.tries` times, waiting `opts.wait`
    /// after each, until a datagram from the target's address or an ICMP error.
    pub fn exchange(
        &self,
        request: &[u8],
        opts: &UdpOptions,
    ) -> Result<(Observation, Option<FromTarget>), Error> {
        self.exchange_matching(request, opts, &|_| true)
    }

    /// [`HostSocket::exchange`], counting only datagrams `accept` takes as answers.
    pub fn exchange_matching(
        &self,
        request: &[u8],
        opts: &UdpOptions,
        accept: &dyn Fn(&[u8]) -> bool,
    ) -> Result<(Observation, Option<FromTarget>), Error> {
        let tries = opts.tries.max(1);
        let observed = |evidence, tries, rtt| Observation { evidence, tries, rtt, wait: opts.wait };
        for attempt in 1..=tries {
            let sent = Instant::now();
            if let Err(e) = self.send_to(self.target, request) {
                // An ICMP error for an earlier try can surface on this send.
                let evidence = error_evidence(&self.sock, &e)?;
                return Ok((observed(evidence, attempt, Some(sent.elapsed())), None));
            }
            match self.recv_matching(sent + opts.wait, accept)? {
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
        Ok((observed(Evidence::Silence, tries, None), None))
    }
}

/// A conversation's evidence, the reply that settled it, and its parsed answer.
pub struct Dialog<T> {
    pub observation: Observation,
    /// The datagram the answer was read from.
    pub reply: Option<Vec<u8>>,
    pub answer: Option<Result<T, String>>,
}

fn nonce() -> u64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// TFTP: a read request for a file that does not exist; a DATA or OACK (the
/// name existed after all) is answered with an ERROR to the server's transfer
/// ID, which ends the transfer at once.
pub fn tftp(target: SocketAddr, opts: &UdpOptions) -> Result<Dialog<tftp::TftpAnswer>, Error> {
    let sock = HostSocket::open(target, opts.source_port)?;
    let file = tftp::probe_file_name(nonce());
    let (observation, got) = sock.exchange(&tftp::emit_read_request(&file, tftp::MODE_OCTET), opts)?;
    let Some((from, bytes)) = got else {
        return Ok(Dialog { observation, reply: None, answer: None });
    };
    let answer = tftp::parse_reply(&bytes).map_err(|e| e.to_string()).map(|reply| {
        let stop = tftp::stop_transfer(&reply);
        // Best effort: a server that does not get it times the transfer out itself.
        let stopped_with = stop.and_then(|(code, pkt)| sock.send_to(from, &pkt).ok().map(|_| code));
        tftp::TftpAnswer { file, server_port: from.port(), reply, stopped_with }
    });
    Ok(Dialog { observation, reply: Some(bytes), answer: Some(answer) })
}

/// Messages from the peer handled after the first datagram: ZLBs before the
/// real answer, retransmissions, the ack of our StopCCN.
const MAX_L2TP_MESSAGES: usize = 16;

/// L2TP: SCCRQ; on SCCRP, a StopCCN to the peer's tunnel (retransmitted up to
/// `opts.tries` times until acknowledged); on StopCCN, a ZLB acknowledging it.
pub fn l2tp(target: SocketAddr, opts: &UdpOptions) -> Result<Dialog<l2tp::L2tpAnswer>, Error> {
    let sock = HostSocket::open(target, opts.source_port)?;
    let ours = (nonce() as u16).max(1);
    let (observation, got) = sock.exchange(&l2tp::emit_sccrq(ours, l2tp::HOST_NAME), opts)?;
    let Some((mut from, mut bytes)) = got else {
        return Ok(Dialog { observation, reply: None, answer: None });
    };
    // A peer may acknowledge the SCCRQ with a ZLB before it answers: wait one more
    // period in all (not per ZLB) for the answer.
    let mut msg = l2tp::parse_control(&bytes);
    let deadline = Instant::now() + opts.wait;
    for _ in 0..MAX_L2TP_MESSAGES {
        if !matches!(&msg, Ok(m) if m.message_type.is_none()) {
            break;
        }
        match sock.recv_until(deadline)? {
            Received::Datagram(f, b) => {
                (from, bytes) = (f, b);
                msg = l2tp::parse_control(&bytes);
            }
            Received::Timeout | Received::Error(_) => break,
        }
    }
    let answer = match msg {
        Ok(reply) => {
            let closing = close_l2tp(&sock, from, ours, &reply, opts)?;
            Ok(l2tp::L2tpAnswer { our_tunnel_id: ours, server_port: from.port(), reply, closing })
        }
        Err(e) => Err(e.to_string()),
    };
    Ok(Dialog { observation, reply: Some(bytes), answer: Some(answer) })
}

/// Wind up after the peer's answer so no tunnel is left half open.
fn close_l2tp(
    sock: &HostSocket,
    peer: SocketAddr,
    ours: u16,
    reply: &l2tp::ControlMessage,
    opts: &UdpOptions,
) -> Result<Option<l2tp::L2tpClosing>, Error> {
    // Our SCCRQ was Ns 0, so our next Ns is 1; Nr acknowledges the peer's message.
    let (ns, nr) = (1, reply.ns.wrapping_add(1));
    let peer_tunnel = reply.assigned_tunnel_id.unwrap_or(0);
    match reply.message_type {
        Some(l2tp::message::STOPCCN) => {
            let _ = sock.send_to(peer, &l2tp::emit_zlb(peer_tunnel, ns, nr));
            Ok(Some(l2tp::L2tpClosing { sent: "zlb", tunnel_id: peer_tunnel, acknowledged: None }))
        }
        Some(l2tp::message::SCCRP) => {
            let stop = l2tp::emit_stopccn(peer_tunnel, ours, ns, nr);
            let mut acknowledged = false;
            'tries: for _ in 0..opts.tries.max(1) {
                if sock.send_to(peer, &stop).is_err() {
                    break;
                }
                let deadline = Instant::now() + opts.wait;
                for _ in 0..MAX_L2TP_MESSAGES {
                    match sock.recv_until(deadline)? {
                        // Anything for our tunnel whose Nr is past our StopCCN acknowledges it.
                        Received::Datagram(_, b) => {
                            if l2tp::parse_control(&b)
                                .is_ok_and(|m| m.tunnel_id == ours && m.nr == ns.wrapping_add(1))
                            {
                                acknowledged = true;
                                break 'tries;
                            }
                        }
                        Received::Timeout | Received::Error(_) => break,
                    }
                }
            }
            Ok(Some(l2tp::L2tpClosing {
                sent: "stopccn",
                tunnel_id: peer_tunnel,
                acknowledged: Some(acknowledged),
            }))
        }
        _ => Ok(None),
    }
}

/// IKE: one IKE_SA_INIT request; only a reply carrying our initiator SPI
/// counts (another initiator's traffic is not an answer to us). Nothing else is
/// sent: the half-open IKE SA a response creates expires on the responder.
pub fn ike(target: SocketAddr, opts: &UdpOptions) -> Result<Dialog<ike::IkeAnswer>, Error> {
    let sock = HostSocket::open(target, opts.source_port)?;
    let spi = ike::random_spi();
    let ours = |b: &[u8]| b.get(..8) == Some(&spi[..]);
    let (observation, got) = sock.exchange_matching(&ike::emit_sa_init_random(spi), opts, &ours)?;
    let Some((_, bytes)) = got else {
        return Ok(Dialog { observation, reply: None, answer: None });
    };
    let answer = ike::parse_reply(&bytes, spi).map_err(|e| e.to_string());
    Ok(Dialog { observation, reply: Some(bytes), answer: Some(answer) })
}
