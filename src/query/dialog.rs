//! The socket of UDP conversations with servers that may answer from another
//! port: TFTP (a server answers from its new transfer ID, never from 69), L2TP,
//! and IKE (whose replies count only when they carry our initiator SPI).
//!
//! A socket connected to the well-known port would never see such a reply, so
//! [`HostSocket`] stays unconnected, takes datagrams from the target's address
//! on any port and ignores every other sender. ICMP errors still arrive: Linux
//! queues them on unconnected sockets too once `IP_RECVERR` is set (what
//! `probe::tcp::raw_socket` does), so a port-unreachable *from the target*
//! still means NOT LISTENING. Every receive has a deadline, and every loop a
//! fixed bound.

use super::{Answer, Ctx, Outcome, Query, exchange};
use crate::error::Error;
use crate::probe::tcp::{bind_source_port, raw_socket};
pub use crate::probe::udp::Received;
use crate::probe::udp::{
    Datagrams, FromTarget, UdpOptions, error_evidence, prepare_waits, recv_from_target, retry,
};
use crate::probe::{Evidence, Observation};
use socket2::{SockAddr, Socket};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

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
        prepare_waits(&sock)?;
        Ok(HostSocket { sock, target })
    }

    /// The local port, binding an ephemeral one first if the socket has none
    /// yet: for requests that name their own port (NetBIOS datagrams).
    pub fn local_port(&self) -> Result<u16, Error> {
        let err = |e: io::Error| Error::Socket(format!("cannot bind a UDP socket: {e}"));
        let port = |s: &Socket| s.local_addr().ok().and_then(|a| a.as_socket()).map_or(0, |a| a.port());
        if port(&self.sock) == 0 {
            let any: std::net::IpAddr = if self.target.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            };
            self.sock.bind(&SockAddr::from(SocketAddr::new(any, 0))).map_err(err)?;
        }
        Ok(port(&self.sock))
    }

    pub fn send_to(&self, to: SocketAddr, payload: &[u8]) -> io::Result<()> {
        self.sock.send_to(payload, &SockAddr::from(to)).map(|_| ())
    }

    /// Wait until `deadline` for a datagram from the target's address (any port).
    pub fn recv_any(&self, deadline: Instant) -> Result<Received, Error> {
        self.recv_until(deadline, &|_| true)
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
        retry(self, request, opts, accept, &|| Evidence::Silence)
    }
}

impl Datagrams for HostSocket {
    fn send(&self, payload: &[u8]) -> Result<Option<Evidence>, Error> {
        match self.send_to(self.target, payload) {
            Ok(()) => Ok(None),
            Err(e) => error_evidence(&self.sock, &e).map(Some),
        }
    }

    fn recv_until(&self, deadline: Instant, accept: &dyn Fn(&[u8]) -> bool) -> Result<Received, Error> {
        recv_from_target(&self.sock, self.target, deadline, accept)
    }
}

/// A conversation's evidence, the reply that settled it, and its parsed answer.
pub struct Dialog<T> {
    pub observation: Observation,
    /// The datagram the answer was read from.
    pub reply: Option<Vec<u8>>,
    pub answer: Option<Result<T, String>>,
}

/// A random 64-bit value (TFTP file names, L2TP tunnel ids).
pub fn nonce() -> u64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The outcome of a conversation: any reply from the target (for IKE, one
/// carrying our SPI) settles LISTENING; otherwise its evidence decides.
pub fn outcome<Q: Query + ?Sized>(
    q: &Q,
    ctx: &Ctx,
    observation: Observation,
    reply: Option<Vec<u8>>,
    answer: Option<Result<Arc<dyn Answer>, String>>,
) -> Outcome {
    let mut outcome = Outcome::new(q.id(), crate::probe::State::Filtered);
    match (&reply, answer) {
        (Some(reply), Some(parsed)) => exchange::settle(q.label(), &mut outcome, reply, parsed),
        _ => outcome.state = exchange::udp_state(&observation.evidence, ctx.target.addr),
    }
    outcome.observation = Some(observation);
    outcome
}

/// A whole UDP conversation: say what is sent, run `converse` with the
/// query's options, and settle the outcome from its reply.
pub fn run<Q: Query + ?Sized, T: Answer + 'static>(
    q: &Q,
    ctx: &Ctx,
    sink: &mut dyn super::Sink,
    converse: fn(SocketAddr, &UdpOptions) -> Result<Dialog<T>, Error>,
) -> Result<Outcome, Error> {
    sink.show(q.announce(ctx));
    let d = converse(ctx.target.socket_addr(ctx.port), &exchange::udp_options(q, ctx))?;
    let answer = d.answer.map(|a| a.map(|a| Arc::new(a) as Arc<dyn Answer>));
    Ok(outcome(q, ctx, d.observation, d.reply, answer))
}
