//! `/api/v1/info`: the keys of netdata 1.37's answer that backhaul can
//! fill truthfully.
//!
//! Filled: `version` (backhaul's own, `v0.1.0`), `uid` (the machine GUID a
//! netdata left in `[directories] lib`/`registry/netdata.public.unique.id`,
//! when there is one), `mirrored_hosts` and `mirrored_hosts_status` (every
//! host in the store), for the local host the operating system from
//! `/etc/os-release` (`unknown` where it says nothing, as netdata does), the
//! kernel's name, release and architecture (`uname`), `cores_total`
//! (`/proc/stat`) and `ram_total` (`/proc/meminfo`), `host_labels`,
//! `collectors` (the plugin and module of the host's charts),
//! `https-enabled`, `web-enabled`, `charts-count` and `metrics-count`, and
//! `false` for the Netdata Cloud and streaming flags (backhaul has neither).
//!
//! Left out: `alarms` (no health engine), `functions`, disk space, CPU
//! frequency, virtualization and container detection, `memory-mode` and
//! the other database settings, `buildinfo`, and the anonymous-statistics
//! keys netdata sends as `null`.

use std::path::Path;

use rrd::Host;
use serde::Serialize;

use super::json::{to_body, Ordered};
use super::routes::Context;
use crate::sys::KernelNames;

/// What the machine is, read once when the server starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemFacts {
    pub machine_guid: Option<String>,
    pub os: OsRelease,
    pub kernel: KernelNames,
    pub cores: Option<usize>,
    pub ram_total: Option<u64>,
}

/// The `/etc/os-release` fields netdata reports, `unknown` when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsRelease {
    pub name: String,
    pub id: String,
    pub id_like: String,
    pub version: String,
    pub version_id: String,
    /// Where they came from: `/etc/os-release`, or `unknown`.
    pub detection: String,
}

const UNKNOWN: &str = "unknown";

impl SystemFacts {
    /// Reads the facts under `root` (`/` in the agent) and the machine
    /// GUID from `guid_file`.
    pub fn detect(root: &Path, guid_file: &Path) -> SystemFacts {
        let read = |path: &str| std::fs::read_to_string(root.join(path)).ok();
        SystemFacts {
            machine_guid: std::fs::read_to_string(guid_file)
                .ok()
                .map(|text| text.trim().to_string())
                .filter(|guid| is_guid(guid)),
            os: read("etc/os-release")
                .or_else(|| read("usr/lib/os-release"))
                .map_or_else(OsRelease::unknown, |text| OsRelease::parse(&text)),
            kernel: crate::sys::kernel_names(),
            cores: read("proc/stat")
                .map(|text| count_cpus(&text))
                .filter(|&n| n > 0),
            ram_total: read("proc/meminfo").and_then(|text| mem_total(&text)),
        }
    }
}

impl OsRelease {
    fn unknown() -> OsRelease {
        OsRelease {
            name: UNKNOWN.to_string(),
            id: UNKNOWN.to_string(),
            id_like: UNKNOWN.to_string(),
            version: UNKNOWN.to_string(),
            version_id: UNKNOWN.to_string(),
            detection: UNKNOWN.to_string(),
        }
    }

    /// Reads `KEY=value` lines (values optionally quoted).
    pub fn parse(text: &str) -> OsRelease {
        let mut os = OsRelease::unknown();
        os.detection = "/etc/os-release".to_string();
        for line in text.lines() {
            let Some((key, value)) = line.trim().split_once('=') else {
                continue;
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            if value.is_empty() {
                continue;
            }
            let field = match key {
                "NAME" => &mut os.name,
                "ID" => &mut os.id,
                "ID_LIKE" => &mut os.id_like,
                "VERSION" => &mut os.version,
                "VERSION_ID" => &mut os.version_id,
                _ => continue,
            };
            *field = value.to_string();
        }
        os
    }
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The `cpuN` lines of `/proc/stat`.
fn count_cpus(stat: &str) -> usize {
    stat.lines()
        .filter(|line| {
            line.strip_prefix("cpu")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count()
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
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

#[derive(Serialize)]
struct System<'a> {
    os_name: &'a str,
    os_id: &'a str,
    os_id_like: &'a str,
    os_version: &'a str,
    os_version_id: &'a str,
    os_detection: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cores_total: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ram_total: Option<String>,
    kernel_name: &'a str,
    kernel_version: &'a str,
    architecture: &'a str,
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
    let facts = &ctx.facts;
    let hosts = ctx.store.hosts();
    let local_guid = facts.machine_guid.as_deref();
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
        uid: if local { local_guid } else { None },
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
                    hops: u32::from(!is_local),
                    claim_id: None,
                    node_id: None,
                }
            })
            .collect(),
        system: local.then(|| System {
            os_name: &facts.os.name,
            os_id: &facts.os.id,
            os_id_like: &facts.os.id_like,
            os_version: &facts.os.version,
            os_version_id: &facts.os.version_id,
            os_detection: &facts.os.detection,
            cores_total: facts.cores.map(|n| n.to_string()),
            ram_total: facts.ram_total.map(|n| n.to_string()),
            kernel_name: &facts.kernel.name,
            kernel_version: &facts.kernel.release,
            architecture: &facts.kernel.machine,
        }),
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
        stream_enabled: false,
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
    fn os_release_fields() {
        let os = OsRelease::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION='12 (bookworm)'\nID=debian\nID_LIKE=\n",
        );
        assert_eq!(os.name, "Debian GNU/Linux");
        assert_eq!(os.id, "debian");
        assert_eq!(os.id_like, "unknown");
        assert_eq!(os.version, "12 (bookworm)");
        assert_eq!(os.version_id, "12");
        assert_eq!(os.detection, "/etc/os-release");
    }

    #[test]
    fn machine_facts() {
        assert!(is_guid("e64ea9c6-e982-11f1-b53c-02fc00000001"));
        assert!(!is_guid("e64ea9c6-e982-11f1-b53c-02fc0000000"));
        assert!(!is_guid("e64ea9c6xe982-11f1-b53c-02fc00000001"));
        assert_eq!(
            count_cpus("cpu  1 2 3\ncpu0 1 2\ncpu1 3 4\ncpufreq x\nintr 5\n"),
            2
        );
        assert_eq!(
            mem_total("MemTotal:       24731708 kB\nMemFree: 1 kB\n"),
            Some(24_731_708 * 1024)
        );
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }
}
