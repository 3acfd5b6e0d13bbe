"""Workspace adaptation: self-supervised tasks from the workspace, a fine-tuned ranker, saved and used."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from assistant.adaptation import adapt_ranker, adapt_workspace
from assistant.engine.ranker import Ranker
from assistant.runtime import open_runtime
from assistant.selfsup import eligible_lines, split_cursor, tasks_from_texts


def _module(i: int) -> str:
    return "\n".join([
        f"export interface Config{i} {{",
        f"  readonly name{i}: string;",
        "  readonly retries: number;",
        "}",
        "",
        f"export function load{i}(raw: Record<string, string>): Config{i} {{",
        f"  const name{i} = raw['name'] ?? 'default-{i}';",
        "  const retries = Number.parseInt(raw['retries'] ?? '3', 10);",
        "  if (Number.isNaN(retries)) {",
        "    throw new Error(`bad retries for ${name" + str(i) + "}`);",
        "  }",
        f"  return {{ name{i}, retries }};",
        "}",
        "",
    ])


def test_split_and_eligibility() -> None:
    assert split_cursor("    const retries = Number.parseInt(x, 10);") == ("    const retries", " = Number.parseInt(x, 10);")
    text = "import { a } from './a';\n// a comment here\nconst value = computeSomething(a);\n"
    assert eligible_lines(text) == [2]
    tasks = tasks_from_texts([("src/m.ts", _module(1))], "pkg", lines_per_file=3)
    assert len(tasks) == 3
    for t in tasks:
        assert (t.prefix + t.cursor_prefix + t.target + "\n" + t.suffix) == _module(1)


def test_adaptation_trains_saves_and_installs_a_ranker(tmp_path: Path, tiny_checkpoint: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    for i in range(30):
        (ws / "src" / f"config{i}.ts").write_text(_module(i))
    with open_runtime(ws, checkpoint=tiny_checkpoint, completion={"adapt": False}) as rt:
        completer = rt.parts.completer
        files = [(f"src/config{i}.ts", _module(i)) for i in range(30)]
        ranker, report = adapt_ranker(completer, files, completer.ranker, budget_s=120)
        assert report.tasks >= 40
        assert isinstance(ranker, Ranker)
        result = adapt_workspace(rt.parts.indexer.catalog, rt.parts.completer, rt.workspace.state_dir, 120)
        assert result is not None
        sidecar = json.loads((rt.workspace.state_dir / "ranker.json").read_text())
        assert sidecar["tasks"] == result.tasks
        assert (rt.workspace.state_dir / "ranker.safetensors").exists() == result.adapted
        assert adapt_workspace(rt.parts.indexer.catalog, rt.parts.completer, rt.workspace.state_dir, 120) is None  # recent enough


def test_adaptation_stops_when_asked(tmp_path: Path, tiny_checkpoint: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    for i in range(30):
        (ws / "src" / f"config{i}.ts").write_text(_module(i))
    with open_runtime(ws, checkpoint=tiny_checkpoint, completion={"adapt": False}) as rt:
        stop = threading.Event()
        stop.set()
        files = [(f"src/config{i}.ts", _module(i)) for i in range(30)]
        ranker, report = adapt_ranker(rt.parts.completer, files, rt.parts.completer.ranker, stop=stop)
        assert not report.adapted and ranker is rt.parts.completer.ranker
