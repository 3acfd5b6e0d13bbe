"""Fixtures for the HTTP API: real servers on free ports, the official `openai` client and raw `httpx`
clients pointed at them (see helpers.py for how a server is started and waited on)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from assistant.config import ServerConfig
from indexer.workspace import USER_CONFIG_ENV
from tests.assistant.api.helpers import API_KEY, LiveServer, new_workspace, runtime_factory, serve


@pytest.fixture(autouse=True)
def no_user_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's own config (`~/.config/shutka/shutka.toml`) never reaches these tests: SHUTKA_CONFIG
    names a file that does not exist (a test writes it when it needs one). Spawned servers inherit it."""
    path = tmp_path_factory.mktemp("user-config") / "shutka.toml"
    monkeypatch.setenv(USER_CONFIG_ENV, str(path))
    return path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Iterator[LiveServer]:
    """The API without a key on the basic workspace (shared by the read-only tests)."""
    workspace = new_workspace(tmp_path_factory, "served")
    with serve(runtime_factory(workspace, tiny_checkpoint), workspace) as live:
        yield live


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Iterator[LiveServer]:
    """The API with an API key and a small request limit (for the error tests)."""
    workspace = new_workspace(tmp_path_factory, "keyed")
    config = ServerConfig(port=0, api_key=API_KEY, max_request_bytes=10_000, max_tokens_limit=64)
    with serve(runtime_factory(workspace, tiny_checkpoint), workspace, config) as live:
        yield live


@pytest.fixture(scope="session")
def client(live_server: LiveServer) -> Iterator[openai.OpenAI]:
    """The official OpenAI client on the key-less server (any key is accepted there)."""
    with openai.OpenAI(base_url=live_server.base_url, api_key="unused", max_retries=0, timeout=30.0) as c:
        yield c


@pytest.fixture(scope="session")
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP on the key-less server."""
    with httpx.Client(base_url=live_server.url, timeout=30.0) as c:
        yield c
