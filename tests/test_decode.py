"""CTC greedy decoding on hand-built probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from twplate.decode import ctc_greedy_decode

CHARS = ("A", "B", "1")  # classes: 0 blank, 1 A, 2 B, 3 1


def probs_for(*rows: list[int], p: float = 0.9) -> np.ndarray:
    """One-hot-ish probabilities: the given class gets ``p``, the rest share ``1 - p``."""
    n, t, c = len(rows), max(len(r) for r in rows), len(CHARS) + 1
    out = np.full((n, t, c), (1 - p) / (c - 1), np.float32)
    for i, row in enumerate(rows):
        for j, k in enumerate(row):
            out[i, j, k] = p
    return out


def test_plain_sequence() -> None:
    (d,) = ctc_greedy_decode(probs_for([1, 0, 2, 0, 3]), CHARS)
    assert d.text == "AB1"
    assert d.char_confidences == pytest.approx((0.9, 0.9, 0.9))
    assert d.confidence == pytest.approx(0.9)


def test_repeats_collapse() -> None:
    assert ctc_greedy_decode(probs_for([1, 1, 1, 2, 2]), CHARS)[0].text == "AB"


def test_blank_between_repeats_keeps_both() -> None:
    assert ctc_greedy_decode(probs_for([1, 1, 0, 1]), CHARS)[0].text == "AA"


def test_all_blank_is_empty_with_zero_confidence() -> None:
    (d,) = ctc_greedy_decode(probs_for([0, 0, 0]), CHARS)
    assert (d.text, d.confidence, d.char_confidences) == ("", 0.0, ())


def test_empty_time_axis() -> None:
    out = ctc_greedy_decode(np.zeros((2, 0, 4), np.float32), CHARS)
    assert [(d.text, d.confidence) for d in out] == [("", 0.0), ("", 0.0)]


def test_empty_batch() -> None:
    assert ctc_greedy_decode(np.zeros((0, 5, 4), np.float32), CHARS) == []


def test_confidence_is_mean_of_kept_maxima() -> None:
    probs = probs_for([1, 1, 2])
    probs[0, 0, 1], probs[0, 1, 1], probs[0, 2, 2] = 0.5, 0.7, 0.9  # repeat keeps its first step
    (d,) = ctc_greedy_decode(probs, CHARS)
    assert d.char_confidences == pytest.approx((0.5, 0.9))
    assert d.confidence == pytest.approx(0.7)


def test_batch_rows_are_independent() -> None:
    out = ctc_greedy_decode(probs_for([1, 0, 0], [3, 3, 2]), CHARS)
    assert [d.text for d in out] == ["A", "1B"]


def test_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="classes"):
        ctc_greedy_decode(np.zeros((1, 3, 9), np.float32), CHARS)
    with pytest.raises(ValueError, match=r"\(N, T, C\)"):
        ctc_greedy_decode(np.zeros((3, 4), np.float32), CHARS)


def _reference(ids: np.ndarray) -> str:
    """Plain-Python CTC collapse."""
    out, prev = [], 0
    for k in ids:
        if k != 0 and k != prev:
            out.append(CHARS[k - 1])
        prev = k
    return "".join(out)


@given(arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 30), st.just(4)),
              elements=st.floats(0, 1, width=32)))
def test_matches_reference_and_bounds(probs: np.ndarray) -> None:
    for d, row in zip(ctc_greedy_decode(probs, CHARS), probs, strict=True):
        assert d.text == _reference(row.argmax(axis=1))
        assert len(d.char_confidences) == len(d.text)
        assert all(0.0 <= p <= 1.0 for p in d.char_confidences)
        assert len(d.text) <= (row.shape[0] + 1) // 1
        assert 0.0 <= d.confidence <= 1.0
