"""Completion latency and start-up time measured the way an editor sees them: through an LSP client
talking to `python -m lsp` over stdio.

    python -m lsp.bench --tasks /work/corpus/dev.tasks.jsonl --corpus /work/corpus/dev \\
        --train-corpus /work/corpus/train --checkpoint model.safetensors --json lsp-bench.json

1. Latency. One workspace holds every package folder of `--corpus` (symlinks under `--workdir`), so
   the bank is as large as the dev set allows (reported). After the first index, for each task the
   task's file is shown to the server with only its text before the target line plus the typed part
   (the bench's visibility rule: the rest of the file is not visible; the engine ignores the indexed
   copy of the current file) and a completion is requested at the end of it. Files are visited in
   order; a new file is opened (the previous one closed), further tasks of the same file arrive as
   full-text changes, as when a user moves around a file. Time = request sent → response parsed.
   Timing starts once the first index and the background work after it (workspace adaptation, the
   watcher's catch-up) are done: the figures are those of a settled editor session.
2. Start-up (`--train-corpus`). A fresh workspace of all its packages (symlinks; the index is
   deleted first): time from sending `initialize` to the first completion that returns at least one
   item (the gate on), asked in turn at 50 cursors spread over the corpus (opened as buffers) while
   the model loads and the first index runs; also when the first index finishes.

3. Typing replay (`--replay`, with --tasks/--corpus). The replay of `shutka eval replay` through the
   server: per package, a workspace under `--workdir` holding a copy of the package's sources and a
   shutka.toml turning workspace adaptation off (it would train on the task files' own lines); after
   its first index, each task's file is opened cut before the line, with the line's indentation, and
   the line is typed one character at a time (`didChange`, incremental), `textDocument/inlineCompletion`
   (automatic trigger: only what clears the gate) asked after every keystroke. The first item's first
   line is the suggestion; exact / partial (a strict prefix of the rest, taken and typed after) /
   wrong are judged as `training.completion_eval.replay` does (a test keeps the two rules equal).
   Reported: characters saved, lines finished, wrong per 100 keystrokes, and the client's time per
   keystroke (request sent -> response parsed), p50/p95.

The checkpoint: --checkpoint, else $SHUTKA_CHECKPOINT, else the server's own default (the bundled model).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
from lsprotocol import types
from pygls.lsp.client import LanguageClient

log = logging.getLogger(__name__)

WORKDIR = Path(tempfile.gettempdir()) / "shutka-lsp-bench"
WARMUP_TASKS = 5
"""Requests sent before timing starts (first-call costs: lazy imports, caches)."""
INDEX_TIMEOUT_S = 3600.0
"""Longest wait for a first index."""
FIRST_USEFUL_TIMEOUT_S = 1800.0
"""Longest wait for the first useful completion during start-up."""
PROBE_INTERVAL_S = 0.25
"""Pause between start-up requests (so they do not starve the indexer of CPU)."""
IDLE_TIMEOUT_S = 600.0
"""Longest wait for background work (adaptation) to finish before timing."""
IDLE_POLL_S = 1.0
PROBES = 50
"""Start-up cursors, asked in turn (one answers or not depending on the code around it)."""
PROBE_MIN_LINE = 5


@dataclass
class LatencyReport:
    checkpoint: str
    workspace: str
    packages: list[str]
    bank_entries: int
    bank_by_kind: dict[str, int]
    index_s: float
    """`initialized` → the end of the first index's progress (0 when the index was already there)."""
    settle_s: float
    """Then, until background work (adaptation, the watcher's catch-up) finished; timing starts after."""
    tasks: int
    answered: int
    """Requests that returned at least one item (the gate hides the rest)."""
    exact: int
    """Answered requests whose first item was exactly the target (whitespace-normalised)."""
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float


