"""Turn a trained Student into a shipped model directory: Paddle inference model, then ONNX.

Run from the repository root with the ``export`` and ``paddle`` extras installed::

    python -m exporters CHECKPOINT.pdparams --out models/twplate-rec --version 1.0
    python -m exporters pretrained --version 0.0.0 --out models/twplate-rec-zeroshot   # PP-OCRv3 weights, no training
    python -m exporters.detector CHECKPOINT.pdparams --version 2.1.0   # the plate detector -> models/twplate-det

Each step checks its own result against its source (the recognizer: probabilities within 1e-4 and identical
decoded text on rendered plates at several widths; the detector: maps within 5e-4 and the same boxes on drawn
photos) and raises :class:`ExportMismatch` if they differ.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable


def reports_bad_input(prog: str) -> Callable[[Callable[..., int | None]], Callable[..., int]]:
    """Make an exporter's ``main(argv)`` print a bad input as one line that names it, with exit status 2, instead
    of a traceback: a missing, foreign or broken checkpoint or model (:class:`twplate.errors.TwplateError`,
    ``OSError``), or an export that fails its own check (:class:`ExportMismatch`)."""

    def decorate(main: Callable[..., int | None]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            from twplate.errors import TwplateError

            from .verify import ExportMismatch

            try:
                return int(main(argv) or 0)
            except (TwplateError, OSError, ExportMismatch) as exc:
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return 2

        return run

    return decorate
