//! Tests from literal PDUs (captured from Samba and Windows, and built from the spec).
use super::co::co_field;
use super::*;

/// protocols.md §3.2: minimal EPM bind.
#[rustfmt::skip]
const BIND_72: [u8; 72] = [
    0x05, 0x00, 0x0b, 0x03, 0x10, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0xb8, 0x10, 0xb8, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa,
    0x03, 0x00, 0x00, 0x00, 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00,
    0x2b, 0x10, 0x48, 0x60, 0x02, 0x00, 0x00, 0x00,
];

/// A bind_ack as Windows sends it: sec_addr "135\0" (len 4) puts the result list at
/// 26 + 4 = 30, padded to 32.
fn bind_ack_frame(result: u16, reason: u16) -> Vec<u8> {
    let mut body = Vec::new();
    put_u16_le(&mut body, 5840);
    put_u16_le(&mut body, 5840);
    put_u32_le(&mut body, 0x1234);
    put_u16_le(&mut body, 4);
    body.extend_from_slice(b"135\0");
    body.extend_from_slice(&[0, 0]); // pad to 32 from PDU start
    body.extend_from_slice(&[1, 0, 0, 0]);
    put_u16_le(&mut body, result);
    put_u16_le(&mut body, reason);
    NDR_SYNTAX.emit(&mut body);
    co_frame(co_ptype::BIND_ACK, pfc::FIRST_FRAG | pfc::LAST_FRAG, 1, &body)
}

fn co_frame(ptype: u8, flags: u8, call_id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    CoHeader { ptype, flags, frag_length: (CO_HEADER_LEN + body.len()) as u16, auth_length: 0, call_id }
        .emit(&mut out);
    out.extend_from_slice(body);
    out
}

fn response_frame(flags: u8, call_id: u32, stub: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    put_u32_le(&mut body, stub.len() as u32);
    put_u16_le(&mut body, 0);
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(stub);
    co_frame(co_ptype::RESPONSE, flags, call_id, &body)
}

#[test]
fn bind_matches_reference_bytes() {
    let b = emit_bind(1, 4280, EPM_SYNTAX, NDR_SYNTAX);
    assert_eq!(b, BIND_72);
    assert_eq!(co_frame_len(&b), Some(72));
    let h = parse_co_header(&b).unwrap();
    assert_eq!((h.ptype, h.flags, h.frag_length, h.call_id), (11, 3, 72, 1));
}

#[test]
fn bind_ack_accept_and_reject() {
    let ack = parse_bind_ack(&bind_ack_frame(0, 0)).unwrap();
    assert_eq!(ack.max_recv_frag, 5840);
    assert_eq!(ack.assoc_group_id, 0x1234);
    assert_eq!(ack.sec_addr, "135");
    assert_eq!(ack.results.len(), 1);
    assert_eq!(ack.results[0].transfer_syntax, NDR_SYNTAX);
    assert!(ack.check_accepted().is_ok());
    let rej = parse_bind_ack(&bind_ack_frame(2, 1)).unwrap();
    assert_eq!(rej.check_accepted(), Err(RpcError::BindRejected(1)));
    assert!(matches!(parse_co_pdu(&bind_ack_frame(0, 0)), Ok(CoPdu::BindAck(_))));
}

#[test]
fn bind_ack_empty_sec_addr_pads_from_pdu_start() {
    // sec_addr length 0: results list at 26 rounded up to 28.
    let mut body = Vec::new();
    put_u16_le(&mut body, 4280);
    put_u16_le(&mut body, 4280);
    put_u32_le(&mut body, 0);
    put_u16_le(&mut body, 0);
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&[1, 0, 0, 0]);
    put_u16_le(&mut body, 0);
    put_u16_le(&mut body, 0);
    NDR_SYNTAX.emit(&mut body);
    let f = co_frame(co_ptype::BIND_ACK, 3, 1, &body);
    let ack = parse_bind_ack(&f).unwrap();
    assert_eq!(ack.sec_addr, "");
    assert_eq!(ack.results[0].transfer_syntax, NDR_SYNTAX);
}

#[test]
fn bind_nak_is_reported() {
    let f = co_frame(co_ptype::BIND_NAK, 3, 1, &[4, 0]);
    assert_eq!(parse_bind_nak(&f), Ok(4));
    assert_eq!(parse_bind_ack(&f), Err(RpcError::BindNak(4)));
    assert_eq!(parse_co_pdu(&f), Ok(CoPdu::BindNak(4)));
}

