//! `--tls` on ports whose protocol upgrades a plain connection: LDAP (389,
//! 3268; RFC 4511 §4.14 StartTLS), SMTP (25, 587; RFC 3207 `STARTTLS` after
//! `EHLO`), IMAP (143; RFC 9051 `STARTTLS`), POP3 (110; RFC 2595 `STLS`) and
//! FTP (21; RFC 4217 `AUTH TLS`). Ask for the upgrade on the connection the
//! probe opened, then run the same handshake over it. A server that accepts
//! shows its certificate there; one without TLS refuses, and what it said is
//! shown as it came. No credential is ever sent.

use super::{TlsAnswer, converse, outcome_of};
use crate::probe::State;
use crate::query::banner::{self, Kind, Live, Peer, Reply, Service};
use crate::query::exchange::{self, Conn};
use crate::query::{Answer, Ctx, Line, Outcome, Query, Request, Route, Sink, random_u16};
use crate::wire::ldap;
use serde::Serialize;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

/// What the server said to our StartTLS request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartTls {
    /// The protocol asked to upgrade: `LDAP`, `SMTP`, `IMAP`, `POP3`, `FTP`.
    pub protocol: &'static str,
    /// Its word for the upgrade: `StartTLS`, `STARTTLS`, `STLS`, `AUTH TLS`.
    pub command: &'static str,
    /// The server agreed (resultCode success); the handshake followed.
    pub accepted: bool,
    /// Its answer: `success (0)`, `protocolError (2): unsupported extended
    /// operation`, or why there was none.
    pub result: String,
}

/// The TLS query of a text protocol's port under `--tls`: SMTP, IMAP, POP3, FTP.
#[derive(Debug)]
pub struct TextStartTls {
    pub service: Service,
    services: &'static [&'static str],
    ports: &'static [u16],
}

pub static SMTP: TextStartTls =
    TextStartTls { service: Service::Smtp, services: &["smtp", "submission"], ports: &[25, 587] };
pub static IMAP: TextStartTls =
    TextStartTls { service: Service::Imap, services: &["imap", "imap2"], ports: &[143] };
pub static POP3: TextStartTls = TextStartTls { service: Service::Pop3, services: &["pop3"], ports: &[110] };
pub static FTP: TextStartTls = TextStartTls { service: Service::Ftp, services: &["ftp"], ports: &[21] };

/// Every upgrade `--tls` may ask for, in the order `select` tries them.
pub static UPGRADES: &[&dyn Query] = &[&LdapStartTls, &SMTP, &IMAP, &POP3, &FTP];

/// The name we greet SMTP servers with (RFC 2606: never a real host).
const EHLO_NAME: &str = "portqry.invalid";

impl TextStartTls {
    /// The protocol's word for the upgrade.
    fn verb(&self) -> &'static str {
        match self.service {
            Service::Smtp | Service::Imap => "STARTTLS",
            Service::Pop3 => "STLS",
            Service::Ftp => "AUTH TLS",
        }
    }

    /// The command that asks for TLS, the shape of its reply, and whether that
    /// reply agrees.
    fn command(&self) -> (String, Kind, fn(&Reply) -> bool) {
        let verb = self.verb();
        match self.service {
            Service::Smtp => (verb.into(), Kind::Coded, |r| r.code == Some(220)),
            Service::Ftp => (verb.into(), Kind::Coded, |r| r.code == Some(234)),
            Service::Pop3 => (verb.into(), Kind::Pop3, |r| r.status.as_deref() == Some("+OK")),
            Service::Imap => (format!("{} {verb}", banner::IMAP_TAG), Kind::ImapTagged, |r| {
                r.status.as_deref() == Some("OK")
            }),
        }
    }

    /// The greeting says the server serves (FTP/SMTP 220, POP3 +OK, IMAP * OK).
    fn ready(&self, g: &Reply) -> bool {
        g.complete()
            && match self.service {
                Service::Smtp | Service::Ftp => g.code == Some(220),
                Service::Pop3 => g.status.as_deref() == Some("+OK"),
                Service::Imap => g.status.as_deref() == Some("OK"),
            }
    }

    /// Greeting, (SMTP: `EHLO`,) the upgrade command: what the server said to it.
    /// `Err`: nothing came at all.
    pub fn upgrade(&self, peer: &mut impl Peer) -> Result<StartTls, String> {
        let (protocol, command) = (self.service.label(), self.verb());
        let refused = |result: String| StartTls { protocol, command, accepted: false, result };
        let greeting = peer.reply(self.service.greeting_kind())?;
        if !self.ready(&greeting) {
            return Ok(refused(format!("the greeting was {}", said(&greeting))));
        }
        if self.service == Service::Smtp {
            peer.send(&format!("EHLO {EHLO_NAME}"))?;
            let ehlo = peer.reply(Kind::Coded)?;
            if ehlo.code != Some(250) || !ehlo.complete() {
                return Ok(refused(format!("EHLO was answered {}", said(&ehlo))));
            }
            // RFC 3207 §4: a client asks only when the server offers it.
            let offered =
                ehlo.lines.iter().any(|l| l.get(4..).is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS")));
            if !offered {
                return Ok(refused(format!("STARTTLS is not among the EHLO extensions ({})", said(&ehlo))));
            }
        }
        let (line, kind, agrees) = self.command();
        peer.send(&line)?;
        let answer = peer.reply(kind)?;
        Ok(StartTls {
            protocol,
            command,
            accepted: agrees(&answer) && answer.complete(),
            result: said(&answer),
        })
    }
}

