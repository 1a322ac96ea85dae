//! netdata.conf `[logs]`: where the agent's log goes and how much of a
//! repeating source (a plugin's stderr) it lets through.
//!
//! Keys read, with netdata's names (the older `[global]` spellings `error
//! log`, `facility log` and the two flood keys are honoured; `[logs]` wins):
//! - `error`: the agent's log. A path (appended to; reopened on `SIGHUP`),
//!   `syslog`, `none`, or `stderr` (also `system`). Default `stderr`:
//!   unlike netdata, which defaults to `/var/log/netdata/error.log`, so that
//!   under systemd the log lands in the journal.
//! - `facility`: the syslog facility for `error = syslog` (default
//!   `daemon`).
//! - `errors flood protection period` (seconds, default 1200) and `errors to
//!   trigger flood protection` (default 200): the budget of each repeating
//!   source: that many lines at once, then one more every period divided by
//!   that number. A period of 0 limits nothing.
//! - `debug` and `access` are accepted (backhaul writes debug lines, when
//!   its level asks for them, to the `error` log; `access` is kept for the
//!   web server).
//!
//! `debug flags` and `health` are netdata's and get a "not used" warning.

use std::path::PathBuf;
use std::time::Duration;

use super::error::{Warning, WarningKind};
use super::ini::{invalid_value, IniDocument, IniEntry, IniSection};
use super::value::parse_u32;
use super::ConfigError;

/// Where the agent writes its log (`[logs] error`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LogOutput {
    /// Standard error (the journal, under systemd).
    #[default]
    Stderr,
    /// Nowhere.
    None,
    /// The local syslog socket, with the `facility` of [`LogsConfig`].
    Syslog,
    /// A file, appended to and reopened on `SIGHUP`.
    File(PathBuf),
}

impl LogOutput {
    /// Reads an `error` value.
    pub fn parse(value: &str) -> Result<LogOutput, String> {
        match value.trim() {
            "" => Err("must be a path, syslog, none or stderr".to_string()),
            "stderr" | "system" => Ok(LogOutput::Stderr),
            "none" => Ok(LogOutput::None),
            "syslog" => Ok(LogOutput::Syslog),
            path => Ok(LogOutput::File(PathBuf::from(path))),
        }
    }
}

/// The syslog facilities `[logs] facility` may name, with their codes.
pub const SYSLOG_FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// `[logs]` (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsConfig {
    /// `error`.
    pub output: LogOutput,
    /// `facility`, as its code (default 3, `daemon`).
    pub facility: u8,
    /// `errors flood protection period` (default 1200 s; zero: no limit).
    pub flood_period: Duration,
    /// `errors to trigger flood protection` (default 200, at least 1).
    pub flood_lines: u32,
    /// `debug`, verbatim (accepted, not used).
    pub debug: Option<String>,
    /// `access`, verbatim (for the web server).
    pub access: Option<String>,
}

impl Default for LogsConfig {
    fn default() -> LogsConfig {
        LogsConfig {
            output: LogOutput::Stderr,
            facility: 3,
            flood_period: Duration::from_secs(1200),
            flood_lines: 200,
            debug: None,
            access: None,
        }
    }
}

impl LogsConfig {
    /// The budget of one repeating source: lines at once, then one more
    /// every this long (zero: no limit).
    pub fn flood_budget(&self) -> (u32, Duration) {
        let lines = self.flood_lines.max(1);
        (lines, self.flood_period / lines)
    }
}

/// `[logs]` keys backhaul reads.
pub(super) const LOGS_USED: &[&str] = &[
    "error",
    "facility",
    "errors flood protection period",
    "errors to trigger flood protection",
    "debug",
    "access",
];

/// netdata `[logs]` keys backhaul ignores.
const LOGS_NOT_USED: &[&str] = &["debug flags", "health"];

/// `[global]` spellings of `[logs]` keys (netdata before 1.32), as
/// (old, new).
pub(super) const GLOBAL_LOGS_ALIASES: &[(&str, &str)] = &[
    ("error log", "error"),
    ("debug log", "debug"),
    ("access log", "access"),
    ("facility log", "facility"),
    (
        "errors flood protection period",
        "errors flood protection period",
    ),
    (
        "errors to trigger flood protection",
        "errors to trigger flood protection",
    ),
];

