//! netdata.conf's `[statsd]` section: the statsd server's settings under
//! netdata 1.37's keys and defaults ([`StatsdConfig`]). Whether it runs is
//! `[plugins] statsd` (default yes), as in netdata 1.37.
//!
//! backhaul additions (netdata has no such key): `max metrics` (default
//! 100000) bounds the metrics kept, `max line length` (default 65535, the
//! size of netdata's TCP buffer) bounds a TCP line.

use super::error::{ConfigError, Warning};
use super::ini::{invalid_value, IniEntry, IniSection};
use super::value::{parse_bool, parse_whole_number};

/// The statsd port netdata listens on.
pub const DEFAULT_STATSD_PORT: u16 = 8125;
/// netdata 1.37's `bind to` of `[statsd]`.
pub const DEFAULT_STATSD_BIND_TO: &str = "udp:localhost tcp:localhost";

/// `[statsd]`, with netdata 1.37's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsdConfig {
    /// `bind to`: entries `udp:HOST[:PORT]` or `tcp:HOST[:PORT]` (no
    /// prefix: TCP), separated by blanks or commas.
    pub bind_to: String,
    /// `default port` (8125): the port of an entry that names none.
    pub default_port: u16,
    /// `update every (flushInterval)`: seconds between flushes; never below
    /// the agent's `update every` (as in netdata).
    pub update_every: u32,
    /// `udp messages to process at once` (10).
    pub udp_messages_at_once: usize,
    /// `create private charts for metrics matching` (`*`).
    pub private_charts_matching: String,
    /// `max private charts hard limit` (1000).
    pub max_private_charts: usize,
    /// `private charts history` (default: the agent's history).
    pub private_charts_history: Option<u32>,
    /// `decimal detail` (1000): gauges, timers and histograms are kept as
    /// integers of this many parts per unit.
    pub decimal_detail: i64,
    /// `disconnect idle tcp clients after seconds` (600; 0: never).
    pub tcp_idle_timeout_s: u64,
    /// `private charts hidden` (no).
    pub private_charts_hidden: bool,
    /// `histograms and timers percentile (percentThreshold)` (95).
    pub percentile: f64,
    /// `dictionaries max unique dimensions` (200).
    pub dictionary_max_unique: usize,
    /// `add dimension for number of events received` (no).
    pub events_dimension: bool,
    /// `gaps on gauges (deleteGauges)` and the six others, in
    /// `wire::statsd::MetricType::ALL` order: gauges, counters, meters,
    /// timers, histograms, sets, dictionaries.
    pub gaps: [bool; 7],
    /// `statsd server max TCP sockets` (netdata: a quarter of the
    /// open-files limit; backhaul: 5000 unless set).
    pub max_tcp_sockets: usize,
    /// `max metrics` (backhaul): metrics kept; new names beyond are dropped
    /// and counted as errors.
    pub max_metrics: usize,
    /// `max line length` (backhaul): longest TCP line, bytes.
    pub max_line_length: usize,
}

// `percentile` is never NaN (it is checked to be within 0..=100).
impl Eq for StatsdConfig {}

/// The `gaps on ...` keys, in [`StatsdConfig::gaps`] order.
pub const GAPS_KEYS: [&str; 7] = [
    "gaps on gauges (deleteGauges)",
    "gaps on counters (deleteCounters)",
    "gaps on meters (deleteMeters)",
    "gaps on timers (deleteTimers)",
    "gaps on histograms (deleteHistograms)",
    "gaps on sets (deleteSets)",
    "gaps on dictionaries (deleteDictionaries)",
];

impl Default for StatsdConfig {
    fn default() -> Self {
        StatsdConfig {
            bind_to: DEFAULT_STATSD_BIND_TO.to_string(),
            default_port: DEFAULT_STATSD_PORT,
            update_every: 1,
            udp_messages_at_once: 10,
            private_charts_matching: "*".to_string(),
            max_private_charts: 1000,
            private_charts_history: None,
            decimal_detail: 1000,
            tcp_idle_timeout_s: 600,
            private_charts_hidden: false,
            percentile: 95.0,
            dictionary_max_unique: 200,
            events_dimension: false,
            gaps: [false; 7],
            max_tcp_sockets: 5000,
            max_metrics: 100_000,
            max_line_length: 65_535,
        }
    }
}

