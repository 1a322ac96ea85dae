//! The spool across a restart, with the agent binary: a graphite instance
//! whose receiver is down longer than its ring is stopped with SIGTERM; it
//! writes its backlog to `spool directory`; the next start, with the
//! receiver back, sends that backlog first, then goes on live. The
//! receiver must get every point of the first run from the start of the
//! outage on, each once, in time order, before the second run's.
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
             [plugins]\n    proc = no\n    diskspace = no\n    plugins.d = no\n\
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
    let spool = spool_dir.with_file_name("exporting-spool").join("g.spool");
    assert!(spool.exists(), "{line}\n{}", spool.display());
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
    assert!(!spool.exists(), "the spool is removed once sent");

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
