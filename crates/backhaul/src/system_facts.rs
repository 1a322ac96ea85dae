//! What this machine is: the facts netdata 1.37 learns from its
//! `system-info.sh` (operating system, container, virtualization, CPU,
//! memory, disk) and its time zone, read natively, once per process.
//!
//! They go three ways, as in netdata: the local host's automatic labels
//! (`_os_name`, `_kernel_version`, `_system_cores`, ... see
//! [`crate::agent::host_labels`]), the `NETDATA_*` fields and time zone of
//! the `STREAM` request a child sends its parent, and `/api/v1/info`.
//!
//! The rules are `system-info.sh`'s for Linux, so the values (and with
//! them the label values a user's series carry) are the same:
//!
//! * virtualization and container from `systemd-detect-virt -v` / `-c`
//!   when it is installed, then the container heuristics (`/.dockerenv`,
//!   the `container` environment variable, PID 1 being the agent);
//! * the OS from `/etc/os-release`; inside a container that is the
//!   container's OS, and the host's comes from `/host/etc/os-release`
//!   when mounted, else `unknown`;
//! * logical CPUs from `/sys/devices/system/cpu/cpuN`; the CPU frequency
//!   from `cpufreq/base_frequency`, else lscpu's `CPU max MHz`
//!   (`cpuinfo_max_freq`) or the model name's `GHz`, else `/proc/cpuinfo`'s
//!   `cpu MHz` (printed as mawk prints it: `2.596e+09` past 2³¹−1);
//! * RAM from `MemTotal`; disk space summed over the non-removable block
//!   devices whose major number belongs to a disk driver in
//!   `/proc/devices`.
//!
//! Not looked up: cloud instance metadata (netdata asks the link-local
//! metadata service; backhaul reports `unknown`, as netdata does off a
//! cloud), and the `lsb-release`, `lscpu` and `dmidecode` fallbacks.

use std::path::Path;
use std::sync::OnceLock;

use crate::sys::KernelNames;

const UNKNOWN: &str = "unknown";

/// The machine's facts, in netdata's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemFacts {
    /// The host's operating system (`NETDATA_SYSTEM_OS_*`, `_os_name`).
    pub host_os: OsRelease,
    /// The container's operating system when the agent runs in one, else
    /// every field `none` (`NETDATA_CONTAINER_OS_*`).
    pub container_os: OsRelease,
    pub kernel: KernelNames,
    /// `kvm`, `none`, `unknown`, ...
    pub virtualization: String,
    /// How: `systemd-detect-virt` or `none`.
    pub virt_detection: String,
    /// `docker`, `lxc`, `container`, `none`, `unknown`.
    pub container: String,
    /// How: `systemd-detect-virt`, `dockerenv`, `containerenv`, `process`,
    /// `none`.
    pub container_detection: String,
    pub is_k8s_node: bool,
    /// Logical CPUs.
    pub cores: Option<usize>,
    /// Hz, already written as netdata writes it.
    pub cpu_freq: Option<String>,
    /// Bytes.
    pub ram_total: Option<u64>,
    /// Bytes, all disks.
    pub disk_space: Option<u64>,
    pub time_zone: LocalTimeZone,
}

/// The `/etc/os-release` fields netdata reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsRelease {
    pub name: String,
    pub id: String,
    pub id_like: String,
    pub version: String,
    pub version_id: String,
    /// Where they came from: `/etc/os-release`, `/host/etc/os-release`,
    /// `unknown`, or `none` (no container).
    pub detection: String,
}

/// The time zone a child names in its `STREAM` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTimeZone {
    /// `Etc/UTC`, `Europe/Berlin`.
    pub name: String,
    /// `UTC`, `CET`.
    pub abbreviation: String,
    /// Seconds east of UTC, now.
    pub utc_offset: i32,
}

