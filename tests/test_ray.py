"""Reading on Ray Data: a real local Ray cluster on loopback, the shipped model, rows compared with local readings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import REPO
from photos import steep_crop
from plates import draw_plate, random_plates

SAMPLES = REPO / "samples"


@pytest.fixture(scope="module")
def cluster():
    """A 2-CPU Ray cluster on 127.0.0.1 for this module (the variable also reaches its worker processes)."""
    with pytest.MonkeyPatch.context() as env:
        # Ray reads this when imported: 0 puts the node on 127.0.0.1 instead of the host's address
        env.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        ray = pytest.importorskip("ray")
        pytest.importorskip("ray.data")
        ray.init("local", num_cpus=2, include_dashboard=False, log_to_driver=False)  # never a running cluster
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield
        ray.shutdown()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[str]]:
    """Readable images (the samples and drawn plates of several widths) and bad ones, as absolute paths."""
    folder = tmp_path_factory.mktemp("ray_images")
    good = sorted(str(p) for p in SAMPLES.glob("*.jpg"))
    for i, text in enumerate(random_plates(23, seed=13)):
        path = folder / f"drawn_{i:02d}.jpg"
        cv2.imwrite(str(path), draw_plate(text, height=48 + 8 * (i % 5), aspect=2.0 + 0.25 * (i % 6)))
        good.append(str(path))
    (folder / "notes.jpg").write_text("a text file named .jpg", encoding="utf-8")
    (folder / "truncated.jpg").write_bytes(Path(good[0]).read_bytes()[:300])
    return good, [str(folder / "notes.jpg"), str(folder / "truncated.jpg")]


def by_path(rows: list[dict]) -> dict[str, dict]:
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths)), "an input came out more than once"
    return dict(zip(paths, rows))


@pytest.mark.slow
@pytest.mark.parametrize("input_width", [72, None], ids=["fixed-width", "by-aspect"])
def test_rows_equal_local_readings(cluster, images, input_width):
    """A crop reads the same in any batch (a backend call holds one width), so Ray's batches of 8 on two
    actors read exactly as one local recognizer: at a fixed width and by aspect (the default)."""
    from twplate import PlateRecognizer
    from twplate.ray import read

    good, bad = images
    options = {"input_width": input_width} if input_width else {}
    rows = by_path(read(good + bad, batch_size=8, concurrency=2, **options).take_all())
    assert sorted(rows) == sorted(good + bad)
    local = PlateRecognizer(threads=1, **options)
    for path, expected in zip(good, local.run_many(good)):
        row = rows[path]
        assert row["error"] is None, row
        assert row["text"] == expected.text, path
        np.testing.assert_allclose(row["confidence"], expected.confidence, atol=1e-5)
        np.testing.assert_allclose(row["char_confidences"], expected.char_confidences, atol=1e-5)
    for path in bad:
        assert rows[path]["text"] == "" and rows[path]["confidence"] == 0.0
        assert rows[path]["error"].startswith(f"{path!r}: ") and "cannot decode" in rows[path]["error"]


def _crashing_reader():
    """A CropReader whose process exits on its second batch, in its first life only.

    The first actor to create ``marker`` is the one that crashes; its restarted self finds the
    marker and reads normally. A ``crashed`` file beside the marker records that the crash happened.
    Defined in a function, so that Ray pickles the class by value for its workers.
    """
    from twplate.ray import CropReader

    class Crashing(CropReader):
        def __init__(self, marker: str, **options) -> None:
            super().__init__(**options)
            self.marker, self.batches = Path(marker), 0
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
                self.armed = True
            except FileExistsError:
                self.armed = False

        def __call__(self, batch):
            self.batches += 1
            if self.armed and self.batches == 2:
                (self.marker.parent / "crashed").touch()
                os._exit(1)
            return super().__call__(batch)

    return Crashing


@pytest.mark.slow
def test_a_killed_reader_is_restarted_and_every_input_comes_out_once(cluster, images, tmp_path: Path):
    from twplate.ray import read

    good, bad = images
    inputs = (good + bad) * 2  # 68 rows in batches of 4: the crash comes mid-run
    dataset = read(inputs, batch_size=4, concurrency=2, reader=_crashing_reader(), marker=str(tmp_path / "armed"))
    rows = dataset.take_all()
    assert (tmp_path / "crashed").exists()
    paths = [r["path"] for r in rows]
    assert sorted(paths) == sorted(inputs)  # each of the duplicated inputs exactly twice, none lost or repeated
    assert sum(bool(r["error"]) for r in rows) == 2 * len(bad)


@pytest.mark.slow
def test_write_replaces_the_output_whole(cluster, images, tmp_path: Path):
    import pyarrow.parquet as pq

    from twplate.ray import read, write

    good, bad = images
    out = tmp_path / "results.parquet"
    summaries, tables = [], []
    for _ in range(2):
        summaries.append(write(read(good + bad, batch_size=8, concurrency=2), out))
        tables.append(pq.read_table(out).sort_by("path").to_pylist())
    assert tables[0] == tables[1]
    assert summaries[0] == summaries[1]
    assert summaries[0].rows == len(good + bad) and sorted(p for p, _ in summaries[0].errors) == sorted(bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.parquet"]  # no staging or old folder left


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Made-up photos (sample plates pasted in perspective, as tests/test_photo.py makes them), one without a
    plate, and a text file named .jpg."""
    pytest.importorskip("twplate.photo")
    from test_photo import PLATE_CORNERS, paste_plate

    folder = tmp_path_factory.mktemp("ray_photos")
    paths = {}
    for name, image in [("car", paste_plate("00_car2014.jpg", PLATE_CORNERS)),
                        ("scooter", paste_plate("02_scooter_old.jpg", PLATE_CORNERS, seed=1)),
                        ("empty", paste_plate("00_car2014.jpg", [(0, 0), (1, 0), (1, 1), (0, 1)], seed=2))]:
        cv2.imwrite(str(folder / f"{name}.jpg"), image)
        paths[name] = str(folder / f"{name}.jpg")
    (folder / "notes.jpg").write_text("a text file named .jpg", encoding="utf-8")
    paths["bad"] = str(folder / "notes.jpg")
    return paths


