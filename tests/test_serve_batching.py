"""The micro-batcher on its own: gathering, order, limits, loading, failures and closing (real threads)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from twplate.serve.batching import MicroBatcher, NotReadyError


class Doubler:
    """A batch function that records the size of every batch it runs."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, items: list[int]) -> list[int]:
        self.sizes.append(len(items))
        return [2 * x for x in items]


def make(fn: Doubler, max_batch: int = 32, max_wait: float = 0.05) -> MicroBatcher:
    batcher = MicroBatcher(lambda: fn, max_batch, max_wait)
    assert batcher.wait_ready(10)
    return batcher


def test_concurrent_submits_are_gathered_and_each_gets_its_own_outputs() -> None:
    fn = Doubler()
    batcher = make(fn)

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(batcher.submit([i, 100 + i]) for i in range(10)))

    assert asyncio.run(main()) == [[2 * i, 200 + 2 * i] for i in range(10)]
    assert sum(fn.sizes) == 20 and max(fn.sizes) > 2
    batcher.close()


def test_batches_stop_growing_at_max_batch() -> None:
    fn = Doubler()
    batcher = make(fn, max_batch=4, max_wait=0.2)

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(batcher.submit([i]) for i in range(20)))

    assert asyncio.run(main()) == [[2 * i] for i in range(20)]
    assert max(fn.sizes) <= 4 and sum(fn.sizes) == 20
    batcher.close()


def test_not_ready_while_loading_then_ready() -> None:
    loaded = threading.Event()
    fn = Doubler()

    def load() -> Doubler:
        loaded.wait(10)
        return fn

    batcher = MicroBatcher(load, 8, 0.0)
    assert not batcher.ready and batcher.loading
    with pytest.raises(NotReadyError, match="still loading"):
        asyncio.run(batcher.submit([1]))
    loaded.set()
    assert batcher.wait_ready(10)
    assert asyncio.run(batcher.submit([1, 2])) == [2, 4]
    batcher.close()


def test_a_failed_load_is_reported_to_every_request() -> None:
    def load() -> Doubler:
        raise OSError("model file unreadable")

    batcher = MicroBatcher(load, 8, 0.0)
    assert not batcher.wait_ready(10)
    assert isinstance(batcher.load_error, OSError)
    with pytest.raises(NotReadyError, match="failed to load: model file unreadable"):
        asyncio.run(batcher.submit([1]))
    batcher.close()


def test_a_failing_batch_fails_its_requests_and_the_worker_goes_on() -> None:
    calls = []

    def fn(items: list[int]) -> list[int]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("backend fell over")
        return items

    batcher = MicroBatcher(lambda: fn, 8, 0.05)
    batcher.wait_ready(10)

    async def main() -> list:
        return await asyncio.gather(batcher.submit([1]), batcher.submit([2]), return_exceptions=True)

    first = asyncio.run(main())
    assert all(isinstance(e, RuntimeError) and "fell over" in str(e) for e in first)
    assert asyncio.run(batcher.submit([3])) == [3]
    batcher.close()


def test_close_finishes_queued_requests_then_refuses() -> None:
    release = threading.Event()

    def slow(items: list[int]) -> list[int]:
        release.wait(10)
        return items

    batcher = MicroBatcher(lambda: slow, 2, 0.0)
    batcher.wait_ready(10)

    async def main() -> list[list[int]]:
        tasks = [asyncio.ensure_future(batcher.submit([i])) for i in range(6)]
        await asyncio.sleep(0.05)  # all six are queued; the worker is held in the first batch
        closing = asyncio.ensure_future(asyncio.to_thread(batcher.close))
        await asyncio.sleep(0.05)
        release.set()
        await closing
        return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == [[i] for i in range(6)]
    assert not batcher.ready
    with pytest.raises(NotReadyError, match="shutting down"):
        asyncio.run(batcher.submit([1]))
