//! Local mode (`-local`, `-wport`, `-wpid`): the portable data model of this
//! machine's TCP/UDP sockets and their processes, PortQry's text for it
//! ([`text`]), its JSON ([`json`]) and the run and watch loop ([`run`]).
//!
//! The model is filled by `platform::local_snapshot` (Linux: `/proc` through
//! the `procfs` crate); another OS fills the same [`Snapshot`].

pub mod json;
pub mod run;
pub mod text;

use std::collections::BTreeSet;
use std::net::SocketAddr;

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// PortQry's column text.
    pub fn text(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

/// A TCP socket's state, in PortQry's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TcpState {
    Listening,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Closed,
}

impl TcpState {
    /// PortQry writes states with spaces (`TIME WAIT`, `CLOSE WAIT`).
    pub fn text(self) -> &'static str {
        match self {
            TcpState::Listening => "LISTENING",
            TcpState::SynSent => "SYN SENT",
            TcpState::SynReceived => "SYN RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN WAIT 1",
            TcpState::FinWait2 => "FIN WAIT 2",
            TcpState::CloseWait => "CLOSE WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST ACK",
            TcpState::TimeWait => "TIME WAIT",
            TcpState::Closed => "CLOSED",
        }
    }
}

/// Who owns a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// This process holds it open.
    Pid(u32),
    /// No process holds it any more (TIME WAIT after the program closed it):
    /// PortQry attributes these to PID 0.
    Orphan,
    /// A process this user may not inspect holds it (run as root or with
    /// CAP_SYS_PTRACE to know which).
    Unknown,
}

impl Owner {
    /// The PID as shown and as JSON gives it (0 for orphans, none when unknown).
    pub fn pid(self) -> Option<u32> {
        match self {
            Owner::Pid(p) => Some(p),
            Owner::Orphan => Some(0),
            Owner::Unknown => None,
        }
    }
}

/// One TCP or UDP socket of this machine's network namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalSocket {
    pub protocol: Protocol,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// TCP only.
    pub state: Option<TcpState>,
    pub owner: Owner,
}

/// A file mapped into a process (Windows: a loaded module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub base: u64,
}

/// What is known about a process's modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modules {
    /// Not asked for (no `-v`).
    NotRequested,
    /// Asked for, but the process cannot be inspected.
    Inaccessible,
    List(Vec<Module>),
}

/// A process that owns sockets (or the one `-wpid` watches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// Its name (Linux: `comm`); `None` if it could not be read.
    pub name: Option<String>,
    /// The service it runs as (Linux: its systemd unit); `None`: not a service.
    pub service: Option<String>,
    pub modules: Modules,
}

/// Everything local mode reports at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub sockets: Vec<LocalSocket>,
    /// Sorted by PID.
    pub processes: Vec<ProcessInfo>,
}

/// Which processes' modules to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModulesFor {
    None,
    All,
    Pid(u32),
}

/// What the platform is asked to collect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub modules: ModulesFor,
    /// A process to describe even if it owns no socket (`-wpid`).
    pub pid: Option<u32>,
}

/// Why local mode stops on an OS without a collector (exit 64).
pub const UNAVAILABLE: &str = "local mode (-local, -wport, -wpid) is not available on this OS yet: it is implemented for Linux and Windows only";

/// Name shown for PID 0 (sockets no process owns).
pub const ORPHAN_NAME: &str = "no process";

impl Snapshot {
    /// Sort sockets by port, TCP before UDP, then addresses (PortQry's order).
    pub fn sort(&mut self) {
        self.sockets.sort_by(|a, b| {
            (a.local.port(), a.protocol, a.local.ip(), a.remote, a.state, a.owner).cmp(&(
                b.local.port(),
                b.protocol,
                b.local.ip(),
                b.remote,
                b.state,
                b.owner,
            ))
        });
        self.processes.sort_by_key(|p| p.pid);
    }

    /// The process with this PID.
    pub fn process(&self, pid: u32) -> Option<&ProcessInfo> {
        self.processes.iter().find(|p| p.pid == pid)
    }

    /// How many sockets belong to processes that could not be inspected.
    pub fn unknown_owners(&self) -> usize {
        self.sockets.iter().filter(|s| s.owner == Owner::Unknown).count()
    }

    /// Only the sockets that `-wport` / `-wpid` watch.
    pub fn filtered(&self, keep: impl Fn(&LocalSocket) -> bool) -> Snapshot {
        let sockets: Vec<LocalSocket> = self.sockets.iter().filter(|s| keep(s)).cloned().collect();
        let pids: BTreeSet<u32> = sockets.iter().filter_map(|s| s.owner.pid()).collect();
        let processes = self.processes.iter().filter(|p| pids.contains(&p.pid)).cloned().collect();
        Snapshot { sockets, processes }
    }

    /// What a watch compares: the set of connections and their TCP states.
    pub fn watch_key(&self) -> BTreeSet<LocalSocket> {
        self.sockets.iter().cloned().collect()
    }
}

/// The systemd unit a process runs in, from the lines of `/proc/PID/cgroup`:
/// the last component of a path, when it is a `.service` unit.
pub fn service_from_cgroup<'a>(paths: impl IntoIterator<Item = &'a str>) -> Option<String> {
    // cgroup v2 ("0::/...") comes last on hybrid systems; prefer it, else name=systemd.
    let mut found = None;
    for path in paths {
        let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if last.ends_with(".service") && !last.starts_with("user@") {
            found = Some(last.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_from_cgroups() {
        assert_eq!(service_from_cgroup(["/system.slice/ssh.service"]), Some("ssh.service".into()));
        assert_eq!(service_from_cgroup(["/user.slice/user-1000.slice/session-3.scope"]), None);
        assert_eq!(service_from_cgroup(["/user.slice/user-1000.slice/user@1000.service/init.scope"]), None);
        assert_eq!(
            service_from_cgroup(["/user.slice/user-1000.slice/user@1000.service/app.slice/pipewire.service"]),
            Some("pipewire.service".into())
        );
        assert_eq!(service_from_cgroup(["/"]), None);
    }
}
