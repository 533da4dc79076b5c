"""Recognition metrics as PaddleOCR reports them, plus character confusions.

``acc``: share of plates read exactly. ``norm_edit_dis``: ``1 - mean(edit / max(len(pred), len(label)))``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


def _alignment(a: str, b: str) -> tuple[int, list[tuple[str, str]]]:
    """Levenshtein distance from ``a`` to ``b`` and the edits as (expected, read) pairs ('' = none)."""
    n, m = len(a), len(b)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    edits, i, j = [], n, m
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            if a[i - 1] != b[j - 1]:
                edits.append((a[i - 1], b[j - 1]))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            edits.append((a[i - 1], ""))
            i -= 1
        else:
            edits.append(("", b[j - 1]))
            j -= 1
    return d[n][m], edits[::-1]


@dataclass
class RecMetrics:
    """Accumulates predictions against labels."""

    total: int = 0
    correct: int = 0
    norm_edit_sum: float = 0.0
    confusions: Counter = field(default_factory=Counter)
    misread: list[tuple[str, str, str]] = field(default_factory=list)  # (source, label, prediction)
    unread: list[tuple[str, str]] = field(default_factory=list)  # (source, why): images that could not be read

    def update(self, predictions: Sequence[str], labels: Sequence[str], sources: Sequence[str] | None = None) -> None:
        for k, (pred, label) in enumerate(zip(predictions, labels, strict=True)):
            self.total += 1
            dist, edits = _alignment(label, pred)
            self.norm_edit_sum += dist / max(len(pred), len(label), 1)
            if pred == label:
                self.correct += 1
            else:
                self.confusions.update(edits)
                self.misread.append((sources[k] if sources else str(k), label, pred))

    def add_unread(self, source: str, label: str, error: str) -> None:
        """An image that could not be read: a misread plate (nothing read), kept out of the confusions."""
        self.total += 1
        self.norm_edit_sum += 1.0
        self.misread.append((source, label, ""))
        self.unread.append((source, error))

    @property
    def acc(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def norm_edit_dis(self) -> float:
        return 1.0 - self.norm_edit_sum / self.total if self.total else 0.0

    def summary(self) -> dict[str, float]:
        return {"acc": self.acc, "norm_edit_dis": self.norm_edit_dis, "total": self.total}
