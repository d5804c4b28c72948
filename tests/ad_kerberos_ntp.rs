//! Root tier: the Kerberos (88), kpasswd (464) and NTP (123) queries against real
//! servers in namespaces (tests/servers/ensure.sh): the Samba AD DC's KDC and
//! kpasswd (realm PORTQRY.TEST), MIT krb5kdc + kadmind (`kdc`, realm PQKDC.TEST)
//! and chronyd (`ntp`, local stratum 10), cross-checked with kinit, sntp, the
//! servers' logs and tshark.
#![cfg(target_os = "linux")] // namespaces, iptables and Debian servers

use std::process::{Command, Stdio};
use std::sync::Mutex;
#[path = "support/servers.rs"]
mod servers;
use servers::{ensure, portqry, sh_env};

/// One test at a time: they share the fixtures' firewalls.
static SERIAL: Mutex<()> = Mutex::new(());

/// Run iptables inside a fixture's namespace; the rule must apply.
fn ipt(ns: &str, args: &[&str]) {
    let mut cmd = vec!["ip", "netns", "exec", ns, "iptables"];
    cmd.extend_from_slice(args);
    let (code, _, err) = sh_env(&cmd, &[]);
    assert_eq!(code, 0, "{cmd:?}: {err}");
}

/// The numbers after `prefix` on every line that has it ("Clock skew: -0.012 s").
fn numbers_after(out: &str, prefix: &str) -> Vec<f64> {
    out.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|rest| rest.split_whitespace().next().unwrap().parse::<f64>().unwrap())
        .collect()
}

/// The MIT fixture's client configuration (realm PQKDC.TEST, kdc = its address).
const KDC_KRB5_CONF: &str = "/run/portqry-test/kdc/krb5.conf";

/// kinit for `principal` with `conf`; its message names the KDC's error.
fn kinit(conf: &str, principal: &str) -> String {
    let (code, out, err) = sh_env(&["kinit", principal], &[("KRB5_CONFIG", conf), ("KRB5CCNAME", "MEMORY:")]);
    assert_ne!(code, 0, "kinit succeeded?\n{out}{err}");
    format!("{out}{err}")
}

/// MIT krb5kdc: KDC_ERR_C_PRINCIPAL_UNKNOWN for our made-up client on UDP and TCP,
/// the realm and service echoed, the clock in step; kinit hears the same error
/// and the KDC logs our request for what it is.
#[test]
#[ignore = "root: real MIT krb5kdc in a namespace"]
fn kerberos_mit_kdc_matches_kinit() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("kdc");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "88", "-p", "both", "--realm", "pqkdc.test", "-v"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("TCP port 88 (kerberos service): LISTENING"), "{out}");
    assert!(out.contains("Sending Kerberos query to TCP port 88...\n\nKerberos error 6 (KDC_ERR_C_PRINCIPAL_UNKNOWN)\nRealm: PQKDC.TEST (asked PQKDC.TEST, from --realm)\nServer name: krbtgt/PQKDC.TEST\nClient name: portqry-probe\n"), "{out}");
    assert!(
        out.contains(
            "Sending Kerberos query to UDP port 88...\n\nKerberos error 6 (KDC_ERR_C_PRINCIPAL_UNKNOWN)\n"
        ),
        "{out}"
    );
    assert_eq!(out.matches("Error text: CLIENT_NOT_FOUND\n").count(), 2, "{out}");
    assert!(out.contains("UDP port 88 is LISTENING\n"), "{out}");
    // -v shows the proof under the UDP verdict.
    assert!(
        out.contains("UDP port 88 is LISTENING\n    evidence: UDP reply of ")
            && out.contains(
                ": a KRB-ERROR naming the realm and service we asked for (krbtgt/PQKDC.TEST@PQKDC.TEST)\n"
            ),
        "{out}"
    );
    let skews = numbers_after(&out, "Clock skew: ");
    assert_eq!(skews.len(), 2, "{out}");
    assert!(skews.iter().all(|s| s.abs() < 2.0), "same host, same clock: {skews:?}");
    // kinit asks the same KDC for the same made-up client: the same error, in its words.
    let k = kinit(KDC_KRB5_CONF, "portqry-probe");
    assert!(k.contains("Client 'portqry-probe@PQKDC.TEST' not found in Kerberos database"), "{k}");
    let log = std::fs::read_to_string("/run/portqry-test/kdc/krb5kdc.log").unwrap();
    assert!(
        log.contains("3 etypes {aes256-cts-hmac-sha1-96(18), aes128-cts-hmac-sha1-96(17), DEPRECATED:arcfour-hmac(23)})")
            && log.contains("CLIENT_NOT_FOUND: portqry-probe@PQKDC.TEST for krbtgt/PQKDC.TEST@PQKDC.TEST"),
        "our AS-REQ is not in the KDC's log"
    );
}

