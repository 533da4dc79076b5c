"""Any supported input to one ``(H, W, 3)`` uint8 BGR array, or an :class:`ImageError` naming the input.

Accepted inputs:

* ``str`` / :class:`os.PathLike`: a local regular file, opened as given; nothing is ever fetched (a pipe
  or device is refused rather than read: it could block or never end).
* ``bytes`` / ``bytearray`` / ``memoryview``: an encoded image (JPEG, PNG, BMP, WebP, ... as OpenCV reads).
* :class:`numpy.ndarray`: ``(H, W, 3)`` BGR, ``(H, W)`` or ``(H, W, 1)`` grayscale, ``(H, W, 4)`` BGRA
  (alpha dropped, as :func:`cv2.imread` does). ``uint8`` is used as is; ``bool`` maps to 0/255;
  floats must lie in ``[0, 1]`` (scaled by 255) or ``[0, 255]``; other integer types (``uint16``,
  ``int16``, ...) are used as is when all values lie in ``[0, 255]``, else stretched linearly from
  their min..max to 0..255 (a 16-bit or 12-bit image keeps its look; the contrast may rise).
* PIL images: converted from their mode to RGB, then to BGR. 16-bit modes (``I;16``...) keep their
  high byte, as OpenCV reads a 16-bit file (values all within 0..255, an 8-bit image converted, are
  used as is); ``I`` and ``F`` follow the array rules above. PIL is imported only when such an
  object is passed.

Colour order: arrays are taken as BGR (OpenCV's order), PIL images as RGB (PIL's order).

One image, one reading: a file read by path, as bytes, by :func:`cv2.imread` or as a PIL image gives
the same pixels (up to the JPEG decoder's rounding; within the size limit below). The EXIF
orientation tag is applied to encoded images (OpenCV does) and to PIL images
(:func:`PIL.ImageOps.exif_transpose`); an animated image is read at its first frame (PIL: the frame
it is at); a CMYK or palette image is converted to colour.
Arrays are taken as the pixels they hold: their orientation is the caller's.

Size: encoded images larger than :data:`MAX_DECODE_PIXELS` are refused before decoding, except JPEGs,
which are decoded at 1/2, 1/4 or 1/8 scale (libjpeg's cheap DCT scaling) until they fit: a
20000 x 20000 JPEG becomes 5000 x 5000 (75 MB; 0.2 GB peak for the process) instead of 1.2 GB
(2.4 GB peak). :func:`load_image_and_scale` says by how much, so that a photo's plate boxes can be given in
the file's own pixels. Arrays are used as given.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard, TypeVar, Union

import cv2
import numpy as np

from .errors import ImageError
from .image_header import read_header

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, np.ndarray, "PILImage"]
"""What :func:`load_image` accepts."""
ImageInputs = TypeVar("ImageInputs", bound=ImageInput)
"""The kind of the images in a list or tuple given to a reader: a ``list[str]`` is a list of inputs, although
``list[str]`` is not a ``list[ImageInput]`` to a type checker (lists are invariant)."""

MAX_DECODE_PIXELS = 40_000_000
"""Largest decoded size (width x height) of an encoded image: about 120 MB as BGR."""

_REDUCED_JPEG_FLAGS = ((1, cv2.IMREAD_COLOR), (2, cv2.IMREAD_REDUCED_COLOR_2),
                       (4, cv2.IMREAD_REDUCED_COLOR_4), (8, cv2.IMREAD_REDUCED_COLOR_8))


def describe(source: object) -> str:
    """A short name for an input, for error messages: the path, or the kind and size of the object."""
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        try:
            return f"{type(source).__name__} of {memoryview(source).nbytes} bytes"
        except ValueError:  # a released memoryview
            return f"released {type(source).__name__}"
    if isinstance(source, np.ndarray):
        return f"array of shape {source.shape} and dtype {source.dtype}"
    if _is_pil_image(source):
        return f"PIL image of mode {source.mode!r} and size {source.size}"
    return f"object of type {type(source).__name__}"


def load_image(source: ImageInput) -> np.ndarray:
    """Load ``source`` as a C-contiguous ``(H, W, 3)`` uint8 BGR array.

    Raises:
        ImageError: the input is missing, unreadable, not an image, empty, too large, of an
            unsupported shape or dtype, or holds NaN/inf. The message names the input.
    """
    return load_image_and_scale(source)[0]


def load_image_and_scale(source: ImageInput) -> tuple[np.ndarray, int]:
    """:func:`load_image`, and the factor by which the image was decoded smaller than it is: 1, or 2, 4 or 8
    for a JPEG over :data:`MAX_DECODE_PIXELS` (see the module docstring). A pixel ``(x, y)`` of the array is
    ``(x * scale, y * scale)`` in the image as its file describes it, which is where a photo's plate boxes
    are given."""
    try:
        if isinstance(source, (str, os.PathLike)):
            return _decode(_read_file(source))
        if isinstance(source, (bytes, bytearray, memoryview)):
            return _decode(_contiguous(source))
        if isinstance(source, np.ndarray):
            return array_to_bgr(source), 1
        if _is_pil_image(source):
            return _pil_to_bgr(source), 1
        raise ImageError("unsupported input type; pass a path, encoded bytes, a numpy array or a PIL image")
    except ImageError as exc:
        raise ImageError(f"{describe(source)}: {exc}") from exc.__cause__


def _read_file(path: str | os.PathLike[str]) -> bytes:
    p = Path(path)
    try:
        mode = p.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ImageError("is a directory, not an image file")
        if not stat.S_ISREG(mode):  # a FIFO would block the batch, a device (/dev/zero) never end
            raise ImageError("not a regular file (a pipe, socket or device)")
        return p.read_bytes()
    except ImageError:
        raise
    except FileNotFoundError as exc:
        raise ImageError("no such file") from exc
    except IsADirectoryError as exc:
        raise ImageError("is a directory, not an image file") from exc
    except OSError as exc:
        raise ImageError(f"cannot read file ({exc.strerror or exc})") from exc
    except ValueError as exc:  # e.g. an embedded NUL character
        raise ImageError(f"invalid path ({exc})") from exc


def _contiguous(data: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """Encoded bytes as one contiguous buffer (a strided memoryview is copied)."""
    if isinstance(data, memoryview):
        try:
            return data if data.c_contiguous else data.tobytes()
        except ValueError as exc:  # released
            raise ImageError(f"unusable memoryview ({exc})") from exc
    return data


def decode_image(data: bytes | bytearray | memoryview) -> np.ndarray:
    """Decode an encoded image to ``(H, W, 3)`` uint8 BGR, refusing sizes beyond :data:`MAX_DECODE_PIXELS`."""
    return _decode(data)[0]


def _decode(data: bytes | bytearray | memoryview) -> tuple[np.ndarray, int]:
    """:func:`decode_image`, and the factor a large JPEG was decoded smaller by (1 for every other image)."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size == 0:
        raise ImageError("empty data")
    header = read_header(data)
    scale, flag = _REDUCED_JPEG_FLAGS[0]
    if header is not None:
        if header.width == 0 or header.height == 0:
            raise ImageError(f"{header.format} header says {header.width} x {header.height} pixels")
        pixels = header.width * header.height
        scales = _REDUCED_JPEG_FLAGS if header.format == "jpeg" else _REDUCED_JPEG_FLAGS[:1]  # (1, IMREAD_COLOR)
        fitting = [(s, f) for s, f in scales if pixels / (s * s) <= MAX_DECODE_PIXELS]
        if not fitting:
            raise ImageError(f"{header.format} of {header.width} x {header.height} pixels is larger than "
                             f"the limit of {MAX_DECODE_PIXELS} pixels")
        scale, flag = fitting[0]
    try:
        image = cv2.imdecode(buffer, flag)
    except cv2.error as exc:
        raise ImageError(f"cannot decode ({exc})") from exc
    if image is None:
        raise ImageError("cannot decode: not an image, or truncated/corrupt")
    return image, scale


