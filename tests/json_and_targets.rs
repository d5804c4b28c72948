//! Plain tier: JSON output shape for every state, several targets, CIDR
//! blocks, target files and stdin, and their errors. Loopback only.

use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};

#[path = "support/spawn.rs"]
mod spawn;

fn portqry(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = spawn::spawn(
        Command::new(env!("CARGO_BIN_EXE_portqry"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[path = "support/json_shape.rs"]
mod json_shape;
use json_shape::{RESULT_KEYS, check_result};

#[test]
fn docs_describe_every_key() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/JSON.md")).unwrap();
    for k in RESULT_KEYS {
        assert!(doc.contains(&format!("| `{k}` |")), "docs/JSON.md does not document `{k}`");
    }
}

#[test]
fn jsonl_one_object_per_result_for_each_state() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().port();
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let uport = u.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut b = [0u8; 64];
        for _ in 0..10 {
            let Ok((_, p)) = u.recv_from(&mut b) else { return };
            let _ = u.send_to(b"hi", p);
        }
    });
    let closed = free_port();
    // Bound but never answering: LISTENING or FILTERED.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sport = silent.local_addr().unwrap().port();
    let list = format!("{open},{closed},{uport},{sport}");
    let (code, out, err) =
        portqry(&["-n", "127.0.0.1", "-nr", "-o", &list, "-p", "both", "--jsonl", "--timeout", "300"], "");
    assert_eq!(code, 2, "the silent UDP port makes it 2: {out}{err}");
    assert_eq!(err, "");
    let lines: Vec<Value> =
        out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(lines.len(), 8, "{out}");
    for v in &lines {
        check_result(v);
    }
    let find =
        |port: u16, proto: &str| lines.iter().find(|v| v["port"] == port && v["protocol"] == proto).unwrap();
    assert_eq!(find(open, "tcp")["state"], "listening");
    assert_eq!(find(open, "tcp")["evidence"]["kind"], "connected");
    assert_eq!(find(closed, "tcp")["state"], "not_listening");
    assert_eq!(find(closed, "tcp")["evidence"]["kind"], "reset");
    let cu = find(closed, "udp");
    assert_eq!(cu["state"], "not_listening");
    #[cfg(target_os = "linux")]
    {
        assert_eq!(cu["icmp"]["type"], 3);
        assert_eq!(cu["icmp"]["code"], 3);
        assert_eq!(cu["icmp"]["offender"], "127.0.0.1");
        assert_eq!(cu["icmp"]["from_target"], true);
    }
    assert_eq!(find(uport, "udp")["state"], "listening");
    assert_eq!(find(uport, "udp")["evidence"]["bytes"], 2);
    let lof = find(sport, "udp");
    assert_eq!(lof["state"], "listening_or_filtered");
    assert_eq!(lof["evidence"]["kind"], "silence");
    assert!(lof["rtt_ms"].is_null());
    // Order is PortQry's: each port's TCP then UDP, ports as listed.
    let order: Vec<(u64, String)> = lines
        .iter()
        .map(|v| (v["port"].as_u64().unwrap(), v["protocol"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(order[0], (open as u64, "tcp".into()));
    assert_eq!(order[1], (open as u64, "udp".into()));
    assert_eq!(order[5], (uport as u64, "udp".into()));
    drop(silent);
}

#[test]
fn json_document_groups_by_target_and_reports_errors() {
    let closed = free_port().to_string();
    let (code, out, err) =
        portqry(&["-n", "127.0.0.1", "-n", "no-such-host.invalid", "-e", &closed, "--json", "-nr"], "");
    assert_eq!(code, 68, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no-such-host.invalid"));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["portqry"], env!("CARGO_PKG_VERSION"));
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["address"], "127.0.0.1");
    assert!(targets[0]["error"].is_null());
    check_result(&targets[0]["results"][0]);
    assert_eq!(targets[1]["target"], "no-such-host.invalid");
    assert!(targets[1]["address"].is_null());
    assert!(targets[1]["error"].as_str().unwrap().contains("cannot resolve"));
    assert_eq!(targets[1]["results"].as_array().unwrap().len(), 0);
}

#[test]
fn several_targets_in_text_cidr_files_and_stdin() {
    let closed = free_port().to_string();
    let groups = |out: &str| out.matches("Querying target system called:").count();
    // Repeated -n and comma lists.
    let (code, out, _) = portqry(&["-n", "127.0.0.1", "-n", "127.0.0.2,127.0.0.3", "-e", &closed, "-nr"], "");
    assert_eq!((code, groups(&out)), (1, 3), "{out}");
    for a in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
        assert!(out.contains(&format!("\n {a}\n")), "{out}");
    }
    // A CIDR block: every address in it.
    let (code, out, _) = portqry(&["-n", "127.0.0.4/30", "-e", &closed, "-nr"], "");
    assert_eq!((code, groups(&out)), (1, 4), "{out}");
    assert!(out.contains("\n 127.0.0.7\n"), "{out}");
    // A file and stdin.
    let dir = std::env::temp_dir().join(format!("portqry-tf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("targets");
    std::fs::write(&f, "# lab\n127.0.0.1\n127.0.0.2 # second\n").unwrap();
    let (code, out, _) = portqry(&["-n", &format!("@{}", f.display()), "-e", &closed, "-nr"], "");
    assert_eq!((code, groups(&out)), (1, 2), "{out}");
    let (code, out, _) = portqry(&["-n", "-", "-e", &closed, "-nr"], "127.0.0.5\n127.0.0.6\n");
    assert_eq!((code, groups(&out)), (1, 2), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_target_input_is_one_line_exit_64() {
    for args in [
        vec!["-n", "198.18.0.0/16", "-e", "80"],
        vec!["-n", "198.18.0.0/40", "-e", "80"],
        vec!["-n", "@/nonexistent/list", "-e", "80"],
        vec!["-n", "127.0.0.1", "--json", "--jsonl"],
        vec!["-n", "127.0.0.1", "--concurrency", "0"],
        vec!["-n", "fe80::1%nosuchif9", "-e", "80"],
    ] {
        let (code, out, err) = portqry(&args, "");
        assert_eq!(code, 64, "{args:?}: {out}{err}");
        assert_eq!(out, "", "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    let (_, _, err) = portqry(&["-n", "198.18.0.0/16", "-e", "80"], "");
    assert!(err.contains("--max-hosts"), "{err}");
}

#[test]
fn bracketed_ipv6_literal() {
    let l = TcpListener::bind("[::1]:0").unwrap();
    let p = l.local_addr().unwrap().port().to_string();
    let (code, out, err) = portqry(&["-n", "[::1]", "-e", &p, "-nr"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("TCP port {p} (")) && out.contains("): LISTENING"), "{out}");
}

/// The `--json` document is streamed result by result, yet it is exactly the
/// pretty-printed document (keys in order, two-space indent): several
/// targets, one that does not resolve, empty and full result lists.
#[test]
fn streamed_document_is_the_pretty_document() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let (_, out, _) = portqry(
        &[
            "-n",
            "127.0.0.1,nosuchname.invalid,127.0.0.1",
            "-nr",
            "-o",
            &format!("{closed},{closed}"),
            "--json",
        ],
        "",
    );
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(doc["targets"].as_array().unwrap().len(), 3, "{out}");
    // serde_json's parser does not round-trip every float's last digit
    // (0.022704000000000002 reads back as 0.022704): compare the layout with
    // the measured times masked.
    let masked = |text: &str| -> String {
        text.lines()
            .map(|l| match l.find("\"rtt_ms\": ") {
                Some(at) => format!("{}\"rtt_ms\": X", &l[..at]),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let pretty = format!("{}\n", serde_json::to_string_pretty(&doc).unwrap());
    assert!(out.ends_with("}\n"), "{out}");
    assert_eq!(masked(&out), masked(&pretty));
}
