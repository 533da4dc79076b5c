"""Photos per second end to end (decode, detect, crop, read) at 640, 1280 and 1920 px wide, against
RapidOCR's own detector + recognizer pipeline on the same photos, round-robin in one run.

Usage: python benchmarks/photos.py [--photos 24] [--rounds 2] [--widths 640,1280,1920]
                                   [--limits 1280,1600] [--json benchmarks/results/photos.json]

Photos: the first ``--photos`` of ``scenes/labels.tsv`` in the data root (``TWPLATE_DATA``), resized
to each width (aspect kept) and JPEG-encoded once in memory, so every case decodes the same bytes.
Cases per width: twplate's :class:`~twplate.PhotoReader` at each detector input limit (``--limits``,
longest side), on ONNX Runtime and, where OpenVINO is installed, on OpenVINO in fp32 and bf16 (both models;
bf16 only where the CPU has it); RapidOCR 1.2.3's OpenVINO pipeline as shipped where ``rapidocr_openvino``
installs (:func:`benchdata.rapidocr_openvino_photo_pipeline`, OpenVINO's default precision); and RapidOCR
1.4.4's ``RapidOCR()`` as shipped (PP-OCRv4 det, limit_type ``min`` 736,
angle classifier, PP-OCRv4 rec). RapidOCR 1.4.4 is imported from its wheel (``pip download --no-deps``
into the twplate cache, put first on ``sys.path``), so it can sit beside the ``bench`` extra's 1.2.3;
its dependencies are 1.2.3's.

Plate recall is counted on the photos timed: a labelled plate is found when a reading has exactly
its text (twplate), or, for RapidOCR, whose text has exactly its letters and digits (RapidOCR reads
any text: a dash may come out as a dot or not at all). False readings: twplate's results that match
no label; RapidOCR reports all text, so its false readings are its readings that fit a plate format
(letters and digits only, with the label's separator put back) and match no label.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdata  # noqa: E402

from twplate.cache import cache_dir  # noqa: E402
from twplate.decode.formats import is_plate  # noqa: E402
from twplate.photo import PhotoReader  # noqa: E402
from twplate.photo_eval import read_labels  # noqa: E402

RAPIDOCR_144 = "rapidocr_onnxruntime==1.4.4"
REPO = Path(__file__).resolve().parents[1]


def rapidocr_144():
    """RapidOCR 1.4.4's pipeline class, imported from its wheel (unpacked once into the twplate cache)."""
    root = cache_dir("bench", "rapidocr_onnxruntime-1.4.4")
    if not (root / "rapidocr_onnxruntime" / "main.py").is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        RAPIDOCR_144, "-d", str(root)], check=True)
        with zipfile.ZipFile(next(root.glob("*.whl"))) as wheel:
            wheel.extractall(root)
    sys.path.insert(0, str(root))
    for name in [m for m in sys.modules if m.startswith("rapidocr_onnxruntime")]:
        del sys.modules[name]
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR


def twplate_readers(limits: list[int], threads: int) -> dict[str, PhotoReader]:
    """twplate's photo readers by case name: ONNX Runtime at each limit, and OpenVINO fp32 and bf16 at each
    where OpenVINO is installed and the CPU has the precision."""
    readers = {f"twplate limit {limit}": PhotoReader(backend="onnxruntime", threads=threads, limit_side=limit)
               for limit in limits}
    if importlib.util.find_spec("openvino") is None:
        return readers
    for precision in ("fp32", "bf16"):
        for limit in limits:
            try:
                readers[f"twplate openvino {precision} limit {limit}"] = PhotoReader(
                    backend="openvino", threads=threads, limit_side=limit, precision=precision)
            except ValueError as exc:  # no native support on this CPU
                print(f"skipped twplate openvino {precision}: {exc}")
                break
    return readers


