//! Plain tier: reply parsers against bytes captured from real servers
//! (dnsmasq, Samba AD DC, Samba nmbd, slapd, net-snmp snmpd, tftpd-hpa, xl2tpd, vsftpd,
//! OpenSMTPD, Dovecot, strongSwan; see fuzz/seeds/README.md), whole,
//! truncated at every length, with trailing garbage and with every byte flipped.
//! Whole replies must parse; damaged ones may fail, but never panic.

use portqry::query::banner;
use portqry::wire::{dcerpc, dns, epm, ike, l2tp, ldap, netbios, snmp, tftp};
use std::path::PathBuf;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("real-"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no captured replies in {}", dir.display());
    out
}

/// Run `parse` on every damaged variant of `bytes`; it must return, not panic.
fn damage(bytes: &[u8], parse: impl Fn(&[u8])) {
    for n in 0..bytes.len() {
        parse(&bytes[..n]);
    }
    let mut long = bytes.to_vec();
    long.extend(std::iter::repeat_n(0xffu8, 70_000));
    parse(&long);
    let mut flipped = bytes.to_vec();
    for i in 0..flipped.len() {
        flipped[i] ^= 0xff;
        parse(&flipped);
        flipped[i] ^= 0xff;
    }
}

#[test]
fn dns_replies() {
    for (name, bytes) in seeds("dns_response") {
        let s = dns::parse_response(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Some(s.id), dns::message_id(&bytes), "{name}");
        assert!(!s.render_lines().is_empty(), "{name}");
        if name.contains("nxdomain") {
            assert_eq!(s.rcode, "NXDOMAIN", "{name}");
        }
        if name.contains("refused") {
            assert_eq!(s.rcode, "REFUSED", "{name}");
        }
        if name.ends_with("-a.bin") {
            assert!(s.answers.iter().any(|a| a.contains(" IN A ")), "{name}: {s:?}");
        }
        damage(&bytes, |b| {
            let _ = dns::message_id(b);
            let _ = dns::parse_response(b).map(|s| s.render_lines());
        });
    }
}

#[test]
fn netbios_replies() {
    for (name, bytes) in seeds("netbios_response") {
        let s = netbios::parse_node_status_response(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Some(s.trn_id), netbios::transaction_id(&bytes), "{name}");
        assert!(!s.names.is_empty(), "{name}");
        assert_eq!(s.mac_portqry().len(), 12);
        if name.contains("nmbd") {
            assert_eq!(s.mac_portqry(), "000000000000", "classic nmbd sends a zero MAC");
            assert!(s.names.iter().any(|n| n.name == "PQNMBD"), "{name}: {s:?}");
        } else {
            assert!(s.names.iter().any(|n| n.name == "DC1"), "{name}: {s:?}");
        }
        damage(&bytes, |b| {
            let _ = netbios::transaction_id(b);
            let _ = netbios::parse_node_status_response(b).map(|s| s.render_lines());
        });
    }
}

#[test]
fn ldap_replies() {
    for (name, bytes) in seeds("ldap_response") {
        let m = ldap::parse_messages(&bytes);
        if name.contains("starttls") {
            // Answers to StartTLS (message 5): an ExtendedResponse with its resultCode.
            assert_eq!((m.message_id, m.other_id), (Some(5), None), "{name}");
            let code = m.result.unwrap_or_else(|e| panic!("{name}: {e}")).result_code;
            assert_eq!(code, Some(if name.contains("success") { 0 } else { 2 }), "{name}");
            damage(&bytes, |b| drop(ldap::parse_messages(b)));
            continue;
        }
        assert_eq!((m.message_id, m.other_id), (Some(1), None), "{name}");
        let r = m.result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.complete, "{name}: no SearchResultDone");
        assert_eq!(r.result_code, Some(0), "{name}");
        let has = |attr: &str| r.attributes.iter().any(|a| a.name.eq_ignore_ascii_case(attr));
        assert!(has("namingContexts") || has("objectClass"), "{name}: {r:?}");
        if name.contains("samba-dc") {
            assert!(has("dnsHostName") && has("defaultNamingContext"), "{name}");
        }
        damage(&bytes, |b| {
            let _ = ldap::parse_messages(b).result.map(|r| r.render_lines());
        });
    }
}

