"""The completion pipeline: a cursor -> zero or more completions, each with its source and confidence.
`Completer.analyse` runs the stages below as one small method each (`_context`, `_candidates`,
`_add_edit_options`, `_model_pass`, `_rank`):

    context      the lines before the cursor, what is typed, the BM25 query (assistant.engine.context)
    candidates   visible lines continuing the typed text, grouped into options (assistant.engine.candidates)
    edits        copy-and-edit twins of the best options (assistant.engine.edits)
    model        one pass over the context (EAU may skip blocks); JEPA prediction from the cursor
                 state with HopRAG latents and the Titans read-out as memory slots
    retrieval    the predicted latent searched in the bank: more options; every option's latent
    decoding     the token head scores the best options in one batched pass; a short greedy
                 continuation joins as a 'generated' option (assistant.engine.option_scoring)
    ranking      features -> learned ranker -> calibrated probability (assistant.engine.ranker)
    gate         shown only above `miras_confidence_threshold`: silence beats a wrong line

The engine reads the memory (bank, Titans episodes) through assistant.memory's APIs and writes back
through them only (Titans learning, recall counts). Copy first, generate rarely (DESIGN §2).
`analyse` exposes every step for `explain`, evaluation and ranker training; `complete` is the
bounded, fast path the surfaces call.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from assistant.config import CompletionConfig
from assistant.engine.candidates import (
    TRAILING_NAME_RE,
    Candidate,
    LineStore,
    StoredLine,
    identifiers,
    is_name,
    normalize,
)
from assistant.engine.context import ContextBuilder, CursorContext
from assistant.engine.edits import (
    analogy_renames,
    edit_candidate,
    file_analogy,
    made_names,
    name_parts,
    new_module_specifiers,
    shape_edit,
)
from assistant.engine.features import (
    GROUPS,
    Option,
    ablate,
    group_options,
    lexical_features,
    model_features,
    task_features,
    word_features,
)
from assistant.engine.gate import gate_at, sure_prefix
from assistant.engine.hoprag import HopResult, HopRetriever
from assistant.engine.line_latents import LineLatents
from assistant.engine.multiline import finish
from assistant.engine.option_scoring import CURSOR_TOKENS, OptionDecoder
from assistant.engine.ranker import Ranker
from assistant.memory.bank import MemoryBank
from assistant.memory.entry_encoding import LatentEncoder
from assistant.memory.sync_hooks import LINE_HASH_PREFIX
from assistant.memory.titans import TitansStore
from assistant.model.decoder import ContextState
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer
from assistant.types import Completion, CompletionRequest, CompletionResult, Explanation, ScoredCandidate
from indexer.secrets import has_mask

log = logging.getLogger(__name__)

CONTEXT_CHARS = 6000
"""Characters of the prefix tokenized per request (then cut to the model's window)."""
NEAR_LINES = 3
"""Lines above the cursor whose identifiers seed HopRAG."""
BANK_HITS = 24
EDIT_TOP = 6
"""Options (by context match) that may get a copy-and-edit twin."""
SHAPE_TOP = 4
"""Lines of the typed text's shape (by context match) made into renamed options."""
RECALL_EPISODES = 16
"""Titans episodes (nearest past contexts) whose typed lines are matched against the options."""
CONTEXT_STATES = 4
"""Model states of the text above a cursor line kept (LRU): the next keystrokes on that line reuse its
state and run only the typed part. Each holds a KV cache of the window, a few MB."""


@dataclass(frozen=True, slots=True)
class Switches:
    """Ablations (evaluation flags); all on is the product."""

    hoprag: bool = True
    titans: bool = True
    decoding: bool = True
    latent: bool = True
    generation: bool = True
    edit: bool = True

    @classmethod
    def of(cls, config: CompletionConfig, has_titans: bool = True) -> Switches:
        """What `[completion]` turns on (Titans only with a model that has the memory)."""
        return cls(hoprag=config.use_hoprag, titans=config.use_titans and has_titans, decoding=config.use_decoding)

    def off(self) -> tuple[str, ...]:
        """The signal groups (features.GROUPS) turned off: the ranker reads their features as zeros."""
        return tuple(g for g in GROUPS if not getattr(self, g))


@dataclass(slots=True)
class _ModelRun:
    """What the model pass leaves for ranking and for `Analysis`."""

    hop: HopResult = field(default_factory=HopResult)
    complexity: float | None = None
    skipped: bool = False
    key: np.ndarray | None = None


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to `n` for the block, restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(slots=True)
class Analysis:
    """Everything one request went through."""

    ctx: CursorContext
    options: list[Option]
    task: np.ndarray
    probabilities: np.ndarray
    p_none: float
    hop: HopResult
    complexity: float | None = None
    skipped: bool = False
    key: np.ndarray | None = None
    """The memory-free predicted latent (the Titans key for this context)."""
    timings: dict[str, float] = field(default_factory=dict)

    def best(self) -> Option | None:
        if not self.options:
            return None
        return self.options[int(np.argmax(self.probabilities))]


class EditRules:
    """What a copy-and-edit may write at one cursor (`sound`); built once per request, so the facts it needs
    (the fragment being typed, the names typed on the line, the word parts of visible names) are computed
    once for all the edits judged, not once per edit."""

    def __init__(self, ctx: CursorContext, lines: LineStore,
                 specifier_resolves: Callable[[str, str], bool]) -> None:
        self.ctx, self.lines, self.specifier_resolves = ctx, lines, specifier_resolves

    def sound(self, source: str, edited: str) -> bool:
        """Whether the line an edit makes (typed text + `edited`) differs from its `source` line only by
        whole names and by import paths that resolve.

        A name it writes must be visible above the cursor, typed on the line, written in another file, or
        made of word parts of those names and of the source's (`IntervalProvider` with `ClearTimeoutFunction`
        above -> `TimeoutProvider`). The word the cursor is in, when it is no known name but a longer one
        starts with it (`f` of `import { f`), is a fragment, never a name: neither written as one nor a
        source of parts."""
        ctx = self.ctx
        line = ctx.cursor_prefix + edited
        source_parts: set[str] | None = None
        for name in made_names(source, line):
            if name == self.fragment:
                return False
            if name in ctx.scope or name in self.typed or self.lines.written_elsewhere(name, ctx.path):
                continue
            if source_parts is None:
                source_parts = {p for n in identifiers(source) for p in name_parts(n)}
            if not all(p in self.visible_parts or p in source_parts for p in name_parts(name)):
                return False
        return all(self.specifier_resolves(ctx.path, spec) for spec in new_module_specifiers(source, line))

    @cached_property
    def fragment(self) -> str | None:
        """The identifier the cursor is inside of, when it looks unfinished: no name of that spelling is
        visible here or written in another file, but a longer one starts with it."""
        ctx = self.ctx
        m = TRAILING_NAME_RE.search(ctx.cursor_prefix)
        if m is None or not is_name(m.group()):
            return None
        word = m.group()
        if word in ctx.scope or self.lines.written_elsewhere(word, ctx.path):
            return None
        if self.lines.extends(word) or any(n != word and n.startswith(word) for n in ctx.scope):
            return word
        return None

    @cached_property
    def typed(self) -> set[str]:
        """The whole names typed on the cursor's line (the fragment is none)."""
        return set(identifiers(self.ctx.cursor_prefix)) - {self.fragment}

    @cached_property
    def visible_parts(self) -> set[str]:
        """Word parts of the names visible above the cursor and typed on its line."""
        return {p for n in (*self.ctx.scope, *self.typed) for p in name_parts(n)}


class Completer:
    """One workspace's engine. Thread-safe: model work is serialised by one lock."""

    def __init__(self, model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, encoder: LatentEncoder,
                 bank: MemoryBank, lines: LineStore, hops: HopRetriever, ranker: Ranker,
                 config: CompletionConfig, titans: TitansStore | None = None,
                 imports_of: Callable[[str], list[str]] | None = None,
                 specifier_resolves: Callable[[str, str], bool] | None = None) -> None:
        self.model, self.tokenizer, self.encoder = model, tokenizer, encoder
        self.bank, self.lines, self.hops, self.ranker = bank, lines, hops, ranker
        self.config, self.titans = config, titans
        self.imports_of = imports_of or (lambda path: [])
        self.specifier_resolves = specifier_resolves or (lambda path, spec: False)
        self.contexts = ContextBuilder(lines.window)  # query window = stored lines' ([completion] context_lines)
        self.decoder = OptionDecoder(model, tokenizer, config)
        self.latents = LineLatents(bank, encoder)
        self.switches = Switches.of(config, has_titans=model.titans is not None)
        self._model_lock = threading.RLock()
        self._window = min(config.context_tokens, model.config.max_seq_len - CURSOR_TOKENS)
        self._states: OrderedDict[tuple[str, str, bool | None], ContextState] = OrderedDict()
        """(path, hash of the text above the line and of the FIM suffix, skip) -> the model's state after it."""

    # -- public --------------------------------------------------------------------------------------

    def complete(self, request: CompletionRequest) -> CompletionResult:
        t0 = time.perf_counter()
        analysis = self.analyse(request, keep=True)
        threshold, starts = gate_at(analysis.ctx.cursor_prefix, self.config.miras_confidence_threshold,
                                    analysis.ctx.opened)
        gate = request.use_gate and self.config.use_gate
        order = np.argsort(-analysis.probabilities) if analysis.options else []
        items: list[Completion] = []
        hidden = 0
        limit = request.max_items or self.config.max_items
        if gate and starts and len(order) and float(analysis.probabilities[int(order[0])]) < threshold:
            partial = self._sure_prefix(analysis, order, threshold)
            if partial is not None:
                items.append(partial)
        for i in order:
            opt, p = analysis.options[int(i)], float(analysis.probabilities[int(i)])
            shown = p >= threshold
            if not shown:
                hidden += 1
                if gate:
                    continue
            if len(items) < limit:
                text = finish(analysis.ctx, opt, request.multiline, self.lines)
                if has_mask(text):  # a following line held a masked secret: never offered
                    continue
                items.append(Completion(text, round(p, 4), opt.source, opt.kind, shown))  # type: ignore[arg-type]
        latency = (time.perf_counter() - t0) * 1000
        return CompletionResult(tuple(items), uuid.uuid4().hex[:12], latency, hidden, threshold)

    @staticmethod
    def _sure_prefix(analysis: Analysis, order: np.ndarray, threshold: float) -> Completion | None:
        """When no whole line clears the gate: the start of the top one that the options together do
        (assistant.engine.gate), as a suggestion of its own."""
        offered = [analysis.options[int(i)] for i in order if not has_mask(analysis.options[int(i)].text)]
        found = sure_prefix([(o.text.split("\n", 1)[0], o.confidence) for o in offered], threshold)
        if found is None:
            return None
        top = offered[0]
        return Completion(found[0], round(found[1], 4), top.source, top.kind, True)  # type: ignore[arg-type]

    def explain(self, request: CompletionRequest) -> Explanation:
        t0 = time.perf_counter()
        a = self.analyse(request)
        threshold, starts = gate_at(a.ctx.cursor_prefix, self.config.miras_confidence_threshold, a.ctx.opened)
        from assistant.engine.features import FEATURES

        cands = []
        for i in np.argsort(-a.probabilities) if a.options else []:
            o, p = a.options[int(i)], float(a.probabilities[int(i)])
            feats = {name: round(float(v), 4) for name, v in zip(FEATURES, o.features, strict=True) if v}
            cands.append(ScoredCandidate(o.text, o.source, o.kind, feats, round(float(o.score), 4),  # type: ignore[arg-type]
                                         round(p, 4), p >= threshold))
        if not cands:
            decision = "silent: no visible line continues what is typed"
        elif cands[0].shown:
            decision = f"shown: top confidence {cands[0].confidence:.2f} >= threshold {threshold:.2f}"
        elif not starts:
            decision = (f"silent: in a comment or a string a whole line needs {threshold:.2f} (the top "
                        f"{cands[0].confidence:.2f}), and no start of one is offered")
        elif (agreed := sure_prefix([(c.text.split("\n", 1)[0], c.confidence) for c in cands], threshold)):
            decision = (f"shown: {agreed[0]!r}, the start of the top candidates (together {agreed[1]:.2f} >= "
                        f"threshold {threshold:.2f}; the top alone {cands[0].confidence:.2f})")
        else:
            decision = f"silent: top confidence {cands[0].confidence:.2f} < threshold {threshold:.2f}"
        return Explanation(tuple(cands), tuple(a.hop.hops), threshold, decision,
                           (time.perf_counter() - t0) * 1000, a.complexity, a.skipped)

    # -- the pipeline --------------------------------------------------------------------------------

    def analyse(self, request: CompletionRequest, switches: Switches | None = None, *, keep: bool = False
                ) -> Analysis:
        """The pipeline, stage by stage (each timed): context → candidates → edits → model pass → rank.

        Work kept from earlier keystrokes (the model's state of the text above the line, HopRAG results)
        is reused whenever it matches; `keep` (the surfaces' `complete`) also keeps this request's for the
        next keystroke, so that background callers (adaptation, evaluation) do not push it out."""
        sw = switches or self.switches
        torch.set_flush_denormal(True)  # per thread: surfaces call from worker threads (see runtime)
        timings: dict[str, float] = {}
        t = time.perf_counter()
        ctx = self._context(request)
        options = self._candidates(ctx)
        if sw.edit:
            self._add_edit_options(ctx, options, sw)
        timings["lexical"] = _ms(t)
        with self._model_lock, torch.inference_mode(), _torch_threads(self.config.num_threads):
            options, run = self._model_pass(ctx, options, sw, timings, keep)
        t = time.perf_counter()
        options, task, probs, p_none = self._rank(ctx, options, run.hop, sw)
        timings["rank"] = _ms(t)
        return Analysis(ctx, options, task, probs, p_none, run.hop, run.complexity, run.skipped, run.key, timings)

    # -- the stages ----------------------------------------------------------------------------------

    def _context(self, request: CompletionRequest) -> CursorContext:
        """Stage 1: the lines before the cursor, what is typed, the BM25 query."""
        fim = self.config.fill_in_middle if request.fill_in_middle is None else request.fill_in_middle
        return self.contexts.build(request, fim, self.config.max_document_bytes)

    def _candidates(self, ctx: CursorContext) -> list[Option]:
        """Stage 2: visible lines continuing the typed text, scored by BM25, grouped into options."""
        _, cands = self.lines.candidates(ctx.before, ctx.line_no, ctx.cursor_prefix, limit=4000)
        self.lines.score_bm25(cands, ctx.query, ctx.path)
        return group_options(cands, self.config.max_candidates)

    def _add_edit_options(self, ctx: CursorContext, options: list[Option], sw: Switches) -> None:
        """Stage 3: copy-and-edit options (renamed after the line above, a sibling file, the typed name),
        appended to `options` (each kind sees the ones before it)."""
        rules = EditRules(ctx, self.lines, self.specifier_resolves)
        options += self._edits(ctx, options, rules)
        options += self._analogy_edits(ctx, options, rules, graph=sw.hoprag)
        options += self._shape_edits(ctx, options, rules)

    def _model_pass(self, ctx: CursorContext, options: list[Option], sw: Switches,
                    timings: dict[str, float], keep: bool = False) -> tuple[list[Option], _ModelRun]:
        """Stage 4 (under the model lock): one pass over the context, HopRAG, the JEPA prediction and
        its bank search, latent and Titans signals, then the token head's scores and a generation."""
        run = _ModelRun()
        t = time.perf_counter()
        state = self._prefix_state(ctx, None if self.config.block_skipping else False, keep)
        cursor = self.model.extend_context(state, self._cursor_ids(ctx))
        run.complexity, run.skipped = state.complexity, state.skipped
        timings["context"] = _ms(t)
        t = time.perf_counter()
        if sw.hoprag:
            run.hop = self._hop(ctx, keep)
        timings["hoprag"] = _ms(t)
        t = time.perf_counter()
        options = self._latent_signals(ctx, options, cursor.last_hidden, run, sw)
        timings["latent"] = _ms(t)
        t = time.perf_counter()
        if sw.generation and sw.decoding and self.decoder.should_generate(options):
            gen = self.decoder.generate(cursor, ctx, lambda cut: self.model.extend_context(
                state, self._cursor_ids(ctx, cut)))
            if gen is not None and all(o.key != gen.key for o in options):
                options.append(gen)
        if sw.decoding:
            self.decoder.score(state, cursor, ctx, options)
        timings["decoding"] = _ms(t)
        return options, run

    def _hop(self, ctx: CursorContext, keep: bool = False) -> HopResult:
        """HopRAG from the identifiers of the lines nearest the cursor."""
        near = identifiers("\n".join(ctx.prefix_text.rsplit("\n", NEAR_LINES + 1)[1:]) + ctx.cursor_prefix)
        return self.hops.retrieve(ctx.path, list(dict.fromkeys(near)), None, self.config.hoprag_max_hops,
                                  self.model.config.retrieved_latents, keep=keep)

    def _latent_signals(self, ctx: CursorContext, options: list[Option], hidden: torch.Tensor, run: _ModelRun,
                        sw: Switches) -> list[Option]:
        """The JEPA prediction: bank options, every option's latent similarity, the Titans read-out and recall."""
        pred, key_t, readout = self._predict(hidden, run.hop, sw)
        run.key = key_t.numpy()
        options = self._bank_options(pred.numpy(), ctx, options) if sw.latent else options
        self._attach_latents(options, ctx)
        if sw.latent:
            p = pred.numpy()
            for o in options:
                if o.latent is not None:
                    o.features[_LATENT_SIM] = float(o.latent @ p)
        if sw.titans and readout is not None:
            r = readout.numpy()
            for o in options:
                if o.latent is not None:
                    o.titans = float(o.latent @ r)
            self._recall(key_t, ctx, options)
        return options

    def _rank(self, ctx: CursorContext, options: list[Option], hop: HopResult, sw: Switches
              ) -> tuple[list[Option], np.ndarray, np.ndarray, float]:
        """Stage 5: features -> learned ranker -> calibrated probabilities. -> (options, task features,
        probabilities, probability that none is right)."""
        options = [o for o in options if not has_mask(o.text)]  # a masked secret is never offered
        imported = frozenset(self.imports_of(ctx.path)) if sw.hoprag else frozenset()
        lexical_features(options, ctx.path, ctx.line_no, ctx.scope, hop.known, imported, hop.files, identifiers)
        model_features(options)
        word_features(options, ctx.cursor_prefix)
        dropped = sw.off()
        task = task_features(options, ctx.cursor_prefix)
        feats = np.stack([o.features for o in options]) if options else np.zeros((0, len(options)))
        if dropped and len(options):
            feats = ablate(feats, dropped)
        probs, p_none = self.ranker.probabilities(feats, task) if options else (np.zeros(0), 1.0)
        scores, _ = self.ranker.scores(feats, task) if options else (np.zeros(0), 0.0)
        for o, p, s in zip(options, probs, scores, strict=True):
            o.confidence, o.score = float(p), float(s)
        return options, task, probs, p_none

    def _edits(self, ctx: CursorContext, options: list[Option], rules: EditRules) -> list[Option]:
        """Copy-and-edit twins of the best-matching options (identifiers renamed from context)."""
        before = [ln for ln in ctx.before.lines if ln.line_no < ctx.line_no]
        cursor_previous = before[-1].toks if before else None
        known = {o.key for o in options}
        out: list[Option] = []
        for opt in options[:EDIT_TOP]:
            src = opt.best
            edited = edit_candidate(src.line, self._previous_line(src.line, ctx), opt.text, cursor_previous,
                                    ctx.cursor_prefix)
            if edited is None:
                continue
            text, _ = edited
            key = normalize(text)
            if key and key not in known and rules.sound(src.line.text, text):
                known.add(key)
                out.append(Option(text, key, [Candidate(src.line, text, src.level, src.bm25)], kind="copy_edit"))
        return out

    def _analogy_edits(self, ctx: CursorContext, options: list[Option], rules: EditRules,
                       graph: bool) -> list[Option]:
        """Lines of sibling files (names a few words apart) with those words renamed, when every name the
        rename makes is visible here or (HopRAG on) defined in another file of the code graph."""
        known = {o.key for o in options}
        out: list[Option] = []
        for opt in options:
            if opt.kind != "copy":
                continue
            src = opt.best
            analogy = file_analogy(src.line.path, ctx.path)
            if analogy is None:
                continue
            for text, made in analogy_renames(opt.text, analogy, ctx.cursor_prefix):
                key = normalize(text)
                if key in known or not rules.sound(src.line.text, text):
                    continue
                unseen = [n for n in made if n not in ctx.scope]
                if not unseen or (graph and self.hops.defined_elsewhere(unseen, ctx.path)):
                    known.add(key)
                    out.append(Option(text, key, [Candidate(src.line, text, src.level, src.bm25)],
                                      kind="copy_edit", analogy=True))
                    break
        return out

    def _shape_edits(self, ctx: CursorContext, options: list[Option], rules: EditRules) -> list[Option]:
        """Lines that start like the typed text with other names, renamed to the typed names, best
        context match first: where the typed name is new, no line continues it, but its neighbours' do."""
        cands = self.lines.same_shape(ctx.before, ctx.line_no, ctx.cursor_prefix)
        if not cands:
            return []
        self.lines.score_bm25(cands, ctx.query, ctx.path)
        known = {o.key for o in options}
        out: list[Option] = []
        for c in sorted(cands, key=lambda c: -c.bm25):
            text = shape_edit(c.line, c.continuation, ctx.cursor_prefix)
            key = normalize(text) if text is not None else ""
            if not key or key in known or not rules.sound(c.line.text, text):  # type: ignore[arg-type]
                continue
            known.add(key)
            out.append(Option(text, key, [Candidate(c.line, text, c.level, c.bm25)], kind="copy_edit",  # type: ignore[arg-type]
                              shaped=True))
            if len(out) >= SHAPE_TOP:
                break
        return out

    def _previous_line(self, line: StoredLine, ctx: CursorContext) -> StoredLine | None:
        fl = ctx.before if line.path == ctx.path else self.lines.file(line.path)
        if fl is None:
            return None
        found = None
        for ln in fl.lines:
            if ln.line_no >= line.line_no:
                break
            found = ln
        return found

    # -- model steps ---------------------------------------------------------------------------------

    def clear_caches(self) -> None:
        """Forget the work kept for the next keystrokes (context states, HopRAG results)."""
        with self._model_lock:
            self._states.clear()
        self.hops.clear_results()

    def _prefix_state(self, ctx: CursorContext, skip: bool | None, keep: bool = False) -> ContextState:
        """The model run over the text above the cursor line (under the model lock): reused from the
        previous keystroke on the line when that text (and the FIM suffix) is the same — the same tokens
        run the same way, so the state is the one a fresh run would make. An edit above changes the key.
        A new state is kept for the next keystrokes with `keep` only."""
        suffix = ctx.suffix[:2000] if ctx.fill_in_middle else ""
        digest = hashlib.blake2b(f"{ctx.prefix_text}\0{suffix}".encode("utf-8", "replace"), digest_size=16)
        key = (ctx.path, digest.hexdigest(), skip)
        state = self._states.get(key)
        if state is not None:
            self._states.move_to_end(key)
            return state
        state = self.model.run_context(self._prefix_ids(ctx), skip=skip)
        if not keep:
            return state
        self._states[key] = state
        while len(self._states) > CONTEXT_STATES:
            self._states.popitem(last=False)
        return state

    def _context_ids(self, ctx: CursorContext) -> tuple[list[int], list[int]]:
        """Tokens of the text before the cursor line (up to its last newline) and of '\\n' + the
        typed part of the line: candidates are scored as '\\n' + line, as the model saw lines."""
        return self._prefix_ids(ctx), self._cursor_ids(ctx)

    def _prefix_ids(self, ctx: CursorContext) -> list[int]:
        """Tokens of the text before the cursor line (FIM: with the suffix), cut to the window."""
        head = ctx.prefix_text[:-1] if ctx.prefix_text.endswith("\n") else ctx.prefix_text
        head = head[-CONTEXT_CHARS:]
        prefix_ids = self.tokenizer.encode(head)[-self._window :] if head else []
        if ctx.fill_in_middle and ctx.suffix:
            suffix_ids = self.tokenizer.encode(ctx.suffix[:2000])[: self._window // 3]
            prefix_ids = [self.tokenizer.fim_prefix_id, *prefix_ids[-(self._window - len(suffix_ids) - 2):],
                          self.tokenizer.fim_suffix_id, *suffix_ids, self.tokenizer.fim_middle_id]
        return prefix_ids or [self.tokenizer.bos_id]

    def _cursor_ids(self, ctx: CursorContext, cut: int = 0) -> list[int]:
        """Tokens of '\\n' + the typed part of the cursor line (no newline on a first line), without
        its last `cut` characters."""
        head = ctx.prefix_text[:-1] if ctx.prefix_text.endswith("\n") else ctx.prefix_text
        typed = ctx.cursor_prefix[: len(ctx.cursor_prefix) - cut]
        line = ("\n" if head[-CONTEXT_CHARS:] else "") + typed
        return self.tokenizer.encode(line)[-CURSOR_TOKENS // 2 :] if line else []

    def _predict(self, h: torch.Tensor, hop: HopResult, sw: Switches
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        retrieved = None
        if hop.latents is not None and sw.hoprag:
            retrieved = torch.from_numpy(hop.latents).float().unsqueeze(0)  # (1, K, L)
        h1 = h.unsqueeze(0).float()
        if sw.titans and self.model.titans is not None:
            final, key, readout = self.model.predict_with_memory(h1, retrieved)
            return final[0], key[0], None if readout is None else readout[0]
        pred = self.model.predict(h1, retrieved)[0]
        return pred, pred, None

    def _recall(self, key: torch.Tensor, ctx: CursorContext, options: list[Option]) -> None:
        """Lines the user typed in the most similar past contexts (Titans episodes): an option that
        reproduces one carries that context's similarity as `recall`."""
        if self.titans is None or len(self.titans.memory.episodic) == 0:
            return
        episodic = self.titans.memory.episodic
        sims, idx = episodic.nearest(key, k=RECALL_EPISODES, touch=False)
        ids = episodic.source_ids[idx].tolist()
        episodes = self.titans.lines(ids)
        texts = {e: text for e, (text, _) in episodes.items()}
        # a line already written above the cursor is a same-file candidate anyway: recalling it as well
        # counted it twice, and the ranker then repeated the line just written
        written = {normalize(ln.text) for ln in ctx.before.lines if ln.line_no < ctx.line_no}
        recalled: dict[str, float] = {}
        written_in: dict[str, str] = {}
        for episode, sim in zip(ids, sims.tolist(), strict=True):
            line = normalize(texts.get(episode, ""))
            if line and line not in written and sim > recalled.get(line, -1.0):
                recalled[line] = sim
                written_in[line] = episodes[episode][1] or ""
        typed = ctx.cursor_prefix.strip()
        known = {normalize(typed + o.text) for o in options}
        fresh = []
        for line in recalled:  # a typed line no index holds (an unsaved buffer) joins as an option
            if line not in known and line.startswith(normalize(typed)) and line != normalize(typed):
                text = line[len(normalize(typed)) :] if typed else line
                # where it was typed: a line from another file must not pass for a same-file one
                stored = StoredLine(-1, written_in[line], -1, line, [], [], {}, 0)
                fresh.append(Option(text, normalize(text), [Candidate(stored, text, 0, 0.0)]))
        if fresh:
            self._attach_latents(fresh, ctx)
            options += fresh
        used = []
        for o in options:
            sim = recalled.get(normalize(typed + o.text))
            if sim is not None:
                o.recall = max(0.0, sim)
                used.append(o)
        if used:  # a recalled line helped: the episode was accessed (forget() drops the unused first)
            hit = {normalize(typed + o.text) for o in used}
            self.titans.touch([e for e in ids if normalize(texts.get(e, "")) in hit])

    def _bank_options(self, pred: np.ndarray, ctx: CursorContext, options: list[Option]) -> list[Option]:
        """Lines whose latent is closest to the prediction and that agree with what is typed."""
        if len(self.bank) == 0:
            return options
        typed = ctx.cursor_prefix.lstrip()
        hits = self.bank.search(pred, BANK_HITS, kinds="line", section="workspace")[0]
        known = {o.key: o for o in options}
        for hit in hits:
            entry = hit.entry
            if entry.file == ctx.path or not entry.text.startswith(typed):
                continue
            cont = entry.text[len(typed) :]
            key = normalize(cont)
            if not key:
                continue
            if key in known:
                known[key].from_bank = True
                continue
            stored = self._stored_line(entry.file, (entry.start_line or 1) - 1, entry.text)
            opt = Option(cont, key, [Candidate(stored, cont, 0, 0.0)], from_bank=True)
            options.append(opt)
            known[key] = opt
        return options

    def _stored_line(self, path: str | None, line_no: int, text: str) -> StoredLine:
        fl = self.lines.file(path or "")
        if fl is not None:
            for ln in fl.lines:
                if ln.line_no == line_no:
                    return ln
        return StoredLine(-1, path or "", line_no, text, [], [], {}, 0)

    def _attach_latents(self, options: list[Option], ctx: CursorContext) -> None:
        """Each option's latent: a copy's is its best source line's bank vector; an edit's or a generated
        line's is the line it makes (typed text + option), encoded here unless cached.

        A copy matched on a shorter prefix (back-off levels) keeps its source's latent too: the typed text
        glued to its continuation changed at every keystroke and was no line anyone wrote, yet encoding
        those (up to 48 a request) was the p95 tail of the whole engine."""
        typed = ctx.cursor_prefix.lstrip()
        wanted: dict[str, str] = {}
        for o in options:
            line = o.best.line.text if o.kind == "copy" else (typed + o.text).strip()
            wanted[o.key] = line
        latents = self.latents.get(list(set(wanted.values())))
        for o in options:
            o.latent = latents.get(wanted[o.key])

    # -- presentation --------------------------------------------------------------------------------

    # -- learning from what the user wrote ----------------------------------------------------------------

    def learn(self, request: CompletionRequest, written_line: str) -> tuple[int, float]:
        """The user finished the cursor's line as `written_line`: write that association into the
        Titans memory (surprise-gated; nothing with `[completion] use_titans` off). -> (episodes kept, surprise)."""
        if self.titans is None or not self.config.use_titans or not written_line.strip() or has_mask(written_line):
            return 0, 0.0
        ctx = self.contexts.build(request, False, self.config.max_document_bytes)
        with self._model_lock, torch.inference_mode():
            prefix_ids, cursor_ids = self._context_ids(ctx)
            cursor = self.model.extend_context(self.model.run_context(prefix_ids), cursor_ids)
            key = self.model.predict(cursor.last_hidden.unsqueeze(0).float())
            value = torch.from_numpy(self.encoder.encode_lines([written_line.strip()]))
        import hashlib

        h = LINE_HASH_PREFIX + hashlib.sha256(written_line.strip().encode("utf-8")).hexdigest()
        return self.titans.learn(key, value, [written_line.strip()], [ctx.path], [h])


def _ms(t: float) -> float:
    return (time.perf_counter() - t) * 1000


from assistant.engine.features import INDEX as _INDEX  # noqa: E402

_LATENT_SIM = _INDEX["latent_sim"]
