//! A three-namespace lab for the root-only tests: client ⇄ router ⇄ target,
//! on 198.18.0.0/15 and 2001:2::/48 (the benchmarking ranges), created and
//! removed by the test itself. Only addresses inside these namespaces are used.
#![allow(dead_code)]

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub const CLIENT4: &str = "198.18.0.1";
pub const ROUTER4_C: &str = "198.18.0.254";
pub const ROUTER4_T: &str = "198.18.1.254";
pub const TARGET4: &str = "198.18.1.2";
pub const CLIENT6: &str = "2001:2::1";
pub const ROUTER6_C: &str = "2001:2::fe";
pub const ROUTER6_T: &str = "2001:2:0:1::fe";
pub const TARGET6: &str = "2001:2:0:1::2";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Fail loudly (never skip) when the root tier runs without root.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(
        uid, 0,
        "the namespace tests need root: run them through .ci/run (or sudo cargo test -- --include-ignored)"
    );
}

pub fn sh(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Run a command and panic with its stderr if it fails.
pub fn must(args: &[&str]) {
    let out = sh(args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

pub struct Lab {
    pub client: String,
    pub router: String,
    pub target: String,
    children: Vec<Child>,
}

impl Lab {
    /// Build the topology. Each lab has unique namespace names, so tests run in parallel.
    pub fn new() -> Lab {
        require_root();
        let id = format!("{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let lab = Lab {
            client: format!("pqc-{id}"),
            router: format!("pqr-{id}"),
            target: format!("pqt-{id}"),
            children: Vec::new(),
        };
        for ns in [&lab.client, &lab.router, &lab.target] {
            must(&["ip", "netns", "add", ns]);
            lab.exec_ok(ns, &["ip", "link", "set", "lo", "up"]);
        }
        // veth names are global while unattached: keep them short and unique.
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let (c0, r0, r1, t0) = (
            format!("pc{}{n}", std::process::id() % 10000),
            format!("pr{}{n}", std::process::id() % 10000),
            format!("ps{}{n}", std::process::id() % 10000),
            format!("pt{}{n}", std::process::id() % 10000),
        );
        must(&[
            "ip",
            "link",
            "add",
            &c0,
            "netns",
            &lab.client,
            "type",
            "veth",
            "peer",
            "name",
            &r0,
            "netns",
            &lab.router,
        ]);
        must(&[
            "ip",
            "link",
            "add",
            &r1,
            "netns",
            &lab.router,
            "type",
            "veth",
            "peer",
            "name",
            &t0,
            "netns",
            &lab.target,
        ]);
        let cfg: &[(&str, &str, &str, &str)] = &[
            (&lab.client, &c0, "198.18.0.1/24", "2001:2::1/64"),
            (&lab.router, &r0, "198.18.0.254/24", "2001:2::fe/64"),
            (&lab.router, &r1, "198.18.1.254/24", "2001:2:0:1::fe/64"),
            (&lab.target, &t0, "198.18.1.2/24", "2001:2:0:1::2/64"),
        ];
        for (ns, dev, v4, v6) in cfg {
            lab.exec_ok(ns, &["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
            lab.exec_ok(ns, &["sysctl", "-qw", &format!("net.ipv6.conf.{dev}.accept_dad=0")]);
            lab.exec_ok(ns, &["ip", "addr", "add", v4, "dev", dev]);
            lab.exec_ok(ns, &["ip", "-6", "addr", "add", v6, "dev", dev, "nodad"]);
            lab.exec_ok(ns, &["ip", "link", "set", dev, "up"]);
        }
        lab.exec_ok(&lab.client, &["ip", "route", "add", "default", "via", ROUTER4_C]);
        lab.exec_ok(&lab.client, &["ip", "-6", "route", "add", "default", "via", ROUTER6_C]);
        lab.exec_ok(&lab.target, &["ip", "route", "add", "default", "via", ROUTER4_T]);
        lab.exec_ok(&lab.target, &["ip", "-6", "route", "add", "default", "via", ROUTER6_T]);
        lab.exec_ok(&lab.router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        lab.exec_ok(&lab.router, &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
        // Deterministic ICMP: no rate limit in the lab (rate limiting has its own tests).
        for ns in [&lab.router, &lab.target] {
            lab.exec_ok(ns, &["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"]);
            lab.exec_ok(ns, &["sysctl", "-qw", "net.ipv6.icmp.ratelimit=0"]);
        }
        lab
    }

    pub fn exec(&self, ns: &str, args: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        sh(&full)
    }

    pub fn exec_ok(&self, ns: &str, args: &[&str]) {
        let out = self.exec(ns, args);
        assert!(out.status.success(), "{ns}: {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Start the TCP-accept/UDP-echo responder in the target on these ports.
    pub fn responder(&mut self, binds: &[(&str, u16)]) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/responder.py");
        let mut args: Vec<String> =
            vec!["netns".into(), "exec".into(), self.target.clone(), "python3".into(), script.into()];
        for (a, p) in binds {
            args.push(a.to_string());
            args.push(p.to_string());
        }
        let mut child =
            Command::new("ip").args(&args).stdout(Stdio::piped()).spawn().expect("start responder");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "responder did not start");
        self.children.push(child);
        // A fresh lab resolves neighbours (IPv6 ND in particular) on the first
        // packets, which can swallow them; wait until each address answers.
        for (addr, port) in binds {
            let port = port.to_string();
            let ready = (0..20).any(|_| {
                self.portqry(&[
                    "-n",
                    addr,
                    "-nr",
                    "-e",
                    &port,
                    "-p",
                    "udp",
                    "--timeout",
                    "300",
                    "--tries",
                    "1",
                    "-q",
                ])
                .0 == 0
            });
            assert!(ready, "responder on [{addr}]:{port} never answered from the client namespace");
        }
    }

    /// Add an iptables (v4) or ip6tables (v6) rule in a namespace.
    pub fn rule(&self, ns: &str, v6: bool, rule: &str) {
        let tool = if v6 { "ip6tables" } else { "iptables" };
        let mut args = vec![tool];
        args.extend(rule.split_whitespace());
        self.exec_ok(ns, &args);
    }

    /// Run portqry in the client namespace.
    pub fn portqry(&self, args: &[&str]) -> (i32, String, String) {
        let mut full = vec!["ip", "netns", "exec", &self.client, env!("CARGO_BIN_EXE_portqry")];
        full.extend_from_slice(args);
        let out = sh(&full);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.client, &self.router, &self.target] {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
    }
}
