//! The TLS handshake over the connection the probe opened, with rustls (ring
//! provider). The certificate verifier records the chain and accepts it, so the
//! handshake completes whoever signed the certificate; the chain is judged
//! afterwards (`verify`). No application data is ever sent: once the handshake
//! is done we send close_notify and close. Every read and write waits at most
//! a cancel slice, inside one deadline fixed before the first byte.

use crate::query::exchange::Conn;
use crate::wire::bytes::Reader;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use std::io::{ErrorKind, Read};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// More handshake bytes than any sane server sends (rustls caps messages itself).
const MAX_HANDSHAKE_BYTES: usize = 1 << 20;
/// How many of the server's first bytes are kept to show a non-TLS reply.
const KEPT: usize = 64;

/// What the handshake gave, complete or not.
#[derive(Debug, Clone, Default)]
pub struct Handshake {
    pub completed: bool,
    /// "TLS 1.3", "TLS 1.2".
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    pub key_exchange: Option<String>,
    pub alpn: Option<String>,
    /// The chain as the server sent it (end entity first), DER.
    pub chain: Vec<Vec<u8>>,
    /// Whether the server's handshake signature verified with the certificate's
    /// key (proof it holds the private key); None if no signature was checked.
    pub key_proof: Option<Result<(), String>>,
    /// Why the handshake did not complete, in words with what the server sent.
    pub failure: Option<String>,
    /// Bytes received from the server.
    pub received: usize,
}

/// What the verifier saw during the handshake.
#[derive(Debug, Default)]
struct Recorded {
    chain: Vec<Vec<u8>>,
    key_proof: Option<Result<(), String>>,
}

/// Accepts any chain, keeping it; checks the handshake signature with the
/// provider's algorithms and records the result instead of failing on it.
#[derive(Debug)]
struct Recorder {
    seen: Mutex<Recorded>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Recorder {
    fn note_signature(&self, r: Result<HandshakeSignatureValid, rustls::Error>) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.key_proof = Some(r.map(|_| ()).map_err(|e| e.to_string()));
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.chain = std::iter::once(end_entity).chain(intermediates).map(|c| c.to_vec()).collect();
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.note_signature(rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms));
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.note_signature(rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms));
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The ring provider every TLS use here shares (aws-lc-rs does not cross-build with mingw).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Keeps the first bytes the server sends (to show a non-TLS reply) and counts them.
struct Tap<'a> {
    stream: &'a mut dyn Conn,
    kept: &'a mut Vec<u8>,
    received: &'a mut usize,
}

impl Read for Tap<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.stream.read(buf)?;
        let room = KEPT.saturating_sub(self.kept.len()).min(n);
        self.kept.extend_from_slice(&buf[..room]);
        *self.received += n;
        Ok(n)
    }
}

/// Run the handshake on `stream` for `name` (SNI when a DNS name), offering
/// `alpn`, until `deadline`. Never panics, never sends application data.
pub fn run(stream: &mut dyn Conn, name: ServerName<'static>, alpn: &[&str], deadline: Instant) -> Handshake {
    let provider = provider();
    let recorder = Arc::new(Recorder {
        seen: Mutex::new(Recorded::default()),
        algorithms: provider.signature_verification_algorithms,
    });
    let mut hs = Handshake::default();
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.dangerous().with_custom_certificate_verifier(recorder.clone()).with_no_client_auth());
    let mut config = match config {
        Ok(c) => c,
        Err(e) => {
            hs.failure = Some(format!("TLS set-up failed: {e}"));
            return hs;
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let mut conn = match ClientConnection::new(Arc::new(config), name) {
        Ok(c) => c,
        Err(e) => {
            hs.failure = Some(format!("TLS set-up failed: {e}"));
            return hs;
        }
    };
    let mut kept = Vec::new();
    let result = drive(&mut conn, stream, &mut kept, &mut hs.received, deadline);
    {
        let seen = recorder.seen.lock().unwrap_or_else(|p| p.into_inner());
        hs.chain = seen.chain.clone();
        hs.key_proof = seen.key_proof.clone();
    }
    hs.version = conn.protocol_version().map(version_name);
    hs.cipher_suite = conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite()));
    hs.key_exchange = conn.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name()));
    hs.alpn = conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
    match result {
        Ok(()) => {
            hs.completed = true;
            // Polite end: close_notify, never any application data.
            conn.send_close_notify();
            let _ = flush(&mut conn, stream, deadline);
        }
        Err(Stop::Tls(e)) => {
            // Send the alert rustls queued (the server sees why we stopped).
            let _ = flush(&mut conn, stream, deadline);
            hs.failure = Some(describe_error(&e, &kept, hs.received));
        }
        Err(Stop::Other(why)) => hs.failure = Some(why),
    }
    hs
}

enum Stop {
    Tls(rustls::Error),
    Other(String),
}

