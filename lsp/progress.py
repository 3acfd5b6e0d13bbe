"""`window/workDoneProgress` for the first index: created with `window/workDoneProgress/create`,
then begin / report / end, fed from the runtime's progress callback (which runs in the indexing
thread). Nothing is sent before the client said `initialized`, nor to a client that cannot show it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

TITLE = "Shutka"
STAGES = {"index": "indexing"}
"""How each stage the runtime reports reads in the progress bar."""


class IndexProgress:
    """One progress bar from `start()` to `finish()`; `update`/`finish` may be called from any thread."""

    def __init__(self, server: LanguageServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop
        self.token = f"shutka-index-{uuid.uuid4().hex[:8]}"
        self.message = "loading the model"
        self.percentage = 0
        self.final: str | None = None
        self._open = False
        self._started = False

    def update(self, stage: str, done: int, total: int) -> None:
        """The runtime's progress callback: `done` of `total` files of `stage` are committed."""
        self._post(self._update, stage, done, total)

    def finish(self, message: str) -> None:
        self._post(self._finish, message)

    def _post(self, fn: Callable[..., None], *args: object) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the session is over, nobody to tell
            log.debug("progress after the session ended: %s", args)

    async def start(self) -> None:
        """Create the token and open the bar (once the client is initialized)."""
        if self._started:
            return
        self._started = True
        caps = self.server.client_capabilities
        if not (caps.window and caps.window.work_done_progress):
            log.info("the client cannot show progress: indexing silently")
            return
        try:
            await self.server.work_done_progress.create_async(self.token)
        except Exception as exc:  # the client refused the token: index silently (logged)
            log.warning("window/workDoneProgress/create failed: %s", exc)
            return
        self._open = True
        self.server.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(
            title=TITLE, message=self.message, percentage=self.percentage, cancellable=False))
        if self.final is not None:
            self._end()

    def _update(self, stage: str, done: int, total: int) -> None:
        verb = STAGES.get(stage, stage)
        self.message = f"{verb}: {done}/{total} files" if total else f"{verb}: up to date"
        self.percentage = int(100 * done / total) if total else 100
        if self._open and self.final is None:
            self.server.work_done_progress.report(self.token, types.WorkDoneProgressReport(
                message=self.message, percentage=self.percentage))

    def _finish(self, message: str) -> None:
        if self.final is not None:
            return
        self.final = message
        if self._open:
            self._end()

    def _end(self) -> None:
        self._open = False
        self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=self.final))
