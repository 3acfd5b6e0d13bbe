"""Generated TypeScript workspaces for the indexer's scale tests (crash, latency): many small modules
that import each other, plus deterministic mutations. Importable by the subprocesses those tests spawn."""

from __future__ import annotations

import random
import re
from pathlib import Path

FOLDERS = ("core", "api", "ui", "util", "models")


def module_path(i: int) -> str:
    return f"src/{FOLDERS[i % len(FOLDERS)]}/mod{i:04d}.ts"


def module_source(i: int, n: int, version: int = 0, methods: int = 0) -> str:
    """Module i of n: an interface, a class with methods, functions calling into two other modules;
    `methods` extra class methods of 8 lines each make the file bigger (0 → ~40 lines)."""
    a, b = (i * 7 + 1) % n, (i * 13 + 5) % n
    here = Path(module_path(i)).parent
    imports = []
    for j in sorted({a, b} - {i}):
        target = Path(module_path(j))
        rel = Path("..") / target.parent.name / target.stem if target.parent != here else Path(".") / target.stem
        imports.append(f"import {{ fn{j:04d}, Model{j:04d} }} from './{rel.as_posix()}';".replace("'./../", "'../"))
    body = "\n".join(imports)
    call = f"fn{a:04d}(x - 1)" if a != i else "0"
    extra = "".join(f"""
  /** Step {k} of the pipeline. */
  step{k}(items: Model{i:04d}[], limit = {k}): Model{i:04d}[] {{
    const kept = items.filter((item) => item.id % {k + 2} !== 0);
    const named = kept.map((item) => ({{ ...item, name: item.name + "-{k}" }}));
    return named.slice(0, limit + {version});
  }}
""" for k in range(methods))
    return f"""{body}

/** Model {i} (version {version}). */
export interface Model{i:04d} {{
  id: number;
  name: string;
  tags: string[];
}}

export class Service{i:04d} {{
  private cache = new Map<number, Model{i:04d}>();

  get(id: number): Model{i:04d} | undefined {{
    return this.cache.get(id);
  }}

  put(model: Model{i:04d}): void {{
    this.cache.set(model.id, model);
  }}

  size(): number {{
    return this.cache.size + {version};
  }}
{extra}}}

export function fn{i:04d}(x: number): number {{
  const scaled = x * {i + 1};
  return scaled + {call} + {version};
}}

export const helper{i:04d} = (value: string): string => value.trim() + "{i}";
"""


def generate_workspace(root: Path, n: int, methods: int = 0) -> list[str]:
    """Write n modules under root (plus a tsconfig); returns their paths."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "tsconfig.json").write_text('{"compilerOptions": {"baseUrl": "."}}\n', encoding="utf-8")
    paths = []
    for i in range(n):
        path = root / module_path(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(module_source(i, n, methods=methods), encoding="utf-8")
        paths.append(module_path(i))
    return paths


def mutate(root: Path, rng: random.Random, n: int, steps: int = 5) -> list[str]:
    """Random edits as a user or a tool would make them: rewrite, create, delete, rename. Returns the
    workspace-relative paths touched (both ends of a rename)."""
    touched: list[str] = []
    files = sorted(p.relative_to(root).as_posix() for p in (root / "src").rglob("*.ts"))
    for _ in range(steps):
        op = rng.choice(("rewrite", "rewrite", "create", "delete", "rename"))
        if op == "create" or not files:
            i = rng.randrange(n, n * 3)
            rel = module_path(i)
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(module_source(i, n, version=rng.randrange(100)), encoding="utf-8")
            touched.append(rel)
            files.append(rel)
            continue
        rel = rng.choice(files)
        if op == "rewrite":
            i = int(re.search(r"mod(\d+)", rel).group(1))  # type: ignore[union-attr]
            (root / rel).write_text(module_source(i, n, version=rng.randrange(100)), encoding="utf-8")
            touched.append(rel)
        elif op == "delete":
            (root / rel).unlink(missing_ok=True)
            files.remove(rel)
            touched.append(rel)
        else:
            new = f"{Path(rel).parent.as_posix()}/renamed_{rng.randrange(10**6)}_{Path(rel).name}"
            (root / rel).rename(root / new)
            files.remove(rel)
            files.append(new)
            touched += [rel, new]
    return touched
