"""Malformed requests get JSON-RPC errors or empty results, and the server keeps serving."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import Future
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import DEADLINE_S, Session

pytestmark = pytest.mark.asyncio(loop_scope="package")

INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
TEXT = 'import { add, origin } from "./point";\nconst p = add('


async def raw_request(session: Session, method: str, params: Any) -> Any:
    """Send `params` exactly as given (the client's typed `send_request` would refuse to serialise
    them), and wait for the answer the way `send_request` does."""
    protocol = session.client.protocol
    msg_id = f"raw-{uuid.uuid4().hex[:8]}"
    future: Future[Any] = Future()
    protocol._request_futures[msg_id] = future
    protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return await asyncio.wait_for(asyncio.wrap_future(future), DEADLINE_S)


async def still_serving(session: Session) -> None:
    uri = session.open("src/alive.ts", TEXT)
    result = await session.complete(uri, 1, len("const p = add("))
    assert result is not None and result.items
    session.close(uri)


@pytest.mark.parametrize("params", [
    {"textDocument": {"uri": "file:///x.ts"}, "position": {"line": "three", "character": 0}},
    {"textDocument": {}, "position": {"line": 0, "character": 0}},
    {"position": {"line": 0, "character": 0}},
    {"textDocument": {"uri": "file:///x.ts"}, "position": {"line": -1, "character": 0}},
])
async def test_completion_with_bad_params_is_invalid_params(lsp: Session, params: dict[str, Any]) -> None:
    with pytest.raises(JsonRpcException) as caught:
        await raw_request(lsp, types.TEXT_DOCUMENT_COMPLETION, params)
    assert caught.value.code == INVALID_PARAMS
    await still_serving(lsp)


@pytest.mark.parametrize("line,character", [(99, 0), (1, 500)])
async def test_a_position_outside_the_document_is_invalid_params(lsp: Session, line: int, character: int) -> None:
    uri = lsp.open("src/range.ts", TEXT)
    with pytest.raises(JsonRpcException) as caught:
        await lsp.complete(uri, line, character)
    assert caught.value.code == INVALID_PARAMS
    assert "outside the document" in caught.value.message or "past the end" in caught.value.message
    lsp.close(uri)
    await still_serving(lsp)


async def test_an_unknown_document_gets_empty_results(lsp: Session) -> None:
    uri = (lsp.root / "src" / "never_opened_nor_saved.ts").as_uri()
    assert await lsp.complete(uri, 0, 0) is None
    hover = await lsp.client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=0)))
    assert hover is None
    await still_serving(lsp)


async def test_an_unknown_method_is_method_not_found(lsp: Session) -> None:
    with pytest.raises(JsonRpcException) as caught:
        await raw_request(lsp, "shutka/noSuchMethod", {})
    assert caught.value.code == METHOD_NOT_FOUND
    await still_serving(lsp)


async def test_bad_notifications_are_ignored(lsp: Session) -> None:
    send = lsp.client.protocol._send_data
    send({"jsonrpc": "2.0", "method": types.TEXT_DOCUMENT_DID_CHANGE, "params": {"textDocument": {"uri": 5}}})
    send({"jsonrpc": "2.0", "method": types.TEXT_DOCUMENT_DID_CLOSE,
          "params": {"textDocument": {"uri": "file:///not/open.ts"}}})
    send({"jsonrpc": "2.0", "method": "shutka/noSuchNotification", "params": {}})
    await still_serving(lsp)
