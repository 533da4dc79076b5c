"""The pipeline end to end on the tiny model: order, batching, errors in batches, threads, recognize()."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

import tiny_models
import twplate.recognizer as recognizer_module
from twplate import ImageError, PlateRecognizer, PlateResult, recognize
from twplate.preprocess import make_batch, resize_to_input

TEXTS = ["ABC-1234", "外0872", "AA", "", "使22", "9999-AA", "臨A", "Z"]


@pytest.fixture(scope="module")
def reader(tiny_model_dir: Path) -> PlateRecognizer:
    return PlateRecognizer(tiny_model_dir, batch_size=3)


def test_single_image_returns_a_result(reader: PlateRecognizer) -> None:
    result = reader(tiny_models.stripe_image("ABC-1234"))
    assert isinstance(result, PlateResult)
    assert result.text == "ABC-1234" and result.error is None and result.ok
    assert result.confidence == pytest.approx(1.0, abs=1e-3)
    assert len(result.char_confidences) == 8


def test_list_keeps_order_across_width_groups(reader: PlateRecognizer) -> None:
    # Different widths put the images in different batches; results must come back in input order.
    images = [tiny_models.stripe_image(t, width=160 + 8 * (i % 4) * 5) for i, t in enumerate(TEXTS)]
    assert [r.text for r in reader(images)] == TEXTS
    assert [r.text for r in reader(tuple(images))] == TEXTS


def test_batch_size_does_not_change_results(tiny_model_dir: Path, reader: PlateRecognizer) -> None:
    images = [tiny_models.stripe_image(t) for t in TEXTS] * 5
    one = PlateRecognizer(tiny_model_dir, batch_size=1)(images)
    assert one == reader(images)


def test_long_list_is_processed_in_chunks(reader: PlateRecognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recognizer_module, "CHUNK_BATCHES", 1)  # chunks of 3 images
    images = [tiny_models.stripe_image(t) for t in TEXTS]
    assert [r.text for r in reader(images)] == TEXTS


def test_decode_reads_the_backends_probabilities_as_run_does(formats_model: Path) -> None:
    """``decode`` turns a batch's probabilities into the readings ``run`` gives: plate formats as the model
    declares them (the tiny model's "AA" is fitted, with its format edits) and calibrated confidences."""
    reader = PlateRecognizer(formats_model)
    images = [tiny_models.stripe_image(t) for t in ("ABC-1234", "AA", "使22")]
    crops = [resize_to_input(image, reader.spec.preprocess) for image in images]
    decoded = []
    for crop in crops:  # one image a batch: each at its own width, as run reads it
        decoded += reader.decode(reader.backend(make_batch([crop], reader.spec.preprocess)))
    assert decoded == reader(images)
    assert decoded[1].format_edits > 0


def test_empty_list(reader: PlateRecognizer) -> None:
    assert reader([]) == []


def test_paths_and_bytes_carry_source(reader: PlateRecognizer, tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    cv2.imwrite(str(path), tiny_models.stripe_image("RAB-5678"))
    by_path, by_str, by_bytes = reader([path, str(path), path.read_bytes()])
    assert by_path.text == by_str.text == by_bytes.text == "RAB-5678"
    assert by_path.source == str(path) and by_bytes.source is None


def test_bad_items_in_a_batch_carry_their_error(reader: PlateRecognizer, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    good = tiny_models.stripe_image("ABC-1234")
    batch = [good, tmp_path / "missing.jpg", good, b"junk", empty, np.zeros((2, 2, 2, 2, 3), np.uint8),
             np.full((48, 160), np.nan, np.float32), tmp_path, good]
    results = reader(batch)
    assert len(results) == len(batch)
    assert [r.text for r in results] == ["ABC-1234", "", "ABC-1234", "", "", "", "", "", "ABC-1234"]
    bad = [r for i, r in enumerate(results) if i not in (0, 2, 8)]
    assert all(isinstance(r.error, ImageError) and not r.ok for r in bad)
    assert all(r.confidence == 0.0 and r.char_confidences == () for r in bad)
    assert "missing.jpg" in str(results[1].error) and results[1].source.endswith("missing.jpg")
    assert "NaN" in str(results[6].error)


def test_lists_load_on_threads_with_the_same_results_and_errors(tiny_model_dir: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    good = [tiny_models.stripe_image(t) for t in TEXTS]
    files = []
    for i, img in enumerate(good):
        files.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(files[-1]), img)
    batch = (files + [tmp_path / "missing.jpg", b"junk"] + good) * 2          # 36 images: loaded in parallel
    loaders: set[str] = set()
    load_image = recognizer_module.load_image

    def recording_load(image):
        loaders.add(threading.current_thread().name)
        return load_image(image)

    monkeypatch.setattr(recognizer_module, "load_image", recording_load)
    serial = PlateRecognizer(tiny_model_dir, batch_size=4, load_threads=1)(batch)
    assert loaders == {threading.current_thread().name}
    loaders.clear()
    parallel = PlateRecognizer(tiny_model_dir, batch_size=4, load_threads=3)(batch)
    assert loaders and all(name.startswith("twplate-load") for name in loaders)
    assert [(r.text, r.confidence, str(r.error), r.source) for r in parallel] == \
        [(r.text, r.confidence, str(r.error), r.source) for r in serial]
    assert [r.text for r in parallel[:8]] == TEXTS and "missing.jpg" in str(parallel[8].error)
    loaders.clear()
    PlateRecognizer(tiny_model_dir, load_threads=3)(batch[: recognizer_module.PARALLEL_MIN_IMAGES - 1])
    assert loaders == {threading.current_thread().name}                      # short lists stay on the caller
    loaders.clear()
    PlateRecognizer(tiny_model_dir, load_threads=3)(good * 4)
    assert loaders == {threading.current_thread().name}                      # arrays: nothing to decode
    with pytest.raises(ValueError, match="load_threads"):
        PlateRecognizer(tiny_model_dir, load_threads=0)


def test_single_bad_image_raises(reader: PlateRecognizer, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="nope.png"):
        reader(tmp_path / "nope.png")


def test_grayscale_and_pil_inputs_read_the_same(reader: PlateRecognizer) -> None:
    from PIL import Image

    bgr = tiny_models.stripe_image("AB-12")
    grey = bgr[:, :, 0]
    pil = Image.fromarray(bgr[:, :, ::-1].copy())
    assert [r.text for r in reader([grey, pil, bgr.astype(np.float32) / 255])] == ["AB-12"] * 3


def test_invalid_batch_size(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        PlateRecognizer(tiny_model_dir, batch_size=0)


def test_repr_is_readable(reader: PlateRecognizer) -> None:
    assert "backend='onnxruntime'" in repr(reader) and "CPUExecutionProvider" in repr(reader)
    result = reader(tiny_models.stripe_image("AB"))
    assert repr(result).startswith("PlateResult(text='AB', confidence=1.0000, chars=[A:1.00, B:1.00]")


def test_shared_between_threads_equals_sequential(reader: PlateRecognizer) -> None:
    """8 threads x many calls on one recognizer give exactly the sequential results."""
    rng = np.random.default_rng(0)
    alphabet = list(tiny_models.CHARACTERS)
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 9))) for _ in range(64)]
    images = [tiny_models.stripe_image(t, width=int(rng.integers(20, 41)) * 8) for t in texts]
    expected = reader(images)
    assert [r.text for r in expected] == texts
    calls = [(i % len(images), i % 3 == 0) for i in range(800)]  # singles and small lists
    start = threading.Barrier(8)

    def work(chunk: list[tuple[int, bool]]) -> list[PlateResult]:
        start.wait()
        out = []
        for i, as_list in chunk:
            out.extend(reader([images[i], images[-1 - i]]) if as_list else [reader(images[i])])
        return out

    chunks = [calls[k::8] for k in range(8)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(work, chunks))
    for chunk, out in zip(chunks, got, strict=True):
        want = []
        for i, as_list in chunk:
            want.extend([expected[i], expected[-1 - i]] if as_list else [expected[i]])
        assert out == want


