//! Finding cgroups as netdata 1.37 does: which hierarchy ([`detect_unified`],
//! [`unified_mount`]), the walk below it (`search for cgroups in subpaths
//! matching`, `max cgroups to allow`, `max cgroups depth to monitor`),
//! each new cgroup's processing (systemd services, the rename script and
//! its exit codes, `enable by default cgroups names matching` and
//! `... cgroups matching`, duplicate chart ids), and the cleanup of
//! cgroups that went away (their charts become obsolete; a duplicate
//! disabled in their favour takes over).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rrd::{Host, Label, LabelSource};
use wire::simple_pattern::SimplePattern;

use super::services::{ServiceDims, ServicesCharts};
use super::unified::{ChartNaming, Machine, ServiceReading, UnifiedCgroup};
use super::v1::{V1Bases, V1Cgroup};
use super::{CgroupSwitches, CgroupsConfig};
use crate::collectors::proc::chart_handle::Cycle;
use crate::collectors::proc::mountinfo::parse_mountinfo;
use crate::collectors::proc::parse::{netdata_chart_id, netdata_chart_name};

/// The hierarchy the collector reads.
#[derive(Clone, Debug)]
pub(super) enum Hierarchy {
    /// The unified (v2) hierarchy mounted here.
    Unified(PathBuf),
    /// The v1 controllers' hierarchies.
    V1(V1Bases),
}

/// The cgroup2 filesystem's magic number (`statfs`).
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Whether netdata 1.37 with `use unified cgroups = auto` would read the
/// unified hierarchy on this machine: cgroup2 is a known filesystem, and
/// either `/sys/fs/cgroup` is itself cgroup2, or systemd's default
/// hierarchy is `unified` and the kernel command line does not turn it
/// off. Anything that cannot be told is v1, as in netdata.
pub(super) fn detect_unified(root: &Path, systemd_timeout: Duration) -> bool {
    let filesystems = std::fs::read_to_string(root.join("proc/filesystems")).unwrap_or_default();
    if !filesystems
        .lines()
        .any(|l| l.contains("cgroup") && l.contains("cgroup2"))
    {
        return false;
    }
    if let Ok(fs) = rustix::fs::statfs(root.join("sys/fs/cgroup")) {
        #[allow(clippy::unnecessary_cast)]
        if fs.f_type as i64 == CGROUP2_SUPER_MAGIC {
            return true;
        }
    }
    let setting = systemd_default_hierarchy("systemd", systemd_timeout)
        .or_else(|| systemd_default_hierarchy("/usr/lib/systemd/systemd", systemd_timeout));
    match setting.as_deref() {
        Some("unified") => {}
        // legacy, hybrid (netdata prefers v1 there), or no answer.
        _ => return false,
    }
    let cmdline = std::fs::read_to_string(root.join("proc/cmdline")).unwrap_or_default();
    !cmdline.contains("systemd.unified_cgroup_hierarchy=0")
}

/// `default-hierarchy=WORD` from `program --version`, or `None` when it
/// cannot be run, fails, says nothing of it or takes longer than `timeout`.
fn systemd_default_hierarchy(program: &str, timeout: Duration) -> Option<String> {
    let (status, out) = run_bounded(Command::new(program).arg("--version"), timeout)?;
    if !status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out);
    let (_, after) = text.split_once("default-hierarchy=")?;
    let word: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    ["legacy", "hybrid", "unified"]
        .contains(&word.as_str())
        .then_some(word)
}

/// Runs `command` with its standard output captured (standard error goes
/// to the agent's) and waits at most `timeout`; a command still running
/// then is killed and counts as failed.
fn run_bounded(
    command: &mut Command,
    timeout: Duration,
) -> Option<(std::process::ExitStatus, Vec<u8>)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    // The output is read on a thread of its own, so a chatty command
    // cannot block on a full pipe while we wait for it to exit.
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.by_ref().take(64 * 1024).read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let out = reader.join().ok()?;
    Some((status, out))
}

/// The unified hierarchy's mount point from `root`'s mountinfo: the first
/// `cgroup2` mount whose super options hold `rw`, else the first whose
/// source is `cgroup` (netdata's two lookups).
pub(super) fn unified_mount(root: &Path) -> Option<PathBuf> {
    find_mount(root, "cgroup2", "rw", "cgroup")
}

