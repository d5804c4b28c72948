//! Kerberos V5 (RFC 4120) messages as a prober needs them: an AS-REQ without
//! pre-authentication, the KRB-ERROR or AS-REP that answers it, the TCP record
//! marking (§7.2.2), and the kpasswd framing (RFC 3244) around them on port 464.
//!
//! DER through [`crate::wire::ber`] (every Kerberos tag number is below 31). The
//! encrypted parts are never opened: no key is known, none is sent. Whether a reply
//! answers *our* request (realm and service name echoed) is the query's business.

use crate::wire::ber::{self, BerError, Children, Tlv};
use crate::wire::bytes::{Reader, Truncated, put_u16_be, put_u32_be};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Protocol version number of every message.
pub const PVNO: i64 = 5;
/// Message types (`msg-type`), also the APPLICATION tag numbers.
pub const AS_REQ: u8 = 10;
pub const AS_REP: u8 = 11;
pub const TGS_REP: u8 = 13;
pub const AP_REQ: u8 = 14;
pub const AP_REP: u8 = 15;
pub const KRB_PRIV: u8 = 21;
pub const KRB_ERROR: u8 = 30;
/// APPLICATION 1: Ticket.
const TICKET: u8 = 1;

/// Principal name types (RFC 4120 §6.2).
pub const NT_PRINCIPAL: i64 = 1;
pub const NT_SRV_INST: i64 = 2;
/// Encryption types we offer (aes256-cts-hmac-sha1-96, aes128-..., rc4-hmac): what
/// AD and MIT accept, so a KDC has no reason to answer KDC_ERR_ETYPE_NOSUPP first.
pub const ETYPES: [i64; 3] = [18, 17, 23];
/// The `till` of the request: far future, as kinit sends.
pub const TILL: &str = "20370913024805Z";

/// The kpasswd header (RFC 3244 §2): message length, version, AP-REQ/AP-REP length.
pub const KPASSWD_HEADER_LEN: usize = 6;
/// Version of a change-password request and of every reply.
pub const KPASSWD_VERSION: u16 = 1;
/// Bit 31 of a TCP record length is reserved (RFC 4120 §7.2.2).
const TCP_RESERVED: u32 = 0x8000_0000;

const GENERAL_STRING: u8 = 0x1b;
const GENERALIZED_TIME: u8 = 0x18;
const BIT_STRING: u8 = 0x03;
/// KDCOptions: no flag set (unused-bits octet, then 32 bits).
const NO_OPTIONS: [u8; 5] = [0; 5];
/// Stand-in ciphertext of the kpasswd probe: no key decrypts it, and it carries nothing.
const DUMMY_CIPHER: [u8; 32] = [0; 32];

/// Why bytes are not the Kerberos message expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KerberosError {
    #[error("{0}")]
    Ber(#[from] BerError),
    #[error(transparent)]
    Truncated(#[from] Truncated),
    #[error("not a Kerberos message (tag {0:#04x})")]
    NotKerberos(u8),
    #[error("Kerberos protocol version {0} (expected 5)")]
    Pvno(i64),
    #[error("{0} without its {1}")]
    Missing(&'static str, &'static str),
    #[error("Kerberos time {0:?} is not YYYYMMDDHHMMSSZ")]
    BadTime(String),
    #[error("TCP record length {0:#010x} has the reserved bit set")]
    Reserved(u32),
    #[error("record length {announced} does not match the {actual} bytes received")]
    Length { announced: usize, actual: usize },
    #[error("kpasswd reply version {0:#06x} (expected 1)")]
    KpasswdVersion(u16),
}

/// A PrincipalName: its type and components ("krbtgt", "REALM").
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct PrincipalName {
    pub name_type: i64,
    pub components: Vec<String>,
}

impl PrincipalName {
    pub fn new(name_type: i64, components: &[&str]) -> Self {
        PrincipalName { name_type, components: components.iter().map(|c| c.to_string()).collect() }
    }
}

impl std::fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.components.join("/"))
    }
}

/// A KRB-ERROR (RFC 4120 §5.9.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KrbError {
    /// Server time, as sent (KerberosTime) and read.
    pub stime: String,
    pub stime_unix: i64,
    pub susec: u32,
    pub error_code: i32,
    pub crealm: Option<String>,
    pub cname: Option<PrincipalName>,
    pub realm: String,
    pub sname: PrincipalName,
    pub e_text: Option<String>,
    pub e_data: Option<Vec<u8>>,
}

/// The clear parts of an AS-REP (§5.4.2); the nonce is inside the encrypted part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AsRep {
    pub crealm: String,
    pub cname: PrincipalName,
    pub ticket_realm: String,
    pub ticket_sname: PrincipalName,
    pub enc_etype: i64,
}

/// A message read from a KDC or kpasswd server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Error(KrbError),
    AsRep(AsRep),
    /// Another Kerberos message, known by its APPLICATION tag only.
    Other(u8),
}

/// A kpasswd reply: the AP-REP length and the KRB-ERROR or KRB-PRIV after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpasswdReply {
    pub version: u16,
    pub ap_rep_len: u16,
    pub message: Message,
}

/// An AS-REQ (§5.4.1) without padata from `client`@`realm` for `service`@`realm`.
pub fn emit_as_req(realm: &str, client: &str, service: &[&str], nonce: u32) -> Vec<u8> {
    let mut out = Vec::new();
    ber::write_constructed(&mut out, app(AS_REQ), |req| {
        ber::write_constructed(req, ber::tag::SEQUENCE, |seq| {
            context(seq, 1, |v| ber::write_integer(v, ber::tag::INTEGER, PVNO));
            context(seq, 2, |v| ber::write_integer(v, ber::tag::INTEGER, AS_REQ.into()));
            context(seq, 4, |v| {
                ber::write_constructed(v, ber::tag::SEQUENCE, |body| {
                    context(body, 0, |v| ber::write_tlv(v, BIT_STRING, &NO_OPTIONS));
                    context(body, 1, |v| emit_principal(v, NT_PRINCIPAL, &[client]));
                    context(body, 2, |v| ber::write_tlv(v, GENERAL_STRING, realm.as_bytes()));
                    context(body, 3, |v| emit_principal(v, NT_SRV_INST, service));
                    context(body, 5, |v| ber::write_tlv(v, GENERALIZED_TIME, TILL.as_bytes()));
                    context(body, 7, |v| ber::write_integer(v, ber::tag::INTEGER, nonce.into()));
                    context(body, 8, |v| {
                        ber::write_constructed(v, ber::tag::SEQUENCE, |s| {
                            for e in ETYPES {
                                ber::write_integer(s, ber::tag::INTEGER, e);
                            }
                        })
                    });
                })
            });
        })
    });
    out
}

