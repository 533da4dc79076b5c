"""Read plates on a Ray cluster (Ray Data) and serve the HTTP app on Ray Serve.

Needs ``pip install "twplate[ray]"``; Ray is imported inside the functions, so ``import twplate``
never loads it. The data flow of :func:`read`:

    files or URIs (``read_binary_files``, paths included) -> blocks of (bytes, path)
      -> one recognizer per actor (``map_batches`` over an actor pool; the bytes are decoded there)
      -> rows (path, text, confidence, char_confidences, error) -> Parquet or JSON lines (:func:`write`)

A bad image becomes a row with ``error`` set; it never fails the job. A reader actor that dies is
restarted and its unfinished batch is retried, so every input still gets exactly one row.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import BackendUnavailableError

if TYPE_CHECKING:
    import pyarrow
    import ray.data
    import ray.serve

    from .detect.postprocess import DBSettings
    from .photo import PlateRules
    from .recognizer import PlateRecognizer
    from .result import PlateResult
    from .serve import ServeConfig

INSTALL_HINT = 'pip install "twplate[ray]"'


def import_ray() -> ModuleType:
    """The ``ray`` module, or :class:`BackendUnavailableError` naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  # ray[data]: pyarrow, pandas
    except ImportError as exc:
        raise BackendUnavailableError(f"Ray is not installed ({exc.name or exc}): {INSTALL_HINT}") from exc
    return ray


def connect(address: str | None = None) -> None:
    """Join the Ray cluster at ``address`` (``"auto"``, ``"ray://host:10001"``), or start a local one.

    Does nothing if this process is already connected. A local cluster's dashboard stays off: it
    would listen on a port nobody asked for.
    """
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False if address is None else None, log_to_driver=False)


def read(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | ray.data.Dataset, *,
         photos: bool = False, straighten: bool = False, model: str | os.PathLike[str] | None = None,
         backend: str = "auto", batch_size: int = 32,
         concurrency: int | tuple[int, int] | None = None, num_cpus: float = 1.0, reader: type | None = None,
         **recognizer_options: Any) -> ray.data.Dataset:
    """Plate readings of images on the connected Ray cluster, one row per image (lazy: nothing runs yet).

    Args:
        source: files, folders (their image files, recursively, as ``twplate read`` finds them),
            globs, URIs Ray Data reads (``s3://bucket/plates/``: every file there is read), or a
            Dataset with a ``bytes`` (encoded image) and a ``path`` column.
        photos: the images are whole photos: find the plates in them (:class:`~twplate.photo.PhotoReader`),
            one row per plate found, and one row with empty text and no box for a photo without any.
        straighten: read crops as :meth:`~twplate.photo.PhotoReader.read_crops` does: a narrow crop (a plate
            hanging steeply in its box) is also read through the text detector, which cuts the plate out
            upright. Not with ``photos``, where the detector already does.
        model: model directory or ``.onnx`` file, present at the same path on every node
            (``None``: the shipped model, installed with twplate).
        backend: ``"auto"``, ``"onnxruntime"``, ``"paddle"`` or ``"openvino"``.
        batch_size: images per backend call; Ray hands each reader blocks of this many rows.
        concurrency: reader actors, or ``(min, max)`` for a pool that grows with the work
            (``None``: one per CPU of the cluster at the time of the call).
        num_cpus: CPUs each reader reserves; also its backend threads unless ``threads`` is given.
        reader: the callable class each actor runs (default :class:`CropReader`, or :class:`PhotoRowReader`
            with ``photos``); a subclass can add work per batch. It is built with the reader's arguments.
        **recognizer_options: passed to :class:`~twplate.PlateRecognizer` (``threads``,
            ``plate_formats``, ``input_width``, ...); with ``photos`` also the photo reader's (``detector``,
            ``limit_side``, ``rules``, ``db_settings``, ``small_model``, as :class:`~twplate.photo.PhotoReader`
            takes them), and with ``straighten`` its ``detector``, ``limit_side`` and ``small_model``.

    Returns:
        A Dataset of rows ``path`` (as Ray Data names it: local paths become absolute), ``text``,
        ``confidence``, ``char_confidences``, ``format_edits`` and ``error`` (``None`` when the image was read); with
        ``photos`` also ``box`` (4 corners ``[x, y]`` in the photo) and ``detection_score``. Row order
        follows Ray's blocks, not the inputs; ``path`` identifies a row (a photo's plates share it).
    """
    if photos and straighten:
        raise ValueError("straighten reads crops; with photos the detector already cuts each plate out upright")
    ray = import_ray()
    if not ray.is_initialized():
        connect()
    if concurrency is None:
        concurrency = max(1, int(ray.cluster_resources().get("CPU", 1) // num_cpus))
    readers = concurrency if isinstance(concurrency, int) else concurrency[1]
    dataset = source if isinstance(source, ray.data.Dataset) else _read_files(ray, source, readers)
    pool = (ray.data.ActorPoolStrategy(size=concurrency) if isinstance(concurrency, int)
            else ray.data.ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1]))
    recognizer_options.setdefault("threads", max(1, int(num_cpus)))
    if not photos:  # the actor's CPUs go to the backend; other actors decode (a PhotoReader decodes on its caller)
        recognizer_options.setdefault("load_threads", 1)
    if straighten:  # only then: PhotoRowReader and readers written before the option do not take it
        recognizer_options["straighten"] = True
    # Ray Data restarts a reader actor that dies and retries the batch it held (max_restarts and
    # max_task_retries default to -1 for actor pools), so every input still gets one row.
    return dataset.map_batches(
        reader or (PhotoRowReader if photos else CropReader), batch_size=batch_size, batch_format="pyarrow",
        compute=pool, num_cpus=num_cpus,
        fn_constructor_kwargs={"model": model, "backend": backend, "batch_size": batch_size, **recognizer_options},
    )


