//! `PluginProcess`: one running plugin process — spawning it, its stderr
//! reader thread, and stopping and reaping it.
//!
//! * The plugin runs in a process group of its own, so stopping it reaches
//!   the helpers it started (a shell plugin's `sleep`, `curl`, ...), and a
//!   terminal's Ctrl-C reaches the agent only (which then stops it).
//! * stdin is a pipe held open for the plugin's whole life and never
//!   written (apps.plugin exits when its stdin closes); stdout is handed to
//!   the caller; stderr is read by a small thread that logs each line at
//!   INFO under the target `plugin` with the field `plugin=NAME`, within the
//!   plugin's budget (a [`LogLimiter`] shared by its runs); what the budget
//!   leaves out is counted, and the count logged at least every
//!   [`SUMMARY_EVERY`](crate::log_limit::SUMMARY_EVERY) and when stderr
//!   closes.
//! * The plugin gets `SIGTERM` if the thread that started it dies
//!   (`PR_SET_PDEATHSIG`), so a killed agent does not leave plugins behind.
//! * [`PluginProcess::stop`] closes stdin, sends `SIGTERM` to the group,
//!   waits up to a grace period for the plugin to exit, then sends
//!   `SIGKILL`, and reaps it; group members still alive after their leader
//!   are stopped the same way. Dropping a `PluginProcess` that was not
//!   stopped kills and reaps it at once. Either way no zombie is left and
//!   the stderr thread is joined.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wire::pluginsd::LineFramer;

use parking_lot::Mutex;

use crate::log_limit::LogLimiter;
use crate::sys::{
    signal_child_on_parent_death, wait_readable_or_woken, ProcessGroup, Signal, Waker,
};

/// How often waits re-check their condition.
const POLL_STEP: Duration = Duration::from_millis(10);
/// Longest stderr line logged whole; longer ones are cut.
const STDERR_MAX_LINE: usize = 4096;
/// How long stderr is drained after the plugin is gone before its reader
/// is told to stop (a helper outside the group may still hold the pipe).
const STDERR_DRAIN: Duration = Duration::from_millis(500);
/// How long group members still alive after their leader get between
/// `SIGTERM` and `SIGKILL`, at most.
const STRAGGLER_GRACE: Duration = Duration::from_millis(500);

/// What to run.
#[derive(Debug, Clone)]
pub struct SpawnRequest<'a> {
    /// The plugin's name, for logs and the stderr thread's name.
    pub name: &'a str,
    /// The executable.
    pub path: &'a Path,
    /// Its arguments (the update every).
    pub args: &'a [String],
    /// Environment variables set on top of the agent's own.
    pub env: &'a [(String, OsString)],
    /// The budget of stderr lines logged, shared by the plugin's runs.
    pub stderr_budget: StderrBudget,
}

/// A plugin's stderr log budget, kept across its restarts.
pub type StderrBudget = Arc<Mutex<LogLimiter>>;

/// How a plugin process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// Its wait status.
    pub status: ExitStatus,
    /// The signal the agent sent that ended it, if it did not exit on its
    /// own (`SIGTERM` or `SIGKILL`).
    pub stopped_by: Option<i32>,
}

/// A running plugin (see the [module docs](self)).
pub struct PluginProcess {
    child: Child,
    /// The plugin's process group; `None` only if the plugin got pid 1
    /// (in a namespace of its own), when no group is signalled.
    group: Option<ProcessGroup>,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr_reader: Option<StderrReader>,
    ended: Option<Ended>,
}

