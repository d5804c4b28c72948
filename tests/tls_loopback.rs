//! The TLS query against loopback servers written here with rustls (plain
//! tier, no root): certificates from rcgen, a test CA, an expired certificate,
//! servers that speak something else, send an alert or stay silent.

use portqry::query::tls::{self, TlsAnswer, verify};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Pki {
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

/// A test CA and a server certificate it signs for localhost / 127.0.0.1.
fn pki(expired: bool) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "portqry test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.distinguished_name.push(DnType::OrganizationName, "portqry tests");
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 31);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_der: ca_cert.der().clone(),
        ca_pem: ca_cert.pem(),
        chain: vec![cert.der().clone(), ca_cert.der().clone()],
        key: key.serialize_der(),
    }
}

/// What the loopback server saw of our client.
#[derive(Debug)]
struct Seen {
    handshake_ok: bool,
    /// Application bytes the client sent (must be none).
    plaintext: usize,
    /// The client closed with close_notify.
    close_notify: bool,
}

fn tls_server(
    pki: &Pki,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&str],
) -> (u16, JoinHandle<Seen>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone()));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    let listener = TcpListener::bind((LOCAL, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut conn = ServerConnection::new(Arc::new(config)).unwrap();
        let handshake_ok = conn.complete_io(&mut sock).is_ok() && !conn.is_handshaking();
        let mut seen = Seen { handshake_ok, plaintext: 0, close_notify: false };
        let mut buf = [0u8; 1024];
        loop {
            // What rustls already holds first (Finished and close_notify can come in one read).
            match conn.reader().read(&mut buf) {
                Ok(0) => {
                    seen.close_notify = true;
                    break;
                }
                Ok(n) => {
                    seen.plaintext += n;
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            match conn.read_tls(&mut sock) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if conn.process_new_packets().is_err() {
                        break;
                    }
                }
            }
        }
        seen
    });
    (port, handle)
}

/// A server that answers our ClientHello with fixed bytes (or nothing).
fn raw_server(reply: &'static [u8]) -> u16 {
    let listener = TcpListener::bind((LOCAL, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf);
        if !reply.is_empty() {
            let _ = sock.write_all(reply);
        }
        std::thread::sleep(Duration::from_secs(3));
    });
    port
}

fn ask(port: u16, typed: &str, alpn_port: u16, wait: Duration) -> TlsAnswer {
    let stream = TcpStream::connect((LOCAL, port)).unwrap();
    tls::converse(stream, typed, LOCAL, alpn_port, wait, None)
}

fn sha256_colon(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    d.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn test_roots(pki: &Pki) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    Arc::new(roots)
}

fn chain_of(a: &TlsAnswer, pki: &Pki) -> Vec<Vec<u8>> {
    assert_eq!(a.certificates.len(), pki.chain.len());
    pki.chain.iter().map(|c| c.to_vec()).collect()
}

#[test]
fn a_valid_chain_is_recorded_judged_and_closed_politely() {
    let pki = pki(false);
    let (port, server) = tls_server(&pki, rustls::DEFAULT_VERSIONS, &[]);
    let a = ask(port, "127.0.0.1", port, Duration::from_secs(5));
    let seen = server.join().unwrap();
    assert!(a.handshake_completed, "{a:?}");
    assert_eq!(a.failure, None);
    assert_eq!(a.version.as_deref(), Some("TLS 1.3"));
    assert!(a.cipher_suite.as_deref().unwrap().starts_with("TLS13_"), "{a:?}");
    assert_eq!(a.alpn, None);
    assert_eq!(a.key_proof.as_deref(), Some("verified"));
    // The chain exactly as served, with openssl-style fingerprints.
    assert_eq!(a.certificates.len(), 2);
    for (c, der) in a.certificates.iter().zip(&pki.chain) {
        assert_eq!(c.sha256, sha256_colon(der));
    }
    let ee = &a.certificates[0];
    assert_eq!(ee.subject.as_deref(), Some("CN=localhost, O=portqry tests"));
    assert_eq!(ee.issuer.as_deref(), Some("CN=portqry test CA"));
    assert_eq!(ee.sans, ["DNS:localhost", "IP:127.0.0.1"]);
    assert!(ee.days_left.unwrap() > 365, "{ee:?}");
    assert!(!ee.expired && ee.warning.is_none());
    assert!(a.certificates[1].self_issued && a.certificates[1].ca);
    assert!(a.warnings.is_empty());
    // Nobody's system store trusts our CA.
    let v = a.verification.as_ref().unwrap();
    assert!(!v.verified);
    assert_eq!(v.reason.as_deref(), Some("unknown issuer"));
    assert_eq!(v.name, "127.0.0.1");
    assert_eq!(v.name_matches, Some(true));
    // The server saw a completed handshake, no application data, then close_notify.
    assert!(seen.handshake_ok && seen.close_notify, "{seen:?}");
    assert_eq!(seen.plaintext, 0);
    // The text says all of it.
    let text: Vec<String> = a.lines().into_iter().map(|l| l.0).collect();
    let text = text.join("\n");
    assert!(text.contains("TLS handshake completed: TLS 1.3, cipher suite TLS13_"), "{text}");
    assert!(
        text.contains("does not verify against the system roots for \"127.0.0.1\": unknown issuer"),
        "{text}"
    );
    assert!(text.contains(&format!("SHA-256:    {}", sha256_colon(&pki.chain[0]))), "{text}");
    // With the test CA trusted, it verifies for its names and not for others.
    let now = UnixTime::now();
    let chain = chain_of(&a, &pki);
    let ip = ServerName::IpAddress(LOCAL.into());
    let ok = verify::verify_with(&chain, &ip, test_roots(&pki), now);
    assert!(ok.verified && ok.reason.is_none(), "{ok:?}");
    let other = ServerName::try_from("dc1.example.org").unwrap();
    let bad = verify::verify_with(&chain, &other, test_roots(&pki), now);
    assert_eq!(
        (bad.verified, bad.reason.as_deref(), bad.name_matches),
        (false, Some("name mismatch"), Some(false))
    );
}

