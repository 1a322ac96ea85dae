//! Edges of the exporting engine that each had a single test (or none),
//! pinned again independently:
//!
//! * `as collected`: an instance woken twice with no collection in between
//!   sends each collected value once;
//! * `average` and `sum` over a window of several points, with known values
//!   and dimensions that have fewer points than the window (or none);
//! * `send automatic labels = yes` with `send configured labels = no`:
//!   only the automatic labels go out, in every format;
//! * lost metrics and bytes counted when the ring of `buffer on failures`
//!   batches overflows, in the ring and in an instance's counters.

use std::sync::Arc;
use std::time::Duration;

use backhaul::config::DataSource;
use backhaul::exporting::backoff::RetryPolicy;
use backhaul::exporting::batch::Loss;
use backhaul::exporting::delivery::lines::LineDelivery;
use backhaul::exporting::monitoring::IntervalCounters;
use backhaul::exporting::{
    Batch, BatchBuilder, BatchRing, BatchSettings, Endpoint, Format, Instance, InstanceParts,
    InstanceTotals, Schedule, Transport,
};
use rrd::{Chart, ChartDef, DimensionDef, Host, Label, LabelSource, Store};

const S: u64 = 1_000_000;
const T0: i64 = 1_795_688_380;

fn settings(source: DataSource, update_every: u32) -> BatchSettings {
    BatchSettings {
        data_source: source,
        prefix: "netdata".into(),
        hostname: "vm".into(),
        update_every,
        send_names_instead_of_ids: false,
        send_charts_matching: "*".into(),
        send_hosts_matching: "localhost *".into(),
        send_configured_labels: false,
        send_automatic_labels: false,
        host_tags: Vec::new(),
        send_variables: false,
    }
}

/// A store with one chart `t.c` of the given dimensions.
fn store_with_chart(dims: &[&str]) -> (Arc<Store>, Arc<Chart>) {
    let store = Arc::new(Store::new(Host::new("vm", 100)));
    let chart = store.localhost().create_chart(ChartDef::new("t", "c"));
    {
        let mut w = chart.write();
        for d in dims {
            w.add_dimension(DimensionDef::new(*d));
        }
    }
    (store, chart)
}

/// One collection round at `t_ut`: `(dimension index, raw value)` pairs;
/// dimensions not named are not collected this round.
fn collect(chart: &Chart, t_ut: u64, values: &[(usize, i64)]) {
    let mut w = chart.write();
    for &(d, v) in values {
        w.set(d, v);
    }
    w.done(t_ut).expect("time moves forward");
}

/// Builds the batch ending at `before`; returns its text and line count.
fn build(builder: &mut BatchBuilder, store: &Store, before: i64) -> (String, usize) {
    let mut out = Vec::new();
    let lines = builder.build(store, before, &mut out);
    (String::from_utf8(out).expect("UTF-8"), lines)
}

// ----------------------------------------------------------------------------
// as collected

#[test]
fn as_collected_woken_twice_without_a_collection_sends_each_value_once() {
    let (store, chart) = store_with_chart(&["a", "b"]);
    let mut builder = BatchBuilder::new(settings(DataSource::AsCollected, 1), Format::Graphite);
    // Collected half a second into T0+1: the window (T0+1, T0+2] holds it.
    collect(&chart, (T0 + 1) as u64 * S + 500_000, &[(0, 5), (1, 7)]);
    assert_eq!(
        build(&mut builder, &store, T0 + 2),
        (
            "netdata.vm.t.c.a 5 1795688381\nnetdata.vm.t.c.b 7 1795688381\n".to_string(),
            2
        )
    );
    // Woken again, nothing collected since: nothing to send, twice over
    // (the same boundary again, then the next one).
    assert_eq!(build(&mut builder, &store, T0 + 2), (String::new(), 0));
    assert_eq!(build(&mut builder, &store, T0 + 3), (String::new(), 0));
    // Only `a` collected again: only `a` goes out, with its new time.
    collect(&chart, (T0 + 3) as u64 * S + 500_000, &[(0, 6)]);
    assert_eq!(
        build(&mut builder, &store, T0 + 4),
        ("netdata.vm.t.c.a 6 1795688383\n".to_string(), 1)
    );
    assert_eq!(build(&mut builder, &store, T0 + 5), (String::new(), 0));
}

