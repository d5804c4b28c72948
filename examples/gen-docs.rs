//! Writes the man page and shell completions for `portqry`:
//!
//! ```sh
//! cargo run --example gen-docs -- OUTDIR
//! ```
//!
//! OUTDIR gets `portqry.1` (man page) and `portqry.bash`, `_portqry` (zsh),
//! `portqry.fish`, `_portqry.ps1` (PowerShell) and `portqry.elv` (elvish).
//! docs/COMPLETIONS.md says where to install each. The completions offer
//! clap's long options and one-letter shorts; PortQry's own `-sp`, `/n`...
//! forms are rewritten by `portqry::cli::normalize` and work at the prompt
//! without being offered.
//!
//! tests/gen_docs.rs includes this file with `#[path]` and calls [`generate`].

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The command name the completions and the man page are written for.
const BIN: &str = "portqry";

/// Every completion file: shell, file name in OUTDIR.
const COMPLETIONS: &[(Shell, &str)] = &[
    (Shell::Bash, "portqry.bash"),
    (Shell::Zsh, "_portqry"),
    (Shell::Fish, "portqry.fish"),
    (Shell::PowerShell, "_portqry.ps1"),
    (Shell::Elvish, "portqry.elv"),
];

/// The man page's file name in OUTDIR.
const MAN_PAGE: &str = "portqry.1";

/// Exit codes (README.md, "Exit codes"; tests/gen_docs.rs checks them against
/// `portqry::error`).
pub const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "LISTENING."),
    ("1", "NOT LISTENING."),
    ("2", "FILTERED, or LISTENING or FILTERED."),
    ("64", "Bad command line (one line on standard error says what to type instead)."),
    ("68", "A target name does not resolve (nothing is probed on it; other targets still run)."),
    ("71", "Local failure: source port in use, socket error."),
    ("73", "The log file cannot be written, or exists and -y was not given."),
    ("74", "Standard output cannot be written (a full disk): the run stops at the first failed write."),
    ("129", "Interrupted by SIGHUP (a closed terminal): as 130."),
    ("130", "Interrupted (Ctrl-C): the results decided so far are printed and logged."),
    ("141", "Standard output was closed by its reader (| head): the run stops quietly, as after SIGPIPE."),
    ("143", "Interrupted by SIGTERM (timeout, systemd): as 130."),
];

/// Examples in PortQry syntax (README.md, "Examples"; tests/gen_docs.rs parses
/// each with `portqry::cli::parse`).
pub const EXAMPLES: &[(&str, &str)] = &[
    ("portqry -n myserver.example.com -e 25", "One TCP port."),
    ("portqry -n 198.18.1.2 -e 53 -p udp", "One UDP port, then a DNS query if it is silent."),
    ("portqry -n host1.example.com -r 21:445", "A range of TCP ports."),
    (
        "portqry -n 198.18.1.2 -o 25,445,1024 -p both -sp 53",
        "A list of ports, TCP and UDP, sent from source port 53.",
    ),
    ("portqry /n dc1 /e 389 /p UDP", "PortQry's slash syntax."),
    ("portqry -n dc1 -e 389 -p udp -l pqlog.txt -y", "Also write a log file, overwriting an existing one."),
    (
        "portqry -n 198.18.1.2 -e 443 -nr -v",
        "Skip the reverse lookup and show the evidence behind the verdict.",
    ),
    (
        "if portqry -n db1 -e 5432 -q; then echo up; fi",
        "Scripts: nothing is printed, the exit status tells the state.",
    ),
];

/// The command the docs describe: portqry's clap command, plus hints that
/// only the docs need (values and value kinds clap cannot see through
/// portqry's own value parsers).
pub fn command() -> clap::Command {
    let mut cmd = portqry::cli::Args::command().bin_name(BIN);
    let has = |cmd: &clap::Command, id: &str| cmd.get_arguments().any(|a| a.get_id() == id);
    // `--proto` is parsed by a function (any case), so clap does not know
    // its values; offer the three. The help text already lists them.
    if has(&cmd, "proto") {
        cmd = cmd.mut_arg("proto", |a| {
            if a.get_possible_values().is_empty() {
                a.value_parser(["tcp", "udp", "both"]).hide_possible_values(true)
            } else {
                a
            }
        });
    }
    for (id, hint) in [
        ("name", clap::ValueHint::Hostname),
        ("log", clap::ValueHint::FilePath),
        ("services", clap::ValueHint::FilePath),
    ] {
        if has(&cmd, id) {
            cmd = cmd.mut_arg(id, |a| match a.get_value_hint() {
                clap::ValueHint::Unknown | clap::ValueHint::AnyPath => a.value_hint(hint),
                _ => a,
            });
        }
    }
    cmd
}

/// [`command`] as the completions see it: without hidden arguments (PortQry's
/// refused interactive mode `-i`; clap_complete would offer it)
/// and with `:` out of value names (zsh's `_arguments` reads it as a field
/// separator, so `START:END` would break `--range`).
pub fn completion_command() -> clap::Command {
    let full = command();
    let args: Vec<clap::Arg> = full
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .map(|a| {
            let names = a.get_value_names().unwrap_or_default();
            if names.iter().any(|n| n.contains(':')) {
                // clap keeps `&'static str` names; a one-shot generator may leak.
                let fixed: Vec<&'static str> = names.iter().map(|n| &*n.replace(':', "-").leak()).collect();
                a.clone().value_names(fixed)
            } else {
                a.clone()
            }
        })
        .collect();
    let kept = |id: &clap::Id| args.iter().any(|a| a.get_id() == id);
    let groups: Vec<clap::ArgGroup> = full.get_groups().filter(|g| g.get_args().all(kept)).cloned().collect();
    let mut cmd =
        clap::Command::new(BIN).bin_name(BIN).version(env!("CARGO_PKG_VERSION")).args(args).groups(groups);
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    cmd
}

