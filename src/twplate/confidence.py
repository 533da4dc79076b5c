"""Plate confidence: the probability that a whole reading is right, from its character confidences.

A plate is right only if every character is, so the raw plate score is the product of the character
confidences. CTC's per-step probabilities are not calibrated, so a model can carry a map from that
score to the share of plates read right at that score, fitted on real plates (``scripts/calibrate.py``):
Platt scaling on the score's logit, ``p = sigmoid(slope * logit(score) + intercept)``, two numbers in
the ``confidence`` section of ``inference.yml``. Without one, the plate confidence is the raw product.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EPSILON = 1e-6
"""Scores are kept inside ``[EPSILON, 1 - EPSILON]`` before the logit, so 0 and 1 map to finite values."""


def plate_score(char_confidences: Sequence[float]) -> float:
    """The product of the character confidences; 0.0 for an empty reading."""
    return math.prod(char_confidences) if char_confidences else 0.0


def logit(score: float) -> float:
    p = min(max(score, EPSILON), 1.0 - EPSILON)
    return math.log(p / (1.0 - p))


@dataclass(frozen=True)
class Calibration:
    """A fitted map from :func:`plate_score` to the probability that the plate is read exactly right.

    Attributes:
        slope, intercept: Platt scaling on the logit of the score.
        review_below: readings whose calibrated confidence is below this should go to a person.
        fitted_on: what the map was fitted on, for the record.
    """

    slope: float
    intercept: float
    review_below: float = 0.0
    fitted_on: str = ""

    def __call__(self, char_confidences: Sequence[float]) -> float:
        """Calibrated plate confidence; 0.0 for an empty reading."""
        if not char_confidences:
            return 0.0
        z = self.slope * logit(plate_score(char_confidences)) + self.intercept
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        """From the ``confidence`` section of ``inference.yml``; raises ``ValueError`` on a bad one."""
        if d.get("score") != "product" or d.get("method") != "platt":
            raise ValueError("confidence: only 'score: product' with 'method: platt' is known")
        values = {k: float(d[k]) for k in ("slope", "intercept", "review_below") if k in d}
        if not all(math.isfinite(v) for v in values.values()) or not 0.0 <= values.get("review_below", 0.0) <= 1.0:
            raise ValueError(f"confidence: slope and intercept must be finite, review_below in [0, 1]: {dict(d)}")
        return cls(**values, fitted_on=str(d.get("fitted_on", "")))

    def to_dict(self) -> dict[str, Any]:
        return {"score": "product", "method": "platt", "slope": self.slope, "intercept": self.intercept,
                "review_below": self.review_below, "fitted_on": self.fitted_on}


def plate_confidence(char_confidences: Sequence[float], calibration: Calibration | None) -> float:
    """The plate confidence a :class:`~twplate.result.PlateResult` carries: calibrated where the model has a map."""
    return calibration(char_confidences) if calibration is not None else plate_score(char_confidences)
