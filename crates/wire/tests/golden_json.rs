//! Golden tests of the JSON lines encoder: lines netdata 1.37 really sent,
//! reproduced byte for byte, and hostile inputs with backhaul's output.

#[path = "golden/lab.rs"]
mod lab;

use wire::format::json::{self, ChartInfo};
use wire::format::MetricValue;

/// `(key, value)` pairs.
type Pairs<'a> = &'a [(&'a str, &'a str)];

/// What the exporting engine knows when it writes one JSON line.
struct Input<'a> {
    prefix: &'a str,
    hostname: &'a str,
    /// `None` when labels are not sent; otherwise configured labels (through
    /// the label store's rules) and labels already stored.
    labels: Option<(Pairs<'a>, Pairs<'a>)>,
    chart: ChartInfo<'a>,
    dimension_id: &'a str,
    dimension_name: &'a str,
    value: MetricValue,
    timestamp: i64,
}

const IDLEJITTER: ChartInfo<'static> = ChartInfo {
    id: "system.idlejitter",
    name: "system.idlejitter",
    family: "idlejitter",
    context: "system.idlejitter",
    chart_type: "system",
    units: "microseconds lost/s",
};

/// lab.plugin's first chart, as netdata stored it (charts_all.json).
const WEIRD: ChartInfo<'static> = ChartInfo {
    id: "lab.weird_chart",
    name: "lab.Weird_Name_with_space",
    family: "fam",
    context: "lab.ctx",
    chart_type: "lab",
    units: "units",
};

const SPACES: ChartInfo<'static> = ChartInfo {
    id: "lab.id with spaces/and:colon",
    name: "lab.id_with_spaces_and_colon",
    family: "lab",
    context: "lab.id with spaces/and:colon",
    chart_type: "lab",
    units: "u",
};

const SLAB: ChartInfo<'static> = ChartInfo {
    id: "mem.slab",
    name: "mem.slab",
    family: "slab",
    context: "mem.slab",
    chart_type: "mem",
    units: "MiB",
};

/// The lab's `[json:my_json]` instance: prefix `netdata`, hostname `vm`,
/// average, labels sent.
fn lab(
    chart: ChartInfo<'static>,
    id: &'static str,
    name: &'static str,
    value: f64,
) -> Input<'static> {
    Input {
        prefix: "netdata",
        hostname: "vm",
        labels: Some((lab::CONFIGURED_HOST_LABELS, lab::AUTOMATIC_LABELS_SENT)),
        chart,
        dimension_id: id,
        dimension_name: name,
        value: MetricValue::Stored(value),
        timestamp: 1795688386,
    }
}

fn check(input: &Input<'_>, expected: &str) {
    let host = match input.labels {
        Some((configured, stored)) => {
            let labels = lab::label_store(configured, stored);
            json::HostFields::with_labels(
                input.prefix,
                input.hostname,
                labels.iter().map(|(key, value)| (key, value)),
            )
        }
        None => json::HostFields::new(input.prefix, input.hostname),
    };
    let chart = json::ChartFields::new(&input.chart);
    let dimension = json::DimensionFields::new(input.dimension_id, input.dimension_name);
    let mut buf = Vec::new();
    assert!(json::write_line(
        &mut buf,
        &host,
        &chart,
        &dimension,
        input.value,
        input.timestamp
    ));
    assert_eq!(String::from_utf8_lossy(&buf), expected);
    let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&buf);
    assert!(parsed.is_ok(), "valid JSON: {parsed:?}");
}

#[test]
fn netdata_lines() {
    let expected = lab::fixture_lines(include_str!("golden/netdata_json.txt"));
    lab::assert_lines_come_from_sample(&expected, "json_sample.txt");
    let inputs = [
        lab(IDLEJITTER, "min", "min", 67.0),
        lab(IDLEJITTER, "max", "max", 466.0),
        lab(IDLEJITTER, "average", "average", 101.0),
        lab(WEIRD, "dim.with.dots", "dim name/with slash", 2.5),
        lab(WEIRD, "UPPER-case", "Dim-Upper;semi~tilde", 6.1666665),
        lab(WEIRD, "negative", "negative", -2.5),
        lab(WEIRD, "big", "big", 123456790000000.0),
        lab(WEIRD, "frac", "frac", 1234.567),
        lab(WEIRD, "température", "na__ve name", 42.0),
        lab(SPACES, "a b", "a b", 1.0),
        lab(SLAB, "reclaimable", "reclaimable", 55.66016),
    ];
    assert_eq!(inputs.len(), expected.len());
    for (input, expected) in inputs.iter().zip(&expected) {
        check(input, expected);
    }
}

