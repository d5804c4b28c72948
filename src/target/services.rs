//! The services file: port → service name, as PortQry labels its lines
//! ("TCP port 135 (epmap service)") and picks protocol queries.
//!
//! Format: services(5): `name port/protocol [aliases...] [# comment]`.
//! A malformed line is skipped, never fatal.

use super::input::{self, ReadError};
use crate::error::{Error, clip};
use crate::probe::Transport;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// PortQry's own table (Windows names), built into the binary: used outright
/// with `--services portqry` or when the system has no services file, and for
/// every port a services file does not name.
pub const BUILTIN: &str = include_str!("../../services.sample");

/// The `--services` value that selects PortQry's table outright.
pub const PORTQRY: &str = "portqry";

/// Where the services table came from (shown by `-v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Builtin,
}

/// A parsed services table.
#[derive(Debug, Clone)]
pub struct Services {
    by_port: HashMap<(u16, Transport), String>,
    /// PortQry's table, for ports `by_port` does not name (none when
    /// `by_port` is that table).
    fallback: Option<Box<Services>>,
    pub source: Source,
}

impl Services {
    /// Parse services-file text; the first name listed for a port wins, as getservbyport.
    pub fn parse(text: &str, source: Source) -> Services {
        let mut by_port = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            let transport = match proto.to_ascii_lowercase().as_str() {
                "tcp" => Transport::Tcp,
                "udp" => Transport::Udp,
                _ => continue,
            };
            by_port.entry((port, transport)).or_insert_with(|| name.to_string());
        }
        Services { by_port, fallback: None, source }
    }

    /// PortQry's own table alone (`--services portqry`).
    pub fn portqry() -> Services {
        Services::parse(BUILTIN, Source::Builtin)
    }

    /// A file's table, falling back to PortQry's for ports it does not name.
    fn with_fallback(text: &str, source: Source) -> Services {
        Services { fallback: Some(Box::new(Services::portqry())), ..Services::parse(text, source) }
    }

    /// Load `--services FILE` if given (an unreadable file is an error), else the
    /// system's file, else the built-in table. A file's table falls back to
    /// PortQry's for the ports it does not name; `--services portqry` uses
    /// PortQry's table outright.
    ///
    /// Both files are read within [`super::input`]'s limits (size, line
    /// length, a deadline for a FIFO); a system file that breaks them is
    /// passed over for the built-in table, as an unreadable one is.
    pub fn load(explicit: Option<&Path>) -> Result<Services, Error> {
        if let Some(path) = explicit {
            if path.as_os_str().eq_ignore_ascii_case(PORTQRY) {
                return Ok(Services::portqry());
            }
            let text = input::read_path(path, &crate::cancel::requested).map_err(|e| {
                let shown = clip(&path.display().to_string());
                let advice = match e {
                    ReadError::Interrupted => {
                        return Error::InterruptedWhile(format!(
                            "while reading services file '{shown}': nothing was probed"
                        ));
                    }
                    ReadError::Io(_) => "",
                    ReadError::TimedOut => ": give a regular file",
                    _ => ": give a services(5) file such as /etc/services",
                };
                Error::Services { path: shown, detail: format!("{e}{advice}") }
            })?;
            return Ok(Services::with_fallback(&text, Source::File(path.to_path_buf())));
        }
        if let Some(path) = system_path() {
            match input::read_path_lossy(&path, &crate::cancel::requested) {
                Ok(text) => return Ok(Services::with_fallback(&text, Source::File(path))),
                // The system file is not the user's doing; only Ctrl-C stops here.
                Err(ReadError::Interrupted) => {
                    return Err(Error::InterruptedWhile(
                        "while reading the services file: nothing was probed".into(),
                    ));
                }
                Err(_) => {}
            }
        }
        Ok(Services::portqry())
    }

    /// The service name for a port: the file's, else PortQry's, if either has one.
    pub fn name(&self, port: u16, transport: Transport) -> Option<&str> {
        match self.by_port.get(&(port, transport)) {
            Some(n) => Some(n),
            None => self.fallback.as_ref().and_then(|f| f.name(port, transport)),
        }
    }

    /// PortQry's label: "epmap service" or "unknown service".
    pub fn label(&self, port: u16, transport: Transport) -> String {
        label(self.name(port, transport))
    }
}

