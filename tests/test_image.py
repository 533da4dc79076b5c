"""Image loading: every input kind, colour order, one reading whatever the input kind, and bad inputs."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tiny_models
from twplate import PlateRecognizer
from twplate.errors import ImageError, TwplateError
from twplate.image import MAX_DECODE_PIXELS, load_image
from twplate.image_header import read_header

Image = pytest.importorskip("PIL.Image")
FAST = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

# A 2 x 3 BGR image with a distinct colour per pixel, to check colour order and orientation.
BGR = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]],
                [[10, 20, 30], [40, 50, 60], [200, 100, 0]]], dtype=np.uint8)


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


# ---------------------------------------------------------------- good inputs

def test_bgr_array_is_used_as_is() -> None:
    out = load_image(BGR)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, BGR)


def test_path_str_and_pathlike(tmp_path: Path) -> None:
    path = tmp_path / "plate.png"
    path.write_bytes(encode(BGR))
    np.testing.assert_array_equal(load_image(path), BGR)
    np.testing.assert_array_equal(load_image(str(path)), BGR)


def test_unicode_path(tmp_path: Path) -> None:
    path = tmp_path / "車牌 外0872.png"
    path.write_bytes(encode(BGR))
    np.testing.assert_array_equal(load_image(path), BGR)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_encoded_bytes(kind: type) -> None:
    np.testing.assert_array_equal(load_image(kind(encode(BGR))), BGR)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".webp", ".jpg"])
def test_formats_decode_to_same_size(ext: str) -> None:
    image = np.random.default_rng(0).integers(0, 255, (40, 130, 3), dtype=np.uint8)
    out = load_image(encode(image, ext))
    assert out.shape == (40, 130, 3)
    if ext in (".png", ".bmp"):
        np.testing.assert_array_equal(out, image)


def test_grayscale_2d_and_single_channel() -> None:
    grey = np.array([[0, 128], [255, 7]], np.uint8)
    for array in (grey, grey[:, :, None]):
        out = load_image(array)
        assert out.shape == (2, 2, 3)
        np.testing.assert_array_equal(out, np.repeat(grey[:, :, None], 3, axis=2))


def test_bgra_drops_alpha() -> None:
    bgra = np.concatenate([BGR, np.full((2, 3, 1), 17, np.uint8)], axis=2)
    np.testing.assert_array_equal(load_image(bgra), BGR)


def test_non_contiguous_arrays() -> None:
    wide = np.zeros((2, 6, 3), np.uint8)
    wide[:, ::2] = BGR
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(load_image(view), BGR)
    flipped = BGR[:, ::-1]
    np.testing.assert_array_equal(load_image(flipped), BGR[:, ::-1])
    fortran = np.asfortranarray(BGR)
    out = load_image(fortran)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, BGR)


def test_input_array_is_not_modified() -> None:
    before = BGR.copy()
    load_image(BGR)
    np.testing.assert_array_equal(BGR, before)


@pytest.mark.parametrize(("array", "expected"), [
    (BGR.astype(np.float32) / 255.0, BGR),                       # float in [0, 1]
    (BGR.astype(np.float64), BGR),                               # float in [0, 255]
    (BGR.astype(np.float16) / 255.0, BGR),
    (BGR.astype(np.uint16) * 257, BGR),                          # 16-bit range, stretched
    (BGR.astype(np.uint16), BGR),                                # 8-bit values in uint16
    (BGR.astype(np.int16), BGR),                                 # int16 within [0, 255]
    (BGR.astype(np.int64), BGR),
    (BGR > 100, np.where(BGR > 100, 255, 0).astype(np.uint8)),   # bool
])
def test_other_dtypes(array: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(load_image(array), expected)


def test_int16_outside_8bit_range_is_stretched() -> None:
    array = np.array([[-1000, 0], [1000, 3000]], np.int16)
    out = load_image(array)[..., 0]
    np.testing.assert_array_equal(out, [[0, 64], [128, 255]])


ACCEPTED_DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_]


@st.composite
def accepted_arrays(draw: st.DrawFn, max_side: int = 48) -> np.ndarray:
    """Arrays load_image accepts: any size, 2-D or 1/3/4 channels, any of the documented dtypes."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = np.dtype(draw(st.sampled_from(ACCEPTED_DTYPES)))
    if dtype.kind == "f":
        top = draw(st.sampled_from([1.0, 255.0]))
        elements = st.floats(0.0, top, width=min(dtype.itemsize * 8, 64), allow_nan=False, allow_infinity=False)
    else:
        elements = None  # the dtype's whole range
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    layout = draw(st.sampled_from(["c", "fortran", "flipped"]))
    if layout == "fortran":
        array = np.asfortranarray(array)
    elif layout == "flipped":
        array = array[::-1, ::-1]
    return array


