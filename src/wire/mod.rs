//! Wire formats: pure bytes, no I/O, no printing. One module per format, each
//! with its field offsets named once and `parse` / `emit` pairs, tested from
//! literal byte arrays (the smoltcp `wire` layout). Whether a reply is *ours*
//! (transaction IDs, SPIs, call IDs) is the conversation's business, in
//! [`crate::protocols`].

pub mod ber;
pub mod dcerpc;
pub mod dns;
pub mod epm;
pub mod ike;
pub mod l2tp;
pub mod ldap;
pub mod netbios;
pub mod snmp;
pub mod ssrp;
pub mod tftp;

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
