"""Wire models of the HTTP API — OpenAI's shapes for completions, chat, embeddings and models, and
Shutka's own for Titans, bank and health — with the pure converters to and from the assistant's types.

Requests ignore fields they do not know (OpenAI clients send many optional ones); fields that would
change the answer in a way this engine cannot honour are refused with 400 instead of ignored.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from assistant.api.tokens import FinishReason, Tokenizer, count_tokens, finish
from assistant.types import BankStats, ChatAnswer, ChatMessage, CompletionRequest, CompletionResult, Status

MAX_CHOICES = 8
"""Most completions one request may ask for (`n`)."""
MAX_STOP = 4
"""Most stop sequences, as OpenAI allows."""
MAX_EMBEDDING_INPUTS = 2048
"""Most texts in one embeddings request, as OpenAI allows."""
SPARE_CANDIDATES = 2
"""Extra engine items asked for, so `n` distinct choices survive when cutting makes two equal."""


# -- shared ------------------------------------------------------------------------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)


class _Response(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


def _single_prompt(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"a list prompt must hold exactly one string (got {len(value)}); "
                             "send one request per prompt")
        return value[0]
    return value


def _stops(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and len(value) > MAX_STOP:
        raise ValueError(f"at most {MAX_STOP} stop sequences are allowed (got {len(value)})")
    return value


def _texts(value: Any) -> Any:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        if not value:
            raise ValueError("input must not be empty")
        if len(value) > MAX_EMBEDDING_INPUTS:
            raise ValueError(f"at most {MAX_EMBEDDING_INPUTS} inputs per request (got {len(value)})")
        if any(not isinstance(v, str) for v in value):
            raise ValueError("input must be a string or a list of strings (token ids are not accepted)")
    return value


Prompt = Annotated[str, BeforeValidator(_single_prompt), WithJsonSchema({"anyOf": [
    {"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1}]})]
Stops = Annotated[tuple[str, ...], BeforeValidator(_stops), WithJsonSchema({"anyOf": [
    {"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": MAX_STOP}, {"type": "null"}]})]
Texts = Annotated[tuple[str, ...], BeforeValidator(_texts), WithJsonSchema({"anyOf": [
    {"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1,
                         "maxItems": MAX_EMBEDDING_INPUTS}]})]


class ErrorDetail(_Response):
    message: str
    type: str
    """invalid_request_error, authentication_error or server_error."""
    param: str | None = None
    """The request field at fault, when there is one."""
    code: str | None = None
    """A stable machine-readable reason, e.g. model_not_found, invalid_api_key, request_too_large."""


class ErrorResponse(_Response):
    """Every error, in OpenAI's envelope."""

    error: ErrorDetail


class StreamOptions(_Request):
    include_usage: bool = False
    """Send one more chunk before `[DONE]` with `usage` and no choices."""


class Usage(_Response):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def _now() -> int:
    return int(time.time())


class _Sampling(_Request):
    """OpenAI's sampling knobs: accepted so existing clients work, with no effect on the answer."""

    temperature: float | None = Field(None, ge=0, le=2)
    """Accepted, no effect: the engine ranks candidates deterministically, so every temperature
    (0 included) returns the same completions for the same workspace state."""
    top_p: float | None = Field(None, ge=0, le=1)
    """Accepted, no effect (deterministic engine)."""
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    """Accepted, no effect."""
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    """Accepted, no effect."""
    seed: int | None = None
    """Accepted, no effect (the answer is already reproducible)."""
    user: str | None = None
    """Accepted, no effect."""


# -- completions -------------------------------------------------------------------------------------------


