//! Silence that is proof: probing again a target that rate-limits its refusals.
//!
//! A closed port answers with a refusal (a TCP RST, an ICMP port-unreachable
//! from the target), but many targets send only so many refusals a second: a
//! token bucket of `burst` tokens refilled at `rate` a second (Linux per peer
//! and host-wide, BSD and macOS host-wide, firewalls' `limit` rules). A probe
//! that meets an empty bucket is silently dropped, exactly like a filtered one.
//! So when one target both refused some probes and left others silent, the
//! silent ones are *suspects*, and the [`Verifier`] decides them:
//!
//! * **Sweeps** probe suspects in back-to-back groups ending with a *canary*,
//!   a port of the same target that refused before. Groups are sized to more
//!   than the bucket is expected to hold, so each one empties it: the closed
//!   ports among the first members are refused (decided), and when the canary
//!   stays silent the bucket is known to be empty at that moment. The refusals
//!   counted between two such "drains" measure the target's refill rate (a
//!   closed-form count, no assumed 1/s), which paces the next groups.
//! * **Verify groups** send suspects that stayed silent in a sweep while the
//!   target still had refusals to spare, followed within a few microseconds by
//!   a canary. A refused canary proves the bucket held a token when the members
//!   arrived (no refill fits in that gap at the measured rate), so their silence
//!   is not the limiter's: that is one *verified* silent try. A suspect is
//!   reported silent only after `need` verified tries (the transport's tries).
//!
//! Everything here is pure bookkeeping over instants the engine passes in; the
//! engine owns the sockets. Unit tests drive it against a simulated bucket.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Largest group of members behind one canary.
const MAX_GROUP: usize = 64;
/// The first probing gap while the rate is unknown; it doubles after each
/// group that found the bucket empty, up to [`MAX_GAP`].
const FIRST_GAP: Duration = Duration::from_millis(20);
/// Longest wait between two groups.
const MAX_GAP: Duration = Duration::from_secs(2);
/// Shortest wait between two groups (poll(2) counts in milliseconds).
const MIN_GAP: Duration = Duration::from_millis(1);
/// A group's refusals are counted this long after its send at least (and at
/// least four times the slowest refusal seen).
const MIN_SETTLE: Duration = Duration::from_millis(2);
/// Groups in a row without a single refusal before the target is taken to
/// have stopped refusing (the rest are reported unverified).
pub const MAX_EMPTY_GROUPS: u32 = 8;
/// ... and this long without a refusal (longer than any pause of a lumpy limiter).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(3);
/// Fair paced tries (the bucket had tokens) a suspect may get beyond its verified ones.
pub const EXTRA_SENDS: u32 = 8;
/// A canary proves a member's silence only if it reached the target within
/// this fraction of one refill period after the member.
const PROOF_FRACTION: f64 = 0.05;
/// The least one probe of a group costs to send; the real cost is measured
/// from the groups' send times (members whose proof gap would not fit are
/// left for the next group).
const SEND_COST: Duration = Duration::from_micros(3);
/// Tokens aimed at per group once the rate is known.
const TOKENS_PER_GROUP: f64 = 4.0;

/// One group to send back to back, in this order: members, then the canary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub id: u64,
    pub members: Vec<usize>,
    pub canary: Option<usize>,
}

/// A suspect whose paced tries are over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Final {
    pub idx: usize,
    /// Every try counted proven silent (false: given up unverified).
    pub verified: bool,
    /// Tries sent in all (before and during pacing).
    pub tries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sweep,
    Verify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Res {
    Pending,
    Refused,
    Other,
    Silent,
    /// A sweep member given back at settle time (a sweep proves no silence).
    Released,
}

#[derive(Debug)]
struct Sent {
    idx: usize,
    canary: bool,
    at: Option<Instant>,
    res: Res,
}

#[derive(Debug)]
struct Group {
    kind: Kind,
    at: Instant,
    sends: Vec<Sent>,
    settled: bool,
}

