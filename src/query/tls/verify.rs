//! Judging the recorded chain the way a client would: rustls' own
//! `WebPkiServerVerifier` against this machine's trusted roots
//! (`rustls-native-certs`: the OS store; on Unix `SSL_CERT_FILE` /
//! `SSL_CERT_DIR` choose another bundle) plus the CAs of `--tls-ca`, for the
//! name the user typed (or the IP). The name is also checked on its own, so
//! "unknown issuer" and "name mismatch" are both reported when both are true.

use super::handshake::provider;
use rustls::client::danger::ServerCertVerifier;
use rustls::client::{ServerCertVerifierBuilder, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// `--tls-ca`: CA certificates trusted besides the system's roots (an AD
/// enterprise CA, a lab CA), read once when the command line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraCa {
    /// The file as given, for the verdict line.
    pub file: String,
    /// The certificates (DER), each already accepted as a trust anchor.
    pub certs: Vec<Vec<u8>>,
}

/// Largest `--tls-ca` file read: a bundle of some hundred CAs is far smaller.
const MAX_CA_FILE: u64 = 1 << 20;

/// Read a `--tls-ca` file: PEM (one or more `CERTIFICATE` blocks) or a single
/// DER certificate (what Windows exports as `.cer`). `Err` says what is wrong
/// with it in words, for a one-line usage error.
pub fn load_ca_file(path: &Path) -> Result<ExtraCa, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("give a regular file (a PEM or DER certificate)".into());
    }
    if meta.len() > MAX_CA_FILE {
        return Err("larger than 1 MiB: give the CA certificates only".into());
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs = parse_ca(&bytes)?;
    Ok(ExtraCa { file: crate::error::clip(&path.display().to_string()), certs })
}

/// The certificates of a PEM or DER file's bytes, each usable as a trust anchor.
pub fn parse_ca(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<Vec<u8>> = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let mut certs = Vec::new();
        for c in CertificateDer::pem_slice_iter(bytes) {
            certs.push(c.map_err(|e| format!("not a readable PEM file: {e}"))?.to_vec());
        }
        if certs.is_empty() {
            return Err("it holds no -----BEGIN CERTIFICATE----- block".into());
        }
        certs
    } else {
        vec![bytes.to_vec()]
    };
    for (i, der) in certs.iter().enumerate() {
        let which = if certs.len() > 1 { format!("certificate {}", i + 1) } else { "the certificate".into() };
        if x509_parser::parse_x509_certificate(der).is_err() {
            return Err(format!("{which} is neither PEM nor a DER X.509 certificate"));
        }
        RootCertStore::empty()
            .add(CertificateDer::from(der.as_slice()))
            .map_err(|e| format!("{which} cannot be a trust anchor: {e}"))?;
    }
    Ok(certs)
}

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
    /// The `--tls-ca` file whose certificates were trusted too.
    pub ca_file: Option<String>,
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

/// Verify `chain` (end entity first) for `name` against the system roots and
/// the `--tls-ca` certificates.
pub fn verify(
    chain: &[Vec<u8>],
    name: &ServerName<'static>,
    extra: Option<&ExtraCa>,
    now: UnixTime,
) -> Verdict {
    let roots = match extra {
        None => system_roots().clone(),
        Some(ca) => {
            let mut store = RootCertStore::clone(system_roots());
            store.add_parsable_certificates(ca.certs.iter().map(|c| CertificateDer::from(c.clone())));
            Arc::new(store)
        }
    };
    let mut v = verify_with(chain, name, roots, now);
    v.ca_file = extra.map(|ca| ca.file.clone());
    v
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
        ca_file: None,
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
        v.reason = Some("no trusted roots found on this machine (give --tls-ca FILE)".into());
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
