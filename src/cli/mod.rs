//! The command line: PortQry 2.0's switches (`-n host`, `/n host`, `-sp 53`,
//! `-cn !community!`...) and modern long options, parsed with clap.
//!
//! clap has no `/x` syntax and reads `-sp` as `-s -p`, so [`normalize`] first
//! rewrites every PortQry switch in option position to its long form. Values
//! are never rewritten: `-l /tmp/log.txt` and `-r 1:1024` pass through as typed.

use crate::error::{Error, clip};
use crate::probe::Transport;
use crate::probe::engine::{self, RateLimit};
use crate::probe::tcp::TcpOptions;
use crate::probe::udp::UdpOptions;
use crate::target::sets::{self, ServiceSet};
use crate::target::{Family, ports};
use clap::Parser;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// PortQry switch (lower case, without prefix) → long option, and whether it takes a value.
const SWITCHES: &[(&str, &str, bool)] = &[
    ("n", "name", true),
    ("p", "proto", true),
    ("e", "port", true),
    ("r", "range", true),
    ("o", "ports", true),
    ("l", "log", true),
    ("y", "yes", false),
    ("sl", "slow-link", false),
    ("nr", "no-reverse", false),
    ("sp", "source-port", true),
    ("cn", "community", true),
    ("q", "quiet", false),
    ("v", "verbose", false),
    ("i", "interactive", false),
    ("local", "local", false),
    ("wport", "wport", true),
    ("wpid", "wpid", true),
    ("wt", "wt", true),
    ("?", "help", false),
    ("h", "help", false),
    ("help", "help", false),
    ("4", "ipv4", false),
    ("6", "ipv6", false),
];

/// Long options that take a value (so the next token is passed through untouched).
const VALUED_LONGS: &[&str] = &[
    "name",
    "proto",
    "port",
    "range",
    "ports",
    "log",
    "source-port",
    "community",
    "wport",
    "wpid",
    "wt",
    "timeout",
    "tries",
    "services",
    "dns-name",
    "realm",
    "concurrency",
    "max-hosts",
    "set",
];

/// Rewrite PortQry-style arguments into clap's long options.
///
/// * `-n host`, `/n host`, `-N host` → `--name host` (switch names are case-insensitive);
/// * `/n:host` → `--name host`;
/// * `-cn !my community name!` (split by the shell into several words) → one value;
/// * `-?`, `/?` → `--help`.
pub fn normalize(args: impl IntoIterator<Item = OsString>) -> Result<Vec<OsString>, Error> {
    let mut it = args.into_iter();
    let mut out: Vec<OsString> = it.next().into_iter().collect();
    let rest: Vec<OsString> = it.collect();
    let mut i = 0;
    while i < rest.len() {
        let tok = &rest[i];
        i += 1;
        let Some(s) = tok.to_str() else {
            out.push(tok.clone());
            continue;
        };
        if s == "--" {
            out.extend(rest[i - 1..].iter().cloned());
            break;
        }
        if let Some(long) = s.strip_prefix("--") {
            if VALUED_LONGS.contains(&long) && i < rest.len() {
                // Join as `--name=value` so clap never mistakes a value for a flag.
                let (value, next) = take_value(&rest, i, long == "community")?;
                out.push(joined(long, &value));
                i = next;
            } else {
                out.push(tok.clone());
            }
            continue;
        }
        let body = match s.strip_prefix('-').or_else(|| s.strip_prefix('/')) {
            Some(b) if !b.is_empty() => b,
            _ => {
                out.push(tok.clone());
                continue;
            }
        };
        let (name, attached) = match body.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let lower = name.to_ascii_lowercase();
        let Some(&(_, long, valued)) = SWITCHES.iter().find(|(k, _, _)| *k == lower) else {
            out.push(tok.clone());
            continue;
        };
        match attached {
            Some(v) if valued => out.push(joined(long, &OsString::from(v))),
            Some(_) => {
                // `/y:x` — not a PortQry form; let clap report it as typed.
                out.push(tok.clone());
            }
            None if valued && i < rest.len() => {
                let (value, next) = take_value(&rest, i, long == "community")?;
                out.push(joined(long, &value));
                i = next;
            }
            None => out.push(format!("--{long}").into()),
        }
    }
    Ok(out)
}