#[derive(Debug)]
struct Suspect {
    tries: u32,
    /// Paced tries that met a bucket with tokens (proven, or silent before
    /// a later refusal of the same sweep): they count toward giving up.
    fair: u32,
    verified: u32,
    /// Silent in a sweep while a later probe of the group was refused.
    likely_dropped: bool,
    flying: bool,
}

/// Decides a target's silent ports when it rate-limits its refusals.
#[derive(Debug)]
pub struct Verifier {
    need: u32,
    suspects: HashMap<usize, Suspect>,
    fresh: VecDeque<usize>,
    dropped: VecDeque<usize>,
    canaries: VecDeque<usize>,
    groups: HashMap<u64, Group>,
    next_id: u64,
    last: Option<u64>,
    /// Refusals seen since pacing began (members, canaries, stragglers).
    cum: u64,
    /// Instants the bucket was seen empty, with `cum` then.
    drains: VecDeque<(Instant, u64)>,
    rate: Option<f64>,
    /// When the first group left (the lower bound on the rate counts from it).
    started: Option<Instant>,
    burst: u32,
    gap: Duration,
    boost: f64,
    slowest: Duration,
    /// Whether the last settled group emptied the bucket.
    drained: bool,
    /// Sweep members refused / silent before a later refusal (closed fraction).
    sweep_closed: (f64, f64),
    /// Verify-group members refused / silent.
    verify_closed: (f64, f64),
    empty_groups: u32,
    /// The last refusal (or the start): the target is given up on only after
    /// [`MAX_EMPTY_GROUPS`] groups *and* [`GIVE_UP_AFTER`] without one.
    last_refusal: Option<Instant>,
    given_up: Vec<Final>,
    /// Sweep probes whose sockets the engine can close: (group, position).
    released: Vec<(u64, usize)>,
    /// Time between two sends of one group (smoothed; at least [`SEND_COST`]).
    send_cost: Duration,
}

impl Verifier {
    /// `need`: verified silent tries per suspect; `canaries`: ports that refused.
    pub fn new(need: u32, canaries: impl IntoIterator<Item = usize>) -> Verifier {
        Verifier {
            need: need.max(1),
            suspects: HashMap::new(),
            fresh: VecDeque::new(),
            dropped: VecDeque::new(),
            canaries: canaries.into_iter().collect(),
            groups: HashMap::new(),
            next_id: 0,
            last: None,
            cum: 0,
            drains: VecDeque::new(),
            rate: None,
            started: None,
            burst: 0,
            gap: FIRST_GAP,
            boost: 4.0,
            slowest: Duration::ZERO,
            drained: true,
            sweep_closed: (0.0, 0.0),
            verify_closed: (0.0, 0.0),
            empty_groups: 0,
            last_refusal: None,
            given_up: Vec::new(),
            released: Vec::new(),
            send_cost: SEND_COST,
        }
    }

    /// A silent port to decide; `tries` already sent.
    pub fn add_suspect(&mut self, idx: usize, tries: u32) {
        let s = Suspect { tries, fair: 0, verified: 0, likely_dropped: false, flying: false };
        if self.suspects.insert(idx, s).is_none() {
            insert_sorted(&mut self.fresh, idx);
        }
    }

    /// A port that refused: a canary for later groups (the newest first).
    fn add_canary(&mut self, idx: usize) {
        if !self.canaries.contains(&idx) {
            self.canaries.push_front(idx);
            self.canaries.truncate(32);
        }
    }

    /// A refusal for a probe sent before pacing began (it used a token too).
    pub fn straggler(&mut self, slowest: Duration) {
        self.cum += 1;
        self.slowest = self.slowest.max(slowest);
    }

    /// Sweep probes released since the last call: close their sockets.
    pub fn take_released(&mut self) -> Vec<(u64, usize)> {
        std::mem::take(&mut self.released)
    }

    /// The measured refill rate (refusals per second), once known.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// Tries sent to a suspect so far.
    pub fn tries(&self, idx: usize) -> u32 {
        self.suspects.get(&idx).map_or(0, |s| s.tries)
    }

    /// No suspect left to decide.
    pub fn is_done(&self) -> bool {
        self.suspects.is_empty()
    }

