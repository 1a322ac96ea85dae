//! The `destination` setting: a list of servers to try in order.
//!
//! Entries are separated by blanks or commas. Each entry is
//! `[PROTOCOL:]HOST[:PORT][/PATH]`:
//! - `PROTOCOL` is `tcp` (the default); `udp` is refused, as backhaul sends
//!   over TCP only;
//! - `HOST` is a name or IPv4 address, or an IPv6 address inside `[...]`
//!   (optionally with a `%interface` scope);
//! - `PORT` defaults to the connector's ([`ConnectorType::default_port`]);
//!   an empty port (`host:`) also means the default, as in netdata;
//!   prometheus remote write has no default: its entries must give a port;
//! - `/PATH` is accepted for HTTP connectors only.
//!
//! Names are not resolved here: that happens at connect time.
//!
//! Note: an entry starting with `tcp:` or `udp:` is always read as a
//! protocol, so a host literally called `tcp` cannot be written with a port.

use std::fmt;
use std::net::Ipv6Addr;

use super::connector::ConnectorType;

/// One server to send to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    /// Host name or address (an IPv6 address without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Request path for HTTP connectors, starting with `/`.
    pub path: Option<String>,
}

impl fmt::Display for Destination {
    /// `host:port`, `[v6]:port`, followed by the path if any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        if let Some(path) = &self.path {
            f.write_str(path)?;
        }
        Ok(())
    }
}

/// Parses a whole `destination` value for `connector`. An empty list is an
/// error. The returned reason quotes the offending entry.
pub fn parse_destinations(
    value: &str,
    connector: ConnectorType,
) -> Result<Vec<Destination>, String> {
    let destinations = value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|entry| !entry.is_empty())
        .map(|entry| parse_destination(entry, connector.default_port(), connector.uses_http()))
        .collect::<Result<Vec<_>, _>>()?;
    if destinations.is_empty() {
        return Err("no destination given".to_string());
    }
    Ok(destinations)
}

/// Parses one entry; `default_port` is used when it gives none (`None`: a
/// port is required); `allow_path` says whether a `/path` may follow.
pub fn parse_destination(
    entry: &str,
    default_port: Option<u16>,
    allow_path: bool,
) -> Result<Destination, String> {
    let default_port = || {
        default_port.ok_or_else(|| {
            format!(
                "'{entry}': no port, and prometheus remote write has none by default \
                 (netdata had no usable one either): write HOST:PORT, e.g. 127.0.0.1:9090 \
                 for a Prometheus server"
            )
        })
    };
    let rest = strip_protocol(entry)?;

    let (host, after_host) = if let Some(bracketed) = rest.strip_prefix('[') {
        let Some(close) = bracketed.find(']') else {
            return Err(format!("'{entry}': '[' without a closing ']'"));
        };
        let address = &bracketed[..close];
        let without_scope = address.split_once('%').map_or(address, |(addr, _)| addr);
        if without_scope.parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "'{entry}': '{address}' inside [...] is not an IPv6 address"
            ));
        }
        (address, &bracketed[close + 1..])
    } else {
        let host_end = rest.find([':', '/']).unwrap_or(rest.len());
        let host = &rest[..host_end];
        if let Some(bad) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
        {
            return Err(format!("'{entry}': '{bad}' cannot appear in a host name"));
        }
        (host, &rest[host_end..])
    };
    if host.is_empty() {
        return Err(format!(
            "'{entry}': no host (IPv6 addresses are written inside [...], e.g. [::1]:2003)"
        ));
    }

    let (port, after_port) = match after_host.strip_prefix(':') {
        Some(port_and_path) => {
            let port_end = port_and_path.find('/').unwrap_or(port_and_path.len());
            let port_text = &port_and_path[..port_end];
            let port = if port_text.is_empty() {
                default_port()?
            } else {
                parse_port(entry, port_text)?
            };
            (port, &port_and_path[port_end..])
        }
        None => (default_port()?, after_host),
    };

    let path = if after_port.is_empty() {
        None
    } else if after_port.starts_with('/') {
        if !allow_path {
            return Err(format!(
                "'{entry}': a /path is only used by HTTP connectors"
            ));
        }
        Some(after_port.to_string())
    } else {
        return Err(format!(
            "'{entry}': unexpected '{after_port}' after the host (expected ':PORT' or '/PATH')"
        ));
    };

    Ok(Destination {
        host: host.to_string(),
        port,
        path,
    })
}