@dataclass
class StartupReport:
    checkpoint: str
    workspace: str
    packages: list[str]
    initialize_ms: float
    """`initialize` sent → its reply (the reply does not wait for the model)."""
    first_response_s: float | None
    """`initialize` sent → the first completion answered at all (the model is loaded)."""
    first_useful_s: float | None
    """`initialize` sent → the first completion with at least one item (None: not within the timeout)."""
    requests: int
    """Completion requests sent until then (cursors taken in turn)."""
    cursors: int
    index_s: float | None
    """`initialize` sent → the end of the first index's progress (None: not waited for)."""
    bank_entries: int
    """Bank size when the measurement ended."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def normalize(text: str) -> str:
    return " ".join(text.split())


def resolve_checkpoint(given: Path | None) -> Path | None:
    if given is not None:
        return given
    if os.environ.get("SHUTKA_CHECKPOINT"):
        return Path(os.environ["SHUTKA_CHECKPOINT"])
    return None  # the server's default: the bundled model


def link_workspace(corpus: Path, target: Path, fresh: bool) -> list[str]:
    """`target/<package>` → `corpus/<package>` for every package folder; returns the package names.
    `fresh` deletes the workspace's index first."""
    if fresh and (target / ".shutka").exists():
        shutil.rmtree(target / ".shutka")
    target.mkdir(parents=True, exist_ok=True)
    packages = sorted(p.name for p in corpus.iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in packages:
        link = target / name
        if not link.exists():
            link.symlink_to((corpus / name).resolve(), target_is_directory=True)
    return packages


# -- the client ----------------------------------------------------------------------------------


class BenchClient(LanguageClient):
    """pygls' client plus what a server may ask of an editor: progress tokens, messages."""

    def __init__(self) -> None:
        super().__init__("shutka-lsp-bench", "1")
        self.progress_ended = asyncio.Event()
        self.messages: list[str] = []

        @self.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create_progress(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @self.feature(types.PROGRESS)
        def progress(params: types.ProgressParams) -> None:
            value = params.value if isinstance(params.value, dict) else {}
            if value.get("kind") == "end":
                log.info("first index: %s", value.get("message"))
                self.progress_ended.set()

        @self.feature(types.WINDOW_SHOW_MESSAGE)
        def show_message(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)
            log.warning("server says: %s", params.message)


async def start_server(root: Path, checkpoint: Path | None, options: dict[str, Any],
                       log_file: Path) -> tuple[BenchClient, float]:
    """Spawn `python -m lsp` (logs to `log_file`), initialize it on `root`. -> (client, initialize ms)."""
    client = BenchClient()
    args = ["-m", "lsp", "--log-file", str(log_file), "-v"]
    if checkpoint is not None:
        args += ["--checkpoint", str(checkpoint)]
    await client.start_io(sys.executable, *args)
    caps = types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        text_document=types.TextDocumentClientCapabilities(completion=types.CompletionClientCapabilities(
            completion_item=types.ClientCompletionItemOptions(documentation_format=[types.MarkupKind.Markdown]))))
    t0 = time.perf_counter()
    await client.initialize_async(types.InitializeParams(
        capabilities=caps, process_id=os.getpid(), initialization_options=options,
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)]))
    init_ms = (time.perf_counter() - t0) * 1000
    client.initialized(types.InitializedParams())
    return client, init_ms


async def stop_server(client: BenchClient) -> None:
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


