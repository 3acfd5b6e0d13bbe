"""Discovery: ignore files, defaults, secrets, size limits and odd entries (loops, FIFOs, dangling
links, unreadable files) are each handled, reported as a Skip with its reason and logged."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.config import IndexerConfig
from indexer.discovery import IgnoreRules, discover, discover_dependencies, discover_workspace, is_secret
from indexer.sync import Indexer
from indexer.types import Skip
from indexer.workspace import Workspace


def _paths(root: Path, **config: object) -> list[str]:
    return [f.path for f in discover(root, IndexerConfig(**config)).files]  # type: ignore[arg-type]


def _skips(root: Path, **config: object) -> dict[str, str]:
    return {s.path: s.reason for s in discover(root, IndexerConfig(**config)).skipped}  # type: ignore[arg-type]


def test_extensions_and_default_excludes(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({
        "a.ts": "", "b.tsx": "", "c.mts": "", "d.cts": "", "e.js": "", "README.md": "", "types.d.ts": "",
        "node_modules/pkg/index.ts": "", "dist/out.ts": "", "build/x.ts": "", "coverage/c.ts": "",
        ".git/HEAD.ts": "", ".shutka/state.ts": "", "out/o.ts": "", "deep/node_modules/y.ts": "",
    })
    assert _paths(ws.root) == ["a.ts", "b.tsx", "c.mts", "d.cts", "types.d.ts"]
    skips = _skips(ws.root)
    assert skips["node_modules/"] == "ignored by default exclude"
    assert skips["deep/node_modules/"] == "ignored by default exclude"
    assert ".shutka/" not in skips and ".git/" not in skips  # our own state is not news


def test_nested_gitignore_and_shutkaignore(make_workspace: Callable[..., Workspace],
                                          caplog: pytest.LogCaptureFixture) -> None:
    ws = make_workspace({
        ".gitignore": "generated/\n*.gen.ts\n",
        "src/.gitignore": "local.ts\n!keep.gen.ts\n",
        ".shutkaignore": "fixtures/\n!generated/\n",
        "main.ts": "", "x.gen.ts": "", "src/keep.gen.ts": "", "src/local.ts": "", "local.ts": "",
        "src/deeper/local.ts": "", "generated/api.ts": "", "fixtures/f.ts": "",
    })
    with caplog.at_level(logging.INFO, logger="indexer"):
        found = discover(ws.root, IndexerConfig())
    assert [f.path for f in found.files] == ["generated/api.ts", "local.ts", "main.ts", "src/keep.gen.ts"]
    reasons = {s.path: s.reason for s in found.skipped}
    assert reasons["x.gen.ts"] == "ignored by .gitignore"
    assert reasons["src/local.ts"] == "ignored by src/.gitignore"
    assert reasons["src/deeper/local.ts"] == "ignored by src/.gitignore"
    assert reasons["fixtures/"] == "ignored by .shutkaignore"
    assert "skipped x.gen.ts: ignored by .gitignore" in caplog.text


def test_config_exclude(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({"a.ts": "", "legacy/b.ts": "", "c.spec.ts": ""})
    assert _paths(ws.root, exclude=("legacy/", "*.spec.ts")) == ["a.ts"]
    assert _paths(ws.root) == ["a.ts", "c.spec.ts", "legacy/b.ts"]


def test_ignore_rules_reload_when_the_file_changes(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({".gitignore": "a.ts\n", "a.ts": "", "b.ts": ""})
    rules = IgnoreRules(ws.root, IndexerConfig())
    assert rules.explain("a.ts", False) == "ignored by .gitignore"
    (ws.root / ".gitignore").write_text("b.ts\n# longer so the size changes\n")
    assert rules.explain("a.ts", False) == "ignored by .gitignore"  # one walk sees one version
    rules.refresh()
    assert rules.explain("a.ts", False) is None
    assert rules.explain_path("b.ts", False) == "ignored by .gitignore"


@pytest.mark.parametrize("name", [".env", ".env.local", ".env.ts", "server.key", "cert.pem", "id_rsa",
                                  "id_ed25519.pub", "store.p12", "server.key.ts", "credentials.ts", "site.crt"])
def test_secret_names(name: str) -> None:
    assert is_secret(name, (".ts", ".tsx"))


@pytest.mark.parametrize("name", ["environment.ts", "keyboard.ts", "monkey.ts", "envelope.tsx", "pem.ts"])
def test_not_secret_names(name: str) -> None:
    assert not is_secret(name, (".ts", ".tsx"))


def test_secrets_are_never_indexed(make_workspace: Callable[..., Workspace],
                                   caplog: pytest.LogCaptureFixture) -> None:
    ws = make_workspace({".env": "TOKEN=x", ".env.ts": "export const TOKEN = 'x';", "keys/server.key.ts": "k",
                         "app.ts": "export const a = 1;"})
    with caplog.at_level(logging.INFO, logger="indexer"):
        found = discover(ws.root, IndexerConfig())
    assert [f.path for f in found.files] == ["app.ts"]
    reasons = {s.path: s.reason for s in found.skipped}
    for path in (".env", ".env.ts", "keys/server.key.ts"):
        assert reasons[path] == "looks like a secret (never indexed)"
        assert f"skipped {path}: looks like a secret" in caplog.text


def test_size_limit(make_workspace: Callable[..., Workspace], caplog: pytest.LogCaptureFixture) -> None:
    ws = make_workspace({"big.ts": "x" * 5000, "small.ts": "y"})
    with caplog.at_level(logging.WARNING, logger="indexer"):
        found = discover(ws.root, IndexerConfig(max_file_bytes=1000))
    assert [f.path for f in found.files] == ["small.ts"]
    assert found.skipped == (Skip("big.ts", "too large (5000 bytes > max_file_bytes 1000)"),)
    assert "skipped big.ts: too large" in caplog.text


def test_symlink_loop_is_skipped(make_workspace: Callable[..., Workspace], caplog: pytest.LogCaptureFixture) -> None:
    ws = make_workspace({"src/a.ts": "export const a = 1;"})
    (ws.root / "src" / "loop").symlink_to(ws.root / "src", target_is_directory=True)
    (ws.root / "self.ts").symlink_to(ws.root / "self.ts")  # a link to itself: ELOOP on stat
    with caplog.at_level(logging.WARNING, logger="indexer"):
        found = discover(ws.root, IndexerConfig())
    assert [f.path for f in found.files] == ["src/a.ts"]
    reasons = {s.path: s.reason for s in found.skipped}
    assert reasons["src/loop/"] == "symlink loop (leads back to a folder being walked)"
    assert reasons["self.ts"].startswith("unreadable (")
    assert "skipped src/loop/: symlink loop" in caplog.text


def test_symlinked_folder_is_followed_once(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({"shared/lib.ts": "export const x = 1;"})
    (ws.root / "alias").symlink_to(ws.root / "shared", target_is_directory=True)
    found = discover(ws.root, IndexerConfig())
    assert [f.path for f in found.files] == ["shared/lib.ts"]  # the real folder wins over the link
    assert {s.path: s.reason for s in found.skipped}["alias/"] == \
        "folder already indexed through another path (symlink)"
    assert _skips(ws.root, follow_symlinks=False)["alias/"] == \
        "symlinked folder not followed (follow_symlinks = false)"


def test_dangling_symlink_fifo_and_directory_named_ts(make_workspace: Callable[..., Workspace],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    ws = make_workspace({"ok.ts": "export const ok = 1;", "weird.ts/inner.ts": "export const inner = 2;"})
    (ws.root / "gone.ts").symlink_to(ws.root / "missing.ts")
    os.mkfifo(ws.root / "pipe.ts")
    with caplog.at_level(logging.WARNING, logger="indexer"):
        found = discover(ws.root, IndexerConfig())
    assert [f.path for f in found.files] == ["ok.ts", "weird.ts/inner.ts"]  # a folder named x.ts is a folder
    reasons = {s.path: s.reason for s in found.skipped}
    assert reasons["gone.ts"] == "dangling symlink (its target does not exist)"
    assert reasons["pipe.ts"] == "not a regular file (a FIFO)"
    assert "skipped pipe.ts: not a regular file (a FIFO)" in caplog.text


def test_unreadable_file_is_skipped_not_fatal(make_workspace: Callable[..., Workspace],
                                              make_indexer: Callable[..., Indexer],
                                              monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Tests run as root, where chmod 000 does not stop reads: the open() of one file is made to raise
    PermissionError, exactly what a non-root user meets on a file they may not read."""
    ws = make_workspace({"secret_dir/locked.ts": "export const x = 1;", "open.ts": "export const y = 2;"})
    real_open = os.open
    locked = str(ws.root / "secret_dir" / "locked.ts")

    def guarded_open(path: str | os.PathLike[str], flags: int, *args: object, **kwargs: object) -> int:
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", guarded_open)
    indexer = make_indexer(ws)
    with caplog.at_level(logging.WARNING):
        event = indexer.sync()
    assert event.added == ("open.ts",)
    assert event.skipped == (Skip("secret_dir/locked.ts", "unreadable (PermissionError: Permission denied)"),)
    assert "skipped secret_dir/locked.ts: unreadable (PermissionError: Permission denied)" in caplog.text
    assert indexer.catalog.file_state("secret_dir/locked.ts") is None


