//! The machine's facts as backhaul reads them (they become the local
//! host's automatic labels, the `NETDATA_*` fields of the `STREAM` request
//! and `/api/v1/info`) against what netdata 1.37's own `system-info.sh`
//! (the Debian package's) prints on this machine: the same values, so a
//! user's series with `send automatic labels = yes` and a parent's view of
//! this child do not change when netdata is swapped for backhaul.
//!
//! Skipped when netdata is not installed, unless
//! `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (set by `.ci/run`).

mod real;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use backhaul::system_facts::SystemFacts;
use real::{run_bounded, REQUIRE_ENV};

const SCRIPT: &str = "/usr/lib/netdata/plugins.d/system-info.sh";

#[test]
fn the_facts_are_system_info_sh_s() {
    if !Path::new(SCRIPT).exists() {
        if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
            panic!("{SCRIPT} not installed, and {REQUIRE_ENV}=1 forbids skipping (run .ci/run)");
        }
        eprintln!("system_facts_real: {SCRIPT} not installed; skipped");
        return;
    }
    let out = run_bounded(Command::new("sh").arg(SCRIPT), Duration::from_secs(60))
        .expect("system-info.sh runs");
    let script: BTreeMap<&str, &str> = out
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("NETDATA_"))
        .collect();
    let facts = SystemFacts::get();
    let ours = facts.stream_request_fields();
    let mut compared = 0;
    for (name, value) in &ours {
        if *name == "NETDATA_PROTOCOL_VERSION" {
            continue;
        }
        // The request's NETDATA_SYSTEM_OS_* are the script's NETDATA_HOST_OS_*.
        let script_name = name.replace("NETDATA_SYSTEM_OS_", "NETDATA_HOST_OS_");
        let expected = script
            .get(script_name.as_str())
            .unwrap_or_else(|| panic!("system-info.sh prints no {script_name}:\n{out}"));
        assert_eq!(value, expected, "{name} (the script's {script_name})");
        compared += 1;
    }
    assert_eq!(compared, 27);

    // The automatic labels are the same facts under netdata's label names.
    let labels: BTreeMap<&str, String> = facts.automatic_labels().into_iter().collect();
    for (label, field) in [
        ("_os_name", "NETDATA_HOST_OS_NAME"),
        ("_os_version", "NETDATA_HOST_OS_VERSION"),
        ("_kernel_version", "NETDATA_SYSTEM_KERNEL_VERSION"),
        ("_system_cores", "NETDATA_SYSTEM_CPU_LOGICAL_CPU_COUNT"),
        ("_system_cpu_freq", "NETDATA_SYSTEM_CPU_FREQ"),
        ("_system_ram_total", "NETDATA_SYSTEM_TOTAL_RAM"),
        ("_system_disk_space", "NETDATA_SYSTEM_TOTAL_DISK_SIZE"),
        ("_architecture", "NETDATA_SYSTEM_ARCHITECTURE"),
        ("_virtualization", "NETDATA_SYSTEM_VIRTUALIZATION"),
        ("_container", "NETDATA_SYSTEM_CONTAINER"),
        ("_container_detection", "NETDATA_SYSTEM_CONTAINER_DETECTION"),
        ("_virt_detection", "NETDATA_SYSTEM_VIRT_DETECTION"),
        ("_is_k8s_node", "NETDATA_HOST_IS_K8S_NODE"),
        ("_cloud_provider_type", "NETDATA_INSTANCE_CLOUD_TYPE"),
    ] {
        assert_eq!(labels[label], script[field], "{label}");
    }
}
