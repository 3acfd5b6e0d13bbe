"""The corpus of a run: documents and instruction pairs from every source, deduplicated, capped per
package, sampled (`max_samples`) and split into train and validation by hash — deterministic, nothing leaks.

Split rule (a record is held out when any holds):
  its package is in `val_packages`, or hash(package) < val_package_fraction (whole packages), or
  hash(package/path) < val_file_fraction (files of the remaining packages).
Exact duplicates (same text) are kept once, so a vendored copy cannot carry a validation file into training.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from training.config import DataConfig, Phase
from training.data.hashing import stable_hash, unit_hash
from training.data.sources import Document, InstructionPair, SkipCounts, SourceSpec, read_source
from training.errors import DataError

log = logging.getLogger(__name__)


def is_validation(package: str, path: str, config: DataConfig) -> bool:
    if package in config.val_packages:
        return True
    if unit_hash(package, "split-package") < config.val_package_fraction:
        return True
    return unit_hash(f"{package}/{path}", "split-file") < config.val_file_fraction


@dataclass
class Corpus:
    train: list[Document]
    val: list[Document]
    train_pairs: list[InstructionPair] = field(default_factory=list)
    val_pairs: list[InstructionPair] = field(default_factory=list)
    skips: SkipCounts = field(default_factory=SkipCounts)
    dropped: dict[str, int] = field(default_factory=dict)
    """Usable inputs left out on purpose: duplicate, max_samples, package_cap, instruction_samples."""

    def fingerprint(self) -> str:
        """Identifies exactly which records are in which split (a resume checks it)."""
        h = hashlib.sha256()
        for split, records in (("train", self.train), ("val", self.val), ("train_pairs", self.train_pairs),
                               ("val_pairs", self.val_pairs)):
            h.update(f"[{split}]".encode())
            for r in records:
                content = r.text if isinstance(r, Document) else f"{r.instruction}\x00{r.code}"
                h.update(f"{r.key}\x00{hashlib.sha1(content.encode()).hexdigest()}\n".encode())
        return h.hexdigest()[:16]

    def stats(self) -> dict[str, Any]:
        lines: dict[str, int] = defaultdict(int)
        for doc in self.train:
            lines[doc.package] += doc.text.count("\n") + 1
        return {
            "train_files": len(self.train), "val_files": len(self.val),
            "train_pairs": len(self.train_pairs), "val_pairs": len(self.val_pairs),
            "train_lines_by_package": dict(sorted(lines.items())),
            "val_packages": sorted({d.package for d in self.val} - {d.package for d in self.train}),
            "skipped": self.skips.to_dict(), "dropped": dict(sorted(self.dropped.items())),
        }


def _by_hash(records: Iterable[Any], salt: str) -> list[Any]:
    return sorted(records, key=lambda r: stable_hash(r.key, salt))


def cap_packages(docs: list[Document], config: DataConfig) -> tuple[list[Document], int]:
    """Per package, whole files in path-hash order until max_lines/max_files; -> (kept, dropped)."""
    if config.max_lines_per_package is None and config.max_files_per_package is None:
        return docs, 0
    groups: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        groups[doc.package].append(doc)
    kept_keys: set[str] = set()
    for files in groups.values():
        lines = 0
        for n, doc in enumerate(_by_hash(files, "package-cap")):
            doc_lines = doc.text.count("\n") + 1
            if config.max_files_per_package is not None and n >= config.max_files_per_package:
                break
            if config.max_lines_per_package is not None and lines + doc_lines > config.max_lines_per_package:
                continue  # a smaller file later may still fit
            lines += doc_lines
            kept_keys.add(doc.key)
    kept = [d for d in docs if d.key in kept_keys]
    return kept, len(docs) - len(kept)


def _dedupe(records: list[Any], content: Any) -> tuple[list[Any], int]:
    seen: set[str] = set()
    out = []
    for r in records:
        digest = hashlib.sha1(content(r).encode()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append(r)
    return out, len(records) - len(out)


def load_corpus(config: DataConfig, phase: Phase) -> Corpus:
    """Read, clean, sample, cap and split every source of `config` for `phase`."""
    from training.data.instructions import mine_pairs

    skips = SkipCounts()
    docs: list[Document] = []
    pairs: list[InstructionPair] = []
    specs = [(SourceSpec.parse(s), config.max_samples) for s in config.sources]
    if phase == "phase2":
        specs += [(SourceSpec.parse(s), config.instruction_samples) for s in config.instruction_sources]
    for spec, limit in specs:  # `limit` only bounds what a hub stream reads; local sources are read whole
        before = (len(docs), len(pairs))
        for record in read_source(spec, config, skips, limit=limit):
            (docs if isinstance(record, Document) else pairs).append(record)
        log.info("%s: %d documents, %d instruction pairs", spec.location, len(docs) - before[0],
                 len(pairs) - before[1])
    dropped: dict[str, int] = {}
    docs, dropped["duplicate"] = _dedupe(docs, lambda d: d.text)
    docs, dropped["package_cap"] = cap_packages(docs, config)
    if phase == "phase2" and config.mine_pairs:
        pairs += mine_pairs(docs, config)  # from every kept file, before max_samples thins the code views
    if config.max_samples is not None and len(docs) > config.max_samples:
        dropped["max_samples"] = len(docs) - config.max_samples
        keep = {d.key for d in _by_hash(docs, "sample")[: config.max_samples]}
        docs = [d for d in docs if d.key in keep]
    train = [d for d in docs if not is_validation(d.package, d.path, config)]
    val = [d for d in docs if is_validation(d.package, d.path, config)]

    corpus = Corpus(train, val, skips=skips, dropped=dropped)
    if phase == "phase2":
        pairs, dropped["duplicate_pairs"] = _dedupe(pairs, lambda p: f"{p.instruction}\x00{p.code}")
        corpus.train_pairs = [p for p in pairs if not is_validation(p.package, p.path, config)]
        corpus.val_pairs = [p for p in pairs if is_validation(p.package, p.path, config)]
        limit = config.instruction_samples
        if limit is not None and len(corpus.train_pairs) > limit:
            dropped["instruction_samples"] = len(corpus.train_pairs) - limit
            mined_last = sorted(_by_hash(corpus.train_pairs, "pairs"), key=lambda p: p.origin == "mined")
            keep_keys = {id(p) for p in mined_last[:limit]}
            corpus.train_pairs = [p for p in corpus.train_pairs if id(p) in keep_keys]
    if not corpus.train and not corpus.train_pairs:
        raise DataError(f"no training data left from {', '.join(config.sources + config.instruction_sources)}: "
                        f"skipped {skips.to_dict()['counts']}, dropped {dropped}, held out {len(val)}")
    log.info("corpus: %d train / %d val files, %d / %d pairs; skipped %s; dropped %s", len(train), len(val),
             len(corpus.train_pairs), len(corpus.val_pairs), skips.counts, dropped)
    return corpus