/// Where [`SystemFacts::detect`] reads from: a file system root and
/// answers the caller gives (so tests can set them).
pub struct FactSources<'a> {
    /// `/` for the machine; the files are read below it.
    pub root: &'a Path,
    /// `systemd-detect-virt -v` and `-c`, when the command exists.
    pub detect_virt: Option<(String, String)>,
    /// An environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub kernel: KernelNames,
    pub time_zone: LocalTimeZone,
}

impl SystemFacts {
    /// This machine's facts, detected on first use.
    pub fn get() -> &'static SystemFacts {
        static FACTS: OnceLock<SystemFacts> = OnceLock::new();
        FACTS.get_or_init(|| {
            let env = |name: &str| std::env::var(name).ok();
            SystemFacts::detect(&FactSources {
                root: Path::new("/"),
                detect_virt: run_systemd_detect_virt(),
                env: &env,
                kernel: crate::sys::kernel_names(),
                time_zone: LocalTimeZone::detect(Path::new("/"), &env),
            })
        })
    }

    /// Reads the facts from `sources`.
    pub fn detect(sources: &FactSources<'_>) -> SystemFacts {
        let root = sources.root;
        let read = |path: &str| std::fs::read_to_string(root.join(path)).ok();
        let exists = |path: &str| root.join(path).exists();

        let (mut virtualization, mut virt_detection) = (UNKNOWN.to_string(), "none".to_string());
        let (mut container, mut container_detection) = (UNKNOWN.to_string(), "none".to_string());
        if let Some((virt, cont)) = &sources.detect_virt {
            virtualization = normalize_virtualization(virt.trim());
            virt_detection = "systemd-detect-virt".into();
            if !cont.trim().is_empty() {
                container = cont.trim().to_string();
            }
            container_detection = "systemd-detect-virt".into();
        }
        if container == UNKNOWN {
            let pid1 = read("proc/1/sched").unwrap_or_default();
            let pid1 = pid1.split(['(', ',', ' ']).next().unwrap_or("");
            if pid1 == "netdata" || pid1 == "backhaul" {
                (container, container_detection) = ("container".into(), "process".into());
            }
            if (sources.env)("container").is_some_and(|v| !v.is_empty()) {
                (container, container_detection) = ("lxc".into(), "containerenv".into());
            }
            if exists(".dockerenv") {
                (container, container_detection) = ("docker".into(), "dockerenv".into());
            }
        }

        let local_os = read("etc/os-release").map_or_else(
            || OsRelease::filled(UNKNOWN),
            |text| OsRelease::parse(&text, "/etc/os-release"),
        );
        let (host_os, container_os) = if container == UNKNOWN || container == "none" {
            (local_os, OsRelease::filled("none"))
        } else {
            let host = read("host/etc/os-release").map_or_else(
                || OsRelease::filled(UNKNOWN),
                |text| OsRelease::parse(&text, "/host/etc/os-release"),
            );
            (host, local_os)
        };

        let k8s_env = |name| (sources.env)(name).is_some_and(|v| !v.is_empty());
        let is_k8s_node = (k8s_env("KUBERNETES_SERVICE_HOST")
            && k8s_env("KUBERNETES_SERVICE_PORT"))
            || process_named(root, "kubelet");

        SystemFacts {
            host_os,
            container_os,
            kernel: sources.kernel.clone(),
            virtualization,
            virt_detection,
            container,
            container_detection,
            is_k8s_node,
            cores: count_sysfs_cpus(root)
                .or_else(|| read("proc/stat").map(|t| count_stat_cpus(&t)))
                .filter(|&n| n > 0),
            cpu_freq: cpu_frequency(root),
            ram_total: read("proc/meminfo").and_then(|t| mem_total(&t)),
            disk_space: disk_space(root),
            time_zone: sources.time_zone.clone(),
        }
    }

    /// The `NETDATA_*` fields of a child's `STREAM` request, in netdata
    /// 1.37.1's order (`NETDATA_PROTOCOL_VERSION` last).
    pub fn stream_request_fields(&self) -> Vec<(&'static str, String)> {
        let host = &self.host_os;
        let cont = &self.container_os;
        vec![
            ("NETDATA_INSTANCE_CLOUD_TYPE", UNKNOWN.into()),
            ("NETDATA_INSTANCE_CLOUD_INSTANCE_TYPE", UNKNOWN.into()),
            ("NETDATA_INSTANCE_CLOUD_INSTANCE_REGION", UNKNOWN.into()),
            ("NETDATA_SYSTEM_OS_NAME", host.name.clone()),
            ("NETDATA_SYSTEM_OS_ID", host.id.clone()),
            ("NETDATA_SYSTEM_OS_ID_LIKE", host.id_like.clone()),
            ("NETDATA_SYSTEM_OS_VERSION", host.version.clone()),
            ("NETDATA_SYSTEM_OS_VERSION_ID", host.version_id.clone()),
            ("NETDATA_SYSTEM_OS_DETECTION", host.detection.clone()),
            ("NETDATA_HOST_IS_K8S_NODE", self.is_k8s_node.to_string()),
            ("NETDATA_SYSTEM_KERNEL_NAME", self.kernel.name.clone()),
            ("NETDATA_SYSTEM_KERNEL_VERSION", self.kernel.release.clone()),
            ("NETDATA_SYSTEM_ARCHITECTURE", self.kernel.machine.clone()),
            ("NETDATA_SYSTEM_VIRTUALIZATION", self.virtualization.clone()),
            ("NETDATA_SYSTEM_VIRT_DETECTION", self.virt_detection.clone()),
            ("NETDATA_SYSTEM_CONTAINER", self.container.clone()),
            (
                "NETDATA_SYSTEM_CONTAINER_DETECTION",
                self.container_detection.clone(),
            ),
            ("NETDATA_CONTAINER_OS_NAME", cont.name.clone()),
            ("NETDATA_CONTAINER_OS_ID", cont.id.clone()),
            ("NETDATA_CONTAINER_OS_ID_LIKE", cont.id_like.clone()),
            ("NETDATA_CONTAINER_OS_VERSION", cont.version.clone()),
            ("NETDATA_CONTAINER_OS_VERSION_ID", cont.version_id.clone()),
            ("NETDATA_CONTAINER_OS_DETECTION", cont.detection.clone()),
            ("NETDATA_SYSTEM_CPU_LOGICAL_CPU_COUNT", self.cores_text()),
            ("NETDATA_SYSTEM_CPU_FREQ", self.cpu_freq_text()),
            ("NETDATA_SYSTEM_TOTAL_RAM", self.ram_total_text()),
            ("NETDATA_SYSTEM_TOTAL_DISK_SIZE", self.disk_space_text()),
            ("NETDATA_PROTOCOL_VERSION", "1.1".into()),
        ]
    }

    /// The automatic host labels netdata 1.37 makes from these facts, in
    /// its order (`_cloud_provider_type` ... `_aclk_available`).
    pub fn automatic_labels(&self) -> Vec<(&'static str, String)> {
        vec![
            ("_cloud_provider_type", UNKNOWN.into()),
            ("_cloud_instance_type", UNKNOWN.into()),
            ("_cloud_instance_region", UNKNOWN.into()),
            ("_os_name", self.host_os.name.clone()),
            ("_os_version", self.host_os.version.clone()),
            ("_kernel_version", self.kernel.release.clone()),
            ("_system_cores", self.cores_text()),
            ("_system_cpu_freq", self.cpu_freq_text()),
            ("_system_ram_total", self.ram_total_text()),
            ("_system_disk_space", self.disk_space_text()),
            ("_architecture", self.kernel.machine.clone()),
            ("_virtualization", self.virtualization.clone()),
            ("_container", self.container.clone()),
            ("_container_detection", self.container_detection.clone()),
            ("_virt_detection", self.virt_detection.clone()),
            ("_is_k8s_node", self.is_k8s_node.to_string()),
            ("_aclk_available", "false".into()),
        ]
    }

    pub fn cores_text(&self) -> String {
        self.cores.map_or_else(|| UNKNOWN.into(), |n| n.to_string())
    }

    pub fn cpu_freq_text(&self) -> String {
        self.cpu_freq.clone().unwrap_or_else(|| UNKNOWN.into())
    }

    pub fn ram_total_text(&self) -> String {
        self.ram_total
            .map_or_else(|| UNKNOWN.into(), |n| n.to_string())
    }

    pub fn disk_space_text(&self) -> String {
        self.disk_space
            .map_or_else(|| UNKNOWN.into(), |n| n.to_string())
    }
}

