"""Byte-level BPE for TypeScript with fill-in-the-middle and line/span special tokens.

Trained with the `tokenizers` library and shipped inside every checkpoint as JSON, so a model is
never paired with the wrong vocabulary (checkpoints store its digest and refuse a mismatch).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from assistant.errors import CheckpointCorrupt

PAD = "<|pad|>"
BOS = "<|bos|>"
EOS = "<|eos|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
LINE = "<|line|>"
"""Starts a line encoded on its own (what the target encoder and the bank see)."""
SPAN = "<|span|>"
"""Starts a span (a body, a definition) encoded on its own."""
INSTRUCTION = "<|instruction|>"
CODE = "<|code|>"
FILE_SEP = "<|file|>"
"""Separates files (or a path header) inside one training sequence."""

SPECIAL_TOKENS = (PAD, BOS, EOS, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, LINE, SPAN, INSTRUCTION, CODE, FILE_SEP)


class TypeScriptTokenizer:
    """Thin wrapper over a `tokenizers.Tokenizer` with the special ids named."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tok = tokenizer
        missing = [t for t in SPECIAL_TOKENS if tokenizer.token_to_id(t) is None]
        if missing:
            raise CheckpointCorrupt(f"tokenizer lacks special tokens {missing}: it was not trained by Shutka")
        ids = {t: tokenizer.token_to_id(t) for t in SPECIAL_TOKENS}
        self.pad_id: int = ids[PAD]
        self.bos_id: int = ids[BOS]
        self.eos_id: int = ids[EOS]
        self.fim_prefix_id: int = ids[FIM_PREFIX]
        self.fim_suffix_id: int = ids[FIM_SUFFIX]
        self.fim_middle_id: int = ids[FIM_MIDDLE]
        self.line_id: int = ids[LINE]
        self.span_id: int = ids[SPAN]
        self.instruction_id: int = ids[INSTRUCTION]
        self.code_id: int = ids[CODE]
        self.file_id: int = ids[FILE_SEP]
        self.special_ids: frozenset[int] = frozenset(ids.values())
        self._json: str | None = None

    # -- training ---------------------------------------------------------------------------------

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 8192, min_frequency: int = 2) -> TypeScriptTokenizer:
        """Learn merges from `texts` (TypeScript sources). Deterministic for the same input order."""
        tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(_batched(texts), trainer=trainer)
        return cls(tok)

    # -- (de)serialisation ------------------------------------------------------------------------

    def to_json(self) -> str:
        if self._json is None:
            self._json = self._tok.to_str()
        return self._json

    @classmethod
    def from_json(cls, data: str) -> TypeScriptTokenizer:
        try:
            tok = Tokenizer.from_str(data)
        except Exception as exc:  # the library raises a bare Exception on malformed JSON
            raise CheckpointCorrupt(f"tokenizer JSON is unreadable: {exc}") from exc
        return cls(tok)

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON: identifies this exact vocabulary."""
        canonical = json.dumps(json.loads(self.to_json()), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    # -- use --------------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no special tokens added)."""
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Ids and (start, end) character offsets of each token in `text`."""
        enc = self._tok.encode(text, add_special_tokens=False)
        return enc.ids, enc.offsets

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode([i for i in ids if i not in self.special_ids], skip_special_tokens=True)

    def token_text(self, token_id: int) -> str:
        """The text one token stands for (special tokens as their names)."""
        if token_id in self.special_ids:
            return self._tok.id_to_token(token_id) or ""
        return self._tok.decode([token_id])


def _batched(texts: Iterable[str], size: int = 256) -> Iterator[list[str]]:
    batch: list[str] = []
    for t in texts:
        batch.append(t)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
