//! Memory of parent mode, measured with a counting allocator (exact, not
//! timing-dependent): what one connected child costs with its connection
//! (plain and LZ4), and what one more streamed dimension costs (its ring
//! at `default history` points, its store and receiver overhead).
//! `cargo test -p backhaul --test stream_memory -- --nocapture` prints the
//! figures recorded in BENCHMARKS.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backhaul::config::{self, ExportingConfig, LoadedConfig};
use backhaul::shutdown::Shutdown;
use backhaul::stream::{ReceiverOptions, StreamReceiver};
use backhaul::web::{Hooks, StreamHandler, WebServer};
use rrd::{Host, Store};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// bookkeeping is one atomic add, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: our caller upholds `GlobalAlloc::alloc`'s contract, which
        // is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller
        // upholds the rest of `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const KEY: &str = "11111111-2222-3333-4444-555555555555";
const HISTORY: usize = 300;
const CHARTS: usize = 10;

fn start() -> (WebServer, StreamReceiver, Arc<Store>, Shutdown) {
    let (main, warnings) =
        config::parse_main_str("[web]\n bind to = 127.0.0.1:0\n", "netdata.conf").unwrap();
    let (stream, _) = config::parse_stream_str(
        &format!("[{KEY}]\n enabled = yes\n default history = {HISTORY}\n"),
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
    let store = Arc::new(Store::new(Host::new("parent", 60)));
    let shutdown = Shutdown::new();
    let receiver = StreamReceiver::start(
        store.clone(),
        ReceiverOptions::from_config(&loaded),
        shutdown.clone(),
    )
    .unwrap();
    let handler: Arc<dyn StreamHandler> = Arc::new(receiver.clone());
    let web = WebServer::start(
        &loaded,
        store.clone(),
        shutdown.clone(),
        Hooks {
            stream_handler: Some(handler),
            ..Hooks::default()
        },
    )
    .unwrap()
    .unwrap();
    (web, receiver, store, shutdown)
}

/// Connects `count` children (ver 15352 plain, or 16376 with LZ4 — the
/// decompressor's buffers are allocated either way only when agreed), each
/// defining `CHARTS` charts of `dims` dimensions and collecting them three
/// times; returns their sockets once the parent stored it all.
fn children(
    store: &Store,
    addr: std::net::SocketAddr,
    first: usize,
    count: usize,
    dims: usize,
    ver: u32,
) -> Vec<TcpStream> {
    let mut sockets = Vec::new();
    for n in first..first + count {
        let mut socket = TcpStream::connect(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let guid = format!("00000000-0000-0000-0000-{n:012}");
        socket
            .write_all(
                format!(
                    "STREAM key={KEY}&hostname=child{n}&machine_guid={guid}&update_every=1&ver={ver} HTTP/1.1\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        let mut answer = [0u8; 64];
        let got = socket.read(&mut answer).unwrap();
        assert!(answer[..got].starts_with(b"Hit me baby"));
        sockets.push(socket);
    }
    if ver & (1 << 10) != 0 {
        // Only the handshake is measured with LZ4 (what the decompressor
        // holds); the definitions go in plain connections.
        return sockets;
    }
    for (i, socket) in sockets.iter_mut().enumerate() {
        let mut text = String::new();
        for c in 0..CHARTS {
            text.push_str(&format!("CHART m.c{c} '' t u\n"));
            for d in 0..dims {
                text.push_str(&format!("DIMENSION dim{d}\n"));
            }
            text.push_str("CHART_DEFINITION_END 0 0 0\n");
        }
        socket.write_all(text.as_bytes()).unwrap();
        let _ = i;
    }
    let hosts = |n: usize| {
        store
            .hosts()
            .into_iter()
            .find(|h| h.hostname() == format!("child{n}"))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    for n in first..first + count {
        while !hosts(n).is_some_and(|h| {
            h.chart_count() == CHARTS
                && h.charts()
                    .iter()
                    .all(|c| c.read().dimensions().len() == dims)
        }) {
            assert!(
                Instant::now() < deadline,
                "child{n} never defined its charts"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // Three collections, a second apart, so every ring is allocated.
    for round in 0..3 {
        for socket in sockets.iter_mut() {
            let mut text = String::new();
            for c in 0..CHARTS {
                text.push_str(&format!("BEGIN m.c{c}\n"));
                for d in 0..dims {
                    text.push_str(&format!("SET dim{d} = {round}\n"));
                }
                text.push_str("END\n");
            }
            socket.write_all(text.as_bytes()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(1_050));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for n in first..first + count {
        while !hosts(n).is_some_and(|h| h.charts().iter().all(|c| c.read().rounds() >= 2)) {
            assert!(Instant::now() < deadline, "child{n} never collected");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    sockets
}

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

#[test]
fn memory_per_child_and_per_dimension() {
    let (web, receiver, store, shutdown) = start();
    let addr = web.local_addrs()[0];
    // Warm up (thread-locals, the first allocations of every path).
    let warm = children(&store, addr, 0, 2, 10, 15352);
    let n = 20;

    let before = live();
    let small = children(&store, addr, 100, n, 10, 15352);
    let with_10 = live() - before;

    let before = live();
    let big = children(&store, addr, 200, n, 60, 15352);
    let with_60 = live() - before;

    let before = live();
    let lz4 = children(&store, addr, 300, n, 0, 16376);
    let lz4_handshake = live() - before;

    let per_child_10 = with_10 as f64 / n as f64;
    let per_dim = (with_60 - with_10) as f64 / (n * CHARTS * 50) as f64;
    let per_child_fixed = per_child_10 - per_dim * (CHARTS * 10) as f64;
    let per_lz4_connection = lz4_handshake as f64 / n as f64;
    println!("history {HISTORY} points, {CHARTS} charts per child:");
    println!(
        "  per streamed dimension: {per_dim:.0} bytes ({:.0} of them the ring)",
        (HISTORY * 4) as f64
    );
    println!("  per child, besides its dimensions (host, connection, caches): {per_child_fixed:.0} bytes");
    println!("  per connected child with LZ4, before any chart: {per_lz4_connection:.0} bytes");
    assert!(per_dim < (HISTORY * 4) as f64 + 1_024.0, "{per_dim}");
    assert!(per_child_fixed < 1024.0 * 1024.0, "{per_child_fixed}");

    drop((warm, small, big, lz4));
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.connected_children() > 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    shutdown.trigger();
    web.join();
}
