"""GET /v1/models and /v1/models/{model}, through the openai client."""

from __future__ import annotations

import openai
import pytest

from assistant.config import ServerConfig


def test_lists_the_served_model(client: openai.OpenAI) -> None:
    models = list(client.models.list())
    assert [m.id for m in models] == [ServerConfig().model_id]
    assert models[0].owned_by == "shutka" and models[0].created > 0


def test_retrieves_the_served_model(client: openai.OpenAI) -> None:
    assert client.models.retrieve("shutka-v2").id == "shutka-v2"


def test_unknown_model_is_a_404_like_openai(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-4o")
    assert info.value.code == "model_not_found"
    assert "gpt-4o" in info.value.message
