"""Issue 5, part 5: property tests (hypothesis) of preprocessing and CTC decoding.

Deterministic (``derandomize=True``, no example database) with modest example counts, so they run
in seconds and the same way in CI.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from twplate.decode import ctc_greedy_decode
from twplate.image import load_image
from twplate.preprocess import PreprocessConfig, make_batch, resize_normalize, width_groups

CHARACTERS = tuple("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-軍外使領試臨")
DEFAULT = PreprocessConfig()
FAST = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# ---------------------------------------------------------------- images accepted by load_image

ACCEPTED_DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_]


@st.composite
def accepted_arrays(draw: st.DrawFn, max_side: int = 48) -> np.ndarray:
    """Arrays load_image accepts: any size, 2-D or 1/3/4 channels, any of the documented dtypes."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = np.dtype(draw(st.sampled_from(ACCEPTED_DTYPES)))
    if dtype.kind == "f":
        top = draw(st.sampled_from([1.0, 255.0]))
        elements = st.floats(0.0, top, width=min(dtype.itemsize * 8, 64), allow_nan=False, allow_infinity=False)
    else:
        elements = None  # the dtype's whole range
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    layout = draw(st.sampled_from(["c", "fortran", "flipped"]))
    if layout == "fortran":
        array = np.asfortranarray(array)
    elif layout == "flipped":
        array = array[::-1, ::-1]
    return array


@FAST
@given(accepted_arrays())
def test_load_image_output_shape_dtype(array: np.ndarray) -> None:
    out = load_image(array)
    h, w = array.shape[:2]
    assert out.shape == (h, w, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    if array.ndim == 2 or array.shape[2] == 1:  # grey: three equal channels
        assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] in (3, 4):
        np.testing.assert_array_equal(out, array[..., :3])  # BGR(A) used as is


@FAST
@given(accepted_arrays())
def test_integer_arrays_kept_or_stretched(array: np.ndarray) -> None:
    """Integers in [0, 255] are used as is; others are stretched linearly, keeping the order of values."""
    assume(array.dtype.kind in "iu")
    out = load_image(array)
    src = array.reshape(*array.shape[:2], -1)
    colour = src[..., :3] if src.shape[2] >= 3 else np.broadcast_to(src, out.shape)
    if array.min() >= 0 and array.max() <= 255:
        np.testing.assert_array_equal(out, colour)
    else:
        order = np.argsort(colour.ravel().astype(np.float64), kind="stable")
        assert np.all(np.diff(out.ravel()[order].astype(int)) >= 0)
        if src.shape[2] != 4 and array.max() > array.min():  # the stretch spans min..max
            assert out.min() == 0 and out.max() == 255


# ---------------------------------------------------------------- resize and normalise


@FAST
@given(st.integers(1, 400), st.integers(1, 3000), st.integers(0, 255))
def test_resize_normalize_shape_dtype_range(h: int, w: int, value: int) -> None:
    image = np.full((h, w, 3), value, np.uint8)
    image[0, 0] = 255 - value  # not quite constant
    x = resize_normalize(image, DEFAULT)
    width = min(DEFAULT.max_width, max(DEFAULT.min_width, ceil_div(DEFAULT.height * w, h)))
    assert x.shape == (3, DEFAULT.height, width) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0


@FAST
@given(st.integers(1, 100), st.integers(1, 1000), st.integers(0, 255))
def test_constant_image_normalises_to_its_value(h: int, w: int, value: int) -> None:
    x = resize_normalize(np.full((h, w, 3), value, np.uint8), DEFAULT)
    np.testing.assert_allclose(x, (value / 255.0 - DEFAULT.mean) / DEFAULT.std, atol=1e-6)


@st.composite
def configs(draw: st.DrawFn) -> PreprocessConfig:
    height = draw(st.integers(8, 64))
    lo = draw(st.integers(1, 400))
    hi = draw(st.integers(lo, 800))
    mean = draw(st.floats(0.0, 1.0))
    std = draw(st.floats(0.05, 1.0))
    return PreprocessConfig(height=height, min_width=lo, max_width=hi, mean=mean, std=std)


