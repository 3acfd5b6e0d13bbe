"""POST /v1/embeddings: unit vectors as floats or base64 (little-endian float32), via the openai client."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import openai
import pytest

TEXTS = ["export function add(a: Point, b: Point): Point {", "const origin = { x: 0, y: 0 };"]


def test_float_embeddings_are_unit_vectors(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="shutka-v2", input=TEXTS, encoding_format="float")
    vectors = np.array([d.embedding for d in result.data])
    assert [d.index for d in result.data] == [0, 1] and vectors.ndim == 2
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert result.usage.prompt_tokens == result.usage.total_tokens > 0


def test_base64_decodes_to_the_float_vectors(client: openai.OpenAI, http: httpx.Client) -> None:
    floats = np.array([d.embedding for d in client.embeddings.create(model="shutka-v2", input=TEXTS,
                                                                        encoding_format="float").data])
    # The openai client asks for base64 by default and decodes it itself.
    decoded = np.array([d.embedding for d in client.embeddings.create(model="shutka-v2", input=TEXTS).data])
    np.testing.assert_allclose(decoded, floats, rtol=1e-6)
    raw = http.post("/v1/embeddings", json={"input": TEXTS, "encoding_format": "base64"}).json()
    mine = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in raw["data"]])
    np.testing.assert_array_equal(mine, floats.astype(np.float32))


def test_a_single_string_gives_one_vector(client: openai.OpenAI) -> None:
    assert len(client.embeddings.create(model="shutka-v2", input=TEXTS[0]).data) == 1


def test_same_text_same_vector(client: openai.OpenAI) -> None:
    data = client.embeddings.create(model="shutka-v2", input=[TEXTS[0], TEXTS[0]], encoding_format="float").data
    assert data[0].embedding == data[1].embedding


@pytest.mark.parametrize(("body", "param"), [({"input": []}, "input"), ({"input": [[1, 2, 3]]}, "input"),
                                             ({"input": "x", "dimensions": 3}, "dimensions"),
                                             ({"input": "x", "encoding_format": "int8"}, "encoding_format")])
def test_bad_inputs_are_400(http: httpx.Client, body: dict, param: str) -> None:
    response = http.post("/v1/embeddings", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == param
