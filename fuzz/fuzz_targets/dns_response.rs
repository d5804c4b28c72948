#![no_main]

// Arbitrary bytes as a DNS reply (UDP body, or a TCP reply without its 2-byte prefix).
// The parser does not compare the ID (the query does), so every input reaches the
// header checks and captured replies reach hickory-proto's decoder. Whatever parses
// must also render. No panic, no allocation from a claimed count.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use portqry::wire::dns;
    let _ = dns::tcp_frame_len(data);
    let _ = dns::message_id(data);
    if let Ok(summary) = dns::parse_response(data) {
        let _ = summary.render_lines();
    }
});
