"""Copy-and-edit from lines of the typed text's shape: a new name typed where no line continues it."""

from __future__ import annotations

from pathlib import Path

from assistant.engine.pipeline import Switches
from assistant.types import CompletionRequest
from tests.conftest import write_workspace

FILES = {
    "src/pool.ts": ("export class Pool {\n  maxTimeMS: number;\n  constructor(maxTimeMS: number) {\n"
                    "    this.maxTimeMS = maxTimeMS;\n  }\n}\n"),
    "src/cursor.ts": "export class Cursor {\n  timeoutMS: number;\n  constructor(timeoutMS: number) {\n",
}


def test_a_typed_new_name_gets_the_continuation_of_a_line_of_its_shape(tmp_path: Path,
                                                                       tiny_checkpoint: Path) -> None:
    from assistant.runtime import open_runtime

    write_workspace(tmp_path, FILES)
    typed = "    this.timeoutMS"
    request = CompletionRequest(FILES["src/cursor.ts"] + typed, 3, len(typed), "src/cursor.ts")
    with open_runtime(tmp_path, checkpoint=tiny_checkpoint, sync=True) as rt:
        completer = rt.parts.completer
        shaped = [o for o in completer.analyse(request, Switches()).options if o.shaped]
        without_edits = completer.analyse(request, Switches(edit=False)).options
    assert [o.text for o in shaped] == [" = timeoutMS;"]
    assert shaped[0].kind == "copy_edit" and shaped[0].source == "src/pool.ts:4"
    assert not any(o.shaped for o in without_edits)


IMPORTS = {
    "src/userService.ts": 'import { UserModel } from "./userModel";\nexport const users = 1;\n',
    "src/userModel.ts": "export class UserModel {}\n",
    "src/models.ts": "export class OrderModel {}\n",
    "src/orderService.ts": "export const orders = 2;\n",
}


def _import_edits(tmp_path: Path, tiny_checkpoint: Path, files: dict[str, str]) -> list[str]:
    from assistant.runtime import open_runtime

    write_workspace(tmp_path, files)
    typed = "import { OrderModel"
    text = typed + "\n" + files["src/orderService.ts"]
    request = CompletionRequest(text, 0, len(typed), "src/orderService.ts")
    with open_runtime(tmp_path, checkpoint=tiny_checkpoint, sync=True) as rt:
        options = rt.parts.completer.analyse(request, Switches()).options
    return [o.text for o in options if o.kind == "copy_edit"]


def test_an_edit_rewrites_an_import_path_only_to_a_file_that_exists(tmp_path: Path, tiny_checkpoint: Path) -> None:
    assert ' } from "./orderModel";' not in _import_edits(tmp_path / "a", tiny_checkpoint, IMPORTS)
    with_file = {**IMPORTS, "src/orderModel.ts": "export class OrderModel {}\n"}
    assert ' } from "./orderModel";' in _import_edits(tmp_path / "b", tiny_checkpoint, with_file)


def test_an_edit_never_renames_to_a_name_that_exists_nowhere(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """`this.timeo`: a fragment being typed is no name; the shape edit waits for a name that exists."""
    from assistant.runtime import open_runtime

    write_workspace(tmp_path, FILES)
    typed = "    this.timeo"
    request = CompletionRequest(FILES["src/cursor.ts"] + typed, 3, len(typed), "src/cursor.ts")
    with open_runtime(tmp_path, checkpoint=tiny_checkpoint, sync=True) as rt:
        options = rt.parts.completer.analyse(request, Switches()).options
    assert not [o.text for o in options if o.shaped or o.kind == "copy_edit"]


MEMBERS = {
    "src/options.ts": ("export const separator = 1;\n"
                       "export interface Options {\n  blockSeparator?: string\n  indent: number\n"),
}


def test_a_lone_new_name_gets_the_continuations_of_its_block_siblings(tmp_path: Path,
                                                                      tiny_checkpoint: Path) -> None:
    """`tokenName` typed under interface members: their continuations, nearest first, renamed; the line
    that opens the block and the lines before it are no siblings."""
    from assistant.runtime import open_runtime

    write_workspace(tmp_path, MEMBERS)
    typed = "  tokenName"
    request = CompletionRequest(MEMBERS["src/options.ts"] + typed, 4, len(typed), "src/options.ts")
    with open_runtime(tmp_path, checkpoint=tiny_checkpoint, sync=True) as rt:
        options = rt.parts.completer.analyse(request, Switches()).options
    shaped = sorted((o.best.line.line_no, o.text) for o in options if o.shaped)
    assert shaped == [(2, "?: string"), (3, ": number")]
