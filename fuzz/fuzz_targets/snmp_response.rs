#![no_main]

use portqry::wire::snmp;

// Feeds arbitrary bytes to the SNMP reply parser (v1/v2c Responses and v3 Reports):
// it must return Err on hostile input, never panic, hang or allocate from a claimed
// length. The parser does not compare the request-id or msgID (the query does), so
// every input exercises every field. Whatever parses renders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(a) = snmp::parse_reply(data) {
        let _ = a.echoed_id();
        let _ = a.render_lines();
    }
});