@pytest.mark.slow
def test_photo_rows_equal_local_read_photo(cluster, photos):
    from twplate import PlateRecognizer
    from twplate.ray import read

    photo_reader = pytest.importorskip("twplate.photo").PhotoReader

    # the recognizer's options reach the photo reader's plate reader (72 reads with other confidences)
    rows = read(list(photos.values()), photos=True, input_width=72, batch_size=4, concurrency=1).take_all()
    local = photo_reader(recognizer=PlateRecognizer(input_width=72, threads=1), threads=1).run_many(
        list(photos.values()))
    expected = []
    for path, plates in zip(photos.values(), local, strict=True):
        for plate in plates or [None]:
            expected.append((path, "" if plate is None else plate.text, plate is not None and plate.error is not None))
    got = sorted((r["path"], r["text"], r["error"] is not None) for r in rows)
    assert got == sorted(expected)
    by_name = {name: [r for r in rows if r["path"] == path] for name, path in photos.items()}
    assert by_name["empty"] == [{**by_name["empty"][0], "text": "", "box": None, "error": None}]
    assert by_name["car"][0]["box"] is not None and len(by_name["car"][0]["box"]) == 4
    car = next(p for p in local[0] if p.text == by_name["car"][0]["text"])
    np.testing.assert_allclose(by_name["car"][0]["box"], car.box, atol=1e-3)
    np.testing.assert_allclose(by_name["car"][0]["confidence"], car.confidence, atol=1e-5)
    assert by_name["bad"][0]["error"].startswith(f"{photos['bad']!r}: ")


