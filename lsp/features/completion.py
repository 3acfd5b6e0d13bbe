"""textDocument/completion (line completions as items) and textDocument/inlineCompletion (ghost
text, LSP 3.18). Thin: the cursor becomes a CompletionRequest, the engine runs in the model pool,
the result is converted by `lsp.convert`. A cancelled request returns at once; if it had not
started yet, it never runs."""

from __future__ import annotations

from lsprotocol import types

from lsp import convert
from lsp.server import ShutkaLanguageServer

TRIGGER_CHARACTERS = [".", "(", ",", "=", ":", "{", "<", " "]
"""Besides identifier characters (every client triggers on those)."""


def register(server: ShutkaLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS, resolve_provider=False))
    async def completion(ls: ShutkaLanguageServer, params: types.CompletionParams) -> types.CompletionList | None:
        """The rest of the line (or block) at the cursor, most confident first. The list is marked
        incomplete: the answer depends on the whole typed line, so the client asks again as it grows."""
        uri = params.text_document.uri
        request = await ls.request_at(uri, params.position)
        if request is None:
            return None
        result = await ls.complete(uri, request)
        return types.CompletionList(is_incomplete=True, items=convert.completion_items(
            result, request, uri, ls.encoding, ls.markdown("completion")))

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: ShutkaLanguageServer,
                                params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        """Ghost text at the cursor. Typing (automatic trigger) shows only what clears the confidence
        gate; an explicit request (invoked) shows the best candidates even below it."""
        if not ls.options.inline_completion:
            return None
        uri = params.text_document.uri
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        request = await ls.request_at(uri, params.position, use_gate=not invoked)
        if request is None:
            return None
        result = await ls.complete(uri, request)
        return types.InlineCompletionList(items=convert.inline_items(result, request, uri, ls.encoding))
