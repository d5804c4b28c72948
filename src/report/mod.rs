//! The report: PortQry's text ([`text`]) on the screen and in the `-l` log
//! file (the same lines, through [`Output`]), JSON ([`json`]), the progress bar.

pub mod json;
pub mod text;

use crate::error::Error;
use crate::probe::{self, Observation, State, Transport};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;

/// Everything decided about one port on one transport.
#[derive(Debug, Clone)]
pub struct PortResult {
    pub transport: Transport,
    pub port: u16,
    pub service: Option<String>,
    /// The final verdict (after a UDP protocol query, if one ran).
    pub state: State,
    /// The verdict of the probe alone.
    pub probe_state: State,
    pub observation: Observation,
    /// Why the engine probed again or left the result unverified.
    pub note: Option<probe::Note>,
    /// The protocol query's verdict and parsed answer, when one ran.
    pub query: Option<crate::query::Outcome>,
}

/// The exit code for several results: the highest single code, so 0 means
/// every port answered, 1 that some were refused and none were filtered.
pub fn aggregate_exit(results: &[PortResult]) -> i32 {
    results.iter().map(|r| r.state.exit_code()).max().unwrap_or(0)
}

/// Where report lines go: stdout (unless `-q`) and the log file (if `-l`).
pub struct Output {
    screen: bool,
    log: Option<BufWriter<File>>,
    log_error: Option<String>,
    /// The first failed write to stdout; nothing more is written after it.
    stdout_error: Option<std::io::Error>,
    progress: Option<indicatif::ProgressBar>,
    /// While set, stdout lines are collected here and written by [`Output::release`]:
    /// one write per batch of results instead of one per line.
    held: Option<Vec<u8>>,
}

impl Output {
    /// A report to the screen only (or nowhere, when `screen` is false).
    pub fn new(screen: bool, log: Option<BufWriter<File>>) -> Output {
        Output { screen, log, log_error: None, stdout_error: None, progress: None, held: None }
    }

    /// Lines printed while a progress bar is shown go around it, not through it.
    pub fn set_progress(&mut self, bar: Option<indicatif::ProgressBar>) {
        self.progress = bar;
    }

    /// Hold stdout lines until [`Output::release`] (or stop holding, which releases).
    pub fn hold(&mut self, on: bool) {
        if on {
            self.held.get_or_insert_with(Vec::new);
        } else {
            self.release();
            self.held = None;
        }
    }

    /// Write the held lines now (call it before waiting for more results).
    pub fn release(&mut self) {
        if let Some(buf) = self.held.as_mut().filter(|b| !b.is_empty()) {
            let bytes = std::mem::take(buf);
            self.write_stdout(&bytes);
        }
    }

    /// Write to stdout. The first failure stops the run (a reader that went
    /// away wants no more; a full disk loses every later line): it is kept
    /// for [`Output::finish`] and nothing more is written.
    fn write_stdout(&mut self, bytes: &[u8]) {
        if self.stdout_error.is_some() {
            return;
        }
        let print = || {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|_| out.flush())
        };
        let r = match &self.progress {
            Some(bar) => bar.suspend(print),
            None => print(),
        };
        if let Err(e) = r {
            self.stdout_error = Some(e);
            crate::cancel::request();
        }
    }

    /// Whether stdout failed: the run should stop.
    pub fn failed(&self) -> bool {
        self.stdout_error.is_some()
    }

    /// Text for stdout as it is (a streamed JSON document), whatever the text report does.
    pub fn stdout_text(&mut self, text: &str) {
        match &mut self.held {
            Some(buf) => {
                buf.extend_from_slice(text.as_bytes());
                if buf.len() >= 1 << 16 {
                    self.release();
                }
            }
            None => self.write_stdout(text.as_bytes()),
        }
    }

    /// A line for stdout whatever the text report does (JSON lines).
    pub fn stdout_line(&mut self, text: &str) {
        self.stdout_text(&format!("{text}\n"));
    }

    /// One line of text.
    pub fn line(&mut self, text: &str) {
        if self.screen {
            self.stdout_line(text);
        }
        self.log_line(text);
    }

    /// A line for the log file only (interactive mode's echoed commands).
    pub fn log_line(&mut self, text: &str) {
        if let Some(log) = &mut self.log
            && let Err(e) = log.write_all(log_text(&format!("{text}\n")).as_bytes())
        {
            self.log_error.get_or_insert_with(|| e.to_string());
        }
    }

    /// Push the log file to disk now (each block of a watch, so `tail -f`
    /// and a reader after a crash see it).
    pub fn flush_log(&mut self) {
        if let Some(log) = &mut self.log
            && let Err(e) = log.flush()
        {
            self.log_error.get_or_insert_with(|| e.to_string());
        }
    }

    /// A line followed by a blank line: PortQry's paragraph layout.
    pub fn para(&mut self, text: &str) {
        self.line(text);
        self.line("");
    }

    /// Close the log with PortQry's end marker; report a write failure
    /// (stdout's first: a closed pipe ends the run quietly, exit 141).
    pub fn finish(mut self) -> Result<(), Error> {
        self.hold(false);
        if let Some(mut log) = self.log.take() {
            let r = log
                .write_all(log_text("\n========= end of log file =========\n").as_bytes())
                .and_then(|_| log.flush());
            if let Err(e) = r {
                self.log_error.get_or_insert_with(|| e.to_string());
            }
        }
        if let Some(e) = self.stdout_error {
            return Err(output_error(&e));
        }
        match self.log_error {
            Some(e) => Err(Error::Log(format!("cannot write the log file: {e}"))),
            None => Ok(()),
        }
    }
}