def test_photo_rows_reader_gives_the_detector_the_recognizer_runtime_options(tiny_model_dir: Path):
    """An actor's detector runs with the precision and streams its plate reader was given (the detector is
    most of a photo's time); model options such as ``input_width`` stay the plate reader's."""
    pytest.importorskip("openvino")
    from twplate.ray import PhotoRowReader

    rows = PhotoRowReader(model=str(tiny_model_dir), backend="openvino", threads=2, precision="fp32", streams=2,
                          input_width=96)
    for backend in (rows.reader.detector.backend, rows.reader.recognizer.backend):
        assert (backend.name, backend.providers, backend.streams) == ("openvino", ["CPU", "fp32"], 2)
    assert rows.reader.recognizer.spec.preprocess.max_width == 96


def test_rows_carry_every_reading_field(formats_model: Path):
    """A row has what the plate reader gives, ``format_edits`` included (run here, as one actor runs it)."""
    pytest.importorskip("ray")
    import pyarrow as pa

    import tiny_models
    from twplate import PlateRecognizer
    from twplate.ray import CropReader

    image = cv2.imencode(".png", tiny_models.stripe_image("AA"))[1].tobytes()  # no plate: the formats change it
    expected = PlateRecognizer(formats_model)(image)
    (row,) = CropReader(model=str(formats_model))(pa.table({"path": ["aa.png"], "bytes": [image]})).to_pylist()
    assert expected.format_edits > 0
    assert row == {"path": "aa.png", "text": expected.text, "confidence": pytest.approx(expected.confidence),
                   "char_confidences": pytest.approx(list(expected.char_confidences)),
                   "format_edits": expected.format_edits, "error": None}


@pytest.mark.slow
def test_straighten_reads_narrow_crops_as_read_crops_does(cluster, tmp_path: Path):
    """``read(..., straighten=True)``: each actor reads crops as :meth:`PhotoReader.read_crops` does, so a plate
    hanging steeply in its crop is read upright; with ``photos`` the option is refused by name."""
    from twplate.photo import PhotoReader
    from twplate.ray import read

    steep, wide = str(tmp_path / "steep.png"), str(SAMPLES / "00_car2014.jpg")
    cv2.imwrite(steep, steep_crop("00_car2014.jpg", 50))
    rows = by_path(read([steep, wide], straighten=True, concurrency=1).take_all())
    expected = PhotoReader(backend="onnxruntime").read_crops([steep, wide])
    assert [rows[p]["text"] for p in (steep, wide)] == [e.text for e in expected] == ["KCD-1636", "KCD-1636"]
    np.testing.assert_allclose([rows[p]["confidence"] for p in (steep, wide)], [e.confidence for e in expected],
                               atol=1e-5)
    with pytest.raises(ValueError, match="straighten reads crops"):
        read([steep], photos=True, straighten=True)

    from twplate.cli import main

    out = tmp_path / "small_detector"  # the detector's options reach the actors: at 32 px it finds no plate
    assert main(["read", "--ray", "--straighten", "--limit-side", "32", "--json", "--out", str(out), steep]) == 0
    (row,) = [json.loads(line) for f in out.glob("*.json") for line in f.read_text().splitlines()]
    (small,) = PhotoReader(backend="onnxruntime", limit_side=32).read_crops([steep])
    assert row["text"] == small.text != "KCD-1636"


def test_crop_reader_takes_detector_options_only_to_straighten(tiny_model_dir: Path):
    pytest.importorskip("ray")
    from twplate.model_files import default_small_model_dir
    from twplate.ray import CropReader

    for option in ({"limit_side": 640}, {"small_model": str(default_small_model_dir())}):
        with pytest.raises(ValueError, match="detector, limit_side and small_model are for straighten=True"):
            CropReader(model=str(tiny_model_dir), **option)
    reader = CropReader(model=str(tiny_model_dir), straighten=True, limit_side=640)
    assert reader.read.__self__.detector.spec.preprocess.limit_side == 640
    assert reader.read.__self__.small_recognizer is reader.recognizer  # not the shipped reader: it reads small boxes
    paired = CropReader(model=str(tiny_model_dir), straighten=True, small_model=str(default_small_model_dir()))
    assert paired.read.__self__.small_recognizer.spec.name == "twplate-rec-small"


