//! Banner queries of TCP services that speak first: FTP (21), SMTP (25), POP3 (110)
//! and IMAP (143). PortQry prints what the server says after "Data returned from
//! port:" and, for FTP, logs on as anonymous and shows that reply too.
//!
//! ```text
//! FTP  (RFC 959 §4.2)    S: 220-first line              C: USER anonymous  S: 331 ...
//!                        S: any text line                C: QUIT            S: 221 ...
//!                        S: 220 last line (same code, then a space or the line's end)
//! SMTP (RFC 5321 §4.2)   S: 220-line ... 220 last line   C: QUIT            S: 221 ...
//! POP3 (RFC 1939 §4)     S: +OK greeting (or -ERR)       C: QUIT            S: +OK ...
//! IMAP (RFC 9051 §7.1)   S: * OK greeting (* PREAUTH, * BYE)
//!                                                        C: a1 LOGOUT       S: * BYE ... a1 OK ...
//! ```
//!
//! No password or other credential is ever sent: the FTP `USER` only shows how the
//! server answers an anonymous logon. A session ends with `QUIT` (`LOGOUT` for
//! IMAP) so that the server logs a polite goodbye, not a dropped connection.
//!
//! Replies are cut at [`MAX_REPLY_BYTES`] and shown up to [`MAX_LINES`] lines with
//! control characters escaped; bytes that are not a reply of the protocol are still
//! shown, with why. A hostile server gets a cut or unrecognised reply, never a panic.

use super::exchange::Conn;
use super::{Answer, Block, Ctx, Line, Outcome, Query, Route, Sink};
use crate::probe::{Evidence, Observation, State};
use serde::Serialize;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of one reply read at most; the rest of a longer one is not read.
pub const MAX_REPLY_BYTES: usize = 4096;
/// Lines of one reply kept for display; more are counted in `line_count` only.
pub const MAX_LINES: usize = 32;
/// The tag of our IMAP `LOGOUT`.
pub const IMAP_TAG: &str = "a1";
/// The FTP logon PortQry makes (no password follows).
pub const FTP_LOGIN: &str = "USER anonymous";

/// A TCP service whose greeting portqry shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ftp,
    Smtp,
    Pop3,
    Imap,
}

impl Service {
    pub fn label(self) -> &'static str {
        match self {
            Service::Ftp => "FTP",
            Service::Smtp => "SMTP",
            Service::Pop3 => "POP3",
            Service::Imap => "IMAP",
        }
    }

    /// The shape of the greeting.
    pub fn greeting_kind(self) -> Kind {
        match self {
            Service::Ftp | Service::Smtp => Kind::Coded,
            Service::Pop3 => Kind::Pop3,
            Service::Imap => Kind::ImapGreeting,
        }
    }

    /// The command that ends the session, and the shape of its reply.
    pub fn closing(self) -> (String, Kind) {
        match self {
            Service::Ftp | Service::Smtp => ("QUIT".into(), Kind::Coded),
            Service::Pop3 => ("QUIT".into(), Kind::Pop3),
            Service::Imap => (format!("{IMAP_TAG} LOGOUT"), Kind::ImapTagged),
        }
    }
}

/// The shape of a reply, which says where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// FTP/SMTP: `ddd text`, or `ddd-text` lines up to a line of the same code and a space.
    Coded,
    /// POP3: one `+OK` or `-ERR` line.
    Pop3,
    /// IMAP greeting: one `* OK`, `* PREAUTH` or `* BYE` line.
    ImapGreeting,
    /// IMAP: untagged lines up to the one tagged [`IMAP_TAG`].
    ImapTagged,
}

/// Why bytes are not a reply of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BannerError {
    #[error("the first line does not start with a three-digit reply code")]
    NoCode,
    #[error("the line does not start with +OK or -ERR")]
    NoStatus,
    #[error("the line is not * OK, * PREAUTH or * BYE")]
    NotImapGreeting,
}