impl OsRelease {
    /// Every field `value` (`unknown`, or `none` outside a container).
    pub fn filled(value: &str) -> OsRelease {
        OsRelease {
            name: value.into(),
            id: value.into(),
            id_like: value.into(),
            version: value.into(),
            version_id: value.into(),
            detection: value.into(),
        }
    }

    /// Reads the `NAME`, `ID`, `ID_LIKE`, `VERSION` and `VERSION_ID` lines
    /// of an os-release file (values optionally quoted); a key that is
    /// absent stays `unknown`, one that is empty is empty (as the shell
    /// script's `eval` leaves it).
    pub fn parse(text: &str, detection: &str) -> OsRelease {
        let mut os = OsRelease::filled(UNKNOWN);
        os.detection = detection.into();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let field = match key {
                "NAME" => &mut os.name,
                "ID" => &mut os.id,
                "ID_LIKE" => &mut os.id_like,
                "VERSION" => &mut os.version,
                "VERSION_ID" => &mut os.version_id,
                _ => continue,
            };
            *field = unquote(value.trim_end());
        }
        os
    }
}

impl LocalTimeZone {
    /// netdata's order: a `TZ` variable that names a zone, then
    /// `/etc/timezone`, then where `/etc/localtime` links below
    /// `zoneinfo/`; the abbreviation and offset are the zone's now.
    pub fn detect(root: &Path, env: &dyn Fn(&str) -> Option<String>) -> LocalTimeZone {
        let zone = jiff::tz::TimeZone::system();
        let info = zone.to_offset_info(jiff::Timestamp::now());
        let abbreviation = info.abbreviation().to_string();
        let name = env("TZ")
            .filter(|tz| !tz.is_empty() && !tz.starts_with(':'))
            .or_else(|| {
                std::fs::read_to_string(root.join("etc/timezone"))
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
            })
            .or_else(|| {
                let link = std::fs::read_link(root.join("etc/localtime")).ok()?;
                let link = link.to_string_lossy();
                let (_, zone) = link.split_once("zoneinfo/")?;
                Some(zone.to_string())
            })
            .or_else(|| zone.iana_name().map(str::to_string))
            .unwrap_or_else(|| abbreviation.clone());
        LocalTimeZone {
            name,
            abbreviation,
            utc_offset: info.offset().seconds(),
        }
    }
}

