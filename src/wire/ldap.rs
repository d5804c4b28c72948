//! LDAP / CLDAP rootDSE query (RFC 4511, RFC 4512 §5.1, MS-ADTS §3.1.1.3.1.11).
//!
//! PortQry probes port 389 by reading the rootDSE: a base-scope search of the empty
//! DN with the filter `(objectClass=*)`. The same request bytes work over TCP and UDP
//! (CLDAP): Active Directory answers UDP searches in plain LDAPv3 form, and OpenLDAP
//! does too unless the request carries the RFC 1798 `user` field.
//!
//! Responses are parsed leniently (long-form non-minimal lengths, unknown trailing
//! elements, optional controls) but every malformed input yields an [`LdapError`].

use super::ber::{self, BerError, Children, Tlv, tag};

/// `[APPLICATION 2]` UnbindRequest, primitive (its content is a NULL).
const OP_UNBIND_REQUEST: u8 = ber::CLASS_APPLICATION | 2;
/// `[APPLICATION 3]` SearchRequest, constructed.
const OP_SEARCH_REQUEST: u8 = ber::CLASS_APPLICATION | ber::CONSTRUCTED | 3;
/// `[APPLICATION 4]` SearchResultEntry, constructed.
const OP_SEARCH_RESULT_ENTRY: u8 = ber::CLASS_APPLICATION | ber::CONSTRUCTED | 4;
/// `[APPLICATION 5]` SearchResultDone, constructed.
const OP_SEARCH_RESULT_DONE: u8 = ber::CLASS_APPLICATION | ber::CONSTRUCTED | 5;
/// `[APPLICATION 19]` SearchResultReference, constructed.
const OP_SEARCH_RESULT_REFERENCE: u8 = ber::CLASS_APPLICATION | ber::CONSTRUCTED | 19;
/// `[APPLICATION 24]` ExtendedResponse, constructed (carries unsolicited notifications).
const OP_EXTENDED_RESPONSE: u8 = ber::CLASS_APPLICATION | ber::CONSTRUCTED | 24;
/// ExtendedRequest, `[APPLICATION 23]` (RFC 4511 §4.12).
const OP_EXTENDED_REQUEST: u8 = ber::CLASS_APPLICATION | ber::CONSTRUCTED | 23;
/// ExtendedRequest's `requestName [0] LDAPOID`.
const TAG_REQUEST_NAME: u8 = ber::CLASS_CONTEXT;
/// The StartTLS extended operation (RFC 4511 §4.14.1).
pub const START_TLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
/// `controls [0]` after protocolOp in an LDAPMessage.
const TAG_CONTROLS: u8 = ber::CLASS_CONTEXT | ber::CONSTRUCTED;
/// Filter CHOICE `present [7] AttributeDescription`, primitive.
const TAG_FILTER_PRESENT: u8 = ber::CLASS_CONTEXT | 7;
/// ExtendedResponse `responseName [10] LDAPOID`, primitive.
const TAG_RESPONSE_NAME: u8 = ber::CLASS_CONTEXT | 10;

/// SearchRequest scope `baseObject`.
const SCOPE_BASE_OBJECT: i64 = 0;
/// SearchRequest derefAliases `neverDerefAliases`.
const DEREF_NEVER: i64 = 0;
/// Attribute every entry has, so `(objectClass=*)` matches the rootDSE.
const FILTER_ATTRIBUTE: &[u8] = b"objectClass";
/// messageID reserved for unsolicited notifications (RFC 4511 §4.4).
const UNSOLICITED_MESSAGE_ID: i64 = 0;
/// OID of the Notice of Disconnection (RFC 4511 §4.4.1).
const NOTICE_OF_DISCONNECTION: &[u8] = b"1.3.6.1.4.1.1466.20036";

/// Attributes requested from the rootDSE.
///
/// `*` (all user attributes) and `+` (all operational attributes, RFC 3673) make
/// OpenLDAP return its rootDSE, which it otherwise mostly hides; the explicit names
/// are Active Directory's rootDSE attributes (MS-ADTS §3.1.1.3.2) for servers that
/// ignore `+`. Mixing `*`, `+` and names is legal (RFC 4511 §4.5.1.8); servers return
/// each attribute once.
pub const ROOTDSE_ATTRIBUTES: &[&str] = &[
    "*",
    "+",
    "currentTime",
    "subschemaSubentry",
    "dsServiceName",
    "namingContexts",
    "defaultNamingContext",
    "schemaNamingContext",
    "configurationNamingContext",
    "rootDomainNamingContext",
    "supportedControl",
    "supportedLDAPVersion",
    "supportedLDAPPolicies",
    "highestCommittedUSN",
    "supportedSASLMechanisms",
    "dnsHostName",
    "ldapServiceName",
    "serverName",
    "supportedCapabilities",
    "isSynchronized",
    "isGlobalCatalogReady",
    "domainFunctionality",
    "forestFunctionality",
    "domainControllerFunctionality",
];

