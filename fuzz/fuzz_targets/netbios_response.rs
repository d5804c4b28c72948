#![no_main]

// Arbitrary bytes as a NetBIOS NODE STATUS RESPONSE. The parser does not compare the
// TRN_ID (the query does), so captured replies reach the name table. Whatever parses
// must also render (names, MAC).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use portqry::wire::netbios;
    let _ = netbios::transaction_id(data);
    if let Ok(status) = netbios::parse_node_status_response(data) {
        let _ = status.mac_portqry();
        let _ = status.render_lines();
        for e in &status.names {
            let _ = (e.is_active(), e.is_permanent(), e.is_conflict());
            let _ = (e.is_deregistering(), e.node_type().letter());
        }
    }
});
