"""Every error comes back in OpenAI's shape with the right status: auth, routing, size, fields, model,
cross-site requests, unexpected failures — and a public address without a key is refused at start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.api.deps import get_assistant
from assistant.api.errors import translate
from assistant.api.server import is_loopback
from assistant.cli import cli
from assistant.config import ServerConfig
from assistant.errors import BankLocked, CheckpointMismatch, InvalidRequest
from assistant.runtime import Runtime
from indexer.errors import ShutkaError
from tests.assistant.api.helpers import API_KEY, LiveServer

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def keyed(keyed_server: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP with the right key (max_request_bytes=10000, max_tokens_limit=64)."""
    with httpx.Client(base_url=keyed_server.url, headers=AUTH, timeout=30.0) as c:
        yield c


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


# -- 401 ---------------------------------------------------------------------------------------------------


def test_missing_key_is_401(keyed_server: LiveServer) -> None:
    response = httpx.post(f"{keyed_server.url}/v1/completions", json={"prompt": "x"})
    error = assert_openai_error(response, 401, "missing_api_key")
    assert error["type"] == "authentication_error" and response.headers["www-authenticate"] == "Bearer"


def test_wrong_key_is_401_through_the_openai_client(keyed_server: LiveServer) -> None:
    with (openai.OpenAI(base_url=keyed_server.base_url, api_key="wrong", max_retries=0) as client,
          pytest.raises(openai.AuthenticationError) as info):
        client.completions.create(model="shutka-v2", prompt="x")
    assert info.value.status_code == 401 and info.value.code == "invalid_api_key"


def test_right_key_through_the_openai_client(keyed_server: LiveServer) -> None:
    with openai.OpenAI(base_url=keyed_server.base_url, api_key=API_KEY, max_retries=0) as client:
        assert client.completions.create(model="shutka-v2", prompt="const x = ", max_tokens=4).choices


def test_other_auth_schemes_are_401(keyed_server: LiveServer) -> None:
    response = httpx.get(f"{keyed_server.url}/v1/models", headers={"Authorization": f"Basic {API_KEY}"})
    assert_openai_error(response, 401, "missing_api_key")


# -- routing -----------------------------------------------------------------------------------------------


def test_unknown_route_is_404(keyed: httpx.Client) -> None:
    error = assert_openai_error(keyed.get("/v1/engines"), 404, "unknown_url")
    assert "/v1/engines" in error["message"]


def test_wrong_method_is_405(keyed: httpx.Client) -> None:
    response = keyed.get("/v1/completions")
    assert_openai_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


# -- 413 ---------------------------------------------------------------------------------------------------


def test_oversize_body_is_413_before_parsing(keyed: httpx.Client) -> None:
    body = b'{"prompt": "' + b"x" * 20_000 + b'"}'
    response = keyed.post("/v1/completions", content=body, headers={"content-type": "application/json"})
    error = assert_openai_error(response, 413, "request_too_large")
    assert "10000" in error["message"]


def test_oversize_chunked_body_is_413(keyed: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(20):
            yield b"x" * 1000
        yield b'"}'

    response = keyed.post("/v1/completions", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers  # really sent chunked
    assert_openai_error(response, 413, "request_too_large")


# -- 400 / 404 on fields -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "param", "code"), [
    ({"prompt": 42}, "prompt", "invalid_type"),
    ({}, "prompt", "missing_required_parameter"),
    ({"prompt": "x", "max_tokens": 0}, "max_tokens", "invalid_value"),
    ({"prompt": "x", "max_tokens": "many"}, "max_tokens", "invalid_type"),
    ({"prompt": "x", "temperature": 3}, "temperature", "invalid_value"),
    ({"prompt": "x", "stream": "yes please"}, "stream", "invalid_type"),
])
def test_bad_fields_are_400_naming_the_field(keyed: httpx.Client, body: dict, param: str, code: str) -> None:
    error = assert_openai_error(keyed.post("/v1/completions", json=body), 400, code)
    assert error["param"] == param and error["type"] == "invalid_request_error"


NO_BODY = object()
BAD_BODIES = [NO_BODY, None, [], "text", 42, True, {}, {"prompt": None}, {"prompt": [None]}, {"prompt": {}},
              {"messages": None}, {"messages": []}, {"messages": [{}]}, {"messages": [{"role": None}]},
              {"messages": [{"role": "user", "content": [{"type": "image"}]}]}, {"input": None}, {"input": [None]},
              {"id": None}, {"id": ""}, {"id": "cmpl-x", "index": None}, {"path": 5}, {"path": ""},
              {"path": ["a"]}, {"prompt": "x", "stop": [None]}, {"prompt": "x", "n": None},
              {"prompt": "x", "stream_options": 5}, {"model": None, "prompt": None}]
BODY_ROUTES = ["/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/v1/completions/feedback",
               "/v1/titans/save", "/v1/titans/load"]


