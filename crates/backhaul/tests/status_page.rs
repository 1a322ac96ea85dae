//! The status page (`/`) and `/api/v1/exporters` of a running agent that
//! exports to a live receiver (an in-process [`FakeReceiver`]) and to dead
//! ones (nothing listens), checked as JSON and in a real browser (headless
//! Chromium: its DOM, and a screenshot left in `target/status-page.png`).
//!
//! The browser test is skipped with a message when `chromium` is not
//! installed, and fails instead with `BACKHAUL_REQUIRE_REAL_RECEIVERS=1`
//! (as `.ci/run` sets after installing it).

mod real;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backhaul::agent::Agent;
use backhaul::config;
use backhaul::shutdown::Shutdown;
use serde_json::Value;
use support::{dead_addr, Behaviour, FakeReceiver};

const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "hunter2-status-secret";
const TOKEN: &str = "tok-status-secret-42";
const TENANT: &str = "tenant-secret-7";

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("backhaul-status-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("plugins.d")).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Running {
    agent: Option<Agent>,
    shutdown: Shutdown,
    web: SocketAddr,
    _receiver: FakeReceiver,
    _dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(agent) = self.agent.take() {
            agent.wait();
        }
    }
}

/// An agent with three instances: `live` (graphite to a fake receiver),
/// `dead` (opentsdb to a closed port) and `secret` (json over HTTP to a
/// closed port, with a password and token headers), a small plugin, and
/// its web server on a free port of 127.0.0.1.
fn start(tag: &str, web_extra: &str) -> Running {
    start_with_stream(tag, web_extra, None)
}

/// [`start`], with `stream_conf` written as the agent's stream.conf.
fn start_with_stream(tag: &str, web_extra: &str, stream_conf: Option<&str>) -> Running {
    let dir = TempDir::new(tag);
    let d = dir.0.display().to_string();
    if let Some(text) = stream_conf {
        std::fs::write(dir.0.join("stream.conf"), text).expect("write stream.conf");
    }
    let plugin = dir.0.join("plugins.d/lab.plugin");
    std::fs::write(
        &plugin,
        "#!/bin/sh\n\
         echo \"CHART lab.status '' 'Status lab' units lab lab line 1000 1\"\n\
         echo \"DIMENSION x '' absolute 1 1\"\n\
         while true; do echo 'BEGIN lab.status'; echo 'SET x = 1'; echo 'END'; sleep 1; done\n",
    )
    .expect("write plugin");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755))
            .expect("chmod plugin");
    }
    let receiver = FakeReceiver::start(Behaviour::Normal);
    let netdata_conf = dir.0.join("netdata.conf");
    std::fs::write(
        &netdata_conf,
        format!(
            "[global]\n    hostname = statusbox\n    update every = 1\n\
             [directories]\n    config = {d}\n    plugins = {d}/plugins.d\n\
             \x20   cache = {d}\n    lib = {d}\n    log = {d}\n\
             [plugins]\n    proc = no\n    enable running new plugins = yes\n\
             [web]\n    bind to = 127.0.0.1:0\n{web_extra}"
        ),
    )
    .expect("write netdata.conf");
    let exporting_conf = dir.0.join("exporting.conf");
    std::fs::write(
        &exporting_conf,
        format!(
            "[graphite:live]\n    enabled = yes\n    destination = {live}\n    update every = 1\n\
             [opentsdb:dead]\n    enabled = yes\n    destination = {dead}\n    update every = 1\n\
             [json:http:secret]\n    enabled = yes\n    destination = {dead2}\n    update every = 1\n\
             \x20   username = statususer\n    password = {PASSWORD}\n\
             \x20   http headers = X-Auth-Token: {TOKEN} | X-Scope-OrgID: {TENANT}\n",
            live = receiver.addr,
            dead = dead_addr(),
            dead2 = dead_addr(),
        ),
    )
    .expect("write exporting.conf");
    let loaded = config::load(Some(&netdata_conf), Some(&exporting_conf)).expect("config");
    let shutdown = Shutdown::new();
    let agent = Agent::start(&loaded, shutdown.clone()).expect("agent starts");
    let web = agent.web.as_ref().expect("web server on").local_addrs()[0];
    Running {
        agent: Some(agent),
        shutdown,
        web,
        _receiver: receiver,
        _dir: dir,
    }
}

