//! Golden tests of `/api/v1/allmetrics`: what netdata 1.37.1 served for
//! `lab.plugin`'s charts (`tests/fixtures/allmetrics/`, see its README),
//! served again by `web::allmetrics::serve` from a store holding the same
//! points, byte for byte after the documented corrections
//! (`docs/compatibility.md`):
//!
//! * `netdata_info` is stamped with the request's second (`serve` is given
//!   whole seconds; netdata read its clock in milliseconds);
//! * with `types=yes` each metric family has one `# TYPE` line, and a
//!   counter's TYPE line names its `_total` samples;
//! * `data=sum` serves sums (netdata served the average under `_sum` names).
//!
//! And `promtool check metrics` (Debian's `prometheus` package) on every
//! variant: no parsing error (exit 0, or 3 for lint remarks only).

mod real;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::Duration;

use backhaul::config::PrometheusExporterConfig;
use backhaul::web::allmetrics::{
    serve, AllmetricsResponse, AllmetricsState, CONTENT_TYPE_JSON, CONTENT_TYPE_PROMETHEUS,
    CONTENT_TYPE_TEXT,
};
use rrd::{Algorithm, ChartDef, DimensionDef, Host, Label, LabelSource, Store};

const S: u64 = 1_000_000;
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// When the `samples/allmetrics/` requests were made.
const NOW_A: i64 = 1796016190;
/// When `samples/allmetrics_{prometheus,shell,json}.txt` were made.
const NOW_B: i64 = 1795688429;
/// The lab counter's divisor here (lab.plugin's is 1): lets a whole-number
/// delta over exactly 5 s give the rates netdata stored.
const COUNTER_DIVISOR: i64 = 10_000_000;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/allmetrics/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One host's `lab.plugin` run: its counter `i` is `T - offset` at grid
/// time `T`.
struct Lab {
    offset: i64,
    /// 1-second charts: collected exactly at every second of `from..=to`.
    from: i64,
    to: i64,
    /// Then once more at this time (µs), with `i` of `to + 1`.
    last_collection_ut: Option<u64>,
    /// `lab.slow`: `(grid time, gauge, rate)` of its stored points, each
    /// collected exactly at its grid time, 5 s after the one before.
    slow: &'static [(i64, i64, f64)],
    /// Then a last collection `(µs, gauge, raw counter)`.
    slow_last: Option<(u64, i64, i64)>,
}

fn add_lab(host: &Host, lab: &Lab) {
    let weird = host.create_chart(
        ChartDef::new("lab", "weird_chart")
            .name("Weird Name/with space")
            .title("Lab sanitization test")
            .units("units")
            .family("fam")
            .context("lab.ctx")
            .priority(90000)
            .update_every(1),
    );
    let spaces = host.create_chart(
        ChartDef::new("lab", "id with spaces/and:colon")
            .title("Second chart")
            .units("u")
            .family("lab")
            .context("lab.id with spaces/and:colon")
            .priority(90001)
            .update_every(1),
    );
    let slow = host.create_chart(
        ChartDef::new("lab", "slow")
            .title("Slow chart ue5")
            .units("u")
            .family("lab")
            .context("lab.slow")
            .priority(90002)
            .update_every(5),
    );
    let mut w = weird.write();
    let dims = [
        w.add_dimension(DimensionDef::new("dim.with.dots").name("dim name/with slash")),
        w.add_dimension(
            DimensionDef::new("UPPER-case")
                .name("Dim-Upper;semi~tilde")
                .divisor(3),
        ),
        w.add_dimension(DimensionDef::new("negative").multiplier(-1)),
        w.add_dimension(DimensionDef::new("big")),
        w.add_dimension(DimensionDef::new("frac").divisor(1000)),
        w.add_dimension(DimensionDef::new("température").name("naïve name")),
    ];
    drop(w);
    let ab = spaces.write().add_dimension(DimensionDef::new("a b"));
    let collect = |t_ut: u64, i: i64| {
        let mut w = weird.write();
        for (dim, raw) in dims
            .iter()
            .zip([i, i * 7 + 1, i, 123456789012345, 1234567, 42])
        {
            w.set(*dim, raw);
        }
        w.done(t_ut).unwrap();
        let mut w = spaces.write();
        w.set(ab, i % 3);
        w.done(t_ut).unwrap();
    };
    for t in lab.from..=lab.to {
        collect(t as u64 * S, t - lab.offset);
    }
    if let Some(t_ut) = lab.last_collection_ut {
        collect(t_ut, lab.to + 1 - lab.offset);
    }

    let mut w = slow.write();
    let counter = w.add_dimension(
        DimensionDef::new("counter")
            .algorithm(Algorithm::Incremental)
            .divisor(COUNTER_DIVISOR),
    );
    let gauge = w.add_dimension(DimensionDef::new("gauge"));
    let mut raw = 0;
    let round = |w: &mut rrd::ChartWriter<'_>, t_ut: u64, g: i64, c: i64| {
        w.set(counter, c);
        w.set(gauge, g);
        w.done(t_ut).unwrap();
    };
    if let Some(&(t, g, _)) = lab.slow.first() {
        round(&mut w, (t - 5) as u64 * S, g - 5, raw);
    }
    for &(t, g, rate) in lab.slow {
        raw += (rate * 5.0 * COUNTER_DIVISOR as f64).round() as i64;
        round(&mut w, t as u64 * S, g, raw);
    }
    if let Some((t_ut, g, c)) = lab.slow_last {
        round(&mut w, t_ut, g, c);
    }
}

