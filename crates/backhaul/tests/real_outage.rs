//! A real carbon-cache outage (issue "Lossless beyond the ring"): a
//! graphite instance with `update every = 1`, `buffer on failures = 5` and
//! a store of `history = 300` sends through a recording proxy to
//! carbon-cache (Debian's), which is stopped twice:
//!
//! 1. for 50 s: longer than the ring (5 s), shorter than `history`. Every
//!    point of every series must be in whisper (read back with
//!    whisper-fetch) at its timestamp with the value netdata's math gives,
//!    and the proxy must have passed each point exactly once (whisper cannot
//!    show a repeat);
//! 2. for 350 s: longer than `history`. The points that fell out of the
//!    store meanwhile are counted as expired (exactly that span, times the
//!    dimensions) and missing from whisper; nothing else is.
//!
//! Time is simulated (each collection and interval is driven by hand at
//! timestamps of the last ten minutes, which whisper's 1 s archive keeps),
//! so the 400 s of outages take a few seconds; carbon-cache and the proxy
//! are really stopped and started again on the same ports. The instance is
//! built from exporting.conf text. Like `real_receivers.rs`, the test is
//! skipped when carbon-cache is not installed, unless
//! `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (`.ci/run`).

mod real;
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use backhaul::config::{parse_exporting_str, parse_main_str};
use backhaul::exporting::monitoring::IntervalCounters;
use backhaul::exporting::{build_instance, Instance, InstanceTotals};
use parking_lot::Mutex;
use real::{now_s, whisper_fetch, Carbon, WAIT};
use rrd::{Algorithm, Chart, ChartDef, DimensionDef, Host, Store};

const S: u64 = 1_000_000;
const HISTORY: usize = 300;
const RING: usize = 5;

/// One dimension of chart `test.outage`.
struct Dim {
    id: &'static str,
    algorithm: Algorithm,
    divisor: i64,
    /// Raw value collected at second `k`.
    raw: fn(i64) -> i64,
    /// The value netdata's math gives for second `k` (`None`: no point),
    /// which packs exactly into the store's 32-bit samples.
    value: fn(i64) -> Option<f64>,
}

const DIMS: [Dim; 3] = [
    Dim {
        id: "absolute",
        algorithm: Algorithm::Absolute,
        divisor: 1,
        raw: |k| 100 * k,
        value: |k| Some((100 * k) as f64),
    },
    Dim {
        id: "quarters",
        algorithm: Algorithm::Absolute,
        divisor: 4,
        raw: |k| 10 * k + 1,
        value: |k| Some((10 * k + 1) as f64 / 4.0),
    },
    // A counter: the rate over each second; the first collection only
    // gives the base.
    Dim {
        id: "rate",
        algorithm: Algorithm::Incremental,
        divisor: 1,
        raw: |k| 5 * k * k,
        value: |k| (k > 1).then(|| (5 * (2 * k - 1)) as f64),
    },
];