#[test]
fn request_matches_reference_bytes() {
    #[rustfmt::skip]
    const REQ_64: [u8; 64] = [
        0x05, 0x00, 0x00, 0x03, 0x10, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
        0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf4, 0x01, 0x00, 0x00,
    ];
    let pdus = emit_request(2, 0, 2, &REQ_64[24..], 5840);
    assert_eq!(pdus.len(), 1);
    assert_eq!(pdus[0], REQ_64);
}

#[test]
fn request_fragments_when_stub_exceeds_max_frag() {
    let stub: Vec<u8> = (0..100u8).collect();
    // 24 header + 40 stub per fragment (48 rounded down to a multiple of 8 is 40).
    let pdus = emit_request(7, 0, 2, &stub, 24 + 44);
    assert_eq!(pdus.len(), 3);
    let mut joined = Vec::new();
    for (i, p) in pdus.iter().enumerate() {
        let h = parse_co_header(p).unwrap();
        assert_eq!(usize::from(h.frag_length), p.len());
        assert!(p.len() <= 68);
        assert_eq!(h.flags & pfc::FIRST_FRAG != 0, i == 0);
        assert_eq!(h.flags & pfc::LAST_FRAG != 0, i == 2);
        assert_eq!(u16_le_at(p, co_field::OPNUM), Some(2));
        joined.extend_from_slice(&p[24..]);
    }
    assert_eq!(joined, stub);
    assert_eq!(u32_le_at(&pdus[1], co_field::ALLOC_HINT), Some(60));
    // Empty stub and absurd max_frag still produce one well-formed PDU.
    let p = emit_request(1, 0, 0, &[], 0);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0][3], 3);
}

#[test]
fn multi_fragment_response_is_reassembled() {
    let stub: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let frames = [
        response_frame(pfc::FIRST_FRAG, 9, &stub[..400]),
        response_frame(0, 9, &stub[400..800]),
        response_frame(pfc::LAST_FRAG, 9, &stub[800..]),
    ];
    // Simulate a TCP stream cut into frames by co_frame_len.
    let stream: Vec<u8> = frames.concat();
    let mut r = CoReassembler::new(DEFAULT_MAX_STUB);
    let mut rest = &stream[..];
    let mut out = None;
    for _ in 0..10 {
        let Some(n) = co_frame_len(rest) else { break };
        let (frame, tail) = rest.split_at(n);
        rest = tail;
        if let Some(s) = r.push(frame).unwrap() {
            out = Some(s);
            break;
        }
    }
    assert_eq!(out.as_deref(), Some(&stub[..]));
}

#[test]
fn reassembler_rejects_bad_sequences() {
    let mut r = CoReassembler::new(100);
    assert!(matches!(r.push(&response_frame(0, 1, b"x")), Err(RpcError::BadFragmentSequence(_))));
    // Fragments are reassembled whatever their call id: the query checks it.
    let mut r = CoReassembler::new(100);
    let f = response_frame(3, 2, b"x");
    assert_eq!(parse_response(&f).unwrap().call_id, 2);
    assert_eq!(r.push(&f), Ok(Some(b"x".to_vec())));
    let mut r = CoReassembler::new(10);
    r.push(&response_frame(1, 1, &[0; 8])).unwrap();
    assert_eq!(r.push(&response_frame(0, 1, &[0; 8])), Err(RpcError::TooLarge(10)));
    // An endless run of empty middle fragments ends at the fragment cap.
    let mut r = CoReassembler::new(100).with_max_fragments(3);
    r.push(&response_frame(1, 1, b"")).unwrap();
    r.push(&response_frame(0, 1, b"")).unwrap();
    r.push(&response_frame(0, 1, b"")).unwrap();
    assert_eq!(r.push(&response_frame(0, 1, b"")), Err(RpcError::TooManyFragments(3)));
}

#[test]
fn fault_pdu() {
    let mut body = Vec::new();
    put_u32_le(&mut body, 0);
    put_u16_le(&mut body, 0);
    body.extend_from_slice(&[0, 0]);
    put_u32_le(&mut body, 0x1c01_0003);
    put_u32_le(&mut body, 0);
    let f = co_frame(co_ptype::FAULT, 3 | pfc::DID_NOT_EXECUTE, 2, &body);
    let fault = parse_fault(&f).unwrap();
    assert_eq!(fault.status, 0x1c01_0003);
    assert!(fault.did_not_execute);
    assert_eq!(parse_response(&f), Err(RpcError::Fault(0x1c01_0003)));
    let mut r = CoReassembler::new(100);
    assert_eq!(r.push(&f), Err(RpcError::Fault(0x1c01_0003)));
    assert_eq!(RpcError::Fault(0x1c01_0003).to_string(), "server returned RPC fault 0x1c010003 (nca_unk_if)");
}

