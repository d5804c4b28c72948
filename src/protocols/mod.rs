//! Application protocol queries that settle "LISTENING or FILTERED" on UDP and
//! show what answers on TCP: DNS, NetBIOS node status, LDAP/CLDAP, SNMP, TFTP, L2TP,
//! SQL Server Browser, IKE, and the FTP/SMTP/POP3/IMAP banners.
//!
//! Each wire format lives in its own module (`dns`, `netbios`, `ber`, `ldap`, `snmp`,
//! `tftp`, `l2tp`, `ssrp`, `ike`, `banner`); `dialog` runs the conversations whose server may answer from
//! another port; this module picks the query for a port, runs the exchange with
//! deadlines, and prints PortQry's blocks.

pub mod banner;
pub mod dialog;
pub mod rpc;

use crate::cli::{Config, PortMode};
use crate::error::Error;
use crate::probe::{self, Evidence, Observation, State, Transport, udp};
use crate::report::Output;
use crate::target::Target;
use crate::wire::{ber, dns, epm, ike, l2tp, ldap, netbios, snmp, ssrp, tftp};
use serde::Serialize;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A protocol portqry can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Dns,
    NetBios,
    Ldap,
    /// The DCE/RPC endpoint mapper (`ept_lookup` dump).
    Epm,
    /// SNMP GetRequest (v2c, `-cn` community), then SNMPv3 engine discovery.
    Snmp,
    /// TFTP read request for a file that does not exist.
    Tftp,
    /// L2TP SCCRQ, and a StopCCN for the tunnel it opens.
    L2tp,
    /// The FTP greeting, `USER anonymous` and its reply, `QUIT`.
    Ftp,
    /// The SMTP greeting, `QUIT`.
    Smtp,
    /// The POP3 greeting, `QUIT`.
    Pop3,
    /// The IMAP greeting, `a1 LOGOUT`.
    Imap,
    /// The SQL Server Browser's instance list (CLNT_UCAST_EX, [MC-SQLR]).
    #[serde(rename = "sql_browser")]
    SqlBrowser,
    /// IKEv2 IKE_SA_INIT (ISAKMP/IPSec, UDP 500); never completed.
    Ike,
}

/// Which query runs where: by service name from the services file (so
/// `ldap 1025/tcp` sends LDAP to 1025, as in PortQry) or by well-known port.
struct Route {
    protocol: Protocol,
    services: &'static [&'static str],
    ports: &'static [u16],
    transports: &'static [Transport],
}

const BOTH: &[Transport] = &[Transport::Tcp, Transport::Udp];
const TCP: &[Transport] = &[Transport::Tcp];

#[rustfmt::skip]
const TABLE: &[Route] = &[
    Route { protocol: Protocol::Dns, services: &["domain"], ports: &[53], transports: BOTH },
    Route { protocol: Protocol::NetBios, services: &["netbios-ns"], ports: &[137], transports: &[Transport::Udp] },
    Route { protocol: Protocol::Ldap, services: &["ldap", "msft-gc"], ports: &[389, 3268], transports: BOTH },
    Route { protocol: Protocol::Epm, services: &["epmap", "loc-srv"], ports: &[135], transports: BOTH },
    Route { protocol: Protocol::Snmp, services: &["snmp"], ports: &[161], transports: &[Transport::Udp] },
    Route { protocol: Protocol::Tftp, services: &["tftp"], ports: &[69], transports: &[Transport::Udp] },
    Route { protocol: Protocol::L2tp, services: &["l2tp"], ports: &[1701], transports: &[Transport::Udp] },
    Route { protocol: Protocol::Ftp, services: &["ftp"], ports: &[21], transports: TCP },
    Route { protocol: Protocol::Smtp, services: &["smtp"], ports: &[25], transports: TCP },
    Route { protocol: Protocol::Pop3, services: &["pop3"], ports: &[110], transports: TCP },
    Route { protocol: Protocol::Imap, services: &["imap", "imap2"], ports: &[143], transports: TCP },
    Route { protocol: Protocol::SqlBrowser, services: &["ms-sql-m"], ports: &[1434], transports: &[Transport::Udp] },
    Route { protocol: Protocol::Ike, services: &["isakmp"], ports: &[500], transports: &[Transport::Udp] },
];

