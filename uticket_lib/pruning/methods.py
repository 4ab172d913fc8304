"""Pruning methods: what a level's mask is, given the previous level. One registry entry per method.

A method's ``step(weights, previous, cfg, covered, level) -> Step`` takes the previous level's trained
weights and mask ({name: tensor}), the run's ``RunConfig`` (read for ``prune.*`` and its own
section), the layers u-Ticket-style adjustments may touch (every conv but the encoder) and the level
number (seeds), and returns the mask the level trains with, plus, where the method adjusts a pruned
mask, that pruned mask (kept as ``mask_pruned.pt``) and its statistics (``balance.json``).

Adding a method is an entry in ``METHODS`` (and, for its own knobs, a config field); the driver, the
CLI's choices, validation and the analysis labels read the registry. Functions are looked up at call
time (``magnitude.prune``, ``balance.balance``), so a test that patches them reaches every run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from torch import Tensor

from . import balance as balancing
from . import magnitude
from .mask import Masks, sparsity


@dataclass(frozen=True)
class Step:
    mask: Masks                      # what the level trains with
    pruned: Masks | None = None      # before the method's adjustment (kept as mask_pruned.pt)
    stats: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    label: str                                        # as the book prints it
    step: Callable[..., Step]
    # True where the step must see the previous level's unadjusted mask (mask_pruned.pt), as the
    # released u-Ticket code's global prune_by_percentile does
    unadjusted_previous: Callable[[Any], bool] = lambda cfg: False


def _magnitude(weights: Mapping[str, Tensor], previous: Masks, cfg) -> Masks:
    return magnitude.prune({n: weights[n] for n in previous}, previous, cfg.prune.fraction, cfg.prune.scope)


def lth(weights: Mapping[str, Tensor], previous: Masks, cfg, covered: Sequence[str], level: int) -> Step:
    """Iterative magnitude pruning: remove ``prune.fraction`` of the survivors (Frankle & Carbin)."""
    return Step(_magnitude(weights, previous, cfg))


def uticket(weights: Mapping[str, Tensor], previous: Masks, cfg, covered: Sequence[str],
            level: int) -> Step:
    """Magnitude pruning, then u-Ticket's workload balancing of every covered layer (Algorithm 1).

    ``balance.carry`` (the paper) prunes the previous balanced mask; without it, the released
    ``prune_by_percentile`` thresholds the trained weights and applies the threshold to the previous
    level's unbalanced mask (``unadjusted_previous``), so recovered weights never carry over.
    """
    if cfg.balance.carry:
        pruned = _magnitude(weights, previous, cfg)
    else:
        pruned = magnitude.prune_released({n: weights[n] for n in previous}, previous, cfg.prune.fraction)
    final = balancing.balance(pruned, n_pe=cfg.balance.n_pe, reference=cfg.balance.reference,
                              covered=covered, seed=cfg.balance.seed * 1000 + level)
    return Step(final, pruned, balance_stats(pruned, final))


def balance_stats(before: Masks, after: Masks) -> dict:
    """Weights balancing recovered (0 -> 1) and removed (1 -> 0), and the sparsity before it."""
    recovered = sum(int(((after[n] > 0) & (before[n] == 0)).sum()) for n in before)
    removed = sum(int(((after[n] == 0) & (before[n] > 0)).sum()) for n in before)
    return {"recovered": recovered, "removed": removed, "sparsity_before_balance": sparsity(before)}


METHODS: dict[str, Method] = {
    "lth": Method("LTH", lth),
    "uticket": Method("u-Ticket", uticket, unadjusted_previous=lambda cfg: not cfg.balance.carry),
}
