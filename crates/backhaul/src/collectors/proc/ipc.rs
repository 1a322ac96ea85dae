//! `ipc`: System V IPC. Semaphores and semaphore arrays in use
//! (`system.ipc_semaphores`, `system.ipc_semaphore_arrays`), messages and
//! bytes per message queue (`system.message_queue_messages`,
//! `system.message_queue_bytes`, one dimension per queue id) and shared
//! memory segments and bytes (`system.shared_memory_segments`,
//! `system.shared_memory_bytes`).
//!
//! netdata asks the kernel for the semaphore totals (`semctl(SEM_INFO)`);
//! backhaul adds up `/proc/sysvipc/sem` (one line per array, its `nsems`),
//! the same numbers, read below the host root like every other file. The
//! message queue charts exist while there is a queue, with at most 50
//! queues (netdata's `max dimensions in memory allowed`: beyond it the
//! charts go and message queues are no longer collected).
//!
//! With `semaphore totals` on, the module keeps netdata's host variables of
//! the semaphore limits, from `/proc/sys/kernel/sem` (`SEMMSL SEMMNS SEMOPM
//! SEMMNI`): `ipc_semaphores_max` (SEMMNS, semaphores system-wide) and
//! `ipc_semaphores_arrays_max` (SEMMNI, arrays), read at the first
//! collection and then, as netdata counts, every `60 / update every + 2`
//! collections (62 s at one collection a second). Without the file there
//! are none (netdata asked `semctl(IPC_INFO)` then).

use std::path::Path;

use rrd::{Algorithm, ChartType, DimensionDef, Host};

use super::chart_handle::{
    mark_all_obsolete, ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds,
};
use super::ondemand::{enabled, ChartSwitches};
use super::parse::{lines, parse_i64, parse_u64, words};
use super::source::SourceFile;
use super::variables::{HostVariable, LimitsFile, Refresh};
use crate::collectors::Collector;

const MODULE: &str = "ipc";

/// netdata's `max dimensions in memory allowed` for message queues.
const MAX_QUEUES: usize = 50;

const fn spec(
    id: &'static str,
    family: &'static str,
    title: &'static str,
    units: &'static str,
    chart_type: ChartType,
    priority: i64,
) -> ChartSpec {
    ChartSpec::proc(
        MODULE, "system", id, family, title, units, chart_type, priority,
    )
}

const SEMAPHORES: ChartSpec = spec(
    "ipc_semaphores",
    "ipc semaphores",
    "IPC Semaphores",
    "semaphores",
    ChartType::Area,
    1203,
);
const SEMAPHORES_DIMS: [DimSpec; 1] = [DimSpec::absolute("semaphores", 1, 1)];
const SEMAPHORE_ARRAYS: ChartSpec = spec(
    "ipc_semaphore_arrays",
    "ipc semaphores",
    "IPC Semaphore Arrays",
    "arrays",
    ChartType::Area,
    1204,
);
const ARRAYS_DIMS: [DimSpec; 1] = [DimSpec::absolute("arrays", 1, 1)];
const QUEUE_MESSAGES: ChartSpec = spec(
    "message_queue_messages",
    "ipc message queues",
    "IPC Message Queue Number of Messages",
    "messages",
    ChartType::Stacked,
    1201,
);
const QUEUE_BYTES: ChartSpec = spec(
    "message_queue_bytes",
    "ipc message queues",
    "IPC Message Queue Used Bytes",
    "bytes",
    ChartType::Stacked,
    1202,
);
const SHM_SEGMENTS: ChartSpec = spec(
    "shared_memory_segments",
    "ipc shared memory",
    "IPC Shared Memory Number of Segments",
    "segments",
    ChartType::Stacked,
    1205,
);
const SEGMENTS_DIMS: [DimSpec; 1] = [DimSpec::absolute("segments", 1, 1)];
const SHM_BYTES: ChartSpec = spec(
    "shared_memory_bytes",
    "ipc shared memory",
    "IPC Shared Memory Used Bytes",
    "bytes",
    ChartType::Stacked,
    1206,
);
const BYTES_DIMS: [DimSpec; 1] = [DimSpec::absolute("bytes", 1, 1)];

