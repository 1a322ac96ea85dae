//! End-to-end test against a real Prometheus (Debian's `prometheus`, 2.42)
//! with its remote-write receiver on: a `prometheus_remote_write` instance
//! built from exporting.conf text pushes three intervals of a chart, and
//! the test reads back over `/api/v1/query` (range selectors, so the
//! samples' own timestamps come back) the exact series: names, every
//! label, values and timestamps.
//!
//! When `prometheus` is not installed the test says so on stderr and
//! passes, unless `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (see `real/mod.rs`).

mod real;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use backhaul::config::{parse_exporting_str, parse_main_str};
use backhaul::exporting::monitoring::IntervalCounters;
use backhaul::exporting::{build_instance, InstanceTotals};
use real::{now_s, require, Prometheus, WAIT};
use rrd::{ChartDef, DimensionDef, Host, Label, LabelSource, Store};

const S: u64 = 1_000_000;
const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// `labels → [(timestamp ms, value)]`.
type Stored = BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>>;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every series Prometheus holds whose name starts with `netdata_`.
fn stored(http: std::net::SocketAddr, at: i64) -> Result<Stored, String> {
    let data = real::prometheus_query(http, "{__name__=~\"netdata_.*\"}[10m]", at)?;
    let mut out = Stored::new();
    for series in data["result"].as_array().ok_or("no result")? {
        let metric = series["metric"].as_object().ok_or("no metric")?;
        let labels = metric
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let mut samples = Vec::new();
        for pair in series["values"].as_array().ok_or("no values")? {
            let t = pair[0].as_f64().ok_or("no time")?;
            let v: f64 = pair[1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .ok_or("no value")?;
            samples.push(((t * 1000.0).round() as i64, v));
        }
        out.insert(labels, samples);
    }
    Ok(out)
}

#[test]
fn remote_write_reaches_prometheus_exactly() {
    if !require("prometheus remote-write test", &["prometheus"]) {
        return;
    }
    let mut prometheus = Prometheus::start();

    // Points a few seconds old: well inside what a fresh TSDB accepts.
    let t0 = now_s() - 20;
    let store = Store::new(Host::new("box", 100));
    store.localhost().set_labels(vec![
        Label::new("env", "lab \"one\"", LabelSource::Configured),
        Label::new("team_name", "rust port:semi_tilde", LabelSource::Configured),
        Label::new("_os_name", "linux", LabelSource::Automatic),
    ]);
    let chart = store.localhost().create_chart(
        ChartDef::new("test", "real")
            .name("Remote Write")
            .units("requests/s")
            .family("fam ily")
            .context("test.rw_ctx"),
    );
    {
        let mut w = chart.write();
        let a = w.add_dimension(DimensionDef::new("a"));
        let b = w.add_dimension(DimensionDef::new("b").name("B dim").divisor(4));
        for t in 0..=3 {
            w.set(a, 10 * t + 1);
            w.set(b, t);
            w.done((t0 + t) as u64 * S).unwrap();
        }
    }

    let (main, _) = parse_main_str("[global]\n    hostname = box\n", "netdata.conf").unwrap();
    let conf = format!(
        "[prometheus_remote_write:prom]\n    enabled = yes\n    destination = {}\n    \
         remote write URL path = /api/v1/write\n    update every = 1\n    max samples per request = 2\n",
        prometheus.http
    );
    let (exporting, _) = parse_exporting_str(&conf, "exporting.conf", &main).unwrap();
    let mut inst = build_instance(&exporting.instances[0], &store, false).expect("build");
    for t in 1..=3 {
        inst.tick(&store, t0 + t, IntervalCounters::default());
    }
    let deadline = Instant::now() + WAIT;
    while InstanceTotals::get(&inst.totals.sent_metrics) < 9 {
        assert!(
            Instant::now() < deadline,
            "not delivered: {:?} rejected, {:?} failures",
            InstanceTotals::get(&inst.totals.rejected_metrics),
            InstanceTotals::get(&inst.totals.failures)
        );
        inst.deliver(&mut IntervalCounters::default());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(InstanceTotals::get(&inst.totals.rejected_metrics), 0);

    let ms = |t: i64| (t0 + t) * 1000;
    let series = |dimension: &str| {
        labels(&[
            ("__name__", "netdata_test_rw_ctx_requests_persec_average"),
            ("chart", "test.Remote_Write"),
            ("dimension", dimension),
            ("family", "fam ily"),
            ("instance", "box"),
        ])
    };
    let expected: Stored = [
        (
            labels(&[
                ("__name__", "netdata_info"),
                ("application", "backhaul"),
                ("env", "lab \"one\""),
                ("instance", "box"),
                ("team_name", "rust port:semi_tilde"),
                ("version", VERSION),
            ]),
            vec![(ms(1), 1.0), (ms(2), 1.0), (ms(3), 1.0)],
        ),
        (
            series("a"),
            vec![(ms(1), 11.0), (ms(2), 21.0), (ms(3), 31.0)],
        ),
        (
            series("B dim"),
            vec![(ms(1), 0.25), (ms(2), 0.5), (ms(3), 0.75)],
        ),
    ]
    .into_iter()
    .collect();
    let http = prometheus.http;
    let got = prometheus.server.wait_for("the pushed series", || {
        let got = stored(http, now_s())?;
        if got == expected {
            Ok(got)
        } else {
            Err(format!("{got:?}"))
        }
    });
    assert_eq!(got, expected);
    prometheus.server.stop();
}
