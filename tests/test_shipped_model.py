"""The shipped plate readers (``models/twplate-rec``; ``models/twplate-rec-small``, the photo reader's for small
boxes; ``models/twplate-rec-fast``, the shallower one for speed, and ``twplate-rec-fast-int8``, it quantized): load and
verify, backends agree, read real plates (the int8 model's readings: test_openvino.py).

Skipped until the model is exported into the checkout; the real-data tests also need the data set.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from twplate import PlateRecognizer
from twplate.image import load_image
from twplate.model_files import (
    FAST_INT8_MODEL,
    FAST_MODEL,
    ONNX_FILE,
    OPENVINO_FILES,
    PADDLE_FILES,
    default_model_dir,
    default_small_model_dir,
    fast_model_dir,
    read_model_yaml,
)
from twplate.training.augment import shrink

MODEL = default_model_dir()
pytestmark = pytest.mark.skipif(not (MODEL / "inference.yml").is_file(), reason="shipped model not exported yet")
SAMPLE = 60  # real plates for the backend agreement check
READERS = pytest.mark.parametrize("model", [MODEL, default_small_model_dir()], ids=["rec", "rec-small"])


@pytest.mark.parametrize(("model", "files"), [(MODEL, {ONNX_FILE, *PADDLE_FILES}),
                                              (default_small_model_dir(), {ONNX_FILE, *PADDLE_FILES}),
                                              (fast_model_dir(), {ONNX_FILE}),  # for ONNX Runtime and OpenVINO
                                              (MODEL.parent / FAST_INT8_MODEL, set(OPENVINO_FILES))],
                         ids=["rec", "rec-small", "rec-fast", "rec-fast-int8"])
def test_shipped_model_is_complete_and_verified(model: Path, files: set[str]) -> None:
    spec = read_model_yaml(model)
    assert set(spec.checksums) == files
    assert spec.charset.characters == tuple((MODEL.parents[1] / "dict" / "dict_taiwan_car.txt")
                                            .read_text(encoding="utf-8").split())
    assert spec.calibration is not None  # every shipped reader's confidence is calibrated
    spec.require(spec.checksums)  # raises on any mismatch


@pytest.mark.parametrize("model", [None, FAST_MODEL], ids=["rec", "rec-fast"])
def test_shipped_recognizer_reads_samples(model: str | None) -> None:
    samples = Path(__file__).resolve().parents[1] / "samples"
    rows = [line.split("\t") for line in (samples / "labels.tsv").read_text(encoding="utf-8").splitlines()]
    results = PlateRecognizer(model)([samples / name for name, _ in rows])
    assert all(r.ok for r in results)
    assert all(0.0 <= r.confidence <= 1.0 for r in results)
    assert [r.text for r in results] == [label for _, label in rows]  # special plates 試 使 外 included


def _real_sample(real_data: Path) -> tuple[list[Path], list[str]]:
    lines = (real_data / "real" / "val.tsv").read_text(encoding="utf-8").splitlines()[:SAMPLE]
    paths, labels = zip(*(line.split("\t") for line in lines), strict=True)
    return [real_data / "real" / p for p in paths], list(labels)


@pytest.mark.paddle
@pytest.mark.slow
@READERS
def test_backends_agree_on_real_plates(real_data: Path, model: Path) -> None:
    pytest.importorskip("paddle")
    paths, _ = _real_sample(real_data)
    ort_texts = [r.text for r in PlateRecognizer(model, backend="onnxruntime")(paths)]
    paddle_texts = [r.text for r in PlateRecognizer(model, backend="paddle")(paths)]
    agree = sum(a == b for a, b in zip(ort_texts, paddle_texts, strict=True))
    assert agree >= 0.99 * len(paths) - 0.5, list(zip(ort_texts, paddle_texts, strict=True))


def test_reads_real_plates(real_data: Path) -> None:
    paths, labels = _real_sample(real_data)
    results = PlateRecognizer(backend="onnxruntime")(paths)
    assert all(r.ok for r in results)
    exact = sum(r.text == label for r, label in zip(results, labels, strict=True))
    assert exact >= 0.93 * len(labels), f"{exact}/{len(labels)} exact"  # the model card: 97.3% on all of val


@pytest.mark.parametrize("input_width", [None, 72], ids=["by-aspect", "fixed-72"])
def test_fast_model_reads_real_plates_as_the_shipped_model_does(real_data: Path, input_width: int | None) -> None:
    """``twplate-rec-fast`` reads about as many real plates as ``twplate-rec``, by aspect and at 48 x 72, the width
    of its fast configuration (model cards, 296 val plates: 289 and 290; ``twplate-rec`` 290 and 289)."""
    paths, labels = _real_sample(real_data)
    exact = {reader.spec.name: sum(r.text == label for r, label in zip(reader(paths), labels, strict=True))
             for reader in (PlateRecognizer(model, backend="onnxruntime", input_width=input_width)
                            for model in (None, FAST_MODEL))}
    assert exact[FAST_MODEL] >= exact["twplate-rec"] - 1, exact


def test_default_preprocessing_is_the_shipped_models() -> None:
    """``PreprocessConfig``'s defaults are documented as the shipped model's."""
    from twplate.model_files import load_model_spec
    from twplate.preprocess import PreprocessConfig

    assert load_model_spec(None).preprocess == PreprocessConfig()


def _sample_images() -> list[np.ndarray]:
    """The rendered samples as drawn, stretched to twice their width and squeezed to half: widths from
    the floor to the ceiling, so that in the old batching every narrow plate got padded for a wide one."""
    samples = Path(__file__).resolve().parents[1] / "samples"
    drawn = [load_image(p) for p in sorted(samples.glob("*.jpg"))]
    return [cv2.resize(im, (round(im.shape[1] * scale), im.shape[0])) for im in drawn for scale in (1.0, 2.0, 0.5)]


def _assert_reads_alone_as_in_any_batch(images: list[np.ndarray], input_width: int | None) -> None:
    reader = PlateRecognizer(backend="onnxruntime", batch_size=4, input_width=input_width)
    alone = [reader(im) for im in images]
    order = list(range(len(images)))
    random.Random(0).shuffle(order)
    for batch in (images, [images[i] for i in order]):
        together = reader(batch)
        if batch is not images:
            together = [together[order.index(i)] for i in range(len(images))]
        for a, t in zip(alone, together, strict=True):
            assert t.text == a.text
            # the same numbers up to float rounding (ONNX Runtime's GEMM blocks batch rows differently)
            assert t.confidence == pytest.approx(a.confidence, abs=1e-5)
            assert t.char_confidences == pytest.approx(a.char_confidences, abs=1e-5)


@pytest.mark.parametrize("input_width", [None, 72], ids=["by-aspect", "fixed-72"])
def test_a_plate_reads_the_same_alone_and_in_any_batch(input_width: int | None) -> None:
    _assert_reads_alone_as_in_any_batch(_sample_images(), input_width)


@pytest.mark.parametrize("input_width", [None, 72], ids=["by-aspect", "fixed-72"])
def test_a_real_plate_reads_the_same_alone_and_in_any_batch(real_data: Path, input_width: int | None) -> None:
    paths, _ = _real_sample(real_data)
    _assert_reads_alone_as_in_any_batch([load_image(p) for p in paths[:40]], input_width)


def test_small_plate_reader_reads_far_plates_the_plate_reader_misses(real_data: Path) -> None:
    """``twplate-rec-small`` exists for crops as small as a far plate's: real plates shrunk to 16 px tall, it
    reads far more of them than the plate reader (its model card: 174 against 94 of 296 val plates)."""
    paths, labels = _real_sample(real_data)
    crops = [shrink(load_image(p), 16, 75) for p in paths]
    exact = {model.name: sum(r.text == label for r, label in
                             zip(PlateRecognizer(model, backend="onnxruntime")(crops), labels, strict=True))
             for model in (MODEL, default_small_model_dir())}
    assert exact["twplate-rec-small"] >= exact["twplate-rec"] + 0.1 * len(labels), exact


def test_small_crops_script_reads_each_crop_shrunk_to_each_height(tmp_path: Path):
    """``scripts/small_crops.py``: the rendered samples as they are all read right; shrunk to 12 px tall, a
    far plate's crop, fewer are (the recognizer's weak spot the script measures). ``--save`` writes the crops
    as read, with a label file of them."""
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "scripts/small_crops.py", "samples/labels.tsv", "--heights", "0,12",
                           "--save", str(tmp_path)], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert rows[0] == ["height", "exact", "share"]
    exact = {int(height): int(n) for height, n, _ in rows[1:]}
    assert exact[0] == 9 and exact[12] < 9
    saved = [line.split("\t") for line in (tmp_path / "labels.tsv").read_text(encoding="utf-8").splitlines()]
    samples = (repo / "samples" / "labels.tsv").read_text(encoding="utf-8").splitlines()
    labels = [line.split("\t")[1] for line in samples]
    assert [label for _, label in saved] == labels * 2
    shrunk = [load_image(tmp_path / name) for name, _ in saved[len(labels):]]
    assert all(image.shape[0] == 12 for image in shrunk)
    read = PlateRecognizer(backend="onnxruntime")(shrunk)
    assert sum(r.text == label for r, label in zip(read, labels, strict=True)) == exact[12]  # saved as read
