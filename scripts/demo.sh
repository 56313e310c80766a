#!/usr/bin/env bash
# The demo: a sample Smart Library installation in a temporary folder (uploads,
# configuration files, an .env, a git repository, and a private MariaDB with
# the sml_library database), backed up into a local encrypted repository,
# changed, backed up incrementally, and restored and compared: the first
# files snapshot elsewhere, and a dropped table back into the database. Two
# container images sharing a base (built by bin/smlimages, no Docker daemon)
# are backed up blob by blob and restored with their digests.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LB="$ROOT/bin/lifeboat"
[ -x "$LB" ] || (cd "$ROOT" && CGO_ENABLED=0 go build -o bin/lifeboat ./cmd/lifeboat)
(cd "$ROOT" && go build -o bin/smlgen ./examples/sml-library/cmd/smlgen)
SMLGEN="$ROOT/bin/smlgen"
(cd "$ROOT" && go build -o bin/smlimages ./examples/sml-library/cmd/smlimages)
SMLIMAGES="$ROOT/bin/smlimages"

DEMO="$(mktemp -d -t lifeboat-demo-XXXXXX)"
SITE="$DEMO/site"
export LIFEBOAT_PASSWORD="demo-password-$(date +%s)"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
lb() { echo "\$ lifeboat $*"; "$LB" --config "$DEMO/lifeboat.yaml" "$@"; }

step "Laying out a sample Smart Library installation in $SITE"
mkdir -p "$SITE/var/www/sml-library/uploads"/{covers,avatars,cache} "$SITE/etc/nginx/sites-enabled" \
  "$SITE/etc/mysql/conf.d" "$SITE/opt/sml-library/config"
for i in $(seq 1 200); do
  head -c $((2048 + i * 37)) /dev/urandom > "$SITE/var/www/sml-library/uploads/covers/book-$i.jpg"
done
for i in $(seq 1 50); do
  printf 'avatar of user %d\n' "$i" > "$SITE/var/www/sml-library/uploads/avatars/user-$i.png"
done
echo "thumbnail cache" > "$SITE/var/www/sml-library/uploads/cache/thumb.bin"
echo "half-written upload" > "$SITE/var/www/sml-library/uploads/upload-123.tmp"
mkdir -p "$SITE/var/www/sml-library/uploads/empty-folder"
ln -s covers/book-1.jpg "$SITE/var/www/sml-library/uploads/featured.jpg"
cat > "$SITE/etc/nginx/sites-enabled/sml-library.conf" <<'CONF'
server { listen 80; server_name library.example.org; root /var/www/sml-library/public; }
CONF
printf '[mysqld]\nbinlog_format = ROW\nlog_bin = mysql-bin\n' > "$SITE/etc/mysql/conf.d/backup.cnf"
printf 'DB_HOST=localhost\nDB_NAME=sml_library\nDB_PASSWORD=change-me\n' > "$SITE/opt/sml-library/.env"
chmod 600 "$SITE/opt/sml-library/.env"
echo '{"bookingWindowDays": 14}' > "$SITE/opt/sml-library/config/app.json"
(
  cd "$SITE/opt/sml-library"
  export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.org GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.org
  git init -q -b main
  printf 'node_modules/\n.env\nconfig/\n' > .gitignore
  echo "console.log('Smart Library v1')" > server.js
  git add -A && git commit -qm "v1" && git tag v1.0
  git checkout -qb feature/waitlist && echo "// waitlist" > waitlist.js && git add -A && git commit -qm "waitlist"
  git checkout -q main
)
# The application's container images, as an OCI layout: app and nginx share
# one base layer.
"$SMLIMAGES" build "$SITE/var/lib/sml-images"

step "Starting a private MariaDB (its own datadir and socket, binlog on) with the Smart Library data"
DB="$DEMO/mariadb"
SOCK="$DB/mysqld.sock"
mkdir -p "$DB/data" "$DB/binlog" "$DB/tmp"
USERARG=(); [ "$(id -u)" = 0 ] && USERARG=(--user=root)
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
INSTALLDB=$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)
"$INSTALLDB" --no-defaults --datadir="$DB/data" --auth-root-authentication-method=normal --skip-test-db "${USERARG[@]}" >"$DB/install.log" 2>&1
"$MARIADBD" --no-defaults --datadir="$DB/data" --socket="$SOCK" --skip-networking --tmpdir="$DB/tmp" \
  --pid-file="$DB/mariadb.pid" --log-bin="$DB/binlog/mysql-bin" --binlog-format=ROW --server-id=1 \
  --log-error="$DB/error.log" "${USERARG[@]}" &
