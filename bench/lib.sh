# Helpers shared by the benchmark scripts (sourced, not run): logging, unit
# formatting, ratios, the sizes table and PASS/FAIL goals.

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
bytes() { du -sb "$1" | cut -f1; }
# ratio A B: A/B with two decimals ("inf" when B rounds to zero).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
# percent A TOTAL: A as a percentage of TOTAL, one decimal.
percent() { awk -v a="$1" -v t="$2" 'BEGIN { printf "%.1f", 100 * a / t }'; }

SIZES=()   # "name<TAB>bytes" lines, filled by the script
GOALS=()   # "key<TAB>PASS|FAIL" lines

# print_sizes TOTAL prints every recorded size in MiB and as a share of TOTAL.
print_sizes() {
    local entry name b
    for entry in "${SIZES[@]}"; do
        name=${entry%%$'\t'*}
        b=${entry#*$'\t'}
        printf '  %-30s %12s %9s%%\n' "$name" "$(mib "$b") MiB" "$(percent "$b" "$1")"
    done
}

# goal KEY TEXT VALUE OP LIMIT UNIT prints and records one goal; OP is >=, <= or <.
goal() {
    local verdict=FAIL
    if awk -v x="$3" -v op="$4" -v m="$5" 'BEGIN {
        if (x == "inf") exit !(op == ">=")
        exit !((op == ">=" && x + 0 >= m + 0) || (op == "<=" && x + 0 <= m + 0) || (op == "<" && x + 0 < m + 0)) }'; then
        verdict=PASS
    fi
    GOALS+=("$1"$'\t'"$verdict")
    printf '  %-4s %-54s %s%s (needs %s %s%s)\n' "$verdict" "$2" "$3" "$6" "$4" "$5" "$6"
}

