//! The `[web] allow ... from` access lists, as netdata simple patterns
//! matched on the client's IP address.
//!
//! netdata can also match a client's reverse-DNS name (`allow ... by dns`);
//! backhaul looks no name up. It matches the address, and `127.0.0.1` and
//! `::1` (the addresses `/etc/hosts` gives `localhost`) also under the name
//! `localhost`, so netdata's defaults (`allow management from = localhost`,
//! `allow connections from = localhost *`) mean what they say without DNS.

use std::net::IpAddr;

use wire::simple_pattern::SimplePattern;

use crate::config::WebAccess;

/// What a request asks to reach, each with its own list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The whole server (checked when a connection is accepted).
    Connections,
    /// `/`, the API and static files.
    Dashboard,
    /// `/api/v1/badge.svg` (the dashboard list also allows it).
    Badges,
    /// `STREAM` requests from netdata children.
    Streaming,
    /// `/netdata.conf`.
    NetdataConf,
    /// `/api/v1/manage/...`.
    Management,
}

/// The compiled access lists.
#[derive(Debug, Clone)]
pub struct Access {
    connections: SimplePattern,
    dashboard: SimplePattern,
    badges: SimplePattern,
    streaming: SimplePattern,
    netdata_conf: SimplePattern,
    management: SimplePattern,
}

impl Access {
    pub fn new(lists: &WebAccess) -> Access {
        Access {
            connections: SimplePattern::new(&lists.connections),
            dashboard: SimplePattern::new(&lists.dashboard),
            badges: SimplePattern::new(&lists.badges),
            streaming: SimplePattern::new(&lists.streaming),
            netdata_conf: SimplePattern::new(&lists.netdata_conf),
            management: SimplePattern::new(&lists.management),
        }
    }

    /// Whether `client` may reach `area`.
    pub fn allows(&self, area: Area, client: IpAddr) -> bool {
        let pattern = match area {
            Area::Connections => &self.connections,
            Area::Dashboard => &self.dashboard,
            Area::Badges => &self.badges,
            Area::Streaming => &self.streaming,
            Area::NetdataConf => &self.netdata_conf,
            Area::Management => &self.management,
        };
        let client = super::request::canonical_ip(client);
        let is_localhost = match client {
            IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
            IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
        };
        let verdict = pattern.match_result(&client.to_string()).or_else(|| {
            is_localhost
                .then(|| pattern.match_result("localhost"))
                .flatten()
        });
        verdict == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn netdata_defaults() {
        let access = Access::new(&WebAccess::default());
        for client in ["127.0.0.1", "127.0.0.2", "::1", "10.1.2.3", "2001:db8::1"] {
            assert!(access.allows(Area::Connections, ip(client)), "{client}");
            assert!(access.allows(Area::Dashboard, ip(client)), "{client}");
            assert!(access.allows(Area::Streaming, ip(client)), "{client}");
        }
        assert!(access.allows(Area::Management, ip("127.0.0.1")));
        assert!(access.allows(Area::Management, ip("::1")));
        assert!(access.allows(Area::Management, ip("::ffff:127.0.0.1")));
        assert!(!access.allows(Area::Management, ip("127.0.0.2")));
        assert!(!access.allows(Area::Management, ip("10.1.2.3")));
        assert!(access.allows(Area::NetdataConf, ip("192.168.1.1")));
        assert!(access.allows(Area::NetdataConf, ip("172.20.0.1")));
        assert!(!access.allows(Area::NetdataConf, ip("172.32.0.1")));
        assert!(!access.allows(Area::NetdataConf, ip("8.8.8.8")));
    }

    #[test]
    fn negative_words_and_addresses() {
        let lists = WebAccess {
            dashboard: "!127.0.0.2 127.*".to_string(),
            streaming: "!localhost *".to_string(),
            ..WebAccess::default()
        };
        let access = Access::new(&lists);
        assert!(access.allows(Area::Dashboard, ip("127.0.0.1")));
        assert!(!access.allows(Area::Dashboard, ip("127.0.0.2")));
        assert!(!access.allows(Area::Dashboard, ip("10.0.0.1")));
        // The address is matched first: `*` matches it before `localhost`
        // is tried, and `!localhost` only refuses when the address itself
        // matches no word.
        assert!(access.allows(Area::Streaming, ip("127.0.0.1")));
        let lists = WebAccess {
            streaming: "!localhost 10.*".to_string(),
            ..WebAccess::default()
        };
        let access = Access::new(&lists);
        assert!(!access.allows(Area::Streaming, ip("127.0.0.1")));
        assert!(access.allows(Area::Streaming, ip("10.0.0.1")));
    }
}
