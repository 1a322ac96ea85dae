//! Whole-agent golden tests of the host labels on the wire: the real binary
//! runs `export --once` with a netdata.conf that sets `[host labels]` (as
//! the lab's netdata.conf did) and prints one interval of a graphite, an
//! opentsdb and a json instance. Every line must carry the labels netdata
//! 1.37 sends, in its order, byte for byte:
//!
//! * defaults (`send configured labels = yes`, `send automatic labels =
//!   no`): the `[host labels]`, then `_is_ephemeral` and
//!   `_has_unstable_connection` (netdata files those two as configured
//!   labels). The expected label text is also checked against the lines
//!   captured from netdata (`crates/wire/tests/golden/netdata_*.txt`);
//! * `[health] is ephemeral = yes`, `has unstable connection = yes`: the
//!   same labels with `true`;
//! * `send configured labels = no`: no labels at all;
//! * only `send automatic labels = yes`: the machine's automatic labels
//!   (`_cloud_provider_type` ... `_aclk_available`, then `_is_parent`), as
//!   `backhaul::system_facts` reads them on this machine (checked against
//!   netdata's own `system-info.sh` in tests/system_facts_real.rs), and
//!   not the two `[health]` ones (configured labels in netdata).
//!
//! Only `/proc/uptime` is collected, so each run prints the one line of
//! `system.uptime`; values and timestamps are checked for their shape only.

use std::path::Path;
use std::process::Command;

const HOST_LABELS: &str = "[host labels]\n    env = lab\n    team name = rust port;semi~tilde\n";

/// Every collector off but `/proc/uptime`; no external plugins.
const ONE_CHART: &str = "\
[global]
    hostname = labhost
[plugins]
    diskspace = no
    timex = no
    idlejitter = no
    plugins.d = no
[plugin:proc]
    /proc/stat = no
    /proc/loadavg = no
    /proc/vmstat = no
    /proc/meminfo = no
    /proc/net/dev = no
    /proc/net/netstat = no
    /proc/net/sockstat = no
    /proc/net/sockstat6 = no
    /proc/net/softnet_stat = no
    /proc/net/stat/conntrack = no
    /proc/net/stat/synproxy = no
    /proc/diskstats = no
    /proc/interrupts = no
    /proc/softirqs = no
    /proc/pressure = no
    /proc/sys/kernel/random/entropy_avail = no
    ipc = no
    /proc/mdstat = no
    /sys/block/zram = no
    /sys/kernel/mm/ksm = no
";

/// One instance per format, on exporting.conf's defaults.
const INSTANCES: &str = "\
[graphite:g]
    enabled = yes
[opentsdb:o]
    enabled = yes
[json:j]
    enabled = yes
";

/// A directory of its own for one case's files, removed when dropped.
fn case_dir(case: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("backhaul-labels-golden-{case}-"))
        .tempdir()
        .expect("temp dir")
}

/// Runs `backhaul export --once --instance NAME` with the given files and
/// returns its stdout lines.
fn export_once(
    dir: &Path,
    netdata_conf: &str,
    exporting_conf: &str,
    instance: &str,
) -> Vec<String> {
    let main = dir.join("netdata.conf");
    let exporting = dir.join("exporting.conf");
    // `[directories] config` points here, so no exporting.conf of the
    // machine is read.
    let netdata_conf = format!(
        "{netdata_conf}[directories]\n    config = {}\n",
        dir.display()
    );
    std::fs::write(&main, netdata_conf).expect("write netdata.conf");
    std::fs::write(&exporting, exporting_conf).expect("write exporting.conf");
    let out = Command::new(env!("CARGO_BIN_EXE_backhaul"))
        .arg("--config")
        .arg(&main)
        .arg("--exporting-config")
        .arg(&exporting)
        .args(["export", "--once", "--instance", instance])
        .output()
        .expect("run backhaul");
    assert!(
        out.status.success(),
        "export --once --instance {instance} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    assert!(
        stdout.ends_with('\n'),
        "{instance}: output is not whole lines: {stdout:?}"
    );
    stdout.lines().map(String::from).collect()
}

/// The labels part of each format for `pairs` (`None`: label sending off).
struct Expected {
    graphite: String,
    opentsdb: String,
    json: String,
}

