"""Command line: ``twplate read PATH...``, ``twplate read --photos PATH...``, ``twplate serve``,
``twplate eval-photos`` and the training commands.

``read`` lives here; ``serve`` parses its arguments here and imports :mod:`twplate.serve` (the web
stack of the ``serve`` extra) only when it runs; ``eval-photos`` lives in :mod:`twplate.photo_eval` (listed in
:data:`MODULE_COMMANDS`, run like the training commands but needing only a runtime). The training commands are
listed in :data:`TRAINING_COMMANDS` as ``{command: (module, one-line help)}``; a module is imported only when its
command runs, so ``twplate read`` never imports
Paddle. Convention for those modules:

* a module serving one command defines ``configure(parser: argparse.ArgumentParser) -> None``
  (add the command's arguments) and ``run(args: argparse.Namespace) -> int`` (the exit code);
* a module serving several commands defines ``configure_<command>`` and ``run_<command>`` for each
  (e.g. ``configure_check`` / ``run_check``), which are looked up first.

If a training module cannot be imported for lack of a third-party package, the command prints how
to install the ``train`` extra and exits with 2.

Exit codes: 0 all images read; 1 some images failed (each reported on stderr); 2 usage error
(bad arguments, no inputs matched, model or backend could not be loaded).
"""

from __future__ import annotations

import argparse
import csv
import glob
import importlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__

if TYPE_CHECKING:
    from .photo import PhotoReader
    from .recognizer import PlateRecognizer
    from .result import PlateResult

TRAINING_COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("twplate.training.synth", "render synthetic plate images"),
    "train": ("twplate.training.train", "fine-tune the recognition model"),
    "eval": ("twplate.training.evaluate", "measure accuracy on a labelled set"),
    "infer": ("twplate.training.infer", "run a training checkpoint on images"),
    "plot": ("twplate.training.plot", "plot training curves"),
    "check": ("twplate.training.dataset", "check a labelled data set"),
    "split": ("twplate.training.dataset", "split a labelled data set"),
}
NEEDS_TRAIN_EXTRA = frozenset({"synth", "train", "plot"})
"""Training commands that cannot run without ``twplate[train]`` (the others need it only for checkpoints)."""
MODULE_COMMANDS: dict[str, tuple[str, str]] = {
    "eval-photos": ("twplate.photo_eval", "measure plate finding and reading on labelled photos"),
}
TSV_ESCAPES = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})
"""A path's tabs and line breaks, escaped in tab-separated rows."""
MODEL_HELP = ("model directory, .onnx file or shipped model name, e.g. twplate-rec-fast (default: the shipped "
              "model, twplate-rec)")
SMALL_MODEL_HELP = ("plate reader for small boxes, far plates (default: the shipped twplate-rec-small "
                    "beside a shipped plate reader, else the plate reader itself)")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