fn strip_protocol(entry: &str) -> Result<&str, String> {
    let Some((protocol, rest)) = entry.split_once(':') else {
        return Ok(entry);
    };
    if protocol.eq_ignore_ascii_case("tcp") {
        Ok(rest)
    } else if protocol.eq_ignore_ascii_case("udp") {
        Err(format!(
            "'{entry}': udp is not supported (backhaul sends over tcp only)"
        ))
    } else {
        Ok(entry)
    }
}

fn parse_port(entry: &str, port_text: &str) -> Result<u16, String> {
    let port = if port_text.bytes().all(|b| b.is_ascii_digit()) {
        port_text.parse::<u16>().ok().filter(|port| *port != 0)
    } else {
        None
    };
    port.ok_or_else(|| {
        let hint = if port_text.contains(':') {
            " (IPv6 addresses are written inside [...], e.g. [::1]:2003)"
        } else {
            ""
        };
        format!("'{entry}': port '{port_text}' is not a number from 1 to 65535{hint}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(entry: &str) -> Result<Destination, String> {
        parse_destination(entry, Some(2003), false)
    }

    fn dest(host: &str, port: u16) -> Destination {
        Destination {
            host: host.to_string(),
            port,
            path: None,
        }
    }

    #[test]
    fn entry_forms() {
        assert_eq!(one("localhost"), Ok(dest("localhost", 2003)));
        assert_eq!(one("host:2103"), Ok(dest("host", 2103)));
        assert_eq!(one("host:"), Ok(dest("host", 2003)));
        assert_eq!(one("[::1]"), Ok(dest("::1", 2003)));
        assert_eq!(one("[::1]:2004"), Ok(dest("::1", 2004)));
        assert_eq!(one("[fe80::1%eth0]:9"), Ok(dest("fe80::1%eth0", 9)));
        assert_eq!(one("tcp:127.0.0.1:2003"), Ok(dest("127.0.0.1", 2003)));
        assert_eq!(one("TCP:[::1]:5"), Ok(dest("::1", 5)));
        assert_eq!(
            parse_destination("h:8080/api/put", Some(4242), true),
            Ok(Destination {
                host: "h".to_string(),
                port: 8080,
                path: Some("/api/put".to_string())
            })
        );
    }

    #[test]
    fn entry_errors() {
        assert_eq!(
            one("host:99999"),
            Err("'host:99999': port '99999' is not a number from 1 to 65535".to_string())
        );
        assert_eq!(
            one("host:abc"),
            Err("'host:abc': port 'abc' is not a number from 1 to 65535".to_string())
        );
        assert!(one("host:0").is_err());
        assert!(one("udp:host:2003").is_err());
        assert!(one("::1").is_err());
        assert!(one("fe80::1").is_err());
        assert!(one("[::1").is_err());
        assert!(one("[nope]:1").is_err());
        assert!(one("[::1]x").is_err());
        assert!(one("host/path").is_err());
        for entry in ["localhost", "localhost:", "[::1]/receive", "h:/receive"] {
            let error = parse_destination(entry, None, true).unwrap_err();
            assert!(error.contains("write HOST:PORT"), "{error}");
        }
        assert_eq!(
            parse_destinations("h:9091/receive", ConnectorType::PrometheusRemoteWrite)
                .map(|d| d[0].to_string()),
            Ok("h:9091/receive".to_string())
        );
        assert!(one("ho$t").is_err());
    }

    #[test]
    fn lists() {
        let parsed = parse_destinations(" a:1, b ,[::1]:3\tc", ConnectorType::Opentsdb);
        assert_eq!(
            parsed,
            Ok(vec![
                dest("a", 1),
                dest("b", 4242),
                dest("::1", 3),
                dest("c", 4242)
            ])
        );
        assert_eq!(
            parse_destinations(" , ", ConnectorType::Graphite),
            Err("no destination given".to_string())
        );
    }

    #[test]
    fn display() {
        assert_eq!(dest("a", 1).to_string(), "a:1");
        assert_eq!(dest("::1", 2003).to_string(), "[::1]:2003");
    }

    fn host_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9_-]{0,12}(\\.[a-z0-9]{1,6}){0,3}"
                .prop_filter("protocol names are read as protocols", |h| {
                    h != "tcp" && h != "udp"
                }),
            any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
            any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
        ]
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(
            host in host_strategy(),
            port in 1u16..=65535,
            path in proptest::option::of("/[a-z0-9/_.-]{0,12}"),
        ) {
            let original = Destination { host, port, path };
            let parsed = parse_destination(&original.to_string(), Some(1), true);
            prop_assert_eq!(parsed, Ok(original));
        }
    }
}