def _post(client: httpx.Client, route: str, body: object) -> httpx.Response:
    if body is NO_BODY:
        return client.post(route)
    return client.post(route, content=json.dumps(body), headers={"content-type": "application/json"})


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_no_error_names_none(keyed: httpx.Client, route: str) -> None:
    """Whatever is wrong with the body, the error names the field (or `body`), never 'None'."""
    for body in BAD_BODIES:
        response = _post(keyed, route, body)
        assert response.status_code < 500, (body, response.text)
        if response.status_code == 200:
            continue  # e.g. {} to titans/save: every field is optional there
        error = assert_openai_error(response, response.status_code)
        assert "None" not in error["message"], (route, body, error)
        if response.status_code == 400 and error["code"] in VALIDATION_CODES:
            assert error["param"] and error["param"] != "None", (route, body, error)
    for query in ({}, {"n": "many"}, {"n": ""}, {"n": -1}):
        error = assert_openai_error(keyed.post("/v1/titans/forget", params=query), 400)
        assert error["param"] == "n" and "None" not in error["message"]


VALIDATION_CODES = ("missing_required_parameter", "invalid_type", "invalid_value", "invalid_json")


@pytest.mark.parametrize(("body", "param", "message"), [
    (NO_BODY, "body", "The request body is missing"),
    (None, "body", "Invalid value for the request body: Input should be a valid dictionary"),
    ([], "body", "Invalid value for the request body"),
    ({"messages": [{}]}, "messages.0.role", "Missing required parameter: 'messages.0.role'."),
    ({"messages": [{"role": "robot"}]}, "messages.0.role", "Invalid value for 'messages.0.role'"),
])
def test_a_bad_body_names_the_field(keyed: httpx.Client, body: object, param: str, message: str) -> None:
    error = assert_openai_error(_post(keyed, "/v1/chat/completions", body), 400)
    assert error["param"] == param and error["message"].startswith(message)


def test_malformed_json_is_400(keyed: httpx.Client) -> None:
    response = keyed.post("/v1/completions", content=b'{"prompt": ', headers={"content-type": "application/json"})
    assert_openai_error(response, 400, "invalid_json")


def test_max_tokens_over_the_limit_is_400_with_a_clear_message(keyed_server: LiveServer) -> None:
    with openai.OpenAI(base_url=keyed_server.base_url, api_key=API_KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as info:
            client.completions.create(model="shutka-v2", prompt="x", max_tokens=65)
        assert info.value.code == "max_tokens_exceeded" and info.value.param == "max_tokens"
        assert "at most 64" in info.value.message
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="shutka-v2", messages=[{"role": "user", "content": "q"}],
                                           max_completion_tokens=1000)
        assert info.value.param == "max_completion_tokens"


@pytest.mark.parametrize("route", ["completions", "chat.completions", "embeddings"])
def test_unknown_model_is_404_like_openai(keyed_server: LiveServer, route: str) -> None:
    with (openai.OpenAI(base_url=keyed_server.base_url, api_key=API_KEY, max_retries=0) as client,
          pytest.raises(openai.NotFoundError) as info):
        if route == "completions":
            client.completions.create(model="gpt-3.5-turbo-instruct", prompt="x")
        elif route == "chat.completions":
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "q"}])
        else:
            client.embeddings.create(model="text-embedding-3-small", input="x")
    assert info.value.code == "model_not_found"


# -- cross-site requests on a key-less server --------------------------------------------------------------


@pytest.mark.parametrize(("origin", "status"), [
    ("https://evil.example", 403), ("null", 403), ("http://192.168.1.10:3000", 403),
    ("http://localhost:5173", 200), ("http://127.0.0.1:8000", 200), ("vscode-webview://abc123", 200),
])
def test_web_pages_from_other_sites_are_refused(http: httpx.Client, origin: str, status: int) -> None:
    response = http.get("/v1/models", headers={"Origin": origin})
    assert response.status_code == status
    if status == 403:
        assert_openai_error(response, 403, "cross_origin")


# -- 500 and the domain-error table ------------------------------------------------------------------------


class Broken:
    def complete(self, request: object) -> None:
        raise RuntimeError("boom")


def test_unexpected_failure_is_a_500_without_internals(runtime: Runtime) -> None:
    app = create_app(runtime, ServerConfig())
    app.dependency_overrides[get_assistant] = Broken
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1") as client:
        response = client.post("/v1/completions", json={"prompt": "x"})
    error = assert_openai_error(response, 500, "internal_error")
    assert error["type"] == "server_error" and "boom" not in error["message"]


@pytest.mark.parametrize(("exc", "status"), [
    (InvalidRequest("bad position"), 400), (CheckpointMismatch("depth 2 vs 3"), 400),
    (BankLocked("busy"), 503), (ShutkaError("odd"), 500), (ValueError("x"), 500),
])
def test_domain_errors_map_to_statuses(exc: Exception, status: int) -> None:
    got, body = translate(exc)
    assert got == status and set(body["error"]) == {"message", "type", "param", "code"}


# -- start-up refusal --------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_public_address_without_a_key_is_refused(tmp_path: Path, host: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHUTKA_API_KEY", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", host, "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "without an API key" in lines[0] and "--api-key" in lines[0]


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("127.0.0.5", True), ("0.0.0.0", False), ("::", False),
                                                ("192.0.2.1", False)])
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