    /// Suspects given up (the target stopped refusing, or no canary is left).
    pub fn take_given_up(&mut self) -> Vec<Final> {
        std::mem::take(&mut self.given_up)
    }

    fn settle_time(&self) -> Duration {
        (self.slowest * 4).max(MIN_SETTLE)
    }

    /// Count the last group's refusals once they had time to arrive.
    fn settle(&mut self, now: Instant) {
        let Some(id) = self.last else { return };
        let settle = self.settle_time();
        let Some(g) = self.groups.get_mut(&id) else { return };
        if g.settled || now < g.at + settle {
            return;
        }
        g.settled = true;
        let k = g.sends.iter().filter(|s| s.res == Res::Refused).count() as u32;
        let drained = g.sends.last().is_some_and(|s| s.res != Res::Refused);
        let last_refused = g.sends.iter().rposition(|s| s.res == Res::Refused);
        let sent_at = g.sends.iter().filter_map(|s| s.at).max().unwrap_or(g.at);
        if g.kind == Kind::Sweep {
            // A sweep decides refused ports and sorts the rest: those silent
            // before a later refusal were probably dropped (next: a verify
            // group), the others met the empty bucket (next: another sweep).
            // Either way this try proves nothing, so it ends now.
            for (pos, s) in g.sends.iter_mut().enumerate() {
                if s.canary || s.res != Res::Pending {
                    if !s.canary && s.res == Res::Refused {
                        self.sweep_closed.0 += 1.0;
                    }
                    continue;
                }
                s.res = Res::Released;
                self.released.push((id, pos));
                let Some(sus) = self.suspects.get_mut(&s.idx) else { continue };
                sus.flying = false;
                if last_refused.is_some_and(|l| l > pos) {
                    self.sweep_closed.1 += 1.0;
                    sus.likely_dropped = true;
                    sus.fair += 1;
                    self.dropped.push_back(s.idx);
                } else {
                    insert_sorted(&mut self.fresh, s.idx);
                }
            }
        }
        self.empty_groups = if k == 0 { self.empty_groups + 1 } else { 0 };
        if k > 0 {
            self.last_refusal = Some(now);
        }
        self.burst = self.burst.max(k);
        self.drained = drained;
        if drained {
            self.boost = 4.0;
            if k == 0 && self.rate.is_none() {
                self.gap = (self.gap * 2).min(MAX_GAP);
            }
            // A group that found about as many tokens as the bucket ever held
            // may have met a full bucket: the refill before it is unknown, so
            // the measuring window starts again there.
            let capped = k >= 4 && f64::from(k) >= 0.8 * f64::from(self.burst);
            if capped {
                self.drains.clear();
            }
            self.drains.push_back((sent_at, self.cum));
            if self.drains.len() > 64 {
                self.drains.pop_front();
            }
            // The refill rate over the whole window between the oldest and the
            // newest empty bucket: long windows average out lumpy refills
            // (Linux's host-wide limiter adds its tokens every 20 ms or more).
            if let (Some(a), Some(b)) = (self.drains.front(), self.drains.back()) {
                let span = b.0.saturating_duration_since(a.0).as_secs_f64();
                if b.1 > a.1 && span > 0.0 {
                    self.rate = Some((b.1 - a.1) as f64 / span);
                } else if capped && self.rate.is_none() && k > 0 {
                    self.rate = Some(f64::from(k) / self.gap.as_secs_f64());
                }
            }
        } else {
            // The bucket held more than we sent: it refills faster than we
            // thought. A lower bound since the last drain, and bigger groups.
            self.boost = (self.boost * 2.0).min(MAX_GROUP as f64 * 4.0);
            if let Some(&(t, c)) = self.drains.back() {
                let span = now.saturating_duration_since(t).as_secs_f64();
                if span > 0.0 && self.cum > c + 1 {
                    let lb = (self.cum - c - 1) as f64 / span;
                    self.rate = Some(self.rate.unwrap_or(0.0).max(lb));
                }
            }
        }
    }

