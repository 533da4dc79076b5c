"""Width policy on real val: accuracy and speed of fixed 48x320 input against width-by-aspect batching.

Usage: python benchmarks/width_policy.py [MODEL] [--backend onnxruntime] [--batch 32] [--rounds 3]
                                         [--threads N] [--policies ...] [--json out.json]

Every policy reads all of ``val.tsv`` through ``PlateRecognizer`` (decoded images in memory):

* ``model`` (the default): as the model's ``inference.yml`` says (the shipped model: ``aspect-80``).
* ``aspect-N``: resize to height 48, width by aspect clamped to ``[N, 320]``; each batch holds
  images of one width (nothing padded).
* ``pad320-N``: the same resize, every batch padded to 320 (a fixed 48x320 input; the recognizer's
  width-bucket mechanism with the single bucket 320). ``pad320-1`` is PaddleOCR's policy.
* ``fixed-N``: every image resized to 48 x N, whatever its aspect (``PlateRecognizer(input_width=N)``;
  ``fixed-320``: stretched to 320).

The default is the fastest policy within 0.3 points of the most accurate. Exact match is over the
whole set; speed is images per second, median over ``--rounds`` passes, taken round-robin (each
policy once per round) so that a busy spell of the machine hits all alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdata  # noqa: E402

from twplate import PlateRecognizer  # noqa: E402


def policy_reader(model: str, policy: str, backend: str, batch: int, threads: int,
                  plate_formats: bool | None = None) -> PlateRecognizer:
    kind, _, width = policy.partition("-")
    if policy != "model" and (kind not in ("aspect", "pad320", "fixed") or not width.isdigit()):
        raise ValueError(f"unknown policy {policy!r}: model, aspect-N, pad320-N or fixed-N")
    reader = PlateRecognizer(model, backend=backend, batch_size=batch, threads=threads, plate_formats=plate_formats,
                             input_width=int(width) if kind == "fixed" else None)
    if kind in ("aspect", "pad320"):
        cfg = dataclasses.replace(reader.spec.preprocess, min_width=int(width), max_width=320)
        reader.spec = dataclasses.replace(reader.spec, preprocess=cfg)
        # read by the recognizer: pad every image to 320, or batch only images of one width
        reader.backend.width_buckets = (320,) if kind == "pad320" else None
    return reader


POLICIES = ("model", "fixed-72", "pad320-80", "pad320-1", "fixed-320")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=str(benchdata.MODEL))
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=benchdata.THREADS)
    parser.add_argument("--policies", nargs="+", default=list(POLICIES),
                        help="model, aspect-N, pad320-N, fixed-N (default: %(default)s)")
    parser.add_argument("--plate-formats", choices=("model", "on", "off"), default="model",
                        help="format-aware decoding: as the model declares (default), or forced on/off")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    formats = {"model": None, "on": True, "off": False}[args.plate_formats]

    images, labels, source = benchdata.load_val()
    print(f"{len(images)} images from {source}; model {args.model}; {args.backend}, batch {args.batch}, "
          f"{args.threads} threads, plate formats {args.plate_formats}, median of {args.rounds} rounds\n")
    print("| policy | input | exact match | img/s |\n|---|---|---:|---:|")
    readers = {policy: policy_reader(args.model, policy, args.backend, args.batch, args.threads, formats)
               for policy in args.policies}
    texts = {policy: [r.text for r in reader(images)] for policy, reader in readers.items()}  # + warm-up
    times = benchdata.round_robin({policy: lambda r=reader: r(images) for policy, reader in readers.items()},
                                  args.rounds)
    rows = []
    for policy, reader in readers.items():
        cfg = reader.spec.preprocess
        shape = (f"48 x {cfg.min_width}" if cfg.min_width == cfg.max_width else
                 f"48 x [{cfg.min_width}, {cfg.max_width}], "
                 + ("padded to 320" if reader.backend.width_buckets else "one width a batch"))
        row = {"policy": policy, "input": shape, "exact_match": benchdata.exact_match(texts[policy], labels),
               "images_per_second": len(images) / statistics.median(times[policy]), "images": len(images)}
        rows.append(row)
        print(f"| {policy} | {shape} | {row['exact_match']:.1%} | {row['images_per_second']:.1f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "backend": args.backend, "batch": args.batch,
                                         "threads": args.threads, "plate_formats": args.plate_formats, "source": source,
                                         "cpu": benchdata.cpu_description(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
