//! Black-box fault tests of the exporting engine against in-process fake
//! receivers on 127.0.0.1: failover and the move back, receiver restart,
//! slow and closing receivers, ring overflow accounting, and a black-hole
//! receiver that must not delay another instance.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use backhaul::config::DataSource;
use backhaul::exporting::backoff::RetryPolicy;
use backhaul::exporting::delivery::lines::LineDelivery;
use backhaul::exporting::monitoring::{InstanceCharts, IntervalCounters};
use backhaul::exporting::{
    BatchBuilder, BatchRing, BatchSettings, Endpoint, Format, Instance, InstanceParts,
    InstanceTotals, Schedule, Transport,
};
use backhaul::shutdown::Shutdown;
use rrd::{Chart, ChartDef, DimensionDef, Host, Store};
use support::{dead_addr, Behaviour, FakeReceiver};

const S: u64 = 1_000_000;
const T0: i64 = 1_700_000_000;

/// Retry at once: tests drive time themselves.
struct NoDelay;
impl RetryPolicy for NoDelay {
    fn next_delay(&mut self) -> Duration {
        Duration::ZERO
    }
    fn reset(&mut self) {}
}

struct Fixture {
    store: Arc<Store>,
    chart: Arc<Chart>,
    dims: usize,
}

impl Fixture {
    fn new(dims: usize) -> Fixture {
        let store = Arc::new(Store::new(Host::new("box", 600)));
        let chart = store.localhost().create_chart(ChartDef::new("test", "c"));
        {
            let mut w = chart.write();
            for d in 0..dims {
                w.add_dimension(DimensionDef::new(format!("dim{d}")));
            }
        }
        Fixture { store, chart, dims }
    }

    /// Stores the point of second `t` (values encode dimension and time).
    fn collect(&self, t: i64) {
        let mut w = self.chart.write();
        for d in 0..self.dims {
            w.set(d, (t - T0) * 1000 + d as i64);
        }
        w.done(t as u64 * S).unwrap();
    }

    fn expected(&self, times: impl IntoIterator<Item = i64>) -> BTreeSet<String> {
        let mut set = BTreeSet::new();
        for t in times {
            for d in 0..self.dims {
                set.insert(format!(
                    "netdata.box.test.c.dim{d} {}.0000000 {t}",
                    (t - T0) * 1000 + d as i64
                ));
            }
        }
        set
    }
}

fn settings() -> BatchSettings {
    BatchSettings {
        data_source: DataSource::Average,
        prefix: "netdata".into(),
        hostname: "box".into(),
        update_every: 1,
        send_names_instead_of_ids: true,
        send_charts_matching: "test.*".into(),
        send_hosts_matching: "localhost *".into(),
        send_configured_labels: true,
        send_automatic_labels: false,
        host_tags: Vec::new(),
        send_variables: false,
    }
}

fn endpoint(addr: SocketAddr) -> Endpoint {
    Endpoint {
        host: addr.ip().to_string(),
        port: addr.port(),
    }
}

fn instance(
    store: &Store,
    dest: &[SocketAddr],
    ring: usize,
    timeout: Duration,
    charts: bool,
) -> Instance {
    instance_with(store, dest, ring, timeout, charts, None)
}

fn instance_with(
    store: &Store,
    dest: &[SocketAddr],
    ring: usize,
    timeout: Duration,
    charts: bool,
    send_buffer: Option<usize>,
) -> Instance {
    let mut transport = Transport::new(dest.iter().copied().map(endpoint).collect(), timeout)
        .with_primary_retry_every(Duration::ZERO);
    if let Some(bytes) = send_buffer {
        transport = transport.with_send_buffer(bytes);
    }
    let charts = charts.then(|| InstanceCharts::new(store.localhost(), "t", 1, false, false));
    Instance::new(InstanceParts {
        name: "t".into(),
        destination: "test".into(),
        update_every: 1,
        builder: BatchBuilder::new(settings(), Format::Graphite),
        delivery: Box::new(LineDelivery::new(
            "t",
            transport,
            Box::new(NoDelay),
            timeout,
        )),
        ring: BatchRing::new(ring),
        charts,
        schedule: Schedule::with_offset(1, 0),
    })
}

