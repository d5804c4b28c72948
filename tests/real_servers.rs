//! Root tier: protocol queries against real servers from Debian packages
//! (dnsmasq, slapd, Samba nmbd, Samba as an AD DC, net-snmp snmpd, tftpd-hpa,
//! xl2tpd, vsftpd, OpenSMTPD, Dovecot, strongSwan), started in namespaces by
//! tests/servers/ensure.sh, cross-checked with the reference clients (dig,
//! ldapsearch, nmblookup, impacket, snmpget, tftp, python's ftplib, smtplib,
//! poplib and imaplib, swanctl), the servers' logs and tshark.
#![cfg(target_os = "linux")] // namespaces, iptables and Debian servers

use std::collections::BTreeSet;
use std::sync::Mutex;
#[path = "support/servers.rs"]
mod servers;
use servers::{Capture, ensure, portqry, sh};

/// One test at a time per server fixture: they share namespaces.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
#[ignore = "root: real dnsmasq in a namespace"]
fn dns_dnsmasq_udp_and_tcp() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("dns");
    let (_, dig, _) = sh(&["dig", "+short", &format!("@{ip}"), "dc1.portqry.test", "A"]);
    let want = dig.trim();
    assert!(!want.is_empty(), "dig found nothing");
    let (code, out) =
        portqry(&["-n", &ip, "-nr", "-e", "53", "-p", "both", "--dns-name", "dc1.portqry.test"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("TCP port 53 (domain service): LISTENING\n\nSending DNS query to TCP port 53...\n\nDNS response: NOERROR"), "{out}");
    assert!(out.contains("UDP port 53 (domain service): LISTENING or FILTERED\n\nSending DNS query to UDP port 53...\n\nDNS response: NOERROR"), "{out}");
    assert_eq!(out.matches("dc1.portqry.test. ").count(), 2, "{out}");
    assert!(out.contains(&format!(" IN A {want}")), "dig says {want}:\n{out}");
    assert!(out.contains("UDP port 53 is LISTENING"), "{out}");
    // A name outside dnsmasq's data: a negative answer still proves a DNS server.
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "53", "-p", "udp", "--dns-name", "nowhere.example"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("DNS response: REFUSED") || out.contains("DNS response: NXDOMAIN"), "{out}");
    assert!(out.contains("UDP port 53 is LISTENING"), "{out}");
}

/// Name-table lines as nmblookup prints them (tab, name, suffix, flags).
fn name_lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with('\t') && l.contains(" <") && l.contains("<ACTIVE>"))
        .map(|l| l.trim_end().to_string())
        .collect()
}

fn netbios_matches_nmblookup(service: &str, zero_mac: bool) {
    let ip = ensure(service);
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "137", "-p", "udp"]);
    let (_, nmb, _) = sh(&["nmblookup", "-A", &ip]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "Using ephemeral source port\nAttempting NETBIOS adapter status query to UDP port 137..."
        ),
        "{out}"
    );
    assert!(out.contains("UDP port 137 is LISTENING"), "{out}");
    let ours = name_lines(&out);
    assert!(!ours.is_empty(), "{out}");
    assert_eq!(ours, name_lines(&nmb), "ours:\n{out}\nnmblookup:\n{nmb}");
    // Same MAC as nmblookup at the same moment (Samba's DC invents one per start).
    let mac_line = |t: &str| t.lines().find(|l| l.contains("MAC Address = ")).map(|l| l.trim().to_string());
    assert_eq!(mac_line(&out), mac_line(&nmb), "ours:\n{out}\nnmblookup:\n{nmb}");
    let portqry_mac =
        mac_line(&nmb).unwrap().trim_start_matches("MAC Address = ").replace('-', "").to_lowercase();
    assert!(out.contains(&format!("Server's response: MAC address {portqry_mac}")), "{out}");
    if zero_mac {
        assert_eq!(portqry_mac, "000000000000");
    }
}

#[test]
#[ignore = "root: real Samba nmbd in a namespace"]
fn netbios_nmbd() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    netbios_matches_nmblookup("nmbd", true);
}

#[test]
#[ignore = "root: real Samba AD DC in a namespace"]
fn netbios_samba_dc() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    netbios_matches_nmblookup("dc", false);
}

/// The reference rootDSE: `ldapsearch -x -b '' -s base '*' '+'`, unwrapped LDIF.
fn ldapsearch_rootdse(ip: &str) -> (i32, String, String) {
    let url = format!("ldap://{ip}");
    sh(&["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", &url, "-b", "", "-s", "base", "*", "+"])
}

/// `attr: value` lines of an LDAP block or of ldapsearch's LDIF.
///
/// Values are compared with trailing blanks trimmed: LDIF prints an empty value
/// as `entryDN:`.
fn attr_lines(text: &str, from_portqry: bool) -> BTreeSet<String> {
    let body: &str = if from_portqry {
        let start = text.find("LDAP query response:").expect("no LDAP block");
        let end = text.find("======== End of LDAP query response ========").expect("no end marker");
        &text[start..end]
    } else {
        text
    };
    body.lines()
        .filter(|l| l.split_once(':').is_some_and(|(name, _)| !name.is_empty() && !name.contains(' ')))
        .filter(|l| !l.starts_with("dn:") && !l.to_lowercase().starts_with("currenttime:"))
        .filter(|l| !l.starts_with("currentdate:"))
        .map(|l| l.trim_end().to_string())
        .collect()
}

#[test]
#[ignore = "root: real slapd in a namespace"]
fn ldap_slapd_matches_ldapsearch() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("ldap");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "389"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("TCP port 389 (ldap service): LISTENING\n\nSending LDAP query to TCP port 389...\n\nLDAP query response:\n\n"), "{out}");
    let (_, ldif, err) = ldapsearch_rootdse(&ip);
    let theirs = attr_lines(&ldif, false);
    assert!(theirs.len() > 3, "ldapsearch: {ldif}{err}");
    assert_eq!(attr_lines(&out, true), theirs, "ours:\n{out}\nldapsearch:\n{ldif}");
    // slapd has no CLDAP: the port is closed, and says so.
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "389", "-p", "udp", "-v"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("UDP port 389 (ldap service): NOT LISTENING"), "{out}");
}

