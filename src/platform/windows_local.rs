//! Local mode on Windows: the TCP and UDP tables with their owner PIDs
//! (`GetExtendedTcpTable` / `GetExtendedUdpTable`, `*_OWNER_PID` classes),
//! process names from `QueryFullProcessImageNameW`, modules from
//! `EnumProcessModulesEx` — filling the same `local::Snapshot` as Linux.
//! Services (the SCM's service names) are not looked up yet.

use crate::error::Error;
use crate::local::{
    LocalSocket, Module, Modules, ModulesFor, Owner, ProcessInfo, Protocol, Request, Snapshot, TcpState,
};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use windows_sys::Win32::Foundation::{CloseHandle, ERROR_INSUFFICIENT_BUFFER, HANDLE, HMODULE, NO_ERROR};
use windows_sys::Win32::NetworkManagement::IpHelper as ip;
use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};
use windows_sys::Win32::System::ProcessStatus::{
    EnumProcessModulesEx, GetModuleFileNameExW, LIST_MODULES_ALL,
};
use windows_sys::Win32::System::Threading::{
    OpenProcess, PROCESS_NAME_WIN32, PROCESS_QUERY_INFORMATION, PROCESS_QUERY_LIMITED_INFORMATION,
    PROCESS_VM_READ, QueryFullProcessImageNameW,
};

/// One table, as the IP Helper returns it: a `u32` row count, then the rows.
/// `fill` is called with a buffer and its size until the buffer is big enough.
fn table(what: &str, fill: impl Fn(*mut core::ffi::c_void, *mut u32) -> u32) -> Result<Vec<u8>, Error> {
    let mut size: u32 = 0;
    let mut buf: Vec<u8> = Vec::new();
    // The table can grow between the size query and the read: a few rounds.
    for _ in 0..8 {
        let rc = fill(if buf.is_empty() { std::ptr::null_mut() } else { buf.as_mut_ptr().cast() }, &mut size);
        match rc {
            NO_ERROR if !buf.is_empty() => return Ok(buf),
            NO_ERROR | ERROR_INSUFFICIENT_BUFFER => buf = vec![0u8; size as usize + 4096],
            e => {
                return Err(Error::Socket(format!(
                    "cannot read this machine's {what} socket table: {}",
                    super::windows::describe(&std::io::Error::from_raw_os_error(e as i32))
                )));
            }
        }
    }
    Err(Error::Socket(format!("cannot read this machine's {what} socket table: it kept growing")))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A port as the tables give it: network byte order in the low 16 bits' bytes.
fn port_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn v4_at(b: &[u8], at: usize) -> Option<IpAddr> {
    let o: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(o)))
}

fn v6_at(b: &[u8], at: usize, port: u16, scope: u32) -> Option<SocketAddr> {
    let o: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(o), port, 0, scope)))
}

fn state(s: u32) -> TcpState {
    match s as i32 {
        ip::MIB_TCP_STATE_LISTEN => TcpState::Listening,
        ip::MIB_TCP_STATE_SYN_SENT => TcpState::SynSent,
        ip::MIB_TCP_STATE_SYN_RCVD => TcpState::SynReceived,
        ip::MIB_TCP_STATE_ESTAB => TcpState::Established,
        ip::MIB_TCP_STATE_FIN_WAIT1 => TcpState::FinWait1,
        ip::MIB_TCP_STATE_FIN_WAIT2 => TcpState::FinWait2,
        ip::MIB_TCP_STATE_CLOSE_WAIT => TcpState::CloseWait,
        ip::MIB_TCP_STATE_CLOSING => TcpState::Closing,
        ip::MIB_TCP_STATE_LAST_ACK => TcpState::LastAck,
        ip::MIB_TCP_STATE_TIME_WAIT => TcpState::TimeWait,
        _ => TcpState::Closed,
    }
}

/// PID 0 owns what no process holds any more (TIME WAIT), as on PortQry.
/// PID 0 on any other socket means the owner was not told (Wine 8 gives 0
/// for every socket): "owner unknown", not "no process".
fn owner(pid: u32, state: Option<TcpState>) -> Owner {
    match (pid, state) {
        (0, Some(TcpState::TimeWait | TcpState::Closed)) => Owner::Orphan,
        (0, _) => Owner::Unknown,
        (p, _) => Owner::Pid(p),
    }
}

/// The rows of a table read by [`table`]: `(row size, parse one row)`.
fn rows(b: &[u8], size: usize, parse: impl Fn(&[u8]) -> Option<LocalSocket>) -> Vec<LocalSocket> {
    let n = u32_at(b, 0).unwrap_or(0) as usize;
    (0..n).filter_map(|i| b.get(4 + i * size..4 + (i + 1) * size)).filter_map(parse).collect()
}

