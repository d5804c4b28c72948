#![no_main]

use portqry::wire::ssrp;

// Feeds arbitrary bytes to the SQL Server Browser reply parser (SVR_RESP): it must
// return Err on hostile input, never panic or hang. Whatever parses renders, as the
// report would show it.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(answer) = ssrp::parse_response(data) {
        let _ = answer.render_lines();
    }
});
