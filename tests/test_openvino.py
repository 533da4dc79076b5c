"""The OpenVINO backend: reads like ONNX Runtime, precision chosen explicitly and reported as run, thread-safe,
broken models refused. (Broken shipped-model copies on every backend: test_reliability_models.py.)"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

import tiny_models
import twplate.backends as backends
from twplate import PlateRecognizer
from twplate.errors import BackendUnavailableError, ModelError
from twplate.model_files import (
    FAST_INT8_MODEL,
    FAST_MODEL,
    ONNX_FILE,
    OPENVINO_FILES,
    YAML_FILE,
    default_model_dir,
    load_model_spec,
    read_model_yaml,
    write_model_yaml,
)
from twplate.preprocess import resize_normalize

ov = pytest.importorskip("openvino")
from twplate.backends import check_backend_options  # noqa: E402
from twplate.backends import openvino as openvino_backend  # noqa: E402
from twplate.backends.openvino import check_precision, cpu_capabilities  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TEXTS = ["ABC-1234", "外0872", "AA", "", "使22", "RAB-5678"]
CAPABILITIES = cpu_capabilities(ov.Core())
needs_shipped = pytest.mark.skipif(not (default_model_dir() / YAML_FILE).is_file(), reason="no shipped model")


@pytest.fixture(scope="module")
def tiny_ir_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model as an OpenVINO IR model directory, written by the exporter (whose 1e-4 check on
    rendered probe plates the tiny model, with its 20000x sharpened softmax, is too sensitive for)."""
    from exporters.to_openvino import write_fp32_ir

    directory = tmp_path_factory.mktemp("tiny-ir") / "model"
    write_fp32_ir(load_model_spec(tiny_model_dir), directory)
    return directory


def sample_plates() -> list[np.ndarray]:
    lines = (SAMPLES / "labels.tsv").read_text(encoding="utf-8").splitlines()
    return [cv2.imread(str(SAMPLES / line.split("\t")[0])) for line in lines if line.strip()]


def assert_same_readings(a: list, b: list) -> None:
    assert [r.text for r in a] == [r.text for r in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.char_confidences, y.char_confidences, atol=1e-4)


# ---------------------------------------------------------------- reading


def test_registered_and_available(monkeypatch: pytest.MonkeyPatch) -> None:
    assert backends.available_backends()[-1] == "openvino"  # last for "auto": see docs/openvino.md
    real_find_spec = backends.importlib.util.find_spec
    monkeypatch.setattr(backends.importlib.util, "find_spec",
                        lambda name, *a: None if name == "openvino" else real_find_spec(name, *a))
    with pytest.raises(BackendUnavailableError, match=r"pip install 'twplate\[openvino\]'"):
        backends.backend_class("openvino")


def test_tiny_model_reads_like_onnxruntime(tiny_model_dir: Path) -> None:
    images = [tiny_models.stripe_image(t, width=160 + 24 * i) for i, t in enumerate(TEXTS)]
    reader = PlateRecognizer(tiny_model_dir, backend="openvino", batch_size=4, threads=1)
    results = reader(images)
    assert [r.text for r in results] == TEXTS
    assert_same_readings(results, PlateRecognizer(tiny_model_dir, backend="onnxruntime", batch_size=4)(images))
    assert reader.backend.providers == ["CPU", "fp32"]
    assert reader.backend.width_buckets is None


def test_ir_model_directory(tiny_model_dir: Path, tiny_ir_dir: Path) -> None:
    """The exporter's IR: checksummed in inference.yml, read instead of an ONNX file, same readings."""
    spec = read_model_yaml(tiny_ir_dir)
    assert set(spec.checksums) == set(OPENVINO_FILES) and not (tiny_ir_dir / ONNX_FILE).exists()
    assert backends.resolve_backend_name("auto", spec) == "openvino"  # the only backend with files for it
    images = [tiny_models.stripe_image(t) for t in TEXTS]
    assert_same_readings(PlateRecognizer(tiny_ir_dir)(images), PlateRecognizer(tiny_model_dir)(images))


