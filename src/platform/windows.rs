//! Windows (Winsock) calls, the counterpart of `unix.rs`: `WSAPoll` for the
//! engine and the sliced waits, Winsock error codes in words, exclusive
//! source ports, reverse look-ups (`GetNameInfoW`), interface names and the
//! console control handler (Ctrl-C, Ctrl-Break, a closed console window).
//! Callers stay free of `windows_sys`.

use socket2::Socket;
use std::io;
use std::net::IpAddr;
use std::os::windows::io::AsRawSocket;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use windows_sys::Win32::Networking::WinSock as ws;

/// What a socket is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
}

/// Windows has no per-process descriptor limit to raise: sockets are bounded by
/// memory and ephemeral ports, which [`is_exhaustion`] reports. This is the
/// cap the engine applies to `--concurrency`.
pub fn raise_fd_limit() -> usize {
    16_384
}

/// Out of buffers, sockets or local ports: wait and retry, never a verdict.
/// (`WSAEADDRNOTAVAIL` is not one here: on Windows a `connect` says so for a
/// target address that cannot be used, and port exhaustion is `WSAENOBUFS`.)
pub fn is_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(ws::WSAEMFILE | ws::WSAENOBUFS | ws::WSA_NOT_ENOUGH_MEMORY))
}

/// A non-blocking connect that is under way (`WSAEWOULDBLOCK` on Windows).
pub fn is_in_progress(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(ws::WSAEWOULDBLOCK | ws::WSAEINPROGRESS | ws::WSAEALREADY))
}

/// Wait up to `timeout` (0: just look) for any of `socks` (`WSAPoll`); returns,
/// for each, whether it is ready (or has an error or a hang-up). A failed wait
/// returns `None` after sleeping a little, so a caller that loops on it does
/// not spin.
pub fn poll_ready(socks: &[(&Socket, Interest)], timeout: Duration) -> Option<Vec<bool>> {
    if socks.is_empty() {
        std::thread::sleep(timeout);
        return Some(Vec::new());
    }
    let mut fds: Vec<ws::WSAPOLLFD> = socks
        .iter()
        .map(|(s, i)| ws::WSAPOLLFD {
            fd: s.as_raw_socket() as ws::SOCKET,
            events: if *i == Interest::Write { ws::POLLWRNORM } else { ws::POLLRDNORM },
            revents: 0,
        })
        .collect();
    let ms = match timeout.as_millis() {
        0 if timeout.is_zero() => 0,
        ms => ms.clamp(1, i32::MAX as u128) as i32,
    };
    // SAFETY: fds is a valid array of WSAPOLLFD of the given length.
    let n = unsafe { ws::WSAPoll(fds.as_mut_ptr(), fds.len() as u32, ms) };
    if n < 0 {
        std::thread::sleep(timeout.min(Duration::from_millis(10)));
        return None;
    }
    Some(fds.iter().map(|p| p.revents != 0).collect())
}

/// `WSAPoll` may not flag a connected UDP socket whose datagram drew a port
/// unreachable (Wine's does not; the error waits in `SO_ERROR` and a `recv`
/// gives `WSAECONNRESET`): UDP probes look for it on every wake-up.
pub const POLL_MISSES_UDP_ERRORS: bool = true;

/// Wait up to `timeout` for a socket to become writable (a non-blocking
/// connect finished, one way or the other); false when the time ran out.
pub fn wait_writable(sock: &Socket, timeout: Duration) -> io::Result<bool> {
    wait_for(sock, Interest::Write, timeout)
}

/// Let the next read on `stream` wait at most `slice`: a receive timeout.
/// Winsock documents a socket whose receive timed out as undefined; a
/// `WSAPoll` wait on a non-blocking socket was tried instead, but under Wine a
/// peer's reset then reads as a clean end of stream (tests/tls_loopback.rs
/// `a_server_that_hangs_up_is_told_apart`), so TCP conversations keep the
/// timeout: each one that expires is followed by another receive or ends the
/// conversation, and none was seen to misbehave (docs/DEVELOPING.md).
pub fn read_slice(stream: &std::net::TcpStream, slice: Duration) -> io::Result<()> {
    stream.set_read_timeout(Some(slice))
}

/// Let the next write on `stream` wait at most `slice`: a send timeout.
pub fn write_slice(stream: &std::net::TcpStream, slice: Duration) -> io::Result<()> {
    stream.set_write_timeout(Some(slice))
}