/// A reply as one line of text: its lines joined with ` / ` (at most three).
fn said(r: &Reply) -> String {
    let mut s: Vec<&str> = r.lines.iter().take(3).map(String::as_str).collect();
    if r.lines.len() > 3 {
        s.push("...");
    }
    let mut text = format!("\"{}\"", s.join(" / "));
    if let Some(cut) = &r.cut {
        text += &format!(" (incomplete: {cut})");
    }
    text
}

impl Query for TextStartTls {
    fn id(&self) -> &'static str {
        "tls"
    }
    fn label(&self) -> &'static str {
        "TLS"
    }
    fn route(&self) -> Route {
        Route { services: self.services, ports: self.ports, transports: crate::query::TCP }
    }
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        Request { bytes: self.command().0.into_bytes(), token: 0 }
    }
    fn answer(&self, _ctx: &Ctx, _req: &Request, _reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        Err("STARTTLS is a conversation, not a single reply".into())
    }
    fn tcp(&self, ctx: &Ctx, mut stream: TcpStream, sink: &mut dyn Sink) -> Outcome {
        let (port, label, verb) = (ctx.port, self.service.label(), self.verb());
        sink.show(vec![Line::Para(format!("Sending {label} {verb} request to TCP port {port}..."))]);
        let wait = ctx.opts.tcp_wait;
        let mut peer = Live::new(&mut stream, wait);
        let st = self.upgrade(&mut peer);
        let before = peer.bytes;
        let st = match st {
            Ok(st) => st,
            Err(why) => return no_answer(label, why),
        };
        if !st.accepted {
            // A polite end, not awaited.
            let _ = peer.send(&self.service.closing().0);
            return refused(st, before, wait);
        }
        drop(peer);
        handshake_after(st, stream, before, ctx, sink)
    }
}

/// The upgrade was accepted: say so, then the handshake over the same connection.
fn handshake_after(
    st: StartTls,
    stream: TcpStream,
    before: usize,
    ctx: &Ctx,
    sink: &mut dyn Sink,
) -> Outcome {
    let (port, wait) = (ctx.port, ctx.opts.tcp_wait);
    sink.show(vec![
        Line::Para(format!("{} {} accepted: {}", st.protocol, st.command, st.result)),
        Line::Para(format!("Starting a TLS handshake on TCP port {port}...")),
    ]);
    let mut a = converse(stream, &ctx.target.input, ctx.target.addr, port, wait, ctx.opts.tls_ca.as_ref());
    a.starttls = Some(st);
    outcome_of(a, before, wait)
}

/// Nothing came back to the upgrade: the port listens, nothing says what speaks there.
fn no_answer(label: &str, why: String) -> Outcome {
    let mut outcome = Outcome::new("tls", State::Listening);
    outcome.notes.push(Line::Para(format!("No {label} answer: {why}")));
    outcome.error = Some(why);
    outcome
}