/// The error for a failed write to stdout.
pub fn output_error(e: &std::io::Error) -> Error {
    if crate::platform::is_broken_pipe(e) { Error::BrokenPipe } else { Error::Output(e.to_string()) }
}

/// Write text to stdout outside a report (help, version, completions).
pub fn print_text(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|_| out.flush()).map_err(|e| output_error(&e))
}

/// One line on stderr. Never panics: if stderr itself is gone, the exit code
/// is all that is left to say it.
pub fn error_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// Open the `-l` log file and write PortQry's header.
///
/// An existing file is overwritten only with `-y` or `-q` (as PortQry), or when
/// the user says yes at a terminal; otherwise this is an error, never a prompt
/// that a script would hang on. A FIFO, pipe or device (`-l >(gzip >log.gz)`,
/// `-l /dev/null`) is written to, not overwritten, so nothing is asked; a FIFO
/// that no process reads is refused at once instead of blocking in open(2).
pub fn open_log(
    path: &Path,
    overwrite: bool,
    quiet: bool,
    command_line: &str,
) -> Result<BufWriter<File>, Error> {
    let shown = crate::error::clip(&path.display().to_string());
    let meta = std::fs::metadata(path).ok();
    let special = meta.as_ref().is_some_and(|m| !m.is_file() && !m.is_dir());
    if meta.is_some() && !special && !overwrite && !quiet {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(Error::Log(format!(
                "log file '{shown}' already exists: add -y to overwrite it, or choose another name"
            )));
        }
        {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "Log file '{shown}' already exists. Do you want to overwrite it? (Y/N) ");
            let _ = err.flush();
        }
        // Wait for the answer in slices, so Ctrl-C (caught, not fatal) still ends the run.
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            while !crate::platform::wait_readable(stdin.as_raw_fd(), crate::cancel::SLICE) {
                if crate::cancel::requested() {
                    return Err(Error::InterruptedWhile(
                        "at the overwrite question: nothing was probed".into(),
                    ));
                }
            }
        }
        let mut answer = String::new();
        let _ = stdin.read_line(&mut answer);
        if !answer.trim().eq_ignore_ascii_case("y") && !answer.trim().eq_ignore_ascii_case("yes") {
            return Err(Error::Log(format!(
                "log file '{shown}' was not overwritten: add -y to overwrite it, or choose another name"
            )));
        }
    }
    let file = create_log(path, &shown)?;
    let mut w = BufWriter::new(file);
    let date = system_date();
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let header = format!(
        "PortQry Version 2.0 Log File\n\nSystem Date: {date}\n\nCommand run:\n {command_line}\n\nLocal computer name:\n\n {host}\n\n"
    );
    w.write_all(log_text(&header).as_bytes())
        .map_err(|e| Error::Log(format!("cannot write log file '{shown}': {e}")))?;
    Ok(w)
}

/// Log file text with this OS's line ends: CRLF on Windows, as PortQry
/// writes its log there; LF elsewhere.
fn log_text(text: &str) -> std::borrow::Cow<'_, str> {
    if cfg!(windows) { text.replace('\n', "\r\n").into() } else { text.into() }
}

/// Now, as PortQry's "System Date:" lines write it (C `ctime()` style).
pub fn system_date() -> String {
    chrono::Local::now().format("%a %b %e %H:%M:%S %Y").to_string()
}

/// Create (or truncate) the log file without ever blocking in open(2).
fn create_log(path: &Path, shown: &str) -> Result<File, Error> {
    let cannot = |e: std::io::Error| Error::Log(format!("cannot create log file '{shown}': {e}"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        crate::platform::open_nonblocking(&mut opts);
        let file = opts
            .open(path)
            .map_err(|e| {
                let fifo = std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo());
                if crate::platform::is_no_reader(&e) && fifo {
                    Error::Log(format!(
                        "log file '{shown}' is a FIFO that no process is reading: start the reader first, or give a regular file"
                    ))
                } else {
                    cannot(e)
                }
            })?;
        // Writes block again as usual: a full pipe waits for its reader.
        crate::platform::set_blocking(&file);
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        File::create(path).map_err(cannot)
    }
}

/// The command as PortQry echoes it: the program's base name, then the arguments.
pub fn command_line(argv: &[std::ffi::OsString]) -> String {
    let mut parts = Vec::with_capacity(argv.len());
    if let Some(first) = argv.first() {
        let stem = Path::new(first)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "portqry".into());
        parts.push(stem);
    }
    parts.extend(argv.iter().skip(1).map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// A progress bar on stderr for long runs: only on a terminal, never with
/// `-q`, and only once a run has taken more than a second.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: std::time::Instant,
    shown: std::cell::Cell<bool>,
}

impl Progress {
    /// A bar for `total` probes; inert unless `enabled` and stderr is a terminal.
    pub fn new(total: u64, enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::hidden(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} probes decided, {elapsed} elapsed",
            ) {
                b.set_style(style);
            }
            b
        });
        Progress { bar, started: std::time::Instant::now(), shown: std::cell::Cell::new(false) }
    }

    /// The bar, for [`Output::set_progress`].
    pub fn bar(&self) -> Option<indicatif::ProgressBar> {
        self.bar.clone()
    }

    fn reveal(&self) {
        if let Some(b) = &self.bar
            && !self.shown.get()
            && self.started.elapsed() > std::time::Duration::from_secs(1)
        {
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            self.shown.set(true);
        }
    }

    /// One more probe decided.
    pub fn inc(&self) {
        self.reveal();
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    /// Time passes without a result.
    pub fn tick(&self) {
        self.reveal();
        if let Some(b) = &self.bar {
            b.tick();
        }
    }

    /// Remove the bar from the terminal.
    pub fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
