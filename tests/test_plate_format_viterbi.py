"""The all-formats-at-once Viterbi of ``plate_format`` against the one-format-at-a-time search it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from twplate.charset import Charset, default_dictionary_path
from twplate.decode.formats import _best_path, _format_masks

CHARS = Charset.from_file(default_dictionary_path()).characters


def reference_best_path(logp: np.ndarray, allowed: np.ndarray) -> tuple[float, list[int], list[float]]:
    """Most probable CTC path emitting exactly one class per position of ``allowed`` (K, C).

    Returns its log probability, the classes, and each class's probability at its first step.
    States: ``char[k, c]`` (position k emitting c) and ``blank[k]`` (a blank after k positions).
    """
    T, C = logp.shape
    K = allowed.shape[0]
    if T < K:
        return -np.inf, [], []
    neg = -np.inf
    emit = np.where(allowed[None], logp[:, None, :], neg)  # (T, K, C)
    char = np.full((K, C), neg)
    char[0] = emit[0, 0]
    blank = np.full(K + 1, neg)
    blank[0] = logp[0, 0]
    char_from = np.zeros((T, K, C), np.int8)  # 0 stay, 1 from blank k, 2 from char k-1
    char_prev = np.zeros((T, K, C), np.int64)  # the char of position k-1 when from it
    blank_from = np.zeros((T, K + 1), np.int8)  # 0 stay, 2 from char k-1
    blank_prev = np.zeros((T, K + 1), np.int64)
    rows = np.arange(K)
    for t in range(1, T):
        top = np.argsort(char, axis=1)[:, -2:]  # two best chars per position
        best, second = char[rows, top[:, 1]], char[rows, top[:, 0]]
        # from position k-1 into k with char c: the best c' != c (equal chars need a blank between)
        excl = np.where(np.arange(C)[None] == top[:, 1:2], second[:, None], best[:, None])
        from_prev = np.vstack([np.full((1, C), neg), excl[:-1]])
        prev_char = np.vstack([np.zeros((1, C), np.int64),
                               np.where(np.arange(C)[None] == top[:, 1:2], top[:, 0:1], top[:, 1:2])[:-1]])
        options = np.stack([char, np.broadcast_to(blank[:K, None], (K, C)), from_prev])
        choice = options.argmax(axis=0)
        char_from[t], char_prev[t] = choice, prev_char
        new_char = np.take_along_axis(options, choice[None], axis=0)[0] + emit[t]
        ends = char.max(axis=1)
        new_blank = np.empty(K + 1)
        new_blank[0] = blank[0]
        stay_or_char = np.stack([blank[1:], ends])
        blank_from[t, 1:] = np.where(stay_or_char.argmax(axis=0) == 1, 2, 0)
        blank_prev[t, 1:] = char.argmax(axis=1)
        new_blank[1:] = stay_or_char.max(axis=0)
        blank, char = new_blank + logp[t, 0], new_char
    end_char = int(char[K - 1].argmax())
    score = max(blank[K], char[K - 1, end_char])
    if not np.isfinite(score):
        return -np.inf, [], []
    # walk back from the best final state
    ids, probs = [0] * K, [0.0] * K
    state = ("blank", K, 0) if blank[K] >= char[K - 1, end_char] else ("char", K - 1, end_char)
    for t in range(T - 1, -1, -1):
        kind, k, c = state
        if kind == "char":
            ids[k], probs[k] = c, float(np.exp(logp[t, c]))
            src = char_from[t, k, c] if t else 1
            if src == 1:
                state = ("blank", k, 0)
            elif src == 2:
                state = ("char", k - 1, int(char_prev[t, k, c]))
        else:
            if t and blank_from[t, k] == 2:
                state = ("char", k - 1, int(blank_prev[t, k]))
    return float(score), ids, probs


def reference(logp: np.ndarray, stacked: np.ndarray) -> tuple[float, list[int], list[float]]:
    """The best over formats, one Viterbi each; ties go to the earlier format."""
    best: tuple[float, list[int], list[float]] = (-np.inf, [], [])
    for mask in stacked:
        candidate = reference_best_path(logp, mask[mask.any(axis=1)])
        if candidate[0] > best[0]:
            best = candidate
    return best


def _plate_like(rng: np.random.Generator, steps: int) -> np.ndarray:
    """Mostly-blank probabilities with a few confident characters, as a recogniser outputs.

    Without exact ties: between equally probable paths the two searches may pick different ones.
    """
    probs = rng.dirichlet(np.full(len(CHARS) + 1, 0.05), size=steps)
    for t in rng.choice(steps, size=min(steps, 8), replace=False):
        probs[t] = rng.uniform(0.5, 1.5, len(CHARS) + 1) * 0.02 / len(CHARS)  # no exact ties
        probs[t, rng.integers(1, len(CHARS) + 1)] = 0.98
    return probs / probs.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("steps", [1, 3, 5, 8, 20, 40])
def test_same_paths_as_one_format_at_a_time(steps: int) -> None:
    stacked = _format_masks(CHARS)
    rng = np.random.default_rng(steps)
    for i in range(10):
        probs = _plate_like(rng, steps) if i % 2 else rng.dirichlet(np.full(len(CHARS) + 1, 0.3), size=steps)
        logp = np.log(np.clip(probs, 1e-12, 1.0))
        want, got = reference(logp, stacked), _best_path(logp, stacked)
        assert got[1] == want[1]
        np.testing.assert_allclose(got[2], want[2])
        assert got[0] == pytest.approx(want[0]) or (np.isinf(got[0]) and np.isinf(want[0]))


def test_masks_pad_shorter_formats_with_nothing_allowed() -> None:
    stacked = _format_masks(CHARS)
    lengths = stacked.any(axis=2).sum(axis=1)
    assert stacked.shape[1] == lengths.max() == 8  # LLL-DDDD
    for mask, n in zip(stacked, lengths, strict=True):
        assert mask[:n].any(axis=1).all() and not mask[n:].any()
