"""workspace/symbol: definitions from the bank's code graph whose name contains the query."""

from __future__ import annotations

from lsprotocol import types

from lsp import convert
from lsp.server import ShutkaLanguageServer

SYMBOL_LIMIT = 200
"""Most symbols returned per query (best matches first)."""


def register(server: ShutkaLanguageServer) -> None:
    @server.feature(types.WORKSPACE_SYMBOL)
    async def workspace_symbol(ls: ShutkaLanguageServer,
                               params: types.WorkspaceSymbolParams) -> list[types.WorkspaceSymbol] | None:
        runtime = await ls.ready()
        if runtime is None:
            return None
        hits = await ls.call("queries", ls.assistant.symbols, params.query, SYMBOL_LIMIT)
        found = (convert.workspace_symbol(hit, runtime.workspace.root) for hit in hits)
        return [symbol for symbol in found if symbol is not None]