/// The protocol query for a port, if any.
///
/// PortQry never dumps the endpoint mapper during a range scan (`-r`), only for
/// `-e` and `-o`. The banners do run during ranges: the reference skips only the
/// dump, and a banner costs one short exchange on a connection already open.
pub fn select(transport: Transport, port: u16, service: Option<&str>, mode: PortMode) -> Option<Protocol> {
    TABLE.iter().find_map(|r| {
        let by_name = service.is_some_and(|s| r.services.iter().any(|n| n.eq_ignore_ascii_case(s)));
        let skipped = r.protocol == Protocol::Epm && mode == PortMode::Range;
        (!skipped && r.transports.contains(&transport) && (by_name || r.ports.contains(&port)))
            .then_some(r.protocol)
    })
}

/// What a query needs to know about the run.
pub struct QueryContext<'a> {
    pub cfg: &'a Config,
    pub target: &'a Target,
    pub port: u16,
}

/// The parsed answer of a protocol query.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum Answer {
    Dns(dns::DnsSummary),
    Netbios {
        mac: String,
        status: netbios::NodeStatus,
    },
    Ldap(ldap::RootDse),
    Epm(rpc::Dump),
    Snmp(snmp::SnmpAnswer),
    Tftp(tftp::TftpAnswer),
    L2tp(l2tp::L2tpAnswer),
    Ftp(banner::BannerAnswer),
    Smtp(banner::BannerAnswer),
    Pop3(banner::BannerAnswer),
    Imap(banner::BannerAnswer),
    #[serde(rename = "sql_browser")]
    SqlBrowser(ssrp::SqlBrowserAnswer),
    Ike(ike::IkeAnswer),
}

/// A protocol query's result: the verdict it supports and what came back.
#[derive(Debug, Clone, Serialize)]
pub struct QueryOutcome {
    pub protocol: Protocol,
    /// For UDP, the final verdict; for TCP, LISTENING (the connection proved it).
    pub state: State,
    /// What answered the query (or did not).
    pub observation: Option<Observation>,
    /// The parsed reply, when it parsed.
    pub answer: Option<Answer>,
    /// Why a reply did not parse, with a hex excerpt of its first bytes.
    pub error: Option<String>,
}

/// Largest reply we buffer from a TCP server (a rootDSE or DNS answer is far smaller).
const MAX_TCP_REPLY: usize = 1 << 20;

fn random_u16() -> u16 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u16::from_be_bytes([b[0], b[1]]) | 1
}

/// A positive 31-bit id (SNMP request-id and msgID are INTEGER (0..2147483647)).
fn random_i31() -> i32 {
    let b = uuid::Uuid::new_v4().into_bytes();
    (i32::from_be_bytes([b[0], b[1], b[2], b[3]]) & i32::MAX).max(1)
}

/// The first bytes of a reply as hex, for "did not parse" messages.
pub fn hex_excerpt(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(32).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 32 { " ..." } else { "" };
    format!("{} byte(s): {}{more}", bytes.len(), shown.join(" "))
}

fn name(p: Protocol) -> &'static str {
    match p {
        Protocol::Dns => "DNS",
        Protocol::NetBios => "NETBIOS",
        Protocol::Ldap => "LDAP",
        Protocol::Epm => "RPC",
        Protocol::Snmp => "SNMP",
        Protocol::Tftp => "TFTP",
        Protocol::L2tp => "L2TP",
        Protocol::Ftp => "FTP",
        Protocol::Smtp => "SMTP",
        Protocol::Pop3 => "POP3",
        Protocol::Imap => "IMAP",
        Protocol::SqlBrowser => "SQL Server",
        Protocol::Ike => "IKE",
    }
}

/// The banner service a protocol stands for, if it is one.
fn banner_service(p: Protocol) -> Option<banner::Service> {
    match p {
        Protocol::Ftp => Some(banner::Service::Ftp),
        Protocol::Smtp => Some(banner::Service::Smtp),
        Protocol::Pop3 => Some(banner::Service::Pop3),
        Protocol::Imap => Some(banner::Service::Imap),
        _ => None,
    }
}

