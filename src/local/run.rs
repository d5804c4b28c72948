//! Running local mode: one report (`-local`) or a watch (`-wport`, `-wpid`)
//! that prints a new "System Date:" block whenever the watched connections
//! or a TCP state change, until Ctrl-C (SIGTERM, SIGHUP).

use super::{ModulesFor, Request, Snapshot, json, text};
use crate::cli::{Format, LocalConfig, LocalMode};
use crate::error::Error;
use crate::report::{self, Output};
use std::time::Instant;

fn collect(req: &Request) -> Result<Snapshot, Error> {
    crate::platform::local_snapshot(req)
}

fn lines(out: &mut Output, lines: &[String]) {
    for l in lines {
        out.line(l);
    }
}

/// The snapshot a watch compares and prints: the port's or the process's sockets.
fn watched(mode: LocalMode, snap: &Snapshot) -> Snapshot {
    match mode {
        LocalMode::All => snap.clone(),
        LocalMode::WatchPort(p) => snap.filtered(|s| s.local.port() == p),
        LocalMode::WatchPid(pid) => {
            let mut w = snap.filtered(|s| s.owner.pid() == Some(pid));
            if let Some(p) = snap.process(pid).filter(|_| w.process(pid).is_none()) {
                w.processes.push(p.clone());
            }
            w
        }
    }
}

fn block(cfg: &LocalConfig, snap: &Snapshot) -> Vec<String> {
    match cfg.mode {
        LocalMode::All => text::local_report(snap, cfg.verbose),
        LocalMode::WatchPort(_) => text::mappings(snap),
        LocalMode::WatchPid(pid) => {
            let mut v = vec![text::RULE.to_string(), String::new()];
            v.extend(text::process_block(snap, pid, cfg.verbose));
            v.extend(text::unknown_note(snap.unknown_owners()));
            v
        }
    }
}

fn emit_json(cfg: &LocalConfig, snap: &Snapshot, date: &str, out: &mut Output) {
    if cfg.format == Format::Text {
        return;
    }
    let mut v = json::snapshot(snap, date, cfg.verbose);
    match cfg.mode {
        LocalMode::All => {}
        LocalMode::WatchPort(p) => v["watch"] = serde_json::json!({"port": p}),
        LocalMode::WatchPid(pid) => v["watch"] = serde_json::json!({"pid": pid}),
    }
    // --json of a single report is one document; a watch writes one object a line.
    let s = if cfg.format == Format::Json && cfg.mode == LocalMode::All {
        serde_json::to_string_pretty(&v)
    } else {
        serde_json::to_string(&v)
    };
    out.stdout_line(&s.unwrap_or_default());
}

/// Run local mode; returns the exit code (0, or 130 etc. after a stop).
pub fn run(cfg: &LocalConfig) -> Result<i32, Error> {
    let request = Request {
        modules: match (cfg.verbose, cfg.mode) {
            (false, _) => ModulesFor::None,
            (true, LocalMode::WatchPid(pid)) => ModulesFor::Pid(pid),
            (true, LocalMode::WatchPort(_)) => ModulesFor::None,
            (true, LocalMode::All) => ModulesFor::All,
        },
        pid: match cfg.mode {
            LocalMode::WatchPid(pid) => Some(pid),
            _ => None,
        },
    };
    // Fail before creating the log when this OS has no collector.
    let first = collect(&request)?;
    let log = match &cfg.log {
        Some(path) => Some(report::open_log(path, cfg.overwrite, false, &cfg.command_line)?),
        None => None,
    };
    let mut out = Output::new(cfg.format == Format::Text, log);
    let what = match cfg.mode {
        LocalMode::All => {
            let date = report::system_date();
            lines(&mut out, &block(cfg, &first));
            emit_json(cfg, &first, &date, &mut out);
            out.finish()?;
            return Ok(0);
        }
        LocalMode::WatchPort(p) => {
            out.para(&format!("Watching port: {p}"));
            format!("port {p}")
        }
        LocalMode::WatchPid(pid) => {
            out.para(&format!("Watching PID: {pid}"));
            format!("PID {pid}")
        }
    };
    out.para(&format!("Checking for changes every {} seconds", cfg.interval.as_secs()));
    if cfg.verbose {
        out.para("verbose output requested");
        if let LocalMode::WatchPid(pid) = cfg.mode {
            match first.process(pid).and_then(|p| p.service.as_deref()) {
                Some(unit) => out.para(&format!("Service Name: {unit}")),
                None => out.para("Process doesn't appear to be a service"),
            }
        }
    }
    let mut snap = watched(cfg.mode, &first);
    let mut last = None;
    let mut keys = EscKey::new();
    let mut escaped = false;
    loop {
        let key = snap.watch_key();
        if last.as_ref() != Some(&key) {
            let date = report::system_date();
            out.line("============");
            out.para(&format!("System Date: {date}"));
            lines(&mut out, &block(cfg, &snap));
            emit_json(cfg, &snap, &date, &mut out);
            out.flush_log();
            last = Some(key);
        }
        if out.failed() {
            break;
        }
        match keys.wait(Instant::now() + cfg.interval) {
            Wake::Due => {}
            Wake::Stopped => break,
            Wake::Escape => {
                escaped = true;
                break;
            }
        }
        snap = watched(cfg.mode, &collect(&request)?);
    }
    keys.restore(); // the terminal gets its settings back before the last lines
    if escaped && !out.failed() {
        // PortQry's own way to stop a watch: a normal end.
        out.line(&format!("escape key pressed: stopped watching {what}"));
        out.line(&format!("System Date: {}", report::system_date()));
        out.finish()?;
        return Ok(0);
    }
    if !out.failed() {
        let code = crate::cancel::exit_code();
        let why = match code - 128 {
            2 => "Ctrl-C pressed".to_string(),
            1 => "SIGHUP received".to_string(),
            15 => "SIGTERM received".to_string(),
            _ => "stop requested".to_string(),
        };
        out.line(&format!("{why}: stopped watching {what}"));
        out.line(&format!("System Date: {}", report::system_date()));
    }
    out.finish()?;
    Ok(crate::cancel::exit_code())
}

/// Why a watch's wait ended.
enum Wake {
    Due,
    Stopped,
    #[cfg_attr(not(unix), allow(dead_code))] // Esc is read only on Unix so far
    Escape,
}

/// Esc at a terminal (as in PortQry), Ctrl-C and the other stop signals
/// anywhere, checked at least every [`crate::cancel::SLICE`].
struct EscKey {
    #[cfg(unix)]
    keys: Option<crate::platform::KeyReader>,
}

impl EscKey {
    fn new() -> EscKey {
        EscKey {
            #[cfg(unix)]
            keys: crate::platform::KeyReader::new(),
        }
    }

    /// Give the terminal its settings back (dropping the key reader).
    fn restore(self) {}

    fn wait(&mut self, deadline: Instant) -> Wake {
        while let Some(slice) = crate::cancel::slice_until(deadline) {
            if crate::cancel::requested() {
                return Wake::Stopped;
            }
            #[cfg(unix)]
            if let Some(k) = self.keys.as_mut() {
                if k.escape_within(slice) {
                    return Wake::Escape;
                }
                continue;
            }
            std::thread::sleep(slice);
        }
        if crate::cancel::requested() { Wake::Stopped } else { Wake::Due }
    }
}
