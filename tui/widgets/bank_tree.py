"""The bank as a tree: files with their entry counts → definitions, and a group of line entries.

A view only: the screen loads files and entries through the facade (in workers) and hands them
here; expanding a file asks the screen for its entries with the tree's own `NodeExpanded`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from assistant.types import Hit
from tui.render import first_line


@dataclass(frozen=True, slots=True)
class FileNode:
    """A file of the bank."""

    path: str
    """Workspace-relative path."""
    section: str
    """`workspace`, or where a dependency's file comes from."""
    count: int
    """Entries the file has in the bank."""


@dataclass(frozen=True, slots=True)
class LinesNode:
    """The group holding a file's line entries (completion candidates)."""

    path: str
    """The file the lines belong to."""


@dataclass(frozen=True, slots=True)
class EntryNode:
    """One bank entry: a definition (chunk) or a line."""

    hit: Hit
    """The entry as the facade returned it."""


NodeData = FileNode | LinesNode | EntryNode


class BankTree(Tree[NodeData]):
    """Files → entries. `show_files` updates in place, so expansion and the cursor survive a refresh."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("memory bank", id=id)
        self.show_root = False
        self.guide_depth = 2

    # -- files -----------------------------------------------------------------------------------------------

    def file_nodes(self) -> dict[str, TreeNode[NodeData]]:
        """The file nodes by path."""
        return {n.data.path: n for n in self.root.children if isinstance(n.data, FileNode)}

    def show_files(self, files: list[tuple[str, str, int]]) -> list[str]:
        """Show these (path, section, count) files, keeping what is expanded.
        -> paths of expanded files whose count changed (their entries must be reloaded)."""
        wanted = {path: FileNode(path, section, count) for path, section, count in files}
        nodes = self.file_nodes()
        stale = []
        for path, node in nodes.items():
            if path not in wanted:
                node.remove()
        for index, path in enumerate(sorted(wanted)):
            data = wanted[path]
            node = nodes.get(path)
            if node is None:
                self.root.add(self._file_label(data), data, before=index, allow_expand=data.count > 0)
                continue
            old = node.data
            node.data = data
            node.set_label(self._file_label(data))
            node.allow_expand = data.count > 0
            if isinstance(old, FileNode) and old.count != data.count and node.is_expanded:
                stale.append(path)
        return stale

    @staticmethod
    def _file_label(data: FileNode) -> Text:
        """`path [section]  count`."""
        label = Text(data.path)
        if data.section != "workspace":
            label.append(f" [{data.section}]", style="italic dim")
        label.append(f"  {data.count}", style="bold cyan")
        return label

    # -- entries ---------------------------------------------------------------------------------------------

    def show_entries(self, path: str, entries: list[Hit], total: int) -> None:
        """Replace `path`'s children with its definitions, then a `lines (n)` group."""
        node = self.file_nodes().get(path)
        if node is None:
            return
        node.remove_children()
        definitions = sorted((h for h in entries if h.kind != "line"), key=lambda h: (h.start_line or 0, h.id))
        lines = sorted((h for h in entries if h.kind == "line"), key=lambda h: (h.start_line or 0, h.id))
        for hit in definitions:
            node.add_leaf(self._entry_label(hit), EntryNode(hit))
        if lines:
            group = node.add(Text.assemble(("lines ", "italic"), (f"{len(lines)}", "bold cyan")),
                             LinesNode(path))
            for hit in lines:
                group.add_leaf(self._entry_label(hit), EntryNode(hit))
        if total > len(entries):
            node.add_leaf(Text(f"… {total - len(entries)} more (search to find them)", style="dim"))
        if not entries:
            node.add_leaf(Text("no entries", style="dim"))

    @staticmethod
    def _entry_label(hit: Hit) -> Text:
        """`line  kind symbol` for a definition, `line  text` for a line."""
        where = f"{hit.start_line}" if hit.start_line else "?"
        if hit.kind == "line":
            return Text.assemble((f"{where:>4} ", "dim"), first_line(hit.text, 60))
        return Text.assemble((f"{where:>4} ", "dim"), (hit.kind, "magenta"), " ", (hit.symbol or "", "bold"))

    # -- what is selected ------------------------------------------------------------------------------------

    @property
    def current(self) -> NodeData | None:
        """The data under the cursor."""
        node = self.cursor_node
        return node.data if node is not None else None

    def current_file(self) -> str | None:
        """The path of the file under the cursor, or of the entry under it."""
        data = self.current
        if isinstance(data, FileNode | LinesNode):
            return data.path
        if isinstance(data, EntryNode):
            return data.hit.path
        return None
