#!/usr/bin/env python3
"""Scraper and CPU meter for `SCRAPE=1 bench/side_by_side/run.sh`.

Once the agent's pid file exists, requests
`/api/v1/allmetrics?format=prometheus` on 127.0.0.1:PORT every half second
until a response holds at least MIN_SERIES series (non-comment lines), then
waits WARMUP seconds. Measurement: it snapshots the CPU of every thread of
the agent (/proc/PID/task/*/schedstat run time in ns, and utime+stime ticks
from /proc/PID/task/*/stat), requests the same URL every EVERY seconds
for DURATION seconds (the first at once), counting the non-comment lines
of each response (the series served), and snapshots again EVERY seconds
after the last request was sent, so the window holds every scrape whole.

Writes the result as JSON to OUT and exits.
"""

import argparse
import http.client
import json
import os
import re
import sys
import time

from sidecar import TICK, read_process_ticks, read_threads

PATH = "/api/v1/allmetrics?format=prometheus"


def scrape(port):
    """(status, series, bytes, seconds) of one request."""
    started = time.time()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", PATH, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        status = resp.status
    finally:
        conn.close()
    took = time.time() - started
    series = sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))
    return status, series, len(body), took


def snapshot(pid):
    return {
        "time": time.time(),
        "threads": read_threads(pid),
        "process_ticks": read_process_ticks(pid),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True, help="the agent's web port")
    ap.add_argument("--pid-file", required=True)
    ap.add_argument("--warmup", type=float, default=20)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--every", type=float, default=10)
    ap.add_argument("--min-series", type=int, default=50000)
    ap.add_argument("--threads", required=True, help="regex: web thread names")
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=float, default=300, help="give up after")
    args = ap.parse_args()
    counted = re.compile(args.threads)

    start = time.time()
    pid = None
    last = None
    while True:
        if time.time() > start + args.timeout:
            raise SystemExit("scrape: no pid / never %d series within %.0f s (last: %r)"
                             % (args.min_series, args.timeout, last))
        if pid is None and os.path.exists(args.pid_file):
            with open(args.pid_file) as f:
                text = f.read().strip()
            if text:
                pid = int(text)
        if pid is not None:
            if not os.path.exists("/proc/%d" % pid):
                raise SystemExit("scrape: the agent (pid %d) exited" % pid)
            try:
                last = scrape(args.port)
            except OSError as e:
                last = str(e)
            if isinstance(last, tuple) and last[0] == 200 and last[1] >= args.min_series:
                break
        time.sleep(0.5)
    time.sleep(args.warmup)

    a = snapshot(pid)
    scrapes = []
    at = a["time"]
    while at < a["time"] + args.duration:
        time.sleep(max(0.0, at - time.time()))
        status, series, size, took = scrape(args.port)
        if status != 200:
            raise SystemExit("scrape: HTTP %d" % status)
        scrapes.append({"series": series, "bytes": size, "seconds": took})
        at += args.every
    time.sleep(max(0.0, at - time.time()))
    b = snapshot(pid)

    elapsed = b["time"] - a["time"]
    threads = []
    for tid, (comm, ticks, ns) in sorted(b["threads"].items()):
        ticks0, ns0 = 0, 0
        if tid in a["threads"]:
            _, ticks0, ns0 = a["threads"][tid]
        d_ns = None if ns is None or ns0 is None else ns - ns0
        threads.append({
            "tid": tid,
            "name": comm,
            "ticks": ticks - ticks0,
            "ns": d_ns,
            "counted": bool(counted.search(comm)),
        })
    series = sum(s["series"] for s in scrapes)
    web_ticks = sum(t["ticks"] for t in threads if t["counted"])
    web_ns = sum(t["ns"] or 0 for t in threads if t["counted"])
    result = {
        "elapsed_s": elapsed,
        "scrapes": len(scrapes),
        "series": series,
        "series_per_scrape_min": min(s["series"] for s in scrapes),
        "series_per_scrape_max": max(s["series"] for s in scrapes),
        "bytes_per_scrape_avg": sum(s["bytes"] for s in scrapes) / len(scrapes),
        "scrape_s_avg": sum(s["seconds"] for s in scrapes) / len(scrapes),
        "scrape_s_max": max(s["seconds"] for s in scrapes),
        "web_threads": sorted({t["name"] for t in threads if t["counted"]}),
        "web_cpu_ns_schedstat": web_ns,
        "web_cpu_ticks": web_ticks,
        "web_ns_per_series": web_ns / series if series else None,
        "web_ns_per_series_ticks": web_ticks * 1e9 / TICK / series if series else None,
        "process_cpu_ticks": b["process_ticks"] - a["process_ticks"],
        "process_pct_core": (b["process_ticks"] - a["process_ticks"]) / TICK / elapsed * 100,
        "threads": threads,
    }
    with open(args.out + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.rename(args.out + ".tmp", args.out)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
