#!/usr/bin/env bash
# API benchmark: the daemon's HTTP API under 50 concurrent readers. A fresh
# repository gets SOURCES small files sources (each backed up BACKUPS times
# with the real `lifeboat backup`) and one database source: a real full
# backup of a private MariaDB this script starts and a simulated archive of
# SEGMENTS binlog segments before it (bench/scale/gen). The real daemon
# (`lifeboat daemon`) then serves its API over HTTPS on loopback with its
# self-signed certificate, and bench/api/load sends CLIENTS concurrent
# clients' GET /api/v1/status, /api/v1/snapshots and /api/v1/sources with a
# viewer token (`lifeboat token create`) for DURATION seconds. Prints p50,
# p99 and max latency per route, requests per second, errors and the
# daemon's peak RSS (VmHWM) and CPU per request, the p99 of the same
# clients on the static OpenAPI document (the floor the machine sets),
# PASS/FAIL goals (p99 under 200 ms, peak RSS
# under 300 MB), and writes them to $BENCH_DIR/results.json. See
# bench/api/README.md.
#
#   bash bench/api/run.sh
#   PROFILE=1 bash bench/api/run.sh     # also a CPU profile of the daemon
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench-api), SOURCES (100),
# BACKUPS (3), SEGMENTS (10000), CLIENTS (50), DURATION (30), PORT (19750),
# PROFILE (0: with 1, the daemon writes $BENCH_DIR/daemon.cpu.pprof and
# $BENCH_DIR/daemon.mem.pprof, read with `go tool pprof`).
# Exit status: 0 when every step ran (goals may still FAIL: this is a
# measurement), 1 otherwise.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench-api}
SOURCES=${SOURCES:-100}
BACKUPS=${BACKUPS:-3}
SEGMENTS=${SEGMENTS:-10000}
CLIENTS=${CLIENTS:-50}
DURATION=${DURATION:-30}
PORT=${PORT:-19750}
PROFILE=${PROFILE:-0}

SERVER=$BENCH_DIR/server
SOCK=$SERVER/mysqld.sock
LIFEBOAT=$REPO_ROOT/bin/lifeboat
GEN=$REPO_ROOT/bin/scalegen
LOAD=$REPO_ROOT/bin/apiload
RESULTS=$BENCH_DIR/results.json
CONFIG=$BENCH_DIR/lifeboat.yaml
STATE=$BENCH_DIR/state
LB=("$LIFEBOAT" --config "$CONFIG")

export LIFEBOAT_PASSWORD=bench-password
CLIENT=(--no-defaults -S "$SOCK" -uroot)
DBPID=
DAEMONPID=

ensure_tools() {
    ensure_mariadb curl:curl
    require go python3 awk
}

build() {
    build_tools "lifeboat, the archive generator and the load generator" \
        scalegen ./bench/scale/gen apiload ./bench/api/load
}

cleanup() {
    stop_daemon
    stop_binlog_server
}
trap cleanup EXIT

# write_config: the database source, then SOURCES files sources of a few
# small files each; tier other (an RPO of a week), so no source is over
# its objective. No schedules: the daemon serves the API and runs nothing.
write_config() {
    local i name
    {
        printf 'repository:\n  path: %s\n' "$BENCH_DIR/repo"
        printf 'server:\n  listen: 127.0.0.1:%s\n' "$PORT"
        printf 'audit:\n  path: %s\n' "$STATE/audit.log"
        printf 'sources:\n  db:\n    type: mysql\n    tier: other\n    socket: %s\n    user: root\n    databases: [shop]\n' "$SOCK"
        for ((i = 1; i <= SOURCES; i++)); do
            name=$(printf 'f%03d' "$i")
            printf '  %s:\n    type: files\n    tier: other\n    paths: [%s]\n' "$name" "$BENCH_DIR/data/$name"
        done
    } >"$CONFIG"
}

# fill_repository: the files sources' backups (all of them in one command,
# BACKUPS times, with a change between), the database's full and the
# archive before it.
fill_repository() {
    local names=() i b start end
    for ((i = 1; i <= SOURCES; i++)); do names+=("$(printf 'f%03d' "$i")"); done
    "${LB[@]}" init >/dev/null
    start=$(date +%s.%N)
    for ((b = 1; b <= BACKUPS; b++)); do
        for ((i = 1; i <= SOURCES; i++)); do echo "backup $b" >"$BENCH_DIR/data/$(printf 'f%03d' "$i")/changed"; done
        "${LB[@]}" backup "${names[@]}" >"$BENCH_DIR/backup$b.out" 2>"$BENCH_DIR/backup$b.err" ||
            { tail -n 20 "$BENCH_DIR/backup$b.err" >&2; die "backup $b of the files sources failed"; }
    done
    end=$(date +%s.%N)
    log "$((SOURCES * BACKUPS)) files backups in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')s"
    "${LB[@]}" backup db >"$BENCH_DIR/backup-db.out" 2>&1 || { cat "$BENCH_DIR/backup-db.out" >&2; die "backup db failed"; }
    "$GEN" -repo "$BENCH_DIR/repo" -source db -segments "$SEGMENTS" -per-file "$PER_FILE" -every "${EVERY_SECONDS}s" \
        -tx "$TX" -binlog-dir "$SERVER/binlog" >&2
}

