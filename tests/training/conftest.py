"""Fixtures for training tests: small TypeScript corpora and tables written into tmp_path, and tiny settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.training.helpers import ts_file, write_jsonl, write_ts_corpus
from training.config import Settings, load_settings


@pytest.fixture
def ts_corpus(tmp_path: Path) -> Path:
    return write_ts_corpus(tmp_path / "corpus")


@pytest.fixture
def code_jsonl(tmp_path: Path) -> Path:
    rows = [{"package": "delta", "path": f"src/row{i}.ts", "content": ts_file("delta", 40 + i)} for i in range(6)]
    return write_jsonl(tmp_path / "code.jsonl", rows)


@pytest.fixture
def instruction_jsonl(tmp_path: Path) -> Path:
    rows = [{"instruction": f"Write a function that returns the {n} of two numbers.",
             "output": f"export function {n}(a: number, b: number): number {{\n  return a {op} b;\n}}\n"}
            for n, op in (("sum", "+"), ("difference", "-"), ("product", "*"), ("quotient", "/"),
                          ("remainder", "%"), ("power", "**"))]
    return write_jsonl(tmp_path / "instructions.jsonl", rows)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Tiny settings over the given sources; keyword sections override (e.g. run={"max_steps": 4})."""

    def make(sources: list[str], instruction_sources: list[str] | None = None, **sections: dict[str, Any]
             ) -> Settings:
        overrides: dict[str, dict[str, Any]] = {
            "train": {"batch_size": 4, "num_epochs": 4},
            "data": {"sources": sources, "instruction_sources": instruction_sources or [],
                     "val_file_fraction": 0.15},
            "run": {"checkpoint_dir": str(tmp_path / "ckpt"), "progress": False, "num_threads": 1},
        }
        for name, values in sections.items():
            overrides.setdefault(name, {}).update(values)
        return load_settings("tiny_cpu", overrides)

    return make
