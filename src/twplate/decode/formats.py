"""Taiwan plate formats, and decoding that knows them.

Greedy CTC decoding reads each step on its own, so it can return strings no plate carries:
``221PSE`` (dash lost), ``-7333-YJ`` (extra dash), ``AUM-Z608`` (a letter among the digits). When
the greedy reading fits no format, :func:`decode_with_formats` finds the most probable CTC path
whose text fits one (a Viterbi search over the model's own probabilities), and reads that.

Formats: ``L`` a letter, ``D`` a digit, ``X`` either, other characters literal. They cover the
2014 seven-character plates (``LLL-DDDD``), the 1992 layouts (2+4, 4+2, 2+3, 3+2, 2+2; a 2+3 or 3+2 code is
never two digits, ``ROC_1992.png``), the 3+3
scooter plates (``DDD-LLL`` and alphanumeric ``XXX-DDD``), and the special plates that print no
dash (試 臨 外 + 4 digits, 使 領 + 2-3 digits, 軍 + 4-5 digits).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .ctc import Decoded, ctc_greedy_decode

PLATE_FORMATS: tuple[str, ...] = (
    "LLL-DDDD",
    "DDD-LLL", "XXX-DDD",
    "XX-DDDD", "DDDD-XX",
    "LL-DDD", "LD-DDD", "DL-DDD", "DDD-LL", "DDD-LD", "DDD-DL",  # a 2+3 / 3+2 code is never two digits
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
    ``blank[f, k]`` (a blank after k positions). Only the scores are kept per step; the walk back
    recomputes which move won, which costs far less than recording every move.
    """
    T, C = logp.shape
    F, K, _ = allowed.shape
    if F == 0 or K == 0:
        return -np.inf, [], []
    lengths = allowed.any(axis=2).sum(axis=1)
    neg = -np.inf
    penalty = np.where(allowed, 0.0, neg)  # (F, K, C)
    char = np.full((F, K, C), neg)
    char[:, 0] = logp[0] + penalty[:, 0]
    blank = np.full((F, K + 1), neg)
    blank[:, 0] = logp[0, 0]
    char_scores, blank_scores = np.empty((T, F, K, C)), np.empty((T, F, K + 1))
    char_scores[0], blank_scores[0] = char, blank
    from_prev = np.full((F, K, C), neg)
    fs, ks = np.meshgrid(np.arange(F), np.arange(K), indexing="ij")
    classes = np.arange(C)
    for t in range(1, T):
        top = char.argmax(axis=2)
        best = char.max(axis=2)
        others = char.copy()
        others[fs, ks, top] = neg
        second = others.max(axis=2)
        # from position k-1 into k with char c: the best c' != c (equal chars need a blank between)
        from_prev[:, 1:] = np.where(classes == top[:, :-1, None], second[:, :-1, None], best[:, :-1, None])
        new_char = np.maximum(char, blank[:, :K, None])
        np.maximum(new_char, from_prev, out=new_char)
        new_char += penalty
        new_char += logp[t]
        new_blank = blank.copy()
        np.maximum(new_blank[:, 1:], best, out=new_blank[:, 1:])
        new_blank += logp[t, 0]
        char, blank = new_char, new_blank
        char_scores[t], blank_scores[t] = char, blank
    rows = np.arange(F)
    end_chars = char[rows, lengths - 1].argmax(axis=1)
    end_char_scores = char[rows, lengths - 1, end_chars]
    end_blank_scores = blank[rows, lengths]
    scores = np.maximum(end_blank_scores, end_char_scores)
    f = int(scores.argmax())
    if not np.isfinite(scores[f]):
        return -np.inf, [], []
    return float(scores[f]), *_walk_back(logp, char_scores[:, f], blank_scores[:, f], int(lengths[f]),
                                          bool(end_blank_scores[f] >= end_char_scores[f]), int(end_chars[f]))


def _walk_back(logp: np.ndarray, char_scores: np.ndarray, blank_scores: np.ndarray, n: int, ends_blank: bool,
               end_char: int) -> tuple[list[int], list[float]]:
    """Classes and first-step probabilities of the best path of one format, from its per-step scores.

    At each step the move the forward pass took is recomputed from the scores before it, with the
    same preference on ties: stay, then from the blank, then from the previous position.
    """
    neg = -np.inf
    ids, probs = [0] * n, [0.0] * n
    kind, k, c = ("blank", n, 0) if ends_blank else ("char", n - 1, end_char)
    for t in range(logp.shape[0] - 1, -1, -1):
        if kind == "char":
            ids[k], probs[k] = c, float(np.exp(logp[t, c]))
            if t == 0:
                break
            before, blank_before = char_scores[t - 1], blank_scores[t - 1]
            prev, from_prev = 0, neg
            if k:
                row = before[k - 1]
                prev = int(row.argmax())
                if prev == c:  # equal chars need a blank between: the best other one
                    row = row.copy()
                    row[prev] = neg
                    prev = int(row.argmax())
                from_prev = row[prev]
            move = int(np.argmax([before[k, c], blank_before[k], from_prev]))
            if move == 1:
                kind, c = "blank", 0
            elif move == 2:
                k, c = k - 1, prev
        elif t and k and char_scores[t - 1, k - 1].max() > blank_scores[t - 1, k]:
            kind, k, c = "char", k - 1, int(char_scores[t - 1, k - 1].argmax())
    return ids, probs


def constrained_decode(probs: np.ndarray, characters: Sequence[str]) -> Decoded | None:
    """``(T, C)`` probabilities -> the most probable reading that fits a plate format, or None."""
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    _, ids, char_probs = _best_path(logp, _format_masks(tuple(characters)))
    if not ids:
        return None
    table = ["", *characters]
    return Decoded("".join(table[i] for i in ids), tuple(char_probs))


def infix_distance(part: str, whole: str) -> int:
    """Edit distance from ``part`` to the closest stretch of ``whole``: characters of ``whole`` before and after
    that stretch cost nothing (a reading with stray characters at its ends holds a plate unchanged)."""
    previous = [0] * (len(whole) + 1)  # an empty part matches an empty stretch anywhere
    for i, a in enumerate(part, 1):
        current = [i] + [0] * len(whole)
        for j, b in enumerate(whole, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
        previous = current
    return min(previous)


def decode_with_formats(probs: np.ndarray, characters: Sequence[str]) -> list[Decoded]:
    """Greedy CTC decoding; a reading that fits no plate format is replaced by the best one that does, which
    records how many characters it changed (``format_edits``: the edit distance to the closest stretch of the
    greedy reading; stray characters dropped from the reading's ends count nothing, and so does a dash the
    reading lacks, but a dash read inside it counts unless the plate has it in the same place)."""
    decoded = ctc_greedy_decode(probs, characters)
    for i, d in enumerate(decoded):
        if d.text.strip("-") and not is_plate(d.text):  # nothing read but dashes is nothing read: no plate to fit
            fitted = constrained_decode(probs[i], characters)
            if fitted is not None:
                # a dash the reading lacks costs nothing; one it has inside must be where the plate has it
                plate = fitted.text if "-" in d.text.strip("-") else fitted.text.replace("-", "")
                decoded[i] = fitted._replace(format_edits=infix_distance(plate, d.text))
    return decoded
