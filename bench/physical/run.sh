#!/usr/bin/env bash
# Physical backup and fast recovery benchmark, on a private MariaDB this
# script starts and stops itself, with the data of bench/mysql (Smart Library
# plus 8 sysbench tables, plus a JSON table without a primary key and a BLOB
# table), every peer on the same data in the same run:
#   1. logical full: Lifeboat's stored bytes and time against
#      `mariadb-dump | zstd -3`;
#   2. physical full: `lifeboat backup` of a `mode: physical` source against
#      `mariadb-backup --backup --stream=mbstream | zstd` (time and size);
#   3. restore: the physical restore (unpack, prepare, a server answering on
#      it) against Lifeboat's logical restore;
#   4. replay: REPLAY_TX transactions of the booking workload (one hour at
#      300 a second by default), archived by `lifeboat binlog stream`,
#      recovered from the physical full with the server's parallel
#      replication at 2, 4 and 8 workers, against `mariadb-binlog | mariadb`
#      on the same binlog files from the same full. Every copy must equal the
#      live database.
# Prints times, sizes, ratios, peak RSS and PASS/FAIL goals, and writes them
# to $BENCH_DIR/results.json. See bench/physical/README.md.
#
#   bash bench/physical/run.sh                              # SCALE=1 (~2.4 GB), REPLAY_TX=1080000
#   SCALE=0.02 REPLAY_TX=20000 bash bench/physical/run.sh   # quick run
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench-physical), SCALE (1.0),
# REPLAY_TX (1080000), WORKERS_LIST ("2 4 8").
# Exit status: 0 when every step ran and every copy equals the live database
# (goals may still FAIL: this is a measurement), 1 otherwise.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench-physical}
SCALE=${SCALE:-1.0}
REPLAY_TX=${REPLAY_TX:-1080000}
WORKERS_LIST=${WORKERS_LIST:-2 4 8}

SERVER=$BENCH_DIR/server
SOCK=$SERVER/mysqld.sock
OUT=$BENCH_DIR/run
LIFEBOAT=$REPO_ROOT/bin/lifeboat
SMLGEN=$REPO_ROOT/bin/smlgen
LB=("$LIFEBOAT" --config "$OUT/lifeboat.yaml")
RESULTS=$BENCH_DIR/results.json
DB=bench
SML=sml_library

export LIFEBOAT_PASSWORD=bench-password
CLIENT=(--no-defaults -S "$SOCK" -uroot)
DBPID=
STREAMPID=
SCRATCHPIDS=()

ensure_tools() {
    ensure_mariadb mariadb-client:mariadb-binlog mariadb-client:mariadb-dump mariadb-backup:mariadb-backup mariadb-backup:mbstream sysbench:sysbench zstd:zstd time:/usr/bin/time
    require go python3 awk
}

build() { build_tools "lifeboat and smlgen" smlgen ./examples/sml-library/cmd/smlgen; }

cleanup() {
    [[ -n $STREAMPID ]] && kill "$STREAMPID" 2>/dev/null || true
    local p
    for p in "${SCRATCHPIDS[@]}" "$DBPID"; do
        if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
}

scaled() { awk -v s="$SCALE" -v n="$1" 'BEGIN { v = int(n * s + 0.5); print (v < 1000 ? 1000 : v) }'; }

# generate: bench/mysql's data (its generator and sysbench tables at SCALE,
# and its JSON and BLOB tables) in database bench; the booking workload's
# database apart, so the replay has the application's transactions.
generate() {
    local bookings rows
    bookings=$(scaled 3000000)
    rows=$(scaled 1000000)
    log "generating $DB: Smart Library with $bookings bookings, 8 sysbench tables of $rows rows, JSON and BLOB tables (SCALE=$SCALE)"
    sql "CREATE DATABASE $DB"
    "$SMLGEN" -socket "$SOCK" -db "$DB" -bookings "$bookings" generate >&2
    sysbench oltp_read_write --db-driver=mysql --mysql-socket="$SOCK" --mysql-user=root --mysql-db="$DB" \
        --tables=8 --table-size="$rows" --threads=2 prepare >"$OUT/sysbench-prepare.log" 2>&1 ||
        { tail -n 20 "$OUT/sysbench-prepare.log" >&2; die "sysbench prepare failed"; }
    json_blob_tables "$DB" "$(scaled 300000)" | mariadb "${CLIENT[@]}"
    sql "CREATE DATABASE $SML"
    "$SMLGEN" -socket "$SOCK" -db "$SML" -bookings 200000 generate >&2
}

