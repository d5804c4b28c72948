//! Root tier: real Linux stacks and real firewalls in namespaces the test
//! creates (client ⇄ router ⇄ target). Each case asserts the exact PortQry
//! status line, the evidence (ICMP type/code and who sent it) and the exit code.
//!
//! Run by .ci/run as root: `cargo test -- --include-ignored`.
#![cfg(target_os = "linux")] // namespaces, iptables and Debian servers

#[path = "support/json_shape.rs"]
mod json_shape;
#[path = "support/lab.rs"]
mod lab;

use lab::*;

struct Case {
    port: u16,
    /// Rule in the target's INPUT chain, or the router's FORWARD chain.
    rule: Option<(&'static str, &'static str)>,
    state: &'static str,
    evidence: &'static str,
    exit: i32,
}

const T: &str = "target";
const R: &str = "router";

fn case(
    port: u16,
    rule: Option<(&'static str, &'static str)>,
    state: &'static str,
    evidence: &'static str,
    exit: i32,
) -> Case {
    Case { port, rule, state, evidence, exit }
}

/// Install every case's rule, then query each port alone and check it.
fn run_cases(proto: &str, v6: bool, cases: &[Case]) {
    let mut lab = Lab::new();
    let (target, router) = if v6 { (TARGET6, ROUTER6_T) } else { (TARGET4, ROUTER4_T) };
    lab.responder(&[(target, 7001)]);
    for c in cases {
        if let Some((wher, action)) = c.rule {
            let (ns, chain) =
                if wher == T { (lab.target.clone(), "INPUT") } else { (lab.router.clone(), "FORWARD") };
            lab.rule(&ns, v6, &format!("-A {chain} -p {proto} -d {target} --dport {} -j {action}", c.port));
        }
    }
    let mut failures = Vec::new();
    let mut singles = Vec::new();
    for c in cases {
        let port = c.port.to_string();
        let (code, out, err) =
            lab.portqry(&["-n", target, "-nr", "-e", &port, "-p", proto, "-v", "--timeout", "400"]);
        let want_line = format!("{} port {} (", proto.to_uppercase(), c.port);
        let status =
            out.lines().find(|l| l.starts_with(&want_line)).unwrap_or("<no status line>").to_string();
        let evidence =
            out.lines().find(|l| l.trim_start().starts_with("evidence:")).unwrap_or("").to_string();
        singles.push(status.clone());
        let ok =
            status.ends_with(&format!("): {}", c.state)) && evidence.contains(c.evidence) && code == c.exit;
        if !ok {
            failures.push(format!(
                "port {} {proto} v6={v6}: want '{}' / '{}' / exit {}, got '{status}' / '{evidence}' / exit {code}\n{out}{err}",
                c.port, c.state, c.evidence, c.exit
            ));
        }
        let _ = router;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
    // One run over the whole list gives the same verdicts, in order, each with
    // its own evidence (the engine reuses refused TCP sockets: nothing of one
    // port's ICMP error may leak into the next), and the highest exit code.
    let list: Vec<String> = cases.iter().map(|c| c.port.to_string()).collect();
    let (code, out, err) =
        lab.portqry(&["-n", target, "-nr", "-o", &list.join(","), "-p", proto, "-v", "--timeout", "400"]);
    let lines: Vec<&str> = out.lines().collect();
    let mut statuses = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with(&format!("{} port ", proto.to_uppercase())) && l.contains("): ") {
            statuses.push(l.to_string());
            let evidence = lines.get(i + 1).copied().unwrap_or("");
            let c = &cases[(statuses.len() - 1).min(cases.len() - 1)];
            // A silent UDP port in a list may be probed again (ICMP rate limit),
            // which changes the count of tries, not what was seen.
            let want = if c.evidence.starts_with("no response to") { "no response to" } else { c.evidence };
            assert!(
                evidence.trim_start().starts_with("evidence:") && evidence.contains(want),
                "list run, port {}: want evidence '{want}', got '{evidence}'\n{out}{err}",
                c.port
            );
        }
    }
    assert_eq!(statuses, singles, "list run:\n{out}{err}");
    assert_eq!(code, cases.iter().map(|c| c.exit).max().unwrap(), "{out}");
}

