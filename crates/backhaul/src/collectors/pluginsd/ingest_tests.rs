//! Tests of `Ingest`: replays of recorded plugin output (netdata 1.37's
//! apps.plugin, the lab plugin) into a store, and one test per command and
//! per limit.

use std::sync::Arc;

use rrd::{Algorithm, ChartType, Host, LabelSource, Store};
use wire::pluginsd::LineFramer;

use super::*;

const S: u64 = 1_000_000;
const T0: u64 = 1_700_000_000;

const APPS_STDOUT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../wire/tests/pluginsd/apps.plugin.stdout.txt"
));
const LAB_STDOUT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../wire/tests/pluginsd/lab.plugin.stdout.txt"
));

fn settings(limits: IngestLimits) -> IngestSettings {
    IngestSettings {
        plugin: Arc::from("test"),
        plugin_file: "test.plugin".to_string(),
        update_every: 1,
        limits,
    }
}

fn new_ingest(limits: IngestLimits) -> (Arc<Store>, Ingest) {
    let store = Arc::new(Store::new(Host::new("box", 60)));
    let ingest = Ingest::new(settings(limits), store.localhost().clone());
    (store, ingest)
}

/// Feeds `text` through a framer in small pieces; the clock reads
/// `*now`, and moves one second forward whenever a `BEGIN` of
/// `round_marker` starts a new round.
fn replay(ingest: &mut Ingest, text: &[u8], round_marker: &[u8], mut now: u64) -> u64 {
    let mut framer = LineFramer::with_limits(16 * 1024, 777);
    let mut rest = text;
    let mut rounds = 0u64;
    while !rest.is_empty() {
        let room = framer.read_buf();
        let n = room.len().min(rest.len()).min(777);
        room[..n].copy_from_slice(&rest[..n]);
        framer.commit(n);
        rest = &rest[n..];
        while let Some(frame) = framer.next_line() {
            let line = frame.expect("fixture lines are short");
            if line.starts_with(b"BEGIN ") && line[6..].starts_with(round_marker) {
                if rounds > 0 {
                    now += S;
                }
                rounds += 1;
            }
            let mut clock = || now;
            assert_eq!(ingest.apply_line(line, &mut clock), Flow::Continue);
        }
    }
    let mut clock = || now;
    assert_eq!(ingest.finish(&mut framer, &mut clock), Flow::Continue);
    rounds
}

fn feed(ingest: &mut Ingest, text: &str, now: u64) -> Flow {
    let mut clock = || now;
    for line in text.lines() {
        if ingest.apply_line(line.as_bytes(), &mut clock) == Flow::Disable {
            return Flow::Disable;
        }
    }
    Flow::Continue
}

fn value_at(host: &Host, chart: &str, dim: &str, t: u64) -> Option<f64> {
    let chart = host.chart_by_id(chart)?;
    let state = chart.read();
    let index = state.dimension_index(dim)?;
    state
        .points(index, t as i64 - 1, t as i64)
        .first()
        .map(|point| point.value)
}

fn assert_close(actual: Option<f64>, expected: f64) {
    let actual = actual.unwrap_or_else(|| panic!("no value, expected {expected}"));
    let tolerance = expected.abs() * 2e-6 + 1e-9;
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} != {expected}"
    );
}