fn joined(long: &str, value: &OsString) -> OsString {
    let mut s = OsString::from(format!("--{long}="));
    s.push(value);
    s
}

/// The value at `rest[i]` and the index after it; for `-cn`, words are
/// joined until the closing `!` (the shell splits `!my community name!`).
fn take_value(rest: &[OsString], mut i: usize, community: bool) -> Result<(OsString, usize), Error> {
    let first = rest[i].to_string_lossy().into_owned();
    i += 1;
    if community && first.starts_with('!') && (first.len() == 1 || !first.ends_with('!')) {
        let mut joined = first;
        loop {
            let Some(next) = rest.get(i) else {
                return Err(Error::Usage(
                    "the community name must end with '!': write it as -cn !name!".into(),
                ));
            };
            joined.push(' ');
            joined.push_str(&next.to_string_lossy());
            i += 1;
            if joined.ends_with('!') {
                break;
            }
        }
        return Ok((joined.into(), i));
    }
    Ok((rest[i - 1].clone(), i))
}

/// Which transports `-p` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoSel {
    Tcp,
    Udp,
    Both,
}

impl ProtoSel {
    /// The transports to probe for each port, in PortQry's order.
    pub fn transports(self) -> &'static [Transport] {
        match self {
            ProtoSel::Tcp => &[Transport::Tcp],
            ProtoSel::Udp => &[Transport::Udp],
            ProtoSel::Both => &[Transport::Tcp, Transport::Udp],
        }
    }
}

fn parse_proto(s: &str) -> Result<ProtoSel, String> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Ok(ProtoSel::Tcp),
        "udp" => Ok(ProtoSel::Udp),
        "both" => Ok(ProtoSel::Both),
        _ => Err(format!("'{}' is not a protocol: use tcp, udp or both", clip(s))),
    }
}

fn parse_ms(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (1..=600_000).contains(&n) => Ok(n),
        _ => Err(format!("'{}' is not a timeout: give milliseconds from 1 to 600000", clip(s))),
    }
}

fn parse_concurrency(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=65_535).contains(&n) => Ok(n),
        _ => Err(format!("'{}' is not a concurrency: give 1 to 65535", clip(s))),
    }
}

fn parse_max_hosts(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1 << 20).contains(&n) => Ok(n),
        _ => Err(format!("'{}' is not a host count: give 1 to 1048576", clip(s))),
    }
}

fn parse_tries(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=10).contains(&n) => Ok(n),
        _ => Err(format!("'{}' is not a number of tries: give 1 to 10", clip(s))),
    }
}

/// Default TCP connect deadline per try.
pub const DEFAULT_TCP_TIMEOUT_MS: u64 = 1000;
/// Default wait for a UDP answer per try (doubled by `-sl`).
pub const DEFAULT_UDP_WAIT_MS: u64 = 1000;
/// PortQry sends three SYNs before calling a TCP port FILTERED.
pub const DEFAULT_TCP_TRIES: u32 = 3;
/// Two datagrams: PortQry sends one, but a single lost datagram would then
/// turn an answer into silence.
pub const DEFAULT_UDP_TRIES: u32 = 2;
/// Probes in flight at once for ranges and lists.
pub const DEFAULT_CONCURRENCY: usize = 512;
/// Largest CIDR block -n expands to without --max-hosts.
pub const DEFAULT_MAX_HOSTS: usize = 256;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PortQry's text.
    Text,
    /// One JSON document at the end.
    Json,
    /// One JSON object per result line, as decided.
    JsonLines,
}

/// Arguments as clap sees them after [`normalize`].
#[derive(Debug, Parser)]
#[command(
    name = "portqry",
    version,
    about = "Tells what really answers on a TCP or UDP port, and how it knows (a PortQry 2.0 re-creation).",
    long_about = None,
    after_help = "\
PortQry syntax works as well: every switch may start with - or / and is
case-insensitive (portqry -n host -e 53 -p UDP, portqry /n host /o 25,445).

