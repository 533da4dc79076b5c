"""Greedy CTC decoding (``twplate.decode.ctc``): hand-built probabilities, then properties over random ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tiny_models import CHARACTERS
from twplate.decode import ctc_greedy_decode

CHARS = ("A", "B", "1")  # classes: 0 blank, 1 A, 2 B, 3 1
FAST = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


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


def test_repeats_collapse() -> None:
    assert ctc_greedy_decode(probs_for([1, 1, 1, 2, 2]), CHARS)[0].text == "AB"


def test_blank_between_repeats_keeps_both() -> None:
    assert ctc_greedy_decode(probs_for([1, 1, 0, 1]), CHARS)[0].text == "AA"


def test_all_blank_is_empty() -> None:
    (d,) = ctc_greedy_decode(probs_for([0, 0, 0]), CHARS)
    assert (d.text, d.char_confidences) == ("", ())


def test_empty_time_axis() -> None:
    out = ctc_greedy_decode(np.zeros((2, 0, 4), np.float32), CHARS)
    assert [(d.text, d.char_confidences) for d in out] == [("", ()), ("", ())]


def test_empty_batch() -> None:
    assert ctc_greedy_decode(np.zeros((0, 5, 4), np.float32), CHARS) == []


def test_char_confidences_are_the_kept_steps_maxima() -> None:
    probs = probs_for([1, 1, 2])
    probs[0, 0, 1], probs[0, 1, 1], probs[0, 2, 2] = 0.5, 0.7, 0.9  # repeat keeps its first step
    (d,) = ctc_greedy_decode(probs, CHARS)
    assert d.char_confidences == pytest.approx((0.5, 0.9))


def test_batch_rows_are_independent() -> None:
    out = ctc_greedy_decode(probs_for([1, 0, 0], [3, 3, 2]), CHARS)
    assert [d.text for d in out] == ["A", "1B"]


def test_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="classes"):
        ctc_greedy_decode(np.zeros((1, 3, 9), np.float32), CHARS)
    with pytest.raises(ValueError, match=r"\(N, T, C\)"):
        ctc_greedy_decode(np.zeros((3, 4), np.float32), CHARS)


# ---------------------------------------------------------------- properties


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
        assert len(d.char_confidences) == len(d.text)
        assert all(0.0 <= p <= 1.0 for p in d.char_confidences)
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
