//! Child mode, black-box on 127.0.0.1:0: backhaul's sender against an
//! in-process fake parent (the `STREAM` request, the answer, labels and
//! definitions, `REPLAY_CHART` answered from the store, live rounds,
//! netdata's refusals, failover, reconnects, the buffer bound, custom
//! variables), and against
//! a backhaul parent in the same process (the child's history and live
//! values land in the parent's store under the child's hostname).
//!
//! Every wait is bounded and watches a socket, a counter or the store.

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backhaul::config::{self, ExportingConfig, LoadedConfig, SenderConfig, StreamDestination};
use backhaul::shutdown::Shutdown;
use backhaul::stream::sender::{SenderOptions, StreamSender};
use backhaul::stream::{ReceiverOptions, StreamReceiver};
use backhaul::web::{Hooks, StreamHandler, WebServer};
use rrd::{Algorithm, Chart, ChartDef, DimensionDef, Host, Label, LabelSource, Store};

const KEY: &str = "11111111-2222-3333-4444-555555555555";
const GUID: &str = "0c0ffee0-0000-4000-8000-000000000001";
const WAIT: Duration = Duration::from_secs(10);

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A child host with `test.gauge` (absolute: `g`, `h`) holding `past`
/// points, the newest at `now_s() - 1`.
fn child_store(past: i64) -> (Arc<Store>, i64) {
    let host = Host::new("child-b", 300);
    host.set_labels(vec![Label::new("env", "test", LabelSource::Configured)]);
    let store = Arc::new(Store::new(host));
    let chart = store.localhost().create_chart(
        ChartDef::new("test", "gauge")
            .title("Gauge")
            .units("things")
            .family("fam")
            .context("test.gauge")
            .priority(1000)
            .update_every(1),
    );
    {
        let mut w = chart.write();
        w.add_dimension(DimensionDef::new("g").algorithm(Algorithm::Absolute));
        w.add_dimension(DimensionDef::new("h").algorithm(Algorithm::Absolute));
    }
    let last = now_s() - 1;
    for t in (last - past + 1)..=last {
        round(&store, t, t % 1000);
    }
    (store, last)
}

/// One collection round of `test.gauge` at second `t`: `g = v`, `h = 2v`.
fn round(store: &Store, t: i64, v: i64) {
    let chart = store.localhost().chart_by_id("test.gauge").unwrap();
    let mut w = chart.write();
    w.set_by_id("g", v);
    w.set_by_id("h", 2 * v);
    w.done(t as u64 * 1_000_000).unwrap();
}

fn sender_config(destinations: &[SocketAddr]) -> SenderConfig {
    SenderConfig {
        enabled: true,
        destinations: destinations
            .iter()
            .map(|addr| StreamDestination {
                destination: config::parse_destination(&addr.to_string(), None, false).unwrap(),
                tls: false,
            })
            .collect(),
        api_key: KEY.to_string(),
        reconnect_delay_seconds: 1,
        timeout_seconds: 5,
        ..SenderConfig::default()
    }
}

fn start_sender(store: &Arc<Store>, config: SenderConfig, shutdown: &Shutdown) -> StreamSender {
    start_sender_with(store, config, false, shutdown)
}

fn start_sender_with(
    store: &Arc<Store>,
    config: SenderConfig,
    enable_compression: bool,
    shutdown: &Shutdown,
) -> StreamSender {
    StreamSender::start(
        store.localhost().clone(),
        SenderOptions {
            config,
            hostname: "child-b".into(),
            machine_guid: GUID.into(),
            update_every: 1,
            hops: 1,
            enable_compression,
        },
        shutdown.clone(),
    )
    .unwrap()
}

/// The fake parent's side of one connection.
struct Accepted {
    reader: BufReader<TcpStream>,
    socket: TcpStream,
    head: String,
}

impl Accepted {
    /// The sender's next connection (within [`WAIT`]), read up to the end
    /// of its `STREAM` request.
    fn accept(listener: &TcpListener) -> Accepted {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + WAIT;
        let socket = loop {
            match listener.accept() {
                Ok((socket, _)) => break socket,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "the sender never connected");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accepting the sender: {e}"),
            }
        };
        socket.set_nonblocking(false).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        let mut reader = BufReader::new(socket.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            assert!(reader.read_line(&mut line).unwrap() > 0, "head cut: {head}");
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        Accepted {
            reader,
            socket,
            head,
        }
    }

    fn send(&mut self, text: &str) {
        self.socket.write_all(text.as_bytes()).unwrap();
    }

    /// Lines up to (and including) the first that starts with `until`.
    fn lines_until(&mut self, until: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap();
            assert!(n > 0, "closed before '{until}': {lines:?}");
            let line = line.trim_end_matches('\n').to_string();
            let done = line.starts_with(until);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }
}

/// A sender of `store` to a fake parent on 127.0.0.1 (`sender_config`
/// changed by `tweak`), and the parent's side of its connection, before
/// the parent's answer.
fn sender_to_fake_parent(
    store: &Arc<Store>,
    tweak: impl FnOnce(SenderConfig) -> SenderConfig,
) -> (StreamSender, Shutdown, Accepted) {
    let (sender, shutdown, _, parent) = sender_to_listening_fake_parent(store, tweak);
    (sender, shutdown, parent)
}