#[test]
#[ignore = "root: creates network namespaces and firewall rules"]
fn tcp_ipv4_states() {
    run_cases(
        "tcp",
        false,
        &[
            case(7001, None, "LISTENING", "TCP handshake completed", 0),
            case(7002, None, "NOT LISTENING", "TCP reset (RST)", 1),
            case(7003, Some((T, "DROP")), "FILTERED", "no response to 3 tries", 2),
            case(7004, Some((T, "REJECT --reject-with tcp-reset")), "NOT LISTENING", "TCP reset (RST)", 1),
            case(
                7005,
                Some((T, "REJECT --reject-with icmp-port-unreachable")),
                "FILTERED",
                "port unreachable (type 3, code 3) from 198.18.1.2 (the target)",
                2,
            ),
            case(
                7006,
                Some((T, "REJECT --reject-with icmp-admin-prohibited")),
                "FILTERED",
                "(type 3, code 13) from 198.18.1.2",
                2,
            ),
            case(
                7007,
                Some((T, "REJECT --reject-with icmp-host-prohibited")),
                "FILTERED",
                "(type 3, code 10) from 198.18.1.2",
                2,
            ),
            case(
                7008,
                Some((T, "REJECT --reject-with icmp-net-unreachable")),
                "FILTERED",
                "(type 3, code 0) from 198.18.1.2",
                2,
            ),
            case(
                7010,
                Some((T, "REJECT --reject-with icmp-host-unreachable")),
                "FILTERED",
                "(type 3, code 1) from 198.18.1.2",
                2,
            ),
            case(
                7009,
                Some((R, "REJECT --reject-with icmp-port-unreachable")),
                "FILTERED",
                "(type 3, code 3) from 198.18.0.254, not the target",
                2,
            ),
            case(
                7012,
                Some((R, "REJECT --reject-with icmp-admin-prohibited")),
                "FILTERED",
                "(type 3, code 13) from 198.18.0.254, not the target",
                2,
            ),
            // After ICMP refusals, a plain RST: a reused socket must say RST.
            case(7013, None, "NOT LISTENING", "TCP reset (RST)", 1),
        ],
    );
}

#[test]
#[ignore = "root: creates network namespaces and firewall rules"]
fn udp_ipv4_states() {
    run_cases(
        "udp",
        false,
        &[
            case(7001, None, "LISTENING", "UDP reply of", 0),
            case(
                7002,
                None,
                "NOT LISTENING",
                "port unreachable (type 3, code 3) from 198.18.1.2 (the target)",
                1,
            ),
            case(7003, Some((T, "DROP")), "LISTENING or FILTERED", "no response to 2 tries", 2),
            case(
                7005,
                Some((T, "REJECT --reject-with icmp-port-unreachable")),
                "NOT LISTENING",
                "(type 3, code 3) from 198.18.1.2 (the target)",
                1,
            ),
            case(
                7006,
                Some((T, "REJECT --reject-with icmp-admin-prohibited")),
                "FILTERED",
                "(type 3, code 13) from 198.18.1.2",
                2,
            ),
            case(
                7007,
                Some((T, "REJECT --reject-with icmp-host-prohibited")),
                "FILTERED",
                "(type 3, code 10) from 198.18.1.2",
                2,
            ),
            case(
                7008,
                Some((T, "REJECT --reject-with icmp-net-unreachable")),
                "FILTERED",
                "(type 3, code 0) from 198.18.1.2",
                2,
            ),
            case(
                7010,
                Some((T, "REJECT --reject-with icmp-host-unreachable")),
                "FILTERED",
                "(type 3, code 1) from 198.18.1.2",
                2,
            ),
            case(
                7009,
                Some((R, "REJECT --reject-with icmp-port-unreachable")),
                "FILTERED",
                "(type 3, code 3) from 198.18.0.254, not the target",
                2,
            ),
            case(
                7012,
                Some((R, "REJECT --reject-with icmp-admin-prohibited")),
                "FILTERED",
                "(type 3, code 13) from 198.18.0.254, not the target",
                2,
            ),
        ],
    );
}

