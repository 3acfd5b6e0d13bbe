"""`shutka eval suite syntax | programming | algorithmic`: three quick checks of a checkpoint, each a JSON report.

  syntax       greedy short completions of held-out lines: does `prefix + completion` parse as well as
               `prefix + the real line` (tree-sitter ERROR/MISSING nodes)? An empty completion adds no
               error, so the rate over non-empty completions and the empty rate are reported too, with
               exact match and edit similarity.
  programming  instruction → code retrieval on held-out pairs: instructions encoded by predict-from-cursor
               at `<|code|>`, code by the target encoder; MRR@10 and recall@1/5 against the other pairs' code.
  algorithmic  the hand-written set in algorithmic.jsonl (description + implementation): retrieval as
               above, and line completion inside each implementation.

Held-out data: with `--source`, everything those sources hold (e.g. packages never trained on); without,
the validation split of the sources recorded in the checkpoint (the same hash split as training).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import click
from rapidfuzz.distance import Levenshtein

from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer
from indexer.errors import ConfigError
from training.config import DataConfig
from training.data.corpus import load_corpus
from training.data.hashing import stable_hash
from training.data.instructions import mine_pairs
from training.data.sources import Document, InstructionPair, SkipCounts, SourceSpec, read_source
from training.data.syntax import error_count
from training.evaluation.model_ops import code_latents, complete_line, instruction_latents, retrieval_metrics

log = logging.getLogger(__name__)

SUITES = ("syntax", "programming", "algorithmic")
EXAMPLES_IN_REPORT = 5
MIN_LINE_CHARS = 4


@dataclass
class HeldOut:
    docs: list[Document]
    pairs: list[InstructionPair]
    origin: str


def held_out(sources: tuple[str, ...], extra: dict[str, Any]) -> HeldOut:
    """The data a suite may evaluate on (see the module docstring); ConfigError when there is none."""
    if sources:
        config = DataConfig(sources=sources)
        skips = SkipCounts()
        docs: list[Document] = []
        pairs: list[InstructionPair] = []
        for spec in sources:
            for record in read_source(SourceSpec.parse(spec), config, skips):
                (docs if isinstance(record, Document) else pairs).append(record)
        return HeldOut(docs, pairs + mine_pairs(docs, config), f"all of {', '.join(sources)}")
    recorded = (extra.get("settings") or {}).get("data")
    if not recorded or not (recorded.get("sources") or recorded.get("instruction_sources")):
        raise ConfigError("this checkpoint records no training sources: pass --source with held-out code")
    config = DataConfig.model_validate(recorded)
    corpus = load_corpus(config, "phase2")
    return HeldOut(corpus.val, corpus.val_pairs, f"validation split of {', '.join(config.sources)}")


def _data_config(extra: dict[str, Any]) -> DataConfig:
    recorded = (extra.get("settings") or {}).get("data")
    return DataConfig.model_validate(recorded) if recorded else DataConfig()


# -- line completion --------------------------------------------------------------------------------------


def completion_case(model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, path: str, lines: list[str],
                    index: int, max_new_tokens: int) -> dict[str, Any]:
    """Complete line `index` from the lines before it (cursor at the line start); score text and syntax."""
    line = lines[index]
    before = "\n".join(lines[:index])
    generated = complete_line(model, tokenizer, path, before, "", max_new_tokens)
    completed, original = f"{before}\n{generated}\n", f"{before}\n{line}\n"
    errors_completed, errors_original = error_count(completed, path), error_count(original, path)
    return {"path": path, "line": index + 1, "expected": line.strip(), "completion": generated.strip(),
            "exact": generated.strip() == line.strip(),
            "edit_similarity": Levenshtein.normalized_similarity(generated.strip(), line.strip()),
            "errors_completed": errors_completed, "errors_original": errors_original,
            "parses_as_well": errors_completed <= errors_original}


def summarize_completions(cases: list[dict[str, Any]]) -> dict[str, Any]:
    n = max(len(cases), 1)
    written = [c for c in cases if c["completion"]]
    return {"cases": len(cases),
            "parse_rate": sum(c["parses_as_well"] for c in cases) / n,
            "parse_rate_nonempty": sum(c["parses_as_well"] for c in written) / max(len(written), 1),
            "clean_completed_rate": sum(c["errors_completed"] == 0 for c in cases) / n,
            "clean_original_rate": sum(c["errors_original"] == 0 for c in cases) / n,
            "mean_extra_errors": sum(c["errors_completed"] - c["errors_original"] for c in cases) / n,
            "exact_match": sum(c["exact"] for c in cases) / n,
            "edit_similarity": sum(c["edit_similarity"] for c in cases) / n,
            "empty_rate": sum(not c["completion"] for c in cases) / n}


def _target_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if i >= 1 and len(line.strip()) >= MIN_LINE_CHARS
            and any(ch.isalnum() for ch in line)]


def syntax_suite(model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, docs: list[Document],
                 limit: int, max_new_tokens: int, seed: int) -> dict[str, Any]:
    """Up to `limit` held-out lines, one per file per round (files in hash order), cursor at the line start."""
    rng = random.Random(seed)
    pools = []
    for doc in sorted(docs, key=lambda d: stable_hash(d.key, "eval")):
        lines = doc.text.split("\n")
        candidates = _target_lines(lines)
        rng.shuffle(candidates)
        if candidates:
            pools.append((doc, lines, candidates))
    cases: list[dict[str, Any]] = []
    while pools and len(cases) < limit:
        for doc, lines, candidates in list(pools):
            if len(cases) >= limit:
                break
            cases.append(completion_case(model, tokenizer, doc.path, lines, candidates.pop(), max_new_tokens))
            if not candidates:
                pools.remove((doc, lines, candidates))
    return {"metrics": summarize_completions(cases), "examples": cases[:EXAMPLES_IN_REPORT]}


# -- retrieval -------------------------------------------------------------------------------------------


def retrieval(model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, instructions: list[str],
              codes: list[str], config: DataConfig) -> dict[str, Any]:
    queries = instruction_latents(model, tokenizer, instructions, config.max_instruction_tokens)
    keys = code_latents(model, tokenizer, codes, config.max_target_tokens)
    return retrieval_metrics(queries, keys)


def programming_suite(model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, pairs: list[InstructionPair],
                      limit: int, config: DataConfig) -> dict[str, Any]:
    """Instruction → code retrieval among `limit` held-out pairs with distinct code."""
    unique: dict[str, InstructionPair] = {}
    for pair in sorted(pairs, key=lambda p: stable_hash(p.key + p.instruction, "eval")):
        unique.setdefault(pair.code.strip(), pair)
    chosen = list(unique.values())[:limit]
    if len(chosen) < 2:
        raise ConfigError(f"programming needs at least 2 held-out instruction pairs, found {len(chosen)}: "
                          "pass --source with documented TypeScript or an instruction table")
    metrics = retrieval(model, tokenizer, [p.instruction for p in chosen], [p.code for p in chosen], config)
    return {"metrics": metrics, "examples": [{"instruction": p.instruction, "code": p.code[:200]}
                                             for p in chosen[:EXAMPLES_IN_REPORT]]}


# -- the algorithmic set -----------------------------------------------------------------------------------


def algorithmic_items() -> list[dict[str, str]]:
    text = (resources.files("training.evaluation") / "algorithmic.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def algorithmic_suite(model: UltraEfficientTextJEPA, tokenizer: TypeScriptTokenizer, config: DataConfig,
                      max_new_tokens: int) -> dict[str, Any]:
    items = algorithmic_items()
    metrics = retrieval(model, tokenizer, [i["description"] for i in items], [i["code"] for i in items], config)
    cases = []
    for item in items:
        lines = item["code"].rstrip("\n").split("\n")
        cases += [completion_case(model, tokenizer, f"algorithms/{item['id']}.ts", lines, i, max_new_tokens)
                  for i in _target_lines(lines)]
    return {"metrics": {"retrieval": metrics, "completion": summarize_completions(cases)},
            "items": len(items), "examples": cases[:EXAMPLES_IN_REPORT]}


# -- the command -------------------------------------------------------------------------------------------


def run_suite(name: str, checkpoint: Path | None, sources: tuple[str, ...], limit: int, max_new_tokens: int,
              seed: int) -> dict[str, Any]:
    """Load the checkpoint and run one suite; the report as a dict."""
    from assistant.checkpoints import load_checkpoint, resolve_checkpoint

    started = time.perf_counter()
    ckpt = load_checkpoint(resolve_checkpoint(checkpoint))
    model, tokenizer = ckpt.model.eval(), ckpt.tokenizer
    config = _data_config(ckpt.extra)
    report: dict[str, Any] = {"suite": name, "checkpoint": str(ckpt.path), "digest": ckpt.digest,
                              "weight_format": ckpt.weight_format}
    if name == "algorithmic":
        report.update(algorithmic_suite(model, tokenizer, config, max_new_tokens))
        report["data"] = "training/evaluation/algorithmic.jsonl"
    else:
        data = held_out(sources, ckpt.extra)
        report["data"] = data.origin
        if name == "syntax":
            report.update(syntax_suite(model, tokenizer, data.docs, limit, max_new_tokens, seed))
        else:
            report.update(programming_suite(model, tokenizer, data.pairs, limit, config))
    report["seconds"] = time.perf_counter() - started
    return report


@click.command("suite")
@click.argument("name", type=click.Choice(SUITES))
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model to evaluate (default: the installed default model).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here (else stdout).")
@click.option("--source", "sources", multiple=True, metavar="SPEC",
              help="Held-out data (repeatable; default: the checkpoint's own validation split).")
@click.option("--limit", type=int, default=200, show_default=True, help="Lines (syntax) or pairs (programming) at most.")
@click.option("--max-new-tokens", type=int, default=24, show_default=True, help="Greedy completion length cap.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--num-threads", type=int, default=1, show_default=True, help="torch threads.")
def suite_command(name: str, checkpoint: Path | None, out: Path | None, sources: tuple[str, ...], limit: int,
                  max_new_tokens: int, seed: int, num_threads: int) -> None:
    """Run one evaluation suite (syntax, programming, algorithmic) and print or write its JSON report."""
    import torch

    torch.set_num_threads(num_threads)
    report = run_suite(name, checkpoint, sources, limit, max_new_tokens, seed)
    text = json.dumps(report, indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(f"{name}: {json.dumps(report['metrics'])} -> {out}")
    else:
        click.echo(text)
