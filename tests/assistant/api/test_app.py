"""create_app: the lifespan opens and closes the runtime (flushing bank and Titans memory), borrows an
open one, keeps a start-up failure for the command line; the OpenAPI document describes the errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.config import ServerConfig
from assistant.errors import CheckpointCorrupt
from assistant.runtime import Runtime, open_runtime
from assistant.types import CompletionRequest

LOCAL = "http://127.0.0.1"
"""TestClient's own default, http://testserver, is a foreign Host name (refused with 421)."""


def test_lifespan_opens_and_closes_the_runtime(basic_workspace: Path, tiny_checkpoint: Path) -> None:
    calls: list[str] = []

    @contextlib.contextmanager
    def factory() -> Iterator[Runtime]:
        calls.append("open")
        with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=True) as runtime:
            yield runtime
        calls.append("closed")

    app = create_app(factory, ServerConfig())
    assert calls == []  # building the app does no work
    titans_file = basic_workspace / ".shutka" / "titans" / "workspace_titans.pt"
    with TestClient(app, base_url=LOCAL) as client:
        assert calls == ["open"]
        assert client.get("/health").json()["ready"]
        assert not titans_file.exists()
    assert calls == ["open", "closed"]
    assert titans_file.is_file()  # shutdown saved the Titans memory


def test_a_borrowed_runtime_stays_open(runtime: Runtime) -> None:
    with TestClient(create_app(runtime, ServerConfig()), base_url=LOCAL) as client:
        assert client.get("/v1/models").status_code == 200
    assert runtime.assistant.complete(CompletionRequest.from_prefix("const x = ")) is not None


def test_a_startup_failure_is_kept_for_the_command_line() -> None:
    def factory() -> contextlib.AbstractContextManager[Runtime]:
        raise CheckpointCorrupt("no checkpoint found")

    app = create_app(factory, ServerConfig())
    with pytest.raises(CheckpointCorrupt), TestClient(app, base_url=LOCAL):
        pass
    assert isinstance(app.state.startup_error, CheckpointCorrupt)


def test_openapi_documents_openai_errors_on_every_route(runtime: Runtime) -> None:
    with TestClient(create_app(runtime, ServerConfig()), base_url=LOCAL) as client:
        spec = client.get("/openapi.json").json()
    operations = [(path, op) for path, item in spec["paths"].items() for op in item.values()]
    assert {p for p, _ in operations} >= {"/v1/models", "/v1/completions", "/v1/chat/completions", "/v1/embeddings",
                                          "/v1/titans/save", "/v1/titans/load", "/v1/titans/forget",
                                          "/v1/bank/stats", "/health"}
    for path, op in operations:
        assert "422" not in op["responses"], path  # validation errors are 400, as OpenAI returns them
        assert op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")
        if path.startswith("/v1"):
            assert op["security"] == [{"HTTPBearer": []}], path
