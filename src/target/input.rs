//! Reading what the user points us at (`-n @FILE`, `-n -`, `--services FILE`)
//! with bounds: a file of zeros, a FIFO nobody writes to or an endless pipe
//! must end in one clear error, never in unbounded memory or a hang.
//!
//! * at most [`MAX_BYTES`] in all and [`MAX_LINE`] bytes a line, checked as
//!   the bytes arrive (`/dev/zero` fails after its first read), and UTF-8
//!   text (`/dev/urandom` fails at once too);
//! * anything but a regular file (a FIFO, a pipe, `<(...)`, a device) is
//!   opened without blocking and polled in slices of [`crate::cancel::SLICE`]:
//!   Ctrl-C works, and the input must end within [`PIPE_DEADLINE`] — except
//!   a terminal on stdin, where a person may be typing.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// Largest target list or services file read (a services file is ~15 KB; a
/// million targets of 15 characters fit).
pub const MAX_BYTES: usize = 16 << 20;
/// Longest line (a host name has at most 253 characters, a services line a
/// few dozen; the rest is room for comments).
pub const MAX_LINE: usize = 4096;
/// How long a FIFO, pipe or device may take to deliver its whole input.
pub const PIPE_DEADLINE: Duration = Duration::from_secs(10);

/// Why an input could not be read; the caller names the input and says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    Io(String),
    TooBig,
    LineTooLong { line: usize },
    NotText { line: usize },
    TimedOut,
    Interrupted,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::TooBig => write!(f, "it is larger than {} MiB", MAX_BYTES >> 20),
            ReadError::LineTooLong { line } => write!(f, "line {line} is longer than {MAX_LINE} bytes"),
            ReadError::NotText { line } => write!(f, "line {line} is not UTF-8 text"),
            ReadError::TimedOut => write!(
                f,
                "the input did not end within {} s (a FIFO or pipe needs a writer that finishes)",
                PIPE_DEADLINE.as_secs()
            ),
            ReadError::Interrupted => write!(f, "interrupted"),
        }
    }
}

/// Collects the bytes of one input, enforcing the limits as they arrive.
#[derive(Debug)]
struct Collector {
    buf: Vec<u8>,
    /// Bytes of the current (unfinished) line.
    line_len: usize,
    /// 1-based number of the current line.
    line: usize,
    /// `buf[..valid]` is known to be UTF-8.
    valid: usize,
    /// Whether bytes that are not UTF-8 are an error (else they are replaced).
    strict: bool,
}

impl Collector {
    fn new(strict: bool) -> Collector {
        Collector { buf: Vec::new(), line_len: 0, line: 1, valid: 0, strict }
    }

    fn push(&mut self, chunk: &[u8]) -> Result<(), ReadError> {
        if self.buf.len() + chunk.len() > MAX_BYTES {
            return Err(ReadError::TooBig);
        }
        for &b in chunk {
            if b == b'\n' {
                self.line += 1;
                self.line_len = 0;
            } else {
                self.line_len += 1;
                if self.line_len > MAX_LINE {
                    return Err(ReadError::LineTooLong { line: self.line });
                }
            }
        }
        self.buf.extend_from_slice(chunk);
        if !self.strict {
            return Ok(());
        }
        // Check the text as it comes, so random bytes fail at once; a
        // character cut by the chunk boundary is completed by the next one.
        match std::str::from_utf8(&self.buf[self.valid..]) {
            Ok(_) => self.valid = self.buf.len(),
            Err(e) if e.error_len().is_none() => self.valid += e.valid_up_to(),
            Err(e) => return Err(self.not_text(self.valid + e.valid_up_to())),
        }
        Ok(())
    }

    fn not_text(&self, at: usize) -> ReadError {
        ReadError::NotText { line: 1 + self.buf[..at].iter().filter(|&&b| b == b'\n').count() }
    }

    fn finish(self) -> Result<String, ReadError> {
        if !self.strict {
            return Ok(String::from_utf8_lossy(&self.buf).into_owned());
        }
        if self.valid != self.buf.len() {
            return Err(self.not_text(self.valid));
        }
        String::from_utf8(self.buf).map_err(|e| ReadError::Io(e.to_string()))
    }
}

/// Read `r` to its end within the limits. `poll_fd` is the descriptor to wait
/// on before each read (`None` for a regular file, which never blocks);
/// `deadline` bounds the whole read; `stop` is checked every slice.
fn read_all(
    r: &mut dyn Read,
    #[cfg_attr(not(unix), allow(unused_variables))] poll_fd: Option<i32>,
    deadline: Option<Instant>,
    stop: &dyn Fn() -> bool,
    strict: bool,
) -> Result<String, ReadError> {
    let mut collected = Collector::new(strict);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if stop() {
            return Err(ReadError::Interrupted);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(ReadError::TimedOut);
        }
        #[cfg(unix)]
        if let Some(fd) = poll_fd {
            let wait = deadline
                .map_or(Some(crate::cancel::SLICE), crate::cancel::slice_until)
                .unwrap_or(Duration::from_millis(1));
            if !crate::platform::wait_readable(fd, wait) {
                continue; // timeout, or EINTR from Ctrl-C: look at the flags again
            }
        }
        match r.read(&mut chunk) {
            Ok(0) => return collected.finish(),
            Ok(n) => collected.push(&chunk[..n])?,
            Err(e)
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(ReadError::Io(e.to_string())),
        }
    }
}