#[test]
fn an_expired_certificate_is_flagged_everywhere() {
    let pki = pki(true);
    let (port, server) = tls_server(&pki, rustls::DEFAULT_VERSIONS, &[]);
    let a = ask(port, "localhost", port, Duration::from_secs(5));
    server.join().unwrap();
    assert!(a.handshake_completed, "{a:?}");
    let ee = &a.certificates[0];
    assert!(ee.expired && ee.days_left.unwrap() < -365, "{ee:?}");
    assert_eq!(ee.not_after.as_deref(), Some("2020-01-31 00:00:00 UTC"));
    let w = ee.warning.as_deref().unwrap();
    assert!(w.starts_with("EXPIRED ") && w.ends_with(" days ago"), "{w}");
    assert_eq!(a.warnings, [format!("certificate 1 (CN=localhost, O=portqry tests): {w}")]);
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["certificates"][0]["expired"], true);
    assert_eq!(json["warnings"][0].as_str().unwrap(), a.warnings[0]);
    let text: Vec<String> = a.lines().into_iter().map(|l| l.0).collect();
    assert!(text.iter().any(|l| l == &format!("  WARNING: {w}")), "{text:?}");
    // Trusted CA or not, the verdict is the expiry (the SNI name matched).
    assert_eq!(a.verification.as_ref().unwrap().name, "localhost");
    let chain = chain_of(&a, &pki);
    let v = verify::verify_with(
        &chain,
        &ServerName::try_from("localhost").unwrap(),
        test_roots(&pki),
        UnixTime::now(),
    );
    assert_eq!(v.reason.as_deref(), Some("certificate expired"));
}

#[test]
fn tls12_and_alpn_are_reported() {
    let pki = pki(false);
    let (port, server) = tls_server(&pki, &[&rustls::version::TLS12], &["h2"]);
    // The ALPN offer follows the service (443), not the loopback port.
    let a = ask(port, "localhost", 443, Duration::from_secs(5));
    assert!(server.join().unwrap().close_notify);
    assert_eq!(a.version.as_deref(), Some("TLS 1.2"));
    assert!(a.cipher_suite.as_deref().unwrap().starts_with("TLS_ECDHE_"), "{a:?}");
    assert_eq!(a.alpn.as_deref(), Some("h2"));
    assert_eq!(a.key_proof.as_deref(), Some("verified"));
}

#[test]
fn something_else_than_tls_is_shown_as_such() {
    let port = raw_server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    let a = ask(port, "127.0.0.1", port, Duration::from_secs(5));
    assert!(!a.handshake_completed);
    assert_eq!(
        a.failure.as_deref(),
        Some(
            "not TLS: the server sent 32 byte(s): 53 53 48 2d 32 2e 30 2d 4f 70 65 6e 53 53 48 5f 39 2e 32 70 31 20 44 65 62 69 61 6e 2d 32 0d 0a (\"SSH-2.0-OpenSSH_9.2p1 Debian-2\")"
        )
    );
    assert!(a.certificates.is_empty() && a.verification.is_none());
}

#[test]
fn a_server_alert_is_named() {
    // TLS 1.0-only servers answer a TLS 1.2+ ClientHello with protocol_version.
    let port = raw_server(&[21, 3, 1, 0, 2, 2, 70]);
    let a = ask(port, "127.0.0.1", port, Duration::from_secs(5));
    assert_eq!(a.failure.as_deref(), Some("the server sent a TLS alert: protocol_version"));
}

