"""The status view's facts: workspace, model, bank size on disk and in memory, last sync."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from assistant.types import Status
from tui.health import mismatch
from tui.render import human_bytes


class StatusPanel(Static):
    """A two-column table rendered from one `Assistant.status()`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[tuple[str, Text]] = []
        """The rows on display."""

    def show(self, status: Status) -> None:
        """Render `status`."""
        self.rows = rows(status)
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for label, value in self.rows:
            table.add_row(label, value)
        self.update(table)

    @property
    def plain(self) -> str:
        """The rows as plain text, one `label  value` per line."""
        return "\n".join(f"{label}  {value.plain}" for label, value in self.rows)


def rows(status: Status) -> list[tuple[str, Text]]:
    """(label, value) rows for `status`, in display order."""
    bank = status.bank
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(bank.by_kind.items(), key=lambda kv: (-kv[1], kv[0])))
    where = "memory-mapped" if bank.mmapped else "in RAM"
    digest = Text(bank.model_digest or "—")
    if mismatch(status):
        digest.append("  differs from the loaded model: re-encode", style="bold red")
    elif bank.entries:
        digest.append("  matches the loaded model", style="green")
    sync = status.last_sync
    if sync is None:
        last = Text("none by this process (other processes' commits: see the log)", style="dim")
    else:
        last = Text(f"generation {sync.generation}: +{sync.added} -{sync.removed} files, {sync.moved} moved, "
                    f"{sync.skipped} skipped; encoded {sync.encoded}, reused {sync.reused}; "
                    f"{sync.latency_ms:.1f} ms")
    return [
        ("Workspace", Text(status.workspace)),
        ("Model", Text(f"{status.model}  ({status.model_digest})")),
        ("Bank", Text(f"{bank.entries} entries in {bank.files} files" + (f": {kinds}" if kinds else ""))),
        ("Vectors", Text(vectors(status))),
        ("Size", Text(f"{human_bytes(bank.bytes_on_disk)} on disk, {human_bytes(bank.memory_bytes)} in memory "
                      f"({where})")),
        ("Encoded by", digest),
        ("Catalog", Text(f"generation {status.catalog_generation}, {status.files} files")),
        ("Titans", Text(f"{status.titans_episodes} episodes")),
        ("Last sync", last),
        ("Indexing", Text("yes" if status.indexing else "no")),
    ]


def vectors(status: Status) -> str:
    """How the bank's vectors are stored: index type and generation, pending and deleted vectors."""
    bank = status.bank
    if bank.index_type == "none":
        return f"no vector file yet: {bank.delta} vectors pending the first compaction"
    return (f"{bank.index_type} index, file generation {bank.generation}, {bank.delta} pending, "
            f"{bank.tombstones} deleted")
