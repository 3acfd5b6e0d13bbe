"""`create_app`: the FastAPI application — lifespan (runtime in, runtime out), routers, error handlers,
request-size limit. Nothing happens at import time; the runtime is opened when the server starts.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI

from assistant.api.deps import ClientDep, ServerState
from assistant.api.errors import install_error_handlers
from assistant.api.middleware import BodyLimitMiddleware, HostCheckMiddleware, HostPolicy
from assistant.api.routes import bank, chat, completions, embeddings, health, models, titans
from assistant.api.schemas import ErrorResponse
from assistant.config import ServerConfig
from assistant.runtime import Runtime
from indexer.errors import ShutkaError

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[], AbstractContextManager[Runtime]]
"""Opens a runtime when called and closes it on exit, e.g. `functools.partial(open_runtime, path, ...)`."""

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorResponse, "description": "OpenAI-style error: 400 invalid request, 401 missing or "
                                                   "wrong API key, 403 cross-site request, 404 unknown model, "
                                                   "413 body too large, 421 a Host header that does "
                                                   "not name this server"},
    "5XX": {"model": ErrorResponse, "description": "OpenAI-style error: the server failed"},
}


def create_app(source: Runtime | RuntimeFactory, config: ServerConfig | None = None) -> FastAPI:
    """The API over one workspace. `source` is either a factory — the lifespan opens the runtime at
    start-up and closes it at shutdown, which flushes the bank and saves the Titans memory — or an
    already open `Runtime`, which the app only borrows (its owner closes it)."""
    config = config or ServerConfig()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with _open(source) as runtime:
            status = await anyio.to_thread.run_sync(runtime.assistant.status)
            log.info("serving %s (%s) on workspace %s", config.model_id, status.model, status.workspace)
            yield {"shutka": ServerState(runtime, config, fingerprint=status.model_digest)}
        log.info("runtime closed")

    @contextlib.asynccontextmanager
    async def _open(source: Runtime | RuntimeFactory) -> AsyncIterator[Runtime]:
        if isinstance(source, Runtime):
            yield source
            return
        stack = contextlib.ExitStack()
        try:
            runtime = await anyio.to_thread.run_sync(stack.enter_context, source())  # loads the model: off the loop
        except ShutkaError as exc:
            app.state.startup_error = exc
            raise
        try:
            yield runtime
        finally:
            await anyio.to_thread.run_sync(stack.close)  # runtime.close(): watcher, Titans save, bank

    app = FastAPI(title="Shutka", version=_version(), lifespan=lifespan, responses=ERROR_RESPONSES,
                  summary="OpenAI-compatible completions, chat and embeddings from a local TypeScript workspace, "
                          "plus its Titans memory and memory bank.")
    app.state.config = config
    app.state.startup_error = None
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_request_bytes)
    # added last, so it runs first: a request under a foreign Host name is refused before anything else
    app.add_middleware(HostCheckMiddleware, policy=HostPolicy.for_address(config.host, config.allowed_hosts))
    api = APIRouter(dependencies=[ClientDep])
    for module in (models, completions, chat, embeddings, titans, bank):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(health.router)
    return app


def _version() -> str:
    try:
        return version("shutka")
    except PackageNotFoundError:
        return "0"
