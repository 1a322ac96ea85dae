//! Golden byte tests of whole batches: connectors × data sources × names
//! and ids, labels, filters, windows (slow charts, empty windows), and
//! hostile ids, names, labels and hostnames. One `check` helper: it builds a
//! batch from a store and compares it byte for byte.

use std::sync::Arc;

use backhaul::config::DataSource;
use backhaul::exporting::{BatchBuilder, BatchSettings, Format};
use rrd::{Algorithm, ChartDef, DimensionDef, Host, Label, LabelSource, Store};

const S: u64 = 1_000_000;
const T0: i64 = 1_795_688_380; // a multiple of 10

fn settings(source: DataSource, names: bool) -> BatchSettings {
    BatchSettings {
        data_source: source,
        prefix: "netdata".into(),
        hostname: "vm".into(),
        update_every: 2,
        send_names_instead_of_ids: names,
        send_charts_matching: "*".into(),
        send_hosts_matching: "localhost *".into(),
        send_configured_labels: true,
        send_automatic_labels: false,
        host_tags: Vec::new(),
        send_variables: false,
    }
}

/// The lab's store: host labels as netdata.conf.lab sets them (after the
/// label store's rules) plus an automatic one; a chart with awkward names,
/// a 1 s chart and a 5 s chart, collected from T0 to T0 + 10.
fn lab_store() -> Arc<Store> {
    let host = Host::new("vm", 100);
    host.set_labels(vec![
        Label::new("env", "lab", LabelSource::Configured),
        Label::new("team_name", "rust port:semi_tilde", LabelSource::Configured),
        Label::new("_architecture", "x86_64", LabelSource::Automatic),
    ]);
    let store = Arc::new(Store::new(host));
    let weird = store.localhost().create_chart(
        ChartDef::new("lab", "weird_chart")
            .name("Weird Name/with space")
            .family("fam")
            .context("lab.ctx")
            .units("units"),
    );
    let slow = store
        .localhost()
        .create_chart(ChartDef::new("lab", "slow").update_every(5).units("u"));
    {
        let mut w = weird.write();
        w.add_dimension(DimensionDef::new("dim.with.dots").name("dim name/with slash"));
        w.add_dimension(
            DimensionDef::new("UPPER-case")
                .name("Dim-Upper;semi~tilde")
                .divisor(3),
        );
        w.add_dimension(DimensionDef::new("negative").multiplier(-1));
        w.add_dimension(DimensionDef::new("big"));
        w.add_dimension(DimensionDef::new("frac").divisor(1000));
        w.add_dimension(DimensionDef::new("température").name("naïve name"));
    }
    {
        let mut w = slow.write();
        w.add_dimension(DimensionDef::new("counter").algorithm(Algorithm::Incremental));
        w.add_dimension(DimensionDef::new("gauge"));
    }
    for i in 0..=10i64 {
        let t = (T0 + i) as u64 * S;
        let mut w = weird.write();
        for (d, v) in [i, i * 7 + 1, i, 123_456_789_012_345, 1_234_567, 42]
            .into_iter()
            .enumerate()
        {
            w.set(d, v);
        }
        w.done(t).unwrap();
        drop(w);
        if i % 5 == 0 {
            let mut w = slow.write();
            w.set(0, i * 50);
            w.set(1, i);
            w.done(t).unwrap();
        }
    }
    store
}

/// Builds the batches ending at each of `befores` and compares their
/// concatenation with `expected`.
fn check(
    store: &Store,
    settings: BatchSettings,
    connector: Format,
    befores: &[i64],
    expected: &str,
) {
    let mut builder = BatchBuilder::new(settings, connector);
    let mut out = Vec::new();
    let mut lines = 0;
    for &before in befores {
        lines += builder.build(store, before, &mut out);
    }
    let got = String::from_utf8(out).expect("batches are UTF-8 here");
    if got != expected {
        panic!("batch differs.\n--- got ---\n{got}--- expected ---\n{expected}---");
    }
    assert_eq!(lines, expected.lines().count(), "line count");
}

