//! POSIX calls shared by Linux, macOS and the BSDs: descriptor limits,
//! `poll(2)`, errno meanings, interface names, reverse look-ups, FIFOs that
//! must not block, and the stop signals. Callers stay free of `libc`.

use socket2::Socket;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// Raise the soft open-file limit toward the hard one; returns the soft limit.
pub fn raise_fd_limit() -> usize {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 1024;
        }
        let want = rl.rlim_max.min(1 << 20);
        if rl.rlim_cur < want {
            let new = libc::rlimit { rlim_cur: want, rlim_max: rl.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &new) == 0 {
                rl.rlim_cur = want;
            }
        }
        usize::try_from(rl.rlim_cur).unwrap_or(1024)
    }
}

/// Out of descriptors, buffers, memory or local ports: wait and retry, never a verdict.
pub fn is_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL | libc::EAGAIN)
    )
}

/// A non-blocking connect that is under way.
pub fn is_in_progress(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINPROGRESS)
}

/// What a socket is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
}

/// Wait up to `timeout` (0: just look) for any of `socks`; returns, for each,
/// whether it is ready (or has an error). An interrupted wait returns `None`.
pub fn poll_ready(socks: &[(&Socket, Interest)], timeout: Duration) -> Option<Vec<bool>> {
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|(s, i)| libc::pollfd {
            fd: s.as_raw_fd(),
            events: if *i == Interest::Write { libc::POLLOUT } else { libc::POLLIN },
            revents: 0,
        })
        .collect();
    let ms = match timeout.as_millis() {
        0 if timeout.is_zero() => 0,
        ms => ms.clamp(1, i32::MAX as u128) as libc::c_int,
    };
    // SAFETY: fds is a valid array of pollfd of the given length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    (n >= 0).then(|| fds.iter().map(|p| p.revents != 0).collect())
}

/// `poll` flags a socket with a pending error here (no need to look at idle
/// UDP sockets; see `windows.rs`).
pub const POLL_MISSES_UDP_ERRORS: bool = false;

