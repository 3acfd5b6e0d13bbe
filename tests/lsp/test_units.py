"""The pieces without a server: position and completion conversions, options, the CLI's stdout guard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from lsprotocol import types
from pygls.workspace import Workspace as PyglsWorkspace

from assistant.types import Completion, CompletionRequest, CompletionResult, Hit
from indexer.errors import ConfigError
from indexer.workspace import Workspace
from lsp import convert
from lsp.cli import _host_port
from lsp.documents import SizeLimit, head, read_head
from lsp.options import LspOptions, resolve_options

UTF8, UTF16, UTF32 = (types.PositionEncodingKind.Utf8, types.PositionEncodingKind.Utf16,
                      types.PositionEncodingKind.Utf32)


# -- positions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding,character,column", [
    (UTF16, 5, 4), (UTF8, 7, 4), (UTF32, 4, 4),   # after the emoji: x="😋"| has column 4
    (UTF16, 0, 0), (UTF16, 6, 5),
])
def test_columns_follow_the_negotiated_encoding(encoding: str, character: int, column: int) -> None:
    line = 'x="😋"'
    assert convert.to_column(line, character, encoding) == column
    assert convert.to_character(line, column, encoding) == character


def test_positions_outside_the_document_are_refused() -> None:
    with pytest.raises(convert.PositionOutOfRange):
        convert.server_position("a\nb", types.Position(line=2, character=0))
    with pytest.raises(convert.PositionOutOfRange):
        convert.server_position("a\nb", types.Position(line=0, character=2))
    assert convert.server_position("ab\r\ncd", types.Position(line=0, character=2)) == (0, 2)
    assert convert.server_position("ab\n", types.Position(line=1, character=0)) == (1, 0)


def test_uris() -> None:
    assert convert.uri_to_path("file:///tmp/a%20b/c.ts") == Path("/tmp/a b/c.ts")
    assert convert.uri_to_path("untitled:Untitled-1") is None
    assert convert.uri_to_path(convert.path_to_uri(Path("/tmp/x y.ts"))) == Path("/tmp/x y.ts")


# -- completions ---------------------------------------------------------------------------------


def _request(line: str, column: int) -> CompletionRequest:
    return CompletionRequest(f"// head\n{line}\n// tail", 1, column, "src/a.ts")


def _result(*items: Completion) -> CompletionResult:
    return CompletionResult(items, "r1", 3.0)


def test_the_edit_replaces_the_typed_part_and_inserts_at_the_cursor() -> None:
    request = _request("    const p = add(", len("    const p = add("))
    edit = convert.line_edit(request, Completion("origin, b);", 0.8, "src/main.ts:6"))
    assert (edit.start, edit.end) == (4, len("    const p = add("))
    assert edit.new_text == "const p = add(origin, b);"
    assert edit.label == "const p = add(origin, b);"
    ghost = convert.line_edit(request, Completion("origin, b);", 0.8, "src/main.ts:6"), from_cursor=True)
    assert (ghost.start, ghost.new_text) == (len("    const p = add("), "origin, b);")


def test_an_auto_closed_bracket_after_the_cursor_is_replaced_not_doubled() -> None:
    line = "  call(a)"
    request = _request(line, line.index(")"))
    kept = convert.line_edit(request, Completion(", b", 0.5, "generated"))
    assert kept.end == line.index(")")  # the completion does not end with ')': the ')' stays
    replaced = convert.line_edit(request, Completion(", b);", 0.5, "generated"))
    assert replaced.end == len(line) and replaced.new_text == "call(a, b);"


def test_items_sort_by_confidence_and_carry_their_feedback_payload() -> None:
    request = _request("  x(", 4)
    result = _result(Completion("a);", 0.2, "src/a.ts:1"), Completion("b);", 0.9, "generated", "generated"),
                     Completion("c);\n  y();", 0.5, "src/c.ts:3", shown=False))
    items = convert.completion_items(result, request, "file:///w/src/a.ts")
    ordered = [item.label for item in sorted(items, key=lambda i: i.sort_text)]
    assert ordered == ["x(b);", "x(c); …", "x(a);"]
    assert items[1].detail == "generated · 90%"
    assert items[2].detail == "src/c.ts:3 · 50% (below threshold)"
    assert items[2].text_edit.new_text == "x(c);\n  y();"
    payload = items[0].command.arguments[0]
    assert payload["requestId"] == "r1" and payload["text"] == "a);" and payload["character"] == 4
    plain = convert.completion_items(result, request, "file:///w/src/a.ts", markdown=False)
    assert plain[0].documentation.kind == types.MarkupKind.PlainText


def test_hover_and_symbols() -> None:
    hit = Hit(-1, 1.0, "export class Circle {\n}", "class", "src/shapes.ts", 8, 14, "Circle")
    lines = ["const c = new Circle(2);"]
    hover = convert.hover(hit, lines, 0, 16, markdown=True)
    assert "src/shapes.ts:8" in hover.contents.value
    assert (hover.range.start.character, hover.range.end.character) == (14, 20)
    method = Hit(-1, 1.0, "Circle.area", "method", "src/shapes.ts", 11, 13, "Circle.area")
    symbol = convert.workspace_symbol(method, Path("/w"))
    assert (symbol.name, symbol.container_name, symbol.kind) == ("area", "Circle", types.SymbolKind.Method)
    assert symbol.location.uri == "file:///w/src/shapes.ts" and symbol.location.range.start.line == 10


# -- options -------------------------------------------------------------------------------------


def test_options_take_camel_or_snake_case_and_layer_over_the_toml(tmp_path: Path) -> None:
    (tmp_path / "shutka.toml").write_text("[lsp]\ndebounce_ms = 40\nwatch = false\nthreshold = 0.7\n")
    options = resolve_options(Workspace(tmp_path), {"maxItems": 2, "threshold": 0.1}, {"checkpoint": "m.st"})
    assert (options.debounce_ms, options.watch, options.max_items, options.threshold) == (40, False, 2, 0.1)
    assert options.checkpoint == "m.st"
    assert options.completion_overrides() == {"miras_confidence_threshold": 0.1, "max_items": 2}
    assert resolve_options(None, {"fill_in_middle": True}).fill_in_middle is True
    assert LspOptions().completion_overrides() == {}


@pytest.mark.parametrize("given,fragment", [
    ({"maxItem": 3}, "maxItem: Extra inputs"),
    ({"threshold": 2}, "threshold"),
    ({"debounceMs": "soon"}, "debounceMs"),
    (["not", "an", "object"], "must be an object"),
])
def test_invalid_options_name_the_key(given: object, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        resolve_options(None, given)


def test_tcp_address_parsing() -> None:
    assert _host_port(None, None, "127.0.0.1:0") == ("127.0.0.1", 0)  # type: ignore[arg-type]
    assert _host_port(None, None, ":2087") == ("127.0.0.1", 2087)  # type: ignore[arg-type]
    assert _host_port(None, None, "[::1]:2087") == ("::1", 2087)  # type: ignore[arg-type]
    for bad in ("localhost", "h:p", "h:70000"):
        with pytest.raises(click.BadParameter):
            _host_port(None, None, bad)  # type: ignore[arg-type]


def test_reserve_stdout_sends_stray_writes_to_stderr() -> None:
    code = ("import os; from lsp.cli import reserve_stdout; out = reserve_stdout(); print('stray print'); "
            "os.write(1, b'stray fd write'); out.write(b'PROTOCOL'); out.flush()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=True)
    assert done.stdout == b"PROTOCOL"
    assert b"stray print" in done.stderr and b"stray fd write" in done.stderr


# -- documents over the size limit ---------------------------------------------------------------


def test_head_keeps_the_complete_lines_that_fit(tmp_path: Path) -> None:
    text = "const é = 1;\n" * 100  # 14 bytes a line
    assert head(text, 10_000) is text
    cut = head(text, 1000)
    assert cut == "const é = 1;\n" * 71 and len(cut.encode()) <= 1000
    assert head("x" * 5000, 1000) == ""  # no complete line fits
    (tmp_path / "big.ts").write_text(text, encoding="utf-8")
    assert read_head(tmp_path / "big.ts", 1000) == (cut, True)
    assert read_head(tmp_path / "big.ts", 10_000) == (text, False)


def _change(line: int, end_line: int, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=types.Position(line=line, character=0), end=types.Position(line=end_line, character=0)),
        text=text)


def test_a_cut_document_keeps_a_true_head_through_edits() -> None:
    uri, line = "file:///w/big.ts", "let a = 1;\n"  # 11 bytes
    workspace = PyglsWorkspace(None)
    limits = SizeLimit(limit=1000)
    workspace.put_text_document(types.TextDocumentItem(uri=uri, language_id="typescript", version=1, text=line * 500))
    assert limits.bound(workspace, uri) == 5500  # told once, with the real size
    assert limits.kept(uri) == 90 and workspace.get_text_document(uri).source == line * 90

    def edit(*changes: types.TextDocumentContentChangePartial | types.TextDocumentContentChangeWholeDocument) -> str:
        params = types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2), content_changes=list(changes))
        limits.before_change(params)  # what the protocol does before pygls applies the edit
        for change in params.content_changes:
            workspace.update_text_document(params.text_document, change)
        assert limits.bound(workspace, uri) is None  # never told twice
        return workspace.get_text_document(uri).source

    assert edit(_change(200, 200, "past the head\n")) == line * 90  # dropped
    assert edit(_change(0, 0, "first\n"), _change(91, 91, "past\n")) == "first\n" + line * 90
    assert limits.kept(uri) == 91
    # a deletion that reaches past the head leaves what is known for sure: the lines before it
    assert edit(_change(10, 300, "x = 2;\n")) == "first\n" + line * 9 + "x = 2;\n"
    assert limits.kept(uri) == 11
    assert edit(types.TextDocumentContentChangeWholeDocument(text="small\n")) == "small\n"
    assert limits.kept(uri) is None  # whole again
    limits.forget(uri)
    workspace.put_text_document(types.TextDocumentItem(uri=uri, language_id="typescript", version=3, text=line * 500))
    assert limits.bound(workspace, uri) == 5500  # reopened: told again


def test_a_workspace_config_may_not_choose_the_log_file(tmp_path: Path) -> None:
    """A cloned repository's `[lsp] log_file = "~/.bashrc"` is refused, naming the flag to use instead."""
    (tmp_path / "shutka.toml").write_text('[lsp]\nlog_file = "/tmp/bashrc"\n')
    with pytest.raises(ConfigError, match=r"log_file: refused: .*--log-file"):
        resolve_options(Workspace(tmp_path), None)
