//! The man page and shell completions written by `examples/gen-docs.rs`.
//!
//! The example file is compiled into this test with `#[path]`, so the test
//! calls the same `generate` that `cargo run --example gen-docs -- OUTDIR`
//! runs. Every check fails loudly: a missing file, an empty file, a missing
//! section or option, or a completion script bash rejects.

#[path = "../examples/gen-docs.rs"]
mod gen_docs;

use clap::CommandFactory;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What OUTDIR must hold, independent of the generator's own list.
const EXPECTED: &[&str] =
    &["portqry.1", "portqry.bash", "_portqry", "portqry.fish", "_portqry.ps1", "portqry.elv"];

/// A fresh directory under cargo's per-target temp dir (kept on failure for a look).
fn fresh_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "gen-docs-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// Run the generator into a fresh directory; return it and every file's text.
fn generated(tag: &str) -> (PathBuf, Vec<(&'static str, String)>) {
    let dir = fresh_dir(tag);
    let written = gen_docs::generate(&dir).unwrap_or_else(|e| panic!("gen-docs failed: {e}"));
    let mut files = Vec::new();
    for name in EXPECTED {
        let path = dir.join(name);
        assert!(written.contains(&path), "generate() did not report {}", path.display());
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!text.trim().is_empty(), "{} is empty", path.display());
        files.push((*name, text));
    }
    assert_eq!(written.len(), EXPECTED.len(), "unexpected files: {written:?}");
    (dir, files)
}

fn file<'a>(files: &'a [(&'static str, String)], name: &str) -> &'a str {
    files.iter().find(|(n, _)| *n == name).map(|(_, t)| t.as_str()).expect(name)
}

/// The long options a user sees in `portqry --help` (hidden ones excluded).
fn visible_longs() -> Vec<String> {
    let mut cmd = portqry::cli::Args::command();
    cmd.build();
    let longs: Vec<String> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long())
        .map(str::to_owned)
        .collect();
    for must in ["name", "proto", "port", "range", "ports", "source-port", "help"] {
        assert!(longs.iter().any(|l| l == must), "--{must} is gone from portqry::cli::Args");
    }
    longs
}

fn hidden_longs() -> Vec<String> {
    portqry::cli::Args::command()
        .get_arguments()
        .filter(|a| a.is_hide_set())
        .filter_map(|a| a.get_long())
        .map(str::to_owned)
        .collect()
}

/// `--source-port` as roff writes it: `\-\-source\-port`.
fn roff(s: &str) -> String {
    s.replace('-', "\\-")
}

/// The text of one `.SH` section (up to the next `.SH`).
fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let quoted = format!(".SH \"{heading}\"\n");
    let plain = format!(".SH {heading}\n");
    let start = page
        .find(&quoted)
        .map(|i| i + quoted.len())
        .or_else(|| page.find(&plain).map(|i| i + plain.len()))
        .unwrap_or_else(|| panic!("man page has no {heading} section:\n{page}"));
    let rest = &page[start..];
    &rest[..rest.find("\n.SH ").map_or(rest.len(), |i| i + 1)]
}

#[test]
fn every_file_is_written_and_non_empty() {
    let (dir, _) = generated("files");
    fs::remove_dir_all(dir).ok();
}

#[test]
fn man_page_has_title_options_exit_status_and_examples() {
    let (dir, files) = generated("man");
    let page = file(&files, "portqry.1");
    assert!(page.contains(".TH PORTQRY 1"), "no .TH PORTQRY 1 line:\n{page}");
    for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES"] {
        section(page, heading);
    }

    let options = section(page, "OPTIONS");
    for long in visible_longs() {
        let escaped = roff(&format!("--{long}"));
        assert!(options.contains(&escaped), "OPTIONS lacks {escaped}");
    }
    assert!(options.contains("\\-\\-source\\-port"));
    for long in hidden_longs() {
        assert!(!options.contains(&roff(&format!("--{long}\\fR"))), "hidden --{long} is documented");
    }

    // Exit codes: every verdict and every error code the crate can return.
    let exit = section(page, "EXIT STATUS");
    let codes = [
        (0, "LISTENING"),
        (1, "NOT LISTENING"),
        (2, "FILTERED"),
        (portqry::error::EXIT_USAGE, "command line"),
        (portqry::error::EXIT_NO_HOST, "does not resolve"),
        (portqry::error::EXIT_LOCAL, "source port"),
        (portqry::error::EXIT_LOG, "log file"),
        (portqry::error::EXIT_OUTPUT, "Standard output cannot be written"),
        (portqry::error::EXIT_INTERRUPTED, "Interrupted"),
        (portqry::error::EXIT_INTERRUPTED - 1, "SIGHUP"),
        (portqry::error::EXIT_BROKEN_PIPE, "closed by its reader"),
        (portqry::error::EXIT_INTERRUPTED + 13, "SIGTERM"),
    ];
    for (code, words) in codes {
        let item = format!(".TP\n\\fB{code}\\fR\n");
        let at = exit.find(&item).unwrap_or_else(|| panic!("EXIT STATUS lacks {code}:\n{exit}"));
        let meaning = exit[at + item.len()..].lines().next().unwrap_or_default();
        assert!(meaning.contains(words), "exit {code} reads {meaning:?}, expected {words:?}");
    }
    assert!(exit.contains("LISTENING or FILTERED") && exit.contains("highest"), "{exit}");

    // Examples are PortQry syntax, and each is a command line portqry accepts.
    let examples = section(page, "EXAMPLES");
    assert!(examples.contains("\\fBportqry \\-n "), "{examples}");
    assert!(examples.contains("\\fBportqry /n "), "no /x example:\n{examples}");
    assert!(examples.contains("\\-sp 53"), "no -sp example:\n{examples}");
    assert!(!gen_docs::EXAMPLES.is_empty());
    for (line, _) in gen_docs::EXAMPLES {
        assert!(examples.contains(&roff(line)), "EXAMPLES lacks {line}");
        let cmd = line.strip_prefix("if ").map_or(*line, |s| s.split(';').next().unwrap_or(s));
        let argv: Vec<OsString> = cmd.split_whitespace().map(OsString::from).collect();
        assert_eq!(argv[0], "portqry", "{line}");
        match portqry::cli::parse(argv) {
            Ok(portqry::cli::Command::Run(_)) => {}
            other => panic!("example {line:?} is not a runnable command line: {other:?}"),
        }
    }

    // clap's terminal after-help is replaced by the sections above, not repeated.
    assert!(!page.contains(".SH EXTRA"), "clap's after-help leaked in as EXTRA");
    fs::remove_dir_all(dir).ok();
}

