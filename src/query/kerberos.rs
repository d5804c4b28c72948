//! Kerberos on 88 (KDC) and kpasswd on 464: one request without any credential,
//! whose KRB-ERROR (or AS-REP) proves the service and tells its realm and clock.
//!
//! * 88: an AS-REQ without pre-authentication from the made-up client `portqry-probe`
//!   for krbtgt/REALM@REALM. A KDC answers KDC_ERR_C_PRINCIPAL_UNKNOWN (no such user),
//!   KDC_ERR_WRONG_REALM, or KDC_ERR_PREAUTH_REQUIRED should that name exist.
//! * 464: MIT kadmind and Samba drop an AS-REQ or an empty kpasswd request without a
//!   word, so the request is a kpasswd (RFC 3244) frame whose AP-REQ and KRB-PRIV are
//!   all-zero ciphertext: both answer a kpasswd reply holding a KRB-ERROR.
//!
//! "Is it ours": a KRB-ERROR carries no nonce, so it must name the realm and service
//! we asked for (a WRONG_REALM error may name another realm); an AS-REP's nonce is
//! encrypted, so it must name our client; on TCP the record length must match.
//! The realm is `--realm`, else the target name's domain upper-cased
//! (dc1.corp.example → CORP.EXAMPLE), else a placeholder no KDC serves.

use super::{Answer, BOTH, Block, Ctx, Line, Query, Request, Route};
use crate::probe::Transport;
use crate::wire::kerberos::{self as krb, Message};
use std::sync::Arc;
use std::time::SystemTime;

/// The client name we ask for: made up, never a real user's.
pub const CLIENT: &str = "portqry-probe";
/// The realm asked when neither `--realm` nor the target name gives one.
pub const PLACEHOLDER_REALM: &str = "PORTQRY.INVALID";
/// Kerberos' default tolerance for clock skew (MIT `clockskew`, AD policy): beyond
/// it every ticket request fails with KRB_AP_ERR_SKEW.
pub const MAX_SKEW_SECS: f64 = 300.0;

#[derive(Debug)]
pub struct Kerberos;

#[derive(Debug)]
pub struct Kpasswd;

/// The realm to ask for and where it came from.
pub fn realm_for(ctx: &Ctx) -> (String, &'static str) {
    if let Some(r) = ctx.opts.realm.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        return (r.to_ascii_uppercase(), "--realm");
    }
    match realm_from_name(&ctx.target.input) {
        Some(r) => (r, "the target's DNS name"),
        None => (PLACEHOLDER_REALM.to_string(), "a placeholder: give --realm"),
    }
}

/// dc1.corp.example → CORP.EXAMPLE; an address or a single-label name gives nothing.
pub fn realm_from_name(input: &str) -> Option<String> {
    let name = input.trim().trim_end_matches('.');
    if name.parse::<std::net::IpAddr>().is_ok() || name.starts_with('[') || name.contains(':') {
        return None;
    }
    let (_, domain) = name.split_once('.')?;
    (!domain.is_empty() && domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
        .then(|| domain.to_ascii_uppercase())
}

/// A random positive 31-bit nonce (some KDCs read the UInt32 as signed).
fn nonce() -> u32 {
    let b = uuid::Uuid::new_v4().into_bytes();
    (u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff).max(1)
}

impl Query for Kerberos {
    fn id(&self) -> &'static str {
        "kerberos"
    }
    fn label(&self) -> &'static str {
        "Kerberos"
    }
    fn route(&self) -> Route {
        Route { services: &["kerberos", "kerberos-sec", "kerberos5", "krb5"], ports: &[88], transports: BOTH }
    }
    fn request(&self, ctx: &Ctx, tcp: bool) -> Request {
        let (realm, _) = realm_for(ctx);
        let n = nonce();
        let msg = krb::emit_as_req(&realm, CLIENT, &["krbtgt", &realm], n);
        Request { bytes: if tcp { krb::tcp_frame(&msg) } else { msg }, token: n.into() }
    }
    fn framed_len(&self, buf: &[u8]) -> Option<usize> {
        krb::tcp_record_len(buf)
    }
    fn answer(&self, ctx: &Ctx, req: &Request, reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        let (realm, source) = realm_for(ctx);
        let tcp = ctx.transport == Transport::Tcp;
        let msg = if tcp { krb::untcp(reply).map_err(|e| e.to_string())? } else { reply };
        let m = krb::parse_message(msg).map_err(|e| e.to_string())?;
        let service = vec!["krbtgt".into(), realm.clone()];
        let asked = Asked { realm, source, service, nonce: req.token };
        KrbAnswer::build(&asked, m, None, tcp).map(|a| Arc::new(a) as Arc<dyn Answer>)
    }
}

