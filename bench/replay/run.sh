#!/usr/bin/env bash
# Parallel binlog replay benchmark for a logical point-in-time recovery, on a
# private MariaDB this script starts and stops itself: REPLAY_TX transactions
# of the Smart Library booking workload are archived by `lifeboat binlog
# stream`, then the same full backup is recovered to the end of them with
# `lifeboat restore --to-time ... --replay-workers N` for N in WORKERS (1 is
# the serial `mariadb-binlog | mariadb` pipe inside Lifeboat), against plain
# `mariadb-binlog FILES | mariadb` on the server's own binlog files from the
# same full, same run. Every copy must equal the live database.
# Prints replay seconds, ratios to the peer, peak RSS and PASS/FAIL against
# the goal (replay at least 2x faster than mariadb-binlog | mariadb), and
# writes them to $BENCH_DIR/results.json. See bench/replay/README.md.
#
#   bash bench/replay/run.sh                       # REPLAY_TX=1080000 (one hour at 300/s)
#   REPLAY_TX=20000 BOOKINGS=20000 bash bench/replay/run.sh   # a quick run
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench-replay), REPLAY_TX
# (1080000), BOOKINGS (200000), WORKERS ("1 2 4 8"), LOAD_WORKERS (8: the
# workload's connections).
# Exit status: 0 when every step ran and every copy equals the live database
# (the goal may still FAIL: this is a measurement), 1 otherwise.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench-replay}
REPLAY_TX=${REPLAY_TX:-1080000}
BOOKINGS=${BOOKINGS:-200000}
WORKERS=${WORKERS:-1 2 4 8}
LOAD_WORKERS=${LOAD_WORKERS:-8}

SERVER=$BENCH_DIR/server
SOCK=$SERVER/mysqld.sock
OUT=$BENCH_DIR/run
LIFEBOAT=$REPO_ROOT/bin/lifeboat
SMLGEN=$REPO_ROOT/bin/smlgen
LB=("$LIFEBOAT" --config "$OUT/lifeboat.yaml")
RESULTS=$BENCH_DIR/results.json
DB=sml_library

export LIFEBOAT_PASSWORD=bench-password
CLIENT=(--no-defaults -S "$SOCK" -uroot)
DBPID=
STREAMPID=

ensure_tools() {
    ensure_mariadb mariadb-client:mariadb-binlog time:/usr/bin/time
    require go python3 awk
}

