"""``twplate serve`` as clients see it: a real uvicorn server in a subprocess on a loopback port.

Readings are compared with :class:`PlateRecognizer` run directly on the same bytes; every bad
request in the table ends with the status and message given there; the service survives slow,
vanishing and concurrent clients and shuts down cleanly on SIGTERM with a request in flight.
"""

from __future__ import annotations

import base64
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

import tiny_models
from conftest import REPO
from photos import PLATE_CORNERS, paste_plate, steep_crop
from serving import Server
from twplate import PlateRecognizer

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402  (after the skips)

KEY = "test-key"
TEXTS = ["ABC-1234", "外0872", "AA", "使22", "9999-AA", "臨A", "Z", "RAB-5678"]
MAX_IMAGES = 8
MAX_BODY = 1024 * 1024
SAMPLES = sorted((REPO / "samples").glob("*.jpg"))
SHIPPED = REPO / "models" / "twplate-rec" / "inference.yml"


def png(text: str) -> bytes:
    return cv2.imencode(".png", tiny_models.stripe_image(text))[1].tobytes()


def reading(result) -> dict:
    """What the service answers for a :class:`PlateResult` (JSON floats round-trip exactly)."""
    if result.error is not None:
        return {"error": str(result.error)}
    return {"text": result.text, "confidence": result.confidence, "char_confidences": list(result.char_confidences),
            "format_edits": result.format_edits}


