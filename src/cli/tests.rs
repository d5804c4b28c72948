//! The command line: PortQry's syntax, validation, and the errors it gives.

use super::*;

fn argv(s: &str) -> Vec<OsString> {
    std::iter::once("portqry").chain(s.split_whitespace()).map(OsString::from).collect()
}

fn cfg(s: &str) -> Config {
    match parse(argv(s)) {
        Ok(Command::Run(c)) => *c,
        other => panic!("{s}: {other:?}"),
    }
}

fn usage_err(s: &str) -> String {
    match parse(argv(s)) {
        Err(e) => {
            assert_eq!(e.exit_code(), 64, "{s}");
            let m = e.to_string();
            assert!(!m.contains('\n'), "one line: {m}");
            m
        }
        Ok(c) => panic!("{s}: expected an error, got {c:?}"),
    }
}

#[test]
fn every_reference_example_parses() {
    let c = cfg("-n myserver.com -e 25");
    assert_eq!((c.names[0].as_str(), c.ports.clone()), ("myserver.com", vec![25]));
    let c = cfg("-n host1.dev.reskit.com -r 21:445");
    assert_eq!(c.ports.len(), 425);
    assert_eq!(c.port_mode, PortMode::Range);
    let c = cfg("-n 10.0.0.1 -o 25,445,1024 -p both -sp 53");
    assert_eq!(c.ports, vec![25, 445, 1024]);
    assert_eq!(c.transports, &[Transport::Tcp, Transport::Udp]);
    assert_eq!(c.source_port(), Some(53));
    let c = cfg("-n host2 -cn !my community name! -e 161 -p udp");
    assert_eq!(c.query.community, "my community name");
    assert_eq!(c.transports, &[Transport::Udp]);
    let c = cfg("-n 169.254.18.22 -e 443 -nr -l pqlog.txt -q");
    assert!(c.no_reverse && c.quiet);
    assert_eq!(c.log, Some(PathBuf::from("pqlog.txt")));
    let c = cfg("-n 127.0.0.1 -e 161 -p udp -cn !secure123!");
    assert_eq!(c.query.community, "secure123");
    let c = cfg("-n myproxy-server -e 1745 -p udp -sl");
    assert_eq!(c.probe.udp.wait, Duration::from_millis(2 * DEFAULT_UDP_WAIT_MS));
    // The interactive examples seed a session's settings.
    for (line, node, port, transports) in [
        ("-n 10.0.0.1 -e 53 -p UDP -i", "10.0.0.1", 53, &[Transport::Udp][..]),
        ("-i -n server1 -e 135 -p both", "server1", 135, &[Transport::Tcp, Transport::Udp][..]),
        ("-i", DEFAULT_NODE, 80, &[Transport::Tcp][..]),
    ] {
        match parse(argv(line)) {
            Ok(Command::Interactive(c)) => {
                assert_eq!(
                    (c.names.as_slice(), c.ports.as_slice(), c.transports),
                    ([node.to_string()].as_slice(), [port].as_slice(), transports),
                    "{line}"
                );
            }
            other => panic!("{line}: {other:?}"),
        }
    }
    for (line, says) in [
        ("-i -r 1:20", "one end port"),
        ("-i -o 25,80", "one end port"),
        ("-i --set dns", "one end port"),
        ("-i -q", "drop -q"),
        ("-i --json", "drop -q"),
        ("-i -local", "give one of them"),
        ("-i -n a -n b", "give -n once"),
        ("-i -n @hosts.txt", "one default node"),
        ("-i -n -", "one default node"),
        ("-i -e 0", "port"),
    ] {
        assert!(usage_err(line).contains(says), "{line}: {}", usage_err(line));
    }
    assert!(matches!(parse(argv("-local")), Ok(Command::Local(c)) if c.mode == LocalMode::All));
    let Ok(Command::Local(c)) = parse(argv("-local -l logfile.txt -v")) else { panic!() };
    assert!(c.verbose && c.log == Some(PathBuf::from("logfile.txt")));
    let Ok(Command::Local(c)) = parse(argv("-wpid 1272 -wt 5 -l logfile.txt -y -v")) else { panic!() };
    assert_eq!((c.mode, c.interval, c.overwrite), (LocalMode::WatchPid(1272), Duration::from_secs(5), true));
    let Ok(Command::Local(c)) = parse(argv("-wport 53 -l dnslog.txt")) else { panic!() };
    assert_eq!((c.mode, c.interval), (LocalMode::WatchPort(53), Duration::from_secs(60)));
}

