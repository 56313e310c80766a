#!/usr/bin/env bash
# Key rotation benchmark: `lifeboat key rekey` (a new repository with fresh
# keys, every snapshot copied, read back and compared, then switched in)
# against a fresh full backup of the same data into a new repository, on
# the same machine in the same run. The data is SIZE_MB of files, half
# incompressible, half text; the repository holds BACKUPS backups of it,
# each after 5% of the files changed, so the rekey copies what a repository
# really holds (several snapshots sharing most of their data).
# Prints seconds, MiB/s, peak RSS and the ratio; the goal is a rekey within
# 3x the fresh full backup (the rekey reads what it copies once more from
# each repository, to compare it; files the snapshots share are copied and
# compared once). Timings on a shared machine are noisy.
#
#   bash bench/keys/run.sh
#   SIZE_MB=64 BACKUPS=2 bash bench/keys/run.sh     # a quick run
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench-keys), SIZE_MB (256),
# BACKUPS (3). Exit status: 0 when every step ran, 1 otherwise.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench-keys}
SIZE_MB=${SIZE_MB:-256}
BACKUPS=${BACKUPS:-3}
LIFEBOAT=$REPO_ROOT/bin/lifeboat
DATA=$BENCH_DIR/data
TIMED_DIR=$BENCH_DIR/out
declare -A SECS RSS
GOALS=()

[[ -x $LIFEBOAT ]] || die "build Lifeboat first: make build"
command -v /usr/bin/time >/dev/null || die "GNU time is missing: apt-get install time"

rm -rf "$BENCH_DIR"
mkdir -p "$DATA" "$TIMED_DIR"

log "generating $SIZE_MB MiB in $DATA"
files=$((SIZE_MB / 2))
for ((i = 0; i < files; i++)); do
    head -c 1M /dev/urandom >"$DATA/bin$i"
    { yes "line $i of a text file that compresses well, like a log or a dump" || true; } | head -c 1M >"$DATA/txt$i"
done

config() { # config NAME REPO
    cat >"$BENCH_DIR/$1.yaml" <<YAML
repository:
  path: $2
audit:
  path: $BENCH_DIR/$1-audit.jsonl
sources:
  data:
    type: files
    paths: [$DATA]
YAML
}

config rotate "$BENCH_DIR/repo"
config fresh "$BENCH_DIR/fresh"
export LIFEBOAT_PASSWORD=bench-old-password
export NEW_PASSWORD=bench-new-password

"$LIFEBOAT" --config "$BENCH_DIR/rotate.yaml" init >/dev/null
for ((b = 0; b < BACKUPS; b++)); do
    if ((b > 0)); then
        for ((i = b; i < files; i += 20)); do head -c 1M /dev/urandom >"$DATA/bin$i"; done
    fi
    "$LIFEBOAT" --config "$BENCH_DIR/rotate.yaml" backup >/dev/null
done

"$LIFEBOAT" --config "$BENCH_DIR/fresh.yaml" init >/dev/null
timed backup "$LIFEBOAT" --config "$BENCH_DIR/fresh.yaml" backup
timed rekey "$LIFEBOAT" --config "$BENCH_DIR/rotate.yaml" key rekey --new-password-env NEW_PASSWORD

LIFEBOAT_PASSWORD=$NEW_PASSWORD "$LIFEBOAT" --config "$BENCH_DIR/rotate.yaml" snapshots >/dev/null ||
    die "the rekeyed repository does not open with the new password"

stored=$(bytes "$BENCH_DIR/repo")
echo
echo "Key rotation: $SIZE_MB MiB of files, $BACKUPS backups in the repository ($(mib "$stored") MiB stored)"
printf '  %-34s %8ss %8s MiB/s %8s MiB peak RSS\n' \
    "fresh full backup (1 snapshot)" "${SECS[backup]}" "$(awk -v m="$SIZE_MB" -v s="${SECS[backup]}" 'BEGIN { printf "%.1f", m / s }')" "$(mib $((RSS[backup] * 1024)))" \
    "rekey ($BACKUPS snapshots + records)" "${SECS[rekey]}" "$(awk -v m="$SIZE_MB" -v s="${SECS[rekey]}" 'BEGIN { printf "%.1f", m / s }')" "$(mib $((RSS[rekey] * 1024)))"
sed -n 1p "$TIMED_DIR/rekey.out"
r=$(ratio "${SECS[rekey]}" "${SECS[backup]}")
goal ratio "rekey time / fresh full backup time" "$r" "<=" 3 "x"
goal rss "rekey peak RSS" "$(mib $((RSS[rekey] * 1024)))" "<" 512 " MiB"
