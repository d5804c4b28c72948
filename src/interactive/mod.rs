//! PortQry's interactive mode (`portqry -i`): a banner, a `> ` prompt, and
//! the commands `node`, `query` (with PortQry's shortcuts), `set`, `help`
//! and `exit`. Every query runs through [`crate::run::run_with`] — the code
//! path of the command-line mode — into one shared [`Output`], so the screen
//! and the `-l` log file get exactly what `portqry -n NODE -e PORT ...`
//! prints, for the whole session.
//!
//! At a terminal, rustyline gives line editing and history; otherwise lines
//! are read from the pipe or file and echoed after the prompt, so the
//! transcript reads the same either way. Ctrl-C during a query cancels it
//! and returns to the prompt; Ctrl-C at the prompt ends the session (130);
//! `exit` or the end of input ends it with 0.

pub mod commands;
pub mod input;

use crate::cli::{Config, PortMode, ProtoSel};
use crate::error::Error;
use crate::probe::Transport;
use crate::report::{self, Output};
use commands::{Cmd, Settings};
use input::{Input, Line, PROMPT};

/// Run a session seeded by the command line's switches; returns the exit code.
pub fn run(cfg: &Config) -> Result<i32, Error> {
    let log = match &cfg.log {
        Some(path) => Some(report::open_log(path, cfg.overwrite, false, &cfg.command_line)?),
        None => None,
    };
    let mut out = Output::new(true, log);
    let mut input = Input::open();
    let result = session(cfg, &mut input, &mut out);
    // A closed stdout or a log that could not be written is the error to report.
    let finished = out.finish();
    let code = result?;
    finished?;
    Ok(code)
}

/// The settings the command line seeds.
pub fn seed(cfg: &Config) -> Settings {
    let protocol = match cfg.transports {
        [Transport::Udp] => ProtoSel::Udp,
        [_, _] => ProtoSel::Both,
        _ => ProtoSel::Tcp,
    };
    Settings {
        node: cfg.names.first().cloned().unwrap_or_else(|| crate::cli::DEFAULT_NODE.to_string()),
        port: cfg.ports.first().copied().unwrap_or(80),
        protocol,
        source_port: cfg.source_port().unwrap_or(0),
        community: cfg.query.community.clone(),
        no_reverse: cfg.no_reverse,
        slow_link: cfg.slow_link,
    }
}

/// The command-line configuration of one query: the session's settings on
/// top of the switches that started it (timeouts, services file, `-v`...).
pub fn query_config(base: &Config, s: &Settings, ports: &[u16], protocol: ProtoSel) -> Config {
    let udp_base = if base.slow_link { base.probe.udp.wait / 2 } else { base.probe.udp.wait };
    let mut c = base.clone();
    c.names = vec![s.node.clone()];
    c.ports = ports.to_vec();
    c.port_mode = if ports.len() > 1 { PortMode::List } else { PortMode::Single };
    c.transports = protocol.transports();
    c.set = None;
    c.set_source_port((s.source_port != 0).then_some(s.source_port));
    c.no_reverse = s.no_reverse;
    c.slow_link = s.slow_link;
    c.probe.udp.wait = if s.slow_link { udp_base * 2 } else { udp_base };
    // The queries' options follow the settings (they were built from the switches).
    c.query.community.clone_from(&s.community);
    c.sync_query_options();
    c
}

/// PortQry's banner.
fn banner(s: &Settings, out: &mut Output) {
    out.para("Portqry Interactive Mode");
    out.para("Type 'help' for a list of commands");
    out.para(&format!("Default Node: {}", s.node));
    out.line("Current option values:");
    for l in s.option_lines() {
        out.line(&l);
    }
}

/// A bad command or value: one line on stderr (and in the log).
fn complain(text: &str, out: &mut Output) {
    report::error_line(text);
    out.log_line(text);
}

/// How a session ended, or that it goes on.
enum Step {
    Next,
    End(i32),
}

fn session(cfg: &Config, input: &mut Input, out: &mut Output) -> Result<i32, Error> {
    let mut settings = seed(cfg);
    banner(&settings, out);
    let echo = !input.is_terminal();
    loop {
        out.flush_log();
        if out.failed() {
            // Stdout is gone: finish reports it.
            return Ok(0);
        }
        let line = match input.next_line() {
            Line::Text(l) => l,
            Line::TooLong => {
                let text = format!(
                    "portqry: command line longer than {} bytes: type a command such as q or n NAME",
                    commands::MAX_LINE
                );
                if echo {
                    out.line(PROMPT.trim_end());
                } else {
                    out.log_line(PROMPT.trim_end());
                }
                complain(&text, out);
                continue;
            }
            Line::Eof if crate::cancel::requested() => return Ok(stopped_code()),
            Line::Eof => {
                if echo {
                    out.line(PROMPT.trim_end());
                } else {
                    out.log_line(PROMPT.trim_end());
                }
                return Ok(0);
            }
            Line::Interrupted => {
                out.log_line(&format!("{PROMPT}^C"));
                return Ok(stopped_code());
            }
            Line::Failed(e) => {
                complain(&format!("portqry: {e}"), out);
                return Ok(crate::error::EXIT_USAGE);
            }
        };
        // A stop signal while the line was read (kill -INT at a terminal).
        if crate::cancel::requested() {
            return Ok(stopped_code());
        }
        let shown = format!("{PROMPT}{line}");
        if echo {
            out.line(shown.trim_end());
        } else {
            out.log_line(shown.trim_end());
        }
        match command(cfg, &mut settings, &line, out) {
            Step::Next => {}
            Step::End(code) => return Ok(code),
        }
    }
}

