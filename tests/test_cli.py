"""``twplate`` command line, run in-process through ``main([...])``."""

from __future__ import annotations

import csv
import io
import json
import sys
import types
from pathlib import Path

import cv2
import pytest

import tiny_models
from twplate import cli
from twplate.cli import TRAINING_COMMANDS, expand_paths, main

PLATES = {"a.png": "ABC-1234", "b.jpg": "AA", "sub/c.bmp": "外0872", "sub/deeper/d.webp": "使22"}


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    for name, text in PLATES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        params = {".webp": [cv2.IMWRITE_WEBP_QUALITY, 101], ".jpg": [cv2.IMWRITE_JPEG_QUALITY, 100]}
        cv2.imwrite(str(path), tiny_models.stripe_image(text), params.get(path.suffix, []))
    (root / "notes.txt").write_text("not an image")
    return root


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_read_folder_recursively(image_dir: Path, tiny_model_dir: Path, capsys) -> None:
    code, out, err = run(["read", "--model", str(tiny_model_dir), str(image_dir)], capsys)
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert {Path(p).relative_to(image_dir).as_posix(): t for p, t, _ in rows} == PLATES
    assert all(float(c) > 0.99 for _, _, c in rows)
    assert err == ""


def test_json_lines(image_dir: Path, tiny_model_dir: Path, capsys) -> None:
    code, out, _ = run(["read", "--json", "--model", str(tiny_model_dir), str(image_dir / "a.png")], capsys)
    assert code == 0
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["text"] == "ABC-1234" and row["error"] is None
    assert row["path"].endswith("a.png") and len(row["char_confidences"]) == 8


def test_csv(image_dir: Path, tiny_model_dir: Path, capsys) -> None:
    code, out, _ = run(["read", "--csv", "--model", str(tiny_model_dir), str(image_dir / "sub")], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["text"] for r in rows) == sorted(["外0872", "使22"])
    assert all(r["error"] == "" for r in rows)


def test_json_and_csv_rows_say_how_many_characters_the_plate_formats_changed(image_dir: Path, formats_model: Path,
                                                                               capsys) -> None:
    from twplate import PlateRecognizer

    image = image_dir / "b.jpg"  # "AA": no plate, so the formats change it
    expected = PlateRecognizer(formats_model)(image)
    assert expected.format_edits > 0
    code, out, _ = run(["read", "--json", "--model", str(formats_model), str(image)], capsys)
    assert code == 0 and json.loads(out)["format_edits"] == expected.format_edits
    code, out, _ = run(["read", "--csv", "--model", str(formats_model), str(image)], capsys)
    (row,) = csv.DictReader(io.StringIO(out))
    assert code == 0 and (row["text"], int(row["format_edits"])) == (expected.text, expected.format_edits)


def test_glob(image_dir: Path, tiny_model_dir: Path, capsys) -> None:
    code, out, _ = run(["read", "--model", str(tiny_model_dir), str(image_dir / "**" / "*.bmp")], capsys)
    assert code == 0
    assert out.split("\t")[1] == "外0872"


