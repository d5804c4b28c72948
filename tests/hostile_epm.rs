//! Plain `cargo test` tier: hostile DCE/RPC endpoint mappers on loopback, each a
//! few lines of Rust in a thread, against the real binary.
//!
//! Every server here tries to keep one dump alive or growing without end:
//! trickled bytes, endless fragments, `working` forever, slow pages, replies of
//! megabytes. Each test asserts a bounded wall time (rpc.rs: a call ends at its
//! deadline from when it was sent, the dump after 5 call deadlines), the right
//! verdict (LISTENING: the server spoke DCE/RPC), no panic, the "may be
//! incomplete" line where a bound cut the list, a bounded peak RSS (VmHWM of the
//! child, which also runs under RLIMIT_AS), and, for the Ctrl-C tests, exit 130
//! within 1 s of SIGINT with what was found printed.
//!
//! The bytes are written here from C706 ch.12 / MS-RPCE, not with the crate's
//! own emitters.
#![cfg(target_os = "linux")] // /proc VmHWM, wait4 rusage

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Extra wall time allowed over a computed bound: process start, loopback, a busy CI.
const SLACK: Duration = Duration::from_millis(1500);
/// Peak RSS allowed to the child (a dump holds at most 10,000 entries and 8 MiB).
const MAX_PEAK_KB: u64 = 150 * 1024;
/// Address-space limit for the child: an unbounded dump aborts instead of swapping.
const RLIMIT_AS_BYTES: u64 = 2 << 30;
/// No server thread here runs longer than this.
const SERVER_LIFETIME: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------ running portqry

struct Run {
    code: Option<i32>,
    out: String,
    err: String,
    elapsed: Duration,
    peak_kb: u64,
    /// From SIGINT to exit, when one was sent.
    after_sigint: Option<Duration>,
}

impl Run {
    fn ctx(&self) -> String {
        format!(
            "code {:?}, {:?}, peak {} kB\n--- stdout (first 3000 bytes):\n{}\n--- stderr:\n{}",
            self.code,
            self.elapsed,
            self.peak_kb,
            &self.out[..self.out.len().min(3000)],
            self.err
        )
    }