/// Where the reply at the start of a buffer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// More bytes are needed.
    Partial,
    /// A whole reply: its length, through the end of its last line.
    Complete(usize),
    /// The first line is not a reply of this shape.
    Invalid(BannerError),
}

/// One reply, as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// FTP/SMTP reply code of the first line (the last line's for a tagged IMAP reply: none).
    pub code: Option<u16>,
    /// POP3 `+OK`/`-ERR`; IMAP `OK`, `PREAUTH`, `BYE`, `NO`, `BAD` (upper case).
    pub status: Option<String>,
    /// The lines, line ends removed, trailing blanks trimmed, control characters
    /// escaped; at most [`MAX_LINES`].
    pub lines: Vec<String>,
    pub line_count: usize,
    /// Bytes of the reply read.
    pub bytes: usize,
    /// Why the reply is incomplete (the deadline, the connection's end, the size
    /// limit); null when it ended as its protocol says.
    pub cut: Option<String>,
    /// Why the bytes are not a reply of the protocol; null when they are.
    pub error: Option<String>,
}

impl Reply {
    /// It ended as its protocol says.
    pub fn complete(&self) -> bool {
        self.cut.is_none() && self.error.is_none()
    }
}

/// A command portqry sent, and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// The command line as sent, without its CRLF.
    pub command: String,
    /// The server's reply; null when none came (see `error`) or none was awaited.
    pub reply: Option<Reply>,
    /// Why there is no reply.
    pub error: Option<String>,
}

/// What a banner query found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BannerAnswer {
    #[serde(skip)]
    pub service: Service,
    pub greeting: Reply,
    /// FTP: `USER anonymous` and its reply; null for the other services, or when
    /// the greeting was not 220.
    pub login: Option<Exchange>,
    /// `QUIT` (`a1 LOGOUT` for IMAP) and its reply; null when the greeting was
    /// incomplete or not the protocol's, or said the server is closing.
    pub closing: Option<Exchange>,
}

/// The line at the start of `buf` if it is whole: (line without CR LF, length with them).
fn next_line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let lf = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..lf];
    Some((line.strip_suffix(b"\r").unwrap_or(line), lf + 1))
}

/// A reply code at the start of a line: its value, and whether a `-` continues the reply.
fn reply_code(line: &[u8]) -> Option<(u16, bool)> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'1'..=b'5').contains(&digits[0]) {
        return None;
    }
    let more = match line.get(3) {
        None | Some(b' ') => false,
        Some(b'-') => true,
        Some(_) => return None,
    };
    let code = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    Some((code, more))
}

/// The word after `prefix` up to a space or the line's end, upper-cased, if the line
/// starts with `prefix` (case-insensitively, as IMAP atoms are).
fn word_after(line: &[u8], prefix: &[u8]) -> Option<String> {
    let head = line.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = &line[prefix.len()..];
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    let word = &rest[..end];
    (!word.is_empty() && word.iter().all(u8::is_ascii_alphabetic))
        .then(|| String::from_utf8_lossy(word).to_ascii_uppercase())
}

fn pop3_status(line: &[u8]) -> Option<&'static str> {
    ["+OK", "-ERR"].into_iter().find(|s| {
        line.get(..s.len()).is_some_and(|h| h.eq_ignore_ascii_case(s.as_bytes()))
            && matches!(line.get(s.len()), None | Some(b' '))
    })
}

fn imap_greeting(line: &[u8]) -> Option<String> {
    word_after(line, b"* ").filter(|w| matches!(w.as_str(), "OK" | "PREAUTH" | "BYE"))
}

fn imap_tagged(line: &[u8]) -> Option<String> {
    word_after(line, format!("{IMAP_TAG} ").as_bytes())
}

