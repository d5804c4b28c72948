//! SMB (TCP 445, Direct TCP): one SMB2 NEGOTIATE offering 2.0.2 to 3.1.1, which
//! every SMB2/3 server answers before any authentication (dialect, signing
//! policy, GUID, clock, capabilities). Nothing follows: the connection closes.
//!
//! "Is it ours": the reply carries the SMB2 protocol id and the MessageId we
//! sent. That MessageId is always 0: a connection's first request must use 0
//! (the server's credit window starts there, [MS-SMB2] 3.3.5.2.3), and Samba
//! drops the connection for any other.

use super::{Answer, Block, Ctx, Query, Request, Route, to_json};
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
        super::lines(self.render_lines())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Transport;
    use crate::target::Target;

    /// Samba's ERROR (STATUS_INVALID_PARAMETER) to MessageId 0, as captured
    /// (capture.py smb: real-smbd-no-dialect): all zero but these bytes.
    fn error_to_0() -> Vec<u8> {
        let mut m = vec![0u8; 77];
        m[..20].copy_from_slice(&[
            0, 0, 0, 0x49, 0xfe, b'S', b'M', b'B', 0x40, 0, 0, 0, 0x0d, 0, 0, 0xc0, 0, 0, 1, 0,
        ]);
        m[20] = 1; // Flags: response
        m[36..38].copy_from_slice(&[0xff, 0xfe]); // ProcessId 0xfeff
        m[68] = 9; // ERROR StructureSize
        m
    }

    #[test]
    fn routed_by_port_and_name_and_checks_the_message_id() {
        let id = |p, s| {
            super::super::select(Transport::Tcp, p, s, &super::super::Options::default()).map(|q| q.id())
        };
        assert_eq!(id(445, None), Some("smb"));
        assert_eq!(id(1445, Some("microsoft-ds")), Some("smb"));
        assert_eq!(
            super::super::select(Transport::Udp, 445, None, &super::super::Options::default())
                .map(|q| q.id()),
            None
        );
        let opts = super::super::Options::default();
        let target = Target { input: "t".into(), addr: [127, 0, 0, 1].into(), scope_id: 0 };
        let ctx = Ctx { opts: &opts, target: &target, port: 445, transport: Transport::Tcp };
        let req = Smb.request(&ctx, true);
        assert_eq!(req.token, 0);
        assert_eq!(smb2::framed_len(&req.bytes), Some(req.bytes.len()));
        let a = Smb.answer(&ctx, &req, &error_to_0()).unwrap();
        assert_eq!(a.proof().unwrap(), "an SMB2 error response to our MessageId 0");
        let mut other = error_to_0();
        other[28] = 7; // MessageId 7
        assert_eq!(Smb.answer(&ctx, &req, &other).unwrap_err(), "SMB2 reply to MessageId 7, not ours (0)");
        // Two requests differ in their random GUID and salt only.
        let again = Smb.request(&ctx, true);
        assert_eq!(again.bytes.len(), req.bytes.len());
        assert_ne!(again.bytes, req.bytes);
    }
}