/// Samba's KDC: the same error for the same request; the realm given in lower case
/// is asked upper-cased; kinit against the DC agrees; JSON carries the fields.
#[test]
#[ignore = "root: real Samba AD DC in a namespace"]
fn kerberos_samba_dc_matches_kinit() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("dc");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "88", "-p", "both", "--realm", "portqry.test"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("Kerberos error 6 (KDC_ERR_C_PRINCIPAL_UNKNOWN)\nRealm: PORTQRY.TEST (asked PORTQRY.TEST, from --realm)\nServer name: krbtgt/PORTQRY.TEST\n").count(), 2, "{out}");
    assert!(!out.contains("Error text"), "Samba sends no e-text: {out}");
    let skews = numbers_after(&out, "Clock skew: ");
    assert!(skews.len() == 2 && skews.iter().all(|s| s.abs() < 2.0), "{skews:?}\n{out}");
    let conf = std::env::temp_dir().join(format!("portqry-krb5-{}.conf", std::process::id()));
    std::fs::write(
        &conf,
        format!("[libdefaults]\n default_realm = PORTQRY.TEST\n dns_lookup_kdc = false\n[realms]\n PORTQRY.TEST = {{\n  kdc = {ip}\n }}\n"),
    )
    .unwrap();
    let k = kinit(conf.to_str().unwrap(), "portqry-probe");
    let _ = std::fs::remove_file(&conf);
    assert!(k.contains("Client 'portqry-probe@PORTQRY.TEST' not found in Kerberos database"), "{k}");
    // JSON: the answer's fields.
    let (code, out) =
        portqry(&["-n", &ip, "-nr", "-e", "88", "-p", "udp", "--realm", "PORTQRY.TEST", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let a = &v["targets"][0]["results"][0]["query"]["answer"];
    assert_eq!(a["protocol"], "kerberos");
    assert_eq!(a["error_code"], 6);
    assert_eq!(a["error_name"], "KDC_ERR_C_PRINCIPAL_UNKNOWN");
    assert_eq!(a["realm"], "PORTQRY.TEST");
    assert_eq!(a["server_name"], "krbtgt/PORTQRY.TEST");
    assert_eq!(a["skew_too_large"], false);
    assert!(a["clock_skew_seconds"].as_f64().unwrap().abs() < 2.0, "{a}");
}

/// kpasswd on 464: MIT kadmind and Samba both answer our credential-less request
/// with a KRB-ERROR in a kpasswd reply, on UDP and TCP, each with its own result.
#[test]
#[ignore = "root: real MIT kadmind and Samba AD DC in namespaces"]
fn kpasswd_mit_and_samba() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (svc, realm, error, result) in [
        (
            "kdc",
            "PQKDC.TEST",
            "Kerberos error 60 (KRB_ERR_GENERIC)",
            "kpasswd result 3 (KRB5_KPASSWD_AUTHERROR): Failed reading application request",
        ),
        (
            "dc",
            "PORTQRY.TEST",
            "Kerberos error 2 (KDC_ERR_SERVICE_EXP)",
            "kpasswd result 2 (KRB5_KPASSWD_HARDERROR): gensec_update failed - NT_STATUS_LOGON_FAILURE",
        ),
    ] {
        let ip = ensure(svc);
        let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "464", "-p", "both", "--realm", realm, "-v"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("TCP port 464 (kpasswd service): LISTENING"), "{out}");
        let block = format!(
            "{error}\n{result}\nRealm: {realm} (asked {realm}, from --realm)\nServer name: kadmin/changepw\n"
        );
        assert_eq!(out.matches(&block).count(), 2, "{svc}: {out}");
        assert!(out.contains("UDP port 464 is LISTENING\n"), "{out}");
        assert!(
            out.contains("a KRB-ERROR in a kpasswd reply naming the realm and service we asked for"),
            "{out}"
        );
        // MIT's kpasswd errors carry whole seconds (susec 0): within a couple of seconds.
        let skews = numbers_after(&out, "Clock skew: ");
        assert!(skews.len() == 2 && skews.iter().all(|s| s.abs() < 2.0), "{skews:?}\n{out}");
        // Without --realm (an address gives none): the server names its own realm.
        let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "464", "-p", "udp"]);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains(&format!(
                "Realm: {realm} (asked PORTQRY.INVALID, from a placeholder: give --realm)\n"
            )),
            "{out}"
        );
    }
}