/// `systemd-detect-virt -v` and `-c`, when the command runs.
fn run_systemd_detect_virt() -> Option<(String, String)> {
    let run = |flag: &str| {
        std::process::Command::new("systemd-detect-virt")
            .arg(flag)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    Some((run("-v")?, run("-c")?))
}

/// The script's names for two virtualizations lscpu spells out; the rest
/// lower-cased, spaces as dashes (`none` and `unknown` as they are).
fn normalize_virtualization(name: &str) -> String {
    match name {
        "" => UNKNOWN.into(),
        "none" | "unknown" => name.into(),
        "User-mode Linux" => "uml".into(),
        "Windows Subsystem for Linux" => "wsl".into(),
        other => other.to_lowercase().replace(' ', "-"),
    }
}

/// A shell word's value: `"..."` or `'...'` unquoted, `\x` as `x` inside
/// double quotes and bare words.
fn unquote(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push(c),
            (_, '\\') => out.extend(chars.next()),
            (_, c) => out.push(c),
        }
    }
    out
}

/// `/proc/PID/comm` of some process is `name`.
fn process_named(root: &Path, name: &str) -> bool {
    let Ok(dir) = std::fs::read_dir(root.join("proc")) else {
        return false;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .any(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
}

/// The `cpuN` folders of `/sys/devices/system/cpu`.
fn count_sysfs_cpus(root: &Path) -> Option<usize> {
    let dir = std::fs::read_dir(root.join("sys/devices/system/cpu")).ok()?;
    let n = dir
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("cpu")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    (n > 0).then_some(n)
}

/// The `cpuN` lines of `/proc/stat`.
fn count_stat_cpus(stat: &str) -> usize {
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

/// The CPU frequency in Hz, by the script's rules (see the module docs).
fn cpu_frequency(root: &Path) -> Option<String> {
    let read_u64 =
        |path: &Path| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    let cpu = root.join("sys/devices/system/cpu");
    if let Some(khz) = read_u64(&cpu.join("cpu0/cpufreq/base_frequency")) {
        return Some(khz.saturating_mul(1000).to_string());
    }
    // lscpu's `CPU max MHz`: the largest cpuinfo_max_freq, whole MHz.
    let max_khz = std::fs::read_dir(&cpu)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| read_u64(&e.path().join("cpufreq/cpuinfo_max_freq")))
        .max();
    if let Some(khz) = max_khz {
        return Some((khz / 1000).saturating_mul(1_000_000).to_string());
    }
    let cpuinfo = std::fs::read_to_string(root.join("proc/cpuinfo")).ok()?;
    // lscpu's model name with a `GHz` figure: whole MHz.
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim());
    if let Some(mhz) = model.and_then(model_name_mhz) {
        return Some(mhz.saturating_mul(1_000_000).to_string());
    }
    // `cpu MHz` of /proc/cpuinfo: its first digits, times a million, as
    // mawk prints a number.
    let line = cpuinfo.lines().find(|l| l.contains("cpu MHz"))?;
    let digits: String = line
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    let mhz: u64 = digits.parse().ok()?;
    Some(mawk_integer(mhz.saturating_mul(1_000_000)))
}

/// `... @ 2.40GHz` → 2400 (MHz).
fn model_name_mhz(model: &str) -> Option<u64> {
    let at = model.find("GHz")?;
    let start = model[..at]
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |i| i + 1);
    let ghz: f64 = model[start..at].parse().ok()?;
    Some((ghz * 1000.0) as u64)
}