class CompletionCreate(_Sampling):
    """`POST /v1/completions`: complete the code at the cursor between `prompt` and `suffix`."""

    model: str | None = None
    """The served model id (see `GET /v1/models`); omitted means that one, any other name is a 404."""
    prompt: Prompt
    """The code before the cursor (a string, or a list holding exactly one string)."""
    suffix: str | None = None
    """The code after the cursor; non-empty makes the request fill-in-the-middle."""
    max_tokens: int | None = Field(None, ge=1)
    """Cut each completion after this many tokens (finish_reason "length"); at most the server's
    `max_tokens_limit`, which is also the default."""
    stop: Stops = ()
    """Up to 4 sequences; a completion ends before the first one it contains."""
    n: int = Field(1, ge=1, le=MAX_CHOICES)
    """Up to this many distinct completions, best first (fewer when the engine has fewer)."""
    stream: bool = False
    """Send the choices as server-sent events, ending with `data: [DONE]`."""
    stream_options: StreamOptions | None = None
    echo: bool = False
    """Prepend the prompt to each completion."""
    logprobs: int | None = None
    """Not available: must be omitted or null."""
    path: str | None = Field(None, validation_alias=AliasChoices("path", "file"))
    """Shutka extension (also `file`): the document's workspace-relative or absolute path, so its
    imports and neighbours are used as context."""
    use_gate: bool = True
    """Shutka extension: false returns the best candidates even below the confidence threshold
    (otherwise a low-confidence completion comes back as an empty text)."""

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, value: int | None) -> int | None:
        if value is not None:
            raise ValueError("logprobs are not available from this engine; omit the field")
        return value

    def to_domain(self) -> CompletionRequest:
        """The cursor sits between prompt and suffix; a non-empty suffix turns on fill-in-the-middle."""
        return CompletionRequest.from_prefix(self.prompt, self.suffix or "", self.path,
                                             fill_in_middle=True if self.suffix else None,
                                             use_gate=self.use_gate, max_items=self.n + SPARE_CANDIDATES)


class ChoiceSource(_Response):
    """Shutka extension on each choice: where the completion came from and how sure the engine is."""

    confidence: float
    """Calibrated probability that this is exactly what comes next."""
    source: str
    """`path:line` of the copied line, or `generated`."""
    kind: str
    """copy, copy_edit or generated."""
    shown: bool
    """False when the confidence gate would have hidden it (only with `use_gate: false`)."""


class CompletionChoice(_Response):
    index: int
    text: str
    logprobs: None = None
    finish_reason: FinishReason | None
    shutka: ChoiceSource | None = None


class CompletionResponse(_Response):
    """A completion, or one chunk of a streamed completion (then `usage` is null)."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None

    @classmethod
    def from_domain(cls, result: CompletionResult, body: CompletionCreate, tokenizer: Tokenizer, *,
                    model: str, max_tokens: int, fingerprint: str | None = None) -> CompletionResponse:
        """Up to `n` distinct choices cut by the stop sequences and `max_tokens`; an empty text when
        the engine had nothing confident to say (silence beats a wrong completion)."""
        choices: list[CompletionChoice] = []
        seen: set[str] = set()
        used = 0
        for item in result.items:
            text, tokens, reason = finish(tokenizer, item.text, body.stop, max_tokens)
            if text in seen:
                continue
            seen.add(text)
            used += tokens
            choices.append(CompletionChoice(
                index=len(choices), text=(body.prompt + text) if body.echo else text, finish_reason=reason,
                shutka=ChoiceSource(confidence=item.confidence, source=item.source, kind=item.kind,
                                    shown=item.shown)))
            if len(choices) == body.n:
                break
        if not choices:
            choices.append(CompletionChoice(index=0, text=body.prompt if body.echo else "", finish_reason="stop"))
        prompt = count_tokens(tokenizer, body.prompt) + count_tokens(tokenizer, body.suffix or "")
        return cls(id=f"cmpl-{result.request_id}", created=_now(), model=model, choices=choices,
                   usage=Usage(prompt_tokens=prompt, completion_tokens=used, total_tokens=prompt + used),
                   system_fingerprint=fingerprint)


# -- chat --------------------------------------------------------------------------------------------------


class TextPart(_Request):
    type: Literal["text"]
    text: str


class ChatMessageIn(_Request):
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


class ChatCompletionCreate(_Sampling):
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


class ChatMessageOut(_Response):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class ChatChoice(_Response):
    index: int
    message: ChatMessageOut
    logprobs: None = None
    finish_reason: FinishReason


class ChatCompletionResponse(_Response):
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
        return cls(id=_id("chatcmpl"), created=_now(), model=model,
                   choices=[ChatChoice(index=0, message=ChatMessageOut(content=text), finish_reason=reason)],
                   usage=Usage(prompt_tokens=prompt, completion_tokens=used, total_tokens=prompt + used),
                   citations=[c for c in answer.citations if c in text], system_fingerprint=fingerprint)


class ChatDelta(_Response):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(_Response):
    index: int
    delta: ChatDelta
    logprobs: None = None
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(_Response):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None
    citations: list[str] | None = None
    """Shutka extension, on the last chunk with a choice."""
    system_fingerprint: str | None = None


# -- embeddings --------------------------------------------------------------------------------------------


class EmbeddingCreate(_Request):
    """`POST /v1/embeddings`: the target encoder's unit vectors (what the memory bank stores)."""

    model: str | None = None
    """The served model id; omitted means that one, any other name is a 404."""
    input: Texts
    """A string or a list of up to 2048 strings."""
    encoding_format: Literal["float", "base64"] = "float"
    """`base64`: the little-endian float32 bytes of each vector, base64-encoded (as OpenAI does)."""
    dimensions: int | None = Field(None, ge=1)
    """Must equal the model's latent size when given (vectors are not shortened)."""
    user: str | None = None


