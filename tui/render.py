"""Pure formatting helpers shared by the widgets: sizes, spans, hashes, unicode bars."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.types import Hit

EIGHTHS = " ▏▎▍▌▋▊▉█"
"""Partial blocks, 0/8 to 8/8 of a cell: bars get eight steps per character."""


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def bar(fraction: float, width: int) -> str:
    """A horizontal bar `width` cells wide filled to `fraction` (clamped to 0..1), in eighths."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)


def histogram_rows(bins: Sequence[tuple[float, float, int]], width: int) -> list[tuple[str, str, str]]:
    """(range label, bar, count) per bin; the fullest bin fills `width` cells."""
    peak = max((count for _, _, count in bins), default=0)
    rows = []
    for low, high, count in bins:
        fraction = count / peak if peak else 0.0
        rows.append((f"{low:5.2f}–{high:<5.2f}", bar(fraction, width), str(count)))
    return rows


def span(hit: Hit) -> str:
    """`src/a.ts:3–7` (1-based lines), `src/a.ts:3` for one line, `?` without a file."""
    if not hit.path:
        return "?"
    if hit.start_line is None:
        return hit.path
    if hit.end_line is None or hit.end_line == hit.start_line:
        return f"{hit.path}:{hit.start_line}"
    return f"{hit.path}:{hit.start_line}–{hit.end_line}"


def short_hash(content_hash: str, length: int = 16) -> str:
    """The first `length` characters of a content hash, with an ellipsis when cut."""
    return content_hash if len(content_hash) <= length else content_hash[:length] + "…"


def first_line(text: str, width: int) -> str:
    """The first non-blank line of `text`, stripped, cut to `width` characters."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


def title(hit: Hit) -> str:
    """`function distance` for a definition, `line 17` for a line entry."""
    if hit.kind == "line":
        return f"line {hit.start_line}" if hit.start_line else "line"
    return f"{hit.kind} {hit.symbol}" if hit.symbol else hit.kind
