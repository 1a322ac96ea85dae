//! Black-box tests of the HTTP(S) exporting connectors (`graphite:http(s)`,
//! `json:http(s)`, `opentsdb:http(s)`) against the scripted in-process
//! receiver of `support/http_receiver.rs` on 127.0.0.1.
//!
//! Each test builds its instance from exporting.conf text and starts it with
//! `backhaul::exporting::start` (its own thread, real clock, `update every =
//! 1`), then feeds a chart one point at a time: point `k` is stored at a
//! whole second after the instance's last batch, and the next one only once
//! the instance has built it into a batch (`built_metrics`). So every batch
//! holds exactly one point of each dimension, whatever the instance's thread
//! was doing meanwhile, and each point's value says which point it is
//! (`k × 1000 + dimension`).
//!
//! Checked for every scripted answer (200, 204, 400, 413, 429 with
//! `Retry-After`, 500, 503, a keep-alive connection closed between requests,
//! a response cut in the middle, a request left unanswered, slow answers):
//! every point collected arrives exactly once in the bodies the receiver kept
//! (2xx), except those a 400 (or a 413 on a single line) dropped, which the
//! instance counts as rejected; a point arrives twice only where a response
//! was lost after the receiver kept the body, and the instance counts that
//! request in `repeats`; and the instance's totals count each case.
//!
//! Also: the exact bytes of one graphite:http, json:http (with basic
//! authentication) and opentsdb:http request, compared with what netdata
//! 1.37 sent (`fixtures/netdata-http/`) after the documented corrections;
//! the destination's path, `http headers`; and HTTPS with `CAfile`,
//! `CApath`, a wrong CA, the system roots, `ssl skip certificate
//! verification` and a client certificate.

mod real;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backhaul::config::{parse_exporting_str, parse_main_str};
use backhaul::exporting::{InstanceTotals, RunningInstance};
use backhaul::shutdown::Shutdown;
use real::{now_s, TempDir};
use rrd::{Chart, ChartDef, DimensionDef, Host, Label, LabelSource, Store};
use support::http_receiver::{
    always, in_order, script, Action, Framing, HttpReceiver, Outcome, Request, Script,
};
use support::tls::TestPki;

const S: u64 = 1_000_000;
/// Bound on every wait.
const WAIT: Duration = Duration::from_secs(30);

// ----------------------------------------------------------------------
// The instance's totals

/// A snapshot of an instance's [`InstanceTotals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    batches: u64,
    built_metrics: u64,
    sent_metrics: u64,
    sent_bytes: u64,
    lost_metrics: u64,
    lost_bytes: u64,
    discards: u64,
    reconnects: u64,
    failures: u64,
    received_bytes: u64,
    rejected_metrics: u64,
    rejected_bytes: u64,
    rejects: u64,
    retries: u64,
    repeats: u64,
    splits: u64,
}

impl Totals {
    fn of(t: &InstanceTotals) -> Totals {
        let g = InstanceTotals::get;
        Totals {
            batches: g(&t.batches),
            built_metrics: g(&t.built_metrics),
            sent_metrics: g(&t.sent_metrics),
            sent_bytes: g(&t.sent_bytes),
            lost_metrics: g(&t.lost_metrics),
            lost_bytes: g(&t.lost_bytes),
            discards: g(&t.discards),
            reconnects: g(&t.reconnects),
            failures: g(&t.failures),
            received_bytes: g(&t.received_bytes),
            rejected_metrics: g(&t.rejected_metrics),
            rejected_bytes: g(&t.rejected_bytes),
            rejects: g(&t.rejects),
            retries: g(&t.retries),
            repeats: g(&t.repeats),
            splits: g(&t.splits),
        }
    }
}

// ----------------------------------------------------------------------
// The instance, from configuration text

/// One running instance, built from exporting.conf text; stopped (and its
/// thread joined) on drop.
struct Exporter {
    shutdown: Shutdown,
    running: Vec<RunningInstance>,
}

/// The netdata.conf of every test: the host is called `box`, as in the
/// store.
const MAIN_CONF: &str = "[global]\n    hostname = box\n";

impl Exporter {
    fn start(store: &Arc<Store>, exporting_conf: &str) -> Exporter {
        Self::start_with_main(store, MAIN_CONF, exporting_conf)
    }

