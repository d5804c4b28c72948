//! A single request/reply exchange, run for any [`Query`] that does not need a
//! longer conversation: UDP with retries and ICMP evidence, TCP with framing,
//! each wait under a deadline fixed when the request is sent.

use super::{Answer, Ctx, Line, Outcome, Query, Request, Sink};
use crate::error::Error;
use crate::probe::{self, Evidence, Observation, State, Transport, udp};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An open TCP connection as a conversation sees it: bytes both ways, each
/// read or write bounded by the slice of its deadline the caller allows just
/// before it. `TcpStream` is one (through `platform::read_slice`: a receive
/// timeout on Unix, a `WSAPoll` wait on Windows, where a timed-out receive
/// leaves the socket undefined); unit tests use a scripted peer
/// ([`script::Peer`]) to run conversations without a network.
pub trait Conn: Read + Write {
    /// Let the next read wait at most `slice`; after it, the read fails with
    /// `WouldBlock` or `TimedOut` if nothing came.
    fn read_slice(&self, slice: Duration) -> io::Result<()>;
    /// Let the next write wait at most `slice`.
    fn write_slice(&self, slice: Duration) -> io::Result<()>;
}

impl Conn for TcpStream {
    fn read_slice(&self, slice: Duration) -> io::Result<()> {
        crate::platform::read_slice(self, slice)
    }
    fn write_slice(&self, slice: Duration) -> io::Result<()> {
        crate::platform::write_slice(self, slice)
    }
}

/// Largest reply we buffer from a TCP server (a rootDSE or DNS answer is far smaller).
pub const MAX_TCP_REPLY: usize = 1 << 20;

/// The first bytes of a reply as hex, for "did not parse" messages.
pub fn hex_excerpt(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(32).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 32 { " ..." } else { "" };
    format!("{} byte(s): {}{more}", bytes.len(), shown.join(" "))
}

/// The UDP options of a query: `-sp`, unless the query uses an ephemeral port.
pub fn udp_options<Q: Query + ?Sized>(q: &Q, ctx: &Ctx) -> udp::UdpOptions {
    let o = ctx.opts;
    let source_port = if q.ephemeral() { None } else { o.source_port };
    udp::UdpOptions { wait: o.udp_wait, tries: o.udp_tries, source_port }
}

/// PortQry says "Using ephemeral source port" before the follow-up queries that
/// use one (§3.4): always for NetBIOS, for the others only when `-sp` asked otherwise.
pub fn say_ephemeral<Q: Query + ?Sized>(q: &Q, ctx: &Ctx, sink: &mut dyn Sink) {
    if q.ephemeral() && (q.always_says_ephemeral() || ctx.opts.source_port.is_some()) {
        sink.show(vec![Line::Plain("Using ephemeral source port".into())]);
    }
}

/// UDP: send the request and decide from what comes back.
pub fn udp<Q: Query + ?Sized>(q: &Q, ctx: &Ctx, sink: &mut dyn Sink) -> Result<Outcome, Error> {
    say_ephemeral(q, ctx, sink);
    sink.show(q.announce(ctx));
    let req = q.request(ctx, false);
    let p = udp::exchange(ctx.target.socket_addr(ctx.port), &req.bytes, &udp_options(q, ctx))?;
    let mut outcome = Outcome::new(q.id(), State::Filtered);
    outcome.observation = Some(p.observation.clone());
    match &p.reply {
        Some(reply) => settle(q.label(), &mut outcome, reply, q.answer(ctx, &req, reply)),
        None => outcome.state = udp_state(&p.observation.evidence, ctx.target.addr),
    }
    Ok(outcome)
}

/// A datagram came back: the port is LISTENING; keep its answer, or say why it
/// did not parse.
pub fn settle(label: &str, outcome: &mut Outcome, reply: &[u8], parsed: Result<Arc<dyn Answer>, String>) {
    outcome.state = State::Listening;
    match parsed {
        Ok(a) => outcome.answer = Some(a),
        Err(e) => {
            let msg = format!("{e}; reply was {}", hex_excerpt(reply));
            outcome.notes.push(Line::Para(format!("The reply did not parse as {label}: {msg}")));
            outcome.error = Some(msg);
        }
    }
}