/// Read the UTF-8 text file at `path` within the limits (see the module notes).
pub fn read_path(path: &Path, stop: &dyn Fn() -> bool) -> Result<String, ReadError> {
    read_file(path, stop, true)
}

/// [`read_path`], with bytes that are not UTF-8 replaced rather than refused
/// (for the system's services file, which is not the user's to fix).
pub fn read_path_lossy(path: &Path, stop: &dyn Fn() -> bool) -> Result<String, ReadError> {
    read_file(path, stop, false)
}

fn read_file(path: &Path, stop: &dyn Fn() -> bool, strict: bool) -> Result<String, ReadError> {
    let io = |e: std::io::Error| ReadError::Io(e.to_string());
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    // Opening a FIFO for reading blocks until a writer comes; without
    // blocking it returns at once and poll(2) waits, with a deadline.
    #[cfg(unix)]
    crate::platform::open_nonblocking(&mut opts);
    let mut file = opts.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(ReadError::Io("it is a directory".into()));
    }
    if meta.is_file() {
        return read_all(&mut file, None, None, stop, strict);
    }
    #[cfg(unix)]
    let fd = Some(std::os::fd::AsRawFd::as_raw_fd(&file));
    #[cfg(not(unix))]
    let fd = None;
    read_all(&mut file, fd, Some(Instant::now() + PIPE_DEADLINE), stop, strict)
}

/// Read standard input within the limits: no deadline at a terminal (a person
/// types, Ctrl-D ends), [`PIPE_DEADLINE`] for a pipe, FIFO or device.
pub fn read_stdin(stop: &dyn Fn() -> bool) -> Result<String, ReadError> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let fd = stdin.as_raw_fd();
        let regular = crate::platform::is_regular_fd(fd);
        let deadline = (!regular && !stdin.is_terminal()).then(|| Instant::now() + PIPE_DEADLINE);
        // Never set O_NONBLOCK here: the descriptor is shared with the shell.
        // poll(2) says when a read will not block.
        read_all(&mut stdin.lock(), (!regular).then_some(fd), deadline, stop, true)
    }
    #[cfg(not(unix))]
    {
        let _ = stdin.is_terminal();
        read_all(&mut stdin.lock(), None, None, stop, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]]) -> Result<String, ReadError> {
        let mut c = Collector::new(true);
        for ch in chunks {
            c.push(ch)?;
        }
        c.finish()
    }

    #[test]
    fn limits_on_size_lines_and_text() {
        assert_eq!(collect(&[b"host1\nhost2\n"]).unwrap(), "host1\nhost2\n");
        let line = vec![b'a'; MAX_LINE];
        assert!(collect(&[&line, b"\n", &line]).is_ok(), "a line of exactly MAX_LINE bytes is fine");
        assert_eq!(collect(&[b"ok\n", &line, b"a\n"]), Err(ReadError::LineTooLong { line: 2 }));
        // A long line split over many chunks is still one line.
        let half = vec![b'a'; MAX_LINE / 2 + 1];
        assert_eq!(collect(&[&half, &half]), Err(ReadError::LineTooLong { line: 1 }));
        let zeros = vec![0u8; 64 * 1024];
        assert_eq!(collect(&[&zeros]), Err(ReadError::LineTooLong { line: 1 }));
        // (matches!, not assert_eq!: a failure must not print 16 MiB.)
        let short_lines = b"127.0.0.1\n".repeat(MAX_BYTES / 10);
        assert!(collect(&[&short_lines]).is_ok(), "just under the limit");
        assert!(matches!(collect(&[&short_lines, b"127.0.0.1\n"]), Err(ReadError::TooBig)));
        assert_eq!(collect(&[b"a\nb\n\xff\xfe\n"]), Err(ReadError::NotText { line: 3 }));
        // A character cut by a chunk boundary is fine; one left unfinished is not.
        assert_eq!(collect(&[b"caf\xc3", b"\xa9\n"]).unwrap(), "café\n");
        assert_eq!(collect(&[b"x\ncaf\xc3"]), Err(ReadError::NotText { line: 2 }));
        let mut lossy = Collector::new(false);
        lossy.push(b"epmap 135/tcp \xe9\n").unwrap();
        assert_eq!(lossy.finish().unwrap(), "epmap 135/tcp \u{fffd}\n");
    }

    #[test]
    fn stop_and_deadline_end_a_read_that_never_ends() {
        struct Never;
        impl Read for Never {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                Err(std::io::ErrorKind::WouldBlock.into())
            }
        }
        let t = Instant::now();
        let deadline = Some(Instant::now() + Duration::from_millis(300));
        assert_eq!(read_all(&mut Never, None, deadline, &|| false, true), Err(ReadError::TimedOut));
        assert!(t.elapsed() < Duration::from_secs(2));
        assert_eq!(read_all(&mut Never, None, None, &|| true, true), Err(ReadError::Interrupted));
    }

    #[test]
    #[cfg(unix)] // Unix device paths and directory reads
    fn devices_and_directories() {
        let never = || false;
        assert_eq!(read_path(Path::new("/dev/null"), &never).unwrap(), "");
        #[cfg(target_os = "linux")]
        {
            assert_eq!(read_path(Path::new("/dev/zero"), &never), Err(ReadError::LineTooLong { line: 1 }));
            assert!(matches!(read_path(Path::new("/dev/urandom"), &never), Err(ReadError::NotText { .. })));
        }
        assert_eq!(read_path(Path::new("/"), &never), Err(ReadError::Io("it is a directory".into())));
    }
}