/// Why an LDAP response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdapError {
    /// The BER framing or a field encoding is malformed.
    #[error("malformed LDAP message: {0}")]
    Ber(#[from] BerError),
    /// A response to some other request (neither ours nor an unsolicited notification).
    /// Not raised here: the query compares [`Messages::message_id`] and
    /// [`Messages::other_id`] with its request's.
    #[error("LDAP message id {found} does not match request id {expected}")]
    MessageIdMismatch {
        /// The id we sent.
        expected: i32,
        /// The id in the response.
        found: i64,
    },
    /// The server sent a Notice of Disconnection (or an unnamed unsolicited
    /// ExtendedResponse, as some servers do) and is closing the connection. It still
    /// proves that an LDAP server answered.
    #[error("LDAP notice of disconnection: {} ({result_code}){}", result_name(*result_code), fmt_diagnostic(diagnostic))]
    NoticeOfDisconnection {
        /// The resultCode (RFC 4511 names protocolError, strongerAuthRequired, unavailable).
        result_code: u32,
        /// The diagnosticMessage, sanitised; `None` when empty.
        diagnostic: Option<String>,
    },
    /// A protocolOp that cannot answer a search request.
    #[error("unexpected LDAP operation tag {0:#04x} in response")]
    UnexpectedOperation(u8),
    /// A resultCode outside `0..=u32::MAX`.
    #[error("LDAP resultCode {0} is out of range")]
    BadResultCode(i64),
    /// The buffer held no message answering our request.
    #[error("no LDAP response to the request")]
    NoResponse,
}

/// `": text"` suffix for a diagnostic, or nothing.
fn fmt_diagnostic(diagnostic: &Option<String>) -> String {
    diagnostic.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
}

/// One attribute of the rootDSE, with every value in the order the server sent them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attribute {
    /// AttributeDescription as sent (e.g. `namingContexts`).
    pub name: String,
    /// Values as UTF-8; values that are not printable UTF-8 are rendered as `0x…` hex.
    pub values: Vec<String>,
}

/// What an LDAP server said about its rootDSE.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RootDse {
    /// Attributes of every SearchResultEntry, in order.
    pub attributes: Vec<Attribute>,
    /// resultCode of the SearchResultDone (or of a final ExtendedResponse).
    pub result_code: Option<u32>,
    /// RFC 4511 name of `result_code` (`success`, `protocolError`, ...).
    pub result_name: Option<String>,
    /// diagnosticMessage, sanitised; `None` when absent or empty.
    pub diagnostic: Option<String>,
    /// Whether a SearchResultDone was seen (the answer is not cut short).
    pub complete: bool,
}

impl RootDse {
    /// PortQry's response block body: `name: value` per value (the name repeated for
    /// each value of a multi-valued attribute), then the result when it is not success.
    /// The caller prints the header and the end marker.
    pub fn render_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .attributes
            .iter()
            .flat_map(|a| a.values.iter().map(move |v| render_attribute(&a.name, v)))
            .collect();
        if let Some(code) = self.result_code.filter(|&c| c != RESULT_SUCCESS) {
            let name = self.result_name.as_deref().unwrap_or(result_name(code));
            lines.push(format!("LDAP result: {name} ({code}){}", fmt_diagnostic(&self.diagnostic)));
        }
        lines
    }
}

/// One `name: value` line; the server's `currentTime` is shown as PortQry shows
/// it, `currentdate: MM/DD/YYYY HH:MM:SS (unadjusted GMT)` (docs/PORTQRY-DIFFERENCES.md).
fn render_attribute(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("currentTime")
        && let Some(date) = portqry_date(value)
    {
        return format!("currentdate: {date} (unadjusted GMT)");
    }
    format!("{name}: {value}")
}

/// A GeneralizedTime `YYYYMMDDHHMMSS[.fraction]Z` as `MM/DD/YYYY HH:MM:SS`; `None`
/// for anything else (then the raw value is shown).
fn portqry_date(value: &str) -> Option<String> {
    let digits = value.get(..14).filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
    let rest = &value[14..];
    let fraction_ok = rest.strip_suffix('Z').is_some_and(|f| {
        f.is_empty() || (f.len() > 1 && f.starts_with('.') && f[1..].bytes().all(|b| b.is_ascii_digit()))
    });
    if !fraction_ok {
        return None;
    }
    let (y, mo, d, h, mi, s) =
        (&digits[..4], &digits[4..6], &digits[6..8], &digits[8..10], &digits[10..12], &digits[12..14]);
    Some(format!("{mo}/{d}/{y} {h}:{mi}:{s}"))
}

