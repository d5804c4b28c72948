//! Interactive mode's commands, as PortQry 2.0 names them: parsing a typed
//! line into a [`Cmd`], the session's [`Settings`] and what `set` does to
//! them, and the `q SHORTCUT` table. Pure: no I/O, no printing.

use crate::cli::ProtoSel;
use crate::error::clip;
use crate::probe::Transport;

/// The longest command line read; a longer one gets a one-line error.
pub const MAX_LINE: usize = 4096;

/// The longest node name accepted (a DNS name is at most 253 characters; an
/// IPv6 literal with a zone a little more).
const MAX_NODE: usize = 255;

/// What one line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// An empty line: the prompt again.
    Nothing,
    Help,
    Exit,
    /// `node NAME` / `n NAME`.
    Node(String),
    /// `query` / `q`: the current node with the current options.
    Query,
    /// `q SHORTCUT`.
    Shortcut(&'static Shortcut),
    /// `set all`.
    ShowAll,
    /// `set OPTION=VALUE`, `set nr`, `set sl`.
    Set(Change),
}

/// One change `set` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Port(u16),
    SourcePort(u16),
    Protocol(ProtoSel),
    Community(String),
    ToggleNoReverse,
    ToggleSlowLink,
}

/// The session's settings: what `q` queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub node: String,
    pub port: u16,
    pub protocol: ProtoSel,
    /// 0: an ephemeral port.
    pub source_port: u16,
    pub community: String,
    pub no_reverse: bool,
    pub slow_link: bool,
}

impl Settings {
    /// Apply one `set` change.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Port(p) => self.port = *p,
            Change::SourcePort(p) => self.source_port = *p,
            Change::Protocol(p) => self.protocol = *p,
            Change::Community(c) => self.community.clone_from(c),
            Change::ToggleNoReverse => self.no_reverse = !self.no_reverse,
            Change::ToggleSlowLink => self.slow_link = !self.slow_link,
        }
    }

    /// PortQry's "Current option values:" lines (end port, protocol, source port).
    pub fn option_lines(&self) -> Vec<String> {
        vec![
            format!("   end port= {}", self.port),
            format!("   protocol= {}", protocol_name(self.protocol)),
            match self.source_port {
                0 => "   source port= 0 (ephemeral)".to_string(),
                p => format!("   source port= {p}"),
            },
        ]
    }

    /// Every value, for `set all`: PortQry's three lines, then the others.
    pub fn all_lines(&self) -> Vec<String> {
        let mut lines = self.option_lines();
        lines.push(format!("   community name= {}", self.community));
        lines.push(format!("   name resolution= {}", if self.no_reverse { "off (nr)" } else { "on" }));
        lines.push(format!("   slow link delay= {}", if self.slow_link { "on (sl)" } else { "off" }));
        lines
    }

    /// The line that shows what a change did (printed after `set`).
    pub fn changed_line(&self, change: &Change) -> String {
        let all = self.all_lines();
        let i = match change {
            Change::Port(_) => 0,
            Change::Protocol(_) => 1,
            Change::SourcePort(_) => 2,
            Change::Community(_) => 3,
            Change::ToggleNoReverse => 4,
            Change::ToggleSlowLink => 5,
        };
        all[i].clone()
    }
}

/// TCP, UDP or BOTH, as PortQry's banner writes the protocol.
pub fn protocol_name(p: ProtoSel) -> &'static str {
    match p {
        ProtoSel::Tcp => "TCP",
        ProtoSel::Udp => "UDP",
        ProtoSel::Both => "BOTH",
    }
}

/// One query a shortcut runs: these ports on these transports, as the
/// command line's `-e PORT` / `-o P1,P2` with `-p` would.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub ports: &'static [u16],
    pub protocol: ProtoSel,
}

/// PortQry's `q SHORTCUT`: a name and the queries it runs, in order.
#[derive(Debug, PartialEq, Eq)]
pub struct Shortcut {
    pub name: &'static str,
    pub runs: &'static [Run],
}

const fn run(ports: &'static [u16], protocol: ProtoSel) -> Run {
    Run { ports, protocol }
}

