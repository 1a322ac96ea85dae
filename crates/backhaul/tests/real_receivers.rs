//! End-to-end tests against the real receivers netdata users run, from
//! Debian's packages: carbon-cache (whisper) for graphite, and InfluxDB 1.6
//! with its OpenTSDB and graphite inputs. Each test starts its own server on
//! free ports of 127.0.0.1 with a configuration derived from the netdata
//! lab's (see `real/`), exports a synthetic chart with an [`Instance`]
//! driven by `tick()`, reads back what the receiver stored, and checks every
//! value at its exact timestamp.
//!
//! The HTTP(S) connectors are tested against InfluxDB's OpenTSDB input too
//! (`/api/put`, plain and with `tls-enabled`, with a certificate from a CA
//! made at test time), their instances built from exporting.conf text.
//!
//! When a receiver is not installed the test says so on stderr and passes,
//! unless `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (set by `.ci/run`, which
//! installs them), which makes it a failure.

mod real;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use backhaul::config::{parse_exporting_str, parse_main_str, DataSource};
use backhaul::exporting::delivery::lines::LineDelivery;
use backhaul::exporting::monitoring::IntervalCounters;
use backhaul::exporting::{
    BatchBuilder, BatchRing, BatchSettings, Endpoint, Format, Instance, InstanceParts,
    InstanceTotals, Schedule, Transport,
};
use real::{influx_query, now_s, whisper_fetch, Carbon, Influx, Server};
use rrd::{Chart, ChartDef, DimensionDef, Host, Label, LabelSource, Store};
use support::tls::TestPki;

const S: u64 = 1_000_000;
/// Points exported per dimension, one a second.
const POINTS: i64 = 5;

/// One dimension of the synthetic chart `test.real` (named `Weird Name`).
struct Dim {
    id: &'static str,
    name: Option<&'static str>,
    multiplier: i64,
    divisor: i64,
    /// The raw value collected for point `k` (1..=POINTS).
    raw: fn(i64) -> i64,
    /// The value stored for point `k`, which is what goes on the wire (with 7
    /// decimals) and what the receiver must store, to the bit.
    value: fn(i64) -> f64,
    /// The dimension's part of the metric path (its name, sanitised).
    exported: &'static str,
}

const DIMS: [Dim; 4] = [
    Dim {
        id: "ints",
        name: None,
        multiplier: 1,
        divisor: 1,
        raw: |k| 100 * k,
        value: |k| (100 * k) as f64,
        exported: "ints",
    },
    Dim {
        id: "quarter",
        name: None,
        multiplier: 1,
        divisor: 4,
        raw: |k| 10 * k + 1,
        value: |k| (10 * k + 1) as f64 / 4.0, // 2.75, 5.25, ...
        exported: "quarter",
    },
    Dim {
        id: "neg",
        name: Some("in/out"),
        multiplier: -1,
        divisor: 2,
        raw: |k| 5 * k,
        value: |k| -2.5 * k as f64,
        exported: "in_out",
    },
    Dim {
        id: "big",
        name: None,
        multiplier: 1,
        divisor: 1,
        raw: |k| 123_456_789_012_345 + k,
        // The store keeps about 7 significant digits.
        value: |_| 123_456_790_000_000.0,
        exported: "big",
    },
];

/// The chart part of metric paths: `type.name`, sanitised.
const CHART: &str = "test.Weird_Name";

/// A store with one host and the chart `test.real`, and the second `t0`
/// its points start after.
struct Synthetic {
    store: Arc<Store>,
    chart: Arc<Chart>,
    /// Point `k` is stored at `t0 + k`. A 10-s boundary a minute ago: whisper
    /// only takes points inside its retention (1 h), and all are past.
    t0: i64,
}

impl Synthetic {
    fn new(labels: Vec<Label>) -> Synthetic {
        let store = Arc::new(Store::new(Host::new("box", 600)));
        store.localhost().set_labels(labels);
        let chart = store
            .localhost()
            .create_chart(ChartDef::new("test", "real").name("Weird Name"));
        {
            let mut w = chart.write();
            for d in &DIMS {
                let mut def = DimensionDef::new(d.id)
                    .multiplier(d.multiplier)
                    .divisor(d.divisor);
                if let Some(n) = d.name {
                    def = def.name(n);
                }
                w.add_dimension(def);
            }
        }
        Synthetic {
            store,
            chart,
            t0: (now_s() - 60) / 10 * 10,
        }
    }

