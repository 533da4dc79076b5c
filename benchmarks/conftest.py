"""Benchmarks: ``python -m pytest benchmarks --benchmark-only --benchmark-json=bench.json``.

Files named ``bench_*.py`` are collected here (the test suite's ``testpaths`` does not include
``benchmarks/``). Settings: see ``benchdata.py``. ``python scripts/bench_table.py bench.json`` turns
the JSON into the README's table.
"""

from __future__ import annotations

import benchdata
import numpy as np
import pytest


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_report_header(config) -> list[str]:
    return [f"twplate bench: model {benchdata.MODEL}, {benchdata.N_IMAGES} images x {benchdata.ROUNDS} rounds, "
            f"{benchdata.THREADS} threads, batches {benchdata.BATCHES}"]


@pytest.fixture(scope="session")
def val() -> tuple[list[np.ndarray], list[str], str]:
    """``(images, labels, source)``: the whole validation set (or the synthetic stand-in), decoded."""
    return benchdata.load_val()


@pytest.fixture(scope="session")
def bench_images(val) -> tuple[list[np.ndarray], list[str]]:
    """``N_IMAGES`` decoded images and their labels, cycled from ``val``."""
    images, labels, _ = val
    return benchdata.cycle(images, benchdata.N_IMAGES), benchdata.cycle(labels, benchdata.N_IMAGES)


@pytest.fixture(scope="session")
def bench_files(bench_images, tmp_path_factory) -> tuple[list[str], list[str]]:
    """The same ``N_IMAGES`` written as JPEG files (quality 95), for pipelines that start from files."""
    import cv2

    images, labels = bench_images
    folder = tmp_path_factory.mktemp("bench-files")
    paths = []
    for i, image in enumerate(images):
        paths.append(str(folder / f"{i:05d}.jpg"))
        cv2.imwrite(paths[-1], image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return paths, labels