/// The exit code after a stop at the prompt: Ctrl-C at a terminal is a key
/// (rustyline reads it), elsewhere the signal set the stop flag.
fn stopped_code() -> i32 {
    if crate::cancel::requested() { crate::cancel::exit_code() } else { crate::error::EXIT_INTERRUPTED }
}

fn command(cfg: &Config, settings: &mut Settings, line: &str, out: &mut Output) -> Step {
    let cmd = match commands::parse(line) {
        Ok(c) => c,
        Err(e) => {
            complain(&format!("portqry: {e}"), out);
            return Step::Next;
        }
    };
    match cmd {
        Cmd::Nothing => {}
        Cmd::Help => {
            for l in commands::help_lines() {
                out.line(&l);
            }
            out.line("");
        }
        Cmd::Exit => return Step::End(0),
        Cmd::Node(name) => {
            settings.node = name;
            out.para(&format!("Default Node: {}", settings.node));
        }
        Cmd::ShowAll => {
            out.line("Current option values:");
            for l in settings.all_lines() {
                out.line(&l);
            }
            out.line("");
        }
        Cmd::Set(change) => {
            settings.apply(&change);
            out.para(&settings.changed_line(&change));
        }
        Cmd::Query => {
            query(cfg, settings, &[settings.port], settings.protocol, out);
        }
        Cmd::Shortcut(shortcut) => {
            for r in shortcut.runs {
                if !query(cfg, settings, r.ports, r.protocol, out) {
                    break;
                }
            }
        }
    }
    Step::Next
}

/// One query, as the command line runs it; false if it was cancelled (the
/// stop flag is cleared again: the session goes on at the prompt).
fn query(base: &Config, settings: &Settings, ports: &[u16], protocol: ProtoSel, out: &mut Output) -> bool {
    let cfg = query_config(base, settings, ports, protocol);
    if let Err(e) = crate::run::run_with(&cfg, out) {
        let text = format!("portqry: {e}");
        complain(&text, out);
    }
    out.hold(false);
    if crate::cancel::requested() {
        if !out.failed() {
            // A closed stdout also stops: then the session ends, above.
            crate::cancel::reset();
        }
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(line: &str) -> Config {
        let argv =
            std::iter::once("portqry").chain(line.split_whitespace()).map(std::ffi::OsString::from).collect();
        match crate::cli::parse(argv) {
            Ok(crate::cli::Command::Interactive(c)) => *c,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn switches_seed_the_settings() {
        let s = seed(&cfg("-i -e 53 -n 192.168.1.20 -p both -sp 2030 -cn !secure123! -nr -sl"));
        assert_eq!(s.node, "192.168.1.20");
        assert_eq!(s.option_lines(), ["   end port= 53", "   protocol= BOTH", "   source port= 2030"]);
        assert_eq!((s.community.as_str(), s.no_reverse, s.slow_link), ("secure123", true, true));
        let s = seed(&cfg("-i"));
        assert_eq!(s.node, "127.0.0.1");
        assert_eq!(
            s.option_lines(),
            ["   end port= 80", "   protocol= TCP", "   source port= 0 (ephemeral)"]
        );
        assert_eq!((s.community.as_str(), s.no_reverse, s.slow_link), ("public", false, false));
    }

    #[test]
    fn a_query_is_the_command_line_it_stands_for() {
        // q after set: the same Config as the command line with those switches.
        let base = cfg("-i --timeout 300 --tries 1 -v");
        let mut s = seed(&base);
        for change in [
            commands::Change::Port(389),
            commands::Change::Protocol(ProtoSel::Both),
            commands::Change::SourcePort(2030),
            commands::Change::Community("c".into()),
            commands::Change::ToggleNoReverse,
            commands::Change::ToggleSlowLink,
        ] {
            s.apply(&change);
        }
        s.node = "dc1".into();
        let q = query_config(&base, &s, &[s.port], s.protocol);
        let line = "-n dc1 -e 389 -p both -sp 2030 -cn !c! -nr -sl --timeout 300 --tries 1 -v";
        let argv =
            std::iter::once("portqry").chain(line.split_whitespace()).map(std::ffi::OsString::from).collect();
        let Ok(crate::cli::Command::Run(want)) = crate::cli::parse(argv) else { panic!("{line}") };
        assert_eq!(
            format!("{:?}", Config { command_line: String::new(), ..q }),
            format!("{:?}", Config { command_line: String::new(), ..*want })
        );
        // Slow link off again halves the UDP wait back.
        s.apply(&commands::Change::ToggleSlowLink);
        let q2 = query_config(&base, &s, &[s.port], s.protocol);
        assert_eq!(q2.probe.udp.wait * 2, want.probe.udp.wait);
        // A shortcut of several ports is a list (-o), with every protocol query.
        let mail = query_config(&base, &s, &[25, 110, 143], ProtoSel::Tcp);
        assert_eq!((mail.port_mode, mail.ports.as_slice()), (PortMode::List, &[25, 110, 143][..]));
    }
}
