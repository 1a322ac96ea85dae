//! `/proc/net/dev`: per network interface bandwidth (`net.IFACE`,
//! kilobits/s) and packets (`net_packets.IFACE`), and the bandwidth of the
//! physical interfaces together (`system.net`).
//!
//! As in netdata:
//! * an interface is virtual when `/sys/devices/virtual/net/IFACE` exists;
//!   only the other (physical) interfaces add up into `system.net`;
//! * interfaces matching `lo fireqos* *-ifb fwpr* fwbr* fwln*` are not
//!   collected at all;
//! * an interface's charts appear once its counters are not all zero (so an
//!   idle `ifb0` gets none), and `system.net` once the sum is not zero;
//! * sent bytes and packets are negative (multiplier −8 and −1).
//!
//! An interface that leaves the file has its charts marked obsolete; one
//! that comes back revives them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rrd::{ChartDef, ChartType, Host};
use wire::simple_pattern::SimplePattern;

use super::chart_handle::{auto_label, ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::parse::{lines, parse_u64, words};
use super::source::{host_path, SourceFile};
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/net/dev";

/// netdata's `disable by default interfaces matching`.
pub const DISABLED_INTERFACES: &str = "lo fireqos* *-ifb fwpr* fwbr* fwln*";

/// Bits in a kilobit: bandwidth is bytes × 8 / 1000.
const BITS_IN_A_KILOBIT: i64 = 1000;

const SYSTEM_NET: ChartSpec = ChartSpec {
    type_: "system",
    id: "net",
    family: "network",
    context: None,
    title: "Physical Network Interfaces Aggregated Bandwidth",
    units: "kilobits/s",
    chart_type: ChartType::Area,
    priority: 500,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const SYSTEM_NET_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("InOctets", 8, BITS_IN_A_KILOBIT).named("received"),
    DimSpec::incremental("OutOctets", -8, BITS_IN_A_KILOBIT).named("sent"),
];

const BANDWIDTH_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("received", 8, BITS_IN_A_KILOBIT),
    DimSpec::incremental("sent", -8, BITS_IN_A_KILOBIT),
];
const BANDWIDTH_PRIORITY: i64 = 7000;

const PACKETS_DIMS: [DimSpec; 3] = [
    DimSpec::incremental("received", 1, 1),
    DimSpec::incremental("sent", -1, 1),
    DimSpec::incremental("multicast", 1, 1),
];
const PACKETS_PRIORITY: i64 = 7001;

/// The counters of one interface line that the charts use.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counters {
    rbytes: Option<u64>,
    rpackets: Option<u64>,
    rmulticast: Option<u64>,
    tbytes: Option<u64>,
    tpackets: Option<u64>,
}

/// Splits an interface line into its name and counters; `None` for headers
/// and lines with fewer than 16 counters.
fn parse_line(line: &[u8]) -> Option<(&[u8], Counters)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line[..colon].trim_ascii();
    if name.is_empty() {
        return None;
    }
    let mut fields: [&[u8]; 16] = [b""; 16];
    let mut count = 0;
    for (slot, word) in fields.iter_mut().zip(words(&line[colon + 1..])) {
        *slot = word;
        count += 1;
    }
    if count < 16 {
        return None;
    }
    let number = |i: usize| parse_u64(fields[i]);
    Some((
        name,
        Counters {
            rbytes: number(0),
            rpackets: number(1),
            rmulticast: number(7),
            tbytes: number(8),
            tpackets: number(9),
        },
    ))
}

fn as_collected(value: Option<u64>) -> Option<i64> {
    value.and_then(|v| i64::try_from(v).ok())
}

/// What the collector knows about one interface.
struct Interface {
    name: String,
    /// Not matched by [`DISABLED_INTERFACES`].
    enabled: bool,
    is_virtual: bool,
    seen: bool,
    bandwidth: Option<ChartHandle>,
    packets: Option<ChartHandle>,
}

impl Interface {
    fn interface_chart(&self, type_: &str, context: &str, title: &str, units: &str) -> ChartDef {
        let mut def = ChartDef::new(type_, self.name.as_str())
            .family(self.name.as_str())
            .context(context)
            .title(title)
            .units(units)
            .label(auto_label(
                "interface_type",
                if self.is_virtual { "virtual" } else { "real" },
            ))
            .label(auto_label("device", &self.name));
        def.plugin = PROC_PLUGIN.to_string();
        def.module = MODULE.to_string();
        def
    }

    fn mark_obsolete(&mut self) {
        super::chart_handle::mark_all_obsolete([&mut self.bandwidth, &mut self.packets]);
    }
}

/// Collects `/proc/net/dev`.
pub struct NetDevCollector {
    file: SourceFile,
    virtual_net_dir: PathBuf,
    update_every: u32,
    disabled: SimplePattern,
    interfaces: HashMap<Vec<u8>, Interface>,
    system_net: Option<ChartHandle>,
    refused: RefusedRounds,
}

impl NetDevCollector {
    pub fn new(root: &Path, update_every: u32) -> NetDevCollector {
        NetDevCollector {
            file: SourceFile::new(root, "/proc/net/dev"),
            virtual_net_dir: host_path(root, "/sys/devices/virtual/net"),
            update_every: update_every.max(1),
            disabled: SimplePattern::new(DISABLED_INTERFACES),
            interfaces: HashMap::new(),
            system_net: None,
            refused: RefusedRounds::default(),
        }
    }