    /// No panic, bounded memory, done within `bound` (+ slack).
    fn assert_sane(&self, bound: Duration) {
        let ctx = self.ctx();
        if std::env::var_os("HOSTILE_EPM_SHOW").is_some() {
            eprintln!("{ctx}");
        }
        assert!(!self.err.contains("panicked"), "{ctx}");
        assert!(self.code.is_some() && self.code != Some(101) && self.code != Some(134), "{ctx}");
        assert!(self.peak_kb > 0 && self.peak_kb < MAX_PEAK_KB, "peak RSS {} kB: {ctx}", self.peak_kb);
        assert!(self.elapsed < bound + SLACK, "took {:?}, bound {bound:?}: {ctx}", self.elapsed);
    }
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run portqry against `port` (named `epmap` for `proto` in a services file), with
/// `extra` arguments; with `sigint`, send SIGINT once stdout contains its text.
fn portqry(port: u16, proto: &str, extra: &[&str], sigint: Option<&str>) -> Run {
    let dir = std::env::temp_dir().join(format!("portqry-hostile-{}-{proto}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svc = dir.join("services");
    std::fs::write(&svc, format!("epmap {port}/{proto}\n")).unwrap();
    let p = port.to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portqry"));
    cmd.args(["-n", "127.0.0.1", "-nr", "-e", &p, "-p", proto, "--services", svc.to_str().unwrap()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: RLIMIT_AS_BYTES, rlim_max: RLIMIT_AS_BYTES };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    // Reaped by wait4 below (clippy cannot see it), or killed and waited for.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().expect("run portqry");
    let pid = child.id();
    let collect = |mut r: Box<dyn Read + Send>| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let h = thread::spawn(move || {
            let mut chunk = [0u8; 65536];
            while let Ok(n) = r.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        (buf, h)
    };
    let (out, out_h) = collect(Box::new(child.stdout.take().unwrap()));
    let (err, err_h) = collect(Box::new(child.stderr.take().unwrap()));
    let mut peak_kb = 0;
    let mut sigint_at: Option<Instant> = None;
    let status: std::process::ExitStatus = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak_kb = peak_kb.max(kb);
        }
        // wait4 reaps the child with its own peak RSS (ru_maxrss, kB), so a
        // child that exits between two samples is still measured.
        let mut raw = 0;
        // SAFETY: an all-zero rusage is valid; wait4 on our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut raw, libc::WNOHANG, &mut usage) };
        if reaped == pid as libc::pid_t {
            peak_kb = peak_kb.max(u64::try_from(usage.ru_maxrss).unwrap_or(0));
            break ExitStatusExt::from_raw(raw);
        }
        if let Some(marker) = sigint
            && sigint_at.is_none()
            && String::from_utf8_lossy(&out.lock().unwrap()).contains(marker)
        {
            // Let the child settle into its next wait first.
            thread::sleep(Duration::from_millis(300));
            // SAFETY: plain kill(2) on our own child.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
            sigint_at = Some(Instant::now());
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("portqry still running after 60 s");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let after_sigint = sigint_at.map(|t| t.elapsed());
    let _ = out_h.join();
    let _ = err_h.join();
    let _ = std::fs::remove_dir_all(&dir);
    let text = |b: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&b.lock().unwrap()).into_owned();
    Run { code: status.code(), out: text(&out), err: text(&err), elapsed, peak_kb, after_sigint }
}

// ------------------------------------------------------------------ NDR stubs

const EPT_S_NOT_REGISTERED: u32 = 0x16c9_a0d6;
const MORE: [u8; 20] = [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const NULL_HANDLE: [u8; 20] = [0; 20];

/// One entry's fixed part (no tower): object UUID, NULL tower referent, annotation as
/// a varying string (offset 0, actual count = bytes incl. the NUL), padded to 4.
fn entry(i: u32, annotation: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&i.to_le_bytes());
    e.extend_from_slice(&[0, 0, 0, 0x40, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    e.extend_from_slice(&0u32.to_le_bytes());
    e.extend_from_slice(&0u32.to_le_bytes());
    e.extend_from_slice(&(annotation.len() as u32).to_le_bytes());
    e.extend_from_slice(annotation);
    while e.len() % 4 != 0 {
        e.push(0);
    }
    e
}

fn named(i: u32) -> Vec<u8> {
    entry(i, format!("hostile {i}\0").as_bytes())
}

/// An ept_lookup reply stub: handle, num_ents, the conformant-varying array, status.
fn lookup_stub(handle: &[u8; 20], entries: &[Vec<u8>], status: u32) -> Vec<u8> {
    let n = entries.len() as u32;
    let mut s = handle.to_vec();
    for v in [n, n.max(1), 0, n] {
        s.extend_from_slice(&v.to_le_bytes());
    }
    for e in entries {
        s.extend_from_slice(e);
    }
    s.extend_from_slice(&status.to_le_bytes());
    s
}

// ------------------------------------------------------------------ CO (TCP)

const FIRST: u8 = 1;
const LAST: u8 = 2;

fn co_header(ptype: u8, flags: u8, frag_len: u16, call_id: u32) -> Vec<u8> {
    let mut h = vec![5, 0, ptype, flags, 0x10, 0, 0, 0];
    h.extend_from_slice(&frag_len.to_le_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&call_id.to_le_bytes());
    h
}

/// A bind_ack accepting NDR 2.0 (C706 12.6.4.4).
fn bind_ack(call_id: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&5840u16.to_le_bytes());
    body.extend_from_slice(&5840u16.to_le_bytes());
    body.extend_from_slice(&0x1234u32.to_le_bytes());
    body.extend_from_slice(&4u16.to_le_bytes());
    body.extend_from_slice(b"135\0");
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&[1, 0, 0, 0]);
    body.extend_from_slice(&[0, 0, 0, 0]);
    body.extend_from_slice(&[
        0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0,
        0, 0,
    ]);
    let mut f = co_header(12, FIRST | LAST, (16 + body.len()) as u16, call_id);
    f.extend_from_slice(&body);
    f
}

/// One response fragment carrying `stub`.
fn response(flags: u8, call_id: u32, stub: &[u8]) -> Vec<u8> {
    let mut f = co_header(2, flags, (24 + stub.len()) as u16, call_id);
    f.extend_from_slice(&(stub.len() as u32).to_le_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(stub);
    f
}

/// A whole reply in fragments of at most 4096 stub bytes.
fn reply_frames(call_id: u32, stub: &[u8]) -> Vec<u8> {
    let parts: Vec<&[u8]> = stub.chunks(4096).collect();
    let mut out = Vec::with_capacity(stub.len() + parts.len() * 24);
    for (i, p) in parts.iter().enumerate() {
        let flags = if i == 0 { FIRST } else { 0 } | if i + 1 == parts.len() { LAST } else { 0 };
        out.extend_from_slice(&response(flags, call_id, p));
    }
    out
}

/// Read one CO PDU; its call id.
fn read_pdu(s: &mut TcpStream) -> Option<u32> {
    let mut h = [0u8; 16];
    s.read_exact(&mut h).ok()?;
    let len = usize::from(u16::from_le_bytes([h[8], h[9]]));
    let mut rest = vec![0u8; len.saturating_sub(16)];
    s.read_exact(&mut rest).ok()?;
    Some(u32::from_le_bytes([h[12], h[13], h[14], h[15]]))
}

/// A one-connection endpoint mapper: answers the bind, then hands each request's
/// call id to `on_call` until it returns false or the connection fails.
fn tcp_server(mut on_call: impl FnMut(&mut TcpStream, u32, usize) -> bool + Send + 'static) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        let _ = s.set_read_timeout(Some(SERVER_LIFETIME));
        let Some(bind_id) = read_pdu(&mut s) else { return };
        if s.write_all(&bind_ack(bind_id)).is_err() {
            return;
        }
        let mut n = 0;
        while let Some(call_id) = read_pdu(&mut s) {
            if !on_call(&mut s, call_id, n) {
                return;
            }
            n += 1;
        }
    });
    port
}

/// Write `bytes` one at a time, `every` apart, until done or the client is gone.
fn trickle(s: &mut TcpStream, bytes: &[u8], every: Duration) -> bool {
    let end = Instant::now() + SERVER_LIFETIME;
    for b in bytes {
        if s.write_all(&[*b]).is_err() || Instant::now() > end {
            return false;
        }
        thread::sleep(every);
    }
    true
}

/// `--timeout 200`: each TCP call may take 2 × 200 ms; the dump 5 × that.
const FAST: [&str; 2] = ["--timeout", "200"];
const TCP_CALL: Duration = Duration::from_millis(400);
const TCP_DUMP: Duration = Duration::from_millis(2000);

fn assert_tcp_listening(r: &Run, port: u16) {
    assert!(r.out.contains(&format!("TCP port {port} (epmap service): LISTENING")), "{}", r.ctx());
    assert!(r.out.contains("Querying Endpoint Mapper Database..."), "{}", r.ctx());
    assert_eq!(r.code, Some(0), "{}", r.ctx());
}

fn assert_failed_with(r: &Run, why: &str) {
    let line = format!("The endpoint mapper query failed: {why}");
    assert!(r.out.contains(&line), "expected {line:?}: {}", r.ctx());
}

fn assert_incomplete(r: &Run, why: &str) {
    let line = format!("The list may be incomplete: {why}");
    assert!(r.out.contains(&line), "expected {line:?}: {}", r.ctx());
}

#[test]
fn tcp_well_behaved_server_is_dumped_whole() {
    // The harness itself: two pages, then Samba's end (num_ents 0, EPT_S_NOT_REGISTERED).
    let port = tcp_server(|s, call_id, n| {
        let stub = match n {
            0 => lookup_stub(&MORE, &[named(0), named(1)], 0),
            1 => lookup_stub(&MORE, &[named(2)], 0),
            _ => lookup_stub(&MORE, &[], EPT_S_NOT_REGISTERED),
        };
        s.write_all(&reply_frames(call_id, &stub)).is_ok()
    });
    let r = portqry(port, "tcp", &FAST, None);
    r.assert_sane(TCP_CALL);
    assert_tcp_listening(&r, port);
    assert!(r.out.contains("hostile 0\n(no binding)\n\n"), "{}", r.ctx());
    assert!(r.out.contains("hostile 2\n(no binding)\n\nTotal endpoints found: 3\n"), "{}", r.ctx());
    assert!(!r.out.contains("may be incomplete"), "{}", r.ctx());
}

#[test]
fn tcp_header_claims_64k_then_trickles() {
    // Before: each byte restarted the wait, so 1 byte every 1.5 s lasted hours.
    let port = tcp_server(|s, call_id, _| {
        let mut h = co_header(2, FIRST | LAST, 65535, call_id);
        h.extend_from_slice(&[0; 1000]);
        trickle(s, &h, Duration::from_millis(100))
    });
    let r = portqry(port, "tcp", &FAST, None);
    r.assert_sane(TCP_CALL);
    assert_tcp_listening(&r, port);
    assert_failed_with(&r, "no complete answer from the endpoint mapper within 400 ms of the call");
}

#[test]
fn tcp_valid_reply_one_byte_at_a_time() {
    let port = tcp_server(|s, call_id, _| {
        let stub = lookup_stub(&NULL_HANDLE, &[named(0), named(1)], 0);
        trickle(s, &reply_frames(call_id, &stub), Duration::from_millis(20))
    });
    let r = portqry(port, "tcp", &FAST, None);
    r.assert_sane(TCP_CALL);
    assert_tcp_listening(&r, port);
    assert_failed_with(&r, "no complete answer from the endpoint mapper within 400 ms of the call");
}

#[test]
fn tcp_fragments_every_10ms_without_end() {
    let port = tcp_server(|s, call_id, _| {
        let end = Instant::now() + SERVER_LIFETIME;
        let mut frame = response(FIRST, call_id, &[0; 64]);
        while Instant::now() < end {
            if s.write_all(&frame).is_err() {
                return false;
            }
            frame = response(0, call_id, &[0; 64]);
            thread::sleep(Duration::from_millis(10));
        }
        false
    });
    let r = portqry(port, "tcp", &FAST, None);
    r.assert_sane(TCP_CALL);
    assert_tcp_listening(&r, port);
    assert_failed_with(&r, "no complete answer from the endpoint mapper within 400 ms of the call");
}

#[test]
fn tcp_fragment_of_another_call_is_refused() {
    // The first fragment answers our call, the second names the next one.
    let port = tcp_server(|s, call_id, _| {
        let mut frames = response(FIRST, call_id, &[0; 64]);
        frames.extend_from_slice(&response(LAST, call_id + 1, &[0; 64]));
        let _ = s.write_all(&frames);
        false
    });
    let r = portqry(port, "tcp", &FAST, None);
    r.assert_sane(TCP_CALL);
    assert_tcp_listening(&r, port);
    assert_failed_with(&r, "RPC reply for call 3, expected call 2");
}

#[test]
fn tcp_fragment_flood_hits_the_fragment_bound() {
    // Empty middle fragments as fast as the socket takes them.
    let port = tcp_server(|s, call_id, _| {
        let mut burst = response(FIRST, call_id, &[]);
        for _ in 0..2000 {
            burst.extend_from_slice(&response(0, call_id, &[]));
        }
        let _ = s.write_all(&burst);
        false
    });
    let r = portqry(port, "tcp", &FAST, None);
    r.assert_sane(TCP_CALL);
    assert_tcp_listening(&r, port);
    assert_failed_with(&r, "RPC reply has more than 1024 fragments");
}

#[test]
fn tcp_slow_pages_end_at_the_dump_deadline() {
    // Each call is answered within its deadline (1 entry after 250 ms), forever.
    let port = tcp_server(|s, call_id, n| {
        thread::sleep(Duration::from_millis(250));
        let stub = lookup_stub(&MORE, &[named(n as u32)], 0);
        s.write_all(&reply_frames(call_id, &stub)).is_ok()
    });
    let r = portqry(port, "tcp", &FAST, None);
    r.assert_sane(TCP_DUMP);
    assert!(r.elapsed >= TCP_DUMP - Duration::from_millis(300), "{}", r.ctx());
    assert_tcp_listening(&r, port);
    assert!(r.out.contains("hostile 0\n(no binding)\n"), "{}", r.ctx());
    assert!(r.out.contains("hostile 4\n"), "{}", r.ctx());
    assert_incomplete(&r, "the dump's deadline of 2000 ms passed");
    assert!(r.out.contains("==== End of RPC Endpoint Mapper query response ===="), "{}", r.ctx());
}

/// A reply of about `bytes` bytes of minimal (28-byte) entries, never the last page.
fn minimal_entries(bytes: usize) -> Vec<u8> {
    let one = entry(7, b"");
    let entries: Vec<Vec<u8>> = (0..bytes / one.len()).map(|_| one.clone()).collect();
    lookup_stub(&MORE, &entries, 0)
}

#[test]
fn tcp_4mb_replies_are_refused_and_memory_stays_bounded() {
    // The report's case: ~4 MB of minimal entries per call for 200 calls once
    // drove the process to ~10 GB. One reply is now at most 1 MiB.
    let stub = Arc::new(minimal_entries(4 << 20));
    let port = tcp_server(move |s, call_id, _| s.write_all(&reply_frames(call_id, &stub)).is_ok());
    let r = portqry(port, "tcp", &FAST, None);
    r.assert_sane(TCP_DUMP);
    assert_tcp_listening(&r, port);
    assert_failed_with(&r, "RPC reply larger than 1048576 bytes");
}

#[test]
fn tcp_entry_bound_cuts_the_list_and_says_so_in_json_too() {
    // ~37,000 minimal entries per page, for ever: 10,000 are kept, then the dump stops.
    let stub = Arc::new(minimal_entries(1_000_000));
    let port = tcp_server(move |s, call_id, _| s.write_all(&reply_frames(call_id, &stub)).is_ok());
    let r = portqry(port, "tcp", &FAST, None);
    r.assert_sane(TCP_DUMP);
    assert_tcp_listening(&r, port);
    assert!(r.out.contains("Total endpoints found: 10000\n"), "{}", r.ctx());
    assert_incomplete(&r, "more than 10000 entries (the dump's bound)");

    let stub = Arc::new(minimal_entries(1_000_000));
    let port = tcp_server(move |s, call_id, _| s.write_all(&reply_frames(call_id, &stub)).is_ok());
    let r = portqry(port, "tcp", &["--timeout", "200", "--json"], None);
    r.assert_sane(TCP_DUMP);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap_or_else(|e| panic!("{e}: {}", r.ctx()));
    let q = &v["targets"][0]["results"][0]["query"];
    assert_eq!(q["protocol"], "epm", "{q}");
    assert_eq!(q["state"], "listening", "{q}");
    assert_eq!(q["answer"]["incomplete"], "more than 10000 entries (the dump's bound)", "{}", r.ctx());
    assert_eq!(q["answer"]["entries"].as_array().map(Vec::len), Some(10_000));
}

#[test]
fn tcp_byte_bound_cuts_the_list() {
    // One entry per page with a ~1 MB annotation (NUL after a few bytes), for ever:
    // the dump stops once 8 MiB of replies were read.
    let port = tcp_server(|s, call_id, n| {
        let mut ann = format!("big {n}\0").into_bytes();
        ann.resize(1_000_000, 0);
        let stub = lookup_stub(&MORE, &[entry(n as u32, &ann)], 0);
        s.write_all(&reply_frames(call_id, &stub)).is_ok()
    });
    let r = portqry(port, "tcp", &FAST, None);
    r.assert_sane(TCP_DUMP);
    assert_tcp_listening(&r, port);
    assert!(r.out.contains(" big 0\n") && r.out.contains(" big 8\n"), "{}", r.ctx());
    assert!(!r.out.contains(" big 9\n"), "{}", r.ctx());
    assert_incomplete(&r, "the replies reached 8 MiB (the dump's bound)");
}

#[test]
fn tcp_ctrl_c_during_a_trickled_reply_keeps_the_first_page() {
    // Long deadlines (10 s calls, 50 s dump): only Ctrl-C ends this within a second.
    let port = tcp_server(|s, call_id, n| {
        if n == 0 {
            let stub = lookup_stub(&MORE, &[named(0), named(1)], 0);
            return s.write_all(&reply_frames(call_id, &stub)).is_ok();
        }
        let mut h = co_header(2, FIRST | LAST, 65535, call_id);
        h.extend_from_slice(&[0; 60000]);
        trickle(s, &h, Duration::from_millis(100))
    });
    let r = portqry(port, "tcp", &["--timeout", "5000"], Some("hostile 1\n"));
    r.assert_sane(Duration::from_secs(5));
    let after = r.after_sigint.expect("SIGINT sent");
    assert!(after < Duration::from_secs(1), "exit {after:?} after SIGINT: {}", r.ctx());
    assert_eq!(r.code, Some(130), "{}", r.ctx());
    assert!(r.out.contains(&format!("TCP port {port} (epmap service): LISTENING")), "{}", r.ctx());
    assert!(r.out.contains("hostile 0\n(no binding)\n\n"), "{}", r.ctx());
    assert!(r.out.contains("Total endpoints found: 2\n"), "{}", r.ctx());
    assert_incomplete(&r, "interrupted");
    assert!(r.err.contains("interrupted"), "{}", r.ctx());
}

#[test]
fn tcp_ctrl_c_before_the_bind_is_answered() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        // Accept, read, never answer.
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.set_read_timeout(Some(SERVER_LIFETIME));
            let mut sink = [0u8; 256];
            while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
        }
    });
    let r = portqry(port, "tcp", &["--timeout", "5000"], Some("Querying Endpoint Mapper Database..."));
    r.assert_sane(Duration::from_secs(5));
    let after = r.after_sigint.expect("SIGINT sent");
    assert!(after < Duration::from_secs(1), "exit {after:?} after SIGINT: {}", r.ctx());
    assert_eq!(r.code, Some(130), "{}", r.ctx());
    assert_failed_with(&r, "interrupted");
}

