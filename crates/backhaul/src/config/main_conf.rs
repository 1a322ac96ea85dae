//! netdata.conf: turns its sections into a [`MainConfig`], including the
//! legacy `[backend]` exporting section.
//!
//! Read by backhaul: `[global]`, `[db]` (`update every`, `retention` only),
//! `[directories]`, `[plugins]`, `[web]` (the web server's settings; see
//! [`WebConfig`]), `[logs]` (see `logs_conf`), `[host labels]`, `[health]`
//! (`is ephemeral`, `has unstable connection` only), `[backend]`, `[statsd]`
//! (see `statsd_conf`).
//!
//! Everything else a netdata.conf may hold loads without error:
//! - a netdata setting backhaul does not use (`run as user`, `memory mode`,
//!   ...) gets one [`WarningKind::NotUsed`] warning ("not used by
//!   backhaul");
//! - a setting neither knows gets one [`WarningKind::Unknown`] warning;
//! - every other section (`[registry]`, `[cloud]`,
//!   `[ml]`, `[plugin:*]`, ...) gets one warning for the whole section, none
//!   for its settings.
//!
//! Older netdata spellings are honoured: `[global] update every` and
//! `history` (netdata 1.37 moved them to `[db] update every` and `[db]
//! retention`; `[db]` wins when both are set), `[global] config
//! directory`, `plugins directory`, ... for `[directories]`, and `[global]
//! bind socket to IP`, `port`, ... for `[web]` (`[web]` wins).

use std::path::PathBuf;

use super::cgroups_conf::{cgroups_from_section, CgroupsConfig, CGROUPS_SECTION};
use super::connector::ConnectorType;
use super::error::{ConfigError, Warning, WarningKind};
use super::exporting::{parse_count, parse_destination_value, parse_non_empty, SECONDS_REASON};
use super::ini::{invalid_value, IniDocument, IniEntry, IniSection, SectionChain};
use super::instance::{ConnectorExtras, InstanceConfig};
use super::logs_conf::{logs_from_document, LogsConfig, GLOBAL_LOGS_ALIASES};
use super::statsd_conf::{statsd_from_section, StatsdConfig};
use super::value::{
    parse_bool, parse_port, parse_u32, parse_whole_number, split_quoted_words, DataSource,
};

/// Name of the legacy exporting section, and of the instance made from it.
pub const BACKEND_SECTION: &str = "backend";

const HISTORY_MINIMUM: u32 = 5;
const HISTORY_REASON: &str = "must be a whole number >= 5";

/// Everything backhaul reads from netdata.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainConfig {
    /// `[global] hostname`; default: the machine's host name.
    pub hostname: String,
    /// Collection interval in seconds: `[db] update every`, else `[global]
    /// update every`, else 1.
    pub update_every: u32,
    /// Points kept per dimension: `[global] history`, else `[db] retention`
    /// (seconds) divided by `update_every` (rounded up), else 3600. At least
    /// 5.
    pub history: u32,
    /// `[db] cleanup obsolete charts after secs` (older spelling: `[global]
    /// cleanup obsolete charts after seconds`): how long a chart stays in
    /// the store after it became obsolete and was last collected. Default
    /// 3600, as netdata.
    pub cleanup_obsolete_charts_after_secs: u32,
    /// `[db] enable replication`, `seconds to replicate` and `seconds per
    /// replication step`: what a parent asks its children for, unless
    /// stream.conf's API key or machine GUID section says otherwise
    /// (where netdata 1.37 reads them).
    pub replication: ReplicationDefaults,
    /// `[global] log level`, a backhaul addition (netdata has no such key);
    /// not checked here.
    pub log_level: Option<String>,
    /// `[global] debug flags`, kept verbatim.
    pub debug_flags: Option<String>,
    /// `[directories]`.
    pub directories: Directories,
    /// `[plugins]`.
    pub plugins: PluginsConfig,
    /// `[plugin:proc]`: the `/proc` modules switched in this file
    /// (`/proc/net/dev = no`, ...), in file order; a module not named is on.
    pub proc_modules: Vec<(String, bool)>,
    /// `[plugin:proc:MODULE]`: the per-chart switches set in this file
    /// (module, key, value), in file order; see [`PROC_CHART_SWITCHES`]. A
    /// disk's or a network interface's own section is the module
    /// `/proc/diskstats:DEV` or `/proc/net/dev:IFACE` (see
    /// [`PROC_DISK_SWITCHES`], [`PROC_INTERFACE_SWITCHES`]).
    pub proc_chart_switches: Vec<(String, String, ChartSwitch)>,
    /// The simple patterns of the `/proc` modules that choose what they
    /// chart (netdata's names and defaults).
    pub proc_patterns: ProcPatterns,
    /// `[web]`.
    pub web: WebConfig,
    /// `[logs]`.
    pub logs: LogsConfig,
    /// `[host labels]`, in file order.
    pub host_labels: Vec<(String, String)>,
    /// `[health]`: the two settings that become host labels.
    pub health: HealthConfig,
    /// The legacy `[backend]` instance, when netdata.conf has that section
    /// (enabled or not).
    pub backend: Option<InstanceConfig>,
    /// `[db] cleanup orphan hosts after secs` (default 3600; `[global]
    /// cleanup orphan hosts after seconds` before 1.37): how long a child
    /// host that stopped streaming is kept.
    pub cleanup_orphan_hosts_after_secs: u32,
    /// `[statsd]`: the statsd server (run when `[plugins] statsd` is on).
    pub statsd: StatsdConfig,
    /// `[plugin:cgroups]`: the cgroups collector (run when `[plugins]
    /// cgroups` is on).
    pub cgroups: CgroupsConfig,
}

/// `[directories]`, with Debian's netdata package layout as defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directories {
    /// `config`: user configuration (default `/etc/netdata`); exporting.conf
    /// is looked for here.
    pub config: PathBuf,
    /// `stock config` (default `/usr/lib/netdata/conf.d`).
    pub stock_config: PathBuf,
    /// `plugins`: where external plugins are searched, in order. The value
    /// holds several paths separated by blanks, each optionally quoted.
    /// Default: `/usr/lib/netdata/plugins.d` then `CONFIG/custom-plugins.d`.
    pub plugins: Vec<PathBuf>,
    /// `cache` (default `/var/cache/netdata`).
    pub cache: PathBuf,
    /// `lib` (default `/var/lib/netdata`).
    pub lib: PathBuf,
    /// `log` (default `/var/log/netdata`).
    pub log: PathBuf,
    /// `web` (default `/usr/share/netdata/web`).
    pub web: PathBuf,
    /// `home` (default `/var/lib/netdata`).
    pub home: PathBuf,
}

/// `[plugins]`: which plugins run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginsConfig {
    /// `enable running new plugins` (default yes): whether plugins not named
    /// in this section run.
    pub enable_running_new_plugins: bool,
    /// `check for new plugins every`, seconds (default 60).
    pub check_for_new_plugins_every: u32,
    /// Every other `NAME = yes|no`, in file order.
    pub explicit: Vec<(String, bool)>,
    /// `plugins.d max charts per plugin` (default 10000; a backhaul
    /// addition): charts one external plugin may define.
    pub max_charts_per_plugin: usize,
    /// `plugins.d max dimensions per chart` (default 1000).
    pub max_dimensions_per_chart: usize,
    /// `plugins.d max dimensions per plugin` (default 100000).
    pub max_dimensions_per_plugin: usize,
    /// `plugins.d max line length`, bytes (default 16384): longer lines from
    /// a plugin are dropped with a log message.
    pub max_line_length: usize,
}

impl PluginsConfig {
    /// netdata's defaults, and backhaul's limits for external plugins.
    pub fn builtin() -> PluginsConfig {
        PluginsConfig {
            enable_running_new_plugins: true,
            check_for_new_plugins_every: 60,
            explicit: Vec::new(),
            max_charts_per_plugin: 10_000,
            max_dimensions_per_chart: 1_000,
            max_dimensions_per_plugin: 100_000,
            max_line_length: 16 * 1024,
        }
    }
}

/// The `[health]` settings backhaul reads. backhaul has no health engine;
/// netdata sends these two as host labels (`_is_ephemeral`,
/// `_has_unstable_connection`, values `true`/`false`), filed under its
/// configured labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HealthConfig {
    /// `is ephemeral` (default no): the node is expected to go away.
    pub is_ephemeral: bool,
    /// `has unstable connection` (default no).
    pub has_unstable_connection: bool,
}

/// `[web]`: the web server (see `crate::web`).
///
/// Each key is read from `[web]`, else from the older `[global]` spelling
/// netdata still moves into `[web]` (`bind socket to IP` and `bind to` for
/// `bind to`; `port` and `default port` for `default port`; `disconnect idle
/// web clients after seconds`, `enable web responses gzip compression`, `web
/// compression level`). Debian's own `/etc/netdata/netdata.conf` sets
/// `[global] bind socket to IP = 127.0.0.1`. A `[web]` value wins over the
/// `[global]` one, as in netdata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// `bind to`, verbatim. Default `127.0.0.1` (on `default port`):
    /// loopback only (netdata's default is `*`, every interface).
    pub bind_to: String,
    /// `bind to`, parsed: the addresses to listen on, in order.
    pub bind: Vec<BindAddress>,
    /// `mode`, verbatim (default `static-threaded`); `none` switches the
    /// server off ([`WebConfig::enabled`]).
    pub mode: String,
    /// `default port`, used for `bind to` entries without one (default
    /// 19999).
    pub default_port: u16,
    /// `web server threads`: the request workers. `None`: the number of
    /// processors, at most 6 (netdata's default).
    pub threads: Option<usize>,
    /// `web server max sockets`: connections open at once; more are
    /// accepted and closed at once. `None`: half the open-files limit
    /// (netdata's default).
    pub max_sockets: Option<usize>,
    /// `disconnect idle clients after seconds` (default 60; 0: never).
    pub idle_timeout_secs: u32,
    /// `timeout for first request`, seconds from accepting a connection to
    /// its first complete request head (default 60; 0: never).
    pub first_request_timeout_secs: u32,
    /// `enable gzip compression` (default yes): responses are gzipped for
    /// clients that accept it.
    pub gzip: bool,
    /// `gzip compression level`, 1 to 9 (default 3).
    pub gzip_level: u32,
    /// `ssl key` and `ssl certificate`: PEM files; with both set, the port
    /// speaks TLS (a connection whose first byte is a TLS handshake gets
    /// TLS; a plain-HTTP request is redirected to HTTPS, as netdata does).
    pub ssl_key: Option<PathBuf>,
    pub ssl_certificate: Option<PathBuf>,
    /// The `allow ... from` access lists.
    pub access: WebAccess,
    /// `accept a streaming request every seconds` (default 0, no limit):
    /// a `STREAM` request sooner than this after the last accepted one is
    /// answered 503, as netdata does.
    pub stream_accept_every_secs: u32,
    /// Other `[web]` settings, verbatim and in file order (each also gets a
    /// "not used" or "unknown" warning).
    pub other: Vec<(String, String)>,
}

