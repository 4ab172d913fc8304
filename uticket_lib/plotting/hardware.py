"""Figures of the hardware chapters (5-8, 10). Every function takes a DataFrame from
``analysis.hwframes`` (and ``analysis.paper_compare``) and returns a matplotlib figure."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import (ARCH_LABELS, LEVEL_COLORS, METHOD_COLORS, METHOD_LABELS, OTHER_COLORS, PAPER_MARKER, arch_color, figure,
               layer_ticks, legend_below, paper_points, trend)

from ..analysis.labels import name as _name


def layer_bars(frame: pd.DataFrame, title: str = ""):
    """Fig. 6: per covered layer, work / idle / latency (cycles) and utilization of LTH vs u-Ticket.

    frame: ``analysis.hwframes.layer_frame``.
    """
    fig, axes = figure(ncols=2, nrows=2, width=5.2, height=2.8)
    methods = list(dict.fromkeys(frame.method))           # baseline, candidate (the pair's order)
    names = frame[frame.method == methods[0]]["layer"].tolist()
    x = np.arange(len(names))
    for ax, key, ylabel in zip(axes.flat, ("work", "idle", "latency", "utilization"),
                               ("work cycles", "idle cycles", "latency (cycles)", "utilization (Eq. 2)")):
        for i, m in enumerate(methods):
            v = frame[frame.method == m][key].to_numpy()
            ax.bar(x + (i - 0.5) * 0.4, v, 0.4, color=METHOD_COLORS.get(m, "#999999"), label=_name(m))
        ax.set_ylabel(ylabel)
        ax.set_xticks(x, layer_ticks(len(x)))
        ax.set_xlabel("covered layer")
    legend_below(fig, ncols=2)
    if title:
        fig.suptitle(title)
    return fig


def energy_bars(frame: pd.DataFrame):
    """Fig. 7(a): Eq. 3 energy of LTH and u-Ticket per arch (frame: ``hwframes.energy_frame``), with the
    reduction written above each pair and the paper's reduction in brackets. A star on each u-Ticket
    bar marks the energy the paper's reduction would give: this build's LTH energy x (1 - paper %)."""
    fig, axes = figure(width=5.5)
    ax = axes[0, 0]
    x = np.arange(len(frame))
    paper_col = [c for c in frame.columns if c.startswith("paper reduction")][0]
    for i, (col, key) in enumerate((("energy LTH", "lth"), ("energy u-Ticket", "uticket"))):
        ax.bar(x + (i - 0.5) * 0.4, frame[col], 0.4, color=METHOD_COLORS[key], label=METHOD_LABELS[key])
    for xi, (_, r) in zip(x, frame.iterrows()):
        ax.text(xi, r["energy LTH"] * 1.02, f"-{r['reduction %']:.1f} % (paper -{r[paper_col]:.1f} %)",
                ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, frame.index)
    ax.set_ylabel(f"PE energy ({frame['unit'].iloc[0]})")
    paper_points(ax, list(x + 0.2), [r["energy LTH"] * (1 - r[paper_col] / 100) if pd.notna(r[paper_col]) else None
                                     for _, r in frame.iterrows()],
                 "paper (Fig. 7a): LTH energy x (1 - paper reduction)")
    ax.set_ylim(0, frame["energy LTH"].max() * 1.2)
    legend_below(fig)
    return fig


def energy_vs_sparsity(frames: dict[str, pd.DataFrame], paper: dict | None = None,
                       paper_label: str = "paper"):
    """Fig. 7(b): energy reduction of u-Ticket vs LTH against LTH weight sparsity, one line per arch
    (frames: {arch label: ``hwframes.energy_vs_sparsity``}), in the arch's colour. ``paper``:
    {arch or label: (weight sparsity %, reduction %)} (``paper_compare.fig7a_points``), a star
    edged in the arch's colour labelled "``paper_label``, <arch>"."""
    fig, axes = figure(width=5.0)
    ax = axes[0, 0]
    for (name, f), marker in zip(frames.items(), "os^v"):
        ax.plot(100 * f["sparsity LTH"], f["reduction %"], marker=marker, color=arch_color(name), label=name,
                **trend(len(f)))
    for name, (s, r) in (paper or {}).items():
        label = ARCH_LABELS.get(name, name)
        paper_points(ax, [s], [r], f"{paper_label}, {label}", edgecolors=arch_color(name), linewidths=1.2,
                     s=140)
    ax.set_xlabel("weight sparsity of the LTH mask (%)")
    ax.set_ylabel("energy reduction vs LTH (%)")
    legend_below(fig, ncols=2)
    return fig


