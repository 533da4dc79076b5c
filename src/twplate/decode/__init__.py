"""Probabilities to text: greedy CTC decoding (:mod:`.ctc`), and decoding that knows Taiwan plate formats
(:mod:`.formats`), which falls back on the format-constrained path only where the greedy reading fits none."""

from __future__ import annotations

from .ctc import Decoded, ctc_greedy_decode
from .formats import PLATE_FORMATS, PLATE_REGEX, constrained_decode, decode_with_formats, is_plate

__all__ = ["PLATE_FORMATS", "PLATE_REGEX", "Decoded", "constrained_decode", "ctc_greedy_decode",
           "decode_with_formats", "is_plate"]