/// resultCode `success`.
const RESULT_SUCCESS: u32 = 0;

/// RFC 4511 §4.1.9 (and Appendix A) name of a resultCode.
pub fn result_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        5 => "compareFalse",
        6 => "compareTrue",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        14 => "saslBindInProgress",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        33 => "aliasProblem",
        34 => "invalidDNSyntax",
        36 => "aliasDereferencingProblem",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        _ => "unknown",
    }
}

/// Encode the rootDSE SearchRequest: base `""`, scope base, never deref, no limits,
/// typesOnly FALSE, filter `(objectClass=*)`, the given attribute list.
///
/// With no attributes and id 1 this is the 39-byte request of protocols.md §4.1.
pub fn emit_rootdse_search(message_id: i32, attributes: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    ber::write_constructed(&mut out, tag::SEQUENCE, |msg| {
        ber::write_integer(msg, tag::INTEGER, message_id.into());
        ber::write_constructed(msg, OP_SEARCH_REQUEST, |req| {
            ber::write_octet_string(req, tag::OCTET_STRING, b"");
            ber::write_integer(req, tag::ENUMERATED, SCOPE_BASE_OBJECT);
            ber::write_integer(req, tag::ENUMERATED, DEREF_NEVER);
            ber::write_integer(req, tag::INTEGER, 0); // sizeLimit: none
            ber::write_integer(req, tag::INTEGER, 0); // timeLimit: none
            ber::write_boolean(req, tag::BOOLEAN, false); // typesOnly: want values
            ber::write_octet_string(req, TAG_FILTER_PRESENT, FILTER_ATTRIBUTE);
            ber::write_constructed(req, tag::SEQUENCE, |list| {
                for name in attributes {
                    ber::write_octet_string(list, tag::OCTET_STRING, name.as_bytes());
                }
            });
        });
    });
    out
}

/// Encode the StartTLS ExtendedRequest (no requestValue). Its answer is an
/// ExtendedResponse with our messageID, read by [`parse_messages`]: resultCode
/// 0 means "begin the TLS handshake now".
pub fn emit_start_tls(message_id: i32) -> Vec<u8> {
    let mut out = Vec::new();
    ber::write_constructed(&mut out, tag::SEQUENCE, |msg| {
        ber::write_integer(msg, tag::INTEGER, message_id.into());
        ber::write_constructed(msg, OP_EXTENDED_REQUEST, |req| {
            ber::write_octet_string(req, TAG_REQUEST_NAME, START_TLS_OID);
        });
    });
    out
}

/// Encode an UnbindRequest, sent before closing a TCP connection politely.
pub fn emit_unbind(message_id: i32) -> Vec<u8> {
    let mut out = Vec::new();
    ber::write_constructed(&mut out, tag::SEQUENCE, |msg| {
        ber::write_integer(msg, tag::INTEGER, message_id.into());
        ber::write_tlv(msg, OP_UNBIND_REQUEST, &[]);
    });
    out
}

/// The LDAPMessages of a reply, grouped by the request they answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messages {
    /// messageID of the first message that is not an unsolicited notification: the
    /// request the reply answers. `None` when no such message was reached.
    pub message_id: Option<i64>,
    /// messageID of a later message answering another request; parsing stopped there.
    pub other_id: Option<i64>,
    /// The search answer in the messages carrying `message_id`, or why they did not
    /// parse ([`LdapError::NoResponse`] when there were none).
    pub result: Result<RootDse, LdapError>,
}

/// Parse the LDAPMessages of a reply to a search (or to an extended request
/// such as StartTLS: its ExtendedResponse ends the reply with its resultCode);
/// which request they answer is the caller's question ([`Messages::message_id`],
/// [`Messages::other_id`]).
///
/// `buf` holds one or more concatenated messages: a CLDAP datagram (entry and done
/// together) or the messages a TCP reader framed with [`ber::message_len`]. Parsing
/// stops at the SearchResultDone, or at a message naming another request than the
/// first did; bytes after it are ignored. An LDAP error result is `Ok`: it still
/// proves that an LDAP server answered. Unsolicited notifications (message id 0) are
/// skipped, except a Notice of Disconnection, which is an error.
///
/// The RFC 1798 CLDAP shape `SEQUENCE { msgid, user "", SEQUENCE { entry..., done } }`
/// (OpenLDAP's answer to an RFC 1798 request) is accepted as well.
pub fn parse_messages(buf: &[u8]) -> Messages {
    let (mut message_id, mut other_id) = (None, None);
    let result = read_search(buf, &mut message_id, &mut other_id);
    Messages { message_id, other_id, result }
}

