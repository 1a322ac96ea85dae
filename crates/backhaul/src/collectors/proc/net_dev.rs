//! `/proc/net/dev`: per network interface bandwidth (`net.IFACE`,
//! kilobits/s) and packets (`net_packets.IFACE`), and the bandwidth of the
//! physical interfaces together (`system.net`); per interface also errors,
//! drops, FIFO errors, compressed packets and events (`net_errors.IFACE`,
//! `net_drops`, `net_fifo`, `net_compressed`, `net_events`), and from
//! `/sys/class/net/IFACE/` its speed, duplex, operational state, carrier and
//! MTU (`net_speed`, `net_duplex`, `net_operstate`, `net_carrier`,
//! `net_mtu`).
//!
//! As in netdata:
//! * an interface is virtual when `/sys/devices/virtual/net/IFACE` exists;
//!   only the other (physical) interfaces add up into `system.net`;
//! * interfaces matching `lo fireqos* *-ifb fwpr* fwbr* fwln*` are not
//!   collected at all;
//! * an interface's charts appear once its counters are not all zero (so an
//!   idle `ifb0` gets none), and `system.net` once the sum is not zero;
//! * sent bytes and packets are negative (multiplier −8 and −1);
//! * errors, drops, FIFO, compressed and events charts appear once their
//!   counters are not zero (netdata's `auto`);
//! * speed and duplex are read for physical interfaces only, speed only
//!   while the bandwidth chart exists and the carrier file is readable (an
//!   unknown speed, `-1`, is charted as 0, as netdata does), and each
//!   speed read sets the bandwidth chart's variable `nic_speed_max`
//!   (kilobits/s: the speed in Mbit/s × 1000, netdata's alarm variable),
//!   also under `speed = no`, which only takes the chart; duplex while
//!   the carrier is readable, else `unknown`; the carrier chart exists while
//!   the carrier file is readable; operstate and MTU are read until a read
//!   fails, then no more (netdata's rules).
//!
//! An interface that leaves the file has its charts marked obsolete; one
//! that comes back revives them.
//!
//! The switches, with netdata's defaults and precedence:
//! `[plugin:proc:/proc/net/dev]`'s `enable new interfaces detected at
//! runtime` and `... for all interfaces` keys (`bandwidth`, `packets`,
//! `errors`, `drops`, `fifo`, `compressed packets`, `frames, collisions,
//! carrier counters`, `speed`, `duplex`, `operstate`, `carrier`, `mtu`),
//! then each interface's own section `[plugin:proc:/proc/net/dev:IFACE]`:
//! `enabled` (by default yes unless `enable new interfaces detected at
//! runtime` is no or `disable by default interfaces matching` names the
//! interface), `virtual` (whether it stays out of `system.net`; by default
//! as found in `/sys`), and one key per chart (`bandwidth`, `packets`,
//! `errors`, `drops`, `fifo`, `compressed`, `events`, `speed`, `duplex`,
//! `operstate`, `carrier`, `mtu`), by default the module's `... for all
//! interfaces`. The `/proc/net/dev` charts follow `yes` / `no` / `auto`
//! (`yes`: there from the first collection, zeros included); the `/sys`
//! charts are on unless `no`, as in netdata. `bandwidth for all interfaces`
//! also switches `system.net`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rrd::{ChartDef, ChartType, Host};

use wire::simple_pattern::SimplePattern;

