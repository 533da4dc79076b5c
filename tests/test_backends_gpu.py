"""The GPU path without a GPU: width buckets, CUDA/TensorRT options, precision, I/O binding (fake sessions)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

import tiny_models
from twplate import PlateRecognizer
from twplate.model_files import load_model_spec
from twplate.preprocess import PreprocessConfig, bucket_width, gpu_width_buckets, make_batch

ort = pytest.importorskip("onnxruntime")
from fake_ort import FakeGpuSession  # noqa: E402
from twplate.backends import onnx as onnx_backend  # noqa: E402

TEXTS = ["ABC-1234", "AA", "", "9999-AA", "Z", "外0872"]


# ---------------------------------------------------------------- buckets (pure functions)


@pytest.mark.parametrize(("width", "expected"), [(1, 160), (160, 160), (161, 240), (240, 240), (241, 320),
                                                 (320, 320), (321, 321)])
def test_bucket_width_rounds_up(width: int, expected: int) -> None:
    assert bucket_width(width, (160, 240, 320)) == expected


def test_gpu_width_buckets() -> None:
    floor80 = PreprocessConfig(min_width=80, max_width=320)
    assert gpu_width_buckets(floor80) == (80, 128, 208, 320)  # 80 * 4 ** (i / 3), rounded up to 16
    assert gpu_width_buckets(floor80, count=3) == (80, 160, 320)
    assert gpu_width_buckets(PreprocessConfig(min_width=100, max_width=330), count=3) == (112, 192, 330)
    assert gpu_width_buckets(PreprocessConfig(min_width=320, max_width=320)) == (320,)
    assert gpu_width_buckets(floor80, count=1) == (320,)
    for buckets in (gpu_width_buckets(PreprocessConfig(min_width=m, max_width=x), count=c)
                    for m in (16, 100, 160) for x in (200, 320, 999) for c in (2, 3, 4)):
        assert buckets[-1] == max(buckets) and list(buckets) == sorted(set(buckets))


def test_make_batch_pads_to_a_given_width() -> None:
    batch = make_batch([np.full((48, 100, 3), 255, np.uint8)], PreprocessConfig(), width=160)
    assert batch.shape == (1, 3, 48, 160)
    assert (batch[..., :100] == 1).all() and (batch[..., 100:] == 0).all()


# ---------------------------------------------------------------- fake GPU sessions


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> type[FakeGpuSession]:
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", FakeGpuSession)
    monkeypatch.setattr(FakeGpuSession, "in_use", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(FakeGpuSession, "shapes", [])
    monkeypatch.setattr(FakeGpuSession, "bound", [])
    return FakeGpuSession


def _quiet_reader(*args, **kwargs) -> PlateRecognizer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # TensorRT requested but "not in use"
        return PlateRecognizer(*args, **kwargs)


def _images() -> list[np.ndarray]:
    # widths 192 (8 characters), 176, 200, 264, 320, 200: buckets 208 (four) and 320 (two)
    return [tiny_models.stripe_image(t, width=w) for t, w in zip(TEXTS, (160, 176, 200, 264, 320, 200), strict=True)]


def test_gpu_session_pads_batches_to_buckets(tiny_model_dir: Path, fake_cuda) -> None:
    reader = _quiet_reader(tiny_model_dir, batch_size=2)
    assert reader.backend.width_buckets == (160, 208, 256, 320)  # the tiny model's floor is 160
    fake_cuda.shapes.clear()
    assert [r.text for r in reader(_images())] == TEXTS  # padding reads as blank: same text
    assert [s[3] for s in fake_cuda.shapes] == [208, 208, 320]


def test_cpu_session_keeps_each_batch_width(tiny_model_dir: Path, fake_cuda, monkeypatch) -> None:
    monkeypatch.setattr(fake_cuda, "in_use", ["CPUExecutionProvider"])
    reader = _quiet_reader(tiny_model_dir, batch_size=2)
    assert reader.backend.width_buckets is None
    fake_cuda.shapes.clear()
    assert [r.text for r in reader(_images())] == TEXTS
    assert [s[3] for s in fake_cuda.shapes] == [176, 192, 200, 264, 320]  # one width a batch, none padded


def test_width_buckets_option(tiny_model_dir: Path) -> None:
    fixed = PlateRecognizer(tiny_model_dir, backend="onnxruntime", width_buckets=(320,))  # real CPU session
    assert fixed.backend.width_buckets == (320,)
    assert [r.text for r in fixed(_images())] == TEXTS
    assert PlateRecognizer(tiny_model_dir, backend="onnxruntime", width_buckets=()).backend.width_buckets is None


def test_cuda_options(tiny_model_dir: Path, fake_cuda) -> None:
    _quiet_reader(tiny_model_dir)
    cuda = dict(p for p in fake_cuda.requested if isinstance(p, tuple))["CUDAExecutionProvider"]
    assert cuda["cudnn_conv_algo_search"] == "HEURISTIC"
    assert cuda["arena_extend_strategy"] == "kSameAsRequested"
    assert cuda["do_copy_in_default_stream"] is True


def test_tensorrt_options(tiny_model_dir: Path, fake_cuda, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TWPLATE_CACHE", str(tmp_path))
    spec = load_model_spec(tiny_model_dir)
    sha = spec.checksums[spec.onnx_file][:16]
    _quiet_reader(tiny_model_dir, batch_size=128, precision="fp16")
    trt = dict(p for p in fake_cuda.requested if isinstance(p, tuple))["TensorrtExecutionProvider"]
    assert trt["trt_fp16_enable"] is True
    assert trt["trt_engine_cache_enable"] and trt["trt_timing_cache_enable"]
    assert trt["trt_engine_cache_path"] == str(tmp_path / "tensorrt" / f"{spec.name}-{sha}-fp16")
    assert trt["trt_profile_min_shapes"] == "x:1x3x48x160,x:1x3x48x208,x:1x3x48x256,x:1x3x48x320"
    assert trt["trt_profile_opt_shapes"] == trt["trt_profile_max_shapes"] == \
        "x:128x3x48x160,x:128x3x48x208,x:128x3x48x256,x:128x3x48x320"
    _quiet_reader(tiny_model_dir)
    trt32 = dict(p for p in fake_cuda.requested if isinstance(p, tuple))["TensorrtExecutionProvider"]
    assert trt32["trt_fp16_enable"] is False
    assert trt32["trt_engine_cache_path"].endswith(f"-{sha}-fp32")  # fp16 and fp32 engines never mix


def test_tensorrt_profiles_cover_the_load_check_and_the_buckets_in_use(tiny_model_dir: Path, fake_cuda) -> None:
    """At batch size 1 the profiles still reach a batch of 2 (the load check runs one); ``width_buckets=``
    gives the profiles' widths, and ``()`` one profile spanning every width."""

    def trt_shapes(**options) -> tuple[str, str]:
        _quiet_reader(tiny_model_dir, **options)
        trt = dict(p for p in fake_cuda.requested if isinstance(p, tuple))["TensorrtExecutionProvider"]
        assert trt["trt_profile_opt_shapes"] == trt["trt_profile_max_shapes"]
        return trt["trt_profile_min_shapes"], trt["trt_profile_max_shapes"]

    assert trt_shapes(batch_size=1)[1] == "x:2x3x48x160,x:2x3x48x208,x:2x3x48x256,x:2x3x48x320"
    assert trt_shapes(batch_size=8, width_buckets=(320,)) == ("x:1x3x48x320", "x:8x3x48x320")
    assert trt_shapes(batch_size=8, width_buckets=()) == ("x:1x3x48x160", "x:8x3x48x320")
    assert trt_shapes(batch_size=8, width_buckets=(200,)) == ("x:1x3x48x200,x:1x3x48x201",  # wider: not padded
                                                              "x:8x3x48x200,x:8x3x48x320")