class Embedding(_Response):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(_Response):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(_Response):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage

    @classmethod
    def from_domain(cls, vectors: np.ndarray, encoding_format: str, *, model: str,
                    tokens: int) -> EmbeddingResponse:
        """vectors: (N, L) float."""
        data = [Embedding(index=i, embedding=encode_vector(v, encoding_format)) for i, v in enumerate(vectors)]
        return cls(data=data, model=model, usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens))


def encode_vector(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    """(L,) -> a list of floats, or base64 of its little-endian float32 bytes."""
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


# -- models ------------------------------------------------------------------------------------------------


class ModelCard(_Response):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "shutka"


class ModelList(_Response):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# -- Titans memory and bank --------------------------------------------------------------------------------


class TitansSave(_Request):
    path: str | None = None
    """Where to write; relative paths are taken inside the workspace's `.shutka/titans/`, and the file
    must stay inside `.shutka/` (Shutka never writes to the user's files). Default: the workspace's
    own Titans file, which is also what is loaded at start-up."""


class TitansLoad(_Request):
    path: str = Field(min_length=1)
    """A file written by `titans/save`; relative paths are taken inside `.shutka/titans/`."""


class TitansFile(_Response):
    path: str
    """Absolute path of the file written or read."""
    episodes: int
    """Episodes in the memory's store afterwards."""


class TitansForgotten(_Response):
    forgotten: int
    """Episodes dropped (the least accessed first)."""
    episodes: int
    """Episodes left."""


class SurpriseBin(_Response):
    low: float
    high: float
    count: int


class EpisodeOut(_Response):
    id: int
    file: str | None
    text: str
    surprise: float
    access: int


class TitansStatsOut(_Response):
    episodes: int
    capacity: int
    writes: int
    """Associations written to the memory so far (surprise-gated)."""
    surprise_histogram: list[SurpriseBin]
    most_accessed: list[EpisodeOut]
    least_accessed: list[EpisodeOut]

    @classmethod
    def from_domain(cls, stats: Any) -> TitansStatsOut:
        """From the facade's `titans_stats()`."""
        def episodes(items: Sequence[Any]) -> list[EpisodeOut]:
            return [EpisodeOut(id=e.id, file=e.file, text=e.text, surprise=e.surprise, access=e.access)
                    for e in items]
        return cls(episodes=stats.episodes, capacity=stats.capacity, writes=stats.writes,
                   surprise_histogram=[SurpriseBin(low=lo, high=hi, count=c) for lo, hi, c in stats.surprise_histogram],
                   most_accessed=episodes(stats.most_accessed), least_accessed=episodes(stats.least_accessed))


class BankStatsOut(_Response):
    entries: int
    by_kind: dict[str, int]
    by_section: dict[str, int]
    files: int
    generation: int
    """Vector generation on disk (bumped by compaction)."""
    bytes_on_disk: int
    memory_bytes: int
    """Vectors held in RAM (a memory-mapped generation counts only its delta)."""
    mmapped: bool
    model_digest: str | None
    delta: int
    tombstones: int
    index_type: str

    @classmethod
    def from_domain(cls, stats: BankStats) -> BankStatsOut:
        return cls.model_validate(stats.to_json())


class Health(_Response):
    status: Literal["ok", "indexing"]
    """`indexing` until the first index of the workspace is committed (completions already work)."""
    ready: bool
    """The first index is done."""
    model_loaded: bool
    model: str
    """The served model id."""
    checkpoint: str
    model_digest: str
    index_generation: int
    """Catalog generation: bumped by every committed sync."""
    bank_entries: int
    bank_generation: int
    files: int
    titans_episodes: int
    indexing: bool
    """A sync is running right now."""
    uptime_s: float

    @classmethod
    def from_domain(cls, status: Status, *, ready: bool, model: str, uptime_s: float) -> Health:
        return cls(status="ok" if ready else "indexing", ready=ready, model_loaded=True, model=model,
                   checkpoint=status.model, model_digest=status.model_digest,
                   index_generation=status.catalog_generation, bank_entries=status.bank.entries,
                   bank_generation=status.bank.generation, files=status.files,
                   titans_episodes=status.titans_episodes, indexing=status.indexing, uptime_s=round(uptime_s, 3))
