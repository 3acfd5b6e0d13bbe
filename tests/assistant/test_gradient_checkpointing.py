"""Gradient checkpointing recomputes blocks in backward and gives the same gradients."""

from __future__ import annotations

import torch

from assistant.model import UltraEfficientTextJEPA


def _grads(checkpointing: bool, vocab: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = UltraEfficientTextJEPA(model_size="tiny", vocab_size=vocab, gradient_checkpointing=checkpointing,
                                   layer_drop=0.0)
    model.train()
    ids = torch.randint(0, vocab, (2, 16), generator=torch.Generator().manual_seed(1))
    logits, _, _ = model(ids, skip=False)
    torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, vocab), ids[:, 1:].reshape(-1)).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_gradients_match_with_and_without_checkpointing() -> None:
    plain, checkpointed = _grads(False, 128), _grads(True, 128)
    assert plain.keys() == checkpointed.keys() and plain
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], msg=name)