async def wait_idle(client: BenchClient, timeout: float = IDLE_TIMEOUT_S) -> float:
    """Wait until the server reports no background work (workspace adaptation after the first
    index, the watcher's catch-up sync), so latencies are those of a settled editor session. -> s waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="shutka.status"))
        if not status["server"]["busy"]:
            break
        await asyncio.sleep(IDLE_POLL_S)
    else:
        log.warning("the server was still busy after %.0f s: measuring anyway", timeout)
    return time.perf_counter() - t0


async def bank_stats(client: BenchClient) -> dict[str, Any]:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="shutka.bank.stats"))


def end_position(text: str) -> types.Position:
    """The position after the last character, in UTF-16 code units."""
    last = text.split("\n")[-1]
    return types.Position(line=text.count("\n"), character=len(last.encode("utf-16-le")) // 2)


# -- 1. latency ----------------------------------------------------------------------------------


def task_text(task: dict[str, Any]) -> str:
    """What the server may see: the file before the target line plus the typed part."""
    return task["prefix"] + task["cursor_prefix"]


async def measure_latency(tasks_path: Path, corpus: Path, workdir: Path, checkpoint: Path | None,
                          options: dict[str, Any], limit: int | None) -> LatencyReport:
    root = workdir / "dev-workspace"
    packages = link_workspace(corpus, root, fresh=False)
    tasks = [json.loads(line) for line in tasks_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    tasks.sort(key=lambda t: (t["id"].split("/", 1)[0], t["file"], t["line_no"]))
    if limit:
        tasks = tasks[:limit]
    client, _ = await start_server(root, checkpoint, options, workdir / "lsp-latency.log")
    try:
        t0 = time.perf_counter()
        await asyncio.wait_for(client.progress_ended.wait(), INDEX_TIMEOUT_S)
        index_s = time.perf_counter() - t0
        settle_s = await wait_idle(client)
        stats = await bank_stats(client)
        log.info("bank: %d entries %s; first index %.1f s, background work done %.1f s later",
                 stats["entries"], stats["by_kind"], index_s, settle_s)
        latencies: list[float] = []
        answered = exact = 0
        open_uri: str | None = None
        versions: dict[str, int] = {}
        for i, task in enumerate([*tasks[:WARMUP_TASKS], *tasks]):
            uri = (root / task["id"].split("/", 1)[0] / task["file"]).as_uri()
            text = task_text(task)
            if uri != open_uri:
                if open_uri is not None:
                    client.text_document_did_close(types.DidCloseTextDocumentParams(
                        text_document=types.TextDocumentIdentifier(uri=open_uri)))
                versions[uri] = versions.get(uri, 0) + 1
                client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                    uri=uri, language_id="typescript", version=versions[uri], text=text)))
                open_uri = uri
            else:
                versions[uri] += 1
                client.text_document_did_change(types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=versions[uri]),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
            start = time.perf_counter()
            result = await client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=end_position(text)))
            elapsed = (time.perf_counter() - start) * 1000
            if i < WARMUP_TASKS:
                continue
            latencies.append(elapsed)
            items = result.items if isinstance(result, types.CompletionList) else (result or [])
            if items:
                answered += 1
                best = min(items, key=lambda item: item.sort_text or "")
                predicted = best.command.arguments[0]["text"] if best.command and best.command.arguments else ""
                exact += normalize(predicted) == normalize(task["target"])
        return LatencyReport(str(checkpoint or "server default"), str(root), packages, stats["entries"],
                             stats["by_kind"], index_s, settle_s, len(latencies), answered, exact,
                             percentile(latencies, 0.5), percentile(latencies, 0.95), percentile(latencies, 0.99),
                             statistics.fmean(latencies) if latencies else float("nan"),
                             max(latencies, default=float("nan")))
    finally:
        await stop_server(client)


# -- 2. start-up ---------------------------------------------------------------------------------


def probe_documents(root: Path, packages: list[str], count: int = PROBES,
                    seed: int = 0) -> list[tuple[str, str]]:
    """`count` (uri, text) cursors spread over the corpus: a source file cut after the indentation and
    first word of one of its lines (at least 10 visible characters), as if the user had just typed
    them. Deterministic for a given corpus and seed."""
    files = sorted(path for name in packages for path in (root / name).rglob("*.ts")
                   if "node_modules" not in path.parts and not path.name.endswith(".d.ts"))
    if not files:
        raise click.ClickException(f"no TypeScript sources under {root}")
    rng = random.Random(seed)
    probes: list[tuple[str, str]] = []
    for path in rng.sample(files, min(len(files), count * 3)):
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        candidates = [i for i, line in enumerate(lines) if i >= PROBE_MIN_LINE and len(line.strip()) >= 10
                      and not line.lstrip().startswith(("*", "/", "import"))]
        if not candidates:
            continue
        i = rng.choice(candidates)
        typed = re.match(r"\s*\S+", lines[i])
        assert typed is not None
        probes.append((path.as_uri(), "\n".join([*lines[:i], typed.group(0)])))
        if len(probes) == count:
            break
    return probes


async def measure_startup(corpus: Path, workdir: Path, checkpoint: Path | None,
                          options: dict[str, Any], wait_index: bool) -> StartupReport:
    root = workdir / "train-workspace"
    packages = link_workspace(corpus, root, fresh=True)
    probes = probe_documents(root, packages)
    t0 = time.perf_counter()
    client, init_ms = await start_server(root, checkpoint, options, workdir / "lsp-startup.log")
    try:
        for uri, text in probes:
            client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                uri=uri, language_id="typescript", version=1, text=text)))
        first_response: float | None = None
        first_useful: float | None = None
        asked = 0
        while time.perf_counter() - t0 < FIRST_USEFUL_TIMEOUT_S:
            uri, text = probes[asked % len(probes)]
            asked += 1
            result = await client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=end_position(text)))
            if first_response is None and result is not None:
                first_response = time.perf_counter() - t0
            if isinstance(result, types.CompletionList) and result.items:
                first_useful = time.perf_counter() - t0
                log.info("first useful completion after %.2f s (%d requests): %s", first_useful, asked,
                         result.items[0].label)
                break
            await asyncio.sleep(PROBE_INTERVAL_S)
        index_s: float | None = None
        if wait_index:
            remaining = INDEX_TIMEOUT_S - (time.perf_counter() - t0)
            await asyncio.wait_for(client.progress_ended.wait(), max(remaining, 1.0))
            index_s = time.perf_counter() - t0
        stats = await bank_stats(client)
        return StartupReport(str(checkpoint or "server default"), str(root), packages, init_ms, first_response,
                             first_useful, asked, len(probes), index_s, stats["entries"])
    finally:
        await stop_server(client)


# -- 3. typing replay ----------------------------------------------------------------------------


REPLAY_CONFIG = "[completion]\nadapt = false\n"
"""The replay workspaces' shutka.toml: no workspace adaptation (it would train on the tasks' own lines)."""
REPLAY_SKIP = shutil.ignore_patterns(".shutka", ".tarballs", "node_modules", ".corpus.json")


def judge(typed: str, rest: str, suggestion: str | None) -> str | None:
    """'exact' (the whole line equal after whitespace normalisation), 'partial' (a strict prefix of the
    rest), 'wrong', or None (nothing shown): the rule of training.completion_eval.replay."""
    if suggestion is None or not suggestion.strip():
        return None
    if normalize(typed + suggestion) == normalize(typed + rest):
        return "exact"
    if len(suggestion) < len(rest) and rest.startswith(suggestion):
        return "partial"
    return "wrong"


@dataclass
class ReplayReport:
    checkpoint: str
    packages: list[str]
    lines: int
    chars: int
    saved_pct: float
    """Characters saved by accepted suggestions, % of the characters typed after the indentation."""
    saved_partial_pct: float
    """Of those, by partial (prefix) accepts."""
    finished_pct: float
    """Lines whose end came from an accepted suggestion."""
    wrong_per_100: float
    """Wrong suggestions shown per 100 keystrokes (asks)."""
    keystrokes: int
    index_s: float
    """First index of the replay workspaces, all together."""
    p50_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float


def package_folders(corpus: Path) -> dict[str, Path]:
    """npm package name (from the folder's .corpus.json, else the folder name) -> folder."""
    out = {}
    for d in sorted(p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith(".")):
        manifest = d / ".corpus.json"
        name = json.loads(manifest.read_text(encoding="utf-8")).get("name", d.name) if manifest.is_file() else d.name
        out[name] = d
    return out


def replay_workspace(package_dir: Path, target: Path) -> Path:
    """A copy of the package's sources with REPLAY_CONFIG (its index is kept between runs)."""
    if not target.exists():
        shutil.copytree(package_dir, target, ignore=REPLAY_SKIP)
    (target / "shutka.toml").write_text(REPLAY_CONFIG, encoding="utf-8")
    return target


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def replay_line(client: BenchClient, uri: str, task: dict[str, Any], counts: dict[str, int],
                      latencies: list[float]) -> None:
    """Open the file cut before the task's line (plus its indentation) and type the line."""
    line = task["cursor_prefix"] + task["target"]
    indent = line[: len(line) - len(line.lstrip())]
    body = line[len(indent):].rstrip()
    row = task["prefix"].count("\n")
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="typescript", version=1, text=task["prefix"] + indent)))
    version, typed, k = 1, 0, 0
    counts["lines"] += 1
    counts["chars"] += len(body)
    while k < len(body):
        if k > typed:  # bring the buffer to body[:k]: one insert at the end of the line
            at = types.Position(line=row, character=utf16(indent + body[:typed]))
            version += 1
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at),
                                                                        text=body[typed:k])]))
            typed = k
        start = time.perf_counter()
        result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=row, character=utf16(indent + body[:k]))))
        latencies.append((time.perf_counter() - start) * 1000)
        counts["keystrokes"] += 1
        items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
        text = items[0].insert_text if items else None
        suggestion = (text if isinstance(text, str) else getattr(text, "value", None) or "").split("\n", 1)[0] \
            if text is not None else None
        verdict = judge(body[:k], body[k:], suggestion)
        if verdict == "exact":
            counts["saved"] += len(body) - k
            counts["finished"] += 1
            break
        if verdict == "partial":
            assert suggestion is not None
            counts["saved"] += len(suggestion)
            counts["saved_partial"] += len(suggestion)
            k += len(suggestion)
            continue
        counts["wrong"] += verdict == "wrong"
        k += 1
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))


