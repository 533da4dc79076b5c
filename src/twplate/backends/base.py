"""The contract every backend meets (:class:`Backend`, built by a :class:`BackendFactory`), and the
load-time check that a model fits it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from ..errors import ModelError
from ..model_files import AnySpec, DetectorSpec, ModelSpec


@runtime_checkable
class Backend(Protocol):
    """Runs a recognition model: ``(N, 3, H, W)`` float32 in, ``(N, T, C)`` float32 probabilities out;
    or a detector (``spec.task == "det"``): ``(N, 3, H, W)`` in, ``(N, 1, H, W)`` text probabilities out.

    Implementations are built by a :class:`BackendFactory` (their class), import their runtime only
    there (never at module level), and must be safe to call from several threads at once (by
    locking if their runtime is not).
    """

    name: ClassVar[str]
    #: Widths to pad every batch up to (GPU sessions: a few fixed shapes, so kernels are tuned once
    #: per shape rather than per batch); ``None``: each batch keeps its own widest width.
    width_buckets: tuple[int, ...] | None

    @staticmethod
    def files_for(spec: AnySpec) -> tuple[str, ...]:
        """The files of ``spec.directory`` this backend reads."""
        ...

    @property
    def providers(self) -> list[str]:
        """The devices or execution providers really in use, e.g. ``["CPUExecutionProvider"]``."""
        ...

    def __call__(self, x: np.ndarray) -> np.ndarray: ...


class BackendFactory(Protocol):
    """What the backend registry holds: a backend class, called as ``factory(spec, threads, max_batch,
    **options)`` with options of its own (``providers=``, ``device=``, ...) after these."""

    def __call__(self, spec: AnySpec, threads: int | None = None, max_batch: int = 32) -> Backend:
        """Load ``spec`` on this runtime with ``threads`` CPU threads (``None``: the runtime's default),
        for batches of up to ``max_batch`` images."""
        ...

    def files_for(self, spec: AnySpec) -> tuple[str, ...]:
        """The files of ``spec.directory`` the backend reads (checked against their sha256 before loading)."""
        ...

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Refuse option values this backend cannot run on this machine, without loading a model
        (the constructor makes the same checks; ``twplate serve`` makes them before any worker starts).

        Raises:
            ValueError: naming the option, the value and what it allows.
        """
        ...


def check_model_output(backend: Backend, spec: AnySpec) -> None:
    """Run one blank image through ``backend`` and refuse a model whose output does not fit ``spec``.

    Catches, at load time rather than as garbage later: a class count other than the dictionary
    size + 1, an input that does not take ``(N, 3, height, W)`` with variable ``N`` and ``W`` (a
    model exported for batch 1 would otherwise fail on the first list), and an output that is not
    probabilities (logits without softmax).

    Raises:
        ModelError: with what was expected and what the model gave.
    """
    if isinstance(spec, DetectorSpec):
        check_detector_output(backend, spec)
        return
    cfg = spec.preprocess
    where = f"model {spec.name!r} ({spec.directory}) on {backend.name}"
    shapes = [(1, w) for w in sorted({cfg.min_width, cfg.max_width})] + [(2, cfg.min_width)]
    for batch, width in shapes:
        try:
            out = np.asarray(backend(np.zeros((batch, 3, cfg.height, width), dtype=np.float32)))
        except Exception as exc:  # runtimes raise their own types for shape errors
            raise ModelError(f"{where} rejects input of shape ({batch}, 3, {cfg.height}, {width}): expected "
                             f"(N, 3, {cfg.height}, W) with variable N and W ({type(exc).__name__}: {exc})") from exc
        if out.ndim != 3 or out.shape[0] != batch:
            raise ModelError(f"{where} returned shape {out.shape} for a batch of {batch}, expected (N, T, C)")
        if out.shape[2] != spec.charset.num_classes:
            raise ModelError(f"{where} outputs {out.shape[2]} classes, but its dictionary has "
                             f"{len(spec.charset.characters)} characters (+1 blank = "
                             f"{spec.charset.num_classes}): wrong dictionary for this model")
        sums = out.sum(axis=2)
        if out.shape[1] == 0 or not np.allclose(sums, 1.0, atol=1e-3) or out.min() < 0:
            raise ModelError(f"{where} does not output probabilities (class sums {sums.min():.3g}..{sums.max():.3g})")


def check_detector_output(backend: Backend, spec: DetectorSpec) -> None:
    """Refuse a detector that does not map ``(N, 3, H, W)`` inputs of two sizes to ``(N, 1, H, W)`` probabilities.

    Raises:
        ModelError: with what was expected and what the model gave.
    """
    where = f"detector {spec.name!r} ({spec.directory}) on {backend.name}"
    for batch, height, width in ((1, 64, 96), (2, 96, 64)):
        try:
            out = np.asarray(backend(np.zeros((batch, 3, height, width), dtype=np.float32)))
        except Exception as exc:  # runtimes raise their own types for shape errors
            raise ModelError(f"{where} rejects input of shape ({batch}, 3, {height}, {width}): expected "
                             f"(N, 3, H, W) with variable N, H and W ({type(exc).__name__}: {exc})") from exc
        if out.shape != (batch, 1, height, width):
            raise ModelError(f"{where} returned shape {out.shape} for input ({batch}, 3, {height}, {width}), "
                             f"expected ({batch}, 1, {height}, {width})")
        if out.min() < 0 or out.max() > 1:
            raise ModelError(f"{where} does not output probabilities (values {out.min():.3g}..{out.max():.3g})")


def check_graph_io(spec: AnySpec, path: Path, inputs: Sequence[tuple[str, Sequence[int | None]]],
                   outputs: int, characters: str | None) -> str:
    """Refuse a graph whose input or dictionary metadata does not fit ``spec``; return the input name.

    Args:
        spec: the model description the graph must fit.
        path: the graph's file, for the messages.
        inputs: name and shape of each graph input, ``None`` for a variable dimension.
        outputs: how many outputs the graph has.
        characters: the dictionary the graph carries in its metadata (newline-joined), if any; a
            detector has none and takes any height.

    Raises:
        ModelError: not one input and one output, an input other than ``(N, 3, height, W)`` with a
            variable ``W``, an input name other than ``spec.input_name``, or another dictionary.
    """
    if len(inputs) != 1 or outputs != 1:
        raise ModelError(f"{path}: expected one input and one output, found {len(inputs)} and {outputs}")
    (name, shape) = inputs[0]
    height = spec.preprocess.height if isinstance(spec, ModelSpec) else None
    if len(shape) != 4 or shape[1] != 3 or shape[2] not in (height, None) or shape[3] is not None:
        raise ModelError(f"{path}: input {name!r} has shape {list(shape)}; expected (N, 3, {height}, W) "
                         "with variable W (NCHW, BGR)")
    if name != spec.input_name:
        raise ModelError(f"{path}: input is named {name!r}, the model description says {spec.input_name!r}")
    if (isinstance(spec, ModelSpec) and characters is not None
            and tuple(characters.split("\n")) != spec.charset.characters):
        raise ModelError(f"{path}: the dictionary in its metadata differs from the model description's "
                         f"({len(characters.split(chr(10)))} vs {len(spec.charset.characters)} characters)")
    return name
