//! Unit tests of the metrics database: netdata's chart naming, statistics
//! and flush rules, on a store without sockets.

use super::*;

fn metrics(settings: MetricsSettings) -> Metrics {
    Metrics::new(settings, AppCharts::default())
}

fn feed(m: &mut Metrics, packet: &str) -> IngestReport {
    let mut report = IngestReport::default();
    m.ingest(packet.as_bytes(), &mut report);
    report
}

fn raw(host: &Host, id: &str) -> Vec<(String, i64)> {
    let chart = host
        .chart_by_id(id)
        .unwrap_or_else(|| panic!("no chart {id}"));
    let state = chart.read();
    state
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.id().to_string(),
                d.last_collected().map_or(i64::MIN, |(v, _)| v),
            )
        })
        .collect()
}

const SECOND: u64 = 1_000_000;

#[test]
fn chart_type_and_id_split_at_the_first_dot_or_underscore() {
    let split = |n: &str, t: &str| private_chart_type_and_id(n, t);
    assert_eq!(
        split("app.requests", "counter"),
        ("statsd_app".into(), "requests_counter".into())
    );
    assert_eq!(
        split("my_metric.x", "gauge"),
        ("statsd_my".into(), "metric.x_gauge".into())
    );
    assert_eq!(split("plain", "set"), ("statsd_plain".into(), "set".into()));
    assert_eq!(
        split("has space/slash", "meter"),
        ("statsd_has_space_slash".into(), "meter".into())
    );
    assert_eq!(
        split("trailing.", "gauge"),
        ("statsd_trailing".into(), "gauge".into())
    );
    let long = "x".repeat(300);
    let (t, id) = split(&long, "gauge");
    assert_eq!((t.len(), id.as_str()), (200, "gauge"));
}

#[test]
fn histogram_statistics_are_netdatas() {
    // One value: netdata's stddev is the value itself.
    let one = histogram_stats(&[42.0], 95.0);
    assert_eq!(
        (one.min, one.max, one.median, one.stddev),
        (42.0, 42.0, 42.0, 42.0)
    );
    assert!(!one.percentile_rounded);
    // Two values: population stddev, median between them, percentile the
    // first (floor(2 × 0.95) = 1).
    let two = histogram_stats(&[1.0, 2.0], 95.0);
    assert_eq!(
        (two.average, two.median, two.stddev, two.percentile),
        (1.5, 1.5, 0.5, 1.0)
    );
    let series: Vec<f64> = (1..=21).map(f64::from).collect();
    let s = histogram_stats(&series, 95.0);
    assert_eq!((s.percentile, s.median, s.sum), (19.0, 11.0, 231.0));
    assert!((s.stddev - 6.055_300_708).abs() < 1e-6);
}

#[test]
fn flush_keeps_gauges_and_counters_zeroes_sets_and_timers() {
    let host = Host::new("t", 10);
    let mut m = metrics(MetricsSettings::default());
    feed(&mut m, "g:2.5|g\nc:3|c\ns:a|s\ns:b|s\nt:5|ms\nd:k|d");
    m.flush(&host, 100 * SECOND);
    assert_eq!(raw(&host, "statsd_g.gauge"), [("gauge".into(), 2500)]);
    assert_eq!(raw(&host, "statsd_c.counter"), [("counter".into(), 3)]);
    assert_eq!(raw(&host, "statsd_s.set"), [("set".into(), 2)]);
    assert_eq!(raw(&host, "statsd_t.timer")[0], ("min".into(), 5000));
    assert_eq!(raw(&host, "statsd_d.dictionary"), [("k".into(), 1)]);
    // Nothing new in the next interval.
    m.flush(&host, 101 * SECOND);
    assert_eq!(raw(&host, "statsd_g.gauge"), [("gauge".into(), 2500)]);
    assert_eq!(raw(&host, "statsd_c.counter"), [("counter".into(), 3)]);
    assert_eq!(raw(&host, "statsd_s.set"), [("set".into(), 0)]);
    assert_eq!(raw(&host, "statsd_t.timer")[0], ("min".into(), 0));
    assert_eq!(raw(&host, "statsd_d.dictionary"), [("k".into(), 1)]);
    // Counters add up across intervals; a set starts afresh.
    feed(&mut m, "c:4|c\ns:a|s");
    m.flush(&host, 102 * SECOND);
    assert_eq!(raw(&host, "statsd_c.counter"), [("counter".into(), 7)]);
    assert_eq!(raw(&host, "statsd_s.set"), [("set".into(), 1)]);
    assert_eq!(m.private_charts(), 5);
}

