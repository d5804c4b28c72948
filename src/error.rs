//! Errors that stop a run, each with the exit code a script can test.

use thiserror::Error as ThisError;

/// Exit code for a command line that cannot be used (sysexits' EX_USAGE).
pub const EXIT_USAGE: i32 = 64;
/// Exit code when the target name does not resolve (EX_NOHOST).
pub const EXIT_NO_HOST: i32 = 68;
/// Exit code for a local socket or system failure (EX_OSERR).
pub const EXIT_LOCAL: i32 = 71;
/// Exit code when the log file cannot be created or may not be overwritten (EX_CANTCREAT).
pub const EXIT_LOG: i32 = 73;
/// Exit code when standard output cannot be written (a full disk; EX_IOERR).
pub const EXIT_OUTPUT: i32 = 74;
/// Exit code when standard output was closed by its reader (`| head`): what a
/// shell reports for a process ended by SIGPIPE (128 + 13).
pub const EXIT_BROKEN_PIPE: i32 = 141;
/// Exit code after Ctrl-C (128 + SIGINT); SIGHUP and SIGTERM give 129 and 143.
pub const EXIT_INTERRUPTED: i32 = 130;

/// How much of a user-supplied text (a name, a file line, a path) an error
/// message echoes: enough to recognise it, never a screenful.
pub const ECHO_MAX_CHARS: usize = 100;

/// User input as an error message echoes it: control characters escaped (so
/// the message stays one line and cannot drive the terminal) and cut after
/// [`ECHO_MAX_CHARS`] characters, with "…" marking the cut.
pub fn clip(input: &str) -> String {
    let mut out = String::new();
    for (shown, c) in input.chars().enumerate() {
        if shown >= ECHO_MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Everything that can stop portqry before it reaches a verdict.
#[derive(Debug, ThisError)]
pub enum Error {
    /// The command line is wrong; the message says what to type instead.
    #[error("{0}")]
    Usage(String),
    /// The target name did not resolve.
    #[error("cannot resolve '{name}' to an IP address: {detail}")]
    Resolve { name: String, detail: String },
    /// `-sp` names a port that is bound already (PortQry's three lines).
    #[error(
        "Cannot use specified source port.\nPort is already in use.\nSpecify a port that is not in use and run the command again."
    )]
    SourcePortInUse(u16),
    /// `-sp 500` is taken for the IKE query (PortQry's line, with the Linux advice).
    #[error(
        "Cannot use source port 500, this port is already in use. Remote ISAKMP/IPSec services may only communicate with source port 500.\nStop the local IKE daemon (e.g. strongSwan's charon) and run the command again, or run without -sp."
    )]
    IkeSourcePortInUse,
    /// `-sp` cannot be bound for another reason (e.g. a privileged port).
    #[error("cannot use source port {0}: {1}")]
    SourcePort(u16, String),
    /// A local socket operation failed (file descriptors, memory, ...).
    #[error("{0}")]
    Socket(String),
    /// The log file cannot be written or may not be overwritten.
    #[error("{0}")]
    Log(String),
    /// A services file named with --services cannot be read.
    #[error("cannot read services file '{path}': {detail}")]
    Services { path: String, detail: String },
    /// The `--tls-ca` file cannot be read or holds no usable CA certificate.
    #[error("cannot use TLS CA file '{path}': {detail}")]
    TlsCa { path: String, detail: String },
    /// Standard output cannot be written (not a closed pipe).
    #[error("cannot write to standard output: {0}")]
    Output(String),
    /// The reader of standard output went away: the run ends quietly.
    #[error("standard output was closed")]
    BrokenPipe,
    /// A stop was requested (a signal) while this was being decided.
    #[error("interrupted")]
    Interrupted,
    /// A helper thread could not be started.
    #[error("cannot start a thread: {0} (raise the memory or process limits, or lower --concurrency)")]
    Thread(String),
    /// Ctrl-C before anything was probed (reading targets, a name look-up);
    /// the text says what was being waited for.
    #[error("interrupted {0}")]
    InterruptedWhile(String),
}

impl Error {
    /// The documented exit code for this error (never 0, 1 or 2, which are verdicts).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Services { .. } | Error::TlsCa { .. } => EXIT_USAGE,
            Error::Resolve { .. } => EXIT_NO_HOST,
            Error::SourcePortInUse(_)
            | Error::IkeSourcePortInUse
            | Error::SourcePort(..)
            | Error::Socket(_)
            | Error::Thread(_) => EXIT_LOCAL,
            Error::Log(_) => EXIT_LOG,
            Error::Output(_) => EXIT_OUTPUT,
            Error::BrokenPipe => EXIT_BROKEN_PIPE,
            Error::Interrupted | Error::InterruptedWhile(_) => crate::cancel::exit_code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text() {
        assert_eq!(clip("myserver.example.com"), "myserver.example.com");
        let long = "a".repeat(70_000);
        let c = clip(&long);
        assert_eq!(c.chars().count(), ECHO_MAX_CHARS + 1);
        assert!(c.ends_with("a…"));
        assert_eq!(clip(&"é".repeat(ECHO_MAX_CHARS)), "é".repeat(ECHO_MAX_CHARS), "chars, not bytes");
        assert_eq!(clip(&"x".repeat(ECHO_MAX_CHARS + 1)), format!("{}…", "x".repeat(ECHO_MAX_CHARS)));
    }

    #[test]
    fn clip_makes_one_line() {
        assert_eq!(clip("a\nb"), "a\\nb");
        assert_eq!(clip("a\nb\r\u{1b}[2J"), "a\\nb\\r\\u{1b}[2J");
        assert!(!clip("x\n".repeat(500).as_str()).contains('\n'));
    }

    #[test]
    fn interrupted_exits_130() {
        assert_eq!(Error::InterruptedWhile("while reading".into()).exit_code(), 130);
    }
}