#[test]
fn graphite_average_names_labels() {
    check(
        &lab_store(),
        settings(DataSource::Average, true),
        Format::Graphite,
        &[T0 + 2],
        "\
netdata.vm.lab.Weird_Name_with_space.dim_name_with_slash;env=lab;team_name=rust_port:semi_tilde 1.5000000 1795688382
netdata.vm.lab.Weird_Name_with_space.Dim_Upper_semi_tilde;env=lab;team_name=rust_port:semi_tilde 3.8333335 1795688382
netdata.vm.lab.Weird_Name_with_space.negative;env=lab;team_name=rust_port:semi_tilde -1.5000000 1795688382
netdata.vm.lab.Weird_Name_with_space.big;env=lab;team_name=rust_port:semi_tilde 123456790000000.0000000 1795688382
netdata.vm.lab.Weird_Name_with_space.frac;env=lab;team_name=rust_port:semi_tilde 1234.5670000 1795688382
netdata.vm.lab.Weird_Name_with_space.na__ve_name;env=lab;team_name=rust_port:semi_tilde 42.0000000 1795688382
",
    );
}

#[test]
fn graphite_as_collected_ids_all_labels() {
    let mut s = settings(DataSource::AsCollected, false);
    s.prefix = "rawpfx".into();
    s.hostname = "lab host.name".into();
    s.send_automatic_labels = true;
    check(
        &lab_store(),
        s,
        Format::Graphite,
        &[T0 + 10],
        "\
rawpfx.lab_host.name.lab.weird_chart.dim.with.dots;env=lab;team_name=rust_port:semi_tilde;_architecture=x86_64 10 1795688390
rawpfx.lab_host.name.lab.weird_chart.UPPER_case;env=lab;team_name=rust_port:semi_tilde;_architecture=x86_64 71 1795688390
rawpfx.lab_host.name.lab.weird_chart.negative;env=lab;team_name=rust_port:semi_tilde;_architecture=x86_64 10 1795688390
rawpfx.lab_host.name.lab.weird_chart.big;env=lab;team_name=rust_port:semi_tilde;_architecture=x86_64 123456789012345 1795688390
rawpfx.lab_host.name.lab.weird_chart.frac;env=lab;team_name=rust_port:semi_tilde;_architecture=x86_64 1234567 1795688390
rawpfx.lab_host.name.lab.weird_chart.temp__rature;env=lab;team_name=rust_port:semi_tilde;_architecture=x86_64 42 1795688390
rawpfx.lab_host.name.lab.slow.counter;env=lab;team_name=rust_port:semi_tilde;_architecture=x86_64 500 1795688390
rawpfx.lab_host.name.lab.slow.gauge;env=lab;team_name=rust_port:semi_tilde;_architecture=x86_64 10 1795688390
",
    );
}

#[test]
fn opentsdb_sum_names_no_labels() {
    let mut s = settings(DataSource::Sum, true);
    s.send_configured_labels = false;
    check(
        &lab_store(),
        s,
        Format::Opentsdb,
        &[T0 + 2],
        "\
put netdata.lab.Weird_Name_with_space.dim_name_with_slash 1795688382 3.0000000 host=vm
put netdata.lab.Weird_Name_with_space.Dim_Upper_semi_tilde 1795688382 7.6666670 host=vm
put netdata.lab.Weird_Name_with_space.negative 1795688382 -3.0000000 host=vm
put netdata.lab.Weird_Name_with_space.big 1795688382 246913580000000.0000000 host=vm
put netdata.lab.Weird_Name_with_space.frac 1795688382 2469.1340000 host=vm
put netdata.lab.Weird_Name_with_space.na__ve_name 1795688382 84.0000000 host=vm
",
    );
}

