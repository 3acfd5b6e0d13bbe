"""`open_runtime(workspace)`: load config and checkpoint, open catalog + bank + Titans, sync the
index, start the watcher, and hand out one `Assistant`. Used by the CLI, the LSP, the API and the TUI.

    with open_runtime("path/to/repo") as runtime:
        runtime.assistant.complete(CompletionRequest(...))
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from assistant import recovery
from assistant.checkpoints import Checkpoint, load_checkpoint, resolve_checkpoint
from assistant.config import BankConfig, CompletionConfig
from assistant.engine.candidates import LineStore
from assistant.engine.hoprag import HopRetriever
from assistant.engine.pipeline import Completer
from assistant.engine.ranker import Ranker, variant_path
from assistant.errors import BankModelMismatch, CheckpointError
from assistant.memory import suppressions
from assistant.memory.bank import MemoryBank
from assistant.memory.entry_encoding import LatentEncoder
from assistant.memory.sync_hooks import BankHook, LinesHook, SyncHooks, TitansHook
from assistant.memory.titans import TitansStore
from assistant.service import Assistant, Parts
from assistant.types import SyncReport
from indexer.config import IndexerConfig
from indexer.errors import DatabaseDamaged
from indexer.sync import Indexer, workspace_lock
from indexer.watcher import SyncingWatcher
from indexer.workspace import Workspace

log = logging.getLogger(__name__)

DB_NAME = "index.sqlite"
BANK_DIR = "bank"
RANKER_NAME = "ranker.safetensors"
INITIAL_BATCH_FILES = 64
"""The first index commits in batches of this many files: progress survives an interruption,
and completions improve while the rest is encoded."""


@dataclass
class Runtime:
    """Everything one open workspace holds; `assistant` is what surfaces use."""

    workspace: Workspace
    assistant: Assistant
    parts: Parts
    """The facade's parts, for what runs beside it in this process: the watcher, workspace adaptation,
    `verify`, the evaluation harness (training.completion_eval) and tests. Surfaces use `assistant`."""
    checkpoint: Checkpoint
    indexer_config: IndexerConfig
    completion_config: CompletionConfig
    watcher: SyncingWatcher | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    """Set once the first sync finished (immediately when there was none)."""
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set by close(): background work (indexing, adaptation) stops at its next step."""
    background: list[threading.Thread] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """The warnings of recoveries opening the workspace needed (damaged index.sqlite or bank file)."""
    db_identity: recovery.FileIdentity = None
    """Which index.sqlite file the runtime opened (see `recover_after`)."""

    def start_watcher(self) -> None:
        if self.watcher is None:
            self.watcher = SyncingWatcher(self.parts.indexer, self.parts.hooks)
            self.watcher.start(initial_sync=True)  # catches changes made while the runtime started

    def close(self) -> None:
        self.stopping.set()
        for thread in self.background:
            thread.join(timeout=60)
        self.background.clear()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # shutting down: report every failure, keep closing the rest
                log.exception("while closing the runtime")
        self.closers.clear()


def load_model(checkpoint: str | os.PathLike[str] | None, quantized: bool) -> tuple[Checkpoint, str]:
    """The inference model: int8 export (default) or fp32. -> (checkpoint, encoder digest)."""
    ckpt = load_checkpoint(resolve_checkpoint(checkpoint))
    model = ckpt.model
    if quantized and not model.quantized:
        model = model.export_int8()
    elif not quantized and model.quantized:
        model = load_checkpoint(ckpt.path, for_training=True).model.eval()  # type: ignore[arg-type]
    ckpt.model = model.eval()
    return ckpt, f"{ckpt.digest}-{'int8' if quantized else 'fp32'}"


