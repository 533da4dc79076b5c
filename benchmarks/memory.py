"""Memory over many recognitions: peak RSS and its growth per 1,000 images (expected flat).

Usage: python benchmarks/memory.py [--model DIR] [--backend auto] [--images 10000] [--batch 32]
                                   [--call-size 256] [--threads N] [--json out.json]

Recognizes ``--images`` images (the validation crops reused cyclically, decoded once; synthetic
plates without the data set) through one ``PlateRecognizer``, ``--call-size`` images per call, and
records the resident memory (``scripts/soak.py``'s ``rss_mb``) after every 1,000 images. Growth is
the least-squares slope of RSS over images after the first 1,000 (warm-up: arenas, oneDNN caches),
in MB per 1,000 images. ``scripts/soak.py`` is the threaded correctness soak on the sample plates;
this is the single-threaded, batched memory benchmark on real crops.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdata  # noqa: E402
from soak import rss_mb  # noqa: E402

from twplate import PlateRecognizer  # noqa: E402

EVERY = 1000


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(reader: PlateRecognizer, images: list[np.ndarray], total: int, call_size: int) -> dict:
    """Recognize ``total`` images cycled from ``images``; RSS every 1,000 images, peak, growth, time."""
    samples = [(0, rss_mb())]
    done, start, failures = 0, time.perf_counter(), 0
    while done < total:
        n = min(call_size, total - done)
        results = reader([images[(done + i) % len(images)] for i in range(n)])
        failures += sum(not r.ok for r in results)
        before, done = done, done + n
        if done // EVERY > before // EVERY or done == total:
            samples.append((done, rss_mb()))
    seconds = time.perf_counter() - start
    steady = [(n, r) for n, r in samples if n >= EVERY]
    slope = float(np.polyfit([n for n, _ in steady], [r for _, r in steady], 1)[0]) * EVERY if len(steady) > 2 else 0.0
    return {"images": total, "batch": reader.batch_size, "call_size": call_size, "seconds": seconds,
            "images_per_second": total / seconds, "failures": failures, "rss_start_mb": samples[0][1],
            "rss_after_first_1000_mb": steady[0][1] if steady else None, "rss_end_mb": samples[-1][1],
            "peak_rss_mb": peak_rss_mb(), "growth_mb_per_1000": slope, "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(benchdata.MODEL))
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--call-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=benchdata.THREADS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    images, _, source = benchdata.load_val()
    print(f"{len(images)} images from {source}; rss before loading the model {rss_mb():.1f} MB", flush=True)
    reader = PlateRecognizer(args.model, backend=args.backend, batch_size=args.batch, threads=args.threads)
    result = {"backend": reader.backend.name, "model": args.model, "cpu": benchdata.cpu_description(),
              **measure(reader, images, args.images, args.call_size)}
    for n, rss in result["samples"]:
        print(f"images={n:6d} rss={rss:7.1f} MB", flush=True)
    print(f"{result['backend']}: {result['images']} images in {result['seconds']:.0f} s "
          f"({result['images_per_second']:.1f} img/s), peak RSS {result['peak_rss_mb']:.1f} MB, "
          f"growth {result['growth_mb_per_1000']:+.2f} MB per 1,000 images after the first 1,000, "
          f"{result['failures']} failures", flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
