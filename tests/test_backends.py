"""Backend registry, ``auto`` selection, ONNX Runtime provider choice and fallback, and Paddle."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import tiny_models
import twplate.backends as backends
from twplate import PlateRecognizer
from twplate.backends import Backend, backend_class, load_backend, resolve_backend_name
from twplate.errors import BackendUnavailableError, ModelError
from twplate.model_files import PADDLE_FILES, YAML_FILE, load_model_spec, write_model_yaml
from twplate.preprocess import PreprocessConfig

ort = pytest.importorskip("onnxruntime")
from fake_ort import FakeGpuSession  # noqa: E402
from twplate.backends import onnx as onnx_backend  # noqa: E402


def test_unknown_backend_name(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'"):
        PlateRecognizer(tiny_model_dir, backend="tensorflow")


def test_missing_runtime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = backends.importlib.util.find_spec
    monkeypatch.setattr(backends.importlib.util, "find_spec",
                        lambda name, *a: None if name == "paddle" else real_find_spec(name, *a))
    with pytest.raises(BackendUnavailableError, match=r"pip install 'twplate\[paddle\]'"):
        backend_class("paddle")
    assert "paddle" not in backends.available_backends()


def test_auto_prefers_onnxruntime(tiny_model_dir: Path) -> None:
    assert resolve_backend_name("auto", load_model_spec(tiny_model_dir)) == "onnxruntime"
    assert PlateRecognizer(tiny_model_dir).backend.name == "onnxruntime"


def test_auto_without_any_runtime(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "available_backends", lambda: [])
    with pytest.raises(BackendUnavailableError, match=r"twplate\[paddle\]"):
        resolve_backend_name("auto", load_model_spec(tiny_model_dir))


def test_auto_falls_to_paddle_without_onnxruntime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "m"
    directory.mkdir()
    for name in PADDLE_FILES:
        (directory / name).write_bytes(b"stub")
    write_model_yaml(directory, "m", "0", "AB", PreprocessConfig())
    spec = load_model_spec(directory)
    if "paddle" in backends.available_backends():
        assert resolve_backend_name("auto", spec) == "paddle"  # onnxruntime is installed, but no .onnx
    monkeypatch.setattr(backends, "available_backends", lambda: ["onnxruntime"])
    with pytest.raises(ModelError, match="no files for the installed backends"):
        resolve_backend_name("auto", spec)


# ---------------------------------------------------------------- ONNX Runtime providers


@pytest.fixture
def fake_gpu_ort(monkeypatch: pytest.MonkeyPatch) -> type[FakeGpuSession]:
    """GPU providers available, but the session falls back to the CPU (what onnxruntime-gpu does without a GPU)."""
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: available)
    monkeypatch.setattr(ort, "InferenceSession", FakeGpuSession)
    monkeypatch.setattr(FakeGpuSession, "in_use", ["CPUExecutionProvider"])
    return FakeGpuSession


def test_default_provider_order_and_fallback_warning(tiny_model_dir: Path, fake_gpu_ort) -> None:
    with pytest.warns(RuntimeWarning, match="could not use TensorrtExecutionProvider, CUDAExecutionProvider"):
        backend = load_backend("onnxruntime", load_model_spec(tiny_model_dir), max_batch=8)
    names = [p if isinstance(p, str) else p[0] for p in fake_gpu_ort.requested]
    assert names == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    trt_options = fake_gpu_ort.requested[0][1]
    # a profile per width bucket
    assert trt_options["trt_profile_max_shapes"] == "x:8x3x48x160,x:8x3x48x208,x:8x3x48x256,x:8x3x48x320"
    assert trt_options["trt_profile_min_shapes"] == "x:1x3x48x160,x:1x3x48x208,x:1x3x48x256,x:1x3x48x320"
    assert backend.providers == ["CPUExecutionProvider"]  # what the session uses, not what was asked


def test_gpu_in_use_is_reported_without_warning(tiny_model_dir: Path, fake_gpu_ort, monkeypatch) -> None:
    monkeypatch.setattr(fake_gpu_ort, "in_use", ["TensorrtExecutionProvider", "CUDAExecutionProvider",
                                                 "CPUExecutionProvider"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        backend = load_backend("onnxruntime", load_model_spec(tiny_model_dir))
    assert backend.providers[0] == "TensorrtExecutionProvider"


def test_explicit_providers_override(tiny_model_dir: Path, fake_gpu_ort) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        PlateRecognizer(tiny_model_dir, providers=["CPUExecutionProvider"])
    assert fake_gpu_ort.requested == ["CPUExecutionProvider"]
    with pytest.warns(RuntimeWarning, match="could not use CUDAExecutionProvider"):
        PlateRecognizer(tiny_model_dir, providers=[("CUDAExecutionProvider", {"device_id": 0})])


def test_default_providers_filters_to_available() -> None:
    spec = None  # TensorRT is absent, so the spec is never read
    assert onnx_backend.default_providers(["CPUExecutionProvider"], spec, 32) == ["CPUExecutionProvider"]
    assert onnx_backend.default_providers(["CUDAExecutionProvider", "CPUExecutionProvider", "Other"], spec, 1) == [
        ("CUDAExecutionProvider", onnx_backend.CUDA_OPTIONS), "CPUExecutionProvider"]
    assert onnx_backend.default_providers([], spec, 1) == ["CPUExecutionProvider"]


def test_threads_option_reaches_the_session(tiny_model_dir: Path) -> None:
    backend = PlateRecognizer(tiny_model_dir, backend="onnxruntime", threads=3).backend
    assert backend._session.get_session_options().intra_op_num_threads == 3


def test_both_ort_distributions_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_backend.importlib.metadata, "version", lambda dist: "1.0")
    onnx_backend.warn_if_both_ort_dists.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="onnxruntime 1.0 and onnxruntime-gpu 1.0 are installed"):
            onnx_backend.warn_if_both_ort_dists()
    finally:
        onnx_backend.warn_if_both_ort_dists.cache_clear()


def test_real_cpu_session_reports_cpu(tiny_model_dir: Path) -> None:
    backend = PlateRecognizer(tiny_model_dir, backend="onnxruntime").backend
    assert isinstance(backend, Backend)
    assert "CPUExecutionProvider" in backend.providers
    out = backend(np.zeros((2, 3, 48, 200), np.float32))
    assert out.shape == (2, 25, 44) and out.dtype == np.float32


@pytest.mark.parametrize(("options", "allowed"), [({}, "1"), ({"spinning": False}, "0")])
def test_spinning_option_reaches_the_session(options: dict, allowed: str) -> None:
    """ORT's intra-op threads busy-wait for work by default (fastest for back-to-back calls);
    ``spinning=False`` lets them sleep, for a model that waits between calls beside other work
    (``twplate serve``). What each costs is measured in benchmarks, not here."""
    backend = PlateRecognizer(backend="onnxruntime", **options).backend
    session_options = backend._session.get_session_options()
    assert session_options.get_session_config_entry("session.intra_op.allow_spinning") == allowed


# ---------------------------------------------------------------- Paddle


@pytest.mark.paddle
class TestPaddle:
    @pytest.fixture(autouse=True)
    def _needs_paddle(self) -> None:
        pytest.importorskip("paddle")

    def test_reads_like_onnxruntime(self, tiny_paddle_model_dir: Path) -> None:
        texts = ["ABC-1234", "外0872", "AA", "", "使22"]
        images = [tiny_models.stripe_image(t) for t in texts]
        paddle_results = PlateRecognizer(tiny_paddle_model_dir, backend="paddle", threads=1)(images)
        ort_results = PlateRecognizer(tiny_paddle_model_dir, backend="onnxruntime")(images)
        assert [r.text for r in paddle_results] == texts
        assert [r.text for r in ort_results] == texts
        for a, b in zip(paddle_results, ort_results, strict=True):
            np.testing.assert_allclose(a.char_confidences, b.char_confidences, atol=1e-4)

    def test_providers_report_cpu(self, tiny_paddle_model_dir: Path) -> None:
        backend = PlateRecognizer(tiny_paddle_model_dir, backend="paddle", device="cpu").backend
        assert backend.providers == ["cpu", "mkldnn"]   # no resize op: oneDNN kernels
        assert PlateRecognizer(tiny_paddle_model_dir, backend="paddle", device="cpu",
                               mkldnn=False).backend.providers == ["cpu"]

    def test_bad_device(self, tiny_paddle_model_dir: Path) -> None:
        with pytest.raises(ValueError, match="device must be one of"):
            PlateRecognizer(tiny_paddle_model_dir, backend="paddle", device="tpu")

    def test_truncated_program_refused_even_with_fresh_checksums(self, tiny_paddle_model_dir: Path,
                                                                 tmp_path: Path) -> None:
        directory = Path(shutil.copytree(tiny_paddle_model_dir, tmp_path / "m"))
        data = (directory / "inference.json").read_bytes()
        (directory / "inference.json").write_bytes(data[: len(data) // 2])
        write_model_yaml(directory, "tiny", "0", tiny_models.CHARACTERS, tiny_models.PREPROCESS)
        with pytest.raises(ModelError, match="Paddle cannot load"):
            PlateRecognizer(directory, backend="paddle")

    def test_truncated_params_fail_their_checksum(self, tiny_paddle_model_dir: Path, tmp_path: Path) -> None:
        """Paddle Inference loads this model's .pdiparams cut in half without an error: the sha256 catches it."""
        directory = Path(shutil.copytree(tiny_paddle_model_dir, tmp_path / "m"))
        data = (directory / "inference.pdiparams").read_bytes()
        (directory / "inference.pdiparams").write_bytes(data[: len(data) // 2])
        with pytest.raises(ModelError, match="checksum mismatch"):
            PlateRecognizer(directory, backend="paddle")

    def test_paddle_files_without_checksums_refused(self, tiny_paddle_model_dir: Path, tmp_path: Path) -> None:
        """Paddle loads a .pdiparams cut a few bytes short, so an unlisted file would go unchecked."""
        directory = Path(shutil.copytree(tiny_paddle_model_dir, tmp_path / "m"))
        doc = yaml.safe_load((directory / YAML_FILE).read_text(encoding="utf-8"))
        del doc["files"]["inference.pdiparams"]
        (directory / YAML_FILE).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        with pytest.raises(ModelError, match="lists no sha256 for inference.pdiparams"):
            PlateRecognizer(directory, backend="paddle")
        assert PlateRecognizer(directory, backend="onnxruntime")(tiny_models.stripe_image("AB-12")).text == "AB-12"
