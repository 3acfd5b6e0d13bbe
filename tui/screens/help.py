"""The help screen: what each view shows and its keys, built from the screens' own bindings (so it
cannot drift from what the keys do)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.screens.bank import BankScreen
from tui.screens.status import StatusScreen
from tui.screens.titans import TitansScreen
from tui.screens.why import WhyScreen

INTRO = ("Every view reads the workspace's shared index (.shutka/); a watcher or the language server may "
         "write it at the same time, and the views follow. Edits go through the assistant, one writer at a "
         "time. The mouse is optional: every action has a key.")

GLOBAL_KEYS = [
    ("F2 F3 F4 F5", "the Bank, Titans, Status and Why views (1–4 too, outside text fields)"),
    ("F1  ?", "this help"),
    ("Tab  Shift+Tab", "move between panes"),
    ("q  Ctrl+Q", "quit (q outside text fields)"),
]


def key_rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    """(keys, what they do) for the shown bindings; the tooltip is the long description."""
    rows = []
    for b in bindings:
        if isinstance(b, Binding) and (b.show or b.tooltip):
            keys = b.key_display or " ".join(k.replace("ctrl+", "Ctrl+").replace("slash", "/")
                                             for k in b.key.split(","))
            rows.append((keys, b.tooltip or b.description))
    return rows


def section(title: str, about: str, rows: list[tuple[str, str]]) -> RenderableType:
    """A heading, a paragraph and a key table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True, min_width=14)
    table.add_column()
    for keys, what in rows:
        table.add_row(keys, what)
    return Group(Text(title, style="bold"), Text(about, style="dim"), table, Text(""))


def help_text() -> RenderableType:
    """The whole help, from the view classes' bindings."""
    views: list[tuple[str, type[Screen[None]]]] = [
        ("Bank", BankScreen), ("Titans", TitansScreen), ("Status", StatusScreen), ("Why", WhyScreen)]
    parts: list[RenderableType] = [Text("Shutka — what the assistant remembers", style="bold"), Text(INTRO),
                                   Text(""), section("Anywhere", "", GLOBAL_KEYS)]
    for name, screen in views:
        parts.append(section(name, " ".join((screen.__doc__ or "").split()), key_rows(screen.BINDINGS)))
    parts.append(Text("Escape closes this help.", style="italic"))
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    """Keys and views."""

    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-scroll"):
            yield Static(help_text(), id="help-text")

    def on_mount(self) -> None:
        """Focus the text so the arrow keys scroll it."""
        self.query_one("#help-scroll", VerticalScroll).focus()
