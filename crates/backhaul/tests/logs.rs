//! The agent's log as an operator sees it, through the real binary:
//!
//! * a plugin that writes 10 000 stderr lines a second for three seconds
//!   makes the agent log no more than the plugin's budget (`[logs] errors to
//!   trigger flood protection` at once, then one every `errors flood
//!   protection period` divided by that), every line is either logged or
//!   counted in a summary, the plugin's lines are INFO and its death a WARN,
//!   and the agent's own error (a receiver it cannot reach) still shows;
//! * `[logs] error = FILE`: after the file is renamed and the agent gets
//!   `SIGHUP`, new lines land in a new file at the path;
//! * under systemd (`INVOCATION_ID`) lines carry no timestamp, and when
//!   stderr is the journal (`JOURNAL_STREAM`) each starts with its syslog
//!   priority;
//! * with no exporting instance the agent says so with a WARN.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use backhaul::sys::{signal_process, Signal};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("backhaul-logs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("plugins.d")).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// netdata.conf for a test agent: no /proc collectors, plugins from the
/// temp dir, no web server, `extra` appended.
fn write_main_conf(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("netdata.conf");
    std::fs::write(
        &path,
        format!(
            "[global]\n    hostname = logtest\n    update every = 1\n\
             [directories]\n    config = {d}\n    plugins = {d}/plugins.d\n\
             [plugins]\n    proc = no\n    diskspace = no\n\
             [web]\n    mode = none\n{extra}",
            d = dir.display()
        ),
    )
    .expect("write netdata.conf");
    path
}

fn agent(main: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backhaul"));
    command
        .arg("--config")
        .arg(main)
        .env("RUST_LOG", "info")
        .env_remove("INVOCATION_ID")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// The agent's stderr, line by line, as it comes.
struct Lines {
    seen: Arc<Mutex<Vec<String>>>,
    rx: mpsc::Receiver<()>,
}

impl Lines {
    fn of(child: &mut Child) -> Lines {
        let stderr = child.stderr.take().expect("stderr piped");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
                let _ = tx.send(());
            }
        });
        Lines { seen, rx }
    }

    /// Waits (up to `limit`) until some line satisfies `done`.
    fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if self.seen.lock().expect("lines").iter().any(|l| done(l)) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no line {what} within {limit:?}:\n{}",
                self.all().join("\n")
            );
            let _ = self.rx.recv_timeout(left.min(Duration::from_millis(200)));
        }
    }

    fn all(&self) -> Vec<String> {
        self.seen.lock().expect("lines").clone()
    }
}

