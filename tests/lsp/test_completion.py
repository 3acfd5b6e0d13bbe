"""textDocument/completion and textDocument/inlineCompletion through the real server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lsprotocol import types

from tests.lsp.conftest import Session, eventually

pytestmark = pytest.mark.asyncio(loop_scope="package")

B_TEXT = 'import { add, origin } from "./point";\n\nexport function g() {\n  const p = add('


async def test_items_carry_edit_source_snippet_order_and_command(lsp: Session) -> None:
    uri = lsp.open("src/items.ts", B_TEXT)
    result = await lsp.complete(uri, 3, len("  const p = add("))
    assert result is not None and result.items
    confidences = []
    for item in result.items:
        edit = item.text_edit
        assert isinstance(edit, types.TextEdit)
        # it replaces what is typed on the line (from the first non-blank) up to the cursor
        assert edit.range.start == types.Position(line=3, character=2)
        assert edit.range.end == types.Position(line=3, character=len("  const p = add("))
        assert edit.new_text.startswith("const p = add(")
        assert item.label == edit.new_text.split("\n")[0].strip() or item.label.endswith("…")
        source, _, percent = item.detail.partition(" · ")
        assert source == "generated" or ":" in source
        confidences.append(int(percent.rstrip("%").split()[0]))
        assert isinstance(item.documentation, types.MarkupContent)
        assert item.documentation.kind == types.MarkupKind.Markdown and "```typescript" in item.documentation.value
        assert item.command is not None and item.command.command == "shutka.completionAccepted"
        payload = item.command.arguments[0]
        assert {"requestId", "uri", "line", "character", "text"} <= set(payload)
    ordered = sorted(result.items, key=lambda i: i.sort_text)
    assert [int(i.detail.split(" · ")[1].rstrip("%").split()[0]) for i in ordered] == sorted(confidences, reverse=True)
    lsp.close(uri)


async def test_copy_completion_inserts_the_rest_of_a_workspace_line(lsp: Session) -> None:
    text = 'import { add, origin } from "./point";\n\nexport function h() {\n  const p = add(origin, '
    uri = lsp.open("src/copy.ts", text)
    texts = await lsp.texts(uri, 3, len("  const p = add(origin, "))
    assert "const p = add(origin, { x: 1, y: 2 });" in texts
    lsp.close(uri)


async def test_inline_completion_returns_ghost_text_at_the_cursor(lsp: Session) -> None:
    assert lsp.init.capabilities.inline_completion_provider is not None
    text = 'import { add, origin } from "./point";\n\nexport function k() {\n  const p = add(origin, '
    uri = lsp.open("src/inline.ts", text)
    column = len("  const p = add(origin, ")
    result = await lsp.client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=column),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
    assert isinstance(result, types.InlineCompletionList) and result.items
    ghost = result.items[0]
    assert ghost.range is not None and ghost.range.start == types.Position(line=3, character=column)
    assert "{ x: 1, y: 2 });" in [item.insert_text for item in result.items]
    assert ghost.command is not None and ghost.command.command == "shutka.completionAccepted"
    lsp.close(uri)


async def test_an_unsaved_edit_in_one_buffer_feeds_the_next_completion_in_another(lsp: Session) -> None:
    a = lsp.open("src/zebra_a.ts", "export function f() {\n  return 1;\n}\n")
    b_text = 'export function g() {\n  const zebraQuotient = '
    b = lsp.open("src/zebra_b.ts", b_text)
    wanted = 'computeZebra(42, "stripes");'
    assert not any(wanted in t for t in await lsp.texts(b, 1, len("  const zebraQuotient = ")))
    # type a new line in buffer A (incremental change, never saved) and ask in B at once:
    # the debounce has not fired yet, so this also shows that B's completion flushes A's edit first
    lsp.client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=a, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=1, character=0), end=types.Position(line=1, character=0)),
            text=f"  const zebraQuotient = {wanted}\n")]))
    texts = await lsp.texts(b, 1, len("  const zebraQuotient = "))
    assert any(t.endswith(wanted) for t in texts), texts
    # and a full-text change replaces it again
    lsp.client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=a, version=3),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text="export const nothing = 0;\n")]))
    texts = await lsp.texts(b, 1, len("  const zebraQuotient = "))
    assert not any(wanted in t for t in texts), texts
    lsp.close(a)
    lsp.close(b)


async def test_cancelled_completions_answer_at_once_and_the_server_keeps_serving(lsp: Session) -> None:
    """A burst of requests queues behind the one model worker; the cancelled ones are answered with
    RequestCancelled without running (those already done are answered normally). One document each: a
    queued request of a document that gets a newer one is answered at once anyway (superseded, below)."""
    burst = 16
    uris = [lsp.open(f"src/cancel{i}.ts", B_TEXT) for i in range(burst)]
    uri = uris[-1]
    futures = [asyncio.wrap_future(lsp.client.protocol.send_request(types.TEXT_DOCUMENT_COMPLETION,
                                                                   types.CompletionParams(
                                                                       text_document=types.TextDocumentIdentifier(uri=u),
                                                                       position=types.Position(
                                                                           line=3, character=len("  const p = add("))),
                                                                   msg_id=f"cancel-{i}"))
               for i, u in enumerate(uris)]
    for i in range(burst - 1):
        lsp.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=f"cancel-{i}"))
    outcomes = []
    for future in futures[:-1]:
        try:
            await future
            outcomes.append("answered")
        except Exception as exc:
            assert "cancel" in str(exc).lower(), exc
            outcomes.append("cancelled")
    last = await futures[-1]
    assert last is not None and last.items
    assert "cancelled" in outcomes, outcomes
    assert (await lsp.complete(uri, 3, len("  const p = add("))) is not None
    for u in uris:
        lsp.close(u)


async def test_stale_inline_requests_are_dropped_when_a_newer_one_arrives(lsp: Session) -> None:
    """A client that never cancels (one inline request per keystroke, none awaited): the requests still
    queued when a newer one for the document arrives are answered empty without running; the newest
    one answers. A completion request of the other kind for the same keystroke is not superseded."""
    uri = lsp.open("src/stale.ts", B_TEXT)
    column = len("  const p = add(")

    def inline() -> asyncio.Future[Any]:
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=column),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))
        return asyncio.wrap_future(lsp.client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params))

    burst = [inline() for _ in range(12)]
    also = asyncio.ensure_future(lsp.complete(uri, 3, column))
    answers = await asyncio.gather(*burst)
    assert all(isinstance(a, types.InlineCompletionList) for a in answers)
    assert answers[-1].items, "the newest request runs"
    assert any(not a.items for a in answers[:-1]), "queued stale requests never ran"
    other = await also
    assert other is not None and other.items
    lsp.close(uri)


async def test_a_document_outside_the_workspace_is_completed_from_its_text(lsp: Session) -> None:
    uri = "untitled:Untitled-1"
    lsp.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="typescript", version=1, text="const p = add(origin, ")))
    result = await eventually(lambda: lsp.complete(uri, 0, len("const p = add(origin, ")),
                              lambda r: r is not None)
    assert isinstance(result, types.CompletionList)
    lsp.close(uri)


async def test_positions_are_utf16_code_units(lsp: Session) -> None:
    """An emoji is two UTF-16 units: the cursor and the edit range are counted the client's way."""
    line = "  const tag = '😋'; const p = add(origin, "
    text = f'import {{ add, origin }} from "./point";\n\nexport function u() {{\n{line}'
    uri = lsp.open("src/emoji.ts", text)
    character = len(line.encode("utf-16-le")) // 2
    assert character == len(line) + 1
    result = await lsp.complete(uri, 3, character)
    assert result is not None and result.items
    for item in result.items:
        assert item.text_edit.range.end == types.Position(line=3, character=character)
        assert item.text_edit.range.start == types.Position(line=3, character=2)
        assert item.text_edit.new_text.startswith("const tag = '😋'; const p = add(origin, ")
    lsp.close(uri)


