"""Figures of chapter 11 (quantization x pruning x u-Ticket), from ``analysis.quant`` frames."""
from __future__ import annotations

import math
import textwrap

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from . import METHOD_COLORS, OTHER_COLORS, figure, legend_below

# A point's colour is its method (read from its name: "LTH ...", "u-Ticket ...", else the dense
# network, black); its marker is its kind.
KIND_MARKERS = {"float": "D", "isolation": "o", "pruned": "s", "cumulative": "^", "joint": "v",
                "rebalanced": "P"}


def _method_color(point: str) -> str:
    if "u-Ticket" in point:
        return METHOD_COLORS["uticket"]
    if "LTH" in point:
        return METHOD_COLORS["lth"]
    return "black"


def zeros(frame: pd.DataFrame):
    """Share of weights at zero per bit width: after QAT, at initialisation, and Schaefer et al.'s (their Table)."""
    fig, axes = figure(1, 1, width=4.5, height=3.0)
    ax = axes[0, 0]
    for col, style, color in (("after QAT", "o-", "black"), ("at init", "s--", "#777777"),
                              ("Schaefer et al.", "^:", OTHER_COLORS[0])):
        s = frame[col].dropna()
        ax.plot(s.index, 100 * s.to_numpy(dtype=float), style, color=color, label=col)
    ax.set_xlabel("weight bits b")
    ax.set_ylabel("weights at zero (%)")
    legend_below(fig)
    return fig


LABEL_CHARS = 30   # widest line of a point label (characters)


def _groups(xs, ys, names, dx: float = 0.1, dy: float = 0.07) -> list[tuple[int, str]]:
    """Points whose labels would overprint (closer than ``dx`` / ``dy`` of the axes, x in log) share
    one label: [(index of the group's top point, "name, name")], wrapped into lines of at most
    ``LABEL_CHARS`` characters."""
    lx = [math.log10(x) for x in xs]
    xspan = (max(lx) - min(lx)) or 1.0
    yspan = (max(ys) - min(ys)) or 1.0
    groups: list[list[int]] = []
    for i in sorted(range(len(xs)), key=lambda i: -ys[i]):
        for g in groups:
            j = g[0]
            if abs(lx[i] - lx[j]) / xspan < dx and abs(ys[i] - ys[j]) / yspan < dy:
                g.append(i)
                break
        else:
            groups.append([i])
    out = []
    for g in groups:
        first = names[g[0]].split(" ")[0]
        rest = [names[i].removeprefix(first + " ") if names[i].startswith(first + " ") else names[i] for i in g[1:]]
        # wrapped at the commas: a long shared label must not widen the figure past the page
        out.append((g[0], textwrap.fill(", ".join([names[g[0]], *rest]), width=LABEL_CHARS,
                                        break_long_words=False, break_on_hyphens=False)))
    return out


def front(frame: pd.DataFrame, x: str = "energy", y: str = "accuracy"):
    """Accuracy against PE energy and latency (log axes with a few plain ticks, in units of a power
    of ten); colour = method, marker = kind, Pareto-optimal points (``pareto`` column) ringed.
    Points whose names would overprint share one label."""
    fig, axes = figure(2, 1, width=4.0, height=3.4)
    for ax, xc in zip(axes[0], (x, "latency")):
        scale = 10 ** math.floor(math.log10(frame[xc].min()))
        xs = (frame[xc] / scale).to_numpy(dtype=float)
        ys = (100 * frame[y]).to_numpy(dtype=float)
        for (xv, yv, point, kind) in zip(xs, ys, frame["point"], frame["kind"]):
            ax.scatter(xv, yv, color=_method_color(point), marker=KIND_MARKERS.get(kind, "o"), s=36, zorder=3)
        if "pareto" in frame:
            best = frame["pareto"].to_numpy(dtype=bool)
            ax.scatter(xs[best], ys[best], s=170, facecolors="none", edgecolors="black", lw=0.8, zorder=2)
        for i, text in _groups(list(xs), list(ys), list(frame["point"])):
            ax.annotate(text, (xs[i], ys[i]), fontsize=7, xytext=(7, 0), textcoords="offset points",
                        va="center")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        lo, hi = xs.min(), xs.max()
        ax.set_xlim(lo / 1.3, hi * 2.2)       # room for the labels right of the points
        what = "PE energy (Eq. 3, E_d" if xc == "energy" else "PE latency (cycles"
        ax.set_xlabel(f"{what}, x 1e{int(math.log10(scale))})" if scale != 1 else f"{what})")
        ax.set_ylabel("test accuracy (%)")
    handles = [Line2D([], [], ls="", marker=KIND_MARKERS.get(k, "o"), color="grey", label=k)
               for k in dict.fromkeys(frame["kind"])]
    handles += [Line2D([], [], ls="", marker="s", color=c, label=m)
                for m, c in (("dense", "black"), ("LTH", METHOD_COLORS["lth"]), ("u-Ticket", METHOD_COLORS["uticket"]))
                if any(_method_color(p) == c for p in frame["point"])]
    handles.append(Line2D([], [], ls="", marker="o", ms=11, mfc="none", color="black", label="Pareto-optimal"))
    fig.legend(handles=handles, loc="outside lower center", ncols=5, fontsize=8, frameon=False)
    return fig