def breakdown_bars(frames: dict[str, pd.DataFrame]):
    """Fig. 8: stacked PE energy components of LTH and u-Ticket per arch
    (frames: {arch label: ``hwframes.breakdown_frame``}), in pJ."""
    fig, axes = figure(ncols=len(frames), width=3.6, height=3.4)
    comps = ["mac_dyn", "mem_dyn", "lif_dyn", "mac_leak", "lif_leak", "mem_leak"]
    # dynamic dark, leakage light; no hue of a method or a network
    colors = ["#08306b", "#e6ab02", "#e7298a", "#6baed6", "#fbb4d9", "#fde68a"]
    for ax, (name, f) in zip(axes.flat, frames.items()):
        bottom = np.zeros(2)
        for c, col in zip(comps, colors):
            v = f.loc[c, ["LTH", "u-Ticket"]].to_numpy(dtype=float)
            ax.bar([0, 1], v, 0.6, bottom=bottom, color=col, label=c)
            bottom += v
        ax.set_xticks([0, 1], ["LTH", "u-Ticket"])
        ax.set_title(name)
        ax.set_ylabel("PE energy (pJ)")
    legend_below(fig)
    return fig


def pe_sweep(table: pd.DataFrame, title: str = "", paper_label: str = "paper (VGG-16, Table III)"):
    """Table III as a figure: normalised latency (log-log) and energy against n_PE for every sweep
    in ``paper_compare.table_iii`` (columns 'latency NAME' / 'energy NAME'); ``title`` names the architecture.
    The paper's column, where the table has one, is drawn dotted and labelled ``paper_label``."""
    fig, axes = figure(ncols=2, width=3.6)
    names = [c.removeprefix("latency ") for c in table.columns if c.startswith("latency ")]
    colors = {"u-Ticket": METHOD_COLORS["uticket"], "LTH": METHOD_COLORS["lth"], "paper": METHOD_COLORS["paper"]}
    others = iter(OTHER_COLORS)
    for name, marker in zip(names, "os^vDx"):
        paper_line = name == "paper"
        style = dict(marker=PAPER_MARKER["marker"], ms=9, ls=":") if paper_line else dict(marker=marker, ls="-")
        label = paper_label if paper_line else name
        color = colors.get(name)
        if color is None:                     # a variant (e.g. "LTH rebalanced"): its own hue, dashed
            color, style = next(others), dict(marker=marker, ls="--", mfc="none")
        axes[0, 0].plot(table.index, table[f"latency {name}"], color=color, label=label, **style)
        axes[0, 1].plot(table.index, table[f"energy {name}"], color=color, label=label, **style)
    if title:
        fig.suptitle(title)
    axes[0, 0].plot(table.index, table["ideal latency 2/n"], color="k", lw=0.8, ls="--", label="ideal 2/n")
    axes[0, 0].set_xscale("log", base=2)
    axes[0, 0].set_yscale("log", base=2)
    axes[0, 1].set_xscale("log", base=2)
    axes[0, 0].set_ylabel("latency / latency at 2 PEs")
    axes[0, 1].set_ylabel("energy / energy at 2 PEs")
    for ax in axes.flat:
        ax.set_xlabel("number of PEs")
    legend_below(fig)
    return fig