#[test]
fn replays_apps_plugin_output_into_the_store() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    let host = store.localhost();
    // Collections at half past each second, so grid times are unambiguous.
    let rounds = replay(
        &mut ingest,
        APPS_STDOUT,
        b"netdata.apps_cpu ",
        T0 * S + S / 2,
    );
    assert_eq!(rounds, 5);

    let counters = ingest.counters();
    assert_eq!(counters.lines, 1620);
    assert_eq!(counters.charts, 59);
    assert_eq!(host.chart_count(), 59);
    assert_eq!(counters.dimensions, 152);
    assert_eq!(counters.collections, 295);
    assert_eq!(counters.values, 760);
    assert_eq!(counters.functions, 54);
    assert_eq!(counters.variables, 5);
    let errors = counters.unknown_verbs
        + counters.parse_errors
        + counters.overlong_lines
        + counters.set_errors
        + counters.sequence_errors
        + counters.refused_by_limits
        + counters.time_errors;
    assert_eq!(errors, 0, "{counters:?}");

    // The definition, as sent.
    let cpu = host.chart_by_id("apps.cpu").expect("apps.cpu");
    {
        let state = cpu.read();
        let def = state.def();
        assert_eq!(def.title, "Apps CPU Time (100% = 1 core)");
        assert_eq!(def.units, "percentage");
        assert_eq!(def.family, "cpu");
        assert_eq!(def.context, "apps.cpu");
        assert_eq!(def.chart_type, ChartType::Stacked);
        assert_eq!(def.priority, 20001);
        assert_eq!(def.update_every, 1);
        assert_eq!(def.plugin, "test.plugin");
        assert!(!def.obsolete);
        let ids: Vec<&str> = state.dimensions().iter().map(|d| d.id()).collect();
        assert_eq!(
            ids,
            ["apps.plugin", "ksmd", "khugepaged", "kernel", "other"]
        );
        let apps = state.dimension(0).expect("dimension").def();
        assert_eq!(apps.algorithm, Algorithm::Absolute);
        assert_eq!((apps.multiplier, apps.divisor), (1, 10000));
        assert_eq!(state.rounds(), 5);
        // Last round: 9994 / 10000, interpolated at the last grid time
        // between the two last rounds (both close to it).
        assert_eq!(
            state
                .dimension(0)
                .and_then(|d| d.last_collected())
                .map(|(raw, _)| raw),
            Some(9994)
        );
    }
    let sizes = host.chart_by_id("netdata.apps_sizes").expect("apps_sizes");
    {
        let state = sizes.read();
        let new_pids = state.dimension_index("new_pids").expect("new_pids");
        assert_eq!(
            state.dimension(new_pids).map(|d| d.name()),
            Some("new pids")
        );
        assert_eq!(
            state.dimension(new_pids).map(|d| d.def().algorithm),
            Some(Algorithm::Incremental)
        );
    }

    // Stored values: an absolute dimension and an incremental one whose
    // interval comes from BEGIN's microseconds (1.000025 s).
    assert_close(value_at(host, "apps.processes", "kernel", T0 + 4), 54.0);
    assert_close(
        value_at(host, "netdata.apps_cpu", "system", T0 + 4),
        (11880.0 - 9229.0) / 1000.0 / 1.000025,
    );
    // The incremental "user" never moved: a rate of 0, stored.
    assert_close(value_at(host, "netdata.apps_cpu", "user", T0 + 4), 0.0);
    // First round of an incremental dimension stores nothing.
    assert_eq!(value_at(host, "netdata.apps_cpu", "system", T0), None);
}

