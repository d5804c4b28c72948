//! NTP on UDP 123: one client-mode (3) version-4 request, whose server-mode reply
//! gives the stratum, reference, leap indicator, the server's time, and the offset
//! and round-trip delay of this machine's clock against it (RFC 5905 §8).
//!
//! The transmit timestamp we send is random (it reveals nothing about our clock, as
//! chrony's client does); the reply is ours when its origin timestamp echoes it. The
//! offset needs our own send time, so each try sends a fresh request and `udp` keeps
//! its send and receive times (the default runner would resend the first one).

use super::{Answer, Block, Ctx, Line, Outcome, Query, Request, Route, Sink, exchange};
use crate::error::Error;
use crate::probe::{Evidence, Observation, State, udp};
use crate::wire::ntp;
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug)]
pub struct Ntp;

/// A random transmit timestamp, never zero (a zero origin means "none" to a server).
fn random_timestamp() -> u64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]).max(1)
}

fn unix(t: SystemTime) -> f64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

impl Ntp {
    /// Check and read a reply to `req` sent at `t1`, received at `t4`.
    fn answer_at(
        &self,
        req: &Request,
        reply: &[u8],
        t1: SystemTime,
        t4: SystemTime,
    ) -> Result<NtpAnswer, String> {
        let p = ntp::parse(reply).map_err(|e| e.to_string())?;
        if p.origin != req.token {
            return Err(format!(
                "not a reply to our request (origin timestamp {:016x}, we sent {:016x})",
                p.origin, req.token
            ));
        }
        if p.mode != ntp::MODE_SERVER {
            return Err(format!("NTP mode {} (expected 4, server)", p.mode));
        }
        Ok(NtpAnswer::new(&p, unix(t1), unix(t4)))
    }
}

impl Query for Ntp {
    fn id(&self) -> &'static str {
        "ntp"
    }
    fn label(&self) -> &'static str {
        "NTP"
    }
    fn route(&self) -> Route {
        Route { services: &["ntp"], ports: &[123], transports: super::UDP }
    }
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        let token = random_timestamp();
        Request { bytes: ntp::emit_client_request(token), token }
    }
    fn answer(&self, _ctx: &Ctx, req: &Request, reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        // Without the send time (a caller other than `udp`): the offset is against now.
        let now = SystemTime::now();
        self.answer_at(req, reply, now, now).map(|a| Arc::new(a) as Arc<dyn Answer>)
    }
    fn udp(&self, ctx: &Ctx, sink: &mut dyn Sink) -> Result<Outcome, Error> {
        exchange::say_ephemeral(self, ctx, sink);
        sink.show(self.announce(ctx));
        let addr = ctx.target.socket_addr(ctx.port);
        let opts = exchange::udp_options(self, ctx);
        let once = udp::UdpOptions { tries: 1, ..opts };
        let mut outcome = Outcome::new(self.id(), State::Filtered);
        for attempt in 1..=opts.tries.max(1) {
            let req = self.request(ctx, false);
            let t1 = SystemTime::now();
            let p = udp::exchange(addr, &req.bytes, &once)?;
            let t4 = SystemTime::now();
            outcome.observation = Some(Observation { tries: attempt, ..p.observation.clone() });
            if let Some(reply) = &p.reply {
                let parsed = self.answer_at(&req, reply, t1, t4).map(|a| Arc::new(a) as Arc<dyn Answer>);
                exchange::settle(self.label(), &mut outcome, reply, parsed);
                return Ok(outcome);
            }
            if p.observation.evidence != Evidence::Silence {
                break;
            }
        }
        if let Some(o) = &outcome.observation {
            outcome.state = exchange::udp_state(&o.evidence, ctx.target.addr);
        }
        Ok(outcome)
    }
}

/// What the server said, and this machine's clock against it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NtpAnswer {
    pub version: u8,
    pub stratum: u8,
    /// A stratum-0 reply: a Kiss-o'-Death whose reference ID is the kiss code.
    pub kiss_of_death: bool,
    pub kiss_code: Option<String>,
    /// Reference ID: a 4-letter code (stratum 0-1) or an IPv4 address.
    pub reference_id: String,
    /// Leap indicator (0-3) and its meaning.
    pub leap: u8,
    pub leap_text: &'static str,
    pub precision_log2: i8,
    pub root_delay_seconds: f64,
    pub root_dispersion_seconds: f64,
    /// Server transmit time in UTC.
    pub server_time: Option<String>,
    /// Server minus this machine ((t2-t1)+(t3-t4))/2, and (t4-t1)-(t3-t2), in seconds.
    pub offset_seconds: f64,
    pub delay_seconds: f64,
}

