#!/usr/bin/env bash
# Dashboard benchmark: time to a rendered overview and the bytes it
# transfers, in headless Chromium, for a repository with SOURCES files
# sources and DAYS days of simulated history. bench/dashboard/gen backs every
# source up through the operations core on a simulated clock that ends now
# (as a retention of 30 daily and 52 weekly backups leaves a year: one a
# day for the last DAILY days, one a week before), skipping a day or failing
# a backup now and then (the overview's 30-day strip shows them). Then the
# real daemon (`lifeboat daemon`) serves the dashboard over HTTPS with its
# self-signed certificate, an admin made with `lifeboat user add` logs in
# through the login page, and bench/dashboard/measure loads the overview
# RUNS times with the browser's cache off (a first visit) and RUNS times
# with it on (a return), reading Chromium's load event, the time until the
# overview has drawn every source from the API, and the bytes transferred
# (page, assets and API calls, compressed as sent). Prints the medians, the
# daemon's peak RSS and PASS/FAIL against the goals (under 500 ms, under
# 300 KB compressed) and writes $BENCH_DIR/results.json.
#
#   bash bench/dashboard/run.sh
#   SOURCES=10 DAYS=60 bash bench/dashboard/run.sh     # a quick run
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench-dashboard), SOURCES
# (100), DAYS (365), DAILY (30), OLDER_EVERY (7: days between two backups
# before the daily ones), RUNS (5), PORT (19760), WORKERS (16: backups
# the generator runs at once; they wait on the disk more than the CPU).
# Exit status: 0 when every step ran (goals may still FAIL: this is a
# measurement), 1 otherwise.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench-dashboard}
SOURCES=${SOURCES:-100}
DAYS=${DAYS:-365}
DAILY=${DAILY:-30}
OLDER_EVERY=${OLDER_EVERY:-7}
RUNS=${RUNS:-5}
WORKERS=${WORKERS:-16}
PORT=${PORT:-19760}

LIFEBOAT=$REPO_ROOT/bin/lifeboat
GEN=$REPO_ROOT/bin/dashgen
MEASURE=$REPO_ROOT/bin/dashmeasure
CONFIG=$BENCH_DIR/lifeboat.yaml
STATE=$BENCH_DIR/state
RESULTS=$BENCH_DIR/results.json
LB=("$LIFEBOAT" --config "$CONFIG")

export LIFEBOAT_PASSWORD=bench-password
export LIFEBOAT_LOCK_DIR=$BENCH_DIR/locks
export BENCH_USER_PASSWORD=bench-admin-password
DAEMONPID=

ensure_tools() {
    install_missing 'chromium:chromium|chromium-browser' curl:curl openssl:openssl
    require go python3 awk
}

build() {
    build_tools "lifeboat, the history generator and the browser measurement" \
        dashgen ./bench/dashboard/gen dashmeasure ./bench/dashboard/measure
}
trap stop_daemon EXIT

# write_config: SOURCES files sources, two in three on the important tier
# (an RPO of a day: a skipped day shows overdue) and the rest on other; a
# plan that restores the first source, to drill.
write_config() {
    local i name tier
    {
        printf 'repository:\n  path: %s\n' "$BENCH_DIR/repo"
        printf 'server:\n  listen: 127.0.0.1:%s\n' "$PORT"
        printf 'audit:\n  path: %s\n' "$STATE/audit.log"
        printf 'sources:\n'
        for ((i = 1; i <= SOURCES; i++)); do
            name=$(printf 's%03d' "$i")
            tier=important
            ((i % 3 == 0)) && tier=other
            printf '  %s:\n    type: files\n    tier: %s\n    paths: [%s]\n' "$name" "$tier" "$BENCH_DIR/data/$name"
        done
        printf 'plans:\n  recover-s001:\n    tier: important\n    steps:\n      - restore: s001\n'
    } >"$CONFIG"
}

