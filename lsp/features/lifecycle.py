"""initialize / initialized / shutdown: start the runtime in the background, show its progress,
close it (flushing the bank and the Titans memory) on shutdown."""

from __future__ import annotations

from lsprotocol import types

from lsp.server import ShutkaLanguageServer


def register(server: ShutkaLanguageServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: ShutkaLanguageServer, params: types.InitializeParams) -> None:
        """Workspace folders (first = the workspace; rootUri fallback) and initializationOptions;
        the model loads and the first index runs in the background."""
        ls.begin(params)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: ShutkaLanguageServer, params: types.InitializedParams) -> None:
        """The client may now receive requests: open the first index's progress bar."""
        if ls.progress is not None:
            await ls.progress.start()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: ShutkaLanguageServer, params: None) -> None:
        """Close the runtime: the watcher stops, the bank and the Titans memory are flushed."""
        await ls.stop()
