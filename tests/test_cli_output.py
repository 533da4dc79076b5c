"""The CLI carries on whatever it meets on the way out, not only on the way in.

Run as a real process (``python -m twplate``), since these are about the process's own streams:

* a file name that is not valid UTF-8 on a strict UTF-8 stdout, and plate characters on an ASCII
  stdout: the row is written with backslash escapes; every other row is written; exit code 0;
* the reader of stdout going away (``twplate read ... | head -1``): exit code 1, no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

import tiny_models

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names and pipes")


def _twplate(args: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "twplate", "read", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, **kwargs)


@pytest.fixture
def plates(tmp_path: Path) -> Path:
    folder = tmp_path / "plates"
    folder.mkdir()
    for name, text in (("a.png", "ABC-1234"), ("c.png", "外0872")):
        cv2.imwrite(str(folder / name), tiny_models.stripe_image(text))
    os.link(folder / "a.png", os.fsencode(folder) + b"/b\xff\xfe.png")  # not UTF-8
    return folder


@pytest.mark.parametrize("fmt", ["tsv", "json", "csv"])
def test_undecodable_file_name_on_strict_utf8_stdout(plates: Path, tiny_model_dir: Path, fmt: str) -> None:
    flag = [] if fmt == "tsv" else [f"--{fmt}"]
    proc = _twplate([*flag, "--model", str(tiny_model_dir), str(plates)], env={"PYTHONIOENCODING": "utf-8"})
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode(errors="replace")
    text = out.decode("utf-8")  # valid UTF-8 throughout
    assert "Traceback" not in err.decode(errors="replace")
    assert "a.png" in text and "c.png" in text and "b\\udcff\\udcfe.png" in text
    if fmt == "json":
        rows = [json.loads(line) for line in text.splitlines()]
        assert [r["text"] for r in rows] == ["ABC-1234", "ABC-1234", "外0872"]
        assert os.fsencode(rows[1]["path"]).endswith(b"b\xff\xfe.png")  # the escape decodes to the real name


def test_plate_characters_on_an_ascii_stdout(plates: Path, tiny_model_dir: Path) -> None:
    proc = _twplate(["--model", str(tiny_model_dir), str(plates / "c.png"), str(plates / "a.png")],
                    env={"PYTHONIOENCODING": "ascii"})
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode(errors="replace")
    lines = out.decode("ascii").splitlines()
    assert [line.split("\t")[1] for line in lines] == ["\\u5916" + "0872", "ABC-1234"]


def test_reader_of_stdout_goes_away(plates: Path, tiny_model_dir: Path) -> None:
    many = [str(plates / "a.png")] * 20_000  # far more output than a pipe buffer holds
    proc = _twplate(["--batch-size", "64", "--model", str(tiny_model_dir), *many])
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode(errors="replace")
    assert proc.wait(timeout=120) == 1
    assert first.split(b"\t")[1] == b"ABC-1234"
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_odd_file_names_keep_one_row_each_in_utf8(plates: Path, tiny_model_dir: Path) -> None:
    """With the usual surrogateescape stdout (no PYTHONIOENCODING), a name that is not UTF-8 is still escaped, and
    a tab or a line break in a name is escaped in tab-separated rows: one row of four fields per image."""
    os.link(plates / "a.png", plates / "tab\there.png")
    os.link(plates / "a.png", plates / "line\nbreak.png")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONIOENCODING"}
    proc = subprocess.Popen([sys.executable, "-m", "twplate", "read", "--model", str(tiny_model_dir), str(plates)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**env, "LC_ALL": "C.UTF-8"})
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode(errors="replace")
    lines = out.decode("utf-8").splitlines()  # valid UTF-8 throughout
    assert len(lines) == 5 and all(len(line.split("\t")) == 3 for line in lines)
    assert any("tab\\there.png" in line for line in lines) and any("line\\nbreak.png" in line for line in lines)
    assert any("b\\udcff\\udcfe.png" in line for line in lines)