/// groff renders the page without a warning (`-ww` enables them all).
/// `man -l` is not installed here; groff comes with Debian's groff-base,
/// which .ci/run installs, so this runs in the root tier and fails without it.
#[test]
#[ignore = "needs groff (Debian groff-base, installed by .ci/run)"]
fn man_page_renders_with_groff() {
    let (dir, _) = generated("groff");
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(dir.join("portqry.1"))
        .output()
        .expect("groff is not installed: apt-get install groff-base");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "groff: {}\n{stderr}", out.status);
    fs::remove_dir_all(dir).ok();
}

/// Complete the words of `line` (the last one being typed) with the generated
/// bash function, as bash-completion would: prints COMPREPLY one per line.
#[cfg(unix)]
fn bash_complete(script: &Path, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}' || exit 97\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={}\n\
         COMP_LINE='{line}'\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         _portqry portqry '{}' '{}' || true\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        if words.len() > 1 { words[words.len() - 2] } else { "" },
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&program)
        .output()
        .unwrap_or_else(|e| panic!("bash is needed for this test and did not run: {e}"));
    assert!(out.status.success(), "bash: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[test]
#[cfg(unix)] // runs bash
fn bash_completion_parses_and_completes() {
    let (dir, files) = generated("bash");
    let script = file(&files, "portqry.bash");
    for opt in ["--proto", "--source-port", "--name"] {
        assert!(script.contains(opt), "bash completion lacks {opt}");
    }

    let path = dir.join("portqry.bash");
    let out = Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("bash is needed for this test and did not run: {e}"));
    assert!(
        out.status.success(),
        "bash -n rejects {}:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(bash_complete(&path, "portqry --source-p"), ["--source-port"]);
    let mut protos = bash_complete(&path, "portqry -n host --proto ");
    protos.sort();
    assert_eq!(protos, ["both", "tcp", "udp"]);
    let all = bash_complete(&path, "portqry --");
    for long in visible_longs() {
        assert!(all.contains(&format!("--{long}")), "bash does not offer --{long}: {all:?}");
    }
    for long in hidden_longs() {
        assert!(!all.contains(&format!("--{long}")), "bash offers hidden --{long}");
    }
    fs::remove_dir_all(dir).ok();
}

#[test]
fn other_shells_name_portqry_and_its_long_options() {
    let (dir, files) = generated("shells");
    let fish = file(&files, "portqry.fish");
    assert!(fish.contains("complete -c portqry"), "{fish}");
    let markers = [
        ("_portqry", "#compdef portqry"),
        ("portqry.fish", "complete -c portqry -l source-port"),
        ("_portqry.ps1", "Register-ArgumentCompleter"),
        ("portqry.elv", "edit:completion:arg-completer[portqry]"),
    ];
    for (name, marker) in markers {
        assert!(file(&files, name).contains(marker), "{name} lacks {marker:?}");
    }
    for name in ["_portqry", "portqry.fish", "_portqry.ps1", "portqry.elv"] {
        let text = file(&files, name);
        for long in visible_longs() {
            let found = if name == "portqry.fish" {
                text.contains(&format!("-l {long}"))
            } else {
                text.contains(&format!("--{long}"))
            };
            assert!(found, "{name} does not offer --{long}");
        }
    }
    // zsh's _arguments splits specs at unescaped ':'; a value name like
    // START:END would turn the rest of the spec into a bogus action.
    for line in file(&files, "_portqry").lines().filter(|l| l.starts_with('\'')) {
        let after_help = line.rsplit_once(']').map_or(line, |(_, rest)| rest);
        assert!(after_help.matches(':').count() <= 2, "zsh spec with a ':' in its value name: {line}");
    }
    fs::remove_dir_all(dir).ok();
}

#[test]
fn unusable_outdir_is_one_line_error() {
    let dir = fresh_dir("blocked");
    fs::create_dir_all(&dir).unwrap();
    let blocker = dir.join("a-file");
    fs::write(&blocker, "not a directory").unwrap();
    let err =
        gen_docs::generate(&blocker.join("out")).expect_err("a path under a file cannot be a directory");
    assert!(err.starts_with("cannot create "), "{err}");
    assert!(!err.contains('\n'), "not one line: {err}");
    fs::remove_dir_all(dir).ok();
}
