"""How the plate rules' crop margin and confidence floor were chosen: plates found and false readings per value.

Usage: python benchmarks/photo_rules.py [--labels ../shared/data/scenes/labels.tsv] [--out FILE.json]

Each value is one :class:`twplate.PhotoReader` run over the labelled photos (shipped detector and
recognizer, every other rule as shipped), scored as ``twplate eval-photos`` scores it. The photos
that decided the rules flatter them: report held-out sets beside (``benchmarks/photo_detectors.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from twplate.detect.detector import TextDetector
from twplate.photo import PhotoReader, PlateRules
from twplate.photo_eval import evaluate_photos, read_labels
from twplate.recognizer import PlateRecognizer

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdata  # noqa: E402

MARGINS = [(0.15, 0.15), (0.3, 0.05), (0.3, 0.15), (0.4, 0.2), (0.5, 0.25), (0.6, 0.3)]
"""Crop margins ``(left and right, top and bottom)``, times the box height."""
MIN_CONFIDENCES = [0.5, 0.7, 0.8, 0.9]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=benchdata.data_root() / "scenes" / "labels.tsv")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    photos = read_labels(args.labels)
    detector, recognizer = TextDetector(), PlateRecognizer()
    shipped = PlateRules()
    variants = {f"margin {m[0]}, {m[1]}": replace(shipped, margin=m) for m in MARGINS}
    variants.update({f"min confidence {c}": replace(shipped, min_confidence=c) for c in MIN_CONFIDENCES})
    rows = {}
    for name, rules in variants.items():
        report = evaluate_photos(PhotoReader(detector=detector, recognizer=recognizer, rules=rules), photos)
        rows[name] = {**report.summary(), "shipped": rules == shipped,
                      "false_texts": [row["text"] for row in report.false_readings]}
        mark = " (shipped)" if rules == shipped else ""
        print(f"{name}{mark}: {report.found} / {report.plates} found, {report.false} false", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"labels": str(args.labels), "cpu": benchdata.cpu_description(),
                                        "detector": detector.spec.version, "recognizer": recognizer.spec.version,
                                        "rows": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
