//! The swap test: netdata 1.37 (the Debian package) and then backhaul run on
//! this machine with the same `netdata.conf` and `exporting.conf`,
//! exporting graphite to one recording receiver. For every chart netdata
//! exports (all but its own `netdata.*` charts, with cgroups on), backhaul
//! must export the same set of series names, tags included; the charts
//! backhaul does not make yet are listed in [`NOT_IMPLEMENTED`] (and in
//! docs/compatibility.md), and one listed there that backhaul does make
//! fails the test, so the list stays true.
//!
//! Skipped when netdata is not installed, unless
//! `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (as `.ci/run` sets) makes it
//! required.

mod real;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use real::{free_ports, require, Server, TempDir};

/// Charts netdata 1.37 exports that backhaul does not make yet, as simple
/// globs (`*` matches anything), with the reason (none today). cgroups is
/// on in the swap configuration (the unified hierarchy, with a cgroup and
/// a systemd service's cgroup the test makes).
const NOT_IMPLEMENTED: &[(&str, &str)] = &[];

/// Charts whose existence depends on a gauge being non-zero (netdata's
/// `auto` rule), or on the moment (a slow chart's first point): either
/// agent may make one the other did not, in the minute between their runs.
/// When both make it, the series must match.
const AUTO_ON_GAUGES: &[&str] = &[
    "ipv4.tcpsock",
    "ipv4.sockstat_*",
    "ipv6.sockstat6_*",
    // A disk's operations in flight; message queues while one exists.
    "disk_qops.*",
    "system.message_queue_*",
    // Not `auto`, but collected every 10 s (timex): a run of a few seconds
    // may end before either agent's first point.
    "system.clock_*",
    // The test container's veth, charted as itself until the cgroups
    // discovery finds it (netdata's first discovery comes seconds in).
    "net*.bhv_*",
];

/// Charts whose existence depends on counters turning non-zero (`auto`):
/// counters only grow, so backhaul, which runs second, may make one that
/// netdata did not yet; never the other way round.
const AUTO_ON_COUNTERS: &[&str] = &[
    "ip.*",
    "ipv4.*",
    "ipv6.*",
    "net_errors.*",
    "net_drops.*",
    "net_fifo.*",
    "net_compressed.*",
    "net_events.*",
    "net.*",
    "net_packets.*",
    "netfilter.synproxy_*",
    // The test container's interface: its traffic counters (link-local
    // IPv6 chatter) only grow.
    "cgroup_*.net_eth0",
    "cgroup_*.net_packets_eth0",
    "cgroup_*.net_errors_eth0",
    "cgroup_*.net_drops_eth0",
    "cgroup_*.net_fifo_eth0",
    "cgroup_*.net_compressed_eth0",
    "cgroup_*.net_events_eth0",
];

/// The charts compared: every chart but the agents' own (`netdata.*`: each
/// charts itself in its own way).
fn in_families(chart: &str) -> bool {
    chart.split('.').next().unwrap_or_default() != "netdata"
}

/// `*` matches any run of bytes, everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob(rest, &tail[i..]))
        }
    }
}

fn listed(list: &[&str], chart: &str) -> bool {
    list.iter().any(|p| glob(p, chart))
}

const HOST: &str = "swaptest";