/// A line proxy that records every complete line it forwards to carbon.
/// Stopped and started again on the same port, as the receiver it stands
/// for.
struct RecordingProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RecordingProxy {
    fn start(upstream: SocketAddr) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let mut proxy = RecordingProxy {
            addr: listener.local_addr().expect("addr"),
            upstream,
            lines: Arc::default(),
            stop: Arc::default(),
            thread: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = stop.clone();
        let (lines, upstream) = (self.lines.clone(), self.upstream);
        self.thread = Some(std::thread::spawn(move || {
            let mut workers = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (lines, stop) = (lines.clone(), stop.clone());
                        workers.push(std::thread::spawn(move || {
                            forward(client, upstream, &lines, &stop)
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for w in workers {
                let _ = w.join();
            }
        }));
    }

    /// Closes the listener and every connection.
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + WAIT;
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("rebind {}: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Forwards the complete lines of `client` to a new connection to
/// `upstream`, recording each; closes the client when upstream cannot be
/// reached.
fn forward(client: TcpStream, upstream: SocketAddr, lines: &Mutex<Vec<String>>, stop: &AtomicBool) {
    let Ok(mut up) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) else {
        return;
    };
    let _ = client.set_read_timeout(Some(Duration::from_millis(20)));
    let mut reader = BufReader::new(client);
    let mut line = String::new();
    while !stop.load(Ordering::SeqCst) {
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) if line.ends_with('\n') => {
                if up.write_all(line.as_bytes()).is_err() {
                    break;
                }
                lines.lock().push(line.trim_end().to_string());
                line.clear();
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
}

struct Fixture {
    store: Store,
    chart: Arc<Chart>,
    /// Second `k` is stored at `t0 + k`.
    t0: i64,
}

impl Fixture {
    fn new(last_k: i64) -> Fixture {
        let store = Store::new(Host::new("box", HISTORY));
        let chart = store
            .localhost()
            .create_chart(ChartDef::new("test", "outage"));
        {
            let mut w = chart.write();
            for d in &DIMS {
                w.add_dimension(
                    DimensionDef::new(d.id)
                        .divisor(d.divisor)
                        .algorithm(d.algorithm),
                );
            }
        }
        // Every timestamp in the past and inside whisper's 1 s archive (1 h).
        let t0 = (now_s() - last_k - 120) / 10 * 10;
        Fixture { store, chart, t0 }
    }

    fn collect(&self, k: i64) {
        let mut w = self.chart.write();
        for (i, d) in DIMS.iter().enumerate() {
            w.set(i, (d.raw)(k));
        }
        w.done((self.t0 + k) as u64 * S).expect("collect");
    }
}

fn instance(fx: &Fixture, proxy: SocketAddr) -> Instance {
    let (main, _) = parse_main_str("[global]\n    hostname = box\n", "netdata.conf").unwrap();
    let conf = format!(
        "[graphite:carbon]\n    enabled = yes\n    destination = {proxy}\n    update every = 1\n    \
         buffer on failures = {RING}\n    replay windows per second = 200\n    timeout ms = 2000\n    \
         send charts matching = test.*\n"
    );
    let (exporting, warnings) = parse_exporting_str(&conf, "exporting.conf", &main).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    build_instance(&exporting.instances[0], &fx.store, false).expect("build")
}

/// Delivers and replays until nothing is waiting (bounded).
fn drain(inst: &mut Instance, fx: &Fixture, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut c = IntervalCounters::default();
        inst.poll_peer(&mut c);
        inst.catch_up(&fx.store, &mut c);
        inst.deliver(&mut c);
        if inst.ring.is_empty() && inst.backlog_since().is_none() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {} batches still in the ring, backlog since {:?}, {} failures",
            inst.ring.len(),
            inst.backlog_since(),
            InstanceTotals::get(&inst.totals.failures)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Seconds `first..=last`, one `tick()` each, with the receiver up or not.
fn seconds(fx: &Fixture, inst: &mut Instance, ks: std::ops::RangeInclusive<i64>, up: bool) {
    for k in ks {
        fx.collect(k);
        inst.tick(&fx.store, fx.t0 + k, IntervalCounters::default());
        if up {
            drain(inst, fx, &format!("second {k}"));
        } else {
            assert!(inst.ring.len() <= RING, "the ring stays bounded");
        }
    }
}

/// Waits until the proxy passed `n` lines (bounded).
fn wait_lines(proxy: &RecordingProxy, n: usize) {
    let deadline = Instant::now() + WAIT;
    while proxy.lines().len() < n {
        assert!(
            Instant::now() < deadline,
            "the proxy passed {} of {n} lines",
            proxy.lines().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn metric(dim: &Dim) -> String {
    format!("netdata.box.test.outage.{}", dim.id)
}

/// What each series must hold over seconds `1..=last`, without `gone`.
fn expected(fx: &Fixture, dim: &Dim, last: i64, gone: &[i64]) -> BTreeMap<i64, Option<f64>> {
    (1..=last)
        .map(|k| {
            let v = if gone.contains(&k) {
                None
            } else {
                (dim.value)(k)
            };
            (fx.t0 + k, v)
        })
        .collect()
}

/// Checks whisper (bounded wait for carbon's writer) and the proxy's
/// record: every expected point once, at its time, with its value.
fn check(carbon: &mut Carbon, proxy: &RecordingProxy, fx: &Fixture, last: i64, gone: &[i64]) {
    for dim in &DIMS {
        let want = expected(fx, dim, last, gone);
        let path = carbon.wsp_path(&metric(dim));
        carbon
            .server
            .wait_for(&format!("{} to hold every point", path.display()), || {
                if !path.exists() {
                    return Err("no such file yet".into());
                }
                match whisper_fetch(&path, fx.t0, fx.t0 + last) {
                    Ok(got) if got == want => Ok(()),
                    Ok(got) => {
                        let diff: Vec<_> = want
                            .iter()
                            .filter(|(t, v)| got.get(t) != Some(v))
                            .take(5)
                            .map(|(t, v)| (t - fx.t0, *v, got.get(t).copied().flatten()))
                            .collect();
                        Err(format!("(second, want, got) differ: {diff:?}"))
                    }
                    Err(e) => Err(e),
                }
            });
    }
    let mut seen: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for line in proxy.lines() {
        let mut words = line.split(' ');
        let name = words.next().unwrap_or_default().to_string();
        let t: i64 = words
            .nth(1)
            .and_then(|t| t.parse().ok())
            .expect("timestamp");
        *seen.entry((name, t)).or_default() += 1;
    }
    let mut want = BTreeMap::new();
    for dim in &DIMS {
        for (t, v) in expected(fx, dim, last, gone) {
            if v.is_some() {
                want.insert((metric(dim), t), 1usize);
            }
        }
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(repeated.is_empty(), "sent more than once: {repeated:?}");
    assert_eq!(seen, want, "the proxy's record");
}

#[test]
fn carbon_outages_longer_than_the_ring_lose_nothing_the_store_still_holds() {
    if !real::require("carbon outage test", &["carbon-cache", "whisper-fetch"]) {
        return;
    }
    const LAST: i64 = 440;
    let mut carbon = Carbon::start();
    let mut proxy = RecordingProxy::start(carbon.line);
    let fx = Fixture::new(LAST);
    let mut inst = instance(&fx, proxy.addr);

    seconds(&fx, &mut inst, 1..=10, true);
    // Everything before the outage reached carbon.
    wait_lines(&proxy, 29);
    check(&mut carbon, &proxy, &fx, 10, &[]);

    // Outage 1: 50 s, ten times the ring.
    proxy.stop();
    carbon.stop();
    seconds(&fx, &mut inst, 11..=60, false);
    assert_eq!(inst.ring.len(), RING);
    carbon.restart();
    proxy.restart();
    seconds(&fx, &mut inst, 61..=70, true);
    check(&mut carbon, &proxy, &fx, 70, &[]);
    let totals = inst.totals.clone();
    assert_eq!(InstanceTotals::get(&totals.lost_metrics), 0);
    assert_eq!(InstanceTotals::get(&totals.expired_metrics), 0);
    assert!(InstanceTotals::get(&totals.replayed_windows) >= 45);

    // Outage 2: 350 s, longer than history (300 s). The ring holds
    // 71..=75; when the receiver is back at 421 the store holds
    // 122..=421, so 76..=121 fell out.
    proxy.stop();
    carbon.stop();
    seconds(&fx, &mut inst, 71..=420, false);
    carbon.restart();
    proxy.restart();
    seconds(&fx, &mut inst, 421..=LAST, true);
    let gone: Vec<i64> = (76..=121).collect();
    check(&mut carbon, &proxy, &fx, LAST, &gone);
    assert_eq!(
        InstanceTotals::get(&totals.expired_metrics),
        gone.len() as u64 * DIMS.len() as u64,
        "the span that fell out of the store, counted once per point"
    );
    assert_eq!(InstanceTotals::get(&totals.lost_metrics), 0);
}
