"""Preprocessing: target widths, tensor values and layout, padding, colour order, batching."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from twplate.preprocess import PreprocessConfig, make_batch, resize_normalize, width_groups

CFG = PreprocessConfig(min_width=160)  # the clamp logic, independent of the default floor
DEFAULT = PreprocessConfig()
FAST = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@pytest.mark.parametrize(("h", "w", "expected"), [
    (48, 160, 160),   # exact
    (48, 200, 200),
    (24, 100, 200),   # ceil(48 * 100 / 24)
    (30, 100, 160),   # ceil(160.0) -> 160
    (31, 100, 160),   # ceil(154.8) = 155 -> floor 160
    (100, 20, 160),   # tall image: floor
    (10, 1000, 320),  # very wide: cap
    (1, 1, 160),
])
def test_target_width(h: int, w: int, expected: int) -> None:
    assert CFG.target_width(h, w) == expected


def test_values_layout_and_normalisation() -> None:
    image = np.zeros((48, 160, 3), np.uint8)
    image[..., 0] = 255  # blue
    image[..., 1] = 0
    image[..., 2] = 51
    x = resize_normalize(image, CFG)
    assert x.shape == (3, 48, 160) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], 1.0)   # channel 0 stays B: BGR in, BGR out
    np.testing.assert_allclose(x[1], -1.0)
    np.testing.assert_allclose(x[2], 51 / 255 * 2 - 1, rtol=1e-6)


def test_resize_keeps_aspect_ratio() -> None:
    image = np.zeros((96, 400, 3), np.uint8)
    assert resize_normalize(image, CFG).shape == (3, 48, 200)


def test_resize_of_tiny_and_extreme_images() -> None:
    assert resize_normalize(np.zeros((1, 1, 3), np.uint8), CFG).shape == (3, 48, 160)
    assert resize_normalize(np.zeros((1, 5000, 3), np.uint8), CFG).shape == (3, 48, 320)
    assert resize_normalize(np.zeros((5000, 1, 3), np.uint8), CFG).shape == (3, 48, 160)


def test_make_batch_normalises_and_pads_right_with_zeros() -> None:
    a = np.full((48, 160, 3), 255, np.uint8)
    b = np.full((48, 200, 3), 51, np.uint8)
    batch = make_batch([a, b], CFG)
    assert batch.shape == (2, 3, 48, 200) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0, :, :, :160], 1.0)
    np.testing.assert_array_equal(batch[0, :, :, 160:], 0.0)  # 0 = mid grey after normalisation
    np.testing.assert_allclose(batch[1], 51 / 255 * 2 - 1, rtol=1e-6)


def test_make_batch_refuses_a_width_narrower_than_a_crop() -> None:
    with pytest.raises(ValueError, match="narrower than the widest crop"):
        make_batch([np.zeros((48, 100, 3), np.uint8)], CFG, width=99)


# ---------------------------------------------------------------- properties


@FAST
@given(st.integers(1, 400), st.integers(1, 3000), st.integers(0, 255))
def test_resize_normalize_shape_dtype_range(h: int, w: int, value: int) -> None:
    image = np.full((h, w, 3), value, np.uint8)
    image[0, 0] = 255 - value  # not quite constant
    x = resize_normalize(image, DEFAULT)
    width = min(DEFAULT.max_width, max(DEFAULT.min_width, ceil_div(DEFAULT.height * w, h)))
    assert x.shape == (3, DEFAULT.height, width) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0


@FAST
@given(st.integers(1, 100), st.integers(1, 1000), st.integers(0, 255))
def test_constant_image_normalises_to_its_value(h: int, w: int, value: int) -> None:
    x = resize_normalize(np.full((h, w, 3), value, np.uint8), DEFAULT)
    np.testing.assert_allclose(x, (value / 255.0 - DEFAULT.mean) / DEFAULT.std, atol=1e-6)


@st.composite
def configs(draw: st.DrawFn) -> PreprocessConfig:
    height = draw(st.integers(8, 64))
    lo = draw(st.integers(1, 400))
    hi = draw(st.integers(lo, 800))
    mean = draw(st.floats(0.0, 1.0))
    std = draw(st.floats(0.05, 1.0))
    return PreprocessConfig(height=height, min_width=lo, max_width=hi, mean=mean, std=std)


@FAST
@given(configs(), st.integers(1, 10**6), st.integers(1, 10**6))
def test_width_rule(cfg: PreprocessConfig, h: int, w: int) -> None:
    """target width = clamp(ceil(height * w / h), min_width, max_width), computed exactly."""
    assert cfg.target_width(h, w) == min(cfg.max_width, max(cfg.min_width, ceil_div(cfg.height * w, h)))


@FAST
@given(configs(), st.integers(1, 120), st.integers(1, 600), st.data())
def test_resize_normalize_any_config(cfg: PreprocessConfig, h: int, w: int, data: st.DataObject) -> None:
    image = data.draw(hnp.arrays(np.uint8, (h, w, 3)))
    x = resize_normalize(image, cfg)
    assert x.shape == (3, cfg.height, cfg.target_width(h, w)) and x.dtype == np.float32
    lo, hi = (0.0 - cfg.mean) / cfg.std, (1.0 - cfg.mean) / cfg.std
    assert x.min() >= lo - 1e-5 and x.max() <= hi + 1e-5
    assert np.isfinite(x).all()


@FAST
@given(configs(), st.lists(st.integers(1, 40), min_size=1, max_size=6), st.integers(0, 8), st.data())
def test_make_batch_rows_are_each_crop_alone_then_zeros(cfg: PreprocessConfig, widths: list[int], extra: int,
                                                        data: st.DataObject) -> None:
    """A row is its crop normalised exactly as alone (``resize_normalize``), then zeros: batch-mates never leak in."""
    crops = [data.draw(hnp.arrays(np.uint8, (cfg.height, w, 3))) for w in widths]
    batch = make_batch(crops, cfg, max(widths) + extra)
    assert batch.shape == (len(crops), 3, cfg.height, max(widths) + extra) and batch.dtype == np.float32
    for row, crop in zip(batch, crops, strict=True):
        alone = resize_normalize(crop, replace(cfg, min_width=crop.shape[1], max_width=crop.shape[1]))
        np.testing.assert_array_equal(row[:, :, : crop.shape[1]], alone)
        np.testing.assert_allclose(row[:, :, : crop.shape[1]],
                                   (crop.transpose(2, 0, 1) / 255.0 - cfg.mean) / cfg.std, rtol=1e-5, atol=1e-5)
        assert not row[:, :, crop.shape[1] :].any()


@FAST
@given(st.lists(st.integers(1, 400), max_size=60), st.integers(1, 16))
def test_width_groups_partition(widths: list[int], batch_size: int) -> None:
    groups = width_groups(widths, batch_size)
    flat = [i for g in groups for i in g]
    assert sorted(flat) == list(range(len(widths)))  # every index once
    assert all(1 <= len(g) <= batch_size for g in groups)
    assert [widths[i] for i in flat] == sorted(widths)  # narrowest first
    assert all(len({widths[i] for i in g}) == 1 for g in groups)  # one width a batch: nothing padded
    # as few batches as that allows: full batches of each width, one partial at most
    assert len(groups) == sum(ceil_div(widths.count(w), batch_size) for w in set(widths))
