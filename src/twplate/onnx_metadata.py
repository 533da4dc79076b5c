"""Read an ONNX file's ``metadata_props`` without onnx or onnxruntime.

``ModelProto`` is a protobuf message; ``metadata_props`` is its field 14, a repeated
``StringStringEntryProto`` (key = field 1, value = field 2). Only the top level is walked and the
large graph field is skipped by its length, so this costs one read of the file. A file that ends
inside a field (truncated) or has an impossible field raises ``ValueError``.
"""

from __future__ import annotations

from pathlib import Path

from ._protobuf import iter_fields

_METADATA_PROPS = 14


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of the ONNX model at ``path`` as a dict."""
    data = memoryview(Path(path).read_bytes())
    metadata = {}
    for field, value in iter_fields(data):
        if field == _METADATA_PROPS and isinstance(value, memoryview):
            entry = {f: bytes(v).decode("utf-8") for f, v in iter_fields(value) if isinstance(v, memoryview)}
            metadata[entry.get(1, "")] = entry.get(2, "")
    return metadata
