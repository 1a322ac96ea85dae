//! One plugin's thread: runs the plugin, feeds its stdout to [`Ingest`],
//! and decides after each exit whether and when to start it again
//! ([`RestartPolicy`]).
//!
//! # Restart policy
//!
//! netdata 1.37 restarts a plugin one update every after a run that
//! collected something, and ten update everys after one that did not; it
//! gives up on a plugin that sent `DISABLE`, that exited with an error
//! before ever collecting anything, or that collected nothing in more than
//! 10 runs in a row. backhaul keeps those stop rules and replaces the fixed
//! delays with an exponential backoff:
//!
//! * the delay before a restart starts at the plugin's update every and
//!   doubles with every restart, up to [`RestartSettings::max_delay`]
//!   (60 s; never less than the update every);
//! * a run that lasted at least [`RestartSettings::ran_well_after`] (60 s)
//!   resets the backoff;
//! * a run "collected" if it completed at least one `END`;
//! * an exit is a failure when the code is not 0, or when a signal the agent
//!   did not send ended it (netdata stops for good a plugin killed by any
//!   signal but `SIGTERM`, an OOM kill included; backhaul restarts it);
//! * a plugin whose executable cannot be run (missing, not executable, bad
//!   format) is stopped at once; other start failures count as runs that
//!   collected nothing.
//!
//! While it runs, the plugin's stdout is polled every 250 ms at most, so a
//! shutdown is seen even when the plugin is silent. On shutdown the plugin
//! is stopped (`SIGTERM`, grace, `SIGKILL`, reaped). Whenever a run ends,
//! the plugin's charts are marked obsolete.

use std::io::{self, Read};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rrd::Host;
use wire::pluginsd::LineFramer;

use super::ingest::{Flow, Ingest, IngestCounters, IngestSettings};
use super::process::{Ended, PluginProcess, SpawnRequest, StderrBudget};
use super::{Discovered, PluginsdSettings};
use crate::log_limit::LogLimiter;
use crate::shutdown::Shutdown;
use crate::sys::{now_realtime_ut, spawn_error_is_permanent, wait_readable};

/// Longest wait on a silent plugin's stdout before checking for shutdown.
const STDOUT_POLL: Duration = Duration::from_millis(250);

/// Knobs of the [`RestartPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartSettings {
    /// Longest delay between restarts.
    pub max_delay: Duration,
    /// A run this long resets the backoff.
    pub ran_well_after: Duration,
    /// More runs in a row without any `END` than this stop the plugin
    /// (netdata: 10).
    pub max_runs_without_data: u32,
}

impl Default for RestartSettings {
    fn default() -> Self {
        RestartSettings {
            max_delay: Duration::from_secs(60),
            ran_well_after: Duration::from_secs(60),
            max_runs_without_data: 10,
        }
    }
}

/// How one run of a plugin ended, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// The plugin sent `DISABLE`.
    Disabled,
    /// The plugin could not be started.
    SpawnFailed {
        /// It never will be (missing, not executable, bad format).
        permanent: bool,
        /// Why.
        reason: String,
    },
    /// Its stdout closed and it was reaped.
    Exited {
        /// `END`s completed in this run.
        collections: u64,
        /// It exited with a code other than 0, or died of a signal the
        /// agent did not send.
        failed: bool,
        /// How long it ran.
        ran_for: Duration,
        /// Its exit status, for messages.
        status: String,
    },
}

/// What to do after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this delay.
    Restart(Duration),
    /// Never start it again, for this reason.
    Stop(String),
}

/// netdata's stop rules with an exponential backoff (see the [module
/// docs](self)).
#[derive(Debug, Clone)]
pub struct RestartPolicy {
    base: Duration,
    settings: RestartSettings,
    ever_collected: bool,
    runs_without_data: u32,
    quick_restarts: u32,
}

impl RestartPolicy {
    /// A policy for a plugin collecting every `update_every` seconds.
    pub fn new(update_every: u32, settings: RestartSettings) -> RestartPolicy {
        RestartPolicy {
            base: Duration::from_secs(u64::from(update_every.max(1))),
            settings,
            ever_collected: false,
            runs_without_data: 0,
            quick_restarts: 0,
        }
    }

