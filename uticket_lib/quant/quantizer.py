"""The learned-clip uniform weight quantizer of seed 002 (its ``DuQ``), and attaching it to a model.

Per tensor, b bits, n = 2^(b-1) - 1 levels on each side of zero:

    Q(w) = c * round(n * clip(w / a, -1, 1)) / n

with a learned clip ``a`` and a learned scale ``c``, both initialised to max(|mu - 3 sigma|,
|mu + 3 sigma|) of the layer's weights (of its surviving weights when a mask is given). Gradients:
straight through the rounding; the clip passes gradient to w and to a only inside |w| <= a (zero
outside, as torch.clamp's); c gets round(.)/n. b = 2 gives exactly {-c, 0, c} (ternary).
A weight with |w| < a / (2n) rounds to zero: quantization makes zeros, which ``effective_masks``
turns into plain 0/1 masks for the hardware model.
"""
from __future__ import annotations

import types
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MIN_BITS, MAX_BITS = 2, 16
LAYER_SETS = ("all", "covered")


class QuantError(ValueError):
    """A bit width or layer selection the quantizer cannot use."""


def check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise QuantError(f"weight bits must be an integer in [{MIN_BITS}, {MAX_BITS}] (2 = ternary), "
                         f"got {bits!r}; use None for float weights")
    return bits


def levels(bits: int) -> int:
    """n = 2^(b-1) - 1: non-zero levels on each side of zero (1 for ternary)."""
    return 2 ** (check_bits(bits) - 1) - 1


def _round_ste(x: Tensor) -> Tensor:
    return x + (torch.round(x) - x).detach()


def quantize(w: Tensor, a: Tensor | float, c: Tensor | float, bits: int) -> Tensor:
    """Q(w) = c * round(n * clip(w / a, -1, 1)) / n (differentiable: STE on the rounding)."""
    n = levels(bits)
    return c * _round_ste(n * torch.clamp(w / a, -1.0, 1.0)) / n


def init_range(w: Tensor, mask: Tensor | None = None) -> float:
    """max(|mu - 3 sigma|, |mu + 3 sigma|) of the weights (surviving ones if ``mask`` is given)."""
    v = w.detach().flatten().float()
    if mask is not None:
        v = v[mask.flatten().to(v.device) > 0]
    if v.numel() < 2:
        return max(float(v.abs().max()) if v.numel() else 1.0, 1e-8)
    mu, sigma = float(v.mean()), float(v.std())
    return max(abs(mu - 3 * sigma), abs(mu + 3 * sigma), 1e-8)


class Quantizer(nn.Module):
    """Learned clip ``a`` and scale ``c`` (scalar parameters) of one weight tensor."""

    def __init__(self, bits: int, init: float) -> None:
        super().__init__()
        self.bits = check_bits(bits)
        self.a = nn.Parameter(torch.tensor(float(init)))
        self.c = nn.Parameter(torch.tensor(float(init)))

    def forward(self, w: Tensor) -> Tensor:
        return quantize(w, self.a, self.c, self.bits)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"


# ----------------------------------------------------------------------------- attaching to a model
QUANT_ATTR = "wq"   # the quantizer's attribute on a layer: state_dict gains "<layer>.wq.a" / ".wq.c"


def _conv_forward(self: nn.Conv2d, x: Tensor) -> Tensor:
    return self._conv_forward(x, getattr(self, QUANT_ATTR)(self.weight), self.bias)


def _linear_forward(self: nn.Linear, x: Tensor) -> Tensor:
    return F.linear(x, getattr(self, QUANT_ATTR)(self.weight), self.bias)


def _selected(model: nn.Module, layers: str) -> dict[str, nn.Module]:
    if layers not in LAYER_SETS:
        raise QuantError(f"quant layers must be one of {LAYER_SETS}, got {layers!r}")
    encoder = getattr(model, "encoder_name", None)
    out = {}
    for name, m in model.named_modules():
        if not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        wname = f"{name}.weight" if name else "weight"
        if layers == "covered" and (not isinstance(m, nn.Conv2d) or wname == encoder):
            continue
        out[wname] = m
    return out


