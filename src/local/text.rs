//! PortQry's local-mode text, line by line (the log gets the same lines).
//!
//! The reference shows these tables with their whitespace collapsed, so the
//! column widths here are ours; every column is separated by at least one space.

use super::{LocalSocket, Modules, ORPHAN_NAME, Owner, ProcessInfo, Protocol, Snapshot};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The separator between processes.
pub const RULE: &str = "======================================================";

fn remote_text(s: &LocalSocket) -> String {
    if s.protocol == Protocol::Udp && s.remote.ip().is_unspecified() && s.remote.port() == 0 {
        return ":".into();
    }
    match s.remote {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// `TCP 80    0.0.0.0         LISTENING    0.0.0.0:0`
pub fn socket_row(s: &LocalSocket) -> String {
    let state = s.state.map_or("", |t| t.text());
    format!(
        "{:<4}{:<6} {:<15} {:<12} {}",
        s.protocol.text(),
        s.local.port(),
        s.local.ip(),
        state,
        remote_text(s)
    )
    .trim_end()
    .to_string()
}

fn socket_header() -> String {
    format!("{:<10} {:<15} {:<12} {}", "Port", "Local IP", "State", "Remote IP:Port")
}

/// `PID:name` as the mappings table shows it (`800` alone when the name is unknown).
pub fn owner_text(owner: Owner, snap: &Snapshot) -> String {
    match owner {
        Owner::Pid(pid) => match snap.process(pid).and_then(|p| p.name.as_deref()) {
            Some(name) => format!("{pid}:{name}"),
            None => pid.to_string(),
        },
        Owner::Orphan => format!("0:{ORPHAN_NAME}"),
        Owner::Unknown => "?".into(),
    }
}

/// "Port Statistics": mappings per protocol, then TCP states by count (with
/// percentages of the TCP mappings, two decimals).
pub fn statistics(sockets: &[&LocalSocket]) -> Vec<String> {
    let tcp: Vec<_> = sockets.iter().filter(|s| s.protocol == Protocol::Tcp).collect();
    let udp = sockets.len() - tcp.len();
    let mut lines = vec![
        "Port Statistics".into(),
        String::new(),
        format!("TCP mappings: {}", tcp.len()),
        format!("UDP mappings: {udp}"),
        String::new(),
    ];
    let mut counts: BTreeMap<super::TcpState, usize> = BTreeMap::new();
    for s in &tcp {
        if let Some(st) = s.state {
            *counts.entry(st).or_default() += 1;
        }
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (state, n) in &counts {
        let pct = *n as f64 * 100.0 / tcp.len() as f64;
        lines.push(format!("TCP ports in a {} state: {n} = {pct:.2}%", state.text()));
    }
    if !counts.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// "TCP/UDP Port Usage" and its statistics.
pub fn usage(snap: &Snapshot) -> Vec<String> {
    let mut lines = vec![
        "TCP/UDP Port Usage".into(),
        String::new(),
        format!("{} active ports found", snap.sockets.len()),
        String::new(),
        socket_header(),
    ];
    lines.extend(snap.sockets.iter().map(socket_row));
    lines.push(String::new());
    lines.extend(statistics(&snap.sockets.iter().collect::<Vec<_>>()));
    lines
}

/// The sockets in mapping order: by PID (unknown owners last), then port.
fn by_owner(snap: &Snapshot) -> Vec<&LocalSocket> {
    let mut v: Vec<&LocalSocket> = snap.sockets.iter().collect();
    v.sort_by_key(|s| (s.owner.pid().is_none(), s.owner.pid(), s.local.port(), s.protocol));
    v
}

/// "TCP/UDP Port to Process Mappings", its statistics, and (once) why some
/// owners are unknown.
pub fn mappings(snap: &Snapshot) -> Vec<String> {
    let mut lines = vec![
        "TCP/UDP Port to Process Mappings".into(),
        String::new(),
        format!("{} mappings found", snap.sockets.len()),
        String::new(),
        format!("{:<24} {}", "PID:Process", socket_header()),
    ];
    let rows = by_owner(snap);
    lines.extend(rows.iter().map(|s| format!("{:<24} {}", owner_text(s.owner, snap), socket_row(s))));
    lines.push(String::new());
    lines.extend(statistics(&rows));
    lines.extend(unknown_note(snap.unknown_owners()));
    lines
}

/// The one note saying why `?` owners are unknown (nothing when all are known).
pub fn unknown_note(n: usize) -> Vec<String> {
    if n == 0 {
        return vec![];
    }
    let ports = if n == 1 { "1 port belongs" } else { &format!("{n} ports belong") };
    vec![
        format!(
            "Note: {ports} to processes portqry may not inspect (PID shown as ?): run portqry as root (or with CAP_SYS_PTRACE) to map other users' processes; a container's processes are seen only from its own PID namespace"
        ),
        String::new(),
    ]
}

/// One process's block: its ports, statistics, service and modules.
pub fn process_block(snap: &Snapshot, pid: u32, with_modules: bool) -> Vec<String> {
    let info: Option<&ProcessInfo> = snap.process(pid);
    let name = if pid == 0 {
        ORPHAN_NAME.to_string()
    } else {
        match info {
            Some(p) => p.name.clone().unwrap_or_else(|| "name not available".into()),
            None => "process not found".into(),
        }
    };
    let mut lines = vec![format!("Process ID: {pid} ({name})"), String::new()];
    let mine: Vec<&LocalSocket> = snap.sockets.iter().filter(|s| s.owner.pid() == Some(pid)).collect();
    if let Some(info) = info.filter(|_| pid != 0) {
        match info.service.as_deref() {
            Some(unit) => lines.push(format!("Service Name: {unit}")),
            None => lines.push("Process doesn't appear to be a service".into()),
        }
        lines.push(String::new());
    }
    lines.push(format!("{:<8} {}", "PID", socket_header()));
    lines.extend(mine.iter().map(|s| format!("{:<8} {}", pid, socket_row(s))));
    lines.push(String::new());
    lines.extend(statistics(&mine));
    if with_modules {
        match info.map(|p| &p.modules) {
            Some(Modules::List(mods)) if pid != 0 => {
                lines.push("Loaded modules:".into());
                lines.extend(mods.iter().map(|m| format!("{} (0x{:08X})", m.path, m.base)));
                lines.push(String::new());
            }
            _ => {
                lines.push("Could not access module information for this process".into());
                lines.push(String::new());
            }
        }
    }
    lines
}

/// "Port and Module Information by Process" (`-local -v`).
pub fn by_process(snap: &Snapshot) -> Vec<String> {
    let mut lines: Vec<String> = [
        "Port and Module Information by Process",
        "",
        "Note: restrictions applied to some processes may",
        "prevent Portqry from accessing more information",
        "",
        "For best results run Portqry in the context of",
        "the local administrator",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut pids: Vec<u32> = snap.sockets.iter().filter_map(|s| s.owner.pid()).collect();
    pids.sort_unstable();
    pids.dedup();
    for pid in pids {
        lines.push(RULE.into());
        lines.push(String::new());
        lines.extend(process_block(snap, pid, true));
    }
    lines.push(RULE.into());
    lines.push(String::new());
    lines
}

/// All of `-local` (with `-v`: per-process detail too).
pub fn local_report(snap: &Snapshot, verbose: bool) -> Vec<String> {
    let mut lines = usage(snap);
    lines.extend(mappings(snap));
    if verbose {
        lines.extend(by_process(snap));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::super::{Module, TcpState};
    use super::*;

    fn sock(p: Protocol, local: &str, remote: &str, state: Option<TcpState>, owner: Owner) -> LocalSocket {
        LocalSocket {
            protocol: p,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state,
            owner,
        }
    }

    fn sample() -> Snapshot {
        let mut s = Snapshot {
            sockets: vec![
                sock(Protocol::Udp, "0.0.0.0:137", "0.0.0.0:0", None, Owner::Pid(484)),
                sock(Protocol::Tcp, "0.0.0.0:80", "0.0.0.0:0", Some(TcpState::Listening), Owner::Pid(900)),
                sock(
                    Protocol::Tcp,
                    "169.254.149.9:80",
                    "169.254.74.55:3716",
                    Some(TcpState::TimeWait),
                    Owner::Orphan,
                ),
                sock(Protocol::Tcp, "[::]:22", "[::]:0", Some(TcpState::Listening), Owner::Unknown),
            ],
            processes: vec![
                ProcessInfo {
                    pid: 900,
                    name: Some("nginx".into()),
                    service: Some("nginx.service".into()),
                    modules: Modules::List(vec![Module {
                        path: "/usr/sbin/nginx".into(),
                        base: 0x5555_0000_0000,
                    }]),
                },
                ProcessInfo { pid: 484, name: None, service: None, modules: Modules::Inaccessible },
            ],
        };
        s.sort();
        s
    }

    #[test]
    fn port_usage_is_sorted_by_port_with_statistics() {
        let lines = usage(&sample());
        let want = [
            "TCP/UDP Port Usage",
            "",
            "4 active ports found",
            "",
            "Port       Local IP        State        Remote IP:Port",
            "TCP 22     ::              LISTENING    [::]:0",
            "TCP 80     0.0.0.0         LISTENING    0.0.0.0:0",
            "TCP 80     169.254.149.9   TIME WAIT    169.254.74.55:3716",
            "UDP 137    0.0.0.0                      :",
            "",
            "Port Statistics",
            "",
            "TCP mappings: 3",
            "UDP mappings: 1",
            "",
            "TCP ports in a LISTENING state: 2 = 66.67%",
            "TCP ports in a TIME WAIT state: 1 = 33.33%",
            "",
        ];
        assert_eq!(lines, want);
    }

    #[test]
    fn mappings_show_pid_name_orphans_and_unknown_owners_once() {
        let lines = mappings(&sample());
        assert_eq!(lines[0], "TCP/UDP Port to Process Mappings");
        assert_eq!(lines[2], "4 mappings found");
        assert_eq!(
            lines[5],
            "0:no process             TCP 80     169.254.149.9   TIME WAIT    169.254.74.55:3716"
        );
        assert_eq!(lines[6], "484                      UDP 137    0.0.0.0                      :");
        assert_eq!(lines[7], "900:nginx                TCP 80     0.0.0.0         LISTENING    0.0.0.0:0");
        assert_eq!(lines[8], "?                        TCP 22     ::              LISTENING    [::]:0");
        let notes: Vec<_> = lines.iter().filter(|l| l.starts_with("Note: ")).collect();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("Note: 1 port belongs to processes portqry may not inspect (PID shown as ?): run portqry as root"), "{}", notes[0]);
        assert!(notes[0].contains("CAP_SYS_PTRACE"));
    }

    #[test]
    fn process_blocks_follow_portqry() {
        let lines = by_process(&sample());
        let text = lines.join("\n");
        assert!(text.starts_with(
            "Port and Module Information by Process\n\nNote: restrictions applied to some processes may\nprevent Portqry from accessing more information\n\nFor best results run Portqry in the context of\nthe local administrator\n\n======================================================\n\nProcess ID: 0 (no process)\n\nPID      Port"
        ), "{text}");
        assert!(text.contains("Process ID: 900 (nginx)\n\nService Name: nginx.service\n\n"), "{text}");
        assert!(text.contains("Loaded modules:\n/usr/sbin/nginx (0x555500000000)\n"), "{text}");
        assert!(
            text.contains("Process ID: 484 (name not available)\n\nProcess doesn't appear to be a service\n"),
            "{text}"
        );
        assert_eq!(text.matches("Could not access module information for this process").count(), 2, "{text}");
        assert!(text.contains("TCP ports in a TIME WAIT state: 1 = 100.00%"));
        assert!(text.ends_with(&format!("{RULE}\n")), "{text}");
    }

    #[test]
    fn a_process_that_is_gone_says_so_without_a_service_line() {
        let lines = process_block(&sample(), 4242, true);
        assert_eq!(
            lines[..3],
            [
                "Process ID: 4242 (process not found)",
                "",
                "PID      Port       Local IP        State        Remote IP:Port"
            ]
        );
        assert!(lines.contains(&"Could not access module information for this process".to_string()));
    }

    #[test]
    fn module_bases_are_eight_hex_digits_at_least() {
        let m = Module { path: "/lib/x.so".into(), base: 0x4858_0000 };
        assert_eq!(format!("{} (0x{:08X})", m.path, m.base), "/lib/x.so (0x48580000)");
    }
}