#[test]
fn replays_lab_plugin_output_with_awkward_ids_and_values() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    let host = store.localhost();
    // Collections on whole seconds: absolute values land on the grid as sent.
    let rounds = replay(&mut ingest, LAB_STDOUT, b"lab.weird_chart", T0 * S);
    assert_eq!(rounds, 5);
    assert_eq!(ingest.counters().collections, 11);

    let weird = host.chart_by_id("lab.weird_chart").expect("weird chart");
    {
        let state = weird.read();
        // Stored as netdata stores it (see the lab's JSON capture).
        assert_eq!(state.name(), "lab.Weird_Name_with_space");
        assert_eq!(state.def().family, "fam");
        assert_eq!(state.def().context, "lab.ctx");
        assert_eq!(state.def().priority, 90000);
        let index = state.dimension_index("température").expect("utf-8 id");
        assert_eq!(
            state.dimension(index).map(|d| d.name()),
            Some("na__ve name")
        );
        let dots = state.dimension_index("dim.with.dots").expect("dots");
        assert_eq!(
            state.dimension(dots).map(|d| d.name()),
            Some("dim name/with slash")
        );
    }
    // Round 5 (at T0 + 4): 'UPPER-case' = 36 / 3, 'negative' = 5 × -1,
    // 'frac' = 1234567 / 1000, 'big' as the 32-bit store keeps it.
    assert_close(
        value_at(host, "lab.weird_chart", "UPPER-case", T0 + 4),
        12.0,
    );
    assert_close(value_at(host, "lab.weird_chart", "negative", T0 + 4), -5.0);
    assert_close(value_at(host, "lab.weird_chart", "frac", T0 + 4), 1234.567);
    assert_close(
        value_at(host, "lab.weird_chart", "big", T0 + 4),
        123456790000000.0,
    );
    assert_close(
        value_at(host, "lab.weird_chart", "dim.with.dots", T0 + 2),
        3.0,
    );

    let spaced = host
        .chart_by_id("lab.id with spaces/and:colon")
        .expect("chart id with spaces");
    assert_eq!(spaced.read().def().type_, "lab");
    assert_eq!(spaced.read().def().id, "id with spaces/and:colon");
    assert_close(
        value_at(host, "lab.id with spaces/and:colon", "a b", T0 + 4),
        2.0,
    );

    // The 5-second chart was collected once: its absolute dimension has a
    // point, its incremental one needs a second collection.
    let slow = host.chart_by_id("lab.slow").expect("slow chart");
    let state = slow.read();
    assert_eq!(state.update_every(), 5);
    assert_eq!(state.rounds(), 1);
    let last = state.last_entry_t().expect("a point");
    let gauge = state.dimension_index("gauge").expect("gauge");
    let counter = state.dimension_index("counter").expect("counter");
    assert_eq!(state.points(gauge, last - 1, last).len(), 1);
    assert_close(
        state.points(gauge, last - 1, last).first().map(|p| p.value),
        5.0,
    );
    assert!(state.points(counter, last - 5, last).is_empty());
}

const CHART_AB: &str =
    "CHART t.c '' 'title' 'u'\nDIMENSION a\nDIMENSION b 'bee' incremental 2 4 hidden\n";

#[test]
fn chart_and_dimension_redefinitions_update_the_store() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    let host = store.localhost();
    feed(&mut ingest, CHART_AB, 0);
    let chart = host.chart_by_id("t.c").expect("chart");
    let generation = chart.read().generation();
    {
        let state = chart.read();
        let b = state.dimension(1).expect("b").def();
        assert_eq!(b.name.as_deref(), Some("bee"));
        assert_eq!(b.algorithm, Algorithm::Incremental);
        assert_eq!((b.multiplier, b.divisor, b.hidden), (2, 4, true));
        assert_eq!(state.def().family, "c");
        assert_eq!(state.def().units, "u");
    }
    // The same definition again changes nothing.
    feed(&mut ingest, CHART_AB, 0);
    assert_eq!(chart.read().generation(), generation);
    // A new title, update every and a changed dimension.
    feed(
        &mut ingest,
        "CHART t.c 'named' 'other title' 'u' fam ctx area 5 3\nDIMENSION a 'A' absolute 1 10",
        0,
    );
    let state = chart.read();
    assert_eq!(state.name(), "t.named");
    assert_eq!(state.def().title, "other title");
    assert_eq!(state.def().family, "fam");
    assert_eq!(state.def().context, "ctx");
    assert_eq!(state.def().chart_type, ChartType::Area);
    assert_eq!(state.def().priority, 5);
    assert_eq!(state.update_every(), 3);
    assert_eq!(state.dimension(0).map(|d| d.def().divisor), Some(10));
    assert_eq!(state.dimensions().len(), 2);
    drop(state);
    assert!(host.chart_by_name("t.named").is_some());
    assert_eq!(ingest.counters().dimensions, 2);
}

