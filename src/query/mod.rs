//! Protocol queries: the conversations that settle "LISTENING or FILTERED" on
//! UDP and show what answers on TCP.
//!
//! Each protocol is one file implementing [`Query`] and one line in
//! [`REGISTRY`]: when it applies ([`Route`]), its request, how its reply is
//! recognised and what the answer is. The bytes live in [`crate::wire`]; the
//! deadlines, retries and verdicts of a single request/reply exchange live in
//! [`exchange`]; queries hand text to a [`Sink`] and return an [`Outcome`] —
//! they never print (the [`crate::report`] layer does).
//!
//! Adding a protocol: docs/DEVELOPING.md, "Adding a protocol query".

pub mod banner;
pub mod dialog;
pub mod dns;
pub mod epm;
pub mod exchange;
pub mod ike;
pub mod kerberos;
pub mod l2tp;
pub mod ldap;
pub mod nbdgm;
pub mod netbios;
pub mod ntp;
pub mod rdp;
pub mod smb;
pub mod snmp;
pub mod sql_browser;
pub mod tftp;
pub mod tls;

use crate::error::Error;
use crate::probe::{Observation, State, Transport};
use crate::target::Target;
use serde::Serialize;
use serde::ser::SerializeMap;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

pub use exchange::hex_excerpt;

/// What the queries need to know about the run, built once by `cli`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The name the DNS query asks for.
    pub dns_name: String,
    /// `-cn`: the SNMP community.
    pub community: String,
    /// How long each UDP try waits for a reply.
    pub udp_wait: Duration,
    pub udp_tries: u32,
    /// How long a query over an open TCP connection waits for each answer.
    pub tcp_wait: Duration,
    /// `-sp`: the source port.
    pub source_port: Option<u16>,
    /// Show the interface names of RPC endpoints.
    pub rpc_names: bool,
    /// The run is a `-r` range: PortQry skips the endpoint-mapper dump then.
    pub range: bool,
    pub verbose: bool,
    /// `--realm`: the Kerberos realm the Kerberos and kpasswd queries ask about.
    pub realm: Option<String>,
    /// `--tls`: speak TLS on every TCP port.
    pub tls: bool,
    /// `--tls-ca`: CAs trusted besides the system's when judging a chain.
    pub tls_ca: Option<tls::verify::ExtraCa>,
}

/// One query's context: the options, the target, the port.
pub struct Ctx<'a> {
    pub opts: &'a Options,
    pub target: &'a Target,
    pub port: u16,
    pub transport: Transport,
}

/// Where a query applies: a services-file name (so `ldap 1025/tcp` sends LDAP
/// to 1025, as in PortQry) or a well-known port.
pub struct Route {
    pub services: &'static [&'static str],
    pub ports: &'static [u16],
    pub transports: &'static [Transport],
}

pub const BOTH: &[Transport] = &[Transport::Tcp, Transport::Udp];
pub const TCP: &[Transport] = &[Transport::Tcp];
pub const UDP: &[Transport] = &[Transport::Udp];

/// PortQry text: `Plain` is one line; `Para` is a line followed by a blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Plain(String),
    Para(String),
}

/// Lines of PortQry text.
pub type Block = Vec<Line>;

/// Plain lines (a wire format's `render_lines`) as a block.
pub fn plain(lines: Vec<String>) -> Block {
    lines.into_iter().map(Line::Plain).collect()
}

/// A wire format's lines followed by a blank line: the usual answer block.
pub fn lines(lines: Vec<String>) -> Block {
    let mut b = plain(lines);
    b.push(Line::Plain(String::new()));
    b
}

/// Where a query hands text while it runs; the report layer prints it.
pub trait Sink {
    fn show(&mut self, block: Block);
}

/// A parsed reply. The report prints [`Answer::block`]; JSON carries
/// [`Answer::json`]'s fields beside `"protocol"`; `-v` adds [`Answer::proof`].
pub trait Answer: std::fmt::Debug + Send + Sync {
    /// PortQry's block for the answer.
    fn block(&self) -> Block;
    /// The answer's fields, as a JSON object.
    fn json(&self) -> serde_json::Value;
    /// What shows the reply answers our request, when the datagram alone does not.
    fn proof(&self) -> Option<String> {
        None
    }
}

