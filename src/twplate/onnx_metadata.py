"""Read an ONNX file's ``metadata_props`` without onnx or onnxruntime.

``ModelProto`` is a protobuf message; ``metadata_props`` is its field 14, a repeated
``StringStringEntryProto`` (key = field 1, value = field 2). Only the top level is walked and the
large graph field is skipped by its length, so this costs one read of the file. A file that ends
inside a field (truncated) or has an impossible field raises ``ValueError``.
"""

from __future__ import annotations

from pathlib import Path

_METADATA_PROPS = 14


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of the ONNX model at ``path`` as a dict."""
    data = memoryview(Path(path).read_bytes())
    metadata = {}
    for field, value in _fields(data):
        if field == _METADATA_PROPS and isinstance(value, memoryview):
            entry = {f: bytes(v).decode("utf-8") for f, v in _fields(value) if isinstance(v, memoryview)}
            metadata[entry.get(1, "")] = entry.get(2, "")
    return metadata


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: memoryview):
    """Yield ``(field_number, value)``; value is an int or, for length-delimited fields, a memoryview."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ValueError("field number 0")
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise ValueError("truncated fixed-width field")
            value, pos = int.from_bytes(data[pos : pos + size], "little"), pos + size
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError(f"field {field} runs past the end of the data (truncated file?)")
            value, pos = data[pos : pos + length], pos + length
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield field, value
