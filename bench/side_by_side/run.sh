#!/usr/bin/env bash
# Side by side: netdata 1.37 and backhaul exporting the same load to graphite.
#
#   bench/side_by_side/run.sh            # WARMUP=20 DURATION=60 by default
#   WARMUP=30 DURATION=120 bench/side_by_side/run.sh
#   AGENTS=backhaul bench/side_by_side/run.sh   # only one of them
#   CONNECTOR=json:http bench/side_by_side/run.sh # another connector
#   SCRAPE=1 WARMUP=10 DURATION=60 bench/side_by_side/run.sh # scrape mode
#   BACKHAUL_BIN=target/profiling/backhaul bench/side_by_side/run.sh # another
#                                   build (not rebuilt), e.g. to attach perf
#
# Load: synthetic.plugin, 250 charts x 200 absolute dimensions, every second
# (50 000 values/s), run by each agent as an external plugins.d plugin. Each
# agent has one graphite instance (average, update every 1 s, names, no
# labels, only the synthetic charts: `send charts matching = synth.*`)
# sending to a line sink on 127.0.0.1 (sidecar.py), which counts lines.
# The agents run one after the other, never together, each with the same
# netdata.conf (paths aside) and the same exporting.conf.
#
# Measured over DURATION seconds after WARMUP seconds of export, between two
# quiet moments of the sink (so whole batches): the CPU of the agent's
# exporting threads (/proc/PID/task/*/schedstat run time, and utime+stime
# ticks from /proc/PID/task/*/stat as a cross-check) divided by the lines the
# sink received, and the whole process's CPU (utime+stime). Plugin processes
# are not part of either agent's figure.
#
# Exporting threads counted (the names are printed with every thread's CPU):
#   netdata: EXPORTING (the engine's main thread: it queries the database and
#            formats every line) and EXPORTING-N (the instance's worker: it
#            sends the buffer);
#   backhaul: exp:bench (one thread does both).
#
# SCRAPE=1: the same load, no exporting instance (`[exporting:global]
# enabled = no`), the web server on (`[web] mode = static-threaded`, bind to
# 127.0.0.1 at a free `default port`), and scrape.py requesting
# `/api/v1/allmetrics?format=prometheus` every SCRAPE_EVERY (10) seconds for
# DURATION seconds, once a response holds the 50 000 synthetic series and
# WARMUP seconds passed. Measured: the CPU of the agent's web threads over
# the window (which holds every scrape whole) per series served (the
# non-comment lines of the responses), and the whole process's CPU.
#   netdata: WEB[N] (its static web server threads; every other thread's
#            CPU is printed too);
#   backhaul: web (the event loop) and web:workerN (the request pool).
set -euo pipefail

WARMUP=${WARMUP:-20}
DURATION=${DURATION:-60}
AGENTS=${AGENTS:-"netdata backhaul"}
NETDATA=${NETDATA:-/usr/sbin/netdata}
BACKHAUL_BIN=${BACKHAUL_BIN:-}
NETDATA_THREADS=${NETDATA_THREADS:-'^EXPORTING'}
BACKHAUL_THREADS=${BACKHAUL_THREADS:-'^exp:bench$'}
SCRAPE=${SCRAPE:-0}
SCRAPE_EVERY=${SCRAPE_EVERY:-10}
NETDATA_WEB_THREADS=${NETDATA_WEB_THREADS:-'^WEB'}
BACKHAUL_WEB_THREADS=${BACKHAUL_WEB_THREADS:-'^web(:worker[0-9]+)?$'}
if [[ "$SCRAPE" == 1 ]]; then
    NETDATA_THREADS=$NETDATA_WEB_THREADS
    BACKHAUL_THREADS=$BACKHAUL_WEB_THREADS
