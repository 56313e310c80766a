#!/usr/bin/env bash
# S3 benchmark: backup, restore and verification (every byte read back: restic
# check --read-data) of the files benchmark's tree (~2.4 GB) to
# a local S3-compatible server (SeaweedFS, on loopback), Lifeboat against
# restic with its S3 backend on the same server, same data, same run. Prints
# wall time, peak RSS, the ratios (restic / Lifeboat: above 1, Lifeboat is
# faster) and the bytes each stored in its bucket.
#
#   bash bench/s3/run.sh              # the ~2.4 GB tree
#   SCALE=0.1 bash bench/s3/run.sh    # quick run
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench, the tree is shared with
# bench/files), SCALE (default 1.0), LIFEBOAT_WEED (default ~/.cache/lifeboat/weed,
# built by scripts/install-deps.sh).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench}
SCALE=${SCALE:-1.0}
TREE=$BENCH_DIR/tree
OUT=$BENCH_DIR/s3-run
LIFEBOAT=$REPO_ROOT/bin/lifeboat
export LIFEBOAT_PASSWORD=bench-password RESTIC_PASSWORD=bench-password
export AWS_ACCESS_KEY_ID=bench-access AWS_SECRET_ACCESS_KEY=bench-secret-key

install_missing restic:restic time:/usr/bin/time
build_tools lifeboat

generate_files_tree "$TREE" "$SCALE"
rm -rf "$OUT" && mkdir -p "$OUT/logs"

PORT=18333
trap stop_weed EXIT
start_weed "$OUT/weed" $PORT
restic -r "s3:http://127.0.0.1:$PORT/restic-bench" --cache-dir "$OUT/restic-cache" init >"$OUT/logs/restic-init.log" 2>&1 ||
    die "restic init: $(cat "$OUT/logs/restic-init.log")"

cat >"$OUT/lifeboat.yaml" <<YAML
repository:
  url: s3://lifeboat-bench/repo
  endpoint: 127.0.0.1:$PORT
  tls: false
audit: {path: $OUT/audit.jsonl}
sources:
  tree:
    type: files
    paths: [$TREE]
YAML
s3_request PUT $PORT /lifeboat-bench >/dev/null || die "could not create the bucket lifeboat-bench"
LB=("$LIFEBOAT" --config "$OUT/lifeboat.yaml")
"${LB[@]}" init >"$OUT/logs/lifeboat-init.log" 2>&1 || die "lifeboat init: $(cat "$OUT/logs/lifeboat-init.log")"

declare -A SECS RSS
TIMED_DIR=$OUT/logs
stored() { du -sb "$OUT/weed/data" | cut -f1; }

find "$TREE" -type f -print0 | xargs -0 cat >/dev/null   # every tool reads from a warm page cache
TREE_BYTES=$(du -sb "$TREE" | cut -f1)

s0=$(stored)
timed backup-restic restic -r "s3:http://127.0.0.1:$PORT/restic-bench" --cache-dir "$OUT/restic-cache" backup "$TREE"
s1=$(stored)
timed backup-lifeboat "${LB[@]}" backup tree
s2=$(stored)
# Restores vary more than backups from run to run (by a tenth either way
# here): three rounds, the order alternating, and each tool's median.
restore_restic() { timed "restore-restic-$1" restic -r "s3:http://127.0.0.1:$PORT/restic-bench" --cache-dir "$OUT/restic-cache" restore latest --target "$OUT/restore-restic"; }
restore_lifeboat() { timed "restore-lifeboat-$1" "${LB[@]}" restore tree --target "$OUT/restore-lifeboat"; }
for round in 1 2 3; do
    rm -rf "$OUT/restore-restic" "$OUT/restore-lifeboat"
    if ((round % 2)); then
        restore_restic $round
        restore_lifeboat $round
    else
        restore_lifeboat $round
        restore_restic $round
    fi
    diff -r "$TREE" "$OUT/restore-lifeboat" >/dev/null || die "the Lifeboat restore differs from the tree"
done
for tool in restic lifeboat; do
    SECS[restore-$tool]=$(printf '%s\n' "${SECS[restore-$tool-1]}" "${SECS[restore-$tool-2]}" "${SECS[restore-$tool-3]}" | sort -n | sed -n 2p)
    RSS[restore-$tool]=$(printf '%s\n' "${RSS[restore-$tool-1]}" "${RSS[restore-$tool-2]}" "${RSS[restore-$tool-3]}" | sort -n | tail -1)
done

diff -r "$TREE" "$OUT/restore-lifeboat" >/dev/null || die "the Lifeboat restore differs from the tree"

# The weekly integrity check: every stored byte read back and authenticated.
timed verify-restic restic -r "s3:http://127.0.0.1:$PORT/restic-bench" --cache-dir "$OUT/restic-cache" check --read-data
timed verify-lifeboat "${LB[@]}" verify tree

printf '\nS3 (SeaweedFS on loopback), %s MiB tree, same data, same run\n' "$(mib "$TREE_BYTES")"
printf '  %-22s %10s %10s %12s\n' step restic lifeboat "restic/lifeboat"
for round in 1 2 3; do
    printf '  %-22s %9ss %9ss\n' "restore round $round" "${SECS[restore-restic-$round]}" "${SECS[restore-lifeboat-$round]}"
done
for step in backup restore verify; do
    printf '  %-22s %9ss %9ss %12s\n' "$step (wall$([[ $step == restore ]] && echo ", median"))" "${SECS[$step-restic]}" "${SECS[$step-lifeboat]}" "$(ratio "${SECS[$step-restic]}" "${SECS[$step-lifeboat]}")"
    printf '  %-22s %7s MiB %7s MiB\n' "$step (peak RSS)" "$(mib $((RSS[$step-restic] * 1024)))" "$(mib $((RSS[$step-lifeboat] * 1024)))"
done
printf '  %-22s %7s MiB %7s MiB %12s\n' "bytes stored" "$(mib $((s1 - s0)))" "$(mib $((s2 - s1)))" "$(ratio $((s1 - s0)) $((s2 - s1)))"
goal backup "backup no slower than restic (restic/lifeboat)" "$(ratio "${SECS[backup-restic]}" "${SECS[backup-lifeboat]}")" ">=" 1 x
goal restore "restore no slower than restic (restic/lifeboat)" "$(ratio "${SECS[restore-restic]}" "${SECS[restore-lifeboat]}")" ">=" 1 x
