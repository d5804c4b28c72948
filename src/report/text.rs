//! PortQry's text: the status line of a port, a query's block and UDP verdict,
//! a service set's summary. Queries hand their text here as [`Block`]s.

use super::{Output, PortResult};
use crate::error::Error;
use crate::probe::{self, Observation, State, Transport};
use crate::query::{Block, Line, Outcome, Sink};
use crate::target::{self, Found, Target};

impl Sink for Output {
    fn show(&mut self, block: Block) {
        for line in block {
            match line {
                Line::Plain(s) => self.line(&s),
                Line::Para(s) => self.para(&s),
            }
        }
    }
}

/// "TCP port 80 (http service): LISTENING", with the evidence under it for `-v`.
pub fn status(
    out: &mut Output,
    r: (Transport, u16, Option<&str>),
    state: State,
    observation: &Observation,
    note: Option<probe::Note>,
    target: &Target,
    verbose: bool,
) {
    let (transport, port, service) = r;
    let label = target::services::label(service);
    // An unverified result says so on its own line, where scripts and people read it.
    let flag = note.and_then(probe::Note::status_flag).map(|f| format!(" ({f})")).unwrap_or_default();
    out.line(&format!("{transport} port {port} ({label}): {}{flag}", state.portqry_text()));
    if verbose {
        let mut why = probe::explain(transport, observation, target.addr);
        if let Some(n) = note {
            why.push_str("; ");
            why.push_str(&n.to_string());
        }
        out.line(&format!("    evidence: {why}"));
    }
    out.line("");
}

/// A query's answer block and notes; after a UDP query, PortQry's closing line
/// ("UDP port 389 is LISTENING") with the evidence under it for `-v`.
pub fn outcome(
    out: &mut Output,
    o: &Outcome,
    transport: Transport,
    port: u16,
    target: &Target,
    verbose: bool,
) {
    if let Some(a) = &o.answer {
        out.show(a.block());
    }
    out.show(o.notes.clone());
    if transport == Transport::Tcp {
        // The connection proved LISTENING; `-v` says what shows the answer is the service's.
        if verbose && let Some(p) = o.answer.as_ref().and_then(|a| a.proof()) {
            out.para(&format!("    evidence: the reply is {p}"));
        }
        return;
    }
    out.line(&format!("UDP port {port} is {}", o.state.portqry_text()));
    if verbose && let Some(obs) = &o.observation {
        let why = probe::explain(Transport::Udp, obs, target.addr);
        match o.answer.as_ref().and_then(|a| a.proof()) {
            Some(p) => out.line(&format!("    evidence: {why}: {p}")),
            None => out.line(&format!("    evidence: {why}")),
        }
    }
    out.line("");
}

/// The end of a `--set` run, as PortQryUI ends one: per target, one line per
/// port (protocol, port, service, verdict), in the set's order.
pub fn summary(set: &target::sets::ServiceSet, summaries: &[(Target, Vec<PortResult>)], out: &mut Output) {
    for (target, results) in summaries {
        let addr = target.addr.to_string();
        let shown = if target.input == addr { addr } else { format!("{} ({addr})", target.input) };
        out.para(&format!("Summary of service set \"{}\" on {shown}:", set.name));
        let width = results.iter().map(|r| r.service.as_deref().map_or(7, str::len)).max().unwrap_or(7);
        for r in results {
            let service = r.service.as_deref().unwrap_or("unknown");
            out.line(&format!(
                "{} {:>5}  {service:<width$}  {}",
                r.transport,
                r.port,
                r.state.portqry_text()
            ));
        }
        out.line("");
    }
}

/// Print PortQry's resolution lines for what the look-ups found; return the target.
pub fn resolution(name: &str, found: Result<Found, Error>, out: &mut Output) -> Result<Target, Error> {
    out.para("Querying target system called:");
    match found? {
        Found::Literal { addr, scope_id, reverse } => {
            out.para(&format!(" {name}"));
            if let Some(reverse) = reverse {
                out.para("Attempting to resolve IP address to a name...");
                match reverse? {
                    Some(n) => out.para(&format!("IP address resolved to {n}")),
                    None => out.para("Failed to resolve IP address to name"),
                }
            }
            Ok(Target { input: name.to_string(), addr, scope_id })
        }
        Found::Name(result) => {
            out.para(name);
            out.para("Attempting to resolve name to IP address...");
            match result {
                Ok(addr) => {
                    out.para(&format!("Name resolved to {addr}"));
                    Ok(Target { input: name.to_string(), addr, scope_id: 0 })
                }
                // Interrupted: nothing failed to resolve.
                Err(e @ Error::InterruptedWhile(_)) => Err(e),
                Err(e) => {
                    out.para("Failed to resolve name to IP address");
                    Err(e)
                }
            }
        }
    }
}
