//! Parent-mode scale bench: N simulated children stream D dimensions each
//! every second into one backhaul parent (the agent, in this process),
//! which exports every host every 10 s (graphite, `average`) to a loopback
//! receiver that counts lines and their lag (receive time minus the line's
//! timestamp). Reports the parent's CPU per received value (the process's
//! CPU time minus the simulated children's and the receiver's threads'),
//! its memory (resident set minus what it was before the children came),
//! and whether every interval's lines arrived.
//!
//! ```sh
//! cargo bench -p backhaul --bench stream_scale                 # 200 children × 2000 dims, 60 s
//! BENCH_CHILDREN=50 BENCH_DIMS=500 BENCH_SECONDS=30 cargo bench -p backhaul --bench stream_scale
//! ```
//!
//! The children speak protocol version 4 (no replication round trip) and
//! send `BEGIN`/`SET`/`END` for charts of 100 dimensions, values changing
//! every second.
//!
//! `BENCH_PARENT=netdata` sends the same children to a netdata 1.37 parent
//! (`/usr/sbin/netdata`, `[db] mode = ram`, the same history, the same
//! exporting instance) instead, and reports that process's CPU: the side by
//! side of the issue. Both parents run with the same internal collectors
//! off (`proc`, `diskspace`, `timex`, `idlejitter`, `statsd`; netdata also
//! its own others), so the figure is the cost of receiving and exporting.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backhaul::agent::Agent;
use backhaul::config;
use backhaul::shutdown::Shutdown;
use backhaul::sys::thread_cpu_ns;