/// The graphite receiver: every line received, by anyone, in order.
struct Receiver {
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines().map_while(Result::ok) {
                        sink.lock().unwrap().push(line);
                    }
                });
            }
        });
        Receiver { port, lines }
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap())
    }

    /// Whether any series of `chart` came.
    fn has_chart(&self, chart: &str) -> bool {
        let prefix = format!("netdata.{HOST}.{chart}.");
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with(&prefix))
    }

    /// How many distinct timestamps `system.cpu` was sent with.
    fn cpu_rounds(&self) -> usize {
        self.rounds("system.cpu")
    }

    /// How many distinct timestamps `chart` was sent with.
    fn rounds(&self, chart: &str) -> usize {
        let prefix = format!("netdata.{HOST}.{chart}.");
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(&prefix))
            .filter_map(|l| l.rsplit(' ').next().map(str::to_string))
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// The series of each chart in `lines`: `netdata.HOST.TYPE.NAME.DIM[;tags]`
/// split into `TYPE.NAME` and `DIM[;tags]`.
fn series_by_chart(lines: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let prefix = format!("netdata.{HOST}.");
    let mut charts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in lines {
        let Some(series) = line.split(' ').next() else {
            continue;
        };
        let Some(rest) = series.strip_prefix(&prefix) else {
            continue;
        };
        let (path, tags) = match rest.split_once(';') {
            Some((path, tags)) => (path, Some(tags)),
            None => (rest, None),
        };
        let mut parts = path.splitn(3, '.');
        let (Some(kind), Some(name), Some(dim)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let chart = format!("{kind}.{name}");
        if !in_families(&chart) {
            continue;
        }
        let dim = match tags {
            Some(tags) => format!("{dim};{tags}"),
            None => dim.to_string(),
        };
        charts.entry(chart).or_default().insert(dim);
    }
    charts
}

fn write_configs(dir: &Path, receiver: u16, web: u16) -> (String, String) {
    for sub in ["etc", "cache", "lib", "log", "plugins"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    // Both agents name cgroups with netdata's own script, found in the
    // plugins directory.
    let _ = fs::copy(CGROUP_NAME_SCRIPT, dir.join("plugins/cgroup-name.sh"));
    let _ = fs::copy(CGROUP_NETWORK, dir.join("plugins/cgroup-network"));
    let d = dir.display();
    let main = format!(
        "[global]\n\trun as user = root\n\thostname = {HOST}\n\tupdate every = 1\n\
         \tmemory mode = ram\n\thistory = 600\n\
         [directories]\n\tconfig = {d}/etc\n\tstock config = {d}/etc\n\tcache = {d}/cache\n\
         \tlib = {d}/lib\n\tlog = {d}/log\n\tplugins = {d}/plugins\n\thome = {d}/lib\n\
         \thealth config = {d}/etc\n\tstock health config = {d}/etc\n\
         [logs]\n\terror = {d}/log/error.log\n\taccess = none\n\tdebug = none\n\
         [web]\n\tbind to = 127.0.0.1:{web}\n\
         [registry]\n\tenabled = no\n[health]\n\tenabled = no\n[ml]\n\tenabled = no\n\
         [plugins]\n\tstatsd = no\n\tcgroups = yes\n\ttc = no\n\tapps = no\n\tpython.d = no\n\tcharts.d = no\n\
         \tgo.d = no\n\tebpf = no\n\tperf = no\n\tslabinfo = no\n\tenable running new plugins = no\n\
         [plugin:cgroups]\n\tuse unified cgroups = yes\n\tcheck for new cgroups every = 2\n"
    );
    let exporting = format!(
        "[exporting:global]\n\tenabled = yes\n\
         [graphite:swap]\n\tenabled = yes\n\tdestination = 127.0.0.1:{receiver}\n\
         \tdata source = average\n\tupdate every = 1\n\tsend names instead of ids = yes\n"
    );
    let main_path = dir.join("etc/netdata.conf");
    let exporting_path = dir.join("etc/exporting.conf");
    fs::write(&main_path, &main).unwrap();
    fs::write(&exporting_path, &exporting).unwrap();
    (
        main_path.display().to_string(),
        exporting_path.display().to_string(),
    )
}

/// Runs `agent` until the receiver saw `system.cpu` with 8 timestamps
/// and `system.load` once, then stops it and returns what it exported.
fn record(
    name: &str,
    cmd: Command,
    dir: &Path,
    receiver: &Receiver,
    also: &[String],
) -> Vec<String> {
    // system.load is a 5-s chart, which netdata sends late; `also` are
    // the test cgroup's charts (discovered a few seconds in).
    record_until(
        name,
        cmd,
        dir,
        receiver,
        "8 rounds of system.cpu, one of system.load and the cgroup's charts",
        &|receiver| {
            let rounds = receiver.cpu_rounds();
            let load = receiver.has_chart("system.load");
            let missing: Vec<&String> = also.iter().filter(|c| !receiver.has_chart(c)).collect();
            if rounds >= 8 && load && missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{rounds} rounds, system.load: {load}, not yet: {missing:?}"
                ))
            }
        },
    )
}

