"""What the benchmarks and speed scripts share: settings, images, the model, and the peer pipelines.

Settings come from the environment so that one ``pytest benchmarks`` line runs them all:

=========================  ===============================================  =========
variable                   meaning                                          default
=========================  ===============================================  =========
``TWPLATE_BENCH_MODEL``    model directory or ``.onnx`` file                shipped
``TWPLATE_BENCH_IMAGES``   images per timed round (cycled from the set)     128
``TWPLATE_BENCH_ROUNDS``   timed rounds per case (after one warm-up)        3
``TWPLATE_BENCH_THREADS``  CPU threads for every runtime, peers included    all cores
``TWPLATE_DATA``           data root holding ``real/val.tsv``               ../shared/data
=========================  ===============================================  =========

Images are the real validation crops, decoded once into memory; without the data set, plates
drawn by ``scripts/render_samples.py``'s renderer stand in (same kind of shapes, no accuracy meaning).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from twplate import PlateRecognizer
from twplate.image import load_image
from twplate.model_files import default_model_dir, load_model_spec
from twplate.preprocess import bucket_width, make_batch, resize_to_input, width_groups
from twplate.recognizer import CHUNK_BATCHES

REPO = Path(__file__).resolve().parents[1]
BATCHES = (1, 8, 32, 128)
N_IMAGES = int(os.environ.get("TWPLATE_BENCH_IMAGES", 128))
ROUNDS = int(os.environ.get("TWPLATE_BENCH_ROUNDS", 3))
THREADS = int(os.environ.get("TWPLATE_BENCH_THREADS", os.cpu_count() or 1))
MODEL = Path(os.environ["TWPLATE_BENCH_MODEL"]) if os.environ.get("TWPLATE_BENCH_MODEL") else default_model_dir()

Recognize = Callable[[Sequence[np.ndarray]], list[str]]
"""A pipeline under test: decoded BGR images in, texts out, in order."""


def model_present() -> bool:
    try:
        load_model_spec(MODEL)
    except Exception:  # ModelError, or no model exported yet
        return False
    return True


def data_root() -> Path:
    return Path(os.environ.get("TWPLATE_DATA", REPO.parent / "shared" / "data"))


def load_real(split: str, limit: int | None = None) -> tuple[list[np.ndarray], list[str], Path] | None:
    """``(images, labels, tsv)`` of ``real/<split>.tsv`` as BGR arrays, or ``None`` without the data set."""
    tsv = data_root() / "real" / f"{split}.tsv"
    if not tsv.is_file():
        return None
    rows = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    return [load_image(tsv.parent / path) for path, _ in rows], [label for _, label in rows], tsv


def load_val(limit: int | None = None) -> tuple[list[np.ndarray], list[str], str]:
    """``(images, labels, source)``: real val crops as BGR arrays, or the rendered samples without the data set."""
    real = load_real("val", limit)
    if real is not None:
        images, labels, tsv = real
        return images, labels, f"real val ({tsv})"
    rows = [line.split("\t") for line in (REPO / "samples" / "labels.tsv").read_text(encoding="utf-8").splitlines()]
    samples = [(cv2.imread(str(REPO / "samples" / name)), label) for name, label in rows]
    chosen = [samples[i % len(samples)] for i in range(limit or 256)]
    return [image for image, _ in chosen], [label for _, label in chosen], "rendered samples (samples/, cycled)"


CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_fp16")
"""The instruction sets that decide CPU inference speed per precision (fp32, int8: VNNI/AMX, bf16)."""


def cpu_description() -> dict[str, object]:
    """The CPU every speed figure is recorded with: model name (and family/model numbers, as a VM may
    hide the name), CPUs this process sees, the :data:`CPU_FLAGS` it has and those it lacks (AMX missing is
    what most changes the OpenVINO figures)."""
    info = {}
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    flags = set(info.get("flags", "").split())
    return {"model": f"{info.get('model name', 'unknown')} (family {info.get('cpu family', '?')}, "
                     f"model {info.get('model', '?')})", "cpus": os.cpu_count(),
            "flags": [flag for flag in CPU_FLAGS if flag in flags],
            "lacks": [flag for flag in CPU_FLAGS if flag not in flags]}


def cycle(items: Sequence, n: int) -> list:
    """``n`` items, repeating ``items`` from the start as often as needed."""
    return [items[i % len(items)] for i in range(n)]


def round_robin(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each of ``calls``, run once per round in turn, so that a slow spell of a
    shared machine hits every one alike (timing one case after another does not). Each round runs
    the cases in a new (seeded) order, so no case always follows the same one: a heavy peer leaves
    caches and allocator state behind for whichever case runs next."""
    order, rng = list(calls), random.Random(0)
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            call = calls[name]
            start = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def exact_match(texts: Sequence[str], labels: Sequence[str]) -> float:
    return sum(t == label for t, label in zip(texts, labels, strict=True)) / len(labels)


# ---------------------------------------------------------------- twplate