/// [`sender_to_fake_parent`], and the fake parent's listener, which
/// takes the sender's next connections.
fn sender_to_listening_fake_parent(
    store: &Arc<Store>,
    tweak: impl FnOnce(SenderConfig) -> SenderConfig,
) -> (StreamSender, Shutdown, TcpListener, Accepted) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let shutdown = Shutdown::new();
    let config = tweak(sender_config(&[listener.local_addr().unwrap()]));
    let sender = start_sender(store, config, &shutdown);
    let parent = Accepted::accept(&listener);
    (sender, shutdown, listener, parent)
}

/// Replication, labels, chart labels, claim: what a 1.37 parent answers.
const PARENT_VERSION: u32 = 64 | 128 | 256 | 512 | 4096;

#[test]
fn a_fake_parent_gets_labels_definitions_replication_and_live_rounds() {
    let (store, last) = child_store(20);
    let (sender, shutdown, mut parent) = sender_to_fake_parent(&store, |c| c);
    assert!(
        parent.head.starts_with(&format!(
            "STREAM key={KEY}&hostname=child-b&registry_hostname=child-b&machine_guid={GUID}&update_every=1&os=linux&"
        )),
        "{}",
        parent.head
    );
    assert!(parent.head.contains("&hops=1&"), "{}", parent.head);
    assert!(parent.head.contains("&ver=5112&"), "{}", parent.head);
    assert!(
        parent
            .head
            .contains("&NETDATA_PROTOCOL_VERSION=1.1 HTTP/1.1\r\n"),
        "{}",
        parent.head
    );
    parent.send(&format!(
        "Hit me baby, push them over with the version={PARENT_VERSION}"
    ));

    let labels = parent.lines_until("OVERWRITE");
    assert_eq!(labels[0], format!("CLAIMED_ID {GUID} NULL"));
    assert!(
        labels.contains(&"LABEL \"env\" = 2 \"test\"".to_string()),
        "{labels:?}"
    );
    let definition = parent.lines_until("CHART_DEFINITION_END");
    assert_eq!(
        definition[0],
        "CHART \"test.gauge\" \"\" \"Gauge\" \"things\" \"fam\" \"test.gauge\" \"line\" 1000 1 \"   \" \"\" \"\""
    );
    assert!(
        !definition.iter().any(|l| l.starts_with("CLABEL")),
        "no labels, no CLABEL_COMMIT (netdata's parent drops the connection on one): {definition:?}"
    );
    assert!(
        definition.contains(&"DIMENSION \"g\" \"g\" \"absolute\" 1 1 \"  \"".to_string()),
        "{definition:?}"
    );
    let end: Vec<i64> = definition
        .last()
        .unwrap()
        .split(' ')
        .skip(1)
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(&end[..2], &[last - 19, last]);
    assert!((end[2] - now_s()).abs() <= 2);

    // Replication: the last five seconds, then live.
    assert_eq!(sender.counters().rounds_sent.load(Ordering::Relaxed), 0);
    parent.send(&format!(
        "REPLAY_CHART \"test.gauge\" \"true\" {} {}\n",
        last - 5,
        last
    ));
    let answer = parent.lines_until("REND");
    assert_eq!(answer[0], "RBEGIN \"test.gauge\"");
    let points: Vec<&String> = answer
        .iter()
        .filter(|l| l.starts_with("RBEGIN ''"))
        .collect();
    assert_eq!(points.len(), 5, "{answer:?}");
    let t = last - 2;
    let at = answer
        .iter()
        .position(|l| {
            *l == format!("RBEGIN '' {} {t} {}", t - 1, end[2])
                || l.starts_with(&format!("RBEGIN '' {} {t} ", t - 1))
        })
        .unwrap_or_else(|| panic!("no point at {t}: {answer:?}"));
    let v = t % 1000;
    assert_eq!(answer[at + 1], format!("RSET \"g\" {v}.0000000 \"\""));
    assert_eq!(answer[at + 2], format!("RSET \"h\" {}.0000000 \"\"", 2 * v));
    assert!(answer.iter().any(|l| l.starts_with("RDSTATE \"g\" ")));
    assert!(answer.iter().any(|l| l.starts_with("RSSTATE ")));
    assert!(
        answer.last().unwrap().starts_with(&format!(
            "REND 1 {} {last} true {} {last} ",
            last - 19,
            last - 5
        )),
        "{answer:?}"
    );

    // Live: the next round goes out as BEGIN/SET/END.
    round(&store, last + 1, 777);
    let live = parent.lines_until("END");
    assert_eq!(
        live,
        [
            "BEGIN \"test.gauge\" 1000000".to_string(),
            "SET \"g\" = 777".into(),
            "SET \"h\" = 1554".into(),
            "END".into()
        ]
    );
    assert_eq!(sender.counters().replayed_points.load(Ordering::Relaxed), 5);
    assert_eq!(sender.counters().connected.load(Ordering::Relaxed), 1);

    // A dimension added: the chart is defined again and waits for the
    // parent's REPLAY_CHART; the round meanwhile goes out after it.
    let chart = store.localhost().chart_by_id("test.gauge").unwrap();
    chart
        .write()
        .add_dimension(DimensionDef::new("k").algorithm(Algorithm::Absolute));
    let redefinition = parent.lines_until("CHART_DEFINITION_END");
    assert!(
        redefinition[0].starts_with("CHART \"test.gauge\""),
        "{redefinition:?}"
    );
    assert!(redefinition
        .iter()
        .any(|l| l.starts_with("DIMENSION \"k\"")));
    round(&store, last + 2, 888);
    parent.send("REPLAY_CHART \"test.gauge\" \"true\" 0 0\n");
    let answer = parent.lines_until("REND");
    assert!(answer.last().unwrap().starts_with("REND 1 "), "{answer:?}");
    let live = parent.lines_until("END");
    assert_eq!(live[0], "BEGIN \"test.gauge\" 1000000", "{live:?}");
    assert_eq!(live[1], "SET \"g\" = 888");
    shutdown.trigger();
    sender.join();
}