# apt_install PKG... installs the packages (none: nothing) after one apt-get
# update. A server package tries to start its system service; a container
# refuses that harmlessly, and the scripts start their own servers.
apt_install() {
    (($#)) || return 0
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    log "installing $*"
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# have CMD: CMD is on PATH or in /usr/sbin (where Debian puts mariadbd, off
# an ordinary user's PATH).
have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; }

# require CMD... dies naming the first CMD missing: tools no package of
# install_missing brings (the Go toolchain, the shell's own).
require() {
    local t
    for t; do command -v "$t" >/dev/null || die "$t is required"; done
}

# install_missing PKG:CMD[|CMD...]... installs, after one apt-get update,
# each PKG none of whose CMDs is there. A CMD with a slash is a file that
# must be executable: GNU time is /usr/bin/time, `time` is a shell keyword.
# Naming a PKG twice needs both commands; it is installed once.
install_missing() {
    local spec pkg cmds c found missing=()
    for spec; do
        pkg=${spec%%:*}
        IFS='|' read -r -a cmds <<<"${spec#*:}"
        found=0
        for c in "${cmds[@]}"; do
            if [[ $c == */* ]]; then [[ -x $c ]]; else have "$c"; fi && { found=1; break; }
        done
        ((found)) || [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
    done
    apt_install "${missing[@]}"
}

# ensure_mariadb [PKG:CMD...]: install_missing of the MariaDB server and
# client and the packages given; sets MARIADBD and INSTALL_DB, the binaries
# start_binlog_server runs.
ensure_mariadb() {
    install_missing mariadb-server:mariadbd mariadb-client:mariadb "$@"
    MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    INSTALL_DB=$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)
}

# build_tools WHAT [NAME PACKAGE]...: builds bin/lifeboat and each bin/NAME
# from its Go PACKAGE, logging "building WHAT".
build_tools() {
    log "building $1"
    shift
    (
        cd "$REPO_ROOT"
        go build -o bin/lifeboat ./cmd/lifeboat
        while (($# > 1)); do
            go build -o "bin/$1" "$2"
            shift 2
        done
    )
}

# generate_files_tree TREE SCALE builds the files benchmark's data set unless a tree of the same SCALE made by the
# same generator already exists (the marker holds both), because generating
# 2.4 GB takes longer than some of the steps being measured.
generate_files_tree() {
    local TREE=$1 SCALE=$2 BENCH_DIR HERE=$REPO_ROOT/bench/files
    BENCH_DIR=$(dirname "$TREE")
    local marker=$BENCH_DIR/tree.done
    local want
    # Bump LARGE_FILES_VERSION when the large-file loop below changes.
    local LARGE_FILES_VERSION=1
    want="scale=$SCALE generator=$(sha256sum <"$HERE/gentree.py" | cut -c1-16) large=$LARGE_FILES_VERSION"
    if [[ -d $TREE && -f $marker && $(cat "$marker") == "$want" ]]; then
        log "reusing tree $TREE ($want)"
        return
    fi
    log "generating tree $TREE (SCALE=$SCALE)"
    rm -rf "$TREE" "$marker"
    mkdir -p "$TREE"
    python3 "$HERE/gentree.py" generate "$TREE" "$SCALE"
    # Large incompressible files (30-60 MiB, like media or archives) straight
    # from the kernel; sizes from a fixed seed so every run has the same shape.
    local n i
    n=$(awk -v s="$SCALE" 'BEGIN { n = int(20 * s + 0.5); print (n < 1 ? 1 : n) }')
    mkdir -p "$TREE/large"
    RANDOM=4242
    for ((i = 0; i < n; i++)); do
        head -c "$((30 + RANDOM % 31))M" /dev/urandom >"$TREE/large/l$(printf %02d "$i").bin"
    done
    echo "$want" >"$marker"
}


# timed NAME CMD... runs CMD with its output in $TIMED_DIR/NAME.out and .err
# and records its wall seconds in SECS[NAME] and its peak RSS (KiB) in
# RSS[NAME]; the caller declares `declare -A SECS RSS` and sets TIMED_DIR.
#
# Dirty pages of the step before are written out first: otherwise a step pays
# for the writeback of the one before it.
timed() {
    local name=$1 start end
    shift
    sync
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$TIMED_DIR/$name.rss" "$@" >"$TIMED_DIR/$name.out" 2>"$TIMED_DIR/$name.err" ||
        { cat "$TIMED_DIR/$name.out" "$TIMED_DIR/$name.err" >&2; die "$name failed"; }
    end=$(date +%s.%N)
    SECS[$name]=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    RSS[$name]=$(tail -n 1 "$TIMED_DIR/$name.rss")
}

# start_weed DIR PORT starts SeaweedFS with its S3 gateway on PORT (master,
# volume and filer on PORT+1000, +2000, +3000; their gRPC ports are +10000),
# its data and log under DIR, credentials $AWS_ACCESS_KEY_ID and
# $AWS_SECRET_ACCESS_KEY, and sets WEEDPID. It waits until the gateway
# answers a signed request (a bucket listing) and stops the server when the
# script exits (the caller's EXIT trap must call stop_weed if it sets one).
start_weed() {
    local dir=$1 port=$2 weed=${LIFEBOAT_WEED:-$HOME/.cache/lifeboat/weed} i
    [[ -x $weed ]] || bash "$REPO_ROOT/scripts/install-deps.sh"
    mkdir -p "$dir/data"
    cat >"$dir/s3.json" <<JSON
{"identities":[{"name":"bench","credentials":[{"accessKey":"$AWS_ACCESS_KEY_ID","secretKey":"$AWS_SECRET_ACCESS_KEY"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
    "$weed" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$dir/data" -volume.max=0 -master.volumeSizeLimitMB=1024 \
        -master.port=$((port + 1000)) -volume.port=$((port + 2000)) -filer -filer.port=$((port + 3000)) \
        -s3 -s3.port="$port" -s3.config="$dir/s3.json" \
        -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false >"$dir/weed.log" 2>&1 &
    WEEDPID=$!
    for ((i = 0; i < 120; i++)); do
        s3_request GET "$port" / >/dev/null 2>&1 && return 0
        kill -0 "$WEEDPID" 2>/dev/null || break
        sleep 1
    done
    die "SeaweedFS did not come up: $(tail -5 "$dir/weed.log")"
}

stop_weed() {
    [[ -n ${WEEDPID:-} ]] || return 0
    kill "$WEEDPID" 2>/dev/null || true
    wait "$WEEDPID" 2>/dev/null || true
    WEEDPID=
}

# s3_request METHOD PORT PATH: one signed request to the local gateway (e.g.
# PUT /bucket makes a bucket: Lifeboat never creates one, so a typo cannot).
s3_request() {
    curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -X "$1" "http://127.0.0.1:$2$3"
}

# start_binlog_server [MARIADBD_ARGS...]: a fresh private MariaDB in $SERVER
# (data, tmp, binlog in ROW format, no TCP) on $SOCK, run with $MARIADBD
# after $INSTALL_DB; sets DBPID and returns once it answers $CLIENT.
start_binlog_server() {
    ((${#SOCK} < 100)) || die "socket path $SOCK is too long for a Unix socket: use a shorter BENCH_DIR"
    rm -rf "$SERVER"
    mkdir -p "$SERVER/data" "$SERVER/tmp" "$SERVER/binlog"
    local user=() i
    ((EUID == 0)) && user=(--user=root)
    "$INSTALL_DB" --no-defaults --datadir="$SERVER/data" --auth-root-authentication-method=normal \
        --skip-test-db "${user[@]}" >"$SERVER/install.log" 2>&1 || die "mariadb-install-db failed"
    "$MARIADBD" --no-defaults --datadir="$SERVER/data" --socket="$SOCK" --skip-networking \
        --tmpdir="$SERVER/tmp" --pid-file="$SERVER/pid" --log-bin="$SERVER/binlog/mysql-bin" \
        --binlog-format=ROW --server-id=1 --log-error="$SERVER/error.log" "${user[@]}" "$@" &
    DBPID=$!
    for ((i = 0; i < 300; i++)); do
        mariadb "${CLIENT[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
        kill -0 "$DBPID" 2>/dev/null || die "the private server exited: $(tail -n 5 "$SERVER/error.log")"
        sleep 0.2
    done
    log "private MariaDB $(mariadb "${CLIENT[@]}" -N -B -e 'SELECT VERSION()') on $SOCK"
}

# stop_binlog_server stops the server start_binlog_server started, if it
# still runs, and waits for it.
stop_binlog_server() {
    if [[ -n ${DBPID:-} ]] && kill -0 "$DBPID" 2>/dev/null; then
        kill "$DBPID" 2>/dev/null || true
        wait "$DBPID" 2>/dev/null || true
    fi
}

sql() { mariadb "${CLIENT[@]}" -N -B -e "$1"; }

# The simulated binlog archive of bench/scale and bench/api: one segment
# every 30 s, binlog files rotated daily, 4 transactions each.
EVERY_SECONDS=30
PER_FILE=$((86400 / EVERY_SECONDS))
TX=4

# start_archive_server SEGMENTS: start_binlog_server, then its binlog
# rotated once per simulated day of an archive of SEGMENTS segments
# (PER_FILE a binlog file) and its GTID sequence raised above the archive's
# transactions (TX a segment), so a full backup stands where a server that
# had run that long would, and database shop with 2000 orders.
start_archive_server() {
    start_binlog_server
    local files=$((($1 + PER_FILE - 1) / PER_FILE + 1)) i
    log "rotating the binlog $files times"
    for ((i = 0; i < files; i++)); do echo 'FLUSH BINARY LOGS;'; done | mariadb "${CLIENT[@]}"
    sql "SET gtid_seq_no = $(($1 * TX + 10)); CREATE DATABASE shop"
    sql "CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(100), qty INT, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6));
         INSERT INTO shop.orders (item, qty) SELECT CONCAT('item ', seq), seq % 7 FROM shop.seq_1_to_2000"
    log "binlog at $(sql 'SHOW MASTER STATUS' | cut -f1,2), GTID $(sql 'SELECT @@gtid_binlog_pos')"
}

# start_daemon [ARGS...]: the real daemon (`"${LB[@]}" ARGS... daemon`,
# its output in $BENCH_DIR/daemon.out and .log); returns once its API
# answers over HTTPS on PORT with the certificate it wrote in $STATE. Sets
# DAEMONPID and CERT.
start_daemon() {
    local i
    "${LB[@]}" "$@" daemon >"$BENCH_DIR/daemon.out" 2>"$BENCH_DIR/daemon.log" &
    DAEMONPID=$!
    CERT=$STATE/api-cert.pem
    for ((i = 0; i < 300; i++)); do
        if [[ -f $CERT ]] && curl -sf --cacert "$CERT" -o /dev/null "https://127.0.0.1:$PORT/api/v1/openapi.json"; then
            return 0
        fi
        kill -0 "$DAEMONPID" 2>/dev/null || die "the daemon exited: $(tail -n 5 "$BENCH_DIR/daemon.log")"
        sleep 0.2
    done
    die "the daemon's API did not answer within 60 s: $(tail -n 5 "$BENCH_DIR/daemon.log")"
}

# stop_daemon stops the daemon start_daemon started (SIGTERM, as a service
# manager does) and waits for it.
stop_daemon() {
    [[ -n ${DAEMONPID:-} ]] || return 0
    kill -TERM "$DAEMONPID" 2>/dev/null || true
    wait "$DAEMONPID" 2>/dev/null || true
    DAEMONPID=
}

# make_source_dirs PREFIX COUNT FILES UNIT: COUNT folders
# $BENCH_DIR/data/PREFIX001..., each with FILES random files of UNIT, 2 UNIT,
# ... bytes in sub/ and a README: a files source's data.
make_source_dirs() {
    local i j dir
    for ((i = 1; i <= $2; i++)); do
        dir=$BENCH_DIR/data/$(printf '%s%03d' "$1" "$i")
        mkdir -p "$dir/sub"
        for ((j = 1; j <= $3; j++)); do head -c $((j * $4)) /dev/urandom >"$dir/sub/f$j.bin"; done
        echo "source $i" >"$dir/README"
    done
}

# json_blob_tables DB ROWS prints the SQL of bench/mysql's JSON and BLOB
# tables: documents in a table without a primary key, and attachments (text
# with some random bytes) in a BLOB column, ROWS and ROWS/10 of them.
json_blob_tables() {
    cat <<SQL
USE \`$1\`;
CREATE TABLE \`$1\`.docs (owner INT, doc JSON, note TEXT);
INSERT INTO \`$1\`.docs SELECT seq % 1000, JSON_OBJECT('id', seq, 'name', CONCAT('user', seq), 'tags', JSON_ARRAY('a', 'b', seq % 13),
  'address', JSON_OBJECT('city', ELT(1 + seq % 5, 'Oslo', 'Lima', 'Pune', 'Kyiv', 'Rome'), 'zip', LPAD(seq % 99999, 5, '0')), 'bio', REPEAT(MD5(seq), 4)),
  CONCAT('note ', seq) FROM seq_1_to_$2;
CREATE TABLE \`$1\`.attachments (id INT PRIMARY KEY, body MEDIUMBLOB);
INSERT INTO \`$1\`.attachments SELECT seq, CONVERT(CONCAT(REPEAT(CONCAT('line ', seq, ': ', MD5(seq), '\\n'), 20), RANDOM_BYTES(256)) USING binary)
  FROM seq_1_to_$(($2 / 10));
SQL
}
