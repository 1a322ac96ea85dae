//! stream.conf: netdata's streaming configuration, read for parent mode.
//!
//! The file sits next to netdata.conf (`[directories] config`/stream.conf).
//! Its sections:
//!
//! - `[stream]`: the child side (where this agent would send its own
//!   metrics) and the defaults of the receiving side: `enable compression`
//!   (yes), `enable replication` (yes), `seconds to replicate` (86400),
//!   `seconds per replication step` (600). backhaul reads the receiving
//!   defaults; the sending keys (`enabled`, `destination`, `api key`, ...)
//!   are accepted, and `enabled = yes` is reported as not supported yet.
//! - `[API_KEY]` sections (`type = api`, the default when a section is
//!   looked up as a key): `enabled` (no), `allow from` (`*`),
//!   `default history` (netdata.conf's history), `enable compression`,
//!   `enable replication`, `seconds to replicate`, `seconds per replication
//!   step` (the `[stream]` values).
//! - `[MACHINE_GUID]` sections (`type = machine`, the default when a
//!   section is looked up as a GUID): `enabled` (yes), `allow from` (`*`),
//!   `history`, and the same compression and replication keys, which
//!   override the API key's.
//!
//! A section without `type` can therefore be both, as in netdata. The
//! receiver resolves a child's settings with [`StreamConfig::resolve`].
//! netdata's keys about memory modes, health, proxying and ephemeral nodes
//! are accepted and not used.

use super::error::{ConfigError, Warning, WarningKind};
use super::ini::{invalid_value, IniDocument, IniEntry, IniSection};
use super::value::{parse_bool, parse_u32};

/// The name of the streaming file looked for in `[directories] config`.
pub const STREAM_FILE_NAME: &str = "stream.conf";

/// netdata's default `seconds to replicate`.
pub const DEFAULT_SECONDS_TO_REPLICATE: u32 = 86_400;

/// netdata's default `seconds per replication step`.
pub const DEFAULT_SECONDS_PER_REPLICATION_STEP: u32 = 600;

/// `[stream]` keys backhaul reads.
const STREAM_USED: &[&str] = &[
    "enabled",
    "enable compression",
    "enable replication",
    "seconds to replicate",
    "seconds per replication step",
];

/// `[stream]` keys of netdata's child side, accepted and not used yet.
const STREAM_NOT_USED: &[&str] = &[
    "destination",
    "ssl skip certificate verification",
    "CApath",
    "CAfile",
    "api key",
    "timeout seconds",
    "default port",
    "send charts matching",
    "buffer size bytes",
    "reconnect delay seconds",
    "initial clock resync iterations",
];

/// Keys of API key and machine GUID sections backhaul reads.
const KEY_USED: &[&str] = &[
    "type",
    "enabled",
    "allow from",
    "default history",
    "history",
    "enable compression",
    "enable replication",
    "seconds to replicate",
    "seconds per replication step",
];

/// netdata keys of API key and machine GUID sections backhaul ignores.
const KEY_NOT_USED: &[&str] = &[
    "default memory mode",
    "memory mode",
    "health enabled by default",
    "health enabled",
    "default postpone alarms on connect seconds",
    "postpone alarms on connect seconds",
    "multiple connections",
    "default proxy enabled",
    "proxy enabled",
    "default proxy destination",
    "proxy destination",
    "default proxy api key",
    "proxy api key",
    "default proxy send charts matching",
    "proxy send charts matching",
    "is ephemeral node",
    "allow from by dns",
];

const SECONDS_REASON: &str = "must be a whole number of seconds";
const STEP_REASON: &str = "must be a whole number of seconds, at least 1";
const HISTORY_REASON: &str = "must be a whole number of points, at least 5";

