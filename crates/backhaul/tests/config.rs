//! Black-box golden tests of `backhaul::config`.
//!
//! Every parsing case goes through [`check`]: it parses a netdata.conf and
//! an exporting.conf given as text, renders the result (or the error) as
//! text with [`render`], and compares it with the expected text. Fixtures
//! copied from netdata 1.37 (Debian's stock exporting.conf and the lab's
//! files) live in `tests/config_golden/`, with their expected renderings
//! in `*.expected` files there.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use backhaul::config::{
    self, ConnectorExtras, ExportingConfig, InstanceConfig, MainConfig, Warning,
};

/// The two files of one case.
struct Input<'a> {
    /// netdata.conf text; empty means "no settings" (defaults apply).
    main: &'a str,
    /// exporting.conf text.
    exporting: &'a str,
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config_golden")
}

fn fixture(name: &str) -> String {
    let path = golden_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read fixture {}: {error}", path.display()))
}

/// Parses `input` and compares its rendering with `expected` (leading and
/// trailing blank space ignored; each line's trailing spaces ignored).
fn check(input: Input<'_>, expected: &str) {
    let actual = match parse(&input) {
        Ok(rendered) => rendered,
        Err(error) => format!("error: {error}\n"),
    };
    let normalize = |text: &str| {
        text.trim()
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (actual, expected) = (normalize(&actual), normalize(expected));
    assert!(
        actual == expected,
        "rendering differs from the expected one\n--- expected\n{expected}\n--- actual\n{actual}\n---"
    );
}

fn parse(input: &Input<'_>) -> Result<String, config::ConfigError> {
    let (main, mut warnings) = config::parse_main_str(input.main, "netdata.conf")?;
    let (exporting, exporting_warnings) =
        config::parse_exporting_str(input.exporting, "exporting.conf", &main)?;
    warnings.extend(exporting_warnings);
    Ok(render(
        &main,
        !input.main.trim().is_empty(),
        &exporting,
        &warnings,
    ))
}

/// The machine's host name shows as `<machine>` so renderings are the same
/// on every machine.
fn show_hostname(hostname: &str) -> String {
    if hostname == config::system_hostname() {
        "<machine>".to_string()
    } else {
        format!("{hostname:?}")
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// Renders everything resolved, one fact per `key=value`.
fn render(
    main: &MainConfig,
    show_main: bool,
    exporting: &ExportingConfig,
    warnings: &[Warning],
) -> String {
    let mut out = String::new();
    if show_main {
        let d = &main.directories;
        let _ = writeln!(
            out,
            "main hostname={} update_every={}s history={} log_level={:?} debug_flags={:?}",
            show_hostname(&main.hostname),
            main.update_every,
            main.history,
            main.log_level,
            main.debug_flags
        );
        let _ = writeln!(
            out,
            "  directories config={:?} stock_config={:?} plugins={:?} cache={:?} lib={:?} log={:?} web={:?} home={:?}",
            d.config, d.stock_config, d.plugins, d.cache, d.lib, d.log, d.web, d.home
        );
        let _ = writeln!(
            out,
            "  plugins new={} every={}s explicit={:?} proc={} apps={} slabinfo={}",
            yes_no(main.plugins.enable_running_new_plugins),
            main.plugins.check_for_new_plugins_every,
            main.plugins.explicit,
            yes_no(main.plugin_enabled("proc")),
            yes_no(main.plugin_enabled("apps")),
            yes_no(main.plugin_enabled("slabinfo")),
        );
        if !main.proc_modules.is_empty() {
            let _ = writeln!(out, "  proc_modules={:?}", main.proc_modules);
        }
        if main.logs != config::LogsConfig::default() {
            let _ = writeln!(out, "  logs {:?}", main.logs);
        }
        let _ = writeln!(
            out,
            "  web bind_to={:?} mode={:?} default_port={} other={:?}",
            main.web.bind_to, main.web.mode, main.web.default_port, main.web.other
        );
        let _ = writeln!(out, "  host_labels={:?}", main.host_labels);
        let _ = writeln!(
            out,
            "  health is_ephemeral={} has_unstable_connection={}",
            yes_no(main.health.is_ephemeral),
            yes_no(main.health.has_unstable_connection),
        );
        if let Some(backend) = &main.backend {
            render_instance(&mut out, backend);
        }
    }
    let p = &exporting.prometheus_exporter;
    let _ = writeln!(out, "exporting enabled={}", yes_no(exporting.enabled));
    let _ = writeln!(
        out,
        "  prometheus update_every={}s data_source={} names={} configured_labels={} automatic_labels={} charts={:?} hosts={:?} prefix={:?} label_prefix={:?} source={}",
        p.update_every,
        p.data_source,
        yes_no(p.send_names_instead_of_ids),
        yes_no(p.send_configured_labels),
        yes_no(p.send_automatic_labels),
        p.send_charts_matching,
        p.send_hosts_matching,
        p.prefix,
        p.netdata_label_prefix,
        p.source.as_ref().map_or("-".to_string(), ToString::to_string),
    );
    for instance in &exporting.instances {
        render_instance(&mut out, instance);
    }
    for warning in warnings {
        let _ = writeln!(out, "warning {warning}");
    }
    out
}

fn render_instance(out: &mut String, i: &InstanceConfig) {
    let _ = writeln!(out, "{} (from {})", i.summary_line(), i.source);
    let _ = writeln!(
        out,
        "  destination_text={:?} prefix={:?} hostname={} buffer_on_failures={} timeout_ms={} legacy={}",
        i.destination_text,
        i.prefix,
        show_hostname(&i.hostname),
        i.buffer_on_failures,
        i.timeout_ms,
        yes_no(i.legacy),
    );
    let _ = writeln!(
        out,
        "  names={} charts={:?} hosts={:?} configured_labels={} automatic_labels={} variables={} host_tags={:?}",
        yes_no(i.send_names_instead_of_ids),
        i.send_charts_matching,
        i.send_hosts_matching,
        yes_no(i.send_configured_labels),
        yes_no(i.send_automatic_labels),
        yes_no(i.send_variables),
        i.host_tags,
    );
    let paths: Vec<_> = i
        .destinations
        .iter()
        .filter_map(|d| d.path.clone())
        .collect();
    let has_extras = i.extras != ConnectorExtras::None;
    if i.remote_write_url_path.is_some()
        || i.username.is_some()
        || i.password.is_some()
        || has_extras
        || !paths.is_empty()
    {
        let _ = writeln!(
            out,
            "  remote_write_url_path={:?} username={:?} password={:?} paths={:?} extras={:?}",
            i.remote_write_url_path, i.username, i.password, paths, i.extras
        );
    }
}

// ----------------------------------------------------------------------------
// the netdata 1.37 files

#[test]
fn lab_files_resolve_to_five_enabled_instances() {
    let main = fixture("netdata.conf.lab");
    let exporting = fixture("exporting.conf.lab");
    check(
        Input {
            main: &main,
            exporting: &exporting,
        },
        &fixture("lab.expected"),
    );
}

#[test]
fn stock_exporting_file_has_no_instances() {
    let exporting = fixture("exporting.conf.stock");
    check(
        Input {
            main: "",
            exporting: &exporting,
        },
        &fixture("stock.expected"),
    );
}

#[test]
fn lab_files_load_from_disk_and_exporting_conf_is_found_in_the_config_directory() {
    let dir = std::env::temp_dir().join(format!("backhaul-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let main_path = dir.join("netdata.conf");
    let main_text = format!(
        "{}\n[directories]\n\tconfig = {}\n",
        fixture("netdata.conf.lab"),
        dir.display()
    );
    std::fs::write(&main_path, main_text).expect("write netdata.conf");
    std::fs::write(dir.join("exporting.conf"), fixture("exporting.conf.lab"))
        .expect("write exporting.conf");

    let loaded = config::load(Some(&main_path), None).expect("loads");
    assert_eq!(loaded.exporting_file, Some(dir.join("exporting.conf")));
    let summaries: Vec<String> = loaded
        .enabled_instances()
        .map(|i| i.summary_line())
        .collect();
    assert_eq!(
        summaries,
        [
            "graphite my_graphite destination=127.0.0.1:2003 data_source=average update_every=1s enabled=yes",
            "graphite graphite_raw destination=127.0.0.1:2103 data_source=as_collected update_every=1s enabled=yes",
            "opentsdb my_opentsdb destination=127.0.0.1:4242 data_source=average update_every=2s enabled=yes",
            "json my_json destination=127.0.0.1:5448 data_source=average update_every=5s enabled=yes",
            "prometheus_remote_write my_prw destination=127.0.0.1:9091 data_source=average update_every=5s enabled=yes",
        ]
    );
    let first_warning = loaded.warnings.first().map(ToString::to_string);
    let expected_first = format!(
        "{}:3: [global] 'run as user': netdata setting not used by backhaul; ignored",
        main_path.display()
    );
    assert_eq!(first_warning.as_deref(), Some(expected_first.as_str()));

    // Without netdata.conf nothing is read.
    let defaults = config::load(None, None).expect("defaults");
    assert_eq!(defaults.instances().count(), 0);
    assert_eq!(defaults.exporting_file, None);

    let missing = dir.join("missing.conf");
    let error = config::load(Some(&missing), None).expect_err("missing file");
    assert!(
        error.to_string().starts_with(&format!(
            "{}: cannot read configuration file: ",
            missing.display()
        )),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ----------------------------------------------------------------------------
// resolution

const HOST: &str = "[global]\n\thostname = golden-host\n";

#[test]
fn lookup_order_instance_then_type_then_global_then_default() {
    check(
        Input {
            main: "",
            exporting: "\
[exporting:global]
    enabled = yes
    prefix = from_global
    update every = 30
    hostname = global-host
    send configured labels = no
[opentsdb]
    prefix = from_type
    timeout ms = 500
[opentsdb:a]
    prefix = from_instance
[opentsdb:b]
    destination = tsdb1 [::1]:4000, tsdb2:4343
[opentsdb:telnet:c]
    data source = sum
[prometheus:exporter]
    data source = as collected
",
        },
        r#"
exporting enabled=yes
  prometheus update_every=30s data_source=as collected names=yes configured_labels=no automatic_labels=no charts="*" hosts="localhost *" prefix="from_global" label_prefix="" source=exporting.conf:16
opentsdb a destination=localhost:4242 data_source=average update_every=30s enabled=yes (from exporting.conf:10)
  destination_text="localhost" prefix="from_instance" hostname="global-host" buffer_on_failures=10 timeout_ms=500 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=no automatic_labels=no variables=no host_tags=""
opentsdb b destination=tsdb1:4242,[::1]:4000,tsdb2:4343 data_source=average update_every=30s enabled=yes (from exporting.conf:12)
  destination_text="tsdb1 [::1]:4000, tsdb2:4343" prefix="from_type" hostname="global-host" buffer_on_failures=10 timeout_ms=500 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=no automatic_labels=no variables=no host_tags=""
opentsdb:telnet c destination=localhost:4242 data_source=sum update_every=30s enabled=yes (from exporting.conf:14)
  destination_text="localhost" prefix="from_global" hostname="global-host" buffer_on_failures=10 timeout_ms=10000 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=no automatic_labels=no variables=no host_tags=""
"#,
    );
}

#[test]
fn a_whole_type_string_is_a_type_section_read_by_that_exact_type_only() {
    check(
        Input {
            main: "",
            exporting: "\
[graphite:plaintext]
    prefix = p
[graphite:plaintext:x]
    enabled = yes
[graphite:y]
    enabled = yes
",
        },
        r#"
exporting enabled=no
  prometheus update_every=10s data_source=average names=yes configured_labels=yes automatic_labels=no charts="*" hosts="localhost *" prefix="netdata" label_prefix="" source=-
graphite:plaintext x destination=localhost:2003 data_source=average update_every=10s enabled=yes (from exporting.conf:3)
  destination_text="localhost" prefix="p" hostname=<machine> buffer_on_failures=10 timeout_ms=10000 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=yes automatic_labels=no variables=no host_tags=""
graphite y destination=localhost:2003 data_source=average update_every=10s enabled=yes (from exporting.conf:5)
  destination_text="localhost" prefix="netdata" hostname=<machine> buffer_on_failures=10 timeout_ms=10000 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=yes automatic_labels=no variables=no host_tags=""
"#,
    );
}

#[test]
fn defaults_http_connectors_and_auto_named_instances() {
    check(
        Input {
            main: HOST,
            exporting: "\
[graphite:http:web]
    enabled = yes
    destination = carbon.example:8080/api/metrics
    username = me
    password = hunter2
[json:]
    enabled = no
[prometheus_remote_write:https:prw]
    enabled = no
    send variables = no
[kinesis:k]
    stream name = s
    aws_secret_access_key = hidden
[mongodb:m]
    destination = mongodb://db.example:27017
",
        },
        r#"
main hostname="golden-host" update_every=1s history=3600 log_level=None debug_flags=None
  directories config="/etc/netdata" stock_config="/usr/lib/netdata/conf.d" plugins=["/usr/lib/netdata/plugins.d", "/etc/netdata/custom-plugins.d"] cache="/var/cache/netdata" lib="/var/lib/netdata" log="/var/log/netdata" web="/usr/share/netdata/web" home="/var/lib/netdata"
  plugins new=yes every=60s explicit=[] proc=yes apps=yes slabinfo=no
  web bind_to="127.0.0.1" mode="static-threaded" default_port=19999 other=[]
  host_labels=[]
  health is_ephemeral=no has_unstable_connection=no
exporting enabled=no
  prometheus update_every=10s data_source=average names=yes configured_labels=yes automatic_labels=no charts="*" hosts="localhost *" prefix="netdata" label_prefix="" source=-
graphite:http web destination=carbon.example:8080/api/metrics data_source=average update_every=10s enabled=yes (from exporting.conf:1)
  destination_text="carbon.example:8080/api/metrics" prefix="netdata" hostname="golden-host" buffer_on_failures=10 timeout_ms=10000 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=yes automatic_labels=no variables=no host_tags=""
  remote_write_url_path=None username=Some("me") password=Some("***") paths=["/api/metrics"] extras=None
json instance_1 destination=localhost:5448 data_source=average update_every=10s enabled=no (from exporting.conf:6)
  destination_text="localhost" prefix="netdata" hostname="golden-host" buffer_on_failures=10 timeout_ms=10000 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=yes automatic_labels=no variables=no host_tags=""
prometheus_remote_write:https prw destination=localhost data_source=average update_every=10s enabled=no (from exporting.conf:8)
  destination_text="localhost" prefix="netdata" hostname="golden-host" buffer_on_failures=10 timeout_ms=10000 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=yes automatic_labels=no variables=no host_tags=""
  remote_write_url_path=Some("/receive") username=None password=None paths=[] extras=None
kinesis k destination=us-east-1 data_source=average update_every=10s enabled=no (from exporting.conf:11)
  destination_text="us-east-1" prefix="netdata" hostname="golden-host" buffer_on_failures=10 timeout_ms=10000 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=yes automatic_labels=no variables=no host_tags=""
  remote_write_url_path=None username=None password=None paths=[] extras=Kinesis { stream_name: "s", aws_access_key_id: "", aws_secret_access_key: "***" }
mongodb m destination=mongodb://db.example:27017 data_source=average update_every=10s enabled=no (from exporting.conf:14)
  destination_text="mongodb://db.example:27017" prefix="netdata" hostname="golden-host" buffer_on_failures=10 timeout_ms=10000 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=yes automatic_labels=no variables=no host_tags=""
  remote_write_url_path=None username=None password=None paths=[] extras=Mongodb { database: "", collection: "" }
"#,
    );
}

#[test]
fn legacy_backend_section() {
    check(
        Input {
            main: "\
[global]
    hostname = old-host
    update every = 2
[backend]
    enabled = yes
    type = opentsdb
    destination = tsdb:4243 backup
    data source = as collected
    update every = 6
    host tags = env=prod
",
            exporting: "",
        },
        r#"
main hostname="old-host" update_every=2s history=3600 log_level=None debug_flags=None
  directories config="/etc/netdata" stock_config="/usr/lib/netdata/conf.d" plugins=["/usr/lib/netdata/plugins.d", "/etc/netdata/custom-plugins.d"] cache="/var/cache/netdata" lib="/var/lib/netdata" log="/var/log/netdata" web="/usr/share/netdata/web" home="/var/lib/netdata"
  plugins new=yes every=60s explicit=[] proc=yes apps=yes slabinfo=no
  web bind_to="127.0.0.1" mode="static-threaded" default_port=19999 other=[]
  host_labels=[]
  health is_ephemeral=no has_unstable_connection=no
opentsdb backend destination=tsdb:4243,backup:4242 data_source=as_collected update_every=6s enabled=yes (from netdata.conf:4)
  destination_text="tsdb:4243 backup" prefix="netdata" hostname="old-host" buffer_on_failures=10 timeout_ms=12000 legacy=yes
  names=yes charts="*" hosts="localhost *" configured_labels=no automatic_labels=no variables=no host_tags="env=prod"
exporting enabled=no
  prometheus update_every=10s data_source=average names=yes configured_labels=yes automatic_labels=no charts="*" hosts="localhost *" prefix="netdata" label_prefix="" source=-
"#,
    );
}

#[test]
fn legacy_backend_timeout_below_one_falls_back_like_the_seed() {
    check(
        Input {
            main: "[global]\nhostname = h\n[backend]\ntimeout ms = 0\n",
            exporting: "",
        },
        r#"
main hostname="h" update_every=1s history=3600 log_level=None debug_flags=None
  directories config="/etc/netdata" stock_config="/usr/lib/netdata/conf.d" plugins=["/usr/lib/netdata/plugins.d", "/etc/netdata/custom-plugins.d"] cache="/var/cache/netdata" lib="/var/lib/netdata" log="/var/log/netdata" web="/usr/share/netdata/web" home="/var/lib/netdata"
  plugins new=yes every=60s explicit=[] proc=yes apps=yes slabinfo=no
  web bind_to="127.0.0.1" mode="static-threaded" default_port=19999 other=[]
  host_labels=[]
  health is_ephemeral=no has_unstable_connection=no
graphite backend destination=localhost:2003 data_source=average update_every=10s enabled=no (from netdata.conf:3)
  destination_text="localhost" prefix="netdata" hostname="h" buffer_on_failures=10 timeout_ms=20000 legacy=yes
  names=yes charts="*" hosts="localhost *" configured_labels=no automatic_labels=no variables=no host_tags=""
exporting enabled=no
  prometheus update_every=10s data_source=average names=yes configured_labels=yes automatic_labels=no charts="*" hosts="localhost *" prefix="netdata" label_prefix="" source=-
warning netdata.conf:4: [backend] 'timeout ms': '0' is below 1 ms; using 20000 ms ('update every' x 2000), as netdata's backends did
"#,
    );
}

#[test]
fn main_config_sections_aliases_and_plugins() {
    check(
        Input {
            main: "\
[global]
    hostname = box
    history = 7200
    log level = debug
    plugins directory = /opt/old-plugins
    update every = 5
[db]
    update every = 2
    mode = dbengine
[directories]
    config = /srv/nd
    plugins = \"/opt/a b/plugins.d\" /opt/c
    lock = /run/lock
[plugins]
    enable running new plugins = no
    apps = yes
    proc = no # not now
    check for new plugins every = 30
[web]
    bind to = *
    mode = none
    allow connections from = localhost
    made up = 1
[host labels]
    zone = b
    app = a
[plugin:proc]
    /proc/stat = no
[mystery]
    x = 1
",
            exporting: "",
        },
        r#"
main hostname="box" update_every=2s history=7200 log_level=Some("debug") debug_flags=None
  directories config="/srv/nd" stock_config="/usr/lib/netdata/conf.d" plugins=["/opt/a b/plugins.d", "/opt/c"] cache="/var/cache/netdata" lib="/var/lib/netdata" log="/var/log/netdata" web="/usr/share/netdata/web" home="/var/lib/netdata"
  plugins new=no every=30s explicit=[("apps", true), ("proc", false)] proc=no apps=yes slabinfo=no
  proc_modules=[("/proc/stat", false)]
  web bind_to="*" mode="none" default_port=19999 other=[("made up", "1")]
  host_labels=[("zone", "b"), ("app", "a")]
  health is_ephemeral=no has_unstable_connection=no
exporting enabled=no
  prometheus update_every=10s data_source=average names=yes configured_labels=yes automatic_labels=no charts="*" hosts="localhost *" prefix="netdata" label_prefix="" source=-
warning netdata.conf:9: [db] 'mode': netdata setting not used by backhaul; ignored
warning netdata.conf:13: [directories] 'lock': netdata setting not used by backhaul; ignored
warning netdata.conf:17: [plugins] 'proc': 'no # not now' is not a boolean (must be yes or no (also accepted: true/false, on/off, 1/0, auto, on demand)); taken as no, as netdata does
warning netdata.conf:23: [web] 'made up': unknown setting; ignored
warning netdata.conf:29: [mystery]: unknown section; its settings are ignored
"#,
    );
}

/// `[health] is ephemeral` and `has unstable connection` are read (they
/// become the host labels `_is_ephemeral` and `_has_unstable_connection`);
/// the section's other netdata settings are "not used", unknown ones
/// "unknown", one warning each.
#[test]
fn health_section_keys_netdata_sends_as_host_labels() {
    check(
        Input {
            main: "\
[global]
    hostname = box
[health]
    enabled = no
    is ephemeral = yes
    has unstable connection = true
    is ephemral = no
",
            exporting: "",
        },
        r#"
main hostname="box" update_every=1s history=3600 log_level=None debug_flags=None
  directories config="/etc/netdata" stock_config="/usr/lib/netdata/conf.d" plugins=["/usr/lib/netdata/plugins.d", "/etc/netdata/custom-plugins.d"] cache="/var/cache/netdata" lib="/var/lib/netdata" log="/var/log/netdata" web="/usr/share/netdata/web" home="/var/lib/netdata"
  plugins new=yes every=60s explicit=[] proc=yes apps=yes slabinfo=no
  web bind_to="127.0.0.1" mode="static-threaded" default_port=19999 other=[]
  host_labels=[]
  health is_ephemeral=yes has_unstable_connection=yes
exporting enabled=no
  prometheus update_every=10s data_source=average names=yes configured_labels=yes automatic_labels=no charts="*" hosts="localhost *" prefix="netdata" label_prefix="" source=-
warning netdata.conf:4: [health] 'enabled': netdata setting not used by backhaul; ignored
warning netdata.conf:7: [health] 'is ephemral': unknown setting; ignored
"#,
    );
    check(
        Input {
            main: "[global]\n    hostname = box\n[health]\n    has unstable connection = no\n",
            exporting: "",
        },
        r#"
main hostname="box" update_every=1s history=3600 log_level=None debug_flags=None
  directories config="/etc/netdata" stock_config="/usr/lib/netdata/conf.d" plugins=["/usr/lib/netdata/plugins.d", "/etc/netdata/custom-plugins.d"] cache="/var/cache/netdata" lib="/var/lib/netdata" log="/var/log/netdata" web="/usr/share/netdata/web" home="/var/lib/netdata"
  plugins new=yes every=60s explicit=[] proc=yes apps=yes slabinfo=no
  web bind_to="127.0.0.1" mode="static-threaded" default_port=19999 other=[]
  host_labels=[]
  health is_ephemeral=no has_unstable_connection=no
exporting enabled=no
  prometheus update_every=10s data_source=average names=yes configured_labels=yes automatic_labels=no charts="*" hosts="localhost *" prefix="netdata" label_prefix="" source=-
"#,
    );
}

#[test]
fn main_config_without_plugins_directory_uses_the_old_global_name() {
    let (main, _) = config::parse_main_str(
        "[global]\nhostname = h\nplugins directory = /opt/old\n[db]\nretention = 100\nupdate every = 3\n",
        "netdata.conf",
    )
    .expect("parses");
    assert_eq!(main.directories.plugins, [PathBuf::from("/opt/old")]);
    assert_eq!(main.history, 34);
}

// ----------------------------------------------------------------------------
// warnings

#[test]
fn unknown_keys_sections_and_other_warnings_name_file_line_and_key() {
    check(
        Input {
            main: HOST,
            exporting: "\
[exporting:global]
    enabled = no
    updte every = 5
[graphite:g]
    enabled = yes
    update every = 3
    stream name = nope
    host tags = a=b
    enabled = yes
[json:empty]
[nonsense]
    a = b
[prometheus:exporter]
    netdata label prefix = nd_
",
        },
        r#"
main hostname="golden-host" update_every=1s history=3600 log_level=None debug_flags=None
  directories config="/etc/netdata" stock_config="/usr/lib/netdata/conf.d" plugins=["/usr/lib/netdata/plugins.d", "/etc/netdata/custom-plugins.d"] cache="/var/cache/netdata" lib="/var/lib/netdata" log="/var/log/netdata" web="/usr/share/netdata/web" home="/var/lib/netdata"
  plugins new=yes every=60s explicit=[] proc=yes apps=yes slabinfo=no
  web bind_to="127.0.0.1" mode="static-threaded" default_port=19999 other=[]
  host_labels=[]
  health is_ephemeral=no has_unstable_connection=no
exporting enabled=no
  prometheus update_every=10s data_source=average names=yes configured_labels=yes automatic_labels=no charts="*" hosts="localhost *" prefix="netdata" label_prefix="nd_" source=exporting.conf:13
graphite g destination=localhost:2003 data_source=average update_every=3s enabled=yes (from exporting.conf:4)
  destination_text="localhost" prefix="netdata" hostname="golden-host" buffer_on_failures=10 timeout_ms=10000 legacy=no
  names=yes charts="*" hosts="localhost *" configured_labels=yes automatic_labels=no variables=no host_tags=""
warning exporting.conf:3: [exporting:global] 'updte every': unknown setting; ignored
warning exporting.conf:4: [graphite:g]: enabled although [exporting:global] says 'enabled = no': that value is only the default of each instance's 'enabled' (as in netdata 1.37), so this instance runs
warning exporting.conf:7: [graphite:g] 'stream name': only used by kinesis connectors; ignored for graphite
warning exporting.conf:8: [graphite:g] 'host tags': netdata's exporting engine dropped 'host tags' and so does backhaul (set labels in [host labels] of netdata.conf); ignored
warning exporting.conf:9: [graphite:g] 'enabled': set again (first set at line 5); the last value wins
warning exporting.conf:10: [json:empty]: instance section has no settings; ignored (netdata ignores it too)
warning exporting.conf:11: [nonsense]: unknown section (not [exporting:global], [prometheus:exporter], a connector type or [TYPE:NAME]); ignored
warning exporting.conf:14: [prometheus:exporter] 'netdata label prefix': accepted and not used: /api/v1/allmetrics sends label names as they are
"#,
    );
}

#[test]
fn update_every_not_a_multiple_of_collection_is_pointed_out() {
    let (main, _) =
        config::parse_main_str("[global]\nhostname = h\nupdate every = 2\n", "netdata.conf")
            .expect("parses");
    let (_, warnings) = config::parse_exporting_str(
        "[graphite:g]\nenabled = yes\nupdate every = 3\n",
        "exporting.conf",
        &main,
    )
    .expect("parses");
    let texts: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        ["exporting.conf:1: [graphite:g]: 'update every' (3s) is not a multiple of the collection interval (2s): values will be taken at uneven points of the stored data"]
    );
}

// ----------------------------------------------------------------------------
// errors: one case each, expected text exact

fn check_exporting_error(exporting: &str, expected: &str) {
    check(
        Input {
            main: HOST,
            exporting,
        },
        expected,
    );
}

#[test]
fn error_malformed_line() {
    check_exporting_error(
        "[graphite:g]\n    enabled = yes\n    destination\n",
        "error: exporting.conf:3: cannot understand 'destination': expected 'name = value', '[section]' or a comment",
    );
}

#[test]
fn error_unterminated_section() {
    check_exporting_error(
        "[graphite:g\n",
        "error: exporting.conf:1: section header '[graphite:g' has no closing ']'",
    );
}

#[test]
fn error_setting_before_any_section() {
    check_exporting_error(
        "# comment\nenabled = yes\n",
        "error: exporting.conf:2: setting 'enabled' comes before any [section]",
    );
}

#[test]
fn error_unknown_connector_type() {
    check_exporting_error(
        "[exporting:global]\n    enabled = yes\n\n[influxdb:my_influx]\n    enabled = yes\n",
        "error: exporting.conf:4: [influxdb:my_influx]: unknown connector type 'influxdb' (known types: graphite, graphite:plaintext, graphite:http, graphite:https, opentsdb, opentsdb:telnet, opentsdb:http, opentsdb:https, json, json:plaintext, json:http, json:https, prometheus_remote_write, prometheus_remote_write:http, prometheus_remote_write:https, kinesis, pubsub, mongodb)",
    );
}

#[test]
fn error_negative_update_every() {
    check_exporting_error(
        "[graphite:x]\n    enabled = yes\n    update every = -3\n",
        "error: exporting.conf:3: [graphite:x] 'update every': invalid value '-3': must be a whole number of seconds >= 1",
    );
}

#[test]
fn error_invalid_value_in_global_section_names_that_section() {
    check_exporting_error(
        "[exporting:global]\n    update every = 0\n[graphite:x]\n    enabled = yes\n",
        "error: exporting.conf:2: [exporting:global] 'update every': invalid value '0': must be a whole number of seconds >= 1",
    );
}

#[test]
fn error_unknown_data_source() {
    check_exporting_error(
        "[json:j]\n    data source = median\n",
        "error: exporting.conf:2: [json:j] 'data source': invalid value 'median': must be 'as collected', 'average' or 'sum' (also accepted: 'raw', 'as-collected', 'as_collected', 'ascollected', 'volume')",
    );
}

#[test]
fn error_buffer_on_failures_not_a_number() {
    check_exporting_error(
        "[opentsdb:o]\n    buffer on failures = lots\n",
        "error: exporting.conf:2: [opentsdb:o] 'buffer on failures': invalid value 'lots': must be a whole number >= 0",
    );
}

#[test]
fn error_timeout_ms_zero() {
    check_exporting_error(
        "[graphite]\n    timeout ms = 0\n",
        "error: exporting.conf:2: [graphite] 'timeout ms': invalid value '0': must be a whole number of milliseconds >= 1",
    );
}

#[test]
fn error_bad_boolean() {
    check_exporting_error(
        "[graphite:g]\n    enabled = maybe\n",
        "error: exporting.conf:2: [graphite:g] 'enabled': invalid value 'maybe': must be yes or no (also accepted: true/false, on/off, 1/0, auto, on demand)",
    );
}

#[test]
fn error_destination_port_out_of_range() {
    check_exporting_error(
        "[graphite:g]\n    destination = ok:2003 carbon:99999\n",
        "error: exporting.conf:2: [graphite:g] 'destination': invalid value 'ok:2003 carbon:99999': 'carbon:99999': port '99999' is not a number from 1 to 65535",
    );
}

#[test]
fn error_authorization_header_with_basic_authentication() {
    check_exporting_error(
        "[json:http:j]\n    username = u\n    http headers = Authorization: Bearer abc\n",
        "error: exporting.conf:3: [json:http:j] 'http headers': invalid value 'Authorization: Bearer abc': 'Authorization' would be sent twice: 'username'/'password' already send HTTP basic authentication; set one or the other",
    );
}

#[test]
fn error_destination_port_not_a_number_and_empty_list() {
    check_exporting_error(
        "[graphite:g]\n    destination = carbon:abc\n",
        "error: exporting.conf:2: [graphite:g] 'destination': invalid value 'carbon:abc': 'carbon:abc': port 'abc' is not a number from 1 to 65535",
    );
    check_exporting_error(
        "[graphite:g]\n    destination = ,\n",
        "error: exporting.conf:2: [graphite:g] 'destination': invalid value ',': no destination given",
    );
}

#[test]
fn error_destination_inherited_from_global_names_the_global_line() {
    check_exporting_error(
        "[exporting:global]\n    destination = udp:carbon:2003\n[graphite:g]\n    enabled = yes\n",
        "error: exporting.conf:2: [exporting:global] 'destination': invalid value 'udp:carbon:2003': 'udp:carbon:2003': udp is not supported (backhaul sends over tcp only)",
    );
}

#[test]
fn error_path_on_a_plaintext_connector() {
    check_exporting_error(
        "[json:j]\n    destination = h:1/x\n",
        "error: exporting.conf:2: [json:j] 'destination': invalid value 'h:1/x': 'h:1/x': a /path is only used by HTTP connectors",
    );
}

#[test]
fn error_same_instance_name_under_two_types() {
    check_exporting_error(
        "[graphite:same]\n    enabled = yes\n[json:same]\n    enabled = yes\n",
        "error: exporting.conf:3: [json:same]: instance name 'same' is already used by [graphite:same] at exporting.conf:1",
    );
}

#[test]
fn error_in_main_config() {
    check(
        Input {
            main: "[global]\n    update every = 0\n",
            exporting: "",
        },
        "error: netdata.conf:2: [global] 'update every': invalid value '0': must be a whole number of seconds >= 1",
    );
    check(
        Input {
            main: "[backend]\n    type = influxdb\n",
            exporting: "",
        },
        "error: netdata.conf:2: [backend] 'type': invalid value 'influxdb': unknown connector type (known types: graphite, graphite:plaintext, graphite:http, graphite:https, opentsdb, opentsdb:telnet, opentsdb:http, opentsdb:https, json, json:plaintext, json:http, json:https, prometheus_remote_write, prometheus_remote_write:http, prometheus_remote_write:https, kinesis, pubsub, mongodb)",
    );
    check(
        Input {
            main: "[backend]\n    enabled = yes\n    type = prometheus_remote_write\n",
            exporting: "",
        },
        "error: netdata.conf:1: [backend]: 'destination' is required: prometheus remote write has no default port (netdata had no usable one either): write HOST:PORT, e.g. 127.0.0.1:9090 for a Prometheus server",
    );
    check(
        Input {
            main: "[health]\n    enabled = no\n    is ephemeral = sometimes\n",
            exporting: "",
        },
        "error: netdata.conf:3: [health] 'is ephemeral': invalid value 'sometimes': must be yes or no (also accepted: true/false, on/off, 1/0, auto, on demand)",
    );
    check(
        Input {
            main: "[health]\n    has unstable connection = \n",
            exporting: "",
        },
        "error: netdata.conf:2: [health] 'has unstable connection': invalid value '': must be yes or no (also accepted: true/false, on/off, 1/0, auto, on demand)",
    );
}

#[test]
fn plugins_d_limits_are_configurable_and_checked() {
    let text = "[plugins]\n    plugins.d max charts per plugin = 50\n    plugins.d max dimensions per chart = 7\n    plugins.d max dimensions per plugin = 300\n    plugins.d max line length = 2048\n    apps = no\n";
    let (main, warnings) = backhaul::config::parse_main_str(text, "netdata.conf").unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(main.plugins.max_charts_per_plugin, 50);
    assert_eq!(main.plugins.max_dimensions_per_chart, 7);
    assert_eq!(main.plugins.max_dimensions_per_plugin, 300);
    assert_eq!(main.plugins.max_line_length, 2048);
    assert!(!main.plugin_enabled("apps"));
    let settings = backhaul::collectors::pluginsd::PluginsdSettings::from_main(&main);
    assert_eq!(settings.limits.max_charts, 50);
    assert_eq!(settings.limits.max_dimensions_per_chart, 7);
    assert_eq!(settings.max_line_len, 2048);

    let err = backhaul::config::parse_main_str(
        "[plugins]\n    plugins.d max charts per plugin = lots\n",
        "netdata.conf",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("netdata.conf:2")
            && err.contains("plugins.d max charts per plugin")
            && err.contains("lots"),
        "{err}"
    );
}

#[test]
fn db_replication_keys_are_read_where_netdata_reads_them() {
    let (main, warnings) = backhaul::config::parse_main_str(
        "[db]\n    enable replication = no\n    seconds to replicate = 3600\n    seconds per replication step = 60\n",
        "netdata.conf",
    )
    .unwrap();
    assert!(warnings.is_empty(), "read, not 'not used': {warnings:?}");
    assert!(!main.replication.enabled);
    assert_eq!(main.replication.seconds_to_replicate, 3600);
    assert_eq!(main.replication.seconds_per_step, 60);
    let err = backhaul::config::parse_main_str(
        "[db]\n    seconds per replication step = 0\n",
        "netdata.conf",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("netdata.conf:2") && err.contains("seconds per replication step"),
        "{err}"
    );
}

#[test]
fn error_replay_windows_per_second_not_a_number() {
    check_exporting_error(
        "[graphite:g]\n    replay windows per second = fast\n",
        "error: exporting.conf:2: [graphite:g] 'replay windows per second': invalid value 'fast': must be a whole number of windows per second (0: do not replay from the store)",
    );
}

#[test]
fn error_buffer_on_failures_max_bytes_too_small() {
    check_exporting_error(
        "[graphite:g]\n    buffer on failures max bytes = 100\n",
        "error: exporting.conf:2: [graphite:g] 'buffer on failures max bytes': invalid value '100': must be a whole number of bytes >= 1024",
    );
}

#[test]
fn replay_and_ring_byte_bound_keys_follow_the_lookup_order_and_defaults() {
    let (main, _) = config::parse_main_str("", "netdata.conf").unwrap();
    let (exporting, warnings) = config::parse_exporting_str(
        "[exporting:global]\n    replay windows per second = 3\n\
         [graphite:a]\n    buffer on failures max bytes = 2048\n\
         [json:b]\n    replay windows per second = 0\n",
        "exporting.conf",
        &main,
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let got: Vec<(&str, u32, usize)> = exporting
        .instances
        .iter()
        .map(|i| {
            (
                i.name.as_str(),
                i.replay_windows_per_second,
                i.buffer_on_failures_max_bytes,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a", 3, 2048),
            ("b", 0, config::DEFAULT_BUFFER_ON_FAILURES_MAX_BYTES)
        ]
    );
    assert_eq!(config::DEFAULT_REPLAY_WINDOWS_PER_SECOND, 10);
}