impl PluginProcess {
    /// Starts the plugin.
    pub fn spawn(request: &SpawnRequest<'_>) -> io::Result<PluginProcess> {
        let mut command = Command::new(request.path);
        command
            .args(request.args)
            .envs(request.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        signal_child_on_parent_death(&mut command, Signal::TERM);
        let mut child = command.spawn()?;
        let group = ProcessGroup::led_by(&child);
        let stderr_reader = match child.stderr.take() {
            Some(stderr) => match StderrReader::start(request, stderr) {
                Ok(reader) => Some(reader),
                Err(error) => {
                    kill_group(group, Signal::KILL);
                    let _ = child.wait();
                    return Err(error);
                }
            },
            None => None,
        };
        Ok(PluginProcess {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            child,
            group,
            stderr_reader,
            ended: None,
        })
    }

    /// The plugin's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The plugin's stdout (once).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// Stops the plugin (see the [module docs](self)) and returns how it
    /// ended. Calling it again returns the same answer.
    pub fn stop(&mut self, grace: Duration) -> io::Result<Ended> {
        if let Some(ended) = self.ended {
            return Ok(ended);
        }
        self.stdin = None;
        self.stdout = None;
        let deadline = Instant::now() + grace;
        let mut stopped_by = None;
        let status = match self.child.try_wait()? {
            Some(status) => status,
            None => {
                kill_group(self.group, Signal::TERM);
                stopped_by = Some(Signal::TERM.as_raw());
                match wait_until(&mut self.child, deadline)? {
                    Some(status) => status,
                    None => {
                        kill_group(self.group, Signal::KILL);
                        stopped_by = Some(Signal::KILL.as_raw());
                        self.child.wait()?
                    }
                }
            }
        };
        // A plugin that exited by itself after our SIGTERM was not killed.
        if stopped_by.is_some() && status.signal().is_none() {
            stopped_by = None;
        }
        let ended = Ended { status, stopped_by };
        self.ended = Some(ended);
        self.stop_stragglers(grace);
        self.stop_stderr_reader();
        Ok(ended)
    }

    /// Group members left after the leader exited: `SIGTERM`, a short
    /// wait, then `SIGKILL`.
    fn stop_stragglers(&self, grace: Duration) {
        if !group_alive(self.group) {
            return;
        }
        kill_group(self.group, Signal::TERM);
        let deadline = Instant::now() + grace.min(STRAGGLER_GRACE);
        while group_alive(self.group) && Instant::now() < deadline {
            std::thread::sleep(POLL_STEP);
        }
        if group_alive(self.group) {
            kill_group(self.group, Signal::KILL);
        }
    }

    fn stop_stderr_reader(&mut self) {
        if let Some(reader) = self.stderr_reader.take() {
            reader.finish(STDERR_DRAIN);
        }
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        if self.ended.is_none() {
            self.stdin = None;
            if !matches!(self.child.try_wait(), Ok(Some(_))) {
                kill_group(self.group, Signal::KILL);
                let _ = self.child.wait();
            }
            if group_alive(self.group) {
                kill_group(self.group, Signal::KILL);
            }
        }
        self.stop_stderr_reader();
    }
}

/// Polls for the child's exit until `deadline`.
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(POLL_STEP.min(deadline - now));
    }
}

fn kill_group(group: Option<ProcessGroup>, signal: Signal) {
    if let Some(group) = group {
        group.signal(signal);
    }
}

/// Whether a process of the group is still running. Zombies do not count:
/// members that outlived their leader were re-parented, and reaping them
/// is their new parent's business.
fn group_alive(group: Option<ProcessGroup>) -> bool {
    let Some(group) = group else {
        return false;
    };
    if !group.exists() {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.bytes().all(|b| b.is_ascii_digit()));
        is_pid
            && std::fs::read(entry.path().join("stat"))
                .ok()
                .and_then(|stat| running_group_of(&stat))
                == Some(group.id())
    })
}

/// The process group of a `/proc/PID/stat` line, unless it is a zombie.
fn running_group_of(stat: &[u8]) -> Option<i32> {
    // "pid (comm) state ppid pgrp ...": comm may hold anything, so start
    // after its last ')'.
    let after = stat.iter().rposition(|&b| b == b')')? + 1;
    let text = std::str::from_utf8(&stat[after..]).ok()?;
    let mut fields = text.split_ascii_whitespace();
    let state = fields.next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    (state != "Z" && state != "X").then_some(pgrp)
}

/// The thread that logs a plugin's stderr.
struct StderrReader {
    stop: Arc<AtomicBool>,
    /// Wakes the thread to see `stop` (it waits with no timeout).
    waker: Arc<Waker>,
    thread: JoinHandle<()>,
}

