//! The C-state residency charts of netdata's `/proc/stat` module
//! (`cpu.cpuN_cpuidle`): per core, the share of the interval spent active
//! (`/proc/schedstat`'s running time) and in each idle state
//! (`/sys/devices/system/cpu/cpuN/cpuidle/stateM/{name,time}`).
//!
//! As in netdata 1.37: on (`cpu idle states`) unless the machine has more
//! than 50 processors, off when there is no `/proc/schedstat` (kernels
//! without scheduler statistics); a core whose running time did not move
//! since the last round is woken first (a thread pinned to it runs), so
//! that its idle counters are brought up to date; a state that appears
//! makes the states be looked for again.
//!
//! The wakers are one long-lived thread per core, started the first time
//! a core needs waking and signalled each round, so a round allocates
//! nothing (netdata starts a thread each time).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rrd::{Algorithm, ChartDef, ChartType, DimensionDef, Host};

use super::chart_handle::{auto_label, ChartHandle, Cycle};
use super::ondemand::{on_demand, ChartSwitches, OnDemand};
use super::parse::{lines, parse_u64, words};
use super::source::{host_path, SourceFile};
use super::PROC_PLUGIN;

const MODULE: &str = "/proc/stat";

/// netdata's priority of `cpu.cpu0_cpuidle` (`NETDATA_CHART_PRIO_CPUIDLE`).
const PRIORITY: i64 = 6000;

/// How long a round waits for a core to be woken.
const WAKE_WAIT: Duration = Duration::from_millis(50);

/// One idle state of a core.
struct State {
    name: String,
    time: SourceFile,
}

/// One core's chart and files.
#[derive(Default)]
struct Core {
    /// Running time from `/proc/schedstat`, µs, and at the last round.
    active: u64,
    last_active: u64,
    states: Vec<State>,
    /// The states are looked for again at the next round.
    rescan: bool,
    /// The name file of the state after the last one (its appearing
    /// means a new state).
    next_state: PathBuf,
    values: Vec<Option<i64>>,
    chart: Option<ChartHandle>,
}

/// A thread pinned to one core that runs when asked to, waking the core.
struct Waker {
    /// Requests made and served: the core ran once `served == asked`.
    counts: Mutex<(u64, u64)>,
    signal: Condvar,
}

impl Waker {
    fn start(core: usize) -> Option<Arc<Waker>> {
        let waker = Arc::new(Waker {
            counts: Mutex::new((0, 0)),
            signal: Condvar::new(),
        });
        let thread_waker = Arc::downgrade(&waker);
        std::thread::Builder::new()
            .name(format!("cpuidle:{core}"))
            .spawn(move || {
                let mut set = rustix::thread::CpuSet::new();
                set.set(core);
                if let Err(error) = rustix::thread::sched_setaffinity(None, &set) {
                    tracing::info!(core, %error, "cpuidle: cannot pin a waker to this core");
                }
                // Ends with the collector (the last strong reference).
                while let Some(waker) = thread_waker.upgrade() {
                    let mut counts = waker.counts.lock();
                    while counts.1 == counts.0 {
                        if waker
                            .signal
                            .wait_for(&mut counts, Duration::from_secs(5))
                            .timed_out()
                        {
                            break;
                        }
                    }
                    counts.1 = counts.0;
                    waker.signal.notify_all();
                }
            })
            .ok()?;
        Some(waker)
    }

    /// Has the core run once (waits at most [`WAKE_WAIT`]).
    fn wake(&self) {
        let mut counts = self.counts.lock();
        counts.0 += 1;
        let asked = counts.0;
        self.signal.notify_all();
        let deadline = std::time::Instant::now() + WAKE_WAIT;
        while counts.1 < asked {
            if self.signal.wait_until(&mut counts, deadline).timed_out() {
                break;
            }
        }
    }
}

/// The cpuidle charts of the `/proc/stat` collector.
pub(crate) struct CpuIdle {
    switch: OnDemand,
    schedstat: Option<SourceFile>,
    cpu_dir: PathBuf,
    cores: Vec<Core>,
    wakers: Vec<Option<Arc<Waker>>>,
    checked: bool,
}

impl CpuIdle {
    /// With `[plugin:proc:/proc/stat] cpu idle states` (on unless the
    /// machine has more than 50 processors).
    pub(crate) fn new(root: &Path, switches: ChartSwitches<'_>, processors: usize) -> CpuIdle {
        let default = if processors > 50 {
            OnDemand::No
        } else {
            OnDemand::Yes
        };
        CpuIdle {
            switch: on_demand(switches, MODULE, "cpu idle states", default),
            schedstat: Some(SourceFile::new(root, "/proc/schedstat")),
            cpu_dir: host_path(root, "/sys/devices/system/cpu"),
            cores: Vec::new(),
            wakers: Vec::new(),
            checked: false,
        }
    }

