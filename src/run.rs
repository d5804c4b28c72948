//! One run: resolve the target, probe each port, print PortQry's report.

use crate::cli::Config;
use crate::error::Error;
use crate::probe::{self, Observation, State, Transport, tcp, udp};
use crate::protocols;
use crate::report::{self, Output};
use crate::target::{self, Target, services::Services};
use std::net::IpAddr;

/// Everything decided about one port on one transport.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PortResult {
    pub transport: Transport,
    pub port: u16,
    pub service: Option<String>,
    pub state: State,
    pub observation: Observation,
    /// The protocol query's verdict and parsed answer, when one ran.
    pub query: Option<protocols::QueryOutcome>,
}

/// The exit code for several results: the highest single code, so 0 means
/// every port answered, 1 that some were refused and none were filtered.
pub fn aggregate_exit(results: &[PortResult]) -> i32 {
    results.iter().map(|r| r.state.exit_code()).max().unwrap_or(0)
}

/// Run the query the command line describes; returns the exit code.
pub fn run(cfg: &Config) -> Result<i32, Error> {
    let services = Services::load(cfg.services.as_deref())?;
    let log = match &cfg.log {
        Some(path) => Some(report::open_log(path, cfg.overwrite, cfg.quiet, &cfg.command_line)?),
        None => None,
    };
    let mut out = Output::new(!cfg.quiet, log);
    let target = match resolve(cfg, &mut out) {
        Ok(t) => t,
        Err(e) => {
            out.finish()?;
            return Err(e);
        }
    };
    out.para("querying...");
    let mut results = Vec::new();
    for &port in &cfg.ports {
        for &transport in cfg.transports {
            let r = query_port(cfg, &services, &target, transport, port, &mut out)?;
            results.push(r);
        }
    }
    out.finish()?;
    Ok(aggregate_exit(&results))
}

/// Print PortQry's resolution lines and return the target.
fn resolve(cfg: &Config, out: &mut Output) -> Result<Target, Error> {
    out.para("Querying target system called:");
    if let Some((addr, scope_id)) = target::parse_literal(&cfg.name)? {
        out.para(&format!(" {}", cfg.name));
        if !cfg.no_reverse {
            out.para("Attempting to resolve IP address to a name...");
            match target::reverse_lookup(addr, target::LOOKUP_TIMEOUT) {
                Some(name) => out.para(&format!("IP address resolved to {name}")),
                None => out.para("Failed to resolve IP address to name"),
            }
        }
        return Ok(Target { input: cfg.name.clone(), addr, scope_id });
    }
    out.para(&cfg.name);
    out.para("Attempting to resolve name to IP address...");
    match target::resolve_name(&cfg.name, cfg.family, target::LOOKUP_TIMEOUT) {
        Ok(addr) => {
            out.para(&format!("Name resolved to {addr}"));
            Ok(Target { input: cfg.name.clone(), addr, scope_id: 0 })
        }
        Err(e) => {
            out.para("Failed to resolve name to IP address");
            Err(e)
        }
    }
}

/// Probe one port, run its protocol query where there is one, print the lines.
fn query_port(
    cfg: &Config,
    services: &Services,
    target: &Target,
    transport: Transport,
    port: u16,
    out: &mut Output,
) -> Result<PortResult, Error> {
    let addr = target.socket_addr(port);
    let service = services.name(port, transport).map(str::to_string);
    let label = services.label(port, transport);
    let protocol = protocols::select(transport, port, service.as_deref(), cfg.port_mode);
    let ip: IpAddr = target.addr;
    let (observation, stream) = match transport {
        Transport::Tcp => {
            let opts = tcp::TcpOptions {
                timeout: cfg.tcp_timeout,
                tries: cfg.tcp_tries,
                source_port: cfg.source_port,
            };
            let p = tcp::probe(addr, &opts)?;
            (p.observation, p.stream)
        }
        Transport::Udp => {
            let opts =
                udp::UdpOptions { wait: cfg.udp_wait, tries: cfg.udp_tries, source_port: cfg.source_port };
            let p = udp::exchange(addr, &[], &opts)?;
            (p.observation, None)
        }
    };
    let state = probe::decide(transport, &observation.evidence, ip);
    out.line(&format!("{transport} port {port} ({label}): {}", state.portqry_text()));
    if cfg.verbose {
        out.line(&format!("    evidence: {}", probe::explain(transport, &observation, ip)));
    }
    out.line("");
    let query = match (protocol, transport, state, stream) {
        (Some(proto), Transport::Tcp, State::Listening, Some(stream)) => {
            let ctx = protocols::QueryContext { cfg, target, port };
            Some(protocols::tcp_query(proto, &ctx, stream, out))
        }
        (Some(proto), Transport::Udp, State::ListeningOrFiltered, _) => {
            let ctx = protocols::QueryContext { cfg, target, port };
            Some(protocols::udp_query(proto, &ctx, out)?)
        }
        _ => None,
    };
    // A UDP query settles "LISTENING or FILTERED"; a TCP query only adds detail.
    let final_state = match (&query, transport) {
        (Some(q), Transport::Udp) => q.state,
        _ => state,
    };
    Ok(PortResult { transport, port, service, state: final_state, observation, query })
}
