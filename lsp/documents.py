"""Open buffers → the assistant, per document: opens and closes at once, edits after a quiet time
(debounce keyed by URI), and `flush()` so a completion never runs on a stale view of other buffers.
`SizeLimit` keeps a buffer over `[completion] max_document_bytes` cut to its head.

Everything here runs on the event loop; the jobs themselves run in a worker pool (`submit`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import Workspace

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


# -- documents over the size limit ---------------------------------------------------------------


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def head(text: str, limit: int) -> str:
    """`text` if it fits in `limit` UTF-8 bytes, else its complete lines that do (a line is complete
    with its '\n': a cut line would read as one that ends there)."""
    if len(text) <= limit // 4:  # no character takes more than 4 bytes
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[:data.rfind(b"\n", 0, limit) + 1].decode("utf-8", "surrogatepass")


def read_head(path: Path, limit: int) -> tuple[str, bool]:
    """A file's text up to `limit` bytes (complete lines only when it is longer) and whether it was cut.
    Raises OSError."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) <= limit:
        return data.decode("utf-8", "replace"), False
    return data[:data.rfind(b"\n", 0, limit) + 1].decode("utf-8", "replace"), True


class SizeLimit:
    """Open buffers over `limit` UTF-8 bytes are kept cut to their first complete lines within it, and
    the rest is never read: pygls stores the head only, requests on the document see the head (past it
    they answer nothing), and the assistant is not handed the buffer at all (indexing even the head of
    such a buffer takes seconds and holds the line index meanwhile; the indexer likewise skips files over
    `[indexer] max_file_bytes`). Edits past the head are dropped before pygls applies them
    (`before_change`); `bound` cuts the stored buffer again after every open and change."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: dict[str, int] = {}
        """Cut documents → complete lines kept."""
        self._told: set[str] = set()
        """Documents whose cut the user was told about (once per document until it is closed)."""

    def kept(self, uri: str) -> int | None:
        """Lines kept of a cut document (None: the document is whole)."""
        return self._kept.get(unquote(uri))

    def before_change(self, params: types.DidChangeTextDocumentParams) -> None:
        """Drop the changes of a cut document that start past its head (its lines before are unchanged
        by them); a change that reaches past the head leaves the lines before its start, plus its text."""
        key = unquote(params.text_document.uri)
        kept = self._kept.get(key)
        if kept is None:
            return
        changes = []
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                start, end = change.range.start.line, change.range.end.line
                if start >= kept:
                    continue
                if end >= kept:
                    kept = start + change.text.count("\n")
                else:
                    kept += change.text.count("\n") - (end - start)
            else:
                fits = head(change.text, self.limit)
                kept = fits.count("\n") if fits is not change.text else 1 << 62
            changes.append(change)
        params.content_changes = changes
        if kept >= 1 << 62:
            self._kept.pop(key, None)  # the whole text was sent again, and it fits
        else:
            self._kept[key] = kept

    def bound(self, workspace: Workspace, uri: str) -> int | None:
        """Cut the stored buffer of `uri` to the limit if it is over it; returns the buffer's size in
        bytes the first time a document is cut (for the message to the user), else None."""
        key = unquote(uri)
        doc = workspace.text_documents.get(key)
        if doc is None:
            return None
        cut = key in self._kept
        text = doc.source
        if cut:
            text = text[:text.rfind("\n") + 1]  # its last line goes on past the head: incomplete
        kept = head(text, self.limit)
        if not cut and kept is text:
            return None
        if kept is not doc.source:
            workspace.put_text_document(types.TextDocumentItem(
                uri=doc.uri, language_id=doc.language_id or "", version=doc.version or 0, text=kept))
        self._kept[key] = kept.count("\n")
        if cut or key in self._told:
            return None
        self._told.add(key)
        size = utf8_size(text)
        log.warning("%s: %d bytes, over the %d bytes read of a document; kept its first %d lines",
                    uri, size, self.limit, self._kept[key])
        return size

    def forget(self, uri: str) -> None:
        """didClose: the document is gone (a new open is judged and reported afresh)."""
        key = unquote(uri)
        self._kept.pop(key, None)
        self._told.discard(key)