fn drive(
    conn: &mut ClientConnection,
    stream: &mut dyn Conn,
    kept: &mut Vec<u8>,
    received: &mut usize,
    deadline: Instant,
) -> Result<(), Stop> {
    loop {
        flush(conn, stream, deadline).map_err(Stop::Other)?;
        if !conn.is_handshaking() {
            return Ok(());
        }
        if crate::cancel::requested() {
            return Err(Stop::Other("interrupted".into()));
        }
        let Some(slice) = crate::cancel::slice_until(deadline) else {
            return Err(Stop::Other(match *received {
                0 => "no TLS answer before the deadline".to_string(),
                n => format!(
                    "the TLS handshake did not finish before the deadline; the server sent {}",
                    excerpt(kept, n)
                ),
            }));
        };
        stream.read_slice(slice).map_err(|e| Stop::Other(e.to_string()))?;
        let mut tap = Tap { stream, kept, received };
        match conn.read_tls(&mut tap) {
            Ok(0) => {
                return Err(Stop::Other(match *received {
                    0 => "the server closed the connection without a TLS answer".to_string(),
                    n if !looks_like_tls(kept) => format!("not TLS: the server sent {}", excerpt(kept, n)),
                    n => format!(
                        "the server closed the connection during the TLS handshake (after {n} byte(s))"
                    ),
                }));
            }
            Ok(_) => {
                if *received > MAX_HANDSHAKE_BYTES {
                    return Err(Stop::Other(
                        "the server sent more than 1 MiB without finishing the handshake".into(),
                    ));
                }
                conn.process_new_packets().map_err(Stop::Tls)?;
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return Err(Stop::Other(match *received {
                    0 => "the server reset the connection without a TLS answer".to_string(),
                    n => format!(
                        "the server reset the connection during the TLS handshake; it sent {}",
                        excerpt(kept, n)
                    ),
                }));
            }
            Err(e) => return Err(Stop::Other(format!("receiving failed: {e}"))),
        }
    }
}

/// Write what rustls has queued, each write bounded by a slice of the deadline.
fn flush(conn: &mut ClientConnection, stream: &mut dyn Conn, deadline: Instant) -> Result<(), String> {
    while conn.wants_write() {
        if crate::cancel::requested() {
            return Err("interrupted".into());
        }
        let slice = crate::cancel::slice_until(deadline)
            .ok_or_else(|| "the server did not take our handshake bytes before the deadline".to_string())?;
        stream.write_slice(slice).map_err(|e| e.to_string())?;
        match conn.write_tls(stream) {
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(format!("sending failed: {e}")),
        }
    }
    Ok(())
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

/// rustls' error, said the way a troubleshooter needs it, with the server's bytes when useful.
/// `kept`: the server's first bytes; `total`: how many it sent.
pub fn describe_error(err: &rustls::Error, kept: &[u8], total: usize) -> String {
    if !kept.is_empty() && !looks_like_tls(kept) {
        return format!("not TLS: the server sent {}", excerpt(kept, total.max(kept.len())));
    }
    if let rustls::Error::AlertReceived(alert) = err {
        return format!("the server sent a TLS alert: {}", snake(&format!("{alert:?}")));
    }
    if let Some(v) = server_hello_version(kept).filter(|v| *v < 0x0303) {
        return format!(
            "the server chose {}, which is refused here (TLS 1.2 and 1.3 only): {err}",
            version_name(rustls::ProtocolVersion::from(v))
        );
    }
    format!("the TLS handshake failed: {err}")
}

/// A TLS record starts with a content type 20..=24 and major version 3.
pub fn looks_like_tls(bytes: &[u8]) -> bool {
    match bytes {
        [] => true,
        [t] => (20..=24).contains(t),
        [t, major, ..] => (20..=24).contains(t) && *major == 3,
    }
}

/// The version a ServerHello record chose (its legacy_version field).
pub fn server_hello_version(bytes: &[u8]) -> Option<u16> {
    let mut r = Reader::new(bytes);
    // Record: type 22 (handshake), version, length; handshake: type 2 (ServerHello), length (3 bytes).
    if r.u8().ok()? != 22 {
        return None;
    }
    r.skip(4).ok()?;
    if r.u8().ok()? != 2 {
        return None;
    }
    r.skip(3).ok()?;
    r.u16_be().ok()
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match u16::from(v) {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        n => format!("version 0x{n:04x}"),
    }
}

/// Hex of the first 32 bytes, and the text when they are printable (a banner).
fn excerpt(kept: &[u8], total: usize) -> String {
    let head = &kept[..kept.len().min(32)];
    let shown: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let more = if total > shown.len() { " ..." } else { "" };
    let mut s = format!("{total} byte(s): {}{more}", shown.join(" "));
    if !head.is_empty() && head.iter().all(|b| b.is_ascii_graphic() || b" \r\n\t".contains(b)) {
        let text: String = head.iter().map(|&b| b as char).collect();
        s += &format!(" ({:?}{more})", text.trim_end());
    }
    s
}

/// `ProtocolVersion` → `protocol_version` (the RFC's alert names).
fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_read_like_the_rfc() {
        let e = rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion);
        assert_eq!(
            describe_error(&e, &[21, 3, 3, 0, 2, 2, 70], 7),
            "the server sent a TLS alert: protocol_version"
        );
        let e = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert_eq!(describe_error(&e, &[21, 3, 1], 3), "the server sent a TLS alert: handshake_failure");
    }

    #[test]
    fn non_tls_bytes_are_shown() {
        // An LDAP message (what a plain LDAP server might send back).
        let ldap = [0x30, 0x84, 0x00, 0x00, 0x00, 0x10, 0x02, 0x01];
        let e = rustls::Error::General("x".into());
        assert_eq!(
            describe_error(&e, &ldap, 8),
            "not TLS: the server sent 8 byte(s): 30 84 00 00 00 10 02 01"
        );
        assert!(!looks_like_tls(b"SSH-2.0-OpenSSH"));
        assert!(looks_like_tls(&[22, 3, 1, 0, 5]));
    }

    #[test]
    fn an_old_server_hello_is_named() {
        let hello = [22, 3, 1, 0, 0x31, 2, 0, 0, 0x2d, 3, 1, 0xaa];
        assert_eq!(server_hello_version(&hello), Some(0x0301));
        let e = rustls::Error::General("refused".into());
        assert!(
            describe_error(&e, &hello, 12).starts_with("the server chose TLS 1.0, which is refused here")
        );
        assert_eq!(server_hello_version(&hello[..9]), None);
        assert_eq!(server_hello_version(&[]), None);
    }
}