#[test]
#[ignore = "root: creates network namespaces and firewall rules"]
fn tcp_ipv6_states() {
    run_cases(
        "tcp",
        true,
        &[
            case(7001, None, "LISTENING", "TCP handshake completed", 0),
            case(7002, None, "NOT LISTENING", "TCP reset (RST)", 1),
            case(7003, Some((T, "DROP")), "FILTERED", "no response to 3 tries", 2),
            case(7004, Some((T, "REJECT --reject-with tcp-reset")), "NOT LISTENING", "TCP reset (RST)", 1),
            case(
                7005,
                Some((T, "REJECT --reject-with icmp6-port-unreachable")),
                "FILTERED",
                "(type 1, code 4) from 2001:2:0:1::2 (the target)",
                2,
            ),
            case(
                7006,
                Some((T, "REJECT --reject-with icmp6-adm-prohibited")),
                "FILTERED",
                "(type 1, code 1) from 2001:2:0:1::2",
                2,
            ),
            case(
                7008,
                Some((T, "REJECT --reject-with icmp6-no-route")),
                "FILTERED",
                "(type 1, code 0) from 2001:2:0:1::2",
                2,
            ),
            case(
                7010,
                Some((T, "REJECT --reject-with icmp6-addr-unreachable")),
                "FILTERED",
                "(type 1, code 3) from 2001:2:0:1::2",
                2,
            ),
            case(
                7009,
                Some((R, "REJECT --reject-with icmp6-port-unreachable")),
                "FILTERED",
                "(type 1, code 4) from 2001:2::fe, not the target",
                2,
            ),
            case(7013, None, "NOT LISTENING", "TCP reset (RST)", 1),
        ],
    );
}

#[test]
#[ignore = "root: creates network namespaces and firewall rules"]
fn udp_ipv6_states() {
    run_cases(
        "udp",
        true,
        &[
            case(7001, None, "LISTENING", "UDP reply of", 0),
            case(7002, None, "NOT LISTENING", "(type 1, code 4) from 2001:2:0:1::2 (the target)", 1),
            case(7003, Some((T, "DROP")), "LISTENING or FILTERED", "no response to 2 tries", 2),
            case(
                7006,
                Some((T, "REJECT --reject-with icmp6-adm-prohibited")),
                "FILTERED",
                "(type 1, code 1) from 2001:2:0:1::2",
                2,
            ),
            case(
                7008,
                Some((T, "REJECT --reject-with icmp6-no-route")),
                "FILTERED",
                "(type 1, code 0) from 2001:2:0:1::2",
                2,
            ),
            case(
                7010,
                Some((T, "REJECT --reject-with icmp6-addr-unreachable")),
                "FILTERED",
                "(type 1, code 3) from 2001:2:0:1::2",
                2,
            ),
            case(
                7009,
                Some((R, "REJECT --reject-with icmp6-port-unreachable")),
                "FILTERED",
                "(type 1, code 4) from 2001:2::fe, not the target",
                2,
            ),
        ],
    );
}