/// Where the reply of shape `kind` at the start of `buf` stands.
pub fn scan(kind: Kind, buf: &[u8]) -> Scan {
    let mut off = 0;
    let mut first: Option<u16> = None;
    while let Some((line, len)) = next_line(&buf[off..]) {
        off += len;
        let done = match kind {
            Kind::Coded => match (first, reply_code(line)) {
                (None, None) => return Scan::Invalid(BannerError::NoCode),
                (None, Some((code, more))) => {
                    first = Some(code);
                    !more
                }
                // RFC 959 §4.2: only the same code and a space end a multi-line reply;
                // other lines in between are text.
                (Some(code), Some((c, more))) => c == code && !more,
                (Some(_), None) => false,
            },
            Kind::Pop3 if pop3_status(line).is_none() => return Scan::Invalid(BannerError::NoStatus),
            Kind::ImapGreeting if imap_greeting(line).is_none() => {
                return Scan::Invalid(BannerError::NotImapGreeting);
            }
            Kind::Pop3 | Kind::ImapGreeting => true,
            Kind::ImapTagged => imap_tagged(line).is_some(),
        };
        if done {
            return Scan::Complete(off);
        }
    }
    Scan::Partial
}

/// Display form of one line: trailing blanks trimmed, control characters escaped.
fn clean(line: &[u8]) -> String {
    crate::wire::ldap::escape_controls(String::from_utf8_lossy(line).trim_end())
}

/// Build the reply of shape `kind` from its bytes; `cut` says why it is incomplete.
pub fn reply(kind: Kind, bytes: &[u8], cut: Option<String>, error: Option<&BannerError>) -> Reply {
    let mut raw: Vec<&[u8]> = Vec::new();
    let mut off = 0;
    while let Some((line, len)) = next_line(&bytes[off..]) {
        raw.push(line);
        off += len;
    }
    if off < bytes.len() {
        // A last line without its end (cut replies only).
        let tail = &bytes[off..];
        raw.push(tail.strip_suffix(b"\r").unwrap_or(tail));
    }
    let first = raw.first().copied().unwrap_or_default();
    let (code, status) = match kind {
        Kind::Coded => (reply_code(first).map(|(c, _)| c), None),
        Kind::Pop3 => (None, pop3_status(first).map(str::to_owned)),
        Kind::ImapGreeting => (None, imap_greeting(first)),
        Kind::ImapTagged => (None, raw.iter().rev().find_map(|l| imap_tagged(l))),
    };
    Reply {
        code,
        status,
        lines: raw.iter().take(MAX_LINES).map(|l| clean(l)).collect(),
        line_count: raw.len(),
        bytes: bytes.len(),
        cut,
        error: error.map(ToString::to_string),
    }
}

/// Bytes read from the server and not yet taken by a reply (a server may send the
/// next reply in the same segment).
#[derive(Debug, Default)]
pub struct Pending {
    buf: Vec<u8>,
}

impl Pending {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next reply once the bytes hold a whole one, one that cannot be of this
    /// shape (everything read is shown: it is what the port returned), or
    /// [`MAX_REPLY_BYTES`] without its end.
    pub fn take(&mut self, kind: Kind) -> Option<Reply> {
        let (n, cut, error) = match scan(kind, &self.buf) {
            Scan::Complete(n) => (n, None, None),
            Scan::Invalid(e) => (self.buf.len().min(MAX_REPLY_BYTES), None, Some(e)),
            Scan::Partial if self.buf.len() >= MAX_REPLY_BYTES => (
                MAX_REPLY_BYTES,
                Some(format!("longer than {MAX_REPLY_BYTES} bytes, not read further")),
                None,
            ),
            Scan::Partial => return None,
        };
        let r = reply(kind, &self.buf[..n], cut, error.as_ref());
        // After an unrecognised or overlong reply the stream's framing is lost.
        let used = if r.complete() { n } else { self.buf.len() };
        self.buf.drain(..used);
        Some(r)
    }