Exit codes: 0 LISTENING, 1 NOT LISTENING, 2 FILTERED or LISTENING or FILTERED
(several results: the highest of these), 64 bad command line, 68 name does
not resolve, 71 local socket failure, 73 log file cannot be written, 74
stdout cannot be written, 130 interrupted (Ctrl-C; 129 SIGHUP, 143 SIGTERM),
141 stdout closed by its reader.

Examples:
  portqry -n myserver.com -e 25
  portqry -n 198.18.0.2 -e 53 -p udp
  portqry -n host1.example.com -r 21:445
  portqry -n 198.18.0.2 -o 25,445,1024 -p both -sp 53
  portqry -n dc1 -e 389 -p udp -v
  portqry -n dc1 --set domains-and-trusts  (a PortQryUI service set; --set list)
  portqry -local -v                 (this machine's ports, processes, modules)
  portqry -wport 53 -wt 5 -l dnslog.txt"
)]
pub struct Args {
    /// Host name, IPv4/IPv6 address or CIDR block to query; repeat it, or give
    /// a comma list, @FILE (one target a line) or - for stdin (PortQry: -n)
    #[arg(short = 'n', long = "name", value_name = "HOST", action = clap::ArgAction::Append)]
    pub name: Vec<String>,

    /// tcp, udp or both (PortQry: -p; default tcp)
    #[arg(short = 'p', long = "proto", value_name = "PROTO", value_parser = parse_proto)]
    pub proto: Option<ProtoSel>,

    /// One port, 1-65535 (PortQry: -e; default 80)
    #[arg(short = 'e', long = "port", value_name = "PORT")]
    pub port: Option<String>,

    /// Ports START to END, e.g. 21:445 (PortQry: -r)
    #[arg(short = 'r', long = "range", value_name = "START:END")]
    pub range: Option<String>,

    /// Ports in this order, e.g. 25,445,1024 (PortQry: -o)
    #[arg(short = 'o', long = "ports", value_name = "P1,P2,...")]
    pub ports: Option<String>,

    /// Query a PortQryUI predefined service: a named set of ports, each on its
    /// own protocol (e.g. "Domains and Trusts", sql); `--set list` shows them all
    #[arg(long = "set", value_name = "NAME")]
    pub set: Option<String>,

    /// Also write the report to this log file (PortQry: -l)
    #[arg(short = 'l', long = "log", value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Overwrite an existing log file without asking (PortQry: -y)
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,

    /// Slow link: wait twice as long for UDP answers (PortQry: -sl)
    #[arg(long = "slow-link")]
    pub slow_link: bool,

    /// Do not look up the name of an IP address target (PortQry: -nr)
    #[arg(long = "no-reverse")]
    pub no_reverse: bool,

    /// Send from this local port instead of an ephemeral one (PortQry: -sp)
    #[arg(long = "source-port", value_name = "PORT")]
    pub source_port: Option<String>,

    /// SNMP community for the UDP 161 query, delimited by !, e.g. !public! (PortQry: -cn); an unanswered community query is followed by an SNMPv3 engine discovery
    #[arg(long = "community", value_name = "!NAME!")]
    pub community: Option<String>,

