"""Structural check of a Paddle ``.pdiparams`` file, because Paddle Inference loads a truncated one silently.

The file is a sequence of tensors, each stored as: ``uint32`` version, ``uint64`` LoD level count
and the LoD levels (``uint64`` byte size + data each), ``uint32`` tensor version, ``int32`` size of
a ``TensorDesc`` protobuf (field 1 data type, field 2 dims), the protobuf, then the raw data. A file
that ends inside a tensor, or has bytes left after the last one, is corrupt.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

from ._protobuf import iter_fields, read_varint

# Paddle VarType codes -> element size in bytes (bool, int16, int32, int64, fp16, fp32, fp64,
# uint8, int8, bf16, complex64, complex128).
_ITEM_SIZE = {0: 1, 1: 2, 2: 4, 3: 8, 4: 2, 5: 4, 6: 8, 20: 1, 21: 1, 22: 2, 23: 8, 24: 16}


def check_pdiparams(path: str | Path) -> int:
    """Walk every tensor of a ``.pdiparams`` file; return how many there are.

    Raises:
        ValueError: the file is truncated, has trailing bytes or an unreadable tensor header.
    """
    data = memoryview(Path(path).read_bytes())
    pos, count = 0, 0
    try:
        while pos < len(data):
            pos += 4  # version
            (levels,) = struct.unpack_from("<Q", data, pos)
            pos += 8
            for _ in range(levels):
                (size,) = struct.unpack_from("<Q", data, pos)
                pos += 8 + size
                if pos > len(data):
                    raise ValueError(f"tensor {count}: LoD runs past the end of the file")
            pos += 4  # tensor version
            (desc_size,) = struct.unpack_from("<i", data, pos)
            pos += 4
            if desc_size < 0 or pos + desc_size > len(data):
                raise ValueError(f"tensor {count}: header runs past the end of the file")
            dtype, dims = _tensor_desc(data[pos : pos + desc_size])
            pos += desc_size + _ITEM_SIZE[dtype] * math.prod(dims)
            if pos > len(data):
                raise ValueError(f"tensor {count} {dims}: data runs past the end of the file (truncated?)")
            count += 1
    except struct.error as exc:
        raise ValueError(f"tensor {count}: file ends inside its header (truncated?)") from exc
    except KeyError as exc:
        raise ValueError(f"tensor {count}: unknown data type {exc}") from exc
    return count


def _tensor_desc(message: memoryview) -> tuple[int, list[int]]:
    dtype, dims = None, []
    for field, value in iter_fields(message):
        if field == 1 and isinstance(value, int):
            dtype = value
        elif field == 2 and isinstance(value, int):
            dims.append(value)
        elif field == 2:  # packed repeated int64
            pos = 0
            while pos < len(value):
                dim, pos = read_varint(value, pos)
                dims.append(dim)
    if dtype is None or any(d < 0 or d >= 1 << 62 for d in dims):
        raise ValueError(f"invalid tensor header (type {dtype}, dims {dims})")
    return dtype, dims