def test_unreadable_folder(make_workspace: Callable[..., Workspace], monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace({"a.ts": "", "private/b.ts": ""})
    real_scandir = os.scandir

    def guarded(path: str | os.PathLike[str] = ".") -> object:
        if Path(path).name == "private":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", guarded)
    found = discover_workspace(ws.root, IndexerConfig())
    assert [f.path for f in found.files] == ["a.ts"]
    assert found.skipped == (Skip("private/", "unreadable folder (Permission denied)"),)


# --- dependencies ----------------------------------------------------------------------------------


def _dependency_workspace(make_workspace: Callable[..., Workspace]) -> Workspace:
    return make_workspace({
        "package.json": json.dumps({"dependencies": {"typed": "1", "untyped": "1", "@scope/pkg": "1"},
                                    "devDependencies": {"@types/node": "1", "absent": "1"}}),
        "src/main.ts": "import { run } from 'typed';\n",
        "node_modules/typed/package.json": json.dumps({"types": "dist/index.d.ts"}),
        "node_modules/typed/dist/index.d.ts": "export * from './run';\n/// <reference path=\"globals.d.ts\" />\n",
        "node_modules/typed/dist/run.d.ts": "export declare function run(): void;\n",
        "node_modules/typed/dist/globals.d.ts": "declare const G: number;\n",
        "node_modules/typed/dist/unrelated.d.ts": "export declare const u: 1;\n",
        "node_modules/typed/dist/impl.js": "module.exports = {}\n",
        "node_modules/untyped/index.js": "",
        "node_modules/@types/untyped/index.d.ts": "export declare function u(): void;\n",
        "node_modules/@scope/pkg/lib/a.d.ts": "export declare const a: 1;\n",
        "node_modules/@scope/pkg/node_modules/nested/x.d.ts": "export declare const n: 1;\n",
        "node_modules/@types/node/fs.d.ts": "declare module 'fs' { export function readFileSync(p: string): string; }\n",
        "node_modules/notadep/index.d.ts": "export declare const nope: 1;\n",
    })


def test_dependencies_library_section(make_workspace: Callable[..., Workspace]) -> None:
    ws = _dependency_workspace(make_workspace)
    found = discover(ws.root, IndexerConfig())
    sections = {f.path: f.section for f in found.files}
    assert sections == {
        "node_modules/@scope/pkg/lib/a.d.ts": "library",
        "node_modules/@types/node/fs.d.ts": "library",
        "node_modules/@types/untyped/index.d.ts": "library",
        "node_modules/typed/dist/globals.d.ts": "library",
        "node_modules/typed/dist/index.d.ts": "library",
        "node_modules/typed/dist/run.d.ts": "library",
        "src/main.ts": "workspace",
    }
    assert [f.path for f in discover(ws.root, IndexerConfig(include_dependencies=False)).files] == ["src/main.ts"]


def test_dependencies_bounded(make_workspace: Callable[..., Workspace], caplog: pytest.LogCaptureFixture) -> None:
    files: dict[str, str | bytes] = {"package.json": json.dumps({"dependencies": {"big": "1", "small": "1"}})}
    files |= {f"node_modules/big/t{i:02d}.d.ts": f"export declare const v{i}: {i};\n" for i in range(30)}
    files |= {f"node_modules/small/s{i}.d.ts": f"export declare const s{i}: {i};\n" for i in range(3)}
    ws = make_workspace(files)
    with caplog.at_level(logging.INFO, logger="indexer"):
        found = discover_dependencies(ws.root, IndexerConfig(max_dependency_files=10))
    paths = [f.path for f in found.files]
    assert len(paths) == 10
    assert sum(p.startswith("node_modules/small/") for p in paths) == 3  # the largest package is truncated
    assert found.skipped == (Skip("node_modules/big/",
                                  "dependency truncated to 7 of 30 .d.ts files (max_dependency_files 10)"),)
    assert "dependency truncated" in caplog.text


def test_broken_package_json_is_reported(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({"package.json": "{ not json", "a.ts": ""})
    found = discover(ws.root, IndexerConfig())
    assert [f.path for f in found.files] == ["a.ts"]
    assert found.skipped[0].path == "package.json"
    assert "fix package.json" in found.skipped[0].reason


def test_a_symlink_out_of_the_workspace_is_never_followed(tmp_path: Path) -> None:
    """A cloned repository linking to the user's home must not bring those files into the index."""
    from indexer.config import IndexerConfig
    from indexer.discovery import discover_workspace

    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    (home / "notes" / "private.ts").write_text("export const diary = 1;\n")
    (home / "secret.ts").write_text("export const x = 1;\n")
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "a.ts").write_text("export const a = 1;\n")
    (repo / "src" / "inner").mkdir()
    (repo / "src" / "inner" / "b.ts").write_text("export const b = 1;\n")
    (repo / "notes").symlink_to(home / "notes")
    (repo / "src" / "linked.ts").symlink_to(home / "secret.ts")
    (repo / "alias").symlink_to(repo / "src" / "inner")  # inside the workspace: followed as before
    found = discover_workspace(repo, IndexerConfig())
    paths = sorted(f.path for f in found.files)
    assert paths == ["alias/b.ts", "src/a.ts"] or paths == ["src/a.ts", "src/inner/b.ts"], paths
    assert {s.path for s in found.skipped if "outside the workspace" in s.reason} == {"notes", "src/linked.ts"}