    fn mark_all_obsolete(&mut self) {
        for interface in self.interfaces.values_mut() {
            interface.mark_obsolete();
        }
        if let Some(chart) = &mut self.system_net {
            chart.mark_obsolete();
        }
    }
}

impl Collector for NetDevCollector {
    fn name(&self) -> &str {
        "proc:netdev"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let Some(data) = self.file.read() else {
            self.mark_all_obsolete();
            return Ok(());
        };
        let update_every = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        let mut system_received: u64 = 0;
        let mut system_sent: u64 = 0;

        for line in lines(data) {
            let Some((name, counters)) = parse_line(line) else {
                continue;
            };
            if !self.interfaces.contains_key(name) {
                let text = String::from_utf8_lossy(name).into_owned();
                let interface = Interface {
                    enabled: !self.disabled.matches(&text),
                    is_virtual: self.virtual_net_dir.join(&text).exists(),
                    name: text,
                    seen: false,
                    bandwidth: None,
                    packets: None,
                };
                self.interfaces.insert(name.to_vec(), interface);
            }
            let Some(interface) = self.interfaces.get_mut(name) else {
                continue;
            };
            interface.seen = true;
            if !interface.enabled {
                continue;
            }

            if !interface.is_virtual {
                system_received = system_received.wrapping_add(counters.rbytes.unwrap_or(0));
                system_sent = system_sent.wrapping_add(counters.tbytes.unwrap_or(0));
            }

            let has_bytes = counters.rbytes.unwrap_or(0) != 0 || counters.tbytes.unwrap_or(0) != 0;
            if interface.bandwidth.is_none() && has_bytes {
                let def = interface
                    .interface_chart("net", "net.net", "Bandwidth", "kilobits/s")
                    .chart_type(ChartType::Area)
                    .priority(BANDWIDTH_PRIORITY)
                    .update_every(update_every);
                interface.bandwidth = Some(ChartHandle::create(host, def, &BANDWIDTH_DIMS));
            }
            if let Some(chart) = &mut interface.bandwidth {
                chart.update(
                    &mut cycle,
                    &[as_collected(counters.rbytes), as_collected(counters.tbytes)],
                );
            }

            let has_packets = [counters.rpackets, counters.tpackets, counters.rmulticast]
                .iter()
                .any(|v| v.unwrap_or(0) != 0);
            if interface.packets.is_none() && has_packets {
                let def = interface
                    .interface_chart("net_packets", "net.packets", "Packets", "packets/s")
                    .chart_type(ChartType::Line)
                    .priority(PACKETS_PRIORITY)
                    .update_every(update_every);
                interface.packets = Some(ChartHandle::create(host, def, &PACKETS_DIMS));
            }
            if let Some(chart) = &mut interface.packets {
                chart.update(
                    &mut cycle,
                    &[
                        as_collected(counters.rpackets),
                        as_collected(counters.tpackets),
                        as_collected(counters.rmulticast),
                    ],
                );
            }
        }

        // Interfaces that left the file.
        self.interfaces.retain(|_, interface| {
            let keep = std::mem::replace(&mut interface.seen, false);
            if !keep {
                interface.mark_obsolete();
            }
            keep
        });

        if self.system_net.is_none() && (system_received != 0 || system_sent != 0) {
            self.system_net = Some(ChartHandle::create(
                host,
                SYSTEM_NET.def(update_every),
                &SYSTEM_NET_DIMS,
            ));
        }
        if let Some(chart) = &mut self.system_net {
            chart.update(
                &mut cycle,
                &[
                    as_collected(Some(system_received)),
                    as_collected(Some(system_sent)),
                ],
            );
        }

        self.refused.settle("proc:netdev", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_interface_lines() {
        let (name, c) = parse_line(
            b"  eth0: 73652174    4879    0    0    0     0          0         3   362602    4386    0    0    0     0       0          0",
        )
        .unwrap();
        assert_eq!(name, b"eth0");
        assert_eq!(
            c,
            Counters {
                rbytes: Some(73_652_174),
                rpackets: Some(4879),
                rmulticast: Some(3),
                tbytes: Some(362_602),
                tpackets: Some(4386),
            }
        );
        // A counter glued to the colon, as old kernels wrote big numbers.
        let (name, c) = parse_line(b"eth1:123 1 0 0 0 0 0 0 456 2 0 0 0 0 0 0").unwrap();
        assert_eq!(
            (name, c.rbytes, c.tbytes),
            (&b"eth1"[..], Some(123), Some(456))
        );
    }

    #[test]
    fn headers_and_short_lines_are_skipped() {
        assert!(parse_line(
            b"Inter-|   Receive                                                |  Transmit"
        )
        .is_none());
        assert!(parse_line(
            b" face |bytes    packets errs drop fifo frame compressed multicast|bytes"
        )
        .is_none());
        assert!(parse_line(b"eth0: 1 2 3").is_none());
        assert!(parse_line(b": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16").is_none());
        let (_, c) = parse_line(b"eth0: x 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16").unwrap();
        assert_eq!(c.rbytes, None);
    }

    #[test]
    fn the_default_disabled_list() {
        let p = SimplePattern::new(DISABLED_INTERFACES);
        assert!(p.matches("lo"));
        assert!(p.matches("eth0-ifb"));
        assert!(p.matches("fwbr101i0"));
        assert!(!p.matches("eth0"));
        assert!(!p.matches("ifb0"));
    }
}