def encoded_photos(paths: list[Path], width: int) -> list[bytes]:
    """Each photo resized to ``width`` pixels wide (aspect kept), as JPEG bytes (quality 90)."""
    out = []
    for path in paths:
        image = cv2.imread(str(path))
        height = round(image.shape[0] * width / image.shape[1])
        interpolation = cv2.INTER_AREA if width < image.shape[1] else cv2.INTER_LINEAR
        resized = cv2.resize(image, (width, height), interpolation=interpolation)
        out.append(cv2.imencode(".jpg", resized, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return out


def _letters_digits(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def score(readings: list[list[str]], labels: list[list[str]], plates_only: bool) -> dict:
    """Found labels and false readings; ``plates_only``: readings are plate texts (twplate), else any text."""
    found = false = 0
    for texts, wanted in zip(readings, labels, strict=True):
        if plates_only:
            found += sum(label in texts for label in wanted)
            false += sum(text not in wanted for text in texts)
        else:
            bare = {_letters_digits(t) for t in texts}
            found += sum(_letters_digits(label) in bare for label in wanted)
            plate_like = {b for b in bare if any(is_plate(b[:k] + "-" + b[k:]) for k in range(2, 5))}
            false += len(plate_like - {_letters_digits(label) for label in wanted})
    plates = sum(len(w) for w in labels)
    return {"plates": plates, "found": found, "recall": round(found / plates, 4) if plates else None,
            "false_readings": false, "false_per_20_photos": round(20 * false / len(labels), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--widths", default="640,1280,1920")
    parser.add_argument("--limits", default="1280,1600")
    parser.add_argument("--threads", type=int, default=benchdata.THREADS)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    labels_file = benchdata.data_root() / "scenes" / "labels.tsv"
    if not labels_file.is_file():
        print(f"no scenes at {labels_file} (set TWPLATE_DATA)", file=sys.stderr)
        return 2
    photos = read_labels(labels_file)[: args.photos]
    labels = [p.plates for p in photos]
    readers = twplate_readers([int(limit) for limit in args.limits.split(",")], args.threads)
    rapid = rapidocr_144()(intra_op_num_threads=args.threads)
    rapids = {"RapidOCR 1.4.4": lambda image: rapid(image)[0] or []}
    if benchdata.rapidocr_openvino_available():
        precision = benchdata.openvino_default_precision()
        rapids[f"RapidOCR 1.2.3 OpenVINO ({precision})"] = benchdata.rapidocr_openvino_photo_pipeline(args.threads)

    results: dict = {"photos": len(photos), "rounds": args.rounds, "threads": args.threads,
                     "cpu": benchdata.cpu_description(), "widths": {}}
    for width in map(int, args.widths.split(",")):
        data = encoded_photos([p.path for p in photos], width)
        outputs: dict[str, list[list[str]]] = {}

        def twplate_case(reader: PhotoReader, name: str, data=data, outputs=outputs):
            return lambda: outputs.__setitem__(name, [[p.text for p in plates] for plates in reader.run_many(data)])

        def rapid_case(ocr, name: str, data=data, outputs=outputs):
            def run():
                texts = []
                for blob in data:
                    found = ocr(cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR))
                    texts.append([text for _box, text, _score in found])
                outputs[name] = texts
            return run

        calls = {name: twplate_case(reader, name) for name, reader in readers.items()}
        calls.update({name: rapid_case(ocr, name) for name, ocr in rapids.items()})
        for call in calls.values():  # warm-up: every shape once
            call()
        seconds = benchdata.round_robin(calls, args.rounds)
        row = {}
        for name, times in seconds.items():
            median = statistics.median(times)
            row[name] = {"photos_per_second": round(len(data) / median, 3),
                         "seconds_per_photo": round(median / len(data), 4),
                         "round_seconds": [round(t, 3) for t in times],
                         **score(outputs[name], labels, plates_only=name.startswith("twplate"))}
        results["widths"][str(width)] = row
        print(json.dumps({width: row}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
