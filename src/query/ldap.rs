//! LDAP over TCP and CLDAP over UDP (389, and the global catalog's 3268): the
//! rootDSE search, recognised by its messageID; a TCP session ends with an unbind.

use super::{
    Answer, Block, Ctx, Line, Outcome, Query, Request, Route, Sink, exchange, plain, random_u16, to_json,
};
use crate::wire::{ber, ldap};
use std::net::TcpStream;
use std::sync::Arc;

#[derive(Debug)]
pub struct Ldap;

impl Query for Ldap {
    fn id(&self) -> &'static str {
        "ldap"
    }
    fn label(&self) -> &'static str {
        "LDAP"
    }
    fn route(&self) -> Route {
        Route { services: &["ldap", "msft-gc"], ports: &[389, 3268], transports: super::BOTH }
    }
    fn ephemeral(&self) -> bool {
        true
    }
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        let msg_id = i32::from(random_u16() & 0x7fff).max(1);
        Request { bytes: ldap::emit_rootdse_search(msg_id, ldap::ROOTDSE_ATTRIBUTES), token: msg_id as u64 }
    }
    fn answer(&self, _ctx: &Ctx, req: &Request, reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        Ok(Arc::new(ldap::parse_messages(reply, req.token as i32).map_err(|e| e.to_string())?))
    }
    fn goodbye(&self) -> Option<Vec<u8>> {
        Some(ldap::emit_unbind(0x7fff))
    }
    fn tcp(&self, ctx: &Ctx, stream: TcpStream, sink: &mut dyn Sink) -> Outcome {
        exchange::tcp_framed(self, ctx, stream, sink, &|req, buf| search_done(buf, req.token as i32))
    }
}

/// The length of the messages up to the one that ends our search (or up to a
/// message that does not parse, so its error is reported); `None`: read more.
fn search_done(buf: &[u8], msg_id: i32) -> Option<usize> {
    let mut off = 0;
    loop {
        match ber::message_len(&buf[off..]) {
            Ok(Some(n)) if off + n <= buf.len() => {
                off += n;
                match ldap::parse_messages(&buf[..off], msg_id) {
                    Ok(r) if !r.complete => continue,
                    _ => return Some(off),
                }
            }
            Ok(_) => return None,
            Err(_) => return Some(buf.len()),
        }
    }
}

impl Answer for ldap::RootDse {
    fn block(&self) -> Block {
        let mut b = vec![Line::Para("LDAP query response:".into())];
        b.extend(plain(self.render_lines()));
        b.push(Line::Plain(String::new()));
        b.push(Line::Para("======== End of LDAP query response ========".into()));
        b
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}