/// PortQry's label for a service name: "epmap service" or "unknown service".
pub fn label(name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{n} service"),
        None => "unknown service".to_string(),
    }
}

fn system_path() -> Option<PathBuf> {
    #[cfg(windows)]
    {
        let root = std::env::var_os("SystemRoot")?;
        Some(PathBuf::from(root).join(r"System32\drivers\etc\services"))
    }
    #[cfg(not(windows))]
    {
        Some(PathBuf::from("/etc/services"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_skips_garbage() {
        let text = "\
# comment line
epmap 135/tcp loc-srv # DCE endpoint resolution
epmap\t135/udp
domain 53/tcp
domain 53/udp
broken
also broken/tcp
noport x/tcp
big 70000/tcp
weird 12/sctp
ldap 1025/tcp # PortQry: remap ldap to 1025
dup 53/tcp
\u{fffd}\u{fffd} 7/tcp
";
        let s = Services::parse(text, Source::Builtin);
        assert_eq!(s.label(135, Transport::Tcp), "epmap service");
        assert_eq!(s.label(135, Transport::Udp), "epmap service");
        assert_eq!(s.name(53, Transport::Tcp), Some("domain"));
        assert_eq!(s.name(1025, Transport::Tcp), Some("ldap"));
        assert_eq!(s.label(12, Transport::Tcp), "unknown service");
        assert_eq!(s.label(9999, Transport::Udp), "unknown service");
        assert_eq!(s.name(7, Transport::Tcp), Some("\u{fffd}\u{fffd}"));
    }

    #[test]
    fn builtin_has_portqry_names() {
        let s = Services::parse(BUILTIN, Source::Builtin);
        for (port, t, name) in [
            (135, Transport::Tcp, "epmap"),
            (53, Transport::Udp, "domain"),
            (137, Transport::Udp, "netbios-ns"),
            (389, Transport::Tcp, "ldap"),
            (80, Transport::Tcp, "http"),
            (443, Transport::Tcp, "https"),
            (1433, Transport::Tcp, "ms-sql-s"),
            (1434, Transport::Udp, "ms-sql-m"),
        ] {
            assert_eq!(s.name(port, t), Some(name), "{port}/{t}");
        }
    }

    #[test]
    fn unnamed_ports_fall_back_to_portqry_names() {
        // Debian's file: no UDP 135, no 3268/3269/42, 1701 is l2f, 143 imap2.
        let debian = "epmap 135/tcp loc-srv\nimap2 143/tcp imap\nl2f 1701/udp l2tp\n";
        let s = Services::with_fallback(debian, Source::Builtin);
        assert_eq!(s.label(135, Transport::Udp), "epmap service");
        assert_eq!(s.label(3268, Transport::Tcp), "msft-gc service");
        assert_eq!(s.label(3269, Transport::Tcp), "msft-gc-ssl service");
        assert_eq!(s.label(42, Transport::Tcp), "nameserver service");
        // A port the file names keeps the file's name.
        assert_eq!(s.label(1701, Transport::Udp), "l2f service");
        assert_eq!(s.label(143, Transport::Tcp), "imap2 service");
        assert_eq!(s.label(40000, Transport::Tcp), "unknown service");
        // PortQry's table outright.
        let p = Services::load(Some(Path::new("PortQry"))).unwrap();
        assert_eq!(p.label(1701, Transport::Udp), "l2tp service");
        assert_eq!(p.label(143, Transport::Tcp), "imap service");
        // PortQry prints UDP 389 as unknown (reference §4.1).
        assert_eq!(p.label(389, Transport::Udp), "unknown service");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let e = Services::load(Some(Path::new("/nonexistent/services"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/services"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn endless_explicit_file_is_a_bounded_usage_error() {
        let e = Services::load(Some(Path::new("/dev/zero"))).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
        assert_eq!(
            e.to_string(),
            "cannot read services file '/dev/zero': line 1 is longer than 4096 bytes: give a services(5) file such as /etc/services"
        );
    }
}