/// The JSON of a serializable answer (an object; `null` cannot happen for structs).
pub fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// A query's result: the verdict it supports and what came back.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The query's id ("dns").
    pub protocol: &'static str,
    /// For UDP, the final verdict; for TCP, LISTENING (the connection proved it).
    pub state: State,
    /// What answered the query (or did not).
    pub observation: Option<Observation>,
    /// The parsed reply, when it parsed.
    pub answer: Option<Arc<dyn Answer>>,
    /// Why a reply did not parse (with a hex excerpt) or the query failed.
    pub error: Option<String>,
    /// Text shown after the answer's block (and before a UDP verdict).
    pub notes: Block,
}

impl Outcome {
    /// An outcome with nothing yet: `state`, no answer.
    pub fn new(protocol: &'static str, state: State) -> Outcome {
        Outcome { protocol, state, observation: None, answer: None, error: None, notes: Vec::new() }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let answer = self.answer.as_ref().map(|a| {
            let mut v = a.json();
            if let Some(map) = v.as_object_mut() {
                map.insert("protocol".into(), self.protocol.into());
            }
            v
        });
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("protocol", self.protocol)?;
        m.serialize_entry("state", &self.state)?;
        m.serialize_entry("observation", &self.observation)?;
        m.serialize_entry("answer", &answer)?;
        m.serialize_entry("error", &self.error)?;
        m.end()
    }
}

/// The request of a single exchange and what recognises its reply.
pub struct Request {
    pub bytes: Vec<u8>,
    /// The request's identifier (DNS id, message id, nonce) for [`Query::answer`].
    pub token: u64,
}

/// One protocol conversation.
///
/// A single request/reply protocol implements [`Query::request`],
/// [`Query::answer`] and, for TCP, [`Query::framed_len`]; the default
/// [`Query::udp`] and [`Query::tcp`] run it with deadlines, retries and the
/// decision table ([`exchange`]). Longer conversations override them.
pub trait Query: Sync + std::fmt::Debug {
    /// JSON name: "dns".
    fn id(&self) -> &'static str;
    /// PortQry's name in "Sending DNS query to UDP port 53...".
    fn label(&self) -> &'static str;
    /// Where it applies.
    fn route(&self) -> Route;
    /// The request (`tcp`: framed for a TCP connection). A conversation that
    /// overrides both `udp` and `tcp` (or the one transport it routes) has none.
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        Request { bytes: Vec::new(), token: 0 }
    }
    /// TCP: `Some(n)` once `buf` holds a complete reply of `n` bytes.
    fn framed_len(&self, buf: &[u8]) -> Option<usize> {
        (!buf.is_empty()).then_some(buf.len())
    }
    /// Parse a reply to `req`, checking that it answers it; `Err` says why not.
    /// (A single-exchange query must implement it; a conversation need not.)
    fn answer(&self, _ctx: &Ctx, _req: &Request, _reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        Err("not a single exchange".into())
    }
    /// The UDP conversation; by default one exchange.
    fn udp(&self, ctx: &Ctx, sink: &mut dyn Sink) -> Result<Outcome, Error> {
        exchange::udp(self, ctx, sink)
    }
    /// The TCP conversation over the connection the probe opened; the port is
    /// LISTENING whatever it says.
    fn tcp(&self, ctx: &Ctx, stream: TcpStream, sink: &mut dyn Sink) -> Outcome {
        exchange::tcp(self, ctx, stream, sink)
    }
    /// What is said before a UDP request ("Sending DNS query to UDP port 53...").
    fn announce(&self, ctx: &Ctx) -> Block {
        vec![Line::Para(format!("Sending {} query to UDP port {}...", self.label(), ctx.port))]
    }
    /// PortQry sends this follow-up query from an ephemeral source port, whatever `-sp` says (§3.4).
    fn ephemeral(&self) -> bool {
        false
    }
    /// ... and says so even without `-sp` (NetBIOS).
    fn always_says_ephemeral(&self) -> bool {
        false
    }
    /// Bytes sent after the answer over TCP, before the connection closes (LDAP's unbind).
    fn goodbye(&self) -> Option<Vec<u8>> {
        None
    }
    /// Whether it runs during a `-r` range (PortQry skips only the endpoint-mapper dump).
    fn in_ranges(&self) -> bool {
        true
    }
}

