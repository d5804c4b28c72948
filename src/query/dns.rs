//! DNS (TCP and UDP 53): a standard query for `-nr`'s name (PortQry's default
//! asks for the target's own name), recognised by its id.

use super::{Answer, Block, Ctx, Query, Request, Route, random_u16, to_json};
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
        Ok(Arc::new(ours(body, req.token as u16).map_err(|e| e.to_string())?))
    }
}

/// The reply to query `id`: the id is compared before the rest is decoded, so a stray
/// datagram is named as such whatever else is wrong with it.
fn ours(body: &[u8], id: u16) -> Result<dns::DnsSummary, dns::ParseError> {
    if let Some(got) = dns::message_id(body).filter(|&got| got != id) {
        return Err(dns::ParseError::IdMismatch { expected: id, got });
    }
    dns::parse_response(body)
}

impl Answer for dns::DnsSummary {
    fn block(&self) -> Block {
        super::lines(self.render_lines())
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// REFUSED reply (id 0x1234), question `A example.com` echoed.
    const REPLY: [u8; 29] = [
        0x12, 0x34, 0x81, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d,
        0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    #[test]
    fn only_our_id_is_an_answer() {
        assert_eq!(ours(&REPLY, 0x1234).unwrap().rcode, "REFUSED");
        assert_eq!(
            ours(&REPLY, 0x4321).unwrap_err().to_string(),
            "DNS message id mismatch (expected 0x4321, got 0x1234)"
        );
        // Another query's id wins over what else is wrong (here: not a response).
        let mut query = REPLY;
        query[2] = 0x01;
        assert!(matches!(ours(&query, 0x4321), Err(dns::ParseError::IdMismatch { .. })));
        assert!(matches!(ours(&query, 0x1234), Err(dns::ParseError::NotResponse)));
        assert!(matches!(ours(&REPLY[..11], 0x4321), Err(dns::ParseError::Truncated)));
    }
}