impl WebConfig {
    /// Whether the web server runs (`mode` is not `none`).
    pub fn enabled(&self) -> bool {
        !self.mode.eq_ignore_ascii_case("none")
    }
}

/// One `bind to` entry: a host (an IP address, a name, or `*` for every
/// address) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddress {
    /// As written, without IPv6 brackets; `*` for every address.
    pub host: String,
    /// 0 asks the system for a free port (a backhaul addition, for tests).
    pub port: u16,
}

impl std::fmt::Display for BindAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The `[web] allow ... from` access lists: netdata simple patterns matched
/// on the client's IP address (a loopback client also under the name
/// `localhost`). netdata's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAccess {
    /// `allow connections from` (default `localhost *`): the whole server.
    pub connections: String,
    /// `allow dashboard from` (default `localhost *`): `/` and the API.
    pub dashboard: String,
    /// `allow badges from` (default `*`).
    pub badges: String,
    /// `allow streaming from` (default `*`): `STREAM` requests.
    pub streaming: String,
    /// `allow netdata.conf from` (default: localhost and the private
    /// networks).
    pub netdata_conf: String,
    /// `allow management from` (default `localhost`).
    pub management: String,
}

impl Default for WebAccess {
    fn default() -> Self {
        WebAccess {
            connections: "localhost *".to_string(),
            dashboard: "localhost *".to_string(),
            badges: "*".to_string(),
            streaming: "*".to_string(),
            netdata_conf: "localhost fd* 10.* 192.168.* 172.16.* 172.17.* 172.18.* 172.19.* \
                           172.20.* 172.21.* 172.22.* 172.23.* 172.24.* 172.25.* 172.26.* \
                           172.27.* 172.28.* 172.29.* 172.30.* 172.31.* UNKNOWN"
                .to_string(),
            management: "localhost".to_string(),
        }
    }
}

/// Plugins built into netdata, with whether they run when `[plugins]` does
/// not name them (they ignore `enable running new plugins`).
const BUILT_IN_PLUGINS: &[(&str, bool)] = &[
    ("proc", true),
    ("diskspace", true),
    ("cgroups", true),
    ("tc", true),
    ("idlejitter", true),
    ("timex", true),
    ("statsd", true),
    ("netdata monitoring", true),
    ("checks", false),
    ("profile", false),
    // An external plugin netdata 1.37 disables by default.
    ("slabinfo", false),
];

impl MainConfig {
    /// The configuration used without a netdata.conf: every default, the
    /// host name from the machine.
    pub fn builtin() -> Self {
        Self::with_hostname(system_hostname())
    }

    fn with_hostname(hostname: String) -> Self {
        let config_dir = PathBuf::from("/etc/netdata");
        Self {
            hostname,
            update_every: 1,
            history: 3600,
            cleanup_obsolete_charts_after_secs: DEFAULT_CLEANUP_OBSOLETE_CHARTS_AFTER_SECS,
            replication: ReplicationDefaults::default(),
            log_level: None,
            debug_flags: None,
            directories: Directories {
                plugins: default_plugin_directories(&config_dir),
                config: config_dir,
                stock_config: PathBuf::from("/usr/lib/netdata/conf.d"),
                cache: PathBuf::from("/var/cache/netdata"),
                lib: PathBuf::from("/var/lib/netdata"),
                log: PathBuf::from("/var/log/netdata"),
                web: PathBuf::from("/usr/share/netdata/web"),
                home: PathBuf::from("/var/lib/netdata"),
            },
            plugins: PluginsConfig::builtin(),
            proc_modules: Vec::new(),
            proc_chart_switches: Vec::new(),
            proc_patterns: ProcPatterns::default(),
            web: WebConfig {
                bind_to: DEFAULT_BIND_TO.to_string(),
                bind: vec![BindAddress {
                    host: "127.0.0.1".to_string(),
                    port: DEFAULT_WEB_PORT,
                }],
                mode: "static-threaded".to_string(),
                default_port: DEFAULT_WEB_PORT,
                threads: None,
                max_sockets: None,
                idle_timeout_secs: 60,
                first_request_timeout_secs: 60,
                gzip: true,
                gzip_level: 3,
                ssl_key: None,
                ssl_certificate: None,
                access: WebAccess::default(),
                stream_accept_every_secs: 0,
                other: Vec::new(),
            },
            logs: LogsConfig::default(),
            host_labels: Vec::new(),
            health: HealthConfig::default(),
            backend: None,
            cleanup_orphan_hosts_after_secs: 3600,
            statsd: StatsdConfig::default(),
            cgroups: CgroupsConfig::default(),
        }
    }

    /// Whether plugin `name` (`proc`, `apps`, `python.d`, ...) should run,
    /// as netdata decides: its own `[plugins]` setting if any, else the
    /// built-in default of an internal plugin, else `enable running new
    /// plugins`.
    pub fn plugin_enabled(&self, name: &str) -> bool {
        if let Some((_, enabled)) = self.plugins.explicit.iter().find(|(n, _)| n == name) {
            return *enabled;
        }
        if let Some((_, enabled)) = BUILT_IN_PLUGINS.iter().find(|(n, _)| *n == name) {
            return *enabled;
        }
        self.plugins.enable_running_new_plugins
    }

    /// Whether the `/proc` module `module` (`/proc/net/dev`, ...) is on by
    /// `[plugin:proc]` (the last setting wins; on when not named). The
    /// `proc` plugin itself must be on too ([`Self::plugin_enabled`]).
    pub fn proc_module_enabled(&self, module: &str) -> bool {
        self.proc_modules
            .iter()
            .rev()
            .find(|(m, _)| m == module)
            .is_none_or(|(_, enabled)| *enabled)
    }

    /// The switch `key` of disk `device`'s own section
    /// `[plugin:proc:/proc/diskstats:DEVICE]`, or `None` when not set.
    pub fn proc_disk_switch(&self, device: &str, key: &str) -> Option<ChartSwitch> {
        self.proc_device_switch("/proc/diskstats:", device, key)
    }

    /// The switch `key` of network interface `interface`'s own section
    /// `[plugin:proc:/proc/net/dev:INTERFACE]`, or `None` when not set.
    pub fn proc_interface_switch(&self, interface: &str, key: &str) -> Option<ChartSwitch> {
        self.proc_device_switch("/proc/net/dev:", interface, key)
    }

    /// The switch `key` of the section `[plugin:proc:PREFIXDEVICE]` (the
    /// last setting wins).
    fn proc_device_switch(&self, prefix: &str, device: &str, key: &str) -> Option<ChartSwitch> {
        self.proc_chart_switches
            .iter()
            .rev()
            .find(|(m, k, _)| k == key && m.strip_prefix(prefix) == Some(device))
            .map(|(_, _, switch)| *switch)
    }

    /// The per-chart switch `key` of `[plugin:proc:MODULE]` (the last
    /// setting wins), or `None` when not set: the collector then uses
    /// netdata's default.
    pub fn proc_chart_switch(&self, module: &str, key: &str) -> Option<ChartSwitch> {
        self.proc_chart_switches
            .iter()
            .rev()
            .find(|(m, k, _)| m == module && k == key)
            .map(|(_, _, switch)| *switch)
    }
}

fn default_plugin_directories(config_dir: &std::path::Path) -> Vec<PathBuf> {
    vec![
        PathBuf::from("/usr/lib/netdata/plugins.d"),
        config_dir.join("custom-plugins.d"),
    ]
}

/// The machine's host name (`localhost` if it cannot be read).
pub fn system_hostname() -> String {
    crate::sys::hostname().unwrap_or_else(|| "localhost".to_string())
}

// ----------------------------------------------------------------------------
// known settings

/// `[global]` settings backhaul reads.
const GLOBAL_USED: &[&str] = &[
    "cleanup orphan hosts after seconds",
    "hostname",
    "update every",
    "history",
    "log level",
    "debug flags",
    "cleanup obsolete charts after seconds",
];

/// Older `[global]` spellings of `[directories]` settings.
const GLOBAL_DIRECTORY_ALIASES: &[(&str, &str)] = &[
    ("config directory", "config"),
    ("stock config directory", "stock config"),
    ("plugins directory", "plugins"),
    ("cache directory", "cache"),
    ("lib directory", "lib"),
    ("log directory", "log"),
    ("web files directory", "web"),
    ("home directory", "home"),
];

