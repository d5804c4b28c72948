#![no_main]

use portqry::wire::kerberos;

// Feeds arbitrary bytes to the Kerberos reply parsers the way the queries use them:
// as a datagram from port 88 (a bare KRB-ERROR / AS-REP), as a kpasswd reply
// (RFC 3244 framing around a KRB-ERROR), and as a TCP record (4-byte length, then
// either). They must return Err on hostile input, never panic or trust a length.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let show = |m: kerberos::Message| {
        if let kerberos::Message::Error(e) = m {
            let _ = (kerberos::error_name(e.error_code), kerberos::server_time(&e));
            let _ = e.e_data.as_deref().and_then(kerberos::kpasswd_result);
        }
    };
    if let Ok(m) = kerberos::parse_message(data) {
        show(m);
    }
    if let Ok(r) = kerberos::parse_kpasswd_reply(data) {
        show(r.message);
    }
    if let Some(n) = kerberos::tcp_record_len(data).filter(|n| *n <= data.len()) {
        if let Ok(inner) = kerberos::untcp(&data[..n]) {
            let _ = kerberos::parse_message(inner).map(show);
            let _ = kerberos::parse_kpasswd_reply(inner).map(|r| show(r.message));
        }
    }
});