fn lab_labels(extra: &[(&str, &str)]) -> Vec<Label> {
    let mut labels = vec![Label::new("env", "lab", LabelSource::Configured)];
    labels.extend(
        extra
            .iter()
            .map(|(k, v)| Label::new(*k, *v, LabelSource::Configured)),
    );
    labels.push(Label::new(
        "_is_ephemeral",
        "false",
        LabelSource::Configured,
    ));
    labels.push(Label::new(
        "_has_unstable_connection",
        "false",
        LabelSource::Configured,
    ));
    labels
}

/// The store behind `samples/allmetrics/`: `vm` and its child `child-vm`.
fn store_a() -> Store {
    let store = Store::new(Host::new("vm", 3600));
    store.localhost().set_labels(lab_labels(&[]));
    add_lab(
        store.localhost(),
        &Lab {
            offset: NOW_A - 35,
            from: NOW_A - 20,
            to: NOW_A - 1,
            // The as-collected sample's collection time: .009 s past.
            last_collection_ut: Some(NOW_A as u64 * S + 9_000),
            slow: &[(NOW_A - 15, 25, 49.92589)],
            slow_last: Some((NOW_A as u64 * S + 9_000, 35, 1750)),
        },
    );
    let child = store.add_host(Host::new("child-vm", 3600));
    child.set_labels(lab_labels(&[]));
    add_lab(
        &child,
        &Lab {
            offset: NOW_A - 31,
            from: NOW_A - 20,
            to: NOW_A - 1,
            last_collection_ut: None,
            slow: &[(NOW_A - 15, 20, 49.91857)],
            slow_last: None,
        },
    );
    store
}

/// The store behind `samples/allmetrics_{prometheus,shell,json}.txt`.
fn store_b() -> Store {
    let store = Store::new(Host::new("vm", 3600));
    store
        .localhost()
        .set_labels(lab_labels(&[("team_name", "rust port:semi_tilde")]));
    add_lab(
        store.localhost(),
        &Lab {
            offset: NOW_B - 46,
            from: NOW_B - 30,
            to: NOW_B,
            last_collection_ut: None,
            slow: &[
                (NOW_B - 24, 25, 49.92853),
                (NOW_B - 19, 30, 49.92854),
                (NOW_B - 14, 35, 50.0),
                (NOW_B - 9, 40, 50.0),
                (NOW_B - 4, 45, 49.9230994),
            ],
            slow_last: None,
        },
    );
    store
}

fn cfg_a() -> PrometheusExporterConfig {
    PrometheusExporterConfig {
        update_every: 2,
        ..PrometheusExporterConfig::default()
    }
}

/// Serves `query` as a scraper seen for the first time.
fn get(
    store: &Store,
    cfg: &PrometheusExporterConfig,
    query: &str,
    host: Option<&str>,
    now: i64,
) -> AllmetricsResponse {
    let state = AllmetricsState::with_identity("netdata", "v1.37.1");
    serve(query, CLIENT, host, store, cfg, &state, now)
}

/// Compares line by line, so a failure names the first differing line.
fn assert_same(got: &[u8], expected: &str, what: &str) {
    let got = String::from_utf8_lossy(got);
    for (n, (g, e)) in got.split('\n').zip(expected.split('\n')).enumerate() {
        assert_eq!(g, e, "{what}: line {} differs\n--- got:\n{got}", n + 1);
    }
    assert_eq!(got, expected, "{what}: lengths differ");
}

