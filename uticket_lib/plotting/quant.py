"""Figures of chapter 11 (quantization x pruning x u-Ticket), from ``analysis.quant`` frames."""
from __future__ import annotations

import pandas as pd

from . import METHOD_COLORS, figure

KIND_COLORS = {"float": "black", "isolation": METHOD_COLORS["paper"], "pruned": METHOD_COLORS["lth"],
               "cumulative": METHOD_COLORS["uticket"], "joint": "#e7298a", "rebalanced": "#66a61e"}


def zeros(frame: pd.DataFrame):
    """Share of weights at zero per bit width: after QAT, at initialisation, and Schaefer et al.'s (their Table)."""
    fig, axes = figure(1, 1, width=4.5, height=3.0)
    ax = axes[0, 0]
    for col, style in (("after QAT", "o-"), ("at init", "s--"), ("Schaefer et al.", "^:")):
        s = frame[col].dropna()
        ax.plot(s.index, 100 * s.to_numpy(dtype=float), style, label=col)
    ax.set_xlabel("weight bits b")
    ax.set_ylabel("weights at zero (%)")
    ax.legend(fontsize=8)
    return fig


def front(frame: pd.DataFrame, x: str = "energy", y: str = "accuracy"):
    """Accuracy against PE energy and latency; Pareto-optimal points (``pareto`` column) ringed."""
    fig, axes = figure(2, 1, width=4.0, height=3.2)
    for ax, xc in zip(axes[0], (x, "latency")):
        for kind, g in frame.groupby("kind"):
            ax.scatter(g[xc], 100 * g[y], color=KIND_COLORS.get(kind, "grey"), label=kind, zorder=3)
        best = frame[frame["pareto"]] if "pareto" in frame else frame.iloc[:0]
        ax.scatter(best[xc], 100 * best[y], s=160, facecolors="none", edgecolors="black", zorder=2)
        for _, r in frame.iterrows():
            ax.annotate(r["point"], (r[xc], 100 * r[y]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(f"PE {xc} (Eq. 3, E_d)" if xc == "energy" else "PE latency (cycles)")
        ax.set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize=7)
    return fig
