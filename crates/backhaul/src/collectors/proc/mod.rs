//! Linux /proc collectors under netdata 1.37's chart names.
//!
//! Each kernel source is its own [`Collector`], switched on or off by the
//! name netdata uses for it in `[plugin:proc]` (plus `diskspace`, `timex`
//! and `idlejitter`, netdata's `[plugins]` switches for those internal
//! plugins):
//!
//! | switch            | collector            | charts |
//! |-------------------|----------------------|--------|
//! | `/proc/stat`      | `proc:stat`          | `system.cpu`, `cpu.cpuN`, `system.intr`, `system.ctxt`, `system.forks`, `system.processes`, and where the machine has them `cpu.core_throttling` (auto), `cpu.package_throttling` (off by default), `cpu.cpufreq` |
//! | `/proc/uptime`    | `proc:uptime`        | `system.uptime` |
//! | `/proc/loadavg`   | `proc:loadavg`       | `system.load` (every 5 s at least), `system.active_processes` |
//! | `/proc/vmstat`    | `proc:vmstat`        | `system.pgpgio`, `mem.pgfaults`, `mem.oom_kill`, `system.swapio` (auto), `mem.numa` (2+ nodes) |
//! | `/proc/meminfo`   | `proc:meminfo`       | `system.ram`, `mem.available`, `mem.committed`, `mem.writeback`, `mem.kernel`, `mem.slab`, `system.swap`, `mem.hwcorrupt`, `mem.hugepages`, `mem.transparent_hugepages` (the last four auto) |
//! | `/proc/net/dev`   | `proc:netdev`        | `system.net`, `net.IFACE`, `net_packets.IFACE`, `net_errors`, `net_drops`, `net_fifo`, `net_compressed`, `net_events` (auto), `net_speed`, `net_duplex`, `net_operstate`, `net_carrier`, `net_mtu` (from `/sys/class/net`); per-interface sections `[plugin:proc:/proc/net/dev:IFACE]` |
//! | `/proc/net/netstat` | `proc:netstat`     | `system.ip`, `system.ipv6`, `ip.*`, `ipv4.*`, `ipv6.*` from `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6` (auto) |
//! | `/proc/net/sockstat` | `proc:sockstat`   | `ipv4.sockstat_*` (auto) |
//! | `/proc/net/sockstat6` | `proc:sockstat6` | `ipv6.sockstat6_*` (auto) |
//! | `/proc/net/softnet_stat` | `proc:softnet_stat` | `system.softnet_stat`, `cpu.cpuN_softnet_stat` |
//! | `/proc/net/stat/conntrack` | `proc:conntrack` | `netfilter.conntrack_*` (from `/proc/net/stat/nf_conntrack`) |
//! | `/proc/net/stat/synproxy` | `proc:synproxy` | `netfilter.synproxy_*` (auto) |
//! | `/proc/diskstats` | `proc:diskstats`     | `system.io`, `disk.DEV`, `disk_ops.DEV`, `disk_qops`, `disk_backlog`, `disk_busy`, `disk_util`, `disk_mops`, `disk_iotime`, `disk_await`, `disk_avgsz`, `disk_svctm` `.DEV`, and `disk_ext.DEV`, `disk_ext_{ops,mops,iotime,await,avgsz}.DEV` |
//! | `/proc/interrupts` | `proc:interrupts`   | `system.interrupts`, `cpu.cpuN_interrupts` |
//! | `/proc/softirqs`  | `proc:softirqs`      | `system.softirqs`, `cpu.cpuN_softirqs` |
//! | `/proc/pressure`  | `proc:pressure`      | `system.{cpu,memory,io}_{some,full}_pressure` and `..._stall_time` (every 2 s at least) |
//! | `/proc/sys/kernel/random/entropy_avail` | `proc:entropy` | `system.entropy` |
//! | `ipc`             | `proc:ipc`           | `system.ipc_semaphores`, `system.ipc_semaphore_arrays`, `system.message_queue_{messages,bytes}`, `system.shared_memory_{segments,bytes}` |
//! | `/proc/mdstat`    | `proc:mdstat`        | `mdstat.mdstat_health`, per array `mdstat.NAME_{disks,mismatch,operation,finish,speed}` or `mdstat.NAME_availability` |
//! | `/sys/block/zram` | `proc:zram`          | `mem.zram_{usage,savings,ratio,efficiency}.DEV` |
//! | `/sys/kernel/mm/ksm` | `proc:ksm`        | `mem.ksm`, `mem.ksm_savings`, `mem.ksm_ratios` (while pages are offered) |
//! | `diskspace`       | `diskspace`          | `disk_space.MOUNT`, `disk_inodes.MOUNT` |
//! | `timex`           | `timex`              | `system.clock_sync_state`, `system.clock_status`, `system.clock_sync_offset` (every 10 s) |
//! | `idlejitter`      | `idlejitter`         | `system.idlejitter` |
//!
//! "auto" is netdata's rule: the chart is created once one of its counters
//! is not zero, and kept from then on. A file a network module needs that
//! is missing at the first collection is logged once and not read again
//! (as netdata disables such a module); the other modules try a file they
//! never could read again every 60 collections.
//!
//! Every file is read below a root directory (`/` normally; a fixture tree
//! in tests), as netdata does with `NETDATA_HOST_PREFIX`. A missing or
//! unreadable file marks the collector's charts obsolete and is logged once;
//! when it comes back that is logged once too and the charts revive.
//!
//! The collectors only set raw kernel counters; the store does the
//! incremental, percentage, multiplier and divisor math.
//!
//! Some modules also keep the custom variables netdata's modules make for
//! its alarms (served by `allmetrics?variables=yes`, sent by remote write),
//! in the store only when they change: `proc:stat` `active_processors`;
//! `proc:loadavg` `system.active_processes`'s `pidmax`; `proc:netdev` each
//! physical interface's `net.IFACE` `nic_speed_max`; `proc:netstat`
//! `tcp_max_connections`; `proc:sockstat` `tcp_max_orphans` and
//! `tcp_mem_low`, `tcp_mem_pressure`, `tcp_mem_high`; `proc:conntrack`
//! `netfilter_conntrack_max`; `proc:ipc` `ipc_semaphores_max` and
//! `ipc_semaphores_arrays_max`. The limits among them come from
//! `/proc/sys` files read as often as netdata reads them (once, every 10 s,
//! or about once a minute); a missing one means no variable.

