#![no_main]

// Arbitrary bytes as a NetBIOS NODE STATUS RESPONSE. The expected TRN_ID is taken
// from the input, so captured replies reach the name table; a fixed one covers the
// mismatch path. Whatever parses must also render (names, MAC).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use portqry::wire::netbios;
    let _ = netbios::parse_node_status_response(data, 0x1337);
    if let [a, b, ..] = *data
        && let Ok(status) = netbios::parse_node_status_response(data, u16::from_be_bytes([a, b]))
    {
        let _ = status.mac_portqry();
        let _ = status.render_lines();
        for e in &status.names {
            let _ = (e.is_active(), e.is_permanent(), e.is_conflict());
            let _ = (e.is_deregistering(), e.node_type().letter());
        }
    }
});
