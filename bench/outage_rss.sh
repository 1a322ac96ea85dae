#!/usr/bin/env bash
# The agent's memory and exporting CPU during a receiver outage.
#
#   bench/outage_rss.sh                       # 30 minutes, defaults
#   DURATION=180 SPOOL_EVERY=0 bench/outage_rss.sh
#
# Runs the release binary (target/release/backhaul, or $BACKHAUL) with
# bench/side_by_side/synthetic.plugin as its only collector (250 charts x
# 200 absolute dimensions, every second: 50 000 values/s), `[db] retention`
# 3600 (netdata's default history), and one graphite instance (`average`,
# `update every = 1`, every exporting bound at its default unless set
# below) whose destination is a port where nothing listens, for DURATION
# seconds. Every 10 s it prints one line: seconds since the start, the
# agent's VmRSS (KiB), the exporting thread's CPU since the last line (ms,
# from /proc/PID/task/TID/schedstat), the process's CPU since the last line
# (ms), and the spool directory's size (KiB).
#
# Environment: DURATION (1800), SPOOL_EVERY (`spool every secs`, unset: the
# default), SPOOL_MAX_BYTES (unset: the default), OUT (a file for the
# samples, default stdout).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${BACKHAUL:-${CARGO_TARGET_DIR:-$ROOT/target}/release/backhaul}
DURATION=${DURATION:-1800}
OUT=${OUT:-/dev/stdout}
[[ -x "$BIN" ]] || { echo "no $BIN (cargo build --release -p backhaul)" >&2; exit 1; }

T=$(mktemp -d /tmp/backhaul-outage.XXXXXX)
AGENT=""
cleanup() {
    [[ -n "$AGENT" ]] && kill "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# A port nothing listens on: bound, then released.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

mkdir -p "$T/plugins.d" "$T/lib"
ln -s "$HERE/side_by_side/synthetic.plugin" "$T/plugins.d/synthetic.plugin"
cat >"$T/netdata.conf" <<EOF
[global]
    hostname = bench
    update every = 1
[db]
    retention = 3600
[directories]
    plugins = $T/plugins.d
    lib = $T/lib
[plugins]
    proc = no
    diskspace = no
    enable running new plugins = yes
    synthetic = yes
[web]
    mode = none
EOF
{
    printf '[graphite:bench]\n    enabled = yes\n    destination = 127.0.0.1:%s\n' "$PORT"
    printf '    data source = average\n    update every = 1\n    send charts matching = synth.*\n'
    [[ -n "${SPOOL_EVERY:-}" ]] && printf '    spool every secs = %s\n' "$SPOOL_EVERY"
    [[ -n "${SPOOL_MAX_BYTES:-}" ]] && printf '    spool max bytes = %s\n' "$SPOOL_MAX_BYTES"
    true
} >"$T/exporting.conf"

"$BIN" --config "$T/netdata.conf" --exporting-config "$T/exporting.conf" \
    >"$T/stdout.log" 2>"$T/stderr.log" </dev/null &
AGENT=$!

thread_ns() {
    local tid
    for tid in /proc/"$AGENT"/task/*; do
        if [[ "$(cat "$tid/comm" 2>/dev/null)" == exp:bench ]]; then
            cut -d' ' -f1 "$tid/schedstat"
            return
        fi
    done
    echo 0
}
process_ticks() { awk '{print $14 + $15}' /proc/"$AGENT"/stat; }
TICK=$(getconf CLK_TCK)

echo "# seconds rss_kib exp_thread_cpu_ms process_cpu_ms spool_kib" >"$OUT"
start=$(date +%s)
prev_ns=$(thread_ns)
prev_ticks=$(process_ticks)
while :; do
    sleep 10
    kill -0 "$AGENT" 2>/dev/null || { echo "the agent exited; stderr:" >&2; tail -20 "$T/stderr.log" >&2; exit 1; }
    now=$(date +%s)
    ns=$(thread_ns)
    ticks=$(process_ticks)
    rss=$(awk '/^VmRSS/ {print $2}' /proc/"$AGENT"/status)
    spool=$(du -sk "$T/lib" | cut -f1)
    echo "$((now - start)) $rss $(((ns - prev_ns) / 1000000)) $(((ticks - prev_ticks) * 1000 / TICK)) $spool" >>"$OUT"
    prev_ns=$ns
    prev_ticks=$ticks
    ((now - start >= DURATION)) && break
done
grep -E "spool|buffer on failures" "$T/stderr.log" | head -20 >&2 || true