/// netdata `[global]` settings that backhaul accepts and ignores.
const GLOBAL_NOT_USED: &[&str] = &[
    "run as user",
    "web files owner",
    "web files group",
    "memory mode",
    "page cache size",
    "dbengine disk space",
    "dbengine multihost disk space",
    "memory deduplication (ksm)",
    "glibc malloc arena max for plugins",
    "glibc malloc arena max for netdata",
    "libuv worker threads",
    "host access prefix",
    "enable metric correlations",
    "metric correlations method",
    "timezone",
    "OOM score",
    "process scheduling policy",
    "process nice level",
    "pthread stack size",
    "cpu cores",
    "profile",
    "gap when lost iterations above",
    "delete obsolete charts files",
    "delete orphan hosts files",
    "enable zero metrics",
    "dbengine page fetch timeout secs",
    "dbengine page fetch retries",
    "respect web browser do not track policy",
    "x-frame-options response header",
    "web compression strategy",
    "web server threads",
    "web server max sockets",
    "http port listen backlog",
    "registry directory",
    "health configuration directory",
    "stock health configuration directory",
    "lock directory",
    "netdata management api key file",
    "entries per dimension",
];

/// Older `[global]` spellings of `[web]` settings, which netdata moves into
/// `[web]` when `[web]` does not set them.
const GLOBAL_WEB_ALIASES: &[(&str, &str)] = &[
    ("bind socket to IP", "bind to"),
    ("bind to", "bind to"),
    ("port", "default port"),
    ("default port", "default port"),
    (
        "disconnect idle web clients after seconds",
        "disconnect idle clients after seconds",
    ),
    (
        "enable web responses gzip compression",
        "enable gzip compression",
    ),
    ("web compression level", "gzip compression level"),
];

/// `[directories]` settings backhaul reads.
const DIRECTORIES_USED: &[&str] = &[
    "config",
    "stock config",
    "plugins",
    "cache",
    "lib",
    "log",
    "web",
    "home",
];

/// netdata `[directories]` settings backhaul ignores.
const DIRECTORIES_NOT_USED: &[&str] = &["lock", "registry", "health config", "stock health config"];

/// `[web]` settings backhaul reads.
const WEB_USED: &[&str] = &[
    "bind to",
    "mode",
    "default port",
    "web server threads",
    "web server max sockets",
    "disconnect idle clients after seconds",
    "timeout for first request",
    "enable gzip compression",
    "gzip compression level",
    "ssl key",
    "ssl certificate",
    "allow connections from",
    "allow dashboard from",
    "allow badges from",
    "allow streaming from",
    "allow netdata.conf from",
    "allow management from",
    "accept a streaming request every seconds",
];

/// The default `bind to`: loopback only, on `default port`.
pub const DEFAULT_BIND_TO: &str = "127.0.0.1";

/// netdata's web port.
pub const DEFAULT_WEB_PORT: u16 = 19999;

/// netdata `[web]` settings backhaul ignores.
const WEB_NOT_USED: &[&str] = &[
    "tls version",
    "tls ciphers",
    "ses max window",
    "des max window",
    "web files owner",
    "web files group",
    "respect do not track policy",
    "x-frame-options response header",
    "allow connections by dns",
    "allow dashboard by dns",
    "allow badges by dns",
    "allow streaming by dns",
    "allow netdata.conf by dns",
    "allow management by dns",
    "gzip compression strategy",
    "custom dashboard_info.js",
    "listen backlog",
];

/// `[db]` settings backhaul reads (every other `[db]` setting is netdata's
/// storage tuning: "not used").
const DB_USED: &[&str] = &[
    "update every",
    "retention",
    "cleanup orphan hosts after secs",
    "cleanup obsolete charts after secs",
    "enable replication",
    "seconds to replicate",
    "seconds per replication step",
];

/// `[db]`'s replication keys, netdata 1.37's defaults for every child a
/// parent receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicationDefaults {
    /// `enable replication` (yes).
    pub enabled: bool,
    /// `seconds to replicate` (86400).
    pub seconds_to_replicate: u32,
    /// `seconds per replication step` (600).
    pub seconds_per_step: u32,
}

impl Default for ReplicationDefaults {
    fn default() -> Self {
        ReplicationDefaults {
            enabled: true,
            seconds_to_replicate: super::stream_conf::DEFAULT_SECONDS_TO_REPLICATE,
            seconds_per_step: super::stream_conf::DEFAULT_SECONDS_PER_REPLICATION_STEP,
        }
    }
}

/// netdata's default for `[db] cleanup obsolete charts after secs`.
pub const DEFAULT_CLEANUP_OBSOLETE_CHARTS_AFTER_SECS: u32 = 3600;

/// `[health]` settings backhaul reads.
const HEALTH_USED: &[&str] = &["is ephemeral", "has unstable connection"];

/// netdata `[health]` settings backhaul ignores (it runs no alarms).
const HEALTH_NOT_USED: &[&str] = &[
    "enabled",
    "silencers file",
    "rotate log every lines",
    "in memory max health log entries",
    "script to execute on alarm",
    "enable stock health configuration",
    "run at least every seconds",
    "postpone alarms during hibernation for seconds",
];

/// `[backend]` settings backhaul reads.
const BACKEND_USED: &[&str] = &[
    "enabled",
    "type",
    "destination",
    "data source",
    "prefix",
    "hostname",
    "update every",
    "buffer on failures",
    "timeout ms",
    "send names instead of ids",
    "send charts matching",
    "send hosts matching",
    "host tags",
];

/// netdata.conf sections backhaul knows to be netdata's and ignores.
const SECTIONS_NOT_USED: &[&str] = &[
    "environment variables",
    "sqlite",
    "cloud",
    "ml",
    "registry",
    "global statistics",
    "stream",
    "exporting",
    "cgroups",
];

/// netdata.conf section prefixes backhaul ignores (`[plugin:proc]`, ...).
const SECTION_PREFIXES_NOT_USED: &[&str] = &["plugin:", "statsd:", "health:"];

const HANDLED_SECTIONS: &[&str] = &[
    "global",
    "db",
    "directories",
    "plugins",
    "web",
    "logs",
    "host labels",
    "health",
    "statsd",
    BACKEND_SECTION,
];

