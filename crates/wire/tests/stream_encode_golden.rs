//! The child side's encoder against a real netdata 1.37.1 child: the
//! `STREAM` request, the host labels, chart definitions, collected rounds
//! and replication answers, byte for byte as in
//! `stream/stream_capture_child_to_parent.txt`; custom variables as in
//! `stream/stream_capture_variables.txt`.

use wire::pluginsd::VariableScope;
use wire::stream_encode::{
    label_source, write_begin, write_chart, write_chart_definition_end, write_chart_label,
    write_chart_labels_commit, write_claimed_id, write_dimension, write_end, write_host_label,
    write_overwrite_labels, write_replay_begin_chart, write_replay_begin_point,
    write_replay_chart_state, write_replay_dimension_state, write_replay_end, write_replay_set,
    write_set, write_stream_request, write_variable, ChartLine, DimensionLine, ReplayEndLine,
    StreamRequestFields,
};

const PLAIN: &[u8] = include_bytes!("stream/stream_capture_child_to_parent.txt");
const VARIABLES: &[u8] = include_bytes!("stream/stream_capture_variables.txt");

/// The child's sections of the capture, in order.
fn child_sections() -> Vec<&'static [u8]> {
    child_sections_of(PLAIN)
}

/// The child's sections of `capture`, in order.
fn child_sections_of(capture: &'static [u8]) -> Vec<&'static [u8]> {
    let mut sections = Vec::new();
    let mut rest = capture;
    while !rest.is_empty() {
        let newline = rest.iter().position(|&b| b == b'\n').expect("a header");
        let header = std::str::from_utf8(&rest[..newline]).expect("ASCII header");
        let fields: Vec<&str> = header.split(' ').collect();
        let len: usize = fields[2].parse().expect("a byte count");
        let body = &rest[newline + 1..];
        let len = len.min(body.len());
        if fields[0] == ">>CHILD" {
            sections.push(&body[..len]);
        }
        rest = body.get(len + 1..).unwrap_or_default();
    }
    sections
}

/// The one comparison every golden test goes through.
fn check(encoded: &[u8], expected: &[u8]) {
    assert_eq!(
        String::from_utf8_lossy(encoded),
        String::from_utf8_lossy(expected)
    );
}

/// The first occurrence of `start` in the capture's child side, and the
/// `lines` lines from there.
fn captured_lines(start: &str, lines: usize) -> Vec<u8> {
    captured_lines_of(PLAIN, start, lines)
}

/// [`captured_lines`] of `capture`.
fn captured_lines_of(capture: &'static [u8], start: &str, lines: usize) -> Vec<u8> {
    let all: Vec<u8> = child_sections_of(capture).concat();
    let text = String::from_utf8_lossy(&all).into_owned();
    let at = text.find(start).expect("in the capture");
    let mut out = String::new();
    for line in text[at..].split_inclusive('\n').take(lines) {
        out.push_str(line);
    }
    out.into_bytes()
}

#[test]
fn the_stream_request_is_the_real_childs() {
    let system_info = [
        ("NETDATA_INSTANCE_CLOUD_TYPE", "unknown"),
        ("NETDATA_INSTANCE_CLOUD_INSTANCE_TYPE", "unknown"),
        ("NETDATA_INSTANCE_CLOUD_INSTANCE_REGION", "unknown"),
        ("NETDATA_SYSTEM_OS_NAME", "unknown"),
        ("NETDATA_SYSTEM_OS_ID", "unknown"),
        ("NETDATA_SYSTEM_OS_ID_LIKE", "unknown"),
        ("NETDATA_SYSTEM_OS_VERSION", "unknown"),
        ("NETDATA_SYSTEM_OS_VERSION_ID", "unknown"),
        ("NETDATA_SYSTEM_OS_DETECTION", "unknown"),
        ("NETDATA_HOST_IS_K8S_NODE", "false"),
        ("NETDATA_SYSTEM_KERNEL_NAME", "Linux"),
        ("NETDATA_SYSTEM_KERNEL_VERSION", "6.18.44-fc-v857"),
        ("NETDATA_SYSTEM_ARCHITECTURE", "x86_64"),
        ("NETDATA_SYSTEM_VIRTUALIZATION", "kvm"),
        ("NETDATA_SYSTEM_VIRT_DETECTION", "systemd-detect-virt"),
        ("NETDATA_SYSTEM_CONTAINER", "docker"),
        ("NETDATA_SYSTEM_CONTAINER_DETECTION", "systemd-detect-virt"),
        ("NETDATA_CONTAINER_OS_NAME", "Debian GNU/Linux"),
        ("NETDATA_CONTAINER_OS_ID", "debian"),
        ("NETDATA_CONTAINER_OS_ID_LIKE", "unknown"),
        ("NETDATA_CONTAINER_OS_VERSION", "12 (bookworm)"),
        ("NETDATA_CONTAINER_OS_VERSION_ID", "12"),
        ("NETDATA_CONTAINER_OS_DETECTION", "/etc/os-release"),
        ("NETDATA_SYSTEM_CPU_LOGICAL_CPU_COUNT", "2"),
        ("NETDATA_SYSTEM_CPU_FREQ", "2.596e+09"),
        ("NETDATA_SYSTEM_TOTAL_RAM", "25276059648"),
        ("NETDATA_SYSTEM_TOTAL_DISK_SIZE", "274877906944"),
        ("NETDATA_PROTOCOL_VERSION", "1.1"),
    ];
    let mut out = Vec::new();
    write_stream_request(
        &mut out,
        &StreamRequestFields {
            key: "11111111-2222-3333-4444-555555555555",
            hostname: "child-host",
            registry_hostname: "child-host",
            machine_guid: "705216b4-ec79-11f1-9d5c-02fc00000001",
            update_every: 1,
            os: "linux",
            timezone: "Etc/UTC",
            abbrev_timezone: "UTC",
            utc_offset: 0,
            hops: 1,
            ml_capable: false,
            ml_enabled: false,
            mc_version: 1,
            tags: "",
            version: 15352,
            system_info: &system_info,
            user_agent: "netdata/v1.37.1",
        },
    );
    check(&out, child_sections()[0]);
}

#[test]
fn host_labels_are_the_real_childs() {
    let labels: &[(&str, u32, &str)] = &[
        ("env", 2, "child"),
        ("team_name", 2, "rust port"),
        ("_cloud_provider_type", 1, "unknown"),
        ("_cloud_instance_type", 1, "unknown"),
        ("_cloud_instance_region", 1, "unknown"),
        ("_os_name", 1, "unknown"),
        ("_os_version", 1, "unknown"),
        ("_kernel_version", 1, "6.18.44-fc-v857"),
        ("_system_cores", 1, "2"),
        ("_system_cpu_freq", 1, "2.596e+09"),
        ("_system_ram_total", 1, "25276059648"),
        ("_system_disk_space", 1, "274877906944"),
        ("_architecture", 1, "x86_64"),
        ("_virtualization", 1, "kvm"),
        ("_container", 1, "docker"),
        ("_container_detection", 1, "systemd-detect-virt"),
        ("_virt_detection", 1, "systemd-detect-virt"),
        ("_is_k8s_node", 1, "false"),
        ("_aclk_available", 9, "false"),
        ("_is_ephemeral", 2, "false"),
        ("_has_unstable_connection", 2, "false"),
        ("_is_parent", 1, "false"),
        ("_streams_to", 1, "127.0.0.1:19997"),
    ];
    let mut out = Vec::new();
    write_claimed_id(&mut out, "705216b4-ec79-11f1-9d5c-02fc00000001", None);
    for (key, source, value) in labels {
        write_host_label(&mut out, key, value, *source);
    }
    write_overwrite_labels(&mut out);
    check(&out, child_sections()[1]);
}

#[test]
fn chart_definitions_are_the_real_childs() {
    let permanent = label_source::AUTO | label_source::PERMANENT;
    let mut out = Vec::new();
    write_chart(
        &mut out,
        &ChartLine {
            id: "netdata.server_cpu",
            name: "",
            title: "Netdata CPU usage",
            units: "milliseconds/s",
            family: "netdata",
            context: "netdata.server_cpu",
            chart_type: "stacked",
            priority: 130000,
            update_every: 1,
            obsolete: false,
            hidden: false,
            plugin: "netdata",
            module: "stats",
        },
    );
    write_chart_label(&mut out, "_collect_plugin", "netdata", permanent);
    write_chart_label(&mut out, "_collect_module", "stats", permanent);
    write_chart_labels_commit(&mut out);
    for id in ["user", "system"] {
        write_dimension(
            &mut out,
            &DimensionLine {
                id,
                name: id,
                algorithm: "incremental",
                multiplier: 1,
                divisor: 1000,
                obsolete: false,
                hidden: false,
            },
        );
    }
    write_chart_definition_end(&mut out, 1796014273, 1796014274, 1796014274);
    check(&out, &captured_lines("CHART \"netdata.server_cpu\"", 7));

    let mut out = Vec::new();
    write_chart(
        &mut out,
        &ChartLine {
            id: "conf.we ird=id",
            name: "we_ird_name",
            title: "Weird",
            units: "u",
            family: "fam",
            context: "conf.weird",
            chart_type: "line",
            priority: 91003,
            update_every: 1,
            obsolete: false,
            hidden: false,
            plugin: "conform.plugin",
            module: "",
        },
    );
    write_chart_label(&mut out, "_collect_plugin", "conform.plugin", permanent);
    write_chart_label(&mut out, "_collect_module", "[none]", permanent);
    write_chart_labels_commit(&mut out);
    write_dimension(
        &mut out,
        &DimensionLine {
            id: "x;y",
            name: "x~y z",
            algorithm: "absolute",
            multiplier: 1,
            divisor: 1,
            obsolete: false,
            hidden: false,
        },
    );
    write_chart_definition_end(&mut out, 1796014272, 1796014273, 1796014274);
    check(&out, &captured_lines("CHART \"conf.we ird=id\"", 6));
}

#[test]
fn collected_rounds_are_the_real_childs() {
    let mut out = Vec::new();
    write_begin(&mut out, "netdata.server_cpu", Some(500116));
    write_set(&mut out, "user", 24325);
    write_set(&mut out, "system", 19520);
    write_end(&mut out);
    write_begin(&mut out, "netdata.uptime", Some(500146));
    write_set(&mut out, "uptime", 1);
    write_end(&mut out);
    check(
        &out,
        &captured_lines("BEGIN \"netdata.server_cpu\" 500116", 7),
    );
}

#[test]
fn replication_answers_are_the_real_childs() {
    // A chart with no stored point in the range: state only.
    let mut out = Vec::new();
    write_replay_begin_chart(&mut out, "netdata.server_cpu");
    write_replay_dimension_state(&mut out, "user", 1796014274000312, 22207, 0.0, 0.0);
    write_replay_dimension_state(&mut out, "system", 1796014274000312, 13365, 0.0, 0.0);
    write_replay_chart_state(&mut out, 1796014274500000, 1796014274000000);
    write_replay_end(
        &mut out,
        &ReplayEndLine {
            update_every: 1,
            first_entry: 1796014274,
            last_entry: 1796014274,
            start_streaming: true,
            after: 1796014273,
            before: 1796014274,
            wall_clock: 1796014274,
        },
    );
    check(&out, child_sections()[3]);

    // A point with values.
    let mut out = Vec::new();
    write_replay_begin_chart(&mut out, "conf.counters");
    write_replay_begin_point(&mut out, 1796014273, 1796014274, 1796014274);
    write_replay_set(&mut out, "c10", 7.443146);
    write_replay_set(&mut out, "kbits", 5.954516);
    write_replay_dimension_state(&mut out, "c10", 1796014274171760, 20, 2.5568545, 7.4431455);
    write_replay_dimension_state(
        &mut out,
        "kbits",
        1796014274171760,
        2000,
        2.0454836,
        5.9545164,
    );
    write_replay_chart_state(&mut out, 1796014274171759, 1796014274000000);
    write_replay_end(
        &mut out,
        &ReplayEndLine {
            update_every: 1,
            first_entry: 1796014273,
            last_entry: 1796014274,
            start_streaming: true,
            after: 1796014272,
            before: 1796014274,
            wall_clock: 1796014274,
        },
    );
    check(&out, &captured_lines("RBEGIN \"conf.counters\"", 8));
}

/// The chart variables `vartest.one` carries in the capture, in order.
const VARTEST_ONE_VARIABLES: [(&str, f64); 9] = [
    ("my_chart_var", 7.25),
    ("other_chart_var", 3.0),
    ("chart_var.dot", 1.0),
    ("chart_nan", f64::NAN),
    ("chart_inf", f64::INFINITY),
    ("noscope_after_chart", 13.0),
    ("in_begin_var", 8.0),
    ("chart_counter", 2.0),
    ("chart_nan_loop", f64::NAN),
];

#[test]
fn chart_variables_in_a_definition_are_the_real_childs() {
    let permanent = label_source::AUTO | label_source::PERMANENT;
    let mut out = Vec::new();
    write_chart(
        &mut out,
        &ChartLine {
            id: "vartest.one",
            name: "",
            title: "Var test",
            units: "units",
            family: "fam",
            context: "ctx",
            chart_type: "line",
            priority: 1000,
            update_every: 1,
            obsolete: false,
            hidden: false,
            plugin: "vartest.plugin",
            module: "",
        },
    );
    write_chart_label(&mut out, "_collect_plugin", "vartest.plugin", permanent);
    write_chart_label(&mut out, "_collect_module", "[none]", permanent);
    write_chart_labels_commit(&mut out);
    write_dimension(
        &mut out,
        &DimensionLine {
            id: "a",
            name: "a",
            algorithm: "absolute",
            multiplier: 1,
            divisor: 1,
            obsolete: false,
            hidden: false,
        },
    );
    for (name, value) in VARTEST_ONE_VARIABLES {
        write_variable(&mut out, VariableScope::Local, name, value);
    }
    write_chart_definition_end(&mut out, 1796069734, 1796069735, 1796069736);
    check(
        &out,
        &captured_lines_of(VARIABLES, "CHART \"vartest.one\"", 15),
    );
}

#[test]
fn chart_variables_in_a_round_and_host_variables_are_the_real_childs() {
    // A round of a chart whose variables changed: all of them again,
    // after the SET lines, before END.
    let mut out = Vec::new();
    write_begin(&mut out, "vartest.one", Some(1020560));
    write_set(&mut out, "a", 3);
    for (name, value) in VARTEST_ONE_VARIABLES {
        let value = if name == "chart_counter" { 3.0 } else { value };
        write_variable(&mut out, VariableScope::Local, name, value);
    }
    write_end(&mut out);
    check(
        &out,
        &captured_lines_of(VARIABLES, "BEGIN \"vartest.one\" 1020560", 12),
    );

    // Host variables, between charts.
    let mut out = Vec::new();
    write_variable(&mut out, VariableScope::Global, "host_counter", 3.0);
    write_variable(&mut out, VariableScope::Global, "host_nan_loop", f64::NAN);
    check(
        &out,
        &captured_lines_of(VARIABLES, "VARIABLE HOST host_counter = 3.0000000", 2),
    );

    // The other chart, whose only variable never changes: in its
    // definition only.
    let mut out = Vec::new();
    write_dimension(
        &mut out,
        &DimensionLine {
            id: "b",
            name: "b",
            algorithm: "absolute",
            multiplier: 1,
            divisor: 1,
            obsolete: false,
            hidden: false,
        },
    );
    write_variable(&mut out, VariableScope::Local, "two_var", 21.0);
    write_chart_definition_end(&mut out, 1796069734, 1796069735, 1796069735);
    check(&out, &captured_lines_of(VARIABLES, "DIMENSION \"b\"", 3));
    let all = String::from_utf8_lossy(&child_sections_of(VARIABLES).concat()).into_owned();
    assert_eq!(all.matches("VARIABLE CHART two_var").count(), 1);
}