#[test]
fn an_old_server_hello_is_refused_and_named() {
    // A ServerHello choosing TLS 1.0 (0x0301), as an old server negotiating down sends.
    static HELLO: [u8; 47] = {
        let mut b = [0u8; 47];
        let head = [22, 3, 1, 0, 42, 2, 0, 0, 38, 3, 1];
        let mut i = 0;
        while i < head.len() {
            b[i] = head[i];
            i += 1;
        }
        // Zero random; then session id length 0, cipher suite 0x002f, compression 0.
        b[43] = 0;
        b[44] = 0x00;
        b[45] = 0x2f;
        b[46] = 0;
        b
    };
    let port = raw_server(&HELLO);
    let a = ask(port, "127.0.0.1", port, Duration::from_secs(5));
    let f = a.failure.unwrap();
    assert!(f.starts_with("the server chose TLS 1.0, which is refused here"), "{f}");
}

#[test]
fn a_silent_server_costs_the_wait_and_no_more() {
    let port = raw_server(b"");
    let t = Instant::now();
    let a = ask(port, "127.0.0.1", port, Duration::from_millis(700));
    let took = t.elapsed();
    assert_eq!(a.failure.as_deref(), Some("no TLS answer before the deadline"));
    assert!(took >= Duration::from_millis(650) && took < Duration::from_millis(1500), "{took:?}");
}