#[test]
fn a_chart_receiving_history_is_forwarded_whole_once_it_is_in() {
    // A proxy's view of a child host: `test.gauge` is still receiving its
    // history from the child; `test.other` is complete.
    let (store, last) = child_store(3);
    let other = store.localhost().create_chart(
        ChartDef::new("test", "other")
            .context("test.other")
            .update_every(1),
    );
    other
        .write()
        .add_dimension(DimensionDef::new("o").algorithm(Algorithm::Absolute));
    let gauge = store.localhost().chart_by_id("test.gauge").unwrap();
    gauge.write().set_receiving_history(true);

    let (sender, shutdown, mut parent) = sender_to_fake_parent(&store, |c| c);
    parent.send(&format!(
        "Hit me baby, push them over with the version={PARENT_VERSION}"
    ));
    let mut seen = parent.lines_until("CHART_DEFINITION_END");
    parent.send("REPLAY_CHART \"test.other\" \"true\" 0 0\n");
    seen.extend(parent.lines_until("REND"));
    // A round of test.other goes out on a later poll than the first
    // definitions: by then test.gauge would have been defined too.
    {
        let mut w = other.write();
        w.set_by_id("o", 5);
        w.done((last + 1) as u64 * 1_000_000).unwrap();
    }
    seen.extend(parent.lines_until("END"));
    assert!(
        !seen.iter().any(|l| l.contains("test.gauge")),
        "a chart receiving history is not forwarded in part: {seen:?}"
    );
    assert_eq!(sender.counters().charts_sent.load(Ordering::Relaxed), 1);

    // The rest of the history comes in (points, not rounds), then it ends:
    // the chart is defined with all of it, and the parent gets all of it.
    {
        let mut w = gauge.write();
        for t in last + 1..=last + 4 {
            w.store_point(t, &[(0, (t % 1000) as f64), (1, (2 * (t % 1000)) as f64)]);
        }
        w.set_receiving_history(false);
    }
    let definition = parent.lines_until("CHART_DEFINITION_END");
    assert!(
        definition[0].starts_with("CHART \"test.gauge\""),
        "{definition:?}"
    );
    let end = definition.last().unwrap();
    assert!(
        end.starts_with(&format!("CHART_DEFINITION_END {} {} ", last - 2, last + 4)),
        "{end}"
    );
    parent.send(&format!(
        "REPLAY_CHART \"test.gauge\" \"true\" {} {}\n",
        last - 3,
        last + 4
    ));
    let answer = parent.lines_until("REND");
    let points = answer.iter().filter(|l| l.starts_with("RBEGIN ''")).count();
    assert_eq!(points, 7, "{answer:?}");

    // Forwarded already, the chart receives history again (the child came
    // back after a gap): once that ends it is defined again, so the parent
    // asks for the gap.
    gauge.write().set_receiving_history(true);
    {
        let mut w = gauge.write();
        w.store_point(last + 9, &[(0, 9.0), (1, 18.0)]);
        w.set_receiving_history(false);
    }
    let again = parent.lines_until("CHART_DEFINITION_END");
    assert!(again[0].starts_with("CHART \"test.gauge\""), "{again:?}");
    assert!(
        again.last().unwrap().starts_with(&format!(
            "CHART_DEFINITION_END {} {} ",
            last - 2,
            last + 9
        )),
        "{again:?}"
    );
    shutdown.trigger();
    sender.join();
}

#[test]
fn refusals_are_logged_and_the_next_parent_or_attempt_is_tried() {
    let (store, _) = child_store(3);
    // The first destination refuses nothing: it is closed.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let shutdown = Shutdown::new();
    let sender = start_sender(
        &store,
        sender_config(&[dead_addr, listener.local_addr().unwrap()]),
        &shutdown,
    );
    // 401, as netdata refuses a key.
    let mut first = Accepted::accept(&listener);
    first.send(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 68\r\n\r\n\
         You are not permitted to access this. Check the logs for more info.",
    );
    drop(first);
    wait_until("the refusal counted", || {
        sender.counters().refused.load(Ordering::Relaxed) == 1
    });
    assert!(sender.counters().connect_failures.load(Ordering::Relaxed) >= 1);
    // 409: this GUID is streaming already.
    let mut second = Accepted::accept(&listener);
    second.send("HTTP/1.1 409 Conflict\r\nContent-Length: 46\r\n\r\nThis GUID is already streaming to this server");
    drop(second);
    wait_until("the second refusal counted", || {
        sender.counters().refused.load(Ordering::Relaxed) == 2
    });
    // Then accepted; a cut connection is made again.
    let mut third = Accepted::accept(&listener);
    third.send("Hit me baby, push them over with the version=5056");
    third.lines_until("CHART_DEFINITION_END");
    assert_eq!(sender.counters().connected.load(Ordering::Relaxed), 1);
    assert!(sender.parent().is_some());
    drop(third);
    let mut fourth = Accepted::accept(&listener);
    fourth.send("Hit me baby, push them over with the version=5056");
    fourth.lines_until("CHART_DEFINITION_END");
    assert_eq!(sender.counters().connected.load(Ordering::Relaxed), 2);
    assert_eq!(sender.counters().disconnected.load(Ordering::Relaxed), 1);
    shutdown.trigger();
    sender.join();
}