@FAST
@given(accepted_arrays())
def test_load_image_output_shape_dtype(array: np.ndarray) -> None:
    out = load_image(array)
    h, w = array.shape[:2]
    assert out.shape == (h, w, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    if array.ndim == 2 or array.shape[2] == 1:  # grey: three equal channels
        assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] in (3, 4):
        np.testing.assert_array_equal(out, array[..., :3])  # BGR(A) used as is


@FAST
@given(accepted_arrays())
def test_integer_arrays_kept_or_stretched(array: np.ndarray) -> None:
    """Integers in [0, 255] are used as is; others are stretched linearly, keeping the order of values."""
    assume(array.dtype.kind in "iu")
    out = load_image(array)
    src = array.reshape(*array.shape[:2], -1)
    colour = src[..., :3] if src.shape[2] >= 3 else np.broadcast_to(src, out.shape)
    if array.min() >= 0 and array.max() <= 255:
        np.testing.assert_array_equal(out, colour)
    else:
        order = np.argsort(colour.ravel().astype(np.float64), kind="stable")
        assert np.all(np.diff(out.ravel()[order].astype(int)) >= 0)
        if src.shape[2] != 4 and array.max() > array.min():  # the stretch spans min..max
            assert out.min() == 0 and out.max() == 255


def test_pil_rgb_is_converted_to_bgr() -> None:
    pil = Image.fromarray(BGR[:, :, ::-1].copy(), "RGB")   # same colours, PIL's RGB order
    np.testing.assert_array_equal(load_image(pil), BGR)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "PA", "RGBA", "1", "CMYK", "I", "F", "I;16"])
def test_pil_modes(mode: str) -> None:
    grey = np.array([[0, 255, 255], [0, 255, 0]], np.uint8)
    pil = Image.fromarray(grey, "L").convert(mode)
    out = load_image(pil)
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], grey)  # black stays black, white stays white
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_pil_i16_keeps_the_high_byte() -> None:
    """As OpenCV reads a 16-bit file, so a 16-bit PNG reads the same by path and as a PIL image."""
    pil = Image.fromarray(np.array([[0, 65535, 32896]], np.uint16))
    assert pil.mode == "I;16"
    np.testing.assert_array_equal(load_image(pil)[..., 0], [[0, 255, 128]])
    twelve_bit = Image.fromarray(np.array([[100, 4095, 2098]], np.uint16))
    np.testing.assert_array_equal(load_image(twelve_bit)[..., 0], [[0, 15, 8]])


def test_pil_palette_with_transparency() -> None:
    pil = Image.fromarray(BGR[:, :, ::-1].copy(), "RGB").convert("P")
    pil.info["transparency"] = 0
    assert load_image(pil).shape == (2, 3, 3)


