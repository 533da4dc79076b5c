"""Label files: read, check, split by plate, and mix sources at a ratio.

A label file is PaddleOCR's format, ``relative/path.jpg<TAB>LABEL`` a line, paths relative to the
label file's folder. Splits are made by plate string so one plate never lands on both sides.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from twplate.charset import Charset, default_dictionary_path
from twplate.errors import TwplateError

log = logging.getLogger(__name__)  # below twplate.training: every applied label fix is listed in train.log


@dataclass(frozen=True)
class Sample:
    path: Path
    label: str


class LabelFileError(TwplateError, ValueError):
    """A label file line that cannot be used; the message names file and line."""


def read_label_file(label_file: str | Path, fixes: str | Path | None = None) -> list[Sample]:
    """Samples of a label file, image paths resolved against the label file's folder.

    ``fixes``: a reviewed label-fix file (:func:`read_label_fixes`) applied on top; each fix is
    logged, and one whose image is not in the file or whose original label differs is refused.
    """
    label_file = Path(label_file)
    root = label_file.parent
    samples = []
    for n, line in enumerate(label_file.read_text(encoding="utf-8-sig").splitlines(), 1):  # a BOM is dropped
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[1]:
            raise LabelFileError(f"{label_file}:{n}: expected 'path<TAB>label', got {line!r}")
        samples.append(Sample(root / parts[0], parts[1]))
    return apply_label_fixes(samples, label_file, read_label_fixes(fixes)) if fixes else samples


@dataclass(frozen=True)
class LabelFix:
    """One reviewed correction: the image (relative to its label file's folder), the label as the
    label file has it, the label the image shows, and why."""

    path: str
    original: str
    fixed: str
    why: str


def read_label_fixes(fixes_file: str | Path) -> list[LabelFix]:
    """A label-fix file: a header line, then ``path<TAB>original<TAB>fixed<TAB>why`` a line."""
    fixes_file = Path(fixes_file)
    fixes = []
    for n, line in enumerate(fixes_file.read_text(encoding="utf-8-sig").splitlines()[1:], 2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 4 or not all(parts):
            raise LabelFileError(f"{fixes_file}:{n}: expected 'path<TAB>original<TAB>fixed<TAB>why', got {line!r}")
        fixes.append(LabelFix(*parts))
    return fixes


def apply_label_fixes(samples: Sequence[Sample], label_file: Path, fixes: Sequence[LabelFix]) -> list[Sample]:
    """``samples`` with each fix applied, logged one line each.

    Raises:
        LabelFileError: a fix names an image the label file does not have, or the label file's label
            is not the fix's original (the data changed since the fix was reviewed).
    """
    index = {s.path: i for i, s in enumerate(samples)}
    fixed = list(samples)
    for fix in fixes:
        i = index.get(label_file.parent / fix.path)
        if i is None:
            raise LabelFileError(f"label fix for {fix.path}: no such image in {label_file}")
        if fixed[i].label != fix.original:
            raise LabelFileError(f"label fix for {fix.path}: {label_file} says {fixed[i].label!r}, the fix expects "
                                 f"{fix.original!r}; review the fix against the image again")
        fixed[i] = Sample(fixed[i].path, fix.fixed)
        log.info(f"label fix: {label_file.name} {fix.path}: {fix.original} -> {fix.fixed} ({fix.why})")
    return fixed


def write_label_file(label_file: str | Path, samples: Sequence[Sample]) -> None:
    """Write samples with paths relative to the label file's folder where possible."""
    label_file = Path(label_file)
    label_file.parent.mkdir(parents=True, exist_ok=True)
    root = label_file.parent.resolve()
    lines = []
    for s in samples:
        p = s.path.resolve()
        rel = p.relative_to(root) if p.is_relative_to(root) else p
        lines.append(f"{rel.as_posix()}\t{s.label}\n")
    label_file.write_text("".join(lines), encoding="utf-8")


def check_samples(samples: Sequence[Sample], charset: Sequence[str]) -> list[str]:
    """Problems found: unknown characters, missing or unreadable images. Empty when all is well."""
    known = set(charset)
    problems = []
    for s in samples:
        unknown = sorted(set(s.label) - known)
        if unknown:
            problems.append(f"{s.path}: label {s.label!r} has characters not in the dictionary: {''.join(unknown)}")
        if not s.path.is_file():
            problems.append(f"{s.path}: image missing")
        elif cv2.imread(str(s.path), cv2.IMREAD_COLOR) is None:
            problems.append(f"{s.path}: image unreadable")
    return problems


def split_by_plate(samples: Sequence[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Train and val lists with no plate string, and no image, on both sides.

    A plate goes to val when a seeded hash of its string falls under ``val_fraction``, so the
    split is stable as data is added. An image listed under two labels ties them: both go with the
    alphabetically first (labels that disagree are best fixed first: ``twplate split --label-fixes``).
    """
    def to_val(label: str) -> bool:
        digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < val_fraction

    group = {s.label: s.label for s in samples}  # union-find over labels that share an image

    def root(label: str) -> str:
        while group[label] != label:
            group[label] = label = group[group[label]]
        return label

    first_label: dict[Path, str] = {}
    for s in samples:
        a, b = root(s.label), root(first_label.setdefault(s.path, s.label))
        group[max(a, b)] = min(a, b)  # the smaller label is the group's root, whatever the order
    train = [s for s in samples if not to_val(root(s.label))]
    val = [s for s in samples if to_val(root(s.label))]
    return train, val


class MixedSampler:
    """Draws samples from several sources in proportion to their weights (e.g. 1 real : 4 synthetic)."""

    def __init__(self, sources: Sequence[Sequence[Sample]], weights: Sequence[float], seed: int):
        if len(sources) != len(weights) or not sources:
            raise ValueError("need one weight per source")
        if any(len(s) == 0 for s in sources):
            raise ValueError("a training source is empty")
        self.sources = sources
        self.p = np.asarray(weights, dtype=np.float64) / float(sum(weights))
        self.rng = np.random.default_rng(seed)

    def draw(self, n: int) -> list[Sample]:
        which = self.rng.choice(len(self.sources), size=n, p=self.p)
        return [self.sources[k][int(self.rng.integers(len(self.sources[k])))] for k in which]


# -- command line: `twplate check` and `twplate split` ---------------------------------------

def configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("label_files", nargs="+", type=Path, help="label files to check")
    parser.add_argument("--dict", type=Path, default=default_dictionary_path(), help="character dictionary")


def run_check(args: argparse.Namespace) -> int:
    charset = Charset.from_file(args.dict).characters
    failed = 0
    for label_file in args.label_files:
        try:
            problems = check_samples(read_label_file(label_file), charset)
        except (OSError, LabelFileError, UnicodeDecodeError) as exc:  # UnicodeDecodeError: not a UTF-8 file
            problems = [str(exc) if isinstance(exc, LabelFileError) else f"{label_file}: {exc}"]  # the file named once
        for p in problems:
            print(p)
        print(f"{label_file}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        failed += bool(problems)
    return 1 if failed else 0


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def configure_split(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("label_files", nargs="+", type=Path, help="label files to pool and split")
    parser.add_argument("--out", type=Path, required=True, help="folder for train.tsv and val.tsv")
    parser.add_argument("--val-fraction", type=_fraction, default=0.15, help="share of plates in val (0 to 1)")
    parser.add_argument("--label-fixes", type=Path, default=None,
                        help="reviewed label fixes to apply first (data/label_fixes.tsv), so that a plate labelled "
                             "two ways is one plate")
    parser.add_argument("--seed", type=int, default=0)


def run_split(args: argparse.Namespace) -> int:
    fixes = read_label_fixes(args.label_fixes) if args.label_fixes else []
    samples, applied = [], 0
    for label_file in args.label_files:  # each fix applies to the label file that lists its image
        own = read_label_file(label_file)
        paths = {s.path for s in own}
        mine = [fix for fix in fixes if label_file.parent / fix.path in paths]
        samples += apply_label_fixes(own, label_file, mine)
        applied += len(mine)
    if applied < len(fixes):
        raise LabelFileError(f"{len(fixes) - applied} label fix(es) in {args.label_fixes} name no image of the "
                             "label files given")
    train, val = split_by_plate(samples, args.val_fraction, args.seed)
    random.Random(args.seed).shuffle(train)
    write_label_file(args.out / "train.tsv", train)
    write_label_file(args.out / "val.tsv", val)
    print(f"{len(train)} train, {len(val)} val ({len({s.label for s in val})} plates) -> {args.out}")
    return 0