/// The server answered but would not upgrade.
fn refused(st: StartTls, before: usize, wait: std::time::Duration) -> Outcome {
    let failure = Some(format!("{} {} refused: {}", st.protocol, st.command, st.result));
    outcome_of(TlsAnswer { starttls: Some(st), failure, ..TlsAnswer::default() }, before, wait)
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
            return no_answer("LDAP StartTLS", received.err().unwrap_or_else(|| "no answer".into()));
        };
        if !st.accepted {
            return refused(st, before, wait);
        }
        handshake_after(st, stream, before, ctx, sink)
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
    StartTls { protocol: "LDAP", command: "StartTLS", accepted, result }
}

/// Framing: the messages up to the first one that is not an unsolicited
/// notification (the answer), or up to one that does not parse.
fn first_answer(buf: &[u8]) -> Option<usize> {
    crate::query::ldap::frame_until(buf, &|msgs| {
        let m = ldap::parse_messages(msgs);
        m.message_id.is_some() || m.result.is_err() && !matches!(m.result, Err(ldap::LdapError::NoResponse))
    })
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

    /// Run `upgrade` for `q` over recorded server bytes: what it concluded and sent.
    fn replay(q: &TextStartTls, server: &str) -> (Result<StartTls, String>, Vec<String>) {
        let mut peer = banner::Replay::new(server.as_bytes());
        let st = q.upgrade(&mut peer);
        (st, peer.sent)
    }

    #[test]
    fn smtp_asks_after_ehlo_only_when_offered() {
        let offered = "220 mx.example ESMTP\r\n250-mx.example Hello\r\n250-PIPELINING\r\n250-starttls\r\n250 HELP\r\n220 2.0.0 Ready to start TLS\r\n";
        let (st, sent) = replay(&SMTP, offered);
        let st = st.unwrap();
        assert_eq!(
            (st.protocol, st.accepted, st.result.as_str()),
            ("SMTP", true, "\"220 2.0.0 Ready to start TLS\"")
        );
        assert_eq!(sent, ["EHLO portqry.invalid", "STARTTLS"]);
        let not_offered = "220 mx.example ESMTP\r\n250-mx.example Hello\r\n250 8BITMIME\r\n";
        let (st, sent) = replay(&SMTP, not_offered);
        let st = st.unwrap();
        assert!(!st.accepted && st.result.starts_with("STARTTLS is not among the EHLO extensions"), "{st:?}");
        assert_eq!(sent, ["EHLO portqry.invalid"], "not asked for what is not offered");
        // A server that is closing says so in its greeting.
        let (st, sent) = replay(&SMTP, "421 mx.example Service not available\r\n");
        assert_eq!(st.unwrap().result, "the greeting was \"421 mx.example Service not available\"");
        assert!(sent.is_empty());
    }

    #[test]
    fn imap_pop3_and_ftp_take_their_own_commands_and_answers() {
        let (st, sent) = replay(
            &IMAP,
            "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\na1 OK Begin TLS negotiation now.\r\n",
        );
        assert_eq!((st.unwrap().accepted, sent), (true, vec!["a1 STARTTLS".to_string()]));
        let (st, _) = replay(&IMAP, "* OK ready\r\n* BAD noise\r\na1 BAD Unknown command.\r\n");
        let st = st.unwrap();
        assert_eq!((st.accepted, st.result.as_str()), (false, "\"* BAD noise / a1 BAD Unknown command.\""));
        let (st, sent) = replay(&POP3, "+OK Dovecot ready.\r\n-ERR Unknown command: STLS\r\n");
        assert_eq!((st.unwrap().accepted, sent), (false, vec!["STLS".to_string()]));
        let (st, _) = replay(&POP3, "+OK ready\r\n+OK Begin TLS negotiation now.\r\n");
        assert!(st.unwrap().accepted);
        let (st, sent) = replay(&FTP, "220 (vsFTPd 3.0.3)\r\n234 Proceed with negotiation.\r\n");
        assert_eq!((st.unwrap().accepted, sent), (true, vec!["AUTH TLS".to_string()]));
        let (st, _) = replay(&FTP, "220 (vsFTPd 3.0.3)\r\n530 Please login with USER and PASS.\r\n");
        assert_eq!(st.unwrap().result, "\"530 Please login with USER and PASS.\"");
        // Not the protocol at all: shown, nothing sent.
        let (st, sent) = replay(&POP3, "SSH-2.0-OpenSSH_9.2\r\n");
        assert!(!st.unwrap().accepted && sent.is_empty());
        // Nothing at all.
        assert!(replay(&IMAP, "").0.is_err());
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
