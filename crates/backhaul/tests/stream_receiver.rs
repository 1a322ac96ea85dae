//! Parent mode with in-process fake children on 127.0.0.1:0: the real
//! 1.37.1 child's captured stream (plain and LZ4) replayed into backhaul's
//! receiver, netdata's refusals (401, 409, 503), reconnects of the same
//! GUID, obsolete charts and orphan host removal, and bad peers (garbage
//! after the handshake, a 10 MB line, 100k charts, a child that stops
//! mid-chart) with the other children unaffected.
//!
//! Every wait is bounded and watches the store, a counter or the socket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backhaul::collectors::pluginsd::IngestLimits;
use backhaul::config::{self, ExportingConfig, LoadedConfig};
use backhaul::shutdown::Shutdown;
use backhaul::stream::{ReceiverOptions, StreamReceiver};
use backhaul::web::{Hooks, StreamHandler, WebServer};
use rrd::{Host, Store};

const KEY: &str = "11111111-2222-3333-4444-555555555555";
const CAPTURE_GUID: &str = "705216b4-ec79-11f1-9d5c-02fc00000001";
const PLAIN: &[u8] = include_bytes!("../../wire/tests/stream/stream_capture_child_to_parent.txt");
const COMPRESSED: &[u8] = include_bytes!("../../wire/tests/stream/stream_capture_compressed.bin");
const WAIT: Duration = Duration::from_secs(10);