/// Silence after the formatted query → FILTERED; an ICMP port-unreachable to
/// the query (but not to the empty datagram) → NOT LISTENING.
#[test]
#[ignore = "root: creates network namespaces and firewall rules"]
fn udp_protocol_queries_settle_silence() {
    let lab = Lab::new();
    for port in [53, 137, 389, 135] {
        lab.rule(&lab.target, false, &format!("-A INPUT -p udp -d {TARGET4} --dport {port} -j DROP"));
    }
    let expect = [
        (53, "Sending DNS query to UDP port 53..."),
        (137, "Attempting NETBIOS adapter status query to UDP port 137..."),
        (389, "Sending LDAP query to UDP port 389..."),
        (135, "Querying Endpoint Mapper Database..."),
    ];
    for (port, sending) in expect {
        let p = port.to_string();
        let (code, out, err) =
            lab.portqry(&["-n", TARGET4, "-nr", "-e", &p, "-p", "udp", "--timeout", "300"]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(
            out.contains(&format!("UDP port {port} (")) && out.contains("): LISTENING or FILTERED"),
            "{out}"
        );
        assert!(out.contains(sending), "{out}");
        assert!(out.contains(&format!("UDP port {port} is FILTERED")), "{out}");
    }
    // Empty datagrams (28 bytes of IPv4 + UDP header) vanish; anything longer
    // is refused as a closed port would be: the DNS query proves NOT LISTENING.
    lab.rule(
        &lab.target,
        false,
        &format!("-I INPUT -p udp -d {TARGET4} --dport 5353 -j REJECT --reject-with icmp-port-unreachable"),
    );
    lab.rule(
        &lab.target,
        false,
        &format!("-I INPUT -p udp -d {TARGET4} --dport 5353 -m length --length 28 -j DROP"),
    );
    let dir = std::env::temp_dir().join(format!("portqry-svc-ns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svc = dir.join("services");
    std::fs::write(&svc, "domain 5353/udp\n").unwrap();
    let (code, out, err) = lab.portqry(&[
        "-n",
        TARGET4,
        "-nr",
        "-e",
        "5353",
        "-p",
        "udp",
        "--timeout",
        "300",
        "-v",
        "--services",
        svc.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("UDP port 5353 (domain service): LISTENING or FILTERED"), "{out}");
    assert!(out.contains("UDP port 5353 is NOT LISTENING"), "{out}");
    assert!(out.contains("(type 3, code 3) from 198.18.1.2 (the target)"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A Linux target with its default ICMP rate limit (a burst of about 6, then
/// about 1 per second): a parallel pass leaves most closed UDP ports silent;
/// the engine probes those again at the rate it measures, so every one comes
/// back NOT LISTENING. `--udp-fast` says which ones it did not verify.
#[test]
#[ignore = "root: creates network namespaces; takes about 15 s"]
fn udp_icmp_rate_limit_is_waited_out() {
    let lab = Lab::new();
    lab.exec_ok(&lab.target, &["sysctl", "-qw", "net.ipv4.icmp_ratelimit=1000"]);
    let (code, out, err) =
        lab.portqry(&["-n", TARGET4, "-nr", "-r", "7100:7115", "-p", "udp", "--timeout", "300", "--jsonl"]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 16);
    for v in &lines {
        json_shape::check_result(v);
        assert_eq!(v["state"], "not_listening", "{v}");
        assert_eq!(v["icmp"]["from_target"], true, "{v}");
    }
    let reprobed = lines
        .iter()
        .filter(|v| v["note"].as_str().is_some_and(|n| n.ends_with("re-probed at that pace")))
        .count();
    assert!(reprobed >= 5, "expected the rate limiter to silence most ports: {reprobed} re-probed\n{out}");
    // The rate was measured, and it is Linux's: about one a second.
    let rates: Vec<f64> = lines.iter().filter_map(|v| v["refusal_rate"].as_f64()).collect();
    assert!(!rates.is_empty(), "{out}");
    assert!(rates.iter().all(|r| *r > 0.3 && *r < 3.0), "{rates:?}");

    // Let the target's token bucket refill before the fast run.
    std::thread::sleep(std::time::Duration::from_secs(7));
    let (code, out, err) = lab.portqry(&[
        "-n",
        TARGET4,
        "-nr",
        "-r",
        "7100:7115",
        "-p",
        "udp",
        "--timeout",
        "300",
        "--udp-fast",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    let status: Vec<&str> = out.lines().filter(|l| l.starts_with("UDP port ")).collect();
    assert_eq!(status.len(), 16, "{out}");
    let unverified = status
        .iter()
        .filter(|l| l.ends_with(": LISTENING or FILTERED (ICMP rate-limited, not verified)"))
        .count();
    let closed = status.iter().filter(|l| l.ends_with(": NOT LISTENING")).count();
    assert_eq!(unverified + closed, 16, "{out}");
    assert!(unverified >= 5 && closed >= 1, "{out}");
}

/// Without --timeout, TCP deadlines adapt to the measured round-trip time:
/// on a fast path, retries of silent ports wait 250 ms, not 1 s; the verdicts
/// stay the same.
#[test]
#[ignore = "root: creates network namespaces and firewall rules"]
fn tcp_deadlines_adapt_to_rtt() {
    let lab = Lab::new();
    lab.rule(&lab.target, false, &format!("-A INPUT -p tcp -d {TARGET4} --dport 7050:7099 -j DROP"));
    let started = std::time::Instant::now();
    let (code, out, err) = lab.portqry(&["-n", TARGET4, "-nr", "-r", "7000:7099", "--jsonl"]);
    let took = started.elapsed();
    assert_eq!(code, 2, "{out}{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 100);
    for v in &lines {
        json_shape::check_result(v);
        let port = v["port"].as_u64().unwrap();
        let want = if port >= 7050 { "filtered" } else { "not_listening" };
        assert_eq!(v["state"], want, "{v}");
    }
    // Silent while other ports were refused: three tries proven silent (each
    // followed at once by a refused canary), after the first round's.
    let filtered = lines.iter().find(|v| v["port"] == 7099).unwrap();
    assert!(filtered["tries"].as_u64().unwrap() >= 3, "{filtered}");
    assert!(
        filtered["note"].as_str().unwrap().ends_with("silent while the target refused another port"),
        "{filtered}"
    );
    assert!(took < std::time::Duration::from_millis(2500), "took {took:?}: deadlines did not adapt");
}

/// A rate-limited target whose silent ports are mostly filtered: the dropped
/// ports are proven silent in groups behind one canary each (a port that
/// refused before), so the run stays short, and the closed ports are still
/// NOT LISTENING.
#[test]
#[ignore = "root: creates network namespaces; takes about 10 s"]
fn udp_rate_limit_reprobes_are_bounded() {
    let lab = Lab::new();
    lab.exec_ok(&lab.target, &["sysctl", "-qw", "net.ipv4.icmp_ratelimit=1000"]);
    lab.rule(&lab.target, false, &format!("-A INPUT -p udp -d {TARGET4} --dport 7206:7235 -j DROP"));
    let started = std::time::Instant::now();
    let (code, out, err) =
        lab.portqry(&["-n", TARGET4, "-nr", "-r", "7200:7235", "-p", "udp", "--timeout", "300", "--jsonl"]);
    let took = started.elapsed();
    assert_eq!(code, 2, "{out}{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 36);
    for v in &lines {
        let want =
            if v["port"].as_u64().unwrap() <= 7205 { "not_listening" } else { "listening_or_filtered" };
        assert_eq!(v["state"], want, "{v}");
    }
    let proven = lines
        .iter()
        .filter(|v| {
            v["note"].as_str().is_some_and(|n| n.ends_with("silent while the target refused another port"))
        })
        .count();
    assert_eq!(proven, 30, "every dropped port proven silent:\n{out}");
    assert!(took < std::time::Duration::from_secs(20), "took {took:?}");
}

/// An on-link address where no host answers ARP: every port, TCP and UDP,
/// gets the same verdict and says plainly that the host is absent (the ICMP
/// host-unreachable, where one comes, is this machine's own).
#[test]
#[ignore = "root: creates network namespaces; about 4 s"]
fn absent_on_link_host_is_said_plainly() {
    let lab = Lab::new();
    let (code, out, err) =
        lab.portqry(&["-n", "198.18.0.77", "-nr", "-r", "7000:7004", "-p", "both", "--jsonl"]);
    assert_eq!(code, 2, "{out}{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 10, "{out}");
    for v in &lines {
        json_shape::check_result(v);
        assert_eq!(v["state"], "filtered", "{v}");
        assert_eq!(v["evidence"]["kind"], "no_neighbour", "{v}");
        assert!(v["reason"].as_str().unwrap().contains("the host is absent or down"), "{v}");
    }
}

/// Two vantage points (the client and the router namespaces) query the same
/// target; their JSON lines, concatenated, say where each result was measured
/// from — the reachability matrix the README's fan-out recipe builds.
#[test]
#[ignore = "root: creates network namespaces"]
fn json_lines_from_two_vantage_points_merge() {
    let lab = Lab::new();
    lab.rule(&lab.target, false, &format!("-A INPUT -p tcp -s {ROUTER4_T} --dport 7301 -j DROP"));
    let args = ["-n", TARGET4, "-nr", "-o", "7300,7301", "--timeout", "300", "--jsonl"];
    let (_, from_client, _) = lab.portqry(&args);
    let mut full = vec![env!("CARGO_BIN_EXE_portqry")];
    full.extend_from_slice(&args);
    let from_router = String::from_utf8(lab.exec(&lab.router, &full).stdout).unwrap();
    let merged: Vec<serde_json::Value> =
        format!("{from_client}{from_router}").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(merged.len(), 4, "{from_client}{from_router}");
    let mut matrix = std::collections::BTreeMap::new();
    for v in &merged {
        json_shape::check_result(v);
        matrix.insert(
            (v["source"]["address"].as_str().unwrap().to_string(), v["port"].as_u64().unwrap()),
            v["state"].as_str().unwrap().to_string(),
        );
    }
    let want: std::collections::BTreeMap<(String, u64), String> = [
        ((CLIENT4.to_string(), 7300), "not_listening"),
        ((CLIENT4.to_string(), 7301), "not_listening"),
        ((ROUTER4_T.to_string(), 7300), "not_listening"),
        ((ROUTER4_T.to_string(), 7301), "filtered"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    assert_eq!(matrix, want);
    assert!(merged.iter().all(|v| v["source"]["host"].as_str().is_some_and(|h| !h.is_empty())));
}