    fn start_with_main(store: &Arc<Store>, main_conf: &str, exporting_conf: &str) -> Exporter {
        let (main, warnings) = parse_main_str(main_conf, "netdata.conf")
            .unwrap_or_else(|e| panic!("netdata.conf: {e}"));
        assert!(warnings.is_empty(), "netdata.conf warnings: {warnings:?}");
        let (exporting, warnings) = parse_exporting_str(exporting_conf, "exporting.conf", &main)
            .unwrap_or_else(|e| panic!("{e}\n--- exporting.conf ---\n{exporting_conf}"));
        // Every key the tests use must be known to the connector.
        assert!(
            warnings.is_empty(),
            "exporting.conf warnings:\n{}\n--- exporting.conf ---\n{exporting_conf}",
            warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        let shutdown = Shutdown::new();
        let running = backhaul::exporting::start(
            exporting.instances.iter().filter(|i| i.enabled),
            store,
            &shutdown,
        )
        .expect("start the instance");
        assert_eq!(
            running.len(),
            1,
            "the instance did not start (connector not supported?)\n{exporting_conf}"
        );
        Exporter { shutdown, running }
    }

    fn totals(&self) -> Totals {
        Totals::of(&self.running[0].totals)
    }

    /// Waits (bounded, polling the atomics) until `done` holds; panics with
    /// the totals and `context()` otherwise.
    fn wait(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Totals) -> bool,
        context: impl Fn() -> String,
    ) -> Totals {
        let deadline = Instant::now() + timeout;
        loop {
            let t = self.totals();
            if done(&t) {
                return t;
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {what}; totals {t:#?}\n{}",
                    context()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.shutdown.trigger();
        for r in self.running.drain(..) {
            let _ = r.thread.join();
        }
    }
}

/// The exporting.conf of one instance `[CONNECTOR:t]`.
fn conf(connector: &str, destination: &str, timeout_ms: u64, extra: &str) -> String {
    format!(
        "[exporting:global]
    enabled = yes
    spool directory = none
[{connector}:t]
    enabled = yes
    destination = {destination}
    data source = average
    update every = 1
    prefix = netdata
    send charts matching = test.*
    buffer on failures = 60
    timeout ms = {timeout_ms}
{extra}"
    )
}

// ----------------------------------------------------------------------
// The data: one chart fed one point at a time

/// How a connector names and frames what it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Graphite,
    Opentsdb,
}

impl Style {
    fn framing(self) -> Framing {
        match self {
            Style::Graphite => Framing::Lines,
            Style::Opentsdb => Framing::JsonArray,
        }
    }

    fn metric(self, dim: &str) -> String {
        match self {
            Style::Graphite => format!("netdata.box.test.c.{dim}"),
            Style::Opentsdb => format!("netdata.test.c.{dim}"),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Style::Graphite => "application/graphite",
            Style::Opentsdb => "application/json",
        }
    }

    /// One item of a body: (`metric value`, timestamp).
    fn parse(self, item: &str) -> (String, i64) {
        match self {
            Style::Graphite => {
                let words: Vec<&str> = item.split(' ').collect();
                assert_eq!(words.len(), 3, "not a graphite line: {item:?}");
                let ts = words[2]
                    .parse()
                    .unwrap_or_else(|e| panic!("timestamp of {item:?}: {e}"));
                (format!("{} {}", words[0], words[1]), ts)
            }
            Style::Opentsdb => {
                let metric = json_field(item, "metric");
                let value = json_field(item, "value");
                let ts = json_field(item, "timestamp")
                    .parse()
                    .unwrap_or_else(|e| panic!("timestamp of {item:?}: {e}"));
                assert!(
                    item.ends_with(r#""tags":{"host":"box"}}"#),
                    "tags of {item:?}"
                );
                (format!("{metric} {value}"), ts)
            }
        }
    }
}

/// The text of `"key":` in a one-line JSON object (a string's contents, or
/// a number), for objects whose strings hold no quotes.
fn json_field<'a>(object: &'a str, key: &str) -> &'a str {
    let at = object
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {object:?}"));
    let rest = object[at + key.len() + 3..].trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        &s[..s.find('"').expect("closing quote")]
    } else {
        &rest[..rest.find([',', '}']).expect("end of number")]
    }
}

/// A store with the chart `test.c` on host `box`, fed by the test.
struct Feed {
    store: Arc<Store>,
    chart: Arc<Chart>,
    dims: Vec<String>,
    /// Second of each stored point, by point number (from 1).
    times: BTreeMap<i64, i64>,
}

impl Feed {
    /// Dimensions `dim0`, `dim1`, ...
    fn new(dims: usize) -> Feed {
        Self::with_dims((0..dims).map(|d| format!("dim{d}")).collect())
    }

    fn with_dims(dims: Vec<String>) -> Feed {
        let store = Arc::new(Store::new(Host::new("box", 600)));
        let chart = store.localhost().create_chart(ChartDef::new("test", "c"));
        {
            let mut w = chart.write();
            for d in &dims {
                w.add_dimension(DimensionDef::new(d.as_str()));
            }
        }
        Feed {
            store,
            chart,
            dims,
            times: BTreeMap::new(),
        }
    }

    fn value(k: i64, d: usize) -> i64 {
        k * 1000 + d as i64
    }

    /// Stores point `k` at the next whole second that is after the previous
    /// point and after every batch the instance has started (whose window
    /// ends at or before the current second). Returns that second.
    fn store_point(&mut self, k: i64) -> i64 {
        let previous = self.times.values().next_back().copied().unwrap_or(0);
        let t = (now_s() + 1).max(previous + 1);
        let mut w = self.chart.write();
        for d in 0..self.dims.len() {
            w.set(d, Self::value(k, d));
        }
        w.done(t as u64 * S).expect("collect");
        drop(w);
        self.times.insert(k, t);
        t
    }

    /// Stores points `1..=n`, each after the previous one was built into a
    /// batch.
    fn feed(&mut self, exp: &Exporter, n: i64) {
        for k in 1..=n {
            self.feed_one(exp, k);
        }
    }

    /// Stores point `k` (points go 1, 2, ...) and waits until it is built
    /// into a batch.
    fn feed_one(&mut self, exp: &Exporter, k: i64) {
        self.store_point(k);
        let want = (self.dims.len() as i64 * k) as u64;
        exp.wait(
            &format!("point {k} to be built into a batch"),
            WAIT,
            |t| t.built_metrics >= want,
            String::new,
        );
    }

    /// `metric value` of every stored point, with its second.
    fn expected(&self, style: Style) -> BTreeMap<String, i64> {
        let mut all = BTreeMap::new();
        for (&k, &t) in &self.times {
            for (d, dim) in self.dims.iter().enumerate() {
                all.insert(
                    format!("{} {}.0000000", style.metric(dim), Self::value(k, d)),
                    t,
                );
            }
        }
        all
    }

    fn metrics(&self) -> u64 {
        (self.times.len() * self.dims.len()) as u64
    }
}

/// The `metric value` keys of a request's body.
fn keys(r: &Request, style: Style) -> BTreeSet<String> {
    r.items(style.framing())
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|i| style.parse(i).0)
        .collect()
}

