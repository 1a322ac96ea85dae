#!/usr/bin/env python3
"""Remote write side by side: backhaul's `prometheus_remote_write` instance
against Prometheus 2.42 in agent mode scraping the same series from
backhaul and remote-writing them, both to the same receiver.

    cargo build --release -p backhaul
    python3 bench/remote_write/run.py              # WARMUP=15 DURATION=60
    WARMUP=10 DURATION=30 python3 bench/remote_write/run.py
    RUNS=backhaul python3 bench/remote_write/run.py   # one side only

The load is the side-by-side one (bench/side_by_side/synthetic.plugin: 250
charts x 200 dimensions, every second), run by backhaul as a plugins.d
plugin, with its web server on 127.0.0.1 at a free port. The receiver is
in this script: an HTTP/1.1 server on 127.0.0.1 that answers 204 to every
`POST /api/v1/write`, snappy-decodes every body (a small decoder here: no
python-snappy needed) and counts its time series, and in one request of
CHECK_EVERY (10) the samples inside them too (it checks there is one per
series, so that series are samples).

Two runs, one after the other:

  backhaul    backhaul exports the synthetic charts with
              `[prometheus_remote_write:bench]` (average, every 1 s, names)
              to the receiver. Counted: its thread `exp:bench`, which
              reads the store, builds the batch, encodes, compresses and
              sends.
  prometheus  backhaul with no exporting instance; `prometheus
              --enable-feature=agent` scrapes
              /api/v1/allmetrics?format=prometheus every SCRAPE_EVERY (1 s)
              with netdata's documented scrape config (`honor_labels`) and
              remote-writes (its default queue settings) to the receiver.
              Counted: the whole Prometheus process (scrape, parse, WAL,
              encode, compress, send).

Each run: WARMUP seconds after the first samples arrive, then DURATION
seconds between two quiet moments of the receiver (no request for 0.2 s),
CPU (schedstat run time of the counted threads; utime+stime ticks as a
cross-check) divided by the samples received in the window. Every thread's
CPU is printed, and backhaul's whole process too (in the prometheus run its
web threads serve the scrapes: that cost is backhaul's, not Prometheus').
Everything listens on 127.0.0.1, lives in a temporary directory, and is
stopped at the end (or on error or Ctrl-C).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WARMUP = float(os.environ.get("WARMUP", "15"))
DURATION = float(os.environ.get("DURATION", "60"))
SCRAPE_EVERY = os.environ.get("SCRAPE_EVERY", "1s")
CHECK_EVERY = int(os.environ.get("CHECK_EVERY", "10"))
RUNS = os.environ.get("RUNS", "backhaul prometheus").split()
PROMETHEUS = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")
TIMEOUT = float(os.environ.get("TIMEOUT", "600"))
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BACKHAUL = os.path.join(TARGET, "release", "backhaul")
PLUGIN = os.path.join(ROOT, "bench", "side_by_side", "synthetic.plugin")
SERIES = 250 * 200


# ---------------------------------------------------------------- receiver


def snappy_decompress(buf):
    """A snappy block (not framed), as Prometheus' remote write sends."""
    n, shift, i = 0, 0, 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
    out = bytearray()
    end = len(buf)
    while i < end:
        tag = buf[i]
        i += 1
        kind = tag & 3
        if kind == 0:
            ln = tag >> 2
            if ln >= 60:
                nb = ln - 59
                ln = int.from_bytes(buf[i : i + nb], "little")
                i += nb
            ln += 1
            out += buf[i : i + ln]
            i += ln
            continue
        if kind == 1:
            ln = ((tag >> 2) & 7) + 4
            off = ((tag >> 5) << 8) | buf[i]
            i += 1
        elif kind == 2:
            ln = (tag >> 2) + 1
            off = buf[i] | (buf[i + 1] << 8)
            i += 2
        else:
            ln = (tag >> 2) + 1
            off = int.from_bytes(buf[i : i + 4], "little")
            i += 4
        start = len(out) - off
        if off <= 0 or start < 0:
            raise ValueError("bad snappy copy")
        if off >= ln:
            out += out[start : start + ln]
        else:
            out += (out[start:] * (ln // off + 1))[:ln]
    if len(out) != n:
        raise ValueError(f"snappy: {len(out)} bytes, header says {n}")
    return out


def varint(buf, i):
    n, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, i
        shift += 7


def count_series(pb, samples_too):
    """Time series in a WriteRequest, and (if asked) samples in them."""
    series = samples = 0
    i, end = 0, len(pb)
    while i < end:
        key = pb[i]
        ln, i = varint(pb, i + 1)
        if key == 0x0A:
            series += 1
            if samples_too:
                j, stop = i, i + ln
                while j < stop:
                    k = pb[j]
                    fl, j = varint(pb, j + 1)
                    samples += k == 0x12
                    j += fl
        i += ln
    return series, samples


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.body_bytes = 0
        self.series = 0
        self.checked_series = 0
        self.checked_samples = 0
        self.errors = 0
        self.in_flight = 0
        self.last_end = time.monotonic()

    def snapshot(self):
        with self.lock:
            return dict(
                requests=self.requests,
                body_bytes=self.body_bytes,
                series=self.series,
                checked_series=self.checked_series,
                checked_samples=self.checked_samples,
                errors=self.errors,
            )

    def quiet_for(self):
        with self.lock:
            if self.in_flight:
                return 0.0
            return time.monotonic() - self.last_end


COUNTS = Counts()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        with COUNTS.lock:
            COUNTS.in_flight += 1
            n = COUNTS.requests
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            check = n % CHECK_EVERY == 0
            try:
                series, samples = count_series(snappy_decompress(body), check)
                ok = True
            except (ValueError, IndexError):
                series, samples, ok = 0, 0, False
            self.send_response(204 if ok else 400)
            self.send_header("Content-Length", "0")
            self.end_headers()
        finally:
            with COUNTS.lock:
                COUNTS.in_flight -= 1
                COUNTS.last_end = time.monotonic()
                COUNTS.requests += 1
                COUNTS.body_bytes += len(body)
                COUNTS.series += series
                if check and ok:
                    COUNTS.checked_series += series
                    COUNTS.checked_samples += samples
                COUNTS.errors += not ok


# ---------------------------------------------------------------- processes


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def threads(pid):
    """tid -> (name, schedstat run ns, utime+stime ticks)."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index(b"(") + 1 : stat.rindex(b")")].decode(errors="replace")
        fields = stat[stat.rindex(b")") + 2 :].split()
        out[int(tid)] = (name, ns, int(fields[11]) + int(fields[12]))
    return out


def process_ticks(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def write_backhaul_config(d, web_port, receiver_port, export):
    for sub in ("etc", "lib/cloud.d", "cache", "log", "lib/lock", "registry", "plugins.d"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    os.symlink(PLUGIN, os.path.join(d, "plugins.d", "synthetic.plugin"))
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
    plugins = {d}/plugins.d
    cache = {d}/cache
    lib = {d}/lib
    home = {d}/lib
    lock = {d}/lib/lock
    log = {d}/log
    registry = {d}/registry
[logs]
    debug = {d}/log/debug.log
    error = {d}/log/error.log
    access = none
[web]
    mode = static-threaded
    bind to = 127.0.0.1
    default port = {web_port}
[plugins]
    proc = no
    diskspace = no
    cgroups = no
    tc = no
    idlejitter = no
    timex = no
    checks = no
    netdata monitoring = no
    statsd = no
    enable running new plugins = yes
    synthetic = yes
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
    exporting = "[exporting:global]\n    enabled = no\n"
    if export:
        exporting = f"""[exporting:global]
    enabled = yes

[prometheus_remote_write:bench]
    enabled = yes
    destination = 127.0.0.1:{receiver_port}
    remote write URL path = /api/v1/write
    data source = average
    update every = 1
    prefix = netdata
    send names instead of ids = yes
    send configured labels = no
    send automatic labels = no
    send charts matching = synth.*
    buffer on failures = 10
    timeout ms = 20000
"""
    with open(os.path.join(d, "etc", "exporting.conf"), "w") as f:
        f.write(exporting)


def write_prometheus_config(d, web_port, receiver_port):
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "prometheus.yml")
    with open(path, "w") as f:
        f.write(f"""global:
  scrape_interval: {SCRAPE_EVERY}
  scrape_timeout: {SCRAPE_EVERY}
scrape_configs:
  - job_name: backhaul
    metrics_path: /api/v1/allmetrics
    params:
      format: [prometheus]
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:{web_port}']
remote_write:
  - url: http://127.0.0.1:{receiver_port}/api/v1/write
""")
    return path


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_quiet(deadline, quiet=0.2):
    while time.monotonic() < deadline:
        if COUNTS.quiet_for() >= quiet:
            return True
        time.sleep(0.01)
    return False


def measure(name, counted_pid, counted_threads, others):
    # counted_pid: the Popen whose threads matching counted_threads count;
    # others: (Popen, label) whose CPU is only printed.
    """Waits for samples, then WARMUP, then measures DURATION seconds."""
    deadline = time.monotonic() + TIMEOUT
    while COUNTS.snapshot()["series"] < SERIES:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: no samples reached the receiver")
        for proc in [counted_pid] + [p for p, _ in others]:
            if proc.poll() is not None:
                raise RuntimeError(f"{name}: a process exited early")
        time.sleep(0.1)
    print(f"== {name}: samples arriving; warm-up {WARMUP:.0f} s, measure {DURATION:.0f} s", file=sys.stderr)
    time.sleep(WARMUP)
    wait_quiet(time.monotonic() + 5)
    t0, c0 = time.monotonic(), COUNTS.snapshot()
    th0 = {p.pid: threads(p.pid) for p in [counted_pid] + [p for p, _ in others]}
    pt0 = {p.pid: process_ticks(p.pid) for p in [counted_pid] + [p for p, _ in others]}
    time.sleep(DURATION)
    quiet = wait_quiet(time.monotonic() + 5)
    t1, c1 = time.monotonic(), COUNTS.snapshot()
    th1 = {p.pid: threads(p.pid) for p in [counted_pid] + [p for p, _ in others]}
    pt1 = {p.pid: process_ticks(p.pid) for p in [counted_pid] + [p for p, _ in others]}
    elapsed = t1 - t0
    counts = {k: c1[k] - c0[k] for k in c0}

    def per_thread(pid, counted):
        rows = []
        for tid, (tname, ns, ticks) in th1[pid].items():
            ns0, ticks0 = th0[pid].get(tid, (tname, 0, 0))[1:]
            rows.append(dict(name=tname, ns=ns - ns0, ticks=ticks - ticks0, counted=counted(tname)))
        return rows

    pattern = re.compile(counted_threads)
    rows = per_thread(counted_pid.pid, lambda n: bool(pattern.search(n)))
    counted_ns = sum(r["ns"] for r in rows if r["counted"])
    counted_ticks = sum(r["ticks"] for r in rows if r["counted"])
    tick_ns = 1e9 / os.sysconf("SC_CLK_TCK")
    samples = counts["series"]
    result = dict(
        name=name,
        elapsed_s=elapsed,
        quiet_end=quiet,
        counts=counts,
        samples=samples,
        samples_per_s=samples / elapsed,
        counted_threads=sorted({r["name"] for r in rows if r["counted"]}),
        counted_ns=counted_ns,
        ns_per_sample=counted_ns / max(samples, 1),
        ns_per_sample_ticks=counted_ticks * tick_ns / max(samples, 1),
        counted_pct_core=counted_ns / 1e9 / elapsed * 100,
        threads=rows,
        processes={},
    )
    for proc, label in [(counted_pid, name)] + others:
        result["processes"][label] = dict(
            pct_core=(pt1[proc.pid] - pt0[proc.pid]) * tick_ns / 1e9 / elapsed * 100,
            threads=per_thread(proc.pid, lambda n: False) if proc is not counted_pid else rows,
        )
    return result


def run_backhaul_side(t, receiver_port):
    d = os.path.join(t, "backhaul-rw")
    web = free_port()
    write_backhaul_config(d, web, receiver_port, export=True)
    log = open(os.path.join(d, "stderr.log"), "w")
    agent = subprocess.Popen(
        [BACKHAUL, "--config", f"{d}/etc/netdata.conf", "--exporting-config", f"{d}/etc/exporting.conf"],
        stdout=log, stderr=log, start_new_session=True)
    try:
        return measure("backhaul", agent, r"^exp:bench$", [])
    finally:
        stop(agent)
        log.close()


def run_prometheus_side(t, receiver_port):
    d = os.path.join(t, "backhaul-scraped")
    web = free_port()
    write_backhaul_config(d, web, receiver_port, export=False)
    log = open(os.path.join(d, "stderr.log"), "w")
    agent = subprocess.Popen(
        [BACKHAUL, "--config", f"{d}/etc/netdata.conf", "--exporting-config", f"{d}/etc/exporting.conf"],
        stdout=log, stderr=log, start_new_session=True)
    pd = os.path.join(t, "prometheus")
    config = write_prometheus_config(pd, web, receiver_port)
    plog = open(os.path.join(t, "prometheus.log"), "w")
    prom = None
    try:
        prom = subprocess.Popen(
            [PROMETHEUS, "--enable-feature=agent", f"--config.file={config}",
             f"--storage.agent.path={pd}/agent", f"--web.listen-address=127.0.0.1:{free_port()}"],
            stdout=plog, stderr=plog, start_new_session=True)
        return measure("prometheus", prom, r".", [(agent, "backhaul (scraped)")])
    finally:
        stop(prom)
        stop(agent)
        log.close()
        plog.close()


def main():
    if not os.access(BACKHAUL, os.X_OK):
        sys.exit(f"no backhaul at {BACKHAUL}: cargo build --release -p backhaul")
    if "prometheus" in RUNS and not os.access(PROMETHEUS, os.X_OK):
        sys.exit(f"no prometheus at {PROMETHEUS} (Debian package prometheus)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    receiver_port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    t = tempfile.mkdtemp(prefix="backhaul-rw-sbs.")
    results = []
    try:
        for run in RUNS:
            # A fresh count per run; the previous run's stragglers are over.
            wait_quiet(time.monotonic() + 5, quiet=1.0)
            with COUNTS.lock:
                COUNTS.series = COUNTS.requests = COUNTS.body_bytes = 0
                COUNTS.checked_series = COUNTS.checked_samples = COUNTS.errors = 0
            if run == "backhaul":
                results.append(run_backhaul_side(t, receiver_port))
            elif run == "prometheus":
                results.append(run_prometheus_side(t, receiver_port))
            else:
                sys.exit(f"unknown run {run}")
    finally:
        server.shutdown()
        shutil.rmtree(t, ignore_errors=True)

    for r in results:
        c = r["counts"]
        print(f"\n{r['name']}: {r['elapsed_s']:.1f} s, {c['requests']} requests, {c['body_bytes'] / 1e6:.1f} MB of bodies, "
              f"{r['samples']} samples ({r['samples_per_s']:.0f}/s); checked {c['checked_series']} series: "
              f"{c['checked_samples']} samples; {c['errors']} bad bodies; quiet end: {r['quiet_end']}")
        for label, p in r["processes"].items():
            print(f"  process {label}: {p['pct_core']:.1f} % of a core")
            for th in sorted(p["threads"], key=lambda x: -x["ns"])[:12]:
                mark = "*" if th["counted"] else " "
                print(f"    {mark} {th['name']:<18} {th['ns'] / 1e6:9.1f} ms {th['ticks'] * 10:7d} ms")
    print()
    print("| pipeline | samples/s received | counted | CPU ns/sample | (from ticks) | counted CPU % of a core |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        counted = "whole process" if r["name"] == "prometheus" else " + ".join(r["counted_threads"])
        print(f"| {r['name']} | {r['samples_per_s']:.0f} | {counted} | **{r['ns_per_sample']:.0f}** | "
              f"{r['ns_per_sample_ticks']:.0f} | {r['counted_pct_core']:.2f} % |")
    by = {r["name"]: r for r in results}
    if "backhaul" in by and "prometheus" in by:
        b, p = by["backhaul"], by["prometheus"]
        print(f"\nratio prometheus/backhaul, CPU per sample: {p['ns_per_sample'] / b['ns_per_sample']:.1f}x "
              f"(ticks: {p['ns_per_sample_ticks'] / max(b['ns_per_sample_ticks'], 1e-9):.1f}x)")
    print(json.dumps(results), file=open(os.environ.get("OUT", os.devnull), "w"))


if __name__ == "__main__":
    main()