    /// Print nothing but errors; the exit code tells the state (PortQry: -q)
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Show the evidence behind each verdict (what answered, from whom, after how many tries)
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Speak TLS on every TCP port probed (ldaps 636, msft-gc-ssl 3269 and https 443 always do; on LDAP, SMTP, IMAP, POP3 and FTP ports after the protocol's STARTTLS): handshake, certificate chain, expiry, verification
    #[arg(long = "tls")]
    pub tls: bool,

    /// Trust the CA certificates in FILE (PEM, or one DER .cer) besides the system's when judging TLS chains, e.g. your AD enterprise CA
    #[arg(long = "tls-ca", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// Milliseconds to wait for each TCP connect or UDP answer [default: TCP 1000, UDP 1000]
    #[arg(long = "timeout", value_name = "MS", value_parser = parse_ms)]
    pub timeout: Option<u64>,

    /// Probes before giving up on a silent port [default: TCP 3, UDP 2]
    #[arg(long = "tries", value_name = "N", value_parser = parse_tries)]
    pub tries: Option<u32>,

    /// Services file for port names and protocol queries; ports it does not name get PortQry's names; "portqry" uses PortQry's table outright [default: the system's, else PortQry's]
    #[arg(long = "services", value_name = "FILE")]
    pub services: Option<PathBuf>,

    /// Name to ask for in DNS queries to port 53 (an A query; any answer proves a DNS server)
    #[arg(long = "dns-name", value_name = "NAME", default_value = "localhost")]
    pub dns_name: String,

    /// Kerberos realm the Kerberos (88) and kpasswd (464) queries ask about [default: the target name's domain, upper-cased]
    #[arg(long = "realm", value_name = "REALM")]
    pub realm: Option<String>,

    /// Print one JSON document for the run on stdout (errors stay on stderr)
    #[arg(long = "json")]
    pub json: bool,

    /// Print one JSON object per port result, as each is decided
    #[arg(long = "jsonl")]
    pub jsonl: bool,

    /// Probes in flight at once for ranges and lists [default: 512]
    #[arg(long = "concurrency", value_name = "N", value_parser = parse_concurrency)]
    pub concurrency: Option<usize>,

    /// Do not wait out a target's ICMP rate limit on UDP: silent ports are
    /// reported at once, marked "ICMP rate-limited, not verified"
    #[arg(long = "udp-fast")]
    pub udp_fast: bool,

    /// Largest CIDR block (in addresses) -n may expand to [default: 256]
    #[arg(long = "max-hosts", value_name = "N", value_parser = parse_max_hosts)]
    pub max_hosts: Option<usize>,

    /// Add well-known interface names to the RPC endpoint mapper dump
    #[arg(long = "rpc-names")]
    pub rpc_names: bool,

    /// Use the target's IPv4 address
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Use the target's IPv6 address
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Interactive mode: a prompt for node, query and set commands; -n, -e, -p, -sp, -cn, -nr and -sl seed its settings (PortQry: -i)
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,

    /// Local mode: this machine's TCP/UDP ports, their processes (with -v: services and modules) (PortQry: -local)
    #[arg(long = "local")]
    pub local: bool,

    /// Local mode: watch TCP and UDP port PORT, report when its connections change (PortQry: -wport)
    #[arg(long = "wport", value_name = "PORT")]
    pub wport: Option<String>,

    /// Local mode: watch process PID, report when its connections change (PortQry: -wpid)
    #[arg(long = "wpid", value_name = "PID")]
    pub wpid: Option<String>,

    /// Seconds between checks for -wport / -wpid, 1-1200 [default: 60] (PortQry: -wt)
    #[arg(long = "wt", value_name = "SECONDS")]
    pub wt: Option<String>,
}

/// How the ports were given (PortQry skips the RPC dump for ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortMode {
    Single,
    Range,
    List,
}

/// A validated command line, ready to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The targets as given (before expanding lists, files and CIDR blocks).
    pub names: Vec<String>,
    pub transports: &'static [Transport],
    pub ports: Vec<u16>,
    pub port_mode: PortMode,
    /// `--set`: the ports and their transports come from this set.
    pub set: Option<&'static ServiceSet>,
    pub log: Option<PathBuf>,
    pub overwrite: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub no_reverse: bool,
    /// `-sl`: UDP waits are doubled (`udp_wait` already is).
    pub slow_link: bool,
    pub services: Option<PathBuf>,
    /// What the probes and their engine need (deadlines, tries, `-sp`,
    /// concurrency, rate-limit handling), built once here.
    pub probe: engine::Options,
    /// What the protocol queries need, built once here.
    pub query: crate::query::Options,
    pub format: Format,
    pub max_hosts: usize,
    pub family: Family,
    /// The command as typed, for the log file header.
    pub command_line: String,
}