#[test]
fn sets_are_applied_at_end_in_any_order_and_unknown_ones_counted() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    let host = store.localhost();
    feed(&mut ingest, CHART_AB, 0);
    feed(
        &mut ingest,
        "BEGIN t.c\nSET b = 8\nSET a = 1\nSET nope = 3\nSET a = 2\nSET b =\nEND",
        T0 * S,
    );
    let counters = ingest.counters();
    assert_eq!(counters.collections, 1);
    assert_eq!(counters.values, 3);
    assert_eq!(counters.set_errors, 1);
    let chart = host.chart_by_id("t.c").expect("chart");
    let state = chart.read();
    // The last SET of a dimension wins.
    assert_eq!(
        state.dimension(0).and_then(|d| d.last_collected()),
        Some((2, T0 * S))
    );
    assert_eq!(
        state.dimension(1).and_then(|d| d.last_collected()),
        Some((8, T0 * S))
    );
}

#[test]
fn commands_out_of_order_are_counted_and_never_fatal() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    let host = store.localhost();
    let text = "SET a = 1\nEND\nDIMENSION x\nBEGIN nochart.here\nSET a = 1\nEND\nCLABEL_COMMIT\n";
    assert_eq!(feed(&mut ingest, text, T0 * S), Flow::Continue);
    let counters = ingest.counters();
    assert_eq!(counters.set_errors, 1, "{counters:?}");
    // END without BEGIN, DIMENSION without chart, BEGIN of an unknown
    // chart, CLABEL_COMMIT without chart.
    assert_eq!(counters.sequence_errors, 4, "{counters:?}");
    assert_eq!(host.chart_count(), 0);

    // BEGIN before END: the first block's values are dropped.
    feed(&mut ingest, CHART_AB, 0);
    feed(
        &mut ingest,
        "BEGIN t.c\nSET a = 5\nBEGIN t.c\nSET b = 6\nEND",
        T0 * S,
    );
    let chart = host.chart_by_id("t.c").expect("chart");
    assert_eq!(
        chart.read().dimension(0).and_then(|d| d.last_collected()),
        None
    );
    assert_eq!(
        chart.read().dimension(1).and_then(|d| d.last_collected()),
        Some((6, T0 * S))
    );
    assert_eq!(ingest.counters().sequence_errors, 5);
}

#[test]
fn flush_drops_the_open_block() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    feed(&mut ingest, CHART_AB, 0);
    feed(&mut ingest, "BEGIN t.c\nSET a = 5\nFLUSH\nEND", T0 * S);
    let chart = store.localhost().chart_by_id("t.c").expect("chart");
    assert_eq!(chart.read().rounds(), 0);
    assert_eq!(ingest.counters().collections, 0);
}

#[test]
fn disable_stops_and_the_rest_is_ignored_by_the_caller() {
    let (_store, mut ingest) = new_ingest(IngestLimits::default());
    assert_eq!(
        feed(&mut ingest, "VARIABLE x = 1\nDISABLE\nSET a = 1", 0),
        Flow::Disable
    );
    assert_eq!(ingest.counters().variables, 1);
    assert_eq!(ingest.counters().set_errors, 0);
}

#[test]
fn function_results_are_skipped_and_unknown_verbs_counted() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    feed(&mut ingest, CHART_AB, 0);
    let text = "FUNCTION GLOBAL processes 10 'help'\n\
                FUNCTION_RESULT_BEGIN tx 200 application/json 0\n\
                BEGIN t.c\nSET a = 1\nEND\n{\"json\": 1}\n\
                FUNCTION_RESULT_END\n\
                HELLO world\nCHART nodot '' t u\n\n";
    assert_eq!(feed(&mut ingest, text, T0 * S), Flow::Continue);
    let counters = ingest.counters();
    assert_eq!(counters.functions, 1);
    assert_eq!(counters.function_result_lines, 4);
    assert_eq!(counters.collections, 0);
    assert_eq!(counters.unknown_verbs, 1);
    assert_eq!(counters.parse_errors, 1);
    assert_eq!(store.localhost().chart_count(), 1);
}