/// Every query, in the order [`select`] tries them.
#[rustfmt::skip]
pub static REGISTRY: &[&dyn Query] = &[
    &dns::Dns,
    &netbios::NetBios,
    &nbdgm::Nbdgm,
    &ldap::Ldap,
    &epm::Epm,
    &snmp::Snmp,
    &tftp::Tftp,
    &l2tp::L2tp,
    &banner::FTP,
    &banner::SMTP,
    &banner::POP3,
    &banner::IMAP,
    &sql_browser::SqlBrowser,
    &ike::Ike,
    &smb::Smb,
    &rdp::Rdp,
    &kerberos::Kerberos,
    &kerberos::Kpasswd,
    &ntp::Ntp,
    &tls::Tls,
];

/// The query for a port: the TLS handshake on every TCP port with `--tls`
/// (after the protocol's STARTTLS on LDAP, SMTP, IMAP, POP3 and FTP ports);
/// else by its services-file name, else by well-known port.
pub fn select(
    transport: Transport,
    port: u16,
    service: Option<&str>,
    opts: &Options,
) -> Option<&'static dyn Query> {
    if opts.tls && transport == Transport::Tcp {
        let upgrade = tls::starttls::UPGRADES.iter().copied().find(|&q| applies(q, transport, port, service));
        return Some(upgrade.unwrap_or(&tls::Tls));
    }
    let range = opts.range;
    REGISTRY.iter().copied().find(|&q| (!range || q.in_ranges()) && applies(q, transport, port, service))
}

/// Whether `q`'s route takes this port: its transport, and its services-file
/// name or its well-known port.
fn applies(q: &dyn Query, transport: Transport, port: u16, service: Option<&str>) -> bool {
    let r = q.route();
    let by_name = service.is_some_and(|s| r.services.iter().any(|n| n.eq_ignore_ascii_case(s)));
    r.transports.contains(&transport) && (by_name || r.ports.contains(&port))
}

/// A random 16-bit id (odd, so never 0).
pub fn random_u16() -> u16 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u16::from_be_bytes([b[0], b[1]]) | 1
}

/// A positive 31-bit id (SNMP request-id and msgID are INTEGER (0..2147483647)).
pub fn random_i31() -> i32 {
    let b = uuid::Uuid::new_v4().into_bytes();
    (i32::from_be_bytes([b[0], b[1], b[2], b[3]]) & i32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_port_name_and_transport() {
        let id = |t, p, s, range| select(t, p, s, &Options { range, ..Options::default() }).map(|q| q.id());
        assert_eq!(id(Transport::Udp, 53, None, false), Some("dns"));
        assert_eq!(id(Transport::Tcp, 1025, Some("ldap"), false), Some("ldap"));
        assert_eq!(id(Transport::Tcp, 137, None, false), None);
        assert_eq!(id(Transport::Tcp, 135, None, false), Some("epm"));
        assert_eq!(id(Transport::Tcp, 135, None, true), None);
        assert_eq!(id(Transport::Tcp, 21, None, true), Some("ftp"));
        assert_eq!(id(Transport::Udp, 1434, Some("ms-sql-m"), false), Some("sql_browser"));
        assert_eq!(id(Transport::Tcp, 636, None, false), Some("tls"));
        // --tls: the handshake on every TCP port, UDP as usual.
        let tls = Options { tls: true, ..Options::default() };
        assert_eq!(select(Transport::Tcp, 21, Some("ftp"), &tls).map(|q| q.id()), Some("tls"));
        // ...after LDAP's StartTLS where LDAP applies.
        let starttls = |p, s| {
            select(Transport::Tcp, p, s, &tls).map(|q| q.label() == "TLS" && q.route().ports == [389, 3268])
        };
        assert_eq!(starttls(389, None), Some(true));
        assert_eq!(starttls(3268, Some("msft-gc")), Some(true));
        assert_eq!(starttls(10389, Some("ldap")), Some(true));
        assert_eq!(starttls(636, Some("ldaps")), Some(false));
        let upgrade = |p, s| select(Transport::Tcp, p, s, &tls).map(|q| q.route().ports);
        assert_eq!(upgrade(25, None), Some(&[25, 587][..]));
        assert_eq!(upgrade(2525, Some("submission")), Some(&[25, 587][..]));
        assert_eq!(upgrade(143, None), Some(&[143][..]));
        assert_eq!(upgrade(443, None), Some(tls::PORTS));
        assert_eq!(select(Transport::Udp, 53, None, &tls).map(|q| q.id()), Some("dns"));
    }

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<_> = REGISTRY.iter().map(|q| q.id()).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
