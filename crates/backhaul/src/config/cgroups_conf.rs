//! netdata.conf's `[plugin:cgroups]` section: the cgroups collector's
//! settings under netdata 1.37's keys and defaults ([`CgroupsConfig`]).
//! Whether it runs is `[plugins] cgroups` (default yes).
//!
//! Keys of netdata's that backhaul reads but does not act on (the zero
//! recheck of fail counts, `meminfo filename to monitor`) are accepted
//! without a warning: the same file works for both agents. Unknown keys
//! get a warning naming them.

use std::path::PathBuf;

use super::error::{ConfigError, Warning, WarningKind};
use super::ini::{invalid_value, IniEntry, IniSection};
use super::main_conf::ChartSwitch;
use super::value::{parse_bool, parse_whole_number};

/// netdata's section name.
pub const CGROUPS_SECTION: &str = "plugin:cgroups";

/// `enable by default cgroups matching` (netdata 1.37's default).
pub const DEFAULT_ENABLE_MATCHING: &str = " !*/init.scope  !/system.slice/run-*.scope  *.scope  /machine.slice/*.service  */kubepods/pod*/*  */kubepods/*/pod*/*  */*-kubepods-pod*/*  */*-kubepods-*-pod*/*  !*kubepods* !*kubelet*  !*/vcpu*  !*/emulator  !*.mount  !*.partition  !*.service  !*.socket  !*.slice  !*.swap  !*.user  !/  !/docker  !*/libvirt  !/lxc  !/lxc/*/*  !/lxc.monitor*  !/lxc.pivot  !/lxc.payload  !/machine  !/qemu  !/system  !/systemd  !/user  * ";
/// `enable by default cgroups names matching`.
pub const DEFAULT_NAMES_MATCHING: &str = " * ";
/// `search for cgroups in subpaths matching`.
pub const DEFAULT_SEARCH_MATCHING: &str = " !*/init.scope  !*-qemu  !*.libvirt-qemu  !/init.scope  !/system  !/systemd  !/user  !/user.slice  !/lxc/*/*  !/lxc.monitor  !/lxc.payload/*/*  !/lxc.payload.*  * ";
/// `run script to rename cgroups matching`.
pub const DEFAULT_RENAME_MATCHING: &str = " !/  !*.mount  !*.socket  !*.partition  /machine.slice/*.service  !*.service  !*.slice  !*.swap  !*.user  !init.scope  !*.scope/vcpu*  !*.scope/emulator  *.scope  *docker*  *lxc*  *qemu*  */kubepods/pod*/*  */kubepods/*/pod*/*  */*-kubepods-pod*/*  */*-kubepods-*-pod*/*  !*kubepods* !*kubelet*  *.libvirt-qemu  * ";
/// `cgroups to match as systemd services`.
pub const DEFAULT_SERVICES_MATCHING: &str = " !/system.slice/*/*.service  /system.slice/*.service ";

/// `use unified cgroups`: which hierarchy is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnifiedChoice {
    /// Detected as netdata does (the default).
    Auto,
    /// The unified (v2) hierarchy.
    Yes,
    /// The v1 controllers' hierarchies.
    No,
}

/// The per-metric switches (`enable ...`), netdata's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupSwitches {
    /// `enable cpuacct stat (total CPU)` (auto).
    pub cpu: ChartSwitch,
    /// `enable cpuacct cpu throttling` (yes).
    pub throttling: ChartSwitch,
    /// `enable cpuacct cpu shares` (no; yes inside Kubernetes).
    pub shares: ChartSwitch,
    /// `enable memory` (auto).
    pub memory: ChartSwitch,
    /// `enable detailed memory` (auto).
    pub detailed_memory: ChartSwitch,
    /// `enable swap memory` (auto).
    pub swap: ChartSwitch,
    /// `enable blkio bandwidth` (auto).
    pub io_bytes: ChartSwitch,
    /// `enable blkio operations` (auto).
    pub io_ops: ChartSwitch,
    /// `enable cpuacct usage (per core CPU)` (auto; v1 only).
    pub cpu_per_core: ChartSwitch,
    /// `enable memory limits fail count` (auto; v1 only).
    pub failcnt: ChartSwitch,
    /// `enable blkio throttle bandwidth`, `... throttle operations`,
    /// `... queued operations`, `... merged operations` (auto; v1 only).
    pub throttle_io_bytes: ChartSwitch,
    pub throttle_io_ops: ChartSwitch,
    pub queued_ops: ChartSwitch,
    pub merged_ops: ChartSwitch,
    /// `enable cpu pressure` (auto).
    pub cpu_pressure: ChartSwitch,
    /// `enable io some pressure`, `enable io full pressure` (auto).
    pub io_pressure: [ChartSwitch; 2],
    /// `enable memory some pressure`, `enable memory full pressure` (auto).
    pub memory_pressure: [ChartSwitch; 2],
}

