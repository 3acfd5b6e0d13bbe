"""Pure conversions between lsprotocol types and the assistant's types: positions (LSP code units ↔
Python characters), URIs ↔ paths, completions → completion items and ghost text, hits → hovers and
workspace symbols. No I/O, no server state: everything here is tested without a server."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types

from assistant.types import Completion, CompletionRequest, CompletionResult, Hit

IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
LABEL_CHARS = 100
"""Longer labels are cut with an ellipsis (the full text stays in the edit and the documentation)."""
HOVER_LINES = 40
"""A definition longer than this is cut in the hover (the location says where to read the rest)."""
CLOSERS = set(")]}>\"'`;, ")
"""What editors auto-insert after the cursor; a completion that contains them replaces them."""
ACCEPTED = "shutka.completionAccepted"
REJECTED = "shutka.completionRejected"

SYMBOL_KINDS: dict[str, types.SymbolKind] = {
    "function": types.SymbolKind.Function,
    "arrow_function": types.SymbolKind.Function,
    "method": types.SymbolKind.Method,
    "class": types.SymbolKind.Class,
    "interface": types.SymbolKind.Interface,
    "type_alias": types.SymbolKind.TypeParameter,
    "enum": types.SymbolKind.Enum,
    "constant": types.SymbolKind.Constant,
    "variable": types.SymbolKind.Variable,
    "namespace": types.SymbolKind.Namespace,
    "property": types.SymbolKind.Property,
}


class PositionOutOfRange(ValueError):
    """An LSP position that does not exist in the document (the handler answers InvalidParams)."""


# -- positions -----------------------------------------------------------------------------------


def lines_of(text: str) -> list[str]:
    """The document's lines as LSP counts them: split on '\\n', a trailing '\\r' is not part of a line."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _units(char: str, encoding: str) -> int:
    if encoding == types.PositionEncodingKind.Utf8:
        return len(char.encode("utf-8"))
    if encoding == types.PositionEncodingKind.Utf32:
        return 1
    return 2 if ord(char) > 0xFFFF else 1


def to_column(line: str, character: int, encoding: str = types.PositionEncodingKind.Utf16) -> int:
    """LSP `character` (code units of `encoding`) → index into the Python str `line`.
    Raises PositionOutOfRange past the end of the line; inside a surrogate pair it rounds down."""
    units = 0
    for index, char in enumerate(line):
        if units >= character:
            return index
        units += _units(char, encoding)
        if units > character:
            return index
    if units == character:
        return len(line)
    raise PositionOutOfRange(f"character {character} is past the end of the line ({units} code units)")


def to_character(line: str, column: int, encoding: str = types.PositionEncodingKind.Utf16) -> int:
    """Index into the Python str `line` → LSP `character` in code units of `encoding`."""
    return sum(_units(c, encoding) for c in line[:column])


def server_position(text: str, position: types.Position,
                    encoding: str = types.PositionEncodingKind.Utf16) -> tuple[int, int]:
    """(0-based line, Python column) of an LSP position in `text`; PositionOutOfRange if there is none."""
    lines = lines_of(text)
    if not 0 <= position.line < len(lines):
        raise PositionOutOfRange(f"line {position.line} is outside the document ({len(lines)} lines)")
    return position.line, to_column(lines[position.line], position.character, encoding)


def client_position(lines: list[str], line: int, column: int,
                    encoding: str = types.PositionEncodingKind.Utf16) -> types.Position:
    return types.Position(line=line, character=to_character(lines[line], column, encoding))


# -- URIs ----------------------------------------------------------------------------------------


