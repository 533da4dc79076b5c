"""The plate detector's training (``twplate.training.det``): DBNet's maps, the typed config, the public
weights in the paddle.nn model, and a small real run end to end: train, resume, export, read photos."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from photos import paste_plate
from plates import GLYPHS, needs_glyphs
from twplate.training.config import ConfigError, DetTrainConfig, RunSettings, TrainConfig, load_config
from twplate.training.det.data import SceneSampler, read_box_file, shrink_quad, text_maps


def _rotated_rect(cx: float, cy: float, w: float, h: float, degrees: float) -> np.ndarray:
    return cv2.boxPoints(((cx, cy), (w, h), degrees)).astype(np.float32)


@pytest.mark.parametrize("degrees", [0.0, 17.0, -40.0])
def test_shrink_quad_moves_every_side_in_by_dbnets_distance(degrees: float):
    w, h, ratio = 100.0, 20.0, 0.4
    distance = w * h * (1 - ratio**2) / (2 * (w + h))  # 7.0
    quad = _rotated_rect(200, 150, w, h, degrees)
    shrunk = shrink_quad(quad, ratio)
    assert shrunk is not None
    (cx, cy), (sw, sh), _ = cv2.minAreaRect(shrunk)
    assert sorted([sw, sh]) == pytest.approx([h - 2 * distance, w - 2 * distance], abs=1e-3)
    assert (cx, cy) == pytest.approx((200, 150), abs=1e-3)


def test_shrink_quad_gives_none_for_a_flat_quad():
    assert shrink_quad(np.float32([[0, 0], [50, 0], [50, 0], [0, 0]])) is None


def test_text_maps_mark_lines_ignore_cut_plates_and_tiny_lines():
    line = _rotated_rect(60, 40, 80, 20, 0)
    cut = _rotated_rect(10, 100, 60, 20, 0)
    tiny = _rotated_rect(100, 100, 20, 4, 0)
    target, weight = text_maps((128, 128), [line, tiny], ignored=[cut])
    assert target[40, 60] == 1 and weight[40, 60] == 1
    assert target[40, 22] == 0 and weight[40, 22] == 1   # inside the line, outside its shrunk core
    assert weight[100, 10] == 0 and target[100, 10] == 0
    assert weight[100, 100] == 0 and target[100, 100] == 0
    assert weight[5, 5] == 1 and target.sum() > 0


def test_read_box_file_groups_plates_by_photo_and_names_a_bad_line(tmp_path: Path):
    good = tmp_path / "boxes.tsv"
    good.write_text("a/1.jpg\tABC-1234\t1,2 3,2 3,4 1,4\na/1.jpg\t123-ABC\t5,5 9,5 9,8 5,8\nb/2.jpg\tXY-12\t"
                    "0,0 1,0 1,1 0,1\n", encoding="utf-8")
    photos = read_box_file(good, tmp_path / "photos")
    assert [p.path for p in photos] == [tmp_path / "photos" / "a/1.jpg", tmp_path / "photos" / "b/2.jpg"]
    assert photos[0].plates == ("ABC-1234", "123-ABC") and photos[0].quads[1][2].tolist() == [9, 8]
    bad = tmp_path / "bad.tsv"
    bad.write_text("a/1.jpg\tABC-1234\t1,2 3,2 3,4 1,4\na/1.jpg\tABC-1234\t1,2 3,2 3,4\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2: expected 4 corners"):
        read_box_file(bad)


def test_detector_config_is_typed_and_chosen_by_model_type(tmp_path: Path):
    cfg = load_config(None, ["Architecture.model_type=det", "Data.size=256", "Global.total_steps=5"])
    assert isinstance(cfg, DetTrainConfig) and cfg.Data.size == 256 and cfg.Global.total_steps == 5
    assert isinstance(load_config(None, []), TrainConfig)
    with pytest.raises(ConfigError, match=r"Data.size must be a multiple of 32"):
        load_config(None, ["Architecture.model_type=det", "Data.size=100"])
    with pytest.raises(ConfigError, match=r"unknown key Data.augment_prob \(Data has: train_boxes"):
        load_config(None, ["Architecture.model_type=det", "Data.augment_prob=0.5"])
    with pytest.raises(ConfigError, match=r"Architecture.model_type is 'cls'"):
        load_config(None, ["Architecture.model_type=cls"])
    shipped = load_config(Path(__file__).resolve().parents[1] / "configs" / "twplate_det.yml")
    assert isinstance(shipped, DetTrainConfig) and shipped.Data.val_sources
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yml").write_text("Architecture: {model_type: det}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="detector run"):
        RunSettings.of(run / "latest.pdparams")


@needs_glyphs
@pytest.mark.parametrize("other_text", ["background", "ignored"])
def test_synthetic_scenes_hold_whole_number_lines_and_say_what_other_text_teaches(other_text: str):
    sampler = SceneSampler([], synthetic_share=1.0, size=256, glyphs=GLYPHS, seed=4, other_text=other_text)
    samples = [sampler.sample() for _ in range(12)]
    for image, lines, _ in samples:
        assert image.shape == (256, 256, 3) and image.dtype == np.uint8
        assert all(q.shape == (4, 2) and (q >= 0).all() and (q < 256).all() for q in lines)
    assert sum(len(lines) for _, lines, _ in samples) >= 6
    # the drawn date stamps, signs and numbers are among the ignored quads only when asked for
    ignored_inside = sum(((q >= 0) & (q < 256)).all() for _, _, ignored in samples for q in ignored)
    assert (ignored_inside > 0) == (other_text == "ignored")


def test_scene_sampler_needs_photos_or_synthetic_scenes():
    with pytest.raises(ValueError, match="no training photos"):
        SceneSampler([], synthetic_share=0.0, size=256, glyphs=None, seed=0)


# ------------------------------------------------------------------ with paddle and the public weights
@pytest.mark.paddle
def test_paddle_model_with_public_weights_computes_what_their_onnx_export_does(pretrained_det_onnx: Path):
    import onnxruntime as ort
    import paddle

    from twplate.detect.preprocess import PPOCR_MEAN, PPOCR_STD, DetectPreprocessConfig, detector_input
    from twplate.training.det.model import load_detector

    model = load_detector("pretrained")
    x = detector_input(paste_plate("00_car2014.jpg", [(300, 300), (560, 320), (555, 440), (295, 415)]),
                       DetectPreprocessConfig(640, PPOCR_MEAN, PPOCR_STD))[None]
    session = ort.InferenceSession(str(pretrained_det_onnx), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    with paddle.no_grad():
        got = model(paddle.to_tensor(x)).numpy()
    assert got.shape == expected.shape == (1, 1, *x.shape[2:])
    assert np.abs(got - expected).max() < 1e-4
    assert expected.max() > 0.9  # the plate's characters are text to the public detector


@pytest.fixture(scope="module")
def boxed_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four made-up photos, their labels, and their plates' boxes made by ``scripts/scene_boxes.py``."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("scenes")
    repo = Path(__file__).resolve().parents[1]
    corners = [[(150, 200), (410, 215), (405, 330), (145, 310)], [(520, 380), (800, 360), (810, 470), (525, 495)]]
    labels = dict(line.split("\t") for line in (repo / "samples" / "labels.tsv").read_text().splitlines())
    rows = []
    (root / "cam").mkdir()
    for i, sample in enumerate(["00_car2014.jpg", "01_moto2014.jpg", "03_car1992.jpg", "04_ev2014.jpg"]):
        cv2.imwrite(str(root / "cam" / f"{i}.jpg"), paste_plate(sample, corners[i % 2], seed=i))
        rows.append(f"cam/{i}.jpg\t{labels[sample]}\n")
    (root / "labels.tsv").write_text("".join(rows), encoding="utf-8")
    done = subprocess.run([sys.executable, "scripts/scene_boxes.py", str(root / "labels.tsv"), "--out",
                           str(root / "boxes.tsv")], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "4 boxes written" in done.stderr and len(read_box_file(root / "boxes.tsv")[0].quads) == 1
    return root


@pytest.fixture(scope="module")
def det_run(boxed_photos: Path, pretrained_det_onnx: Path) -> Path:
    """10 steps from PP-OCRv3 det's weights on the four photos (no synthetic scenes: they need the glyphs)."""
    from twplate.training.train import train

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "twplate_det.yml", [
        f"Global.output_dir={boxed_photos / 'run'}", "Global.total_steps=10", "Global.eval_every=5",
        "Global.log_every=5", "Global.workers=1", "Optimizer.batch_size=2", "Optimizer.warmup_steps=2",
        f"Data.train_boxes={boxed_photos / 'boxes.tsv'}", f"Data.photo_root={boxed_photos}", "Data.sources=[cam]",
        "Data.synthetic_share=0.0", "Data.size=256", f"Data.val={boxed_photos / 'labels.tsv'}", "Data.val_sources=[]",
    ])
    best = train(cfg)
    assert best["plates"] == 4
    return boxed_photos / "run"


