"""A synthetic photo set with known plate boxes, and how well ``PhotoReader`` finds them (box IoU, recall,
false readings).

Usage: python scripts/synth_photos.py --out /tmp/synth_photos [--photos 60] [--seed 0]

Each photo is a cluttered made-up street scene (gradient, blocks of colour, noise) with 0, 1 or 3 of
the project's rendered sample plates (``samples/*.jpg``) warped in with perspective, scale, tilt,
blur and lighting, and non-plate text beside them: a camera date stamp (``2024/05/12 13:45``), a
shop sign, a phone number. Writes ``labels.tsv`` (for ``twplate eval-photos``), ``boxes.json``
(each plate's corners) and ``report.json``: recall, false readings, and per found plate the IoU of
its box with the pasted plate's quad and the share of its box inside the plate. The detector boxes
the number line, not the whole plate with its border and banner, so an IoU near 0.5 with the box
wholly inside the plate is a good box.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
CLUTTER = ("2024/05/12 13:45", "OPEN 24H", "TEL 04-2516-7788", "SALE 50%", "PARKING", "NO.31")


def sample_plates() -> list[tuple[np.ndarray, str]]:
    rows = [line.split("\t") for line in (SAMPLES / "labels.tsv").read_text(encoding="utf-8").splitlines() if line]
    return [(cv2.imread(str(SAMPLES / name)), text) for name, text in rows]


def scene(rng: np.random.Generator, size=(720, 1280)) -> np.ndarray:
    h, w = size
    base = np.linspace(rng.uniform(40, 120), rng.uniform(120, 220), w)[None, :, None] + np.zeros((h, w, 3))
    image = np.clip(base + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(4, 10))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(image, (x, y), (x + int(rng.integers(40, 300)), y + int(rng.integers(40, 200))), colour, -1)
    return cv2.GaussianBlur(image, (3, 3), 0)


def paste(rng: np.random.Generator, image: np.ndarray, plate: np.ndarray, x: float, y: float,
          width: float) -> np.ndarray:
    """Warp ``plate`` onto ``image`` around ``(x, y)`` at ``width`` px with tilt and perspective; returns its quad."""
    ph, pw = plate.shape[:2]
    height = width * ph / pw
    angle = np.radians(rng.uniform(-12, 12))
    corners = np.float32([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [width / 2, height / 2]
    corners += rng.uniform(-0.08, 0.08, (4, 2)) * [width, height]        # perspective
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = (corners @ rotation.T + [x, y]).astype(np.float32)
    lit = np.clip(plate.astype(np.float32) * rng.uniform(0.6, 1.1) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]]), quad)
    size = (image.shape[1], image.shape[0])
    warped = cv2.warpPerspective(lit, matrix, size)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), matrix, size) > 0
    image[mask] = warped[mask]
    return quad


def make_set(out: Path, count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    plates = sample_plates()
    out.mkdir(parents=True, exist_ok=True)
    photos = []
    for i in range(count):
        image = scene(rng)
        n = (0, 1, 3)[i % 3]
        entries = []
        for k in range(n):
            plate, text = plates[int(rng.integers(len(plates)))]
            x = (k + 0.5) * image.shape[1] / max(n, 1) + rng.uniform(-60, 60)
            quad = paste(rng, image, plate, x, rng.uniform(250, 520), rng.uniform(120, 300) if n > 1 else
                         rng.uniform(120, 420))
            entries.append({"plate": text, "quad": quad.round(1).tolist()})
        for _ in range(2):
            words = CLUTTER[int(rng.integers(len(CLUTTER)))]
            colour = (0, 160, 255) if "/" in words else tuple(int(c) for c in rng.integers(0, 255, 3))
            cv2.putText(image, words, (int(rng.integers(10, 700)), int(rng.choice([60, 690]))),
                        cv2.FONT_HERSHEY_SIMPLEX, rng.uniform(0.8, 1.6), colour, 2, cv2.LINE_AA)
        if rng.random() < 0.3:
            image = cv2.GaussianBlur(image, (5, 5), 0)
        name = f"{i:04d}.jpg"
        cv2.imwrite(str(out / name), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        photos.append({"photo": name, "plates": entries})
    (out / "labels.tsv").write_text("".join(
        "".join(f"{p['photo']}\t{e['plate']}\n" for e in p["plates"]) or f"{p['photo']}\t\n" for p in photos),
        encoding="utf-8")
    (out / "boxes.json").write_text(json.dumps(photos, ensure_ascii=False, indent=1), encoding="utf-8")
    return photos


def _area(quad) -> float:
    return float(cv2.contourArea(np.float32(quad)))


def evaluate(out: Path, photos: list[dict]) -> dict:
    from twplate.photo import PhotoReader

    reader = PhotoReader()
    found = 0
    ious, inside, false, missed = [], [], [], []
    for photo, results in zip(photos, reader.run_many([out / p["photo"] for p in photos]), strict=True):
        unmatched = list(results)
        for entry in photo["plates"]:
            quad = np.float32(entry["quad"])
            same_text = [r for r in unmatched if r.text == entry["plate"]]
            if not same_text:
                missed.append(f"{photo['photo']}: {entry['plate']}")
                continue
            match = max(same_text, key=lambda r: cv2.intersectConvexConvex(np.float32(r.box), quad)[0])
            unmatched.remove(match)
            found += 1
            overlap = cv2.intersectConvexConvex(np.float32(match.box), quad)[0]
            ious.append(overlap / (_area(match.box) + _area(quad) - overlap))
            inside.append(overlap / _area(match.box))
        false += [f"{photo['photo']}: {r.text}" for r in unmatched]  # one reading per plate: a second is false
    plates = sum(len(p["plates"]) for p in photos)
    return {"photos": len(photos), "plates": plates, "found": found, "recall": round(found / plates, 4),
            "false_readings": len(false),
            "box_iou_with_plate_median": round(float(np.median(ious)), 3) if ious else None,
            "box_inside_plate_median": round(float(np.median(inside)), 3) if inside else None,
            "box_inside_plate_min": round(float(np.min(inside)), 3) if inside else None,
            "missed": missed, "false": false}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    report = evaluate(args.out, make_set(args.out, args.photos, args.seed))
    (args.out / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