impl CgroupSwitches {
    /// The six blkio switches, in netdata's order of the v1 blkio files:
    /// bandwidth, operations, throttle bandwidth, throttle operations,
    /// queued, merged.
    pub fn blkio(&self) -> [ChartSwitch; 6] {
        [
            self.io_bytes,
            self.io_ops,
            self.throttle_io_bytes,
            self.throttle_io_ops,
            self.queued_ops,
            self.merged_ops,
        ]
    }
}

impl Default for CgroupSwitches {
    fn default() -> Self {
        let kubernetes = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
            && std::env::var_os("KUBERNETES_SERVICE_PORT").is_some();
        CgroupSwitches {
            cpu: ChartSwitch::Auto,
            throttling: ChartSwitch::Yes,
            shares: if kubernetes {
                ChartSwitch::Yes
            } else {
                ChartSwitch::No
            },
            memory: ChartSwitch::Auto,
            detailed_memory: ChartSwitch::Auto,
            swap: ChartSwitch::Auto,
            io_bytes: ChartSwitch::Auto,
            io_ops: ChartSwitch::Auto,
            cpu_per_core: ChartSwitch::Auto,
            failcnt: ChartSwitch::Auto,
            throttle_io_bytes: ChartSwitch::Auto,
            throttle_io_ops: ChartSwitch::Auto,
            queued_ops: ChartSwitch::Auto,
            merged_ops: ChartSwitch::Auto,
            cpu_pressure: ChartSwitch::Auto,
            io_pressure: [ChartSwitch::Auto; 2],
            memory_pressure: [ChartSwitch::Auto; 2],
        }
    }
}

/// `[plugin:cgroups]`, with netdata 1.37's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupsConfig {
    /// `update every`: never below the agent's.
    pub update_every: u32,
    /// `check for new cgroups every` (10 × update every), seconds.
    pub check_every_s: u32,
    /// `use unified cgroups` (auto).
    pub unified: UnifiedChoice,
    /// `path to unified cgroups` (default: from the mounts).
    pub unified_path: Option<PathBuf>,
    /// `path to /sys/fs/cgroup/cpuacct`, `.../cpuset`, `.../blkio`,
    /// `.../memory`, `.../devices` (default: from the mounts), in
    /// [`V1_CONTROLLERS`] order.
    pub v1_paths: [Option<PathBuf>; 5],
    /// `report used memory` (yes): v1's used memory leaves out inactive
    /// file memory (services too).
    pub report_used_memory: bool,
    /// `enable systemd services detailed memory` (no): the services'
    /// rss, mapped, cache, writeback, page fault and charging charts (v1).
    pub services_detailed_memory: bool,
    /// `containers priority` (40000).
    pub priority: i64,
    /// `max cgroups to allow` (1000).
    pub max_cgroups: usize,
    /// `max cgroups depth to monitor` (0: any).
    pub max_depth: usize,
    pub enable_matching: String,
    pub names_matching: String,
    pub search_matching: String,
    pub rename_matching: String,
    pub services_matching: String,
    /// `enable systemd services` (yes).
    pub systemd_services: bool,
    /// `script to get cgroup names` (default: `cgroup-name.sh` in the
    /// first plugins directory).
    pub name_script: Option<PathBuf>,
    /// `script to get cgroup network interfaces` (default:
    /// `cgroup-network` in the first plugins directory).
    pub network_script: Option<PathBuf>,
    /// `recheck zero blkio every iterations` (10).
    pub recheck_zero_io_every: u32,
    /// `recheck zero detailed memory every iterations` (10).
    pub recheck_zero_memory_every: u32,
    pub switches: CgroupSwitches,
}

impl CgroupsConfig {
    /// netdata's defaults for an agent collecting every `update_every` s.
    pub fn with_update_every(update_every: u32) -> CgroupsConfig {
        let update_every = update_every.max(1);
        CgroupsConfig {
            update_every,
            check_every_s: update_every.saturating_mul(10),
            unified: UnifiedChoice::Auto,
            unified_path: None,
            v1_paths: Default::default(),
            report_used_memory: true,
            services_detailed_memory: false,
            priority: 40000,
            max_cgroups: 1000,
            max_depth: 0,
            enable_matching: DEFAULT_ENABLE_MATCHING.to_string(),
            names_matching: DEFAULT_NAMES_MATCHING.to_string(),
            search_matching: DEFAULT_SEARCH_MATCHING.to_string(),
            rename_matching: DEFAULT_RENAME_MATCHING.to_string(),
            services_matching: DEFAULT_SERVICES_MATCHING.to_string(),
            systemd_services: true,
            name_script: None,
            network_script: None,
            recheck_zero_io_every: 10,
            recheck_zero_memory_every: 10,
            switches: CgroupSwitches::default(),
        }
    }
}

