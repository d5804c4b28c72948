//! Targets: a host name or an IP literal, resolved once, with PortQry's
//! forward and reverse lookups. Every lookup runs under a deadline.

pub mod ports;
pub mod services;

use crate::error::Error;
use std::net::{IpAddr, SocketAddr, SocketAddrV6, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

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
                "unknown interface '{zone}' in '{input}': use a zone such as %eth0 or a numeric index"
            ))
        })?;
        return Ok(Some((IpAddr::V6(v6), scope)));
    }
    // A v4-mapped address (::ffff:198.18.0.2) is probed as the IPv4 address it
    // names, so ICMP senders compare equal to it.
    Ok(s.parse::<IpAddr>().ok().map(|a| (a.to_canonical(), 0)))
}

fn zone_index(zone: &str) -> Option<u32> {
    if let Ok(n) = zone.parse::<u32>() {
        return Some(n);
    }
    #[cfg(unix)]
    {
        let c = std::ffi::CString::new(zone).ok()?;
        // SAFETY: a valid NUL-terminated string.
        let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
        (idx != 0).then_some(idx)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Run `f` on a helper thread and wait at most `timeout` for its answer.
/// A lookup still running after that is abandoned (its thread ends on its own).
fn with_deadline<T: Send + 'static>(timeout: Duration, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(timeout).ok()
}

/// Forward lookup through the system resolver, filtered by family.
pub fn resolve_name(name: &str, family: Family, timeout: Duration) -> Result<IpAddr, Error> {
    let owned = name.to_string();
    let result = with_deadline(timeout, move || {
        (owned.as_str(), 0u16)
            .to_socket_addrs()
            .map(|it| it.map(|sa| sa.ip().to_canonical()).collect::<Vec<_>>())
    });
    let fail = |detail: String| Error::Resolve { name: name.to_string(), detail };
    let addrs = match result {
        None => return Err(fail(format!("no answer within {} s", timeout.as_secs()))),
        Some(Err(e)) => return Err(fail(e.to_string())),
        Some(Ok(a)) => a,
    };
    addrs
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
        })
}

/// Reverse lookup (PTR through the system resolver); `None` when there is no name.
pub fn reverse_lookup(addr: IpAddr, timeout: Duration) -> Option<String> {
    with_deadline(timeout, move || name_of(addr)).flatten()
}

#[cfg(unix)]
fn name_of(addr: IpAddr) -> Option<String> {
    use std::mem::size_of;
    let sa = socket2::SockAddr::from(SocketAddr::new(addr, 0));
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: sa is a valid sockaddr of the given length; host is a writable buffer.
    let rc = unsafe {
        libc::getnameinfo(
            sa.as_ptr().cast(),
            sa.len(),
            host.as_mut_ptr(),
            host.len() as _, // socklen_t on Linux, size_t on BSD
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    let _ = size_of::<libc::sockaddr>();
    if rc != 0 {
        return None;
    }
    // SAFETY: getnameinfo NUL-terminates on success.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(not(unix))]
fn name_of(_addr: IpAddr) -> Option<String> {
    None
}

/// Expand `-n` values into one target string each: comma lists, `@FILE` and
/// `-` (stdin; one target a line, `#` comments), and CIDR blocks (every
/// address of the block; at most `max_hosts` per block).
pub fn expand(inputs: &[String], max_hosts: usize) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for input in inputs {
        for item in input.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "-" || item.starts_with('@') {
                let text = if item == "-" {
                    std::io::read_to_string(std::io::stdin())
                        .map_err(|e| Error::Usage(format!("cannot read targets from stdin: {e}")))?
                } else {
                    let path = &item[1..];
                    std::fs::read_to_string(path)
                        .map_err(|e| Error::Usage(format!("cannot read targets from '{path}': {e}")))?
                };
                for line in text.lines() {
                    let line = line.split('#').next().unwrap_or("").trim();
                    if line.is_empty() {
                        continue;
                    }
                    if line.contains(char::is_whitespace) || line.starts_with('@') || line == "-" {
                        return Err(Error::Usage(format!(
                            "'{line}' in {item} is not a target: one name, address or CIDR block a line"
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

fn expand_one(item: &str, max_hosts: usize, out: &mut Vec<String>) -> Result<(), Error> {
    let Some((base, bits)) = item.split_once('/') else {
        out.push(item.to_string());
        return Ok(());
    };
    let bad =
        || Error::Usage(format!("'{item}' is not a CIDR block: write it as 198.18.0.0/24 or 2001:db8::/120"));
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
            "'{item}' has {} addresses, more than --max-hosts {max_hosts}: narrow the block or raise --max-hosts",
            if host_bits >= 64 { format!("2^{host_bits}") } else { count.to_string() }
        )));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(parse_literal("198.18.0.2").unwrap(), Some(("198.18.0.2".parse().unwrap(), 0)));
        assert_eq!(parse_literal("[::1]").unwrap(), Some(("::1".parse().unwrap(), 0)));
        assert_eq!(parse_literal("fe80::1%7").unwrap(), Some(("fe80::1".parse().unwrap(), 7)));
        assert_eq!(parse_literal("myserver.com").unwrap(), None);
        assert_eq!(parse_literal("::ffff:198.18.0.2").unwrap(), Some(("198.18.0.2".parse().unwrap(), 0)));
        assert!(parse_literal("fe80::1%nosuchif0").is_err());
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
