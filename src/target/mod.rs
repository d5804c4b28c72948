//! Targets: a host name or an IP literal, resolved once, with PortQry's
//! forward and reverse lookups. Every lookup runs under a deadline.

pub mod input;
pub mod ports;
pub mod services;
pub mod sets;

use crate::error::{Error, clip};
use std::net::{IpAddr, SocketAddr, SocketAddrV6, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a name lookup may take before we give up (the system resolver
/// itself may retry for longer; we never wait past this).
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Which address family to use when a name has both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// The first address the resolver returns, as PortQry.
    #[default]
    Any,
    V4,
    V6,
}

/// An IP literal as typed: `198.18.0.2`, `2001:db8::1`, `[2001:db8::1]`,
/// `fe80::1%eth0`. Returns the address and the IPv6 scope id (0 if none).
pub fn parse_literal(input: &str) -> Result<Option<(IpAddr, u32)>, Error> {
    let s = input.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(input);
    if let Some((addr, zone)) = s.split_once('%') {
        let Ok(IpAddr::V6(v6)) = addr.parse::<IpAddr>() else {
            return Ok(None);
        };
        let scope = zone_index(zone).ok_or_else(|| {
            Error::Usage(format!(
                "unknown interface '{}' in '{}': use a zone such as %eth0 or the index of an existing interface (ip link)",
                clip(zone),
                clip(input)
            ))
        })?;
        return Ok(Some((IpAddr::V6(v6), scope)));
    }
    // A v4-mapped address (::ffff:198.18.0.2) is probed as the IPv4 address it
    // names, so ICMP senders compare equal to it.
    Ok(s.parse::<IpAddr>().ok().map(|a| (a.to_canonical(), 0)))
}

/// The interface index a zone names; a number must be an existing
/// interface's index, or the probes would go nowhere and read as FILTERED.
fn zone_index(zone: &str) -> Option<u32> {
    match zone.parse::<u32>() {
        Ok(n) => crate::platform::interface_exists(n).then_some(n),
        Err(_) => crate::platform::interface_index(zone),
    }
}

/// What portqry says when `addr` is no single host (a TCP or UDP probe of it
/// cannot mean what the verdict says), `None` for a unicast address. A
/// subnet-directed broadcast cannot be told without routing data: not caught.
pub fn non_unicast(addr: IpAddr) -> Option<&'static str> {
    match addr.to_canonical() {
        IpAddr::V4(v4) if v4.is_broadcast() => Some("a broadcast address"),
        a if a.is_multicast() => Some("a multicast address"),
        _ => None,
    }
}

/// [`parse_literal`], then what a literal cannot be on this command line: a
/// broadcast or multicast address, or the other family than `-4`/`-6` asks for.
pub fn check_literal(input: &str, family: Family) -> Result<Option<(IpAddr, u32)>, Error> {
    let parsed = parse_literal(input)?;
    let Some((addr, _)) = parsed else {
        return Ok(None);
    };
    let shown = clip(input);
    if let Some(what) = non_unicast(addr) {
        return Err(Error::Usage(format!(
            "{shown} is {what}; portqry probes one host: give one host's address"
        )));
    }
    let mapped = if input.contains(':') { " (v4-mapped)" } else { "" };
    match (family, addr) {
        (Family::V6, IpAddr::V4(_)) => Err(Error::Usage(format!(
            "{shown} is an IPv4 address{mapped} but -6 asks for IPv6: drop -6, or give an IPv6 address"
        ))),
        (Family::V4, IpAddr::V6(_)) => Err(Error::Usage(format!(
            "{shown} is an IPv6 address but -4 asks for IPv4: drop -4, or give an IPv4 address"
        ))),
        _ => Ok(parsed),
    }
}

/// How a wait for a helper thread ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited<T> {
    Done(T),
    /// The deadline passed, or the thread ended without an answer.
    NoAnswer,
    /// `stop` said so (Ctrl-C).
    Stopped,
}

/// Start `f` on a helper thread made by `builder`. A thread that cannot be
/// started (memory limit, thread limit) is a local failure, never a panic.
fn start<T: Send + 'static>(
    builder: std::thread::Builder,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<mpsc::Receiver<T>, Error> {
    let (tx, rx) = mpsc::channel();
    builder
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| {
            Error::Socket(format!(
                "cannot start a thread for the name look-up: {e}: free memory or raise the limits (ulimit -v, ulimit -u) and run again"
            ))
        })?;
    Ok(rx)
}

