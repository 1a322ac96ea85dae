//! Golden tests of the graphite encoder: lines netdata 1.37 really sent,
//! reproduced byte for byte, and hostile inputs with backhaul's output.

#[path = "golden/lab.rs"]
mod lab;

use wire::format::{graphite, MetricValue};

/// What the exporting engine knows when it writes one graphite line.
struct Input<'a> {
    prefix: &'a str,
    hostname: &'a str,
    /// The chart name (`type.name`) or id, as the instance sends.
    chart: &'a str,
    /// The dimension name or id, as the instance sends.
    dimension: &'a str,
    /// Host labels as configured: they go through the label store's rules.
    configured_labels: &'a [(&'a str, &'a str)],
    /// Labels already in the label store, sent as they are.
    stored_labels: &'a [(&'a str, &'a str)],
    value: MetricValue,
    timestamp: i64,
}

/// The lab's `[graphite:my_graphite]` instance: prefix `netdata`, hostname
/// `vm`, names sent, labels sent.
fn lab(chart: &'static str, dimension: &'static str, value: f64, timestamp: i64) -> Input<'static> {
    Input {
        prefix: "netdata",
        hostname: "vm",
        chart,
        dimension,
        configured_labels: lab::CONFIGURED_HOST_LABELS,
        stored_labels: lab::AUTOMATIC_LABELS_SENT,
        value: MetricValue::Stored(value),
        timestamp,
    }
}

fn check(input: &Input<'_>, expected: &str) {
    let labels = lab::label_store(input.configured_labels, input.stored_labels);
    let tags = graphite::Tags::new(labels.iter().map(|(key, value)| (key, value)));
    let metric =
        graphite::ChartPath::new(input.prefix, input.hostname, input.chart).metric(input.dimension);
    assert_eq!(
        metric,
        graphite::MetricPath::new(input.prefix, input.hostname, input.chart, input.dimension)
    );
    let mut buf = Vec::new();
    assert!(graphite::write_line(
        &mut buf,
        &metric,
        &tags,
        input.value,
        input.timestamp
    ));
    assert_eq!(String::from_utf8_lossy(&buf), expected);
}

#[test]
fn netdata_lines() {
    let expected = lab::fixture_lines(include_str!("golden/netdata_graphite.txt"));
    lab::assert_lines_come_from_sample(&expected, "graphite_sample.txt");
    // chart and dimension names as netdata stored them (charts_all.json)
    let weird = "lab.Weird_Name_with_space";
    let inputs = [
        lab(weird, "dim name/with slash", 2.0, 1795688385),
        lab(weird, "Dim-Upper;semi~tilde", 5.0, 1795688385),
        lab(weird, "negative", -2.0, 1795688385),
        lab(weird, "big", 123456790000000.0, 1795688385),
        lab(weird, "frac", 1234.567, 1795688385),
        lab(weird, "na__ve name", 42.0, 1795688385),
        lab("lab.id_with_spaces_and_colon", "a b", 2.0, 1795688385),
        lab("system.idlejitter", "min", 67.0, 1795688386),
        lab("system.idlejitter", "max", 466.0, 1795688386),
        lab("system.idlejitter", "average", 101.0, 1795688386),
        lab(weird, "Dim-Upper;semi~tilde", 7.333333, 1795688386),
        lab("mem.slab", "reclaimable", 55.66016, 1795688386),
    ];
    assert_eq!(inputs.len(), expected.len());
    for (input, expected) in inputs.iter().zip(&expected) {
        check(input, expected);
    }
}

#[test]
fn plugin_spellings_give_the_same_lines() {
    // the names as lab.plugin wrote them, before netdata's chart/dimension
    // name rules: the metric part sanitizer alone gives the same bytes
    let line =
        "netdata.vm.lab.Weird_Name_with_space.na__ve_name;env=lab;team_name=rust_port:semi_tilde;\
                _is_ephemeral=false;_has_unstable_connection=false 42.0000000 1795688385\n";
    check(
        &lab("lab.Weird Name/with space", "naïve name", 42.0, 1795688385),
        line,
    );
    // ids instead of names
    check(
        &lab("lab.id with spaces/and:colon", "a b", 2.0, 1795688385),
        "netdata.vm.lab.id_with_spaces_and_colon.a_b;env=lab;team_name=rust_port:semi_tilde;\
         _is_ephemeral=false;_has_unstable_connection=false 2.0000000 1795688385\n",
    );
}

