"""textDocument/hover: the definition of the identifier under the cursor, reached through the
code graph (imports first, then the same file, then anywhere in the workspace)."""

from __future__ import annotations

from lsprotocol import types

from lsp import convert
from lsp.buffers import request_at
from lsp.server import ShutkaLanguageServer

UNNAMED = "<untitled>"
"""Path given to the graph for a buffer outside the workspace (it imports nothing we know)."""


def register(server: ShutkaLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: ShutkaLanguageServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        request = await request_at(ls, uri, params.position)
        if request is None:
            return None
        hit = await ls.call("queries", ls.assistant.definition_at, request.path or UNNAMED, request.text,
                            request.line, request.column)
        if hit is None:
            return None
        return convert.hover(hit, convert.lines_of(request.text), request.line, request.column,
                             ls.markdown("hover"), ls.encoding)
