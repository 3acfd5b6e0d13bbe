"""One module per LSP feature group, and `create_server()`, which registers them all on a new server.

Each module exposes `register(server)`, whose handlers read the document (`lsp.buffers`), call the
`Assistant` facade in a worker pool and convert with `lsp.convert`; they see the server only as the
object they are handed (the server module imports none of them).
"""

from __future__ import annotations

from pathlib import Path

from lsp.features import commands, completion, document_sync, hover, lifecycle, symbols
from lsp.server import ShutkaLanguageServer

FEATURES = (lifecycle, document_sync, completion, hover, symbols, commands)
"""The feature modules, each with `register(server)`, in registration order."""


def create_server(checkpoint: Path | None = None) -> ShutkaLanguageServer:
    """A server with every feature registered."""
    server = ShutkaLanguageServer(checkpoint=checkpoint)
    for feature in FEATURES:
        feature.register(server)
    return server
