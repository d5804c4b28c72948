#![no_main]

// Arbitrary bytes as an ept_lookup reply stub: the parser must return Err on hostile
// input (huge counts, towers longer than the stub, huge floor counts), never panic,
// hang or allocate from a claimed length. Whatever parses must also render.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use portqry::wire::epm;
    if let Ok(page) = epm::parse_ept_lookup_reply(data) {
        let _ = page.is_last();
        let _ = epm::render_entries(&page.entries, true);
    }
    let _ = epm::decode_tower(data);
});
