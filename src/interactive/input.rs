//! Where interactive mode's commands come from: a terminal (line editing and
//! history through rustyline) or anything else (a pipe, a file), read line by
//! line with bounded memory, waiting in slices a stop request cuts.

use super::commands::MAX_LINE;
use std::io::IsTerminal;

/// The prompt (PortQry's `>`, and a space to type after).
pub const PROMPT: &str = "> ";

/// What the next read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    /// A line longer than [`MAX_LINE`] bytes (discarded up to its end).
    TooLong,
    /// End of input (Ctrl-D at a terminal, the end of a pipe or file).
    Eof,
    /// Ctrl-C at the prompt (or a stop signal while waiting for a line).
    Interrupted,
    /// Input that cannot be commands, or a read error: the session ends.
    Failed(String),
}

/// A source of command lines.
pub enum Input {
    Terminal(Box<rustyline::DefaultEditor>),
    Stream(Stream),
}

impl Input {
    /// rustyline when both standard input and output are a terminal (the
    /// prompt and the editing are drawn on stdout); otherwise a plain stream.
    pub fn open() -> Input {
        if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
            let config = rustyline::Config::builder().auto_add_history(true).max_history_size(500);
            if let Ok(config) = config
                && let Ok(editor) = rustyline::DefaultEditor::with_config(config.build())
            {
                return Input::Terminal(Box::new(editor));
            }
        }
        Input::Stream(Stream::stdin())
    }

    /// Whether the terminal shows the prompt and what was typed (else the
    /// session echoes both).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Input::Terminal(_))
    }

    /// The next command line.
    pub fn next_line(&mut self) -> Line {
        match self {
            Input::Terminal(editor) => {
                use rustyline::error::ReadlineError;
                match editor.readline(PROMPT) {
                    Ok(line) if line.len() > MAX_LINE => Line::TooLong,
                    Ok(line) => Line::Text(line),
                    Err(ReadlineError::Interrupted) => Line::Interrupted,
                    Err(ReadlineError::Eof) => Line::Eof,
                    Err(e) => Line::Failed(format!("cannot read the terminal: {e}")),
                }
            }
            Input::Stream(s) => s.next_line(),
        }
    }
}

/// After a line too long, at most this many more bytes are skipped looking
/// for its end; past it the input is no command stream (`< /dev/zero`).
const MAX_SKIP: usize = 1 << 20;

/// Lines from a byte source, at most [`MAX_LINE`] bytes each.
pub struct Stream {
    source: Box<dyn Source>,
    pending: Vec<u8>,
    eof: bool,
}

/// Bytes, waiting in slices (Unix) so a stop request ends the wait.
pub trait Source {
    /// Read some bytes; `Ok(0)` at the end; `Err(None)` when a stop was requested.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Option<std::io::Error>>;
}

impl Stream {
    pub fn new(source: Box<dyn Source>) -> Stream {
        Stream { source, pending: Vec::new(), eof: false }
    }

    /// Standard input.
    pub fn stdin() -> Stream {
        Stream::new(Box::new(StdinSource::new()))
    }

    /// Read more into `pending`; false at the end.
    fn fill(&mut self) -> Result<bool, Line> {
        let mut buf = [0u8; 4096];
        match self.source.read(&mut buf) {
            Ok(0) => {
                self.eof = true;
                Ok(false)
            }
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                Ok(true)
            }
            Err(None) => Err(Line::Interrupted),
            Err(Some(e)) => Err(Line::Failed(format!("cannot read standard input: {e}"))),
        }
    }

    pub fn next_line(&mut self) -> Line {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                if i > MAX_LINE {
                    self.pending.drain(..=i);
                    return Line::TooLong;
                }
                let line: Vec<u8> = self.pending.drain(..=i).take(i).collect();
                return Line::Text(text(&line));
            }
            if self.pending.len() > MAX_LINE {
                return self.skip_rest();
            }
            if self.eof {
                if self.pending.is_empty() {
                    return Line::Eof;
                }
                // The last line, without its line end.
                let line = std::mem::take(&mut self.pending);
                return Line::Text(text(&line));
            }
            if let Err(l) = self.fill() {
                return l;
            }
        }
    }

    /// Drop a line too long up to its end (bounded by [`MAX_SKIP`]).
    fn skip_rest(&mut self) -> Line {
        let mut skipped = 0usize;
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                self.pending.drain(..=i);
                return Line::TooLong;
            }
            skipped += self.pending.len();
            self.pending.clear();
            if skipped > MAX_SKIP {
                return Line::Failed(format!(
                    "standard input sent more than {MAX_SKIP} bytes without a line end: it is no list of commands"
                ));
            }
            if self.eof {
                return Line::TooLong;
            }
            match self.fill() {
                Ok(_) => {}
                Err(l) => return l,
            }
        }
    }
}