impl Config {
    /// Copy the probe settings the queries also use (waits, tries, `-sp`,
    /// whether this is a `-r` range) into `query`: once when the command line
    /// is read, again after interactive mode's `set` changes them.
    pub fn sync_query_options(&mut self) {
        let p = &self.probe;
        self.query.udp_wait = p.udp.wait;
        self.query.udp_tries = p.udp.tries;
        self.query.tcp_wait = query_wait(p.udp.wait, p.tcp.timeout);
        self.query.source_port = p.udp.source_port;
        self.query.range = self.port_mode == PortMode::Range;
    }

    /// `-sp`: the local port every probe binds (`None`: ephemeral).
    pub fn source_port(&self) -> Option<u16> {
        self.probe.udp.source_port
    }

    /// Change `-sp` for TCP and UDP probes alike (then sync the queries').
    pub fn set_source_port(&mut self, port: Option<u16>) {
        self.probe.tcp.source_port = port;
        self.probe.udp.source_port = port;
    }

    /// The (port, transport) pairs to query, in order: a set's own entries,
    /// else every port on every transport `-p` selects (TCP first).
    pub fn plan(&self) -> Vec<(u16, Transport)> {
        match self.set {
            Some(set) => set.entries.iter().map(|&(t, p)| (p, t)).collect(),
            None => self.ports.iter().flat_map(|&p| self.transports.iter().map(move |&t| (p, t))).collect(),
        }
    }
}

/// How long a query over an open TCP connection waits for each answer: twice
/// the longer of the UDP wait and the TCP timeout.
fn query_wait(udp_wait: Duration, tcp_timeout: Duration) -> Duration {
    udp_wait.max(tcp_timeout) * 2
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    /// Interactive mode (`-i`): the settings the switches seed (the one
    /// target in `names`, 127.0.0.1 unless `-n` gave one).
    Interactive(Box<Config>),
    /// Local mode: `-local`, `-wport`, `-wpid`.
    Local(LocalConfig),
    /// Help or version text: print it to stdout, exit 0.
    Print(String),
}

/// What local mode reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalMode {
    /// `-local`: everything, once.
    All,
    /// `-wport P`: watch TCP and UDP port P.
    WatchPort(u16),
    /// `-wpid N`: watch one process.
    WatchPid(u32),
}

/// Default `-wt`: PortQry checks for changes every 60 seconds.
pub const DEFAULT_WATCH_SECS: u64 = 60;

/// A validated local-mode command line.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub mode: LocalMode,
    pub interval: Duration,
    pub log: Option<PathBuf>,
    pub overwrite: bool,
    pub verbose: bool,
    pub format: Format,
    pub command_line: String,
}

/// Parse and validate a full argv (including the program name).
pub fn parse(argv: Vec<OsString>) -> Result<Command, Error> {
    let command_line = crate::report::command_line(&argv);
    let normalized = normalize(argv)?;
    if normalized.len() <= 1 {
        return Err(Error::Usage("no target given: portqry -n HOST [-e PORT] (see portqry --help)".into()));
    }
    let args = match Args::try_parse_from(normalized) {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    Ok(Command::Print(e.render().to_string()))
                }
                _ => Err(Error::Usage(one_line(&e.render().to_string()))),
            };
        }
    };
    if args.set.as_deref().is_some_and(|s| s.trim().eq_ignore_ascii_case("list")) {
        return Ok(Command::Print(sets::list_text()));
    }
    if args.interactive {
        return validate_interactive(args, command_line).map(|c| Command::Interactive(Box::new(c)));
    }
    if args.local || args.wport.is_some() || args.wpid.is_some() || args.wt.is_some() {
        if args.set.is_some() {
            return Err(Error::Usage(
                "--set queries a remote host: drop -local, -wport and -wpid, or drop --set".into(),
            ));
        }
        return validate_local(args, command_line).map(Command::Local);
    }
    validate(args, command_line).map(|c| Command::Run(Box::new(c)))
}

