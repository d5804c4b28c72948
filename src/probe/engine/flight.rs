//! One probe's socket: starting it (`launch`), asking a TCP connect for its
//! result, reading a UDP reply or error (`settle_*`), and the refused TCP
//! sockets kept for reuse (`Spares`).

use super::*;

/// A probe of a paced group ([`pace::Plan`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Tag {
    pub(super) group: u64,
    pub(super) pos: usize,
    pub(super) canary: bool,
}

pub(super) struct Flight {
    pub(super) idx: usize,
    pub(super) attempt: u32,
    pub(super) paced: Option<Tag>,
    pub(super) sock: Socket,
    pub(super) sent: Instant,
    /// This try's wait (the TCP one may adapt to the measured RTT).
    pub(super) wait: Duration,
    pub(super) deadline: Instant,
}

pub(super) enum Launch {
    Flight(Flight),
    Done(Outcome),
    /// Out of descriptors, buffers or ports: retry later with less in flight.
    Exhausted,
    /// A connect to our own ephemeral port (loopback): this try does not count.
    Again,
}

/// Sockets refused at once, ready to connect again (Linux, see
/// [`platform::REUSE_REFUSED_SOCKETS`]): one spare list per address family.
#[derive(Default)]
pub(super) struct Spares {
    pub(super) v4: Vec<Socket>,
    pub(super) v6: Vec<Socket>,
    /// `-sp` was bound once already in this run: where binds are exclusive
    /// (Windows), "in use" after that is our own closed probe not yet released
    /// (Wine frees it a moment later) — wait and retry, not exit 71.
    pub(super) source_port_bound: bool,
}

impl Spares {
    /// A few are enough: a refused socket is taken again by the next launch
    /// (a poll pass can decide several at once).
    const MAX: usize = 32;

    pub(super) fn list(&mut self, addr: &SocketAddr) -> &mut Vec<Socket> {
        if addr.is_ipv6() { &mut self.v6 } else { &mut self.v4 }
    }

    /// Keep a decided TCP socket for the next port when it can be reused
    /// (no `-sp` binding, refused and reset by the kernel); otherwise close it.
    pub(super) fn keep(&mut self, sock: Socket, job: &Job, opts: &Options, reusable: bool) {
        let list = self.list(&job.addr);
        if reusable && reusable_for(job, opts) && list.len() < Self::MAX {
            list.push(sock);
        }
    }
}

/// Only plain TCP sockets are reused: `-sp` binds each one to a port.
pub(super) fn reusable_for(job: &Job, opts: &Options) -> bool {
    job.transport == Transport::Tcp && opts.tcp.source_port.is_none() && platform::REUSE_REFUSED_SOCKETS
}

pub(super) fn launch(
    idx: usize,
    attempt: u32,
    job: &Job,
    opts: &Options,
    tcp_wait: Duration,
    spares: &mut Spares,
) -> Result<Launch, Error> {
    let sp = match job.transport {
        Transport::Tcp => opts.tcp.source_port,
        Transport::Udp => opts.udp.source_port,
    };
    let reuse = reusable_for(job, opts);
    let fresh = || match tcp::raw_socket(job.addr, job.transport == Transport::Tcp, true) {
        Ok(s) => Ok(Some(s)),
        Err(e) if platform::is_exhaustion(&e) => Ok(None),
        Err(e) => Err(Error::Socket(format!("cannot create a socket: {e}"))),
    };
    let wait = match job.transport {
        Transport::Tcp => tcp_wait,
        Transport::Udp => opts.udp.wait,
    };
    let mut spare = if reuse { spares.list(&job.addr).pop() } else { None };
    let (sock, sent) = loop {
        let from_spare = spare.is_some();
        let Some(sock) = (match spare.take() {
            Some(s) => Some(s),
            None => fresh()?,
        }) else {
            return Ok(Launch::Exhausted);
        };
        if let Some(port) = sp {
            match tcp::bind_source_port(&sock, job.addr, port) {
                Err(Error::SourcePortInUse(_))
                    if !platform::SOURCE_PORT_SHARED && spares.source_port_bound =>
                {
                    return Ok(Launch::Exhausted);
                }
                r => r?,
            }
            spares.source_port_bound = true;
        }
        let sent = Instant::now();
        match start(&sock, job, attempt, opts) {
            Ok(None) => break (sock, sent),
            Ok(Some(decided)) => return Ok(decided),
            // A reused socket in a state we did not expect: use a new one.
            Err(_) if from_spare => continue,
            Err(e) => return Err(e),
        }
    };
    let flight = Flight { idx, attempt, paced: None, sock, sent, wait, deadline: sent + wait };
    if job.transport == Transport::Udp {
        return Ok(Launch::Flight(flight));
    }
    // Ask the connect for its result before adding it to the poll set.
    Ok(match settle_tcp(&flight, job, false)? {
        Settled::Pending => Launch::Flight(flight),
        Settled::Again => Launch::Again,
        Settled::Decided(outcome, reusable) => {
            spares.keep(flight.sock, job, opts, reusable);
            Launch::Done(outcome)
        }
    })
}

/// What a probe's socket says now.
pub(super) enum Settled {
    /// No answer yet.
    Pending,
    /// A connect to our own ephemeral port (loopback): try again.
    Again,
    /// Decided; `true` when the socket was refused and reset by the kernel,
    /// so it can connect again ([`platform::REUSE_REFUSED_SOCKETS`]).
    Decided(Outcome, bool),
}