use super::chart_handle::{auto_label, ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::module_file::KeptOpen;
use super::ondemand::{no_chart_switches, on_demand, ChartSwitches, OnDemand};
use super::parse::{lines, parse_u64, words};
use super::source::{host_path, SourceFile};
use super::variables::ChartVariable;
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/net/dev";

/// netdata's `disable by default interfaces matching`.
pub const DISABLED_INTERFACES: &str = "lo fireqos* *-ifb fwpr* fwbr* fwln*";

/// Bits in a kilobit: bandwidth is bytes × 8 / 1000.
const BITS_IN_A_KILOBIT: i64 = 1000;

/// The `[plugin:proc:/proc/net/dev]` keys of [`InterfaceSwitches`] (all
/// `auto` by default), in its order.
pub(crate) const MODULE_SWITCH_KEYS: [&str; 12] = [
    "bandwidth for all interfaces",
    "packets for all interfaces",
    "errors for all interfaces",
    "drops for all interfaces",
    "fifo for all interfaces",
    "compressed packets for all interfaces",
    "frames, collisions, carrier counters for all interfaces",
    "speed for all interfaces",
    "duplex for all interfaces",
    "operstate for all interfaces",
    "carrier for all interfaces",
    "mtu for all interfaces",
];

/// The keys of an interface's own `[plugin:proc:/proc/net/dev:IFACE]`
/// section for its chart switches, in the order of [`MODULE_SWITCH_KEYS`].
pub(crate) const INTERFACE_SWITCH_KEYS: [&str; 12] = [
    "bandwidth",
    "packets",
    "errors",
    "drops",
    "fifo",
    "compressed",
    "events",
    "speed",
    "duplex",
    "operstate",
    "carrier",
    "mtu",
];

/// The module key that says whether interfaces found later are on.
const NEW_INTERFACES_KEY: &str = "enable new interfaces detected at runtime";

/// Every key of `[plugin:proc:/proc/net/dev]` read as a switch:
/// [`NEW_INTERFACES_KEY`], then [`MODULE_SWITCH_KEYS`] (what
/// `config::PROC_CHART_SWITCHES` lists for the module).
pub const MODULE_KEYS: [&str; 13] = {
    let mut keys = [NEW_INTERFACES_KEY; 13];
    let mut i = 0;
    while i < MODULE_SWITCH_KEYS.len() {
        keys[i + 1] = MODULE_SWITCH_KEYS[i];
        i += 1;
    }
    keys
};

/// Every key of an interface's own section: `enabled`, `virtual` (a plain
/// boolean in netdata: `auto` is yes), then [`INTERFACE_SWITCH_KEYS`]
/// (what `config::PROC_INTERFACE_SWITCHES` is).
pub const INTERFACE_KEYS: [&str; 14] = {
    let mut keys = ["enabled"; 14];
    keys[1] = "virtual";
    let mut i = 0;
    while i < INTERFACE_SWITCH_KEYS.len() {
        keys[i + 2] = INTERFACE_SWITCH_KEYS[i];
        i += 1;
    }
    keys
};

// Indexes of [`InterfaceSwitches`].
const BANDWIDTH: usize = 0;
const PACKETS: usize = 1;
/// The switch of the first of [`COUNTER_CHARTS`]; the others follow.
const FIRST_COUNTER_CHART: usize = 2;
const SPEED: usize = 7;
const DUPLEX: usize = 8;
const OPERSTATE: usize = 9;
const CARRIER: usize = 10;
const MTU: usize = 11;

/// One interface's chart switches, in the order of
/// [`INTERFACE_SWITCH_KEYS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InterfaceSwitches([OnDemand; 12]);

impl InterfaceSwitches {
    /// Whether switch `which` is not `no` (netdata's test for the `/sys`
    /// charts, where `auto` is `yes`).
    fn on(&self, which: usize) -> bool {
        self.0[which] != OnDemand::No
    }

    /// Whether the chart of switch `which` is wanted this round, given
    /// whether its values are not all zero (`auto` latches to `yes`).
    fn wants(&mut self, which: usize, nonzero: bool) -> bool {
        self.0[which].wants(nonzero)
    }

    /// Whether the carrier file is read for the charts: the carrier,
    /// duplex and speed charts need it (and the speed variable of a
    /// physical interface, see [`SysFiles::new`]).
    fn reads_carrier(&self) -> bool {
        self.on(CARRIER) || self.on(DUPLEX) || self.on(SPEED)
    }
}

/// An interface's own switches: `(interface, key)` → the value set in its
/// `[plugin:proc:/proc/net/dev:IFACE]` section. Kept by the collector,
/// since interfaces come and go while it runs.
pub type InterfaceSectionSwitches =
    std::sync::Arc<dyn Fn(&str, &str) -> Option<OnDemand> + Send + Sync>;

/// No interface has a section of its own.
pub fn no_interface_sections() -> InterfaceSectionSwitches {
    std::sync::Arc::new(|_, _| None)
}

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

/// One per-interface chart drawn from `/proc/net/dev` counters: type
/// (`net_errors`: context `net.errors`), title, units, priority offset, dimensions and the
/// counter columns they show.
struct CounterChart {
    type_: &'static str,
    title: &'static str,
    units: &'static str,
    priority: i64,
    dims: &'static [DimSpec],
    columns: &'static [usize],
}

/// netdata 1.37's `auto` charts of the error-like counters, in its order.
const COUNTER_CHARTS: [CounterChart; 5] = [
    CounterChart {
        type_: "net_errors",
        title: "Interface Errors",
        units: "errors/s",
        priority: 2,
        dims: &[
            DimSpec::incremental("inbound", 1, 1),
            DimSpec::incremental("outbound", -1, 1),
        ],
        columns: &[RERRORS, TERRORS],
    },
    CounterChart {
        type_: "net_drops",
        title: "Interface Drops",
        units: "drops/s",
        priority: 3,
        dims: &[
            DimSpec::incremental("inbound", 1, 1),
            DimSpec::incremental("outbound", -1, 1),
        ],
        columns: &[RDROPS, TDROPS],
    },
    CounterChart {
        type_: "net_fifo",
        title: "Interface FIFO Buffer Errors",
        units: "errors",
        priority: 4,
        dims: &[
            DimSpec::incremental("receive", 1, 1),
            DimSpec::incremental("transmit", -1, 1),
        ],
        columns: &[RFIFO, TFIFO],
    },
    CounterChart {
        type_: "net_compressed",
        title: "Compressed Packets",
        units: "packets/s",
        priority: 5,
        dims: &[
            DimSpec::incremental("received", 1, 1),
            DimSpec::incremental("sent", -1, 1),
        ],
        columns: &[RCOMPRESSED, TCOMPRESSED],
    },
    CounterChart {
        type_: "net_events",
        title: "Network Interface Events",
        units: "events/s",
        priority: 6,
        dims: &[
            DimSpec::incremental("frames", 1, 1),
            DimSpec::incremental("collisions", -1, 1),
            DimSpec::incremental("carrier", -1, 1),
        ],
        columns: &[RFRAME, TCOLLISIONS, TCARRIER],
    },
];

const SPEED_DIMS: [DimSpec; 1] = [DimSpec::absolute("speed", 1, 1)];
const KILOBITS_IN_A_MEGABIT: i64 = 1000;
const DUPLEX_DIMS: [DimSpec; 3] = [
    DimSpec::absolute("full", 1, 1),
    DimSpec::absolute("half", 1, 1),
    DimSpec::absolute("unknown", 1, 1),
];
/// The operational states in netdata's dimension order; anything else the
/// kernel writes counts as `unknown`.
const OPERSTATES: [&str; 7] = [
    "up",
    "down",
    "notpresent",
    "lowerlayerdown",
    "testing",
    "dormant",
    "unknown",
];
const OPERSTATE_DIMS: [DimSpec; 7] = [
    DimSpec::absolute("up", 1, 1),
    DimSpec::absolute("down", 1, 1),
    DimSpec::absolute("notpresent", 1, 1),
    DimSpec::absolute("lowerlayerdown", 1, 1),
    DimSpec::absolute("testing", 1, 1),
    DimSpec::absolute("dormant", 1, 1),
    DimSpec::absolute("unknown", 1, 1),
];
const CARRIER_DIMS: [DimSpec; 2] = [
    DimSpec::absolute("up", 1, 1),
    DimSpec::absolute("down", 1, 1),
];
const MTU_DIMS: [DimSpec; 1] = [DimSpec::absolute("mtu", 1, 1)];

// Columns of an interface line (after the name).
const RBYTES: usize = 0;
const RPACKETS: usize = 1;
const RERRORS: usize = 2;
const RDROPS: usize = 3;
const RFIFO: usize = 4;
const RFRAME: usize = 5;
const RCOMPRESSED: usize = 6;
const RMULTICAST: usize = 7;
const TBYTES: usize = 8;
const TPACKETS: usize = 9;
const TERRORS: usize = 10;
const TDROPS: usize = 11;
const TFIFO: usize = 12;
const TCOLLISIONS: usize = 13;
const TCARRIER: usize = 14;
const TCOMPRESSED: usize = 15;

/// The 16 counters of one interface line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counters {
    columns: [Option<u64>; 16],
}

