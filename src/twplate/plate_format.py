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
def _format_masks(characters: tuple[str, ...]) -> np.ndarray:
    """``(F, K, C)``: per format, the classes allowed at each of its positions; rows past its length all False.

    Formats whose characters the dictionary lacks are left out. ``K`` is the longest format's length.
    """
    classes = np.array(["", *characters], dtype=object)
    sets = {"L": {chr(c) for c in range(65, 91)}, "D": set("0123456789")}
    sets["X"] = sets["L"] | sets["D"]
    masks = []
    for fmt in PLATE_FORMATS:
        allowed = [sets.get(c, {c}) for c in fmt]
        if all(any(ch in a for ch in characters) for a in allowed):
            masks.append(np.array([[ch in a for ch in classes] for a in allowed]))
    stacked = np.zeros((len(masks), max((len(m) for m in masks), default=0), len(classes)), bool)
    for f, mask in enumerate(masks):
        stacked[f, : len(mask)] = mask
    return stacked


def _best_path(logp: np.ndarray, allowed: np.ndarray) -> tuple[float, list[int], list[float]]:
    """Most probable CTC path emitting exactly one class per position of one of the formats in ``allowed``.

    ``logp`` is ``(T, C)``, ``allowed`` ``(F, K, C)`` from :func:`_format_masks`. Returns the path's
    log probability, its classes, and each class's probability at its first step; ``-inf`` and
    empty lists when no format fits in ``T`` steps. Ties go to the earlier format.

    One Viterbi pass for all formats at once (positions past a format's length allow no class, so
    they stay unreachable). States: ``char[f, k, c]`` (position k of format f emitting c) and
    ``blank[f, k]`` (a blank after k positions).
    """
    T, C = logp.shape
    F, K, _ = allowed.shape
    if F == 0 or K == 0:
        return -np.inf, [], []
    lengths = allowed.any(axis=2).sum(axis=1)
    neg = -np.inf
    emit = np.where(allowed[None], logp[:, None, None, :], neg)  # (T, F, K, C)
    char = np.full((F, K, C), neg)
    char[:, 0] = emit[0, :, 0]
    blank = np.full((F, K + 1), neg)
    blank[:, 0] = logp[0, 0]
    char_from = np.zeros((T, F, K, C), np.int8)  # 0 stay, 1 from blank k, 2 from char k-1
    tops = np.zeros((T, 2, F, K), np.int64)  # best and second-best char per position before step t
    blank_from_char = np.zeros((T, F, K + 1), bool)
    classes = np.arange(C)
    unreachable = np.full((F, 1, C), neg)
    for t in range(1, T):
        top1 = char.argmax(axis=2)
        best = np.take_along_axis(char, top1[..., None], axis=2)
        others = char.copy()
        np.put_along_axis(others, top1[..., None], neg, axis=2)
        top2 = others.argmax(axis=2)
        second = np.take_along_axis(others, top2[..., None], axis=2)
        tops[t, 0], tops[t, 1] = top1, top2
        # from position k-1 into k with char c: the best c' != c (equal chars need a blank between)
        from_prev = np.concatenate([unreachable, np.where(classes == top1[..., None], second, best)[:, :-1]], axis=1)
        options = np.stack([char, np.broadcast_to(blank[:, :K, None], (F, K, C)), from_prev])
        choice = options.argmax(axis=0)
        char_from[t] = choice
        new_char = np.take_along_axis(options, choice[None], axis=0)[0] + emit[t]
        ends = best[..., 0]
        into = ends > blank[:, 1:]
        blank_from_char[t, :, 1:] = into
        blank = np.concatenate([blank[:, :1], np.where(into, ends, blank[:, 1:])], axis=1) + logp[t, 0]
        char = new_char
    rows = np.arange(F)
    end_chars = char[rows, lengths - 1].argmax(axis=1)
    end_char_scores = char[rows, lengths - 1, end_chars]
    end_blank_scores = blank[rows, lengths]
    scores = np.maximum(end_blank_scores, end_char_scores)
    f = int(scores.argmax())
    if not np.isfinite(scores[f]):
        return -np.inf, [], []
    # walk back from the best final state of the best format
    n = int(lengths[f])
    ids, probs = [0] * n, [0.0] * n
    state = ("blank", n, 0) if end_blank_scores[f] >= end_char_scores[f] else ("char", n - 1, int(end_chars[f]))
    for t in range(T - 1, -1, -1):
        kind, k, c = state
        if kind == "char":
            ids[k], probs[k] = c, float(np.exp(logp[t, c]))
            src = char_from[t, f, k, c] if t else 1
            if src == 1:
                state = ("blank", k, 0)
            elif src == 2:
                top1, top2 = tops[t, 0, f, k - 1], tops[t, 1, f, k - 1]
                state = ("char", k - 1, int(top2 if c == top1 else top1))
        elif t and blank_from_char[t, f, k]:
            state = ("char", k - 1, int(tops[t, 0, f, k - 1]))
    return float(scores[f]), ids, probs


def constrained_decode(probs: np.ndarray, characters: Sequence[str]) -> Decoded | None:
    """``(T, C)`` probabilities -> the most probable reading that fits a plate format, or None."""
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    _, ids, char_probs = _best_path(logp, _format_masks(tuple(characters)))
    if not ids:
        return None
    table = ["", *characters]
    confs = tuple(char_probs)
    return Decoded("".join(table[i] for i in ids), float(np.mean(confs)), confs)


def decode_with_formats(probs: np.ndarray, characters: Sequence[str]) -> list[Decoded]:
    """Greedy CTC decoding; a reading that fits no plate format is replaced by the best one that does."""
    decoded = ctc_greedy_decode(probs, characters)
    for i, d in enumerate(decoded):
        if d.text and not is_plate(d.text):
            decoded[i] = constrained_decode(probs[i], characters) or d
    return decoded
