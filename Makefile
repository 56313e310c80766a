GO ?= go
BIN := bin/lifeboat

.PHONY: all deps demo-deps build lint test demo bench bench-files bench-mysql bench-pitr bench-verify bench-s3 bench-scale bench-api bench-images bench-keys bench-dashboard bench-physical bench-replay clean

all: build

# What the tests need (deps) and the little the demo needs (demo-deps).
deps:
	@bash scripts/install-deps.sh test

demo-deps:
	@bash scripts/install-deps.sh demo

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/lifeboat

# The layering, the one clock, function length and the usual checks
# (.golangci.yml), with a pinned golangci-lint the script installs once.
lint:
	bin=$$(bash scripts/install-lint.sh) && "$$bin" run ./...

# Every test, against real components (a private MariaDB, git, the binary),
# after the linter.
test: deps lint
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# The main job on the embedded default: a sample Smart Library installation in
# a temporary folder, backed up into a local repository, changed, backed up
# incrementally, restored elsewhere and compared.
demo: demo-deps build
	bash scripts/demo.sh

# Benchmarks against the peers (minutes; not part of test): files against
# tar -czf and restic; databases against mariadb-dump | gzip and mydumper.
bench: bench-files bench-mysql bench-pitr bench-verify bench-s3

bench-files: deps build
	bash bench/files/run.sh

bench-mysql: deps build
	bash bench/mysql/run.sh

bench-pitr: deps build
	bash bench/pitr/run.sh

bench-verify: deps build
	bash bench/verify/run.sh

bench-s3: deps build
	bash bench/s3/run.sh

# The everyday commands' cost as a binlog archive grows from 1k to 1M
# segments (hours; not part of bench). SCALES="1000 10000" for a quick run.
bench-scale: deps build
	bash bench/scale/run.sh

# The daemon's API under 50 concurrent readers (a hundred sources, 10k
# binlog segments): latency per route and the daemon's peak RSS (minutes).
bench-api: deps build
	bash bench/api/run.sh

# Container images against docker save | gzip per image per day (emulated
# with skopeo copy to docker-archive and gzip): seven days, bytes and time.
# SCALE=0.25 for a quick run.
bench-images: deps build
	bash bench/images/run.sh

# Key rotation (key rekey) against a fresh full backup of the same data.
bench-keys: deps build
	bash bench/keys/run.sh

# The dashboard's overview in headless Chromium (a hundred sources, a year of
# history): load time and bytes transferred (minutes).
bench-dashboard: deps build
	bash bench/dashboard/run.sh

# Physical backups and parallel point-in-time replay against mariadb-backup
# and mariadb-binlog | mariadb (SCALE=0.02 REPLAY_TX=20000 for a quick run).
bench-physical: deps build
	bash bench/physical/run.sh

# Parallel replay of a logical point-in-time recovery against
# mariadb-binlog | mariadb (REPLAY_TX=20000 BOOKINGS=20000 for a quick run).
bench-replay: deps build
	bash bench/replay/run.sh

clean:
	rm -rf bin