@needs_shipped
def test_the_exported_ir_keeps_the_confidence_map(tmp_path: Path) -> None:
    """The IR exporter carries the source model's calibration into its inference.yml: same confidences."""
    from exporters.to_openvino import write_fp32_ir

    spec = write_fp32_ir(load_model_spec(default_model_dir()), tmp_path / "ir")
    assert spec.calibration is not None and spec.calibration == load_model_spec(default_model_dir()).calibration
    images = sample_plates()
    ir, onnx = PlateRecognizer(tmp_path / "ir", backend="openvino")(images), PlateRecognizer()(images)
    np.testing.assert_allclose([r.confidence for r in ir], [r.confidence for r in onnx], atol=1e-4)


def test_the_exporter_will_not_write_an_ir_beside_another_models_files(tiny_model_dir: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    from exporters.to_openvino import main

    out = tmp_path / "model"
    shutil.copytree(tiny_model_dir, out)
    with pytest.raises(SystemExit) as exited:
        main([str(tiny_model_dir), "--out", str(out)])
    assert exited.value.code == 2
    assert f"{out} holds another model's files ({ONNX_FILE})" in capsys.readouterr().err
    assert not (out / OPENVINO_FILES[0]).exists()


@pytest.mark.parametrize(("options", "message"), [
    (["--fp32-neck"], "--fp32-neck shape the int8 model: add --int8"),
    (["--input-width", "72", "--accuracy-control"], "--input-width, --accuracy-control shape the int8 model"),
    (["--int8", "--input-width", "8"], "--input-width must be between 16 and 2048 pixels"),
])
def test_the_exporter_refuses_int8_options_it_would_ignore(tiny_model_dir: Path, tmp_path: Path, options: list[str],
                                                           message: str, capsys: pytest.CaptureFixture) -> None:
    from exporters.to_openvino import main

    with pytest.raises(SystemExit) as exited:
        main([str(tiny_model_dir), "--out", str(tmp_path / "ir"), *options])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ir").exists()


@needs_shipped
def test_an_ir_not_listed_in_inference_yml_is_not_read(tiny_ir_dir: Path, tmp_path: Path) -> None:
    """An IR that merely lies in a model folder may hold other weights (here the tiny model's, beside the
    shipped model's files): unchecked, it is not read; the listed ONNX file is."""
    shipped = tmp_path / "shipped"
    shutil.copytree(default_model_dir(), shipped)
    for name in OPENVINO_FILES:
        shutil.copy(tiny_ir_dir / name, shipped / name)
    images = sample_plates()
    assert_same_readings(PlateRecognizer(shipped, backend="openvino")(images),
                         PlateRecognizer(backend="onnxruntime")(images))


SHIPPED_READERS = pytest.mark.parametrize("model", [None, FAST_MODEL], ids=["rec", "rec-fast"])


@needs_shipped
@SHIPPED_READERS
def test_shipped_model_reads_like_onnxruntime(model: str | None) -> None:
    images = sample_plates()
    reader = PlateRecognizer(model, backend="openvino")
    results = reader(images)
    assert all(r.text for r in results)
    assert_same_readings(results, PlateRecognizer(model, backend="onnxruntime")(images))
    assert reader.backend.providers == ["CPU", "fp32"]  # not OpenVINO's own bf16 default on AMX CPUs


@needs_shipped
@SHIPPED_READERS
def test_shipped_model_reads_real_plates_like_onnxruntime(real_data: Path, model: str | None) -> None:
    """The issue's parity bar on real crops: OpenVINO fp32 gives ONNX Runtime's text and probabilities within 1e-4."""
    lines = (real_data / "real" / "val.tsv").read_text(encoding="utf-8").splitlines()[:64]
    paths = [real_data / "real" / line.split("\t")[0] for line in lines]
    assert_same_readings(PlateRecognizer(model, backend="openvino")(paths),
                         PlateRecognizer(model, backend="onnxruntime")(paths))


needs_int8_cpu = pytest.mark.skipif(not {"AVX512_VNNI", "AVX_VNNI", "AMX_INT8"} & CAPABILITIES,
                                    reason="no VNNI/AMX: int8 is refused on this CPU (test_precision_refused)")


def int8_and_float_readers() -> tuple[PlateRecognizer, PlateRecognizer]:
    """``twplate-rec-fast-int8`` and its float model read at the width it declares."""
    return PlateRecognizer(FAST_INT8_MODEL), PlateRecognizer(FAST_MODEL, backend="onnxruntime", input_width=72)


@needs_shipped
@needs_int8_cpu
def test_shipped_int8_model_runs_int8_and_reads_the_samples_as_its_float_model() -> None:
    int8, fp32 = int8_and_float_readers()
    assert int8.backend.name == "openvino" and int8.backend.providers == ["CPU", "int8"]
    assert int8.backend.static_batches == (1, 32)  # one declared width: single images and full batches, static shapes
    assert [r.text for r in int8(sample_plates())] == [r.text for r in fp32(sample_plates())]


@needs_shipped
@needs_int8_cpu
def test_shipped_int8_model_reads_real_plates_as_its_float_model(real_data: Path) -> None:
    """The ship rule on real val: at least as many plates right as the float model at 48 x 72 (its model card: 290 of
    296 both, 292 texts the same)."""
    int8, fp32 = int8_and_float_readers()
    lines = (real_data / "real" / "val.tsv").read_text(encoding="utf-8").splitlines()
    paths, labels = zip(*(line.split("\t") for line in lines), strict=True)
    images = [real_data / "real" / p for p in paths]
    texts = {name: [r.text for r in reader(images)] for name, reader in (("int8", int8), ("fp32", fp32))}
    right = {name: sum(t == label for t, label in zip(read, labels, strict=True)) for name, read in texts.items()}
    same = sum(a == b for a, b in zip(texts["int8"], texts["fp32"], strict=True))
    assert right["int8"] >= right["fp32"], right
    assert same >= 0.98 * len(labels), same


@needs_shipped
def test_shipped_int8_model_is_refused_by_name_on_a_cpu_without_int8(monkeypatch: pytest.MonkeyPatch) -> None:
    """On an AVX2 CPU (no VNNI, no AMX) int8 would be emulated and slower than fp32: loading says so."""
    monkeypatch.setattr(openvino_backend, "cpu_capabilities", lambda core: frozenset({"FP32", "INT8", "AVX2"}))
    with pytest.raises(ValueError, match="precision='int8' needs a CPU with VNNI or AMX int8"):
        PlateRecognizer(FAST_INT8_MODEL)


@pytest.mark.parametrize("streams", [1, 2])
def test_threads_share_one_backend(tiny_model_dir: Path, streams: int) -> None:
    """Eight threads, each with its own infer requests, read exactly what one thread reads."""
    images = [tiny_models.stripe_image(t, width=160 + 40 * (i % 4)) for i, t in enumerate(TEXTS * 3)]
    reader = PlateRecognizer(tiny_model_dir, backend="openvino", batch_size=2, threads=2, streams=streams)
    assert reader.backend.streams == streams
    expected = [(r.text, r.char_confidences) for r in reader(images)]

    def work(k: int) -> bool:
        calls = [images[(k + i) % len(images) :] + images[: (k + i) % len(images)] for i in range(40)]
        return all([(r.text, r.char_confidences) for r in reader(c)] == expected[(k + i) % len(images) :]
                   + expected[: (k + i) % len(images)] for i, c in enumerate(calls))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(8)))


