"""The text detector: input sizing, DB post-processing on made-up probability maps, the model directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from twplate.detect.postprocess import DBSettings, box_score, boxes_from_map, order_for_reading, unclip
from twplate.detect.preprocess import DetectPreprocessConfig, detector_input
from twplate.errors import ModelError
from twplate.model_files import PADDLE_FILES, DetectorSpec, load_detector_spec, load_model_spec, read_model_yaml

REPO = Path(__file__).resolve().parents[1]


# --- preprocess -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("h", "w", "limit", "expected"), [
    (1000, 2000, 1280, (640, 1280)),    # shrunk: longest side to the limit
    (300, 500, 1280, (288, 512)),       # not enlarged unless asked (below), only rounded to multiples of 32
    (10, 4000, 1280, (32, 1280)),       # at least 32
    (3024, 4032, 960, (704, 960)),
    (1080, 1920, 1010, (576, 992)),     # a limit off the 32 grid: rounded down to it, never past the limit
])
def test_input_size_keeps_aspect_within_limit_in_multiples_of_32(h, w, limit, expected):
    assert DetectPreprocessConfig(limit_side=limit).input_size(h, w) == expected


@pytest.mark.parametrize(("h", "w", "limit", "floor", "expected"), [
    (68, 90, 1600, 480, (352, 480)),     # a thumbnail: enlarged until its longest side is the floor
    (360, 480, 1600, 480, (352, 480)),   # already that long: as without a floor
    (1080, 1920, 1600, 480, (896, 1600)),
    (68, 90, 320, 480, (256, 320)),      # a floor above the limit: enlarged to the limit, aspect kept
])
def test_a_small_photo_is_enlarged_to_the_floor_asked_for(h, w, limit, floor, expected):
    assert DetectPreprocessConfig(limit_side=limit).input_size(h, w, floor) == expected


def test_a_spec_without_normalisation_gets_pp_ocrs():
    """A detector's inference.yml without mean and std is normalised as PP-OCR's detectors were trained."""
    from twplate.detect.preprocess import PPOCR_MEAN, PPOCR_STD

    cfg = DetectPreprocessConfig.from_dict({"limit_side": 960})
    assert (cfg.mean, cfg.std) == (PPOCR_MEAN, PPOCR_STD) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def test_detector_input_normalises_per_channel():
    cfg = DetectPreprocessConfig(limit_side=64, mean=(0.1, 0.5, 0.9), std=(0.5, 0.25, 0.5))
    image = np.full((40, 70, 3), 255, np.uint8)
    x = detector_input(image, cfg)
    assert x.shape == (3, 32, 64) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0, 0], [(1 - 0.1) / 0.5, (1 - 0.5) / 0.25, (1 - 0.9) / 0.5], rtol=1e-6)


@pytest.mark.parametrize("bad", [{"limit_side": 16}, {"mean": [0.5, 0.5]}, {"std": [0.5, 0, 0.5]}])
def test_invalid_detector_input_spec_is_refused(bad):
    with pytest.raises(ValueError, match="invalid detector input"):
        DetectPreprocessConfig.from_dict(bad)


# --- post-processing ------------------------------------------------------------------------------

def _map_with(rects: list[tuple[tuple[float, float], tuple[float, float], float]], shape=(200, 300),
              value: float = 0.9) -> np.ndarray:
    """A probability map with filled rotated rectangles ``((cx, cy), (w, h), angle)`` at ``value``."""
    prob = np.zeros(shape, np.float32)
    for rect in rects:
        cv2.fillPoly(prob, [np.round(cv2.boxPoints(rect)).astype(np.int32)], value)
    return prob


def test_one_rectangle_gives_one_box_grown_by_the_unclip_distance():
    prob = np.zeros((200, 300), np.float32)
    prob[90:111, 110:191] = 0.9
    settings = DBSettings(dilate=False)
    (box,) = boxes_from_map(prob, prob.shape, settings)
    w, h = box.size
    core_w, core_h = 80, 20  # the contour runs through the outer pixels' centres
    distance = core_w * core_h * settings.unclip_ratio / (2 * (core_w + core_h))
    assert w == pytest.approx(core_w + 2 * distance, abs=0.01) and h == pytest.approx(core_h + 2 * distance, abs=0.01)
    assert box.score == pytest.approx(0.9, abs=0.02)
    np.testing.assert_allclose(box.points.mean(axis=0), (150, 100), atol=1)


def test_boxes_are_scaled_to_the_photo_and_clipped_to_it():
    prob = _map_with([((30, 20), (30, 10), 0), ((295, 100), (20, 10), 0)], shape=(100, 300))
    boxes = boxes_from_map(prob, (400, 1200), DBSettings(dilate=False))
    assert len(boxes) == 2
    for box in boxes:
        assert box.points[:, 0].min() >= 0 and box.points[:, 0].max() <= 1200
        assert box.points[:, 1].min() >= 0 and box.points[:, 1].max() <= 400
    centres = sorted(tuple(b.points.mean(axis=0)) for b in boxes)
    assert centres[0] == pytest.approx((120, 80), abs=6)


def test_threshold_box_threshold_and_min_size_drop_weak_and_tiny_regions():
    prob = _map_with([((60, 50), (60, 20), 0)], value=0.9)
    prob += _map_with([((200, 50), (60, 20), 0)], value=0.4)   # above threshold 0.3, below box threshold 0.5
    prob += _map_with([((150, 150), (2, 2), 0)], value=0.9)     # short side under min_size
    prob += _map_with([((250, 150), (60, 20), 0)], value=0.2)   # below threshold
    boxes = boxes_from_map(prob, prob.shape, DBSettings(dilate=False))
    assert len(boxes) == 1
    np.testing.assert_allclose(boxes[0].points.mean(axis=0), (60, 50), atol=1)


def test_boxes_come_highest_score_first():
    """Three lines whose scores follow neither the scan order nor its reverse (contours come bottom up)."""
    prob = (_map_with([((60, 40), (60, 20), 0)], value=0.8) + _map_with([((130, 100), (60, 20), 0)], value=0.6)
            + _map_with([((200, 160), (60, 20), 0)], value=0.95))
    boxes = boxes_from_map(prob, prob.shape)
    assert [round(float(np.mean(b.points[:, 1])) / 10) * 10 for b in boxes] == [160, 40, 100]  # by score
    assert [b.score for b in boxes] == sorted((b.score for b in boxes), reverse=True)


@pytest.mark.parametrize("angle", [-80, -60, -45, -30, -10, 0, 10, 30, 45, 60, 80])
def test_a_tilted_line_gives_a_box_ordered_as_it_reads(angle):
    """Whatever the tilt (up to 90 degrees either way), the first edge runs along the line, left to right,
    and the box's width is the line's length."""
    prob = _map_with([((150, 100), (120, 24), angle)])
    (box,) = boxes_from_map(prob, prob.shape)
    tl, tr, br, bl = box.points
    top, left = tr - tl, bl - tl
    assert np.degrees(np.arctan2(top[1], top[0])) == pytest.approx(angle, abs=2)
    assert top[0] * left[1] - top[1] * left[0] > 0  # clockwise on screen (y down): the cross product's z
    assert box.size[0] > 2.5 * box.size[1]


def test_order_for_reading_starts_at_the_lines_top_left_whatever_the_input_order():
    flat = np.array([[10, 10], [110, 20], [105, 50], [5, 40]], np.float32)
    steep = np.array([[10, 100], [60, 13], [86, 28], [36, 115]], np.float32)  # a line rising at 60 degrees
    for corners in (flat, steep):
        for shift in range(4):
            for points in (np.roll(corners, shift, axis=0), np.roll(corners[::-1], shift, axis=0)):
                np.testing.assert_array_equal(order_for_reading(points), corners)


def test_unclip_matches_pyclipper_round_offset_then_min_area_rect():
    """PaddleOCR unclips with pyclipper and takes the min-area rectangle; the closed form gives the same box."""
    pyclipper = pytest.importorskip("pyclipper")
    rects = [((100.0, 60.0), (80.0, 20.0), 0.0), ((200.0, 150.0), (150.0, 30.0), 17.0),
             ((50.0, 50.0), (9.0, 4.0), 45.0)]
    for rect in rects:
        points = cv2.boxPoints(rect)
        area, length = cv2.contourArea(points), cv2.arcLength(points, True)
        distance = area * 1.6 / length
        offset = pyclipper.PyclipperOffset()
        offset.AddPath(np.round(points * 1000).astype(np.int64).tolist(), pyclipper.JT_ROUND,
                       pyclipper.ET_CLOSEDPOLYGON)
        grown = np.array(offset.Execute(distance * 1000)[0], np.float32) / 1000
        expected = cv2.minAreaRect(grown)
        got = unclip(rect, 1.6)
        np.testing.assert_allclose(sorted(got[1]), sorted(expected[1]), rtol=2e-3)
        np.testing.assert_allclose(got[0], expected[0], atol=1e-2)


def test_box_score_is_the_mean_inside_the_quadrilateral():
    prob = np.zeros((50, 50), np.float32)
    prob[10:20, 10:30] = 1.0
    inside = np.array([[10, 10], [29, 10], [29, 19], [10, 19]], np.float32)
    assert box_score(prob, inside) == pytest.approx(1.0)
    half = np.array([[10, 10], [49, 10], [49, 19], [10, 19]], np.float32)
    assert box_score(prob, half) == pytest.approx(0.5, abs=0.05)


# --- model directory ------------------------------------------------------------------------------

def test_shipped_detector_directory_is_a_det_model_with_checksums():
    spec = load_detector_spec()
    assert isinstance(spec, DetectorSpec) and spec.task == "det" and spec.name == "twplate-det"
    assert spec.preprocess.limit_side % 32 == 0
    assert set(spec.checksums) == {spec.onnx_file, *PADDLE_FILES}   # the paddle backend loads only checked files
    spec.require(spec.checksums)  # checksums match


def test_a_reader_is_not_a_detector_and_back(tmp_path):
    with pytest.raises(ModelError, match="is a rec model.*expected a det model"):
        load_detector_spec(load_model_spec().directory)
    with pytest.raises(ModelError, match="is a det model.*expected a rec model"):
        load_model_spec(load_detector_spec().directory)


def test_detector_yaml_with_unknown_task_or_bad_input_is_refused(tmp_path):
    model = Path(shutil.copytree(load_detector_spec().directory, tmp_path / "det"))
    yml = model / "inference.yml"
    text = yml.read_text()
    yml.write_text(text.replace("task: det", "task: segment"))
    with pytest.raises(ModelError, match="task must be one of"):
        read_model_yaml(model)
    spec_limit = f"limit_side: {load_detector_spec().preprocess.limit_side}"
    assert spec_limit in text
    yml.write_text(text.replace(spec_limit, "limit_side: 8"))
    with pytest.raises(ModelError, match="invalid detector input"):
        read_model_yaml(model)


def test_detector_checksum_mismatch_is_refused(tmp_path):
    pytest.importorskip("onnxruntime")
    from twplate.detect.detector import TextDetector

    model = Path(shutil.copytree(load_detector_spec().directory, tmp_path / "det"))
    with open(model / "inference.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="checksum mismatch"):
        TextDetector(model)


def test_detector_finds_text_lines_in_a_drawn_photo():
    """The shipped detector on the onnxruntime backend boxes two printed lines, nothing else."""
    pytest.importorskip("onnxruntime")
    from twplate.detect.detector import TextDetector

    photo = np.full((480, 640, 3), 200, np.uint8)
    cv2.putText(photo, "ABC-1234", (80, 150), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 5)
    cv2.putText(photo, "HELLO 99", (200, 380), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (20, 20, 20), 4)
    detector = TextDetector(backend="onnxruntime", threads=1)
    boxes_one, boxes_again = detector([photo, photo.copy()])
    assert len(boxes_one) == 2
    for box, (x, y) in zip(sorted(boxes_one, key=lambda b: b.points[0, 1]), [(80, 150), (200, 380)]):
        assert box.points[0, 0] == pytest.approx(x, abs=20) and box.points[3, 1] == pytest.approx(y, abs=20)
    np.testing.assert_allclose([b.points for b in boxes_one], [b.points for b in boxes_again])


@pytest.mark.paddle
def test_shipped_detector_gives_the_same_map_and_boxes_on_paddle_and_onnxruntime():
    """The exporter's own check, on the shipped files: maps within 1e-4, the same boxes on two drawn photos."""
    pytest.importorskip("paddle")
    pytest.importorskip("onnxruntime")
    from exporters.detector import PARITY_ATOL, check_backends_agree

    assert check_backends_agree(load_detector_spec()) <= PARITY_ATOL