/// A `%0.7Lf` stored value: an optional `-`, digits, a dot, seven digits.
fn is_stored_value(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    match digits.split_once('.') {
        Some((whole, decimals)) => {
            !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && decimals.len() == 7
                && decimals.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn is_timestamp(text: &str) -> bool {
    text.len() == 10 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Checks `line` against `template`, where `{V}` stands for a stored value
/// and `{T}` for a timestamp; everything else must match byte for byte.
fn assert_line(line: &str, template: &str) {
    let mut rest = line;
    let mut pattern = template;
    loop {
        let next = [("{V}", 'V'), ("{T}", 'T')]
            .iter()
            .filter_map(|(p, kind)| pattern.find(p).map(|at| (at, *kind)))
            .min();
        let Some((at, kind)) = next else {
            assert_eq!(
                rest, pattern,
                "line\n  {line}\ndoes not match\n  {template}"
            );
            return;
        };
        let literal = &pattern[..at];
        assert!(
            rest.starts_with(literal),
            "line\n  {line}\ndoes not match\n  {template}\n(expected {literal:?} before {{{kind}}})"
        );
        rest = &rest[literal.len()..];
        pattern = &pattern[at + 3..];
        // The placeholder runs up to the next literal byte of the template.
        let end = match pattern.chars().next() {
            Some(stop) => rest.find(stop).unwrap_or(rest.len()),
            None => rest.len(),
        };
        let field = &rest[..end];
        let ok = match kind {
            'V' => is_stored_value(field),
            _ => is_timestamp(field),
        };
        assert!(ok, "{{{kind}}} is {field:?} in\n  {line}");
        rest = &rest[end..];
    }
}

/// Runs the three instances and checks their one line each against the
/// label texts of each format.
fn check_case(case: &str, netdata_conf: &str, exporting_conf: &str, labels: &Expected) {
    let dir = case_dir(case);
    let templates = [
        (
            "g",
            format!(
                "netdata.labhost.system.uptime.uptime{} {{V}} {{T}}",
                labels.graphite
            ),
        ),
        (
            "o",
            format!(
                "put netdata.system.uptime.uptime {{T}} {{V}} host=labhost{}",
                labels.opentsdb
            ),
        ),
        (
            "j",
            format!(
                "{{\"prefix\":\"netdata\",\"hostname\":\"labhost\"{},\"chart_id\":\"system.uptime\",\
                 \"chart_name\":\"system.uptime\",\"chart_family\":\"uptime\",\
                 \"chart_context\": \"system.uptime\",\"chart_type\":\"system\",\
                 \"units\": \"seconds\",\"id\":\"uptime\",\"name\":\"uptime\",\
                 \"value\":{{V}},\"timestamp\": {{T}}}}",
                labels.json
            ),
        ),
    ];
    for (instance, template) in &templates {
        let lines = export_once(dir.path(), netdata_conf, exporting_conf, instance);
        assert_eq!(
            lines.len(),
            1,
            "{case}/{instance}: one line of system.uptime expected: {lines:#?}"
        );
        assert_line(&lines[0], template);
    }
}

/// The label text of the first line netdata 1.37 sent in the lab (host
/// labels `env = lab`, `team name = rust port;semi~tilde`, defaults
/// otherwise), for `format` = graphite, opentsdb or json.
fn netdata_capture_labels(format: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../wire/tests/golden")
        .join(format!("netdata_{format}.txt"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let line = text.lines().next().expect("a captured line");
    let between = |start: &str, end: &str| -> String {
        let from = line.find(start).expect("start marker") + start.len();
        let to = from + line[from..].find(end).expect("end marker");
        line[from..to].to_string()
    };
    match format {
        // METRIC;TAGS VALUE TIME
        "graphite" => format!(";{}", between(";", " ")),
        // put METRIC TIME VALUE host=vm TAGS
        "opentsdb" => {
            let host = "host=vm";
            let from = line.find(host).expect("host tag") + host.len();
            line[from..].to_string()
        }
        // ...,"labels":{...},"chart_id":...
        _ => format!(
            ",\"labels\":{{{}}}",
            between("\"labels\":{", "},\"chart_id\"")
        ),
    }
}

#[test]
fn defaults_send_the_host_labels_then_the_health_labels_like_netdata() {
    let labels = Expected {
        graphite: ";env=lab;team_name=rust_port:semi_tilde;_is_ephemeral=false;_has_unstable_connection=false".into(),
        opentsdb: " env=lab team_name=rust_port_semi_tilde _is_ephemeral=false _has_unstable_connection=false".into(),
        json: r#","labels":{"env":"lab","team_name":"rust port:semi_tilde","_is_ephemeral":"false","_has_unstable_connection":"false"}"#.into(),
    };
    // The same bytes netdata sent.
    assert_eq!(labels.graphite, netdata_capture_labels("graphite"));
    assert_eq!(labels.opentsdb, netdata_capture_labels("opentsdb"));
    assert_eq!(labels.json, netdata_capture_labels("json"));
    check_case(
        "defaults",
        &format!("{ONE_CHART}{HOST_LABELS}"),
        INSTANCES,
        &labels,
    );
}

#[test]
fn health_keys_set_to_yes_send_true_in_the_same_places() {
    // File order does not matter: the labels keep netdata's order.
    let health = "[health]\n    has unstable connection = yes\n    is ephemeral = yes\n";
    check_case(
        "health-yes",
        &format!("{ONE_CHART}{health}{HOST_LABELS}"),
        INSTANCES,
        &Expected {
            graphite: ";env=lab;team_name=rust_port:semi_tilde;_is_ephemeral=true;_has_unstable_connection=true".into(),
            opentsdb: " env=lab team_name=rust_port_semi_tilde _is_ephemeral=true _has_unstable_connection=true".into(),
            json: r#","labels":{"env":"lab","team_name":"rust port:semi_tilde","_is_ephemeral":"true","_has_unstable_connection":"true"}"#.into(),
        },
    );
}

#[test]
fn send_configured_labels_no_sends_no_labels() {
    let exporting = format!("[exporting:global]\n    send configured labels = no\n{INSTANCES}");
    check_case(
        "configured-no",
        &format!("{ONE_CHART}{HOST_LABELS}"),
        &exporting,
        &Expected {
            graphite: String::new(),
            opentsdb: String::new(),
            json: String::new(),
        },
    );
}

#[test]
fn automatic_labels_alone_do_not_include_the_health_labels() {
    let exporting = format!(
        "[exporting:global]\n    send configured labels = no\n    send automatic labels = yes\n{INSTANCES}"
    );
    let mut automatic = backhaul::system_facts::SystemFacts::get().automatic_labels();
    automatic.push(("_is_parent", "false".to_string()));
    let (mut graphite, mut opentsdb, mut json) = (Vec::new(), Vec::new(), Vec::new());
    json.extend_from_slice(b",\"labels\":{");
    for (i, (key, value)) in automatic.iter().enumerate() {
        let value = wire::sanitize::sanitize_label_value(value);
        graphite.push(b';');
        wire::sanitize::write_graphite_tag_key(&mut graphite, key);
        graphite.push(b'=');
        wire::sanitize::write_graphite_tag_value(&mut graphite, &value);
        opentsdb.push(b' ');
        wire::sanitize::write_opentsdb_tag(&mut opentsdb, key);
        opentsdb.push(b'=');
        wire::sanitize::write_opentsdb_tag(&mut opentsdb, &value);
        if i > 0 {
            json.push(b',');
        }
        json.push(b'"');
        wire::sanitize::write_json_escaped(&mut json, key);
        json.extend_from_slice(b"\":\"");
        wire::sanitize::write_json_escaped(&mut json, &value);
        json.push(b'"');
    }
    json.push(b'}');
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8");
    let expected = Expected {
        graphite: text(graphite),
        opentsdb: text(opentsdb),
        json: text(json),
    };
    assert!(expected
        .graphite
        .starts_with(";_cloud_provider_type=unknown;"));
    assert!(expected
        .graphite
        .ends_with(";_aclk_available=false;_is_parent=false"));
    check_case(
        "automatic-only",
        &format!("{ONE_CHART}{HOST_LABELS}"),
        &exporting,
        &expected,
    );
}