#[test]
fn limits_refuse_new_charts_and_dimensions() {
    let limits = IngestLimits {
        max_charts: 2,
        max_dimensions_per_chart: 3,
        max_dimensions: 4,
        max_pending_labels: 2,
        max_variables: 10_000,
    };
    let (store, mut ingest) = new_ingest(limits);
    let host = store.localhost();
    let mut text = String::new();
    for c in 0..5 {
        text.push_str(&format!("CHART t.c{c} '' t u\n"));
        for d in 0..5 {
            text.push_str(&format!("DIMENSION d{d}\n"));
        }
    }
    feed(&mut ingest, &text, 0);
    assert_eq!(host.chart_count(), 2);
    let counters = ingest.counters();
    assert_eq!(counters.charts, 2);
    // c0: d0..d2 (per-chart limit), c1: d0 (plugin limit of 4).
    assert_eq!(counters.dimensions, 4);
    assert_eq!(
        host.chart_by_id("t.c0")
            .map(|c| c.read().dimensions().len()),
        Some(3)
    );
    assert_eq!(
        host.chart_by_id("t.c1")
            .map(|c| c.read().dimensions().len()),
        Some(1)
    );
    // 3 refused charts; c0: 2 dims; c1: 4 dims.
    assert_eq!(counters.refused_by_limits, 3 + 2 + 4);
    // Existing charts can still be redefined and collected.
    feed(
        &mut ingest,
        "CHART t.c0 '' 'new title' u\nBEGIN t.c0\nSET d0 = 1\nEND",
        T0 * S,
    );
    assert_eq!(ingest.counters().collections, 1);
    assert_eq!(
        host.chart_by_id("t.c0")
            .map(|c| c.read().def().title.clone()),
        Some("new title".to_string())
    );
    // Labels beyond the pending limit are dropped.
    feed(
        &mut ingest,
        "LABEL a 2 1\nLABEL b 2 2\nLABEL c 2 3\nOVERWRITE",
        0,
    );
    assert_eq!(host.labels().len(), 2);
}

#[test]
fn host_labels_merge_with_the_hosts_own() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    let host = store.localhost();
    host.set_labels(vec![
        Label::new("env", "lab", LabelSource::Configured),
        Label::new("_architecture", "x86_64", LabelSource::Automatic),
    ]);
    feed(
        &mut ingest,
        "LABEL 'team name' 2 rust port\nLABEL _k8s_thing 4 pod\nLABEL env 1 from plugin\nOVERWRITE",
        0,
    );
    let labels = host.labels();
    let find = |key: &str| labels.iter().find(|l| l.key == key).cloned();
    assert_eq!(
        find("team_name"),
        Some(Label::new(
            "team_name",
            "rust port",
            LabelSource::Configured
        ))
    );
    assert_eq!(
        find("_k8s_thing"),
        Some(Label::new("_k8s_thing", "pod", LabelSource::Automatic))
    );
    assert_eq!(
        find("env").map(|l| l.value),
        Some("from plugin".to_string())
    );
    assert!(find("_architecture").is_some());
    assert_eq!(labels.len(), 4);
    // A second OVERWRITE replaces this plugin's labels only.
    feed(&mut ingest, "LABEL other 2 x\nOVERWRITE", 0);
    let labels = host.labels();
    let keys: Vec<&str> = labels.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(keys, ["_architecture", "other"]);
    assert_eq!(ingest.counters().labels, 4);
}

#[test]
fn chart_labels_are_committed_to_the_current_chart_and_survive_redefinition() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    let host = store.localhost();
    feed(
        &mut ingest,
        "CHART t.c '' t u\nCLABEL disk sda 2\nCLABEL 'mount point' '/var/lib' 1\nCLABEL disk sdb 2\nCLABEL_COMMIT\nDIMENSION a",
        0,
    );
    let chart = host.chart_by_id("t.c").expect("chart");
    let expected = vec![
        Label::new("disk", "sdb", LabelSource::Configured),
        Label::new("mount_point", "/var/lib", LabelSource::Automatic),
    ];
    assert_eq!(chart.read().def().labels, expected);
    feed(&mut ingest, "CHART t.c '' 'new title' u", 0);
    assert_eq!(chart.read().def().labels, expected);
    assert_eq!(chart.read().def().title, "new title");
}

