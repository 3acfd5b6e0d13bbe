"""Helpers of the HTTP API tests: a real uvicorn server on a free port in a thread (the app built
exactly as `shutka serve` builds it), waited on through `/health`, never a fixed sleep."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from assistant.api.app import create_app
from assistant.api.server import bind, make_server, url_of
from assistant.config import ServerConfig
from assistant.runtime import Runtime, open_runtime
from tests.conftest import BASIC_WORKSPACE, write_workspace

API_KEY = "test-key-0123456789"
START_TIMEOUT_S = 60.0
"""Loading the tiny model and indexing the basic workspace takes about a second; CI machines are slow."""
POLL_S = 0.02


@dataclass
class LiveServer:
    """A running server: `url` is its origin, `base_url` what the openai client takes."""

    url: str
    app: FastAPI
    workspace: Path

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S) -> None:
    """Poll `predicate` until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_S)


def health(url: str, headers: dict[str, str] | None = None) -> dict | None:
    """The /health body, or None while the server does not answer yet."""
    try:
        response = httpx.get(f"{url}/health", timeout=5.0, headers=headers)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


@contextlib.contextmanager
def serve(source: Runtime | Callable[[], AbstractContextManager[Runtime]], workspace: Path,
          config: ServerConfig | None = None) -> Iterator[LiveServer]:
    """uvicorn in a thread on 127.0.0.1:<free port>; yields once /health says the index is ready,
    and on exit shuts the server down (lifespan shutdown included)."""
    app = create_app(source, config or ServerConfig(port=0))
    sock = bind("127.0.0.1", 0)
    server = make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    url = url_of(sock)
    try:
        def ready() -> bool:
            if not thread.is_alive():
                raise AssertionError(f"the server stopped during start-up: {app.state.startup_error!r}")
            body = health(url)
            return body is not None and body["ready"]

        wait_until(ready, f"{url}/health to report ready")
        yield LiveServer(url, app, workspace)
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        sock.close()


def runtime_factory(workspace: Path, checkpoint: Path) -> Callable[[], AbstractContextManager[Runtime]]:
    """What `shutka serve` passes to create_app: index in the background, watch the folder."""
    return functools.partial(open_runtime, workspace, checkpoint=checkpoint, sync="background", watch=True)


def new_workspace(factory: pytest.TempPathFactory, name: str) -> Path:
    return write_workspace(factory.mktemp(name) / "basic", BASIC_WORKSPACE)
