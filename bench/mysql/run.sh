#!/usr/bin/env bash
# MySQL/MariaDB benchmark: Lifeboat's database backup and restore against
# `mariadb-dump | gzip` (the old backup guide's method) and mydumper/myloader,
# on the same data in the same run, on a private MariaDB server this script
# starts and stops itself. Prints wall time, peak RSS, ratios, stored sizes and
# the performance goals as PASS/FAIL, and writes everything to
# $BENCH_DIR/results.json. See bench/mysql/README.md.
#
#   bash bench/mysql/run.sh               # ~2.35 GB database; generation ~1 min once, the run ~10 min
#   SCALE=0.02 bash bench/mysql/run.sh    # quick run (~50 MB)
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench-mysql), SCALE (default 1.0).
# Exit status: 0 when every step ran and the Lifeboat restore holds the same
# rows as the source (goals may still FAIL: this is a measurement, not a
# test), 1 on a failed step or a Lifeboat restore that differs.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench-mysql}
SCALE=${SCALE:-1.0}

SERVER=$BENCH_DIR/server        # the private server: datadir, socket, binlogs; kept between runs
SOCK=$SERVER/mysqld.sock
DB=bench
OUT=$BENCH_DIR/run              # this run's dumps, repository and logs
LIFEBOAT=$REPO_ROOT/bin/lifeboat
SMLGEN=$REPO_ROOT/bin/smlgen
LB_CONFIG=$OUT/lifeboat.yaml
LB_REPO=$OUT/lifeboat-repo
LB_S3_CONFIG=$OUT/lifeboat-s3.yaml
S3=${S3:-1}
GUIDE_DUMP=$OUT/guide.sql.gz
MYDUMPER_DIR=$OUT/mydumper
RESULTS=$BENCH_DIR/results.json

export LIFEBOAT_PASSWORD=bench-password
export LIFEBOAT_MASKING_KEY=bench-masking-key-0123456789abcdef

# Client options every mariadb/mariadb-dump call shares: no option files, so
# nothing from the system server's configuration leaks into the measurement.
CLIENT=(--no-defaults -S "$SOCK" -uroot)
DUMP_OPTS=(--single-transaction --routines --triggers --events --hex-blob)

declare -A SECS RSS SRV_CPU  # "step/tool" -> wall seconds, peak RSS KiB, server CPU seconds
DBPID=

sql() { mariadb "${CLIENT[@]}" -N -B -e "$1"; }

# --- setup -------------------------------------------------------------------

# ensure_tools installs what is missing with one apt-get update. GNU time (not
# the shell keyword) is what reports peak RSS; the MariaDB server package is
# only needed for its binaries: the benchmark never touches the system server.
ensure_tools() {
    local missing=()
    have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; }
    have mariadbd || missing+=(mariadb-server)
    { have mariadb && have mariadb-dump; } || missing+=(mariadb-client)
    { have mydumper && have myloader; } || missing+=(mydumper)
    have sysbench || missing+=(sysbench)
    [[ -x /usr/bin/time ]] || missing+=(time)
    apt_install "${missing[@]}"
    local t
    for t in go python3 gzip gunzip du awk sha256sum; do
        command -v "$t" >/dev/null || die "$t is required"
    done
    MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    INSTALL_DB=$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)
}

build() {
    log "building lifeboat and smlgen"
    (cd "$REPO_ROOT" && go build -o bin/lifeboat ./cmd/lifeboat && go build -o bin/smlgen ./examples/sml-library/cmd/smlgen)
}

# Row counts from SCALE: bash has no floating point.
scaled() { awk -v s="$SCALE" -v n="$1" 'BEGIN { v = int(n * s + 0.5); print (v < 1000 ? 1000 : v) }'; }

