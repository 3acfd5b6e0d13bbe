"""int8 export: exact for BitLinear up to float rounding, close for PTQ; 2-bit packing round-trips."""

from __future__ import annotations

import pytest
import torch

from assistant.model import UltraEfficientTextJEPA
from assistant.model.quant import BitLinear, Int8Linear, pack_ternary, ternary_weight, unpack_ternary

EXPORT_TOLERANCE = 1e-4
"""Largest allowed |BitLinear - Int8Linear| per output: both compute the same integers, only the
order of float operations differs."""


def test_int8_export_matches_bitlinear_forward() -> None:
    torch.manual_seed(0)
    layer = BitLinear(64, 96, bias=True)
    x = torch.randn(10, 64)
    torch.testing.assert_close(Int8Linear.from_linear(layer)(x), layer(x), atol=EXPORT_TOLERANCE, rtol=1e-5)


def test_bitnet_model_export_matches_its_forward(tiny_tokenizer) -> None:
    torch.manual_seed(0)
    model = UltraEfficientTextJEPA(model_size="tiny", vocab_size=tiny_tokenizer.vocab_size,
                                   quantization="bitnet").eval()
    exported = model.export_int8()
    ids = torch.randint(0, model.config.vocab_size, (2, 24))
    with torch.no_grad():
        ref = model.trunk(ids, skip=False).hidden
        got = exported.trunk(ids, skip=False).hidden
    torch.testing.assert_close(got, ref, atol=1e-3, rtol=1e-4)


def test_ptq_export_of_fp32_model_is_close(tiny_model) -> None:
    tiny_model.eval()
    exported = tiny_model.export_int8()
    ids = torch.randint(0, tiny_model.config.vocab_size, (2, 24))
    with torch.no_grad():
        ref = torch.log_softmax(tiny_model(ids, skip=False)[0], -1)
        got = torch.log_softmax(exported(ids, skip=False)[0], -1)
    assert (got - ref).abs().max() < 0.05
    assert isinstance(exported.head, Int8Linear)
    assert not any(isinstance(m, BitLinear) for m in exported.modules())


def test_export_leaves_the_original_trainable(tiny_model) -> None:
    tiny_model.export_int8()
    assert not any(isinstance(m, Int8Linear) for m in tiny_model.modules())
    assert tiny_model.head.weight is tiny_model.trunk.embed.weight


def test_bitlinear_has_straight_through_gradients() -> None:
    layer = BitLinear(8, 4)
    x = torch.randn(3, 8, requires_grad=True)
    layer(x).sum().backward()
    assert layer.weight.grad is not None and x.grad is not None
    assert layer.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (7,), (2, 3, 5)])
def test_pack_ternary_round_trips(shape) -> None:
    q, _ = ternary_weight(torch.randn(*shape))
    packed = pack_ternary(q)
    assert packed.dtype == torch.uint8 and packed.numel() == -(-q.numel() // 4)
    torch.testing.assert_close(unpack_ternary(packed, tuple(shape)), q.to(torch.int8))