def load_ranker(workspace: Workspace, checkpoint: Checkpoint, off: tuple[str, ...] = ()) -> Ranker:
    """The workspace-adapted ranker, else the one shipped beside the checkpoint, else the heuristic.

    With signal groups `off` (`[completion] use_decoding = false`, …), the shipped ranker trained
    without them (when one was) comes before the main one, which would read the missing signals' zeros as
    evidence (an adapted ranker learnt from this engine's own signals, the groups' zeros included)."""
    shipped = checkpoint.path.with_name(checkpoint.path.stem + ".ranker.safetensors") if checkpoint.path else None
    variant = variant_path(shipped, off) if shipped is not None and off else None
    for path in (workspace.state_dir / RANKER_NAME, variant, shipped):
        if path is not None and path.is_file():
            try:
                return Ranker.load(path)
            except CheckpointError as exc:
                log.warning("ignoring ranker %s: %s", path, exc)
    log.info("no trained ranker found: using the context-similarity heuristic")
    return Ranker()


@contextlib.contextmanager
def open_runtime(path: str | os.PathLike[str], *, checkpoint: str | os.PathLike[str] | None = None,
                 sync: bool | str = True, watch: bool = False,
                 completion: dict[str, Any] | None = None, indexer: dict[str, Any] | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> Iterator[Runtime]:
    """Open a workspace. `sync`: True = index before returning, "background" = index in a thread
    (completions work meanwhile and improve as batches commit), False = use the index as it is.
    `completion` / `indexer` override the shutka.toml sections (CLI flags, LSP options)."""
    runtime = build_runtime(path, checkpoint=checkpoint, completion=completion, indexer=indexer, progress=progress)
    try:
        if sync == "background":
            thread = threading.Thread(target=_initial_sync, args=(runtime, progress, True), name="shutka-index",
                                      daemon=True)
            runtime.background.append(thread)
            thread.start()
        elif sync:
            try:
                _initial_sync(runtime, progress)
            except Exception as exc:
                recovered = recover_after(runtime, exc)
                if recovered is None:
                    raise
                runtime = build_runtime(path, checkpoint=checkpoint, completion=completion, indexer=indexer,
                                        progress=progress)
                runtime.notices.insert(0, recovered)
                _initial_sync(runtime, progress)
        else:
            runtime.ready.set()
        if watch:
            runtime.start_watcher()
        yield runtime
    finally:
        runtime.close()


def build_runtime(path: str | os.PathLike[str], *, checkpoint: str | os.PathLike[str] | None = None,
                  completion: dict[str, Any] | None = None, indexer: dict[str, Any] | None = None,
                  on_model_change: str = "reencode",
                  progress: Callable[[str, int, int], None] | None = None) -> Runtime:
    """Everything but syncing and watching (see open_runtime).

    `on_model_change`: a bank encoded by another model is re-encoded ("reencode", with `progress`
    ("reencode", done, total)) or left alone ("keep": `Assistant.bank_mismatch()` says why, and
    surfaces can ask the user first).

    Damaged state is recovered here, for every surface alike (`assistant.recovery`: one warning each,
    also in `Runtime.notices`): a bank vector file failing its checksum is re-encoded from the stored
    texts (`progress("reencode", ...)`), a damaged index.sqlite is moved aside and the workspace opened
    on a fresh one keeping the Titans episodes and suppressions still readable (the sync rebuilds the rest)."""
    db = Workspace(path).state_dir / DB_NAME
    notices: list[str] = []
    for attempt in range(2):
        seen = recovery.file_identity(db)
        closers: list[Callable[[], None]] = []
        try:
            runtime = _build_runtime(path, checkpoint=checkpoint, completion=completion, indexer=indexer,
                                     on_model_change=on_model_change, progress=progress, closers=closers,
                                     notices=notices)
        except Exception as exc:
            _close_all(closers)
            damage = recovery.damage_in(exc, db)
            if damage is None:
                raise
            if attempt:                           # still damaged after recovering: the one message
                if damage is exc:
                    raise
                raise damage from exc
            message = recovery.recover_database(db, workspace_lock(Workspace(path)), damage, seen)
            if message is not None:
                notices.append(message)
            continue
        runtime.notices, runtime.db_identity = notices, seen
        return runtime
    raise AssertionError("unreachable")


def recover_after(runtime: Runtime, exc: BaseException) -> str | None:
    """`exc` escaped a sync of `runtime` (damage the opening did not touch): when it is damage of
    index.sqlite, close the runtime, recover the database and return the warning given; the caller
    opens the workspace again. None when `exc` is something else."""
    db = runtime.workspace.state_dir / DB_NAME
    damage = recovery.damage_in(exc, db)
    if damage is None:
        return None
    runtime.close()
    message = recovery.recover_database(db, workspace_lock(runtime.workspace), damage, runtime.db_identity)
    return message or f"{db} was recovered by another process"


def _close_all(closers: list[Callable[[], None]]) -> None:
    """Close what a failed `_build_runtime` had opened, quietly: the failure is what gets reported."""
    for close in reversed(closers):
        try:
            close()
        except Exception:  # the opening error is the one that matters
            log.debug("while closing after a failed open", exc_info=True)


def _build_runtime(path: str | os.PathLike[str], *, checkpoint: str | os.PathLike[str] | None,
                   completion: dict[str, Any] | None, indexer: dict[str, Any] | None, on_model_change: str,
                   progress: Callable[[str, int, int], None] | None, closers: list[Callable[[], None]],
                   notices: list[str]) -> Runtime:
    """build_runtime's one attempt; what it opens goes to `closers` as soon as it is open."""
    workspace = Workspace(path)
    indexer_config = workspace.section("indexer", IndexerConfig, indexer)
    completion_config = workspace.section("completion", CompletionConfig, completion)
    bank_config = workspace.section("bank", BankConfig)
    torch.set_num_threads(completion_config.num_threads)
    # (denormals are flushed inside the inference threads only: Completer.analyse, LatentEncoder)
    ckpt, digest = load_model(checkpoint, completion_config.quantized)
    # what the workspace (or a flag) does not set, the training run's settings do (`CompletionConfig.over`)
    completion_config = completion_config.over(ckpt.serving)
    state = workspace.ensure_state_dir()
    idx = Indexer(workspace, indexer_config)
    closers.append(idx.close)
    encoder = LatentEncoder(ckpt.model, ckpt.tokenizer, digest, completion_config.num_threads)
    db = state / DB_NAME
    bank = recovery.open_bank(state / BANK_DIR, encoder.dim, bank_config, db_path=db, lock=idx.lock,
                              model_digest=digest, encode=encoder.encode_entries, notices=notices,
                              progress=(lambda done, total: progress("reencode", done, total)) if progress else None)
    closers.append(bank.close)
    ckpt.model.predictor.attach_memory_bank(bank)  # `model.predictor.memory_bank` is the workspace's
    closers.insert(0, lambda: ckpt.model.predictor.attach_memory_bank(None))
    if bank.model_digest not in (None, digest) and len(bank) and on_model_change == "reencode":
        log.warning("the bank was encoded by another model (%s); re-encoding %d entries with %s",
                    bank.model_digest, len(bank), digest)
        bank.reencode(encoder.encode_entries, digest,
                      (lambda done, total: progress("reencode", done, total)) if progress else None)
    # the memory's keys are the model's latents, int8 or fp32 alike: only another model invalidates them
    titans = (TitansStore(db, state, ckpt.model, ckpt.digest, adopt=on_model_change == "reencode")
              if ckpt.model.titans is not None else None)
    if titans is not None:
        closers.append(titans.close)
        closers.insert(0, lambda: titans.save())
    with idx.lock():
        suppressions.migrate(db)
    lines = LineStore(completion_config.context_lines)
    hook = SyncHooks(BankHook(bank, encoder), TitansHook(titans, bank) if titans is not None else None,
                     LinesHook(lines))
    hops = HopRetriever(idx.graph, bank)
    off = tuple(g for g, on in (("hoprag", completion_config.use_hoprag), ("decoding", completion_config.use_decoding),
                                ("titans", completion_config.use_titans or ckpt.model.titans is None)) if not on)
    ranker = load_ranker(workspace, ckpt, off)
    completer = Completer(ckpt.model, ckpt.tokenizer, encoder, bank, lines, hops, ranker, completion_config,
                          titans, imports_of=lambda p: idx.graph().imports_of(p),
                          specifier_resolves=lambda p, spec: idx.graph().specifier_resolves(p, spec))
    name = ckpt.path.name if ckpt.path else "model"
    parts = Parts(idx, bank, encoder, completer, hook, lines, titans)
    assistant = Assistant(workspace, parts, name)
    assistant.refresh()  # fills the line store from the catalog (what the last session indexed)
    return Runtime(workspace, assistant, parts, ckpt, indexer_config, completion_config, closers=closers)


def _initial_sync(runtime: Runtime, progress: Callable[[str, int, int], None] | None,
                  background: bool = False) -> SyncReport | None:
    """Index everything that changed, committing in batches of files."""
    assistant = runtime.assistant
    report = None
    try:
        report = assistant.sync(progress=(lambda done, total: progress("index", done, total)) if progress else None,
                                batch_files=INITIAL_BATCH_FILES, stop=runtime.stopping)
    except BankModelMismatch:
        raise
    except Exception as exc:  # background thread: a failure is logged and the workspace stays usable
        damage = recovery.damage_in(exc, runtime.workspace.state_dir / DB_NAME)
        if not background:
            raise                                 # the caller reports it (or recovers: recover_after)
        if damage is not None:                    # the next start recovers it
            log.error("indexing %s failed: %s", runtime.workspace.root, damage)
        else:
            log.exception("indexing %s failed", runtime.workspace.root)
    finally:
        runtime.ready.set()
    if report is not None and runtime.completion_config.adapt and not runtime.stopping.is_set():
        thread = threading.Thread(target=_adapt, args=(runtime,), name="shutka-adapt", daemon=True)
        runtime.background.append(thread)
        thread.start()
    return report


def _adapt(runtime: Runtime) -> None:
    from assistant.adaptation import adapt_workspace

    try:
        adapt_workspace(runtime.parts.indexer.catalog, runtime.parts.completer, runtime.workspace.state_dir,
                        runtime.completion_config.adapt_seconds, runtime.stopping)
    except Exception:  # background: the shipped ranker stays in use
        log.exception("workspace adaptation failed")


def check_database(path: str | os.PathLike[str]) -> str | None:
    """Check the whole of the workspace's index.sqlite (`recovery.check_database`) and recover it when
    damaged. -> the one warning given, if any."""
    workspace = Workspace(path)
    return recovery.check_database(workspace.state_dir / DB_NAME, workspace_lock(workspace))


def rebuild_bank(path: str | os.PathLike[str], checkpoint: str | os.PathLike[str] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> int:
    """Re-encode every bank entry from its stored text into a fresh generation without opening the
    current one: repairs a bank whose vector file is damaged or missing. -> entries."""
    workspace = Workspace(path)
    completion_config = workspace.section("completion", CompletionConfig)
    bank_config = workspace.section("bank", BankConfig)
    ckpt, digest = load_model(checkpoint, completion_config.quantized)
    encoder = LatentEncoder(ckpt.model, ckpt.tokenizer, digest, completion_config.num_threads)
    state = workspace.ensure_state_dir()
    db = state / DB_NAME
    seen = recovery.file_identity(db)
    try:
        bank = MemoryBank.rebuild(state / BANK_DIR, encoder.dim, encoder.encode_entries, digest, bank_config,
                                  db_path=db, lock=workspace_lock(workspace), progress=progress)
    except DatabaseDamaged as exc:  # no texts to re-encode: a fresh database, the sync re-encodes the disk
        recovery.recover_database(db, workspace_lock(workspace), exc, seen)
        return 0
    try:
        return len(bank)
    finally:
        bank.close()
