"""Plates in whole photos: PhotoReader and read_photo on made-up photos (a rendered sample plate pasted
into a larger picture with perspective), bad inputs, threads, and the plate filter."""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from photos import PLATE_CORNERS, SAMPLES, paste_plate, steep_crop
from twplate.errors import ImageError
from twplate.photo import (
    STEEP_CROP_ASPECT,
    PlateRules,
    crop_box,
    is_plate_number,
    merge_overlapping,
    upright_transform,
)
from twplate.result import PlateResult

pytest.importorskip("onnxruntime")



def quad_overlap(a, b) -> float:
    """Intersection of two convex quadrilaterals over the area of ``a``."""
    pa, pb = np.float32(a), np.float32(b)
    return cv2.intersectConvexConvex(pa, pb)[0] / cv2.contourArea(pa)


@pytest.fixture(scope="module")
def reader():
    from twplate.photo import PhotoReader

    return PhotoReader(backend="onnxruntime", threads=1)


@pytest.fixture(scope="module")
def car_photo() -> np.ndarray:
    return paste_plate("00_car2014.jpg", PLATE_CORNERS)


def test_reads_the_pasted_plate_and_boxes_it(reader, car_photo):
    (plate,) = reader(car_photo)
    assert plate.text == "KCD-1636" and plate.ok and plate.confidence > 0.9
    assert len(plate.box) == 4 and all(isinstance(v, float) for point in plate.box for v in point)
    assert 0.5 <= plate.detection_score <= 1
    assert quad_overlap(plate.box, PLATE_CORNERS) > 0.9        # inside the plate
    assert quad_overlap(PLATE_CORNERS, plate.box) > 0.4        # covers its number line (not the frame)
    tl, tr, br, bl = plate.box
    assert tl[0] < tr[0] and bl[0] < br[0] and tl[1] < bl[1] and tr[1] < br[1]