# ---------------------------------------------------------------- streams and static shapes


def per_image(backend: backends.Backend, x: np.ndarray) -> np.ndarray:
    return np.concatenate([backend(x[i : i + 1]) for i in range(len(x))])


@pytest.mark.parametrize("input_width", [None, 200])
def test_a_split_batch_is_each_image_alone(tiny_model_dir: Path, input_width: int | None) -> None:
    """A batch split over two streams (static shapes where the width is fixed, dynamic otherwise) gives
    every image, in order, what it gets alone on a one-stream backend."""
    split = PlateRecognizer(tiny_model_dir, backend="openvino", batch_size=4, threads=2, streams=2,
                            input_width=input_width).backend
    one = PlateRecognizer(tiny_model_dir, backend="openvino", batch_size=4, threads=2,
                          input_width=input_width).backend
    assert split.streams == 2
    assert split.static_batches == (() if input_width is None else (1, 2))
    assert one.static_batches == (() if input_width is None else (1, 4))
    x = np.random.default_rng(0).normal(size=(5, 3, 48, input_width or 136)).astype(np.float32)
    expected = per_image(one, x)
    for n in range(1, 6):  # static (1, 2, 4) and dynamic (3, 5) shapes, split or not
        np.testing.assert_allclose(split(x[:n]), expected[:n], atol=1e-5)
        np.testing.assert_allclose(one(x[:n]), expected[:n], atol=1e-5)