#[test]
fn raw_instance_with_a_space_in_the_hostname() {
    // [graphite:graphite_raw]: prefix rawpfx, hostname "lab host.name", ids,
    // as collected. netdata sent "rawpfx.lab host.name.lab.weird_chart..."
    // (four fields: a broken line); backhaul replaces the space.
    let input = Input {
        prefix: "rawpfx",
        hostname: "lab host.name",
        chart: "lab.weird_chart",
        dimension: "dim.with.dots",
        configured_labels: lab::CONFIGURED_HOST_LABELS,
        stored_labels: lab::AUTOMATIC_LABELS_SENT,
        value: MetricValue::Collected(1),
        timestamp: 1795688385,
    };
    check(
        &input,
        "rawpfx.lab_host.name.lab.weird_chart.dim.with.dots;env=lab;team_name=rust_port:semi_tilde;\
         _is_ephemeral=false;_has_unstable_connection=false 1 1795688385\n",
    );
}

fn plain<'a>(chart: &'a str, dimension: &'a str) -> Input<'a> {
    Input {
        prefix: "netdata",
        hostname: "vm",
        chart,
        dimension,
        configured_labels: &[],
        stored_labels: &[],
        value: MetricValue::Collected(7),
        timestamp: 1795688386,
    }
}

#[test]
fn hostile_names() {
    check(
        &plain("lab.chart", "evil\nput x 1 2 host=y\r\tz"),
        "netdata.vm.lab.chart.evil_put_x_1_2_host_y__z 7 1795688386\n",
    );
    check(
        &plain("a;b=c~d", "x"),
        "netdata.vm.a_b_c_d.x 7 1795688386\n",
    );
    check(
        &plain("q\"uo'te", "back\\slash"),
        "netdata.vm.q_uo_te.back_slash 7 1795688386\n",
    );
    check(
        &plain("température", "😀"),
        "netdata.vm.temp__rature.____ 7 1795688386\n",
    );
    check(&plain("", ""), "netdata.vm.. 7 1795688386\n");
    let long = "n".repeat(300);
    check(
        &plain("lab.long", &long),
        &format!("netdata.vm.lab.long.{long} 7 1795688386\n"),
    );
    let input = Input {
        prefix: "pre fix;x=1",
        hostname: "host\tname\n",
        ..plain("c", "d")
    };
    check(&input, "pre_fix_x_1.host_name_.c.d 7 1795688386\n");
}

#[test]
fn hostile_labels() {
    // through the label store: netdata's ingest rules, then graphite's
    let input = Input {
        configured_labels: &[
            ("Key With Space", "Value;With=Stuff~\"x\"\\"),
            ("multi\nline", " a\n\nb "),
            ("   ", "dropped: empty key"),
            ("empty", ""),
        ],
        ..plain("c", "d")
    };
    check(
        &input,
        "netdata.vm.c.d;key_with_space=Value:With:Stuff__x_/;multi_line=a_b;empty=[none] 7 1795688386\n",
    );
    // straight from a source that skipped the label store
    let input = Input {
        stored_labels: &[("k;x=y z!^~", "v;a=b c~d\n\t"), ("", "no key"), ("é", "ü")],
        ..plain("c", "d")
    };
    check(
        &input,
        "netdata.vm.c.d;k_x_y_z___=v_a=b_c_d__;é=ü 7 1795688386\n",
    );
}

#[test]
fn stored_values() {
    let value = |value| Input {
        value: MetricValue::Stored(value),
        ..plain("c", "d")
    };
    check(&value(-0.0), "netdata.vm.c.d 0.0000000 1795688386\n");
    check(&value(-0.00000001), "netdata.vm.c.d 0.0000000 1795688386\n");
    check(
        &value(1e20),
        "netdata.vm.c.d 100000000000000000000.0000000 1795688386\n",
    );
    check(&value(0.00390625), "netdata.vm.c.d 0.0039062 1795688386\n");
}