/// Reads `[logs]` (and the older `[global]` keys) of `document`.
pub(super) fn logs_from_document(
    document: &IniDocument,
    warnings: &mut Vec<Warning>,
) -> Result<LogsConfig, ConfigError> {
    let logs = document.section("logs");
    let global = document.section("global");
    if let Some(section) = logs {
        for entry in &section.entries {
            let key = entry.key.as_str();
            if LOGS_USED.contains(&key) {
                continue;
            }
            let (kind, message) = if LOGS_NOT_USED.contains(&key) {
                (
                    WarningKind::NotUsed,
                    "netdata setting not used by backhaul; ignored",
                )
            } else {
                (WarningKind::Unknown, "unknown setting; ignored")
            };
            warnings.push(Warning::about_key(
                &entry.at,
                &section.name,
                key,
                kind,
                message,
            ));
        }
    }
    // `[logs] key`, else its `[global]` spelling.
    let find = |key: &str| {
        let in_logs = logs.and_then(|s| s.get(key).map(|entry| (s, entry)));
        in_logs.or_else(|| {
            let old = GLOBAL_LOGS_ALIASES
                .iter()
                .find(|(_, new)| *new == key)
                .map(|(old, _)| *old)?;
            global.and_then(|g| g.get(old).map(|entry| (g, entry)))
        })
    };
    let mut config = LogsConfig::default();
    if let Some(output) = parsed(find("error"), LogOutput::parse)? {
        config.output = output;
    }
    if let Some(code) = parsed(find("facility"), facility_code)? {
        config.facility = code;
    }
    if let Some(seconds) = parsed(find("errors flood protection period"), |v| {
        parse_u32(v, 0, "must be a whole number of seconds (0: no limit)")
    })? {
        config.flood_period = Duration::from_secs(u64::from(seconds));
    }
    if let Some(lines) = parsed(find("errors to trigger flood protection"), |v| {
        parse_u32(v, 1, "must be a whole number >= 1")
    })? {
        config.flood_lines = lines;
    }
    config.debug = find("debug").map(|(_, entry)| entry.value.clone());
    config.access = find("access").map(|(_, entry)| entry.value.clone());
    Ok(config)
}

/// The value of a setting found, read by `parse`.
fn parsed<T>(
    found: Option<(&IniSection, &IniEntry)>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    found
        .map(|(section, entry)| {
            parse(&entry.value).map_err(|reason| invalid_value(section, entry, reason))
        })
        .transpose()
}

/// The code of a syslog facility name.
fn facility_code(value: &str) -> Result<u8, String> {
    SYSLOG_FACILITIES
        .iter()
        .find(|(name, _)| *name == value.trim())
        .map(|(_, code)| *code)
        .ok_or_else(|| {
            format!(
                "unknown syslog facility (known: {})",
                SYSLOG_FACILITIES
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Result<LogsConfig, ConfigError>, Vec<Warning>) {
        let mut warnings = Vec::new();
        let document = super::super::ini::parse(text, "netdata.conf", &mut warnings)
            .expect("the test text parses");
        (logs_from_document(&document, &mut warnings), warnings)
    }

    #[test]
    fn defaults_log_to_stderr_with_netdatas_flood_budget() {
        let (config, warnings) = read("[global]\n  hostname = h\n");
        let config = config.expect("valid");
        assert_eq!(config, LogsConfig::default());
        assert_eq!(
            config.flood_budget(),
            (200, Duration::from_secs(6)),
            "1200 s / 200 lines"
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn reads_every_key_and_warns_about_netdata_only_ones() {
        let (config, warnings) = read(
            "[logs]\n  error = /var/log/backhaul/error.log\n  facility = local3\n  \
             errors flood protection period = 60\n  errors to trigger flood protection = 30\n  \
             debug = /var/log/backhaul/debug.log\n  access = none\n  health = x\n  bogus = 1\n",
        );
        let config = config.expect("valid");
        assert_eq!(
            config.output,
            LogOutput::File(PathBuf::from("/var/log/backhaul/error.log"))
        );
        assert_eq!(config.facility, 19);
        assert_eq!(config.flood_budget(), (30, Duration::from_secs(2)));
        assert_eq!(config.access.as_deref(), Some("none"));
        let kinds: Vec<(Option<String>, WarningKind)> =
            warnings.iter().map(|w| (w.key.clone(), w.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (Some("health".to_string()), WarningKind::NotUsed),
                (Some("bogus".to_string()), WarningKind::Unknown),
            ]
        );
    }

    #[test]
    fn named_outputs_and_the_old_global_keys() {
        for (value, output) in [
            ("syslog", LogOutput::Syslog),
            ("none", LogOutput::None),
            ("stderr", LogOutput::Stderr),
            ("system", LogOutput::Stderr),
        ] {
            let (config, _) = read(&format!("[logs]\n error = {value}\n"));
            assert_eq!(config.expect("valid").output, output, "{value}");
        }
        let (config, _) = read("[global]\n error log = syslog\n facility log = user\n");
        let config = config.expect("valid");
        assert_eq!(config.output, LogOutput::Syslog);
        assert_eq!(config.facility, 1);
        let (config, _) = read("[global]\n error log = syslog\n[logs]\n error = none\n");
        assert_eq!(config.expect("valid").output, LogOutput::None);
        let (config, _) = read("[logs]\n errors flood protection period = 0\n");
        assert_eq!(config.expect("valid").flood_budget().1, Duration::ZERO);
    }

    #[test]
    fn bad_values_name_the_key() {
        for text in [
            "[logs]\n facility = nowhere\n",
            "[logs]\n errors to trigger flood protection = 0\n",
            "[logs]\n errors flood protection period = soon\n",
        ] {
            let (config, _) = read(text);
            let error = config.expect_err(text).to_string();
            assert!(error.contains("netdata.conf:2: [logs]"), "{error}");
        }
    }
}