impl Query for Kpasswd {
    fn id(&self) -> &'static str {
        "kpasswd"
    }
    fn label(&self) -> &'static str {
        "kpasswd"
    }
    fn route(&self) -> Route {
        Route { services: &["kpasswd", "kpasswd5"], ports: &[464], transports: BOTH }
    }
    fn request(&self, ctx: &Ctx, tcp: bool) -> Request {
        let msg = krb::emit_kpasswd_probe(&realm_for(ctx).0);
        Request { bytes: if tcp { krb::tcp_frame(&msg) } else { msg }, token: 0 }
    }
    fn framed_len(&self, buf: &[u8]) -> Option<usize> {
        krb::tcp_record_len(buf)
    }
    fn answer(&self, ctx: &Ctx, req: &Request, reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        let (realm, source) = realm_for(ctx);
        let tcp = ctx.transport == Transport::Tcp;
        let msg = if tcp { krb::untcp(reply).map_err(|e| e.to_string())? } else { reply };
        let r = krb::parse_kpasswd_reply(msg).map_err(|e| e.to_string())?;
        let asked =
            Asked { realm, source, service: vec!["kadmin".into(), "changepw".into()], nonce: req.token };
        KrbAnswer::build(&asked, r.message, Some(r.ap_rep_len), tcp).map(|a| Arc::new(a) as Arc<dyn Answer>)
    }
}

/// What we asked, for the "is it ours" checks and the text.
struct Asked {
    realm: String,
    source: &'static str,
    service: Vec<String>,
    nonce: u64,
}

/// What a KDC or kpasswd server said.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KrbAnswer {
    /// "KRB-ERROR" or "AS-REP".
    pub message: &'static str,
    /// The realm we asked for and where it came from.
    pub realm_asked: String,
    pub realm_source: &'static str,
    pub error_code: Option<i32>,
    pub error_name: Option<&'static str>,
    /// The realm the server named (KRB-ERROR realm, AS-REP crealm).
    pub realm: String,
    /// The service principal it named (sname; the ticket's for an AS-REP).
    pub server_name: String,
    pub client_name: Option<String>,
    /// Server time (stime.susec) in UTC, and server minus this machine's clock.
    pub server_time: Option<String>,
    pub clock_skew_seconds: Option<f64>,
    /// The skew exceeds Kerberos' default 5-minute tolerance.
    pub skew_too_large: bool,
    pub e_text: Option<String>,
    /// kpasswd: the result code and text in the KRB-ERROR's e-data.
    pub kpasswd_result: Option<u16>,
    pub kpasswd_result_name: Option<&'static str>,
    pub kpasswd_result_text: Option<String>,
    /// kpasswd: length of the AP-REP before the message (0 on an error).
    pub ap_rep_length: Option<u16>,
    #[serde(skip)]
    proof: String,
}

/// Control characters from the server, shown escaped.
fn clean(s: &str) -> String {
    s.chars()
        .take(200)
        .flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] })
        .collect()
}

fn same_name(got: &krb::PrincipalName, want: &[String]) -> bool {
    got.components.len() == want.len()
        && got.components.iter().zip(want).all(|(g, w)| g.eq_ignore_ascii_case(w))
}