def test_fixed_width_readings_match_onnxruntime(tiny_model_dir: Path) -> None:
    images = [tiny_models.stripe_image(t, width=200) for t in TEXTS]
    ov_reader = PlateRecognizer(tiny_model_dir, backend="openvino", batch_size=4, threads=2, streams=2, input_width=200)
    results = ov_reader(images)
    assert [r.text for r in results] == TEXTS
    assert_same_readings(results, PlateRecognizer(tiny_model_dir, backend="onnxruntime", batch_size=4,
                                                  input_width=200)(images))


def test_streams_are_at_most_the_threads(tiny_model_dir: Path) -> None:
    assert PlateRecognizer(tiny_model_dir, backend="openvino", threads=1, streams=2).backend.streams == 1
    with pytest.raises(ValueError, match="streams must be >= 1"):
        PlateRecognizer(tiny_model_dir, backend="openvino", streams=0)


# ---------------------------------------------------------------- precision


@pytest.mark.parametrize(("precision", "capabilities", "hint"), [
    ("fp32", set(), "f32"),
    ("bf16", {"BF16", "FP32"}, "bf16"),
    ("int8", {"INT8", "AVX512_VNNI"}, "f32"),
    ("int8", {"AVX_VNNI"}, "f32"),
    ("int8", {"AMX_INT8"}, "f32"),
])
def test_precision_allowed(precision: str, capabilities: set[str], hint: str) -> None:
    assert check_precision(precision, capabilities) == hint


