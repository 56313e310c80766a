#!/usr/bin/env python3
"""Test data for bench/files/run.sh.

    gentree.py generate TREE SCALE   small and medium files (large ones: run.sh, head -c)
    gentree.py mutate   TREE SCALE   rewrite ~1% of the files with new content

Compressible content is log-like lines drawn at random from a pool of 200,000
distinct lines (timestamps, ids, durations), so gzip gets about 3.4x. Lines are
sampled independently for every file rather than sliced from one shared seed:
slices of one seed would repeat long runs across files, and the content-defined
chunkers of restic and lifeboat would deduplicate them, which tar cannot, so the
benchmark would flatter the deduplicating tools on data real users do not have.

Layout and sizes come from a fixed seed, so every run benchmarks the same shape.
The mutation picks the same files every run but writes fresh content (seeded
from os.urandom): with a fixed content seed a second run would "change" files
back to bytes the repository had already seen, and the second backup would
measure deduplication instead of change detection plus upload.
"""

import os
import random
import sys

SEED = 20240601

SMALL_FILES = 20000  # at SCALE=1
SMALL_DIRS = 300
SMALL_MIN, SMALL_MAX = 1 << 10, 64 << 10
MEDIUM_FILES = 200
MEDIUM_MIN, MEDIUM_MAX = 1 << 20, 8 << 20

LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
COMPONENTS = ["http", "db", "cache", "auth", "worker", "scheduler", "mailer", "api", "storage", "index"]
MESSAGES = ["request served", "query finished", "cache miss", "token refreshed", "job done",
            "retrying connection", "slow response", "user logged in", "upload stored", "rebuild started"]


def scaled(n, scale, minimum=1):
    return max(minimum, round(n * scale))


def line_pool(rng, n=200000):
    """Distinct log lines (~100 bytes each) to sample text from."""
    pool = []
    for _ in range(n):
        pool.append("2024-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s [%s] %s id=%08x user=%d took=%dms bytes=%d\n" % (
            rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
            rng.randint(0, 59), rng.randint(0, 999), rng.choice(LEVELS), rng.choice(COMPONENTS),
            rng.choice(MESSAGES), rng.getrandbits(32), rng.randint(1, 50000), rng.randint(1, 5000),
            rng.randint(100, 10**6)))
    return pool


def text(rng, pool, size):
    """size bytes of log-like text."""
    data = "".join(rng.choices(pool, k=size // 100 + 1)).encode()
    return data[:size]


def plan(scale):
    """The tree's files as (relative path, size, compressible), same for every run."""
    rng = random.Random(SEED)
    files = []
    ndirs = scaled(SMALL_DIRS, scale, 4)
    dirs = ["small/g%02d/d%03d" % (i % 20, i) for i in range(ndirs)]
    for i in range(scaled(SMALL_FILES, scale)):
        compressible = i % 2 == 0
        ext = "log" if compressible else "bin"
        files.append(("%s/f%05d.%s" % (rng.choice(dirs), i, ext), rng.randint(SMALL_MIN, SMALL_MAX), compressible))
    for i in range(scaled(MEDIUM_FILES, scale)):
        files.append(("medium/m%03d.log" % i, rng.randint(MEDIUM_MIN, MEDIUM_MAX), True))
    return files


def write(tree, rel, size, compressible, rng, pool):
    path = os.path.join(tree, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(text(rng, pool, size) if compressible else os.urandom(size))


def generate(tree, scale):
    rng = random.Random(SEED + 1)
    pool = line_pool(rng)
    for rel, size, compressible in plan(scale):
        write(tree, rel, size, compressible, rng, pool)


def mutate(tree, scale):
    """Rewrite 1% of the small files and 1% of the medium ones, then bump their
    mtime explicitly so no tool can miss the change on a coarse-mtime filesystem."""
    files = plan(scale)
    small = [f for f in files if f[0].startswith("small/")]
    medium = [f for f in files if f[0].startswith("medium/")]
    pick = random.Random(SEED + 2)
    chosen = pick.sample(small, scaled(len(small), 0.01)) + pick.sample(medium, scaled(len(medium), 0.01))
    rng = random.Random(os.urandom(16))
    pool = line_pool(rng, 50000)
    for rel, size, compressible in chosen:
        write(tree, rel, size, compressible, rng, pool)
        os.utime(os.path.join(tree, rel))
    print("changed %d files (%d small, %d medium), %d bytes" % (
        len(chosen), len(chosen) - scaled(len(medium), 0.01), scaled(len(medium), 0.01),
        sum(f[1] for f in chosen)))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("generate", "mutate"):
        sys.exit(__doc__)
    {"generate": generate, "mutate": mutate}[sys.argv[1]](sys.argv[2], float(sys.argv[3]))
