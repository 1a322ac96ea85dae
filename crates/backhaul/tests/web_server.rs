//! The web server on loopback: binding and its errors (a taken port, TLS
//! files that cannot be read), `[web] mode = none`,
//! access lists (a second client address, 127.0.0.2), gzip, HTTPS with a
//! throw-away certificate (plain HTTP redirected), keep-alive and pipelining, the STREAM refusal
//! and hand-off, `/api/v1/info` and `/api/v1/charts`, the allmetrics
//! routing, the response buffer kept for the next scrape, the
//! self-monitoring charts, and bad peers: a 1 MB header, a
//! client that stalls half-way, 1000 idle connections, more connections
//! than `web server max sockets`, `../../etc/passwd`.
//!
//! Every server binds 127.0.0.1:0; every wait is bounded and watches a
//! response, an end of file or a counter.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use backhaul::config::{self, ExportingConfig, LoadedConfig};
use backhaul::shutdown::Shutdown;
use backhaul::web::{Hooks, StreamHandler, Upgraded, WebError, WebServer, WebStatsSnapshot};
use rrd::{ChartDef, DimensionDef, Host, Label, LabelSource, Store};
use socket2::{Domain, SockAddr, Socket, Type};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn loaded(netdata_conf: &str) -> LoadedConfig {
    let (main, warnings) =
        config::parse_main_str(netdata_conf, "netdata.conf").expect("valid netdata.conf");
    LoadedConfig {
        main,
        exporting: ExportingConfig::default(),
        warnings,
        main_file: None,
        exporting_file: None,
        stream: Default::default(),
        stream_file: None,
    }
}

/// A store with a local host `box` (labels, one plugin chart) and a child
/// host `child-1`.
fn store() -> Arc<Store> {
    let local = Host::new("box", 120);
    local.set_labels(vec![Label::new("env", "lab", LabelSource::Configured)]);
    let mut def = ChartDef::new("lab", "weird_chart")
        .name("Weird_Name")
        .title("Lab sanitization test")
        .units("units")
        .family("fam")
        .context("lab.ctx")
        .priority(90000);
    def.plugin = "lab.plugin".to_string();
    let chart = local.create_chart(def);
    {
        let mut writer = chart.write();
        writer.add_dimension(DimensionDef::new("d1").name("first"));
        writer.add_dimension(DimensionDef::new("d2"));
    }
    let store = Arc::new(Store::new(local));
    store.add_host(Host::new("child-1", 120));
    store
}

/// A running server and what stops it.
struct Server {
    web: Option<WebServer>,
    addr: SocketAddr,
    shutdown: Shutdown,
    store: Arc<Store>,
}

impl Server {
    fn start(web_section: &str) -> Server {
        Server::start_with(web_section, Hooks::default())
    }

    fn start_with(web_section: &str, hooks: Hooks) -> Server {
        let conf = format!("[web]\n    bind to = 127.0.0.1:0\n{web_section}");
        let store = store();
        let shutdown = Shutdown::new();
        let web = WebServer::start(&loaded(&conf), store.clone(), shutdown.clone(), hooks)
            .expect("web server starts")
            .expect("web server on");
        let addr = web.local_addrs()[0];
        Server {
            web: Some(web),
            addr,
            shutdown,
            store,
        }
    }

    fn stats(&self) -> WebStatsSnapshot {
        self.web.as_ref().map(|w| w.stats()).unwrap_or_default()
    }

    /// Waits (bounded) until `check` holds for the counters.
    fn wait_for(&self, what: &str, check: impl Fn(&WebStatsSnapshot) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = self.stats();
            if check(&stats) {
                return;
            }
            assert!(Instant::now() < deadline, "never {what}: {stats:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(web) = self.web.take() {
            web.join();
        }
    }
}

/// A connection from `from` (an address on the loopback network).
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let local: SocketAddr = format!("{from}:0").parse().expect("address");
    socket.bind(&SockAddr::from(local)).expect("bind client");
    socket.connect(&SockAddr::from(to)).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