def test_pil_lazy_truncated_file(tmp_path: Path) -> None:
    buf = io.BytesIO()
    noise = np.random.default_rng(4).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, "JPEG")
    pil = Image.open(io.BytesIO(buf.getvalue()[: len(buf.getvalue()) // 2]))  # header fine, pixels cut
    with pytest.raises(ImageError, match="PIL image"):
        load_image(pil)


def test_one_by_one_image() -> None:
    assert load_image(np.zeros((1, 1, 3), np.uint8)).shape == (1, 1, 3)
    assert load_image(encode(np.zeros((1, 1, 3), np.uint8))).shape == (1, 1, 3)


@pytest.mark.slow
def test_huge_jpeg_is_decoded_reduced(tmp_path: Path) -> None:
    """A 20000 x 20000 JPEG decodes at 1/4 scale (75 MB), not at full size (1.2 GB)."""
    image = np.full((20000, 20000, 3), 255, np.uint8)
    cv2.putText(image, "ABC", (1000, 12000), cv2.FONT_HERSHEY_SIMPLEX, 100, (0, 0, 0), 200)
    data = encode(image, ".jpg")
    del image
    assert read_header(data)[1:] == (20000, 20000)
    out = load_image(data)
    assert out.shape == (5000, 5000, 3)
    assert out.min() < 50 and out.max() > 200  # text and background both survived


def test_large_jpeg_reduction_keeps_aspect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("twplate.image.MAX_DECODE_PIXELS", 1000)
    out = load_image(encode(np.zeros((48, 160, 3), np.uint8), ".jpg"))  # 7680 px -> 1/4 = 480 px
    assert out.shape == (12, 40, 3)


# ---------------------------------------------------------------- one image, one reading, whatever the input kind

PLATE = "ABC-1234"
STORED_TURNS = {3: 2, 6: 1, 8: -1}
"""EXIF orientation -> quarter turns (``np.rot90``) of the upright image that a file with it stores."""


def _pil_plate(text: str = PLATE) -> PILImage:
    return Image.fromarray(tiny_models.stripe_image(text)[:, :, ::-1].copy(), "RGB")


def _encoded(image: PILImage, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def _turned(fmt: str, orientation: int, **options: object) -> bytes:
    """The plate stored turned, with the EXIF orientation that says how to turn it upright (as phones write)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = np.rot90(tiny_models.stripe_image(PLATE)[:, :, ::-1], STORED_TURNS[orientation])
    return _encoded(Image.fromarray(np.ascontiguousarray(stored), "RGB"), fmt, exif=exif, **options)


def _animated(fmt: str, **options: object) -> bytes:
    """The plate, then another plate as a second frame: every input kind reads the first."""
    frames = [_pil_plate(), _pil_plate("XYZ-9876")]
    if fmt == "GIF":
        frames = [f.convert("P", palette=Image.Palette.ADAPTIVE) for f in frames]
    return _encoded(frames[0], fmt, save_all=True, append_images=frames[1:], **options)


def _sixteen_bit(channels: int) -> bytes:
    """The plate as a 16-bit PNG (each 8-bit value v stored as 257 v), grey or colour."""
    plate = tiny_models.stripe_image(PLATE).astype(np.uint16) * 257
    ok, buf = cv2.imencode(".png", plate[:, :, 0] if channels == 1 else plate)
    assert ok
    return buf.tobytes()


JPEG_EXACT = {"quality": 100, "subsampling": 0}
SAME_IMAGE_CASES = {  # name: (encoded file, extension, largest pixel difference between the input kinds)
    "exif-6-jpeg": (lambda: _turned("JPEG", 6, **JPEG_EXACT), ".jpg", 0),
    "exif-8-jpeg": (lambda: _turned("JPEG", 8, **JPEG_EXACT), ".jpg", 0),
    "exif-3-jpeg": (lambda: _turned("JPEG", 3, **JPEG_EXACT), ".jpg", 0),
    "exif-6-png": (lambda: _turned("PNG", 6), ".png", 0),
    "exif-8-webp": (lambda: _turned("WEBP", 8, lossless=True), ".webp", 0),
    "cmyk-jpeg": (lambda: _encoded(_pil_plate().convert("CMYK"), "JPEG", **JPEG_EXACT), ".jpg", 1),
    "cmyk-tiff": (lambda: _encoded(_pil_plate().convert("CMYK"), "TIFF"), ".tif", 0),
    "16-bit-grey-png": (lambda: _sixteen_bit(1), ".png", 0),
    "16-bit-colour-png": (lambda: _sixteen_bit(3), ".png", 0),
    "palette-png": (lambda: _encoded(_pil_plate().convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), ".png", 0),
    "palette-gif": (lambda: _encoded(_pil_plate().convert("P", palette=Image.Palette.ADAPTIVE), "GIF"), ".gif", 0),
    "animated-gif": (lambda: _animated("GIF"), ".gif", 0),
    "animated-png": (lambda: _animated("PNG"), ".png", 0),
    "animated-webp": (lambda: _animated("WEBP", lossless=True), ".webp", 0),
}


@pytest.mark.parametrize("case", sorted(SAME_IMAGE_CASES))
def test_every_input_kind_gives_the_same_image_and_reading(case: str, tmp_path: Path, tiny_model_dir: Path) -> None:
    """A file by path, as bytes, as the array cv2.imread makes of it and as a PIL image: one image, one reading."""
    encoded, ext, tolerance = SAME_IMAGE_CASES[case]
    path = tmp_path / f"plate{ext}"
    path.write_bytes(encoded())
    inputs = {"path": path, "bytes": path.read_bytes(), "cv2.imread": cv2.imread(str(path)), "PIL": Image.open(path)}
    images = {kind: load_image(source) for kind, source in inputs.items()}
    upright = tiny_models.stripe_image(PLATE)
    for kind, image in images.items():
        assert image.shape == upright.shape, kind
        assert np.abs(image.astype(int) - images["path"]).max() <= tolerance, kind
    readings = PlateRecognizer(tiny_model_dir)(list(inputs.values()))
    assert {kind: r.text for kind, r in zip(inputs, readings, strict=True)} == dict.fromkeys(inputs, PLATE)


# ---------------------------------------------------------------- bad inputs

def _bad(source: object, match: str) -> ImageError:
    with pytest.raises(ImageError, match=match) as info:
        load_image(source)
    assert isinstance(info.value, TwplateError)
    return info.value


def test_missing_path_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.jpg"
    err = _bad(path, "no such file")
    assert str(path) in str(err)


def test_directory(tmp_path: Path) -> None:
    assert str(tmp_path) in str(_bad(tmp_path, "directory"))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert "empty.jpg" in str(_bad(path, "empty"))


def test_non_image_bytes() -> None:
    _bad(b"this is not an image at all", "bytes of 27 bytes: cannot decode")


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp"])
def test_truncated_files(tmp_path: Path, ext: str) -> None:
    data = encode(np.random.default_rng(1).integers(0, 255, (60, 200, 3), dtype=np.uint8), ext)
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[: len(data) * 2 // 3])
    assert f"cut{ext}" in str(_bad(path, "cannot decode"))


def test_url_is_not_fetched() -> None:
    _bad("https://example.com/plate.jpg", "no such file")


def test_too_large_png_refused_before_decoding() -> None:
    # An 8-byte-per-row PNG header claiming 20000 x 20000 pixels; no pixel data is ever allocated.
    header = encode(np.zeros((1, 1, 3), np.uint8))
    ihdr = bytearray(header)
    ihdr[16:24] = (20000).to_bytes(4, "big") * 2
    _bad(bytes(ihdr), f"limit of {MAX_DECODE_PIXELS}")


@pytest.mark.parametrize(("array", "match"), [
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    (np.zeros((10, 0), np.uint8), "empty"),
    (np.zeros((2, 2, 2, 2, 3), np.uint8), "expected shape"),   # 5-D
    (np.zeros((1, 8, 8, 3), np.uint8), "expected shape"),      # 4-D batch
    (np.zeros(10, np.uint8), "expected shape"),
    (np.zeros((8, 8, 2), np.uint8), "expected shape"),
    (np.array(3, np.uint8), "expected shape"),
    (np.full((4, 4), np.nan, np.float32), "NaN"),
    (np.array([[0.5, np.inf]], np.float64), "NaN or infinite"),
    (np.array([[-0.5, 0.2]], np.float32), r"\[0, 1\] or \[0, 255\]"),
    (np.array([[3.0, 300.0]], np.float32), r"\[0, 1\] or \[0, 255\]"),
    (np.zeros((4, 4), np.complex64), "dtype"),
    (np.array([["a", "b"]]), "dtype"),
])
def test_bad_arrays(array: np.ndarray, match: str) -> None:
    err = _bad(array, match)
    assert f"shape {array.shape}" in str(err)  # names the input


@pytest.mark.parametrize("source", [None, 42, 3.5, {"a": 1}, object()])
def test_unsupported_types(source: object) -> None:
    _bad(source, "unsupported input type")


# ---------------------------------------------------------------- headers


def test_header_reader_on_formats() -> None:
    image = np.random.default_rng(3).integers(0, 255, (37, 123, 3), dtype=np.uint8)
    for ext, fmt in ((".jpg", "jpeg"), (".png", "png"), (".bmp", "bmp"), (".webp", "webp")):
        assert read_header(encode(image, ext)) == (fmt, 123, 37)
    for pil_format in ("WEBP", "JPEG", "PNG", "BMP"):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, pil_format, **({"lossless": False} if pil_format == "WEBP" else {}))
        assert read_header(buf.getvalue())[1:] == (123, 37), pil_format
    assert read_header(b"GIF89a") is None
    assert read_header(b"\xff\xd8\xff") is None


def test_an_os2_bmp_reads_its_16_bit_size() -> None:
    """An OS/2 BMP (12-byte BITMAPCOREHEADER) stores width and height as two uint16, not two int32."""
    image = np.random.default_rng(4).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    rows = b"".join(image[y].tobytes() for y in range(47, -1, -1))  # bottom-up, 64 * 3 bytes: already 4-aligned
    data = (b"BM" + struct.pack("<IHHI", 26 + len(rows), 0, 0, 26)
            + struct.pack("<IHHHH", 12, 64, 48, 1, 24) + rows)
    assert read_header(data) == ("bmp", 64, 48)
    np.testing.assert_array_equal(load_image(data), image)