    /// Stores point `k` at `t0 + k`.
    fn collect(&self, k: i64) {
        let mut w = self.chart.write();
        for (i, d) in DIMS.iter().enumerate() {
            w.set(i, (d.raw)(k));
        }
        w.done((self.t0 + k) as u64 * S).expect("collect");
    }

    /// What `dim` must read back as: `t0 + k → value`.
    fn series(&self, dim: &Dim) -> BTreeMap<i64, Option<f64>> {
        (1..=POINTS)
            .map(|k| (self.t0 + k, Some((dim.value)(k))))
            .collect()
    }
}

/// Host labels in an unsorted order, one automatic (not sent).
fn labels() -> Vec<Label> {
    vec![
        Label::new("zone", "eu west", LabelSource::Configured),
        Label::new("env", "lab", LabelSource::Configured),
        Label::new("_architecture", "x86_64", LabelSource::Automatic),
    ]
}

fn settings(hostname: &str, send_labels: bool) -> BatchSettings {
    BatchSettings {
        data_source: DataSource::Average,
        prefix: "netdata".into(),
        hostname: hostname.into(),
        update_every: 1,
        send_names_instead_of_ids: true,
        send_charts_matching: "*".into(),
        send_hosts_matching: "localhost *".into(),
        send_configured_labels: send_labels,
        send_automatic_labels: false,
        host_tags: Vec::new(),
        send_variables: false,
    }
}

fn instance(connector: Format, addr: SocketAddr, settings: BatchSettings) -> Instance {
    let endpoint = Endpoint {
        host: addr.ip().to_string(),
        port: addr.port(),
    };
    Instance::new(InstanceParts {
        name: "real".into(),
        destination: addr.to_string(),
        update_every: 1,
        builder: BatchBuilder::new(settings, connector),
        delivery: Box::new(LineDelivery::new(
            "real",
            Transport::new(vec![endpoint], Duration::from_secs(5)),
            Instance::default_retry(1),
            Duration::from_secs(5),
        )),
        ring: BatchRing::new(10),
        charts: None,
        schedule: Schedule::with_offset(1, 0),
    })
}

/// Collects and exports points 1..=POINTS, one `tick()` each, then delivers
/// until the receiver's kernel acknowledged everything (bounded).
fn export(fx: &Synthetic, inst: &mut Instance, server: &mut Server) {
    for k in 1..=POINTS {
        fx.collect(k);
        inst.tick(&fx.store, fx.t0 + k, IntervalCounters::default());
    }
    server.wait_for("the batches to be delivered", || {
        inst.deliver(&mut IntervalCounters::default());
        if inst.ring.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} batches undelivered, {} failures",
                inst.ring.len(),
                InstanceTotals::get(&inst.totals.failures)
            ))
        }
    });
    let metrics = POINTS as u64 * DIMS.len() as u64;
    assert_eq!(InstanceTotals::get(&inst.totals.sent_metrics), metrics);
    assert_eq!(InstanceTotals::get(&inst.totals.lost_metrics), 0);
}

/// Waits (bounded) until whisper holds exactly `want` at `path`.
fn wait_whisper(carbon: &mut Carbon, path: &std::path::Path, want: &BTreeMap<i64, Option<f64>>) {
    let (from, until) = (
        *want.keys().next().unwrap() - 1,
        *want.keys().last().unwrap(),
    );
    carbon
        .server
        .wait_for(&format!("{} to hold {want:?}", path.display()), || {
            if !path.exists() {
                return Err("no such file yet".into());
            }
            match whisper_fetch(path, from, until) {
                Ok(got) if got == *want => Ok(()),
                Ok(got) => Err(format!("{got:?}")),
                Err(e) => Err(e),
            }
        });
}

