"""GET /health: model loaded, index generation, bank size, ready flag; no key needed."""

from __future__ import annotations

import httpx

from tests.assistant.api.helpers import API_KEY, LiveServer


def test_health_reports_model_index_and_bank(http: httpx.Client) -> None:
    body = http.get("/health").json()
    assert body["status"] == "ok" and body["ready"] and body["model_loaded"]
    assert body["model"] == "shutka-v2" and body["checkpoint"].endswith(".safetensors")
    assert body["index_generation"] >= 1 and body["bank_entries"] > 0 and body["files"] > 0
    assert body["uptime_s"] > 0


def test_health_needs_no_key_but_the_api_does(keyed_server: LiveServer) -> None:
    assert httpx.get(f"{keyed_server.url}/health").status_code == 200
    assert httpx.get(f"{keyed_server.url}/v1/models").status_code == 401
    ok = httpx.get(f"{keyed_server.url}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"})
    assert ok.status_code == 200