// ----------------------------------------------------------------------------
// windows of several points

/// Four points in the window (T0, T0+4] of a 4 s instance:
/// * `full`: 1, 2, 3, 10 (average 4, sum 16);
/// * `half`: points at T0+2 and T0+4 only, 5 and 8 (average 6.5, not
///   13 / 4; sum 13);
/// * `one`: a point at T0+1 only, 7;
/// * `none`: collected at T0 only, before the window: no line.
fn window_store() -> Arc<Store> {
    let (store, chart) = store_with_chart(&["full", "half", "one", "none"]);
    let at = |t: i64| t as u64 * S;
    collect(&chart, at(T0), &[(0, 0), (1, 0), (2, 0), (3, 100)]);
    collect(&chart, at(T0 + 1), &[(0, 1), (2, 7)]);
    collect(&chart, at(T0 + 2), &[(0, 2), (1, 5)]);
    collect(&chart, at(T0 + 3), &[(0, 3)]);
    collect(&chart, at(T0 + 4), &[(0, 10), (1, 8)]);
    store
}

#[test]
fn average_of_a_multi_point_window_divides_by_each_dimensions_points() {
    let store = window_store();
    let mut builder = BatchBuilder::new(settings(DataSource::Average, 4), Format::Graphite);
    assert_eq!(
        build(&mut builder, &store, T0 + 4),
        (
            "\
netdata.vm.t.c.full 4.0000000 1795688384
netdata.vm.t.c.half 6.5000000 1795688384
netdata.vm.t.c.one 7.0000000 1795688384
"
            .to_string(),
            3
        )
    );
    // Every point went out: the next window is empty.
    assert_eq!(build(&mut builder, &store, T0 + 8), (String::new(), 0));
}

#[test]
fn sum_of_a_multi_point_window_adds_each_dimensions_points() {
    let store = window_store();
    let mut builder = BatchBuilder::new(settings(DataSource::Sum, 4), Format::Opentsdb);
    assert_eq!(
        build(&mut builder, &store, T0 + 4),
        (
            "\
put netdata.t.c.full 1795688384 16.0000000 host=vm
put netdata.t.c.half 1795688384 13.0000000 host=vm
put netdata.t.c.one 1795688384 7.0000000 host=vm
"
            .to_string(),
            3
        )
    );
}

// ----------------------------------------------------------------------------
// label selection

#[test]
fn automatic_labels_without_configured_ones_send_only_the_automatic_ones() {
    let host = Host::new("vm", 10);
    host.set_labels(vec![
        Label::new("env", "lab", LabelSource::Configured),
        Label::new("_architecture", "x86_64", LabelSource::Automatic),
        Label::new("_is_ephemeral", "false", LabelSource::Configured),
        Label::new("_os_name", "debian", LabelSource::Automatic),
    ]);
    let store = Store::new(host);
    let chart = store.localhost().create_chart(ChartDef::new("t", "c"));
    chart.write().add_dimension(DimensionDef::new("a"));
    collect(&chart, (T0 + 1) as u64 * S, &[(0, 3)]);
    let expected = [
        (
            Format::Graphite,
            "netdata.vm.t.c.a;_architecture=x86_64;_os_name=debian 3.0000000 1795688381\n",
        ),
        (
            Format::Opentsdb,
            "put netdata.t.c.a 1795688381 3.0000000 host=vm _architecture=x86_64 _os_name=debian\n",
        ),
        (
            Format::Json,
            "{\"prefix\":\"netdata\",\"hostname\":\"vm\",\
             \"labels\":{\"_architecture\":\"x86_64\",\"_os_name\":\"debian\"},\
             \"chart_id\":\"t.c\",\"chart_name\":\"t.c\",\"chart_family\":\"c\",\
             \"chart_context\": \"t.c\",\"chart_type\":\"t\",\"units\": \"\",\
             \"id\":\"a\",\"name\":\"a\",\"value\":3.0000000,\"timestamp\": 1795688381}\n",
        ),
    ];
    for (connector, line) in expected {
        let mut s = settings(DataSource::Average, 1);
        s.send_automatic_labels = true;
        let mut builder = BatchBuilder::new(s, connector);
        assert_eq!(
            build(&mut builder, &store, T0 + 1),
            (line.to_string(), 1),
            "{connector:?}"
        );
    }
}

