//! stream.conf: netdata's streaming configuration, read for parent mode.
//!
//! The file sits next to netdata.conf (`[directories] config`/stream.conf).
//! Its sections:
//!
//! - `[stream]`: the child side ([`SenderConfig`]: `enabled` (no),
//!   `destination` (a failover list, `[PROTOCOL:]HOST[:PORT][:SSL]`),
//!   `api key`, `send charts matching` (`*`), `buffer size bytes`
//!   (10485760), `reconnect delay seconds` (5), `timeout seconds` (60),
//!   `default port` (19999), `ssl skip certificate verification` (no),
//!   `CAfile`, `CApath`) and the default of the receiving side's `enable
//!   compression` (yes). The replication defaults, `enable replication`
//!   (yes), `seconds to replicate` (86400) and `seconds per replication
//!   step` (600), are netdata.conf `[db]`'s, as in netdata 1.37
//!   ([`StreamConfig::take_db_replication`]); set in `[stream]` they are
//!   used too, with a warning.
//! - `[API_KEY]` sections (`type = api`, the default when a section is
//!   looked up as a key): `enabled` (no), `allow from` (`*`),
//!   `default history` (netdata.conf's history), `enable compression`,
//!   `enable replication`, `seconds to replicate`, `seconds per replication
//!   step` (the defaults above).
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
];

/// The replication keys: netdata 1.37 reads their defaults from
/// netdata.conf `[db]`, and per API key or machine GUID from stream.conf.
const REPLICATION_KEYS: [&str; 3] = [
    "enable replication",
    "seconds to replicate",
    "seconds per replication step",
];

/// `[stream]` keys of netdata's child side that backhaul accepts and does
/// not use (with replication netdata ignores the clock resync too).
const STREAM_NOT_USED: &[&str] = &["initial clock resync iterations"];

/// netdata's default `buffer size bytes`.
pub const DEFAULT_SENDER_BUFFER_BYTES: u64 = 10 * 1024 * 1024;
/// netdata's default `reconnect delay seconds`.
pub const DEFAULT_RECONNECT_DELAY_SECONDS: u32 = 5;
/// netdata's default `timeout seconds`.
pub const DEFAULT_SENDER_TIMEOUT_SECONDS: u32 = 60;
/// netdata's default `default port`.
pub const DEFAULT_STREAM_PORT: u16 = 19999;

/// One parent in `[stream] destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDestination {
    /// Host and port.
    pub destination: super::Destination,
    /// netdata's `:SSL` suffix: TLS to this parent.
    pub tls: bool,
}

impl std::fmt::Display for StreamDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.destination)?;
        if self.tls {
            f.write_str(":SSL")?;
        }
        Ok(())
    }
}

/// The child side: `[stream]` of stream.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderConfig {
    /// `enabled` (no).
    pub enabled: bool,
    /// `destination`: the parents, tried in order.
    pub destinations: Vec<StreamDestination>,
    /// `api key`.
    pub api_key: String,
    /// `send charts matching` (a simple pattern on chart ids and names).
    pub send_charts_matching: String,
    /// `buffer size bytes`: what may wait unsent before the connection is
    /// dropped and made again.
    pub buffer_size_bytes: u64,
    /// `reconnect delay seconds`.
    pub reconnect_delay_seconds: u32,
    /// `timeout seconds`: connecting, and a parent that takes nothing.
    pub timeout_seconds: u32,
    /// `ssl skip certificate verification` (no, as netdata 1.37's code:
    /// its shipped stream.conf shows `yes` as an example).
    pub ssl_skip_certificate_verification: bool,
    /// `CAfile`.
    pub ca_file: Option<std::path::PathBuf>,
    /// `CApath`.
    pub ca_path: Option<std::path::PathBuf>,
    /// Where `enabled` is, for messages.
    pub at: Option<super::Location>,
}