/// Wait up to `timeout` for a datagram (or an error) on a socket.
/// The wait is cut to 20 ms slices ([`POLL_MISSES_UDP_ERRORS`]): the caller
/// then looks at `recv` and `SO_ERROR` itself.
pub fn wait_socket_readable(sock: &Socket, timeout: Duration) -> io::Result<bool> {
    wait_for(sock, Interest::Read, timeout.min(Duration::from_millis(20)))
}

fn wait_for(sock: &Socket, interest: Interest, timeout: Duration) -> io::Result<bool> {
    let mut pfd = ws::WSAPOLLFD {
        fd: sock.as_raw_socket() as ws::SOCKET,
        events: if interest == Interest::Write { ws::POLLWRNORM } else { ws::POLLRDNORM },
        revents: 0,
    };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: one valid WSAPOLLFD.
    match unsafe { ws::WSAPoll(&mut pfd, 1, ms) } {
        n if n < 0 => Err(io::Error::from_raw_os_error(last_wsa_error())),
        0 => Ok(false),
        _ => Ok(true),
    }
}

fn last_wsa_error() -> i32 {
    // SAFETY: reads this thread's last Winsock error.
    unsafe { ws::WSAGetLastError() }
}

/// A Winsock (or Win32) error code in words, as `strerror` says it on Linux.
/// `FormatMessageW` has no text for many Winsock codes on some systems (Wine
/// among them), and std then prints the code twice with an error of its own.
fn words(code: i32) -> Option<&'static str> {
    Some(match code {
        ws::WSAEINTR => "Interrupted function call",
        ws::WSAEACCES => "Permission denied",
        ws::WSAEFAULT => "Bad address",
        ws::WSAEINVAL => "Invalid argument",
        ws::WSAEMFILE => "Too many open sockets",
        ws::WSAEWOULDBLOCK => "Resource temporarily unavailable",
        ws::WSAEINPROGRESS => "Operation now in progress",
        ws::WSAEALREADY => "Operation already in progress",
        ws::WSAENOTSOCK => "Socket operation on non-socket",
        ws::WSAEMSGSIZE => "Message too long",
        ws::WSAEPROTOTYPE => "Protocol wrong type for socket",
        ws::WSAENOPROTOOPT => "Protocol not available",
        ws::WSAEPROTONOSUPPORT => "Protocol not supported",
        ws::WSAEAFNOSUPPORT => "Address family not supported by protocol",
        ws::WSAEADDRINUSE => "Address already in use",
        ws::WSAEADDRNOTAVAIL => "Cannot assign requested address",
        ws::WSAENETDOWN => "Network is down",
        ws::WSAENETUNREACH => "Network is unreachable",
        ws::WSAENETRESET => "Network dropped connection on reset",
        ws::WSAECONNABORTED => "Software caused connection abort",
        ws::WSAECONNRESET => "Connection reset by peer",
        ws::WSAENOBUFS => "No buffer space available",
        ws::WSAEISCONN => "Transport endpoint is already connected",
        ws::WSAENOTCONN => "Transport endpoint is not connected",
        ws::WSAETIMEDOUT => "Connection timed out",
        ws::WSAECONNREFUSED => "Connection refused",
        ws::WSAEHOSTDOWN => "Host is down",
        ws::WSAEHOSTUNREACH => "No route to host",
        ws::WSANOTINITIALISED => "Winsock is not initialised",
        ws::WSAHOST_NOT_FOUND => "Host not found",
        ws::WSATRY_AGAIN => "Temporary failure in name resolution",
        ws::WSANO_DATA => "No address associated with the name",
        _ => return None,
    })
}

/// An I/O error in words: "Connection refused (os error 10061)" for a Winsock
/// code, whatever `FormatMessageW` knows.
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => match words(code) {
            Some(w) => format!("{w} (os error {code})"),
            None => {
                let text = e.to_string();
                if text.contains("FormatMessageW") { format!("OS error {code}") } else { text }
            }
        },
        None => e.to_string(),
    }
}

/// A write to a pipe whose reader went away (`| more` quit): `ERROR_NO_DATA`
/// on Windows, `ERROR_PIPE_NOT_CONNECTED` under Wine, besides std's BrokenPipe.
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe || matches!(e.raw_os_error(), Some(232 | 233))
}

