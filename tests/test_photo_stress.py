"""``scripts/photo_stress.py``: the harder copies of labelled photos that docs/photos.md measures on, written from
made-up photos and read back by ``PhotoReader``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from photos import PLATE_CORNERS, paste_plate
from twplate.photo_eval import read_labels

pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stress(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two made-up photos (a 1600 x 1200 one with a plate, a 640 x 480 one without) and the script's sets."""
    root = tmp_path_factory.mktemp("scenes")
    (root / "cam").mkdir()
    big = [(x * 1.6, y * 1.6) for x, y in PLATE_CORNERS]
    cv2.imwrite(str(root / "cam" / "big.jpg"), paste_plate("00_car2014.jpg", big, size=(1200, 1600)))
    cv2.imwrite(str(root / "cam" / "small.jpg"), paste_plate("00_car2014.jpg", [(0, 0), (1, 0), (1, 1), (0, 1)],
                                                             size=(480, 640)))
    (root / "labels.tsv").write_text("cam/big.jpg\tKCD-1636\ncam/small.jpg\t\n", encoding="utf-8")
    out = root / "stress"
    done = subprocess.run([sys.executable, "scripts/photo_stress.py", str(root / "labels.tsv"), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return root, out


def test_every_set_keeps_each_photos_plates(stress):
    root, out = stress
    for name in ("as_is", "far50", "far30", "angled", "tilted", "night", "blurred"):
        assert [p.plates for p in read_labels(out / name / "labels.tsv")] == [["KCD-1636"], []], name
    for name in ("dashcam_far", "dashcam_mid", "dashcam_near"):  # only photos of at least 1000 px
        assert [p.plates for p in read_labels(out / name / "labels.tsv")] == [["KCD-1636"]], name
    for name in ("mosaic2", "mosaic4"):  # one photo of at least 1500 px fills no canvas
        assert read_labels(out / name / "labels.tsv") == [], name


def test_sets_are_reproducible_and_shaped_as_documented(stress):
    root, out = stress
    tilted = cv2.imread(str(out / "tilted" / "0000.jpg"))
    assert tilted.shape[0] > 1200 and tilted.shape[1] > 1600  # rotated on a grown canvas
    for name in ("dashcam_far", "dashcam_mid", "dashcam_near"):
        assert cv2.imread(str(out / name / "0000.jpg")).shape == (1080, 1920, 3)
    assert cv2.imread(str(out / "far30" / "0000.jpg")).shape == (360, 480, 3)
    again = root / "again"
    subprocess.run([sys.executable, "scripts/photo_stress.py", str(root / "labels.tsv"), "--out", str(again)],
                   cwd=REPO, check=True, capture_output=True)
    for name in ("tilted", "blurred", "dashcam_mid"):
        assert (again / name / "0000.jpg").read_bytes() == (out / name / "0000.jpg").read_bytes(), name


def test_the_rotated_plate_is_read(stress):
    """The tilted copy turns the plate 30-60 degrees in the image: it is found and read like the upright one."""
    from twplate import PhotoReader

    _, out = stress
    reader = PhotoReader(backend="onnxruntime", threads=1)
    (plate,) = reader(str(out / "tilted" / "0000.jpg"))
    assert plate.text == "KCD-1636"


def test_pasted_samples_are_every_sample_small_sharp_and_blurred(tmp_path):
    """``scripts/pasted_samples.py``: each rendered sample at 10 small widths, sharp and blurred, labelled with its
    plate, the plate where it was pasted (the photo differs from the bare scene only there)."""
    done = subprocess.run([sys.executable, "scripts/pasted_samples.py", "--out", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    photos = read_labels(tmp_path / "labels.tsv")
    samples = dict(line.split("\t") for line in (REPO / "samples" / "labels.tsv").read_text().splitlines())
    assert len(photos) == len(samples) * 20 == len(list(tmp_path.glob("*.png")))
    assert sorted({p.plates[0] for p in photos}) == sorted(samples.values())
    bare = paste_plate("00_car2014.jpg", [(2000, 2000), (2040, 2000), (2040, 2020), (2000, 2020)])  # off the scene
    changed = cv2.imread(str(tmp_path / "00_car2014_w36.png")).astype(int) - bare != 0
    ys, xs = changed.any(axis=2).nonzero()
    assert (xs.min(), ys.min()) >= (478, 359) and (xs.max(), ys.max()) <= (517, 381)