impl StderrReader {
    fn start(request: &SpawnRequest<'_>, stderr: ChildStderr) -> io::Result<StderrReader> {
        let stop = Arc::new(AtomicBool::new(false));
        let name: Arc<str> = Arc::from(request.name);
        let budget = request.stderr_budget.clone();
        let thread_stop = stop.clone();
        let waker = Arc::new(Waker::new()?);
        let thread_waker = waker.clone();
        let thread = std::thread::Builder::new()
            .name(super::thread_name("plgerr:", request.name))
            .spawn(move || log_stderr(&name, stderr, &thread_stop, &thread_waker, budget))?;
        Ok(StderrReader {
            stop,
            waker,
            thread,
        })
    }

    /// Lets the thread drain what is left for up to `drain`, then stops and
    /// joins it.
    fn finish(self, drain: Duration) {
        let deadline = Instant::now() + drain;
        while !self.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(POLL_STEP);
        }
        self.stop.store(true, Ordering::Relaxed);
        self.waker.wake();
        let _ = self.thread.join();
    }
}

/// Logs the plugin's stderr lines until its end or `stop` (with `waker`
/// woken). It waits with no timeout unless lines were left out by the
/// flood protection (then once a second, for their summary): a quiet
/// plugin's stderr costs no wake-ups.
fn log_stderr(
    name: &str,
    mut stderr: ChildStderr,
    stop: &AtomicBool,
    waker: &Waker,
    budget: StderrBudget,
) {
    let mut framer = LineFramer::with_limits(STDERR_MAX_LINE, 16 * 1024);
    while !stop.load(Ordering::Relaxed) {
        let (summary, pending) = {
            let mut budget = budget.lock();
            let summary = budget.summary_due(Instant::now());
            (summary, budget.suppressed() > 0)
        };
        if let Some(suppressed) = summary {
            log_suppressed(name, suppressed);
        }
        let timeout = pending.then_some(Duration::from_secs(1));
        match wait_readable_or_woken(&stderr, waker, timeout) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::debug!(plugin = %name, %error, "cannot poll the plugin's stderr");
                return;
            }
        }
        let n = match stderr.read(framer.read_buf()) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                tracing::debug!(plugin = %name, %error, "cannot read the plugin's stderr");
                return;
            }
        };
        framer.commit(n);
        let mut budget = budget.lock();
        while let Some(frame) = framer.next_line() {
            match frame {
                Ok(line) => log_stderr_line(name, line, &mut budget),
                Err(wire::pluginsd::FrameError::Overlong { head, .. }) => {
                    log_stderr_line(name, head.as_bytes(), &mut budget);
                }
            }
        }
    }
    let mut budget = budget.lock();
    if let Some(Ok(line)) = framer.finish() {
        log_stderr_line(name, line, &mut budget);
    }
    let suppressed = budget.take_suppressed();
    if suppressed > 0 {
        log_suppressed(name, suppressed);
    }
}

/// One stderr line: at INFO, whatever it says (a plugin's own "ERROR" is
/// its business; the agent's warnings are about the plugin's life).
fn log_stderr_line(name: &str, line: &[u8], budget: &mut LogLimiter) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end();
    if text.is_empty() {
        return;
    }
    let Some(suppressed) = budget.check_now() else {
        return;
    };
    if suppressed > 0 {
        log_suppressed(name, suppressed);
    }
    tracing::info!(target: "plugin", plugin = %name, "{text}");
}