#[test]
#[ignore = "root: real Samba AD DC in a namespace"]
fn cldap_and_ldap_samba_dc() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("dc");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "389", "-p", "udp", "--timeout", "500"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("UDP port 389 (ldap service): LISTENING or FILTERED\n\nSending LDAP query to UDP port 389...\n\nLDAP query response:"), "{out}");
    assert!(out.contains("dnsHostName: dc1.portqry.test"), "{out}");
    assert!(out.contains("defaultNamingContext: DC=portqry,DC=test"), "{out}");
    assert!(
        out.contains("======== End of LDAP query response ========\n\nUDP port 389 is LISTENING"),
        "{out}"
    );
    // TCP: the same facts ldapsearch sees.
    let (code, tcp) = portqry(&["-n", &ip, "-nr", "-e", "389"]);
    assert_eq!(code, 0, "{tcp}");
    let (_, ldif, _) = ldapsearch_rootdse(&ip);
    let theirs = attr_lines(&ldif, false);
    let ours = attr_lines(&tcp, true);
    let missing: Vec<_> =
        theirs.difference(&ours).filter(|l| !l.starts_with("highestCommittedUSN")).collect();
    assert!(missing.is_empty(), "ldapsearch shows what we do not: {missing:?}\nours:\n{tcp}");
    // The DC's currentTime, shown as PortQry shows it: same day as ldapsearch's.
    let theirs =
        ldif.lines().find_map(|l| l.strip_prefix("currentTime: ")).expect("no currentTime from the DC");
    let day = format!("{}/{}/{}", &theirs[4..6], &theirs[6..8], &theirs[..4]);
    let line = tcp.lines().find(|l| l.starts_with("currentdate: ")).unwrap_or_else(|| panic!("{tcp}"));
    assert!(
        line.starts_with(&format!("currentdate: {day} ")) && line.ends_with(" (unadjusted GMT)"),
        "{line}"
    );
    assert!(!tcp.contains("currentTime:"), "{tcp}");
}

/// (interface uuid, binding) pairs.
fn epm_pairs_portqry(out: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = out.lines().collect();
    let mut pairs = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(rest) = l.strip_prefix("UUID: ") {
            let uuid = rest.split_whitespace().next().unwrap().to_string();
            pairs.push((uuid, lines.get(i + 1).unwrap_or(&"").to_string()));
        }
    }
    pairs.sort();
    pairs
}

#[test]
#[ignore = "root: real Samba AD DC in a namespace"]
fn epm_samba_dc_matches_impacket() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("dc");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "135"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("TCP port 135 (epmap service): LISTENING\n\nUsing ephemeral source port\nQuerying Endpoint Mapper Database...\nServer's response:\n\nUUID: "), "{out}");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/epm_dump.py");
    let (pc, dump, err) = sh(&["/opt/portqry-venv/bin/python", script, &ip]);
    assert_eq!(pc, 0, "epm_dump.py: {err}");
    let mut theirs: Vec<(String, String)> = dump
        .lines()
        .filter(|l| !l.starts_with("total"))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let uuid = it.next()?.to_string();
            let _vers = it.next()?;
            Some((uuid, it.collect::<Vec<_>>().join(" ")))
        })
        .collect();
    theirs.sort();
    let total: usize = dump
        .lines()
        .find_map(|l| l.strip_prefix("total "))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .expect("total");
    assert!(total > 10, "{dump}");
    assert!(
        out.contains(&format!(
            "Total endpoints found: {total}\n\n==== End of RPC Endpoint Mapper query response ===="
        )),
        "impacket total {total}:\n{out}"
    );
    assert_eq!(epm_pairs_portqry(&out), theirs, "ours:\n{out}\nimpacket:\n{dump}");
    // Samba serves no connectionless RPC: UDP 135 is closed, and the verdict says so.
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "135", "-p", "udp", "-v"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("UDP port 135 ("), "{out}");
    assert!(out.contains("): NOT LISTENING"), "{out}");
    // A range scan never dumps the endpoint mapper (PortQry's rule).
    let (_, out) = portqry(&["-n", &ip, "-nr", "-r", "135:135"]);
    assert!(
        out.contains("TCP port 135 (epmap service): LISTENING") && !out.contains("Querying Endpoint Mapper"),
        "{out}"
    );
}

/// tshark dissects every request we send without a malformed-packet warning.
#[test]
#[ignore = "root: tshark capture on the Samba DC's link"]
fn tshark_dissects_our_requests() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("dc");
    let cap = Capture::start("pqh-dc", &format!("host {ip}"), "dc");
    for args in [
        vec!["-e", "53", "-p", "both"],
        vec!["-e", "137", "-p", "udp"],
        vec!["-e", "389", "-p", "both"],
        vec!["-e", "135"],
    ] {
        let mut a = vec!["-n", ip.as_str(), "-nr", "--timeout", "300"];
        a.extend(args);
        portqry(&a);
    }
    let count = cap.stop();
    assert!(count("dns.flags.response == 0") >= 2, "no DNS queries seen");
    assert!(count("nbns.flags.response == 0") >= 1, "no NBNS query seen");
    assert!(count("cldap") >= 1, "no CLDAP seen");
    assert!(count("ldap.protocolOp == 3") >= 1, "no LDAP searchRequest seen");
    assert!(count("dcerpc.pkt_type == 11") >= 1, "no DCE/RPC bind seen");
    assert!(count("epm.opnum == 2") >= 1, "no ept_lookup seen");
}

/// `--jsonl` carries each protocol's parsed answer as structured fields.
#[test]
#[ignore = "root: real Samba AD DC in a namespace"]
fn json_protocol_answers_samba_dc() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("dc");
    let (code, out) =
        portqry(&["-n", &ip, "-nr", "-o", "53,137,389,135", "-p", "both", "--jsonl", "--timeout", "400"]);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert_eq!(code, 1, "137/tcp and 135/udp are closed on Samba:\n{out}");
    let get = |port: u64, proto: &str| {
        lines
            .iter()
            .find(|v| v["port"] == port && v["protocol"] == proto)
            .unwrap_or_else(|| panic!("{port}/{proto}"))
    };
    let dns = &get(53, "udp")["query"];
    assert_eq!(dns["protocol"], "dns");
    assert_eq!(dns["state"], "listening");
    assert!(dns["answer"]["rcode"].is_string(), "{dns}");
    assert_eq!(get(53, "udp")["probe_state"], "listening_or_filtered");
    assert_eq!(get(53, "udp")["state"], "listening");
    let nb = &get(137, "udp")["query"]["answer"];
    assert_eq!(nb["protocol"], "netbios");
    assert_eq!(nb["mac"].as_str().unwrap().len(), 12, "{nb}");
    assert!(nb["status"]["names"].as_array().unwrap().iter().any(|n| n["name"] == "DC1"), "{nb}");
    let ldap = &get(389, "udp")["query"]["answer"];
    assert_eq!(ldap["protocol"], "ldap");
    assert!(
        ldap["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "dnsHostName" && a["values"][0] == "dc1.portqry.test"),
        "{ldap}"
    );
    let epm = &get(135, "tcp")["query"]["answer"];
    assert_eq!(epm["protocol"], "epm");
    let entries = epm["entries"].as_array().unwrap();
    assert!(entries.len() > 10, "{epm}");
    assert!(entries.iter().all(|e| e["tower"]["binding"].is_string()), "{epm}");
    assert_eq!(get(135, "udp")["state"], "not_listening");
}

