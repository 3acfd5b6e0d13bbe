"""Run the engine on line-completion tasks under the bench's visibility rule, package by package.

For each package the real runtime indexes the package folder (catalog + bank). A task's request
carries only its file's text before the target line (plus the typed part), never the target line or
the suffix (unless fill-in-the-middle is asked for, which is reported apart); the engine takes the
current file from the request and ignores its indexed copy, and HopRAG skips the current file's
definitions. Other files of the package are fully visible, as for the baselines.

With `saved_as_visible` the rest of the runtime sees the rule too: the package is evaluated on a
temporary copy (index included), where the task's file is saved as it stands at the task's line and
synced before its tasks, so the code graph (imports, definitions), the bank and the catalog hold
only the lines before the line as well, as if the user had just saved the file there.

Optional, both within the rule: workspace adaptation (the ranker fine-tuned on tasks made from the
package's *non-task* files) and online learning (after each task the Titans memory is written with
the line the user really typed; tasks run file by file, in line order).
"""

from __future__ import annotations

import logging
import shutil
import stat
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields
from itertools import groupby
from operator import attrgetter
from pathlib import Path
from typing import Any

from assistant.adaptation import adapt_ranker, ranking_example, request_for
from assistant.engine.candidates import normalize, query_window, split_file
from assistant.engine.gate import gate_at
from assistant.engine.pipeline import Analysis, Switches
from assistant.engine.ranker import Ranker, RankingExample, variant_path
from assistant.runtime import Runtime, open_runtime
from indexer.errors import ShutkaError
from training.completion_eval.baselines import predict_a, predict_b
from training.completion_eval.calibration import Reliability, reliability
from training.completion_eval.scoring import Score, percentile, score
from training.completion_eval.tasks import Task

log = logging.getLogger(__name__)
chunking_log = logging.getLogger("indexer.chunking")

ES_GOOD = 0.8
"""A shown completion counts as useful when exact or at least this edit-similar (gate precision)."""


@dataclass(frozen=True, slots=True)
class EvalSettings:
    switches: Switches = field(default_factory=Switches)
    use_gate: bool = True
    fill_in_middle: bool = False
    quantized: bool = True
    online_titans: bool = False
    adapt: bool = False
    adapt_files: int = 40
    adapt_lines: int = 5
    compare_baselines: bool = False
    threshold: float | None = None
    block_skipping: bool = True
    ranker: Ranker | None = None
    """Use this ranker instead of the runtime's (ablation variants)."""
    every_signal: bool = False
    """Compute every signal group whatever the `[completion]` defaults (ranker training: its ablation
    variants are fitted by zeroing a group, so the examples must hold them all)."""
    saved_as_visible: bool = False
    """Run on a temporary copy of the package where each task's file is saved (and synced) as it stands
    at the task's line: the index (code graph, bank, catalog) then holds no line at or below it either,
    not only the editor buffer (`file_as_visible`). Slower: two syncs per task line."""


@dataclass(slots=True)
class TaskResult:
    id: str
    package: str
    prediction: str
    confidence: float
    shown: bool
    score: Score
    latency_ms: float
    oracle: bool
    n_options: int
    baselines: dict[str, Score] = field(default_factory=dict)

    @property
    def useful(self) -> bool:
        return self.score.em == 1.0 or self.score.es >= ES_GOOD


# -- ablations ----------------------------------------------------------------------------------------------



def within(engine: Switches, asked: Switches) -> Switches:
    """The switches an evaluation runs: an ablation turns off what the engine has on (its workspace's
    `[completion]` settings), never the reverse."""
    return Switches(**{f.name: getattr(engine, f.name) and getattr(asked, f.name) for f in fields(engine)})


def ablation_switches(no_hoprag: bool = False, no_titans: bool = False, no_decoding: bool = False,
                      no_latent: bool = False, no_generation: bool = False, no_edit: bool = False) -> Switches:
    """The `--no-…` flags of `shutka eval` and `shutka eval replay` as engine switches (no decoding: no
    generation either)."""
    return Switches(hoprag=not no_hoprag, titans=not no_titans, decoding=not no_decoding, latent=not no_latent,
                    generation=not (no_generation or no_decoding), edit=not no_edit)