PROGRESS_MIN_IMAGES = 100
INPUT_WIDTH_HELP = "read every crop at this width, whatever its aspect (e.g. 72: faster, see docs/openvino.md)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script passes it to ``sys.exit``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and (argv[0] in TRAINING_COMMANDS or argv[0] in MODULE_COMMANDS):
            return _run_training(argv[0], argv[1:])
        args = build_parser().parse_args(argv)
        return _serve(args) if args.command == "serve" else _read(args)
    except SystemExit as exc:  # argparse's --help and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    except BrokenPipeError:  # the reader of our output went away (``twplate read ... | head``)
        _stdout_to_devnull()
        return 1


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not raise a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured in tests)
        pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twplate", description="Read Taiwan licence plates in crops or photos.")
    parser.add_argument("--version", action="version", version=f"twplate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    read = commands.add_parser("read", help="read plates from image files, folders or globs",
                               description="Print one line per image: path, text, confidence; with --photos, "
                                           "one line per plate found: path, text, confidence, box (a photo "
                                           "without a plate: one line with empty text).")
    read.add_argument("paths", nargs="+", metavar="PATH", help="image file, folder (searched recursively) or glob")
    fmt = read.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON lines instead of tab-separated text")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    read.add_argument("--backend", default="auto", help="auto (default), onnxruntime, paddle or openvino")
    read.add_argument("--model", default=None, help=MODEL_HELP)
    read.add_argument("--batch-size", type=positive_int, default=32, help="images per batch (default 32)")
    read.add_argument("--no-plate-formats", dest="plate_formats", action="store_const", const=False,
                      default=None, help="plain greedy CTC reading, without fitting Taiwan plate formats")
    read.add_argument("--threads", type=positive_int, default=None, help="CPU threads for the backend")
    add_runtime_options(read)
    read.add_argument("--input-width", type=positive_int, default=None, help=INPUT_WIDTH_HELP)
    read.add_argument("--straighten", action="store_true",
                      help="narrow crops (plates hanging steeply in an axis-aligned box) are also read through the "
                           "text detector, which cuts the plate out upright (PhotoReader.read_crops)")
    photos = read.add_argument_group("whole photos")
    photos.add_argument("--photos", action="store_true",
                        help="the images are photos: find the plates in them, then read them")
    photos.add_argument("--draw", metavar="DIR", type=Path, default=None,
                        help="with --photos: write each photo to DIR with its plates outlined and labelled")
    photos.add_argument("--detector", default=None, help="detector model directory (default: the shipped one)")
    photos.add_argument("--limit-side", type=positive_int, default=None,
                        help="longest side of the detector's input in pixels (default: the detector's own)")
    photos.add_argument("--small-model", default=None, help=SMALL_MODEL_HELP)
    for name, (_, help_text) in MODULE_COMMANDS.items():
        commands.add_parser(name, help=help_text, add_help=False)
    ray = read.add_argument_group("on a Ray cluster (needs twplate[ray]; see docs/ray.md)")
    ray.add_argument("--ray", action="store_true", help="read on Ray Data and write the rows to --out")
    ray.add_argument("--address", default=None,
                     help="cluster to join: auto, ray://HOST:10001, HOST:6379 (default: $RAY_ADDRESS, else a cluster "
                          "started on this machine with `ray start`, else a new local one)")
    ray.add_argument("--out", default=None, help="output folder: Parquet files, or JSON lines with --json")
    ray.add_argument("--concurrency", type=positive_int, default=None,
                     help="reader actors (default: one per CPU of the cluster)")
    _add_serve_parser(commands)
    for name, (_, help_text) in TRAINING_COMMANDS.items():
        needs = " (needs twplate[train])" if name in NEEDS_TRAIN_EXTRA else ""
        commands.add_parser(name, help=help_text + needs, add_help=False)
    return parser