@FAST
@given(configs(), st.integers(1, 10**6), st.integers(1, 10**6))
def test_width_rule(cfg: PreprocessConfig, h: int, w: int) -> None:
    """target width = clamp(ceil(height * w / h), min_width, max_width), computed exactly."""
    assert cfg.target_width(h, w) == min(cfg.max_width, max(cfg.min_width, ceil_div(cfg.height * w, h)))


@FAST
@given(configs(), st.integers(1, 120), st.integers(1, 600), st.data())
def test_resize_normalize_any_config(cfg: PreprocessConfig, h: int, w: int, data: st.DataObject) -> None:
    image = data.draw(hnp.arrays(np.uint8, (h, w, 3)))
    x = resize_normalize(image, cfg)
    assert x.shape == (3, cfg.height, cfg.target_width(h, w)) and x.dtype == np.float32
    lo, hi = (0.0 - cfg.mean) / cfg.std, (1.0 - cfg.mean) / cfg.std
    assert x.min() >= lo - 1e-5 and x.max() <= hi + 1e-5
    assert np.isfinite(x).all()


@FAST
@given(st.lists(st.integers(1, 40), min_size=1, max_size=6), st.integers(1, 8), st.data())
def test_make_batch_pads_with_zeros_and_keeps_content(widths: list[int], height: int, data: st.DataObject) -> None:
    tensors = [data.draw(hnp.arrays(np.float32, (3, height, w), elements=st.floats(-1, 1, width=32)))
               for w in widths]
    batch = make_batch(tensors)
    assert batch.shape == (len(tensors), 3, height, max(widths)) and batch.dtype == np.float32
    for row, t in zip(batch, tensors, strict=True):
        np.testing.assert_array_equal(row[:, :, : t.shape[2]], t)
        assert not row[:, :, t.shape[2] :].any()


@FAST
@given(st.lists(st.integers(1, 400), max_size=60), st.integers(1, 16))
def test_width_groups_partition(widths: list[int], batch_size: int) -> None:
    groups = width_groups(widths, batch_size)
    flat = [i for g in groups for i in g]
    assert sorted(flat) == list(range(len(widths)))  # every index once
    assert all(1 <= len(g) <= batch_size for g in groups)
    assert [widths[i] for i in flat] == sorted(widths)  # narrowest first
    assert all(len({widths[i] for i in g}) == 1 for g in groups)  # one width a batch: nothing padded
    # as few batches as that allows: full batches of each width, one partial at most
    assert len(groups) == sum(ceil_div(widths.count(w), batch_size) for w in set(widths))


# ---------------------------------------------------------------- CTC greedy decoding


def collapse(path: np.ndarray) -> list[int]:
    """Reference CTC collapse: merge repeats, then drop blanks (class 0)."""
    out, prev = [], None
    for k in path.tolist():
        if k != prev and k != 0:
            out.append(k)
        prev = k
    return out


@st.composite
def probabilities(draw: st.DrawFn) -> np.ndarray:
    n, t = draw(st.integers(1, 4)), draw(st.integers(0, 30))
    c = len(CHARACTERS) + 1
    # few distinct logit values, so repeats, blanks and ties all happen
    logits = draw(hnp.arrays(np.float32, (n, t, c), elements=st.sampled_from([-4.0, 0.0, 1.0, 3.0, 8.0])))
    e = np.exp(logits - logits.max(axis=2, keepdims=True)) if t else logits
    return (e / e.sum(axis=2, keepdims=True)).astype(np.float32) if t else logits