/// `MIB_TCPROW_OWNER_PID`: state, local addr, local port, remote addr, remote port, PID.
fn tcp4_row(r: &[u8]) -> Option<LocalSocket> {
    Some(LocalSocket {
        protocol: Protocol::Tcp,
        local: SocketAddr::new(v4_at(r, 4)?, port_at(r, 8)?),
        remote: SocketAddr::new(v4_at(r, 12)?, port_at(r, 16)?),
        state: Some(state(u32_at(r, 0)?)),
        owner: owner(u32_at(r, 20)?, Some(state(u32_at(r, 0)?))),
    })
}

/// `MIB_TCP6ROW_OWNER_PID`: local addr, scope, port; remote addr, scope, port; state, PID.
fn tcp6_row(r: &[u8]) -> Option<LocalSocket> {
    Some(LocalSocket {
        protocol: Protocol::Tcp,
        local: v6_at(r, 0, port_at(r, 20)?, u32_at(r, 16)?)?,
        remote: v6_at(r, 24, port_at(r, 44)?, u32_at(r, 40)?)?,
        state: Some(state(u32_at(r, 48)?)),
        owner: owner(u32_at(r, 52)?, Some(state(u32_at(r, 48)?))),
    })
}

/// `MIB_UDPROW_OWNER_PID`: local addr, local port, PID.
fn udp4_row(r: &[u8]) -> Option<LocalSocket> {
    Some(LocalSocket {
        protocol: Protocol::Udp,
        local: SocketAddr::new(v4_at(r, 0)?, port_at(r, 4)?),
        remote: SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
        state: None,
        owner: owner(u32_at(r, 8)?, None),
    })
}

/// `MIB_UDP6ROW_OWNER_PID`: local addr, scope, port, PID.
fn udp6_row(r: &[u8]) -> Option<LocalSocket> {
    Some(LocalSocket {
        protocol: Protocol::Udp,
        local: v6_at(r, 0, port_at(r, 20)?, u32_at(r, 16)?)?,
        remote: SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
        state: None,
        owner: owner(u32_at(r, 24)?, None),
    })
}

/// A process handle, closed when dropped.
struct Process(HANDLE);

impl Process {
    fn open(pid: u32, access: u32) -> Option<Process> {
        // SAFETY: OpenProcess with a PID; a null handle is a failure.
        let h = unsafe { OpenProcess(access, 0, pid) };
        (!h.is_null()).then_some(Process(h))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: a handle OpenProcess returned, closed once.
        unsafe {
            CloseHandle(self.0);
        }
    }
}

fn wide(buf: &[u16]) -> String {
    let len = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf16_lossy(&buf[..len])
}

/// The program's file name (`svchost.exe`), as PortQry shows it.
fn name(pid: u32) -> Option<String> {
    match pid {
        0 => return Some("System Idle Process".into()),
        4 => return Some("System".into()),
        _ => {}
    }
    let p = Process::open(pid, PROCESS_QUERY_LIMITED_INFORMATION)?;
    let mut buf = vec![0u16; 32_768];
    let mut len = buf.len() as u32;
    // SAFETY: a valid process handle and a buffer of `len` UTF-16 units.
    if unsafe { QueryFullProcessImageNameW(p.0, PROCESS_NAME_WIN32, buf.as_mut_ptr(), &mut len) } == 0 {
        return None;
    }
    let path = String::from_utf16_lossy(&buf[..(len as usize).min(buf.len())]);
    let file = path.rsplit(['\\', '/']).next().unwrap_or(&path).to_string();
    (!file.is_empty()).then_some(file)
}

/// The modules a process has loaded, each at its base address.
fn modules(pid: u32) -> Modules {
    let Some(p) = Process::open(pid, PROCESS_QUERY_INFORMATION | PROCESS_VM_READ) else {
        return Modules::Inaccessible;
    };
    let mut handles: Vec<HMODULE> = vec![std::ptr::null_mut(); 1024];
    for _ in 0..4 {
        let cb = (handles.len() * std::mem::size_of::<HMODULE>()) as u32;
        let mut needed = 0u32;
        // SAFETY: a valid process handle and a buffer of `cb` bytes.
        if unsafe { EnumProcessModulesEx(p.0, handles.as_mut_ptr(), cb, &mut needed, LIST_MODULES_ALL) } == 0
        {
            return Modules::Inaccessible;
        }
        let n = needed as usize / std::mem::size_of::<HMODULE>();
        if n <= handles.len() {
            handles.truncate(n);
            let mut list = Vec::with_capacity(n);
            let mut buf = vec![0u16; 32_768];
            for &m in &handles {
                // SAFETY: a valid process handle, a module handle it returned, a buffer of that size.
                let len = unsafe { GetModuleFileNameExW(p.0, m, buf.as_mut_ptr(), buf.len() as u32) };
                if len > 0 {
                    list.push(Module { path: wide(&buf[..len as usize]), base: m as u64 });
                }
            }
            return if list.is_empty() { Modules::Inaccessible } else { Modules::List(list) };
        }
        handles = vec![std::ptr::null_mut(); n + 64];
    }
    Modules::Inaccessible
}