/// PortQry 2.0's shortcuts (reference §5). `sql` is TCP 1433 and UDP 1434:
/// two queries, since one `-p` covers every port of a query.
pub static SHORTCUTS: &[Shortcut] = &[
    Shortcut { name: "dns", runs: &[run(&[53], ProtoSel::Both)] },
    Shortcut { name: "ftp", runs: &[run(&[21], ProtoSel::Tcp)] },
    Shortcut { name: "imap", runs: &[run(&[143], ProtoSel::Tcp)] },
    Shortcut { name: "ipsec", runs: &[run(&[500], ProtoSel::Udp)] },
    Shortcut { name: "isa", runs: &[run(&[1745], ProtoSel::Both)] },
    Shortcut { name: "ldap", runs: &[run(&[389], ProtoSel::Both)] },
    Shortcut { name: "l2tp", runs: &[run(&[1701], ProtoSel::Udp)] },
    Shortcut { name: "mail", runs: &[run(&[25, 110, 143], ProtoSel::Tcp)] },
    Shortcut { name: "pop3", runs: &[run(&[110], ProtoSel::Tcp)] },
    Shortcut { name: "rpc", runs: &[run(&[135], ProtoSel::Both)] },
    Shortcut { name: "smtp", runs: &[run(&[25], ProtoSel::Tcp)] },
    Shortcut { name: "snmp", runs: &[run(&[161], ProtoSel::Udp)] },
    Shortcut { name: "sql", runs: &[run(&[1433], ProtoSel::Tcp), run(&[1434], ProtoSel::Udp)] },
    Shortcut { name: "tftp", runs: &[run(&[69], ProtoSel::Udp)] },
];

impl Shortcut {
    /// "TCP 53, UDP 53" — for `help`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for r in self.runs {
            for p in r.ports {
                for t in r.protocol.transports() {
                    parts.push(format!("{} {p}", if *t == Transport::Tcp { "TCP" } else { "UDP" }));
                }
            }
        }
        parts.join(", ")
    }
}

/// The text `help` prints.
pub fn help_lines() -> Vec<String> {
    let row = |cmd: &str, alias: &str, what: &str| format!("   {cmd:<16}{alias:<11}{what}");
    let mut lines = vec![
        "Commands:".to_string(),
        row("node NAME", "(n NAME)", "set the node to query: a name, IPv4 or IPv6 address"),
        row("query", "(q)", "query the node with the current options"),
        row("q SHORTCUT", "", "query the node for a service (the options stay as they are):"),
    ];
    for s in SHORTCUTS {
        lines.push(format!("      {:<7}{}", s.name, s.describe()));
    }
    lines.extend([
        row("set port=N", "(e=N)", "end port to query, 1-65535"),
        row("set sport=N", "(sp=N)", "source port, 0 = ephemeral"),
        row("set protocol=P", "(p=P)", "tcp, udp or both"),
        row("set cn=NAME", "", "SNMP community name (!NAME! works too)"),
        row("set nr", "", "toggle IP address-to-name resolution"),
        row("set sl", "", "toggle the slow link delay (UDP waits twice as long)"),
        row("set all", "", "show the current option values"),
        row("help", "(?)", "this list"),
        row("exit", "(quit)", "leave interactive mode (also: end of input)"),
    ]);
    lines
}

/// Why a node name cannot be used, in one line, or `Ok`.
pub fn check_node(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("give a name, e.g. n server1 or n 198.18.0.2".into());
    }
    if name.len() > MAX_NODE {
        return Err(format!(
            "'{}' is longer than {MAX_NODE} characters: give a host name or address",
            clip(name)
        ));
    }
    if name.contains(char::is_whitespace) || name.contains(',') {
        return Err(format!("'{}' is not one host: give one name or address", clip(name)));
    }
    if name == "-" || name.starts_with('@') {
        return Err(format!(
            "'{}' reads targets from stdin or a file, which interactive mode does not: give one name or address",
            clip(name)
        ));
    }
    if name.starts_with('-') {
        return Err(format!("'{}' is not a host name: give a name or address", clip(name)));
    }
    Ok(())
}

/// Parse one typed line. The error is one line saying what to type.
pub fn parse(line: &str) -> Result<Cmd, String> {
    let line = line.trim();
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (line, ""),
    };
    let word_lc = word.to_ascii_lowercase();
    match word_lc.as_str() {
        "" => Ok(Cmd::Nothing),
        "help" | "?" | "h" => no_argument(&word_lc, rest, Cmd::Help),
        "exit" | "quit" => no_argument(&word_lc, rest, Cmd::Exit),
        "node" | "n" => {
            check_node(rest).map_err(|e| format!("node: {e}"))?;
            Ok(Cmd::Node(rest.to_string()))
        }
        "query" | "q" => {
            if rest.is_empty() {
                return Ok(Cmd::Query);
            }
            let lc = rest.to_ascii_lowercase();
            SHORTCUTS.iter().find(|s| s.name == lc).map(Cmd::Shortcut).ok_or_else(|| {
                format!(
                    "'{}' is not a query shortcut: type q alone, or q with one of {}",
                    clip(rest),
                    SHORTCUTS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                )
            })
        }
        "set" => parse_set(rest),
        _ => Err(format!(
            "'{}' is not a command: type help (commands: node NAME, q, q SHORTCUT, set OPTION=VALUE, set all, exit)",
            clip(word)
        )),
    }
}