/// Values `snmpget -Oqv` prints, one per OID, without net-snmp's quotes.
fn snmpget_values(ip: &str, oids: &[&str]) -> Vec<String> {
    let mut cmd = vec!["snmpget", "-v2c", "-c", "portqry-test", "-t", "1", "-r", "1", "-Oqv", ip];
    cmd.extend_from_slice(oids);
    let (code, out, err) = sh(&cmd);
    assert_eq!(code, 0, "snmpget: {out}{err}");
    out.lines().map(|l| l.trim().trim_matches('"').to_string()).collect()
}

#[test]
#[ignore = "root: real net-snmp snmpd in a namespace"]
fn snmp_right_community_matches_snmpget() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("snmp");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "161", "-p", "udp", "-cn", "!portqry-test!", "-v"]);
    let theirs = snmpget_values(&ip, &["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("UDP port 161 (snmp service): LISTENING or FILTERED\n"), "{out}");
    assert!(out.contains("\n\ncommunity name for query:\n\nportqry-test\n\nSending SNMP query to UDP port 161...\n\nSNMP response (SNMPv2c):\n\nsysDescr.0: "), "{out}");
    assert!(!theirs[0].is_empty() && theirs[1] == "pq-snmp.portqry.test", "snmpget: {theirs:?}");
    assert!(out.contains(&format!("\nsysDescr.0: {}\n", theirs[0])), "snmpget says {theirs:?}:\n{out}");
    assert!(out.contains(&format!("\nsysName.0: {}\n\nUDP port 161 is LISTENING\n", theirs[1])), "{out}");
    assert!(out.contains("sysObjectID.0: 1.3.6.1.4.1.8072.3.2.10\n"), "net-snmp's Linux agent OID:\n{out}");
    assert!(out.contains(": an SNMPv2c response carrying our request-id\n"), "{out}");
    assert!(!out.contains("SNMPv3"), "no discovery when the community works:\n{out}");
    // --jsonl carries the same answer as structured fields.
    let (code, json) =
        portqry(&["-n", &ip, "-nr", "-e", "161", "-p", "udp", "-cn", "!portqry-test!", "--jsonl"]);
    assert_eq!(code, 0, "{json}");
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect(&json);
    let (q, a) = (&v["query"], &v["query"]["answer"]);
    let text = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
    let got = [&q["protocol"], &q["state"], &a["protocol"], &a["version"]].map(text);
    assert_eq!(got, ["snmp", "listening", "snmp", "v2c"], "{v}");
    let names: Vec<&str> =
        a["varbinds"].as_array().unwrap().iter().filter_map(|b| b["name"].as_str()).collect();
    assert_eq!(names, ["sysDescr.0", "sysObjectID.0", "sysUpTime.0", "sysName.0"], "{v}");
    assert_eq!(a["varbinds"][3]["value"], theirs[1].as_str(), "{v}");
    assert_eq!(v["state"], "listening");
}

/// snmpEngineID.0 as lowercase hex, read with the right community.
fn snmp_engine_id(ip: &str) -> String {
    let (code, out, err) = sh(&[
        "snmpget",
        "-v2c",
        "-c",
        "portqry-test",
        "-t",
        "1",
        "-r",
        "1",
        "-Ox",
        ip,
        "1.3.6.1.6.3.10.2.1.1.0",
    ]);
    assert_eq!(code, 0, "snmpget: {out}{err}");
    let hex = out.split_once("Hex-STRING:").unwrap_or_else(|| panic!("snmpget: {out}")).1;
    hex.split_whitespace().collect::<String>().to_lowercase()
}

#[test]
#[ignore = "root: real net-snmp snmpd in a namespace"]
fn snmp_wrong_community_proven_by_v3_report() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("snmp");
    let (code, out) =
        portqry(&["-n", &ip, "-nr", "-e", "161", "-p", "udp", "-cn", "!wrong!", "-v", "--timeout", "500"]);
    let engine = snmp_engine_id(&ip);
    assert_eq!(code, 0, "{out}");
    assert!(engine.len() >= 10, "snmpEngineID: {engine}");
    assert!(out.contains("community name for query:\n\nwrong\n\nSending SNMP query to UDP port 161...\n\nNo answer to the SNMPv2c query (an agent drops a community name it does not accept)\n\nSending SNMPv3 engine discovery to UDP port 161...\n\n"), "{out}");
    assert!(
        out.contains(&format!("SNMPv3 agent answered (engine ID {engine}, engine boots ")),
        "snmpget says engine ID {engine}:\n{out}"
    );
    assert!(out.contains("\nusmStatsUnknownEngineIDs.0: "), "{out}");
    assert!(out.contains("The community name was not accepted, or the agent does not serve SNMPv1/v2c\n\nUDP port 161 is LISTENING\n"), "{out}");
    assert!(out.contains(": an SNMPv3 report carrying our msgID\n"), "{out}");
    let (_, json) = portqry(&[
        "-n",
        &ip,
        "-nr",
        "-e",
        "161",
        "-p",
        "udp",
        "-cn",
        "!wrong!",
        "--jsonl",
        "--timeout",
        "500",
    ]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect(&json);
    let a = &v["query"]["answer"];
    let got =
        [&a["version"], &a["pdu"], &a["engine"]["id"]].map(|x| x.as_str().unwrap_or_default().to_string());
    assert_eq!(got, ["v3".to_string(), "report".into(), engine], "{v}");
    assert_eq!(v["state"], "listening");
}

/// tshark dissects both our requests (and snmpd's replies) without a malformed-packet warning.
#[test]
#[ignore = "root: tshark capture on the snmpd link"]
fn snmp_tshark_dissects_our_requests() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("snmp");
    let cap = Capture::start("pqh-snmp", &format!("host {ip}"), "snmp");
    for community in ["!portqry-test!", "!wrong!"] {
        portqry(&["-n", &ip, "-nr", "-e", "161", "-p", "udp", "-cn", community, "--timeout", "300"]);
    }
    let count = cap.stop();
    assert!(
        count("snmp.version == 1 && snmp.community == \"portqry-test\" && snmp.get_request_element") >= 1,
        "no v2c get-request seen"
    );
    assert!(count("snmp.name == 1.3.6.1.2.1.1.5.0") >= 2, "sysName.0 not asked and answered");
    assert!(
        count("snmp.version == 1 && snmp.community == \"wrong\" && snmp.get_request_element") >= 1,
        "no v2c get-request with the wrong community"
    );
    assert!(
        count(
            "snmp.msgVersion == 3 && snmp.get_request_element && snmp.v3.flags.report == 1 && snmp.msgUserName == \"\""
        ) >= 1,
        "no v3 discovery seen"
    );
    assert!(
        count("snmp.msgVersion == 3 && snmp.report_element && snmp.msgAuthoritativeEngineID") >= 1,
        "no v3 report seen"
    );
}

