"""Copy-and-edit: renamings inferred from aligned context, applied to whole names and stems."""

from __future__ import annotations

from assistant.edit import edit_candidate, identifier_map, rename, stems
from assistant.lexical import split_file


def test_identifier_map_needs_the_same_structure() -> None:
    assert identifier_map(["this", ".", "userId", "=", "userId", ";"],
                          ["this", ".", "orderId", "=", "orderId", ";"]) == {"userId": "orderId"}
    assert identifier_map(["a", "+", "b"], ["a", "-", "b"]) == {}
    assert identifier_map(["a", "b"], ["c", "d", "e"]) == {}
    assert identifier_map(["x", "x"], ["y", "z"]) == {}  # one name renamed two ways


def test_stems_and_rename() -> None:
    mapping = {"userId": "orderId"}
    stem_map = stems(mapping)
    assert stem_map["user"] == "order" and stem_map["User"] == "Order"
    assert rename("loadUser(userId, users)", mapping, stem_map) == "loadOrder(orderId, orders)"
    assert rename("superuser", mapping, stem_map) == "superuser"  # not at a boundary


def test_edit_from_the_previous_line() -> None:
    src_file = split_file("src/a.ts", "  const userId = req.userId;\n  const user = await repo.findUser(userId);\n")
    prev, src = src_file.lines
    cursor_prev = split_file("src/b.ts", "  const orderId = req.orderId;\n").lines[0].toks
    edited = edit_candidate(src, prev, " = await repo.findUser(userId);", cursor_prev, "  const order")
    assert edited is not None
    assert edited[0] == " = await repo.findOrder(orderId);"


def test_nothing_to_edit() -> None:
    src = split_file("a.ts", "return x;\n").lines[0]
    assert edit_candidate(src, None, " x;", None, "return") is None