    /// The decision after `end`.
    pub fn decide(&mut self, end: &RunEnd) -> Decision {
        let (collections, failed, ran_for, status) = match end {
            RunEnd::Disabled => return Decision::Stop("the plugin sent DISABLE".to_string()),
            RunEnd::SpawnFailed {
                permanent: true,
                reason,
            } => return Decision::Stop(format!("the plugin cannot be started: {reason}")),
            RunEnd::SpawnFailed {
                permanent: false,
                reason,
            } => (0, true, Duration::ZERO, reason.as_str()),
            RunEnd::Exited {
                collections,
                failed,
                ran_for,
                status,
            } => (*collections, *failed, *ran_for, status.as_str()),
        };
        if collections > 0 {
            self.ever_collected = true;
            self.runs_without_data = 0;
        } else {
            self.runs_without_data = self.runs_without_data.saturating_add(1);
        }
        if failed && !self.ever_collected {
            return Decision::Stop(format!(
                "the plugin failed ({status}) before collecting anything"
            ));
        }
        if self.runs_without_data > self.settings.max_runs_without_data {
            return Decision::Stop(format!(
                "the plugin collected nothing in {} runs in a row",
                self.runs_without_data
            ));
        }
        if ran_for >= self.settings.ran_well_after {
            self.quick_restarts = 0;
        }
        let factor = 1u32 << self.quick_restarts.min(16);
        let delay = self
            .base
            .saturating_mul(factor)
            .min(self.settings.max_delay.max(self.base));
        self.quick_restarts = self.quick_restarts.saturating_add(1);
        Decision::Restart(delay)
    }
}

/// Where a plugin is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginState {
    /// Not started yet.
    Starting,
    /// Running as this process.
    Running {
        /// Its process id.
        pid: u32,
    },
    /// Exited; will be started again after `delay`.
    Restarting {
        /// The delay chosen.
        delay: Duration,
    },
    /// Stopped for good by the restart policy.
    Disabled {
        /// Why.
        reason: String,
    },
    /// Stopped because the agent is shutting down.
    Stopped,
}

/// What other threads (tests now, a web API later) can see of a plugin.
#[derive(Debug)]
pub struct PluginStatus {
    /// The plugin's name (file name without `.plugin`).
    pub name: String,
    /// The executable.
    pub path: std::path::PathBuf,
    state: Mutex<PluginState>,
    runs: AtomicU64,
    counters: Mutex<IngestCounters>,
}

impl PluginStatus {
    pub(crate) fn new(plugin: &Discovered) -> PluginStatus {
        PluginStatus {
            name: plugin.name.clone(),
            path: plugin.path.clone(),
            state: Mutex::new(PluginState::Starting),
            runs: AtomicU64::new(0),
            counters: Mutex::new(IngestCounters::default()),
        }
    }

    /// The current state.
    pub fn state(&self) -> PluginState {
        self.state.lock().clone()
    }

    /// How many times the plugin was started.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// What it sent so far (updated after every read).
    pub fn counters(&self) -> IngestCounters {
        *self.counters.lock()
    }

    pub(crate) fn set_state(&self, state: PluginState) {
        *self.state.lock() = state;
    }
}

/// Why reading a plugin's stdout stopped.
enum PumpEnd {
    EndOfFile,
    Disable,
    Shutdown,
    ReadError(io::Error),
}

/// One plugin's supervisor: lives on the plugin's own thread.
pub(crate) struct Supervisor {
    plugin: Discovered,
    settings: Arc<PluginsdSettings>,
    status: Arc<PluginStatus>,
    shutdown: Shutdown,
    ingest: Ingest,
    policy: RestartPolicy,
    args: Vec<String>,
    /// The stderr log budget, kept across restarts so that a plugin that
    /// keeps dying does not get a fresh one each time.
    stderr_budget: StderrBudget,
}

impl Supervisor {
    pub(crate) fn new(
        plugin: Discovered,
        settings: Arc<PluginsdSettings>,
        host: Arc<Host>,
        status: Arc<PluginStatus>,
        shutdown: Shutdown,
    ) -> Supervisor {
        let ingest = Ingest::new(
            IngestSettings {
                plugin: Arc::from(plugin.name.as_str()),
                plugin_file: plugin.file_name(),
                update_every: settings.update_every,
                limits: settings.limits,
            },
            host,
        );
        let policy = RestartPolicy::new(settings.update_every, settings.restart);
        let args = vec![settings.update_every.to_string()];
        let stderr_budget = Arc::new(Mutex::new(LogLimiter::with_burst(
            settings.stderr_burst,
            settings.stderr_refill,
        )));
        Supervisor {
            stderr_budget,
            plugin,
            settings,
            status,
            shutdown,
            ingest,
            policy,
            args,
        }
    }

    /// Runs, restarts and finally stops the plugin.
    pub(crate) fn run(mut self) {
        while !self.shutdown.is_triggered() {
            let Some(end) = self.run_once() else {
                break;
            };
            match self.policy.decide(&end) {
                Decision::Restart(delay) => {
                    tracing::info!(
                        plugin = %self.plugin.name,
                        delay_s = delay.as_secs_f64(),
                        "plugin will be restarted"
                    );
                    self.status.set_state(PluginState::Restarting { delay });
                    if self.shutdown.sleep(delay) {
                        break;
                    }
                }
                Decision::Stop(reason) => {
                    tracing::warn!(
                        plugin = %self.plugin.name,
                        %reason,
                        "plugin disabled: it will not be started again"
                    );
                    self.status.set_state(PluginState::Disabled { reason });
                    return;
                }
            }
        }
        self.status.set_state(PluginState::Stopped);
    }

