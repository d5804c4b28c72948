#![no_main]

use portqry::wire::ntp;

// Feeds arbitrary bytes to the NTP header parser and what the query derives from a
// reply (reference ID text, timestamps, offset): never a panic, whatever the fields.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ntp::parse(data) {
        let _ = ntp::reference_text(p.stratum, p.reference_id);
        let _ = (ntp::to_system_time(p.transmit), ntp::short_to_secs(p.root_delay));
        let _ = ntp::offset_delay(ntp::to_unix(p.origin), ntp::to_unix(p.receive), ntp::to_unix(p.transmit), 0.0);
    }
});
