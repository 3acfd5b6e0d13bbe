"""Inside a comment or a string the gate is stricter: a whole line only, and only when it is very likely."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.engine.gate import (
    COMMENT,
    PROSE_THRESHOLD,
    TEMPLATE,
    first_shown,
    gate_at,
    in_prose,
    opened_before,
)
from tests.conftest import write_workspace


@pytest.mark.parametrize(("line", "prose"), [
    ('const a = "hel', True),
    ("it('does\\' x", True),
    ('return a + "\\', True),  # an escape cut off by the cursor
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


@pytest.mark.parametrize(("above", "opened"), [
    ("const a = 1;\n", None),
    ("/**\n * Returns\n", COMMENT),
    ("/* a */ x = 1;\n", None),
    ("const html = `\n  <div>\n", TEMPLATE),
    ("const s = `a ${b} c`;\n", None),
    ("const q = `a ${ {x: 1}.x }\n", TEMPLATE),
    ("const q = `${f(`inner`)}\n", TEMPLATE),
    ("const q = `a ${\n", None),  # inside the template's code
    ('const s = "it\\"s `"; // a ` in a comment\n', None),
    ("const s = 'unterminated\nconst t = 1;\n", None),  # a quoted string ends with its line
])
def test_what_a_line_starts_inside_of_is_read_from_the_lines_above(above: str, opened: str | None) -> None:
    assert opened_before(above) == opened


@pytest.mark.parametrize(("line", "opened", "prose"), [
    ("  the cache is", COMMENT, True),
    ("  end */ const y = ", COMMENT, False),
    ("  <div class=", TEMPLATE, True),
    ("  ${count", TEMPLATE, False),
    ("` + suffix", TEMPLATE, False),
    ("  return x", None, False),
])
def test_a_line_inside_a_comment_or_template_opened_above_is_prose(line: str, opened: str | None,
                                                                   prose: bool) -> None:
    assert in_prose(line, opened) is prose
    assert gate_at(line, 0.5, opened) == ((PROSE_THRESHOLD, False) if prose else (0.5, True))


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


def test_the_engine_knows_a_template_literal_opened_on_an_earlier_line(tmp_path: Path,
                                                                       tiny_checkpoint: Path) -> None:
    """The line inside a multi-line template reads like code, but the text above opened the template: the
    engine gates it as prose (PROSE_THRESHOLD), as `explain` says."""
    from assistant.runtime import open_runtime
    from assistant.types import CompletionRequest

    workspace = write_workspace(tmp_path / "tpl", PROSE_WORKSPACE)
    text = "export function fetchAll() {\n  const page = `\n  retr"
    with open_runtime(workspace, checkpoint=tiny_checkpoint, sync=True,
                      completion={"miras_confidence_threshold": 0.0}) as rt:
        completer = rt.parts.completer
        shown = completer.complete(CompletionRequest(text, 2, 6, "src/fetch.ts", multiline=False))
        in_code = completer.complete(CompletionRequest(text.replace("`", "1;"), 2, 6, "src/fetch.ts", multiline=False))
    assert shown.threshold == PROSE_THRESHOLD and in_code.threshold == 0.0
