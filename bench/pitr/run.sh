#!/usr/bin/env bash
# Point-in-time recovery benchmark, on a private MariaDB this script starts and
# stops itself:
#   1. durability: with `lifeboat binlog stream` running and the Smart Library
#      workload at RATE transactions per second, the time from each commit to
#      the segment holding it being durable in the repository (p50, p99, max)
#      and the repository's growth per day, first with segments closed after
#      OLD_SECONDS (the former default), then with the default interval (or
#      INTERVAL), and the ratio of the two growths;
#   2. replay: recovering to the end of HOUR_TX transactions of that workload
#      (one hour at RATE per second by default) with `lifeboat restore
#      --to-time`, against plain `mariadb-binlog FILES | mariadb` on the same
#      binlog files from the same full backup, same run. Both copies must equal
#      the live database.
# Prints the figures, ratios, peak RSS and PASS/FAIL goals, and writes them to
# $BENCH_DIR/results.json. See bench/pitr/README.md.
#
#   bash bench/pitr/run.sh                      # RATE=300, HOUR_TX=1080000: ~20 min
#   HOUR_TX=100000 bash bench/pitr/run.sh       # quicker replay measurement
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench-pitr), RATE (300),
# LATENCY_SECONDS (60, for each setting), HOUR_TX (RATE*3600), BOOKINGS (200000),
# OLD_SECONDS (3), INTERVAL (empty: the configuration's default).
# Exit status: 0 when every step ran and both recovered copies equal the live
# database (goals may still FAIL: this is a measurement), 1 otherwise.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench-pitr}
RATE=${RATE:-300}
LATENCY_SECONDS=${LATENCY_SECONDS:-60}
OLD_SECONDS=${OLD_SECONDS:-3}
INTERVAL=${INTERVAL:-}
HOUR_TX=${HOUR_TX:-$((RATE * 3600))}
BOOKINGS=${BOOKINGS:-200000}

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

build() { build_tools "lifeboat and smlgen" smlgen ./examples/sml-library/cmd/smlgen; }

# start_server: a fresh datadir every run (the binlog is what is measured).
# gtid_strict_mode stays off so the peer's plain replay, which re-logs the
# original GTIDs, is accepted.
start_server() {
    if [[ -f $SERVER/pid ]] && kill -0 "$(cat "$SERVER/pid")" 2>/dev/null; then
        kill "$(cat "$SERVER/pid")"
        sleep 2
    fi
    rm -rf "$OUT"
    mkdir -p "$OUT"
    start_binlog_server --innodb-buffer-pool-size=1G --max-allowed-packet=64M
}

