"""Fuzzing image loading with random and mutated bytes, files, PIL images and arrays.

Every outcome must be a valid image (``(H, W, 3)`` uint8, non-empty, within the decode limit) or an
:class:`ImageError`; never another exception type, never a crash, never a batch that stops.
Deterministic (``derandomize=True``, no example database), a few hundred examples each.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tiny_models
from twplate import ImageError, PlateRecognizer
from twplate.image import MAX_DECODE_PIXELS, load_image

Image = pytest.importorskip("PIL.Image")

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=300,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def _seeds() -> dict[str, bytes]:
    """Small valid files of every format the loader meets, colour and grey, to mutate."""
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 255, (20, 52, 3), dtype=np.uint8)
    seeds = {}
    for fmt in ("JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF"):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, fmt)
        seeds[fmt] = buf.getvalue()
    for name, image in (("PNG-L", Image.fromarray(rgb[..., 0])), ("PNG-P", Image.fromarray(rgb).convert("P")),
                        ("PNG-16", Image.fromarray(rgb[..., 0].astype(np.uint16) * 250)),
                        ("PNG-RGBA", Image.fromarray(rgb).convert("RGBA")),
                        ("JPEG-progressive", Image.fromarray(rgb))):
        buf = io.BytesIO()
        if name == "JPEG-progressive":
            image.save(buf, "JPEG", progressive=True)
        else:
            image.save(buf, "PNG")
        seeds[name] = buf.getvalue()
    return seeds


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed file with random byte flips, runs of 0x00/0xFF, insertions, deletions and a cut."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "run", "insert", "delete"]))
        pos = draw(st.integers(0, len(data) - 1)) if data else 0
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.integers(0, 255))
        elif op == "run":
            data[pos : pos + draw(st.integers(1, 64))] = bytes([draw(st.sampled_from([0, 255]))]) * 64
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        else:
            del data[pos : pos + draw(st.integers(1, 32))]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def _valid(out: np.ndarray) -> None:
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8
    assert out.ndim == 3 and out.shape[2] == 3 and out.shape[0] > 0 and out.shape[1] > 0
    assert out.shape[0] * out.shape[1] <= MAX_DECODE_PIXELS
    assert out.flags.c_contiguous


def _load_or_image_error(source: object) -> bool:
    try:
        _valid(load_image(source))
        return True
    except ImageError:
        return False


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _load_or_image_error(data)
    _load_or_image_error(bytearray(data))


@FUZZ
@given(st.sampled_from(sorted(SEEDS)).map(lambda k: SEEDS[k][:8]) | st.just(b"\xff\xd8\xff\xe0"),
       st.binary(max_size=512))
def test_valid_magic_then_garbage(magic: bytes, rest: bytes) -> None:
    _load_or_image_error(magic + rest)


@FUZZ
@given(mutated())
def test_mutated_bytes(data: bytes) -> None:
    _load_or_image_error(data)


@settings(FUZZ, max_examples=100)
@given(mutated())
def test_mutated_files(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.img"
    path.write_bytes(data)
    _load_or_image_error(path)


@settings(FUZZ, max_examples=200)
@given(mutated())
def test_mutated_files_opened_by_pil(data: bytes) -> None:
    """A PIL image opened lazily on a mutated file: decoding happens inside load_image."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            image = Image.open(io.BytesIO(data))
        except Exception:  # the caller's own Image.open refused it: nothing reached twplate
            return
        _load_or_image_error(image)


@st.composite
def any_arrays(draw: st.DrawFn) -> np.ndarray:
    """Arrays of any rank 0..5, sizes 0..6 per axis, many dtypes, any values (NaN and inf included)."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6))
    dtype = draw(st.sampled_from(["u1", "u2", "i2", "i8", "u8", "f2", "f4", "f8", "?", "c8", ">u2", "<f4", "U1"]))
    return draw(hnp.arrays(np.dtype(dtype), shape))


@FUZZ
@given(any_arrays())
def test_arbitrary_arrays(array: np.ndarray) -> None:
    _load_or_image_error(array)


@pytest.fixture(scope="module")
def reader(tiny_model_dir: Path) -> PlateRecognizer:
    return PlateRecognizer(tiny_model_dir, batch_size=2)


@settings(FUZZ, max_examples=60)
@given(st.one_of(mutated(), any_arrays()))
def test_fuzzed_item_never_stops_a_batch(reader: PlateRecognizer, item: object) -> None:
    good = tiny_models.stripe_image("ABC-1234")
    results = reader([good, item, good])
    assert [results[0].text, results[2].text] == ["ABC-1234", "ABC-1234"]
    assert results[1].ok or (isinstance(results[1].error, ImageError) and results[1].text == "")