#[test]
fn json_average_and_as_collected() {
    let store = lab_store();
    let mut s = settings(DataSource::Average, true);
    s.send_charts_matching = "lab.slow".into();
    s.update_every = 5;
    check(
        &store,
        s.clone(),
        Format::Json,
        &[T0 + 5],
        r#"{"prefix":"netdata","hostname":"vm","labels":{"env":"lab","team_name":"rust port:semi_tilde"},"chart_id":"lab.slow","chart_name":"lab.slow","chart_family":"slow","chart_context": "lab.slow","chart_type":"lab","units": "u","id":"counter","name":"counter","value":50.0000000,"timestamp": 1795688385}
{"prefix":"netdata","hostname":"vm","labels":{"env":"lab","team_name":"rust port:semi_tilde"},"chart_id":"lab.slow","chart_name":"lab.slow","chart_family":"slow","chart_context": "lab.slow","chart_type":"lab","units": "u","id":"gauge","name":"gauge","value":5.0000000,"timestamp": 1795688385}
"#,
    );
    s.data_source = DataSource::AsCollected;
    s.send_configured_labels = false;
    check(
        &store,
        s,
        Format::Json,
        &[T0 + 10],
        r#"{"prefix":"netdata","hostname":"vm","chart_id":"lab.slow","chart_name":"lab.slow","chart_family":"slow","chart_context":"lab.slow","chart_type":"lab","units":"u","id":"counter","name":"counter","value":500,"timestamp":1795688390}
{"prefix":"netdata","hostname":"vm","chart_id":"lab.slow","chart_name":"lab.slow","chart_family":"slow","chart_context":"lab.slow","chart_type":"lab","units":"u","id":"gauge","name":"gauge","value":10,"timestamp":1795688390}
"#,
    );
}

/// A 5 s chart on a 1 s instance: each of its points goes out once, in the
/// window that holds it; the other windows send nothing for it.
#[test]
fn slow_chart_is_sent_once_per_point_not_repeated() {
    let mut s = settings(DataSource::Average, true);
    s.update_every = 1;
    s.send_charts_matching = "lab.slow".into();
    s.send_configured_labels = false;
    check(
        &lab_store(),
        s,
        Format::Graphite,
        &(T0 + 1..=T0 + 10).collect::<Vec<_>>(),
        "\
netdata.vm.lab.slow.counter 50.0000000 1795688385
netdata.vm.lab.slow.gauge 5.0000000 1795688385
netdata.vm.lab.slow.counter 50.0000000 1795688390
netdata.vm.lab.slow.gauge 10.0000000 1795688390
",
    );
}

/// Every point goes out once, even when the windows are built late or the
/// same boundary comes twice.
#[test]
fn each_point_is_exported_at_most_once() {
    let mut s = settings(DataSource::Sum, false);
    s.update_every = 1;
    s.send_charts_matching = "lab.weird_chart".into();
    s.send_configured_labels = false;
    let store = lab_store();
    let mut builder = BatchBuilder::new(s, Format::Graphite);
    let mut out = Vec::new();
    for before in [T0 + 3, T0 + 3, T0 + 2, T0 + 7, T0 + 10, T0 + 10, T0 + 12] {
        builder.build(&store, before, &mut out);
    }
    let text = String::from_utf8(out).unwrap();
    let dots: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(".dim.with.dots "))
        .collect();
    // The first window starts one interval back, (T0+2, T0+3]; then the
    // points (T0+3, T0+7] and (T0+7, T0+10] (values equal to i), built
    // late: one line per 1 s interval at its own time, as live; repeated
    // or older boundaries and a window past the data send nothing.
    assert_eq!(
        dots,
        [
            "netdata.vm.lab.weird_chart.dim.with.dots 3.0000000 1795688383",
            "netdata.vm.lab.weird_chart.dim.with.dots 4.0000000 1795688384",
            "netdata.vm.lab.weird_chart.dim.with.dots 5.0000000 1795688385",
            "netdata.vm.lab.weird_chart.dim.with.dots 6.0000000 1795688386",
            "netdata.vm.lab.weird_chart.dim.with.dots 7.0000000 1795688387",
            "netdata.vm.lab.weird_chart.dim.with.dots 8.0000000 1795688388",
            "netdata.vm.lab.weird_chart.dim.with.dots 9.0000000 1795688389",
            "netdata.vm.lab.weird_chart.dim.with.dots 10.0000000 1795688390",
        ]
    );
}

