"""Distillation losses: how far the model's per-step probabilities are from a teacher's on the same batch.

Two ways to pair the model's CTC steps with the teacher's (``Distill.align``):

* ``steps``: step ``t`` with step ``t``, over every step, as PaddleOCR's DML loss does for models trained
  side by side. Two models trained apart put a character's peak on different steps (docs/accuracy.md,
  section 7), so this term mostly asks the model to move its peaks.
* ``warped``: the teacher's steps warped onto the model's timing (:func:`warped_steps`): the model's ``k``-th
  read character with the teacher's ``k``-th and the steps between them proportionally, on crops where both
  read as many characters as the label has (the others add nothing). It carries what the teacher knows
  (which characters look alike, where a character ends) without moving the model's peaks. Every step of a
  crop is compared: compared at the read characters alone, the steps between are left free and the
  model's readings fall apart within a few steps (docs/accuracy.md, section 7).

Each is a KL divergence from the teacher's distribution to the model's, both softened by ``temperature``
and scaled by its square (Hinton et al., 2015), summed over a crop's steps and averaged over the batch, as
the CTC loss is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twplate.decode.ctc import kept_steps

from .config import ALIGNMENTS


def warped_steps(probs: np.ndarray, teacher: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's step that each of the model's steps is compared with, on the crops where the greedy readings
    of both keep ``lengths[crop]`` characters: ``(crops (M,), steps (M, T))``.

    The model's ``k``-th kept step maps to the teacher's ``k``-th; the steps between two kept steps map linearly
    onto the steps between the teacher's, and those before the first or after the last are shifted with it
    (rounded, clipped to the sequence). ``probs`` and ``teacher``: ``(N, T, C)`` probabilities of the model and
    the teacher; ``lengths``: ``(N,)`` label lengths.
    """
    n, t = probs.shape[:2]
    ours, theirs = kept_steps(probs.argmax(axis=2)), kept_steps(teacher.argmax(axis=2))
    crops, maps = [], []
    for crop in range(n):
        a, b = np.flatnonzero(ours[crop]), np.flatnonzero(theirs[crop])
        if not len(a) == len(b) == lengths[crop] > 0:
            continue
        x = np.concatenate([[a[0] - t], a, [a[-1] + t]])  # anchors a whole sequence out: a shift at either end
        y = np.concatenate([[b[0] - t], b, [b[-1] + t]])
        crops.append(crop)
        maps.append(np.clip(np.rint(np.interp(np.arange(t), x, y)), 0, t - 1))
    return np.array(crops, np.int64), np.array(maps, np.int64).reshape(len(crops), t)


def distill_loss(logits: Any, teacher: Any, lengths: np.ndarray, align: str, temperature: float) -> Any:
    """The batch's mean distillation loss (a scalar ``paddle.Tensor``).

    ``logits``: the model's ``(N, T, C)`` training output; ``teacher``: the teacher's ``(N, T, C)``
    probabilities (no gradient); ``lengths``: ``(N,)`` label lengths, for ``align="warped"``.
    """
    import paddle
    import paddle.nn.functional as F

    if align not in ALIGNMENTS:
        raise ValueError(f"align must be one of {ALIGNMENTS}, not {align!r}")
    n = logits.shape[0]
    if align == "warped":
        crops, steps = warped_steps(F.softmax(logits, axis=-1).numpy(), teacher.numpy(), lengths)
        if not len(crops):
            return paddle.zeros([])
        logits = paddle.gather(logits, paddle.to_tensor(crops))  # (M, T, C)
        index = np.stack([np.repeat(crops, steps.shape[1]), steps.ravel()], axis=1)
        teacher = paddle.gather_nd(teacher, paddle.to_tensor(index)).reshape(logits.shape)
    target = F.softmax(paddle.log(teacher.clip(min=1e-8)) / temperature, axis=-1)
    ours = F.log_softmax(logits / temperature, axis=-1)
    kl = (target * (paddle.log(target.clip(min=1e-8)) - ours)).sum()
    return kl * temperature**2 / n