@pytest.mark.slow
def test_cli_writes_json_lines_and_reports_the_bad_images(cluster, images, tmp_path: Path, capsys):
    from twplate.cli import main

    good, bad = images
    out = tmp_path / "out"
    code = main(["read", "--ray", "--json", "--out", str(out), "--batch-size", "8", *good[:5], *bad])
    stderr = capsys.readouterr().err
    assert code == 1, stderr  # the bad images failed
    rows = [json.loads(line) for f in sorted(out.glob("*.json")) for line in f.read_text().splitlines()]
    assert sorted(r["path"] for r in rows) == sorted(good[:5] + bad)
    assert f"2 of {len(rows)} images failed" in stderr
    assert all(f"{p!r}: " in stderr for p in bad)



@pytest.mark.slow
def test_cli_reads_photos_to_parquet(cluster, photos, tmp_path: Path, capsys):
    import pyarrow.parquet as pq

    from twplate.cli import main

    out = tmp_path / "plates.parquet"
    code = main(["read", "--ray", "--photos", "--out", str(out), "--batch-size", "4", *photos.values()])
    assert code == 1, capsys.readouterr().err  # the text file failed
    rows = pq.read_table(out).to_pylist()
    assert {r["path"] for r in rows} == set(photos.values())
    assert [r["text"] for r in rows if r["path"] == photos["empty"]] == [""]
    assert all(r["box"] for r in rows if r["path"] in (photos["car"], photos["scooter"]))

def test_cli_without_ray_names_the_extra(tmp_path: Path):
    code = ("import sys; sys.modules['ray'] = None\n"
            "from twplate.cli import main\n"
            f"sys.exit(main(['read', '--ray', '--out', {str(tmp_path / 'o')!r}, {str(SAMPLES)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 2
    assert "twplate[ray]" in done.stderr


@pytest.mark.slow
def test_serve_with_two_replicas_answers_as_twplate_serve(cluster, images):
    """The same requests, sent 8 at a time to 2 Ray Serve replicas and one by one to ``twplate serve``.

    At a fixed input width a crop reads the same in any batch, so how the requests are gathered
    into batches (and on which replica) cannot change an answer.
    """
    httpx = pytest.importorskip("httpx")
    from concurrent.futures import ThreadPoolExecutor

    from ray import serve

    from serving import Server, free_port
    from twplate.ray import serve_app
    from twplate.serve import ServeConfig

    good, bad = images
    requests = [[*good[i : i + 4], *bad[i % 2 : i % 2 + 1]] for i in range(0, 24, 3)]

    def post(url: str, paths: list[str]) -> dict:
        files = [("image", (Path(p).name, Path(p).read_bytes())) for p in paths]
        response = httpx.post(f"{url}/v1/read", files=files, timeout=120)
        assert response.status_code == 200, response.text
        return response.json()

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(serve_app(ServeConfig(photo=False, input_width=72), replicas=2), name="twplate", route_prefix="/")
        status = serve.status().applications["twplate"].deployments["twplate"]
        assert status.replica_states.get("RUNNING") == 2, status
        with ThreadPoolExecutor(8) as pool:
            on_ray = list(pool.map(lambda paths: post(f"http://127.0.0.1:{port}", paths), requests))
    finally:
        serve.shutdown()
    with Server(["--no-photo", "--input-width", "72", "--threads", "1"]) as single:
        alone = [post(single.url, paths) for paths in requests]
    assert all("error" in answer["results"][-1] for answer in alone)
    for ray_answer, single_answer in zip(on_ray, alone, strict=True):
        for got, expected in zip(ray_answer["results"], single_answer["results"], strict=True):
            assert got.keys() == expected.keys()
            assert got.get("text") == expected.get("text") and got.get("error") == expected.get("error")
            if "text" in got:  # batch sizes differ: ONNX Runtime's sums may differ in the last bits
                np.testing.assert_allclose(got["confidence"], expected["confidence"], atol=1e-5)
                np.testing.assert_allclose(got["char_confidences"], expected["char_confidences"], atol=1e-5)
