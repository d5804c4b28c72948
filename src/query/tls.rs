//! TLS (LDAPS 636, global catalog over TLS 3269, HTTPS 443; any TCP port with
//! `--tls`): the handshake over the connection the probe opened, the server's
//! certificate chain (names, dates, days left, SHA-256) and whether it
//! verifies for the name typed against this machine's roots. An expired or
//! expiring certificate — the classic LDAPS outage — is flagged in text and JSON.

pub mod cert;
pub mod handshake;
pub mod starttls;
pub mod verify;

use super::{Answer, Block, Ctx, Line, Outcome, Query, Request, Route, Sink, to_json};
use crate::probe::{Evidence, Observation, State};
use cert::CertSummary;
use rustls::pki_types::{ServerName, UnixTime};
use serde::Serialize;
use std::net::{IpAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use verify::Verdict;

/// Services-file names that mean TLS from the first byte.
pub const SERVICES: &[&str] = &["ldaps", "msft-gc-ssl", "https"];
pub const PORTS: &[u16] = &[636, 3269, 443];

#[derive(Debug)]
pub struct Tls;

impl Query for Tls {
    fn id(&self) -> &'static str {
        "tls"
    }
    fn label(&self) -> &'static str {
        "TLS"
    }
    fn route(&self) -> Route {
        Route { services: SERVICES, ports: PORTS, transports: super::TCP }
    }
    // The handshake is a conversation (`tcp` below); there is no single request.
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        Request { bytes: Vec::new(), token: 0 }
    }
    fn answer(&self, _ctx: &Ctx, _req: &Request, _reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        Err("TLS is a handshake, not a single reply".into())
    }
    fn tcp(&self, ctx: &Ctx, stream: TcpStream, sink: &mut dyn Sink) -> Outcome {
        sink.show(vec![Line::Para(format!("Starting a TLS handshake on TCP port {}...", ctx.port))]);
        let wait = ctx.opts.tcp_wait;
        let a =
            converse(stream, &ctx.target.input, ctx.target.addr, ctx.port, wait, ctx.opts.tls_ca.as_ref());
        outcome_of(a, 0, wait)
    }
}

/// The outcome of a TLS conversation: LISTENING (the TCP connection proved it;
/// the handshake says what listens), with the answer unless nothing came at
/// all. `before` counts bytes the server sent before the handshake (StartTLS).
pub fn outcome_of(a: TlsAnswer, before: usize, wait: Duration) -> Outcome {
    let mut outcome = Outcome::new("tls", State::Listening);
    let bytes = before + a.received;
    if bytes > 0 {
        outcome.observation =
            Some(Observation { evidence: Evidence::Reply { bytes }, tries: 1, rtt: Some(a.elapsed), wait });
    }
    outcome.error = a.failure.clone();
    if bytes == 0 && a.certificates.is_empty() {
        let why = a.failure.unwrap_or_else(|| "no answer".into());
        outcome.notes.push(Line::Para(format!("No TLS answer: {why}")));
    } else {
        outcome.answer = Some(Arc::new(a));
    }
    outcome
}

impl Answer for TlsAnswer {
    fn block(&self) -> Block {
        self.lines().into_iter().map(|(l, para)| if para { Line::Para(l) } else { Line::Plain(l) }).collect()
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn proof(&self) -> Option<String> {
        self.proof_text()
    }
}

/// The answer: the handshake, the chain, the verdict.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsAnswer {
    /// The upgrade asked for before the handshake (LDAP StartTLS), if any.
    pub starttls: Option<starttls::StartTls>,
    /// The handshake completed (we then sent close_notify, never application data).
    pub handshake_completed: bool,
    /// Why it did not, with what the server sent.
    pub failure: Option<String>,
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    pub key_exchange: Option<String>,
    /// The protocol the server picked from ours (offered on port 443 only).
    pub alpn: Option<String>,
    /// Bytes the server sent during the handshake.
    pub received: usize,
    /// How long the handshake took (the verdict's work not included).
    #[serde(skip)]
    pub elapsed: Duration,
    /// End entity first, as the server sent them.
    pub certificates: Vec<CertSummary>,
    /// The server's handshake signature checked with the certificate's key:
    /// "verified", or why not (None: no signature seen).
    pub key_proof: Option<String>,
    /// Chain against the system roots and the name (None: no certificate).
    pub verification: Option<Verdict>,
    /// Expiry warnings, one per affected certificate ("certificate 1 (CN=...): EXPIRED 3 days ago").
    pub warnings: Vec<String>,
}