def product_switches() -> Switches:
    """What the engine computes with the default `[completion]` settings (the benchmark's packages have no
    shutka.toml of their own)."""
    from assistant.config import CompletionConfig

    return Switches.of(CompletionConfig())


def with_variant_ranker(settings: EvalSettings, checkpoint: Path | None) -> tuple[EvalSettings, str | None]:
    """When the evaluation turns groups off, the ranker trained without every group then off (the asked ones
    and those the defaults leave off; with `every_signal`, the asked ones only), when one was shipped, else
    the main ranker with those features zeroed. -> (settings, a line saying which). Nothing asked off: the
    runtime's own ranker, which it chose for its settings."""
    from dataclasses import replace

    from assistant.checkpoints import resolve_checkpoint

    if not settings.switches.off():
        return settings, None
    off = (settings.switches if settings.every_signal else within(product_switches(), settings.switches)).off()
    resolved = resolve_checkpoint(checkpoint)
    path = variant_path(resolved.with_name(resolved.stem + ".ranker.safetensors"), off)
    if path.is_file():
        return replace(settings, ranker=Ranker.load(path)), f"ablation ranker: {path.name}"
    return settings, f"no ranker trained without {' and '.join(off)}: the main ranker runs with those features zeroed"


@contextmanager
def open_package(package_dir: Path, checkpoint: Path | None, settings: EvalSettings) -> Iterator[Runtime]:
    """The package's runtime, indexed (sync on open); with `saved_as_visible`, on a temporary copy of
    the package, removed afterwards, since its files are rewritten while the tasks run."""
    overrides: dict[str, Any] = {"quantized": settings.quantized, "fill_in_middle": settings.fill_in_middle,
                                 "adapt": False, "block_skipping": settings.block_skipping}
    if settings.every_signal:
        overrides.update(use_decoding=True, use_hoprag=True, use_titans=True)
    if settings.threshold is not None:
        overrides["miras_confidence_threshold"] = settings.threshold
    with ExitStack() as stack:
        if settings.saved_as_visible:
            package_dir = stack.enter_context(package_copy(package_dir))
        yield stack.enter_context(open_runtime(package_dir, checkpoint=checkpoint, sync=True, completion=overrides))


COPY_MARK = "eval-copy"
"""A file in the `.shutka` folder of a package copy: the only place `SavedAsVisible` writes files."""
COPY_TRIES = 20


@contextmanager
def package_copy(package_dir: Path) -> Iterator[Path]:
    """A temporary copy of the package folder, its `.shutka` index included (so opening it syncs
    nothing), removed on exit. The original is only read. Another process may be writing its index
    meanwhile (an eval opened on it): the copy is taken again until no file of `.shutka` changed size
    or mtime while it was made, so the copied database and bank are one committed state (SQLite's
    shared-memory file is left out: the copy rebuilds it from the write-ahead log)."""
    state = package_dir / ".shutka"
    with tempfile.TemporaryDirectory(prefix="shutka-eval-") as tmp:
        copy = Path(tmp) / package_dir.name
        for _ in range(COPY_TRIES):
            before = _stamps(state)
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(package_dir, copy, symlinks=True, ignore=shutil.ignore_patterns("*.sqlite-shm"))
            if _stamps(state) == before:
                break
            time.sleep(0.2)
        else:
            raise ShutkaError(f"{state} kept changing while it was copied ({COPY_TRIES} tries): another "
                              "process is writing it; run the evaluation when it is done")
        (copy / ".shutka").mkdir(exist_ok=True)
        (copy / ".shutka" / COPY_MARK).write_text(str(package_dir), encoding="utf-8")
        yield copy