    /// Tokens the bucket should hold now.
    fn expected_tokens(&self, now: Instant) -> f64 {
        let since =
            self.last.and_then(|id| self.groups.get(&id)).map(|g| now.saturating_duration_since(g.at));
        let base = match (self.rate, since) {
            (Some(r), Some(d)) => (r * d.as_secs_f64()).max(1.0),
            _ => 1.0,
        };
        base * self.boost / 4.0
    }

    /// The longest gap between a member and the canary that still proves it.
    /// Until the rate is measured (two empty buckets), the refusals counted
    /// since pacing began bound it from below: a target that never ran dry
    /// under our groups has no refill to fit into the gap.
    fn proof_gap(&self, now: Instant) -> Duration {
        let r = self.rate.unwrap_or_else(|| {
            let secs = self.started.map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
            if secs > 0.0 { self.cum as f64 / secs } else { 1.0 }
        });
        Duration::from_secs_f64(PROOF_FRACTION / r.max(1.0))
    }

    /// When [`plan`](Self::plan) will have a group; `None` when nothing can
    /// be sent until a probe in flight is decided.
    pub fn next_at(&mut self, now: Instant) -> Option<Instant> {
        self.settle(now);
        self.check_give_up(now);
        let ready = !self.fresh.is_empty() || !self.dropped.is_empty();
        if !ready || self.canaries.is_empty() {
            return None;
        }
        let Some(g) = self.last.and_then(|id| self.groups.get(&id)) else { return Some(now) };
        if !g.settled {
            return Some(g.at + self.settle_time());
        }
        // The bucket had tokens to spare: no need to wait for a refill.
        if !self.drained {
            return Some(g.at + self.settle_time());
        }
        let wait = match self.rate {
            Some(r) => {
                let tokens = TOKENS_PER_GROUP.min(f64::from(self.burst) + 1.0);
                Duration::from_secs_f64(tokens / r).clamp(MIN_GAP, MAX_GAP)
            }
            None => self.gap,
        };
        Some(g.at + wait.max(self.settle_time()))
    }

    fn check_give_up(&mut self, now: Instant) {
        let quiet = self.last_refusal.get_or_insert(now);
        let stopped = self.empty_groups >= MAX_EMPTY_GROUPS && now.duration_since(*quiet) >= GIVE_UP_AFTER;
        if stopped || self.canaries.is_empty() {
            self.give_up();
        }
    }

    /// Report every suspect not in flight as unverified.
    fn give_up(&mut self) {
        for idx in self.fresh.drain(..).chain(self.dropped.drain(..)) {
            if let Some(s) = self.suspects.remove(&idx) {
                self.given_up.push(Final { idx, verified: false, tries: s.tries });
            }
        }
    }

    /// Report every suspect left as unverified (nothing is in flight any more).
    pub fn give_up_all(&mut self) {
        self.fresh.clear();
        self.dropped.clear();
        let mut left: Vec<(usize, Suspect)> = self.suspects.drain().collect();
        left.sort_by_key(|(idx, _)| *idx);
        self.given_up.extend(left.into_iter().map(|(idx, s)| Final { idx, verified: false, tries: s.tries }));
    }