/// A line's bytes as text (a CR before the LF dropped, invalid UTF-8 replaced).
fn text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// Standard input read through its own descriptor (no std buffer in
/// between, so waiting on the descriptor sees every byte not yet read).
struct StdinSource {
    #[cfg(unix)]
    file: Option<std::fs::File>,
}

impl StdinSource {
    fn new() -> StdinSource {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let file = std::io::stdin().as_fd().try_clone_to_owned().ok().map(std::fs::File::from);
            StdinSource { file }
        }
        #[cfg(not(unix))]
        StdinSource {}
    }
}

impl Source for StdinSource {
    #[cfg(unix)]
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Option<std::io::Error>> {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        // No deadline: a session waits for its next command as long as the
        // user takes, in slices, so Ctrl-C or a stop signal ends the wait.
        loop {
            if crate::cancel::requested() {
                return Err(None);
            }
            if crate::platform::wait_readable(file.as_raw_fd(), crate::cancel::SLICE) {
                break;
            }
        }
        // A signal that came with the input (its handler ran before poll returned).
        if crate::cancel::requested() {
            return Err(None);
        }
        match file.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                if crate::cancel::requested() {
                    Err(None)
                } else {
                    Ok(self.read(buf)?)
                }
            }
            Err(e) => Err(Some(e)),
        }
    }

    /// Without poll(2), a blocking read (a stop takes effect at the next line).
    #[cfg(not(unix))]
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Option<std::io::Error>> {
        use std::io::Read;
        if crate::cancel::requested() {
            return Err(None);
        }
        match std::io::stdin().lock().read(buf) {
            Ok(n) => Ok(n),
            Err(e) => Err(Some(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes handed out in chunks of `step`.
    struct Chunks {
        data: Vec<u8>,
        at: usize,
        step: usize,
        /// Bytes after the data (an endless source when Some).
        endless: Option<u8>,
    }

    impl Source for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Option<std::io::Error>> {
            if self.at >= self.data.len() {
                return match self.endless {
                    Some(b) => {
                        buf.fill(b);
                        Ok(buf.len())
                    }
                    None => Ok(0),
                };
            }
            let n = self.step.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn stream(data: &[u8], step: usize, endless: Option<u8>) -> Stream {
        Stream::new(Box::new(Chunks { data: data.to_vec(), at: 0, step, endless }))
    }

    #[test]
    fn lines_in_any_chunking() {
        for step in [1, 2, 3, 7, 4096] {
            let mut s = stream(b"n dc1\r\nq ldap\n\nexit", step, None);
            assert_eq!(s.next_line(), Line::Text("n dc1".into()));
            assert_eq!(s.next_line(), Line::Text("q ldap".into()));
            assert_eq!(s.next_line(), Line::Text(String::new()));
            assert_eq!(s.next_line(), Line::Text("exit".into()));
            assert_eq!(s.next_line(), Line::Eof);
            assert_eq!(s.next_line(), Line::Eof);
        }
    }

    #[test]
    fn a_line_over_the_limit_is_one_error_and_the_next_line_reads() {
        let mut data = vec![b'x'; MAX_LINE];
        data.extend_from_slice(b"\n");
        data.extend(vec![b'y'; MAX_LINE + 1]);
        data.extend_from_slice(b"\nq\n");
        data.extend(vec![b'z'; 3 * MAX_LINE]);
        for step in [1000, 4096] {
            let mut s = stream(&data, step, None);
            assert_eq!(s.next_line(), Line::Text("x".repeat(MAX_LINE)));
            assert_eq!(s.next_line(), Line::TooLong);
            assert_eq!(s.next_line(), Line::Text("q".into()));
            assert_eq!(s.next_line(), Line::TooLong);
            assert_eq!(s.next_line(), Line::Eof);
        }
    }

    #[test]
    fn endless_input_without_line_ends_fails_instead_of_hanging() {
        let mut s = stream(b"q\n", 4096, Some(0));
        assert_eq!(s.next_line(), Line::Text("q".into()));
        match s.next_line() {
            Line::Failed(e) => assert!(e.contains("without a line end"), "{e}"),
            other => panic!("{other:?}"),
        }
        // Endless lines of junk are each a line (and each an error upstream).
        let mut s = stream(b"", 4096, Some(b'\n'));
        assert_eq!(s.next_line(), Line::Text(String::new()));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut s = stream(b"n \xff\xfe\n", 4096, None);
        assert_eq!(s.next_line(), Line::Text("n \u{fffd}\u{fffd}".into()));
    }
}