impl SenderConfig {
    /// The destinations as one line (`HOST:PORT[:SSL] ...`), for the
    /// `_streams_to` label and the status page.
    pub fn destinations_text(&self) -> String {
        let parents: Vec<String> = self.destinations.iter().map(|d| d.to_string()).collect();
        parents.join(" ")
    }
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            enabled: false,
            destinations: Vec::new(),
            api_key: String::new(),
            send_charts_matching: "*".to_string(),
            buffer_size_bytes: DEFAULT_SENDER_BUFFER_BYTES,
            reconnect_delay_seconds: DEFAULT_RECONNECT_DELAY_SECONDS,
            timeout_seconds: DEFAULT_SENDER_TIMEOUT_SECONDS,
            ssl_skip_certificate_verification: false,
            ca_file: None,
            ca_path: None,
            at: None,
        }
    }
}

/// Parses `[stream] destination`: entries separated by blanks or commas,
/// each `[tcp:]HOST[:PORT][:SSL]` (IPv6 in brackets); `default_port` when
/// an entry gives none.
pub fn parse_stream_destinations(
    value: &str,
    default_port: u16,
) -> Result<Vec<StreamDestination>, String> {
    let mut destinations = Vec::new();
    for entry in value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|entry| !entry.is_empty())
    {
        let (entry, tls) = match entry.strip_suffix(":SSL") {
            Some(rest) => (rest, true),
            None => (entry, false),
        };
        if entry.starts_with("unix:") {
            return Err(format!(
                "'{entry}': unix sockets are not supported by backhaul; give HOST:PORT"
            ));
        }
        let destination = super::parse_destination(entry, Some(default_port), false)?;
        destinations.push(StreamDestination { destination, tls });
    }
    if destinations.is_empty() {
        return Err("no destination given".to_string());
    }
    Ok(destinations)
}

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
    "default proxy enabled",
    "proxy enabled",
    "default proxy destination",
    "proxy destination",
    "default proxy api key",
    "proxy api key",
    "default proxy send charts matching",
    "proxy send charts matching",
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
    /// `default proxy enabled`, `... destination`, `... api key`, `... send
    /// charts matching` (read when the section is the child's API key).
    pub default_proxy: ProxyOverride,
    /// `proxy enabled`, ... (read when the section is the child's machine
    /// GUID).
    pub proxy: ProxyOverride,
    /// Where the section starts, for messages.
    pub at: super::Location,
}

/// A section's proxy keys: how a parent forwards one child's host (unset
/// keys fall back to the API key's section, then to `[stream]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyOverride {
    pub enabled: Option<bool>,
    pub destinations: Option<Vec<StreamDestination>>,
    pub api_key: Option<String>,
    pub send_charts_matching: Option<String>,
}

/// How one child's host is forwarded (proxy mode), resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    pub enabled: bool,
    pub destinations: Vec<StreamDestination>,
    pub api_key: String,
    pub send_charts_matching: String,
}

/// Everything backhaul reads from stream.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// `[stream] enabled`: the child side.
    pub sender_enabled: bool,
    /// `[stream]`'s child-side keys.
    pub sender: SenderConfig,
    /// `[stream] enable compression` (default yes).
    pub enable_compression: bool,
    /// The default of `enable replication` for every API key: netdata.conf
    /// `[db] enable replication` (yes), see
    /// [`StreamConfig::take_db_replication`].
    pub enable_replication: bool,
    /// The default of `seconds to replicate`: `[db]`'s (86400).
    pub seconds_to_replicate: u32,
    /// The default of `seconds per replication step`: `[db]`'s (600).
    pub seconds_per_replication_step: u32,
    /// The replication keys `[stream]` set itself (not where netdata reads
    /// them; they win over `[db]`'s, with a warning).
    stream_sets: StreamSetsReplication,
    /// The other sections, in file order.
    pub sections: Vec<StreamSection>,
}

/// Which replication keys stream.conf's `[stream]` set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct StreamSetsReplication {
    enabled: bool,
    seconds_to_replicate: bool,
    seconds_per_step: bool,
}

