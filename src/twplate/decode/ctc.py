"""Probabilities to text: greedy CTC decoding, vectorised over the batch.

Class 0 is the CTC blank; class ``i + 1`` is ``characters[i]``. A step is kept when it is not
blank and differs from the step before it, so a blank between two equal steps keeps both
(``A _ A`` reads ``AA``). A character's confidence is its kept step's probability; the plate's
confidence is made from them by :func:`twplate.confidence.plate_confidence`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class Decoded(NamedTuple):
    """A reading, the confidence of each of its characters in order, and how many characters the plate formats
    changed inside the greedy reading to make it (:func:`~twplate.decode.formats.decode_with_formats`)."""

    text: str
    char_confidences: tuple[float, ...]
    format_edits: int = 0


def ctc_greedy_decode(probs: np.ndarray, characters: Sequence[str]) -> list[Decoded]:
    """``(N, T, C)`` probabilities -> N decoded readings."""
    if probs.ndim != 3:
        raise ValueError(f"expected probabilities of shape (N, T, C), got {probs.shape}")
    if probs.shape[2] != len(characters) + 1:
        raise ValueError(f"{probs.shape[2]} classes but {len(characters)} characters (+1 blank)")
    if probs.shape[1] == 0:  # argmax over no time steps is undefined
        return [Decoded("", ()) for _ in range(probs.shape[0])]
    ids = probs.argmax(axis=2)  # (N, T)
    best = probs.max(axis=2)  # the probability of each step's id
    keep = ids != 0
    keep[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    table = np.array(["", *characters], dtype=object)
    results = []
    for row_ids, row_best, row_keep in zip(ids, best, keep, strict=True):
        chars = table[row_ids[row_keep]]
        results.append(Decoded("".join(chars), tuple(float(c) for c in row_best[row_keep])))
    return results