/// Everything local mode reports, now.
pub fn local_snapshot(req: &Request) -> Result<Snapshot, Error> {
    let mut sockets = Vec::new();
    for (af, what, size, parse) in [
        (AF_INET, "TCP", 24, tcp4_row as fn(&[u8]) -> Option<LocalSocket>),
        (AF_INET6, "TCP/IPv6", 56, tcp6_row),
    ] {
        // SAFETY: the IP Helper fills a buffer of `*size` bytes (or says how many it needs).
        let b = table(what, |buf, size| unsafe {
            ip::GetExtendedTcpTable(buf, size, 0, af as u32, ip::TCP_TABLE_OWNER_PID_ALL, 0)
        });
        match b {
            Ok(b) => sockets.extend(rows(&b, size, parse)),
            Err(_) if af == AF_INET6 => {} // no IPv6 stack
            Err(e) => return Err(e),
        }
    }
    for (af, what, size, parse) in [
        (AF_INET, "UDP", 12, udp4_row as fn(&[u8]) -> Option<LocalSocket>),
        (AF_INET6, "UDP/IPv6", 28, udp6_row),
    ] {
        // SAFETY: as above.
        let b = table(what, |buf, size| unsafe {
            ip::GetExtendedUdpTable(buf, size, 0, af as u32, ip::UDP_TABLE_OWNER_PID, 0)
        });
        match b {
            Ok(b) => sockets.extend(rows(&b, size, parse)),
            Err(_) if af == AF_INET6 => {}
            Err(e) => return Err(e),
        }
    }
    let mut pids: BTreeSet<u32> = sockets
        .iter()
        .filter_map(|s| match s.owner {
            Owner::Pid(p) => Some(p),
            _ => None,
        })
        .collect();
    if let Some(pid) = req.pid.filter(|p| *p != 0 && name(*p).is_some()) {
        pids.insert(pid);
    }
    let processes = pids
        .into_iter()
        .map(|pid| {
            let want = match req.modules {
                ModulesFor::None => false,
                ModulesFor::All => true,
                ModulesFor::Pid(p) => p == pid,
            };
            ProcessInfo {
                pid,
                name: name(pid),
                service: None,
                modules: if want { modules(pid) } else { Modules::NotRequested },
            }
        })
        .collect();
    let mut snap = Snapshot { sockets, processes };
    snap.sort();
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_from_the_tables_layout() {
        // One MIB_TCPROW_OWNER_PID: LISTEN on 0.0.0.0:135 by PID 868.
        let mut b = 1u32.to_ne_bytes().to_vec();
        b.extend(2u32.to_ne_bytes());
        b.extend([0, 0, 0, 0]);
        b.extend([0, 135, 0, 0]);
        b.extend([0, 0, 0, 0]);
        b.extend([0, 0, 0, 0]);
        b.extend(868u32.to_ne_bytes());
        let s = rows(&b, 24, tcp4_row);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].local, "0.0.0.0:135".parse().unwrap());
        assert_eq!((s[0].state, s[0].owner), (Some(TcpState::Listening), Owner::Pid(868)));
        // A count larger than the rows present reads what is there.
        b[0] = 9;
        assert_eq!(rows(&b, 24, tcp4_row).len(), 1);
        // TIME WAIT with PID 0: no process holds it.
        b[0] = 1;
        b[4] = 11;
        assert_eq!(rows(&b, 24, tcp4_row)[0].owner, Owner::Pid(868));
        b[24..28].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(rows(&b, 24, tcp4_row)[0].owner, Owner::Orphan);
        // MIB_UDP6ROW_OWNER_PID: [::1]:53, scope 0, PID 0 → owner not told.
        let mut u = 1u32.to_ne_bytes().to_vec();
        u.extend(Ipv6Addr::LOCALHOST.octets());
        u.extend(0u32.to_ne_bytes());
        u.extend([0, 53, 0, 0]);
        u.extend(0u32.to_ne_bytes());
        let s = rows(&u, 28, udp6_row);
        assert_eq!((s[0].local, s[0].owner), ("[::1]:53".parse().unwrap(), Owner::Unknown));
    }

    #[test]
    fn this_process_and_its_listener_are_found() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let me = std::process::id();
        let req = Request { modules: ModulesFor::Pid(me), pid: Some(me) };
        let snap = local_snapshot(&req).unwrap();
        let s = snap.sockets.iter().find(|s| s.local.port() == port && s.protocol == Protocol::Tcp);
        let s = s.unwrap_or_else(|| panic!("port {port} not in {:?}", snap.sockets));
        assert_eq!(s.state, Some(TcpState::Listening));
        // Windows names the owner; Wine 8 gives PID 0 for every socket.
        assert!(matches!(s.owner, Owner::Pid(p) if p == me) || s.owner == Owner::Unknown, "{s:?}");
        let p = snap.process(me).expect("this process");
        assert!(p.name.as_deref().is_some_and(|n| n.ends_with(".exe")), "{p:?}");
        assert!(
            matches!(&p.modules, Modules::List(m) if m.iter().any(|m| m.path.to_lowercase().contains("ntdll"))),
            "{p:?}"
        );
    }
}