/// One `[API_KEY]` or `[MACHINE_GUID]` section: what it sets (unset keys
/// are `None` and take the defaults when resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSection {
    /// The section name (a UUID), lower-cased.
    pub name: String,
    /// `type`, if set (`api`, `machine`, or anything else, which refuses).
    pub kind: Option<String>,
    /// `enabled`.
    pub enabled: Option<bool>,
    /// `allow from` (a simple pattern on the child's address).
    pub allow_from: Option<String>,
    /// `default history` (as an API key) / `history` (as a GUID).
    pub default_history: Option<u32>,
    /// `history`.
    pub history: Option<u32>,
    /// `enable compression`.
    pub enable_compression: Option<bool>,
    /// `enable replication`.
    pub enable_replication: Option<bool>,
    /// `seconds to replicate`.
    pub seconds_to_replicate: Option<u32>,
    /// `seconds per replication step`.
    pub seconds_per_replication_step: Option<u32>,
    /// Where the section starts, for messages.
    pub at: super::Location,
}

/// Everything backhaul reads from stream.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// `[stream] enabled`: the child side (not supported yet).
    pub sender_enabled: bool,
    /// `[stream] enable compression` (default yes).
    pub enable_compression: bool,
    /// `[stream] enable replication` (default yes).
    pub enable_replication: bool,
    /// `[stream] seconds to replicate` (default 86400).
    pub seconds_to_replicate: u32,
    /// `[stream] seconds per replication step` (default 600).
    pub seconds_per_replication_step: u32,
    /// The other sections, in file order.
    pub sections: Vec<StreamSection>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            sender_enabled: false,
            enable_compression: true,
            enable_replication: true,
            seconds_to_replicate: DEFAULT_SECONDS_TO_REPLICATE,
            seconds_per_replication_step: DEFAULT_SECONDS_PER_REPLICATION_STEP,
            sections: Vec::new(),
        }
    }
}

/// Why a child is refused by stream.conf (the receiver answers 401 and logs
/// this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamRefusal {
    /// No section for the API key.
    #[error("API key '{0}' is not configured in stream.conf")]
    UnknownKey(String),
    /// The key's section has a `type` other than `api`.
    #[error("API key '{key}' is a section of type '{kind}', not 'api'")]
    NotAnApiKey {
        /// The key.
        key: String,
        /// Its `type`.
        kind: String,
    },
    /// The key's section is not enabled.
    #[error("API key '{0}' is not enabled")]
    KeyDisabled(String),
    /// The child's address does not match the key's `allow from`.
    #[error("API key '{0}' is not allowed from this address")]
    KeyNotAllowedFrom(String),
    /// The machine GUID's section has a `type` other than `machine`.
    #[error("machine GUID '{guid}' is a section of type '{kind}', not 'machine'")]
    NotAMachine {
        /// The GUID.
        guid: String,
        /// Its `type`.
        kind: String,
    },
    /// The machine GUID's section is not enabled.
    #[error("machine GUID '{0}' is not enabled")]
    MachineDisabled(String),
    /// The child's address does not match the GUID's `allow from`.
    #[error("machine GUID '{0}' is not allowed from this address")]
    MachineNotAllowedFrom(String),
}

/// What the receiver applies to one child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverSettings {
    /// Points kept per dimension of the child's charts.
    pub history: u32,
    /// Whether lz4 is accepted when the child offers it.
    pub enable_compression: bool,
    /// Whether the past is asked for with `REPLAY_CHART`.
    pub enable_replication: bool,
    /// How far back to ask.
    pub seconds_to_replicate: u32,
    /// How much to ask for at once.
    pub seconds_per_replication_step: u32,
}

impl StreamConfig {
    /// The section called `name` (UUIDs compare case-insensitively).
    pub fn section(&self, name: &str) -> Option<&StreamSection> {
        let name = name.to_ascii_lowercase();
        self.sections.iter().find(|section| section.name == name)
    }

