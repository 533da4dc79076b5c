"""Detectors side by side on labelled photo sets: plates found, false readings, box quality, time.

Usage: python benchmarks/photo_detectors.py --detector shipped=models/twplate-det --detector base=DIR ...
           --set heldout=/tmp/stress/as_is/labels.tsv --set far30=/tmp/stress/far30/labels.tsv ...
           [--limit-side 1280] [--out benchmarks/results/photo_detectors.json]

Every detector reads every set through :class:`twplate.PhotoReader` with the shipped recognizer (one
recognizer shared by all), exactly as ``twplate eval-photos`` does, one photo per call.
Sets come from ``scripts/photo_stress.py`` (held-out real photos as they are, far, angled, at night)
and ``scripts/synth_photos.py`` (synthetic scenes with 0, 1 or 3 plates).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from twplate.photo import PhotoReader
from twplate.photo_eval import evaluate_photos, read_labels
from twplate.recognizer import PlateRecognizer

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdata  # noqa: E402


def _named(values: list[str]) -> dict[str, Path]:
    pairs = [v.split("=", 1) for v in values]
    if any(len(p) != 2 for p in pairs):
        raise SystemExit(f"expected NAME=PATH, got {values}")
    return {name: Path(path) for name, path in pairs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--set", action="append", required=True, metavar="NAME=LABELS.tsv")
    parser.add_argument("--limit-side", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/photo_detectors.json"))
    args = parser.parse_args(argv)
    detectors, sets = _named(args.detector), _named(args.set)
    photos = {name: read_labels(path) for name, path in sets.items()}
    recognizer = PlateRecognizer(backend="onnxruntime", threads=args.threads)
    results: dict[str, dict[str, dict]] = {}
    limits: dict[str, int] = {}
    for det_name, directory in detectors.items():
        reader = PhotoReader(detector=directory, backend="onnxruntime", threads=args.threads,
                             limit_side=args.limit_side, recognizer=recognizer)
        limits[det_name] = reader.detector.spec.preprocess.limit_side
        first = next((p.path for labelled in photos.values() for p in labelled), None)
        if first is not None:
            reader.run_many([first])  # warmed up: no detector (nor the shared recognizer) pays its first call timed
        for set_name, labelled in photos.items():
            report = evaluate_photos(reader, labelled)
            results.setdefault(set_name, {})[det_name] = {
                **report.summary(), "misses": [m["label"] + " in " + m["photo"] for m in report.misses],
                "false": [f"{r['text']} in {r['photo']}" for r in report.false_readings]}
            print(f"{set_name:10s} {det_name:12s} found {report.found}/{report.plates}  false {report.false}  "
                  f"{report.seconds_per_photo:.3f} s/photo", flush=True)
    doc = {"cpu": benchdata.cpu_description(), "threads": args.threads, "limit_side": limits,
           "detectors": {k: str(v) for k, v in detectors.items()},
           "sets": {k: str(v) for k, v in sets.items()}, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    print("| set | " + " | ".join(detectors) + " |")
    print("|---|" + "---|" * len(detectors))
    for set_name, by_det in results.items():
        cells = [f"{r['found']}/{r['plates']} found, {r['false_readings']} false" for r in by_det.values()]
        print(f"| {set_name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
