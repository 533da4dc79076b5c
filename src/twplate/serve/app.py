"""The HTTP service: routes, request parsing and limits; the model runs in :mod:`.batching`.

A request to ``POST /v1/read`` flows top to bottom: the API key (if one is set) -> body size and
pace limits (:class:`BodyLimits`, as the bytes arrive) -> the images, from multipart fields
``image`` or a JSON list of base64 strings (a bad base64 string becomes that image's error) ->
the batcher, which reads them together with other requests' images on its worker thread -> one
JSON entry per image, in order: the reading, or ``error`` naming why that image was not read.

:func:`create_app` is the one factory (``twplate serve``, tests and Ray Serve deployments call it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import importlib.resources
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import fields
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from .. import __version__
from ..backends import resolve_backend_name
from ..errors import ImageError
from ..model_files import load_model_spec
from ..recognizer import PlateRecognizer
from ..result import PlateResult
from .batching import MicroBatcher, NotReadyError
from .config import API_KEY_HEADER, ServeConfig
from .metrics import ServeMetrics

if TYPE_CHECKING:
    from ..photo import PhotoReader

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ROUTES = ("/", "/v1/read", "/healthz", "/metrics", "/docs", "/openapi.json")
"""Routes counted by name in the metrics; any other path is counted as ``other``."""

READ_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["image"],
                       "properties": {"image": {"type": "array", "items": {"type": "string", "format": "binary"}}}},
        },
        "application/json": {
            "schema": {"type": "object", "required": ["images"],
                       "properties": {"images": {"type": "array", "items": {"type": "string", "format": "byte"},
                                                 "description": "base64 images (a data: URL prefix is allowed)"}}},
        },
    },
}

STRAIGHTEN_HELP = ("crops only: also read a narrow crop (a plate hanging steeply in its box) through the text "
                   "detector, which cuts the plate out upright (PhotoReader.read_crops); default: the service's "
                   "--straighten")


def create_app(config: ServeConfig | None = None) -> FastAPI:
    """The service as a FastAPI app; its models start loading at once, on the batchers' worker threads.

    Args:
        config: model options, batching and limits (defaults: the shipped model, ``ServeConfig()``).
    """
    config = config or ServeConfig()
    metrics = ServeMetrics()
    service = _Service(config, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(service.close)  # in-flight requests have been answered by now

    app = FastAPI(title="twplate", version=__version__, lifespan=lifespan,
                  description="Read Taiwan licence plates: POST images to /v1/read.")
    app.state.service = service
    app.add_middleware(BodyLimits, max_bytes=config.max_body_bytes, timeout_s=config.body_timeout_s)
    app.add_middleware(Instrument, metrics=metrics)
    page = importlib.resources.files(__package__).joinpath("static/index.html").read_text(encoding="utf-8")
    check_key = _api_key_check(config.api_key)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/healthz", summary="Ready when the model is loaded (200), else 503")
    async def healthz() -> JSONResponse:
        status = service.status()
        return JSONResponse(status, status_code=200 if status["status"] == "ready" else 503)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/read", summary="Read plates from crops, or from whole photos with ?photo=true",
              dependencies=[Depends(check_key)], openapi_extra={"requestBody": READ_BODY})
    async def read(request: Request, photo: bool = False,
                   straighten: bool | None = Query(None, description=STRAIGHTEN_HELP)) -> Response:
        if photo and straighten:
            raise HTTPException(400, "straighten reads crops; with photo=true the detector already cuts each plate "
                                     "out upright")
        mode = "photo" if photo else "crop"
        batcher = service.batcher(mode)
        straighten_crops = not photo and (config.straighten if straighten is None else straighten)
        if straighten_crops:
            service.require_straightening()
        try:
            images = await _request_images(request, config.max_images)
        except ClientDisconnect:  # nobody is left to answer; the batcher never saw these images
            return Response(status_code=499)
        good = {i: image for i, image in enumerate(images) if not isinstance(image, ImageError)}
        items = list(good.values()) if photo else [CropRequest(image, straighten_crops) for image in good.values()]
        try:
            outputs = await batcher.submit(items)
        except NotReadyError as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc
        except Exception as exc:
            raise HTTPException(500, f"reading failed: {type(exc).__name__}: {exc}") from exc
        entries: list[Any] = list(images)
        for i, output in zip(good, outputs, strict=True):
            entries[i] = output
        results = [_entry_json(entry, mode, i) for i, entry in enumerate(entries)]
        bad = sum("error" in r for r in results)
        metrics.images.labels(mode, "ok").inc(len(results) - bad)
        if bad:
            metrics.images.labels(mode, "error").inc(bad)
            metrics.errors.labels("image").inc(bad)
        return JSONResponse({"results": results})

    return app


def create_app_from_env() -> FastAPI:
    """:func:`create_app` with the config in ``TWPLATE_SERVE_CONFIG`` (uvicorn's factory for ``--workers``)."""
    return create_app(ServeConfig.from_env())


def load_photo_reader(config: ServeConfig, recognizer: PlateRecognizer) -> PhotoReader:
    """The photo reader behind ``?photo=true``: a :class:`~twplate.photo.PhotoReader` around the service's
    ``recognizer`` (the one that reads crops), with the shipped detector on the service's backend, threads,
    precision and streams.

    Its ``run_many``, called with a list of encoded photos, returns one entry per photo: a list of
    :class:`PlateResult` (each with its ``box``), or a list of one result carrying the photo's error.
    Every field of those results goes into the answer (:func:`_plate_json`).
    """
    from ..photo import PhotoReader

    backend = recognizer.backend.name
    return PhotoReader(recognizer=recognizer, backend=backend, threads=config.threads, **config.backend_options(),
                       **idle_options(backend))


def idle_options(backend: str) -> dict[str, Any]:
    """Backend options for a model that waits between batches while the event loop works: ONNX Runtime's
    threads sleep instead of spinning, so they leave the CPU to the parsing of the next requests."""
    return {"spinning": False} if backend == "onnxruntime" else {}


class CropRequest(NamedTuple):
    """One crop of a request, as the crop batcher takes it: the encoded image, and whether a narrow one is
    also read upright through the detector (the request's ``straighten``)."""

    image: bytes
    straighten: bool


class _Service:
    """The models behind the routes: one plate reader, loaded once, shared by the batcher for crops and
    the one for photos (when available), which adds a text detector to it. Crops a request asks to
    straighten are read by the photo reader (:meth:`~twplate.photo.PhotoReader.read_crops`)."""

    def __init__(self, config: ServeConfig, metrics: ServeMetrics) -> None:
        self.config = config
        self.recognizer: PlateRecognizer | None = None
        self.photo_reader: PhotoReader | None = None
        self._loading_recognizer = threading.Lock()
        self._loading_photo_reader = threading.Lock()
        wait = config.max_wait_ms / 1000.0

        def load_crop_reader() -> Callable[[list[CropRequest]], list[PlateResult]]:
            self.load_recognizer()
            if config.straighten:  # the default for crops: ready only with the detector
                self.shared_photo_reader()
            return self.read_crops

        def load_photos() -> Callable[[list[bytes]], list[list[PlateResult]]]:
            return self.shared_photo_reader().run_many

        self.crops = MicroBatcher(load_crop_reader, config.batch_size, wait, "twplate-crops",
                                  lambda n, s: metrics.observe_batch("crop", n, s))
        self.photo_unavailable: str | None = None
        self.photos: MicroBatcher | None = None
        if not config.photo:
            self.photo_unavailable = "photo reading is turned off in this service (--no-photo)"
        else:
            self.photos = MicroBatcher(load_photos, config.batch_size, wait, "twplate-photos",
                                       lambda n, s: metrics.observe_batch("photo", n, s))

    @property
    def can_straighten(self) -> bool:
        """The service loads the detector (for photos, or to straighten crops by default)."""
        return self.config.photo or self.config.straighten

    def read_crops(self, crops: list[CropRequest]) -> list[PlateResult]:
        """One gathered batch of crops, in order: those to straighten through the photo reader, the others
        through the plate reader alone. A crop reads the same in any batch, so the split changes no reading."""
        results: list[PlateResult | None] = [None] * len(crops)
        for straighten in (False, True):
            chosen = [i for i, crop in enumerate(crops) if crop.straighten is straighten]
            if not chosen:
                continue
            images = [crops[i].image for i in chosen]
            if straighten:
                assert self.photo_reader is not None  # require_straightening let the request in
                readings = self.photo_reader.read_crops(images)
            else:
                readings = self.load_recognizer().run_many(images)
            for i, reading in zip(chosen, readings, strict=True):
                results[i] = reading
        return cast("list[PlateResult]", results)

    def require_straightening(self) -> None:
        """Let a request straighten its crops only when the photo reader is loaded.

        Raises:
            HTTPException: 501 when this service does not load the detector; 503 while it loads or if it failed.
        """
        if not self.can_straighten:
            raise HTTPException(501, "straightening crops needs the text detector, which this service does not "
                                     "load (--no-photo without --straighten)")
        if self.photo_reader is None:
            batcher = self.crops if self.config.straighten else self.photos
            assert batcher is not None
            raise HTTPException(503, f"straightening crops: {batcher.state_text()}", headers={"Retry-After": "1"})

    def load_recognizer(self) -> PlateRecognizer:
        """The service's plate reader, with every model option of its config: the first batcher worker
        to ask loads it, the other waits for it and shares it (a recognizer is safe to share between threads)."""
        config = self.config
        with self._loading_recognizer:
            if self.recognizer is None:
                backend = resolve_backend_name(config.backend, load_model_spec(config.model))
                self.recognizer = PlateRecognizer(
                    config.model, backend=backend, batch_size=config.batch_size, threads=config.threads,
                    plate_formats=config.plate_formats, input_width=config.input_width,
                    **config.backend_options(), **idle_options(backend))
            return self.recognizer

    def shared_photo_reader(self) -> PhotoReader:
        """The service's photo reader around its plate reader: loaded by the first batcher worker to ask,
        shared with the other."""
        recognizer = self.load_recognizer()
        with self._loading_photo_reader:
            if self.photo_reader is None:
                self.photo_reader = load_photo_reader(self.config, recognizer)
            return self.photo_reader

    def batcher(self, mode: str) -> MicroBatcher:
        if mode == "crop":
            return self.crops
        if self.photos is None:
            raise HTTPException(501, self.photo_unavailable)
        return self.photos

    def status(self) -> dict[str, Any]:
        """``ready`` when every model has loaded; ``loading``; or ``failed`` with the error."""
        batchers = [b for b in (self.crops, self.photos) if b is not None]
        failed = [b.load_error for b in batchers if b.load_error is not None]
        state = "failed" if failed else "loading" if any(b.loading for b in batchers) else "ready"
        status: dict[str, Any] = {"status": state, "version": __version__, "photo": self.photos is not None,
                                  "straighten": {"available": self.can_straighten, "default": self.config.straighten}}
        if failed:
            status["error"] = "; ".join(f"{type(e).__name__}: {e}" for e in failed)
        if self.recognizer is not None:
            spec = self.recognizer.spec
            status.update(model=spec.name, model_version=spec.version, backend=self.recognizer.backend.name,
                          providers=self.recognizer.backend.providers, batch_size=self.recognizer.batch_size)
        if self.photo_reader is not None:
            small = self.photo_reader.small_recognizer
            status.update(detector_providers=self.photo_reader.detector.backend.providers,
                          small_model=small.spec.name, small_model_version=small.spec.version,
                          small_model_providers=small.backend.providers)
        return status

    def close(self) -> None:
        for batcher in (self.crops, self.photos):
            if batcher is not None:
                batcher.close()


def _api_key_check(api_key: str | None) -> Callable[..., Awaitable[None]]:
    """A dependency that lets a request through only with the right ``X-API-Key`` (when a key is set)."""
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                          description="needed when the service was started with --api-key")

    async def check(given: str | None = Depends(header)) -> None:
        if api_key is not None and not (given and hmac.compare_digest(given.encode(), api_key.encode())):
            raise HTTPException(401, f"missing or wrong API key (header {API_KEY_HEADER})",
                                headers={"WWW-Authenticate": API_KEY_HEADER})

    return check