type Parser = Box<dyn Fn(&[u8]) -> Result<Answer, String>>;

/// Build the request and a parser for its reply.
struct Exchange {
    request: Vec<u8>,
    parse: Parser,
}

fn exchange_for(proto: Protocol, cfg: &Config, tcp: bool) -> Exchange {
    let id = random_u16();
    match proto {
        Protocol::Dns => {
            // The name was checked when the command line was parsed.
            let q = dns::emit_query(id, &cfg.dns_name, dns::QueryKind::A).unwrap_or_default();
            let request = if tcp { dns::frame_tcp(&q) } else { q };
            Exchange {
                request,
                parse: Box::new(move |b: &[u8]| {
                    let body = if tcp { b.get(2..).unwrap_or_default() } else { b };
                    dns::parse_response(body, id).map(Answer::Dns).map_err(|e| e.to_string())
                }),
            }
        }
        Protocol::NetBios => Exchange {
            request: netbios::emit_node_status_request(id),
            parse: Box::new(move |b: &[u8]| {
                netbios::parse_node_status_response(b, id)
                    .map(|s| Answer::Netbios { mac: s.mac_portqry(), status: s })
                    .map_err(|e| e.to_string())
            }),
        },
        // Conversations, run by `rpc`, `dialog` and `banner`; never a single exchange.
        Protocol::Epm
        | Protocol::Tftp
        | Protocol::L2tp
        | Protocol::Ike
        | Protocol::Ftp
        | Protocol::Smtp
        | Protocol::Pop3
        | Protocol::Imap => {
            Exchange { request: Vec::new(), parse: Box::new(|_| Err("not a single exchange".into())) }
        }
        Protocol::SqlBrowser => Exchange {
            request: ssrp::emit_ucast_ex(),
            parse: Box::new(|b: &[u8]| {
                ssrp::parse_response(b).map(Answer::SqlBrowser).map_err(|e| e.to_string())
            }),
        },
        Protocol::Snmp => {
            let id = random_i31();
            Exchange {
                request: snmp::emit_get_request(cfg.community.as_bytes(), id, &snmp::SYSTEM_OIDS),
                parse: snmp_parser(id),
            }
        }
        Protocol::Ldap => {
            let msg_id = i32::from(id & 0x7fff).max(1);
            Exchange {
                request: ldap::emit_rootdse_search(msg_id, ldap::ROOTDSE_ATTRIBUTES),
                parse: Box::new(move |b: &[u8]| {
                    ldap::parse_messages(b, msg_id).map(Answer::Ldap).map_err(|e| e.to_string())
                }),
            }
        }
    }
}

fn snmp_parser(id: i32) -> Parser {
    Box::new(move |b: &[u8]| snmp::parse_reply(b, id).map(Answer::Snmp).map_err(|e| e.to_string()))
}

/// Print an answer as PortQry's block.
fn print_answer(answer: &Answer, out: &mut Output) {
    match answer {
        Answer::Dns(s) => {
            for l in s.render_lines() {
                out.line(&l);
            }
            out.line("");
        }
        Answer::Netbios { mac, status } => {
            out.para(&format!("Server's response: MAC address {mac}"));
            for l in status.render_lines() {
                out.line(&l);
            }
            out.line("");
        }
        Answer::Ldap(r) => {
            out.para("LDAP query response:");
            for l in r.render_lines() {
                out.line(&l);
            }
            out.line("");
            out.para("======== End of LDAP query response ========");
        }
        Answer::Snmp(a) => {
            match &a.engine {
                Some(e) => out.line(&format!(
                    "SNMPv3 agent answered (engine ID {}, engine boots {}, engine time {} s):",
                    e.id, e.boots, e.time
                )),
                None => out.line(&format!("SNMP response ({}):", snmp_version_label(a.version))),
            }
            out.line("");
            for l in a.render_lines() {
                out.line(&l);
            }
            out.line("");
        }
        Answer::Tftp(a) => {
            for l in a.render_lines() {
                out.line(&l);
            }
            out.line("");
        }
        Answer::L2tp(a) => {
            for l in a.render_lines() {
                out.line(&l);
            }
            out.line("");
        }
        Answer::Ftp(a) | Answer::Smtp(a) | Answer::Pop3(a) | Answer::Imap(a) => {
            out.line("Data returned from port:");
            for l in a.render_lines() {
                out.line(&l);
            }
            out.line("");
        }
        Answer::SqlBrowser(a) => {
            out.para("Server's response:");
            for l in a.render_lines() {
                out.line(&l);
            }
            out.line("");
            out.para("==== End of SQL Server query response ====");
        }
        Answer::Ike(a) => {
            out.para("Server's response:");
            for l in a.render_lines() {
                out.line(&l);
            }
            out.line("");
        }
        Answer::Epm(_) => {}
    }
}

