//! Plain tier: careless input ends in one clear line on stderr and a
//! documented exit code — never a hang, a panic or unbounded memory.
//! Loopback only; the FIFO cases use `mkfifo(3)` in a temporary directory.
#![cfg(unix)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Address space a run may use: the unbounded reads of old grew past 5 GB in
/// seconds; a bounded one needs some tens of MB.
const AS_LIMIT: u64 = 500_000_000;
/// No run here may take longer (the FIFO deadline is 10 s).
const WALL_LIMIT: Duration = Duration::from_secs(30);

struct Run {
    code: i32,
    out: String,
    err: String,
    took: Duration,
}

#[derive(Default)]
struct How {
    /// Bytes the feeder writes to stdin until the child stops reading.
    endless_stdin: Option<&'static [u8]>,
    /// SIGINT after this long.
    interrupt_after: Option<Duration>,
    env: Vec<(&'static str, &'static str)>,
    cwd: Option<PathBuf>,
}

fn portqry(args: &[&str], how: How) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portqry"));
    cmd.args(args)
        .stdin(if how.endless_stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .envs(how.env.iter().copied());
    if let Some(dir) = &how.cwd {
        cmd.current_dir(dir);
    }
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: AS_LIMIT as libc::rlim_t, rlim_max: AS_LIMIT as libc::rlim_t };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    if let (Some(bytes), Some(mut stdin)) = (how.endless_stdin, child.stdin.take()) {
        std::thread::spawn(move || while stdin.write_all(bytes).is_ok() {});
    }
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let mut signalled = false;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if !signalled && how.interrupt_after.is_some_and(|d| started.elapsed() >= d) {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            signalled = true;
        }
        if started.elapsed() > WALL_LIMIT {
            let _ = child.kill();
            panic!("portqry {args:?} still running after {WALL_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    // A run killed by a signal (an abort on allocation failure under the
    // address-space limit, say) has no code: that is a failure too.
    let code = status.code().unwrap_or_else(|| panic!("{args:?}: killed by {status:?}; stderr: {err}"));
    assert_ne!(code, 101, "{args:?} panicked: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    Run { code, out, err, took }
}

fn run(args: &[&str]) -> Run {
    portqry(args, How::default())
}

/// Exactly one line on stderr, `portqry: ` + `msg`, and the exit code.
fn assert_error(r: &Run, code: i32, msg: &str) {
    assert_eq!(r.err, format!("portqry: {msg}\n"), "stdout: {}", r.out);
    assert_eq!(r.code, code, "{}", r.err);
}

/// One line on stderr that starts and ends as given (the middle varies).
fn assert_error_shape(r: &Run, code: i32, start: &str, end: &str) {
    assert_eq!(r.err.lines().count(), 1, "{}", r.err);
    let line = r.err.trim_end();
    assert!(line.starts_with(&format!("portqry: {start}")) && line.ends_with(end), "{line}");
    assert_eq!(r.code, code, "{}", r.err);
}

fn closed_port() -> String {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portqry-careless-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

// Item 1: bounded reads.

#[cfg(target_os = "linux")]
#[test]
fn target_file_of_zeros_fails_at_once_in_little_memory() {
    let r = run(&["-n", "@/dev/zero"]);
    assert_error(
        &r,
        64,
        "cannot read targets from '/dev/zero': line 1 is longer than 4096 bytes: give a text file with one name, address or CIDR block a line",
    );
    assert!(r.took < Duration::from_secs(5), "{:?}", r.took);
}

#[cfg(target_os = "linux")]
#[test]
fn target_file_of_random_bytes_fails_at_once() {
    let r = run(&["-n", "@/dev/urandom"]);
    // Random bytes hold the odd newline before the first invalid sequence.
    assert_error_shape(
        &r,
        64,
        "cannot read targets from '/dev/urandom': line ",
        " is not UTF-8 text: give a text file with one name, address or CIDR block a line",
    );
    assert!(r.took < Duration::from_secs(5), "{:?}", r.took);
}

#[test]
fn endless_stdin_stops_at_the_size_limit() {
    // `yes 127.0.0.1 | portqry -n -`
    let r = portqry(&["-n", "-", "-e", "1"], How { endless_stdin: Some(b"127.0.0.1\n"), ..How::default() });
    assert_error(
        &r,
        64,
        "cannot read targets from stdin: it is larger than 16 MiB: split the list over several runs",
    );
    assert!(r.out.is_empty(), "nothing probed: {}", r.out);
    assert!(r.took < Duration::from_secs(10), "{:?}", r.took);
}

#[cfg(target_os = "linux")]
#[test]
fn services_file_of_zeros_fails_at_once() {
    let r = run(&["-n", "127.0.0.1", "--services", "/dev/zero"]);
    assert_error(
        &r,
        64,
        "cannot read services file '/dev/zero': line 1 is longer than 4096 bytes: give a services(5) file such as /etc/services",
    );
    assert!(r.took < Duration::from_secs(5), "{:?}", r.took);
}

// Item 2: FIFOs.

#[test]
fn target_fifo_without_writer_gives_up_after_10_s() {
    let dir = temp_dir("fifo-nowriter");
    let fifo = dir.join("targets");
    mkfifo(&fifo);
    let r = run(&["-n", &format!("@{}", fifo.display())]);
    assert_error(
        &r,
        64,
        &format!(
            "cannot read targets from '{}': the input did not end within 10 s (a FIFO or pipe needs a writer that finishes): write the targets to a file and give -n @FILE",
            fifo.display()
        ),
    );
    assert!(r.took >= Duration::from_secs(10) && r.took < Duration::from_secs(13), "{:?}", r.took);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn target_fifo_is_read_when_its_writer_comes() {
    let dir = temp_dir("fifo-writer");
    let fifo = dir.join("targets");
    mkfifo(&fifo);
    let path = fifo.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        std::fs::write(path, "# late writer\n127.0.0.1\n").unwrap();
    });
    let port = closed_port();
    let r = run(&["-n", &format!("@{}", fifo.display()), "-e", &port, "-nr"]);
    writer.join().unwrap();
    assert_eq!(r.code, 1, "{}{}", r.out, r.err);
    assert!(r.out.contains(&format!("TCP port {port} (")) && r.out.contains("NOT LISTENING"), "{}", r.out);
    assert!(r.took < Duration::from_secs(5), "{:?}", r.took);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ctrl_c_while_waiting_for_a_fifo_writer() {
    let dir = temp_dir("fifo-int");
    let fifo = dir.join("targets");
    mkfifo(&fifo);
    let how = How { interrupt_after: Some(Duration::from_millis(500)), ..How::default() };
    let r = portqry(&["-n", &format!("@{}", fifo.display())], how);
    assert_error(
        &r,
        130,
        &format!("interrupted while reading targets from '{}': nothing was probed", fifo.display()),
    );
    assert!(r.took < Duration::from_millis(500 + 1000), "{:?}", r.took);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_fifo_without_reader_is_refused_at_once() {
    let dir = temp_dir("logfifo-noreader");
    let fifo = dir.join("log");
    mkfifo(&fifo);
    let r = run(&["-n", "127.0.0.1", "-nr", "-e", &closed_port(), "-l", fifo.to_str().unwrap()]);
    assert_error(
        &r,
        73,
        &format!(
            "log file '{}' is a FIFO that no process is reading: start the reader first, or give a regular file",
            fifo.display()
        ),
    );
    assert!(r.out.is_empty(), "refused before anything is printed: {}", r.out);
    assert!(r.took < Duration::from_secs(3), "{:?}", r.took);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_fifo_with_reader_gets_the_log_without_a_question() {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = temp_dir("logfifo-reader");
    let fifo = dir.join("log");
    mkfifo(&fifo);
    // The reader is there before portqry opens the FIFO, as with `-l >(gzip >log.gz)`;
    // the log (a few hundred bytes) waits in the pipe until we read it.
    let mut reader =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&fifo).unwrap();
    let r = run(&["-n", "127.0.0.1", "-nr", "-e", &closed_port(), "-l", fifo.to_str().unwrap()]);
    assert_eq!(r.code, 1, "no -y needed for a FIFO: {}", r.err);
    assert!(r.err.is_empty(), "{}", r.err);
    let mut log = String::new();
    reader.read_to_string(&mut log).unwrap();
    assert!(log.starts_with("PortQry Version 2.0 Log File"), "{log}");
    assert!(log.ends_with("========= end of log file =========\n"), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// Item 3: a log name that is the next switch.

#[test]
fn log_name_that_is_a_switch_is_a_usage_error() {
    let dir = temp_dir("log-switch");
    let how = || How { cwd: Some(dir.clone()), ..How::default() };
    let r = portqry(&["-n", "127.0.0.1", "-l", "-y"], how());
    assert_error(
        &r,
        64,
        "'-y' after -l is an option, not a log file name: write -l FILE (e.g. -l pqlog.txt -y), or -l ./-y for a file of that name",
    );
    let r = portqry(&["/n", "127.0.0.1", "/l", "/Q"], how());
    assert_eq!(r.code, 64, "{}", r.err);
    assert!(r.err.contains("or -l //Q for a file of that name"), "{}", r.err);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no file was created");
    // The way to name such a file still works.
    let r = portqry(&["-n", "127.0.0.1", "-nr", "-e", &closed_port(), "-l", "./-y"], how());
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(dir.join("-y").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

// Item 4: zones.

#[test]
fn unknown_ipv6_zone_is_a_usage_error() {
    let r = run(&["-n", "fe80::1%99999", "-e", "1"]);
    assert_error(
        &r,
        64,
        "unknown interface '99999' in 'fe80::1%99999': use a zone such as %eth0 or the index of an existing interface (ip link)",
    );
    assert!(r.out.is_empty(), "nothing probed: {}", r.out);
    let r = run(&["-n", "fe80::1%no-such-if0"]);
    assert_eq!(r.code, 64, "{}", r.err);
}

// Item 5: -4 / -6 against a literal.

#[test]
fn family_switch_must_match_the_literal() {
    let r = run(&["-n", "127.0.0.1", "-6"]);
    assert_error(
        &r,
        64,
        "127.0.0.1 is an IPv4 address but -6 asks for IPv6: drop -6, or give an IPv6 address",
    );
    let r = run(&["-n", "::1", "-4"]);
    assert_error(&r, 64, "::1 is an IPv6 address but -4 asks for IPv4: drop -4, or give an IPv4 address");
    let r = run(&["-n", "::ffff:127.0.0.1", "--ipv6"]);
    assert_error(
        &r,
        64,
        "::ffff:127.0.0.1 is an IPv4 address (v4-mapped) but -6 asks for IPv6: drop -6, or give an IPv6 address",
    );
    // The matching family still runs.
    let r = run(&["-n", "127.0.0.1", "-4", "-nr", "-e", &closed_port()]);
    assert_eq!(r.code, 1, "{}", r.err);
}

// Item 6: echoed input is clipped.

#[test]
fn long_input_is_echoed_clipped_on_one_line() {
    let long = "a".repeat(70_000);
    let clipped = format!("{}…", "a".repeat(100));
    let r = run(&["-n", &long, "-e", "1"]);
    assert_eq!(r.code, 68, "{}", r.err);
    assert_error_shape(&r, 68, &format!("cannot resolve '{clipped}' to an IP address: "), "");
    assert!(r.err.len() < 400, "{} bytes", r.err.len());

    let r = run(&["-n", "h", "-p", &long]);
    assert_eq!(r.code, 64);
    assert_error(
        &r,
        64,
        &format!(
            "invalid value '{clipped}' for '--proto <PROTO>': '{clipped}' is not a protocol: use tcp, udp or both (see portqry --help)"
        ),
    );

    let dir = temp_dir("long-line");
    let file = dir.join("targets");
    std::fs::write(&file, format!("{} b\n", "a".repeat(3000))).unwrap();
    let r = run(&["-n", &format!("@{}", file.display())]);
    assert_error(
        &r,
        64,
        &format!(
            "'{clipped}' in @{} is not a target: one name, address or CIDR block a line",
            file.display()
        ),
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// Item 7: broadcast and multicast.

#[test]
fn broadcast_and_multicast_are_refused() {
    let r = run(&["-n", "255.255.255.255", "-p", "udp"]);
    assert_error(
        &r,
        64,
        "255.255.255.255 is a broadcast address; portqry probes one host: give one host's address",
    );
    assert!(r.out.is_empty(), "nothing probed: {}", r.out);
    for (addr, shown) in
        [("224.0.0.1", "224.0.0.1"), ("[ff02::1]", "[ff02::1]"), ("224.0.0.0/30", "224.0.0.0")]
    {
        let r = run(&["-n", addr, "-p", "both"]);
        assert_error(
            &r,
            64,
            &format!("{shown} is a multicast address; portqry probes one host: give one host's address"),
        );
    }
}

// Item 9: a thread that cannot start.

#[test]
fn lookup_thread_that_cannot_start_is_a_local_failure() {
    // Threads that want a 1 GB stack under a 500 MB address space cannot
    // start, as under a small `ulimit -v`; the main thread is not affected.
    for name in ["localhost", "127.0.0.1"] {
        let how = How { env: vec![("RUST_MIN_STACK", "1000000000")], ..How::default() };
        let r = portqry(&["-n", name, "-e", &closed_port()], how);
        assert_error_shape(
            &r,
            71,
            "cannot start a thread for the name look-up: ",
            ": free memory or raise the limits (ulimit -v, ulimit -u) and run again",
        );
    }
}

// Item 8: Ctrl-C during a look-up that hangs. The waiting itself is unit-tested
// (src/target/mod.rs, `waiting_for_a_lookup_stops_within_a_slice`); this runs the
// binary against a resolver that never answers, which needs a mount namespace.

#[cfg(target_os = "linux")]
#[test]
#[ignore = "root: a mount namespace whose resolv.conf names a silent DNS server"]
fn ctrl_c_during_a_hanging_lookup_exits_130_at_once() {
    let server = "127.83.0.53";
    let _udp = std::net::UdpSocket::bind((server, 53)).unwrap();
    let _tcp = TcpListener::bind((server, 53)).unwrap();
    let dir = temp_dir("blackhole-dns");
    let conf = dir.join("resolv.conf");
    std::fs::write(&conf, format!("nameserver {server}\noptions timeout:5 attempts:2\n")).unwrap();
    let bin = env!("CARGO_BIN_EXE_portqry");
    for target in ["blackhole.example.com", "198.18.7.7"] {
        let script =
            format!("mount --bind {} /etc/resolv.conf && exec {bin} -n {target} -e 1", conf.display());
        let started = Instant::now();
        let child = Command::new("unshare")
            .args(["-m", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        // SAFETY: signalling our own child (sh exec'd portqry, same pid).
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{target}: {err}");
        assert_eq!(err, "portqry: interrupted: the results above were decided, the rest were not\n");
        assert!(started.elapsed() < Duration::from_millis(1500 + 1000), "{target}: {:?}", started.elapsed());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Many names whose look-ups all hang: they run on a pool, so six names cost
/// about one look-up deadline (10 s), not six, and print in the order given.
#[test]
#[ignore = "root: a mount namespace whose resolv.conf names a silent DNS server"]
fn hanging_lookups_of_many_names_run_together() {
    let server = "127.83.0.54";
    let _udp = std::net::UdpSocket::bind((server, 53)).unwrap();
    let _tcp = TcpListener::bind((server, 53)).unwrap();
    let dir = temp_dir("blackhole-dns-many");
    let conf = dir.join("resolv.conf");
    std::fs::write(&conf, format!("nameserver {server}\noptions timeout:5 attempts:2\n")).unwrap();
    let names: Vec<String> = (1..=6).map(|i| format!("host{i}.blackhole.example.com")).collect();
    let script = format!(
        "mount --bind {} /etc/resolv.conf && exec {} -n {} -e 1",
        conf.display(),
        env!("CARGO_BIN_EXE_portqry"),
        names.join(",")
    );
    let started = Instant::now();
    let o = Command::new("unshare").args(["-m", "sh", "-c", &script]).output().unwrap();
    let took = started.elapsed();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(68), "{out}");
    assert!(took < Duration::from_secs(25), "took {took:?}: the look-ups ran one after another");
    let order: Vec<&str> = out.lines().filter(|l| l.starts_with("host")).collect();
    assert_eq!(order, names.iter().map(String::as_str).collect::<Vec<_>>(), "{out}");
    assert_eq!(out.matches("Failed to resolve name to IP address").count(), 6, "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