fn log_suppressed(name: &str, suppressed: u64) {
    tracing::info!(
        target: "plugin",
        plugin = %name,
        suppressed,
        "stderr lines not logged (flood protection: [logs] errors to trigger flood protection)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::wait_readable;

    fn spawn_sh(script: &str) -> PluginProcess {
        let args = vec!["-c".to_string(), script.to_string()];
        PluginProcess::spawn(&SpawnRequest {
            name: "sh-test",
            path: Path::new("/bin/sh"),
            args: &args,
            env: &[],
            stderr_budget: Arc::new(Mutex::new(LogLimiter::with_burst(
                10,
                Duration::from_secs(1),
            ))),
        })
        .expect("spawn /bin/sh")
    }

    fn exists(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    /// The state letter of `/proc/PID/stat` (`R`, `S`, `Z`, ...).
    fn state_of(pid: u32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = stat.rfind(')')?;
        stat[after + 1..].trim_start().chars().next()
    }

    /// Polls `done` until it holds, for up to 10 s.
    fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "not within 10 s: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Reads the plugin's stdout until it printed `ready`; returns the
    /// stdout, to keep open until the test is done with the plugin.
    fn wait_ready(process: &mut PluginProcess) -> ChildStdout {
        let mut stdout = process.take_stdout().expect("stdout");
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !seen.ends_with(b"ready\n") {
            assert!(Instant::now() < deadline, "the plugin never said ready");
            if wait_readable(&stdout, Duration::from_millis(100)).expect("poll") {
                let mut chunk = [0u8; 64];
                let n = stdout.read(&mut chunk).expect("read stdout");
                assert!(n > 0, "stdout closed before 'ready': {seen:?}");
                seen.extend_from_slice(&chunk[..n]);
            }
        }
        stdout
    }

    #[test]
    fn stderr_held_open_by_an_escaped_process_does_not_hold_the_stop() {
        // `setsid` leaves the plugin's process group, so nothing kills it,
        // and it keeps the plugin's stderr open for 4 s: the stderr
        // thread, waiting with no timeout, is woken to stop.
        let mut process = spawn_sh("setsid sleep 4 & echo started >&2; exit 0");
        let pid = process.pid();
        eventually("the plugin exits", || state_of(pid) == Some('Z'));
        let started = Instant::now();
        process.stop(Duration::from_secs(1)).expect("stop");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "stop waited {:?} for a stderr another process holds",
            started.elapsed()
        );
    }

    #[test]
    fn a_plugin_that_exits_is_reaped_with_its_status() {
        let mut process = spawn_sh("exit 3");
        let pid = process.pid();
        // Exited, not reaped yet: a zombie until `stop` reaps it.
        eventually("the plugin exits", || state_of(pid) == Some('Z'));
        let ended = process.stop(Duration::from_secs(2)).expect("stop");
        assert_eq!(ended.status.code(), Some(3));
        assert_eq!(ended.stopped_by, None);
        assert!(!exists(pid));
        assert_eq!(process.stop(Duration::ZERO).expect("again"), ended);
    }

    #[test]
    fn sigterm_then_sigkill_for_a_plugin_that_ignores_it() {
        let mut process = spawn_sh("trap '' TERM; echo ready; while :; do sleep 0.05; done");
        let pid = process.pid();
        let _stdout = wait_ready(&mut process);
        let started = Instant::now();
        let ended = process.stop(Duration::from_millis(300)).expect("stop");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(ended.stopped_by, Some(Signal::KILL.as_raw()));
        assert_eq!(ended.status.signal(), Some(Signal::KILL.as_raw()));
        assert!(!exists(pid));
        assert!(!group_alive(process.group));
    }

    #[test]
    fn sigterm_is_enough_for_a_well_behaved_plugin() {
        let mut process = spawn_sh("echo ready; exec sleep 30");
        let _stdout = wait_ready(&mut process);
        let ended = process.stop(Duration::from_secs(5)).expect("stop");
        assert_eq!(ended.stopped_by, Some(Signal::TERM.as_raw()));
    }

    #[test]
    fn stdin_stays_open_until_stop() {
        // `read` returns only when stdin closes: with stdin open, the
        // plugin blocks in it (state S) instead of exiting.
        let mut process = spawn_sh("echo ready; read line; exit 7");
        let pid = process.pid();
        let _stdout = wait_ready(&mut process);
        eventually("the plugin blocks reading stdin", || {
            state_of(pid) == Some('S')
        });
        assert!(matches!(process.child.try_wait(), Ok(None)));
        let ended = process.stop(Duration::from_secs(2)).expect("stop");
        assert!(ended.status.code() == Some(7) || ended.stopped_by.is_some());
    }

    #[test]
    fn stat_lines_give_the_group_of_running_processes() {
        assert_eq!(running_group_of(b"42 (a) b)) S 1 42 42 0"), Some(42));
        assert_eq!(running_group_of(b"42 (sleep) Z 1 40 40 0"), None);
        assert_eq!(running_group_of(b"garbage"), None);
    }

    #[test]
    fn drop_kills_and_reaps() {
        let process = spawn_sh("sleep 30");
        let pid = process.pid();
        drop(process);
        assert!(!exists(pid));
    }
}