// ------------------------------------------------------------------ CL (UDP)

/// A response-side CL header for the request `req` (whose 80 bytes are copied:
/// activity, sequence, interface), with our ptype, flags, fragnum and body length.
fn cl_reply(req: &[u8], ptype: u8, flags1: u8, fragnum: u16, body: &[u8]) -> Vec<u8> {
    let mut p = req[..80].to_vec();
    p[1] = ptype;
    p[2] = flags1;
    p[3] = 0;
    p[56..60].copy_from_slice(&0x5eedu32.to_le_bytes()); // server boot time
    p[74..76].copy_from_slice(&(body.len() as u16).to_le_bytes());
    p[76..78].copy_from_slice(&fragnum.to_le_bytes());
    p.extend_from_slice(body);
    p
}

const CL_RESPONSE: u8 = 2;
const CL_WORKING: u8 = 4;
const CL_LASTFRAG: u8 = 0x02;
const CL_FRAG: u8 = 0x04;

/// A UDP endpoint mapper: every `tick`, `on_tick` may send to the latest request
/// (`None` until one came); requests (ptype 0) other than the empty probe are
/// handed to `on_request`. Stops when the returned flag is set or after its lifetime.
fn udp_server(
    tick: Duration,
    mut on_request: impl FnMut(&UdpSocket, &[u8], SocketAddr) + Send + 'static,
    mut on_tick: impl FnMut(&UdpSocket, &[u8], SocketAddr, u32) + Send + 'static,
) -> (u16, Arc<AtomicBool>) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    thread::spawn(move || {
        let end = Instant::now() + SERVER_LIFETIME;
        let _ = s.set_read_timeout(Some(tick));
        let mut latest: Option<(Vec<u8>, SocketAddr)> = None;
        let mut ticks = 0;
        let mut next_tick = Instant::now() + tick;
        let mut buf = [0u8; 65536];
        while Instant::now() < end && !flag.load(Ordering::SeqCst) {
            if let Ok((n, peer)) = s.recv_from(&mut buf)
                && n >= 80
                && buf[0] == 4
                && buf[1] == 0
            {
                on_request(&s, &buf[..n], peer);
                latest = Some((buf[..n].to_vec(), peer));
            }
            if Instant::now() >= next_tick {
                next_tick += tick;
                if let Some((req, peer)) = &latest {
                    on_tick(&s, req, *peer, ticks);
                    ticks += 1;
                }
            }
        }
    });
    (port, stop)
}

