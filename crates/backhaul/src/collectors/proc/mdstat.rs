//! `/proc/mdstat`: Linux software RAID. Failed disks of every redundant
//! array (`mdstat.mdstat_health`), and per array its disks in use and
//! down (`mdstat.NAME_disks`), blocks found unsynchronized
//! (`mdstat.NAME_mismatch`, from `/sys/block/NAME/md/mismatch_cnt`), the
//! progress of a check, resync, recovery or reshape
//! (`mdstat.NAME_operation`), its expected finish (`mdstat.NAME_finish`)
//! and speed (`mdstat.NAME_speed`); a non-redundant array (raid0, linear)
//! only shows that it is there (`mdstat.NAME_availability`).
//!
//! As in netdata 1.37: only active arrays count; an array's charts go
//! obsolete when it leaves the file; mismatch counts are read for at most
//! 50 arrays, and not at all once a `mismatch_cnt` file cannot be read.

use std::path::{Path, PathBuf};

use rrd::{ChartDef, ChartType, Host};

use super::chart_handle::{
    auto_label, mark_all_obsolete, ChartHandle, Cycle, DimSpec, RefusedRounds,
};
use super::ondemand::{enabled, on_demand, ChartSwitches, OnDemand};
use super::parse::{lines, parse_f64, parse_u64, words};
use super::source::{host_path, SourceFile};
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/mdstat";

/// netdata reads no mismatch counts beyond this many arrays.
const MAX_MISMATCH_ARRAYS: usize = 50;

/// The words of an mdstat line: separated by blanks and `:`.
fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b.is_ascii_whitespace() || b == b':')
        .filter(|w| !w.is_empty())
}

/// What one read says about an array.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Status {
    redundant: bool,
    total_disks: i64,
    inuse_disks: i64,
    /// check, resync, recovery, reshape: percent × 100.
    operations: [i64; 4],
    finish_in_s: i64,
    speed_kib: i64,
}

/// `[2/1]` → (2, 1).
fn disk_counts(word: &[u8]) -> Option<(i64, i64)> {
    let inner = word.strip_prefix(b"[")?;
    let end = inner.iter().position(|&b| b == b']')?;
    let inner = &inner[..end];
    let slash = inner.iter().position(|&b| b == b'/')?;
    let total = parse_u64(&inner[..slash])?;
    let inuse = parse_u64(&inner[slash + 1..])?;
    Some((i64::try_from(total).ok()?, i64::try_from(inuse).ok()?))
}

/// The number at the start of `word` (`2.3min` → 2.3, `8000K/sec` → 8000).
fn leading_number(word: &[u8]) -> Option<f64> {
    let end = word
        .iter()
        .position(|&b| !(b.is_ascii_digit() || b == b'.'))
        .unwrap_or(word.len());
    parse_f64(&word[..end])
}

/// An operation line: `[==>....]  recovery = 12.6% (1/8) finish=2.3min
/// speed=8000K/sec`, into `status`.
fn parse_operation(line: &[u8], status: &mut Status) {
    let mut w: [&[u8]; 7] = [b""; 7];
    let mut n = 0;
    for (slot, word) in w.iter_mut().zip(fields(line)) {
        *slot = word;
        n += 1;
    }
    if n < 7 || !w[0].starts_with(b"[") {
        return;
    }
    let percent = leading_number(w[3]).map_or(0, |p| (p * 100.0) as i64);
    // netdata tells the operations apart by their fourth letter.
    match w[1].get(3) {
        Some(b'c') => status.operations[0] = percent,
        Some(b'y') => status.operations[1] = percent,
        Some(b'o') => status.operations[2] = percent,
        Some(b'h') => status.operations[3] = percent,
        _ => {}
    }
    if let Some(finish) = w[5].strip_prefix(b"finish=") {
        status.finish_in_s = leading_number(finish).map_or(0, |m| (m * 60.0) as i64);
    }
    if let Some(speed) = w[6].strip_prefix(b"speed=") {
        status.speed_kib = leading_number(speed).map_or(0, |s| s as i64);
    }
}