/// Warns about each setting of `section` that is not in `used`: "not used"
/// for those in `not_used` (or every one when `not_used` is `None`),
/// "unknown" otherwise. `skip` lists further settings handled elsewhere.
fn warn_unhandled_settings(
    section: &IniSection,
    used: &[&str],
    not_used: Option<&[&str]>,
    skip: &[&str],
    warnings: &mut Vec<Warning>,
) {
    for entry in &section.entries {
        let key = entry.key.as_str();
        if used.contains(&key) || skip.contains(&key) {
            continue;
        }
        let known = not_used.is_none_or(|list| list.contains(&key));
        let (kind, message) = if known {
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

// ----------------------------------------------------------------------------
// building MainConfig

/// Builds a [`MainConfig`] from a parsed netdata.conf.
pub fn main_from_document(
    document: &IniDocument,
    warnings: &mut Vec<Warning>,
) -> Result<MainConfig, ConfigError> {
    for section in &document.sections {
        let name = section.name.as_str();
        if HANDLED_SECTIONS.contains(&name)
            || name == PROC_PLUGIN_SECTION
            || name == CGROUPS_SECTION
            || proc_chart_module(name).is_some()
            || name
                .strip_prefix("plugin:proc:")
                .is_some_and(|module| PROC_PATTERN_ONLY_MODULES.contains(&module))
        {
            continue;
        }
        let known = SECTIONS_NOT_USED.contains(&name)
            || SECTION_PREFIXES_NOT_USED
                .iter()
                .any(|prefix| name.starts_with(prefix));
        let (kind, message) = if known {
            (
                WarningKind::NotUsed,
                "netdata section not used by backhaul; its settings are ignored",
            )
        } else {
            (
                WarningKind::Unknown,
                "unknown section; its settings are ignored",
            )
        };
        warnings.push(Warning::about_section(&section.at, name, kind, message));
    }

    let global = document.section("global");
    let db = document.section("db");
    let alias_keys: Vec<&str> = GLOBAL_DIRECTORY_ALIASES
        .iter()
        .chain(GLOBAL_WEB_ALIASES)
        .chain(GLOBAL_LOGS_ALIASES)
        .map(|(old, _)| *old)
        .collect();
    if let Some(global) = global {
        warn_unhandled_settings(
            global,
            GLOBAL_USED,
            Some(GLOBAL_NOT_USED),
            &alias_keys,
            warnings,
        );
    }
    if let Some(db) = db {
        warn_unhandled_settings(db, DB_USED, None, &[], warnings);
    }

    let global_chain = SectionChain::new([global]);
    let mut config = MainConfig::with_hostname(String::new());
    config.hostname = match global_chain.parsed("hostname", parse_non_empty)? {
        Some(hostname) => hostname,
        None => system_hostname(),
    };
    config.update_every =
        SectionChain::new([db, global]).parsed_or("update every", 1, |value| {
            parse_u32(value, 1, SECONDS_REASON)
        })?;
    config.history = match global_chain.parsed("history", |value| {
        parse_u32(value, HISTORY_MINIMUM, HISTORY_REASON)
    })? {
        Some(history) => history,
        None => history_from_retention(db, config.update_every)?.unwrap_or(3600),
    };
    config.cleanup_orphan_hosts_after_secs = match SectionChain::new([db])
        .parsed("cleanup orphan hosts after secs", |value| {
            parse_u32(value, 0, "must be a whole number of seconds")
        })? {
        Some(seconds) => seconds,
        None => global_chain.parsed_or("cleanup orphan hosts after seconds", 3600, |value| {
            parse_u32(value, 0, "must be a whole number of seconds")
        })?,
    };
    let seconds = |value: &str| parse_u32(value, 1, SECONDS_REASON);
    config.cleanup_obsolete_charts_after_secs =
        match SectionChain::new([db]).parsed("cleanup obsolete charts after secs", seconds)? {
            Some(secs) => secs,
            None => global_chain
                .parsed("cleanup obsolete charts after seconds", seconds)?
                .unwrap_or(DEFAULT_CLEANUP_OBSOLETE_CHARTS_AFTER_SECS),
        };
    let db_chain = SectionChain::new([db]);
    let replication_defaults = ReplicationDefaults::default();
    config.replication = ReplicationDefaults {
        enabled: db_chain.parsed_or(
            "enable replication",
            replication_defaults.enabled,
            parse_bool,
        )?,
        seconds_to_replicate: db_chain.parsed_or(
            "seconds to replicate",
            replication_defaults.seconds_to_replicate,
            |value| parse_u32(value, 0, "must be a whole number of seconds"),
        )?,
        seconds_per_step: db_chain.parsed_or(
            "seconds per replication step",
            replication_defaults.seconds_per_step,
            |value| parse_u32(value, 1, SECONDS_REASON),
        )?,
    };
    config.log_level = global_chain.find("log level").map(|(_, e)| e.value.clone());
    config.debug_flags = global_chain
        .find("debug flags")
        .map(|(_, e)| e.value.clone());

    config.directories = directories(document, global, warnings)?;
    if let Some(plugins) = document.section("plugins") {
        config.plugins = plugins_config(plugins, warnings)?;
    }
    for section in document
        .sections
        .iter()
        .filter(|s| s.name == PROC_PLUGIN_SECTION)
    {
        config.proc_modules.extend(proc_modules(section, warnings));
    }
    for section in &document.sections {
        let Some(module) = section.name.strip_prefix("plugin:proc:") else {
            continue;
        };
        // The pattern and number keys first; the rest are per-chart
        // switches. netdata read any whole number for a number key (0 or
        // less: every collection); backhaul refuses what it cannot read.
        let mut refused = None;
        let mut rest = section.clone();
        rest.entries.retain(|entry| {
            if let Some(slot) = config.proc_patterns.number_slot(module, &entry.key) {
                match parse_u32(&entry.value, 0, "must be a whole number of seconds") {
                    Ok(number) => *slot = number,
                    Err(reason) => {
                        refused.get_or_insert_with(|| invalid_value(section, entry, reason));
                    }
                }
                return false;
            }
            match config.proc_patterns.slot(module, &entry.key) {
                Some(slot) => {
                    slot.clone_from(&entry.value);
                    false
                }
                None => true,
            }
        });
        if let Some(error) = refused {
            return Err(error);
        }
        if let Some((module, keys)) = proc_chart_module(&section.name) {
            config
                .proc_chart_switches
                .extend(proc_chart_switches(&rest, module, keys, warnings));
        } else if PROC_PATTERN_ONLY_MODULES.contains(&module) {
            proc_chart_switches(&rest, module, &[], warnings);
        }
    }
    config.web = web_config(document.section("web"), global, warnings)?;
    config.logs = logs_from_document(document, warnings)?;
    if let Some(labels) = document.section("host labels") {
        config.host_labels = labels
            .entries
            .iter()
            .map(|entry| (entry.key.clone(), entry.value.clone()))
            .collect();
    }
    if let Some(health) = document.section("health") {
        config.health = health_config(health, warnings)?;
    }
    if let Some(backend) = document.section(BACKEND_SECTION) {
        config.backend = Some(legacy_backend(backend, &config, warnings)?);
    }
    config.statsd = statsd_from_section(document.section("statsd"), config.update_every, warnings)?;
    config.cgroups = cgroups_from_section(
        document.section(CGROUPS_SECTION),
        config.update_every,
        warnings,
    )?;
    Ok(config)
}

fn history_from_retention(
    db: Option<&IniSection>,
    update_every: u32,
) -> Result<Option<u32>, ConfigError> {
    let Some((section, entry)) = SectionChain::new([db]).find("retention") else {
        return Ok(None);
    };
    let reason = "must be a whole number of seconds that keeps at least 5 points";
    let seconds = parse_whole_number(&entry.value, 1, reason)
        .map_err(|reason| invalid_value(section, entry, reason))?;
    let points = seconds.div_ceil(u64::from(update_every));
    match u32::try_from(points) {
        Ok(points) if points >= HISTORY_MINIMUM => Ok(Some(points)),
        _ => Err(invalid_value(section, entry, reason.to_string())),
    }
}

fn directories(
    document: &IniDocument,
    global: Option<&IniSection>,
    warnings: &mut Vec<Warning>,
) -> Result<Directories, ConfigError> {
    let section = document.section("directories");
    if let Some(section) = section {
        warn_unhandled_settings(
            section,
            DIRECTORIES_USED,
            Some(DIRECTORIES_NOT_USED),
            &[],
            warnings,
        );
    }
    // Finds `[directories] key`, else its old `[global] ... directory` name.
    let find = |key: &str| {
        let in_directories = section.and_then(|s| s.get(key).map(|entry| (s, entry)));
        in_directories.or_else(|| {
            let old_key = GLOBAL_DIRECTORY_ALIASES
                .iter()
                .find(|(_, new)| *new == key)
                .map(|(old, _)| *old)?;
            global.and_then(|g| g.get(old_key).map(|entry| (g, entry)))
        })
    };
    let single_path = |key: &str, default: &str| -> Result<PathBuf, ConfigError> {
        match find(key) {
            None => Ok(PathBuf::from(default)),
            Some((section, entry)) => parse_non_empty(&entry.value)
                .map(PathBuf::from)
                .map_err(|reason| invalid_value(section, entry, reason)),
        }
    };

    let config = single_path("config", "/etc/netdata")?;
    let plugins = match find("plugins") {
        None => default_plugin_directories(&config),
        Some((section, entry)) => split_quoted_words(&entry.value)
            .and_then(|words| {
                if words.is_empty() {
                    Err("must name at least one directory".to_string())
                } else {
                    Ok(words.into_iter().map(PathBuf::from).collect())
                }
            })
            .map_err(|reason| invalid_value(section, entry, reason))?,
    };
    Ok(Directories {
        stock_config: single_path("stock config", "/usr/lib/netdata/conf.d")?,
        plugins,
        cache: single_path("cache", "/var/cache/netdata")?,
        lib: single_path("lib", "/var/lib/netdata")?,
        log: single_path("log", "/var/log/netdata")?,
        web: single_path("web", "/usr/share/netdata/web")?,
        home: single_path("home", "/var/lib/netdata")?,
        config,
    })
}

fn plugins_config(
    section: &IniSection,
    warnings: &mut Vec<Warning>,
) -> Result<PluginsConfig, ConfigError> {
    let mut plugins = PluginsConfig::builtin();
    let limit = |entry: &IniEntry, minimum: u64| -> Result<usize, ConfigError> {
        let reason = format!("must be a whole number >= {minimum}");
        let n = parse_whole_number(&entry.value, minimum, &reason)
            .map_err(|r| invalid_value(section, entry, r))?;
        usize::try_from(n).map_err(|_| invalid_value(section, entry, reason))
    };
    for entry in &section.entries {
        match entry.key.as_str() {
            "plugins.d max charts per plugin" => plugins.max_charts_per_plugin = limit(entry, 1)?,
            "plugins.d max dimensions per chart" => {
                plugins.max_dimensions_per_chart = limit(entry, 1)?
            }
            "plugins.d max dimensions per plugin" => {
                plugins.max_dimensions_per_plugin = limit(entry, 1)?
            }
            "plugins.d max line length" => plugins.max_line_length = limit(entry, 1024)?,
            "enable running new plugins" => {
                plugins.enable_running_new_plugins =
                    parse_bool(&entry.value).map_err(|r| invalid_value(section, entry, r))?;
            }
            "check for new plugins every" => {
                plugins.check_for_new_plugins_every = parse_u32(&entry.value, 1, SECONDS_REASON)
                    .map_err(|r| invalid_value(section, entry, r))?;
            }
            name => {
                let enabled = switch_value(section, entry, warnings);
                plugins.explicit.push((name.to_string(), enabled));
            }
        }
    }
    Ok(plugins)
}

/// The value of an on/off switch (`[plugins] NAME`, `[plugin:proc]
/// /proc/...`). netdata reads anything but yes/true/on/auto as "no" there;
/// so does backhaul (real files carry values such as "no # comment"), with a
/// warning.
fn switch_value(section: &IniSection, entry: &IniEntry, warnings: &mut Vec<Warning>) -> bool {
    parse_bool(&entry.value).unwrap_or_else(|reason| {
        warnings.push(Warning::about_key(
            &entry.at,
            &section.name,
            &entry.key,
            WarningKind::Suspicious,
            format!(
                "'{}' is not a boolean ({reason}); taken as no, as netdata does",
                entry.value
            ),
        ));
        false
    })
}

/// netdata's section of the `/proc` plugin's switches.
const PROC_PLUGIN_SECTION: &str = "plugin:proc";

/// The `[plugin:proc]` switches backhaul has a collector for, in the order
/// the collectors start; `diskspace` is the `[plugins]` switch of the disk
/// space collector, not a `[plugin:proc]` key.
/// `collectors::proc::default_collectors` asks about exactly these.
pub const PROC_SWITCHES: &[&str] = &[
    "/proc/stat",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/vmstat",
    "/proc/meminfo",
    "/proc/net/dev",
    "/proc/net/netstat",
    "/proc/net/sockstat",
    "/proc/net/sockstat6",
    "/proc/net/softnet_stat",
    "/proc/net/stat/conntrack",
    "/proc/net/stat/synproxy",
    "/proc/diskstats",
    "diskspace",
    "/proc/interrupts",
    "/proc/softirqs",
    "/proc/pressure",
    "/proc/sys/kernel/random/entropy_avail",
    "ipc",
    "/proc/mdstat",
    "/sys/block/zram",
    "/sys/kernel/mm/ksm",
    "timex",
    "idlejitter",
];

/// A per-chart switch of `[plugin:proc:MODULE]`, as netdata reads one:
/// `yes`, `no`, or `auto` (netdata's "on demand": the chart appears once
/// its values are not all zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartSwitch {
    Yes,
    No,
    Auto,
}

/// The per-chart switches backhaul reads, by module: the keys of
/// `[plugin:proc:MODULE]` sections. Other keys of those sections get a
/// "not used" warning.
pub const PROC_CHART_SWITCHES: &[(&str, &[&str])] = &[
    (
        "/proc/stat",
        &[
            "core_throttle_count",
            "package_throttle_count",
            "cpu frequency",
            "cpu idle states",
        ],
    ),
    (
        "/proc/meminfo",
        &[
            "system ram",
            "system swap",
            "hardware corrupted ECC",
            "committed memory",
            "writeback memory",
            "kernel memory",
            "slab memory",
            "hugepages",
            "transparent hugepages",
        ],
    ),
    (
        "/proc/vmstat",
        &[
            "swap i/o",
            "disk i/o",
            "memory page faults",
            "out of memory kills",
            "system-wide numa metric summary",
        ],
    ),
    (
        "/proc/diskstats",
        &[
            "bandwidth for all disks",
            "operations for all disks",
            "merged operations for all disks",
            "i/o time for all disks",
            "queued operations for all disks",
            "utilization percentage for all disks",
            "extended operations for all disks",
            "backlog for all disks",
            "performance metrics for physical disks",
            "performance metrics for virtual disks",
            "performance metrics for partitions",
            "enable new disks detected at runtime",
        ],
    ),
    (
        "/proc/mdstat",
        &[
            "faulty devices",
            "nonredundant arrays availability",
            "mismatch count",
            "disk stats",
            "operation status",
            "make charts obsolete",
        ],
    ),
    ("/proc/interrupts", &["interrupts per core"]),
    ("/proc/softirqs", &["softirqs per core"]),
    (
        "/proc/pressure",
        &[
            "enable cpu some pressure",
            "enable cpu full pressure",
            "enable memory some pressure",
            "enable memory full pressure",
            "enable io some pressure",
            "enable io full pressure",
        ],
    ),
    (
        "ipc",
        &["message queues", "semaphore totals", "shared memory totals"],
    ),
    (
        "/proc/net/dev",
        &crate::collectors::proc::NET_DEV_MODULE_KEYS,
    ),
    (
        "/proc/net/netstat",
        &[
            "bandwidth",
            "input errors",
            "multicast bandwidth",
            "broadcast bandwidth",
            "multicast packets",
            "broadcast packets",
            "ECN packets",
            "TCP reorders",
            "TCP SYN cookies",
            "TCP out-of-order queue",
            "TCP connection aborts",
            "TCP memory pressures",
            "TCP SYN queue",
            "TCP accept queue",
        ],
    ),
    (
        "/proc/net/snmp",
        &[
            "ipv4 packets",
            "ipv4 fragments sent",
            "ipv4 fragments assembly",
            "ipv4 errors",
            "ipv4 TCP connections",
            "ipv4 TCP packets",
            "ipv4 TCP errors",
            "ipv4 TCP opens",
            "ipv4 TCP handshake issues",
            "ipv4 UDP packets",
            "ipv4 UDP errors",
            "ipv4 ICMP packets",
            "ipv4 ICMP messages",
            "ipv4 UDPLite packets",
        ],
    ),
    (
        "/proc/net/snmp6",
        &[
            "ipv6 packets",
            "ipv6 fragments sent",
            "ipv6 fragments assembly",
            "ipv6 errors",
            "ipv6 UDP packets",
            "ipv6 UDP errors",
            "ipv6 UDPlite packets",
            "ipv6 UDPlite errors",
            "bandwidth",
            "multicast bandwidth",
            "broadcast bandwidth",
            "multicast packets",
            "icmp",
            "icmp redirects",
            "icmp errors",
            "icmp echos",
            "icmp group membership",
            "icmp router",
            "icmp neighbor",
            "icmp mldv2",
            "icmp types",
            "ect",
        ],
    ),
    (
        "/proc/net/sockstat",
        &[
            "ipv4 sockets",
            "ipv4 TCP sockets",
            "ipv4 TCP memory",
            "ipv4 UDP sockets",
            "ipv4 UDP memory",
            "ipv4 UDPLITE sockets",
            "ipv4 RAW sockets",
            "ipv4 FRAG sockets",
            "ipv4 FRAG memory",
        ],
    ),
    (
        "/proc/net/sockstat6",
        &[
            "ipv6 TCP sockets",
            "ipv6 UDP sockets",
            "ipv6 UDPLITE sockets",
            "ipv6 RAW sockets",
            "ipv6 FRAG sockets",
        ],
    ),
];

/// The simple patterns of the `/proc` modules that choose what they chart,
/// and their other settings backhaul reads, with netdata 1.37's keys and
/// defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcPatterns {
    /// `[plugin:proc:diskspace] exclude space metrics on paths`.
    pub diskspace_excluded_paths: String,
    /// `[plugin:proc:diskspace] exclude space metrics on filesystems`.
    pub diskspace_excluded_filesystems: String,
    /// `[plugin:proc:/proc/diskstats] exclude disks`.
    pub excluded_disks: String,
    /// `[plugin:proc:/proc/net/dev] disable by default interfaces matching`.
    pub disabled_interfaces: String,
    /// `[plugin:proc:/proc/net/sockstat] update constants every` (seconds,
    /// default 60): how often the TCP limits behind the `tcp_max_orphans`
    /// and `tcp_mem_*` variables are read again (once the collections since
    /// the last read add up to more than this).
    pub sockstat_update_constants_every: u32,
    /// `[plugin:proc:/proc/sys/net/netfilter/nf_conntrack_max] read every
    /// seconds` (default 10): how often the `netfilter_conntrack_max`
    /// variable is read again.
    pub conntrack_max_read_every: u32,
}

impl Default for ProcPatterns {
    fn default() -> Self {
        use crate::collectors::proc as modules;
        ProcPatterns {
            diskspace_excluded_paths: modules::EXCLUDED_PATHS.to_string(),
            diskspace_excluded_filesystems: modules::EXCLUDED_FILESYSTEMS.to_string(),
            excluded_disks: modules::EXCLUDED_DISKS.to_string(),
            disabled_interfaces: modules::DISABLED_INTERFACES.to_string(),
            sockstat_update_constants_every: modules::UPDATE_CONSTANTS_EVERY,
            conntrack_max_read_every: modules::CONNTRACK_MAX_READ_EVERY,
        }
    }
}

impl ProcPatterns {
    /// The pattern of `key` in `[plugin:proc:MODULE]`, if it is one.
    fn slot(&mut self, module: &str, key: &str) -> Option<&mut String> {
        match (module, key) {
            ("diskspace", "exclude space metrics on paths") => {
                Some(&mut self.diskspace_excluded_paths)
            }
            ("diskspace", "exclude space metrics on filesystems") => {
                Some(&mut self.diskspace_excluded_filesystems)
            }
            ("/proc/diskstats", "exclude disks") => Some(&mut self.excluded_disks),
            ("/proc/net/dev", "disable by default interfaces matching") => {
                Some(&mut self.disabled_interfaces)
            }
            _ => None,
        }
    }

    /// The number of `key` in `[plugin:proc:MODULE]`, if it is one.
    fn number_slot(&mut self, module: &str, key: &str) -> Option<&mut u32> {
        match (module, key) {
            ("/proc/net/sockstat", "update constants every") => {
                Some(&mut self.sockstat_update_constants_every)
            }
            (CONNTRACK_MAX_MODULE, "read every seconds") => {
                Some(&mut self.conntrack_max_read_every)
            }
            _ => None,
        }
    }
}

/// The section of netdata's `nf_conntrack_max` reader (its one key is
/// `read every seconds`).
const CONNTRACK_MAX_MODULE: &str = "/proc/sys/net/netfilter/nf_conntrack_max";

/// The modules with a pattern or number key and no per-chart switch
/// backhaul reads.
const PROC_PATTERN_ONLY_MODULES: &[&str] = &["diskspace", CONNTRACK_MAX_MODULE];

/// The keys of a disk's own `[plugin:proc:/proc/diskstats:DEV]` section.
pub const PROC_DISK_SWITCHES: &[&str] = &[
    "enable",
    "enable performance metrics",
    "bandwidth",
    "operations",
    "merged operations",
    "i/o time",
    "queued operations",
    "utilization percentage",
    "extended operations",
    "backlog",
];

/// The keys of a network interface's own `[plugin:proc:/proc/net/dev:IFACE]`
/// section: `enabled`, `virtual` (a plain boolean in netdata: `auto` is
/// yes) and one switch per chart.
pub const PROC_INTERFACE_SWITCHES: &[&str] = &crate::collectors::proc::NET_DEV_INTERFACE_KEYS;

/// The module and known keys of a `[plugin:proc:MODULE]` section name; a
/// disk's own section is the module `/proc/diskstats:DEV`, a network
/// interface's `/proc/net/dev:IFACE`.
fn proc_chart_module(section: &str) -> Option<(&str, &'static [&'static str])> {
    let module = section.strip_prefix("plugin:proc:")?;
    let device_sections = [
        ("/proc/diskstats:", PROC_DISK_SWITCHES),
        ("/proc/net/dev:", PROC_INTERFACE_SWITCHES),
    ];
    for (prefix, keys) in device_sections {
        if module
            .strip_prefix(prefix)
            .is_some_and(|device| !device.is_empty())
        {
            return Some((module, keys));
        }
    }
    PROC_CHART_SWITCHES
        .iter()
        .find(|(m, _)| *m == module)
        .copied()
}

