"""Soak and concurrency check (issue 5): many recognitions, memory recorded, results compared.

Usage: python scripts/soak.py [--model DIR] [--calls 100000] [--threads 8] [--max-seconds 1800]
                             [--max-growth-mb 10]

Reads the sample plates (``samples/labels.tsv``) over and over through one shared PlateRecognizer
from ``--threads`` threads, compares every result with the sequential one, and prints the
process's resident memory every 10,000 calls. Stops early at ``--max-seconds``. At the end it
prints the growth of resident memory from the first 10,000 calls (allocators and runtimes warm up
before that) to the end. Exit code 1 on any mismatch, or growth above ``--max-growth-mb``.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from twplate import PlateRecognizer

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def rss_mb() -> float:
    """Current resident memory (Linux), else the peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--max-growth-mb", type=float, default=None)
    args = parser.parse_args()

    names = [line.split("\t")[0] for line in (SAMPLES / "labels.tsv").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    images = [(SAMPLES / name).read_bytes() for name in names]
    if not images:
        parser.error(f"no sample images listed in {SAMPLES / 'labels.tsv'}")
    reader = PlateRecognizer(args.model, backend=args.backend)
    expected = [reader(image) for image in images]
    counter = itertools.count()
    lock = threading.Lock()
    mismatches, done, marks = [], [0], []
    start = time.monotonic()
    print(f"calls=0 rss={rss_mb():.1f} MB", flush=True)

    def work() -> None:
        while time.monotonic() - start < args.max_seconds:
            i = next(counter)
            if i >= args.calls:
                return
            result = reader(images[i % len(images)])
            with lock:
                if result != expected[i % len(images)]:
                    mismatches.append((i, result))
                done[0] += 1
                if done[0] % 10_000 == 0:
                    marks.append(rss_mb())
                    print(f"calls={done[0]} rss={marks[-1]:.1f} MB t={time.monotonic() - start:.0f}s", flush=True)

    with ThreadPoolExecutor(args.threads) as pool:
        for future in [pool.submit(work) for _ in range(args.threads)]:
            future.result()
    end = rss_mb()
    growth = end - marks[0] if marks else 0.0
    print(f"done: {done[0]} calls in {time.monotonic() - start:.0f}s, {len(mismatches)} mismatches, "
          f"rss={end:.1f} MB, growth since 10,000 calls {growth:+.1f} MB "
          f"(min {min(marks, default=end):.1f}, max {max(marks, default=end):.1f})", flush=True)
    too_much = args.max_growth_mb is not None and growth > args.max_growth_mb
    return 1 if mismatches or too_much else 0


if __name__ == "__main__":
    sys.exit(main())