/// An array and its charts: disks, mismatch, operation, finish, speed,
/// availability.
struct Array {
    name: String,
    level: String,
    /// Its place among the arrays when first seen (the charts' priority).
    index: i64,
    status: Status,
    present: bool,
    mismatch: Option<SourceFile>,
    health_dim: Option<usize>,
    charts: [Option<ChartHandle>; 6],
}

const DISKS: usize = 0;
const MISMATCH: usize = 1;
const OPERATION: usize = 2;
const FINISH: usize = 3;
const SPEED: usize = 4;
const AVAILABILITY: usize = 5;

struct ArrayChart {
    suffix: &'static str,
    context: &'static str,
    title: &'static str,
    units: &'static str,
    chart_type: ChartType,
    priority: i64,
    dims: &'static [DimSpec],
}

const ARRAY_CHARTS: [ArrayChart; 6] = [
    ArrayChart {
        suffix: "disks",
        context: "md.disks",
        title: "Disks Stats",
        units: "disks",
        chart_type: ChartType::Stacked,
        priority: 2106,
        dims: &[
            DimSpec::absolute("inuse", 1, 1),
            DimSpec::absolute("down", 1, 1),
        ],
    },
    ArrayChart {
        suffix: "mismatch",
        context: "md.mismatch_cnt",
        title: "Mismatch Count",
        units: "unsynchronized blocks",
        chart_type: ChartType::Line,
        priority: 2107,
        dims: &[DimSpec::absolute("count", 1, 1)],
    },
    ArrayChart {
        suffix: "operation",
        context: "md.status",
        title: "Current Status",
        units: "percent",
        chart_type: ChartType::Line,
        priority: 2108,
        dims: &[
            DimSpec::absolute("check", 1, 100),
            DimSpec::absolute("resync", 1, 100),
            DimSpec::absolute("recovery", 1, 100),
            DimSpec::absolute("reshape", 1, 100),
        ],
    },
    ArrayChart {
        suffix: "finish",
        context: "md.expected_time_until_operation_finish",
        title: "Approximate Time Until Finish",
        units: "seconds",
        chart_type: ChartType::Line,
        priority: 2109,
        dims: &[DimSpec::absolute("finish_in", 1, 1)],
    },
    ArrayChart {
        suffix: "speed",
        context: "md.operation_speed",
        title: "Operation Speed",
        units: "KiB/s",
        chart_type: ChartType::Line,
        priority: 2110,
        dims: &[DimSpec::absolute("speed", 1, 1)],
    },
    ArrayChart {
        suffix: "availability",
        context: "md.nonredundant",
        title: "Nonredundant Array Availability",
        units: "boolean",
        chart_type: ChartType::Line,
        priority: 2105,
        dims: &[DimSpec::absolute("available", 1, 1)],
    },
];

impl Array {
    fn chart_def(&self, which: usize, update_every: u32) -> ChartDef {
        let spec = &ARRAY_CHARTS[which];
        let mut def = ChartDef::new("mdstat", format!("{}_{}", self.name, spec.suffix))
            .family(format!("{} ({})", self.name, self.level))
            .context(spec.context)
            .title(spec.title)
            .units(spec.units)
            .chart_type(spec.chart_type)
            .priority(spec.priority + self.index * 10)
            .update_every(update_every)
            .label(auto_label("device", &self.name))
            .label(auto_label("raid_level", &self.level));
        def.plugin = PROC_PLUGIN.to_string();
        def.module = MODULE.to_string();
        def
    }

    fn update(
        &mut self,
        which: usize,
        host: &Host,
        update_every: u32,
        cycle: &mut Cycle,
        values: &[Option<i64>],
    ) {
        if self.charts[which].is_none() {
            let def = self.chart_def(which, update_every);
            self.charts[which] = Some(ChartHandle::create(host, def, ARRAY_CHARTS[which].dims));
        }
        if let Some(chart) = &mut self.charts[which] {
            chart.update(cycle, values);
        }
    }
}

/// Collects `/proc/mdstat`.
pub struct MdstatCollector {
    root: PathBuf,
    file: SourceFile,
    update_every: u32,
    arrays: Vec<Array>,
    arrays_seen: i64,
    do_mismatch: bool,
    /// `mismatch count` (auto: only with at most 50 arrays, as netdata).
    mismatch_switch: OnDemand,
    /// `faulty devices`, `nonredundant arrays availability`, `disk stats`,
    /// `operation status`, `make charts obsolete` (all yes by default).
    do_health: bool,
    do_nonredundant: bool,
    do_disks: bool,
    do_operations: bool,
    make_obsolete: bool,
    health: Option<ChartHandle>,
    values: Vec<Option<i64>>,
    refused: RefusedRounds,
}