// ----------------------------------------------------------------------------
// lost metrics on ring overflow

fn batch_of(lines: usize, tag: &str) -> Batch {
    let bytes: Vec<u8> = (0..lines)
        .flat_map(|l| format!("m.{tag}.{l} {l} 1\n").into_bytes())
        .collect();
    Batch::new(bytes, lines)
}

#[test]
fn ring_overflow_counts_each_dropped_batch_once() {
    let mut ring = BatchRing::new(2);
    let sizes = [1usize, 2, 3, 4, 5];
    let mut pushed = 0;
    let mut lost = Vec::new();
    for (k, &n) in sizes.iter().enumerate() {
        let b = batch_of(n, &k.to_string());
        let len = b.bytes.len();
        pushed += n;
        lost.push((ring.push(b), len));
    }
    // The first two fit; each later push drops the oldest batch, whole.
    let losses: Vec<Option<Loss>> = lost.iter().map(|(l, _)| *l).collect();
    let len = |k: usize| lost[k].1;
    assert_eq!(
        losses,
        [
            None,
            None,
            Some(Loss {
                batches: 1,
                metrics: 1,
                bytes: len(0)
            }),
            Some(Loss {
                batches: 1,
                metrics: 2,
                bytes: len(1)
            }),
            Some(Loss {
                batches: 1,
                metrics: 3,
                bytes: len(2)
            }),
        ]
    );
    let lost_metrics: usize = losses.iter().flatten().map(|l| l.metrics).sum();
    assert_eq!(lost_metrics + ring.buffered_metrics(), pushed);
    assert_eq!(ring.buffered_metrics(), 9);
    assert_eq!(ring.len(), 2);
    // An empty batch takes no place and loses nothing.
    assert_eq!(ring.push(Batch::new(Vec::new(), 0)), None);
    assert_eq!(ring.len(), 2);
    // What is left is the two newest batches, oldest first.
    let mut left = Vec::new();
    loop {
        let chunk = ring.next_chunk().to_vec();
        if chunk.is_empty() {
            break;
        }
        ring.advance(chunk.len());
        left.extend(chunk);
    }
    let mut newest = batch_of(4, "3").bytes;
    newest.extend(batch_of(5, "4").bytes);
    assert_eq!(left, newest);
}

/// Retry at once (never used: nothing here connects).
struct NoDelay;
impl RetryPolicy for NoDelay {
    fn next_delay(&mut self) -> Duration {
        Duration::ZERO
    }
    fn reset(&mut self) {}
}

