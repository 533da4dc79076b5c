"""Recognition metrics as PaddleOCR reports them, plus character confusions.

``acc``: share of plates read exactly. ``norm_edit_dis``: ``1 - mean(edit / max(len(pred), len(label)))``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from twplate.decode.edits import alignment


@dataclass
class RecMetrics:
    """Accumulates predictions against labels."""

    total: int = 0
    correct: int = 0
    norm_edit_sum: float = 0.0
    confusions: Counter = field(default_factory=Counter)
    misread: list[tuple[str, str, str]] = field(default_factory=list)  # (source, label, prediction)

    def update(self, predictions: Sequence[str], labels: Sequence[str], sources: Sequence[str] | None = None) -> None:
        for k, (pred, label) in enumerate(zip(predictions, labels, strict=True)):
            self.total += 1
            dist, edits = alignment(label, pred)
            self.norm_edit_sum += dist / max(len(pred), len(label), 1)
            if pred == label:
                self.correct += 1
            else:
                self.confusions.update(edits)
                self.misread.append((sources[k] if sources else str(k), label, pred))

    @property
    def acc(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def norm_edit_dis(self) -> float:
        return 1.0 - self.norm_edit_sum / self.total if self.total else 0.0

    def summary(self) -> dict[str, float]:
        return {"acc": self.acc, "norm_edit_dis": self.norm_edit_dis, "total": self.total}
