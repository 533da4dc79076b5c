"""DBNet's loss on the probability map: balanced cross-entropy with hard negatives, plus dice.

PaddleOCR's ``DBLoss`` adds the threshold map's L1 and the binarised map's dice; the threshold branch
is not exported (:mod:`.model`), so here the dice term is taken on the probability map itself, and
the cross-entropy keeps PaddleOCR's weight (5) and negative ratio (3 hard negative pixels per text pixel).
"""

from __future__ import annotations

from typing import Any

BCE_WEIGHT = 5.0
NEGATIVE_RATIO = 3.0


def db_loss(logits: Any, target: Any, weight: Any) -> tuple[Any, dict[str, float]]:
    """Loss of ``(N, 1, H, W)`` logits against ``(N, H, W)`` target and weight maps; also its parts as floats.

    Hard negatives are the highest-loss background pixels of the whole batch, three per text pixel,
    so a sample with a date stamp and no plate still teaches that the stamp is not a plate.
    """
    import paddle
    import paddle.nn.functional as F

    logits = logits.squeeze(1)
    pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    positive = target * weight
    negative = (1 - target) * weight
    n_pos = int(positive.sum())
    n_neg = int(min(float(negative.sum()), max(n_pos, 1) * NEGATIVE_RATIO))
    hard = paddle.topk((pixel * negative).flatten(), n_neg)[0] if n_neg else paddle.zeros([1])
    bce = ((pixel * positive).sum() + hard.sum()) / (n_pos + n_neg + 1e-6)
    prob = F.sigmoid(logits)
    dice = 1 - 2 * (prob * target * weight).sum() / ((prob * weight).sum() + positive.sum() + 1e-6)
    loss = BCE_WEIGHT * bce + dice
    return loss, {"bce": float(bce), "dice": float(dice)}