/// Stop `service`'s daemon `daemon` (SIGTERM to its pid file), wait until nothing is
/// bound to UDP `port` in its namespace, probe the port with `-v`, then restart the
/// service for the other tests. Returns the probe's exit code and output.
fn probe_with_daemon_stopped(service: &str, daemon: &str, ip: &str, port: u16) -> (i32, String) {
    let pidfile = format!("/run/portqry-test/{service}/pids/{daemon}.pid");
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    // SAFETY: signalling the fixture's daemon, whose pid file ensure.sh just checked.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let (ns, bound) = (format!("pq-{service}"), format!(":{port}"));
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !sh(&["ip", "netns", "exec", &ns, "ss", "-Huan", &format!("sport = {bound}")]).1.contains(&bound)
    });
    let result = portqry(&["-n", ip, "-nr", "-e", &port.to_string(), "-p", "udp", "-v"]);
    ensure(service); // restart it for the other tests
    assert!(gone, "{daemon} did not stop");
    result
}

#[test]
#[ignore = "root: real net-snmp snmpd in a namespace"]
fn snmp_closed_stopped_and_dropped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("snmp");
    // Nothing on 162/udp: the target's own port unreachable.
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "162", "-p", "udp", "-v"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("UDP port 162 (snmp-trap service): NOT LISTENING"), "{out}");
    // A firewall dropping 161: silence to the probe and to both queries.
    ipt("pq-snmp", &["-I", "INPUT", "-p", "udp", "--dport", "161", "-j", "DROP"]);
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "161", "-p", "udp", "--timeout", "300", "-v"]);
    ipt("pq-snmp", &["-D", "INPUT", "-p", "udp", "--dport", "161", "-j", "DROP"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("No answer to the SNMPv3 engine discovery\n\nUDP port 161 is LISTENING or FILTERED\n    evidence: no response to 4 tries"), "{out}");
    // snmpd stopped: the port is closed, and the probe already says so.
    let (code, out) = probe_with_daemon_stopped("snmp", "snmpd", &ip, 161);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("UDP port 161 (snmp service): NOT LISTENING\n    evidence: ICMP port unreachable"),
        "{out}"
    );
    assert!(!out.contains("Sending SNMP query"), "{out}");
}

/// Run iptables inside a fixture's namespace; the rule must apply.
fn ipt(ns: &str, args: &[&str]) {
    let mut cmd = vec!["ip", "netns", "exec", ns, "iptables"];
    cmd.extend_from_slice(args);
    let (code, o, e) = sh(&cmd);
    assert_eq!(code, 0, "{cmd:?}: {o}{e}");
}

/// What tftp-hpa's client reports for a missing file: (error code, message).
fn tftp_client_error(ip: &str, file: &str) -> (u16, String) {
    let (_, out, err) = sh(&["timeout", "10", "tftp", "-m", "octet", ip, "-c", "get", file, "/dev/null"]);
    let text = format!("{out}{err}");
    let line =
        text.lines().find_map(|l| l.strip_prefix("Error code ")).unwrap_or_else(|| panic!("tftp: {text}"));
    let (code, msg) = line.split_once(": ").unwrap_or_else(|| panic!("tftp: {text}"));
    (code.parse().unwrap(), msg.trim().to_string())
}

#[test]
#[ignore = "root: real tftpd-hpa in a namespace"]
fn tftp_tftpd_hpa_matches_tftp_client() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("tftp");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "69", "-p", "udp", "-v"]);
    let (their_code, their_msg) = tftp_client_error(&ip, "portqry-probe-reference");
    assert_eq!(code, 0, "{out}");
    assert_eq!((their_code, their_msg.as_str()), (1, "File not found"), "tftp client");
    assert!(out.contains("UDP port 69 (tftp service): LISTENING or FILTERED\n"), "{out}");
    assert!(
        out.contains("\n\nSending TFTP query to UDP port 69...\n\nTFTP read request for portqry-probe-"),
        "{out}"
    );
    let line = out.lines().find(|l| l.starts_with("TFTP error code ")).unwrap_or_else(|| panic!("{out}"));
    let tid: u16 =
        line.split(" from port ").nth(1).and_then(|r| r.split(':').next()).unwrap().parse().unwrap();
    assert_ne!(tid, 69, "tftpd answers from its transfer ID:\n{out}");
    assert_eq!(
        line,
        format!("TFTP error code {their_code} (file not found) from port {tid}: {their_msg}"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{line}\n\nUDP port 69 is LISTENING\n    evidence: UDP reply of ")),
        "{out}"
    );
    assert!(out.contains(&format!(": a TFTP ERROR from port {tid} (the server's transfer ID)\n")), "{out}");
    // --jsonl carries the same answer as structured fields.
    let (code, json) = portqry(&["-n", &ip, "-nr", "-e", "69", "-p", "udp", "--jsonl"]);
    assert_eq!(code, 0, "{json}");
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect(&json);
    let a = &v["query"]["answer"];
    let got = [&a["protocol"], &a["opcode"], &a["name"], &a["message"]]
        .map(|x| x.as_str().unwrap_or_default().to_string());
    assert_eq!(got, ["tftp", "error", "file not found", their_msg.as_str()], "{v}");
    assert_eq!((a["code"].as_u64(), &a["stopped_with"]), (Some(1), &serde_json::Value::Null), "{v}");
    assert_eq!(v["state"], "listening", "{v}");
}