#[test]
fn empty_window_sends_nothing() {
    check(
        &lab_store(),
        settings(DataSource::Average, true),
        Format::Graphite,
        &[T0 + 20],
        "",
    );
}

#[test]
fn filters_first_match_wins_on_id_or_name() {
    let store = lab_store();
    let sent_charts = |pattern: &str| {
        let mut s = settings(DataSource::AsCollected, false);
        s.send_configured_labels = false;
        s.send_charts_matching = pattern.into();
        let mut b = BatchBuilder::new(s, Format::Graphite);
        let mut out = Vec::new();
        b.build(&store, T0 + 10, &mut out);
        let mut charts: Vec<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| l.split('.').nth(3).unwrap_or("").to_string())
            .collect();
        charts.dedup();
        charts
    };
    // The first word that matches decides; `!` excludes.
    assert_eq!(sent_charts("!lab.slow lab.*"), ["weird_chart"]);
    assert_eq!(sent_charts("lab.slow !lab.*"), ["slow"]);
    // Matched on the id or the name: the weird chart's name is
    // `lab.Weird Name/with space`, its id `lab.weird_chart`.
    assert_eq!(sent_charts("lab.Weird*"), ["weird_chart"]);
    assert_eq!(sent_charts("*weird_chart"), ["weird_chart"]);
    // netdata's rule, kept: a chart excluded by one of its names is still
    // sent if the other one matches positively.
    assert_eq!(sent_charts("!lab.weird_chart *"), ["weird_chart", "slow"]);
    assert!(sent_charts("nothing*").is_empty());
}

#[test]
fn hosts_filter_matches_the_local_host_as_localhost_or_its_hostname() {
    let lines = |pattern: &str| {
        let mut s = settings(DataSource::AsCollected, true);
        s.send_hosts_matching = pattern.into();
        let mut b = BatchBuilder::new(s, Format::Graphite);
        b.build(&lab_store(), T0 + 10, &mut Vec::new())
    };
    assert_eq!(lines("localhost *"), 8);
    assert_eq!(lines("!localhost *"), 0);
    assert_eq!(lines("vm"), 8);
    assert_eq!(lines("other"), 0);
}