    /// netdata's checks for a child's API key and machine GUID; `allowed`
    /// tells whether the child's address matches an `allow from` pattern.
    /// `default_history` is netdata.conf's history.
    pub fn resolve(
        &self,
        key: &str,
        machine_guid: &str,
        default_history: u32,
        allowed: impl Fn(&str) -> bool,
    ) -> Result<ReceiverSettings, StreamRefusal> {
        let key_section = self
            .section(key)
            .ok_or_else(|| StreamRefusal::UnknownKey(key.to_string()))?;
        let kind = key_section.kind.as_deref().unwrap_or("api");
        if kind != "api" {
            return Err(StreamRefusal::NotAnApiKey {
                key: key.to_string(),
                kind: kind.to_string(),
            });
        }
        if !key_section.enabled.unwrap_or(false) {
            return Err(StreamRefusal::KeyDisabled(key.to_string()));
        }
        if !allowed(key_section.allow_from.as_deref().unwrap_or("*")) {
            return Err(StreamRefusal::KeyNotAllowedFrom(key.to_string()));
        }
        let mut settings = ReceiverSettings {
            history: key_section.default_history.unwrap_or(default_history),
            enable_compression: key_section
                .enable_compression
                .unwrap_or(self.enable_compression),
            enable_replication: key_section
                .enable_replication
                .unwrap_or(self.enable_replication),
            seconds_to_replicate: key_section
                .seconds_to_replicate
                .unwrap_or(self.seconds_to_replicate),
            seconds_per_replication_step: key_section
                .seconds_per_replication_step
                .unwrap_or(self.seconds_per_replication_step),
        };
        if let Some(machine) = self.section(machine_guid) {
            let kind = machine.kind.as_deref().unwrap_or("machine");
            if kind != "machine" {
                return Err(StreamRefusal::NotAMachine {
                    guid: machine_guid.to_string(),
                    kind: kind.to_string(),
                });
            }
            if !machine.enabled.unwrap_or(true) {
                return Err(StreamRefusal::MachineDisabled(machine_guid.to_string()));
            }
            if !allowed(machine.allow_from.as_deref().unwrap_or("*")) {
                return Err(StreamRefusal::MachineNotAllowedFrom(
                    machine_guid.to_string(),
                ));
            }
            settings.history = machine.history.unwrap_or(settings.history);
            settings.enable_compression = machine
                .enable_compression
                .unwrap_or(settings.enable_compression);
            settings.enable_replication = machine
                .enable_replication
                .unwrap_or(settings.enable_replication);
            settings.seconds_to_replicate = machine
                .seconds_to_replicate
                .unwrap_or(settings.seconds_to_replicate);
            settings.seconds_per_replication_step = machine
                .seconds_per_replication_step
                .unwrap_or(settings.seconds_per_replication_step);
        }
        Ok(settings)
    }

    /// The API keys that accept children (for `check-config`).
    pub fn enabled_api_keys(&self) -> impl Iterator<Item = &StreamSection> + '_ {
        self.sections.iter().filter(|section| {
            section.kind.as_deref().unwrap_or("api") == "api" && section.enabled == Some(true)
        })
    }
}

/// Whether `text` is `8-4-4-4-12` hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn flag(section: &IniSection, key: &str) -> Result<Option<bool>, ConfigError> {
    section
        .get(key)
        .map(|entry| parse_bool(&entry.value).map_err(|r| invalid_value(section, entry, r)))
        .transpose()
}

fn number(
    section: &IniSection,
    key: &str,
    minimum: u32,
    reason: &str,
) -> Result<Option<u32>, ConfigError> {
    section
        .get(key)
        .map(|entry| {
            parse_u32(&entry.value, minimum, reason).map_err(|r| invalid_value(section, entry, r))
        })
        .transpose()
}

fn warn_keys(section: &IniSection, used: &[&str], not_used: &[&str], warnings: &mut Vec<Warning>) {
    for IniEntry { key, at, .. } in &section.entries {
        if used.contains(&key.as_str()) {
            continue;
        }
        let (kind, message) = if not_used.contains(&key.as_str()) {
            (
                WarningKind::NotUsed,
                "netdata setting not used by backhaul; ignored",
            )
        } else {
            (WarningKind::Unknown, "unknown setting; ignored")
        };
        warnings.push(Warning::about_key(at, &section.name, key, kind, message));
    }
}

