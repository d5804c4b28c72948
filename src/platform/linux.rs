//! Linux: `IP_RECVERR` / `IPV6_RECVERR` and `MSG_ERRQUEUE` (see ip(7), ipv6(7)).
//!
//! Without these options a connected UDP socket never sees ICMP net- or
//! host-unreachable (the kernel treats them as transient) and cannot tell
//! host-prohibited from admin-prohibited; with them every error is queued
//! together with the offender's address, which is what lets us call a port
//! NOT LISTENING only when the *target itself* sent the port-unreachable.

use super::{ConnectState, IcmpReport};
use socket2::Socket;
use std::mem::{MaybeUninit, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

/// After `connect` reported a refusal, Linux has already reset the socket to
/// an unconnected one (`__inet_stream_connect`'s error path disconnects it),
/// and it can connect again: the engine saves a `socket` + `close` per port.
pub const REUSE_REFUSED_SOCKETS: bool = true;

/// Ask a non-blocking TCP connect for its result by calling `connect` again.
///
/// On a veth pair or loopback the SYN, the peer's RST and its processing all
/// happen inside the first `connect`, so most refusals are known at once and
/// need no `poll`. `EALREADY` means still in progress; an error returned here
/// is consumed from the socket (Linux's `sock_error`), which also makes the
/// socket reusable after a refusal.
pub fn connect_state(sock: &Socket, addr: &socket2::SockAddr) -> ConnectState {
    match sock.connect(addr) {
        Ok(()) => ConnectState::Connected,
        Err(e) => match e.raw_os_error() {
            Some(libc::EISCONN) => ConnectState::Connected,
            Some(libc::EALREADY | libc::EINPROGRESS | libc::EINTR) => ConnectState::Pending,
            _ => ConnectState::Failed(e),
        },
    }
}

const SO_EE_ORIGIN_ICMP: u8 = 2;
const SO_EE_ORIGIN_ICMP6: u8 = 3;

/// Ask the kernel to queue ICMP errors with their details on this socket.
pub fn enable_icmp_errors(sock: &Socket, v6: bool) -> std::io::Result<()> {
    let (level, name) =
        if v6 { (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) } else { (libc::IPPROTO_IP, libc::IP_RECVERR) };
    let one: libc::c_int = 1;
    // SAFETY: a valid fd, a pointer to a c_int and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Drain the socket's error queue and return the last ICMP error found.
///
/// The queue is drained completely (a pending entry keeps failing `recv`),
/// bounded by a fixed number of reads so a busy socket cannot keep us here.
pub fn take_icmp_error(sock: &Socket) -> Option<IcmpReport> {
    let mut last = None;
    for _ in 0..64 {
        match read_one(sock) {
            Some(Some(report)) => last = Some(report),
            Some(None) => {}
            None => break,
        }
    }
    last
}

/// One `recvmsg(MSG_ERRQUEUE)`: `None` when the queue is empty,
/// `Some(None)` for a non-ICMP entry (a local error).
fn read_one(sock: &Socket) -> Option<Option<IcmpReport>> {
    let mut data = [0u8; 512];
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 64];
    let mut iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: data.len() };
    // SAFETY: msghdr is plain old data; all-zero is a valid empty value.
    let mut msg: libc::msghdr = unsafe { MaybeUninit::zeroed().assume_init() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 64]>() as _;
    // SAFETY: msg points at buffers that outlive the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    if n < 0 {
        return None;
    }
    let mut found = None;
    // SAFETY: walking the control buffer the kernel just filled, with the
    // libc macros that bound each step by msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            let is_err = (c.cmsg_level == libc::IPPROTO_IP && c.cmsg_type == libc::IP_RECVERR)
                || (c.cmsg_level == libc::IPPROTO_IPV6 && c.cmsg_type == libc::IPV6_RECVERR);
            let payload_len = c.cmsg_len as usize - (libc::CMSG_DATA(cmsg) as usize - cmsg as usize);
            if is_err && payload_len >= size_of::<libc::sock_extended_err>() {
                let ee_ptr = libc::CMSG_DATA(cmsg) as *const libc::sock_extended_err;
                let ee = std::ptr::read_unaligned(ee_ptr);
                if ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6 {
                    let off_ptr = ee_ptr.add(1) as *const u8;
                    let off_len = payload_len - size_of::<libc::sock_extended_err>();
                    let offender = read_sockaddr(off_ptr, off_len);
                    found = Some(IcmpReport {
                        v6: ee.ee_origin == SO_EE_ORIGIN_ICMP6,
                        icmp_type: ee.ee_type,
                        code: ee.ee_code,
                        offender,
                    });
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Some(found)
}

/// Decode the offender sockaddr that follows `sock_extended_err` (SO_EE_OFFENDER).
///
/// # Safety
/// `ptr` must be valid for `len` bytes.
unsafe fn read_sockaddr(ptr: *const u8, len: usize) -> Option<IpAddr> {
    if len < size_of::<libc::sa_family_t>() {
        return None;
    }
    // SAFETY: bounded by len as checked above and below.
    unsafe {
        let family = std::ptr::read_unaligned(ptr as *const libc::sa_family_t);
        match family as libc::c_int {
            libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
                let sin = std::ptr::read_unaligned(ptr as *const libc::sockaddr_in);
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))))
            }
            libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
                let sin6 = std::ptr::read_unaligned(ptr as *const libc::sockaddr_in6);
                let v6 = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                // A v4 ICMP error on a v6 socket arrives as a mapped address.
                Some(match v6.to_ipv4_mapped() {
                    Some(v4) => IpAddr::V4(v4),
                    None => IpAddr::V6(v6),
                })
            }
            _ => None,
        }
    }
}

