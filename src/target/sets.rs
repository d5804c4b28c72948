//! PortQryUI's predefined services as named sets of ports (`--set NAME`).
//!
//! One table, [`SETS`]: each set lists its ports in PortQryUI's query order,
//! each with its own transport. Where each list comes from is in
//! docs/SETS.md.

use crate::error::{Error, clip};
use crate::probe::Transport;

const T: Transport = Transport::Tcp;
const U: Transport = Transport::Udp;

/// A named set of ports, each with the transport it is queried on.
#[derive(Debug)]
pub struct ServiceSet {
    /// PortQryUI's name.
    pub name: &'static str,
    /// Other names accepted by `--set` (compared normalised).
    pub aliases: &'static [&'static str],
    /// Ports in query order; a port on both transports appears twice, TCP first.
    pub entries: &'static [(Transport, u16)],
}

/// PortQryUI's eight predefined services, in its drop-down's order.
pub static SETS: &[ServiceSet] = &[
    ServiceSet {
        name: "Domains and Trusts",
        aliases: &["ad", "active directory"],
        entries: &[
            (T, 135),
            (T, 389),
            (U, 389),
            (T, 636),
            (T, 3268),
            (T, 3269),
            (T, 53),
            (U, 53),
            (T, 88),
            (U, 88),
            (T, 445),
            (U, 137),
            (U, 138),
            (T, 139),
            (T, 42),
            (T, 464),
            (U, 464),
            (U, 123),
            (T, 9389),
        ],
    },
    ServiceSet { name: "DNS Queries", aliases: &["dns"], entries: &[(T, 53), (U, 53)] },
    ServiceSet {
        name: "NetBIOS communication",
        aliases: &["netbios"],
        entries: &[(U, 137), (U, 138), (T, 139)],
    },
    ServiceSet { name: "IPSEC", aliases: &[], entries: &[(U, 500), (U, 4500)] },
    ServiceSet { name: "SQL Service", aliases: &["sql"], entries: &[(T, 1433), (U, 1434)] },
    ServiceSet { name: "WEB Service", aliases: &["web"], entries: &[(T, 80), (T, 443)] },
    ServiceSet {
        name: "Exchange Server",
        aliases: &["exchange", "mail"],
        entries: &[(T, 25), (T, 110), (T, 135), (T, 143), (T, 443)],
    },
    ServiceSet {
        name: "Netmeeting and other services",
        aliases: &["netmeeting"],
        entries: &[(T, 389), (T, 522), (T, 1503), (T, 1720), (T, 1731)],
    },
];

/// A set name as compared: lower case, dashes and underscores as spaces,
/// runs of spaces as one.
pub fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['-', '_'], " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The set called `name` (case-insensitive, spaces or dashes).
pub fn find(name: &str) -> Result<&'static ServiceSet, Error> {
    let wanted = normalize(name);
    SETS.iter()
        .find(|s| normalize(s.name) == wanted || s.aliases.iter().any(|a| normalize(a) == wanted))
        .ok_or_else(|| {
            Error::Usage(format!(
                "'{}' is not a service set: give one of {} (portqry --set list shows their ports)",
                clip(name),
                SETS.iter().map(|s| format!("\"{}\"", s.name)).collect::<Vec<_>>().join(", ")
            ))
        })
}

impl ServiceSet {
    /// The ports as people write them: `TCP 135, TCP+UDP 389, UDP 137`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            let (t, p) = self.entries[i];
            if self.entries.get(i + 1).is_some_and(|&(t2, p2)| p2 == p && t2 != t) {
                parts.push(format!("TCP+UDP {p}"));
                i += 2;
            } else {
                parts.push(format!("{t} {p}"));
                i += 1;
            }
        }
        parts.join(", ")
    }

    /// The distinct ports, in order.
    pub fn ports(&self) -> Vec<u16> {
        let mut v: Vec<u16> = Vec::new();
        for &(_, p) in self.entries {
            if !v.contains(&p) {
                v.push(p);
            }
        }
        v
    }
}

/// `--set list`: every set with its ports, one a line.
pub fn list_text() -> String {
    let mut s = String::from(
        "Service sets (portqry -n HOST --set NAME; names are case-insensitive, spaces or dashes):\n\n",
    );
    for set in SETS {
        s.push_str(&format!("{}: {}\n", set.name, set.describe()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_is_found_by_its_name_and_aliases() {
        for set in SETS {
            assert!(!set.entries.is_empty(), "{}", set.name);
            assert!(std::ptr::eq(find(set.name).unwrap(), set));
            assert!(std::ptr::eq(find(&set.name.to_uppercase().replace(' ', "-")).unwrap(), set));
            for a in set.aliases {
                assert!(std::ptr::eq(find(a).unwrap(), set), "{a}");
            }
            // No entry twice; a port on both transports is listed TCP then UDP, adjacent.
            for (i, e) in set.entries.iter().enumerate() {
                assert!(!set.entries[..i].contains(e), "{}: {e:?} twice", set.name);
                assert!(e.1 != 0);
            }
        }
        // Names and aliases are unique once normalised.
        let mut all: Vec<String> = SETS
            .iter()
            .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
            .map(normalize)
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn names_normalise() {
        assert_eq!(normalize("  Domains--and_Trusts "), "domains and trusts");
        assert_eq!(find("domains-and-trusts").unwrap().name, "Domains and Trusts");
        assert_eq!(find("SQL service").unwrap().name, "SQL Service");
        assert_eq!(find("netmeeting").unwrap().name, "Netmeeting and other services");
        let e = find("bogus").unwrap_err();
        assert_eq!(e.exit_code(), 64);
        assert!(
            e.to_string().starts_with("'bogus' is not a service set: give one of \"Domains and Trusts\"")
        );
    }

    #[test]
    fn reference_port_lists() {
        assert_eq!(find("sql").unwrap().entries, &[(T, 1433), (U, 1434)]);
        assert_eq!(
            find("Domains and Trusts").unwrap().describe(),
            "TCP 135, TCP+UDP 389, TCP 636, TCP 3268, TCP 3269, TCP+UDP 53, TCP+UDP 88, TCP 445, UDP 137, UDP 138, TCP 139, TCP 42, TCP+UDP 464, UDP 123, TCP 9389"
        );
        assert_eq!(find("dns").unwrap().ports(), vec![53]);
    }
}
