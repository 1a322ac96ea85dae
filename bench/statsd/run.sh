#!/usr/bin/env bash
# statsd side by side: the same UDP statsd load (bench/statsd/load.py) sent to
# netdata 1.37 (Debian's /usr/sbin/netdata) and then to backhaul (release
# build), each with every other collector off; prints each agent's process
# CPU (utime + stime of /proc/PID/stat) over the measured window, and the
# statsd lines each counted (netdata.statsd_events, as collected).
#
#   cargo build --release -p backhaul
#   bench/statsd/run.sh                  # PPS=10000 LINES=20 WARMUP=5 DURATION=20
set -euo pipefail
cd "$(dirname "$0")/../.."
PPS=${PPS:-10000}
LINES=${LINES:-20}
WARMUP=${WARMUP:-5}
DURATION=${DURATION:-20}
AGENTS=${AGENTS:-"netdata backhaul"}
BACKHAUL=${BACKHAUL:-target/release/backhaul}
TICK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/statsd-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
WEB=19101
STATSD=18191

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }

events() {
    curl -s "http://127.0.0.1:$WEB/api/v1/allmetrics?format=prometheus&data=as-collected&timestamps=no" |
        awk '/chart="netdata.statsd_events"/ && !/unknown|errors/ {s += $2} END {print s + 0}'
}

run_agent() {
    local agent=$1 pid
    mkdir -p "$WORK/$agent"/{etc/statsd.d,stock/statsd.d,cache,lib,log}
    if [ "$agent" = netdata ]; then
        cat >"$WORK/$agent/netdata.conf" <<CONF
[global]
    run as user = $(id -un)
[db]
    mode = ram
    update every = 1
[directories]
    config = $WORK/$agent/etc
    stock config = $WORK/$agent/stock
    cache = $WORK/$agent/cache
    lib = $WORK/$agent/lib
    log = $WORK/$agent/log
    home = $WORK/$agent
[logs]
    error = $WORK/$agent/log/error.log
    access = none
[web]
    bind to = 127.0.0.1:$WEB
[plugins]
    proc = no
    diskspace = no
    cgroups = no
    tc = no
    idlejitter = no
    timex = no
    enable running new plugins = no
    statsd = yes
[health]
    enabled = no
[ml]
    enabled = no
[cloud]
    enabled = no
[statsd]
    bind to = udp:127.0.0.1:$STATSD tcp:127.0.0.1:$STATSD
CONF
        /usr/sbin/netdata -D -c "$WORK/$agent/netdata.conf" -P "$WORK/$agent/pid" >"$WORK/$agent/out" 2>&1 &
        pid=$!
    else
        cat >"$WORK/$agent/netdata.conf" <<CONF
[db]
    update every = 1
[directories]
    config = $WORK/$agent/etc
    stock config = $WORK/$agent/stock
[web]
    bind to = 127.0.0.1:$WEB
[plugins]
    proc = no
    diskspace = no
    plugins.d = no
[statsd]
    bind to = udp:127.0.0.1:$STATSD tcp:127.0.0.1:$STATSD
CONF
        RUST_LOG=warn "$BACKHAUL" --config "$WORK/$agent/netdata.conf" >"$WORK/$agent/out" 2>&1 &
        pid=$!
    fi
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$WEB/api/v1/info" && break
        sleep 0.1
    done
    sleep 2
    python3 bench/statsd/load.py "$STATSD" "$PPS" "$((WARMUP + DURATION))" "$LINES" >"$WORK/$agent/load" &
    local load=$!
    sleep "$WARMUP"
    local before after e0 e1 sys0 sys1
    before=$(cpu_ticks "$pid")
    sys0=$(sys_ticks "$pid")
    e0=$(events)
    sleep "$DURATION"
    after=$(cpu_ticks "$pid")
    sys1=$(sys_ticks "$pid")
    e1=$(events)
    wait "$load"
    sleep 2
    local total
    total=$(events)
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    awk -v a="$agent" -v t=$((after - before)) -v s=$((sys1 - sys0)) -v hz="$TICK" -v d="$DURATION" -v e=$((e1 - e0)) -v tot="$total" -v sent="$(cat "$WORK/$agent/load")" 'BEGIN {
        printf "%-9s process CPU %6.2f %% of a core (%d ticks in %d s, %.2f %% of a core in the kernel); lines counted in the window %d (%.0f/s); %s; lines counted in all %d\n",
            a, 100 * t / hz / d, t, d, 100 * s / hz / d, e, e / d, sent, tot }'
}

for agent in $AGENTS; do
    run_agent "$agent"
done
