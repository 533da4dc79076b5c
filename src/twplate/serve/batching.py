"""Request micro-batching: concurrent requests gathered into one model call on one worker thread.

Each request hands its images to :meth:`MicroBatcher.submit` and awaits its results. A worker thread
takes the first waiting request, then keeps taking requests until it holds ``max_batch`` images, or
no new request has come for ``max_wait`` seconds, or it has gathered for :data:`MAX_GATHER_WAITS`
times ``max_wait``; it runs the model once on all of them and hands each request back its own slice
of the results. So 32 clients sending one crop each cost one 32-image recognizer call, not 32
one-image calls, while a lone client waits ``max_wait`` once.

The wait restarts with each request because requests reach the batcher one after another, as fast
as the event loop parses them: 32 requests sent at once arrive over several milliseconds (more on a
busy machine), so a single wait counted from the first request split them into batches of 10 to 20.

The model runs only on that thread (the event loop keeps answering ``/healthz`` while it works),
and it is built there too (``load``), so readiness is simply "the worker has loaded its model".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Output = TypeVar("Output")

log = logging.getLogger("twplate.serve")

MAX_GATHER_WAITS = 10
"""A batch gathers for at most this many ``max_wait`` in all, however steadily requests keep coming."""


class NotReadyError(RuntimeError):
    """The model is still loading, failed to load, or the batcher is closed."""


@dataclass
class _Job:
    items: Sequence[Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future = field(repr=False)


_STOP = object()


class MicroBatcher(Generic[Item, Output]):
    """One worker thread that builds a model with ``load`` and runs it on gathered batches.

    Args:
        load: called once on the worker thread; returns the batch function, which maps a list of
            items to a list of outputs of the same length and order (e.g. ``recognizer.run_many``).
        max_batch: the worker stops gathering once it holds this many items (a single request
            with more is run whole; the model chunks it).
        max_wait: seconds the worker waits for another request before running what it holds.
        name: the worker thread's name (and the log's).
        observe: called on the worker thread after each batch with its item count and seconds.
    """

    def __init__(self, load: Callable[[], Callable[[list[Item]], list[Output]]], max_batch: int, max_wait: float,
                 name: str = "twplate-batch", observe: Callable[[int, float], None] | None = None) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, not {max_batch}")
        if max_wait < 0:
            raise ValueError(f"max_wait must be >= 0, not {max_wait}")
        self.max_batch, self.max_wait, self.name = max_batch, max_wait, name
        self._load, self._observe = load, observe
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._closed = False
        self._closing = threading.Lock()  # no job is queued behind the stop marker
        self.load_error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    @property
    def ready(self) -> bool:
        """True once the model is loaded and until the batcher is closed."""
        return self._ready.is_set() and self.load_error is None and not self._closed

    @property
    def loading(self) -> bool:
        return not self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the model has loaded (or failed to); True when it is ready."""
        self._ready.wait(timeout)
        return self.ready

    async def submit(self, items: Sequence[Item]) -> list[Output]:
        """The model's outputs for ``items``, in order, computed in a batch with other requests' items.

        Raises:
            NotReadyError: the model is not loaded (yet, or ever), or the batcher is closed.
            Exception: whatever the batch function raised for the batch these items were in.
        """
        if not items:
            return []
        loop = asyncio.get_running_loop()
        job = _Job(items, loop, loop.create_future())
        with self._closing:
            if not self.ready:
                raise NotReadyError(self.state_text())
            self._queue.put(job)
        return await job.future

    def close(self, timeout: float | None = None) -> None:
        """Refuse new work, finish the requests already queued, and stop the worker thread."""
        with self._closing:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)

    def state_text(self) -> str:
        """Why the batcher takes no work: shutting down, failed to load (naming the error), or still loading."""
        if self._closed:
            return "the service is shutting down"
        if self.load_error is not None:
            return f"the model failed to load: {self.load_error}"
        return "the model is still loading"

    def _work(self) -> None:
        try:
            run = self._load()
        except BaseException as exc:  # reported by /healthz and every request, never silently
            log.exception("%s: loading the model failed", self.name)
            self.load_error = exc
            run = None
        finally:
            self._ready.set()
        stopping = False
        while not stopping:
            jobs, stopping = self._gather()
            if jobs:
                self._run(run, jobs)

    def _gather(self) -> tuple[list[_Job], bool]:
        """The next batch of jobs, and whether the stop marker was met while gathering."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        jobs, count = [first], len(first.items)
        limit = time.monotonic() + MAX_GATHER_WAITS * self.max_wait
        while count < self.max_batch:
            wait = min(self.max_wait, limit - time.monotonic())
            try:
                job = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is _STOP:
                return jobs, True
            jobs.append(job)
            count += len(job.items)
        return jobs, False

    def _run(self, run: Callable[[list[Any]], list[Any]] | None, jobs: list[_Job]) -> None:
        if run is None:
            for job in jobs:
                _deliver(job, error=NotReadyError(self.state_text()))
            return
        items = [item for job in jobs for item in job.items]
        start = time.perf_counter()
        try:
            outputs = run(items)
            if len(outputs) != len(items):
                raise RuntimeError(f"the batch function returned {len(outputs)} outputs for {len(items)} items")
        except Exception as exc:  # the requests in this batch get a 500 naming it; the worker goes on
            log.exception("%s: a batch of %d items failed", self.name, len(items))
            for job in jobs:
                _deliver(job, error=exc)
            return
        if self._observe is not None:
            self._observe(len(items), time.perf_counter() - start)
        offset = 0
        for job in jobs:
            _deliver(job, value=outputs[offset : offset + len(job.items)])
            offset += len(job.items)


def _deliver(job: _Job, value: Any = None, error: BaseException | None = None) -> None:
    """Hand a job's outcome to the event loop that awaits it (its request may have gone away)."""

    def settle() -> None:
        if job.future.done():  # cancelled: the client disconnected
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(value)

    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
        job.loop.call_soon_threadsafe(settle)