/// Hostile ids, names, labels and hostnames: no input injects a line, a
/// tag or a JSON key.
#[test]
fn hostile_input_cannot_inject() {
    let long = "x".repeat(300);
    let host = Host::new("h", 10);
    host.set_labels(vec![
        Label::new("k\nput evil 1 1", "v;evil=1 ~x", LabelSource::Configured),
        Label::new("q\"", "\"},\"evil\":{\"", LabelSource::Configured),
    ]);
    let store = Store::new(host);
    let chart = store.localhost().create_chart(
        ChartDef::new("t", "c\nevil 1 1")
            .name(format!("n a\tm;e=~\"\\é{long}"))
            .family("f\"x")
            .units("u\n"),
    );
    {
        let mut w = chart.write();
        let d = w.add_dimension(DimensionDef::new("d\r\n\"").name("m \\ \" \n ;=~"));
        w.set(d, 1);
        w.done(T0 as u64 * S).unwrap();
    }
    for connector in [
        Format::Graphite,
        Format::Opentsdb,
        Format::Json,
        Format::JsonArrayItems,
        Format::OpentsdbJson,
    ] {
        for names in [true, false] {
            let mut s = settings(DataSource::AsCollected, names);
            s.hostname = "bad host\nname".into();
            s.prefix = "pre fix;".into();
            let mut b = BatchBuilder::new(s, connector);
            let mut out = Vec::new();
            assert_eq!(b.build(&store, T0 + 1, &mut out), 1);
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text.matches('\n').count(), 1, "{connector:?}: {text:?}");
            assert!(text.ends_with('\n'));
            let line = text.trim_end_matches('\n');
            // HTTP bodies' items end in `,` before the newline.
            let line = match connector {
                Format::JsonArrayItems | Format::OpentsdbJson => {
                    line.strip_suffix(',').expect("array items end in ','")
                }
                _ => line,
            };
            match connector {
                Format::OpentsdbJson => {
                    // {"metric":"M","timestamp":T,"value":V,"tags":{"host":"H","k":"v","k":"v"}}
                    for k in ["metric", "timestamp", "value", "tags", "host"] {
                        assert_eq!(
                            line.matches(&format!("\"{k}\":")).count(),
                            1,
                            "{k} in {line}"
                        );
                    }
                    assert_eq!(
                        line.matches('"').count(),
                        2 * 11,
                        "every string closed: {line}"
                    );
                    assert!(line.ends_with("}}"), "{line}");
                }
                Format::Graphite => {
                    assert_eq!(line.split(' ').count(), 3, "{line}");
                    assert_eq!(line.matches(';').count(), 2, "two tags: {line}");
                    assert!(!names || line.len() > 300, "long name kept whole");
                }
                Format::Opentsdb => {
                    // put METRIC TS VALUE host=H k=v k=v
                    assert_eq!(line.split(' ').count(), 7, "{line}");
                }
                Format::Json | Format::JsonArrayItems => {
                    let keys = [
                        "prefix",
                        "hostname",
                        "labels",
                        "chart_id",
                        "chart_name",
                        "chart_family",
                        "chart_context",
                        "chart_type",
                        "units",
                        "id",
                        "name",
                        "value",
                        "timestamp",
                    ];
                    // A crude but strict check: every top-level key appears
                    // once as `"key":`, and the labels object has 2 entries.
                    for k in keys {
                        assert_eq!(
                            line.matches(&format!("\"{k}\":")).count(),
                            1,
                            "{k} in {line}"
                        );
                    }
                    assert!(!line.contains("\"evil\":"), "{line}");
                }
                // Not in this list: tests/exporting_remote_write.rs.
                Format::PrometheusRemoteWrite => {}
            }
        }
    }
}

/// A child host (as the stream receiver adds it): one chart `c.g` with one
/// gauge `d` collected over `T0..=T0+10`, and a label.
fn add_child(store: &Store, hostname: &str, guid: &str, value: i64) -> Arc<Host> {
    let host = Host::new(hostname, 100).with_machine_guid(guid);
    host.set_labels(vec![Label::new("role", hostname, LabelSource::Configured)]);
    let host = store.add_host_by_guid(host);
    let chart = host.create_chart(ChartDef::new("c", "g"));
    let mut w = chart.write();
    let d = w.add_dimension(DimensionDef::new("d"));
    for i in 0..=10i64 {
        w.set(d, value);
        w.done((T0 + i) as u64 * S).unwrap();
    }
    drop(w);
    host
}