#[test]
fn end_of_run_marks_charts_obsolete_until_defined_or_collected_again() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    let host = store.localhost();
    feed(&mut ingest, CHART_AB, 0);
    feed(&mut ingest, "CHART t.d '' t u\nDIMENSION x", 0);
    ingest.end_run();
    let c = host.chart_by_id("t.c").expect("t.c");
    let d = host.chart_by_id("t.d").expect("t.d");
    assert!(c.read().is_obsolete() && d.read().is_obsolete());
    ingest.start_run();
    assert_eq!(ingest.line_no(), 0);
    feed(&mut ingest, CHART_AB, 0);
    assert!(!c.read().is_obsolete());
    // Collected without a new CHART line.
    feed(&mut ingest, "BEGIN t.d\nSET x = 1\nEND", T0 * S);
    assert!(!d.read().is_obsolete());
    // The plugin itself can declare a chart obsolete.
    feed(
        &mut ingest,
        "CHART t.c '' t u '' '' line 1000 1 obsolete",
        0,
    );
    assert!(c.read().is_obsolete());
}

#[test]
fn overlong_lines_are_counted_with_their_line_numbers() {
    let (_store, mut ingest) = new_ingest(IngestLimits::default());
    let mut framer = LineFramer::with_limits(32, 16);
    let mut text = b"CHART t.c '' t u\n".to_vec();
    text.extend(std::iter::repeat_n(b'x', 1000));
    text.extend_from_slice(b"\nDIMENSION a\nBEGIN t.c\nSET a = 1\nEND");
    let mut clock = || T0 * S;
    let mut rest = &text[..];
    while !rest.is_empty() {
        let taken = framer.extend(rest);
        rest = &rest[taken..];
        assert_eq!(ingest.drain(&mut framer, &mut clock), Flow::Continue);
    }
    assert_eq!(ingest.finish(&mut framer, &mut clock), Flow::Continue);
    let counters = ingest.counters();
    assert_eq!(counters.overlong_lines, 1);
    assert_eq!(counters.lines, 6);
    assert_eq!(counters.collections, 1);
    assert_eq!(ingest.line_no(), 6);
}

#[test]
fn a_round_that_goes_back_in_time_is_refused_and_counted() {
    let (_store, mut ingest) = new_ingest(IngestLimits::default());
    feed(&mut ingest, CHART_AB, 0);
    feed(&mut ingest, "BEGIN t.c\nSET a = 1\nEND", T0 * S + 10 * S);
    feed(&mut ingest, "BEGIN t.c\nSET a = 1\nEND", T0 * S);
    assert_eq!(ingest.counters().collections, 1);
    assert_eq!(ingest.counters().time_errors, 1);
}

#[test]
fn collection_time_trusts_the_plugin_interval_within_bounds() {
    let last = T0 * S;
    // Ahead of the wall clock by more than a tenth of the interval: no.
    assert_eq!(
        collection_time_ut(last, Some(S + S / 5), last + S, 1),
        last + S
    );
    // Slightly ahead: yes.
    assert_eq!(
        collection_time_ut(last, Some(S + S / 20), last + S, 1),
        last + S + S / 20
    );
    // The chart is in the future: the wall clock.
    assert_eq!(collection_time_ut(last, Some(S), last - 1, 1), last - 1);
    // 5 update everys of a 2-second chart: still trusted.
    assert_eq!(
        collection_time_ut(last, Some(2 * S), last + 10 * S, 2),
        last + 2 * S
    );
}

