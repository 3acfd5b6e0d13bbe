"""workspace/executeCommand: index, memory and feedback commands.

| command | arguments | returns |
|---|---|---|
| `shutka.reindex` | – | the sync report |
| `shutka.titans.save` | [path] (default: the workspace's own file) | `{"path"}` |
| `shutka.titans.load` | path | `{"loaded", "episodes"}` |
| `shutka.titans.forget` | n (or `{"n": n}`) | `{"forgotten", "episodes"}` |
| `shutka.bank.stats` | – | the bank's statistics |
| `shutka.status` | – | workspace, model, bank, index and server state |
| `shutka.completionAccepted` / `shutka.completionRejected` | the item's command payload | `{"accepted", "episodes", "surprise"}` |

Arguments are positional, or one object with the same names. Bad arguments are InvalidParams.
Paths stay inside the workspace's `.shutka/titans/` (as the HTTP API's): a relative path starts there,
saves write and loads read only there; anything else is refused without saying whether it exists (any
peer of the server could otherwise probe, read or overwrite the user's files).
"""

from __future__ import annotations

from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from assistant.types import CompletionRequest
from lsp import convert
from lsp.buffers import rel_path, text_of
from lsp.server import ShutkaLanguageServer

REINDEX = "shutka.reindex"
TITANS_SAVE = "shutka.titans.save"
TITANS_LOAD = "shutka.titans.load"
TITANS_FORGET = "shutka.titans.forget"
BANK_STATS = "shutka.bank.stats"
STATUS = "shutka.status"


def _arg(args: tuple[Any, ...], index: int, name: str, kind: type, required: bool = True) -> Any:
    """Argument `index` (or key `name` of a single object argument), checked against `kind`."""
    if len(args) == 1 and isinstance(args[0], dict):
        value = args[0].get(name)
    else:
        value = args[index] if index < len(args) else None
    if value is None:
        if required:
            raise JsonRpcInvalidParams(f"missing argument {name!r}")
        return None
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise JsonRpcInvalidParams(f"argument {name!r} must be {kind.__name__}, not {type(value).__name__}")
    return value


def _feedback_request(ls: ShutkaLanguageServer, payload: dict[str, Any]) -> CompletionRequest:
    """The request an item came from: remembered by id, else rebuilt from the buffer up to the cursor."""
    remembered = ls.assistant.remembered(str(payload.get("requestId", "")))
    if remembered is not None:
        return remembered.request
    uri, line, character = payload.get("uri"), payload.get("line"), payload.get("character")
    if not isinstance(uri, str) or not isinstance(line, int) or not isinstance(character, int):
        raise JsonRpcInvalidParams("an unknown requestId needs uri, line and character to rebuild the request")
    text = text_of(ls, uri)
    lines = convert.lines_of(text or "")
    if text is None or not 0 <= line < len(lines):
        raise JsonRpcInvalidParams(f"{uri}: no line {line} to attach the feedback to")
    row = lines[line]
    try:
        column = convert.to_column(row, character, ls.encoding)
    except convert.PositionOutOfRange:
        column = len(row)
    prefix = "\n".join([*lines[:line], row[:column]])
    return CompletionRequest(prefix, line, column, rel_path(ls, uri))


