"""Intervals for noisy numbers: paired accuracy differences and the spread over seeds.

Two classifiers evaluated on the same n test images give paired outcomes. With b = images only
the first gets right and c = images only the second gets right, the accuracy difference is
``(b - c) / n`` (first minus second). ``paired_difference`` gives its 95 % interval by Newcombe's
method 10 (Wilson score intervals of the two marginal proportions combined with the phi
correlation of the pairs; Newcombe, Stat. Med. 17:2635, 1998), which stays inside [-1, 1] and
behaves for small discordant counts, unlike the Wald interval.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

Z95 = 1.959963984540054   # two-sided 95 % normal quantile
# two-sided 95 % quantiles of Student's t by degrees of freedom (any statistics table)
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
       10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}


def t95(df: int) -> float:
    """Two-sided 95 % Student-t quantile for ``df`` >= 1 degrees of freedom (the next smaller tabled
    df where ``df`` is not tabled, which errs wide; beyond 30 the normal quantile, at most 4 % narrow)."""
    if df < 1:
        raise ValueError(f"t quantile needs at least 1 degree of freedom (2 seeds), got {df}")
    if df > 30:
        return Z95
    return T95[max(k for k in T95 if k <= df)]


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (0, 1 when n = 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class PairedDiff:
    """Accuracy of A minus accuracy of B on the same images, with its 95 % interval."""
    n: int
    acc_a: float
    acc_b: float
    diff: float          # acc_a - acc_b
    lo: float
    hi: float
    only_a: int          # images A gets right and B wrong
    only_b: int

    def text(self, scale: float = 100.0, unit: str = " pts") -> str:
        return (f"{scale * self.diff:+.2f}{unit} [{scale * self.lo:+.2f}, {scale * self.hi:+.2f}] "
                f"(95 % CI, n = {self.n})")


def counts(correct_a, correct_b) -> tuple[int, int, int, int]:
    """(both right, only A, only B, both wrong) of two per-image correctness vectors."""
    a = torch.as_tensor(correct_a).reshape(-1).bool()
    b = torch.as_tensor(correct_b).reshape(-1).bool()
    if a.numel() != b.numel():
        raise ValueError(f"paired correctness vectors differ in length ({a.numel()} vs {b.numel()}); "
                         "evaluate both classifiers on the same test images")
    return (int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum()), int((~a & ~b).sum()))


def newcombe(both: int, only_a: int, only_b: int, neither: int, z: float = Z95) -> tuple[float, float, float]:
    """Newcombe's method-10 interval of p_A - p_B for paired binary outcomes: (diff, lo, hi)."""
    n = both + only_a + only_b + neither
    if n == 0:
        return 0.0, -1.0, 1.0
    ra, rb = both + only_a, both + only_b          # right by A, right by B
    pa, pb = ra / n, rb / n
    diff = pa - pb
    l1, u1 = wilson(ra, n, z)
    l2, u2 = wilson(rb, n, z)
    # phi correlation of the 2x2 table, 0 when any margin is empty (Newcombe's convention)
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    phi = (both * neither - only_a * only_b) / math.sqrt(margins) if margins > 0 else 0.0
    dl = math.sqrt(max(0.0, (pa - l1) ** 2 - 2 * phi * (pa - l1) * (u2 - pb) + (u2 - pb) ** 2))
    du = math.sqrt(max(0.0, (u1 - pa) ** 2 - 2 * phi * (u1 - pa) * (pb - l2) + (pb - l2) ** 2))
    return diff, max(-1.0, diff - dl), min(1.0, diff + du)


def paired_difference(correct_a, correct_b, z: float = Z95) -> PairedDiff:
    """Accuracy of A minus B over the same images (bool / 0-1 vectors), 95 % Newcombe interval."""
    both, oa, ob, neither = counts(correct_a, correct_b)
    n = both + oa + ob + neither
    diff, lo, hi = newcombe(both, oa, ob, neither, z)
    return PairedDiff(n, (both + oa) / max(n, 1), (both + ob) / max(n, 1), diff, lo, hi, oa, ob)