/// Checks what the receiver kept: each stored point `times(key)` times (1
/// unless said otherwise), nothing else, never with a timestamp before the
/// point's second; every body whole (no cut line or object).
fn check_points(rx: &HttpReceiver, feed: &Feed, style: Style, times: impl Fn(&str) -> usize) {
    let expected = feed.expected(style);
    let items = rx
        .delivered_items(style.framing())
        .unwrap_or_else(|e| panic!("{e}\n{}", rx.summary()));
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for item in &items {
        let (key, ts) = style.parse(item);
        let Some(&t) = expected.get(&key) else {
            panic!("unexpected item {item:?}\n{}", rx.summary());
        };
        assert!(
            ts >= t && ts < t + 60,
            "{item:?}: timestamp {ts} for a point stored at {t}"
        );
        *got.entry(key).or_default() += 1;
    }
    let wrong: Vec<String> = expected
        .keys()
        .filter_map(|k| {
            let (want, have) = (times(k), got.get(k).copied().unwrap_or(0));
            (want != have).then(|| format!("{k}: {have} times, want {want}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} points delivered the wrong number of times, e.g. {:?}\n{}",
        wrong.len(),
        &wrong[..wrong.len().min(6)],
        rx.summary()
    );
}

/// Checks a request's head: `POST PATH HTTP/1.1`, every line ending in
/// CRLF, `Host` the configured host and port, the content type, an exact
/// `Content-Length`, no header twice, and a non-empty body.
fn check_head(r: &Request, path: &str, host: &str, content_type: &str) {
    let shown = String::from_utf8_lossy(&r.head);
    assert_eq!(
        (r.method.as_str(), r.target.as_str(), r.version.as_str()),
        ("POST", path, "HTTP/1.1"),
        "{shown}"
    );
    assert!(r.request_line_crlf, "request line without CRLF: {shown:?}");
    for h in &r.headers {
        assert!(h.crlf, "header line {h:?} does not end in CRLF: {shown:?}");
    }
    assert!(r.head.ends_with(b"\r\n\r\n"), "{shown:?}");
    assert_eq!(r.header("Host"), Some(host), "{shown}");
    assert_eq!(r.header("Content-Type"), Some(content_type), "{shown}");
    assert_eq!(
        r.header("Content-Length"),
        Some(r.body.len().to_string().as_str()),
        "{shown}"
    );
    let names: BTreeSet<String> = r
        .headers
        .iter()
        .map(|h| h.name.to_ascii_lowercase())
        .collect();
    assert_eq!(names.len(), r.headers.len(), "a header twice: {shown}");
    assert!(!r.body.is_empty(), "an empty batch was sent: {shown}");
}

/// A receiver, a fed chart and an instance.
struct Run {
    // Dropped in this order: the receiver first (which unblocks an instance
    // waiting for an answer), then the instance.
    rx: HttpReceiver,
    feed: Feed,
    exp: Exporter,
    style: Style,
}

impl Run {
    /// Starts `rx`, an instance of `connector` sending to it and feeds
    /// `points` points of `feed`'s chart.
    fn start(
        connector: &str,
        style: Style,
        rx: HttpReceiver,
        mut feed: Feed,
        points: i64,
        timeout_ms: u64,
        extra: &str,
    ) -> Run {
        let destination = rx.addr.to_string();
        let exp = Exporter::start(
            &feed.store,
            &conf(connector, &destination, timeout_ms, extra),
        );
        feed.feed(&exp, points);
        Run {
            rx,
            feed,
            exp,
            style,
        }
    }

    /// graphite:http with dimensions `dim0..dims`, timeout 5 s.
    fn graphite(script: Script, dims: usize, points: i64) -> Run {
        Self::start(
            "graphite:http",
            Style::Graphite,
            HttpReceiver::start(script),
            Feed::new(dims),
            points,
            5000,
            "",
        )
    }

    /// Waits until the instance counts `sent` metrics sent and `rejected`
    /// rejected, and the receiver has acted on every request.
    fn settle(&self, sent: u64, rejected: u64) -> Totals {
        let t = self.exp.wait(
            &format!("{sent} metrics sent and {rejected} rejected"),
            WAIT,
            |t| t.sent_metrics >= sent && t.rejected_metrics >= rejected,
            || self.rx.summary(),
        );
        assert!(self.rx.wait(WAIT, |s| s.acted_on() == s.requests.len()));
        assert_eq!(
            (t.sent_metrics, t.rejected_metrics),
            (sent, rejected),
            "{t:#?}"
        );
        t
    }

    fn requests(&self) -> Vec<Request> {
        self.rx.requests()
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.rx.addr.port())
    }

    /// Every request's head is right, and nothing broke the framing.
    fn check_heads(&self) {
        for r in self.requests() {
            check_head(&r, "/api/put", &self.host(), self.style.content_type());
        }
        assert!(
            self.rx.protocol_errors().is_empty(),
            "{:?}",
            self.rx.protocol_errors()
        );
    }

    fn check_points(&self, times: impl Fn(&str) -> usize) {
        check_points(&self.rx, &self.feed, self.style, times);
    }
}

/// No rejection, retry, repeat or split, and nothing lost.
fn assert_clean(t: &Totals) {
    assert_eq!(
        (
            t.lost_metrics,
            t.discards,
            t.rejected_metrics,
            t.rejected_bytes,
            t.rejects,
            t.retries,
            t.repeats,
            t.splits
        ),
        (0, 0, 0, 0, 0, 0, 0, 0),
        "{t:#?}"
    );
}

const POINTS: i64 = 4;

// ----------------------------------------------------------------------
// Answers

fn delivered_on_one_connection(status: u16) {
    let run = Run::graphite(always(Action::status(status)), 3, POINTS);
    let t = run.settle(run.feed.metrics(), 0);
    assert_clean(&t);
    assert!(t.sent_bytes > 0);
    run.check_heads();
    run.check_points(|_| 1);
    let requests = run.requests();
    // One request per batch (each holds one point), on one connection.
    assert_eq!(requests.len(), POINTS as usize, "{}", run.rx.summary());
    assert_eq!(run.rx.connections(), 1, "{}", run.rx.summary());
    assert!(requests.iter().all(|r| r.status() == Some(status)));
}

#[test]
fn answered_200_every_point_arrives_once_on_one_keep_alive_connection() {
    delivered_on_one_connection(200);
}

#[test]
fn answered_204_every_point_arrives_once_on_one_keep_alive_connection() {
    delivered_on_one_connection(204);
}

#[test]
fn answered_400_that_request_is_dropped_and_counted_and_the_rest_delivered() {
    let run = Run::graphite(
        in_order(
            vec![
                Action::status(200),
                Action::status(400).with_header("Content-Type", "text/plain"),
            ],
            Action::status(200),
        ),
        3,
        POINTS,
    );
    let t = run.settle(run.feed.metrics() - 3, 3);
    let requests = run.requests();
    let rejected = &requests[1];
    assert_eq!(rejected.outcome, Outcome::Answered(400));
    assert_eq!(t.rejected_bytes, rejected.body.len() as u64, "{t:#?}");
    assert_eq!(t.rejects, 1, "{t:#?}");
    assert_eq!(
        (t.lost_metrics, t.retries, t.repeats, t.splits),
        (0, 0, 0, 0),
        "{t:#?}"
    );
    // The status page's last error names it.
    let error = run.exp.running[0].status.snapshot().last_error;
    assert!(
        error
            .as_ref()
            .is_some_and(|e| e.text.starts_with("HTTP 400")),
        "{error:?}"
    );
    // Not sent again.
    assert_eq!(requests.len(), POINTS as usize, "{}", run.rx.summary());
    let dropped = keys(rejected, Style::Graphite);
    run.check_heads();
    run.check_points(|k| usize::from(!dropped.contains(k)));
}

/// A receiver that answers 413 to bodies over `limit` bytes.
fn body_limit(limit: usize) -> Script {
    script(move |r| {
        if r.body.len() > limit {
            Action::status(413)
        } else {
            Action::status(200)
        }
    })
}

#[test]
fn answered_413_the_request_is_split_at_line_boundaries_until_the_parts_fit() {
    // 12 lines of ~49 bytes: a batch of ~590 bytes is split in halves
    // (~295, still too large) and quarters (~148, taken).
    let limit = 200;
    let run = Run::graphite(body_limit(limit), 12, 3);
    let t = run.settle(run.feed.metrics(), 0);
    let too_large = run.rx.count_answered(413);
    assert!(too_large >= 3, "{}", run.rx.summary());
    assert_eq!(t.splits, too_large as u64, "{t:#?}");
    assert_eq!(
        (
            t.lost_metrics,
            t.rejected_metrics,
            t.rejects,
            t.retries,
            t.repeats
        ),
        (0, 0, 0, 0, 0),
        "{t:#?}"
    );
    for r in run.requests() {
        let lines = r.items(Framing::Lines).unwrap();
        match r.status() {
            Some(413) => assert!(lines.len() >= 2, "a one-line request got 413"),
            Some(200) => assert!(r.body.len() <= limit),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    run.check_heads();
    run.check_points(|_| 1);
}

#[test]
fn answered_413_a_single_line_over_the_limit_is_dropped_and_counted() {
    let long = format!("long_{}", "x".repeat(300));
    let mut dims: Vec<String> = (0..3).map(|d| format!("dim{d}")).collect();
    dims.push(long.clone());
    let limit = 250;
    let run = Run::start(
        "graphite:http",
        Style::Graphite,
        HttpReceiver::start(body_limit(limit)),
        Feed::with_dims(dims),
        3,
        5000,
        "",
    );
    let long_metric = Style::Graphite.metric(&long);
    let points = run.feed.times.len() as u64;
    let t = run.settle(run.feed.metrics() - points, points);
    // The long line, with its newline, once per batch.
    let long_lines: u64 = run
        .feed
        .expected(Style::Graphite)
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{long_metric} ")))
        .map(|(k, &ts)| (k.len() + 1 + ts.to_string().len() + 1) as u64)
        .sum();
    assert_eq!(t.rejected_bytes, long_lines, "{t:#?}");
    assert_eq!(t.splits, run.rx.count_answered(413) as u64, "{t:#?}");
    assert_eq!((t.lost_metrics, t.retries, t.repeats), (0, 0, 0), "{t:#?}");
    for r in run.requests() {
        if r.status() == Some(200) {
            assert!(r.body.len() <= limit);
        }
    }
    run.check_heads();
    run.check_points(|k| usize::from(!k.starts_with(&format!("{long_metric} "))));
}

#[test]
fn answered_413_json_parts_are_whole_arrays() {
    // opentsdb objects of ~110 bytes: 8 a batch (~900 bytes), parts of 2.
    let limit = 300;
    let run = Run::start(
        "opentsdb:http",
        Style::Opentsdb,
        HttpReceiver::start(body_limit(limit)),
        Feed::new(8),
        3,
        5000,
        "",
    );
    let t = run.settle(run.feed.metrics(), 0);
    assert_eq!(t.splits, run.rx.count_answered(413) as u64, "{t:#?}");
    assert!(t.splits >= 3, "{}", run.rx.summary());
    assert_eq!((t.lost_metrics, t.rejected_metrics), (0, 0), "{t:#?}");
    // Every part is `[\n` + objects + `\n]\n` (checked by the framing).
    for r in run.requests() {
        r.items(Framing::JsonArray).unwrap();
    }
    run.check_heads();
    run.check_points(|_| 1);
}

/// The request after the first `retryable` answers is the same request, sent
/// after at least `at_least` (measured from the answer).
fn check_retried(requests: &[Request], first: usize, answers: usize, at_least: Duration) {
    let original = &requests[first];
    for retry in &requests[first + 1..=first + answers] {
        assert_eq!(retry.body, original.body, "a retry is the same request");
        assert_eq!(retry.target, original.target);
    }
    let answered = requests[first].answered_at.expect("answered");
    let gap = requests[first + 1].at - answered;
    assert!(gap >= at_least, "retried after {gap:?}, want {at_least:?}");
}

#[test]
fn answered_429_the_same_request_is_retried_after_retry_after() {
    let run = Run::graphite(
        in_order(
            vec![Action::status(200), Action::retry_after(429, 2)],
            Action::status(200),
        ),
        3,
        POINTS,
    );
    let t = run.settle(run.feed.metrics(), 0);
    let requests = run.requests();
    check_retried(&requests, 1, 1, Duration::from_secs(2));
    assert_eq!(requests[2].status(), Some(200));
    assert_eq!(t.retries, 1, "{t:#?}");
    assert_eq!(
        (
            t.lost_metrics,
            t.rejected_metrics,
            t.rejects,
            t.repeats,
            t.splits
        ),
        (0, 0, 0, 0, 0),
        "{t:#?}"
    );
    run.check_heads();
    run.check_points(|_| 1);
}

#[test]
fn answered_500_the_same_request_is_retried() {
    let run = Run::graphite(
        in_order(vec![Action::status(500)], Action::status(200)),
        3,
        POINTS,
    );
    let t = run.settle(run.feed.metrics(), 0);
    check_retried(&run.requests(), 0, 1, Duration::ZERO);
    assert_eq!(t.retries, 1, "{t:#?}");
    let status = run.exp.running[0].status.snapshot();
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|e| e.text.starts_with("HTTP 500")),
        "{status:?}"
    );
    assert_eq!(
        (t.lost_metrics, t.rejected_metrics, t.rejects, t.repeats),
        (0, 0, 0, 0),
        "{t:#?}"
    );
    run.check_heads();
    run.check_points(|_| 1);
}

#[test]
fn a_dead_primary_fails_over_and_the_instance_moves_back_when_it_returns() {
    // The primary's port, free (connections refused) until it comes back.
    let primary_addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let secondary = HttpReceiver::start(always(Action::status(200)));
    let mut feed = Feed::new(2);
    let exp = Exporter::start(
        &feed.store,
        &conf(
            "graphite:http",
            &format!("{primary_addr} {}", secondary.addr),
            5000,
            "    check primary destination every = 1\n",
        ),
    );
    feed.feed(&exp, 3);
    exp.wait(
        "the first points delivered to the secondary",
        WAIT,
        |t| t.sent_metrics >= feed.metrics(),
        || secondary.summary(),
    );
    assert!(!secondary.requests().is_empty());

    // The primary is back: within `check primary destination every` the
    // instance moves to it, between requests.
    let primary = HttpReceiver::start_on(always(Action::status(200)), primary_addr);
    let mut k = 3;
    let deadline = Instant::now() + WAIT;
    while primary.requests().is_empty() {
        assert!(Instant::now() < deadline, "never moved back to the primary");
        k += 1;
        feed.feed_one(&exp, k);
    }
    k += 1;
    feed.feed_one(&exp, k);
    let t = exp.wait(
        "every point delivered",
        WAIT,
        |t| t.sent_metrics >= feed.metrics(),
        || primary.summary(),
    );
    assert_eq!(t.sent_metrics, feed.metrics(), "{t:#?}");
    assert_eq!((t.lost_metrics, t.rejected_metrics), (0, 0), "{t:#?}");
    assert!(t.reconnects >= 2, "refused, then the move back: {t:#?}");
    // Each point once, on one destination or the other; the later ones on
    // the primary.
    let expected = feed.expected(Style::Graphite);
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for rx in [&secondary, &primary] {
        for item in rx.delivered_items(Style::Graphite.framing()).unwrap() {
            let (key, _) = Style::Graphite.parse(&item);
            assert!(expected.contains_key(&key), "unexpected {item:?}");
            *got.entry(key).or_default() += 1;
        }
    }
    assert_eq!(got.len(), expected.len(), "every point delivered");
    assert!(got.values().all(|&n| n == 1), "each once: {got:?}");
    let last = Style::Graphite.metric("dim0");
    let last = format!("{last} {}.0000000", Feed::value(k, 0));
    let on_primary: Vec<String> = primary
        .delivered_items(Style::Graphite.framing())
        .unwrap()
        .iter()
        .map(|item| Style::Graphite.parse(item).0)
        .collect();
    assert!(
        on_primary.contains(&last),
        "the newest point went to the primary"
    );
}

/// A server in front of the real one with a body limit, as proxies have:
/// a request whose `Content-Length` is over `limit` gets a 413 as soon as
/// the head is in, and the connection is closed without the body read (the
/// client's write then breaks); others are read whole and answered 200.
/// Returns its address and the bodies it took.
fn early_413_server(limit: usize) -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let kept = kept.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(WAIT));
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 1 << 20];
                loop {
                    let head_len = loop {
                        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_len]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if length > limit {
                        let _ = stream.write_all(
                            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                        // Dropped with the body unread: the kernel resets.
                        return;
                    }
                    while buf.len() < head_len + length {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    kept.lock()
                        .unwrap()
                        .push(buf[head_len..head_len + length].to_vec());
                    buf.drain(..head_len + length);
                    if stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, bodies)
}

#[test]
fn a_413_sent_before_the_body_was_read_splits_the_request() {
    // A body limit of 4 MB, below the 10 MB request.
    let (addr, bodies) = early_413_server(4 << 20);
    // One point of 200,000 dimensions: a body of about 10 MB, more than the
    // socket buffers take while the server does not read.
    let mut feed = Feed::new(200_000);
    let exp = Exporter::start(
        &feed.store,
        &conf(
            "graphite:http",
            &addr.to_string(),
            20_000,
            "    max request body bytes = 67108864\n",
        ),
    );
    feed.feed(&exp, 1);
    let t = exp.wait(
        "every metric delivered",
        WAIT,
        |t| t.sent_metrics >= feed.metrics(),
        String::new,
    );
    assert!(t.splits >= 1, "split after the early 413: {t:#?}");
    assert_eq!((t.rejected_metrics, t.lost_metrics), (0, 0), "{t:#?}");
    let lines: usize = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .sum();
    assert_eq!(lines as u64, feed.metrics(), "every line once");
}

#[test]
fn answered_301_the_metrics_are_kept_and_the_error_names_the_location() {
    let run = Run::graphite(
        in_order(
            vec![Action::status(301).with_header("Location", "https://tsdb.example/api/put")],
            Action::status(200),
        ),
        3,
        POINTS,
    );
    let t = run.settle(run.feed.metrics(), 0);
    // Not followed: the same request again once the server takes it.
    check_retried(&run.requests(), 0, 1, Duration::ZERO);
    let status = run.exp.running[0].status.snapshot();
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|e| e.text.starts_with("HTTP 301")
                && e.text.contains("https://tsdb.example/api/put")),
        "{status:?}"
    );
    assert_eq!(
        (t.lost_metrics, t.rejected_metrics, t.rejects),
        (0, 0, 0),
        "a redirection loses nothing: {t:#?}"
    );
    run.check_points(|_| 1);
}

