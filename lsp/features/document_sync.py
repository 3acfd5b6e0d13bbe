"""didOpen / didChange / didSave / didClose: open buffers are context and win over the disk.

pygls keeps each buffer's text (full and incremental changes); these handlers only hand it to the
assistant: at once on open and close, debounced per document on change, a sync on save. A buffer over
`[completion] max_document_bytes` is cut to its head (the user is told once) and not handed over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types

from assistant.service import Assistant
from indexer.errors import ShutkaError
from lsp.buffers import rel_path, text_of
from lsp.server import ShutkaLanguageServer

log = logging.getLogger(__name__)


def register(server: ShutkaLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ShutkaLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        open_document(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ShutkaLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        change_document(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: ShutkaLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        save_document(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ShutkaLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        close_document(ls, params.text_document.uri)


def open_document(ls: ShutkaLanguageServer, uri: str) -> None:
    """didOpen (and, after start-up, every buffer opened while the model loaded): the buffer becomes
    context at once (it wins over the disk)."""
    if _bounded(ls, uri):
        return
    path, text = rel_path(ls, uri), text_of(ls, uri)
    if path is None or text is None or ls.runtime is None:
        return
    ls.documents.cancel(uri)
    ls.documents.now(uri, partial(ls.runtime.assistant.open_document, path, text))


def change_document(ls: ShutkaLanguageServer, uri: str) -> None:
    """didChange: hand the buffer over once it has been quiet for `debounce_ms`."""
    was_cut = ls.limits.kept(uri) is not None
    cut = _bounded(ls, uri)
    path = rel_path(ls, uri)
    if path is None or ls.runtime is None:
        return
    assistant = ls.runtime.assistant
    if cut:
        ls.documents.cancel(uri)
        if not was_cut:  # it grew past the limit: what the assistant holds of it is dropped
            ls.documents.now(uri, partial(assistant.close_document, path))
        return

    def job() -> Callable[[], Any] | None:
        doc = ls.workspace.text_documents.get(unquote(uri))
        return None if doc is None else partial(assistant.update_document, path, doc.source)

    ls.documents.later(uri, ls.options.debounce_ms / 1000, job)


def save_document(ls: ShutkaLanguageServer, uri: str) -> None:
    """didSave: the saved file goes through the same sync path as `shutka watch`."""
    path = rel_path(ls, uri)
    if path is None or ls.runtime is None:
        return
    ls.submit("sync", _sync_quietly, ls.runtime.assistant, path)


def close_document(ls: ShutkaLanguageServer, uri: str) -> None:
    """didClose: the file on disk is context again."""
    ls.documents.cancel(uri)
    ls.limits.forget(uri)
    path = rel_path(ls, uri)
    if path is None or ls.runtime is None:
        return
    ls.documents.now(uri, partial(ls.runtime.assistant.close_document, path))


def _bounded(ls: ShutkaLanguageServer, uri: str) -> bool:
    """Cut `uri`'s buffer to the size limit if it is over it, telling the user once; True if cut."""
    size = ls.limits.bound(ls.workspace, uri)
    kept = ls.limits.kept(uri)
    if size is not None and kept is not None:
        limit = ls.limits.limit
        ls.show(f"Shutka: {Path(unquote(uri)).name} is {_mb(size)}, over the {_mb(limit)} it reads of a "
                f"document ([completion] max_document_bytes): only its first {kept} lines are read, "
                f"completions past them are off, and it is not used as context for other files",
                types.MessageType.Warning)
    return kept is not None


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _sync_quietly(assistant: Assistant, path: str) -> None:
    """A save's sync; a busy writer (the first index, the watcher) will pick the file up itself.
    Runs in a worker and nobody awaits it, so every failure is logged here."""
    try:
        assistant.sync([path])
    except ShutkaError as exc:
        log.info("sync after saving %s deferred: %s", path, exc)
    except Exception:  # a worker nobody awaits: log with the traceback, the session goes on
        log.exception("sync after saving %s failed", path)
