"""textDocument/completion (line completions as items) and textDocument/inlineCompletion (ghost
text, LSP 3.18). Thin: the cursor becomes a CompletionRequest (`lsp.buffers`), the engine runs in the
model pool after other buffers' pending edits, the result is converted by `lsp.convert`. A cancelled
request returns at once; if it had not started yet, it never runs. So does a superseded one: a request
still waiting for the model when a newer one for the same document arrives (the user typed on, and a
client that does not cancel would otherwise queue a stale request per keystroke) is answered empty.
Ghost text stays while the user types what it shows: the next automatic request on that line answers
with the rest of it at once, without the engine, until a typed character differs (no flicker)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from lsprotocol import types

from assistant.types import CompletionRequest, CompletionResult
from lsp import convert
from lsp.buffers import request_at
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
        request = await request_at(ls, uri, params.position)
        if request is None:
            return None
        result = await complete(ls, uri, request, "completion")
        if result is None:
            return types.CompletionList(is_incomplete=True, items=[])
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
        request = await request_at(ls, uri, params.position, use_gate=not invoked)
        if request is None:
            return None
        kept = None if invoked else typed_through(ls.ghosts.get(uri), request)
        if kept is not None:
            ls.assistant.remember(kept.request_id, request)
            return types.InlineCompletionList(items=convert.inline_items(kept, request, uri, ls.encoding))
        result = await complete(ls, uri, request, "inline")
        if result is None:
            return types.InlineCompletionList(items=[])
        ls.ghosts.pop(uri, None)
        if not invoked and result.items:
            ls.ghosts[uri] = Ghost.shown(request, result)
        return types.InlineCompletionList(items=convert.inline_items(result, request, uri, ls.encoding))


async def complete(ls: ShutkaLanguageServer, uri: str, request: CompletionRequest, kind: str
                   ) -> CompletionResult | None:
    """Pending edits of other buffers first (they are context), then the engine, in the model pool; the
    request is remembered by its result's id for the feedback commands. None when a newer request of
    the same `kind` ('completion' or 'inline': an editor may ask both per keystroke) for `uri` arrived
    before this one's turn came (it never ran)."""
    key = (kind, uri)
    turn = ls.completion_turns[key] = ls.completion_turns.get(key, 0) + 1
    await ls.documents.flush(skip=uri)

    def run() -> CompletionResult | None:
        if ls.completion_turns.get(key) != turn:
            return None  # superseded while it waited
        return ls.assistant.complete(request)

    result = await ls.call("model", run)
    if result is not None:
        ls.assistant.remember(result.request_id, request)
    return result


@dataclass(frozen=True, slots=True)
class Ghost:
    """The ghost text last shown in a document: its line, a digest of the text above that line, what was
    typed on it before the cursor, and the answer (its first item is the ghost text)."""

    line: int
    above: str
    typed: str
    result: CompletionResult

    @classmethod
    def shown(cls, request: CompletionRequest, result: CompletionResult) -> Ghost:
        above, typed = _cursor_line(request)
        return cls(request.line, above, typed, result)


def typed_through(ghost: Ghost | None, request: CompletionRequest) -> CompletionResult | None:
    """The ghost text's answer with what has since been typed cut off its start, when the cursor is on the
    same line, nothing above it changed, and the new characters are exactly the start of the ghost text
    (and some of it is left); else None."""
    if ghost is None or request.line != ghost.line:
        return None
    above, typed = _cursor_line(request)
    first = ghost.result.items[0]
    extra = typed[len(ghost.typed):]
    if above != ghost.above or not extra or not typed.startswith(ghost.typed) or not first.text.startswith(extra):
        return None
    rest = first.text[len(extra):]
    if not rest.split("\n", 1)[0].strip():
        return None
    return replace(ghost.result, items=(replace(first, text=rest),), latency_ms=0.0)


def _cursor_line(request: CompletionRequest) -> tuple[str, str]:
    """(digest of the text above the cursor's line, the line up to the cursor)."""
    lines = request.text.split("\n", request.line + 1)
    head = "\n".join(lines[: request.line])
    line = lines[request.line] if request.line < len(lines) else ""
    return hashlib.blake2b(head.encode("utf-8", "replace"), digest_size=16).hexdigest(), line[: request.column]
