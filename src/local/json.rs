//! Local mode as JSON: `{"date", "sockets": [...], "processes": [...]}`
//! (docs/JSON.md). Watch mode writes one such object per snapshot, one a line.

use super::{Modules, Owner, Snapshot};
use serde_json::{Value, json};

/// One snapshot as a JSON object.
pub fn snapshot(snap: &Snapshot, date: &str, with_modules: bool) -> Value {
    let sockets: Vec<Value> = snap
        .sockets
        .iter()
        .map(|s| {
            let process = match s.owner {
                Owner::Pid(pid) => snap.process(pid).and_then(|p| p.name.clone()),
                Owner::Orphan | Owner::Unknown => None,
            };
            json!({
                "protocol": if s.protocol == super::Protocol::Tcp { "tcp" } else { "udp" },
                "local_address": s.local.ip().to_string(),
                "local_port": s.local.port(),
                "remote_address": s.remote.ip().to_string(),
                "remote_port": s.remote.port(),
                "state": s.state.map(|t| t.text()),
                "pid": s.owner.pid(),
                "process": process,
            })
        })
        .collect();
    let processes: Vec<Value> = snap
        .processes
        .iter()
        .map(|p| {
            let mut v = json!({"pid": p.pid, "name": p.name, "service": p.service});
            if with_modules {
                v["modules"] = match &p.modules {
                    Modules::List(mods) => mods
                        .iter()
                        .map(|m| json!({"path": m.path, "base": format!("0x{:X}", m.base)}))
                        .collect::<Vec<_>>()
                        .into(),
                    Modules::Inaccessible | Modules::NotRequested => Value::Null,
                };
            }
            v
        })
        .collect();
    json!({
        "date": date,
        "sockets": sockets,
        "processes": processes,
        "unknown_owners": snap.unknown_owners(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{LocalSocket, ProcessInfo, Protocol, TcpState};
    use super::*;

    #[test]
    fn shape() {
        let snap = Snapshot {
            sockets: vec![
                LocalSocket {
                    protocol: Protocol::Tcp,
                    local: "127.0.0.1:80".parse().unwrap(),
                    remote: "0.0.0.0:0".parse().unwrap(),
                    state: Some(TcpState::Listening),
                    owner: Owner::Pid(7),
                },
                LocalSocket {
                    protocol: Protocol::Udp,
                    local: "[::1]:53".parse().unwrap(),
                    remote: "[::]:0".parse().unwrap(),
                    state: None,
                    owner: Owner::Unknown,
                },
            ],
            processes: vec![ProcessInfo {
                pid: 7,
                name: Some("web".into()),
                service: None,
                modules: Modules::Inaccessible,
            }],
        };
        let v = snapshot(&snap, "Tue Dec  1 02:00:00 2026", true);
        assert_eq!(
            v["sockets"][0],
            json!({"protocol": "tcp", "local_address": "127.0.0.1", "local_port": 80, "remote_address": "0.0.0.0",
                   "remote_port": 0, "state": "LISTENING", "pid": 7, "process": "web"})
        );
        assert_eq!(v["sockets"][1]["pid"], Value::Null);
        assert_eq!(v["sockets"][1]["state"], Value::Null);
        assert_eq!(v["sockets"][1]["local_address"], "::1");
        assert_eq!(v["processes"][0], json!({"pid": 7, "name": "web", "service": null, "modules": null}));
        assert_eq!(v["unknown_owners"], 1);
        let v = snapshot(&snap, "d", false);
        assert!(v["processes"][0].get("modules").is_none());
    }
}