fn snmp_version_label(v: &str) -> &str {
    match v {
        "v1" => "SNMPv1",
        "v2c" => "SNMPv2c",
        _ => "SNMPv3",
    }
}

/// UDP: send the formatted query and decide from what comes back.
pub fn udp_query(proto: Protocol, ctx: &QueryContext, out: &mut Output) -> Result<QueryOutcome, Error> {
    let cfg = ctx.cfg;
    // PortQry uses an ephemeral source port for these follow-up queries (§3.4).
    let ephemeral = matches!(proto, Protocol::NetBios | Protocol::Ldap | Protocol::Epm);
    if ephemeral && (proto == Protocol::NetBios || cfg.source_port.is_some()) {
        out.line("Using ephemeral source port");
    }
    match proto {
        Protocol::NetBios => {
            out.para(&format!("Attempting NETBIOS adapter status query to UDP port {}...", ctx.port))
        }
        Protocol::Epm => out.line("Querying Endpoint Mapper Database..."),
        Protocol::Snmp => {
            out.para("community name for query:");
            out.para(&cfg.community);
            out.para(&format!("Sending SNMP query to UDP port {}...", ctx.port));
        }
        _ => out.para(&format!("Sending {} query to UDP port {}...", name(proto), ctx.port)),
    }
    match proto {
        Protocol::Epm => return udp_epm(ctx, out),
        Protocol::Snmp => return udp_snmp(ctx, out),
        Protocol::Tftp | Protocol::L2tp | Protocol::Ike => return udp_dialog(proto, ctx, out),
        _ => {}
    }
    let ex = exchange_for(proto, cfg, false);
    let opts = udp::UdpOptions {
        wait: cfg.udp_wait,
        tries: cfg.udp_tries,
        source_port: if ephemeral { None } else { cfg.source_port },
    };
    let p = udp::exchange(ctx.target.socket_addr(ctx.port), &ex.request, &opts)?;
    let mut outcome = QueryOutcome {
        protocol: proto,
        state: State::Filtered,
        observation: Some(p.observation.clone()),
        answer: None,
        error: None,
    };
    match &p.reply {
        Some(reply) => settle_reply(proto, reply, (ex.parse)(reply), &mut outcome, out),
        None => outcome.state = udp_query_state(&p.observation.evidence, ctx.target.addr),
    }
    print_udp_verdict(ctx, outcome.state, &p.observation, None, out);
    Ok(outcome)
}

/// A datagram came back: the port is LISTENING; print what it says, or why it
/// did not parse.
fn settle_reply(
    proto: Protocol,
    reply: &[u8],
    parsed: Result<Answer, String>,
    outcome: &mut QueryOutcome,
    out: &mut Output,
) {
    outcome.state = State::Listening;
    match parsed {
        Ok(a) => {
            print_answer(&a, out);
            outcome.answer = Some(a);
        }
        Err(e) => {
            let msg = format!("{e}; reply was {}", hex_excerpt(reply));
            out.para(&format!("The reply did not parse as {}: {msg}", name(proto)));
            outcome.error = Some(msg);
        }
    }
}

