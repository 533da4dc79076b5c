"""Taiwan plate formats, and decoding that knows them.

Greedy CTC decoding reads each step on its own, so it can return strings no plate carries:
``221PSE`` (dash lost), ``-7333-YJ`` (extra dash), ``AUM-Z608`` (a letter among the digits). When
the greedy reading fits no format, :func:`decode_with_formats` finds the most probable CTC path
whose text fits one (a Viterbi search over the model's own probabilities), and reads that.

Formats: ``L`` a letter, ``D`` a digit, ``X`` either, other characters literal. They cover the
2014 seven-character plates (``LLL-DDDD``), the 1992 layouts (2+4, 4+2, 2+3, 3+2, 2+2), the 3+3
scooter plates (``DDD-LLL`` and alphanumeric ``XXX-DDD``), and the special plates that print no
dash (試 臨 外 + 4 digits, 使 領 + 2-3 digits, 軍 + 4-5 digits).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .decode import Decoded, ctc_greedy_decode

PLATE_FORMATS: tuple[str, ...] = (
    "LLL-DDDD",
    "DDD-LLL", "XXX-DDD",
    "XX-DDDD", "DDDD-XX",
    "XX-DDD", "DDD-XX",
    "XX-XX",
    "試DDDD", "臨DDDD", "外DDDD",
    "使DD", "使DDD", "領DD", "領DDD",
    "軍DDDD", "軍DDDDD",
)
_CLASSES = {"L": "[A-Z]", "D": "[0-9]", "X": "[A-Z0-9]"}


def _regex(fmt: str) -> str:
    return "".join(_CLASSES.get(c, re.escape(c)) for c in fmt)


PLATE_REGEX = re.compile("|".join(f"(?:{_regex(f)})" for f in PLATE_FORMATS))


def is_plate(text: str) -> bool:
    """True if ``text`` fits one of :data:`PLATE_FORMATS`."""
    return PLATE_REGEX.fullmatch(text) is not None


@lru_cache(maxsize=8)
def _format_masks(characters: tuple[str, ...]) -> list[np.ndarray]:
    """Per format, a ``(K, C)`` mask of the classes allowed at each of its K positions."""
    classes = np.array(["", *characters], dtype=object)
    sets = {"L": {chr(c) for c in range(65, 91)}, "D": set("0123456789")}
    sets["X"] = sets["L"] | sets["D"]
    masks = []
    for fmt in PLATE_FORMATS:
        allowed = [sets.get(c, {c}) for c in fmt]
        if all(any(ch in a for ch in characters) for a in allowed):
            masks.append(np.array([[ch in a for ch in classes] for a in allowed]))
    return masks


def _best_path(logp: np.ndarray, allowed: np.ndarray) -> tuple[float, list[int], list[float]]:
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


def constrained_decode(probs: np.ndarray, characters: Sequence[str]) -> Decoded | None:
    """``(T, C)`` probabilities -> the most probable reading that fits a plate format, or None."""
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    best: tuple[float, list[int], list[float]] = (-np.inf, [], [])
    for allowed in _format_masks(tuple(characters)):
        candidate = _best_path(logp, allowed)
        if candidate[0] > best[0]:
            best = candidate
    if not best[1]:
        return None
    table = ["", *characters]
    confs = tuple(best[2])
    return Decoded("".join(table[i] for i in best[1]), float(np.mean(confs)), confs)


def decode_with_formats(probs: np.ndarray, characters: Sequence[str]) -> list[Decoded]:
    """Greedy CTC decoding; a reading that fits no plate format is replaced by the best one that does."""
    decoded = ctc_greedy_decode(probs, characters)
    for i, d in enumerate(decoded):
        if d.text and not is_plate(d.text):
            decoded[i] = constrained_decode(probs[i], characters) or d
    return decoded