fn graphite_text(builder: &mut BatchBuilder, store: &Store, now: i64) -> String {
    let mut out = Vec::new();
    builder.build(store, now, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn every_host_is_exported_under_its_own_hostname_and_labels() {
    let store = lab_store();
    add_child(&store, "child-a", "00000000-0000-0000-0000-00000000000a", 7);
    add_child(&store, "child-b", "00000000-0000-0000-0000-00000000000b", 9);
    let mut builder = BatchBuilder::new(settings(DataSource::Average, true), Format::Graphite);
    let text = graphite_text(&mut builder, &store, T0 + 10);
    assert!(
        text.contains("\nnetdata.child-a.c.g.d;role=child-a 7.0000000 1795688390\n"),
        "{text}"
    );
    assert!(text.contains("\nnetdata.child-b.c.g.d;role=child-b 9.0000000 1795688390\n"));
    assert!(text
        .lines()
        .any(|l| l.starts_with("netdata.vm.") && l.contains(";env=lab")));
    assert!(!text
        .lines()
        .any(|l| l.starts_with("netdata.child-a.") && l.contains("env=lab")));

    // `send hosts matching` names children by hostname; the local host is
    // also `localhost`.
    let hosts_in = |pattern: &str| {
        let mut s = settings(DataSource::Average, true);
        s.send_hosts_matching = pattern.into();
        let mut b = BatchBuilder::new(s, Format::Graphite);
        let text = graphite_text(&mut b, &store, T0 + 10);
        let mut hosts: Vec<String> = text
            .lines()
            .map(|l| l.split('.').nth(1).unwrap().to_string())
            .collect();
        hosts.dedup();
        hosts
    };
    assert_eq!(hosts_in("child-a"), ["child-a"]);
    assert_eq!(hosts_in("localhost"), ["vm"]);
    assert_eq!(hosts_in("!child-a *"), ["vm", "child-b"]);
    assert_eq!(hosts_in("child-*"), ["child-a", "child-b"]);
}

#[test]
fn hosts_removed_and_added_between_batches_are_followed() {
    let store = lab_store();
    let a = add_child(&store, "child-a", "00000000-0000-0000-0000-00000000000a", 7);
    let mut builder = BatchBuilder::new(settings(DataSource::Average, true), Format::Graphite);
    let first = graphite_text(&mut builder, &store, T0 + 4);
    assert!(first.contains("\nnetdata.child-a.c.g.d;"));
    // child-a's host is cleaned up, child-c connects: the host count is the
    // same, the hosts are not.
    assert!(store.remove_host(&a));
    add_child(&store, "child-c", "00000000-0000-0000-0000-00000000000c", 3);
    let second = graphite_text(&mut builder, &store, T0 + 10);
    assert!(!second.contains("netdata.child-a."), "{second}");
    assert!(
        second.contains("\nnetdata.child-c.c.g.d;role=child-c 3.0000000 1795688390\n"),
        "{second}"
    );
    assert!(
        second.starts_with("netdata.vm."),
        "the local host keeps its position"
    );
}

/// A point stored just after its interval went out (a streaming child's
/// round that arrives a moment after the instance woke) joins the next
/// interval's line: never a second line with a timestamp already sent,
/// which a receiver would take as a new value for that time (graphite) or
/// reject (remote write), and no point is lost.
#[test]
fn a_point_stored_after_its_interval_went_out_joins_the_next_one() {
    let store = Arc::new(Store::new(Host::new("vm", 100)));
    let chart = store
        .localhost()
        .create_chart(ChartDef::new("lab", "late").units("u"));
    chart.write().add_dimension(DimensionDef::new("g"));
    let store_points = |from: i64, to: i64| {
        for t in from..=to {
            let mut w = chart.write();
            w.set(0, t - T0);
            w.done(t as u64 * 1_000_000).unwrap();
        }
    };
    let mut s = settings(DataSource::Average, false);
    s.update_every = 10;
    s.send_configured_labels = false;
    let mut builder = BatchBuilder::new(s, Format::Graphite);
    let mut out = Vec::new();
    // The interval ending at T0+20 goes out before its last point.
    store_points(T0 + 10, T0 + 19);
    builder.build(&store, T0 + 20, &mut out);
    store_points(T0 + 20, T0 + 30);
    builder.build(&store, T0 + 30, &mut out);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // (T0+10, T0+19]: 11..19 → 15; then 20..30 → 25.
    assert_eq!(
        lines,
        [
            "netdata.vm.lab.late.g 15.0000000 1795688400",
            "netdata.vm.lab.late.g 25.0000000 1795688410",
        ]
    );
}

/// A chart far behind (a long outage replicated by a child) sends at most
/// MAX_LATE_INTERVALS_PER_BATCH late intervals per batch, oldest first,
/// and the rest in the next batches: every interval once, in order.
#[test]
fn a_long_backlog_goes_out_over_several_batches_in_order() {
    use backhaul::exporting::exporter::MAX_LATE_INTERVALS_PER_BATCH as MAX;
    let store = Arc::new(Store::new(Host::new("vm", 1000)));
    let chart = store
        .localhost()
        .create_chart(ChartDef::new("lab", "behind").units("u"));
    chart.write().add_dimension(DimensionDef::new("g"));
    let mut s = settings(DataSource::Average, false);
    s.send_configured_labels = false;
    s.update_every = 1;
    let mut builder = BatchBuilder::new(s, Format::Graphite);
    let mut out = Vec::new();
    {
        let mut w = chart.write();
        w.set(0, 0);
        w.done(T0 as u64 * 1_000_000).unwrap();
    }
    builder.build(&store, T0, &mut out);
    // 150 points arrive at once (replicated).
    let points = 150;
    for t in T0 + 1..=T0 + points {
        chart.write().store_point(t, &[(0, (t - T0) as f64)]);
    }
    let times = |out: &[u8]| -> Vec<i64> {
        String::from_utf8_lossy(out)
            .lines()
            .filter(|l| l.contains("lab.behind"))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect()
    };
    let mut sent = Vec::new();
    for (batch, before) in (T0 + points..).enumerate() {
        out.clear();
        builder.build(&store, before, &mut out);
        let now = times(&out);
        assert!(
            now.len() as i64 <= MAX + 1,
            "batch {batch}: {} lines",
            now.len()
        );
        sent.extend(now);
        if sent.last() == Some(&(T0 + points)) {
            assert!(
                batch >= 2,
                "150 intervals need three batches of at most {MAX}"
            );
            break;
        }
        assert!(batch < 5, "never caught up: {sent:?}");
    }
    let want: Vec<i64> = (T0 + 1..=T0 + points).collect();
    assert_eq!(sent, want, "every interval once, in order");
}

/// After a restart, charts of the hosts the previous run exported start
/// where it stopped (what a child replicated since goes out); other hosts'
/// charts start at the current interval, as always.
#[test]
fn a_resumed_builder_sends_what_known_hosts_hold_since_the_last_run() {
    use backhaul::exporting::exporter::ExportResume;
    let store = lab_store();
    add_child(&store, "child-a", "00000000-0000-0000-0000-00000000000a", 7);
    add_child(&store, "child-b", "00000000-0000-0000-0000-00000000000b", 9);
    let mut s = settings(DataSource::Average, true);
    s.update_every = 1;
    let mut builder = BatchBuilder::new(s, Format::Graphite);
    builder.resume_from(ExportResume {
        delivered_through: T0 + 5,
        hosts: vec!["00000000-0000-0000-0000-00000000000a".into()],
    });
    let text = graphite_text(&mut builder, &store, T0 + 10);
    let times = |host: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(&format!("netdata.{host}.c.g.d;")))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
            .collect()
    };
    // child-a: every interval after T0+5, one line each.
    assert_eq!(
        times("child-a"),
        (T0 + 6..=T0 + 10)
            .map(|t| t.to_string())
            .collect::<Vec<_>>(),
        "{text}"
    );
    // child-b (not in the last run): the current interval only.
    assert_eq!(times("child-b"), [(T0 + 10).to_string()], "{text}");
    assert_eq!(
        builder.exported_hosts(),
        [
            "localhost",
            "00000000-0000-0000-0000-00000000000a",
            "00000000-0000-0000-0000-00000000000b"
        ]
    );
}

/// A resume point from long before (the agent was stopped for days) does
/// not hold up the export: the intervals with nothing stored are skipped,
/// and the first batch reaches the current interval.
#[test]
fn an_old_resume_point_skips_the_empty_intervals() {
    use backhaul::exporting::exporter::ExportResume;
    let store = lab_store();
    add_child(&store, "child-a", "00000000-0000-0000-0000-00000000000a", 7);
    let mut s = settings(DataSource::Average, true);
    s.update_every = 1;
    let mut builder = BatchBuilder::new(s, Format::Graphite);
    builder.resume_from(ExportResume {
        delivered_through: T0 - 5 * 86_400,
        hosts: vec![
            "localhost".into(),
            "00000000-0000-0000-0000-00000000000a".into(),
        ],
    });
    let text = graphite_text(&mut builder, &store, T0 + 10);
    let times: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("netdata.child-a.c.g.d;"))
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .collect();
    // child-a holds T0..=T0+10: every second of it, the current one too.
    assert_eq!(
        times,
        (T0..=T0 + 10).map(|t| t.to_string()).collect::<Vec<_>>(),
        "{text}"
    );
}