/// A v1 controller's mount point (`cpuacct`, `memory`, ...) from `root`'s
/// mountinfo: the first `cgroup` mount whose super options hold the
/// controller's name, else whose source is it; else
/// `/sys/fs/cgroup/CONTROLLER`, as netdata falls back.
pub(super) fn v1_mount(root: &Path, controller: &str) -> PathBuf {
    find_mount(root, "cgroup", controller, controller).unwrap_or_else(|| {
        tracing::info!(
            controller,
            "cgroups: no mount of this controller; using /sys/fs/cgroup/{controller}"
        );
        root.join("sys/fs/cgroup").join(controller)
    })
}

/// The first mount of `filesystem` in `root`'s mountinfo whose super
/// options hold `option`, else whose source is `source`.
fn find_mount(root: &Path, filesystem: &str, option: &str, source: &str) -> Option<PathBuf> {
    let text = std::fs::read(root.join("proc/self/mountinfo")).ok()?;
    let mounts = parse_mountinfo(&text);
    let found = mounts
        .iter()
        .find(|m| m.filesystem == filesystem && m.has_super_option(option))
        .or_else(|| {
            mounts
                .iter()
                .find(|m| m.filesystem == filesystem && m.source == source)
        })?;
    Some(root.join(found.mount_point.trim_start_matches('/')))
}

/// The CPUs (`cpuN` lines of `/proc/stat`) and `MemTotal` of `root`'s
/// `/proc`, read once as netdata does.
fn machine_facts(root: &Path) -> Machine {
    let stat = std::fs::read_to_string(root.join("proc/stat")).unwrap_or_default();
    let cpus = stat
        .lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count() as u64;
    let meminfo = std::fs::read_to_string(root.join("proc/meminfo")).unwrap_or_default();
    let ram_total = meminfo
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024);
    if ram_total.is_none() {
        tracing::info!("cgroups: no MemTotal in /proc/meminfo; no memory limit charts");
    }
    Machine {
        cpus: cpus.max(1),
        clock_ticks: i64::try_from(rustix::param::clock_ticks_per_second()).unwrap_or(100),
        ram_total,
    }
}

/// A Kubernetes name from the rename script, `k8s_NAME key="value",...`:
/// the name (the first word), and the labels, each `KEY=VALUE` (or
/// `KEY:VALUE`) with quotes and backslash escapes read as netdata reads
/// them, then made fit for a label as netdata's label store does.
fn k8s_name_and_labels(line: &str) -> (String, Vec<Label>) {
    let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
    let mut labels: Vec<Label> = Vec::new();
    if !rest.is_empty() {
        for pair in rest.split(',') {
            let (key, after) = quoted_up_to(pair, &['=', ':']);
            let (value, _) = quoted_up_to(after, &[]);
            let Some(key) = wire::sanitize::sanitize_label_key(&key) else {
                continue;
            };
            let value = wire::sanitize::sanitize_label_value(&value);
            labels.retain(|l| l.key != key);
            labels.push(Label::new(key, value, LabelSource::Automatic));
        }
    }
    (name.to_string(), labels)
}

/// The text of `input` up to an unquoted `ends` character (quotes removed,
/// `\x` inside quotes read as `x`), and what follows that character.
fn quoted_up_to<'a>(input: &'a str, ends: &[char]) -> (String, &'a str) {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = input.char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            None if c == '\'' || c == '"' => quote = Some(c),
            None if ends.contains(&c) => return (out, &input[i + c.len_utf8()..]),
            Some(q) if c == q => quote = None,
            Some(_) if c == '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    out.push(escaped);
                }
            }
            _ => out.push(c),
        }
    }
    (out, "")
}

/// `id` without one leading `/` (the root stays `/`).
fn strip_root(id: &str) -> &str {
    if id.len() > 1 {
        id.strip_prefix('/').unwrap_or(id)
    } else {
        id
    }
}