async def _request_images(request: Request, max_images: int) -> list[bytes | ImageError]:
    """The request's images in order: encoded bytes, or the error that names why one is unusable.

    Raises:
        HTTPException: 415 for a content type other than multipart or JSON; 400 for a malformed
            body, no images, or more than ``max_images``.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        images = await _multipart_images(request, max_images)
    elif media_type == "application/json":
        images = _json_images(await request.body())
    else:
        raise HTTPException(415, f"unsupported content type {media_type or '(none)'!r}: send multipart/form-data "
                                 "with file fields 'image', or application/json {\"images\": [base64, ...]}")
    if not images:
        raise HTTPException(400, "no images in the request: send multipart file fields 'image', "
                                 "or application/json {\"images\": [base64, ...]}")
    if len(images) > max_images:
        raise HTTPException(400, f"{len(images)} images in one request; at most {max_images} are allowed")
    return images


async def _multipart_images(request: Request, max_images: int) -> list[bytes | ImageError]:
    async with request.form(max_files=max_images, max_fields=max_images + 100) as form:
        values = form.getlist("image")
        if not values and form:
            raise HTTPException(400, f"no field named 'image' in the form (fields: {sorted(set(form.keys()))})")
        images: list[bytes | ImageError] = []
        for i, value in enumerate(values):
            if isinstance(value, UploadFile):
                images.append(await value.read())
            else:
                images.append(ImageError(f"image {i}: a text field, not a file (use curl -F image=@FILE)"))
    return images


def _json_images(body: bytes) -> list[bytes | ImageError]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(400, f"malformed JSON body: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise HTTPException(400, "the JSON body must be an object with a list 'images' of base64 strings")
    return [_base64_image(i, item) for i, item in enumerate(document["images"])]


def _base64_image(index: int, item: object) -> bytes | ImageError:
    """Decoded bytes of one JSON image (an optional ``data:...;base64,`` prefix is dropped)."""
    if not isinstance(item, str):
        return ImageError(f"image {index}: expected a base64 string, got {type(item).__name__}")
    if item.startswith("data:"):
        item = item.partition(",")[2]
    try:
        return base64.b64decode(item, validate=True)
    except (binascii.Error, ValueError) as exc:
        return ImageError(f"image {index}: invalid base64 ({exc})")


def _entry_json(entry: Any, mode: str, index: int) -> dict[str, Any]:
    """One image's answer: its reading (crop), its plates (photo), or ``error``."""
    if isinstance(entry, BaseException):
        return {"error": _image_error_text(entry, index)}
    if mode == "crop":
        return {"error": _image_error_text(entry.error, index)} if entry.error else _plate_json(entry)
    plates = [entry] if isinstance(entry, PlateResult) else list(entry)
    errors = [p.error for p in plates if p.error is not None]
    if errors:
        return {"error": _image_error_text(errors[0], index)}
    return {"plates": [_plate_json(p) for p in plates]}