/// clap's first line, without its "error: " prefix; clap echoes the value it
/// rejects, so every long word is clipped as our own messages clip input.
fn one_line(rendered: &str) -> String {
    let first = rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid arguments");
    let first = first.trim().trim_start_matches("error: ");
    // Quoted values are clipped inside their quotes; other long words whole.
    let parts: Vec<String> =
        first
            .split('\'')
            .enumerate()
            .map(|(i, part)| {
                if i % 2 == 1 { clip(part) } else { part.split(' ').map(clip).collect::<Vec<_>>().join(" ") }
            })
            .collect();
    format!("{} (see portqry --help)", parts.join("'"))
}

/// Whether a `-l` value is really the next switch (`-l -y` would create a
/// log file named `-y` and drop the `-y`): anything starting with `-`, or a
/// PortQry switch in slash form (`/y`, `/q`, `/n:host`). `./-y` and `//y`
/// still name such files.
pub fn looks_like_option(value: &str) -> bool {
    if value.starts_with('-') {
        return true;
    }
    let Some(body) = value.strip_prefix('/') else {
        return false;
    };
    let name = body.split_once(':').map_or(body, |(n, _)| n).to_ascii_lowercase();
    SWITCHES.iter().any(|(k, _, _)| *k == name)
}

/// Check the log file name the same way for both modes.
fn check_log_name(log: Option<&PathBuf>) -> Result<(), Error> {
    if let Some(log) = log {
        let shown = clip(&log.to_string_lossy());
        if looks_like_option(&shown) {
            let escaped = if shown.starts_with('-') { format!("./{shown}") } else { format!("/{shown}") };
            return Err(Error::Usage(format!(
                "'{shown}' after -l is an option, not a log file name: write -l FILE (e.g. -l pqlog.txt {shown}), or -l {escaped} for a file of that name"
            )));
        }
    }
    Ok(())
}

/// PortQry's local-mode rules: one of `-local`, `-wport`, `-wpid`; `-wt` only
/// with a watch, 1 to 1200 seconds; no `-q`; no `-n`.
fn validate_local(a: Args, command_line: String) -> Result<LocalConfig, Error> {
    let modes = [a.local, a.wport.is_some(), a.wpid.is_some()].iter().filter(|x| **x).count();
    if modes > 1 {
        return Err(Error::Usage("-local, -wport and -wpid are mutually exclusive: give one of them".into()));
    }
    if modes == 0 || (a.local && a.wt.is_some()) {
        return Err(Error::Usage(
            "-wt sets how often -wport or -wpid checks for changes: use it with -wport PORT or -wpid PID, not alone or with -local".into(),
        ));
    }
    if !a.name.is_empty() {
        return Err(Error::Usage(
            "-local, -wport and -wpid report this machine and take no -n: drop -n, or drop the local-mode switch to query HOST".into(),
        ));
    }
    if a.quiet {
        return Err(Error::Usage(
            "-q does not work in local mode (there is no single port state to return): drop -q".into(),
        ));
    }
    if a.json && a.jsonl {
        return Err(Error::Usage("--json and --jsonl are alternatives: give one of them".into()));
    }
    check_log_name(a.log.as_ref())?;
    let mode = if let Some(p) = &a.wport {
        LocalMode::WatchPort(ports::parse_port(p)?)
    } else if let Some(pid) = &a.wpid {
        LocalMode::WatchPid(pid.trim().parse::<u32>().ok().filter(|p| *p <= i32::MAX as u32).ok_or_else(
            || Error::Usage(format!("'{}' is not a process ID: give a number such as 1272", clip(pid))),
        )?)
    } else {
        LocalMode::All
    };
    let secs = match &a.wt {
        None => DEFAULT_WATCH_SECS,
        Some(t) => t.trim().parse::<u64>().ok().filter(|n| (1..=1200).contains(n)).ok_or_else(|| {
            Error::Usage(format!("'{}' is not a watch time: -wt takes 1 to 1200 seconds", clip(t)))
        })?,
    };
    let format = output_format(&a);
    Ok(LocalConfig {
        mode,
        interval: Duration::from_secs(secs),
        log: a.log,
        overwrite: a.yes,
        verbose: a.verbose,
        format,
        command_line,
    })
}

