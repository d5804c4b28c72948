//! Interactive mode at a real terminal: tmux runs `portqry -i` in a 200×50
//! pane; the test types with `send-keys` and reads the screen with
//! `capture-pane`, every wait a bounded poll. Against slapd in its namespace
//! (tests/servers/ensure.sh ldap), with a DROP rule there for the filtered
//! port: banner, prompt, a query, history (Up recalls), Ctrl-C during a
//! query that waits on the DROP-filtered port (the prompt comes back), then
//! Ctrl-C at the prompt (exit 130).
#![cfg(target_os = "linux")] // namespaces, iptables, tmux

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portqry");

fn root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the tmux test needs root (namespaces): run it through .ci/run"
    );
}

fn run(cmd: &[&str]) -> (bool, String) {
    let o = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (tests/servers/install.sh installs tmux)"));
    (
        o.status.success(),
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
    )
}

fn ensure(service: &str) -> String {
    root();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/ensure.sh");
    let (ok, out) = run(&["bash", script, service]);
    assert!(ok, "ensure.sh {service}: {out}");
    out.lines().next().unwrap_or_default().trim().to_string()
}

/// An iptables rule in a namespace, deleted again on drop.
struct Rule {
    ns: &'static str,
    spec: Vec<&'static str>,
}

impl Rule {
    fn add(ns: &'static str, spec: &[&'static str]) -> Rule {
        let (ok, out) = run(&[&["ip", "netns", "exec", ns, "iptables", "-I"][..], spec].concat());
        assert!(ok, "iptables: {out}");
        Rule { ns, spec: spec.to_vec() }
    }
}