/// A kpasswd change-password request (RFC 3244) with no credential in it: an AP-REQ
/// whose ticket (for kadmin/changepw@`realm`) and authenticator are all-zero
/// ciphertext, and an all-zero KRB-PRIV. The server cannot decrypt it and answers a
/// KRB-ERROR in a kpasswd reply; an AS-REQ or an empty AP-REQ gets no answer at all
/// from MIT kadmind 1.20 or Samba 4.17 (both tried).
pub fn emit_kpasswd_probe(realm: &str) -> Vec<u8> {
    let mut ap_req = Vec::new();
    ber::write_constructed(&mut ap_req, app(AP_REQ), |a| {
        ber::write_constructed(a, ber::tag::SEQUENCE, |s| {
            context(s, 0, |v| ber::write_integer(v, ber::tag::INTEGER, PVNO));
            context(s, 1, |v| ber::write_integer(v, ber::tag::INTEGER, AP_REQ.into()));
            context(s, 2, |v| ber::write_tlv(v, BIT_STRING, &NO_OPTIONS));
            context(s, 3, |v| {
                ber::write_constructed(v, app(TICKET), |t| {
                    ber::write_constructed(t, ber::tag::SEQUENCE, |s| {
                        context(s, 0, |v| ber::write_integer(v, ber::tag::INTEGER, PVNO));
                        context(s, 1, |v| ber::write_tlv(v, GENERAL_STRING, realm.as_bytes()));
                        context(s, 2, |v| emit_principal(v, NT_SRV_INST, &["kadmin", "changepw"]));
                        context(s, 3, |v| emit_encrypted(v, Some(1)));
                    })
                })
            });
            context(s, 4, |v| emit_encrypted(v, None));
        })
    });
    let mut priv_ = Vec::new();
    ber::write_constructed(&mut priv_, app(KRB_PRIV), |p| {
        ber::write_constructed(p, ber::tag::SEQUENCE, |s| {
            context(s, 0, |v| ber::write_integer(v, ber::tag::INTEGER, PVNO));
            context(s, 1, |v| ber::write_integer(v, ber::tag::INTEGER, KRB_PRIV.into()));
            context(s, 3, |v| emit_encrypted(v, None));
        })
    });
    let total = KPASSWD_HEADER_LEN + ap_req.len() + priv_.len();
    let mut out = Vec::with_capacity(total);
    put_u16_be(&mut out, total as u16);
    put_u16_be(&mut out, KPASSWD_VERSION);
    put_u16_be(&mut out, ap_req.len() as u16);
    out.extend_from_slice(&ap_req);
    out.extend_from_slice(&priv_);
    out
}

/// Prefix `msg` with its 4-byte record length for TCP (§7.2.2).
pub fn tcp_frame(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + msg.len());
    put_u32_be(&mut out, msg.len() as u32);
    out.extend_from_slice(msg);
    out
}

/// Bytes a complete TCP record takes (`None` while the length is incomplete). A
/// length with the reserved bit is complete at 4 bytes, for [`untcp`] to refuse.
pub fn tcp_record_len(buf: &[u8]) -> Option<usize> {
    let n = crate::wire::bytes::u32_be_at(buf, 0)?;
    if n & TCP_RESERVED != 0 {
        return Some(4);
    }
    usize::try_from(n).ok()?.checked_add(4)
}

/// The message inside one TCP record (which must be all of `buf`).
pub fn untcp(buf: &[u8]) -> Result<&[u8], KerberosError> {
    let mut r = Reader::new(buf);
    let n = r.u32_be()?;
    if n & TCP_RESERVED != 0 {
        return Err(KerberosError::Reserved(n));
    }
    let announced = n as usize;
    if announced != r.remaining() {
        return Err(KerberosError::Length { announced, actual: r.remaining() });
    }
    Ok(r.rest())
}

/// Read a KRB-ERROR, an AS-REP or (by tag only) another Kerberos message.
pub fn parse_message(buf: &[u8]) -> Result<Message, KerberosError> {
    let (tlv, _) = ber::read_tlv(buf)?;
    if tlv.class() != ber::CLASS_APPLICATION || !tlv.is_constructed() {
        return Err(KerberosError::NotKerberos(tlv.tag));
    }
    let mut outer = tlv.children()?;
    let seq = outer.expect_next(ber::tag::SEQUENCE)?;
    match tlv.number() {
        KRB_ERROR => parse_error(seq.children()?).map(Message::Error),
        AS_REP | TGS_REP => parse_kdc_rep(seq.children()?).map(Message::AsRep),
        n => Ok(Message::Other(n)),
    }
}

/// Read a kpasswd reply (RFC 3244 §3); `buf` is one datagram or one TCP record's content.
pub fn parse_kpasswd_reply(buf: &[u8]) -> Result<KpasswdReply, KerberosError> {
    let mut r = Reader::new(buf);
    let announced = r.u16_be()? as usize;
    if announced != buf.len() {
        return Err(KerberosError::Length { announced, actual: buf.len() });
    }
    let version = r.u16_be()?;
    if version != KPASSWD_VERSION {
        return Err(KerberosError::KpasswdVersion(version));
    }
    let ap_rep_len = r.u16_be()?;
    r.skip(ap_rep_len.into())?;
    let message = parse_message(r.rest())?;
    Ok(KpasswdReply { version, ap_rep_len, message })
}

/// The result code and text a kpasswd server puts in a KRB-ERROR's e-data (RFC 3244 §2).
pub fn kpasswd_result(e_data: &[u8]) -> Option<(u16, String)> {
    let code = crate::wire::bytes::u16_be_at(e_data, 0)?;
    Some((code, String::from_utf8_lossy(&e_data[2..]).trim_end().to_string()))
}

/// Name of a kpasswd result code (RFC 3244 §2, MIT's and Heimdal's extensions).
pub fn kpasswd_result_name(code: u16) -> &'static str {
    match code {
        0 => "KRB5_KPASSWD_SUCCESS",
        1 => "KRB5_KPASSWD_MALFORMED",
        2 => "KRB5_KPASSWD_HARDERROR",
        3 => "KRB5_KPASSWD_AUTHERROR",
        4 => "KRB5_KPASSWD_SOFTERROR",
        5 => "KRB5_KPASSWD_ACCESSDENIED",
        6 => "KRB5_KPASSWD_BAD_VERSION",
        7 => "KRB5_KPASSWD_INITIAL_FLAG_NEEDED",
        _ => "unknown",
    }
}

