"""HopRAG: from identifiers near the cursor to definitions in other files, and the names they define."""

from __future__ import annotations

from pathlib import Path

from assistant.engine.hoprag import defined_names
from assistant.engine.pipeline import Switches
from assistant.types import CompletionRequest
from tests.conftest import write_workspace


def test_defined_names_are_members_not_every_mention() -> None:
    text = ("export class Cart {\n  private readonly lines = new Map();\n  total(): number {\n"
            "    return helper(this.lines);\n  }\n  get size() { return 1; }\n}\n")
    assert defined_names(text) == {"Cart", "lines", "total", "size"}


def test_hops_reach_definitions_in_imported_files(runtime) -> None:
    retriever = runtime.parts.completer.hops
    result = retriever.retrieve("src/other.ts", ["Formatter", "format"], None, max_hops=2)
    paths = {h.path for h in result.hops}
    assert "src/lib/format.ts" in paths
    assert {"Formatter", "format", "precision"} <= result.known
    assert all(h.path != "src/other.ts" for h in result.hops)


SIBLINGS = {
    "src/classes.ts": "export const RADIO_CARD = 'card-radio';\nexport const SWITCH_CARD = 'card-switch';\n",
    "src/radioCard.ts": ("import * as Classes from './classes';\n\nexport function radioCard(props: Props) {\n"
                         "  const className = join(props.className, Classes.RADIO_CARD);\n  return className;\n}\n"),
    "src/switchCard.ts": "import * as Classes from './classes';\n\nexport function switchCard(props: Props) {\n",
}


def test_sibling_file_analogy_edit_needs_the_graph_for_a_name_not_seen_here(tmp_path: Path,
                                                                            tiny_checkpoint: Path) -> None:
    from assistant.runtime import open_runtime

    write_workspace(tmp_path, SIBLINGS)
    typed = "  const className = join"
    text = SIBLINGS["src/switchCard.ts"] + typed
    request = CompletionRequest(text, 3, len(typed), "src/switchCard.ts")
    wanted = "(props.className, Classes.SWITCH_CARD);"
    with open_runtime(tmp_path, checkpoint=tiny_checkpoint, sync=True) as rt:
        completer = rt.parts.completer
        with_graph = completer.analyse(request, Switches())
        without = completer.analyse(request, Switches(hoprag=False))
    edits = [o for o in with_graph.options if o.analogy]
    assert [o.text for o in edits] == [wanted]  # SWITCH_CARD is defined in classes.ts, per the graph
    assert not any(o.analogy for o in without.options)  # and seen nowhere near the cursor
