"""`GET /v1/models` and `GET /v1/models/{model}`: the one model this server serves."""

from __future__ import annotations

from fastapi import APIRouter

from assistant.api.deps import StateDep, served_model
from assistant.api.schemas import ModelCard, ModelList

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", response_model=ModelList)
def list_models(state: StateDep) -> ModelList:
    """OpenAI `GET /v1/models`."""
    return ModelList(data=[ModelCard(id=state.config.model_id, created=state.created)])


@router.get("/models/{model}", response_model=ModelCard)
def retrieve_model(model: str, state: StateDep) -> ModelCard:
    """OpenAI `GET /v1/models/{model}`; another name is a 404."""
    return ModelCard(id=served_model(model, state.config), created=state.created)