@FAST
@given(probabilities())
def test_decode_invariants(probs: np.ndarray) -> None:
    decoded = ctc_greedy_decode(probs, CHARACTERS)
    assert len(decoded) == probs.shape[0]
    for row, d in zip(probs, decoded, strict=True):
        assert 0.0 <= d.confidence <= 1.0
        assert len(d.char_confidences) == len(d.text)
        assert all(0.0 <= p <= 1.0 for p in d.char_confidences)
        assert d.confidence == (pytest.approx(float(np.mean(d.char_confidences))) if d.text else 0.0)
        if row.shape[0] == 0:
            assert d.text == ""
            continue
        path = row.argmax(axis=1)
        kept = collapse(path)
        assert d.text == "".join(CHARACTERS[k - 1] for k in kept)  # no blank ever reaches the text
        # two equal neighbours in the text come from two runs with a blank between them in the path
        steps = [s for s in range(len(path)) if path[s] != 0 and (s == 0 or path[s] != path[s - 1])]
        for a, b in zip(steps, steps[1:], strict=False):
            if path[a] == path[b]:
                assert 0 in path[a + 1 : b].tolist()
        np.testing.assert_allclose(d.char_confidences, [row[s, path[s]] for s in steps], rtol=1e-6)


@FAST
@given(probabilities())
def test_decode_rows_independent(probs: np.ndarray) -> None:
    together = ctc_greedy_decode(probs, CHARACTERS)
    alone = [ctc_greedy_decode(probs[i : i + 1], CHARACTERS)[0] for i in range(probs.shape[0])]
    assert together == alone


@st.composite
def paths_for_text(draw: st.DrawFn) -> tuple[str, np.ndarray, list[float]]:
    """A text, a CTC path that spells it (repeats, optional blanks, a blank between equal letters),
    and probabilities with that path as the argmax; returns the expected char confidences too."""
    text = draw(st.text(alphabet=st.sampled_from(CHARACTERS), max_size=10))
    c = len(CHARACTERS) + 1
    steps: list[tuple[int, float]] = [(0, draw(st.floats(0.5, 1.0)))] * draw(st.integers(0, 3))
    firsts = []
    for i, ch in enumerate(text):
        k = CHARACTERS.index(ch) + 1
        need_blank = i > 0 and text[i - 1] == ch
        for _ in range(draw(st.integers(1 if need_blank else 0, 2))):
            steps.append((0, draw(st.floats(0.5, 1.0))))
        first = draw(st.floats(0.5, 1.0))
        firsts.append(first)
        steps.append((k, first))
        for _ in range(draw(st.integers(0, 3))):
            steps.append((k, draw(st.floats(0.5, 1.0))))
    steps += [(0, draw(st.floats(0.5, 1.0)))] * draw(st.integers(0, 3))
    probs = np.zeros((1, len(steps), c), np.float32)
    for s, (k, p) in enumerate(steps):
        probs[0, s, :] = (1.0 - p) / (c - 1)
        probs[0, s, k] = p
    return text, probs, [float(np.float32(p)) for p in firsts]


@FAST
@given(paths_for_text())
def test_decoding_a_constructed_path_gives_its_text(case: tuple[str, np.ndarray, list[float]]) -> None:
    text, probs, firsts = case
    (d,) = ctc_greedy_decode(probs, CHARACTERS)
    assert d.text == text
    assert d.char_confidences == pytest.approx(firsts, rel=1e-6)


def test_decode_edge_shapes() -> None:
    empty = np.zeros((2, 0, len(CHARACTERS) + 1), np.float32)
    assert [d.text for d in ctc_greedy_decode(empty, CHARACTERS)] == ["", ""]
    with pytest.raises(ValueError):
        ctc_greedy_decode(np.zeros((1, 5, 3), np.float32), CHARACTERS)
    with pytest.raises(ValueError):
        ctc_greedy_decode(np.zeros((5, 44), np.float32), CHARACTERS)
    assert math.isclose(ctc_greedy_decode(np.eye(44, dtype=np.float32)[None, 1:2], CHARACTERS)[0].confidence, 1.0)