fn tick(f: &Fixture, inst: &mut Instance, t: i64) -> IntervalCounters {
    f.collect(t);
    inst.tick(&f.store, t, IntervalCounters::default())
}

/// Lets acknowledgements come back, then records them.
fn settle(inst: &mut Instance) -> IntervalCounters {
    let mut c = IntervalCounters::default();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(10));
        inst.deliver(&mut c);
        if inst.ring.is_empty() {
            break;
        }
    }
    c
}

fn as_set(lines: &[String]) -> BTreeSet<String> {
    let set: BTreeSet<String> = lines.iter().cloned().collect();
    assert_eq!(set.len(), lines.len(), "duplicate lines received");
    set
}

use support::assert_lines;

/// The sum of every stored point of `chart`'s dimension `dim`.
fn charted_sum(store: &Store, chart: &str, dim: &str) -> f64 {
    let chart = store.localhost().chart_by_id(chart).expect("chart exists");
    let r = chart.read();
    let index = r.dimension_index(dim).expect("dimension exists");
    r.points(index, 0, i64::MAX / 2)
        .iter()
        .map(|p| p.value)
        .sum()
}

fn get(v: &std::sync::atomic::AtomicU64) -> u64 {
    InstanceTotals::get(v)
}

#[test]
fn fails_over_to_the_next_destination_and_moves_back_to_the_primary() {
    let f = Fixture::new(3);
    let primary_addr = dead_addr();
    let secondary = FakeReceiver::start(Behaviour::Normal);
    let mut inst = instance(
        &f.store,
        &[primary_addr, secondary.addr],
        10,
        Duration::from_secs(2),
        false,
    );
    tick(&f, &mut inst, T0 + 1);
    tick(&f, &mut inst, T0 + 2);
    settle(&mut inst);
    let got = secondary.wait_for_lines(6, Duration::from_secs(5));
    assert_lines(&got, &f.expected([T0 + 1, T0 + 2]));

    let primary = FakeReceiver::start_on(primary_addr, Behaviour::Normal);
    tick(&f, &mut inst, T0 + 3);
    tick(&f, &mut inst, T0 + 4);
    settle(&mut inst);
    let got = primary.wait_for_lines(3, Duration::from_secs(5));
    assert!(
        as_set(&got).is_subset(&f.expected([T0 + 3, T0 + 4])) && !got.is_empty(),
        "primary got {got:?}"
    );
    // Between them, every line exactly once.
    let mut all = secondary.lines();
    all.extend(primary.lines());
    assert_lines(&all, &f.expected(T0 + 1..=T0 + 4));
    assert_eq!(inst.delivery.peer().unwrap(), primary_addr);
}

