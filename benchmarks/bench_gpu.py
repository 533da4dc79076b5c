"""GPU throughput, end to end and model-only, per GPU configuration and batch size; skipped without a GPU.

Configurations (each needs the runtime to really run on the GPU, else it is skipped, never timed on CPU):

* ``ort-cuda``: CUDA EP with twplate's options (HEURISTIC conv search, width buckets 80/128/208/320 for a floor of 80).
* ``ort-cuda-iobinding``: the same through I/O binding.
* ``ort-cuda-fp16``: CUDA EP on an fp16 copy of the model made by ``exporters/to_fp16.py`` (checked first).
* ``ort-tensorrt-fp32`` / ``ort-tensorrt-fp16``: TensorRT EP, one profile per width bucket, engine
  cache under ``$TWPLATE_CACHE`` (the first run builds engines for minutes: run twice, keep the second).
* ``paddle-gpu``: Paddle Inference on GPU 0 (paddlepaddle-gpu).

Run: ``python -m pytest benchmarks/bench_gpu.py --benchmark-only --benchmark-json=gpu.json``; the
``TWPLATE_BENCH_*`` settings of ``benchdata.py`` apply (use more images on a GPU, e.g. 1024).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import benchdata
import pytest
from benchdata import BATCHES, MODEL, ROUNDS, THREADS

from twplate import PlateRecognizer

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not benchdata.model_present(), reason=f"no model at {MODEL}")]

CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"


def _ort_providers() -> list[str]:
    if importlib.util.find_spec("onnxruntime") is None:
        return []
    import onnxruntime as ort

    return ort.get_available_providers()


def _paddle_gpu() -> bool:
    if importlib.util.find_spec("paddle") is None:
        return False
    import paddle

    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


@pytest.fixture(scope="module")
def fp16_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnxconverter_common")
    from exporters.to_fp16 import export_fp16
    from exporters.verify import ExportMismatch

    out = tmp_path_factory.mktemp("fp16") / "rec.fp16.onnx"
    try:
        export_fp16(MODEL, out)  # raises unless it reproduces the fp32 model within FP16_ATOL
    except ExportMismatch as exc:
        pytest.skip(f"no checked fp16 model: {exc}")
    return out


CONFIGS = {
    # name: (needs, expected first provider, model override, options)
    "ort-cuda": (CUDA, CUDA, None, {"backend": "onnxruntime", "providers": None}),
    "ort-cuda-iobinding": (CUDA, CUDA, None, {"backend": "onnxruntime", "providers": None, "io_binding": True}),
    "ort-cuda-fp16": (CUDA, CUDA, "fp16", {"backend": "onnxruntime", "providers": None}),
    "ort-tensorrt-fp32": (TENSORRT, TENSORRT, None, {"backend": "onnxruntime", "precision": "fp32"}),
    "ort-tensorrt-fp16": (TENSORRT, TENSORRT, None, {"backend": "onnxruntime", "precision": "fp16"}),
    "paddle-gpu": ("paddle-gpu", "gpu:0", None, {"backend": "paddle", "device": "gpu"}),
}


def _reader(config: str, batch: int, request: pytest.FixtureRequest) -> PlateRecognizer:
    needs, first, model, options = CONFIGS[config]
    if needs == "paddle-gpu" and not _paddle_gpu():
        pytest.skip("no paddlepaddle-gpu with a visible GPU")
    if needs != "paddle-gpu" and needs not in _ort_providers():
        pytest.skip(f"onnxruntime has no {needs} (pip install onnxruntime-gpu, on a machine with a GPU)")
    options = dict(options)
    if options.get("providers", "") is None:  # CUDA without TensorRT: twplate's CUDA options, then CPU
        from twplate.backends.onnx import CUDA_OPTIONS

        options["providers"] = [(CUDA, dict(CUDA_OPTIONS)), "CPUExecutionProvider"]
    path = request.getfixturevalue("fp16_model") if model == "fp16" else MODEL
    reader = PlateRecognizer(path, batch_size=batch, threads=THREADS, **options)
    if reader.backend.providers[0] != first:
        pytest.skip(f"{config}: the session runs on {reader.backend.providers}, not {first}")
    return reader


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("config", list(CONFIGS))
def test_gpu_end_to_end(benchmark, bench_images, request, config: str, batch: int) -> None:
    images, labels = bench_images
    reader = _reader(config, batch, request)
    texts = benchmark.pedantic(benchdata.twplate_pipeline(reader), args=(images,), rounds=ROUNDS, iterations=1,
                               warmup_rounds=2)
    benchmark.extra_info.update(pipeline="twplate", runtime=config, measure="end-to-end", device="gpu",
                                images=len(images), batch=batch, threads=THREADS,
                                exact_match=benchdata.exact_match(texts, labels),
                                images_per_second=len(images) / benchmark.stats.stats.median)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("config", list(CONFIGS))
def test_gpu_model_only(benchmark, bench_images, request, config: str, batch: int) -> None:
    images, _ = bench_images
    reader = _reader(config, batch, request)
    batches, run = benchdata.model_batches(reader, images), reader.backend
    benchmark.pedantic(lambda: [run(x) for x in batches], rounds=ROUNDS, iterations=1, warmup_rounds=2)
    benchmark.extra_info.update(pipeline="twplate", runtime=config, measure="model-only", device="gpu",
                                images=len(images), batch=batch, threads=THREADS,
                                shapes=sorted({tuple(x.shape) for x in batches}),
                                images_per_second=len(images) / benchmark.stats.stats.median)