impl KrbAnswer {
    fn build(asked: &Asked, m: Message, ap_rep_len: Option<u16>, tcp: bool) -> Result<KrbAnswer, String> {
        let framing = if tcp { ", in a TCP record of the right length" } else { "" };
        let mut a = KrbAnswer {
            message: "KRB-ERROR",
            realm_asked: asked.realm.clone(),
            realm_source: asked.source,
            error_code: None,
            error_name: None,
            realm: String::new(),
            server_name: String::new(),
            client_name: None,
            server_time: None,
            clock_skew_seconds: None,
            skew_too_large: false,
            e_text: None,
            kpasswd_result: None,
            kpasswd_result_name: None,
            kpasswd_result_text: None,
            ap_rep_length: ap_rep_len,
            proof: String::new(),
        };
        let service = asked.service.join("/");
        match m {
            Message::Error(e) => {
                // A kpasswd server names its own realm whatever the (fake) ticket said:
                // there the kpasswd framing and kadmin/changepw are the proof.
                let realm_ok =
                    e.realm.eq_ignore_ascii_case(&asked.realm) || e.error_code == 68 || ap_rep_len.is_some();
                if !same_name(&e.sname, &asked.service) || !realm_ok {
                    return Err(format!(
                        "a KRB-ERROR for {}@{}, not for our {service}@{}",
                        clean(&e.sname.to_string()),
                        clean(&e.realm),
                        asked.realm
                    ));
                }
                if let Some(c) = e.cname.as_ref().filter(|c| !c.components.is_empty())
                    && ap_rep_len.is_none()
                    && !same_name(c, &[CLIENT.to_string()])
                {
                    return Err(format!("a KRB-ERROR for client {}, not {CLIENT}", clean(&c.to_string())));
                }
                let now = SystemTime::now();
                let st = krb::server_time(&e);
                let skew = match st.duration_since(now) {
                    Ok(d) => d.as_secs_f64(),
                    Err(e) => -e.duration().as_secs_f64(),
                };
                a.error_code = Some(e.error_code);
                a.error_name = Some(krb::error_name(e.error_code));
                a.realm = clean(&e.realm);
                a.server_name = clean(&e.sname.to_string());
                a.client_name = e.cname.as_ref().map(|c| clean(&c.to_string()));
                a.server_time = Some(
                    chrono::DateTime::<chrono::Utc>::from(st).format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string(),
                );
                // Rounded to the millisecond, without a "-0.000".
                a.clock_skew_seconds = Some((skew * 1000.0).round() / 1000.0 + 0.0);
                a.skew_too_large = skew.abs() > MAX_SKEW_SECS;
                a.e_text = e.e_text.as_deref().map(clean).filter(|t| !t.is_empty());
                if ap_rep_len.is_some()
                    && let Some((code, text)) = e.e_data.as_deref().and_then(krb::kpasswd_result)
                {
                    a.kpasswd_result = Some(code);
                    a.kpasswd_result_name = Some(krb::kpasswd_result_name(code));
                    a.kpasswd_result_text = Some(clean(&text)).filter(|t| !t.is_empty());
                }
                let wrap = if ap_rep_len.is_some() { " in a kpasswd reply" } else { "" };
                a.proof = if e.realm.eq_ignore_ascii_case(&asked.realm) {
                    format!(
                        "a KRB-ERROR{wrap} naming the realm and service we asked for ({service}@{}){framing}",
                        asked.realm
                    )
                } else {
                    format!(
                        "a KRB-ERROR{wrap} naming the service we asked for ({service}), from realm {}{framing}",
                        a.realm
                    )
                };
            }
            Message::AsRep(r) => {
                if ap_rep_len.is_some() || !same_name(&r.cname, &[CLIENT.to_string()]) {
                    return Err(format!("an AS-REP for {}, not for {CLIENT}", clean(&r.cname.to_string())));
                }
                a.message = "AS-REP";
                a.realm = clean(&r.crealm);
                a.server_name = clean(&r.ticket_sname.to_string());
                a.client_name = Some(clean(&r.cname.to_string()));
                a.proof = format!(
                    "an AS-REP for our client {CLIENT} (its nonce {:#x} is inside the encrypted part){framing}",
                    asked.nonce
                );
            }
            Message::Other(n) => {
                return Err(format!("a Kerberos message of type {n}, not an answer to our request"));
            }
        }
        Ok(a)
    }
}