/// UDP 161: the v2c GetRequest with the `-cn` community; if the agent is silent
/// (as v1/v2c agents are to a community they do not accept), the SNMPv3 engine
/// discovery, which any v3 agent answers whatever the community.
fn udp_snmp(ctx: &QueryContext, out: &mut Output) -> Result<QueryOutcome, Error> {
    let cfg = ctx.cfg;
    let addr = ctx.target.socket_addr(ctx.port);
    let opts = udp::UdpOptions { wait: cfg.udp_wait, tries: cfg.udp_tries, source_port: cfg.source_port };
    let v2c = exchange_for(Protocol::Snmp, cfg, false);
    let first = udp::exchange(addr, &v2c.request, &opts)?;
    let (p, parse, discovery) = if first.observation.evidence == Evidence::Silence {
        out.para("No answer to the SNMPv2c query (an agent drops a community name it does not accept)");
        out.para(&format!("Sending SNMPv3 engine discovery to UDP port {}...", ctx.port));
        let id = random_i31();
        let mut second = udp::exchange(addr, &snmp::emit_discovery(id), &opts)?;
        if second.observation.evidence == Evidence::Silence {
            second.observation.tries += first.observation.tries;
        }
        (second, snmp_parser(id), true)
    } else {
        (first, v2c.parse, false)
    };
    let mut outcome = QueryOutcome {
        protocol: Protocol::Snmp,
        state: State::Filtered,
        observation: Some(p.observation.clone()),
        answer: None,
        error: None,
    };
    match &p.reply {
        Some(reply) => {
            settle_reply(Protocol::Snmp, reply, parse(reply), &mut outcome, out);
            if discovery && outcome.answer.is_some() {
                out.para("The community name was not accepted, or the agent does not serve SNMPv1/v2c");
            }
        }
        // A community-based agent is silent to a community it does not accept, so
        // silence does not show a firewall: the port stays "LISTENING or FILTERED".
        None if p.observation.evidence == Evidence::Silence => {
            out.para("No answer to the SNMPv3 engine discovery");
            outcome.state = State::ListeningOrFiltered;
        }
        None => outcome.state = udp_query_state(&p.observation.evidence, ctx.target.addr),
    }
    let proof = match &outcome.answer {
        Some(Answer::Snmp(a)) if a.version == "v3" => Some(format!("an SNMPv3 {} carrying our msgID", a.pdu)),
        Some(Answer::Snmp(a)) => {
            Some(format!("an {} {} carrying our request-id", snmp_version_label(a.version), a.pdu))
        }
        _ => None,
    };
    print_udp_verdict(ctx, outcome.state, &p.observation, proof.as_deref(), out);
    Ok(outcome)
}

/// The source port PortQry insists on for IKE (§3.4).
const IKE_PORT: u16 = 500;

/// UDP 69, 1701 and 500: TFTP and L2TP, whose servers may answer from another
/// port (`dialog`), and IKE; any reply from the target's address (for IKE, one
/// carrying our initiator SPI) settles LISTENING.
///
/// IKE's source port: PortQry always wants 500, because IKEv1 responders may
/// answer only that port; current IKEv2 responders (strongSwan, Windows) answer
/// any port (NAT traversal), and binding 500 needs root and a port no local IKE
/// daemon holds. So 500 is used only when `-sp 500` asks for it (with PortQry's
/// message when it is taken); otherwise the port is ephemeral and silence is
/// followed by a hint to try `-sp 500`.
fn udp_dialog(proto: Protocol, ctx: &QueryContext, out: &mut Output) -> Result<QueryOutcome, Error> {
    let cfg = ctx.cfg;
    let addr = ctx.target.socket_addr(ctx.port);
    let opts = udp::UdpOptions { wait: cfg.udp_wait, tries: cfg.udp_tries, source_port: cfg.source_port };
    let (observation, reply, parsed) = match proto {
        Protocol::Tftp => {
            let d = dialog::tftp(addr, &opts)?;
            (d.observation, d.reply, d.answer.map(|a| a.map(Answer::Tftp)))
        }
        Protocol::Ike => {
            let d = match dialog::ike(addr, &opts) {
                Err(Error::SourcePortInUse(IKE_PORT)) => return Err(Error::IkeSourcePortInUse),
                r => r?,
            };
            (d.observation, d.reply, d.answer.map(|a| a.map(Answer::Ike)))
        }
        _ => {
            let d = dialog::l2tp(addr, &opts)?;
            (d.observation, d.reply, d.answer.map(|a| a.map(Answer::L2tp)))
        }
    };
    let mut outcome = QueryOutcome {
        protocol: proto,
        state: State::Filtered,
        observation: Some(observation.clone()),
        answer: None,
        error: None,
    };
    match (&reply, parsed) {
        (Some(reply), Some(parsed)) => settle_reply(proto, reply, parsed, &mut outcome, out),
        _ => outcome.state = udp_query_state(&observation.evidence, ctx.target.addr),
    }
    if proto == Protocol::Ike
        && observation.evidence == Evidence::Silence
        && cfg.source_port != Some(IKE_PORT)
    {
        out.para(
            "No IKE answer; some IKEv1-only responders answer only source port 500 (run with -sp 500 as root)",
        );
    }
    let proof = match &outcome.answer {
        Some(Answer::Tftp(a)) => Some(format!(
            "a TFTP {} from port {} (the server's transfer ID)",
            tftp_opcode_label(&a.reply),
            a.server_port
        )),
        Some(Answer::L2tp(a)) => {
            Some(format!("an L2TP {} for our tunnel {}", a.reply.message_name, a.our_tunnel_id))
        }
        Some(Answer::Ike(a)) => Some(format!(
            "an IKEv{} {} {} carrying our initiator SPI",
            a.version.split('.').next().unwrap_or("?"),
            a.exchange,
            if a.response { "response" } else { "message" }
        )),
        _ => None,
    };
    print_udp_verdict(ctx, outcome.state, &observation, proof.as_deref(), out);
    Ok(outcome)
}

