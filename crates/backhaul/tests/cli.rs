//! Black-box tests of the `backhaul` binary: `check-config`, `export
//! --once`, `--help`, and a clean stop on SIGTERM and SIGINT.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backhaul::sys::{signal_process, Signal};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_backhaul"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config_golden")
        .join(name)
}

/// A file in a directory of its own, both removed when it is dropped.
struct TempFile {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TempFile {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.path
    }
}

impl AsRef<std::ffi::OsStr> for TempFile {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("backhaul-cli-")
        .tempdir()
        .unwrap()
}

fn temp_file(name: &str, text: &str) -> TempFile {
    let dir = temp_dir();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    TempFile { path, _dir: dir }
}

#[test]
fn check_config_lists_the_labs_five_push_instances() {
    let out = bin()
        .args(["check-config", "--exporting-config"])
        .arg(fixture("exporting.conf.lab"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "graphite my_graphite destination=127.0.0.1:2003 data_source=average update_every=1s enabled=yes",
            "graphite graphite_raw destination=127.0.0.1:2103 data_source=as_collected update_every=1s enabled=yes",
            "opentsdb my_opentsdb destination=127.0.0.1:4242 data_source=average update_every=2s enabled=yes",
            "json my_json destination=127.0.0.1:5448 data_source=average update_every=5s enabled=yes",
            "prometheus_remote_write my_prw destination=127.0.0.1:9091 data_source=average update_every=5s enabled=yes",
        ]
    );
}

#[test]
fn check_config_accepts_http_connectors_and_lists_disabled_ones_as_disabled() {
    let path = temp_file(
        "http.conf",
        "[json:http:j]\n    enabled = yes\n    destination = 127.0.0.1:8080/ingest\n    http headers = X-Scope-OrgID: t1 | Authorization: Bearer x\n\
         [opentsdb:https:o]\n    enabled = yes\n    destination = localhost\n\
         [graphite:http:g]\n    enabled = yes\n\
         [kinesis:k]\n    enabled = no\n",
    );
    let out = bin()
        .args(["check-config", "--exporting-config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("web server: http on 127.0.0.1:19999"),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "json:http j destination=127.0.0.1:8080/ingest data_source=average update_every=10s enabled=yes",
            "opentsdb:https o destination=localhost:4242 data_source=average update_every=10s enabled=yes",
            "graphite:http g destination=localhost:2003 data_source=average update_every=10s enabled=yes",
            "kinesis k destination=us-east-1 data_source=average update_every=10s enabled=no",
        ]
    );
}