#[test]
#[ignore = "root: real tftpd-hpa in a namespace"]
fn tftp_rejected_dropped_and_stopped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("tftp");
    // The empty probe datagram (28 bytes of IP) is dropped, the RRQ rejected with the
    // target's own port unreachable: the query's unconnected socket still gets it.
    let probe = ["-p", "udp", "--dport", "69", "-m", "length", "--length", "28", "-j", "DROP"];
    let reject = ["-p", "udp", "--dport", "69", "-j", "REJECT", "--reject-with", "icmp-port-unreachable"];
    ipt("pq-tftp", &[&["-I", "INPUT", "1"][..], &probe].concat());
    ipt("pq-tftp", &[&["-I", "INPUT", "2"][..], &reject].concat());
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "69", "-p", "udp", "--timeout", "300", "-v"]);
    ipt("pq-tftp", &[&["-D", "INPUT"][..], &reject].concat());
    let (dcode, dropped) = portqry(&["-n", &ip, "-nr", "-e", "69", "-p", "udp", "--timeout", "300", "-v"]);
    ipt("pq-tftp", &[&["-D", "INPUT"][..], &probe].concat());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("UDP port 69 (tftp service): LISTENING or FILTERED\n"), "{out}");
    assert!(
        out.contains(&format!("Sending TFTP query to UDP port 69...\n\nUDP port 69 is NOT LISTENING\n    evidence: ICMP port unreachable (type 3, code 3) from {ip} (the target)")),
        "{out}"
    );
    // The probe dropped, the RRQ let through: still answered.
    assert_eq!(dcode, 0, "{dropped}");
    assert!(dropped.contains("TFTP error code 1 (file not found)"), "{dropped}");
    // Everything dropped: the query's silence is FILTERED.
    ipt("pq-tftp", &["-I", "INPUT", "-p", "udp", "--dport", "69", "-j", "DROP"]);
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "69", "-p", "udp", "--timeout", "300", "-v"]);
    ipt("pq-tftp", &["-D", "INPUT", "-p", "udp", "--dport", "69", "-j", "DROP"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("Sending TFTP query to UDP port 69...\n\nUDP port 69 is FILTERED\n    evidence: no response to 2 tries"), "{out}");
    // tftpd stopped: the target's port unreachable answers the probe itself.
    let (code, out) = probe_with_daemon_stopped("tftp", "in.tftpd", &ip, 69);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("UDP port 69 (tftp service): NOT LISTENING\n    evidence: ICMP port unreachable"),
        "{out}"
    );
    assert!(!out.contains("Sending TFTP query"), "{out}");
}

/// tshark dissects our RRQ and tftpd's ERROR from its transfer ID cleanly.
#[test]
#[ignore = "root: tshark capture on the tftpd link"]
fn tftp_tshark_dissects_request_and_reply() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("tftp");
    let cap = Capture::start("pqh-tftp", &format!("host {ip}"), "tftp");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "69", "-p", "udp"]);
    assert_eq!(code, 0, "{out}");
    let count = cap.stop();
    assert_eq!(
        count("tftp.opcode == 1 && tftp.source_file contains \"portqry-probe-\" && tftp.type == \"octet\""),
        1,
        "one RRQ"
    );
    assert_eq!(count("tftp.opcode == 5 && tftp.error.code == 1 && udp.srcport != 69"), 1, "tftpd's ERROR");
}

/// The LNS host name from tests/servers/ensure.sh (`L2TP_HOSTNAME`).
const L2TP_HOSTNAME: &str = "pq-lns.portqry.test";

#[test]
#[ignore = "root: real xl2tpd in a namespace"]
fn l2tp_xl2tpd_answers_and_tunnel_is_closed() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("l2tp");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "1701", "-p", "udp", "-v"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\n\nSending L2TP query to UDP port 1701...\n\nL2TP response: SCCRP (Start-Control-Connection-Reply), message type 2\n"), "{out}");
    assert!(
        out.contains(&format!(
            "\nHost Name: {L2TP_HOSTNAME}\nVendor Name: xelerance.com\nAssigned Tunnel ID: "
        )),
        "{out}"
    );
    assert!(out.contains(", acknowledged\n\nUDP port 1701 is LISTENING\n"), "{out}");
    assert!(out.contains(": an L2TP SCCRP for our tunnel "), "{out}");
    // JSON gives both tunnel IDs; xl2tpd's log must show that very tunnel closed.
    let (code, json) = portqry(&["-n", &ip, "-nr", "-e", "1701", "-p", "udp", "--jsonl"]);
    assert_eq!(code, 0, "{json}");
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect(&json);
    let a = &v["query"]["answer"];
    assert_eq!(
        (a["protocol"].as_str(), a["reply"]["message_name"].as_str()),
        (Some("l2tp"), Some("SCCRP")),
        "{v}"
    );
    assert_eq!(a["reply"]["host_name"], L2TP_HOSTNAME, "{v}");
    let ours = a["our_tunnel_id"].as_u64().unwrap();
    let theirs = a["reply"]["assigned_tunnel_id"].as_u64().unwrap();
    assert_eq!(a["closing"]["sent"], "stopccn", "{v}");
    assert_eq!(
        (a["closing"]["tunnel_id"].as_u64(), a["closing"]["acknowledged"].as_bool()),
        (Some(theirs), Some(true)),
        "{v}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = std::fs::read_to_string("/run/portqry-test/l2tp/xl2tpd.log").unwrap();
    for want in [
        format!("assigned_tunnel_avp: using peer's tunnel {ours}"),
        "result_code_avp: peer closing for reason 1 (General request to clear control connection)"
            .to_string(),
        format!("Local: {theirs}, Remote: {ours}"),
        format!("build_fdset: closing down tunnel {theirs}"),
    ] {
        assert!(log.contains(&want), "xl2tpd.log lacks {want:?}:\n{log}");
    }
    assert!(log.contains("hostname_avp: peer reports hostname 'portqry'"), "{log}");
    // Every tunnel xl2tpd ever opened (ours, since its start) is closed again.
    let (opened, closed) =
        (log.matches("allocating new tunnel").count(), log.matches("closing down tunnel").count());
    assert_eq!(opened, closed, "tunnels left open:\n{log}");
}

