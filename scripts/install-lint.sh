#!/usr/bin/env bash
# Installs the pinned golangci-lint that `make test` runs (only the tests need
# it), once, into the user's cache, and prints its path. It is built from its
# module with the machine's Go (a few minutes the first time).
set -euo pipefail

VERSION=v2.15.0
DIR="${LIFEBOAT_TOOLS:-$HOME/.cache/lifeboat}/golangci-lint-$VERSION"
BIN="$DIR/golangci-lint"

if [ ! -x "$BIN" ]; then
  echo "building golangci-lint $VERSION into $DIR; this takes a few minutes once" >&2
  mkdir -p "$DIR"
  GOBIN="$DIR" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$VERSION" >&2
fi

echo "$BIN"
