"""Buffers and the disk: a file written by another process reaches completions through the watcher;
a save goes through the same sync path as `shutka watch`; a buffer over the size limit is read up to it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from lsprotocol import types

from tests.conftest import TINY_TS
from tests.lsp.conftest import Session, eventually

pytestmark = pytest.mark.asyncio(loop_scope="package")

WANTED = 'makeOkapi("forest", 7);'
WRITER = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2], encoding='utf-8')"


def write_elsewhere(path: str, text: str) -> None:
    """Write a file from another process, as a codemod or `git checkout` would."""
    subprocess.run([sys.executable, "-c", WRITER, path, text], check=True, timeout=60)


async def test_a_file_changed_on_disk_by_another_process_is_reflected(lsp: Session) -> None:
    b = lsp.open("src/okapi_b.ts", "export function g() {\n  const okapi = ")
    column = len("  const okapi = ")
    assert not any(WANTED in t for t in await lsp.texts(b, 1, column))
    write_elsewhere(str(lsp.root / "src" / "okapi.ts"), f"export function f() {{\n  const okapi = {WANTED}\n}}\n")
    texts = await eventually(lambda: lsp.texts(b, 1, column), lambda ts: any(t.endswith(WANTED) for t in ts))
    assert any(t == f"const okapi = {WANTED}" for t in texts)
    lsp.close(b)


async def test_did_save_syncs_the_file_without_the_watcher(
        fresh_lsp: Callable[..., Awaitable[Session]]) -> None:
    session = await fresh_lsp({"threshold": 0.0, "watch": False})
    await session.ready()
    status = await session.command("shutka.status")
    assert status["server"]["watching"] is False
    rel = "src/saved.ts"
    text = "export const saved = 1;\n"
    uri = session.open(rel, text)
    (session.root / rel).write_text(text, encoding="utf-8")  # the editor writes the file, then says so
    session.client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))

    async def synced_paths() -> list[str]:
        return (await session.command("shutka.status"))["last_sync"]["paths"]

    await eventually(synced_paths, lambda paths: rel in paths)


HUGE_BYTES = 12_500_000
LIMIT = 2_000_000
"""`[completion] max_document_bytes`, the default."""


def _rss_mb(pid: int, field: str) -> float | None:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    line = next(row for row in status.read_text().splitlines() if row.startswith(field))
    return int(line.split()[1]) / 1024


async def test_a_huge_buffer_is_read_up_to_the_limit_and_slows_nothing(lsp: Session) -> None:
    """The reported attack: a 12.5 MB buffer took 8 s, held 2.1 GB and slowed the next request to 9.6 s.
    Now only its first 2 MB are read (the client is told once), and other documents are not slowed."""
    unit = "".join(TINY_TS)
    text = (unit * (HUGE_BYTES // len(unit) + 1))[:HUGE_BYTES]
    text = text[:text.rfind("\n") + 1] + "const q = add("
    lines = text.count("\n")
    pid = lsp.client._server.pid  # type: ignore[attr-defined]
    rss_before = _rss_mb(pid, "VmRSS")
    loop = asyncio.get_running_loop()

    started = loop.time()
    uri = lsp.open("src/huge_buffer.ts", text)
    async def told() -> list[types.ShowMessageParams]:
        return [m for m in lsp.client.messages if "huge_buffer.ts" in m.message]

    shown = await eventually(told, bool, timeout=20)
    assert len(shown) == 1 and shown[0].type == types.MessageType.Warning
    assert "max_document_bytes" in shown[0].message and "12.5 MB" in shown[0].message
    inside = await lsp.complete(uri, 1000, len(text.split("\n", 1001)[1000]))
    assert inside is None or isinstance(inside, types.CompletionList)
    assert await lsp.complete(uri, lines, len("const q = add(")) is None  # past the head: never read
    assert loop.time() - started < 20  # was minutes on this machine's two cores

    normal = lsp.open("src/after_huge.ts", 'import { add, origin } from "./point";\nconst p = add(')
    started = loop.time()
    result = await lsp.complete(normal, 1, len("const p = add("))
    assert result is not None and result.items
    assert loop.time() - started < 5

    # an edit past the head is dropped; an edit inside it is read; the user is not told again
    lsp.client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=lines, character=0), end=types.Position(line=lines, character=0)),
            text="// past the head\n"),
            types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
            text="const first = add(\n")]))
    first = await lsp.complete(uri, 0, len("const first = add("))
    assert first is None or isinstance(first, types.CompletionList)
    assert len(await told()) == 1
    if rss_before is not None:
        assert (_rss_mb(pid, "VmHWM") or 0) - rss_before < 400  # was about 1 GB more
    lsp.close(uri)
    lsp.close(normal)