DBPID=$!
trap 'kill $DBPID 2>/dev/null; wait $DBPID 2>/dev/null' EXIT
for _ in $(seq 1 100); do mariadb --no-defaults -S "$SOCK" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
sql() { mariadb --no-defaults -S "$SOCK" -uroot -N -e "$1"; }
"$SMLGEN" -socket "$SOCK" -bookings 50000 generate

cat > "$DEMO/lifeboat.yaml" <<YAML
repository:
  path: $DEMO/repository
audit:
  path: $DEMO/audit.jsonl
sources:
  database:
    type: mysql
    tier: critical
    socket: $SOCK
    user: root
    databases: [sml_library]
    verify:
      assertions: ["SELECT COUNT(*) > 0 FROM users", "SELECT COUNT(*) > 0 FROM bookings"]
    masking:
      key_env: LIFEBOAT_MASKING_KEY
      mode: strict
      rules:
        sml_library.users.email: email
        sml_library.users.name: name
        sml_library.users.preferences: {json: {"\$.phone": phone, "\$.address": address}}
        sml_library.bookings.notes: text
        sml_library.rooms.name: keep
  uploads:
    type: files
    tier: important
    paths: [$SITE/var/www/sml-library/uploads]
    exclude: ["*.tmp", "cache/"]
    retention: {latest: 1}
  config:
    type: files
    tier: other
    paths: [$SITE/etc/mysql, $SITE/etc/nginx, $SITE/opt/sml-library/.env, $SITE/opt/sml-library/config]
  code:
    type: git
    tier: important
    path: $SITE/opt/sml-library
  images:
    type: image
    tier: important
    images: [oci:$SITE/var/lib/sml-images:app, oci:$SITE/var/lib/sml-images:nginx]
copies:
  vault:
    path: $DEMO/vault-disk/lifeboat
    offline: true
plans:
  pitr:
    steps:
      - restore: database
      - check: {sql: "SELECT COUNT(*) > 0 FROM bookings", source: database}
  files:
    steps:
      - restore: uploads
        mode: "0755"
  application:
    steps:
      - restore: code
      - run: "git status --short"
        dir: $SITE/opt/sml-library
        drill: "git -C \$LIFEBOAT_RESTORED_CODE log --oneline -1"
  images:
    steps:
      - restore: images
        target: oci:$DEMO/recovered/images
  site:
    steps:
      - plan: pitr
      - plan: files
      - plan: application
      - plan: images
      - check: {sql: "SELECT COUNT(*) = 0 FROM bookings b LEFT JOIN users u ON u.id = b.user_id WHERE u.id IS NULL", source: database}
YAML

step "Validating the configuration"
lb config check

step "Creating the encrypted repository"
lb init

step "Full backup of every source (the database from one consistent point)"
lb backup --type full

# Keep a pristine copy to compare the restore with (without the excluded files).
cp -a "$SITE/var/www/sml-library/uploads" "$DEMO/uploads-at-first-backup"
rm -rf "$DEMO/uploads-at-first-backup/cache" "$DEMO/uploads-at-first-backup/upload-123.tmp"
FIRST=$("$LB" --config "$DEMO/lifeboat.yaml" snapshots uploads --json | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | head -1)
REFS_V1=$(git -C "$SITE/opt/sml-library" for-each-ref --format='%(refname) %(objectname)')
IMAGES_FIRST=$("$LB" --config "$DEMO/lifeboat.yaml" snapshots images --json | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | head -1)
APP_V1=$("$SMLIMAGES" digest "$SITE/var/lib/sml-images" app)

step "Changing some files: 5 covers replaced, 1 deleted, 1 new, a config edit, a new commit, a new app image"
for i in 1 2 3 4 5; do head -c 4096 /dev/urandom > "$SITE/var/www/sml-library/uploads/covers/book-$i.jpg"; done
rm "$SITE/var/www/sml-library/uploads/covers/book-200.jpg"
echo "new" > "$SITE/var/www/sml-library/uploads/covers/book-201.jpg"
echo '{"bookingWindowDays": 21}' > "$SITE/opt/sml-library/config/app.json"
(cd "$SITE/opt/sml-library" && echo "console.log('v2')" > server.js && \
  git -c user.name=demo -c user.email=demo@example.org commit -qam "v2")
"$SMLIMAGES" release "$SITE/var/lib/sml-images"

step "Incremental backup: only the changed files are read"
lb backup --type incremental
lb snapshots

step "Restoring the FIRST uploads snapshot elsewhere and comparing with the original"
lb restore uploads --snapshot "$FIRST" --target "$DEMO/restored/uploads"
if diff -r --no-dereference "$DEMO/uploads-at-first-backup" "$DEMO/restored/uploads" >/dev/null; then
  echo "MATCH: uploads restored from the first snapshot are identical to the original (content, symlinks, empty folders)"
