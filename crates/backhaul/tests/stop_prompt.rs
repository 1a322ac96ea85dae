//! Stopping is prompt: on SIGTERM every exporting instance stops within
//! 2 s even while it is blocked connecting, in a TLS handshake or waiting
//! for an HTTP response, with `timeout ms` far longer than that.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use backhaul::sys::{signal_process, Signal};
use socket2::{Domain, SockAddr, Socket, Type};

/// A listener that accepts connections and never sends or reads a byte.
fn silent_server(accepted: Arc<AtomicUsize>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
            accepted.fetch_add(1, Ordering::SeqCst);
        }
    });
    addr
}

/// A listener whose backlog is full and that never accepts: a connect to
/// it hangs (the kernel drops further SYNs).
fn hanging_connect_target() -> (Socket, Vec<Socket>, SocketAddr) {
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    l.bind(&SockAddr::from(
        "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
    ))
    .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&SockAddr::from(addr));
        fillers.push(s);
    }
    (l, fillers, addr)
}

#[test]
fn sigterm_stops_blocked_instances_within_two_seconds() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let http = silent_server(accepted.clone());
    let tls = silent_server(accepted.clone());
    let (_listener, _fillers, hang) = hanging_connect_target();
    let dir = std::env::temp_dir().join(format!("backhaul-stop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let main = dir.join("netdata.conf");
    std::fs::write(
        &main,
        "[global]\n    update every = 1\n[plugins]\n    proc = no\n    diskspace = no\n    plugins.d = no\n\
         [web]\n    bind to = 127.0.0.1:0\n",
    )
    .unwrap();
    let exporting = dir.join("exporting.conf");
    std::fs::write(
        &exporting,
        format!(
            "[exporting:global]\n    enabled = yes\n    update every = 1\n    timeout ms = 60000\n    spool directory = {}\n\
             [graphite:hang]\n    destination = {hang}\n\
             [json:http:silent]\n    destination = {http}\n\
             [json:https:handshake]\n    destination = {tls}\n    ssl skip certificate verification = yes\n",
            dir.join("spool").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_backhaul"))
        .arg("--config")
        .arg(&main)
        .arg("--exporting-config")
        .arg(&exporting)
        .env("RUST_LOG", "backhaul=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Readiness: each instance is blocked where it should be.
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let blocked = |log: &[String]| {
        let has = |inst: &str, what: &str| {
            log.iter()
                .any(|l| l.contains(&format!("instance={inst}")) && l.contains(what))
        };
        has("hang", "connecting")
            && has("silent", "waiting for the response")
            && has("handshake", "TLS handshake")
    };
    while !blocked(&log) {
        assert!(
            Instant::now() < deadline,
            "instances never blocked:\n{}",
            log.join("\n")
        );
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            log.push(line);
        }
    }
    // The servers' accept threads may count a connection a moment after
    // the agent logged its request on it.
    while accepted.load(Ordering::SeqCst) < 2 {
        assert!(
            Instant::now() < deadline,
            "the silent servers never accepted both connections"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let signalled = Instant::now();
    signal_process(&child, Signal::TERM).unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = signalled.elapsed();
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        log.push(line);
    }
    assert!(status.success(), "{status:?}\n{}", log.join("\n"));
    assert!(
        took < Duration::from_secs(2),
        "took {took:?} to stop:\n{}",
        log.join("\n")
    );
    assert!(log.iter().any(|l| l.contains("backhaul stopped")));
    let _ = std::fs::remove_dir_all(&dir);
}
