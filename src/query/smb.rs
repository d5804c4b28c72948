//! SMB (TCP 445, Direct TCP): one SMB2 NEGOTIATE offering 2.0.2 to 3.1.1, which
//! every SMB2/3 server answers before any authentication (dialect, signing
//! policy, GUID, clock, capabilities). Nothing follows: the connection closes.
//!
//! "Is it ours": the reply carries the SMB2 protocol id and the MessageId we
//! sent. That MessageId is always 0: a connection's first request must use 0
//! (the server's credit window starts there, [MS-SMB2] 3.3.5.2.3), and Samba
//! drops the connection for any other.

use super::{Answer, Block, Ctx, Line, Query, Request, Route, plain, to_json};
use crate::wire::smb2;
use std::sync::Arc;

/// The MessageId of the first request of a connection.
const MESSAGE_ID: u64 = 0;

#[derive(Debug)]
pub struct Smb;

impl Query for Smb {
    fn id(&self) -> &'static str {
        "smb"
    }
    fn label(&self) -> &'static str {
        "SMB"
    }
    fn route(&self) -> Route {
        Route { services: &["microsoft-ds"], ports: &[445], transports: super::TCP }
    }
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        // Random client GUID and preauth salt, as a real client sends.
        let mut salt = [0u8; smb2::SALT_LEN];
        for half in salt.chunks_mut(16) {
            half.copy_from_slice(&uuid::Uuid::new_v4().into_bytes());
        }
        let req = smb2::NegotiateRequest {
            message_id: MESSAGE_ID,
            client_guid: uuid::Uuid::new_v4().into_bytes(),
            salt,
        };
        Request { bytes: smb2::emit_negotiate(&req), token: MESSAGE_ID }
    }
    fn framed_len(&self, buf: &[u8]) -> Option<usize> {
        smb2::framed_len(buf)
    }
    fn answer(&self, _ctx: &Ctx, req: &Request, reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        let r = smb2::parse_negotiate_reply(reply).map_err(|e| e.to_string())?;
        let id = match &r {
            smb2::Smb2Reply::Negotiate(n) => Some(n.message_id),
            smb2::Smb2Reply::Error { message_id, .. } => *message_id,
        };
        if let Some(id) = id.filter(|id| *id != req.token) {
            return Err(format!("SMB2 reply to MessageId {id}, not ours ({})", req.token));
        }
        Ok(Arc::new(r))
    }
}

impl Answer for smb2::Smb2Reply {
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
            smb2::Smb2Reply::Negotiate(n) => {
                format!("an SMB2 NEGOTIATE response to our MessageId {}", n.message_id)
            }
            smb2::Smb2Reply::Error { protocol: "SMB1", .. } => "an SMB1 reply to our SMB2 NEGOTIATE".into(),
            smb2::Smb2Reply::Error { message_id, .. } => {
                format!("an SMB2 error response to our MessageId {}", message_id.unwrap_or_default())
            }
        })
    }
}