def memory_bars(frame: pd.DataFrame, title: str = ""):
    """Fig. 9, per layer (frame: ``hwframes.memory_frame``): weight and spike bits, dense vs compressed
    (log scale), and the DRAM / GLB / scratchpad energy of every covered layer."""
    fig, axes = figure(ncols=2, width=5.0, height=3.2)
    x = np.arange(len(frame))
    ax = axes[0, 0]
    for off, col, c in ((-0.3, "weights dense (kbit)", "#fbb4d9"), (-0.1, "weights WSP (kbit)", "#e7298a"),
                        (0.1, "spikes in dense (kbit)", "#fde68a"), (0.3, "spikes in CSR (kbit)", "#e6ab02")):
        ax.bar(x + off, frame[col], 0.2, color=c, label=col)
    ax.set_yscale("log")
    ax.set_ylabel("kbit")
    ax = axes[0, 1]
    bottom = np.zeros(len(frame))
    for col in ("DRAM pJ", "GLB pJ", "spad pJ"):
        ax.bar(x, frame[col], 0.6, bottom=bottom, color=LEVEL_COLORS[col.removesuffix(" pJ")],
               edgecolor="grey", lw=0.3, label=col)
        bottom += frame[col].to_numpy()
    ax.set_ylabel("memory energy (pJ)")
    for ax in axes.flat:
        ax.set_xticks(x, layer_ticks(len(x)))
        ax.set_xlabel("covered layer")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def system_bars(frame: pd.DataFrame, paper: dict | None = None, paper_label: str = "paper"):
    """Fig. 9(b): stacked system energy (DRAM, GLB, scratchpad, PE array) per arch and method
    (frame: ``hwframes.system_frame``), normalised to each arch's LTH total.

    ``paper``: {arch label: (PE share % of LTH's system energy, u-Ticket's system saving %)}: stars
    at the bottom of the PE segment of that arch's LTH bar (1 - share) and at the top of its
    u-Ticket bar (1 - saving); either value may be None."""
    fig, axes = figure(width=5.5)
    ax = axes[0, 0]
    labels, bottom = [], np.zeros(len(frame))
    totals = frame.groupby(level=0)["total pJ"].transform(lambda s: s.iloc[0]).to_numpy()
    x = np.arange(len(frame))
    for col in ("DRAM pJ", "GLB pJ", "spad pJ", "PE pJ"):
        v = frame[col].to_numpy() / totals
        ax.bar(x, v, 0.6, bottom=bottom, color=LEVEL_COLORS[col.removesuffix(" pJ")], edgecolor="grey", lw=0.3,
               label=col.removesuffix(" pJ"))
        bottom += v
    labels = [f"{a}\n{m}" for a, m in frame.index]
    rows = list(frame.index)
    for arch, (share, saving) in (paper or {}).items():
        methods = [m for a, m in rows if a == arch]
        if not methods:
            continue
        if share is not None:
            paper_points(ax, [rows.index((arch, methods[0]))], [1 - share / 100],
                         f"{paper_label}: PE share of LTH, {arch}")
        if saving is not None and len(methods) > 1:
            paper_points(ax, [rows.index((arch, methods[1]))], [1 - saving / 100],
                         f"{paper_label}: u-Ticket total, {arch}", marker="P")
    ax.set_xticks(x, labels)
    ax.set_ylabel("system energy / LTH total")
    legend_below(fig, ncols=3)
    return fig


def memory_vs_sparsity(frames: dict[str, pd.DataFrame]):
    """Fig. 9(a): DRAM and GLB words normalised to dense against weight sparsity, per run
    (frames: {label: ``hwframes.memory_vs_sparsity``})."""
    fig, axes = figure(width=5.0)
    ax = axes[0, 0]
    for (name, f), marker in zip(frames.items(), "os^v"):
        s = 100 * f["weight sparsity"]
        ax.plot(s, f["DRAM / dense"], marker=marker, color=arch_color(name), label=f"{name} DRAM", **trend(len(f)))
        ax.plot(s, f["GLB / dense"], marker=marker, mfc="white", color=arch_color(name), label=f"{name} GLB",
                **trend(len(f), "--"))
    ax.set_xlabel("weight sparsity (%)")
    ax.set_ylabel("accesses / dense")
    legend_below(fig, ncols=2)
    return fig


def reordering_bars(frames: dict[str, pd.DataFrame]):
    """Latency and energy of the four schedules per arch, normalised to plain LTH
    (frames: {arch: ``hwframes.reordering_frame``}; keys become labels here)."""
    fig, axes = figure(ncols=2, width=4.6)
    colors = ["#d95f02", "#fdae6b", "#1b9e77", "#a1d99b"]
    for ax, key in zip(axes.flat, ("latency", "energy")):
        for j, (name, f) in enumerate(frames.items()):
            v = f[key] / f[key].iloc[0]
            for i, (sched, y) in enumerate(v.items()):
                ax.bar(j + (i - 1.5) * 0.2, y, 0.2, color=colors[i], label=_name(sched) if j == 0 else None)
        ax.set_xticks(range(len(frames)), [_name(a) for a in frames])
        ax.set_ylabel(f"{key} / LTH")
    legend_below(fig, ncols=4)
    return fig


def calibration_scatter(frame: pd.DataFrame):
    """Predicted vs paper Fig. 7(a) reductions (frame: ``paper_compare.calibration_frame``), with y = x."""
    fig, axes = figure(width=4.2, height=3.6)
    ax = axes[0, 0]
    ax.scatter(frame["paper %"], frame["predicted % (fit)"], label="fitted E_l/E_d", color="black")
    ax.scatter(frame["paper %"], frame["predicted % (bottom_up_32nm)"], label="bottom_up_32nm",
               color="#999999", marker="x")
    lo, hi = frame["paper %"].min() - 5, frame["paper %"].max() + 5
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel("paper Fig. 7(a) reduction (%)")
    ax.set_ylabel("Eq. 3 prediction (%)")
    ax.legend(fontsize=8, loc="upper left")
    return fig
