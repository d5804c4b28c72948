//! NetBIOS node status (UDP 137): the adapter status query PortQry sends, from
//! an ephemeral port, recognised by its transaction id.

use super::{Answer, Block, Ctx, Line, Query, Request, Route, plain, random_u16, to_json};
use crate::wire::netbios;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug)]
pub struct NetBios;

/// The node status, with the MAC address as PortQry prints it.
#[derive(Debug, Clone, Serialize)]
pub struct NetbiosAnswer {
    pub mac: String,
    pub status: netbios::NodeStatus,
}

impl Query for NetBios {
    fn id(&self) -> &'static str {
        "netbios"
    }
    fn label(&self) -> &'static str {
        "NETBIOS"
    }
    fn route(&self) -> Route {
        Route { services: &["netbios-ns"], ports: &[137], transports: super::UDP }
    }
    fn announce(&self, ctx: &Ctx) -> Block {
        vec![Line::Para(format!("Attempting NETBIOS adapter status query to UDP port {}...", ctx.port))]
    }
    fn ephemeral(&self) -> bool {
        true
    }
    fn always_says_ephemeral(&self) -> bool {
        true
    }
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        let id = random_u16();
        Request { bytes: netbios::emit_node_status_request(id), token: u64::from(id) }
    }
    fn answer(&self, _ctx: &Ctx, req: &Request, reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        let status =
            netbios::parse_node_status_response(reply, req.token as u16).map_err(|e| e.to_string())?;
        Ok(Arc::new(NetbiosAnswer { mac: status.mac_portqry(), status }))
    }
}

impl Answer for NetbiosAnswer {
    fn block(&self) -> Block {
        let mut b = vec![Line::Para(format!("Server's response: MAC address {}", self.mac))];
        b.extend(plain(self.status.render_lines()));
        b.push(Line::Plain(String::new()));
        b
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}