/// Wait up to `timeout` for a socket to become writable (a non-blocking
/// connect finished, one way or the other); false when the time ran out.
pub fn wait_writable(sock: &Socket, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd: sock.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut pfd, 1, ms) } {
        n if n < 0 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// Let the next read on `stream` wait at most `slice`: a receive timeout
/// (`SO_RCVTIMEO`; the read then fails with `WouldBlock`).
pub fn read_slice(stream: &std::net::TcpStream, slice: Duration) -> io::Result<()> {
    stream.set_read_timeout(Some(slice))
}

/// Let the next write on `stream` wait at most `slice`: a send timeout.
pub fn write_slice(stream: &std::net::TcpStream, slice: Duration) -> io::Result<()> {
    stream.set_write_timeout(Some(slice))
}

/// Wait up to `timeout` for a descriptor to have something to read (or an
/// end); false on timeout or a signal. A FIFO that never had a writer does
/// not report POLLHUP (Linux), so this waits for one.
pub fn wait_readable(fd: RawFd, timeout: Duration) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// Errors that describe the path to the target rather than this machine.
pub fn unreachable_text(e: &io::Error) -> Option<String> {
    let code = e.raw_os_error()?;
    let what = match code {
        libc::ENETUNREACH => "network unreachable (no route from this machine)",
        libc::EHOSTUNREACH => "host unreachable",
        libc::EHOSTDOWN => "host is down",
        libc::EACCES => "access denied (administratively prohibited)",
        libc::EPERM => "operation not permitted (this machine's own firewall blocked the probe)",
        libc::ENOPROTOOPT | libc::EPROTO => "protocol unreachable",
        #[cfg(target_os = "linux")]
        libc::ENONET => "machine is not on the network",
        _ => return None,
    };
    Some(format!("{what} (OS error {code})"))
}

/// An I/O error in words (the OS's own text here: "Connection refused (os error 111)").
pub fn describe(e: &io::Error) -> String {
    e.to_string()
}

/// A write to a pipe whose reader went away (EPIPE).
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// A connect failing this way after its wait: on Unix every such error is the
/// connect's own answer (only Windows reports an accepted-then-reset
/// connection there; see `windows.rs`).
pub fn is_reset_after_handshake(_e: &io::Error) -> bool {
    false
}

/// Probes bound to `-sp` may run at once (`SO_REUSEADDR` lets them share the
/// port towards different targets).
pub const SOURCE_PORT_SHARED: bool = true;

/// Before binding `-sp`: `SO_REUSEADDR`, so our own TIME_WAIT from the previous
/// port does not block the next query; a port held by a listener still fails
/// with `EADDRINUSE`.
pub fn prepare_source_port(sock: &Socket) {
    let _ = sock.set_reuse_address(true);
}

/// A bind refused because another socket holds the port.
pub fn is_port_in_use(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::AddrInUse
}

/// Whether an interface with this index exists (an IPv6 zone must name one).
pub fn interface_exists(index: u32) -> bool {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer holds IF_NAMESIZE bytes, as if_indextoname requires.
    index != 0 && !unsafe { libc::if_indextoname(index, name.as_mut_ptr()) }.is_null()
}

/// The index of the interface called `name`.
pub fn interface_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// The name the resolver gives `addr` (blocking: run it under a deadline).
pub fn reverse_name(addr: IpAddr) -> Option<String> {
    let sa = socket2::SockAddr::from(std::net::SocketAddr::new(addr, 0));
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: sa is a valid sockaddr of the given length; host is a writable buffer.
    let rc = unsafe {
        libc::getnameinfo(
            sa.as_ptr().cast(),
            sa.len(),
            host.as_mut_ptr(),
            host.len() as _, // socklen_t on Linux, size_t on BSD
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: getnameinfo NUL-terminates on success.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// Open without blocking: a FIFO with no writer (or reader) does not hang
/// `open(2)`; the caller waits with a deadline instead.
pub fn open_nonblocking(opts: &mut std::fs::OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    opts.custom_flags(libc::O_NONBLOCK);
}

/// Writes block again as usual (a full pipe waits for its reader).
pub fn set_blocking(file: &std::fs::File) {
    // SAFETY: fcntl on a descriptor the file owns.
    unsafe {
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// A non-blocking open of a FIFO for writing that no process reads.
pub fn is_no_reader(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENXIO)
}

/// Whether a descriptor is a regular file (not a pipe, FIFO, terminal or device).
pub fn is_regular_fd(fd: RawFd) -> bool {
    // SAFETY: fstat on a caller's descriptor into a zeroed struct.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFREG
    }
}

/// Call `handler` (with the signal's number) on SIGINT, SIGTERM and SIGHUP.
/// It must only touch atomics (async-signal-safe).
pub fn on_stop_signals(handler: extern "C" fn(i32)) {
    for signo in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installing a handler that only stores to atomics.
        unsafe {
            libc::signal(signo, handler as *const () as libc::sighandler_t);
        }
    }
}

/// Standard input at a terminal, switched to single keys (no line editing,
/// no echo; Ctrl-C still signals) until dropped, for PortQry's "press Esc to
/// stop watching". `None` when standard input is no terminal.
pub struct KeyReader {
    saved: libc::termios,
}

impl KeyReader {
    pub fn new() -> Option<KeyReader> {
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() {
            return None;
        }
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a zeroed, then filled, struct.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            raw.c_lflag &= !(libc::ICANON | libc::ECHO);
            raw.c_cc[libc::VMIN] = 0;
            raw.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(0, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            Some(KeyReader { saved })
        }
    }

    /// Wait up to `timeout` for keys; true if Esc alone was pressed (an
    /// arrow key's escape sequence is not Esc).
    pub fn escape_within(&mut self, timeout: Duration) -> bool {
        if !wait_readable(0, timeout) {
            return false;
        }
        let mut buf = [0u8; 16];
        // SAFETY: read into a local buffer of that length.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        n == 1 && buf[0] == 0x1b
    }
}

impl Drop for KeyReader {
    fn drop(&mut self) {
        // SAFETY: restoring the settings read in `new`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}