/// The per-chart switches of one `[plugin:proc:MODULE]` section. A value
/// that is not yes, no or auto leaves the key at its default, with a
/// warning (netdata's on-demand switches keep their default too); keys
/// backhaul does not read get a "not used" warning.
fn proc_chart_switches(
    section: &IniSection,
    module: &str,
    keys: &[&str],
    warnings: &mut Vec<Warning>,
) -> Vec<(String, String, ChartSwitch)> {
    let mut switches = Vec::new();
    for entry in &section.entries {
        let key = entry.key.as_str();
        if !keys.contains(&key) {
            warnings.push(Warning::about_key(
                &entry.at,
                &section.name,
                key,
                WarningKind::NotUsed,
                "netdata setting not used by backhaul; ignored",
            ));
            continue;
        }
        let switch = match entry.value.to_ascii_lowercase().as_str() {
            "auto" | "on demand" => ChartSwitch::Auto,
            "yes" | "true" | "on" | "1" => ChartSwitch::Yes,
            "no" | "false" | "off" | "0" => ChartSwitch::No,
            _ => {
                warnings.push(Warning::about_key(
                    &entry.at,
                    &section.name,
                    key,
                    WarningKind::Suspicious,
                    format!(
                        "'{}' is not yes, no or auto; the default is kept, as netdata does",
                        entry.value
                    ),
                ));
                continue;
            }
        };
        switches.push((module.to_string(), key.to_string(), switch));
    }
    switches
}

