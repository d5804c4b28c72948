#![no_main]

use portqry::wire::l2tp;

// Feeds arbitrary bytes to the L2TP control-message parser (SCCRP, StopCCN, ZLB
// answers to an SCCRQ): it must return Err on hostile input, never panic, hang or
// trust a claimed length. Whatever parses renders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = l2tp::parse_control(data) {
        let _ = m.render_lines();
    }
});