async def measure_replay(tasks_path: Path, corpus: Path, workdir: Path, checkpoint: Path | None,
                         options: dict[str, Any], limit: int | None, packages: list[str] | None) -> ReplayReport:
    folders = package_folders(corpus)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for raw in tasks_path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            task = json.loads(raw)
            grouped.setdefault(task["package"], []).append(task)
    wanted = packages or sorted(grouped)
    missing = [p for p in wanted if p not in folders or p not in grouped]
    if missing:
        raise click.ClickException(f"packages not in {corpus} or not in {tasks_path}: {', '.join(missing)}")
    counts = dict.fromkeys(("lines", "chars", "saved", "saved_partial", "finished", "wrong", "keystrokes"), 0)
    latencies: list[float] = []
    index_s = 0.0
    for pkg in wanted:
        root = replay_workspace(folders[pkg], workdir / "replay" / folders[pkg].name)
        chosen = sorted(grouped[pkg], key=lambda t: (t["file"], t["line_no"]))[:limit]
        client, _ = await start_server(root, checkpoint, options, workdir / f"lsp-replay-{folders[pkg].name}.log")
        try:
            t0 = time.perf_counter()
            await asyncio.wait_for(client.progress_ended.wait(), INDEX_TIMEOUT_S)
            index_s += time.perf_counter() - t0
            await wait_idle(client)
            warm: list[float] = []
            await replay_line(client, (root / chosen[0]["file"]).as_uri(), {**chosen[0], "target": ""},
                              dict.fromkeys(counts, 0), warm)  # first-call costs, not counted
            for task in chosen:
                await replay_line(client, (root / task["file"]).as_uri(), task, counts, latencies)
                log.info("%s: %d lines typed", pkg, counts["lines"])
        finally:
            await stop_server(client)
    chars, keys = max(counts["chars"], 1), max(counts["keystrokes"], 1)
    return ReplayReport(str(checkpoint or "server default"), wanted, counts["lines"], counts["chars"],
                        100 * counts["saved"] / chars, 100 * counts["saved_partial"] / chars,
                        100 * counts["finished"] / max(counts["lines"], 1), 100 * counts["wrong"] / keys,
                        counts["keystrokes"], index_s, percentile(latencies, 0.5), percentile(latencies, 0.95),
                        statistics.fmean(latencies) if latencies else float("nan"), max(latencies, default=float("nan")))


