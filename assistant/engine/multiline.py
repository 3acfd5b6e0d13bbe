"""Several lines when the cursor opens a block: the copied line plus the rest of its block, re-indented."""

from __future__ import annotations

from assistant.engine.candidates import LineStore
from assistant.engine.context import CursorContext
from assistant.engine.features import Option

MULTILINE_MAX = 12


def finish(ctx: CursorContext, opt: Option, multiline: bool | None, lines: LineStore) -> str:
    """The option's text, plus the rest of the block when the completed line opens one."""
    text = opt.text
    line = (ctx.cursor_prefix + text).rstrip()
    opens = line.endswith("{") or line.endswith("(") or line.endswith("[")
    if multiline is False or (multiline is None and not opens) or opt.kind == "generated":
        return text
    src = opt.best.line
    fl = lines.file(src.path) if src.path != ctx.path else ctx.before
    raw = fl.raw_lines if fl is not None else []
    if not raw or src.line_no < 0 or src.line_no >= len(raw):
        return text
    body = block_after(raw, src.line_no)
    if not body:
        return text
    base = raw[src.line_no][: len(raw[src.line_no]) - len(raw[src.line_no].lstrip())]
    out = [text]
    for b in body[:MULTILINE_MAX]:
        out.append(ctx.indent + b[len(base) :] if b.startswith(base) else ctx.indent + b.lstrip())
    return "\n".join(out)


def _depth(line: str) -> int:
    return sum(1 for ch in line if ch in "{([") - sum(1 for ch in line if ch in "})]")


def block_after(raw: list[str], line_no: int) -> list[str]:
    """Lines after `line_no` up to and including the one that closes the block it opens."""
    depth = _depth(raw[line_no])
    out = []
    for line in raw[line_no + 1 : line_no + 1 + 200]:
        out.append(line)
        depth += _depth(line)
        if depth <= 0:
            return out
    return []