/// A name's title and chart id, as netdata derives them (the id's dots
/// become dashes).
fn title_and_chart_id(name: &str) -> (String, String) {
    let stripped = strip_root(name);
    (
        netdata_chart_name(stripped),
        netdata_chart_id(stripped).replace('.', "-"),
    )
}

/// Where a cgroup is in its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Seen, not looked at yet.
    New,
    /// Waiting for the rename script: tries left.
    Renaming(u8),
    /// Done: enabled, or not.
    Processed { enabled: bool },
}

/// A discovered cgroup.
struct Cgroup {
    /// The path below the hierarchy's mount, `/` for its root.
    id: String,
    /// The id through the chart-id map, given to the rename script.
    intermediate_id: String,
    title: String,
    chart_id: String,
    stage: Stage,
    systemd_service: bool,
    /// Disabled because another enabled cgroup has its chart id.
    duplicate: bool,
    available: bool,
    /// Its charts' type and context, once it is collected.
    naming: Option<ChartNaming>,
    /// Labels from the rename script (Kubernetes), on every chart.
    labels: Vec<Label>,
    /// Its network interfaces' host-side names (registered renames).
    interfaces: Vec<String>,
    /// A systemd service's dimensions in the `services.*` charts, and
    /// this round's reading.
    service_dims: ServiceDims,
    service_reading: ServiceReading,
    files: CgroupFiles,
}

/// A cgroup's files and charts, by hierarchy.
enum CgroupFiles {
    Unified(Box<UnifiedCgroup>),
    V1(Box<V1Cgroup>),
}

impl CgroupFiles {
    fn find_files(&mut self, switches: &CgroupSwitches, service: bool, report_used_memory: bool) {
        match self {
            CgroupFiles::Unified(u) => u.find_files(switches, service),
            CgroupFiles::V1(v) => v.find_files(switches, service, report_used_memory),
        }
    }

    fn read_service(&mut self) -> ServiceReading {
        match self {
            CgroupFiles::Unified(u) => u.read_service(),
            CgroupFiles::V1(v) => v.read_service(),
        }
    }

    fn collect(&mut self, host: &Host, naming: &ChartNaming, machine: &Machine, cycle: &mut Cycle) {
        match self {
            CgroupFiles::Unified(u) => u.collect(host, naming, machine, cycle),
            CgroupFiles::V1(v) => v.collect(host, naming, machine, cycle),
        }
    }

    fn mark_obsolete(&mut self) {
        match self {
            CgroupFiles::Unified(u) => u.mark_obsolete(),
            CgroupFiles::V1(v) => v.mark_obsolete(),
        }
    }
}

impl Cgroup {
    fn enabled(&self) -> bool {
        matches!(self.stage, Stage::Processed { enabled: true })
    }
}

/// The compiled `[plugin:cgroups]` patterns.
struct Patterns {
    enable: SimplePattern,
    names: SimplePattern,
    search: SimplePattern,
    rename: SimplePattern,
    services: Option<SimplePattern>,
}

/// The discovered cgroups of one hierarchy (v2) or set of hierarchies
/// (v1), in discovery order.
pub(super) struct Discovery {
    hierarchy: Hierarchy,
    /// v1: the controllers' trees walked, in netdata's order.
    walked: Vec<PathBuf>,
    report_used_memory: bool,
    cgroups: Vec<Cgroup>,
    patterns: Patterns,
    script: PathBuf,
    max_cgroups: usize,
    max_depth: usize,
    switches: CgroupSwitches,
    priority: i64,
    update_every: u32,
    services: ServicesCharts,
    machine: Machine,
    /// `cgroup-network` and the table its findings go to.
    network_script: Option<PathBuf>,
    netdev_renames: Option<std::sync::Arc<crate::collectors::proc::NetdevRenames>>,
    /// Logged once each.
    told_limit: bool,
    told_unreadable: bool,
}

/// The longest the rename script may take (netdata waits for ever).
const RENAME_TIMEOUT: Duration = Duration::from_secs(10);

/// netdata's chart-id length limit (`RRD_ID_LENGTH_MAX`).
const ID_LENGTH_MAX: usize = 200;

