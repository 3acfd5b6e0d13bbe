"""`ShutkaLanguageServer`: the pygls server that holds one workspace's runtime, the options, the
document queue and the worker pools; `create_server()` builds it with every feature registered.

Blocking work (the model, the index, the bank) never runs on the event loop: it goes to small
worker pools, so `$/cancelRequest` answers at once, and a request that was cancelled before its
turn never runs. Domain errors become JSON-RPC errors here, once (`call`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from assistant.config import CompletionConfig
from assistant.errors import InvalidRequest
from assistant.runtime import Runtime, open_runtime
from assistant.service import Assistant
from assistant.types import CompletionRequest, CompletionResult, SyncReport
from indexer.errors import ConfigError, ShutkaError
from indexer.workspace import Workspace
from lsp import convert
from lsp.documents import DocumentQueue, SizeLimit, read_head
from lsp.options import LspOptions, resolve_options
from lsp.progress import IndexProgress
from lsp.transport import ShutkaProtocol

log = logging.getLogger(__name__)

T = TypeVar("T")

NAME = "shutka"
REQUEST_FAILED = int(types.LSPErrorCodes.RequestFailed)
REMEMBERED_REQUESTS = 256
"""Completion requests kept for `shutka.completionAccepted` (older ones are rebuilt from the buffer)."""
SHUTDOWN_START_WAIT_S = 30.0
"""On shutdown, how long to let a model that is still loading finish (it is then closed)."""
READY_POLL_S = 0.1
"""How often start-up looks whether the first index finished (it runs in its own thread)."""
POOLS = {"model": 1, "documents": 1, "sync": 1, "queries": 2}
"""Worker threads: completions (the engine serialises model work anyway, so one thread and a queue
whose cancelled entries never run); buffer updates, in order; syncs (saves, re-index: they may wait
for the writer lock while the first index runs, and must not hold up the rest); hovers, symbols,
commands."""


def _version() -> str:
    try:
        return version("shutka")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0+unknown"


class ShutkaLanguageServer(LanguageServer):
    """One workspace: its runtime (built after `initialize`), options, open documents and pools."""

    def __init__(self, checkpoint: Path | None = None) -> None:
        super().__init__(NAME, _version(), protocol_cls=ShutkaProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.cli_checkpoint = checkpoint
        """--checkpoint (initializationOptions.checkpoint wins over it)."""
        self.options = LspOptions()
        self.root: Path | None = None
        """The workspace: the first workspace folder, else rootUri / rootPath."""
        self.runtime: Runtime | None = None
        self.start_error: str | None = None
        """Why there is no runtime (shown to the user once, returned by commands)."""
        self.progress: IndexProgress | None = None
        self.documents = DocumentQueue(partial(self.submit, "documents"))
        self.limits = SizeLimit(CompletionConfig.model_fields["max_document_bytes"].default)
        """Buffers over `[completion] max_document_bytes` are cut to their head (see SizeLimit)."""
        self.protocol.before_change = self.limits.before_change  # type: ignore[attr-defined]
        self.feedback_counts = {"accepted": 0, "rejected": 0}
        self._started: asyncio.Future[Runtime | None] | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._requests: OrderedDict[str, CompletionRequest] = OrderedDict()
        self._pools = {name: ThreadPoolExecutor(n, thread_name_prefix=f"shutka-{name}") for name, n in POOLS.items()}
        self._stack = contextlib.ExitStack()
        self._close_lock = threading.Lock()
        self._log_handler: logging.Handler | None = None

    # -- running blocking work -----------------------------------------------------------------

    def submit(self, pool: str, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run `fn(*args)` in `pool`; cancelling the returned future before it starts drops it."""
        return asyncio.get_running_loop().run_in_executor(self._pools[pool], fn, *args)

    async def call(self, pool: str, fn: Callable[..., T], *args: Any) -> T:
        """`submit` and wait, with domain errors as JSON-RPC errors: a bad request or option is
        InvalidParams, any other Shutka error RequestFailed (the message says what to do)."""
        try:
            return await self.submit(pool, fn, *args)
        except (InvalidRequest, ConfigError) as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc
        except ShutkaError as exc:
            raise JsonRpcException(str(exc), code=REQUEST_FAILED) from exc

    # -- start-up and shutdown -----------------------------------------------------------------

    def begin(self, params: types.InitializeParams) -> None:
        """`initialize`: read the workspace and the options, then start loading the model and
        indexing in the background (the reply does not wait for either)."""
        self.root = workspace_root(params)
        workspace = None
        if self.root is None:
            self.start_error = "no workspace folder: open a folder to use Shutka"
        else:
            try:
                workspace = Workspace(self.root)
            except ShutkaError as exc:
                self.start_error = str(exc)
        if workspace is not None:
            with contextlib.suppress(ShutkaError):  # a bad [completion] is reported when the runtime opens
                self.limits.limit = workspace.section("completion", CompletionConfig).max_document_bytes
        try:
            flags = {"checkpoint": str(self.cli_checkpoint) if self.cli_checkpoint else None}
            self.options = resolve_options(workspace, params.initialization_options, flags)
        except ConfigError as exc:
            self.options = LspOptions(checkpoint=flags["checkpoint"])
            self.show(f"Shutka: {exc}; using the defaults", types.MessageType.Error)
        self._configure_log_file()
        others = [f.name or f.uri for f in (params.workspace_folders or [])[1:]]
        if self.root is not None and others:
            self.show(f"Shutka indexes the first workspace folder only ({self.root.name}); files of "
                      f"{', '.join(others)} are completed from their own text", types.MessageType.Warning)
        loop = asyncio.get_running_loop()
        self.progress = IndexProgress(self, loop)
        self._started = loop.create_future()
        if self.start_error is not None:
            self.show(f"Shutka: {self.start_error}", types.MessageType.Error)
            self._started.set_result(None)
            self.progress.finish(self.start_error)
            return
        self._start_task = loop.create_task(self._start())

    async def _start(self) -> None:
        assert self._started is not None and self.progress is not None and self.root is not None
        t0 = time.monotonic()
        try:
            runtime = await asyncio.to_thread(self._open_runtime, self.root, self.progress)
        except asyncio.CancelledError:
            self._started.cancel()
            raise
        except Exception as exc:  # the boundary: a model or workspace that cannot open is reported, not fatal
            self.start_error = str(exc) if isinstance(exc, ShutkaError) else f"cannot start: {exc!r}"
            log.error("cannot start on %s: %s", self.root, self.start_error,
                      exc_info=not isinstance(exc, ShutkaError))
            self.show(f"Shutka: {self.start_error}", types.MessageType.Error)
            self.progress.finish("not started")
            self._started.set_result(None)
            return
        self.runtime = runtime
        self.limits.limit = runtime.completion_config.max_document_bytes
        runtime.assistant.add_listener(self._on_sync)
        log.info("model loaded and %s opened in %.2f s; indexing in the background",
                 self.root, time.monotonic() - t0)
        for uri in list(self.workspace.text_documents):  # opened while the model was loading
            self.open_document(uri)
        self._started.set_result(runtime)
        while not runtime.ready.is_set():
            await asyncio.sleep(READY_POLL_S)
        if self.options.watch:
            await self.submit("documents", runtime.start_watcher)
        stats = await self.submit("queries", runtime.assistant.bank_stats)
        log.info("first index done in %.1f s: %d bank entries", time.monotonic() - t0, stats.entries)
        self.progress.finish(f"ready: {stats.entries} entries from {stats.files} files")

    def _open_runtime(self, root: Path, progress: IndexProgress) -> Runtime:
        """Load the model and open the workspace; the first index runs in a background thread."""
        checkpoint = self.options.checkpoint
        return self._stack.enter_context(open_runtime(
            root, checkpoint=checkpoint, sync="background", watch=False,
            completion=self.options.completion_overrides(), progress=progress.update))

    async def ready(self) -> Runtime | None:
        """The runtime once built (None if it could not start); a cancelled caller leaves it be."""
        if self._started is None:
            return None
        return await asyncio.shield(self._started)

    @property
    def assistant(self) -> Assistant:
        """The facade; RequestFailed (with the reason) when the runtime did not start."""
        if self.runtime is None:
            reason = self.start_error or "Shutka is still starting"
            raise JsonRpcException(reason, code=REQUEST_FAILED)
        return self.runtime.assistant

    async def stop(self) -> None:
        """`shutdown`: close the runtime (background indexing and adaptation stop at their next
        step, the watcher stops, the bank and the Titans memory are flushed)."""
        self.documents.close()
        if self._started is not None and not self._started.done():
            with contextlib.suppress(Exception):  # a model still loading: let it finish, then close it
                await asyncio.wait_for(asyncio.shield(self._started), SHUTDOWN_START_WAIT_S)
        if self._start_task is not None:
            self._start_task.cancel()
        await asyncio.to_thread(self.close)

    def busy(self) -> list[str]:
        """Background work still running: `indexing`, the watcher's pending syncs, adaptation threads."""
        runtime = self.runtime
        if runtime is None:
            return []
        found = [thread.name for thread in runtime.background if thread.is_alive()]
        if runtime.assistant.indexing:
            found.append("indexing")
        if runtime.watcher is not None and not runtime.watcher.idle():
            found.append("watcher")
        return found

    def close(self) -> None:
        """Close the runtime and the pools (idempotent; also run when the client exits abruptly)."""
        with self._close_lock:
            self.runtime = None
            try:
                self._stack.close()
            finally:
                for pool in self._pools.values():
                    pool.shutdown(wait=False, cancel_futures=True)
                if self._log_handler is not None:
                    logging.getLogger().removeHandler(self._log_handler)
                    self._log_handler.close()
                    self._log_handler = None

    def _on_sync(self, report: SyncReport) -> None:
        """Every committed sync (syncing thread): logged."""
        log.info("sync committed: generation %d, +%d -%d ~%d files, %d encoded, %.0f ms",
                 report.generation, report.added, report.removed, report.moved, report.encoded,
                 report.latency_ms)

    def _configure_log_file(self) -> None:
        if not self.options.log_file:
            return
        try:
            handler = logging.FileHandler(self.options.log_file, encoding="utf-8")
        except OSError as exc:
            self.show(f"Shutka: cannot write the log file {self.options.log_file}: {exc.strerror}",
                      types.MessageType.Warning)
            return
        handler.setLevel(self.options.log_level.upper())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(min(root.level or logging.WARNING, handler.level))
        self._log_handler = handler

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    # -- documents -----------------------------------------------------------------------------

    def rel_path(self, uri: str) -> str | None:
        """Workspace-relative path of a `file:` URI inside the workspace (None otherwise)."""
        path = convert.uri_to_path(uri)
        if path is None or self.runtime is None:
            return None
        root = self.runtime.workspace.root
        for candidate in (path, path.resolve()):
            with contextlib.suppress(ValueError):
                rel = candidate.relative_to(root)
                if ".." not in rel.parts:
                    return rel.as_posix()
        return None

    def text_of(self, uri: str) -> str | None:
        """The buffer (open documents win), else the file on disk if it lies in the workspace; None if
        there is neither. Never more than `[completion] max_document_bytes` (see SizeLimit)."""
        found = self.buffer(uri)
        return found[0] if found is not None else None

    def buffer(self, uri: str) -> tuple[str, int | None] | None:
        """`text_of` and, when the document was cut to the size limit, the number of lines kept."""
        doc = self.workspace.text_documents.get(unquote(uri))
        if doc is not None:
            return doc.source, self.limits.kept(uri)
        path = convert.uri_to_path(uri)
        if path is None or self.runtime is None:
            return None
        root = os.path.realpath(self.runtime.workspace.root)
        real = os.path.realpath(path)
        if os.path.commonpath([root, real]) != root or not os.path.isfile(real):
            return None  # a client asks about its own buffers and the workspace, not about any file
        try:
            text, cut = read_head(Path(real), self.limits.limit)
        except OSError:
            return None
        return text, text.count("\n") if cut else None

    def _bounded(self, uri: str) -> bool:
        """Cut `uri`'s buffer to the size limit if it is over it, telling the user once; True if cut."""
        size = self.limits.bound(self.workspace, uri)
        kept = self.limits.kept(uri)
        if size is not None and kept is not None:
            limit = self.limits.limit
            self.show(f"Shutka: {Path(unquote(uri)).name} is {_mb(size)}, over the {_mb(limit)} it reads of a "
                      f"document ([completion] max_document_bytes): only its first {kept} lines are read, "
                      f"completions past them are off, and it is not used as context for other files",
                      types.MessageType.Warning)
        return kept is not None

    def open_document(self, uri: str) -> None:
        """didOpen: the buffer becomes context at once (it wins over the disk)."""
        if self._bounded(uri):
            return
        path, text = self.rel_path(uri), self.text_of(uri)
        if path is None or text is None or self.runtime is None:
            return
        self.documents.cancel(uri)
        self.documents.now(uri, partial(self.runtime.assistant.open_document, path, text))

    def change_document(self, uri: str) -> None:
        """didChange: hand the buffer over once it has been quiet for `debounce_ms`."""
        was_cut = self.limits.kept(uri) is not None
        cut = self._bounded(uri)
        path = self.rel_path(uri)
        if path is None or self.runtime is None:
            return
        assistant = self.runtime.assistant
        if cut:
            self.documents.cancel(uri)
            if not was_cut:  # it grew past the limit: what the assistant holds of it is dropped
                self.documents.now(uri, partial(assistant.close_document, path))
            return

        def job() -> Callable[[], Any] | None:
            doc = self.workspace.text_documents.get(unquote(uri))
            return None if doc is None else partial(assistant.update_document, path, doc.source)

        self.documents.later(uri, self.options.debounce_ms / 1000, job)

    def save_document(self, uri: str) -> None:
        """didSave: the saved file goes through the same sync path as `shutka watch`."""
        path = self.rel_path(uri)
        if path is None or self.runtime is None:
            return
        self.submit("sync", _sync_quietly, self.runtime.assistant, path)

    def close_document(self, uri: str) -> None:
        """didClose: the file on disk is context again."""
        self.documents.cancel(uri)
        self.limits.forget(uri)
        path = self.rel_path(uri)
        if path is None or self.runtime is None:
            return
        self.documents.now(uri, partial(self.runtime.assistant.close_document, path))

    # -- completion ----------------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)

    async def request_at(self, uri: str, position: types.Position, **kw: Any) -> CompletionRequest | None:
        """The cursor as a CompletionRequest, after start-up; None when there is no runtime or no
        such document; InvalidParams when the position is not in the document."""
        if await self.ready() is None:
            return None
        found = self.buffer(uri)
        if found is None:
            return None
        text, kept = found
        if kept is not None and position.line >= kept:
            return None  # past the head of a document cut to the size limit: never read
        try:
            line, column = convert.server_position(text, position, self.encoding)
        except convert.PositionOutOfRange as exc:
            raise JsonRpcInvalidParams(f"{uri}: {exc}") from exc
        return CompletionRequest(text, line, column, self.rel_path(uri), **kw)

    async def complete(self, uri: str, request: CompletionRequest) -> CompletionResult:
        """Pending edits of other buffers first (they are context), then the engine, in the model pool."""
        await self.documents.flush(skip=uri)
        result = await self.call("model", self.assistant.complete, request)
        self._requests[result.request_id] = request
        while len(self._requests) > REMEMBERED_REQUESTS:
            self._requests.popitem(last=False)
        return result

    def recall(self, request_id: str) -> CompletionRequest | None:
        return self._requests.get(request_id)

    def markdown(self, where: str) -> bool:
        """Whether the client renders markdown in completion documentation / hovers."""
        td = self.client_capabilities.text_document
        if td is None:
            return False
        if where == "hover":
            formats = td.hover.content_format if td.hover else None
        else:
            item = td.completion.completion_item if td.completion else None
            formats = item.documentation_format if item else None
        return types.MarkupKind.Markdown in (formats or [])


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


def workspace_root(params: types.InitializeParams) -> Path | None:
    """The first workspace folder, else rootUri, else rootPath."""
    for folder in params.workspace_folders or []:
        path = convert.uri_to_path(folder.uri)
        if path is not None:
            return path
    if params.root_uri:
        return convert.uri_to_path(params.root_uri)
    if params.root_path:
        return Path(params.root_path)
    return None


def create_server(checkpoint: Path | None = None) -> ShutkaLanguageServer:
    """A server with every feature registered (one module per feature group)."""
    from lsp.features import commands, completion, document_sync, hover, lifecycle, symbols

    server = ShutkaLanguageServer(checkpoint=checkpoint)
    for feature in (lifecycle, document_sync, completion, hover, symbols, commands):
        feature.register(server)
    return server
