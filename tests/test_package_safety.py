"""No surprises at run time.

* No network: recognition with every socket entry point blocked (in this process by monkeypatch,
  and in a fresh process by an audit hook installed before twplate, onnxruntime or Paddle is
  imported); URLs given as images or models are treated as (missing) local paths.
* Nothing a user passes in is unpickled or evaluated: the inference modules (everything in
  ``src/twplate`` but ``training/``) contain no pickle/marshal/shelve, no ``eval``/``exec``, no
  ``yaml.load`` (only ``safe_load``), no ``np.load``/``paddle.load``/``torch.load``, no
  ``allow_pickle`` and no network modules; checked on the syntax tree, so comments and docstrings
  that *say* so do not count.
* Model paths are opened as given: relative to the working directory, ``~`` not expanded, and the
  files read are those of the given directory.
"""

from __future__ import annotations

import ast
import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest

import twplate
from twplate import ImageError, ModelError, PlateRecognizer, recognize
from twplate.model_files import YAML_FILE, default_model_dir

REPO = Path(__file__).resolve().parents[1]
SRC = Path(twplate.__file__).resolve().parent
SAMPLE = REPO / "samples" / (REPO / "samples" / "labels.tsv").read_text(encoding="utf-8").split("\t", 1)[0]
needs_shipped = pytest.mark.skipif(not (default_model_dir() / YAML_FILE).is_file(), reason="no shipped model")


# ---------------------------------------------------------------- network


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way Python code reaches the network raises, and is recorded."""
    attempts: list[str] = []

    def refuse(name: str):
        def blocked(*args, **kwargs):
            attempts.append(f"{name}{args[1:2] if name.startswith('socket.socket') else args[:1]}")
            raise OSError(f"network access blocked by the test: {name}")
        return blocked

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse(f"socket.socket.{name}"))
    for name in ("create_connection", "getaddrinfo", "gethostbyname"):
        monkeypatch.setattr(socket, name, refuse(f"socket.{name}"))
    return attempts


@needs_shipped
@pytest.mark.parametrize("backend", ["onnxruntime", "paddle"])
def test_recognition_without_network(backend: str, no_network: list[str], tmp_path: Path) -> None:
    if backend == "paddle":
        pytest.importorskip("paddle")
    reader = PlateRecognizer(backend=backend)
    text = reader(SAMPLE).text
    assert text and [r.text for r in reader([cv2.imread(str(SAMPLE)), SAMPLE.read_bytes()])] == [text, text]
    with pytest.raises(ImageError, match="no such file"):
        reader("https://example.com/plate.jpg")
    with pytest.raises(ModelError, match="no model at"):
        PlateRecognizer("https://example.com/models/twplate-rec.onnx", backend=backend)
    assert no_network == []


def test_the_blocker_blocks(no_network: list[str]) -> None:
    """The fixture really stops a connection (so a silent pass above means something)."""
    with pytest.raises(OSError, match="blocked"):
        socket.create_connection(("example.com", 80), timeout=1)
    with pytest.raises(OSError, match="blocked"):
        socket.socket().connect(("127.0.0.1", 9))
    assert len(no_network) == 2


FRESH_PROCESS = textwrap.dedent("""
    import sys
    events = []
    def hook(event, args):
        if event.split(".")[0] in ("socket", "urllib", "http", "ftplib", "smtplib", "telnetlib", "webbrowser"):
            events.append(event)
            raise RuntimeError("network access: " + event)
    sys.addaudithook(hook)
    import json
    from twplate import PlateRecognizer, recognize
    texts = [PlateRecognizer(backend=b)({sample!r}).text for b in {backends!r}]
    texts.append(recognize({sample!r}).text)
    seen = list(events)
    import socket
    try:  # the hook itself works: a lookup is caught
        socket.getaddrinfo("localhost", 80)
        hook_works = False
    except RuntimeError:
        hook_works = True
    print(json.dumps({{"texts": texts, "events": seen, "hook_works": hook_works}}))
""")


@needs_shipped
@pytest.mark.slow
def test_fresh_process_never_touches_the_network() -> None:
    """Imports, model loading and recognition in a new process under an audit hook that fails any socket use."""
    import importlib.util

    backends = ["onnxruntime"] + (["paddle"] if importlib.util.find_spec("paddle") else [])
    script = FRESH_PROCESS.format(sample=str(SAMPLE), backends=backends)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    text = PlateRecognizer(backend="onnxruntime")(SAMPLE).text
    assert report == {"texts": [text] * (len(backends) + 1), "events": [], "hook_works": True}


# ---------------------------------------------------------------- no pickle, no eval


def _inference_modules() -> list[Path]:
    files = sorted(p for p in SRC.rglob("*.py") if "training" not in p.relative_to(SRC).parts)
    assert SRC / "image.py" in files and SRC / "backends" / "paddle.py" in files
    return files


FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "marshal", "shelve",
                     "socket", "urllib", "urllib3", "http", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
                     "xmlrpc", "webbrowser", "subprocess"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "input", "breakpoint"}
FORBIDDEN_ATTRIBUTE_CALLS = {("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"), ("yaml", "load_all"),
                             ("yaml", "unsafe_load_all"), ("yaml", "full_load_all"), ("np", "load"), ("numpy", "load"),
                             ("paddle", "load"), ("torch", "load"), ("os", "system"), ("os", "popen"),
                             ("pickle", "load"), ("pickle", "loads")}


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{where} from {node.module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{where} {func.id}(...)")
            elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                  and (func.value.id, func.attr) in FORBIDDEN_ATTRIBUTE_CALLS):
                found.append(f"{where} {func.value.id}.{func.attr}(...)")
            found += [f"{where} allow_pickle=" for k in node.keywords if k.arg == "allow_pickle"]
    return found


def test_inference_modules_neither_unpickle_nor_evaluate() -> None:
    violations = [v for path in _inference_modules() for v in _violations(path)]
    assert violations == []


def test_the_scanner_finds_what_it_looks_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle\nfrom urllib.request import urlopen\nimport yaml, numpy as np\n"
                   "yaml.load(s)\nnp.load(p, allow_pickle=True)\neval('1')\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    found = sorted(v.split(" ", 1)[1] for v in _violations(bad))
    assert found == sorted(["import pickle", "from urllib.request import ...", "yaml.load(...)", "np.load(...)",
                            "allow_pickle=", "eval(...)"])


# ---------------------------------------------------------------- paths as given


@needs_shipped
def test_model_path_is_taken_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    shutil.copytree(default_model_dir(), tmp_path / "m", ignore=shutil.ignore_patterns("inference.json",
                                                                                      "inference.pdiparams"))
    monkeypatch.chdir(tmp_path)
    reader = PlateRecognizer("m", backend="onnxruntime")  # relative to the working directory
    assert reader.spec.directory == Path("m")
    assert reader(SAMPLE) == PlateRecognizer(backend="onnxruntime")(SAMPLE)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ModelError, match="no model at ~/m"):
        PlateRecognizer("~/m")  # not expanded: a path, not a shell word
    with pytest.raises(ImageError, match="no such file"):
        recognize("~/plate.png", model="m")
