#![no_main]

use portqry::wire::rdp;

// Feeds arbitrary bytes to the X.224 Connection Confirm reader as the TCP
// conversation does: TPKT framing first, then the parser. It must return Err on
// hostile input, never panic or trust a claimed length. Whatever parses renders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(n) = rdp::framed_len(data) {
        if let Some(frame) = data.get(..n) {
            if let Ok(confirm) = rdp::parse_confirm(frame) {
                let _ = confirm.render_lines();
            }
        }
    }
});
