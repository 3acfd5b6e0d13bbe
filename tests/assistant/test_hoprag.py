"""HopRAG: from identifiers near the cursor to definitions in other files, and the names they define."""

from __future__ import annotations

from assistant.hoprag import defined_names


def test_defined_names_are_members_not_every_mention() -> None:
    text = ("export class Cart {\n  private readonly lines = new Map();\n  total(): number {\n"
            "    return helper(this.lines);\n  }\n  get size() { return 1; }\n}\n")
    assert defined_names(text) == {"Cart", "lines", "total", "size"}


def test_hops_reach_definitions_in_imported_files(runtime) -> None:
    retriever = runtime.assistant.completer.hops
    result = retriever.retrieve("src/other.ts", ["Formatter", "format"], None, max_hops=2)
    paths = {h.path for h in result.hops}
    assert "src/lib/format.ts" in paths
    assert {"Formatter", "format", "precision"} <= result.known
    assert all(h.path != "src/other.ts" for h in result.hops)