    /// The next group, if one is due; at most `room` probes (members + canary).
    pub fn plan(&mut self, now: Instant, room: usize) -> Option<Plan> {
        if room < 2 || self.next_at(now).is_none_or(|t| t > now) {
            return None;
        }
        let tokens = self.expected_tokens(now);
        let ratio = |c: (f64, f64)| ((c.0 + 1.0) / (c.0 + c.1 + 2.0)).max(1.0 / MAX_GROUP as f64);
        // Verify groups when nothing fresh is left, or a full one is waiting.
        // (Sweeps first while the rate is unknown: their drains measure it.)
        let verify = !self.dropped.is_empty()
            && (self.fresh.is_empty() || (self.dropped.len() >= MAX_GROUP && self.rate.is_some()));
        let (kind, want) = if verify {
            // Under the expected tokens: the bucket must not empty before the canary.
            let p = ratio(self.verify_closed);
            let fits = (self.proof_gap(now).as_secs_f64() / self.send_cost.as_secs_f64()).floor();
            (Kind::Verify, ((tokens * 0.5) / p).floor().min(fits).max(1.0))
        } else {
            // Over the expected tokens: the group empties the bucket.
            let p = ratio(self.sweep_closed);
            (Kind::Sweep, (tokens * 1.5 / p).ceil() + 1.0)
        };
        let want = (want as usize).clamp(1, MAX_GROUP).min(room - 1);
        let source = if kind == Kind::Verify { &mut self.dropped } else { &mut self.fresh };
        let mut members = Vec::with_capacity(want);
        while members.len() < want {
            let Some(idx) = source.pop_front() else { break };
            members.push(idx);
        }
        if members.is_empty() {
            return None;
        }
        let canary = self.canaries.pop_front();
        if let Some(c) = canary {
            self.canaries.push_back(c);
        }
        self.started.get_or_insert(now);
        let id = self.next_id;
        self.next_id += 1;
        let mut sends = Vec::with_capacity(members.len() + 1);
        for &idx in &members {
            if let Some(s) = self.suspects.get_mut(&idx) {
                s.flying = true;
                s.tries += 1;
            }
            sends.push(Sent { idx, canary: false, at: None, res: Res::Pending });
        }
        if let Some(c) = canary {
            sends.push(Sent { idx: c, canary: true, at: None, res: Res::Pending });
        }
        self.groups.insert(id, Group { kind, at: now, sends, settled: false });
        self.last = Some(id);
        Some(Plan { id, members, canary })
    }

    /// The probe at `pos` of group `id` left at `at`.
    pub fn sent(&mut self, id: u64, pos: usize, at: Instant) {
        let Some(g) = self.groups.get_mut(&id) else { return };
        let before = pos.checked_sub(1).and_then(|p| g.sends.get(p)).and_then(|s| s.at);
        if let Some(s) = g.sends.get_mut(pos) {
            s.at = Some(at);
        }
        // How fast this machine sends a group: verify groups hold as many
        // members as fit in the proof gap at that pace.
        if let Some(prev) = before {
            let gap = at.saturating_duration_since(prev).as_secs_f64();
            let cost = 0.875 * self.send_cost.as_secs_f64() + 0.125 * gap;
            self.send_cost = Duration::from_secs_f64(cost).max(SEND_COST);
        }
    }

    /// The probe could not be sent (no descriptor): the member goes back, untried.
    pub fn unsent(&mut self, id: u64, pos: usize) {
        let Some(s) = self.groups.get_mut(&id).and_then(|g| g.sends.get_mut(pos)) else { return };
        s.res = Res::Other;
        if !s.canary {
            let idx = s.idx;
            if let Some(sus) = self.suspects.get_mut(&idx) {
                sus.flying = false;
                sus.tries -= 1;
                insert_sorted(&mut self.fresh, idx);
            }
        }
        self.forget_if_done(id);
    }

    /// The probe drew a refusal after `rtt`. A member is decided (the engine
    /// reports it); its port becomes a canary.
    pub fn refused(&mut self, id: u64, pos: usize, rtt: Duration) {
        self.cum += 1;
        self.slowest = self.slowest.max(rtt);
        let Some(s) = self.groups.get_mut(&id).and_then(|g| g.sends.get_mut(pos)) else { return };
        if s.res == Res::Released {
            return;
        }
        s.res = Res::Refused;
        let (idx, canary) = (s.idx, s.canary);
        let kind = self.groups[&id].kind;
        if !canary {
            if kind == Kind::Verify {
                self.verify_closed.0 += 1.0;
            }
            self.suspects.remove(&idx);
            self.add_canary(idx);
        }
        self.forget_if_done(id);
    }

    /// Any other decisive answer (a reply, a handshake, another ICMP error):
    /// a member is decided; a canary that answers so is no canary any more.
    pub fn answered(&mut self, id: u64, pos: usize) {
        let Some(s) = self.groups.get_mut(&id).and_then(|g| g.sends.get_mut(pos)) else { return };
        if s.res == Res::Released {
            return;
        }
        s.res = Res::Other;
        let (idx, canary) = (s.idx, s.canary);
        if canary {
            self.canaries.retain(|&c| c != idx);
        } else {
            self.suspects.remove(&idx);
        }
        self.forget_if_done(id);
    }

