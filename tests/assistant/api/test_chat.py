"""POST /v1/chat/completions: answers from the workspace with `path:line` citations, plain and streamed."""

from __future__ import annotations

import re

import httpx
import openai
import pytest

QUESTION = "Where is formatPoint defined and what does it return?"
CITATION = re.compile(r"src/lib/format\.ts:\d+")


def ask(client: openai.OpenAI, **kw: object) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model="shutka-v2", messages=[
        {"role": "system", "content": "Answer from the workspace."},
        {"role": "user", "content": QUESTION}], **kw)  # type: ignore[arg-type]


def test_answer_cites_the_code_it_used(client: openai.OpenAI) -> None:
    result = ask(client)
    message = result.choices[0].message
    assert message.role == "assistant" and "formatPoint" in message.content
    assert CITATION.search(message.content)
    citations = result.model_extra["citations"]
    assert any(CITATION.fullmatch(c) for c in citations)
    assert all(c in message.content for c in citations)
    assert result.choices[0].finish_reason in ("stop", "length") and result.usage.completion_tokens > 0


def test_streamed_answer_equals_the_plain_one(client: openai.OpenAI) -> None:
    plain = ask(client).choices[0].message.content
    chunks = list(ask(client, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len(chunks) > 3 and {c.object for c in chunks} == {"chat.completion.chunk"}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason in ("stop", "length")
    assert any(CITATION.fullmatch(c) for c in finals[0].model_extra["citations"])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_max_tokens_cuts_the_answer_and_its_citations(client: openai.OpenAI) -> None:
    result = ask(client, max_tokens=8)
    assert result.choices[0].finish_reason == "length" and result.usage.completion_tokens == 8
    assert result.model_extra["citations"] == []  # "From this workspace:" cites nothing yet


def test_stop_sequence_ends_the_answer(client: openai.OpenAI) -> None:
    result = ask(client, stop=["```"])
    assert result.choices[0].finish_reason == "stop" and "```" not in result.choices[0].message.content


def test_content_parts_are_read_as_text(http: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200 and CITATION.search(response.json()["choices"][0]["message"]["content"])


def test_a_question_is_required(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="shutka-v2", messages=[{"role": "system", "content": "hi"}])
    assert "user message" in info.value.message


@pytest.mark.parametrize("field", [{"n": 2}, {"tools": [{"type": "function", "function": {"name": "f"}}]},
                                   {"logprobs": True}, {"messages": []}])
def test_what_the_engine_cannot_do_is_refused(http: httpx.Client, field: dict) -> None:
    body = {"messages": [{"role": "user", "content": QUESTION}], **field}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == next(iter(field))