#[test]
fn answered_503_three_times_the_same_request_is_retried_with_backoff() {
    let run = Run::graphite(
        in_order(
            vec![
                Action::status(503),
                Action::status(503),
                Action::status(503),
            ],
            Action::status(200),
        ),
        3,
        POINTS,
    );
    let t = run.settle(run.feed.metrics(), 0);
    let requests = run.requests();
    check_retried(&requests, 0, 3, Duration::ZERO);
    assert_eq!(requests[3].status(), Some(200));
    // Backoff: the retries are spread out, not sent back to back.
    let spread = requests[3].at - requests[0].answered_at.unwrap();
    assert!(
        spread >= Duration::from_millis(100),
        "three retries within {spread:?}"
    );
    assert_eq!(t.retries, 3, "{t:#?}");
    assert_eq!(
        (t.lost_metrics, t.rejected_metrics, t.rejects, t.repeats),
        (0, 0, 0, 0),
        "{t:#?}"
    );
    run.check_heads();
    run.check_points(|_| 1);
}

// ----------------------------------------------------------------------
// Connections

#[test]
fn keep_alive_closed_by_the_receiver_between_requests_is_detected_before_sending() {
    // Every answer closes the connection: silently (as a keep-alive timeout
    // does) or with `Connection: close`, by turns.
    let run = Run::graphite(
        script(|r| {
            if r.seq % 2 == 0 {
                Action::status(200).then_close()
            } else {
                Action::status(200).then_close_announced()
            }
        }),
        3,
        POINTS,
    );
    let t = run.settle(run.feed.metrics(), 0);
    assert_clean(&t);
    let requests = run.requests();
    assert_eq!(requests.len(), POINTS as usize, "{}", run.rx.summary());
    // Each on a new connection, none sent into a closed one (which the
    // receiver would not see, and the instance would count as a repeat).
    assert!(
        requests.iter().all(|r| r.on_connection == 0),
        "{}",
        run.rx.summary()
    );
    run.check_heads();
    run.check_points(|_| 1);
}

