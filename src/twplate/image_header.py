"""Image size from the first bytes of an encoded file, so huge images are caught before decoding.

Covers JPEG, PNG, BMP and WebP; anything else returns ``None`` and is left to OpenCV's own limits.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

# SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class ImageHeader(NamedTuple):
    format: str
    width: int
    height: int


def read_header(data: bytes | memoryview) -> ImageHeader | None:
    """Format and size of an encoded image, or ``None`` if the format is not recognised or the header is cut."""
    head = bytes(data[:32])
    try:
        if head.startswith(b"\xff\xd8"):
            return _jpeg(data)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            w, h = struct.unpack(">II", head[16:24])
            return ImageHeader("png", w, h)
        if head.startswith(b"BM"):
            w, h = struct.unpack("<ii", head[18:26])
            return ImageHeader("bmp", abs(w), abs(h))
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp(head)
    except struct.error:  # header shorter than its fields
        return None
    return None


def _jpeg(data: bytes | memoryview) -> ImageHeader | None:
    """Walk the marker segments up to the first start-of-frame."""
    view = memoryview(data)
    pos = 2
    while pos + 4 <= len(view):
        if view[pos] != 0xFF:
            return None
        marker = view[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", view[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            h, w = struct.unpack(">HH", view[pos + 5 : pos + 9])
            return ImageHeader("jpeg", w, h)
        if marker in (0xD9, 0xDA) or length < 2:  # end of image or start of scan before any frame
            return None
        pos += 2 + length
    return None


def _webp(head: bytes) -> ImageHeader | None:
    chunk = head[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", head[26:30])
        return ImageHeader("webp", w & 0x3FFF, h & 0x3FFF)
    if chunk == b"VP8L":
        (bits,) = struct.unpack("<I", head[21:25])
        return ImageHeader("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return ImageHeader("webp", w, h)
    return None