/// The one check every Prometheus sample goes through: `query` (on
/// `host`) served from `store` equals netdata's `sample` after the
/// corrections `correct` applies.
fn check(
    store: &Store,
    cfg: &PrometheusExporterConfig,
    query: &str,
    host: Option<&str>,
    now: i64,
    sample: &str,
    correct: impl Fn(&str) -> String,
) {
    let r = get(store, cfg, query, host, now);
    assert_eq!(r.status, 200, "{query}");
    assert_eq!(r.content_type, CONTENT_TYPE_PROMETHEUS, "{query}");
    assert_same(&r.body, &correct(&info_at_whole_second(sample, now)), query);
    promtool_check(&r.body, query);
}

/// netdata stamped `netdata_info` with its clock's milliseconds; `serve`
/// gets the request's second.
fn info_at_whole_second(text: &str, now: i64) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            if line.starts_with("netdata_info{") {
                if let Some((head, ts)) = line.trim_end().rsplit_once(' ') {
                    if ts.len() == 13 && !head.ends_with('}') {
                        return format!("{head} {}\n", now * 1000);
                    }
                }
            }
            line.to_owned()
        })
        .collect()
}

/// One `# TYPE` line per metric family, naming the samples it types (a
/// counter's `_total` samples).
fn types_once(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut typed = HashSet::new();
    let mut out = String::new();
    for (k, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            out.push_str(line);
            continue;
        };
        let (name, metric_type) = rest.trim_end().split_once(' ').expect("# TYPE name type");
        let sample = lines[k + 1..]
            .iter()
            .find(|l| !l.starts_with('#'))
            .and_then(|l| l.split(['{', ' ']).next())
            .unwrap_or("");
        let name = if metric_type == "counter" && sample == format!("{name}_total") {
            sample.to_owned()
        } else {
            name.to_owned()
        };
        if typed.insert(name.clone()) {
            out.push_str(&format!("# TYPE {name} {metric_type}\n"));
        }
    }
    out
}

fn unchanged(text: &str) -> String {
    text.to_owned()
}

#[test]
fn prometheus_average() {
    let store = store_a();
    // The default format of the scrape config netdata documents; oldunits
    // changes nothing for these units.
    for query in [
        "format=prometheus&oldunits=yes",
        "format=prometheus&server=x&oldunits=1",
    ] {
        check(
            &store,
            &cfg_a(),
            query,
            None,
            NOW_A,
            &fixture("allmetrics_prometheus_oldunits.txt"),
            unchanged,
        );
    }
}

#[test]
fn prometheus_help_and_types() {
    check(
        &store_a(),
        &cfg_a(),
        "format=prometheus&help=yes&types=yes&server=a1",
        None,
        NOW_A,
        &fixture("allmetrics_prometheus_help_types.txt"),
        types_once,
    );
}

#[test]
fn prometheus_as_collected() {
    check(
        &store_a(),
        &cfg_a(),
        "format=prometheus&data=as-collected&types=yes",
        None,
        NOW_A,
        &fixture("allmetrics_prometheus_as_collected.txt"),
        types_once,
    );
}

#[test]
fn prometheus_ids_without_timestamps() {
    check(
        &store_a(),
        &cfg_a(),
        "format=prometheus&names=no&timestamps=no",
        None,
        NOW_A,
        &fixture("allmetrics_prometheus_ids_no_timestamps.txt"),
        unchanged,
    );
}

#[test]
fn prometheus_prefix_and_hidden_units() {
    check(
        &store_a(),
        &cfg_a(),
        "format=prometheus&prefix=pfx&hideunits=yes",
        None,
        NOW_A,
        &fixture("allmetrics_prometheus_prefix_hideunits.txt"),
        unchanged,
    );
}

/// netdata's `_sum` lines held the average; the sum of the 1-second
/// charts' two points is twice that (the slow chart's window has one).
fn sum_of_two_points(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let fields: Vec<&str> = line.trim_end().rsplitn(3, ' ').collect();
            match fields.as_slice() {
                [ts, value, head] if *ts == "1796016187000" => {
                    let value: f64 = value.parse().expect("value");
                    format!("{head} {:.7} {ts}\n", value * 2.0)
                }
                _ => line.to_owned(),
            }
        })
        .collect()
}

#[test]
fn prometheus_sum() {
    check(
        &store_a(),
        &cfg_a(),
        "format=prometheus&data=sum",
        None,
        NOW_A,
        &fixture("allmetrics_prometheus_sum.txt"),
        sum_of_two_points,
    );
}

#[test]
fn prometheus_all_hosts_and_a_child() {
    let store = store_a();
    check(
        &store,
        &cfg_a(),
        "format=prometheus_all_hosts",
        None,
        NOW_A,
        &fixture("allmetrics_prometheus_all_hosts.txt"),
        unchanged,
    );
    check(
        &store,
        &cfg_a(),
        "format=prometheus",
        Some("child-vm"),
        NOW_A,
        &fixture("child_host_allmetrics_prometheus.txt"),
        unchanged,
    );
}