/// Write the man page and every completion file into `outdir` (created if
/// missing); returns the paths written, man page first.
pub fn generate(outdir: &Path) -> Result<Vec<PathBuf>, String> {
    fs::create_dir_all(outdir).map_err(|e| format!("cannot create {}: {e}", outdir.display()))?;
    let mut written = Vec::new();

    let man_path = outdir.join(MAN_PAGE);
    write(&man_path, render_man().as_bytes())?;
    written.push(man_path);

    for &(shell, file) in COMPLETIONS {
        let mut cmd = completion_command();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, BIN, &mut script);
        let path = outdir.join(file);
        write(&path, &script)?;
        written.push(path);
    }
    Ok(written)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The `.TH` date: `SOURCE_DATE_EPOCH` (reproducible builds) or today.
fn man_date() -> String {
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0));
    match epoch {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => chrono::Utc::now().format("%Y-%m-%d").to_string(),
    }
}

/// The man page: clap_mangen's sections, with SYNOPSIS, PortQry syntax,
/// EXIT STATUS and EXAMPLES written here instead of clap's after-help text
/// (which says the same in a terminal layout).
pub fn render_man() -> String {
    let cmd = command();
    let man =
        Man::new(cmd.clone()).title(BIN.to_uppercase()).section("1").date(man_date()).manual("User Commands");
    let mut page: Vec<u8> = Vec::new();
    // Writing to a Vec cannot fail.
    let w: &mut dyn io::Write = &mut page;
    man.render_title(w).expect("write to Vec");
    man.render_name_section(w).expect("write to Vec");

    let mut roff = Roff::new();
    if cmd.get_overridden_usage().is_some() {
        man.render_synopsis_section(w).expect("write to Vec");
    } else {
        roff.control("SH", ["SYNOPSIS"]);
        for (n, p, e, r, o) in [("-n", "-p", "-e", "-r", "-o"), ("/n", "/p", "/e", "/r", "/o")] {
            roff.text([
                bold(BIN),
                roman(" "),
                bold(n),
                roman(" "),
                italic("host"),
                roman(" ["),
                bold(p),
                roman(" "),
                bold("tcp"),
                roman("|"),
                bold("udp"),
                roman("|"),
                bold("both"),
                roman("] ["),
                bold(e),
                roman(" "),
                italic("port"),
                roman(" | "),
                bold(r),
                roman(" "),
                italic("start"),
                roman(":"),
                italic("end"),
                roman(" | "),
                bold(o),
                roman(" "),
                italic("port"),
                roman(","),
                italic("port"),
                roman("...] ["),
                italic("options"),
                roman("]"),
            ]);
            roff.control("br", []);
        }
        roff.text([
            bold(BIN),
            roman(" "),
            bold("--name"),
            roman(" "),
            italic("host"),
            roman(" ["),
            bold("--proto"),
            roman(" "),
            italic("proto"),
            roman("] ["),
            bold("--port"),
            roman(" "),
            italic("port"),
            roman(" | "),
            bold("--range"),
            roman(" "),
            italic("start"),
            roman(":"),
            italic("end"),
            roman(" | "),
            bold("--ports"),
            roman(" "),
            italic("list"),
            roman("] ["),
            italic("options"),
            roman("]"),
        ]);
    }
    roff.to_writer(w).expect("write to Vec");

    man.render_description_section(w).expect("write to Vec");
    let mut roff = Roff::new();
    roff.control("PP", [])
        .text([roman(
            "PortQry syntax works as well: every switch may start with - or / and is \
             case-insensitive, and the multi-letter switches ",
        )])
        .text([
            bold("-sp"),
            roman(", "),
            bold("-sl"),
            roman(", "),
            bold("-nr"),
            roman(" and "),
            bold("-cn"),
            roman(" are never read as bundles of one-letter options. "),
        ])
        .text([
            roman("Each option below names its PortQry switch. "),
            bold("-e"),
            roman(", "),
            bold("-r"),
            roman(" and "),
            bold("-o"),
            roman(" are mutually exclusive; without them port 80 is queried."),
        ]);
    roff.to_writer(w).expect("write to Vec");

    man.render_options_section(w).expect("write to Vec");

    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in EXIT_STATUS {
        roff.control("TP", []).text([bold(*code)]).text([roman(*meaning)]);
    }
    roff.control("PP", []).text([roman(
        "Several results (ranges, lists, -p both) give the highest code among \
         them: 0 only if every port is LISTENING; 1 if some are NOT LISTENING \
         and none filtered; 2 if any is FILTERED or LISTENING or FILTERED. \
         Codes are set with or without -q.",
    )]);

    roff.control("SH", ["EXAMPLES"]);
    for (line, what) in EXAMPLES {
        roff.control("TP", []).text([bold(*line)]).text([roman(*what)]);
    }
    roff.to_writer(w).expect("write to Vec");

    man.render_version_section(w).expect("write to Vec");

    // Each `render_*` call repeats roff's apostrophe preamble; keep the first.
    let text = String::from_utf8(page).expect("roff output is UTF-8");
    const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    match text.find(PREAMBLE) {
        Some(first) => {
            let (head, tail) = text.split_at(first + PREAMBLE.len());
            format!("{head}{}", tail.replace(PREAMBLE, ""))
        }
        None => text,
    }
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [outdir] = args.as_slice() else {
        eprintln!("gen-docs: usage: cargo run --example gen-docs -- OUTDIR");
        std::process::exit(64);
    };
    match generate(Path::new(outdir)) {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
        }
        Err(e) => {
            eprintln!("gen-docs: {e}");
            std::process::exit(73);
        }
    }
}
