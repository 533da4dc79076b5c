"""Throughput and load time of the shipped model, per installed backend (pytest-benchmark).

Run: python -m pytest benchmarks --benchmark-only   (outside the default test paths)
Images are the real validation plates when ../shared/data is there (or $TWPLATE_DATA), else samples/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twplate import PlateRecognizer
from twplate.backends import available_backends
from twplate.model_files import default_model_dir

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not (default_model_dir() / "inference.yml").is_file(),
                                reason="shipped model not exported yet")


def _images(n: int = 64) -> list[bytes]:
    data = Path(os.environ.get("TWPLATE_DATA", REPO.parent / "shared" / "data")) / "real"
    if (data / "val.tsv").is_file():
        paths = [data / line.split("\t")[0] for line in (data / "val.tsv").read_text(encoding="utf-8").splitlines()]
    else:
        paths = sorted((REPO / "samples").glob("*.png"))
    return [p.read_bytes() for p in (paths * n)[:n]]


@pytest.mark.parametrize("backend", available_backends())
def test_load_time(benchmark, backend: str) -> None:
    benchmark.pedantic(PlateRecognizer, kwargs={"backend": backend}, rounds=3, iterations=1)


@pytest.mark.parametrize("batch_size", [1, 32])
@pytest.mark.parametrize("backend", available_backends())
def test_throughput(benchmark, backend: str, batch_size: int) -> None:
    """Time to read 64 encoded plates (decode + preprocess + model + CTC); images/s = 64 / mean."""
    reader = PlateRecognizer(backend=backend, batch_size=batch_size)
    images = _images(64)
    reader(images[:batch_size])  # warm-up
    results = benchmark.pedantic(reader, args=(images,), rounds=3, iterations=1)
    assert all(r.ok for r in results)
    benchmark.extra_info["images_per_second"] = 64 / benchmark.stats.stats.mean
