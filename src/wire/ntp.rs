//! NTP (RFC 5905) packet header: the 48-byte client request and its server reply.
//!
//! Only the fixed header is read: extension fields and the MAC (NTS, symmetric keys)
//! that may follow are ignored. Whether a reply answers *our* request (its origin
//! timestamp echoes our transmit timestamp) is the query's business.
//!
//! Timestamps stay in the NTP 64-bit format (seconds since 1900 in the high 32 bits,
//! fraction in the low 32); [`to_unix`] and [`from_unix`] convert, reading era 1
//! (after 2036-02-07) for second values below 2^31.

use crate::wire::bytes::{Reader, Truncated, put_u32_be};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Size of the header without extension fields or MAC.
pub const HEADER_LEN: usize = 48;
/// Protocol version we send.
pub const VERSION: u8 = 4;
/// Association modes (RFC 5905 §7.3).
pub const MODE_CLIENT: u8 = 3;
pub const MODE_SERVER: u8 = 4;
pub const MODE_BROADCAST: u8 = 5;
/// Stratum 0 in a reply: "unspecified or invalid", a Kiss-o'-Death packet whose
/// reference ID is a four-letter kiss code (RFC 5905 §7.4).
pub const STRATUM_KOD: u8 = 0;
/// Strata above 15 mean "unsynchronized" (16) or reserved.
pub const STRATUM_UNSYNC: u8 = 16;

// Field offsets in the header.
const LI_VN_MODE: usize = 0;
const ORIGIN: usize = 24;
const TRANSMIT: usize = 40;

/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const UNIX_OFFSET: u64 = 2_208_988_800;

/// Why a datagram is not an NTP header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtpError {
    #[error("NTP packet of {0} bytes is shorter than the 48-byte header")]
    Short(usize),
    #[error("NTP version {0} is not 1 to 4")]
    Version(u8),
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// The header fields of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Leap indicator: 0 none, 1 last minute has 61 s, 2 has 59 s, 3 unsynchronized.
    pub leap: u8,
    pub version: u8,
    pub mode: u8,
    pub stratum: u8,
    /// log2 seconds.
    pub poll: i8,
    /// log2 seconds.
    pub precision: i8,
    /// NTP short format (16.16 seconds).
    pub root_delay: u32,
    pub root_dispersion: u32,
    pub reference_id: [u8; 4],
    pub reference: u64,
    pub origin: u64,
    pub receive: u64,
    pub transmit: u64,
}

/// A client-mode (3), version 4 request carrying `transmit` as its transmit
/// timestamp and zeros elsewhere (RFC 5905 §7.3; what `sntp` and chrony send,
/// minus the origin/receive fields a client need not fill).
pub fn emit_client_request(transmit: u64) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_LEN];
    out[LI_VN_MODE] = (VERSION << 3) | MODE_CLIENT;
    out[TRANSMIT..TRANSMIT + 8].copy_from_slice(&transmit.to_be_bytes());
    out
}

/// Read the 48-byte header (anything after it is ignored).
pub fn parse(buf: &[u8]) -> Result<Packet, NtpError> {
    if buf.len() < HEADER_LEN {
        return Err(NtpError::Short(buf.len()));
    }
    let mut r = Reader::new(buf);
    let first = r.u8()?;
    let version = (first >> 3) & 0x07;
    if !(1..=4).contains(&version) {
        return Err(NtpError::Version(version));
    }
    let stratum = r.u8()?;
    let poll = r.u8()? as i8;
    let precision = r.u8()? as i8;
    let root_delay = r.u32_be()?;
    let root_dispersion = r.u32_be()?;
    let reference_id = r.array::<4>()?;
    let reference = r.u64_be()?;
    debug_assert_eq!(r.position(), ORIGIN);
    let origin = r.u64_be()?;
    let receive = r.u64_be()?;
    let transmit = r.u64_be()?;
    Ok(Packet {
        leap: first >> 6,
        version,
        mode: first & 0x07,
        stratum,
        poll,
        precision,
        root_delay,
        root_dispersion,
        reference_id,
        reference,
        origin,
        receive,
        transmit,
    })
}

/// The NTP timestamp of a wall-clock time (era 0 or 1 by date).
pub fn from_unix(t: SystemTime) -> u64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs().wrapping_add(UNIX_OFFSET) & 0xffff_ffff;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// Seconds since the Unix epoch of an NTP timestamp (fractional; negative before
/// 1970). Second values below 2^31 are read as era 1 (2036-2104).
pub fn to_unix(ts: u64) -> f64 {
    let mut secs = ts >> 32;
    if secs < 0x8000_0000 {
        secs += 1 << 32;
    }
    let frac = (ts & 0xffff_ffff) as f64 / 4_294_967_296.0;
    secs as f64 - UNIX_OFFSET as f64 + frac
}

/// The wall-clock time of an NTP timestamp (`None` before 1970).
pub fn to_system_time(ts: u64) -> Option<SystemTime> {
    let s = to_unix(ts);
    (s >= 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(s))
}

/// NTP short format (root delay, dispersion) in seconds.
pub fn short_to_secs(v: u32) -> f64 {
    f64::from(v) / 65_536.0
}

/// The reference ID as people read it: a four-letter code for stratum 0 (kiss
/// code) and 1 (reference clock: "GPS", "LOCL"...), else the IPv4 address of the
/// server's source (for IPv6 sources it is a hash, shown the same way).
pub fn reference_text(stratum: u8, id: [u8; 4]) -> String {
    if stratum <= 1 {
        let code: String = id
            .iter()
            .take_while(|b| **b != 0)
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
            .collect();
        return code;
    }
    std::net::Ipv4Addr::from(id).to_string()
}