/// Runs `agent` until `ready` says so, then stops it and returns what it
/// exported.
fn record_until(
    name: &str,
    cmd: Command,
    dir: &Path,
    receiver: &Receiver,
    what: &str,
    ready: &dyn Fn(&Receiver) -> Result<(), String>,
) -> Vec<String> {
    receiver.take();
    let mut agent = Server::spawn(name, cmd, dir);
    agent.add_log(dir.join("log/error.log"));
    agent.wait_for(what, || ready(receiver));
    agent.stop();
    // Lines already read by the receiver's threads; give the last writes a
    // moment to land (bounded: the connection is closed).
    std::thread::sleep(Duration::from_millis(300));
    receiver.take()
}

#[test]
fn backhaul_exports_the_series_netdata_exports() {
    if !require("swap test", &["netdata"]) {
        return;
    }
    let dir = TempDir::new("swap");
    let receiver = Receiver::start();
    let web = free_ports(1)[0];
    let (main, exporting) = write_configs(dir.path(), receiver.port, web);
    // A cgroup with a process that used some CPU: netdata 1.37 charts it
    // (CPU, throttling and the twelve pressure charts on this machine
    // kind), so backhaul must too.
    // A cgroup and a systemd service's cgroup, each with a process that
    // used some CPU: netdata 1.37 charts the first (CPU, throttling and
    // the twelve pressure charts on this machine kind) and makes the
    // second a dimension of `services.cpu`, so backhaul must too.
    let netns = TestNetns::create();
    let made = netns.as_ref().map_err(Clone::clone).and_then(|netns| {
        TestCgroup::create("", "", Some(netns)).and_then(|container| {
            TestCgroup::create("system.slice", ".service", None).map(|service| (container, service))
        })
    });
    let cgroups = match made {
        Ok(pair) => Some(pair),
        Err(why) if std::env::var_os(real::REQUIRE_ENV).is_some() => {
            panic!("no test cgroup: {why}")
        }
        Err(why) => {
            eprintln!("swap test: no test cgroup ({why}); cgroup charts not compared");
            None
        }
    };
    let cgroup_charts: Vec<String> = cgroups
        .iter()
        .flat_map(|(c, _)| {
            [
                "cpu",
                "throttled",
                "cpu_some_pressure",
                "io_full_pressure_stall_time",
                // Its network interface, found by netdata's cgroup-network.
                "net_operstate_eth0",
                "net_mtu_eth0",
            ]
            .map(|chart| format!("cgroup_{}.{chart}", c.name))
        })
        .chain(cgroups.iter().map(|_| "services.cpu".to_string()))
        .collect();

    let mut netdata = Command::new("netdata");
    netdata.args(["-D", "-c", &main]);
    let theirs = series_by_chart(&record(
        "netdata",
        netdata,
        dir.path(),
        &receiver,
        &cgroup_charts,
    ));

    let mut backhaul = Command::new(env!("CARGO_BIN_EXE_backhaul"));
    backhaul.args(["--config", &main, "--exporting-config", &exporting]);
    let ours = series_by_chart(&record(
        "backhaul",
        backhaul,
        dir.path(),
        &receiver,
        &cgroup_charts,
    ));
    if let Some((cgroup, service)) = &cgroups {
        let prefix = format!("cgroup_{}.", cgroup.name);
        let made = theirs.keys().filter(|c| c.starts_with(&prefix)).count();
        assert!(
            made >= 15,
            "netdata made {made} charts for the test cgroup: {theirs:?}"
        );
        // The service's dimension is named after it, without `.service`.
        let dims = theirs.get("services.cpu").cloned().unwrap_or_default();
        let dim = service.name.trim_end_matches(".service");
        assert!(
            dims.iter().any(|d| d.split(';').next() == Some(dim)),
            "netdata's services.cpu lacks the test service: {dims:?}"
        );
    }
    assert!(theirs.len() > 30, "netdata exported too little: {theirs:?}");
    let (matched, problems) = compare(&theirs, &ours, NOT_IMPLEMENTED);
    assert!(
        problems.is_empty(),
        "{} problems ({matched} charts matched):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(matched > 60, "only {matched} charts compared");
}

/// A cgroup of the unified hierarchy made for the test, holding a process
/// that used some CPU and then sleeps; removed when dropped (with its
/// parent, when the test made that too).
struct TestCgroup {
    /// Its directory name, which is also its chart name (`cgroup_NAME`).
    name: String,
    dir: std::path::PathBuf,
    made_parent: Option<std::path::PathBuf>,
    process: std::process::Child,
}

impl TestCgroup {
    /// Makes `parent/NAME` (`parent` may be empty) below the unified
    /// hierarchy's mount, NAME being `bh_swap_PID` with `suffix`.
    fn create(parent: &str, suffix: &str, netns: Option<&TestNetns>) -> Result<TestCgroup, String> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let mount = mountinfo
            .lines()
            .filter_map(|l| {
                let (before, after) = l.split_once(" - ")?;
                let mut rest = after.split(' ');
                let (fs, _, options) = (rest.next()?, rest.next()?, rest.next()?);
                (fs == "cgroup2" && options.split(',').any(|o| o == "rw"))
                    .then(|| before.split(' ').nth(4).map(str::to_string))?
            })
            .next()
            .ok_or("no cgroup2 mount")?;
        let name = format!("bh_swap_{}{suffix}", std::process::id());
        let parent_dir = Path::new(&mount).join(parent);
        let made_parent = if parent_dir.exists() {
            None
        } else {
            fs::create_dir(&parent_dir)
                .map_err(|e| format!("mkdir {}: {e}", parent_dir.display()))?;
            Some(parent_dir.clone())
        };
        let dir = parent_dir.join(&name);
        if let Err(e) = fs::create_dir(&dir) {
            if let Some(made) = &made_parent {
                let _ = fs::remove_dir(made);
            }
            return Err(format!("mkdir {}: {e}", dir.display()));
        }
        let procs = dir.join("cgroup.procs");
        // The process joins the cgroup first, then (when given) the network
        // namespace: `ip netns exec` gives it a mount namespace whose /sys
        // shows the namespace's interfaces (cgroup-network looks there) and
        // no cgroup mounts, so joining the cgroup from inside would fail.
        let work = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 600";
        let script = match netns {
            Some(ns) => format!(
                "echo $$ > {} || exit 1; exec ip netns exec {} sh -c '{work}'",
                procs.display(),
                ns.name
            ),
            None => format!("echo $$ > {} || exit 1; {work}", procs.display()),
        };
        let mut command = Command::new("sh");
        command.args(["-c", &script]);
        let process = command.spawn().map_err(|e| e.to_string())?;
        let cgroup = TestCgroup {
            name,
            dir,
            made_parent,
            process,
        };
        // Ready once the process has used CPU in it (netdata's `cpu`
        // charts need a non-zero count).
        real::poll(Duration::from_secs(20), Duration::from_millis(50), || {
            let stat = fs::read_to_string(cgroup.dir.join("cpu.stat")).ok()?;
            stat.lines()
                .filter_map(|l| l.strip_prefix("user_usec "))
                .any(|v| v.trim() != "0")
                .then_some(())
        })
        .ok_or("the process in the test cgroup used no CPU")?;
        Ok(cgroup)
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = fs::remove_dir(&self.dir);
        if let Some(parent) = &self.made_parent {
            let _ = fs::remove_dir(parent);
        }
    }
}