/// A whole number as mawk's `print` writes it: digits up to 2³¹−1, else
/// `%.6g` (`2596000000` → `2.596e+09`).
fn mawk_integer(value: u64) -> String {
    if value <= i32::MAX as u64 {
        return value.to_string();
    }
    let text = format!("{:.5e}", value as f64);
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    let exponent: i32 = exponent.parse().unwrap_or(0);
    format!("{mantissa}e+{exponent:02}")
}

/// The disk drivers `system-info.sh` counts, by their `/proc/devices` names.
const DISK_DRIVERS: [&str; 17] = [
    "hd", "sd", "mfm", "ad", "ftl", "pd", "nftl", "dasd", "intfl", "mmcblk", "ub", "xvd", "rfd",
    "vbd", "nvme", "virtblk", "blkext",
];

/// Bytes of every non-removable block device of a disk driver.
fn disk_space(root: &Path) -> Option<u64> {
    let devices = std::fs::read_to_string(root.join("proc/devices")).ok()?;
    let majors: Vec<&str> = devices
        .lines()
        .filter_map(|l| l.trim().split_once(' '))
        .filter(|(_, name)| DISK_DRIVERS.contains(name))
        .map(|(major, _)| major)
        .collect();
    let blocks = std::fs::read_dir(root.join("sys/block")).ok()?;
    let mut total: u64 = 0;
    for block in blocks.flatten() {
        let path = block.path();
        let read = |name: &str| std::fs::read_to_string(path.join(name)).ok();
        let (Some(size), Some(dev)) = (read("size"), read("dev")) else {
            continue;
        };
        let major = dev.trim().split(':').next().unwrap_or("");
        if !majors.contains(&major) || read("removable").is_some_and(|r| r.contains('1')) {
            continue;
        }
        if let Ok(sectors) = size.trim().parse::<u64>() {
            total = total.saturating_add(sectors.saturating_mul(512));
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn kernel() -> KernelNames {
        KernelNames {
            name: "Linux".into(),
            release: "6.1.0-13-amd64".into(),
            machine: "x86_64".into(),
        }
    }

    fn utc() -> LocalTimeZone {
        LocalTimeZone {
            name: "Etc/UTC".into(),
            abbreviation: "UTC".into(),
            utc_offset: 0,
        }
    }

    const DEBIAN: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION='12 (bookworm)'\nID=debian\n";

    fn facts(root: &Path, virt: Option<(&str, &str)>, env: &[(&str, &str)]) -> SystemFacts {
        let env = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        SystemFacts::detect(&FactSources {
            root,
            detect_virt: virt.map(|(v, c)| (v.to_string(), c.to_string())),
            env: &env,
            kernel: kernel(),
            time_zone: utc(),
        })
    }

    /// A machine like this project's: a KVM guest, in docker, a virtio disk.
    fn machine(root: &Path) {
        write(root, "etc/os-release", DEBIAN);
        write(
            root,
            "proc/meminfo",
            "MemTotal:       24683652 kB\nMemFree: 1 kB\n",
        );
        write(
            root,
            "proc/cpuinfo",
            "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2596.146\n",
        );
        write(root, "sys/devices/system/cpu/cpu0/online", "1");
        write(root, "sys/devices/system/cpu/cpu1/online", "1");
        write(root, "sys/devices/system/cpu/cpuidle/x", "");
        write(
            root,
            "proc/devices",
            "Character devices:\n  1 mem\n\nBlock devices:\n  7 loop\n253 zram\n254 virtblk\n259 blkext\n",
        );
        for (name, dev, size, removable) in [
            ("vda", "254:0", "536870912", "0"),
            ("loop0", "7:0", "1000", "0"),
            ("zram0", "253:0", "1000", "0"),
            ("vdb", "254:16", "1000", "1"),
        ] {
            write(root, &format!("sys/block/{name}/dev"), &format!("{dev}\n"));
            write(
                root,
                &format!("sys/block/{name}/size"),
                &format!("{size}\n"),
            );
            write(
                root,
                &format!("sys/block/{name}/removable"),
                &format!("{removable}\n"),
            );
        }
    }

    #[test]
    fn a_kvm_guest_in_docker_as_system_info_sh_reports_it() {
        let dir = tempdir();
        machine(dir.path());
        let f = facts(dir.path(), Some(("kvm", "docker")), &[]);
        assert_eq!(f.virtualization, "kvm");
        assert_eq!(f.virt_detection, "systemd-detect-virt");
        assert_eq!(
            (f.container.as_str(), f.container_detection.as_str()),
            ("docker", "systemd-detect-virt")
        );
        assert_eq!(f.host_os, OsRelease::filled("unknown"));
        assert_eq!(f.container_os.name, "Debian GNU/Linux");
        assert_eq!(f.container_os.id_like, "unknown");
        assert_eq!(f.container_os.version, "12 (bookworm)");
        assert_eq!(f.cores, Some(2));
        assert_eq!(f.cpu_freq.as_deref(), Some("2.596e+09"));
        assert_eq!(f.ram_total, Some(25_276_059_648));
        assert_eq!(f.disk_space, Some(274_877_906_944));
        assert!(!f.is_k8s_node);
        let fields = f.stream_request_fields();
        let joined: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            joined.join("&"),
            "NETDATA_INSTANCE_CLOUD_TYPE=unknown&NETDATA_INSTANCE_CLOUD_INSTANCE_TYPE=unknown&NETDATA_INSTANCE_CLOUD_INSTANCE_REGION=unknown&NETDATA_SYSTEM_OS_NAME=unknown&NETDATA_SYSTEM_OS_ID=unknown&NETDATA_SYSTEM_OS_ID_LIKE=unknown&NETDATA_SYSTEM_OS_VERSION=unknown&NETDATA_SYSTEM_OS_VERSION_ID=unknown&NETDATA_SYSTEM_OS_DETECTION=unknown&NETDATA_HOST_IS_K8S_NODE=false&NETDATA_SYSTEM_KERNEL_NAME=Linux&NETDATA_SYSTEM_KERNEL_VERSION=6.1.0-13-amd64&NETDATA_SYSTEM_ARCHITECTURE=x86_64&NETDATA_SYSTEM_VIRTUALIZATION=kvm&NETDATA_SYSTEM_VIRT_DETECTION=systemd-detect-virt&NETDATA_SYSTEM_CONTAINER=docker&NETDATA_SYSTEM_CONTAINER_DETECTION=systemd-detect-virt&NETDATA_CONTAINER_OS_NAME=Debian GNU/Linux&NETDATA_CONTAINER_OS_ID=debian&NETDATA_CONTAINER_OS_ID_LIKE=unknown&NETDATA_CONTAINER_OS_VERSION=12 (bookworm)&NETDATA_CONTAINER_OS_VERSION_ID=12&NETDATA_CONTAINER_OS_DETECTION=/etc/os-release&NETDATA_SYSTEM_CPU_LOGICAL_CPU_COUNT=2&NETDATA_SYSTEM_CPU_FREQ=2.596e+09&NETDATA_SYSTEM_TOTAL_RAM=25276059648&NETDATA_SYSTEM_TOTAL_DISK_SIZE=274877906944&NETDATA_PROTOCOL_VERSION=1.1"
        );
    }

    #[test]
    fn bare_metal_reports_the_os_as_the_hosts_and_none_for_the_container() {
        let dir = tempdir();
        machine(dir.path());
        write(
            dir.path(),
            "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
            "3500000\n",
        );
        write(
            dir.path(),
            "sys/devices/system/cpu/cpu1/cpufreq/cpuinfo_max_freq",
            "3700123\n",
        );
        let f = facts(dir.path(), Some(("none", "none")), &[]);
        assert_eq!(f.virtualization, "none");
        assert_eq!(f.container, "none");
        assert_eq!(f.host_os.name, "Debian GNU/Linux");
        assert_eq!(f.host_os.detection, "/etc/os-release");
        assert_eq!(f.container_os, OsRelease::filled("none"));
        assert_eq!(f.cpu_freq.as_deref(), Some("3700000000"));
        let labels = f.automatic_labels();
        assert_eq!(labels[3], ("_os_name", "Debian GNU/Linux".to_string()));
        assert_eq!(labels[7], ("_system_cpu_freq", "3700000000".to_string()));
        write(
            dir.path(),
            "sys/devices/system/cpu/cpu0/cpufreq/base_frequency",
            "2100000\n",
        );
        let f = facts(dir.path(), Some(("none", "none")), &[]);
        assert_eq!(f.cpu_freq.as_deref(), Some("2100000000"));
    }

    #[test]
    fn container_heuristics_without_systemd_detect_virt() {
        let dir = tempdir();
        machine(dir.path());
        let f = facts(dir.path(), None, &[]);
        assert_eq!(
            (f.virtualization.as_str(), f.virt_detection.as_str()),
            ("unknown", "none")
        );
        assert_eq!(
            (f.container.as_str(), f.container_detection.as_str()),
            ("unknown", "none")
        );
        assert_eq!(f.host_os.name, "Debian GNU/Linux");
        let f = facts(dir.path(), None, &[("container", "lxc")]);
        assert_eq!(
            (f.container.as_str(), f.container_detection.as_str()),
            ("lxc", "containerenv")
        );
        write(dir.path(), ".dockerenv", "");
        write(
            dir.path(),
            "host/etc/os-release",
            "NAME=Fedora\nID=fedora\nVERSION_ID=40\n",
        );
        let f = facts(dir.path(), None, &[]);
        assert_eq!(
            (f.container.as_str(), f.container_detection.as_str()),
            ("docker", "dockerenv")
        );
        assert_eq!(f.host_os.name, "Fedora");
        assert_eq!(f.host_os.version, "unknown");
        assert_eq!(f.host_os.detection, "/host/etc/os-release");
    }

    #[test]
    fn kubernetes_by_environment_or_kubelet() {
        let dir = tempdir();
        machine(dir.path());
        let env = [
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
        ];
        assert!(facts(dir.path(), None, &env).is_k8s_node);
        assert!(!facts(dir.path(), None, &env[..1]).is_k8s_node);
        write(dir.path(), "proc/4242/comm", "kubelet\n");
        assert!(facts(dir.path(), None, &[]).is_k8s_node);
    }

    #[test]
    fn numbers_as_mawk_prints_them() {
        assert_eq!(mawk_integer(2_100_000_000), "2100000000");
        assert_eq!(mawk_integer(2_147_000_000), "2147000000");
        assert_eq!(mawk_integer(2_148_000_000), "2.148e+09");
        assert_eq!(mawk_integer(2_596_000_000), "2.596e+09");
        assert_eq!(mawk_integer(12_345_000_000), "1.2345e+10");
        assert_eq!(mawk_integer(3_000_000_000), "3e+09");
        assert_eq!(
            model_name_mhz("Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz"),
            Some(2400)
        );
        assert_eq!(model_name_mhz("AMD EPYC"), None);
        assert_eq!(
            normalize_virtualization("Windows Subsystem for Linux"),
            "wsl"
        );
        assert_eq!(
            normalize_virtualization("Microsoft Hyper"),
            "microsoft-hyper"
        );
    }

    #[test]
    fn os_release_values_as_the_shell_reads_them() {
        let os = OsRelease::parse(
            "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION='12 (bookworm)'\nID=debian\nID_LIKE=\nBUG=\"x\"\n",
            "/etc/os-release",
        );
        assert_eq!(os.name, "Debian GNU/Linux");
        assert_eq!(os.id, "debian");
        assert_eq!(os.id_like, "");
        assert_eq!(os.version, "12 (bookworm)");
        assert_eq!(os.version_id, "12");
        assert_eq!(unquote(r#""a \"b\" c""#), "a \"b\" c");
        assert_eq!(
            count_stat_cpus("cpu  1 2 3\ncpu0 1 2\ncpu1 3 4\nintr 5\n"),
            2
        );
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn time_zone_by_tz_then_etc_timezone_then_the_localtime_link() {
        let dir = tempdir();
        let none = |_: &str| None;
        let tz = LocalTimeZone::detect(dir.path(), &none);
        assert!(!tz.name.is_empty());
        write(dir.path(), "etc/timezone", "Europe/Berlin\n");
        assert_eq!(
            LocalTimeZone::detect(dir.path(), &none).name,
            "Europe/Berlin"
        );
        let tz_env = |name: &str| (name == "TZ").then(|| "America/New_York".to_string());
        assert_eq!(
            LocalTimeZone::detect(dir.path(), &tz_env).name,
            "America/New_York"
        );
        let colon = |name: &str| (name == "TZ").then(|| ":/etc/localtime".to_string());
        assert_eq!(
            LocalTimeZone::detect(dir.path(), &colon).name,
            "Europe/Berlin"
        );
        std::fs::remove_file(dir.path().join("etc/timezone")).unwrap();
        std::os::unix::fs::symlink(
            "/usr/share/zoneinfo/Asia/Tokyo",
            dir.path().join("etc/localtime"),
        )
        .unwrap();
        assert_eq!(LocalTimeZone::detect(dir.path(), &none).name, "Asia/Tokyo");
    }

    /// A temporary folder removed when dropped.
    struct TempDir(std::path::PathBuf);
    impl TempDir {
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn tempdir() -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "backhaul-facts-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}
