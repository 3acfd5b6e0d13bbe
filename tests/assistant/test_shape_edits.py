"""Copy-and-edit from lines of the typed text's shape: a new name typed where no line continues it."""

from __future__ import annotations

from pathlib import Path

from assistant.complete import Switches
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
        completer = rt.assistant.completer
        shaped = [o for o in completer.analyse(request, Switches()).options if o.shaped]
        without_edits = completer.analyse(request, Switches(edit=False)).options
    assert [o.text for o in shaped] == [" = timeoutMS;"]
    assert shaped[0].kind == "copy_edit" and shaped[0].source == "src/pool.ts:4"
    assert not any(o.shaped for o in without_edits)