/// tshark dissects our SCCRQ and StopCCN, and xl2tpd's SCCRP and ZLB, cleanly.
#[test]
#[ignore = "root: tshark capture on the xl2tpd link"]
fn l2tp_tshark_dissects_sccrq_and_stopccn() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("l2tp");
    let cap = Capture::start("pqh-l2tp", &format!("host {ip}"), "l2tp");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "1701", "-p", "udp"]);
    assert_eq!(code, 0, "{out}");
    let count = cap.stop();
    assert_eq!(count("l2tp.avp.message_type == 1 && l2tp.avp.host_name == \"portqry\""), 1, "our SCCRQ");
    assert_eq!(
        count(&format!("l2tp.avp.message_type == 2 && l2tp.avp.host_name == \"{L2TP_HOSTNAME}\"")),
        1,
        "SCCRP"
    );
    assert_eq!(
        count("l2tp.avp.message_type == 4 && l2tp.result_code == 1 && l2tp.Ns == 1 && l2tp.Nr == 1"),
        1,
        "our StopCCN"
    );
    assert_eq!(count("l2tp.type == 1 && !l2tp.avp.message_type && l2tp.Nr == 2"), 1, "xl2tpd's ZLB ack");
}

/// Debian's python3 (stdlib only), for the reference clients of the banner tests.
fn python(script: &str, args: &[&str]) -> String {
    let mut cmd = vec!["timeout", "20", "/usr/bin/python3", "-c", script];
    cmd.extend_from_slice(args);
    let (code, out, err) = sh(&cmd);
    assert_eq!(code, 0, "python3 {args:?}: {out}{err}");
    out
}

/// The block PortQry prints after "Data returned from port:", up to the blank
/// line that ends it (for FTP, up to the blank line after the USER reply).
fn banner_block(out: &str, port: u16) -> Vec<String> {
    let head = format!("TCP port {port} (");
    let start = out.find(&head).unwrap_or_else(|| panic!("no port {port}:\n{out}"));
    let rest = &out[start..];
    let data = rest.find("\n\nData returned from port:\n").unwrap_or_else(|| panic!("no banner:\n{rest}"));
    let body = &rest[data + "\n\nData returned from port:\n".len()..];
    let mut lines: Vec<String> = Vec::new();
    for l in body.lines() {
        if l.starts_with("TCP port ") {
            break;
        }
        lines.push(l.to_string());
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Lines of a log file after the first `skip` lines.
fn log_tail(path: &str, skip: usize) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().skip(skip).map(str::to_string).collect()
}

fn log_len(path: &str) -> usize {
    std::fs::read_to_string(path).unwrap_or_default().lines().count()
}

const VSFTPD_LOG: &str = "/run/portqry-test/ftp/vsftpd.log";

/// ftplib's greeting and USER reply, then QUIT: the reference for PortQry's FTP block.
const FTPLIB: &str = "import ftplib,sys
f = ftplib.FTP(sys.argv[1], timeout=5)
print(f.getwelcome())
print()
try:
    print(f.sendcmd('USER anonymous'))
except ftplib.Error as e:
    print(e)
f.quit()";

#[test]
#[ignore = "root: real vsftpd in a namespace"]
fn banner_ftp_vsftpd_matches_ftplib() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("ftp");
    let before = log_len(VSFTPD_LOG);
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "21"]);
    let reference = python(FTPLIB, &[&ip]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("TCP port 21 (ftp service): LISTENING\n\nData returned from port:\n220-"), "{out}");
    // ftplib keeps the blank after the last "220 "; we trim trailing blanks.
    let want: Vec<String> = reference.lines().map(|l| l.trim_end().to_string()).collect();
    assert_eq!(banner_block(&out, 21), want, "ours:\n{out}\nftplib:\n{reference}");
    assert_eq!(want.len(), 5, "vsftpd's two-line banner_file, the 220 line, a blank, the 331: {want:?}");
    assert_eq!(want[4], "331 Please specify the password.", "{reference}");
    // vsftpd's protocol log: our session sent USER anonymous and QUIT, and no password.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = log_tail(VSFTPD_LOG, before);
    let commands: Vec<&String> = log.iter().filter(|l| l.contains("FTP command:")).collect();
    assert!(commands.len() >= 4, "two sessions (ours and ftplib's):\n{}", log.join("\n"));
    let ours: Vec<&str> = commands[..2].iter().map(|l| l.rsplit(", ").next().unwrap()).collect();
    assert_eq!(ours, ["\"USER anonymous\"", "\"QUIT\""], "{}", log.join("\n"));
    assert!(!log.iter().any(|l| l.contains("\"PASS")), "no password is sent:\n{}", log.join("\n"));
    // --jsonl: the same lines and codes as fields.
    let (code, json) = portqry(&["-n", &ip, "-nr", "-e", "21", "--jsonl"]);
    assert_eq!(code, 0, "{json}");
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect(&json);
    let a = &v["query"]["answer"];
    assert_eq!((a["protocol"].as_str(), a["greeting"]["code"].as_u64()), (Some("ftp"), Some(220)), "{v}");
    assert_eq!(a["greeting"]["lines"], serde_json::json!(want[..3]), "{v}");
    assert_eq!(a["login"]["command"], "USER anonymous", "{v}");
    assert_eq!(a["login"]["reply"]["code"], 331, "{v}");
    assert_eq!(
        (a["closing"]["command"].as_str(), a["closing"]["reply"]["code"].as_u64()),
        (Some("QUIT"), Some(221))
    );
    assert_eq!(v["state"], "listening", "{v}");
}

const SMTPD_LOG: &str = "/run/portqry-test/mail/smtpd.log";
const DOVECOT_LOG: &str = "/run/portqry-test/mail/dovecot.log";

/// smtplib, poplib and imaplib: each greeting on one line, each session ended politely.
const MAIL_CLIENTS: &str = "import imaplib,poplib,smtplib,sys
ip = sys.argv[1]
s = smtplib.SMTP(timeout=5)
code, msg = s.connect(ip, 25)
print(code, msg.decode())
s.quit()
p = poplib.POP3(ip, 110, timeout=5)
print(p.getwelcome().decode())
p.quit()
m = imaplib.IMAP4(ip, 143, timeout=5)
print(m.welcome.decode())
m.logout()";

