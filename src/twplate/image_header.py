"""Image size from the first bytes of an encoded file, so huge images are caught before decoding.

Covers JPEG, PNG, BMP, WebP, TIFF (first page), GIF (logical screen) and PBM/PGM/PPM; anything else
returns ``None`` and is left to OpenCV's own limits (2**30 pixels).
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


def read_header(data: bytes | bytearray | memoryview) -> ImageHeader | None:
    """Format and size of an encoded image, or ``None`` if the format is not recognised or the header is cut."""
    head = bytes(data[:32])
    try:
        if head.startswith(b"\xff\xd8"):
            return _jpeg(data)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            w, h = struct.unpack(">II", head[16:24])
            return ImageHeader("png", w, h)
        if head.startswith(b"BM"):
            if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER: 16-bit unsigned sizes
                w, h = struct.unpack("<HH", head[18:22])
            else:
                w, h = struct.unpack("<ii", head[18:26])
            return ImageHeader("bmp", abs(w), abs(h))
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp(head)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff(data)
        if head[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", head[6:10])
            return ImageHeader("gif", w, h)
        if len(head) > 2 and head[0:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
            return _pnm(data)
    except struct.error:  # header shorter than its fields
        return None
    return None


def _jpeg(data: bytes | bytearray | memoryview) -> ImageHeader | None:
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


def _tiff(data: bytes | bytearray | memoryview) -> ImageHeader | None:
    """ImageWidth (256) and ImageLength (257) from the first IFD."""
    view = memoryview(data)
    order = "<" if bytes(view[:2]) == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", view, 4)
    (count,) = struct.unpack_from(order + "H", view, ifd)
    size = {}
    for i in range(count):
        tag, kind, _, value = struct.unpack_from(order + "HHI4s", view, ifd + 2 + 12 * i)
        if tag in (256, 257) and kind in (3, 4):  # SHORT or LONG
            size[tag] = struct.unpack(order + "H", value[:2])[0] if kind == 3 else struct.unpack(order + "I", value)[0]
    return ImageHeader("tiff", size[256], size[257]) if len(size) == 2 else None


def _pnm(data: bytes | bytearray | memoryview) -> ImageHeader | None:
    """Width and height of a PBM/PGM/PPM file: the two numbers after the magic, comments skipped."""
    text = bytes(data[2:256])
    numbers: list[int] = []
    pos = 0
    while len(numbers) < 2 and pos < len(text):
        byte = text[pos : pos + 1]
        if byte == b"#":
            end = text.find(b"\n", pos)
            pos = len(text) if end < 0 else end + 1
        elif byte.isdigit():
            end = pos
            while end < len(text) and text[end : end + 1].isdigit():
                end += 1
            numbers.append(int(text[pos:end]))
            pos = end
        elif byte.isspace():
            pos += 1
        else:
            return None
    return ImageHeader("pnm", numbers[0], numbers[1]) if len(numbers) == 2 else None