#[test]
fn co_header_rejections() {
    let mut b = BIND_72;
    b[4] = 0x00; // big-endian drep
    assert_eq!(parse_co_header(&b), Err(RpcError::BigEndian));
    assert_eq!(co_frame_len(&b), Some(0x4800));
    let mut b = BIND_72;
    b[0] = 4;
    assert_eq!(parse_co_header(&b), Err(RpcError::BadVersion(4, 0)));
    let mut b = BIND_72;
    b[8] = 3;
    assert_eq!(parse_co_header(&b), Err(RpcError::BadFragLength(3)));
    assert_eq!(co_frame_len(&b), Some(16));
    assert_eq!(co_frame_len(&b[..9]), None);
}

#[test]
fn auth_trailer_is_stripped_and_hostile_auth_length_rejected() {
    let mut body = Vec::new();
    put_u32_le(&mut body, 4);
    put_u32_le(&mut body, 0);
    body.extend_from_slice(b"ABCD\0\0\0\0"); // 4 stub + 4 auth pad
    body.extend_from_slice(&[10, 2, 4, 0, 0, 0, 0, 0]); // sec_trailer, pad 4
    body.extend_from_slice(&[0xaa; 16]);
    let mut f = co_frame(co_ptype::RESPONSE, 3, 1, &body);
    f[co_field::AUTH_LENGTH] = 16;
    assert_eq!(parse_response(&f).unwrap().stub, b"ABCD");
    f[co_field::AUTH_LENGTH] = 0xff;
    f[co_field::AUTH_LENGTH + 1] = 0xff;
    assert!(parse_response(&f).is_err());
}

#[test]
fn co_truncation_never_panics() {
    let frames = [
        BIND_72.to_vec(),
        bind_ack_frame(0, 0),
        response_frame(3, 1, &[1, 2, 3, 4, 5]),
        co_frame(co_ptype::BIND_NAK, 3, 1, &[4, 0]),
    ];
    for f in &frames {
        for n in 0..f.len() {
            let cut = &f[..n];
            let _ = parse_co_pdu(cut);
            let _ = CoReassembler::new(100).push(cut);
            // Also with frag_length claiming only the cut length.
            let mut g = cut.to_vec();
            if g.len() >= 10 {
                g[8..10].copy_from_slice(&(n as u16).to_le_bytes());
                let _ = parse_co_pdu(&g);
            }
        }
        assert!(parse_co_pdu(f).is_ok());
    }
}

// ---------------------------------------------------------------- CL

/// protocols.md §3.5: CL ept_lookup request, 120 bytes.
#[rustfmt::skip]
const CL_REQ_120: [u8; 120] = [
    0x04, 0x00, 0x20, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11,
    0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa, 0x10, 0xb8, 0xa7, 0x6b, 0xad, 0x9d, 0xd1, 0x41,
    0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
];

fn activity() -> Uuid {
    Uuid::from_bytes_le(CL_REQ_120[40..56].try_into().unwrap())
}

fn cl_packet(ptype: u8, flags1: u8, fragnum: u16, body: &[u8]) -> Vec<u8> {
    let mut hdr = ClHeader::parse(&CL_REQ_120).unwrap();
    hdr.ptype = ptype;
    hdr.flags1 = flags1;
    hdr.fragnum = fragnum;
    hdr.server_boot = 0x5eed;
    hdr.body_len = body.len() as u16;
    let mut out = Vec::new();
    hdr.emit(&mut out);
    out.extend_from_slice(body);
    out
}

#[test]
fn cl_request_matches_reference_bytes() {
    let call = ClCall::epm(activity(), 0, 0, 2);
    let pkt = emit_cl_request(&call, &CL_REQ_120[80..], cl_flags1::IDEMPOTENT).unwrap();
    assert_eq!(pkt, CL_REQ_120);
    let hdr = ClHeader::parse(&pkt).unwrap();
    assert_eq!(hdr.activity.to_string(), "6ba7b810-9dad-41d1-80b4-00c04fd430c8");
    let mut again = Vec::new();
    hdr.emit(&mut again);
    assert_eq!(again, pkt[..80]);
    assert!(matches!(parse_cl_pdu(&pkt).unwrap().body, ClBody::Request(b) if b.len() == 40));
    assert_eq!(emit_cl_request(&call, &[0; 70_000], 0), Err(RpcError::StubTooLarge(70_000)));
}