async def test_ghost_text_stays_while_the_user_types_what_it_shows(lsp: Session) -> None:
    """Typing the ghost text's next characters answers with the rest of it (the same answer: same request
    id, no new engine run) until a character differs; then the engine is asked again."""
    head = 'import { add, origin } from "./point";\n\nexport function k() {\n'
    typed = "  const p = add(origin, "
    uri = lsp.open("src/ghost.ts", head + typed)

    async def ghost(column: int) -> types.InlineCompletionList:
        result = await lsp.client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=column),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
        assert isinstance(result, types.InlineCompletionList)
        return result

    def type_at(column: int, text: str, version: int) -> None:
        at = types.Position(line=3, character=column)
        lsp.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=text)]))

    first = await ghost(len(typed))
    assert first.items, "the test needs a ghost text to type through"
    shown = first.items[0].insert_text
    request_id = first.items[0].command.arguments[0]["requestId"]
    type_at(len(typed), shown[:2], 2)
    kept = await ghost(len(typed) + 2)
    assert [i.insert_text for i in kept.items] == [shown[2:]]
    assert kept.items[0].command.arguments[0]["requestId"] == request_id
    assert kept.items[0].range.start == types.Position(line=3, character=len(typed) + 2)
    type_at(len(typed) + 2, "\u00a7", 3)  # a character the ghost text does not show: the engine is asked again
    again = await ghost(len(typed) + 3)
    assert all(i.command.arguments[0]["requestId"] != request_id for i in again.items)
    lsp.close(uri)