@pytest.mark.parametrize(("precision", "capabilities", "match"), [
    ("bf16", {"FP32", "INT8", "AVX512F", "AVX512_VNNI"}, "native bfloat16 .AMX or AVX512_BF16"),
    ("int8", {"FP32", "INT8", "AVX2", "FMA"}, "VNNI or AMX int8"),  # OpenVINO lists INT8 on any CPU: not enough
    ("fp16", {"FP16", "BF16"}, "precision must be one of"),
])
def test_precision_refused(precision: str, capabilities: set[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_precision(precision, capabilities)


def test_bf16_runs_where_the_cpu_has_it_and_is_reported(tiny_model_dir: Path) -> None:
    if "BF16" not in CAPABILITIES:
        with pytest.raises(ValueError, match="native bfloat16"):
            PlateRecognizer(tiny_model_dir, backend="openvino", precision="bf16")
        return
    reader = PlateRecognizer(tiny_model_dir, backend="openvino", precision="bf16")
    assert reader.backend.providers == ["CPU", "bf16"]


def test_int8_needs_an_int8_model(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="needs an int8 model"):
        PlateRecognizer(tiny_model_dir, backend="openvino", precision="int8")


def test_unknown_precision(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="openvino precision must be one of"):
        PlateRecognizer(tiny_model_dir, backend="openvino", precision="fp8")


def test_precision_checked_before_a_model_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """``check_backend_options`` (what ``twplate serve`` runs before its workers start) refuses a precision
    the CPU lacks, as loading would; with the CPU's own capabilities it agrees with loading."""
    if "BF16" in CAPABILITIES:
        check_backend_options("openvino", {"precision": "bf16", "streams": 2})
    else:
        with pytest.raises(ValueError, match="native bfloat16"):
            check_backend_options("openvino", {"precision": "bf16"})
    monkeypatch.setattr(openvino_backend, "cpu_capabilities", lambda core: frozenset({"FP32", "INT8", "AVX2"}))
    with pytest.raises(ValueError, match="native bfloat16"):
        check_backend_options("openvino", {"precision": "bf16"})
    with pytest.raises(ValueError, match="streams must be >= 1, not 0"):
        check_backend_options("openvino", {"streams": 0})


@pytest.mark.slow
@needs_int8_cpu
def test_quantized_model_runs_int8_and_refuses_fp32(tiny_ir_dir: Path, tmp_path: Path) -> None:
    """A quantized model loads as int8 (reported from the compiled graph) and is never passed off as fp32."""
    nncf = pytest.importorskip("nncf")
    spec = load_model_spec(tiny_ir_dir)
    tensors = [resize_normalize(tiny_models.stripe_image(t), spec.preprocess)[None] for t in TEXTS]
    quantized = nncf.quantize(ov.Core().read_model(str(tiny_ir_dir / OPENVINO_FILES[0])), nncf.Dataset(tensors),
                              subset_size=len(tensors))
    out = Path(shutil.copytree(tiny_ir_dir, tmp_path / "int8"))
    ov.save_model(quantized, str(out / OPENVINO_FILES[0]), compress_to_fp16=False)
    write_model_yaml(out, "tiny-int8", "0", spec.charset.characters, spec.preprocess)
    assert PlateRecognizer(out, backend="openvino").backend.providers == ["CPU", "int8"]
    with pytest.raises(ValueError, match="int8 .quantized. model: load it with precision='int8'"):
        PlateRecognizer(out, backend="openvino", precision="fp32")


@needs_shipped
@pytest.mark.slow
def test_exporter_writes_an_int8_model_at_one_width_with_a_float_neck(real_data: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``--int8 --input-width 72 --fp32-neck``: the recipe of ``twplate-rec-fast-int8`` (on a few calibration crops):
    the model declares the width, its backbone's convolutions take quantized inputs and its neck's do not."""
    pytest.importorskip("nncf")
    from exporters.to_openvino import main, neck_layers

    monkeypatch.setenv("TWPLATE_DATA", str(real_data))
    out = tmp_path / "fast"
    assert main([str(default_model_dir().parent / FAST_MODEL), "--out", str(out), "--int8", "--input-width", "72",
                 "--fp32-neck", "--calibration", "16", "--synthetic", "0"]) == 0
    int8_dir = tmp_path / "fast-int8"
    spec = load_model_spec(int8_dir)
    assert (spec.name, spec.preprocess.min_width, spec.preprocess.max_width) == (f"{FAST_MODEL}-int8", 72, 72)
    neck = neck_layers(ov.Core().read_model(str(out / OPENVINO_FILES[0])))
    assert neck[0] == "Conv.27" and neck[-1] == "Conv.31" and len(neck) == 17  # 5 convolutions, 12 matrix products
    model = ov.Core().read_model(str(int8_dir / OPENVINO_FILES[0]))

    def quantized_input(name: str) -> bool:
        op = next(op for op in model.get_ops() if op.get_friendly_name() == name)
        return any(i.get_source_output().get_node().get_type_name() == "FakeQuantize" for i in op.inputs())

    assert not any(quantized_input(name) for name in neck)
    assert quantized_input("Conv.2") and quantized_input("MatMul.12")  # the backbone and the CTC head are int8


# ---------------------------------------------------------------- broken models


@pytest.mark.parametrize("name", OPENVINO_FILES)
def test_truncated_ir_refused(tiny_ir_dir: Path, tmp_path: Path, name: str) -> None:
    directory = Path(shutil.copytree(tiny_ir_dir, tmp_path / "m"))
    data = (directory / name).read_bytes()
    (directory / name).write_bytes(data[: len(data) // 2])
    spec = read_model_yaml(directory)
    write_model_yaml(directory, spec.name, spec.version, spec.charset.characters, spec.preprocess)  # fresh sha256
    with pytest.raises(ModelError, match="openvino cannot load"):
        PlateRecognizer(directory, backend="openvino")


def test_ir_checksum_mismatch(tiny_ir_dir: Path, tmp_path: Path) -> None:
    directory = Path(shutil.copytree(tiny_ir_dir, tmp_path / "m"))
    data = bytearray((directory / "inference.bin").read_bytes())
    data[-1] ^= 1
    (directory / "inference.bin").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        PlateRecognizer(directory, backend="openvino")


def test_ir_with_another_dictionary(tiny_ir_dir: Path, tmp_path: Path) -> None:
    """The dictionary the exporter put in the IR's rt_info is checked against inference.yml."""
    directory = Path(shutil.copytree(tiny_ir_dir, tmp_path / "m"))
    spec = read_model_yaml(directory)
    write_model_yaml(directory, spec.name, spec.version, spec.charset.characters[:-1], spec.preprocess)
    with pytest.raises(ModelError, match="dictionary in its metadata differs"):
        PlateRecognizer(directory, backend="openvino")
