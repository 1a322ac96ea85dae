//! The cgroups collector: netdata 1.37's `cgroups.plugin`, for the unified
//! (v2) hierarchy and for the v1 controllers' hierarchies, configured by
//! `[plugin:cgroups]` and switched by `[plugins] cgroups`.
//!
//! It owns finding the hierarchy (netdata's detection of v1 or v2, the
//! mount), discovering cgroups (the walk, netdata's simple patterns, the
//! `cgroup-name.sh` rename protocol, duplicates, cgroups that go away),
//! and handing each enabled one to [`unified::UnifiedCgroup`] (v2) or
//! [`v1::V1Cgroup`], which read its files and make its `cgroup_NAME.*`
//! charts.
//!
//! Systemd services (`cgroups to match as systemd services`) have no
//! charts of their own: they are dimensions of the `services.*` charts
//! ([`services`]).
//!
//! A container's network interfaces (netdata's `cgroup-network`, run
//! once per cgroup at discovery) are charted by the `/proc/net/dev`
//! collector under the cgroup (`cgroup_NAME.net_eth0`), through a shared
//! [`NetdevRenames`] table.

mod discovery;
mod services;
mod unified;
mod v1;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rrd::Host;

use crate::collectors::proc::chart_handle::{Cycle, RefusedRounds};
use crate::collectors::proc::NetdevRenames;
use crate::collectors::Collector;
pub use crate::config::{CgroupSwitches, CgroupsConfig, UnifiedChoice, V1_CONTROLLERS};
use discovery::{Discovery, Hierarchy};

/// How long netdata waits for `systemd --version` when detecting the
/// hierarchy.
const SYSTEMD_TIMEOUT: Duration = Duration::from_secs(3);

/// Collects the cgroups of the unified hierarchy.
pub struct CgroupsCollector {
    config: CgroupsConfig,
    /// `/` on a host; a test's fake root otherwise.
    root: PathBuf,
    /// The rename script (`script to get cgroup names`).
    script: PathBuf,
    /// `script to get cgroup network interfaces`, and the table the
    /// `/proc/net/dev` collector charts container interfaces from.
    network_script: PathBuf,
    netdev_renames: Option<Arc<NetdevRenames>>,
    hierarchy: Option<Hierarchy>,
    discovery: Option<Discovery>,
    /// Collections left before the next discovery.
    until_discovery: u32,
    refused: RefusedRounds,
}

impl CgroupsCollector {
    /// `config`'s collector, reading the machine's cgroups. `plugins_dir`
    /// is where `cgroup-name.sh` is looked for unless the configuration
    /// names the script.
    pub fn new(config: &CgroupsConfig, plugins_dir: &Path) -> CgroupsCollector {
        let script = config
            .name_script
            .clone()
            .unwrap_or_else(|| plugins_dir.join("cgroup-name.sh"));
        let network_script = config
            .network_script
            .clone()
            .unwrap_or_else(|| plugins_dir.join("cgroup-network"));
        CgroupsCollector {
            config: config.clone(),
            root: PathBuf::from("/"),
            script,
            network_script,
            netdev_renames: None,
            hierarchy: None,
            discovery: None,
            until_discovery: 0,
            refused: RefusedRounds::default(),
        }
    }

    /// Registers each container's network interfaces (found with
    /// `cgroup-network`) in `renames`, which the `/proc/net/dev` collector
    /// charts under the container's cgroup.
    pub fn renaming_interfaces(mut self, renames: Arc<NetdevRenames>) -> CgroupsCollector {
        self.netdev_renames = Some(renames);
        self
    }

    /// Reads below `root` (tests); the unified mount must then be given
    /// (`path to unified cgroups`) or found in `root`'s mountinfo.
    pub fn with_root(mut self, root: &Path) -> CgroupsCollector {
        self.root = root.to_path_buf();
        self
    }

    fn decide_hierarchy(&self) -> Hierarchy {
        let unified = match self.config.unified {
            UnifiedChoice::Yes => true,
            UnifiedChoice::No => false,
            UnifiedChoice::Auto => discovery::detect_unified(&self.root, SYSTEMD_TIMEOUT),
        };
        if unified {
            let base = self
                .config
                .unified_path
                .clone()
                .or_else(|| discovery::unified_mount(&self.root))
                .unwrap_or_else(|| self.root.join("sys/fs/cgroup"));
            tracing::info!(path = %base.display(), "cgroups: reading the unified hierarchy");
            return Hierarchy::Unified(base);
        }
        let path = |i: usize| {
            self.config.v1_paths[i]
                .clone()
                .unwrap_or_else(|| discovery::v1_mount(&self.root, V1_CONTROLLERS[i]))
        };
        let bases = v1::V1Bases {
            cpuacct: path(0),
            cpuset: path(1),
            blkio: path(2),
            memory: path(3),
            devices: path(4),
        };
        tracing::info!(?bases, "cgroups: reading the v1 hierarchies");
        Hierarchy::V1(bases)
    }
}

impl Collector for CgroupsCollector {
    fn name(&self) -> &str {
        "cgroups"
    }

    fn update_every(&self) -> u32 {
        self.config.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let hierarchy = match &self.hierarchy {
            Some(h) => h,
            None => self.hierarchy.insert(self.decide_hierarchy()),
        };
        let discovery = self.discovery.get_or_insert_with(|| {
            Discovery::new(
                hierarchy.clone(),
                &self.config,
                self.script.clone(),
                &self.root,
            )
            .finding_interfaces(self.network_script.clone(), self.netdev_renames.clone())
        });
        if self.until_discovery == 0 {
            discovery.run(host);
            let every = self.config.check_every_s / self.config.update_every.max(1);
            self.until_discovery = every.max(1);
        }
        self.until_discovery -= 1;
        let mut cycle = Cycle::new(now_ut);
        discovery.collect(host, &mut cycle);
        self.refused.settle("cgroups", cycle);
        Ok(())
    }
}