/// Whether the IPv4 neighbour (ARP) table holds `ip` unresolved: this machine
/// asked who has it and nobody answered. (IPv6's table needs netlink: `false`.)
pub fn neighbour_unresolved(ip: std::net::IpAddr) -> bool {
    let std::net::IpAddr::V4(v4) = ip else { return false };
    let Ok(table) = std::fs::read_to_string("/proc/net/arp") else { return false };
    let want = v4.to_string();
    // "IP address  HW type  Flags  HW address  Mask  Device"; flags 0x0: incomplete.
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 4 && f[0] == want && f[2] == "0x0"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, SockAddr, Type};
    use std::net::{SocketAddr, TcpListener};

    fn wait_for(sock: &Socket, addr: &SockAddr) -> ConnectState {
        // Bounded: loopback answers within microseconds.
        for _ in 0..1000 {
            match connect_state(sock, addr) {
                ConnectState::Pending => std::thread::sleep(std::time::Duration::from_millis(1)),
                other => return other,
            }
        }
        ConnectState::Pending
    }

    /// The kernel behaviour the engine's socket reuse rests on: after a second
    /// `connect` reported the refusal, the same socket connects elsewhere.
    #[test]
    fn refused_socket_connects_again() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let open_addr: SocketAddr = open.local_addr().unwrap();
        let sock = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None).unwrap();
        enable_icmp_errors(&sock, false).unwrap();
        for _ in 0..3 {
            let closed_sa = SockAddr::from(closed);
            let first = sock.connect(&closed_sa).unwrap_err();
            assert_eq!(first.raw_os_error(), Some(libc::EINPROGRESS), "{first}");
            match wait_for(&sock, &closed_sa) {
                ConnectState::Failed(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused),
                other => panic!("want a refusal, got {other:?}"),
            }
            assert!(take_icmp_error(&sock).is_none(), "a RST is not an ICMP error");
        }
        let open_sa = SockAddr::from(open_addr);
        let _ = sock.connect(&open_sa);
        assert!(matches!(wait_for(&sock, &open_sa), ConnectState::Connected));
        assert!(open.accept().is_ok());
    }
}