def _add_serve_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="plate reading over HTTP (needs twplate[serve])",
                                description="Serve POST /v1/read, GET /healthz, GET /metrics and a page at GET /.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    serve.add_argument("--workers", type=positive_int, default=1,
                       help="processes, each with its own model (default 1); for throughput, one per CPU core "
                            "with --threads 1 (docs/serve.md)")
    serve.add_argument("--model", default=None, help=MODEL_HELP)
    serve.add_argument("--backend", default="auto", help="auto (default), onnxruntime, paddle or openvino")
    serve.add_argument("--batch-size", type=positive_int, default=32, help="most images per model call (default 32)")
    serve.add_argument("--threads", type=positive_int, default=None, help="CPU threads for the backend")
    add_runtime_options(serve)
    serve.add_argument("--input-width", type=positive_int, default=None,
                       help="read every crop at this width (no padding: a crop reads the same in any batch)")
    serve.add_argument("--no-plate-formats", dest="plate_formats", action="store_const", const=False, default=None,
                       help="plain greedy CTC reading, without fitting Taiwan plate formats")
    serve.add_argument("--no-photo", dest="photo", action="store_false", help="do not load the photo reader")
    serve.add_argument("--straighten", action="store_true",
                       help="by default, narrow crops (plates hanging steeply in an axis-aligned box) are also read "
                            "through the text detector, which cuts the plate out upright (PhotoReader.read_crops); "
                            "a request sets it for itself with ?straighten=true|false")
    serve.add_argument("--max-wait-ms", type=float, default=5.0,
                       help="how long a batch waits for another request (default 5; ten times that in all)")
    serve.add_argument("--max-images", type=positive_int, default=64, help="images per request (default 64)")
    serve.add_argument("--max-body-mb", type=float, default=20.0, help="request body size limit (default 20 MB)")
    serve.add_argument("--body-timeout", type=float, default=30.0,
                       help="seconds a request body may pause while it arrives (default 30)")
    serve.add_argument("--api-key", default=os.environ.get("TWPLATE_API_KEY"),
                       help="require this key in the X-API-Key header (default: $TWPLATE_API_KEY; none: open)")
    serve.add_argument("--timeout-keep-alive", type=float, default=5.0,
                       help="seconds an idle connection is kept open (default 5)")
    serve.add_argument("--graceful-timeout", type=float, default=30.0,
                       help="seconds SIGTERM waits for requests in flight (default 30)")
    serve.add_argument("--limit-concurrency", type=positive_int, default=None,
                       help="connections and requests at once before answering 503 (default: no limit)")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def expand_paths(patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """Files to read, and the patterns that matched nothing.

    An existing file is taken as is, whatever its suffix; a folder contributes the image files
    (:data:`IMAGE_SUFFIXES`) below it, sorted; anything else is a glob (``**`` recurses), whose matches
    contribute their image files once each (``dir/**`` matches the folder and every file in it).
    """
    files: list[str] = []
    unmatched: list[str] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_file():
            found = [pattern]
        elif path.is_dir():
            found = _images_below(path)
        else:
            found = []
            for match in sorted(glob.glob(pattern, recursive=True)):
                if Path(match).is_dir():
                    found += _images_below(Path(match))
                elif Path(match).suffix.lower() in IMAGE_SUFFIXES:
                    found.append(match)
            found = list(dict.fromkeys(os.path.normpath(f) for f in found))  # dir/**: the folder, then its files
        files += found
        if not found:
            unmatched.append(pattern)
    return files, unmatched


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    """``--precision`` and ``--streams``: the backend options that trade accuracy or memory for speed (each
    backend says which it takes; with photos, every model takes them)."""
    parser.add_argument("--precision", default=None,
                        help="the backend's precision: openvino fp32 (default), bf16 or int8; onnxruntime fp32 or fp16 "
                             "(docs/openvino.md)")
    parser.add_argument("--streams", type=positive_int, default=None,
                        help="openvino: CPU streams each batch is split over (default 1)")


def _recognizer(args: argparse.Namespace, **options: Any) -> PlateRecognizer:
    """The plate reader ``twplate read`` asks for: model, backend and every backend option of ``args``."""
    from .recognizer import PlateRecognizer

    return PlateRecognizer(args.model, backend=args.backend, batch_size=args.batch_size, threads=args.threads,
                           plate_formats=args.plate_formats, **speed_options(args), **options)


def speed_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--precision``, ``--streams`` and ``--input-width`` where given, as :class:`PlateRecognizer` options."""
    from .backends import runtime_options

    options = runtime_options(vars(args))
    if args.input_width is not None:
        options["input_width"] = args.input_width
    return options


def _images_below(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _read(args: argparse.Namespace) -> int:
    from .errors import TwplateError

    if args.straighten and args.photos:
        print("twplate: --straighten reads crops; with --photos the detector already cuts each plate out upright",
              file=sys.stderr)
        return 2
    detector_options = [f"--{name.replace('_', '-')}" for name in ("detector", "limit_side", "small_model")
                        if getattr(args, name) is not None]
    if detector_options and not (args.photos or args.straighten):
        print(f"twplate: {', '.join(detector_options)} need --photos or --straighten: crops alone are read without the "
              "detector", file=sys.stderr)
        return 2
    if args.ray:
        return _read_on_ray(args)
    if args.draw is not None and not args.photos:
        print("twplate: --draw needs --photos", file=sys.stderr)
        return 2
    files, unmatched = expand_paths(args.paths)
    for pattern in unmatched:
        print(f"twplate: no images match {pattern!r}", file=sys.stderr)
    if not files:
        return 2
    _silence_opencv()
    if args.photos:
        return _read_photos(args, files, unmatched)
    try:
        read = _photo_reader(args).read_crops if args.straighten else _recognizer(args).run_many
    except (TwplateError, ValueError) as exc:
        print(f"twplate: {exc}", file=sys.stderr)
        return 2
    writer = _Writer(sys.stdout, "json" if args.json else "csv" if args.csv else "tsv")
    progress = _Progress(len(files), sys.stderr)
    failed = 0
    for chunk in _chunks(files, args.batch_size * 8):
        for result in read(chunk):
            writer.write(result)
            if result.error is not None:
                failed += 1
                progress.note(f"twplate: {result.error}")
        progress.advance(len(chunk))
    progress.close()
    if failed:
        print(f"twplate: {failed} of {len(files)} images failed", file=sys.stderr)
    return 1 if failed or unmatched else 0


def _read_photos(args: argparse.Namespace, files: list[str], unmatched: list[str]) -> int:
    from .errors import TwplateError
    from .photo import CHUNK_PHOTOS
    from .result import PlateResult

    try:
        reader = _photo_reader(args)
    except (TwplateError, ValueError) as exc:
        print(f"twplate: {exc}", file=sys.stderr)
        return 2
    writer = _Writer(sys.stdout, "json" if args.json else "csv" if args.csv else "tsv", photos=True)
    progress = _Progress(len(files), sys.stderr)
    root = os.path.commonpath([os.path.abspath(os.path.dirname(f)) for f in files])
    drawn: set[str] = set()
    failed = 0
    for chunk in _chunks(files, CHUNK_PHOTOS):
        for path, plates in zip(chunk, reader.run_many(chunk), strict=True):
            for plate in plates or [PlateResult("", 0.0, source=path)]:  # a photo without a plate still has a row
                writer.write(plate)
            if plates and plates[0].error is not None:
                failed += 1
                progress.note(f"twplate: {plates[0].error}")
            elif args.draw is not None:
                problem = _draw(path, plates, args.draw / _drawing_name(path, root, drawn))
                if problem:
                    failed += 1
                    progress.note(f"twplate: {problem}")
        progress.advance(len(chunk))
    progress.close()
    if failed:
        print(f"twplate: {failed} of {len(files)} photos failed", file=sys.stderr)
    return 1 if failed or unmatched else 0


def _photo_reader(args: argparse.Namespace) -> PhotoReader:
    """The photo reader ``twplate read --photos`` asks for: its recognizer (:func:`_recognizer`), and the
    detector on the same backend with the same threads, precision and streams."""
    from .backends import runtime_options
    from .photo import PhotoReader

    return PhotoReader(recognizer=_recognizer(args, load_threads=1), detector=args.detector, backend=args.backend,
                       threads=args.threads, limit_side=args.limit_side, small_model=args.small_model,
                       **runtime_options(vars(args)))


def _drawing_name(path: str, root: str, taken: set[str]) -> str:
    """``a/b/photo.png`` below ``root`` -> ``a__b__photo.jpg``: one flat folder. A name already in ``taken``
    (``photo.png`` beside ``photo.jpg``, or ``a__b__photo.jpg`` beside ``a/b/photo.jpg``; letter case aside) gets
    ``-2``, ``-3``, ...; the name given is added to ``taken``, case-folded."""
    stem = "__".join(Path(os.path.relpath(os.path.abspath(path), root)).with_suffix("").parts)
    name, n = f"{stem}.jpg", 1
    while name.casefold() in taken:  # Car.jpg and car.jpg are one file on macOS and Windows
        n += 1
        name = f"{stem}-{n}.jpg"
    taken.add(name.casefold())
    return name


def _draw(path: str, plates: list[PlateResult], out: Path) -> str | None:
    """Write the photo at ``path`` to ``out`` with each plate's box outlined and its text above it; the reason
    when the photo can no longer be read or the drawing cannot be written, else ``None``."""
    import cv2
    import numpy as np

    from .errors import ImageError
    from .image import load_image_and_scale

    try:
        image, reduced = load_image_and_scale(path)  # a huge JPEG is drawn as decoded, at 1/2, 1/4 or 1/8
    except ImageError as exc:
        return f"cannot draw {exc}"
    thickness = max(2, round(max(image.shape[:2]) / 500))
    for plate in plates:
        corners = np.round(np.asarray(plate.box) / reduced).astype(np.int32)
        cv2.polylines(image, [corners], True, (0, 255, 0), thickness)
        label = f"{plate.text.encode('ascii', 'replace').decode()} {plate.confidence:.2f}"
        scale = max(0.6, thickness / 2.5)
        (w, h), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        x, y = int(corners[:, 0].min()), max(h + base, int(corners[:, 1].min()) - thickness)
        cv2.rectangle(image, (x, y - h - base), (x + w, y + base // 2), (0, 255, 0), -1)
        cv2.putText(image, label, (x, y - base // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), image):
        return f"cannot write {out}"
    return None


def _read_on_ray(args: argparse.Namespace) -> int:
    """``twplate read --ray``: local inputs are found as without ``--ray``; URIs (``s3://...``) go to Ray as given."""
    from .errors import TwplateError

    if args.out is None or args.csv or args.draw is not None:
        print("twplate read --ray: needs --out FOLDER (Parquet, or JSON lines with --json); --csv and --draw "
              "are not offered", file=sys.stderr)
        return 2
    uris = [p for p in args.paths if "://" in p]
    files, unmatched = expand_paths([p for p in args.paths if "://" not in p])
    for pattern in unmatched:
        print(f"twplate: no images match {pattern!r}", file=sys.stderr)
    if not files and not uris:
        return 2
    try:
        from . import ray as twplate_ray

        twplate_ray.connect(args.address)
        options = {"plate_formats": args.plate_formats}
        if args.photos or args.straighten:
            options.update(detector=args.detector, limit_side=args.limit_side, small_model=args.small_model)
        dataset = twplate_ray.read(files + uris, photos=args.photos, straighten=args.straighten, model=args.model,
                                   backend=args.backend, batch_size=args.batch_size, concurrency=args.concurrency,
                                   **options,
                                   **speed_options(args), **({"threads": args.threads} if args.threads else {}))
        summary = twplate_ray.write(dataset, args.out, json_lines=args.json)
    except (TwplateError, ValueError) as exc:
        print(f"twplate: {exc}", file=sys.stderr)
        return 2
    for _, error in summary.errors:
        print(f"twplate: {error}", file=sys.stderr)
    if summary.errors:
        print(f"twplate: {len(summary.errors)} of {summary.rows} images failed", file=sys.stderr)
    print(f"twplate: {summary.rows} rows written to {args.out}", file=sys.stderr)
    return 1 if summary.errors or unmatched else 0


def _serve(args: argparse.Namespace) -> int:
    from .backends import check_backend_options, resolve_backend_name
    from .detect.detector import TextDetector
    from .errors import TwplateError
    from .model_files import load_model_spec
    from .recognizer import PlateRecognizer

    try:
        from . import serve

        serve.require_serve_extra()
        config = serve.ServeConfig(
            model=args.model, backend=args.backend, batch_size=args.batch_size, threads=args.threads,
            input_width=args.input_width, precision=args.precision, streams=args.streams,
            plate_formats=args.plate_formats, photo=args.photo, straighten=args.straighten,
            max_wait_ms=args.max_wait_ms, max_images=args.max_images,
            max_body_bytes=int(args.max_body_mb * 1024 * 1024), body_timeout_s=args.body_timeout, api_key=args.api_key)
        # fail here, not in every worker
        backend = resolve_backend_name(args.backend, load_model_spec(args.model))
        options = config.backend_options()
        check_backend_options(backend, options)
        if options:  # whether the models can run them shows only once they load (int8 needs an int8 model)
            PlateRecognizer(args.model, backend=backend, threads=args.threads, **options)
            if config.photo or config.straighten:
                TextDetector(None, backend=backend, threads=args.threads, **options)
    except (TwplateError, ValueError) as exc:
        print(f"twplate serve: {exc}", file=sys.stderr)
        return 2
    return serve.run_server(config, host=args.host, port=args.port, workers=args.workers,
                            timeout_keep_alive=args.timeout_keep_alive,
                            timeout_graceful_shutdown=args.graceful_timeout,
                            limit_concurrency=args.limit_concurrency, log_level=args.log_level)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _silence_opencv() -> None:
    """OpenCV logs every undecodable file on stderr; the CLI reports them itself."""
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


class _SafeStream:
    """A text stream that escapes what its encoding cannot write instead of raising.

    A file name that is not valid UTF-8 (its bytes come back as lone surrogates) or a plate
    character on a non-Unicode stdout must cost one escaped row, not the rest of the run.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        # lone surrogates (a file name's bytes that are not UTF-8) as \udcNN, whatever the stream's error
        # handler: a surrogateescape stdout would write the raw bytes, and the row would not be UTF-8
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        try:
            return self.stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self.stream, "encoding", None) or "utf-8"
            return self.stream.write(text.encode(encoding, "backslashreplace").decode(encoding))


class _Writer:
    """One output row per image (per plate with ``photos``): tab-separated, JSON lines or CSV.

    JSON and CSV rows carry ``format_edits`` (how many characters the plate formats changed in the
    reading). With ``photos``, rows add the plate's box (``x,y`` corners clockwise from the top-left,
    space-separated in text and CSV) and, in JSON and CSV, its detection score.
    """

    def __init__(self, stream: TextIO, fmt: str, photos: bool = False) -> None:
        stream = _SafeStream(stream)  # type: ignore[assignment]
        self.stream, self.fmt, self.photos = stream, fmt, photos
        if fmt == "csv":
            self.csv = csv.writer(stream)
            self.csv.writerow(["path", "text", "confidence", "format_edits",
                              *(["box", "detection_score"] if photos else []), "error"])

    def write(self, result: PlateResult) -> None:
        error = "" if result.error is None else str(result.error)
        box = " ".join(f"{x:.1f},{y:.1f}" for x, y in result.box or ())
        path = result.source
        if self.fmt == "json":
            row: dict[str, Any] = {"path": path, "text": result.text,
                                   "confidence": round(result.confidence, 6),
                                   "char_confidences": [round(p, 6) for p in result.char_confidences],
                                   "format_edits": result.format_edits}
            if self.photos:
                row["box"] = [[round(x, 1), round(y, 1)] for x, y in result.box or ()]
                row["detection_score"] = None if result.detection_score is None else round(result.detection_score, 6)
            self.stream.write(json.dumps({**row, "error": error or None}, ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            score = "" if result.detection_score is None else f"{result.detection_score:.4f}"
            columns = [box, score] if self.photos else []
            self.csv.writerow([path, result.text, f"{result.confidence:.4f}", result.format_edits, *columns, error])
        else:
            extra = f"\t{box}" if self.photos else ""
            tsv_path = None if path is None else path.translate(TSV_ESCAPES)  # one row, its own fields
            self.stream.write(f"{tsv_path}\t{result.text}\t{result.confidence:.4f}{extra}\n")


class _Progress:
    """A one-line progress bar on stderr, only for more than 100 images and only on a terminal."""

    def __init__(self, total: int, stream: TextIO, width: int = 30) -> None:
        self.total, self.stream, self.width, self.done = total, stream, width, 0
        self.enabled = total > PROGRESS_MIN_IMAGES and stream.isatty()

    def advance(self, n: int) -> None:
        self.done += n
        if self.enabled:
            filled = self.width * self.done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}")
            self.stream.flush()

    def note(self, text: str) -> None:
        """A message line on the stream; with the bar shown, on a line of its own above it."""
        if self.enabled:
            self.stream.write("\r\x1b[K")  # back to the line's start and clear the bar
        print(text, file=self.stream)
        if self.enabled:
            self.advance(0)

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def _run_training(command: str, argv: list[str]) -> int:
    from .errors import TwplateError

    module_name, help_text = {**TRAINING_COMMANDS, **MODULE_COMMANDS}[command]
    try:  # a command's module may import its heavy dependencies only when it runs (paddle, matplotlib)
        module = importlib.import_module(module_name)
        configure = getattr(module, f"configure_{command}", None) or module.configure
        run = getattr(module, f"run_{command}", None) or module.run
        parser = argparse.ArgumentParser(prog=f"twplate {command}", description=help_text)
        configure(parser)
        return int(run(parser.parse_args(argv)) or 0)
    except (TwplateError, FileNotFoundError, UnicodeDecodeError) as exc:  # a bad input named, not a traceback
        print(f"twplate {command}: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        missing = exc.name or "?"
        if missing.split(".")[0] == "twplate":
            print(f"twplate {command}: not available in this version of twplate ({missing} is missing)",
                  file=sys.stderr)
        else:
            print(f"twplate {command} needs the training dependencies ({missing} is not installed): "
                  "pip install 'twplate[train]'", file=sys.stderr)
        return 2
