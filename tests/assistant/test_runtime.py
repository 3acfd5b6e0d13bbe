"""The runtime end to end on a real (tiny) checkpoint: index, complete, sync after edits, verify."""

from __future__ import annotations

import time
from pathlib import Path

from assistant.types import CompletionRequest


def _request(text: str, path: str, gate: bool = True, marker: str = "|") -> CompletionRequest:
    before, after = text.split(marker)
    lines = before.split("\n")
    return CompletionRequest(before + after, len(lines) - 1, len(lines[-1]), path, use_gate=gate)


def test_index_is_verified_clean(runtime) -> None:
    report = runtime.assistant.verify()
    assert report.ok, report.differences
    assert report.entries > 0
    stats = runtime.assistant.bank_stats()
    assert stats.by_kind.get("line", 0) > 0 and stats.by_kind.get("class", 0) >= 2


def test_completion_copies_a_line_from_another_file(runtime) -> None:
    text = "import { Circle } from './shapes';\nexport function big(c: Circle): number {\n  return Math.PI * th|\n}\n"
    result = runtime.assistant.complete(_request(text, "src/other.ts"))
    assert result.items or result.hidden, "a visible line continues 'return Math.PI * th'"
    result = runtime.assistant.complete(_request(text, "src/other.ts", gate=False))
    assert result.items[0].text == "is.radius * this.radius;"
    assert result.items[0].source == "src/shapes.ts:12"


def test_a_partial_identifier_finds_its_line(runtime) -> None:
    text = "function g(c) {\n  const a = c.ar|\n}\n"
    result = runtime.assistant.complete(_request(text, "src/g.ts", gate=False))
    assert any(item.text.startswith("ea()") for item in result.items)


def test_edit_rename_and_verify(runtime, basic_workspace: Path) -> None:
    assistant = runtime.assistant
    shapes = basic_workspace / "src" / "shapes.ts"
    shapes.write_text(shapes.read_text().replace("area(): number", "surface(): number"))
    time.sleep(0.01)
    assistant.sync(["src/shapes.ts"])
    report = assistant.verify()
    assert report.ok, report.differences
    (basic_workspace / "src" / "lib").rename(basic_workspace / "src" / "util")
    assistant.sync()
    report = assistant.verify()
    assert report.ok, report.differences
    assert assistant.last_sync is not None


def test_odd_requests_are_bounded(runtime) -> None:
    assistant = runtime.assistant
    huge = "const x = 1;\n" * 50_000 + "const y = x"
    for request in (
        CompletionRequest(huge, 50_000, 11, "src/huge.ts"),
        CompletionRequest("a" * 200_000, 0, 200_000, "src/min.ts"),
        CompletionRequest("def f():\n    return 1\n", 1, 4, "script.py"),
        CompletionRequest("const a = 1;", 99, 99, "src/past.ts"),
        CompletionRequest("", 0, 0, None),
    ):
        t0 = time.perf_counter()
        result = assistant.complete(request)
        assert (time.perf_counter() - t0) < 5.0
        assert isinstance(result.items, tuple)


def test_a_renamed_method_is_offered_by_its_new_name_only(runtime, basic_workspace: Path) -> None:
    assistant = runtime.assistant
    text = "import { Circle } from './shapes';\nexport function size(c: Circle): number {\n  return c.|\n}\n"
    before = assistant.complete(_request(text, "src/size.ts", gate=False))
    assert any("area()" in item.text for item in before.items), [i.text for i in before.items]
    for rel in ("src/shapes.ts", "src/main.ts"):  # a rename refactoring: the definition and its uses
        path = basic_workspace / rel
        path.write_text(path.read_text().replace("area()", "surface()"))
    assistant.sync(["src/shapes.ts", "src/main.ts"])
    after = assistant.complete(_request(text, "src/size.ts", gate=False))
    assert any("surface()" in item.text for item in after.items), [i.text for i in after.items]
    assert not any("area" in item.text for item in after.items)


def test_a_signal_turned_off_serves_the_ranker_trained_without_it(basic_workspace: Path, tiny_checkpoint: Path,
                                                                   tmp_path: Path) -> None:
    """`[completion] use_decoding = false`: the ranker shipped for that (…ranker-no-decoding…) is used,
    not the main one reading the token head's zeros as evidence."""
    import shutil

    from assistant.engine.ranker import Ranker, variant_path
    from assistant.runtime import open_runtime

    ckpt = shutil.copy(tiny_checkpoint, tmp_path / "m.safetensors")
    main = tmp_path / "m.ranker.safetensors"
    Ranker(temperature=1.25).save(main)
    Ranker(temperature=2.5).save(variant_path(main, "decoding"))
    with open_runtime(basic_workspace, checkpoint=ckpt, sync=True, completion={"use_decoding": False}) as rt:
        assert rt.parts.completer.ranker.temperature == 2.5
    with open_runtime(basic_workspace, checkpoint=ckpt, sync=True, completion={"use_decoding": True}) as rt:
        assert rt.parts.completer.ranker.temperature == 1.25
    # one more group off than the default: the ranker trained without both
    Ranker(temperature=0.75).save(variant_path(main, ("titans", "decoding")))
    assert variant_path(main, ("titans", "decoding")).name == "m.ranker-no-decoding-titans.safetensors"
    with open_runtime(basic_workspace, checkpoint=ckpt, sync=True,
                      completion={"use_decoding": False, "use_titans": False}) as rt:
        assert rt.parts.completer.ranker.temperature == 0.75
