#![no_main]

use portqry::query::tls::{self, handshake, verify};
use rustls::pki_types::{ServerName, UnixTime};
use std::sync::Arc;

// Feeds arbitrary bytes as a server's certificate (DER) to the summary (x509-parser),
// the name check and the verdict (webpki), and as the server's first bytes to the
// handshake-failure description: all must say why not, never panic. The answer renders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for now in [0, 1_800_000_000, i64::MIN, i64::MAX] {
        let _ = tls::cert::summarize(data, now);
    }
    let chain = vec![data.to_vec(), data.to_vec()];
    let name = ServerName::try_from("dc1.example.org").unwrap();
    let roots = Arc::new(rustls::RootCertStore::empty());
    let verdict = verify::verify_with(&chain, &name, roots, UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)));
    let hs = handshake::Handshake { chain, ..Default::default() };
    let answer = tls::summarize(hs, Some(verdict), 1_800_000_000);
    let _ = answer.lines();
    let _ = handshake::server_hello_version(data);
    let _ = handshake::describe_error(&rustls::Error::General("fuzz".into()), data, data.len());
});
