#!/usr/bin/env python3
"""Side by side: the CPU of the /proc collectors, netdata 1.37's proc.plugin
against backhaul's proc collectors, one agent after the other.

    cargo build --release -p backhaul
    python3 bench/side_by_side/proc.py                 # WARMUP=10 DURATION=60
    WARMUP=5 DURATION=20 python3 bench/side_by_side/proc.py

Each agent runs with the same netdata.conf (paths aside): every 1 s, only
the `proc` plugin on (no disk space, cgroups, tc, idlejitter, timex, statsd,
external plugins, health, ml), the web server on 127.0.0.1 at a free port
(asked once, at the end, for /api/v1/charts to count the charts), and the
`[plugin:proc]` modules backhaul has no collector for switched off in both
(so both read the same files). Measured over DURATION seconds after WARMUP:
the run time of the collector threads (/proc/PID/task/*/schedstat) and the
whole process's utime + stime:

  netdata:  PLUGIN[proc] (its one /proc thread);
  backhaul: col:proc (its one /proc thread).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

WARMUP = int(os.environ.get("WARMUP", "10"))
DURATION = int(os.environ.get("DURATION", "60"))
NETDATA = os.environ.get("NETDATA", "/usr/sbin/netdata")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BACKHAUL = os.path.join(TARGET, "release", "backhaul")

# netdata 1.37's proc.plugin modules that backhaul does not collect (yet):
# off in both agents.
NOT_IN_BACKHAUL = [
    "/sys/devices/system/edac/mc",
    "/sys/devices/system/node",
    "/proc/pagetypeinfo",
    "/proc/net/wireless",
    "/proc/net/sctp/snmp",
    "/proc/net/ip_vs/stats",
    "/sys/class/infiniband",
    "/proc/net/rpc/nfsd",
    "/proc/net/rpc/nfs",
    "/proc/spl/kstat/zfs/arcstats",
    "/proc/spl/kstat/zfs/pool/state",
    "/sys/fs/btrfs",
    "/sys/class/power_supply",
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_config(d, port):
    for sub in ("etc", "lib/cloud.d", "cache", "log", "lib/lock", "registry", "plugins.d"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    proc_off = "\n".join(f"    {m} = no" for m in NOT_IN_BACKHAUL)
    conf = f"""[global]
    run as user = root
    hostname = bench
    update every = 1
[db]
    update every = 1
    mode = ram
    retention = 600
[directories]
    config = {d}/etc
    stock config = /usr/lib/netdata/conf.d
    plugins = {d}/plugins.d
    web = /usr/share/netdata/web
    cache = {d}/cache
    lib = {d}/lib
    home = {d}/lib
    lock = {d}/lib/lock
    log = {d}/log
    registry = {d}/registry
    health config = {d}/etc/health.d
[logs]
    debug = {d}/log/debug.log
    error = {d}/log/error.log
    access = none
[web]
    mode = static-threaded
    bind to = 127.0.0.1
    default port = {port}
[plugins]
    proc = yes
    diskspace = no
    cgroups = no
    tc = no
    idlejitter = no
    timex = no
    checks = no
    netdata monitoring = no
    statsd = no
    enable running new plugins = no
    plugins.d = no
[plugin:proc]
{proc_off}
[statsd]
    enabled = no
[ml]
    enabled = no
[health]
    enabled = no
[registry]
    enabled = no
"""
    with open(os.path.join(d, "etc", "netdata.conf"), "w") as f:
        f.write(conf)
    with open(os.path.join(d, "etc", "exporting.conf"), "w") as f:
        f.write("[exporting:global]\n    enabled = no\n")
    with open(os.path.join(d, "lib", "cloud.d", "cloud.conf"), "w") as f:
        f.write("[global]\n    enabled = no\n")
    open(os.path.join(d, "etc", ".opt-out-from-anonymous-statistics"), "w").close()


def threads(pid):
    """name -> (schedstat run ns, utime+stime ticks) of every thread."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
        key = f"{name}/{tid}"
        out[key] = (ns, ticks)
    return out


def process_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def chart_ids(port):
    for _ in range(50):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/charts", timeout=5) as r:
                charts = json.load(r)["charts"]
                if os.environ.get("CHARTS_DUMP"):
                    with open(f"{os.environ['CHARTS_DUMP']}.{port}.json", "w") as f:
                        json.dump(charts, f)
                return sorted(charts)
        except OSError:
            time.sleep(0.2)
    return []


def run(name, cmd, counted):
    d = tempfile.mkdtemp(prefix=f"backhaul-procbench-{name}-")
    port = free_port()
    write_config(d, port)
    cmd = [c.replace("@D@", d) for c in cmd]
    log = open(os.path.join(d, "stderr.log"), "w")
    agent = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    try:
        time.sleep(WARMUP)
        if agent.poll() is not None:
            sys.exit(f"{name} exited early; see {d}/stderr.log")
        before, p0, t0 = threads(agent.pid), process_ticks(agent.pid), time.monotonic()
        time.sleep(DURATION)
        after, p1, t1 = threads(agent.pid), process_ticks(agent.pid), time.monotonic()
        charts = chart_ids(port)
    finally:
        try:
            os.killpg(agent.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            agent.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(agent.pid, signal.SIGKILL)
            agent.wait()
        log.close()
    elapsed = t1 - t0
    ns = ticks = 0
    names = []
    for key, (ns1, ticks1) in after.items():
        thread = key.split("/")[0]
        if not counted(thread):
            continue
        ns0, ticks0 = before.get(key, (0, 0))
        ns += ns1 - ns0
        ticks += ticks1 - ticks0
        names.append(thread)
    shutil.rmtree(d, ignore_errors=True)
    return {
        "agent": name,
        "threads": sorted(set(names)),
        "charts": len(charts),
        "chart_ids": charts,
        "elapsed": elapsed,
        "collector_pct": ns / 1e9 / elapsed * 100,
        "collector_ticks_pct": ticks / 100 / elapsed * 100,
        "process_pct": (p1 - p0) / 100 / elapsed * 100,
    }


def main():
    results = []
    if os.access(NETDATA, os.X_OK):
        results.append(
            run("netdata", [NETDATA, "-D", "-c", "@D@/etc/netdata.conf"],
                lambda t: t == "PLUGIN[proc]")
        )
    results.append(
        run("backhaul", [BACKHAUL, "--config", "@D@/etc/netdata.conf",
                         "--exporting-config", "@D@/etc/exporting.conf"],
            lambda t: t == "col:proc")
    )
    print(f"\nWARMUP={WARMUP} DURATION={DURATION}\n")
    print("| agent | charts | collector threads | collector CPU, % of a core | (from ticks) | process CPU, % of a core |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['agent']} | {r['charts']} | {len(r['threads'])} | **{r['collector_pct']:.3f} %** | "
              f"{r['collector_ticks_pct']:.2f} % | {r['process_pct']:.2f} % |")
    if len(results) == 2:
        a, b = set(results[0]["chart_ids"]), set(results[1]["chart_ids"])
        print(f"\ncharts only {results[0]['agent']} has: {' '.join(sorted(a - b)) or '-'}")
        print(f"charts only {results[1]['agent']} has: {' '.join(sorted(b - a)) or '-'}")
    if len(results) == 2 and results[1]["collector_pct"] > 0:
        print(f"\nratio netdata/backhaul, collector CPU: "
              f"{results[0]['collector_pct'] / results[1]['collector_pct']:.1f}x")


if __name__ == "__main__":
    main()