/// One statsd listening address from `bind to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsdBind {
    pub udp: bool,
    pub host: String,
    pub port: u16,
}

impl StatsdConfig {
    /// The addresses of `bind to`, or why it cannot be used.
    pub fn binds(&self) -> Result<Vec<StatsdBind>, String> {
        let mut binds = Vec::new();
        for entry in self
            .bind_to
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|e| !e.is_empty())
        {
            let (udp, address) = if let Some(rest) = entry.strip_prefix("udp:") {
                (true, rest)
            } else if let Some(rest) = entry.strip_prefix("tcp:") {
                (false, rest)
            } else if entry.starts_with("unix:") {
                return Err(format!("'{entry}': unix sockets are not supported"));
            } else {
                (false, entry)
            };
            let (host, port) = if let Some(rest) = address.strip_prefix('[') {
                let (host, after) = rest
                    .split_once(']')
                    .ok_or_else(|| format!("'{entry}': '[' without its ']'"))?;
                (host, after.strip_prefix(':'))
            } else if address.matches(':').count() == 1 {
                let (host, port) = address.split_once(':').unwrap_or((address, ""));
                (host, Some(port))
            } else {
                (address, None)
            };
            if host.is_empty() {
                return Err(format!("'{entry}': no address"));
            }
            let port = match port {
                None => self.default_port,
                Some(port) => port
                    .parse::<u16>()
                    .map_err(|_| format!("'{entry}': the port must be a number from 0 to 65535"))?,
            };
            binds.push(StatsdBind {
                udp,
                host: host.to_string(),
                port,
            });
        }
        Ok(binds)
    }
}

