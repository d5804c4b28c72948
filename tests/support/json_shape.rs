//! The documented shape of a JSON result object (docs/JSON.md), shared by
//! the plain and root tiers.
#![allow(dead_code)]

use serde_json::Value;

/// Keys every result object has (docs/JSON.md documents each of them).
pub const RESULT_KEYS: &[&str] = &[
    "target",
    "address",
    "protocol",
    "port",
    "service",
    "state",
    "probe_state",
    "exit_code",
    "reason",
    "evidence",
    "icmp",
    "tries",
    "rtt_ms",
    "note",
    "refusal_rate",
    "query",
    "source",
];

pub fn check_result(v: &Value) {
    let obj = v.as_object().unwrap_or_else(|| panic!("not an object: {v}"));
    for k in RESULT_KEYS {
        assert!(obj.contains_key(*k), "missing {k} in {v}");
    }
    assert_eq!(obj.len(), RESULT_KEYS.len(), "undocumented keys in {v}");
    let state = v["state"].as_str().unwrap();
    assert!(["listening", "not_listening", "filtered", "listening_or_filtered"].contains(&state), "{v}");
    assert!(["tcp", "udp"].contains(&v["protocol"].as_str().unwrap()));
    let code = v["exit_code"].as_i64().unwrap();
    assert_eq!(
        code,
        match state {
            "listening" => 0,
            "not_listening" => 1,
            _ => 2,
        }
    );
    let kind = v["evidence"]["kind"].as_str().unwrap();
    assert!(
        ["connected", "reset", "reply", "icmp", "refused", "unreachable", "no_neighbour", "silence"]
            .contains(&kind),
        "{v}"
    );
    assert_eq!(kind == "icmp", !v["icmp"].is_null(), "{v}");
    assert!(v["tries"].as_u64().unwrap() >= 1);
    assert!(!v["reason"].as_str().unwrap().is_empty());
}
