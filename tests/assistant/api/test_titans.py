"""/v1/titans/*: save, load, forget and stats over raw HTTP, on a server of its own (these tests write)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.config import ServerConfig
from assistant.runtime import Runtime, open_runtime
from tests.assistant.api.helpers import LiveServer, new_workspace, runtime_factory, serve

NEW_CODE = "\nexport function twice(n: number): number {\n  const doubled = n * 2;\n  return doubled + 0;\n}\n"


@pytest.fixture(scope="module")
def titans_server(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Iterator[LiveServer]:
    """A workspace indexed once, then edited: the server's start-up sync writes the new lines into the
    Titans memory (surprise-gated) before /health reports ready, so the tests start with episodes."""
    workspace = new_workspace(tmp_path_factory, "titans")
    with open_runtime(workspace, checkpoint=tiny_checkpoint, sync=True):
        pass
    main = workspace / "src" / "main.ts"
    main.write_text(main.read_text() + NEW_CODE)
    with serve(runtime_factory(workspace, tiny_checkpoint), workspace) as live:
        yield live


@pytest.fixture(scope="module")
def http(titans_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=titans_server.url, timeout=30.0) as c:
        yield c


@pytest.fixture(scope="module")
def with_episodes(http: httpx.Client) -> int:
    episodes = http.get("/v1/titans/stats").json()["episodes"]
    assert episodes >= 2, "the edit should have taught the memory a few lines"
    return episodes


def test_stats_describe_the_memory(http: httpx.Client, with_episodes: int) -> None:
    stats = http.get("/v1/titans/stats").json()
    assert stats["episodes"] == with_episodes and stats["capacity"] >= stats["episodes"]
    assert stats["writes"] > 0 and sum(b["count"] for b in stats["surprise_histogram"]) == stats["episodes"]
    assert any("doubled" in e["text"] for e in stats["most_accessed"] + stats["least_accessed"])


def test_save_defaults_to_the_workspace_file(http: httpx.Client, titans_server: LiveServer) -> None:
    response = http.post("/v1/titans/save")
    assert response.status_code == 200
    path = Path(response.json()["path"])
    assert path == titans_server.workspace.resolve() / ".shutka" / "titans" / "workspace_titans.pt"
    assert path.is_file()


def test_save_then_load_a_named_file(http: httpx.Client, titans_server: LiveServer, with_episodes: int) -> None:
    saved = http.post("/v1/titans/save", json={"path": "snapshots/a.pt"}).json()
    assert Path(saved["path"]).is_file() and saved["path"].endswith(".shutka/titans/snapshots/a.pt")
    loaded = http.post("/v1/titans/load", json={"path": "snapshots/a.pt"})
    assert loaded.status_code == 200 and loaded.json()["episodes"] == saved["episodes"]
    assert http.post("/v1/titans/load", json={"path": saved["path"]}).status_code == 200  # absolute works too


@pytest.mark.parametrize("path", ["../../escaped.pt", "/tmp/anywhere.pt", "../index.sqlite", "."])
def test_save_never_writes_outside_the_titans_folder(http: httpx.Client, titans_server: LiveServer,
                                                      path: str) -> None:
    response = http.post("/v1/titans/save", json={"path": path})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_path"
    assert not (titans_server.workspace.parent / "escaped.pt").exists()


@pytest.mark.parametrize("path", ["missing.pt", "/dev/zero", "../index.sqlite"])
def test_loading_what_is_not_a_memory_file_is_400(http: httpx.Client, path: str) -> None:
    response = http.post("/v1/titans/load", json={"path": path})
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_file", "invalid_path")


@pytest.mark.parametrize("body", [None, {}, {"path": None}])
def test_load_without_a_path_reads_what_save_without_a_path_wrote(http: httpx.Client, titans_server: LiveServer,
                                                                  body: dict | None) -> None:
    # as the Kaggle guide writes it: curl -X POST http://localhost:8000/v1/titans/save (then .../load)
    saved = http.post("/v1/titans/save")
    assert saved.status_code == 200
    loaded = http.post("/v1/titans/load", json=body) if body is not None else http.post("/v1/titans/load")
    assert loaded.status_code == 200, loaded.text
    assert loaded.json() == saved.json()
    assert loaded.json()["path"] == str(titans_server.workspace.resolve() / ".shutka" / "titans" / "workspace_titans.pt")


def test_load_without_a_path_before_any_save_says_so(runtime: Runtime) -> None:
    with TestClient(create_app(runtime, ServerConfig()), base_url="http://127.0.0.1") as client:
        response = client.post("/v1/titans/load")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_file" and "no Titans memory has been saved" in error["message"]


def _outside_files(tmp_path: Path, workspace: Path) -> list[str]:
    real = tmp_path / "real_titans.pt"  # a genuine memory file, but outside .shutka/titans/
    real.write_bytes((workspace / ".shutka" / "titans" / "workspace_titans.pt").read_bytes())
    unreadable = tmp_path / "secret"
    unreadable.write_text("s")
    unreadable.chmod(0)
    return ["/etc/shadow", "/etc/passwd", "/etc/no-such-file", "/no/such/dir/x.pt", str(tmp_path), str(real),
            str(unreadable), "../../../../../../etc/passwd", "../index.sqlite", "../no-such-file",
            str(workspace / "src" / "main.ts")]


def test_load_answers_the_same_for_every_path_outside_the_titans_folder(
        http: httpx.Client, titans_server: LiveServer, tmp_path: Path) -> None:
    http.post("/v1/titans/save")
    link = titans_server.workspace / ".shutka" / "titans" / "link.pt"  # a link out of the folder counts as outside
    link.unlink(missing_ok=True)
    link.symlink_to("/etc/passwd")
    answers = {path: http.post("/v1/titans/load", json={"path": path}) for path in
               [*_outside_files(tmp_path, titans_server.workspace), "link.pt"]}
    bodies = {(r.status_code, r.text) for r in answers.values()}
    assert len(bodies) == 1, bodies  # nothing tells whether a file exists or can be read
    status, text = bodies.pop()
    assert status == 400 and "loads come only inside" in text and "passwd" not in text


@pytest.mark.parametrize("route", ["/v1/titans/save", "/v1/titans/load"])
@pytest.mark.parametrize("path", ["x" * 5000, "x" * 300, "a/" * 1500 + "b", "x" * 256 + "/y"],
                         ids=["5000-chars", "300-char-name", "1500-folders", "long-folder"])
def test_an_unusable_path_is_400_naming_it(http: httpx.Client, route: str, path: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    response = http.post(route, json={"path": path})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "path" and error["code"] in ("invalid_path", "invalid_value")
    assert len(error["message"]) < 400 and "Traceback" not in response.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_forget_drops_the_least_accessed(http: httpx.Client, with_episodes: int) -> None:
    response = http.post("/v1/titans/forget", params={"n": 1})
    assert response.status_code == 200
    assert response.json() == {"forgotten": 1, "episodes": with_episodes - 1}
    everything = http.post("/v1/titans/forget", params={"n": 100}).json()
    assert everything == {"forgotten": with_episodes - 1, "episodes": 0}


@pytest.mark.parametrize("query", [{}, {"n": -1}, {"n": "many"}])
def test_forget_needs_a_non_negative_n(http: httpx.Client, query: dict) -> None:
    response = http.post("/v1/titans/forget", params=query)
    assert response.status_code == 400 and response.json()["error"]["param"] == "n"


FEEDBACK_PROMPT = "import { add, origin } from \"./point\";\n\nexport function main(): string {\n  const p = "


def _completion_id(http: httpx.Client) -> str:
    done = http.post("/v1/completions", json={"prompt": FEEDBACK_PROMPT, "path": "src/main.ts", "use_gate": False})
    assert done.status_code == 200
    return done.json()["id"]


def test_a_kept_completion_is_learned_by_the_titans_memory(http: httpx.Client) -> None:
    cid = _completion_id(http)
    before = http.get("/v1/titans/stats").json()
    kept = "quokkaRegistry.gallop(origin, 42);"  # what the user ended up with (edited): nothing like it exists
    out = http.post("/v1/completions/feedback", json={"id": cid, "text": kept})
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["id"] == cid and body["accepted"] and body["learned"] and body["surprise"] > 0
    after = http.get("/v1/titans/stats").json()
    assert after["writes"] == before["writes"] + 1
    assert any(e["text"] == "const p = " + kept for e in after["most_accessed"] + after["least_accessed"])


def test_a_dismissed_completion_teaches_nothing(http: httpx.Client) -> None:
    cid = _completion_id(http)
    before = http.get("/v1/titans/stats").json()["writes"]
    out = http.post("/v1/completions/feedback", json={"id": cid, "index": 0, "accepted": False}).json()
    assert out == {"id": cid, "accepted": False, "learned": False, "surprise": 0.0}
    assert http.get("/v1/titans/stats").json()["writes"] == before


def test_feedback_names_an_unknown_id_or_choice(http: httpx.Client) -> None:
    unknown = http.post("/v1/completions/feedback", json={"id": "cmpl-nope"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_completion"
    assert "last 256 completions" in unknown.json()["error"]["message"]
    beyond = http.post("/v1/completions/feedback", json={"id": _completion_id(http), "index": 99})
    assert beyond.status_code == 400 and beyond.json()["error"]["param"] == "index"
