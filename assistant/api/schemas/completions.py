"""`POST /v1/completions` wire models and their converters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, WithJsonSchema, field_validator

from assistant.api.schemas.common import Sampling, Stops, StreamOptions, Usage, WireRequest, WireResponse, now
from assistant.api.tokens import FinishReason, Tokenizer, count_tokens, finish
from assistant.types import CompletionRequest, CompletionResult

MAX_CHOICES = 8
"""Most completions one request may ask for (`n`)."""
SPARE_CANDIDATES = 2
"""Extra engine items asked for, so `n` distinct choices survive when cutting makes two equal."""


def _single_prompt(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"a list prompt must hold exactly one string (got {len(value)}); "
                             "send one request per prompt")
        return value[0]
    return value


Prompt = Annotated[str, BeforeValidator(_single_prompt), WithJsonSchema({"anyOf": [
    {"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1}]})]


class CompletionCreate(Sampling):
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


class ChoiceSource(WireResponse):
    """Shutka extension on each choice: where the completion came from and how sure the engine is."""

    confidence: float
    """Calibrated probability that this is exactly what comes next."""
    source: str
    """`path:line` of the copied line, or `generated`."""
    kind: str
    """copy, copy_edit or generated."""
    shown: bool
    """False when the confidence gate would have hidden it (only with `use_gate: false`)."""


class CompletionChoice(WireResponse):
    index: int
    text: str
    logprobs: None = None
    finish_reason: FinishReason | None
    shutka: ChoiceSource | None = None


class CompletionResponse(WireResponse):
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
        return cls(id=f"cmpl-{result.request_id}", created=now(), model=model, choices=choices,
                   usage=Usage(prompt_tokens=prompt, completion_tokens=used, total_tokens=prompt + used),
                   system_fingerprint=fingerprint)


class CompletionFeedback(WireRequest):
    """`POST /v1/completions/feedback`: which completion the user kept (Shutka's own endpoint). An
    accepted line is what the user wanted at that cursor: the Titans memory learns it."""

    id: str = Field(min_length=1)
    """The `id` of a `POST /v1/completions` response (the last 256 are remembered)."""
    index: int = Field(0, ge=0)
    """Which choice of that response."""
    accepted: bool = True
    """False: the user dismissed it (nothing is learned)."""
    text: str | None = None
    """What the user finally kept, when they edited the choice before keeping it."""


class CompletionFeedbackOut(WireResponse):
    id: str
    accepted: bool
    learned: bool
    """Whether the Titans memory kept the line as an episode (lines it already predicts well, below the
    surprise threshold, are skipped)."""
    surprise: float
    """How surprising the line was for the memory (0 when nothing was learned)."""