/// The verdict after a formatted UDP query, from its evidence.
pub fn udp_state(evidence: &Evidence, target: std::net::IpAddr) -> State {
    match probe::decide(Transport::Udp, evidence, target) {
        // Silence after a formatted query: PortQry calls the port FILTERED.
        State::ListeningOrFiltered => State::Filtered,
        s => s,
    }
}

/// TCP: send the request over the open connection and read the framed reply.
/// The port is LISTENING whatever the answer; a failure is reported, not fatal.
pub fn tcp<Q: Query + ?Sized>(q: &Q, ctx: &Ctx, mut stream: TcpStream, sink: &mut dyn Sink) -> Outcome {
    tcp_framed(q, ctx, &mut stream, sink, &|_, b| q.framed_len(b))
}

/// [`tcp`] with framing that depends on the request (LDAP: messages until our search is done).
pub fn tcp_framed<Q: Query + ?Sized>(
    q: &Q,
    ctx: &Ctx,
    stream: &mut dyn Conn,
    sink: &mut dyn Sink,
    framed_len: &dyn Fn(&Request, &[u8]) -> Option<usize>,
) -> Outcome {
    let label = q.label();
    sink.show(vec![Line::Para(format!("Sending {label} query to TCP port {}...", ctx.port))]);
    let req = q.request(ctx, true);
    let started = Instant::now();
    let deadline = started + ctx.opts.tcp_wait;
    let mut outcome = Outcome::new(q.id(), State::Listening);
    let result = stream
        .write_all(&req.bytes)
        .map_err(|e| format!("cannot send the query: {e}"))
        .and_then(|_| read_framed(stream, deadline, &|b| framed_len(&req, b)));
    match result {
        Ok((bytes, cut)) => {
            outcome.observation = Some(Observation {
                evidence: Evidence::Reply { bytes: bytes.len() },
                tries: 1,
                rtt: Some(started.elapsed()),
                wait: deadline - started,
            });
            let parsed = match cut {
                Some(why) => Err(why),
                None => q.answer(ctx, &req, &bytes),
            };
            match parsed {
                Ok(a) => outcome.answer = Some(a),
                Err(e) => {
                    let msg = format!("{e}; reply was {}", hex_excerpt(&bytes));
                    outcome.notes.push(Line::Para(format!("The reply did not parse as {label}: {msg}")));
                    outcome.error = Some(msg);
                }
            }
        }
        Err(e) => {
            outcome.notes.push(Line::Para(format!("No {label} answer: {e}")));
            outcome.error = Some(e);
        }
    }
    if let Some(bye) = q.goodbye() {
        let _ = stream.write_all(&bye);
    }
    outcome
}

/// Read until `framed_len` says the reply is complete (the bytes up to its
/// end), the stream ends (what came), or the deadline (what came, if anything).
/// `Some` beside the bytes says why they cannot be a whole reply (too large).
pub fn read_framed(
    stream: &mut dyn Conn,
    deadline: Instant,
    framed_len: &dyn Fn(&[u8]) -> Option<usize>,
) -> Result<(Vec<u8>, Option<String>), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(n) = framed_len(&buf)
            && n <= buf.len()
        {
            buf.truncate(n);
            return Ok((buf, None));
        }
        if crate::cancel::requested() {
            return Err("interrupted".into());
        }
        let Some(slice) = crate::cancel::slice_until(deadline) else {
            if buf.is_empty() {
                return Err("no reply before the deadline".into());
            }
            return Ok((buf, None));
        };
        stream.read_slice(slice).map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) if buf.is_empty() => {
                return Err("the server closed the connection without answering".into());
            }
            Ok(0) => return Ok((buf, None)),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > MAX_TCP_REPLY {
                    return Ok((buf, Some("reply larger than 1 MiB".into())));
                }
            }
            // A slice ended: the deadline (checked above) decides.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(format!("connection failed: {e}")),
        }
    }
}

/// A scripted TCP peer for unit tests: conversations run against bytes a real
/// server sent (captured), cut into reads of any size, without a network.
#[cfg(test)]
pub mod script {
    use super::Conn;
    use std::cell::Cell;
    use std::collections::VecDeque;
    use std::io::{self, Read, Write};
    use std::time::Duration;

    /// What the peer does once it has sent everything.
    #[derive(Clone, Copy)]
    pub enum End {
        /// Closes the connection (a read returns 0).
        Close,
        /// Resets it.
        Reset,
        /// Stays open and silent: each read waits its timeout and times out.
        Silent,
    }

