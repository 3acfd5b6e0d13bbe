"""Start the real server (`python -m lsp`) over stdio with pytest-lsp's client, on a copy of the basic
workspace and the tiny checkpoint.

`lsp` is one server shared by the whole package (start-up imports torch: seconds); tests that change
the workspace use their own file names, so they do not see each other. `fresh_lsp` starts a server
of its own for tests that need one (start-up errors, options). Waiting is always on a condition with
a deadline (`eventually`), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from tests.conftest import BASIC_WORKSPACE, write_workspace

T = TypeVar("T")

SERVER = [sys.executable, "-m", "lsp"]
CLIENT = "visual-studio-code"
"""Capabilities the test client claims (markdown, work-done progress, like VS Code)."""
DEADLINE_S = 30.0
"""Longest wait for a condition (start-up, an index commit, a watcher event) on a busy 2-core machine."""
POLL_S = 0.05
OPTIONS = {"threshold": 0.0, "debounceMs": 100}
"""Show every completion: the tiny random model is never confident, and the tests check plumbing."""
HEADER = re.compile(rb"^([A-Za-z-]+): ([^\r\n]*)\r\n$")


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool],
                     timeout: float = DEADLINE_S) -> T:
    """Call `probe` until `accept` says yes; fail after `timeout` with the last value seen."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout:.0f} s; last value: {value!r}")
        await asyncio.sleep(POLL_S)


def frame(message: dict[str, Any] | bytes) -> bytes:
    """One LSP message on the wire (bytes are sent as the body exactly as given)."""
    body = message if isinstance(message, bytes) else json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def read_message(stream: asyncio.StreamReader) -> dict[str, Any] | None:
    """One message, parsed strictly: headers, a blank line, exactly Content-Length bytes of JSON-RPC;
    None at the end of the stream."""
    first = await stream.readline()
    if first == b"":
        return None
    headers, line = {}, first
    while line != b"\r\n":
        match = HEADER.match(line)
        assert match, f"not a header: {line!r}"
        headers[match.group(1).lower()] = match.group(2)
        line = await stream.readline()
    body = await stream.readexactly(int(headers[b"content-length"]))
    message = json.loads(body)
    assert message["jsonrpc"] == "2.0"
    return message


async def listening(stderr: asyncio.StreamReader) -> str:
    """The address `shutka lsp --tcp` announces on stderr once it listens (its readiness signal)."""
    while line := await stderr.readline():
        if match := re.search(rb"listening on (\S+)", line):
            return match.group(1).decode()
    raise AssertionError("the server exited before listening")


@dataclass
class Session:
    """A started, initialized server and the workspace it serves."""

    client: LanguageClient
    root: Path
    init: types.InitializeResult
    stopped: bool = False

    def uri(self, rel: str) -> str:
        return (self.root / rel).as_uri()

    def open(self, rel: str, text: str, version: int = 1) -> str:
        uri = self.uri(rel)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="typescript", version=version, text=text)))
        return uri

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))

    async def complete(self, uri: str, line: int, character: int) -> types.CompletionList | None:
        result = await self.client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)))
        assert result is None or isinstance(result, types.CompletionList)
        return result

    async def texts(self, uri: str, line: int, character: int) -> list[str]:
        """The new text of every completion item at the position."""
        result = await self.complete(uri, line, character)
        return [item.text_edit.new_text for item in (result.items if result else []) if item.text_edit]

    async def command(self, name: str, *args: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(args) if args else None))

    async def ready(self) -> None:
        """Wait for the end of the first index's progress."""
        await eventually(self._progress_ended, bool)

    async def _progress_ended(self) -> bool:
        return any(isinstance(v, types.WorkDoneProgressEnd)
                   for values in self.client.progress_reports.values() for v in values)


async def start(root: Path, checkpoint: Path, options: Any = None, *, folders: bool = True,
                extra_args: tuple[str, ...] = ()) -> Session:
    client = make_test_lsp_client()
    await client.start_io(*SERVER, "--checkpoint", str(checkpoint), *extra_args)
    params = types.InitializeParams(
        capabilities=client_capabilities(CLIENT),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)] if folders else None,
        root_uri=None if folders else root.as_uri(),
        initialization_options=OPTIONS if options is None else options)
    init = await asyncio.wait_for(client.initialize_session(params), DEADLINE_S)
    return Session(client, root, init)


async def stop(session: Session) -> None:
    """shutdown, exit, and wait for the process (once)."""
    if session.stopped:
        return
    session.stopped = True
    await asyncio.wait_for(session.client.shutdown_session(), DEADLINE_S)
    await session.client.stop()


@pytest.fixture(scope="package")
def lsp_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The basic workspace, copied once for the shared server."""
    return write_workspace(tmp_path_factory.mktemp("lsp") / "basic", BASIC_WORKSPACE)


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def lsp(lsp_workspace: Path, tiny_checkpoint: Path) -> AsyncIterator[Session]:
    """The shared server, indexed and watching."""
    session = await start(lsp_workspace, tiny_checkpoint)
    await session.ready()
    yield session
    await stop(session)


@pytest_asyncio.fixture(loop_scope="package")
async def fresh_lsp(request: pytest.FixtureRequest, basic_workspace: Path,
                    tiny_checkpoint: Path) -> AsyncIterator[Callable[..., Awaitable[Session]]]:
    """Start a server of the test's own: `await fresh_lsp(options=..., folders=...)`."""
    sessions: list[Session] = []

    async def factory(options: Any = None, **kw: Any) -> Session:
        session = await start(basic_workspace, tiny_checkpoint, options, **kw)
        sessions.append(session)
        return session

    yield factory
    for session in sessions:
        await stop(session)