    /// The probe's deadline passed without an answer. For a member: `Some`
    /// when its tries are over, `None` when it waits for another group.
    pub fn silent(&mut self, id: u64, pos: usize, now: Instant) -> Option<Final> {
        let proof = self.proof_gap(now);
        let g = self.groups.get_mut(&id)?;
        let kind = g.kind;
        let s = g.sends.get_mut(pos)?;
        if s.res == Res::Released {
            return None;
        }
        s.res = Res::Silent;
        if s.canary {
            self.forget_if_done(id);
            return None;
        }
        let (idx, at) = (s.idx, s.at);
        // Proven: a canary of a verify group, sent right after, was refused.
        let proven = kind == Kind::Verify
            && g.sends.last().is_some_and(|c| {
                c.canary
                    && c.res == Res::Refused
                    && matches!((at, c.at), (Some(m), Some(c)) if c.saturating_duration_since(m) <= proof)
            });
        if kind == Kind::Verify {
            self.verify_closed.1 += 1.0;
        }
        self.forget_if_done(id);
        let need = self.need;
        let sus = self.suspects.get_mut(&idx)?;
        sus.flying = false;
        if proven {
            sus.verified += 1;
            sus.fair += 1;
        } else if kind == Kind::Verify {
            sus.fair += 1;
        }
        if sus.verified >= need {
            let tries = sus.tries;
            self.suspects.remove(&idx);
            return Some(Final { idx, verified: true, tries });
        }
        if sus.fair >= need + EXTRA_SENDS {
            let tries = sus.tries;
            self.suspects.remove(&idx);
            return Some(Final { idx, verified: false, tries });
        }
        if sus.likely_dropped || proven {
            self.dropped.push_back(idx);
        } else {
            insert_sorted(&mut self.fresh, idx);
        }
        None
    }

    /// Drop a group's record once every probe in it is decided (the last
    /// group is kept: pacing counts from it).
    fn forget_if_done(&mut self, id: u64) {
        if self.last == Some(id) {
            return;
        }
        if self.groups.get(&id).is_some_and(|g| g.sends.iter().all(|s| s.res != Res::Pending)) {
            self.groups.remove(&id);
        }
    }
}

