//! Black-box tests of the plugins.d runner with small shell-script plugins
//! written to a temporary directory: environment and argument, stdin held
//! open, stderr in the log, restart with backoff, DISABLE, an error exit
//! before any data, floods of garbage, huge lines and too many charts next
//! to a well-behaved plugin, and SIGTERM-then-SIGKILL on shutdown.
//!
//! The flood test takes the whole machine for a few seconds, so it runs
//! alone (`LOAD` lock); the timing-sensitive tests wait for it.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use backhaul::collectors::pluginsd::{self, PluginState, PluginsdRunner, PluginsdSettings};
use backhaul::config::parse_main_str;
use backhaul::shutdown::Shutdown;
use parking_lot::{Mutex, RwLock};
use rrd::{Host, Store};

/// Held for reading by ordinary tests, for writing by the flood test.
static LOAD: RwLock<()> = RwLock::new(());

// ---------------------------------------------------------------------------
// log capture

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged so far by every test of this binary.
fn logs() -> String {
    static BUFFER: OnceLock<LogBuffer> = OnceLock::new();
    let buffer = BUFFER.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buffer
    });
    String::from_utf8_lossy(&buffer.0.lock()).into_owned()
}

// ---------------------------------------------------------------------------
// fixtures

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "backhaul-pluginsd-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Writes an executable plugin `NAME.plugin`; `@OUT@` in the script
    /// becomes this directory.
    fn plugin(&self, name: &str, script: &str) {
        let path = self.0.join(format!("{name}.plugin"));
        let script = script.replace("@OUT@", &self.0.display().to_string());
        std::fs::write(&path, script).expect("write plugin");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(file)).ok()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Settings for plugins in `dir` only, every plugin enabled.
fn settings(dir: &Path, update_every: u32) -> PluginsdSettings {
    let text = format!(
        "[global]\nhostname = blackbox\nupdate every = {update_every}\n\
         [directories]\nplugins = {}\nconfig = {}/etc\n",
        dir.display(),
        dir.display()
    );
    let (main, _) = parse_main_str(&text, "netdata.conf").expect("config");
    let mut settings = PluginsdSettings::from_main(&main);
    settings.shutdown_grace = Duration::from_secs(1);
    settings
}

struct Running {
    store: Arc<Store>,
    runner: Option<PluginsdRunner>,
    shutdown: Shutdown,
}

impl Running {
    fn start(settings: PluginsdSettings) -> Running {
        logs();
        let store = Arc::new(Store::new(Host::new("blackbox", 30)));
        let shutdown = Shutdown::new();
        let runner = pluginsd::start(settings, store.localhost().clone(), shutdown.clone())
            .expect("start runner");
        Running {
            store,
            runner: Some(runner),
            shutdown,
        }
    }

    fn runner(&self) -> &PluginsdRunner {
        self.runner.as_ref().expect("running")
    }

    fn status(&self, name: &str) -> Arc<pluginsd::PluginStatus> {
        wait_for(Duration::from_secs(10), || self.runner().plugin(name))
            .unwrap_or_else(|| panic!("plugin {name} never started"))
    }