/// The number of records of a `/proc/sysvipc` file and the sum of column
/// `column` over them (the header line skipped; short lines ignored).
fn count_and_sum(data: &[u8], column: usize, min_words: usize) -> (i64, i64) {
    let mut count = 0i64;
    let mut sum = 0i64;
    for line in lines(data).skip(1) {
        if words(line).count() < min_words {
            continue;
        }
        count += 1;
        sum = sum.saturating_add(words(line).nth(column).and_then(parse_i64).unwrap_or(0));
    }
    (count, sum)
}

/// One message queue: its id (the dimension id), messages and bytes.
struct Queue {
    id: u64,
    id_text: String,
    messages: i64,
    bytes: i64,
    present: bool,
    dims: Option<(usize, usize)>,
}

/// Collects `ipc`.
pub struct IpcCollector {
    sem: SourceFile,
    msg: SourceFile,
    shm: SourceFile,
    update_every: u32,
    do_sem: bool,
    do_msg: bool,
    do_shm: bool,
    queues: Vec<Queue>,
    values: (Vec<Option<i64>>, Vec<Option<i64>>),
    charts: [Option<ChartHandle>; 6],
    /// `/proc/sys/kernel/sem`.
    limits: LimitsFile,
    limits_refresh: Refresh,
    /// `ipc_semaphores_max`, `ipc_semaphores_arrays_max`.
    limit_variables: [HostVariable; 2],
    refused: RefusedRounds,
}

impl IpcCollector {
    /// With the switches of `[plugin:proc:ipc]`.
    pub fn configured(root: &Path, update_every: u32, switches: ChartSwitches<'_>) -> IpcCollector {
        let update_every = update_every.max(1);
        IpcCollector {
            do_sem: enabled(switches, MODULE, "semaphore totals"),
            do_shm: enabled(switches, MODULE, "shared memory totals"),
            sem: SourceFile::new(root, "/proc/sysvipc/sem"),
            msg: SourceFile::new(root, "/proc/sysvipc/msg"),
            shm: SourceFile::new(root, "/proc/sysvipc/shm"),
            update_every,
            do_msg: enabled(switches, MODULE, "message queues"),
            queues: Vec::new(),
            values: (Vec::new(), Vec::new()),
            charts: Default::default(),
            limits: LimitsFile::new(root, "/proc/sys/kernel/sem"),
            limits_refresh: Refresh::every(60 / update_every + 2),
            limit_variables: [
                HostVariable::new("ipc_semaphores_max"),
                HostVariable::new("ipc_semaphores_arrays_max"),
            ],
            refused: RefusedRounds::default(),
        }
    }

