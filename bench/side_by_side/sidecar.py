#!/usr/bin/env python3
"""Line sink and CPU meter for bench/side_by_side/run.sh.

Listens on 127.0.0.1:PORT, accepts any number of connections (one after the
other or at once) and reads everything, counting lines; nothing is dropped
(it only reads, so a slow sink would push back on the sender, never lose).
For every line it also takes the trailing graphite timestamp, to count the
lines per timestamp (repeats, gaps) and the lag between a line's timestamp
and its arrival.

Measurement: once the agent's pid file exists and WARMUP seconds have passed
since the first line arrived, it waits for a quiet moment (no byte for
QUIET seconds, i.e. between two batches), snapshots the CPU of every thread
of the agent (/proc/PID/task/*/stat utime+stime in clock ticks, and
/proc/PID/task/*/schedstat run time in ns) and the line count; DURATION
seconds later it waits for the next quiet moment and snapshots again. So
the window holds whole batches only, and the CPU that produced them.

Writes the result as JSON to OUT and exits.
"""

import argparse
import collections
import json
import os
import re
import selectors
import socket
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
TS_RE = re.compile(rb" (\d+)\n")
# json objects: `"timestamp": 123}` (average) or `"timestamp":123}`.
JSON_TS_RE = re.compile(rb'"timestamp": ?(\d+)\}')


def read_threads(pid):
    """{tid: (comm, ticks, ns)} for every thread of pid."""
    out = {}
    base = "/proc/%d/task" % pid
    for tid in os.listdir(base):
        try:
            with open("%s/%s/stat" % (base, tid), "rb") as f:
                stat = f.read()
            ns = None
            try:
                with open("%s/%s/schedstat" % (base, tid), "rb") as f:
                    ns = int(f.read().split()[0])
            except OSError:
                pass
        except OSError:
            continue  # thread exited meanwhile
        comm = stat[stat.index(b"(") + 1 : stat.rindex(b")")].decode(errors="replace")
        fields = stat[stat.rindex(b")") + 2 :].split()
        # fields[0] is field 3 (state): utime is field 14, stime field 15
        ticks = int(fields[11]) + int(fields[12])
        out[int(tid)] = (comm, ticks, ns)
    return out


def read_process_ticks(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


class Sink:
    def __init__(self, port, http=False):
        # HTTP mode: each connection carries HTTP/1.1 requests; every request
        # is answered 200 and its body's metric lines counted (the `[`/`]`
        # lines of a JSON body aside).
        self.http = http
        self.requests = 0
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(16)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.lines = 0
        self.bytes = 0
        self.connections = 0
        self.first_at = None
        self.last_at = 0.0
        self.tails = {}
        # counting per timestamp only while measuring
        self.per_ts = None
        self.lag_sum = 0.0
        self.lag_n = 0
        self.lag_max = 0.0

    def poll(self, timeout):
        for key, _ in self.sel.select(timeout):
            if key.data is None:
                conn, _ = self.listener.accept()
                conn.setblocking(False)
                self.sel.register(conn, selectors.EVENT_READ, conn)
                self.tails[conn] = b""
                self.connections += 1
                continue
            conn = key.data
            try:
                data = conn.recv(1 << 20)
            except ConnectionError:
                data = b""
            if not data:
                self.sel.unregister(conn)
                del self.tails[conn]
                conn.close()
                continue
            now = time.time()
            if self.first_at is None:
                self.first_at = now
            self.last_at = now
            self.bytes += len(data)
            if self.http:
                self.take_requests(conn, data, now)
                continue
            n = data.count(b"\n")
            self.lines += n
            if self.per_ts is not None and n:
                cut = data.rindex(b"\n") + 1
                chunk = self.tails[conn] + data[:cut]
                self.tails[conn] = data[cut:]
                stamps = TS_RE.findall(chunk)
                counter = collections.Counter(stamps)
                for ts, count in counter.items():
                    self.per_ts[ts] += count
                    lag = now - int(ts)
                    self.lag_sum += lag * count
                    self.lag_n += count
                    self.lag_max = max(self.lag_max, lag)
            elif n:
                self.tails[conn] = data[data.rindex(b"\n") + 1 :]
            else:
                self.tails[conn] += data

    def take_requests(self, conn, data, now):
        buf = self.tails[conn] + data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end].lower()
            length = 0
            for line in head.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(buf) < end + 4 + length:
                break
            body = buf[end + 4 : end + 4 + length]
            buf = buf[end + 4 + length :]
            json = b"application/json" in head
            n = body.count(b"\n") - (2 if json else 0)
            n = max(n, 0)
            self.lines += n
            self.requests += 1
            if self.per_ts is not None and n:
                stamps = (JSON_TS_RE if json else TS_RE).findall(body)
                for ts, count in collections.Counter(stamps).items():
                    self.per_ts[ts] += count
                    lag = now - int(ts)
                    self.lag_sum += lag * count
                    self.lag_n += count
                    self.lag_max = max(self.lag_max, lag)
            conn.setblocking(True)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            conn.setblocking(False)
        self.tails[conn] = buf

    def wait_quiet(self, quiet, deadline):
        """Polls until no byte came for `quiet` seconds (after at least one)."""
        while True:
            now = time.time()
            if self.first_at is not None and now - self.last_at >= quiet:
                return now
            if now > deadline:
                raise SystemExit("sidecar: no quiet moment before the deadline")
            self.poll(0.01)


