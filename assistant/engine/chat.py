"""Answering a chat message from the workspace: the definitions and lines most related to the question,
each cited as path:line, and a completion of any code the question ends with.

Retrieval, not free text: the model is a completion model, and every sentence of an answer is a
cited snippet (the OpenAI-compatible chat endpoint uses it).
"""

from __future__ import annotations

import re
from typing import Protocol

from assistant.engine.candidates import IDENT_RE, KEYWORDS
from assistant.errors import InvalidRequest
from assistant.types import ChatAnswer, ChatMessage, CompletionRequest, CompletionResult, Hit


class Sources(Protocol):
    """What an answer is made from (the `Assistant` facade is one)."""

    def symbols(self, query: str, limit: int = 50) -> list[Hit]: ...

    def search(self, query: str, k: int = 10, mode: str = "semantic", kinds: list[str] | None = None
               ) -> list[Hit]: ...

    def complete(self, request: CompletionRequest) -> CompletionResult: ...

    def source_lines(self, path: str, start: int, end: int) -> list[str]: ...


SNIPPET_LINES = 12
DEFINITION_KINDS = ["function", "class", "method", "interface", "type_alias", "enum", "constant", "namespace",
                    "arrow_function"]


def answer(assistant: Sources, messages: list[ChatMessage], max_tokens: int = 256) -> ChatAnswer:
    question = next((m.content for m in reversed(messages) if m.role == "user"), "").strip()
    if not question:
        raise InvalidRequest("chat needs a user message")
    hits: dict[int, Hit] = {}
    names = [t for t in IDENT_RE.findall(question) if t not in KEYWORDS and len(t) > 2]
    for name in dict.fromkeys(names):
        for h in assistant.symbols(name, limit=2):
            hits.setdefault(hash((h.path, h.start_line)), h)
    for h in assistant.search(question, k=5, kinds=DEFINITION_KINDS):
        hits.setdefault(hash((h.path, h.start_line)), h)
    parts, citations = [], []
    budget = max_tokens * 4
    code = trailing_code(question)
    if code is not None:
        result = assistant.complete(CompletionRequest.from_prefix(code, use_gate=False))
        if result.items:
            item = result.items[0]
            last = code.rsplit("\n", 1)[-1]
            parts.append(f"Completion ({item.confidence:.0%}, from {item.source}):\n```ts\n{last}{item.text}\n```")
            if item.source != "generated":
                citations.append(item.source)
    for h in list(hits.values())[:5]:
        where = f"{h.path}:{h.start_line}"
        block = f"{h.symbol or h.kind} — {where}\n```ts\n{snippet(assistant, h)}\n```"
        if sum(len(p) for p in parts) + len(block) > budget and parts:
            break
        parts.append(block)
        citations.append(where)
    if not parts:
        return ChatAnswer("I found nothing in this workspace related to that question.", ())
    return ChatAnswer("From this workspace:\n\n" + "\n\n".join(parts), tuple(citations))


def snippet(assistant: Sources, hit: Hit) -> str:
    """The first lines of a hit (a definition is read from the catalog, so it shows its real text)."""
    lines = hit.text.split("\n")
    if hit.kind != "line" and hit.path and hit.start_line:
        chunk_lines = assistant.source_lines(hit.path, hit.start_line - 1, hit.start_line - 1 + SNIPPET_LINES)
        lines = chunk_lines or lines
    return "\n".join(lines[:SNIPPET_LINES])


def trailing_code(question: str) -> str | None:
    m = re.search(r"```(?:ts|typescript|tsx)?\n(.*?)(?:```\s*$|$)", question, flags=re.S)
    if not m or not m.group(1).strip():
        return None
    return m.group(1).rstrip("\n")