impl StreamConfig {
    /// Takes the replication defaults from netdata.conf's `[db]`, where
    /// netdata 1.37 reads them, except those `[stream]` set itself.
    pub fn take_db_replication(&mut self, db: &super::main_conf::ReplicationDefaults) {
        if !self.stream_sets.enabled {
            self.enable_replication = db.enabled;
        }
        if !self.stream_sets.seconds_to_replicate {
            self.seconds_to_replicate = db.seconds_to_replicate;
        }
        if !self.stream_sets.seconds_per_step {
            self.seconds_per_replication_step = db.seconds_per_step;
        }
    }
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            sender_enabled: false,
            sender: SenderConfig::default(),
            enable_compression: true,
            enable_replication: true,
            seconds_to_replicate: DEFAULT_SECONDS_TO_REPLICATE,
            seconds_per_replication_step: DEFAULT_SECONDS_PER_REPLICATION_STEP,
            stream_sets: StreamSetsReplication::default(),
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

    /// How the child that came with API key `key` and `machine_guid` is
    /// forwarded, as netdata 1.37 decides: `[stream]`'s `enabled`,
    /// `destination`, `api key` and `send charts matching`, overridden by
    /// the API key section's `default proxy ...` keys, then by the machine
    /// GUID section's `proxy ...` keys.
    pub fn proxy_for(&self, key: &str, machine_guid: &str) -> ProxySettings {
        let mut settings = ProxySettings {
            enabled: self.sender_enabled,
            destinations: self.sender.destinations.clone(),
            api_key: self.sender.api_key.clone(),
            send_charts_matching: self.sender.send_charts_matching.clone(),
        };
        let layers = [
            self.section(key).map(|s| &s.default_proxy),
            self.section(machine_guid).map(|s| &s.proxy),
        ];
        for layer in layers.into_iter().flatten() {
            if let Some(enabled) = layer.enabled {
                settings.enabled = enabled;
            }
            if let Some(destinations) = &layer.destinations {
                settings.destinations = destinations.clone();
            }
            if let Some(api_key) = &layer.api_key {
                settings.api_key = api_key.clone();
            }
            if let Some(pattern) = &layer.send_charts_matching {
                settings.send_charts_matching = pattern.clone();
            }
        }
        settings
    }

