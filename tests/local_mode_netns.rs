//! Root tier: local mode in a network namespace of its own, with a real
//! daemon from Debian (dnsmasq): every listening TCP/UDP socket `ss -tulpn`
//! reports there, with its PID, appears in `portqry -local` (text and JSON).
#![cfg(target_os = "linux")]

#[path = "support/lab.rs"]
mod lab;

use lab::{must, require_root, sh};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Ns {
    name: String,
    daemon: Option<Child>,
}

impl Drop for Ns {
    fn drop(&mut self) {
        if let Some(c) = &mut self.daemon {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = sh(&["ip", "netns", "del", &self.name]);
    }
}

/// `(protocol, port, pid)` of every socket `ss -H -tulpn` lists in the namespace.
fn ss_listening(ns: &str) -> Vec<(String, u16, u32)> {
    let o = sh(&["ip", "netns", "exec", ns, "ss", "-H", "-tulpn"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut v = Vec::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        let port: u16 = t[4].rsplit(':').next().unwrap().parse().unwrap();
        for part in line.split("pid=").skip(1) {
            let pid: u32 = part.split(',').next().unwrap().parse().unwrap();
            v.push((t[0].to_uppercase(), port, pid));
        }
    }
    v
}

#[test]
#[ignore = "root: creates a network namespace and starts dnsmasq in it"]
fn local_lists_every_socket_ss_lists_in_a_namespace() {
    require_root();
    let mut ns = Ns { name: format!("pql-{}", std::process::id()), daemon: None };
    must(&["ip", "netns", "add", &ns.name]);
    must(&["ip", "netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"]);
    ns.daemon = Some(
        Command::new("ip")
            .args(["netns", "exec", &ns.name, "dnsmasq", "--no-daemon", "--port=5353"])
            .args([
                "--listen-address=127.0.0.1",
                "--listen-address=::1",
                "--bind-interfaces",
                "--conf-file=/dev/null",
            ])
            .args(["--no-resolv", "--no-hosts", "--pid-file=", "--user=root"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq (Debian package dnsmasq) must be installed"),
    );
    let end = Instant::now() + Duration::from_secs(10);
    let listening = loop {
        let l = ss_listening(&ns.name);
        if l.iter().any(|(p, port, _)| p == "TCP" && *port == 5353) && l.iter().any(|(p, _, _)| p == "UDP") {
            break l;
        }
        assert!(Instant::now() < end, "dnsmasq did not start listening: {l:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let o = sh(&["ip", "netns", "exec", &ns.name, env!("CARGO_BIN_EXE_portqry"), "-local"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    for (proto, port, pid) in &listening {
        let found = out.lines().any(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            t.len() >= 3
                && t[0].split(':').next() == Some(pid.to_string().as_str())
                && t[1] == proto
                && t[2] == port.to_string()
        });
        assert!(found, "ss lists {proto} {port} of PID {pid}; portqry -local does not:\n{out}");
    }
    assert!(out.contains(":dnsmasq "), "{out}");
    assert!(listening.len() >= 4, "IPv4 and IPv6, TCP and UDP: {listening:?}");
    assert!(out.lines().any(|l| l.starts_with("TCP 5353   ::1 ")), "IPv6 rows:\n{out}");
    assert!(!out.contains("\n?  "), "root maps every owner:\n{out}");
    // Nothing of the host's namespace leaks in: only dnsmasq's sockets.
    assert!(out.contains(&format!("{} active ports found", listening.len())), "{listening:?}\n{out}");
    let o = sh(&["ip", "netns", "exec", &ns.name, env!("CARGO_BIN_EXE_portqry"), "-local", "--json", "-v"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    for (proto, port, pid) in &listening {
        assert!(
            v["sockets"].as_array().unwrap().iter().any(|s| s["protocol"] == proto.to_lowercase()
                && s["local_port"] == *port
                && s["pid"] == *pid
                && s["process"] == "dnsmasq"),
            "{proto} {port} {pid}: {v}"
        );
    }
    let p = v["processes"].as_array().unwrap().iter().find(|p| p["name"] == "dnsmasq").unwrap();
    assert!(
        p["modules"].as_array().unwrap().iter().any(|m| m["path"].as_str().unwrap().ends_with("/dnsmasq")),
        "{p}"
    );
}

#[test]
#[ignore = "root: runs portqry as user nobody against a socket root owns"]
fn without_root_other_users_sockets_are_marked_and_explained_once() {
    use std::os::unix::process::CommandExt;
    require_root();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    // A copy nobody can run whatever the checkout's permissions (a clone in
    // a 0700 temporary folder is not reachable by other users).
    let dir = std::env::temp_dir().join(format!("portqry-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("portqry");
    std::fs::copy(env!("CARGO_BIN_EXE_portqry"), &bin).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = |args: &[&str]| {
        let o = Command::new(&bin)
            .args(args)
            .uid(65534)
            .gid(65534)
            .stdin(Stdio::null())
            .output()
            .expect("run the copy of portqry as nobody");
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let out = run(&["-local"]);
    let row = out
        .lines()
        .find(|l| l.starts_with("? ") && l.contains(&format!("TCP {port} ")))
        .unwrap_or_else(|| panic!("root's TCP {port} is not marked ?:\n{out}"));
    assert!(row.contains("LISTENING"), "{row}");
    let notes: Vec<&str> = out.lines().filter(|l| l.starts_with("Note: ")).collect();
    assert_eq!(notes.len(), 1, "{out}");
    assert!(notes[0].contains("run portqry as root (or with CAP_SYS_PTRACE)"), "{}", notes[0]);
    // Still listed in the usage table, with what can be known.
    assert!(out.lines().any(|l| l.starts_with(&format!("TCP {port} "))), "{out}");
    let v: Value = serde_json::from_str(&run(&["-local", "--json"])).unwrap();
    let s = v["sockets"].as_array().unwrap().iter().find(|s| s["local_port"] == port).unwrap();
    assert_eq!((&s["pid"], &s["process"]), (&Value::Null, &Value::Null));
    assert!(v["unknown_owners"].as_u64().unwrap() >= 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `-wport` on the target of a lab: a connection opened from another
/// namespace (the client) while watching appears in a new block with the
/// client's address, and Ctrl-C ends the watch with a complete log.
#[test]
#[ignore = "root: creates network namespaces"]
fn wport_shows_a_connection_from_another_namespace() {
    let mut lab = lab::Lab::new();
    lab.responder(&[(lab::TARGET4, 7400)]);
    let dir = std::env::temp_dir().join(format!("portqry-wport-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("watch.log");
    let mut watch = Command::new("ip")
        .args(["netns", "exec", &lab.target, env!("CARGO_BIN_EXE_portqry"), "-wport", "7400", "-wt", "1"])
        .args(["-l", log.to_str().unwrap(), "-y"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // A client in another namespace connects and holds the connection.
    let mut client = Command::new("ip")
        .args(["netns", "exec", &lab.client, "python3", "-c"])
        .arg(format!(
            "import socket,time; s=socket.create_connection(('{}',7400)); print('up',flush=True); time.sleep(5)",
            lab::TARGET4
        ))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(client.stdout.take().unwrap()), &mut up)
        .unwrap();
    assert_eq!(up.trim(), "up");
    let started = Instant::now();
    let mut seen = false;
    while started.elapsed() < Duration::from_secs(6) && !seen {
        std::thread::sleep(Duration::from_millis(200));
        seen = std::fs::read_to_string(&log).unwrap_or_default().contains(lab::CLIENT4);
    }
    // SAFETY: kill(2) on our own child (the ip process execs portqry in place).
    unsafe { libc::kill(watch.id() as libc::pid_t, libc::SIGINT) };
    let status = watch.wait().unwrap();
    let _ = client.kill();
    let _ = client.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(seen, "the client's connection never appeared:\n{logged}");
    assert_eq!(status.code(), Some(130), "{logged}");
    assert!(logged.matches("System Date:").count() >= 3, "{logged}");
    assert!(logged.trim_end().ends_with("========= end of log file ========="), "{logged}");
    std::fs::remove_dir_all(&dir).unwrap();
}
