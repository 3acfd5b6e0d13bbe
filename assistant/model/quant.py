"""Quantization: BitNet b1.58 for training, int8 integer kernels for CPU inference, 2-bit packing on disk.

- `BitLinear`: ternary weights {-1, 0, +1} × absmean scale and 8-bit per-token activations, both
  with a straight-through estimator. Train-time only: fake quantization is slower than fp32.
- `Int8Linear`: int8 weights × per-output-channel scale on fbgemm's dynamic int8 kernel (activations
  quantized to 8 bits per call). Ternary × scale is exact in int8, so the export of a BitLinear
  differs from its forward only in how activations are rounded (per tensor, not per token).
- `export_int8(module)`: swaps every Linear/BitLinear (in place) for an Int8Linear. For a model
  trained in fp32 this is plain post-training quantization (per-channel absmax weights).
- `pack_ternary` / `unpack_ternary`: four ternary weights per byte for checkpoints.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACT_QMAX = 127.0
ONEDNN_ROWS = 48
ONEDNN_ROWS_WIDE = 16
"""From this many rows (tokens) oneDNN's dynamic int8 kernel beats fbgemm's (measured on x86, one thread:
(128, 256) x (256, 1024) 80 us vs 155 us; one row 26 us vs 15 us); wide outputs (the token head) cross earlier."""
EPS = 1e-5


# -- fake quantization (training) ----------------------------------------------------------------


def ternary_weight(w: Tensor) -> tuple[Tensor, Tensor]:
    """w: (O, I) -> (q in {-1,0,1} as float (O, I), absmean scale ()): w ≈ q * scale."""
    scale = w.abs().mean().clamp_min(EPS)
    return (w / scale).round().clamp(-1, 1), scale


def quantize_activations(x: Tensor) -> tuple[Tensor, Tensor]:
    """x: (..., I) -> (integers in [-127, 127] as float (..., I), per-token scale (..., 1)): x ≈ q * scale."""
    scale = x.abs().amax(dim=-1, keepdim=True).clamp_min(EPS) / ACT_QMAX
    return (x / scale).round().clamp(-ACT_QMAX, ACT_QMAX), scale


class BitLinear(nn.Linear):
    """BitNet b1.58 linear layer: ternary absmean weights, 8-bit absmax activations, STE gradients."""

    def forward(self, x: Tensor) -> Tensor:
        q, w_scale = ternary_weight(self.weight)
        w = self.weight + (q * w_scale - self.weight).detach()  # straight-through
        xq, x_scale = quantize_activations(x)
        x = x + (xq * x_scale - x).detach()
        return F.linear(x, w, self.bias)


# -- integer inference ---------------------------------------------------------------------------


class Int8Linear(nn.Module):
    """y = x @ dequant(W_int8)^T + b on PyTorch's fused dynamic int8 kernels. Inference only.

    Weights are int8 with a per-output-channel scale (exact for BitLinear: ternary × absmean);
    activations are quantized per call to 8 bits inside the kernel, which also dequantizes in its
    output stage, so no extra pass over the output is made (the reason it beats `torch._int_mm`
    plus separate quantize/dequantize ops by ~2× at every batch size on a CPU). The weights are packed
    twice: oneDNN's kernel serves many rows (a context), fbgemm's a few (generation, one token)."""

    def __init__(self, weight_int8: Tensor, weight_scale: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        out_features, in_features = weight_int8.shape
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight_t", weight_int8.t().contiguous())  # (I, O) int8: what checkpoints store
        self.register_buffer("weight_scale", weight_scale.reshape(1, out_features).float())  # (1, O)
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        self._packed: object | None = None
        self._packed_rows: object | None = None

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        """Exact for BitLinear (ternary × absmean scale); per-channel absmax PTQ for plain Linear."""
        w = linear.weight.detach().float()
        if isinstance(linear, BitLinear):
            q, scale = ternary_weight(w)
            return cls(q.to(torch.int8), scale.expand(w.shape[0]).clone(), linear.bias)
        scale = w.abs().amax(dim=1).clamp_min(EPS) / ACT_QMAX  # (O,)
        q = (w / scale[:, None]).round().clamp(-ACT_QMAX, ACT_QMAX).to(torch.int8)
        return cls(q, scale, linear.bias)

    def _pack(self, engine: str) -> object:
        with warnings.catch_warnings():  # the quantized-tensor constructors warn of a future removal
            warnings.simplefilter("ignore")
            scales = self.weight_scale.reshape(-1).double()
            zero = torch.zeros(self.out_features, dtype=torch.long)
            weight = torch._make_per_channel_quantized_tensor(self.weight_t.t().contiguous(), scales, zero, 0)
            previous = torch.backends.quantized.engine
            torch.backends.quantized.engine = engine  # packed weights are engine-specific; calls need not be
            try:
                return torch.ops.quantized.linear_prepack(weight, self.bias)
            finally:
                torch.backends.quantized.engine = previous

    def _packs(self) -> tuple[object, object | None]:
        if self._packed is None:
            engines = torch.backends.quantized.supported_engines
            small = "fbgemm" if "fbgemm" in engines else torch.backends.quantized.engine
            self._packed = self._pack(small)
            self._packed_rows = self._pack("onednn") if "onednn" in engines else None
        return self._packed, self._packed_rows

    def _load_from_state_dict(self, *args: object, **kwargs: object) -> None:
        super()._load_from_state_dict(*args, **kwargs)  # type: ignore[arg-type]
        self._packed = self._packed_rows = None  # weights changed: pack again on next use

    def __deepcopy__(self, memo: dict) -> Int8Linear:
        return Int8Linear(self.weight_t.t().clone(), self.weight_scale.clone(),
                          None if self.bias is None else self.bias.clone())

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        small, rows = self._packs()
        shape = x.shape
        x2 = x.reshape(-1, self.in_features).float()
        many = rows is not None and x2.shape[0] >= (ONEDNN_ROWS_WIDE if self.out_features >= 4096 else ONEDNN_ROWS)
        y = torch.ops.quantized.linear_dynamic(x2, rows if many else small, False)
        return y.reshape(*shape[:-1], self.out_features)

    def reference(self, x: Tensor) -> Tensor:
        """Float reference of the same weights (dequantized), for tests."""
        w = self.weight_t.t().float() * self.weight_scale.t()
        return F.linear(x, w, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


def export_int8(module: nn.Module, skip: tuple[str, ...] = ()) -> nn.Module:
    """Replace every nn.Linear (BitLinear included) below `module` with an Int8Linear, in place.

    Names in `skip` (qualified module names) are left in float."""
    for name, child in list(module.named_children()):
        if name in skip:
            continue
        if isinstance(child, nn.Linear):
            setattr(module, name, Int8Linear.from_linear(child))
        else:
            export_int8(child, skip=tuple(s.split(".", 1)[1] for s in skip if s.startswith(name + ".")))
    return module


# -- 2-bit packing -------------------------------------------------------------------------------


def pack_ternary(q: Tensor) -> Tensor:
    """Ternary int tensor (any shape, values in {-1,0,1}) -> uint8 (ceil(n/4),), four codes per byte."""
    flat = (q.flatten().to(torch.int16) + 1).to(torch.uint8)  # codes 0, 1, 2
    pad = (-flat.numel()) % 4
    if pad:
        flat = torch.cat([flat, torch.ones(pad, dtype=torch.uint8)])
    c = flat.view(-1, 4)
    return c[:, 0] | (c[:, 1] << 2) | (c[:, 2] << 4) | (c[:, 3] << 6)


def unpack_ternary(packed: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Inverse of pack_ternary -> int8 tensor of `shape` with values in {-1,0,1}."""
    n = 1
    for s in shape:
        n *= s
    codes = torch.stack([(packed >> s) & 0b11 for s in (0, 2, 4, 6)], dim=1).flatten()[:n]
    return (codes.to(torch.int8) - 1).reshape(shape)
