"""Import hygiene and the built wheel's contents."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

HEAVY = ("paddle", "onnxruntime", "openvino", "nncf", "twplate.training", "onnx", "PIL")


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_twplate_is_light() -> None:
    out = run_python(
        "import sys, twplate\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m.startswith('twplate.training')))\n"
        "print(twplate.__version__)"
    )
    loaded, version = out.splitlines()
    assert loaded == "[]"
    assert version.count(".") >= 2


def test_lazy_exports_resolve() -> None:
    out = run_python(
        "import twplate\n"
        "print(twplate.PlateResult.__name__, twplate.ModelError.__mro__[1].__name__, callable(twplate.recognize))\n"
        "print(sorted(set(twplate.__all__) - set(dir(twplate))))"
    )
    assert out.splitlines() == ["PlateResult TwplateError True", "[]"]


def test_twplate_read_does_not_import_training_or_paddle(tiny_model_dir: Path, tmp_path: Path) -> None:
    import cv2

    import tiny_models

    cv2.imwrite(str(tmp_path / "p.png"), tiny_models.stripe_image("AB-12"))
    out = run_python(
        "import sys\n"
        "from twplate.cli import main\n"
        f"code = main(['read', '--model', {str(tiny_model_dir)!r}, {str(tmp_path)!r}])\n"
        "print(code, sorted(m for m in sys.modules if m.startswith(('paddle', 'twplate.training'))))"
    )
    assert out.splitlines()[-1] == "0 []"
    assert "\tAB-12\t" in out


def test_python_m_twplate() -> None:
    done = subprocess.run([sys.executable, "-m", "twplate", "--version"], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert done.returncode == 0 and done.stdout.startswith("twplate ")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Build the wheel offline (no build isolation: hatchling must be installed, as in the dev extra)."""
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = out.glob("twplate-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_has_dictionary_code_and_entry_point(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "twplate/dict/dict_taiwan_car.txt" in names
    assert wheel.read("twplate/dict/dict_taiwan_car.txt") == (REPO / "dict" / "dict_taiwan_car.txt").read_bytes()
    assert {"twplate/__init__.py", "twplate/recognizer.py", "twplate/backends/onnx.py"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "twplate = twplate.cli:main" in wheel.read(entry_points).decode()


def test_wheel_has_every_shipped_model_file(wheel: zipfile.ZipFile) -> None:
    shipped = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "models").rglob("*") if p.is_file())
    if not any(p.endswith("twplate-rec/inference.onnx") for p in shipped):
        pytest.skip("models/twplate-rec/ has not been exported into this checkout yet")
    names = set(wheel.namelist())
    assert "twplate/models/twplate-rec/inference.onnx" in names
    assert "twplate/models/twplate-rec/inference.yml" in names
    assert "twplate/py.typed" in names  # type checkers read twplate's hints
    curves = [p for p in shipped if p.endswith(".png")]  # the model cards' training curves stay in the repository
    assert curves and not [p for p in curves if f"twplate/{p}" in names]
    assert [p for p in shipped if f"twplate/{p}" not in names and p not in curves] == []


@pytest.mark.slow
def test_wheel_in_a_clean_venv_needs_and_names_the_cpu_extra(wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    """The bare wheel installs no runtime and says which extra to add; with ``[onnx]`` it reads a sample."""
    if not any((REPO / "models" / "twplate-rec").glob("inference.onnx")):
        pytest.skip("models/twplate-rec/ has not been exported into this checkout yet")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python, twplate = venv / "bin" / "python", venv / "bin" / "twplate"
    sample, label = (REPO / "samples" / "labels.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")
    read = [str(twplate), "read", str(REPO / "samples" / sample)]

    def pip_install(requirement: str) -> None:
        done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr

    pip_install(wheel.filename)
    bare = subprocess.run(read, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bare.returncode == 2
    assert "twplate[onnx]" in bare.stderr and "twplate[onnx-gpu]" in bare.stderr

    pip_install(f"{wheel.filename}[onnx]")
    done = subprocess.run(read, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\t")[1] == label
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                               text=True, timeout=60).stdout
    assert "onnxruntime==" in installed and "onnxruntime-gpu" not in installed and "paddlepaddle" not in installed


@pytest.mark.slow
def test_type_checkers_accept_the_ways_readers_are_called(tmp_path: Path) -> None:
    """A caller's ``list[str]`` (from ``glob``, say), a mixed literal list, a tuple and a single image all type-check
    against the public readers, with the result types the docs promise (lists are invariant, so a ``list[str]`` is
    not a ``list[ImageInput]``: the overloads take a list of any one kind of input too)."""
    mypy_api = pytest.importorskip("mypy.api")
    caller = tmp_path / "caller.py"
    caller.write_text(
        "import glob\n"
        "from pathlib import Path\n"
        "import numpy as np\n"
        "from twplate import PhotoReader, PlateRecognizer, PlateResult, read_photo, recognize\n"
        "paths = glob.glob('*.jpg')\n"
        "reader = PlateRecognizer()\n"
        "many: list[PlateResult] = reader(paths)\n"
        "mixed: list[PlateResult] = reader(['a.jpg', b'jpeg', np.zeros((2, 2, 3), np.uint8), Path('b.jpg')])\n"
        "one: PlateResult = recognize('a.jpg')\n"
        "some: list[PlateResult] = recognize([Path(p) for p in paths])\n"
        "photos: list[list[PlateResult]] = read_photo(paths)\n"
        "photo: list[PlateResult] = PhotoReader()(tuple(paths))[0]\n"
        "plates: list[PlateResult] = read_photo(b'jpeg')\n",
        encoding="utf-8")
    out, err, status = mypy_api.run(["--no-incremental", "--follow-imports=silent", str(caller)])
    assert status == 0, out + err
