//! Port numbers and PortQry's three ways to list them (`-e`, `-r`, `-o`).

use crate::error::{Error, clip};

/// Parse one port number, 1–65535.
pub fn parse_port(s: &str) -> Result<u16, Error> {
    let t = s.trim();
    match t.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        Ok(_) => Err(Error::Usage(format!("port {t} is out of range: ports are 1 to 65535"))),
        Err(_) => {
            Err(Error::Usage(format!("'{}' is not a port number: give a number from 1 to 65535", clip(t))))
        }
    }
}

/// Parse `-r start:end` (PortQry's colon; `;` and `-` are accepted too, since
/// Microsoft's own documentation shows `;`). Start may equal end, not exceed it.
pub fn parse_range(s: &str) -> Result<(u16, u16), Error> {
    let sep = s.find([':', ';', '-']).ok_or_else(|| {
        Error::Usage(format!("'{}' is not a port range: write it as start:end, e.g. -r 1:1024", clip(s)))
    })?;
    let (a, b) = (&s[..sep], &s[sep + 1..]);
    let (start, end) = (parse_port(a)?, parse_port(b)?);
    if start > end {
        return Err(Error::Usage(format!(
            "port range {start}:{end} starts above its end: write it as {end}:{start}"
        )));
    }
    Ok((start, end))
}

/// Parse `-o p1,p2,...`; the order is kept, as PortQry queries in that order.
pub fn parse_list(s: &str) -> Result<Vec<u16>, Error> {
    if s.trim().is_empty() {
        return Err(Error::Usage("empty port list: write it as p1,p2,..., e.g. -o 25,445,1024".into()));
    }
    s.split(',')
        .map(|p| {
            if p.trim().is_empty() {
                Err(Error::Usage(format!(
                    "port list '{}' has an empty entry: write it as p1,p2,... with no spaces",
                    clip(s)
                )))
            } else {
                parse_port(p)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("1").unwrap(), 1);
        assert_eq!(parse_port("65535").unwrap(), 65535);
        for bad in ["0", "65536", "-1", "http", "", "99999999999"] {
            let e = parse_port(bad).unwrap_err().to_string();
            assert!(e.contains("1 to 65535"), "{bad}: {e}");
        }
        // A long value is echoed clipped; u32 overflow makes a long number a parse error.
        let e = parse_port(&"9".repeat(70_000)).unwrap_err().to_string();
        assert!(e.len() < 300 && e.contains('…'), "{e}");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("21:445").unwrap(), (21, 445));
        assert_eq!(parse_range("135;139").unwrap(), (135, 139));
        assert_eq!(parse_range("1-1024").unwrap(), (1, 1024));
        assert_eq!(parse_range("80:80").unwrap(), (80, 80));
        assert!(parse_range("445:21").unwrap_err().to_string().contains("write it as 21:445"));
        assert!(parse_range("445").is_err());
        assert!(parse_range("0:5").is_err());
        assert!(parse_range("1:70000").is_err());
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("25,445,1024").unwrap(), vec![25, 445, 1024]);
        assert_eq!(parse_list("443,80").unwrap(), vec![443, 80]);
        assert!(parse_list("25,,80").is_err());
        assert!(parse_list("").is_err());
        assert!(parse_list("25,x").is_err());
    }
}