/// Offset and round-trip delay (RFC 5905 §8) from the four timestamps, in seconds:
/// t1 our send, t2 server receive, t3 server transmit, t4 our receive (Unix seconds).
pub fn offset_delay(t1: f64, t2: f64, t3: f64, t4: f64) -> (f64, f64) {
    (((t2 - t1) + (t3 - t4)) / 2.0, (t4 - t1) - (t3 - t2))
}

/// Write a u64 timestamp (for tests and fixtures).
pub fn put_timestamp(out: &mut Vec<u8>, ts: u64) {
    put_u32_be(out, (ts >> 32) as u32);
    put_u32_be(out, ts as u32);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Our request as sent (transmit timestamp 220768f6b0c9b93e) and chronyd 4.3's
    /// reply (`local stratum 10`, reference 127.127.1.1), captured from
    /// `tests/servers/ensure.sh ntp`.
    const REQUEST: [u8; 48] = [
        0x23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0x22, 0x07, 0x68, 0xf6, 0xb0, 0xc9, 0xb9, 0x3e,
    ];
    pub(crate) const CHRONY_REPLY: [u8; 48] = [
        0x24, 0x0a, 0x00, 0xe6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7f, 0x7f, 0x01, 0x01, 0xee,
        0xb8, 0xc9, 0x05, 0x3a, 0x98, 0x02, 0xa6, 0x22, 0x07, 0x68, 0xf6, 0xb0, 0xc9, 0xb9, 0x3e, 0xee, 0xb8,
        0xc9, 0x06, 0x68, 0x8c, 0x0f, 0x59, 0xee, 0xb8, 0xc9, 0x06, 0x68, 0x91, 0xcb, 0xd8,
    ];

    #[test]
    fn emits_the_captured_request() {
        assert_eq!(emit_client_request(0x2207_68f6_b0c9_b93e), REQUEST);
        // What the server reads back from it.
        let p = parse(&REQUEST).unwrap();
        assert_eq!((p.version, p.mode, p.leap, p.transmit), (4, MODE_CLIENT, 0, 0x2207_68f6_b0c9_b93e));
    }

    #[test]
    fn parses_chrony_reply() {
        let p = parse(&CHRONY_REPLY).unwrap();
        assert_eq!((p.leap, p.version, p.mode, p.stratum), (0, 4, MODE_SERVER, 10));
        assert_eq!((p.poll, p.precision), (0, -26));
        assert_eq!(p.reference_id, [127, 127, 1, 1]);
        assert_eq!(reference_text(p.stratum, p.reference_id), "127.127.1.1");
        assert_eq!(p.origin, 0x2207_68f6_b0c9_b93e, "origin echoes our transmit timestamp");
        assert_eq!(p.receive, 0xeeb8_c906_688c_0f59);
        assert_eq!(p.transmit, 0xeeb8_c906_6891_cbd8);
        // 0xeeb8c906 = 2026-12-01 04:18:14 UTC.
        let t = to_unix(p.transmit);
        assert!((t - 1_796_098_694.408).abs() < 0.001, "{t}");
        // The server took about 88 µs between receive and transmit.
        assert!((to_unix(p.transmit) - to_unix(p.receive) - 0.000_087_5).abs() < 0.000_01);
    }

    #[test]
    fn kiss_codes_and_clock_names() {
        assert_eq!(reference_text(0, *b"RATE"), "RATE");
        assert_eq!(reference_text(1, *b"GPS\0"), "GPS");
        assert_eq!(reference_text(1, [b'L', 0x01, 0, 0]), "L?");
        assert_eq!(reference_text(2, [192, 0, 2, 1]), "192.0.2.1");
    }

    #[test]
    fn timestamps_round_trip_across_eras() {
        let t = UNIX_EPOCH + Duration::from_millis(1_796_098_694_408);
        let ts = from_unix(t);
        assert_eq!(ts >> 32, 0xeeb8_c906);
        assert!((to_unix(ts) - 1_796_098_694.408).abs() < 1e-6);
        // 2040 lies in era 1: seconds wrap past 2^32 and read back right.
        let later = UNIX_EPOCH + Duration::from_secs(2_208_988_800);
        let ts = from_unix(later);
        assert!(ts >> 32 < 0x8000_0000);
        assert_eq!(to_unix(ts), 2_208_988_800.0);
        assert_eq!(to_system_time(ts), Some(later));
        assert_eq!(short_to_secs(0x0001_8000), 1.5);
    }

    #[test]
    fn offset_and_delay() {
        // Server 10 s ahead, 0.1 s each way, 0.01 s inside the server.
        let (o, d) = offset_delay(100.0, 110.1, 110.11, 100.21);
        assert!((o - 10.0).abs() < 1e-9 && (d - 0.2).abs() < 1e-9, "{o} {d}");
    }

    #[test]
    fn refuses_short_and_bad_versions() {
        assert_eq!(parse(&CHRONY_REPLY[..47]), Err(NtpError::Short(47)));
        let mut v0 = CHRONY_REPLY;
        v0[0] = 0x04;
        assert_eq!(parse(&v0), Err(NtpError::Version(0)));
        // Extension fields after the header are ignored.
        let mut long = CHRONY_REPLY.to_vec();
        long.extend_from_slice(&[0; 20]);
        assert_eq!(parse(&long).unwrap().stratum, 10);
        let mut out = Vec::new();
        put_timestamp(&mut out, 0x0102_0304_0506_0708);
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn mutated_replies_never_panic() {
        crate::wire::mutate_each(&[CHRONY_REPLY.to_vec()], 2000, |b| {
            if let Ok(p) = parse(b) {
                let _ = (reference_text(p.stratum, p.reference_id), to_system_time(p.transmit));
            }
        });
    }
}