fn leap_text(li: u8) -> &'static str {
    match li {
        0 => "no warning",
        1 => "last minute of the day has 61 seconds",
        2 => "last minute of the day has 59 seconds",
        _ => "unsynchronized",
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

impl NtpAnswer {
    fn new(p: &ntp::Packet, t1: f64, t4: f64) -> Self {
        let (t2, t3) = (ntp::to_unix(p.receive), ntp::to_unix(p.transmit));
        let (offset, delay) = ntp::offset_delay(t1, t2, t3, t4);
        let kod = p.stratum == ntp::STRATUM_KOD;
        let reference = ntp::reference_text(p.stratum, p.reference_id);
        NtpAnswer {
            version: p.version,
            stratum: p.stratum,
            kiss_of_death: kod,
            kiss_code: kod.then(|| reference.clone()),
            reference_id: reference,
            leap: p.leap,
            leap_text: leap_text(p.leap),
            precision_log2: p.precision,
            root_delay_seconds: round6(ntp::short_to_secs(p.root_delay)),
            root_dispersion_seconds: round6(ntp::short_to_secs(p.root_dispersion)),
            server_time: ntp::to_system_time(p.transmit).filter(|_| p.transmit != 0).map(|t| {
                chrono::DateTime::<chrono::Utc>::from(t).format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string()
            }),
            offset_seconds: round6(offset),
            delay_seconds: round6(delay),
        }
    }
}

impl Answer for NtpAnswer {
    fn block(&self) -> Block {
        let mut lines = Vec::new();
        if self.kiss_of_death {
            let code = self.kiss_code.as_deref().unwrap_or("");
            lines.push(format!("Kiss-o'-Death: {code} (the server refuses to serve us; RATE = slow down, DENY/RSTR = access denied)"));
        }
        let stratum = match self.stratum {
            0 => "unspecified",
            1 => "primary reference",
            2..=15 => "secondary",
            16 => "unsynchronized",
            _ => "reserved",
        };
        lines.push(format!("NTP version {} server, stratum {} ({stratum})", self.version, self.stratum));
        lines.push(format!("Reference ID: {}", self.reference_id));
        lines.push(format!("Leap indicator: {} ({})", self.leap, self.leap_text));
        if let Some(t) = &self.server_time {
            lines.push(format!("Server time: {t}"));
        }
        if !self.kiss_of_death {
            lines.push(format!(
                "Offset: {:+.6} s (server minus this machine), round-trip delay {:.6} s",
                self.offset_seconds, self.delay_seconds
            ));
        }
        lines.push(format!(
            "Root delay {:.6} s, root dispersion {:.6} s",
            self.root_delay_seconds, self.root_dispersion_seconds
        ));
        // A blank line after the block, as every answer ends.
        lines.push(String::new());
        lines.into_iter().map(Line::Plain).collect()
    }
    fn json(&self) -> serde_json::Value {
        super::to_json(self)
    }
    fn proof(&self) -> Option<String> {
        Some("an NTP server-mode reply echoing our random transmit timestamp as its origin timestamp".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ntp::tests::CHRONY_REPLY;

    #[test]
    fn reply_is_ours_only_when_it_echoes_our_timestamp() {
        let req =
            Request { bytes: ntp::emit_client_request(0x2207_68f6_b0c9_b93e), token: 0x2207_68f6_b0c9_b93e };
        // t1 and t4 as this machine saw them: 50 µs before the server's receive time and
        // 60 µs after its transmit time, so the offset is -5 µs and the delay 110 µs.
        let p = ntp::parse(&CHRONY_REPLY).unwrap();
        let t = |ts: u64, us: f64| {
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs_f64(ntp::to_unix(ts) + us / 1e6)
        };
        let a = Ntp.answer_at(&req, &CHRONY_REPLY, t(p.receive, -50.0), t(p.transmit, 60.0)).unwrap();
        assert_eq!(
            (a.stratum, a.reference_id.as_str(), a.leap, a.kiss_of_death),
            (10, "127.127.1.1", 0, false)
        );
        assert!((a.offset_seconds + 0.000_005).abs() < 2e-6, "{}", a.offset_seconds);
        assert!((a.delay_seconds - 0.000_110).abs() < 2e-6, "{}", a.delay_seconds);
        assert_eq!(a.server_time.as_deref(), Some("2026-12-01 04:18:14.408474 UTC"));
        let block = a.block();
        assert_eq!(block[0], Line::Plain("NTP version 4 server, stratum 10 (secondary)".into()));
        assert_eq!(block.last(), Some(&Line::Plain(String::new())));
        let other = Request { bytes: Vec::new(), token: 1 };
        let e = Ntp.answer_at(&other, &CHRONY_REPLY, SystemTime::now(), SystemTime::now()).unwrap_err();
        assert!(e.starts_with("not a reply to our request (origin timestamp 220768f6b0c9b93e"), "{e}");
    }

    #[test]
    fn kiss_o_death_is_shown_as_such() {
        let mut kod = CHRONY_REPLY;
        kod[1] = 0;
        kod[12..16].copy_from_slice(b"RATE");
        let req = Request { bytes: Vec::new(), token: 0x2207_68f6_b0c9_b93e };
        let a = Ntp.answer_at(&req, &kod, SystemTime::now(), SystemTime::now()).unwrap();
        assert!(a.kiss_of_death);
        assert_eq!(a.kiss_code.as_deref(), Some("RATE"));
        assert!(matches!(&a.block()[0], Line::Plain(t) if t.starts_with("Kiss-o'-Death: RATE")));
        assert_eq!(a.json()["kiss_code"], "RATE");
        // A client-mode packet echoed back is not a server's reply.
        let mut client = CHRONY_REPLY;
        client[0] = 0x23;
        assert_eq!(
            Ntp.answer_at(&req, &client, SystemTime::now(), SystemTime::now()).unwrap_err(),
            "NTP mode 3 (expected 4, server)"
        );
    }
}