/// Errors that describe the path to the target rather than this machine.
pub fn unreachable_text(e: &io::Error) -> Option<String> {
    let code = e.raw_os_error()?;
    let what = match code {
        ws::WSAENETUNREACH => "network unreachable (no route from this machine)",
        ws::WSAEHOSTUNREACH => "host unreachable",
        ws::WSAEHOSTDOWN => "host is down",
        ws::WSAENETDOWN => "network is down",
        _ => return None,
    };
    Some(format!("{what} (OS error {code})"))
}

/// A connect that failed this way got its handshake first: the peer accepted,
/// then reset or aborted the connection (a health check, a server at its
/// limit). Winsock reports a refused SYN as `WSAECONNREFUSED`, never these.
pub fn is_reset_after_handshake(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(ws::WSAECONNRESET | ws::WSAECONNABORTED))
}

/// Probes bound to `-sp` cannot share the port here (exclusive binds): the
/// engine runs them one at a time.
pub const SOURCE_PORT_SHARED: bool = false;

/// Before binding `-sp`: `SO_EXCLUSIVEADDRUSE`, so the bind fails on a port
/// another program holds (on Windows `SO_REUSEADDR` would take it over).
/// And an abortive close (linger 0, a RST): our own TIME_WAIT from one probe
/// would hold the port against the next.
pub fn prepare_source_port(sock: &Socket) {
    let _ = sock.set_linger(Some(Duration::ZERO));
    let one: i32 = 1;
    // SAFETY: setsockopt on a socket we own with a 4-byte int option.
    unsafe {
        ws::setsockopt(
            sock.as_raw_socket() as ws::SOCKET,
            ws::SOL_SOCKET,
            ws::SO_EXCLUSIVEADDRUSE,
            (&one as *const i32).cast(),
            std::mem::size_of::<i32>() as i32,
        );
    }
}

/// A bind refused because another socket holds the port: `WSAEADDRINUSE`, or
/// `WSAEACCES` where the holder uses `SO_EXCLUSIVEADDRUSE`.
pub fn is_port_in_use(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(ws::WSAEADDRINUSE | ws::WSAEACCES))
}

/// Whether an interface with this index exists (an IPv6 zone must name one).
pub fn interface_exists(index: u32) -> bool {
    let mut name = [0u8; 256];
    // SAFETY: the buffer holds more than IF_NAMESIZE bytes.
    index != 0
        && !unsafe {
            windows_sys::Win32::NetworkManagement::IpHelper::if_indextoname(index, name.as_mut_ptr())
        }
        .is_null()
}

/// The index of the interface called `name`.
pub fn interface_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid NUL-terminated string.
    let idx = unsafe { windows_sys::Win32::NetworkManagement::IpHelper::if_nametoindex(c.as_ptr().cast()) };
    (idx != 0).then_some(idx)
}

/// Winsock must be started before `GetNameInfoW`; std starts it only for its
/// own sockets.
fn winsock_started() -> bool {
    static STARTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STARTED.get_or_init(|| {
        // SAFETY: WSAStartup with a zeroed WSADATA to fill; never cleaned up
        // (it is reference-counted and the process ends with it).
        unsafe {
            let mut data: ws::WSADATA = std::mem::zeroed();
            ws::WSAStartup(0x0202, &mut data) == 0
        }
    })
}

/// The name the resolver gives `addr` (`GetNameInfoW`, `NI_NAMEREQD`;
/// blocking: run it under a deadline).
pub fn reverse_name(addr: IpAddr) -> Option<String> {
    if !winsock_started() {
        return None;
    }
    let sa = socket2::SockAddr::from(std::net::SocketAddr::new(addr, 0));
    let mut host = [0u16; 1025];
    // SAFETY: sa is a valid sockaddr of the given length; host is a writable buffer.
    let rc = unsafe {
        ws::GetNameInfoW(
            sa.as_ptr().cast(),
            sa.len(),
            host.as_mut_ptr(),
            host.len() as u32,
            std::ptr::null_mut(),
            0,
            ws::NI_NAMEREQD as i32,
        )
    };
    if rc != 0 {
        return None;
    }
    let len = host.iter().position(|&c| c == 0).unwrap_or(host.len());
    let name = String::from_utf16_lossy(&host[..len]);
    (!name.is_empty()).then_some(name)
}

/// The stop handler [`on_stop_signals`] was given (0: none).
static HANDLER: AtomicUsize = AtomicUsize::new(0);