# start_scratch DIR NAME: a server on a restored data directory (no binlog),
# answering on $OUT/NAME.sock; sets SCRATCH_SOCK.
start_scratch() {
    local user=() i
    ((EUID == 0)) && user=(--user=root)
    SCRATCH_SOCK=$OUT/$2.sock
    "$MARIADBD" --no-defaults --datadir="$1" --socket="$SCRATCH_SOCK" --skip-networking --skip-log-bin \
        --log-error="$OUT/$2.err" --pid-file="$OUT/$2.pid" --innodb-buffer-pool-size=1G "${user[@]}" &
    SCRATCHPIDS+=($!)
    for ((i = 0; i < 3000; i++)); do
        mariadb --no-defaults -S "$SCRATCH_SOCK" -uroot -e 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "the server on $1 did not answer: $(tail -n 5 "$OUT/$2.err")"
}

stop_scratch() {
    local pid
    pid=$(cat "$OUT/$1.pid")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
}

sums() { # SOCKET DB
    local t out=""
    for t in users rooms bookings waitlist booking_audit; do
        out+="$t $(mariadb --no-defaults -S "$1" -uroot -N -B -e "CHECKSUM TABLE \`$2\`.\`$t\`" | cut -f2) "
    done
    echo "$out"
}

declare -A SECS RSS
TIMED_DIR=$BENCH_DIR/run

main() {
    ensure_tools
    build
    mkdir -p "$BENCH_DIR"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    rm -rf "$OUT"
    mkdir -p "$OUT"
    start_binlog_server --innodb-buffer-pool-size=1G --max-allowed-packet=64M
    generate
    sql "FLUSH BINARY LOGS"

    cat >"$OUT/lifeboat.yaml" <<YAML
repository:
  path: $OUT/repo
sources:
  db:
    type: mysql
    socket: $SOCK
    user: root
    databases: [$DB]
  phys:
    type: mysql
    mode: physical
    socket: $SOCK
    user: root
    workers: 4
YAML
    "${LB[@]}" init >/dev/null
    DB_BYTES=$(sql "SELECT SUM(data_length + index_length) FROM information_schema.TABLES WHERE table_schema IN ('$DB', '$SML')")
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

    # --- 1. logical full ---------------------------------------------------
    log "logical full: mariadb-dump | zstd -3, then lifeboat"
    timed dump_zstd bash -c "set -o pipefail; mariadb-dump ${CLIENT[*]} --single-transaction --routines --triggers --events $DB | zstd -3 -q >'$OUT/dump.sql.zst'"
    local before after
    before=$(bytes "$OUT/repo")
    timed lb_logical "${LB[@]}" backup db
    after=$(bytes "$OUT/repo")
    LB_LOGICAL_BYTES=$((after - before))
    DUMP_ZSTD_BYTES=$(bytes "$OUT/dump.sql.zst")

    # --- 2. physical full --------------------------------------------------
    log "physical full: mariadb-backup | zstd, then lifeboat"
    printf '[client]\nuser=root\nsocket=%s\n' "$SOCK" >"$OUT/peer.cnf"
    mkdir -p "$OUT/peer-lsn"
    timed mb_zstd bash -c "set -o pipefail; mariadb-backup --defaults-extra-file='$OUT/peer.cnf' --backup --stream=mbstream --target-dir='$OUT/peer-lsn' --parallel=4 2>'$OUT/mariadb-backup.log' | zstd -q >'$OUT/peer.mbstream.zst'"
    before=$(bytes "$OUT/repo")
    timed lb_physical "${LB[@]}" backup phys
    after=$(bytes "$OUT/repo")
    LB_PHYS_BYTES=$((after - before))
    MB_ZSTD_BYTES=$(bytes "$OUT/peer.mbstream.zst")
    FULL_ID=$("${LB[@]}" snapshots phys --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
    read -r FULL_FILE FULL_POS < <("${LB[@]}" snapshots phys --json | python3 -c '
import json,sys; m = json.loads(json.load(sys.stdin)[-1]["extra"]["mysql"]); print(m["binlog_file"], m["binlog_pos"])')

    # --- 3. restore --------------------------------------------------------
    log "restores: lifeboat logical, lifeboat physical (+ a server answering on it)"
    timed lb_logical_restore "${LB[@]}" restore db --target-database r_lb
    sql "SET SESSION sql_log_bin = 0; DROP DATABASE r_lb" # the copy was loaded unlogged too
    timed lb_physical_restore bash -c "'$LIFEBOAT' --config '$OUT/lifeboat.yaml' restore phys --target-datadir '$OUT/restored' && \
        '$MARIADBD' --no-defaults --datadir='$OUT/restored' --socket='$OUT/r.sock' --skip-networking --skip-log-bin \
        --log-error='$OUT/r.err' --pid-file='$OUT/r.pid' $( ((EUID == 0)) && echo --user=root) & \
        for i in \$(seq 1 3000); do mariadb --no-defaults -S '$OUT/r.sock' -uroot -e 'SELECT 1' >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1"
    stop_scratch r

    # --- 4. replay ---------------------------------------------------------
    log "replay: $REPLAY_TX transactions of the booking workload, archived by lifeboat binlog stream"
    "${LB[@]}" -v binlog stream phys >"$OUT/stream.out" 2>"$OUT/stream.log" &
    STREAMPID=$!
    "$SMLGEN" -socket "$SOCK" -db "$SML" -bookings 200000 -workers 8 -transactions "$REPLAY_TX" -duration 24h workload >"$OUT/workload.out"
    sleep 1.5
    END=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
    sleep 1.5
    LAST_FILE=$(sql "SHOW MASTER STATUS" | cut -f1)
    sql "FLUSH BINARY LOGS"
    LIVE=$(sums "$SOCK" "$SML")
    local got
    for _ in $(seq 1 300); do
        got=$("${LB[@]}" status --json | python3 -c 'import json,sys; print([s for s in json.load(sys.stdin) if s["source"] == "phys"][0].get("restorable", ""))' || true)
        [[ $got > $END ]] && break
        sleep 1
    done
    kill "$STREAMPID"
    wait "$STREAMPID" 2>/dev/null || true
    STREAMPID=

    FILES=()
    local f n
    for f in $(sql "SHOW BINARY LOGS" | cut -f1); do
        n=${f##*.}
        ((10#$n >= 10#${FULL_FILE##*.} && 10#$n <= 10#${LAST_FILE##*.})) && FILES+=("$SERVER/binlog/$f")
    done
    BINLOG_BYTES=$(cat "${FILES[@]}" | wc -c)
    log "binlog to replay: ${#FILES[@]} files, $(mib "$BINLOG_BYTES") MiB from $FULL_FILE:$FULL_POS"

    # The peer: the same physical full restored and started (not timed),
    # then the plain serial replay.
    "${LB[@]}" restore phys --snapshot "$FULL_ID" --target-datadir "$OUT/peer" >/dev/null
    start_scratch "$OUT/peer" peer
    timed peer_replay bash -c "mariadb-binlog --no-defaults --start-position=$FULL_POS $(printf '%q ' "${FILES[@]}") | mariadb --no-defaults -S '$SCRATCH_SOCK' -uroot --max-allowed-packet=1G"
    PEER_SUMS=$(sums "$SCRATCH_SOCK" "$SML")
    stop_scratch peer

    local w
    declare -gA LB_REPLAY LB_SUMS
    for w in $WORKERS_LIST; do
        sed -i "s/^    workers: .*/    workers: $w/" "$OUT/lifeboat.yaml"
        timed "lb_pitr_$w" "${LB[@]}" restore phys --to-time "$END" --target-datadir "$OUT/pitr-$w"
        LB_REPLAY[$w]=$(grep -o 'replayed in [0-9.]*s' "$OUT/lb_pitr_$w.out" | grep -o '[0-9.]*' | head -1)
        start_scratch "$OUT/pitr-$w" "pitr-$w"
        LB_SUMS[$w]=$(sums "$SCRATCH_SOCK" "$SML")
        stop_scratch "pitr-$w"
        rm -rf "$OUT/pitr-$w"
    done

    report
}

report() {
    local ok=1 w best=
    echo
    echo "=== Lifeboat physical backup and recovery benchmark (SCALE=$SCALE, REPLAY_TX=$REPLAY_TX) ==="
    echo "data: $(mib "$DB_BYTES") MiB (data + indexes of $DB and $SML); machine: $(nproc) cores, load before $LOAD_BEFORE"
    printf '%-44s %9s %10s %12s\n' step seconds "peak RSS" "stored"
    printf '%-44s %9s %10s %12s\n' "mariadb-dump | zstd -3" "${SECS[dump_zstd]}" "$(mib $((RSS[dump_zstd] * 1024)))M" "$(mib "$DUMP_ZSTD_BYTES") MiB"
    printf '%-44s %9s %10s %12s\n' "lifeboat backup (logical)" "${SECS[lb_logical]}" "$(mib $((RSS[lb_logical] * 1024)))M" "$(mib "$LB_LOGICAL_BYTES") MiB"
    printf '%-44s %9s %10s %12s\n' "mariadb-backup --stream=mbstream | zstd" "${SECS[mb_zstd]}" "$(mib $((RSS[mb_zstd] * 1024)))M" "$(mib "$MB_ZSTD_BYTES") MiB"
    printf '%-44s %9s %10s %12s\n' "lifeboat backup (physical)" "${SECS[lb_physical]}" "$(mib $((RSS[lb_physical] * 1024)))M" "$(mib "$LB_PHYS_BYTES") MiB"
    printf '%-44s %9s %10s\n' "lifeboat restore (logical)" "${SECS[lb_logical_restore]}" "$(mib $((RSS[lb_logical_restore] * 1024)))M"
    printf '%-44s %9s %10s\n' "lifeboat restore (physical) + server up" "${SECS[lb_physical_restore]}" "$(mib $((RSS[lb_physical_restore] * 1024)))M"
    printf '%-44s %9s %10s\n' "mariadb-binlog | mariadb ($(mib "$BINLOG_BYTES") MiB binlog)" "${SECS[peer_replay]}" "$(mib $((RSS[peer_replay] * 1024)))M"
    for w in $WORKERS_LIST; do
        printf '%-44s %9s %10s   (whole recovery %s s)\n' "lifeboat replay, $w workers" "${LB_REPLAY[$w]}" "$(mib $((RSS[lb_pitr_$w] * 1024)))M" "${SECS[lb_pitr_$w]}"
        if [[ ${LB_SUMS[$w]} != "$LIVE" ]]; then ok=0; log "the recovery with $w workers differs from the live database"; fi
        if [[ -z $best ]] || awk -v a="${LB_REPLAY[$w]}" -v b="${LB_REPLAY[$best]}" 'BEGIN { exit !(a < b) }'; then best=$w; fi
    done
    [[ $PEER_SUMS == "$LIVE" ]] || { ok=0; log "the mariadb-binlog | mariadb copy differs from the live database"; }
    echo "copies equal to the live database: peer $([[ $PEER_SUMS == "$LIVE" ]] && echo yes || echo NO); lifeboat $(for w in $WORKERS_LIST; do printf '%s:%s ' "$w" "$([[ ${LB_SUMS[$w]} == "$LIVE" ]] && echo yes || echo NO)"; done)"
    echo
    echo "goals"
    goal logical_size "logical full stored <= mariadb-dump | zstd -3" "$(ratio "$LB_LOGICAL_BYTES" "$DUMP_ZSTD_BYTES")" "<=" 1 x
    goal physical_time "physical backup time <= 1.2x mariadb-backup | zstd" "$(ratio "${SECS[lb_physical]}" "${SECS[mb_zstd]}")" "<=" 1.2 x
    goal physical_size "physical backup stored <= mariadb-backup | zstd" "$(ratio "$LB_PHYS_BYTES" "$MB_ZSTD_BYTES")" "<=" 1 x
    goal physical_restore "physical restore >= 5x faster than logical" "$(ratio "${SECS[lb_logical_restore]}" "${SECS[lb_physical_restore]}")" ">=" 5 x
    goal parallel_replay "replay >= 2x faster than mariadb-binlog | mariadb (best: $best workers)" "$(ratio "${SECS[peer_replay]}" "${LB_REPLAY[$best]}")" ">=" 2 x
    SECS_TSV=$(for k in "${!SECS[@]}"; do printf '%s\t%s\t%s\n' "$k" "${SECS[$k]}" "${RSS[$k]}"; done) \
    REPLAY_TSV=$(for w in $WORKERS_LIST; do printf '%s\t%s\n' "$w" "${LB_REPLAY[$w]}"; done) \
    GOALS_TSV=$(printf '%s\n' "${GOALS[@]}") \
        python3 - "$RESULTS" "$SCALE" "$REPLAY_TX" "$DB_BYTES" "$DUMP_ZSTD_BYTES" "$LB_LOGICAL_BYTES" "$MB_ZSTD_BYTES" "$LB_PHYS_BYTES" "$BINLOG_BYTES" <<'PY'
import json, os, sys
a = sys.argv
rows = lambda k: [l.split("\t") for l in os.environ[k].splitlines() if l]
json.dump({"scale": float(a[2]), "replay_transactions": int(a[3]), "data_bytes": int(a[4]),
           "stored_bytes": {"mariadb_dump_zstd3": int(a[5]), "lifeboat_logical": int(a[6]),
                            "mariadb_backup_zstd": int(a[7]), "lifeboat_physical": int(a[8])},
           "binlog_bytes": int(a[9]),
           "steps": {k: {"seconds": float(s), "peak_rss_kib": int(r)} for k, s, r in rows("SECS_TSV")},
           "replay_seconds_by_workers": {w: float(s) for w, s in rows("REPLAY_TSV")},
           "goals": dict(rows("GOALS_TSV"))}, open(a[1], "w"), indent=2)
PY
    echo "results: $RESULTS"
    ((ok)) || exit 1
}

main "$@"
