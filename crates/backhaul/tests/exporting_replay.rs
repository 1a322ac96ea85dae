//! Replay from the store, black-box: a running instance (its own thread,
//! its own schedule, built from exporting.conf text) whose in-process
//! receiver is away for longer than `buffer on failures` covers, for each
//! delivery: TCP lines (graphite), HTTP requests (graphite:http) and
//! prometheus remote write. When the receiver is back, it must have every
//! point of every dimension, at its timestamp, exactly once, in time
//! order, and the instance must count nothing lost.
//!
//! A collector thread stores one point a second (constant values, so the
//! store's interpolation gives them back exactly).

#[path = "support/rw_store.rs"]
#[allow(dead_code)]
mod rw_store;
mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use backhaul::config::{parse_exporting_str, parse_main_str};
use backhaul::exporting::{build_instance, spawn, InstanceTotals, RunningInstance};
use backhaul::shutdown::Shutdown;
use backhaul::sys::now_realtime_ut;
use prost::Message as _;
use rrd::{ChartDef, DimensionDef, Host, Store};
use support::http_receiver::{script, Action, Framing, HttpReceiver};
use support::{Behaviour, FakeReceiver};
use wire::format::remote_write::WriteRequest;

const DIMS: usize = 3;
/// How long the receiver is away: several times the two batches the ring
/// holds.
const OUTAGE: Duration = Duration::from_secs(6);
/// Bound on every wait.
const WAIT: Duration = Duration::from_secs(30);

/// The value every point of dimension `d` has.
fn value_of(d: usize) -> f64 {
    (7 * (d + 1)) as f64
}