def array_to_bgr(array: np.ndarray) -> np.ndarray:
    """Convert an array by the rules in the module docstring."""
    if array.size == 0:
        raise ImageError("image is empty")
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        channels = array.shape[2]
    elif array.ndim == 2:
        channels = 1
    else:
        raise ImageError("expected shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)")
    image = np.ascontiguousarray(_to_uint8(array))
    if channels == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _to_uint8(array: np.ndarray) -> np.ndarray:
    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return array
    if kind == "b":
        return array.astype(np.uint8) * np.uint8(255)
    if kind == "f":
        lo, hi = float(np.min(array)), float(np.max(array))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ImageError("image contains NaN or infinite values")
        if lo < 0.0 or hi > 255.0:
            raise ImageError(f"float values must lie in [0, 1] or [0, 255], found [{lo:g}, {hi:g}]")
        scale = 255.0 if hi <= 1.0 else 1.0
        return np.rint(array.astype(np.float32) * scale).astype(np.uint8)
    if kind in "iu":
        lo, hi = int(np.min(array)), int(np.max(array))
        if lo >= 0 and hi <= 255:
            return array.astype(np.uint8)
        span = max(hi - lo, 1)
        return np.rint((array.astype(np.float64) - lo) * (255.0 / span)).astype(np.uint8)
    raise ImageError(f"unsupported dtype {array.dtype}")


def _is_pil_image(obj: object) -> TypeGuard[PILImage]:
    """True for PIL images, without importing PIL unless the object's class comes from it."""
    module = type(obj).__module__ or ""
    if not module.startswith("PIL."):
        return False
    from PIL import Image

    return isinstance(obj, Image.Image)


def _pil_to_bgr(image: PILImage) -> np.ndarray:
    from PIL import ImageOps

    try:
        image.load()  # a lazily opened file is decoded here; PIL's decoders raise many types on bad data
        image = ImageOps.exif_transpose(image)  # upright, as OpenCV decodes the same file
    except Exception as exc:
        raise ImageError(f"cannot load PIL image ({type(exc).__name__}: {exc})") from exc
    if image.width == 0 or image.height == 0:
        raise ImageError("image is empty")
    if image.mode.startswith("I;16"):
        array = np.asarray(image).astype(np.uint16)
        if array.max() > 255:  # 16-bit data: its high byte, as OpenCV reads a 16-bit file
            array >>= 8
        return array_to_bgr(array.astype(np.uint8))
    if image.mode.startswith("I") or image.mode == "F":
        array = np.asarray(image)
        return array_to_bgr(array.astype(array.dtype.newbyteorder("=")))
    if image.mode != "RGB":
        try:
            if image.mode == "La":  # premultiplied L + alpha: PIL converts it only to LA
                image = image.convert("LA")
            image = image.convert("RGBA" if "transparency" in image.info else "RGB").convert("RGB")
        except (ValueError, OSError) as exc:
            raise ImageError(f"cannot convert PIL mode {image.mode!r} to RGB ({exc})") from exc
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
