//! The services file: port → service name, as PortQry labels its lines
//! ("TCP port 135 (epmap service)") and picks protocol queries.
//!
//! Format: services(5): `name port/protocol [aliases...] [# comment]`.
//! A malformed line is skipped, never fatal.

use crate::error::Error;
use crate::probe::Transport;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The table built into the binary, used when the system has no services file.
pub const BUILTIN: &str = include_str!("../../services.sample");

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
        Services { by_port, source }
    }

    /// Load `--services FILE` if given (an unreadable file is an error), else the
    /// system's file, else the built-in table.
    pub fn load(explicit: Option<&Path>) -> Result<Services, Error> {
        if let Some(path) = explicit {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Services { path: path.display().to_string(), detail: e.to_string() })?;
            return Ok(Services::parse(&text, Source::File(path.to_path_buf())));
        }
        if let Some(path) = system_path()
            && let Ok(bytes) = std::fs::read(&path)
        {
            let text = String::from_utf8_lossy(&bytes);
            return Ok(Services::parse(&text, Source::File(path)));
        }
        Ok(Services::parse(BUILTIN, Source::Builtin))
    }

    /// The service name for a port, if the table has one.
    pub fn name(&self, port: u16, transport: Transport) -> Option<&str> {
        self.by_port.get(&(port, transport)).map(String::as_str)
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
    fn missing_explicit_file_is_an_error() {
        let e = Services::load(Some(Path::new("/nonexistent/services"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/services"));
    }
}
