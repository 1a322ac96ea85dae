//! The spool across a restart, with the agent binary: a graphite instance
//! whose receiver is down longer than its ring is stopped with SIGTERM; it
//! writes its backlog to `spool directory`; the next start, with the
//! receiver back, sends that backlog first, then goes on live. The
//! receiver must get every point of the first run from the start of the
//! outage on, each once, in time order, before the second run's.
//!
//! With `spool every secs`, the same after SIGKILL: what the receiver gets
//! after the restart has every point older than the kill minus that
//! interval. A spool directory on a full or read-only file system (a small
//! tmpfs the test mounts; root only, else skipped unless
//! `BACKHAUL_REQUIRE_REAL_RECEIVERS=1`) gives a log line naming it, and the
//! agent runs on and delivers once the receiver is back.
//!
//! The store holds the agent's own charts (collectors off), one point a
//! second.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use backhaul::sys::{signal_process, Signal};
use support::{dead_addr, Behaviour, FakeReceiver};

const WAIT: Duration = Duration::from_secs(30);
/// The series checked: absolute, stored every second.
const SERIES: &str = "netdata.box.netdata.exporting_g_metrics.buffered";

struct Agent {
    child: Child,
    log: mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl Agent {
    /// SIGKILL, then waits for the exit.
    fn kill(&mut self) {
        signal_process(&self.child, Signal::KILL).unwrap();
        let _ = self.child.wait();
        while let Ok(line) = self.log.recv_timeout(Duration::from_millis(100)) {
            self.lines.push(line);
        }
    }

    fn start(dir: &Path) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backhaul"))
            .arg("--config")
            .arg(dir.join("netdata.conf"))
            .arg("--exporting-config")
            .arg(dir.join("exporting.conf"))
            .env("RUST_LOG", "backhaul=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Agent {
            child,
            log,
            lines: Vec::new(),
        }
    }

