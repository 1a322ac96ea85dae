//! End-to-end tests against a real Prometheus (Debian's `prometheus`, 2.42):
//!
//! * with its remote-write receiver on: a `prometheus_remote_write`
//!   instance built from exporting.conf text pushes three intervals of a
//!   chart, and the test reads back over `/api/v1/query` (range selectors,
//!   so the samples' own timestamps come back) the exact series: names,
//!   every label, values and timestamps;
//! * scraping the agent (the `backhaul` binary, its web server on a free
//!   port, a test plugin with constant gauges and known rates) with the
//!   scrape configuration netdata's documentation gives
//!   (`metrics_path: /api/v1/allmetrics`, `params: format: [prometheus]`,
//!   `honor_labels: true`): the scraped gauges equal their values and the
//!   rates are within 1 %;
//! * the agent itself (the binary, `/proc` and the test plugin) pushing to
//!   Prometheus' remote-write receiver: the plugin's gauges exact and its
//!   rates within 1 %, and every series of the charts sent (`/proc`'s
//!   `system.cpu` and `system.load`, the plugin's) with the names and labels
//!   the agent's own `/api/v1/allmetrics` shows, at whole seconds, and the
//!   host variables of the `/proc` modules as `allmetrics?variables=yes`
//!   lists them;
//!
//! * InfluxDB 1.6's `/api/v1/prom/write?db=NAME` as a second remote-write
//!   receiver: the same kind of push, read back over `/query` (InfluxDB
//!   keeps a remote-write sample in measurement = metric name, field
//!   `value`, tags = every label, `__name__` included): exact values at exact timestamps,
//!   with every tag.
//!
//! When `prometheus` (or `influxd`) is not installed the test says so on stderr and
//! passes, unless `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (see `real/mod.rs`).

mod real;
#[path = "support/rw_store.rs"]
mod rw_store;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use backhaul::config::{parse_exporting_str, parse_main_str};
use backhaul::exporting::monitoring::IntervalCounters;
use backhaul::exporting::{build_instance, InstanceTotals};
use real::{
    free_ports, http_get_ok, influx_exec, influx_query, local, now_s, require, Influx, Prometheus,
    Server, TempDir, WAIT,
};
use rrd::{ChartDef, Label, LabelSource};
use rw_store::two_dimension_store;

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
    let store = two_dimension_store(
        vec![
            Label::new("env", "lab \"one\"", LabelSource::Configured),
            Label::new("team_name", "rust port:semi_tilde", LabelSource::Configured),
            Label::new("_os_name", "linux", LabelSource::Automatic),
        ],
        ChartDef::new("test", "real")
            .name("Remote Write")
            .units("requests/s")
            .family("fam ily")
            .context("test.rw_ctx"),
        t0,
    );

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

/// The test plugin: two constant gauges (42, and 1234 with divisor 10) and
/// two counters growing 1000 and 7 a second (each round says it is one
/// second after the last, as netdata's plugins do, so a slow shell does not
/// skew the rates).
const TEST_PLUGIN: &str = r#"#!/bin/sh
echo "CHART test.gauges '' 'Constant gauges' 'units' gauges test.gauges line 1000 1"
echo "DIMENSION g1 '' absolute 1 1"
echo "DIMENSION g2 '' absolute 1 10"
echo "CHART test.rates '' 'Known rates' 'events/s' rates test.rates line 1001 1"
echo "DIMENSION r1 '' incremental 1 1"
echo "DIMENSION r2 '' incremental 1 1"
i=0
while true; do
    i=$((i + 1))
    echo "BEGIN test.gauges"
    echo "SET g1 = 42"
    echo "SET g2 = 1234"
    echo "END"
    if [ $i -gt 1 ]; then echo "BEGIN test.rates 1000000"; else echo "BEGIN test.rates"; fi
    echo "SET r1 = $((i * 1000))"
    echo "SET r2 = $((i * 7))"
    echo "END"
    sleep 1
done
"#;

