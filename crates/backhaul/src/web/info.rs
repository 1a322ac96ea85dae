//! `/api/v1/info`: the keys of netdata 1.37's answer that backhaul can
//! fill truthfully.
//!
//! Filled: `version` (backhaul's own, `v0.1.0`), `uid` (the machine GUID a
//! netdata left in `[directories] lib`/`registry/netdata.public.unique.id`,
//! when there is one), `mirrored_hosts` and `mirrored_hosts_status` (every
//! host in the store), for the local host the machine's fields in
//! netdata's order (operating system, container, kernel, CPU, memory, disk,
//! virtualization: [`crate::system_facts`]; the cloud fields `unknown`),
//! for a streaming child the same fields from its `STREAM` request's
//! `NETDATA_*` values,
//! `host_labels`,
//! `collectors` (the plugin and module of the host's charts),
//! `stream-enabled` (`[stream] enabled`: this agent streams its host to a
//! parent), `https-enabled`, `web-enabled`, `charts-count` and
//! `metrics-count`, and `false` for the Netdata Cloud flags (backhaul has
//! no cloud link). A child host's info has its machine GUID as `uid`.
//!
//! Left out: `alarms` (no health engine), `functions`, `memory-mode` and
//! the other database settings, `buildinfo`, and the anonymous-statistics
//! keys netdata sends as `null`.

use std::path::Path;

use rrd::Host;
use serde::Serialize;

use super::json::{to_body, Ordered};
use super::routes::Context;

/// The machine GUID a netdata left in `guid_file`
/// (`registry/netdata.public.unique.id` under `[directories] lib`).
pub fn read_machine_guid(guid_file: &Path) -> Option<String> {
    std::fs::read_to_string(guid_file)
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|guid| is_guid(guid))
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[derive(Serialize)]
struct HostStatus {
    guid: Option<String>,
    hostname: String,
    reachable: bool,
    hops: u32,
    claim_id: Option<String>,
    node_id: Option<String>,
}

#[derive(Serialize)]
struct Collector {
    plugin: String,
    module: String,
}

/// The machine's fields, in netdata 1.37's order.
#[derive(Serialize)]
struct System<'a> {
    os_name: &'a str,
    os_id: &'a str,
    os_id_like: &'a str,
    os_version: &'a str,
    os_version_id: &'a str,
    os_detection: &'a str,
    cores_total: String,
    total_disk_space: String,
    cpu_freq: String,
    ram_total: String,
    container_os_name: &'a str,
    container_os_id: &'a str,
    container_os_id_like: &'a str,
    container_os_version: &'a str,
    container_os_version_id: &'a str,
    container_os_detection: &'a str,
    is_k8s_node: &'static str,
    kernel_name: &'a str,
    kernel_version: &'a str,
    architecture: &'a str,
    virtualization: &'a str,
    virt_detection: &'a str,
    container: &'a str,
    container_detection: &'a str,
    cloud_provider_type: &'a str,
    cloud_instance_type: &'a str,
    cloud_instance_region: &'a str,
}

/// A streaming child's machine fields, from what its `STREAM` request said
/// (`NETDATA_SYSTEM_OS_NAME` and the like), as netdata shows a child's.
fn child_system(facts: &[(String, String)]) -> System<'_> {
    let get = |key: &str| -> &str {
        facts
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    };
    let or_unknown = |key: &str| match get(key) {
        "" => "unknown",
        value => value,
    };
    System {
        os_name: get("NETDATA_SYSTEM_OS_NAME"),
        os_id: get("NETDATA_SYSTEM_OS_ID"),
        os_id_like: get("NETDATA_SYSTEM_OS_ID_LIKE"),
        os_version: get("NETDATA_SYSTEM_OS_VERSION"),
        os_version_id: get("NETDATA_SYSTEM_OS_VERSION_ID"),
        os_detection: get("NETDATA_SYSTEM_OS_DETECTION"),
        cores_total: get("NETDATA_SYSTEM_CPU_LOGICAL_CPU_COUNT").to_string(),
        total_disk_space: get("NETDATA_SYSTEM_TOTAL_DISK_SIZE").to_string(),
        cpu_freq: get("NETDATA_SYSTEM_CPU_FREQ").to_string(),
        ram_total: get("NETDATA_SYSTEM_TOTAL_RAM").to_string(),
        container_os_name: get("NETDATA_CONTAINER_OS_NAME"),
        container_os_id: get("NETDATA_CONTAINER_OS_ID"),
        container_os_id_like: get("NETDATA_CONTAINER_OS_ID_LIKE"),
        container_os_version: get("NETDATA_CONTAINER_OS_VERSION"),
        container_os_version_id: get("NETDATA_CONTAINER_OS_VERSION_ID"),
        container_os_detection: get("NETDATA_CONTAINER_OS_DETECTION"),
        is_k8s_node: if get("NETDATA_HOST_IS_K8S_NODE") == "true" {
            "true"
        } else {
            "false"
        },
        kernel_name: get("NETDATA_SYSTEM_KERNEL_NAME"),
        kernel_version: get("NETDATA_SYSTEM_KERNEL_VERSION"),
        architecture: get("NETDATA_SYSTEM_ARCHITECTURE"),
        virtualization: get("NETDATA_SYSTEM_VIRTUALIZATION"),
        virt_detection: get("NETDATA_SYSTEM_VIRT_DETECTION"),
        container: get("NETDATA_SYSTEM_CONTAINER"),
        container_detection: get("NETDATA_SYSTEM_CONTAINER_DETECTION"),
        cloud_provider_type: or_unknown("NETDATA_INSTANCE_CLOUD_TYPE"),
        cloud_instance_type: or_unknown("NETDATA_INSTANCE_CLOUD_INSTANCE_TYPE"),
        cloud_instance_region: or_unknown("NETDATA_INSTANCE_CLOUD_INSTANCE_REGION"),
    }
}