def _read_files(ray: ModuleType, source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                readers: int) -> ray.data.Dataset:
    from .cli import expand_paths

    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    uris = [os.fspath(s) for s in items if "://" in os.fspath(s)]
    files, unmatched = expand_paths([os.fspath(s) for s in items if "://" not in os.fspath(s)])
    if unmatched:
        raise FileNotFoundError(f"no images match {', '.join(map(repr, unmatched))}")
    if not files and not uris:
        raise FileNotFoundError("no inputs given")
    # Reading files is I/O: the read tasks reserve no CPU, so that readers holding every CPU cannot starve them,
    # and as many run at once as there are readers (unlimited, Ray would start a worker process for each).
    return ray.data.read_binary_files([os.path.abspath(f) for f in files] + uris, include_paths=True, num_cpus=0,
                                      concurrency=readers)


class CropReader:
    """A Ray Data callable class: one :class:`~twplate.PlateRecognizer` per actor, loaded once.

    With ``straighten``, crops are read as :meth:`~twplate.photo.PhotoReader.read_crops` reads them: the
    actor also loads the text detector (``detector``: its model directory, ``None`` for the shipped one;
    ``limit_side``: its input limit; ``small_model``: as :class:`~twplate.photo.PhotoReader` takes a path), on the
    recognizer's backend with its threads, precision and streams.
    """

    def __init__(self, *, straighten: bool = False, detector: str | os.PathLike[str] | None = None,
                 limit_side: int | None = None, small_model: str | os.PathLike[str] | None = None,
                 **recognizer_options: Any) -> None:
        from .photo import PhotoReader
        from .recognizer import PlateRecognizer

        if not straighten and (detector is not None or limit_side is not None or small_model is not None):
            raise ValueError(f"detector, limit_side and small_model are for straighten=True (detector={detector!r}, "
                             f"limit_side={limit_side!r}, small_model={small_model!r})")
        self.recognizer = PlateRecognizer(**recognizer_options)
        self.read: Callable[[list[bytes]], list[PlateResult]] = self.recognizer.run_many
        if straighten:
            self.read = PhotoReader(recognizer=self.recognizer, detector=detector, limit_side=limit_side,
                                    small_model=small_model,
                                    **_detector_runtime(self.recognizer, recognizer_options)).read_crops

    def __call__(self, batch: pyarrow.Table) -> pyarrow.Table:
        paths = batch.column("path").to_pylist()
        results = self.read(batch.column("bytes").to_pylist())
        return result_table(paths, results)


class PhotoRowReader:
    """A Ray Data callable class: one :class:`~twplate.photo.PhotoReader` per actor, a row per plate found.

    The photo reader's own options are named (``small_model`` as :class:`~twplate.photo.PhotoReader` takes a path);
    every other option builds the plate reader (:class:`~twplate.PlateRecognizer`: ``input_width``,
    ``plate_formats``, ...), which the photo reader then reads with. The detector runs on the same backend with the
    same threads, precision and streams.
    """

    def __init__(self, *, detector: str | os.PathLike[str] | None = None, limit_side: int | None = None,
                 rules: PlateRules | None = None, db_settings: DBSettings | None = None,
                 small_model: str | os.PathLike[str] | None = None, **recognizer_options: Any) -> None:
        from .photo import PhotoReader
        from .recognizer import PlateRecognizer

        recognizer = PlateRecognizer(**{"load_threads": 1, **recognizer_options})  # crops are cut on this thread
        self.reader = PhotoReader(recognizer=recognizer, detector=detector, limit_side=limit_side, rules=rules,
                                  db_settings=db_settings, small_model=small_model,
                                  **_detector_runtime(recognizer, recognizer_options))

    def __call__(self, batch: pyarrow.Table) -> pyarrow.Table:
        from .result import PlateResult

        paths, plates = [], []
        for path, found in zip(batch.column("path").to_pylist(),
                               self.reader.run_many(batch.column("bytes").to_pylist()), strict=True):
            found = found or [PlateResult("", 0.0)]  # no plate in this photo: still one row, so it is accounted for
            paths += [path] * len(found)
            plates += found
        return result_table(paths, plates, photos=True)


