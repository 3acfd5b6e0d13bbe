"""`POST /v1/chat/completions` wire models (plain and streamed) and their converters."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from assistant.api.schemas.common import (
    Sampling,
    Stops,
    StreamOptions,
    Usage,
    WireRequest,
    WireResponse,
    new_id,
    now,
)
from assistant.api.tokens import FinishReason, Tokenizer, count_tokens, finish
from assistant.types import ChatAnswer, ChatMessage


class TextPart(WireRequest):
    type: Literal["text"]
    text: str


class ChatMessageIn(WireRequest):
    role: Literal["system", "developer", "user", "assistant"]
    """`developer` is read as `system`."""
    content: str | list[TextPart] | None = None
    """A string, or a list of text parts (joined)."""
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""

    def to_domain(self) -> ChatMessage:
        return ChatMessage("system" if self.role == "developer" else self.role, self.text())


class ChatCompletionCreate(Sampling):
    """`POST /v1/chat/completions`: a question about the workspace, answered from its code."""

    model: str | None = None
    """The served model id (see `GET /v1/models`); omitted means that one, any other name is a 404."""
    messages: list[ChatMessageIn] = Field(min_length=1)
    """The conversation; the last user message is the question."""
    max_tokens: int | None = Field(None, ge=1)
    """Cut the answer after this many tokens; at most the server's `max_tokens_limit` (the default)."""
    max_completion_tokens: int | None = Field(None, ge=1)
    """OpenAI's newer name for `max_tokens` (wins when both are given)."""
    stop: Stops = ()
    n: int = Field(1, ge=1, le=1)
    """Only 1: the answer is retrieved, there is one."""
    stream: bool = False
    """Send the answer as `chat.completion.chunk` events, ending with `data: [DONE]`."""
    stream_options: StreamOptions | None = None
    tools: list[Any] | None = None
    """Not available: must be omitted, null or empty."""
    logprobs: bool | None = None
    """Not available: must be omitted, null or false."""

    @field_validator("tools")
    @classmethod
    def _no_tools(cls, value: list[Any] | None) -> list[Any] | None:
        if value:
            raise ValueError("tool calls are not available: this model answers from the workspace's code")
        return value

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, value: bool | None) -> bool | None:
        if value:
            raise ValueError("logprobs are not available from this engine")
        return value

    @property
    def token_budget(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def to_domain(self) -> list[ChatMessage]:
        return [m.to_domain() for m in self.messages]


class ChatMessageOut(WireResponse):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class ChatChoice(WireResponse):
    index: int
    message: ChatMessageOut
    logprobs: None = None
    finish_reason: FinishReason


class ChatCompletionResponse(WireResponse):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    citations: list[str]
    """Shutka extension: `path:line` of every piece of code the answer used."""
    system_fingerprint: str | None = None

    @classmethod
    def from_domain(cls, answer: ChatAnswer, body: ChatCompletionCreate, tokenizer: Tokenizer, *, model: str,
                    max_tokens: int, fingerprint: str | None = None) -> ChatCompletionResponse:
        """The answer cut by the stop sequences and `max_tokens`; citations cut away with it are dropped."""
        text, used, reason = finish(tokenizer, answer.text, body.stop, max_tokens)
        prompt = sum(count_tokens(tokenizer, m.text()) for m in body.messages)
        return cls(id=new_id("chatcmpl"), created=now(), model=model,
                   choices=[ChatChoice(index=0, message=ChatMessageOut(content=text), finish_reason=reason)],
                   usage=Usage(prompt_tokens=prompt, completion_tokens=used, total_tokens=prompt + used),
                   citations=[c for c in answer.citations if c in text], system_fingerprint=fingerprint)


class ChatDelta(WireResponse):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(WireResponse):
    index: int
    delta: ChatDelta
    logprobs: None = None
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(WireResponse):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None
    citations: list[str] | None = None
    """Shutka extension, on the last chunk with a choice."""
    system_fingerprint: str | None = None
