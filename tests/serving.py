"""Real servers for the service tests: ``twplate serve`` in a subprocess, or an app built in the test on uvicorn."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from twplate import PlateRecognizer, PlateResult
from twplate.image import load_image

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m twplate serve --port <free> ARGS...``, its output in a log file, ready when ``/healthz`` says so."""

    def __init__(self, args: Sequence[str] = (), env: dict[str, str] | None = None, ready_timeout: float = 120) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # closed in __exit__: the server writes to it for as long as it runs
        self._log = tempfile.NamedTemporaryFile("w+", prefix="twplate-serve-", suffix=".log", delete=False)  # noqa: SIM115
        command = [sys.executable, "-m", "twplate", "serve", "--port", str(self.port), "--log-level", "warning", *args]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO,
                                        env={**os.environ, **(env or {})})
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"twplate serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"twplate serve not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send ``sig`` and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()
        os.unlink(self._log.name)


class AppServer:
    """An app built in the test, on a real uvicorn server in a thread of this process, on a free loopback port."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        app.state.service.crops.wait_ready(60)

    def __enter__(self) -> AppServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(60)


@dataclass(frozen=True)
class BoxedResult(PlateResult):
    """A plate found in a photo: a result with the plate's corners, as photo readers return them."""

    box: tuple[tuple[float, float], ...] | None = None


def whole_photo_reader(recognizer: PlateRecognizer):
    """A photo reader whose detector finds one plate, the whole photo (``twplate.photo`` comes with issue 11).

    A photo whose reading is empty has no plate; a bad photo's entry is its error result.
    """

    def read(photos: list[bytes]) -> list[list[PlateResult]]:
        entries = []
        for photo, result in zip(photos, recognizer.run_many(photos), strict=True):
            if result.error is not None or not result.text:
                entries.append([result] if result.error is not None else [])
                continue
            h, w = load_image(photo).shape[:2]
            entries.append([BoxedResult(result.text, result.confidence, result.char_confidences,
                                        box=((0.0, 0.0), (w, 0.0), (w, h), (0.0, h)))])
        return entries

    return read
