//! Linux: `IP_RECVERR` / `IPV6_RECVERR` and `MSG_ERRQUEUE` (see ip(7), ipv6(7)).
//!
//! Without these options a connected UDP socket never sees ICMP net- or
//! host-unreachable (the kernel treats them as transient) and cannot tell
//! host-prohibited from admin-prohibited; with them every error is queued
//! together with the offender's address, which is what lets us call a port
//! NOT LISTENING only when the *target itself* sent the port-unreachable.

use super::IcmpReport;
use socket2::Socket;
use std::mem::{MaybeUninit, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

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
