#!/usr/bin/env bash
# Scale benchmark: what the everyday commands cost as a source's binlog
# archive grows, at SCALES segments (default 1k, 10k, 100k and 1M: a year at
# one every 30 s). For each scale a fresh repository gets a real full backup
# of a private MariaDB this script starts, a simulated history of that many
# segments before it (bench/scale/gen), and a real tail from `lifeboat binlog
# stream`; then `status`, `snapshots`, `binlog list db`, a backup of a small
# folder and `restore db --to-time T --dry-run` are each run RUNS times.
# Prints the median wall time and peak RSS (GNU time) of each, their ratios
# to the smallest scale, the time each history took to write, and PASS/FAIL
# goals at the largest scale (within 1.5x of the smallest, under 300 MB), and
# writes them to $BENCH_DIR/results.json. See bench/scale/README.md.
#
#   bash bench/scale/run.sh                       # every scale: hours, see the README
#   SCALES="1000 10000" bash bench/scale/run.sh   # a quick check, a few minutes
#   COMPACT=1 bash bench/scale/run.sh             # compact after each simulated day
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench-scale), SCALES, RUNS (3),
# SEGMENT_BYTES (1024 synthetic binlog bytes per segment), COMPACT (0),
# COMPACT_AFTER (1h), TIMEOUT (3600 s for one run of one command), KEEP (0:
# each scale's repository is removed once measured).
# Exit status: 0 when every step ran (goals may still FAIL: this is a
# measurement), 1 otherwise.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench-scale}
SCALES=${SCALES:-"1000 10000 100000 1000000"}
RUNS=${RUNS:-3}
SEGMENT_BYTES=${SEGMENT_BYTES:-1024}
COMPACT=${COMPACT:-0}
COMPACT_AFTER=${COMPACT_AFTER:-1h}
TIMEOUT=${TIMEOUT:-3600}
KEEP=${KEEP:-0}

SERVER=$BENCH_DIR/server
SOCK=$SERVER/mysqld.sock
LIFEBOAT=$REPO_ROOT/bin/lifeboat
GEN=$REPO_ROOT/bin/scalegen
RESULTS=$BENCH_DIR/results.json
FOLDER=$BENCH_DIR/folder
COMMANDS=(status snapshots binlog_list files_backup pitr_dry_run)

export LIFEBOAT_PASSWORD=bench-password
CLIENT=(--no-defaults -S "$SOCK" -uroot)
DBPID=
STREAMPID=

ensure_tools() {
    ensure_mariadb time:/usr/bin/time coreutils:timeout
    require go python3 awk
}

build() {
    local tags=()
    ((COMPACT)) && tags=(-tags compact)
    build_tools "lifeboat and the archive generator"
    (cd "$REPO_ROOT" && go build "${tags[@]}" -o bin/scalegen ./bench/scale/gen)
}

# start_server: a fresh private server; its binlog is rotated once per
# simulated day of the largest scale first, so the full backup's file comes
# after every file of the history, and its GTID sequence is raised above
# the history's transactions.
start_server() {
    local largest=0 n
    for n in $SCALES; do if ((n > largest)); then largest=$n; fi; done
    start_archive_server "$largest"
}

cleanup() {
    [[ -n $STREAMPID ]] && kill "$STREAMPID" 2>/dev/null || true
    stop_binlog_server
}
trap cleanup EXIT

# stored_after LOG T: whether the streamer's log has a stored segment whose
# last event came after T.
stored_after() {
    python3 - "$1" "$2" <<'PY'
import sys, re, datetime
def ts(s):
    s = s.strip('"').replace('+00:00', '').rstrip('Z')
    base, _, frac = s.partition('.')
    return datetime.datetime.strptime(base + '.' + (frac + '000000')[:6], '%Y-%m-%dT%H:%M:%S.%f').timestamp()
t = ts(sys.argv[2])
for line in open(sys.argv[1]):
    m = re.search(r'binlog segment stored.* last_event=(\S+)', line)
    if m and ts(m.group(1)) > t:
        sys.exit(0)
sys.exit(1)
PY
}