#[test]
fn private_charts_hidden_marks_them_hidden() {
    let host = Host::new("t", 10);
    let mut m = metrics(MetricsSettings {
        private_charts_hidden: true,
        ..MetricsSettings::default()
    });
    feed(&mut m, "g:1|g");
    m.flush(&host, 100 * SECOND);
    let chart = host.chart_by_id("statsd_g.gauge").expect("chart");
    assert!(chart.read().def().hidden);
    let host = Host::new("t", 10);
    let mut m = metrics(MetricsSettings::default());
    feed(&mut m, "g:1|g");
    m.flush(&host, 100 * SECOND);
    assert!(
        !host
            .chart_by_id("statsd_g.gauge")
            .expect("chart")
            .read()
            .def()
            .hidden
    );
}

#[test]
fn gaps_leave_uncollected_intervals_empty() {
    let host = Host::new("t", 10);
    let mut m = metrics(MetricsSettings {
        gaps: [true; 7],
        ..MetricsSettings::default()
    });
    feed(&mut m, "g:1|g");
    m.flush(&host, 100 * SECOND);
    let chart = host.chart_by_id("statsd_g.gauge").expect("chart");
    let rounds = chart.read().rounds();
    m.flush(&host, 101 * SECOND);
    assert_eq!(chart.read().rounds(), rounds, "no round without a sample");
}

#[test]
fn dictionaries_fold_new_members_into_other_beyond_the_limit() {
    let host = Host::new("t", 10);
    let mut m = metrics(MetricsSettings {
        dictionary_max_unique: 2,
        ..MetricsSettings::default()
    });
    feed(&mut m, "d:a|d\nd:b|d\nd:c|d\nd:e|d\nd:a|d");
    m.flush(&host, 100 * SECOND);
    let mut got = raw(&host, "statsd_d.dictionary");
    got.sort();
    assert_eq!(got, [("a".into(), 2), ("b".into(), 1), ("other".into(), 2)]);
}

#[test]
fn events_dimension_and_pattern() {
    let host = Host::new("t", 10);
    let mut m = metrics(MetricsSettings {
        events_dimension: true,
        private_charts_matching: SimplePattern::new("!secret.* *"),
        ..MetricsSettings::default()
    });
    feed(&mut m, "x:1|c\nx:1|c\nsecret.y:1|g");
    m.flush(&host, 100 * SECOND);
    assert_eq!(
        raw(&host, "statsd_x.counter"),
        [("counter".into(), 2), ("events".into(), 2)]
    );
    assert!(host.chart_by_id("statsd_secret.y_gauge").is_none());
    // A metric no chart uses gathers nothing once checked.
    assert_eq!(m.useful_counts()[0], 0);
    assert_eq!(m.metric_counts()[0], 1);
}

#[test]
fn the_metric_limit_drops_new_names() {
    let mut m = metrics(MetricsSettings {
        max_metrics: 2,
        ..MetricsSettings::default()
    });
    let report = feed(&mut m, "a:1|g\nb:1|c\nc:1|ms\na:2|g");
    assert_eq!(report.problems, 1);
    assert_eq!(m.stats.errors, 1);
    assert_eq!(m.metric_counts().iter().sum::<u64>(), 2);
    assert_eq!(m.event_counts()[0], 2);
}