impl Counters {
    fn get(&self, column: usize) -> Option<u64> {
        self.columns[column]
    }
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
    let mut counters = Counters::default();
    for (slot, field) in counters.columns.iter_mut().zip(fields) {
        *slot = parse_u64(field);
    }
    Some((name, counters))
}

/// A small `/sys` file (`up`, `1500`), kept open.
struct SysFile {
    path: PathBuf,
    reader: KeptOpen,
}

impl SysFile {
    fn new(path: PathBuf) -> SysFile {
        SysFile {
            path,
            reader: KeptOpen::new(64),
        }
    }
}

/// The first word of a `/sys` file; `None` when it cannot be read (the
/// kernel answers `EINVAL` for the carrier of an interface that is down).
fn read_sys_word(file: &mut SysFile) -> Option<&[u8]> {
    let data = file.reader.read(&file.path).ok()?;
    words(data).next()
}

/// A `/sys` number; `-1` (an unknown speed) reads as 0, as netdata's
/// parser has it.
fn read_sys_number(file: &mut SysFile) -> Option<u64> {
    let word = read_sys_word(file)?;
    if word.first() == Some(&b'-') {
        return word[1..].iter().all(u8::is_ascii_digit).then_some(0);
    }
    parse_u64(word)
}

/// The `/sys/class/net/IFACE/` files of one interface that its switches
/// ask for; a file whose read failed is dropped for good where netdata
/// stops reading it (operstate, MTU).
struct SysFiles {
    speed: Option<SysFile>,
    duplex: Option<SysFile>,
    operstate: Option<SysFile>,
    carrier: Option<SysFile>,
    mtu: Option<SysFile>,
}

impl SysFiles {
    /// The files of interface `name` its `switches` need; speed and duplex
    /// for a physical interface whose directory exists (netdata charted an
    /// `unknown` duplex even without `/sys`, as in a container without it).
    /// The speed (and so the carrier) of a physical interface is read even
    /// under `speed = no`, for its `nic_speed_max`.
    fn new(
        class_net: &Path,
        name: &str,
        is_virtual: bool,
        switches: &InterfaceSwitches,
    ) -> SysFiles {
        let dir = class_net.join(name);
        let physical = !is_virtual && dir.is_dir();
        let file = |wanted: bool, file: &str| wanted.then(|| SysFile::new(dir.join(file)));
        SysFiles {
            speed: file(physical, "speed"),
            duplex: file(physical && switches.on(DUPLEX), "duplex"),
            operstate: file(switches.on(OPERSTATE), "operstate"),
            carrier: file(physical || switches.reads_carrier(), "carrier"),
            mtu: file(switches.on(MTU), "mtu"),
        }
    }
}