def test_a_jpeg_decoded_smaller_gives_boxes_in_its_own_pixels(reader, car_photo):
    """A JPEG over the decode limit (here 7680 x 5760, 44 Mpx) is decoded at half size; its plate's box is
    still given in the file's own pixels, as it is for the same photo at 3840 x 2880 (decoded whole)."""
    from twplate.image import MAX_DECODE_PIXELS

    huge = cv2.resize(car_photo, None, fx=8, fy=8, interpolation=cv2.INTER_LINEAR)
    assert huge.shape[0] * huge.shape[1] > MAX_DECODE_PIXELS
    encoded = cv2.imencode(".jpg", huge, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    del huge
    (plate,) = reader(encoded)
    (half,) = reader(cv2.resize(car_photo, None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR))
    assert plate.text == half.text == "KCD-1636"
    assert quad_overlap(np.float32(plate.box) / 8, PLATE_CORNERS) > 0.9
    np.testing.assert_allclose(plate.box, np.float32(half.box) * 2, atol=16)  # a few pixels of the half-size decode


@pytest.mark.parametrize("angle", [-60, 60])
def test_a_plate_hanging_steeply_is_read_and_boxed_from_its_own_top_left(reader, angle):
    """A plate turned 60 degrees in the photo has a box taller than wide on screen: it is still cut out
    upright and read, and its box starts at the plate's own top-left corner."""
    centre = np.float32([480, 360])
    turn = np.radians(angle)
    rotation = np.float32([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    from_centre = [(-130, -60), (130, -60), (130, 60), (-130, 60)]  # a 260 x 120 plate, clockwise from its top-left
    corners = [tuple(map(float, centre + rotation @ np.float32(p))) for p in from_centre]
    (plate,) = reader(paste_plate("00_car2014.jpg", corners))
    assert plate.text == "KCD-1636"
    tl, tr, _, _ = np.float32(plate.box)
    top = tr - tl
    assert np.degrees(np.arctan2(top[1], top[0])) == pytest.approx(angle, abs=10)
    assert np.linalg.norm(tl - corners[0]) < np.linalg.norm(tl - corners[2])  # nearer the plate's top-left


SMALL_PLATE = [(700.0, 400.0), (740.0, 402.0), (739.0, 420.8), (699.0, 418.8)]
"""A plate 40 px wide, as far plates in dash-cam frames are: the detector's box around its number line is under
:attr:`PlateRules.look_closer_below` tall, and loose."""


def test_a_small_plate_is_looked_at_closer_and_boxed_in_the_photo(reader):
    from twplate.photo import PhotoReader

    photo = paste_plate("02_scooter_old.jpg", SMALL_PLATE)
    (plate,) = reader(photo)
    assert plate.text == "YYE-903"
    assert quad_overlap(plate.box, SMALL_PLATE) > 0.8   # the closer look's box, mapped back into the photo
    assert quad_overlap(SMALL_PLATE, plate.box) > 0.3
    not_closer = PhotoReader(recognizer=reader.recognizer, detector=reader.detector,
                             rules=PlateRules(look_closer_below=0))
    assert "YYE-903" not in [p.text for p in not_closer(photo)]


def test_a_thumbnail_is_enlarged_for_the_detector_and_boxed_in_its_own_pixels(reader):
    """In a photo 110 px wide the detector finds the green plate's number line only when the photo is enlarged for it
    (:attr:`PlateRules.min_photo_side`); the plate's box is given in the thumbnail's own pixels."""
    from twplate.photo import PhotoReader

    thumbnail = cv2.resize(paste_plate("04_ev2014.jpg", PLATE_CORNERS), (110, 82), interpolation=cv2.INTER_AREA)
    corners = np.float32(PLATE_CORNERS) * 110 / 960
    assert reader.detector([thumbnail]) == [[]]
    (line, *_) = reader.detector([thumbnail], min_long_side=480)[0]
    assert quad_overlap(line.points, corners) > 0.9
    (plate,) = reader(thumbnail)
    assert plate.text == "EAM-8602" and quad_overlap(plate.box, corners) > 0.9
    as_is = PhotoReader(recognizer=reader.recognizer, detector=reader.detector, rules=PlateRules(min_photo_side=0))
    assert as_is(thumbnail) == []
    assert "min_photo_side=0" in repr(as_is) and "rules=" not in repr(reader)  # eval-photos records rules that differ


def test_a_small_plate_needs_its_readings_to_agree_and_a_large_one_does_not(reader, car_photo):
    from twplate.photo import PhotoReader

    # more votes than a small box has readings: no small box keeps a plate
    unanimous = PhotoReader(recognizer=reader.recognizer, detector=reader.detector, rules=PlateRules(min_votes=99))
    assert "YYE-903" not in [p.text for p in unanimous(paste_plate("02_scooter_old.jpg", SMALL_PLATE))]
    assert [p.text for p in unanimous(car_photo)] == ["KCD-1636"]   # its box is tall: read once, no vote


def test_small_boxes_are_read_by_the_small_plate_reader_and_large_ones_are_not(reader, car_photo):
    """Small boxes go to the small-plate reader alone: given one that cannot read (inputs 16 px wide, 4 CTC steps),
    the photo reader loses the small plate and still reads the large one."""
    from twplate import PlateRecognizer
    from twplate.photo import PhotoReader

    blind = PlateRecognizer(backend="onnxruntime", threads=1, input_width=16)
    routed = PhotoReader(recognizer=reader.recognizer, detector=reader.detector, small_model=blind)
    assert routed.small_recognizer is blind
    assert "YYE-903" in [p.text for p in reader(paste_plate("02_scooter_old.jpg", SMALL_PLATE))]
    assert "YYE-903" not in [p.text for p in routed(paste_plate("02_scooter_old.jpg", SMALL_PLATE))]
    assert [p.text for p in routed(car_photo)] == ["KCD-1636"]


def test_the_shipped_small_plate_reader_comes_with_the_shipped_plate_readers_only(reader, tmp_path):
    """By default a shipped plate reader brings ``twplate-rec-small``, loaded with its options; another plate
    reader reads small boxes itself (the shipped small one has its dictionary, not necessarily the other's), as
    ``small_model=False`` asks; a path is loaded with the plate reader's options."""
    import shutil

    from twplate import PlateRecognizer
    from twplate.model_files import default_model_dir, default_small_model_dir
    from twplate.photo import PhotoReader

    assert reader.small_recognizer.spec.name == "twplate-rec-small"
    assert reader.small_recognizer.backend.name == reader.recognizer.backend.name == "onnxruntime"
    narrow = PlateRecognizer(backend="onnxruntime", threads=1, input_width=72, batch_size=8)
    paired = PhotoReader(recognizer=narrow, detector=reader.detector)
    small = paired.small_recognizer
    assert small.spec.directory == default_small_model_dir() and small.batch_size == 8
    assert small.spec.preprocess.min_width == small.spec.preprocess.max_width == 72
    assert PhotoReader(recognizer=narrow, detector=reader.detector, small_model=False).small_recognizer is narrow
    fast = PlateRecognizer("twplate-rec-fast", backend="onnxruntime", threads=1)
    assert PhotoReader(recognizer=fast, detector=reader.detector).small_recognizer.spec.name == "twplate-rec-small"
    other = tmp_path / "other.onnx"
    shutil.copy(default_model_dir() / "inference.onnx", other)
    custom = PlateRecognizer(other, backend="onnxruntime", threads=1)
    assert PhotoReader(recognizer=custom, detector=reader.detector).small_recognizer is custom
    given = PhotoReader(recognizer=custom, detector=reader.detector, small_model=default_small_model_dir())
    assert given.small_recognizer.spec.name == "twplate-rec-small"


def test_a_small_plate_reader_path_needs_a_recognizer_loaded_from_files(reader):
    from twplate import PlateRecognizer
    from twplate.model_files import default_small_model_dir
    from twplate.photo import PhotoReader

    around = PlateRecognizer.with_backend(reader.recognizer.backend, reader.recognizer.spec)
    with pytest.raises(ValueError, match="built around a backend"):
        PhotoReader(recognizer=around, detector=reader.detector, small_model=default_small_model_dir())


def test_a_small_line_is_read_at_every_margin_only_where_its_first_reading_is_a_plate_number(reader):
    photo = paste_plate("02_scooter_old.jpg", SMALL_PLATE)
    cv2.putText(photo, "2024/05/17", (300, 500), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    small = [box for box in reader.detector([photo])[0] if reader._plausible_box(box) and reader._is_small(box)]
    assert small
    lines: dict[int, list] = {}   # each line's readings, by the line's box
    for readings in reader._read_small([(photo, box) for box in small]):
        for reading, box in readings:
            lines.setdefault(id(box), []).append((reading, box))
    margins = len(reader.rules.small_margins)
    assert sorted({len(read) for read in lines.values()}) == [1, margins]   # the date stamp's lines, the plate's
    for read in lines.values():
        assert is_plate_number(read[0][0].text) == (len(read) == margins)
    assert any(reading.text == "YYE-903" for read in lines.values() if len(read) == margins for reading, _ in read)


def test_agreed_plate_is_the_text_most_readings_give_read_most_confidently():
    from twplate.detect.postprocess import TextBox
    from twplate.photo import agreed_plate

    boxes = [TextBox(np.float32([[x, 0], [x + 40, 0], [x + 40, 10], [x, 10]]), 0.9) for x in range(5)]
    texts = [("AWD-5902", 0.98), ("AVD-5902", 0.90), ("AVD-5902", 0.95), ("AVD-5902", 0.60), ("----", 0.99)]
    readings = [(PlateResult(text, confidence), box) for (text, confidence), box in zip(texts, boxes)]

    def confident_plate(reading: PlateResult, box: TextBox) -> bool:
        return reading.text.strip("-") != "" and reading.confidence > 0.8

    plate, box = agreed_plate(readings, confident_plate, min_votes=3)   # the unsure AVD-5902 votes, is not kept
    assert (plate.text, plate.confidence, box) == ("AVD-5902", 0.95, boxes[2])
    assert agreed_plate(readings, confident_plate, min_votes=4) is None
    assert agreed_plate(readings[:1] + readings[4:] * 3, confident_plate, min_votes=1)[0].text == "AWD-5902"
    assert agreed_plate(readings[3:], confident_plate, min_votes=1) is None   # no reading is a plate


def test_small_boxes_looked_at_closer_a_few_at_a_time_read_the_same(reader, monkeypatch):
    import twplate.photo

    two = np.hstack([paste_plate("02_scooter_old.jpg", SMALL_PLATE), paste_plate("00_car2014.jpg", SMALL_PLATE)])
    together = [p.text for p in reader(two)]
    monkeypatch.setattr(twplate.photo, "CLOSER_CHUNK", 1)
    assert sorted(p.text for p in reader(two)) == sorted(together) == ["KCD-1636", "YYE-903"]


def test_photo_without_a_plate_gives_an_empty_list(reader):
    assert reader(_empty_scene()) == []


def _empty_scene() -> np.ndarray:
    scene = np.clip(np.random.default_rng(1).normal(120, 10, (480, 640, 3)), 0, 255).astype(np.uint8)
    cv2.rectangle(scene, (100, 100), (300, 200), (40, 80, 200), -1)   # a red shape, no text
    return scene


def test_text_that_is_no_plate_is_not_reported(reader):
    """A phone number and a date on plate-like panels, and a sign: each is boxed with a plate's proportions and
    read (the phone number and the date confidently, in a plate format), and none is a plate: no letter, or a
    reading the formats had to change in more than one character."""
    scene = _empty_scene()
    for text, (x, y) in (("04-2516", (40, 60)), ("2024-05", (330, 300))):
        cv2.rectangle(scene, (x, y), (x + 290, y + 90), (255, 255, 255), -1)
        cv2.putText(scene, text, (x + 15, y + 70), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 5)
    cv2.putText(scene, "SALE 50", (60, 300), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 4)
    low, high = reader.rules.aspect
    boxes = [b for b in reader.detector([scene])[0] if low * b.size[1] <= b.size[0] <= high * b.size[1]]
    read = {r.text: r for r in reader.recognizer.run_many([crop_box(scene, b.points, reader.rules.margin)
                                                            for b in boxes])}
    assert {"04-2516", "2024-05"} <= set(read) and len(read) == 3
    assert all(read[t].confidence > 0.9 and read[t].format_edits == 0 for t in ("04-2516", "2024-05"))
    assert reader(scene) == []


def test_a_list_gives_a_list_per_photo_and_a_bad_photo_an_error_entry(reader, car_photo, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    path = tmp_path / "car.png"
    cv2.imwrite(str(path), car_photo)
    results = reader([str(path), str(broken), _empty_scene(), b""])
    assert len(results) == 4
    assert [p.text for p in results[0]] == ["KCD-1636"] and results[0][0].source == str(path)
    for bad in (results[1], results[3]):
        (error,) = bad
        assert not error.ok and isinstance(error.error, ImageError) and error.text == "" and error.box is None
    assert results[1][0].source == str(broken)
    assert results[2] == []


@pytest.mark.parametrize("limit", ["photos", "pixels"])
def test_chunks_bounded_by_count_or_pixels_read_as_one(reader, car_photo, tmp_path, monkeypatch, limit):
    """A long list is decoded a chunk at a time: chunks of 2 photos, or of 1 by their pixels, give the
    same entries, in order, as one chunk does (errors and sources included), for photos and for crops."""
    import twplate.photo as photo_module

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    photos = [car_photo, str(broken), _empty_scene(), cv2.resize(car_photo, None, fx=0.8, fy=0.8), car_photo, b""]
    crops = [steep_crop("00_car2014.jpg", 50), str(broken), str(SAMPLES / "00_car2014.jpg")] * 2

    def read() -> tuple[list, list]:  # texts, sources, errors; the numbers (batch sizes move their last bits)
        entries = [tuple(plates) for plates in reader.run_many(photos)] + [(r,) for r in reader.read_crops(crops)]
        exact = [[(r.text, r.source, str(r.error)) for r in entry] for entry in entries]
        numbers = [[r.confidence, *np.ravel(r.box if r.box is not None else [])] for entry in entries for r in entry]
        return exact, numbers

    exact, numbers = read()
    monkeypatch.setattr(photo_module, *(("CHUNK_PHOTOS", 2) if limit == "photos" else ("MAX_CHUNK_PIXELS", 1)))
    monkeypatch.setattr(photo_module, "CHUNK_BATCHES", 1)
    monkeypatch.setattr(reader.recognizer, "batch_size", 2)  # read_crops: chunks of 2 crops
    chunked_exact, chunked_numbers = read()
    assert chunked_exact == exact
    for got, expected in zip(chunked_numbers, numbers, strict=True):  # confidences, then box corners in pixels
        np.testing.assert_allclose(got[:1], expected[:1], atol=1e-3)
        np.testing.assert_allclose(got[1:], expected[1:], atol=1.0)
    assert [[r[0] for r in entry] for entry in exact[: len(photos)]] == [["KCD-1636"], [""], [], ["KCD-1636"],
                                                                         ["KCD-1636"], [""]]
    assert exact[1][0][1] == str(broken) and "cannot decode" in exact[1][0][2]
    assert [entry[0][0] for entry in exact[len(photos):]] == ["KCD-1636", "", "KCD-1636"] * 2


def test_a_single_bad_photo_raises(reader, tmp_path):
    with pytest.raises(ImageError):
        reader(np.zeros((0, 10, 3), np.uint8))


def test_two_plates_in_one_photo_most_confident_first(reader):
    photo = paste_plate("00_car2014.jpg", [(80, 100), (330, 100), (330, 220), (80, 220)], size=(600, 1000))
    plate = cv2.imread(str(SAMPLES / "04_ev2014.jpg"))
    small = cv2.resize(plate, (240, round(240 * plate.shape[0] / plate.shape[1])))
    photo[350 : 350 + small.shape[0], 600:840] = small
    results = reader(photo)
    assert sorted(p.text for p in results) == ["EAM-8602", "KCD-1636"]
    assert [p.confidence for p in results] == sorted((p.confidence for p in results), reverse=True)


def test_shared_between_threads_every_call_gets_its_own_answer(reader, car_photo):
    photos = [car_photo, _empty_scene()] * 4
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(reader, photos))
    assert [[p.text for p in a] for a in answers] == [["KCD-1636"], []] * 4


def test_reads_with_a_recognizer_given_loaded(reader, car_photo):
    """``recognizer=`` is used as it is (no second copy of the model), its options with it; giving a model
    as well is refused."""
    from twplate import PlateRecognizer
    from twplate.photo import PhotoReader

    narrow = PlateRecognizer(backend="onnxruntime", threads=1, input_width=72)
    given = PhotoReader(recognizer=narrow, backend="onnxruntime", threads=1)
    assert given.recognizer is narrow
    (plate,) = given(car_photo)
    (by_aspect,) = reader(car_photo)
    assert plate.text == by_aspect.text == "KCD-1636" and plate.box == by_aspect.box
    crop = crop_box(car_photo, np.float32(plate.box), given.rules.margin)
    assert plate.char_confidences == narrow(crop).char_confidences != by_aspect.char_confidences
    with pytest.raises(ValueError, match="a model or a loaded recognizer, not both"):
        PhotoReader("models/twplate-rec", recognizer=narrow)


def test_reads_with_a_detector_given_loaded(reader, car_photo):
    """``detector=`` takes a loaded TextDetector as it is, with its own input limit; giving a limit or DB settings
    as well is refused rather than silently dropped."""
    from twplate.detect.detector import TextDetector
    from twplate.photo import PhotoReader

    small = TextDetector(backend="onnxruntime", threads=1, limit_side=320)
    given = PhotoReader(detector=small, backend="onnxruntime", threads=1)
    assert given.detector is small and given.detector.spec.preprocess.limit_side == 320
    (plate,) = given(car_photo)
    assert plate.text == "KCD-1636" and plate.box != reader(car_photo)[0].box  # found at the smaller input
    with pytest.raises(ValueError, match="belong to the loaded detector"):
        PhotoReader(detector=small, limit_side=960)


def test_read_photo_is_exported_lazily():
    import twplate

    assert "read_photo" in dir(twplate) and "PhotoReader" in dir(twplate)
    assert twplate.read_photo(paste_plate("00_car2014.jpg", PLATE_CORNERS))[0].text == "KCD-1636"


# --- pieces ---------------------------------------------------------------------------------------

def test_crop_box_makes_a_tilted_quad_upright_with_a_margin():
    image = np.zeros((200, 300, 3), np.uint8)
    quad = np.float32([[100, 50], [200, 70], [195, 110], [95, 90]])
    cv2.fillPoly(image, [quad.astype(np.int32)], (255, 255, 255))
    crop = crop_box(image, quad, margin=(0.5, 0.25))
    h, w = crop.shape[:2]
    pad_x, pad_y = 0.5 * 41, 0.25 * 41
    assert w == pytest.approx(102 + 2 * pad_x, abs=2) and h == pytest.approx(41 + 2 * pad_y, abs=2)
    inner = crop[round(pad_y) + 3 : h - round(pad_y) - 3, round(pad_x) + 3 : w - round(pad_x) - 3]
    assert inner.min() > 200   # the quad fills the middle: made upright
    assert crop[:, : round(pad_x) - 3].max() < 50 and crop[: round(pad_y) - 3].max() < 50   # the margin around it


def test_upright_transform_enlarges_and_maps_back_onto_the_quad():
    quad = np.float32([[100, 50], [200, 70], [195, 110], [95, 90]])
    _, (w, h) = upright_transform(quad, (0.5, 0.25))
    matrix, (w3, h3) = upright_transform(quad, (0.5, 0.25), scale=3.0)
    assert (w3, h3) == (pytest.approx(3 * w, abs=2), pytest.approx(3 * h, abs=2))
    width, height = 3 * np.hypot(100, 20), 3 * np.hypot(5, 40)   # its edges' lengths, enlarged
    pad_x, pad_y = 0.5 * height, 0.25 * height
    inner = np.float64([[pad_x, pad_y], [pad_x + width, pad_y], [pad_x + width, pad_y + height],
                        [pad_x, pad_y + height]])
    back = cv2.perspectiveTransform(inner[None], np.linalg.inv(matrix))[0]
    assert back == pytest.approx(quad, abs=1e-3)


def _result(text, confidence, box):
    return PlateResult(text, confidence, (confidence,) * len(text), box=box, detection_score=0.8)


def test_merge_keeps_the_most_confident_of_overlapping_boxes_and_separate_plates():
    a = ((0.0, 0.0), (100.0, 0.0), (100.0, 30.0), (0.0, 30.0))
    a_shifted = ((5.0, 2.0), (104.0, 2.0), (104.0, 31.0), (5.0, 31.0))
    far = ((300.0, 0.0), (400.0, 0.0), (400.0, 30.0), (300.0, 30.0))
    merged = merge_overlapping([_result("ABC-123", 0.9, a), _result("ABC-1234", 0.95, a_shifted),
                                _result("XYZ-999", 0.85, far)])
    assert [p.text for p in merged] == ["ABC-1234", "XYZ-999"]


def test_plate_rules_are_checked(reader, car_photo):
    from twplate.photo import PhotoReader

    strict = PhotoReader(backend="onnxruntime", threads=1, rules=PlateRules(min_confidence=0.9999))
    assert strict(car_photo) == []
    tall_only = PhotoReader(backend="onnxruntime", threads=1, rules=PlateRules(aspect=(0.1, 1.0)))
    assert tall_only(car_photo) == []


def test_a_reading_the_formats_changed_in_more_than_one_character_is_no_plate(reader):
    """A badge or a sign forced into a plate format needs several changes; a real plate at most one."""
    from twplate.detect.postprocess import TextBox

    box = TextBox(np.float32([[0, 0], [140, 0], [140, 40], [0, 40]]), 0.9)
    read = PlateResult("HYL-1711", 0.95, (0.99,) * 7)
    assert reader._is_plate(read, box)
    assert reader._is_plate(replace(read, format_edits=1), box)
    assert not reader._is_plate(replace(read, format_edits=2), box)


# --- command line ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory, car_photo) -> Path:
    root = tmp_path_factory.mktemp("photos")
    (root / "a").mkdir()
    (root / "b").mkdir()
    cv2.imwrite(str(root / "a" / "car.jpg"), car_photo, [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(root / "b" / "car.jpg"), _empty_scene())   # same name, other folder: no plate
    return root


STEEP = [("00_car2014.jpg", "KCD-1636", 50), ("01_moto2014.jpg", "LAW-1095", -60), ("07_diplomat.jpg", "使553", 55)]


def test_read_crops_straightens_plates_hanging_steeply_in_their_crop(reader):
    """A plate turned 50-60 degrees inside its bounding box is too small and slanted for the recognizer; read
    through the detector it is cut out upright and read."""
    crops = [steep_crop(sample, angle) for sample, _, angle in STEEP]
    assert all(c.shape[1] < STEEP_CROP_ASPECT * c.shape[0] for c in crops)
    as_crops = reader.recognizer.run_many(crops)
    assert [r.text for r in as_crops] != [text for _, text, _ in STEEP]   # why the detector is needed
    straightened = reader.read_crops(crops)
    assert [r.text for r in straightened] == [text for _, text, _ in STEEP]
    assert all(r.confidence > 0.9 and r.box is None and r.detection_score is None for r in straightened)


def test_read_crops_reads_a_wide_crop_as_the_recognizer_does(reader, tmp_path):
    """Only narrow crops go to the detector; a bad crop gets its error and the others are read."""
    wide = SAMPLES / "00_car2014.jpg"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    read = reader.read_crops([str(wide), str(broken), steep_crop("01_moto2014.jpg", 50)])
    assert read[0] == replace(reader.recognizer(str(wide)), source=str(wide))
    assert read[1].error is not None and "broken.jpg" in str(read[1].error) and read[1].source == str(broken)
    assert read[2].text == "LAW-1095"
    assert reader.read_crops([]) == []


def test_cli_straightens_crops_and_eval_measures_it(tmp_path, capsys):
    from twplate.cli import main

    texts = [text for _, text, _ in STEEP]
    for i, (sample, _, angle) in enumerate(STEEP):
        cv2.imwrite(str(tmp_path / f"{i}.png"), steep_crop(sample, angle))
    (tmp_path / "labels.tsv").write_text("".join(f"{i}.png\t{t}\n" for i, t in enumerate(texts)), encoding="utf-8")
    assert main(["read", "--straighten", str(tmp_path)]) == 0
    assert sorted(line.split("\t")[1] for line in capsys.readouterr().out.splitlines()) == sorted(texts)
    assert main(["read", "--straighten", "--photos", str(tmp_path)]) == 2
    assert "--straighten reads crops; with --photos" in capsys.readouterr().err
    assert main(["read", "--limit-side", "640", "--small-model", "models/twplate-rec-small", str(tmp_path)]) == 2
    assert "--limit-side, --small-model need --photos or --straighten" in capsys.readouterr().err
    exact = []
    for flags in ([], ["--straighten"]):
        assert main(["eval", str(tmp_path / "labels.tsv"), "--json", *flags]) == 0
        exact.append(json.loads(capsys.readouterr().out)["acc"])
    assert exact[0] < exact[1] == 1.0


def test_cli_read_photos_prints_one_line_per_plate_with_its_box(photo_dir, capsys):
    """One line per plate found, and one with empty text for the photo without a plate."""
    from twplate.cli import main

    assert main(["read", "--photos", "--backend", "onnxruntime", str(photo_dir)]) == 0
    line, empty = capsys.readouterr().out.splitlines()
    path, text, confidence, box = line.split("\t")
    assert path.endswith("car.jpg") and "/a/" in path and text == "KCD-1636" and float(confidence) > 0.9
    corners = [tuple(map(float, corner.split(","))) for corner in box.split(" ")]
    assert len(corners) == 4 and quad_overlap(corners, PLATE_CORNERS) > 0.9
    assert empty == f"{photo_dir / 'b' / 'car.jpg'}\t\t0.0000\t"


def test_cli_small_model_reaches_the_photo_reader(tiny_model_dir, tmp_path, capsys):
    """``--small-model`` reads the small boxes in ``read --photos`` and ``eval-photos``: a model that cannot read
    plates (the tiny test model) loses the far plate the shipped small-plate reader finds."""
    from twplate.cli import main

    cv2.imwrite(str(tmp_path / "far.png"), paste_plate("02_scooter_old.jpg", SMALL_PLATE))
    found = {}
    for flags in ([], ["--small-model", str(tiny_model_dir)]):
        assert main(["read", "--photos", "--backend", "onnxruntime", *flags, str(tmp_path / "far.png")]) == 0
        found[bool(flags)] = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()]
    assert "YYE-903" in found[False] and "YYE-903" not in found[True]
    (tmp_path / "labels.tsv").write_text("far.png\tYYE-903\n", encoding="utf-8")
    out = tmp_path / "eval.json"
    assert main(["eval-photos", str(tmp_path / "labels.tsv"), "--out", str(out),
                 "--small-model", str(tiny_model_dir)]) == 0
    doc = json.loads(out.read_text())
    assert doc["found"] == 0 and "small_recognizer=PlateRecognizer(model='tiny'" in doc["reader"]


def test_cli_read_photos_gives_a_failed_photo_a_row_with_its_error(photo_dir, tmp_path, capsys):
    from twplate.cli import main

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    assert main(["read", "--photos", "--json", str(photo_dir / "a" / "car.jpg"), str(broken)]) == 1
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [(r["path"], r["text"]) for r in rows] == [(str(photo_dir / "a" / "car.jpg"), "KCD-1636"),
                                                     (str(broken), "")]
    assert "cannot decode" in rows[1]["error"] and rows[1]["box"] == [] and rows[0]["error"] is None
    assert "broken.jpg" in captured.err and "1 of 2 photos failed" in captured.err


def test_cli_read_photos_json_and_csv(photo_dir, capsys):
    from twplate.cli import main

    assert main(["read", "--photos", "--json", str(photo_dir / "a" / "car.jpg")]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["text"] == "KCD-1636" and len(row["box"]) == 4 and 0.5 <= row["detection_score"] <= 1
    assert row["format_edits"] == 0 and row["error"] is None
    assert main(["read", "--photos", "--csv", str(photo_dir / "a" / "car.jpg")]) == 0
    header, values = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert header == ["path", "text", "confidence", "format_edits", "box", "detection_score", "error"]
    assert values[1] == "KCD-1636" and values[3] == "0" and len(values[4].split(" ")) == 4


def test_cli_draw_writes_each_photo_outlined_under_distinct_names(photo_dir, tmp_path, capsys):
    from twplate.cli import main

    broken = photo_dir / "broken.jpg"
    broken.write_bytes(b"not an image")
    try:
        assert main(["read", "--photos", "--draw", str(tmp_path / "drawn"), str(photo_dir)]) == 1   # one failed
    finally:
        broken.unlink()
    assert "broken.jpg" in capsys.readouterr().err
    drawn = sorted(p.name for p in (tmp_path / "drawn").iterdir())
    assert drawn == ["a__car.jpg", "b__car.jpg"]
    (photo_dir / "a" / "car.png").write_bytes(cv2.imencode(".png", cv2.imread(str(photo_dir / "a" / "car.jpg")))[1])
    try:  # car.png beside car.jpg: both drawn, under two names
        assert main(["read", "--photos", "--draw", str(tmp_path / "both"), str(photo_dir / "a")]) == 0
    finally:
        (photo_dir / "a" / "car.png").unlink()
    assert sorted(p.name for p in (tmp_path / "both").iterdir()) == ["car-2.jpg", "car.jpg"]
    original = cv2.imread(str(photo_dir / "a" / "car.jpg"))
    outlined = cv2.imread(str(tmp_path / "drawn" / "a__car.jpg"))
    assert outlined.shape == original.shape
    changed = np.abs(outlined.astype(int) - original).max(axis=2) > 60
    ys, xs = np.nonzero(changed)
    assert 250 < xs.mean() < 600 and 200 < ys.mean() < 450     # drawn around the plate


def test_cli_draw_without_photos_is_a_usage_error(photo_dir, tmp_path, capsys):
    from twplate.cli import main

    assert main(["read", "--draw", str(tmp_path), str(photo_dir)]) == 2
    assert "--draw needs --photos" in capsys.readouterr().err


def test_cli_eval_photos_counts_found_missed_and_false(photo_dir, tmp_path, capsys):
    from twplate.cli import main

    labels = photo_dir / "labels.tsv"
    labels.write_text("a/car.jpg\tKCD-1636\nb/car.jpg\t\n", encoding="utf-8")
    out = tmp_path / "eval.json"
    assert main(["eval-photos", str(labels), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert (doc["photos"], doc["plates"], doc["found"], doc["false_readings"]) == (2, 1, 1, 0)
    assert doc["recall"] == 1.0 and doc["misses"] == [] and "recall\t1.0" in capsys.readouterr().out

    labels.write_text("a/car.jpg\tKCD-1686\nb/car.jpg\tABC-1234?\n", encoding="utf-8")
    assert main(["eval-photos", str(labels), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert (doc["plates"], doc["found"], doc["false_readings"], doc["doubtful_labels"]) == (1, 0, 1, 1)
    assert doc["misses"][0]["label"] == "KCD-1686" and doc["misses"][0]["read"][0]["text"] == "KCD-1636"
    assert doc["false_reading_rows"][0]["text"] == "KCD-1636"


def test_eval_photos_matches_readings_to_labels_one_to_one(reader, tmp_path):
    """A photo with the same plate twice (two cars of one fleet, or a mosaic of one photo) gives two readings:
    labelled twice, both are found; labelled once, the second is a false reading; one plate labelled twice
    is found once and missed once."""
    from twplate.photo_eval import evaluate_photos, read_labels

    twice = paste_plate("00_car2014.jpg", [(80, 100), (330, 100), (330, 220), (80, 220)], size=(600, 1000))
    twice[350:470, 600:850] = twice[100:220, 80:330]
    cv2.imwrite(str(tmp_path / "twice.png"), twice)
    cv2.imwrite(str(tmp_path / "once.png"), paste_plate("00_car2014.jpg", PLATE_CORNERS))
    assert [p.text for p in reader(str(tmp_path / "twice.png"))] == ["KCD-1636"] * 2
    labels = tmp_path / "labels.tsv"
    for rows, counts in [("twice.png\tKCD-1636\ntwice.png\tKCD-1636\n", (2, 2, 0)),
                         ("twice.png\tKCD-1636\n", (1, 1, 1)),
                         ("once.png\tKCD-1636\nonce.png\tKCD-1636\n", (2, 1, 0)),
                         ("twice.png\tKCD-1636\ntwice.png\tKCD-1636?\n", (1, 1, 0))]:
        labels.write_text(rows, encoding="utf-8")
        report = evaluate_photos(reader, read_labels(labels))
        assert (report.plates, report.found, report.false) == counts, rows


def test_cli_eval_photos_runs_every_model_in_the_precision_asked(photo_dir, tmp_path):
    """--backend and --precision load every model (detector, plate reader, small-plate reader); the report names
    the precision each really runs in."""
    ov = pytest.importorskip("openvino")
    from twplate.backends.openvino import cpu_capabilities
    from twplate.cli import main

    if "BF16" not in cpu_capabilities(ov.Core()):
        pytest.skip("this CPU has no native bf16: fp32, the default, cannot show that the option reached a model")
    labels = photo_dir / "labels.tsv"
    labels.write_text("a/car.jpg\tKCD-1636\n", encoding="utf-8")
    out = tmp_path / "eval.json"
    assert main(["eval-photos", str(labels), "--out", str(out), "--backend", "openvino", "--precision", "bf16",
                 "--threads", "2"]) == 0
    doc = json.loads(out.read_text())
    assert (doc["found"], doc["false_readings"]) == (1, 0)
    assert doc["reader"].count("backend='openvino', providers=['CPU', 'bf16']") == 3, doc["reader"]


@pytest.mark.parametrize(("text", "plate"), [("ABC-1234", True), ("491-2A", True), ("試9218", True), ("使553", True),
                                             ("04-2516", False), ("2024-05", False), ("30-31", False),
                                             ("ABC1234", False), ("", False)])
def test_plate_numbers_fit_a_format_and_are_not_all_digits(text, plate):
    assert is_plate_number(text) is plate


def test_labels_file_rows_need_a_tab(tmp_path):
    from twplate.photo_eval import read_labels

    labels = tmp_path / "labels.tsv"
    labels.write_text("a.jpg\tABC-1234\na.jpg\tXYZ-999?\nb.jpg\t\n\nc.jpg ABC-1234\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels.tsv:5: expected 'photo path<TAB>plate'"):
        read_labels(labels)
    labels.write_text("\ufeffa.jpg\tABC-1234\na.jpg\tXYZ-999?\nb.jpg\t\n", encoding="utf-8")  # a BOM (Excel)
    a, b = read_labels(labels)
    assert (a.plates, a.doubtful, b.plates) == (["ABC-1234"], ["XYZ-999"], [])
    assert a.path == tmp_path / "a.jpg"


@pytest.mark.paddle
@pytest.mark.slow
def test_paddle_backend_reads_the_same_plates_where_onnxruntime_does(reader, car_photo):
    pytest.importorskip("paddle")
    from twplate.photo import PhotoReader

    paddle_reader = PhotoReader(backend="paddle", threads=1)
    assert (paddle_reader.detector.backend.name, paddle_reader.recognizer.backend.name) == ("paddle", "paddle")
    photos = [car_photo, paste_plate("04_ev2014.jpg", [(120, 200), (400, 190), (405, 330), (125, 345)], seed=3),
              _empty_scene()]
    on_paddle, on_onnxruntime = paddle_reader(photos), reader(photos)
    assert [[p.text for p in found] for found in on_onnxruntime] == [["KCD-1636"], ["EAM-8602"], []]
    assert [[p.text for p in found] for found in on_paddle] == [[p.text for p in found] for found in on_onnxruntime]
    for a, b in zip(on_paddle[0] + on_paddle[1], on_onnxruntime[0] + on_onnxruntime[1], strict=True):
        np.testing.assert_allclose(a.box, b.box, atol=0.5)
        assert a.detection_score == pytest.approx(b.detection_score, abs=1e-3)
        assert a.confidence == pytest.approx(b.confidence, abs=1e-3)