#[test]
fn an_old_parent_without_replication_gets_values_at_once() {
    let (store, _) = child_store(3);
    let (sender, shutdown, mut parent) = sender_to_fake_parent(&store, |c| c);
    // Version 4: labels and chart labels, no replication.
    parent.send("Hit me baby, push them over with the version=4");
    let lines = parent.lines_until("END");
    assert!(
        !lines.iter().any(|l| l.starts_with("CHART_DEFINITION_END")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("BEGIN \"test.gauge\"")));
    shutdown.trigger();
    sender.join();
}

#[test]
fn a_buffer_over_buffer_size_bytes_drops_the_connection_and_counts() {
    let (store, _) = child_store(3);
    // A chart whose definition alone is over the bound.
    let wide = store
        .localhost()
        .create_chart(ChartDef::new("test", "wide").update_every(1));
    {
        let mut w = wide.write();
        for d in 0..40 {
            w.add_dimension(DimensionDef::new(format!("dimension_number_{d}")));
        }
    }
    let (sender, shutdown, mut parent) = sender_to_fake_parent(&store, |c| SenderConfig {
        buffer_size_bytes: 1024,
        ..c
    });
    parent.send("Hit me baby, push them over with the version=5056");
    wait_until("the overflow counted", || {
        sender.counters().overflows.load(Ordering::Relaxed) >= 1
    });
    let mut rest = Vec::new();
    let _ = parent.reader.read_to_end(&mut rest);
    assert_eq!(sender.counters().disconnected.load(Ordering::Relaxed), 1);
    shutdown.trigger();
    sender.join();
}

/// A backhaul parent (receiver and web server) with one API key.
struct Parent {
    web: Option<WebServer>,
    receiver: StreamReceiver,
    addr: SocketAddr,
    store: Arc<Store>,
    shutdown: Shutdown,
}

impl Drop for Parent {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(web) = self.web.take() {
            web.join();
        }
    }
}

fn start_parent() -> Parent {
    start_parent_with("")
}

/// A parent whose `[web]` has `web_extra` too.
fn start_parent_with(web_extra: &str) -> Parent {
    let (main, warnings) = config::parse_main_str(
        &format!("[web]\n bind to = 127.0.0.1:0\n{web_extra}"),
        "netdata.conf",
    )
    .unwrap();
    let (stream, _) = config::parse_stream_str(
        &format!("[{KEY}]\n enabled = yes\n default history = 300\n"),
        "stream.conf",
    )
    .unwrap();
    let loaded = LoadedConfig {
        main,
        exporting: ExportingConfig::default(),
        warnings,
        main_file: None,
        exporting_file: None,
        stream,
        stream_file: None,
    };
    let options = ReceiverOptions::from_config(&loaded);
    let store = Arc::new(Store::new(Host::new("parent", 60)));
    let shutdown = Shutdown::new();
    let receiver = StreamReceiver::start(store.clone(), options, shutdown.clone()).unwrap();
    let handler: Arc<dyn StreamHandler> = Arc::new(receiver.clone());
    let hooks = Hooks {
        stream_handler: Some(handler),
        ..Hooks::default()
    };
    let web = WebServer::start(&loaded, store.clone(), shutdown.clone(), hooks)
        .unwrap()
        .unwrap();
    let addr = web.local_addrs()[0];
    Parent {
        web: Some(web),
        receiver,
        addr,
        store,
        shutdown,
    }
}

#[test]
fn a_backhaul_parent_receives_the_childs_history_and_live_values() {
    backhaul_parent_receives(false);
}

#[test]
fn a_backhaul_parent_receives_the_childs_stream_compressed() {
    backhaul_parent_receives(true);
}