/// netdata's cgroup naming script and network interface finder (Debian's
/// netdata package).
const CGROUP_NAME_SCRIPT: &str = "/usr/lib/netdata/plugins.d/cgroup-name.sh";
const CGROUP_NETWORK: &str = "/usr/lib/netdata/plugins.d/cgroup-network";

/// A network namespace with one end of a veth pair (`eth0` inside, up)
/// and the other on the host (`bhv_PID`, up); removed when dropped.
struct TestNetns {
    name: String,
    host_device: String,
}

impl TestNetns {
    fn create() -> Result<TestNetns, String> {
        let pid = std::process::id();
        let ns = TestNetns {
            name: format!("bhns_{pid}"),
            host_device: format!("bhv_{pid}"),
        };
        let peer = format!("bhp_{pid}");
        let steps: [&[&str]; 6] = [
            &["netns", "add", &ns.name],
            &[
                "link",
                "add",
                &ns.host_device,
                "type",
                "veth",
                "peer",
                "name",
                &peer,
            ],
            &["link", "set", &peer, "netns", &ns.name],
            &["-n", &ns.name, "link", "set", &peer, "name", "eth0"],
            &["-n", &ns.name, "link", "set", "eth0", "up"],
            &["link", "set", &ns.host_device, "up"],
        ];
        for args in steps {
            let status = Command::new("ip")
                .args(args)
                .status()
                .map_err(|e| format!("ip {args:?}: {e}"))?;
            if !status.success() {
                return Err(format!("ip {args:?}: {status}"));
            }
        }
        Ok(ns)
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_device])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A cgroup made in the v1 hierarchies `cpuacct`, `memory` and `blkio`,
/// holding a process that used some CPU and then sleeps; removed when
/// dropped (with the parents the test made).
struct TestV1Cgroup {
    dirs: Vec<std::path::PathBuf>,
    made_parents: Vec<std::path::PathBuf>,
    process: std::process::Child,
}

