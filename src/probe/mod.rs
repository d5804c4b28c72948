//! Probing a port and deciding its state from evidence.
//!
//! Every verdict comes from one [`Evidence`] value through [`decide`], a pure
//! function that is the state decision table of the README. The socket code in
//! [`tcp`] and [`udp`] only gathers evidence; it never chooses a state itself.

pub mod engine;
pub mod pace;
pub mod tcp;
pub mod udp;

use crate::platform::IcmpReport;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Why a result needed more than the first round of probes: the target
/// rate-limits its refusals (TCP RSTs, ICMP port-unreachables), so silence in
/// a fast round proved nothing ([`pace`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Note {
    /// Decided by a probe paced at the target's measured refusal rate
    /// (refusals a second, once measured).
    Paced(Option<f64>),
    /// Silent on every try, each proven: the target refused another port
    /// microseconds later, so it had refusals to spare.
    Verified(Option<f64>),
    /// Silent, but not proven: `--udp-fast`, or the target stopped refusing.
    Unverified(Transport),
}

impl Note {
    /// The words after the verdict on the status line, if any: only an
    /// unverified result changes what a script reads there.
    pub fn status_flag(self) -> Option<&'static str> {
        match self {
            Note::Unverified(Transport::Udp) => Some("ICMP rate-limited, not verified"),
            Note::Unverified(Transport::Tcp) => Some("RST rate-limited, not verified"),
            _ => None,
        }
    }

    /// The measured refusal rate, if known.
    pub fn rate(self) -> Option<f64> {
        match self {
            Note::Paced(r) | Note::Verified(r) => r,
            Note::Unverified(_) => None,
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let paced = |f: &mut fmt::Formatter<'_>, r: Option<f64>| match r {
            Some(r) => {
                write!(f, "refusals limited to about {}/s by the target; re-probed at that pace", round2(r))
            }
            None => f.write_str("other ports were refused meanwhile; re-probed in paced groups"),
        };
        match *self {
            Note::Paced(r) => paced(f, r),
            Note::Verified(r) => {
                paced(f, r)?;
                f.write_str(", silent while the target refused another port")
            }
            Note::Unverified(_) => f.write_str(self.status_flag().unwrap_or("not verified")),
        }
    }
}

/// Two significant digits: a measured rate is an estimate.
fn round2(r: f64) -> f64 {
    if r <= 0.0 || !r.is_finite() {
        return 0.0;
    }
    // Scale by an exact power of ten (10^k for k ≥ 0 is exact in f64):
    // `powi` with a negative exponent is not exact on every target (the
    // Windows GNU build gave 9999.999999999998 for 10,432).
    let exp = 1 - r.log10().floor() as i32;
    let scale = 10f64.powi(exp.abs());
    if exp >= 0 { (r * scale).round() / scale } else { (r / scale).round() * scale }
}

/// Transport protocol of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        })
    }
}

/// PortQry's port states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Something answered on the port.
    Listening,
    /// The target's own stack refused the port (TCP RST, ICMP port unreachable from the target).
    NotListening,
    /// Something in the path blocked or rejected the probe, or nothing answered a TCP SYN.
    Filtered,
    /// UDP silence: an open port that ignores the datagram, or a filter that drops it.
    ListeningOrFiltered,
}

impl State {
    /// The exact words PortQry prints after the colon.
    pub fn portqry_text(self) -> &'static str {
        match self {
            State::Listening => "LISTENING",
            State::NotListening => "NOT LISTENING",
            State::Filtered => "FILTERED",
            State::ListeningOrFiltered => "LISTENING or FILTERED",
        }
    }

    /// PortQry's errorlevel for this state: 0 listening, 1 not listening, 2 otherwise.
    pub fn exit_code(self) -> i32 {
        match self {
            State::Listening => 0,
            State::NotListening => 1,
            State::Filtered | State::ListeningOrFiltered => 2,
        }
    }
}

/// What was observed on the wire (or reported by the OS) for one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// The TCP three-way handshake completed: the target sent a SYN-ACK.
    Connected,
    /// The TCP connection was refused with a RST and no ICMP error was queued.
    Reset,
    /// A UDP datagram came back from the target's address and port.
    Reply { bytes: usize },
    /// An ICMP error matched to our probe, with its sender.
    Icmp(IcmpReport),
    /// The OS said "refused" but cannot say who sent it (non-Linux UDP).
    Refused,
    /// The OS reported an unreachable error without ICMP details
    /// (for example no route in the local routing table).
    Unreachable { error: String },
    /// The target is on this machine's link and never answered ARP / neighbour
    /// discovery: the probe never left. `reporter` is this machine's own
    /// address (the ICMP host-unreachable came from the local stack), or
    /// `None` when the neighbour table said so.
    NoNeighbour { reporter: Option<IpAddr> },
    /// Nothing came back before the deadline of every try.
    Silence,
}

