"""The session around the features: capabilities, start-up in the background with progress,
options and start-up errors, the protocol channel kept clean, TCP, and shutdown."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from tests.lsp.conftest import (
    CLIENT,
    DEADLINE_S,
    OPTIONS,
    SERVER,
    Session,
    eventually,
    frame,
    listening,
    read_message,
    stop,
)

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_capabilities(lsp: Session) -> None:
    caps = lsp.init.capabilities
    assert lsp.init.server_info is not None and lsp.init.server_info.name == "shutka"
    assert caps.completion_provider is not None and "." in caps.completion_provider.trigger_characters
    assert isinstance(caps.inline_completion_provider, types.InlineCompletionOptions)
    assert caps.hover_provider and caps.workspace_symbol_provider
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.open_close and sync.change == types.TextDocumentSyncKind.Incremental and sync.save


async def test_first_index_reports_work_done_progress(lsp: Session) -> None:
    (token, reports), = lsp.client.progress_reports.items()
    assert str(token).startswith("shutka-index")
    assert isinstance(reports[0], types.WorkDoneProgressBegin) and reports[0].title == "Shutka"
    assert isinstance(reports[-1], types.WorkDoneProgressEnd) and "entries" in reports[-1].message
    assert any(isinstance(r, types.WorkDoneProgressReport) and r.percentage == 100 for r in reports)


async def test_invalid_options_are_shown_and_defaults_used(fresh_lsp: Callable[..., Awaitable[Session]]) -> None:
    session = await fresh_lsp({"threshold": "high", "colour": "red"})
    await session.ready()
    assert any(m.type == types.MessageType.Error and "initializationOptions" in m.message
               for m in session.client.messages)
    status = await session.command("shutka.status")
    assert status["server"]["options"]["threshold"] is None and status["server"]["options"]["watch"] is True


async def test_a_missing_checkpoint_is_reported_and_the_server_keeps_answering(
        fresh_lsp: Callable[..., Awaitable[Session]], tmp_path: Path) -> None:
    session = await fresh_lsp({"checkpoint": str(tmp_path / "missing.safetensors")})
    await session.ready()
    assert any("missing.safetensors" in m.message for m in session.client.messages)
    uri = session.open("src/x.ts", "const a = ")
    assert await session.complete(uri, 0, len("const a = ")) is None
    with pytest.raises(JsonRpcException) as caught:
        await session.command("shutka.status")
    assert "missing.safetensors" in caught.value.message


async def test_root_uri_fallback_and_shutdown_flushes_the_titans_memory(
        fresh_lsp: Callable[..., Awaitable[Session]]) -> None:
    session = await fresh_lsp(folders=False)
    await session.ready()
    status = await session.command("shutka.status")
    assert Path(status["workspace"]) == session.root.resolve()
    titans = session.root / ".shutka" / "titans" / "workspace_titans.pt"
    titans.unlink(missing_ok=True)
    await stop(session)
    assert titans.is_file()  # shutdown closed the runtime, which saves the memory


async def test_without_a_workspace_folder_requests_answer_empty(tiny_checkpoint: Path) -> None:
    client = make_test_lsp_client()
    await client.start_io(*SERVER, "--checkpoint", str(tiny_checkpoint))
    try:
        await client.initialize_session(types.InitializeParams(capabilities=client_capabilities(CLIENT)))
        assert any("no workspace folder" in m.message for m in client.messages)
        result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="x"))
        assert result is None
        await client.shutdown_session()
    finally:
        await client.stop()


# -- the protocol channel ------------------------------------------------------------------------


async def test_stdout_carries_protocol_bytes_only(basic_workspace: Path, tiny_checkpoint: Path) -> None:
    """A short session with verbose logging; every byte on stdout must parse as framed JSON-RPC."""
    proc = await asyncio.create_subprocess_exec(
        *SERVER, "--checkpoint", str(tiny_checkpoint), "-vv", stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stderr_task = asyncio.create_task(proc.stderr.read())
    seen: list[dict[str, Any]] = []

    async def request(msg_id: int, method: str, params: Any) -> dict[str, Any]:
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        while True:
            message = await asyncio.wait_for(read_message(proc.stdout), DEADLINE_S)
            assert message is not None, "the server closed stdout"
            seen.append(message)
            if message.get("id") == msg_id and "method" not in message:
                return message
            if "method" in message and "id" in message:  # a request to us (progress token): accept it
                proc.stdin.write(frame({"jsonrpc": "2.0", "id": message["id"], "result": None}))

    def notify(method: str, params: Any) -> None:
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    uri = (basic_workspace / "src" / "main.ts").as_uri()
    init = await request(1, "initialize", {"processId": os.getpid(), "capabilities": {"window": {"workDoneProgress": True}},
                                           "workspaceFolders": [{"uri": basic_workspace.as_uri(), "name": "basic"}],
                                           "initializationOptions": OPTIONS})
    assert "capabilities" in init["result"]
    notify("initialized", {})
    notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "typescript", "version": 1,
                                                     "text": "const p = add("}})
    completion = await request(2, "textDocument/completion", {"textDocument": {"uri": uri},
                                                              "position": {"line": 0, "character": 14}})
    assert "result" in completion
    assert "result" in await request(3, "workspace/executeCommand", {"command": "shutka.status"})
    assert "result" in await request(4, "shutdown", None)
    notify("exit", None)
    await proc.stdin.drain()
    proc.stdin.close()
    while (message := await asyncio.wait_for(read_message(proc.stdout), DEADLINE_S)) is not None:
        seen.append(message)
    assert await asyncio.wait_for(proc.wait(), DEADLINE_S) == 0
    stderr = await stderr_task
    assert b"DEBUG" in stderr  # the logs went somewhere else
    assert any(m.get("method") == "$/progress" for m in seen)


# -- TCP -----------------------------------------------------------------------------------------


async def test_tcp_transport(basic_workspace: Path, tiny_checkpoint: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *SERVER, "--tcp", "127.0.0.1:0", "--checkpoint", str(tiny_checkpoint), stderr=subprocess.PIPE)
    assert proc.stderr is not None
    try:
        address = await asyncio.wait_for(listening(proc.stderr), DEADLINE_S)  # the readiness signal
        host, port = address.rsplit(":", 1)
        client = make_test_lsp_client()
        await client.start_tcp(host, int(port))
        await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities(CLIENT), initialization_options=OPTIONS,
            workspace_folders=[types.WorkspaceFolder(uri=basic_workspace.as_uri(), name="basic")]))
        session = Session(client, basic_workspace, types.InitializeResult(capabilities=types.ServerCapabilities()))
        await session.ready()
        uri = session.open("src/tcp.ts", 'import { add, origin } from "./point";\nconst p = add(')
        result = await eventually(lambda: session.complete(uri, 1, len("const p = add(")),
                                  lambda r: r is not None and bool(r.items))
        assert result is not None
        await client.shutdown_async(None)
        client.exit(None)
        assert await asyncio.wait_for(proc.wait(), DEADLINE_S) == 0
        await client.stop()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_second_workspace_folder_is_named_as_not_indexed(tiny_checkpoint: Path, basic_workspace: Path,
                                                                 tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    client = make_test_lsp_client()
    await client.start_io(*SERVER, "--checkpoint", str(tiny_checkpoint))
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities(CLIENT), initialization_options=OPTIONS,
            workspace_folders=[types.WorkspaceFolder(uri=basic_workspace.as_uri(), name="basic"),
                               types.WorkspaceFolder(uri=other.as_uri(), name="other")]))
        assert any("first workspace folder only (basic)" in m.message and "other" in m.message
                   for m in client.messages)
        await client.shutdown_session()
    finally:
        await client.stop()
