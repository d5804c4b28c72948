//! L2TP (UDP 1701): SCCRQ; the peer's answer, then a StopCCN (or a ZLB for its
//! StopCCN) so that no tunnel is left half open.

use super::dialog::{Dialog, HostSocket, Received, nonce};
use super::{Answer, Block, Ctx, Outcome, Query, Route, Sink, to_json};
use crate::error::Error;
use crate::probe::udp::UdpOptions;
use crate::wire::l2tp;
use std::net::SocketAddr;
use std::time::Instant;

#[derive(Debug)]
pub struct L2tp;

impl Query for L2tp {
    fn id(&self) -> &'static str {
        "l2tp"
    }
    fn label(&self) -> &'static str {
        "L2TP"
    }
    fn route(&self) -> Route {
        Route { services: &["l2tp"], ports: &[1701], transports: super::UDP }
    }

    fn udp(&self, ctx: &Ctx, sink: &mut dyn Sink) -> Result<Outcome, Error> {
        super::dialog::run(self, ctx, sink, converse)
    }
}

/// Messages from the peer handled after the first datagram: ZLBs before the
/// real answer, retransmissions, the ack of our StopCCN.
const MAX_L2TP_MESSAGES: usize = 16;

/// L2TP: SCCRQ; on SCCRP, a StopCCN to the peer's tunnel (retransmitted up to
/// `opts.tries` times until acknowledged); on StopCCN, a ZLB acknowledging it.
pub fn converse(target: SocketAddr, opts: &UdpOptions) -> Result<Dialog<l2tp::L2tpAnswer>, Error> {
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
        match sock.recv_any(deadline)? {
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
                    match sock.recv_any(deadline)? {
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

impl Answer for l2tp::L2tpAnswer {
    fn block(&self) -> Block {
        super::lines(self.render_lines())
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn proof(&self) -> Option<String> {
        Some(format!("an L2TP {} for our tunnel {}", self.reply.message_name, self.our_tunnel_id))
    }
}