    /// When no more bytes will come (`why`): what was read, as an incomplete reply,
    /// or `None` when nothing was.
    pub fn take_cut(&mut self, kind: Kind, why: &str) -> Option<Reply> {
        if let Some(r) = self.take(kind) {
            return Some(r);
        }
        if self.buf.is_empty() {
            return None;
        }
        let bytes = std::mem::take(&mut self.buf);
        let error = match scan(kind, &[&bytes[..], b"\n"].concat()) {
            Scan::Invalid(e) => Some(e),
            _ => None,
        };
        Some(reply(kind, &bytes, Some(why.to_owned()), error.as_ref()))
    }
}

/// The other end of a banner session: the live server, or recorded bytes.
pub trait Peer {
    /// The next reply of shape `kind`, or why none came.
    fn reply(&mut self, kind: Kind) -> Result<Reply, String>;
    /// Send one command line (CR LF added).
    fn send(&mut self, command: &str) -> Result<(), String>;
}

fn exchange(peer: &mut impl Peer, command: String, kind: Option<Kind>) -> Exchange {
    let (reply, error) = match peer.send(&command) {
        Err(e) => (None, Some(e)),
        Ok(()) => match kind.map(|k| peer.reply(k)) {
            Some(Ok(r)) => (Some(r), None),
            Some(Err(e)) => (None, Some(e)),
            None => (None, Some("not awaited: the previous reply did not come whole".into())),
        },
    };
    Exchange { command, reply, error }
}

/// Read the greeting; for FTP send `USER anonymous` after a 220; end the session with
/// `QUIT` (`a1 LOGOUT`) unless the greeting was incomplete, not the protocol's, or
/// announced that the server closes (FTP/SMTP 421, IMAP BYE). `Err` when the server
/// sent nothing.
pub fn converse(service: Service, peer: &mut impl Peer) -> Result<BannerAnswer, String> {
    let greeting = peer.reply(service.greeting_kind())?;
    let closes = greeting.code == Some(421) || greeting.status.as_deref() == Some("BYE");
    let ready = greeting.complete() && !closes;
    let mut answer = BannerAnswer { service, greeting, login: None, closing: None };
    if !ready {
        return Ok(answer);
    }
    let mut whole = true;
    if service == Service::Ftp && answer.greeting.code == Some(220) {
        let login = exchange(peer, FTP_LOGIN.into(), Some(Kind::Coded));
        whole = login.reply.as_ref().is_some_and(Reply::complete);
        answer.login = Some(login);
    }
    // After a reply that did not come whole, QUIT is still sent, but not waited for.
    let (command, kind) = service.closing();
    answer.closing = Some(exchange(peer, command, whole.then_some(kind)));
    Ok(answer)
}

/// Recorded server bytes as a peer (fuzzing, captured replies): everything the
/// server sent in one session, back to back.
pub struct Replay {
    pending: Pending,
    /// The commands the session sent.
    pub sent: Vec<String>,
}

impl Replay {
    pub fn new(data: &[u8]) -> Replay {
        let mut pending = Pending::default();
        pending.push(data);
        Replay { pending, sent: Vec::new() }
    }
}

impl Peer for Replay {
    fn reply(&mut self, kind: Kind) -> Result<Reply, String> {
        self.pending.take_cut(kind, "end of the recorded data").ok_or_else(|| "no data".into())
    }

    fn send(&mut self, command: &str) -> Result<(), String> {
        self.sent.push(command.to_owned());
        Ok(())
    }
}

/// A live server on an open connection; every read and write waits at most `wait`.
pub struct Live<'a> {
    stream: &'a mut dyn Conn,
    pending: Pending,
    wait: Duration,
    started: Instant,
    /// Bytes received in all.
    pub bytes: usize,
    /// Time from the start to the greeting's first bytes.
    pub first_data: Option<Duration>,
}