/// One probe's outcome: the evidence plus how it was obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    pub evidence: Evidence,
    /// Tries sent before the evidence arrived (or in all, for silence).
    pub tries: u32,
    /// Time from the last try's send to the evidence; `None` for silence.
    #[serde(serialize_with = "ser_ms")]
    pub rtt: Option<Duration>,
    /// Per-try wait used.
    #[serde(skip)]
    pub wait: Duration,
}

fn ser_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&(d.as_secs_f64() * 1000.0)),
        None => s.serialize_none(),
    }
}

/// What an ICMP (v4 or v6) type/code means for a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpMeaning {
    PortUnreachable,
    NetUnreachable,
    HostUnreachable,
    ProtocolUnreachable,
    /// Administratively prohibited (v4 codes 9, 10, 13; v6 codes 1, 5, 6).
    Prohibited,
    TimeExceeded,
    Other,
}

/// Classify an ICMP type/code pair (RFC 792, RFC 1812, RFC 4443).
pub fn icmp_meaning(r: &IcmpReport) -> IcmpMeaning {
    use IcmpMeaning::*;
    if r.v6 {
        match (r.icmp_type, r.code) {
            (1, 4) => PortUnreachable,
            (1, 0) => NetUnreachable,
            (1, 3) => HostUnreachable,
            (1, 1) | (1, 5) | (1, 6) => Prohibited,
            (3, _) => TimeExceeded,
            _ => Other,
        }
    } else {
        match (r.icmp_type, r.code) {
            (3, 3) => PortUnreachable,
            (3, 0) | (3, 6) | (3, 11) => NetUnreachable,
            (3, 1) | (3, 7) | (3, 8) | (3, 12) => HostUnreachable,
            (3, 2) => ProtocolUnreachable,
            (3, 9) | (3, 10) | (3, 13) | (3, 14) | (3, 15) => Prohibited,
            (11, _) => TimeExceeded,
            _ => Other,
        }
    }
}

/// Human name of an ICMP type/code, as a troubleshooter would search for it.
pub fn icmp_name(r: &IcmpReport) -> &'static str {
    if r.v6 {
        match (r.icmp_type, r.code) {
            (1, 0) => "no route to destination",
            (1, 1) => "communication administratively prohibited",
            (1, 2) => "beyond scope of source address",
            (1, 3) => "address unreachable",
            (1, 4) => "port unreachable",
            (1, 5) => "source address failed ingress/egress policy",
            (1, 6) => "reject route to destination",
            (3, _) => "hop limit exceeded in transit",
            (2, _) => "packet too big",
            (4, _) => "parameter problem",
            _ => "unexpected ICMPv6 error",
        }
    } else {
        match (r.icmp_type, r.code) {
            (3, 0) => "net unreachable",
            (3, 1) => "host unreachable",
            (3, 2) => "protocol unreachable",
            (3, 3) => "port unreachable",
            (3, 4) => "fragmentation needed",
            (3, 5) => "source route failed",
            (3, 6) => "destination network unknown",
            (3, 7) => "destination host unknown",
            (3, 8) => "source host isolated",
            (3, 9) => "network administratively prohibited",
            (3, 10) => "host administratively prohibited",
            (3, 11) => "network unreachable for TOS",
            (3, 12) => "host unreachable for TOS",
            (3, 13) => "communication administratively prohibited",
            (3, 14) => "host precedence violation",
            (3, 15) => "precedence cutoff in effect",
            (11, _) => "time to live exceeded in transit",
            (12, _) => "parameter problem",
            _ => "unexpected ICMP error",
        }
    }
}

