"""twplate against its peers at one batch size, round-robin: the ratios issue 4 asks for, robust to a busy machine.

Usage: python benchmarks/interleaved.py [--batch 32] [--rounds 15] [--images 256] [--int8 MODEL_DIR]
       [--fast MODEL_DIR] [--exclude NAME ...] [--json out.json]

pytest-benchmark times one case after another, so a slow spell of a shared machine lands on
whichever case runs then (cells of 3 rounds vary by +-10%). Here every round runs each case once, in
turn, on the same images: twplate end to end (by the model's policy, at ``input_width=72``, and with
narrow crops also read through the detector: ``PhotoReader.read_crops``) and model-only
(onnxruntime), twplate on OpenVINO in fp32, bf16 and int8 (each where the CPU and the models allow:
``--int8``, default the shipped ``models/twplate-rec-fast-int8``, read at the width it declares; bf16 also
at ``input_width=72``, on one stream and split over two), the shallower model (``--fast DIR``, default the
shipped ``models/twplate-rec-fast``: three of the backbone's five middle blocks) on ONNX Runtime by aspect and
at ``input_width=72``, and in OpenVINO bf16 at that width, RapidOCR's recognizer as configured and fed
twplate's widths, on ONNX Runtime and on its own OpenVINO engine (``rapidocr_openvino``, OpenVINO's default
precision), PaddleOCR's pipeline on Paddle Inference and on ONNX Runtime (peers skipped where not installed;
``--exclude`` drops cases by name). Ratios are of medians; the efficiency figure is twplate's end to
end over its model-only throughput. Each case's exact match is measured once, on all of val, before the
rounds: the few crops of a round (64 at batch 1) cannot show a plate or two lost. The summary compares
twplate's fastest case that reads at least as many plates as ``twplate`` (within
:data:`ACCURACY_TOLERANCE`) with the fastest RapidOCR case.
The CPU's model and flags are recorded with the figures.
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
from twplate.model_files import FAST_INT8_MODEL, fast_model_dir  # noqa: E402
from twplate.photo import PhotoReader  # noqa: E402

MODEL_ONLY_SUFFIX = "model-only"
MODEL_ONLY = f"twplate {MODEL_ONLY_SUFFIX}"
FIXED_WIDTH = 72
"""twplate's faster option: every crop read at 48 x 72 (``input_width``), no padding."""
SHIPPED_INT8 = benchdata.REPO / "models" / FAST_INT8_MODEL
SHIPPED_FAST = fast_model_dir()
STREAMS = 2
"""OpenVINO streams of the fastest case: each batch split in two, one part per stream (docs/openvino.md)."""
ACCURACY_TOLERANCE = 0.003
"""Exact-match drop from ``twplate`` (fp32, ONNX Runtime) that still counts as accuracy-preserving."""


def openvino_cases(batch: int, threads: int, images: list, int8: Path | None,
                   fast: Path | None) -> dict[str, Callable[[], list]]:
    """twplate on OpenVINO per precision (those this CPU and the models allow; the ``fast`` model in bf16 at
    the fixed width), and RapidOCR's OpenVINO engine."""
    import importlib.util

    out: dict[str, Callable[[], list]] = {}
    if importlib.util.find_spec("openvino") is None:
        return out
    models = {"fp32": benchdata.MODEL, "bf16": benchdata.MODEL, **({"int8": int8} if int8 else {})}
    for precision, model in models.items():
        try:
            reader = PlateRecognizer(model, backend="openvino", batch_size=batch, threads=threads, plate_formats=False,
                                     precision=precision)
        except ValueError as exc:  # no native support on this CPU
            print(f"skipped twplate openvino {precision}: {exc}")
            continue
        run = benchdata.twplate_pipeline(reader)
        name = f"twplate openvino {precision}" + (f" ({model.name})" if precision == "int8" else "")
        out[name] = lambda run=run: run(images)
        if precision == "bf16":  # the fastest float case: its model alone, and at twplate's fixed width
            batches = benchdata.model_batches(reader, images)
            out[f"twplate openvino bf16 {MODEL_ONLY_SUFFIX}"] = lambda r=reader, b=batches: [r.backend(x) for x in b]
            for name, fixed_model in (("twplate", model), *((("twplate --fast", fast),) if fast else ())):
                for streams in (1, STREAMS) if batch > 1 else (1,):  # one image is never split: one compilation
                    fixed = benchdata.twplate_pipeline(PlateRecognizer(
                        fixed_model, backend="openvino", batch_size=batch, threads=threads, plate_formats=False,
                        precision=precision, input_width=FIXED_WIDTH, streams=streams))
                    split = f" streams={streams}" if streams > 1 else ""
                    out[f"{name} openvino bf16 input_width={FIXED_WIDTH}{split}"] = lambda run=fixed: run(images)
    if benchdata.rapidocr_openvino_available():
        rapid = benchdata.rapidocr_openvino_pipeline(benchdata.MODEL, batch, threads)
        at_widths = benchdata.stretch_to_twplate_width(rapid, benchdata.MODEL)
        precision = benchdata.openvino_default_precision()
        out[f"rapidocr-openvino ({precision})"] = lambda: rapid(images)
        out[f"rapidocr-openvino@twplate-widths ({precision})"] = lambda: at_widths(images)
    return out