impl Discovery {
    pub(super) fn new(
        hierarchy: Hierarchy,
        config: &CgroupsConfig,
        script: PathBuf,
        root: &Path,
    ) -> Discovery {
        let machine = machine_facts(root);
        let on = |s: crate::config::ChartSwitch| s != crate::config::ChartSwitch::No;
        let s = &config.switches;
        // netdata walks cpuacct, blkio, memory and devices, each when one
        // of its metrics is on (devices always).
        let walked = match &hierarchy {
            Hierarchy::Unified(base) => vec![base.clone()],
            Hierarchy::V1(bases) => [
                (on(s.cpu) || on(s.cpu_per_core), &bases.cpuacct),
                (s.blkio().into_iter().any(on), &bases.blkio),
                (
                    on(s.memory) || on(s.detailed_memory) || on(s.swap) || on(s.failcnt),
                    &bases.memory,
                ),
                (true, &bases.devices),
            ]
            .into_iter()
            .filter(|(wanted, _)| *wanted)
            .map(|(_, base)| base.clone())
            .collect(),
        };
        let services_detailed_memory =
            matches!(hierarchy, Hierarchy::V1(_)) && config.services_detailed_memory;
        let cpu_divisor = match &hierarchy {
            Hierarchy::Unified(_) => 1_000_000,
            Hierarchy::V1(_) => machine.clock_ticks,
        };
        Discovery {
            hierarchy,
            walked,
            report_used_memory: config.report_used_memory,
            cgroups: Vec::new(),
            patterns: Patterns {
                enable: SimplePattern::new(&config.enable_matching),
                names: SimplePattern::new(&config.names_matching),
                search: SimplePattern::new(&config.search_matching),
                rename: SimplePattern::new(&config.rename_matching),
                services: config
                    .systemd_services
                    .then(|| SimplePattern::new(&config.services_matching)),
            },
            script,
            max_cgroups: config.max_cgroups,
            max_depth: config.max_depth,
            switches: config.switches,
            priority: config.priority,
            update_every: config.update_every,
            services: ServicesCharts::new(
                config.update_every,
                cpu_divisor,
                // Forced off in v2, as netdata does.
                services_detailed_memory,
            ),
            machine,
            network_script: None,
            netdev_renames: None,
            told_limit: false,
            told_unreadable: false,
        }
    }

    /// Finds each new enabled cgroup's network interfaces with `script`
    /// (`cgroup-network --cgroup PATH`) and registers them in `renames`.
    pub(super) fn finding_interfaces(
        mut self,
        script: PathBuf,
        renames: Option<std::sync::Arc<crate::collectors::proc::NetdevRenames>>,
    ) -> Discovery {
        self.network_script = Some(script);
        self.netdev_renames = renames;
        self
    }

    /// One discovery: walk, process what is new, look for files, drop
    /// what went away.
    pub(super) fn run(&mut self, _host: &Host) {
        for cgroup in &mut self.cgroups {
            cgroup.available = false;
        }
        for base in self.walked.clone() {
            if std::fs::read_dir(&base).is_err() {
                if !self.told_unreadable {
                    self.told_unreadable = true;
                    tracing::warn!(path = %base.display(), "cgroups: cannot read this hierarchy");
                }
            } else {
                self.walk(&base, "/");
            }
        }
        for i in 0..self.cgroups.len() {
            self.process(i);
        }
        for cgroup in &mut self.cgroups {
            if cgroup.available && cgroup.enabled() {
                cgroup.files.find_files(
                    &self.switches,
                    cgroup.systemd_service,
                    self.report_used_memory,
                );
            }
        }
        self.clean_up();
    }