impl Answer for KrbAnswer {
    fn block(&self) -> Block {
        let mut lines = Vec::new();
        match (self.error_code, self.error_name) {
            (Some(code), Some(name)) => lines.push(format!("Kerberos error {code} ({name})")),
            _ => lines.push(format!("{} (a ticket was issued without pre-authentication)", self.message)),
        }
        if let (Some(code), Some(name)) = (self.kpasswd_result, self.kpasswd_result_name) {
            let text = self.kpasswd_result_text.as_deref().map(|t| format!(": {t}")).unwrap_or_default();
            lines.push(format!("kpasswd result {code} ({name}){text}"));
        }
        lines.push(format!("Realm: {} (asked {}, from {})", self.realm, self.realm_asked, self.realm_source));
        lines.push(format!("Server name: {}", self.server_name));
        if let Some(c) = &self.client_name {
            lines.push(format!("Client name: {c}"));
        }
        if let (Some(t), Some(s)) = (&self.server_time, self.clock_skew_seconds) {
            lines.push(format!("Server time: {t}"));
            let warn = if self.skew_too_large { " - more than Kerberos' 5-minute tolerance" } else { "" };
            lines.push(format!("Clock skew: {s:+.3} s (server minus this machine){warn}"));
        }
        if let Some(t) = &self.e_text {
            lines.push(format!("Error text: {t}"));
        }
        // A blank line after the block, as every answer ends.
        lines.push(String::new());
        lines.into_iter().map(Line::Plain).collect()
    }
    fn json(&self) -> serde_json::Value {
        super::to_json(self)
    }
    fn proof(&self) -> Option<String> {
        Some(self.proof.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_from_the_target_name() {
        assert_eq!(realm_from_name("dc1.portqry.test").as_deref(), Some("PORTQRY.TEST"));
        assert_eq!(realm_from_name("dc1.corp.example.").as_deref(), Some("CORP.EXAMPLE"));
        assert_eq!(realm_from_name("dc1"), None);
        assert_eq!(realm_from_name("198.18.13.2"), None);
        assert_eq!(realm_from_name("fd51:7071::2"), None);
        assert_eq!(realm_from_name("[fd51:7071::2]"), None);
        assert_eq!(realm_from_name("dc1."), None);
    }

    #[test]
    fn realm_comes_from_the_option_then_the_name() {
        let target = |input: &str| crate::target::Target {
            input: input.into(),
            addr: std::net::Ipv4Addr::LOCALHOST.into(),
            scope_id: 0,
        };
        let realm = |opt: Option<&str>, input: &str| {
            let opts = super::super::Options { realm: opt.map(String::from), ..Default::default() };
            let t = target(input);
            let ctx = Ctx { opts: &opts, target: &t, port: 88, transport: Transport::Udp };
            realm_for(&ctx)
        };
        assert_eq!(realm(Some("corp.example"), "dc1.other.test"), ("CORP.EXAMPLE".into(), "--realm"));
        assert_eq!(realm(None, "dc1.other.test"), ("OTHER.TEST".into(), "the target's DNS name"));
        assert_eq!(realm(None, "127.0.0.1"), (PLACEHOLDER_REALM.into(), "a placeholder: give --realm"));
        // The AS-REQ asks for krbtgt/REALM@REALM in that realm.
        let opts = super::super::Options::default();
        let t = target("dc1.corp.example");
        let ctx = Ctx { opts: &opts, target: &t, port: 88, transport: Transport::Tcp };
        let req = Kerberos.request(&ctx, true);
        assert_eq!(Kerberos.framed_len(&req.bytes), Some(req.bytes.len()));
        let msg = krb::untcp(&req.bytes).unwrap();
        assert_eq!(
            msg,
            krb::emit_as_req("CORP.EXAMPLE", CLIENT, &["krbtgt", "CORP.EXAMPLE"], req.token as u32)
        );
        assert!(req.token > 0 && req.token <= 0x7fff_ffff);
    }

    #[test]
    fn wrong_realm_may_name_another_realm() {
        let e = krb::KrbError {
            stime: "20261201041720Z".into(),
            stime_unix: 1_796_098_640,
            error_code: 68,
            realm: "CORP.EXAMPLE".into(),
            sname: krb::PrincipalName::new(2, &["krbtgt", "PORTQRY.INVALID"]),
            ..Default::default()
        };
        let a = KrbAnswer::build(
            &asked("PORTQRY.INVALID", &["krbtgt", "PORTQRY.INVALID"]),
            Message::Error(e),
            None,
            false,
        )
        .unwrap();
        assert_eq!(a.error_name, Some("KDC_ERR_WRONG_REALM"));
        assert_eq!(a.realm, "CORP.EXAMPLE");
        assert!(a.proof().unwrap().ends_with("from realm CORP.EXAMPLE"), "{:?}", a.proof());
        // MIT's AS-REP for our client (had it existed) is ours, for anyone else not.
        let rep = || krb::parse_message(&crate::wire::kerberos::tests::MIT_AS_REP).unwrap();
        let a =
            KrbAnswer::build(&asked("PQKDC.TEST", &["krbtgt", "PQKDC.TEST"]), rep(), None, false).unwrap();
        assert_eq!((a.message, a.error_code, a.server_name.as_str()), ("AS-REP", None, "krbtgt/PQKDC.TEST"));
        assert_eq!(
            a.block()[0],
            Line::Plain("AS-REP (a ticket was issued without pre-authentication)".into())
        );
        assert!(
            KrbAnswer::build(&asked("PQKDC.TEST", &["krbtgt", "PQKDC.TEST"]), rep(), Some(0), false).is_err()
        );
        // Any other message is not ours.
        let other = Message::Other(krb::AP_REP);
        assert!(KrbAnswer::build(&asked("R", &["krbtgt", "R"]), other, None, false).is_err());
    }

    fn asked(realm: &str, service: &[&str]) -> Asked {
        Asked {
            realm: realm.into(),
            source: "--realm",
            service: service.iter().map(|s| s.to_string()).collect(),
            nonce: 7,
        }
    }

    #[test]
    fn krb_error_is_ours_only_for_our_realm_and_service() {
        use crate::wire::kerberos::tests::{MIT_AS_ERROR, SAMBA_KPASSWD_REPLY};
        let m = || krb::parse_message(&MIT_AS_ERROR).unwrap();
        let a = KrbAnswer::build(&asked("PQKDC.TEST", &["krbtgt", "PQKDC.TEST"]), m(), None, false).unwrap();
        assert_eq!((a.error_code, a.error_name), (Some(6), Some("KDC_ERR_C_PRINCIPAL_UNKNOWN")));
        assert_eq!((a.realm.as_str(), a.server_name.as_str()), ("PQKDC.TEST", "krbtgt/PQKDC.TEST"));
        assert_eq!(a.e_text.as_deref(), Some("CLIENT_NOT_FOUND"));
        assert_eq!(a.server_time.as_deref(), Some("2026-12-01 04:17:20.940549 UTC"));
        // Captured long ago: the skew against now is large, and flagged.
        assert!(a.skew_too_large && a.clock_skew_seconds.unwrap() < -MAX_SKEW_SECS);
        let block = a.block();
        assert_eq!(block[0], Line::Plain("Kerberos error 6 (KDC_ERR_C_PRINCIPAL_UNKNOWN)".into()));
        assert_eq!(block.last(), Some(&Line::Plain(String::new())));
        assert!(
            block
                .iter()
                .any(|l| matches!(l, Line::Plain(t) if t.contains("more than Kerberos' 5-minute tolerance")))
        );
        let j = a.json();
        assert_eq!(j["error_name"], "KDC_ERR_C_PRINCIPAL_UNKNOWN");
        assert_eq!(j["realm"], "PQKDC.TEST");
        // Another realm or service: not ours.
        let e =
            KrbAnswer::build(&asked("OTHER.TEST", &["krbtgt", "OTHER.TEST"]), m(), None, false).unwrap_err();
        assert_eq!(
            e,
            "a KRB-ERROR for krbtgt/PQKDC.TEST@PQKDC.TEST, not for our krbtgt/OTHER.TEST@OTHER.TEST"
        );
        assert!(KrbAnswer::build(&asked("PQKDC.TEST", &["kadmin", "changepw"]), m(), None, false).is_err());
        // kpasswd: the result in e-data.
        let r = krb::parse_kpasswd_reply(&SAMBA_KPASSWD_REPLY).unwrap();
        let a = KrbAnswer::build(&asked("PORTQRY.TEST", &["kadmin", "changepw"]), r.message, Some(0), true)
            .unwrap();
        assert_eq!((a.kpasswd_result, a.kpasswd_result_name), (Some(2), Some("KRB5_KPASSWD_HARDERROR")));
        assert_eq!(a.kpasswd_result_text.as_deref(), Some("gensec_update failed - NT_STATUS_LOGON_FAILURE"));
        assert!(a.proof().unwrap().contains("in a kpasswd reply"), "{:?}", a.proof());
        assert!(a.proof().unwrap().contains("TCP record"), "{:?}", a.proof());
        // Asked with a placeholder realm, Samba's kpasswd names its own: still ours.
        let r = krb::parse_kpasswd_reply(&SAMBA_KPASSWD_REPLY).unwrap();
        let a =
            KrbAnswer::build(&asked("PORTQRY.INVALID", &["kadmin", "changepw"]), r.message, Some(0), false)
                .unwrap();
        assert_eq!(a.realm, "PORTQRY.TEST");
        assert_eq!(
            a.proof().unwrap(),
            "a KRB-ERROR in a kpasswd reply naming the service we asked for (kadmin/changepw), from realm PORTQRY.TEST"
        );
    }
}
