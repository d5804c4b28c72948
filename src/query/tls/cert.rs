//! One certificate of a server's chain, summarised from its DER bytes for the
//! troubleshooter: names, validity, days left, fingerprint. Parsing is the
//! `x509-parser` crate's (no hand-written X.509); a certificate that does not
//! parse still gets its fingerprint and the parser's reason.

use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};
use x509_parser::extensions::GeneralName;

/// Under this many days left, the expiry is flagged (the classic LDAPS outage
/// is a DC certificate nobody renewed).
pub const WARN_DAYS: i64 = 30;

const DAY: i64 = 86_400;

/// What the report shows of one certificate.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CertSummary {
    /// Subject distinguished name, `CN=..., O=...` (openssl's order).
    pub subject: Option<String>,
    pub issuer: Option<String>,
    /// Serial number as colon hex.
    pub serial: Option<String>,
    /// Subject alternative names: `DNS:name`, `IP:address` (also `email:`, `URI:`).
    pub sans: Vec<String>,
    /// Validity as `YYYY-MM-DD HH:MM:SS UTC` and as Unix seconds.
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub not_before_unix: Option<i64>,
    pub not_after_unix: Option<i64>,
    /// Whole days until not-after, rounded down: negative once expired.
    pub days_left: Option<i64>,
    pub expired: bool,
    pub not_yet_valid: bool,
    /// "EXPIRED n days ago", "expires in n days" (under 30 days), "not valid before ...".
    pub warning: Option<String>,
    /// Subject and issuer are the same name.
    pub self_issued: bool,
    /// basicConstraints CA flag.
    pub ca: bool,
    /// SHA-256 of the DER, colon hex like `openssl x509 -fingerprint -sha256`.
    pub sha256: String,
    /// Why the certificate did not parse, when it did not.
    pub error: Option<String>,
}

/// Summarise one DER certificate as of `now` (Unix seconds). Never panics.
pub fn summarize(der: &[u8], now: i64) -> CertSummary {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut s = CertSummary {
        subject: None,
        issuer: None,
        serial: None,
        sans: Vec::new(),
        not_before: None,
        not_after: None,
        not_before_unix: None,
        not_after_unix: None,
        days_left: None,
        expired: false,
        not_yet_valid: false,
        warning: None,
        self_issued: false,
        ca: false,
        sha256: colon_hex(digest.as_ref()),
        error: None,
    };
    let cert = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            s.error = Some(format!("the certificate did not parse: {e}"));
            return s;
        }
    };
    s.subject = Some(cert.subject().to_string());
    s.issuer = Some(cert.issuer().to_string());
    s.self_issued = cert.subject().as_raw() == cert.issuer().as_raw();
    s.serial = Some(cert.raw_serial_as_string());
    s.ca = cert.is_ca();
    match cert.subject_alternative_name() {
        Ok(Some(ext)) => s.sans = ext.value.general_names.iter().filter_map(san).collect(),
        Ok(None) => {}
        Err(e) => s.error = Some(format!("the subject alternative names did not parse: {e}")),
    }
    let nb = cert.validity().not_before.timestamp();
    let na = cert.validity().not_after.timestamp();
    s.not_before = Some(utc(nb));
    s.not_after = Some(utc(na));
    s.not_before_unix = Some(nb);
    s.not_after_unix = Some(na);
    let left = na.saturating_sub(now);
    s.days_left = Some(left.div_euclid(DAY));
    s.expired = left < 0;
    s.not_yet_valid = now < nb;
    s.warning = expiry_warning(left)
        .or_else(|| s.not_yet_valid.then(|| format!("NOT VALID YET: valid from {}", utc(nb))));
    s
}

/// "EXPIRED n days ago" / "expires in n days" from the seconds left (under [`WARN_DAYS`]).
pub fn expiry_warning(seconds_left: i64) -> Option<String> {
    if seconds_left < 0 {
        let ago = seconds_left.unsigned_abs() / DAY as u64;
        return Some(match ago {
            0 => "EXPIRED today".to_string(),
            1 => "EXPIRED 1 day ago".to_string(),
            n => format!("EXPIRED {n} days ago"),
        });
    }
    let days = seconds_left / DAY;
    (days < WARN_DAYS).then(|| match days {
        0 => "expires today".to_string(),
        1 => "expires in 1 day".to_string(),
        n => format!("expires in {n} days"),
    })
}

fn san(name: &GeneralName) -> Option<String> {
    Some(match name {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!("IP:{}", Ipv4Addr::from(<[u8; 4]>::try_from(*b).ok()?)),
            16 => format!("IP:{}", Ipv6Addr::from(<[u8; 16]>::try_from(*b).ok()?)),
            _ => format!("IP:{}", colon_hex(b)),
        },
        GeneralName::RFC822Name(m) => format!("email:{m}"),
        GeneralName::URI(u) => format!("URI:{u}"),
        _ => return None,
    })
}

/// `YYYY-MM-DD HH:MM:SS UTC` (out-of-range times as raw seconds).
pub fn utc(unix: i64) -> String {
    match chrono::DateTime::from_timestamp(unix, 0) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => format!("{unix} s since 1970"),
    }
}

/// Upper-case colon hex, openssl's fingerprint style.
pub fn colon_hex(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    parts.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_count_whole_days() {
        assert_eq!(expiry_warning(-1).as_deref(), Some("EXPIRED today"));
        assert_eq!(expiry_warning(-DAY - 5).as_deref(), Some("EXPIRED 1 day ago"));
        assert_eq!(expiry_warning(-10 * DAY).as_deref(), Some("EXPIRED 10 days ago"));
        assert_eq!(expiry_warning(5).as_deref(), Some("expires today"));
        assert_eq!(expiry_warning(DAY + 1).as_deref(), Some("expires in 1 day"));
        assert_eq!(expiry_warning(29 * DAY + 1).as_deref(), Some("expires in 29 days"));
        assert_eq!(expiry_warning(30 * DAY), None);
    }

    #[test]
    fn garbage_still_gets_a_fingerprint_and_a_reason() {
        for bytes in
            [&b""[..], &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..], &[0x30, 0x03, 0x02, 0x01, 0x00][..]]
        {
            let s = summarize(bytes, 0);
            assert_eq!(s.sha256.len(), 32 * 3 - 1);
            assert!(s.error.is_some(), "{bytes:?}");
            assert_eq!(s.subject, None);
        }
        // SHA-256 of nothing, as `openssl dgst -sha256 -c` prints it.
        assert!(summarize(b"", 0).sha256.starts_with("E3:B0:C4:42:98:FC:1C:14"));
    }

    #[test]
    fn utc_formats_and_survives_huge_values() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(i64::MAX), format!("{} s since 1970", i64::MAX));
    }
}
