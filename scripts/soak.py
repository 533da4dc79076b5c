"""Soak and concurrency check (issue 5): many recognitions, memory recorded, results compared.

Usage: python scripts/soak.py [--model DIR] [--calls 100000] [--threads 8] [--max-seconds 1800]

Reads the sample plates (``samples/``) over and over through one shared PlateRecognizer from
``--threads`` threads, compares every result with the sequential one, and prints the process's
resident memory every 10,000 calls. Stops early at ``--max-seconds``. Exit code 1 on any mismatch.
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
    args = parser.parse_args()

    images = [p.read_bytes() for p in sorted(SAMPLES.glob("*.png"))]
    reader = PlateRecognizer(args.model, backend=args.backend)
    expected = [reader(image) for image in images]
    counter = itertools.count()
    lock = threading.Lock()
    mismatches, done = [], [0]
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
                    print(f"calls={done[0]} rss={rss_mb():.1f} MB t={time.monotonic() - start:.0f}s", flush=True)

    with ThreadPoolExecutor(args.threads) as pool:
        for future in [pool.submit(work) for _ in range(args.threads)]:
            future.result()
    print(f"done: {done[0]} calls in {time.monotonic() - start:.0f}s, {len(mismatches)} mismatches, "
          f"rss={rss_mb():.1f} MB", flush=True)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