@pytest.mark.paddle
def test_a_misspelt_source_stops_the_run_by_name(boxed_photos: Path, pretrained_det_onnx: Path):
    """``Data.sources`` naming no folder under the photo root would train on synthetic scenes alone: refused."""
    from twplate.training.config import ConfigError
    from twplate.training.train import train

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "twplate_det.yml", [
        f"Global.output_dir={boxed_photos / 'typo'}", "Global.total_steps=1", "Global.workers=1",
        "Optimizer.batch_size=2", f"Data.train_boxes={boxed_photos / 'boxes.tsv'}", f"Data.photo_root={boxed_photos}",
        "Data.sources=[cma]", "Data.synthetic_share=0.0"])
    with pytest.raises(ConfigError, match=r"Data\.sources names \['cma'\], which hold no photo .*sources: \['cam'\]"):
        train(cfg, fresh=True)
    assert not (boxed_photos / "typo").exists()  # refused before the run folder was made


@pytest.mark.paddle
@pytest.mark.slow
def test_detector_training_logs_evaluates_and_resumes(det_run: Path):
    for name in ("latest.pdparams", "latest.pdopt", "latest.json", "best_accuracy.pdparams", "train.log",
                 "metrics.jsonl", "config.yml"):
        assert (det_run / name).is_file(), name
    events = [json.loads(line) for line in (det_run / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if "loss" in e] == [5, 10]
    evals = [e["eval"] for e in events if "eval" in e]
    assert len(evals) == 2 and all(e["plates"] == 4 for e in evals)
    log = (det_run / "train.log").read_text(encoding="utf-8")
    assert "DBLoss:" in log and "cur metric, recall:" in log
    cfg = load_config(det_run / "config.yml", ["Global.total_steps=12", "Global.eval_every=2"])
    from twplate.training.train import train

    train(cfg)
    assert "resume from" in (det_run / "train.log").read_text(encoding="utf-8")
    assert json.loads((det_run / "latest.json").read_text())["step"] == 12


@pytest.mark.paddle
@pytest.mark.slow
def test_keep_text_learns_the_public_detectors_map_outside_plates(boxed_photos: Path, pretrained_det_onnx: Path):
    """``Data.keep_text``: the frozen public weights run on every batch and their map is the target outside
    plates; a run with it trains and logs like any other."""
    from twplate.training.train import train

    out = boxed_photos / "keep_text"
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "twplate_det.yml", [
        f"Global.output_dir={out}", "Global.total_steps=2", "Global.eval_every=2", "Global.log_every=1",
        "Global.workers=1", "Optimizer.batch_size=2", f"Data.train_boxes={boxed_photos / 'boxes.tsv'}",
        f"Data.photo_root={boxed_photos}", "Data.sources=[cam]", "Data.synthetic_share=0.0", "Data.size=256",
        f"Data.val={boxed_photos / 'labels.tsv'}", "Data.val_sources=[]", "Data.keep_text=true"])
    assert train(cfg)["plates"] == 4
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert "keep_text: true" in (out / "config.yml").read_text()