/// `--timeout 200` on UDP: the plain probe waits 2 × 200 ms, then each EPM call may
/// take 200 ms × 2 tries from its first request, the dump 5 × that.
const UDP_PROBE: Duration = Duration::from_millis(400);
const UDP_CALL: Duration = Duration::from_millis(400);

fn assert_udp_listening(r: &Run, port: u16) {
    assert!(
        r.out.contains(&format!("UDP port {port} (epmap service): LISTENING or FILTERED")),
        "{}",
        r.ctx()
    );
    assert!(r.out.contains(&format!("UDP port {port} is LISTENING\n")), "{}", r.ctx());
    assert_eq!(r.code, Some(0), "{}", r.ctx());
}

#[test]
fn udp_same_fragment_repeated_every_100ms() {
    // Before: each fragment restarted the wait, so this ran for ever.
    let (port, stop) = udp_server(
        Duration::from_millis(100),
        |_, _, _| {},
        |s, req, peer, _| {
            let _ = s.send_to(&cl_reply(req, CL_RESPONSE, CL_FRAG, 0, &[0; 64]), peer);
        },
    );
    let r = portqry(port, "udp", &FAST, None);
    stop.store(true, Ordering::SeqCst);
    r.assert_sane(UDP_PROBE + UDP_CALL);
    assert_udp_listening(&r, port);
    assert_failed_with(&r, "no complete answer from the endpoint mapper within 400 ms of the call");
}

