//! The plugins.d runner: finds netdata's external plugins, runs them
//! unmodified, and stores what they print.
//!
//! | file | owns |
//! | --- | --- |
//! | `mod.rs` | [`PluginsdSettings`] (from netdata.conf), discovery ([`discover`]), and the runner thread ([`start`], [`PluginsdRunner`]) |
//! | [`supervisor`] | one plugin's thread: run, read, restart policy, [`PluginStatus`] |
//! | [`process`] | spawning, stderr logging, stopping and reaping a plugin process |
//! | [`ingest`] | plugins.d commands → the store, with per-plugin caches and limits |
//! | `dimension_ids.rs` | a cached chart's dimension ids laid out for the `SET` path |
//!
//! Repeated log messages (a plugin's stderr, its bad lines) are rate-limited
//! per plugin and kind by [`crate::log_limit::LogLimiter`].
//!
//! # Threads
//!
//! `plugins.d` scans the plugin directories at start and then every
//! `[plugins] check for new plugins every` seconds; each plugin found runs
//! on its own thread `plg:NAME` (reading its stdout: one plugin can never
//! delay another or a collector), with a small `plgerr:NAME` thread logging
//! its stderr. On shutdown every plugin is stopped (`SIGTERM`, up to
//! [`PluginsdSettings::shutdown_grace`], `SIGKILL`), reaped, and every thread
//! joined; [`PluginsdRunner::join`] returns when all of that is done.
//!
//! # Discovery
//!
//! As netdata: in each directory of `[directories] plugins`, in order, every
//! file named `NAME.plugin` (with a non-empty `NAME`) that is executable;
//! the first directory holding a name wins; a plugin runs when
//! [`MainConfig::plugin_enabled`] says so (`[plugins] NAME = yes|no`, else
//! `enable running new plugins`). A plugin is started at most once per
//! agent run: one that was disabled (see [`supervisor`]) stays so until the
//! agent restarts.
//!
//! # Settings read from netdata.conf
//!
//! * `[plugins] plugins.d = yes|no` — backhaul's switch for the whole
//!   runner (netdata 1.37 has none; default yes). It lives among the
//!   per-plugin switches, so it is read from [`PluginsConfig::explicit`].
//! * `[plugins] enable running new plugins`, `NAME = yes|no`, `check for
//!   new plugins every`; `[directories] plugins`; `[db]`/`[global] update
//!   every` (each plugin's only argument and `NETDATA_UPDATE_EVERY`); the
//!   directories, host name, `debug flags` and `[web] default port` for the
//!   plugins' environment (see [`plugin_environment`]).
//!
//! netdata's `[plugin:NAME] update every` and `command options` are not
//! read (the configuration layer does not expose `[plugin:NAME]` sections
//! yet); the limits ([`IngestLimits`]), the shutdown grace and the restart
//! knobs are [`PluginsdSettings`] fields with the defaults documented
//! there.
//!
//! [`MainConfig::plugin_enabled`]: crate::config::MainConfig::plugin_enabled
//! [`PluginsConfig::explicit`]: crate::config::PluginsConfig::explicit

mod dimension_ids;
pub mod ingest;
pub mod process;
pub mod supervisor;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use parking_lot::Mutex;
use rrd::Host;

use crate::config::MainConfig;
use crate::shutdown::Shutdown;
pub use ingest::{Flow, Ingest, IngestCounters, IngestLimits, IngestSettings};
pub use supervisor::{PluginState, PluginStatus, RestartPolicy, RestartSettings};

/// The file name suffix of a plugin.
pub const PLUGIN_SUFFIX: &str = ".plugin";

/// The `[plugins]` key that turns the whole runner on or off.
pub const RUNNER_SWITCH: &str = "plugins.d";

