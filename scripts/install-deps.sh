#!/usr/bin/env bash
# Installs what the machine lacks for the demo or for the tests:
#
#   install-deps.sh demo   the MariaDB server and client (the demo starts a
#                          private server) and git (the git source)
#   install-deps.sh test   the same, and what only the tests use: setpriv
#                          (a backup as an unprivileged user), promtool (the
#                          shipped Prometheus alert rules and the metrics),
#                          chromium (the HTML reports, checked in a real
#                          browser), docker-registry and skopeo (the image
#                          source's real registry and second client),
#                          mariadb-backup (physical backups), jq, age and
#                          kopia (the recovery kit's steps without
#                          Lifeboat) and SeaweedFS (below)
#
# With --dry-run as the second argument it prints what it would install and
# build, and changes nothing. SBIN (default /usr/sbin) is where the server
# binaries are looked for besides PATH.
set -euo pipefail

mode=${1:-test}
case $mode in
  demo | test) ;;
  *) echo "usage: $0 demo|test [--dry-run]" >&2; exit 2 ;;
esac
dry=
case ${2:-} in
  "") ;;
  --dry-run) dry=1 ;;
  *) echo "usage: $0 demo|test [--dry-run]" >&2; exit 2 ;;
esac

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "${SBIN:-/usr/sbin}/$1" ]; }

have mariadbd || need+=(mariadb-server)
have mariadb || need+=(mariadb-client)
have git || need+=(git)
if [ "$mode" = test ]; then
  have setpriv || need+=(util-linux)
  have promtool || need+=(prometheus)
  have chromium || need+=(chromium)
  have docker-registry || need+=(docker-registry)
  have skopeo || need+=(skopeo)
  have mariadb-backup || need+=(mariadb-backup)
  have zstd || need+=(zstd)
  have jq || need+=(jq)
  have age || need+=(age)
fi

if ! command -v go >/dev/null 2>&1; then
  echo "Go is not installed: Lifeboat needs Go $(sed -n 's/^go //p' "$(dirname "$0")/../go.mod") or newer" >&2
  exit 1
fi

if [ -n "$dry" ]; then
  echo "would install: ${need[*]:-nothing}"
fi

if [ ${#need[@]} -gt 0 ] && [ -z "$dry" ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  # The server package tries to start a system service; a container refuses
  # that harmlessly, and the tests start their own private server anyway.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

[ "$mode" = test ] || exit 0

# kopia's command line, of the version go.mod requires: the recovery kit's
# steps to restore without Lifeboat are tested with it (and jq, age).
if [ -n "$dry" ]; then
  echo "would build: kopia (scripts/install-kopia.sh) unless already built"
else
  bash "$(dirname "$0")/install-kopia.sh" >/dev/null
fi

# SeaweedFS's weed: the real S3-compatible server the S3 tests run on
# loopback. Its go.mod has a replace directive, so `go install` refuses it;
# it is built from the module source instead, once, into the user's cache
# (about 8 minutes and 2.6 GB of memory the first time).
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
WEED="${LIFEBOAT_WEED:-$HOME/.cache/lifeboat/weed}"
if [ ! -x "$WEED" ] || [ "$(cat "$WEED.version" 2>/dev/null)" != "$WEED_VERSION" ]; then
  if [ -n "$dry" ]; then
    echo "would build: SeaweedFS $WEED_VERSION into $WEED"
    exit 0
  fi
  echo "building SeaweedFS $WEED_VERSION (weed, for the S3 tests) into $WEED; this takes several minutes once"
  src=$(cd "$(mktemp -d)" && go mod download -json "github.com/seaweedfs/seaweedfs@$WEED_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "could not download github.com/seaweedfs/seaweedfs@$WEED_VERSION" >&2; exit 1; }
  build=$(mktemp -d)
  cp -r "$src/." "$build/" && chmod -R u+w "$build"
  mkdir -p "$(dirname "$WEED")"
  (cd "$build" && GOFLAGS=-mod=mod go build -o "$WEED.tmp" ./weed)
  mv "$WEED.tmp" "$WEED"
  echo "$WEED_VERSION" > "$WEED.version"
  rm -rf "$build"
fi