def test_recognize_caches_one_recognizer(tiny_model_dir: Path) -> None:
    first = recognize(tiny_models.stripe_image("ABC"), model=tiny_model_dir)
    assert first.text == "ABC"
    key = (str(tiny_model_dir), "auto", 32)
    cached = recognizer_module._default_recognizers[key]
    assert [r.text for r in recognize([tiny_models.stripe_image("X")], model=str(tiny_model_dir))] == ["X"]
    assert recognizer_module._default_recognizers[key] is cached
    assert recognizer_module.get_recognizer(tiny_model_dir) is cached


def test_input_width_reads_every_image_at_that_width_alone_or_in_any_batch(tiny_model_dir: Path) -> None:
    reader = PlateRecognizer(tiny_model_dir, batch_size=3, input_width=240)
    backend, widths = reader.backend, []

    def spy(x: np.ndarray) -> np.ndarray:
        widths.append(x.shape[3])
        return backend(x)

    reader.backend = type("Spy", (), {"name": "spy", "providers": [], "width_buckets": None,
                                      "__call__": staticmethod(spy)})()
    # even images are 240 px wide already (read as drawn); odd ones 160 px, stretched (the tiny
    # model reads stripes at fixed positions, so those read as something else)
    images = [tiny_models.stripe_image(t, width=240 if i % 2 == 0 else 160) for i, t in enumerate(TEXTS)]
    together = reader(images)
    assert set(widths) == {240}                        # none padded, none left narrower
    alone = [reader(image) for image in images]
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.text for r in together][::2] == TEXTS[::2]
    assert [r.confidence for r in together] == pytest.approx([r.confidence for r in alone], abs=1e-6)
    for width in (0, 4, 100_000):  # no CTC step for a plate / only memory: refused by name
        with pytest.raises(ValueError, match=f"input_width must be between 16 and 2048 pixels, not {width}"):
            PlateRecognizer(tiny_model_dir, input_width=width)


def test_repr_of_a_boxed_result_without_a_detection_score() -> None:
    """A result given a box by hand (no detector score) still prints."""
    result = PlateResult("ABC-1234", 0.9, (0.9,) * 8, box=((0.0, 0.0), (10.0, 0.0), (10.0, 4.0), (0.0, 4.0)))
    assert repr(result).endswith("box=[(0, 0), (10, 0), (10, 4), (0, 4)])")