/// Which plugins run: a plugin's name → whether it is enabled.
pub type PluginFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Everything the runner needs to know.
#[derive(Clone)]
pub struct PluginsdSettings {
    /// Whether the runner runs at all (`[plugins] plugins.d`, default yes).
    pub enabled: bool,
    /// Where to look for plugins, in order (`[directories] plugins`).
    pub directories: Vec<PathBuf>,
    /// Which plugins run (`[plugins]`).
    pub filter: PluginFilter,
    /// Seconds between collections: each plugin's argument.
    pub update_every: u32,
    /// How often the directories are scanned again for new plugins
    /// (`[plugins] check for new plugins every`, default 60 s).
    pub rescan_every: Duration,
    /// Environment variables set for plugins on top of the agent's own.
    pub env: Vec<(String, OsString)>,
    /// What one plugin may create.
    pub limits: IngestLimits,
    /// Longest stdout line, in bytes (default 16 KiB, above netdata's
    /// 15 KiB); longer lines are dropped and counted.
    pub max_line_len: usize,
    /// How long a plugin has to exit after `SIGTERM` before `SIGKILL`
    /// (default 3 s).
    pub shutdown_grace: Duration,
    /// Restart backoff knobs.
    pub restart: RestartSettings,
    /// stderr lines logged at once per plugin (`[logs] errors to trigger
    /// flood protection`, default 200)...
    pub stderr_burst: u32,
    /// ...then one more every this long (`errors flood protection period`
    /// divided by that number: 6 s by default; zero: no limit). What is
    /// left out is counted in a line logged at least once a minute.
    pub stderr_refill: Duration,
}

impl fmt::Debug for PluginsdSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginsdSettings")
            .field("enabled", &self.enabled)
            .field("directories", &self.directories)
            .field("update_every", &self.update_every)
            .field("rescan_every", &self.rescan_every)
            .field("env", &self.env)
            .field("limits", &self.limits)
            .field("max_line_len", &self.max_line_len)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("restart", &self.restart)
            .field("stderr_burst", &self.stderr_burst)
            .field("stderr_refill", &self.stderr_refill)
            .finish_non_exhaustive()
    }
}

impl PluginsdSettings {
    /// The settings netdata.conf gives (see the [module docs](self)), with
    /// the built-in defaults for the rest.
    pub fn from_main(main: &MainConfig) -> PluginsdSettings {
        let enabled = main
            .plugins
            .explicit
            .iter()
            .find(|(name, _)| name == RUNNER_SWITCH)
            .is_none_or(|(_, enabled)| *enabled);
        let config = main.clone();
        PluginsdSettings {
            enabled,
            directories: main.directories.plugins.clone(),
            filter: Arc::new(move |name| config.plugin_enabled(name)),
            update_every: main.update_every.max(1),
            rescan_every: Duration::from_secs(u64::from(
                main.plugins.check_for_new_plugins_every.max(1),
            )),
            env: plugin_environment(main),
            limits: IngestLimits {
                max_charts: main.plugins.max_charts_per_plugin,
                max_dimensions_per_chart: main.plugins.max_dimensions_per_chart,
                max_dimensions: main.plugins.max_dimensions_per_plugin,
                ..IngestLimits::default()
            },
            max_line_len: main.plugins.max_line_length,
            shutdown_grace: Duration::from_secs(3),
            restart: RestartSettings::default(),
            stderr_burst: main.logs.flood_budget().0,
            stderr_refill: main.logs.flood_budget().1,
        }
    }
}

