"""workspace/executeCommand, textDocument/hover and workspace/symbol through the real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.conftest import BASIC_WORKSPACE
from tests.lsp.conftest import Session

pytestmark = pytest.mark.asyncio(loop_scope="package")

INVALID_PARAMS = -32602
COMMANDS = {"shutka.reindex", "shutka.titans.save", "shutka.titans.load", "shutka.titans.forget",
            "shutka.bank.stats", "shutka.status", "shutka.completionAccepted", "shutka.completionRejected"}


async def test_every_command_is_advertised(lsp: Session) -> None:
    provider = lsp.init.capabilities.execute_command_provider
    assert provider is not None and set(provider.commands) >= COMMANDS


async def test_status_bank_stats_and_reindex(lsp: Session) -> None:
    status = await lsp.command("shutka.status")
    assert Path(status["workspace"]) == lsp.root.resolve()
    assert status["server"]["ready"] is True and status["server"]["watching"] is True
    assert status["server"]["options"]["threshold"] == 0.0
    stats = await lsp.command("shutka.bank.stats")
    assert stats["entries"] > 0 and stats["by_kind"]["line"] > 0
    report = await lsp.command("shutka.reindex")
    assert {"generation", "added", "removed", "latency_ms"} <= set(report)


async def test_titans_save_load_and_forget(lsp: Session) -> None:
    saved = await lsp.command("shutka.titans.save", "memory_titans.pt")
    titans = (lsp.root / ".shutka" / "titans").resolve()
    assert Path(saved["path"]) == titans / "memory_titans.pt" and Path(saved["path"]).is_file()
    default = await lsp.command("shutka.titans.save")
    assert Path(default["path"]).is_file()
    loaded = await lsp.command("shutka.titans.load", saved["path"])
    assert loaded["episodes"] >= 0
    assert (await lsp.command("shutka.titans.load", "memory_titans.pt"))["loaded"] == saved["path"]
    forgotten = await lsp.command("shutka.titans.forget", 1)
    assert forgotten["forgotten"] >= 0 and forgotten["episodes"] >= 0
    assert (await lsp.command("shutka.titans.forget", {"n": 0}))["forgotten"] == 0


@pytest.mark.parametrize("name,args,fragment", [
    ("shutka.titans.forget", (), "missing argument"),
    ("shutka.titans.forget", ("many",), "must be int"),
    ("shutka.titans.forget", (-1,), "n >= 0"),
    ("shutka.titans.load", (), "missing argument"),
    ("shutka.titans.load", ("/nonexistent/memory_titans.pt",), ""),
    ("shutka.completionAccepted", ({"text": "x", "requestId": "unknown"},), "rebuild"),
    ("shutka.nonsense", (), "not defined"),
])
async def test_bad_command_calls_are_errors(lsp: Session, name: str, args: tuple, fragment: str) -> None:
    with pytest.raises(JsonRpcException) as caught:
        await lsp.command(name, *args)
    assert fragment in caught.value.message
    assert (await lsp.command("shutka.bank.stats"))["entries"] > 0  # still serving


@pytest.mark.parametrize("target", ["{tmp}/outside_titans.pt", "../../outside_titans.pt",
                                    "{root}/src/outside_titans.pt", "link/outside_titans.pt", "..", "."])
async def test_titans_save_writes_only_inside_the_titans_folder(lsp: Session, tmp_path: Path, target: str) -> None:
    """The reported attack: any peer could write a 1 MB file wherever the user can."""
    titans = lsp.root / ".shutka" / "titans"
    titans.mkdir(parents=True, exist_ok=True)
    link = titans / "link"  # a symlink inside must not lead outside
    link.unlink(missing_ok=True)
    link.symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(JsonRpcException) as caught:
        await lsp.command("shutka.titans.save", target.format(tmp=tmp_path, root=lsp.root))
    assert caught.value.code == INVALID_PARAMS and "'path'" in caught.value.message
    assert list(tmp_path.iterdir()) == []
    assert not (lsp.root / "src" / "outside_titans.pt").exists() and not (lsp.root / "outside_titans.pt").exists()
    link.unlink()


async def test_titans_load_reads_only_inside_the_state_and_reveals_nothing(lsp: Session, tmp_path: Path) -> None:
    """/etc/passwd exists, the other does not: the answers must not tell them apart."""
    messages = []
    for path in ("/etc/passwd", "/etc/no-such-file-here", str(tmp_path), "../../src/main.ts", "../index.sqlite",
                 "x" * 5000):
        with pytest.raises(JsonRpcException) as caught:
            await lsp.command("shutka.titans.load", path)
        assert caught.value.code == INVALID_PARAMS and "'path'" in caught.value.message
        messages.append(caught.value.message)
    assert len(set(messages[:5])) == 1
    assert "passwd" not in messages[0] and "root:" not in messages[0]
    with pytest.raises(JsonRpcException) as caught:
        await lsp.command("shutka.titans.load", "no_such_titans.pt")  # inside: saying so reveals nothing
    assert caught.value.code == INVALID_PARAMS and "not a file" in caught.value.message


async def test_requests_do_not_read_files_outside_the_workspace(lsp: Session) -> None:
    """A completion or hover on a closed file is answered from the disk only inside the workspace."""
    assert await lsp.complete("file:///etc/passwd", 0, 4) is None
    outside = (lsp.root / ".." / ".." / "etc" / "passwd").as_uri()
    assert await lsp.complete(outside, 0, 4) is None
    hover = await lsp.client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri="file:///etc/passwd"), position=types.Position(line=0, character=1)))
    assert hover is None
    payload = {"text": "x", "requestId": "unknown", "uri": "file:///etc/passwd", "line": 0, "character": 4}
    with pytest.raises(JsonRpcException):
        await lsp.command("shutka.completionAccepted", payload)


async def test_accepting_and_rejecting_items_reaches_the_assistant(lsp: Session) -> None:
    text = 'import { add, origin } from "./point";\n\nexport function h() {\n  const p = add(origin, '
    uri = lsp.open("src/accept.ts", text)
    result = await lsp.complete(uri, 3, len("  const p = add(origin, "))
    assert result is not None and result.items
    before = (await lsp.command("shutka.status"))["server"]["feedback"]
    command = result.items[0].command
    accepted = await lsp.command(command.command, *command.arguments)
    assert accepted["accepted"] is True and accepted["episodes"] >= 0
    rejected = await lsp.command("shutka.completionRejected", *result.items[-1].command.arguments)
    assert rejected == {"accepted": False, "episodes": 0, "surprise": 0.0}
    # a payload whose request the server no longer remembers is rebuilt from the buffer
    payload = {**command.arguments[0], "requestId": "forgotten"}
    assert (await lsp.command("shutka.completionAccepted", payload))["accepted"] is True
    after = (await lsp.command("shutka.status"))["server"]["feedback"]
    assert after == {"accepted": before["accepted"] + 2, "rejected": before["rejected"] + 1}
    lsp.close(uri)


async def test_hover_shows_the_definition_through_the_code_graph(lsp: Session) -> None:
    text = BASIC_WORKSPACE["src/main.ts"]
    uri = lsp.open("src/main.ts", text)
    line = 6
    character = text.split("\n")[line].index("Circle") + 2
    hover = await lsp.client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)))
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "src/shapes.ts:8" in hover.contents.value and "export class Circle" in hover.contents.value
    assert hover.range is not None and hover.range.start.character == character - 2
    nothing = await lsp.client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=0)))
    assert nothing is None
    lsp.close(uri)


async def test_workspace_symbol_searches_the_bank(lsp: Session) -> None:
    symbols = await lsp.client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Circ"))
    assert symbols
    circle = next(s for s in symbols if s.name == "Circle")
    assert circle.kind == types.SymbolKind.Class
    assert circle.location.uri == (lsp.root / "src" / "shapes.ts").resolve().as_uri()
    assert circle.location.range.start.line == 7
    assert {"area", "constructor"} <= {s.name for s in symbols if s.container_name == "Circle"}
    assert await lsp.client.workspace_symbol_async(types.WorkspaceSymbolParams(query="NoSuchThing")) == []
