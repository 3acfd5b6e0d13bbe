"""Server-sent events in OpenAI's format, and model work kept off the event loop (streams included)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from assistant.runtime import Runtime, open_runtime
from assistant.types import CompletionRequest, CompletionResult
from tests.assistant.api.helpers import LiveServer, new_workspace, serve

PROMPT = "export function main(): string {\n  const p = "


def events(response: httpx.Response) -> list[str]:
    """The `data:` payloads of an SSE body; every event is one `data:` line and a blank line."""
    blocks = response.text.split("\n\n")
    assert blocks[-1] == "", "the stream must end with a blank line"
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks[:-1])
    return [b.removeprefix("data: ") for b in blocks[:-1]]


def test_completion_stream_is_openai_chunks_ending_with_done(http: httpx.Client) -> None:
    body = {"prompt": PROMPT, "stream": True, "n": 2, "use_gate": False, "stream_options": {"include_usage": True}}
    response = http.post("/v1/completions", json=body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    data = events(response)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert {c["object"] for c in chunks} == {"text_completion"} and len({c["id"] for c in chunks}) == 1
    finished = [c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    plain = http.post("/v1/completions", json={**body, "stream": False}).json()
    assert sorted(f["index"] for f in finished) == [c["index"] for c in plain["choices"]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == plain["usage"]
    for choice in plain["choices"]:
        streamed = "".join(c["choices"][0]["text"] for c in chunks
                           if c["choices"] and c["choices"][0]["index"] == choice["index"])
        assert streamed == choice["text"]


def test_streamed_completion_through_the_openai_client(client: openai.OpenAI) -> None:
    stream = client.completions.create(model="shutka-v2", prompt=PROMPT, stream=True, max_tokens=8,
                                       extra_body={"use_gate": False})
    chunks = list(stream)
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text and chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_chat_stream_is_openai_chunks_ending_with_done(http: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "what does add return?"}], "stream": True}
    data = events(http.post("/v1/chat/completions", json=body))
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_errors_before_a_stream_keep_their_status(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}],
                                                       "stream": True})
    assert response.status_code == 400 and response.json()["error"]["message"]


# -- the event loop stays free -----------------------------------------------------------------------------


class Blocking:
    """Wraps `Assistant.complete` so each call waits until released: a stand-in for a slow model."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    @contextlib.contextmanager
    def factory(self, workspace: Path, checkpoint: Path) -> Iterator[Runtime]:
        with open_runtime(workspace, checkpoint=checkpoint, sync=True) as runtime:
            real = runtime.assistant.complete

            def slow(request: CompletionRequest) -> CompletionResult:
                self.entered.set()
                assert self.release.wait(60), "never released"
                return real(request)

            runtime.assistant.complete = slow  # type: ignore[method-assign]
            yield runtime


@pytest.fixture(scope="module")
def blocking() -> Blocking:
    return Blocking()


@pytest.fixture(scope="module")
def blocking_server(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path,
                    blocking: Blocking) -> Iterator[LiveServer]:
    workspace = new_workspace(tmp_path_factory, "blocking")
    with serve(lambda: blocking.factory(workspace, tiny_checkpoint), workspace) as live:
        yield live


@pytest.mark.parametrize("stream", [False, True])
def test_other_requests_are_served_while_the_model_works(blocking_server: LiveServer, blocking: Blocking,
                                                         stream: bool) -> None:
    blocking.entered.clear()
    blocking.release.clear()
    url = blocking_server.url
    with ThreadPoolExecutor(4) as pool:
        slow = [pool.submit(httpx.post, f"{url}/v1/completions", timeout=60,
                            json={"prompt": PROMPT, "stream": stream, "use_gate": False}) for _ in range(2)]
        assert blocking.entered.wait(30)
        # Two completions are held inside the engine; the loop still answers everything else.
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        chat = httpx.post(f"{url}/v1/chat/completions", timeout=5,
                          json={"messages": [{"role": "user", "content": "where is Circle?"}]})
        assert chat.status_code == 200
        assert not any(f.done() for f in slow)
        blocking.release.set()
        assert all(f.result().status_code == 200 for f in slow)


def test_many_concurrent_clients_get_answers(live_server: LiveServer) -> None:
    def one(i: int) -> int:
        with httpx.Client(base_url=live_server.url, timeout=60) as c:
            codes = [c.post("/v1/completions", json={"prompt": PROMPT + "a" * i, "max_tokens": 8}).status_code
                     for _ in range(3)]
        return max(codes)

    with ThreadPoolExecutor(12) as pool:
        assert set(pool.map(one, range(12))) == {200}
