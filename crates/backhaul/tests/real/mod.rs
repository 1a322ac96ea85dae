//! Support for `real_receivers.rs` and `real_prometheus.rs`: starting
//! carbon-cache, influxd and prometheus on free ports of 127.0.0.1 with
//! configurations derived from the netdata lab's (`carbon.conf`,
//! `storage-schemas.conf`, `influxdb.conf` beside this file; prometheus with
//! its remote-write receiver on), each in its own temporary directory, and
//! reading back what they stored.
//!
//! Every wait is bounded; a server is killed and reaped by its guard's
//! `Drop`, even when the test panics, and also dies with the test thread
//! (`PR_SET_PDEATHSIG`) if the test process itself is killed.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backhaul::sys::{signal_child_on_parent_death, signal_process, Signal};

/// With this set to `1` (as `.ci/run` does), a missing receiver binary fails
/// the test instead of skipping it.
pub const REQUIRE_ENV: &str = "BACKHAUL_REQUIRE_REAL_RECEIVERS";
/// With this set, temporary directories are kept (and named on stderr).
pub const KEEP_ENV: &str = "BACKHAUL_KEEP_REAL_RECEIVER_DIRS";

/// The bound on every wait for a server (start-up, flush, batch timeout).
pub const WAIT: Duration = Duration::from_secs(30);

const CARBON_CONF: &str = include_str!("carbon.conf");
const STORAGE_SCHEMAS: &str = include_str!("storage-schemas.conf");
const INFLUXDB_CONF: &str = include_str!("influxdb.conf");

/// True when every binary of `bins` is on `PATH`. Otherwise prints why the
/// test is skipped and returns false, or panics when [`REQUIRE_ENV`] is `1`.
pub fn require(test: &str, bins: &[&str]) -> bool {
    let missing: Vec<&str> = bins
        .iter()
        .copied()
        .filter(|b| find_on_path(b).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("real_receivers: {missing} not installed, and {REQUIRE_ENV}=1 forbids skipping the {test} (run .ci/run to install)");
    }
    // Straight to the stderr handle: the test harness captures eprintln!,
    // and a skip should be seen.
    let line = format!(
        "real_receivers: {missing} not installed; {test} skipped (run .ci/run to install)\n"
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    false
}

fn find_on_path(bin: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(bin))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Seconds since the epoch.
pub fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_secs() as i64
}

