//! `prometheus_remote_write` against the scripted receiver of
//! `support/http_receiver.rs` on 127.0.0.1: the request heads, the exact
//! series in the snappy-compressed protobuf bodies (decoded with prost),
//! requests cut at `max samples per request`, the delivery layer's
//! answers to 400, 429, 500 and 503, and a spool of the first record
//! format (records without their series key) sent after an upgrade.
//!
//! Each instance is built from exporting.conf text and driven by hand
//! (`tick`, then `deliver` until the receiver saw what it waits for, with a
//! deadline), so every batch holds known points.

#[path = "support/rw_store.rs"]
mod rw_store;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backhaul::config::{parse_exporting_str, parse_main_str};
use backhaul::exporting::monitoring::IntervalCounters;
use backhaul::exporting::{build_instance, Instance, InstanceTotals};
use prost::Message as _;
use rrd::{ChartDef, Label, LabelSource, Store};
use rw_store::two_dimension_store;
use support::http_receiver::{in_order, Action, HttpReceiver, Request};
use wire::format::remote_write::WriteRequest;

const T0: i64 = 1_700_000_000;
/// Bound on every wait.
const WAIT: Duration = Duration::from_secs(30);
const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// A host `box` (labels: one configured, one automatic) with a chart of
/// two dimensions, points at `T0 ..= T0 + 3` (see `two_dimension_store`).
fn store() -> Arc<Store> {
    Arc::new(two_dimension_store(
        vec![
            Label::new("env", "lab \"one\"", LabelSource::Configured),
            Label::new("_os_name", "linux", LabelSource::Automatic),
        ],
        ChartDef::new("test", "rw")
            .name("Remote Write")
            .units("requests/s")
            .family("fam")
            .context("test.rw_ctx"),
        T0,
    ))
}

fn instance(store: &Store, port: u16, extra: &str) -> Instance {
    let (main, _) = parse_main_str("[global]\n    hostname = box\n", "netdata.conf").unwrap();
    let conf = format!(
        "[prometheus_remote_write:prw]\n    enabled = yes\n    destination = 127.0.0.1:{port}\n    \
         remote write URL path = /api/v1/write\n    update every = 1\n    timeout ms = 5000\n{extra}"
    );
    let (exporting, warnings) = parse_exporting_str(&conf, "exporting.conf", &main)
        .unwrap_or_else(|e| panic!("{e}\n{conf}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    build_instance(&exporting.instances[0], store, false).expect("build")
}

/// One sample as the receiver got it: labels, value, timestamp.
type Series = (BTreeMap<String, String>, f64, i64);

fn decode(request: &Request) -> Vec<Series> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&request.body)
        .expect("snappy block");
    let write = WriteRequest::decode(raw.as_slice()).expect("WriteRequest");
    write
        .timeseries
        .into_iter()
        .map(|ts| {
            let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted, "labels sorted by name, each once");
            assert_eq!(ts.samples.len(), 1);
            let labels = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
            (labels, ts.samples[0].value, ts.samples[0].timestamp)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn info(t: i64) -> Series {
    (
        labels(&[
            ("__name__", "netdata_info"),
            ("application", "backhaul"),
            ("env", "lab \"one\""),
            ("instance", "box"),
            ("version", VERSION),
        ]),
        1.0,
        t * 1000,
    )
}

fn sample(dimension: &str, value: f64, t: i64) -> Series {
    (
        labels(&[
            ("__name__", "netdata_test_rw_ctx_requests_persec_average"),
            ("chart", "test.Remote_Write"),
            ("dimension", dimension),
            ("family", "fam"),
            ("instance", "box"),
        ]),
        value,
        t * 1000,
    )
}

/// Calls `deliver` until `done`, within [`WAIT`].
fn deliver_until(inst: &mut Instance, receiver: &HttpReceiver, done: impl Fn(&[Request]) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        if done(&receiver.requests()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; receiver: {}",
            receiver.summary()
        );
        inst.deliver(&mut IntervalCounters::default());
        // Retries wait for their backoff: look again soon.
        receiver.wait(Duration::from_millis(50), |_| false);
    }
}

#[test]
fn requests_carry_the_exact_series_in_sorted_labels() {
    let store = store();
    let receiver = HttpReceiver::start(support::http_receiver::always(Action::status(204)));
    let mut inst = instance(
        &store,
        receiver.addr.port(),
        "    max samples per request = 2\n",
    );
    inst.tick(&store, T0 + 2, IntervalCounters::default());
    // The first batch covers (T0 + 1, T0 + 2] (update every 1): T0 + 2.
    deliver_until(&mut inst, &receiver, |r| r.len() >= 2);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "{}", receiver.summary());
    let mut got = Vec::new();
    for r in &requests {
        assert_eq!(
            (r.method.as_str(), r.target.as_str()),
            ("POST", "/api/v1/write")
        );
        assert_eq!(r.header("Content-Type"), Some("application/x-protobuf"));
        assert_eq!(r.header("Content-Encoding"), Some("snappy"));
        assert_eq!(r.header("X-Prometheus-Remote-Write-Version"), Some("0.1.0"));
        assert_eq!(
            r.header("Content-Length"),
            Some(r.body.len().to_string().as_str())
        );
        assert_eq!(
            r.header("Host"),
            Some(format!("127.0.0.1:{}", receiver.addr.port()).as_str())
        );
        let series = decode(r);
        assert!(series.len() <= 2, "max samples per request");
        got.extend(series);
    }
    assert_eq!(
        got,
        vec![
            info(T0 + 2),
            sample("a", 21.0, T0 + 2),
            sample("B dim", 0.5, T0 + 2)
        ]
    );
    let totals = &inst.totals;
    assert_eq!(InstanceTotals::get(&totals.sent_metrics), 3);
    assert_eq!(
        InstanceTotals::get(&totals.sent_bytes),
        requests.iter().map(|r| r.body.len() as u64).sum::<u64>()
    );
}