ensure_tools
build
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR" "$STATE"
# The private server's binlog is rotated once per simulated day of the
# archive and its GTID sequence is above the archive's (as in
# bench/scale/run.sh).
start_archive_server "$SEGMENTS"
# Each files source's folder, a few small files each.
make_source_dirs f "$SOURCES" 5 700
write_config
fill_repository
SNAPSHOTS=$("${LB[@]}" snapshots --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
log "repository: $SNAPSHOTS snapshots, $(mib "$(bytes "$BENCH_DIR/repo")") MiB"

LIFEBOAT_TOKEN=$("${LB[@]}" token create bench --role viewer 2>/dev/null)
export LIFEBOAT_TOKEN
[[ $LIFEBOAT_TOKEN == lbt_* ]] || die "token create printed no token"

# cpu_ticks: the daemon's user and system CPU so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMONPID/stat"; }

PROF=()
((PROFILE)) && PROF=(--cpu-profile "$BENCH_DIR/daemon.cpu.pprof" --mem-profile "$BENCH_DIR/daemon.mem.pprof")
start_daemon "${PROF[@]}"
grep -q 'HTTPS certificate' "$BENCH_DIR/daemon.out" || die "the daemon printed no certificate fingerprint"
START_KIB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMONPID/status")
log "daemon $DAEMONPID up (peak RSS so far $((START_KIB / 1024)) MiB)"
# The floor the machine sets: the same clients on the static OpenAPI
# document (no credential, nothing computed), for a third of the time.
log "baseline: $CLIENTS clients on GET /api/v1/openapi.json for $((DURATION / 3)) s"
"$LOAD" -url "https://127.0.0.1:$PORT" -cacert "$CERT" -clients "$CLIENTS" -duration "$((DURATION / 3))s" \
    -routes /api/v1/openapi.json -json "$BENCH_DIR/baseline.json" | tee "$BENCH_DIR/baseline.out"
log "$CLIENTS clients for $DURATION s"
CPU0=$(cpu_ticks)
"$LOAD" -url "https://127.0.0.1:$PORT" -cacert "$CERT" -clients "$CLIENTS" -duration "${DURATION}s" \
    -json "$BENCH_DIR/load.json" | tee "$BENCH_DIR/load.out"
CPU1=$(cpu_ticks)
HWM_KIB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMONPID/status")
stop_daemon
REQUESTS=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["all"]["requests"])' "$BENCH_DIR/load.json")
DAEMON_CPU=$(awk -v t=$((CPU1 - CPU0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }')
CPU_MS=$(awk -v s="$DAEMON_CPU" -v n="$REQUESTS" 'BEGIN { printf "%.2f", (n > 0 ? 1000 * s / n : 0) }')
BASE_P99=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["all"]["p99_ms"])' "$BENCH_DIR/baseline.json")

# --- report --------------------------------------------------------------------
RSS_MB=$(awk -v k="$HWM_KIB" 'BEGIN { printf "%.0f", k * 1024 / 1e6 }')
printf '\nAPI under load: %s sources (%s snapshots), %s binlog segments, %s clients for %s s\n' \
    "$((SOURCES + 1))" "$SNAPSHOTS" "$SEGMENTS" "$CLIENTS" "$DURATION"
printf '  daemon peak RSS (VmHWM): %s MiB (%s MiB once started, before any request)\n' "$((HWM_KIB / 1024))" "$((START_KIB / 1024))"
printf '  daemon CPU: %s s for %s requests, %s ms a request\n' "$DAEMON_CPU" "$REQUESTS" "$CPU_MS"
printf '  baseline p99 (static GET /api/v1/openapi.json, same clients): %s ms\n\nGoals:\n' "$BASE_P99"
# A route no request of which was answered has no p99 to speak of: inf.
read -r -a P99S <<<"$(python3 -c 'import json, sys; print(" ".join("%s=%s" % (r["route"], r["p99_ms"] if r["requests"] else "inf") for r in json.load(open(sys.argv[1]))["routes"]))' "$BENCH_DIR/load.json")"
for rp in "${P99S[@]}"; do
    route=${rp%%=*}
    goal "p99_${route##*/}" "GET $route: p99 under 200 ms" "${rp#*=}" "<" 200 " ms"
done
ERRORS=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["all"]["errors"])' "$BENCH_DIR/load.json")
goal errors "no request failed" "$ERRORS" "<=" 0 ""
goal rss "daemon peak RSS under 300 MB" "$RSS_MB" "<" 300 " MB"

python3 - "$BENCH_DIR/load.json" "$RESULTS" "$((SOURCES + 1))" "$SNAPSHOTS" "$SEGMENTS" "$HWM_KIB" "$START_KIB" \
    "$DAEMON_CPU" "$BENCH_DIR/baseline.json" "${GOALS[@]}" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
goals = dict(g.split("\t") for g in sys.argv[10:])
out = {"sources": int(sys.argv[3]), "snapshots": int(sys.argv[4]), "segments": int(sys.argv[5]),
       "daemon_peak_rss_kib": int(sys.argv[6]), "daemon_started_rss_kib": int(sys.argv[7]),
       "daemon_cpu_s": float(sys.argv[8]), "baseline": json.load(open(sys.argv[9]))["all"], "goals": goals, **load}
json.dump(out, open(sys.argv[2], "w"), indent=2)
PY
log "results in $RESULTS"
