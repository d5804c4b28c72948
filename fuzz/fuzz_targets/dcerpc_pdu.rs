#![no_main]

// Arbitrary bytes as DCE/RPC PDUs, connection-oriented and connectionless, and as a
// stream of CO frames / a run of CL datagrams through the reassemblers. Everything
// must end in Ok or a clean Err: no panic, no unbounded loop or allocation.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use portqry::wire::dcerpc::{self, ClBody, ClReassembler, CoReassembler};

    // One PDU of each family.
    let _ = dcerpc::parse_co_pdu(data);
    let _ = dcerpc::parse_bind_ack(data);
    if let Ok(pdu) = dcerpc::parse_cl_pdu(data)
        && let Some(cb) = dcerpc::parse_conv_who_are_you2(&pdu)
    {
        let _ = dcerpc::emit_conv_who_are_you2_response(&pdu.header, 0, cb.actuid);
    }

    // The bytes as a TCP stream of CO frames.
    let mut co = CoReassembler::new(64 * 1024);
    let mut rest = data;
    while let Some(n) = dcerpc::co_frame_len(rest) {
        let Some((frame, tail)) = rest.split_at_checked(n) else {
            break;
        };
        rest = tail;
        match co.push(frame) {
            Ok(Some(_)) | Err(_) => break,
            Ok(None) => {}
        }
    }

    // The bytes as CL datagrams, split at a length prefix byte.
    let mut cl = ClReassembler::new(64, 64 * 1024);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len).saturating_add(80).min(tail.len());
        let (dgram, tail) = tail.split_at(take);
        rest = tail;
        if let Ok(pdu) = dcerpc::parse_cl_pdu(dgram)
            && let ClBody::Response(r) = pdu.body
        {
            let _ = cl.selack();
            if !matches!(cl.push_response(&r), Ok(None)) {
                break;
            }
        }
    }
});
