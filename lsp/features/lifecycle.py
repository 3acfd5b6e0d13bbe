"""initialize / initialized / shutdown: read the workspace and the options, start the runtime in the
background (the `initialize` reply waits for neither the model nor the first index), show the first
index's progress, and close the runtime (flushing the bank and the Titans memory) on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from lsprotocol import types

from assistant.config import CompletionConfig
from assistant.runtime import Runtime, open_runtime
from assistant.types import SyncReport
from indexer.errors import ConfigError, ShutkaError
from indexer.workspace import Workspace
from lsp import convert
from lsp.features.document_sync import open_document
from lsp.options import LspOptions, resolve_options
from lsp.progress import IndexProgress
from lsp.server import ShutkaLanguageServer

log = logging.getLogger(__name__)

SHUTDOWN_START_WAIT_S = 30.0
"""On shutdown, how long to let a model that is still loading finish (it is then closed)."""
READY_POLL_S = 0.1
"""How often start-up looks whether the first index finished (it runs in its own thread)."""


def register(server: ShutkaLanguageServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: ShutkaLanguageServer, params: types.InitializeParams) -> None:
        """Workspace folders (first = the workspace; rootUri fallback) and initializationOptions;
        the model loads and the first index runs in the background."""
        begin(ls, params)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: ShutkaLanguageServer, params: types.InitializedParams) -> None:
        """The client may now receive requests: open the first index's progress bar."""
        if ls.progress is not None:
            await ls.progress.start()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: ShutkaLanguageServer, params: None) -> None:
        """Close the runtime: the watcher stops, the bank and the Titans memory are flushed."""
        await stop(ls)


# -- start-up ----------------------------------------------------------------------------------


def begin(ls: ShutkaLanguageServer, params: types.InitializeParams) -> None:
    """`initialize`: read the workspace and the options, then start loading the model and
    indexing in the background (the reply does not wait for either)."""
    ls.root = workspace_root(params)
    workspace = None
    if ls.root is None:
        ls.start_error = "no workspace folder: open a folder to use Shutka"
    else:
        try:
            workspace = Workspace(ls.root)
        except ShutkaError as exc:
            ls.start_error = str(exc)
    if workspace is not None:
        with contextlib.suppress(ShutkaError):  # a bad [completion] is reported when the runtime opens
            ls.limits.limit = workspace.section("completion", CompletionConfig).max_document_bytes
    try:
        flags = {"checkpoint": str(ls.cli_checkpoint) if ls.cli_checkpoint else None}
        ls.options = resolve_options(workspace, params.initialization_options, flags)
    except ConfigError as exc:
        ls.options = LspOptions(checkpoint=flags["checkpoint"])
        ls.show(f"Shutka: {exc}; using the defaults", types.MessageType.Error)
    _configure_log_file(ls)
    others = [f.name or f.uri for f in (params.workspace_folders or [])[1:]]
    if ls.root is not None and others:
        ls.show(f"Shutka indexes the first workspace folder only ({ls.root.name}); files of "
                f"{', '.join(others)} are completed from their own text", types.MessageType.Warning)
    loop = asyncio.get_running_loop()
    ls.progress = IndexProgress(ls, loop)
    ls.started = loop.create_future()
    if ls.start_error is not None:
        ls.show(f"Shutka: {ls.start_error}", types.MessageType.Error)
        ls.started.set_result(None)
        ls.progress.finish(ls.start_error)
        return
    ls.start_task = loop.create_task(_start(ls))


async def _start(ls: ShutkaLanguageServer) -> None:
    """Open the runtime in a thread, hand it the buffers opened meanwhile, then wait for the first index
    (and start the watcher); a runtime that cannot open is reported, and the server answers empty."""
    assert ls.started is not None and ls.progress is not None and ls.root is not None
    t0 = time.monotonic()
    try:
        runtime = await asyncio.to_thread(_open_runtime, ls, ls.root, ls.progress)
    except asyncio.CancelledError:
        ls.started.cancel()
        raise
    except Exception as exc:  # the boundary: a model or workspace that cannot open is reported, not fatal
        ls.start_error = str(exc) if isinstance(exc, ShutkaError) else f"cannot start: {exc!r}"
        log.error("cannot start on %s: %s", ls.root, ls.start_error,
                  exc_info=not isinstance(exc, ShutkaError))
        ls.show(f"Shutka: {ls.start_error}", types.MessageType.Error)
        ls.progress.finish("not started")
        ls.started.set_result(None)
        return
    ls.runtime = runtime
    ls.limits.limit = runtime.completion_config.max_document_bytes
    runtime.assistant.add_listener(_on_sync)
    log.info("model loaded and %s opened in %.2f s; indexing in the background",
             ls.root, time.monotonic() - t0)
    for uri in list(ls.workspace.text_documents):  # opened while the model was loading
        open_document(ls, uri)
    ls.started.set_result(runtime)
    while not runtime.ready.is_set():
        await asyncio.sleep(READY_POLL_S)
    if ls.options.watch:
        await ls.submit("documents", runtime.start_watcher)
    stats = await ls.submit("queries", runtime.assistant.bank_stats)
    log.info("first index done in %.1f s: %d bank entries", time.monotonic() - t0, stats.entries)
    ls.progress.finish(f"ready: {stats.entries} entries from {stats.files} files")


def _open_runtime(ls: ShutkaLanguageServer, root: Path, progress: IndexProgress) -> Runtime:
    """Load the model and open the workspace; the first index runs in a background thread."""
    return ls.stack.enter_context(open_runtime(
        root, checkpoint=ls.options.checkpoint, sync="background", watch=False,
        completion=ls.options.completion_overrides(), progress=progress.update))


def _on_sync(report: SyncReport) -> None:
    """Every committed sync (syncing thread): logged."""
    log.info("sync committed: generation %d, +%d -%d ~%d files, %d encoded, %.0f ms",
             report.generation, report.added, report.removed, report.moved, report.encoded,
             report.latency_ms)


def _configure_log_file(ls: ShutkaLanguageServer) -> None:
    """`[lsp] log_file`: also write logs there (never to stdout); a file that cannot be written is a warning."""
    if not ls.options.log_file:
        return
    try:
        handler = logging.FileHandler(ls.options.log_file, encoding="utf-8")
    except OSError as exc:
        ls.show(f"Shutka: cannot write the log file {ls.options.log_file}: {exc.strerror}",
                types.MessageType.Warning)
        return
    handler.setLevel(ls.options.log_level.upper())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, handler.level))
    ls.log_handler = handler


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


# -- shutdown ----------------------------------------------------------------------------------


async def stop(ls: ShutkaLanguageServer) -> None:
    """`shutdown`: close the runtime (background indexing and adaptation stop at their next
    step, the watcher stops, the bank and the Titans memory are flushed)."""
    ls.documents.close()
    if ls.started is not None and not ls.started.done():
        with contextlib.suppress(Exception):  # a model still loading: let it finish, then close it
            await asyncio.wait_for(asyncio.shield(ls.started), SHUTDOWN_START_WAIT_S)
    if ls.start_task is not None:
        ls.start_task.cancel()
    await asyncio.to_thread(ls.close)