/// [`parse_messages`]' walk; the ids are set as they are read, so they survive an error.
fn read_search(
    buf: &[u8],
    message_id: &mut Option<i64>,
    other_id: &mut Option<i64>,
) -> Result<RootDse, LdapError> {
    let mut dse = RootDse::default();
    let mut rest = buf;
    while !rest.is_empty() {
        let (message, after) = ber::read_tlv(rest)?;
        rest = after;
        let mut fields = message.expect(tag::SEQUENCE)?.children()?;
        let id = fields.expect_next(tag::INTEGER)?.integer_value()?;
        if id == UNSOLICITED_MESSAGE_ID {
            check_unsolicited(&mut fields)?;
            continue;
        }
        if *message_id.get_or_insert(id) != id {
            *other_id = Some(id);
            break;
        }
        // RFC 1798 CLDAP: a `user` LDAPDN sits between messageID and protocolOp.
        fields.next_if(tag::OCTET_STRING)?;
        let op = fields.next_tlv()?.ok_or(BerError::Missing(OP_SEARCH_RESULT_DONE))?;
        let done = if op.tag == tag::SEQUENCE {
            // RFC 1798 searchResponse: SEQUENCE OF (entry | resultCode).
            let mut done = false;
            for inner in op.children()? {
                if handle_operation(inner?, &mut dse)? {
                    done = true;
                    break;
                }
            }
            done
        } else {
            handle_operation(op, &mut dse)?
        };
        // `controls [0]` carries nothing we print; later extension elements, if any,
        // are ignored as RFC 4511 §4.1.1 asks.
        fields.next_if(TAG_CONTROLS)?;
        if done {
            break;
        }
    }
    if message_id.is_some() { Ok(dse) } else { Err(LdapError::NoResponse) }
}

/// Handle one protocolOp answering our search; returns whether it ends the search.
fn handle_operation(op: Tlv<'_>, dse: &mut RootDse) -> Result<bool, LdapError> {
    match op.tag {
        OP_SEARCH_RESULT_ENTRY => {
            decode_entry(op, &mut dse.attributes)?;
            Ok(false)
        }
        // Continuation references point at other servers; a rootDSE has none to follow.
        OP_SEARCH_RESULT_REFERENCE => Ok(false),
        OP_SEARCH_RESULT_DONE => {
            record_result(&mut op.children()?, dse)?;
            dse.complete = true;
            Ok(true)
        }
        // Some servers answer a request they cannot handle with an ExtendedResponse
        // carrying our id; its LDAPResult is the final word, though no Done came.
        OP_EXTENDED_RESPONSE => {
            record_result(&mut op.children()?, dse)?;
            Ok(true)
        }
        other => Err(LdapError::UnexpectedOperation(other)),
    }
}

/// Decode the `COMPONENTS OF LDAPResult` prefix of a response into `dse`.
fn record_result(fields: &mut Children<'_>, dse: &mut RootDse) -> Result<(), LdapError> {
    let (code, diagnostic) = decode_result(fields)?;
    dse.result_code = Some(code);
    dse.result_name = Some(result_name(code).to_owned());
    dse.diagnostic = diagnostic;
    Ok(())
}

/// Decode `resultCode, matchedDN, diagnosticMessage`. matchedDN and the diagnostic are
/// read only if present, for servers that truncate the LDAPResult.
fn decode_result(fields: &mut Children<'_>) -> Result<(u32, Option<String>), LdapError> {
    let raw = fields.expect_next(tag::ENUMERATED)?.integer_value()?;
    let code = u32::try_from(raw).map_err(|_| LdapError::BadResultCode(raw))?;
    fields.next_if(tag::OCTET_STRING)?; // matchedDN
    let diagnostic =
        fields.next_if(tag::OCTET_STRING)?.map(|t| sanitize_text(t.value)).filter(|d| !d.is_empty());
    Ok((code, diagnostic))
}

/// Handle the rest of an unsolicited (message id 0) message: a Notice of
/// Disconnection is an error, anything else is skipped.
fn check_unsolicited(fields: &mut Children<'_>) -> Result<(), LdapError> {
    let Some(op) = fields.next_tlv()? else {
        return Ok(());
    };
    if op.tag != OP_EXTENDED_RESPONSE {
        return Ok(());
    }
    let mut parts = op.children()?;
    let (result_code, diagnostic) = decode_result(&mut parts)?;
    // Skip an optional referral [3] before responseName [10].
    let mut name = None;
    for part in parts {
        let part = part?;
        if part.tag == TAG_RESPONSE_NAME {
            name = Some(part.value);
            break;
        }
    }
    // Active Directory sends its decode-error notice without a responseName; treat that
    // like the standard notice, since the server closes the connection either way.
    match name {
        Some(oid) if oid != NOTICE_OF_DISCONNECTION => Ok(()),
        _ => Err(LdapError::NoticeOfDisconnection { result_code, diagnostic }),
    }
}