@pytest.mark.paddle
def test_paddle_detector_finds_the_text_lines_onnxruntime_finds():
    """Through TextDetector, whose Paddle backend runs the detector's resize ops without oneDNN kernels."""
    pytest.importorskip("paddle")
    pytest.importorskip("onnxruntime")
    from twplate.detect.detector import TextDetector

    photo = np.full((480, 640, 3), 200, np.uint8)
    cv2.putText(photo, "ABC-1234", (80, 150), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 5)
    paddle_detector = TextDetector(backend="paddle", threads=1, device="cpu")
    assert paddle_detector.backend.providers == ["cpu"]
    (on_paddle,), (on_onnxruntime,) = paddle_detector([photo]), TextDetector(backend="onnxruntime", threads=1)([photo])
    assert len(on_paddle) == len(on_onnxruntime) == 1
    np.testing.assert_allclose(on_paddle[0].points, on_onnxruntime[0].points, atol=0.5)


def test_openvino_detector_finds_the_text_lines_onnxruntime_finds():
    """The detector on OpenVINO (fp32, the photo reader's detector under ``--backend openvino``): same boxes."""
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime")
    from twplate.detect.detector import TextDetector

    photo = np.full((480, 640, 3), 200, np.uint8)
    cv2.putText(photo, "ABC-1234", (80, 150), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 5)
    cv2.putText(photo, "HELLO 99", (200, 380), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (20, 20, 20), 4)
    on_openvino = TextDetector(backend="openvino", threads=1)
    assert on_openvino.backend.providers == ["CPU", "fp32"] and on_openvino.backend.static_batches == ()
    (boxes,), (expected,) = on_openvino([photo]), TextDetector(backend="onnxruntime", threads=1)([photo])
    assert len(boxes) == len(expected) == 2
    np.testing.assert_allclose([b.points for b in boxes], [b.points for b in expected], atol=0.5)