/// The name the chain must be valid for: what the user typed when it is a DNS
/// name (it is also sent as SNI), otherwise the address probed.
pub fn server_name(typed: &str, addr: IpAddr) -> ServerName<'static> {
    let typed = typed.trim().trim_end_matches('.');
    match ServerName::try_from(typed.to_string()) {
        Ok(n @ ServerName::DnsName(_)) => n,
        _ => ServerName::IpAddress(addr.into()),
    }
}

/// ALPN we offer: only where the service is HTTPS (an LDAPS server with strict
/// ALPN would refuse a foreign offer).
pub fn alpn_for(port: u16) -> &'static [&'static str] {
    if port == 443 { &["h2", "http/1.1"] } else { &[] }
}

/// The whole conversation on an open connection: handshake, summary, verdict.
pub fn converse(
    stream: TcpStream,
    typed: &str,
    addr: IpAddr,
    port: u16,
    wait: Duration,
    extra: Option<&verify::ExtraCa>,
) -> TlsAnswer {
    let name = server_name(typed, addr);
    let started = Instant::now();
    let mut stream = stream;
    // Blocking, so each read and write waits its slice (the engine hands
    // over blocking streams; a caller's own connect may not).
    let _ = stream.set_nonblocking(false);
    let hs = handshake::run(&mut stream, name.clone(), alpn_for(port), started + wait);
    let elapsed = started.elapsed();
    let verdict = (!hs.chain.is_empty()).then(|| verify::verify(&hs.chain, &name, extra, UnixTime::now()));
    TlsAnswer { elapsed, ..summarize(hs, verdict, unix_now()) }
}

/// Build the answer from a handshake and its verdict as of `now` (Unix seconds).
pub fn summarize(hs: handshake::Handshake, verification: Option<Verdict>, now: i64) -> TlsAnswer {
    let certificates: Vec<CertSummary> = hs.chain.iter().map(|der| cert::summarize(der, now)).collect();
    let warnings = certificates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let w = c.warning.as_ref()?;
            let who = c.subject.as_deref().unwrap_or("unparsed");
            Some(format!("certificate {} ({who}): {w}", i + 1))
        })
        .collect();
    TlsAnswer {
        starttls: None,
        handshake_completed: hs.completed,
        failure: hs.failure,
        version: hs.version,
        cipher_suite: hs.cipher_suite,
        key_exchange: hs.key_exchange,
        alpn: hs.alpn,
        received: hs.received,
        elapsed: Duration::ZERO,
        certificates,
        key_proof: hs.key_proof.map(|r| r.map(|()| "verified".to_string()).unwrap_or_else(|e| e)),
        verification,
        warnings,
    }
}