/// Append the attributes of a SearchResultEntry
/// (`objectName LDAPDN, attributes SEQUENCE OF PartialAttribute`).
fn decode_entry(entry: Tlv<'_>, out: &mut Vec<Attribute>) -> Result<(), LdapError> {
    let mut fields = entry.children()?;
    fields.expect_next(tag::OCTET_STRING)?; // objectName: "" for the rootDSE
    let list = fields.expect_next(tag::SEQUENCE)?;
    for partial in list.children()? {
        // PartialAttribute ::= SEQUENCE { type AttributeDescription, vals SET OF value }
        let mut parts = partial?.expect(tag::SEQUENCE)?.children()?;
        let name = render_value(parts.expect_next(tag::OCTET_STRING)?.value);
        let vals = parts.next_tlv()?.ok_or(BerError::Missing(tag::SET))?;
        if vals.tag != tag::SET && vals.tag != tag::SEQUENCE {
            // SET is what RFC 4511 says; SEQUENCE is tolerated for sloppy encoders.
            return Err(BerError::UnexpectedTag { expected: tag::SET, found: vals.tag }.into());
        }
        let values = vals
            .children()?
            .map(|v| Ok(render_value(v?.expect(tag::OCTET_STRING)?.value)))
            .collect::<Result<Vec<_>, BerError>>()?;
        out.push(Attribute { name, values });
    }
    Ok(())
}

/// A value as text if it is printable UTF-8, else as `0x` followed by lowercase hex
/// (AD returns some binary values; hex also keeps terminal escapes off the screen).
pub(super) fn render_value(bytes: &[u8]) -> String {
    match core::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_owned(),
        _ => {
            let mut hex = String::with_capacity(2 + 2 * bytes.len());
            hex.push_str("0x");
            for b in bytes {
                hex.push_str(&format!("{b:02x}"));
            }
            hex
        }
    }
}

/// Free text (diagnosticMessage) for display: AD appends a NUL, which is dropped;
/// invalid UTF-8 is replaced and control characters are escaped so a hostile server
/// cannot drive the terminal.
pub(super) fn sanitize_text(bytes: &[u8]) -> String {
    let trimmed = bytes.iter().rposition(|&b| b != 0).map_or(&bytes[..0], |last| &bytes[..=last]);
    escape_controls(&String::from_utf8_lossy(trimmed)).trim().to_owned()
}