#[test]
fn response_cut_mid_status_line_the_request_is_sent_again_and_counted_as_a_repeat() {
    let run = Run::graphite(
        in_order(
            vec![
                Action::status(200),
                Action::CloseMidResponse { accepted: true },
            ],
            Action::status(200),
        ),
        3,
        POINTS,
    );
    let t = run.settle(run.feed.metrics(), 0);
    let requests = run.requests();
    assert_eq!(requests[1].outcome, Outcome::CutMidResponse);
    assert_eq!(requests[2].body, requests[1].body, "sent again");
    assert_ne!(requests[2].connection, requests[1].connection);
    assert_eq!(t.repeats, 1, "{t:#?}");
    assert_eq!(
        (t.lost_metrics, t.rejected_metrics, t.retries, t.splits),
        (0, 0, 0, 0),
        "{t:#?}"
    );
    // The receiver kept the cut request's body: those points twice.
    let twice = keys(&requests[1], Style::Graphite);
    run.check_heads();
    run.check_points(|k| if twice.contains(k) { 2 } else { 1 });
}

#[test]
fn request_left_unanswered_is_sent_again_and_counted_as_a_repeat() {
    let run = Run::graphite(
        in_order(
            vec![
                Action::status(200),
                Action::CloseWithoutAnswer { accepted: false },
            ],
            Action::status(200),
        ),
        3,
        POINTS,
    );
    let t = run.settle(run.feed.metrics(), 0);
    let requests = run.requests();
    assert_eq!(requests[1].outcome, Outcome::Unanswered);
    assert_eq!(requests[2].body, requests[1].body, "sent again");
    assert_eq!(t.repeats, 1, "{t:#?}");
    assert_eq!(
        (t.lost_metrics, t.rejected_metrics, t.retries),
        (0, 0, 0),
        "{t:#?}"
    );
    run.check_heads();
    run.check_points(|_| 1);
}

