#!/usr/bin/env bash
# Images benchmark: Lifeboat's `type: image` source against the guide's
# `docker save | gzip` per image per day (emulated with `skopeo copy
# oci:... docker-archive:...` and gzip, no Docker daemon), on the same images
# in the same run. Five images of about 300 MB in all share a 200 MB base;
# seven simulated days, one image's top layer rebuilt each day after the
# first. Prints time and bytes stored per tool, ratios, peak RSS and the
# issue's goals as PASS/FAIL, and writes $BENCH_DIR/results.json.
#
#   bash bench/images/run.sh               # 200 MB base + 5 x 20 MB, 7 days
#   SCALE=0.25 bash bench/images/run.sh    # quick run (50 MB base + 5 x 5 MB)
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench-images), SCALE (default
# 1.0), DAYS (default 7). Exit status 0 when every restore check passed
# (goals may still FAIL: this is a measurement, not a test).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench-images}
SCALE=${SCALE:-1.0}
DAYS=${DAYS:-7}

LAYOUT=$BENCH_DIR/layout
OUT=$BENCH_DIR/run
LIFEBOAT=$REPO_ROOT/bin/lifeboat
GEN=$REPO_ROOT/bin/bench-images-gen
LB_CONFIG=$OUT/lifeboat.yaml
GUIDE=$OUT/guide
RESULTS=$BENCH_DIR/results.json
TIMED_DIR=$OUT/logs

export LIFEBOAT_PASSWORD=bench-password
declare -A SECS RSS

install_missing skopeo:skopeo time:/usr/bin/time
require go gzip du
build_tools "lifeboat and the image generator" bench-images-gen ./bench/images/gen

BASE_MB=$(awk -v s="$SCALE" 'BEGIN { printf "%.2f", 200 * s }')
OWN_MB=$(awk -v s="$SCALE" 'BEGIN { printf "%.2f", 20 * s }')

rm -rf "$LAYOUT" "$OUT"
mkdir -p "$OUT/logs" "$GUIDE"
log "generating five images: a ${BASE_MB} MB base, ${OWN_MB} MB each of their own"
"$GEN" -dir "$LAYOUT" -base-mb "$BASE_MB" -own-mb "$OWN_MB" init

cat >"$LB_CONFIG" <<EOF
repository:
  path: $OUT/lifeboat-repo
sources:
  images:
    type: image
    images: [oci:$LAYOUT:img1, oci:$LAYOUT:img2, oci:$LAYOUT:img3, oci:$LAYOUT:img4, oci:$LAYOUT:img5]
EOF
"$LIFEBOAT" --config "$LB_CONFIG" init >"$OUT/logs/init.log" 2>&1

# guide_day N: every image, whole, as a gzip'd docker archive.
guide_day() {
    local i
    for i in 1 2 3 4 5; do
        skopeo copy -q "oci:$LAYOUT:img$i" "docker-archive:$GUIDE/day$1-img$i.tar:bench/img$i:latest"
        gzip -1 "$GUIDE/day$1-img$i.tar"
    done
}
export -f guide_day
export LAYOUT GUIDE

LB_SECS=0 GUIDE_SECS=0 LB_RSS=0 GUIDE_RSS=0
for day in $(seq 1 "$DAYS"); do
    if ((day > 1)); then
        "$GEN" -dir "$LAYOUT" -own-mb "$OWN_MB" -day "$day" step
    fi
    timed "lifeboat-day$day" "$LIFEBOAT" --config "$LB_CONFIG" backup images
    timed "guide-day$day" bash -c "guide_day $day"
    LB_SECS=$(awk -v a="$LB_SECS" -v b="${SECS[lifeboat-day$day]}" 'BEGIN { print a + b }')
    GUIDE_SECS=$(awk -v a="$GUIDE_SECS" -v b="${SECS[guide-day$day]}" 'BEGIN { print a + b }')
    ((RSS[lifeboat-day$day] > LB_RSS)) && LB_RSS=${RSS[lifeboat-day$day]}
    ((RSS[guide-day$day] > GUIDE_RSS)) && GUIDE_RSS=${RSS[guide-day$day]}
    printf '  day %d: lifeboat %6ss   guide %6ss   (lifeboat: %s)\n' "$day" "${SECS[lifeboat-day$day]}" "${SECS[guide-day$day]}" \
        "$(grep -o '[0-9]* files.*' "$TIMED_DIR/lifeboat-day$day.out" | head -1)" >&2
done

# The last day's images come back with their digests.
"$LIFEBOAT" --config "$LB_CONFIG" restore images --target "oci:$OUT/restored" >"$OUT/logs/restore.log" 2>&1 ||
    { cat "$OUT/logs/restore.log" >&2; die "restore failed"; }
for i in 1 2 3 4 5; do
    want=$(skopeo inspect "oci:$LAYOUT:img$i" | sed -n 's/.*"Digest": "\(sha256:[0-9a-f]*\)".*/\1/p' | head -1)
    got=$(skopeo inspect "oci:$OUT/restored:img$i" | sed -n 's/.*"Digest": "\(sha256:[0-9a-f]*\)".*/\1/p' | head -1)
    [[ -n $want && $want == "$got" ]] || die "img$i restored with digest $got, want $want"
done
log "restore: all five images back with their manifest digests"

LB_BYTES=$(bytes "$OUT/lifeboat-repo")
GUIDE_BYTES=$(bytes "$GUIDE")
SIZES=("lifeboat repository"$'\t'"$LB_BYTES" "guide archives (.tar.gz)"$'\t'"$GUIDE_BYTES")

echo
echo "images bench: SCALE=$SCALE (${BASE_MB} MB base + 5 x ${OWN_MB} MB), $DAYS days"
printf '  %-30s %10s s  peak RSS %s MiB\n' "lifeboat backup, all days" "$LB_SECS" "$(mib $((LB_RSS * 1024)))"
printf '  %-30s %10s s  peak RSS %s MiB\n' "skopeo + gzip, all days" "$GUIDE_SECS" "$(mib $((GUIDE_RSS * 1024)))"
echo "bytes stored:"
print_sizes "$GUIDE_BYTES"
BYTES_RATIO=$(ratio "$LB_BYTES" "$GUIDE_BYTES")
SPEEDUP=$(ratio "$GUIDE_SECS" "$LB_SECS")
echo "goals:"
goal bytes "stored bytes, lifeboat / guide" "$BYTES_RATIO" "<=" 0.2 ""
goal time "time, guide / lifeboat" "$SPEEDUP" ">=" 3 "x"

cat >"$RESULTS" <<EOF
{"scale": $SCALE, "days": $DAYS, "base_mb": $BASE_MB, "own_mb": $OWN_MB,
 "lifeboat": {"seconds": $LB_SECS, "bytes": $LB_BYTES, "peak_rss_kib": $LB_RSS},
 "guide": {"seconds": $GUIDE_SECS, "bytes": $GUIDE_BYTES, "peak_rss_kib": $GUIDE_RSS},
 "bytes_ratio": $BYTES_RATIO, "speedup": $SPEEDUP}
EOF
log "results: $RESULTS"