def uri_to_path(uri: str) -> Path | None:
    """The file a `file:` URI names (None for `untitled:` and other schemes)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if re.match(r"^/[A-Za-z]:", path):  # file:///C:/x on Windows
        path = path[1:]
    return Path(path)


def path_to_uri(path: Path) -> str:
    return path.absolute().as_uri()


# -- completions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineEdit:
    """What accepting a completion does to the cursor's line, in Python columns: replace
    [start, end) with `new_text`. The completion itself is inserted at the cursor."""

    line: int
    start: int
    end: int
    new_text: str
    label: str


def line_edit(request: CompletionRequest, item: Completion, from_cursor: bool = False) -> LineEdit:
    """The edit for `item`: it replaces what is typed on the line (from its first non-blank character
    up to the cursor; `from_cursor` starts at the cursor, as ghost text does) with that same text
    plus the completion, and also the rest of the line when the completion re-types it (an
    auto-closed bracket would otherwise be doubled)."""
    lines = lines_of(request.text)
    row = lines[request.line] if request.line < len(lines) else ""
    column = min(request.column, len(row))
    indent = len(row) - len(row.lstrip())
    start = column if from_cursor else min(indent, column)
    first, _, _ = item.text.partition("\n")
    rest = row[column:].strip()
    end = len(row) if rest and _absorbs(first, rest) else column
    label = (row[:column] + first).strip()
    if "\n" in item.text:
        label += " …"
    if len(label) > LABEL_CHARS:
        label = label[: LABEL_CHARS - 1] + "…"
    return LineEdit(request.line, start, end, row[start:column] + item.text, label or item.text.strip())


def _absorbs(completion: str, rest: str) -> bool:
    """Whether the completion re-types what follows the cursor: it ends with it, or the rest is only
    closing characters (an editor's auto-closed `)`, `"`, `;`) that the completion contains in order."""
    if completion.rstrip().endswith(rest):
        return True
    if not set(rest) <= CLOSERS:
        return False
    remaining = iter(completion)
    return all(char in remaining for char in rest)


def feedback_payload(result: CompletionResult, request: CompletionRequest, uri: str, item: Completion,
                     character: int) -> dict[str, Any]:
    """Arguments of `shutka.completionAccepted/Rejected`: enough to call `Assistant.feedback` (the
    server keeps the request under `requestId`; the rest rebuilds it if the server forgot)."""
    return {"requestId": result.request_id, "uri": uri, "line": request.line, "character": character,
            "text": item.text, "source": item.source, "confidence": item.confidence, "kind": item.kind}


def detail(item: Completion) -> str:
    """`path:line · 87%` (or `generated · 12%`)."""
    hidden = "" if item.shown else " (below threshold)"
    return f"{item.source} · {item.confidence:.0%}{hidden}"


def documentation(edit: LineEdit, item: Completion, markdown: bool) -> types.MarkupContent:
    """The line(s) as they will read after accepting, with where they come from."""
    lines = lines_of(edit.new_text)
    snippet = "\n".join(lines)
    if markdown:
        return types.MarkupContent(kind=types.MarkupKind.Markdown,
                                   value=f"```typescript\n{snippet}\n```\n*{detail(item)}*")
    return types.MarkupContent(kind=types.MarkupKind.PlainText, value=f"{snippet}\n\n{detail(item)}")


def sort_text(rank: int, confidence: float) -> str:
    """Sorts by confidence, highest first (ties keep the engine's order)."""
    return f"{round((1.0 - max(0.0, min(1.0, confidence))) * 1e6):07d}-{rank:03d}"


def completion_items(result: CompletionResult, request: CompletionRequest, uri: str,
                     encoding: str = types.PositionEncodingKind.Utf16,
                     markdown: bool = True) -> list[types.CompletionItem]:
    """One item per completion: label = the line as it will read, a textEdit over what is typed,
    detail = source and confidence, documentation = the snippet, and the acceptance command."""
    lines = lines_of(request.text)
    items = []
    for rank, item in enumerate(result.items):
        edit = line_edit(request, item)
        rng = types.Range(start=client_position(lines, edit.line, edit.start, encoding),
                          end=client_position(lines, edit.line, edit.end, encoding))
        character = to_character(lines[request.line], request.column, encoding)
        payload = feedback_payload(result, request, uri, item, character)
        items.append(types.CompletionItem(
            label=edit.label,
            kind=types.CompletionItemKind.Text,
            detail=detail(item),
            documentation=documentation(edit, item, markdown),
            sort_text=sort_text(rank, item.confidence),
            filter_text=edit.new_text.split("\n", 1)[0],
            preselect=rank == 0,
            insert_text_format=types.InsertTextFormat.PlainText,
            insert_text_mode=types.InsertTextMode.AsIs,
            text_edit=types.TextEdit(range=rng, new_text=edit.new_text),
            command=types.Command(title="Shutka: completion accepted", command=ACCEPTED, arguments=[payload]),
            data={"requestId": result.request_id, "rank": rank},
        ))
    return items


def inline_items(result: CompletionResult, request: CompletionRequest, uri: str,
                 encoding: str = types.PositionEncodingKind.Utf16) -> list[types.InlineCompletionItem]:
    """Ghost text: the completion inserted at the cursor (replacing the rest of the line only when
    the completion ends with it), with the acceptance command."""
    lines = lines_of(request.text)
    character = to_character(lines[request.line], request.column, encoding)
    items = []
    for item in result.items:
        edit = line_edit(request, item, from_cursor=True)
        rng = types.Range(start=client_position(lines, edit.line, edit.start, encoding),
                          end=client_position(lines, edit.line, edit.end, encoding))
        payload = feedback_payload(result, request, uri, item, character)
        items.append(types.InlineCompletionItem(
            insert_text=edit.new_text, range=rng, filter_text=edit.new_text.split("\n", 1)[0],
            command=types.Command(title="Shutka: completion accepted", command=ACCEPTED, arguments=[payload])))
    return items


# -- hover and symbols ---------------------------------------------------------------------------


def word_at(line: str, column: int) -> tuple[int, int] | None:
    """[start, end) of the identifier touching `column`, if any."""
    for m in IDENTIFIER.finditer(line):
        if m.start() <= column <= m.end():
            return m.start(), m.end()
    return None


def hover(hit: Hit, lines: list[str], line: int, column: int, markdown: bool,
          encoding: str = types.PositionEncodingKind.Utf16) -> types.Hover:
    """The definition `hit` (reached through the code graph) for the identifier at (line, column)."""
    body = hit.text.split("\n")
    if len(body) > HOVER_LINES:
        body = [*body[:HOVER_LINES], "// …"]
    where = f"{hit.path}:{hit.start_line}" if hit.path else "this file"
    title = f"{hit.symbol or hit.kind} ({hit.kind.replace('_', ' ')}) — {where}"
    code = "\n".join(body)
    if markdown:
        contents = types.MarkupContent(kind=types.MarkupKind.Markdown,
                                       value=f"**{title}**\n\n```typescript\n{code}\n```")
    else:
        contents = types.MarkupContent(kind=types.MarkupKind.PlainText, value=f"{title}\n\n{code}")
    span = word_at(lines[line], column)
    rng = None
    if span is not None:
        rng = types.Range(start=client_position(lines, line, span[0], encoding),
                          end=client_position(lines, line, span[1], encoding))
    return types.Hover(contents=contents, range=rng)


def workspace_symbol(hit: Hit, root: Path) -> types.WorkspaceSymbol | None:
    """A definition from the bank's code graph as a workspace symbol (None without a location)."""
    if not hit.path or hit.start_line is None:
        return None
    start = max(hit.start_line - 1, 0)
    end = max(hit.end_line if hit.end_line is not None else hit.start_line, start + 1)
    name = hit.symbol or hit.text
    container, _, short = name.rpartition(".")
    return types.WorkspaceSymbol(
        name=short or name,
        kind=SYMBOL_KINDS.get(hit.kind, types.SymbolKind.Variable),
        location=types.Location(uri=path_to_uri(root / hit.path),
                                range=types.Range(start=types.Position(line=start, character=0),
                                                  end=types.Position(line=end, character=0))),
        container_name=container or hit.path,
    )