@pytest.mark.paddle
@pytest.mark.slow
def test_training_lowers_the_loss_on_its_photos(det_run: Path, boxed_photos: Path):
    import paddle

    from twplate.detect.preprocess import PPOCR_MEAN, PPOCR_STD, DetectPreprocessConfig, detector_input
    from twplate.training.det.loss import db_loss
    from twplate.training.det.model import load_detector

    sampler = SceneSampler(read_box_file(boxed_photos / "boxes.tsv", boxed_photos), 0.0, 256, None, seed=3)
    samples = [sampler.sample() for _ in range(4)]
    pre = DetectPreprocessConfig(256, PPOCR_MEAN, PPOCR_STD)
    x = paddle.to_tensor(np.stack([detector_input(s[0], pre) for s in samples]))
    maps = [text_maps(s[0].shape[:2], s[1], s[2]) for s in samples]
    target, weight = (paddle.to_tensor(np.stack([m[k] for m in maps])) for k in (0, 1))

    def loss_of(checkpoint: str) -> float:
        model = load_detector(checkpoint)
        model.train()
        with paddle.no_grad():
            return float(db_loss(model(x), target, weight)[0])

    assert loss_of(str(det_run / "latest.pdparams")) < loss_of("pretrained")


@pytest.mark.paddle
@pytest.mark.slow
def test_exported_checkpoint_reads_the_photos_on_both_backends(det_run: Path, boxed_photos: Path, tmp_path: Path):
    pytest.importorskip("paddle2onnx")
    from exporters.detector import build

    from twplate.model_files import load_detector_spec
    from twplate.photo import PhotoReader
    from twplate.photo_eval import evaluate_photos, read_labels

    out = build(tmp_path / "det", str(det_run / "best_accuracy.pdparams"), "0.0.1")
    spec = load_detector_spec(out)
    assert spec.version == "0.0.1" and set(spec.checksums) == {"inference.onnx", "inference.json",
                                                                "inference.pdiparams"}
    for backend in ("onnxruntime", "paddle"):
        report = evaluate_photos(PhotoReader(detector=out, backend=backend), read_labels(boxed_photos / "labels.tsv"))
        assert (report.found, report.false) == (4, 0), backend


@pytest.mark.paddle
@pytest.mark.slow
def test_exporting_the_same_weights_twice_writes_the_same_files(pretrained_det_onnx: Path, tmp_path: Path):
    """``python -m exporters.detector`` run twice: byte-identical files, so the shipped ones are reproducible
    from their checkpoint (``models/twplate-det/MODEL_CARD.md``)."""
    import subprocess
    import sys

    pytest.importorskip("paddle2onnx")
    from twplate.model_files import load_detector_spec

    root = Path(__file__).resolve().parents[1]
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-m", "exporters.detector", "pretrained", "--version", "0.0.1",
                        "--out", str(tmp_path / name)], cwd=root, check=True, capture_output=True)
    first, second = (load_detector_spec(tmp_path / name) for name in ("a", "b"))
    assert set(first.checksums) == {"inference.onnx", "inference.json", "inference.pdiparams"}
    assert dict(first.checksums) == dict(second.checksums)