#[test]
fn charts_the_store_removed_no_longer_count_toward_the_limits() {
    let limits = IngestLimits {
        max_charts: 2,
        max_dimensions_per_chart: 3,
        max_dimensions: 4,
        max_pending_labels: 2,
        max_variables: 10_000,
    };
    let (store, mut ingest) = new_ingest(limits);
    let host = store.localhost().clone();
    let t = T0 * S;
    feed(
        &mut ingest,
        "CHART t.a '' t u\nDIMENSION d\nDIMENSION e\nCHART t.b '' t u\nDIMENSION d\nDIMENSION e\n\
         BEGIN t.a\nSET d = 1\nEND\nBEGIN t.b\nSET d = 1\nEND\n",
        t,
    );
    assert_eq!(
        (ingest.counters().charts, ingest.counters().dimensions),
        (2, 4)
    );
    // The limit holds: a third chart is refused.
    feed(&mut ingest, "CHART t.c '' t u\nDIMENSION d\n", t + S);
    assert!(host.chart_by_id("t.c").is_none());

    // The plugin obsoletes `b`; an hour later the store removes it.
    feed(
        &mut ingest,
        "CHART t.b '' t u '' '' line 1 1 obsolete\n",
        t + 2 * S,
    );
    assert_eq!(host.remove_obsolete_charts(t + 3600 * S, 3600), 1);
    feed(&mut ingest, "CHART t.c '' t u\nDIMENSION d\n", t + 3601 * S);
    assert!(
        host.chart_by_id("t.c").is_some(),
        "room again after the removal"
    );
    assert_eq!(
        (ingest.counters().charts, ingest.counters().dimensions),
        (2, 3)
    );
    // `a` keeps collecting where it was.
    feed(&mut ingest, "BEGIN t.a\nSET d = 2\nEND\n", t + 3602 * S);
    assert!(Arc::ptr_eq(
        &host.chart_by_id("t.a").unwrap(),
        ingest.charts().next().unwrap()
    ));
    // `b` defined again (a restarted plugin): a fresh chart, collected.
    feed(
        &mut ingest,
        "CHART t.b '' t u\nDIMENSION d\nBEGIN t.b\nSET d = 5\nEND\n",
        t + 3603 * S,
    );
    assert!(
        host.chart_by_id("t.b").is_none(),
        "refused: the limit is 2 again"
    );
    assert_eq!(ingest.counters().charts, 2);
}

#[test]
fn charts_begun_in_a_changing_order_get_their_own_values() {
    // The BEGIN look-up guesses the chart that came next last round; the
    // guess is checked, so any order lands in the right chart.
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    let host = store.localhost();
    let mut text = String::new();
    for chart in ["a", "b", "c"] {
        text.push_str(&format!(
            "CHART t.{chart} '' t u\nDIMENSION x\nDIMENSION y\n"
        ));
    }
    feed(&mut ingest, &text, T0 * S);
    let orders: [[&str; 3]; 5] = [
        ["a", "b", "c"],
        ["a", "b", "c"],
        ["c", "a", "b"],
        ["b", "c", "a"],
        ["a", "c", "b"],
    ];
    for (round, order) in orders.iter().enumerate() {
        let t = T0 + 1 + round as u64;
        let mut text = String::new();
        for (n, chart) in order.iter().enumerate() {
            let value = (round * 100 + n) as i64;
            let base = match *chart {
                "a" => 1000,
                "b" => 2000,
                _ => 3000,
            };
            text.push_str(&format!(
                "BEGIN t.{chart}\nSET y = {}\nSET x = {}\nEND\n",
                base + value,
                base + value + 1
            ));
        }
        feed(&mut ingest, &text, t * S);
        for (n, chart) in order.iter().enumerate() {
            let base = match *chart {
                "a" => 1000.0,
                "b" => 2000.0,
                _ => 3000.0,
            };
            let value = (round * 100 + n) as f64;
            let id = format!("t.{chart}");
            assert_eq!(
                value_at(host, &id, "y", t),
                Some(base + value),
                "{id} round {round}"
            );
            assert_eq!(
                value_at(host, &id, "x", t),
                Some(base + value + 1.0),
                "{id} round {round}"
            );
        }
    }
    assert_eq!(ingest.counters().sequence_errors, 0);
    assert_eq!(ingest.counters().set_errors, 0);
}

