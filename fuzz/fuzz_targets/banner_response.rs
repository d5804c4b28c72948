#![no_main]

use portqry::query::banner::{self, Replay, Service};

// Feeds arbitrary bytes, as everything a server sent in one session, to the banner
// conversation of each service (greeting, FTP USER reply, QUIT/LOGOUT reply): it must
// end with a reply or an Err, never panic or hang. Whatever comes back renders, as
// the report would show it.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for service in [Service::Ftp, Service::Smtp, Service::Pop3, Service::Imap] {
        if let Ok(a) = banner::converse(service, &mut Replay::new(data)) {
            let _ = a.render_lines();
        }
    }
});