#[test]
fn rejected_requests_are_dropped_and_refused_ones_retried() {
    let store = store();
    // One sample a request: the first is refused for good, the second
    // waits through 429, 500 and 503, the third goes at once.
    let receiver = HttpReceiver::start(in_order(
        vec![
            Action::status(400),
            Action::retry_after(429, 1),
            Action::status(500),
            Action::status(503),
        ],
        Action::status(200),
    ));
    let mut inst = instance(
        &store,
        receiver.addr.port(),
        "    max samples per request = 1\n    send configured labels = no\n",
    );
    inst.tick(&store, T0 + 3, IntervalCounters::default());
    deliver_until(&mut inst, &receiver, |r| {
        r.iter().filter(|r| r.status() == Some(200)).count() >= 2
    });
    let requests = receiver.requests();
    let statuses: Vec<Option<u16>> = requests.iter().map(Request::status).collect();
    assert_eq!(
        statuses,
        [
            Some(400),
            Some(429),
            Some(500),
            Some(503),
            Some(200),
            Some(200)
        ]
    );
    // The refused request was the netdata_info; the retried one the same
    // sample each time.
    assert_eq!(decode(&requests[0])[0].0["__name__"], "netdata_info");
    for r in &requests[2..5] {
        assert_eq!(r.body, requests[1].body, "a retry sends the same request");
    }
    let delivered: Vec<Series> = requests[4..].iter().flat_map(decode).collect();
    assert_eq!(
        delivered,
        vec![sample("a", 31.0, T0 + 3), sample("B dim", 0.75, T0 + 3)]
    );
    let get = |v| InstanceTotals::get(v);
    let t = &inst.totals;
    assert_eq!(
        (
            get(&t.rejects),
            get(&t.rejected_metrics),
            get(&t.retries),
            get(&t.sent_metrics)
        ),
        (1, 1, 3, 2)
    );
}

#[test]
fn a_body_over_the_limit_is_split_before_it_is_sent() {
    let store = store();
    let receiver = HttpReceiver::start(support::http_receiver::always(Action::status(200)));
    // A host label of 2000 letters that do not compress: netdata_info alone
    // is over the smallest limit (1024 bytes), the two samples are not.
    let mut x: u32 = 1;
    let noise: String = (0..2000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b'a' + (x >> 16) as u8 % 26)
        })
        .collect();
    store
        .localhost()
        .set_labels(vec![Label::new("noise", noise, LabelSource::Configured)]);
    let mut inst = instance(
        &store,
        receiver.addr.port(),
        "    max request body bytes = 1024\n",
    );
    inst.tick(&store, T0 + 1, IntervalCounters::default());
    deliver_until(&mut inst, &receiver, |r| !r.is_empty());
    inst.deliver(&mut IntervalCounters::default());
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "{}", receiver.summary());
    assert!(requests[0].body.len() <= 1024);
    assert_eq!(
        decode(&requests[0]),
        vec![sample("a", 11.0, T0 + 1), sample("B dim", 0.25, T0 + 1)]
    );
    let t = &inst.totals;
    assert_eq!(InstanceTotals::get(&t.rejected_metrics), 1);
    assert_eq!(InstanceTotals::get(&t.sent_metrics), 2);
    assert!(InstanceTotals::get(&t.splits) >= 1);
}