fn plain<'a>(chart: ChartInfo<'a>, id: &'a str, name: &'a str) -> Input<'a> {
    Input {
        prefix: "netdata",
        hostname: "vm",
        labels: None,
        chart,
        dimension_id: id,
        dimension_name: name,
        value: MetricValue::Collected(7),
        timestamp: 1795688386,
    }
}

#[test]
fn as_collected_spacing() {
    // netdata's as-collected JSON has no space after `chart_context`, `units`
    // and `timestamp` (its average/sum JSON has one)
    check(
        &plain(SLAB, "reclaimable", "reclaimable"),
        concat!(
            r#"{"prefix":"netdata","hostname":"vm","chart_id":"mem.slab","chart_name":"mem.slab","#,
            r#""chart_family":"slab","chart_context":"mem.slab","chart_type":"mem","units":"MiB","#,
            r#""id":"reclaimable","name":"reclaimable","value":7,"timestamp":1795688386}"#,
            "\n"
        ),
    );
}

#[test]
fn hostile_strings_are_escaped_not_rewritten() {
    let chart = ChartInfo {
        id: "lab.\"quoted\"",
        name: "lab.back\\slash",
        family: "fam\nily",
        context: "ctx\t\r",
        chart_type: "lab",
        units: "\u{1}%",
    };
    let input = Input {
        prefix: "pre fix",
        hostname: "lab host.name",
        ..plain(chart, "id\"},\"x\":{\"", "naïve 😀")
    };
    check(
        &input,
        concat!(
            r#"{"prefix":"pre fix","hostname":"lab host.name","chart_id":"lab.\"quoted\"","#,
            r#""chart_name":"lab.back\\slash","chart_family":"fam\nily","chart_context":"ctx\t\r","#,
            r#""chart_type":"lab","units":"\u0001%","id":"id\"},\"x\":{\"","name":"naïve 😀","#,
            r#""value":7,"timestamp":1795688386}"#,
            "\n"
        ),
    );
    let long = "n".repeat(300);
    check(
        &plain(SLAB, &long, &long),
        &format!(
            concat!(
                r#"{{"prefix":"netdata","hostname":"vm","chart_id":"mem.slab","chart_name":"mem.slab","#,
                r#""chart_family":"slab","chart_context":"mem.slab","chart_type":"mem","units":"MiB","#,
                r#""id":"{long}","name":"{long}","value":7,"timestamp":1795688386}}"#,
                "\n"
            ),
            long = long
        ),
    );
}

#[test]
fn hostile_labels() {
    let input = Input {
        labels: Some((
            &[
                ("Key With Space", "Value;With=Stuff~\"x\"\\"),
                ("   ", "dropped"),
                ("empty", ""),
            ],
            &[("raw\"key", "raw\nvalue\\"), ("", "no key")],
        )),
        ..plain(SLAB, "d", "d")
    };
    check(
        &input,
        concat!(
            r#"{"prefix":"netdata","hostname":"vm","labels":{"key_with_space":"Value:With:Stuff__x_/","#,
            r#""empty":"[none]","raw\"key":"raw\nvalue\\"},"chart_id":"mem.slab","chart_name":"mem.slab","#,
            r#""chart_family":"slab","chart_context":"mem.slab","chart_type":"mem","units":"MiB","#,
            r#""id":"d","name":"d","value":7,"timestamp":1795688386}"#,
            "\n"
        ),
    );
    // label sending on, no label left: an empty object, as netdata
    let input = Input {
        labels: Some((&[], &[])),
        value: MetricValue::Stored(-0.0),
        ..plain(SLAB, "d", "d")
    };
    check(
        &input,
        concat!(
            r#"{"prefix":"netdata","hostname":"vm","labels":{},"chart_id":"mem.slab","chart_name":"mem.slab","#,
            r#""chart_family":"slab","chart_context": "mem.slab","chart_type":"mem","units": "MiB","#,
            r#""id":"d","name":"d","value":0.0000000,"timestamp": 1795688386}"#,
            "\n"
        ),
    );
}