#[test]
fn a_backhaul_parent_over_tls_verified_with_cafile() {
    let pki = support::tls::TestPki::new("stream-sender");
    let dir = std::env::temp_dir().join(format!("backhaul-sender-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = pki.write_files(&dir);
    let parent = start_parent_with(&format!(
        " ssl certificate = {}\n ssl key = {}\n",
        files.server_cert.display(),
        files.server_key.display()
    ));
    let (store, last) = child_store(10);
    let shutdown = Shutdown::new();
    let mut config = sender_config(&[]);
    config.destinations = vec![StreamDestination {
        destination: config::parse_destination(
            &format!("localhost:{}", parent.addr.port()),
            None,
            false,
        )
        .unwrap(),
        tls: true,
    }];
    config.ca_file = Some(files.ca.clone());
    let sender = start_sender_with(&store, config, true, &shutdown);
    wait_until("the child's chart replicated over TLS", || {
        parent
            .store
            .hosts()
            .into_iter()
            .find(|h| h.hostname() == "child-b")
            .and_then(|h| h.chart_by_id("test.gauge"))
            .is_some_and(|c| c.read().last_entry_t() == Some(last))
    });
    assert_eq!(
        sender.counters().connect_failures.load(Ordering::Relaxed),
        0
    );
    shutdown.trigger();
    sender.join();
    let _ = std::fs::remove_dir_all(&dir);
}

fn backhaul_parent_receives(compression: bool) {
    let parent = start_parent();
    let (store, last) = child_store(30);
    let shutdown = Shutdown::new();
    let sender = start_sender_with(
        &store,
        sender_config(&[parent.addr]),
        compression,
        &shutdown,
    );
    let child_host = || {
        parent
            .store
            .hosts()
            .into_iter()
            .find(|h| h.hostname() == "child-b")
    };
    wait_until("the child's chart replicated into the parent", || {
        child_host()
            .and_then(|h| h.chart_by_id("test.gauge"))
            .is_some_and(|c| c.read().last_entry_t() == Some(last))
    });
    let host = child_host().unwrap();
    assert_eq!(host.machine_guid(), Some(GUID));
    assert!(host
        .labels()
        .iter()
        .any(|l| l.key == "env" && l.value == "test"));
    let chart = host.chart_by_id("test.gauge").unwrap();
    {
        let state = chart.read();
        let g = state.dimension_index("g").unwrap();
        let points = state.points(g, last - 30, last);
        // The parent asks from the child's first point on, that point
        // excluded (`after < t`), as netdata's parent does.
        assert_eq!(points.len(), 29, "every second of the child's history");
        assert_eq!(points[0].time, last - 28);
        for p in &points {
            assert_eq!(p.value, (p.time % 1000) as f64, "{p:?}");
        }
    }
    // Live rounds arrive and are collected by the parent.
    let before = chart.read().rounds();
    for k in 1..=3 {
        let sent = sender.counters().rounds_sent.load(Ordering::Relaxed);
        round(&store, last + k, 4242);
        wait_until("the round sent", || {
            sender.counters().rounds_sent.load(Ordering::Relaxed) > sent
        });
    }
    wait_until("live rounds collected by the parent", || {
        chart.read().rounds() > before
    });
    let state = chart.read();
    let g = state.dimension_index("g").unwrap();
    assert_eq!(
        state.dimensions()[g].last_collected().map(|(v, _)| v),
        Some(4242)
    );
    drop(state);
    assert_eq!(
        parent.receiver.counters().accepted.load(Ordering::Relaxed),
        1
    );
    assert!(sender.counters().replayed_points.load(Ordering::Relaxed) >= 29);
    shutdown.trigger();
    sender.join();
}

/// A whole backhaul agent named `proxy` with `stream_conf` as its
/// stream.conf and its web server on a free port, in a folder of its own
/// (`tag`): the agent, its address, its shutdown and its folder.
fn start_proxy(
    tag: &str,
    stream_conf: &str,
) -> (
    backhaul::agent::Agent,
    SocketAddr,
    Shutdown,
    std::path::PathBuf,
) {
    let dir = std::env::temp_dir().join(format!("backhaul-sender-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.display();
    std::fs::write(
        dir.join("netdata.conf"),
        format!(
            "[global]\n hostname = proxy\n[directories]\n config = {base}\n lib = {base}\n\
             [plugins]\n enable running new plugins = no\n proc = no\n diskspace = no\n\
             [web]\n bind to = 127.0.0.1:0\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("stream.conf"), stream_conf).unwrap();
    let loaded = config::load(Some(&dir.join("netdata.conf")), None).expect("config");
    let shutdown = Shutdown::new();
    let proxy = backhaul::agent::Agent::start(&loaded, shutdown.clone()).expect("proxy");
    let addr = proxy.web.as_ref().expect("web").local_addrs()[0];
    (proxy, addr, shutdown, dir)
}

#[test]
fn a_backhaul_proxy_forwards_its_childs_host_to_the_grandparent() {
    let grandparent = start_parent();
    let (proxy, proxy_addr, proxy_shutdown, dir) = start_proxy(
        "proxy",
        &format!(
            "[stream]\n enabled = yes\n destination = {}\n api key = {KEY}\n\
             \x20reconnect delay seconds = 1\n[{KEY}]\n enabled = yes\n",
            grandparent.addr
        ),
    );

    let (store, last) = child_store(10);
    // Custom variables set before anything connects: the child sends them
    // to the proxy, whose receiver stores them on the child's host, and the
    // proxy's sender forwards them.
    store.localhost().set_variable("x", 1.0);
    let gauge = store.localhost().chart_by_id("test.gauge").unwrap();
    store.localhost().set_chart_variable(&gauge, "cv", 2.5);
    let shutdown = Shutdown::new();
    let sender = start_sender(&store, sender_config(&[proxy_addr]), &shutdown);
    // The child's chart reaches the grandparent through the proxy: its
    // history (replicated from the proxy's store) and then live rounds.
    let on_grandparent = || {
        grandparent
            .store
            .hosts()
            .into_iter()
            .find(|h| h.hostname() == "child-b")
    };
    wait_until("the child's host forwarded to the grandparent", || {
        on_grandparent()
            .and_then(|h| h.chart_by_id("test.gauge"))
            .is_some_and(|c| c.read().last_entry_t().is_some_and(|t| t >= last - 1))
    });
    let host = on_grandparent().unwrap();
    assert_eq!(host.machine_guid(), Some(GUID));
    // hops: the child is 1 away from the proxy, so 2 from the grandparent
    // (the proxy sends the child's own plus one, as netdata).
    assert_eq!(host.hops(), 2);
    let on_proxy = proxy
        .store
        .hosts()
        .into_iter()
        .find(|h| h.hostname() == "child-b")
        .unwrap();
    assert_eq!(on_proxy.hops(), 1);
    assert_eq!(on_proxy.with_host_variables(|v| v.get("x")), Some(1.0));
    wait_until("the child's variables forwarded to the grandparent", || {
        host.with_host_variables(|v| v.get("x")) == Some(1.0)
            && host
                .chart_by_id("test.gauge")
                .is_some_and(|c| c.read().variables().get("cv") == Some(2.5))
    });
    assert!(proxy
        .proxies
        .as_ref()
        .and_then(|p| p.counters(GUID))
        .is_some_and(|c| c.host_variables_sent.load(Ordering::Relaxed) == 1));
    let proxy_host = grandparent
        .store
        .hosts()
        .into_iter()
        .find(|h| h.hostname() == "proxy");
    assert!(
        proxy_host.as_ref().is_some_and(|h| h.hops() == 1),
        "the proxy's own host is streamed too, 1 hop away"
    );
    let chart = host.chart_by_id("test.gauge").unwrap();
    let rounds = chart.read().rounds();
    round(&store, last + 1, 9090);
    wait_until("a live round forwarded", || chart.read().rounds() > rounds);
    let state = chart.read();
    let g = state.dimension_index("g").unwrap();
    assert_eq!(
        state.dimensions()[g].last_collected().map(|(v, _)| v),
        Some(9090)
    );
    drop(state);
    assert!(proxy
        .proxies
        .as_ref()
        .and_then(|p| p.counters(GUID))
        .is_some_and(|c| c.connected.load(Ordering::Relaxed) >= 1));
    shutdown.trigger();
    sender.join();
    proxy_shutdown.trigger();
    proxy.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn send_charts_matching_selects_by_id_or_name() {
    let (store, _) = child_store(3);
    for id in ["skipped", "kept"] {
        let chart = store.localhost().create_chart(
            ChartDef::new("other", id)
                .name(format!("{id}_name"))
                .update_every(1),
        );
        chart.write().add_dimension(DimensionDef::new("x"));
    }
    let (sender, shutdown, mut parent) = sender_to_fake_parent(&store, |c| SenderConfig {
        send_charts_matching: "!other.skipped* other.kept_name test.*".into(),
        ..c
    });
    parent.send("Hit me baby, push them over with the version=4");
    wait_until("both selected charts defined", || {
        sender.counters().charts_sent.load(Ordering::Relaxed) >= 2
    });
    // Every definition goes out in the first poll, in the host's order.
    let seen = parent.lines_until("CHART \"other.kept\"");
    let charts: Vec<&String> = seen.iter().filter(|l| l.starts_with("CHART ")).collect();
    assert!(
        charts
            .iter()
            .any(|l| l.starts_with("CHART \"other.kept\" \"kept_name\"")),
        "{charts:?}"
    );
    assert!(charts.iter().any(|l| l.starts_with("CHART \"test.gauge\"")));
    assert!(
        !charts.iter().any(|l| l.contains("other.skipped")),
        "{charts:?}"
    );
    assert_eq!(sender.counters().charts_sent.load(Ordering::Relaxed), 2);
    shutdown.trigger();
    sender.join();
}

#[test]
fn check_config_says_where_the_host_streams_and_names_a_missing_key() {
    let dir = std::env::temp_dir().join(format!("backhaul-sender-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.display();
    std::fs::write(
        dir.join("netdata.conf"),
        format!("[directories]\n config = {base}\n lib = {base}\n[web]\n bind to = 127.0.0.1:0\n"),
    )
    .unwrap();
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_backhaul"))
            .arg("--config")
            .arg(dir.join("netdata.conf"))
            .arg("check-config")
            .output()
            .unwrap()
    };
    std::fs::write(
        dir.join("stream.conf"),
        format!("[stream]\n enabled = yes\n destination = p1:19999 p2:SSL\n api key = {KEY}\n"),
    )
    .unwrap();
    let output = check();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("streaming: this host to p1:19999 p2:19999:SSL (first reachable"),
        "{stderr}"
    );
    std::fs::write(
        dir.join("stream.conf"),
        "[stream]\n enabled = yes\n destination = p1\n",
    )
    .unwrap();
    let output = check();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stream.conf:2") && stderr.contains("'api key' is required"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The proxy keys of stream.conf: with `[stream] enabled = no` a parent
/// still forwards the children its API key's `default proxy enabled = yes`
/// names, to `default proxy destination` with `default proxy api key`,
/// except a machine GUID whose own `proxy enabled = no` says otherwise; its
/// own host is not streamed.
#[test]
fn per_key_and_per_guid_proxy_settings_decide_what_is_forwarded() {
    const OTHER_GUID: &str = "0c0ffee0-0000-4000-8000-000000000002";
    let grandparent = start_parent();
    let (proxy, proxy_addr, proxy_shutdown, dir) = start_proxy(
        "proxy-keys",
        &format!(
            "[stream]\n enabled = no\n reconnect delay seconds = 1\n\
             [{KEY}]\n enabled = yes\n default proxy enabled = yes\n\
             \x20default proxy destination = {}\n default proxy api key = {KEY}\n\
             [{OTHER_GUID}]\n proxy enabled = no\n",
            grandparent.addr
        ),
    );
    assert!(
        proxy.sender.is_none(),
        "[stream] enabled = no: no sender of its own"
    );

    let (store, last) = child_store(5);
    let (other_store, _) = child_store(5);
    let shutdown = Shutdown::new();
    let sender = start_sender(&store, sender_config(&[proxy_addr]), &shutdown);
    let other = StreamSender::start(
        other_store.localhost().clone(),
        SenderOptions {
            config: sender_config(&[proxy_addr]),
            hostname: "child-c".into(),
            machine_guid: OTHER_GUID.into(),
            update_every: 1,
            hops: 1,
            enable_compression: false,
        },
        shutdown.clone(),
    )
    .unwrap();
    wait_until("both children connected to the proxy", || {
        sender.counters().is_connected.load(Ordering::Relaxed)
            && other.counters().is_connected.load(Ordering::Relaxed)
    });
    let hostnames = || -> Vec<String> {
        grandparent
            .store
            .hosts()
            .iter()
            .map(|h| h.hostname().to_string())
            .collect()
    };
    wait_until("child-b forwarded to the grandparent", || {
        grandparent
            .store
            .hosts()
            .into_iter()
            .find(|h| h.hostname() == "child-b")
            .and_then(|h| h.chart_by_id("test.gauge"))
            .is_some_and(|c| c.read().last_entry_t().is_some_and(|t| t >= last - 1))
    });
    let proxies = proxy.proxies.as_ref().expect("proxy mode on");
    wait_until("the proxy decided to keep child-c back", || {
        proxies.keeps_back(OTHER_GUID)
    });
    assert!(proxies.counters(OTHER_GUID).is_none(), "child-c forwarded");
    assert!(!proxies.keeps_back(GUID));
    assert!(
        !hostnames().contains(&"child-c".to_string()),
        "{:?}",
        hostnames()
    );
    assert!(
        !hostnames().contains(&"proxy".to_string()),
        "{:?}",
        hostnames()
    );
    assert!(proxies.counters(GUID).is_some());
    shutdown.trigger();
    sender.join();
    other.join();
    proxy_shutdown.trigger();
    proxy.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A host `child-b` with one chart, `test.vars` (a chart label, dimension
/// `x`), holding the custom variables `my_var = 7.25`, `nan_var = NaN`
/// and `inf_var = +inf`, in that order.
fn variables_store() -> (Arc<Store>, Arc<Chart>) {
    let store = Arc::new(Store::new(Host::new("child-b", 300)));
    let chart = store.localhost().create_chart(
        ChartDef::new("test", "vars")
            .context("test.vars")
            .update_every(1)
            .label(Label::new("kind", "vars", LabelSource::Configured)),
    );
    chart
        .write()
        .add_dimension(DimensionDef::new("x").algorithm(Algorithm::Absolute));
    for (name, value) in [
        ("my_var", 7.25),
        ("nan_var", f64::NAN),
        ("inf_var", f64::INFINITY),
    ] {
        store.localhost().set_chart_variable(&chart, name, value);
    }
    (store, chart)
}

/// One collection round of `test.vars` at second `t`: `x = v`.
fn collect_vars(chart: &Chart, t: i64, v: i64) {
    let mut w = chart.write();
    w.set_by_id("x", v);
    w.done(t as u64 * 1_000_000).unwrap();
}

/// The lines of `test.vars`'s definition among `lines` (from its `CHART`
/// line to the end).
fn vars_definition(lines: &[String]) -> &[String] {
    let at = lines
        .iter()
        .position(|l| l.starts_with("CHART \"test.vars\""))
        .unwrap_or_else(|| panic!("no definition of test.vars: {lines:?}"));
    &lines[at..]
}

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

#[test]
fn chart_variables_go_in_the_definition_and_again_in_a_round_after_a_change() {
    let (store, chart) = variables_store();
    let (sender, shutdown, mut parent) = sender_to_fake_parent(&store, |c| c);
    parent.send(&format!(
        "Hit me baby, push them over with the version={PARENT_VERSION}"
    ));
    let lines = parent.lines_until("CHART_DEFINITION_END");
    let definition = vars_definition(&lines);
    // netdata's order: labels, dimensions, the variables in the order they
    // were set, then CHART_DEFINITION_END.
    assert_eq!(
        definition[1..definition.len() - 1],
        strings(&[
            "CLABEL \"kind\" \"vars\" 2",
            "CLABEL_COMMIT",
            "DIMENSION \"x\" \"x\" \"absolute\" 1 1 \"  \"",
            "VARIABLE CHART my_var = 7.2500000",
            "VARIABLE CHART nan_var = nan",
            "VARIABLE CHART inf_var = inf",
        ])[..],
        "{definition:?}"
    );
    parent.send("REPLAY_CHART \"test.vars\" \"true\" 0 0\n");
    parent.lines_until("REND");

    // A round with the variables as sent: none.
    let t = now_s();
    collect_vars(&chart, t, 1);
    assert_eq!(
        parent.lines_until("END"),
        strings(&["BEGIN \"test.vars\"", "SET \"x\" = 1", "END"])
    );
    // One changed: all of them again, after the SET lines, before END.
    store.localhost().set_chart_variable(&chart, "my_var", 8.5);
    collect_vars(&chart, t + 1, 2);
    assert_eq!(
        parent.lines_until("END"),
        strings(&[
            "BEGIN \"test.vars\" 1000000",
            "SET \"x\" = 2",
            "VARIABLE CHART my_var = 8.5000000",
            "VARIABLE CHART nan_var = nan",
            "VARIABLE CHART inf_var = inf",
            "END",
        ])
    );
    // Set again to what they are (NaN included): no change, none sent.
    store.localhost().set_chart_variable(&chart, "my_var", 8.5);
    store
        .localhost()
        .set_chart_variable(&chart, "nan_var", f64::NAN);
    collect_vars(&chart, t + 2, 3);
    assert_eq!(
        parent.lines_until("END"),
        strings(&["BEGIN \"test.vars\" 1000000", "SET \"x\" = 3", "END"])
    );
    assert_eq!(
        sender
            .counters()
            .chart_variables_sent
            .load(Ordering::Relaxed),
        6
    );
    assert_eq!(
        sender
            .counters()
            .host_variables_sent
            .load(Ordering::Relaxed),
        0
    );
    shutdown.trigger();
    sender.join();
}

#[test]
fn host_variables_go_on_connect_when_changed_and_again_after_a_reconnect() {
    let (store, chart) = variables_store();
    let host = store.localhost().clone();
    // Set before any connection: netdata 1.37 would never send these.
    host.set_variable("host_counter", 2.0);
    host.set_variable("host_nan", f64::NAN);
    let (sender, shutdown, listener, mut parent) = sender_to_listening_fake_parent(&store, |c| c);
    parent.send(&format!(
        "Hit me baby, push them over with the version={PARENT_VERSION}"
    ));
    let lines = parent.lines_until("CHART_DEFINITION_END");
    let labels_end = lines
        .iter()
        .position(|l| l == "OVERWRITE labels")
        .unwrap_or_else(|| panic!("no OVERWRITE labels: {lines:?}"));
    // Right after the host's labels, before the first definition.
    assert_eq!(
        lines[labels_end + 1..labels_end + 4],
        strings(&[
            "VARIABLE HOST host_counter = 2.0000000",
            "VARIABLE HOST host_nan = nan",
            "CHART \"test.vars\" \"\" \"\" \"\" \"vars\" \"test.vars\" \"line\" 1000 1 \"   \" \"\" \"\"",
        ])[..],
        "{lines:?}"
    );

    // Changed while connected: what changed, once (the NaN set again is
    // no change).
    host.set_variable("host_counter", 3.0);
    host.set_variable("host_nan", f64::NAN);
    host.set_variable("host_late", 5.0);
    assert_eq!(
        parent.lines_until("VARIABLE HOST host_late"),
        strings(&[
            "VARIABLE HOST host_counter = 3.0000000",
            "VARIABLE HOST host_late = 5.0000000",
        ])
    );
    // Nothing more of them: the replication answer and the next round come
    // without any.
    parent.send("REPLAY_CHART \"test.vars\" \"true\" 0 0\n");
    let mut after = parent.lines_until("REND");
    collect_vars(&chart, now_s(), 1);
    after.extend(parent.lines_until("END"));
    assert!(
        !after.iter().any(|l| l.starts_with("VARIABLE")),
        "{after:?}"
    );
    assert_eq!(
        sender
            .counters()
            .host_variables_sent
            .load(Ordering::Relaxed),
        4
    );

    // A chart variable changes; then the connection is lost. The next
    // connection starts with every host variable (current values) and the
    // chart's definition with every chart variable.
    store.localhost().set_chart_variable(&chart, "my_var", 9.0);
    drop(parent);
    let mut parent = Accepted::accept(&listener);
    parent.send(&format!(
        "Hit me baby, push them over with the version={PARENT_VERSION}"
    ));
    let lines = parent.lines_until("CHART_DEFINITION_END");
    let host_lines: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("VARIABLE HOST"))
        .collect();
    assert_eq!(
        host_lines,
        [
            "VARIABLE HOST host_counter = 3.0000000",
            "VARIABLE HOST host_nan = nan",
            "VARIABLE HOST host_late = 5.0000000",
        ],
        "{lines:?}"
    );
    let definition = vars_definition(&lines);
    let chart_lines: Vec<&String> = definition
        .iter()
        .filter(|l| l.starts_with("VARIABLE"))
        .collect();
    assert_eq!(
        chart_lines,
        [
            "VARIABLE CHART my_var = 9.0000000",
            "VARIABLE CHART nan_var = nan",
            "VARIABLE CHART inf_var = inf",
        ],
        "{lines:?}"
    );
    assert_eq!(sender.counters().connected.load(Ordering::Relaxed), 2);
    assert_eq!(
        sender
            .counters()
            .host_variables_sent
            .load(Ordering::Relaxed),
        7
    );
    shutdown.trigger();
    sender.join();
}
