//! NetBIOS datagram service (UDP 138): the NETLOGON mailslot ping, which a
//! domain controller answers.
//!
//! The datagram service answers nothing addressed to a name the host has not
//! registered, and a DC answers the ping only when it goes to `DOMAIN<1C>`, so
//! the domain's NetBIOS name comes first from a node status query to UDP 137.
//! The DC sends its answer to the SOURCE_IP/SOURCE_PORT written in the
//! datagram header (Samba: from its port 138), so the header carries our
//! address toward the target and the port we listen on; the answer is ours
//! when it is written to the reply mailslot we named, which carries a nonce.

use super::dialog::{HostSocket, nonce};
use super::{Answer, Block, Ctx, Line, Outcome, Query, Request, Route, Sink, exchange, plain, to_json};
use crate::error::Error;
use crate::probe::{State, udp};
use crate::wire::{nbdgm, netbios};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;

#[derive(Debug)]
pub struct Nbdgm;

/// Our NetBIOS computer name in the ping (and the datagram's source name).
const COMPUTER: &str = "PORTQRY";
/// The domain name asked when UDP 137 names none (a DC would not answer it).
const FALLBACK_DOMAIN: &str = "WORKGROUP";

/// The DC's answer and what was asked.
#[derive(Debug, Clone, Serialize)]
pub struct NbdgmAnswer {
    /// The name the ping went to (`DOMAIN<1C>`).
    pub asked: String,
    #[serde(flatten)]
    pub reply: nbdgm::DatagramReply,
}

impl Query for Nbdgm {
    fn id(&self) -> &'static str {
        "netlogon_ping"
    }
    fn label(&self) -> &'static str {
        "NETLOGON ping"
    }
    fn route(&self) -> Route {
        Route { services: &["netbios-dgm"], ports: &[138], transports: super::UDP }
    }
    // A conversation (`udp`), not a single exchange.
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        Request { bytes: Vec::new(), token: 0 }
    }
    fn answer(&self, _ctx: &Ctx, _req: &Request, _reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        Err("not a single exchange".into())
    }

    fn udp(&self, ctx: &Ctx, sink: &mut dyn Sink) -> Result<Outcome, Error> {
        let opts = exchange::udp_options(self, ctx);
        let names = domain_names(ctx, &opts)?;
        let (domain, known) = match &names {
            Some(n) => match n.names.iter().find(|e| e.suffix == 0x1c || e.suffix == 0x1b) {
                Some(e) => (e.name.clone(), true),
                None => (workgroup(n).unwrap_or(FALLBACK_DOMAIN.into()), false),
            },
            None => (FALLBACK_DOMAIN.into(), false),
        };
        let asked = format!("{domain}<1C>");
        sink.show(vec![Line::Para(format!(
            "Sending {} (NetBIOS datagram to {asked}) to UDP port {}...",
            self.label(),
            ctx.port
        ))]);
        let target = ctx.target.socket_addr(ctx.port);
        let (sock, local) = open(target, opts.source_port)?;
        let mailslot = format!("\\MAILSLOT\\NET\\GETDC{:010X}", nonce() & 0xff_ffff_ffff);
        let ping = nbdgm::emit_ping(&nbdgm::Ping {
            dgm_id: super::random_u16(),
            source_ip: match local.ip() {
                IpAddr::V4(a) => a,
                IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED, // NetBIOS datagrams are IPv4 only
            },
            source_port: local.port(),
            computer: COMPUTER,
            domain: &domain,
            reply_mailslot: &mailslot,
        });
        let ours = |b: &[u8]| nbdgm::parse_reply(b).is_ok_and(|r| r.mailslot == mailslot);
        let (observation, got) = sock.exchange_matching(&ping, &opts, &ours)?;
        let answer = got.as_ref().map(|(_, bytes)| {
            nbdgm::parse_reply(bytes)
                .map(|reply| Arc::new(NbdgmAnswer { asked: asked.clone(), reply }) as Arc<dyn Answer>)
                .map_err(|e| e.to_string())
        });
        let silent = got.is_none();
        let mut outcome = super::dialog::outcome(self, ctx, observation, got.map(|(_, b)| b), answer);
        if silent && outcome.state == State::Filtered {
            if known {
                outcome.notes.push(Line::Para(format!(
                    "No answer to the NETLOGON ping to {asked}; a domain controller of {domain} answers it."
                )));
            } else {
                // Nothing we could send would be answered: no verdict from silence.
                outcome.state = State::ListeningOrFiltered;
                let why = match names {
                    Some(_) => "UDP 137 names no domain controller group (<1C>)",
                    None => "UDP 137 did not answer the node status query",
                };
                outcome.notes.push(Line::Para(format!(
                    "No answer to the NETLOGON ping to {asked}: {why}, and the NetBIOS datagram service answers only a domain controller's ping."
                )));
            }
        }
        Ok(outcome)
    }
}

/// The node status of UDP 137 (from an ephemeral port), for the domain's name.
fn domain_names(ctx: &Ctx, opts: &udp::UdpOptions) -> Result<Option<netbios::NodeStatus>, Error> {
    let id = super::random_u16();
    let nbns = udp::UdpOptions { source_port: None, ..*opts };
    let p = udp::exchange(ctx.target.socket_addr(137), &netbios::emit_node_status_request(id), &nbns)?;
    // A connected socket already takes only 137's datagrams; the id makes it our answer.
    Ok(p.reply.and_then(|r| super::netbios::ours(&r, id).ok()))
}

/// The workgroup a non-DC belongs to: its `<00>` group name.
fn workgroup(n: &netbios::NodeStatus) -> Option<String> {
    n.names.iter().find(|e| e.suffix == 0 && e.group).map(|e| e.name.clone())
}

/// A socket for the ping and the address the DC must answer to: our address
/// toward the target (the route's source) and the port the socket is bound to
/// (`-sp`'s, or an ephemeral one bound before anything is sent).
fn open(target: SocketAddr, source_port: Option<u16>) -> Result<(HostSocket, SocketAddr), Error> {
    let any: IpAddr =
        if target.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { std::net::Ipv6Addr::UNSPECIFIED.into() };
    let sock_err = |e: std::io::Error| Error::Socket(format!("cannot create a UDP socket: {e}"));
    // Connecting a UDP socket sends nothing; it asks the routing table for our address.
    let route = UdpSocket::bind(SocketAddr::new(any, 0)).map_err(sock_err)?;
    route.connect(target).map_err(sock_err)?;
    let local = route.local_addr().map_err(sock_err)?;
    let sock = HostSocket::open(target, source_port)?;
    let port = sock.local_port()?;
    Ok((sock, SocketAddr::new(local.ip(), port)))
}

impl Answer for NbdgmAnswer {
    fn block(&self) -> Block {
        let mut b = vec![Line::Para("Server's response:".into())];
        b.extend(plain(self.reply.netlogon.render_lines()));
        b.push(Line::Plain(String::new()));
        b
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn proof(&self) -> Option<String> {
        Some(format!(
            "a NETLOGON answer from {} port {} written to our reply mailslot {}",
            self.reply.source_name, self.reply.source_port, self.reply.mailslot
        ))
    }
}
