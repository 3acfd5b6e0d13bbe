"""Inside a comment or a string the gate is stricter: a whole line only, and only when it is very likely."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.engine.gate import PROSE_THRESHOLD, first_shown, gate_at, in_prose
from tests.conftest import write_workspace


@pytest.mark.parametrize(("line", "prose"), [
    ('const a = "hel', True),
    ("it('does\\' x", True),
    ('const url = "http://exam', True),
    ("  // the cache is", True),
    ("f(x); // then", True),
    ("   * @param name the", True),
    ("/** Returns the", True),
    ("x = `total: ${count", False),
    ("x = `total: ${count} ite", True),
    ("x = `a ${ {b: 1}.b } c", True),
    ('const a = "hello" + b', False),
    (" /* note */ const y = ", False),
    ("  */", False),
    ("const r = 2 * 3", False),
    ("  return x.map((y) => y", False),
])
def test_the_gate_knows_when_the_cursor_is_in_a_comment_or_a_string(line: str, prose: bool) -> None:
    assert in_prose(line) is prose


def test_in_prose_only_a_very_likely_whole_line_is_shown() -> None:
    options = [(" the request fails.", 0.8), (" the request succeeds.", 0.15)]
    assert first_shown(options, 0.65, "const x = 1;") == (" the request fails.", 0.8)
    assert first_shown(options, 0.65, "  // retry when") is None
    assert first_shown([(" the request fails.", 0.95)], 0.65, "  // retry when") == (" the request fails.", 0.95)
    # the agreed start of likely lines is offered in code, never in prose
    agreed = [(" the request fails.", 0.4), (" the request succeeds.", 0.4)]
    assert first_shown(agreed, 0.65, "retry(") == (" the request ", 0.8)
    assert first_shown(agreed, 0.65, 'log("retry(') is None
    assert gate_at("  // x", 0.95) == (0.95, False), "a stricter workspace threshold still applies"
    assert gate_at("  // x", 0.5) == (PROSE_THRESHOLD, False)
    assert gate_at("x = ", 0.5) == (0.5, True)


PROSE_WORKSPACE = {
    "src/retry.ts": (
        "// Retry the request when the server is busy.\n"
        "retry(request);\n"
        'log("the request failed after three tries");\n'
        "// Retry the request when the server is busy.\n"
        "retry(request);\n"
        'log("the request failed after three tries");\n'
    ),
    "src/fetch.ts": "export function fetchAll() {\n  retry(request);\n}\n",
}


def test_the_engine_in_a_comment_or_a_string_shows_nothing_below_the_prose_threshold(
        tmp_path: Path, tiny_checkpoint: Path) -> None:
    """End to end, with the workspace's threshold at 0 (show everything): in code the top candidate is
    shown whatever its confidence; in a comment or a string what is below PROSE_THRESHOLD is not."""
    from assistant.runtime import open_runtime
    from assistant.types import CompletionRequest

    workspace = write_workspace(tmp_path / "prose", PROSE_WORKSPACE)
    lines = ["export function fetchAll() {", "  retry(request);", "  retr", "}"]
    with open_runtime(workspace, checkpoint=tiny_checkpoint, sync=True,
                      completion={"miras_confidence_threshold": 0.0}) as rt:
        completer = rt.parts.completer
        asked = 0
        for typed in ("  retr", "  // Retry the req", '  log("the requ'):
            text = "\n".join([*lines[:2], typed])
            request = CompletionRequest(text, 2, len(typed), "src/fetch.ts", multiline=False)
            everything = completer.complete(CompletionRequest(text, 2, len(typed), "src/fetch.ts", use_gate=False,
                                                              max_items=64, multiline=False))
            shown = completer.complete(request)
            assert everything.items, f"a visible line continues {typed!r}"
            if not in_prose(typed):
                assert shown.items and shown.items[0].text == everything.items[0].text
                continue
            asked += 1
            assert all(item.confidence >= PROSE_THRESHOLD for item in shown.items)
            assert shown.threshold == PROSE_THRESHOLD
            if everything.items[0].confidence < PROSE_THRESHOLD:
                assert not shown.items
                assert "comment or a string" in completer.explain(request).decision
        assert asked == 2