/// Wait at most `timeout` for the helper's answer, looking at `stop` at least
/// every [`crate::cancel::SLICE`]. A look-up still running when we stop
/// waiting is abandoned: the system resolver cannot be cancelled, and its
/// thread ends on its own (or with the process).
fn wait<T>(rx: &mpsc::Receiver<T>, timeout: Duration, stop: &dyn Fn() -> bool) -> Waited<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if stop() {
            return Waited::Stopped;
        }
        let Some(slice) = crate::cancel::slice_until(deadline) else {
            return Waited::NoAnswer;
        };
        match rx.recv_timeout(slice) {
            Ok(v) => return Waited::Done(v),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Waited::NoAnswer,
        }
    }
}

/// Run `f` on a helper thread; its answer, unless `timeout` passed or Ctrl-C came first.
fn with_deadline<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<Waited<T>, Error> {
    let rx = start(std::thread::Builder::new().name("portqry-lookup".into()), f)?;
    Ok(wait(&rx, timeout, &crate::cancel::requested))
}

fn interrupted_lookup(what: &str) -> Error {
    Error::InterruptedWhile(format!("during the look-up of {what}: nothing was probed"))
}

/// Forward lookup through the system resolver, filtered by family.
pub fn resolve_name(name: &str, family: Family, timeout: Duration) -> Result<IpAddr, Error> {
    let owned = name.to_string();
    let result = with_deadline(timeout, move || {
        (owned.as_str(), 0u16)
            .to_socket_addrs()
            .map(|it| it.map(|sa| sa.ip().to_canonical()).collect::<Vec<_>>())
    })?;
    let fail = |detail: String| Error::Resolve { name: clip(name), detail };
    let addrs = match result {
        Waited::Stopped => return Err(interrupted_lookup(&format!("'{}'", clip(name)))),
        Waited::NoAnswer => return Err(fail(format!("no answer within {} s", timeout.as_secs()))),
        Waited::Done(Err(e)) => return Err(fail(e.to_string())),
        Waited::Done(Ok(a)) => a,
    };
    let addr = addrs
        .into_iter()
        .find(|a| match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        })
        .ok_or_else(|| {
            fail(match family {
                Family::V4 => "the name has no IPv4 address (try without -4)".into(),
                Family::V6 => "the name has no IPv6 address (try without -6)".into(),
                Family::Any => "the resolver returned no address".into(),
            })
        })?;
    if let Some(what) = non_unicast(addr) {
        return Err(Error::Usage(format!(
            "'{}' resolves to {addr}, {what}; portqry probes one host: give one host's name or address",
            clip(name)
        )));
    }
    Ok(addr)
}

/// Reverse lookup (PTR through the system resolver); `Ok(None)` when there is
/// no name (or no answer in time), an error after Ctrl-C or when no thread
/// can be started for it.
pub fn reverse_lookup(addr: IpAddr, timeout: Duration) -> Result<Option<String>, Error> {
    match with_deadline(timeout, move || name_of(addr))? {
        Waited::Done(name) => Ok(name),
        Waited::NoAnswer => Ok(None),
        Waited::Stopped => Err(interrupted_lookup(&addr.to_string())),
    }
}

fn name_of(addr: IpAddr) -> Option<String> {
    crate::platform::reverse_name(addr)
}

/// Most targets one run takes, after expanding lists, files and CIDR blocks
/// (the largest `--max-hosts` block fits).
pub const MAX_TARGETS: usize = 1 << 20;

/// Read a target list (`-` for stdin, else a path) within [`input`]'s limits.
fn read_targets(item: &str) -> Result<String, Error> {
    let (shown, result) = if item == "-" {
        ("stdin".to_string(), input::read_stdin(&crate::cancel::requested))
    } else {
        let path = &item[1..];
        (format!("'{}'", clip(path)), input::read_path(std::path::Path::new(path), &crate::cancel::requested))
    };
    result.map_err(|e| {
        let advice = match e {
            input::ReadError::Interrupted => {
                return Error::InterruptedWhile(format!(
                    "while reading targets from {shown}: nothing was probed"
                ));
            }
            input::ReadError::Io(_) => return Error::Usage(format!("cannot read targets from {shown}: {e}")),
            input::ReadError::TooBig => "split the list over several runs",
            input::ReadError::LineTooLong { .. } | input::ReadError::NotText { .. } => {
                "give a text file with one name, address or CIDR block a line"
            }
            input::ReadError::TimedOut => "write the targets to a file and give -n @FILE",
        };
        Error::Usage(format!("cannot read targets from {shown}: {e}: {advice}"))
    })
}