#[test]
#[ignore = "root: real OpenSMTPD and Dovecot in a namespace"]
fn banner_smtp_pop3_imap_match_python_clients() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("mail");
    let (smtpd_before, dovecot_before) = (log_len(SMTPD_LOG), log_len(DOVECOT_LOG));
    let (code, out) = portqry(&["-n", &ip, "-nr", "-o", "25,110,143"]);
    let reference = python(MAIL_CLIENTS, &[&ip]);
    assert_eq!(code, 0, "{out}");
    let want: Vec<&str> = reference.lines().collect();
    assert_eq!(want.len(), 3, "{reference}");
    assert_eq!(banner_block(&out, 25), [want[0]], "ours:\n{out}\nsmtplib:\n{reference}");
    assert_eq!(banner_block(&out, 110), [want[1]], "ours:\n{out}\npoplib:\n{reference}");
    assert_eq!(banner_block(&out, 143), [want[2]], "ours:\n{out}\nimaplib:\n{reference}");
    assert!(want[0].starts_with("220 pq-mail.portqry.test ESMTP"), "{reference}");
    assert!(
        out.contains("TCP port 143 (imap2 service): LISTENING\n\nData returned from port:\n* OK "),
        "{out}"
    );
    // The servers' logs: our sessions (and the clients') ended with QUIT / LOGOUT.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let smtpd = log_tail(SMTPD_LOG, smtpd_before);
    let quits = smtpd.iter().filter(|l| l.contains("smtp disconnected reason=quit")).count();
    assert_eq!(quits, 2, "ours and smtplib's:\n{}", smtpd.join("\n"));
    let dovecot = log_tail(DOVECOT_LOG, dovecot_before);
    for service in ["pop3-login", "imap-login"] {
        let polite = dovecot
            .iter()
            .filter(|l| l.contains(service) && l.contains("Aborted login by logging out"))
            .count();
        assert_eq!(polite, 2, "{service}: ours and the client's:\n{}", dovecot.join("\n"));
    }
    // --jsonl: status words and the closing replies.
    let (code, json) = portqry(&["-n", &ip, "-nr", "-o", "25,110,143", "--jsonl"]);
    assert_eq!(code, 0, "{json}");
    let v: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    let a: Vec<&serde_json::Value> = v.iter().map(|r| &r["query"]["answer"]).collect();
    assert_eq!((a[0]["protocol"].as_str(), a[0]["greeting"]["code"].as_u64()), (Some("smtp"), Some(220)));
    assert_eq!(a[0]["closing"]["reply"]["code"], 221, "{}", a[0]);
    assert_eq!((a[1]["protocol"].as_str(), a[1]["greeting"]["status"].as_str()), (Some("pop3"), Some("+OK")));
    assert_eq!(a[1]["closing"]["reply"]["status"], "+OK", "{}", a[1]);
    assert_eq!((a[2]["protocol"].as_str(), a[2]["greeting"]["status"].as_str()), (Some("imap"), Some("OK")));
    assert_eq!(a[2]["closing"]["command"], "a1 LOGOUT", "{}", a[2]);
    assert_eq!(a[2]["closing"]["reply"]["status"], "OK", "{}", a[2]);
    assert!(a.iter().all(|x| x["login"].is_null()), "only FTP logs on");
}

