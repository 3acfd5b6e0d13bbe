"""What a request reads: a URI's workspace-relative path, its text (the open buffer, else the workspace's
file on disk, never more than `[completion] max_document_bytes`) and the cursor as a `CompletionRequest`.

Shared by the feature handlers; nothing here runs blocking model work (a file is read from disk, up to
the size limit, when no buffer is open).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from assistant.types import CompletionRequest
from lsp import convert
from lsp.documents import read_head
from lsp.server import ShutkaLanguageServer


def rel_path(ls: ShutkaLanguageServer, uri: str) -> str | None:
    """Workspace-relative path of a `file:` URI inside the workspace (None otherwise)."""
    path = convert.uri_to_path(uri)
    if path is None or ls.runtime is None:
        return None
    root = ls.runtime.workspace.root
    for resolve in (False, True):  # resolving (a syscall per folder) only when the path is not under root as given
        with contextlib.suppress(ValueError):
            rel = (path.resolve() if resolve else path).relative_to(root)
            if ".." not in rel.parts:
                return rel.as_posix()
    return None


def text_of(ls: ShutkaLanguageServer, uri: str) -> str | None:
    """The buffer (open documents win), else the file on disk if it lies in the workspace; None if
    there is neither. Never more than `[completion] max_document_bytes` (see SizeLimit)."""
    found = buffer(ls, uri)
    return found[0] if found is not None else None


def buffer(ls: ShutkaLanguageServer, uri: str) -> tuple[str, int | None] | None:
    """`text_of` and, when the document was cut to the size limit, the number of lines kept."""
    doc = ls.workspace.text_documents.get(unquote(uri))
    if doc is not None:
        return doc.source, ls.limits.kept(uri)
    path = convert.uri_to_path(uri)
    if path is None or ls.runtime is None:
        return None
    root = os.path.realpath(ls.runtime.workspace.root)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root or not os.path.isfile(real):
        return None  # a client asks about its own buffers and the workspace, not about any file
    try:
        text, cut = read_head(Path(real), ls.limits.limit)
    except OSError:
        return None
    return text, text.count("\n") if cut else None


async def request_at(ls: ShutkaLanguageServer, uri: str, position: types.Position,
                     **kw: Any) -> CompletionRequest | None:
    """The cursor as a CompletionRequest, after start-up; None when there is no runtime or no
    such document; InvalidParams when the position is not in the document."""
    if await ls.ready() is None:
        return None
    found = buffer(ls, uri)
    if found is None:
        return None
    text, kept = found
    if kept is not None and position.line >= kept:
        return None  # past the head of a document cut to the size limit: never read
    try:
        line, column = convert.server_position(text, position, ls.encoding)
    except convert.PositionOutOfRange as exc:
        raise JsonRpcInvalidParams(f"{uri}: {exc}") from exc
    return CompletionRequest(text, line, column, rel_path(ls, uri), **kw)
