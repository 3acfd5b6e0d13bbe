"""Shared pieces of the wire models: base classes, OpenAI's error envelope and usage, stop sequences,
and the sampling knobs every OpenAI client may send."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

MAX_STOP = 4
"""Most stop sequences, as OpenAI allows."""


class WireRequest(BaseModel):
    """A request body: unknown fields are ignored, field docstrings become the OpenAPI descriptions."""

    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)


class WireResponse(BaseModel):
    """A response body."""

    model_config = ConfigDict(use_attribute_docstrings=True)


def _stops(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and len(value) > MAX_STOP:
        raise ValueError(f"at most {MAX_STOP} stop sequences are allowed (got {len(value)})")
    return value


Stops = Annotated[tuple[str, ...], BeforeValidator(_stops), WithJsonSchema({"anyOf": [
    {"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": MAX_STOP}, {"type": "null"}]})]
"""A string or up to 4 strings (null: none), as a tuple."""


class ErrorDetail(WireResponse):
    message: str
    type: str
    """invalid_request_error, authentication_error or server_error."""
    param: str | None = None
    """The request field at fault, when there is one."""
    code: str | None = None
    """A stable machine-readable reason, e.g. model_not_found, invalid_api_key, request_too_large."""


class ErrorResponse(WireResponse):
    """Every error, in OpenAI's envelope."""

    error: ErrorDetail


class StreamOptions(WireRequest):
    include_usage: bool = False
    """Send one more chunk before `[DONE]` with `usage` and no choices."""


class Usage(WireResponse):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


class Sampling(WireRequest):
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
