"""``twplate eval-photos LABELS.tsv``: how well :class:`~twplate.photo.PhotoReader` finds and reads plates.

The labels file has one row per plate: ``photo path<TAB>plate`` (paths relative to the file), several
rows for a photo with several plates, and a row with an empty plate for a photo without one. A
label ending in ``?`` was read by eye with some doubt: a result with its text is not counted as
false, but the plate is left out of recall either way (it can neither be found nor missed).

Counted per photo, one to one: a labelled plate is *found* when a result of its photo has exactly its text
(a photo labelled with the same plate twice needs two such results); a result left over, matching no label of
its photo, is a *false reading*.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .photo import PhotoReader
    from .result import PlateResult

DOUBT_MARK = "?"


@dataclass
class PhotoLabels:
    path: Path
    plates: list[str] = field(default_factory=list)
    doubtful: list[str] = field(default_factory=list)


@dataclass
class PhotoEvalReport:
    """What :func:`evaluate_photos` measured; ``misses`` and ``false_readings`` are rows for a file."""

    photos: int
    plates: int
    found: int
    results: int
    false: int
    errors: int
    doubtful: int
    seconds_per_photo: float
    median_seconds_per_photo: float
    misses: list[dict] = field(default_factory=list)
    false_readings: list[dict] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.plates if self.plates else 0.0

    @property
    def precision(self) -> float:
        return (self.results - self.false) / self.results if self.results else 1.0

    @property
    def false_per_20_photos(self) -> float:
        return 20 * self.false / self.photos if self.photos else 0.0

    def summary(self) -> dict:
        return {"photos": self.photos, "plates": self.plates, "found": self.found, "recall": round(self.recall, 4),
                "results": self.results, "false_readings": self.false, "precision": round(self.precision, 4),
                "false_per_20_photos": round(self.false_per_20_photos, 3), "errors": self.errors,
                "doubtful_labels": self.doubtful, "seconds_per_photo": round(self.seconds_per_photo, 3),
                "median_seconds_per_photo": round(self.median_seconds_per_photo, 3)}


def read_labels(path: str | Path) -> list[PhotoLabels]:
    """The photos of a labels file, in order of first appearance.

    Raises:
        ValueError: a row without a TAB (names the line).
    """
    path = Path(path)
    photos: dict[str, PhotoLabels] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):  # a BOM is dropped
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"{path}:{number}: expected 'photo path<TAB>plate', got {line!r}")
        name, plate = line.split("\t", 1)
        entry = photos.setdefault(name, PhotoLabels(path.parent / name))
        plate = plate.strip()
        if plate.endswith(DOUBT_MARK):
            entry.doubtful.append(plate[:-1])
        elif plate:
            entry.plates.append(plate)
    return list(photos.values())


def evaluate_photos(reader: PhotoReader, photos: Sequence[PhotoLabels]) -> PhotoEvalReport:
    """Read each photo with ``reader`` (a :class:`~twplate.photo.PhotoReader`, one photo per call, timed)
    and count found plates and false readings."""
    times: list[float] = []
    found = results = false = errors = 0
    misses: list[dict] = []
    false_rows: list[dict] = []
    for photo in photos:
        start = time.perf_counter()
        plates = reader.run_many([photo.path])[0]
        times.append(time.perf_counter() - start)
        if plates and plates[0].error is not None:
            errors += 1
            misses += [{"photo": str(photo.path), "label": p, "read": [], "error": str(plates[0].error)}
                       for p in photo.plates]
            continue
        results += len(plates)
        unmatched = list(plates)  # each reading matches one label at most, and each label one reading
        for label in photo.plates:
            match = next((p for p in unmatched if p.text == label), None)
            if match is not None:
                found += 1
                unmatched.remove(match)
            else:
                misses.append({"photo": str(photo.path), "label": label,
                               "read": [_row(p) for p in plates]})
        doubtful = list(photo.doubtful)
        for plate in unmatched:
            if plate.text in doubtful:  # neither found nor false
                doubtful.remove(plate.text)
            else:
                false += 1
                false_rows.append({"photo": str(photo.path), "labels": photo.plates, **_row(plate)})
    return PhotoEvalReport(
        photos=len(photos), plates=sum(len(p.plates) for p in photos), found=found, results=results, false=false,
        errors=errors, doubtful=sum(len(p.doubtful) for p in photos),
        seconds_per_photo=statistics.fmean(times) if times else 0.0,
        median_seconds_per_photo=statistics.median(times) if times else 0.0,
        misses=misses, false_readings=false_rows)


def _row(plate: PlateResult) -> dict[str, Any]:
    return {"text": plate.text, "confidence": round(plate.confidence, 4),
            "detection_score": round(plate.detection_score or 0.0, 4),
            "box": [[round(x, 1), round(y, 1)] for x, y in plate.box or ()]}


def configure(parser: argparse.ArgumentParser) -> None:
    from .cli import SMALL_MODEL_HELP, add_runtime_options

    parser.add_argument("labels", type=Path, help="TSV: photo path (relative to the file) TAB plate; "
                        "one row per plate, an empty plate for a photo without one")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the summary, misses and false readings here as JSON "
                             "(default: photo_eval.json beside the labels file's name, in the current folder)")
    parser.add_argument("--model", default=None, help="plate reader model (default: the shipped one)")
    parser.add_argument("--detector", default=None, help="detector model directory (default: the shipped one)")
    parser.add_argument("--small-model", default=None, help=SMALL_MODEL_HELP)
    parser.add_argument("--backend", default="auto", help="auto (default), onnxruntime, paddle or openvino")
    parser.add_argument("--limit-side", type=int, default=None, help="longest side of the detector input")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for each backend")
    add_runtime_options(parser)


def run(args: argparse.Namespace) -> int:
    from .backends import runtime_options
    from .photo import PhotoReader

    photos = read_labels(args.labels)
    reader = PhotoReader(args.model, detector=args.detector, backend=args.backend, threads=args.threads,
                         limit_side=args.limit_side, small_model=args.small_model, **runtime_options(vars(args)))
    report = evaluate_photos(reader, photos)
    out = args.out or Path(f"{args.labels.stem}.photo_eval.json")
    doc = {"labels": str(args.labels), "reader": repr(reader), **report.summary(),
           "misses": report.misses, "false_reading_rows": report.false_readings}
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    for key, value in report.summary().items():
        print(f"{key}\t{value}")
    print(f"misses and false readings: {out}")
    return 0