fn validate(a: Args, command_line: String) -> Result<Config, Error> {
    let format = output_format(&a);
    if a.name.is_empty() {
        return Err(Error::Usage("no target given: add -n HOST (a name, IPv4 or IPv6 address)".into()));
    }
    for name in &a.name {
        if name.trim().is_empty() || name.contains(char::is_whitespace) {
            return Err(Error::Usage(format!(
                "'{}' is not a host name or address: -n takes one name with no spaces",
                clip(name)
            )));
        }
    }
    check_log_name(a.log.as_ref())?;
    if let Err(e) = crate::wire::dns::emit_query(1, &a.dns_name, crate::wire::dns::QueryKind::A) {
        let detail = match e {
            crate::wire::dns::ParseError::InvalidName { reason, .. } => {
                format!("'{}' is not a DNS name ({})", clip(&a.dns_name), clip(&reason))
            }
            e => clip(&e.to_string()),
        };
        return Err(Error::Usage(format!("--dns-name: {detail}: give a name such as localhost")));
    }
    // A realm goes into GeneralStrings as is: printable ASCII, and short enough for
    // a kpasswd frame's 16-bit length.
    if let Some(r) = &a.realm
        && (r.is_empty() || r.len() > 255 || !r.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(Error::Usage(format!(
            "--realm: '{}' is not a Kerberos realm: give one such as CORP.EXAMPLE",
            clip(r)
        )));
    }
    if a.json && a.jsonl {
        return Err(Error::Usage("--json and --jsonl are alternatives: give one of them".into()));
    }
    let given = [a.port.is_some(), a.range.is_some(), a.ports.is_some()].iter().filter(|x| **x).count();
    if a.set.is_some() && (given > 0 || a.proto.is_some()) {
        return Err(Error::Usage(
            "--set gives its own ports and protocols: drop -e, -r, -o and -p, or drop --set".into(),
        ));
    }
    let set = a.set.as_deref().map(sets::find).transpose()?;
    if given > 1 {
        return Err(Error::Usage(
            "-e, -r and -o are mutually exclusive: give one port (-e 80), one range (-r 1:1024) or one list (-o 25,80)".into(),
        ));
    }
    let (ports, port_mode) = if let Some(set) = set {
        (set.ports(), PortMode::List)
    } else if let Some(r) = &a.range {
        let (s, e) = ports::parse_range(r)?;
        ((s..=e).collect(), PortMode::Range)
    } else if let Some(o) = &a.ports {
        (ports::parse_list(o)?, PortMode::List)
    } else {
        (vec![ports::parse_port(a.port.as_deref().unwrap_or("80"))?], PortMode::Single)
    };
    let source_port = a
        .source_port
        .as_deref()
        .map(|s| {
            s.trim().parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                Error::Usage(format!(
                    "'{}' is not a source port: give a number from 1 to 65535 (omit -sp for an ephemeral port)",
                    clip(s)
                ))
            })
        })
        .transpose()?;
    let community = match a.community {
        None => "public".to_string(),
        Some(c) => {
            let inner = c
                .strip_prefix('!')
                .and_then(|x| x.strip_suffix('!'))
                .filter(|x| !x.is_empty() || c.len() >= 2)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "the community name must be delimited with '!': write -cn !{}!",
                        clip(c.trim_matches('!'))
                    ))
                })?;
            inner.to_string()
        }
    };
    let udp_base = a.timeout.unwrap_or(DEFAULT_UDP_WAIT_MS);
    let udp_wait = Duration::from_millis(if a.slow_link { udp_base * 2 } else { udp_base });
    let tcp_timeout = Duration::from_millis(a.timeout.unwrap_or(DEFAULT_TCP_TIMEOUT_MS));
    let udp_tries = a.tries.unwrap_or(DEFAULT_UDP_TRIES);
    // The probe settings the queries share are copied in by `sync_query_options`.
    let query = crate::query::Options {
        dns_name: a.dns_name,
        realm: a.realm,
        community,
        rpc_names: a.rpc_names,
        verbose: a.verbose,
        tls: a.tls,
        tls_ca: a
            .tls_ca
            .as_deref()
            .map(|path| {
                crate::query::tls::verify::load_ca_file(path)
                    .map_err(|detail| Error::TlsCa { path: clip(&path.display().to_string()), detail })
            })
            .transpose()?,
        ..Default::default()
    };
    let mut cfg = Config {
        names: a.name,
        transports: if set.is_some() { ProtoSel::Both } else { a.proto.unwrap_or(ProtoSel::Tcp) }
            .transports(),
        ports,
        port_mode,
        set,
        log: a.log,
        overwrite: a.yes,
        quiet: a.quiet,
        verbose: a.verbose,
        no_reverse: a.no_reverse,
        slow_link: a.slow_link,
        services: a.services,
        probe: engine::Options {
            tcp: TcpOptions {
                timeout: tcp_timeout,
                tries: a.tries.unwrap_or(DEFAULT_TCP_TRIES),
                source_port,
            },
            udp: UdpOptions { wait: udp_wait, tries: udp_tries, source_port },
            concurrency: a.concurrency.unwrap_or(DEFAULT_CONCURRENCY),
            rate_limit: if a.udp_fast { RateLimit::Fast } else { RateLimit::Wait },
            // `--timeout` given: deadlines stay fixed instead of adapting to the RTT.
            adaptive: a.timeout.is_none(),
        },
        query,
        format,
        max_hosts: a.max_hosts.unwrap_or(DEFAULT_MAX_HOSTS),
        family: if a.ipv4 {
            Family::V4
        } else if a.ipv6 {
            Family::V6
        } else {
            Family::Any
        },
        command_line,
    };
    cfg.sync_query_options();
    Ok(cfg)
}

