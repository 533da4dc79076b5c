"""Preprocessing: target widths, tensor values and layout, padding, colour order, batching."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twplate.preprocess import PreprocessConfig, make_batch, resize_normalize, width_groups

CFG = PreprocessConfig(min_width=160)  # the clamp logic, independent of the default floor


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


@given(st.integers(1, 4000), st.integers(1, 4000))
def test_target_width_is_clamped_aspect(h: int, w: int) -> None:
    width = CFG.target_width(h, w)
    assert CFG.min_width <= width <= CFG.max_width
    assert width == min(320, max(160, math.ceil(48 * w / h)))


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


def test_make_batch_pads_right_with_zeros() -> None:
    a = np.ones((3, 48, 160), np.float32)
    b = np.full((3, 48, 200), 0.5, np.float32)
    batch = make_batch([a, b])
    assert batch.shape == (2, 3, 48, 200) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0, :, :, :160], 1.0)
    np.testing.assert_array_equal(batch[0, :, :, 160:], 0.0)  # 0 = mid grey after normalisation
    np.testing.assert_array_equal(batch[1], 0.5)


@given(st.lists(st.integers(160, 320), min_size=1, max_size=60), st.integers(1, 16))
def test_width_groups_partition_and_sort(widths: list[int], batch_size: int) -> None:
    groups = width_groups(widths, batch_size)
    flat = [i for g in groups for i in g]
    assert sorted(flat) == list(range(len(widths)))           # every index exactly once
    assert all(1 <= len(g) <= batch_size for g in groups)
    assert [widths[i] for i in flat] == sorted(widths)        # grouped by width
    assert all(len({widths[i] for i in g}) == 1 for g in groups)  # one width a batch: nothing padded


@given(st.integers(1, 200), st.integers(1, 600), st.integers(0, 255))
def test_uniform_image_normalises_to_constant(h: int, w: int, grey: int) -> None:
    x = resize_normalize(np.full((h, w, 3), grey, np.uint8), CFG)
    assert x.shape == (3, 48, CFG.target_width(h, w))
    np.testing.assert_allclose(x, grey / 127.5 - 1.0, atol=1e-5)