    /// netdata's walk: a directory is a cgroup, and its children are
    /// looked at when its own path matches the search pattern.
    fn walk(&mut self, dir: &Path, relative: &str) {
        self.found(relative, dir);
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut descend = None;
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if !*descend.get_or_insert_with(|| self.patterns.search.matches(relative)) {
                continue;
            }
            let name = entry.file_name();
            let child = if relative == "/" {
                format!("/{}", name.to_string_lossy())
            } else {
                format!("{relative}/{}", name.to_string_lossy())
            };
            self.walk(&entry.path(), &child);
        }
    }

    fn found(&mut self, id: &str, dir: &Path) {
        if let Some(known) = self.cgroups.iter_mut().find(|c| c.id == id) {
            known.available = true;
            return;
        }
        if self.cgroups.len() >= self.max_cgroups {
            if !self.told_limit {
                self.told_limit = true;
                tracing::info!(
                    max = self.max_cgroups,
                    cgroup = id,
                    "cgroups: the maximum number of cgroups is reached ([plugin:cgroups] max cgroups to allow); not adding more"
                );
            }
            return;
        }
        if self.max_depth > 0 && id.matches('/').count() > self.max_depth {
            return;
        }
        let (title, chart_id) = title_and_chart_id(id);
        self.cgroups.push(Cgroup {
            id: id.to_string(),
            intermediate_id: netdata_chart_id(strip_root(id)),
            title,
            chart_id,
            stage: Stage::New,
            systemd_service: false,
            duplicate: false,
            available: true,
            naming: None,
            labels: Vec::new(),
            interfaces: Vec::new(),
            service_dims: ServiceDims::new(),
            service_reading: ServiceReading::default(),
            files: match &self.hierarchy {
                Hierarchy::Unified(_) => {
                    CgroupFiles::Unified(Box::new(UnifiedCgroup::new(dir.to_path_buf())))
                }
                Hierarchy::V1(bases) => CgroupFiles::V1(Box::new(V1Cgroup::new(bases, id))),
            },
        });
    }

    fn process(&mut self, i: usize) {
        if !self.cgroups[i].available {
            return;
        }
        if self.cgroups[i].stage == Stage::New {
            let cgroup = &mut self.cgroups[i];
            let service = self
                .patterns
                .services
                .as_ref()
                .is_some_and(|p| p.matches(&cgroup.id));
            if service {
                cgroup.systemd_service = true;
                // Its title: the last path part without its extension.
                let last = cgroup.id.rsplit('/').next().unwrap_or(&cgroup.id);
                let stem = last.rsplit_once('.').map_or(last, |(stem, _)| stem);
                cgroup.title = netdata_chart_name(stem);
                cgroup.stage = Stage::Processed { enabled: true };
                return;
            }
            cgroup.stage = if self.patterns.rename.matches(&cgroup.id) {
                Stage::Renaming(2)
            } else {
                Stage::Processed { enabled: false }
            };
            if cgroup.stage == (Stage::Processed { enabled: false }) {
                self.settle(i);
                return;
            }
        }
        if let Stage::Renaming(tries) = self.cgroups[i].stage {
            let left = tries - 1;
            self.cgroups[i].stage = Stage::Renaming(left);
            match self.rename(i, left) {
                Renamed::Done => self.settle(i),
                Renamed::Refused => {
                    self.cgroups[i].stage = Stage::Processed { enabled: false };
                }
                Renamed::Later => {}
            }
        }
    }

    /// Runs the rename script once for cgroup `i`, with `left` tries left
    /// after this one.
    fn rename(&mut self, i: usize, left: u8) -> Renamed {
        let cgroup = &mut self.cgroups[i];
        let outcome = run_bounded(
            Command::new(&self.script)
                .arg(&cgroup.id)
                .arg(&cgroup.intermediate_id),
            RENAME_TIMEOUT,
        );
        let Some((status, out)) = outcome else {
            tracing::warn!(
                script = %self.script.display(),
                cgroup = %cgroup.id,
                "cgroups: the rename script could not be run (or took over {RENAME_TIMEOUT:?}); the cgroup stays off"
            );
            return Renamed::Refused;
        };
        match status.code() {
            Some(0) => {}
            Some(3) => return Renamed::Refused,
            _ if left > 0 => return Renamed::Later,
            _ => {}
        }
        let first_line = out.split(|&b| b == b'\n').next().unwrap_or_default();
        let name = String::from_utf8_lossy(first_line).trim().to_string();
        if !name.is_empty() {
            // A Kubernetes name comes with the pod's labels:
            // `k8s_NAME key="value",...`.
            let name = if name.starts_with("k8s_") {
                let (name, labels) = k8s_name_and_labels(&name);
                cgroup.labels = labels;
                name
            } else {
                name
            };
            let (title, chart_id) = title_and_chart_id(&name);
            cgroup.title = title;
            cgroup.chart_id = chart_id;
        }
        Renamed::Done
    }

    /// The end of a cgroup's processing: the length limit, the patterns,
    /// duplicates.
    fn settle(&mut self, i: usize) {
        let cgroup = &self.cgroups[i];
        let enabled = cgroup.chart_id.len() + "cgroup_".len() < ID_LENGTH_MAX
            && self.patterns.names.matches(&cgroup.title)
            && self.patterns.enable.matches(&cgroup.id);
        let duplicate = enabled
            && self
                .cgroups
                .iter()
                .enumerate()
                .any(|(j, c)| j != i && c.enabled() && c.chart_id == cgroup.chart_id);
        if duplicate {
            tracing::warn!(
                cgroup = %cgroup.id,
                chart_id = %cgroup.chart_id,
                "cgroups: another enabled cgroup has this chart id; this one is off"
            );
        }
        let cgroup = &mut self.cgroups[i];
        cgroup.duplicate = duplicate;
        cgroup.stage = Stage::Processed {
            enabled: enabled && !duplicate,
        };
        if enabled && !duplicate {
            self.find_interfaces(i);
        }
    }

    /// netdata's `cgroup-network --cgroup PATH` for cgroup `i`, once: each
    /// line `HOST_DEVICE CONTAINER_DEVICE` is registered for the
    /// `/proc/net/dev` collector.
    fn find_interfaces(&mut self, i: usize) {
        let (Some(script), Some(renames)) = (&self.network_script, &self.netdev_renames) else {
            return;
        };
        let base = match &self.hierarchy {
            Hierarchy::Unified(base) => base,
            Hierarchy::V1(bases) => &bases.cpuacct,
        };
        let cgroup = &mut self.cgroups[i];
        let path = base.join(cgroup.id.trim_start_matches('/'));
        let Some((_, out)) = run_bounded(
            Command::new(script).arg("--cgroup").arg(&path),
            RENAME_TIMEOUT,
        ) else {
            tracing::warn!(
                script = %script.display(),
                cgroup = %cgroup.id,
                "cgroups: cannot run the network interfaces script (or it took over {RENAME_TIMEOUT:?})"
            );
            return;
        };
        for line in String::from_utf8_lossy(&out).lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (host, guest) = line.split_once(' ').unwrap_or((line, ""));
            let guest = guest.trim();
            if host.is_empty() || guest.is_empty() {
                tracing::warn!(cgroup = %cgroup.id, line, "cgroups: network interfaces script gave a line without both interfaces");
                continue;
            }
            renames.add(
                host,
                crate::collectors::proc::NetRename {
                    chart_type: format!("cgroup_{}", cgroup.chart_id),
                    device: guest.to_string(),
                    k8s: cgroup.id.contains("kubepods"),
                    labels: cgroup.labels.clone(),
                },
            );
            cgroup.interfaces.push(host.to_string());
        }
    }

    /// Drops the cgroups not found by this walk, their charts obsolete; a
    /// duplicate of one takes its place.
    fn clean_up(&mut self) {
        let mut i = 0;
        while i < self.cgroups.len() {
            if self.cgroups[i].available {
                i += 1;
                continue;
            }
            let mut gone = self.cgroups.remove(i);
            gone.files.mark_obsolete();
            if let Some(renames) = &self.netdev_renames {
                for host in &gone.interfaces {
                    renames.remove(host);
                }
            }
            if let Some(twin) = self
                .cgroups
                .iter_mut()
                .find(|c| c.available && c.duplicate && !c.enabled() && c.chart_id == gone.chart_id)
            {
                twin.duplicate = false;
                twin.stage = Stage::Processed { enabled: true };
                twin.files.find_files(
                    &self.switches,
                    twin.systemd_service,
                    self.report_used_memory,
                );
            }
        }
    }

    /// Reads every enabled cgroup's files and completes its charts.
    pub(super) fn collect(&mut self, host: &Host, cycle: &mut Cycle) {
        for cgroup in &mut self.cgroups {
            if !cgroup.enabled() {
                continue;
            }
            if cgroup.systemd_service {
                cgroup.service_reading = cgroup.files.read_service();
                self.services.want(&cgroup.service_reading);
                continue;
            }
            let naming = cgroup.naming.get_or_insert_with(|| ChartNaming {
                chart_type: if cgroup.chart_id.is_empty() || cgroup.chart_id == "/" {
                    "cgroup_root".to_string()
                } else {
                    netdata_chart_id(&format!("cgroup_{}", cgroup.chart_id))
                },
                context_prefix: if cgroup.id.contains("kubepods") {
                    "k8s.cgroup"
                } else {
                    "cgroup"
                },
                priority: self.priority,
                update_every: self.update_every,
                labels: std::mem::take(&mut cgroup.labels),
            });
            cgroup.files.collect(host, naming, &self.machine, cycle);
        }
        // Then the services' charts, one dimension per service.
        self.services.prepare(host);
        for cgroup in &mut self.cgroups {
            if cgroup.enabled() && cgroup.systemd_service {
                self.services.add(
                    &cgroup.service_reading,
                    &cgroup.chart_id,
                    &cgroup.title,
                    &mut cgroup.service_dims,
                );
            }
        }
        self.services.finish(cycle);
    }
}

