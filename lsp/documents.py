"""Open buffers → the assistant, per document: opens and closes at once, edits after a quiet time
(debounce keyed by URI), and `flush()` so a completion never runs on a stale view of other buffers.

Everything here runs on the event loop; the jobs themselves run in a worker pool (`submit`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Job = Callable[[], Any]
"""Blocking work for the assistant (runs in a worker thread)."""


class DocumentQueue:
    """Per-document jobs in submission order, with debounced edits."""

    def __init__(self, submit: Callable[[Job], asyncio.Future[Any]]) -> None:
        self._submit = submit
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._pending: dict[str, Callable[[], Job | None]] = {}
        self._inflight: dict[str, set[asyncio.Future[Any]]] = {}

    def now(self, uri: str, job: Job) -> asyncio.Future[Any]:
        """Run `job` for `uri` now (after any job already queued in the pool)."""
        future = self._submit(job)
        running = self._inflight.setdefault(uri, set())
        running.add(future)
        future.add_done_callback(lambda f: self._done(uri, f))
        return future

    def later(self, uri: str, delay_s: float, make_job: Callable[[], Job | None]) -> None:
        """Run the job `make_job()` returns once `uri` has been quiet for `delay_s`; a newer call
        replaces the older. `make_job` runs on the loop when the timer fires, so it snapshots the
        buffer as it is then."""
        self.cancel(uri)
        self._pending[uri] = make_job
        loop = asyncio.get_running_loop()
        self._timers[uri] = loop.call_later(delay_s, self._fire, uri)

    def cancel(self, uri: str) -> None:
        """Drop `uri`'s pending (not yet started) edit."""
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self._pending.pop(uri, None)

    async def flush(self, skip: str | None = None) -> None:
        """Start every pending edit now (except `skip`'s) and wait for all jobs in flight."""
        for uri in [u for u in self._pending if u != skip]:
            self._fire(uri)
        waiting = [f for uri, fs in self._inflight.items() if uri != skip for f in fs]
        if waiting:
            await asyncio.wait(waiting)

    def _fire(self, uri: str) -> None:
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        make_job = self._pending.pop(uri, None)
        job = make_job() if make_job is not None else None
        if job is not None:
            self.now(uri, job)

    def _done(self, uri: str, future: asyncio.Future[Any]) -> None:
        running = self._inflight.get(uri)
        if running is not None:
            running.discard(future)
            if not running:
                self._inflight.pop(uri, None)
        if not future.cancelled() and future.exception() is not None:
            log.error("document job for %s failed: %s", uri, future.exception(), exc_info=future.exception())

    def close(self) -> None:
        for uri in list(self._timers):
            self.cancel(uri)