fn unix_now() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl TlsAnswer {
    /// The report's lines; `true` marks a line followed by a blank line.
    pub fn lines(&self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let mut line = |s: String| out.push((s, false));
        // An accepted StartTLS was said as it happened (before the handshake).
        if let Some(st) = self.starttls.as_ref().filter(|st| !st.accepted) {
            line(format!("{} {} refused: {}", st.protocol, st.command, st.result));
            if let Some(last) = out.last_mut() {
                last.1 = true;
            }
            return out;
        }
        match (&self.failure, self.handshake_completed) {
            (None, true) => {
                let mut s = "TLS handshake completed".to_string();
                if let Some(v) = &self.version {
                    s += &format!(": {v}");
                }
                if let Some(c) = &self.cipher_suite {
                    s += &format!(", cipher suite {c}");
                }
                if let Some(k) = &self.key_exchange {
                    s += &format!(", key exchange {k}");
                }
                line(s);
            }
            (Some(f), _) => line(format!("TLS handshake failed: {f}")),
            (None, false) => line("TLS handshake did not complete".into()),
        }
        if let Some(a) = &self.alpn {
            line(format!("ALPN: {a}"));
        }
        if !self.certificates.is_empty() {
            line(format!("Certificate chain: {} certificate(s)", self.certificates.len()));
        }
        for (i, c) in self.certificates.iter().enumerate() {
            let role = if i == 0 { "server" } else { "chain" };
            line(format!("certificate {} ({role}):", i + 1));
            if let Some(s) = &c.subject {
                line(format!("  subject:    {s}"));
            }
            if let Some(s) = &c.issuer {
                let own = if c.self_issued { " (self-issued)" } else { "" };
                line(format!("  issuer:     {s}{own}"));
            }
            if !c.sans.is_empty() {
                line(format!("  SANs:       {}", c.sans.join(", ")));
            }
            if let Some(s) = &c.not_before {
                line(format!("  not before: {s}"));
            }
            match (&c.not_after, c.days_left) {
                (Some(s), _) if c.expired => line(format!("  not after:  {s} (expired)")),
                (Some(s), Some(d)) => line(format!("  not after:  {s} ({d} days left)")),
                _ => {}
            }
            line(format!("  SHA-256:    {}", c.sha256));
            if let Some(w) = &c.warning {
                line(format!("  WARNING: {w}"));
            }
            if let Some(e) = &c.error {
                line(format!("  {e}"));
            }
        }
        if let Some(k) = self.key_proof.as_deref().filter(|k| *k != "verified") {
            line(format!("The server's handshake signature does not verify with its certificate: {k}"));
        }
        if let Some(v) = &self.verification {
            let against = match &v.ca_file {
                Some(f) => format!("the system roots and --tls-ca {f}"),
                None => "the system roots".into(),
            };
            let s = if v.verified {
                format!("The chain verifies against {against} for \"{}\"", v.name)
            } else {
                format!(
                    "The chain does not verify against {against} for \"{}\": {}",
                    v.name,
                    v.reason.as_deref().unwrap_or("unknown reason")
                )
            };
            line(s);
        }
        for w in &self.warnings {
            line(format!("WARNING: {w}"));
        }
        if let Some(last) = out.last_mut() {
            last.1 = true;
        }
        out
    }

    /// What proves a TLS server answered.
    pub fn proof_text(&self) -> Option<String> {
        if self.handshake_completed {
            let proof = match self.key_proof.as_deref() {
                Some("verified") => ", signed with the certificate's key",
                _ => "",
            };
            Some(format!("a completed TLS handshake{proof}"))
        } else {
            self.starttls
                .as_ref()
                .map(|st| format!("an {} answer to {}: {}", st.protocol, st.command, st.result))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_name_checked_is_the_dns_name_typed_else_the_address() {
        let ip = IpAddr::V4(Ipv4Addr::new(198, 18, 13, 2));
        let name = |typed| server_name(typed, ip).to_str().into_owned();
        assert_eq!(name("DC1.portqry.test."), "DC1.portqry.test");
        assert_eq!(name(" dc1 "), "dc1");
        for typed in ["198.18.13.2", "[fe80::1%3]", "198.18.13.0/30", "", "a b"] {
            assert_eq!(name(typed), "198.18.13.2", "{typed:?}");
        }
        assert!(matches!(server_name("dc1.portqry.test", ip), ServerName::DnsName(_)));
    }

    #[test]
    fn alpn_is_offered_to_https_only() {
        assert_eq!(alpn_for(443), ["h2", "http/1.1"]);
        assert!(alpn_for(636).is_empty() && alpn_for(3269).is_empty());
    }
}
