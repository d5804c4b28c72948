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
        let status = ours(reply, req.token as u16).map_err(|e| e.to_string())?;
        Ok(Arc::new(NetbiosAnswer { mac: status.mac_portqry(), status }))
    }
}

/// The reply to request `trn_id`: the id is compared before the rest is decoded, so a
/// stray datagram is named as such whatever else is wrong with it.
pub(super) fn ours(reply: &[u8], trn_id: u16) -> Result<netbios::NodeStatus, netbios::ParseError> {
    if let Some(got) = netbios::transaction_id(reply).filter(|&got| got != trn_id) {
        return Err(netbios::ParseError::TrnIdMismatch { expected: trn_id, got });
    }
    netbios::parse_node_status_response(reply)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// trn 0xbeef; RR_NAME a pointer, one name (`\x01\x02__MSBROWSE__\x02`), 5 bytes of statistics.
    const REPLY: [u8; 48] = [
        0xbe, 0xef, 0x84, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
        0xc0, 0x0c, // RR_NAME pointer
        0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, // RDLENGTH 24
        0x01, //
        0x01, 0x02, 0x5f, 0x5f, 0x4d, 0x53, 0x42, 0x52, 0x4f, 0x57, 0x53, 0x45, 0x5f, 0x5f, 0x02, 0x01, 0x66,
        0x00, //
        0xaa, 0xbb, 0xcc, 0xdd, 0xee,
    ];

    #[test]
    fn only_our_trn_id_is_an_answer() {
        let status = ours(&REPLY, 0xbeef).unwrap();
        assert_eq!(status.names.len(), 1);
        assert!(to_json(&status).get("trn_id").is_none(), "the id is for the check, not the JSON");
        assert_eq!(
            ours(&REPLY, 0x1338).unwrap_err().to_string(),
            "NetBIOS transaction id mismatch (expected 0x1338, got 0xbeef)"
        );
        // Another request's id wins over what else is wrong (here: an error RCODE).
        let mut refused = REPLY;
        refused[3] = 0x03;
        assert!(matches!(ours(&refused, 0x1338), Err(netbios::ParseError::TrnIdMismatch { .. })));
        assert!(matches!(ours(&refused, 0xbeef), Err(netbios::ParseError::Rcode(3))));
        assert!(matches!(ours(&REPLY[..11], 0x1338), Err(netbios::ParseError::Truncated)));
    }
}