else
  echo "MISMATCH in uploads" >&2; diff -r --no-dereference "$DEMO/uploads-at-first-backup" "$DEMO/restored/uploads" | head >&2; exit 1
fi
stat -c '%a %n' "$SITE/opt/sml-library/.env" >/dev/null

step "Restoring the first code snapshot: every branch and tag comes back"
CODE_FIRST=$("$LB" --config "$DEMO/lifeboat.yaml" snapshots code --json | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | head -1)
lb restore code --snapshot "$CODE_FIRST" --target "$DEMO/restored/code"
if [ "$(git -C "$DEMO/restored/code" for-each-ref --format='%(refname) %(objectname)')" = "$REFS_V1" ]; then
  echo "MATCH: refs of the restored repository equal the original's at the first backup:"
  git -C "$DEMO/restored/code" for-each-ref --format='  %(refname)'
else
  echo "MISMATCH in git refs" >&2; exit 1
fi

step "Container images: the first app image as a docker-archive, both latest ones through the images plan"
lb snapshots images
lb restore images --snapshot "$IMAGES_FIRST" --image "oci:$SITE/var/lib/sml-images:app" --target "docker-archive:$DEMO/restored/app-v1.tar"
tar -tf "$DEMO/restored/app-v1.tar" | grep -qx manifest.json && echo "the archive holds a manifest.json: docker load reads it"
lb recover images
for n in app nginx; do
  if [ "$("$SMLIMAGES" digest "$DEMO/recovered/images" "$n")" = "$("$SMLIMAGES" digest "$SITE/var/lib/sml-images" "$n")" ]; then
    echo "MATCH: the recovered $n image has the original manifest digest"
  else
    echo "MISMATCH in the $n image" >&2; exit 1
  fi
done
lb restore images --snapshot "$IMAGES_FIRST" --image "oci:$SITE/var/lib/sml-images:app" --target "oci:$DEMO/restored/app-v1"
if [ "$("$SMLIMAGES" digest "$DEMO/restored/app-v1" app)" = "$APP_V1" ]; then
  echo "MATCH: the first snapshot gives back the first app release ($APP_V1)"
else
  echo "MISMATCH in the first app release" >&2; exit 1
fi

step "Restoring the latest configuration (absolute paths below the target)"
lb restore config --target "$DEMO/restored/config"
diff -r "$SITE/etc/nginx" "$DEMO/restored/config$SITE/etc/nginx" >/dev/null && \
  cmp -s "$SITE/opt/sml-library/.env" "$DEMO/restored/config$SITE/opt/sml-library/.env" && \
  [ "$(stat -c %a "$DEMO/restored/config$SITE/opt/sml-library/.env")" = 600 ] && \
  echo "MATCH: configuration restored with its modes (.env is 0600)"

step "Disaster: the bookings table is dropped"
BEFORE=$(sql "SELECT COUNT(*), SUM(id), SUM(status = 'active') FROM sml_library.bookings")
echo "bookings before: $BEFORE (count, sum of ids, active)"
sql "DROP TABLE sml_library.bookings"
echo "dropped: $(sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sml_library' AND TABLE_NAME = 'bookings'") bookings tables left"

step "Restoring the bookings table from the latest full database backup"
DBFULL=$("$LB" --config "$DEMO/lifeboat.yaml" snapshots database --json | tr -d ' \n' |
  grep -o '"id":"[0-9a-f]*","source":"[^"]*","kind":"[^"]*","type":"full"' | tail -1 | cut -d'"' -f4)
lb restore database --snapshot "$DBFULL" --tables bookings
AFTER=$(sql "SELECT COUNT(*), SUM(id), SUM(status = 'active') FROM sml_library.bookings")
echo "bookings after:  $AFTER"
if [ "$BEFORE" = "$AFTER" ]; then
  echo "MATCH: the restored bookings table has the same rows"
else
  echo "MISMATCH in bookings" >&2; exit 1
fi
"$SMLGEN" -socket "$SOCK" check

step "Exporting the database as one SQL file the stock client loads"
lb export database -o "$DEMO/sml_library.sql.gz"
sql "CREATE DATABASE sml_from_export"
gunzip -c "$DEMO/sml_library.sql.gz" | mariadb --no-defaults -S "$SOCK" -uroot sml_from_export
echo "bookings loaded from the export by the stock client: $(sql "SELECT COUNT(*) FROM sml_from_export.bookings")"

