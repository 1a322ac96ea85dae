#!/usr/bin/env python3
"""statsd load for the side-by-side CPU comparison: sends PPS datagrams per
second of LINES statsd lines each (1,000 names: 40 % counters, 30 % gauges,
20 % timers, 10 % sets) to 127.0.0.1:PORT for SECONDS seconds, then prints
the datagrams and lines sent.

usage: load.py PORT PPS SECONDS [LINES]
"""
import random
import socket
import sys
import time


def packets(lines_per_packet, count=2000):
    rnd = random.Random(42)
    out = []
    for _ in range(count):
        lines = []
        for _ in range(lines_per_packet):
            n = rnd.randrange(1000)
            v = rnd.randrange(10000)
            kind = n % 10
            if kind <= 3:
                lines.append(f"app.requests.n{n}:{v % 10}|c")
            elif kind <= 6:
                lines.append(f"app.queue.n{n}:{v}|g")
            elif kind <= 8:
                lines.append(f"app.latency.n{n}:{v / 10}|ms")
            else:
                lines.append(f"app.users.n{n}:user{v % 500}|s")
        out.append("\n".join(lines).encode())
    return out


def main():
    port, pps, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    per = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    data = packets(per)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    addr = ("127.0.0.1", port)
    start = time.monotonic()
    sent = 0
    i = 0
    batch = max(1, pps // 100)
    while True:
        now = time.monotonic() - start
        if now >= seconds:
            break
        due = int(now * pps)
        while sent < due:
            for _ in range(min(batch, due - sent)):
                s.sendto(data[i], addr)
                i = (i + 1) % len(data)
                sent += 1
        time.sleep(0.002)
    print(f"datagrams={sent} lines={sent * per}")


if __name__ == "__main__":
    main()