def _image_error_text(error: BaseException, index: int) -> str:
    text = str(error)
    return text if text.startswith(f"image {index}:") else f"image {index}: {text}"


def _plate_json(result: PlateResult) -> dict[str, Any]:
    """Every field of a result but ``error`` and ``source`` (``None`` left out), as JSON values."""
    return {f.name: _jsonable(getattr(result, f.name)) for f in fields(result)
            if f.name not in ("error", "source") and getattr(result, f.name) is not None}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


class BodyLimited(HTTPException):
    """A request body that grew past the limit (413) or stalled (408) while it arrived."""


class BodyLimits:
    """ASGI middleware: refuse bodies over ``max_bytes`` and bodies that pause for over ``timeout_s``.

    A declared ``Content-Length`` over the limit is refused before a byte is read; a chunked body is
    counted as it arrives, so the limit holds without trusting the header.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], max_bytes: int,
                 timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"detail": self._too_large(int(declared))}, status_code=413,
                                    headers={"Connection": "close"})
            return await response(scope, receive, send)
        received, complete = 0, False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except asyncio.TimeoutError:
                raise BodyLimited(408, f"the request body stalled for over {self.timeout_s:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyLimited(413, self._too_large(received))
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)

    def _too_large(self, size: int) -> str:
        return f"request body of {size} bytes or more is over the limit of {self.max_bytes} bytes"


class Instrument:
    """ASGI middleware: count every request by route and status, time it, and track requests in flight."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], metrics: ServeMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = scope["path"] if scope["path"] in ROUTES else "other"
        status = 500  # what the server sends if the app raises before starting a response
        start = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
            if status >= 400:
                self.metrics.errors.labels(str(status)).inc()
