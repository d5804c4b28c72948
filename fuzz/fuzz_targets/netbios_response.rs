#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = portqry::protocols::netbios::parse_node_status_response(data, 0x1337);
});
