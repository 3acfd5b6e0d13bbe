"""Why this completion: type or paste the code before the cursor (the cursor is at its end), optionally
a file path, and see every candidate with its scores and features, the hops that led to them and
the gate's decision."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, Label, Static, TextArea
from textual.worker import get_current_worker

from assistant.types import CompletionRequest, Explanation
from tui.messages import ExplanationReady
from tui.screens.base import ShutkaScreen
from tui.widgets.candidate_table import CandidateTable
from tui.widgets.feature_table import FeatureTable
from tui.widgets.hop_table import HopTable


class WhyScreen(ShutkaScreen):
    """Type or paste the code before the cursor (the cursor is at its end) and, optionally, the file's
    path; see every candidate with its scores and features, the hops that led to them and the gate's
    decision."""

    MODE = "why"
    BINDINGS = [
        Binding("ctrl+r", "explain", "Explain", priority=True,
                tooltip="explain a completion at the end of the typed code"),
        Binding("ctrl+l", "clear", "Clear", priority=True, tooltip="clear the request and the results"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.explanation: Explanation | None = None
        """The last explanation shown."""

    def compose(self) -> ComposeResult:
        yield self.mode_bar()
        with Vertical(id="why-body"):
            yield Label("Code before the cursor (the cursor is at its end); ctrl+r explains:", id="why-label")
            yield TextArea(id="why-context", soft_wrap=False, show_line_numbers=False, tab_behavior="focus")
            with Horizontal(id="why-path-row"):
                yield Label("file ", id="why-path-label")
                yield Input(placeholder="optional, e.g. src/main.ts (Enter explains)", id="why-path", compact=True)
            yield Static(Text("No request yet.", style="dim"), id="why-decision")
            with Horizontal(id="why-results"):
                yield CandidateTable(id="why-candidates")
                with Vertical(id="why-side"):
                    yield FeatureTable(id="why-features")
                    yield HopTable(id="why-hops")
        yield Footer()

    def on_mount(self) -> None:
        """Focus the code area."""
        super().on_mount()
        self.query_one("#why-context", TextArea).focus()

    def on_index_change(self, change: object) -> None:
        """Explanations are on demand: an index change does not re-run them."""

    # -- asking ----------------------------------------------------------------------------------------------

    def action_explain(self) -> None:
        """Explain a completion at the end of the typed code."""
        text = self.query_one("#why-context", TextArea).text
        if not text.strip():
            self.notify("Type or paste the code before the cursor first.", severity="warning")
            return
        path = self.query_one("#why-path", Input).value.strip() or None
        self.query_one("#why-decision", Static).update(Text("explaining…", style="dim"))
        self.explain(CompletionRequest.from_prefix(text, path=path))

    @on(Input.Submitted, "#why-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        """Enter in the path field explains."""
        event.stop()
        self.action_explain()

    @work(thread=True, exclusive=True, group="explain", name="explaining a completion", exit_on_error=False)
    def explain(self, request: CompletionRequest) -> None:
        """Run the engine off the UI thread; a newer request cancels this one."""
        explanation = self.assistant.explain(request)
        if not get_current_worker().is_cancelled:
            self.post_message(ExplanationReady(explanation))

    def on_explanation_ready(self, message: ExplanationReady) -> None:
        """Show the decision, the candidates, the best one's features and the hops."""
        self.explanation = ex = message.explanation
        self.query_one("#why-decision", Static).update(decision_text(ex))
        self.query_one(CandidateTable).show(ex.candidates)
        self.query_one(FeatureTable).show(ex.candidates[0] if ex.candidates else None)
        self.query_one(HopTable).show(ex.hops)

    @on(DataTable.RowHighlighted, "#why-candidates")
    def _candidate_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the features of the candidate under the cursor."""
        self.query_one(FeatureTable).show(self.query_one(CandidateTable).candidate_at(event.cursor_row))

    def action_clear(self) -> None:
        """Empty the request and the results."""
        self.query_one("#why-context", TextArea).text = ""
        self.query_one("#why-path", Input).value = ""
        self.query_one("#why-decision", Static).update(Text("No request yet.", style="dim"))
        self.query_one(CandidateTable).show([])
        self.query_one(FeatureTable).show(None)
        self.query_one(HopTable).show([])
        self.query_one("#why-context", TextArea).focus()


def decision_text(ex: Explanation) -> Text:
    """The gate's verdict, the threshold, complexity and latency on one line."""
    shown = ex.decision.startswith("shown")
    text = Text.assemble(("gate: ", "bold"), (ex.decision, "bold green" if shown else "bold yellow"),
                         (f"  threshold {ex.threshold:.2f}", "dim"))
    if ex.complexity is not None:
        text.append(f"  complexity {ex.complexity:.2f}" + (" (blocks skipped)" if ex.skipped_blocks else ""),
                    style="dim")
    text.append(f"  {ex.latency_ms:.0f} ms", style="dim")
    return text