/// The environment netdata 1.37 gives its plugins, from the configuration:
/// `NETDATA_UPDATE_EVERY`, `NETDATA_HOSTNAME`, `NETDATA_USER_CONFIG_DIR`
/// (and its old name `NETDATA_CONFIG_DIR`), `NETDATA_STOCK_CONFIG_DIR`,
/// `NETDATA_PLUGINS_DIR` (the first plugins directory),
/// `NETDATA_USER_PLUGINS_DIRS` (the others, space separated),
/// `NETDATA_WEB_DIR`, `NETDATA_CACHE_DIR`, `NETDATA_LIB_DIR`,
/// `NETDATA_LOCK_DIR` (`LIB/lock`), `NETDATA_LOG_DIR`, `HOME` (`[directories]
/// home`), `NETDATA_HOST_PREFIX` (empty), `NETDATA_DEBUG_FLAGS`,
/// `NETDATA_LISTEN_PORT`, netdata's log flood defaults
/// (`NETDATA_ERRORS_THROTTLE_PERIOD=1200`, `NETDATA_ERRORS_PER_PERIOD=200`),
/// `PATH` with the sbin directories appended, and `PYTHONUNBUFFERED=1`.
pub fn plugin_environment(main: &MainConfig) -> Vec<(String, OsString)> {
    let dirs = &main.directories;
    let path_var = |path: &Path| path.as_os_str().to_os_string();
    let first_plugins_dir = dirs
        .plugins
        .first()
        .map(|dir| path_var(dir))
        .unwrap_or_default();
    let mut user_plugins_dirs = OsString::new();
    for (i, dir) in dirs.plugins.iter().skip(1).enumerate() {
        if i > 0 {
            user_plugins_dirs.push(" ");
        }
        user_plugins_dirs.push(dir.as_os_str());
    }
    let mut path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
    path.push(":/sbin:/usr/sbin:/usr/local/bin:/usr/local/sbin");
    let debug_flags = main
        .debug_flags
        .clone()
        .unwrap_or_else(|| "0x0000000000000000".to_string());
    let text = |key: &str, value: String| (key.to_string(), OsString::from(value));
    let dir = |key: &str, value: &Path| (key.to_string(), path_var(value));
    vec![
        text("NETDATA_UPDATE_EVERY", main.update_every.max(1).to_string()),
        text("NETDATA_HOSTNAME", main.hostname.clone()),
        dir("NETDATA_USER_CONFIG_DIR", &dirs.config),
        dir("NETDATA_CONFIG_DIR", &dirs.config),
        dir("NETDATA_STOCK_CONFIG_DIR", &dirs.stock_config),
        ("NETDATA_PLUGINS_DIR".to_string(), first_plugins_dir),
        ("NETDATA_USER_PLUGINS_DIRS".to_string(), user_plugins_dirs),
        dir("NETDATA_WEB_DIR", &dirs.web),
        dir("NETDATA_CACHE_DIR", &dirs.cache),
        dir("NETDATA_LIB_DIR", &dirs.lib),
        dir("NETDATA_LOCK_DIR", &dirs.lib.join("lock")),
        dir("NETDATA_LOG_DIR", &dirs.log),
        dir("HOME", &dirs.home),
        text("NETDATA_HOST_PREFIX", String::new()),
        text("NETDATA_DEBUG_FLAGS", debug_flags),
        text("NETDATA_LISTEN_PORT", main.web.default_port.to_string()),
        text("NETDATA_ERRORS_THROTTLE_PERIOD", "1200".to_string()),
        text("NETDATA_ERRORS_PER_PERIOD", "200".to_string()),
        ("PATH".to_string(), path),
        text("PYTHONUNBUFFERED", "1".to_string()),
    ]
}

/// A plugin found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The file name without `.plugin`.
    pub name: String,
    /// The executable's path.
    pub path: PathBuf,
}

impl Discovered {
    /// `NAME.plugin`.
    pub fn file_name(&self) -> String {
        format!("{}{PLUGIN_SUFFIX}", self.name)
    }
}

/// Remembers which directory problems were already logged, so a missing
/// directory is reported once, not at every scan.
#[derive(Debug, Default)]
pub struct ScanLog {
    directory_errors: HashMap<PathBuf, Option<i32>>,
    not_executable: HashSet<PathBuf>,
}

