"""Shared fixtures: tiny stand-in models (see ``tiny_models.py``) and the optional real data set."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

try:  # property tests: the same examples every run, and no per-example time limit (a loaded CI
    # machine made a 200 ms deadline fail a correct test; speed belongs in benchmarks/)
    from hypothesis import settings

    settings.register_profile("twplate", deadline=None, derandomize=True, database=None)
    settings.load_profile("twplate")
except ImportError:
    pass


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``paddle`` skip where paddlepaddle is not installed."""
    if importlib.util.find_spec("paddle") is None:
        skip = pytest.mark.skip(reason="needs paddlepaddle: pip install 'twplate[paddle]'")
        for item in items:
            if item.get_closest_marker("paddle"):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory with the tiny ONNX model and its ``inference.yml`` (no Paddle files)."""
    pytest.importorskip("onnx")
    import tiny_models

    return tiny_models.build_model_dir(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_paddle_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model in both formats (ONNX and Paddle)."""
    pytest.importorskip("onnx")
    pytest.importorskip("paddle")
    import tiny_models

    return tiny_models.build_model_dir(tmp_path_factory.mktemp("tiny-paddle") / "model", paddle=True)


def _wheel_weights(find: Callable[[], Path]) -> Path:
    """``find()``'s file from the ``rapidocr_onnxruntime`` wheel (fetched once into the cache); skips without
    paddle and onnx, or when the wheel cannot be had."""
    pytest.importorskip("paddle")
    pytest.importorskip("onnx")
    try:
        return find()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pretrained_onnx() -> Path:
    """PP-OCRv3's recognition Student (see :func:`_wheel_weights`)."""
    from twplate.training.pretrained import find_pretrained_onnx

    return _wheel_weights(find_pretrained_onnx)


@pytest.fixture(scope="session")
def pretrained_v4_onnx() -> Path:
    """PP-OCRv4's recognizer, a larger teacher (see :func:`_wheel_weights`)."""
    from twplate.training.pretrained import find_pretrained_onnx

    return _wheel_weights(lambda: find_pretrained_onnx(architecture="ppocrv4"))


@pytest.fixture(scope="session")
def pretrained_det_onnx() -> Path:
    """PP-OCRv3's detector (see :func:`_wheel_weights`)."""
    from twplate.training.det.model import find_pretrained_onnx

    return _wheel_weights(find_pretrained_onnx)


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model directory that a test may break."""
    import shutil

    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


@pytest.fixture
def formats_model(model_copy: Path) -> Path:
    """The tiny model declaring format-aware decoding (``decode: plate_formats``) in its inference.yml.

    It reads ``tiny_models.stripe_image("AA")``, which is no plate, as the closest plate format, so its
    ``format_edits`` is above 0.
    """
    import yaml

    spec_path = model_copy / "inference.yml"
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["decode"] = {"plate_formats": True}
    spec_path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return model_copy


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real plate photos (``real/val.tsv`` ...); never copied into the repository."""
    root = Path(os.environ.get("TWPLATE_DATA", REPO.parent / "shared" / "data"))
    if not (root / "real" / "val.tsv").is_file():
        pytest.skip(f"real data set not found at {root} (set TWPLATE_DATA)")
    return root
