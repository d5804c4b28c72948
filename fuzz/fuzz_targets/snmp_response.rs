#![no_main]

use portqry::wire::snmp;

/// request-id (v2c) and msgID (v3) of the captured seeds (fuzz/seeds/capture.py SNMP_ID).
const SEED_ID: i32 = 0x5101;

// Feeds arbitrary bytes to the SNMP reply parser (v1/v2c Responses and v3 Reports):
// it must return Err on hostile input, never panic, hang or allocate from a claimed
// length. The whole message is decoded before the id is compared, so inputs with
// another id still exercise every field. Whatever parses renders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(a) = snmp::parse_reply(data, SEED_ID) {
        let _ = a.render_lines();
    }
});
