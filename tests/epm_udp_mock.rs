//! Plain `cargo test` tier: the connectionless (ncadg_ip_udp) endpoint-mapper
//! dump against `tests/support/cl_epm_server.py`, a mock written from C706
//! ch.12 and MS-RPCE §3.2/§4.3, on loopback. No real CL RPC server is
//! available here (Samba has no ncadg; no Windows), so each protocol path
//! (callback, fragments and facks, working, retransmission, both list
//! endings, fault) is exercised by a mock mode.
//!
//! The mock logs every packet on stderr and marks anything the client does
//! against the spec with `VIOLATION:`; every test asserts there is none.
//! python3 is required: if it is missing the tests fail, they never skip.
//! Unix only: the mock is started as `python3` (not there under Wine).
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/cl_epm_server.py");

/// The mock server; killed when dropped.
struct Mock {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Mock {
    fn start(args: &[&str]) -> Mock {
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .arg("127.0.0.1:0")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is required for this test (start tests/support/cl_epm_server.py)");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("mock stderr");
        let sink = Arc::clone(&log);
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends when the mock exits (EOF) or the pipe fails.
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("mock stdout"));
        let _ = stdout.read_line(&mut line);
        let mut mock = Mock { child, port: 0, log, reader: Some(reader) };
        match line.trim().parse::<u16>() {
            Ok(p) if p != 0 => mock.port = p,
            _ => {
                let log = mock.finish();
                panic!("the mock did not print its port (got {line:?}); its stderr:\n{log}");
            }
        }
        mock
    }

