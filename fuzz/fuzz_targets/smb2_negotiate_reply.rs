#![no_main]

use portqry::wire::smb2;

// Feeds arbitrary bytes to the SMB2 NEGOTIATE reply reader as the TCP conversation
// does: Direct TCP framing first, then the parser (SMB2 response, SMB2 error, SMB1
// reply). It must return Err on hostile input, never panic or trust a claimed
// length or offset. Whatever parses renders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(n) = smb2::framed_len(data) {
        if let Some(frame) = data.get(..n) {
            if let Ok(reply) = smb2::parse_negotiate_reply(frame) {
                let _ = reply.render_lines();
            }
        }
    }
});
