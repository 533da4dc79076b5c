"""Rank the crops of a label file by how strongly the model disagrees with their labels.

Usage: python scripts/label_audit.py LABEL_FILE [--model DIR] [--fixes FIXES] [--top 40] [--out ranked.tsv]
       [--hard-out hard.tsv]

Each crop is read as ``PlateRecognizer`` reads it (same resize, one width a batch); its score is the
CTC loss of its label, ``-log P(label | image)``, summed over all alignments. The top of the list is
where a label is most likely wrong, or the image hardest: look at each image and fix only what it
clearly shows, in ``data/label_fixes.tsv`` (never the label file itself, never val).

With ``--fixes`` the reviewed fixes are applied first; ``--hard-out`` writes the ``--top`` crops as a label
file (absolute paths), a training source that weights the hardest crops up (``docs/accuracy.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from twplate import PlateRecognizer
from twplate.image import load_image
from twplate.preprocess import bucket_width, make_batch, resize_to_input, width_groups
from twplate.training.dataset import read_label_file


def ctc_loss(probs: np.ndarray, label_ids: list[int]) -> float:
    """``-log`` of the probability of ``label_ids`` under ``(T, C)`` per-step probabilities (blank 0)."""
    logp = np.log(np.clip(probs, 1e-30, 1.0))
    path = [0]
    for c in label_ids:
        path += [c, 0]
    n = len(path)
    # a character may follow the previous character directly (skipping the blank) unless the two are equal
    can_skip = np.array([s > 1 and path[s] != 0 and path[s] != path[s - 2] for s in range(n)])
    alpha = np.full(n, -np.inf)
    alpha[:2] = logp[0, path[:2]]
    for t in range(1, len(logp)):
        step = np.concatenate([[-np.inf], alpha[:-1]])
        skip = np.concatenate([[-np.inf, -np.inf], alpha[:-2]])
        alpha = np.logaddexp(alpha, step)
        alpha = np.where(can_skip, np.logaddexp(alpha, skip), alpha) + logp[t, path]
    return float(-np.logaddexp(alpha[-1], alpha[-2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("label_file", type=Path)
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", type=Path, help="write every crop, ranked: path, label, reading, loss")
    parser.add_argument("--fixes", type=Path, help="reviewed label fixes to apply first (data/label_fixes.tsv)")
    parser.add_argument("--hard-out", type=Path, help="write the --top crops as a label file: absolute path, label")
    args = parser.parse_args(argv)

    reader = PlateRecognizer(args.model, backend="onnxruntime")
    samples = read_label_file(args.label_file, args.fixes)
    charset = reader.spec.charset
    crops = [resize_to_input(load_image(s.path), reader.spec.preprocess) for s in samples]
    widths = [c.shape[1] for c in crops]
    rows = []
    for group in width_groups(widths, reader.batch_size):
        width = bucket_width(widths[group[0]], reader.backend.width_buckets)  # as run() pads it (GPU buckets)
        probs = reader.backend(make_batch([crops[i] for i in group], reader.spec.preprocess, width))
        for i, p, r in zip(group, probs, reader.decode(probs), strict=True):
            rows.append((ctc_loss(p, list(charset.encode(samples[i].label))), samples[i], r.text))
    rows.sort(key=lambda row: -row[0])
    root = args.label_file.parent
    lines = [f"{s.path.relative_to(root) if s.path.is_relative_to(root) else s.path}\t{s.label}\t{text}\t{loss:.3f}"
             for loss, s, text in rows]
    if args.out:
        args.out.write_text("path\tlabel\treading\tloss\n" + "\n".join(lines) + "\n", encoding="utf-8")
    if args.hard_out:
        args.hard_out.write_text("".join(f"{s.path.resolve()}\t{s.label}\n" for _, s, _ in rows[: args.top]),
                                 encoding="utf-8")
    print("\n".join(lines[: args.top]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