# tail_and_target DIR: the real streamer continues the archive from the
# history's end (the full's position); once it reads, a row is written, T is
# taken, another row is written, and the streamer stops once the segment
# holding that one is stored. Sets T, the instant the dry run recovers to.
tail_and_target() {
    local dir=$1 lb=("$LIFEBOAT" --config "$1/lifeboat.yaml") i
    "${lb[@]}" -v binlog stream db >"$dir/stream.out" 2>"$dir/stream.log" &
    STREAMPID=$!
    # Rows written once it reads live arrive as they commit; before, they
    # would arrive together when it catches up.
    for ((i = 0; ; i++)); do
        grep -q 'archiving binlog' "$dir/stream.log" && break
        kill -0 "$STREAMPID" 2>/dev/null || die "the streamer exited: $(tail -n 5 "$dir/stream.log")"
        ((i < TIMEOUT * 5)) || die "the streamer did not start within $TIMEOUT s"
        sleep 0.2
    done
    sleep 0.5
    sql "INSERT INTO shop.orders (item, qty) VALUES ('tail', 1)"
    sleep 0.2
    T=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
    sleep 0.2
    sql "INSERT INTO shop.orders (item, qty) VALUES ('after the target', 2)"
    for ((i = 0; ; i++)); do
        stored_after "$dir/stream.log" "$T" && break
        kill -0 "$STREAMPID" 2>/dev/null || die "the streamer exited: $(tail -n 5 "$dir/stream.log")"
        ((i < TIMEOUT * 5)) || die "the streamer stored nothing after $T within $TIMEOUT s"
        sleep 0.2
    done
    kill -TERM "$STREAMPID"
    wait "$STREAMPID" || die "the streamer failed: $(tail -n 5 "$dir/stream.log")"
    STREAMPID=
    grep -q 'GAP' "$dir/stream.log" && die "the streamer recorded a gap after the history: $(grep GAP "$dir/stream.log")"
    return 0
}

declare -A SECS RSS GENSECS REPOBYTES