#[test]
fn instance_counts_lost_metrics_bytes_and_discards_per_interval_and_in_total() {
    // Interval k collects k of the 5 dimensions, so batch k has k lines.
    let (store, chart) = store_with_chart(&["d0", "d1", "d2", "d3", "d4"]);
    let settings = settings(DataSource::Average, 1);
    // Nothing is delivered: the instance only builds and queues.
    let transport = Transport::new(
        vec![Endpoint {
            host: "127.0.0.1".into(),
            port: 9,
        }],
        Duration::from_millis(100),
    );
    let mut inst = Instance::new(InstanceParts {
        name: "t".into(),
        destination: "127.0.0.1:9".into(),
        update_every: 1,
        builder: BatchBuilder::new(settings.clone(), Format::Graphite),
        delivery: Box::new(LineDelivery::new(
            "t",
            transport,
            Box::new(NoDelay),
            Duration::from_millis(100),
        )),
        ring: BatchRing::new(2),
        charts: None,
        schedule: Schedule::with_offset(1, 0),
    });
    // A twin builder renders the same batches, to know their sizes.
    let mut twin = BatchBuilder::new(settings, Format::Graphite);
    let mut sizes = Vec::new();
    let mut per_interval = Vec::new();
    for k in 1..=5usize {
        let t = T0 + k as i64;
        let values: Vec<(usize, i64)> = (0..k).map(|d| (d, (k * 10 + d) as i64)).collect();
        collect(&chart, t as u64 * S, &values);
        let (text, lines) = build(&mut twin, &store, t);
        assert_eq!(lines, k);
        sizes.push(text.len() as u64);
        let mut counters = IntervalCounters::default();
        inst.export_interval(&store, t, &mut counters);
        per_interval.push((
            counters.lost_metrics,
            counters.lost_bytes,
            counters.discards,
        ));
    }
    assert_eq!(
        per_interval,
        [
            (0, 0, 0),
            (0, 0, 0),
            (1, sizes[0], 1),
            (2, sizes[1], 1),
            (3, sizes[2], 1),
        ]
    );
    let totals = &inst.totals;
    assert_eq!(InstanceTotals::get(&totals.lost_metrics), 6);
    assert_eq!(
        InstanceTotals::get(&totals.lost_bytes),
        sizes[0] + sizes[1] + sizes[2]
    );
    assert_eq!(InstanceTotals::get(&totals.discards), 3);
    assert_eq!(InstanceTotals::get(&totals.built_metrics), 15);
    assert_eq!(InstanceTotals::get(&totals.sent_metrics), 0);
    assert_eq!(inst.ring.buffered_metrics(), 4 + 5);
}

// ----------------------------------------------------------------------------
// charts removed by the store's cleanup

/// A chart removed from the host (obsolete for longer than `cleanup obsolete
/// charts after secs`) stops being exported; the others keep their export
/// positions (nothing resent), and a chart put back by its collector is
/// exported again from where it was.
#[test]
fn removed_charts_leave_the_export_and_the_others_keep_their_positions() {
    let store = Arc::new(Store::new(Host::new("vm", 100)));
    let charts: Vec<Arc<Chart>> = ["a", "b", "c"]
        .iter()
        .map(|id| {
            let chart = store.localhost().create_chart(ChartDef::new("t", *id));
            chart.write().add_dimension(DimensionDef::new("d"));
            chart
        })
        .collect();
    let at = |t: i64| t as u64 * S;
    let mut builder = BatchBuilder::new(settings(DataSource::Average, 1), Format::Graphite);
    for chart in &charts {
        collect(chart, at(T0 + 1), &[(0, 1)]);
    }
    assert_eq!(build(&mut builder, &store, T0 + 1).1, 3);

    charts[1].write().set_obsolete(true);
    for chart in [&charts[0], &charts[2]] {
        collect(chart, at(T0 + 2), &[(0, 2)]);
    }
    assert_eq!(store.localhost().remove_obsolete_charts(at(T0 + 2), 1), 1);
    assert_eq!(
        build(&mut builder, &store, T0 + 2).0,
        "netdata.vm.t.a.d 2.0000000 1795688382\nnetdata.vm.t.c.d 2.0000000 1795688382\n"
    );

    // `b`'s collector comes back: the chart is put back and exported again,
    // its old point not resent.
    {
        let mut w = charts[1].write();
        w.set_obsolete(false);
        w.set(0, 3);
        w.done(at(T0 + 3)).expect("forward");
    }
    for chart in [&charts[0], &charts[2]] {
        collect(chart, at(T0 + 3), &[(0, 3)]);
    }
    let (text, lines) = build(&mut builder, &store, T0 + 3);
    assert_eq!(lines, 3, "{text}");
    assert!(
        text.contains("netdata.vm.t.b.d 3.0000000 1795688383\n"),
        "{text}"
    );
    assert!(!text.contains("1795688381"), "{text}");
}