impl MdstatCollector {
    /// With the keys of `[plugin:proc:/proc/mdstat]`.
    pub fn configured(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> MdstatCollector {
        let mismatch_switch = on_demand(switches, MODULE, "mismatch count", OnDemand::Auto);
        MdstatCollector {
            root: root.to_path_buf(),
            file: SourceFile::new(root, MODULE),
            update_every: update_every.max(1),
            arrays: Vec::new(),
            arrays_seen: 0,
            do_mismatch: mismatch_switch != OnDemand::No,
            mismatch_switch,
            do_health: enabled(switches, MODULE, "faulty devices"),
            do_nonredundant: enabled(switches, MODULE, "nonredundant arrays availability"),
            do_disks: enabled(switches, MODULE, "disk stats"),
            do_operations: enabled(switches, MODULE, "operation status"),
            make_obsolete: enabled(switches, MODULE, "make charts obsolete"),
            health: None,
            values: Vec::new(),
            refused: RefusedRounds::default(),
        }
    }
}

/// Reads the arrays of `data` into `arrays` (new ones numbered from
/// `arrays_seen` on).
fn parse_arrays(arrays: &mut Vec<Array>, arrays_seen: &mut i64, data: &[u8]) {
    {
        for array in arrays.iter_mut() {
            array.present = false;
        }
        let mut current: Option<usize> = None;
        // 0: the line after an array's (disks), 1: the one after (operation).
        let mut after = 0;
        for line in lines(data) {
            let mut w = fields(line);
            let first = w.next();
            let second = w.next();
            if let (Some(name), Some(state)) = (first, second) {
                if state.starts_with(b"a") && name != b"Personalities" && name != b"unused" {
                    let Some(level) = w.next() else {
                        current = None;
                        continue;
                    };
                    let name = String::from_utf8_lossy(name);
                    let position = match arrays.iter().position(|a| a.name == name) {
                        Some(p) => p,
                        None => {
                            arrays.push(Array {
                                name: name.into_owned(),
                                level: String::from_utf8_lossy(level).into_owned(),
                                index: *arrays_seen,
                                status: Status::default(),
                                present: false,
                                mismatch: None,
                                health_dim: None,
                                charts: Default::default(),
                            });
                            *arrays_seen += 1;
                            arrays.len() - 1
                        }
                    };
                    let array = &mut arrays[position];
                    array.present = true;
                    array.status = Status::default();
                    current = Some(position);
                    after = 0;
                    continue;
                }
            }
            let Some(position) = current else {
                continue;
            };
            let status = &mut arrays[position].status;
            if after == 0 {
                after = 1;
                // `1048512 blocks super 1.2 [2/1] [U_]`
                let mut previous: &[u8] = b"";
                let mut last: &[u8] = b"";
                for word in fields(line) {
                    previous = last;
                    last = word;
                }
                if last.starts_with(b"[") {
                    if let Some((total, inuse)) = disk_counts(previous) {
                        status.redundant = true;
                        status.total_disks = total;
                        status.inuse_disks = inuse;
                    }
                } else {
                    current = None;
                }
            } else {
                parse_operation(line, status);
                current = None;
            }
        }
    }
}

impl Collector for MdstatCollector {
    fn name(&self) -> &str {
        "proc:mdstat"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let Some(data) = self.file.read() else {
            if self.make_obsolete {
                if let Some(chart) = &mut self.health {
                    chart.mark_obsolete();
                }
                for array in &mut self.arrays {
                    mark_all_obsolete(array.charts.iter_mut());
                }
            }
            return Ok(());
        };
        parse_arrays(&mut self.arrays, &mut self.arrays_seen, data);

        // Arrays that left the file.
        let make_obsolete = self.make_obsolete;
        self.arrays.retain_mut(|array| {
            if !array.present && make_obsolete {
                tracing::info!(array = %array.name, "md array gone; its charts are obsolete");
                mark_all_obsolete(array.charts.iter_mut());
            }
            array.present
        });

        let ue = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        let mismatch_allowed =
            self.mismatch_switch == OnDemand::Yes || self.arrays.len() <= MAX_MISMATCH_ARRAYS;
        if self.do_mismatch && mismatch_allowed {
            for array in self.arrays.iter_mut().filter(|a| a.status.redundant) {
                let root = &self.root;
                let file = array.mismatch.get_or_insert_with(|| {
                    SourceFile::new(root, &format!("/sys/block/{}/md/mismatch_cnt", array.name))
                });
                let count = file
                    .read()
                    .and_then(|d| words(d).next().and_then(parse_u64));
                match count {
                    Some(count) => {
                        let count = i64::try_from(count).unwrap_or(i64::MAX);
                        array.update(MISMATCH, host, ue, &mut cycle, &[Some(count)]);
                    }
                    None => {
                        tracing::warn!(
                            path = %host_path(root, &format!("/sys/block/{}/md/mismatch_cnt", array.name)).display(),
                            "cannot read an md mismatch count; mismatch counts are off"
                        );
                        self.do_mismatch = false;
                        break;
                    }
                }
            }
        }

        let redundant = self.do_health && self.arrays.iter().any(|a| a.status.redundant);
        if redundant {
            let health = self.health.get_or_insert_with(|| {
                let mut def = ChartDef::new("mdstat", "mdstat_health")
                    .family("health")
                    .context("md.health")
                    .title("Faulty Devices In MD")
                    .units("failed disks")
                    .chart_type(ChartType::Line)
                    .priority(2100)
                    .update_every(ue);
                def.plugin = PROC_PLUGIN.to_string();
                def.module = MODULE.to_string();
                ChartHandle::create(host, def, &[])
            });
            for array in self.arrays.iter_mut().filter(|a| a.status.redundant) {
                if array.health_dim.is_none() {
                    let dim = rrd::DimensionDef::new(array.name.as_str())
                        .algorithm(rrd::Algorithm::Absolute);
                    array.health_dim = Some(health.add_dimension(dim));
                }
            }
            self.values.clear();
            self.values.resize(health.dimension_count(), None);
            for array in self.arrays.iter().filter(|a| a.status.redundant) {
                if let Some(dim) = array.health_dim {
                    let failed = array.status.total_disks - array.status.inuse_disks;
                    self.values[dim] = Some(failed);
                }
            }
            health.update(&mut cycle, &self.values);
        } else if let Some(health) = self.health.as_mut().filter(|_| self.make_obsolete) {
            health.mark_obsolete();
        }

        for array in &mut self.arrays {
            let s = array.status;
            if s.redundant {
                let failed = s.total_disks - s.inuse_disks;
                if self.do_disks {
                    array.update(
                        DISKS,
                        host,
                        ue,
                        &mut cycle,
                        &[Some(s.inuse_disks), Some(failed)],
                    );
                }
                if self.do_operations {
                    array.update(OPERATION, host, ue, &mut cycle, &s.operations.map(Some));
                    array.update(FINISH, host, ue, &mut cycle, &[Some(s.finish_in_s)]);
                    array.update(SPEED, host, ue, &mut cycle, &[Some(s.speed_kib)]);
                }
            } else if self.do_nonredundant {
                array.update(AVAILABILITY, host, ue, &mut cycle, &[Some(1)]);
            }
        }
        self.refused.settle("proc:mdstat", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_lines() {
        let mut s = Status::default();
        parse_operation(
            b"      [==>..................]  recovery = 12.6% (37043392/293039104) finish=127.5min speed=33440K/sec",
            &mut s,
        );
        assert_eq!(s.operations, [0, 0, 1260, 0]);
        assert_eq!(s.finish_in_s, 7650);
        assert_eq!(s.speed_kib, 33440);
        let mut s = Status::default();
        parse_operation(b"      bitmap: 0/1 pages [0KB], 65536KB chunk", &mut s);
        assert_eq!(s, Status::default());
    }

    #[test]
    fn disk_counts_parse() {
        assert_eq!(disk_counts(b"[2/1]"), Some((2, 1)));
        assert_eq!(disk_counts(b"[UU]"), None);
        assert_eq!(disk_counts(b"2/1"), None);
    }
}