/// Our query rejected by the KDC's host (its own port unreachable) is NOT LISTENING;
/// dropped, FILTERED. The empty probe datagram (28 bytes of IP) passes the rule.
#[test]
#[ignore = "root: real MIT krb5kdc and chronyd in namespaces"]
fn kerberos_and_ntp_rejected_and_dropped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (svc, port) in [("kdc", "88"), ("kdc", "464"), ("ntp", "123")] {
        let ip = ensure(svc);
        let ns = format!("pq-{svc}");
        for (target, code, verdict) in [("REJECT", 1, "NOT LISTENING"), ("DROP", 2, "FILTERED")] {
            let rule = ["-p", "udp", "--dport", port, "-m", "length", "--length", "29:65535", "-j", target];
            ipt(&ns, &[&["-I", "INPUT"], &rule[..]].concat());
            let (got, out) = portqry(&["-n", &ip, "-nr", "-e", port, "-p", "udp", "--timeout", "300", "-v"]);
            ipt(&ns, &[&["-D", "INPUT"], &rule[..]].concat());
            assert_eq!(got, code, "{port} {target}: {out}");
            assert!(
                out.contains(&format!("query to UDP port {port}...\n\nUDP port {port} is {verdict}\n")),
                "{out}"
            );
            if target == "REJECT" {
                let from = format!("evidence: ICMP port unreachable (type 3, code 3) from {ip} (the target)");
                assert!(out.contains(&from), "{out}");
            } else {
                assert!(out.contains("evidence: no response to 2 tries"), "{out}");
            }
        }
    }
}