/// The enabled, executable plugins in `directories` (see the [module
/// docs](self)), the first directory holding a name winning, each
/// directory's plugins in name order.
pub fn discover(
    directories: &[PathBuf],
    filter: &PluginFilter,
    log: &mut ScanLog,
) -> Vec<Discovered> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for directory in directories {
        let entries = match std::fs::read_dir(directory) {
            Ok(entries) => {
                log.directory_errors.remove(directory);
                entries
            }
            Err(error) => {
                let code = error.raw_os_error();
                if log.directory_errors.insert(directory.clone(), code) != Some(code) {
                    tracing::info!(
                        directory = %directory.display(),
                        %error,
                        "cannot read plugins directory"
                    );
                }
                continue;
            }
        };
        let mut names: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let file_name = entry.file_name().into_string().ok()?;
                let name = file_name.strip_suffix(PLUGIN_SUFFIX)?;
                (!name.is_empty()).then(|| (name.to_string(), entry.path()))
            })
            .collect();
        names.sort();
        for (name, path) in names {
            if seen.contains(&name) {
                continue;
            }
            let executable = std::fs::metadata(&path)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0);
            if !executable {
                if log.not_executable.insert(path.clone()) {
                    tracing::info!(path = %path.display(), "plugin file is not executable; skipped");
                }
                continue;
            }
            seen.insert(name.clone());
            if !filter(&name) {
                tracing::debug!(plugin = %name, "plugin disabled in [plugins]");
                continue;
            }
            found.push(Discovered { name, path });
        }
    }
    found
}

/// A thread name: `prefix` and `name`, cut to Linux's 15 bytes on a
/// character boundary.
pub(crate) fn thread_name(prefix: &str, name: &str) -> String {
    let mut out = format!("{prefix}{name}");
    let mut cut = out.len().min(15);
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out
}

/// The plugins started so far, as the runner keeps them.
pub type SharedPlugins = Arc<Mutex<Vec<Arc<PluginStatus>>>>;

/// The running plugins.d runner.
pub struct PluginsdRunner {
    thread: JoinHandle<()>,
    plugins: Arc<Mutex<Vec<Arc<PluginStatus>>>>,
}

impl PluginsdRunner {
    /// Every plugin started so far, in start order.
    pub fn plugins(&self) -> Vec<Arc<PluginStatus>> {
        self.plugins.lock().clone()
    }

    /// The list of started plugins itself, shared (for the status page).
    pub fn shared(&self) -> SharedPlugins {
        self.plugins.clone()
    }

    /// The plugin called `name`, if it was started.
    pub fn plugin(&self, name: &str) -> Option<Arc<PluginStatus>> {
        self.plugins.lock().iter().find(|p| p.name == name).cloned()
    }

    /// Waits until the runner has stopped (after the shutdown fired): every
    /// plugin stopped and reaped, every thread joined.
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the plugins.d runner thread panicked");
        }
    }
}

/// Starts the runner on its own thread (see the [module docs](self)).
pub fn start(
    settings: PluginsdSettings,
    host: Arc<Host>,
    shutdown: Shutdown,
) -> anyhow::Result<PluginsdRunner> {
    let plugins = Arc::new(Mutex::new(Vec::new()));
    let registry = plugins.clone();
    let settings = Arc::new(settings);
    let thread = std::thread::Builder::new()
        .name("plugins.d".to_string())
        .spawn(move || run_runner(&settings, &host, &shutdown, &registry))
        .context("starting the plugins.d thread")?;
    Ok(PluginsdRunner { thread, plugins })
}