/// Interactive mode (`portqry -i [-n node] [-e port] [-p proto] [-sp port]
/// [-cn !c!] [-nr] [-sl]`, plus `-l`, `-y`, `-v` and the tuning options):
/// the switches seed the session's settings. One default node, one end
/// port, text only.
fn validate_interactive(mut a: Args, command_line: String) -> Result<Config, Error> {
    if a.local || a.wport.is_some() || a.wpid.is_some() || a.wt.is_some() {
        return Err(Error::Usage(
            "-i queries remote ports and -local, -wport and -wpid report this machine: give one of them"
                .into(),
        ));
    }
    if a.range.is_some() || a.ports.is_some() || a.set.is_some() {
        return Err(Error::Usage(
            "interactive mode has one end port: seed it with -e PORT (drop -r, -o and --set; at the prompt, q SHORTCUT queries several)".into(),
        ));
    }
    if a.quiet || a.json || a.jsonl {
        return Err(Error::Usage(
            "interactive mode prints PortQry's text: drop -q, --json and --jsonl (run portqry -n HOST ... -q for an exit code alone)".into(),
        ));
    }
    match a.name.as_slice() {
        [] => a.name.push(DEFAULT_NODE.to_string()),
        [one] if crate::interactive::commands::check_node(one).is_ok() => {}
        [one] => {
            return Err(Error::Usage(format!(
                "-n with -i takes one default node: {}",
                crate::interactive::commands::check_node(one).err().unwrap_or_default()
            )));
        }
        _ => {
            return Err(Error::Usage(
                "-n with -i takes one default node: give -n once (change it at the prompt with n NAME)"
                    .into(),
            ));
        }
    }
    validate(a, command_line)
}

/// Interactive mode's node until `-n` or `n NAME` gives another (PortQry's).
pub const DEFAULT_NODE: &str = "127.0.0.1";

/// The output format the switches ask for (`--json`, `--jsonl`, else text).
fn output_format(a: &Args) -> Format {
    if a.json {
        Format::Json
    } else if a.jsonl {
        Format::JsonLines
    } else {
        Format::Text
    }
}

#[cfg(test)]
mod tests;
