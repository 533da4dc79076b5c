"""The shipped model (``models/twplate-rec``): loads and verifies, both backends agree, reads real plates.

Skipped until the model is exported into the checkout; the real-data tests also need the data set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twplate import PlateRecognizer
from twplate.model_files import ONNX_FILE, PADDLE_FILES, default_model_dir, read_model_yaml

MODEL = default_model_dir()
pytestmark = pytest.mark.skipif(not (MODEL / "inference.yml").is_file(), reason="shipped model not exported yet")
SAMPLE = 60  # real plates for the backend agreement check


def test_shipped_model_is_complete_and_verified() -> None:
    spec = read_model_yaml(MODEL)
    assert set(spec.checksums) == {ONNX_FILE, *PADDLE_FILES}
    assert spec.charset.characters == tuple((MODEL.parents[1] / "dict" / "dict_taiwan_car.txt")
                                            .read_text(encoding="utf-8").split())
    spec.require(spec.checksums)  # raises on any mismatch


def test_default_recognizer_reads_samples() -> None:
    samples = Path(__file__).resolve().parents[1] / "samples"
    rows = [line.split("\t") for line in (samples / "labels.tsv").read_text(encoding="utf-8").splitlines()]
    results = PlateRecognizer()([samples / name for name, _ in rows])
    assert all(r.ok for r in results)
    assert all(0.0 <= r.confidence <= 1.0 for r in results)
    assert [r.text for r in results] == [label for _, label in rows]  # special plates 試 使 外 included


def _real_sample(real_data: Path) -> tuple[list[Path], list[str]]:
    lines = (real_data / "real" / "val.tsv").read_text(encoding="utf-8").splitlines()[:SAMPLE]
    paths, labels = zip(*(line.split("\t") for line in lines), strict=True)
    return [real_data / "real" / p for p in paths], list(labels)


@pytest.mark.paddle
@pytest.mark.slow
def test_backends_agree_on_real_plates(real_data: Path) -> None:
    pytest.importorskip("paddle")
    paths, _ = _real_sample(real_data)
    ort_texts = [r.text for r in PlateRecognizer(backend="onnxruntime")(paths)]
    paddle_texts = [r.text for r in PlateRecognizer(backend="paddle")(paths)]
    agree = sum(a == b for a, b in zip(ort_texts, paddle_texts, strict=True))
    assert agree >= 0.99 * len(paths) - 0.5, list(zip(ort_texts, paddle_texts, strict=True))


def test_reads_real_plates(real_data: Path) -> None:
    paths, labels = _real_sample(real_data)
    results = PlateRecognizer(backend="onnxruntime")(paths)
    assert all(r.ok for r in results)
    exact = sum(r.text == label for r, label in zip(results, labels, strict=True))
    assert exact >= 0.93 * len(labels), f"{exact}/{len(labels)} exact"  # the model card: 97.3% on all of val


def test_default_preprocessing_is_the_shipped_models() -> None:
    """``PreprocessConfig``'s defaults are documented as the shipped model's."""
    from twplate.model_files import load_model_spec
    from twplate.preprocess import PreprocessConfig

    assert load_model_spec(None).preprocess == PreprocessConfig()