def twplate_pipeline(reader: PlateRecognizer) -> Recognize:
    return lambda images: [r.text for r in reader(list(images))]


def model_batches(reader: PlateRecognizer, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The exact batches ``reader`` would send its backend for ``images`` (same chunks, groups, padding)."""
    cfg, batches = reader.spec.preprocess, []
    buckets = reader.backend.width_buckets
    step = reader.batch_size * CHUNK_BATCHES
    for start in range(0, len(images), step):
        crops = [resize_to_input(load_image(x), cfg) for x in images[start : start + step]]
        widths = [bucket_width(c.shape[1], buckets) for c in crops]
        for group in width_groups(widths, reader.batch_size):
            batches.append(make_batch([crops[i] for i in group], cfg, widths[group[0]]))
    return batches


# ---------------------------------------------------------------- peers, on the same model and dictionary


def rapidocr_available() -> bool:
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def rapidocr_pipeline(model: Path, batch_size: int, threads: int = THREADS) -> Recognize:
    """RapidOCR 1.2.3's recognizer (``ch_ppocr_v3_rec.TextRecognizer``) on our ONNX file.

    Configured as its ``config.yaml`` does (``rec_img_shape [3, 48, 320]``), with our model path and
    ``rec_batch_num``; it reads the dictionary from the file's ``character`` metadata, as ours does.
    Its ONNX Runtime session is rebuilt with RapidOCR's own options plus ``threads``, so every
    pipeline gets the same number of threads.
    """
    import onnxruntime as ort
    from rapidocr_onnxruntime.ch_ppocr_v3_rec import TextRecognizer

    spec = load_model_spec(model)
    path = str(spec.directory / spec.onnx_file)
    recognizer = TextRecognizer({"use_cuda": False, "model_path": path, "rec_img_shape": [3, 48, 320],
                                 "rec_batch_num": batch_size})
    options = ort.SessionOptions()  # RapidOCR's OrtInferSession options, plus the thread count
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    recognizer.session.session = ort.InferenceSession(
        path, options, providers=[("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})])

    def run(images: Sequence[np.ndarray]) -> list[str]:
        results, _ = recognizer(list(images))
        return [text for text, _score in results]

    return run


def rapidocr_openvino_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("rapidocr_openvino", "openvino"))


def rapidocr_openvino_pipeline(model: Path, batch_size: int, threads: int = THREADS) -> Recognize:
    """RapidOCR 1.2.3's OpenVINO engine (``rapidocr_openvino``'s ``ch_ppocr_v3_rec.TextRecognizer``) on our
    ONNX file, with our dictionary as its ``keys_path``.

    Its session is OpenVINO's defaults (``compile_model(model, "CPU")``: on a CPU with AMX or
    AVX512_BF16 that runs in bf16), rebuilt with ``INFERENCE_NUM_THREADS=threads`` so every
    pipeline gets the same threads.
    """
    _allow_rapidocr_openvino()
    from rapidocr_openvino.ch_ppocr_v3_rec import TextRecognizer

    spec = load_model_spec(model)
    path = str(spec.directory / spec.onnx_file)
    keys = Path(tempfile.mkdtemp(prefix="twplate-bench-")) / "keys.txt"
    keys.write_text("\n".join(spec.charset.characters) + "\n", encoding="utf-8")
    recognizer = TextRecognizer({"model_path": path, "keys_path": str(keys), "rec_img_shape": [3, 48, 320],
                                 "rec_batch_num": batch_size})
    recognizer.infer.session = _openvino_request(path, threads)

    def run(images: Sequence[np.ndarray]) -> list[str]:
        results, _ = recognizer(list(images))
        return [text for text, _score in results]

    return run


def rapidocr_openvino_photo_pipeline(threads: int = THREADS) -> Callable[[np.ndarray], list]:
    """RapidOCR 1.2.3's whole OpenVINO pipeline as shipped (``rapidocr_openvino.RapidOCR``: PP-OCRv3 det with
    ``limit_type: min`` 736, the angle classifier, PP-OCRv3 rec), in OpenVINO's default precision, each of its
    three models recompiled with ``INFERENCE_NUM_THREADS=threads`` (as :func:`rapidocr_openvino_pipeline`).

    Returns ``ocr(bgr_image) -> [(box, text, score), ...]`` (empty where it finds no text).
    """
    import yaml

    _allow_rapidocr_openvino()
    import rapidocr_openvino
    from rapidocr_openvino import RapidOCR

    ocr = RapidOCR()
    package = Path(rapidocr_openvino.__file__).parent
    config = yaml.safe_load((package / "config.yaml").read_text(encoding="utf-8"))
    for part, section in ((ocr.text_detector, "Det"), (ocr.text_cls, "Cls"), (ocr.text_recognizer, "Rec")):
        part.infer.session = _openvino_request(package / config[section]["model_path"], threads)
    return lambda image: ocr(image)[0] or []


def _allow_rapidocr_openvino() -> None:
    """``rapidocr_openvino`` 1.2.3 imports ``openvino.runtime``, which OpenVINO 2026 removed; the same
    ``Core`` lives at ``openvino``'s top level, so that name is pointed there before the import."""
    import openvino as ov

    sys.modules.setdefault("openvino.runtime", ov)