/// A store with chart `test.c` of [`DIMS`] dimensions, and a thread that
/// completes a collection round for every whole second.
struct Collector {
    store: Arc<Store>,
    stop: Shutdown,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    fn start() -> Collector {
        let store = Arc::new(Store::new(Host::new("box", 600)));
        let chart = store.localhost().create_chart(ChartDef::new("test", "c"));
        {
            let mut w = chart.write();
            for d in 0..DIMS {
                w.add_dimension(DimensionDef::new(format!("d{d}")));
            }
        }
        let stop = Shutdown::new();
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || loop {
                // The point of second `t` is stored half a second ahead,
                // so it is in the store when the window ending at `t` is
                // built, however the instance's wake-up is offset.
                let now = now_realtime_ut();
                let mut t = now / 1_000_000 + 1;
                if t * 1_000_000 - 500_000 <= now {
                    t += 1;
                }
                if stop.sleep(Duration::from_micros(t * 1_000_000 - 500_000 - now)) {
                    return;
                }
                let mut w = chart.write();
                for d in 0..DIMS {
                    w.set(d, value_of(d) as i64);
                }
                let _ = w.done(t * 1_000_000);
            })
        };
        Collector {
            store,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the instance of `section` (with `destination`) on its thread.
fn start(
    store: &Arc<Store>,
    section: &str,
    destination: &str,
    shutdown: &Shutdown,
) -> RunningInstance {
    let (main, _) = parse_main_str("[global]\n    hostname = box\n", "netdata.conf").unwrap();
    let conf = format!(
        "[{section}]\n    enabled = yes\n    destination = {destination}\n    update every = 1\n    \
         buffer on failures = 2\n    replay windows per second = 20\n    timeout ms = 500\n    \
         send charts matching = test.*\n    remote write URL path = /write\n"
    );
    let conf = if section.starts_with("prometheus_remote_write") {
        conf
    } else {
        conf.replace("    remote write URL path = /write\n", "")
    };
    let (exporting, warnings) = parse_exporting_str(&conf, "exporting.conf", &main)
        .unwrap_or_else(|e| panic!("{e}\n{conf}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let instance = build_instance(&exporting.instances[0], store, false).expect("build");
    spawn(instance, store.clone(), shutdown.clone()).expect("spawn")
}

/// Sleeps until `at` past a whole second: the instance writes just after
/// whole seconds, so a receiver stopped at half past stops between writes.
fn sleep_to_fraction(at: Duration) {
    let now = now_realtime_ut() % 1_000_000;
    let target = at.as_micros() as u64;
    let wait = if now < target {
        target - now
    } else {
        1_000_000 - now + target
    };
    std::thread::sleep(Duration::from_micros(wait));
}

fn now_s() -> i64 {
    (now_realtime_ut() / 1_000_000) as i64
}

/// Waits (bounded) until `seen()`'s newest timestamp is at least `t`.
fn wait_for_time(t: i64, seen: impl Fn() -> Vec<(String, f64, i64)>) {
    let deadline = Instant::now() + WAIT;
    while seen().iter().map(|p| p.2).max().unwrap_or(0) < t {
        assert!(Instant::now() < deadline, "no point at {t} arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every dimension has every second from the first to the last received,
/// exactly once, with its value; timestamps never go back.
fn check_every_point_once(points: &[(String, f64, i64)]) {
    assert!(!points.is_empty());
    for pair in points.windows(2) {
        assert!(pair[0].2 <= pair[1].2, "time went back: {pair:?}");
    }
    let first = points.iter().map(|p| p.2).min().unwrap();
    let last = points.iter().map(|p| p.2).max().unwrap();
    let mut seen: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for (dim, value, t) in points {
        let d: usize = dim.trim_start_matches('d').parse().unwrap();
        assert_eq!(*value, value_of(d), "{dim} at {t}");
        *seen.entry((dim.clone(), *t)).or_default() += 1;
    }
    for d in 0..DIMS {
        for t in first..=last {
            let n = seen.get(&(format!("d{d}"), t)).copied().unwrap_or(0);
            assert_eq!(
                n, 1,
                "d{d} at {t} received {n} times (points {first}..={last})"
            );
        }
    }
}

/// The outage: the receiver answers for a while, is away for [`OUTAGE`],
/// comes back; then the instance must catch up with live export.
fn outage(
    down: impl FnOnce(),
    up: impl FnOnce(),
    seen: impl Fn() -> Vec<(String, f64, i64)>,
    running: &RunningInstance,
) {
    let started = now_s();
    wait_for_time(started + 2, &seen);
    sleep_to_fraction(Duration::from_millis(600));
    down();
    std::thread::sleep(OUTAGE);
    let back = now_s();
    up();
    // Caught up: a point stored after the receiver came back arrived,
    // and the instance has no backlog.
    wait_for_time(back + 2, &seen);
    let deadline = Instant::now() + WAIT;
    while running.status.snapshot().buffered_metrics > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let totals = &running.totals;
    assert!(
        InstanceTotals::get(&totals.replayed_windows) >= 2,
        "the outage was longer than the ring: windows must have been replayed ({})",
        InstanceTotals::get(&totals.replayed_windows)
    );
    assert_eq!(InstanceTotals::get(&totals.lost_metrics), 0);
    assert_eq!(InstanceTotals::get(&totals.expired_metrics), 0);
}

fn stop(running: RunningInstance, shutdown: &Shutdown) {
    shutdown.trigger();
    running.thread.join().expect("instance thread");
}

/// `NAME VALUE TIMESTAMP` graphite lines, as (dimension, value, time).
fn graphite_points(lines: &[String]) -> Vec<(String, f64, i64)> {
    lines
        .iter()
        .map(|l| {
            let mut w = l.split(' ');
            let name = w.next().unwrap();
            let value = w.next().unwrap().parse().unwrap();
            let t = w.next().unwrap().parse().unwrap();
            (name.rsplit('.').next().unwrap().to_string(), value, t)
        })
        .collect()
}

#[test]
fn tcp_lines_replay_an_outage_longer_than_the_ring_exactly_once() {
    let collector = Collector::start();
    let rx = parking_lot::Mutex::new(FakeReceiver::start(Behaviour::Normal));
    let port = rx.lock().addr.port();
    let shutdown = Shutdown::new();
    let running = start(
        &collector.store,
        "graphite:g",
        &format!("127.0.0.1:{port}"),
        &shutdown,
    );
    outage(
        || rx.lock().stop(),
        || rx.lock().restart(),
        || graphite_points(&rx.lock().lines()),
        &running,
    );
    stop(running, &shutdown);
    check_every_point_once(&graphite_points(&rx.lock().lines()));
}

/// An HTTP receiver that answers 503 while `down`, else 200.
fn http_receiver() -> (HttpReceiver, Arc<AtomicBool>) {
    let down = Arc::new(AtomicBool::new(false));
    let flag = down.clone();
    let rx = HttpReceiver::start(script(move |_| {
        if flag.load(Ordering::SeqCst) {
            Action::status(503)
        } else {
            Action::status(200)
        }
    }));
    (rx, down)
}

#[test]
fn http_requests_replay_an_outage_longer_than_the_ring_exactly_once() {
    let collector = Collector::start();
    let (rx, down) = http_receiver();
    let shutdown = Shutdown::new();
    let running = start(
        &collector.store,
        "graphite:http:g",
        &format!("127.0.0.1:{}", rx.addr.port()),
        &shutdown,
    );
    let seen = || graphite_points(&rx.delivered_items(Framing::Lines).expect("framing"));
    outage(
        || down.store(true, Ordering::SeqCst),
        || down.store(false, Ordering::SeqCst),
        seen,
        &running,
    );
    stop(running, &shutdown);
    assert!(rx.count_answered(503) > 0, "the receiver was never down");
    check_every_point_once(&seen());
}

/// The samples of chart `test.c` in the remote-write requests answered
/// 2xx, in order (the `netdata_info` sample of every request left out).
fn remote_write_points(rx: &HttpReceiver) -> Vec<(String, f64, i64)> {
    let mut points = Vec::new();
    let state = rx.state();
    for request in state.delivered() {
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&request.body)
            .expect("snappy block");
        let write = WriteRequest::decode(raw.as_slice()).expect("WriteRequest");
        for ts in write.timeseries {
            let label = |name: &str| {
                ts.labels
                    .iter()
                    .find(|l| l.name == name)
                    .map(|l| l.value.clone())
            };
            if label("__name__").as_deref() == Some("netdata_info") {
                continue;
            }
            let dim = label("dimension").expect("dimension label");
            for sample in &ts.samples {
                points.push((dim.clone(), sample.value, sample.timestamp / 1000));
            }
        }
    }
    points
}

#[test]
fn remote_write_replays_an_outage_longer_than_the_ring_exactly_once_in_order() {
    let collector = Collector::start();
    let (rx, down) = http_receiver();
    let shutdown = Shutdown::new();
    let running = start(
        &collector.store,
        "prometheus_remote_write:prw",
        &format!("127.0.0.1:{}", rx.addr.port()),
        &shutdown,
    );
    outage(
        || down.store(true, Ordering::SeqCst),
        || down.store(false, Ordering::SeqCst),
        || remote_write_points(&rx),
        &running,
    );
    stop(running, &shutdown);
    assert!(rx.count_answered(503) > 0, "the receiver was never down");
    check_every_point_once(&remote_write_points(&rx));
}
