"""Server-sent events in OpenAI's chunk format: `data: {json}` events ending with `data: [DONE]`.

The engine answers a request as a whole, so a route computes the answer first (off the event loop,
where a failure still gets its proper status code) and these generators then send it line by line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from assistant.api.schemas import (
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChatDelta,
    CompletionChoice,
    CompletionResponse,
)

DONE = "data: [DONE]\n\n"
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_EVENT = {"type": "object", "required": ["data"],
             "properties": {"data": {"type": "string", "description": "a JSON chunk, or [DONE] last"},
                            "event": {"type": "string"}, "id": {"type": "string"}}}
"""One server-sent event, as OpenAPI 3.2 describes an event-stream item."""
STREAM_DOC = {200: {"description": "JSON, or server-sent events when `stream` is true",
                    "content": {"text/event-stream": {"schema": SSE_EVENT}}}}
"""The OpenAPI entry of a route that can stream."""


def sse(payload: BaseModel) -> str:
    return f"data: {payload.model_dump_json()}\n\n"


def pieces(text: str) -> list[str]:
    """The text split after each newline (what one event carries); never empty."""
    return text.splitlines(keepends=True) or [""]


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=STREAM_HEADERS)


async def completion_events(response: CompletionResponse, include_usage: bool) -> AsyncIterator[str]:
    """Each choice's text in line-sized chunks, then a chunk with its finish_reason; usage last if asked."""
    def chunk(choices: list[CompletionChoice]) -> CompletionResponse:
        return response.model_copy(update={"choices": choices, "usage": None})

    for choice in response.choices:
        for piece in pieces(choice.text):
            yield sse(chunk([CompletionChoice(index=choice.index, text=piece, finish_reason=None,
                                              shutka=choice.shutka)]))
        yield sse(chunk([CompletionChoice(index=choice.index, text="", finish_reason=choice.finish_reason)]))
    if include_usage:
        yield sse(response.model_copy(update={"choices": []}))
    yield DONE


async def chat_events(response: ChatCompletionResponse, include_usage: bool) -> AsyncIterator[str]:
    """The role, then the answer line by line, then the finish_reason (with the citations)."""
    base = {"id": response.id, "created": response.created, "model": response.model,
            "system_fingerprint": response.system_fingerprint}
    choice = response.choices[0]
    yield sse(ChatCompletionChunk(**base, choices=[
        ChatChunkChoice(index=0, delta=ChatDelta(role="assistant", content=""))]))
    for piece in pieces(choice.message.content):
        if piece:
            yield sse(ChatCompletionChunk(**base, choices=[ChatChunkChoice(index=0, delta=ChatDelta(content=piece))]))
    yield sse(ChatCompletionChunk(**base, citations=response.citations, choices=[
        ChatChunkChoice(index=0, delta=ChatDelta(), finish_reason=choice.finish_reason)]))
    if include_usage:
        yield sse(ChatCompletionChunk(**base, choices=[], usage=response.usage))
    yield DONE