ensure_tools
build
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR" "$STATE" "$LIFEBOAT_LOCK_DIR"
# Each source's folder, a few small files each.
make_source_dirs s "$SOURCES" 3 500
write_config
"${LB[@]}" init >/dev/null
log "generating $DAYS days of history for $SOURCES sources"
"$GEN" -config "$CONFIG" -days "$DAYS" -daily "$DAILY" -older-every "$OLDER_EVERY" -workers "$WORKERS"
"${LB[@]}" drill recover-s001 >"$BENCH_DIR/drill.out" 2>&1 || { tail -n 20 "$BENCH_DIR/drill.out" >&2; die "the drill failed"; }
{ "${LB[@]}" verify s001 && "${LB[@]}" verify s002; } >"$BENCH_DIR/verify.out" 2>&1 || { tail -n 20 "$BENCH_DIR/verify.out" >&2; die "verify failed"; }
SNAPSHOTS=$("${LB[@]}" snapshots --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
AUDIT_RECORDS=$(wc -l <"$STATE/audit.log")
log "repository: $SNAPSHOTS snapshots, $(mib "$(bytes "$BENCH_DIR/repo")") MiB; audit trail: $AUDIT_RECORDS records"
echo "$BENCH_USER_PASSWORD" | "${LB[@]}" user add admin --role admin --password-stdin >/dev/null

start_daemon
log "daemon $DAEMONPID up"
# The browser trusts the daemon's key, as a user's browser trusts its
# certificate: one accepted despite an error is never cached from.
SPKI=$(openssl x509 -in "$CERT" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
"$MEASURE" -url "https://127.0.0.1:$PORT" -user admin -sources "$SOURCES" -runs "$RUNS" -spki "$SPKI" \
    -json "$BENCH_DIR/measure.json" | tee "$BENCH_DIR/measure.out"
HWM_KIB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMONPID/status")
stop_daemon

read -r COLD_LOAD COLD_READY COLD_BYTES WARM_LOAD WARM_READY WARM_BYTES FIRST_READY < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(*(m[k] for k in ("cold_load_ms", "cold_ready_ms", "cold_bytes", "warm_load_ms", "warm_ready_ms", "warm_bytes", "first_ready_ms")))' \
    "$BENCH_DIR/measure.json")
kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

printf '\nDashboard overview: %s sources, %s snapshots over %s days (daily for %s, every %s days before), %s audit records; medians of %s loads\n' \
    "$SOURCES" "$SNAPSHOTS" "$DAYS" "$DAILY" "$OLDER_EVERY" "$AUDIT_RECORDS" "$RUNS"
printf '  first visit (cache off): load event %s ms, drawn %s ms, %s KB transferred\n' "$COLD_LOAD" "$COLD_READY" "$(kb "$COLD_BYTES")"
printf '  return visit (cache on): load event %s ms, drawn %s ms, %s KB transferred\n' "$WARM_LOAD" "$WARM_READY" "$(kb "$WARM_BYTES")"
printf '  the very first load (the daemon computes the health afresh): drawn %s ms\n' "$FIRST_READY"
printf '  daemon peak RSS (VmHWM): %s MiB\n\nGoals:\n' "$((HWM_KIB / 1024))"
goal load "first visit: Chromium's load event under 500 ms" "$COLD_LOAD" "<" 500 " ms"
goal drawn "first visit: every source drawn under 500 ms" "$COLD_READY" "<" 500 " ms"
goal weight "first visit: under 300 KB transferred (compressed)" "$(kb "$COLD_BYTES")" "<" 300 " KB"

python3 - "$BENCH_DIR/measure.json" "$RESULTS" "$SOURCES" "$SNAPSHOTS" "$DAYS" "$AUDIT_RECORDS" "$HWM_KIB" "${GOALS[@]}" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
out = {"sources": int(sys.argv[3]), "snapshots": int(sys.argv[4]), "days": int(sys.argv[5]),
       "audit_records": int(sys.argv[6]), "daemon_peak_rss_kib": int(sys.argv[7]),
       "goals": dict(g.split("\t") for g in sys.argv[8:]), **m}
json.dump(out, open(sys.argv[2], "w"), indent=2)
PY
log "results in $RESULTS"