#[test]
fn prometheus_earlier_run() {
    // update every 10: ten points of the 1-second charts, two of lab.slow.
    check(
        &store_b(),
        &PrometheusExporterConfig::default(),
        "format=prometheus",
        None,
        NOW_B,
        &fixture("lab_prometheus.txt"),
        unchanged,
    );
}

#[test]
fn shell() {
    let r = get(
        &store_b(),
        &PrometheusExporterConfig::default(),
        "",
        None,
        NOW_B,
    );
    assert_eq!((r.status, r.content_type), (200, CONTENT_TYPE_TEXT));
    let expected = format!("\n{}\n# NETDATA ALARMS RUNNING\n", fixture("lab_shell.txt"));
    assert_same(&r.body, &expected, "shell");
}

#[test]
fn json() {
    let r = get(
        &store_b(),
        &PrometheusExporterConfig::default(),
        "format=json",
        None,
        NOW_B,
    );
    assert_eq!((r.status, r.content_type), (200, CONTENT_TYPE_JSON));
    let charts = fixture("lab_json.txt");
    let charts = charts.trim_end().trim_end_matches(',');
    let expected = format!("{{\n{charts}\n}}");
    assert_same(&r.body, &expected, "json");
}

#[test]
fn filters() {
    let store = store_b();
    let cfg = PrometheusExporterConfig::default();
    let body = |query: &str| String::from_utf8(get(&store, &cfg, query, None, NOW_B).body).unwrap();
    // The shell format matches names only, json ids or names.
    assert!(!body("filter=lab.weird_chart").contains("# chart: lab.weird_chart"));
    assert!(body("filter=lab.Weird*").contains("# chart: lab.weird_chart"));
    let json = body("format=json&filter=lab.weird_chart%20lab.slow");
    assert!(json.contains("\"lab.weird_chart\"") && json.contains("\"lab.slow\""));
    assert!(!json.contains("\"lab.id with spaces/and:colon\""));
    // The Prometheus formats: id or name; a filter replaces `send charts
    // matching`.
    let cfg = PrometheusExporterConfig {
        send_charts_matching: "!lab.slow *".to_owned(),
        ..PrometheusExporterConfig::default()
    };
    let prom = |query: &str| String::from_utf8(get(&store, &cfg, query, None, NOW_B).body).unwrap();
    assert!(!prom("format=prometheus").contains("lab_slow"));
    let only_slow = prom("format=prometheus&filter=lab.slow");
    assert!(only_slow.contains("lab_slow") && !only_slow.contains("lab_ctx"));
    assert!(only_slow.starts_with("netdata_info{"));
}

/// The response heads netdata sent: status and `Content-Type`.
#[test]
fn heads_match_the_captures() {
    let store = store_a();
    for (query, headers, body) in [
        (
            "format=prometheus&oldunits=yes",
            "allmetrics_prometheus.headers",
            None,
        ),
        (
            "format=yaml",
            "allmetrics_bad_format.headers",
            Some("allmetrics_bad_format.txt"),
        ),
    ] {
        let r = get(&store, &cfg_a(), query, None, NOW_A);
        let head = fixture(headers);
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("status line");
        let content_type = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .expect("Content-Type");
        assert_eq!(
            (r.status, r.content_type),
            (status, content_type),
            "{query}"
        );
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|l| l.trim().parse().ok())
            .expect("Content-Length");
        assert_eq!(r.body.len(), length, "{query}");
        if let Some(body) = body {
            assert_eq!(r.body, fixture(body).as_bytes());
        }
    }
}

/// Every fixture excerpt is verbatim in the reference samples, when they
/// are beside the repository.
#[test]
fn excerpts_come_from_the_samples() {
    let dir = format!(
        "{}/../../../shared/reference/netdata-1.37/samples",
        env!("CARGO_MANIFEST_DIR")
    );
    for (excerpt, sample) in [
        ("lab_shell.txt", "allmetrics_shell.txt"),
        ("lab_json.txt", "allmetrics_json.txt"),
    ] {
        let Ok(text) = std::fs::read_to_string(format!("{dir}/{sample}")) else {
            eprintln!("{dir} not found: excerpts not cross-checked");
            return;
        };
        assert!(
            text.contains(&fixture(excerpt)),
            "{excerpt} not in {sample}"
        );
    }
    if let Ok(text) = std::fs::read_to_string(format!("{dir}/allmetrics_prometheus.txt")) {
        let lines: HashSet<&str> = text.lines().collect();
        for line in fixture("lab_prometheus.txt").lines() {
            assert!(
                lines.contains(line),
                "not in allmetrics_prometheus.txt: {line}"
            );
        }
    }
}