impl Default for CgroupsConfig {
    fn default() -> Self {
        CgroupsConfig::with_update_every(1)
    }
}

/// The v1 controllers netdata reads, in the order of their `path to
/// /sys/fs/cgroup/NAME` keys and of [`CgroupsConfig::v1_paths`].
pub const V1_CONTROLLERS: [&str; 5] = ["cpuacct", "cpuset", "blkio", "memory", "devices"];

/// netdata's keys backhaul accepts without acting on them yet (network
/// interfaces, the services' detailed memory charts, the zero recheck of
/// fail counts).
const KEYS_NOT_USED_YET: &[&str] = &[
    "recheck zero memory failcnt every iterations",
    "meminfo filename to monitor",
];

/// Reads `[plugin:cgroups]` (absent: the defaults).
pub fn cgroups_from_section(
    section: Option<&IniSection>,
    update_every: u32,
    warnings: &mut Vec<Warning>,
) -> Result<CgroupsConfig, ConfigError> {
    let mut config = CgroupsConfig::with_update_every(update_every);
    let Some(section) = section else {
        return Ok(config);
    };
    let number = |entry: &IniEntry, minimum: u64| -> Result<u64, ConfigError> {
        let reason = format!("must be a whole number >= {minimum}");
        parse_whole_number(&entry.value, minimum, &reason)
            .map_err(|reason| invalid_value(section, entry, reason))
    };
    let switch = |entry: &IniEntry| -> Result<ChartSwitch, ConfigError> {
        match entry.value.trim().to_ascii_lowercase().as_str() {
            "auto" | "on demand" => Ok(ChartSwitch::Auto),
            "yes" | "true" | "on" | "1" => Ok(ChartSwitch::Yes),
            "no" | "false" | "off" | "0" => Ok(ChartSwitch::No),
            _ => Err(invalid_value(
                section,
                entry,
                "must be yes, no or auto".to_string(),
            )),
        }
    };
    let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    // `check for new cgroups every` defaults to ten of the plugin's own
    // update every, whichever order the keys come in.
    let mut check_every = None;
    for entry in &section.entries {
        let s = &mut config.switches;
        match entry.key.as_str() {
            "update every" => config.update_every = small(number(entry, 1)?).max(update_every),
            "check for new cgroups every" => check_every = Some(small(number(entry, 1)?)),
            "use unified cgroups" => {
                config.unified = match switch(entry)? {
                    ChartSwitch::Auto => UnifiedChoice::Auto,
                    ChartSwitch::Yes => UnifiedChoice::Yes,
                    ChartSwitch::No => UnifiedChoice::No,
                }
            }
            "path to unified cgroups" => {
                config.unified_path = Some(PathBuf::from(entry.value.trim()))
            }
            "containers priority" => {
                config.priority = i64::try_from(number(entry, 1)?).unwrap_or(i64::MAX)
            }
            "max cgroups to allow" => {
                config.max_cgroups = usize::try_from(number(entry, 0)?).unwrap_or(usize::MAX)
            }
            "max cgroups depth to monitor" => {
                config.max_depth = usize::try_from(number(entry, 0)?).unwrap_or(usize::MAX)
            }
            "enable by default cgroups matching" => config.enable_matching = entry.value.clone(),
            "enable by default cgroups names matching" => {
                config.names_matching = entry.value.clone()
            }
            "search for cgroups in subpaths matching" => {
                config.search_matching = entry.value.clone()
            }
            "run script to rename cgroups matching" => config.rename_matching = entry.value.clone(),
            "cgroups to match as systemd services" => {
                config.services_matching = entry.value.clone()
            }
            "enable systemd services" => {
                config.systemd_services =
                    parse_bool(&entry.value).map_err(|r| invalid_value(section, entry, r))?
            }
            "script to get cgroup names" => {
                config.name_script = Some(PathBuf::from(entry.value.trim()))
            }
            "script to get cgroup network interfaces" => {
                config.network_script = Some(PathBuf::from(entry.value.trim()))
            }
            "recheck zero blkio every iterations" => {
                config.recheck_zero_io_every = small(number(entry, 1)?)
            }
            "recheck zero detailed memory every iterations" => {
                config.recheck_zero_memory_every = small(number(entry, 1)?)
            }
            "enable cpuacct stat (total CPU)" => s.cpu = switch(entry)?,
            "enable cpuacct cpu throttling" => s.throttling = switch(entry)?,
            "enable cpuacct cpu shares" => s.shares = switch(entry)?,
            "enable memory" => s.memory = switch(entry)?,
            "enable detailed memory" => s.detailed_memory = switch(entry)?,
            "enable swap memory" => s.swap = switch(entry)?,
            "enable blkio bandwidth" => s.io_bytes = switch(entry)?,
            "enable blkio operations" => s.io_ops = switch(entry)?,
            "enable cpu pressure" => s.cpu_pressure = switch(entry)?,
            "enable cpuacct usage (per core CPU)" => s.cpu_per_core = switch(entry)?,
            "enable memory limits fail count" => s.failcnt = switch(entry)?,
            "enable blkio throttle bandwidth" => s.throttle_io_bytes = switch(entry)?,
            "enable blkio throttle operations" => s.throttle_io_ops = switch(entry)?,
            "enable blkio queued operations" => s.queued_ops = switch(entry)?,
            "enable blkio merged operations" => s.merged_ops = switch(entry)?,
            "enable systemd services detailed memory" => {
                config.services_detailed_memory =
                    parse_bool(&entry.value).map_err(|r| invalid_value(section, entry, r))?
            }
            "report used memory" => {
                config.report_used_memory =
                    parse_bool(&entry.value).map_err(|r| invalid_value(section, entry, r))?
            }
            "enable io some pressure" => s.io_pressure[0] = switch(entry)?,
            "enable io full pressure" => s.io_pressure[1] = switch(entry)?,
            "enable memory some pressure" => s.memory_pressure[0] = switch(entry)?,
            "enable memory full pressure" => s.memory_pressure[1] = switch(entry)?,
            key if KEYS_NOT_USED_YET.contains(&key) => {}
            key if key
                .strip_prefix("path to /sys/fs/cgroup/")
                .is_some_and(|c| V1_CONTROLLERS.contains(&c)) =>
            {
                let controller = &key["path to /sys/fs/cgroup/".len()..];
                if let Some(i) = V1_CONTROLLERS.iter().position(|c| *c == controller) {
                    config.v1_paths[i] = Some(PathBuf::from(entry.value.trim()));
                }
            }
            key => warnings.push(Warning::about_key(
                &entry.at,
                &section.name,
                key,
                WarningKind::Unknown,
                "unknown setting; ignored",
            )),
        }
    }
    config.check_every_s = check_every
        .unwrap_or_else(|| config.update_every.saturating_mul(10))
        .max(config.update_every);
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(CgroupsConfig, Vec<String>), String> {
        crate::config::parse_main_str(text, "netdata.conf")
            .map(|(main, warnings)| {
                let warnings = warnings.iter().map(|w| w.to_string()).collect();
                (main.cgroups, warnings)
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn keys_and_defaults() {
        let (config, warnings) = parse("[plugin:cgroups]\n").unwrap();
        assert!(warnings.is_empty());
        assert_eq!(config, CgroupsConfig::default());
        assert_eq!(config.check_every_s, 10);
        let (config, warnings) = parse(
            "[plugin:cgroups]\n update every = 2\n use unified cgroups = yes\n\
             path to unified cgroups = /x/unified\n enable cpu pressure = no\n\
             enable memory full pressure = yes\n max cgroups to allow = 5\n\
             path to /sys/fs/cgroup/memory = /m\n script to get cgroup names = /bin/true\n",
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.update_every, 2);
        assert_eq!(config.check_every_s, 20, "ten of its own update every");
        assert_eq!(config.unified, UnifiedChoice::Yes);
        assert_eq!(config.unified_path, Some(PathBuf::from("/x/unified")));
        assert_eq!(config.switches.cpu_pressure, ChartSwitch::No);
        assert_eq!(
            config.switches.memory_pressure,
            [ChartSwitch::Auto, ChartSwitch::Yes]
        );
        assert_eq!(config.max_cgroups, 5);
        assert_eq!(config.name_script, Some(PathBuf::from("/bin/true")));
    }

    #[test]
    fn bad_values_name_the_key_and_unknown_keys_warn() {
        let error = parse("[plugin:cgroups]\n enable memory = maybe\n").unwrap_err();
        assert!(error.contains("enable memory"), "{error}");
        let error = parse("[plugin:cgroups]\n check for new cgroups every = 0\n").unwrap_err();
        assert!(error.contains("check for new cgroups every"), "{error}");
        let (_, warnings) = parse("[plugin:cgroups]\n enable everything = yes\n").unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("enable everything"), "{warnings:?}");
    }
}
