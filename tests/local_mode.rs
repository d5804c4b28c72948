//! Plain tier: local mode (`-local`, `-wport`, `-wpid`) against sockets this
//! test opens on loopback — its own PID and name must appear — plus the JSON
//! shape, the watch's change blocks, Ctrl-C and the log, and PortQry's
//! command-line rules. Linux only (the one OS with a collector so far).
#![cfg(target_os = "linux")]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portqry");

fn portqry(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).stdin(Stdio::null()).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// This process's name as the kernel reports it (`comm`, at most 15 bytes).
fn my_name() -> String {
    std::fs::read_to_string("/proc/self/comm").unwrap().trim_end().to_string()
}

/// The mapping row of `proto port` owned by `pid:name`, if printed.
fn mapping_row<'a>(out: &'a str, owner: &str, proto: &str, port: u16) -> Option<&'a str> {
    let port = port.to_string();
    out.lines().find(|l| {
        let t: Vec<&str> = l.split_whitespace().collect();
        t.len() >= 3 && t[0] == owner && t[1] == proto && t[2] == port
    })
}

#[test]
fn local_shows_this_process_tcp_and_udp_ports() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (tp, up) = (tcp.local_addr().unwrap().port(), udp.local_addr().unwrap().port());
    let (code, out, err) = portqry(&["-local"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("TCP/UDP Port Usage\n\n"), "{out}");
    let owner = format!("{}:{}", std::process::id(), my_name());
    let row =
        mapping_row(&out, &owner, "TCP", tp).unwrap_or_else(|| panic!("no TCP {tp} for {owner}:\n{out}"));
    assert!(row.contains("127.0.0.1") && row.contains("LISTENING"), "{row}");
    let row =
        mapping_row(&out, &owner, "UDP", up).unwrap_or_else(|| panic!("no UDP {up} for {owner}:\n{out}"));
    assert!(row.trim_end().ends_with(" :"), "UDP has no remote: {row}");
    // The usage table has both too, and the sections come in PortQry's order.
    assert!(out.lines().any(|l| l.starts_with(&format!("TCP {tp} "))), "{out}");
    assert!(out.lines().any(|l| l.starts_with(&format!("UDP {up} "))), "{out}");
    let usage = out.find("TCP/UDP Port Usage").unwrap();
    let maps = out.find("TCP/UDP Port to Process Mappings").unwrap();
    assert!(usage < maps);
    assert!(out.contains("Port Statistics\n\nTCP mappings: "), "{out}");
    assert!(!out.contains("Port and Module Information by Process"), "only with -v");
}

#[test]
fn local_verbose_lists_this_process_with_its_modules() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let tp = tcp.local_addr().unwrap().port();
    let (code, out, err) = portqry(&["-local", "-v"]);
    assert_eq!(code, 0, "{err}");
    let head = format!("Process ID: {} ({})\n\n", std::process::id(), my_name());
    let at = out.find(&head).unwrap_or_else(|| panic!("no block {head:?}:\n{out}"));
    let block = &out[at..];
    let block = &block[..block.find("\n======").unwrap_or(block.len())];
    assert!(
        block.contains("Process doesn't appear to be a service") || block.contains("Service Name: "),
        "{block}"
    );
    assert!(block.contains(&format!("TCP {tp} ")), "{block}");
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    assert!(block.contains("Loaded modules:\n"), "{block}");
    assert!(block.contains(&format!("{} (0x", exe.display())), "{block}");
}