/// The agent binary with `/proc` on, the test plugin and its web server on
/// `web`; `exporting` is its exporting.conf.
fn spawn_agent(dir: &TempDir, hostname: &str, web: u16, proc: bool, exporting: &str) -> Server {
    use std::os::unix::fs::PermissionsExt;
    let plugins = dir.path().join("plugins");
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(&etc).unwrap();
    let plugin = plugins.join("test.plugin");
    std::fs::write(&plugin, TEST_PLUGIN).unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(etc.join("exporting.conf"), exporting).unwrap();
    let netdata_conf = dir.path().join("netdata.conf");
    std::fs::write(
        &netdata_conf,
        format!(
            "[global]\n    hostname = {hostname}\n    update every = 1\n\
             [directories]\n    plugins = {plugins}\n    config = {etc}\n    lib = {lib}\n\
             [plugins]\n    proc = {proc}\n    diskspace = no\n\
             [web]\n    bind to = 127.0.0.1:{web}\n",
            plugins = plugins.display(),
            etc = etc.display(),
            lib = dir.path().join("lib").display(),
            proc = if proc { "yes" } else { "no" },
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_backhaul"));
    cmd.arg("--config").arg(&netdata_conf);
    let mut agent = Server::spawn("backhaul", cmd, dir.path());
    if !agent.wait_listening(local(web)) {
        agent.fail("its web server never listened");
    }
    agent
}

#[test]
fn the_agent_remote_writes_proc_and_plugin_charts_to_prometheus() {
    if !require("prometheus remote-write test", &["prometheus"]) {
        return;
    }
    let mut prometheus = Prometheus::start();
    let dir = TempDir::new("rw-agent");
    let web = free_ports(1)[0];
    let mut agent = spawn_agent(
        &dir,
        "rw-agent",
        web,
        true,
        &format!(
            "[prometheus_remote_write:prom]\n    enabled = yes\n    destination = {}\n\
             \x20   remote write URL path = /api/v1/write\n    update every = 1\n\
             \x20   send charts matching = test.* system.cpu system.load\n",
            prometheus.http
        ),
    );
    let http = prometheus.http;
    let series_of = |got: &Stored, name: &str| -> Vec<BTreeMap<String, String>> {
        got.keys()
            .filter(|labels| labels.get("__name__").is_some_and(|n| n == name))
            .cloned()
            .collect()
    };
    let got = prometheus
        .server
        .wait_for("three samples of every series", || {
            let got = stored(http, now_s())?;
            let ready = [
                "netdata_test_gauges_units_average",
                "netdata_test_rates_events_persec_average",
                "netdata_system_load_load_average",
                "netdata_system_cpu_percentage_average",
            ]
            .iter()
            .all(|name| {
                let series = series_of(&got, name);
                !series.is_empty() && series.iter().all(|l| got[l].len() >= 3)
            });
            if ready {
                Ok(got)
            } else {
                Err(format!("{} series so far", got.len()))
            }
        });

    // The plugin's values: gauges exact, rates within 1 %.
    for (dimension, expected) in [("g1", 42.0), ("g2", 123.4)] {
        let key = labels(&[
            ("__name__", "netdata_test_gauges_units_average"),
            ("chart", "test.gauges"),
            ("dimension", dimension),
            ("family", "gauges"),
            ("instance", "rw-agent"),
        ]);
        let samples = got
            .get(&key)
            .unwrap_or_else(|| panic!("no {key:?} in {got:?}"));
        assert!(
            samples.iter().all(|(_, v)| *v == expected),
            "{dimension}: {samples:?}"
        );
    }
    for (dimension, expected) in [("r1", 1000.0), ("r2", 7.0)] {
        let key = labels(&[
            ("__name__", "netdata_test_rates_events_persec_average"),
            ("chart", "test.rates"),
            ("dimension", dimension),
            ("family", "rates"),
            ("instance", "rw-agent"),
        ]);
        let samples = got
            .get(&key)
            .unwrap_or_else(|| panic!("no {key:?} in {got:?}"));
        // The first interval may hold no rate yet.
        assert!(
            samples
                .iter()
                .skip(1)
                .all(|(_, v)| (v - expected).abs() <= expected * 0.01),
            "{dimension}: {samples:?}"
        );
    }
    // Every sample at a whole second.
    for (labels, samples) in &got {
        assert!(
            samples.iter().all(|(t, _)| t % 1000 == 0),
            "{labels:?}: {samples:?}"
        );
    }

    // The host variables the /proc modules keep (`send variables` is on by
    // default) are pushed with the values `allmetrics?variables=yes` lists.
    let pushed_variables: BTreeMap<String, f64> = got
        .iter()
        .filter(|(l, _)| !l.contains_key("chart"))
        .filter_map(|(l, samples)| {
            let name = l.get("__name__")?;
            (name != "netdata_info")
                .then(|| (name.clone(), samples.last().map_or(f64::NAN, |s| s.1)))
        })
        .collect();
    let text = http_get_ok(
        local(web),
        "/api/v1/allmetrics?format=prometheus&variables=yes",
    )
    .expect("allmetrics with variables");
    let served_variables: BTreeMap<String, f64> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains('{'))
        .filter_map(|l| {
            let mut words = l.split(' ');
            let name = words.next()?;
            let value = words.next()?.parse().ok()?;
            (name != "netdata_info").then(|| (name.to_string(), value))
        })
        .collect();
    assert!(
        pushed_variables.contains_key("netdata_active_processors"),
        "{pushed_variables:?}"
    );
    assert_eq!(
        pushed_variables.keys().collect::<Vec<_>>(),
        served_variables.keys().collect::<Vec<_>>(),
        "remote write and allmetrics name the same variables"
    );
    for (name, value) in &pushed_variables {
        // The limits hold still; a NIC's speed could change meanwhile.
        if !name.ends_with("nic_speed_max") {
            assert_eq!(Some(value), served_variables.get(name), "{name}");
        }
    }

    // The series of /proc's charts and the plugin's, names and every label,
    // are those the agent's own allmetrics shows.
    let mut pushed: Vec<BTreeMap<String, String>> = got
        .keys()
        .filter(|l| l.contains_key("chart"))
        .cloned()
        .collect();
    pushed.sort();
    let charts_of = |series: &[BTreeMap<String, String>]| -> BTreeSet<String> {
        series
            .iter()
            .filter_map(|l| l.get("chart").cloned())
            .collect()
    };
    // A scrape averages over the time since the previous one: a chart with
    // no point in that window (the load average's first seconds) is left
    // out of it, so scrape until every chart pushed is there.
    let served = agent.wait_for("a scrape with every chart pushed", || {
        let text = http_get_ok(local(web), "/api/v1/allmetrics?format=prometheus")?;
        let served = served_series(&text, "rw-agent");
        if charts_of(&served) == charts_of(&pushed) {
            Ok(served)
        } else {
            Err(format!("{:?}", charts_of(&served)))
        }
    });
    assert_eq!(
        pushed, served,
        "remote write and allmetrics name the same series"
    );
    prometheus.server.stop();
    agent.stop();
}

/// The series of the charts the remote-write test sends (`system.cpu`,
/// `system.load`, `test.*`) in an allmetrics text, as Prometheus labels them
/// (`instance` from the push).
fn served_series(text: &str, instance: &str) -> Vec<BTreeMap<String, String>> {
    let mut served: Vec<BTreeMap<String, String>> = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let Some((name, rest)) = line.split_once('{') else {
            continue;
        };
        let Some((pairs, _)) = rest.split_once('}') else {
            continue;
        };
        let mut labels = BTreeMap::new();
        labels.insert("__name__".to_string(), name.to_string());
        for pair in pairs.split("\",") {
            if let Some((k, v)) = pair.split_once("=\"") {
                labels.insert(k.to_string(), v.trim_end_matches('"').to_string());
            }
        }
        labels.insert("instance".to_string(), instance.to_string());
        let chart = labels.get("chart").cloned().unwrap_or_default();
        if chart.starts_with("test.") || chart == "system.cpu" || chart == "system.load" {
            served.push(labels);
        }
    }
    served.sort();
    served
}