/// Stops the agent with SIGTERM and waits for it (10 s at most).
fn stop(child: &mut Child) {
    signal_process(child, Signal::TERM).expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "agent exit status {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the agent did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The number after `key=` in a log line.
fn field(line: &str, key: &str) -> Option<u64> {
    let start = line.find(&format!("{key}="))? + key.len() + 1;
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The level word of a line (`INFO`, `WARN`, ...), after an optional
/// timestamp.
fn level_of(line: &str) -> &str {
    line.split_whitespace()
        .find(|word| ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(word))
        .unwrap_or("")
}

const FLOOD_SECONDS: u64 = 3;
const FLOOD_PER_SECOND: u64 = 10_000;
const BURST: u64 = 50;
const PERIOD_S: u64 = 10;

#[test]
fn a_stderr_flood_stays_within_its_budget_and_the_agents_error_still_shows() {
    let dir = TempDir::new("flood");
    let plugin = dir.path().join("plugins.d/flood.plugin");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\n\
             # {FLOOD_PER_SECOND} stderr lines at once, every second, then dies.\n\
             for s in $(seq 1 {FLOOD_SECONDS}); do\n\
             \tseq 1 {FLOOD_PER_SECOND} | sed \"s/^/flood line $s /\" >&2\n\
             \tsleep 1\n\
             done\n\
             exit 1\n"
        ),
    )
    .expect("write plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // A receiver that is not there: the agent's own error.
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    std::fs::write(
        dir.path().join("exporting.conf"),
        format!(
            "[exporting:global]\n    enabled = yes\n    spool directory = {}\n\
             [graphite:nowhere]\n    destination = {dead}\n    update every = 1\n",
            dir.path().join("spool").display()
        ),
    )
    .expect("write exporting.conf");
    let main = write_main_conf(
        dir.path(),
        &format!(
            "[logs]\n    error = stderr\n    errors to trigger flood protection = {BURST}\n    \
             errors flood protection period = {PERIOD_S}\n"
        ),
    );

    let started = Instant::now();
    let mut child = agent(&main).stderr(Stdio::piped()).spawn().expect("spawn");
    let lines = Lines::of(&mut child);
    // The plugin is disabled after it died (it never collected): by then
    // its stderr was read to the end and the last summary logged.
    lines.wait_for(
        Duration::from_secs(30),
        "saying the plugin is disabled",
        |l| l.contains("plugin disabled") && l.contains("plugin=flood"),
    );
    let elapsed = started.elapsed();
    stop(&mut child);
    let all = lines.all();

    let flood: Vec<&String> = all.iter().filter(|l| l.contains("flood line")).collect();
    let summaries: Vec<&String> = all
        .iter()
        .filter(|l| l.contains("stderr lines not logged"))
        .collect();
    let suppressed: u64 = summaries
        .iter()
        .map(|l| field(l, "suppressed").expect("summary with a count"))
        .sum();
    let logged = flood.len() as u64;
    let report = || {
        format!(
            "{logged} logged, {suppressed} counted in {} summaries, in {elapsed:?}:\n{}",
            summaries.len(),
            all.iter()
                .filter(|l| !l.contains("flood line"))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    // The budget: BURST at once, then one every PERIOD_S / BURST.
    let refill_ms = PERIOD_S * 1000 / BURST;
    let budget = BURST + elapsed.as_millis() as u64 / refill_ms + 1;
    assert!(
        logged <= budget,
        "over the budget of {budget}: {}",
        report()
    );
    assert!(logged >= BURST, "fewer than the burst: {}", report());
    // Nothing lost without a trace: every line is logged or counted.
    assert_eq!(
        logged + suppressed,
        FLOOD_SECONDS * FLOOD_PER_SECOND,
        "{}",
        report()
    );
    assert!(!summaries.is_empty(), "no summary: {}", report());
    // The plugin's lines: INFO, target `plugin`, tagged with its name.
    for line in flood.iter().chain(&summaries) {
        assert_eq!(level_of(line), "INFO", "{line}");
        assert!(line.contains("plugin: "), "target: {line}");
        assert!(line.contains("plugin=flood"), "{line}");
    }
    // Its death is the agent's news: a WARN.
    let died = all
        .iter()
        .find(|l| l.contains("plugin died") && l.contains("plugin=flood"))
        .unwrap_or_else(|| panic!("no 'plugin died': {}", report()));
    assert_eq!(level_of(died), "WARN", "{died}");
    // The agent's own error shows among it all.
    let error = all
        .iter()
        .find(|l| l.contains("cannot connect") && l.contains("instance=nowhere"))
        .unwrap_or_else(|| panic!("no 'cannot connect': {}", report()));
    assert_eq!(level_of(error), "ERROR", "{error}");
    // And the whole log stays short.
    assert!(
        (all.len() as u64) < budget + 60,
        "{} lines in all: {}",
        all.len(),
        report()
    );
}

#[test]
fn sighup_reopens_the_log_file_after_it_was_renamed() {
    let dir = TempDir::new("sighup");
    let log = dir.path().join("error.log");
    let main = write_main_conf(
        dir.path(),
        &format!("[logs]\n    error = {}\n", log.display()),
    );
    let mut child = agent(&main).stderr(Stdio::piped()).spawn().expect("spawn");
    let stderr = Lines::of(&mut child);
    let wait_in_file = |path: &Path, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.contains(what) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no '{what}' in {} within 20 s:\n{text}\nstderr: {:?}",
                path.display(),
                stderr.all()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = wait_in_file(&log, "backhaul running");
    // No exporting instance: said clearly, at WARN.
    let warning = first
        .lines()
        .find(|l| l.contains("no exporting instance is enabled"))
        .unwrap_or_else(|| panic!("no warning about instances:\n{first}"));
    assert_eq!(level_of(warning), "WARN", "{warning}");
    // A file gets timestamps and no colours.
    assert!(first.lines().all(|l| l.starts_with("20")), "{first}");
    assert!(!first.contains('\u{1b}'), "{first}");

    let rotated = dir.path().join("error.log.1");
    std::fs::rename(&log, &rotated).expect("rename the log");
    signal_process(&child, Signal::HUP).expect("SIGHUP");
    wait_in_file(&log, "log reopened");
    stop(&mut child);
    let new = std::fs::read_to_string(&log).expect("new log");
    let old = std::fs::read_to_string(&rotated).expect("old log");
    assert!(new.contains("backhaul stopped"), "{new}");
    assert!(!new.contains("backhaul running"), "{new}");
    assert!(old.contains("backhaul running"), "{old}");
    assert!(!old.contains("backhaul stopped"), "{old}");
    assert!(stderr.all().is_empty(), "stderr: {:?}", stderr.all());
}

#[test]
fn under_systemd_lines_have_no_timestamp_and_the_journal_gets_priorities() {
    let dir = TempDir::new("journal");
    let main = write_main_conf(dir.path(), "");

    // INVOCATION_ID only (stderr is a pipe): no timestamps, no prefix.
    let mut child = agent(&main)
        .env("INVOCATION_ID", "0123456789abcdef")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let lines = Lines::of(&mut child);
    lines.wait_for(Duration::from_secs(20), "saying it runs", |l| {
        l.contains("backhaul running")
    });
    stop(&mut child);
    for line in lines.all() {
        assert!(
            line.starts_with(" INFO") || line.starts_with(" WARN") || line.starts_with("ERROR"),
            "{line}"
        );
    }

    // JOURNAL_STREAM naming stderr (a file here): `<N>` prefixes.
    let stderr_path = dir.path().join("stderr");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let (dev, ino) = backhaul::sys::device_and_inode(&stderr).expect("fstat");
    let mut child = agent(&main)
        .env("JOURNAL_STREAM", format!("{dev}:{ino}"))
        .stderr(stderr)
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&stderr_path)
        .unwrap_or_default()
        .contains("backhaul running")
    {
        assert!(Instant::now() < deadline, "not running within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(&mut child);
    let text = std::fs::read_to_string(&stderr_path).expect("stderr");
    let warn = text
        .lines()
        .find(|l| l.contains("no exporting instance"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(warn.starts_with("<4> WARN"), "{warn}");
    let running = text
        .lines()
        .find(|l| l.contains("backhaul running"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(running.starts_with("<6> INFO"), "{running}");
}