    /// One run; `None` when the agent is shutting down.
    fn run_once(&mut self) -> Option<RunEnd> {
        self.ingest.start_run();
        let request = SpawnRequest {
            name: &self.plugin.name,
            path: &self.plugin.path,
            args: &self.args,
            env: &self.settings.env,
            stderr_budget: self.stderr_budget.clone(),
        };
        let mut process = match PluginProcess::spawn(&request) {
            Ok(process) => process,
            Err(error) => {
                let permanent = spawn_error_is_permanent(&error);
                tracing::warn!(
                    plugin = %self.plugin.name,
                    path = %self.plugin.path.display(),
                    %error,
                    "cannot start plugin"
                );
                return Some(RunEnd::SpawnFailed {
                    permanent,
                    reason: error.to_string(),
                });
            }
        };
        let pid = process.pid();
        self.status.runs.fetch_add(1, Ordering::Relaxed);
        self.status.set_state(PluginState::Running { pid });
        tracing::info!(
            plugin = %self.plugin.name,
            pid,
            path = %self.plugin.path.display(),
            update_every = self.settings.update_every,
            "plugin started"
        );
        let started = Instant::now();
        let collections_before = self.ingest.counters().collections;
        let pump_end = match process.take_stdout() {
            Some(stdout) => self.pump(stdout),
            None => PumpEnd::ReadError(io::Error::other("no stdout pipe")),
        };
        let ended = process.stop(self.settings.shutdown_grace);
        self.ingest.end_run();
        self.publish();
        let collections = self.ingest.counters().collections - collections_before;
        let ran_for = started.elapsed();
        let status = match &ended {
            Ok(ended) => describe(ended),
            Err(error) => format!("cannot reap it: {error}"),
        };
        let died = !matches!(pump_end, PumpEnd::Shutdown)
            && match &ended {
                Ok(ended) => is_failure(ended),
                Err(_) => true,
            };
        if died {
            // The plugin's own death is the agent's news: above INFO, unlike
            // whatever the plugin wrote to stderr.
            tracing::warn!(
                plugin = %self.plugin.name,
                pid,
                collections,
                ran_for_s = ran_for.as_secs_f64(),
                %status,
                "plugin died"
            );
        } else {
            tracing::info!(
                plugin = %self.plugin.name,
                pid,
                collections,
                ran_for_s = ran_for.as_secs_f64(),
                %status,
                "plugin stopped"
            );
        }
        match pump_end {
            PumpEnd::Shutdown => None,
            PumpEnd::Disable => Some(RunEnd::Disabled),
            PumpEnd::EndOfFile | PumpEnd::ReadError(_) => {
                if let PumpEnd::ReadError(error) = &pump_end {
                    tracing::warn!(plugin = %self.plugin.name, %error, "cannot read plugin output");
                }
                let failed = match &ended {
                    Ok(ended) => is_failure(ended),
                    Err(_) => true,
                };
                Some(RunEnd::Exited {
                    collections,
                    failed,
                    ran_for,
                    status,
                })
            }
        }
    }

    /// Reads stdout into the store until end of file, `DISABLE` or shutdown.
    fn pump(&mut self, mut stdout: std::process::ChildStdout) -> PumpEnd {
        let mut framer = LineFramer::with_limits(
            self.settings.max_line_len,
            wire::pluginsd::DEFAULT_READ_CHUNK,
        );
        let mut clock = now_realtime_ut;
        loop {
            if self.shutdown.is_triggered() {
                return PumpEnd::Shutdown;
            }
            match wait_readable(&stdout, STDOUT_POLL) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => return PumpEnd::ReadError(error),
            }
            match stdout.read(framer.read_buf()) {
                Ok(0) => {
                    let flow = self.ingest.finish(&mut framer, &mut clock);
                    self.publish();
                    return match flow {
                        Flow::Disable => PumpEnd::Disable,
                        Flow::Continue => PumpEnd::EndOfFile,
                    };
                }
                Ok(n) => {
                    framer.commit(n);
                    let flow = self.ingest.drain(&mut framer, &mut clock);
                    self.publish();
                    if flow == Flow::Disable {
                        return PumpEnd::Disable;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return PumpEnd::ReadError(error),
            }
        }
    }

    fn publish(&self) {
        *self.status.counters.lock() = self.ingest.counters();
    }
}

/// "exit code 3", "signal 9 (sent by the agent)".
fn describe(ended: &Ended) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (ended.status.code(), ended.status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) if ended.stopped_by == Some(signal) => {
            format!("signal {signal} (sent by the agent)")
        }
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => format!("{:?}", ended.status),
    }
}

