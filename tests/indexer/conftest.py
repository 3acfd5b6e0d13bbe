"""Indexer fixtures: workspaces written into tmp_path by the tests themselves (odd files included),
an Indexer on them, and a condition waiter for the watcher tests (no fixed sleeps)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexer.config import IndexerConfig
from indexer.sync import Indexer
from indexer.workspace import Workspace

Files = dict[str, str | bytes]

BASIC: Files = {
    "tsconfig.json": """{
  // JSON with comments, as tsconfig.json allows
  "compilerOptions": {
    "baseUrl": ".",
    "paths": { "@util/*": ["src/util/*"], "@models": ["src/models/index.ts"], },
  },
}
""",
    "src/models/user.ts": """/** A user of the system. */
export interface User {
  id: number;
  name: string;
}

export function makeUser(id: number, name: string): User {
  return { id, name };
}
""",
    "src/models/index.ts": "export * from './user';\n",
    "src/util/format.ts": """export function formatName(name: string): string {
  return name.trim().toUpperCase();
}
""",
    "src/services/userService.ts": """import { User, makeUser } from '../models';
import { formatName } from '@util/format';

export class UserService {
  private users: User[] = [];

  add(id: number, name: string): User {
    const user = makeUser(id, formatName(name));
    this.users.push(user);
    return user;
  }

  count(): number {
    return this.users.length;
  }
}
""",
    "src/app.tsx": """import React from 'react';
import { UserService } from './services/userService';
import type { User } from '@models';

export function UserCard(props: { user: User }) {
  return <div className="card">{props.user.name}</div>;
}

export const App = () => {
  const service = new UserService();
  const user = service.add(1, 'ada');
  return <UserCard user={user} />;
};
""",
}
"""Imports across files: a folder index file, tsconfig `paths` with and without `*`, TSX."""


def write_tree(root: Path, files: Files) -> None:
    """Write `files` (relative path → text or bytes) under `root`."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture
def make_workspace(tmp_path: Path) -> Callable[..., Workspace]:
    """`make_workspace(files, name="ws")` → a Workspace holding `files`."""

    def make(files: Files | None = None, name: str = "ws") -> Workspace:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        write_tree(root, files or {})
        return Workspace(root)

    return make


@pytest.fixture
def basic_workspace(make_workspace: Callable[..., Workspace]) -> Workspace:
    return make_workspace(BASIC)


@pytest.fixture
def make_indexer() -> Iterator[Callable[..., Indexer]]:
    """`make_indexer(workspace, **config)` → an Indexer, closed after the test."""
    made: list[Indexer] = []

    def make(workspace: Workspace, **config: object) -> Indexer:
        indexer = Indexer(workspace, IndexerConfig(**config))  # type: ignore[arg-type]
        made.append(indexer)
        return indexer

    yield make
    for indexer in made:
        indexer.close()


@pytest.fixture
def wait_for() -> Callable[..., None]:
    """`wait_for(predicate, timeout=30, what="...", interval=0.02)`: poll until true; fail naming `what`
    (a string, or a callable giving one at failure time) on timeout. Generous: the machine is shared,
    and a timeout only bounds how long a failure takes."""

    def wait(predicate: Callable[[], bool], timeout: float = 30.0, what: str | Callable[[], str] = "condition",
             interval: float = 0.02) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
            time.sleep(interval)

    return wait