/// The decision table: evidence for a probe of `transport` to `target` → state.
///
/// The rules, and why:
/// * TCP handshake or any UDP datagram back → LISTENING.
/// * TCP RST → NOT LISTENING (a closed port's answer per RFC 793).
/// * UDP ICMP port-unreachable *sent by the target* → NOT LISTENING; sent by any
///   other host (a router or firewall in the path) → FILTERED, as nmap does.
/// * TCP ICMP port-unreachable → FILTERED: a closed TCP port answers with RST,
///   so this ICMP is a firewall's REJECT (iptables' default reject type).
/// * Every other ICMP unreachable, time-exceeded, or a local "unreachable"
///   → FILTERED.
/// * Silence → FILTERED for TCP (after every try), LISTENING or FILTERED for UDP.
/// * "Refused" without a sender (non-Linux UDP) → NOT LISTENING: the OS only
///   reports a port-unreachable this way, though it cannot prove who sent it.
pub fn decide(transport: Transport, evidence: &Evidence, target: IpAddr) -> State {
    match (transport, evidence) {
        (Transport::Tcp, Evidence::Connected) => State::Listening,
        (Transport::Tcp, Evidence::Reset) => State::NotListening,
        (Transport::Udp, Evidence::Reply { .. }) => State::Listening,
        (Transport::Udp, Evidence::Icmp(r)) => {
            if icmp_meaning(r) == IcmpMeaning::PortUnreachable && r.offender == Some(target) {
                State::NotListening
            } else {
                State::Filtered
            }
        }
        (Transport::Udp, Evidence::Refused) => State::NotListening,
        (Transport::Udp, Evidence::Silence) => State::ListeningOrFiltered,
        (Transport::Tcp, Evidence::Silence) => State::Filtered,
        (_, Evidence::Icmp(_)) | (_, Evidence::Unreachable { .. }) | (_, Evidence::NoNeighbour { .. }) => {
            State::Filtered
        }
        // Combinations the probes never produce; the safe answer is "can't tell".
        (Transport::Tcp, Evidence::Reply { .. }) => State::Listening,
        (Transport::Tcp, Evidence::Refused) => State::NotListening,
        (Transport::Udp, Evidence::Connected) => State::Listening,
        (Transport::Udp, Evidence::Reset) => State::NotListening,
    }
}

/// One sentence explaining the evidence behind a verdict (the `-v` line).
pub fn explain(transport: Transport, obs: &Observation, target: IpAddr) -> String {
    let tries = match obs.tries {
        1 => "1 try".to_string(),
        n => format!("{n} tries"),
    };
    let rtt = obs.rtt.map(|d| format!(" in {:.1} ms", d.as_secs_f64() * 1000.0)).unwrap_or_default();
    match &obs.evidence {
        Evidence::Connected => {
            format!("TCP handshake completed (SYN-ACK from {target}){rtt}, after {tries}")
        }
        Evidence::Reset => format!("TCP reset (RST) received{rtt}, after {tries}"),
        Evidence::Reply { bytes } => {
            format!("UDP reply of {bytes} byte(s) from {target}{rtt}, after {tries}")
        }
        Evidence::Icmp(r) => {
            let kind = if r.v6 { "ICMPv6" } else { "ICMP" };
            let who = match r.offender {
                Some(a) if a == target => format!("from {a} (the target)"),
                Some(a) => format!("from {a}, not the target"),
                None => "from an unknown sender".to_string(),
            };
            let mut s = format!(
                "{kind} {} (type {}, code {}) {who}{rtt}, after {tries}",
                icmp_name(r),
                r.icmp_type,
                r.code
            );
            if icmp_meaning(r) == IcmpMeaning::PortUnreachable {
                if transport == Transport::Tcp {
                    s.push_str("; a closed TCP port answers with RST, so a firewall rejected the SYN");
                } else if r.offender != Some(target) {
                    s.push_str("; a router or firewall rejected the datagram");
                }
            }
            s
        }
        Evidence::Refused => format!(
            "port unreachable reported by the OS{rtt}, after {tries} (this OS does not say which host sent it)"
        ),
        Evidence::Unreachable { error } => format!("{error}{rtt}, after {tries}"),
        Evidence::NoNeighbour { reporter } => {
            let who = match reporter {
                Some(a) => format!("this machine ({a}) reported host unreachable"),
                None => "this machine's neighbour table has no address for it".to_string(),
            };
            format!(
                "no ARP / neighbour-discovery answer from {target} on the local link: the host is absent or down \
                 ({who}), after {tries}"
            )
        }
        Evidence::Silence => format!("no response to {tries} ({} ms wait each)", obs.wait.as_millis()),
    }
}

/// An ICMP error as evidence: a host-unreachable that this machine's own
/// stack generated (its sender is the probe's own source address) means the
/// on-link target never answered ARP / neighbour discovery.
pub(crate) fn icmp_evidence(report: IcmpReport, local: Option<IpAddr>) -> Evidence {
    if icmp_meaning(&report) == IcmpMeaning::HostUnreachable
        && report.offender.is_some()
        && report.offender == local
    {
        return Evidence::NoNeighbour { reporter: report.offender };
    }
    Evidence::Icmp(report)
}