def test_fp16_without_tensorrt_warns_what_runs_instead(tiny_model_dir: Path, fake_cuda, monkeypatch) -> None:
    """``precision="fp16"`` builds fp16 TensorRT engines; on CUDA or CPU the file runs as it is, and a warning
    says so (a real CPU session, then a CUDA one); with TensorRT in use it is silent."""
    monkeypatch.undo()  # a real CPU session first (CPU asked for: on a machine with TensorRT it would build engines)
    with pytest.warns(RuntimeWarning, match=r"precision='fp16' builds TensorRT fp16 engines.*CPUExecutionProvider"):
        PlateRecognizer(tiny_model_dir, backend="onnxruntime", precision="fp16", providers=["CPUExecutionProvider"])
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", FakeGpuSession)
    monkeypatch.setattr(FakeGpuSession, "in_use", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.warns(RuntimeWarning) as caught:  # and that TensorRT fell back
        PlateRecognizer(tiny_model_dir, backend="onnxruntime", precision="fp16")
    assert any("precision='fp16'" in str(w.message) and "on CUDAExecutionProvider, CPUExecutionProvider"
               in str(w.message) for w in caught)
    monkeypatch.setattr(FakeGpuSession, "in_use", ["TensorrtExecutionProvider", "CUDAExecutionProvider"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PlateRecognizer(tiny_model_dir, backend="onnxruntime", precision="fp16")


def test_tensorrt_cache_of_a_bare_onnx_file_is_keyed_by_its_content(tmp_path: Path, monkeypatch) -> None:
    """Two files of one name in two folders get two caches; one file under two names shares one."""
    monkeypatch.setenv("TWPLATE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    a = tiny_models.build_onnx(tmp_path / "one" / "rec.onnx")
    b = tiny_models.build_onnx(tmp_path / "two" / "rec.onnx", num_classes=len(tiny_models.CHARACTERS) + 2,
                               metadata=False)
    copy = tmp_path / "one" / "copy.onnx"
    copy.write_bytes(a.read_bytes())
    spec_a = load_model_spec(a)
    assert spec_a.checksums == {}  # a bare file: the digest is computed from the file

    def cache(path: Path) -> Path:
        return onnx_backend.tensorrt_cache_dir(dataclasses.replace(spec_a, directory=path.parent,
                                                                   onnx_file=path.name), "fp32")

    assert cache(a) != cache(b)
    assert cache(a) == cache(copy)


def test_bad_precision(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"onnxruntime precision must be one of .*not .int4."):
        PlateRecognizer(tiny_model_dir, backend="onnxruntime", precision="int4")


def test_io_binding_on_gpu(tiny_model_dir: Path, fake_cuda) -> None:
    reader = _quiet_reader(tiny_model_dir, batch_size=4, io_binding=True)
    fake_cuda.bound.clear()
    assert [r.text for r in reader(_images())] == TEXTS
    assert fake_cuda.bound and all(b == {"softmax": "cuda"} or list(b.values()) == ["cuda"] for b in fake_cuda.bound)


def test_io_binding_is_ignored_on_cpu(tiny_model_dir: Path, fake_cuda, monkeypatch) -> None:
    monkeypatch.setattr(fake_cuda, "in_use", ["CPUExecutionProvider"])
    reader = _quiet_reader(tiny_model_dir, io_binding=True)
    fake_cuda.bound.clear()
    assert [r.text for r in reader(_images())] == TEXTS
    assert fake_cuda.bound == []


@pytest.mark.parametrize(("value", "expected"), [("", Path.home() / ".cache" / "twplate" / "x"),
                                                 ("~/engines", Path.home() / "engines" / "x")])
def test_cache_dir_treats_an_empty_variable_as_unset_and_expands_home(monkeypatch, value: str,
                                                                      expected: Path) -> None:
    from twplate.cache import cache_dir

    monkeypatch.setenv("TWPLATE_CACHE", value)
    assert cache_dir("x") == expected