def register(server: ShutkaLanguageServer) -> None:
    @server.command(REINDEX)
    async def reindex(ls: ShutkaLanguageServer, *args: Any) -> dict[str, Any]:
        """Bring catalog, bank and Titans store in step with the disk."""
        await ls.ready()
        report = await ls.call("sync", ls.assistant.sync)
        return report.to_json()

    @server.command(TITANS_SAVE)
    async def titans_save(ls: ShutkaLanguageServer, *args: Any) -> dict[str, Any]:
        await ls.ready()
        target = _arg(args, 0, "path", str, required=False)
        assistant = ls.assistant
        try:
            saved = await ls.call("queries", assistant.titans_save, target)
        except OSError as exc:
            raise JsonRpcInvalidParams(f"argument 'path': cannot write {target!r}: {exc.strerror or exc}") from exc
        return {"path": str(saved)}

    @server.command(TITANS_LOAD)
    async def titans_load(ls: ShutkaLanguageServer, *args: Any) -> dict[str, Any]:
        await ls.ready()
        raw = _arg(args, 0, "path", str)
        assistant = ls.assistant
        try:
            source = await ls.call("queries", assistant.titans_load, raw)
        except OSError as exc:
            raise JsonRpcInvalidParams(f"argument 'path': cannot read {raw!r}: {exc.strerror or exc}") from exc
        stats = await ls.call("queries", ls.assistant.titans_stats)
        return {"loaded": str(source), "episodes": stats.episodes}

    @server.command(TITANS_FORGET)
    async def titans_forget(ls: ShutkaLanguageServer, *args: Any) -> dict[str, Any]:
        """Drop the n least-accessed episodes of the Titans memory."""
        await ls.ready()
        n = _arg(args, 0, "n", int)
        forgotten = await ls.call("queries", ls.assistant.titans_forget, n)
        stats = await ls.call("queries", ls.assistant.titans_stats)
        return {"forgotten": forgotten, "episodes": stats.episodes}

    @server.command(BANK_STATS)
    async def bank_stats(ls: ShutkaLanguageServer, *args: Any) -> dict[str, Any]:
        await ls.ready()
        stats = await ls.call("queries", ls.assistant.bank_stats)
        return stats.to_json()

    @server.command(STATUS)
    async def status(ls: ShutkaLanguageServer, *args: Any) -> dict[str, Any]:
        """The assistant's status plus the server's own state (ready, options, feedback counts)."""
        runtime = await ls.ready()
        state = await ls.call("queries", ls.assistant.status)
        return {**state.to_json(), "server": {
            "version": ls.version, "ready": runtime is not None and runtime.ready.is_set(),
            "watching": runtime is not None and runtime.watcher is not None, "busy": busy(ls),
            "options": ls.options.model_dump(by_alias=True), "feedback": dict(ls.feedback_counts),
            "openDocuments": len(ls.workspace.text_documents)}}

    async def feedback(ls: ShutkaLanguageServer, args: tuple[Any, ...], accepted: bool) -> dict[str, Any]:
        await ls.ready()
        payload = _arg(args, 0, "payload", dict) if not (len(args) == 1 and isinstance(args[0], dict)) else args[0]
        text = payload.get("text")
        if not isinstance(text, str):
            raise JsonRpcInvalidParams("the payload needs the completion's text")
        request = _feedback_request(ls, payload)
        episodes, surprise = await ls.call("documents", ls.assistant.feedback, request, text, accepted)
        ls.feedback_counts["accepted" if accepted else "rejected"] += 1
        return {"accepted": accepted, "episodes": episodes, "surprise": surprise}

    @server.command(convert.ACCEPTED)
    async def completion_accepted(ls: ShutkaLanguageServer, *args: Any) -> dict[str, Any]:
        """The user took an item: the Titans memory learns the line."""
        return await feedback(ls, args, accepted=True)

    @server.command(convert.REJECTED)
    async def completion_rejected(ls: ShutkaLanguageServer, *args: Any) -> dict[str, Any]:
        """The user dismissed an item (counted; nothing is written to the memory)."""
        return await feedback(ls, args, accepted=False)


def busy(ls: ShutkaLanguageServer) -> list[str]:
    """Background work still running: `indexing`, the watcher's pending syncs, adaptation threads."""
    runtime = ls.runtime
    if runtime is None:
        return []
    found = [thread.name for thread in runtime.background if thread.is_alive()]
    if runtime.assistant.indexing:
        found.append("indexing")
    if runtime.watcher is not None and not runtime.watcher.idle():
        found.append("watcher")
    return found
