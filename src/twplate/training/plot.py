"""`twplate plot`: loss and accuracy against step from a ``train.log``, written as a PNG.

Reads the PaddleOCR-style lines the trainer writes (``global_step: N/..., ... loss: X`` and
``cur metric, acc: A, norm_edit_dis: D``, or the detector's ``cur metric, recall: R (f/n), false: F, acc: S``),
so logs of PaddleOCR's own trainer plot too. Metrics between 0 and 1 are drawn on the right axis.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

STEP_LINE = re.compile(r"global_step: (\d+)\b.*?\bloss: ([0-9.eE+-]+)")
EVAL_LINE = re.compile(r"cur metric, (.*)")
METRIC = re.compile(r"(\w+): ([0-9.eE+-]+)")
PLOTTED = {"acc": "tab:red", "norm_edit_dis": "tab:green", "recall": "tab:purple"}


@dataclass
class Curves:
    loss: list[tuple[int, float]] = field(default_factory=list)
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


def parse_log(path: Path) -> Curves:
    """Loss per logged step, and each evaluation at the step logged before it."""
    curves, step = Curves(), 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := STEP_LINE.search(line):
            step = int(m.group(1))
            curves.loss.append((step, float(m.group(2))))
        elif m := EVAL_LINE.search(line):
            for name, value in METRIC.findall(m.group(1)):
                curves.metrics.setdefault(name, []).append((step, float(value)))
    return curves


def plot(curves: Curves, out: Path, title: str = "") -> None:
    """Loss (log scale) on the left axis; acc, norm_edit_dis and recall on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    if curves.loss:
        ax.plot(*zip(*curves.loss), color="tab:blue", lw=1, label="loss")
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss", color="tab:blue")
    right = ax.twinx()
    for name, color in PLOTTED.items():
        if series := curves.metrics.get(name):
            right.plot(*zip(*series), "o-", color=color, ms=3, label=name)
    right.set_ylim(0, 1.02)
    right.set_ylabel("val metric")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles, [str(h.get_label()) for h in handles], loc="center right")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", type=Path, help="train.log written by `twplate train` (or PaddleOCR)")
    parser.add_argument("--out", type=Path, help="PNG to write (default: beside the log, train_curves.png)")


def run(args: argparse.Namespace) -> int:
    curves = parse_log(args.log)
    if not curves.loss:
        print(f"{args.log}: no 'global_step: ... loss: ...' lines found")
        return 1
    out = args.out or args.log.with_name("train_curves.png")
    plot(curves, out, title=str(args.log.parent.name))
    evaluations = max((len(v) for v in curves.metrics.values()), default=0)
    print(f"{len(curves.loss)} loss points, {evaluations} evaluations -> {out}")
    return 0