def _openvino_request(model_path: str | Path, threads: int) -> Any:
    """An infer request on ``model_path`` compiled for the CPU as RapidOCR's OpenVINO engine compiles it
    (OpenVINO's default precision), with ``INFERENCE_NUM_THREADS=threads`` so every pipeline gets the same threads."""
    import openvino as ov

    core = ov.Core()
    return core.compile_model(core.read_model(str(model_path)), "CPU",
                              {"INFERENCE_NUM_THREADS": threads}).create_infer_request()


def openvino_default_precision() -> str:
    """The inference precision OpenVINO picks on this CPU when not told (``bf16`` where it has AMX or
    AVX512_BF16, else ``f32``): the one RapidOCR's OpenVINO engine runs in."""
    import openvino as ov

    return ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").to_string()


def paddleocr_available() -> bool:
    return importlib.util.find_spec("paddleocr") is not None and importlib.util.find_spec("paddle") is not None


@functools.cache
def _paddleocr_dir() -> Path:
    """The installed ``paddleocr`` package folder (once on ``sys.path``, its ``paddleocr.py`` shadows it)."""
    return Path(importlib.util.find_spec("paddleocr").submodule_search_locations[0])


def paddleocr_pipeline(model: Path, batch_size: int, threads: int = THREADS, use_onnx: bool = False) -> Recognize:
    """PaddleOCR 2.10's own recognition pipeline (``tools/infer/predict_rec.py``'s ``TextRecognizer``).

    Its defaults (``rec_algorithm SVTR_LCNet``, ``rec_image_shape 3, 48, 320``), our model
    directory (``inference.json`` + ``inference.pdiparams``) or with ``use_onnx`` our ONNX file,
    our dictionary, on CPU with oneDNN and ``threads`` threads (``--enable_mkldnn true
    --cpu_threads N``, as twplate's paddle backend runs).

    With Paddle Inference, one call of PaddleOCR's predictor setup has to be skipped to load a
    Paddle 3 model at all (see below); with ``use_onnx`` it runs unmodified.

    ``tools`` is imported the way PaddleOCR's own scripts do (package directory on ``sys.path``):
    importing ``paddleocr`` itself pulls in the whole OCR system (requests, albumentations, ...).
    """
    package = _paddleocr_dir()
    if str(package) not in sys.path:
        sys.path.insert(0, str(package))
    from tools.infer import utility
    from tools.infer.predict_rec import TextRecognizer

    spec = load_model_spec(model)
    dictionary = Path(tempfile.mkdtemp(prefix="twplate-bench-")) / "dict.txt"
    dictionary.write_text("\n".join(spec.charset.characters) + "\n", encoding="utf-8")
    args = utility.init_args().parse_args([])
    args.use_gpu = False
    args.enable_mkldnn = True
    args.cpu_threads = threads
    args.use_onnx = use_onnx
    args.rec_model_dir = str(spec.directory / spec.onnx_file) if use_onnx else str(spec.directory)
    args.rec_char_dict_path = str(dictionary)
    args.rec_batch_num = batch_size
    args.show_log = False
    if use_onnx:
        import onnxruntime as ort

        args.onnx_sess_options = ort.SessionOptions()  # its own option for this
        args.onnx_sess_options.log_severity_level = 3
        args.onnx_sess_options.intra_op_num_threads = threads
        recognizer = TextRecognizer(args)
    else:
        from paddle import inference

        # PaddleOCR 2.10's create_predictor calls Config.enable_memory_optim(); with Paddle 3.3.1 and
        # a PIR program (inference.json) create_predictor then fails with "(InvalidArgument) Not find
        # predictor_id 0 and pass_name memory_optimize_pass" (pass_result_info.h): that legacy-IR pass
        # never runs on the PIR path. Its one workaround, for this constructor only: skip that call.
        enable_memory_optim = inference.Config.enable_memory_optim
        inference.Config.enable_memory_optim = lambda self, *a, **k: None
        try:
            recognizer = TextRecognizer(args)
        finally:
            inference.Config.enable_memory_optim = enable_memory_optim

    def run(images: Sequence[np.ndarray]) -> list[str]:
        results, _ = recognizer(list(images))
        return [text for text, _score in results]

    return run


def stretch_to_twplate_width(run: Recognize, model: Path) -> Recognize:
    """``run`` fed images resized to twplate's target width first, so its tensors have twplate's shapes."""
    cfg = load_model_spec(model).preprocess

    def stretched(images: Sequence[np.ndarray]) -> list[str]:
        return run([cv2.resize(im, (cfg.target_width(*im.shape[:2]), cfg.height)) for im in images])

    return stretched