#[test]
fn udp_new_fragment_numbers_every_100ms() {
    let (port, stop) = udp_server(
        Duration::from_millis(100),
        |_, _, _| {},
        |s, req, peer, n| {
            let _ = s.send_to(&cl_reply(req, CL_RESPONSE, CL_FRAG, n as u16, &[0; 64]), peer);
        },
    );
    let r = portqry(port, "udp", &FAST, None);
    stop.store(true, Ordering::SeqCst);
    r.assert_sane(UDP_PROBE + UDP_CALL);
    assert_udp_listening(&r, port);
    assert_failed_with(&r, "no complete answer from the endpoint mapper within 400 ms of the call");
}

#[test]
fn udp_working_forever_is_listening_and_bounded() {
    // Before: FILTERED ("no response to 2 tries") after 8.5 s with working every 0.5 s.
    let (port, stop) = udp_server(
        Duration::from_millis(100),
        |s, req, peer| {
            let _ = s.send_to(&cl_reply(req, CL_WORKING, 0, 0, &[]), peer);
        },
        |s, req, peer, _| {
            let _ = s.send_to(&cl_reply(req, CL_WORKING, 0, 0, &[]), peer);
        },
    );
    let r = portqry(port, "udp", &["--timeout", "200", "-v"], None);
    stop.store(true, Ordering::SeqCst);
    r.assert_sane(UDP_PROBE + UDP_CALL);
    assert_udp_listening(&r, port);
    assert_failed_with(
        &r,
        "the endpoint mapper was still working on the call when its 400 ms deadline passed",
    );
}