cleanup() {
    [[ -n $STREAMPID ]] && kill "$STREAMPID" 2>/dev/null || true
    if [[ -n $DBPID ]] && kill -0 "$DBPID" 2>/dev/null; then
        kill "$DBPID" 2>/dev/null || true
        wait "$DBPID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

declare -A SECS RSS
TIMED_DIR=$OUT

sums() {
    local t out=""
    for t in users rooms bookings waitlist booking_audit; do
        out+="$t $(sql "CHECKSUM TABLE \`$1\`.\`$t\`" | cut -f2) "
    done
    echo "$out"
}

ensure_tools
build
start_server

# write_config BINLOG: the source's binlog settings as a YAML flow mapping
# ("{}" for the defaults).
write_config() {
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
    binlog: $1
EOF
}
write_config "{compact_after: 1s}"

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

# start_streamer NAME: `binlog stream` with the current configuration, its
# log in $OUT/stream-NAME.log; returns once it has said it is streaming.
start_streamer() {
    "${LB[@]}" -v binlog stream db >"$OUT/stream-$1.out" 2>"$OUT/stream-$1.log" &
    STREAMPID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q '^streaming' "$OUT/stream-$1.out" 2>/dev/null && break
        kill -0 "$STREAMPID" 2>/dev/null || die "the streamer exited: $(tail -n 5 "$OUT/stream-$1.log")"
        sleep 0.1
    done
    sleep 2
}

# stop_streamer NAME stops it and fails the run if it failed.
stop_streamer() {
    kill -TERM "$STREAMPID"
    wait "$STREAMPID" || die "the streamer failed: $(tail -n 5 "$OUT/stream-$1.log")"
    STREAMPID=
}

# blob_bytes DIR: the bytes of the repository's blobs (its files), which is
# what a bucket would store; du would also count the shard folders a
# filesystem repository makes as it grows.
blob_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }'; }

# --- 1. commit to durable ----------------------------------------------------
# durability NAME: the paced workload for LATENCY_SECONDS with the running
# streamer (log $OUT/stream-NAME.log); sets P50[NAME], P99[NAME], PMAX[NAME],
# NCOMMITS[NAME], SEGS[NAME] (segments stored) and GROWTH[NAME] (bytes the
# repository grew by, per second of workload).
declare -A P50 P99 PMAX NCOMMITS SEGS GROWTH
durability() {
    local name=$1 before after n0 p50 p99 pmax n
    log "durability ($name): workload at $RATE/s for $LATENCY_SECONDS s"
    n0=$(grep -c 'binlog segment stored' "$OUT/stream-$name.log" || true)
    before=$(blob_bytes "$OUT/repo")
    "$SMLGEN" -socket "$SOCK" -db "$DB" -bookings "$BOOKINGS" -workers 8 -rate "$RATE" \
        -duration "${LATENCY_SECONDS}s" -commits "$OUT/commits-$name.txt" workload >"$OUT/latency-workload-$name.out"
    cat "$OUT/latency-workload-$name.out" >&2
    # Everything committed is durable well within this (the slowest setting
    # measured closes segments after 3 s); an idle streamer records its
    # progress every 10 s, the same for every setting.
    sleep 8
    after=$(blob_bytes "$OUT/repo")
    GROWTH[$name]=$(awk -v a="$before" -v b="$after" -v s="$LATENCY_SECONDS" 'BEGIN { printf "%.0f", (b - a) / s }')
    SEGS[$name]=$(($(grep -c 'binlog segment stored' "$OUT/stream-$name.log") - n0))
    read -r p50 p99 pmax n < <(python3 - "$OUT/stream-$name.log" "$OUT/commits-$name.txt" <<'PY'
import sys, re, datetime, bisect
def ts(s):
    s = s.rstrip('Z')
    if '.' in s:
        base, frac = s.split('.')
        s = base + '.' + (frac + '000000')[:6]
    else:
        s += '.000000'
    return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%f').replace(tzinfo=datetime.timezone.utc).timestamp()
segs = []
for line in open(sys.argv[1]):
    if 'binlog segment stored' not in line:
        continue
    f = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
    segs.append((ts(f['last_event'].strip('"').replace('+00:00', '')), ts(f['durable_at'].strip('"'))))
segs.sort()
lasts = [s[0] for s in segs]
lat = []
for line in open(sys.argv[2]):
    c = int(line) / 1e9
    i = bisect.bisect_left(lasts, c)
    if i < len(segs):
        lat.append(segs[i][1] - c)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print('%.3f %.3f %.3f %d' % (q(0.50), q(0.99), lat[-1], len(lat)))
PY
)
    P50[$name]=$p50 P99[$name]=$p99 PMAX[$name]=$pmax NCOMMITS[$name]=$n
    log "commit to durable ($name) over $n commits: p50 ${p50}s, p99 ${p99}s, max ${pmax}s; ${SEGS[$name]} segments; repository +${GROWTH[$name]} B/s"
}

# settle: what the repository keeps for good once the daemon's compaction
# has merged the archive's finished segments and maintenance has reclaimed
# what they held (`binlog compact`, then `prune --reclaim-now`, with the
# streamer stopped); prints the repository's bytes then.
settle() {
    "${LB[@]}" binlog compact db >&2
    "${LB[@]}" prune --reclaim-now >&2
    blob_bytes "$OUT/repo"
}

declare -A SETTLED
# settled NAME BEFORE: SETTLED[NAME] is the settled growth per second of the
# workload since BEFORE (the settled size before it); sets SETTLED_AT.
settled() {
    SETTLED_AT=$(settle)
    SETTLED[$1]=$(awk -v a="$2" -v b="$SETTLED_AT" -v s="$LATENCY_SECONDS" 'BEGIN { printf "%.0f", (b - a) / s }')
    log "settled growth ($1): +${SETTLED[$1]} B/s once compacted and reclaimed"
}

# The older setting first (segments closed OLD_SECONDS after their first
# event), then the default (or INTERVAL): the same workload, the same
# repository, the second streamer resuming where the first stopped.
OLD=${OLD_SECONDS}s
write_config "{segment_seconds: $OLD_SECONDS, compact_after: 1s}"
SETTLED_AT=$(settle)
log "starting the streamer, segments every $OLD"
start_streamer "$OLD"
durability "$OLD"
stop_streamer "$OLD"
settled "$OLD" "$SETTLED_AT"

NEW=default
if [[ -n $INTERVAL ]]; then
    NEW=$INTERVAL
    write_config "{segment_interval: $INTERVAL, compact_after: 1s}"
else
    write_config "{compact_after: 1s}"
fi
log "starting the streamer, segments every $NEW"
start_streamer "$NEW"
NEW_SHOWN=$(grep -o 'segments every [^;]*' "$OUT/stream-$NEW.out" | cut -d' ' -f3)
durability "$NEW"
stop_streamer "$NEW"
settled "$NEW" "$SETTLED_AT"
start_streamer "$NEW"

# --- 2. replay ---------------------------------------------------------------
log "replay: $HOUR_TX more transactions of the workload (unpaced)"
"$SMLGEN" -socket "$SOCK" -db "$DB" -bookings "$BOOKINGS" -workers 8 -transactions "$HOUR_TX" \
    -duration 24h workload >"$OUT/replay-workload.out"
cat "$OUT/replay-workload.out" >&2
sleep 1.5
END=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
sleep 1.5
LAST_FILE=$(sql "SHOW MASTER STATUS" | cut -f1)
sql "FLUSH BINARY LOGS"
LIVE=$(sums "$DB")

# wait for the streamer to reach END, then stop it
for _ in $(seq 1 120); do
    got=$("${LB[@]}" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["restorable"])' || true)
    [[ $got > $END ]] && break
    sleep 1
done
stop_streamer "$NEW"

FILES=()
for f in $(sql "SHOW BINARY LOGS" | cut -f1); do
    n=${f##*.}
    ((10#$n >= 10#${FULL_FILE##*.} && 10#$n <= 10#${LAST_FILE##*.})) && FILES+=("$SERVER/binlog/$f")
done
BINLOG_BYTES=$(cat "${FILES[@]}" | wc -c)
log "binlog to replay: ${#FILES[@]} files, $(mib "$BINLOG_BYTES") MiB from $FULL_FILE:$FULL_POS"

# The peer: the same full restored first (not timed), then the plain replay.
"${LB[@]}" restore db --snapshot "$FULL_ID" --target-database r_peer >/dev/null
timed peer bash -c "mariadb-binlog --no-defaults --start-position=$FULL_POS --rewrite-db='$DB->r_peer' $(printf '%q ' "${FILES[@]}") | mariadb ${CLIENT[*]} --max-allowed-packet=1G"
PEER_SUMS=$(sums r_peer)

timed lifeboat "${LB[@]}" restore db --to-time "$END" --target-database r_lb
LB_REPLAY=$(grep -o 'replayed in [0-9.]*s' "$OUT/lifeboat.out" | grep -o '[0-9.]*' | head -1)
LB_SUMS=$(sums r_lb)
cat "$OUT/lifeboat.out" >&2

# The same recovery into the original name, where Lifeboat's replay is
# binlogged like the peer's (a copy under another name is not): the live
# database is dropped first (its checksums are kept in LIVE).
sql "DROP DATABASE $DB"
timed lifeboat_logged "${LB[@]}" restore db --to-time "$END"
LB_LOGGED_REPLAY=$(grep -o 'replayed in [0-9.]*s' "$OUT/lifeboat_logged.out" | grep -o '[0-9.]*' | head -1)
LB_LOGGED_SUMS=$(sums "$DB")

ok=1
for pair in "lifeboat:$LB_SUMS" "peer:$PEER_SUMS" "lifeboat-logged:$LB_LOGGED_SUMS"; do
    name=${pair%%:*}
    [[ ${pair#*:} == "$LIVE" ]] || { log "MISMATCH: the $name copy differs from the live database"; ok=0; }
done

ARCHIVE=$(bytes "$OUT/repo")
printf '\nPoint-in-time recovery, RATE=%s/s, %s replayed transactions (%s MiB of binlog)\n' "$RATE" "$HOUR_TX" "$(mib "$BINLOG_BYTES")"
GROWTH_RATIO=$(ratio "${GROWTH[$NEW]}" "${GROWTH[$OLD]}")
for name in "$OLD" "$NEW"; do
    shown=$name
    [[ $name == default ]] && shown="$NEW_SHOWN (default)"
    printf '  segments every %-15s commit to durable (%s commits): p50 %ss  p99 %ss  max %ss\n' "$shown:" "${NCOMMITS[$name]}" "${P50[$name]}" "${P99[$name]}" "${PMAX[$name]}"
    printf '  %-30s %s segments in %s s; repository growth %s KiB/s, %s MiB per day\n' "" "${SEGS[$name]}" "$LATENCY_SECONDS" \
        "$(awk -v b="${GROWTH[$name]}" 'BEGIN { printf "%.1f", b / 1024 }')" "$(mib $((GROWTH[$name] * 86400)))"
done
printf '  growth per day, segments every %s vs every %s: %sx\n' "$NEW_SHOWN" "$OLD" "$GROWTH_RATIO"
SETTLED_RATIO=$(ratio "${SETTLED[$NEW]}" "${SETTLED[$OLD]}")
printf '  settled growth per day (compacted, reclaimed): %s MiB every %s, %s MiB every %s: %sx\n' \
    "$(mib $((SETTLED[$OLD] * 86400)))" "$OLD" "$(mib $((SETTLED[$NEW] * 86400)))" "$NEW_SHOWN" "$SETTLED_RATIO"
printf '  replay: lifeboat %ss (whole recovery %ss incl. the full, peak RSS %s MiB)  mariadb-binlog | mariadb %ss (peak RSS %s MiB)\n' \
    "$LB_REPLAY" "${SECS[lifeboat]}" "$(awk -v k="${RSS[lifeboat]}" 'BEGIN{printf "%.0f", k/1024}')" "${SECS[peer]}" "$(awk -v k="${RSS[peer]}" 'BEGIN{printf "%.0f", k/1024}')"
printf '  replay into the original name (binlogged, like the peer): lifeboat %ss (peak RSS %s MiB)\n' \
    "$LB_LOGGED_REPLAY" "$(awk -v k="${RSS[lifeboat_logged]}" 'BEGIN{printf "%.0f", k/1024}')"
printf '  replay speed, peer time / lifeboat time: %s (copy under another name, not binlogged); %s (original name, binlogged)\n' \
    "$(ratio "${SECS[peer]}" "$LB_REPLAY")" "$(ratio "${SECS[peer]}" "$LB_LOGGED_REPLAY")"
printf '  repository (full + archive): %s MiB\n\nGoals:\n' "$(mib "$ARCHIVE")"
goal durable_p99 "commit to durable p99 at most 1 s (segments every $NEW_SHOWN)" "${P99[$NEW]}" "<=" 1 s
goal growth "growth per day at most 1.10x that at $OLD, as written" "$GROWTH_RATIO" "<=" 1.10 x
goal settled_growth "growth per day at most 1.10x that at $OLD, once compacted" "$SETTLED_RATIO" "<=" 1.10 x
goal replay "replay of a copy no slower than mariadb-binlog | mariadb" "$(ratio "${SECS[peer]}" "$LB_REPLAY")" ">=" 1 x
goal replay_logged "binlogged replay no slower than the same (ratio)" "$(ratio "${SECS[peer]}" "$LB_LOGGED_REPLAY")" ">=" 1 x

cat >"$RESULTS" <<EOF
{"rate": $RATE, "latency_seconds": $LATENCY_SECONDS,
 "old": {"interval": "$OLD", "commits": ${NCOMMITS[$OLD]}, "durable_p50_s": ${P50[$OLD]}, "durable_p99_s": ${P99[$OLD]}, "durable_max_s": ${PMAX[$OLD]},
         "segments": ${SEGS[$OLD]}, "growth_bytes_per_s": ${GROWTH[$OLD]}, "growth_bytes_per_day": $((GROWTH[$OLD] * 86400))},
 "new": {"interval": "$NEW_SHOWN", "commits": ${NCOMMITS[$NEW]}, "durable_p50_s": ${P50[$NEW]}, "durable_p99_s": ${P99[$NEW]}, "durable_max_s": ${PMAX[$NEW]},
         "segments": ${SEGS[$NEW]}, "growth_bytes_per_s": ${GROWTH[$NEW]}, "growth_bytes_per_day": $((GROWTH[$NEW] * 86400))},
 "growth_ratio": $GROWTH_RATIO,
 "settled_growth_bytes_per_s": {"old": ${SETTLED[$OLD]}, "new": ${SETTLED[$NEW]}}, "settled_growth_ratio": $SETTLED_RATIO,
 "replay_transactions": $HOUR_TX, "binlog_bytes": $BINLOG_BYTES,
 "lifeboat_replay_s": $LB_REPLAY, "lifeboat_recovery_s": ${SECS[lifeboat]}, "lifeboat_rss_kib": ${RSS[lifeboat]},
 "lifeboat_logged_replay_s": $LB_LOGGED_REPLAY, "lifeboat_logged_rss_kib": ${RSS[lifeboat_logged]},
 "peer_replay_s": ${SECS[peer]}, "peer_rss_kib": ${RSS[peer]}, "copies_equal": $ok}
EOF
log "results in $RESULTS"
((ok)) || exit 1