fn tftp_opcode_label(r: &tftp::TftpReply) -> &'static str {
    match r {
        tftp::TftpReply::Error { .. } => "ERROR",
        tftp::TftpReply::Data { .. } => "DATA",
        tftp::TftpReply::Oack { .. } => "OACK",
    }
}

/// TCP: send the query over the open connection and print the answer.
/// The port is LISTENING whatever the answer; a failure is reported, not fatal.
pub fn tcp_query(
    proto: Protocol,
    ctx: &QueryContext,
    mut stream: TcpStream,
    out: &mut Output,
) -> QueryOutcome {
    if proto == Protocol::Epm {
        return tcp_epm(ctx, stream, out);
    }
    if let Some(service) = banner_service(proto) {
        return tcp_banner(proto, service, ctx, stream, out);
    }
    out.para(&format!("Sending {} query to TCP port {}...", name(proto), ctx.port));
    let ex = exchange_for(proto, ctx.cfg, true);
    let started = Instant::now();
    let deadline = started + tcp_query_wait(ctx.cfg);
    let mut outcome = QueryOutcome {
        protocol: proto,
        state: State::Listening,
        observation: None,
        answer: None,
        error: None,
    };
    let result = stream
        .write_all(&ex.request)
        .map_err(|e| format!("cannot send the query: {e}"))
        .and_then(|_| read_reply(&mut stream, proto, deadline, &ex));
    match result {
        Ok((bytes, answer)) => {
            outcome.observation = Some(Observation {
                evidence: Evidence::Reply { bytes: bytes.len() },
                tries: 1,
                rtt: Some(started.elapsed()),
                wait: deadline - started,
            });
            match answer {
                Ok(a) => {
                    print_answer(&a, out);
                    outcome.answer = Some(a);
                }
                Err(e) => {
                    let msg = format!("{e}; reply was {}", hex_excerpt(&bytes));
                    out.para(&format!("The reply did not parse as {}: {msg}", name(proto)));
                    outcome.error = Some(msg);
                }
            }
        }
        Err(e) => {
            out.para(&format!("No {} answer: {e}", name(proto)));
            outcome.error = Some(e);
        }
    }
    if proto == Protocol::Ldap {
        let _ = stream.write_all(&ldap::emit_unbind(0x7fff));
    }
    outcome
}

