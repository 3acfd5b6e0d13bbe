"""The top bar: which view is shown, the keys (or clicks) that switch views, and the workspace."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

MODES: tuple[tuple[str, str, str], ...] = (
    ("bank", "F2", "Bank"),
    ("titans", "F3", "Titans"),
    ("status", "F4", "Status"),
    ("why", "F5", "Why"),
)
"""(mode name, key, label) of every view, in tab order."""


class ModeBar(Static):
    """One row of tabs; the active view is highlighted, every tab is clickable."""

    def __init__(self, active: str, where: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.active = active
        """The mode of the screen this bar sits on."""
        self.where = where
        """Workspace and model names, shown on the right."""

    def on_mount(self) -> None:
        """Draw the tabs."""
        self.update(self.render_tabs())

    def render_tabs(self) -> Content:
        """The tabs (`app.show(mode)` on click), the active one reversed, then `where` dimmed."""
        parts = [Content.styled(" Shutka ", "bold")]
        for mode, key, label in MODES:
            tab = Content.from_markup(f"[@click=app.show('{mode}')] {key} {label} [/]")
            parts.append(tab.stylize("reverse") if mode == self.active else tab)
        if self.where:
            parts.append(Content.styled(f"  {self.where}", "dim"))
        return Content("").join(parts)
