"""`ShutkaLanguageServer`: the state of one session — the workspace's runtime, the options, the open
documents' queue and size limit, the worker pools. What the handlers do lives in the feature modules
(`lsp.features`), which receive the server as a parameter; `lsp.features.create_server` builds it with
every feature registered.

Blocking work (the model, the index, the bank) never runs on the event loop: it goes to small
worker pools, so `$/cancelRequest` answers at once, and a request that was cancelled before its
turn never runs. Domain errors become JSON-RPC errors here, once (`call`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from assistant.config import CompletionConfig
from assistant.errors import InvalidRequest
from assistant.runtime import Runtime
from assistant.service import Assistant
from indexer.errors import ConfigError, ShutkaError
from lsp.documents import DocumentQueue, SizeLimit
from lsp.options import LspOptions
from lsp.progress import IndexProgress
from lsp.transport import ShutkaProtocol

T = TypeVar("T")

NAME = "shutka"
REQUEST_FAILED = int(types.LSPErrorCodes.RequestFailed)
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
    """One workspace: its runtime (built after `initialize`), options, open documents and pools.

    State only: the handlers in `lsp.features` read and set it (start-up in `lifecycle`, buffers in
    `document_sync`, requests in `completion`, ...)."""

    def __init__(self, checkpoint: Path | None = None) -> None:
        super().__init__(NAME, _version(), protocol_cls=ShutkaProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.cli_checkpoint = checkpoint
        """--checkpoint (initializationOptions.checkpoint wins over it)."""
        self.options = LspOptions()
        """The resolved `[lsp]` options (set by `initialize`)."""
        self.root: Path | None = None
        """The workspace: the first workspace folder, else rootUri / rootPath."""
        self.runtime: Runtime | None = None
        """The open workspace (None until start-up finished, and after `close`)."""
        self.start_error: str | None = None
        """Why there is no runtime (shown to the user once, returned by commands)."""
        self.progress: IndexProgress | None = None
        """The first index's progress bar (created by `initialize`)."""
        self.started: asyncio.Future[Runtime | None] | None = None
        """Resolved with the runtime (or None) once start-up finished; None before `initialize`."""
        self.start_task: asyncio.Task[None] | None = None
        """Start-up running in the background (loading the model, the first index)."""
        self.documents = DocumentQueue(partial(self.submit, "documents"))
        """Buffer hand-overs to the assistant, per document, debounced on change."""
        self.limits = SizeLimit(CompletionConfig.model_fields["max_document_bytes"].default)
        """Buffers over `[completion] max_document_bytes` are cut to their head (see SizeLimit)."""
        self.protocol.before_change = self.limits.before_change  # type: ignore[attr-defined]
        self.completion_turns: dict[tuple[str, str], int] = {}
        """Per request kind and document URI, how many completion requests arrived: a queued one that is no longer the
        latest is stale (lsp.features.completion)."""
        self.ghosts: dict[str, Any] = {}
        """Per document URI, the ghost text last shown (lsp.features.completion.Ghost): it stays while the
        user types what it shows."""
        self.feedback_counts = {"accepted": 0, "rejected": 0}
        """Completion items the user accepted / rejected this session."""
        self.stack = contextlib.ExitStack()
        """What `close` closes: the runtime."""
        self.log_handler: logging.Handler | None = None
        """The `[lsp] log_file` handler, removed by `close`."""
        self._pools = {name: ThreadPoolExecutor(n, thread_name_prefix=f"shutka-{name}") for name, n in POOLS.items()}
        self._close_lock = threading.Lock()

    # -- running blocking work -----------------------------------------------------------------

    def submit(self, pool: str, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run `fn(*args)` in `pool`; cancelling the returned future before it starts drops it."""
        return asyncio.get_running_loop().run_in_executor(self._pools[pool], fn, *args)

    async def call(self, pool: str, fn: Callable[..., T], *args: Any) -> T:
        """`submit` and wait, with domain errors as JSON-RPC errors: a bad request or option is
        InvalidParams, any other Shutka error RequestFailed (the message says what to do)."""
        try:
            return await self.submit(pool, fn, *args)
        except InvalidRequest as exc:
            raise JsonRpcInvalidParams(f"argument {exc.param!r}: {exc}" if exc.param else str(exc)) from exc
        except ConfigError as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc
        except ShutkaError as exc:
            raise JsonRpcException(str(exc), code=REQUEST_FAILED) from exc

    # -- the runtime ---------------------------------------------------------------------------

    async def ready(self) -> Runtime | None:
        """The runtime once built (None if it could not start); a cancelled caller leaves it be."""
        if self.started is None:
            return None
        return await asyncio.shield(self.started)

    @property
    def assistant(self) -> Assistant:
        """The facade; RequestFailed (with the reason) when the runtime did not start."""
        if self.runtime is None:
            reason = self.start_error or "Shutka is still starting"
            raise JsonRpcException(reason, code=REQUEST_FAILED)
        return self.runtime.assistant

    def close(self) -> None:
        """Close the runtime and the pools (idempotent; also run when the client exits abruptly)."""
        with self._close_lock:
            self.runtime = None
            try:
                self.stack.close()
            finally:
                for pool in self._pools.values():
                    pool.shutdown(wait=False, cancel_futures=True)
                if self.log_handler is not None:
                    logging.getLogger().removeHandler(self.log_handler)
                    self.log_handler.close()
                    self.log_handler = None

    # -- the client ----------------------------------------------------------------------------

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        """`window/showMessage`."""
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    @property
    def encoding(self) -> str:
        """The position encoding agreed with the client (UTF-16 unless it offered another)."""
        return str(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)

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

