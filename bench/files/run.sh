#!/usr/bin/env bash
# Files benchmark: Lifeboat against `tar -czf` (the old backup guide's method)
# and restic, on the same generated tree in the same run. Prints wall time, peak
# RSS, ratios, repository sizes and the performance goals as PASS/FAIL, and
# writes everything to $BENCH_DIR/results.json. See bench/files/README.md.
#
#   bash bench/files/run.sh              # ~2.4 GB tree, a few minutes
#   SCALE=0.1 bash bench/files/run.sh    # quick run
#
# Environment: BENCH_DIR (default /tmp/lifeboat-bench), SCALE (default 1.0).
# Exit status: 0 when the Lifeboat restore matches the source (goals may still
# FAIL: this is a measurement, not a test), 1 on a mismatch or a failed step.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
HERE=$REPO_ROOT/bench/files
BENCH_DIR=${BENCH_DIR:-/tmp/lifeboat-bench}
SCALE=${SCALE:-1.0}

TREE=$BENCH_DIR/tree            # generated once, reused by later runs
OUT=$BENCH_DIR/run              # this run's archives, repositories, restores, logs
LIFEBOAT=$REPO_ROOT/bin/lifeboat
LB_CONFIG=$OUT/lifeboat.yaml
LB_REPO=$OUT/lifeboat-repo
RESTIC_REPO=$OUT/restic-repo
RESTIC_CACHE=$OUT/restic-cache  # private, so no run starts with a cache left by another
RESULTS=$BENCH_DIR/results.json

export LIFEBOAT_PASSWORD=bench-password
export RESTIC_PASSWORD=bench-password

declare -A SECS RSS  # "step/tool" -> wall seconds, peak RSS KiB


# --- setup -------------------------------------------------------------------

# ensure_tools installs restic and GNU time when missing. GNU time (not the
# shell keyword) is what reports peak RSS.
ensure_tools() {
    install_missing restic:restic time:/usr/bin/time
    require go python3 tar gzip diff du
}

generate_tree() { generate_files_tree "$TREE" "$SCALE"; }

# fresh_run removes the previous run's outputs: every tool starts from an
# empty repository.
fresh_run() {
    rm -rf "$OUT"
    mkdir -p "$OUT/logs" "$OUT/restore"
    cat >"$LB_CONFIG" <<EOF
repository:
  path: $LB_REPO
sources:
  tree:
    type: files
    paths: [$TREE]
EOF
    "$LIFEBOAT" --config "$LB_CONFIG" init >"$OUT/logs/init-lifeboat.log" 2>&1
    restic -r "$RESTIC_REPO" --cache-dir "$RESTIC_CACHE" init >"$OUT/logs/init-restic.log" 2>&1
}

# warm_cache reads the whole tree once. Caches cannot be dropped in a
# container, so instead of cold reads for the first tool only (tar), every tool
# reads from a warm page cache. (tar -cf /dev/null would not do: GNU tar skips
# reading file data when the archive is /dev/null.)
warm_cache() {
    find "$TREE" -type f -print0 | xargs -0 cat >/dev/null
}

# --- measuring ---------------------------------------------------------------

# measure STEP TOOL CMD...: runs CMD under GNU time, keeping its output in
# $OUT/logs, and records wall seconds and peak RSS (largest process of the
# tree it waited for: for tar -z that is tar or its gzip child).
measure() {
    local step=$1 tool=$2
    shift 2
    local name=$OUT/logs/$step-$tool secs rss
    # Flush the previous step's writes now, so they are not billed to this step.
    sync
    log "$(printf '  %-8s %-9s ...' "$step" "$tool")"
    if ! /usr/bin/time -f '%e %M' -o "$name.time" "$@" >"$name.log" 2>&1; then
        log "step $step $tool failed: $*"
        tail -n 20 "$name.log" "$name.time" >&2
        exit 1
    fi
    read -r secs rss <"$name.time"
    SECS[$step/$tool]=$secs
    RSS[$step/$tool]=$rss
    printf '%s\t%s\t%s\t%s\n' "$step" "$tool" "$secs" "$rss" >>"$OUT/steps.tsv"
    log "$(printf '  %-8s %-9s %8.2f s %8.1f MiB' "$step" "$tool" "$secs" "$(mib "$((rss * 1024))")")"
}


