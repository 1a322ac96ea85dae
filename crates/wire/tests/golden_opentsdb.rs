//! Golden tests of the opentsdb telnet encoder: lines netdata 1.37 really
//! sent, reproduced byte for byte, and hostile inputs with backhaul's output.

#[path = "golden/lab.rs"]
mod lab;

use wire::format::{opentsdb, MetricValue};

/// What the exporting engine knows when it writes one opentsdb line.
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

/// The lab's `[opentsdb:my_opentsdb]` instance: prefix `netdata`, hostname
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
    let tags = opentsdb::Tags::new(
        input.hostname,
        labels.iter().map(|(key, value)| (key, value)),
    );
    let metric = opentsdb::ChartPath::new(input.prefix, input.chart).metric(input.dimension);
    assert_eq!(
        metric,
        opentsdb::MetricPath::new(input.prefix, input.chart, input.dimension)
    );
    let mut buf = Vec::new();
    assert!(opentsdb::write_line(
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
    let expected = lab::fixture_lines(include_str!("golden/netdata_opentsdb.txt"));
    lab::assert_lines_come_from_sample(&expected, "opentsdb_sample.txt");
    let weird = "lab.Weird_Name_with_space";
    let inputs = [
        lab("system.idlejitter", "min", 67.0, 1795688386),
        lab("system.idlejitter", "max", 466.0, 1795688386),
        lab("system.idlejitter", "average", 101.0, 1795688386),
        lab(weird, "dim name/with slash", 2.5, 1795688386),
        lab(weird, "Dim-Upper;semi~tilde", 6.1666665, 1795688386),
        lab(weird, "negative", -2.5, 1795688386),
        lab(weird, "big", 123456790000000.0, 1795688386),
        lab(weird, "frac", 1234.567, 1795688386),
        lab(weird, "na__ve name", 42.0, 1795688386),
        lab("lab.id_with_spaces_and_colon", "a b", 1.0, 1795688386),
        lab("mem.slab", "reclaimable", 55.66016, 1795688386),
        lab(weird, "Dim-Upper;semi~tilde", 10.8333335, 1795688388),
    ];
    assert_eq!(inputs.len(), expected.len());
    for (input, expected) in inputs.iter().zip(&expected) {
        check(input, expected);
    }
}

#[test]
fn plugin_spellings_give_the_same_lines() {
    check(
        &lab("lab.Weird Name/with space", "naïve name", 42.0, 1795688386),
        "put netdata.lab.Weird_Name_with_space.na__ve_name 1795688386 42.0000000 host=vm env=lab \
         team_name=rust_port_semi_tilde _is_ephemeral=false _has_unstable_connection=false\n",
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
        "put netdata.lab.chart.evil_put_x_1_2_host_y__z 1795688386 7 host=vm\n",
    );
    check(
        &plain("a;b=c~d", "x"),
        "put netdata.a_b_c_d.x 1795688386 7 host=vm\n",
    );
    check(
        &plain("q\"uo'te", "back\\slash"),
        "put netdata.q_uo_te.back_slash 1795688386 7 host=vm\n",
    );
    check(
        &plain("température", "😀"),
        "put netdata.temp__rature.____ 1795688386 7 host=vm\n",
    );
    let long = "n".repeat(300);
    check(
        &plain("lab.long", &long),
        &format!("put netdata.lab.long.{long} 1795688386 7 host=vm\n"),
    );
    let input = Input {
        prefix: "pre fix;x=1",
        hostname: "lab host.name\n",
        ..plain("c", "d")
    };
    check(
        &input,
        "put pre_fix_x_1.c.d 1795688386 7 host=lab_host.name_\n",
    );
}

#[test]
fn hostile_labels() {
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
        "put netdata.c.d 1795688386 7 host=vm key_with_space=Value_With_Stuff__x_/ multi_line=a_b empty=_none_\n",
    );
    let input = Input {
        stored_labels: &[("k;x=y z!^~", "v;a=b c~d\n\t"), ("", "no key"), ("é", "ü")],
        ..plain("c", "d")
    };
    check(
        &input,
        "put netdata.c.d 1795688386 7 host=vm k_x_y_z___=v_a_b_c_d__ é=ü\n",
    );
}

#[test]
fn stored_values() {
    let value = |value| Input {
        value: MetricValue::Stored(value),
        ..plain("c", "d")
    };
    check(
        &value(-0.0),
        "put netdata.c.d 1795688386 0.0000000 host=vm\n",
    );
    check(
        &value(-1.25),
        "put netdata.c.d 1795688386 -1.2500000 host=vm\n",
    );
}