/// Expand `-n` values into one target string each: comma lists, `@FILE` and
/// `-` (stdin; one target a line, `#` comments), and CIDR blocks (every
/// address of the block; at most `max_hosts` per block, [`MAX_TARGETS`] in all).
pub fn expand(inputs: &[String], max_hosts: usize) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for input in inputs {
        for item in input.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "-" || item.starts_with('@') {
                let text = read_targets(item)?;
                for line in text.lines() {
                    let line = line.split('#').next().unwrap_or("").trim();
                    if line.is_empty() {
                        continue;
                    }
                    if line.contains(char::is_whitespace) || line.starts_with('@') || line == "-" {
                        return Err(Error::Usage(format!(
                            "'{}' in {} is not a target: one name, address or CIDR block a line",
                            clip(line),
                            clip(item)
                        )));
                    }
                    expand_one(line, max_hosts, &mut out)?;
                }
            } else {
                expand_one(item, max_hosts, &mut out)?;
            }
        }
    }
    if out.is_empty() {
        return Err(Error::Usage("no target given: -n needs a name, address or CIDR block".into()));
    }
    Ok(out)
}

fn too_many_targets() -> Error {
    Error::Usage(format!("more than {MAX_TARGETS} targets in all: split them over several runs"))
}

fn expand_one(item: &str, max_hosts: usize, out: &mut Vec<String>) -> Result<(), Error> {
    let Some((base, bits)) = item.split_once('/') else {
        if out.len() >= MAX_TARGETS {
            return Err(too_many_targets());
        }
        out.push(item.to_string());
        return Ok(());
    };
    let bad = || {
        Error::Usage(format!(
            "'{}' is not a CIDR block: write it as 198.18.0.0/24 or 2001:db8::/120",
            clip(item)
        ))
    };
    let addr: IpAddr = base.parse().map_err(|_| bad())?;
    let bits: u32 = bits.parse().map_err(|_| bad())?;
    let width = if addr.is_ipv4() { 32 } else { 128 };
    if bits > width {
        return Err(bad());
    }
    let host_bits = width - bits;
    let count: u128 = if host_bits >= 127 { u128::MAX } else { 1u128 << host_bits };
    if count > max_hosts as u128 {
        return Err(Error::Usage(format!(
            "'{}' has {} addresses, more than --max-hosts {max_hosts}: narrow the block or raise --max-hosts",
            clip(item),
            if host_bits >= 64 { format!("2^{host_bits}") } else { count.to_string() }
        )));
    }
    if out.len() as u128 + count > MAX_TARGETS as u128 {
        return Err(too_many_targets());
    }
    match addr {
        IpAddr::V4(v4) => {
            let mask = if host_bits >= 32 { 0 } else { u32::MAX << host_bits };
            let first = u32::from(v4) & mask;
            for i in 0..count as u32 {
                out.push(std::net::Ipv4Addr::from(first + i).to_string());
            }
        }
        IpAddr::V6(v6) => {
            let mask = if host_bits >= 128 { 0 } else { u128::MAX << host_bits };
            let first = u128::from(v6) & mask;
            for i in 0..count {
                out.push(std::net::Ipv6Addr::from(first + i).to_string());
            }
        }
    }
    Ok(())
}

/// A resolved target.
#[derive(Debug, Clone)]
pub struct Target {
    /// What the user typed after `-n`.
    pub input: String,
    /// The address every probe goes to.
    pub addr: IpAddr,
    /// IPv6 zone (interface index) for link-local addresses, 0 otherwise.
    pub scope_id: u32,
}

impl Target {
    /// The local address this machine's routing picks for probes to this
    /// target (a UDP "connect" sends nothing; it only asks the routing table).
    pub fn source_address(&self) -> Option<IpAddr> {
        let any: SocketAddr = match self.addr {
            IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
            IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let sock = std::net::UdpSocket::bind(any).ok()?;
        sock.connect(self.socket_addr(9)).ok()?;
        Some(sock.local_addr().ok()?.ip())
    }

    /// The socket address of one port on this target.
    pub fn socket_addr(&self, port: u16) -> SocketAddr {
        match self.addr {
            IpAddr::V6(v6) if self.scope_id != 0 => {
                SocketAddr::V6(SocketAddrV6::new(v6, port, 0, self.scope_id))
            }
            a => SocketAddr::new(a, port),
        }
    }
}

/// What the look-ups found for one `-n` item, computed ahead of printing.
pub enum Found {
    /// An address literal, with its reverse look-up unless `-nr`.
    Literal { addr: std::net::IpAddr, scope_id: u32, reverse: Option<Result<Option<String>, crate::Error>> },
    /// A name and what it resolved to.
    Name(Result<std::net::IpAddr, crate::Error>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(parse_literal("198.18.0.2").unwrap(), Some(("198.18.0.2".parse().unwrap(), 0)));
        assert_eq!(parse_literal("[::1]").unwrap(), Some(("::1".parse().unwrap(), 0)));
        assert_eq!(parse_literal("myserver.com").unwrap(), None);
        assert_eq!(parse_literal("::ffff:198.18.0.2").unwrap(), Some(("198.18.0.2".parse().unwrap(), 0)));
        assert!(parse_literal("fe80::1%nosuchif0").is_err());
    }

