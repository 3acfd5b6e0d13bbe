"""Shared fixtures: a tiny tokenizer and model built in-process (no binary fixtures committed)."""

from __future__ import annotations

import os

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
