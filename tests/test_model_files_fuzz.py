"""Fuzzing the model-file readers that run before any runtime sees a file.

``read_onnx_metadata`` (the ONNX metadata reader) and ``read_model_yaml`` on mutated files: each either
succeeds or raises what its caller turns into a :class:`ModelError` (``ValueError`` for the first),
never anything else. Deterministic.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twplate.errors import ModelError
from twplate.model_files import ONNX_FILE, YAML_FILE, default_model_dir, load_model_spec, read_model_yaml
from twplate.onnx_metadata import read_onnx_metadata

MODEL = default_model_dir()
pytestmark = pytest.mark.skipif(not (MODEL / YAML_FILE).is_file(), reason="shipped model not exported")
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=120,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@st.composite
def mutations(draw: st.DrawFn, data: bytes, head: int) -> bytes:
    """``data`` flipped, overwritten or cut within its first ``head`` bytes (where the structure is)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, min(head, len(out)) - 1))
        op = draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        if op == "flip":
            out[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            out[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del out[pos : pos + draw(st.integers(1, 16))]
        else:
            out[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


@functools.cache
def onnx_bytes() -> bytes:
    return (MODEL / ONNX_FILE).read_bytes()


@FUZZ
@given(data=st.data())
def test_onnx_metadata_reader(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(data.draw(mutations(onnx_bytes(), 2048)))
    try:
        meta = read_onnx_metadata(path)
    except ValueError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    with contextlib.suppress(ModelError):  # a bare .onnx file is described from this metadata
        load_model_spec(path)


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_model_yaml(tmp_path: Path, data: st.DataObject) -> None:
    directory = tmp_path / "m"
    if not directory.exists():
        directory.mkdir()
        shutil.copy(MODEL / YAML_FILE, directory / YAML_FILE)
    text = (MODEL / YAML_FILE).read_bytes()
    (directory / YAML_FILE).write_bytes(data.draw(mutations(text, len(text))))
    with contextlib.suppress(ModelError):
        read_model_yaml(directory)