/// TCP 21, 25, 110, 143: the server speaks first; show its greeting (and for FTP the
/// reply to an anonymous logon) after PortQry's "Data returned from port:", then say
/// goodbye. The handshake already proved LISTENING: silence only means no banner.
fn tcp_banner(
    proto: Protocol,
    service: banner::Service,
    ctx: &QueryContext,
    mut stream: TcpStream,
    out: &mut Output,
) -> QueryOutcome {
    let wait = tcp_query_wait(ctx.cfg);
    let mut peer = banner::Live::new(&mut stream, wait);
    let result = banner::converse(service, &mut peer);
    let observation = peer.first_data.map(|rtt| Observation {
        evidence: Evidence::Reply { bytes: peer.bytes },
        tries: 1,
        rtt: Some(rtt),
        wait,
    });
    let mut outcome =
        QueryOutcome { protocol: proto, state: State::Listening, observation, answer: None, error: None };
    match result {
        Ok(a) => {
            outcome.error = a.greeting.error.clone();
            let answer = match service {
                banner::Service::Ftp => Answer::Ftp(a),
                banner::Service::Smtp => Answer::Smtp(a),
                banner::Service::Pop3 => Answer::Pop3(a),
                banner::Service::Imap => Answer::Imap(a),
            };
            print_answer(&answer, out);
            outcome.answer = Some(answer);
        }
        Err(e) => {
            out.para(&format!("No data returned from port ({e})"));
            outcome.error = Some(e);
        }
    }
    outcome
}

/// Read until the reply parses completely, the stream ends, or the deadline.
///
/// DNS: one length-prefixed message. LDAP: messages until SearchResultDone.
fn read_reply(
    stream: &mut TcpStream,
    proto: Protocol,
    deadline: Instant,
    ex: &Exchange,
) -> Result<(Vec<u8>, Result<Answer, String>), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(done) = complete(proto, &buf, ex) {
            return Ok((buf, done));
        }
        if crate::cancel::requested() {
            return Err("interrupted".into());
        }
        let Some(slice) = crate::cancel::slice_until(deadline) else {
            if buf.is_empty() {
                return Err("no reply before the deadline".into());
            }
            let parsed = (ex.parse)(&buf);
            return Ok((buf, parsed));
        };
        stream.set_read_timeout(Some(slice)).map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) if buf.is_empty() => {
                return Err("the server closed the connection without answering".into());
            }
            Ok(0) => {
                let parsed = (ex.parse)(&buf);
                return Ok((buf, parsed));
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > MAX_TCP_REPLY {
                    return Ok((buf, Err("reply larger than 1 MiB".into())));
                }
            }
            // A slice ended: the deadline (checked above) decides.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(format!("connection failed: {e}")),
        }
    }
}

/// `Some(parse result)` once `buf` holds a complete reply.
fn complete(proto: Protocol, buf: &[u8], ex: &Exchange) -> Option<Result<Answer, String>> {
    match proto {
        Protocol::Dns => {
            let need = dns::tcp_frame_len(buf)?;
            (buf.len() >= need).then(|| (ex.parse)(&buf[..need]))
        }
        Protocol::Ldap => {
            // Walk whole messages; stop at the first that ends the search.
            let mut off = 0;
            loop {
                match ber::message_len(&buf[off..]) {
                    Ok(Some(n)) if off + n <= buf.len() => {
                        off += n;
                        let parsed = (ex.parse)(&buf[..off]);
                        match &parsed {
                            Ok(Answer::Ldap(r)) if r.complete => return Some(parsed),
                            Ok(_) => continue,
                            Err(_) => return Some(parsed),
                        }
                    }
                    Ok(_) => return None,
                    Err(e) => return Some(Err(e.to_string())),
                }
            }
        }
        Protocol::NetBios
        | Protocol::Epm
        | Protocol::Snmp
        | Protocol::Tftp
        | Protocol::L2tp
        | Protocol::Ftp
        | Protocol::Smtp
        | Protocol::Pop3
        | Protocol::Imap
        | Protocol::SqlBrowser
        | Protocol::Ike => Some((ex.parse)(buf)),
    }
}

/// PortQry's closing line after a UDP query ("UDP port 389 is LISTENING"),
/// with the evidence under it for `-v`; `proof` says what the reply was, when the
/// datagram alone does not.
fn print_udp_verdict(
    ctx: &QueryContext,
    state: State,
    obs: &Observation,
    proof: Option<&str>,
    out: &mut Output,
) {
    out.line(&format!("UDP port {} is {}", ctx.port, state.portqry_text()));
    if ctx.cfg.verbose {
        let why = probe::explain(Transport::Udp, obs, ctx.target.addr);
        match proof {
            Some(p) => out.line(&format!("    evidence: {why}: {p}")),
            None => out.line(&format!("    evidence: {why}")),
        }
    }
    out.line("");
}