/// Builds a [`StreamConfig`] from a parsed stream.conf.
pub fn stream_from_document(
    document: &IniDocument,
    warnings: &mut Vec<Warning>,
) -> Result<StreamConfig, ConfigError> {
    let mut config = StreamConfig::default();
    for section in &document.sections {
        if section.name == "stream" {
            warn_keys(section, STREAM_USED, STREAM_NOT_USED, warnings);
            config.sender_enabled = flag(section, "enabled")?.unwrap_or(false);
            if config.sender_enabled {
                let at = section.get("enabled").map_or(&section.at, |e| &e.at);
                warnings.push(Warning::about_key(
                    at,
                    "stream",
                    "enabled",
                    WarningKind::Unsupported,
                    "streaming this agent's own metrics to a parent is not supported yet; \
                     only the parent side (API key sections) runs",
                ));
            }
            if let Some(value) = flag(section, "enable compression")? {
                config.enable_compression = value;
            }
            if let Some(value) = flag(section, "enable replication")? {
                config.enable_replication = value;
            }
            if let Some(value) = number(section, "seconds to replicate", 0, SECONDS_REASON)? {
                config.seconds_to_replicate = value;
            }
            if let Some(value) = number(section, "seconds per replication step", 1, STEP_REASON)? {
                config.seconds_per_replication_step = value;
            }
            continue;
        }
        warn_keys(section, KEY_USED, KEY_NOT_USED, warnings);
        if !is_uuid(&section.name) {
            warnings.push(Warning::about_section(
                &section.at,
                &section.name,
                WarningKind::Suspicious,
                "not a UUID: netdata accepts only UUIDs as API keys and machine GUIDs, \
                 so no child can use this section",
            ));
        }
        let kind = section.get("type").map(|entry| entry.value.clone());
        if let (Some(kind), Some(entry)) = (&kind, section.get("type")) {
            if kind != "api" && kind != "machine" {
                return Err(invalid_value(
                    section,
                    entry,
                    "must be api (an API key) or machine (a machine GUID)".to_string(),
                ));
            }
        }
        config.sections.push(StreamSection {
            name: section.name.to_ascii_lowercase(),
            kind,
            enabled: flag(section, "enabled")?,
            allow_from: section.get("allow from").map(|entry| entry.value.clone()),
            default_history: number(section, "default history", 5, HISTORY_REASON)?,
            history: number(section, "history", 5, HISTORY_REASON)?,
            enable_compression: flag(section, "enable compression")?,
            enable_replication: flag(section, "enable replication")?,
            seconds_to_replicate: number(section, "seconds to replicate", 0, SECONDS_REASON)?,
            seconds_per_replication_step: number(
                section,
                "seconds per replication step",
                1,
                STEP_REASON,
            )?,
            at: section.at.clone(),
        });
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "11111111-2222-3333-4444-555555555555";
    const GUID: &str = "705216b4-ec79-11f1-9d5c-02fc00000001";

    fn parse(text: &str) -> Result<(StreamConfig, Vec<Warning>), ConfigError> {
        let mut warnings = Vec::new();
        let document = super::super::ini::parse(text, "stream.conf", &mut warnings)?;
        let config = stream_from_document(&document, &mut warnings)?;
        Ok((config, warnings))
    }

    fn resolve(
        config: &StreamConfig,
        key: &str,
        guid: &str,
    ) -> Result<ReceiverSettings, StreamRefusal> {
        config.resolve(key, guid, 3600, |pattern| pattern == "*")
    }

    #[test]
    fn the_reference_parent_config_accepts_its_key_with_netdata_defaults() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/stream/parent_stream.conf"
        ))
        .unwrap();
        let (config, warnings) = parse(&text).unwrap();
        assert!(!config.sender_enabled);
        let settings = resolve(&config, KEY, GUID).unwrap();
        assert_eq!(
            settings,
            ReceiverSettings {
                history: 3600,
                enable_compression: true,
                enable_replication: true,
                seconds_to_replicate: 86_400,
                seconds_per_replication_step: 600,
            }
        );
        // memory mode and health: netdata's, not used.
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().all(|w| w.kind == WarningKind::NotUsed));
    }

    #[test]
    fn refusals_follow_netdata_checks() {
        let text = format!(
            "[{KEY}]\n enabled = yes\n default history = 120\n enable compression = no\n\
             [22222222-2222-3333-4444-555555555555]\n enabled = no\n\
             [33333333-2222-3333-4444-555555555555]\n type = machine\n enabled = yes\n\
             [44444444-2222-3333-4444-555555555555]\n enabled = yes\n allow from = 10.*\n\
             [{GUID}]\n history = 60\n seconds per replication step = 30\n"
        );
        let (config, _) = parse(&text).unwrap();
        let settings = resolve(&config, KEY, "aaaaaaaa-2222-3333-4444-555555555555").unwrap();
        assert_eq!(settings.history, 120);
        assert!(!settings.enable_compression);
        let settings = resolve(&config, &KEY.to_uppercase(), GUID).unwrap();
        assert_eq!(settings.history, 60);
        assert_eq!(settings.seconds_per_replication_step, 30);
        assert!(matches!(
            resolve(&config, "99999999-2222-3333-4444-555555555555", GUID),
            Err(StreamRefusal::UnknownKey(_))
        ));
        assert!(matches!(
            resolve(&config, "22222222-2222-3333-4444-555555555555", GUID),
            Err(StreamRefusal::KeyDisabled(_))
        ));
        assert!(matches!(
            resolve(&config, "33333333-2222-3333-4444-555555555555", GUID),
            Err(StreamRefusal::NotAnApiKey { .. })
        ));
        assert!(matches!(
            resolve(&config, "44444444-2222-3333-4444-555555555555", GUID),
            Err(StreamRefusal::KeyNotAllowedFrom(_))
        ));
        assert!(resolve(&config, KEY, "33333333-2222-3333-4444-555555555555").is_ok());
        assert!(
            resolve(&config, KEY, KEY).is_ok(),
            "a section without type serves as both"
        );
        let text = format!("[{KEY}]\n enabled = yes\n[{GUID}]\n type = api\n enabled = yes\n");
        let (config, _) = parse(&text).unwrap();
        assert!(matches!(
            resolve(&config, KEY, GUID),
            Err(StreamRefusal::NotAMachine { .. })
        ));
        let text = format!("[{KEY}]\n enabled = yes\n[{GUID}]\n enabled = no\n");
        let (config, _) = parse(&text).unwrap();
        assert!(matches!(
            resolve(&config, KEY, GUID),
            Err(StreamRefusal::MachineDisabled(_))
        ));
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        let error = parse(&format!("[{KEY}]\n enabled = maybe\n")).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("stream.conf") && text.contains(":2") && text.contains("enabled"),
            "{text}"
        );
        let error = parse(&format!("[{KEY}]\n type = apikey\n")).unwrap_err();
        assert!(error.to_string().contains("must be api"), "{error}");
        let error = parse("[stream]\n seconds per replication step = 0\n").unwrap_err();
        assert!(error.to_string().contains("at least 1"), "{error}");
        let (_, warnings) =
            parse("[not-a-key]\n enabled = yes\n typo = 1\n[stream]\n enabled = yes\n").unwrap();
        let kinds: Vec<WarningKind> = warnings.iter().map(|w| w.kind).collect();
        assert!(kinds.contains(&WarningKind::Suspicious), "{warnings:?}");
        assert!(kinds.contains(&WarningKind::Unknown), "{warnings:?}");
        assert!(kinds.contains(&WarningKind::Unsupported), "{warnings:?}");
    }
}