/// A request waiting for its answer: the datagram, who sent it, when to answer.
type Pending = Arc<Mutex<Option<(Vec<u8>, SocketAddr, Instant)>>>;

/// Answer each request with one entry (never the last page) after `delay`.
fn udp_slow_pages(delay: Duration) -> (u16, Arc<AtomicBool>) {
    let pending: Pending = Arc::new(Mutex::new(None));
    let p2 = Arc::clone(&pending);
    let mut n = 0u32;
    let mut answered_seq: Option<Vec<u8>> = None;
    udp_server(
        Duration::from_millis(10),
        move |_, req, peer| {
            let mut p = pending.lock().unwrap();
            if p.is_none() {
                *p = Some((req.to_vec(), peer, Instant::now() + delay));
            }
        },
        move |s, _, _, _| {
            let mut p = p2.lock().unwrap();
            if let Some((req, peer, at)) = p.as_ref()
                && Instant::now() >= *at
            {
                // A retransmission of a call already answered gets the same page again.
                if answered_seq.as_deref() != Some(&req[64..68]) {
                    answered_seq = Some(req[64..68].to_vec());
                    n += 1;
                }
                let stub = lookup_stub(&MORE, &[named(n - 1)], 0);
                let _ = s.send_to(&cl_reply(req, CL_RESPONSE, CL_LASTFRAG, 0, &stub), *peer);
                *p = None;
            }
        },
    )
}

