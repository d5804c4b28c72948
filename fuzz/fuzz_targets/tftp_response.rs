#![no_main]

use portqry::wire::tftp;

// Feeds arbitrary bytes to the TFTP reply parser (ERROR, DATA, OACK answers to a
// read request): it must return Err on hostile input, never panic or hang. Whatever
// parses renders, as the report would show it.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = tftp::parse_reply(data) {
        let stopped_with = tftp::stop_transfer(&reply).map(|(code, _)| code);
        let a = tftp::TftpAnswer { file: tftp::probe_file_name(1), server_port: 40000, reply, stopped_with };
        let _ = a.render_lines();
    }
});