/// Name of a KRB-ERROR error-code (RFC 4120 §7.5.9, RFC 4556, RFC 6113).
pub fn error_name(code: i32) -> &'static str {
    const NAMES: [&str; 77] = [
        "KDC_ERR_NONE",
        "KDC_ERR_NAME_EXP",
        "KDC_ERR_SERVICE_EXP",
        "KDC_ERR_BAD_PVNO",
        "KDC_ERR_C_OLD_MAST_KVNO",
        "KDC_ERR_S_OLD_MAST_KVNO",
        "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
        "KDC_ERR_NULL_KEY",
        "KDC_ERR_CANNOT_POSTDATE",
        "KDC_ERR_NEVER_VALID",
        "KDC_ERR_POLICY",
        "KDC_ERR_BADOPTION",
        "KDC_ERR_ETYPE_NOSUPP",
        "KDC_ERR_SUMTYPE_NOSUPP",
        "KDC_ERR_PADATA_TYPE_NOSUPP",
        "KDC_ERR_TRTYPE_NOSUPP",
        "KDC_ERR_CLIENT_REVOKED",
        "KDC_ERR_SERVICE_REVOKED",
        "KDC_ERR_TGT_REVOKED",
        "KDC_ERR_CLIENT_NOTYET",
        "KDC_ERR_SERVICE_NOTYET",
        "KDC_ERR_KEY_EXPIRED",
        "KDC_ERR_PREAUTH_FAILED",
        "KDC_ERR_PREAUTH_REQUIRED",
        "KDC_ERR_SERVER_NOMATCH",
        "KDC_ERR_MUST_USE_USER2USER",
        "KDC_ERR_PATH_NOT_ACCEPTED",
        "KDC_ERR_SVC_UNAVAILABLE",
        "unknown",
        "KRB_AP_ERR_BAD_INTEGRITY",
        "KRB_AP_ERR_TKT_EXPIRED",
        "KRB_AP_ERR_TKT_NYV",
        "KRB_AP_ERR_REPEAT",
        "KRB_AP_ERR_NOT_US",
        "KRB_AP_ERR_BADMATCH",
        "KRB_AP_ERR_SKEW",
        "KRB_AP_ERR_BADADDR",
        "KRB_AP_ERR_BADVERSION",
        "KRB_AP_ERR_MSG_TYPE",
        "KRB_AP_ERR_MODIFIED",
        "KRB_AP_ERR_BADORDER",
        "unknown",
        "KRB_AP_ERR_BADKEYVER",
        "KRB_AP_ERR_NOKEY",
        "KRB_AP_ERR_MUT_FAIL",
        "KRB_AP_ERR_BADDIRECTION",
        "KRB_AP_ERR_METHOD",
        "KRB_AP_ERR_BADSEQ",
        "KRB_AP_ERR_INAPP_CKSUM",
        "KRB_AP_PATH_NOT_ACCEPTED",
        "KRB_ERR_RESPONSE_TOO_BIG",
        "unknown",
        "unknown",
        "unknown",
        "unknown",
        "unknown",
        "unknown",
        "unknown",
        "KRB_ERR_GENERIC",
        "KRB_ERR_FIELD_TOOLONG",
        "KDC_ERR_CLIENT_NOT_TRUSTED",
        "KDC_ERR_KDC_NOT_TRUSTED",
        "KDC_ERR_INVALID_SIG",
        "KDC_ERR_KEY_TOO_WEAK",
        "KDC_ERR_CERTIFICATE_MISMATCH",
        "KRB_AP_ERR_NO_TGT",
        "KDC_ERR_WRONG_REALM",
        "KRB_AP_ERR_USER_TO_USER_REQUIRED",
        "KDC_ERR_CANT_VERIFY_CERTIFICATE",
        "KDC_ERR_INVALID_CERTIFICATE",
        "KDC_ERR_REVOKED_CERTIFICATE",
        "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
        "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE",
        "KDC_ERR_CLIENT_NAME_MISMATCH",
        "KDC_ERR_KDC_NAME_MISMATCH",
    ];
    match code {
        90 => "KDC_ERR_PREAUTH_EXPIRED",
        91 => "KDC_ERR_MORE_PREAUTH_DATA_REQUIRED",
        92 => "KDC_ERR_PREAUTH_BAD_AUTHENTICATION_SET",
        93 => "KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS",
        _ => usize::try_from(code).ok().and_then(|i| NAMES.get(i).copied()).unwrap_or("unknown"),
    }
}

