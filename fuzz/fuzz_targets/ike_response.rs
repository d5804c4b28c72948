#![no_main]

use portqry::wire::ike;

// Feeds arbitrary bytes to the IKE reply parser (IKE_SA_INIT responses, Notify-only
// refusals, IKEv1 Informational): it must return Err on hostile input, never panic,
// hang or trust a claimed length. The parser does not compare the initiator SPI (the
// query does), so every input reaches the payload walk. Whatever parses renders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(answer) = ike::parse_reply(data) {
        let _ = answer.render_lines();
    }
});
