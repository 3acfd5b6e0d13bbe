"""The trainer's token loss under gradient checkpointing: made a few sequences at a time and again in
backward, it gives the same loss, per-sequence losses and gradients as the plain one."""

from __future__ import annotations

import pytest
import torch

from assistant import config
from assistant.model import UltraEfficientTextJEPA
from training import objectives


def _token_loss(checkpointing: bool, ids: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    model = UltraEfficientTextJEPA(model_size="tiny", vocab_size=128, gradient_checkpointing=checkpointing,
                                   layer_drop=0.0).train()
    loss, per_seq = objectives.head_token_loss(model, model.trunk(ids, skip=False).hidden, ids, mask)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), per_seq.detach(), grads


def test_the_recomputed_token_loss_matches_the_plain_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "LOSS_CHUNK_TOKENS", 16)  # one 16-token sequence per chunk: three chunks
    ids = torch.randint(0, 128, (3, 16), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[1, :5] = False
    loss_a, seq_a, grads_a = _token_loss(False, ids, mask)
    loss_b, seq_b, grads_b = _token_loss(True, ids, mask)
    torch.testing.assert_close(loss_b, loss_a)
    torch.testing.assert_close(seq_b, seq_a)
    assert grads_a.keys() == grads_b.keys() and "trunk.embed.weight" in grads_a
    for name in grads_a:
        torch.testing.assert_close(grads_b[name], grads_a[name], msg=name)