/// Seconds since the Unix epoch of a KerberosTime ("YYYYMMDDHHMMSSZ", UTC).
pub fn parse_time(text: &str) -> Result<i64, KerberosError> {
    let bad = || KerberosError::BadTime(text.chars().take(32).collect());
    let b = text.as_bytes();
    if b.len() != 15 || b[14] != b'Z' || !b[..14].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| b[r].iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    let (y, mo, d, h, mi, s) = (num(0..4), num(4..6), num(6..8), num(8..10), num(10..12), num(12..14));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// The wall-clock time of a KRB-ERROR's stime and susec.
pub fn server_time(e: &KrbError) -> SystemTime {
    let base = Duration::from_secs(e.stime_unix.max(0) as u64) + Duration::from_micros(e.susec.into());
    UNIX_EPOCH + base
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn app(number: u8) -> u8 {
    ber::CLASS_APPLICATION | ber::CONSTRUCTED | number
}

fn ctx(number: u8) -> u8 {
    ber::CLASS_CONTEXT | ber::CONSTRUCTED | number
}

fn context(out: &mut Vec<u8>, number: u8, build: impl FnOnce(&mut Vec<u8>)) {
    ber::write_constructed(out, ctx(number), build);
}

fn emit_principal(out: &mut Vec<u8>, name_type: i64, components: &[&str]) {
    ber::write_constructed(out, ber::tag::SEQUENCE, |p| {
        context(p, 0, |v| ber::write_integer(v, ber::tag::INTEGER, name_type));
        context(p, 1, |v| {
            ber::write_constructed(v, ber::tag::SEQUENCE, |s| {
                for c in components {
                    ber::write_tlv(s, GENERAL_STRING, c.as_bytes());
                }
            })
        });
    });
}

/// EncryptedData with etype 18 and [`DUMMY_CIPHER`].
fn emit_encrypted(out: &mut Vec<u8>, kvno: Option<i64>) {
    ber::write_constructed(out, ber::tag::SEQUENCE, |s| {
        context(s, 0, |v| ber::write_integer(v, ber::tag::INTEGER, 18));
        if let Some(k) = kvno {
            context(s, 1, |v| ber::write_integer(v, ber::tag::INTEGER, k));
        }
        context(s, 2, |v| ber::write_tlv(v, ber::tag::OCTET_STRING, &DUMMY_CIPHER));
    });
}

/// The single element inside an explicit context tag.
fn inner(field: Tlv<'_>) -> Result<Tlv<'_>, KerberosError> {
    let mut c = field.children()?;
    c.next_tlv()?.ok_or(KerberosError::Ber(BerError::Missing(field.tag)))
}

fn integer(field: Tlv<'_>) -> Result<i64, KerberosError> {
    Ok(inner(field)?.expect(ber::tag::INTEGER)?.integer_value()?)
}

/// A KerberosString (GeneralString, IA5 in practice), lossily.
fn string(field: Tlv<'_>) -> Result<String, KerberosError> {
    Ok(String::from_utf8_lossy(inner(field)?.expect(GENERAL_STRING)?.value).into_owned())
}

fn principal(field: Tlv<'_>) -> Result<PrincipalName, KerberosError> {
    let mut seq = inner(field)?.expect(ber::tag::SEQUENCE)?.children()?;
    let name_type = integer(seq.expect_next(ctx(0))?)?;
    let mut components = Vec::new();
    for c in inner(seq.expect_next(ctx(1))?)?.expect(ber::tag::SEQUENCE)?.children()? {
        components.push(String::from_utf8_lossy(c?.expect(GENERAL_STRING)?.value).into_owned());
    }
    Ok(PrincipalName { name_type, components })
}

fn check_pvno(field: Tlv<'_>) -> Result<(), KerberosError> {
    match integer(field)? {
        PVNO => Ok(()),
        v => Err(KerberosError::Pvno(v)),
    }
}

fn parse_error(fields: Children<'_>) -> Result<KrbError, KerberosError> {
    let mut e = KrbError::default();
    let (mut stime, mut code, mut realm, mut sname) = (false, false, false, false);
    for f in fields {
        let f = f?;
        match f.tag {
            t if t == ctx(0) => check_pvno(f)?,
            t if t == ctx(4) => {
                e.stime = String::from_utf8_lossy(inner(f)?.expect(GENERALIZED_TIME)?.value).into_owned();
                e.stime_unix = parse_time(&e.stime)?;
                stime = true;
            }
            t if t == ctx(5) => e.susec = u32::try_from(integer(f)?).unwrap_or(0).min(999_999),
            t if t == ctx(6) => {
                e.error_code = i32::try_from(integer(f)?).unwrap_or(i32::MIN);
                code = true;
            }
            t if t == ctx(7) => e.crealm = Some(string(f)?),
            t if t == ctx(8) => e.cname = Some(principal(f)?),
            t if t == ctx(9) => {
                e.realm = string(f)?;
                realm = true;
            }
            t if t == ctx(10) => {
                e.sname = principal(f)?;
                sname = true;
            }
            t if t == ctx(11) => e.e_text = Some(string(f)?),
            t if t == ctx(12) => e.e_data = Some(inner(f)?.expect(ber::tag::OCTET_STRING)?.value.to_vec()),
            // msg-type [1] is the APPLICATION tag's twin; ctime [2] and cusec [3] are ours echoed.
            _ => {}
        }
    }
    for (present, what) in [(stime, "stime"), (code, "error-code"), (realm, "realm"), (sname, "sname")] {
        if !present {
            return Err(KerberosError::Missing("KRB-ERROR", what));
        }
    }
    Ok(e)
}

fn parse_kdc_rep(fields: Children<'_>) -> Result<AsRep, KerberosError> {
    let mut rep = AsRep::default();
    let (mut crealm, mut cname, mut ticket) = (false, false, false);
    for f in fields {
        let f = f?;
        match f.tag {
            t if t == ctx(0) => check_pvno(f)?,
            t if t == ctx(3) => {
                rep.crealm = string(f)?;
                crealm = true;
            }
            t if t == ctx(4) => {
                rep.cname = principal(f)?;
                cname = true;
            }
            t if t == ctx(5) => {
                let tkt = inner(f)?.expect(app(TICKET))?;
                let mut seq = tkt.children()?.expect_next(ber::tag::SEQUENCE)?.children()?;
                check_pvno(seq.expect_next(ctx(0))?)?;
                rep.ticket_realm = string(seq.expect_next(ctx(1))?)?;
                rep.ticket_sname = principal(seq.expect_next(ctx(2))?)?;
                ticket = true;
            }
            t if t == ctx(6) => {
                let mut enc = inner(f)?.expect(ber::tag::SEQUENCE)?.children()?;
                rep.enc_etype = integer(enc.expect_next(ctx(0))?)?;
            }
            _ => {}
        }
    }
    for (present, what) in [(crealm, "crealm"), (cname, "cname"), (ticket, "ticket")] {
        if !present {
            return Err(KerberosError::Missing("AS-REP", what));
        }
    }
    Ok(rep)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // Captured from tests/servers/ensure.sh kdc (MIT krb5kdc/kadmind 1.20.1, realm
    // PQKDC.TEST) and ensure.sh dc (Samba 4.17 AD DC, realm PORTQRY.TEST): the answers
    // to emit_as_req(realm, "portqry-probe", ["krbtgt", realm], _) on UDP 88 and to
    // emit_kpasswd_probe(realm) on UDP 464.
    pub(crate) const MIT_AS_ERROR: [u8; 156] = [
        0x7e, 0x81, 0x99, 0x30, 0x81, 0x96, 0xa0, 0x03, 0x02, 0x01, 0x05, 0xa1, 0x03, 0x02, 0x01, 0x1e, 0xa4,
        0x11, 0x18, 0x0f, 0x32, 0x30, 0x32, 0x36, 0x31, 0x32, 0x30, 0x31, 0x30, 0x34, 0x31, 0x37, 0x32, 0x30,
        0x5a, 0xa5, 0x05, 0x02, 0x03, 0x0e, 0x5a, 0x05, 0xa6, 0x03, 0x02, 0x01, 0x06, 0xa7, 0x0c, 0x1b, 0x0a,
        0x50, 0x51, 0x4b, 0x44, 0x43, 0x2e, 0x54, 0x45, 0x53, 0x54, 0xa8, 0x1a, 0x30, 0x18, 0xa0, 0x03, 0x02,
        0x01, 0x01, 0xa1, 0x11, 0x30, 0x0f, 0x1b, 0x0d, 0x70, 0x6f, 0x72, 0x74, 0x71, 0x72, 0x79, 0x2d, 0x70,
        0x72, 0x6f, 0x62, 0x65, 0xa9, 0x0c, 0x1b, 0x0a, 0x50, 0x51, 0x4b, 0x44, 0x43, 0x2e, 0x54, 0x45, 0x53,
        0x54, 0xaa, 0x1f, 0x30, 0x1d, 0xa0, 0x03, 0x02, 0x01, 0x02, 0xa1, 0x16, 0x30, 0x14, 0x1b, 0x06, 0x6b,
        0x72, 0x62, 0x74, 0x67, 0x74, 0x1b, 0x0a, 0x50, 0x51, 0x4b, 0x44, 0x43, 0x2e, 0x54, 0x45, 0x53, 0x54,
        0xab, 0x12, 0x1b, 0x10, 0x43, 0x4c, 0x49, 0x45, 0x4e, 0x54, 0x5f, 0x4e, 0x4f, 0x54, 0x5f, 0x46, 0x4f,
        0x55, 0x4e, 0x44,
    ];
    pub(crate) const SAMBA_AS_ERROR: [u8; 142] = [
        0x7e, 0x81, 0x8b, 0x30, 0x81, 0x88, 0xa0, 0x03, 0x02, 0x01, 0x05, 0xa1, 0x03, 0x02, 0x01, 0x1e, 0xa4,
        0x11, 0x18, 0x0f, 0x32, 0x30, 0x32, 0x36, 0x31, 0x32, 0x30, 0x31, 0x30, 0x34, 0x31, 0x38, 0x31, 0x32,
        0x5a, 0xa5, 0x05, 0x02, 0x03, 0x03, 0x5b, 0xe8, 0xa6, 0x03, 0x02, 0x01, 0x06, 0xa7, 0x0e, 0x1b, 0x0c,
        0x50, 0x4f, 0x52, 0x54, 0x51, 0x52, 0x59, 0x2e, 0x54, 0x45, 0x53, 0x54, 0xa8, 0x1a, 0x30, 0x18, 0xa0,
        0x03, 0x02, 0x01, 0x01, 0xa1, 0x11, 0x30, 0x0f, 0x1b, 0x0d, 0x70, 0x6f, 0x72, 0x74, 0x71, 0x72, 0x79,
        0x2d, 0x70, 0x72, 0x6f, 0x62, 0x65, 0xa9, 0x0e, 0x1b, 0x0c, 0x50, 0x4f, 0x52, 0x54, 0x51, 0x52, 0x59,
        0x2e, 0x54, 0x45, 0x53, 0x54, 0xaa, 0x21, 0x30, 0x1f, 0xa0, 0x03, 0x02, 0x01, 0x02, 0xa1, 0x18, 0x30,
        0x16, 0x1b, 0x06, 0x6b, 0x72, 0x62, 0x74, 0x67, 0x74, 0x1b, 0x0c, 0x50, 0x4f, 0x52, 0x54, 0x51, 0x52,
        0x59, 0x2e, 0x54, 0x45, 0x53, 0x54,
    ];
    pub(crate) const MIT_KPASSWD_REPLY: [u8; 134] = [
        0x00, 0x86, 0x00, 0x01, 0x00, 0x00, 0x7e, 0x7e, 0x30, 0x7c, 0xa0, 0x03, 0x02, 0x01, 0x05, 0xa1, 0x03,
        0x02, 0x01, 0x1e, 0xa4, 0x11, 0x18, 0x0f, 0x32, 0x30, 0x32, 0x36, 0x31, 0x32, 0x30, 0x31, 0x30, 0x34,
        0x31, 0x38, 0x31, 0x33, 0x5a, 0xa5, 0x03, 0x02, 0x01, 0x00, 0xa6, 0x03, 0x02, 0x01, 0x3c, 0xa9, 0x0c,
        0x1b, 0x0a, 0x50, 0x51, 0x4b, 0x44, 0x43, 0x2e, 0x54, 0x45, 0x53, 0x54, 0xaa, 0x1d, 0x30, 0x1b, 0xa0,
        0x03, 0x02, 0x01, 0x01, 0xa1, 0x14, 0x30, 0x12, 0x1b, 0x06, 0x6b, 0x61, 0x64, 0x6d, 0x69, 0x6e, 0x1b,
        0x08, 0x63, 0x68, 0x61, 0x6e, 0x67, 0x65, 0x70, 0x77, 0xac, 0x26, 0x04, 0x24, 0x00, 0x03, 0x46, 0x61,
        0x69, 0x6c, 0x65, 0x64, 0x20, 0x72, 0x65, 0x61, 0x64, 0x69, 0x6e, 0x67, 0x20, 0x61, 0x70, 0x70, 0x6c,
        0x69, 0x63, 0x61, 0x74, 0x69, 0x6f, 0x6e, 0x20, 0x72, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74,
    ];
    pub(crate) const SAMBA_KPASSWD_REPLY: [u8; 153] = [
        0x00, 0x99, 0x00, 0x01, 0x00, 0x00, 0x7e, 0x81, 0x90, 0x30, 0x81, 0x8d, 0xa0, 0x03, 0x02, 0x01, 0x05,
        0xa1, 0x03, 0x02, 0x01, 0x1e, 0xa4, 0x11, 0x18, 0x0f, 0x32, 0x30, 0x32, 0x36, 0x31, 0x32, 0x30, 0x31,
        0x30, 0x34, 0x31, 0x38, 0x31, 0x33, 0x5a, 0xa5, 0x05, 0x02, 0x03, 0x05, 0xee, 0x37, 0xa6, 0x03, 0x02,
        0x01, 0x02, 0xa9, 0x0e, 0x1b, 0x0c, 0x50, 0x4f, 0x52, 0x54, 0x51, 0x52, 0x59, 0x2e, 0x54, 0x45, 0x53,
        0x54, 0xaa, 0x1d, 0x30, 0x1b, 0xa0, 0x03, 0x02, 0x01, 0x01, 0xa1, 0x14, 0x30, 0x12, 0x1b, 0x06, 0x6b,
        0x61, 0x64, 0x6d, 0x69, 0x6e, 0x1b, 0x08, 0x63, 0x68, 0x61, 0x6e, 0x67, 0x65, 0x70, 0x77, 0xac, 0x33,
        0x04, 0x31, 0x00, 0x02, 0x67, 0x65, 0x6e, 0x73, 0x65, 0x63, 0x5f, 0x75, 0x70, 0x64, 0x61, 0x74, 0x65,
        0x20, 0x66, 0x61, 0x69, 0x6c, 0x65, 0x64, 0x20, 0x2d, 0x20, 0x4e, 0x54, 0x5f, 0x53, 0x54, 0x41, 0x54,
        0x55, 0x53, 0x5f, 0x4c, 0x4f, 0x47, 0x4f, 0x4e, 0x5f, 0x46, 0x41, 0x49, 0x4c, 0x55, 0x52, 0x45, 0x0a,
    ];
    const AS_REQ_PQKDC: [u8; 144] = [
        0x6a, 0x81, 0x8d, 0x30, 0x81, 0x8a, 0xa1, 0x03, 0x02, 0x01, 0x05, 0xa2, 0x03, 0x02, 0x01, 0x0a, 0xa4,
        0x7e, 0x30, 0x7c, 0xa0, 0x07, 0x03, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa1, 0x1a, 0x30, 0x18, 0xa0,
        0x03, 0x02, 0x01, 0x01, 0xa1, 0x11, 0x30, 0x0f, 0x1b, 0x0d, 0x70, 0x6f, 0x72, 0x74, 0x71, 0x72, 0x79,
        0x2d, 0x70, 0x72, 0x6f, 0x62, 0x65, 0xa2, 0x0c, 0x1b, 0x0a, 0x50, 0x51, 0x4b, 0x44, 0x43, 0x2e, 0x54,
        0x45, 0x53, 0x54, 0xa3, 0x1f, 0x30, 0x1d, 0xa0, 0x03, 0x02, 0x01, 0x02, 0xa1, 0x16, 0x30, 0x14, 0x1b,
        0x06, 0x6b, 0x72, 0x62, 0x74, 0x67, 0x74, 0x1b, 0x0a, 0x50, 0x51, 0x4b, 0x44, 0x43, 0x2e, 0x54, 0x45,
        0x53, 0x54, 0xa5, 0x11, 0x18, 0x0f, 0x32, 0x30, 0x33, 0x37, 0x30, 0x39, 0x31, 0x33, 0x30, 0x32, 0x34,
        0x38, 0x30, 0x35, 0x5a, 0xa7, 0x06, 0x02, 0x04, 0x12, 0x34, 0x56, 0x78, 0xa8, 0x0b, 0x30, 0x09, 0x02,
        0x01, 0x12, 0x02, 0x01, 0x11, 0x02, 0x01, 0x17,
    ];
    const KPASSWD_PROBE_PQKDC: [u8; 241] = [
        0x00, 0xf1, 0x00, 0x01, 0x00, 0xb0, 0x6e, 0x81, 0xad, 0x30, 0x81, 0xaa, 0xa0, 0x03, 0x02, 0x01, 0x05,
        0xa1, 0x03, 0x02, 0x01, 0x0e, 0xa2, 0x07, 0x03, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa3, 0x68, 0x61,
        0x66, 0x30, 0x64, 0xa0, 0x03, 0x02, 0x01, 0x05, 0xa1, 0x0c, 0x1b, 0x0a, 0x50, 0x51, 0x4b, 0x44, 0x43,
        0x2e, 0x54, 0x45, 0x53, 0x54, 0xa2, 0x1d, 0x30, 0x1b, 0xa0, 0x03, 0x02, 0x01, 0x02, 0xa1, 0x14, 0x30,
        0x12, 0x1b, 0x06, 0x6b, 0x61, 0x64, 0x6d, 0x69, 0x6e, 0x1b, 0x08, 0x63, 0x68, 0x61, 0x6e, 0x67, 0x65,
        0x70, 0x77, 0xa3, 0x30, 0x30, 0x2e, 0xa0, 0x03, 0x02, 0x01, 0x12, 0xa1, 0x03, 0x02, 0x01, 0x01, 0xa2,
        0x22, 0x04, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xa4, 0x2b, 0x30, 0x29, 0xa0, 0x03, 0x02, 0x01, 0x12, 0xa2, 0x22, 0x04, 0x20, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x75, 0x39, 0x30, 0x37, 0xa0,
        0x03, 0x02, 0x01, 0x05, 0xa1, 0x03, 0x02, 0x01, 0x15, 0xa3, 0x2b, 0x30, 0x29, 0xa0, 0x03, 0x02, 0x01,
        0x12, 0xa2, 0x22, 0x04, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00,
    ];

    /// MIT krb5kdc's AS-REP for the same AS-REQ while a principal portqry-probe existed
    /// (created with a random key for the capture, then deleted; MIT requires no
    /// pre-authentication by default): the ticket and enc-part stay closed.
    pub(crate) const MIT_AS_REP: [u8; 778] = [
        0x6b, 0x82, 0x03, 0x06, 0x30, 0x82, 0x03, 0x02, 0xa0, 0x03, 0x02, 0x01, 0x05, 0xa1, 0x03, 0x02, 0x01,
        0x0b, 0xa2, 0x31, 0x30, 0x2f, 0x30, 0x2d, 0xa1, 0x03, 0x02, 0x01, 0x13, 0xa2, 0x26, 0x04, 0x24, 0x30,
        0x22, 0x30, 0x20, 0xa0, 0x03, 0x02, 0x01, 0x12, 0xa1, 0x19, 0x1b, 0x17, 0x50, 0x51, 0x4b, 0x44, 0x43,
        0x2e, 0x54, 0x45, 0x53, 0x54, 0x70, 0x6f, 0x72, 0x74, 0x71, 0x72, 0x79, 0x2d, 0x70, 0x72, 0x6f, 0x62,
        0x65, 0xa3, 0x0c, 0x1b, 0x0a, 0x50, 0x51, 0x4b, 0x44, 0x43, 0x2e, 0x54, 0x45, 0x53, 0x54, 0xa4, 0x1a,
        0x30, 0x18, 0xa0, 0x03, 0x02, 0x01, 0x01, 0xa1, 0x11, 0x30, 0x0f, 0x1b, 0x0d, 0x70, 0x6f, 0x72, 0x74,
        0x71, 0x72, 0x79, 0x2d, 0x70, 0x72, 0x6f, 0x62, 0x65, 0xa5, 0x82, 0x01, 0xb3, 0x61, 0x82, 0x01, 0xaf,
        0x30, 0x82, 0x01, 0xab, 0xa0, 0x03, 0x02, 0x01, 0x05, 0xa1, 0x0c, 0x1b, 0x0a, 0x50, 0x51, 0x4b, 0x44,
        0x43, 0x2e, 0x54, 0x45, 0x53, 0x54, 0xa2, 0x1f, 0x30, 0x1d, 0xa0, 0x03, 0x02, 0x01, 0x02, 0xa1, 0x16,
        0x30, 0x14, 0x1b, 0x06, 0x6b, 0x72, 0x62, 0x74, 0x67, 0x74, 0x1b, 0x0a, 0x50, 0x51, 0x4b, 0x44, 0x43,
        0x2e, 0x54, 0x45, 0x53, 0x54, 0xa3, 0x82, 0x01, 0x73, 0x30, 0x82, 0x01, 0x6f, 0xa0, 0x03, 0x02, 0x01,
        0x12, 0xa1, 0x03, 0x02, 0x01, 0x01, 0xa2, 0x82, 0x01, 0x61, 0x04, 0x82, 0x01, 0x5d, 0x99, 0xcf, 0xe5,
        0xee, 0x1b, 0x30, 0x22, 0xe4, 0x79, 0x62, 0xd2, 0x5c, 0xd3, 0xa0, 0x97, 0xe2, 0x1c, 0x80, 0x5a, 0xa6,
        0x26, 0xb7, 0x6b, 0x1b, 0xe7, 0x59, 0xed, 0x0e, 0x04, 0x87, 0xb1, 0x48, 0x4c, 0xfa, 0x46, 0x9a, 0xbb,
        0xbc, 0x35, 0xc4, 0xc8, 0x77, 0xe3, 0x91, 0x9c, 0x12, 0x0c, 0x68, 0x1a, 0x00, 0xd4, 0xd3, 0xb6, 0x88,
        0x69, 0x0f, 0x63, 0x1e, 0x7a, 0x0c, 0xc0, 0xd2, 0xd3, 0x44, 0x90, 0x5d, 0xf6, 0xe0, 0x17, 0x77, 0x97,
        0xf1, 0x6e, 0x5e, 0x19, 0x17, 0x20, 0x34, 0x58, 0x16, 0x9a, 0x8d, 0x87, 0x4c, 0x7b, 0x20, 0xdd, 0x7d,
        0xaa, 0x57, 0xb0, 0x92, 0x34, 0xf3, 0x1e, 0xe5, 0x9a, 0xa8, 0xcc, 0xec, 0xc3, 0x4b, 0xfe, 0x68, 0x18,
        0x03, 0x0d, 0x81, 0x4b, 0xe6, 0xf3, 0xc3, 0x8d, 0x68, 0xeb, 0x7d, 0x73, 0x21, 0x68, 0xbd, 0x18, 0x8f,
        0x0f, 0x6c, 0xa0, 0x08, 0xd9, 0x2c, 0x0f, 0xdb, 0x96, 0x7f, 0xbc, 0xa4, 0x99, 0xeb, 0x28, 0x83, 0x09,
        0x23, 0x1c, 0x0b, 0xb7, 0x62, 0x9f, 0x56, 0x23, 0x0f, 0x30, 0xb6, 0x0d, 0xfc, 0x30, 0x65, 0x1a, 0x23,
        0x78, 0x2b, 0x55, 0xde, 0x52, 0x89, 0x40, 0xce, 0xf0, 0x37, 0x7b, 0x78, 0x30, 0x56, 0x2e, 0xc3, 0x2b,
        0x34, 0xa9, 0xf8, 0x12, 0x88, 0xc2, 0xde, 0xd5, 0x5a, 0x55, 0xf5, 0x2e, 0xa3, 0x0a, 0x9e, 0x76, 0x97,
        0x46, 0x55, 0xef, 0x2e, 0x17, 0x55, 0x14, 0x5a, 0xcf, 0x97, 0x32, 0xa6, 0x91, 0x8b, 0x3f, 0xf4, 0x61,
        0x5b, 0x7e, 0x4b, 0xbe, 0xf6, 0x2d, 0x20, 0x6b, 0xc7, 0x7f, 0x35, 0x85, 0xdf, 0x1f, 0xaa, 0xf5, 0x92,
        0x7c, 0xe3, 0x75, 0xdc, 0x13, 0x32, 0x4b, 0xff, 0x9e, 0xf3, 0x08, 0x35, 0x1e, 0xe3, 0xb2, 0xfc, 0x47,
        0x02, 0x27, 0xce, 0xad, 0xc6, 0x0c, 0x9b, 0x50, 0xc7, 0x48, 0xe4, 0x73, 0xfd, 0x02, 0x43, 0xd8, 0xba,
        0xba, 0x32, 0x7e, 0x0f, 0xa8, 0x01, 0x3c, 0x28, 0x92, 0x68, 0xb6, 0xa4, 0xbd, 0x39, 0x03, 0xde, 0xcd,
        0x4f, 0xc8, 0xd3, 0xe5, 0x8f, 0x25, 0x0d, 0x9b, 0x57, 0x17, 0x8e, 0x7b, 0xdf, 0x27, 0xca, 0xbd, 0x99,
        0xaa, 0xc9, 0x53, 0xea, 0xb9, 0x75, 0xf1, 0x8a, 0x5c, 0x14, 0x38, 0x38, 0x76, 0x2a, 0x2e, 0xaa, 0x72,
        0x70, 0x36, 0x37, 0x62, 0x3a, 0x5c, 0x8e, 0xce, 0xdf, 0x0a, 0x0c, 0x2c, 0x58, 0xbb, 0x0e, 0x8e, 0xc7,
        0x26, 0x8f, 0xc1, 0x64, 0x5b, 0xc8, 0x54, 0xff, 0xa4, 0x4e, 0xf3, 0x3d, 0xac, 0x56, 0xd5, 0xfa, 0x44,
        0xd3, 0xbc, 0x17, 0x32, 0xe0, 0xe2, 0xa6, 0x81, 0xe1, 0x30, 0x81, 0xde, 0xa0, 0x03, 0x02, 0x01, 0x12,
        0xa2, 0x81, 0xd6, 0x04, 0x81, 0xd3, 0x94, 0x0f, 0x3d, 0x09, 0x5f, 0x4e, 0x8b, 0xf3, 0x88, 0x65, 0xf8,
        0xcc, 0x6a, 0xbe, 0x8a, 0x73, 0x92, 0xdd, 0x9a, 0xfa, 0x86, 0x2a, 0xc3, 0x20, 0x36, 0x9b, 0x26, 0x07,
        0xc0, 0x19, 0x2a, 0x14, 0x89, 0xcf, 0xbf, 0xc7, 0xc0, 0x25, 0xf0, 0x32, 0xf7, 0x4f, 0xd2, 0xfd, 0xd6,
        0xc7, 0x19, 0xbf, 0x1f, 0x5c, 0x13, 0x84, 0x2d, 0xc1, 0x27, 0xf6, 0xea, 0xf2, 0xc7, 0x4e, 0x7b, 0x34,
        0xa0, 0x78, 0xf6, 0x65, 0x11, 0xf3, 0x61, 0xc4, 0xe5, 0x0e, 0x84, 0x58, 0xba, 0xf5, 0xca, 0x7d, 0x07,
        0xaa, 0xf0, 0x35, 0x5a, 0xa5, 0xfb, 0x3e, 0x94, 0x07, 0x84, 0x7a, 0x88, 0x4a, 0x1f, 0x98, 0x4c, 0x43,
        0xfc, 0x35, 0x16, 0x65, 0xfc, 0x95, 0xf6, 0xdb, 0x98, 0x3a, 0x46, 0x99, 0x05, 0x78, 0xdf, 0xd0, 0x1e,
        0xe5, 0x94, 0x60, 0x24, 0x2e, 0x94, 0xe6, 0x1d, 0xb2, 0xa9, 0x40, 0x1a, 0xe5, 0x2b, 0x10, 0x90, 0x0d,
        0x57, 0xfe, 0x29, 0x78, 0x94, 0x27, 0x4b, 0x1f, 0x07, 0xcd, 0x7c, 0x73, 0x1e, 0x46, 0x35, 0xb6, 0x40,
        0x09, 0xeb, 0x02, 0xd6, 0x54, 0x4c, 0x4c, 0xf4, 0x16, 0xc8, 0x30, 0xa1, 0x76, 0xc0, 0x07, 0x0f, 0xfc,
        0x5f, 0x6d, 0xbc, 0x18, 0xa0, 0x51, 0x8f, 0x35, 0xc9, 0x79, 0x60, 0xb1, 0x63, 0xfa, 0x55, 0x04, 0x03,
        0x61, 0xdc, 0x6b, 0x39, 0x55, 0x1c, 0x93, 0xc7, 0xed, 0x75, 0x35, 0xe6, 0xdd, 0xe1, 0x38, 0xf7, 0xc3,
        0xe3, 0x6c, 0xb2, 0xbd, 0xc7, 0xea, 0xf5, 0x51, 0x66, 0xc9, 0x6d, 0xa4, 0xb4,
    ];

    fn principal_of(c: &[&str], t: i64) -> PrincipalName {
        PrincipalName::new(t, c)
    }

    #[test]
    fn emits_the_requests_the_servers_answered() {
        assert_eq!(
            emit_as_req("PQKDC.TEST", "portqry-probe", &["krbtgt", "PQKDC.TEST"], 0x1234_5678),
            AS_REQ_PQKDC
        );
        assert_eq!(emit_kpasswd_probe("PQKDC.TEST"), KPASSWD_PROBE_PQKDC);
        // A nonce with the top bit set needs a leading zero byte (INTEGER is signed).
        let req = emit_as_req("R", "c", &["s"], 0x8000_0000);
        assert!(req.windows(7).any(|w| w == [0xa7, 0x07, 0x02, 0x05, 0x00, 0x80, 0x00]), "{req:02x?}");
        assert_eq!(parse_message(&req), Ok(Message::Other(AS_REQ)));
    }

    #[test]
    fn parses_mit_krb_error() {
        let Message::Error(e) = parse_message(&MIT_AS_ERROR).unwrap() else { panic!("not a KRB-ERROR") };
        assert_eq!((e.error_code, error_name(e.error_code)), (6, "KDC_ERR_C_PRINCIPAL_UNKNOWN"));
        assert_eq!(e.realm, "PQKDC.TEST");
        assert_eq!(e.sname, principal_of(&["krbtgt", "PQKDC.TEST"], NT_SRV_INST));
        assert_eq!(e.sname.to_string(), "krbtgt/PQKDC.TEST");
        assert_eq!(e.crealm.as_deref(), Some("PQKDC.TEST"));
        assert_eq!(e.cname, Some(principal_of(&["portqry-probe"], NT_PRINCIPAL)));
        assert_eq!(e.e_text.as_deref(), Some("CLIENT_NOT_FOUND"));
        assert_eq!((e.stime.as_str(), e.susec), ("20261201041720Z", 940_549));
        assert_eq!(e.stime_unix, 1_796_098_640);
        assert_eq!(server_time(&e), UNIX_EPOCH + Duration::from_micros(1_796_098_640_940_549));
        assert_eq!(e.e_data, None);
    }

    #[test]
    fn parses_samba_krb_error() {
        let Message::Error(e) = parse_message(&SAMBA_AS_ERROR).unwrap() else { panic!("not a KRB-ERROR") };
        assert_eq!(e.error_code, 6);
        assert_eq!(e.realm, "PORTQRY.TEST");
        assert_eq!(e.sname.to_string(), "krbtgt/PORTQRY.TEST");
        assert_eq!((e.stime.as_str(), e.susec), ("20261201041812Z", 220_136));
        assert_eq!(e.e_text, None, "Samba sends no e-text");
    }

    #[test]
    fn parses_mit_as_rep() {
        let Message::AsRep(r) = parse_message(&MIT_AS_REP).unwrap() else { panic!("not an AS-REP") };
        assert_eq!((r.crealm.as_str(), r.cname.to_string().as_str()), ("PQKDC.TEST", "portqry-probe"));
        assert_eq!(r.ticket_realm, "PQKDC.TEST");
        assert_eq!(r.ticket_sname, principal_of(&["krbtgt", "PQKDC.TEST"], NT_SRV_INST));
        assert_eq!(r.enc_etype, 18, "aes256-cts-hmac-sha1-96, the first etype we offered");
        // Cut anywhere, it is refused, never misread.
        for n in 0..MIT_AS_REP.len() {
            assert!(parse_message(&MIT_AS_REP[..n]).is_err(), "{n}");
        }
    }

    #[test]
    fn parses_kpasswd_replies() {
        let r = parse_kpasswd_reply(&MIT_KPASSWD_REPLY).unwrap();
        assert_eq!((r.version, r.ap_rep_len), (1, 0));
        let Message::Error(e) = r.message else { panic!("not a KRB-ERROR") };
        assert_eq!((e.error_code, error_name(e.error_code)), (60, "KRB_ERR_GENERIC"));
        assert_eq!((e.realm.as_str(), e.sname.to_string().as_str()), ("PQKDC.TEST", "kadmin/changepw"));
        let (code, text) = kpasswd_result(e.e_data.as_deref().unwrap()).unwrap();
        assert_eq!((code, kpasswd_result_name(code)), (3, "KRB5_KPASSWD_AUTHERROR"));
        assert_eq!(text, "Failed reading application request");

        let r = parse_kpasswd_reply(&SAMBA_KPASSWD_REPLY).unwrap();
        let Message::Error(e) = r.message else { panic!("not a KRB-ERROR") };
        assert_eq!((e.realm.as_str(), e.sname.to_string().as_str()), ("PORTQRY.TEST", "kadmin/changepw"));
        let (code, text) = kpasswd_result(e.e_data.as_deref().unwrap()).unwrap();
        assert_eq!((code, kpasswd_result_name(code)), (2, "KRB5_KPASSWD_HARDERROR"));
        assert_eq!(text, "gensec_update failed - NT_STATUS_LOGON_FAILURE");
        // Samba puts the result code in error-code too.
        assert_eq!(e.error_code, 2);

        // A reply whose length field lies, or of another version, is refused.
        let mut bad = MIT_KPASSWD_REPLY;
        bad[1] = 0x85;
        assert_eq!(parse_kpasswd_reply(&bad), Err(KerberosError::Length { announced: 0x85, actual: 134 }));
        bad = MIT_KPASSWD_REPLY;
        bad[3] = 2;
        assert_eq!(parse_kpasswd_reply(&bad), Err(KerberosError::KpasswdVersion(2)));
    }

    #[test]
    fn tcp_record_marking() {
        let framed = tcp_frame(&MIT_AS_ERROR);
        assert_eq!(framed[..4], [0, 0, 0, 0x9c]);
        assert_eq!(tcp_record_len(&framed[..3]), None);
        assert_eq!(tcp_record_len(&framed), Some(160));
        assert_eq!(untcp(&framed), Ok(&MIT_AS_ERROR[..]));
        assert_eq!(untcp(&framed[..100]), Err(KerberosError::Length { announced: 156, actual: 96 }));
        assert_eq!(tcp_record_len(&[0x80, 0, 0, 1]), Some(4));
        assert_eq!(untcp(&[0x80, 0, 0, 1]), Err(KerberosError::Reserved(0x8000_0001)));
    }

    #[test]
    fn parses_an_as_rep_without_opening_it() {
        // AS-REP as a KDC would send it for a principal without pre-authentication.
        let mut rep = Vec::new();
        ber::write_constructed(&mut rep, app(AS_REP), |r| {
            ber::write_constructed(r, ber::tag::SEQUENCE, |s| {
                context(s, 0, |v| ber::write_integer(v, ber::tag::INTEGER, 5));
                context(s, 1, |v| ber::write_integer(v, ber::tag::INTEGER, 11));
                context(s, 3, |v| ber::write_tlv(v, GENERAL_STRING, b"PQKDC.TEST"));
                context(s, 4, |v| emit_principal(v, NT_PRINCIPAL, &["portqry-probe"]));
                context(s, 5, |v| {
                    ber::write_constructed(v, app(TICKET), |t| {
                        ber::write_constructed(t, ber::tag::SEQUENCE, |s| {
                            context(s, 0, |v| ber::write_integer(v, ber::tag::INTEGER, 5));
                            context(s, 1, |v| ber::write_tlv(v, GENERAL_STRING, b"PQKDC.TEST"));
                            context(s, 2, |v| emit_principal(v, NT_SRV_INST, &["krbtgt", "PQKDC.TEST"]));
                            context(s, 3, |v| emit_encrypted(v, Some(1)));
                        })
                    })
                });
                context(s, 6, |v| emit_encrypted(v, None));
            })
        });
        let Message::AsRep(r) = parse_message(&rep).unwrap() else { panic!("not an AS-REP") };
        assert_eq!((r.crealm.as_str(), r.cname.to_string().as_str()), ("PQKDC.TEST", "portqry-probe"));
        assert_eq!(
            (r.ticket_realm.as_str(), r.ticket_sname.to_string().as_str()),
            ("PQKDC.TEST", "krbtgt/PQKDC.TEST")
        );
        assert_eq!(r.enc_etype, 18);
        // An AS-REQ relabelled as an AS-REP does not read as one.
        let mut wrong = emit_as_req("R", "c", &["s"], 1);
        wrong[0] = app(AS_REP);
        assert!(matches!(parse_message(&wrong), Err(KerberosError::Ber(BerError::UnexpectedTag { .. }))));
    }

    #[test]
    fn names_times_and_refusals() {
        for (code, name) in [
            (0, "KDC_ERR_NONE"),
            (25, "KDC_ERR_PREAUTH_REQUIRED"),
            (30, "unknown"),
            (37, "KRB_AP_ERR_SKEW"),
            (68, "KDC_ERR_WRONG_REALM"),
            (76, "KDC_ERR_KDC_NAME_MISMATCH"),
            (77, "unknown"),
            (91, "KDC_ERR_MORE_PREAUTH_DATA_REQUIRED"),
            (-1, "unknown"),
        ] {
            assert_eq!(error_name(code), name, "{code}");
        }
        assert_eq!(parse_time("19700101000000Z"), Ok(0));
        assert_eq!(parse_time("20000229235960Z"), Ok(951_868_800));
        assert!(parse_time("2026120104172Z").is_err());
        assert!(parse_time("20261301041720Z").is_err());
        assert!(parse_time("2026120104172xZ").is_err());
        assert_eq!(parse_message(&[0x30, 0x00]), Err(KerberosError::NotKerberos(0x30)));
        assert!(matches!(parse_message(&MIT_AS_ERROR[..50]), Err(KerberosError::Ber(_))));
        // A KRB-ERROR of another protocol version.
        let mut v4 = MIT_AS_ERROR;
        v4[10] = 4;
        assert_eq!(parse_message(&v4), Err(KerberosError::Pvno(4)));
        assert_eq!(kpasswd_result(&[0]), None);
    }

    #[test]
    fn mutated_replies_never_panic() {
        let seeds = [
            MIT_AS_ERROR.to_vec(),
            SAMBA_AS_ERROR.to_vec(),
            MIT_KPASSWD_REPLY.to_vec(),
            SAMBA_KPASSWD_REPLY.to_vec(),
            tcp_frame(&SAMBA_AS_ERROR),
            MIT_AS_REP.to_vec(),
        ];
        crate::wire::mutate_each(&seeds, 4000, |b| {
            if let Ok(Message::Error(e)) = parse_message(b) {
                let _ =
                    (error_name(e.error_code), server_time(&e), e.e_data.as_deref().and_then(kpasswd_result));
            }
            let _ = parse_kpasswd_reply(b);
            if let Some(n) = tcp_record_len(b).filter(|n| *n <= b.len()) {
                let _ = untcp(&b[..n]).map(parse_message);
            }
        });
    }
}
