"""Options and their features: candidate lines grouped by what they would insert, described by the
signals the ranker weighs (DESIGN §2: rank with several signals, not one).

Signals: context similarity (BM25 over the lines before), votes (how often the continuation occurs),
level of the prefix match, distance (same file, same folder, import graph), identifiers the cursor
has not seen, latent similarity to the JEPA prediction, Titans read-out similarity, token-head
log-probability, and how the option was made (copied, copied-and-edited, generated).
Each feature has a fixed index so a ranker trained once keeps working; missing signals are 0 with
an indicator, and ablations zero whole groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from assistant.engine.candidates import Candidate, is_word_char, normalize

FEATURES: tuple[str, ...] = (
    # lexical
    "bm25_rel", "bm25_top", "bm25_rank_inv", "bm25_log",
    "votes_log", "votes_rel",
    "level0", "level_frac",
    "same_file", "same_file_near", "same_dir",
    "len_log", "ends_clean",
    "unseen_frac", "unseen_any", "unseen_hop_known",
    # graph (HopRAG)
    "from_imported", "from_hop_chunk",
    # model
    "latent_sim", "latent_rel", "latent_has",
    "titans_rel", "titans_has", "titans_recall",
    "lm_mean_rel", "lm_sum_rel", "lm_scored",
    "bank_found",
    # provenance
    "edited", "generated", "analogy_edit", "shape_edit",
    # the cursor inside a word: does the option go on with it?
    "continues_word",
)
INDEX = {name: i for i, name in enumerate(FEATURES)}
GROUPS: dict[str, tuple[str, ...]] = {
    "hoprag": ("from_imported", "from_hop_chunk", "unseen_hop_known"),
    "titans": ("titans_rel", "titans_has", "titans_recall"),
    "decoding": ("lm_mean_rel", "lm_sum_rel", "lm_scored"),
    "latent": ("latent_sim", "latent_rel", "latent_has", "bank_found"),
}
TASK_FEATURES: tuple[str, ...] = ("n_options_log", "level0", "top_bm25_log", "top_votes_rel", "top_lm_mean",
                                  "top_latent", "prefix_len_log", "agree", "in_word")
CLEAN_ENDINGS = (";", "{", ",", ")", "(", "[", "=>", ":", "}", "]", "`", "'", '"')


@dataclass(slots=True)
class Option:
    """One distinct continuation, with every candidate line that proposes it."""

    text: str
    """The continuation as written by its best source (inserted at the cursor)."""
    key: str
    """Whitespace-normalised text (options are unique by key)."""
    sources: list[Candidate]
    kind: str = "copy"
    features: np.ndarray = field(default_factory=lambda: np.zeros(len(FEATURES), dtype=np.float32))
    latent: np.ndarray | None = None
    lm_sum: float | None = None
    lm_mean: float | None = None
    titans: float | None = None
    recall: float = 0.0
    """Similarity of the context in which the user typed this very line (a Titans episode), or 0."""
    from_bank: bool = False
    analogy: bool = False
    """Made by renaming the word in which its source file's name and the cursor's differ."""
    shaped: bool = False
    """Made from a line that starts like the typed text with other names (those renamed to the typed)."""
    score: float = 0.0
    confidence: float = 0.0

    @property
    def best(self) -> Candidate:
        return max(self.sources, key=lambda c: c.bm25)

    @property
    def source(self) -> str:
        if self.kind == "generated":
            return "generated"
        c = self.best
        if c.line.line_no < 0:  # recalled from the Titans memory: a line the user typed, not a file line
            return "memory"
        return f"{c.line.path}:{c.line.line_no + 1}"


def group_options(cands: list[Candidate], limit: int) -> list[Option]:
    """Unique continuations, best BM25 first (ties: preference order), at most `limit`."""
    by_key: dict[str, Option] = {}
    for c in cands:
        key = normalize(c.continuation)
        if not key:
            continue
        opt = by_key.get(key)
        if opt is None:
            by_key[key] = Option(c.continuation, key, [c])
        else:
            opt.sources.append(c)
    options = sorted(by_key.values(), key=lambda o: -max(c.bm25 for c in o.sources))
    return options[:limit]


def _dir(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def lexical_features(options: list[Option], path: str, line_no: int, scope: frozenset[str],
                     hop_known: frozenset[str], imported: frozenset[str], hop_files: frozenset[str],
                     identifiers_of: callable) -> None:  # type: ignore[valid-type]
    """Fill the lexical and graph features of every option (in place)."""
    if not options:
        return
    top_bm25 = max(max(c.bm25 for c in o.sources) for o in options) or 1.0
    most_votes = max(len(o.sources) for o in options)
    ranked = sorted(range(len(options)), key=lambda i: -max(c.bm25 for c in options[i].sources))
    rank_of = {i: r for r, i in enumerate(ranked)}
    here = _dir(path)
    for i, o in enumerate(options):
        f = o.features
        bm25 = max(c.bm25 for c in o.sources)
        f[INDEX["bm25_rel"]] = bm25 / top_bm25
        f[INDEX["bm25_top"]] = float(rank_of[i] == 0)
        f[INDEX["bm25_rank_inv"]] = 1.0 / (1 + rank_of[i])
        f[INDEX["bm25_log"]] = math.log1p(bm25)
        f[INDEX["votes_log"]] = math.log1p(len(o.sources))
        f[INDEX["votes_rel"]] = len(o.sources) / most_votes
        level = min(c.level for c in o.sources)
        f[INDEX["level0"]] = float(level == 0)
        f[INDEX["level_frac"]] = level / 4.0
        own = [c for c in o.sources if c.line.path == path]
        f[INDEX["same_file"]] = float(bool(own))
        if own:
            gap = min(line_no - c.line.line_no for c in own)
            f[INDEX["same_file_near"]] = 1.0 / (1.0 + max(gap, 0) / 10.0)
        f[INDEX["same_dir"]] = float(any(_dir(c.line.path) == here for c in o.sources))
        f[INDEX["len_log"]] = math.log1p(len(o.key))
        f[INDEX["ends_clean"]] = float(o.key.endswith(CLEAN_ENDINGS))
        ids = identifiers_of(o.text)
        unseen = [t for t in ids if t not in scope]
        f[INDEX["unseen_frac"]] = len(unseen) / len(ids) if ids else 0.0
        f[INDEX["unseen_any"]] = float(bool(unseen))
        f[INDEX["unseen_hop_known"]] = (sum(t in hop_known for t in unseen) / len(unseen)) if unseen else 0.0
        f[INDEX["from_imported"]] = float(any(c.line.path in imported for c in o.sources))
        f[INDEX["from_hop_chunk"]] = float(any(c.line.path in hop_files for c in o.sources))
        f[INDEX["edited"]] = float(o.kind == "copy_edit")
        f[INDEX["generated"]] = float(o.kind == "generated")
        f[INDEX["analogy_edit"]] = float(o.analogy)
        f[INDEX["shape_edit"]] = float(o.shaped)


def model_features(options: list[Option]) -> None:
    """Fill latent, Titans and token-head features from what the engine computed (in place)."""
    sims = [float(o.features[INDEX["latent_sim"]]) for o in options if o.latent is not None]
    best_sim = max(sims) if sims else 0.0
    titans = [o.titans for o in options if o.titans is not None]
    best_titans = max(titans) if titans else 0.0
    scored = [o for o in options if o.lm_sum is not None and o.lm_mean is not None]
    best_mean = max((o.lm_mean for o in scored), default=0.0)  # type: ignore[type-var]
    best_sum = max((o.lm_sum for o in scored), default=0.0)  # type: ignore[type-var]
    for o in options:
        f = o.features
        if o.latent is not None:
            f[INDEX["latent_rel"]] = f[INDEX["latent_sim"]] - best_sim
            f[INDEX["latent_has"]] = 1.0
        if o.titans is not None:
            f[INDEX["titans_rel"]] = o.titans - best_titans
            f[INDEX["titans_has"]] = 1.0
        f[INDEX["titans_recall"]] = o.recall
        if o.lm_sum is not None and o.lm_mean is not None:
            f[INDEX["lm_mean_rel"]] = max(-10.0, o.lm_mean - best_mean)
            f[INDEX["lm_sum_rel"]] = max(-30.0, (o.lm_sum or 0.0) - best_sum) / 10.0
            f[INDEX["lm_scored"]] = 1.0
        f[INDEX["bank_found"]] = float(o.from_bank)


def task_features(options: list[Option], cursor_prefix: str) -> np.ndarray:
    """Features of the request as a whole (they set the 'none of these' score)."""
    out = np.zeros(len(TASK_FEATURES), dtype=np.float32)
    if not options:
        return out
    top = max(options, key=lambda o: o.features[INDEX["bm25_rel"]])
    out[0] = math.log1p(len(options))
    out[1] = top.features[INDEX["level0"]]
    out[2] = top.features[INDEX["bm25_log"]]
    out[3] = top.features[INDEX["votes_rel"]]
    means = [o.lm_mean for o in options if o.lm_mean is not None]
    out[4] = max(means) if means else 0.0
    out[5] = max((float(o.features[INDEX["latent_sim"]]) for o in options), default=0.0)
    out[6] = math.log1p(len(cursor_prefix.strip()))
    by_lm = max(options, key=lambda o: o.lm_mean if o.lm_mean is not None else -1e9)
    out[7] = float(by_lm is top)
    out[8] = float(in_word(cursor_prefix))
    return out


def in_word(cursor_prefix: str) -> bool:
    """The cursor right after a word character: typing may be in the middle of a name."""
    return bool(cursor_prefix) and is_word_char(cursor_prefix[-1])


def word_features(options: list[Option], cursor_prefix: str) -> None:
    """`continues_word`: with the cursor inside a word, the option goes on with that word (in place).
    Editors ask mid-word: `obs|` is more often `observable` than a finished `obs` followed by ` as any`."""
    if not in_word(cursor_prefix):
        return
    for o in options:
        o.features[INDEX["continues_word"]] = float(bool(o.text) and is_word_char(o.text[0]))


def ablate(features: np.ndarray, groups: tuple[str, ...]) -> np.ndarray:
    """Zero the features of the named groups ((N, F) or (F,))."""
    out = features.copy()
    for g in groups:
        for name in GROUPS[g]:
            out[..., INDEX[name]] = 0.0
    return out
