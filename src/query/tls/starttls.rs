//! `--tls` on an LDAP port (389, 3268, or one the services file calls `ldap`
//! or `msft-gc`): ask for StartTLS (RFC 4511 §4.14) on the connection the
//! probe opened, then run the same handshake over it. A domain controller
//! accepts (its LDAPS certificate then shows on 389 too); a server without TLS
//! refuses with a resultCode, which is shown as it came.

use super::{TlsAnswer, converse, outcome_of};
use crate::probe::State;
use crate::query::exchange::{self, Conn};
use crate::query::{Answer, Ctx, Line, Outcome, Query, Request, Route, Sink, random_u16};
use crate::wire::{ber, ldap};
use serde::Serialize;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

/// What the server said to our StartTLS request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartTls {
    /// The protocol asked to upgrade: `LDAP`.
    pub protocol: &'static str,
    /// The server agreed (resultCode success); the handshake followed.
    pub accepted: bool,
    /// Its answer: `success (0)`, `protocolError (2): unsupported extended
    /// operation`, or why there was none.
    pub result: String,
}

/// The TLS query of an LDAP port under `--tls`.
#[derive(Debug)]
pub struct LdapStartTls;

impl Query for LdapStartTls {
    fn id(&self) -> &'static str {
        "tls"
    }
    fn label(&self) -> &'static str {
        "TLS"
    }
    fn route(&self) -> Route {
        Route { services: &["ldap", "msft-gc"], ports: &[389, 3268], transports: crate::query::TCP }
    }
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        let msg_id = i32::from(random_u16() & 0x7fff).max(1);
        Request { bytes: ldap::emit_start_tls(msg_id), token: msg_id as u64 }
    }
    fn answer(&self, _ctx: &Ctx, _req: &Request, _reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        Err("StartTLS is a conversation, not a single reply".into())
    }
    fn tcp(&self, ctx: &Ctx, mut stream: TcpStream, sink: &mut dyn Sink) -> Outcome {
        let port = ctx.port;
        sink.show(vec![Line::Para(format!("Sending LDAP StartTLS request to TCP port {port}..."))]);
        let wait = ctx.opts.tcp_wait;
        let req = self.request(ctx, true);
        let (answer, received) = ask(&mut stream, &req, Instant::now() + wait);
        let before = received.as_ref().map_or(0, Vec::len);
        let Some(st) = answer else {
            // The port listens; nothing says what speaks there.
            let why = received.err().unwrap_or_else(|| "no answer".into());
            let mut outcome = Outcome::new(self.id(), State::Listening);
            outcome.notes.push(Line::Para(format!("No LDAP StartTLS answer: {why}")));
            outcome.error = Some(why);
            return outcome;
        };
        if !st.accepted {
            let failure = Some(format!("LDAP StartTLS refused: {}", st.result));
            let a = TlsAnswer { starttls: Some(st), failure, ..TlsAnswer::default() };
            return outcome_of(a, before, wait);
        }
        sink.show(vec![
            Line::Para(format!("LDAP StartTLS accepted: {}", st.result)),
            Line::Para(format!("Starting a TLS handshake on TCP port {port}...")),
        ]);
        let mut a =
            converse(stream, &ctx.target.input, ctx.target.addr, port, wait, ctx.opts.tls_ca.as_ref());
        a.starttls = Some(st);
        outcome_of(a, before, wait)
    }
}

/// The bytes the server answered with, or why there were none.
type Received = Result<Vec<u8>, String>;

/// Send `req` (the StartTLS request) and read the server's answer by
/// `deadline`: what it said (`None`: nothing LDAP came back) and the bytes.
pub fn ask(stream: &mut dyn Conn, req: &Request, deadline: Instant) -> (Option<StartTls>, Received) {
    if let Err(e) = stream.write_all(&req.bytes) {
        return (None, Err(format!("cannot send the request: {e}")));
    }
    let bytes = match exchange::read_framed(stream, deadline, &first_answer) {
        Ok((bytes, None)) => bytes,
        Ok((_, Some(cut))) => return (None, Err(cut)),
        Err(e) => return (None, Err(e)),
    };
    let result = judge(&bytes, req.token as i64);
    (Some(result), Ok(bytes))
}

/// What an answer to StartTLS request `id` says.
pub fn judge(bytes: &[u8], id: i64) -> StartTls {
    let m = ldap::parse_messages(bytes);
    let (accepted, result) = match (m.message_id, m.result) {
        (Some(got), _) if got != id => (
            false,
            format!(
                "the answer names request {got}, not ours ({id}); reply was {}",
                exchange::hex_excerpt(bytes)
            ),
        ),
        (_, Err(e)) => (
            false,
            format!("the answer did not parse as LDAP: {e}; reply was {}", exchange::hex_excerpt(bytes)),
        ),
        (_, Ok(dse)) => match (dse.result_code, dse.result_name) {
            (Some(0), _) => (true, "success (0)".to_string()),
            (Some(code), name) => {
                let mut r = format!("{} ({code})", name.as_deref().unwrap_or("unknown"));
                if let Some(d) = dse.diagnostic {
                    r += &format!(": {d}");
                }
                (false, r)
            }
            (None, _) => (false, "the answer carries no result code".to_string()),
        },
    };
    StartTls { protocol: "LDAP", accepted, result }
}