#[test]
fn carbon_stores_every_value_at_its_timestamp_and_tagged_lines_by_hash() {
    if !real::require(
        "carbon test",
        &["carbon-cache", "whisper-fetch", "sha256sum"],
    ) {
        return;
    }
    let mut carbon = Carbon::start();

    // Without labels: plain paths, PREFIX/HOST/CHART/DIM.wsp.
    let fx = Synthetic::new(Vec::new());
    let mut inst = instance(Format::Graphite, carbon.line, settings("box", true));
    export(&fx, &mut inst, &mut carbon.server);
    for dim in &DIMS {
        let path = carbon.wsp_path(&format!("netdata.box.{CHART}.{}", dim.exported));
        wait_whisper(&mut carbon, &path, &fx.series(dim));
    }
    assert_eq!(
        carbon.wsp_path("netdata.box.test.Weird_Name.ints"),
        carbon
            .whisper_dir
            .join("netdata/box/test/Weird_Name/ints.wsp")
    );

    // With host labels: `;k=v` tags. With ENABLE_TAGS = False carbon still
    // parses them (ENABLE_TAGS only feeds graphite-web's tag database): it
    // sorts the tags, and whisper stores the series under
    // `_tagged/HHH/hhh/SHA256.wsp`, by the hash of the sorted name.
    let probe = Synthetic::new(labels());
    probe.collect(1);
    let mut line = Vec::new();
    BatchBuilder::new(settings("labelled", true), Format::Graphite).build(
        &probe.store,
        probe.t0 + 1,
        &mut line,
    );
    // The line as it goes out: labels in the host's order, automatic ones
    // left out.
    assert_eq!(
        String::from_utf8(line).unwrap().lines().next().unwrap(),
        format!(
            "netdata.labelled.{CHART}.ints;zone=eu_west;env=lab 100.0000000 {}",
            probe.t0 + 1
        )
    );
    let fx = Synthetic::new(labels());
    let mut inst = instance(Format::Graphite, carbon.line, settings("labelled", true));
    export(&fx, &mut inst, &mut carbon.server);
    for dim in &DIMS {
        let sent = format!(
            "netdata.labelled.{CHART}.{};zone=eu_west;env=lab",
            dim.exported
        );
        let normalised = format!(
            "netdata.labelled.{CHART}.{};env=lab;zone=eu_west",
            dim.exported
        );
        let path = carbon.tagged_wsp_path(&normalised);
        wait_whisper(&mut carbon, &path, &fx.series(dim));
        assert!(
            !carbon.tagged_wsp_path(&sent).exists(),
            "carbon did not sort the tags of {sent}"
        );
    }
    // Nothing went to a plain path.
    assert!(!carbon.whisper_dir.join("netdata/labelled").exists());
    let plain: BTreeSet<_> = std::fs::read_dir(carbon.whisper_dir.join("netdata"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(plain, BTreeSet::from(["box".to_string()]));
}

/// Waits (bounded) until `q` on `db` returns `rows` rows, all of them with
/// every column of `complete` filled.
fn wait_rows(
    influx: &mut Influx,
    db: &str,
    q: &str,
    rows: usize,
    complete: &[String],
) -> Vec<BTreeMap<String, String>> {
    let http = influx.http;
    influx
        .server
        .wait_for(&format!("{rows} rows from {q}"), || {
            let got = influx_query(http, db, q)?;
            let filled = got.iter().all(|r| {
                complete
                    .iter()
                    .all(|c| r.get(c).is_some_and(|v| !v.is_empty()))
            });
            if got.len() == rows && filled {
                Ok(got)
            } else {
                Err(format!("{got:?}"))
            }
        })
}

fn f64_of(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|e| panic!("{column} in {row:?}: {e}"))
}

fn time_of(row: &BTreeMap<String, String>) -> i64 {
    row["time"]
        .parse()
        .unwrap_or_else(|e| panic!("time in {row:?}: {e}"))
}

#[test]
fn influxdb_opentsdb_input_stores_values_timestamps_and_tags() {
    if !real::require("influxdb opentsdb test", &["influxd"]) {
        return;
    }
    let mut influx = Influx::start();
    let fx = Synthetic::new(labels());
    let mut inst = instance(Format::Opentsdb, influx.opentsdb, settings("box", true));
    export(&fx, &mut inst, &mut influx.server);
    check_opentsdb_series(&mut influx, "opentsdb", &fx, "eu_west");
}

/// Checks that database `db` holds every point of `fx`'s dimensions under
/// `netdata.test.Weird_Name.DIM`, tagged `host=box env=lab zone=ZONE` (the
/// automatic label left out), each value at its exact timestamp.
fn check_opentsdb_series(influx: &mut Influx, db: &str, fx: &Synthetic, zone: &str) {
    for dim in &DIMS {
        // `put netdata.test.Weird_Name.DIM T VALUE host=box zone=eu_west env=lab`
        let measurement = format!("netdata.{CHART}.{}", dim.exported);
        let q = format!("SELECT * FROM \"{measurement}\"");
        let rows = wait_rows(influx, db, &q, POINTS as usize, &["value".into()]);
        let columns: BTreeSet<&str> = rows[0].keys().map(String::as_str).collect();
        assert_eq!(
            columns,
            BTreeSet::from(["name", "tags", "time", "value", "host", "env", "zone"]),
            "tags of {measurement}: automatic labels are not sent"
        );
        for r in &rows {
            assert_eq!(r["name"], measurement);
            assert_eq!(
                (r["host"].as_str(), r["env"].as_str(), r["zone"].as_str()),
                ("box", "lab", zone)
            );
        }
        let got: BTreeMap<i64, Option<f64>> = rows
            .iter()
            .map(|r| (time_of(r), Some(f64_of(r, "value"))))
            .collect();
        assert_eq!(got, fx.series(dim), "{measurement}");
    }
}

/// InfluxDB's graphite input with the lab's template
/// `netdata.* .host.measurement.field*`: the chart type becomes the
/// measurement, the rest of the path the field. Labels are off: InfluxDB
/// 1.6's graphite parser does not know `;tags` (they end up in the field
/// name, `Weird_Name.ints;zone=eu_west;env=lab`).
#[test]
fn influxdb_graphite_input_applies_the_lab_template() {
    if !real::require("influxdb graphite test", &["influxd"]) {
        return;
    }
    let mut influx = Influx::start();
    let fx = Synthetic::new(labels());
    let mut inst = instance(Format::Graphite, influx.graphite, settings("box", false));
    export(&fx, &mut inst, &mut influx.server);
    let fields: Vec<String> = DIMS
        .iter()
        .map(|d| format!("Weird_Name.{}", d.exported))
        .collect();
    let rows = wait_rows(
        &mut influx,
        "graphite",
        "SELECT * FROM \"test\"",
        POINTS as usize,
        &fields,
    );
    let columns: BTreeSet<&str> = rows[0].keys().map(String::as_str).collect();
    let mut want_columns = BTreeSet::from(["name", "tags", "time", "host"]);
    want_columns.extend(fields.iter().map(String::as_str));
    assert_eq!(columns, want_columns);
    assert!(
        rows.iter()
            .all(|r| r["name"] == "test" && r["host"] == "box"),
        "{rows:?}"
    );
    for (dim, field) in DIMS.iter().zip(&fields) {
        let got: BTreeMap<i64, Option<f64>> = rows
            .iter()
            .map(|r| (time_of(r), Some(f64_of(r, field))))
            .collect();
        assert_eq!(got, fx.series(dim), "{field}");
    }
}

/// An instance built from exporting.conf text: `[CONNECTOR:real]` sending
/// to `destination` every second, host `box`, with `extra` settings.
fn configured_instance(connector: &str, destination: &str, extra: &str, store: &Store) -> Instance {
    let (main, _) = parse_main_str("[global]\n    hostname = box\n", "netdata.conf")
        .unwrap_or_else(|e| panic!("netdata.conf: {e}"));
    let text = format!(
        "[{connector}:real]
    enabled = yes
    destination = {destination}
    update every = 1
    send charts matching = *
    timeout ms = 5000
{extra}"
    );
    let (exporting, warnings) = parse_exporting_str(&text, "exporting.conf", &main)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(
        warnings.is_empty(),
        "{}\n{text}",
        warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    backhaul::exporting::build_instance(&exporting.instances[0], store, false)
        .unwrap_or_else(|e| panic!("{connector}: {e}"))
}

/// InfluxDB 1.6's OpenTSDB input creates its database before its first
/// `put` line, but its `/api/put` handler does not: without the database it
/// answers `500 write series error: database not found`. Users create it;
/// so do the tests.
fn create_opentsdb_databases(influx: &mut Influx) {
    for db in ["opentsdb", "opentsdb_tls"] {
        if let Err(e) = real::influx_exec(influx.http, &format!("CREATE DATABASE \"{db}\"")) {
            influx.server.fail(&e);
        }
    }
}

/// Host labels that no label sanitizer changes, one automatic (not sent).
fn plain_labels() -> Vec<Label> {
    vec![
        Label::new("zone", "eu1", LabelSource::Configured),
        Label::new("env", "lab", LabelSource::Configured),
        Label::new("_is_ephemeral", "false", LabelSource::Automatic),
    ]
}

/// `opentsdb:http` to InfluxDB's OpenTSDB input, and `opentsdb:https` (with
/// `CAfile`, to `localhost`) to a second one with `tls-enabled = true` and a
/// certificate from a CA made for the test: every value at its timestamp,
/// with its tags.
#[test]
fn influxdb_opentsdb_input_over_http_and_https_stores_values_timestamps_and_tags() {
    if !real::require("influxdb opentsdb http(s) test", &["influxd"]) {
        return;
    }
    let pki = TestPki::new("influxdb");
    let certs = real::TempDir::new("influx-pki");
    let files = pki.write_files(certs.path());
    let mut influx = Influx::start_with_opentsdb_tls(&files.server_combined);
    let tls = influx.opentsdb_tls.expect("the TLS input");
    create_opentsdb_databases(&mut influx);
    let cases = [
        (
            "opentsdb:http",
            format!("127.0.0.1:{}", influx.opentsdb.port()),
            String::new(),
            "opentsdb",
        ),
        (
            "opentsdb:https",
            format!("localhost:{}", tls.port()),
            format!("    CAfile = {}\n", files.ca.display()),
            "opentsdb_tls",
        ),
    ];
    for (connector, destination, extra, db) in cases {
        let fx = Synthetic::new(plain_labels());
        let mut inst = configured_instance(connector, &destination, &extra, &fx.store);
        export(&fx, &mut inst, &mut influx.server);
        check_opentsdb_series(&mut influx, db, &fx, "eu1");
    }
}

/// One `/api/put` request with `Connection: close` on `stream`; returns
/// the answer (read to its end).
fn post_api_put(
    stream: &mut (impl std::io::Read + std::io::Write),
    host: &str,
    body: &str,
) -> String {
    write!(
        stream,
        "POST /api/put HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write the request");
    stream.flush().expect("flush");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            // A TLS end without close_notify shows as an error after the
            // answer.
            Err(_) if !answer.is_empty() => break,
            Err(e) => panic!("no answer: {e}"),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The test set-up itself: InfluxDB's OpenTSDB inputs take `/api/put`
/// requests in the connectors' framing, over plain HTTP and over TLS with
/// the test CA's certificate, from a rustls client that trusts only that CA
/// and checks the name `localhost`.
#[test]
fn influxdb_opentsdb_inputs_take_api_put_over_http_and_over_tls_with_the_test_ca() {
    if !real::require("influxdb opentsdb http(s) set-up test", &["influxd"]) {
        return;
    }
    let pki = TestPki::new("influxdb-probe");
    let certs = real::TempDir::new("influx-pki");
    let files = pki.write_files(certs.path());
    let mut influx = Influx::start_with_opentsdb_tls(&files.server_combined);
    let tls_addr = influx.opentsdb_tls.expect("the TLS input");
    create_opentsdb_databases(&mut influx);
    let t = (now_s() - 60) / 10 * 10;
    let body = format!(
        "[\n{{\"metric\":\"probe\",\"timestamp\":{t},\"value\":2.7500000,\"tags\":{{\"host\":\"box\"}}}},\n{{\"metric\":\"probe\",\"timestamp\":{},\"value\":-1.5000000,\"tags\":{{\"host\":\"box\"}}}}\n]\n",
        t + 1
    );
    let connect = |addr: SocketAddr| {
        let tcp = std::net::TcpStream::connect_timeout(&addr, real::WAIT).expect("connect");
        tcp.set_read_timeout(Some(real::WAIT)).expect("timeout");
        tcp.set_write_timeout(Some(real::WAIT)).expect("timeout");
        tcp
    };

    let mut plain = connect(influx.opentsdb);
    let answer = post_api_put(&mut plain, &influx.opentsdb.to_string(), &body);
    assert!(answer.starts_with("HTTP/1.1 204 "), "{answer}");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(pki.roots())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let mut tls = rustls::StreamOwned::new(conn, connect(tls_addr));
    let answer = post_api_put(&mut tls, &format!("localhost:{}", tls_addr.port()), &body);
    assert!(answer.starts_with("HTTP/1.1 204 "), "{answer}");

    for db in ["opentsdb", "opentsdb_tls"] {
        let rows = wait_rows(
            &mut influx,
            db,
            "SELECT * FROM \"probe\"",
            2,
            &["value".into()],
        );
        let got: Vec<(i64, f64)> = rows
            .iter()
            .map(|r| (time_of(r), f64_of(r, "value")))
            .collect();
        assert_eq!(got, vec![(t, 2.75), (t + 1, -1.5)], "{db}");
    }
}