const KEY: &str = "11111111-2222-3333-4444-555555555555";
const DIMS_PER_CHART: usize = 100;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A process's CPU time (user + system) in ns: this process's from
/// `CLOCK_PROCESS_CPUTIME_ID` (precise; every thread, ended ones included),
/// another's from /proc/PID/stat (in clock ticks of 10 ms).
fn process_cpu_ns_of(pid: Option<u32>) -> u64 {
    let Some(pid) = pid else {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        return ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks * 1_000_000_000 / 100
}

fn rss_bytes_of(pid: Option<u32>) -> u64 {
    let path = pid.map_or("/proc/self/status".to_string(), |p| {
        format!("/proc/{p}/status")
    });
    let status = std::fs::read_to_string(path).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

struct Counts {
    lines: AtomicU64,
    max_lag_s: AtomicU64,
    cpu_ns: AtomicU64,
}

fn main() {
    let children = env("BENCH_CHILDREN", 200);
    let dims = env("BENCH_DIMS", 2000);
    let seconds = env("BENCH_SECONDS", 60);
    let history = env("BENCH_HISTORY", 120);
    let charts = dims.div_ceil(DIMS_PER_CHART);

    // The counting receiver.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let receiver_addr = listener.local_addr().unwrap();
    let counts = Arc::new(Counts {
        lines: AtomicU64::new(0),
        max_lag_s: AtomicU64::new(0),
        cpu_ns: AtomicU64::new(0),
    });
    let receiver_counts = counts.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            // More than one connection would explain repeated lines (a
            // batch sent again after a reconnect): say when each came.
            eprintln!(
                "receiver: connection from {:?} at {:?}",
                socket.peer_addr(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
            );
            let counts = receiver_counts.clone();
            std::thread::spawn(move || {
                let start_cpu = thread_cpu_ns();
                let mut reader = BufReader::with_capacity(1 << 20, socket);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if let Some(ts) = line
                        .trim_end()
                        .rsplit(' ')
                        .next()
                        .and_then(|t| t.parse::<u64>().ok())
                    {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_secs();
                        counts
                            .max_lag_s
                            .fetch_max(now.saturating_sub(ts), Ordering::Relaxed);
                    }
                    counts.lines.fetch_add(1, Ordering::Relaxed);
                    line.clear();
                    if counts.lines.load(Ordering::Relaxed).is_multiple_of(65536) {
                        counts
                            .cpu_ns
                            .store(thread_cpu_ns() - start_cpu, Ordering::Relaxed);
                    }
                }
                counts
                    .cpu_ns
                    .store(thread_cpu_ns() - start_cpu, Ordering::Relaxed);
            });
        }
    });

    // The parent.
    let dir = std::env::temp_dir().join(format!("backhaul-stream-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("netdata.conf"),
        format!(
            "[global]\n hostname = parent\n[directories]\n config = {0}\n lib = {0}\n\
             [plugins]\n enable running new plugins = no\n proc = no\n diskspace = no\n\
             \x20timex = no\n idlejitter = no\n statsd = no\n\
             [web]\n bind to = 127.0.0.1:0\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("stream.conf"),
        format!("[{KEY}]\n enabled = yes\n default history = {history}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("exporting.conf"),
        format!(
            "[graphite:counting]\n enabled = yes\n destination = {receiver_addr}\n update every = 10\n\
             \x20data source = average\n send hosts matching = !localhost *\n buffer on failures = 10\n"
        ),
    )
    .unwrap();
    let netdata = std::env::var("BENCH_PARENT").is_ok_and(|v| v == "netdata");
    let shutdown = Shutdown::new();
    let (agent, mut netdata_process, parent) = if netdata {
        let (child, addr) = start_netdata(&dir, history, receiver_addr);
        (None, Some(child), addr)
    } else {
        let loaded = config::load(Some(&dir.join("netdata.conf")), None).unwrap();
        let agent = Agent::start(&loaded, shutdown.clone()).unwrap();
        let addr = agent.web.as_ref().unwrap().local_addrs()[0];
        (Some(agent), None, addr)
    };
    let parent_pid = netdata_process.as_ref().map(std::process::Child::id);
    let rss_before = rss_bytes_of(parent_pid);

    // The children: one thread per group of 25.
    let stop = Arc::new(AtomicBool::new(false));
    let generator_cpu = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for group in (0..children).collect::<Vec<_>>().chunks(25) {
        let group = group.to_vec();
        let stop = stop.clone();
        let generator_cpu = generator_cpu.clone();
        threads.push(std::thread::spawn(move || {
            let mut sockets: Vec<TcpStream> = group
                .iter()
                .map(|n| {
                    let mut s = TcpStream::connect(parent).unwrap();
                    s.write_all(
                        format!(
                            "STREAM key={KEY}&hostname=child{n}&machine_guid=00000000-0000-0000-0000-{n:012}&update_every=1&ver=4 HTTP/1.1\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .unwrap();
                    let mut answer = [0u8; 64];
                    let _ = s.read(&mut answer).unwrap();
                    let mut text = String::new();
                    for c in 0..charts {
                        text.push_str(&format!("CHART scale.c{c} '' t u\n"));
                        for d in 0..DIMS_PER_CHART.min(dims - c * DIMS_PER_CHART) {
                            text.push_str(&format!("DIMENSION d{d}\n"));
                        }
                    }
                    s.write_all(text.as_bytes()).unwrap();
                    s
                })
                .collect();
            let mut buffer = Vec::new();
            let mut tick = 0u64;
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let cpu = thread_cpu_ns();
                for socket in &mut sockets {
                    buffer.clear();
                    for c in 0..charts {
                        buffer.extend_from_slice(format!("BEGIN scale.c{c} 1000000\n").as_bytes());
                        for d in 0..DIMS_PER_CHART.min(dims - c * DIMS_PER_CHART) {
                            let _ = writeln!(buffer, "SET d{d} = {}", tick * 10 + d as u64);
                        }
                        buffer.extend_from_slice(b"END\n");
                    }
                    let _ = socket.write_all(&buffer);
                }
                generator_cpu.fetch_add(thread_cpu_ns() - cpu, Ordering::Relaxed);
                tick += 1;
                let next = start + Duration::from_secs(tick);
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        }));
    }

    // Warm up 15 s, then measure.
    std::thread::sleep(Duration::from_secs(15));
    let cpu0 = process_cpu_ns_of(parent_pid);
    let gen0 = generator_cpu.load(Ordering::Relaxed);
    let rec0 = counts.cpu_ns.load(Ordering::Relaxed);
    let lines0 = counts.lines.load(Ordering::Relaxed);
    counts.max_lag_s.store(0, Ordering::Relaxed);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds as u64));
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = process_cpu_ns_of(parent_pid) - cpu0;
    let generator = generator_cpu.load(Ordering::Relaxed) - gen0;
    let receiver_cpu = counts.cpu_ns.load(Ordering::Relaxed) - rec0;
    let lines = counts.lines.load(Ordering::Relaxed) - lines0;
    let rss = rss_bytes_of(parent_pid);
    stop.store(true, Ordering::Relaxed);

    // In process, the children's and the receiver's threads are ours too.
    let parent_cpu = if netdata {
        cpu
    } else {
        cpu.saturating_sub(generator).saturating_sub(receiver_cpu)
    };
    println!(
        "parent: {}",
        if netdata { "netdata 1.37" } else { "backhaul" }
    );
    let values = (children * dims) as f64 * elapsed;
    let expected_lines = (children * dims) as f64 * elapsed / 10.0;
    println!("children {children} × dims {dims}, history {history}, {elapsed:.0} s measured");
    println!(
        "parent CPU (ingest and export): {:.1} % of one core, {:.0} ns per received value",
        parent_cpu as f64 / elapsed / 1e7,
        parent_cpu as f64 / values
    );
    println!(
        "parent memory: {:.0} MB resident for the children ({:.0} KB per child, {:.0} bytes per dimension)",
        rss.saturating_sub(rss_before) as f64 / 1e6,
        rss.saturating_sub(rss_before) as f64 / children as f64 / 1e3,
        rss.saturating_sub(rss_before) as f64 / (children * dims) as f64
    );
    println!(
        "exported lines: {lines} of about {expected_lines:.0} expected ({:.1} %), max lag {} s",
        lines as f64 * 100.0 / expected_lines,
        counts.max_lag_s.load(Ordering::Relaxed)
    );
    println!(
        "(simulated children's CPU {:.1} %, receiver's {:.1} %, not counted)",
        generator as f64 / elapsed / 1e7,
        receiver_cpu as f64 / elapsed / 1e7
    );
    for t in threads {
        let _ = t.join();
    }
    shutdown.trigger();
    if let Some(agent) = agent {
        agent.wait();
    }
    if let Some(child) = netdata_process.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A netdata 1.37 parent: ram mode, the bench's API key and history, the
/// same exporting instance; returns the process and its web address.
fn start_netdata(
    dir: &std::path::Path,
    history: usize,
    receiver: std::net::SocketAddr,
) -> (std::process::Child, std::net::SocketAddr) {
    let nd = dir.join("netdata");
    for sub in ["etc", "cache", "lib", "log", "plugins"] {
        std::fs::create_dir_all(nd.join(sub)).unwrap();
    }
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = nd.display();
    std::fs::write(
        nd.join("etc/netdata.conf"),
        format!(
            "[global]\n hostname = parent\n run as user = root\n\
             [db]\n mode = ram\n update every = 1\n retention = {history}\n\
             [directories]\n config = {base}/etc\n cache = {base}/cache\n lib = {base}/lib\n\
             \x20log = {base}/log\n plugins = {base}/plugins\n\
             [logs]\n error = {base}/log/error.log\n access = none\n\
             [plugins]\n enable running new plugins = no\n proc = no\n diskspace = no\n cgroups = no\n\
             \x20tc = no\n idlejitter = no\n timex = no\n statsd = no\n checks = no\n\
             \x20netdata monitoring = no\n\
             [health]\n enabled = no\n[ml]\n enabled = no\n[registry]\n enabled = no\n\
             [web]\n bind to = 127.0.0.1:{port}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        nd.join("etc/stream.conf"),
        format!(
            "[{KEY}]\n enabled = yes\n default history = {history}\n default memory mode = ram\n\
             \x20health enabled by default = no\n"
        ),
    )
    .unwrap();
    std::fs::write(
        nd.join("etc/exporting.conf"),
        format!(
            "[exporting:global]\n enabled = yes\n\
             [graphite:counting]\n enabled = yes\n destination = {receiver}\n update every = 10\n\
             \x20data source = average\n send hosts matching = !localhost *\n buffer on failures = 10\n"
        ),
    )
    .unwrap();
    let child = std::process::Command::new("/usr/sbin/netdata")
        .arg("-D")
        .arg("-c")
        .arg(nd.join("etc/netdata.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start /usr/sbin/netdata");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "netdata never listened on {addr}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (child, addr)
}
