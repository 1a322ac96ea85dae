//! The whole agent (`Agent::start`, in-process) with a graphite instance
//! (`update every = 1`) to a line receiver and its web server on
//! 127.0.0.1:0, while the web port is attacked by 1000 idle connections
//! (50 of them stalled after half a request head, all held for the whole
//! attack and answered nothing), 1 MB headers (431 and a closed connection)
//! and `GET /../../etc/passwd` (400, no file), in a loop: a normal `GET /api/v1/allmetrics?format=prometheus` made
//! during the attack answers 200 with the agent's series, and the exporter
//! keeps its schedule: one batch a second, its timestamps consecutive, none
//! missing over five seconds of attack; and the process's resident memory
//! grows by less than [`ATTACK_MEMORY_BOUND`] meanwhile.
//!
//! Bounded: every wait watches a response, an end of file or the receiver's
//! lines, with a deadline.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backhaul::agent::Agent;
use backhaul::config::{self, LoadedConfig};
use backhaul::shutdown::Shutdown;
use support::{Behaviour, FakeReceiver};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the attack lasts while the schedule is checked.
const ATTACK: Duration = Duration::from_secs(5);

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("backhaul-web-attack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn connect(to: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&to, IO_TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Sends `request` and reads the whole answer (the request says
/// `Connection: close`): the status code and the body.
fn request(to: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = connect(to);
    stream.write_all(request).expect("send request");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    (status, body.to_string())
}

fn get(to: SocketAddr, target: &str) -> (u16, String) {
    request(
        to,
        format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
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

/// A 1 MB header: a 431 (or a reset once the server stops reading), then a
/// closed connection.
fn big_header(to: SocketAddr) {
    let mut stream = connect(to);
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let mut request = b"GET /api/v1/info HTTP/1.1\r\nX-Big: ".to_vec();
        request.resize(1024 * 1024, b'a');
        // The server stops reading long before the end: errors are fine.
        let _ = writer.write_all(&request);
    });
    let mut head = [0u8; 12];
    match stream.read_exact(&mut head) {
        Ok(()) => assert_eq!(
            &head,
            b"HTTP/1.1 431",
            "{:?}",
            String::from_utf8_lossy(&head)
        ),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
            ),
            "{e}"
        ),
    }
    assert!(closed_by_server(&mut stream), "a 1 MB header left open");
    let _ = sender.join();
}

/// The graphite timestamps (the last field) of the lines received after
/// `since`.
/// This process's resident memory, bytes (the agent runs in it).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// How much the agent's memory may grow during the attack: the 1000
/// connections' head buffers (at most 16 KiB each) and their sockets'
/// bookkeeping, with room; a server that buffered the 1 MB headers, or a
/// thread per connection, goes far beyond.
const ATTACK_MEMORY_BOUND: u64 = 48 * 1024 * 1024;

fn timestamps_since(receiver: &FakeReceiver, since: Instant) -> BTreeSet<u64> {
    receiver
        .timed_lines()
        .into_iter()
        .filter(|(at, _)| *at >= since)
        .filter_map(|(_, line)| line.rsplit(' ').next().and_then(|t| t.parse().ok()))
        .collect()
}

