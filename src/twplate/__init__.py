"""twplate: read Taiwan licence plates, in crops (the PP-OCRv3 recognition Student) or in whole photos
(a PP-OCR text detector in front of it).

>>> from twplate import recognize, read_photo
>>> result = recognize("plate.jpg")          # doctest: +SKIP
>>> result.text, result.confidence           # doctest: +SKIP
('ABC-1234', 0.98)
>>> [p.text for p in read_photo("street.jpg")]   # doctest: +SKIP
['ABC-1234']

Names are imported on first use, so ``import twplate`` stays cheap and never imports a runtime
(onnxruntime, paddle) or the training code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "recognize": "twplate.recognizer",
    "PlateRecognizer": "twplate.recognizer",
    "read_photo": "twplate.photo",
    "PhotoReader": "twplate.photo",
    "PlateResult": "twplate.result",
    "TwplateError": "twplate.errors",
    "ImageError": "twplate.errors",
    "ModelError": "twplate.errors",
    "BackendUnavailableError": "twplate.errors",
}

__all__ = [
    "BackendUnavailableError",
    "ImageError",
    "ModelError",
    "PhotoReader",
    "PlateRecognizer",
    "PlateResult",
    "TwplateError",
    "__version__",
    "read_photo",
    "recognize",
]

if TYPE_CHECKING:
    from .errors import BackendUnavailableError, ImageError, ModelError, TwplateError
    from .photo import PhotoReader, read_photo
    from .recognizer import PlateRecognizer, recognize
    from .result import PlateResult


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'twplate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