pub(crate) mod chart_handle;
mod counter_table;
mod cpu_sysfs;
mod cpuidle;
mod diskspace;
mod diskstats;
mod entropy;
mod idlejitter;
mod ipc;
mod irqs;
mod ksm;
mod loadavg;
mod mdstat;
mod meminfo;
mod module_file;
pub(crate) mod mountinfo;
mod net_dev;
mod netfilter;
mod netstat;
mod ondemand;
mod one_value;
pub(crate) mod parse;
pub(crate) mod pressure;
mod sockstat;
mod softnet;
pub(crate) mod source;
mod stat;
mod timex;
mod uptime;
pub(crate) mod variables;
mod vmstat;
mod zram;

use std::path::Path;

use crate::collectors::Collector;
pub use ondemand::{no_chart_switches, ChartSwitches};

pub use diskspace::{DiskspaceCollector, EXCLUDED_FILESYSTEMS, EXCLUDED_PATHS};
pub use diskstats::{no_disk_sections, DiskSectionSwitches, DiskstatsCollector, EXCLUDED_DISKS};
pub use loadavg::LoadavgCollector;
pub use meminfo::MeminfoCollector;
pub use net_dev::{
    no_interface_sections, InterfaceSectionSwitches, NetDevCollector, NetRename, NetdevRenames,
    DISABLED_INTERFACES, INTERFACE_KEYS as NET_DEV_INTERFACE_KEYS,
    MODULE_KEYS as NET_DEV_MODULE_KEYS,
};
pub use netfilter::{ConntrackCollector, SynproxyCollector, CONNTRACK_MAX_READ_EVERY};
pub use netstat::NetstatCollector;
pub use sockstat::{SockstatCollector, UPDATE_CONSTANTS_EVERY};
pub use softnet::SoftnetCollector;
pub use stat::StatCollector;
pub use timex::{ClockSource, TimexCollector};
pub use vmstat::VmstatCollector;

/// The plugin name netdata gives the charts of its /proc collectors.
pub const PROC_PLUGIN: &str = "proc.plugin";

/// The plugin name of netdata's disk space charts.
pub const DISKSPACE_PLUGIN: &str = "diskspace.plugin";

/// The switch names [`default_collectors`] asks about, in the order the
/// collectors are returned. The list is the configuration's (it decides
/// which `[plugin:proc]` keys are in use), so `config` need not know this
/// module.
pub const SWITCHES: &[&str] = crate::config::PROC_SWITCHES;

/// The collectors whose switch `enabled` answers yes to (see [`SWITCHES`]),
/// each reading below `root` and collecting every `update_every` seconds,
/// every chart on netdata's default switch.
pub fn default_collectors(
    root: &Path,
    update_every: u32,
    enabled: &dyn Fn(&str) -> bool,
) -> Vec<Box<dyn Collector>> {
    configured_collectors(
        root,
        update_every,
        enabled,
        &no_chart_switches,
        diskstats::no_disk_sections(),
    )
}

/// [`default_collectors`] with the per-chart switches `switches` (the
/// `[plugin:proc:MODULE]` sections) and the disks' own sections
/// (`[plugin:proc:/proc/diskstats:DEV]`).
pub fn configured_collectors(
    root: &Path,
    update_every: u32,
    enabled: &dyn Fn(&str) -> bool,
    switches: ChartSwitches<'_>,
    disk_sections: DiskSectionSwitches,
) -> Vec<Box<dyn Collector>> {
    configured_collectors_with(
        root,
        update_every,
        enabled,
        switches,
        disk_sections,
        no_interface_sections(),
        &crate::config::ProcPatterns::default(),
    )
}