fn as_collected(value: Option<u64>) -> Option<i64> {
    value.and_then(|v| i64::try_from(v).ok())
}

/// The definition of chart `type_.IFACE` of interface `name` (context
/// `net.` and what follows `net_` in `type_`), with its labels (as
/// netdata: `interface_type`, `device`), at the interfaces' priority plus
/// `offset`. A container's interface (`rename`) is charted under its
/// cgroup instead: `cgroup_NAME.TYPE_DEV`, context `cgroup.net_...`
/// (`k8s.cgroup.net_...` in a Kubernetes pod), family `net DEV`, priority
/// 43000 plus `offset`, the cgroup's labels after its own.
fn interface_def(
    name: &str,
    is_virtual: bool,
    rename: Option<&NetRename>,
    type_: &str,
    title: &str,
    units: &str,
    offset: i64,
) -> ChartDef {
    let suffix = match type_ {
        "net" => "net",
        other => other.trim_start_matches("net_"),
    };
    let interface_type = auto_label(
        "interface_type",
        if is_virtual { "virtual" } else { "real" },
    );
    let device = auto_label("device", name);
    let mut def = match rename {
        None => ChartDef::new(type_, name)
            .family(name)
            .context(format!("net.{suffix}"))
            .priority(BANDWIDTH_PRIORITY + offset),
        Some(rename) => ChartDef::new(&rename.chart_type, format!("{type_}_{}", rename.device))
            .family(format!("net {}", rename.device))
            .context(format!(
                "{}cgroup.net_{suffix}",
                if rename.k8s { "k8s." } else { "" }
            ))
            .priority(CGROUP_NET_PRIORITY + offset),
    }
    .title(title)
    .units(units)
    .label(interface_type)
    .label(device);
    if let Some(rename) = rename {
        for label in &rename.labels {
            def = def.label(label.clone());
        }
    }
    def.plugin = PROC_PLUGIN.to_string();
    def.module = MODULE.to_string();
    def
}

/// Creates the line chart `type_.IFACE` (see [`interface_def`]).
#[allow(clippy::too_many_arguments)]
fn create_line(
    host: &Host,
    name: &str,
    is_virtual: bool,
    rename: Option<&NetRename>,
    type_: &str,
    title: &str,
    units: &str,
    offset: i64,
    update_every: u32,
    dims: &[DimSpec],
) -> ChartHandle {
    let def = interface_def(name, is_virtual, rename, type_, title, units, offset)
        .chart_type(ChartType::Line)
        .update_every(update_every);
    ChartHandle::create(host, def, dims)
}

/// netdata's base priority of a container interface's charts.
const CGROUP_NET_PRIORITY: i64 = 43000;

/// A container's interface as the cgroups collector finds it: the host
/// side of a veth pair (the `/proc/net/dev` name) is charted under the
/// container's cgroup, named after the container side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetRename {
    /// `cgroup_NAME`.
    pub chart_type: String,
    /// The interface's name in the container (`eth0`).
    pub device: String,
    /// A Kubernetes pod's (`k8s.` contexts).
    pub k8s: bool,
    /// The cgroup's labels.
    pub labels: Vec<rrd::Label>,
}

/// The renames the cgroups collector registers and this module applies,
/// shared between their threads: host device → [`NetRename`]. As in
/// netdata, a rename that goes away (its cgroup went) leaves the
/// interface's charts as they are (the interface goes too).
#[derive(Default)]
pub struct NetdevRenames {
    table: parking_lot::Mutex<HashMap<String, NetRename>>,
    generation: std::sync::atomic::AtomicU64,
}

