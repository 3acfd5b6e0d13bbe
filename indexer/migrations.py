"""One migration registry for every table of a workspace's `index.sqlite`.

Several owners keep tables in that one file: the catalog (indexer.schema), the memory bank, the Titans
episodes and the suppressions (assistant.memory). Each registers a `Component` — its name in
`schema_versions` and its numbered steps — and `migrate` applies them, always the same way: in one
`BEGIN IMMEDIATE` transaction, step i taking the component from version i to i + 1, then its
`schema_versions` row. Append a step to change a schema; never edit a released one. A component whose
row is newer than its steps was written by a newer Shutka: `SchemaTooNew`, which each owner words.

The indexer knows nothing of the other owners: they register themselves (at import) and the runtime
migrates everything registered when it opens a workspace.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

SCHEMA_VERSIONS_SQL = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)"""


@dataclass(frozen=True)
class Component:
    """One owner's tables: `steps[i]` (SQL statements) takes them from version i to i + 1."""

    name: str
    steps: tuple[tuple[str, ...], ...]

    @property
    def version(self) -> int:
        return len(self.steps)


class SchemaTooNew(Exception):
    """A component's tables were written by a newer Shutka (its recorded version is above ours)."""

    def __init__(self, component: str, found: int, known: int) -> None:
        super().__init__(f"{component} schema v{found} is newer than this Shutka understands (v{known})")
        self.component, self.found, self.known = component, found, known


_registry: dict[str, Component] = {}
_guard = threading.Lock()


def register(component: Component) -> Component:
    """Add (or replace, on a module reload) an owner's component."""
    with _guard:
        _registry[component.name] = component
    return component


def registered() -> list[Component]:
    with _guard:
        return list(_registry.values())


def version(conn: sqlite3.Connection, name: str) -> int:
    """The component's recorded version; 0 when it has none (or there is no `schema_versions` yet)."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'").fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT version FROM schema_versions WHERE component = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, names: Iterable[str] | None = None) -> dict[str, tuple[int, int]]:
    """Bring the named components (default: every registered one) to their latest version in one
    transaction. `conn` must be in autocommit mode (isolation_level=None) and outside a transaction.

    -> {name: (version before, version after)} of the components that moved."""
    wanted = registered() if names is None else [_registry[n] for n in names]
    conn.execute(SCHEMA_VERSIONS_SQL)
    if all(version(conn, c.name) == c.version for c in wanted):
        return {}
    moved: dict[str, tuple[int, int]] = {}
    conn.execute("BEGIN IMMEDIATE")
    try:
        for component in wanted:
            current = version(conn, component.name)  # another process may have migrated meanwhile
            if current > component.version:
                raise SchemaTooNew(component.name, current, component.version)
            for number in range(current, component.version):
                for statement in component.steps[number]:
                    conn.execute(statement)
                log.info("%s schema: migrated to v%d", component.name, number + 1)
            if current < component.version:
                conn.execute("INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                             "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                             (component.name, component.version))
                moved[component.name] = (current, component.version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return moved