/// Framing: the messages up to the first one that is not an unsolicited
/// notification (the answer), or up to one that does not parse.
fn first_answer(buf: &[u8]) -> Option<usize> {
    let mut off = 0;
    loop {
        match ber::message_len(&buf[off..]) {
            Ok(Some(n)) if off + n <= buf.len() => {
                off += n;
                let m = ldap::parse_messages(&buf[..off]);
                if m.message_id.is_some()
                    || m.result.is_err() && !matches!(m.result, Err(ldap::LdapError::NoResponse))
                {
                    return Some(off);
                }
            }
            Ok(_) => return None,
            Err(_) => return Some(buf.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::exchange::script::{End, Peer};

    /// What slapd 2.5 (no TLS configured) answered our StartTLS (message 5).
    const SLAPD_NO_TLS: [u8; 44] = [
        0x30, 0x2a, 0x02, 0x01, 0x05, 0x78, 0x25, 0x0a, 0x01, 0x02, 0x04, 0x00, 0x04, 0x1e, 0x75, 0x6e, 0x73,
        0x75, 0x70, 0x70, 0x6f, 0x72, 0x74, 0x65, 0x64, 0x20, 0x65, 0x78, 0x74, 0x65, 0x6e, 0x64, 0x65, 0x64,
        0x20, 0x6f, 0x70, 0x65, 0x72, 0x61, 0x74, 0x69, 0x6f, 0x6e,
    ];
    /// What the Samba AD DC answered (success, with the StartTLS responseName).
    const SAMBA_DC_OK: [u8; 38] = [
        0x30, 0x24, 0x02, 0x01, 0x05, 0x78, 0x1f, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00, 0x8a, 0x16, 0x31,
        0x2e, 0x33, 0x2e, 0x36, 0x2e, 0x31, 0x2e, 0x34, 0x2e, 0x31, 0x2e, 0x31, 0x34, 0x36, 0x36, 0x2e, 0x32,
        0x30, 0x30, 0x33, 0x37,
    ];

    fn req(id: i32) -> Request {
        Request { bytes: ldap::emit_start_tls(id), token: id as u64 }
    }

    fn soon() -> Instant {
        Instant::now() + std::time::Duration::from_millis(300)
    }

    #[test]
    fn the_request_is_rfc_4511s_extended_request() {
        let mut want = vec![0x30, 0x1d, 0x02, 0x01, 0x05, 0x77, 0x18, 0x80, 0x16];
        want.extend_from_slice(b"1.3.6.1.4.1.1466.20037");
        assert_eq!(ldap::emit_start_tls(5), want);
    }

    #[test]
    fn real_answers_read_as_accepted_or_refused() {
        let ok = judge(&SAMBA_DC_OK, 5);
        assert_eq!((ok.accepted, ok.result.as_str()), (true, "success (0)"));
        let no = judge(&SLAPD_NO_TLS, 5);
        assert_eq!(
            (no.accepted, no.result.as_str()),
            (false, "protocolError (2): unsupported extended operation")
        );
        // Another request's answer is not ours, whatever it says.
        let other = judge(&SAMBA_DC_OK, 6);
        assert!(
            !other.accepted && other.result.starts_with("the answer names request 5, not ours (6)"),
            "{other:?}"
        );
        // Bytes that are not LDAP.
        let junk = judge(b"220 mail ESMTP\r\n", 5);
        assert!(!junk.accepted && junk.result.starts_with("the answer did not parse as LDAP"), "{junk:?}");
    }

    #[test]
    fn the_conversation_sends_the_request_and_frames_one_answer() {
        // One byte per read, and bytes after the answer (the server's first TLS
        // record would come only after ours, but a hostile one may send early).
        let mut bytes = SAMBA_DC_OK.to_vec();
        bytes.extend_from_slice(&[0x16, 0x03, 0x03]);
        let mut peer = Peer::new(&bytes, 1, End::Silent);
        let (st, got) = ask(&mut peer, &req(5), soon());
        assert_eq!(st.map(|s| s.accepted), Some(true));
        assert_eq!(got.unwrap(), SAMBA_DC_OK);
        assert_eq!(peer.sent, ldap::emit_start_tls(5));
        // A server that closes, or says nothing: no LDAP answer, and why.
        let mut peer = Peer::new(&[], 64, End::Close);
        let (st, got) = ask(&mut peer, &req(5), soon());
        assert_eq!((st, got), (None, Err("the server closed the connection without answering".into())));
        let mut peer = Peer::new(&[], 64, End::Silent);
        let (st, got) = ask(&mut peer, &req(5), Instant::now() + std::time::Duration::from_millis(60));
        assert_eq!((st, got), (None, Err("no reply before the deadline".into())));
    }
}