/// The entries of [`PROC_SWITCHES`] that are `[plugins]` switches (internal
/// plugins of their own in netdata), not `[plugin:proc]` keys.
pub const PLUGIN_SWITCHES: &[&str] = &["diskspace", "timex", "idlejitter"];

/// The `/proc` module switches of `[plugin:proc]` that backhaul has a
/// collector for; the section's other settings (modules backhaul does not
/// collect, netdata's tuning knobs) get a "not used" warning each.
fn proc_modules(section: &IniSection, warnings: &mut Vec<Warning>) -> Vec<(String, bool)> {
    let mut modules = Vec::new();
    for entry in &section.entries {
        let key = entry.key.as_str();
        if PLUGIN_SWITCHES.contains(&key) || !PROC_SWITCHES.contains(&key) {
            warnings.push(Warning::about_key(
                &entry.at,
                &section.name,
                key,
                WarningKind::NotUsed,
                "netdata setting not used by backhaul; ignored",
            ));
            continue;
        }
        let enabled = switch_value(section, entry, warnings);
        modules.push((key.to_string(), enabled));
    }
    modules
}

/// `[health]`: `is ephemeral` and `has unstable connection`, booleans
/// (default no). netdata read any value but yes/true/on/auto as no; as for
/// other booleans, backhaul refuses a value it cannot read.
fn health_config(
    section: &IniSection,
    warnings: &mut Vec<Warning>,
) -> Result<HealthConfig, ConfigError> {
    warn_unhandled_settings(section, HEALTH_USED, Some(HEALTH_NOT_USED), &[], warnings);
    let chain = SectionChain::new([Some(section)]);
    Ok(HealthConfig {
        is_ephemeral: chain.parsed_or("is ephemeral", false, parse_bool)?,
        has_unstable_connection: chain.parsed_or("has unstable connection", false, parse_bool)?,
    })
}

