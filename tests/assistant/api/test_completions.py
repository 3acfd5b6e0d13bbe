"""POST /v1/completions: the openai client against the real server, and the pure request/response converters."""

from __future__ import annotations

import httpx
import openai
import pytest

from assistant.api.schemas import CompletionCreate, CompletionResponse
from assistant.tokenizer import TypeScriptTokenizer
from assistant.types import Completion, CompletionResult
from tests.assistant.api.helpers import LiveServer

PREFIX = "import { add, origin } from \"./point\";\n\nexport function main(): string {\n  const p = "
SUFFIX = "\n  return formatPoint(p);\n}\n"
UNGATED = {"path": "src/main.ts", "use_gate": False}
"""Extension fields: the document's path, and the best candidates even below the confidence gate
(the tiny random model is rarely confident)."""


def complete(client: openai.OpenAI, **kw: object) -> openai.types.Completion:
    kw.setdefault("extra_body", UNGATED)
    return client.completions.create(model="shutka-v2", prompt=kw.pop("prompt", PREFIX), **kw)  # type: ignore[arg-type]


def test_completion_through_the_openai_client(client: openai.OpenAI) -> None:
    result = complete(client, max_tokens=32)
    assert result.object == "text_completion" and result.model == "shutka-v2"
    choice = result.choices[0]
    assert choice.text and choice.finish_reason in ("stop", "length")
    assert choice.model_extra["shutka"]["source"]  # where the line was copied from, or "generated"
    usage = result.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_suffix_makes_it_fill_in_the_middle(client: openai.OpenAI) -> None:
    result = complete(client, suffix=SUFFIX, max_tokens=32)
    assert result.choices[0].text
    assert result.usage.prompt_tokens > complete(client, max_tokens=32).usage.prompt_tokens


def test_n_gives_distinct_choices_best_first(client: openai.OpenAI) -> None:
    result = complete(client, n=3)
    texts = [c.text for c in result.choices]
    assert 2 <= len(texts) <= 3 and len(set(texts)) == len(texts)
    assert [c.index for c in result.choices] == list(range(len(texts)))
    confidences = [c.model_extra["shutka"]["confidence"] for c in result.choices]
    assert confidences == sorted(confidences, reverse=True)


def test_max_tokens_cuts_with_finish_reason_length(client: openai.OpenAI) -> None:
    full = complete(client).choices[0].text
    cut = complete(client, max_tokens=1).choices[0]
    assert cut.finish_reason == "length" and cut.text and full.startswith(cut.text) and len(cut.text) < len(full)


def test_stop_sequence_ends_the_completion_before_it(client: openai.OpenAI) -> None:
    full = complete(client).choices[0].text
    stop = full.strip()[1:3]
    cut = complete(client, stop=[stop]).choices[0]
    assert cut.text == full[: full.index(stop)] and cut.finish_reason == "stop"


def test_temperature_is_accepted_and_the_answer_is_deterministic(client: openai.OpenAI) -> None:
    texts = {tuple(c.text for c in complete(client, n=2, temperature=t).choices) for t in (0, 0.7, 2)}
    assert len(texts) == 1


def test_a_prompt_list_of_one_equals_the_string(http: httpx.Client) -> None:
    body = {"model": "shutka-v2", "max_tokens": 16, **UNGATED}
    one = http.post("/v1/completions", json={**body, "prompt": [PREFIX]}).json()
    plain = http.post("/v1/completions", json={**body, "prompt": PREFIX}).json()
    assert one["choices"] == plain["choices"]
    many = http.post("/v1/completions", json={**body, "prompt": [PREFIX, PREFIX]})
    assert many.status_code == 400 and many.json()["error"]["param"] == "prompt"


def test_file_is_an_alias_of_path_and_echo_prepends_the_prompt(http: httpx.Client) -> None:
    response = http.post("/v1/completions", json={"prompt": PREFIX, "file": "src/main.ts", "use_gate": False,
                                                  "echo": True}).json()
    assert response["choices"][0]["text"].startswith(PREFIX)


def test_gated_completions_come_back_empty_rather_than_wrong(http: httpx.Client) -> None:
    response = http.post("/v1/completions", json={"prompt": "@@@ ~~~ ", "n": 2})
    assert response.status_code == 200
    for choice in response.json()["choices"]:
        assert choice["text"] == "" or choice["shutka"]["shown"]


# -- converters --------------------------------------------------------------------------------------------


def test_to_domain_puts_the_cursor_between_prompt_and_suffix() -> None:
    request = CompletionCreate(prompt="a\nconst x = ", suffix=";\nb\n", path="src/x.ts").to_domain()
    assert request.text == "a\nconst x = ;\nb\n" and (request.line, request.column) == (1, 10)
    assert request.fill_in_middle is True and request.path == "src/x.ts" and request.use_gate
    assert CompletionCreate(prompt="x", suffix="").to_domain().fill_in_middle is None


@pytest.mark.parametrize("field", [{"logprobs": 1}, {"n": 0}, {"n": 99}, {"stop": ["a", "b", "c", "d", "e"]}])
def test_unsupported_or_out_of_range_fields_are_refused(http: httpx.Client, field: dict) -> None:
    response = http.post("/v1/completions", json={"prompt": "x", **field})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == next(iter(field))


def test_no_candidate_gives_one_empty_choice(tiny_tokenizer: TypeScriptTokenizer) -> None:
    body = CompletionCreate(prompt="const x = ")
    response = CompletionResponse.from_domain(CompletionResult((), "r1", 1.0), body, tiny_tokenizer,
                                              model="m", max_tokens=16)
    assert [(c.text, c.finish_reason) for c in response.choices] == [("", "stop")]
    assert response.usage.completion_tokens == 0 and response.usage.prompt_tokens > 0


def test_choices_equal_after_cutting_are_merged(tiny_tokenizer: TypeScriptTokenizer) -> None:
    items = tuple(Completion(t, 0.5, "a.ts:1") for t in ("foo(1);", "foo(2);", "bar();"))
    body = CompletionCreate(prompt="x", n=3, stop="(")
    response = CompletionResponse.from_domain(CompletionResult(items, "r", 1.0), body, tiny_tokenizer,
                                              model="m", max_tokens=16)
    assert [c.text for c in response.choices] == ["foo", "bar"]


def test_an_absolute_path_inside_the_workspace_equals_the_relative_one(http: httpx.Client,
                                                                       live_server: LiveServer) -> None:
    absolute = str(live_server.workspace / "src" / "main.ts")
    body = {"prompt": PREFIX, "use_gate": False}
    by_abs = http.post("/v1/completions", json={**body, "path": absolute}).json()["choices"]
    by_rel = http.post("/v1/completions", json={**body, "path": "src/main.ts"}).json()["choices"]
    assert by_abs == by_rel


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.ts", "src/../../outside.ts"])
def test_a_path_outside_the_workspace_is_400(http: httpx.Client, path: str) -> None:
    response = http.post("/v1/completions", json={"prompt": "x", "path": path})
    assert response.status_code == 400 and response.json()["error"]["param"] == "path"


def test_recent_completions_forget_the_oldest_beyond_capacity() -> None:
    from assistant.recent import RecentCompletions
    from assistant.types import Answered, CompletionRequest

    recent = RecentCompletions(capacity=2)
    request = CompletionRequest(path="a.ts", line=0, column=0, text="")
    for i in range(3):
        recent.put(f"cmpl-{i}", Answered(request, (f"x{i}",)))
    assert recent.get("cmpl-0") is None and recent.get("cmpl-2") == Answered(request, ("x2",))
