"""How the plate rules' crop margin, confidence floor, closer look and votes were chosen: plates found and false
readings per value.

Usage: python benchmarks/photo_rules.py [--labels ../shared/data/scenes/labels.tsv ...] [--only TEXT]
       [--out FILE.json]

Each value is one :class:`twplate.PhotoReader` run over the labelled photos of every ``--labels`` file
together (shipped detector and recognizer, every other rule as shipped), scored as ``twplate eval-photos``
scores it; ``--only`` runs the values whose name contains TEXT. The photos that decided the rules flatter
them: report held-out sets beside (``benchmarks/photo_detectors.py``). The closer look and the votes a small
box's plate needs were chosen on the stress copies of the held-out scenes (``scripts/photo_stress.py``), where
plates are small, and on the rendered samples pasted small (``scripts/pasted_samples.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from twplate.detect.detector import TextDetector
from twplate.model_files import default_small_model_dir
from twplate.photo import PhotoReader, PlateRules
from twplate.photo_eval import evaluate_photos, read_labels
from twplate.recognizer import PlateRecognizer

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdata  # noqa: E402

MARGINS = [(0.15, 0.15), (0.3, 0.05), (0.3, 0.15), (0.4, 0.2), (0.5, 0.25), (0.6, 0.3)]
"""Crop margins ``(left and right, top and bottom)``, times the box height."""
MIN_CONFIDENCES = [0.5, 0.7, 0.8, 0.9]
LOOK_CLOSER_BELOW = [0.0, 24.0, 32.0, 40.0]
"""Box heights (photo pixels) below which a box is looked at closer; 0: never."""
MIN_VOTES = [1, 2, 3, 4]
"""How many of a small box's readings must give its plate."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, nargs="+", default=[benchdata.data_root() / "scenes" / "labels.tsv"])
    parser.add_argument("--only", default="", help="run only the values whose name contains this")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    photos = [photo for labels in args.labels for photo in read_labels(labels)]
    detector, recognizer = TextDetector(), PlateRecognizer()
    small = recognizer.sibling(default_small_model_dir())
    shipped = PlateRules()
    variants = {f"margin {m[0]}, {m[1]}": replace(shipped, margin=m) for m in MARGINS}
    variants.update({f"min confidence {c}": replace(shipped, min_confidence=c) for c in MIN_CONFIDENCES})
    variants.update({f"look closer below {h:g}": replace(shipped, look_closer_below=h) for h in LOOK_CLOSER_BELOW})
    variants.update({f"min votes {v}": replace(shipped, min_votes=v) for v in MIN_VOTES})
    variants["one margin, min votes 1"] = replace(
        shipped, small_margins=(shipped.margin,), min_votes=1)
    rows = {}
    for name, rules in variants.items():
        if args.only not in name:
            continue
        reader = PhotoReader(detector=detector, recognizer=recognizer, small_model=small, rules=rules)
        report = evaluate_photos(reader, photos)
        rows[name] = {**report.summary(), "shipped": rules == shipped,
                      "false_texts": [row["text"] for row in report.false_readings]}
        mark = " (shipped)" if rules == shipped else ""
        print(f"{name}{mark}: {report.found} / {report.plates} found, {report.false} false, "
              f"{report.seconds_per_photo:.3f} s a photo", flush=True)
    if args.out:
        doc = {"labels": [str(path) for path in args.labels], "cpu": benchdata.cpu_description(),
               "detector": detector.spec.version, "recognizer": recognizer.spec.version,
               "small_model": small.spec.version, "rows": rows}
        args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