#[test]
fn exporting_keeps_its_schedule_and_a_scrape_succeeds_while_the_web_port_is_attacked() {
    let receiver = FakeReceiver::start(Behaviour::Normal);
    let dir = TempDir::new();
    let base = dir.0.display();
    let (main, warnings) = config::parse_main_str(
        &format!(
            "[global]\n    hostname = attacked\n    update every = 1\n\
             [directories]\n    plugins = {base}/plugins\n    config = {base}/etc\n\
             \x20   cache = {base}/cache\n    lib = {base}/lib\n    log = {base}/log\n\
             [plugins]\n    enable running new plugins = no\n\
             [web]\n    bind to = 127.0.0.1:0\n    web server max sockets = 2000\n"
        ),
        "netdata.conf",
    )
    .expect("valid netdata.conf");
    let (exporting, _) = config::parse_exporting_str(
        &format!(
            "[graphite:attacked]\n    enabled = yes\n    destination = {}\n\
             \x20   data source = as collected\n    update every = 1\n\
             \x20   send charts matching = system.*\n",
            receiver.addr
        ),
        "exporting.conf",
        &main,
    )
    .expect("valid exporting.conf");
    let loaded = LoadedConfig {
        main,
        exporting,
        warnings,
        main_file: None,
        exporting_file: None,
        stream: Default::default(),
        stream_file: None,
    };
    let shutdown = Shutdown::new();
    let agent = Agent::start(&loaded, shutdown.clone()).expect("agent starts");
    let web = agent.web.as_ref().expect("web server on").local_addrs()[0];

    // Exporting runs before the attack: two batches.
    let deadline = Instant::now() + Duration::from_secs(10);
    let started = Instant::now() - Duration::from_secs(1);
    while timestamps_since(&receiver, started).len() < 2 {
        assert!(Instant::now() < deadline, "no batches before the attack");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A scrape sees the system charts before the attack.
    let scraped_system = |body: &str| body.lines().any(|l| l.starts_with("netdata_system_"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(web, "/api/v1/allmetrics?format=prometheus");
        if status == 200 && scraped_system(&body) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no system series: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The attack. 1000 idle connections...
    let resident_before = resident_bytes();
    let mut resident_max = resident_before;
    let mut idle: Vec<TcpStream> = (0..1000).map(|_| connect(web)).collect();
    // ... 50 of which stall after half a request head.
    for stream in idle.iter_mut().take(50) {
        stream
            .write_all(b"GET /api/v1/allmetrics?format=prometheus HTTP/1.1\r\nHost: te")
            .expect("half a head");
    }
    // Meanwhile, in a loop until the check is over: 1 MB headers and path
    // traversal.
    let attack_start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let attacker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut rounds = 0u32;
            while !stop.load(Ordering::Relaxed) {
                big_header(web);
                let (status, body) = get(web, "/../../etc/passwd");
                assert_eq!(status, 400, "{body}");
                assert!(!body.contains("root:"), "{body}");
                rounds += 1;
            }
            rounds
        })
    };

    // Normal scrapes during the attack, until five seconds of batches
    // arrived after it started. A bit more than a second apart: each one
    // averages over the time since the previous one, which must hold a
    // collection.
    let mut scrapes = 0;
    let deadline = attack_start + ATTACK + Duration::from_secs(8);
    loop {
        let (status, body) = get(web, "/api/v1/allmetrics?format=prometheus");
        assert_eq!(status, 200, "{body}");
        assert!(
            scraped_system(&body),
            "no system series in the scrape: {body}"
        );
        scrapes += 1;
        resident_max = resident_max.max(resident_bytes());
        let elapsed = attack_start.elapsed();
        if elapsed >= ATTACK && timestamps_since(&receiver, attack_start).len() >= 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "batches after {elapsed:?} of attack: {:?}",
            timestamps_since(&receiver, attack_start)
        );
        std::thread::sleep(Duration::from_millis(1100));
    }
    let attack_time = attack_start.elapsed();
    resident_max = resident_max.max(resident_bytes());
    stop.store(true, Ordering::Relaxed);
    let rounds = attacker.join().expect("the attacker's checks held");
    // Memory stays bounded under the attack.
    let grown = resident_max.saturating_sub(resident_before);
    assert!(
        grown < ATTACK_MEMORY_BOUND,
        "memory grew {} MiB during the attack (bound {} MiB)",
        grown >> 20,
        ATTACK_MEMORY_BOUND >> 20
    );
    eprintln!("memory grown during the attack: {} KiB", grown >> 10);
    assert!(rounds >= 1);
    assert!(scrapes >= 4, "{scrapes} scrapes");

    // One batch a second, none missing: the timestamps received during the
    // attack are consecutive and there are as many as seconds passed
    // (give or take the batch in flight at either end).
    let seen: Vec<u64> = timestamps_since(&receiver, attack_start)
        .into_iter()
        .collect();
    assert!(
        seen.windows(2).all(|w| w[1] == w[0] + 1),
        "a batch missing during the attack: {seen:?}"
    );
    let seconds = attack_time.as_secs();
    assert!(
        seen.len() as u64 + 1 >= seconds,
        "{} batches in {attack_time:?}: {seen:?}",
        seen.len()
    );

    // The idle and stalled clients (held for the whole attack: the first
    // request timeout is netdata's 60 s) got nothing.
    for stream in idle.iter_mut() {
        stream.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 16];
        match stream.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("an idle or stalled client got {other:?}"),
        }
    }
    drop(idle);

    shutdown.trigger();
    agent.wait();
}
