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
        Ok(Arc::new(ours(reply, req.token as i32).map_err(|e| e.to_string())?))
    }
    fn goodbye(&self) -> Option<Vec<u8>> {
        Some(ldap::emit_unbind(0x7fff))
    }
    fn tcp(&self, ctx: &Ctx, mut stream: TcpStream, sink: &mut dyn Sink) -> Outcome {
        exchange::tcp_framed(self, ctx, &mut stream, sink, &|req, buf| search_done(buf, req.token as i32))
    }
}

/// The length of the messages up to the one that ends our search (or up to a
/// message that does not parse, so its error is reported); `None`: read more.
fn search_done(buf: &[u8], msg_id: i32) -> Option<usize> {
    frame_until(buf, &|msgs| !matches!(ours(msgs, msg_id), Ok(r) if !r.complete))
}

/// TCP framing of LDAP replies: the length of the whole messages at the start
/// of `buf` up to the first prefix `done` says ends the reply, or everything
/// once a message's length does not parse (so its error is reported); `None`:
/// read more.
pub fn frame_until(buf: &[u8], done: &dyn Fn(&[u8]) -> bool) -> Option<usize> {
    let mut off = 0;
    loop {
        match ber::message_len(&buf[off..]) {
            Ok(Some(n)) if off + n <= buf.len() => {
                off += n;
                if done(&buf[..off]) {
                    return Some(off);
                }
            }
            Ok(_) => return None,
            Err(_) => return Some(buf.len()),
        }
    }
}

/// The answer to our search `msg_id` in `buf`: its first message (after unsolicited
/// notifications) and every later one must carry our messageID. The first message
/// naming another request is refused even if it does not parse, as before any decoding.
fn ours(buf: &[u8], msg_id: i32) -> Result<ldap::RootDse, ldap::LdapError> {
    let m = ldap::parse_messages(buf);
    match m.message_id.into_iter().chain(m.other_id).find(|&id| id != i64::from(msg_id)) {
        Some(found) => Err(ldap::LdapError::MessageIdMismatch { expected: msg_id, found }),
        None => m.result,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A BER TLV with a short-form length.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, content.len() as u8];
        out.extend_from_slice(content);
        out
    }

    fn message(id: u8, op: Vec<u8>) -> Vec<u8> {
        tlv(0x30, &[tlv(0x02, &[id]), op].concat())
    }

    /// SearchResultDone with resultCode `code`.
    fn done(id: u8, code: u8) -> Vec<u8> {
        message(id, tlv(0x65, &[tlv(0x0a, &[code]), tlv(0x04, b""), tlv(0x04, b"")].concat()))
    }

    /// An empty SearchResultEntry.
    fn entry(id: u8) -> Vec<u8> {
        message(id, tlv(0x64, &[tlv(0x04, b""), tlv(0x30, b"")].concat()))
    }

    #[test]
    fn only_our_message_id_is_an_answer() {
        let reply = [entry(1), done(1, 0)].concat();
        assert!(ours(&reply, 1).unwrap().complete);
        assert_eq!(ours(&reply, 2).unwrap_err().to_string(), "LDAP message id 1 does not match request id 2");
        // Ours, then another request's.
        let mixed = [entry(1), done(2, 0)].concat();
        assert_eq!(ours(&mixed, 1), Err(ldap::LdapError::MessageIdMismatch { expected: 1, found: 2 }));
        // Another request's id wins over what else is wrong (a BindResponse).
        let bind = message(2, tlv(0x61, &tlv(0x0a, &[0])));
        assert_eq!(ours(&bind, 1), Err(ldap::LdapError::MessageIdMismatch { expected: 1, found: 2 }));
        assert_eq!(ours(&bind, 2), Err(ldap::LdapError::UnexpectedOperation(0x61)));
        assert_eq!(ours(&[], 1), Err(ldap::LdapError::NoResponse));
    }

    #[test]
    fn tcp_framing_waits_for_our_done() {
        let entry = entry(1);
        let reply = [entry.clone(), done(1, 0), vec![0x30]].concat();
        assert_eq!(search_done(&entry, 1), None);
        assert_eq!(search_done(&reply[..entry.len() + 3], 1), None);
        assert_eq!(search_done(&reply, 1), Some(reply.len() - 1));
        // A message for another request ends the read, so its error is reported.
        assert_eq!(search_done(&reply, 2), Some(entry.len()));
    }
}