/// [`configured_collectors`] with the network interfaces' own sections
/// (`[plugin:proc:/proc/net/dev:IFACE]`) and the modules' patterns and
/// settings (`exclude disks`, `disable by default interfaces matching`,
/// diskspace's exclusions, sockstat's `update constants every`).
pub fn configured_collectors_with(
    root: &Path,
    update_every: u32,
    enabled: &dyn Fn(&str) -> bool,
    switches: ChartSwitches<'_>,
    disk_sections: DiskSectionSwitches,
    interface_sections: InterfaceSectionSwitches,
    patterns: &crate::config::ProcPatterns,
) -> Vec<Box<dyn Collector>> {
    configured_collectors_sharing(
        root,
        update_every,
        enabled,
        switches,
        disk_sections,
        interface_sections,
        patterns,
        None,
    )
}

/// [`configured_collectors_with`] whose `/proc/net/dev` collector charts
/// the container interfaces `netdev_renames` lists under their cgroups (the
/// table the cgroups collector fills).
#[allow(clippy::too_many_arguments)]
pub fn configured_collectors_sharing(
    root: &Path,
    update_every: u32,
    enabled: &dyn Fn(&str) -> bool,
    switches: ChartSwitches<'_>,
    disk_sections: DiskSectionSwitches,
    interface_sections: InterfaceSectionSwitches,
    patterns: &crate::config::ProcPatterns,
    netdev_renames: Option<std::sync::Arc<NetdevRenames>>,
) -> Vec<Box<dyn Collector>> {
    let update_every = update_every.max(1);
    let mut collectors: Vec<Box<dyn Collector>> = Vec::new();
    for &switch in SWITCHES {
        if !enabled(switch) {
            continue;
        }
        let collector: Box<dyn Collector> = match switch {
            "/proc/stat" => Box::new(StatCollector::configured(root, update_every, switches)),
            "/proc/uptime" => Box::new(uptime::collector(root, update_every)),
            "/proc/loadavg" => Box::new(LoadavgCollector::new(root, update_every)),
            "/proc/vmstat" => Box::new(VmstatCollector::configured(root, update_every, switches)),
            "/proc/meminfo" => Box::new(MeminfoCollector::configured(root, update_every, switches)),
            "/proc/net/dev" => Box::new(
                NetDevCollector::configured(
                    root,
                    update_every,
                    switches,
                    interface_sections.clone(),
                )
                .disabling_interfaces(&patterns.disabled_interfaces)
                .renaming(netdev_renames.clone().unwrap_or_default()),
            ),
            "/proc/net/netstat" => {
                Box::new(NetstatCollector::configured(root, update_every, switches))
            }
            "/proc/net/sockstat" => Box::new(
                SockstatCollector::ipv4_configured(root, update_every, switches)
                    .updating_constants_every(patterns.sockstat_update_constants_every),
            ),
            "/proc/net/sockstat6" => Box::new(SockstatCollector::ipv6_configured(
                root,
                update_every,
                switches,
            )),
            "/proc/net/softnet_stat" => Box::new(SoftnetCollector::new(root, update_every)),
            "/proc/net/stat/conntrack" => Box::new(
                ConntrackCollector::new(root, update_every)
                    .reading_max_every(patterns.conntrack_max_read_every),
            ),
            "/proc/net/stat/synproxy" => Box::new(SynproxyCollector::new(root, update_every)),
            "/proc/diskstats" => Box::new(
                DiskstatsCollector::with_disk_sections(
                    root,
                    update_every,
                    switches,
                    disk_sections.clone(),
                )
                .excluding_disks(&patterns.excluded_disks),
            ),
            "diskspace" => Box::new(DiskspaceCollector::new(root, update_every).excluding(
                &patterns.diskspace_excluded_paths,
                &patterns.diskspace_excluded_filesystems,
            )),
            "/proc/interrupts" => {
                Box::new(irqs::interrupts_collector(root, update_every, switches))
            }
            "/proc/softirqs" => Box::new(irqs::softirqs_collector(root, update_every, switches)),
            "/proc/pressure" => Box::new(pressure::PressureCollector::configured(
                root,
                update_every,
                switches,
            )),
            "/proc/sys/kernel/random/entropy_avail" => {
                Box::new(entropy::collector(root, update_every))
            }
            "ipc" => Box::new(ipc::IpcCollector::configured(root, update_every, switches)),
            "/proc/mdstat" => Box::new(mdstat::MdstatCollector::configured(
                root,
                update_every,
                switches,
            )),
            "/sys/block/zram" => Box::new(zram::ZramCollector::new(root, update_every)),
            "/sys/kernel/mm/ksm" => Box::new(ksm::KsmCollector::new(root, update_every)),
            "timex" => Box::new(TimexCollector::new(update_every)),
            "idlejitter" => Box::new(idlejitter::IdlejitterCollector::new(update_every)),
            _ => continue,
        };
        collectors.push(collector);
    }
    collectors
}
