"""`POST /v1/embeddings`: the target encoder's unit vectors, as floats or base64."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter

from assistant.api.deps import AssistantDep, ConfigDep, TokenizerDep, served_model
from assistant.api.errors import APIError
from assistant.api.schemas import EmbeddingCreate, EmbeddingResponse
from assistant.api.tokens import count_tokens

router = APIRouter(prefix="/v1", tags=["embeddings"])

BATCH = 64
"""Texts encoded per engine call: bounds the memory one request takes."""


@router.post("/embeddings", response_model=EmbeddingResponse)
def create_embeddings(body: EmbeddingCreate, assistant: AssistantDep, tokenizer: TokenizerDep,
                      config: ConfigDep) -> EmbeddingResponse:
    """OpenAI `POST /v1/embeddings`: one unit vector per input (the latent the memory bank stores)."""
    model = served_model(body.model, config)
    texts = list(body.input)
    vectors = np.concatenate([assistant.embed(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)])  # (N, L)
    if body.dimensions is not None and body.dimensions != vectors.shape[1]:
        raise APIError(400, f"dimensions is {body.dimensions}, but this model's embeddings have "
                            f"{vectors.shape[1]} (they are not shortened).", param="dimensions",
                       code="invalid_value")
    tokens = sum(count_tokens(tokenizer, t) for t in texts)
    return EmbeddingResponse.from_domain(vectors, body.encoding_format, model=model, tokens=tokens)