    /// Stop the mock and return everything it logged.
    fn finish(&mut self) -> String {
        // Let the mock log what is still in flight (the client's last ack
        // races its own exit): wait until the log is quiet, at most 3 s.
        let mut last = usize::MAX;
        for _ in 0..30 {
            let len = self.log.lock().unwrap().len();
            if len == last {
                break;
            }
            last = len;
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Run {
    code: i32,
    out: String,
    err: String,
}

/// Run the real binary against the mock on `port`, with a services file that
/// names `port/udp` epmap so the EPM query runs on a non-135 port.
fn portqry_epm(port: u16, tag: &str) -> Run {
    let dir: PathBuf = std::env::temp_dir().join(format!("portqry-epmudp-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svc = dir.join("services");
    std::fs::write(&svc, format!("epmap {port}/udp\n")).unwrap();
    let p = port.to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_portqry"))
        .args([
            "-n",
            "127.0.0.1",
            "-nr",
            "-e",
            &p,
            "-p",
            "udp",
            "--timeout",
            "500",
            "--services",
            svc.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run portqry");
    let _ = std::fs::remove_dir_all(&dir);
    Run {
        code: o.status.code().expect("exit code"),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// The mock's i-th endpoint as PortQry prints it (mirrors `entry_spec` in the mock).
fn expected_entry(i: usize, mock_port: u16) -> [String; 3] {
    let uuid = format!("{:08x}-1234-5678-9abc-def012345678", 0x1000 + i);
    let head = if i % 5 == 4 { format!("UUID: {uuid}") } else { format!("UUID: {uuid} Mock service {i}") };
    let binding = match i % 3 {
        0 => format!("ncacn_ip_tcp:127.0.0.1[{}]", 49664 + i),
        1 => format!("ncadg_ip_udp:127.0.0.1[{mock_port}]"),
        _ => format!("ncacn_np:\\\\MOCKHOST[\\PIPE\\mock{i}]"),
    };
    [head, binding, String::new()]
}

/// The exact report from the status line on, for a successful dump of `k` entries.
fn expected_report(port: u16, k: usize) -> Vec<String> {
    let mut v = vec![
        format!("UDP port {port} (epmap service): LISTENING or FILTERED"),
        String::new(),
        "Querying Endpoint Mapper Database...".to_string(),
        "Server's response:".to_string(),
        String::new(),
    ];
    for i in 0..k {
        v.extend(expected_entry(i, port));
    }
    v.extend([
        format!("Total endpoints found: {k}"),
        String::new(),
        "==== End of RPC Endpoint Mapper query response ====".to_string(),
        String::new(),
        format!("UDP port {port} is LISTENING"),
        String::new(),
    ]);
    v
}

/// The lines of `out` from the UDP status line on.
fn report_tail(out: &str, port: u16) -> Vec<String> {
    let start = format!("UDP port {port} (epmap service):");
    let lines: Vec<String> = out.lines().map(str::to_owned).collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no status line {start:?} in:\n{out}"));
    lines[at..].to_vec()
}

fn assert_no_violation(log: &str) {
    let bad: Vec<&str> = log.lines().filter(|l| l.starts_with("VIOLATION:")).collect();
    assert!(bad.is_empty(), "the mock saw protocol violations:\n{}\n--- mock log:\n{log}", bad.join("\n"));
}

/// Start the mock with `args`, dump it, and check the exact report for `k` entries.
/// Returns the mock's log for mode-specific checks.
fn dump_ok(tag: &str, args: &[&str], k: usize) -> String {
    let mut mock = Mock::start(args);
    let r = portqry_epm(mock.port, tag);
    let log = mock.finish();
    let ctx = format!("--- stdout:\n{}--- stderr:\n{}--- mock log:\n{log}", r.out, r.err);
    assert_eq!(r.code, 0, "{ctx}");
    assert_eq!(report_tail(&r.out, mock.port), expected_report(mock.port, k), "{ctx}");
    assert_no_violation(&log);
    log
}

#[test]
fn plain() {
    let log = dump_ok("plain", &[], 3);
    assert!(log.contains("acknowledged"), "the client should ack the response:\n{log}");
}

#[test]
fn callback_conv_who_are_you2() {
    let log = dump_ok("callback", &["--callback", "--entries", "6"], 6);
    assert!(log.contains("conv_who_are_you2 callback, try 1"), "{log}");
    assert!(log.contains("callback answer: seq=0 "), "{log}");
    assert!(!log.contains("try 2"), "the callback answer must come on the first try:\n{log}");
}

#[test]
fn callback_without_pf2_unrelated() {
    let log = dump_ok("callback0", &["--callback", "--callback-flags2", "0"], 3);
    assert!(log.contains("callback answer: seq=0 "), "{log}");
}

#[test]
fn fragments_and_facks_30_entries() {
    let log = dump_ok("frag", &["--frag", "200", "--entries", "30"], 30);
    assert!(log.contains("   fack fragnum=1 "), "expected facks for several fragments:\n{log}");
    assert!(!log.contains("no fack for fragment"), "every fragment must be facked at once:\n{log}");
}

#[test]
fn fragments_blasted_with_nofack() {
    // As the DCE and Windows runtimes send: bursts of 3 fragments with NOFACK
    // on all but each burst's last, and LASTFRAG|NOFACK on the final one.
    let log = dump_ok("blast", &["--frag", "100", "--blast", "3", "--entries", "30"], 30);
    assert!(log.contains(" f1=0x0c "), "expected NOFACK fragments:\n{log}");
    assert!(!log.contains("no fack for fragment"), "{log}");
}

#[test]
fn fragments_after_callback() {
    let log = dump_ok("fragcb", &["--callback", "--frag", "128", "--entries", "10"], 10);
    assert!(log.contains("callback answer: seq=0 "), "{log}");
    assert!(!log.contains("no fack for fragment"), "{log}");
}

#[test]
fn working_outlasts_the_timeout() {
    // The mock "executes" for 0.7 s, sending working every 300 ms: longer than
    // one 500 ms wait, so the client must not take the first wait's end for
    // silence; within the call's deadline (500 ms x 2 tries from the first
    // request), which `working` never extends (tests/hostile_epm.rs).
    let log = dump_ok("working", &["--working", "--working-ms", "700"], 3);
    assert!(log.contains("-> ") && log.contains(" working "), "{log}");
}

#[test]
fn drop_first_forces_a_retransmit() {
    let log = dump_ok("drop", &["--drop-first", "--entries", "5"], 5);
    assert!(log.contains("dropping the first request"), "{log}");
}

#[test]
fn samba_style_end() {
    // 8 entries, 4 per call: two full pages with a handle, then a third call
    // answered with num_ents 0 and EPT_S_NOT_REGISTERED.
    let log = dump_ok("samba", &["--end", "samba", "--entries", "8"], 8);
    assert!(log.contains("page: entries 8..8 of 8, status=0x16c9a0d6"), "{log}");
}

#[test]
fn windows_style_end() {
    // 8 entries: the second page carries the last entries, status 0 and a NULL
    // handle, so there must be no third call.
    let log = dump_ok("windows", &["--end", "windows", "--entries", "8"], 8);
    assert!(log.contains("page: entries 4..8 of 8, status=0x0, handle=NULL"), "{log}");
    assert!(!log.contains("page: entries 8..8"), "{log}");
}

#[test]
fn single_packet_with_lastfrag_nofack() {
    // Some stacks set LASTFRAG|NOFACK on an unfragmented response.
    dump_ok("flags0a", &["--single-flags1", "0x0a", "--entries", "4"], 4);
}

#[test]
fn fault_is_reported_and_port_listening() {
    let mut mock = Mock::start(&["--fault", "0x1c010003"]);
    let port = mock.port;
    let r = portqry_epm(port, "fault");
    let log = mock.finish();
    let ctx = format!("--- stdout:\n{}--- stderr:\n{}--- mock log:\n{log}", r.out, r.err);
    assert_eq!(r.code, 0, "{ctx}");
    let tail = report_tail(&r.out, port);
    assert_eq!(tail[0], format!("UDP port {port} (epmap service): LISTENING or FILTERED"), "{ctx}");
    assert!(
        tail.iter().any(|l| l.starts_with("The endpoint mapper query failed:")
            && l.contains("0x1c010003")
            && l.contains("nca_unk_if")),
        "{ctx}"
    );
    assert!(!r.out.contains("Total endpoints found"), "{ctx}");
    assert!(tail.contains(&format!("UDP port {port} is LISTENING")), "{ctx}");
    assert_no_violation(&log);
}