    #[test]
    fn zones_must_name_an_interface() {
        #[cfg(unix)]
        {
            let lo = if cfg!(target_os = "linux") { "lo" } else { "lo0" };
            let idx = crate::platform::interface_index(lo).expect("a loopback interface");
            assert_eq!(
                parse_literal(&format!("fe80::1%{idx}")).unwrap(),
                Some(("fe80::1".parse().unwrap(), idx))
            );
        }
        for bad in ["fe80::1%99999", "fe80::1%0", "fe80::1%", "fe80::1%4294967295"] {
            let e = parse_literal(bad).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::EXIT_USAGE, "{bad}");
            assert!(e.to_string().starts_with("unknown interface"), "{bad}: {e}");
        }
        let long = format!("fe80::1%{}", "x".repeat(70_000));
        assert!(parse_literal(&long).unwrap_err().to_string().len() < 400);
    }

    #[test]
    fn broadcast_and_multicast_are_not_one_host() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(non_unicast(ip("255.255.255.255")), Some("a broadcast address"));
        assert_eq!(non_unicast(ip("::ffff:255.255.255.255")), Some("a broadcast address"));
        for m in ["224.0.0.1", "239.255.255.250", "ff02::1", "ff05::1:3", "::ffff:224.0.0.251"] {
            assert_eq!(non_unicast(ip(m)), Some("a multicast address"), "{m}");
        }
        // Unicast, and subnet-directed broadcasts (unknowable without routes) pass.
        for u in ["198.18.0.2", "10.0.0.255", "192.168.1.255", "0.0.0.0", "::1", "fe80::1", "223.255.255.255"]
        {
            assert_eq!(non_unicast(ip(u)), None, "{u}");
        }
        let e = check_literal("255.255.255.255", Family::Any).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
        assert_eq!(
            e.to_string(),
            "255.255.255.255 is a broadcast address; portqry probes one host: give one host's address"
        );
        assert!(check_literal("[ff02::1]", Family::Any).unwrap_err().to_string().contains("multicast"));
        assert!(check_literal("10.0.0.255", Family::Any).unwrap().is_some());
        assert_eq!(check_literal("myserver", Family::V6).unwrap(), None, "names are the resolver's");
    }

    #[test]
    fn family_switch_must_match_a_literal() {
        let e = check_literal("127.0.0.1", Family::V6).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
        assert_eq!(
            e.to_string(),
            "127.0.0.1 is an IPv4 address but -6 asks for IPv6: drop -6, or give an IPv6 address"
        );
        let e = check_literal("::1", Family::V4).unwrap_err().to_string();
        assert_eq!(e, "::1 is an IPv6 address but -4 asks for IPv4: drop -4, or give an IPv4 address");
        assert!(check_literal("::ffff:127.0.0.1", Family::V6).unwrap_err().to_string().contains("v4-mapped"));
        assert!(check_literal("::ffff:127.0.0.1", Family::V4).is_ok());
        assert!(check_literal("127.0.0.1", Family::V4).is_ok());
        assert!(check_literal("[::1]", Family::V6).is_ok());
    }

    #[test]
    fn waiting_for_a_lookup_stops_within_a_slice() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        // A stub look-up that takes far longer than anyone waits; its thread is
        // left behind, as a real resolver's is. The stop flag is this test's own
        // (cancel::STOP is process-wide and other tests read it).
        let slow =
            || start(std::thread::Builder::new(), || std::thread::sleep(Duration::from_secs(30))).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let setter = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            setter.store(true, Ordering::SeqCst);
        });
        let t = Instant::now();
        let rx = slow();
        assert_eq!(wait(&rx, LOOKUP_TIMEOUT, &|| stop.load(Ordering::SeqCst)), Waited::Stopped);
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(300)
                && took < Duration::from_millis(300) + 2 * crate::cancel::SLICE,
            "{took:?}"
        );
        // The deadline still holds, and an answer is an answer.
        let t = Instant::now();
        assert_eq!(wait(&slow(), Duration::from_millis(250), &|| false), Waited::NoAnswer);
        assert!(t.elapsed() < Duration::from_secs(1));
        let rx = start(std::thread::Builder::new(), || 7).unwrap();
        assert_eq!(wait(&rx, LOOKUP_TIMEOUT, &|| false), Waited::Done(7));
    }

    #[test]
    fn a_thread_that_cannot_start_is_a_local_error() {
        // No system maps a 2^62-byte stack: spawn fails, as under a small ulimit -v.
        let e = start(std::thread::Builder::new().stack_size(1 << 62), || ()).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_LOCAL);
        let m = e.to_string();
        assert!(m.starts_with("cannot start a thread for the name look-up") && !m.contains('\n'), "{m}");
    }

    #[test]
    fn target_count_is_bounded() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = expand(&v(&["10.0.0.0/12"]), 1 << 20).unwrap();
        assert_eq!(all.len(), MAX_TARGETS);
        drop(all);
        for list in [["10.0.0.0/12", "one-more"], ["one-more", "10.0.0.0/12"]] {
            let e = expand(&v(&list), 1 << 20).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
            assert_eq!(e.to_string(), "more than 1048576 targets in all: split them over several runs");
        }
    }

    #[test]
    fn expansion() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(expand(&v(&["a,b", "c"]), 256).unwrap(), v(&["a", "b", "c"]));
        assert_eq!(
            expand(&v(&["198.18.0.1/30"]), 256).unwrap(),
            v(&["198.18.0.0", "198.18.0.1", "198.18.0.2", "198.18.0.3"])
        );
        assert_eq!(expand(&v(&["198.18.0.7/32"]), 256).unwrap(), v(&["198.18.0.7"]));
        assert_eq!(expand(&v(&["2001:db8::/127"]), 256).unwrap(), v(&["2001:db8::", "2001:db8::1"]));
        assert_eq!(expand(&v(&["198.18.0.0/24"]), 256).unwrap().len(), 256);
        let e = expand(&v(&["198.18.0.0/16"]), 256).unwrap_err().to_string();
        assert!(e.contains("65536 addresses") && e.contains("--max-hosts"), "{e}");
        assert!(expand(&v(&["198.18.0.0/16"]), 65536).is_ok());
        let e = expand(&v(&["2001:db8::/32"]), 256).unwrap_err().to_string();
        assert!(e.contains("2^96"), "{e}");
        for bad in ["198.18.0.0/33", "198.18.0.0/x", "host/24", "::/129"] {
            let e = expand(&v(&[bad]), 256).unwrap_err();
            assert!(e.to_string().contains("CIDR"), "{bad}: {e}");
            assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
        }
        assert!(expand(&v(&["@/nonexistent/targets"]), 256).unwrap_err().to_string().contains("cannot read"));
        assert!(expand(&v(&[","]), 256).is_err());
    }

    #[test]
    fn target_files() {
        let dir = std::env::temp_dir().join(format!("portqry-targets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.txt");
        std::fs::write(&f, "# hosts\nhost1\n\n198.18.0.0/31  # pair\n").unwrap();
        let arg = format!("@{}", f.display());
        assert_eq!(expand(&[arg], 256).unwrap(), vec!["host1", "198.18.0.0", "198.18.0.1"]);
        std::fs::write(&f, "two words\n").unwrap();
        assert!(expand(&[format!("@{}", f.display())], 256).is_err());
        // A bad line is echoed clipped; a line too long for the reader is refused whole.
        std::fs::write(&f, format!("{} x\n", "h".repeat(4000))).unwrap();
        let e = expand(&[format!("@{}", f.display())], 256).unwrap_err().to_string();
        assert!(
            e.len() < 400 && e.contains("…' in @") && e.ends_with("one name, address or CIDR block a line"),
            "{e}"
        );
        std::fs::write(&f, format!("host1\n{}\n", "h".repeat(5000))).unwrap();
        let e = expand(&[format!("@{}", f.display())], 256).unwrap_err().to_string();
        assert!(e.contains("line 2 is longer than 4096 bytes"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn localhost_resolves_and_families_filter() {
        let a = resolve_name("localhost", Family::Any, LOOKUP_TIMEOUT).unwrap();
        assert!(a.is_loopback());
        let v4 = resolve_name("127.0.0.1", Family::V4, LOOKUP_TIMEOUT).unwrap();
        assert!(v4.is_ipv4());
        let e = resolve_name("127.0.0.1", Family::V6, LOOKUP_TIMEOUT).unwrap_err();
        assert!(e.to_string().contains("no IPv6 address"));
    }

    #[test]
    fn bad_name_is_an_error() {
        // .invalid never resolves (RFC 6761); the system resolver answers locally.
        let e = resolve_name("no-such-host.invalid", Family::Any, LOOKUP_TIMEOUT).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_NO_HOST);
    }
}
