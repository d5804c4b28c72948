#![no_main]

use portqry::wire::ber::{self, Tlv};

/// Walk every constructed element: the BER reader must bound depth and lengths itself.
fn walk(t: Tlv<'_>, budget: &mut u32) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let _ = t.integer_value();
    let _ = t.boolean_value();
    if let Ok(kids) = t.children() {
        for kid in kids {
            match kid {
                Ok(k) => walk(k, budget),
                Err(_) => break,
            }
        }
    }
}

// Feeds arbitrary bytes to the LDAP response parser (it does not compare the message
// id: the query does), the TCP framer and a generic BER walk: all must return Err on
// hostile input, never panic, hang or allocate from a claimed length. Whatever parses
// renders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(dse) = portqry::wire::ldap::parse_messages(data).result {
        let _ = dse.render_lines();
    }
    let _ = ber::message_len(data);
    let mut budget = 10_000;
    let mut rest = data;
    while let Ok((t, after)) = ber::read_tlv(rest) {
        walk(t, &mut budget);
        if after.len() == rest.len() {
            break;
        }
        rest = after;
    }
});