def _print_replay(r: ReplayReport) -> None:
    click.echo(f"typing replay through LSP/stdio (inlineCompletion after every keystroke), {r.lines} lines, "
               f"{r.chars} characters, {r.keystrokes} keystrokes, packages {', '.join(r.packages)}")
    click.echo(f"  saved {r.saved_pct:.1f}% of characters ({r.saved_partial_pct:.1f} by partial accepts), "
               f"finished {r.finished_pct:.1f}% of lines, wrong {r.wrong_per_100:.1f} per 100 keystrokes")
    click.echo(f"  per keystroke: p50 {r.p50_ms:.1f} ms   p95 {r.p95_ms:.1f} ms   mean {r.mean_ms:.1f} ms   "
               f"max {r.max_ms:.1f} ms (first index {r.index_s:.1f} s, not timed)")


# -- command -------------------------------------------------------------------------------------


def _print_latency(r: LatencyReport) -> None:
    click.echo(f"completion latency through LSP/stdio, {r.tasks} tasks, bank {r.bank_entries} entries "
               f"({', '.join(f'{k} {v}' for k, v in sorted(r.bank_by_kind.items()))})")
    click.echo(f"  first index {r.index_s:.1f} s, background work (adaptation) {r.settle_s:.1f} s more; timed after it")
    click.echo(f"  p50 {r.p50_ms:.1f} ms   p95 {r.p95_ms:.1f} ms   p99 {r.p99_ms:.1f} ms   "
               f"mean {r.mean_ms:.1f} ms   max {r.max_ms:.1f} ms")
    click.echo(f"  answered {r.answered}/{r.tasks} ({r.answered / max(r.tasks, 1):.0%}); first item exact on "
               f"{r.exact} ({r.exact / max(r.tasks, 1):.1%} of all tasks)")