impl<'a> Live<'a> {
    pub fn new(stream: &'a mut dyn Conn, wait: Duration) -> Live<'a> {
        Live {
            stream,
            pending: Pending::default(),
            wait,
            started: Instant::now(),
            bytes: 0,
            first_data: None,
        }
    }

    /// Read once, until `deadline`; `Err` says why nothing more will come.
    fn fill(&mut self, deadline: Instant, chunk: &mut [u8]) -> Result<(), String> {
        let silent = || {
            let more = if self.pending.is_empty() { "" } else { " more" };
            format!("nothing{more} within {} ms", self.wait.as_millis())
        };
        if crate::cancel::requested() {
            return Err("interrupted".into());
        }
        let Some(slice) = crate::cancel::slice_until(deadline) else { return Err(silent()) };
        self.stream.read_slice(slice).map_err(|e| format!("connection failed: {e}"))?;
        match self.stream.read(chunk) {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(n) => {
                self.first_data.get_or_insert_with(|| self.started.elapsed());
                self.bytes += n;
                self.pending.push(&chunk[..n]);
                Ok(())
            }
            // A slice ended (or a signal): the caller reads again until the deadline.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::Interrupted
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(format!("connection failed: {e}")),
        }
    }
}

impl Peer for Live<'_> {
    fn reply(&mut self, kind: Kind) -> Result<Reply, String> {
        let deadline = Instant::now() + self.wait;
        let mut chunk = [0u8; 2048];
        loop {
            if let Some(r) = self.pending.take(kind) {
                return Ok(r);
            }
            if let Err(why) = self.fill(deadline, &mut chunk) {
                return self.pending.take_cut(kind, &why).ok_or(why);
            }
        }
    }

    fn send(&mut self, command: &str) -> Result<(), String> {
        self.stream
            .write_slice(self.wait)
            .and_then(|_| self.stream.write_all(format!("{command}\r\n").as_bytes()))
            .map_err(|e| format!("cannot send {command}: {e}"))
    }
}

impl Reply {
    fn render_into(&self, service: Service, lines: &mut Vec<String>) {
        lines.extend(self.lines.iter().cloned());
        let hidden = self.line_count - self.lines.len();
        if hidden > 0 {
            lines.push(format!("({hidden} more line(s) not shown)"));
        }
        if let Some(cut) = &self.cut {
            lines.push(format!("(reply incomplete: {cut})"));
        }
        if let Some(e) = &self.error {
            lines.push(format!("(unexpected for {}: {e}; nothing was sent)", service.label()));
        }
    }
}

impl BannerAnswer {
    /// PortQry's lines after "Data returned from port:": the greeting and, for FTP,
    /// a blank line and the reply to `USER anonymous`. The closing reply is in JSON only.
    pub fn render_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        self.greeting.render_into(self.service, &mut lines);
        if let Some(login) = &self.login {
            lines.push(String::new());
            match (&login.reply, &login.error) {
                (Some(r), _) => r.render_into(self.service, &mut lines),
                (None, e) => {
                    lines.push(format!("(no reply to {}: {})", login.command, e.as_deref().unwrap_or("none")))
                }
            }
        }
        lines
    }
}

/// The banner query of one service: the greeting (and FTP's anonymous logon
/// reply), then goodbye. The handshake already proved LISTENING: silence only
/// means no banner.
#[derive(Debug)]
pub struct Banner {
    service: Service,
    id: &'static str,
    services: &'static [&'static str],
    ports: &'static [u16],
}

pub static FTP: Banner = Banner { service: Service::Ftp, id: "ftp", services: &["ftp"], ports: &[21] };
pub static SMTP: Banner = Banner { service: Service::Smtp, id: "smtp", services: &["smtp"], ports: &[25] };
pub static POP3: Banner = Banner { service: Service::Pop3, id: "pop3", services: &["pop3"], ports: &[110] };
pub static IMAP: Banner =
    Banner { service: Service::Imap, id: "imap", services: &["imap", "imap2"], ports: &[143] };

