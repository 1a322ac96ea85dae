//! Linux /proc collectors under netdata 1.37's chart names.
//!
//! Each kernel source is its own [`Collector`], switched on or off by the
//! name netdata uses for it in `[plugin:proc]` (plus `diskspace`, netdata's
//! `[plugins]` switch for the disk space plugin):
//!
//! | switch            | collector            | charts |
//! |-------------------|----------------------|--------|
//! | `/proc/stat`      | `proc:stat`          | `system.cpu`, `cpu.cpuN`, `system.intr`, `system.ctxt`, `system.forks`, `system.processes` |
//! | `/proc/uptime`    | `proc:uptime`        | `system.uptime` |
//! | `/proc/loadavg`   | `proc:loadavg`       | `system.load` (every 5 s at least), `system.active_processes` |
//! | `/proc/vmstat`    | `proc:vmstat`        | `system.pgpgio`, `mem.pgfaults` |
//! | `/proc/meminfo`   | `proc:meminfo`       | `system.ram`, `mem.available`, `mem.committed` |
//! | `/proc/net/dev`   | `proc:netdev`        | `system.net`, `net.IFACE`, `net_packets.IFACE`, `net_errors`, `net_drops`, `net_fifo`, `net_compressed`, `net_events` (auto), `net_speed`, `net_duplex`, `net_operstate`, `net_carrier`, `net_mtu` (from `/sys/class/net`) |
//! | `/proc/net/netstat` | `proc:netstat`     | `system.ip`, `system.ipv6`, `ip.*`, `ipv4.*`, `ipv6.*` from `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6` (auto) |
//! | `/proc/net/sockstat` | `proc:sockstat`   | `ipv4.sockstat_*` (auto) |
//! | `/proc/net/sockstat6` | `proc:sockstat6` | `ipv6.sockstat6_*` (auto) |
//! | `/proc/net/softnet_stat` | `proc:softnet_stat` | `system.softnet_stat`, `cpu.cpuN_softnet_stat` |
//! | `/proc/net/stat/conntrack` | `proc:conntrack` | `netfilter.conntrack_*` (from `/proc/net/stat/nf_conntrack`) |
//! | `/proc/net/stat/synproxy` | `proc:synproxy` | `netfilter.synproxy_*` (auto) |
//! | `/proc/diskstats` | `proc:diskstats`     | `system.io`, `disk.DEV`, `disk_ops.DEV` |
//! | `diskspace`       | `diskspace`          | `disk_space.MOUNT`, `disk_inodes.MOUNT` |
//!
//! "auto" is netdata's rule: the chart is created once one of its counters
//! is not zero, and kept from then on. A file a network module needs that
//! is missing at the first collection is logged once and not read again
//! (as netdata disables such a module).
//!
//! Every file is read below a root directory (`/` normally; a fixture tree
//! in tests), as netdata does with `NETDATA_HOST_PREFIX`. A missing or
//! unreadable file marks the collector's charts obsolete and is logged once;
//! when it comes back that is logged once too and the charts revive.
//!
//! The collectors only set raw kernel counters; the store does the
//! incremental, percentage, multiplier and divisor math.

mod chart_handle;
mod counter_table;
mod diskspace;
mod diskstats;
mod loadavg;
mod meminfo;
mod module_file;
mod mountinfo;
mod net_dev;
mod netfilter;
mod netstat;
mod parse;
mod sockstat;
mod softnet;
mod source;
mod stat;
mod uptime;
mod vmstat;

use std::path::Path;

use crate::collectors::Collector;

pub use diskspace::DiskspaceCollector;
pub use diskstats::DiskstatsCollector;
pub use loadavg::LoadavgCollector;
pub use meminfo::MeminfoCollector;
pub use net_dev::NetDevCollector;
pub use netfilter::{ConntrackCollector, SynproxyCollector};
pub use netstat::NetstatCollector;
pub use sockstat::SockstatCollector;
pub use softnet::SoftnetCollector;
pub use stat::StatCollector;
pub use uptime::UptimeCollector;
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
/// each reading below `root` and collecting every `update_every` seconds.
pub fn default_collectors(
    root: &Path,
    update_every: u32,
    enabled: &dyn Fn(&str) -> bool,
) -> Vec<Box<dyn Collector>> {
    let update_every = update_every.max(1);
    let mut collectors: Vec<Box<dyn Collector>> = Vec::new();
    for &switch in SWITCHES {
        if !enabled(switch) {
            continue;
        }
        let collector: Box<dyn Collector> = match switch {
            "/proc/stat" => Box::new(StatCollector::new(root, update_every)),
            "/proc/uptime" => Box::new(UptimeCollector::new(root, update_every)),
            "/proc/loadavg" => Box::new(LoadavgCollector::new(root, update_every)),
            "/proc/vmstat" => Box::new(VmstatCollector::new(root, update_every)),
            "/proc/meminfo" => Box::new(MeminfoCollector::new(root, update_every)),
            "/proc/net/dev" => Box::new(NetDevCollector::new(root, update_every)),
            "/proc/net/netstat" => Box::new(NetstatCollector::new(root, update_every)),
            "/proc/net/sockstat" => Box::new(SockstatCollector::ipv4(root, update_every)),
            "/proc/net/sockstat6" => Box::new(SockstatCollector::ipv6(root, update_every)),
            "/proc/net/softnet_stat" => Box::new(SoftnetCollector::new(root, update_every)),
            "/proc/net/stat/conntrack" => Box::new(ConntrackCollector::new(root, update_every)),
            "/proc/net/stat/synproxy" => Box::new(SynproxyCollector::new(root, update_every)),
            "/proc/diskstats" => Box::new(DiskstatsCollector::new(root, update_every)),
            "diskspace" => Box::new(DiskspaceCollector::new(root, update_every)),
            _ => continue,
        };
        collectors.push(collector);
    }
    collectors
}
