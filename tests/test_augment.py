"""Tests for the crop augmentations training applies (twplate.training.augment). No paddle, fonts or glyphs."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from twplate.training.augment import (
    FAR_HEIGHT_PX,
    TILT_MAX_DEG,
    TURN_MAX_DEG,
    augment,
    far,
    low_light,
    occlude,
    tilt,
    turn,
)
from twplate.training.config import DataSection


def test_importing_augment_loads_neither_the_generator_nor_fonts():
    code = ("import sys, twplate.training.augment; "
            "print(sorted(m for m in sys.modules if m.startswith(('twplate.training.synth', 'PIL'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_augment_real_crop():
    rng = np.random.default_rng(0)
    img = np.full((200, 320, 3), 235, np.uint8)
    img[60:150, 20:300] = 20
    far_ones = 0
    for _ in range(40):
        out = augment(img, rng, far_prob=0.15)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        assert out.std() > 5   # not destroyed
        if out.shape[0] <= FAR_HEIGHT_PX[1]:    # shrunk to a far plate's height
            far_ones += 1
            continue
        # about the input's size, its bounding box turned by up to TILT_MAX_DEG, or narrowed by a turn
        assert 160 <= out.shape[0] <= 200 * 0.82 + 320 * 0.58 + 20
        assert 320 * np.cos(np.deg2rad(TURN_MAX_DEG)) - 8 <= out.shape[1] <= 384
    assert 1 <= far_ones <= 15
    assert all(augment(img, rng).shape[0] >= 160 for _ in range(40))   # Data.far_prob 0 by default: none
    gray = augment(img[..., 0], np.random.default_rng(1))
    assert gray.shape[2] == 3
    a = augment(img, np.random.default_rng(5))
    b = augment(img, np.random.default_rng(5))
    assert np.array_equal(a, b)


def _tilted_by(out: np.ndarray) -> float:
    """The angle of the dark bar's long side against the x axis, in degrees."""
    dark = np.argwhere(out[..., 0] < 120)[:, ::-1].astype(np.float32)
    (_, _), (w, h), angle = cv2.minAreaRect(dark)
    turned = angle if w > h else angle - 90
    return (turned + 90) % 180 - 90


@pytest.mark.parametrize("seed", range(6))
def test_tilt_turns_the_crop_inside_its_bounding_box(seed: int):
    img = np.full((100, 240, 3), 230, np.uint8)
    img[30:70, 20:220] = 10                     # a dark bar: the row of characters
    out = tilt(img, np.random.default_rng(seed))
    turned = _tilted_by(out)
    assert 2.0 <= abs(turned) <= TILT_MAX_DEG + 4, turned
    rad = np.deg2rad(abs(turned))
    expected_w = 240 * np.cos(rad) + 100 * np.sin(rad)
    assert abs(out.shape[1] - expected_w) <= 0.12 * 240, (out.shape, turned)
    assert out.shape[0] > 100 and np.count_nonzero(out[..., 0] < 120) > 0.6 * 40 * 200   # the bar survives whole


def test_the_strongest_tilt_is_an_option_that_augment_passes_on():
    """``Data.tilt_max_deg``: plates hanging past the default 35 degrees are drawn when asked for, and only then."""
    img = np.full((100, 240, 3), 230, np.uint8)
    img[30:70, 20:220] = 10
    steep = [abs(_tilted_by(tilt(img, np.random.default_rng(seed), 60.0))) for seed in range(12)]
    assert max(steep) > TILT_MAX_DEG + 4 and max(steep) <= 64
    crop = np.full((200, 320, 3), 235, np.uint8)
    crop[60:150, 20:300] = 20
    default_bound = 200 * np.cos(np.deg2rad(TILT_MAX_DEG)) + 320 * np.sin(np.deg2rad(TILT_MAX_DEG)) + 20

    def tallest(max_deg: float) -> int:
        rng = np.random.default_rng(3)
        return max(augment(crop, rng, max_deg).shape[0] for _ in range(60))

    assert tallest(TILT_MAX_DEG) <= default_bound < tallest(85.0)
    assert DataSection().tilt_max_deg == TILT_MAX_DEG  # a config without the key trains as before


def _plate() -> np.ndarray:
    img = np.full((96, 300, 3), 230, np.uint8)
    for k in range(7):                          # seven dark character blocks
        img[20:76, 20 + 40 * k : 48 + 40 * k] = 20
    return img


@pytest.mark.parametrize("fn", [turn, occlude, low_light])
def test_hard_augmentations_keep_dtype_and_are_seeded(fn):
    img = _plate()
    for seed in range(8):
        out = fn(img, np.random.default_rng(seed))
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        assert out.shape[0] == img.shape[0]
        assert np.array_equal(out, fn(img, np.random.default_rng(seed)))
    assert not np.array_equal(fn(img, np.random.default_rng(0)), fn(img, np.random.default_rng(1)))


@pytest.mark.parametrize("seed", range(6))
def test_turn_narrows_the_plate_by_the_angle_and_shortens_one_side(seed: int):
    out = turn(_plate(), np.random.default_rng(seed))
    assert 300 * np.cos(np.deg2rad(TURN_MAX_DEG)) - 1 <= out.shape[1] <= 300 * np.cos(np.deg2rad(10)) + 1
    dark = out[..., 0] < 120
    left, right = dark[:, : out.shape[1] // 8].sum(0).max(), dark[:, -out.shape[1] // 8 :].sum(0).max()
    assert left != right                        # the far edge is the shorter one


@pytest.mark.parametrize("seed", range(6))
def test_occlude_covers_part_of_one_character_only(seed: int):
    img = _plate()
    changed = np.any(occlude(img, np.random.default_rng(seed)) != img, axis=2)
    columns = np.flatnonzero(changed.any(0))
    assert columns.size and columns.max() - columns.min() <= 0.9 * 300 / 5 * 1.25  # within about one cell
    assert changed.sum() < 0.5 * 56 * 60        # never a whole character block and its surround


def test_low_light_darkens_and_adds_noise():
    img = _plate()
    out = low_light(img, np.random.default_rng(0))
    assert out.mean() < img.mean() / 2.5
    assert out[0:15, :].std() > 0.5             # the flat background is noisy now


@pytest.mark.parametrize("seed", range(6))
def test_far_shrinks_to_a_far_plates_height_and_keeps_the_aspect(seed: int):
    img = _plate()
    out = far(img, np.random.default_rng(seed))
    assert out.dtype == np.uint8 and out.shape[2] == 3
    assert FAR_HEIGHT_PX[0] <= out.shape[0] <= FAR_HEIGHT_PX[1]
    assert abs(out.shape[1] / out.shape[0] - 300 / 96) < 0.2
    assert np.array_equal(out, far(img, np.random.default_rng(seed)))
    dark = out[..., 0] < 120                    # the character blocks are still there, shrunk
    assert 0.2 < dark.mean() < 0.6


def test_far_leaves_a_crop_already_that_small_as_it_is():
    img = _plate()[::8, ::8]                    # 12 px tall
    assert far(img, np.random.default_rng(0)) is img
