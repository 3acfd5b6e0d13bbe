"""Helpers that write small TypeScript corpora and tables (used by fixtures and tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NAMES = ("clamp", "lerp", "sumOf", "mapKeys", "pick", "omit", "chunk", "zipWith", "groupBy", "unique",
         "flatten", "range", "debounce", "memoize", "retry", "pad")


def ts_file(package: str, index: int) -> str:
    """A plausible TypeScript module: an import, an interface, documented functions, a class."""
    a, b = NAMES[index % len(NAMES)], NAMES[(index * 7 + 3) % len(NAMES)]
    return f'''import {{ Result, ok, err }} from "./result";

export interface {package.title()}Options{index} {{
  limit: number;
  label: string;
}}

/**
 * Returns the {a} of the values, bounded by the options' limit.
 * @param values the input numbers
 */
export function {a}{index}(values: number[], options: {package.title()}Options{index}): number {{
  const total = values.reduce((acc, value) => acc + value, 0);
  const bounded = Math.min(total, options.limit);
  return bounded * {index + 1};
}}

/** Applies {b} to every key of the record and keeps the values. */
export function {b}{index}<T>(record: Record<string, T>): Record<string, T> {{
  const out: Record<string, T> = {{}};
  for (const key of Object.keys(record)) {{
    out[key.toUpperCase()] = record[key];
  }}
  return out;
}}

export class Counter{index} {{
  private count = {index};

  /** Adds one to the counter and returns the new value. */
  increment(): number {{
    this.count += 1;
    return this.count;
  }}

  reset(): Result<number> {{
    if (this.count === 0) {{
      return err("already zero");
    }}
    this.count = 0;
    return ok(this.count);
  }}
}}
'''


def write_ts_corpus(root: Path, packages: tuple[str, ...] = ("alpha", "beta", "gamma"), files: int = 6) -> Path:
    for p, package in enumerate(packages):
        folder = root / package / "src"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(files):
            (folder / f"mod{i}.ts").write_text(ts_file(package, p * files + i), encoding="utf-8")
    return root


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
