//! Plain tier: careless use and hostile peers on loopback — output that cannot
//! be written, signals in the middle of a run, a single long probe cut short
//! by Ctrl-C, a flood of foreign datagrams during a query. No panics, bounded
//! wall time, the right verdict, and a complete log.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portqry");

fn spawn(args: &[&str], stdout: Stdio) -> Child {
    Command::new(BIN).args(args).stdin(Stdio::null()).stdout(stdout).stderr(Stdio::piped()).spawn().unwrap()
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill with a child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

/// Wait for the child at most `limit`; panics (after killing it) if it is slower.
fn wait_within(child: &mut Child, limit: Duration) -> (i32, String, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            let mut err = String::new();
            if let Some(mut o) = child.stdout.take() {
                let _ = o.read_to_string(&mut out);
            }
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            assert!(!err.contains("panicked"), "{err}");
            return (status.code().unwrap_or(-1), out, err);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// UDP sockets bound on loopback that never answer: silent ports.
fn silent_udp(n: usize) -> (Vec<UdpSocket>, String) {
    let socks: Vec<UdpSocket> = (0..n).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    let list = socks.iter().map(|s| s.local_addr().unwrap().port().to_string()).collect::<Vec<_>>().join(",");
    (socks, list)
}

/// The write end of a pipe whose read end is already closed (no race with
/// the child's first write).
fn readerless_pipe() -> Stdio {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe() fills two valid descriptors, each owned exactly once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

fn closed_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn closed_pipe_ends_quietly_with_141() {
    let p = closed_tcp_port().to_string();
    for args in [
        vec!["-n", "127.0.0.1", "-nr", "-e", &p, "--json"],
        vec!["-n", "127.0.0.1", "-nr", "-r", "40000:40400", "--json"],
        vec!["-n", "127.0.0.1", "-nr", "-e", &p],
        vec!["--help"],
    ] {
        let mut c = spawn(&args, readerless_pipe());
        let (code, _, err) = wait_within(&mut c, Duration::from_secs(10));
        assert_eq!(code, 141, "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}: a closed pipe is not an error to report");
    }
}

#[test]
fn full_disk_is_an_error_with_74() {
    let p = closed_tcp_port().to_string();
    for args in [vec!["-n", "127.0.0.1", "-nr", "-e", &p], vec!["-n", "127.0.0.1", "-nr", "-e", &p, "--json"]]
    {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let mut c = spawn(&args, Stdio::from(full));
        let (code, _, err) = wait_within(&mut c, Duration::from_secs(10));
        assert_eq!(code, 74, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("portqry: cannot write to standard output: No space left on device"),
            "{err}"
        );
    }
}

/// `portqry ... | head -1`: the run stops at the first write after the
/// reader left, not after every port was probed.
#[test]
fn reader_gone_stops_the_scan() {
    let (_socks, list) = silent_udp(40);
    // 40 silent ports one at a time, 0.5 s each: 20 s if the scan ran on.
    let mut c = spawn(
        &[
            "-n",
            "127.0.0.1",
            "-nr",
            "-o",
            &list,
            "-p",
            "udp",
            "--timeout",
            "500",
            "--tries",
            "1",
            "--concurrency",
            "1",
        ],
        Stdio::piped(),
    );
    let mut first = String::new();
    BufReader::new(c.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "Querying target system called:");
    // The BufReader (and with it the pipe) is dropped here.
    let started = Instant::now();
    let (code, _, err) = wait_within(&mut c, Duration::from_secs(10));
    assert_eq!(code, 141, "{err}");
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
}

/// SIGTERM, SIGHUP and SIGINT in the middle of a range: what was decided is
/// printed and logged, the log ends with its marker, the code says which.
#[test]
fn signals_close_the_log() {
    for (sig, want) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129), (libc::SIGINT, 130)] {
        let (_socks, list) = silent_udp(6);
        let closed = closed_tcp_port().to_string();
        let dir = std::env::temp_dir().join(format!("portqry-sig-{}-{sig}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("run.log");
        let ports = format!("{closed},{list}");
        let log_s = log.to_str().unwrap();
        let mut c = spawn(
            &["-n", "127.0.0.1", "-nr", "-o", &ports, "-p", "both", "--timeout", "3000", "-l", log_s, "-y"],
            Stdio::piped(),
        );
        std::thread::sleep(Duration::from_millis(700));
        signal(&c, sig);
        let (code, out, err) = wait_within(&mut c, Duration::from_secs(2));
        assert_eq!(code, want, "signal {sig}: {err}");
        assert!(err.contains("interrupted"), "{err}");
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.trim_end().ends_with("========= end of log file ========="), "{logged}");
        // The closed TCP port was decided before the signal: on screen and in the log.
        let line = format!("TCP port {closed} (unknown service): NOT LISTENING");
        assert!(out.contains(&line) && logged.contains(&line), "{out}\n---\n{logged}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// One port, a long --timeout, nothing answering: Ctrl-C acts within a second.
#[test]
fn ctrl_c_cuts_a_single_long_probe() {
    // UDP: a bound socket that never answers.
    let (_socks, udp) = silent_udp(1);
    // TCP: a listener whose accept queue is full drops further SYNs.
    let listener = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let _held: Vec<TcpStream> =
        (0..2).filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok()).collect();
    let tcp = addr.port().to_string();
    for args in [
        vec!["-n", "127.0.0.1", "-nr", "-e", &udp, "-p", "udp", "--timeout", "60000"],
        vec!["-n", "127.0.0.1", "-nr", "-e", &tcp, "--timeout", "60000"],
    ] {
        let mut c = spawn(&args, Stdio::piped());
        std::thread::sleep(Duration::from_millis(500));
        let sent = Instant::now();
        signal(&c, libc::SIGINT);
        let (code, out, err) = wait_within(&mut c, Duration::from_secs(5));
        assert!(sent.elapsed() < Duration::from_secs(1), "{args:?}: took {:?}", sent.elapsed());
        assert_eq!(code, 130, "{args:?}: {out}{err}");
        assert!(!out.contains("): "), "an interrupted probe has no verdict: {out}");
    }
}

/// A query whose answer is preceded by a flood of datagrams from another
/// address: the flood is skipped, the answer counts (LISTENING).
#[test]
fn foreign_flood_does_not_end_a_query() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..10 {
            let Ok((n, peer)) = server.recv_from(&mut buf) else { return };
            if buf[..n].get(..2) != Some(&[0, 1]) {
                continue; // the empty probe: silent, as tftpd is
            }
            let flood = UdpSocket::bind("127.0.0.2:0").unwrap();
            for _ in 0..200 {
                let _ = flood.send_to(b"not for you", peer);
            }
            std::thread::sleep(Duration::from_millis(50));
            let tid = UdpSocket::bind("127.0.0.1:0").unwrap();
            let _ = tid.send_to(b"\x00\x05\x00\x01File not found\x00", peer);
        }
    });
    let dir = std::env::temp_dir().join(format!("portqry-flood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svc = dir.join("services");
    std::fs::write(&svc, format!("tftp {port}/udp\n")).unwrap();
    let p = port.to_string();
    let mut c = spawn(
        &[
            "-n",
            "127.0.0.1",
            "-nr",
            "-e",
            &p,
            "-p",
            "udp",
            "--timeout",
            "1000",
            "--services",
            svc.to_str().unwrap(),
        ],
        Stdio::piped(),
    );
    let (code, out, err) = wait_within(&mut c, Duration::from_secs(10));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("UDP port {p} is LISTENING")), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The overwrite question at a terminal: Ctrl-C (caught, so not fatal by
/// itself) still ends the run within a second, nothing probed.
#[test]
#[cfg(target_os = "linux")] // openpty's argument types differ on the BSDs and macOS
fn ctrl_c_at_the_overwrite_question() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let dir = std::env::temp_dir().join(format!("portqry-ask-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("exists.log");
    std::fs::write(&log, "keep me\n").unwrap();
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two descriptors, each owned exactly once below.
    let rc = unsafe {
        libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null())
    };
    assert_eq!(rc, 0);
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let p = closed_tcp_port().to_string();
    let mut c = Command::new(BIN)
        .args(["-n", "127.0.0.1", "-nr", "-e", &p, "-l", log.to_str().unwrap()])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let mut tty = std::fs::File::from(master);
    let mut seen = Vec::new();
    let started = Instant::now();
    while !String::from_utf8_lossy(&seen).contains("(Y/N)") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no question: {}",
            String::from_utf8_lossy(&seen)
        );
        let mut b = [0u8; 256];
        let n = tty.read(&mut b).unwrap();
        seen.extend_from_slice(&b[..n]);
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    signal(&c, libc::SIGINT);
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        assert!(sent.elapsed() < Duration::from_secs(5), "still asking");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(sent.elapsed() < Duration::from_secs(1), "took {:?}", sent.elapsed());
    assert_eq!(status.code(), Some(130));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "keep me\n", "the log was not overwritten");
    std::fs::remove_dir_all(&dir).unwrap();
}
