"""`shutka eval headroom`: each miss of a run classified by what could still win it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.training.helpers import write_jsonl
from training.completion_eval.headroom import CLASSES, classify
from training.completion_eval.tasks import load_tasks
from training.eval_cli import command

POOL = "export class Pool {\n  fill() {}\n  drain() {}\n}\n"
USE = "export function setUp(pool: Pool) {\n  this.maxTimeMS = maxTimeMS;\n  pool.fill();\n}\n"


def _task(n: int, prefix: str, typed: str, target: str) -> dict:
    return {"id": f"t{n}", "package": "pkg", "file": "src/here.ts", "line_no": prefix.count("\n"),
            "prefix": prefix, "cursor_prefix": typed, "target": target, "suffix": ""}


def _row(n: int, em: float, oracle: bool) -> dict:
    return {"id": f"t{n}", "score": {"em": em, "es": 0.0, "idf1": 0.0}, "oracle": oracle}


def test_misses_are_classified_by_where_the_right_line_could_come_from(tmp_path: Path) -> None:
    pkg = tmp_path / "corpus" / "pkg"
    (pkg / "src").mkdir(parents=True)
    (pkg / ".corpus.json").write_text(json.dumps({"name": "pkg"}))
    (pkg / "src" / "pool.ts").write_text(POOL)
    (pkg / "src" / "use.ts").write_text(USE)
    (pkg / "src" / "here.ts").write_text("// the task file\n")
    tasks = [_task(1, "", "  pool", ".fill();"), _task(2, "", "  pool", ".fill();"),
             _task(3, "", "  this.timeoutMS", " = timeoutMS;"), _task(4, "", "  pool", ".drain();"),
             _task(5, "", "  return", " 42;")]
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    rows = [_row(1, 1.0, True), _row(2, 0.0, True), _row(3, 0.0, False), _row(4, 0.0, False), _row(5, 0.0, False)]
    write_jsonl(tmp_path / "pred.jsonl", rows)

    counts, classes = classify(load_tasks(tmp_path / "tasks.jsonl"), tmp_path / "pred.jsonl", tmp_path / "corpus")
    assert classes == {"t1": CLASSES[0], "t2": CLASSES[1], "t3": CLASSES[2], "t4": CLASSES[4], "t5": CLASSES[6]}
    assert sum(counts.values()) == 5

    result = CliRunner().invoke(command, ["headroom", "--tasks", str(tmp_path / "tasks.jsonl"),
                                          "--corpus", str(tmp_path / "corpus"),
                                          "--predictions", str(tmp_path / "pred.jsonl")])
    assert result.exit_code == 0, result.output
    assert "    1   20.0 %  one rename away: a name defined in another file" in result.output