/// Closed ports get no banner block; banners also run during a range (`-r`).
#[test]
#[ignore = "root: real vsftpd, OpenSMTPD and Dovecot in namespaces"]
fn banner_closed_ports_and_ranges() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (ftp, mail) = (ensure("ftp"), ensure("mail"));
    let (code, out) = portqry(&["-n", &mail, "-nr", "-e", "21", "-v"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TCP port 21 (ftp service): NOT LISTENING\n    evidence: TCP reset (RST)"), "{out}");
    assert!(!out.contains("Data returned") && !out.contains("No data returned"), "{out}");
    let (code, out) = portqry(&["-n", &ftp, "-nr", "-o", "25,110,143"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.matches(": NOT LISTENING").count(), 3, "{out}");
    assert!(!out.contains("Data returned"), "{out}");
    // A range: 109 and 111 closed, 110 shows its greeting.
    let (code, out) = portqry(&["-n", &mail, "-nr", "-r", "109:111"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "TCP port 110 (pop3 service): LISTENING\n\nData returned from port:\n+OK portqry test mail server ready.\n\n"
        ),
        "{out}"
    );
}

/// tshark dissects our FTP, SMTP, POP3 and IMAP commands (and the replies) cleanly.
#[test]
#[ignore = "root: tshark captures on the vsftpd and mail links"]
fn banner_tshark_dissects_our_commands() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (ftp, mail) = (ensure("ftp"), ensure("mail"));
    let cap = Capture::start("pqh-ftp", &format!("host {ftp}"), "ftp");
    let (code, out) = portqry(&["-n", &ftp, "-nr", "-e", "21"]);
    assert_eq!(code, 0, "{out}");
    let count = cap.stop();
    // vsftpd sends its multi-line greeting in more than one segment.
    assert!(count("ftp.response.code == 220") >= 1, "the greeting");
    assert_eq!(count("ftp.request.command == \"USER\" && ftp.request.arg == \"anonymous\""), 1, "USER");
    assert_eq!(count("ftp.response.code == 331"), 1, "331");
    assert_eq!(count("ftp.request.command == \"QUIT\""), 1, "QUIT");
    assert_eq!(count("ftp.response.code == 221"), 1, "221");
    assert_eq!(count("ftp.request.command == \"PASS\""), 0, "no password");
    let cap = Capture::start("pqh-mail", &format!("host {mail}"), "mail");
    let (code, out) = portqry(&["-n", &mail, "-nr", "-o", "25,110,143"]);
    assert_eq!(code, 0, "{out}");
    let count = cap.stop();
    assert_eq!(count("smtp.response.code == 220"), 1, "SMTP greeting");
    assert_eq!(count("smtp.req.command == \"QUIT\""), 1, "SMTP QUIT");
    assert_eq!(count("smtp.response.code == 221"), 1, "SMTP 221");
    assert_eq!(count("smtp.req.command && smtp.req.command != \"QUIT\""), 0, "nothing but QUIT");
    assert_eq!(count("pop.request.command == \"QUIT\""), 1, "POP3 QUIT");
    assert_eq!(count("pop.response.indicator == \"+OK\""), 2, "POP3 greeting and QUIT reply");
    assert_eq!(count("imap.request.command == \"LOGOUT\" && imap.request_tag == \"a1\""), 1, "IMAP LOGOUT");
    assert_eq!(count("imap.response.status == \"OK\" && imap.response_tag == \"a1\""), 1, "IMAP a1 OK");
}

/// strongSwan's charon (ensure.sh ike): one IKEv2 connection, proposal
/// aes256-sha256-modp2048, all of it in our offer.
const IKE_VICI: &str = "unix:///run/portqry-test/ike/charon.vici";
const IKE_LOG: &str = "/run/portqry-test/ike/charon.log";

/// charon answers our IKE_SA_INIT with SA/KE/Nonce choosing its configured
/// proposal; `swanctl --list-sas` shows the half-open SA under our initiator SPI
/// and the responder SPI we printed, with the same algorithms. The same from
/// source port 500 (`-sp 500`).
#[test]
#[ignore = "root: real strongSwan charon in a namespace"]
fn ike_strongswan_answers_sa_init() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("ike");
    let skip = log_len(IKE_LOG);
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "500", "-p", "udp", "-v"]);
    assert_eq!(code, 0, "{out}");
    // charon read our request whole and chose its configured proposal from our offer.
    let log = log_tail(IKE_LOG, skip).join("\n");
    for want in [
        "parsed IKE_SA_INIT request 0 [ SA KE No ]",
        "selected proposal: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048",
        "generating IKE_SA_INIT response 0 [ SA KE No N(CHDLESS_SUP) N(MULT_AUTH) V ]",
    ] {
        assert!(log.contains(want), "charon.log lacks {want:?}:\n{log}");
    }
    assert!(
        out.contains(
            "\n\nSending IKE query to UDP port 500...\n\nServer's response:\n\n\
             IKEv2 IKE_SA_INIT response (exchange type 34)\nInitiator SPI: "
        ),
        "{out}"
    );
    assert!(out.contains("\nPayloads: SA, KE, Nonce, "), "{out}");
    assert!(
        out.contains(
            "\nChosen proposal 1: ENCR AES_CBC-256, INTEG HMAC_SHA2_256_128, PRF HMAC_SHA2_256, DH MODP_2048\n\
             Key exchange: group 14 (MODP_2048), 256 bytes\nNonce: 32 bytes\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "\nVendor ID: 882fe56d6fd20dbc2251613b2ebe5beb (strongSwan)\n\nUDP port 500 is LISTENING\n"
        ),
        "{out}"
    );
    assert!(out.contains(": an IKEv2 IKE_SA_INIT response carrying our initiator SPI"), "{out}");
    for sp in [None, Some("500")] {
        let mut args = vec!["-n", ip.as_str(), "-nr", "-e", "500", "-p", "udp", "--jsonl"];
        args.extend(sp.map(|p| ["-sp", p]).iter().flatten());
        let (code, json) = portqry(&args);
        assert_eq!(code, 0, "{json}");
        let v: serde_json::Value = serde_json::from_str(json.trim()).expect(&json);
        let a = &v["query"]["answer"];
        assert_eq!(
            (a["protocol"].as_str(), a["exchange"].as_str()),
            (Some("ike"), Some("IKE_SA_INIT")),
            "{v}"
        );
        let (i, r) = (a["initiator_spi"].as_str().unwrap(), a["responder_spi"].as_str().unwrap());
        // charon keeps the half-open SA (until its half_open_timeout): our SPIs, our port.
        let (_, sas, e) = sh(&["swanctl", "--list-sas", "--uri", IKE_VICI]);
        let head = format!("CONNECTING, IKEv2, {i}_i {r}_r*");
        let block: Vec<&str> = sas.split('\n').skip_while(|l| !l.contains(&head)).take(4).collect();
        assert!(!block.is_empty(), "no SA {head} in:\n{sas}{e}");
        assert!(block[3].contains("AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"), "{block:?}");
        if sp.is_some() {
            assert!(block[2].contains("remote '%any' @ 198.18.22.1[500]"), "{block:?}");
        } else {
            assert!(!block[2].contains("[500]"), "{block:?}");
        }
    }
}

/// Our query rejected by the target (its own ICMP port unreachable) is NOT
/// LISTENING; dropped, it is FILTERED with the source-port hint. The empty probe
/// (a 28-byte IP packet) passes the rules, so the query decides.
#[test]
#[ignore = "root: real strongSwan charon in a namespace"]
fn ike_rejected_and_dropped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("ike");
    for (target, code, verdict) in [("REJECT", 1, "NOT LISTENING"), ("DROP", 2, "FILTERED")] {
        let rule = ["-p", "udp", "--dport", "500", "-m", "length", "--length", "29:65535", "-j", target];
        ipt("pq-ike", &[&["-I", "INPUT"], &rule[..]].concat());
        let (got, out) = portqry(&["-n", &ip, "-nr", "-e", "500", "-p", "udp", "--timeout", "300", "-v"]);
        ipt("pq-ike", &[&["-D", "INPUT"], &rule[..]].concat());
        assert_eq!(got, code, "{out}");
        assert!(out.contains(&format!("UDP port 500 is {verdict}\n")), "{out}");
        if target == "REJECT" {
            assert!(
                out.contains(
                    "evidence: ICMP port unreachable (type 3, code 3) from 198.18.22.2 (the target)"
                ),
                "{out}"
            );
        } else {
            assert!(
                out.contains("No IKE answer; some IKEv1-only responders answer only source port 500"),
                "{out}"
            );
        }
    }
}

/// tshark's isakmp dissector reads our IKE_SA_INIT and charon's response cleanly.
#[test]
#[ignore = "root: tshark capture on the strongSwan link"]
fn ike_tshark_dissects_sa_init() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ip = ensure("ike");
    let cap = Capture::start("pqh-ike", &format!("host {ip}"), "ike");
    let (code, out) = portqry(&["-n", &ip, "-nr", "-e", "500", "-p", "udp"]);
    assert_eq!(code, 0, "{out}");
    let count = cap.stop();
    // Ours: IKEv2 IKE_SA_INIT, Initiator flag, SA with AES_CBC and a group 14 KE.
    let request = "isakmp.version == 0x20 && isakmp.exchangetype == 34 && isakmp.flags == 0x08 \
                   && isakmp.tf.id.encr == 12 && isakmp.key_exchange.dh_group == 14 && isakmp.nonce";
    assert_eq!(count(request), 1, "our IKE_SA_INIT");
    let reply = "isakmp.exchangetype == 34 && isakmp.flags == 0x20 && isakmp.tf.id.encr == 12 \
                 && isakmp.tf.id.dh == 14 && isakmp.key_exchange.dh_group == 14 && isakmp.nonce";
    assert_eq!(count(reply), 1, "charon's response");
}
