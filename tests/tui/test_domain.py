"""The TUI's pure parts: formatting, change detection between polls, and index diagnosis."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assistant.errors import BankCorrupt, CheckpointCorrupt
from assistant.types import BankStats, Hit, Status
from indexer.errors import ConfigError
from tui.changes import IndexSnapshot, diff
from tui.health import describe_open_error, diagnose
from tui.render import bar, first_line, histogram_rows, human_bytes, short_hash, span


def make_status(entries: int = 10, generation: int = 3, bank_digest: str | None = "m1",
                model_digest: str = "m1") -> Status:
    bank = BankStats(entries, {"line": entries}, {"workspace": entries}, 2, 1, 1000, 100, False, bank_digest)
    return Status("/ws", "tiny.safetensors", model_digest, bank, generation, 2, None, 0)


@pytest.mark.parametrize("fraction,width,expected", [
    (0.0, 4, "    "), (1.0, 4, "████"), (0.5, 4, "██  "), (1 / 32, 4, "▏   "), (2.0, 2, "██"), (-1.0, 2, "  "),
])
def test_bar_fills_eighths_of_cells(fraction: float, width: int, expected: str) -> None:
    assert bar(fraction, width) == expected


def test_histogram_scales_to_the_fullest_bin() -> None:
    rows = histogram_rows([(0.0, 0.5, 2), (0.5, 1.0, 4), (1.0, 1.5, 0)], width=8)
    assert [r[2] for r in rows] == ["2", "4", "0"]
    assert rows[1][1] == "█" * 8 and rows[0][1] == "████    " and rows[2][1].strip() == ""
    assert rows[0][0].strip().startswith("0.00")


def test_formatting_helpers() -> None:
    hit = Hit(1, 0.0, "x", "function", "src/a.ts", 3, 7, "f")
    assert span(hit) == "src/a.ts:3–7"
    assert span(replace(hit, end_line=3)) == "src/a.ts:3"
    assert span(replace(hit, path=None)) == "?"
    assert human_bytes(512) == "512 B" and human_bytes(1536) == "1.5 KiB" and human_bytes(3 * 1024**3) == "3.0 GiB"
    assert short_hash("S:" + "a" * 40, 8) == "S:aaaaaa…"
    assert first_line("\n  const x = 1;\nmore", 9) == "const x …"


def test_no_change_between_equal_polls() -> None:
    a = IndexSnapshot.from_status(make_status(), {"a.ts": 4, "b.ts": 6})
    assert diff(a, IndexSnapshot.from_status(make_status(), {"a.ts": 4, "b.ts": 6})) is None


def test_a_change_names_the_files_that_changed() -> None:
    a = IndexSnapshot.from_status(make_status(), {"a.ts": 4, "b.ts": 6})
    b = IndexSnapshot.from_status(make_status(entries=13, generation=4), {"a.ts": 5, "c.ts": 8})
    change = diff(a, b)
    assert change is not None and change.bank_changed
    assert [(f.path, f.before, f.after) for f in change.files] == [("a.ts", 4, 5), ("b.ts", 6, 0), ("c.ts", 0, 8)]
    text = change.describe()
    assert text.startswith("another process: generation 3 → 4")
    assert "a.ts +1" in text and "b.ts (gone)" in text and "c.ts (new, 8)" in text


def test_diagnose() -> None:
    assert diagnose(make_status()) is None
    missing = diagnose(make_status(entries=0, generation=0))
    assert missing is not None and missing.kind == "missing"
    other = diagnose(make_status(bank_digest="m0"))
    assert other is not None and other.kind == "incompatible" and "m0" in other.message
    assert diagnose(make_status(entries=0, bank_digest="m0")) is None  # empty: nothing to re-encode


@pytest.mark.parametrize("error,title", [
    (CheckpointCorrupt("x.safetensors: checkpoint not found"), "checkpoint"),
    (BankCorrupt("vector file missing"), "memory bank"),
    (ConfigError("shutka.toml [tui] x: unknown"), "shutka.toml"),
    (OSError("disk on fire"), "Unexpected"),
])
def test_open_errors_are_described_without_tracebacks(error: BaseException, title: str) -> None:
    failure = describe_open_error(error)
    assert title in failure.title
    assert str(error) in failure.message and failure.hint