#[test]
fn a_trickling_server_does_not_move_the_deadline() {
    // A handshake record header, then one byte every 50 ms for ever.
    let listener = TcpListener::bind((LOCAL, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let _ = s.read(&mut [0u8; 4096]);
        let _ = s.write_all(&[22, 3, 3, 0x40, 0]);
        while s.write_all(&[2]).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let t = Instant::now();
    let a = ask(port, "127.0.0.1", port, Duration::from_millis(700));
    let took = t.elapsed();
    let f = a.failure.unwrap();
    assert!(f.starts_with("the TLS handshake did not finish before the deadline; the server sent "), "{f}");
    assert!(f.contains(" byte(s): 16 03 03 40 00 02 02"), "{f}");
    assert!(took >= Duration::from_millis(650) && took < Duration::from_millis(1500), "{took:?}");
}

#[test]
fn a_server_that_hangs_up_is_told_apart() {
    let listener = TcpListener::bind((LOCAL, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Read the ClientHello first: a clean FIN.
        let (mut s, _) = listener.accept().unwrap();
        let _ = s.read(&mut [0u8; 4096]);
        drop(s);
        // Close with the ClientHello unread: the kernel sends a reset.
        let (s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
    });
    let a = ask(port, "127.0.0.1", port, Duration::from_secs(5));
    assert_eq!(a.failure.as_deref(), Some("the server closed the connection without a TLS answer"));
    let a = ask(port, "127.0.0.1", port, Duration::from_secs(5));
    assert_eq!(a.failure.as_deref(), Some("the server reset the connection without a TLS answer"));
}

#[path = "support/json_shape.rs"]
mod json_shape;
#[path = "support/spawn.rs"]
mod spawn;

/// The whole path through the binary: probe, `--tls` on a port no route names,
/// the query's text, JSON (in the documented result shape) and exit code.
#[test]
fn the_binary_speaks_tls_on_any_port_with_the_option() {
    let pki = pki(true);
    let run = |args: &[&str]| {
        let o = spawn::output(
            std::process::Command::new(env!("CARGO_BIN_EXE_portqry"))
                .args(args)
                .stdin(std::process::Stdio::null()),
        );
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (port, server) = tls_server(&pki, rustls::DEFAULT_VERSIONS, &[]);
    let p = port.to_string();
    let (code, out) = run(&["-n", "127.0.0.1", "-e", &p, "--tls", "--json", "-nr"]);
    assert!(server.join().unwrap().close_notify);
    assert_eq!(code, Some(0), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &doc["targets"][0]["results"][0];
    json_shape::check_result(r);
    assert_eq!(r["state"], "listening", "{r}");
    let q = &r["query"];
    assert_eq!(
        (&q["protocol"], &q["state"], &q["error"]),
        (&"tls".into(), &"listening".into(), &serde_json::Value::Null)
    );
    assert_eq!(q["answer"]["protocol"], "tls");
    assert_eq!(q["answer"]["certificates"][0]["sha256"], sha256_colon(&pki.chain[0]));
    assert_eq!(q["answer"]["certificates"][0]["expired"], true);
    assert_eq!(q["observation"]["evidence"]["kind"], "reply");
    // The text run, as a troubleshooter sees it.
    let (port, server) = tls_server(&pki, rustls::DEFAULT_VERSIONS, &[]);
    let p = port.to_string();
    let (code, out) = run(&["-n", "127.0.0.1", "-e", &p, "--tls", "-nr"]);
    server.join().unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("Starting a TLS handshake on TCP port {port}...")), "{out}");
    assert!(out.contains("  not after:  2020-01-31 00:00:00 UTC (expired)"), "{out}");
    assert!(out.contains("WARNING: certificate 1 (CN=localhost, O=portqry tests): EXPIRED "), "{out}");
    // Without --tls nothing speaks TLS to an unknown port.
    let (port, _server) = tls_server(&pki, rustls::DEFAULT_VERSIONS, &[]);
    let (_, out) = run(&["-n", "127.0.0.1", "-e", &port.to_string(), "-nr"]);
    assert!(!out.contains("TLS"), "{out}");
}

/// `--tls-ca`: the chain an in-house CA signed verifies once that CA is given,
/// as PEM or as a DER `.cer`; a file that holds no usable CA is a one-line
/// usage error (exit 64) before anything is probed.
#[test]
fn a_ca_given_with_tls_ca_is_trusted_besides_the_system_roots() {
    let pki = pki(false);
    let dir = std::env::temp_dir().join(format!("portqry-tls-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("corp-ca.pem");
    std::fs::write(&pem, &pki.ca_pem).unwrap();
    let der = dir.join("corp-ca.cer");
    std::fs::write(&der, pki.ca_der.as_ref()).unwrap();
    let run = |args: &[&str]| {
        let o = spawn::output(
            std::process::Command::new(env!("CARGO_BIN_EXE_portqry"))
                .args(args)
                .stdin(std::process::Stdio::null()),
        );
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (o.status.code(), text(&o.stdout), text(&o.stderr))
    };
    for file in [&pem, &der] {
        let f = file.to_str().unwrap();
        let (port, server) = tls_server(&pki, rustls::DEFAULT_VERSIONS, &[]);
        let (code, out, err) =
            run(&["-n", "127.0.0.1", "-e", &port.to_string(), "--tls", "-nr", "--tls-ca", f]);
        server.join().unwrap();
        assert_eq!(code, Some(0), "{out}{err}");
        let want = format!("The chain verifies against the system roots and --tls-ca {f} for \"127.0.0.1\"");
        assert!(out.contains(&want), "{out}");
        // The same in JSON, with the file named.
        let (port, server) = tls_server(&pki, rustls::DEFAULT_VERSIONS, &[]);
        let (code, out, _) =
            run(&["-n", "127.0.0.1", "-e", &port.to_string(), "--tls", "-nr", "--json", "--tls-ca", f]);
        server.join().unwrap();
        assert_eq!(code, Some(0), "{out}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let v = &doc["targets"][0]["results"][0]["query"]["answer"]["verification"];
        assert_eq!(
            (&v["verified"], &v["ca_file"], &v["reason"]),
            (&true.into(), &f.into(), &serde_json::Value::Null)
        );
    }
    // The CA vouches for its certificate's names only.
    let (port, server) = tls_server(&pki, rustls::DEFAULT_VERSIONS, &[]);
    let f = pem.to_str().unwrap();
    let (_, out, _) = run(&["-n", "localhost", "-4", "-e", &port.to_string(), "--tls", "-nr", "--tls-ca", f]);
    server.join().unwrap();
    assert!(
        out.contains(&format!("verifies against the system roots and --tls-ca {f} for \"localhost\"")),
        "{out}"
    );

    // Files that cannot serve: each a single line on stderr, exit 64, nothing probed.
    let key_only = dir.join("key.pem");
    std::fs::write(
        &key_only,
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let junk = dir.join("junk.cer");
    std::fs::write(&junk, b"\x30\x03\x02\x01\x05 not a certificate").unwrap();
    let missing = dir.join("missing.pem");
    let cases: [(&std::path::Path, &str); 4] = [
        (&key_only, "it holds no -----BEGIN CERTIFICATE----- block"),
        (&junk, "the certificate is neither PEM nor a DER X.509 certificate"),
        (&dir, "give a regular file (a PEM or DER certificate)"),
        (&missing, "(os error 2)"),
    ];
    for (file, why) in cases {
        let f = file.to_str().unwrap();
        let (code, out, err) = run(&["-n", "127.0.0.1", "-e", "1", "--tls", "-nr", "--tls-ca", f]);
        assert_eq!(code, Some(64), "{f}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("cannot use TLS CA file '{f}': ")) && err.contains(why), "{err}");
        assert!(out.is_empty(), "nothing probed: {out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
