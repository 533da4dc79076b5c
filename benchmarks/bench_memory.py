"""Memory benchmark in the suite: ``memory.py``'s measurement for each backend, figures in ``extra_info``.

``TWPLATE_BENCH_MEMORY_IMAGES`` images per backend (default 2,000 here to keep the suite short;
``python benchmarks/memory.py`` runs the full 10,000). RSS inside pytest also counts whatever the
other cases left loaded, so read growth per 1,000 images here, absolute figures from the script.
"""

from __future__ import annotations

import os

import benchdata
import memory
import pytest
from benchdata import MODEL, THREADS

from twplate import PlateRecognizer
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
