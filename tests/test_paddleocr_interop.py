"""PaddleOCR's own inference reads twplate's shipped model (docs/paddleocr.md).

The commands are the documented ones. PaddleOCR 2.10 and 3 both install the module ``paddleocr``, so at
most one of the tool tests runs in a given environment (``[bench]`` installs 2.10); CI installs neither.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from twplate.model_files import YAML_FILE, default_model_dir, load_model_spec, paddlex_sections

REPO = Path(__file__).resolve().parents[1]
MODEL = default_model_dir()
SAMPLES = REPO / "samples"
DICTIONARY = REPO / "dict" / "dict_taiwan_car.txt"
LABELS = dict(line.split("\t") for line in (SAMPLES / "labels.tsv").read_text(encoding="utf-8").splitlines())

needs_shipped = pytest.mark.skipif(not (MODEL / YAML_FILE).is_file(), reason="shipped model not exported")

# PaddleOCR 2.10's create_predictor calls Config.enable_memory_optim(), which Paddle 3 runs on a PIR program
# (inference.json) only with the new executor; the documented launcher adds it and runs predict_rec.py unchanged.
LAUNCHER = """import runpy, sys
from paddle import inference
memory_optim = inference.Config.enable_memory_optim
inference.Config.enable_memory_optim = lambda self, *args: (memory_optim(self, *args), self.enable_new_executor())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")"""


def _paddleocr_major() -> int | None:
    try:
        return int(importlib.metadata.version("paddleocr").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return None


@needs_shipped
def test_shipped_model_describes_itself_to_paddleocr_3():
    doc = yaml.safe_load((MODEL / YAML_FILE).read_text(encoding="utf-8"))
    spec = load_model_spec(MODEL)
    expected = paddlex_sections(list(spec.charset.characters), spec.preprocess)
    assert {key: doc[key] for key in expected} == expected


@needs_shipped
@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["paddle", "onnx"])
def test_paddleocr_2_predict_rec_reads_the_samples(runtime: str, tmp_path: Path):
    if _paddleocr_major() != 2:
        pytest.skip("needs paddleocr 2.x (pip install --no-deps paddleocr==2.10.0 scikit-image)")
    pytest.importorskip("paddle")
    if runtime == "onnx":
        pytest.importorskip("onnxruntime")
    script = Path(importlib.util.find_spec("paddleocr").submodule_search_locations[0]) / "tools/infer/predict_rec.py"
    model = ["--use_onnx", "true", "--rec_model_dir", str(MODEL / "inference.onnx")] if runtime == "onnx" else \
        ["--rec_model_dir", str(MODEL)]
    args = [str(script), "--use_gpu", "false", *model, "--rec_char_dict_path", str(DICTIONARY),
            "--rec_image_shape", "3,48,80", "--rec_algorithm", "SVTR_LCNet", "--image_dir", str(SAMPLES)]
    command = [sys.executable, "-c", LAUNCHER, *args] if runtime == "paddle" else [sys.executable, *args]
    run = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    read = {Path(m.group(1)).name: ast.literal_eval(m.group(2))[0]
            for m in re.finditer(r"Predicts of (.+?):(\(.*\))$", run.stdout + run.stderr, re.MULTILINE)}
    assert read == LABELS


@needs_shipped
@pytest.mark.slow
def test_paddleocr_3_text_recognition_reads_the_samples(monkeypatch: pytest.MonkeyPatch):
    if (_paddleocr_major() or 0) < 3:
        pytest.skip("needs paddleocr 3 (pip install 'paddleocr>=3')")
    monkeypatch.setenv("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")  # offline: skip the model hosts' check
    from paddleocr import TextRecognition

    recognizer = TextRecognition(model_name="PP-OCRv3_mobile_rec", model_dir=str(MODEL), device="cpu")
    results = recognizer.predict([str(SAMPLES / name) for name in LABELS])
    assert [r["rec_text"] for r in results] == list(LABELS.values())
