"""Fit a model's plate-confidence map on real plates and report how well calibrated it is.

Usage: python scripts/calibrate.py [--model DIR] [--fit TSV ...] [--val TSV] [--folds 5] [--write] [--json OUT]

Every plate of ``--val`` (default: real val) and of any ``--fit`` files (default: none) is read
through ``PlateRecognizer``; the raw plate score is the product of its character confidences
(:mod:`twplate.confidence`); the map is Platt scaling on that score's logit, fitted to whether the
reading equals the label. ``--fit`` labels go through the reviewed label fixes, as training reads them.
Real train is not the default: the model has learnt it, reads 99.5% of it right and would make the
map overconfident on new plates.

Reported on val, expected calibration error (ECE, 10 equal-width bins) of:

* the old confidence (mean of the character confidences) and the raw product;
* the map fitted on ``--fit`` alone (val never seen), when given;
* the map fitted in ``--folds``-fold cross-validation: each val fold is scored by a map fitted on
  ``--fit`` plus the other folds, so no plate is scored by a map that saw it;

and, for the cross-validated confidences, the share of val plates each review threshold flags and the
misreads it catches. The map written with ``--write`` (into the model's ``inference.yml``) is fitted on
``--fit`` plus all of val, with ``--review-below`` as its review threshold; its figures on val are
in-sample, the cross-validated ones are the estimate for new plates.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

import numpy as np
import yaml

from twplate import PlateRecognizer
from twplate.confidence import Calibration, logit, plate_score
from twplate.model_files import YAML_FILE
from twplate.training.dataset import read_label_file

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "real"
BINS = 10
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98)


def readings(reader: PlateRecognizer, samples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(logit of plate score, mean char confidence, read right)`` per sample."""
    results = reader.run_many([str(s.path) for s in samples])
    x = np.array([logit(plate_score(r.char_confidences)) for r in results])
    mean = np.array([float(np.mean(r.char_confidences)) if r.char_confidences else 0.0 for r in results])
    right = np.array([r.text == s.label for r, s in zip(results, samples, strict=True)], dtype=np.float64)
    return x, mean, right


def fit_platt(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 50) -> tuple[float, float]:
    """Slope and intercept of ``sigmoid(a * x + b)`` by Newton's method on the log loss (tiny L2 on ``a``
    keeps it finite when the classes separate)."""
    a, b = 1.0, 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(a * x + b)))
        w = p * (1.0 - p)
        grad = np.array([np.dot(p - y, x) + l2 * a, np.sum(p - y)])
        hess = np.array([[np.dot(w, x * x) + l2, np.dot(w, x)], [np.dot(w, x), np.sum(w)]])
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def apply(ab: tuple[float, float], x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(ab[0] * x + ab[1])))


def ece(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: the plate-weighted gap between confidence and accuracy per bin."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(np.sum(which == k) / len(p) * abs(p[which == k].mean() - y[which == k].mean())
                     for k in range(bins) if np.any(which == k)))


def cross_validated(x_fit, y_fit, x_val, y_val, folds: int) -> np.ndarray:
    """Val confidences, each from a map fitted on the fit set plus the other val folds."""
    fold = np.arange(len(x_val)) % folds
    out = np.empty(len(x_val))
    for k in range(folds):
        held = fold == k
        ab = fit_platt(np.concatenate([x_fit, x_val[~held]]), np.concatenate([y_fit, y_val[~held]]))
        out[held] = apply(ab, x_val[held])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--fit", type=Path, nargs="*", default=[],
                        help="label files the map is fitted on besides val (default: none, val alone)")
    parser.add_argument("--label-fixes", type=Path, default=REPO / "data" / "label_fixes.tsv",
                        help="reviewed label fixes applied to the --fit files (real train's)")
    parser.add_argument("--no-label-fixes", dest="label_fixes", action="store_const", const=None,
                        help="apply no label fixes (--fit files other than real train.tsv)")
    parser.add_argument("--val", type=Path, default=DATA / "val.tsv")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--review-below", type=float, default=0.95)
    parser.add_argument("--write", action="store_true", help="write the map into the model's inference.yml")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # lists the label fixes applied

    reader = PlateRecognizer(args.model, backend=args.backend)
    fit_samples = [s for f in args.fit for s in read_label_file(f, args.label_fixes)]
    val_samples = read_label_file(args.val)
    x_fit, _, y_fit = readings(reader, fit_samples)
    x_val, mean_val, y_val = readings(reader, val_samples)
    raw_val = apply((1.0, 0.0), x_val)
    on_train = apply(fit_platt(x_fit, y_fit), x_val) if len(y_fit) else raw_val
    cv = cross_validated(x_fit, y_fit, x_val, y_val, args.folds)
    report = {
        "model": f"{reader.spec.name} {reader.spec.version}", "fit_plates": len(y_fit), "fit_right": int(y_fit.sum()),
        "val_plates": len(y_val), "val_right": int(y_val.sum()),
        "ece": {"mean_char (old confidence)": ece(mean_val, y_val), "product (raw)": ece(raw_val, y_val),
                "product, map fitted on --fit alone": ece(on_train, y_val),
                f"product, map fitted on --fit + other val folds ({args.folds}-fold)": ece(cv, y_val)},
        "mean_confidence_val": {"mean_char": float(mean_val.mean()), "product": float(raw_val.mean()),
                                "cross_validated": float(cv.mean()), "accuracy": float(y_val.mean())},
        "review": [{"below": t, "flagged": int(np.sum(cv < t)), "flagged_share": float(np.mean(cv < t)),
                    "misreads_caught": int(np.sum((cv < t) & (y_val == 0))), "misreads": int(np.sum(y_val == 0))}
                   for t in THRESHOLDS],
    }
    slope, intercept = fit_platt(np.concatenate([x_fit, x_val]), np.concatenate([y_fit, y_val]))
    sources = ", ".join(f.name for f in [*args.fit, args.val])
    calibration = Calibration(slope, intercept, args.review_below,
                              f"{len(y_fit) + len(y_val)} real plates ({sources}) through {report['model']}")
    report["map"] = calibration.to_dict()
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.write:
        path = reader.spec.directory / YAML_FILE
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["confidence"] = {k: round(v, 6) if isinstance(v, float) else v for k, v in calibration.to_dict().items()}
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=4096), encoding="utf-8")
        print(f"wrote the map into {path}", file=sys.stderr)
    return 0 if math.isfinite(slope) else 1


if __name__ == "__main__":
    sys.exit(main())