    /// Whether some child could be forwarded: `[stream] enabled`, or a
    /// section that turns proxying on.
    pub fn may_proxy(&self) -> bool {
        self.sender_enabled
            || self
                .sections
                .iter()
                .any(|s| s.default_proxy.enabled == Some(true) || s.proxy.enabled == Some(true))
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

/// The child side of `[stream]`; `enabled` makes `destination` and `api
/// key` required.
fn sender_from_section(section: &IniSection, enabled: bool) -> Result<SenderConfig, ConfigError> {
    let mut sender = SenderConfig {
        enabled,
        at: section.get("enabled").map(|entry| entry.at.clone()),
        ..SenderConfig::default()
    };
    let text = |key: &str| {
        section
            .get(key)
            .map(|entry| entry.value.trim().to_string())
            .filter(|value| !value.is_empty())
    };
    let default_port = match section.get("default port") {
        Some(entry) => {
            let port = parse_u32(&entry.value, 1, "must be a TCP port, 1 to 65535")
                .map_err(|r| invalid_value(section, entry, r))?;
            u16::try_from(port).map_err(|_| {
                invalid_value(section, entry, "must be a TCP port, 1 to 65535".to_string())
            })?
        }
        None => DEFAULT_STREAM_PORT,
    };
    if let Some(entry) = section.get("destination") {
        if !entry.value.trim().is_empty() || enabled {
            sender.destinations = parse_stream_destinations(&entry.value, default_port)
                .map_err(|r| invalid_value(section, entry, r))?;
        }
    }
    sender.api_key = text("api key").unwrap_or_default();
    if let Some(pattern) = section.get("send charts matching") {
        sender.send_charts_matching = pattern.value.clone();
    }
    if let Some(entry) = section.get("buffer size bytes") {
        sender.buffer_size_bytes = super::value::parse_whole_number(
            &entry.value,
            1024,
            "must be a whole number of bytes, at least 1024",
        )
        .map_err(|r| invalid_value(section, entry, r))?;
    }
    if let Some(value) = number(section, "reconnect delay seconds", 1, STEP_REASON)? {
        sender.reconnect_delay_seconds = value;
    }
    if let Some(value) = number(section, "timeout seconds", 1, STEP_REASON)? {
        sender.timeout_seconds = value;
    }
    if let Some(value) = flag(section, "ssl skip certificate verification")? {
        sender.ssl_skip_certificate_verification = value;
    }
    sender.ca_file = text("CAfile").map(Into::into);
    sender.ca_path = text("CApath").map(Into::into);
    if enabled {
        let at = section.get("enabled").map_or(&section.at, |e| &e.at);
        if sender.destinations.is_empty() {
            return Err(ConfigError::MissingSetting {
                at: Box::new(at.clone()),
                section: "stream".into(),
                key: "destination".into(),
                reason: "enabled = yes streams to a parent: give its HOST:PORT".into(),
            });
        }
        if !is_uuid(&sender.api_key) {
            return Err(ConfigError::MissingSetting {
                at: Box::new(at.clone()),
                section: "stream".into(),
                key: "api key".into(),
                reason: format!(
                    "enabled = yes needs a UUID the parent's stream.conf enables (got '{}')",
                    sender.api_key
                ),
            });
        }
    }
    Ok(sender)
}

/// Builds a [`StreamConfig`] from a parsed stream.conf.
pub fn stream_from_document(
    document: &IniDocument,
    warnings: &mut Vec<Warning>,
) -> Result<StreamConfig, ConfigError> {
    let mut config = StreamConfig::default();
    let default_port = match document
        .sections
        .iter()
        .find(|section| section.name == "stream")
        .and_then(|section| section.get("default port"))
    {
        Some(entry) => parse_u32(&entry.value, 1, "must be a TCP port, 1 to 65535")
            .ok()
            .and_then(|port| u16::try_from(port).ok())
            .unwrap_or(DEFAULT_STREAM_PORT),
        None => DEFAULT_STREAM_PORT,
    };
    for section in &document.sections {
        if section.name == "stream" {
            warn_keys(section, STREAM_USED, STREAM_NOT_USED, warnings);
            config.sender_enabled = flag(section, "enabled")?.unwrap_or(false);
            config.sender = sender_from_section(section, config.sender_enabled)?;
            if let Some(value) = flag(section, "enable compression")? {
                config.enable_compression = value;
            }
            if let Some(value) = flag(section, "enable replication")? {
                config.enable_replication = value;
                config.stream_sets.enabled = true;
            }
            if let Some(value) = number(section, "seconds to replicate", 0, SECONDS_REASON)? {
                config.seconds_to_replicate = value;
                config.stream_sets.seconds_to_replicate = true;
            }
            if let Some(value) = number(section, "seconds per replication step", 1, STEP_REASON)? {
                config.seconds_per_replication_step = value;
                config.stream_sets.seconds_per_step = true;
            }
            for key in REPLICATION_KEYS {
                if let Some(entry) = section.get(key) {
                    warnings.push(Warning::about_key(
                        &entry.at,
                        &section.name,
                        key,
                        WarningKind::Suspicious,
                        "netdata 1.37 reads this from netdata.conf [db], not from stream.conf \
                         [stream] (where it ignores it); backhaul uses it, over [db]'s: move it \
                         to netdata.conf [db]",
                    ));
                }
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
            default_proxy: proxy_override(section, "default proxy", default_port)?,
            proxy: proxy_override(section, "proxy", default_port)?,
            at: section.at.clone(),
        });
    }
    for section in &config.sections {
        for (prefix, layer) in [
            ("default proxy", &section.default_proxy),
            ("proxy", &section.proxy),
        ] {
            if layer.enabled == Some(true)
                && layer.destinations.is_none()
                && config.sender.destinations.is_empty()
            {
                let at = document
                    .sections
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(&section.name))
                    .and_then(|s| s.get(&format!("{prefix} enabled")))
                    .map_or(&section.at, |e| &e.at);
                return Err(ConfigError::MissingSetting {
                    at: Box::new(at.clone()),
                    section: section.name.clone(),
                    key: format!("{prefix} destination"),
                    reason: format!(
                        "{prefix} enabled = yes forwards this child to a parent, and [stream] has no destination either"
                    ),
                });
            }
        }
    }
    Ok(config)
}

/// The `PREFIX enabled`, `PREFIX destination`, `PREFIX api key` and
/// `PREFIX send charts matching` keys of a section.
fn proxy_override(
    section: &IniSection,
    prefix: &str,
    default_port: u16,
) -> Result<ProxyOverride, ConfigError> {
    let destinations = match section.get(&format!("{prefix} destination")) {
        Some(entry) if !entry.value.trim().is_empty() => Some(
            parse_stream_destinations(&entry.value, default_port)
                .map_err(|r| invalid_value(section, entry, r))?,
        ),
        _ => None,
    };
    let api_key = match section.get(&format!("{prefix} api key")) {
        Some(entry) => {
            let key = entry.value.trim().to_string();
            if !is_uuid(&key) {
                return Err(invalid_value(
                    section,
                    entry,
                    "must be a UUID the parent's stream.conf enables".to_string(),
                ));
            }
            Some(key)
        }
        None => None,
    };
    Ok(ProxyOverride {
        enabled: flag(section, &format!("{prefix} enabled"))?,
        destinations,
        api_key,
        send_charts_matching: section
            .get(&format!("{prefix} send charts matching"))
            .map(|entry| entry.value.clone()),
    })
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
    fn replication_defaults_are_netdata_conf_db_s_then_the_key_s() {
        use super::super::main_conf::ReplicationDefaults;
        let db = ReplicationDefaults {
            enabled: false,
            seconds_to_replicate: 600,
            seconds_per_step: 60,
        };
        // [db] gives every key its defaults; a key or GUID section still
        // overrides them.
        let (mut config, warnings) = parse(&format!(
            "[{KEY}]\n enabled = yes\n[{GUID}]\n seconds to replicate = 120\n"
        ))
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        config.take_db_replication(&db);
        let settings = resolve(&config, KEY, GUID).unwrap();
        assert_eq!(
            (
                settings.enable_replication,
                settings.seconds_to_replicate,
                settings.seconds_per_replication_step
            ),
            (false, 120, 60)
        );
        // [stream] is not where netdata reads them: used, over [db]'s,
        // with a warning naming the right place.
        let (mut config, warnings) = parse(&format!(
            "[stream]\n enable replication = yes\n[{KEY}]\n enabled = yes\n"
        ))
        .unwrap();
        config.take_db_replication(&db);
        let settings = resolve(&config, KEY, GUID).unwrap();
        assert!(settings.enable_replication);
        assert_eq!(settings.seconds_to_replicate, 600);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].kind, WarningKind::Suspicious);
        assert!(
            warnings[0].to_string().contains("netdata.conf [db]"),
            "{}",
            warnings[0]
        );
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
            parse("[not-a-key]\n enabled = yes\n typo = 1\n[stream]\n initial clock resync iterations = 1\n").unwrap();
        let kinds: Vec<WarningKind> = warnings.iter().map(|w| w.kind).collect();
        assert!(kinds.contains(&WarningKind::Suspicious), "{warnings:?}");
        assert!(kinds.contains(&WarningKind::Unknown), "{warnings:?}");
        assert!(kinds.contains(&WarningKind::NotUsed), "{warnings:?}");
        let error = parse("[stream]\n enabled = yes\n").unwrap_err();
        assert!(
            error.to_string().contains("'destination' is required"),
            "{error}"
        );
        let error =
            parse("[stream]\n enabled = yes\n destination = h\n api key = x\n").unwrap_err();
        assert!(
            error.to_string().contains("'api key' is required"),
            "{error}"
        );
        let error = parse("[stream]\n destination = udp:h:1\n").unwrap_err();
        assert!(error.to_string().contains("destination"), "{error}");
    }

    #[test]
    fn the_reference_child_config_streams_with_netdata_defaults() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/stream/child_stream.conf"
        ))
        .unwrap();
        let (config, warnings) = parse(&text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(config.sender_enabled);
        let sender = &config.sender;
        assert_eq!(sender.api_key, KEY);
        assert_eq!(
            sender
                .destinations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["127.0.0.1:19997"]
        );
        assert_eq!(sender.buffer_size_bytes, 10_485_760);
        assert_eq!(sender.reconnect_delay_seconds, 5);
        assert_eq!(sender.timeout_seconds, 60);
        assert!(!sender.ssl_skip_certificate_verification);
        assert_eq!(sender.send_charts_matching, "*");
        assert!(!config.enable_compression);
    }

    #[test]
    fn destinations_fail_over_in_order_with_ssl_and_default_port() {
        let list = parse_stream_destinations("a:1:SSL, b [::1]:SSL tcp:c:3", 19999).unwrap();
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["a:1:SSL", "b:19999", "[::1]:19999:SSL", "c:3"]);
        assert!(parse_stream_destinations("  ", 1).is_err());
        assert!(parse_stream_destinations("unix:/run/x", 1).is_err());
        let (config, _) = parse(
            "[stream]\n enabled = yes\n destination = p\n default port = 2000\n \
             api key = 11111111-2222-3333-4444-555555555555\n buffer size bytes = 4096\n \
             reconnect delay seconds = 1\n CAfile = /x.pem\n ssl skip certificate verification = yes\n",
        )
        .unwrap();
        assert_eq!(config.sender.destinations[0].destination.port, 2000);
        assert_eq!(config.sender.buffer_size_bytes, 4096);
        assert_eq!(config.sender.reconnect_delay_seconds, 1);
        assert_eq!(
            config.sender.ca_file.as_deref(),
            Some(std::path::Path::new("/x.pem"))
        );
        assert!(config.sender.ssl_skip_certificate_verification);
    }

    #[test]
    fn proxy_settings_chain_stream_then_api_key_then_machine_guid() {
        const OTHER: &str = "22222222-2222-3333-4444-555555555555";
        let (config, warnings) = parse(&format!(
            "[stream]\n enabled = yes\n destination = 10.0.0.1:19999\n api key = {KEY}\n\
             \x20send charts matching = system.*\n default port = 20000\n\
             [{KEY}]\n enabled = yes\n default proxy destination = 10.0.0.2\n\
             [{GUID}]\n proxy enabled = no\n\
             [{OTHER}]\n proxy api key = {OTHER}\n proxy send charts matching = *\n"
        ))
        .unwrap();
        assert!(
            !warnings.iter().any(|w| w.to_string().contains("proxy")),
            "{warnings:?}"
        );
        let plain = config.proxy_for(KEY, "33333333-2222-3333-4444-555555555555");
        assert!(plain.enabled);
        assert_eq!(plain.destinations.len(), 1);
        assert_eq!(plain.destinations[0].to_string(), "10.0.0.2:20000");
        assert_eq!(plain.api_key, KEY);
        assert_eq!(plain.send_charts_matching, "system.*");
        assert!(!config.proxy_for(KEY, GUID).enabled);
        let other = config.proxy_for(KEY, OTHER);
        assert!(other.enabled);
        assert_eq!(other.api_key, OTHER);
        assert_eq!(other.send_charts_matching, "*");
        assert!(config.may_proxy());

        let (off, _) = parse(&format!("[{KEY}]\n enabled = yes\n")).unwrap();
        assert!(!off.may_proxy());
        assert!(!off.proxy_for(KEY, GUID).enabled);
    }

    #[test]
    fn proxying_without_a_destination_is_an_error() {
        let error = parse(&format!(
            "[{KEY}]\n enabled = yes\n default proxy enabled = yes\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(error.contains("default proxy destination"), "{error}");
        assert!(error.contains("stream.conf:3"), "{error}");
        let error = parse(&format!(
            "[{GUID}]\n proxy enabled = yes\n proxy destination = 10.0.0.1\n proxy api key = nope\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(error.contains("proxy api key"), "{error}");
    }
}