fn no_argument(word: &str, rest: &str, cmd: Cmd) -> Result<Cmd, String> {
    if rest.is_empty() { Ok(cmd) } else { Err(format!("{word} takes nothing after it: type {word}")) }
}

const SET_USAGE: &str =
    "type set port=N, set sport=N, set protocol=tcp|udp|both, set cn=NAME, set nr, set sl or set all";

fn parse_set(rest: &str) -> Result<Cmd, String> {
    let (option, value) = match rest.split_once('=') {
        Some((o, v)) => (o.trim().to_ascii_lowercase(), Some(v.trim())),
        None => (rest.trim().to_ascii_lowercase(), None),
    };
    match (option.as_str(), value) {
        ("", _) => Err(format!("set needs an option: {SET_USAGE}")),
        ("all", None) => Ok(Cmd::ShowAll),
        ("nr", None) => Ok(Cmd::Set(Change::ToggleNoReverse)),
        ("sl", None) => Ok(Cmd::Set(Change::ToggleSlowLink)),
        ("all" | "nr" | "sl", Some(_)) => Err(format!("set {option} takes no value: type set {option}")),
        ("port" | "e", Some(v)) => match v.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(Cmd::Set(Change::Port(n as u16))),
            _ => Err(format!("'{}' is not a port: type set {option}=N with N from 1 to 65535", clip(v))),
        },
        ("sport" | "sp", Some(v)) => match v.parse::<u32>() {
            Ok(n) if n <= 65535 => Ok(Cmd::Set(Change::SourcePort(n as u16))),
            _ => Err(format!(
                "'{}' is not a source port: type set {option}=N with N from 1 to 65535, or 0 for an ephemeral port",
                clip(v)
            )),
        },
        ("protocol" | "p", Some(v)) => match v.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Cmd::Set(Change::Protocol(ProtoSel::Tcp))),
            "udp" => Ok(Cmd::Set(Change::Protocol(ProtoSel::Udp))),
            "both" => Ok(Cmd::Set(Change::Protocol(ProtoSel::Both))),
            _ => Err(format!("'{}' is not a protocol: type set {option}=tcp, udp or both", clip(v))),
        },
        ("cn", Some(v)) => {
            let inner = v.strip_prefix('!').and_then(|x| x.strip_suffix('!')).unwrap_or(v);
            if inner.is_empty() || v == "!" {
                return Err("the community name is empty: type set cn=NAME, e.g. set cn=public".into());
            }
            Ok(Cmd::Set(Change::Community(inner.to_string())))
        }
        ("port" | "e" | "sport" | "sp" | "protocol" | "p" | "cn", None) => {
            Err(format!("set {option} needs a value: type set {option}=VALUE"))
        }
        _ => Err(format!("'{}' is not an option: {SET_USAGE}", clip(&option))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            node: "127.0.0.1".into(),
            port: 80,
            protocol: ProtoSel::Tcp,
            source_port: 0,
            community: "public".into(),
            no_reverse: false,
            slow_link: false,
        }
    }

    #[test]
    fn portqry_commands_parse() {
        assert_eq!(parse("node dc1"), Ok(Cmd::Node("dc1".into())));
        assert_eq!(parse("  N   198.18.0.2  "), Ok(Cmd::Node("198.18.0.2".into())));
        assert_eq!(parse("q"), Ok(Cmd::Query));
        assert_eq!(parse("QUERY"), Ok(Cmd::Query));
        assert_eq!(parse("help"), Ok(Cmd::Help));
        assert_eq!(parse("?"), Ok(Cmd::Help));
        assert_eq!(parse("exit"), Ok(Cmd::Exit));
        assert_eq!(parse("quit"), Ok(Cmd::Exit));
        assert_eq!(parse(""), Ok(Cmd::Nothing));
        assert_eq!(parse("   "), Ok(Cmd::Nothing));
        assert_eq!(parse("set all"), Ok(Cmd::ShowAll));
        assert_eq!(parse("set port=53"), Ok(Cmd::Set(Change::Port(53))));
        assert_eq!(parse("set e = 135"), Ok(Cmd::Set(Change::Port(135))));
        assert_eq!(parse("set sport=0"), Ok(Cmd::Set(Change::SourcePort(0))));
        assert_eq!(parse("set sp=2030"), Ok(Cmd::Set(Change::SourcePort(2030))));
        assert_eq!(parse("set protocol=BOTH"), Ok(Cmd::Set(Change::Protocol(ProtoSel::Both))));
        assert_eq!(parse("set p=udp"), Ok(Cmd::Set(Change::Protocol(ProtoSel::Udp))));
        assert_eq!(parse("set cn=!my community!"), Ok(Cmd::Set(Change::Community("my community".into()))));
        assert_eq!(parse("set cn=secure123"), Ok(Cmd::Set(Change::Community("secure123".into()))));
        assert_eq!(parse("set nr"), Ok(Cmd::Set(Change::ToggleNoReverse)));
        assert_eq!(parse("SET SL"), Ok(Cmd::Set(Change::ToggleSlowLink)));
    }

    #[test]
    fn every_portqry_shortcut_runs_its_ports() {
        let want = [
            ("dns", "TCP 53, UDP 53"),
            ("ftp", "TCP 21"),
            ("imap", "TCP 143"),
            ("ipsec", "UDP 500"),
            ("isa", "TCP 1745, UDP 1745"),
            ("ldap", "TCP 389, UDP 389"),
            ("l2tp", "UDP 1701"),
            ("mail", "TCP 25, TCP 110, TCP 143"),
            ("pop3", "TCP 110"),
            ("rpc", "TCP 135, UDP 135"),
            ("smtp", "TCP 25"),
            ("snmp", "UDP 161"),
            ("sql", "TCP 1433, UDP 1434"),
            ("tftp", "UDP 69"),
        ];
        assert_eq!(SHORTCUTS.len(), want.len());
        for (name, ports) in want {
            match parse(&format!("q {}", name.to_uppercase())) {
                Ok(Cmd::Shortcut(s)) => assert_eq!((s.name, s.describe().as_str()), (name, ports)),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_lines_say_what_to_type_in_one_line() {
        for (line, says) in [
            ("frobnicate", "type help"),
            ("n", "give a name"),
            ("node a b", "one name"),
            ("n -", "stdin"),
            ("n @targets", "stdin or a file"),
            ("n a,b", "one name"),
            ("q www", "one of dns, ftp"),
            ("set", "set needs an option"),
            ("set port=0", "from 1 to 65535"),
            ("set port=65536", "from 1 to 65535"),
            ("set e=http", "set e=N"),
            ("set sp=-1", "0 for an ephemeral"),
            ("set p=icmp", "tcp, udp or both"),
            ("set cn=", "community name is empty"),
            ("set cn=!!", "community name is empty"),
            ("set port", "needs a value"),
            ("set nr=1", "takes no value"),
            ("set colour=red", "is not an option"),
            ("exit now", "takes nothing"),
        ] {
            let e = parse(line).expect_err(line);
            assert!(e.contains(says), "{line}: {e}");
            assert!(!e.contains('\n'), "{line}: {e}");
        }
        // A long word is clipped, not echoed whole.
        let long = "x".repeat(3000);
        assert!(parse(&long).unwrap_err().len() < 400);
        assert!(parse(&format!("n {long}")).unwrap_err().len() < 400);
    }

    #[test]
    fn set_changes_one_value_and_toggles() {
        let mut s = settings();
        assert_eq!(
            s.option_lines(),
            ["   end port= 80", "   protocol= TCP", "   source port= 0 (ephemeral)"]
        );
        s.apply(&Change::Port(53));
        s.apply(&Change::Protocol(ProtoSel::Both));
        s.apply(&Change::SourcePort(2030));
        assert_eq!(s.option_lines(), ["   end port= 53", "   protocol= BOTH", "   source port= 2030"]);
        s.apply(&Change::ToggleNoReverse);
        assert!(s.no_reverse);
        assert_eq!(s.changed_line(&Change::ToggleNoReverse), "   name resolution= off (nr)");
        s.apply(&Change::ToggleNoReverse);
        assert!(!s.no_reverse);
        s.apply(&Change::ToggleSlowLink);
        assert_eq!(s.changed_line(&Change::ToggleSlowLink), "   slow link delay= on (sl)");
        s.apply(&Change::Community("c".into()));
        assert_eq!(s.changed_line(&Change::Community(String::new())), "   community name= c");
        assert_eq!(s.all_lines().len(), 6);
    }
}