def snapshot(sink, pid):
    return {
        "time": time.time(),
        "lines": sink.lines,
        "bytes": sink.bytes,
        "threads": read_threads(pid),
        "process_ticks": read_process_ticks(pid),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid-file", required=True)
    ap.add_argument("--warmup", type=float, default=20)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--quiet", type=float, default=0.15)
    ap.add_argument("--threads", required=True, help="regex: exporting thread names")
    ap.add_argument("--out", required=True)
    ap.add_argument("--http", action="store_true", help="answer HTTP/1.1 requests")
    ap.add_argument("--timeout", type=float, default=300, help="give up after")
    args = ap.parse_args()
    counted = re.compile(args.threads)

    sink = Sink(args.port, http=args.http)
    start = time.time()
    hard_deadline = start + args.timeout + args.warmup + args.duration
    pid = None
    while True:
        sink.poll(0.05)
        now = time.time()
        if now > start + args.timeout:
            raise SystemExit("sidecar: no data / no pid within %.0f s" % args.timeout)
        if pid is None and os.path.exists(args.pid_file):
            with open(args.pid_file) as f:
                text = f.read().strip()
            if text:
                pid = int(text)
        if pid is not None and not os.path.exists("/proc/%d" % pid):
            raise SystemExit("sidecar: the agent (pid %d) exited" % pid)
        if pid is not None and sink.first_at is not None and now - sink.first_at >= args.warmup:
            break

    sink.wait_quiet(args.quiet, hard_deadline)
    sink.per_ts = collections.Counter()
    a = snapshot(sink, pid)
    end_at = a["time"] + args.duration
    while time.time() < end_at:
        sink.poll(0.05)
    sink.wait_quiet(args.quiet, hard_deadline)
    b = snapshot(sink, pid)

    elapsed = b["time"] - a["time"]
    lines = b["lines"] - a["lines"]
    threads = []
    for tid, (comm, ticks, ns) in sorted(b["threads"].items()):
        ticks0, ns0 = 0, 0
        if tid in a["threads"]:
            _, ticks0, ns0 = a["threads"][tid]
        d_ns = None if ns is None or ns0 is None else ns - ns0
        threads.append(
            {
                "tid": tid,
                "name": comm,
                "ticks": ticks - ticks0,
                "ns": d_ns,
                "counted": bool(counted.search(comm)),
            }
        )
    exiting = [a["threads"][t][0] for t in a["threads"] if t not in b["threads"]]
    exp_ticks = sum(t["ticks"] for t in threads if t["counted"])
    exp_ns = sum(t["ns"] or 0 for t in threads if t["counted"])
    per_ts = sink.per_ts
    stamps = sorted(int(ts) for ts in per_ts)
    result = {
        "elapsed_s": elapsed,
        "lines": lines,
        "lines_per_s": lines / elapsed,
        "bytes": b["bytes"] - a["bytes"],
        "connections": sink.connections,
        "exporting_threads": sorted({t["name"] for t in threads if t["counted"]}),
        "exporting_cpu_ticks": exp_ticks,
        "exporting_cpu_ns_schedstat": exp_ns,
        "exporting_ns_per_line_ticks": exp_ticks * 1e9 / TICK / lines if lines else None,
        "exporting_ns_per_line": exp_ns / lines if lines else None,
        "exporting_pct_core": exp_ns / 1e9 / elapsed * 100,
        "process_cpu_ticks": b["process_ticks"] - a["process_ticks"],
        "process_pct_core": (b["process_ticks"] - a["process_ticks"]) / TICK / elapsed * 100,
        "timestamps": len(stamps),
        "lines_per_timestamp_min": min(per_ts.values()) if per_ts else 0,
        "lines_per_timestamp_max": max(per_ts.values()) if per_ts else 0,
        "timestamp_gaps": sum(1 for x, y in zip(stamps, stamps[1:]) if y - x != 1),
        "lag_avg_s": sink.lag_sum / sink.lag_n if sink.lag_n else None,
        "lag_max_s": sink.lag_max,
        "threads": threads,
        "threads_gone": exiting,
    }
    with open(args.out + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.rename(args.out + ".tmp", args.out)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