def cases(batch: int, threads: int, images: list, int8: Path | None = None,
          fast: Path | None = None) -> dict[str, Callable[[], list]]:
    """name -> call that reads ``images``: texts, except model-only (probabilities of twplate's batches)."""
    model = benchdata.MODEL
    reader = PlateRecognizer(model, backend="onnxruntime", batch_size=batch, threads=threads, plate_formats=False)
    twplate = benchdata.twplate_pipeline(reader)
    batches = benchdata.model_batches(reader, images)
    fixed = benchdata.twplate_pipeline(PlateRecognizer(model, backend="onnxruntime", batch_size=batch, threads=threads,
                                                       plate_formats=False, input_width=FIXED_WIDTH))
    straighten = PhotoReader(recognizer=reader, backend="onnxruntime", threads=threads).read_crops
    out = {"twplate": lambda: twplate(images), MODEL_ONLY: lambda: [reader.backend(b) for b in batches],
           f"twplate input_width={FIXED_WIDTH}": lambda: fixed(images),
           "twplate straighten": lambda: [r.text for r in straighten(images)]}
    for width in (None, FIXED_WIDTH) if fast else ():
        shallow = benchdata.twplate_pipeline(PlateRecognizer(fast, backend="onnxruntime", batch_size=batch,
                                                             threads=threads, plate_formats=False, input_width=width))
        out["twplate --fast" + (f" input_width={width}" if width else "")] = lambda run=shallow: run(images)
    if benchdata.rapidocr_available():
        rapid = benchdata.rapidocr_pipeline(model, batch, threads)
        at_widths = benchdata.stretch_to_twplate_width(rapid, model)
        out["rapidocr"] = lambda: rapid(images)
        out["rapidocr@twplate-widths"] = lambda: at_widths(images)
    out.update(openvino_cases(batch, threads, images, int8, fast))
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
    parser.add_argument("--int8", type=Path, default=SHIPPED_INT8 if SHIPPED_INT8.is_dir() else None,
                        help="int8 model directory for the OpenVINO int8 case")
    parser.add_argument("--fast", type=Path, default=SHIPPED_FAST if SHIPPED_FAST.is_dir() else None,
                        help="a shallower model's directory, for its ONNX Runtime and OpenVINO bf16 cases "
                             "(default: the shipped twplate-rec-fast)")
    parser.add_argument("--exclude", nargs="*", default=[], help="drop the cases whose name contains one of these")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if any(word in "twplate" for word in args.exclude):
        parser.error("the plain 'twplate' case is what every ratio is of: exclude other cases by a longer name")

    def selected_cases(images: list) -> dict[str, Callable[[], list]]:
        """The cases ``--exclude`` leaves, reading ``images``."""
        return {name: call for name, call in cases(args.batch, args.threads, images, args.int8, args.fast).items()
                if not any(word in name for word in args.exclude)}

    val, val_labels, source = benchdata.load_val()
    exact = {name: None if name.endswith(MODEL_ONLY_SUFFIX) else benchdata.exact_match(call(), val_labels)
             for name, call in selected_cases(val).items()}  # on all of val: a round's few crops hide a plate's loss
    images = benchdata.cycle(val, args.images)
    todo = selected_cases(images)
    for call in todo.values():  # warm-up: every shape seen once
        call()
    seconds = benchdata.round_robin(todo, args.rounds)
    speeds = {name: [len(images) / t for t in times] for name, times in seconds.items()}
    median = {name: statistics.median(v) for name, v in speeds.items()}
    ours = median["twplate"]
    cpu = benchdata.cpu_description()
    print(f"{len(images)} images per round from {source} (exact match: all {len(val)}); model {benchdata.MODEL}; "
          f"batch {args.batch}, {args.threads} threads, {args.rounds} rounds, each case once per round\n"
          f"CPU: {cpu['model']}, {cpu['cpus']} CPUs, flags {' '.join(cpu['flags'])}; "
          f"without {' '.join(cpu['lacks']) or '-'}\n")
    print("| pipeline | img/s (median) | best round | exact match | twplate / pipeline |\n|---|---:|---:|---:|---:|")
    for name in todo:
        match = "" if exact[name] is None else f"{exact[name]:.1%}"
        print(f"| {name} | {median[name]:.1f} | {max(speeds[name]):.1f} | {match} | {ours / median[name]:.2f}x |")
    efficiency = ours / median[MODEL_ONLY]
    print(f"\nefficiency (twplate end to end / model-only): {efficiency:.0%}")
    summary = fastest_summary(median, exact)
    if summary:
        print(f"fastest accuracy-preserving twplate: {summary['twplate']} ({median[summary['twplate']]:.1f} img/s); "
              f"fastest RapidOCR: {summary['rapidocr']} ({median[summary['rapidocr']]:.1f} img/s); "
              f"ratio {summary['ratio']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({
            "model": str(benchdata.MODEL), "source": source, "batch": args.batch, "threads": args.threads,
            "rounds": args.rounds, "images": len(images), "exact_match_images": len(val), "cpu": cpu,
            "efficiency": efficiency, "fastest": summary,
            "rows": [{"pipeline": name, "images_per_second": median[name], "best": max(speeds[name]),
                      "rounds": speeds[name], "exact_match": exact[name], "twplate_ratio": ours / median[name]}
                     for name in todo]}, indent=1))
    return 0


def fastest_summary(median: dict[str, float], exact: dict[str, float | None]) -> dict[str, object] | None:
    """twplate's fastest case reading within :data:`ACCURACY_TOLERANCE` of ``twplate``, the fastest
    RapidOCR case, and their speed ratio; ``None`` without a RapidOCR case."""
    floor = exact["twplate"] - ACCURACY_TOLERANCE
    ours = [n for n in median if n.startswith("twplate") and exact[n] is not None and exact[n] >= floor]
    peers = [n for n in median if n.startswith("rapidocr")]
    if not peers:
        return None
    best, peer = max(ours, key=median.__getitem__), max(peers, key=median.__getitem__)
    return {"twplate": best, "rapidocr": peer, "ratio": median[best] / median[peer]}


if __name__ == "__main__":
    sys.exit(main())