#[test]
fn local_mode_rules_are_one_line_each() {
    assert_eq!(
        usage_err("-wt 5"),
        "-wt sets how often -wport or -wpid checks for changes: use it with -wport PORT or -wpid PID, not alone or with -local"
    );
    assert_eq!(usage_err("-local -wt 5"), usage_err("-wt 5"));
    assert_eq!(
        usage_err("-local -wport 53"),
        "-local, -wport and -wpid are mutually exclusive: give one of them"
    );
    assert_eq!(usage_err("-wport 53 -wpid 1"), usage_err("-local -wport 53"));
    assert_eq!(
        usage_err("-local -q"),
        "-q does not work in local mode (there is no single port state to return): drop -q"
    );
    assert_eq!(
        usage_err("-local -n host"),
        "-local, -wport and -wpid report this machine and take no -n: drop -n, or drop the local-mode switch to query HOST"
    );
    assert_eq!(usage_err("-wport 53 -wt 0"), "'0' is not a watch time: -wt takes 1 to 1200 seconds");
    assert_eq!(usage_err("-wport 53 -wt 1201"), "'1201' is not a watch time: -wt takes 1 to 1200 seconds");
    assert!(matches!(parse(argv("-wport 53 -wt 1200")), Ok(Command::Local(_))));
    assert_eq!(usage_err("-wport 0"), "port 0 is out of range: ports are 1 to 65535");
    assert_eq!(usage_err("-wpid x"), "'x' is not a process ID: give a number such as 1272");
    assert!(usage_err("-local --json --jsonl").contains("alternatives"));
    assert!(usage_err("/LOCAL -l -y").contains("-l ./-y"));
    let Ok(Command::Local(c)) = parse(argv("/WPORT 135 /WT 2 --jsonl")) else { panic!() };
    assert_eq!(
        (c.mode, c.interval, c.format),
        (LocalMode::WatchPort(135), Duration::from_secs(2), Format::JsonLines)
    );
}

#[test]
fn slash_and_case_forms() {
    let c = cfg("/n host /e 53 /p udp");
    assert_eq!(
        (c.names[0].as_str(), c.ports.clone(), c.transports),
        ("host", vec![53], &[Transport::Udp][..])
    );
    let c = cfg("-N host -E 53 -P UDP /NR /SL");
    assert!(c.no_reverse);
    assert_eq!(c.probe.udp.wait, Duration::from_millis(2000));
    let c = cfg("/n:host /e:135");
    assert_eq!((c.names[0].as_str(), c.ports.clone()), ("host", vec![135]));
    let c = cfg("-n fe80::1 -o:25,80");
    assert_eq!((c.names[0].as_str(), c.ports.clone()), ("fe80::1", vec![25, 80]));
    let c = cfg("/n host /r 135;139");
    assert_eq!(c.ports, vec![135, 136, 137, 138, 139]);
}

#[test]
fn multi_letter_switches_are_not_bundles() {
    let c = cfg("-n h -sp 1234 -sl -nr");
    assert_eq!(c.source_port(), Some(1234));
    assert!(c.no_reverse);
    assert_eq!(c.probe.udp.wait, Duration::from_millis(2000));
    // `-nr` must not become `-n r`.
    assert_eq!(c.names, vec!["h".to_string()]);
}

#[test]
fn values_are_never_rewritten() {
    let c = cfg("-n h -l /tmp/e.txt -e 80");
    assert_eq!(c.log, Some(PathBuf::from("/tmp/e.txt")));
    // A log name that is the next switch is an error, not a file named `-q`;
    // `./-q` still names such a file.
    assert!(usage_err("--name h --log -q").contains("-l ./-q"));
    let c = cfg("--name h --log ./-q");
    assert_eq!(c.log, Some(PathBuf::from("./-q")));
    assert!(!c.quiet);
}

#[test]
fn log_names_that_are_switches() {
    for opt in ["-y", "-", "--yes", "-Q", "/y", "/Q", "/n:host", "/sp", "/?"] {
        assert!(looks_like_option(opt), "{opt}");
    }
    for file in ["pqlog.txt", "/tmp/log.txt", "./-y", "//y", "/var/log/pq", "y", "log-y"] {
        assert!(!looks_like_option(file), "{file}");
    }
    assert_eq!(
        usage_err("-n h -l -y"),
        "'-y' after -l is an option, not a log file name: write -l FILE (e.g. -l pqlog.txt -y), or -l ./-y for a file of that name"
    );
    assert!(usage_err("/n h /l /y").contains("-l //y"));
    assert_eq!(cfg("-n h -l //y").log, Some(PathBuf::from("//y")));
}