# data_id names the data set: SCALE, the generator's sources and this
# script's generation steps (bump DATA_VERSION when generate_data changes).
# A datadir whose marker holds another id is wiped and generated again.
data_id() {
    local DATA_VERSION=2
    local gen
    gen=$(cat "$REPO_ROOT"/examples/sml-library/smlgen/*.go "$REPO_ROOT"/examples/sml-library/smlgen/schema.sql | sha256sum | cut -c1-16)
    echo "scale=$SCALE smlgen=$gen sysbench=$(sysbench --version | cut -d' ' -f2) data=$DATA_VERSION"
}

# stop_stale_server stops a server left running on our datadir by a run that
# was killed (SIGKILL skips the EXIT trap): a second server could not open
# the same InnoDB files. Only a mariadbd whose command line names our datadir
# is touched.
stop_stale_server() {
    local pid
    [[ -f $SERVER/pid ]] || return 0
    pid=$(cat "$SERVER/pid")
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--datadir=$SERVER/data"; then
        log "stopping the server a previous run left behind (pid $pid)"
        kill "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
    fi
}

# start_server starts the private server, initialising its datadir first when
# the data marker does not match (then the data is generated again). Binlog
# on and ROW format as in production: Lifeboat records the binlog position.
start_server() {
    ((${#SOCK} < 100)) || die "socket path $SOCK is too long for a Unix socket (${#SOCK} >= 100): use a shorter BENCH_DIR"
    stop_stale_server
    if [[ ! -f $SERVER/data.done || $(cat "$SERVER/data.done") != "$(data_id)" ]]; then
        log "initialising a private datadir in $SERVER/data"
        rm -rf "$SERVER"
        mkdir -p "$SERVER/data" "$SERVER/tmp" "$SERVER/binlog"
        local user=()
        ((EUID == 0)) && user=(--user=root)
        "$INSTALL_DB" --no-defaults --datadir="$SERVER/data" --auth-root-authentication-method=normal \
            --skip-test-db "${user[@]}" >"$SERVER/install.log" 2>&1 ||
            { tail -n 20 "$SERVER/install.log" >&2; die "mariadb-install-db failed"; }
    fi
    local user=()
    ((EUID == 0)) && user=(--user=root)
    "$MARIADBD" --no-defaults --datadir="$SERVER/data" --socket="$SOCK" --skip-networking \
        --tmpdir="$SERVER/tmp" --pid-file="$SERVER/pid" --log-bin="$SERVER/binlog/mysql-bin" \
        --binlog-format=ROW --server-id=1 --log-error="$SERVER/error.log" "${user[@]}" \
        --innodb-buffer-pool-size=2G --max-allowed-packet=64M &
    DBPID=$!
    local i
    for ((i = 0; i < 600; i++)); do
        mariadb "${CLIENT[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
        kill -0 "$DBPID" 2>/dev/null || { tail -n 20 "$SERVER/error.log" >&2; die "the private server exited"; }
        sleep 0.2
    done
    ((i < 600)) || { tail -n 20 "$SERVER/error.log" >&2; die "the private server did not answer in 120 s"; }
    log "private MariaDB $(sql 'SELECT VERSION()') on $SOCK (pid $DBPID)"
}

# stop_server runs on EXIT: a clean shutdown (SIGTERM), waited for, so no
# server outlives the run and the kept datadir is consistent.
stop_server() {
    if [[ -n $DBPID ]] && kill -0 "$DBPID" 2>/dev/null; then
        log "stopping the private server (pid $DBPID)"
        kill "$DBPID" 2>/dev/null || true
        wait "$DBPID" 2>/dev/null || true
    fi
}

# generate_data fills database bench unless the marker says it is complete:
# generation takes longer than most measured steps. Smart Library tables
# (users, rooms, bookings, waitlist, booking_audit, with a view, a trigger and
# a procedure) plus 8 sysbench tables, so the data has both an application's
# schema and plain bulk rows, plus a JSON table without a primary key and a
# BLOB table (bench/lib.sh json_blob_tables), the shapes logical dumps store
# worst.
generate_data() {
    local want
    want=$(data_id)
    if [[ -f $SERVER/data.done && $(cat "$SERVER/data.done") == "$want" ]]; then
        log "reusing database $DB ($want)"
        return
    fi
    local bookings rows start
    bookings=$(scaled 3000000)
    rows=$(scaled 1000000)
    start=$SECONDS
    log "generating database $DB: Smart Library with $bookings bookings, 8 sysbench tables of $rows rows (SCALE=$SCALE)"
    sql "DROP DATABASE IF EXISTS $DB"
    "$SMLGEN" -socket "$SOCK" -db "$DB" -bookings "$bookings" generate >&2
    sysbench oltp_read_write --db-driver=mysql --mysql-socket="$SOCK" --mysql-user=root --mysql-db="$DB" \
        --tables=8 --table-size="$rows" --threads=2 prepare >"$SERVER/sysbench-prepare.log" 2>&1 ||
        { tail -n 20 "$SERVER/sysbench-prepare.log" >&2; die "sysbench prepare failed"; }
    json_blob_tables "$DB" "$(scaled 300000)" | mariadb "${CLIENT[@]}"
    log "generated in $((SECONDS - start)) s"
    echo "$want" >"$SERVER/data.done"
}

# prepare_server brings the server to the same state for every run: no
# restore databases left by a killed run, fresh table statistics (the size
# query reads them) and no binlogs from generation or earlier runs, which
# would otherwise fill the disk (every restore writes its data to the binlog).
prepare_server() {
    local d
    for d in r_guide r_myloader r_lifeboat r_lifeboat_masked; do sql "DROP DATABASE IF EXISTS $d"; done
    analyze "$DB"
    purge_binlogs
}

analyze() {
    local t list=()
    for t in $(sql "SELECT table_name FROM information_schema.TABLES WHERE table_schema='$1' AND table_type='BASE TABLE'"); do
        list+=("\`$1\`.\`$t\`")
    done
    local IFS=,
    sql "ANALYZE TABLE ${list[*]}" >/dev/null
}

purge_binlogs() { sql "FLUSH BINARY LOGS; PURGE BINARY LOGS BEFORE NOW()"; }

# fresh_run removes the previous run's outputs: every tool starts from an
# empty directory or repository.
fresh_run() {
    rm -rf "$OUT"
    mkdir -p "$OUT/logs"
    : >"$OUT/steps.tsv"
    cat >"$LB_CONFIG" <<EOF
repository:
  path: $LB_REPO
sources:
  db:
    type: mysql
    socket: $SOCK
    user: root
    databases: [$DB]
    # The masked restore's rules: 6 columns, 5 transformers, on the
    # Smart Library tables and the biggest sysbench table.
    masking:
      key_env: LIFEBOAT_MASKING_KEY
      mode: permissive
      rules:
        $DB.users.email: email
        $DB.users.name: name
        $DB.bookings.notes: text
        $DB.booking_audit.changed_by: name
        $DB.sbtest1.c: {hash: {format: true}}
        $DB.sbtest1.pad: text
EOF
    "$LIFEBOAT" --config "$LB_CONFIG" init >"$OUT/logs/init-lifeboat.log" 2>&1 ||
        { cat "$OUT/logs/init-lifeboat.log" >&2; die "lifeboat init failed"; }
}

# --- measuring ---------------------------------------------------------------

# server_cpu prints the private server's user+system CPU seconds so far. The
# dump tools' own numbers leave out the server's share of the work (reading
# and sending rows, or parsing and inserting them), which this column shows.
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$DBPID/stat"
}

# measure STEP TOOL CMD...: runs CMD under GNU time, keeping its output in
# $OUT/logs, and records wall seconds, peak RSS (largest process of the tree
# it waited for: for a pipeline that is mariadb-dump, gzip or the client) and
# the server's CPU seconds during the step.
measure() {
    local step=$1 tool=$2
    shift 2
    local name=$OUT/logs/$step-$tool secs rss cpu0 cpu1
    # Flush the previous step's writes now, so they are not billed to this step.
    sync
    log "$(printf '  %-8s %-9s ...' "$step" "$tool")"
    cpu0=$(server_cpu)
    if ! /usr/bin/time -f '%e %M' -o "$name.time" "$@" >"$name.log" 2>&1; then
        log "step $step $tool failed: $*"
        tail -n 20 "$name.log" "$name.time" >&2
        exit 1
    fi
    cpu1=$(server_cpu)
    read -r secs rss <"$name.time"
    SECS[$step/$tool]=$secs
    RSS[$step/$tool]=$rss
    SRV_CPU[$step/$tool]=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
    printf '%s\t%s\t%s\t%s\t%s\n' "$step" "$tool" "$secs" "$rss" "${SRV_CPU[$step/$tool]}" >>"$OUT/steps.tsv"
    log "$(printf '  %-8s %-9s %8.2f s %8.1f MiB  (server CPU %s s)' "$step" "$tool" "$secs" "$(mib "$((rss * 1024))")" "${SRV_CPU[$step/$tool]}")"
}


record_size() { SIZES+=("$1"$'\t'"$2"); }

# --- the benchmark -----------------------------------------------------------

# measure_source records the database's size as the server counts it and the
# size of its plain SQL dump (from the guide's archive, after the timed steps).
measure_source() {
    DB_BYTES=$(sql "SELECT SUM(data_length + index_length) FROM information_schema.TABLES WHERE table_schema='$DB'")
    DB_ROWS=$(sql "SELECT SUM(table_rows) FROM information_schema.TABLES WHERE table_schema='$DB'")
    log "database $DB: $(mib "$DB_BYTES") MiB (data + indexes), about $DB_ROWS rows"
}

# run_backups: the server's own dump speed first (nothing compressed or
# written; it also warms the buffer pool and page cache for all that follow),
# then the guide's pipeline, mydumper and Lifeboat.
run_backups() {
    log "backups"
    local dump="mariadb-dump ${CLIENT[*]} ${DUMP_OPTS[*]} $DB"
    measure backup floor bash -c "set -o pipefail; $dump >/dev/null"
    measure backup guide bash -c "set -o pipefail; $dump | gzip >'$GUIDE_DUMP'"
    # -G -E -R: triggers, events and routines, like the guide's dump options.
    measure backup mydumper mydumper -S "$SOCK" -u root -B "$DB" -t 2 -c -G -E -R -o "$MYDUMPER_DIR"
    measure backup lifeboat "$LIFEBOAT" --config "$LB_CONFIG" backup db
    record_size "guide .sql.gz" "$(bytes "$GUIDE_DUMP")"
    record_size "mydumper dir (-c)" "$(bytes "$MYDUMPER_DIR")"
    LB_FIRST=$(bytes "$LB_REPO")
    record_size "lifeboat repo after 1st full" "$LB_FIRST"
    SQL_BYTES=$(gunzip -c "$GUIDE_DUMP" | wc -c)
    log "mariadb-dump output: $(mib "$SQL_BYTES") MiB of SQL"
}

# fingerprint DB prints what a restore must reproduce: exact row counts of
# every base table and the number of views, triggers, routines and events.
fingerprint() {
    local t
    for t in $(sql "SELECT table_name FROM information_schema.TABLES WHERE table_schema='$1' AND table_type='BASE TABLE' ORDER BY table_name"); do
        echo "$t $(sql "SELECT COUNT(*) FROM \`$1\`.\`$t\`")"
    done
    sql "SELECT 'views', COUNT(*) FROM information_schema.VIEWS WHERE table_schema='$1'"
    sql "SELECT 'triggers', COUNT(*) FROM information_schema.TRIGGERS WHERE trigger_schema='$1'"
    sql "SELECT 'routines', COUNT(*) FROM information_schema.ROUTINES WHERE routine_schema='$1'"
    sql "SELECT 'events', COUNT(*) FROM information_schema.EVENTS WHERE event_schema='$1'"
}

# check_restore TOOL DB compares a restored database with the source, then
# drops it (three copies of the database would not fit everywhere) and the
# binlogs its load wrote.
declare -A VERIFY
check_restore() {
    local tool=$1 db=$2
    if diff <(fingerprint "$DB") <(fingerprint "$db") >"$OUT/logs/verify-$tool.diff" 2>&1; then
        VERIFY[$tool]=MATCH
    else
        VERIFY[$tool]=MISMATCH
        log "  $tool restore differs from $DB (rows, views, triggers, routines, events):"
        head -n 20 "$OUT/logs/verify-$tool.diff" >&2
    fi
    sql "DROP DATABASE \`$db\`"
    purge_binlogs
}

# run_restores restores the first full backup of each tool into a new
# database. Every restore writes the binlog, as a restore on a production
# server would: myloader turns its binlog off unless given -e, so it gets -e.
run_restores() {
    log "restores (each into a new database, dropped afterwards)"
    sql "CREATE DATABASE r_guide"
    measure restore guide bash -c "set -o pipefail; gunzip -c '$GUIDE_DUMP' | mariadb ${CLIENT[*]} r_guide"
    check_restore guide r_guide
    measure restore myloader myloader -S "$SOCK" -u root -d "$MYDUMPER_DIR" -B r_myloader -t 2 -e
    check_restore myloader r_myloader
    measure restore lifeboat "$LIFEBOAT" --config "$LB_CONFIG" restore db --target-database r_lifeboat
    check_restore lifeboat r_lifeboat
    # The same restore masked: every value of the 6 ruled columns replaced
    # on its way to the server.
    measure restore lifeboat-masked "$LIFEBOAT" --config "$LB_CONFIG" restore db --masked --target-database r_lifeboat_masked
    MASKED_CELLS=$(sql "SELECT (SELECT COUNT(*) * 2 FROM r_lifeboat_masked.users) + (SELECT COUNT(notes) FROM r_lifeboat_masked.bookings) + (SELECT COUNT(*) FROM r_lifeboat_masked.booking_audit) + (SELECT COUNT(*) * 2 FROM r_lifeboat_masked.sbtest1)")
    MASKED_LEFT=$(sql "SELECT COUNT(*) FROM r_lifeboat_masked.users m JOIN $DB.users u ON u.id = m.id AND (u.email = m.email OR u.name = m.name)")
    check_restore lifeboat-masked r_lifeboat_masked
    [[ $MASKED_LEFT == 0 ]] || { VERIFY[lifeboat-masked]=MISMATCH; log "  $MASKED_LEFT users kept an original email or name"; }
    # Masking alone, per core: the transformers' Go benchmark (one goroutine).
    (cd "$REPO_ROOT" && go test -run '^$' -bench 'BenchmarkMask' -benchtime 1s ./internal/mask/) >"$OUT/logs/mask-bench.log" 2>&1 ||
        { cat "$OUT/logs/mask-bench.log" >&2; die "the masking benchmark failed"; }
    MASK_PER_CORE=$(awk '/^BenchmarkMaskRow/ { for (i = 1; i < NF; i++) if ($(i+1) == "values/s") print $i }' "$OUT/logs/mask-bench.log")
}

# run_s3 repeats Lifeboat's backup and restore with the repository on S3
# (SeaweedFS on loopback, in $OUT/weed), the way the first user keeps an
# offsite repository: what reading every chunk over HTTP costs a restore.
# S3=0 leaves it out.
run_s3() {
    [[ $S3 == 1 ]] || return 0
    log "lifeboat with its repository on S3 (SeaweedFS on loopback)"
    local port=18433
    export AWS_ACCESS_KEY_ID=bench-access AWS_SECRET_ACCESS_KEY=bench-secret-key
    start_weed "$OUT/weed" $port
    s3_request PUT $port /lifeboat-bench >/dev/null || die "could not create the bucket lifeboat-bench"
    sed "s|^  path: .*|  url: s3://lifeboat-bench/db\n  endpoint: 127.0.0.1:$port\n  tls: false|" "$LB_CONFIG" >"$LB_S3_CONFIG"
    "$LIFEBOAT" --config "$LB_S3_CONFIG" init >"$OUT/logs/init-lifeboat-s3.log" 2>&1 ||
        { cat "$OUT/logs/init-lifeboat-s3.log" >&2; die "lifeboat init on S3 failed"; }
    measure backup lifeboat-s3 "$LIFEBOAT" --config "$LB_S3_CONFIG" backup db
    measure restore lifeboat-s3 "$LIFEBOAT" --config "$LB_S3_CONFIG" restore db --target-database r_lifeboat_s3
    check_restore lifeboat-s3 r_lifeboat_s3
    stop_weed
}

# The dedup step changes 1% of the rows twice, in two patterns, each followed
# by another full backup whose repository growth is recorded. Lifeboat stores
# each table as a stream cut into content-defined chunks of about 1 MiB, so
# what a full after a change stores depends on how many chunks the changed
# rows touch:
# - block: one contiguous run of 1% of the ids per table (the rows an
#   application is working on), a few chunks per table;
# - spread: every 100th row, so that every chunk holding more than 100 rows
#   (all of them, at ~200 bytes a row) has changed.
# Both keep row sizes, so growth is the new chunks, not a bigger database.
change_block() {
    local start=$SECONDS t lo n
    for t in sbtest{1..8} bookings; do
        read -r lo n < <(sql "SELECT MIN(id) + FLOOR((MAX(id) - MIN(id)) * 0.4), CEIL(COUNT(*) / 100) FROM $DB.$t")
        sql "UPDATE $DB.$t SET $(change_expr "$t") WHERE id >= $lo ORDER BY id LIMIT $n"
    done
    log "changed a block of 1% of the rows of sbtest1..8 and bookings in $((SECONDS - start)) s"
}

change_spread() {
    local start=$SECONDS t
    for t in sbtest{1..8} bookings; do
        sql "UPDATE $DB.$t SET $(change_expr "$t") WHERE id % 100 = 0"
    done
    log "changed every 100th row of sbtest1..8 and bookings in $((SECONDS - start)) s"
}

# change_expr TABLE: a new value of the same size for a column no index holds.
change_expr() {
    if [[ $1 == bookings ]]; then
        echo "notes = CONCAT('changed ', NOW(6))"
    else
        echo "c = CONCAT(MD5(RAND()), SUBSTRING(c, 33))"
    fi
}

# lifeboat_again STEP KIND: another full backup after a change, recording
# what it added to the repository.
lifeboat_again() {
    local step=$1 kind=$2 before after
    before=$(bytes "$LB_REPO")
    measure "$step" lifeboat "$LIFEBOAT" --config "$LB_CONFIG" backup db
    after=$(bytes "$LB_REPO")
    GROWTH[$kind]=$((after - before))
    record_size "lifeboat $step full growth" "${GROWTH[$kind]}"
}

declare -A GROWTH  # change pattern -> bytes the following full added

run_dedup() {
    log "full backups after 1% changes"
    change_block
    lifeboat_again second block
    change_spread
    lifeboat_again third spread
    record_size "lifeboat repo after 3rd full" "$(bytes "$LB_REPO")"
}

# snapshot_summary lists Lifeboat's snapshots (files = tables and schema
# objects, bytes = logical size) so the table can say what was stored.
snapshot_summary() {
    "$LIFEBOAT" --config "$LB_CONFIG" snapshots --json >"$OUT/lifeboat-snapshots.json"
    LB_SNAPS=$(python3 - "$OUT/lifeboat-snapshots.json" <<'EOF'
import json, sys
snaps = [s for s in json.load(open(sys.argv[1])) if s.get("role", "backup") == "backup"]
print("; ".join("%s %s: %d files, %.1f MiB" % (s["id"][:8], s["type"], s["files"], s["bytes"] / 1048576) for s in snaps))
EOF
)
}

# --- report ------------------------------------------------------------------

declare -A TOOL_LABEL=(
    [backup/floor]="mariadb-dump >/dev/null" [backup/guide]="mariadb-dump | gzip"
    [backup/mydumper]="mydumper -t 2 -c" [backup/lifeboat]="lifeboat backup"
    [restore/guide]="gunzip | mariadb" [restore/myloader]="myloader -t 2 -e"
    [restore/lifeboat]="lifeboat restore" [restore/lifeboat-masked]="lifeboat restore --masked"
    [backup/lifeboat-s3]="lifeboat backup, S3" [restore/lifeboat-s3]="lifeboat restore, S3"
    [second/lifeboat]="lifeboat backup (block)" [third/lifeboat]="lifeboat backup (spread)"
)
STEPS=(backup/floor backup/guide backup/mydumper backup/lifeboat restore/guide restore/myloader restore/lifeboat restore/lifeboat-masked second/lifeboat third/lifeboat)
[[ $S3 == 1 ]] && STEPS+=(backup/lifeboat-s3 restore/lifeboat-s3)

report() {
    local key
    echo
    echo "=== Lifeboat MySQL/MariaDB benchmark (SCALE=$SCALE) ==="
    echo "database: $DB on a private MariaDB $(sql 'SELECT VERSION()'): $(mib "$DB_BYTES") MiB data + indexes, about $DB_ROWS rows;"
    echo "          mariadb-dump output $(mib "$SQL_BYTES") MiB of SQL"
    echo "versions: $("$LIFEBOAT" version | head -n1); $(mariadb-dump --version | sed 's/ *Distrib.*//; s/^.*mariadb-dump */mariadb-dump /' | head -n1);"
    echo "          $(mydumper --version 2>&1 | head -n1); $(gzip --version | head -n1)"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, load average before the run $LOAD_BEFORE"
    echo "server: innodb_buffer_pool_size 2G, binlog ROW on; lifeboat workers 4 (its default), mydumper/myloader -t 2 (as the issue asks)"
    echo
    printf '%-8s %-24s %9s %13s %14s\n' step tool seconds "peak RSS MiB" "server CPU s"
    printf '%-8s %-24s %9s %13s %14s\n' -------- ------------------------ --------- ------------- --------------
    for key in "${STEPS[@]}"; do
        printf '%-8s %-24s %9.2f %13.1f %14.2f\n' "${key%/*}" "${TOOL_LABEL[$key]}" \
            "${SECS[$key]}" "$(mib "$((RSS[$key] * 1024))")" "${SRV_CPU[$key]}"
    done
    echo "(peak RSS: the largest client process; the server's memory is not included)"
    echo "(restores: each into a new database, binlog written; checked against the source:"
    echo " guide ${VERIFY[guide]}, myloader ${VERIFY[myloader]}, lifeboat ${VERIFY[lifeboat]}, lifeboat masked ${VERIFY[lifeboat-masked]}${VERIFY[lifeboat-s3]:+, lifeboat from S3 ${VERIFY[lifeboat-s3]}})"
    echo "lifeboat snapshots: $LB_SNAPS"

    R_FLOOR=$(ratio "${SECS[backup/lifeboat]}" "${SECS[backup/floor]}")
    R_GUIDE=$(ratio "${SECS[backup/guide]}" "${SECS[backup/lifeboat]}")
    R_MYDUMPER=$(ratio "${SECS[backup/mydumper]}" "${SECS[backup/lifeboat]}")
    R_GUIDE_RESTORE=$(ratio "${SECS[restore/guide]}" "${SECS[restore/lifeboat]}")
    R_MYLOADER=$(ratio "${SECS[restore/myloader]}" "${SECS[restore/lifeboat]}")
    R_MASKED=$(ratio "${SECS[restore/lifeboat-masked]}" "${SECS[restore/lifeboat]}")
    R_GROWTH_BLOCK=$(awk -v a="${GROWTH[block]}" -v b="$LB_FIRST" 'BEGIN { printf "%.3f", a / b }')
    R_GROWTH_SPREAD=$(awk -v a="${GROWTH[spread]}" -v b="$LB_FIRST" 'BEGIN { printf "%.3f", a / b }')
    LB_PEAK_KIB=0
    for key in backup/lifeboat restore/lifeboat restore/lifeboat-masked second/lifeboat third/lifeboat backup/lifeboat-s3 restore/lifeboat-s3; do
        if ((${RSS[$key]:-0} > LB_PEAK_KIB)); then LB_PEAK_KIB=${RSS[$key]}; fi
    done

    echo
    echo "ratios"
    printf '  %-52s %8s\n' "lifeboat backup / mariadb-dump >/dev/null" "$R_FLOOR"
    printf '  %-52s %8s\n' "mariadb-dump | gzip / lifeboat backup" "$R_GUIDE"
    printf '  %-52s %8s\n' "mydumper / lifeboat backup" "$R_MYDUMPER"
    printf '  %-52s %8s\n' "gunzip | mariadb / lifeboat restore" "$R_GUIDE_RESTORE"
    printf '  %-52s %8s\n' "myloader / lifeboat restore" "$R_MYLOADER"
    printf '  %-52s %8s\n' "lifeboat restore --masked / lifeboat restore" "$R_MASKED"
    printf '  %-52s %8s\n' "masked values in the masked restore" "$MASKED_CELLS"
    printf '  %-52s %8s\n' "masking throughput per core (values/s, Go bench)" "$MASK_PER_CORE"
    if [[ $S3 == 1 ]]; then
        printf '  %-52s %8s\n' "lifeboat backup to S3 / to a folder" "$(ratio "${SECS[backup/lifeboat-s3]}" "${SECS[backup/lifeboat]}")"
        printf '  %-52s %8s\n' "lifeboat restore from S3 / from a folder" "$(ratio "${SECS[restore/lifeboat-s3]}" "${SECS[restore/lifeboat]}")"
        printf '  %-52s %8s\n' "myloader / lifeboat restore from S3" "$(ratio "${SECS[restore/myloader]}" "${SECS[restore/lifeboat-s3]}")"
    fi
    printf '  %-52s %8s\n' "2nd full growth (1% block changed) / 1st full size" "$R_GROWTH_BLOCK"
    printf '  %-52s %8s\n' "3rd full growth (1% spread changed) / 1st full size" "$R_GROWTH_SPREAD"

    echo
    echo "sizes (du -sb; database: data_length + index_length)"
    printf '  %-30s %12s %9s%%\n' "database $DB" "$(mib "$DB_BYTES") MiB" "100.0"
    printf '  %-30s %12s %9s%%\n' "mariadb-dump SQL" "$(mib "$SQL_BYTES") MiB" "$(awk -v a="$SQL_BYTES" -v t="$DB_BYTES" 'BEGIN { printf "%.1f", 100 * a / t }')"
    print_sizes "$DB_BYTES"

    echo
    echo "goals"
    GOALS=()
    goal backup_within_1_5x_of_bare_dump "backup <= 1.5x the bare mariadb-dump time" "$R_FLOOR" "<=" 1.5 x
    goal backup_6x_faster_than_guide "backup >= 6x faster than mariadb-dump | gzip" "$R_GUIDE" ">=" 6 x
    goal backup_2_5x_faster_than_mydumper "backup >= 2.5x faster than mydumper" "$R_MYDUMPER" ">=" 2.5 x
    goal restore_2x_faster_than_guide "restore >= 2x faster than gunzip | mariadb" "$R_GUIDE_RESTORE" ">=" 2 x
    goal restore_not_slower_than_myloader "restore no slower than myloader" "$R_MYLOADER" ">=" 1 x
    goal masked_restore_within_1_3x "masked restore (6 columns) <= 1.3x the plain restore" "$R_MASKED" "<=" 1.3 x
    [[ $S3 == 1 ]] && goal restore_from_s3_not_slower_than_myloader "restore from S3 no slower than myloader" \
        "$(ratio "${SECS[restore/myloader]}" "${SECS[restore/lifeboat-s3]}")" ">=" 1 x
    goal full_after_1pct_block_growth_below_10pct "full after a 1% block change adds <= 10% of the 1st" "$R_GROWTH_BLOCK" "<=" 0.10 ""
    goal full_after_1pct_spread_growth_below_10pct "full after a 1% spread change adds <= 10% of the 1st" "$R_GROWTH_SPREAD" "<=" 0.10 ""
    LB_PEAK_MB=$(awk -v k="$LB_PEAK_KIB" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')
    goal peak_rss_below_300MB "lifeboat peak RSS < 300 MB (all steps)" "$LB_PEAK_MB" "<" 300 " MB"

    echo
    write_json
    echo "results: $RESULTS"
}

# write_json writes $RESULTS; values travel in the environment so no path or
# label needs quoting for Python.
write_json() {
    SCALE=$SCALE DB_BYTES=$DB_BYTES DB_ROWS=$DB_ROWS SQL_BYTES=$SQL_BYTES LB_PEAK_KIB=$LB_PEAK_KIB \
    LOAD_BEFORE=$LOAD_BEFORE R_FLOOR=$R_FLOOR R_GUIDE=$R_GUIDE R_MYDUMPER=$R_MYDUMPER \
    R_GUIDE_RESTORE=$R_GUIDE_RESTORE R_MYLOADER=$R_MYLOADER R_MASKED=$R_MASKED MASK_PER_CORE=$MASK_PER_CORE MASKED_CELLS=$MASKED_CELLS R_GROWTH_BLOCK=$R_GROWTH_BLOCK R_GROWTH_SPREAD=$R_GROWTH_SPREAD \
    VERIFY_TSV=$(for k in "${!VERIFY[@]}"; do printf '%s\t%s\n' "$k" "${VERIFY[$k]}"; done) \
    SIZES_TSV=$(printf '%s\n' "${SIZES[@]}") GOALS_TSV=$(printf '%s\n' "${GOALS[@]}") \
        python3 - "$OUT/steps.tsv" "$RESULTS" <<'EOF'
import json, os, sys
env = os.environ
steps = []
for line in open(sys.argv[1]):
    step, tool, secs, rss, cpu = line.rstrip("\n").split("\t")
    steps.append({"step": step, "tool": tool, "seconds": float(secs), "peak_rss_kib": int(rss),
                  "server_cpu_seconds": float(cpu)})
def pairs(name):
    return [l.split("\t") for l in env[name].splitlines() if l]
def ratio(name):
    return None if env[name] == "inf" else float(env[name])
json.dump({
    "scale": float(env["SCALE"]),
    "database": {"bytes": int(env["DB_BYTES"]), "rows_estimate": int(env["DB_ROWS"]),
                 "mariadb_dump_sql_bytes": int(env["SQL_BYTES"])},
    "load_average_before": env["LOAD_BEFORE"],
    "steps": steps,
    "ratios": {
        "lifeboat_backup_over_bare_dump": ratio("R_FLOOR"),
        "guide_over_lifeboat_backup": ratio("R_GUIDE"),
        "mydumper_over_lifeboat_backup": ratio("R_MYDUMPER"),
        "guide_restore_over_lifeboat_restore": ratio("R_GUIDE_RESTORE"),
        "myloader_over_lifeboat_restore": ratio("R_MYLOADER"),
        "masked_restore_over_plain_restore": ratio("R_MASKED"),
        "growth_after_1pct_block_over_first_full": ratio("R_GROWTH_BLOCK"),
        "growth_after_1pct_spread_over_first_full": ratio("R_GROWTH_SPREAD"),
    },
    "sizes_bytes": {k.replace(" ", "_"): int(v) for k, v in pairs("SIZES_TSV")},
    "lifeboat_peak_rss_kib": int(env["LB_PEAK_KIB"]),
    "masking": {"masked_values": int(env["MASKED_CELLS"]), "values_per_second_per_core": float(env["MASK_PER_CORE"] or 0)},
    "restores": {k: v for k, v in pairs("VERIFY_TSV")},
    "goals": {k: v for k, v in pairs("GOALS_TSV")},
}, open(sys.argv[2], "w"), indent=2)
EOF
}

main() {
    ensure_tools
    build
    mkdir -p "$BENCH_DIR"
    trap 'stop_weed; stop_server' EXIT
    trap 'exit 130' INT TERM
    start_server
    generate_data
    prepare_server
    fresh_run
    measure_source
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    run_backups
    run_restores
    run_s3
    run_dedup
    snapshot_summary
    report
    local tool
    for tool in lifeboat lifeboat-masked ${VERIFY[lifeboat-s3]:+lifeboat-s3}; do
        if [[ ${VERIFY[$tool]} != MATCH ]]; then
            log "the $tool restore differs from the source: $OUT/logs/verify-$tool.diff"
            exit 1
        fi
    done
}

main "$@"
