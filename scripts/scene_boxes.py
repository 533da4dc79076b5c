"""Boxes of the labelled plates in real photos, for training the plate detector.

Usage: python scripts/scene_boxes.py ../shared/data/scenes/labels.tsv --out data/scene_boxes.tsv [--draw DIR]

Reads every photo with the shipped ``PhotoReader`` and keeps, for each labelled plate, the box of the
result whose text is exactly the label: a box the recognizer read right is a box around the whole
number line. Labelled plates with no such result are listed on stderr (box them by hand in the output
file if wanted). ``--draw`` writes each photo with its kept boxes, to check them by eye.
Writes ``photo TAB plate TAB x1,y1 x2,y2 x3,y3 x4,y4`` rows, photos relative to the labels' folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from twplate.photo import PhotoReader
from twplate.photo_eval import read_labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--draw", type=Path)
    args = parser.parse_args(argv)
    photos = read_labels(args.labels)
    reader = PhotoReader()
    rows, missed = [], []
    for entry, results in zip(photos, reader.run_many([p.path for p in photos]), strict=True):
        photo = entry.path.relative_to(args.labels.parent).as_posix()
        kept = []
        for plate in entry.plates:
            match = next((r for r in results if r.text == plate and r.box is not None), None)
            if match is None:
                missed.append(f"{photo}\t{plate}")
                continue
            kept.append(match)
            corners = " ".join(f"{x:.1f},{y:.1f}" for x, y in match.box)
            rows.append(f"{photo}\t{plate}\t{corners}\n")
        if args.draw and kept:
            image = cv2.imread(str(entry.path))
            for r in kept:
                cv2.polylines(image, [np.round(np.float32(r.box)).astype(np.int32)], True, (0, 0, 255), 2)
            out = args.draw / photo
            out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out), image)
    args.out.write_text("".join(rows), encoding="utf-8")
    print(f"{len(rows)} boxes written to {args.out}; {len(missed)} labelled plates not found:", file=sys.stderr)
    for line in missed:
        print(f"  {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