/// Reads `[statsd]` (when present) over the defaults; `update_every` is the
/// agent's. Unknown keys get a warning.
pub fn statsd_from_section(
    section: Option<&IniSection>,
    update_every: u32,
    warnings: &mut Vec<Warning>,
) -> Result<StatsdConfig, ConfigError> {
    let mut config = StatsdConfig {
        update_every,
        ..StatsdConfig::default()
    };
    let Some(section) = section else {
        return Ok(config);
    };
    let number = |entry: &IniEntry, minimum: u64| -> Result<u64, ConfigError> {
        let reason = format!("must be a whole number >= {minimum}");
        parse_whole_number(&entry.value, minimum, &reason)
            .map_err(|reason| invalid_value(section, entry, reason))
    };
    let boolean = |entry: &IniEntry| -> Result<bool, ConfigError> {
        parse_bool(&entry.value).map_err(|reason| invalid_value(section, entry, reason))
    };
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    for entry in &section.entries {
        match entry.key.as_str() {
            "bind to" => config.bind_to = entry.value.clone(),
            "default port" => {
                config.default_port = u16::try_from(number(entry, 1)?).map_err(|_| {
                    invalid_value(section, entry, "must be a port from 1 to 65535".into())
                })?;
            }
            "update every (flushInterval)" => {
                let every = number(entry, 1)?;
                config.update_every = u32::try_from(every).unwrap_or(u32::MAX).max(update_every);
            }
            "udp messages to process at once" => {
                config.udp_messages_at_once = size(number(entry, 1)?)
            }
            "create private charts for metrics matching" => {
                config.private_charts_matching = entry.value.clone()
            }
            "max private charts hard limit" => config.max_private_charts = size(number(entry, 0)?),
            "private charts history" => {
                config.private_charts_history =
                    Some(u32::try_from(number(entry, 5)?).unwrap_or(u32::MAX))
            }
            "decimal detail" => {
                config.decimal_detail = i64::try_from(number(entry, 1)?).unwrap_or(i64::MAX)
            }
            "disconnect idle tcp clients after seconds" => {
                config.tcp_idle_timeout_s = number(entry, 0)?
            }
            "private charts hidden" => config.private_charts_hidden = boolean(entry)?,
            "histograms and timers percentile (percentThreshold)" => {
                config.percentile = entry
                    .value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| {
                        invalid_value(section, entry, "must be a number from 0 to 100".into())
                    })?;
            }
            "dictionaries max unique dimensions" => {
                config.dictionary_max_unique = size(number(entry, 1)?)
            }
            "add dimension for number of events received" => {
                config.events_dimension = boolean(entry)?
            }
            "statsd server max TCP sockets" => config.max_tcp_sockets = size(number(entry, 0)?),
            "max metrics" => config.max_metrics = size(number(entry, 1)?),
            "max line length" => config.max_line_length = size(number(entry, 1024)?),
            "listen backlog" => {
                number(entry, 1)?;
            }
            "enabled" => warnings.push(Warning::about_key(
                &entry.at,
                &section.name,
                "enabled",
                super::error::WarningKind::NotUsed,
                "older netdata key: netdata 1.37 (and backhaul) switch statsd with [plugins] statsd; ignored",
            )),
            key => {
                if let Some(i) = GAPS_KEYS.iter().position(|k| *k == key) {
                    config.gaps[i] = boolean(entry)?;
                } else {
                    warnings.push(Warning::about_key(
                        &entry.at,
                        &section.name,
                        key,
                        super::error::WarningKind::Unknown,
                        "unknown setting; ignored",
                    ));
                }
            }
        }
    }
    if let Err(reason) = config.binds() {
        // Only a configured `bind to` (or `default port`) can fail.
        let entry = section
            .get("bind to")
            .or_else(|| section.get("default port"));
        if let Some(entry) = entry {
            return Err(invalid_value(section, entry, reason));
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binds(value: &str) -> Result<Vec<(bool, String, u16)>, String> {
        let config = StatsdConfig {
            bind_to: value.to_string(),
            ..StatsdConfig::default()
        };
        config
            .binds()
            .map(|b| b.into_iter().map(|b| (b.udp, b.host, b.port)).collect())
    }

    fn parse(text: &str) -> Result<(StatsdConfig, Vec<String>), String> {
        crate::config::parse_main_str(text, "netdata.conf")
            .map(|(main, warnings)| {
                let warnings = warnings.iter().map(|w| w.to_string()).collect();
                (main.statsd, warnings)
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn keys_and_defaults() {
        let (config, warnings) = parse("").expect("defaults");
        assert_eq!(config, StatsdConfig::default());
        assert!(warnings.is_empty());
        let (config, warnings) = parse(
            "[db]\n    update every = 2\n[statsd]\n    update every (flushInterval) = 1\n\
             \x20   decimal detail = 100\n    histograms and timers percentile (percentThreshold) = 99.5\n\
             \x20   gaps on timers (deleteTimers) = yes\n    max private charts hard limit = 7\n\
             \x20   add dimension for number of events received = yes\n    max metrics = 10\n\
             \x20   enabled = yes\n    bogus = 1\n",
        )
        .expect("valid");
        // Never below the agent's update every, as netdata.
        assert_eq!(config.update_every, 2);
        assert_eq!(config.decimal_detail, 100);
        assert_eq!(config.percentile, 99.5);
        assert_eq!(
            config.gaps,
            [false, false, false, true, false, false, false]
        );
        assert_eq!(config.max_private_charts, 7);
        assert!(config.events_dimension);
        assert_eq!(config.max_metrics, 10);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("'enabled'") && warnings[1].contains("'bogus'"));
    }

    #[test]
    fn bad_values_name_the_key() {
        let error = parse("[statsd]\n    decimal detail = lots\n").expect_err("invalid");
        assert!(
            error.contains("decimal detail") && error.contains("netdata.conf:2"),
            "{error}"
        );
        let error = parse("[statsd]\n    bind to = udp:h:99999\n").expect_err("invalid");
        assert!(error.contains("bind to"), "{error}");
        let error =
            parse("[statsd]\n    histograms and timers percentile (percentThreshold) = 101\n")
                .expect_err("invalid");
        assert!(error.contains("percentile"), "{error}");
    }

    #[test]
    fn bind_to_entries() {
        assert_eq!(
            binds(DEFAULT_STATSD_BIND_TO),
            Ok(vec![
                (true, "localhost".into(), 8125),
                (false, "localhost".into(), 8125)
            ])
        );
        assert_eq!(
            binds("udp:127.0.0.1:9125, [::1]:7 *"),
            Ok(vec![
                (true, "127.0.0.1".into(), 9125),
                (false, "::1".into(), 7),
                (false, "*".into(), 8125)
            ])
        );
        assert!(binds("tcp:h:notaport").is_err());
        assert!(binds("unix:/run/x").is_err());
    }
}