/// Silence, or — when the on-link target never answered ARP — the evidence
/// that says so (the probe never left this machine).
pub fn silence_for(target: IpAddr) -> Evidence {
    if crate::platform::neighbour_unresolved(target) {
        Evidence::NoNeighbour { reporter: None }
    } else {
        Evidence::Silence
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const T: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
    const R: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 1, 1));

    fn icmp4(t: u8, c: u8, from: IpAddr) -> Evidence {
        Evidence::Icmp(IcmpReport { v6: false, icmp_type: t, code: c, offender: Some(from) })
    }
    fn icmp6(t: u8, c: u8, from: IpAddr) -> Evidence {
        Evidence::Icmp(IcmpReport { v6: true, icmp_type: t, code: c, offender: Some(from) })
    }

    #[test]
    fn table_tcp() {
        use State::*;
        let rows = [
            (Evidence::Connected, Listening),
            (Evidence::Reset, NotListening),
            (Evidence::Silence, Filtered),
            (icmp4(3, 3, T), Filtered), // REJECT icmp-port-unreachable on TCP
            (icmp4(3, 13, T), Filtered),
            (icmp4(3, 10, T), Filtered),
            (icmp4(3, 1, R), Filtered),
            (icmp4(3, 0, R), Filtered),
            (icmp4(11, 0, R), Filtered),
            (icmp6(1, 1, T), Filtered),
            (Evidence::Unreachable { error: "no route".into() }, Filtered),
        ];
        for (ev, want) in rows {
            assert_eq!(decide(Transport::Tcp, &ev, T), want, "{ev:?}");
        }
    }

    #[test]
    fn table_udp() {
        use State::*;
        let rows = [
            (Evidence::Reply { bytes: 0 }, Listening),
            (Evidence::Silence, ListeningOrFiltered),
            (icmp4(3, 3, T), NotListening),
            (icmp4(3, 3, R), Filtered), // port unreachable from a router: not the target's word
            (icmp4(3, 13, T), Filtered),
            (icmp4(3, 10, T), Filtered),
            (icmp4(3, 9, T), Filtered),
            (icmp4(3, 0, R), Filtered),
            (icmp4(3, 1, R), Filtered),
            (icmp4(3, 2, T), Filtered),
            (icmp4(11, 0, R), Filtered),
            (icmp4(5, 0, R), Filtered), // unexpected type: never "not listening"
            (Evidence::Refused, NotListening),
            (Evidence::Unreachable { error: "no route".into() }, Filtered),
            (Evidence::NoNeighbour { reporter: None }, Filtered),
        ];
        for (ev, want) in rows {
            assert_eq!(decide(Transport::Udp, &ev, T), want, "{ev:?}");
        }
    }

    #[test]
    fn table_udp_v6() {
        let t6: IpAddr = "2001:db8::2".parse().unwrap();
        let r6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(decide(Transport::Udp, &icmp6(1, 4, t6), t6), State::NotListening);
        assert_eq!(decide(Transport::Udp, &icmp6(1, 4, r6), t6), State::Filtered);
        for code in [0, 1, 2, 3, 5, 6] {
            assert_eq!(decide(Transport::Udp, &icmp6(1, code, t6), t6), State::Filtered);
        }
        assert_eq!(decide(Transport::Udp, &icmp6(3, 0, r6), t6), State::Filtered);
    }

    #[test]
    fn offender_missing_is_not_proof() {
        let ev = Evidence::Icmp(IcmpReport { v6: false, icmp_type: 3, code: 3, offender: None });
        assert_eq!(decide(Transport::Udp, &ev, T), State::Filtered);
    }

    #[test]
    fn notes_say_what_was_measured() {
        assert_eq!(
            Note::Paced(Some(198.7)).to_string(),
            "refusals limited to about 200/s by the target; re-probed at that pace"
        );
        assert_eq!(round2(0.97), 0.97);
        assert_eq!(round2(10_432.0), 10_000.0);
        assert_eq!(
            Note::Verified(None).to_string(),
            "other ports were refused meanwhile; re-probed in paced groups, silent while the target refused another port"
        );
        assert_eq!(Note::Unverified(Transport::Udp).status_flag(), Some("ICMP rate-limited, not verified"));
        assert_eq!(Note::Paced(None).status_flag(), None);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(State::Listening.exit_code(), 0);
        assert_eq!(State::NotListening.exit_code(), 1);
        assert_eq!(State::Filtered.exit_code(), 2);
        assert_eq!(State::ListeningOrFiltered.exit_code(), 2);
    }

    #[test]
    fn explanations_name_the_sender() {
        let obs = Observation { evidence: icmp4(3, 3, R), tries: 1, rtt: None, wait: Duration::from_secs(1) };
        let s = explain(Transport::Udp, &obs, T);
        assert!(s.contains("port unreachable") && s.contains("198.18.1.1, not the target"), "{s}");
        let obs = Observation {
            evidence: Evidence::Silence,
            tries: 3,
            rtt: None,
            wait: Duration::from_millis(500),
        };
        assert_eq!(explain(Transport::Tcp, &obs, T), "no response to 3 tries (500 ms wait each)");
    }
}
