#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = portqry::protocols::dns::parse_response(data, 0x1234);
});
