"""Datasets and batch order. Rows are built on demand from (epoch, index) with a generator seeded by
(seed, epoch, index), so a row never depends on which process, worker or resume built it.

Batch order: each epoch is a seeded permutation cut into global batches of
`micro × accumulation × world` items. Global batch g is split into `accumulation × world` micro-batches;
micro-batch i of rank r is slice `i × world + r`. One process accumulating two micro-batches and two
processes with one each therefore see exactly the same slices (and the same per-slice randomness).
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from torch.utils.data import DataLoader, Dataset, Sampler

from assistant.tokenizer import TypeScriptTokenizer
from training.config import Phase, Settings
from training.data.corpus import Corpus
from training.data.instructions import InstructionRows
from training.data.rows import Row, collate
from training.data.views import CodeRows, encode_documents
from training.errors import DataError

log = logging.getLogger(__name__)

VAL_EPOCH = -1
"""The epoch number validation rows are built with: the same rows at every evaluation."""

Key = tuple[int, int]  # (epoch, item index)


class RowDataset(Dataset[Row]):
    """Code rows first, then instruction rows; `dataset[(epoch, index)]` is deterministic."""

    def __init__(self, code: CodeRows | None, pairs: InstructionRows | None, seed: int) -> None:
        self.code, self.pairs, self.seed = code, pairs, seed
        self.num_code = len(code) if code is not None else 0

    def __len__(self) -> int:
        return self.num_code + (len(self.pairs) if self.pairs is not None else 0)

    def __getitem__(self, key: Key) -> Row:
        epoch, index = key
        rng = random.Random(f"{self.seed}:{epoch}:{index}")
        if index < self.num_code:
            assert self.code is not None
            return self.code.row(index, rng)
        assert self.pairs is not None
        return self.pairs.row(index - self.num_code, rng)


@dataclass(frozen=True)
class BatchPlan:
    """Which items each rank's micro-batches hold (see the module docstring)."""

    num_items: int
    micro: int
    accumulation: int
    world: int
    seed: int

    @property
    def global_batch(self) -> int:
        return self.micro * self.accumulation * self.world

    @property
    def steps_per_epoch(self) -> int:
        return self.num_items // self.global_batch

    def order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_items)

    def slice_index(self, micro_index: int, rank: int) -> int:
        return micro_index * self.world + rank

    def micro_batch(self, order: np.ndarray, step: int, micro_index: int, rank: int) -> list[int]:
        base = step * self.global_batch + self.slice_index(micro_index, rank) * self.micro
        return order[base : base + self.micro].tolist()


class RankSampler(Sampler[list[Key]]):
    """This rank's micro-batches of one epoch, from optimizer step `start_step` on."""

    def __init__(self, plan: BatchPlan, epoch: int, rank: int, start_step: int = 0) -> None:
        self.plan, self.epoch, self.rank, self.start_step = plan, epoch, rank, start_step

    def __len__(self) -> int:
        return (self.plan.steps_per_epoch - self.start_step) * self.plan.accumulation

    def __iter__(self) -> Iterator[list[Key]]:
        order = self.plan.order(self.epoch)
        for step in range(self.start_step, self.plan.steps_per_epoch):
            for i in range(self.plan.accumulation):
                yield [(self.epoch, idx) for idx in self.plan.micro_batch(order, step, i, self.rank)]


class ValSampler(Sampler[list[Key]]):
    """A fixed subset of the held-out split: batch j goes to rank j mod world, `max_batches` in all."""

    def __init__(self, num_items: int, micro: int, rank: int, world: int, max_batches: int, seed: int) -> None:
        order = np.random.default_rng([seed, 7919]).permutation(num_items)
        batches = [order[i : i + micro].tolist() for i in range(0, num_items, micro)][:max_batches]
        self.batches = [[(VAL_EPOCH, idx) for idx in b] for j, b in enumerate(batches) if j % world == rank]

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[Key]]:
        return iter(self.batches)


@dataclass
class TrainData:
    """Everything the trainer reads: the two datasets and what identifies them."""

    train: RowDataset
    val: RowDataset
    pad_id: int
    fingerprint: str
    stats: dict

    def loader(self, sampler: Sampler[list[Key]], num_workers: int) -> DataLoader:
        dataset = self.train if not isinstance(sampler, ValSampler) else self.val
        return DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                          collate_fn=functools.partial(collate, pad_id=self.pad_id))


def build_rows(corpus: Corpus, tokenizer: TypeScriptTokenizer, settings: Settings, phase: Phase) -> TrainData:
    """Tokenize the corpus and set up the phase's views; raises DataError when nothing is left."""
    cfg, seq = settings.data, settings.train.max_seq_len
    seed = settings.run.seed

    def rows(docs: list, pairs: list) -> RowDataset:
        code = CodeRows(encode_documents(docs, tokenizer), tokenizer, cfg, seq) if docs else None
        instr = InstructionRows(pairs, tokenizer, cfg, seq) if phase == "phase2" and pairs else None
        return RowDataset(code, instr, seed)

    train = rows(corpus.train, corpus.train_pairs)
    val = rows(corpus.val, corpus.val_pairs)
    if len(train) == 0:
        raise DataError("the training split produced no sequences")
    stats = corpus.stats()
    stats.update(train_sequences=len(train), val_sequences=len(val),
                 train_tokens=train.code.num_tokens if train.code is not None else 0)
    log.info("%d training sequences (%d code, %d instruction), %d validation sequences", len(train),
             train.num_code, len(train) - train.num_code, len(val))
    return TrainData(train, val, tokenizer.pad_id, f"{corpus.fingerprint()}-{tokenizer.digest}", stats)