    /// Reads `/proc/schedstat`'s running time per core; `false` when it
    /// cannot be read.
    fn read_schedstat(&mut self) -> bool {
        let Some(data) = self.schedstat.as_mut().and_then(|f| f.read()) else {
            return false;
        };
        for line in lines(data) {
            let mut w = words(line);
            let Some(key) = w.next().and_then(|k| k.strip_prefix(b"cpu")) else {
                continue;
            };
            let Some(core) = parse_u64(key).and_then(|c| usize::try_from(c).ok()) else {
                continue;
            };
            // The seventh number: the running time, ns.
            let Some(running) = w.nth(6).and_then(parse_u64) else {
                continue;
            };
            if core >= 4096 {
                continue;
            }
            if self.cores.len() <= core {
                self.cores.resize_with(core + 1, Core::default);
            }
            self.cores[core].active = running / 1000;
        }
        true
    }

    fn state_path(&self, core: usize, state: usize, file: &str) -> PathBuf {
        self.cpu_dir
            .join(format!("cpu{core}/cpuidle/state{state}/{file}"))
    }

    /// Looks for core `core`'s idle states (their names read once).
    fn scan(&mut self, core: usize) {
        let mut states = Vec::new();
        while let Ok(name) = std::fs::read_to_string(self.state_path(core, states.len(), "name")) {
            let time = self.state_path(core, states.len(), "time");
            states.push(State {
                name: name.trim().to_string(),
                time: SourceFile::new(Path::new("/"), &time.to_string_lossy()),
            });
        }
        let next_state = self.state_path(core, states.len(), "name");
        let c = &mut self.cores[core];
        c.states = states;
        c.next_state = next_state;
        c.rescan = false;
        // A chart made with other states is made again.
        if let Some(mut chart) = c.chart.take() {
            chart.mark_obsolete();
        }
    }

    pub(crate) fn collect(&mut self, host: &Host, update_every: u32, cycle: &mut Cycle) {
        if self.switch == OnDemand::No {
            return;
        }
        if !self.checked {
            self.checked = true;
            if !self.read_schedstat() {
                tracing::info!(
                    "no /proc/schedstat (no scheduler statistics): no C-state residency charts, as netdata"
                );
                self.switch = OnDemand::No;
                self.schedstat = None;
                return;
            }
        } else if !self.read_schedstat() {
            return;
        }
        // Wake the cores whose running time did not move.
        let mut woke = false;
        for core in 0..self.cores.len() {
            if self.cores[core].active != self.cores[core].last_active {
                continue;
            }
            if self.wakers.len() <= core {
                self.wakers.resize_with(core + 1, || None);
            }
            if self.wakers[core].is_none() {
                self.wakers[core] = Waker::start(core);
            }
            if let Some(waker) = &self.wakers[core] {
                waker.wake();
                woke = true;
            }
        }
        if woke && !self.read_schedstat() {
            return;
        }
        for core in 0..self.cores.len() {
            self.cores[core].last_active = self.cores[core].active;
            if self.cores[core].states.is_empty() || self.cores[core].rescan {
                self.scan(core);
            }
            let c = &mut self.cores[core];
            c.values.clear();
            c.values.push(i64::try_from(c.active).ok());
            for state in &mut c.states {
                let time = state
                    .time
                    .read()
                    .and_then(|d| words(d).next().and_then(parse_u64));
                if time.is_none() {
                    c.rescan = true;
                }
                c.values.push(time.and_then(|t| i64::try_from(t).ok()));
            }
            if !c.rescan && c.next_state.exists() {
                c.rescan = true;
            }
            let chart = c.chart.get_or_insert_with(|| {
                let mut def = ChartDef::new("cpu", format!("cpu{core}_cpuidle"))
                    .family("cpuidle")
                    .context("cpuidle.cpu_cstate_residency_time")
                    .title("C-state residency time")
                    .units("percentage")
                    .chart_type(ChartType::Stacked)
                    .priority(PRIORITY + core as i64)
                    .update_every(update_every)
                    .label(auto_label("cpu", &format!("cpu{core}")));
                def.plugin = PROC_PLUGIN.to_string();
                def.module = MODULE.to_string();
                let mut chart = ChartHandle::create(host, def, &[]);
                chart.add_dimension(
                    DimensionDef::new("active")
                        .name("C0 (active)")
                        .algorithm(Algorithm::PercentageOfIncrementalRow),
                );
                for state in &c.states {
                    chart.add_dimension(
                        DimensionDef::new(state.name.to_lowercase())
                            .name(state.name.clone())
                            .algorithm(Algorithm::PercentageOfIncrementalRow),
                    );
                }
                chart
            });
            chart.update(cycle, &c.values);
        }
    }

    pub(crate) fn mark_all_obsolete(&mut self) {
        for core in &mut self.cores {
            if let Some(chart) = &mut core.chart {
                chart.mark_obsolete();
            }
        }
    }
}