/// Polls `f` every `every` until it returns `Some`, for at most `timeout`.
pub fn poll<T>(timeout: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// A fresh directory, removed on drop (unless [`KEEP_ENV`] is set).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "backhaul-real-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("real_receivers: kept {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// `n` distinct ports on 127.0.0.1 that were free a moment ago. They are
/// taken below the kernel's ephemeral range (32768+) so no outgoing
/// connection grabs one before the server binds it, and away from the
/// 20000+ ports `support::dead_addr` uses.
pub fn free_ports(n: usize) -> Vec<u16> {
    use rand::Rng;
    let mut held = Vec::with_capacity(n);
    let mut rng = rand::thread_rng();
    let mut tries = 0;
    while held.len() < n {
        tries += 1;
        assert!(tries < 10_000, "no free ports on 127.0.0.1");
        let port: u16 = rng.gen_range(10_000..19_000);
        if let Ok(l) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            held.push(l);
        }
    }
    held.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A receiver process, killed and reaped on drop.
pub struct Server {
    name: String,
    child: Option<Child>,
    logs: Vec<PathBuf>,
}

impl Server {
    /// Starts `cmd` with stdout and stderr in `dir/NAME.out`.
    pub fn spawn(name: &str, mut cmd: Command, dir: &Path) -> Server {
        let out_path = dir.join(format!("{name}.out"));
        let out = fs::File::create(&out_path).expect("create server log");
        let err = out.try_clone().expect("dup server log");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        signal_child_on_parent_death(&mut cmd, Signal::KILL);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        Server {
            name: name.to_string(),
            child: Some(child),
            logs: vec![out_path],
        }
    }

    /// Another log file whose tail is worth showing on failure.
    pub fn add_log(&mut self, path: PathBuf) {
        self.logs.push(path);
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The exit status, if the server has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The first errors and the last `n` lines of each of the server's
    /// logs (a repeated complaint at the end can hide the first one).
    pub fn log_tail(&self, n: usize) -> String {
        let mut s = String::new();
        for p in &self.logs {
            let text = fs::read_to_string(p).unwrap_or_else(|e| format!("({e})"));
            let lines: Vec<&str> = text.lines().collect();
            let first_errors: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.contains("ERROR"))
                .take(10)
                .collect();
            if !first_errors.is_empty() {
                s.push_str(&format!("--- {} (first errors) ---\n", p.display()));
                for l in first_errors {
                    s.push_str(l);
                    s.push('\n');
                }
            }
            s.push_str(&format!("--- {} (last {n} lines) ---\n", p.display()));
            for l in &lines[lines.len().saturating_sub(n)..] {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }

    /// Panics with the log tail.
    pub fn fail(&self, what: &str) -> ! {
        panic!("{}: {what}\n{}", self.name, self.log_tail(40));
    }

    /// Polls `f` until it returns `Ok` (bounded by [`WAIT`]); fails with the
    /// last `Err` (what was seen so far) and the log tail if the server exits
    /// or the wait times out.
    pub fn wait_for<T>(&mut self, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            let last = match f() {
                Ok(v) => return v,
                Err(e) => e,
            };
            if let Some(status) = self.exited() {
                self.fail(&format!(
                    "exited ({status}) while waiting for {what}; last seen: {last}"
                ));
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "timed out after {WAIT:?} waiting for {what}; last seen: {last}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `addr` accepts connections, or the server exits; false
    /// when the server exited (a port clash: the caller retries) or the wait
    /// timed out.
    pub fn wait_listening(&mut self, addr: SocketAddr) -> bool {
        poll(WAIT, Duration::from_millis(100), || {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                return Some(true);
            }
            self.exited().map(|_| false)
        })
        .unwrap_or(false)
    }

    /// SIGTERM, up to 5 s to exit, then SIGKILL; always reaps.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            // Our own child, not reaped yet: the pid is still its own.
            let _ = signal_process(&child, Signal::TERM);
            let gone = poll(Duration::from_secs(5), Duration::from_millis(50), || {
                child.try_wait().ok().flatten()
            });
            if gone.is_none() {
                let _ = child.kill();
            }
        }
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a short command with a bound on its run time; returns its stdout,
/// or an error with its stderr.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<String, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    // The outputs are small: reading them after exit cannot deadlock.
    let status = match poll(timeout, Duration::from_millis(10), || {
        child.try_wait().ok().flatten()
    }) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{cmd:?} did not finish in {timeout:?}"));
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .ok();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .ok();
    if status.success() {
        Ok(out)
    } else {
        Err(format!("{cmd:?}: {status}: {}{}", err.trim(), out.trim()))
    }
}

/// Hex SHA-256 of `text` (coreutils' `sha256sum`).
pub fn sha256_hex(text: &str) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write sha256sum");
    let out = child.wait_with_output().expect("sha256sum");
    let s = String::from_utf8(out.stdout).expect("utf-8");
    s.split_whitespace().next().expect("hash").to_string()
}

// ----------------------------------------------------------------------
// carbon-cache

/// A running carbon-cache.
pub struct Carbon {
    pub server: Server,
    pub line: SocketAddr,
    /// `LOCAL_DATA_DIR`: where the `.wsp` files go.
    pub whisper_dir: PathBuf,
    pub dir: TempDir,
}

impl Carbon {
    /// Starts carbon-cache in the foreground and waits (bounded) until its
    /// line receiver accepts connections. Retries with other ports if one
    /// was taken in the meantime.
    pub fn start() -> Carbon {
        for attempt in 1..=3 {
            let dir = TempDir::new("carbon");
            let d = dir.path();
            for sub in ["conf", "storage/whisper", "storage/lists", "log", "run"] {
                fs::create_dir_all(d.join(sub)).expect("mkdir");
            }
            let ports = free_ports(3);
            let conf = CARBON_CONF
                .replace("@DIR@", &d.display().to_string())
                .replace("@LINE_PORT@", &ports[0].to_string())
                .replace("@PICKLE_PORT@", &ports[1].to_string())
                .replace("@CACHE_QUERY_PORT@", &ports[2].to_string());
            let conf_path = d.join("conf/carbon.conf");
            fs::write(&conf_path, conf).expect("write carbon.conf");
            fs::write(d.join("conf/storage-schemas.conf"), STORAGE_SCHEMAS).expect("write schemas");
            // In the foreground carbon logs to stdout, which `Server` keeps.
            let mut server = Server::spawn("carbon-cache", Self::command(d), d);
            let line = local(ports[0]);
            if server.wait_listening(line) {
                return Carbon {
                    server,
                    line,
                    whisper_dir: d.join("storage/whisper"),
                    dir,
                };
            }
            if attempt == 3 || server.exited().is_none() {
                server.fail(&format!("line receiver {line} never accepted connections"));
            }
            eprintln!("real_receivers: carbon-cache exited at start-up (port clash?); retrying");
        }
        unreachable!()
    }

    /// carbon-cache in the foreground with the configuration in `d`.
    fn command(d: &Path) -> Command {
        let mut cmd = Command::new("carbon-cache");
        cmd.arg(format!("--config={}", d.join("conf/carbon.conf").display()))
            .arg("--nodaemon")
            .arg(format!(
                "--pidfile={}",
                d.join("run/carbon-cache.pid").display()
            ))
            .arg(format!("--logdir={}", d.join("log").display()))
            .arg("start")
            .env("PYTHONWARNINGS", "ignore");
        cmd
    }

    /// Stops carbon-cache (SIGTERM, bounded; see [`Server::stop`]).
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Starts carbon-cache again with the same configuration, ports and
    /// whisper files, and waits (bounded) until its line receiver accepts
    /// connections.
    pub fn restart(&mut self) {
        self.server.stop();
        let _ = fs::remove_file(self.dir.path().join("run/carbon-cache.pid"));
        self.server = Server::spawn(
            "carbon-cache",
            Self::command(self.dir.path()),
            self.dir.path(),
        );
        if !self.server.wait_listening(self.line) {
            self.server.fail(&format!(
                "line receiver {} never accepted connections after a restart",
                self.line
            ));
        }
    }

    /// The `.wsp` file of an untagged metric path (`a.b.c` → `a/b/c.wsp`).
    pub fn wsp_path(&self, metric: &str) -> PathBuf {
        let mut p = self.whisper_dir.clone();
        for part in metric.split('.') {
            p.push(part);
        }
        p.set_extension("wsp");
        p
    }

    /// The `.wsp` file carbon 1.1 uses for a name with `;tags`, which is
    /// `_tagged/HHH/hhh/HASH.wsp` with HASH the SHA-256 of the name exactly as
    /// given (carbon normalises the name before calling this), with
    /// `TAG_HASH_FILENAMES = True`, its default.
    pub fn tagged_wsp_path(&self, name: &str) -> PathBuf {
        let h = sha256_hex(name);
        self.whisper_dir
            .join("_tagged")
            .join(&h[0..3])
            .join(&h[3..6])
            .join(format!("{h}.wsp"))
    }
}

/// Reads `path` over `(from, until]` with `whisper-fetch --json`: whisper
/// returns the intervals after `from` up to and including `until`. Values
/// come back as Python `repr`s, which parse to the very same doubles.
pub fn whisper_fetch(
    path: &Path,
    from: i64,
    until: i64,
) -> Result<BTreeMap<i64, Option<f64>>, String> {
    let out = run_bounded(
        Command::new("whisper-fetch")
            .arg("--json")
            .arg(format!("--from={from}"))
            .arg(format!("--until={until}"))
            .arg(path),
        Duration::from_secs(20),
    )?;
    parse_whisper_json(&out)
}

fn json_int(text: &str, key: &str) -> Result<i64, String> {
    let at = text
        .find(&format!("\"{key}\""))
        .ok_or_else(|| format!("no {key} in {text}"))?;
    let rest = &text[at + key.len() + 2..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')
        .ok_or("no colon")?
        .trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(rest.len());
    rest[..end].parse().map_err(|e| format!("{key}: {e}"))
}

fn parse_whisper_json(text: &str) -> Result<BTreeMap<i64, Option<f64>>, String> {
    let start = json_int(text, "start")?;
    let step = json_int(text, "step")?;
    let open = text.find('[').ok_or("no values")?;
    let close = text.rfind(']').ok_or("no values")?;
    let mut map = BTreeMap::new();
    let list = text[open + 1..close].trim();
    if list.is_empty() {
        return Ok(map);
    }
    for (i, v) in list.split(',').enumerate() {
        let v = v.trim();
        let value = match v {
            "null" => None,
            _ => Some(v.parse::<f64>().map_err(|e| format!("value {v:?}: {e}"))?),
        };
        map.insert(start + i as i64 * step, value);
    }
    Ok(map)
}

// ----------------------------------------------------------------------
// influxd

/// A running influxd.
pub struct Influx {
    pub server: Server,
    pub http: SocketAddr,
    pub opentsdb: SocketAddr,
    /// The `[[graphite]]` input with the lab's template (database `graphite`).
    pub graphite: SocketAddr,
    /// With [`Influx::start_with_opentsdb_tls`]: a second `[[opentsdb]]`
    /// input with `tls-enabled = true` (database `opentsdb_tls`), which
    /// takes `put` lines and `/api/put` requests over TLS.
    pub opentsdb_tls: Option<SocketAddr>,
    pub dir: TempDir,
}

impl Influx {
    /// Starts influxd and waits (bounded) until `/ping` answers and the
    /// inputs accept connections.
    pub fn start() -> Influx {
        Self::start_with(None)
    }

    /// [`Influx::start`], plus an OpenTSDB input over TLS whose
    /// `certificate` is `combined_pem` (the server certificate followed by
    /// its private key, as InfluxDB 1.6 reads it), copied into the server's
    /// directory.
    pub fn start_with_opentsdb_tls(combined_pem: &Path) -> Influx {
        Self::start_with(Some(combined_pem))
    }

    fn start_with(opentsdb_tls_pem: Option<&Path>) -> Influx {
        for attempt in 1..=3 {
            let dir = TempDir::new("influx");
            let d = dir.path();
            let ports = free_ports(6);
            let mut conf = INFLUXDB_CONF
                .replace("@DIR@", &d.display().to_string())
                .replace("@RPC_PORT@", &ports[0].to_string())
                .replace("@HTTP_PORT@", &ports[1].to_string())
                .replace("@GRAPHITE_PORT@", &ports[2].to_string())
                .replace("@OPENTSDB_PORT@", &ports[3].to_string())
                .replace("@GRAPHITE_DEFAULT_PORT@", &ports[4].to_string());
            let opentsdb_tls = opentsdb_tls_pem.map(|pem| {
                let cert = d.join("opentsdb-tls.pem");
                fs::copy(pem, &cert).expect("copy the opentsdb certificate");
                conf.push_str(&format!(
                    "[[opentsdb]]
  enabled = true
  bind-address = \"127.0.0.1:{}\"
  database = \"opentsdb_tls\"
  batch-size = 5000
  batch-timeout = \"1s\"
  tls-enabled = true
  certificate = \"{}\"
",
                    ports[5],
                    cert.display()
                ));
                local(ports[5])
            });
            let conf_path = d.join("influxdb.conf");
            fs::write(&conf_path, conf).expect("write influxdb.conf");
            let mut cmd = Command::new("influxd");
            cmd.arg("run").arg("-config").arg(&conf_path).env("HOME", d);
            let mut server = Server::spawn("influxd", cmd, d);
            let (http, graphite, opentsdb) = (local(ports[1]), local(ports[2]), local(ports[3]));
            let up = server.wait_listening(http)
                && poll(WAIT, Duration::from_millis(100), || {
                    match http_get(http, "/ping", None) {
                        Ok((204, _)) => Some(()),
                        _ => None,
                    }
                })
                .is_some()
                && server.wait_listening(opentsdb)
                && server.wait_listening(graphite)
                && opentsdb_tls.iter().all(|&addr| server.wait_listening(addr));
            if up {
                return Influx {
                    server,
                    http,
                    opentsdb,
                    graphite,
                    opentsdb_tls,
                    dir,
                };
            }
            if attempt == 3 || server.exited().is_none() {
                server.fail("never became ready (/ping and the inputs)");
            }
            eprintln!("real_receivers: influxd exited at start-up (port clash?); retrying");
        }
        unreachable!()
    }
}

/// Runs an InfluxQL query on database `db` of the influxd whose HTTP API is
/// at `http`, and returns its CSV answer as rows of `column → value`
/// (InfluxDB's `Accept: application/csv`; times in seconds). A missing
/// database or measurement gives no rows.
pub fn influx_query(
    http: SocketAddr,
    db: &str,
    q: &str,
) -> Result<Vec<BTreeMap<String, String>>, String> {
    let path = format!("/query?db={}&epoch=s&q={}", url_encode(db), url_encode(q));
    let (status, body) =
        http_get(http, &path, Some("application/csv")).map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("HTTP {status}: {body}"));
    }
    Ok(parse_csv(&body))
}

/// Parses InfluxDB's CSV answers: blocks separated by blank lines, each with
/// a header line. Our values never need CSV quoting.
fn parse_csv(body: &str) -> Vec<BTreeMap<String, String>> {
    let mut rows = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for line in body.lines() {
        if line.trim().is_empty() {
            header = None;
            continue;
        }
        let cells: Vec<String> = line.split(',').map(str::to_string).collect();
        match &header {
            None => header = Some(cells),
            Some(h) => rows.push(h.iter().cloned().zip(cells).collect()),
        }
    }
    rows
}

/// Percent-encodes every byte outside `[A-Za-z0-9-_.~]`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs an InfluxQL statement that changes something (`CREATE DATABASE
/// ...`), which InfluxDB takes only by POST.
pub fn influx_exec(http: SocketAddr, q: &str) -> Result<(), String> {
    let path = format!("/query?q={}", url_encode(q));
    match http_request(http, "POST", &path, None) {
        Ok((200, body)) if !body.contains("\"error\"") => Ok(()),
        Ok((status, body)) => Err(format!("{q}: HTTP {status}: {body}")),
        Err(e) => Err(format!("{q}: {e}")),
    }
}

/// A bounded HTTP/1.0 GET: returns the status code and the body.
pub fn http_get(
    addr: SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> std::io::Result<(u16, String)> {
    http_request(addr, "GET", path, accept)
}

/// [`http_get`] that wants a 200: its body, or the status and the start of
/// the answer (or the connection error) as text.
pub fn http_get_ok(addr: SocketAddr, path: &str) -> Result<String, String> {
    match http_get(addr, path, None) {
        Ok((200, body)) => Ok(body),
        Ok((status, body)) => Err(format!(
            "HTTP {status}: {}",
            body.chars().take(200).collect::<String>()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// A bounded HTTP/1.0 request without a body: returns the status code and
/// the body of the answer.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    accept: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    let length = if method == "GET" {
        ""
    } else {
        "Content-Length: 0\r\n"
    };
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{accept}{length}Connection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad response: {head}"),
            )
        })?;
    Ok((status, body.to_string()))
}

/// A Prometheus server (Debian's `prometheus`, 2.42) with its remote-write
/// receiver on (`/api/v1/write`), an empty scrape configuration and its
/// TSDB in a temporary directory.
pub struct Prometheus {
    pub server: Server,
    /// The web port: remote write, queries, readiness.
    pub http: SocketAddr,
    _dir: TempDir,
}

impl Prometheus {
    /// Starts it and waits until `/-/ready` answers 200 (a port taken
    /// meanwhile makes it exit: retried on other ports).
    pub fn start() -> Prometheus {
        Prometheus::start_scraping("[]")
    }

    /// [`Prometheus::start`] with `scrape_configs` (YAML, as the value of
    /// the key) and a 1 s scrape interval.
    pub fn start_scraping(scrape_configs: &str) -> Prometheus {
        for attempt in 1..=3 {
            let dir = TempDir::new("prometheus");
            let port = free_ports(1)[0];
            let http = local(port);
            let config = dir.path().join("prometheus.yml");
            fs::write(
                &config,
                format!(
                    "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs: {scrape_configs}\n"
                ),
            )
            .expect("write prometheus.yml");
            let mut cmd = Command::new("prometheus");
            cmd.arg("--web.enable-remote-write-receiver")
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--web.listen-address={http}"))
                .arg("--log.level=warn");
            let mut server = Server::spawn("prometheus", cmd, dir.path());
            if server.wait_listening(http) {
                server.wait_for("/-/ready", || match http_get(http, "/-/ready", None) {
                    Ok((200, _)) => Ok(()),
                    Ok((status, body)) => Err(format!("HTTP {status}: {body}")),
                    Err(e) => Err(e.to_string()),
                });
                return Prometheus {
                    server,
                    http,
                    _dir: dir,
                };
            }
            if attempt == 3 || server.exited().is_none() {
                server.fail("never listened");
            }
            eprintln!("real_receivers: prometheus exited at start-up (port clash?); retrying");
        }
        unreachable!()
    }

    /// Runs a PromQL query at `time` (seconds): see [`prometheus_query`].
    pub fn query(&self, query: &str, time: i64) -> Result<serde_json::Value, String> {
        prometheus_query(self.http, query, time)
    }
}

/// Runs a PromQL query at `time` (seconds) on the Prometheus at `http` and
/// returns the `data` object of the answer.
pub fn prometheus_query(
    http: SocketAddr,
    query: &str,
    time: i64,
) -> Result<serde_json::Value, String> {
    {
        let path = format!("/api/v1/query?query={}&time={time}", url_encode(query));
        let (status, body) = http_get(http, &path, None).map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("HTTP {status}: {body}"));
        }
        let answer: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if answer["status"] != "success" {
            return Err(body);
        }
        Ok(answer["data"].clone())
    }
}