/// Every log line of this test binary, from every thread (the parents'
/// reading loops log on their own threads); tests look for the lines that
/// name their own peers.
fn logs() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        #[derive(Clone)]
        struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(data);
                Ok(data.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = Buffer(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
}

/// Waits until a log line holds every one of `parts`; returns it.
fn wait_for_log(parts: &[&str]) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
        if let Some(line) = text.lines().find(|l| parts.iter().all(|p| l.contains(p))) {
            return line.to_string();
        }
        assert!(Instant::now() < deadline, "no log line with {parts:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The capture's sections: (from the child?, bytes).
fn sections(capture: &[u8]) -> Vec<(bool, &[u8])> {
    let mut sections = Vec::new();
    let mut rest = capture;
    while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
        let header = std::str::from_utf8(&rest[..newline]).expect("header");
        let mut fields = header.split(' ');
        let child = fields.next() == Some(">>CHILD");
        let len: usize = fields.nth(1).unwrap().parse().unwrap();
        let body = &rest[newline + 1..];
        let len = len.min(body.len());
        sections.push((child, &body[..len]));
        rest = body.get(len + 1..).unwrap_or_default();
    }
    sections
}

/// What the captured child sent after its STREAM head.
fn child_stream(capture: &[u8]) -> Vec<u8> {
    sections(capture)
        .into_iter()
        .filter(|(child, _)| *child)
        .skip(1)
        .flat_map(|(_, body)| body.to_vec())
        .collect()
}

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

fn stream_conf() -> String {
    format!(
        "[{KEY}]\n enabled = yes\n default history = 300\n\
         [22222222-2222-3333-4444-555555555555]\n enabled = no\n\
         [99999999-9999-9999-9999-999999999999]\n type = machine\n enabled = no\n"
    )
}

fn start_parent(tune: impl FnOnce(&mut ReceiverOptions)) -> Parent {
    let (main, warnings) =
        config::parse_main_str("[web]\n bind to = 127.0.0.1:0\n", "netdata.conf").unwrap();
    let (stream, _) = config::parse_stream_str(&stream_conf(), "stream.conf").unwrap();
    let loaded = LoadedConfig {
        main,
        exporting: ExportingConfig::default(),
        warnings,
        main_file: None,
        exporting_file: None,
        stream,
        stream_file: None,
    };
    let mut options = ReceiverOptions::from_config(&loaded);
    options.local_machine_guid = Some("aaaaaaaa-0000-0000-0000-000000000000".to_string());
    tune(&mut options);
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

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn head(key: &str, hostname: &str, guid: &str, ver: u32) -> String {
    format!(
        "STREAM key={key}&hostname={hostname}&registry_hostname={hostname}&machine_guid={guid}&update_every=1&os=linux&tags=&ver={ver}&NETDATA_CONTAINER_OS_NAME=Debian GNU/Linux&NETDATA_PROTOCOL_VERSION=1.1 HTTP/1.1\r\nUser-Agent: netdata/v1.37.1\r\nAccept: */*\r\n\r\n"
    )
}

/// A fake child: connects, sends the head, reads the answer.
struct Child {
    socket: TcpStream,
    answer: String,
}

impl Child {
    fn connect(parent: &Parent, key: &str, hostname: &str, guid: &str, ver: u32) -> Child {
        let mut socket = TcpStream::connect(parent.addr).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        socket
            .write_all(head(key, hostname, guid, ver).as_bytes())
            .unwrap();
        // The answer has no newline: read what comes in the first moments,
        // until it is complete (a version number) or the socket closes.
        let mut answer = Vec::new();
        let deadline = Instant::now() + WAIT;
        let mut buffer = [0u8; 4096];
        while Instant::now() < deadline {
            socket
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            match socket.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
                Err(_) if !answer.is_empty() => break,
                Err(_) => {}
            }
        }
        socket.set_read_timeout(Some(WAIT)).unwrap();
        Child {
            socket,
            answer: String::from_utf8_lossy(&answer).into_owned(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).unwrap();
    }

    /// Whether the parent closed the connection (bounded wait).
    fn closed_by_parent(&mut self) -> bool {
        let mut buffer = [0u8; 65536];
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            match self.socket.read(&mut buffer) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
        false
    }
}

/// One GET on a fresh connection; the whole response.
fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut response = Vec::new();
    socket.read_to_end(&mut response).unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

fn host(parent: &Parent, hostname: &str) -> Option<Arc<Host>> {
    parent
        .store
        .hosts()
        .into_iter()
        .find(|h| h.hostname() == hostname)
}

#[test]
fn the_captured_child_streams_into_its_own_host_and_is_asked_to_replay() {
    let parent = start_parent(|_| {});
    let mut child = Child::connect(&parent, KEY, "child-host", CAPTURE_GUID, 15352);
    assert_eq!(
        child.answer, "Hit me baby, push them over with the version=5056",
        "vcaps, host and chart labels, claim, replication; no functions, binary or lz4"
    );
    child.send(&child_stream(PLAIN));
    let child_host = {
        let mut found = None;
        wait_until("the child's host with its charts", || {
            found = host(&parent, "child-host").filter(|h| h.chart_count() >= 78);
            found.is_some()
        });
        found.unwrap()
    };
    let host_of = host;
    let host = child_host;
    assert_eq!(host.machine_guid(), Some(CAPTURE_GUID));
    assert_eq!(host.history(), 300, "default history of the API key");
    let labels = host.labels();
    assert!(
        labels.iter().any(|l| l.key == "env" && l.value == "child"),
        "{labels:?}"
    );
    let cpu = host
        .chart_by_id("netdata.server_cpu")
        .expect("a streamed chart");
    wait_until("values stored", || cpu.read().rounds() > 0);
    assert_eq!(cpu.read().dimensions().len(), 2);
    let weird = host.chart_by_id("conf.we ird=id").expect("quoted ids");
    assert_eq!(weird.read().name(), "conf.we_ird_name");

    // The web API serves the child: /api/v1/info lists it, its own
    // allmetrics and the all-hosts Prometheus form carry its charts.
    let info = http_get(parent.addr, "/api/v1/info");
    assert!(info.contains("\"child-host\""), "{info}");
    assert!(info.contains(CAPTURE_GUID), "{info}");
    // The child's own info says whose it is.
    let child_info = http_get(parent.addr, "/host/child-host/api/v1/info");
    assert!(
        child_info.contains(&format!("\"uid\": \"{CAPTURE_GUID}\"")),
        "{child_info}"
    );
    // ... and what the child said of its machine in its request.
    assert!(
        child_info.contains("\"container_os_name\": \"Debian GNU/Linux\""),
        "{child_info}"
    );
    let own = http_get(
        parent.addr,
        "/host/child-host/api/v1/allmetrics?format=prometheus&source=as-collected",
    );
    assert!(
        own.contains(
            "
netdata_netdata_server_cpu_total{chart=\"netdata.server_cpu\",family=\"netdata\",dimension=\"user\"} "
        ),
        "{own}"
    );
    let all = http_get(
        parent.addr,
        "/api/v1/allmetrics?format=prometheus_all_hosts&source=as-collected",
    );
    assert!(all.contains("instance=\"child-host\""), "{all}");

    // One REPLAY_CHART per CHART_DEFINITION_END, as the captured parent.
    let mut replies = Vec::new();
    let mut buffer = [0u8; 65536];
    child
        .socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    while let Ok(n) = child.socket.read(&mut buffer) {
        if n == 0 {
            break;
        }
        replies.extend_from_slice(&buffer[..n]);
        if replies.iter().filter(|&&b| b == b'\n').count() >= 78 {
            break;
        }
    }
    let replies = String::from_utf8(replies).unwrap();
    assert_eq!(replies.lines().count(), 78, "{replies}");
    assert!(
        replies.starts_with("REPLAY_CHART \"netdata.server_cpu\" \"true\" 1796014273 1796014274\n")
    );
    assert!(parent
        .store
        .localhost()
        .chart_by_id("netdata.server_cpu")
        .is_none());

    // The child goes: its charts are obsolete, the host stays; the same
    // GUID may come back and finds its host.
    drop(child);
    wait_until("the child disconnected", || {
        parent.receiver.connected_children() == 0
    });
    assert!(cpu.read().is_obsolete());
    assert!(host_of(&parent, "child-host").is_some());
    assert!(!host.is_reachable());
    let info = http_get(parent.addr, "/api/v1/info");
    assert!(info.contains("\"reachable\": false"), "{info}");
    let mut again = Child::connect(&parent, KEY, "child-host", CAPTURE_GUID, 15352);
    assert!(again.answer.starts_with("Hit me baby"), "{}", again.answer);
    again.send(b"CHART netdata.server_cpu '' t u\nDIMENSION user\nDIMENSION system\nCHART_DEFINITION_END 0 0 0\n");
    wait_until("the chart is back", || !cpu.read().is_obsolete());
    assert_eq!(
        parent.store.hosts().len(),
        2,
        "the local host and one child host"
    );
}

#[test]
fn the_compressed_capture_is_decoded() {
    let parent = start_parent(|_| {});
    let guid = "1028a0d2-ec7e-11f1-acb6-02fc00000001";
    let mut child = Child::connect(&parent, KEY, "lz4-child", guid, 16376);
    assert_eq!(
        child.answer,
        format!(
            "Hit me baby, push them over with the version={}",
            5056 + 1024
        )
    );
    child.send(&child_stream(COMPRESSED));
    wait_until("charts from the compressed stream", || {
        host(&parent, "lz4-child").is_some_and(|h| h.chart_count() >= 50)
    });
    let lz4_host = host(&parent, "lz4-child").unwrap();
    assert!(lz4_host
        .labels()
        .iter()
        .any(|l| l.key == "env" && l.value == "lab"));
}

/// Reads a whole HTTP response (the parent closes after it).
fn refusal(parent: &Parent, key: &str, guid: &str) -> String {
    let child = Child::connect(parent, key, "refused", guid, 15352);
    child.answer
}

#[test]
fn refusals_are_netdatas() {
    let parent = start_parent(|_| {});
    let not_permitted = "You are not permitted to access this. Check the logs for more info.";
    for (key, guid) in [
        ("99999999-2222-3333-4444-555555555555", CAPTURE_GUID), // unknown key
        ("22222222-2222-3333-4444-555555555555", CAPTURE_GUID), // disabled key
        ("not-a-uuid", CAPTURE_GUID),
        (KEY, "bad-guid"),
        (KEY, "99999999-9999-9999-9999-999999999999"), // disabled machine
    ] {
        let answer = refusal(&parent, key, guid);
        assert!(
            answer.starts_with("HTTP/1.1 401 "),
            "{key} {guid}: {answer}"
        );
        assert!(answer.ends_with(not_permitted), "{answer}");
    }
    let answer = refusal(&parent, KEY, "aaaaaaaa-0000-0000-0000-000000000000");
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert!(answer.ends_with("Don't hit me baby, you are trying to stream my localhost back"));

    let first = Child::connect(&parent, KEY, "one", CAPTURE_GUID, 15352);
    assert!(first.answer.starts_with("Hit me baby"));
    let answer = refusal(&parent, KEY, CAPTURE_GUID);
    assert!(answer.starts_with("HTTP/1.1 409 "), "{answer}");
    assert!(answer.ends_with("This GUID is already streaming to this server"));
    assert!(parent.receiver.counters().refused.load(Ordering::Relaxed) >= 7);
    assert_eq!(parent.receiver.connected_children(), 1);
}

#[test]
fn the_rate_limit_answers_503() {
    let parent = start_parent(|options| options.accept_every = Duration::from_secs(3600));
    let first = Child::connect(&parent, KEY, "one", CAPTURE_GUID, 15352);
    assert!(first.answer.starts_with("Hit me baby"));
    let answer = refusal(&parent, KEY, "705216b4-ec79-11f1-9d5c-02fc00000002");
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.ends_with("The server is too busy now to accept this request. Try later."));
}

fn guid(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

/// A well-behaved child that keeps one chart going.
fn steady_child(parent: &Parent) -> Child {
    let mut child = Child::connect(parent, KEY, "steady", &guid(1), 15352);
    assert!(child.answer.starts_with("Hit me baby"));
    child.send(b"CHART steady.c '' t u\nDIMENSION d\nCHART_DEFINITION_END 0 0 0\n");
    child
}

fn steady_rounds(parent: &Parent) -> u64 {
    host(parent, "steady")
        .and_then(|h| h.chart_by_id("steady.c"))
        .map_or(0, |c| c.read().rounds())
}

fn steady_collects(parent: &Parent, child: &mut Child) {
    let before = steady_rounds(parent);
    // Collection rounds need their time to move on.
    let deadline = Instant::now() + WAIT;
    while steady_rounds(parent) <= before {
        assert!(
            Instant::now() < deadline,
            "the steady child stopped collecting"
        );
        child.send(b"BEGIN steady.c\nSET d = 1\nEND\n");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn bad_peers_are_closed_and_others_go_on() {
    let parent = start_parent(|options| {
        options.limits = IngestLimits {
            max_charts: 1_000,
            ..IngestLimits::default()
        }
    });
    logs();
    let mut steady = steady_child(&parent);
    steady_collects(&parent, &mut steady);

    // Garbage after the handshake: closed, with a line naming the child.
    let mut garbage = Child::connect(&parent, KEY, "garbage", &guid(2), 15352);
    garbage.send(b"GET / HTTP/1.1\r\n\r\n\x00\x01\x02 nonsense\n");
    assert!(garbage.closed_by_parent(), "garbage closes the connection");
    let line = wait_for_log(&["garbage (", &guid(2), "is not a netdata streaming command"]);
    assert!(line.contains("127.0.0.1:"), "the peer's address: {line}");

    // A 10 MB line.
    let mut long = Child::connect(&parent, KEY, "long-line", &guid(3), 15352);
    let line = vec![b'x'; 10 << 20];
    let _ = long.socket.write_all(&line);
    assert!(
        long.closed_by_parent(),
        "an overlong line closes the connection"
    );
    wait_for_log(&["long-line (", &guid(3), "child disconnected"]);

    // 100k charts: the first 1000 are kept, the rest refused, the child
    // stays connected.
    let mut many = Child::connect(&parent, KEY, "many-charts", &guid(4), 15352);
    let mut text = Vec::new();
    for i in 0..100_000 {
        text.extend_from_slice(format!("CHART many.c{i} '' t u\nDIMENSION d\n").as_bytes());
    }
    many.send(&text);
    many.send(b"CHART_DEFINITION_END 0 0 0\n");
    wait_until("the chart limit reached", || {
        host(&parent, "many-charts").is_some_and(|h| h.chart_count() == 1_000)
    });
    steady_collects(&parent, &mut steady);

    // A child that stops mid-chart.
    let mut partial = Child::connect(&parent, KEY, "partial", &guid(5), 15352);
    partial.send(b"CHART partial.c '' t u\nDIMENSION a\nBEGIN partial.c\nSET a = 5\n");
    wait_until("the partial chart exists", || {
        host(&parent, "partial").is_some_and(|h| h.chart_by_id("partial.c").is_some())
    });
    drop(partial);
    wait_until("its chart obsolete", || {
        host(&parent, "partial")
            .and_then(|h| h.chart_by_id("partial.c"))
            .is_some_and(|c| c.read().is_obsolete())
    });
    let chart = host(&parent, "partial")
        .unwrap()
        .chart_by_id("partial.c")
        .unwrap();
    assert_eq!(chart.read().rounds(), 0, "the open block was not stored");

    steady_collects(&parent, &mut steady);
    assert!(!steady.closed_by_parent_now());
}

#[test]
fn a_cleanup_delay_of_0_removes_an_orphan_host_at_once_as_netdata() {
    let parent = start_parent(|options| options.cleanup_orphan_hosts_after = Duration::ZERO);
    let mut child = Child::connect(&parent, KEY, "orphan-0", &guid(21), 15352);
    child.send(b"CHART o.c '' t u\nDIMENSION d\nCHART_DEFINITION_END 0 0 0\n");
    wait_until("the host exists", || host(&parent, "orphan-0").is_some());
    drop(child);
    wait_until("the orphan host removed", || {
        host(&parent, "orphan-0").is_none()
    });
}

#[test]
fn orphan_hosts_are_removed_after_the_cleanup_delay() {
    let parent =
        start_parent(|options| options.cleanup_orphan_hosts_after = Duration::from_millis(300));
    let mut child = Child::connect(&parent, KEY, "orphan", CAPTURE_GUID, 15352);
    child.send(b"CHART o.c '' t u\nDIMENSION d\nCHART_DEFINITION_END 0 0 0\n");
    wait_until("the host exists", || host(&parent, "orphan").is_some());
    drop(child);
    wait_until("the orphan host removed", || {
        host(&parent, "orphan").is_none()
    });
    assert_eq!(
        parent
            .receiver
            .counters()
            .hosts_removed
            .load(Ordering::Relaxed),
        1
    );
    assert_eq!(parent.store.hosts().len(), 1, "the local host stays");
}

impl Child {
    /// Whether the parent has closed the connection already (no wait).
    fn closed_by_parent_now(&mut self) -> bool {
        self.socket.set_nonblocking(true).unwrap();
        let mut buffer = [0u8; 1024];
        let closed = matches!(self.socket.read(&mut buffer), Ok(0));
        self.socket.set_nonblocking(false).unwrap();
        closed
    }
}

/// A child that holds `first..=last` of chart `r.c` (one gauge `g`, value
/// `t % 1000` at second `t`) and answers the parent's `REPLAY_CHART`s from
/// it as netdata's child does (the points `after < t <= before`); returns
/// the requests it got, and for each whether the parent's chart was
/// marked as receiving history when it came.
fn replicating_child(
    parent: &Parent,
    hostname: &str,
    guid: &str,
    first: i64,
    last: i64,
) -> (Vec<String>, Vec<bool>) {
    let mut child = Child::connect(parent, KEY, hostname, guid, 15352);
    assert!(child.answer.starts_with("Hit me baby"), "{}", child.answer);
    child.send(
        format!("CHART r.c '' t u\nDIMENSION g '' absolute 1 1\nCHART_DEFINITION_END {first} {last} {last}\n")
            .as_bytes(),
    );
    let mut reader = std::io::BufReader::new(child.socket.try_clone().unwrap());
    let mut requests = Vec::new();
    let mut receiving = Vec::new();
    loop {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        assert!(!line.is_empty(), "the parent closed the connection");
        requests.push(line.trim_end().to_string());
        receiving.push(
            host(parent, hostname)
                .and_then(|h| h.chart_by_id("r.c"))
                .is_some_and(|c| c.read().is_receiving_history()),
        );
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "REPLAY_CHART", "{line}");
        assert_eq!(words[1], "\"r.c\"");
        let start = words[2] == "\"true\"";
        let after: i64 = words[3].parse().unwrap();
        let before: i64 = words[4].parse().unwrap();
        let mut answer = String::from("RBEGIN \"r.c\"\n");
        if after != 0 || before != 0 {
            for t in after + 1..=before {
                answer.push_str(&format!(
                    "RBEGIN '' {} {t} {last}\nRSET \"g\" {}.0000000 \"\"\n",
                    t - 1,
                    t % 1000
                ));
            }
        }
        answer.push_str(&format!(
            "RDSTATE \"g\" {last}000000 {} {}.0 {}.0\nRSSTATE {last}000000 {last}000000\n",
            last % 1000,
            last % 1000,
            last % 1000
        ));
        answer.push_str(&format!(
            "REND 1 {first} {last} {} {after} {before} {last}\n",
            if start { "true" } else { "false" }
        ));
        child.send(answer.as_bytes());
        if start {
            break;
        }
    }
    (requests, receiving)
}

#[test]
fn replication_fills_the_chart_in_steps_without_holes() {
    let parent = start_parent(|options| {
        options.stream.seconds_per_replication_step = 10;
        options.stream.seconds_to_replicate = 3600;
    });
    let (first, last) = (1_800_000_100, 1_800_000_140);
    let (requests, receiving) = replicating_child(&parent, "replicated", &guid(7), first, last);
    assert_eq!(
        receiving, [true; 4],
        "marked as receiving history while it comes (a proxy waits)"
    );
    assert_eq!(
        requests,
        [
            "REPLAY_CHART \"r.c\" \"false\" 1800000100 1800000110",
            "REPLAY_CHART \"r.c\" \"false\" 1800000110 1800000120",
            "REPLAY_CHART \"r.c\" \"false\" 1800000120 1800000130",
            "REPLAY_CHART \"r.c\" \"true\" 1800000130 1800000140",
        ]
    );
    let chart = {
        let mut found = None;
        wait_until("all replicated points stored", || {
            found = host(&parent, "replicated")
                .and_then(|h| h.chart_by_id("r.c"))
                .filter(|c| c.read().last_entry_t() == Some(last));
            found.is_some()
        });
        found.unwrap()
    };
    wait_until("the history is in", || !chart.read().is_receiving_history());
    let state = chart.read();
    assert_eq!(state.histories_received(), 1);
    assert_eq!(state.first_entry_t(), Some(first + 1));
    let points = state.points(0, first, last);
    assert_eq!(points.len(), 40, "one point a second, no hole");
    for point in points {
        assert_eq!(point.value, (point.time % 1000) as f64, "{point:?}");
    }
    assert_eq!(
        parent
            .receiver
            .counters()
            .replicated_points
            .load(Ordering::Relaxed),
        40
    );
}

#[test]
fn a_child_gone_while_sending_history_leaves_the_chart_whole_as_it_is() {
    let parent = start_parent(|_| {});
    let mut child = Child::connect(&parent, KEY, "half-way", &guid(20), 15352);
    child.send(b"CHART r.c '' t u\nDIMENSION g '' absolute 1 1\nCHART_DEFINITION_END 1800000100 1800000120 1800000120\n");
    let mut reader = std::io::BufReader::new(child.socket.try_clone().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
    assert!(line.starts_with("REPLAY_CHART \"r.c\" \"true\""), "{line}");
    let chart = host(&parent, "half-way")
        .unwrap()
        .chart_by_id("r.c")
        .unwrap();
    assert!(chart.read().is_receiving_history());
    // One point of the answer, then the child is gone.
    child.send(
        b"RBEGIN \"r.c\"\nRBEGIN '' 1800000100 1800000101 1800000120\nRSET \"g\" 1.0000000 \"\"\n",
    );
    drop(reader);
    drop(child);
    wait_until("the connection ended", || {
        parent.receiver.connected_children() == 0
    });
    // What came is what a proxy forwards: the chart is not held back.
    assert!(!chart.read().is_receiving_history());
    assert_eq!(chart.read().histories_received(), 1);
}

#[test]
fn a_reconnecting_child_is_asked_only_for_the_gap() {
    let parent = start_parent(|options| options.stream.seconds_per_replication_step = 600);
    let guid = guid(8);
    // First connection: the child holds 100..=120.
    replicating_child(&parent, "gappy", &guid, 1_800_000_100, 1_800_000_120);
    wait_until("the first connection's points", || {
        host(&parent, "gappy")
            .and_then(|h| h.chart_by_id("r.c"))
            .is_some_and(|c| c.read().last_entry_t() == Some(1_800_000_120))
    });
    wait_until("the first connection ended", || {
        parent.receiver.connected_children() == 0
    });
    // It comes back after a minute away: asked for 121.. only.
    let (requests, _) = replicating_child(&parent, "gappy", &guid, 1_800_000_100, 1_800_000_185);
    assert_eq!(
        requests,
        ["REPLAY_CHART \"r.c\" \"true\" 1800000120 1800000185"]
    );
    let chart = host(&parent, "gappy").unwrap().chart_by_id("r.c").unwrap();
    wait_until("the gap filled", || {
        chart.read().last_entry_t() == Some(1_800_000_185)
    });
    let points = chart.read().points(0, 1_800_000_100, 1_800_000_185);
    assert_eq!(points.len(), 85);
    assert!(points.iter().all(|p| p.value == (p.time % 1000) as f64));
}

#[test]
fn the_local_host_is_a_parent_while_a_child_streams() {
    let parent = start_parent(|_| {});
    let localhost = parent.store.localhost();
    localhost.set_labels(vec![
        rrd::Label::new("env", "lab", rrd::LabelSource::Configured),
        rrd::Label::new("_is_parent", "false", rrd::LabelSource::Automatic),
    ]);
    let is_parent = || {
        localhost
            .labels()
            .iter()
            .find(|l| l.key == "_is_parent")
            .map(|l| l.value.clone())
    };
    let mut first = Child::connect(&parent, KEY, "first", &guid(11), 15352);
    first.send(b"CHART f.c '' t u\nDIMENSION d\nCHART_DEFINITION_END 0 0 0\n");
    wait_until("_is_parent is true", || {
        is_parent().as_deref() == Some("true")
    });
    let second = Child::connect(&parent, KEY, "second", &guid(12), 15352);
    drop(first);
    wait_until("the first child gone", || {
        parent.receiver.connected_children() == 1
    });
    assert_eq!(
        is_parent().as_deref(),
        Some("true"),
        "one child still streams"
    );
    drop(second);
    wait_until("_is_parent is false again", || {
        is_parent().as_deref() == Some("false")
    });
    assert_eq!(localhost.labels()[0].key, "env", "the other labels stay");
}

#[test]
fn shutdown_ends_a_silent_childs_connection_at_once() {
    // The connection's read waits up to 2 s for data; shutdown must not
    // wait for it: the janitor shuts the socket down.
    let parent = start_parent(|_| {});
    let mut child = steady_child(&parent);
    steady_collects(&parent, &mut child);
    wait_until("the child's thread is reading", || {
        parent.receiver.connected_children() == 1
    });
    // Silent long enough for the connection to sit in a blocking read.
    std::thread::sleep(Duration::from_millis(300));
    let triggered = Instant::now();
    parent.shutdown.trigger();
    wait_until("the connection ended", || {
        parent
            .receiver
            .counters()
            .disconnected
            .load(Ordering::Relaxed)
            == 1
    });
    assert!(
        triggered.elapsed() < Duration::from_millis(1500),
        "the connection ended {:?} after shutdown",
        triggered.elapsed()
    );
    assert!(child.closed_by_parent());
}

/// Plain connections share one reading loop: a silent child is closed
/// after `idle timeout` while the others, sending every 200 ms, stay
/// connected and their rounds land in their own hosts.
#[test]
fn the_reading_loop_closes_a_silent_child_and_serves_the_others() {
    let parent = start_parent(|options| options.idle_timeout = Duration::from_secs(1));
    let mut silent = Child::connect(&parent, KEY, "silent", &guid(6), 15352);
    silent.send(b"CHART silent.c '' t u\nDIMENSION d\n");
    let mut others: Vec<Child> = (0..8)
        .map(|n| {
            let mut child =
                Child::connect(&parent, KEY, &format!("loop{n}"), &guid(100 + n), 15352);
            child.send(format!("CHART loop.c{n} '' t u\nDIMENSION d\n").as_bytes());
            child
        })
        .collect();
    let deadline = Instant::now() + WAIT;
    let mut round = 0u64;
    while !silent.closed_by_parent_now() {
        assert!(
            Instant::now() < deadline,
            "the silent child was never closed"
        );
        for (n, child) in others.iter_mut().enumerate() {
            child.send(format!("BEGIN loop.c{n}\nSET d = {round}\nEND\n").as_bytes());
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_until("every child's rounds stored", || {
        (0..8).all(|n| {
            host(&parent, &format!("loop{n}"))
                .and_then(|h| h.chart_by_id(&format!("loop.c{n}")))
                .is_some_and(|c| c.read().rounds() >= 1)
        })
    });
    for child in &mut others {
        assert!(!child.closed_by_parent_now(), "a sending child stays");
    }
}

/// A child that sends but never reads what the parent sends it (its
/// replication requests) is closed once more than `max_unread_bytes` wait
/// beyond the sockets' buffers; the parent never blocks on it, and another
/// child goes on.
#[test]
fn a_child_that_never_reads_is_closed_and_others_go_on() {
    let parent = start_parent(|options| options.max_unread_bytes = 64 * 1024);
    let mut steady = steady_child(&parent);
    steady_collects(&parent, &mut steady);
    let deaf = Child::connect(&parent, KEY, "deaf", &guid(7), 15352);
    // A small receive buffer: the parent's lines soon wait on its side.
    socket2::SockRef::from(&deaf.socket)
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
    // Each definition ends with CHART_DEFINITION_END: a REPLAY_CHART for
    // it (about 40 bytes) goes back; 300,000 of them are 12 MB, more than
    // the sockets' buffers take (the parent's send buffer grows to 4 MB).
    let mut text = Vec::new();
    for i in 0..300_000 {
        text.extend_from_slice(
            format!("CHART deaf.c{i} '' t u\nDIMENSION d\nCHART_DEFINITION_END 0 0 0\n").as_bytes(),
        );
    }
    // Written from a thread: the parent may close the connection before
    // it all went out.
    let mut writer = deaf.socket.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&text);
    });
    wait_until("the deaf child disconnected", || {
        parent.receiver.connected_children() == 1
    });
    let _ = sender.join();
    steady_collects(&parent, &mut steady);
    assert!(!steady.closed_by_parent_now(), "the other child stays");
}

/// A child's `VARIABLE` lines, as a netdata 1.37 child sends them (chart
/// variables inside the definition and before a round's `END`, host
/// variables on their own), land in the child's host and are served by its
/// `allmetrics?variables=yes`.
#[test]
fn a_childs_variables_are_kept_and_served() {
    let parent = start_parent(|_| {});
    let mut child = Child::connect(&parent, KEY, "varchild", &guid(77), 15352);
    assert!(child.answer.starts_with("Hit me baby"), "{}", child.answer);
    child.send(
        b"CHART vc.one '' t u\nDIMENSION d\nVARIABLE CHART my_chart_var = 7.2500000\n\
          CHART_DEFINITION_END 0 0 0\nVARIABLE HOST host_counter = 2.0000000\n\
          BEGIN vc.one\nSET d = 1\nVARIABLE CHART my_chart_var = 8.5000000\nEND\n",
    );
    wait_until("the child's variables are in its host", || {
        host(&parent, "varchild").is_some_and(|h| {
            h.with_variables(|t| t.get("vc.one.my_chart_var") == Some(8.5) && t.len() == 2)
        })
    });
    let h = host(&parent, "varchild").unwrap();
    assert_eq!(h.with_host_variables(|t| t.get("host_counter")), Some(2.0));
    let chart = h.chart_by_id("vc.one").unwrap();
    assert_eq!(chart.read().variables().get("my_chart_var"), Some(8.5));
    let response = http_get(
        parent.addr,
        "/host/varchild/api/v1/allmetrics?format=prometheus&variables=yes&timestamps=no",
    );
    assert!(
        response
            .contains("\nnetdata_vc_one_my_chart_var 8.5000000\nnetdata_host_counter 2.0000000\n"),
        "{response}"
    );
}
