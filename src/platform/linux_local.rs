//! Local mode on Linux: the TCP/UDP tables of this network namespace
//! (`/proc/net/{tcp,tcp6,udp,udp6}`), socket inode → PID from `/proc/PID/fd`,
//! names from `comm`, services from `cgroup`, modules from `maps` — all read
//! through the `procfs` crate.

use crate::error::Error;
use crate::local::{
    LocalSocket, Module, Modules, ModulesFor, Owner, ProcessInfo, Protocol, Request, Snapshot, TcpState,
    service_from_cgroup,
};
use procfs::net::TcpState as Ts;
use procfs::process::{FDTarget, MMapPath, Process};
use std::collections::{BTreeSet, HashMap};

fn state(s: &Ts) -> TcpState {
    match s {
        Ts::Listen => TcpState::Listening,
        Ts::SynSent => TcpState::SynSent,
        Ts::SynRecv | Ts::NewSynRecv => TcpState::SynReceived,
        Ts::Established => TcpState::Established,
        Ts::FinWait1 => TcpState::FinWait1,
        Ts::FinWait2 => TcpState::FinWait2,
        Ts::CloseWait => TcpState::CloseWait,
        Ts::Closing => TcpState::Closing,
        Ts::LastAck => TcpState::LastAck,
        Ts::TimeWait => TcpState::TimeWait,
        Ts::Close => TcpState::Closed,
    }
}

fn table_error(what: &str, e: procfs::ProcError) -> Error {
    Error::Socket(format!("cannot read this machine's {what} socket table: {e}"))
}

/// The files a process maps, each once at its lowest address (its base).
fn modules(p: &Process) -> Modules {
    let Ok(maps) = p.maps() else {
        return Modules::Inaccessible;
    };
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut order = Vec::new();
    for m in maps {
        if let MMapPath::Path(path) = &m.pathname {
            let path = path.to_string_lossy().into_owned();
            match seen.get_mut(&path) {
                Some(base) => *base = (*base).min(m.address.0),
                None => {
                    seen.insert(path.clone(), m.address.0);
                    order.push(path);
                }
            }
        }
    }
    if order.is_empty() {
        // Kernel threads map nothing; a process whose maps were unreadable reads as empty too.
        return Modules::Inaccessible;
    }
    Modules::List(order.into_iter().map(|path| Module { base: seen[&path], path }).collect())
}

fn describe(pid: u32, want_modules: bool) -> ProcessInfo {
    let p = Process::new(pid as i32).ok();
    let name = p.as_ref().and_then(|p| p.stat().ok()).map(|s| s.comm);
    let service = p
        .as_ref()
        .and_then(|p| p.cgroups().ok())
        .and_then(|c| service_from_cgroup(c.0.iter().map(|g| g.pathname.as_str())));
    let modules = match (&p, want_modules) {
        (_, false) => Modules::NotRequested,
        (Some(p), true) => modules(p),
        (None, true) => Modules::Inaccessible,
    };
    ProcessInfo { pid, name, service, modules }
}

/// Everything local mode reports, now.
pub fn local_snapshot(req: &Request) -> Result<Snapshot, Error> {
    // inode → (protocol, local, remote, state); inode 0 = no owner (TIME WAIT).
    let mut raw: Vec<(Protocol, std::net::SocketAddr, std::net::SocketAddr, Option<TcpState>, u64)> =
        Vec::new();
    for (name, table) in [("TCP", procfs::net::tcp()), ("TCP/IPv6", procfs::net::tcp6())] {
        match table {
            Ok(rows) => {
                raw.extend(rows.into_iter().map(|r| {
                    (Protocol::Tcp, r.local_address, r.remote_address, Some(state(&r.state)), r.inode)
                }))
            }
            // A kernel without IPv6 has no tcp6 table.
            Err(procfs::ProcError::NotFound(_)) if name.contains("IPv6") => {}
            Err(e) => return Err(table_error(name, e)),
        }
    }
    for (name, table) in [("UDP", procfs::net::udp()), ("UDP/IPv6", procfs::net::udp6())] {
        match table {
            Ok(rows) => raw.extend(
                rows.into_iter().map(|r| (Protocol::Udp, r.local_address, r.remote_address, None, r.inode)),
            ),
            Err(procfs::ProcError::NotFound(_)) if name.contains("IPv6") => {}
            Err(e) => return Err(table_error(name, e)),
        }
    }
    // socket inode → the lowest PID holding it (a forked server shares its sockets).
    let mut owners: HashMap<u64, u32> = HashMap::new();
    if let Ok(all) = procfs::process::all_processes() {
        for p in all.flatten() {
            let pid = p.pid() as u32;
            let Ok(fds) = p.fd() else { continue };
            for fd in fds.flatten() {
                if let FDTarget::Socket(inode) = fd.target {
                    owners.entry(inode).and_modify(|o| *o = (*o).min(pid)).or_insert(pid);
                }
            }
        }
    }
    let sockets: Vec<LocalSocket> = raw
        .into_iter()
        .map(|(protocol, local, remote, state, inode)| {
            let owner = match (inode, owners.get(&inode)) {
                (0, _) => Owner::Orphan,
                (_, Some(pid)) => Owner::Pid(*pid),
                (_, None) => Owner::Unknown,
            };
            LocalSocket { protocol, local, remote, state, owner }
        })
        .collect();
    let mut pids: BTreeSet<u32> = sockets
        .iter()
        .filter_map(|s| match s.owner {
            Owner::Pid(p) => Some(p),
            _ => None,
        })
        .collect();
    if let Some(pid) = req.pid.filter(|p| *p != 0 && Process::new(*p as i32).is_ok()) {
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
            describe(pid, want)
        })
        .collect();
    let mut snap = Snapshot { sockets, processes };
    snap.sort();
    Ok(snap)
}