    /// Waits (bounded) for a log line holding `text`.
    fn wait_log(&mut self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(l) = self.lines.iter().find(|l| l.contains(text)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {text:?}:\n{}",
                self.lines.join("\n")
            );
            if let Ok(line) = self.log.recv_timeout(Duration::from_millis(100)) {
                self.lines.push(line);
            }
        }
    }

    /// SIGTERM, then waits (bounded) for a clean exit.
    fn stop(&mut self) {
        signal_process(&self.child, Signal::TERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running 10 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        while let Ok(line) = self.log.recv_timeout(Duration::from_millis(200)) {
            self.lines.push(line);
        }
        assert!(status.success(), "{status:?}\n{}", self.lines.join("\n"));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The spool's segment files in `dir`.
fn spool_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".spool"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Writes the two configuration files: the agent's charts only, one
/// graphite instance `g` sending to `addr` with `extra` settings.
fn configure(dir: &Path, addr: std::net::SocketAddr, extra: &str) {
    std::fs::write(
        dir.join("netdata.conf"),
        format!(
            "[global]\n    hostname = box\n    update every = 1\n\
             [directories]\n    lib = {}\n\
             [plugins]\n    proc = no\n    diskspace = no\n    plugins.d = no\n    cgroups = no\n\
             [web]\n    mode = none\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("exporting.conf"),
        format!(
            "[graphite:g]\n    enabled = yes\n    destination = {addr}\n    update every = 1\n    \
             buffer on failures = 2\n    timeout ms = 500\n    send charts matching = netdata.exporting_g_metrics\n{extra}"
        ),
    )
    .unwrap();
}

/// Waits (bounded) until the receiver has a point of [`SERIES`] at or
/// after `t`.
fn wait_for_point(agent: &mut Agent, rx: &FakeReceiver, t: i64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (seen, _) = series(&rx.lines());
        if seen.keys().any(|&k| k >= t) {
            return;
        }
        if Instant::now() >= deadline {
            while let Ok(line) = agent.log.recv_timeout(Duration::from_millis(200)) {
                agent.lines.push(line);
            }
            panic!(
                "no point at or after {t}; received {:?}\nlog:\n{}",
                rx.lines().iter().rev().take(8).collect::<Vec<_>>(),
                agent.lines.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn now_s() -> i64 {
    (backhaul::sys::now_realtime_ut() / 1_000_000) as i64
}

/// (timestamp, count) of [`SERIES`] in what the receiver got, and whether
/// timestamps never went back.
fn series(lines: &[String]) -> (BTreeMap<i64, usize>, bool) {
    let mut seen = BTreeMap::new();
    let mut last = i64::MIN;
    let mut ordered = true;
    // The name may carry the host's labels as `;tags`.
    let ours = |l: &&String| {
        let name = l.split(' ').next().unwrap_or_default();
        name.split(';').next() == Some(SERIES)
    };
    for l in lines.iter().filter(ours) {
        let t: i64 = l.rsplit(' ').next().unwrap().parse().unwrap();
        ordered &= t >= last;
        last = t;
        *seen.entry(t).or_insert(0) += 1;
    }
    (seen, ordered)
}

#[test]
fn sigterm_during_an_outage_spools_the_backlog_and_the_next_start_sends_it_first() {
    let dir = std::env::temp_dir().join(format!("backhaul-spool-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spool_dir = dir.join("spool");
    let addr = dead_addr();
    std::fs::write(
        dir.join("netdata.conf"),
        format!(
            "[global]\n    hostname = box\n    update every = 1\n\
             [directories]\n    lib = {}\n\
             [plugins]\n    proc = no\n    diskspace = no\n    plugins.d = no\n    cgroups = no\n\
             [web]\n    mode = none\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("exporting.conf"),
        format!(
            "[graphite:g]\n    enabled = yes\n    destination = {addr}\n    update every = 1\n    \
             buffer on failures = 2\n    timeout ms = 500\n    send charts matching = netdata.exporting_g_metrics\n"
        ),
    )
    .unwrap();

    // Run 1: the receiver is down from the start.
    let mut agent = Agent::start(&dir);
    let started = now_s();
    agent.wait_log("buffer on failures is full");
    // Several seconds more than the ring holds are in the store only.
    std::thread::sleep(Duration::from_secs(4));
    agent.stop();
    let stopped = now_s();
    let line = agent.wait_log("the undelivered backlog is in the spool");
    // The default spool directory is under `[directories] lib`.
    let spool = spool_dir.with_file_name("exporting-spool");
    assert!(
        !spool_files(&spool).is_empty(),
        "{line}\n{}",
        spool.display()
    );
    drop(agent);

    // Run 2: the receiver is back.
    let rx = FakeReceiver::start_on(addr, Behaviour::Normal);
    let mut agent = Agent::start(&dir);
    agent.wait_log("sending it first");
    let restarted = now_s();
    let deadline = Instant::now() + WAIT;
    loop {
        let (seen, _) = series(&rx.lines());
        if seen.keys().any(|&t| t >= restarted + 2) {
            break;
        }
        if Instant::now() >= deadline {
            while let Ok(line) = agent.log.recv_timeout(Duration::from_millis(200)) {
                agent.lines.push(line);
            }
            panic!(
                "no live point after the restart (at {restarted}); received {:?}\nlog:\n{}",
                rx.lines().iter().rev().take(8).collect::<Vec<_>>(),
                agent.lines.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    agent.stop();
    assert!(
        spool_files(&spool).is_empty(),
        "the spool is removed once sent: {:?}",
        spool_files(&spool)
    );

    let lines = rx.lines();
    let all: BTreeSet<&String> = lines.iter().collect();
    assert_eq!(all.len(), lines.len(), "a line was received twice");
    let (seen, ordered) = series(&lines);
    assert!(ordered, "time went back: {seen:?}");
    // Run 1's points: every second from its first to its last, once.
    let run1: Vec<i64> = seen.keys().copied().filter(|&t| t <= stopped).collect();
    let (first, last) = (run1[0], *run1.last().unwrap());
    assert!(
        first <= started + 2,
        "run 1's first points are missing: {run1:?}"
    );
    assert!(
        last >= stopped - 2,
        "run 1's last points are missing: {run1:?}"
    );
    assert_eq!(
        run1,
        (first..=last).collect::<Vec<_>>(),
        "a second of run 1 is missing"
    );
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigkill_during_an_outage_loses_at_most_the_spool_interval() {
    const INTERVAL: i64 = 2;
    let dir = std::env::temp_dir().join(format!("backhaul-spool-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let addr = dead_addr();
    configure(&dir, addr, &format!("    spool every secs = {INTERVAL}\n"));
    let spool = dir.join("exporting-spool");

    // Run 1: the receiver is down from the start; killed mid-outage.
    let mut agent = Agent::start(&dir);
    let started = now_s();
    agent.wait_log("buffer on failures is full");
    std::thread::sleep(Duration::from_millis(6_500));
    let killed = backhaul::sys::now_realtime_ut() as f64 / 1e6;
    agent.kill();
    assert!(
        !spool_files(&spool).is_empty(),
        "nothing spooled before the kill:\n{}",
        agent.lines.join("\n")
    );
    drop(agent);

    // Run 2: the receiver is back.
    let rx = FakeReceiver::start_on(addr, Behaviour::Normal);
    let mut agent = Agent::start(&dir);
    agent.wait_log("sending it first");
    let restarted = now_s();
    wait_for_point(&mut agent, &rx, restarted + 2);
    agent.stop();

    let lines = rx.lines();
    let (seen, ordered) = series(&lines);
    assert!(ordered, "time went back: {seen:?}");
    assert!(seen.values().all(|&n| n == 1), "a point twice: {seen:?}");
    let run1: Vec<i64> = seen
        .keys()
        .copied()
        .filter(|&t| (t as f64) < killed)
        .collect();
    let first = run1.first().copied().unwrap_or(i64::MAX);
    assert!(
        first <= started + 2,
        "run 1's first points are missing: {run1:?}"
    );
    // Every point older than the kill minus the interval arrived.
    let must: Vec<i64> = (first..)
        .take_while(|&t| (t as f64) < killed - INTERVAL as f64)
        .collect();
    let missing: Vec<i64> = must
        .iter()
        .copied()
        .filter(|t| !seen.contains_key(t))
        .collect();
    assert!(
        missing.is_empty(),
        "lost more than {INTERVAL} s before the kill at {killed}: missing {missing:?}, run 1 {run1:?}"
    );
    assert!(
        must.len() >= 5,
        "the outage was too short to show anything: {must:?}"
    );
    assert!(
        spool_files(&spool).is_empty(),
        "delivered segments are removed: {:?}",
        spool_files(&spool)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether tests may mount file systems (root); when not, whether they
/// must (`BACKHAUL_REQUIRE_REAL_RECEIVERS=1`: then the test fails).
fn may_mount(test: &str) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0");
    if !root {
        assert!(
            std::env::var("BACKHAUL_REQUIRE_REAL_RECEIVERS").as_deref() != Ok("1"),
            "{test}: needs root to mount a tmpfs"
        );
        eprintln!("{test}: skipped (needs root to mount a tmpfs)");
    }
    root
}

/// A tmpfs mounted at `dir` with `options`, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount -o {options} {}", dir.display());
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A receiver down for a while with the spool on `options` (a tmpfs),
/// then back: the agent logs `expect` naming the directory, stays up,
/// its memory stays bounded, and it delivers every point from the store.
fn spool_on_a_bad_file_system(tag: &str, options: &str, expect: &str) {
    if !may_mount(tag) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("backhaul-spool-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spool = dir.join("spool");
    let _mounted = Tmpfs::mount(&spool, options);
    if options.contains("size=") {
        // Full from the start but for a few KiB.
        let filler = vec![0u8; 60 * 1024];
        let _ = std::fs::write(spool.join("filler"), filler);
    }
    let addr = dead_addr();
    configure(
        &dir,
        addr,
        &format!(
            "    spool directory = {}\n    spool every secs = 1\n",
            spool.display()
        ),
    );
    let mut agent = Agent::start(&dir);
    let started = now_s();
    let line = agent.wait_log(expect);
    assert!(
        line.contains(&spool.display().to_string()),
        "names the directory: {line}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let rss = |pid: u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0)
    };
    let rss_kib = rss(agent.child.id());
    assert!(rss_kib < 200 * 1024, "RSS {rss_kib} KiB");
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "the agent exited"
    );

    // The receiver comes back: the store replays what the spool could not
    // keep.
    let rx = FakeReceiver::start_on(addr, Behaviour::Normal);
    let back = now_s();
    wait_for_point(&mut agent, &rx, back + 2);
    agent.stop();
    let (seen, ordered) = series(&rx.lines());
    assert!(ordered);
    let first = *seen.keys().next().unwrap();
    assert!(first <= started + 2, "the outage's first points: {seen:?}");
    // The outage's points (the series is the instance's own chart: once it
    // is live again, a late interval may leave a gap in the chart itself).
    let last = back - 1;
    assert_eq!(
        seen.keys()
            .copied()
            .filter(|&t| t <= last)
            .collect::<Vec<_>>(),
        (first..=last).collect::<Vec<_>>(),
        "a second is missing; log:\n{}",
        agent.lines.join("\n")
    );
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    drop(_mounted);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_spool_file_system_is_logged_and_the_agent_runs_on() {
    spool_on_a_bad_file_system("full", "size=64k", "cannot write the spool");
}

#[test]
fn a_read_only_spool_file_system_is_logged_and_the_agent_runs_on() {
    spool_on_a_bad_file_system("readonly", "ro,size=64k", "cannot write the spool");
}

#[test]
fn a_spool_from_a_future_version_or_corrupt_is_set_aside_and_the_agent_starts_afresh() {
    let dir = std::env::temp_dir().join(format!("backhaul-spool-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spool = dir.join("exporting-spool");
    std::fs::create_dir_all(&spool).unwrap();
    // Format 3 (a newer backhaul), and a segment that is not a spool.
    let mut future = b"BACKHAUL-SPOOL\n".to_vec();
    future.extend_from_slice(&3u32.to_le_bytes());
    future.extend_from_slice(&0u16.to_le_bytes());
    std::fs::write(spool.join("g.spool"), &future).unwrap();
    std::fs::write(spool.join("g~0000000001.spool"), b"garbage\n").unwrap();
    let rx = FakeReceiver::start(Behaviour::Normal);
    configure(&dir, rx.addr, "");
    let mut agent = Agent::start(&dir);
    let line = agent.wait_log("written by a newer backhaul");
    assert!(line.contains("g.spool"), "names the file: {line}");
    let line = agent.wait_log("not a backhaul spool file");
    assert!(
        line.contains("g~0000000001.spool"),
        "names the file: {line}"
    );
    wait_for_point(&mut agent, &rx, now_s() + 2);
    agent.stop();
    assert!(spool.join("g.spool.unreadable").exists(), "kept aside");
    assert!(spool_files(&spool).is_empty(), "{:?}", spool_files(&spool));
    let _ = std::fs::remove_dir_all(&dir);
}