step "A masked export for developers: users' emails, names and booking notes replaced as rows stream out"
lb mask scan database
export LIFEBOAT_MASKING_KEY="demo-masking-key-$(date +%s)"
lb export database --masked -o "$DEMO/sml_dev.sql.gz"
sql "CREATE DATABASE sml_dev"
gunzip -c "$DEMO/sml_dev.sql.gz" | mariadb --no-defaults -S "$SOCK" -uroot sml_dev
echo "a user in production: $(sql "SELECT email, name FROM sml_library.users WHERE id = 1")"
echo "the same user in the masked copy: $(sql "SELECT email, name FROM sml_dev.users WHERE id = 1")"
LEAKS=$(sql "SELECT COUNT(*) FROM sml_dev.users d JOIN sml_library.users p ON p.email = d.email OR p.name = d.name")
if [ "$LEAKS" = "0" ] && [ "$(sql "SELECT COUNT(*) FROM sml_dev.bookings")" = "$(sql "SELECT COUNT(*) FROM sml_library.bookings")" ]; then
  echo "MATCH: every booking is in the masked copy, and no production email or name"
else
  echo "MISMATCH in the masked export: $LEAKS original emails or names" >&2; exit 1
fi

step "Point in time: bookings keep coming after the last backup, then the table is dropped by mistake"
"$SMLGEN" -socket "$SOCK" -workers 2 -duration 3s workload
sleep 1.2
T=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
BEFORE=$(sql "SELECT COUNT(*), SUM(id), SUM(status = 'active') FROM sml_library.bookings")
echo "bookings at $T: $BEFORE (count, sum of ids, active)"
sleep 1.2
sql "DROP TABLE sml_library.bookings"

step "Incremental database backup: the binlog since the last backup, over the replication protocol"
lb backup database --type incremental

step "Recovering the database to the instant before the drop, under another name"
lb restore database --to-time "$T" --target-database sml_pitr --dry-run
lb restore database --to-time "$T" --target-database sml_pitr
AFTER=$(sql "SELECT COUNT(*), SUM(id), SUM(status = 'active') FROM sml_pitr.bookings")
echo "bookings recovered: $AFTER"
if [ "$BEFORE" = "$AFTER" ]; then
  echo "MATCH: every booking committed before the drop is back"
else
  echo "MISMATCH in the point-in-time recovery" >&2; exit 1
fi

step "Recovering the live database with the pitr plan, to the same instant (the dropped table is saved first)"
lb recover pitr --to-time "$T" --dry-run
lb recover pitr --to-time "$T"
AFTER=$(sql "SELECT COUNT(*), SUM(id), SUM(status = 'active') FROM sml_library.bookings")
if [ "$BEFORE" = "$AFTER" ]; then
  echo "MATCH: sml_library has every booking committed before the drop again"
else
  echo "MISMATCH in the recovery: $AFTER" >&2; exit 1
fi

step "Verifying every stored byte, and restore tests: each source's newest backup restored and compared"
lb verify --restore-test

step "A backup of every source together is a recovery point"
lb backup
lb points

step "DR drill of the whole site: scratch database, temporary folders, RTO and RPO measured"
lb drill site --output "$DEMO/drill"
lb recover site --dry-run

step "3-2-1: an offline copy, absent, then attached and brought up to date; a restore read from it"
lb replicate
mkdir -p "$DEMO/vault-disk/lifeboat"
lb replicate --to vault
lb --from vault restore uploads --target "$DEMO/restore-from-vault"
if diff -r "$DEMO/restore-from-vault" "$SITE/var/www/sml-library/uploads" -x cache -x '*.tmp' >/dev/null; then
  echo "MATCH: the vault copy restores the uploads on its own"
else
  echo "MISMATCH in the restore from the vault copy" >&2; exit 1
fi

step "A bare machine: no configuration file, only the repository's location and the password"
mkdir -p "$DEMO/bare" && cd "$DEMO/bare"
echo "\$ lifeboat --repo $DEMO/repository snapshots uploads"
"$LB" --repo "$DEMO/repository" snapshots uploads
echo "\$ lifeboat --repo $DEMO/repository restore uploads --target $DEMO/bare/uploads"
"$LB" --repo "$DEMO/repository" restore uploads --target "$DEMO/bare/uploads"
if diff -r "$DEMO/bare/uploads" "$SITE/var/www/sml-library/uploads" -x cache -x '*.tmp' >/dev/null; then
  echo "MATCH: the uploads come back from the repository alone"
else
  echo "MISMATCH in the restore on the bare machine" >&2; exit 1
fi
echo "\$ lifeboat --repo $DEMO/repository config restore -o lifeboat.yaml   # a starting configuration for the new machine"
"$LB" --repo "$DEMO/repository" config restore -o lifeboat.yaml
cd - >/dev/null

step "Status, retention and the audit trail"
lb status
lb prune uploads --dry-run
lb audit verify
lb report --since 1d

echo
echo "Demo folder: $DEMO (repository, site, restored copies)"