def _detector_runtime(recognizer: PlateRecognizer, recognizer_options: dict[str, Any]) -> dict[str, Any]:
    """The text detector's backend, threads, precision and streams: those of the plate reader (its backend as
    resolved, so that ``"auto"`` cannot pick another runtime for the detector's files)."""
    from .backends import runtime_options

    return {"backend": recognizer.backend.name, "threads": recognizer_options.get("threads"),
            **runtime_options(recognizer_options)}


def result_table(paths: Sequence[str], results: Sequence[PlateResult], photos: bool = False) -> pyarrow.Table:
    """Rows for ``results``; an error names its path (the reader only saw the file's bytes)."""
    import pyarrow as pa

    columns = {
        "path": pa.array(paths, pa.string()),
        "text": pa.array([r.text for r in results], pa.string()),
        "confidence": pa.array([r.confidence for r in results], pa.float64()),
        "char_confidences": pa.array([list(r.char_confidences) for r in results], pa.list_(pa.float64())),
        "format_edits": pa.array([r.format_edits for r in results], pa.int32()),
    }
    if photos:
        columns["box"] = pa.array([None if r.box is None else [list(c) for c in r.box] for r in results],
                                  pa.list_(pa.list_(pa.float64())))
        columns["detection_score"] = pa.array([r.detection_score for r in results], pa.float64())
    columns["error"] = pa.array([None if r.error is None else f"{p!r}: {r.error}" for p, r in zip(paths, results)],
                                pa.string())
    return pa.table(columns)


@dataclass(frozen=True)
class WriteSummary:
    """What :func:`write` wrote: the row count and the rows that carry an error (path, message)."""

    rows: int
    errors: list[tuple[str, str]]


def write(dataset: ray.data.Dataset, out: str | os.PathLike[str], *, json_lines: bool = False) -> WriteSummary:
    """Run ``dataset`` and write it to the folder ``out`` (Parquet files, or JSON lines), replacing it whole.

    Idempotent: the rows are written to a new folder beside ``out``, which then takes ``out``'s
    place by rename. A run that dies midway leaves ``out`` as it was (and a ``.out-*`` folder to
    delete); running the same job again writes the same rows, never a mix of two runs. ``out`` is
    a local path, or one every node sees (a shared file system).
    """
    import pyarrow.dataset as pds

    target = Path(out).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    if json_lines:
        dataset.write_json(str(staging), force_ascii=False)
    else:
        dataset.write_parquet(str(staging))
    table = pds.dataset(str(staging), format="json" if json_lines else "parquet").to_table(columns=["path", "error"])
    errors = [(p, e) for p, e in zip(table.column("path").to_pylist(), table.column("error").to_pylist()) if e]
    _replace(staging, target)
    return WriteSummary(table.num_rows, errors)


def _replace(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``; an existing ``target`` is moved aside first, then deleted."""
    old = None
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
        target.rename(old / target.name)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old)


def serve_app(config: ServeConfig | None = None, *, replicas: int = 2, num_cpus: float = 1.0) -> ray.serve.Application:
    """``twplate serve``'s HTTP app (:func:`twplate.serve.create_app`) as a Ray Serve application.

    Each of the ``replicas`` builds the app, with its own model and request batcher, from
    ``config``; Ray Serve's proxy spreads the requests over them. Run it with
    ``serve.run(serve_app(...))``, or from a shell: ``serve run twplate.ray:build_app replicas=2``.
    """
    from .serve import ServeConfig, require_serve_extra

    require_serve_extra()
    import_ray()
    from ray import serve

    config = config or ServeConfig()
    if config.threads is None:  # the replica's CPUs, not every CPU of its node
        config = replace(config, threads=max(1, int(num_cpus)))
    deployment = serve.deployment(name="twplate", num_replicas=replicas,
                                  ray_actor_options={"num_cpus": num_cpus})(_plate_service())
    return deployment.bind(config)


def build_app(args: dict[str, str]) -> ray.serve.Application:
    """``serve run twplate.ray:build_app replicas=2 model=DIR backend=onnxruntime ...``: an application builder.

    ``replicas`` and ``num_cpus`` size the deployment; every other argument is a
    :class:`~twplate.serve.ServeConfig` field, its value read as YAML (``input_width=72``, ``photo=false``).
    """
    import yaml

    from .serve import ServeConfig

    options = {key: yaml.safe_load(value) for key, value in args.items()}
    replicas = int(options.pop("replicas", 2))
    num_cpus = float(options.pop("num_cpus", 1.0))
    return serve_app(ServeConfig(**options), replicas=replicas, num_cpus=num_cpus)


def _plate_service() -> type:
    """The deployment class: its ASGI app is built on the replica, after the constructor (Ray Serve >= 2.60)."""
    from ray import serve

    @serve.ingress()
    class PlateService:
        def __init__(self, config: ServeConfig) -> None:
            self.config = config

        def __serve_build_asgi_app__(self) -> Any:
            from .serve import create_app

            return create_app(self.config)

    return PlateService
