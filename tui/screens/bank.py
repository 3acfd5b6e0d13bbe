"""The bank view: files → entries, search (semantic or text), an entry's code and its neighbours;
delete an entry or a file's entries, re-encode the bank.

Every facade call runs in a thread worker; results come back as messages. Detail and search
workers are exclusive, so moving quickly through the tree only ever shows the latest entry.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, Footer, Input, Tree
from textual.worker import get_current_worker

from assistant.types import Hop
from tui.changes import IndexChange
from tui.jobs import reencode_job
from tui.messages import (
    EntriesDeleted,
    EntryLoaded,
    FileEntriesLoaded,
    FilesLoaded,
    HopResolved,
    SearchFinished,
)
from tui.render import span, title
from tui.screens.base import ShutkaScreen
from tui.screens.dialogs import ConfirmScreen
from tui.screens.task import TaskScreen
from tui.widgets.bank_tree import BankTree, EntryNode, FileNode
from tui.widgets.entry_detail import EntryDetail
from tui.widgets.neighbour_list import NeighbourList
from tui.widgets.search_box import SearchBox
from tui.widgets.search_results import SearchResults

ENTRIES_PER_FILE = 1000
"""Entries of one file loaded into the tree; search reaches the rest."""
SEARCH_RESULTS = 30
"""Hits one search returns."""
NEIGHBOUR_HOPS = 2
"""How far the detail pane walks the code graph."""


class BankScreen(ShutkaScreen):
    """Files → definitions and lines, with counts; the selected entry's code, file and span, kind,
    content hash and code-graph neighbours (Enter on a neighbour opens it). Deleted entries stay
    deleted until their code changes."""

    MODE = "bank"
    BINDINGS = [
        Binding("slash", "focus_search", "Search",
                tooltip="search (Enter runs it; an empty search or Escape returns to the files)"),
        Binding("ctrl+t", "toggle_mode", "Sem/Text", tooltip="semantic search (through the model) ↔ plain text"),
        Binding("d", "delete", "Delete",
                tooltip="delete the entry shown, or all of a file's entries when the tree's cursor is on a file"),
        Binding("D", "delete_file", "Del file", tooltip="delete all entries of the selected file"),
        Binding("e", "reencode", "Re-encode", tooltip="re-encode every entry with the loaded model"),
        Binding("b", "back", "Back", show=False, tooltip="back to the entry shown before the last neighbour"),
        Binding("escape", "back_to_tree", "Files", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.detail_id: int | None = None
        """The entry the detail pane shows or is loading."""
        self.history: list[int] = []
        """Entries shown before each neighbour that was opened (`b` goes back)."""

    def compose(self) -> ComposeResult:
        yield self.mode_bar()
        with Horizontal(id="bank-body"):
            with Vertical(id="bank-left"):
                yield SearchBox(id="search-box")
                with ContentSwitcher(initial="bank-tree", id="bank-lists"):
                    yield BankTree(id="bank-tree")
                    yield SearchResults(id="search-results")
            yield EntryDetail(id="entry-detail")
        yield Footer()

    def on_mount(self) -> None:
        """Load the files and put the focus on the tree."""
        super().on_mount()
        self.query_one(BankTree).focus()

    # -- loading ---------------------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        """Reload the file list."""
        self.load_files()

    def on_index_change(self, change: IndexChange) -> None:
        """Reload files (and the entry shown) when the bank changed."""
        if change.bank_changed:
            self.load_files()
            if self.detail_id is not None:
                self.load_entry(self.detail_id)

    @work(thread=True, exclusive=True, group="files", name="listing the bank's files", exit_on_error=False)
    def load_files(self) -> None:
        """The bank's files with their counts."""
        self.post_message(FilesLoaded(sorted(self.assistant.files())))

    def on_files_loaded(self, message: FilesLoaded) -> None:
        """Update the tree; reload the entries of expanded files whose counts changed."""
        tree = self.query_one(BankTree)
        for path in tree.show_files(message.files):
            self.load_file_entries(path)

    @on(Tree.NodeExpanded, "#bank-tree")
    def _expanded(self, event: Tree.NodeExpanded[object]) -> None:
        """A file was expanded: load its entries."""
        if isinstance(event.node.data, FileNode):
            self.load_file_entries(event.node.data.path)

    @work(thread=True, group="entries", name="listing a file's entries", exit_on_error=False)
    def load_file_entries(self, path: str) -> None:
        """One file's entries (up to `ENTRIES_PER_FILE`)."""
        entries = self.assistant.entries(path, limit=ENTRIES_PER_FILE)
        self.post_message(FileEntriesLoaded(path, entries))

    def on_file_entries_loaded(self, message: FileEntriesLoaded) -> None:
        """Show a file's entries under its node."""
        tree = self.query_one(BankTree)
        node = tree.file_nodes().get(message.path)
        total = len(message.entries)
        if node is not None and isinstance(node.data, FileNode):
            total = max(total, node.data.count)
        tree.show_entries(message.path, message.entries, total)

    # -- the detail pane -------------------------------------------------------------------------------------

    @on(Tree.NodeHighlighted, "#bank-tree")
    def _tree_highlighted(self, event: Tree.NodeHighlighted[object]) -> None:
        """The tree's cursor moved onto an entry: show it."""
        if isinstance(event.node.data, EntryNode):
            self.open_entry(event.node.data.hit.id)

    @on(SearchResults.OptionHighlighted, "#search-results")
    def _result_highlighted(self, event: SearchResults.OptionHighlighted) -> None:
        """The cursor moved onto a search hit: show it."""
        entry_id = self.query_one(SearchResults).hit_id(event.option_index)
        if entry_id is not None:
            self.open_entry(entry_id)

    def open_entry(self, entry_id: int) -> None:
        """Show entry `entry_id` in the detail pane (loaded in a worker)."""
        self.detail_id = entry_id
        self.load_entry(entry_id)

    @work(thread=True, exclusive=True, group="detail", name="loading an entry", exit_on_error=False)
    def load_entry(self, entry_id: int) -> None:
        """The entry and its code-graph neighbours; a newer request cancels this one."""
        hit = self.assistant.entry(entry_id)
        hops = self.assistant.neighbours(entry_id, NEIGHBOUR_HOPS) if hit is not None else []
        if not get_current_worker().is_cancelled:
            self.post_message(EntryLoaded(entry_id, hit, hops))

    def on_entry_loaded(self, message: EntryLoaded) -> None:
        """Show the entry, unless a newer one was asked for meanwhile."""
        if message.entry_id != self.detail_id:
            return
        detail = self.query_one(EntryDetail)
        if message.hit is None:
            detail.show_missing(message.entry_id)
        else:
            detail.show(message.hit, message.hops)

    @on(NeighbourList.Open)
    def _open_neighbour(self, event: NeighbourList.Open) -> None:
        """A neighbour was chosen: find its entry."""
        self.resolve_hop(event.hop)

    @work(thread=True, exclusive=True, group="detail", name="opening a neighbour", exit_on_error=False)
    def resolve_hop(self, hop: Hop) -> None:
        """Find the bank entry of a code-graph neighbour (same file and symbol, nearest start line)."""
        found = [h for h in self.assistant.entries(hop.path, limit=ENTRIES_PER_FILE)
                 if h.kind != "line" and h.symbol == hop.symbol]
        line = hop_line(hop)
        found.sort(key=lambda h: (h.start_line != line, h.id))
        self.post_message(HopResolved(hop, found[0].id if found else None))

    def on_hop_resolved(self, message: HopResolved) -> None:
        """Open the neighbour's entry (remembering the current one for `b`), or say it is gone."""
        hop = message.hop
        if message.entry_id is None:
            self.notify(f"{hop.symbol} ({hop.path}) is not in the bank (deleted, or not indexed yet)",
                        severity="warning", markup=False)
            return
        if self.detail_id is not None:
            self.history.append(self.detail_id)
        self.open_entry(message.entry_id)

    def action_back(self) -> None:
        """Back to the entry shown before the last neighbour was opened."""
        if not self.history:
            self.notify("Nothing to go back to.", severity="information")
            return
        self.open_entry(self.history.pop())

    # -- search ----------------------------------------------------------------------------------------------

    def action_focus_search(self) -> None:
        """Move to the search box."""
        self.query_one("#search-input", Input).focus()

    def action_toggle_mode(self) -> None:
        """Semantic ↔ text search."""
        self.query_one(SearchBox).toggle()

    @on(SearchBox.Search)
    def _search(self, event: SearchBox.Search) -> None:
        """Run a search, or go back to the files for an empty query."""
        if not event.query:
            self.action_back_to_tree()
            return
        self.search(event.query, event.mode)

    @work(thread=True, exclusive=True, group="search", name="search", exit_on_error=False)
    def search(self, query: str, mode: str) -> None:
        """Search the bank; a newer search cancels this one."""
        hits = self.assistant.search(query, SEARCH_RESULTS, mode=mode)
        if not get_current_worker().is_cancelled:
            self.post_message(SearchFinished(query, mode, hits))

    def on_search_finished(self, message: SearchFinished) -> None:
        """Show the hits in place of the tree."""
        results = self.query_one(SearchResults)
        results.show(message.query, message.mode, message.hits)
        self.query_one(ContentSwitcher).current = "search-results"
        results.focus()

    def action_back_to_tree(self) -> None:
        """Leave the search results for the file tree."""
        self.query_one(SearchBox).clear()
        self.query_one(ContentSwitcher).current = "bank-tree"
        self.query_one(BankTree).focus()

    # -- edits -----------------------------------------------------------------------------------------------

    def action_delete(self) -> None:
        """Delete what is selected: the whole file when the tree's cursor is on a file, else the entry shown."""
        tree = self.query_one(BankTree)
        if tree.has_focus and isinstance(tree.current, FileNode):
            self.action_delete_file()
            return
        hit = self.query_one(EntryDetail).hit
        if hit is None:
            self.notify("Choose an entry first.", severity="warning")
            return
        question = (f"Forget {title(hit)} ({span(hit)}, #{hit.id})?\n\nIt stays forgotten until its code "
                    "changes.")
        self.app.push_screen(ConfirmScreen(question, yes="Delete"),
                             lambda ok: self.delete_entries([hit.id], f"{title(hit)} ({span(hit)})") if ok else None)

    def action_delete_file(self) -> None:
        """Delete every entry of the selected file (or of the entry shown)."""
        tree = self.query_one(BankTree)
        hit = self.query_one(EntryDetail).hit
        path = tree.current_file() if tree.has_focus or hit is None else hit.path
        if not path:
            self.notify("Choose a file or an entry first.", severity="warning")
            return
        node = tree.file_nodes().get(path)
        count = node.data.count if node is not None and isinstance(node.data, FileNode) else 0
        question = (f"Forget all {count} entries of {path}?\n\nThey stay forgotten until the file's code "
                    "changes.")
        self.app.push_screen(ConfirmScreen(question, yes="Delete all"),
                             lambda ok: self.delete_file(path) if ok else None)

    @work(thread=True, group="edit", name="deleting entries", exit_on_error=False)
    def delete_entries(self, ids: list[int], what: str) -> None:
        """Forget entries through the facade (it takes the writer lock)."""
        with self.shutka.own_work():
            count = self.assistant.delete_entries(ids)
        self.post_message(EntriesDeleted(what, count))

    @work(thread=True, group="edit", name="deleting a file's entries", exit_on_error=False)
    def delete_file(self, path: str) -> None:
        """Forget every entry of `path` through the facade."""
        with self.shutka.own_work():
            count = self.assistant.delete_file_entries(path)
        self.post_message(EntriesDeleted(f"the entries of {path}", count))

    def on_entries_deleted(self, message: EntriesDeleted) -> None:
        """Say what was forgotten and reload the views."""
        self.notify(f"Forgot {message.count} entr{'y' if message.count == 1 else 'ies'}: {message.what}",
                    markup=False)
        self.shutka.log_event(f"this process: deleted {message.count} entries ({message.what})")
        detail = self.query_one(EntryDetail)
        if detail.hit is not None and self.detail_id is not None:
            self.load_entry(self.detail_id)
        self.load_files()
        self.shutka.poll_now()

    def action_reencode(self) -> None:
        """Re-encode every entry with the loaded model, with progress."""
        self.app.push_screen(TaskScreen("Re-encoding the memory bank", reencode_job(self.assistant), unit="entries"),
                             self._task_done)

    def _task_done(self, summary: str | None) -> None:
        """A task dialog closed: report its summary and reload."""
        if summary:
            self.notify(summary, markup=False)
            self.shutka.log_event(f"this process: {summary}")
        self.load_files()
        self.shutka.poll_now()


def hop_line(hop: Hop) -> int | None:
    """The 1-based first line of a hop's chunk, read from its id (`path#symbol@line0`), if present."""
    _, _, line0 = hop.chunk_id.rpartition("@")
    return int(line0) + 1 if line0.isdigit() else None