/// How long a query over an open TCP connection may wait for each answer.
fn tcp_query_wait(cfg: &Config) -> Duration {
    cfg.udp_wait.max(cfg.tcp_timeout) * 2
}

/// The verdict after a formatted UDP query, from its evidence.
fn udp_query_state(evidence: &Evidence, target: std::net::IpAddr) -> State {
    match probe::decide(Transport::Udp, evidence, target) {
        // Silence after a formatted query: PortQry calls the port FILTERED.
        State::ListeningOrFiltered => State::Filtered,
        s => s,
    }
}

/// Print a page of entries as it arrives, after the block's head the first time.
fn print_entries(entries: &[epm::Entry], names: bool, head: &mut bool, out: &mut Output) {
    if !*head {
        *head = true;
        for l in rpc::render_head() {
            out.line(&l);
        }
    }
    for l in epm::render_entries(entries, names) {
        out.line(&l);
    }
}

/// End a dump's block after its entries (printed as they came), or say why it failed.
fn print_dump(result: &Result<rpc::Dump, String>, head: bool, out: &mut Output) {
    match result {
        Ok(dump) => {
            if !head {
                for l in rpc::render_head() {
                    out.line(&l);
                }
            }
            for l in rpc::render_tail(dump) {
                out.line(&l);
            }
        }
        Err(e) => {
            out.line("");
            out.para(&format!("The endpoint mapper query failed: {e}"));
        }
    }
}

fn epm_outcome(
    state: State,
    observation: Option<Observation>,
    result: Option<Result<rpc::Dump, String>>,
) -> QueryOutcome {
    let (answer, error) = match result {
        Some(Ok(d)) => (Some(Answer::Epm(d)), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    QueryOutcome { protocol: Protocol::Epm, state, observation, answer, error }
}

/// TCP 135: bind to the endpoint mapper and dump it over the open connection. Each
/// call may take the TCP query wait, the dump [`rpc::Limits`] allow.
fn tcp_epm(ctx: &QueryContext, mut stream: TcpStream, out: &mut Output) -> QueryOutcome {
    out.line("Querying Endpoint Mapper Database...");
    let started = Instant::now();
    let wait = tcp_query_wait(ctx.cfg);
    let names = ctx.cfg.rpc_names;
    let mut head = false;
    let result = rpc::dump_tcp(&mut stream, rpc::Limits::for_call(wait), &mut |entries| {
        print_entries(entries, names, &mut head, out)
    })
    .map_err(|e| e.to_string());
    print_dump(&result, head, out);
    let observation = result.as_ref().ok().map(|_| Observation {
        evidence: Evidence::Reply { bytes: 0 },
        tries: 1,
        rtt: Some(started.elapsed()),
        wait,
    });
    epm_outcome(State::Listening, observation, Some(result))
}

/// UDP 135: connectionless ept_lookup; the first call's evidence decides.
fn udp_epm(ctx: &QueryContext, out: &mut Output) -> Result<QueryOutcome, Error> {
    let names = ctx.cfg.rpc_names;
    let mut head = false;
    let d = rpc::dump_udp(ctx.target.socket_addr(ctx.port), ctx.cfg.udp_wait, ctx.cfg.udp_tries, &mut |e| {
        print_entries(e, names, &mut head, out)
    })?;
    let result = d.result.map(|r| r.map_err(|e| e.to_string()));
    let state = if result.is_some() {
        // Any DCE/RPC answer (even `working` until the deadline) proves a server.
        State::Listening
    } else if d.interrupted {
        // Stopped before an answer: the probe's verdict stands.
        State::ListeningOrFiltered
    } else {
        udp_query_state(&d.observation.evidence, ctx.target.addr)
    };
    match &result {
        Some(r) => print_dump(r, head, out),
        None => out.line(""),
    }
    print_udp_verdict(ctx, state, &d.observation, None, out);
    Ok(epm_outcome(state, Some(d.observation), result))
}