    /// Fires the shutdown and joins the runner; returns how long that took.
    fn stop(&mut self) -> Duration {
        let started = Instant::now();
        self.shutdown.trigger();
        if let Some(runner) = self.runner.take() {
            runner.join();
        }
        started.elapsed()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = f() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a running (non-zombie) process exists in process group `pgid`,
/// or the process `pid` exists at all.
fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn group_has_running_members(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        let Some(after) = stat.rfind(')') else {
            return false;
        };
        let fields: Vec<&str> = stat[after + 1..].split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

fn our_thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
                .map(|name| name.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until no thread of ours is called `name`; false on timeout. A
/// plugin's supervisor thread (`plg:NAME`) returns once the plugin is
/// disabled, and nothing starts a disabled plugin again: after that its
/// run count is final.
fn wait_thread_gone(name: &str, timeout: Duration) -> bool {
    wait_for(timeout, || {
        (!our_thread_names().iter().any(|thread| thread == name)).then_some(())
    })
    .is_some()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// tests

#[test]
fn environment_argument_stdin_and_stderr() {
    let _load = LOAD.read();
    let dir = TempDir::new("env");
    dir.plugin(
        "envcheck",
        r#"#!/bin/bash
echo "$#:$1" > "@OUT@/args"
env > "@OUT@/env"
echo "CHART test.stdin '' 'stdin state' state"
echo "DIMENSION open"
# A held-open stdin makes read time out (status > 128); a closed one
# returns 1 at once.
if read -t 2 line; then s=2; else rc=$?; if [ $rc -gt 128 ]; then s=1; else s=0; fi; fi
echo "BEGIN test.stdin"
echo "SET open = $s"
echo "END"
echo "envcheck-stderr-marker pid $$" >&2
exec sleep 60
"#,
    );
    let mut running = Running::start(settings(dir.path(), 2));
    let status = running.status("envcheck");
    let chart = wait_for(Duration::from_secs(10), || {
        let chart = running.store.localhost().chart_by_id("test.stdin")?;
        let rounds = chart.read().rounds();
        (rounds > 0).then_some(chart)
    })
    .expect("test.stdin collected");
    let open = chart
        .read()
        .dimension(0)
        .and_then(|d| d.last_collected())
        .map(|(raw, _)| raw);
    assert_eq!(open, Some(1), "stdin was not held open");

    assert_eq!(dir.read("args").as_deref(), Some("1:2\n"));
    let env: HashMap<String, String> = dir
        .read("env")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let get = |key: &str| env.get(key).map(String::as_str).unwrap_or("<unset>");
    let dir_text = dir.path().display().to_string();
    assert_eq!(get("NETDATA_UPDATE_EVERY"), "2");
    assert_eq!(get("NETDATA_HOSTNAME"), "blackbox");
    assert_eq!(get("NETDATA_PLUGINS_DIR"), dir_text);
    assert_eq!(get("NETDATA_USER_CONFIG_DIR"), format!("{dir_text}/etc"));
    assert_eq!(get("NETDATA_STOCK_CONFIG_DIR"), "/usr/lib/netdata/conf.d");
    assert_eq!(get("NETDATA_LIB_DIR"), "/var/lib/netdata");
    assert_eq!(get("NETDATA_CACHE_DIR"), "/var/cache/netdata");
    assert_eq!(get("NETDATA_LOG_DIR"), "/var/log/netdata");
    assert_eq!(get("NETDATA_HOST_PREFIX"), "");
    assert_eq!(get("PYTHONUNBUFFERED"), "1");

    let pid = match status.state() {
        PluginState::Running { pid } => pid,
        other => panic!("not running: {other:?}"),
    };
    let line = wait_for(Duration::from_secs(5), || {
        logs()
            .lines()
            .find(|line| line.contains("envcheck-stderr-marker"))
            .map(str::to_string)
    })
    .expect("stderr line in the log");
    assert!(line.contains(&format!("pid {pid}")), "{line}");
    assert!(line.contains("plugin=envcheck"), "{line}");

    running.stop();
    assert!(!process_exists(pid), "plugin {pid} left behind");
    assert_eq!(status.state(), PluginState::Stopped);
    // Its threads are gone too.
    let threads = our_thread_names();
    assert!(
        !threads
            .iter()
            .any(|t| t == "plg:envcheck" || t == "plgerr:envcheck"),
        "{threads:?}"
    );
    // Its chart is obsolete now.
    assert!(chart.read().is_obsolete());
}

#[test]
fn an_exiting_plugin_is_restarted_with_backoff() {
    let _load = LOAD.read();
    let dir = TempDir::new("restart");
    dir.plugin(
        "oneshot",
        r#"#!/bin/sh
date +%s.%N >> "@OUT@/starts"
echo "CHART test.oneshot '' 'one shot' x"
echo "DIMENSION runs"
echo "BEGIN test.oneshot"
echo "SET runs = $(wc -l < "@OUT@/starts")"
echo "END"
exit 0
"#,
    );
    let mut running = Running::start(settings(dir.path(), 1));
    let status = running.status("oneshot");
    let starts = wait_for(Duration::from_secs(15), || {
        let text = dir.read("starts")?;
        let starts: Vec<f64> = text.lines().filter_map(|l| l.parse().ok()).collect();
        (starts.len() >= 3).then_some(starts)
    })
    .expect("three runs");
    let gap1 = starts[1] - starts[0];
    let gap2 = starts[2] - starts[1];
    assert!((0.95..2.0).contains(&gap1), "first restart after {gap1} s");
    assert!((1.95..4.0).contains(&gap2), "second restart after {gap2} s");
    assert!(status.runs() >= 3);
    wait_for(Duration::from_secs(5), || {
        (status.counters().collections >= 3).then_some(())
    })
    .expect("a collection per run");
    let chart = running
        .store
        .localhost()
        .chart_by_id("test.oneshot")
        .expect("chart");
    running.stop();
    assert!(chart.read().is_obsolete());
    assert!(chart.read().rounds() >= 3);
}

#[test]
fn a_plugin_that_sends_disable_is_stopped_and_never_restarted() {
    let _load = LOAD.read();
    let dir = TempDir::new("disable");
    dir.plugin(
        "quitter",
        r#"#!/bin/sh
echo $$ > "@OUT@/pid"
date +%s.%N >> "@OUT@/starts"
echo "CHART test.quitter '' 'quitter' x"
echo "DIMENSION a"
echo "BEGIN test.quitter"
echo "SET a = 1"
echo "END"
echo "DISABLE"
exec sleep 60
"#,
    );
    let mut running = Running::start(settings(dir.path(), 1));
    let status = running.status("quitter");
    let reason = wait_for(Duration::from_secs(10), || match status.state() {
        PluginState::Disabled { reason } => Some(reason),
        _ => None,
    })
    .expect("disabled");
    assert!(reason.contains("DISABLE"), "{reason}");
    let pid: u32 = dir
        .read("pid")
        .and_then(|p| p.trim().parse().ok())
        .expect("pid file");
    assert!(!process_exists(pid), "the disabled plugin still runs");
    assert!(
        wait_thread_gone("plg:quitter", Duration::from_secs(10)),
        "the supervisor of a disabled plugin is still there"
    );
    assert_eq!(status.runs(), 1);
    assert_eq!(dir.read("starts").map(|s| s.lines().count()), Some(1));
    assert_eq!(status.counters().collections, 1);
    running.stop();
    assert!(matches!(status.state(), PluginState::Disabled { .. }));
}

#[test]
fn an_error_exit_before_any_data_disables_the_plugin() {
    let _load = LOAD.read();
    let dir = TempDir::new("fail");
    dir.plugin(
        "broken",
        "#!/bin/sh\necho 'broken-plugin: nothing to do here' >&2\nexit 3\n",
    );
    let mut running = Running::start(settings(dir.path(), 1));
    let status = running.status("broken");
    let reason = wait_for(Duration::from_secs(10), || match status.state() {
        PluginState::Disabled { reason } => Some(reason),
        _ => None,
    })
    .expect("disabled");
    assert!(reason.contains("exit code 3"), "{reason}");
    assert!(
        wait_thread_gone("plg:broken", Duration::from_secs(10)),
        "the supervisor of a disabled plugin is still there"
    );
    assert_eq!(status.runs(), 1);
    running.stop();
    assert!(logs().contains("broken-plugin: nothing to do here"));
}

#[test]
fn shutdown_sends_sigterm_then_sigkill_to_a_plugin_that_ignores_it() {
    let _load = LOAD.read();
    let dir = TempDir::new("stubborn");
    dir.plugin(
        "stubborn",
        r#"#!/bin/bash
# Deaf to SIGTERM, and to SIGPIPE once its stdout is closed.
trap '' TERM PIPE
echo $$ > "@OUT@/pid"
echo "CHART test.stubborn '' 'stubborn' x"
echo "DIMENSION a"
while :; do
  echo "BEGIN test.stubborn"; echo "SET a = 1"; echo "END"
  sleep 0.2
done
"#,
    );
    let mut running = Running::start(settings(dir.path(), 1));
    let status = running.status("stubborn");
    wait_for(Duration::from_secs(10), || {
        (status.counters().collections > 0).then_some(())
    })
    .expect("collecting");
    let pid: u32 = dir
        .read("pid")
        .and_then(|p| p.trim().parse().ok())
        .expect("pid file");
    let took = running.stop();
    // One second of grace after SIGTERM, then SIGKILL.
    assert!(took >= Duration::from_millis(950), "stopped after {took:?}");
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    assert!(
        !process_exists(pid),
        "plugin {pid} survived (or is a zombie)"
    );
    assert!(!group_has_running_members(pid), "its children survived");
    assert_eq!(status.state(), PluginState::Stopped);
}

#[test]
fn floods_and_garbage_do_not_stop_other_plugins_or_grow_memory() {
    let _load = LOAD.write();
    let dir = TempDir::new("flood");
    dir.plugin(
        "good",
        r#"#!/bin/sh
echo "CHART test.good '' 'good' x"
echo "DIMENSION i"
i=0
while :; do
  i=$((i+1))
  echo "BEGIN test.good"; echo "SET i = $i"; echo "END"
  sleep 0.5
done
"#,
    );
    dir.plugin(
        "random",
        "#!/bin/sh\nhead -c 20000000 /dev/urandom\nexec sleep 60\n",
    );
    dir.plugin(
        "longlines",
        r#"#!/bin/sh
# 40 lines of 1 MB, no newline at all for 5 MB, then a valid chart.
for i in $(seq 40); do head -c 1000000 /dev/zero | tr '\0' 'x'; echo; done
head -c 5000000 /dev/zero | tr '\0' 'y'
echo
echo "CHART test.after_long '' 'after long lines' x"
echo "DIMENSION a"
echo "BEGIN test.after_long"; echo "SET a = 7"; echo "END"
exec sleep 60
"#,
    );
    dir.plugin(
        "manycharts",
        r#"#!/bin/sh
awk 'BEGIN {
  for (i = 0; i < 100000; i++) {
    print "CHART flood.c" i " '"''"' t u"
    print "DIMENSION d"
  }
  for (i = 0; i < 100000; i += 1000) {
    print "BEGIN flood.c" i; print "SET d = " i; print "END"
  }
}'
exec sleep 60
"#,
    );
    let rss_before = rss_kib();
    let mut running = Running::start(settings(dir.path(), 1));
    let good = running.status("good");
    let random = running.status("random");
    let longlines = running.status("longlines");
    let many = running.status("manycharts");

    wait_for(Duration::from_secs(30), || {
        let done = many.counters().lines >= 200_000 + 300
            && longlines.counters().collections >= 1
            && random.counters().lines > 1000
            && good.counters().collections >= 6;
        done.then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "floods not absorbed in time: good {:?} random {:?} longlines {:?} many {:?}",
            good.counters(),
            random.counters(),
            longlines.counters(),
            many.counters()
        )
    });
    // The good plugin kept collecting throughout.
    let host = running.store.localhost();
    let good_rounds = || {
        host.chart_by_id("test.good")
            .map(|c| c.read().rounds())
            .unwrap_or(0)
    };
    let rounds_before = good_rounds();
    let rounds_after = wait_for(Duration::from_secs(5), || {
        let rounds = good_rounds();
        (rounds >= rounds_before + 2).then_some(rounds)
    });
    assert!(
        rounds_after.is_some(),
        "{rounds_before} -> {} rounds in 5 s",
        good_rounds()
    );

    // Too many charts: capped at the default limit, the rest refused.
    let many_counters = many.counters();
    assert_eq!(many_counters.charts, 10_000);
    assert_eq!(many_counters.refused_by_limits, 90_000);
    // Collections of the charts it kept: c0, c1000, ..., c9000.
    assert_eq!(many_counters.collections, 10);
    assert!(host.chart_count() <= 10_000 + 3, "{}", host.chart_count());

    // Huge lines: dropped, counted, and the plugin read on.
    let long_counters = longlines.counters();
    assert_eq!(long_counters.overlong_lines, 41, "{long_counters:?}");
    assert_eq!(long_counters.collections, 1);

    // Random bytes: complaints, no crash, no DISABLE by accident.
    let random_counters = random.counters();
    assert!(
        random_counters.unknown_verbs
            + random_counters.parse_errors
            + random_counters.overlong_lines
            > 0,
        "{random_counters:?}"
    );
    for status in [&good, &random, &longlines, &many] {
        assert!(
            matches!(status.state(), PluginState::Running { .. }),
            "{}: {:?}",
            status.name,
            status.state()
        );
    }

    // Memory: 10 000 charts of one dimension with 30 points each, plus the
    // framers' fixed buffers, stay far below this.
    let grown_mib = rss_kib().saturating_sub(rss_before) / 1024;
    eprintln!("flood: resident memory grew by {grown_mib} MiB");
    assert!(grown_mib < 150, "resident memory grew by {grown_mib} MiB");
    let took = running.stop();
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
}
