#![no_main]

use portqry::wire::ike;

// Feeds arbitrary bytes to the IKE reply parser (IKE_SA_INIT responses, Notify-only
// refusals, IKEv1 Informational): it must return Err on hostile input, never panic,
// hang or trust a claimed length. The input's first 8 bytes are taken as our
// initiator SPI, so every input passes the "is it ours" check and reaches the
// payload walk. Whatever parses renders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut spi = [0u8; 8];
    if let Some(head) = data.get(..8) {
        spi.copy_from_slice(head);
    }
    if let Ok(answer) = ike::parse_reply(data, spi) {
        let _ = answer.render_lines();
    }
});