# measure N NAME CMD...: runs CMD RUNS times (each bounded by TIMEOUT) and
# records the median wall seconds in SECS[N,NAME] ("timeout" when a run did
# not finish) and the highest peak RSS in KiB in RSS[N,NAME].
measure() {
    local n=$1 name=$2 dir=$BENCH_DIR/n$1 i start end rc secs=() rss=0 r
    shift 2
    for ((i = 1; i <= RUNS; i++)); do
        sync
        start=$(date +%s.%N)
        rc=0
        /usr/bin/time -f '%M' -o "$dir/$name.rss" timeout "$TIMEOUT" "$@" >"$dir/$name.out" 2>"$dir/$name.err" || rc=$?
        end=$(date +%s.%N)
        if ((rc == 124)); then
            log "  $name: run $i did not finish within $TIMEOUT s"
            SECS[$n,$name]=timeout
            RSS[$n,$name]=$(tail -n 1 "$dir/$name.rss")
            return 0
        fi
        ((rc == 0)) || { cat "$dir/$name.out" "$dir/$name.err" >&2; die "$name failed at $n segments"; }
        secs+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')")
        r=$(tail -n 1 "$dir/$name.rss")
        if ((r > rss)); then rss=$r; fi
    done
    SECS[$n,$name]=$(printf '%s\n' "${secs[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    RSS[$n,$name]=$rss
    log "  $name: median ${SECS[$n,$name]}s of ${secs[*]}; peak RSS $((rss / 1024)) MiB"
}

scale() {
    local n=$1 dir=$BENCH_DIR/n$1 start end
    local lb=("$LIFEBOAT" --config "$dir/lifeboat.yaml")
    rm -rf "$dir"
    mkdir -p "$dir"
    cat >"$dir/lifeboat.yaml" <<EOF
repository:
  path: $dir/repo
# tier other (an RPO of a week): status exits non-zero for a source out of
# its objective, which a long run at a large scale would otherwise become.
sources:
  db:
    type: mysql
    tier: other
    socket: $SOCK
    user: root
    databases: [shop]
  files:
    type: files
    tier: other
    paths: [$FOLDER]
EOF
    log "== $n segments"
    "${lb[@]}" init >/dev/null
    "${lb[@]}" backup db >&2
    "${lb[@]}" backup files >&2
    local compact=()
    ((COMPACT)) && compact=(-compact -compact-after "$COMPACT_AFTER")
    start=$(date +%s.%N)
    "$GEN" -repo "$dir/repo" -source db -segments "$n" -per-file "$PER_FILE" -every "${EVERY_SECONDS}s" \
        -bytes "$SEGMENT_BYTES" -tx "$TX" -binlog-dir "$SERVER/binlog" "${compact[@]}" >&2
    end=$(date +%s.%N)
    GENSECS[$n]=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    log "history of $n segments written in ${GENSECS[$n]}s"
    tail_and_target "$dir"
    REPOBYTES[$n]=$(bytes "$dir/repo")

    measure "$n" status "${lb[@]}" status
    measure "$n" snapshots "${lb[@]}" snapshots
    measure "$n" binlog_list "${lb[@]}" binlog list db
    measure "$n" files_backup "${lb[@]}" backup files
    measure "$n" pitr_dry_run "${lb[@]}" restore db --to-time "$T" --dry-run
    grep -q . "$dir/pitr_dry_run.out" || die "the dry run printed no plan"
    ((KEEP)) || rm -rf "$dir/repo"
}

ensure_tools
build
mkdir -p "$BENCH_DIR"
rm -rf "$FOLDER"
mkdir -p "$FOLDER/sub"
for i in $(seq 1 20); do head -c $((i * 1000)) /dev/urandom >"$FOLDER/sub/f$i.bin"; done
echo "a small folder" >"$FOLDER/README"
start_server

for n in $SCALES; do scale "$n"; done

# --- report --------------------------------------------------------------------
read -r -a NS <<<"$SCALES"
BASE=${NS[0]}
TOP=${NS[-1]}
LABELS=("status" "snapshots" "binlog list" "files backup" "PITR dry run")

printf '\nScale: binlog segments one every %ss (%s synthetic binlog bytes each), %s\n' "$EVERY_SECONDS" "$SEGMENT_BYTES" \
    "$( ((COMPACT)) && echo "compacted after each simulated day (older than $COMPACT_AFTER)" || echo "not compacted")"
printf '  %-10s %12s %12s\n' segments "written in" repository
for n in "${NS[@]}"; do
    printf '  %-10s %11ss %8s MiB\n' "$n" "${GENSECS[$n]}" "$(mib "${REPOBYTES[$n]}")"
done
# table TITLE FIGURES [DIV]: a row a scale of each command's figure (SECS
# or RSS; divided by DIV when given) and its ratio to the smallest scale's.
table() {
    local -n fig=$2
    local n c l v
    printf '\n  %s\n  %-10s' "$1" segments
    for l in "${LABELS[@]}"; do printf ' %18s' "$l"; done
    printf '\n'
    for n in "${NS[@]}"; do
        printf '  %-10s' "$n"
        for c in "${COMMANDS[@]}"; do
            v=${fig[$n,$c]}
            [[ -z ${3:-} ]] || v=$((v / $3))
            printf ' %18s' "$v ($(ratio "${fig[$n,$c]}" "${fig[$BASE,$c]}")x)"
        done
        printf '\n'
    done
}
table "median wall seconds of $RUNS runs (ratio to $BASE segments)" SECS
table "peak RSS, MiB (ratio to $BASE segments)" RSS 1024

printf '\nGoals at %s segments (the issue asks them at 1000000):\n' "$TOP"
for i in "${!COMMANDS[@]}"; do
    c=${COMMANDS[$i]}
    x=inf
    [[ ${SECS[$TOP,$c]} == timeout ]] || x=$(ratio "${SECS[$TOP,$c]}" "${SECS[$BASE,$c]}")
    goal "time_$c" "${LABELS[$i]}: time within 1.5x of $BASE segments" "$x" "<=" 1.5 x
    goal "rss_$c" "${LABELS[$i]}: peak RSS under 300 MB" "$(awk -v k="${RSS[$TOP,$c]}" 'BEGIN { printf "%.0f", k * 1024 / 1e6 }')" "<" 300 " MB"
done

{
    printf '{"every_seconds": %s, "segment_bytes": %s, "runs": %s, "compact": %s, "scales": [' "$EVERY_SECONDS" "$SEGMENT_BYTES" "$RUNS" "$COMPACT"
    sep=
    for n in "${NS[@]}"; do
        printf '%s\n {"segments": %s, "generate_s": %s, "repository_bytes": %s' "$sep" "$n" "${GENSECS[$n]}" "${REPOBYTES[$n]}"
        for c in "${COMMANDS[@]}"; do
            s=${SECS[$n,$c]}
            [[ $s == timeout ]] && s=null
            printf ', "%s_s": %s, "%s_rss_kib": %s' "$c" "$s" "$c" "${RSS[$n,$c]}"
        done
        printf '}'
        sep=,
    done
    printf ']}\n'
} >"$RESULTS"
log "results in $RESULTS"