#[test]
fn cl_packet_kinds() {
    let p = cl_packet(cl_ptype::FAULT, 0, 0, &0x1c01_0002u32.to_le_bytes());
    assert_eq!(parse_cl_pdu(&p).unwrap().body, ClBody::Fault(0x1c01_0002));
    let p = cl_packet(cl_ptype::REJECT, 0, 0, &0x1c01_0003u32.to_le_bytes());
    assert_eq!(parse_cl_pdu(&p).unwrap().body, ClBody::Reject(0x1c01_0003));
    let p = cl_packet(cl_ptype::REJECT, 0, 0, &[1, 2]);
    assert!(parse_cl_pdu(&p).is_err());
    assert_eq!(parse_cl_pdu(&cl_packet(4, 0, 0, &[])).unwrap().body, ClBody::Working);
    assert_eq!(parse_cl_pdu(&cl_packet(5, 0, 0, &[])).unwrap().body, ClBody::Nocall(None));
    let p = cl_packet(cl_ptype::RESPONSE, cl_flags1::NOFACK, 0, b"stub");
    let pdu = parse_cl_pdu(&p).unwrap();
    assert_eq!(pdu.header.server_boot, 0x5eed);
    let ClBody::Response(r) = pdu.body else { panic!() };
    assert!(r.nofack && !r.frag && r.is_last());
    assert_eq!(r.body, b"stub");
    // Big-endian drep, wrong version, short packets.
    let mut be = p.clone();
    be[4] = 0;
    assert_eq!(parse_cl_pdu(&be), Err(RpcError::BigEndian));
    let mut v5 = p.clone();
    v5[0] = 5;
    assert!(matches!(parse_cl_pdu(&v5), Err(RpcError::BadVersion(5, _))));
    for n in 0..p.len() {
        assert!(parse_cl_pdu(&p[..n]).is_err());
    }
}