def test_failures_reported_and_processing_continues(image_dir: Path, tiny_model_dir: Path, capsys) -> None:
    (image_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (image_dir / "empty.png").write_bytes(b"")
    code, out, err = run(["read", "--json", "--model", str(tiny_model_dir), str(image_dir)], capsys)
    assert code == 1
    rows = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert len(rows) == len(PLATES) + 2
    assert rows["a.png"]["text"] == "ABC-1234"
    assert rows["broken.jpg"]["text"] == "" and "cannot decode" in rows["broken.jpg"]["error"]
    assert "broken.jpg" in err and "empty.png" in err and "2 of 6 images failed" in err


def test_openvino_speed_options(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    """--precision, --streams and --input-width reach the backend: the tiny model reads plates drawn 192 px
    wide at --input-width 192, split over two streams, and misreads them squeezed to 96."""
    pytest.importorskip("openvino")
    for name, text in PLATES.items():
        cv2.imwrite(str(tmp_path / f"{Path(name).stem}.png"), tiny_models.stripe_image(text, width=192))
    common = ["read", "--model", str(tiny_model_dir), "--backend", "openvino", "--precision", "fp32", "--streams", "2",
              "--threads", "2", str(tmp_path)]
    for width, right in (("192", True), ("96", False)):
        code, out, err = run([*common, "--input-width", width], capsys)
        assert code == 0, err
        texts = {Path(p).stem: t for p, t, _ in (line.split("\t") for line in out.splitlines())}
        assert (texts == {Path(n).stem: t for n, t in PLATES.items()}) is right, texts


def test_photos_give_the_detector_the_speed_options(tiny_model_dir: Path) -> None:
    """With --photos, --precision and --streams load the detector as they load the recognizer: the detector
    is most of a photo's time."""
    pytest.importorskip("openvino")
    args = cli.build_parser().parse_args(["read", "--photos", "--model", str(tiny_model_dir), "--backend", "openvino",
                                          "--precision", "fp32", "--streams", "2", "--threads", "2", "a.jpg"])
    reader = cli._photo_reader(args)
    for backend in (reader.detector.backend, reader.recognizer.backend):
        assert (backend.name, backend.providers, backend.streams) == ("openvino", ["CPU", "fp32"], 2)


def test_an_option_the_backend_lacks_is_a_usage_error(image_dir: Path, tiny_model_dir: Path, capsys) -> None:
    code, out, err = run(["read", "--model", str(tiny_model_dir), "--backend", "onnxruntime", "--streams", "2",
                          str(image_dir)], capsys)
    assert (code, out) == (2, "")
    assert "backend 'onnxruntime' has no option 'streams'" in err


def test_missing_explicit_file_is_a_failure(image_dir: Path, tiny_model_dir: Path, capsys) -> None:
    code, out, err = run(["read", "--model", str(tiny_model_dir), str(image_dir / "a.png"),
                          str(image_dir / "nope.jpg")], capsys)
    assert code == 1
    assert len(out.splitlines()) == 1 and "nope.jpg" in err


def test_nothing_matched_is_a_usage_error(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    code, out, err = run(["read", "--model", str(tiny_model_dir), str(tmp_path / "*.jpg")], capsys)
    assert code == 2 and out == "" and "no images match" in err


def test_bad_model_is_a_usage_error(image_dir: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run(["read", "--model", str(tmp_path / "none"), str(image_dir)], capsys)
    assert code == 2 and "no model at" in err


SAMPLE = str(Path(__file__).resolve().parents[1] / "samples" / "00_car2014.jpg")


@pytest.mark.parametrize(("argv", "message"), [
    ([], "the following arguments are required: COMMAND"),
    (["read"], "the following arguments are required: PATH"),
    (["read", "--batch-size", "0", SAMPLE], "--batch-size: must be >= 1, not 0"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["read", "--json", "--csv", SAMPLE], "argument --csv: not allowed with argument --json"),
])
def test_usage_errors(argv: list[str], message: str, capsys) -> None:
    """Each refused by its own check (the sample image exists, so no other error stands in), named on stderr."""
    code, _, err = run(argv, capsys)
    assert code == 2 and message in err, err


def test_help_and_version(capsys) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "read" in out and all(name in out for name in TRAINING_COMMANDS)
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith("twplate ")


def test_progress_bar_only_on_a_terminal(image_dir: Path, tiny_model_dir: Path, capsys,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "PROGRESS_MIN_IMAGES", 2)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    code, _, err = run(["read", "--model", str(tiny_model_dir), str(image_dir)], capsys)
    assert code == 0 and "4/4" in err and "[" in err
    (image_dir / "broken.png").write_bytes(b"not an image")
    code, _, err = run(["read", "--model", str(tiny_model_dir), "--batch-size", "1", str(image_dir)], capsys)
    assert code == 1 and "5/5" in err
    assert "\r\x1b[Ktwplate: " in err and "broken.png" in err  # the error on a line of its own, not after the bar
    (image_dir / "broken.png").unlink()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert run(["read", "--model", str(tiny_model_dir), str(image_dir)], capsys)[2] == ""


def test_expand_paths(image_dir: Path) -> None:
    files, unmatched = expand_paths([str(image_dir / "sub"), str(image_dir / "notes.txt"), "no/such/*.png"])
    assert [Path(f).name for f in files] == ["c.bmp", "d.webp", "notes.txt"]  # explicit files kept as given
    assert unmatched == ["no/such/*.png"]
    recursive, _ = expand_paths([str(image_dir / "**")])  # the folder and each file match: each image once
    assert sorted(Path(f).name for f in recursive) == ["a.png", "b.jpg", "c.bmp", "d.webp"]  # no notes.txt


# ---------------------------------------------------------------- training commands


def test_training_command_runs_its_module(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    module = types.ModuleType("fake_training")
    module.configure = lambda parser: parser.add_argument("--epochs", type=int, default=1)
    module.run = lambda args: print(f"epochs={args.epochs}") or 3
    monkeypatch.setitem(sys.modules, "fake_training", module)
    monkeypatch.setitem(TRAINING_COMMANDS, "train", ("fake_training", "fake"))
    code, out, _ = run(["train", "--epochs", "5"], capsys)
    assert (code, out) == (3, "epochs=5\n")


def test_two_commands_in_one_module(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    module = types.ModuleType("fake_dataset")
    module.configure_check = lambda parser: parser.add_argument("tsv")
    module.run_check = lambda args: print("check", args.tsv) or 0
    module.configure_split = lambda parser: None
    module.run_split = lambda args: print("split") or 0
    monkeypatch.setitem(sys.modules, "fake_dataset", module)
    monkeypatch.setitem(TRAINING_COMMANDS, "check", ("fake_dataset", "fake"))
    monkeypatch.setitem(TRAINING_COMMANDS, "split", ("fake_dataset", "fake"))
    assert run(["check", "x.tsv"], capsys)[:2] == (0, "check x.tsv\n")
    assert run(["split"], capsys)[:2] == (0, "split\n")


def test_training_command_without_paddle(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def fail(name: str):
        raise ModuleNotFoundError("No module named 'paddle'", name="paddle")

    monkeypatch.setattr(cli.importlib, "import_module", fail)
    code, _, err = run(["train"], capsys)
    assert code == 2 and "pip install 'twplate[train]'" in err


def test_a_dependency_imported_when_the_command_runs_is_named_too(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """``twplate plot`` imports matplotlib only when it runs: without it, exit 2 naming the extra, no traceback."""
    module = types.ModuleType("fake_plot")
    module.configure = lambda parser: None

    def needs_matplotlib(args):
        raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")

    module.run = needs_matplotlib
    monkeypatch.setitem(sys.modules, "fake_plot", module)
    monkeypatch.setitem(TRAINING_COMMANDS, "plot", ("fake_plot", "fake"))
    code, _, err = run(["plot"], capsys)
    assert code == 2 and "matplotlib is not installed" in err and "pip install 'twplate[train]'" in err



def test_eval_names_the_images_it_could_not_read_and_exits_1(image_dir: Path, tiny_model_dir: Path, capsys) -> None:
    """An unreadable image counts as misread (nothing read), is named on stderr, stays out of the confusions."""
    labels = image_dir / "labels.tsv"
    rows = [f"{name}\t{text}" for name, text in PLATES.items()] + ["notes.txt\tXYZ-9876", "gone.png\tXYZ-9876"]
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = run(["eval", str(labels), "--model", str(tiny_model_dir), "--json"], capsys)
    summary = json.loads(out)
    assert code == 1
    assert (summary["total"], summary["unread"], summary["misread"]) == (6, 2, 2)
    assert summary["acc"] == pytest.approx(4 / 6)
    assert not any("XYZ-9876"[0] in pair for pair, _ in summary["confusions"])  # no "X -> ∅" from unread images
    assert "notes.txt" in err and "gone.png" in err and "2 of 6 images could not be read" in err


def test_eval_takes_the_speed_options(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    """``twplate eval`` measures a model as ``twplate read`` runs it: --precision, --streams and --input-width
    reach the backend (the tiny model reads plates drawn 192 px wide at --input-width 192 and misreads them
    squeezed to 96); an option the backend refuses, or one a checkpoint cannot take, is named (exit 2)."""
    pytest.importorskip("openvino")
    for name, text in PLATES.items():
        cv2.imwrite(str(tmp_path / f"{Path(name).stem}.png"), tiny_models.stripe_image(text, width=192))
    labels = tmp_path / "labels.tsv"
    labels.write_text("".join(f"{Path(n).stem}.png\t{t}\n" for n, t in PLATES.items()), encoding="utf-8")
    common = ["eval", str(labels), "--model", str(tiny_model_dir), "--backend", "openvino", "--precision", "fp32",
              "--streams", "2", "--json"]
    for width, right in (("192", True), ("96", False)):
        code, out, err = run([*common, "--input-width", width], capsys)
        assert (json.loads(out)["acc"] == 1.0) is right, (width, out, err)
    code, out, err = run(["eval", str(labels), "--model", str(tiny_model_dir), "--backend", "onnxruntime",
                          "--streams", "2"], capsys)
    assert (code, out) == (2, "") and "twplate eval: backend 'onnxruntime' has no option 'streams'" in err
    code, out, err = run(["infer", str(tmp_path / "a.png"), "--checkpoint", "run.pdparams", "--input-width", "72"],
                         capsys)
    assert (code, out) == (2, "") and "twplate infer: --precision, --streams and --input-width need --model" in err


def test_a_bad_label_file_is_named_not_a_traceback(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    bad = tmp_path / "labels.tsv"
    bad.write_text("a.png\tABC-1234\nno tab here\n", encoding="utf-8")
    code, _, err = run(["eval", str(bad), "--model", str(tiny_model_dir)], capsys)
    assert code == 2 and f"twplate eval: {bad}:2: expected 'path<TAB>label'" in err
    big5 = tmp_path / "big5.tsv"
    big5.write_bytes("a.png\t外0872\n".encode("big5"))  # check reports each file's problems as its output
    code, out, _ = run(["check", str(big5), str(tmp_path / "missing.tsv")], capsys)
    assert code == 1 and "big5.tsv: 'utf-8' codec can't decode" in out and "missing.tsv: 1 problem(s)" in out