impl TestV1Cgroup {
    /// `parent/NAME` (`parent` may be empty) in each of the hierarchies.
    fn create(parent: &str, name: &str) -> Result<TestV1Cgroup, String> {
        let mut made = TestV1Cgroup {
            dirs: Vec::new(),
            made_parents: Vec::new(),
            process: Command::new("true").spawn().map_err(|e| e.to_string())?,
        };
        let mut joins = String::new();
        for controller in ["cpuacct", "memory", "blkio"] {
            let parent_dir = Path::new("/sys/fs/cgroup").join(controller).join(parent);
            if !parent_dir.exists() {
                fs::create_dir(&parent_dir)
                    .map_err(|e| format!("mkdir {}: {e}", parent_dir.display()))?;
                made.made_parents.push(parent_dir.clone());
            }
            let dir = parent_dir.join(name);
            fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
            joins.push_str(&format!(
                "echo $$ > {}/cgroup.procs || exit 1; ",
                dir.display()
            ));
            made.dirs.push(dir);
        }
        let _ = made.process.wait();
        made.process = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "{joins}i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 600"
                ),
            ])
            .spawn()
            .map_err(|e| e.to_string())?;
        let usage = made.dirs[0].join("cpuacct.usage");
        real::poll(Duration::from_secs(20), Duration::from_millis(50), || {
            let used = fs::read_to_string(&usage).ok()?;
            (used.trim() != "0").then_some(())
        })
        .ok_or("the process in the v1 test cgroup used no CPU")?;
        Ok(made)
    }
}

