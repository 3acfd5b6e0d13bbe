"""Buffers and the disk: a file written by another process reaches completions through the watcher;
a save goes through the same sync path as `shutka watch`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable

import pytest
from lsprotocol import types

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
