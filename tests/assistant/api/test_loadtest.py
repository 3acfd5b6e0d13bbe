"""The load generator (assistant/api/loadtest.py) keeps working: cursors, percentiles, a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from assistant.api.loadtest import cursors, main, percentile
from tests.assistant.api.helpers import LiveServer


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50.0, 95.0, 100.0)
    assert percentile([7.0], 95) == 7.0


def test_cursors_cut_workspace_files_at_a_seeded_position(live_server: LiveServer) -> None:
    bodies = cursors(live_server.workspace, 20, seed=3)
    assert bodies == cursors(live_server.workspace, 20, seed=3)
    for body in bodies:
        source = (live_server.workspace / body["path"]).read_text()
        assert body["prompt"] + body["suffix"] == source


def test_a_small_run_against_a_live_server(live_server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    result = CliRunner().invoke(main, ["--url", live_server.url, "--workspace", str(live_server.workspace),
                                       "--clients", "1,3", "--requests", "2", "--warmup", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    levels = json.loads(out.read_text())["levels"]
    assert [(lv["clients"], lv["ok"], lv["errors"]) for lv in levels] == [(1, 2, 0), (3, 6, 0)]
    assert all(lv["p95_ms"] >= lv["p50_ms"] > 0 for lv in levels)