impl Drop for TestV1Cgroup {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        for dir in &self.dirs {
            let _ = fs::remove_dir(dir);
        }
        for dir in self.made_parents.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// The v1 hierarchies (`use unified cgroups = no`), cgroups alone: for the
/// cgroups the test makes (a container-like one and a systemd service),
/// backhaul exports the series netdata 1.37 exports.
#[test]
fn cgroups_v1_series_match_netdata() {
    if !require("swap test (cgroups v1)", &["netdata"]) {
        return;
    }
    let name = format!("bh_v1_{}", std::process::id());
    let made = TestV1Cgroup::create("", &name).and_then(|container| {
        TestV1Cgroup::create("system.slice", &format!("{name}.service"))
            .map(|service| (container, service))
    });
    let _cgroups = match made {
        Ok(pair) => pair,
        Err(why) if std::env::var_os(real::REQUIRE_ENV).is_some() => {
            panic!("no v1 test cgroup: {why}")
        }
        Err(why) => {
            eprintln!("swap test: no v1 test cgroup ({why}); skipped");
            return;
        }
    };
    let dir = TempDir::new("swap-v1");
    let receiver = Receiver::start();
    let web = free_ports(1)[0];
    let (main, exporting) = write_configs(dir.path(), receiver.port, web);
    // cgroups alone, reading the v1 hierarchies.
    let text = fs::read_to_string(&main)
        .unwrap()
        .replace("use unified cgroups = yes", "use unified cgroups = no")
        .replace(
            "[plugins]\n",
            "[plugins]\n\tproc = no\n\tdiskspace = no\n\tidlejitter = no\n\ttimex = no\n",
        );
    fs::write(&main, text).unwrap();
    let cpu = format!("cgroup_{name}.cpu");
    let ready = |receiver: &Receiver| {
        let rounds = receiver.rounds(&cpu);
        let services = receiver.has_chart("services.cpu");
        if rounds >= 6 && services {
            Ok(())
        } else {
            Err(format!(
                "{rounds} rounds of {cpu}, services.cpu: {services}"
            ))
        }
    };
    let what = "6 rounds of the v1 test cgroup's cpu chart and services.cpu";
    let mut netdata = Command::new("netdata");
    netdata.args(["-D", "-c", &main]);
    let theirs = series_by_chart(&record_until(
        "netdata",
        netdata,
        dir.path(),
        &receiver,
        what,
        &ready,
    ));
    let mut backhaul = Command::new(env!("CARGO_BIN_EXE_backhaul"));
    backhaul.args(["--config", &main, "--exporting-config", &exporting]);
    let ours = series_by_chart(&record_until(
        "backhaul",
        backhaul,
        dir.path(),
        &receiver,
        what,
        &ready,
    ));
    // Only the test's cgroups: others on the machine (the sandbox's own
    // memory cgroups) change between the two runs.
    let prefix = format!("cgroup_{name}.");
    let mine = |series: &Series| -> Series {
        series
            .iter()
            .filter(|(chart, _)| chart.starts_with(&prefix) || chart.starts_with("services."))
            .map(|(chart, dims)| (chart.clone(), dims.clone()))
            .collect()
    };
    let (theirs, ours) = (mine(&theirs), mine(&ours));
    for chart in ["cpu", "cpu_per_core"] {
        assert!(
            theirs.contains_key(&format!("{prefix}{chart}")),
            "netdata made no {chart} chart for the v1 test cgroup: {theirs:?}"
        );
    }
    let (matched, problems) = compare(&theirs, &ours, NOT_IMPLEMENTED);
    assert!(
        problems.is_empty(),
        "{} problems ({matched} charts matched):\n{}",
        problems.len(),
        problems.join("\n")
    );
    // cpu, cpu_per_core, the memory charts and the services' on this
    // machine kind.
    assert!(matched >= 8, "only {matched} charts compared: {theirs:?}");
}

type Series = BTreeMap<String, BTreeSet<String>>;

/// Compares netdata's series with backhaul's, chart by chart, with the
/// charts `not_implemented` lists (normally [`NOT_IMPLEMENTED`]) expected
/// from netdata only: how many charts matched, and what is wrong.
fn compare(
    theirs: &Series,
    ours: &Series,
    not_implemented: &[(&str, &str)],
) -> (usize, Vec<String>) {
    let mut problems = Vec::new();
    let mut matched = 0;
    for chart in theirs.keys().chain(ours.keys()).collect::<BTreeSet<_>>() {
        let reason = not_implemented.iter().find(|(p, _)| glob(p, chart));
        match (theirs.get(chart), ours.get(chart), reason) {
            (_, Some(_), Some((pattern, _))) => problems.push(format!(
                "{chart}: backhaul makes it, yet NOT_IMPLEMENTED lists {pattern}"
            )),
            (Some(_), None, Some(_)) => {}
            (Some(t), Some(o), None) => {
                if t == o {
                    matched += 1;
                } else {
                    let missing: Vec<_> = t.difference(o).collect();
                    let extra: Vec<_> = o.difference(t).collect();
                    problems.push(format!(
                        "{chart}: series differ; missing {missing:?}, extra {extra:?}"
                    ));
                }
            }
            (Some(_), None, None) if listed(AUTO_ON_GAUGES, chart) => {}
            (None, Some(_), None)
                if listed(AUTO_ON_GAUGES, chart) || listed(AUTO_ON_COUNTERS, chart) => {}
            (Some(_), None, None) => {
                problems.push(format!("{chart}: netdata exports it, backhaul does not"))
            }
            (None, Some(_), None) => {
                problems.push(format!("{chart}: backhaul exports it, netdata does not"))
            }
            (None, None, _) => {}
        }
    }
    (matched, problems)
}

#[test]
fn the_comparison_finds_what_differs() {
    let lines = |v: &[&str]| -> Vec<String> {
        v.iter()
            .map(|s| format!("netdata.{HOST}.{s};_is_ephemeral=false 1.0000000 1700000000"))
            .collect()
    };
    let theirs = series_by_chart(&lines(&[
        "system.cpu.user",
        "system.cpu.system",
        "net.eth0.received",
        "mem.kernel.Slab",
        "ipv4.sockstat_sockets.used",
        "netdata.uptime.uptime",
    ]));
    assert!(
        !theirs.contains_key("netdata.uptime"),
        "not a family compared"
    );
    // The same, minus what is not implemented and a gauge chart: fine.
    let ours = series_by_chart(&lines(&[
        "system.cpu.user",
        "system.cpu.system",
        "net.eth0.received",
    ]));
    let not_implemented = &[("mem.kernel", "a test")];
    assert_eq!(compare(&theirs, &ours, not_implemented), (2, vec![]));
    // A missing series, a chart netdata does not make, a chart listed as
    // not implemented that backhaul makes, a missing chart.
    let ours = series_by_chart(&lines(&[
        "system.cpu.user",
        "system.io.in",
        "mem.kernel.Slab",
        "ipv4.packets.received",
    ]));
    let (matched, problems) = compare(&theirs, &ours, not_implemented);
    assert_eq!(matched, 0);
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems[0].starts_with("mem.kernel: backhaul makes it"));
    assert!(problems[1].starts_with("net.eth0: netdata exports it"));
    assert!(problems[2].starts_with("system.cpu: series differ"));
    assert!(problems[3].starts_with("system.io: backhaul exports it"));
}

#[test]
fn globs() {
    assert!(glob("cpu.cpu*_interrupts", "cpu.cpu12_interrupts"));
    assert!(!glob("cpu.cpu*_interrupts", "cpu.cpu12_softirqs"));
    assert!(glob("disk_ext*.*", "disk_ext_await.vda"));
    assert!(!glob("disk_util.*", "disk.vda"));
    let patterns: Vec<&str> = NOT_IMPLEMENTED.iter().map(|(p, _)| *p).collect();
    assert!(!listed(&patterns, "disk_space._"));
    assert!(!listed(&patterns, "disk_inodes._dev"));
    assert!(listed(AUTO_ON_GAUGES, "disk_qops.vda"));
    assert!(glob(
        "system.*_pressure*",
        "system.io_some_pressure_stall_time"
    ));
    assert!(in_families("net_mtu.eth0"));
    assert!(!in_families("netdata.uptime"));
}
