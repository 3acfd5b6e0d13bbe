"""Shared fixtures: a tiny tokenizer and model built in-process (no binary fixtures committed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer


def pytest_configure(config: pytest.Config) -> None:
    """Hub look-ups fail slowly offline (DESIGN §7): tests never reach the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

TINY_TS = [
    """import { Point } from "./point";

export interface Shape {
  area(): number;
  name: string;
}

export class Circle implements Shape {
  name = "circle";
  constructor(private readonly radius: number) {}
  area(): number {
    return Math.PI * this.radius * this.radius;
  }
}

export function distance(a: Point, b: Point): number {
  const dx = a.x - b.x;
  const dy = a.y - b.y;
  return Math.sqrt(dx * dx + dy * dy);
}
""",
    """export type Point = { x: number; y: number };

export const origin: Point = { x: 0, y: 0 };

export function add(a: Point, b: Point): Point {
  return { x: a.x + b.x, y: a.y + b.y };
}

export enum Color { Red, Green, Blue }
""",
]


@pytest.fixture(scope="session")
def tiny_tokenizer() -> TypeScriptTokenizer:
    return TypeScriptTokenizer.train(TINY_TS * 4, vocab_size=320, min_frequency=1)


@pytest.fixture
def tiny_model(tiny_tokenizer: TypeScriptTokenizer) -> UltraEfficientTextJEPA:
    torch.manual_seed(0)
    return UltraEfficientTextJEPA(model_size="tiny", vocab_size=tiny_tokenizer.vocab_size)


BASIC_WORKSPACE = {
    "package.json": '{"name": "basic", "version": "1.0.0", "dependencies": {}}\n',
    "tsconfig.json": '{"compilerOptions": {"baseUrl": ".", "paths": {"@lib/*": ["src/lib/*"]}}}\n',
    "src/point.ts": TINY_TS[1],
    "src/shapes.ts": TINY_TS[0],
    "src/lib/format.ts": """export function formatPoint(p: { x: number; y: number }): string {
  return `(${p.x}, ${p.y})`;
}

export class Formatter {
  constructor(private readonly precision: number) {}
  format(value: number): string {
    return value.toFixed(this.precision);
  }
}
""",
    "src/main.ts": """import { add, origin } from "./point";
import { Circle, distance } from "./shapes";
import { formatPoint, Formatter } from "@lib/format";

export function main(): string {
  const p = add(origin, { x: 1, y: 2 });
  const c = new Circle(2);
  const f = new Formatter(2);
  return formatPoint(p) + f.format(c.area()) + distance(p, origin);
}
""",
}


def write_workspace(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def basic_workspace(tmp_path: Path) -> Path:
    """A small TypeScript project: imports across files, a tsconfig path alias, classes and functions."""
    return write_workspace(tmp_path / "basic", BASIC_WORKSPACE)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer: TypeScriptTokenizer) -> Path:
    """A tiny random model saved as a real checkpoint (built here, never committed)."""
    from assistant.checkpoints import save_checkpoint

    torch.manual_seed(0)
    model = UltraEfficientTextJEPA(model_size="tiny", vocab_size=tiny_tokenizer.vocab_size)
    return save_checkpoint(tmp_path_factory.mktemp("model") / "tiny.safetensors", model, tiny_tokenizer)


@pytest.fixture
def runtime(basic_workspace: Path, tiny_checkpoint: Path) -> Iterator[object]:
    """An open runtime (indexed, not watching) on the basic workspace with the tiny model."""
    from assistant.runtime import open_runtime

    with open_runtime(basic_workspace, checkpoint=tiny_checkpoint, sync=True) as rt:
        yield rt