/// Regression: a secondary that reads slower than the agent writes (so
/// writes time out in the middle of a line), and the primary coming back
/// while the secondary is still busy. The move back happens at a line
/// boundary: the primary receives only whole lines, and no line is lost at
/// the switch. `switch_wait` is how long the switch waits for the
/// secondary's acknowledgement (the instance's `timeout ms`); when it
/// comes in time, no line is repeated either.
fn move_back_while_the_secondary_is_busy(switch_wait: Duration) -> (Vec<String>, Vec<String>) {
    let f = Fixture::new(2000);
    let primary_addr = dead_addr();
    let secondary = FakeReceiver::start(Behaviour::Slow {
        chunk: 500,
        pause: Duration::from_millis(1),
    });
    let transport = Transport::new(
        [primary_addr, secondary.addr]
            .into_iter()
            .map(endpoint)
            .collect(),
        Duration::from_millis(20),
    )
    .with_primary_retry_every(Duration::ZERO)
    .with_send_buffer(16 * 1024);
    let mut inst = Instance::new(InstanceParts {
        name: "t".into(),
        destination: "test".into(),
        update_every: 1,
        builder: BatchBuilder::new(settings(), Format::Graphite),
        delivery: Box::new(LineDelivery::new(
            "t",
            transport,
            Box::new(NoDelay),
            switch_wait,
        )),
        ring: BatchRing::new(50),
        charts: None,
        schedule: Schedule::with_offset(1, 0),
    });
    for t in 1..=4 {
        tick(&f, &mut inst, T0 + t);
    }
    assert_eq!(inst.delivery.peer(), Some(secondary.addr));
    assert!(
        get(&inst.totals.failures) > 0 && !inst.ring.is_empty(),
        "the secondary was never slow enough to time a write out; the test proves nothing"
    );
    // The primary comes back while the secondary still has a backlog.
    let primary = FakeReceiver::start_on(primary_addr, Behaviour::Normal);
    for t in 5..=8 {
        tick(&f, &mut inst, T0 + t);
    }
    for _ in 0..2000 {
        if inst.ring.is_empty() {
            break;
        }
        let mut c = IntervalCounters::default();
        std::thread::sleep(Duration::from_millis(5));
        inst.deliver(&mut c);
    }
    assert!(inst.ring.is_empty(), "everything delivered in the end");
    assert_eq!(inst.delivery.peer(), Some(primary_addr), "moved back");
    let want = f.expected(T0 + 1..=T0 + 8);
    let got_primary = primary.wait_for_lines(1, Duration::from_secs(5));
    // Every line the primary got is whole (a cut line would not be in the
    // expected set).
    let whole: BTreeSet<String> = got_primary.iter().cloned().collect();
    assert!(
        whole.is_subset(&want),
        "the primary got a cut line: {:?}",
        whole.difference(&want).next()
    );
    // Both together: no line lost.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let all: BTreeSet<String> = secondary
            .lines()
            .into_iter()
            .chain(primary.lines())
            .collect();
        if all.len() >= want.len() || std::time::Instant::now() > deadline {
            assert_eq!(all, want, "lines lost at the switch");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (secondary.lines(), primary.lines())
}

#[test]
fn moving_back_to_the_primary_never_cuts_loses_or_repeats_a_line() {
    let (secondary, primary) = move_back_while_the_secondary_is_busy(Duration::from_secs(5));
    let mut all = secondary;
    all.extend(primary);
    assert_eq!(as_set(&all).len(), all.len());
}

#[test]
fn a_switch_whose_acknowledgement_is_late_resumes_at_the_first_unacknowledged_line() {
    // 1 ms is shorter than the secondary needs to acknowledge: the switch
    // is made as after a lost connection. Lines the secondary received but
    // had not acknowledged yet may come twice (at least once); none is cut
    // or lost (both checked inside).
    move_back_while_the_secondary_is_busy(Duration::from_millis(1));
}

#[test]
fn receiver_restart_loses_and_duplicates_nothing_and_counters_agree() {
    let f = Fixture::new(5);
    let mut rx = FakeReceiver::start(Behaviour::Normal);
    let mut inst = instance(&f.store, &[rx.addr], 10, Duration::from_secs(2), true);
    // As the instance's own loop does, what happens between two intervals
    // (here: the settling) is carried into the next interval's chart.
    let mut carried = IntervalCounters::default();
    let interval = |inst: &mut Instance, t: i64, carried: &mut IntervalCounters| {
        f.collect(t);
        inst.tick(&f.store, t, std::mem::take(carried));
        *carried = settle(inst);
    };
    for t in 1..=3 {
        interval(&mut inst, T0 + t, &mut carried);
    }
    rx.wait_for_lines(15, Duration::from_secs(5));
    rx.stop();
    for t in 4..=6 {
        f.collect(T0 + t);
        inst.tick(&f.store, T0 + t, std::mem::take(&mut carried));
    }
    assert!(
        inst.ring.len() >= 3,
        "batches kept while the receiver is down"
    );
    rx.restart();
    interval(&mut inst, T0 + 7, &mut carried);
    let got = rx.wait_for_lines(35, Duration::from_secs(5));
    assert_lines(&got, &f.expected(T0 + 1..=T0 + 7));
    // The instance's own accounting agrees with what the receiver counted.
    assert_eq!(get(&inst.totals.sent_metrics), got.len() as u64);
    assert_eq!(get(&inst.totals.lost_metrics), 0);
    assert!(get(&inst.totals.failures) >= 1);
    assert_eq!(rx.connections(), 2);
    // And so does its chart, `sent` summed over the intervals, once the
    // acknowledgements of the last settle are charted by one more interval
    // whose own batch is not counted.
    let before_extra = get(&inst.totals.sent_metrics);
    f.collect(T0 + 8);
    let extra = inst.tick(&f.store, T0 + 8, std::mem::take(&mut carried));
    let charted = charted_sum(&f.store, "netdata.exporting_t_metrics", "sent");
    let charted_now = get(&inst.totals.sent_metrics);
    assert_eq!(charted as u64, charted_now, "chart vs totals");
    assert!(charted_now >= before_extra && charted_now <= before_extra + 5);
    let _ = extra;
    assert_eq!(
        charted_sum(&f.store, "netdata.exporting_t_metrics", "lost"),
        0.0
    );
}

#[test]
fn slow_receiver_gets_every_line_once_and_uncut() {
    let f = Fixture::new(2000);
    let rx = FakeReceiver::start(Behaviour::Slow {
        chunk: 700,
        pause: Duration::from_millis(1),
    });
    let mut inst = instance_with(
        &f.store,
        &[rx.addr],
        50,
        Duration::from_millis(20),
        false,
        Some(16 * 1024),
    );
    for t in 1..=20 {
        tick(&f, &mut inst, T0 + t);
    }
    for _ in 0..500 {
        if inst.ring.is_empty() {
            break;
        }
        settle(&mut inst);
    }
    let got = rx.wait_for_lines(2000 * 20, Duration::from_secs(20));
    assert_lines(&got, &f.expected(T0 + 1..=T0 + 20));
    assert!(
        get(&inst.totals.failures) > 0,
        "the receiver was never slow enough to force a partial write; the test proved nothing"
    );
}

#[test]
fn receiver_closing_mid_batch_cuts_no_line_and_repeats_none() {
    let f = Fixture::new(200);
    let rx = FakeReceiver::start(Behaviour::CloseFirstAfter { after: 3001 });
    let mut inst = instance_with(
        &f.store,
        &[rx.addr],
        10,
        Duration::from_secs(2),
        false,
        Some(16 * 1024),
    );
    tick(&f, &mut inst, T0 + 1);
    settle(&mut inst);
    // Let the reader close before the next batch, so what it throws away
    // is the first batch only.
    rx.wait_for_closed(1, Duration::from_secs(5));
    for t in 2..=5 {
        tick(&f, &mut inst, T0 + t);
        settle(&mut inst);
    }
    let got = rx.wait_for_lines(900, Duration::from_secs(5));
    let want = f.expected(T0 + 1..=T0 + 5);
    let set = as_set(&got); // no duplicates
                            // No cut line: everything received is a whole expected line.
    assert!(
        set.is_subset(&want),
        "unexpected: {:?}",
        set.difference(&want).take(3).collect::<Vec<_>>()
    );
    // The first connection's reader took 3001 bytes and closed: bytes its
    // kernel had acknowledged but it never read are gone (plaintext TCP has
    // no application acknowledgement). Only those may be missing: all from
    // the first batch, and no more than the two sockets' buffers held.
    let missing: Vec<&String> = want.difference(&set).collect();
    assert!(
        missing.iter().all(|l| l.ends_with(&format!(" {}", T0 + 1))),
        "{missing:?}"
    );
    assert!(
        missing.len() * 40 < 64 * 1024,
        "{} lines missing",
        missing.len()
    );
    assert!(got.len() >= 3001 / 50, "the lines before the close arrived");
    assert_eq!(rx.connections(), 2);
}

#[test]
fn without_replay_ring_overflow_drops_oldest_batches_and_counts_them() {
    let f = Fixture::new(4);
    let addr = dead_addr();
    let mut inst = instance(&f.store, &[addr], 3, Duration::from_millis(500), true);
    // netdata's behaviour, kept for `replay windows per second = 0`.
    inst.set_replay_rate(0);
    let mut lost = 0;
    let mut discards = 0;
    for t in 1..=6 {
        let c = tick(&f, &mut inst, T0 + t);
        lost += c.lost_metrics;
        discards += c.discards;
    }
    assert_eq!((lost, discards), (12, 3));
    assert_eq!(get(&inst.totals.lost_metrics), 12);
    assert_eq!(get(&inst.totals.discards), 3);
    assert_eq!(inst.ring.len(), 3);
    assert_eq!(inst.ring.buffered_metrics(), 12);
    // The receiver comes back: the 7th batch pushes out the 4th, then the
    // last three go out, oldest first.
    let rx = FakeReceiver::start_on(addr, Behaviour::Normal);
    tick(&f, &mut inst, T0 + 7);
    settle(&mut inst);
    let got = rx.wait_for_lines(12, Duration::from_secs(5));
    assert_lines(&got, &f.expected(T0 + 5..=T0 + 7));
    assert_eq!(get(&inst.totals.lost_metrics), 16);
    // The lost metrics were charted too.
    assert_eq!(
        charted_sum(&f.store, "netdata.exporting_t_metrics", "lost"),
        16.0
    );
}

#[test]
fn a_black_hole_destination_does_not_delay_another_instance() {
    let f = Fixture::new(5000);
    let hole = FakeReceiver::start(Behaviour::BlackHole);
    let good = FakeReceiver::start(Behaviour::Normal);
    let shutdown = Shutdown::new();
    // The collector: one point a second, for real.
    let collector = {
        let f_chart = f.chart.clone();
        let shutdown = shutdown.clone();
        std::thread::spawn(move || {
            while !shutdown.sleep(Duration::from_millis(250)) {
                let now = backhaul::sys::now_realtime_ut();
                let mut w = f_chart.write();
                for d in 0..5000 {
                    w.set(d, d as i64);
                }
                let _ = w.done(now);
            }
        })
    };
    let stuck = instance(&f.store, &[hole.addr], 100, Duration::from_secs(30), false);
    let mut ok = instance(&f.store, &[good.addr], 100, Duration::from_secs(2), false);
    ok.schedule = Schedule::with_offset(1, 100_000);
    let stuck = backhaul::exporting::spawn(stuck, f.store.clone(), shutdown.clone()).unwrap();
    let ok = backhaul::exporting::spawn(ok, f.store.clone(), shutdown.clone()).unwrap();
    // Readiness: the healthy receiver has four intervals, while the black
    // hole's instance is blocked in its 30 s write (5000 lines a second
    // fill the socket buffers within the first interval).
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs(20);
    let timestamps = loop {
        let timestamps: BTreeSet<String> = good
            .lines()
            .iter()
            .filter_map(|l| l.rsplit(' ').next().map(String::from))
            .collect();
        if timestamps.len() >= 4 || std::time::Instant::now() > deadline {
            break timestamps;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let blocked_throughout = InstanceTotals::get(&stuck.totals.failures) == 0
        && started.elapsed() < Duration::from_secs(30);
    shutdown.trigger();
    collector.join().unwrap();
    ok.thread.join().unwrap();
    assert!(
        timestamps.len() >= 4,
        "the healthy instance delivered only {} intervals in {:?}",
        timestamps.len(),
        started.elapsed()
    );
    assert!(InstanceTotals::get(&stuck.totals.sent_bytes) > 0);
    assert!(
        blocked_throughout,
        "the black hole's write ended early; the test proves nothing"
    );
    // Stopping is prompt even for the blocked instance.
    let stop = std::time::Instant::now();
    stuck.thread.join().unwrap();
    assert!(stop.elapsed() < Duration::from_secs(2));
}
