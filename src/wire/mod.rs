//! Wire formats: pure bytes, no I/O, no printing. One module per format, each
//! with its field offsets named once and `parse` / `emit` pairs, tested from
//! literal byte arrays (the smoltcp `wire` layout). Whether a reply is *ours*
//! (transaction IDs, SPIs, call IDs) is the conversation's business, in
//! [`crate::query`].

pub mod ber;
pub mod bytes;
pub mod dcerpc;
pub mod dns;
pub mod epm;
pub mod ike;
pub mod kerberos;
pub mod l2tp;
pub mod ldap;
pub mod nbdgm;
pub mod netbios;
pub mod ntp;
pub mod rdp;
pub mod smb2;
pub mod snmp;
pub mod ssrp;
pub mod tftp;

/// Any wire format's error, each wrapped unchanged: the text is the format's own, so a
/// report reads the same whichever type carried it. Conversions come from `?` (`From`).
///
/// The endpoint mapper (`epm`) shares [`dcerpc::RpcError`], so it has no variant of its own.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Dns(#[from] dns::ParseError),
    #[error(transparent)]
    Netbios(#[from] netbios::ParseError),
    #[error(transparent)]
    Ber(#[from] ber::BerError),
    #[error(transparent)]
    Ldap(#[from] ldap::LdapError),
    #[error(transparent)]
    Nbdgm(#[from] nbdgm::NbdgmError),
    #[error(transparent)]
    Snmp(#[from] snmp::SnmpError),
    #[error(transparent)]
    Tftp(#[from] tftp::TftpError),
    #[error(transparent)]
    L2tp(#[from] l2tp::L2tpError),
    #[error(transparent)]
    Ssrp(#[from] ssrp::SsrpError),
    #[error(transparent)]
    Ike(#[from] ike::IkeError),
    #[error(transparent)]
    Smb2(#[from] smb2::Smb2Error),
    #[error(transparent)]
    Rdp(#[from] rdp::RdpError),
    #[error(transparent)]
    Rpc(#[from] dcerpc::RpcError),
    #[error(transparent)]
    Ntp(#[from] ntp::NtpError),
    #[error(transparent)]
    Kerberos(#[from] kerberos::KerberosError),
    #[error(transparent)]
    Truncated(#[from] bytes::Truncated),
}

/// A deterministic pseudo-random generator (xorshift64) for the parsers' unit tests.
#[cfg(test)]
pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// Cheap deterministic fuzzing for the parsers' unit tests: `rounds` copies of the
/// seeds (in turn), each with one to four bytes flipped, dropped or inserted by a
/// xorshift generator, handed to `check`, which must not panic.
#[cfg(test)]
pub(crate) fn mutate_each(seeds: &[Vec<u8>], rounds: usize, mut check: impl FnMut(&[u8])) {
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    for round in 0..rounds {
        let mut buf = seeds[round % seeds.len()].clone();
        for _ in 0..1 + next() % 4 {
            let pos = (next() as usize) % buf.len().max(1);
            match next() % 3 {
                0 if !buf.is_empty() => buf[pos] = next() as u8,
                1 if !buf.is_empty() => {
                    buf.remove(pos);
                }
                _ => buf.insert(pos.min(buf.len()), next() as u8),
            }
        }
        check(&buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each format's error converts with `?` and reads exactly as before.
    #[test]
    fn wire_error_wraps_each_format_unchanged() {
        fn wrap<E>(e: E) -> Result<(), WireError>
        where
            WireError: From<E>,
        {
            Err(e)?;
            Ok(())
        }
        fn check<E: std::error::Error>(e: E, variant: fn(&WireError) -> bool)
        where
            WireError: From<E>,
        {
            let text = e.to_string();
            let wrapped = wrap(e).unwrap_err();
            assert!(variant(&wrapped), "{wrapped:?}");
            assert_eq!(wrapped.to_string(), text);
        }
        check(dns::ParseError::Truncated, |w| matches!(w, WireError::Dns(dns::ParseError::Truncated)));
        check(netbios::ParseError::NameTableTruncated, |w| {
            matches!(w, WireError::Netbios(netbios::ParseError::NameTableTruncated))
        });
        let ber = ber::BerError::Truncated { needed: 5, available: 4 };
        check(ber, |w| matches!(w, WireError::Ber(ber::BerError::Truncated { needed: 5, available: 4 })));
        check(ldap::LdapError::Ber(ber), |w| matches!(w, WireError::Ldap(ldap::LdapError::Ber(_))));
        check(snmp::SnmpError::Version(7), |w| matches!(w, WireError::Snmp(snmp::SnmpError::Version(7))));
        check(tftp::TftpError::Truncated("opcode"), |w| {
            matches!(w, WireError::Tftp(tftp::TftpError::Truncated(_)))
        });
        check(l2tp::L2tpError::Truncated("header"), |w| {
            matches!(w, WireError::L2tp(l2tp::L2tpError::Truncated(_)))
        });
        check(ssrp::SsrpError::Truncated, |w| matches!(w, WireError::Ssrp(ssrp::SsrpError::Truncated)));
        check(ike::IkeError::Truncated, |w| matches!(w, WireError::Ike(ike::IkeError::Truncated)));
        check(dcerpc::RpcError::TruncatedEntry(3), |w| {
            matches!(w, WireError::Rpc(dcerpc::RpcError::TruncatedEntry(3)))
        });
        check(ntp::NtpError::Short(3), |w| matches!(w, WireError::Ntp(ntp::NtpError::Short(3))));
        check(kerberos::KerberosError::Pvno(4), |w| {
            matches!(w, WireError::Kerberos(kerberos::KerberosError::Pvno(4)))
        });
        let t = bytes::Truncated { offset: 1, needed: 2, available: 0 };
        check(t, |w| matches!(w, WireError::Truncated(_)));

        // The texts users see, spelled out once.
        let texts = [
            (WireError::from(dns::ParseError::Truncated), "truncated DNS message"),
            (netbios::ParseError::Truncated.into(), "truncated NetBIOS packet"),
            (tftp::TftpError::Truncated("opcode").into(), "TFTP opcode truncated"),
            (dcerpc::RpcError::Truncated("RPC header").into(), "RPC header truncated"),
            (dcerpc::RpcError::TruncatedEntry(3).into(), "endpoint mapper reply truncated in entry 3"),
            (snmp::SnmpError::Version(7).into(), "unknown SNMP version number 7"),
        ];
        for (e, want) in texts {
            assert_eq!(e.to_string(), want);
        }
    }
}
