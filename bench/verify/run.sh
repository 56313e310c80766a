#!/usr/bin/env bash
# Restore-test benchmark: the old guide's verify-backup.sh (gunzip -t, load the
# dump into a test database, two SELECT COUNT(*), drop it) against Lifeboat's
# `verify database --restore-test` (every stored byte read back, the newest full
# restored into a scratch database, every table's row count and checksum
# compared with the backup's, the assertions run, the scratch dropped), on the
# same Smart Library data in the same run, on a private MariaDB this script
# starts. Then a drill of a database plan, whose RTO it prints. Prints wall
# time, peak RSS and the ratio.
#
#   bash bench/verify/run.sh                   # 1,000,000 bookings
#   BOOKINGS=100000 bash bench/verify/run.sh   # quick run
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench-verify), BOOKINGS.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench-verify}
BOOKINGS=${BOOKINGS:-1000000}
SERVER=$BENCH_DIR/server
SOCK=$SERVER/mysqld.sock
OUT=$BENCH_DIR/run
LIFEBOAT=$REPO_ROOT/bin/lifeboat
SMLGEN=$REPO_ROOT/bin/smlgen
CLIENT=(--no-defaults -S "$SOCK" -uroot)
export LIFEBOAT_PASSWORD=bench-password
DBPID=

ensure_mariadb time:/usr/bin/time
build_tools "lifeboat and smlgen" smlgen ./examples/sml-library/cmd/smlgen

rm -rf "$OUT"
mkdir -p "$OUT"
trap stop_binlog_server EXIT
start_binlog_server --innodb-buffer-pool-size=1G --max-allowed-packet=64M

log "generating sml_library with $BOOKINGS bookings"
"$SMLGEN" -socket "$SOCK" -bookings "$BOOKINGS" generate >"$OUT/generate.log"
ROWS=$(sql "SELECT SUM(TABLE_ROWS) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sml_library'")

declare -A SECS RSS
TIMED_DIR=$OUT

# The guide's backup (not timed): backup-database.sh.
mariadb-dump "${CLIENT[@]}" --single-transaction --routines --triggers --events sml_library | gzip >"$OUT/guide.sql.gz"

# The guide's verify-backup.sh, as one timed script.
cat >"$OUT/guide-verify.sh" <<SH
set -euo pipefail
gunzip -t "$OUT/guide.sql.gz"
mariadb ${CLIENT[*]} -e 'CREATE DATABASE sml_verify'
gunzip -c "$OUT/guide.sql.gz" | mariadb ${CLIENT[*]} sml_verify
mariadb ${CLIENT[*]} -N -e 'SELECT COUNT(*) FROM sml_verify.users; SELECT COUNT(*) FROM sml_verify.bookings'
mariadb ${CLIENT[*]} -e 'DROP DATABASE sml_verify'
SH

cat >"$OUT/lifeboat.yaml" <<YAML
repository: {path: $OUT/repo}
audit: {path: $OUT/audit.jsonl}
sources:
  database:
    type: mysql
    tier: critical
    socket: $SOCK
    user: root
    databases: [sml_library]
    verify:
      assertions: ["SELECT COUNT(*) > 0 FROM users", "SELECT COUNT(*) > 0 FROM bookings"]
plans:
  database:
    steps:
      - restore: database
      - check: {sql: "SELECT COUNT(*) > 0 FROM bookings", source: database}
YAML
LB=("$LIFEBOAT" --config "$OUT/lifeboat.yaml")
"${LB[@]}" init >/dev/null
"${LB[@]}" backup database >"$OUT/backup.out"

log "guide: verify-backup.sh"
timed guide bash "$OUT/guide-verify.sh"
log "lifeboat: verify database --restore-test"
timed lifeboat "${LB[@]}" verify database --restore-test
log "lifeboat: drill database"
timed drill "${LB[@]}" drill database

printf '\nrestore test of sml_library (%s rows, %s bookings), same data, same run\n' "$ROWS" "$BOOKINGS"
printf '  %-58s %9ss %8s MiB\n' "guide verify-backup.sh (load + 2 counts)" "${SECS[guide]}" "$(mib $((RSS[guide] * 1024)))"
printf '  %-58s %9ss %8s MiB\n' "lifeboat verify --restore-test (read + load + checksums)" "${SECS[lifeboat]}" "$(mib $((RSS[lifeboat] * 1024)))"
printf '  ratio guide / lifeboat: %s (above 1: Lifeboat is faster)\n' "$(ratio "${SECS[guide]}" "${SECS[lifeboat]}")"
grep -h "restore test of database" "$OUT/lifeboat.out" | sed 's/^/  /'
grep -h "RTO measured" "$OUT/drill.out" | sed 's/^/  drill: /'
