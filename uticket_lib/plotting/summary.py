"""The landing page's figure: this build against the paper, one dot per headline metric and network.

Input: the ``headline`` records of the chapters' claims (``analysis.landing.headline_records``),
each ``{"metric", "arch", "value", "paper", "unit", "expected", ...}``; the rows, their labels and
which metrics are sizes to compare come from ``analysis.claims.HEADLINE``.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import FixedLocator, NullLocator

from ..analysis.claims import HEADLINE, REL_TOL
from . import ARCH_COLORS, ARCH_LABELS, figure

RATIO_TICKS = (0.01, 0.03, 0.1, 0.3, 0.5, 1, 2, 3)


def plotted(record: dict) -> bool:
    """A record has a dot: a paper value and a ratio > 0 (a log axis has no place for the opposite sign)."""
    v, p = record.get("value"), record.get("paper")
    return v is not None and p not in (None, 0) and v / p > 0 and math.isfinite(v / p)


def ratio_dots(records: list[dict], labels: dict[str, str] | None = None, tolerance: float = REL_TOL,
               compare=None):
    """Dot plot of value / paper on a log axis per metric (rows, in ``labels`` order) and network
    (colours); the band is the PASS tolerance of an effect's size (``tolerance``, relative).
    ``labels``: {metric: row label} (default: ``HEADLINE``'s); ``compare``: the metrics whose ratio is
    a size comparison (default: those ``HEADLINE`` marks so); the others get no row."""
    labels = {k: v[0] for k, v in HEADLINE.items()} if labels is None else labels
    compare = {k for k, v in HEADLINE.items() if v[2]} if compare is None else set(compare)
    metrics = [m for m in labels if m in compare and any(r["metric"] == m and plotted(r) for r in records)]
    archs = list(dict.fromkeys(r["arch"] for r in records))
    fig, axes = figure(width=6.2, height=0.2 * max(len(metrics), 1) + 0.5)   # ~210 px: the first screen
    ax = axes[0, 0]
    ax.axvspan(1 - tolerance, 1 + tolerance, color="#cccccc", alpha=0.5, lw=0, label=f"paper +-{100 * tolerance:.0f} %")
    ax.axvline(1, color="black", lw=0.8)
    offsets = np.linspace(-0.15, 0.15, len(archs)) if len(archs) > 1 else [0.0]
    ratios, any_expected = [], False
    for off, arch in zip(offsets, archs):
        ys, xs = [], []
        for i, m in enumerate(metrics):
            for r in records:
                if r["metric"] == m and r["arch"] == arch and plotted(r):
                    ys.append(i + off)
                    xs.append(r["value"] / r["paper"])
        ratios += xs
        ax.scatter(xs, ys, s=36, color=ARCH_COLORS.get(arch, "#333333"), zorder=3,
                   label=ARCH_LABELS.get(arch, arch))
        # what this build's own numbers predict (the claim's ``expected``), over the paper's: open circles
        ex = [(r["expected"] / r["paper"], i + off) for i, m in enumerate(metrics) for r in records
              if r["metric"] == m and r["arch"] == arch and plotted(r) and r.get("expected")
              and r["expected"] / r["paper"] > 0]
        if ex:
            ratios += [x for x, _ in ex]
            ax.scatter([x for x, _ in ex], [y for _, y in ex], s=60, facecolors="none", linewidths=1.0,
                       edgecolors=ARCH_COLORS.get(arch, "#333333"), zorder=2)
            any_expected = True
    if any_expected:        # one legend entry for the open circles, after the networks'
        ax.scatter([], [], s=60, facecolors="none", edgecolors="#555555", linewidths=1.0, label="expected here")
    ax.set_xscale("log")
    lo = min([0.5, *ratios]) / 1.5
    hi = max([2.0, *ratios]) * 1.5
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator([t for t in RATIO_TICKS if lo <= t <= hi]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:g}")
    ax.set_yticks(range(len(metrics)), [labels[m] for m in metrics])
    ax.set_ylim(len(metrics) - 0.5, -0.5)
    ax.grid(axis="y", alpha=0)
    ax.set_xlabel("this build / the paper (log scale)", fontsize=8)
    fig.legend(loc="outside right upper", frameon=False, fontsize=8)
    return fig
