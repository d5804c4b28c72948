#![no_main]

// Feeds arbitrary bytes to the LDAP response parser and the TCP framer: both must
// return Err on hostile input, never panic, hang or allocate from a claimed length.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = portqry::protocols::ldap::parse_messages(data, 1);
    let _ = portqry::protocols::ber::message_len(data);
});