unsafe extern "system" fn on_console_event(kind: u32) -> windows_sys::core::BOOL {
    use windows_sys::Win32::System::Console as con;
    // The Unix signal each event stands for, so the exit code is the same:
    // Ctrl-C and Ctrl-Break 130 (SIGINT), a closed console 129 (SIGHUP),
    // log-off and shut-down 143 (SIGTERM).
    let signo = match kind {
        con::CTRL_C_EVENT | con::CTRL_BREAK_EVENT => 2,
        con::CTRL_CLOSE_EVENT => 1,
        _ => 15,
    };
    let f = HANDLER.load(Ordering::SeqCst);
    if f == 0 {
        return 0; // not ours: the default handler ends the process
    }
    // SAFETY: only ever set from an `extern "C" fn(i32)` in `on_stop_signals`.
    let handler: extern "C" fn(i32) = unsafe { std::mem::transmute::<usize, extern "C" fn(i32)>(f) };
    handler(signo);
    if kind == con::CTRL_CLOSE_EVENT {
        // Windows ends the process when this returns (within 5 s anyway):
        // give the run a moment to close its report and log.
        std::thread::sleep(Duration::from_secs(2));
    }
    1
}

/// Call `handler` (with the matching Unix signal number) on Ctrl-C,
/// Ctrl-Break and a closed console (`SetConsoleCtrlHandler`). It runs on a
/// thread of its own and must only touch atomics.
pub fn on_stop_signals(handler: extern "C" fn(i32)) {
    HANDLER.store(handler as usize, Ordering::SeqCst);
    // SAFETY: registering a handler routine that stays valid for the process.
    unsafe {
        windows_sys::Win32::System::Console::SetConsoleCtrlHandler(Some(on_console_event), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winsock_errors_are_said_in_words_once() {
        let e = io::Error::from_raw_os_error(ws::WSAEHOSTUNREACH);
        assert_eq!(describe(&e), "No route to host (os error 10065)");
        assert_eq!(unreachable_text(&e).as_deref(), Some("host unreachable (OS error 10065)"));
        let e = io::Error::from_raw_os_error(ws::WSAECONNREFUSED);
        assert_eq!(describe(&e), "Connection refused (os error 10061)");
        assert_eq!(unreachable_text(&e), None);
        // A code without words here: std's text, or the code once.
        let d = describe(&io::Error::from_raw_os_error(2));
        assert!(!d.contains("FormatMessageW"), "{d}");
        assert_eq!(d.matches("error 2").count(), 1, "{d}");
    }

    #[test]
    fn in_use_progress_and_exhaustion_codes() {
        let code = io::Error::from_raw_os_error;
        assert!(is_port_in_use(&code(ws::WSAEADDRINUSE)));
        assert!(is_port_in_use(&code(ws::WSAEACCES)));
        assert!(!is_port_in_use(&code(ws::WSAECONNREFUSED)));
        assert!(is_in_progress(&code(ws::WSAEWOULDBLOCK)));
        assert!(!is_in_progress(&code(ws::WSAECONNREFUSED)));
        assert!(is_exhaustion(&code(ws::WSAENOBUFS)));
        assert!(!is_exhaustion(&code(ws::WSAEADDRNOTAVAIL)));
        assert!(is_reset_after_handshake(&code(ws::WSAECONNRESET)));
        assert!(is_broken_pipe(&code(233)) && is_broken_pipe(&code(232)) && !is_broken_pipe(&code(5)));
        assert!(!is_reset_after_handshake(&code(ws::WSAECONNREFUSED)));
    }

    #[test]
    fn loopback_reverse_resolves_and_polls() {
        // /etc/hosts under Wine, the hosts file on Windows: 127.0.0.1 has a name.
        assert!(reverse_name("127.0.0.1".parse().unwrap()).is_some_and(|n| !n.is_empty()));
        let l = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let s = Socket::from(l.try_clone().unwrap());
        assert_eq!(poll_ready(&[(&s, Interest::Read)], Duration::from_millis(1)), Some(vec![false]));
        l.send_to(b"x", l.local_addr().unwrap()).unwrap();
        assert!(wait_socket_readable(&s, Duration::from_millis(20)).is_ok());
        assert_eq!(poll_ready(&[(&s, Interest::Read)], Duration::from_millis(1000)), Some(vec![true]));
    }
}