/// Runs `promtool check metrics` on `body` when promtool is installed:
/// exit 0 (clean) or 3 (lint remarks only) pass, anything else fails.
/// The lines between a host's `netdata_info` line and its first chart.
fn variables_block(body: &str) -> String {
    let lines: Vec<&str> = body.split('\n').collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("netdata_info"))
        .expect("a netdata_info line")
        + 1;
    let end = (start..lines.len())
        .find(|&n| {
            lines[n].starts_with("# COMMENT homogeneous") || lines[n].starts_with("netdata_ctx")
        })
        .expect("a chart after the variables");
    let mut block = lines[start..end].join("\n");
    block.push('\n');
    block
}

/// `variables=yes`: the plugin's output netdata 1.37.1 was given, through
/// the plugins.d ingest into the store, served as netdata served it, but
/// for values that are not numbers: backhaul refuses those lines (netdata
/// set the variable to 0 or to the number the text starts with), and
/// reads `-inf` as minus infinity (netdata: -0), which is skipped.
#[test]
fn custom_variables_as_netdata_serves_them() {
    use backhaul::collectors::pluginsd::{Ingest, IngestLimits, IngestSettings};
    const NOW: i64 = 1796069688;
    let store = Store::new(Host::new("vartesthost", 600));
    let mut ingest = Ingest::new(
        IngestSettings {
            plugin: "vartest".into(),
            plugin_file: "vartest.plugin".into(),
            update_every: 1,
            limits: IngestLimits::default(),
        },
        store.localhost().clone(),
    );
    let mut now = (NOW as u64 - 16) * S;
    for line in fixture("variables/vartest_plugin_output.txt").lines() {
        if line == "BEGIN vartest.one" {
            now += S;
        }
        let mut clock = || now;
        ingest.apply_line(line.as_bytes(), &mut clock);
    }
    let refused = ["host_hex", "host_leftover", "host_text"];
    // Skipped variables get a comment with `help=yes` only.
    let corrected = |text: &str, help: bool| -> String {
        text.split('\n')
            .filter(|l| {
                !refused
                    .iter()
                    .any(|r| l.starts_with(&format!("netdata_{r} ")))
            })
            .filter(|l| help || !l.starts_with("netdata_host_neginf "))
            .map(|l| {
                if l.starts_with("netdata_host_neginf ") {
                    "# COMMENT variable \"host_neginf\" is INF. Skipped.".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let cfg = PrometheusExporterConfig::default();
    for (query, sample) in [
        (
            "format=prometheus&variables=yes",
            "variables/netdata_variables.txt",
        ),
        (
            "format=prometheus&variables=yes&help=yes&types=yes",
            "variables/netdata_variables_help_types.txt",
        ),
    ] {
        let response = get(&store, &cfg, query, None, NOW);
        let body = String::from_utf8_lossy(response.content()).into_owned();
        let expected = corrected(&fixture(sample), sample.contains("help"));
        assert_same(variables_block(&body).as_bytes(), &expected, query);
        promtool_check(response.content(), query);
    }
    // Without `variables=yes`, none.
    let response = get(&store, &cfg, "format=prometheus", None, NOW);
    assert!(!String::from_utf8_lossy(response.content()).contains("host_counter"));
}

fn promtool_check(body: &[u8], what: &str) {
    if !real::require("promtool check of /api/v1/allmetrics", &["promtool"]) {
        return;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = body.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let status = real::poll(real::WAIT, Duration::from_millis(10), || {
        child.try_wait().ok().flatten()
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("promtool did not finish in {:?}", real::WAIT);
    };
    let _ = writer.join();
    let mut report = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut report);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut report);
    }
    assert!(
        matches!(status.code(), Some(0 | 3)),
        "promtool check metrics on {what}: {status}\n{report}\n--- input:\n{}",
        String::from_utf8_lossy(body)
    );
}

#[test]
fn promtool_accepts_every_variant() {
    let store = store_a();
    for query in [
        "format=prometheus&help=yes&types=yes",
        "format=prometheus&types=yes&data=as-collected&help=yes",
        "format=prometheus_all_hosts&types=yes&help=yes",
        "format=prometheus_all_hosts&types=yes&data=sum&names=no&timestamps=no",
        "format=prometheus&prefix=9%20bad%7Bprefix&hideunits=yes&types=yes",
    ] {
        let r = get(&store, &cfg_a(), query, None, NOW_A);
        promtool_check(&r.body, query);
    }
}
