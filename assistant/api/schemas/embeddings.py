"""`POST /v1/embeddings` wire models; base64 is little-endian float32, as OpenAI sends it."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, WithJsonSchema

from assistant.api.schemas.common import WireRequest, WireResponse

MAX_EMBEDDING_INPUTS = 2048
"""Most texts in one embeddings request, as OpenAI allows."""


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


Texts = Annotated[tuple[str, ...], BeforeValidator(_texts), WithJsonSchema({"anyOf": [
    {"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1,
                         "maxItems": MAX_EMBEDDING_INPUTS}]})]



class EmbeddingCreate(WireRequest):
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


class Embedding(WireResponse):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(WireResponse):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(WireResponse):
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