fn run_runner(
    settings: &Arc<PluginsdSettings>,
    host: &Arc<Host>,
    shutdown: &Shutdown,
    registry: &Mutex<Vec<Arc<PluginStatus>>>,
) {
    let mut started: HashSet<String> = HashSet::new();
    let mut threads: Vec<(String, JoinHandle<()>)> = Vec::new();
    let mut scan_log = ScanLog::default();
    loop {
        for plugin in discover(&settings.directories, &settings.filter, &mut scan_log) {
            if shutdown.is_triggered() {
                break;
            }
            if !started.insert(plugin.name.clone()) {
                continue;
            }
            let status = Arc::new(PluginStatus::new(&plugin));
            registry.lock().push(status.clone());
            let name = plugin.name.clone();
            let supervisor = supervisor::Supervisor::new(
                plugin,
                settings.clone(),
                host.clone(),
                status.clone(),
                shutdown.clone(),
            );
            match std::thread::Builder::new()
                .name(thread_name("plg:", &name))
                .spawn(move || supervisor.run())
            {
                Ok(handle) => threads.push((name, handle)),
                Err(error) => {
                    tracing::error!(plugin = %name, %error, "cannot start plugin thread");
                    status.set_state(PluginState::Disabled {
                        reason: format!("cannot start its thread: {error}"),
                    });
                }
            }
        }
        if shutdown.sleep(settings.rescan_every) {
            break;
        }
    }
    for (name, handle) in threads {
        if handle.join().is_err() {
            tracing::error!(plugin = %name, "plugin thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_fit_in_fifteen_bytes() {
        assert_eq!(thread_name("plg:", "apps"), "plg:apps");
        assert_eq!(
            thread_name("plg:", "a-very-long-plugin-name"),
            "plg:a-very-long"
        );
        assert_eq!(thread_name("plg:", "ééééééééé").len(), 14);
    }

    #[test]
    fn discovery_follows_netdata() {
        let base = std::env::temp_dir().join(format!(
            "backhaul-discovery-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let first = base.join("first");
        let second = base.join("second");
        std::fs::create_dir_all(&first).expect("mkdir");
        std::fs::create_dir_all(&second).expect("mkdir");
        let make = |dir: &Path, name: &str, mode: u32| {
            let path = dir.join(name);
            std::fs::write(&path, "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        };
        make(&first, "b.plugin", 0o755);
        make(&first, "a.plugin", 0o755);
        make(&first, "noexec.plugin", 0o644);
        make(&first, "off.plugin", 0o755);
        make(&first, ".plugin", 0o755);
        make(&first, "readme.txt", 0o755);
        make(&second, "a.plugin", 0o755);
        make(&second, "c.plugin", 0o755);
        make(&second, "noexec.plugin", 0o755);
        let filter: PluginFilter = Arc::new(|name| name != "off");
        let mut log = ScanLog::default();
        let dirs = [first.clone(), base.join("missing"), second.clone()];
        let found = discover(&dirs, &filter, &mut log);
        let got: Vec<(&str, &Path)> = found
            .iter()
            .map(|p| (p.name.as_str(), p.path.as_path()))
            .collect();
        let expected_paths = [
            first.join("a.plugin"),
            first.join("b.plugin"),
            second.join("c.plugin"),
            second.join("noexec.plugin"),
        ];
        let expected: Vec<(&str, &Path)> = ["a", "b", "c", "noexec"]
            .into_iter()
            .zip(expected_paths.iter().map(PathBuf::as_path))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(found[0].file_name(), "a.plugin");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn settings_from_netdata_conf() {
        let text = "[global]\nhostname = box\nupdate every = 2\n\
                    [directories]\nplugins = /p1 \"/p 2\" /p3\nconfig = /cfg\n\
                    [plugins]\nenable running new plugins = no\napps = yes\nplugins.d = no\n";
        let (main, _) = crate::config::parse_main_str(text, "netdata.conf").expect("config");
        let settings = PluginsdSettings::from_main(&main);
        assert!(!settings.enabled);
        assert!((settings.filter)("apps"));
        assert!(!(settings.filter)("charts.d"));
        assert_eq!(settings.update_every, 2);
        let env: HashMap<String, OsString> = settings.env.iter().cloned().collect();
        let get = |key: &str| env.get(key).and_then(|v| v.to_str()).unwrap_or("<unset>");
        assert_eq!(get("NETDATA_UPDATE_EVERY"), "2");
        assert_eq!(get("NETDATA_HOSTNAME"), "box");
        assert_eq!(get("NETDATA_USER_CONFIG_DIR"), "/cfg");
        assert_eq!(get("NETDATA_STOCK_CONFIG_DIR"), "/usr/lib/netdata/conf.d");
        assert_eq!(get("NETDATA_PLUGINS_DIR"), "/p1");
        assert_eq!(get("NETDATA_USER_PLUGINS_DIRS"), "/p 2 /p3");
        assert_eq!(get("NETDATA_LOCK_DIR"), "/var/lib/netdata/lock");
        assert_eq!(get("NETDATA_LISTEN_PORT"), "19999");
        assert!(get("PATH").ends_with(":/sbin:/usr/sbin:/usr/local/bin:/usr/local/sbin"));
        let (main, _) =
            crate::config::parse_main_str("[global]\nhostname = h\n", "x").expect("config");
        assert!(PluginsdSettings::from_main(&main).enabled);
    }
}