    pub struct Peer {
        incoming: VecDeque<u8>,
        /// Most bytes one read returns (1: every byte its own segment).
        chunk: usize,
        end: End,
        timeout: Cell<Option<Duration>>,
        /// Everything written to the peer.
        pub sent: Vec<u8>,
    }

    impl Peer {
        pub fn new(incoming: &[u8], chunk: usize, end: End) -> Peer {
            Peer {
                incoming: incoming.iter().copied().collect(),
                chunk,
                end,
                timeout: Cell::new(None),
                sent: Vec::new(),
            }
        }
    }

    impl Read for Peer {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.incoming.is_empty() {
                return match self.end {
                    End::Close => Ok(0),
                    End::Reset => Err(io::ErrorKind::ConnectionReset.into()),
                    End::Silent => {
                        // Like a socket with a receive timeout (and a blocking one never
                        // returns at all): the callers always set one.
                        let t = self.timeout.get().expect("a read without a timeout would block for ever");
                        std::thread::sleep(t);
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                };
            }
            let n = self.chunk.min(buf.len()).min(self.incoming.len());
            for (b, byte) in buf.iter_mut().zip(self.incoming.drain(..n)) {
                *b = byte;
            }
            Ok(n)
        }
    }

    impl Write for Peer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.sent.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Conn for Peer {
        fn read_slice(&self, slice: Duration) -> io::Result<()> {
            self.timeout.set(Some(slice));
            Ok(())
        }
        fn write_slice(&self, _: Duration) -> io::Result<()> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::script::{End, Peer};
    use super::*;
    use std::time::Duration;

    /// A frame whose first byte is its length.
    fn first_byte_len(b: &[u8]) -> Option<usize> {
        b.first().map(|&n| n as usize)
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(300)
    }

    #[test]
    fn a_reply_in_one_byte_segments_is_read_to_its_frame_and_no_further() {
        let mut peer = Peer::new(&[4, 1, 2, 3, 9, 9], 1, End::Silent);
        let (bytes, cut) = read_framed(&mut peer, soon(), &first_byte_len).unwrap();
        assert_eq!((bytes, cut), (vec![4, 1, 2, 3], None));
    }

    #[test]
    fn a_close_or_reset_before_the_answer_is_said_so() {
        let mut peer = Peer::new(&[], 64, End::Close);
        let e = read_framed(&mut peer, soon(), &first_byte_len).unwrap_err();
        assert_eq!(e, "the server closed the connection without answering");
        // What came before a close is the answer, as far as it goes.
        let mut peer = Peer::new(&[9, 1], 64, End::Close);
        assert_eq!(read_framed(&mut peer, soon(), &first_byte_len).unwrap(), (vec![9, 1], None));
        let mut peer = Peer::new(&[], 64, End::Reset);
        let e = read_framed(&mut peer, soon(), &first_byte_len).unwrap_err();
        assert!(e.starts_with("connection failed: "), "{e}");
    }

    #[test]
    fn silence_ends_at_the_deadline() {
        let started = Instant::now();
        let deadline = started + Duration::from_millis(120);
        let mut peer = Peer::new(&[], 64, End::Silent);
        let e = read_framed(&mut peer, deadline, &first_byte_len).unwrap_err();
        assert_eq!(e, "no reply before the deadline");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(120) && took < Duration::from_secs(2), "{took:?}");
        // A partial answer and then silence: what came, at the deadline.
        let mut peer = Peer::new(&[9, 1, 2], 64, End::Silent);
        let got =
            read_framed(&mut peer, Instant::now() + Duration::from_millis(50), &first_byte_len).unwrap();
        assert_eq!(got, (vec![9, 1, 2], None));
    }

    #[test]
    fn a_reply_that_never_frames_is_cut_at_one_mebibyte() {
        let endless = vec![0u8; MAX_TCP_REPLY + 20_000];
        let mut peer = Peer::new(&endless, 16 * 1024, End::Silent);
        let (bytes, cut) = read_framed(&mut peer, soon(), &|_| None).unwrap();
        assert!(bytes.len() > MAX_TCP_REPLY && bytes.len() <= MAX_TCP_REPLY + 16 * 1024);
        assert_eq!(cut.as_deref(), Some("reply larger than 1 MiB"));
    }
}