/// chronyd: stratum 10 from its local clock, reference 127.127.1.1, no leap, the
/// offset tiny (same host clock); sntp reads the same stratum.
#[test]
#[ignore = "root: real chronyd in a namespace"]
fn ntp_chrony_matches_sntp() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("ntp");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "123", "-p", "udp", "-v"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Sending NTP query to UDP port 123...\n\nNTP version 4 server, stratum 10 (secondary)\nReference ID: 127.127.1.1\nLeap indicator: 0 (no warning)\nServer time: "), "{out}");
    assert!(out.contains("UDP port 123 is LISTENING\n"), "{out}");
    assert!(out.contains("an NTP server-mode reply echoing our random transmit timestamp"), "{out}");
    let offset = numbers_after(&out, "Offset: ");
    assert!(offset.len() == 1 && offset[0].abs() < 0.05, "{offset:?}\n{out}");
    let delay: f64 =
        out.split("round-trip delay ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((0.0..0.5).contains(&delay), "{delay}");
    let (code, s, e) = sh_env(&["sntp", "-t", "2", &ip], &[]);
    assert_eq!(code, 0, "{s}{e}");
    assert!(s.contains(&format!("{ip} s10 no-leap")), "sntp: {s}");
    // JSON.
    let (_, out) = portqry(&["-n", &ip, "-nr", "-e", "123", "-p", "udp", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let a = &v["targets"][0]["results"][0]["query"]["answer"];
    assert_eq!((a["protocol"].as_str(), a["stratum"].as_u64()), (Some("ntp"), Some(10)));
    assert_eq!(
        (a["reference_id"].as_str(), a["kiss_of_death"].as_bool()),
        (Some("127.127.1.1"), Some(false))
    );
    assert!(a["offset_seconds"].as_f64().unwrap().abs() < 0.05, "{a}");
}

/// tshark reads our AS-REQs (UDP and TCP), our kpasswd requests and our NTP
/// request without complaint, and the KDC's and chronyd's replies too. (Its kpasswd
/// dissector reads AP_REQ from a reply with AP_REP length 0 and calls the servers'
/// error replies malformed; only our requests are checked on 464.)
#[test]
#[ignore = "root: tshark capture on the kdc and ntp links"]
fn tshark_dissects_our_requests() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (kdc, ntp) = (ensure("kdc"), ensure("ntp"));
    let pcap = std::env::temp_dir().join(format!("portqry-krbntp-{}.pcap", std::process::id()));
    let pcap_s = pcap.to_str().unwrap().to_string();
    let mut child = Command::new("tshark")
        .args(["-q", "-i", "pqh-kdc", "-i", "pqh-ntp", "-w", &pcap_s, "-f", "udp or tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tshark");
    // Wait (bounded) until tshark has the pcap open.
    for _ in 0..50 {
        if std::fs::metadata(&pcap).map(|m| m.len() > 0).unwrap_or(false) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut codes = Vec::new();
    for (ip, port, proto) in [(&kdc, "88", "both"), (&kdc, "464", "both"), (&ntp, "123", "udp")] {
        codes.push(portqry(&["-n", ip, "-nr", "-e", port, "-p", proto, "--realm", "PQKDC.TEST"]).0);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let _ = child.wait();
    let count = |filter: &str| {
        let (_, o, e) = sh_env(&["tshark", "-r", &pcap_s, "-Y", filter], &[]);
        assert!(!e.contains("isn't a valid display filter"), "{filter}: {e}");
        o.lines().count()
    };
    assert_eq!(codes, [0, 0, 0]);
    assert_eq!(count("kerberos.msg_type == 10"), 2, "our AS-REQs (UDP, TCP) in {pcap_s}");
    assert_eq!(
        count("kerberos.msg_type == 30 && kerberos.error_code == 6"),
        2,
        "the KDC's errors in {pcap_s}"
    );
    assert_eq!(
        count("kpasswd && (udp.dstport == 464 || tcp.dstport == 464)"),
        2,
        "our kpasswd requests in {pcap_s}"
    );
    assert_eq!(count("ntp.flags.mode == 3"), 1, "our NTP request in {pcap_s}");
    assert_eq!(count("ntp.flags.mode == 4 && ntp.stratum == 10"), 1, "chronyd's reply in {pcap_s}");
    let bad =
        "(_ws.malformed || _ws.expert.severity == error) && !(udp.srcport == 464 || tcp.srcport == 464)";
    assert_eq!(count(bad), 0, "malformed packets in {pcap_s}");
    let _ = std::fs::remove_file(&pcap);
}

// ---- plain tier: loopback responders (no root) ----

/// MIT krb5kdc's KRB-ERROR for krbtgt/PQKDC.TEST@PQKDC.TEST, captured on 2026-12-01
/// (fuzz/seeds/kerberos_reply/real-mit-krb5kdc-udp88-as-error.bin): its stime is
/// old by now, so the clock skew against this machine is far beyond 5 minutes.
const MIT_AS_ERROR_HEX: &str = "7e8199308196a003020105a10302011ea411180f32303236313230313034313732305aa50502030e5a05a603020106a70c1b0a50514b44432e54455354a81a3018a003020101a111300f1b0d706f72747172792d70726f6265a90c1b0a50514b44432e54455354aa1f301da003020102a11630141b066b72627467741b0a50514b44432e54455354ab121b10434c49454e545f4e4f545f464f554e44";

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
}

/// A UDP responder on 127.0.0.1 that ignores empty datagrams (the probe) and answers
/// each other one with `reply(request)`, until the test ends (bounded waits).
fn responder(reply: impl Fn(&[u8]) -> Vec<u8> + Send + 'static) -> u16 {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n > 0 {
                let _ = sock.send_to(&reply(&buf[..n]), from);
            }
        }
    });
    port
}

