#!/usr/bin/env bash
# Installs what the tests and the demo need and the machine lacks: the MariaDB
# server and client (the test helper starts a private server), git (the git
# source), setpriv (running a backup as an unprivileged user in tests),
# promtool (checking the shipped Prometheus alert rules and the metrics),
# chromium (the HTML reports are checked in a real browser).
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

have mariadbd || need+=(mariadb-server)
have mariadb || need+=(mariadb-client)
have git || need+=(git)
have setpriv || need+=(util-linux)
have promtool || need+=(prometheus)
have chromium || need+=(chromium)

if ! command -v go >/dev/null 2>&1; then
  echo "Go is not installed: Lifeboat needs Go $(sed -n 's/^go //p' "$(dirname "$0")/../go.mod") or newer" >&2
  exit 1
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  # The server package tries to start a system service; a container refuses
  # that harmlessly, and the tests start their own private server anyway.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
