"""didOpen / didChange / didSave / didClose: open buffers are context and win over the disk.

pygls keeps each buffer's text (full and incremental changes); these handlers only hand it to the
assistant: at once on open and close, debounced per document on change, a sync on save.
"""

from __future__ import annotations

from lsprotocol import types

from lsp.server import ShutkaLanguageServer


def register(server: ShutkaLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ShutkaLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.open_document(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ShutkaLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.change_document(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: ShutkaLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.save_document(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ShutkaLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.close_document(params.text_document.uri)
