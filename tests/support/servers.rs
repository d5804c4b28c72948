//! Real servers for the root-only tests: running commands, starting a
//! fixture with tests/servers/ensure.sh, and capturing its link with tshark.
#![allow(dead_code)]

use std::process::{Command, Stdio};

/// The real-server tests need root (namespaces, daemons): say so plainly.
pub fn root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "real-server tests need root: run them through .ci/run");
}

/// Run a command (stdin closed); its exit code, stdout and stderr.
pub fn sh(cmd: &[&str]) -> (i32, String, String) {
    sh_env(cmd, &[])
}

/// [`sh`] with extra environment variables.
pub fn sh_env(cmd: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let o = Command::new(cmd[0])
        .args(&cmd[1..])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Run our binary (stdin closed); its exit code and stdout followed by stderr.
pub fn portqry(args: &[&str]) -> (i32, String) {
    let mut cmd = vec![env!("CARGO_BIN_EXE_portqry")];
    cmd.extend_from_slice(args);
    let (code, out, err) = sh(&cmd);
    (code, format!("{out}{err}"))
}

/// Start `service` (tests/servers/ensure.sh) unless it is up; its IPv4 address.
pub fn ensure(service: &str) -> String {
    root();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/ensure.sh");
    let (code, out, err) = sh(&["bash", script, service]);
    assert_eq!(code, 0, "ensure.sh {service} failed:\n{out}\n{err}");
    out.trim().to_string()
}

/// A tshark capture of one fixture's link, to a pcap in the temp directory.
pub struct Capture {
    child: std::process::Child,
    pcap: std::path::PathBuf,
}

impl Capture {
    /// Start capturing what `filter` (a capture filter, e.g. `host 198.18.13.2`)
    /// selects on `iface`; returns once tshark captures. `tag` names the pcap.
    pub fn start(iface: &str, filter: &str, tag: &str) -> Capture {
        use std::io::Read;
        let pcap = std::env::temp_dir().join(format!("portqry-{tag}-{}.pcap", std::process::id()));
        let mut child = Command::new("tshark")
            .args(["-q", "-i", iface, "-w", pcap.to_str().unwrap(), "-f", filter])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tshark");
        // Wait until tshark reports it is capturing (bounded).
        let mut err = child.stderr.take().unwrap();
        let mut seen = String::new();
        let mut b = [0u8; 256];
        for _ in 0..100 {
            let n = err.read(&mut b).unwrap_or(0);
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&b[..n]));
            if seen.contains("Capture started") {
                break;
            }
        }
        assert!(seen.contains("Capture started"), "tshark did not start: {seen}");
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = err.read_to_end(&mut sink);
        });
        // "Capture started" is printed just before the capture loop runs.
        std::thread::sleep(std::time::Duration::from_millis(300));
        Capture { child, pcap }
    }

    /// Stop, check that frames were captured and none is malformed, and return a
    /// counter of frames matching a display filter.
    pub fn stop(mut self) -> impl Fn(&str) -> usize {
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        let pcap_s = self.pcap.to_str().unwrap().to_string();
        let count = move |filter: &str| {
            let (_, o, e) = sh(&["tshark", "-r", &pcap_s, "-Y", filter]);
            assert!(!e.contains("isn't a valid display filter"), "{filter}: {e}");
            o.lines().count()
        };
        let pcap_s = self.pcap.display();
        assert!(count("frame") > 0, "nothing captured in {pcap_s}");
        assert_eq!(
            count("_ws.malformed || _ws.expert.severity == error"),
            0,
            "malformed packets in {pcap_s}"
        );
        count
    }
}
