"""twplate against its peers at one batch size, round-robin: the ratios issue 4 asks for, robust to a busy machine.

Usage: python benchmarks/interleaved.py [--batch 32] [--rounds 15] [--images 256] [--json out.json]

pytest-benchmark times one case after another, so a slow spell of a shared machine lands on
whichever case runs then (cells of 3 rounds vary by +-10%). Here every round runs each case once,
in turn, on the same images: twplate end to end (by the model's policy, and at ``input_width=72``)
and model-only (onnxruntime), RapidOCR's recognizer
as configured and fed twplate's widths, PaddleOCR's pipeline on Paddle Inference and on ONNX Runtime
(peers skipped where not installed). Ratios are of medians; the efficiency figure is twplate's end
to end over its model-only throughput.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdata  # noqa: E402

from twplate import PlateRecognizer  # noqa: E402

MODEL_ONLY = "twplate model-only"
FIXED_WIDTH = 72
"""twplate's faster option: every crop read at 48 x 72 (``input_width``), no padding."""


def cases(batch: int, threads: int, images: list) -> dict[str, Callable[[], list]]:
    """name -> call that reads ``images``: texts, except model-only (probabilities of twplate's batches)."""
    model = benchdata.MODEL
    reader = PlateRecognizer(model, backend="onnxruntime", batch_size=batch, threads=threads, plate_formats=False)
    twplate = benchdata.twplate_pipeline(reader)
    batches = benchdata.model_batches(reader, images)
    fixed = benchdata.twplate_pipeline(PlateRecognizer(model, backend="onnxruntime", batch_size=batch, threads=threads,
                                                       plate_formats=False, input_width=FIXED_WIDTH))
    out = {"twplate": lambda: twplate(images), MODEL_ONLY: lambda: [reader.backend(b) for b in batches],
           f"twplate input_width={FIXED_WIDTH}": lambda: fixed(images)}
    if benchdata.rapidocr_available():
        rapid = benchdata.rapidocr_pipeline(model, batch, threads)
        at_widths = benchdata.stretch_to_twplate_width(rapid, model)
        out["rapidocr"] = lambda: rapid(images)
        out["rapidocr@twplate-widths"] = lambda: at_widths(images)
    if benchdata.paddleocr_available():
        for name, onnx in (("paddleocr", False), ("paddleocr-onnx", True)):
            run = benchdata.paddleocr_pipeline(model, batch, threads, use_onnx=onnx)
            out[name] = lambda run=run: run(images)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--images", type=int, default=256, help="images per round, cycled from real val")
    parser.add_argument("--threads", type=int, default=benchdata.THREADS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    val, val_labels, source = benchdata.load_val()
    images, labels = benchdata.cycle(val, args.images), benchdata.cycle(val_labels, args.images)
    todo = cases(args.batch, args.threads, images)
    outputs = {name: call() for name, call in todo.items()}  # also the warm-up: every shape seen once
    exact = {name: None if name == MODEL_ONLY else benchdata.exact_match(out, labels) for name, out in outputs.items()}
    seconds = benchdata.round_robin(todo, args.rounds)
    speeds = {name: [len(images) / t for t in times] for name, times in seconds.items()}
    median = {name: statistics.median(v) for name, v in speeds.items()}
    ours = median["twplate"]
    print(f"{len(images)} images per round from {source}; model {benchdata.MODEL}; batch {args.batch}, "
          f"{args.threads} threads, {args.rounds} rounds, each case once per round\n")
    print("| pipeline | img/s (median) | best round | exact match | twplate / pipeline |\n|---|---:|---:|---:|---:|")
    for name in todo:
        match = "" if exact[name] is None else f"{exact[name]:.1%}"
        print(f"| {name} | {median[name]:.1f} | {max(speeds[name]):.1f} | {match} | {ours / median[name]:.2f}x |")
    efficiency = ours / median[MODEL_ONLY]
    print(f"\nefficiency (twplate end to end / model-only): {efficiency:.0%}")
    if args.json:
        args.json.write_text(json.dumps({
            "model": str(benchdata.MODEL), "source": source, "batch": args.batch, "threads": args.threads,
            "rounds": args.rounds, "images": len(images), "efficiency": efficiency,
            "rows": [{"pipeline": name, "images_per_second": median[name], "best": max(speeds[name]),
                      "rounds": speeds[name], "exact_match": exact[name], "twplate_ratio": ours / median[name]}
                     for name in todo]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