/// The rename script's verdict.
enum Renamed {
    /// Named (or kept its name): go on.
    Done,
    /// Exit code 3, or the script could not run: the cgroup stays off.
    Refused,
    /// Asked to be tried again at the next discovery.
    Later,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_chart_ids_as_netdata_makes_them() {
        assert_eq!(
            title_and_chart_id("/system.slice/Foo Bar.service"),
            (
                "system.slice/foo_bar.service".to_string(),
                "system-slice_foo_bar-service".to_string()
            )
        );
        assert_eq!(title_and_chart_id("/"), ("/".to_string(), "_".to_string()));
        assert_eq!(
            title_and_chart_id("bhtest"),
            ("bhtest".to_string(), "bhtest".to_string())
        );
    }

    #[test]
    fn default_patterns_pick_containers_not_slices() {
        let config = CgroupsConfig::default();
        let enable = SimplePattern::new(&config.enable_matching);
        let search = SimplePattern::new(&config.search_matching);
        assert!(!enable.matches("/"));
        assert!(!enable.matches("/docker"));
        assert!(enable.matches("/docker/0123abcd"));
        assert!(!enable.matches("/user.slice"));
        assert!(enable.matches("/bhtest"));
        assert!(!search.matches("/user.slice"));
        assert!(search.matches("/"));
    }

