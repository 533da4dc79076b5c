"""What a service instance loads and what it accepts: one frozen dataclass, no web framework imported.

``twplate serve`` builds it from its arguments; with ``--workers N`` it travels to each uvicorn worker
process as JSON in the :data:`CONFIG_ENV` environment variable (:meth:`ServeConfig.to_env`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..backends import runtime_options

CONFIG_ENV = "TWPLATE_SERVE_CONFIG"
API_KEY_ENV = "TWPLATE_API_KEY"
API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True)
class ServeConfig:
    """Model options (as :class:`twplate.PlateRecognizer` takes them), batching and request limits.

    Attributes:
        model: a shipped model's name, a model directory or ``.onnx`` file; ``None`` for the shipped model.
        backend: ``"auto"``, ``"onnxruntime"``, ``"paddle"`` or ``"openvino"``.
        batch_size: the recognizer's batch size, and the most images one gathered batch holds.
        threads: CPU threads for the backend (``None``: the runtime's default).
        input_width: read every crop at this width (``PlateRecognizer(input_width=...)``).
        precision: the backend's ``precision`` option (``None``: its default), e.g. ``"bf16"`` on openvino.
        streams: the openvino backend's ``streams`` option (``None``: its default).
        plate_formats: as ``PlateRecognizer(plate_formats=...)``.
        photo: load a photo reader (``?photo=true``) when this twplate has one.
        straighten: the default of a request's ``?straighten``: read crops as
            :meth:`twplate.photo.PhotoReader.read_crops` does (a narrow crop, a plate hanging steeply in its box, is
            also read through the text detector, which cuts the plate out upright).
        max_wait_ms: how long a batch waits for another request (:mod:`.batching`).
        max_images: images allowed in one request (more: 400).
        max_body_bytes: request body size allowed (more: 413, checked as the body arrives).
        body_timeout_s: longest pause allowed while a request body arrives (longer: 408).
        api_key: when set, ``POST /v1/read`` needs it in the ``X-API-Key`` header (else 401).
    """

    model: str | None = None
    backend: str = "auto"
    batch_size: int = 32
    threads: int | None = None
    input_width: int | None = None
    precision: str | None = None
    streams: int | None = None
    plate_formats: bool | None = None
    photo: bool = True
    straighten: bool = False
    max_wait_ms: float = 5.0
    max_images: int = 64
    max_body_bytes: int = 20 * 1024 * 1024
    body_timeout_s: float = 30.0
    api_key: str | None = None

    def __post_init__(self) -> None:
        for name in ("photo", "straighten", "plate_formats"):
            value = getattr(self, name)
            if not isinstance(value, bool) and not (name == "plate_formats" and value is None):
                raise ValueError(f"{name} must be true or false, not {value!r}")
        for name in ("batch_size", "max_images", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        if self.max_wait_ms < 0 or self.body_timeout_s <= 0:
            raise ValueError("max_wait_ms must be >= 0 and body_timeout_s > 0")

    def backend_options(self) -> dict[str, Any]:
        """The backend options this config sets (``precision``, ``streams``), for both models."""
        return runtime_options(asdict(self))

    def to_env(self) -> str:
        """The config as JSON, for :data:`CONFIG_ENV`."""
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        """The config in :data:`CONFIG_ENV` (defaults when unset); the API key may come from :data:`API_KEY_ENV`."""
        values = json.loads(os.environ.get(CONFIG_ENV) or "{}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{CONFIG_ENV} has unknown keys {unknown}")
        if values.get("api_key") is None and os.environ.get(API_KEY_ENV):
            values["api_key"] = os.environ[API_KEY_ENV]
        return cls(**values)