/// Keep suspects in port order, so results keep flowing in order.
fn insert_sorted(q: &mut VecDeque<usize>, idx: usize) {
    let at = q.partition_point(|&i| i < idx);
    q.insert(at, idx);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated target: a token bucket in front of closed, dropped and open ports.
    struct Target {
        rate: f64,
        burst: f64,
        tokens: f64,
        at: f64,
        closed: Vec<bool>,
    }

    impl Target {
        fn refuses(&mut self, port: usize, t: f64) -> bool {
            self.tokens = (self.tokens + (t - self.at) * self.rate).min(self.burst);
            self.at = t;
            if !self.closed[port] || self.tokens < 1.0 {
                return false;
            }
            self.tokens -= 1.0;
            true
        }
    }

    /// Run the verifier against `target` in virtual time; returns each
    /// suspect's outcome (true = refused) and the virtual seconds it took.
    fn simulate(
        mut target: Target,
        suspects: &[usize],
        canaries: &[usize],
        need: u32,
    ) -> (Vec<(usize, Option<bool>)>, f64) {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let wait = 0.3;
        let mut v = Verifier::new(need, canaries.iter().copied());
        for &s in suspects {
            v.add_suspect(s, 2);
        }
        let mut now = 0.0;
        let mut outcome: HashMap<usize, bool> = HashMap::new();
        let mut unverified = Vec::new();
        // (deadline, group, pos) of silent probes.
        let mut pending: Vec<(f64, u64, usize)> = Vec::new();
        let mut steps = 0;
        while !v.is_done() {
            steps += 1;
            assert!(steps < 1_000_000, "no progress");
            while let Some(plan) = v.plan(at(now), 10_000) {
                let sends: Vec<usize> = plan.members.iter().copied().chain(plan.canary).collect();
                for (pos, &port) in sends.iter().enumerate() {
                    let t = now + pos as f64 * 2e-6;
                    v.sent(plan.id, pos, at(t));
                    if target.refuses(port, t) {
                        v.refused(plan.id, pos, Duration::from_micros(100));
                        if pos < plan.members.len() {
                            outcome.insert(port, true);
                        }
                    } else {
                        pending.push((t + wait, plan.id, pos));
                    }
                }
            }
            for f in v.take_given_up() {
                unverified.push(f.idx);
            }
            let next_plan_at = v.next_at(at(now));
            let released = v.take_released();
            pending.retain(|p| !released.contains(&(p.1, p.2)));
            let next_plan = next_plan_at.map(|t| t.duration_since(t0).as_secs_f64());
            let next_deadline = pending.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
            let next = next_plan.unwrap_or(f64::INFINITY).min(next_deadline);
            if !next.is_finite() {
                break;
            }
            now = next.max(now);
            let (due, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|p| p.0 <= now);
            pending = rest;
            for (_, id, pos) in due {
                if let Some(f) = v.silent(id, pos, at(now)) {
                    assert!(f.verified, "port {} gave up", f.idx);
                    outcome.insert(f.idx, false);
                }
            }
        }
        assert!(unverified.is_empty(), "unverified: {unverified:?}");
        (suspects.iter().map(|s| (*s, outcome.get(s).copied())).collect(), now)
    }

    fn check(rate: f64, burst: f64, closed: impl Fn(usize) -> bool, n: usize, max_secs: f64) {
        let closed: Vec<bool> = (0..n + 1).map(|p| p == n || closed(p)).collect();
        let target = Target { rate, burst, tokens: 0.0, at: 0.0, closed: closed.clone() };
        let suspects: Vec<usize> = (0..n).collect();
        let (out, secs) = simulate(target, &suspects, &[n], 2);
        for (port, refused) in out {
            assert_eq!(refused, Some(closed[port]), "port {port} at {rate}/s burst {burst}");
        }
        assert!(secs <= max_secs, "{secs:.2} s at {rate}/s burst {burst}");
    }

    #[test]
    fn host_wide_limit_all_closed() {
        // 1000 closed ports at 200/s: N ÷ R = 5 s.
        check(200.0, 50.0, |_| true, 1000, 7.0);
    }

    #[test]
    fn fast_host_wide_limit() {
        check(10_000.0, 50.0, |_| true, 1000, 1.0);
    }

    #[test]
    fn per_peer_linux_limit() {
        // Linux's per-peer default: 1 a second, burst 6 — 40 closed ports ≈ 40 s.
        check(1.0, 6.0, |_| true, 40, 48.0);
    }

    #[test]
    fn half_dropped_half_closed() {
        check(200.0, 50.0, |p| p % 2 == 0, 1000, 12.0);
        check(200.0, 50.0, |p| p < 500, 1000, 12.0);
    }

    #[test]
    fn mostly_dropped_on_a_slow_limit() {
        check(1.0, 6.0, |p| p < 4, 60, 20.0);
    }

    #[test]
    fn unlimited_target_with_a_dropped_range() {
        check(1e7, 1e7, |p| p < 50, 100, 2.0);
    }

    #[test]
    fn a_target_that_stops_refusing_is_given_up() {
        let t0 = Instant::now();
        let mut v = Verifier::new(2, [99]);
        v.add_suspect(1, 2);
        let mut now = t0;
        let mut given = Vec::new();
        for _ in 0..100 {
            while let Some(p) = v.plan(now, 100) {
                for pos in 0..p.members.len() + 1 {
                    v.sent(p.id, pos, now);
                    let _ = v.silent(p.id, pos, now);
                }
            }
            given.extend(v.take_given_up());
            match v.next_at(now) {
                Some(t) => now = t.max(now),
                None => break,
            }
        }
        assert_eq!(given.len(), 1, "{v:?}");
        assert!(!given[0].verified);
        assert!(now.duration_since(t0) < Duration::from_secs(10), "{:?}", now.duration_since(t0));
    }
}