/// Host and chart variables as netdata 1.37 keeps them (captured from
/// netdata with a plugin sending these lines): scope keywords, the
/// current chart when there is none, names sanitized, chart variables
/// copied into the host's table under the chart's id and name.
#[test]
fn variables_go_to_the_host_or_the_current_chart() {
    let (store, mut ingest) = new_ingest(IngestLimits::default());
    let host = store.localhost();
    let text = "VARIABLE GLOBAL my_host_var = 42\n\
                VARIABLE HOST other_host_var = 1.5\n\
                VARIABLE noscope_before_chart = 11\n\
                VARIABLE GLOBAL host-var.dash = 5\n\
                VARIABLE GLOBAL 'host quoted' = 6\n\
                CHART vartest.one '' 'Var test' 'units' fam ctx line 1000 1\n\
                DIMENSION a a absolute 1 1\n\
                VARIABLE LOCAL my_chart_var = 7.25\n\
                VARIABLE CHART other_chart_var = 3\n\
                VARIABLE noscope_after_chart = 13\n\
                VARIABLE GLOBAL host_after_chart = 12\n\
                CHART vartest.two twoname 'Var test two' 'units' fam2 ctx2 line 1001 1\n\
                DIMENSION b b absolute 1 1\n\
                VARIABLE LOCAL two_var = 21\n\
                BEGIN vartest.one\n\
                SET a = 1\n\
                VARIABLE LOCAL in_begin_var = 8\n\
                END\n\
                VARIABLE noscope_after_end = 14\n\
                VARIABLE LOCAL no_chart_now = 1\n\
                VARIABLE GLOBAL my_host_var = 43\n";
    assert_eq!(feed(&mut ingest, text, 1_000 * S), Flow::Continue);
    let table: Vec<(String, f64)> =
        host.with_variables(|t| t.iter().map(|(n, v)| (n.to_string(), v)).collect());
    let expected = [
        ("my_host_var", 43.0),
        ("other_host_var", 1.5),
        ("noscope_before_chart", 11.0),
        ("host_var.dash", 5.0),
        ("host_quoted", 6.0),
        ("vartest.one.my_chart_var", 7.25),
        ("vartest.one.other_chart_var", 3.0),
        ("vartest.one.noscope_after_chart", 13.0),
        ("host_after_chart", 12.0),
        ("vartest.two.two_var", 21.0),
        ("vartest.twoname.two_var", 21.0),
        ("vartest.one.in_begin_var", 8.0),
        ("noscope_after_end", 14.0),
    ];
    let expected: Vec<(String, f64)> = expected.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    assert_eq!(table, expected);
    let one = host.chart_by_id("vartest.one").unwrap();
    let chart_vars: Vec<(String, f64)> = one
        .read()
        .variables()
        .iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    assert_eq!(
        chart_vars,
        [
            ("my_chart_var".to_string(), 7.25),
            ("other_chart_var".to_string(), 3.0),
            ("noscope_after_chart".to_string(), 13.0),
            ("in_begin_var".to_string(), 8.0),
        ]
    );
    let counters = ingest.counters();
    assert_eq!(counters.variables, 13);
    // The chart variable with no chart is refused (netdata disabled the
    // plugin for it), and the rest of the output still counts.
    assert_eq!(counters.sequence_errors, 1);
    assert_eq!(counters.collections, 1);
}

#[test]
fn the_variables_table_is_bounded() {
    let (store, mut ingest) = new_ingest(IngestLimits {
        max_variables: 3,
        ..IngestLimits::default()
    });
    let text = "VARIABLE a = 1\nVARIABLE b = 2\nVARIABLE c = 3\nVARIABLE d = 4\nVARIABLE a = 5\n";
    feed(&mut ingest, text, 1_000 * S);
    let names: Vec<(String, f64)> = store
        .localhost()
        .with_variables(|t| t.iter().map(|(n, v)| (n.to_string(), v)).collect());
    assert_eq!(
        names,
        [
            ("a".to_string(), 5.0),
            ("b".to_string(), 2.0),
            ("c".to_string(), 3.0)
        ]
    );
    assert_eq!(ingest.counters().refused_by_limits, 1);
}