/// `GET target` over a fresh connection: status and body.
fn get(addr: SocketAddr, target: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read reply");
    let text = String::from_utf8(raw).expect("utf-8 reply");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn exporters(addr: SocketAddr) -> Value {
    let (status, body) = get(addr, "/api/v1/exporters");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

fn exporter<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["exporters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no exporter {name} in {v}"))
}

/// Polls `/api/v1/exporters` until `ready` holds (bounded by [`WAIT`]).
fn wait_for(addr: SocketAddr, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = exporters(addr);
        if ready(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Live connected and sending, the dead ones failing with a buffered
/// batch, the plugin running, the self-monitoring chart of `live` holding
/// at least `points` points.
fn settled(v: &Value, points: usize, addr: SocketAddr) -> bool {
    let live = exporter(v, "live");
    let dead = exporter(v, "dead");
    let secret = exporter(v, "secret");
    let plugin_running = v["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "lab" && p["state"] == "running");
    live["state"] == "connected"
        && live["sent_metrics"].as_u64().unwrap() > 0
        && dead["state"] == "failing"
        && secret["state"] == "failing"
        && dead["ring"]["batches"].as_u64().unwrap() >= 2
        && plugin_running
        && (points == 0 || {
            let (_, page) = get(addr, "/");
            page.matches("<polyline").count() >= 3
                && live["batches"].as_u64().unwrap() >= points as u64
        })
}

#[test]
fn exporters_json_shows_each_instance_and_no_secret() {
    let run = start("json", "");
    let v = wait_for(run.web, "the instances to settle", |v| {
        settled(v, 0, run.web)
    });
    let live = exporter(&v, "live");
    assert_eq!(live["connector_type"], "graphite");
    assert_eq!(live["connected_to"], run._receiver.addr.to_string());
    assert_eq!(live["destination"], run._receiver.addr.to_string());
    assert!(live["last_error"].is_null(), "{live}");
    let dead = exporter(&v, "dead");
    assert_eq!(dead["connector_type"], "opentsdb");
    assert!(dead["connected_to"].is_null());
    assert!(dead["failures"].as_u64().unwrap() >= 1);
    assert!(
        dead["last_error"]["text"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{dead}"
    );
    assert!(dead["last_error"]["time"].as_i64().unwrap() > 0);
    assert!(dead["ring"]["buffered_metrics"].as_u64().unwrap() > 0);
    assert!(dead["ring"]["buffered_bytes"].as_u64().unwrap() > 0);
    // Two batches at one second apart: the oldest is at least a second old.
    assert!(dead["lag_seconds"].as_i64().unwrap() >= 1, "{dead}");
    assert_eq!(exporter(&v, "secret")["connector_type"], "json:http");
    assert!(v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["hostname"] == "statusbox" && h["localhost"] == true));
    assert!(v["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "diskspace"));

    let (_, json) = get(run.web, "/api/v1/exporters");
    let (status, page) = get(run.web, "/");
    assert_eq!(status, 200);
    for secret in [PASSWORD, TOKEN, TENANT, "X-Auth-Token", "statususer"] {
        assert!(
            !json.contains(secret),
            "{secret} shown in /api/v1/exporters"
        );
        assert!(!page.contains(secret), "{secret} shown on the status page");
    }
}

#[test]
fn streaming_is_shown_both_ways() {
    let parent = dead_addr();
    let stream_conf = format!(
        "[stream]\n    enabled = yes\n    destination = {parent}\n    api key = 11111111-2222-3333-4444-555555555555\n\
         \x20   reconnect delay seconds = 1\n\
         [22222222-2222-3333-4444-555555555555]\n    enabled = yes\n"
    );
    let run = start_with_stream("stream", "", Some(&stream_conf));
    let v = wait_for(run.web, "the sender to fail", |v| {
        v["streaming"]["sender"]["connect_failures"].as_u64() >= Some(1)
    });
    let sender = &v["streaming"]["sender"];
    assert_eq!(sender["destination"], parent.to_string());
    assert_eq!(sender["state"], "failing");
    assert!(sender["parent"].is_null());
    let receiver = &v["streaming"]["receiver"];
    assert_eq!(receiver["children_connected"], 0);
    assert_eq!(receiver["accepted"], 0);
    let (status, page) = get(run.web, "/");
    assert_eq!(status, 200);
    assert!(page.contains("<h2>Streaming</h2>"), "{page}");
    assert!(
        page.contains("id=\"stream-sender\" data-state=\"failing\""),
        "{page}"
    );
    assert!(page.contains("id=\"stream-receiver\""), "{page}");
    assert!(
        page.contains(&format!("<dt>destination</dt><dd>{parent}</dd>")),
        "{page}"
    );
    // The API keys are not shown.
    for key in ["11111111-2222", "22222222-2222"] {
        assert!(!page.contains(key), "an API key on the status page");
        assert!(!serde_json::to_string(&v).unwrap().contains(key));
    }

    // Without stream.conf there is no streaming section.
    let plain = start("nostream", "");
    let v = exporters(plain.web);
    assert!(v["streaming"]["sender"].is_null() && v["streaming"]["receiver"].is_null());
    assert!(!get(plain.web, "/").1.contains("<h2>Streaming</h2>"));
}

#[test]
fn exporters_and_the_page_obey_allow_dashboard_from() {
    let run = start("access", "    allow dashboard from = 10.*\n");
    for target in ["/", "/api/v1/exporters"] {
        let (status, body) = get(run.web, target);
        assert_eq!(status, 403, "{target}: {body}");
        assert!(!body.contains("live"));
    }
}

/// Runs chromium headless with `args`, bounded by `timeout` (a minute: a
/// loaded 2-core machine has taken over 25 s to start it); its stdout.
fn chromium(profile: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("timeout")
        .arg("60")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_status_page_in_a_real_browser() {
    if !real::require("status page browser test", &["chromium"]) {
        return;
    }
    let run = start("browser", "");
    wait_for(run.web, "the instances and their plots", |v| {
        settled(v, 3, run.web)
    });
    let url = format!("http://{}/", run.web);
    let profile = TempDir::new("chromium-profile");

    let dom = chromium(&profile.0, &["--dump-dom", &url]);
    let section = |name: &str| -> String {
        let start = dom
            .find(&format!("id=\"exporter-{name}\""))
            .unwrap_or_else(|| panic!("no section for {name} in the DOM:\n{dom}"));
        let end = dom[start..].find("</section>").expect("section end") + start;
        dom[start..end].to_string()
    };
    let live = section("live");
    assert!(live.contains("data-state=\"connected\""), "{live}");
    assert!(live.contains(&run._receiver.addr.to_string()), "{live}");
    for dead in ["dead", "secret"] {
        let s = section(dead);
        assert!(s.contains("data-state=\"failing\""), "{s}");
        assert!(s.contains("cannot connect"), "{s}");
    }
    // Each instance: three plots; live's have lines with points.
    for name in ["live", "dead", "secret"] {
        let s = section(name);
        for suffix in ["metrics", "bytes", "ops"] {
            assert!(
                s.contains(&format!("data-chart=\"netdata.exporting_{name}_{suffix}\"")),
                "{name} {suffix}: {s}"
            );
        }
    }
    let polylines: Vec<&str> = live
        .split("<polyline")
        .skip(1)
        .filter_map(|p| p.split("points=\"").nth(1)?.split('"').next())
        .collect();
    assert!(polylines.len() >= 3, "{live}");
    for points in &polylines {
        assert!(
            points.split(' ').count() >= 2,
            "a plot of one point: {points}"
        );
        assert!(points.contains(','), "{points}");
    }
    assert!(dom.contains("id=\"collectors\""));
    assert!(dom.contains("lab"), "the plugin is listed");
    assert!(dom.contains("statusbox"), "the host is listed");
    for secret in [PASSWORD, TOKEN, TENANT] {
        assert!(!dom.contains(secret));
    }

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let shot = target.join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &profile.0,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600",
            &url,
        ],
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let _ = std::io::stderr()
        .write_all(format!("status_page: screenshot in {}\n", shot.display()).as_bytes());
}
