"""The fp16 exporter: conversion keeps float32 I/O and metadata; a file is written only when it passes the check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxconverter_common")
pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from exporters import to_fp16  # noqa: E402
from exporters.to_fp16 import FP16_ATOL, convert_fp16, export_fp16  # noqa: E402
from exporters.verify import ExportMismatch  # noqa: E402

from twplate import PlateRecognizer  # noqa: E402
from twplate.model_files import default_model_dir  # noqa: E402


@pytest.mark.slow
def test_shipped_model_converts_to_fp16_weights_with_float32_io(tmp_path: Path) -> None:
    if not (default_model_dir() / "inference.onnx").is_file():
        pytest.skip("shipped model not exported")
    shipped = PlateRecognizer(backend="onnxruntime")
    assert shipped.spec.calibration is not None
    out = convert_fp16(default_model_dir() / "inference.onnx", tmp_path / "rec.fp16.onnx", shipped.spec.calibration)
    model = onnx.load(str(out))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # float32 in and out
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    weights = [*model.graph.initializer, *(n.attribute[0].t for n in model.graph.node if n.op_type == "Constant")]
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)  # paddle2onnx stores weights as Constant
    fp16 = PlateRecognizer(out, backend="onnxruntime")
    assert fp16.spec.charset == shipped.spec.charset  # metadata kept
    assert fp16.spec.calibration == shipped.spec.calibration  # confidences calibrated as the source's
    assert fp16(np.full((60, 200, 3), 255, np.uint8)).error is None
    sample = str(Path(__file__).resolve().parents[1] / "samples" / "00_car2014.jpg")
    assert fp16(sample).confidence == pytest.approx(shipped(sample).confidence, abs=2e-2)


def test_checked_file_is_written(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def passes(reference, candidate, characters, preprocess, what, atol):
        seen["atol"] = atol
        return 0.0

    monkeypatch.setattr(to_fp16, "assert_reproduces", passes)
    out = tmp_path / "sub" / "tiny.fp16.onnx"
    assert to_fp16.export_fp16(tiny_model_dir, out) == 0.0
    assert out.is_file() and seen["atol"] == FP16_ATOL == 2e-2


def test_mismatch_is_refused_and_nothing_written(tiny_model_dir: Path, tmp_path: Path) -> None:
    # The tiny model's logits are quadratic with a sharpness of 2e4: fp16 cannot represent it.
    out = tmp_path / "tiny.fp16.onnx"
    with pytest.raises(ExportMismatch, match="fp16 ONNX model"):
        export_fp16(tiny_model_dir, out)
    assert not out.exists()