fi
MATCH=${MATCH:-'synth.*'}
DB_MODE=${DB_MODE:-ram}   # netdata's [db] mode (backhaul has one store kind)
# The connector both agents use: graphite (default), json, graphite:http,
# json:http, opentsdb:http (an HTTP one makes the sink answer 200 to every
# request and count the metric lines of the bodies).
CONNECTOR=${CONNECTOR:-graphite}
SIDECAR_HTTP=""
[[ "$CONNECTOR" == *:http ]] && SIDECAR_HTTP=--http

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d /tmp/backhaul-sbs.XXXXXX)
chmod 755 "$T"

AGENT_PGID=""
SIDECAR_PID=""

# Every process this script started: the agent's session (agent, its plugin,
# netdata's spawn server), the sidecar, and anything still running from the
# temporary directory (a plugin that left the session).
stop_all() {
    if [[ -n "$SIDECAR_PID" ]] && kill -0 "$SIDECAR_PID" 2>/dev/null; then
        kill "$SIDECAR_PID" 2>/dev/null || true
        wait "$SIDECAR_PID" 2>/dev/null || true
    fi
    SIDECAR_PID=""
    if [[ -n "$AGENT_PGID" ]]; then
        kill -TERM -- "-$AGENT_PGID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 -- "-$AGENT_PGID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$AGENT_PGID" 2>/dev/null || true
        wait "$AGENT_PGID" 2>/dev/null || true
    fi
    AGENT_PGID=""
    local strays
    strays=$(pgrep -f -- "$T/" || true)
    if [[ -n "$strays" ]]; then
        # shellcheck disable=SC2086
        kill -KILL $strays 2>/dev/null || true
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ " $AGENTS " == *" netdata "* ]] && pgrep -x netdata >/dev/null; then
    echo "a netdata daemon is already running; stop it first" >&2
    exit 1
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

mkdir -p "$T/plugins.d"
ln -s "$HERE/synthetic.plugin" "$T/plugins.d/synthetic.plugin"

# $1 = directory of this agent's files, $2 = sink port (the web port with
# SCRAPE=1)
write_configs() {
    local d=$1 port=$2
    local web="    mode = none"
    if [[ "$SCRAPE" == 1 ]]; then
        web="    mode = static-threaded
    bind to = 127.0.0.1
    default port = $port"
    fi
    mkdir -p "$d/etc" "$d/lib/cloud.d" "$d/cache" "$d/log" "$d/lib/lock" "$d/registry"
    cat >"$d/etc/netdata.conf" <<EOF
[global]
    run as user = root
    hostname = bench
    update every = 1
[db]
    update every = 1
    mode = $DB_MODE
    retention = 600
[directories]
    config = $d/etc
    stock config = /usr/lib/netdata/conf.d
    plugins = $T/plugins.d
    web = /usr/share/netdata/web
    cache = $d/cache
    lib = $d/lib
    home = $d/lib
    lock = $d/lib/lock
    log = $d/log
    registry = $d/registry
    health config = $d/etc/health.d
[logs]
    debug = $d/log/debug.log
    error = $d/log/error.log
    access = none
[web]
$web
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
    apps = no
    ebpf = no
    go.d = no
    python.d = no
    charts.d = no
    slabinfo = no
    perf = no
    nfacct = no
    fping = no
    ioping = no
    cups = no
    freeipmi = no
    enable running new plugins = yes
    check for new plugins every = 60
    synthetic = yes
[statsd]
    enabled = no
[ml]
    enabled = no
[health]
    enabled = no
[registry]
    enabled = no
EOF
    cat >"$d/etc/exporting.conf" <<EOF
[exporting:global]
    enabled = yes

[$CONNECTOR:bench]
    enabled = yes
    destination = 127.0.0.1:$port
    data source = average
    update every = 1
    prefix = netdata
    send names instead of ids = yes
    send configured labels = no
    send automatic labels = no
    send charts matching = $MATCH
    buffer on failures = 10
    timeout ms = 20000
EOF
    if [[ "$SCRAPE" == 1 ]]; then
        printf '[exporting:global]\n    enabled = no\n' >"$d/etc/exporting.conf"
    fi
    # netdata: no cloud, no anonymous statistics
    printf '[global]\n    enabled = no\n' >"$d/lib/cloud.d/cloud.conf"
    touch "$d/etc/.opt-out-from-anonymous-statistics"
}