def _stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under `folder`."""
    out: dict[str, tuple[int, int]] = {}
    if not folder.is_dir():
        return out
    for p in folder.rglob("*"):
        try:
            st = p.stat()
        except FileNotFoundError:  # removed meanwhile (a WAL checkpointed away): seen as a change
            continue
        if stat.S_ISREG(st.st_mode):
            out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


class SavedAsVisible:
    """The task files of a package copy saved as their tasks see them (see `EvalSettings.saved_as_visible`).

    `at(task)` writes the task's file with only its lines before the task's line and syncs it; the whole
    file is written back (and synced) when a task of another file comes, and on `restore`, so the tasks
    of other files see it whole, as the rule says (tasks in file order: one restore per file). The
    Titans learner is off during these syncs: a sync writes a changed file's new lines to the memory,
    which here would be the lines between two task lines (or, on restoring, below the last), learned
    whether or not the evaluation is `online`. `syncs` / `sync_s` count the syncs and their time."""

    def __init__(self, runtime: Runtime) -> None:
        root = runtime.assistant.workspace.root
        if not (root / ".shutka" / COPY_MARK).is_file():
            raise ValueError(f"{root} is no evaluation copy (`package_copy`): its files are not rewritten")
        self.runtime, self.root = runtime, root
        self._file: str | None = None
        self._whole = b""
        self.syncs, self.sync_s = 0, 0.0

    def at(self, task: Task) -> None:
        if task.file != self._file:
            self.restore()
            self._file, self._whole = task.file, (self.root / task.file).read_bytes()
        self._save(task.file, task.prefix.encode("utf-8"))

    def restore(self) -> None:
        """The current file whole again (nothing when none is cut)."""
        if self._file is not None:
            self._save(self._file, self._whole)
            self._file, self._whole = None, b""

    def _save(self, file: str, data: bytes) -> None:
        (self.root / file).write_bytes(data)
        titans = self.runtime.parts.hooks.titans
        learner = titans.learner if titans is not None else None
        if titans is not None:
            titans.learner = None
        quiet = _SyntaxWarnings(file)
        chunking_log.addFilter(quiet)
        t0 = time.perf_counter()
        try:
            self.runtime.assistant.sync([file])
        finally:
            chunking_log.removeFilter(quiet)
            if titans is not None:
                titans.learner = learner
        self.sync_s += time.perf_counter() - t0
        self.syncs += 1


class _SyntaxWarnings(logging.Filter):
    """Drops the chunker's syntax-error warnings of one file while `SavedAsVisible` syncs it: a file cut
    at a task's line mostly ends inside a block and parses with an error (recovered), and the whole
    file's own were logged when the package was indexed; one per sync buried the progress bar."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.prefix = f"{file}: syntax errors"

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


@contextmanager
def saved_as_visible(runtime: Runtime, on: bool) -> Iterator[SavedAsVisible | None]:
    """`SavedAsVisible` on the runtime when `on` (None when not), its last file restored on exit."""
    if not on:
        yield None
        return
    saved = SavedAsVisible(runtime)
    try:
        yield saved
    finally:
        saved.restore()
        log.info("task files saved as visible: %d syncs in %.1f s (%.0f ms each)", saved.syncs, saved.sync_s,
                 1000 * saved.sync_s / max(1, saved.syncs))


@contextmanager
def file_as_visible(runtime: Runtime, task: Task) -> Iterator[None]:
    """The task's file as the bench lets the engine see it, the way an editor shows it to the language
    server: an open buffer holding its lines before the task's line (didOpen), closed afterwards. The
    line store otherwise held the indexed copy whole, and though no candidate is ever taken from it,
    the names written only further down were known (a partial name then looked like the start of one,
    and renaming edits were held back) and counted in BM25's document frequencies; `lsp.bench` never
    had them."""
    runtime.assistant.open_document(task.file, task.prefix)
    try:
        yield
    finally:
        runtime.assistant.close_document(task.file)