record_size() { SIZES+=("$1"$'\t'"$(bytes "$2")"); }

# --- the benchmark -----------------------------------------------------------

run_full() {
    log "full backups"
    measure full tar tar -czf "$OUT/full.tar.gz" -C "$BENCH_DIR" tree
    measure full restic restic -r "$RESTIC_REPO" --cache-dir "$RESTIC_CACHE" backup "$TREE"
    measure full lifeboat "$LIFEBOAT" --config "$LB_CONFIG" backup tree --type full
    record_size "tar full archive" "$OUT/full.tar.gz"
    record_size "restic repo after full" "$RESTIC_REPO"
    record_size "lifeboat repo after full" "$LB_REPO"
}

change_one_percent() {
    log "changing 1% of the files: $(python3 "$HERE/gentree.py" mutate "$TREE" "$SCALE")"
    warm_cache
}

run_second() {
    log "second backups (after the change)"
    measure second restic restic -r "$RESTIC_REPO" --cache-dir "$RESTIC_CACHE" backup "$TREE"
    measure second lifeboat "$LIFEBOAT" --config "$LB_CONFIG" backup tree --type incremental
    # The guide has no incremental mode: its second backup is another full tar.
    measure second tar tar -czf "$OUT/second.tar.gz" -C "$BENCH_DIR" tree
    record_size "tar second archive" "$OUT/second.tar.gz"
    record_size "restic repo after second" "$RESTIC_REPO"
    record_size "lifeboat repo after second" "$LB_REPO"
}

run_restores() {
    log "restores of the latest backup"
    mkdir -p "$OUT/restore/tar"
    measure restore tar tar -xzf "$OUT/second.tar.gz" -C "$OUT/restore/tar"
    # Restore times depend on the kernel's writeback of the previous restore's
    # 2 GB as much as on the tool, so restic and Lifeboat each restore twice,
    # in alternating order, and the faster of each tool's two runs counts.
    local round tool
    for round in 1 2; do
        local order=(restic lifeboat)
        ((round == 2)) && order=(lifeboat restic)
        for tool in "${order[@]}"; do
            rm -rf "$OUT/restore/$tool"
            case $tool in
            restic) measure "restore$round" restic restic -r "$RESTIC_REPO" --cache-dir "$RESTIC_CACHE" restore latest --target "$OUT/restore/restic" ;;
            lifeboat) measure "restore$round" lifeboat "$LIFEBOAT" --config "$LB_CONFIG" restore tree --target "$OUT/restore/lifeboat" ;;
            esac
        done
    done
    for tool in restic lifeboat; do
        local a=${SECS[restore1/$tool]} b=${SECS[restore2/$tool]}
        SECS[restore/$tool]=$(awk -v a="$a" -v b="$b" 'BEGIN { print (a < b ? a : b) }')
        RSS[restore/$tool]=$(( ${RSS[restore1/$tool]} > ${RSS[restore2/$tool]} ? ${RSS[restore1/$tool]} : ${RSS[restore2/$tool]} ))
        log "  restore  $tool: best of $a s and $b s"
    done
}

# check_snapshots confirms the second Lifeboat snapshot really is an
# incremental that reread only the changed files; otherwise its time would not
# mean what the table says.
check_snapshots() {
    "$LIFEBOAT" --config "$LB_CONFIG" snapshots --json >"$OUT/lifeboat-snapshots.json"
    LB_SNAPS=$(python3 - "$OUT/lifeboat-snapshots.json" <<'EOF'
import json, sys
snaps = [s for s in json.load(open(sys.argv[1])) if s.get("role", "backup") == "backup"]
print("; ".join("%s: %d files, %d read, %d reused" % (s["type"], s["files"], s["read_files"], s["reused_files"]) for s in snaps))
EOF
)
}

