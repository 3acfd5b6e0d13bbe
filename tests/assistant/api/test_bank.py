"""GET /v1/bank/stats."""

from __future__ import annotations

import httpx

from tests.assistant.api.helpers import LiveServer


def test_bank_stats_count_the_indexed_workspace(http: httpx.Client, live_server: LiveServer) -> None:
    stats = http.get("/v1/bank/stats").json()
    ts_files = len(list((live_server.workspace / "src").rglob("*.ts")))
    assert stats["files"] == ts_files and stats["entries"] == sum(stats["by_kind"].values())
    assert stats["by_kind"]["line"] > 0 and stats["by_kind"]["function"] > 0
    assert stats["bytes_on_disk"] > 0 and stats["model_digest"]