/// A non-zero exit code, or a signal the agent did not send.
fn is_failure(ended: &Ended) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let status: ExitStatus = ended.status;
    match (status.code(), status.signal()) {
        (Some(code), _) => code != 0,
        (None, Some(signal)) => ended.stopped_by != Some(signal),
        (None, None) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn exited(collections: u64, failed: bool, ran_for: Duration) -> RunEnd {
        RunEnd::Exited {
            collections,
            failed,
            ran_for,
            status: "test".to_string(),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets_after_a_good_run() {
        let mut policy = RestartPolicy::new(1, RestartSettings::default());
        let delays: Vec<Decision> = (0..8)
            .map(|_| policy.decide(&exited(3, false, S)))
            .collect();
        let expected: Vec<Decision> = [1, 2, 4, 8, 16, 32, 60, 60]
            .iter()
            .map(|&s| Decision::Restart(Duration::from_secs(s)))
            .collect();
        assert_eq!(delays, expected);
        assert_eq!(
            policy.decide(&exited(3, true, Duration::from_secs(61))),
            Decision::Restart(S)
        );
        assert_eq!(policy.decide(&exited(3, true, S)), Decision::Restart(2 * S));
    }

    #[test]
    fn the_cap_is_never_below_the_update_every() {
        let mut policy = RestartPolicy::new(120, RestartSettings::default());
        assert_eq!(
            policy.decide(&exited(1, false, S)),
            Decision::Restart(Duration::from_secs(120))
        );
        assert_eq!(
            policy.decide(&exited(1, false, S)),
            Decision::Restart(Duration::from_secs(120))
        );
    }

    #[test]
    fn disable_and_unrunnable_plugins_stop_for_good() {
        let mut policy = RestartPolicy::new(1, RestartSettings::default());
        assert!(matches!(
            policy.decide(&RunEnd::Disabled),
            Decision::Stop(_)
        ));
        let spawn = |permanent| RunEnd::SpawnFailed {
            permanent,
            reason: "x".into(),
        };
        assert!(matches!(policy.decide(&spawn(true)), Decision::Stop(_)));
        // A transient start failure before any data is a failure without
        // data: netdata's rule stops it.
        assert!(matches!(policy.decide(&spawn(false)), Decision::Stop(_)));
    }

    #[test]
    fn an_error_exit_before_any_data_stops_after_data_restarts() {
        let mut policy = RestartPolicy::new(1, RestartSettings::default());
        assert!(matches!(
            policy.decide(&exited(0, true, S)),
            Decision::Stop(reason) if reason.contains("before collecting")
        ));
        let mut policy = RestartPolicy::new(1, RestartSettings::default());
        assert_eq!(policy.decide(&exited(5, true, S)), Decision::Restart(S));
        // Failed again without data, but it collected once: restarted.
        assert_eq!(policy.decide(&exited(0, true, S)), Decision::Restart(2 * S));
    }

    #[test]
    fn more_than_ten_runs_in_a_row_without_data_stop() {
        let mut policy = RestartPolicy::new(1, RestartSettings::default());
        for run in 1..=10 {
            assert!(
                matches!(policy.decide(&exited(0, false, S)), Decision::Restart(_)),
                "run {run}"
            );
        }
        assert!(matches!(
            policy.decide(&exited(0, false, S)),
            Decision::Stop(reason) if reason.contains("11 runs")
        ));
        // Data in between resets the count.
        let mut policy = RestartPolicy::new(1, RestartSettings::default());
        for _ in 0..10 {
            policy.decide(&exited(0, false, S));
        }
        policy.decide(&exited(1, false, S));
        for _ in 0..10 {
            assert!(matches!(
                policy.decide(&exited(0, false, S)),
                Decision::Restart(_)
            ));
        }
    }

    #[test]
    fn exit_statuses_are_classified() {
        use crate::sys::Signal;
        use std::os::unix::process::ExitStatusExt;
        const SEGV: i32 = Signal::SEGV.as_raw();
        const TERM: i32 = Signal::TERM.as_raw();
        const KILL: i32 = Signal::KILL.as_raw();
        let ended = |raw, stopped_by| Ended {
            status: ExitStatus::from_raw(raw),
            stopped_by,
        };
        assert!(!is_failure(&ended(0, None)));
        assert!(is_failure(&ended(3 << 8, None)));
        assert!(is_failure(&ended(SEGV, None)));
        assert!(!is_failure(&ended(TERM, Some(TERM))));
        assert!(!is_failure(&ended(KILL, Some(KILL))));
        assert_eq!(describe(&ended(3 << 8, None)), "exit code 3");
        assert_eq!(
            describe(&ended(KILL, Some(KILL))),
            "signal 9 (sent by the agent)"
        );
    }
}