#[test]
fn fack_and_ack_bytes() {
    let resp = ClHeader::parse(&cl_packet(cl_ptype::RESPONSE, cl_flags1::FRAG, 3, &[])).unwrap();
    let body = FackBody {
        vers: 1,
        window_size: 8,
        max_tsdu: 4096,
        max_frag_size: 1024,
        serial_num: 3,
        selack_len: 0,
        selack: 0,
    };
    let f = emit_fack(&resp, 2, &body);
    let mut want = CL_REQ_120[..80].to_vec();
    want[1] = cl_ptype::FACK;
    want[2] = 0; // flags1
    want[56..60].copy_from_slice(&0x5eedu32.to_le_bytes());
    want[74..76].copy_from_slice(&20u16.to_le_bytes());
    want[76..78].copy_from_slice(&2u16.to_le_bytes());
    want.extend_from_slice(&[1, 0, 8, 0, 0x00, 0x10, 0, 0, 0x00, 0x04, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(f, want);
    let pdu = parse_cl_pdu(&f).unwrap();
    assert_eq!(pdu.body, ClBody::Fack(Some(body)));

    let a = emit_ack(&resp);
    let mut want = CL_REQ_120[..80].to_vec();
    want[1] = cl_ptype::ACK;
    want[2] = 0;
    want[56..60].copy_from_slice(&0x5eedu32.to_le_bytes());
    want[74..76].copy_from_slice(&0u16.to_le_bytes());
    want[76..78].copy_from_slice(&3u16.to_le_bytes());
    assert_eq!(a, want);
}

#[test]
fn cl_fragments_out_of_order() {
    let parts: [&[u8]; 3] = [b"first-", b"second-", b"third"];
    let pkts = [
        cl_packet(2, cl_flags1::FRAG, 0, parts[0]),
        cl_packet(2, cl_flags1::FRAG, 1, parts[1]),
        cl_packet(2, cl_flags1::FRAG | cl_flags1::LASTFRAG, 2, parts[2]),
    ];
    let mut r = ClReassembler::new(CL_DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_STUB);
    let mut push = |i: usize| {
        let pdu = parse_cl_pdu(&pkts[i]).unwrap();
        let ClBody::Response(resp) = pdu.body else { panic!() };
        r.push_response(&resp).unwrap()
    };
    assert_eq!(push(2), None);
    assert_eq!(push(0), None);
    assert_eq!(push(0), None); // retransmission ignored
    assert_eq!(push(1).as_deref(), Some(&b"first-second-third"[..]));

    let mut r = ClReassembler::new(CL_DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_STUB);
    r.push(2, true, b"c").unwrap();
    assert_eq!((r.fack_fragnum(), r.selack()), (u16::MAX, 0b100));
    r.push(0, false, b"a").unwrap();
    // Fragment 0 acknowledged; bit 1 = fragment 2 held beyond the gap at 1.
    assert_eq!((r.fack_fragnum(), r.selack()), (0, 0b10));
    assert_eq!(r.push(1, false, b"b"), Ok(Some(b"abc".to_vec())));
}

#[test]
fn cl_reassembler_bounds() {
    let mut r = ClReassembler::new(4, 10);
    assert_eq!(r.push(4, false, b""), Err(RpcError::TooManyFragments(4)));
    assert_eq!(r.push(0, false, &[0; 11]), Err(RpcError::TooLarge(10)));
    r.push(2, true, b"").unwrap();
    assert!(r.push(3, false, b"").is_err());
    assert!(r.push(1, true, b"").is_err());
    let mut r = ClReassembler::new(4, 10);
    r.push(3, false, b"").unwrap();
    assert!(r.push(1, true, b"").is_err());
    let mut r = ClReassembler::new(usize::MAX, 10);
    assert_eq!(r.push(u16::MAX, true, b"x"), Ok(None));
    assert_eq!(r.selack(), 0);
}

#[test]
fn conv_who_are_you2_round_trip() {
    // The callback: new activity, seq 0, conv interface v3, opnum 1, PF2_UNRELATED.
    let cb_activity = Uuid::from_u128(0x11112222_3333_4444_5555_666677778888);
    let mut body = activity().to_bytes_le().to_vec();
    body.extend_from_slice(&0x6000_0001u32.to_le_bytes());
    let hdr = ClHeader {
        ptype: cl_ptype::REQUEST,
        flags1: 0,
        flags2: cl_flags2::UNRELATED,
        serial: 0,
        object: Uuid::nil(),
        interface: CONV_UUID,
        activity: cb_activity,
        server_boot: 0,
        if_vers: 3,
        seq: 0,
        opnum: 1,
        ihint: 0xffff,
        ahint: 0xffff,
        body_len: 20,
        fragnum: 0,
        auth_proto: 0,
    };
    let mut pkt = Vec::new();
    hdr.emit(&mut pkt);
    pkt.extend_from_slice(&body);
    let pdu = parse_cl_pdu(&pkt).unwrap();
    let who = parse_conv_who_are_you2(&pdu).unwrap();
    assert_eq!(who.actuid, activity());
    assert_eq!(who.boot_time, 0x6000_0001);
    // Not a callback: our own EPM request.
    assert_eq!(parse_conv_who_are_you2(&parse_cl_pdu(&CL_REQ_120).unwrap()), None);

    let cas = Uuid::from_u128(0xaaaaaaaa_bbbb_cccc_dddd_eeeeeeeeeeee);
    let resp = emit_conv_who_are_you2_response(&pdu.header, 0, cas);
    let mut want = Vec::new();
    want.extend_from_slice(&[4, 2, 0, 0, 0x10, 0, 0, 0]);
    want.extend_from_slice(&[0; 16]);
    want.extend_from_slice(&[
        0x76, 0x22, 0x3a, 0x33, 0, 0, 0, 0, 0x0d, 0x00, 0x00, 0x80, 0x9c, 0x00, 0x00, 0x00,
    ]);
    want.extend_from_slice(&[
        0x22, 0x22, 0x11, 0x11, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x66, 0x66, 0x77, 0x77, 0x88, 0x88,
    ]);
    want.extend_from_slice(&[0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff]);
    want.extend_from_slice(&[0xff, 0xff, 24, 0, 0, 0, 0, 0]);
    want.extend_from_slice(&[0, 0, 0, 0]);
    want.extend_from_slice(&[
        0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xcc, 0xcc, 0xdd, 0xdd, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
    ]);
    want.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(resp, want);
    let back = parse_cl_pdu(&resp).unwrap();
    assert_eq!(back.header.activity, cb_activity);
    assert!(matches!(back.body, ClBody::Response(r) if r.body.len() == 24));
}
