"""CPU throughput: twplate end to end and model-only per backend and batch size, and the peers.

* ``test_end_to_end``: decoded BGR images in memory -> ``PlateRecognizer`` -> texts.
* ``test_end_to_end_plate_formats``: the same at batch 32 with ``plate_formats=True`` decoding.
* ``test_end_to_end_files``: batch 32 from JPEG files, decoded on the calling thread
  (``load_threads=1``) or on the recognizer's load threads (default): what parallel decoding buys.
* ``test_model_only``: the backend alone on the very batches the recognizer would make for the same
  images (same grouping, same shapes); end to end / model-only is the pipeline's efficiency.
* ``test_peer``: the same images through RapidOCR's recognizer and PaddleOCR's recognition pipeline
  on the same model files and dictionary (see ``benchdata.py`` for how each is configured), plus
  RapidOCR fed images already resized to twplate's widths (same tensor shapes as twplate).
* ``test_load_time``: constructing a ``PlateRecognizer``.

Each timed case runs ``N_IMAGES`` images per round; ``extra_info`` holds the images, the batch size
and the exact-match accuracy of the texts on those images (meaningless on synthetic plates).
"""

from __future__ import annotations

import benchdata
import pytest
from benchdata import BATCHES, MODEL, ROUNDS, THREADS

from twplate import PlateRecognizer
from twplate.backends import available_backends

pytestmark = pytest.mark.skipif(not benchdata.model_present(), reason=f"no model at {MODEL}")
BACKENDS = [b for b in ("onnxruntime", "paddle") if b in available_backends()]


def _timed(benchmark, fn, args=()):
    return benchmark.pedantic(fn, args=args, rounds=ROUNDS, iterations=1, warmup_rounds=1)


def _record(benchmark, images: int, batch: int, **info) -> None:
    benchmark.extra_info.update(images=images, batch=batch, device="cpu", threads=THREADS, **info)
    benchmark.extra_info["images_per_second"] = images / benchmark.stats.stats.median


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_end_to_end(benchmark, bench_images, backend: str, batch: int) -> None:
    images, labels = bench_images
    reader = PlateRecognizer(MODEL, backend=backend, batch_size=batch, threads=THREADS, plate_formats=False)
    texts = _timed(benchmark, benchdata.twplate_pipeline(reader), (images,))  # greedy, as the peers decode
    _record(benchmark, len(images), batch, pipeline="twplate", runtime=backend, measure="end-to-end",
            exact_match=benchdata.exact_match(texts, labels))


@pytest.mark.parametrize("backend", BACKENDS[:1])
def test_end_to_end_plate_formats(benchmark, bench_images, backend: str) -> None:
    """Batch 32 with format-aware decoding on (constrained Viterbi for readings that fit no plate format)."""
    images, labels = bench_images
    reader = PlateRecognizer(MODEL, backend=backend, batch_size=32, threads=THREADS, plate_formats=True)
    texts = _timed(benchmark, benchdata.twplate_pipeline(reader), (images,))
    _record(benchmark, len(images), 32, pipeline="twplate+plate_formats", runtime=backend, measure="end-to-end",
            exact_match=benchdata.exact_match(texts, labels))


@pytest.mark.parametrize("load_threads", [1, None], ids=["serial", "parallel"])
@pytest.mark.parametrize("backend", BACKENDS[:1])
def test_end_to_end_files(benchmark, bench_files, backend: str, load_threads: int | None) -> None:
    paths, labels = bench_files
    reader = PlateRecognizer(MODEL, backend=backend, batch_size=32, threads=THREADS, load_threads=load_threads)
    texts = _timed(benchmark, benchdata.twplate_pipeline(reader), (paths,))
    _record(benchmark, len(paths), 32, pipeline="twplate-files" + ("" if load_threads is None else "-serial"),
            runtime=backend, measure="end-to-end", exact_match=benchdata.exact_match(texts, labels))


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_model_only(benchmark, bench_images, backend: str, batch: int) -> None:
    images, _ = bench_images
    reader = PlateRecognizer(MODEL, backend=backend, batch_size=batch, threads=THREADS)
    batches = benchdata.model_batches(reader, images)
    run = reader.backend
    _timed(benchmark, lambda: [run(x) for x in batches])
    _record(benchmark, len(images), batch, pipeline="twplate", runtime=backend, measure="model-only",
            shapes=sorted({tuple(x.shape) for x in batches}))


PEERS = {
    "rapidocr": ("onnxruntime", benchdata.rapidocr_available,
                 lambda batch: benchdata.rapidocr_pipeline(MODEL, batch)),
    "rapidocr@twplate-widths": ("onnxruntime", benchdata.rapidocr_available,
                                lambda batch: benchdata.stretch_to_twplate_width(
                                    benchdata.rapidocr_pipeline(MODEL, batch), MODEL)),
    "paddleocr": ("paddle", benchdata.paddleocr_available,
                  lambda batch: benchdata.paddleocr_pipeline(MODEL, batch)),
    "paddleocr-onnx": ("onnxruntime", benchdata.paddleocr_available,
                       lambda batch: benchdata.paddleocr_pipeline(MODEL, batch, use_onnx=True)),
}


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("peer", list(PEERS))
def test_peer(benchmark, bench_images, peer: str, batch: int) -> None:
    runtime, available, make = PEERS[peer]
    if not available():
        pytest.skip(f"{peer} is not installed (pip install '.[bench]')")
    images, labels = bench_images
    texts = _timed(benchmark, make(batch), (images,))
    _record(benchmark, len(images), batch, pipeline=peer, runtime=runtime, measure="end-to-end",
            exact_match=benchdata.exact_match(texts, labels))


@pytest.mark.parametrize("backend", BACKENDS)
def test_load_time(benchmark, backend: str) -> None:
    benchmark.pedantic(PlateRecognizer, args=(MODEL,), kwargs={"backend": backend, "threads": THREADS},
                       rounds=3, iterations=1)
    benchmark.extra_info.update(pipeline="twplate", runtime=backend, measure="load", threads=THREADS)