#[test]
fn check_config_fails_on_a_tls_file_that_does_not_load_naming_the_instance() {
    let path = temp_file(
        "tls.conf",
        "[json:https:secure]\n    enabled = yes\n    CAfile = /nonexistent/ca.pem\n",
    );
    let out = bin()
        .args(["check-config", "--exporting-config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("instance 'secure'"), "{stderr}");
    assert!(stderr.contains("/nonexistent/ca.pem"), "{stderr}");
    assert!(stderr.contains("tls.conf:1"), "{stderr}");
}

#[test]
fn check_config_refuses_a_header_backhaul_writes_itself() {
    let path = temp_file(
        "hdr.conf",
        "[json:http:j]\n    enabled = yes\n    http headers = Content-Length: 5\n",
    );
    let out = bin()
        .args(["check-config", "--exporting-config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("http headers"), "{stderr}");
    assert!(stderr.contains("Content-Length"), "{stderr}");
}

#[test]
fn check_config_fails_naming_file_line_and_key() {
    let path = temp_file(
        "bad.conf",
        "[graphite:g]\n    enabled = yes\n    update every = -3\n",
    );
    let out = bin()
        .arg("check-config")
        .arg("--exporting-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3", path.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("update every") && stderr.contains("-3"),
        "{stderr}"
    );
}

#[test]
fn check_config_warns_about_unknown_keys() {
    let path = temp_file(
        "warn.conf",
        "[graphite:g]\n    enabled = yes\n    colour = blue\n",
    );
    let out = bin()
        .arg("check-config")
        .arg("--exporting-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3", path.display())) && stderr.contains("colour"),
        "{stderr}"
    );
}

#[test]
fn help_documents_every_option() {
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for word in ["--config", "--exporting-config", "check-config", "export"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    let out = bin().args(["export", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for word in ["--once", "--instance"] {
        assert!(help.contains(word), "export --help lacks {word}:\n{help}");
    }
}

#[test]
fn generate_writes_man_pages_and_completions_and_is_hidden_from_help() {
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(!help.contains("generate"), "{help}");
    let dir = std::env::temp_dir().join(format!("backhaul-cli-{}-generate", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = bin()
        .arg("generate")
        .arg("man")
        .arg(dir.join("man"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let page = std::fs::read_to_string(dir.join("man/backhaul.1")).unwrap();
    for section in [
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        ".SH FILES",
        ".SH LOGS",
        ".SH SIGNALS",
    ] {
        assert!(page.contains(section), "backhaul.1 lacks {section}");
    }
    assert!(
        !page.contains("generate"),
        "the hidden subcommand is in the page"
    );
    assert!(dir.join("man/backhaul-check-config.1").exists());
    for (shell, file) in [
        ("bash", "backhaul.bash"),
        ("zsh", "_backhaul"),
        ("fish", "backhaul.fish"),
    ] {
        let out = bin()
            .args(["generate", "completions", shell])
            .arg(dir.join("completions"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = std::fs::read_to_string(dir.join("completions").join(file)).unwrap();
        assert!(script.contains("check-config"), "{shell}: {script}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_once_prints_the_hosts_system_metrics_as_graphite() {
    let out = bin().args(["export", "--once"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    for chart in ["system.cpu", "system.load", "system.ram"] {
        let needle = format!(".{chart}.");
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("netdata.") && l.contains(&needle)),
            "no {chart} line in:\n{}",
            &stdout[..stdout.len().min(2000)]
        );
    }
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert!(fields[1].parse::<f64>().is_ok(), "{line}");
        assert!(fields[2].parse::<u32>().is_ok(), "{line}");
    }
}

#[test]
fn export_once_names_an_unknown_instance() {
    let out = bin()
        .args([
            "export",
            "--once",
            "--instance",
            "nope",
            "--exporting-config",
        ])
        .arg(fixture("exporting.conf.lab"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nope") && stderr.contains("my_graphite"),
        "{stderr}"
    );
}

/// Reads `stderr` to its end on a thread; what was read so far is in the
/// returned buffer.
fn collect_stderr(
    mut stderr: std::process::ChildStderr,
) -> (Arc<Mutex<String>>, std::thread::JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let reader = {
        let text = text.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match stderr.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => text
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&chunk[..n])),
                }
            }
        })
    };
    (text, reader)
}

fn stops_cleanly_on(signal: Signal) {
    // The built-in defaults, except that the web server takes a free port
    // (two of these run at once, and netdata may hold 19999) and no
    // exporting.conf of the machine is read.
    let dir = temp_dir();
    let main = dir.path().join("stop.conf");
    std::fs::write(
        &main,
        format!(
            "[web]\n    bind to = 127.0.0.1:0\n[directories]\n    config = {}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let mut child = bin()
        .arg("--config")
        .arg(&main)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stderr, reader) = collect_stderr(child.stderr.take().unwrap());
    // The signal handlers are installed before the agent says it runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stderr.lock().unwrap().contains("backhaul running") {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "exited before running ({status}): {}",
                stderr.lock().unwrap()
            );
        }
        assert!(
            Instant::now() < deadline,
            "not running within 10 s: {}",
            stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_process(&child, signal).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not stop within 10 s of signal {signal:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap();
    let stderr = stderr.lock().unwrap();
    assert!(stderr.contains("web server listening"), "{stderr}");
    assert!(stderr.contains("backhaul stopped"), "{stderr}");
}

#[test]
fn stops_cleanly_on_sigterm() {
    stops_cleanly_on(Signal::TERM);
}

#[test]
fn stops_cleanly_on_sigint() {
    stops_cleanly_on(Signal::INT);
}

#[test]
fn check_config_requires_a_port_for_remote_write_and_flags_unsupported_connectors() {
    for (text, code, message) in [
        (
            "[prometheus_remote_write:prw]\n    enabled = yes\n    destination = prom.example/api/v1/write\n",
            1,
            "no port, and prometheus remote write has none by default",
        ),
        (
            "[prometheus_remote_write:https:prw]\n    enabled = yes\n",
            1,
            "'destination' is required",
        ),
        (
            "[prometheus_remote_write:prw]\n    enabled = yes\n    destination = 127.0.0.1:9090\n    http headers = Content-Encoding: gzip\n",
            1,
            "set by backhaul itself for remote write",
        ),
        (
            "[kinesis:k]\n    enabled = yes\n",
            3,
            "1 enabled instance(s) use a connector",
        ),
    ] {
        let path = temp_file("rw.conf", text);
        let out = bin()
            .args(["check-config", "--exporting-config"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{text}\n{stderr}");
        assert!(stderr.contains(message), "{text}\n{stderr}");
    }
}

#[test]
fn check_config_says_where_the_web_server_listens_or_that_it_is_off() {
    let on = temp_file("web-on.conf", "[web]\n    bind to = 127.0.0.2:8125\n");
    let off = temp_file("web-off.conf", "[web]\n    mode = none\n");
    for (path, want) in [
        (on, "web server: http on 127.0.0.2:8125"),
        (off, "web server: off ([web] mode = none)"),
    ] {
        let out = bin()
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
    }
}

#[test]
fn check_config_says_where_the_statsd_server_listens_or_that_it_is_off() {
    let on = temp_file(
        "statsd-on.conf",
        "[statsd]\n    bind to = udp:127.0.0.3 tcp:127.0.0.3:9125\n",
    );
    let off = temp_file("statsd-off.conf", "[plugins]\n    statsd = no\n");
    for (path, want) in [
        (
            on,
            "statsd server: on udp:127.0.0.3:8125, tcp:127.0.0.3:9125",
        ),
        (off, "statsd server: off ([plugins] statsd = no)"),
    ] {
        let out = bin()
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
    }
}

/// stream.conf beside netdata.conf: check-config says which API keys accept
/// children, and a bad value stops it naming file, line and key.
#[test]
fn check_config_reads_stream_conf_next_to_netdata_conf() {
    let dir = std::env::temp_dir().join(format!("backhaul-cli-{}-stream", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let netdata_conf = dir.join("netdata.conf");
    std::fs::write(
        &netdata_conf,
        format!("[directories]\n    config = {}\n", dir.display()),
    )
    .unwrap();
    let stream_conf = dir.join("stream.conf");
    std::fs::write(
        &stream_conf,
        "[11111111-2222-3333-4444-555555555555]\n    enabled = yes\n    default history = 600\n    enable compression = no\n\
         [22222222-2222-3333-4444-555555555555]\n    enabled = no\n",
    )
    .unwrap();
    let run = || {
        let out = bin()
            .args(["check-config", "--config"])
            .arg(&netdata_conf)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "streaming: children accepted with API key 11111111-2222-3333-4444-555555555555 \
             (history 600, compression no, replication yes: 86400 s in steps of 600 s)"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("22222222"),
        "a disabled key is not listed: {stderr}"
    );
    assert!(!stderr.contains("forwarded"), "no proxying: {stderr}");

    // Proxying by the API key's `default proxy ...` keys is said too.
    std::fs::write(
        &stream_conf,
        "[stream]\n    enabled = no\n\
         [11111111-2222-3333-4444-555555555555]\n    enabled = yes\n    default proxy enabled = yes\n\
         \x20   default proxy destination = 10.0.0.1\n\
         \x20   default proxy api key = 11111111-2222-3333-4444-555555555555\n",
    )
    .unwrap();
    let (code, stderr) = run();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "streaming: children of API key 11111111-2222-3333-4444-555555555555 forwarded to 10.0.0.1:19999 (proxy; send charts matching *)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("this host to"), "{stderr}");

    std::fs::write(
        &stream_conf,
        "[11111111-2222-3333-4444-555555555555]\n    enabled = yes\n    seconds to replicate = soon\n",
    )
    .unwrap();
    let (code, stderr) = run();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("stream.conf:3"), "{stderr}");
    assert!(stderr.contains("seconds to replicate"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