impl NetdevRenames {
    /// Charts host device `host_device` as `rename` from the next
    /// collection on.
    pub fn add(&self, host_device: &str, rename: NetRename) {
        let mut table = self.table.lock();
        if table.get(host_device) == Some(&rename) {
            return;
        }
        tracing::info!(
            interface = host_device,
            container_interface = %rename.device,
            cgroup = %rename.chart_type,
            "network interface charted under its cgroup"
        );
        table.insert(host_device.to_string(), rename);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Forgets host device `host_device`'s rename.
    pub fn remove(&self, host_device: &str) {
        self.table.lock().remove(host_device);
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn get(&self, host_device: &str) -> Option<NetRename> {
        self.table.lock().get(host_device).cloned()
    }
}

/// What the collector knows about one interface.
struct Interface {
    name: String,
    /// Collected at all (see [`NewInterfaces::enabled`]).
    enabled: bool,
    /// Found under `/sys/devices/virtual/net` (its `interface_type` label).
    is_virtual: bool,
    /// Charted under a container's cgroup, with received and sent swapped
    /// (the container's view).
    rename: Option<NetRename>,
    /// Added up into `system.net`: not virtual, unless its section's
    /// `virtual` key says otherwise.
    in_system_net: bool,
    switches: InterfaceSwitches,
    seen: bool,
    sys: SysFiles,
    bandwidth: Option<ChartHandle>,
    /// `net.IFACE`'s `nic_speed_max`.
    nic_speed_max: ChartVariable,
    packets: Option<ChartHandle>,
    /// The charts of [`COUNTER_CHARTS`], in that order.
    counter_charts: [Option<ChartHandle>; 5],
    speed: Option<ChartHandle>,
    duplex: Option<ChartHandle>,
    operstate: Option<ChartHandle>,
    carrier: Option<ChartHandle>,
    mtu: Option<ChartHandle>,
}

impl Interface {
    fn interface_chart(&self, type_: &str, title: &str, units: &str, offset: i64) -> ChartDef {
        interface_def(
            &self.name,
            self.is_virtual,
            self.rename.as_ref(),
            type_,
            title,
            units,
            offset,
        )
    }

    /// Takes on `rename`: the charts made so far become obsolete, and the
    /// next collection makes them under the new names (the switches keep
    /// what they latched).
    fn rename(&mut self, rename: NetRename) {
        self.mark_obsolete();
        for chart in self.charts() {
            *chart = None;
        }
        self.nic_speed_max = ChartVariable::new("nic_speed_max");
        self.rename = Some(rename);
    }

    /// The charts drawn from `/sys/class/net/IFACE/`.
    fn update_sys_charts(&mut self, host: &Host, cycle: &mut Cycle, update_every: u32) {
        let carrier = self.sys.carrier.as_mut().and_then(read_sys_number);
        if let Some(carrier) = carrier.filter(|_| self.switches.on(CARRIER)) {
            let values = [Some(i64::from(carrier == 1)), Some(i64::from(carrier != 1))];
            let title = "Interface Physical Link State";
            self.carrier
                .get_or_insert_with(|| {
                    create_line(
                        host,
                        &self.name,
                        self.is_virtual,
                        self.rename.as_ref(),
                        "net_carrier",
                        title,
                        "state",
                        10,
                        update_every,
                        &CARRIER_DIMS,
                    )
                })
                .update(cycle, &values);
        } else if let Some(chart) = &mut self.carrier {
            chart.mark_obsolete();
        }

        if let (Some(bandwidth), Some(_)) = (&self.bandwidth, carrier) {
            if let Some(file) = &mut self.sys.speed {
                if let Some(speed) = read_sys_number(file) {
                    self.nic_speed_max.set(
                        host,
                        bandwidth,
                        speed as f64 * KILOBITS_IN_A_MEGABIT as f64,
                    );
                    let kilobits = i64::try_from(speed)
                        .ok()
                        .and_then(|s| s.checked_mul(KILOBITS_IN_A_MEGABIT));
                    if self.switches.on(SPEED) {
                        let title = "Interface Speed";
                        self.speed
                            .get_or_insert_with(|| {
                                create_line(
                                    host,
                                    &self.name,
                                    self.is_virtual,
                                    self.rename.as_ref(),
                                    "net_speed",
                                    title,
                                    "kilobits/s",
                                    7,
                                    update_every,
                                    &SPEED_DIMS,
                                )
                            })
                            .update(cycle, &[kilobits]);
                    }
                }
            }
        }

        if let Some(file) = &mut self.sys.duplex {
            let duplex = match carrier.and_then(|_| read_sys_word(file)) {
                Some(word) if word.starts_with(b"f") => 0,
                Some(word) if word.starts_with(b"h") => 1,
                _ => 2,
            };
            let values = [0, 1, 2].map(|d| Some(i64::from(d == duplex)));
            let title = "Interface Duplex State";
            self.duplex
                .get_or_insert_with(|| {
                    create_line(
                        host,
                        &self.name,
                        self.is_virtual,
                        self.rename.as_ref(),
                        "net_duplex",
                        title,
                        "state",
                        8,
                        update_every,
                        &DUPLEX_DIMS,
                    )
                })
                .update(cycle, &values);
        }

        if let Some(file) = &mut self.sys.operstate {
            match read_sys_word(file) {
                Some(word) => {
                    let state = OPERSTATES
                        .iter()
                        .position(|s| s.as_bytes() == word)
                        .unwrap_or(OPERSTATES.len() - 1);
                    let values: [Option<i64>; 7] =
                        std::array::from_fn(|i| Some(i64::from(i == state)));
                    let title = "Interface Operational State";
                    self.operstate
                        .get_or_insert_with(|| {
                            create_line(
                                host,
                                &self.name,
                                self.is_virtual,
                                self.rename.as_ref(),
                                "net_operstate",
                                title,
                                "state",
                                9,
                                update_every,
                                &OPERSTATE_DIMS,
                            )
                        })
                        .update(cycle, &values);
                }
                None => {
                    tracing::info!(interface = %self.name, path = %file.path.display(), "cannot read the operational state; no longer collected");
                    self.sys.operstate = None;
                    if let Some(chart) = &mut self.operstate {
                        chart.mark_obsolete();
                    }
                }
            }
        }

        if let Some(file) = &mut self.sys.mtu {
            match read_sys_number(file) {
                Some(mtu) => {
                    let value = i64::try_from(mtu).ok();
                    self.mtu
                        .get_or_insert_with(|| {
                            create_line(
                                host,
                                &self.name,
                                self.is_virtual,
                                self.rename.as_ref(),
                                "net_mtu",
                                "Interface MTU",
                                "octets",
                                11,
                                update_every,
                                &MTU_DIMS,
                            )
                        })
                        .update(cycle, &[value]);
                }
                None => {
                    tracing::info!(interface = %self.name, path = %file.path.display(), "cannot read the MTU; no longer collected");
                    self.sys.mtu = None;
                    if let Some(chart) = &mut self.mtu {
                        chart.mark_obsolete();
                    }
                }
            }
        }
    }

    /// Every chart slot of the interface.
    fn charts(&mut self) -> impl Iterator<Item = &mut Option<ChartHandle>> {
        [
            &mut self.bandwidth,
            &mut self.packets,
            &mut self.speed,
            &mut self.duplex,
            &mut self.operstate,
            &mut self.carrier,
            &mut self.mtu,
        ]
        .into_iter()
        .chain(self.counter_charts.iter_mut())
    }

    fn mark_obsolete(&mut self) {
        super::chart_handle::mark_all_obsolete(self.charts());
    }
}

/// What decides how a newly seen interface is collected: where its `/sys`
/// files are, and the switches and patterns of netdata.conf.
struct NewInterfaces {
    virtual_net_dir: PathBuf,
    class_net_dir: PathBuf,
    /// `disable by default interfaces matching`.
    disabled: SimplePattern,
    /// `enable new interfaces detected at runtime` (yes).
    enabled_by_default: bool,
    /// The `... for all interfaces` switches.
    module_switches: InterfaceSwitches,
    /// The interfaces' own sections.
    sections: InterfaceSectionSwitches,
}

impl NewInterfaces {
    /// The value of `key` in interface `name`'s own section, if set.
    fn own_switch(&self, name: &str, key: &str) -> Option<OnDemand> {
        (self.sections)(name, key)
    }

    /// Whether interface `name` is collected, as netdata decides: its
    /// section's `enabled` (only `no` is off), by default yes unless
    /// `enable new interfaces detected at runtime` is no or `disable by
    /// default interfaces matching` names it.
    fn enabled(&self, name: &str) -> bool {
        match self.own_switch(name, "enabled") {
            Some(switch) => switch != OnDemand::No,
            None => self.enabled_by_default && !self.disabled.matches(name),
        }
    }

    /// Each chart's switch of interface `name`: its section's key, by
    /// default the module's `... for all interfaces`.
    fn switches(&self, name: &str) -> InterfaceSwitches {
        InterfaceSwitches(std::array::from_fn(|i| {
            self.own_switch(name, INTERFACE_SWITCH_KEYS[i])
                .unwrap_or(self.module_switches.0[i])
        }))
    }

    /// Interface `name`, first seen in the file.
    fn interface(&self, name: String) -> Interface {
        let is_virtual = self.virtual_net_dir.join(&name).exists();
        let counts_as_virtual = self
            .own_switch(&name, "virtual")
            .map_or(is_virtual, |switch| switch != OnDemand::No);
        let switches = self.switches(&name);
        Interface {
            enabled: self.enabled(&name),
            is_virtual,
            in_system_net: !counts_as_virtual,
            sys: SysFiles::new(&self.class_net_dir, &name, is_virtual, &switches),
            switches,
            name,
            rename: None,
            seen: false,
            bandwidth: None,
            nic_speed_max: ChartVariable::new("nic_speed_max"),
            packets: None,
            counter_charts: Default::default(),
            speed: None,
            duplex: None,
            operstate: None,
            carrier: None,
            mtu: None,
        }
    }
}

/// Collects `/proc/net/dev`.
pub struct NetDevCollector {
    file: SourceFile,
    update_every: u32,
    new_interfaces: NewInterfaces,
    interfaces: HashMap<Vec<u8>, Interface>,
    system_net: Option<ChartHandle>,
    /// `bandwidth for all interfaces` as the switch of `system.net`
    /// (latched on its own: a new interface still defaults to the
    /// configured value).
    system_net_switch: OnDemand,
    /// Container interfaces (from the cgroups collector), and the table's
    /// generation last applied.
    renames: Option<std::sync::Arc<NetdevRenames>>,
    renames_applied: u64,
    refused: RefusedRounds,
}

impl NetDevCollector {
    /// Every chart on netdata's default switch.
    pub fn new(root: &Path, update_every: u32) -> NetDevCollector {
        NetDevCollector::configured(
            root,
            update_every,
            &no_chart_switches,
            no_interface_sections(),
        )
    }

    /// With the switches of `[plugin:proc:/proc/net/dev]` (`enable new
    /// interfaces detected at runtime`, the `... for all interfaces` keys)
    /// and the interfaces' own sections.
    pub fn configured(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
        interface_sections: InterfaceSectionSwitches,
    ) -> NetDevCollector {
        let module_switches = InterfaceSwitches(
            MODULE_SWITCH_KEYS.map(|key| on_demand(switches, MODULE, key, OnDemand::Auto)),
        );
        NetDevCollector {
            file: SourceFile::new(root, "/proc/net/dev"),
            update_every: update_every.max(1),
            new_interfaces: NewInterfaces {
                virtual_net_dir: host_path(root, "/sys/devices/virtual/net"),
                class_net_dir: host_path(root, "/sys/class/net"),
                disabled: SimplePattern::new(DISABLED_INTERFACES),
                enabled_by_default: switches(MODULE, NEW_INTERFACES_KEY) != Some(OnDemand::No),
                module_switches,
                sections: interface_sections,
            },
            interfaces: HashMap::new(),
            system_net: None,
            system_net_switch: module_switches.0[BANDWIDTH],
            renames: None,
            renames_applied: 0,
            refused: RefusedRounds::default(),
        }
    }

    /// With `disable by default interfaces matching` set (a netdata simple
    /// pattern).
    pub fn disabling_interfaces(mut self, pattern: &str) -> NetDevCollector {
        self.new_interfaces.disabled = SimplePattern::new(pattern);
        self
    }

    /// Charts the container interfaces `renames` lists under their
    /// cgroups (the table the cgroups collector fills).
    pub fn renaming(mut self, renames: std::sync::Arc<NetdevRenames>) -> NetDevCollector {
        self.renames = Some(renames);
        self
    }

    /// Applies renames registered since the last collection.
    fn apply_renames(&mut self) {
        let Some(renames) = &self.renames else {
            return;
        };
        let generation = renames.generation();
        if generation == self.renames_applied {
            return;
        }
        self.renames_applied = generation;
        for interface in self.interfaces.values_mut() {
            if let Some(rename) = renames.get(&interface.name) {
                if interface.rename.as_ref() != Some(&rename) {
                    interface.rename(rename);
                }
            }
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
        self.apply_renames();
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
                let mut interface = self
                    .new_interfaces
                    .interface(String::from_utf8_lossy(name).into_owned());
                interface.rename = self.renames.as_ref().and_then(|r| r.get(&interface.name));
                self.interfaces.insert(name.to_vec(), interface);
            }
            let Some(interface) = self.interfaces.get_mut(name) else {
                continue;
            };
            interface.seen = true;
            if !interface.enabled {
                continue;
            }

            if interface.in_system_net {
                system_received = system_received.wrapping_add(counters.get(RBYTES).unwrap_or(0));
                system_sent = system_sent.wrapping_add(counters.get(TBYTES).unwrap_or(0));
            }

            let has_bytes =
                counters.get(RBYTES).unwrap_or(0) != 0 || counters.get(TBYTES).unwrap_or(0) != 0;
            if interface.bandwidth.is_none() && interface.switches.wants(BANDWIDTH, has_bytes) {
                let def = interface
                    .interface_chart("net", "Bandwidth", "kilobits/s", 0)
                    .chart_type(ChartType::Area)
                    .update_every(update_every);
                interface.bandwidth = Some(ChartHandle::create(host, def, &BANDWIDTH_DIMS));
            }
            // A container's interface is seen from the container: what
            // the host side sends, the container receives (netdata's
            // `flipped`; not for multicast and events).
            let flipped = interface.rename.is_some();
            let pair = |rx: usize, tx: usize| {
                let values = [
                    as_collected(counters.get(rx)),
                    as_collected(counters.get(tx)),
                ];
                if flipped {
                    [values[1], values[0]]
                } else {
                    values
                }
            };
            if let Some(chart) = &mut interface.bandwidth {
                chart.update(&mut cycle, &pair(RBYTES, TBYTES));
            }

            let has_packets = [
                counters.get(RPACKETS),
                counters.get(TPACKETS),
                counters.get(RMULTICAST),
            ]
            .iter()
            .any(|v| v.unwrap_or(0) != 0);
            if interface.packets.is_none() && interface.switches.wants(PACKETS, has_packets) {
                let def = interface
                    .interface_chart("net_packets", "Packets", "packets/s", 1)
                    .chart_type(ChartType::Line)
                    .update_every(update_every);
                interface.packets = Some(ChartHandle::create(host, def, &PACKETS_DIMS));
            }
            if let Some(chart) = &mut interface.packets {
                let [received, sent] = pair(RPACKETS, TPACKETS);
                chart.update(
                    &mut cycle,
                    &[received, sent, as_collected(counters.get(RMULTICAST))],
                );
            }

            let charts = COUNTER_CHARTS.iter().zip(&mut interface.counter_charts);
            for (i, (spec, chart)) in charts.enumerate() {
                let mut values = [None; 3];
                for (value, &column) in values.iter_mut().zip(spec.columns) {
                    *value = as_collected(counters.get(column));
                }
                if flipped && spec.columns.len() == 2 {
                    values.swap(0, 1);
                }
                let values = &values[..spec.columns.len()];
                let nonzero = values.iter().any(|v| v.unwrap_or(0) != 0);
                if chart.is_none() && interface.switches.wants(FIRST_COUNTER_CHART + i, nonzero) {
                    *chart = Some(create_line(
                        host,
                        &interface.name,
                        interface.is_virtual,
                        interface.rename.as_ref(),
                        spec.type_,
                        spec.title,
                        spec.units,
                        spec.priority,
                        update_every,
                        spec.dims,
                    ));
                }
                if let Some(chart) = chart {
                    chart.update(&mut cycle, values);
                }
            }

            interface.update_sys_charts(host, &mut cycle, update_every);
        }

        // Interfaces that left the file.
        self.interfaces.retain(|_, interface| {
            let keep = std::mem::replace(&mut interface.seen, false);
            if !keep {
                interface.mark_obsolete();
            }
            keep
        });

        let system_nonzero = system_received != 0 || system_sent != 0;
        if self.system_net.is_none() && self.system_net_switch.wants(system_nonzero) {
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
            [RBYTES, RPACKETS, RMULTICAST, TBYTES, TPACKETS, TERRORS].map(|i| c.get(i)),
            [
                Some(73_652_174),
                Some(4879),
                Some(3),
                Some(362_602),
                Some(4386),
                Some(0)
            ]
        );
        // A counter glued to the colon, as old kernels wrote big numbers.
        let (name, c) = parse_line(b"eth1:123 1 0 0 0 0 0 0 456 2 0 0 0 0 0 0").unwrap();
        assert_eq!(
            (name, c.get(RBYTES), c.get(TBYTES)),
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
        assert_eq!(c.get(RBYTES), None);
    }

    /// New interfaces decided with `module` as the `[plugin:proc:/proc/net/dev]`
    /// switches and `own` as the interfaces' sections, no `/sys`.
    fn new_interfaces(
        module: ChartSwitches<'_>,
        own: fn(&str, &str) -> Option<OnDemand>,
    ) -> NewInterfaces {
        NetDevCollector::configured(
            Path::new("/nonexistent"),
            1,
            module,
            std::sync::Arc::new(own),
        )
        .new_interfaces
    }

    #[test]
    fn an_interfaces_section_wins_over_the_module_switches() {
        let module = |m: &str, key: &str| match (m, key) {
            (MODULE, "errors for all interfaces") => Some(OnDemand::Yes),
            (MODULE, "mtu for all interfaces") => Some(OnDemand::No),
            _ => None,
        };
        let new = new_interfaces(&module, |interface, key| match (interface, key) {
            ("lo", "enabled") => Some(OnDemand::Auto),
            ("lo", "virtual") => Some(OnDemand::No),
            ("eth0", "errors") => Some(OnDemand::No),
            ("eth0", "mtu") => Some(OnDemand::Yes),
            ("eth1", "enabled") => Some(OnDemand::No),
            _ => None,
        });
        // `enabled = auto` is on (lo is disabled by default); only `no` is off.
        assert!(new.enabled("lo") && !new.enabled("eth1") && new.enabled("eth0"));
        assert!(!new.enabled("fwbr0"));
        let lo = new.interface("lo".to_string());
        assert!(lo.in_system_net, "virtual = no");
        assert_eq!(lo.switches.0[FIRST_COUNTER_CHART], OnDemand::Yes);
        assert_eq!(lo.switches.0[MTU], OnDemand::No);
        assert!(lo.sys.mtu.is_none());
        let eth0 = new.interface("eth0".to_string());
        assert_eq!(eth0.switches.0[FIRST_COUNTER_CHART], OnDemand::No);
        assert_eq!(eth0.switches.0[MTU], OnDemand::Yes);
        assert_eq!(eth0.switches.0[BANDWIDTH], OnDemand::Auto);
        assert!(eth0.sys.mtu.is_some());
    }

    #[test]
    fn new_interfaces_can_be_off_by_default() {
        let module = |m: &str, key: &str| {
            (m == MODULE && key == "enable new interfaces detected at runtime")
                .then_some(OnDemand::No)
        };
        let new = new_interfaces(&module, |interface, key| {
            (interface == "eth0" && key == "enabled").then_some(OnDemand::Yes)
        });
        assert!(new.enabled("eth0"));
        assert!(!new.enabled("eth1"));
    }

    #[test]
    fn the_carrier_is_read_while_a_chart_needs_it() {
        let mut switches = InterfaceSwitches([OnDemand::Auto; 12]);
        assert!(switches.reads_carrier());
        switches.0[CARRIER] = OnDemand::No;
        switches.0[DUPLEX] = OnDemand::No;
        assert!(switches.reads_carrier(), "speed needs it");
        switches.0[SPEED] = OnDemand::No;
        assert!(!switches.reads_carrier());
    }

    #[test]
    fn every_switch_key_is_one_netdata_conf_reads() {
        let module_keys = crate::config::PROC_CHART_SWITCHES
            .iter()
            .find(|(module, _)| *module == MODULE)
            .map(|(_, keys)| *keys)
            .unwrap_or_default();
        let mut expected = MODULE_SWITCH_KEYS.to_vec();
        expected.push("enable new interfaces detected at runtime");
        expected.sort_unstable();
        let mut read = module_keys.to_vec();
        read.sort_unstable();
        assert_eq!(read, expected);

        let mut expected = INTERFACE_SWITCH_KEYS.to_vec();
        expected.extend(["enabled", "virtual"]);
        expected.sort_unstable();
        let mut read = crate::config::PROC_INTERFACE_SWITCHES.to_vec();
        read.sort_unstable();
        assert_eq!(read, expected);
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
