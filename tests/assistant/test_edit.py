"""Copy-and-edit: renamings inferred from aligned context, applied to whole names and stems."""

from __future__ import annotations

from assistant.engine.candidates import FileLines, LineStore, split_file
from assistant.engine.edits import (
    analogy_renames,
    edit_candidate,
    file_analogy,
    identifier_map,
    rename,
    shape_edit,
    stems,
    string_mask,
)


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


def test_a_constant_renames_its_lower_case_value() -> None:
    """`MEDIUM: "medium",` for `LARGE` -> `: "large",`, and `Classes.RADIO_CARD` for `switchCard` renames
    `controlKind="radio"` too."""
    mapping = {"MEDIUM": "LARGE"}
    assert rename('"medium"', mapping, stems(mapping)) == '"large"'
    mapping = {"RADIO_CARD": "SWITCH_CARD"}
    assert rename('controlKind="radio"', mapping, stems(mapping)) == 'controlKind="switch"'


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


def test_file_analogy_is_the_words_two_file_names_differ_in() -> None:
    assert file_analogy("src/cards/radioCard.tsx", "src/cards/switchCard.tsx") == (("radio",), ("switch",))
    assert file_analogy("src/userService.ts", "lib/orderService.spec.ts") == (("user",), ("order",))
    assert file_analogy("src/portal.tsx", "src/contextMenuSingleton.tsx") == (("portal",), ("context", "menu", "singleton"))
    assert file_analogy("src/menuItem.tsx", "src/treeNode.tsx") == (("menu", "item"), ("tree", "node"))
    assert file_analogy("src/a.ts", "src/b.ts") is None  # too short to be a word of a name
    assert file_analogy("src/overlay.ts", "src/overlay2.ts") is None  # nothing left on one side
    assert file_analogy("src/user.ts", "src/user.test.ts") is None  # the same name
    assert file_analogy("src/a.ts", "src/oneTwoThreeFour.ts") is None  # too many words


def test_analogy_rename_in_every_spelling_at_word_boundaries() -> None:
    [(text, made)] = analogy_renames("(Classes.RADIO_CARD, radioRef, <RadioCard/>, paradio)", (("radio",), ("switch",)))
    assert text == "(Classes.SWITCH_CARD, switchRef, <SwitchCard/>, paradio)"
    assert made == ["SWITCH_CARD", "switchRef", "SwitchCard"]


def test_analogy_renames_offer_ever_shorter_runs_of_the_target_words() -> None:
    readings = analogy_renames(".add(Classes.PORTAL);", (("portal",), ("context", "menu", "singleton")))
    assert [made for _, made in readings] == [["CONTEXT_MENU_SINGLETON"], ["CONTEXT_MENU"], ["CONTEXT"]]
    (text, made), _ = analogy_renames("<span className={Classes.MENU_ITEM_ICON} />", (("menu", "item"), ("tree", "node")))
    assert text == "<span className={Classes.TREE_NODE_ICON} />" and made == ["TREE_NODE_ICON"]
    assert analogy_renames("return x;", (("menu",), ("tree",))) == []


def test_a_looser_analogy_leaves_string_literals_alone() -> None:
    # Switch.stories.tsx -> CheckboxCard.stories.tsx: one word out, two in; the label is prose
    assert analogy_renames('Switch",', (("switch",), ("checkbox", "card")), typed='        label: "') == \
        [('Checkbox",', ["Checkbox"])]  # only the reading with as many words as taken out renames prose
    assert analogy_renames(" <Switch />", (("switch",), ("checkbox", "card")))[0] == (" <CheckboxCard />", ["CheckboxCard"])


def test_string_mask_follows_quotes_escapes_and_template_holes() -> None:
    text = "a 'b\\'c' `d${e}f` g"
    mask = string_mask("", text)
    inside = "".join(ch for ch, m in zip(text, mask, strict=True) if m and ch.isalpha())
    assert inside == "bcdf"  # the ${e} hole is code
    assert string_mask('x = "', 'ab" + c') == [True, True, True, False, False, False, False]  # to its closing quote


def _line(text: str):
    return split_file("src/a.ts", text + "\n").lines[0]


def test_shape_edit_renames_the_names_the_typed_text_changed() -> None:
    src = _line("this.maxTimeMS = maxTimeMS;")
    assert shape_edit(src, " = maxTimeMS;", "    this.timeoutMS") == " = timeoutMS;"
    src = _line('export type RadioCardProps = Omit<ControlCardProps, "controlKind">;')
    assert shape_edit(src, ' = Omit<ControlCardProps, "controlKind">;', "export type SwitchCardProps") == \
        ' = Omit<ControlCardProps, "controlKind">;'
    src = _line("const next = await iterator.next();")
    assert shape_edit(src, " = await iterator.next();", "  const result") == " = await iterator.next();"
    src = _line("RadioCard.displayName = `${DISPLAYNAME_PREFIX}.RadioCard`;")
    assert shape_edit(src, " = `${DISPLAYNAME_PREFIX}.RadioCard`;", "SwitchCard.displayName") == \
        " = `${DISPLAYNAME_PREFIX}.SwitchCard`;"
    assert shape_edit(_line("return a + b;"), " + b;", "return a") is None  # nothing renamed


def test_lines_of_the_typed_shape_come_from_every_file_but_not_the_typed_text_itself() -> None:
    store = LineStore()
    store.set_file("src/a.ts", "this.maxTimeMS = maxTimeMS;\nthis.timeoutMS = 0;\nthis.x\nreturn maxTimeMS;\n")
    here = split_file("src/b.ts", "constructor() {\n  this.retries = retries;\n")
    found = {c.line.text for c in store.same_shape(here, 5, "  this.timeoutMS")}
    assert found == {"this.maxTimeMS = maxTimeMS;", "this.retries = retries;"}
    assert store.same_shape(here, 5, "  timeoutMS") == []  # a lone name has no shape to match
    store.remove_file("src/a.ts")
    assert {c.line.text for c in store.same_shape(FileLines("src/b.ts", []), 0, "this.y")} == set()
