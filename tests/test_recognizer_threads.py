"""One PlateRecognizer shared by 8 threads gives exactly the sequential results.

10,000 calls from 8 threads on the shipped model (onnxruntime, whose ``session.run`` runs calls in
parallel) and on the tiny model; 2,000 on the shipped model with OpenVINO (an infer request per
thread); 800 on the shipped model with Paddle (calls serialised by the backend's lock). The calls
mix single images, lists of three and bad inputs; every result, confidences and errors included,
must equal the one the same call gave sequentially.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

import tiny_models
from twplate import ImageError, PlateRecognizer
from twplate.model_files import YAML_FILE, default_model_dir

THREADS = 8
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def sample_files() -> list[Path]:
    """The sample plates, in labels.tsv order."""
    lines = (SAMPLES / "labels.tsv").read_text(encoding="utf-8").splitlines()
    return [SAMPLES / line.split("\t")[0] for line in lines if line.strip()]
needs_shipped = pytest.mark.skipif(not (default_model_dir() / YAML_FILE).is_file(), reason="no shipped model")


def _calls(images: list[object], n: int, seed: int = 0) -> list[tuple[str, object]]:
    """``n`` calls: 80 % a single image, 10 % a list of three, 10 % a bad input (alone or in a list)."""
    rng = np.random.default_rng(seed)
    bad = [b"not an image", np.zeros((0, 5, 3), np.uint8), np.full((4, 4), np.nan, np.float32)]
    calls = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.8:
            calls.append(("one", int(rng.integers(len(images)))))
        elif roll < 0.9:
            calls.append(("list", tuple(int(i) for i in rng.integers(len(images), size=3))))
        else:
            calls.append(("bad", int(rng.integers(len(bad)))))
    return [(kind, arg, images, bad) for kind, arg in calls]  # type: ignore[misc]


def _do(reader: PlateRecognizer, call) -> object:
    kind, arg, images, bad = call
    if kind == "one":
        return reader(images[arg])
    if kind == "list":
        return tuple(reader([images[i] for i in arg]))
    try:  # alone it raises; compare the message (the exception objects differ)
        reader(bad[arg])
    except ImageError as exc:
        alone = str(exc)
    in_list = reader([images[0], bad[arg]])
    return alone, in_list[0], str(in_list[1].error), in_list[1].text


def _shared_equals_sequential(reader: PlateRecognizer, images: list[object], n: int) -> None:
    calls = _calls(images, n)
    key = lambda call: (call[0], call[1])  # noqa: E731
    expected = {}
    for call in calls:  # sequential reference, one per distinct call
        if key(call) not in expected:
            expected[key(call)] = _do(reader, call)
    start = threading.Barrier(THREADS)

    def work(k: int) -> list[int]:
        start.wait()
        return [i for i in range(k, n, THREADS) if _do(reader, calls[i]) != expected[key(calls[i])]]

    with ThreadPoolExecutor(THREADS) as pool:
        mismatches = [i for part in pool.map(work, range(THREADS)) for i in part]
    assert mismatches == [], f"{len(mismatches)} of {n} calls differ from the sequential result"


def _plates() -> list[np.ndarray]:
    """The sample plates, and grey, narrow and wide forms of them: images of several widths."""
    plates = [cv2.imread(str(p)) for p in sample_files()][:6]
    assert len(plates) >= 3
    grey = [cv2.cvtColor(p, cv2.COLOR_BGR2GRAY) for p in plates]
    narrow = [cv2.resize(p, (p.shape[1] // 2, p.shape[0])) for p in plates]
    wide = [cv2.resize(p, (p.shape[1] * 2, p.shape[0])) for p in plates]
    return plates + grey + narrow[:3] + wide[:3]


def test_tiny_model_8_threads_10000_calls(tiny_model_dir: Path) -> None:
    texts = ["ABC-1234", "外0872", "使22", "RAB-5678", "12-AB"]
    images = [tiny_models.stripe_image(t, width=160 + 40 * i) for i, t in enumerate(texts)]
    reader = PlateRecognizer(tiny_model_dir, batch_size=2)
    assert [r.text for r in reader(images)] == texts
    _shared_equals_sequential(reader, images, 10_000)


@needs_shipped
@pytest.mark.slow
@pytest.mark.parametrize(("backend", "calls"), [
    ("onnxruntime", 10_000),
    ("openvino", 2_000),  # an infer request per calling thread on one compiled model
    pytest.param("paddle", 800, marks=pytest.mark.paddle),  # calls queued to the predictor's own thread
])
def test_shipped_model_8_threads(backend: str, calls: int) -> None:
    pytest.importorskip(backend)  # each backend's runtime package has the backend's name
    reader = PlateRecognizer(backend=backend)
    images = _plates()
    assert all(r.text for r in reader(images))
    _shared_equals_sequential(reader, images, calls)


@needs_shipped
@pytest.mark.slow
@pytest.mark.paddle
def test_paddle_reads_right_under_thread_churn() -> None:
    """Eight fresh threads per round share one Paddle recognizer: every reading equals the sequential one.
    (Its memory under the same churn is a benchmark: ``benchmarks/bench_memory.py``.)"""
    pytest.importorskip("paddle")
    reader = PlateRecognizer(backend="paddle")
    images = _plates()[:6]
    expected = [reader(im) for im in images]
    for _ in range(6):
        with ThreadPoolExecutor(THREADS) as pool:  # a new pool: new threads each round
            got = list(pool.map(lambda k: [reader(images[i % 6]) for i in range(k, 48, THREADS)], range(THREADS)))
        assert got == [[expected[i % 6] for i in range(k, 48, THREADS)] for k in range(THREADS)]


@pytest.mark.paddle
def test_paddle_worker_thread_goes_with_its_backend(tiny_paddle_model_dir: Path) -> None:
    import gc

    def workers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("twplate-paddle")}

    before = workers()  # other tests' backends may still be winding down: follow only this one's
    reader = PlateRecognizer(tiny_paddle_model_dir, backend="paddle", threads=1)
    assert reader(tiny_models.stripe_image("ABC-1234")).text == "ABC-1234"
    [mine] = workers() - before
    del reader
    gc.collect()
    mine.join(timeout=5)
    assert not mine.is_alive()