/// A services file naming `port` as `name`/udp, so the query runs on that port.
fn services(name: &str, port: u16) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("portqry-svc-{name}-{}-{port}", std::process::id()));
    std::fs::write(&path, format!("{name} {port}/udp\n")).unwrap();
    path
}

/// The whole path on loopback: a KRB-ERROR for our realm and service is the
/// Kerberos answer, its old stime flagged as a skew beyond 5 minutes; the same
/// reply to a request for another realm is not ours (but the port answered).
#[test]
fn kerberos_loopback_skew_and_foreign_realm() {
    let port = responder(|_| unhex(MIT_AS_ERROR_HEX));
    let svc = services("kerberos", port);
    let p = port.to_string();
    let base = ["-n", "127.0.0.1", "-nr", "-e", &p, "-p", "udp", "--services", svc.to_str().unwrap()];
    let (code, out) = portqry(&[&base[..], &["--realm", "PQKDC.TEST"]].concat());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("Sending Kerberos query to UDP port {p}...\n\nKerberos error 6 (KDC_ERR_C_PRINCIPAL_UNKNOWN)\nRealm: PQKDC.TEST (asked PQKDC.TEST, from --realm)\n")), "{out}");
    assert!(out.contains("Server time: 2026-12-01 04:17:20.940549 UTC\n"), "{out}");
    assert!(out.contains("(server minus this machine) - more than Kerberos' 5-minute tolerance\n"), "{out}");
    assert!(out.contains(&format!("UDP port {p} is LISTENING")), "{out}");
    let (code, out) = portqry(&[&base[..], &["--realm", "CORP.EXAMPLE"]].concat());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("The reply did not parse as Kerberos: a KRB-ERROR for krbtgt/PQKDC.TEST@PQKDC.TEST, not for our krbtgt/CORP.EXAMPLE@CORP.EXAMPLE; reply was 156 byte(s): 7e 81 99"), "{out}");
    let _ = std::fs::remove_file(&svc);
}

