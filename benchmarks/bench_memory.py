"""Memory benchmark in the suite: ``memory.py``'s measurement for each backend, figures in ``extra_info``.

``TWPLATE_BENCH_MEMORY_IMAGES`` images per backend (default 2,000 here to keep the suite short;
``python benchmarks/memory.py`` runs the full 10,000). RSS inside pytest also counts whatever the
other cases left loaded, so read growth per 1,000 images here, absolute figures from the script.
"""

from __future__ import annotations

import contextlib
import os

import benchdata
import memory
import numpy as np
import pytest
from benchdata import MODEL, THREADS

from twplate import ImageError, PlateRecognizer
from twplate.backends import available_backends

IMAGES = int(os.environ.get("TWPLATE_BENCH_MEMORY_IMAGES", 2000))
pytestmark = pytest.mark.skipif(not benchdata.model_present(), reason=f"no model at {MODEL}")


@pytest.mark.parametrize("backend", [b for b in ("onnxruntime", "paddle") if b in available_backends()])
def test_memory(benchmark, val, backend: str) -> None:
    images, _, _ = val
    reader = PlateRecognizer(MODEL, backend=backend, batch_size=32, threads=THREADS)
    result = benchmark.pedantic(memory.measure, args=(reader, images, IMAGES, 256), rounds=1, iterations=1)
    assert result["failures"] == 0
    benchmark.extra_info.update({k: v for k, v in result.items() if k != "samples"},
                                pipeline="twplate", runtime=backend, measure="memory")
    assert result["growth_mb_per_1000"] < 5.0, f"memory grows: {result['samples']}"


def test_memory_flat_over_calls_with_bad_inputs(benchmark, val) -> None:
    """12,000 calls (single images, lists of three, bad inputs that raise or fail in a list): RSS every 3,000
    calls stays within a few MB of the first mark (a leak on an error path would grow it)."""
    import gc

    from soak import rss_mb

    reader = PlateRecognizer(MODEL, backend="onnxruntime", batch_size=4, threads=THREADS)
    images = val[0][:3]
    bad = [b"not an image", np.zeros((0, 5, 3), np.uint8), np.full((4, 4), np.nan, np.float32)]
    rng = np.random.default_rng(1)

    def calls() -> list[float]:
        marks = []
        for i in range(12_000):
            roll = rng.random()
            if roll < 0.8:
                reader(images[i % 3])
            elif roll < 0.9:
                reader(images)
            else:
                reader([images[0], bad[i % 3]])
                with contextlib.suppress(ImageError):
                    reader(bad[i % 3])
            if i % 3_000 == 2_999:
                gc.collect()
                marks.append(rss_mb())
        return marks

    marks = benchmark.pedantic(calls, rounds=1, iterations=1)
    benchmark.extra_info.update(rss_every_3000_calls_mb=marks, pipeline="twplate", measure="memory-errors")
    assert max(marks[1:]) - marks[0] < 6.0, f"RSS every 3,000 calls: {marks}"


@pytest.mark.skipif("paddle" not in available_backends(), reason="paddle not installed")
def test_paddle_memory_flat_under_thread_churn(benchmark, val) -> None:
    """Eight fresh threads per round share one Paddle recognizer: RSS stays flat (calling the predictor from
    every thread instead of the backend's one worker grew it by about 180 MB over these rounds)."""
    from concurrent.futures import ThreadPoolExecutor

    from soak import rss_mb

    reader = PlateRecognizer(MODEL, backend="paddle")
    images = val[0][:6]
    reader(images)

    def rounds() -> list[float]:
        marks = [rss_mb()]
        for _ in range(6):
            with ThreadPoolExecutor(8) as pool:  # a new pool: new threads each round
                list(pool.map(lambda k: [reader(images[i % 6]) for i in range(k, 48, 8)], range(8)))
            marks.append(rss_mb())
        return marks

    marks = benchmark.pedantic(rounds, rounds=1, iterations=1)
    benchmark.extra_info.update(rss_per_round_mb=marks, pipeline="twplate", runtime="paddle",
                                measure="memory-thread-churn")
    assert max(marks) - marks[0] < 30, f"RSS before and after each round (MB): {marks}"
