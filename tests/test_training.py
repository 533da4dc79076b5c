"""Training-side pieces: the Student against the public model, exporter checks, datasets, metrics, logs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from plates import draw_plate
from twplate.preprocess import PreprocessConfig, resize_normalize
from twplate.training.config import ConfigError, DataSection, RunSettings, load_config, training_shapes
from twplate.training.dataset import (
    LabelFileError,
    MixedSampler,
    Sample,
    check_samples,
    read_label_file,
    read_label_fixes,
    split_by_plate,
)
from twplate.training.metrics import RecMetrics


@pytest.mark.paddle
@pytest.mark.parametrize(("architecture", "weights"),
                         [("ppocrv3", "pretrained_onnx"), ("ppocrv4", "pretrained_v4_onnx")])
def test_models_match_public_ppocr_models_in_onnxruntime(architecture: str, weights: str,
                                                         request: pytest.FixtureRequest) -> None:
    """The paddle.nn models with the imported weights reproduce rapidocr's ONNX models (6625 classes):
    the PP-OCRv3 Student, and PP-OCRv4's recognizer with its learnt affine scalars."""
    ort = pytest.importorskip("onnxruntime")
    import paddle

    from twplate.decode import ctc_greedy_decode
    from twplate.training.pretrained import load_ppocr_model

    pretrained_onnx = request.getfixturevalue(weights)
    model, characters = load_ppocr_model(pretrained_onnx, architecture=architecture)
    model.eval()
    session = ort.InferenceSession(str(pretrained_onnx), providers=["CPUExecutionProvider"])
    pre = PreprocessConfig(min_width=48)
    readings = []
    for text, aspect in (("ABC-1234", 2.4), ("TAIPEI 2026", 5.0), ("7", 1.0)):
        x = resize_normalize(draw_plate(text, aspect=aspect), pre)[None]
        expected = session.run(None, {session.get_inputs()[0].name: x})[0]
        with paddle.no_grad():
            got = model(paddle.to_tensor(x)).numpy()
        assert got.shape == expected.shape == (1, x.shape[3] // 8, 6625)
        assert np.abs(got - expected).max() <= 1e-4
        chars = [*characters, " "]
        readings.append(ctc_greedy_decode(expected, chars)[0].text)
        assert ctc_greedy_decode(got, chars)[0].text == readings[-1]
    assert readings[0] == "ABC-1234"


@pytest.mark.paddle
def test_a_run_can_start_from_the_shipped_models_onnx_export() -> None:
    """``Global.init: models/twplate-rec/inference.onnx``: the Student reproduces the shipped model's outputs,
    and an export of another head size is refused naming the mismatch."""
    ort = pytest.importorskip("onnxruntime")
    import paddle

    from twplate.model_files import default_model_dir
    from twplate.training.model import PlateRecModel
    from twplate.training.pretrained import load_onnx_weights

    onnx_path = default_model_dir() / "inference.onnx"
    model = PlateRecModel(44, time_stride=4)
    characters = load_onnx_weights(model, onnx_path)
    model.eval()
    assert "".join(characters[:10]) == "0123456789"
    x = resize_normalize(draw_plate("ABC-1234", aspect=2.4), PreprocessConfig(min_width=80))[None]
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    with paddle.no_grad():
        got = model(paddle.to_tensor(x)).numpy()
    assert np.abs(got - expected).max() <= 1e-4
    with pytest.raises(ValueError, match="shape mismatch at head"):
        load_onnx_weights(PlateRecModel(45, time_stride=4), onnx_path)


@pytest.mark.paddle
@pytest.mark.parametrize("network", ["recognizer", "detector"])
def test_weights_from_a_file_that_is_not_an_onnx_model_are_refused_naming_it(network: str, tmp_path: Path) -> None:
    """The recognizer's and the detector's ONNX weight loaders read files through one reader, which names a
    file it cannot parse or find."""
    from twplate.errors import CheckpointError
    from twplate.training.det.model import PlateDetModel, load_pretrained
    from twplate.training.model import PlateRecModel
    from twplate.training.pretrained import load_onnx_weights

    bad = tmp_path / "weights.onnx"
    bad.write_bytes(b"not a model")
    load = {"recognizer": lambda path: load_onnx_weights(PlateRecModel(44, time_stride=4), path),
            "detector": lambda path: load_pretrained(PlateDetModel(), path)}[network]
    for path in (bad, tmp_path / "missing.onnx"):
        with pytest.raises(CheckpointError, match=f"{re.escape(str(path))} is not a readable ONNX model"):
            load(path)


@pytest.mark.paddle
def test_time_stride_sets_input_pixels_per_ctc_step_with_the_same_weights():
    pytest.importorskip("paddle")
    import paddle

    from twplate.training.model import PlateRecModel

    x = paddle.zeros([2, 3, 48, 96])
    for architecture in ("ppocrv3", "ppocrv4"):
        eight, four = PlateRecModel(43, architecture=architecture), PlateRecModel(43, time_stride=4,
                                                                                  architecture=architecture)
        four.set_state_dict(eight.state_dict())  # the pooling has no weights: checkpoints move between strides
        assert list(eight.state_dict()) == list(four.state_dict())
        eight.eval(), four.eval()
        assert eight(x).shape == [2, 12, 43] and four(x).shape == [2, 24, 43]
    with pytest.raises(ValueError, match="time_stride"):
        PlateRecModel(43, time_stride=2)
    with pytest.raises(ValueError, match="architecture must be one of"):
        PlateRecModel(43, architecture="ppocrv5")


@pytest.mark.paddle
def test_a_shallower_backbone_keeps_every_other_weight_of_the_deeper_one():
    """``keep_middle_blocks`` cuts the backbone's last middle blocks and keeps the rest: the cut model has
    the tensors of a model built at that depth, each the deeper model's own (the blocks after the cut
    move up), and it runs at the same time steps."""
    import paddle

    from twplate.training.model import PlateRecModel, keep_middle_blocks

    deep = PlateRecModel(44, time_stride=4)
    assert len(deep.backbone.blocks) == 13
    weights = {k: v.numpy().copy() for k, v in deep.state_dict().items()}
    cut = keep_middle_blocks(deep, 3)
    assert cut.middle_blocks == 3 and len(cut.backbone.blocks) == 11
    built = PlateRecModel(44, time_stride=4, middle_blocks=3)
    assert {k: list(v.shape) for k, v in cut.state_dict().items()} == {
        k: list(v.shape) for k, v in built.state_dict().items()}

    def deep_name(name: str) -> str:  # blocks 0..8 keep their index; 9.. were 11..
        parts = name.split(".")
        if name.startswith("backbone.blocks.") and int(parts[2]) >= 9:
            parts[2] = str(int(parts[2]) + 2)
        return ".".join(parts)

    for name, value in cut.state_dict().items():
        assert np.array_equal(value.numpy(), weights[deep_name(name)]), name
    cut.eval()
    assert cut(paddle.zeros([1, 3, 48, 72])).shape == [1, 18, 44]
    with pytest.raises(ValueError, match="it cannot keep 4"):
        keep_middle_blocks(cut, 4)
    for bad in (0, 6):
        with pytest.raises(ValueError, match="middle_blocks must be between 1 and 5"):
            PlateRecModel(44, middle_blocks=bad)
    with pytest.raises(ValueError, match="ppocrv4 has no middle blocks"):
        PlateRecModel(44, architecture="ppocrv4", middle_blocks=3)
    with pytest.raises(ValueError, match="only the ppocrv3 backbone"):
        keep_middle_blocks(PlateRecModel(44, architecture="ppocrv4"), 3)


def test_middle_blocks_is_checked_in_the_config():
    assert load_config(None, ["Architecture.middle_blocks=3"]).Architecture.middle_blocks == 3
    for bad in ("0", "6"):
        with pytest.raises(ConfigError, match="middle_blocks must be between 1 and 5"):
            load_config(None, [f"Architecture.middle_blocks={bad}"])
    with pytest.raises(ConfigError, match="ppocrv3 setting; ppocrv4 has none"):
        load_config(None, ["Architecture.middle_blocks=3", "Architecture.name=ppocrv4"])


def test_run_settings_come_from_the_runs_config(tmp_path: Path):
    cfg = load_config(None, ["Architecture.time_stride=4", "Preprocess.min_width=88", "Architecture.name=ppocrv4"])
    (tmp_path / "config.yml").write_text(yaml.safe_dump(cfg.to_dict()), encoding="utf-8")
    settings = RunSettings.of(tmp_path / "latest.pdparams")
    assert settings.time_stride == 4 and settings.preprocess == PreprocessConfig(min_width=88)
    assert settings.architecture == "ppocrv4" and settings.middle_blocks == 5
    cfg = load_config(None, ["Architecture.middle_blocks=2"])
    (tmp_path / "config.yml").write_text(yaml.safe_dump(cfg.to_dict()), encoding="utf-8")
    assert RunSettings.of(tmp_path / "latest.pdparams").middle_blocks == 2
    # the public weights: PP-OCRv3's Student, its stride and a floor for it
    pretrained = RunSettings.of("pretrained")
    assert pretrained.time_stride == 8 and pretrained.preprocess == PreprocessConfig(min_width=160)
    assert pretrained.architecture == "ppocrv3"
    # a checkpoint copied away from its run's config.yml: its stride is unknown, never guessed
    with pytest.raises(FileNotFoundError, match=r"elsewhere/config\.yml not found.*time stride"):
        RunSettings.of(tmp_path / "elsewhere" / "x.pdparams")


@pytest.mark.paddle
def test_a_checkpoint_that_is_missing_or_not_one_is_named_by_the_exporter(tmp_path: Path, capsys):
    """The exporters print a bad checkpoint as one line that names it, exit status 2, not a traceback."""
    from exporters.__main__ import main

    from twplate.errors import CheckpointError
    from twplate.training.checkpoint import load_student

    cfg = load_config(None, ["Architecture.time_stride=4"])
    (tmp_path / "config.yml").write_text(yaml.safe_dump(cfg.to_dict()), encoding="utf-8")
    (tmp_path / "notes.pdparams").write_text("not a checkpoint\n", encoding="utf-8")
    newer = tmp_path / "newer"  # a run of a twplate that knows a key this one does not
    newer.mkdir()
    (newer / "config.yml").write_text(yaml.safe_dump({**cfg.to_dict(), "Distill": {"align": "warped"}}),
                                      encoding="utf-8")
    cases = [(tmp_path / "missing.pdparams", r"missing\.pdparams not found"),
             (tmp_path / "notes.pdparams", r"notes\.pdparams is not a Paddle checkpoint"),
             (newer / "latest.pdparams", r"run settings of .*latest\.pdparams cannot be read: .*unknown key "
                                         r"Distill\.align")]
    for checkpoint, message in cases:
        with pytest.raises(CheckpointError, match=message):
            load_student(checkpoint, ["A", "B"])
        assert main([str(checkpoint), "--version", "0.0.1", "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("python -m exporters: error: ") and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and str(checkpoint) in err
    assert not (tmp_path / "out").exists()


def test_export_check_fails_loudly_on_a_different_model():
    from exporters.verify import ExportMismatch, assert_reproduces

    rng = np.random.default_rng(0)

    def reference(x: np.ndarray) -> np.ndarray:
        t = x.shape[3] // 8
        logits = np.repeat(x[:, 0, 0, : t * 8 : 8, None], 4, axis=2) + rng.normal(0, 0.01, (x.shape[0], t, 4))
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True)).astype(np.float32)

    fixed = {}

    def stable(x):  # the same output for the same input, so a copy of it reproduces exactly
        key = x.shape
        if key not in fixed:
            fixed[key] = reference(x)
        return fixed[key]

    pre, chars = PreprocessConfig(), ["A", "B", "C"]
    assert assert_reproduces(stable, stable, chars, pre, "copy") == 0.0
    with pytest.raises(ExportMismatch, match="max probability difference"):
        assert_reproduces(stable, lambda x: stable(x) + 1e-3, chars, pre, "shifted")
    with pytest.raises(ExportMismatch, match="output shape"):
        assert_reproduces(stable, lambda x: stable(x)[:, :-1], chars, pre, "truncated")


def test_split_by_plate_keeps_each_plate_on_one_side():
    samples = [Sample(Path(f"{i}.jpg"), f"ABC-{i % 40:04d}") for i in range(400)]
    train, val = split_by_plate(samples, 0.25, seed=3)
    assert len(train) + len(val) == 400
    assert {s.label for s in train}.isdisjoint({s.label for s in val})
    assert 0.1 < len(val) / 400 < 0.4
    assert split_by_plate(samples, 0.25, seed=3) == (train, val)


def test_an_image_under_two_labels_ties_them_to_one_side():
    """One image listed as two plates (a label disagreement) puts both plates, and every image of either, on the
    same side, whichever comes first; for every seed."""
    for seed in range(20):
        samples = [Sample(Path("x.jpg"), "NM1-948"), Sample(Path("y.jpg"), "MH1-948"),
                   Sample(Path("y.jpg"), "NM1-948"), Sample(Path("z.jpg"), "AAA-0001")]
        for order in (samples, samples[::-1]):
            train, val = split_by_plate(order, 0.5, seed)
            sides = {s.path: s in val for s in order if s.path != Path("z.jpg")}
            assert len(set(sides.values())) == 1, (seed, train, val)
            assert {s.label for s in train}.isdisjoint({s.label for s in val})


def test_split_command_applies_label_fixes_to_the_file_of_each_image(tmp_path: Path, capsys):
    from twplate.cli import main

    (tmp_path / "train.tsv").write_text("a.jpg\tNM1-948\nb.jpg\tABC-0001\n", encoding="utf-8")
    (tmp_path / "val.tsv").write_text("c.jpg\tHM1-948\n", encoding="utf-8")
    fixes = tmp_path / "fixes.tsv"
    fixes.write_text("path\toriginal\tfixed\twhy\na.jpg\tNM1-948\tHM1-948\tH, as in c.jpg\n", encoding="utf-8")
    for seed in range(10):
        out = tmp_path / f"split{seed}"
        assert main(["split", str(tmp_path / "train.tsv"), str(tmp_path / "val.tsv"), "--out", str(out),
                     "--seed", str(seed), "--val-fraction", "0.5", "--label-fixes", str(fixes)]) == 0
        sides = [read_label_file(out / f"{side}.tsv") for side in ("train", "val")]
        assert {s.label for s in sides[0]}.isdisjoint({s.label for s in sides[1]})
        assert "NM1-948" not in {s.label for side in sides for s in side}
    fixes.write_text("path\toriginal\tfixed\twhy\nnone.jpg\tX\tY\tno such image\n", encoding="utf-8")
    assert main(["split", str(tmp_path / "train.tsv"), "--out", str(tmp_path / "x"),
                 "--label-fixes", str(fixes)]) == 2
    assert "1 label fix(es) in" in capsys.readouterr().err


def test_check_samples_names_each_problem(tmp_path: Path):
    import cv2

    good, broken = tmp_path / "good.png", tmp_path / "broken.jpg"
    cv2.imwrite(str(good), draw_plate("ABC-1234"))
    broken.write_bytes(b"not an image")
    label_file = tmp_path / "labels.tsv"
    label_file.write_text("good.png\tABC-1234\nbroken.jpg\tABC-1235\nmissing.jpg\tAB?-1\n", encoding="utf-8")
    problems = check_samples(read_label_file(label_file), list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"))
    assert len(problems) == 3
    assert any("broken.jpg: image unreadable" in p for p in problems)
    assert any("missing.jpg: image missing" in p for p in problems)
    assert any("not in the dictionary: ?" in p for p in problems)


def _fixes_file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "label_fixes.tsv"
    path.write_text("path\toriginal\tfixed\twhy\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def test_label_fixes_are_applied_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    label_file = tmp_path / "train.tsv"
    label_file.write_text("\ufeffa.jpg\tAYE-0617\nb.jpg\tNEF-6653\n", encoding="utf-8")  # a BOM (Excel) is dropped
    fixes = _fixes_file(tmp_path, "a.jpg\tAYE-0617\tAYE-6017\tdigits 6017 printed")
    with caplog.at_level("INFO", logger="twplate.training.dataset"):
        samples = read_label_file(label_file, fixes)
    assert [s.label for s in samples] == ["AYE-6017", "NEF-6653"]
    assert [s.path for s in samples] == [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    assert "a.jpg: AYE-0617 -> AYE-6017 (digits 6017 printed)" in caplog.text
    assert [s.label for s in read_label_file(label_file)] == ["AYE-0617", "NEF-6653"]  # only when asked


@pytest.mark.parametrize(("row", "message"), [
    ("a.jpg\tAYE-0671\tAYE-6017\twhy", "says 'AYE-0617', the fix expects 'AYE-0671'"),  # the data changed since review
    ("c.jpg\tAYE-0617\tAYE-6017\twhy", "no such image"),
    ("a.jpg\tAYE-0617\tAYE-6017", "expected 'path<TAB>original<TAB>fixed<TAB>why'"),  # no reason given
])
def test_a_label_fix_that_does_not_match_is_refused(tmp_path: Path, row: str, message: str):
    label_file = tmp_path / "train.tsv"
    label_file.write_text("a.jpg\tAYE-0617\n", encoding="utf-8")
    with pytest.raises(LabelFileError, match=message):
        read_label_file(label_file, _fixes_file(tmp_path, row))


def test_the_reviewed_label_fixes_apply_to_real_train_only(real_data: Path):
    fixes = Path(__file__).resolve().parents[1] / "data" / "label_fixes.tsv"
    train = read_label_file(real_data / "real" / "train.tsv", fixes)
    assert sum(a.label != b.label for a, b in zip(read_label_file(real_data / "real" / "train.tsv"), train,
                                                  strict=True)) == len(read_label_fixes(fixes))
    assert all(fix.path.startswith("train/") for fix in read_label_fixes(fixes))  # val is never fitted to a model
    with pytest.raises(LabelFileError):
        read_label_file(real_data / "real" / "val.tsv", fixes)


def test_mixed_sampler_follows_the_ratio():
    real = [Sample(Path("r.jpg"), "R")] * 5
    synth = [Sample(Path("s.jpg"), "S")] * 50
    drawn = MixedSampler([real, synth], [1, 4], seed=0).draw(5000)
    share = sum(s.label == "R" for s in drawn) / len(drawn)
    assert 0.17 < share < 0.23


def test_metrics_acc_norm_edit_dis_and_confusions():
    m = RecMetrics()
    m.update(["ABC-1234", "ABC-1235", "AB-1234", ""], ["ABC-1234", "ABC-1234", "ABC-1234", "外0872"])
    assert m.acc == 0.25
    # edits / max(len): 0, 1/8, 1/8, 5/5
    assert m.norm_edit_dis == pytest.approx(1 - (0 + 1 / 8 + 1 / 8 + 1) / 4)
    assert m.confusions[("4", "5")] == 1
    assert m.confusions[("C", "")] == 1
    assert m.confusions[("外", "")] == 1
    assert [label for _, label, _ in m.misread] == ["ABC-1234", "ABC-1234", "外0872"]


def test_plot_reads_paddleocr_style_log(tmp_path: Path):
    pytest.importorskip("matplotlib")
    from twplate.training.plot import parse_log, plot

    log = tmp_path / "train.log"
    log.write_text(
        "[2026/11/24 02:29:11] ppocr INFO: global_step: 10/100, lr: 0.000050, CTCLoss: 57.5, loss: 57.5, ips: 3\n"
        "[2026/11/24 02:30:11] ppocr INFO: global_step: 20/100, lr: 0.000100, CTCLoss: 20.25, loss: 20.25, ips: 3\n"
        "[2026/11/24 02:30:30] ppocr INFO: cur metric, acc: 0.5, norm_edit_dis: 0.9\n"
        "[2026/11/24 02:31:11] ppocr INFO: global_step: 30/100, lr: 0.000100, DBLoss: 2.5, loss: 2.5, ips: 3\n"
        "[2026/11/24 02:31:30] ppocr INFO: cur metric, recall: 0.9891 (91/92), false: 1, acc: 0.9783\n",
        encoding="utf-8")
    curves = parse_log(log)
    assert curves.loss == [(10, 57.5), (20, 20.25), (30, 2.5)]
    assert curves.metrics == {"acc": [(20, 0.5), (30, 0.9783)], "norm_edit_dis": [(20, 0.9)], "recall": [(30, 0.9891)],
                              "false": [(30, 1.0)]}
    out = tmp_path / "curves.png"
    plot(curves, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_batches_draw_their_width_from_the_configured_range(tmp_path: Path):
    import cv2

    from twplate.charset import Charset, default_dictionary_path
    from twplate.training.batches import BatchMaker

    cv2.imwrite(str(tmp_path / "p.png"), draw_plate("ABC-1234", height=64, aspect=1.5))  # 72 px wide at 48
    charset = Charset.from_file(default_dictionary_path())

    def widths(floors=None, label: str = "ABC-1234", stride: int = 8, fixed=None) -> set[int]:
        sampler = MixedSampler([[Sample(tmp_path / "p.png", label)]], [1], seed=0)
        shapes = training_shapes(PreprocessConfig(), DataSection(min_width_range=floors, fixed_width_range=fixed),
                                 stride)
        maker = BatchMaker(sampler, charset, shapes, 4, 0.0, seed=1, time_stride=stride)
        try:
            stream = iter(maker)
            return {next(stream)[0].shape[3] for _ in range(40)}
        finally:
            maker.close()

    assert widths() == {PreprocessConfig().min_width}
    drawn = widths([96, 160])
    assert drawn <= set(range(96, 161, 8)) and len(drawn) >= 5
    # 8 characters + 5 repeats need 13 CTC steps: narrower floors are padded to 104 px
    assert min(widths([80, 160], label="AAA-1111")) == 104
    # at 4 px per step the plate's own 72 px hold those 13 steps; 11 characters + 8 repeats need 76
    assert widths([48, 72], label="AAA-1111", stride=4) == {72}
    assert widths([48, 72], label="AAAAA-11111", stride=4) == {76}
    # fixed widths squeeze the 72 px plate as well as stretch it
    assert widths(fixed=[56, 88], stride=4) == set(range(56, 89, 4))
    with pytest.raises(ConfigError, match="exclude each other"):
        DataSection(min_width_range=(48, 72), fixed_width_range=(64, 80))


@pytest.mark.paddle  # twplate.training.pretrained imports paddle
def test_pretrained_weights_come_from_the_wheel_checked_by_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import importlib.util
    import subprocess
    import zipfile

    from twplate.training import pretrained

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)   # rapidocr_onnxruntime not installed
    calls = []

    def fake_pip(content: bytes | None):
        def run(cmd, **kwargs):
            calls.append(cmd)
            if content is None:
                return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")
            wheel = Path(cmd[cmd.index("-d") + 1]) / "rapidocr_onnxruntime-1.2.3-py3-none-any.whl"
            with zipfile.ZipFile(wheel, "w") as w:
                w.writestr(pretrained.PRETRAINED["ppocrv3"].member, content)
            return subprocess.CompletedProcess(cmd, 0, "", "")
        return run

    monkeypatch.setattr(subprocess, "run", fake_pip(None))
    with pytest.raises(FileNotFoundError, match=r"rapidocr_onnxruntime==1.2.3.*No matching distribution.*copy"):
        pretrained.find_pretrained_onnx(tmp_path)
    assert "--no-deps" in calls[0] and "rapidocr_onnxruntime==1.2.3" in calls[0]

    monkeypatch.setattr(subprocess, "run", fake_pip(b"not the model"))
    with pytest.raises(ValueError, match="sha256 differs"):
        pretrained.find_pretrained_onnx(tmp_path)
    cached = tmp_path / "pretrained" / "ch_PP-OCRv3_rec_infer.onnx"
    assert cached.read_bytes() == b"not the model"      # extracted from the wheel, then refused

    fake_sha256 = __import__("hashlib").sha256(b"not the model").hexdigest()
    accepted = pretrained.PRETRAINED["ppocrv3"]._replace(sha256=fake_sha256)
    monkeypatch.setitem(pretrained.PRETRAINED, "ppocrv3", accepted)
    calls.clear()
    assert pretrained.find_pretrained_onnx(tmp_path) == cached and not calls   # cached: no second download