# $1 = agent name; the agent's command line follows
run_agent() {
    local name=$1 threads=$2
    shift 2
    local d="$T/$name" port
    port=$(free_port)
    write_configs "$d" "$port"
    if [[ "$SCRAPE" == 1 ]]; then
        echo "== $name: web server on 127.0.0.1:$port, warm-up ${WARMUP}s, measure ${DURATION}s" >&2
        python3 "$HERE/scrape.py" --port "$port" --pid-file "$d/pid" \
            --warmup "$WARMUP" --duration "$DURATION" --every "$SCRAPE_EVERY" \
            --threads "$threads" --out "$T/$name.json" &
    else
        echo "== $name: sink on 127.0.0.1:$port, warm-up ${WARMUP}s, measure ${DURATION}s" >&2
        python3 "$HERE/sidecar.py" --port "$port" --pid-file "$d/pid" \
            --warmup "$WARMUP" --duration "$DURATION" --threads "$threads" $SIDECAR_HTTP \
            --out "$T/$name.json" &
    fi
    SIDECAR_PID=$!
    sleep 0.5
    # own session, so that the agent and all it starts can be stopped at once
    local cmd=("$@")
    local i
    for i in "${!cmd[@]}"; do cmd[i]=${cmd[i]//@D@/$d}; done
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$d/pid" "${cmd[@]}" \
        >"$d/stdout.log" 2>"$d/stderr.log" </dev/null &
    AGENT_PGID=$!
    for _ in $(seq 1 50); do [[ -s "$d/pid" ]] && break; sleep 0.1; done
    [[ -s "$d/pid" ]] && AGENT_PGID=$(cat "$d/pid")
    local rc=0
    wait "$SIDECAR_PID" || rc=$?
    SIDECAR_PID=""
    if ! kill -0 "$AGENT_PGID" 2>/dev/null; then
        echo "$name exited early; its stderr:" >&2
        tail -20 "$d/stderr.log" >&2
        tail -20 "$d/log/error.log" >&2 2>/dev/null || true
        rc=1
    fi
    stop_all
    if [[ $rc -ne 0 ]]; then
        echo "$name: measurement failed (sidecar exit $rc)" >&2
        exit 1
    fi
    if [[ "$name" == netdata ]]; then
        grep -E 'EXPORTING|exporting' "$d/log/error.log" | tail -5 >&2 || true
    else
        # [logs] error above sends backhaul's log to the file too.
        cat "$d/stderr.log" "$d/log/error.log" 2>/dev/null | grep -Ei 'warn|error' |
            grep -v 'not used by backhaul' | tail -5 >&2 || true
    fi
}

for agent in $AGENTS; do
    case $agent in
    netdata)
        [[ -x "$NETDATA" ]] || { echo "no netdata at $NETDATA" >&2; exit 1; }
        run_agent netdata "$NETDATA_THREADS" "$NETDATA" -D -c @D@/etc/netdata.conf
        ;;
    backhaul)
        if [[ -z "$BACKHAUL_BIN" ]]; then
            (cd "$ROOT" && cargo build --release -q -p backhaul)
            BACKHAUL_BIN="$ROOT/target/release/backhaul"
        fi
        run_agent backhaul "$BACKHAUL_THREADS" "$(realpath "$BACKHAUL_BIN")" \
            --config @D@/etc/netdata.conf --exporting-config @D@/etc/exporting.conf
        ;;
    *)
        echo "unknown agent $agent" >&2
        exit 2
        ;;
    esac
done

