"""Iterative magnitude pruning (Algorithm 1, line 5: Prune).

Each call removes exactly ``round(fraction * survivors)`` of the surviving weights with the
smallest |w|, either over all masked tensors together ("global", the released code's choice) or
tensor by tensor ("layer"). ``round`` is Python's (halves to even). Ties at the threshold are
broken by position: dict order of the masks, then flat index, earlier positions pruned first.

``prune_released`` is the released code's global percentile prune instead (switch
``balance.carry = False``): a threshold over the non-zero *trained* weights, applied to a mask that
may differ from the one the weights were trained under.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from uticket_lib.pruning.mask import Masks

SCOPES = ("global", "layer")


def prune(weights: Mapping[str, Tensor], masks: Mapping[str, Tensor], fraction: float,
          scope: str = "global") -> Masks:
    """New float32 masks with `round(fraction * survivors)` more of the smallest |w| set to 0.

    `weights` must hold every name in `masks` (extra names are ignored). Inputs are not modified;
    only weights that survive in `masks` can be removed, so masks only shrink.
    """
    _validate(weights, masks, fraction, scope)
    groups = [list(masks)] if scope == "global" else [[name] for name in masks]
    out: Masks = {}
    for names in groups:
        out.update(_prune_group([weights[n] for n in names], [masks[n] for n in names], names, fraction))
    return out


def prune_released(weights: Mapping[str, Tensor], masks: Mapping[str, Tensor],
                   fraction: float) -> Masks:
    """The released code's global ``prune_by_percentile``, as new float32 masks.

    ``alive`` = every non-zero entry of ``weights[n]`` over all names ``n`` in ``masks`` (whatever
    ``masks`` says: in the released u-Ticket loop the weights were trained under the balanced mask
    while ``masks`` is the previous round's unbalanced one). The threshold is the entry at index
    ``floor(len(alive) * (100 * fraction) / 100)`` of ``sort(|alive|)`` (the code takes a percent);
    the new mask is 0 where ``|w| < thr`` and ``masks[n]`` elsewhere. So the number removed is not
    ``round(fraction * survivors)``: positions already 0 in ``masks`` stay 0, positions with a zero
    trained weight always fall below ``thr``, and recovered weights (1 in the weights, 0 in the
    stale mask) raise the threshold without being counted.
    """
    _validate(weights, masks, fraction, "global")
    mags = {n: weights[n].detach().to("cpu", torch.float64).abs() for n in masks}
    alive = torch.cat([m[m != 0] for m in mags.values()])
    if alive.numel() == 0:
        return {n: masks[n].detach().to(torch.float32).clone() for n in masks}
    index = int(np.floor(alive.numel() * (100.0 * float(fraction)) / 100.0))
    thr = float(alive.sort().values[min(index, alive.numel() - 1)])
    out: Masks = {}
    for n, m in masks.items():
        keep = m.detach().to("cpu", torch.float32) * (mags[n] >= thr).to(torch.float32)
        out[n] = keep.to(m.device)
    return out


def _validate(weights: Mapping[str, Tensor], masks: Mapping[str, Tensor], fraction: float,
              scope: str) -> None:
    if not masks:
        raise ValueError("no masks to prune; pass at least one mask")
    if scope not in SCOPES:
        raise ValueError(f"unknown pruning scope {scope!r}; use one of {SCOPES}")
    if not 0.0 <= float(fraction) < 1.0:
        raise ValueError(f"pruning fraction must be in [0, 1), got {fraction}")
    missing = [n for n in masks if n not in weights]
    if missing:
        raise ValueError(f"no weights for masked parameters {missing[:3]}; pass every masked tensor")
    bad = [n for n in masks if weights[n].shape != masks[n].shape]
    if bad:
        raise ValueError(f"weight and mask shapes differ for {bad[:3]}; the mask belongs to another model")
    bad = [n for n in masks if not torch.isfinite(weights[n]).all()]
    if bad:
        raise ValueError(f"non-finite weights in {bad[:3]}; training diverged, prune a finite checkpoint")


def _prune_group(weights: list[Tensor], masks: list[Tensor], names: list[str], fraction: float) -> Masks:
    """Prune one group of tensors against a single threshold; returns its new masks."""
    keep = [m.detach().to("cpu").ne(0).reshape(-1) for m in masks]
    dtype = torch.float64 if any(w.dtype == torch.float64 for w in weights) else torch.float32
    # scores [N]: |w| for survivors, +inf for pruned entries (never selected while k <= survivors)
    scores = torch.cat([
        torch.where(k, w.detach().to("cpu", dtype).abs().reshape(-1), torch.inf)
        for w, k in zip(weights, keep)
    ])
    n_remove = round(fraction * sum(int(k.sum()) for k in keep))
    drop = _smallest(scores, n_remove)  # [N] bool
    out, start = {}, 0
    for name, m, k in zip(names, masks, keep):
        new = (k & ~drop[start:start + k.numel()]).to(torch.float32)
        out[name] = new.reshape(m.shape).to(m.device)
        start += k.numel()
    return out


def _smallest(scores: Tensor, k: int) -> Tensor:
    """Bool [N]: exactly the k smallest scores, ties resolved towards lower indices."""
    if k == 0:
        return torch.zeros_like(scores, dtype=torch.bool)
    kth = float(np.partition(scores.numpy(), k - 1)[k - 1])  # O(N) selection
    drop = scores < kth
    ties = (scores == kth).nonzero().squeeze(1)  # ascending indices
    drop[ties[: k - int(drop.sum())]] = True
    return drop
