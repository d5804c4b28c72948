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

/// Exit codes (README.md, "Exit codes").
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "LISTENING."),
    ("1", "NOT LISTENING."),
    ("2", "FILTERED, or LISTENING or FILTERED."),
    (
        "64",
        "Bad command line (one line on standard error says what to type instead).",
    ),
    ("68", "The target name does not resolve (nothing is probed)."),
    ("71", "Local failure: source port in use, socket error."),
    (
        "73",
        "The log file cannot be written, or exists and -y was not given.",
    ),
];

/// Examples in PortQry syntax (README.md, "Examples").
const EXAMPLES: &[(&str, &str)] = &[
    ("portqry -n myserver.example.com -e 25", "One TCP port."),
    (
        "portqry -n 198.18.1.2 -e 53 -p udp",
        "One UDP port, then a DNS query if it is silent.",
    ),
    ("portqry -n host1.example.com -r 21:445", "A range of TCP ports."),
    (
        "portqry -n 198.18.1.2 -o 25,445,1024 -p both -sp 53",
        "A list of ports, TCP and UDP, sent from source port 53.",
    ),
    ("portqry /n dc1 /e 389 /p UDP", "PortQry's slash syntax."),
    (
        "portqry -n dc1 -e 389 -p udp -l pqlog.txt -y",
        "Also write a log file, overwriting an existing one.",
    ),
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
/// only completion needs (values clap cannot see through a custom parser).
pub fn command() -> clap::Command {
    let mut cmd = portqry::cli::Args::command();
    let has = |cmd: &clap::Command, id: &str| cmd.get_arguments().any(|a| a.get_id() == id);
    // `--proto` is parsed by a function (any case), so clap does not know its
    // values; offer the three in completions.
    if has(&cmd, "proto") {
        cmd = cmd.mut_arg("proto", |a| {
            if a.get_possible_values().is_empty() {
                a.value_parser(["tcp", "udp", "both"])
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
            cmd = cmd.mut_arg(id, |a| {
                if a.get_value_hint() == clap::ValueHint::Unknown
                    || a.get_value_hint() == clap::ValueHint::AnyPath
                {
                    a.value_hint(hint)
                } else {
                    a
                }
            });
        }
    }
    cmd.bin_name(BIN)
}

/// Write the man page and every completion file into `outdir` (created if
/// missing); returns the paths written, man page first.
pub fn generate(outdir: &Path) -> Result<Vec<PathBuf>, String> {
    fs::create_dir_all(outdir)
        .map_err(|e| format!("cannot create {}: {e}", outdir.display()))?;
    let mut written = Vec::new();

    let man_path = outdir.join(MAN_PAGE);
    let mut page = Vec::new();
    render_man(&mut page).map_err(|e| format!("cannot render the man page: {e}"))?;
    write(&man_path, &page)?;
    written.push(man_path);

    for &(shell, file) in COMPLETIONS {
        let mut cmd = command();
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

/// clap_mangen's sections, with PortQry syntax, EXIT STATUS and EXAMPLES
/// written here instead of clap's after-help text (which says the same in
/// a terminal layout).
pub fn render_man(w: &mut dyn io::Write) -> io::Result<()> {
    let man = Man::new(command());
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;

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
            roman("Each option below names its PortQry switch; "),
            bold("-cn"),
            roman(" takes a community name delimited by !, e.g. "),
            bold("-cn !public!"),
            roman("."),
        ]);
    roff.to_writer(w)?;

    man.render_options_section(w)?;

    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in EXIT_STATUS {
        roff.control("TP", []).text([bold(*code)]).text([roman(*meaning)]);
    }
    roff.control("PP", []).text([roman(
        "Several results (ranges, lists, -p both): the highest code among them \
         \u{2014} 0 only if every port is LISTENING; 1 if some are NOT LISTENING \
         and none filtered; 2 if any is FILTERED or LISTENING or FILTERED. \
         Codes are set with or without -q.",
    )]);

    roff.control("SH", ["EXAMPLES"]);
    for (line, what) in EXAMPLES {
        roff.control("TP", []).text([bold(*line)]).text([roman(*what)]);
    }

    roff.control("SH", ["SEE ALSO"]).text([
        italic("README.md"),
        roman(" in the portqry sources for the evidence behind each state."),
    ]);
    roff.to_writer(w)?;

    man.render_version_section(w)
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
