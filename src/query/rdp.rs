//! RDP (TCP 3389): an X.224 Connection Request with an RDP Negotiation Request
//! for TLS, CredSSP and CredSSP EX (no cookie), answered by the Connection
//! Confirm naming the security protocol the server chose or why it refuses.
//! Nothing follows: the connection closes before any TLS.
//!
//! "Is it ours": nothing in a Connection Confirm echoes the request (xrdp and
//! Windows send fixed references), so it is the TPKT-framed CC on the
//! connection we opened, in answer to the request we just wrote.

use super::{Answer, Block, Ctx, Line, Query, Request, Route, plain, to_json};
use crate::wire::rdp;
use std::sync::Arc;

#[derive(Debug)]
pub struct Rdp;

impl Query for Rdp {
    fn id(&self) -> &'static str {
        "rdp"
    }
    fn label(&self) -> &'static str {
        "RDP"
    }
    fn route(&self) -> Route {
        Route { services: &["ms-wbt-server"], ports: &[3389], transports: super::TCP }
    }
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        Request { bytes: rdp::emit_connection_request(rdp::REQUESTED), token: u64::from(rdp::REQUESTED) }
    }
    fn framed_len(&self, buf: &[u8]) -> Option<usize> {
        rdp::framed_len(buf)
    }
    fn answer(&self, _ctx: &Ctx, _req: &Request, reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        Ok(Arc::new(rdp::parse_confirm(reply).map_err(|e| e.to_string())?))
    }
}

impl Answer for rdp::Confirm {
    fn block(&self) -> Block {
        let mut b = plain(self.render_lines());
        b.push(Line::Plain(String::new()));
        b
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn proof(&self) -> Option<String> {
        Some(match self {
            rdp::Confirm::Refused { tpdu_name, .. } => {
                format!("an X.224 {tpdu_name} (TPKT) to our Connection Request")
            }
            _ => "an X.224 Connection Confirm (TPKT) to our Connection Request".into(),
        })
    }
}