if [[ "$SCRAPE" == 1 ]]; then
python3 - "$T" $AGENTS <<'EOF'
import json, sys
t, agents = sys.argv[1], sys.argv[2:]
res = {a: json.load(open(f"{t}/{a}.json")) for a in agents}
for a, r in res.items():
    print(f"\n{a}: threads over {r['elapsed_s']:.1f} s (CPU ms by schedstat / ticks; * = counted as web)")
    for th in sorted(r["threads"], key=lambda x: -(x["ns"] or 0)):
        mark = "*" if th["counted"] else " "
        ns = th["ns"] if th["ns"] is not None else float("nan")
        print(f"  {mark} {th['name']:<18} {ns/1e6:9.1f} ms {th['ticks']*10:7d} ms")
    print(f"  {r['scrapes']} scrapes, {r['series_per_scrape_min']}..{r['series_per_scrape_max']} series each, "
          f"{r['bytes_per_scrape_avg']/1e6:.1f} MB avg, took avg {r['scrape_s_avg']*1000:.0f} ms max {r['scrape_s_max']*1000:.0f} ms")
print()
print("| agent | scrapes | series per scrape | web threads | web CPU ns/series | (from ticks) | ms per scrape (client) | process CPU % of a core |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for a, r in res.items():
    print(f"| {a} | {r['scrapes']} | {r['series_per_scrape_max']} | {' + '.join(r['web_threads'])} | "
          f"**{r['web_ns_per_series']:.0f}** | {r['web_ns_per_series_ticks']:.0f} | "
          f"{r['scrape_s_avg']*1000:.0f} | {r['process_pct_core']:.1f} % |")
if "netdata" in res and "backhaul" in res:
    n, b = res["netdata"], res["backhaul"]
    # Ticks are 10 ms: a backhaul figure of no tick at all gives no ratio.
    by_ticks = (f"{n['web_ns_per_series_ticks'] / b['web_ns_per_series_ticks']:.1f}x"
                if b['web_ns_per_series_ticks'] > 0 else "n/a, no tick counted")
    print(f"\nratio netdata/backhaul, web CPU per series: "
          f"{n['web_ns_per_series'] / b['web_ns_per_series']:.1f}x "
          f"(ticks: {by_ticks})")
EOF
exit 0
fi

python3 - "$T" $AGENTS <<'EOF'
import json, sys
t, agents = sys.argv[1], sys.argv[2:]
res = {a: json.load(open(f"{t}/{a}.json")) for a in agents}
for a, r in res.items():
    print(f"\n{a}: threads over {r['elapsed_s']:.1f} s (CPU ms by schedstat / ticks; * = counted as exporting)")
    for th in sorted(r["threads"], key=lambda x: -(x["ns"] or 0)):
        mark = "*" if th["counted"] else " "
        ns = th["ns"] if th["ns"] is not None else float("nan")
        print(f"  {mark} {th['name']:<18} {ns/1e6:9.1f} ms {th['ticks']*10:7d} ms")
    print(f"  lines {r['lines']} in {r['timestamps']} timestamps "
          f"(per timestamp {r['lines_per_timestamp_min']}..{r['lines_per_timestamp_max']}, "
          f"gaps {r['timestamp_gaps']}), lag avg {r['lag_avg_s'] or 0:.2f} s max {r['lag_max_s']:.2f} s, "
          f"connections {r['connections']}")
print()
print("| agent | lines/s received | exporting threads | exporting CPU ns/line | (from ticks) | exporting CPU % of a core | process CPU % of a core |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for a, r in res.items():
    print(f"| {a} | {r['lines_per_s']:.0f} | {' + '.join(r['exporting_threads'])} | "
          f"**{r['exporting_ns_per_line']:.0f}** | {r['exporting_ns_per_line_ticks']:.0f} | "
          f"{r['exporting_pct_core']:.2f} % | {r['process_pct_core']:.1f} % |")
if "netdata" in res and "backhaul" in res:
    n, b = res["netdata"], res["backhaul"]
    print(f"\nratio netdata/backhaul, exporting CPU per line: "
          f"{n['exporting_ns_per_line'] / b['exporting_ns_per_line']:.1f}x "
          f"(ticks: {n['exporting_ns_per_line_ticks'] / max(b['exporting_ns_per_line_ticks'], 1e-9):.1f}x); "
          f"process CPU: {n['process_pct_core'] / max(b['process_pct_core'], 1e-9):.1f}x")
EOF
