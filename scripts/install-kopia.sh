#!/usr/bin/env bash
# Builds kopia's command line, of the very version go.mod requires (the
# library Lifeboat links), once, into the user's cache, and prints its path.
# The recovery kit's "restore without Lifeboat" steps are tested with it.
# It is built from kopia's own module (its go.mod and go.sum), so Lifeboat's
# go.mod gains nothing; about a minute the first time.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(sed -n 's/^[[:space:]]*github.com\/kopia\/kopia \(v[^ ]*\).*/\1/p' "$root/go.mod" | head -n1)
[ -n "$VERSION" ] || { echo "go.mod requires no github.com/kopia/kopia" >&2; exit 1; }
DIR="${LIFEBOAT_TOOLS:-$HOME/.cache/lifeboat}/kopia-$VERSION"
BIN="$DIR/kopia"

if [ ! -x "$BIN" ]; then
  echo "building kopia $VERSION into $DIR; this takes a minute or more once" >&2
  src=$(cd "$(mktemp -d)" && go mod download -json "github.com/kopia/kopia@$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "could not download github.com/kopia/kopia@$VERSION" >&2; exit 1; }
  build=$(mktemp -d)
  cp -r "$src/." "$build/" && chmod -R u+w "$build"
  mkdir -p "$DIR"
  (cd "$build" && GOFLAGS=-mod=mod go build -o "$BIN.tmp" .) >&2
  mv "$BIN.tmp" "$BIN"
  rm -rf "$build"
fi

echo "$BIN"
