"""The code graph: imports resolved like TypeScript (relative, index files, tsconfig paths/baseUrl/extends,
node_modules types), names resolved to definitions, neighbours across files, incremental refresh."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.resolve import ImportResolver, loads_jsonc
from indexer.sync import Indexer
from indexer.workspace import Workspace

from .conftest import BASIC


@pytest.fixture
def indexed(basic_workspace: Workspace, make_indexer: Callable[..., Indexer]) -> Indexer:
    indexer = make_indexer(basic_workspace)
    indexer.sync()
    return indexer


def test_imports_resolve_index_files_and_tsconfig_paths(indexed: Indexer) -> None:
    graph = indexed.graph()
    assert graph.imports_of("src/services/userService.ts") == ["src/models/index.ts", "src/util/format.ts"]
    assert graph.imports_of("src/app.tsx") == ["src/services/userService.ts", "src/models/index.ts"]
    assert graph.imports_of("src/models/index.ts") == ["src/models/user.ts"]
    assert graph.importers_of("src/models/index.ts") == ["src/app.tsx", "src/services/userService.ts"]
    assert [e.kind for e in graph.file_edges("src/app.tsx")] == ["imports", "imports"]


def test_definitions_and_resolution(indexed: Indexer) -> None:
    graph = indexed.graph()
    assert graph.definitions("makeUser") == ["src/models/user.ts#makeUser@6"]
    assert graph.definitions("UserService.add") == ["src/services/userService.ts#UserService.add@6"]
    assert graph.definitions("nothing") == []
    add = "src/services/userService.ts#UserService.add@6"
    assert graph.resolve(add, "formatName", "calls") == ["src/util/format.ts#formatName@0"]
    edges = {(e.dst, e.kind) for e in graph.edges_from(add)}
    assert ("src/util/format.ts#formatName@0", "calls") in edges
    assert ("src/models/user.ts#makeUser@6", "calls") in edges
    assert ("src/models/user.ts#User@0", "type_uses") in edges  # `User` through the index re-export
    service = "src/services/userService.ts#UserService@3"
    assert {(e.dst, e.kind) for e in graph.edges_from(service)} >= {
        (add, "contains"), ("src/services/userService.ts#UserService.count@12", "contains")}


def test_neighbours_cross_files(indexed: Indexer) -> None:
    graph = indexed.graph()
    app = "src/app.tsx#App@8"
    one = dict(graph.neighbours(app, 1))
    assert one == {"src/app.tsx#UserCard@4": 1, "src/services/userService.ts#UserService@3": 1,
                   "src/services/userService.ts#UserService.add@6": 1}
    two = dict(graph.neighbours(app, 2))
    assert two["src/util/format.ts#formatName@0"] == 2
    assert two["src/models/user.ts#User@0"] == 2
    assert app not in two
    assert len(graph.neighbours(app, 2, limit=2)) == 2
    calls_only = dict(graph.neighbours(app, 1, kinds=["calls"]))
    assert "src/services/userService.ts#UserService@3" in calls_only
    # in-edges are followed too: the definition reaches its users
    users = dict(graph.neighbours("src/util/format.ts#formatName@0", 1))
    assert users == {"src/services/userService.ts#UserService.add@6": 1}


def test_chunk_text_comes_from_the_catalog(indexed: Indexer) -> None:
    chunk = indexed.graph().chunk("src/util/format.ts#formatName@0")
    assert chunk is not None
    assert chunk.text.startswith("export function formatName(name: string): string {")
    assert indexed.graph().chunk("nope#x@0") is None


def test_refresh_is_incremental(indexed: Indexer, basic_workspace: Workspace) -> None:
    graph = indexed.graph()
    generation = graph.generation
    (basic_workspace.root / "src/util/format.ts").write_text(
        "export function formatName(name: string): string {\n  return name;\n}\n"
        "export function shout(s: string) { return formatName(s) + '!'; }\n")
    indexed.sync(["src/util/format.ts"])
    assert indexed.graph() is graph and graph.generation == generation + 1
    assert graph.definitions("shout") == ["src/util/format.ts#shout@3"]
    assert dict(graph.neighbours("src/util/format.ts#shout@3", 1)) == {"src/util/format.ts#formatName@0": 1}
    (basic_workspace.root / "src/util/format.ts").unlink()
    indexed.sync(["src/util/format.ts"])
    assert graph.definitions("shout") == ["src/util/format.ts#shout@3"]  # a graph moves only when refreshed
    assert graph.refresh() and graph.definitions("shout") == []
    assert graph.imports_of("src/services/userService.ts") == ["src/models/index.ts"]


def test_same_file_then_unique_exported(make_workspace: Callable[..., Workspace],
                                        make_indexer: Callable[..., Indexer]) -> None:
    ws = make_workspace({
        "a.ts": "export function util() {}\nfunction local() {}\nexport function useBoth() { util(); local(); }\n",
        "b.ts": "export function util() {}\nexport function other() { util(); }\n",
        "c.ts": "export function caller() { other(); local(); }\n",
    })
    indexer = make_indexer(ws)
    indexer.sync()
    graph = indexer.graph()
    assert graph.resolve("a.ts#useBoth@2", "util", "calls") == ["a.ts#util@0"]  # same file first
    assert graph.resolve("c.ts#caller@0", "other", "calls") == ["b.ts#other@1"]  # unique and exported
    assert graph.resolve("c.ts#caller@0", "local", "calls") == []  # not exported elsewhere
    assert graph.resolve("c.ts#caller@0", "util", "calls") == []  # ambiguous


@pytest.fixture
def resolver_root(tmp_path: Path) -> Path:
    files = {
        "tsconfig.base.json": json.dumps({"compilerOptions": {"baseUrl": "./src",
                                                              "paths": {"~/*": ["lib/*", "fallback/*"]}}}),
        "tsconfig.json": '{ "extends": "./tsconfig.base", /* comment */ "compilerOptions": {}, }',
        "src/lib/a.ts": "", "src/fallback/b.ts": "", "src/plain.ts": "", "src/esm.ts": "", "src/comp.tsx": "",
        "src/dir/index.ts": "", "src/types.d.ts": "",
        "packages/app/tsconfig.json": json.dumps({"compilerOptions": {"paths": {"#app": ["./main.ts"]}}}),
        "packages/app/main.ts": "", "packages/app/x.ts": "",
        "node_modules/zod/package.json": json.dumps({"types": "lib/index.d.ts"}),
        "node_modules/zod/lib/index.d.ts": "",
        "node_modules/@types/lodash/index.d.ts": "", "node_modules/@types/lodash/fp.d.ts": "",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


@pytest.mark.parametrize(("source", "specifier", "expected"), [
    ("src/x.ts", "./plain", "src/plain.ts"),
    ("src/x.ts", "./esm.js", "src/esm.ts"),
    ("src/x.ts", "./comp", "src/comp.tsx"),
    ("src/x.ts", "./dir", "src/dir/index.ts"),
    ("src/x.ts", "./types", "src/types.d.ts"),
    ("src/x.ts", "~/a", "src/lib/a.ts"),
    ("src/x.ts", "~/b", "src/fallback/b.ts"),
    ("src/x.ts", "plain", "src/plain.ts"),
    ("src/x.ts", "zod", "node_modules/zod/lib/index.d.ts"),
    ("src/x.ts", "lodash", "node_modules/@types/lodash/index.d.ts"),
    ("src/x.ts", "lodash/fp", "node_modules/@types/lodash/fp.d.ts"),
    ("packages/app/x.ts", "#app", "packages/app/main.ts"),
    ("packages/app/x.ts", "~/a", None),  # the nearest tsconfig has no such path
    ("src/x.ts", "../../outside", None),
    ("src/x.ts", "./missing", None),
    ("src/x.ts", "react", None),
])
def test_resolver(resolver_root: Path, source: str, specifier: str, expected: str | None) -> None:
    assert ImportResolver(resolver_root).resolve(source, specifier) == expected


def test_loads_jsonc() -> None:
    text = '{\n // line\n "a": "http://x", /* block */ "b": [1, 2,],\n "c": "q\\"//",\n}'
    assert loads_jsonc(text) == {"a": "http://x", "b": [1, 2], "c": 'q"//'}


def test_graph_builds_fast_from_the_catalog(make_workspace: Callable[..., Workspace],
                                            make_indexer: Callable[..., Indexer]) -> None:
    files: dict[str, str | bytes] = dict(BASIC)
    for i in range(200):
        files[f"src/gen/m{i}.ts"] = (f"import {{ f{(i + 1) % 200} }} from './m{(i + 1) % 200}';\n"
                                     f"export function f{i}(x: number) {{ return f{(i + 1) % 200}(x) + {i}; }}\n"
                                     f"export class C{i} {{ run() {{ return f{i}(1); }} }}\n")
    ws = make_workspace(files)
    indexer = make_indexer(ws)
    indexer.sync()
    start = time.perf_counter()
    graph = indexer.graph()
    built = time.perf_counter() - start
    assert graph.stats()["chunks"] > 600
    assert dict(graph.neighbours("src/gen/m0.ts#f0@1", 1))["src/gen/m1.ts#f1@1"] == 1
    assert built < 2.0  # generous: ~30 ms on a quiet core; the machine is shared