INITS = ("tensor", "surviving")


def attach(model: nn.Module, bits: int, layers: str = "all",
           masks: Mapping[str, Tensor] | None = None, init: str = "tensor") -> nn.Module:
    """Make the selected layers compute with Q(weight); returns ``model`` (changed in place).

    layers: "all" (every conv and linear layer, first and last included: seed 002) or "covered"
    (every conv but the encoder: the layers u-Ticket balances). Parameter names do not change; each
    quantized layer gains a ``wq`` submodule with the parameters ``a`` and ``c`` (so the optimizer
    learns them and checkpoints keep them). ``a`` and ``c`` start from ``init_range`` of the current
    weights: the whole tensor as stored, pruned zeros included (``init="tensor"``), or only the
    positions ``masks`` keeps (``init="surviving"``). Attaching twice replaces the quantizers.

    Seed 002's code initialises from its whole kernel, where a pruned position keeps the value it
    had when pruned (its mask multiplies after quantization), so its statistics are a dense
    layer's; ours hold zeros there. "surviving" takes the tails of a pruned layer for its
    distribution: 3 sigma of the survivors puts the ternary zero threshold a/2 above most of them.
    """
    check_bits(bits)
    if init not in INITS:
        raise ValueError(f"quantizer init must be one of {INITS}, got {init!r}")
    for wname, m in _selected(model, layers).items():
        mask = None if masks is None or init == "tensor" else masks.get(wname)
        q = Quantizer(bits, init_range(m.weight, mask)).to(m.weight.device)
        setattr(m, QUANT_ATTR, q)
        fwd = _conv_forward if isinstance(m, nn.Conv2d) else _linear_forward
        m.forward = types.MethodType(fwd, m)
    return model


def detach(model: nn.Module) -> nn.Module:
    """Undo ``attach``: float weights again (the quantizers' parameters are dropped)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and hasattr(m, QUANT_ATTR):
            delattr(m, QUANT_ATTR)
            m.__dict__.pop("forward", None)
    return model


def quantizers(model: nn.Module) -> dict[str, Quantizer]:
    """{weight name: its Quantizer} of every quantized layer."""
    return {(f"{n}.weight" if n else "weight"): getattr(m, QUANT_ATTR)
            for n, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear)) and hasattr(m, QUANT_ATTR)}


def qparams(model: nn.Module) -> dict[str, dict]:
    """{weight name: {"a", "c", "bits"}} (plain floats) of every quantized layer."""
    return {n: {"a": float(q.a.detach()), "c": float(q.c.detach()), "bits": q.bits} for n, q in quantizers(model).items()}


@torch.no_grad()
def quantized_weights(weights: Mapping[str, Tensor], qp: Mapping[str, dict]) -> dict[str, Tensor]:
    """Q(w) for every weight with an entry in ``qp``; other weights are returned as they are."""
    return {n: quantize(w, qp[n]["a"], qp[n]["c"], qp[n]["bits"]) if n in qp else w
            for n, w in weights.items()}


@torch.no_grad()
def effective_masks(weights: Mapping[str, Tensor], masks: Mapping[str, Tensor],
                    qp: Mapping[str, dict]) -> dict[str, Tensor]:
    """mask AND (Q(w) != 0): the positions the hardware still has to process (float32 0/1).

    Only removes: a position off in ``masks`` stays off. Layers without a quantizer keep their mask.
    """
    out = {}
    for n, m in masks.items():
        keep = m > 0
        if n in qp:
            keep = keep & (quantize(weights[n].to(m.device), qp[n]["a"], qp[n]["c"], qp[n]["bits"]) != 0)
        out[n] = keep.to(torch.float32)
    return out


def zero_share(weights: Mapping[str, Tensor], qp: Mapping[str, dict]) -> float:
    """Share of the quantized layers' weights that Q maps to zero (seed 002's 'zeros' number)."""
    zeros = total = 0
    with torch.no_grad():
        for n, p in qp.items():
            q = quantize(weights[n], p["a"], p["c"], p["bits"])
            zeros, total = zeros + int((q == 0).sum()), total + q.numel()
    return zeros / total if total else 0.0
