#![no_main]

// Arbitrary bytes as a DNS reply (UDP body, or a TCP reply without its 2-byte prefix).
// The expected ID is taken from the input itself, so real captured replies get past
// the ID check and reach hickory-proto's decoder; a fixed ID covers the mismatch path.
// Whatever parses must also render. No panic, no allocation from a claimed count.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use portqry::wire::dns;
    let _ = dns::tcp_frame_len(data);
    let _ = dns::parse_response(data, 0x1234);
    if let [a, b, ..] = *data
        && let Ok(summary) = dns::parse_response(data, u16::from_be_bytes([a, b]))
    {
        let _ = summary.render_lines();
    }
});