def spread(values: Sequence[float]) -> dict:
    """Mean, sample standard deviation, min and max of per-seed values (std nan for one seed)."""
    v = [float(x) for x in values]
    if not v:
        raise ValueError("spread of an empty list; run at least one seed")
    mean = sum(v) / len(v)
    std = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else float("nan")
    return {"n": len(v), "mean": mean, "std": std, "min": min(v), "max": max(v)}


def mean_t(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, 95 % low, high) of per-seed ``values``: Student's t interval of the mean (nan bounds
    for one value)."""
    s = spread(values)
    if s["n"] < 2:
        return s["mean"], float("nan"), float("nan")
    half = t95(s["n"] - 1) * s["std"] / math.sqrt(s["n"])
    return s["mean"], s["mean"] - half, s["mean"] + half


def paired_t(before: Sequence[float], after: Sequence[float]) -> tuple[float, float, float]:
    """(mean of after - before, 95 % low, high) over pairs that share everything but the change (the
    same seed and dense network): Student's t interval of the per-pair differences."""
    if len(before) != len(after):
        raise ValueError(f"paired values need equal lengths, got {len(before)} and {len(after)}")
    if len(before) < 2:
        raise ValueError(f"a paired interval needs >= 2 pairs, got {len(before)}")
    return mean_t([b - a for a, b in zip(before, after)])


def welch(before: Sequence[float], after: Sequence[float]) -> tuple[float, float, float]:
    """(mean(after) - mean(before), 95 % low, high) for two independent samples of seeds (Welch's t
    interval; degrees of freedom by Welch-Satterthwaite, rounded down, which errs wide)."""
    a, b = spread(before), spread(after)
    if a["n"] < 2 or b["n"] < 2:
        raise ValueError(f"Welch's interval needs >= 2 values on each side, got {a['n']} and {b['n']}")
    va, vb = a["std"] ** 2 / a["n"], b["std"] ** 2 / b["n"]
    diff = b["mean"] - a["mean"]
    if va + vb == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (a["n"] - 1) + vb ** 2 / (b["n"] - 1))
    half = t95(max(1, math.floor(df))) * math.sqrt(va + vb)
    return diff, diff - half, diff + half


@dataclass(frozen=True)
class SeedSpread:
    """Run-to-run spread of one quantity (points) over ``n`` training seeds: its sample standard
    deviation ``std`` and where it was measured (``source``). ``values``: the per-seed values where the
    quantity itself was recorded (None for a derived spread); ``factor``: what ``std`` is of one
    run's recorded std (sqrt 2 for the difference of two independent runs)."""
    n: int
    std: float
    source: str
    values: tuple[float, ...] | None = None
    factor: float = 1.0

    def half_width(self) -> float:
        """95 % half-width for one run's deviation from the recipe's mean: t(n-1) x std."""
        return t95(self.n - 1) * self.std

    def text(self) -> str:
        """How the seed part of an interval was made, e.g. "t(2) 4.303 x std 0.27 over 3 seeds"."""
        one = self.std / self.factor
        std = f"std {one:.2f} x {self.factor:.3g} = {self.std:.2f}" if self.factor != 1 else f"std {self.std:.2f}"
        vals = f" (seeds: {', '.join(f'{v:+.2f}' for v in self.values)})" if self.values else ""
        return f"seeds +-{self.half_width():.2f} = t({self.n - 1}) {t95(self.n - 1)} x {std} over {self.n} seeds{vals}, {self.source}"


def with_seeds(diff: PairedDiff, seeds: SeedSpread) -> tuple[float, float]:
    """(lo, hi) of ``diff`` (fractions) whose test-image interval is widened by the seed spread
    (points): each side's half-width and the seed half-width add in quadrature; kept inside [-1, 1],
    the range an accuracy difference can take."""
    h = seeds.half_width() / 100
    lo = diff.diff - math.hypot(diff.diff - diff.lo, h)
    hi = diff.diff + math.hypot(diff.hi - diff.diff, h)
    return max(-1.0, lo), min(1.0, hi)