#[test]
fn local_log_has_portqry_header_report_and_end_marker() {
    let dir = std::env::temp_dir().join(format!("portqry-local-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("local.txt");
    let l = log.to_string_lossy().into_owned();
    let (code, out, err) = portqry(&["-local", "-l", &l, "-y"]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("PortQry Version 2.0 Log File\n\nSystem Date: "), "{text}");
    assert!(text.contains(&format!("Command run:\n portqry -local -l {l} -y\n")), "{text}");
    assert!(text.contains("\n\nTCP/UDP Port Usage\n\n"), "{text}");
    assert!(text.ends_with("\n========= end of log file =========\n"), "{text}");
    // The screen gets the report without the log's header.
    assert!(out.starts_with("TCP/UDP Port Usage\n"), "{out}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn local_json_shape() {
    let tcp = TcpListener::bind("[::1]:0").or_else(|_| TcpListener::bind("127.0.0.1:0")).unwrap();
    let tp = tcp.local_addr().unwrap().port();
    let (code, out, err) = portqry(&["-local", "--json", "-v"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let me = std::process::id();
    let s = v["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local_port"] == tp && s["protocol"] == "tcp")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(s["pid"], me);
    assert_eq!(s["process"], my_name());
    assert_eq!(s["state"], "LISTENING");
    assert_eq!(s["local_address"], tcp.local_addr().unwrap().ip().to_string());
    for k in ["remote_address", "remote_port"] {
        assert!(s.get(k).is_some(), "{k}");
    }
    let p = v["processes"].as_array().unwrap().iter().find(|p| p["pid"] == me).unwrap();
    assert_eq!(p["name"], my_name());
    assert!(p.get("service").is_some());
    assert!(p["modules"].as_array().is_some_and(|m| !m.is_empty()), "{p}");
    assert!(p["modules"][0]["base"].as_str().unwrap().starts_with("0x"));
}

#[test]
fn docs_describe_every_local_key() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/JSON.md")).unwrap();
    let local = &doc[doc.find("## Local mode").expect("docs/JSON.md has a Local mode section")..];
    for k in [
        "date",
        "sockets",
        "processes",
        "unknown_owners",
        "watch",
        "protocol",
        "local_address",
        "local_port",
        "remote_address",
        "remote_port",
        "state",
        "pid",
        "process",
        "name",
        "service",
        "modules",
    ] {
        assert!(local.contains(&format!("| `{k}` |")), "docs/JSON.md's local mode does not document `{k}`");
    }
}

#[test]
fn local_mode_rules_exit_64_with_one_line() {
    for (args, want) in [
        (&["-wt", "5"][..], "-wt sets how often"),
        (&["-local", "-wt", "5"][..], "-wt sets how often"),
        (&["-local", "-q"][..], "-q does not work in local mode"),
        (&["-local", "-n", "127.0.0.1"][..], "take no -n"),
        (&["-wport", "53", "-wpid", "1"][..], "mutually exclusive"),
        (&["-wport", "53", "-wt", "1201"][..], "1 to 1200 seconds"),
    ] {
        let (code, out, err) = portqry(args);
        assert_eq!(code, 64, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("portqry: ") && err.contains(want), "{args:?}: {err}");
    }
}

/// Start a watch with stdout piped; lines arrive on the channel.
fn watch(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Collect lines until one satisfies `stop` (panics after `limit`).
fn until(
    rx: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    limit: Duration,
    stop: impl Fn(&[String]) -> bool,
) {
    let end = Instant::now() + limit;
    while !stop(seen) {
        let left = end
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("timed out:\n{}", seen.join("\n")));
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("timed out or closed:\n{}", seen.join("\n")),
        }
    }
}

fn sigint(child: &Child, sig: libc::c_int) {
    // SAFETY: kill with our child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

fn wait_exit(child: &mut Child, limit: Duration) -> (i32, String) {
    let end = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (st.code().unwrap_or(-1), err);
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn wport_reports_a_new_connection_then_ctrl_c_closes_the_log() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("portqry-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("watch.txt");
    let (p, l) = (port.to_string(), log.to_string_lossy().into_owned());
    let (mut child, rx) = watch(&["-wport", &p, "-wt", "1", "-l", &l, "-y"]);
    let mut seen = Vec::new();
    let dates = |s: &[String]| s.iter().filter(|l| l.starts_with("System Date: ")).count();
    // The first snapshot: the listener alone.
    until(&rx, &mut seen, Duration::from_secs(10), |s| {
        dates(s) == 1 && s.iter().any(|l| l.contains(&format!("TCP {port} ")) && l.contains("LISTENING"))
    });
    assert_eq!(seen[0], format!("Watching port: {port}"));
    assert!(seen.contains(&"Checking for changes every 1 seconds".to_string()), "{seen:?}");
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    // A new block with the accepted connection, owned by this process.
    until(&rx, &mut seen, Duration::from_secs(10), |s| {
        dates(s) == 2 && s.iter().any(|l| l.contains(&format!("TCP {port} ")) && l.contains("ESTABLISHED"))
    });
    let owner = format!("{}:{}", std::process::id(), my_name());
    let block: Vec<&String> = seen.iter().skip_while(|l| !l.starts_with("System Date: ")).skip(1).collect();
    let block = block
        .iter()
        .skip_while(|l| !l.starts_with("System Date: "))
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(mapping_row(&block, &owner, "TCP", port).is_some(), "{block}");
    assert!(block.contains("2 mappings found"), "{block}");
    // Nothing changes: no third block within two intervals.
    std::thread::sleep(Duration::from_millis(2500));
    while let Ok(l) = rx.try_recv() {
        seen.push(l);
    }
    assert_eq!(dates(&seen), 2, "no change, no block:\n{}", seen.join("\n"));
    sigint(&child, libc::SIGINT);
    let (code, err) = wait_exit(&mut child, Duration::from_secs(5));
    assert_eq!(code, 130, "{err}");
    drop((client, server));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("PortQry Version 2.0 Log File\n\nSystem Date: "), "{text}");
    assert!(text.contains(&format!("Watching port: {port}\n")), "{text}");
    assert!(text.contains(&format!("Ctrl-C pressed: stopped watching port {port}\nSystem Date: ")), "{text}");
    assert!(text.ends_with("\n========= end of log file =========\n"), "{text}");
    assert_eq!(text.matches("============\nSystem Date: ").count(), 2, "{text}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn wpid_jsonl_writes_one_object_per_snapshot_and_sigterm_ends_it() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let up = udp.local_addr().unwrap().port();
    let me = std::process::id().to_string();
    let (mut child, rx) = watch(&["-wpid", &me, "-wt", "1", "--jsonl"]);
    let mut seen = Vec::new();
    until(&rx, &mut seen, Duration::from_secs(10), |s| !s.is_empty());
    let v: Value = serde_json::from_str(&seen[0]).unwrap();
    assert_eq!(v["watch"]["pid"], std::process::id());
    assert!(v["sockets"].as_array().unwrap().iter().all(|s| s["pid"] == std::process::id()));
    assert!(v["sockets"].as_array().unwrap().iter().any(|s| s["local_port"] == up && s["protocol"] == "udp"));
    // A second socket: a second object.
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let tp = tcp.local_addr().unwrap().port();
    until(&rx, &mut seen, Duration::from_secs(10), |s| s.len() >= 2);
    let v: Value = serde_json::from_str(&seen[1]).unwrap();
    assert!(
        v["sockets"].as_array().unwrap().iter().any(|s| s["local_port"] == tp && s["state"] == "LISTENING")
    );
    sigint(&child, libc::SIGTERM);
    let (code, err) = wait_exit(&mut child, Duration::from_secs(5));
    assert_eq!(code, 143, "{err}");
}

#[test]
fn time_wait_sockets_are_orphans_of_pid_0() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let cport = client.local_addr().unwrap().port();
    let (server, _) = listener.accept().unwrap();
    // The side that closes first ends in TIME WAIT, held by no process.
    drop(client);
    std::thread::sleep(Duration::from_millis(50));
    drop(server);
    std::thread::sleep(Duration::from_millis(100));
    let (code, out, err) = portqry(&["-local"]);
    assert_eq!(code, 0, "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("0:no process ") && l.contains(&format!("TCP {cport} ")))
        .unwrap_or_else(|| panic!("no orphan row for {cport}:\n{out}"));
    assert!(row.contains("TIME WAIT") && row.contains(&format!("127.0.0.1:{port}")), "{row}");
    let (_, out, _) = portqry(&["-local", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let s = v["sockets"].as_array().unwrap().iter().find(|s| s["local_port"] == cport).unwrap();
    assert_eq!(
        (&s["pid"], &s["process"], &s["state"]),
        (&Value::from(0), &Value::Null, &Value::from("TIME WAIT"))
    );
}

/// At a terminal, Esc stops a watch as in PortQry: its closing line, a last
/// System Date, exit 0, and the terminal's settings given back.
#[test]
fn escape_key_stops_a_watch() {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two descriptors, each owned exactly once below.
    let rc = unsafe {
        libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null())
    };
    assert_eq!(rc, 0);
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // SAFETY: a zeroed termios filled by tcgetattr on our own pty.
    let before = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(slave.as_raw_fd(), &mut t), 0);
        t.c_lflag
    };
    let mut c = Command::new(BIN)
        .args(["-wport", &port, "-wt", "1"])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()))
        .spawn()
        .unwrap();
    let mut tty = std::fs::File::from(master);
    let mut seen = Vec::new();
    let started = Instant::now();
    while !String::from_utf8_lossy(&seen).contains("System Date:") {
        assert!(started.elapsed() < Duration::from_secs(10), "{}", String::from_utf8_lossy(&seen));
        let mut b = [0u8; 512];
        let n = tty.read(&mut b).unwrap();
        seen.extend_from_slice(&b[..n]);
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    tty.write_all(b"\x1b").unwrap();
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        assert!(sent.elapsed() < Duration::from_secs(5), "Esc did not stop the watch");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(sent.elapsed() < Duration::from_secs(1), "took {:?}", sent.elapsed());
    assert_eq!(status.code(), Some(0));
    let mut rest = [0u8; 4096];
    let n = tty.read(&mut rest).unwrap_or(0);
    seen.extend_from_slice(&rest[..n]);
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains(&format!("escape key pressed: stopped watching port {port}")), "{text}");
    // SAFETY: as above.
    let after = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(slave.as_raw_fd(), &mut t), 0);
        t.c_lflag
    };
    assert_eq!(after, before, "the terminal's line mode was not restored");
    drop(listener);
}