# verify_restore compares the Lifeboat restore with the tree as it was backed up
# last (the tree is not touched after the change).
verify_restore() {
    if diff -r "$TREE" "$OUT/restore/lifeboat" >"$OUT/logs/verify.diff" 2>&1; then
        VERIFY=MATCH
    else
        VERIFY=MISMATCH
    fi
}

# --- report ------------------------------------------------------------------

declare -A TOOL_LABEL=([tar]="tar -czf" [restic]="restic" [lifeboat]="lifeboat")

report() {
    local step tool label
    local tree_bytes tree_files
    tree_bytes=$(bytes "$TREE")
    tree_files=$(find "$TREE" -type f | wc -l)

    echo
    echo "=== Lifeboat files benchmark (SCALE=$SCALE) ==="
    echo "tree: $TREE: $tree_files files, $(mib "$tree_bytes") MiB; 1% of the files changed before the second backup"
    echo "versions: $("$LIFEBOAT" version | head -n1); $(restic version | cut -d' ' -f1-2); $(tar --version | head -n1); $(gzip --version | head -n1)"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
    echo "page cache: warm for all tools equally (tree read once before the first and the second backups;"
    echo "            caches cannot be dropped in a container). Restores write to the page cache, unsynced."
    echo
    printf '%-8s %-10s %9s %13s\n' step tool seconds "peak RSS MiB"
    printf '%-8s %-10s %9s %13s\n' -------- ---------- --------- -------------
    for step in full second restore; do
        for tool in tar restic lifeboat; do
            label=${TOOL_LABEL[$tool]}
            [[ $step/$tool == restore/tar ]] && label="tar -xzf"
            printf '%-8s %-10s %9.2f %13.1f\n' "$step" "$label" \
                "${SECS[$step/$tool]}" "$(mib "$((RSS[$step/$tool] * 1024))")"
        done
    done
    echo "(second: restic's second backup, lifeboat --type incremental, tar -czf full again)"
    echo "(restore: restic and lifeboat each ran twice in alternating order; the faster run counts)"
    echo "lifeboat snapshots: $LB_SNAPS"

    R_TAR_FULL=$(ratio "${SECS[full/tar]}" "${SECS[full/lifeboat]}")
    R_TAR_INCR=$(ratio "${SECS[second/tar]}" "${SECS[second/lifeboat]}")
    R_RESTIC_FULL=$(ratio "${SECS[full/restic]}" "${SECS[full/lifeboat]}")
    R_RESTIC_SECOND=$(ratio "${SECS[second/restic]}" "${SECS[second/lifeboat]}")
    R_RESTIC_RESTORE=$(ratio "${SECS[restore/restic]}" "${SECS[restore/lifeboat]}")
    LB_PEAK_KIB=0
    for step in full second restore; do
        if ((RSS[$step/lifeboat] > LB_PEAK_KIB)); then LB_PEAK_KIB=${RSS[$step/lifeboat]}; fi
    done

    echo
    echo "ratios (time of the other tool / time of lifeboat; > 1 means lifeboat is faster)"
    printf '  %-46s %8s\n' "tar -czf full / lifeboat full" "$R_TAR_FULL"
    printf '  %-46s %8s\n' "tar -czf full (2nd) / lifeboat incremental" "$R_TAR_INCR"
    printf '  %-46s %8s\n' "restic full / lifeboat full" "$R_RESTIC_FULL"
    printf '  %-46s %8s\n' "restic second / lifeboat incremental" "$R_RESTIC_SECOND"
    printf '  %-46s %8s\n' "restic restore / lifeboat restore" "$R_RESTIC_RESTORE"

    echo
    echo "sizes (du -sb)"
    printf '  %-30s %12s %10s\n' "source tree" "$(mib "$tree_bytes") MiB" "100.0%"
    print_sizes "$tree_bytes"

    echo
    echo "goals"
    GOALS=()
    goal full_3x_faster_than_tar "full backup >= 3x faster than tar -czf" "$R_TAR_FULL" ">=" 3 x
    goal incremental_20x_faster_than_full_tar "1%-changed backup >= 20x faster than full tar -czf" "$R_TAR_INCR" ">=" 20 x
    goal not_slower_than_restic_full "no slower than restic: full (restic/lifeboat >= 1)" "$R_RESTIC_FULL" ">=" 1 x
    goal not_slower_than_restic_second "no slower than restic: second backup" "$R_RESTIC_SECOND" ">=" 1 x
    goal not_slower_than_restic_restore "no slower than restic: restore" "$R_RESTIC_RESTORE" ">=" 1 x
    local peak_mb
    peak_mb=$(awk -v k="$LB_PEAK_KIB" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')
    goal peak_rss_below_500MB "lifeboat peak RSS < 500 MB (all steps)" "$peak_mb" "<" 500 " MB"

    echo
    echo "lifeboat restore vs source tree (diff -r): $VERIFY"
    write_json "$tree_bytes" "$tree_files"
    echo "results: $RESULTS"
}

# write_json writes $RESULTS; values travel in the environment so no path or
# label needs quoting for Python.
write_json() {
    SCALE=$SCALE TREE=$TREE TREE_BYTES=$1 TREE_FILES=$2 VERIFY=$VERIFY LB_PEAK_KIB=$LB_PEAK_KIB \
    R_TAR_FULL=$R_TAR_FULL R_TAR_INCR=$R_TAR_INCR R_RESTIC_FULL=$R_RESTIC_FULL \
    R_RESTIC_SECOND=$R_RESTIC_SECOND R_RESTIC_RESTORE=$R_RESTIC_RESTORE \
    SIZES_TSV=$(printf '%s\n' "${SIZES[@]}") GOALS_TSV=$(printf '%s\n' "${GOALS[@]}") \
        python3 - "$OUT/steps.tsv" "$RESULTS" <<'EOF'
import json, os, sys
env = os.environ
steps = []
for line in open(sys.argv[1]):
    step, tool, secs, rss = line.rstrip("\n").split("\t")
    steps.append({"step": step, "tool": tool, "seconds": float(secs), "peak_rss_kib": int(rss)})
def pairs(name):
    return [l.split("\t") for l in env[name].splitlines() if l]
def ratio(name):
    return None if env[name] == "inf" else float(env[name])
json.dump({
    "scale": float(env["SCALE"]),
    "tree": {"path": env["TREE"], "files": int(env["TREE_FILES"]), "bytes": int(env["TREE_BYTES"])},
    "page_cache": "warm for all tools",
    "steps": steps,
    "ratios": {
        "tar_full_over_lifeboat_full": ratio("R_TAR_FULL"),
        "tar_full_over_lifeboat_incremental": ratio("R_TAR_INCR"),
        "restic_over_lifeboat_full": ratio("R_RESTIC_FULL"),
        "restic_over_lifeboat_second": ratio("R_RESTIC_SECOND"),
        "restic_over_lifeboat_restore": ratio("R_RESTIC_RESTORE"),
    },
    "sizes_bytes": {k.replace(" ", "_"): int(v) for k, v in pairs("SIZES_TSV")},
    "lifeboat_peak_rss_kib": int(env["LB_PEAK_KIB"]),
    "goals": {k: v for k, v in pairs("GOALS_TSV")},
    "lifeboat_restore": env["VERIFY"],
}, open(sys.argv[2], "w"), indent=2)
EOF
}

main() {
    ensure_tools
    build_tools lifeboat
    mkdir -p "$BENCH_DIR"
    generate_tree
    fresh_run
    warm_cache
    run_full
    change_one_percent
    run_second
    run_restores
    check_snapshots
    verify_restore
    report
    if [[ $VERIFY != MATCH ]]; then
        log "lifeboat restore differs from the source; kept in $OUT/restore/lifeboat, differences in $OUT/logs/verify.diff:"
        head -n 20 "$OUT/logs/verify.diff" >&2
        exit 1
    fi
    # Restores are 3 copies of the tree; the tree itself is kept for the next run.
    rm -rf "$OUT/restore"
}

main "$@"