def _print_startup(r: StartupReport) -> None:
    useful = (f"{r.first_useful_s:.2f} s ({r.requests} requests over {r.cursors} cursors)"
              if r.first_useful_s is not None else "none within the timeout")
    answered = f"{r.first_response_s:.2f} s" if r.first_response_s is not None else "never"
    index = f"{r.index_s:.1f} s" if r.index_s is not None else "not waited for"
    click.echo(f"start-up on {len(r.packages)} packages ({r.workspace}): initialize reply {r.initialize_ms:.0f} ms, "
               f"first completion answered {answered}, first useful completion {useful}, "
               f"first index done {index} ({r.bank_entries} bank entries)")


@click.command("lsp")
@click.option("--tasks", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Line-completion tasks (JSONL, ../shared/bench format).")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The tasks' corpus: one folder per package.")
@click.option("--train-corpus", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Also time initialize → first useful completion on this corpus (one workspace).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model (default: $SHUTKA_CHECKPOINT, then the server's default, the bundled model).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              default=WORKDIR, show_default=True,
              help="Where the benchmark workspaces (symlinks) and their indexes live; kept between runs.")
@click.option("--threshold", type=float, default=None, help="Confidence gate (default: the workspace's).")
@click.option("--wait-index/--no-wait-index", default=True, show_default=True,
              help="Start-up: also wait for the first index of the train corpus to finish.")
@click.option("--limit", type=int, default=None, help="Only the first N tasks (--replay: per package).")
@click.option("--replay", is_flag=True, help="Typing replay of the tasks' lines instead of one request per task.")
@click.option("--packages", help="--replay: comma-separated packages (default: all in the tasks file).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures here.")
@click.option("-v", "--verbose", is_flag=True, help="Progress logs on stderr.")
def command(tasks: Path | None, corpus: Path | None, train_corpus: Path | None, checkpoint: Path | None,
            workdir: Path, threshold: float | None, wait_index: bool, limit: int | None, replay: bool,
            packages: str | None, json_out: Path | None, verbose: bool) -> None:
    """Completion latency (p50/p95) and start-up time through an LSP client over stdio."""
    if verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
        logging.getLogger("pygls").setLevel(logging.WARNING)
    if (tasks is None) != (corpus is None):
        raise click.UsageError("--tasks and --corpus go together")
    if tasks is None and train_corpus is None:
        raise click.UsageError("nothing to measure: give --tasks/--corpus and/or --train-corpus")
    ckpt = resolve_checkpoint(checkpoint)
    options: dict[str, Any] = {} if threshold is None else {"threshold": threshold}
    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"checkpoint": str(ckpt or "server default")}
    if replay:
        if tasks is None or corpus is None:
            raise click.UsageError("--replay needs --tasks and --corpus")
        chosen = [p.strip() for p in packages.split(",")] if packages else None
        replayed = asyncio.run(measure_replay(tasks, corpus, workdir, ckpt, options, limit, chosen))
        _print_replay(replayed)
        out["replay"] = asdict(replayed)
    elif tasks is not None and corpus is not None:
        latency = asyncio.run(measure_latency(tasks, corpus, workdir, ckpt, options, limit))
        _print_latency(latency)
        out["latency"] = asdict(latency)
    if train_corpus is not None:
        startup = asyncio.run(measure_startup(train_corpus, workdir, ckpt, options, wait_index))
        _print_startup(startup)
        out["startup"] = asdict(startup)
    if json_out is not None:
        json_out.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    command(prog_name="python -m lsp.bench")