/// `dimension → values` of the samples of `metric` in the last minute.
fn scraped(http: std::net::SocketAddr, metric: &str) -> Result<BTreeMap<String, Vec<f64>>, String> {
    let data = real::prometheus_query(http, &format!("{metric}[1m]"), now_s())?;
    let mut out = BTreeMap::new();
    for series in data["result"].as_array().ok_or("no result")? {
        let dimension = series["metric"]["dimension"]
            .as_str()
            .ok_or("no dimension")?
            .to_string();
        let values = series["values"]
            .as_array()
            .ok_or("no values")?
            .iter()
            .filter_map(|pair| pair[1].as_str().and_then(|v| v.parse().ok()))
            .collect();
        out.insert(dimension, values);
    }
    Ok(out)
}

#[test]
fn prometheus_scrapes_allmetrics() {
    if !require("prometheus scrape test", &["prometheus"]) {
        return;
    }
    let dir = TempDir::new("scraped-agent");
    let web = free_ports(1)[0];
    let mut agent = spawn_agent(&dir, "scraped", web, false, "");

    let mut prometheus = Prometheus::start_scraping(&format!(
        "\n  - job_name: backhaul\n    metrics_path: /api/v1/allmetrics\n    params:\n      format: [prometheus]\n    honor_labels: true\n    static_configs:\n      - targets: ['127.0.0.1:{web}']\n"
    ));
    let http = prometheus.http;
    // At least five scrapes of every dimension.
    let enough = |m: &BTreeMap<String, Vec<f64>>, dims: &[&str]| {
        dims.iter()
            .all(|d| m.get(*d).is_some_and(|values| values.len() >= 5))
    };
    let gauges = prometheus
        .server
        .wait_for("five scrapes of the gauges", || {
            let got = scraped(http, "netdata_test_gauges_units_average")?;
            if enough(&got, &["g1", "g2"]) {
                Ok(got)
            } else {
                Err(format!("{got:?}"))
            }
        });
    for (dimension, expected) in [("g1", 42.0), ("g2", 123.4)] {
        assert!(
            gauges[dimension].iter().all(|v| *v == expected),
            "{dimension}: {:?}",
            gauges[dimension]
        );
    }
    let rates = prometheus.server.wait_for("five scrapes of the rates", || {
        let got = scraped(http, "netdata_test_rates_events_persec_average")?;
        if enough(&got, &["r1", "r2"]) {
            Ok(got)
        } else {
            Err(format!("{got:?}"))
        }
    });
    for (dimension, expected) in [("r1", 1000.0), ("r2", 7.0)] {
        assert!(
            rates[dimension]
                .iter()
                .all(|v| (v - expected).abs() <= expected * 0.01),
            "{dimension}: {:?}",
            rates[dimension]
        );
    }
    // netdata_info came along, with the agent's labels.
    let info = real::prometheus_query(http, "netdata_info", now_s()).unwrap();
    assert_eq!(info["result"][0]["metric"]["instance"], "scraped", "{info}");
    assert_eq!(info["result"][0]["metric"]["application"], "backhaul");
    prometheus.server.stop();
    agent.stop();
}

