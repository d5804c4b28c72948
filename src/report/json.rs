//! JSON output (docs/JSON.md): one document streamed as results are decided
//! (`--json`), or a line per result (`--jsonl`).

use super::{Output, PortResult};
use crate::cli::Format;
use crate::probe;
use crate::target::Target;
use serde_json::{Value, json};

/// JSON output: one document (`--json`), streamed as results are decided, or
/// a line per result (`--jsonl`). The document is written exactly as
/// `serde_json::to_string_pretty` would write it whole (keys in order), but
/// only one result is ever held as a JSON value.
pub struct JsonSink {
    format: Option<Format>,
    command: String,
    /// Targets opened in the document so far.
    targets: usize,
    /// Results of the open target so far (`None`: no target open).
    results: Option<usize>,
    /// Where the results are measured from, for the target last seen.
    source: Option<(std::net::IpAddr, Value)>,
}

impl JsonSink {
    pub fn new(format: Option<Format>, command: &str) -> JsonSink {
        JsonSink {
            format: format.filter(|f| *f != Format::Text),
            command: command.to_string(),
            targets: 0,
            results: None,
            source: None,
        }
    }

    /// The `source` object for results of `target`: this machine's name and
    /// the local address probes to it leave from (looked up once per target).
    pub fn source(&mut self, target: &Target) -> Value {
        match &self.source {
            Some((addr, v)) if *addr == target.addr => v.clone(),
            _ => {
                let v = json!({
                    "host": gethostname::gethostname().to_string_lossy(),
                    "address": target.source_address().map(|a| a.to_string()),
                });
                self.source = Some((target.addr, v.clone()));
                v
            }
        }
    }

    pub fn result(&mut self, target: &Target, r: &PortResult, out: &mut Output) {
        match self.format {
            Some(Format::JsonLines) => {
                let source = self.source(target);
                out.stdout_line(&result_json(target, r, source).to_string())
            }
            Some(Format::Json) => {
                let source = self.source(target);
                let n = self.open_target(Some(&target.addr.to_string()), None, out);
                let body = serde_json::to_string_pretty(&result_json(target, r, source)).unwrap_or_default();
                let mut text = String::from(if n == 0 { "\n" } else { ",\n" });
                text.push_str(&indent(&body, 8));
                out.stdout_text(&text);
                self.results = Some(n + 1);
            }
            _ => {}
        }
    }

    /// Open the document (once) and a target object up to its `results` array;
    /// returns the results written in it so far.
    pub fn open_target(&mut self, address: Option<&str>, error: Option<&str>, out: &mut Output) -> usize {
        if let Some(n) = self.results {
            return n;
        }
        let s = |v: Option<&str>| serde_json::to_string(&v).unwrap_or_default();
        let mut text = String::new();
        if self.targets == 0 {
            text.push_str(&format!(
                "{{\n  \"command\": {},\n  \"portqry\": {},\n  \"targets\": [",
                s(Some(&self.command)),
                s(Some(env!("CARGO_PKG_VERSION")))
            ));
        } else {
            text.push(',');
        }
        text.push_str(&format!(
            "\n    {{\n      \"address\": {},\n      \"error\": {},\n      \"results\": [",
            s(address),
            s(error)
        ));
        out.stdout_text(&text);
        self.targets += 1;
        self.results = Some(0);
        0
    }

    pub fn target(&mut self, input: &str, target: Option<&Target>, error: Option<&str>, out: &mut Output) {
        match self.format {
            Some(Format::JsonLines) => {
                if let Some(e) = error {
                    out.stdout_line(&json!({"target": input, "error": e}).to_string());
                }
            }
            Some(Format::Json) => {
                let address = target.map(|t| t.addr.to_string());
                let n = self.open_target(address.as_deref(), error, out);
                let close = if n == 0 { "]" } else { "\n      ]" };
                let name = serde_json::to_string(input).unwrap_or_default();
                out.stdout_text(&format!("{close},\n      \"target\": {name}\n    }}"));
                self.results = None;
            }
            _ => {}
        }
    }

    pub fn finish(mut self, out: &mut Output) {
        if self.format == Some(Format::Json) {
            if self.targets == 0 {
                // No target at all (cannot happen from the command line): still a document.
                self.open_target(None, None, out);
                self.targets = 0;
            }
            out.stdout_text("\n  ]\n}\n");
        }
    }
}

/// Every line of `text` indented by `n` spaces.
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}

/// The JSON object for one result (documented in docs/JSON.md); `source`
/// says where it was measured from.
pub fn result_json(target: &Target, r: &PortResult, source: Value) -> Value {
    let obs = &r.observation;
    let icmp = match &obs.evidence {
        probe::Evidence::Icmp(i) => json!({
            "version": if i.v6 { 6 } else { 4 },
            "type": i.icmp_type,
            "code": i.code,
            "name": probe::icmp_name(i),
            "offender": i.offender.map(|a| a.to_string()),
            "from_target": i.offender == Some(target.addr),
        }),
        _ => Value::Null,
    };
    json!({
        "target": target.input,
        "address": target.addr.to_string(),
        "protocol": r.transport,
        "port": r.port,
        "service": r.service,
        "state": r.state,
        "probe_state": r.probe_state,
        "exit_code": r.state.exit_code(),
        "reason": probe::explain(r.transport, obs, target.addr),
        "evidence": obs.evidence,
        "icmp": icmp,
        "tries": obs.tries,
        // Whole nanoseconds over 1e6: a short decimal that any JSON reader
        // (serde_json's default parser too) reads back to the same number.
        "rtt_ms": obs.rtt.map(|d| d.as_nanos() as f64 / 1e6),
        "note": r.note.map(|n| n.to_string()),
        "refusal_rate": r.note.and_then(probe::Note::rate),
        "query": r.query,
        "source": source,
    })
}
