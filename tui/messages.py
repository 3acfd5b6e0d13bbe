"""Typed messages: how workers hand results back to the UI thread, and widgets talk to their screen.

Workers run facade calls off the UI thread and post one of these when they finish; handlers on
the UI thread update widgets. Nothing here holds behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from assistant.types import Explanation, Hit, Hop, Status, SyncReport, TitansStats
from tui.changes import IndexSnapshot

if TYPE_CHECKING:
    from assistant.runtime import Runtime


# -- the runtime and the index ------------------------------------------------------------------------------


@dataclass
class RuntimeOpened(Message):
    """The workspace opened: the runtime is ready and this is its first status."""

    runtime: Runtime
    """The open runtime (the app owns it and closes it on exit)."""
    status: Status
    """`assistant.status()` taken right after opening, in the opening thread."""
    files: dict[str, int]
    """Entries per file at opening."""


@dataclass
class IndexPolled(Message):
    """A cheap look at the shared index, taken every poll interval."""

    snapshot: IndexSnapshot
    """Generations, counts and digests as the poll saw them."""
    status: Status
    """The full status the snapshot was taken from (the status view shows it)."""


@dataclass
class SyncCommitted(Message):
    """This process committed a sync (posted from the syncing thread by the facade's listener)."""

    report: SyncReport
    """What the sync did, with its latency."""


@dataclass
class LogRecorded(Message):
    """A warning or error logged by the assistant or the indexer while the app runs."""

    level: int
    """The `logging` level."""
    logger: str
    """The logger's name (e.g. `assistant.runtime`)."""
    text: str
    """The formatted message."""


# -- bank view ----------------------------------------------------------------------------------------------


@dataclass
class FilesLoaded(Message):
    """The bank's files with their entry counts."""

    files: list[tuple[str, str, int]]
    """(path, section, entries), sorted by path."""


@dataclass
class FileEntriesLoaded(Message):
    """The entries of one file (for the tree)."""

    path: str
    """Workspace-relative path."""
    entries: list[Hit]
    """The file's entries (at most the view's limit)."""


@dataclass
class EntryLoaded(Message):
    """An entry to show in the detail pane, with its code-graph neighbours."""

    entry_id: int
    """The id that was asked for."""
    hit: Hit | None
    """The entry, or None when it is no longer in the bank."""
    hops: list[Hop]
    """Code-graph neighbours (HopRAG's hops), nearest first; empty for line entries."""


@dataclass
class HopResolved(Message):
    """A code-graph neighbour was looked up in the bank."""

    hop: Hop
    """The neighbour that was chosen."""
    entry_id: int | None
    """Its bank entry, or None when it is not in the bank (deleted, or not indexed yet)."""


@dataclass
class SearchFinished(Message):
    """Results of a bank search."""

    query: str
    """What was searched for."""
    mode: str
    """`semantic` or `text`."""
    hits: list[Hit]
    """Best first."""


@dataclass
class EntriesDeleted(Message):
    """Entries were forgotten through the facade."""

    what: str
    """Human description of what was deleted (an entry, or a file's entries)."""
    count: int
    """How many entries left the bank."""


# -- Titans view --------------------------------------------------------------------------------------------


@dataclass
class TitansLoaded(Message):
    """The Titans memory's statistics (None: the loaded model has no Titans memory)."""

    stats: TitansStats | None
    """`Assistant.titans_stats()`."""
    unavailable: str = ""
    """Why there are no statistics, when `stats` is None."""


@dataclass
class TitansChanged(Message):
    """A Titans action (forget, save, load) finished."""

    summary: str
    """What happened, for a notification."""


# -- why-this-completion ------------------------------------------------------------------------------------


@dataclass
class ExplanationReady(Message):
    """The engine's account of one completion request."""

    explanation: Explanation
    """Candidates with features and scores, hops, the gate's decision."""


# -- long tasks (index, re-encode, sync) --------------------------------------------------------------------


@dataclass
class TaskProgress(Message):
    """Progress of a long task, posted from its worker thread."""

    done: int
    """Units done so far."""
    total: int
    """Units in all (0: unknown)."""


@dataclass
class TaskFinished(Message):
    """A long task finished."""

    summary: str
    """One line saying what it did."""