def metric(server: Server, name: str, **labels: str) -> float:
    """The value of one sample of the server's /metrics (0 when absent)."""
    text = httpx.get(server.url + "/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.fixture(scope="module")
def tiny_server(tiny_model_dir: Path) -> Iterator[Server]:
    """Small limits so each one is easy to cross; the API key comes from the environment."""
    args = ["--model", str(tiny_model_dir), "--no-photo", "--max-images", str(MAX_IMAGES), "--max-body-mb",
            str(MAX_BODY / 2**20), "--body-timeout", "1", "--max-wait-ms", "20"]
    with Server(args, env={"TWPLATE_API_KEY": KEY}) as server:
        yield server


@pytest.fixture(scope="module")
def client(tiny_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tiny_server.url, headers={"X-API-Key": KEY}, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def tiny_reader(tiny_model_dir: Path) -> PlateRecognizer:
    return PlateRecognizer(tiny_model_dir)


def test_multipart_readings_equal_the_recognizer(client: httpx.Client, tiny_reader: PlateRecognizer) -> None:
    images = [png(t) for t in TEXTS]
    response = client.post("/v1/read", files=[("image", (f"{i}.png", data)) for i, data in enumerate(images)])
    assert response.status_code == 200
    assert response.json() == {"results": [reading(r) for r in tiny_reader(images)]}
    assert [r["text"] for r in response.json()["results"]] == TEXTS


def test_json_base64_and_data_urls_read_as_multipart(client: httpx.Client, tiny_reader: PlateRecognizer) -> None:
    images = [png(t) for t in TEXTS[:3]]
    encoded = [base64.b64encode(d).decode() for d in images]
    encoded[1] = "data:image/png;base64," + encoded[1]
    response = client.post("/v1/read", json={"images": encoded})
    assert response.status_code == 200
    assert response.json() == {"results": [reading(r) for r in tiny_reader(images)]}


def test_bad_images_get_their_own_error_and_the_others_are_read(client: httpx.Client) -> None:
    files = [("image", ("a.png", png("AB-12"))), ("image", ("notes.txt", b"not an image")),
             ("image", ("empty.png", b"")), ("image", (None, b"a text field")), ("image", ("b.png", png("CD-34")))]
    results = client.post("/v1/read", files=files).json()["results"]
    assert [r.get("text") for r in results] == ["AB-12", None, None, None, "CD-34"]
    assert results[1]["error"] == "image 1: bytes of 12 bytes: cannot decode: not an image, or truncated/corrupt"
    assert results[2]["error"] == "image 2: bytes of 0 bytes: empty data"
    assert results[3]["error"].startswith("image 3: a text field, not a file")

    good = base64.b64encode(png("EF-56")).decode()
    results = client.post("/v1/read", json={"images": ["!!not base64", 42, good, "aGVsbG8="]}).json()["results"]
    assert results[0]["error"].startswith("image 0: invalid base64")
    assert results[1]["error"] == "image 1: expected a base64 string, got int"
    assert results[2]["text"] == "EF-56"
    assert results[3]["error"].startswith("image 3: bytes of 5 bytes: cannot decode")


def _chunks(total: int) -> Iterator[bytes]:
    for _ in range(total // 65536):
        yield b"\0" * 65536


JSON = {"content-type": "application/json"}
BAD_REQUESTS = [
    # (case, httpx.post keyword arguments, status, text the detail must contain)
    ("text/plain body", {"content": b"hello", "headers": {"content-type": "text/plain"}}, 415,
     "unsupported content type 'text/plain'"),
    ("no content type", {"content": b"hello"}, 415, "unsupported content type '(none)'"),
    ("malformed JSON", {"content": b'{"images": [', "headers": JSON}, 400, "malformed JSON body: Expecting value"),
    ("JSON not UTF-8", {"content": b'{"images": ["\xff"]}', "headers": JSON}, 400, "malformed JSON body"),
    ("JSON list instead of object", {"json": ["aGk="]}, 400, "must be an object with a list 'images'"),
    ("JSON images not a list", {"json": {"images": "aGk="}}, 400, "must be an object with a list 'images'"),
    ("no images", {"json": {"images": []}}, 400, "no images in the request"),
    ("wrong multipart field", {"files": {"file": ("a.png", b"x")}}, 400, "no field named 'image' in the form"),
    ("malformed multipart", {"content": b"--x\r\nnot a part", "headers": {"content-type": "multipart/form-data"}},
     400, "Missing boundary"),
    ("too many images (JSON)", {"json": {"images": ["aGk="] * (MAX_IMAGES + 1)}}, 400,
     f"{MAX_IMAGES + 1} images in one request; at most {MAX_IMAGES}"),
    ("too many images (multipart)", {"files": [("image", ("a.png", b"x"))] * (MAX_IMAGES + 1)}, 400,
     "Too many files"),
    ("declared body too large", {"content": b"\0" * (MAX_BODY + 1), "headers": JSON}, 413,
     f"over the limit of {MAX_BODY} bytes"),
    ("chunked body too large", {"content": _chunks(MAX_BODY + 65536 * 4), "headers": JSON}, 413,
     f"over the limit of {MAX_BODY} bytes"),
    ("photo not a boolean", {"params": {"photo": "maybe"}, "json": {"images": ["aGk="]}}, 422, "bool"),
    ("photo reading turned off", {"params": {"photo": "true"}, "json": {"images": ["aGk="]}}, 501,
     "photo reading is turned off"),
    ("straighten without the detector", {"params": {"straighten": "true"}, "json": {"images": ["aGk="]}}, 501,
     "straightening crops needs the text detector"),
    ("straighten with photos", {"params": {"photo": "true", "straighten": "true"}, "json": {"images": ["aGk="]}},
     400, "straighten reads crops"),
]


@pytest.mark.parametrize(("kwargs", "status", "detail"), [c[1:] for c in BAD_REQUESTS],
                         ids=[c[0] for c in BAD_REQUESTS])
def test_bad_request(client: httpx.Client, kwargs: dict, status: int, detail: str) -> None:
    if "content" in kwargs and not isinstance(kwargs["content"], bytes):  # a generator is used up once
        kwargs = {**kwargs, "content": _chunks(MAX_BODY + 65536 * 4)}
    response = client.post("/v1/read", **kwargs)
    assert response.status_code == status
    assert detail in str(response.json()["detail"])
    assert client.post("/v1/read", files={"image": ("a.png", png("OK-1"))}).json()["results"][0]["text"] == "OK-1"


def test_api_key(tiny_server: Server) -> None:
    files = {"image": ("a.png", png("KEY-1"))}
    assert httpx.post(tiny_server.url + "/v1/read", files=files).status_code == 401
    wrong = httpx.post(tiny_server.url + "/v1/read", files=files, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
    assert httpx.post(tiny_server.url + "/v1/read", files=files, headers={"X-API-Key": KEY}).status_code == 200
    assert httpx.get(tiny_server.url + "/healthz").status_code == 200  # probes need no key


def test_healthz_metrics_openapi_and_page(tiny_server: Server) -> None:
    health = httpx.get(tiny_server.url + "/healthz").json()
    assert health["status"] == "ready" and health["model"] == "tiny" and health["photo"] is False
    assert health["straighten"] == {"available": False, "default": False}
    metrics = httpx.get(tiny_server.url + "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "twplate_batch_size_bucket" in metrics.text and "twplate_request_seconds_bucket" in metrics.text
    schema = httpx.get(tiny_server.url + "/openapi.json").json()
    body = schema["paths"]["/v1/read"]["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data", "application/json"}
    page = httpx.get(tiny_server.url + "/")
    assert page.status_code == 200 and 'id="file"' in page.text


def test_photo_mode_reads_whole_photos_with_the_services_recognizer() -> None:
    """``twplate serve`` with photo reading on: each photo's plates with their boxes, a bad photo's error,
    an empty list for a photo without a plate. The plates are what :class:`PhotoReader` finds with a
    recognizer at the service's ``--input-width``, and crops are read at that width too."""
    from twplate.photo import PhotoReader

    car = cv2.imencode(".jpg", paste_plate("00_car2014.jpg", PLATE_CORNERS))[1].tobytes()
    empty = cv2.imencode(".png", np.full((240, 320, 3), 128, np.uint8))[1].tobytes()
    crop = SAMPLES[0].read_bytes()
    files = [("image", ("car.jpg", car)), ("image", ("bad.png", b"nope")), ("image", ("empty.png", empty))]
    with Server(["--backend", "onnxruntime", "--input-width", "72"]) as server:
        health = httpx.get(server.url + "/healthz").json()
        assert health["photo"] is True and health["small_model"] == "twplate-rec-small"  # beside the shipped model
        results = httpx.post(server.url + "/v1/read", params={"photo": "true"}, files=files,
                             timeout=120).json()["results"]
        (crop_reading,) = httpx.post(server.url + "/v1/read", files={"image": ("crop.jpg", crop)},
                                     timeout=60).json()["results"]
    narrow = PlateRecognizer(backend="onnxruntime", input_width=72)
    (expected,) = PhotoReader(recognizer=narrow, backend="onnxruntime")(car)
    (by_aspect,) = PhotoReader(backend="onnxruntime")(car)
    assert expected.confidence != pytest.approx(by_aspect.confidence, abs=1e-3)  # the width shows in the reading
    (plate,) = results[0]["plates"]
    assert plate["text"] == expected.text == "KCD-1636"
    assert np.allclose(plate["box"], expected.box, atol=1e-3)
    assert plate["detection_score"] == pytest.approx(expected.detection_score, abs=1e-5)
    assert plate["confidence"] == pytest.approx(expected.confidence, abs=1e-6)
    assert plate["char_confidences"] == pytest.approx(expected.char_confidences, abs=1e-6)
    assert results[1] == {"error": "image 1: bytes of 4 bytes: cannot decode: not an image, or truncated/corrupt"}
    assert results[2] == {"plates": []}
    expected_crop = narrow(crop)
    assert expected_crop.confidence != pytest.approx(PlateRecognizer(backend="onnxruntime")(crop).confidence, abs=1e-3)
    assert crop_reading["text"] == expected_crop.text
    assert crop_reading["confidence"] == pytest.approx(expected_crop.confidence, abs=1e-6)
    assert crop_reading["char_confidences"] == pytest.approx(expected_crop.char_confidences, abs=1e-6)


def test_straighten_reads_narrow_crops_as_read_crops_does() -> None:
    """``twplate serve --straighten``: a crop of a plate hanging steeply in its box is read upright, as
    :meth:`PhotoReader.read_crops` reads it, with ``--no-photo`` too (photos still answer 501); a request
    with ``?straighten=false`` reads its crops as plain crops."""
    from twplate.photo import PhotoReader

    steep = cv2.imencode(".png", steep_crop("00_car2014.jpg", 50))[1].tobytes()
    crop = SAMPLES[0].read_bytes()
    files = [("image", ("steep.png", steep)), ("image", ("crop.jpg", crop))]
    with Server(["--backend", "onnxruntime", "--straighten", "--no-photo"]) as server:
        assert httpx.get(server.url + "/healthz").json()["straighten"] == {"available": True, "default": True}
        results = httpx.post(server.url + "/v1/read", files=files, timeout=120).json()["results"]
        plain = httpx.post(server.url + "/v1/read", params={"straighten": "false"}, files=files,
                           timeout=60).json()["results"]
        photos = httpx.post(server.url + "/v1/read", params={"photo": "true"}, files=files[:1], timeout=60)
    expected = PhotoReader(backend="onnxruntime").read_crops([steep, crop])
    assert [r["text"] for r in results] == [e.text for e in expected] == ["KCD-1636", "KCD-1636"]
    assert [r["confidence"] for r in results] == pytest.approx([e.confidence for e in expected], abs=1e-6)
    as_crops = PlateRecognizer(backend="onnxruntime")([steep, crop])
    assert as_crops[0].text != "KCD-1636"  # read as a plain crop
    assert [r["text"] for r in plain] == [r.text for r in as_crops]
    assert [r["confidence"] for r in plain] == pytest.approx([r.confidence for r in as_crops], abs=1e-6)
    assert photos.status_code == 501


def test_each_request_chooses_straighten_and_shared_batches_keep_the_choice() -> None:
    """A service with photo reading (not ``--straighten``) straightens the crops of the requests that ask
    (``?straighten=true``); concurrent requests asking both ways, gathered into shared batches, each get
    their own kind of reading. ``straighten`` with ``photo=true`` is refused by name."""
    steep = cv2.imencode(".png", steep_crop("00_car2014.jpg", 50))[1].tobytes()
    plain_text = PlateRecognizer(backend="onnxruntime")(steep).text
    assert plain_text != "KCD-1636"
    with Server(["--backend", "onnxruntime", "--max-wait-ms", "50"]) as server:
        assert httpx.get(server.url + "/healthz").json()["straighten"] == {"available": True, "default": False}
        calls_before = metric(server, "twplate_batch_size_count", mode="crop")

        def one_request(k: int) -> str:
            params = {"straighten": "true"} if k % 2 else {}
            response = httpx.post(server.url + "/v1/read", params=params, files={"image": ("s.png", steep)},
                                  timeout=120)
            return response.json()["results"][0]["text"]

        with ThreadPoolExecutor(12) as pool:
            texts = list(pool.map(one_request, range(12)))
        calls = metric(server, "twplate_batch_size_count", mode="crop") - calls_before
        refused = httpx.post(server.url + "/v1/read", params={"photo": "true", "straighten": "true"},
                             files={"image": ("s.png", steep)}, timeout=60)
    assert texts == [plain_text, "KCD-1636"] * 6
    assert calls < 12  # requests were gathered into shared batches
    assert refused.status_code == 400 and "straighten reads crops" in refused.json()["detail"]


@pytest.mark.parametrize(("values", "message"), [
    ({"straighten": 1}, "straighten must be true or false, not 1"),
    ({"photo": "no"}, "photo must be true or false, not 'no'"),
    ({"plate_formats": 0}, "plate_formats must be true or false, not 0"),
    ({"batch_size": 0}, "batch_size must be >= 1, not 0"),
])
def test_config_refuses_values_of_the_wrong_kind(values: dict, message: str) -> None:
    """A config value of the wrong kind (``serve run twplate.ray:build_app straighten=1`` reads 1 as YAML) is
    refused by name, before any model loads."""
    from twplate.serve import ServeConfig

    with pytest.raises(ValueError, match=message):
        ServeConfig(**values)


def test_crops_and_photos_share_one_recognizer_with_the_services_options(tiny_model_dir: Path) -> None:
    """The service loads its plate reader once: the photo reader reads with the crop batcher's recognizer,
    which has the service's input width. Its ONNX Runtime sessions (``auto`` picks onnxruntime here) let
    their threads sleep between batches, where a library recognizer's spin (ORT's default)."""
    from twplate.serve import ServeConfig, create_app

    service = create_app(ServeConfig(model=str(tiny_model_dir), backend="auto", input_width=72)).state.service
    try:
        assert service.crops.wait_ready(120) and service.photos.wait_ready(120), service.status()
        assert service.photo_reader.recognizer is service.recognizer
        assert service.recognizer.spec.preprocess.max_width == 72
        assert service.status()["status"] == "ready"
        for backend in (service.recognizer.backend, service.photo_reader.detector.backend):
            assert backend.name == "onnxruntime"
            options = backend._session.get_session_options()
            assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    finally:
        service.close()


def test_openvino_options_reach_the_recognizer_and_status(tiny_model_dir: Path) -> None:
    """``precision`` and ``streams`` load the service's recognizer and its photo detector on OpenVINO;
    ``/health``'s status names the precision each really runs in."""
    pytest.importorskip("openvino")
    from twplate.serve import ServeConfig, create_app

    config = ServeConfig(model=str(tiny_model_dir), backend="openvino", threads=2, precision="fp32", streams=2)
    assert config.backend_options() == {"precision": "fp32", "streams": 2}
    service = create_app(config).state.service
    try:
        assert service.crops.wait_ready(120) and service.photos.wait_ready(120), service.status()
        assert service.recognizer.backend.streams == 2 and service.photo_reader.detector.backend.streams == 2
        status = service.status()
        assert status["providers"] == status["detector_providers"] == status["small_model_providers"] == ["CPU", "fp32"]
        assert status["small_model"] == "tiny"  # a model of one's own reads its small boxes itself
    finally:
        service.close()


@pytest.mark.parametrize(("backend", "option", "message"), [
    ("onnxruntime", ["--streams", "2"], "backend 'onnxruntime' has no option 'streams'"),
    ("openvino", ["--precision", "fp8"], "openvino precision must be one of ('fp32', 'bf16', 'int8'), not 'fp8'"),
    ("openvino", ["--precision", "int8"], "precision='int8' needs an int8 model"),  # known once the model loads
])
def test_serve_refuses_an_option_its_backend_cannot_take(tiny_model_dir: Path, backend: str, option: list[str],
                                                         message: str) -> None:
    """Checked before any worker starts: exit 2, naming the option or the value."""
    pytest.importorskip(backend)
    if option == ["--precision", "int8"]:
        from twplate.backends.openvino import INT8_FLAGS, cpu_capabilities

        if not INT8_FLAGS & cpu_capabilities(pytest.importorskip("openvino").Core()):
            pytest.skip("this CPU has no int8 units: the precision is refused before the model is read")
    done = subprocess.run([sys.executable, "-m", "twplate", "serve", "--model", str(tiny_model_dir),
                           "--backend", backend, *option], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr


def _raw_request(server: Server, body: bytes, declared: int) -> socket.socket:
    """A connection that has sent the headers of a POST /v1/read and ``body`` (of ``declared`` bytes)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = (f"POST /v1/read HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\nConnection: close\r\n\r\n")
    sock.sendall(head.encode() + body)
    return sock


def _response(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_slow_client_gets_408_and_others_are_served(tiny_server: Server, client: httpx.Client) -> None:
    with _raw_request(tiny_server, b'{"images": [', declared=1000) as sock:
        assert client.post("/v1/read", files={"image": ("a.png", png("FAST-1"))}).json()["results"][0]["text"] \
            == "FAST-1"
        answer = _response(sock)  # the body stalls: body-timeout is 1 s
    assert answer.startswith(b"HTTP/1.1 408 ") and b"stalled for over 1 s" in answer


def test_client_vanishing_mid_upload_is_counted_and_harmless(tiny_server: Server, client: httpx.Client) -> None:
    before = metric(tiny_server, "twplate_requests_total", route="/v1/read", status="499")
    _raw_request(tiny_server, b'{"images": ["aGk', declared=5000).close()
    deadline = time.monotonic() + 30
    while metric(tiny_server, "twplate_requests_total", route="/v1/read", status="499") == before:
        assert time.monotonic() < deadline, "the disconnect was not noticed"
        time.sleep(0.05)
    assert client.post("/v1/read", files={"image": ("a.png", png("AFTER-1"))}).json()["results"][0]["text"] \
        == "AFTER-1"


def test_concurrent_clients_get_their_own_answers_in_shared_batches(tiny_server: Server) -> None:
    calls_before = metric(tiny_server, "twplate_batch_size_count", mode="crop")
    singles_before = metric(tiny_server, "twplate_batch_size_bucket", mode="crop", le="1.0")

    def one_client(k: int) -> list[str]:
        texts = [f"{chr(65 + k % 26)}{chr(65 + k // 26)}-{k:04d}" for k in range(k * 4, k * 4 + 4)]
        with httpx.Client(base_url=tiny_server.url, headers={"X-API-Key": KEY}, timeout=60) as c:
            got = [c.post("/v1/read", files={"image": ("p.png", png(t))}).json()["results"][0]["text"] for t in texts]
        return [g == t for g, t in zip(got, texts, strict=True)]

    with ThreadPoolExecutor(32) as pool:
        outcomes = [ok for oks in pool.map(one_client, range(32)) for ok in oks]
    assert all(outcomes) and len(outcomes) == 128
    calls = metric(tiny_server, "twplate_batch_size_count", mode="crop") - calls_before
    singles = metric(tiny_server, "twplate_batch_size_bucket", mode="crop", le="1.0") - singles_before
    assert calls < 128 and singles < calls  # requests were gathered: some model calls held several images


def test_sigterm_answers_the_request_in_flight_refuses_new_ones_and_exits_0(tiny_model_dir: Path) -> None:
    body = b'{"images": ["' + base64.b64encode(png("LAST-1")) + b'"]}'
    server = Server(["--model", str(tiny_model_dir), "--no-photo"])
    try:
        sock = _raw_request(server, body[:10], declared=len(body))
        time.sleep(0.5)  # let the server take the request in before the signal
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while True:  # the listening socket closes: new connections are refused
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
            except ConnectionRefusedError:
                break
            assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
            time.sleep(0.05)
        sock.sendall(body[10:])
        answer = _response(sock)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 200 ") and b'"text":"LAST-1"' in answer
        assert server.process.wait(60) == 0, server.log()
    finally:
        server.__exit__()


@pytest.mark.slow
def test_two_workers_read_and_stop_on_sigterm(tiny_model_dir: Path) -> None:
    server = Server(["--model", str(tiny_model_dir), "--no-photo", "--workers", "2"])
    try:
        for text in TEXTS:
            got = httpx.post(server.url + "/v1/read", files={"image": ("a.png", png(text))}).json()["results"][0]
            assert got["text"] == text
    finally:
        server.__exit__()
    assert server.process.returncode == 0, server.log()


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped model not exported")
def test_shipped_model_answers_equal_the_recognizer_and_healthz_answers_while_busy() -> None:
    images = [p.read_bytes() for p in SAMPLES]
    expected = [reading(r) for r in PlateRecognizer(backend="onnxruntime")(images)]
    with Server(["--backend", "onnxruntime", "--no-photo"]) as server:
        response = httpx.post(server.url + "/v1/read", files=[("image", (p.name, d)) for p, d in
                                                               zip(SAMPLES, images, strict=True)], timeout=60)
        got = response.json()["results"]
        assert [g["text"] for g in got] == [e["text"] for e in expected]
        for g, e in zip(got, expected, strict=True):
            assert g["confidence"] == pytest.approx(e["confidence"], abs=1e-6)
            assert g["char_confidences"] == pytest.approx(e["char_confidences"], abs=1e-6)

        answered_while_busy = []

        def read_many() -> list[int]:
            files = [("image", (p.name, d)) for p, d in zip(SAMPLES, images, strict=True)] * 7  # 63 crops
            return [httpx.post(server.url + "/v1/read", files=files, timeout=120).status_code for _ in range(2)]

        with ThreadPoolExecutor(1) as pool:
            reads = pool.submit(read_many)
            while not reads.done():  # a failing server ends the loop too: the requests return or raise
                status = httpx.get(server.url + "/healthz", timeout=30).status_code
                if not reads.done():
                    answered_while_busy.append(status)
            assert reads.result() == [200, 200]
        assert answered_while_busy and set(answered_while_busy) == {200}


def test_missing_extra_names_it_and_exits_2() -> None:
    code = ("import sys; sys.modules['fastapi'] = None\n"
            "from twplate.cli import main\n"
            "sys.exit(main(['serve']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2
    assert "needs fastapi: pip install 'twplate[serve]'" in done.stderr


def test_bad_model_exits_2_before_serving(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "twplate", "serve", "--model", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2 and str(tmp_path / "none") in done.stderr