#[test]
fn slow_answers_within_the_timeout_are_waited_for() {
    let slow = Action::status(200).delayed(Duration::from_millis(1500));
    let run = Run::graphite(
        in_order(vec![slow.clone(), slow], Action::status(200)),
        3,
        POINTS,
    );
    let t = run.settle(run.feed.metrics(), 0);
    assert_clean(&t);
    assert_eq!(
        run.requests().len(),
        POINTS as usize,
        "{}",
        run.rx.summary()
    );
    assert_eq!(run.rx.connections(), 1, "{}", run.rx.summary());
    run.check_heads();
    run.check_points(|_| 1);
}

#[test]
fn an_answer_later_than_the_timeout_counts_as_a_possible_repeat() {
    // `timeout ms = 1000`; the receiver keeps the second request's body but
    // answers after 3 s.
    let run = Run::start(
        "graphite:http",
        Style::Graphite,
        HttpReceiver::start(in_order(
            vec![
                Action::status(200),
                Action::status(200).delayed(Duration::from_secs(3)),
            ],
            Action::status(200),
        )),
        Feed::new(3),
        POINTS,
        1000,
        "",
    );
    let t = run.settle(run.feed.metrics(), 0);
    let requests = run.requests();
    assert_eq!(requests[2].body, requests[1].body, "sent again");
    assert_eq!(t.repeats, 1, "{t:#?}");
    let twice = keys(&requests[1], Style::Graphite);
    run.check_heads();
    run.check_points(|k| if twice.contains(k) { 2 } else { 1 });
}

