//! Judging the recorded chain the way a client would: rustls' own
//! `WebPkiServerVerifier` against this machine's trusted roots
//! (`rustls-native-certs`: the OS store; on Unix `SSL_CERT_FILE` /
//! `SSL_CERT_DIR` choose another bundle), for the name the user typed (or the
//! IP). The name is also checked on its own, so "unknown issuer" and "name
//! mismatch" are both reported when both are true.

use super::handshake::provider;
use rustls::client::danger::ServerCertVerifier;
use rustls::client::{ServerCertVerifierBuilder, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};
use serde::Serialize;
use std::sync::{Arc, OnceLock};

/// The chain's verdict.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verdict {
    /// The chain verifies against the trusted roots for `name`.
    pub verified: bool,
    /// Why not: "certificate expired", "unknown issuer", "name mismatch", ...
    pub reason: Option<String>,
    /// The name checked (what the user typed, or the IP).
    pub name: String,
    /// The end-entity certificate is valid for `name` (None: it did not parse).
    pub name_matches: Option<bool>,
    /// How many trusted roots were used.
    pub roots: usize,
}

/// The system's roots, loaded once per run.
fn system_roots() -> &'static Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        // Unreadable files in the store are skipped; what loads is used.
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
        Arc::new(store)
    })
}

/// Verify `chain` (end entity first) for `name` against the system roots.
pub fn verify(chain: &[Vec<u8>], name: &ServerName<'static>, now: UnixTime) -> Verdict {
    verify_with(chain, name, system_roots().clone(), now)
}

/// Verify against given roots (tests use their own CA).
pub fn verify_with(
    chain: &[Vec<u8>],
    name: &ServerName<'static>,
    roots: Arc<RootCertStore>,
    now: UnixTime,
) -> Verdict {
    let mut v = Verdict {
        verified: false,
        reason: None,
        name: name.to_str().into_owned(),
        name_matches: None,
        roots: roots.len(),
    };
    let Some((end, rest)) = chain.split_first() else {
        v.reason = Some("the server sent no certificate".into());
        return v;
    };
    let end = CertificateDer::from(end.as_slice());
    let intermediates: Vec<CertificateDer> =
        rest.iter().map(|c| CertificateDer::from(c.as_slice())).collect();
    v.name_matches = rustls::server::ParsedCertificate::try_from(&end)
        .ok()
        .map(|p| rustls::client::verify_server_name(&p, name).is_ok());
    if roots.is_empty() {
        v.reason = Some("no trusted roots found on this machine".into());
        return v;
    }
    let builder: ServerCertVerifierBuilder = WebPkiServerVerifier::builder_with_provider(roots, provider());
    let verifier = match builder.build() {
        Ok(b) => b,
        Err(e) => {
            v.reason = Some(format!("could not build the verifier: {e}"));
            return v;
        }
    };
    match verifier.verify_server_cert(&end, &intermediates, name, &[], now) {
        Ok(_) => v.verified = true,
        Err(e) => {
            let mut why = reason(&e);
            if self_issued(&end) && (why == "unknown issuer" || why == CA_AS_SERVER) {
                // webpki refuses a self-signed CA:TRUE certificate before looking for its
                // issuer; either way the troubleshooter's answer is: nobody here trusts it.
                why = "unknown issuer (self-signed)".into();
            }
            // webpki stops at the first fault; a wrong name is worth saying too.
            if v.name_matches == Some(false) && why != "name mismatch" {
                why.push_str("; name mismatch");
            }
            v.reason = Some(why);
        }
    }
    v
}

const CA_AS_SERVER: &str = "a CA certificate used as the server's certificate";

fn self_issued(end: &CertificateDer) -> bool {
    x509_parser::parse_x509_certificate(end).is_ok_and(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
}

/// rustls' certificate error in the words a troubleshooter searches for.
fn reason(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate not valid yet".into()
            }
            CertificateError::UnknownIssuer => "unknown issuer".into(),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "name mismatch".into()
            }
            CertificateError::BadSignature => "bad signature".into(),
            CertificateError::BadEncoding => "certificate badly encoded".into(),
            CertificateError::Revoked => "certificate revoked".into(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "certificate not for TLS servers (extended key usage)".into()
            }
            // webpki's own errors come wrapped; this one has no rustls name.
            other if format!("{other:?}").contains("CaUsedAsEndEntity") => CA_AS_SERVER.into(),
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}