    #[test]
    fn kubernetes_names_bring_their_labels() {
        let (name, labels) = k8s_name_and_labels(
            r#"k8s_kube-system_coredns-1 k8s_namespace="kube-system",k8s_pod_name="core\"dns",k8s_kind=Pod,bad key:"x y""#,
        );
        assert_eq!(name, "k8s_kube-system_coredns-1");
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| (l.key.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("k8s_namespace", "kube-system"),
                // The label store makes a quote `_`, as netdata's does.
                ("k8s_pod_name", "core_dns"),
                ("k8s_kind", "Pod"),
                ("bad_key", "x y"),
            ]
        );
        assert!(labels.iter().all(|l| l.source == LabelSource::Automatic));
        let (name, labels) = k8s_name_and_labels("k8s_alone");
        assert_eq!((name.as_str(), labels.len()), ("k8s_alone", 0));
    }

    #[test]
    fn no_cgroup2_filesystem_means_v1() {
        let dir = std::env::temp_dir().join(format!("bh-cg-v1-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        std::fs::write(
            dir.join("proc/filesystems"),
            "nodev\tsysfs\nnodev\tcgroup\nnodev\tproc\n",
        )
        .unwrap();
        assert!(!detect_unified(&dir, Duration::from_secs(3)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mountinfo_gives_the_first_rw_cgroup2_mount() {
        let dir = std::env::temp_dir().join(format!("bh-cg-mounts-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc/self")).unwrap();
        std::fs::write(
            dir.join("proc/self/mountinfo"),
            "30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n\
             42 31 0:39 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        )
        .unwrap();
        assert_eq!(unified_mount(&dir), Some(dir.join("sys/fs/cgroup/unified")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