#[test]
fn echoed_input_is_clipped_to_one_short_line() {
    let long = "x".repeat(70_000);
    let flag = format!("--{long}");
    for args in [
        vec!["-n", "h", "-p", long.as_str()],
        vec!["-n", "h", "-e", long.as_str()],
        vec!["-n", "h", "-r", long.as_str()],
        vec!["-n", "h", "-sp", long.as_str()],
        vec!["-n", "h", "--timeout", long.as_str()],
        vec!["-n", "h", "--dns-name", long.as_str()],
        vec!["-n", "h", flag.as_str()],
        vec!["-n", "h", long.as_str()],
    ] {
        let argv = std::iter::once("portqry").chain(args.iter().copied()).map(OsString::from).collect();
        let e = parse(argv).unwrap_err();
        assert_eq!(e.exit_code(), 64);
        let m = e.to_string();
        assert!(m.len() < 500 && !m.contains('\n') && m.contains("x…"), "{}: {m}", clip(args[2]));
        assert_eq!(m.matches('\'').count() % 2, 0, "quotes stay paired: {m}");
    }
    let argv = ["portqry", "-n", "a\nb"].map(OsString::from).to_vec();
    let m = parse(argv).unwrap_err().to_string();
    assert_eq!(m, "'a\\nb' is not a host name or address: -n takes one name with no spaces");
}

#[test]
fn modern_long_options() {
    let c = cfg("--name h --proto both --ports 1,2 --timeout 250 --tries 1 --verbose -4");
    assert_eq!(c.ports, vec![1, 2]);
    assert_eq!(c.probe.tcp.timeout, Duration::from_millis(250));
    assert_eq!(c.probe.udp.wait, Duration::from_millis(250));
    assert_eq!((c.probe.tcp.tries, c.probe.udp.tries), (1, 1));
    assert!(c.verbose);
    assert_eq!(c.family, Family::V4);
    let c = cfg("-n h");
    assert_eq!(c.ports, vec![80]);
    assert_eq!(c.transports, &[Transport::Tcp]);
    assert_eq!((c.probe.tcp.tries, c.probe.udp.tries), (3, 2));
}

#[test]
fn errors_are_one_clear_line() {
    assert!(usage_err("-n h -e 80 -r 1:2").contains("mutually exclusive"));
    assert!(usage_err("-n h -o 1,2 -e 3").contains("mutually exclusive"));
    assert!(usage_err("-n h -e 0").contains("1 to 65535"));
    assert!(usage_err("-n h -e 65536").contains("1 to 65535"));
    assert!(usage_err("-n h -r 445:21").contains("21:445"));
    assert!(usage_err("-n h -p icmp").contains("tcp, udp or both"));
    assert!(usage_err("-e 80").contains("-n HOST"));
    assert!(usage_err("").contains("no target"));
    assert!(usage_err("-n h -cn public").contains("delimited"));
    assert!(usage_err("-n h -cn !unterminated").contains("end with '!'"));
    assert!(usage_err("-n h -sp 0").contains("source port"));
    assert!(usage_err("-n h --bogus").contains("--bogus"));
    assert!(usage_err("-n h -z").contains("-z"));
    assert!(usage_err("-n h --timeout 0").contains("milliseconds"));
    assert!(usage_err("-n h --tries 11").contains("1 to 10"));
    assert!(usage_err("-n h -4 -6").contains("cannot be used"));
    assert!(usage_err("-n h --dns-name a..b").contains("--dns-name"));
}

#[test]
fn service_sets() {
    let c = cfg("-n h --set domains-and-trusts");
    assert_eq!(c.set.map(|s| s.name), Some("Domains and Trusts"));
    assert_eq!(c.port_mode, PortMode::List);
    let plan = c.plan();
    assert_eq!(&plan[..3], &[(135, Transport::Tcp), (389, Transport::Tcp), (389, Transport::Udp)]);
    assert_eq!(cfg("-n h --set SQL-Service").plan(), vec![(1433, Transport::Tcp), (1434, Transport::Udp)]);
    // Without --set the plan is every port on every transport, as before.
    assert_eq!(
        cfg("-n h -o 1,2 -p both").plan(),
        vec![(1, Transport::Tcp), (1, Transport::Udp), (2, Transport::Tcp), (2, Transport::Udp)]
    );
    let msg = "--set gives its own ports and protocols: drop -e, -r, -o and -p, or drop --set";
    for extra in ["-e 80", "-r 1:2", "-o 1,2", "-p udp", "/p tcp"] {
        assert_eq!(usage_err(&format!("-n h --set sql {extra}")), msg, "{extra}");
    }
    assert!(usage_err("-n h --set nosuch").starts_with("'nosuch' is not a service set"));
    assert!(usage_err("-local --set sql").contains("--set"));
    match parse(argv("--set list")) {
        Ok(Command::Print(t)) => assert!(t.contains("SQL Service: TCP 1433, UDP 1434"), "{t}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn help_is_printed_not_an_error() {
    for s in ["-?", "/?", "--help", "-h"] {
        match parse(argv(s)) {
            Ok(Command::Print(text)) => assert!(text.contains("--name"), "{s}"),
            other => panic!("{s}: {other:?}"),
        }
    }
}