/// Read a TCP connect's result. Where the OS cannot tell by asking again
/// ([`ConnectState::Unknown`]), only a socket `poll` flagged is read, through
/// `SO_ERROR`.
pub(super) fn settle_tcp(f: &Flight, job: &Job, polled: bool) -> Result<Settled, Error> {
    let rtt = Some(f.sent.elapsed());
    let decided = |evidence, reusable| {
        let observation = observed(evidence, f.attempt, rtt, f.wait);
        Settled::Decided(Outcome { observation, stream: None, note: None }, reusable)
    };
    let connected = || {
        Ok(match tcp_connected(f, job)? {
            Some(outcome) => Settled::Decided(outcome, false),
            None => Settled::Again,
        })
    };
    let so_error =
        || f.sock.take_error().map_err(|e| Error::Socket(format!("cannot read a socket error: {e}")));
    match platform::connect_state(&f.sock, &SockAddr::from(job.addr)) {
        // An ICMP error that reached the socket while it was busy is only a
        // "soft" error: the connect stays in progress (Linux retransmits the
        // SYN) and only SO_ERROR reports it. `poll` flagged it (the error
        // queue is not empty): it is the answer, as on the one-at-a-time path.
        ConnectState::Pending if polled => match so_error()? {
            Some(e) => Ok(decided(tcp::classify_error(&f.sock, &e)?, false)),
            // An ICMP error queued without a socket error: still the answer (and
            // left queued it would make every later `poll` return at once).
            None => match platform::take_icmp_error(&f.sock) {
                Some(report) => Ok(decided(Evidence::Icmp(report), false)),
                None => Ok(Settled::Pending),
            },
        },
        ConnectState::Pending => Ok(Settled::Pending),
        ConnectState::Unknown if !polled => Ok(Settled::Pending),
        ConnectState::Unknown => match so_error()? {
            // Accepted, then reset at once (Windows says so in SO_ERROR): a listener.
            Some(e) if platform::is_reset_after_handshake(&e) => connected(),
            Some(e) => Ok(decided(tcp::classify_error(&f.sock, &e)?, false)),
            None => connected(),
        },
        ConnectState::Connected => connected(),
        ConnectState::Failed(e) => {
            let evidence = tcp::classify_error(&f.sock, &e)?;
            let refused = matches!(evidence, Evidence::Reset | Evidence::Icmp(_));
            Ok(decided(evidence, refused))
        }
    }
}

/// Start the probe: a non-blocking connect, and for UDP the empty datagram.
/// `Some` when it is decided already (or resources ran out).
pub(super) fn start(sock: &Socket, job: &Job, attempt: u32, opts: &Options) -> Result<Option<Launch>, Error> {
    let connected = sock.connect(&SockAddr::from(job.addr));
    let started = match job.transport {
        Transport::Tcp => match connected {
            Err(e) if platform::is_in_progress(&e) => Ok(()),
            r => r, // Ok: poll reports it writable at once
        },
        Transport::Udp => connected.and_then(|_| sock.send(&[]).map(|_| ())),
    };
    let Err(e) = started else { return Ok(None) };
    if platform::is_exhaustion(&e) {
        return Ok(Some(Launch::Exhausted));
    }
    let (evidence, wait) = match job.transport {
        Transport::Tcp => (tcp::classify_error(sock, &e)?, opts.tcp.timeout),
        Transport::Udp => (udp::error_evidence(sock, &e)?, opts.udp.wait),
    };
    let observation = observed(evidence, attempt, Some(Duration::ZERO), wait);
    Ok(Some(Launch::Done(Outcome { observation, stream: None, note: None })))
}

pub(super) fn observed(evidence: Evidence, tries: u32, rtt: Option<Duration>, wait: Duration) -> Observation {
    Observation { evidence, tries, rtt, wait }
}

pub(super) fn tcp_connected(f: &Flight, job: &Job) -> Result<Option<Outcome>, Error> {
    if f.sock.local_addr().ok().and_then(|a| a.as_socket()) == Some(job.addr) {
        return Ok(None);
    }
    let stream = if job.keep_stream {
        let s: TcpStream = f.sock.try_clone().map_err(|e| Error::Socket(e.to_string()))?.into();
        s.set_nonblocking(false).map_err(|e| Error::Socket(e.to_string()))?;
        Some(s)
    } else {
        None
    };
    Ok(Some(Outcome {
        observation: observed(Evidence::Connected, f.attempt, Some(f.sent.elapsed()), f.wait),
        stream,
        note: None,
    }))
}

/// A UDP socket poll flagged: a reply, an error, or nothing yet.
pub(super) fn settle_udp(f: &Flight, opts: &Options, buf: &mut [MaybeUninit<u8>]) -> Result<Settled, Error> {
    let rtt = Some(f.sent.elapsed());
    let evidence = match f.sock.recv(buf) {
        Ok(n) => Evidence::Reply { bytes: n },
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
            // Flagged, yet nothing to read: an error may wait in SO_ERROR
            // alone (Wine's Winsock takes a port-unreachable there; on Linux
            // `recv` would have returned it, so this finds nothing).
            match f.sock.take_error() {
                Ok(Some(e)) => udp::error_evidence(&f.sock, &e)?,
                _ => return Ok(Settled::Pending),
            }
        }
        Err(e) => udp::error_evidence(&f.sock, &e)?,
    };
    let observation = observed(evidence, f.attempt, rtt, opts.udp.wait);
    Ok(Settled::Decided(Outcome { observation, stream: None, note: None }, false))
}