impl Drop for Rule {
    fn drop(&mut self) {
        let _ = run(&[&["ip", "netns", "exec", self.ns, "iptables", "-D"][..], &self.spec].concat());
    }
}

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        let socket = format!("portqry-test-{}", std::process::id());
        let t = Tmux { socket };
        let (ok, out) = t.tmux(&["new-session", "-d", "-x", "200", "-y", "50", "-s", "pq", command]);
        assert!(ok, "tmux new-session: {out}");
        t
    }

    fn tmux(&self, args: &[&str]) -> (bool, String) {
        run(&[&["tmux", "-L", &self.socket][..], args].concat())
    }

    /// Type keys (tmux key names: Enter, Up, C-c) or text.
    fn keys(&self, keys: &[&str]) {
        let (ok, out) = self.tmux(&[&["send-keys", "-t", "pq"][..], keys].concat());
        assert!(ok, "send-keys {keys:?}: {out}");
    }

    /// The whole pane, scroll-back included, wrapped lines joined.
    fn screen(&self) -> String {
        let (ok, out) = self.tmux(&["capture-pane", "-p", "-J", "-t", "pq", "-S", "-"]);
        assert!(ok, "capture-pane: {out}");
        out
    }

    /// Poll the screen (every 50 ms, `secs` at most) until `pred` holds.
    fn wait(&self, secs: u64, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "waited {secs} s for {what}; the screen:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The last line with something on it.
fn last_line(screen: &str) -> &str {
    screen.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim_end()
}

#[test]
#[ignore = "root: slapd in a namespace with an iptables DROP rule; tmux (tests/servers/install.sh)"]
fn terminal_session_with_history_and_ctrl_c() {
    let ip = ensure("ldap");
    // TCP 9 in pq-ldap: SYNs dropped, so the query waits its full deadline.
    let _drop = Rule::add("pq-ldap", &["INPUT", "-p", "tcp", "--dport", "9", "-j", "DROP"]);
    let log = std::env::temp_dir().join(format!("portqry-tmux-{}.log", std::process::id()));
    let log_s = log.to_str().unwrap();
    // 10 s per try, 3 tries: 30 s unless Ctrl-C ends it.
    let cmd = format!(
        "bash -c '{BIN} -i -n {ip} -nr --timeout 10000 -l {log_s} -y; echo \"portqry exit code $?\"; sleep 600'"
    );
    let t = Tmux::start(&cmd);

    // The banner and the prompt.
    let s = t.wait(10, "the banner", |s| last_line(s) == ">");
    let banner = format!(
        "Portqry Interactive Mode\n\nType 'help' for a list of commands\n\nDefault Node: {ip}\n\nCurrent option values:\n   end port= 80\n   protocol= TCP\n   source port= 0 (ephemeral)\n>"
    );
    assert!(s.starts_with(&banner), "{s}");

    // A query: slapd's rootDSE on TCP 389.
    t.keys(&["set e=389", "Enter"]);
    t.wait(10, "set e=389", |s| s.contains("> set e=389\n   end port= 389\n"));
    t.keys(&["q", "Enter"]);
    let listening = "TCP port 389 (ldap service): LISTENING";
    let s = t.wait(20, "the LDAP query", |s| s.contains("End of LDAP query response") && last_line(s) == ">");
    assert!(
        s.contains(&format!("> q\nQuerying target system called:\n\n {ip}\n\nquerying...\n\n{listening}\n")),
        "{s}"
    );
    assert!(s.contains("namingContexts: dc=portqry,dc=test"), "{s}");

    // History: Up recalls q, Up again set e=389, Down q again; Enter runs it.
    t.keys(&["Up"]);
    t.wait(5, "Up recalling q", |s| last_line(s) == "> q");
    t.keys(&["Up"]);
    t.wait(5, "Up recalling set e=389", |s| last_line(s) == "> set e=389");
    t.keys(&["Down"]);
    t.wait(5, "Down back to q", |s| last_line(s) == "> q");
    t.keys(&["Enter"]);
    t.wait(20, "the recalled query", |s| s.matches(listening).count() == 2 && last_line(s) == ">");

    // Ctrl-C during a query that waits on the DROP-filtered port.
    t.keys(&["set e=9", "Enter"]);
    t.wait(10, "set e=9", |s| s.contains("   end port= 9\n"));
    t.keys(&["q", "Enter"]);
    t.wait(10, "the filtered query", |s| s.matches("querying...").count() == 3);
    std::thread::sleep(Duration::from_millis(500));
    let pressed = Instant::now();
    t.keys(&["C-c"]);
    let s = t.wait(5, "the prompt after Ctrl-C", |s| {
        s.contains("portqry: interrupted: the results above were decided, the rest were not")
            && last_line(s) == ">"
    });
    assert!(pressed.elapsed() < Duration::from_secs(3), "Ctrl-C took {:?}", pressed.elapsed());
    assert!(!s.contains("TCP port 9 ("), "the cancelled query printed a verdict:\n{s}");
    assert!(!s.contains("portqry exit code"), "the session ended:\n{s}");

    // Still a session: the settings are as they were.
    t.keys(&["set all", "Enter"]);
    t.wait(10, "set all", |s| s.contains("   slow link delay= off\n") && last_line(s) == ">");

    // Ctrl-C at the prompt ends the session: 130.
    t.keys(&["C-c"]);
    let s = t.wait(5, "the exit", |s| s.contains("portqry exit code"));
    assert!(s.contains("portqry exit code 130"), "{s}");

    // The log has the session as typed: each prompt with its command.
    let text = std::fs::read_to_string(&log).unwrap();
    for want in [
        "\n> set e=389\n   end port= 389\n",
        "\n> q\nQuerying target system called:",
        "\n> set e=9\n   end port= 9\n",
        "\n> set all\nCurrent option values:\n",
        "\n> ^C\n\n========= end of log file =========\n",
    ] {
        assert!(text.contains(want), "log lacks {want:?}:\n{text}");
    }
    assert_eq!(text.matches(listening).count(), 2, "{text}");
    std::fs::remove_file(&log).unwrap();
}