    fn collect_queues(&mut self, host: &Host, cycle: &mut Cycle) {
        let Some(data) = self.msg.read() else {
            mark_all_obsolete(self.charts[2..4].iter_mut());
            return;
        };
        for queue in &mut self.queues {
            queue.present = false;
        }
        for line in lines(data).skip(1) {
            let mut fields = [&b""[..]; 5];
            let mut n = 0;
            for (slot, word) in fields.iter_mut().zip(words(line)) {
                *slot = word;
                n += 1;
            }
            if n < 5 {
                continue;
            }
            let Some(id) = parse_u64(fields[1]) else {
                continue;
            };
            let position = match self.queues.iter().position(|q| q.id == id) {
                Some(p) => p,
                None => {
                    self.queues.push(Queue {
                        id,
                        id_text: id.to_string(),
                        messages: 0,
                        bytes: 0,
                        present: false,
                        dims: None,
                    });
                    self.queues.len() - 1
                }
            };
            let queue = &mut self.queues[position];
            queue.present = true;
            queue.messages = parse_i64(fields[4]).unwrap_or(0);
            queue.bytes = parse_i64(fields[3]).unwrap_or(0);
        }
        self.queues.retain(|q| q.present);
        if self.queues.is_empty() {
            mark_all_obsolete(self.charts[2..4].iter_mut());
            // Recreated, without the old queues, when one comes.
            self.charts[2] = None;
            self.charts[3] = None;
            return;
        }
        if self.queues.len() > MAX_QUEUES {
            tracing::info!(
                queues = self.queues.len(),
                limit = MAX_QUEUES,
                "too many message queues; message queue charts disabled"
            );
            mark_all_obsolete(self.charts[2..4].iter_mut());
            self.do_msg = false;
            return;
        }
        let ue = self.update_every;
        let [.., messages, bytes, _, _] = &mut self.charts;
        let messages = messages.get_or_insert_with(|| {
            self.queues.iter_mut().for_each(|q| q.dims = None);
            ChartHandle::create(host, QUEUE_MESSAGES.def(ue), &[])
        });
        let bytes =
            bytes.get_or_insert_with(|| ChartHandle::create(host, QUEUE_BYTES.def(ue), &[]));
        for queue in &mut self.queues {
            if queue.dims.is_none() {
                let dim =
                    || DimensionDef::new(queue.id_text.as_str()).algorithm(Algorithm::Absolute);
                queue.dims = Some((messages.add_dimension(dim()), bytes.add_dimension(dim())));
            }
        }
        let (message_values, byte_values) = &mut self.values;
        message_values.clear();
        message_values.resize(messages.dimension_count(), None);
        byte_values.clear();
        byte_values.resize(bytes.dimension_count(), None);
        for queue in &self.queues {
            if let Some((m, b)) = queue.dims {
                message_values[m] = Some(queue.messages);
                byte_values[b] = Some(queue.bytes);
            }
        }
        messages.update(cycle, message_values);
        bytes.update(cycle, byte_values);
    }
}

impl Collector for IpcCollector {
    fn name(&self) -> &str {
        "proc:ipc"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let ue = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        if self.do_sem && self.limits_refresh.due() {
            if let Some([_semmsl, semmns, _semopm, semmni]) = self.limits.numbers::<4>("proc:ipc") {
                let [semaphores_max, arrays_max] = &mut self.limit_variables;
                semaphores_max.set(host, semmns as f64);
                arrays_max.set(host, semmni as f64);
            }
        }
        let sem = if self.do_sem { self.sem.read() } else { None };
        match sem {
            Some(data) => {
                // semid is column 1, nsems column 3.
                let (arrays, semaphores) = count_and_sum(data, 3, 4);
                self.charts[0]
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, SEMAPHORES.def(ue), &SEMAPHORES_DIMS)
                    })
                    .update(&mut cycle, &[Some(semaphores)]);
                self.charts[1]
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, SEMAPHORE_ARRAYS.def(ue), &ARRAYS_DIMS)
                    })
                    .update(&mut cycle, &[Some(arrays)]);
            }
            None => {
                if self.do_sem {
                    mark_all_obsolete(self.charts[0..2].iter_mut());
                }
            }
        }
        if self.do_msg {
            self.collect_queues(host, &mut cycle);
        }
        let shm = if self.do_shm { self.shm.read() } else { None };
        match shm {
            Some(data) => {
                // size is column 3.
                let (segments, bytes) = count_and_sum(data, 3, 4);
                self.charts[4]
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, SHM_SEGMENTS.def(ue), &SEGMENTS_DIMS)
                    })
                    .update(&mut cycle, &[Some(segments)]);
                self.charts[5]
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, SHM_BYTES.def(ue), &BYTES_DIMS)
                    })
                    .update(&mut cycle, &[Some(bytes)]);
            }
            None => {
                if self.do_shm {
                    mark_all_obsolete(self.charts[4..6].iter_mut());
                }
            }
        }
        self.refused.settle("proc:ipc", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysvipc_tables_add_up() {
        let sem = b"       key      semid perms      nsems   uid\n\
                    0 0 600 3 0\n\
                    5 1 600 4 0\n\
                    short\n";
        assert_eq!(count_and_sum(sem, 3, 4), (2, 7));
        assert_eq!(count_and_sum(b"header only\n", 3, 4), (0, 0));
    }
}
