"""u-Ticket after quantization: re-balance the effective masks, keeping recovered weights non-zero.

Quantizing a balanced ticket zeroes the weights with |w| < a / (2n), unevenly across filters, so
the PE loads of a block drift apart again. ``rebalance`` runs u-Ticket's balancing step on the
effective masks (mask AND Q(w) != 0) and moves every recovered position to the nearest non-zero
level (w = +-a/n, which Q maps to +-c/n), so it survives rounding; removed positions get w = 0.
The sign of a recovered weight is its own sign, or, where the weight is exactly 0 (a pruned
position), the sign of ``signs`` (e.g. the rewind weights) at that position, + where that is 0 too.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

from ..pruning.balance import balance
from .quantizer import effective_masks, levels, quantize


def nearest_nonzero(w: Tensor, a: float, bits: int, sign_ref: Tensor | None = None) -> Tensor:
    """+-a/n: the float weight closest to zero whose quantized value is a non-zero level."""
    s = torch.sign(w)
    if sign_ref is not None:
        s = torch.where(s == 0, torch.sign(sign_ref.to(w.device, w.dtype)), s)
    s = torch.where(s == 0, torch.ones_like(s), s)
    return s * (a / levels(bits))


@torch.no_grad()
def rebalance_weights(weights: Mapping[str, Tensor], before: Mapping[str, Tensor],
                      after: Mapping[str, Tensor], qp: Mapping[str, dict],
                      signs: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
    """New float weights for the masks ``after``: recovered positions at +-a/n, removed ones at 0."""
    out = {}
    for n, w in weights.items():
        if n not in after:
            out[n] = w.clone()
            continue
        w = w.clone()
        on, was = after[n] > 0, before[n] > 0
        if n in qp:
            recovered = on & ~was
            near = nearest_nonzero(w, qp[n]["a"], qp[n]["bits"], None if signs is None else signs.get(n))
            w = torch.where(recovered, near, w)
        out[n] = w * on.to(w.dtype)
    return out


def rebalance(weights: Mapping[str, Tensor], masks: Mapping[str, Tensor], qp: Mapping[str, dict],
              n_pe: int = 16, covered: Sequence[str] | None = None, reference: str = "block",
              seed: int = 0, signs: Mapping[str, Tensor] | None = None) -> dict:
    """Balance the effective masks of a quantized ticket; returns {"masks", "weights", "stats"}.

    ``masks`` (the ticket's), ``weights`` (float, pre-quantization) and ``qp`` (``qparams``) give the
    effective masks; u-Ticket's ``balance`` equalises their block loads; ``rebalance_weights`` places
    recovered weights on the nearest non-zero level. The result's effective masks equal its masks.
    """
    eff = effective_masks(weights, masks, qp)
    new = balance(eff, n_pe=n_pe, reference=reference, covered=covered, seed=seed)
    new_w = rebalance_weights(weights, eff, new, qp, signs)
    recovered = sum(int(((new[n] > 0) & (eff[n] == 0)).sum()) for n in eff)
    removed = sum(int(((new[n] == 0) & (eff[n] > 0)).sum()) for n in eff)
    zeroed = sum(int(((masks[n] > 0) & (eff[n] == 0)).sum()) for n in eff)
    return {"masks": new, "weights": new_w, "effective": eff,
            "stats": {"zeroed_by_quantization": zeroed, "recovered": recovered, "removed": removed}}


def check_survives(weights: Mapping[str, Tensor], masks: Mapping[str, Tensor], qp: Mapping[str, dict]) -> bool:
    """True if every position on in ``masks`` has a non-zero quantized weight (used by tests)."""
    with torch.no_grad():
        return all(bool((quantize(weights[n], qp[n]["a"], qp[n]["c"], qp[n]["bits"])[masks[n] > 0] != 0).all())
                   for n in masks if n in qp)
