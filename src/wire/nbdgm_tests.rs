use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The ping a Python prototype sent to the Samba AD DC of tests/servers (which answered it).
const PING: &str = "11021922c6120d01ab8600d400002046414642434143414341434143414341434143414341434143414341434141410020464145504643464546424643464a43414341434143414341434143414341424d00ff534d42250000000000000000000000000000000000000000000000000000001100003400000000000000000000000000000000005c0034005c0003000100010002004b005c4d41494c534c4f545c4e45545c4e45544c4f474f4e001200000050005100000000005c4d41494c534c4f545c4e45545c47455444433132333400000000000000000007000000ffffffff";

/// Samba 4 AD DC (dc1.portqry.test, domain PORTQRY): its answer, from port 138.
pub const SAMBA_EX: &str = "100eb540c6120d02008a010100002045454544444243414341434143414341434143414341434143414341434141410020464146424341434143414341434143414341434143414341434143414341414100ff534d422500000000000000000000000000000000000000000000000000000011000060000000000000000000e803000000000000000060005d00030001000100020078005c4d41494c534c4f545c4e45545c4745544443313233340017000000fd130000e57826b2f730594aa3e7a162bc04203907706f7274717279047465737400c01803646331c01807504f5254515259000344433100001744656661756c742d46697273742d536974652d4e616d6500c03d05000000ffffffff";

/// The same DC's answer to a LOGON_PRIMARY_QUERY (opcode 7).
const SAMBA_PRIMARY: &str = "100e0899c6120d02008a00c900002045454544444243414341434143414341434143414341434143414341434141410020464146424341434143414341434143414341434143414341434143414341414100ff534d422500000000000000000000000000000000000000000000000000000011000028000000000000000000e803000000000000000028005d00030001000100020040005c4d41494c534c4f545c4e45545c474554444331323334000c0044433100440043003100000050004f00520054005100520059000000000001000000ffffffff";

#[test]
fn ping_matches_the_prototype_samba_answered() {
    let p = Ping {
        dgm_id: 0x1922,
        source_ip: Ipv4Addr::new(198, 18, 13, 1),
        source_port: 0xab86,
        computer: "PQ",
        domain: "portqry",
        reply_mailslot: "\\MAILSLOT\\NET\\GETDC1234",
    };
    assert_eq!(emit_ping(&p), hex(PING));
}

#[test]
fn names_round_trip() {
    let e = encode_name("dc1", 0x1c);
    assert_eq!(decode_name(&e).unwrap(), ("DC1".to_string(), 0x1c));
    assert_eq!(decode_name(&e[..33]), Err(NbdgmError::BadName));
    let mut bad = e;
    bad[5] = b'Z';
    assert_eq!(decode_name(&bad), Err(NbdgmError::BadName));
}

#[test]
fn parses_samba_extended_answer() {
    let r = parse_reply(&hex(SAMBA_EX)).unwrap();
    assert_eq!(r.source_ip, "198.18.13.2");
    assert_eq!(r.source_port, 138);
    assert_eq!(r.source_name, "DC1");
    assert_eq!(r.mailslot, "\\MAILSLOT\\NET\\GETDC1234");
    let n = r.netlogon;
    assert_eq!((n.opcode, n.opcode_name), (23, "LOGON_SAM_LOGON_RESPONSE_EX"));
    assert_eq!(n.flags, Some(0x13fd));
    assert_eq!(n.dc_name, "DC1");
    assert_eq!(n.domain_name, "PORTQRY");
    assert_eq!(n.dns_forest.as_deref(), Some("portqry.test"));
    assert_eq!(n.dns_domain.as_deref(), Some("portqry.test"));
    assert_eq!(n.dns_host.as_deref(), Some("dc1.portqry.test"));
    assert_eq!(n.dc_site.as_deref(), Some("Default-First-Site-Name"));
    assert_eq!(n.client_site.as_deref(), Some("Default-First-Site-Name"));
    assert!(n.render_lines().contains(&"Domain controller: DC1 (dc1.portqry.test)".to_string()));
}

#[test]
fn parses_samba_primary_answer() {
    let n = parse_reply(&hex(SAMBA_PRIMARY)).unwrap().netlogon;
    assert_eq!((n.opcode, n.dc_name.as_str(), n.domain_name.as_str()), (12, "DC1", "PORTQRY"));
}

#[test]
fn every_truncation_and_corruption_is_an_error_not_a_panic() {
    let full = hex(SAMBA_EX);
    for n in 0..full.len() - 10 {
        assert!(parse_reply(&full[..n]).is_err(), "{n} bytes parsed");
    }
    let mut next = crate::wire::xorshift(0x5eed);
    for _ in 0..5000 {
        let mut b = full.clone();
        let i = next() as usize % b.len();
        b[i] = next() as u8;
        let _ = parse_reply(&b);
    }
}

#[test]
fn pointers_must_go_backwards() {
    // A name that points at itself.
    let mut msg = vec![23, 0, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&[0; 16]);
    msg.extend_from_slice(&[0xc0, 24]);
    assert_eq!(parse_netlogon(&msg), Err(NbdgmError::BadPointer));
    assert_eq!(parse_netlogon(&[7, 0]), Err(NbdgmError::UnexpectedOpcode(7)));
}