fn web_config(
    section: Option<&IniSection>,
    global: Option<&IniSection>,
    warnings: &mut Vec<Warning>,
) -> Result<WebConfig, ConfigError> {
    if let Some(section) = section {
        warn_unhandled_settings(section, WEB_USED, Some(WEB_NOT_USED), &[], warnings);
    }
    // `[web] key`, else its older `[global]` spelling (the first that is set).
    let find = |key: &str| {
        let in_web = section.and_then(|s| s.get(key).map(|entry| (s, entry)));
        in_web.or_else(|| {
            GLOBAL_WEB_ALIASES
                .iter()
                .filter(|(_, new)| *new == key)
                .find_map(|(old, _)| global.and_then(|g| g.get(old).map(|entry| (g, entry))))
        })
    };
    let parsed = |key: &str,
                  parse: &dyn Fn(&str) -> Result<_, String>|
     -> Result<Option<u64>, ConfigError> {
        match find(key) {
            None => Ok(None),
            Some((section, entry)) => parse(&entry.value)
                .map(Some)
                .map_err(|reason| invalid_value(section, entry, reason)),
        }
    };
    let defaults = MainConfig::with_hostname(String::new()).web;

    let mode = match find("mode") {
        None => defaults.mode.clone(),
        Some((section, entry)) => {
            let mode = parse_non_empty(&entry.value)
                .map_err(|reason| invalid_value(section, entry, reason))?;
            let known = [
                "none",
                "static-threaded",
                "single-threaded",
                "multi-threaded",
            ];
            if !known.iter().any(|k| mode.eq_ignore_ascii_case(k)) {
                warnings.push(Warning::about_key(
                    &entry.at,
                    &section.name,
                    &entry.key,
                    WarningKind::Suspicious,
                    format!(
                        "'{mode}' is not a web server mode; the server runs, as netdata's does"
                    ),
                ));
            }
            mode
        }
    };
    let default_port = match parsed("default port", &|value| {
        parse_port(value, PORT_REASON).map(u64::from)
    })? {
        None => defaults.default_port,
        // parse_port bounds it to 1..=65535.
        Some(port) => u16::try_from(port).unwrap_or(defaults.default_port),
    };
    let (bind_to, bind) = match find("bind to") {
        None => (
            defaults.bind_to.clone(),
            vec![BindAddress {
                host: DEFAULT_BIND_TO.to_string(),
                port: default_port,
            }],
        ),
        Some((section, entry)) => {
            let (bind, ignored) = parse_bind_to(&entry.value, default_port)
                .map_err(|reason| invalid_value(section, entry, reason))?;
            for message in ignored {
                warnings.push(Warning::about_key(
                    &entry.at,
                    &section.name,
                    &entry.key,
                    WarningKind::Suspicious,
                    message,
                ));
            }
            if bind.is_empty() {
                return Err(invalid_value(
                    section,
                    entry,
                    "names no TCP address to listen on".to_string(),
                ));
            }
            (entry.value.clone(), bind)
        }
    };
    let count = |key: &str, minimum: u64| -> Result<Option<usize>, ConfigError> {
        let reason = format!("must be a whole number >= {minimum}");
        Ok(
            parsed(key, &|value| parse_whole_number(value, minimum, &reason))?
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        )
    };
    let seconds = |key: &str, default: u32| -> Result<u32, ConfigError> {
        Ok(parsed(key, &|value| {
            parse_u32(value, 0, "must be a whole number of seconds (0: never)").map(u64::from)
        })?
        .map_or(default, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    };
    let path = |key: &str| -> Result<Option<PathBuf>, ConfigError> {
        match find(key) {
            None => Ok(None),
            Some((section, entry)) => parse_non_empty(&entry.value)
                .map(|p| Some(PathBuf::from(p)))
                .map_err(|reason| invalid_value(section, entry, reason)),
        }
    };
    let pattern =
        |key: &str, default: &str| find(key).map_or(default.to_string(), |(_, e)| e.value.clone());
    let gzip = match find("enable gzip compression") {
        None => defaults.gzip,
        Some((section, entry)) => {
            parse_bool(&entry.value).map_err(|reason| invalid_value(section, entry, reason))?
        }
    };
    let gzip_level = parsed("gzip compression level", &|value| {
        parse_whole_number(value, 1, GZIP_LEVEL_REASON).and_then(|n| {
            if n <= 9 {
                Ok(n)
            } else {
                Err(GZIP_LEVEL_REASON.to_string())
            }
        })
    })?
    .map_or(defaults.gzip_level, |n| u32::try_from(n).unwrap_or(9));
    let access = WebAccess::default();
    let config = WebConfig {
        bind_to,
        bind,
        mode,
        default_port,
        threads: count("web server threads", 1)?,
        max_sockets: count("web server max sockets", 1)?,
        idle_timeout_secs: seconds(
            "disconnect idle clients after seconds",
            defaults.idle_timeout_secs,
        )?,
        first_request_timeout_secs: seconds(
            "timeout for first request",
            defaults.first_request_timeout_secs,
        )?,
        gzip,
        gzip_level,
        ssl_key: path("ssl key")?,
        ssl_certificate: path("ssl certificate")?,
        access: WebAccess {
            connections: pattern("allow connections from", &access.connections),
            dashboard: pattern("allow dashboard from", &access.dashboard),
            badges: pattern("allow badges from", &access.badges),
            streaming: pattern("allow streaming from", &access.streaming),
            netdata_conf: pattern("allow netdata.conf from", &access.netdata_conf),
            management: pattern("allow management from", &access.management),
        },
        stream_accept_every_secs: seconds("accept a streaming request every seconds", 0)?,
        other: section
            .map(|section| {
                section
                    .entries
                    .iter()
                    .filter(|entry| !WEB_USED.contains(&entry.key.as_str()))
                    .map(|entry| (entry.key.clone(), entry.value.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    match (find("ssl key"), find("ssl certificate")) {
        (Some((section, entry)), None) | (None, Some((section, entry))) => {
            return Err(invalid_value(
                section,
                entry,
                "'ssl key' and 'ssl certificate' go together: set both for HTTPS, or neither"
                    .to_string(),
            ));
        }
        _ => {}
    }
    Ok(config)
}

const PORT_REASON: &str = "must be a port number from 1 to 65535";
const GZIP_LEVEL_REASON: &str = "must be a whole number from 1 to 9";

/// Parses a `bind to` value: entries separated by blanks or commas, each
/// `[tcp:]HOST[:PORT][=ACL...]` with `HOST` an IPv4 address, `[IPv6]`, a
/// name, or `*`; a missing port is `default_port`. Returns the addresses
/// and a message for each part backhaul ignores (`unix:` sockets, the
/// per-port `=dashboard|...^SSL=...` options).
pub fn parse_bind_to(
    value: &str,
    default_port: u16,
) -> Result<(Vec<BindAddress>, Vec<String>), String> {
    let mut bind = Vec::new();
    let mut ignored = Vec::new();
    for entry in value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|e| !e.is_empty())
    {
        let (address, options) = match entry.split_once('=') {
            Some((address, options)) => (address, Some(options)),
            None => (entry, None),
        };
        if let Some(options) = options {
            ignored.push(format!(
                "'={options}' of '{entry}': per-port access lists and SSL options are not \
                 supported; the [web] 'allow ... from' lists apply to every port"
            ));
        }
        if address.starts_with("unix:") {
            ignored.push(format!(
                "'{entry}': unix sockets are not supported; ignored"
            ));
            continue;
        }
        if address.starts_with("udp:") {
            return Err(format!("'{entry}': the web server listens on TCP only"));
        }
        let address = address.strip_prefix("tcp:").unwrap_or(address);
        let (host, port) = if let Some(rest) = address.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("'{entry}': '[' without its ']'"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(format!("'{entry}': expected ':PORT' after ']'")),
                },
            }
        } else {
            match address.matches(':').count() {
                0 => (address, None),
                1 => match address.split_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (address, None),
                },
                // A bare IPv6 address.
                _ => (address, None),
            }
        };
        if host.is_empty() {
            return Err(format!("'{entry}': no address"));
        }
        let port = match port {
            None => default_port,
            Some(port) => {
                if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!(
                        "'{entry}': the port must be a number from 0 to 65535 (service names \
                         are not looked up)"
                    ));
                }
                port.parse::<u16>()
                    .map_err(|_| format!("'{entry}': the port must be a number from 0 to 65535"))?
            }
        };
        bind.push(BindAddress {
            host: host.to_string(),
            port,
        });
    }
    Ok((bind, ignored))
}

/// The legacy `[backend]` section, read as the 2017 backends code did:
/// defaults `enabled = no`, `type = graphite`, `destination = localhost`,
/// `data source = average`, `prefix = netdata`, `hostname` = the global
/// one, `update every = 10`, `buffer on failures = 10`, `timeout ms` =
/// `update every` × 2000, plus the later `send names instead of ids = yes`,
/// `send charts matching = *`, `send hosts matching = localhost *` and
/// `host tags` (empty).
///
/// `timeout ms` below 1 falls back to `update every` × 2000 with a warning,
/// as the backends code did (exporting.conf rejects it instead). Labels are
/// not sent: `send configured labels` and `send automatic labels` are no.
fn legacy_backend(
    section: &IniSection,
    main: &MainConfig,
    warnings: &mut Vec<Warning>,
) -> Result<InstanceConfig, ConfigError> {
    warn_unhandled_settings(section, BACKEND_USED, Some(&[]), &[], warnings);
    let chain = SectionChain::new([Some(section)]);
    let connector = chain.parsed_or("type", ConnectorType::Graphite, |value| {
        ConnectorType::from_name(value).ok_or_else(|| {
            format!(
                "unknown connector type (known types: {})",
                ConnectorType::ALL.map(|c| c.as_str()).join(", ")
            )
        })
    })?;
    let destination_text = chain.text_or("destination", connector.default_destination());
    let destinations = match chain.find("destination") {
        Some((section, entry)) => parse_destination_value(&entry.value, connector)
            .map_err(|reason| invalid_value(section, entry, reason))?,
        None => {
            parse_destination_value(connector.default_destination(), connector).unwrap_or_default()
        }
    };
    let enabled = chain.parsed_or("enabled", false, parse_bool)?;
    if enabled && destinations.is_empty() && connector.takes_host_list() {
        return Err(ConfigError::MissingSetting {
            at: Box::new(section.at.clone()),
            section: section.name.clone(),
            key: "destination".to_string(),
            reason: "prometheus remote write has no default port (netdata had no usable \
                     one either): write HOST:PORT, e.g. 127.0.0.1:9090 for a Prometheus server"
                .to_string(),
        });
    }
    let update_every = chain.parsed_or("update every", 10, |value| {
        parse_u32(value, 1, SECONDS_REASON)
    })?;
    let fallback_timeout_ms = u64::from(update_every) * 2000;
    let timeout_ms = match chain.find("timeout ms") {
        None => fallback_timeout_ms,
        Some((section, entry)) => {
            let as_number = entry.value.parse::<i64>().map_err(|_| {
                invalid_value(
                    section,
                    entry,
                    "must be a whole number of milliseconds".to_string(),
                )
            })?;
            match u64::try_from(as_number) {
                Ok(timeout_ms) if timeout_ms >= 1 => timeout_ms,
                _ => {
                    warnings.push(Warning::about_key(
                        &entry.at,
                        &section.name,
                        &entry.key,
                        WarningKind::Suspicious,
                        format!(
                            "'{}' is below 1 ms; using {fallback_timeout_ms} ms \
                             ('update every' x 2000), as netdata's backends did",
                            entry.value
                        ),
                    ));
                    fallback_timeout_ms
                }
            }
        }
    };
    Ok(InstanceConfig {
        name: BACKEND_SECTION.to_string(),
        connector,
        enabled,
        destinations,
        destination_text,
        data_source: chain.parsed_or("data source", DataSource::Average, DataSource::parse)?,
        prefix: chain.text_or("prefix", "netdata"),
        hostname: chain.parsed_or("hostname", main.hostname.clone(), parse_non_empty)?,
        update_every,
        buffer_on_failures: chain.parsed_or("buffer on failures", 10, parse_count)?,
        buffer_on_failures_max_bytes: super::exporting::DEFAULT_BUFFER_ON_FAILURES_MAX_BYTES,
        replay_windows_per_second: super::exporting::DEFAULT_REPLAY_WINDOWS_PER_SECOND,
        spool_directory: super::exporting::spool_directory(None, main),
        spool_max_bytes: super::exporting::DEFAULT_SPOOL_MAX_BYTES,
        spool_every_secs: super::exporting::DEFAULT_SPOOL_EVERY_SECS,
        timeout_ms,
        send_names_instead_of_ids: chain.parsed_or(
            "send names instead of ids",
            true,
            parse_bool,
        )?,
        send_charts_matching: chain.text_or("send charts matching", "*"),
        send_hosts_matching: chain.text_or("send hosts matching", "localhost *"),
        send_configured_labels: false,
        send_automatic_labels: false,
        send_variables: false,
        host_tags: chain.text_or("host tags", ""),
        remote_write_url_path: None,
        username: None,
        password: None,
        extras: ConnectorExtras::None,
        http: super::instance::HttpOptions::default(),
        tls: super::instance::TlsOptions::default(),
        check_primary_destination_every: super::exporting::DEFAULT_CHECK_PRIMARY_EVERY,
        legacy: true,
        source: section.at.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_hostname_is_not_empty() {
        assert!(!system_hostname().is_empty());
    }

    #[test]
    fn proc_chart_switches_are_read_per_module() {
        let text = "[plugin:proc:/proc/meminfo]\n\tsystem swap = yes\n\thugepages = no\n\t\
                    transparent hugepages = auto\n\tkernel memory = maybe\n\t\
                    filename to monitor = /x\n[plugin:proc:/proc/net/rpc/nfsd]\n\tfilename to monitor = /y\n";
        let mut warnings = Vec::new();
        let document = super::super::ini::parse(text, "netdata.conf", &mut warnings).unwrap();
        let config = main_from_document(&document, &mut warnings).unwrap();
        assert_eq!(
            config.proc_chart_switch("/proc/meminfo", "system swap"),
            Some(ChartSwitch::Yes)
        );
        assert_eq!(
            config.proc_chart_switch("/proc/meminfo", "hugepages"),
            Some(ChartSwitch::No)
        );
        assert_eq!(
            config.proc_chart_switch("/proc/meminfo", "transparent hugepages"),
            Some(ChartSwitch::Auto)
        );
        // Not yes, no or auto: warned, and the module's default stays.
        assert_eq!(
            config.proc_chart_switch("/proc/meminfo", "kernel memory"),
            None
        );
        assert_eq!(
            config.proc_chart_switch("/proc/meminfo", "slab memory"),
            None
        );
        let about: Vec<(Option<String>, WarningKind)> =
            warnings.iter().map(|w| (w.key.clone(), w.kind)).collect();
        assert!(about.contains(&(Some("kernel memory".to_string()), WarningKind::Suspicious)));
        assert!(about.contains(&(
            Some("filename to monitor".to_string()),
            WarningKind::NotUsed
        )));
        // A module backhaul has no per-chart switches for: the whole section.
        assert!(about.contains(&(None, WarningKind::NotUsed)));
    }

    fn parsed_main(text: &str) -> (MainConfig, Vec<Warning>) {
        let mut warnings = Vec::new();
        let document = super::super::ini::parse(text, "netdata.conf", &mut warnings).unwrap();
        let config = main_from_document(&document, &mut warnings).unwrap();
        (config, warnings)
    }

    /// The warnings as (key, kind), in file order.
    fn warned_keys(warnings: &[Warning]) -> Vec<(String, WarningKind)> {
        warnings
            .iter()
            .map(|w| (w.key.clone().unwrap_or_default(), w.kind))
            .collect()
    }

    #[test]
    fn proc_net_chart_switches_are_read_per_section() {
        let (config, warnings) = parsed_main(
            "[plugin:proc:/proc/net/netstat]\n\tECN packets = no\n\tTCP SYN queue = yes\n\t\
             filename to monitor = /x\n\
             [plugin:proc:/proc/net/snmp]\n\tipv4 packets = no\n\tipv4 UDPLite packets = yes\n\
             [plugin:proc:/proc/net/snmp6]\n\tipv6 UDPlite errors = auto\n\tect = no\n\
             [plugin:proc:/proc/net/sockstat]\n\tipv4 TCP memory = no\n\t\
             update constants every = 30\n\
             [plugin:proc:/proc/net/sockstat6]\n\tipv6 RAW sockets = yes\n\tipv6 bogus = no\n\
             [plugin:proc:/proc/net/dev]\n\tdisable by default interfaces matching = eth9\n\t\
             enable new interfaces detected at runtime = no\n\t\
             frames, collisions, carrier counters for all interfaces = yes\n\t\
             mtu for all interfaces = sometimes\n\tpath to get net device mtu = /x\n",
        );
        let expected = [
            ("/proc/net/netstat", "ECN packets", ChartSwitch::No),
            ("/proc/net/netstat", "TCP SYN queue", ChartSwitch::Yes),
            ("/proc/net/snmp", "ipv4 packets", ChartSwitch::No),
            ("/proc/net/snmp", "ipv4 UDPLite packets", ChartSwitch::Yes),
            ("/proc/net/snmp6", "ipv6 UDPlite errors", ChartSwitch::Auto),
            ("/proc/net/snmp6", "ect", ChartSwitch::No),
            ("/proc/net/sockstat", "ipv4 TCP memory", ChartSwitch::No),
            ("/proc/net/sockstat6", "ipv6 RAW sockets", ChartSwitch::Yes),
            (
                "/proc/net/dev",
                "enable new interfaces detected at runtime",
                ChartSwitch::No,
            ),
            (
                "/proc/net/dev",
                "frames, collisions, carrier counters for all interfaces",
                ChartSwitch::Yes,
            ),
        ];
        for (module, key, switch) in expected {
            assert_eq!(
                config.proc_chart_switch(module, key),
                Some(switch),
                "{module} {key}"
            );
        }
        assert_eq!(config.proc_chart_switch("/proc/net/snmp", "ect"), None);
        // Not yes, no or auto: a warning, and the default stays.
        assert_eq!(
            config.proc_chart_switch("/proc/net/dev", "mtu for all interfaces"),
            None
        );
        assert_eq!(config.proc_patterns.disabled_interfaces, "eth9");
        assert_eq!(config.proc_patterns.sockstat_update_constants_every, 30);
        assert_eq!(
            warned_keys(&warnings),
            [
                ("filename to monitor".to_string(), WarningKind::NotUsed),
                ("ipv6 bogus".to_string(), WarningKind::NotUsed),
                (
                    "mtu for all interfaces".to_string(),
                    WarningKind::Suspicious
                ),
                (
                    "path to get net device mtu".to_string(),
                    WarningKind::NotUsed
                ),
            ]
        );
    }

    #[test]
    fn interface_sections_are_read() {
        let (config, warnings) = parsed_main(
            "[plugin:proc:/proc/net/dev:lo]\n\tenabled = yes\n\tvirtual = no\n\t\
             errors = no\n\tmtu = auto\n\tbandwidth = never\n\tcolors = yes\n\
             [plugin:proc:/proc/net/dev:eth0]\n\tpackets = yes\n\
             [plugin:proc:/proc/net/dev:]\n\tenabled = yes\n",
        );
        let lo = |key: &str| config.proc_interface_switch("lo", key);
        assert_eq!(lo("enabled"), Some(ChartSwitch::Yes));
        assert_eq!(lo("virtual"), Some(ChartSwitch::No));
        assert_eq!(lo("errors"), Some(ChartSwitch::No));
        assert_eq!(lo("mtu"), Some(ChartSwitch::Auto));
        assert_eq!(lo("bandwidth"), None, "'never' leaves the default");
        assert_eq!(lo("packets"), None);
        assert_eq!(
            config.proc_interface_switch("eth0", "packets"),
            Some(ChartSwitch::Yes)
        );
        assert_eq!(config.proc_interface_switch("eth1", "packets"), None);
        // An interface's section is not a disk's, nor the module's.
        assert_eq!(config.proc_disk_switch("lo", "enabled"), None);
        assert_eq!(config.proc_chart_switch("/proc/net/dev", "errors"), None);
        assert_eq!(
            warned_keys(&warnings),
            [
                // A section without an interface name: not read at all.
                (String::new(), WarningKind::NotUsed),
                ("bandwidth".to_string(), WarningKind::Suspicious),
                ("colors".to_string(), WarningKind::NotUsed),
            ]
        );
    }

    #[test]
    fn proc_modules_switch_single_collectors() {
        let text = "[plugin:proc]\n\t/proc/net/dev = no\n\t/proc/net/snmp = no\n\t/proc/stat = yes\n\t/proc/diskstats = maybe\n";
        let mut warnings = Vec::new();
        let document = super::super::ini::parse(text, "netdata.conf", &mut warnings).unwrap();
        let config = main_from_document(&document, &mut warnings).unwrap();
        assert!(!config.proc_module_enabled("/proc/net/dev"));
        assert!(config.proc_module_enabled("/proc/stat"));
        assert!(config.proc_module_enabled("/proc/meminfo"));
        assert!(!config.proc_module_enabled("/proc/diskstats"));
        let about: Vec<(String, WarningKind)> = warnings
            .iter()
            .map(|w| (w.key.clone().unwrap_or_default(), w.kind))
            .collect();
        assert!(about.contains(&("/proc/net/snmp".to_string(), WarningKind::NotUsed)));
        assert!(about.contains(&("/proc/diskstats".to_string(), WarningKind::Suspicious)));
        assert!(!about
            .iter()
            .any(|(k, _)| k == "/proc/net/dev" || k == "/proc/stat"));
        assert!(
            warnings.iter().all(|w| w.key.is_some()),
            "no whole-section warning"
        );
    }

    fn web_of(text: &str) -> (Result<WebConfig, ConfigError>, Vec<Warning>) {
        let mut warnings = Vec::new();
        let document = super::super::ini::parse(text, "netdata.conf", &mut warnings).unwrap();
        let config = main_from_document(&document, &mut warnings).map(|c| c.web);
        (config, warnings)
    }

    fn bind_of(text: &str) -> Vec<String> {
        let web = web_of(text).0.expect("valid");
        web.bind.iter().map(|b| b.to_string()).collect()
    }

    #[test]
    fn web_defaults_are_loopback_on_19999_and_follow_default_port() {
        assert_eq!(bind_of(""), ["127.0.0.1:19999"]);
        assert_eq!(
            bind_of("[web]\n    default port = 20000\n"),
            ["127.0.0.1:20000"]
        );
        let web = web_of("").0.unwrap();
        assert!(web.enabled());
        assert_eq!(web.access.connections, "localhost *");
        assert_eq!(web.access.management, "localhost");
        assert!(web.gzip);
        assert_eq!(web.gzip_level, 3);
        assert_eq!(
            (web.idle_timeout_secs, web.first_request_timeout_secs),
            (60, 60)
        );
        assert!(!web_of("[web]\n    mode = none\n").0.unwrap().enabled());
        assert!(!web_of("[web]\n    mode = NONE\n").0.unwrap().enabled());
    }

    #[test]
    fn debian_global_bind_socket_to_ip_is_honoured_and_web_wins() {
        assert_eq!(
            bind_of("[global]\n    bind socket to IP = 127.0.0.1\n    port = 18000\n"),
            ["127.0.0.1:18000"]
        );
        assert_eq!(
            bind_of("[global]\n    bind socket to IP = 10.0.0.1\n    default port = 1\n[web]\n    bind to = 127.0.0.2\n    default port = 2\n"),
            ["127.0.0.2:2"]
        );
        let (web, warnings) = web_of("[global]\n    bind socket to IP = 127.0.0.1\n    enable web responses gzip compression = no\n    web compression level = 9\n    disconnect idle web clients after seconds = 5\n");
        let web = web.unwrap();
        assert!(!web.gzip);
        assert_eq!(web.gzip_level, 9);
        assert_eq!(web.idle_timeout_secs, 5);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn bind_to_entries() {
        assert_eq!(
            bind_of("[web]\n    bind to = * [::1]:8080 tcp:localhost:0,10.1.1.1 ::1\n"),
            [
                "*:19999",
                "[::1]:8080",
                "localhost:0",
                "10.1.1.1:19999",
                "[::1]:19999"
            ]
        );
        let (web, warnings) =
            web_of("[web]\n    bind to = 127.0.0.1=dashboard^SSL=optional unix:/tmp/n.sock\n");
        assert_eq!(
            web.unwrap()
                .bind
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>(),
            ["127.0.0.1:19999"]
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        for bad in [
            "udp:1.2.3.4",
            "*:http",
            "[::1",
            "[::1]x",
            "a:99999",
            "unix:/x",
        ] {
            let text = format!("[web]\n    bind to = {bad}\n");
            assert!(web_of(&text).0.is_err(), "{bad}");
        }
    }

    #[test]
    fn web_values_are_checked() {
        for bad in [
            "gzip compression level = 0",
            "gzip compression level = 10",
            "enable gzip compression = maybe",
            "web server threads = 0",
            "web server max sockets = x",
            "timeout for first request = -1",
            "default port = 0",
            "default port = 65536",
            "default port = 99999999999",
            "ssl key = /k.pem",
        ] {
            let text = format!("[web]\n    {bad}\n");
            assert!(web_of(&text).0.is_err(), "{bad}");
        }
        // netdata's old name in [global] is checked the same way.
        let error = web_of("[global]\n    port = 70000\n")
            .0
            .unwrap_err()
            .to_string();
        assert!(error.contains("1 to 65535"), "{error}");
        assert_eq!(
            web_of("[web]\n    default port = 65535\n")
                .0
                .unwrap()
                .default_port,
            65535
        );
        let web = web_of("[web]\n    ssl key = /k\n    ssl certificate = /c\n    web server threads = 3\n    web server max sockets = 7\n    allow dashboard from = 10.*\n")
            .0
            .unwrap();
        assert_eq!(web.ssl_key.as_deref(), Some(std::path::Path::new("/k")));
        assert_eq!((web.threads, web.max_sockets), (Some(3), Some(7)));
        assert_eq!(web.access.dashboard, "10.*");
    }

    #[test]
    fn unknown_web_keys_still_warn() {
        let (web, warnings) =
            web_of("[web]\n    made up = 1\n    allow badges by dns = no\n    mode = fancy\n");
        assert_eq!(web.unwrap().other.len(), 2);
        let kinds: Vec<WarningKind> = warnings.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [
                WarningKind::Unknown,
                WarningKind::NotUsed,
                WarningKind::Suspicious
            ]
        );
    }

    #[test]
    fn plugin_enabled_follows_netdata() {
        let mut config = MainConfig::with_hostname("h".to_string());
        assert!(config.plugin_enabled("proc"));
        assert!(!config.plugin_enabled("slabinfo"));
        assert!(config.plugin_enabled("apps"));
        config.plugins.enable_running_new_plugins = false;
        assert!(!config.plugin_enabled("apps"));
        assert!(config.plugin_enabled("proc"));
        config.plugins.explicit.push(("apps".to_string(), true));
        config.plugins.explicit.push(("proc".to_string(), false));
        assert!(config.plugin_enabled("apps"));
        assert!(!config.plugin_enabled("proc"));
    }
}
