"""``twplate serve``: plate reading over HTTP (FastAPI on uvicorn; ``pip install 'twplate[serve]'``).

* :mod:`.app`: :func:`create_app`, the routes and request limits (imports FastAPI);
* :mod:`.batching`: concurrent requests gathered into recognizer batches on one worker thread;
* :mod:`.metrics`: the Prometheus metrics; :mod:`.config`: :class:`ServeConfig` (no dependencies);
* :func:`run_server`: uvicorn with the service's defaults, used by the command line.

This package imports no web framework until :func:`create_app` or :func:`run_server` is used; a
missing package of the extra raises :class:`~twplate.errors.BackendUnavailableError` naming it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
from typing import TYPE_CHECKING, Any

from ..errors import BackendUnavailableError
from .config import CONFIG_ENV, ServeConfig

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["ServeConfig", "create_app", "require_serve_extra", "run_server"]

EXTRA_PACKAGES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "multipart": "python-multipart",
                  "prometheus_client": "prometheus-client"}
"""Module -> distribution of each package the ``serve`` extra installs."""


def require_serve_extra() -> None:
    """Raise :class:`BackendUnavailableError` naming the missing packages unless the ``serve`` extra is installed."""
    missing = [dist for module, dist in EXTRA_PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise BackendUnavailableError(f"twplate serve needs {', '.join(missing)}: pip install 'twplate[serve]'")


def run_server(config: ServeConfig, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
               timeout_keep_alive: float = 5, timeout_graceful_shutdown: float | None = 30,
               limit_concurrency: int | None = None, log_level: str = "info") -> int:
    """Serve :func:`create_app` on uvicorn until SIGTERM or SIGINT; returns 0 after a graceful shutdown.

    Each of the ``workers`` processes builds the app (and loads the model) from ``config``, which
    reaches them as JSON in :data:`~twplate.serve.config.CONFIG_ENV`. On SIGTERM uvicorn stops
    accepting connections, answers the requests in flight (for at most ``timeout_graceful_shutdown``
    seconds), then the app finishes its queued batches.
    """
    require_serve_extra()
    import uvicorn

    os.environ[CONFIG_ENV] = config.to_env()
    # uvicorn re-raises the signal that stopped it once it has shut down, which would end the process
    # with -SIGTERM; a graceful shutdown is a success, so the re-raised signal is ignored here.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # uvicorn annotates both timeouts as int but hands them to asyncio timers, which take seconds as floats
        uvicorn.run("twplate.serve.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                    timeout_keep_alive=timeout_keep_alive,  # type: ignore[arg-type]
                    timeout_graceful_shutdown=timeout_graceful_shutdown,  # type: ignore[arg-type]
                    limit_concurrency=limit_concurrency, log_level=log_level)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def __getattr__(name: str) -> Any:
    if name == "create_app":
        require_serve_extra()
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'twplate.serve' has no attribute {name!r}")