def run_package(runtime: Runtime, tasks: list[Task], settings: EvalSettings,
                progress: Callable[[int], None] | None = None,
                examples: list[RankingExample] | None = None) -> list[TaskResult]:
    """Evaluate `tasks` (one package) on an open runtime; `examples` collects ranking examples."""
    completer = runtime.parts.completer
    saved_ranker = completer.ranker
    if settings.ranker is not None:
        completer.ranker = settings.ranker
    if completer.titans is not None:
        completer.titans.reset()
    try:
        if settings.adapt:
            completer.ranker = adapt_for_package(runtime, tasks, settings, completer.ranker)
        threshold = completer.config.miras_confidence_threshold
        results = []
        switches = within(completer.switches, settings.switches)
        line_of = attrgetter("file", "line_no")
        with saved_as_visible(runtime, settings.saved_as_visible) as saved:
            for _, tasks_on_line in groupby(sorted(tasks, key=line_of), key=line_of):
                on_line = list(tasks_on_line)
                if saved is not None:
                    saved.at(on_line[0])
                with file_as_visible(runtime, on_line[0]):  # the tasks on one line see the same lines above it
                    for task in on_line:
                        result, analysis = _evaluate(runtime, task, settings, switches, threshold)
                        if examples is not None:
                            examples.append(ranking_example(analysis, task.target))
                        results.append(result)
                        if progress:
                            progress(1)
                # a line is written into the memory once, after every task on it (keystroke variants share it)
                if settings.online_titans and switches.titans and completer.titans is not None:
                    first = on_line[0]
                    completer.learn(request_for(first, settings.fill_in_middle), first.cursor_prefix + first.target)
        return results
    finally:
        completer.ranker = saved_ranker
        if completer.titans is not None:
            completer.titans.reset()


def _evaluate(runtime: Runtime, task: Task, settings: EvalSettings, switches: Switches, threshold: float
              ) -> tuple[TaskResult, Analysis]:
    """One task: the engine's analysis at its cursor, scored (and the baselines', when asked)."""
    t0 = time.perf_counter()
    analysis = runtime.parts.completer.analyse(request_for(task, settings.fill_in_middle), switches)
    latency = (time.perf_counter() - t0) * 1000
    best = analysis.best()
    prediction = best.text if best is not None else ""
    confidence = float(analysis.probabilities.max()) if best is not None else 0.0
    gold = normalize(task.target)
    bar = gate_at(task.cursor_prefix, threshold, analysis.ctx.opened)[0]
    shown = best is not None and (not settings.use_gate or confidence >= bar)
    result = TaskResult(task.id, task.package, prediction, confidence, shown, score(prediction, task.target),
                        latency, any(o.key == gold for o in analysis.options), len(analysis.options))
    if settings.compare_baselines:
        result.baselines = baseline_scores(runtime, task)
    return result, analysis


def baseline_scores(runtime: Runtime, task: Task) -> dict[str, Score]:
    """Baselines A and B on the runtime's own line store, same visibility."""
    lines = runtime.parts.lines
    current = split_file(task.file, task.prefix + task.cursor_prefix, stop_line=task.line)
    level, cands = lines.candidates(current, task.line, task.cursor_prefix)
    if level is not None and level > 3:  # partial-identifier matches are ours, not the bench's
        cands = []
    lines.score_bm25(cands, query_window(current, task.line), task.file)
    return {"A": score(predict_a(cands), task.target), "B": score(predict_b(cands), task.target)}


def adapt_for_package(runtime: Runtime, tasks: list[Task], settings: EvalSettings, base: Ranker) -> Ranker:
    """Workspace adaptation within the visibility rule: only files that no task targets are used."""
    excluded = {t.file for t in tasks}
    catalog = runtime.parts.indexer.catalog
    files = ((p, catalog.file_text(p) or "") for p, s in sorted(catalog.file_states().items())
             if p not in excluded and s.section == "workspace")
    ranker, report = adapt_ranker(runtime.parts.completer, files, base, budget_s=600.0,
                                  files_per_workspace=settings.adapt_files, lines_per_file=settings.adapt_lines,
                                  switches=settings.switches, fill_in_middle=settings.fill_in_middle)
    log.info("%s: adapted on %d tasks, held-out top-1 %.1f -> %.1f", tasks[0].package if tasks else "?",
             report.tasks, report.top1_before, report.top1_after)
    return ranker


