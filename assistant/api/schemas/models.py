"""`GET /v1/models` wire models."""

from __future__ import annotations

from typing import Literal

from assistant.api.schemas.common import WireResponse


class ModelCard(WireResponse):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "shutka"


class ModelList(WireResponse):
    object: Literal["list"] = "list"
    data: list[ModelCard]
