"""Phase 2: instruction → code pairs, mined from TypeScript (JSDoc/comment → implementation) or read
from tables and the hub, and the rows they become:

    <|instruction|> instruction <|code|> code <|eos|>

token loss on the code (and the closing eos) only; one JEPA target — the code span, `<|span|>`-prefixed —
predicted from the hidden state at `<|code|>`.
"""

from __future__ import annotations

import logging
import random

from assistant.tokenizer import TypeScriptTokenizer
from training.config import DataConfig
from training.data.hashing import stable_hash
from training.data.rows import Row
from training.data.sources import Document, InstructionPair
from training.data.syntax import documented_definitions

log = logging.getLogger(__name__)


def mine_pairs(docs: list[Document], config: DataConfig) -> list[InstructionPair]:
    """JSDoc/comment → implementation pairs from `docs` (each pair keeps its document's package/path,
    so it lands in the same split as the file it came from)."""
    pairs = []
    for doc in docs:
        for found in documented_definitions(doc.text, doc.path, config.min_doc_words):
            pairs.append(InstructionPair(found.comment, found.code, doc.package,
                                         f"{doc.path}#L{found.line + 1}", "mined"))
    log.info("mined %d comment → implementation pairs from %d files", len(pairs), len(docs))
    return pairs


class InstructionRows:
    """Pre-encoded pairs; `row(i, rng)` is the i-th pair as a training row (deterministic)."""

    def __init__(self, pairs: list[InstructionPair], tokenizer: TypeScriptTokenizer, config: DataConfig,
                 max_seq_len: int) -> None:
        self.tokenizer, self.config, self.max_seq_len = tokenizer, config, max_seq_len
        self.instructions = tokenizer.encode_batch([p.instruction for p in pairs])
        codes = [p.code.strip() for p in pairs]
        self.codes = tokenizer.encode_batch(codes)
        self.hashes = [stable_hash(c) for c in codes]

    def __len__(self) -> int:
        return len(self.codes)

    def row(self, index: int, rng: random.Random) -> Row:
        tok = self.tokenizer
        instruction = self.instructions[index][: self.config.max_instruction_tokens]
        head = [tok.instruction_id, *instruction, tok.code_id]
        room = self.max_seq_len - len(head)
        code = self.codes[index]
        body = [*code, tok.eos_id][:room]
        target = [tok.span_id, *code][: self.config.max_target_tokens]
        cursor = len(head) - 1  # the <|code|> position
        return Row(head + body, loss_start=cursor, cursors=[cursor], targets=[target],
                   hashes=[self.hashes[index]])