# -- reports ----------------------------------------------------------------------------------------------


def summarize(results: Iterable[TaskResult]) -> dict[str, Any]:
    rs = list(results)
    if not rs:
        return {"n": 0}
    shown = [r for r in rs if r.shown]
    out: dict[str, Any] = {
        "n": len(rs),
        "em": 100 * statistics.fmean(r.score.em for r in rs),
        "es": 100 * statistics.fmean(r.score.es for r in rs),
        "idf1": 100 * statistics.fmean(r.score.idf1 for r in rs),
        "oracle": 100 * statistics.fmean(float(r.oracle) for r in rs),
        "coverage": 100 * len(shown) / len(rs),
        "precision": 100 * statistics.fmean(float(r.useful) for r in shown) if shown else float("nan"),
        "shown_em": 100 * statistics.fmean(r.score.em for r in shown) if shown else float("nan"),
        "p50_ms": percentile([r.latency_ms for r in rs], 0.5),
        "p95_ms": percentile([r.latency_ms for r in rs], 0.95),
    }
    for name in ("A", "B"):
        scored = [r.baselines[name] for r in rs if name in r.baselines]
        if scored:
            out[f"{name}_em"] = 100 * statistics.fmean(s.em for s in scored)
            out[f"{name}_es"] = 100 * statistics.fmean(s.es for s in scored)
            out[f"{name}_idf1"] = 100 * statistics.fmean(s.idf1 for s in scored)
    return out


def calibration(results: Iterable[TaskResult], shown_only: bool = False) -> Reliability:
    """Reliability of the top candidate's confidence against its exact match, over the tasks that have a
    candidate (all of them, gate or not; or only those the gate showed)."""
    return reliability((r.confidence, r.score.em == 1.0) for r in results
                       if r.n_options and (r.shown or not shown_only))


def by_package(results: list[Any], summary: Callable[[list[Any]], dict[str, Any]] | None = None
               ) -> dict[str, dict[str, Any]]:
    """`summary` (default: this module's `summarize`) of each package's results, and of all as OVERALL."""
    summary = summary or summarize
    groups: dict[str, list[Any]] = defaultdict(list)
    for r in results:
        groups[r.package].append(r)
    table = {pkg: summary(rs) for pkg, rs in sorted(groups.items())}
    table["OVERALL"] = summary(results)
    return table


def format_table(table: dict[str, dict[str, Any]], baselines: bool) -> str:
    cols = [("n", "{:>5.0f}"), ("em", "{:>6.1f}"), ("es", "{:>6.1f}"), ("idf1", "{:>6.1f}"), ("oracle", "{:>7.1f}"),
            ("coverage", "{:>6.1f}"), ("precision", "{:>6.1f}"), ("p50_ms", "{:>7.1f}"), ("p95_ms", "{:>7.1f}")]
    if baselines:
        cols += [("A_em", "{:>6.1f}"), ("A_es", "{:>6.1f}"), ("B_em", "{:>6.1f}"), ("B_es", "{:>6.1f}")]
    heads = {"coverage": "cover", "precision": "prec", "oracle": "oracle", "p50_ms": "p50ms", "p95_ms": "p95ms"}
    header = f"{'package':24s}" + "".join(f"{heads.get(c, c.upper()):>{7 if c in ('oracle', 'p50_ms', 'p95_ms') else 6 if c != 'n' else 5}s}"
                                           for c, _ in cols)
    lines = [header, "-" * len(header)]
    for pkg, row in table.items():
        if pkg == "OVERALL":
            lines.append("-" * len(header))
        cells = "".join(fmt.format(row.get(c, float("nan"))) for c, fmt in cols)
        lines.append(f"{pkg[:24]:24s}{cells}")
    return "\n".join(lines)