fn connect(to: SocketAddr) -> TcpStream {
    connect_from("127.0.0.1", to)
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Reads one response (head, then `Content-Length` bytes unless `head`).
fn read_reply(stream: &mut impl Read, head_request: bool) -> Reply {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("reading a response head");
        assert!(n > 0, "connection closed before a response head: {buf:?}");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).expect("UTF-8 head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .expect("a Content-Length");
    let mut body = vec![0; if head_request { 0 } else { length }];
    stream.read_exact(&mut body).expect("reading a body");
    Reply {
        status,
        headers,
        body,
    }
}

fn get_on(stream: &mut TcpStream, target: &str, extra_headers: &str) -> Reply {
    let request = format!("GET {target} HTTP/1.1\r\nHost: test\r\n{extra_headers}\r\n");
    stream.write_all(request.as_bytes()).expect("send request");
    read_reply(stream, false)
}

fn get(addr: SocketAddr, target: &str) -> Reply {
    get_on(&mut connect(addr), target, "")
}

/// Whether the server closed `stream` (end of file or reset) within the
/// read timeout, reading and dropping what comes first.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn a_taken_port_is_a_clear_error_naming_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let conf = format!("[web]\n    bind to = 127.0.0.1:{}\n", addr.port());
    let error = WebServer::start(&loaded(&conf), store(), Shutdown::new(), Hooks::default())
        .expect_err("the port is taken");
    assert!(matches!(error, WebError::AddressInUse { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains(&addr.to_string()), "{text}");
    assert!(text.contains("netdata"), "{text}");

    // The binary says so and exits non-zero, before running anything.
    let dir = std::env::temp_dir().join(format!("backhaul-web-taken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let main = dir.join("netdata.conf");
    std::fs::write(
        &main,
        format!(
            "{conf}[plugins]\n    proc = no\n    diskspace = no\n    plugins.d = no\n\
             [directories]\n    config = {}\n",
            dir.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backhaul"))
        .arg("--config")
        .arg(&main)
        .output()
        .expect("run backhaul");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mode_none_listens_nowhere() {
    let web = WebServer::start(
        &loaded("[web]\n    mode = none\n    bind to = 127.0.0.1:0\n"),
        store(),
        Shutdown::new(),
        Hooks::default(),
    )
    .expect("no error");
    assert!(web.is_none());
}

#[test]
fn unreadable_tls_files_stop_the_start() {
    let conf = "[web]\n    bind to = 127.0.0.1:0\n    ssl certificate = /nonexistent/cert.pem\n    ssl key = /nonexistent/key.pem\n";
    let error = WebServer::start(&loaded(conf), store(), Shutdown::new(), Hooks::default())
        .expect_err("no such files");
    assert!(matches!(error, WebError::Tls { .. }), "{error:?}");
    assert!(
        error.to_string().contains("/nonexistent/cert.pem"),
        "{error}"
    );
}

#[test]
fn access_lists_by_client_address() {
    let server = Server::start(
        "    allow connections from = !127.0.0.3 *\n    allow dashboard from = localhost\n",
    );
    let ok = get(server.addr, "/api/v1/info");
    assert_eq!(ok.status, 200);

    let mut other = connect_from("127.0.0.2", server.addr);
    let denied = get_on(&mut other, "/api/v1/info", "");
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.text().trim_end(),
        "You are not allowed to access this resource."
    );
    let denied = get_on(&mut other, "/host/child-1/api/v1/charts", "");
    assert_eq!(denied.status, 403);

    // `allow connections from` refuses the connection itself.
    let mut refused = connect_from("127.0.0.3", server.addr);
    let _ = refused.write_all(b"GET / HTTP/1.1\r\n\r\n");
    assert!(closed_by_server(&mut refused));
    server.wait_for("denied the connection", |s| s.connections_denied == 1);
}

#[test]
fn gzip_when_the_client_accepts_it() {
    let server = Server::start("");
    let plain = get(server.addr, "/api/v1/charts");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("Content-Encoding"), None);

    let mut stream = connect(server.addr);
    let zipped = get_on(
        &mut stream,
        "/api/v1/charts",
        "Accept-Encoding: gzip, br\r\n",
    );
    assert_eq!(zipped.header("Content-Encoding"), Some("gzip"));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_end(&mut unzipped)
        .expect("valid gzip");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&unzipped).unwrap(),
        plain.json()
    );
    let refused = get_on(
        &mut stream,
        "/api/v1/charts",
        "Accept-Encoding: gzip;q=0\r\n",
    );
    assert_eq!(refused.header("Content-Encoding"), None);

    let off = Server::start("    enable gzip compression = no\n");
    let reply = get_on(
        &mut connect(off.addr),
        "/api/v1/charts",
        "Accept-Encoding: gzip\r\n",
    );
    assert_eq!(reply.header("Content-Encoding"), None);
}

#[test]
fn https_on_the_web_port_and_plain_http_redirected() {
    let pki = support::tls::TestPki::new("web");
    let dir = std::env::temp_dir().join(format!("backhaul-web-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = pki.write_files(&dir);
    let server = Server::start(&format!(
        "    ssl certificate = {}\n    ssl key = {}\n",
        files.server_cert.display(),
        files.server_key.display()
    ));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(pki.roots())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let session = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
    let mut tls = rustls::StreamOwned::new(session, connect(server.addr));
    for _ in 0..2 {
        tls.write_all(b"GET /api/v1/info HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let reply = read_reply(&mut tls, false);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["https-enabled"], true);
    }
    tls.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut tls, false).status, 200);

    // Plain HTTP on the same port is sent to HTTPS, as netdata does.
    let plain = get(server.addr, "/api/v1/info?x=1");
    assert_eq!(plain.status, 301);
    assert_eq!(
        plain.header("Location"),
        Some("https://test/api/v1/info?x=1")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keep_alive_pipelining_head_and_methods() {
    let server = Server::start("");
    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\n\r\nHEAD /api/v1/info HTTP/1.1\r\n\r\nPOST /api/v1/info HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let first = read_reply(&mut stream, false);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("Connection"), Some("keep-alive"));
    let head = read_reply(&mut stream, true);
    assert_eq!(head.status, 200);
    assert!(
        head.header("Content-Length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 100
    );
    let post = read_reply(&mut stream, false);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));

    let last = get_on(&mut stream, "/", "Connection: close\r\n");
    assert_eq!(last.header("Connection"), Some("close"));
    assert!(closed_by_server(&mut stream));

    // A body is refused, and the connection closed after the answer.
    let mut stream = connect(server.addr);
    stream
        .write_all(b"PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    assert_eq!(read_reply(&mut stream, false).status, 413);
    assert!(closed_by_server(&mut stream));

    // HTTP/1.0 closes unless asked to keep the connection.
    let mut stream = connect(server.addr);
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(read_reply(&mut stream, false).status, 200);
    assert!(closed_by_server(&mut stream));
}

#[test]
fn stream_requests_are_refused_until_a_handler_takes_them() {
    let request = b"STREAM key=11111111-2222-3333-4444-555555555555&hostname=child-host&NETDATA_CONTAINER_OS_NAME=Debian GNU/Linux&ver=15352 HTTP/1.1\r\nUser-Agent: netdata/v1.37.1\r\nAccept: */*\r\n\r\n";
    let server = Server::start("");
    let mut stream = connect(server.addr);
    stream.write_all(request).unwrap();
    let reply = read_reply(&mut stream, false);
    assert_eq!(reply.status, 401);
    assert!(
        reply
            .text()
            .contains("does not accept streaming: no API key is enabled"),
        "{}",
        reply.text()
    );
    assert!(closed_by_server(&mut stream));

    // With a handler, the connection leaves the server: the handler gets
    // the request, the bytes sent after it, and the socket.
    struct Echo(mpsc::Sender<(String, Vec<u8>)>);
    impl StreamHandler for Echo {
        fn accept(&self, mut connection: Upgraded) {
            let sender = self.0.clone();
            std::thread::spawn(move || {
                let _ = connection
                    .stream
                    .write_all(b"Hit me baby, push them over with the version=1\n");
                let mut more = [0u8; 5];
                let _ = connection.stream.read_exact(&mut more);
                let mut seen = connection.leftover.clone();
                seen.extend_from_slice(&more);
                let target = String::from_utf8_lossy(&connection.request.target).into_owned();
                let _ = sender.send((target, seen));
            });
        }
    }
    let (tx, rx) = mpsc::channel();
    let server = Server::start_with(
        "",
        Hooks {
            stream_handler: Some(Arc::new(Echo(tx))),
            ..Hooks::default()
        },
    );
    let mut stream = connect(server.addr);
    let mut first = request.to_vec();
    first.extend_from_slice(b"BEGIN");
    stream.write_all(&first).unwrap();
    let mut line = [0u8; 47];
    stream.read_exact(&mut line).unwrap();
    assert_eq!(
        &line[..],
        b"Hit me baby, push them over with the version=1\n"
    );
    stream.write_all(b" x\nEN").unwrap();
    let (target, seen) = rx.recv_timeout(IO_TIMEOUT).expect("the handler ran");
    assert!(target.contains("hostname=child-host&NETDATA_CONTAINER_OS_NAME=Debian GNU/Linux"));
    assert_eq!(seen, b"BEGIN x\nEN");
    server.wait_for("handed off", |s| {
        s.handed_off == 1 && s.connections_open == 0
    });
}

#[test]
fn info_says_when_this_agent_streams_to_a_parent() {
    let mut config = loaded("[web]\n    bind to = 127.0.0.1:0\n");
    config.stream.sender_enabled = true;
    let shutdown = Shutdown::new();
    let web = WebServer::start(&config, store(), shutdown.clone(), Hooks::default())
        .expect("web server starts")
        .expect("web server on");
    let info = get(web.local_addrs()[0], "/api/v1/info").json();
    assert_eq!(info["stream-enabled"], true);
    shutdown.trigger();
    web.join();
}

#[test]
fn info_and_charts() {
    let server = Server::start("");
    let info = get(server.addr, "/api/v1/info");
    assert_eq!(info.status, 200);
    assert_eq!(info.header("Content-Type"), Some("application/json"));
    let info = info.json();
    assert!(info["version"].as_str().unwrap().starts_with('v'));
    assert_eq!(
        info["mirrored_hosts"],
        serde_json::json!(["box", "child-1"])
    );
    assert_eq!(info["mirrored_hosts_status"][0]["hostname"], "box");
    assert_eq!(info["host_labels"], serde_json::json!({"env": "lab"}));
    assert_eq!(info["kernel_name"], "Linux");
    assert!(info["os_name"].is_string());
    let facts = backhaul::system_facts::SystemFacts::get();
    assert_eq!(info["cores_total"], facts.cores_text());
    assert_eq!(info["cpu_freq"], facts.cpu_freq_text());
    assert_eq!(info["total_disk_space"], facts.disk_space_text());
    assert_eq!(info["virtualization"], facts.virtualization.as_str());
    assert_eq!(info["container_os_name"], facts.container_os.name.as_str());
    assert_eq!(info["cloud_provider_type"], "unknown");
    let collectors = info["collectors"].as_array().unwrap();
    assert!(collectors.contains(&serde_json::json!({"plugin": "lab.plugin", "module": ""})));
    assert!(collectors.contains(&serde_json::json!({"plugin": "netdata", "module": "stats"})));
    assert_eq!(info["web-enabled"], true);
    assert_eq!(info["https-enabled"], false);
    assert_eq!(info["stream-enabled"], false);

    let child = get(server.addr, "/host/child-1/api/v1/info").json();
    assert!(child.get("kernel_name").is_none());
    assert!(child.get("uid").is_none());

    let charts = get(server.addr, "/api/v1/charts").json();
    assert_eq!(charts["hostname"], "box");
    assert_eq!(charts["hosts_count"], 2);
    let chart = &charts["charts"]["lab.weird_chart"];
    assert_eq!(chart["id"], "lab.weird_chart");
    assert_eq!(chart["name"], "lab.Weird_Name");
    assert_eq!(chart["type"], "lab");
    assert_eq!(chart["family"], "fam");
    assert_eq!(chart["context"], "lab.ctx");
    assert_eq!(chart["title"], "Lab sanitization test (lab.Weird_Name)");
    assert_eq!(chart["units"], "units");
    assert_eq!(chart["update_every"], 1);
    assert_eq!(chart["chart_type"], "line");
    assert_eq!(chart["priority"], 90000);
    assert_eq!(
        chart["dimensions"],
        serde_json::json!({"d1": {"name": "first"}, "d2": {"name": "d2"}})
    );
    assert_eq!(chart["chart_labels"]["_collect_plugin"], "lab.plugin");
    assert_eq!(chart["chart_labels"]["_collect_module"], "[none]");
    assert!(charts["charts"]["netdata.requests"].is_object());

    // A hidden chart is for exporting: not listed here, served by allmetrics.
    let mut def = ChartDef::new("lab", "hidden_chart").context("lab.hidden");
    def.hidden = true;
    let hidden = server.store.localhost().create_chart(def);
    {
        let mut w = hidden.write();
        w.add_dimension(DimensionDef::new("h"));
        w.set(0, 7);
        w.done(1_700_000_000_000_000).unwrap();
    }
    let charts = get(server.addr, "/api/v1/charts").json();
    assert!(charts["charts"]["lab.hidden_chart"].is_null());
    assert!(charts["charts"]["lab.weird_chart"].is_object());
    let shell = get(server.addr, "/api/v1/allmetrics?format=shell").text();
    assert!(shell.contains("NETDATA_LAB_HIDDEN_CHART_H="), "{shell}");

    let child = get(server.addr, "/host/child-1/api/v1/charts").json();
    assert_eq!(child["hostname"], "child-1");
    assert_eq!(child["charts_count"], 0);
}

#[test]
fn allmetrics_is_routed_with_the_host_and_the_client_address() {
    let server = Server::start("");
    let mut from_2 = connect_from("127.0.0.2", server.addr);
    let local = get_on(
        &mut from_2,
        "/api/v1/allmetrics?format=prometheus&help=no",
        "",
    );
    let child = get_on(
        &mut from_2,
        "/host/child-1/api/v1/allmetrics?format=prometheus",
        "",
    );
    if local.status == 501 {
        // The stub names what it was given.
        let text = local.text();
        assert!(text.contains("host=localhost"), "{text}");
        assert!(text.contains("client=127.0.0.2"), "{text}");
        assert!(text.contains("query=format=prometheus&help=no"), "{text}");
        assert!(child.text().contains("host=child-1"), "{}", child.text());
    } else {
        // The real endpoint.
        assert_eq!(local.status, 200);
        assert_eq!(
            local.header("Content-Type"),
            Some("text/plain; version=0.0.4")
        );
        assert_eq!(child.status, 200);
        // The body is written after room for the head, sized from the
        // previous body: whether the head fits that room exactly (the same
        // request again) or not (another `Connection`, another length),
        // the client gets the head and then the body, nothing between.
        let mut stream = connect(server.addr);
        for extra in [
            "",
            "",
            "Accept-Encoding: gzip\r\n",
            "",
            "Connection: close\r\n",
        ] {
            let reply = get_on(&mut stream, "/api/v1/allmetrics?format=prometheus", extra);
            assert_eq!(reply.status, 200);
            let body = if extra.contains("gzip") {
                assert_eq!(reply.header("Content-Encoding"), Some("gzip"));
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(&reply.body[..])
                    .read_to_end(&mut plain)
                    .unwrap();
                plain
            } else {
                reply.body.clone()
            };
            let text = String::from_utf8(body).unwrap();
            assert!(text.starts_with("netdata_info{"), "{text:?}");
            assert!(text.ends_with('\n') && !text.contains('\0'), "{text:?}");
        }
    }
    assert_eq!(
        get(server.addr, "/host/nobody/api/v1/allmetrics").status,
        404
    );
}

#[test]
fn a_scrapes_buffer_serves_the_next_scrape() {
    let server = Server::start("");
    // 12,000 series: a body of more than a megabyte, whose buffer is kept.
    let chart = server.store.localhost().create_chart(
        ChartDef::new("big", "chart")
            .units("units")
            .family("big")
            .update_every(1),
    );
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    {
        let mut writer = chart.write();
        let dims: Vec<_> = (0..12_000)
            .map(|i| writer.add_dimension(DimensionDef::new(format!("dimension_{i}"))))
            .collect();
        for t in now_s - 20..now_s {
            for &d in &dims {
                writer.set(d, t as i64);
            }
            writer.done(t * 1_000_000).unwrap();
        }
    }
    let kept = |server: &Server| server.web.as_ref().map_or(0, |w| w.kept_response_bytes());
    assert_eq!(kept(&server), 0);
    let wait_kept = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while kept(&server) < 1 << 20 {
            assert!(Instant::now() < deadline, "no buffer kept after {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let mut stream = connect(server.addr);
    let first = get_on(&mut stream, "/api/v1/allmetrics?format=prometheus", "");
    assert_eq!(first.status, 200);
    assert!(first.body.len() > 1 << 20, "{} bytes", first.body.len());
    // Sent: the event loop gave the buffer back.
    wait_kept("a plain scrape");
    let second = get_on(&mut stream, "/api/v1/allmetrics?format=prometheus", "");
    assert_eq!(second.status, 200);
    assert!(second.text().starts_with("netdata_info{"));
    assert!(!second.body.contains(&0));
    wait_kept("a second scrape");
    // Gzipped: the worker gives the body's buffer back.
    let zipped = get_on(
        &mut stream,
        "/api/v1/allmetrics?format=prometheus",
        "Accept-Encoding: gzip\r\n",
    );
    assert_eq!(zipped.header("Content-Encoding"), Some("gzip"));
    wait_kept("a gzipped scrape");
}

#[test]
fn netdata_monitoring_no_makes_no_web_charts() {
    let server = Server::start("[plugins]\n    netdata monitoring = no\n");
    assert_eq!(get(server.addr, "/").status, 200);
    server.wait_for("the request counted", |s| s.responses >= 1);
    let host = server.store.localhost().clone();
    for id in [
        "netdata.clients",
        "netdata.requests",
        "netdata.compression_ratio",
    ] {
        assert!(host.chart_by_id(id).is_none(), "{id}");
    }
}

#[test]
fn self_monitoring_charts_count_requests() {
    let server = Server::start("");
    let host = server.store.localhost().clone();
    for id in [
        "netdata.clients",
        "netdata.requests",
        "netdata.net",
        "netdata.response_time",
        "netdata.compression_ratio",
    ] {
        assert!(host.chart_by_id(id).is_some(), "{id}");
    }
    for _ in 0..3 {
        assert_eq!(get(server.addr, "/").status, 200);
    }
    let requests = host.chart_by_id("netdata.requests").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    // Two collections make the first stored rate.
    while requests.read().rounds() < 2 {
        assert!(Instant::now() < deadline, "the charts were never updated");
        std::thread::sleep(Duration::from_millis(20));
    }
    let state = requests.read();
    let (raw, _) = state.dimensions()[0].last_collected().expect("collected");
    assert!(raw >= 3, "requests counted: {raw}");
}

// ---------------------------------------------------------------------------
// bad peers

#[test]
fn a_one_megabyte_header_gets_431_and_a_closed_connection() {
    let server = Server::start("");
    let mut stream = connect(server.addr);
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let mut request = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        request.resize(1024 * 1024, b'a');
        // The server stops reading long before the end: errors are fine.
        let _ = writer.write_all(&request);
    });
    let reply = read_reply(&mut stream, false);
    assert_eq!(reply.status, 431);
    assert!(closed_by_server(&mut stream));
    let _ = sender.join();
    // Still serving.
    assert_eq!(get(server.addr, "/api/v1/info").status, 200);
    server.wait_for("refused the head", |s| s.refused_requests >= 1);
}

#[test]
fn a_client_stalling_half_way_is_dropped_after_the_first_request_timeout() {
    let server = Server::start("    timeout for first request = 1\n");
    let mut stalled = connect(server.addr);
    stalled.write_all(b"GET /api/v1/info HTT").unwrap();
    let started = Instant::now();
    // Meanwhile others are served.
    assert_eq!(get(server.addr, "/").status, 200);
    assert!(closed_by_server(&mut stalled));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    server.wait_for("timed out", |s| s.timeouts >= 1);
}

#[test]
fn a_thousand_idle_connections_do_not_stop_a_scrape() {
    let server = Server::start("    web server max sockets = 2000\n");
    let mut idle = Vec::with_capacity(1000);
    for _ in 0..1000 {
        idle.push(connect(server.addr));
    }
    server.wait_for("accepted 1000", |s| s.connections_open == 1000);
    let started = Instant::now();
    let reply = get(server.addr, "/api/v1/info");
    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Half-sent heads on a few hundred of them change nothing.
    for stream in idle.iter_mut().take(300) {
        let _ = stream.write_all(b"GET /api/v1/charts HTTP/1.1\r\nX-Slow: ");
    }
    assert_eq!(get(server.addr, "/api/v1/charts").status, 200);
    drop(idle);
    server.wait_for("closed them", |s| s.connections_open == 0);
}

#[test]
fn max_sockets_is_kept() {
    let server = Server::start("    web server max sockets = 20\n");
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(connect(server.addr));
    }
    server.wait_for("accepted or refused all", |s| s.connections_accepted == 100);
    // The counters settle once the event loop has registered or refused
    // each connection.
    server.wait_for("20 open and 80 refused", |s| {
        s.connections_open == 20 && s.connections_rejected == 80
    });
    // The refused ones got a 503 or were just closed.
    let mut refused = 0;
    for stream in held.iter_mut().skip(20) {
        let mut buf = [0u8; 64];
        match stream.read(&mut buf) {
            Ok(n) if n >= 12 => {
                assert_eq!(&buf[..12], b"HTTP/1.1 503");
                refused += 1;
            }
            Ok(_) | Err(_) => refused += 1,
        }
    }
    assert_eq!(refused, 80);
    // The 20 accepted ones are served.
    assert_eq!(get_on(&mut held[0], "/", "").status, 200);
    drop(held);
    server.wait_for("freed", |s| s.connections_open == 0);
    assert_eq!(get(server.addr, "/").status, 200);
}

#[test]
fn path_traversal_is_refused_and_reads_nothing() {
    let server = Server::start("");
    for target in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/v1/../../../etc/passwd",
        "/host/box/../../etc/passwd",
    ] {
        let reply = get(server.addr, target);
        assert_eq!(reply.status, 400, "{target}");
        assert!(!reply.text().contains("root:"), "{target}");
    }
    let reply = get(server.addr, "/etc/passwd");
    assert_eq!(reply.status, 404);
    assert!(!reply.text().contains("root:"));
}

#[test]
fn malformed_requests_get_400_and_a_closed_connection() {
    let server = Server::start("");
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
    ] {
        let mut stream = connect(server.addr);
        stream.write_all(raw).unwrap();
        let reply = read_reply(&mut stream, false);
        assert!(
            reply.status == 400 || reply.status == 505,
            "{raw:?}: {reply:?}"
        );
        assert!(closed_by_server(&mut stream));
    }
}

/// With nothing to time (no connection, no charts: `netdata monitoring =
/// no`) the event loop waits without a timeout; the shutdown still stops
/// it at once, through its wake-up.
#[test]
fn an_idle_server_with_nothing_to_time_stops_at_once() {
    let conf = "[plugins]\n    netdata monitoring = no\n[web]\n    bind to = 127.0.0.1:0\n";
    let shutdown = Shutdown::new();
    let web = WebServer::start(&loaded(conf), store(), shutdown.clone(), Hooks::default())
        .expect("web server starts")
        .expect("web server on");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let stopper = std::thread::spawn(move || {
        shutdown.trigger();
        web.join();
        let _ = done_tx.send(());
    });
    assert!(
        done_rx.recv_timeout(Duration::from_secs(2)).is_ok(),
        "the web server did not stop within 2 s of the shutdown"
    );
    let _ = stopper.join();
}

/// The ports refuse connections as soon as the shutdown fires, before the
/// server's thread has wound down: a streaming child that reconnects
/// meanwhile is refused (and retries after its reconnect delay) rather
/// than accepted into a backlog that the closing listener resets.
#[test]
fn the_ports_refuse_connections_as_soon_as_the_shutdown_fires() {
    let conf = "[plugins]\n    netdata monitoring = no\n[web]\n    bind to = 127.0.0.1:0\n";
    let shutdown = Shutdown::new();
    // Whoever learns of the shutdown first (here a wake-up registered
    // before the server's own; in the agent the stream receiver, which
    // sees the flag and drops its children) and reconnects at once, as a
    // netdata child whose connection was just dropped, is already refused.
    let addr_slot = Arc::new(Mutex::new(None::<std::net::SocketAddr>));
    let first_reconnect = Arc::new(Mutex::new(None));
    let (slot, outcome) = (addr_slot.clone(), first_reconnect.clone());
    shutdown.on_trigger(move || {
        if let Some(addr) = *slot.lock().unwrap() {
            let kind = std::net::TcpStream::connect(addr)
                .map(|_| ())
                .map_err(|e| e.kind());
            *outcome.lock().unwrap() = Some(kind);
        }
    });
    let web = WebServer::start(&loaded(conf), store(), shutdown.clone(), Hooks::default())
        .expect("web server starts")
        .expect("web server on");
    let addr = web.local_addrs()[0];
    *addr_slot.lock().unwrap() = Some(addr);
    std::net::TcpStream::connect(addr).expect("accepting before the shutdown");
    shutdown.trigger();
    assert_eq!(
        *first_reconnect.lock().unwrap(),
        Some(Err(std::io::ErrorKind::ConnectionRefused)),
        "a reconnect by the first to learn of the shutdown is refused"
    );
    let refused = std::net::TcpStream::connect(addr).expect_err("refused after the shutdown");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    web.join();
}