#[test]
fn udp_slow_pages_end_at_the_dump_deadline() {
    // Calls of 300 ms (1 try), each answered after 150 ms: the dump stops at 1.5 s.
    let (port, stop) = udp_slow_pages(Duration::from_millis(150));
    let r = portqry(port, "udp", &["--timeout", "300", "--tries", "1"], None);
    stop.store(true, Ordering::SeqCst);
    let dump = Duration::from_millis(1500);
    r.assert_sane(Duration::from_millis(300) + dump);
    assert_udp_listening(&r, port);
    assert!(r.out.contains("hostile 0\n(no binding)\n\n"), "{}", r.ctx());
    assert!(r.out.contains("hostile 3\n"), "{}", r.ctx());
    assert_incomplete(&r, "the dump's deadline of 1500 ms passed");
}

#[test]
fn udp_ctrl_c_during_slow_pages_keeps_what_came() {
    // 1 s calls and a 5 s dump: only Ctrl-C ends this within a second.
    let (port, stop) = udp_slow_pages(Duration::from_millis(250));
    let r = portqry(port, "udp", &["--timeout", "1000", "--tries", "1"], Some("hostile 1\n"));
    stop.store(true, Ordering::SeqCst);
    r.assert_sane(Duration::from_secs(6));
    let after = r.after_sigint.expect("SIGINT sent");
    assert!(after < Duration::from_secs(1), "exit {after:?} after SIGINT: {}", r.ctx());
    assert_eq!(r.code, Some(130), "{}", r.ctx());
    assert!(r.out.contains("hostile 0\n(no binding)\n\n"), "{}", r.ctx());
    assert_incomplete(&r, "interrupted");
    assert!(r.out.contains(&format!("UDP port {port} is LISTENING\n")), "{}", r.ctx());
}