// ----------------------------------------------------------------------
// Request heads

#[test]
fn destination_path_http_headers_and_basic_authentication() {
    let rx = HttpReceiver::start(always(Action::status(200)));
    let mut feed = Feed::new(2);
    let exp = Exporter::start(
        &feed.store,
        &conf(
            "graphite:http",
            &format!("{}/metrics/v1/put", rx.addr),
            5000,
            "    username = user1
    password = s3cret
    http headers = X-Scope-OrgID: team-1 | X-Note: a b c
",
        ),
    );
    feed.feed(&exp, 2);
    exp.wait(
        "4 metrics sent",
        WAIT,
        |t| t.sent_metrics == 4,
        || rx.summary(),
    );
    let requests = rx.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        check_head(
            r,
            "/metrics/v1/put",
            &format!("127.0.0.1:{}", rx.addr.port()),
            "application/graphite",
        );
        assert_eq!(r.header("Authorization"), Some("Basic dXNlcjE6czNjcmV0"));
        assert_eq!(r.header("X-Scope-OrgID"), Some("team-1"));
        assert_eq!(r.header("X-Note"), Some("a b c"));
    }
    check_points(&rx, &feed, Style::Graphite, |_| 1);
}

/// The lab's store as netdata 1.37 exported it in `fixtures/netdata-http/`:
/// host `vm` with three configured labels, the chart `lab.weird_chart`
/// (`Weird Name/with space`) and `lab.id with spaces/and:colon`.
struct Lab {
    store: Arc<Store>,
    weird: Arc<Chart>,
    colon: Arc<Chart>,
}

impl Lab {
    fn new() -> Lab {
        let host = Host::new("vm", 100);
        host.set_labels(vec![
            Label::new("env", "lab", LabelSource::Configured),
            Label::new("_is_ephemeral", "false", LabelSource::Configured),
            Label::new("_has_unstable_connection", "false", LabelSource::Configured),
        ]);
        let store = Arc::new(Store::new(host));
        let weird = store.localhost().create_chart(
            ChartDef::new("lab", "weird_chart")
                .name("Weird Name/with space")
                .family("fam")
                .context("lab.ctx")
                .units("units"),
        );
        let colon = store.localhost().create_chart(
            ChartDef::new("lab", "id with spaces/and:colon")
                .family("lab")
                .context("lab.id with spaces/and:colon")
                .units("u"),
        );
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
        colon.write().add_dimension(DimensionDef::new("a b"));
        Lab {
            store,
            weird,
            colon,
        }
    }

    /// Stores the values of netdata's first batch at the next second, and
    /// returns it.
    fn collect(&self) -> i64 {
        let t = now_s() + 1;
        let mut w = self.weird.write();
        for (d, v) in [2, 15, 2, 123_456_789_012_345, 1_234_567, 42]
            .into_iter()
            .enumerate()
        {
            w.set(d, v);
        }
        w.done(t as u64 * S).unwrap();
        drop(w);
        let mut w = self.colon.write();
        w.set(0, 2);
        w.done(t as u64 * S).unwrap();
        t
    }
}

/// The timestamp netdata's captured batch carries.
const NETDATA_TS: &str = "1796016156";