#[test]
fn epm_reply_stubs() {
    let mut total = 0;
    for (name, bytes) in seeds("epm_reply") {
        let page = epm::parse_ept_lookup_reply(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        total += page.entries.len();
        for e in &page.entries {
            let binding = &e.tower.as_ref().expect("Samba sends a tower for every entry").binding;
            assert!(binding.starts_with("ncacn_") || binding.starts_with("ncalrpc:"), "{name}: {binding}");
        }
        damage(&bytes, |b| {
            let _ = epm::parse_ept_lookup_reply(b).map(|p| epm::render_entries(&p.entries, true));
        });
    }
    assert!(total > 50, "the captured pages hold Samba's whole list: {total}");
}

#[test]
fn dcerpc_pdus() {
    for (name, bytes) in seeds("dcerpc_pdu") {
        if name.contains("bind-ack") {
            let ack = dcerpc::parse_bind_ack(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            ack.check_accepted().unwrap();
        } else if name.ends_with("-stream.bin") {
            // Several response fragments back to back, as read from the socket.
            let mut off = 0;
            let mut frames = 0;
            while let Some(n) = dcerpc::co_frame_len(&bytes[off..]) {
                if off + n > bytes.len() {
                    break;
                }
                dcerpc::parse_co_pdu(&bytes[off..off + n]).unwrap_or_else(|e| panic!("{name}: {e}"));
                off += n;
                frames += 1;
            }
            assert!(frames >= 1 && off == bytes.len(), "{name}: {frames} frames, {off} of {}", bytes.len());
        } else {
            dcerpc::parse_co_pdu(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        damage(&bytes, |b| {
            let _ = dcerpc::parse_co_pdu(b);
            let _ = dcerpc::parse_bind_ack(b);
            let _ = dcerpc::parse_cl_pdu(b);
        });
    }
}

/// request-id / msgID of the captured SNMP exchanges (fuzz/seeds/capture.py `SNMP_ID`).
const SNMP_ID: i32 = 0x5101;

#[test]
fn snmp_replies() {
    for (name, bytes) in seeds("snmp_response") {
        let a = snmp::parse_reply(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines = a.render_lines();
        let field = if name.contains("-v3-") { "msgID" } else { "request-id" };
        assert_eq!(a.echoed_id(), (field, i64::from(SNMP_ID)), "{name}");
        if name.contains("-v3-") {
            assert_eq!((a.version, a.pdu), ("v3", "report"), "{name}");
            let engine = a.engine.as_ref().expect("a v3 report names its engine");
            assert!(engine.id.starts_with("80001f88"), "{name}: net-snmp's enterprise number: {engine:?}");
            assert!(
                lines.len() == 1 && lines[0].starts_with("usmStatsUnknownEngineIDs.0: "),
                "{name}: {lines:?}"
            );
        } else {
            assert_eq!((a.version, a.pdu, a.error_status), ("v2c", "response", 0), "{name}");
            assert_eq!(a.varbinds.len(), if name.contains("system") { 4 } else { 3 }, "{name}: {lines:?}");
        }
        if name.contains("system") {
            assert!(lines.contains(&"sysName.0: pq-snmp.portqry.test".to_string()), "{name}: {lines:?}");
            assert!(
                lines.contains(&"sysObjectID.0: 1.3.6.1.4.1.8072.3.2.10".to_string()),
                "{name}: {lines:?}"
            );
            assert!(lines.iter().any(|l| l.starts_with("sysDescr.0: Linux ")), "{name}: {lines:?}");
        }
        if name.contains("nosuchobject") {
            assert!(lines.contains(&"1.3.6.1.2.1.1.99.0: noSuchObject".to_string()), "{name}: {lines:?}");
        }
        damage(&bytes, |b| {
            let _ = snmp::parse_reply(b).map(|a| a.render_lines());
        });
    }
}

#[test]
fn tftp_replies() {
    for (name, bytes) in seeds("tftp_response") {
        let r = tftp::parse_reply(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want =
            tftp::TftpReply::Error { code: 1, name: "file not found", message: "File not found".into() };
        assert_eq!(r, want, "{name}");
        assert_eq!(tftp::stop_transfer(&r), None, "{name}: an ERROR ends the transfer by itself");
        damage(&bytes, |b| {
            if let Ok(reply) = tftp::parse_reply(b) {
                let a = tftp::TftpAnswer { file: String::new(), server_port: 1, reply, stopped_with: None };
                let _ = a.render_lines();
            }
        });
    }
}

/// The tunnel ID the captured SCCRQ assigned (fuzz/seeds/capture.py `L2TP_TUNNEL`).
const L2TP_TUNNEL: u16 = 0x5101;

#[test]
fn l2tp_replies() {
    for (name, bytes) in seeds("l2tp_response") {
        let m = l2tp::parse_control(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.tunnel_id, L2TP_TUNNEL, "{name}: addressed to our tunnel");
        if name.contains("sccrp") {
            assert_eq!((m.message_type, m.ns, m.nr), (Some(l2tp::message::SCCRP), 0, 1), "{name}");
            assert_eq!(m.host_name.as_deref(), Some("pq-lns.portqry.test"), "{name}");
            assert_eq!(m.vendor_name.as_deref(), Some("xelerance.com"), "{name}");
            assert!(m.assigned_tunnel_id.is_some_and(|t| t != 0), "{name}: {m:?}");
            assert_eq!(m.protocol_version.as_deref(), Some("1.0"), "{name}");
        } else {
            // The ZLB acknowledging our StopCCN (Ns 1): Nr 2, no AVPs.
            assert_eq!((m.message_type, m.message_name, m.nr, m.avp_count), (None, "ZLB", 2, 0), "{name}");
        }
        damage(&bytes, |b| {
            let _ = l2tp::parse_control(b).map(|m| m.render_lines());
        });
    }
}

/// The initiator SPI of the captured IKE_SA_INIT requests (fuzz/seeds/capture.py `IKE_SPI`).
const IKE_SPI: [u8; 8] = [0x51, 0x01, 0x51, 0x01, 0x51, 0x01, 0x51, 0x01];

/// strongSwan's IKE_SA_INIT response and its two Notify-only refusals.
#[test]
fn ike_replies() {
    for (name, bytes) in seeds("ike_response") {
        let a = ike::parse_reply(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.initiator, IKE_SPI, "{name}");
        assert_eq!(
            (a.version.as_str(), a.exchange.as_str(), a.response),
            ("2.0", "IKE_SA_INIT", true),
            "{name}"
        );
        let notes: Vec<&str> = a.notifies.iter().map(|n| n.name.as_str()).collect();
        if name.contains("sa-init") {
            assert_eq!(a.payloads[..3], ["SA", "KE", "Nonce"], "{name}");
            assert_ne!(a.responder_spi, "0000000000000000", "{name}");
            let chosen: Vec<String> = a
                .proposal
                .as_ref()
                .unwrap()
                .transforms
                .iter()
                .map(|t| format!("{} {} {:?}", t.kind, t.name, t.key_length))
                .collect();
            // swanctl.conf's proposal, aes256-sha256-modp2048, out of our offer.
            assert_eq!(
                chosen,
                [
                    "ENCR AES_CBC Some(256)",
                    "INTEG HMAC_SHA2_256_128 None",
                    "PRF HMAC_SHA2_256 None",
                    "DH MODP_2048 None"
                ],
                "{name}"
            );
            assert_eq!((a.ke_group, a.ke_len, a.nonce_len), (Some(14), Some(256), Some(32)), "{name}");
            assert!(notes.contains(&"MULTIPLE_AUTH_SUPPORTED"), "{name}: {notes:?}");
            assert_eq!(a.vendor_ids[0].name.as_deref(), Some("strongSwan"), "{name}");
        } else if name.contains("invalid-ke") {
            assert_eq!(notes, ["INVALID_KE_PAYLOAD"], "{name}");
            assert_eq!(a.notifies[0].wanted_group, Some(14), "{name}");
        } else {
            assert_eq!(notes, ["NO_PROPOSAL_CHOSEN"], "{name}");
        }
        damage(&bytes, |b| {
            let _ = ike::parse_reply(b).map(|a| a.render_lines());
        });
    }
}

/// Whole sessions (greeting, FTP USER reply, QUIT/LOGOUT reply) from vsftpd, OpenSMTPD and Dovecot.
#[test]
fn banner_sessions() {
    use banner::{Replay, Service};
    for (name, bytes) in seeds("banner_response") {
        let service = [("-ftp-", Service::Ftp), ("-smtp-", Service::Smtp), ("-pop3-", Service::Pop3)]
            .into_iter()
            .find_map(|(k, s)| name.contains(k).then_some(s))
            .unwrap_or(Service::Imap);
        let mut peer = Replay::new(&bytes);
        let a = banner::converse(service, &mut peer).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(a.greeting.complete(), "{name}: {a:?}");
        let closing = a.closing.as_ref().and_then(|c| c.reply.as_ref()).expect("a closing reply");
        assert!(closing.complete(), "{name}: {closing:?}");
        let lines = a.render_lines();
        match service {
            Service::Ftp => {
                assert_eq!(peer.sent, ["USER anonymous", "QUIT"], "{name}");
                assert_eq!(
                    lines,
                    [
                        "220-portqry test FTP server (vsftpd).",
                        "220-Anonymous access only; nothing to download.",
                        "220",
                        "",
                        "331 Please specify the password."
                    ],
                    "{name}"
                );
                assert_eq!(closing.code, Some(221), "{name}");
            }
            Service::Smtp => {
                assert_eq!(lines, ["220 pq-mail.portqry.test ESMTP OpenSMTPD"], "{name}");
                assert_eq!(closing.code, Some(221), "{name}");
            }
            Service::Pop3 => {
                assert_eq!(lines, ["+OK portqry test mail server ready."], "{name}");
                assert_eq!(closing.status.as_deref(), Some("+OK"), "{name}");
            }
            Service::Imap => {
                assert_eq!(peer.sent, ["a1 LOGOUT"], "{name}");
                assert!(lines[0].starts_with("* OK [CAPABILITY IMAP4rev1 "), "{name}: {lines:?}");
                assert!(lines[0].ends_with("] portqry test mail server ready."), "{name}: {lines:?}");
                assert_eq!(closing.lines, ["* BYE Logging out", "a1 OK Logout completed."], "{name}");
            }
        }
        damage(&bytes, |b| {
            for s in [Service::Ftp, Service::Smtp, Service::Pop3, Service::Imap] {
                let _ = banner::converse(s, &mut Replay::new(b)).map(|a| a.render_lines());
            }
        });
    }
}

/// The certificates served by `ensure.sh tls` and the Samba DC's LDAPS: every one
/// summarises fully; a damaged copy never panics and still gets a fingerprint.
#[test]
fn tls_certificates() {
    use portqry::query::tls::cert;
    for (name, der) in seeds("tls_certificate") {
        let c = cert::summarize(&der, 1_800_000_000);
        assert_eq!(c.error, None, "{name}");
        assert!(c.subject.is_some() && c.issuer.is_some() && c.not_after.is_some(), "{name}: {c:?}");
        assert_eq!(c.sha256.len(), 95, "{name}");
        if name.contains("expired") {
            assert_eq!(c.not_after.as_deref(), Some("2020-01-31 00:00:00 UTC"), "{name}");
            assert!(c.expired && c.warning.as_deref().is_some_and(|w| w.starts_with("EXPIRED ")), "{name}");
        }
        if name.contains("samba") {
            assert!(c.subject.as_deref().unwrap().contains("Samba - temporary autogenerated HOST"), "{name}");
        }
        damage(&der, |b| {
            let _ = cert::summarize(b, 1_800_000_000);
        });
    }
}
