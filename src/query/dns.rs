//! DNS (TCP and UDP 53): a standard query for `-nr`'s name (PortQry's default
//! asks for the target's own name), recognised by its id.

use super::{Answer, Block, Ctx, Query, Request, Route, plain, random_u16, to_json};
use crate::probe::Transport;
use crate::wire::dns;
use std::sync::Arc;

#[derive(Debug)]
pub struct Dns;

impl Query for Dns {
    fn id(&self) -> &'static str {
        "dns"
    }
    fn label(&self) -> &'static str {
        "DNS"
    }
    fn route(&self) -> Route {
        Route { services: &["domain"], ports: &[53], transports: super::BOTH }
    }
    fn request(&self, ctx: &Ctx, tcp: bool) -> Request {
        let id = random_u16();
        // The name was checked when the command line was parsed.
        let q = dns::emit_query(id, &ctx.opts.dns_name, dns::QueryKind::A).unwrap_or_default();
        Request { bytes: if tcp { dns::frame_tcp(&q) } else { q }, token: u64::from(id) }
    }
    fn framed_len(&self, buf: &[u8]) -> Option<usize> {
        dns::tcp_frame_len(buf)
    }
    fn answer(&self, ctx: &Ctx, req: &Request, reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        let body = if ctx.transport == Transport::Tcp { reply.get(2..).unwrap_or_default() } else { reply };
        let summary = dns::parse_response(body, req.token as u16).map_err(|e| e.to_string())?;
        Ok(Arc::new(summary))
    }
}

impl Answer for dns::DnsSummary {
    fn block(&self) -> Block {
        let mut b = plain(self.render_lines());
        b.push(super::Line::Plain(String::new()));
        b
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}