impl Query for Banner {
    fn id(&self) -> &'static str {
        self.id
    }
    fn label(&self) -> &'static str {
        self.service.label()
    }
    fn route(&self) -> Route {
        Route { services: self.services, ports: self.ports, transports: super::TCP }
    }
    fn tcp(&self, ctx: &Ctx, mut stream: TcpStream, _sink: &mut dyn Sink) -> Outcome {
        let wait = ctx.opts.tcp_wait;
        let mut peer = Live::new(&mut stream, wait);
        let result = converse(self.service, &mut peer);
        let mut outcome = Outcome::new(self.id, State::Listening);
        outcome.observation = peer.first_data.map(|rtt| Observation {
            evidence: Evidence::Reply { bytes: peer.bytes },
            tries: 1,
            rtt: Some(rtt),
            wait,
        });
        match result {
            Ok(a) => {
                outcome.error = a.greeting.error.clone();
                outcome.answer = Some(Arc::new(a));
            }
            Err(e) => {
                outcome.notes.push(Line::Para(format!("No data returned from port ({e})")));
                outcome.error = Some(e);
            }
        }
        outcome
    }
}

impl Answer for BannerAnswer {
    fn block(&self) -> Block {
        let mut b = vec![Line::Plain("Data returned from port:".into())];
        b.extend(super::plain(self.render_lines()));
        b.push(Line::Plain(String::new()));
        b
    }
    fn json(&self) -> serde_json::Value {
        super::to_json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// vsftpd 3.0.3 with a two-line `banner_file`, as captured: the greeting came in
    /// two segments, its last line is "220 " with nothing after the space.
    const VSFTPD_GREETING: [u8; 94] = *b"220-portqry test FTP server (vsftpd).\r\n220-Anonymous access only; nothing to download.\r\n220 \r\n";

    /// IIS's greeting and USER reply, from the reference (§4.12).
    const IIS_SESSION: [u8; 99] =
        *b"220 Microsoft FTP Service\r\n331 Anonymous access allowed, send identity (e-mail name) as password.\r\n";

    fn session(service: Service, data: &[u8]) -> (BannerAnswer, Vec<String>) {
        let mut peer = Replay::new(data);
        let a = converse(service, &mut peer).unwrap();
        (a, peer.sent)
    }

    #[test]
    fn ftp_multiline_greeting_then_user_reply() {
        let data = [&VSFTPD_GREETING[..], b"331 Please specify the password.\r\n221 Goodbye.\r\n"].concat();
        let (a, sent) = session(Service::Ftp, &data);
        assert_eq!(sent, ["USER anonymous", "QUIT"]);
        assert_eq!(a.greeting.code, Some(220));
        assert_eq!(a.greeting.bytes, VSFTPD_GREETING.len());
        assert_eq!(
            a.render_lines(),
            [
                "220-portqry test FTP server (vsftpd).",
                "220-Anonymous access only; nothing to download.",
                "220",
                "",
                "331 Please specify the password."
            ]
        );
        let closing = a.closing.unwrap();
        assert_eq!((closing.command.as_str(), closing.reply.unwrap().code), ("QUIT", Some(221)));
    }

    #[test]
    fn reference_iis_session_renders_as_portqry() {
        let (a, _) = session(Service::Ftp, &IIS_SESSION);
        assert_eq!(
            a.render_lines(),
            [
                "220 Microsoft FTP Service",
                "",
                "331 Anonymous access allowed, send identity (e-mail name) as password."
            ]
        );
        // The QUIT reply never came: the replay ran out.
        let c = a.closing.unwrap();
        assert_eq!((c.reply, c.error.as_deref()), (None, Some("no data")));
    }

    #[test]
    fn rfc959_multiline_rules() {
        // Text lines in between, even ones starting with another code or "220" without a space.
        let r =
            b"220-first\r\n  indented\r\n221 other code\r\n2200 not a code\r\n220-still\r\n220 last\r\nNEXT";
        assert_eq!(scan(Kind::Coded, r), Scan::Complete(r.len() - 4));
        assert_eq!(scan(Kind::Coded, &r[..r.len() - 16]), Scan::Partial);
        // A bare code ends a reply (RFC 5321 §4.2: the text is optional); LF alone ends a line.
        assert_eq!(scan(Kind::Coded, b"220-a\n220\nx"), Scan::Complete(10));
        assert_eq!(scan(Kind::Coded, b"SSH-2.0-OpenSSH_9.2\r\n"), Scan::Invalid(BannerError::NoCode));
        assert_eq!(scan(Kind::Coded, b"620 six\r\n"), Scan::Invalid(BannerError::NoCode));
        assert_eq!(scan(Kind::Coded, b"22"), Scan::Partial);
        let rep = reply(Kind::Coded, b"220-a\r\n  b\t\x1b[2J \r\n220 c\r\n", None, None);
        assert_eq!(rep.lines, ["220-a", "  b\\t\\u{1b}[2J", "220 c"]);
        assert_eq!((rep.code, rep.line_count, rep.bytes), (Some(220), 3, 25));
    }

    #[test]
    fn smtp_greeting_then_quit() {
        let (a, sent) =
            session(Service::Smtp, b"220 pq-mail.portqry.test ESMTP OpenSMTPD\r\n221 2.0.0 Bye\r\n");
        assert_eq!(sent, ["QUIT"]);
        assert_eq!(a.render_lines(), ["220 pq-mail.portqry.test ESMTP OpenSMTPD"]);
        assert_eq!(a.closing.unwrap().reply.unwrap().code, Some(221));
        // 554 (no service): QUIT is still sent (RFC 5321 §3.1); 421 closes, nothing is sent.
        assert_eq!(session(Service::Smtp, b"554 go away\r\n").1, ["QUIT"]);
        let (a, sent) = session(Service::Smtp, b"421 busy\r\n");
        assert!(sent.is_empty() && a.closing.is_none());
    }

    #[test]
    fn pop3_and_imap_greetings() {
        let (a, sent) = session(Service::Pop3, b"+OK Dovecot ready.\r\n+OK Logging out\r\n");
        assert_eq!((a.greeting.status.as_deref(), sent), (Some("+OK"), vec!["QUIT".to_string()]));
        assert_eq!(a.closing.unwrap().reply.unwrap().status.as_deref(), Some("+OK"));
        assert_eq!(scan(Kind::Pop3, b"-ERR [IN-USE] busy\r\n"), Scan::Complete(20));
        assert_eq!(scan(Kind::Pop3, b"+OKAY\r\n"), Scan::Invalid(BannerError::NoStatus));

        let imap = b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready.\r\n* BYE Logging out\r\na1 OK Logout completed.\r\n";
        let (a, sent) = session(Service::Imap, imap);
        assert_eq!(sent, ["a1 LOGOUT"]);
        assert_eq!(a.greeting.status.as_deref(), Some("OK"));
        let r = a.closing.unwrap().reply.unwrap();
        assert_eq!((r.status.as_deref(), r.lines.len()), (Some("OK"), 2));
        assert_eq!(scan(Kind::ImapGreeting, b"* preauth hi\r\n"), Scan::Complete(14));
        assert_eq!(scan(Kind::ImapGreeting, b"* NO nope\r\n"), Scan::Invalid(BannerError::NotImapGreeting));
        assert_eq!(scan(Kind::ImapTagged, b"* BYE x\r\na10 OK\r\n"), Scan::Partial, "a10 is another tag");
        // BYE: the server closes; nothing is sent.
        let (a, sent) = session(Service::Imap, b"* BYE Too many connections\r\n");
        assert!(sent.is_empty() && a.closing.is_none());
    }

    #[test]
    fn unrecognised_and_cut_replies_are_shown_without_commands() {
        let (a, sent) = session(Service::Ftp, b"SSH-2.0-OpenSSH_9.2\r\n");
        assert!(sent.is_empty());
        assert_eq!(
            a.render_lines(),
            [
                "SSH-2.0-OpenSSH_9.2",
                "(unexpected for FTP: the first line does not start with a three-digit reply code; nothing was sent)"
            ]
        );
        // A greeting that stops halfway (the replay's end stands for the deadline).
        let (a, sent) = session(Service::Smtp, b"220-one\r\n220-tw");
        assert!(sent.is_empty());
        assert_eq!(a.render_lines(), ["220-one", "220-tw", "(reply incomplete: end of the recorded data)"]);
        // A partial first line that is not a reply: both reasons.
        let (a, _) = session(Service::Pop3, b"HELLO");
        assert_eq!(a.greeting.error.as_deref(), Some("the line does not start with +OK or -ERR"));
        assert!(a.greeting.cut.is_some());
        // Nothing at all.
        assert!(converse(Service::Imap, &mut Replay::new(b"")).is_err());
    }

    #[test]
    fn limits_cut_long_replies() {
        let mut many = Vec::new();
        for i in 0..40 {
            many.extend_from_slice(format!("220-line {i}\r\n").as_bytes());
        }
        many.extend_from_slice(b"220 end\r\n");
        let (a, _) = session(Service::Smtp, &many);
        assert!(a.greeting.complete());
        assert_eq!((a.greeting.lines.len(), a.greeting.line_count), (MAX_LINES, 41));
        assert_eq!(a.render_lines().last().unwrap(), "(9 more line(s) not shown)");
        // An endless greeting: cut at MAX_REPLY_BYTES, no command sent.
        let endless = b"220-x\r\n".repeat(2000);
        let (a, sent) = session(Service::Ftp, &endless);
        assert!(sent.is_empty());
        assert_eq!(a.greeting.bytes, MAX_REPLY_BYTES);
        assert_eq!(a.greeting.cut.as_deref(), Some("longer than 4096 bytes, not read further"));
        // One line with no end.
        let (a, _) = session(Service::Pop3, &[b'+'; 10_000]);
        assert_eq!(a.greeting.bytes, MAX_REPLY_BYTES);
    }

    #[test]
    fn login_reply_missing_skips_waiting_for_quit() {
        let (a, sent) = session(Service::Ftp, b"220 hi\r\n331 Pass");
        assert_eq!(sent, ["USER anonymous", "QUIT"]);
        let login = a.login.as_ref().unwrap();
        assert!(login.reply.as_ref().unwrap().cut.is_some());
        assert_eq!(a.closing.unwrap().reply, None);
        // Not 220 (120: ready in a while): no USER, only QUIT.
        assert_eq!(session(Service::Ftp, b"120 in 5 minutes\r\n").1, ["QUIT"]);
    }

    #[test]
    fn every_truncation_and_random_mutation_is_safe() {
        let data = [&VSFTPD_GREETING[..], b"331 Please specify the password.\r\n221 Goodbye.\r\n"].concat();
        for n in 0..data.len() {
            for s in [Service::Ftp, Service::Smtp, Service::Pop3, Service::Imap] {
                if let Ok(a) = converse(s, &mut Replay::new(&data[..n])) {
                    let _ = a.render_lines();
                }
            }
        }
        let imap = b"* OK ready\r\n* BYE x\r\na1 OK done\r\n".to_vec();
        crate::wire::mutate_each(&[data, imap], 20_000, |buf| {
            for s in [Service::Ftp, Service::Smtp, Service::Pop3, Service::Imap] {
                if let Ok(a) = converse(s, &mut Replay::new(buf)) {
                    let _ = a.render_lines();
                }
            }
        });
    }
}