/// `text` with control characters escaped (`\u{1b}`, `\t`), so that it cannot drive a terminal.
pub(crate) fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 39-byte request of protocols.md §4.1.
    const ROOTDSE_REQUEST: [u8; 39] = [
        0x30, 0x25, 0x02, 0x01, 0x01, 0x63, 0x20, 0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01,
        0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00, 0x87, 0x0b, 0x6f, 0x62, 0x6a, 0x65, 0x63, 0x74, 0x43, 0x6c,
        0x61, 0x73, 0x73, 0x30, 0x00,
    ];

    /// Build a TLV: `long` uses AD's `84 xx xx xx xx`, otherwise minimal lengths.
    fn tlv(tag: u8, long: bool, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if long {
            out.extend_from_slice(&[tag, 0x84]);
            out.extend_from_slice(&(content.len() as u32).to_be_bytes());
            out.extend_from_slice(content);
        } else {
            ber::write_tlv(&mut out, tag, content);
        }
        out
    }

    /// `levels` SEQUENCEs nested around an empty one, AD-style lengths, built in
    /// linear time (all headers first, since each level only adds a 6-byte header).
    fn nested_sequences(levels: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 * levels + 2);
        for k in (1..=levels).rev() {
            out.extend_from_slice(&[0x30, 0x84]);
            out.extend_from_slice(&((2 + 6 * (k - 1)) as u32).to_be_bytes());
        }
        out.extend_from_slice(&[0x30, 0x00]);
        out
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    fn attr(long: bool, name: &str, values: &[&[u8]]) -> Vec<u8> {
        let vals: Vec<Vec<u8>> = values.iter().map(|v| tlv(0x04, long, v)).collect();
        tlv(0x30, long, &cat(&[tlv(0x04, long, name.as_bytes()), tlv(0x31, long, &cat(&vals))]))
    }

    fn message(long: bool, id: u8, op: Vec<u8>) -> Vec<u8> {
        tlv(0x30, long, &cat(&[tlv(0x02, long, &[id]), op]))
    }

    fn done(long: bool, id: u8, code: u8, diagnostic: &[u8]) -> Vec<u8> {
        let body = cat(&[tlv(0x0a, long, &[code]), tlv(0x04, long, b""), tlv(0x04, long, diagnostic)]);
        message(long, id, tlv(0x65, long, &body))
    }

    /// An OpenLDAP-like rootDSE: SearchResultEntry followed by SearchResultDone.
    fn openldap_reply(long: bool) -> Vec<u8> {
        let attrs = cat(&[
            attr(long, "namingContexts", &[b"dc=example,dc=com", b"dc=example,dc=org"]),
            attr(long, "supportedLDAPVersion", &[b"3"]),
            attr(long, "subschemaSubentry", &[b"cn=Subschema"]),
        ]);
        let entry = tlv(0x64, long, &cat(&[tlv(0x04, long, b""), tlv(0x30, long, &attrs)]));
        cat(&[message(long, 1, entry), done(long, 1, 0, b"")])
    }

    fn expected_openldap() -> RootDse {
        let a = |name: &str, values: &[&str]| Attribute {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        RootDse {
            attributes: vec![
                a("namingContexts", &["dc=example,dc=com", "dc=example,dc=org"]),
                a("supportedLDAPVersion", &["3"]),
                a("subschemaSubentry", &["cn=Subschema"]),
            ],
            result_code: Some(0),
            result_name: Some("success".into()),
            diagnostic: None,
            complete: true,
        }
    }

    #[test]
    fn rootdse_request_matches_reference_bytes() {
        assert_eq!(emit_rootdse_search(1, &[]), ROOTDSE_REQUEST);
    }

    #[test]
    fn request_with_attributes() {
        let req = emit_rootdse_search(7, ROOTDSE_ATTRIBUTES);
        assert_eq!(ber::message_len(&req), Ok(Some(req.len())));
        let (mut fields, rest) = ber::read_sequence(&req).unwrap();
        assert!(rest.is_empty());
        assert_eq!(fields.expect_next(tag::INTEGER).unwrap().integer_value(), Ok(7));
        let mut search = fields.expect_next(OP_SEARCH_REQUEST).unwrap().children().unwrap();
        for _ in 0..7 {
            search.next_tlv().unwrap().unwrap();
        }
        let names: Vec<&[u8]> = search
            .expect_next(tag::SEQUENCE)
            .unwrap()
            .children()
            .unwrap()
            .map(|t| t.unwrap().expect(tag::OCTET_STRING).unwrap().value)
            .collect();
        let want: Vec<&[u8]> = ROOTDSE_ATTRIBUTES.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(names, want);
        assert_eq!(ROOTDSE_ATTRIBUTES.len(), 24);
    }

    #[test]
    fn unbind_bytes() {
        assert_eq!(emit_unbind(2), [0x30, 0x05, 0x02, 0x01, 0x02, 0x42, 0x00]);
    }

    #[test]
    fn parses_openldap_reply() {
        let dse = parse_messages(&openldap_reply(false)).result.unwrap();
        assert_eq!(dse, expected_openldap());
        assert_eq!(
            dse.render_lines(),
            [
                "namingContexts: dc=example,dc=com",
                "namingContexts: dc=example,dc=org",
                "supportedLDAPVersion: 3",
                "subschemaSubentry: cn=Subschema",
            ]
        );
    }

    #[test]
    fn parses_ad_long_form_lengths() {
        let reply = openldap_reply(true);
        assert_eq!(&reply[..2], &[0x30, 0x84]);
        assert_eq!(parse_messages(&reply).result.unwrap(), expected_openldap());
    }

    #[test]
    fn lone_protocol_error_is_ok() {
        let reply = done(false, 1, 2, b"decoding error\0");
        let dse = parse_messages(&reply).result.unwrap();
        assert!(dse.attributes.is_empty());
        assert_eq!(dse.result_code, Some(2));
        assert_eq!(dse.result_name.as_deref(), Some("protocolError"));
        assert!(dse.complete);
        assert_eq!(dse.render_lines(), ["LDAP result: protocolError (2): decoding error"]);
        let bare = parse_messages(&done(false, 1, 32, b"")).result.unwrap();
        assert_eq!(bare.render_lines(), ["LDAP result: noSuchObject (32)"]);
    }

    #[test]
    fn reads_the_message_ids() {
        let m = parse_messages(&openldap_reply(false));
        assert_eq!((m.message_id, m.other_id), (Some(1), None));
        // Parsing stops at a message answering another request: its Done is not read.
        let entry =
            message(false, 3, tlv(0x64, false, &cat(&[tlv(0x04, false, b""), tlv(0x30, false, b"")])));
        let m = parse_messages(&cat(&[entry, done(false, 4, 0, b""), vec![0xff]]));
        assert_eq!((m.message_id, m.other_id), (Some(3), Some(4)));
        assert!(!m.result.unwrap().complete);
        // The id is known even when its message does not parse.
        let bind = message(false, 2, tlv(0x61, false, &tlv(0x0a, false, &[0])));
        let m = parse_messages(&bind);
        assert_eq!((m.message_id, m.result), (Some(2), Err(LdapError::UnexpectedOperation(0x61))));
        assert_eq!(parse_messages(&[]).message_id, None);
    }

    #[test]
    fn binary_values_are_hex() {
        let entry = tlv(
            0x64,
            false,
            &cat(&[
                tlv(0x04, false, b""),
                tlv(0x30, false, &cat(&[attr(false, "objectGUID", &[&[0x01, 0xff, 0x00], b"", b"a\x1bb"])])),
            ]),
        );
        let reply = cat(&[message(false, 1, entry), done(false, 1, 0, b"")]);
        let dse = parse_messages(&reply).result.unwrap();
        assert_eq!(dse.attributes[0].values, ["0x01ff00", "", "0x611b62"]);
    }

    #[test]
    fn controls_reference_and_trailing_data() {
        let controls = tlv(0xa0, false, &tlv(0x30, false, &tlv(0x04, false, b"1.2.3")));
        let reference = message(false, 1, tlv(0x73, false, &tlv(0x04, false, b"ldap://x/")));
        let mut done_with_controls = done(false, 1, 0, b"");
        // Re-wrap the Done message with a controls element after protocolOp.
        let (msg, _) = ber::read_tlv(&done_with_controls).unwrap();
        done_with_controls = tlv(0x30, false, &cat(&[msg.value.to_vec(), controls]));
        let reply = cat(&[reference, done_with_controls, vec![0xde, 0xad]]);
        let dse = parse_messages(&reply).result.unwrap();
        assert!(dse.complete && dse.attributes.is_empty());
    }

    #[test]
    fn unsolicited_messages() {
        // A notice of disconnection (message id 0, ExtendedResponse with the OID).
        let notice_body = cat(&[
            tlv(0x0a, false, &[52]),
            tlv(0x04, false, b""),
            tlv(0x04, false, b"shutting down"),
            tlv(0x8a, false, NOTICE_OF_DISCONNECTION),
        ]);
        let notice = message(false, 0, tlv(0x78, false, &notice_body));
        assert_eq!(
            parse_messages(&notice).result,
            Err(LdapError::NoticeOfDisconnection {
                result_code: 52,
                diagnostic: Some("shutting down".into())
            })
        );
        // Another unsolicited notification is skipped.
        let other_body = cat(&[
            tlv(0x0a, false, &[0]),
            tlv(0x04, false, b""),
            tlv(0x04, false, b""),
            tlv(0x8a, false, b"1.2.3"),
        ]);
        let other = message(false, 0, tlv(0x78, false, &other_body));
        let reply = cat(&[other.clone(), openldap_reply(false)]);
        assert_eq!(parse_messages(&reply).result.unwrap(), expected_openldap());
        assert_eq!(parse_messages(&other).result, Err(LdapError::NoResponse));
        assert_eq!(parse_messages(&[]).result, Err(LdapError::NoResponse));
    }

    #[test]
    fn rfc1798_cldap_shape() {
        let entry = tlv(
            0x64,
            false,
            &cat(&[
                tlv(0x04, false, b""),
                tlv(0x30, false, &attr(false, "supportedLDAPVersion", &[b"2", b"3"])),
            ]),
        );
        let result =
            tlv(0x65, false, &cat(&[tlv(0x0a, false, &[0]), tlv(0x04, false, b""), tlv(0x04, false, b"")]));
        let reply = tlv(
            0x30,
            false,
            &cat(&[tlv(0x02, false, &[5]), tlv(0x04, false, b""), tlv(0x30, false, &cat(&[entry, result]))]),
        );
        let dse = parse_messages(&reply).result.unwrap();
        assert!(dse.complete);
        assert_eq!(dse.render_lines(), ["supportedLDAPVersion: 2", "supportedLDAPVersion: 3"]);
    }

    #[test]
    fn entry_without_done_is_incomplete() {
        let reply = openldap_reply(false);
        let (first, _) = ber::read_tlv(&reply).unwrap();
        let dse = parse_messages(&reply[..first.total_len()]).result.unwrap();
        assert!(!dse.complete);
        assert_eq!(dse.result_code, None);
        assert_eq!(dse.attributes.len(), 3);
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        for long in [false, true] {
            let reply = openldap_reply(long);
            for n in 0..reply.len() {
                let r = parse_messages(&reply[..n]).result;
                // A prefix ending exactly between the two messages is a valid partial answer.
                if let Ok(dse) = r {
                    assert!(!dse.complete, "prefix {n} (long {long})");
                }
            }
        }
    }

    #[test]
    fn hostile_framing() {
        // Indefinite length on the LDAPMessage.
        let indefinite = [0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00];
        assert_eq!(parse_messages(&indefinite).result, Err(LdapError::Ber(BerError::IndefiniteLength)));
        // A length claiming 4 GiB with a few bytes present.
        let huge = [0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01];
        assert!(matches!(parse_messages(&huge).result, Err(LdapError::Ber(BerError::Truncated { .. }))));
        // Same claim on an attribute value deep inside an otherwise valid entry.
        let mut reply = openldap_reply(true);
        let pos = reply.windows(5).rposition(|w| w == [0x04, 0x84, 0, 0, 0]).unwrap();
        reply[pos + 2..pos + 6].copy_from_slice(&[0xff; 4]);
        assert!(parse_messages(&reply).result.is_err());
        // Five length bytes.
        assert_eq!(
            parse_messages(&[0x30, 0x85, 0, 0, 0, 0, 3, 2, 1, 1]).result,
            Err(LdapError::Ber(BerError::LengthTooLong(5)))
        );
        // Result code that does not fit u32.
        let bad = message(false, 1, tlv(0x65, false, &tlv(0x0a, false, &[0xff])));
        assert_eq!(parse_messages(&bad).result, Err(LdapError::BadResultCode(-1)));
        // Unexpected operation (a BindResponse).
        let bind = message(false, 1, tlv(0x61, false, &tlv(0x0a, false, &[0])));
        assert_eq!(parse_messages(&bind).result, Err(LdapError::UnexpectedOperation(0x61)));
    }

    #[test]
    fn nesting_bomb() {
        // 100 000 nested SEQUENCEs, and the same nested under a valid message header.
        let inner = nested_sequences(100_000);
        assert!(parse_messages(&inner).result.is_err());
        let entry = tlv(0x64, true, &cat(&[tlv(0x04, false, b""), inner.clone()]));
        assert!(parse_messages(&message(true, 1, entry)).result.is_err());
        let rfc1798 = tlv(0x30, true, &cat(&[tlv(0x02, false, &[1]), inner]));
        assert!(parse_messages(&rfc1798).result.is_err());
    }

    #[test]
    fn random_mutations_never_panic() {
        // Cheap in-test fuzzing (xorshift, deterministic): flip, drop and insert bytes
        // in valid replies; the parser may fail but must not panic.
        let seeds = [openldap_reply(false), openldap_reply(true), done(true, 1, 2, b"x")];
        crate::wire::mutate_each(&seeds, 20_000, |buf| {
            let _ = parse_messages(buf).result;
            let _ = ber::message_len(buf);
        });
    }

    #[test]
    fn serializes() {
        fn assert_serialize<T: serde::Serialize>(_: &T) {}
        assert_serialize(&expected_openldap());
    }

    #[test]
    fn diagnostic_sanitised() {
        assert_eq!(sanitize_text(b"000004DC: LdapErr\0"), "000004DC: LdapErr");
        assert_eq!(sanitize_text(b"a\x1b[2Jb\xff"), "a\\u{1b}[2Jb\u{fffd}");
        assert_eq!(sanitize_text(b"\0\0"), "");
    }

    #[test]
    fn current_time_is_shown_as_portqry_currentdate() {
        assert_eq!(
            render_attribute("currentTime", "20261201042300.0Z"),
            "currentdate: 12/01/2026 04:23:00 (unadjusted GMT)"
        );
        assert_eq!(
            render_attribute("currentTime", "20261201042300Z"),
            "currentdate: 12/01/2026 04:23:00 (unadjusted GMT)"
        );
        // Not a GeneralizedTime in UTC: shown as it came.
        assert_eq!(render_attribute("currentTime", "2026120104"), "currentTime: 2026120104");
        assert_eq!(
            render_attribute("currentTime", "20261201042300+0100"),
            "currentTime: 20261201042300+0100"
        );
        assert_eq!(render_attribute("namingContexts", "dc=x"), "namingContexts: dc=x");
    }
}