cleanup() {
    [[ -n $STREAMPID ]] && kill "$STREAMPID" 2>/dev/null || true
    if [[ -n $DBPID ]] && kill -0 "$DBPID" 2>/dev/null; then
        kill "$DBPID" 2>/dev/null || true
        wait "$DBPID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

declare -A SECS RSS REPLAY
TIMED_DIR=$OUT

sums() {
    local t out=""
    for t in users rooms bookings waitlist booking_audit; do
        out+="$t $(sql "CHECKSUM TABLE \`$1\`.\`$t\`" | cut -f2) "
    done
    echo "$out"
}

# seconds DURATION: a Go duration ("1m2.5s", "850ms") in seconds.
seconds() {
    python3 -c '
import re, sys
units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
print("%.2f" % sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)(h|ms|us|µs|ns|m|s)", sys.argv[1])))' "$1"
}

ensure_tools
build_tools "lifeboat and smlgen" smlgen ./examples/sml-library/cmd/smlgen

if [[ -f $SERVER/pid ]] && kill -0 "$(cat "$SERVER/pid")" 2>/dev/null; then
    kill "$(cat "$SERVER/pid")"
    sleep 2
fi
rm -rf "$OUT"
mkdir -p "$OUT"
# gtid_strict_mode stays off so the peer's plain replay, which re-logs the
# original GTIDs, is accepted.
start_binlog_server --innodb-buffer-pool-size=1G --max-allowed-packet=64M

cat >"$OUT/lifeboat.yaml" <<EOF
repository:
  path: $OUT/repo
sources:
  db:
    type: mysql
    tier: critical
    socket: $SOCK
    user: root
    databases: [$DB]
EOF

log "generating $DB with $BOOKINGS bookings"
sql "CREATE DATABASE $DB"
"$SMLGEN" -socket "$SOCK" -db "$DB" -bookings "$BOOKINGS" generate >&2
"${LB[@]}" init >/dev/null
"${LB[@]}" backup db >&2
FULL_ID=$("${LB[@]}" snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
read -r FULL_FILE FULL_POS < <("${LB[@]}" snapshots --json | python3 -c '
import json, sys
m = json.loads(json.load(sys.stdin)[-1]["extra"]["mysql"])
print(m["binlog_file"], m["binlog_pos"])')

"${LB[@]}" binlog stream db >"$OUT/stream.out" 2>"$OUT/stream.log" &
STREAMPID=$!
for ((i = 0; i < 100; i++)); do
    grep -q '^streaming' "$OUT/stream.out" 2>/dev/null && break
    kill -0 "$STREAMPID" 2>/dev/null || die "the streamer exited: $(tail -n 5 "$OUT/stream.log")"
    sleep 0.1
done

log "workload: $REPLAY_TX transactions over $LOAD_WORKERS connections (unpaced)"
"$SMLGEN" -socket "$SOCK" -db "$DB" -bookings "$BOOKINGS" -workers "$LOAD_WORKERS" -transactions "$REPLAY_TX" \
    -duration 24h workload >"$OUT/workload.out"
cat "$OUT/workload.out" >&2
sleep 1.5
END=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
sleep 1.5
LAST_FILE=$(sql "SHOW MASTER STATUS" | cut -f1)
sql "FLUSH BINARY LOGS"
LIVE=$(sums "$DB")

# Wait for the streamer to reach END, then stop it.
for _ in $(seq 1 120); do
    got=$("${LB[@]}" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["restorable"])' || true)
    [[ $got > $END ]] && break
    sleep 1
done
kill -TERM "$STREAMPID"
wait "$STREAMPID" || die "the streamer failed: $(tail -n 5 "$OUT/stream.log")"
STREAMPID=

FILES=()
for f in $(sql "SHOW BINARY LOGS" | cut -f1); do
    n=${f##*.}
    ((10#$n >= 10#${FULL_FILE##*.} && 10#$n <= 10#${LAST_FILE##*.})) && FILES+=("$SERVER/binlog/$f")
done
BINLOG_BYTES=$(cat "${FILES[@]}" | wc -c)
log "binlog to replay: ${#FILES[@]} files, $(mib "$BINLOG_BYTES") MiB from $FULL_FILE:$FULL_POS"

ok=1
# The peer: the same full restored first (not timed), then the plain replay.
"${LB[@]}" restore db --snapshot "$FULL_ID" --target-database r_peer >/dev/null
timed peer bash -c "mariadb-binlog --no-defaults --start-position=$FULL_POS --rewrite-db='$DB->r_peer' $(printf '%q ' "${FILES[@]}") | mariadb ${CLIENT[*]} --max-allowed-packet=1G"
[[ $(sums r_peer) == "$LIVE" ]] || { log "MISMATCH: the mariadb-binlog | mariadb copy differs from the live database"; ok=0; }
sql "DROP DATABASE r_peer"

for w in $WORKERS; do
    log "lifeboat recovery with --replay-workers $w"
    timed "lb_$w" "${LB[@]}" restore db --to-time "$END" --target-database "r_$w" --replay-workers "$w"
    cat "$OUT/lb_$w.out" >&2
    REPLAY[$w]=$(seconds "$(grep -o 'replayed in [^ )]*' "$OUT/lb_$w.out" | head -1 | cut -d' ' -f3)")
    [[ $(sums "r_$w") == "$LIVE" ]] || { log "MISMATCH: the copy replayed with $w workers differs from the live database"; ok=0; }
    sql "DROP DATABASE r_$w"
done

rss() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
printf '\nLogical recovery replay, %s transactions of the booking workload (%s MiB of binlog); %s cores, shared: timings are noisy\n' \
    "$REPLAY_TX" "$(mib "$BINLOG_BYTES")" "$(nproc)"
printf '  %-44s %9s %9s %12s\n' "" "replay s" "vs peer" "peak RSS"
printf '  %-44s %9s %9s %10s MiB\n' "mariadb-binlog | mariadb" "${SECS[peer]}" "1.00" "$(rss "${RSS[peer]}")"
best=
for w in $WORKERS; do
    printf '  %-44s %9s %9s %10s MiB   (whole recovery %s s)\n' "lifeboat --replay-workers $w" "${REPLAY[$w]}" \
        "$(ratio "${SECS[peer]}" "${REPLAY[$w]}")" "$(rss "${RSS[lb_$w]}")" "${SECS[lb_$w]}"
    if [[ -z $best ]] || awk -v a="${REPLAY[$w]}" -v b="${REPLAY[$best]}" 'BEGIN { exit !(a < b) }'; then best=$w; fi
done
one=$(echo "$WORKERS" | awk '{ print $1 }')
printf '  scaling against --replay-workers %s:' "$one"
for w in $WORKERS; do printf ' %s: %sx' "$w" "$(ratio "${REPLAY[$one]}" "${REPLAY[$w]}")"; done
printf '\n\nGoals:\n'
goal parallel_replay "replay >= 2x faster than mariadb-binlog | mariadb ($best workers)" "$(ratio "${SECS[peer]}" "${REPLAY[$best]}")" ">=" 2 x

{
    printf '{"replay_transactions": %s, "binlog_bytes": %s, "peer_replay_s": %s, "peer_rss_kib": %s, "replay_s_by_workers": {' \
        "$REPLAY_TX" "$BINLOG_BYTES" "${SECS[peer]}" "${RSS[peer]}"
    sep=
    for w in $WORKERS; do printf '%s"%s": %s' "$sep" "$w" "${REPLAY[$w]}"; sep=", "; done
    printf '}, "rss_kib_by_workers": {'
    sep=
    for w in $WORKERS; do printf '%s"%s": %s' "$sep" "$w" "${RSS[lb_$w]}"; sep=", "; done
    printf '}, "best_workers": %s, "copies_equal": %s}\n' "$best" "$ok"
} >"$RESULTS"
log "results in $RESULTS"
((ok)) || exit 1
