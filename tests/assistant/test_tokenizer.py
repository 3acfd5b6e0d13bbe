"""The tokenizer: special tokens, lossless round trips, stable digest, serialisation."""

from __future__ import annotations

import pytest

from assistant.errors import CheckpointCorrupt
from assistant.tokenizer import SPECIAL_TOKENS, TypeScriptTokenizer

SAMPLE = "export const f = (a: number): string => `${a}`;\n\tif (x) {\n    return y;\n  }\n// ünïcode ✓\n"


def test_round_trip_is_lossless(tiny_tokenizer: TypeScriptTokenizer) -> None:
    assert tiny_tokenizer.decode(tiny_tokenizer.encode(SAMPLE)) == SAMPLE


def test_special_tokens_are_single_ids(tiny_tokenizer: TypeScriptTokenizer) -> None:
    for token in SPECIAL_TOKENS:
        assert len(tiny_tokenizer.encode(token)) == 1, token
    assert tiny_tokenizer.fim_middle_id != tiny_tokenizer.fim_prefix_id
    assert tiny_tokenizer.decode([tiny_tokenizer.fim_prefix_id, *tiny_tokenizer.encode("x")]) == "x"


def test_json_round_trip_keeps_the_digest(tiny_tokenizer: TypeScriptTokenizer) -> None:
    again = TypeScriptTokenizer.from_json(tiny_tokenizer.to_json())
    assert again.digest == tiny_tokenizer.digest
    assert again.encode(SAMPLE) == tiny_tokenizer.encode(SAMPLE)


def test_training_is_deterministic() -> None:
    texts = ["const a = 1;\n", "function f(x) { return x + 1; }\n"] * 5
    assert TypeScriptTokenizer.train(texts, 300, 1).digest == TypeScriptTokenizer.train(texts, 300, 1).digest


def test_offsets_cover_the_text(tiny_tokenizer: TypeScriptTokenizer) -> None:
    ids, offsets = tiny_tokenizer.encode_with_offsets(SAMPLE)
    assert len(ids) == len(offsets) and offsets[0][0] == 0


def test_garbage_json_is_corrupt() -> None:
    with pytest.raises(CheckpointCorrupt):
        TypeScriptTokenizer.from_json("{not json")