/// `prometheus_remote_write` to InfluxDB 1.6's `/api/v1/prom/write?db=NAME`:
/// every sample comes back from `/query` with its value at its timestamp,
/// in measurement = metric name with every label (`__name__` too) as a tag.
#[test]
fn remote_write_reaches_influxdb_exactly() {
    if !require("influxdb remote-write test", &["influxd"]) {
        return;
    }
    let mut influx = Influx::start();
    let db = "promrw";
    if let Err(e) = influx_exec(influx.http, &format!("CREATE DATABASE \"{db}\"")) {
        influx.server.fail(&e);
    }

    let t0 = now_s() - 20;
    // InfluxDB's CSV answer quotes values with quotes or commas; these need
    // none.
    let store = two_dimension_store(
        vec![
            Label::new("env", "lab one", LabelSource::Configured),
            Label::new("_os_name", "linux", LabelSource::Automatic),
        ],
        ChartDef::new("test", "influx")
            .name("Influx Write")
            .units("requests/s")
            .family("fam ily")
            .context("test.irw_ctx"),
        t0,
    );

    let (main, _) = parse_main_str("[global]\n    hostname = box\n", "netdata.conf").unwrap();
    let conf = format!(
        "[prometheus_remote_write:influx]\n    enabled = yes\n    destination = {}\n    \
         remote write URL path = /api/v1/prom/write?db={db}\n    update every = 1\n    \
         max samples per request = 2\n",
        influx.http
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

    let row = |name: &str, t: i64, tags: &[(&str, &str)], value: &str| {
        let mut r = labels(tags);
        r.insert("name".into(), name.into());
        // InfluxDB 1.6 keeps the metric name as a tag too.
        r.insert("__name__".into(), name.into());
        r.insert("time".into(), (t0 + t).to_string());
        r.insert("value".into(), value.into());
        r
    };
    let metric = "netdata_test_irw_ctx_requests_persec_average";
    let dim = |d: &'static str| {
        [
            ("chart", "test.Influx_Write"),
            ("dimension", d),
            ("family", "fam ily"),
            ("instance", "box"),
        ]
    };
    let info = [
        ("application", "backhaul"),
        ("env", "lab one"),
        ("instance", "box"),
        ("version", VERSION),
    ];
    let mut expected = vec![
        row("netdata_info", 1, &info, "1"),
        row("netdata_info", 2, &info, "1"),
        row("netdata_info", 3, &info, "1"),
    ];
    for (t, a, b) in [(1, "11", "0.25"), (2, "21", "0.5"), (3, "31", "0.75")] {
        expected.push(row(metric, t, &dim("a"), a));
        expected.push(row(metric, t, &dim("B dim"), b));
    }
    expected.sort();
    let http = influx.http;
    let got = influx.server.wait_for("the pushed samples", || {
        let mut got = Vec::new();
        for m in ["netdata_info", metric] {
            for mut r in influx_query(http, db, &format!("SELECT * FROM \"{m}\""))? {
                // The CSV's `tags` column is empty for a plain SELECT.
                r.remove("tags");
                got.push(r);
            }
        }
        got.sort();
        if got == expected {
            Ok(got)
        } else {
            Err(format!("{got:?}"))
        }
    });
    assert_eq!(got, expected);
    influx.server.stop();
}