/// A spool holding records of the first format (no series key in front:
/// what an earlier version wrote before an upgrade) is read back and sent
/// with the same series, before the instance's own batches.
#[test]
fn a_spool_of_records_without_keys_is_sent_after_an_upgrade() {
    use backhaul::exporting::batch::Batch;
    use backhaul::exporting::spool::{Spool, SpoolSettings};
    use wire::format::remote_write::SeriesName;
    use wire::format::MetricValue;

    let dir = std::env::temp_dir().join(format!("backhaul-rw-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("spool dir");
    let (name_labels, value, t) = sample("old", 7.5, T0 + 1);
    let series = SeriesName::new(
        name_labels["__name__"].as_bytes(),
        name_labels
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let mut keyed = Vec::new();
    assert!(series.write_record(&mut keyed, MetricValue::Stored(value), t));
    // `#` + 16 hex digits + ` `: the key this version puts in front.
    assert_eq!(keyed[0], b'#');
    let first_format = keyed[18..].to_vec();
    assert!(first_format.starts_with(b"netdata_test_rw_ctx_requests_persec_average{chart="));
    let settings = SpoolSettings {
        dir: dir.clone(),
        max_bytes: 1 << 20,
    };
    let spool = Spool::new(&settings, "prw", "prometheus_remote_write");
    spool
        .store(
            &[&Batch::new(first_format, 1).at(T0 + 1)],
            Instant::now() + WAIT,
        )
        .expect("spool written");

    let store = store();
    let receiver = HttpReceiver::start(support::http_receiver::always(Action::status(204)));
    let mut inst = instance(&store, receiver.addr.port(), "");
    inst.set_spool(spool, 0);
    inst.tick(&store, T0 + 2, IntervalCounters::default());
    deliver_until(&mut inst, &receiver, |r| {
        r.iter().map(|r| decode(r).len()).sum::<usize>() >= 4
    });
    let got: Vec<Series> = receiver.requests().iter().flat_map(decode).collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        got,
        vec![
            sample("old", 7.5, T0 + 1),
            info(T0 + 2),
            sample("a", 21.0, T0 + 2),
            sample("B dim", 0.5, T0 + 2)
        ]
    );
}

/// `send variables` (netdata's default for remote write): the host's
/// custom variables, chart variables as `CHART.NAME`, go with every batch
/// after `netdata_info`, as `PREFIX_NAME{instance="HOST"}` at the batch's
/// time; a NaN is left out. With `send variables = no`, none.
#[test]
fn custom_variables_go_with_every_batch() {
    let store = store();
    let host = store.localhost();
    host.set_variable("pid-max", 32768.0);
    host.set_variable("gone", f64::NAN);
    let chart = host.chart_by_id("test.rw").expect("the test chart");
    host.set_chart_variable(&chart, "limit", 7.25);
    let variable = |name: &str, value: f64, t: i64| -> Series {
        (
            labels(&[("__name__", name), ("instance", "box")]),
            value,
            t * 1000,
        )
    };
    for (extra, expected_variables) in [
        (
            "",
            vec![
                variable("netdata_pid_max", 32768.0, T0 + 2),
                variable("netdata_test_rw_limit", 7.25, T0 + 2),
                variable("netdata_test_Remote_Write_limit", 7.25, T0 + 2),
            ],
        ),
        ("    send variables = no\n", Vec::new()),
    ] {
        let receiver = HttpReceiver::start(support::http_receiver::always(Action::status(204)));
        let mut inst = instance(&store, receiver.addr.port(), extra);
        inst.tick(&store, T0 + 2, IntervalCounters::default());
        deliver_until(&mut inst, &receiver, |r| !r.is_empty());
        let got: Vec<Series> = receiver.requests().iter().flat_map(decode).collect();
        let mut expected = vec![info(T0 + 2)];
        expected.extend(expected_variables);
        expected.extend([sample("a", 21.0, T0 + 2), sample("B dim", 0.5, T0 + 2)]);
        assert_eq!(got, expected, "{extra}");
    }
}