/// What netdata sent (`fixtures/netdata-http/NAME.request`), corrected as
/// documented: `Host:` = `host`, CRLF at the end of every header line, the
/// batch's timestamp `ts` (and so `Content-Length`).
fn netdata_request(name: &str, host: &str, ts: i64) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/netdata-http/{name}.request",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
    assert!(body.contains(NETDATA_TS));
    let body = body.replace(NETDATA_TS, &ts.to_string());
    let mut out = String::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with("Host: ") {
            out.push_str(&format!("Host: {host}"));
        } else if line.starts_with("Content-Length: ") {
            out.push_str(&format!("Content-Length: {}", body.len()));
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

/// The timestamp of the first item of a body: a graphite line's last word,
/// or a JSON object's `"timestamp":`.
fn first_timestamp(body: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(body);
    let digits = match text.find("\"timestamp\":") {
        Some(at) => text[at + 12..].trim_start().to_string(),
        None => text
            .lines()
            .next()
            .and_then(|l| l.rsplit(' ').next())
            .unwrap_or("")
            .to_string(),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end]
        .parse()
        .unwrap_or_else(|e| panic!("no timestamp in {text:?}: {e}"))
}

/// Runs `section` (with `destination = HOST:PORT` of a fresh receiver added)
/// on the lab's store, and compares the one request it sends with netdata's
/// `name`, corrected.
fn matches_netdata(name: &str, connector: &str, host: &str, extra: &str) {
    let rx = HttpReceiver::start(always(Action::status(200)));
    let lab = Lab::new();
    let destination = format!("{host}:{}", rx.addr.port());
    let exp = Exporter::start_with_main(
        &lab.store,
        "[global]\n    hostname = vm\n",
        &format!(
            "[exporting:global]
    enabled = yes
    update every = 1
    send charts matching = lab.*
    spool directory = none
[{connector}:lab]
    enabled = yes
    destination = {destination}
{extra}"
        ),
    );
    let t = lab.collect();
    exp.wait(
        "the lab's batch to be sent",
        WAIT,
        |t| t.sent_metrics >= 7,
        || rx.summary(),
    );
    let requests = rx.wait_requests(1, WAIT);
    assert_eq!(requests.len(), 1, "{}", rx.summary());
    let got = requests[0].raw();
    let ts = first_timestamp(&requests[0].body);
    assert!(ts >= t && ts < t + 60, "timestamp {ts}, stored at {t}");
    let want = netdata_request(name, &destination, ts);
    if got != want {
        panic!(
            "request differs from netdata's (corrected).\n--- got ---\n{}\n--- want ---\n{}",
            String::from_utf8_lossy(&got).escape_debug(),
            String::from_utf8_lossy(&want).escape_debug()
        );
    }
}

#[test]
fn graphite_http_request_is_netdatas_with_host_and_crlf_corrected() {
    matches_netdata("graphite_http", "graphite:http", "localhost", "");
}

#[test]
fn json_http_request_with_basic_authentication_is_netdatas_with_host_and_crlf_corrected() {
    matches_netdata(
        "json_http",
        "json:http",
        "127.0.0.1",
        "    username = user1\n    password = s3cret\n",
    );
}

#[test]
fn opentsdb_http_request_is_netdatas_with_host_and_crlf_corrected() {
    matches_netdata("opentsdb_http", "opentsdb:http", "127.0.0.1", "");
}

// ----------------------------------------------------------------------
// HTTPS

/// A graphite:https instance sending to a TLS receiver of `pki` at
/// `localhost:PORT`, with `extra` settings.
fn https_run(
    pki: &TestPki,
    require_client_cert: bool,
    extra: &str,
    points: i64,
) -> (HttpReceiver, Feed, Exporter) {
    let rx = HttpReceiver::start_tls(
        always(Action::status(200)),
        pki.server_config(require_client_cert),
    );
    let mut feed = Feed::new(3);
    let exp = Exporter::start(
        &feed.store,
        &conf(
            "graphite:https",
            &format!("localhost:{}", rx.addr.port()),
            5000,
            extra,
        ),
    );
    feed.feed(&exp, points);
    (rx, feed, exp)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Delivered over TLS, with SNI, and not a byte of it in the clear.
fn check_https_delivery(rx: &HttpReceiver, feed: &Feed, exp: &Exporter) {
    let t = exp.wait(
        "every metric sent over TLS",
        WAIT,
        |t| t.sent_metrics >= feed.metrics(),
        || rx.summary(),
    );
    assert_clean(&t);
    let host = format!("localhost:{}", rx.addr.port());
    for r in rx.requests() {
        assert!(r.tls);
        assert_eq!(r.sni.as_deref(), Some("localhost"), "SNI");
        check_head(&r, "/api/put", &host, "application/graphite");
    }
    check_points(rx, feed, Style::Graphite, |_| 1);
    for wire in rx.state().wire {
        assert!(!contains(&wire, b"POST") && !contains(&wire, b"netdata."));
    }
    assert!(rx.tls_errors().is_empty(), "{:?}", rx.tls_errors());
}

#[test]
fn https_with_cafile_verifies_the_receiver_and_sends_sni() {
    let pki = TestPki::new("cafile");
    let dir = TempDir::new("https-cafile");
    let files = pki.write_files(dir.path());
    let (rx, feed, exp) = https_run(
        &pki,
        false,
        &format!("    CAfile = {}\n", files.ca.display()),
        3,
    );
    check_https_delivery(&rx, &feed, &exp);
    assert_eq!(rx.connections(), 1, "{}", rx.summary());
}

#[test]
fn https_with_capath_verifies_the_receiver() {
    let pki = TestPki::new("capath");
    let dir = TempDir::new("https-capath");
    let files = pki.write_files(dir.path());
    let (rx, feed, exp) = https_run(
        &pki,
        false,
        &format!("    CApath = {}\n", files.ca_dir.display()),
        2,
    );
    check_https_delivery(&rx, &feed, &exp);
}

#[test]
fn https_with_skip_certificate_verification_sends_to_any_certificate() {
    let pki = TestPki::new("skip");
    let (rx, feed, exp) = https_run(
        &pki,
        false,
        "    ssl skip certificate verification = yes\n",
        2,
    );
    check_https_delivery(&rx, &feed, &exp);
}

#[test]
fn https_with_a_client_certificate() {
    let pki = TestPki::new("mutual");
    let dir = TempDir::new("https-client");
    let files = pki.write_files(dir.path());
    let (rx, feed, exp) = https_run(
        &pki,
        true,
        &format!(
            "    CAfile = {}\n    ssl certificate = {}\n    ssl key = {}\n",
            files.ca.display(),
            files.client_cert.display(),
            files.client_key.display()
        ),
        2,
    );
    check_https_delivery(&rx, &feed, &exp);
    assert!(rx.requests().iter().all(|r| r.client_certificate));
}

/// The instance refuses the receiver's certificate: handshakes fail, nothing
/// is sent, and no plaintext byte of a request reaches the receiver.
fn refused(extra: &str) {
    let pki = TestPki::new("receiver");
    let (rx, feed, exp) = https_run(&pki, false, extra, 1);
    assert!(
        rx.wait(WAIT, |s| !s.tls_errors.is_empty()),
        "no handshake failed\n{}",
        rx.summary()
    );
    let t = exp.wait(
        "a failure to be counted",
        WAIT,
        |t| t.failures >= 1,
        || rx.summary(),
    );
    assert_eq!(t.sent_metrics, 0, "{t:#?}");
    assert!(rx.requests().is_empty(), "{}", rx.summary());
    let state = rx.state();
    assert!(state.connections >= 1);
    for wire in &state.wire {
        assert!(!contains(wire, b"POST") && !contains(wire, b"netdata."));
    }
    assert!(feed.metrics() > 0);
}

#[test]
fn https_with_a_wrong_cafile_fails_the_handshake_and_sends_nothing_in_the_clear() {
    let other = TestPki::new("other");
    let dir = TempDir::new("https-wrong-ca");
    let files = other.write_files(dir.path());
    refused(&format!("    CAfile = {}\n", files.ca.display()));
}

#[test]
fn https_verifies_against_the_system_roots_by_default() {
    refused("");
}
