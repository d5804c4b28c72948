//! RDP (TCP 3389): an X.224 Connection Request with an RDP Negotiation Request
//! for TLS, CredSSP and CredSSP EX (no cookie), answered by the Connection
//! Confirm naming the security protocol the server chose or why it refuses.
//! Nothing follows: the connection closes before any TLS.
//!
//! "Is it ours": nothing in a Connection Confirm echoes the request (xrdp and
//! Windows send fixed references), so it is the TPKT-framed CC on the
//! connection we opened, in answer to the request we just wrote.

use super::{Answer, Block, Ctx, Query, Request, Route, to_json};
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
        super::lines(self.render_lines())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Transport;
    use crate::target::Target;

    #[test]
    fn routed_by_port_and_name_and_parses_a_confirm() {
        let id = |p, s| {
            super::super::select(Transport::Tcp, p, s, &super::super::Options::default()).map(|q| q.id())
        };
        assert_eq!(id(3389, None), Some("rdp"));
        assert_eq!(id(3390, Some("ms-wbt-server")), Some("rdp"));
        let opts = super::super::Options::default();
        let target = Target { input: "t".into(), addr: [127, 0, 0, 1].into(), scope_id: 0 };
        let ctx = Ctx { opts: &opts, target: &target, port: 3389, transport: Transport::Tcp };
        let req = Rdp.request(&ctx, true);
        // xrdp's answer (capture.py rdp), security_layer=negotiate.
        let cc = [3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 1, 8, 0, 1, 0, 0, 0];
        assert_eq!(Rdp.framed_len(&cc[..10]), None);
        assert_eq!(Rdp.framed_len(&cc), Some(19));
        let a = Rdp.answer(&ctx, &req, &cc).unwrap();
        assert_eq!(a.json()["protocol_name"], "TLS");
        assert_eq!(
            a.block()[0],
            super::super::Line::Plain("RDP security protocol selected: TLS (0x1)".into())
        );
        assert!(Rdp.answer(&ctx, &req, b"SSH-2.0-x").is_err());
    }
}