#[derive(Serialize)]
struct Info<'a> {
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<&'a str>,
    mirrored_hosts: Vec<String>,
    mirrored_hosts_status: Vec<HostStatus>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    system: Option<System<'a>>,
    host_labels: Ordered<String>,
    collectors: Vec<Collector>,
    #[serde(rename = "cloud-enabled")]
    cloud_enabled: bool,
    #[serde(rename = "cloud-available")]
    cloud_available: bool,
    #[serde(rename = "agent-claimed")]
    agent_claimed: bool,
    #[serde(rename = "aclk-available")]
    aclk_available: bool,
    #[serde(rename = "stream-enabled")]
    stream_enabled: bool,
    #[serde(rename = "https-enabled")]
    https_enabled: bool,
    #[serde(rename = "web-enabled")]
    web_enabled: bool,
    #[serde(rename = "charts-count")]
    charts_count: usize,
    #[serde(rename = "metrics-count")]
    metrics_count: usize,
}

/// The `/api/v1/info` body for `host` (the local host's also tells about
/// the machine).
pub fn render(ctx: &Context, host: &Host) -> Vec<u8> {
    let local = std::ptr::eq(host, ctx.store.localhost().as_ref());
    let facts = ctx.facts;
    let hosts = ctx.store.hosts();
    let local_guid = ctx.machine_guid.as_deref();
    let child_facts = host.system_info();
    let mut collectors: Vec<(String, String)> = Vec::new();
    let mut charts_count = 0;
    let mut metrics_count = 0;
    for chart in host.charts() {
        let state = chart.read();
        if state.is_obsolete() {
            continue;
        }
        charts_count += 1;
        metrics_count += state.dimensions().len();
        let def = state.def();
        if def.plugin.is_empty() {
            continue;
        }
        if !collectors
            .iter()
            .any(|(p, m)| *p == def.plugin && *m == def.module)
        {
            collectors.push((def.plugin.clone(), def.module.clone()));
        }
    }
    let info = Info {
        version: format!("v{}", env!("CARGO_PKG_VERSION")),
        uid: if local {
            local_guid
        } else {
            host.machine_guid()
        },
        mirrored_hosts: hosts.iter().map(|h| h.hostname().to_string()).collect(),
        mirrored_hosts_status: hosts
            .iter()
            .map(|h| {
                let is_local = std::ptr::eq(h.as_ref(), ctx.store.localhost().as_ref());
                HostStatus {
                    guid: if is_local {
                        local_guid.map(str::to_string)
                    } else {
                        h.machine_guid().map(str::to_string)
                    },
                    hostname: h.hostname().to_string(),
                    reachable: is_local || h.is_reachable(),
                    hops: if is_local { 0 } else { h.hops().max(1) },
                    claim_id: None,
                    node_id: None,
                }
            })
            .collect(),
        system: if !local {
            (!child_facts.is_empty()).then(|| child_system(&child_facts))
        } else {
            Some(System {
                os_name: &facts.host_os.name,
                os_id: &facts.host_os.id,
                os_id_like: &facts.host_os.id_like,
                os_version: &facts.host_os.version,
                os_version_id: &facts.host_os.version_id,
                os_detection: &facts.host_os.detection,
                cores_total: facts.cores_text(),
                total_disk_space: facts.disk_space_text(),
                cpu_freq: facts.cpu_freq_text(),
                ram_total: facts.ram_total_text(),
                container_os_name: &facts.container_os.name,
                container_os_id: &facts.container_os.id,
                container_os_id_like: &facts.container_os.id_like,
                container_os_version: &facts.container_os.version,
                container_os_version_id: &facts.container_os.version_id,
                container_os_detection: &facts.container_os.detection,
                is_k8s_node: if facts.is_k8s_node { "true" } else { "false" },
                kernel_name: &facts.kernel.name,
                kernel_version: &facts.kernel.release,
                architecture: &facts.kernel.machine,
                virtualization: &facts.virtualization,
                virt_detection: &facts.virt_detection,
                container: &facts.container,
                container_detection: &facts.container_detection,
                cloud_provider_type: "unknown",
                cloud_instance_type: "unknown",
                cloud_instance_region: "unknown",
            })
        },
        host_labels: Ordered(
            host.labels()
                .iter()
                .map(|l| (l.key.clone(), l.value.clone()))
                .collect(),
        ),
        collectors: collectors
            .into_iter()
            .map(|(plugin, module)| Collector { plugin, module })
            .collect(),
        cloud_enabled: false,
        cloud_available: false,
        agent_claimed: false,
        aclk_available: false,
        stream_enabled: ctx.stream_enabled,
        https_enabled: ctx.tls_enabled,
        web_enabled: true,
        charts_count,
        metrics_count,
    };
    to_body(&info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_guids() {
        assert!(is_guid("e64ea9c6-e982-11f1-b53c-02fc00000001"));
        assert!(!is_guid("e64ea9c6-e982-11f1-b53c-02fc0000000"));
        assert!(!is_guid("e64ea9c6xe982-11f1-b53c-02fc00000001"));
        assert_eq!(read_machine_guid(Path::new("/nonexistent")), None);
    }
}
