#![no_main]

use portqry::wire::nbdgm;

// Feeds arbitrary bytes to the NetBIOS datagram parser (a DC's NETLOGON answer
// in an SMB mailslot write): it must return Err on hostile input (truncation,
// looping or endless DNS name pointers), never panic or hang. Whatever parses
// renders, as the report would show it.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = nbdgm::parse_reply(data) {
        let _ = reply.netlogon.render_lines();
    }
    let _ = nbdgm::parse_netlogon(data);
});