/// NTP on loopback: a reply echoing our transmit timestamp is read (offset near
/// zero: the responder stamps this machine's clock; +10 s when it runs ahead); a
/// Kiss-o'-Death is shown as one; a reply with another origin timestamp is not ours.
#[test]
fn ntp_loopback_answer_kiss_and_foreign() {
    fn server(req: &[u8], stratum: u8, refid: [u8; 4], echo: bool) -> Vec<u8> {
        // The stratum-3 server's clock runs 10 s ahead.
        let ahead = std::time::Duration::from_secs(if stratum == 3 { 10 } else { 0 });
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + ahead;
        let ts =
            ((now.as_secs() + 2_208_988_800) << 32) | ((u64::from(now.subsec_nanos()) << 32) / 1_000_000_000);
        let mut r = vec![0u8; 48];
        r[0] = 0x24; // LI 0, version 4, mode 4
        r[1] = stratum;
        r[12..16].copy_from_slice(&refid);
        if echo {
            r[24..32].copy_from_slice(&req[40..48]);
        }
        r[32..40].copy_from_slice(&ts.to_be_bytes());
        r[40..48].copy_from_slice(&ts.to_be_bytes());
        r
    }
    for (stratum, refid, echo) in
        [(2u8, [192, 0, 2, 7], true), (0, *b"RATE", true), (2, [192, 0, 2, 7], false)]
    {
        let port = responder(move |req| server(req, stratum, refid, echo));
        let svc = services("ntp", port);
        let p = port.to_string();
        let (code, out) =
            portqry(&["-n", "127.0.0.1", "-nr", "-e", &p, "-p", "udp", "--services", svc.to_str().unwrap()]);
        let _ = std::fs::remove_file(&svc);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(&format!("UDP port {p} is LISTENING")), "{out}");
        match (stratum, echo) {
            (2, true) => {
                assert!(out.contains("NTP version 4 server, stratum 2 (secondary)\nReference ID: 192.0.2.7\n"), "{out}");
                let offset = numbers_after(&out, "Offset: ");
                assert!(offset.len() == 1 && offset[0].abs() < 0.05, "{offset:?}\n{out}");
            }
            (3, _) => {
                let offset = numbers_after(&out, "Offset: ");
                assert!(offset.len() == 1 && (offset[0] - 10.0).abs() < 0.05, "{offset:?}\n{out}");
            }
            (0, _) => {
                assert!(out.contains("Kiss-o'-Death: RATE (the server refuses to serve us"), "{out}");
                assert!(!out.contains("Offset:"), "{out}");
            }
            _ => assert!(out.contains("The reply did not parse as NTP: not a reply to our request (origin timestamp 0000000000000000, we sent "), "{out}"),
        }
    }
}

/// `--realm` takes a realm, not any text.
#[test]
fn realm_option_is_checked() {
    for bad in ["", "A B", "CORP\tEXAMPLE"] {
        let (code, out) = portqry(&["-n", "127.0.0.1", "-e", "88", "--realm", bad]);
        assert_eq!(code, 64, "{out}");
        assert!(out.contains("--realm: '") && out.contains("is not a Kerberos realm"), "{out}");
    }
}

/// Kerberos over TCP on loopback: a record split across two writes is read whole
/// (the 4-byte length says when); a length with the reserved bit set is refused,
/// the port LISTENING all the same.
#[test]
fn kerberos_tcp_records_on_loopback() {
    use std::io::{Read, Write};
    for reserved in [false, true] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            // Answer the first connection that sends a request (bounded: a few connections).
            for conn in listener.incoming().take(4) {
                let Ok(mut c) = conn else { continue };
                c.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
                let mut buf = [0u8; 4096];
                match c.read(&mut buf) {
                    Ok(n) if n > 0 => {}
                    _ => continue,
                }
                let body = unhex(MIT_AS_ERROR_HEX);
                let mut rec =
                    (body.len() as u32 | if reserved { 0x8000_0000 } else { 0 }).to_be_bytes().to_vec();
                rec.extend_from_slice(&body);
                let _ = c.write_all(&rec[..10]);
                std::thread::sleep(std::time::Duration::from_millis(200));
                let _ = c.write_all(&rec[10..]);
                return;
            }
        });
        let path = std::env::temp_dir().join(format!("portqry-svc-krbtcp-{}-{port}", std::process::id()));
        std::fs::write(&path, format!("kerberos {port}/tcp\n")).unwrap();
        let p = port.to_string();
        let (code, out) = portqry(&[
            "-n",
            "127.0.0.1",
            "-nr",
            "-e",
            &p,
            "-p",
            "tcp",
            "--realm",
            "PQKDC.TEST",
            "--services",
            path.to_str().unwrap(),
        ]);
        let _ = std::fs::remove_file(&path);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(&format!("TCP port {p} (kerberos service): LISTENING")), "{out}");
        if reserved {
            assert!(out.contains("The reply did not parse as Kerberos: TCP record length 0x8000009c has the reserved bit set; reply was 4 byte(s): 80 00 00 9c"), "{out}");
        } else {
            assert!(
                out.contains("Kerberos error 6 (KDC_ERR_C_PRINCIPAL_UNKNOWN)\nRealm: PQKDC.TEST"),
                "{out}"
            );
        }
    }
}
