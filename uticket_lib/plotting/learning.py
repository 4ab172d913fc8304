"""Figures of the learning chapters (1-4) and the paper-vs-code chapter (9).

Every function takes the DataFrames built by the ``analysis`` modules (``runs``, ``toys``, ``masks``,
``switches``) and returns the matplotlib figure, which a notebook shows inline.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from . import (ARCH_LABELS, METHOD_COLORS, METHOD_LABELS, OTHER_COLORS, PAPER_ARCH_MARKERS, figure, legend_below,
               paper_points, trend)

ORIGIN_COLORS = {"trained (LTH)": METHOD_COLORS["lth"], "random": METHOD_COLORS["random"],
                 "untrained magnitude": OTHER_COLORS[1]}
METRIC_LABELS = {"test_accuracy": "test accuracy", "spike_sparsity": "spike sparsity",
                 "sparsity": "weight sparsity", "utilization": "utilization (Eq. 2)",
                 "accuracy": "test accuracy", "spike sparsity": "spike sparsity"}


def lif(frame: pd.DataFrame, v_th: float = 1.0):
    """Input current, charge / membrane potential with the threshold, and the spike train over time
    (``analysis.toys.lif_table``)."""
    fig, axes = figure(1, 3, width=7.0, height=1.6, sharex=True)
    ax_in, ax_v, ax_s = axes[:, 0]
    t = frame.index.to_numpy()
    ax_in.step(t, frame["input"], where="mid", color="black")
    ax_in.set_ylabel("input x[t]")
    ax_v.plot(t, frame["charge (hand)"], "o-", color=METHOD_COLORS["uticket"], label="charge h[t] (before reset)")
    ax_v.plot(t, frame["membrane (library)"], "s--", color=METHOD_COLORS["lth"], ms=4,
              label="membrane v[t] (after reset, library)")
    ax_v.axhline(v_th, color="grey", ls=":", label="threshold")
    ax_v.set_ylabel("potential")
    spikes = frame["spike (library)"].to_numpy()
    ax_s.vlines(t[spikes > 0], 0, 1, color="black")
    ax_s.set_ylim(0, 1.2)
    ax_s.set_yticks([])
    ax_s.set_ylabel("spikes")
    ax_s.set_xlabel("timestep t")
    legend_below(fig)
    return fig


def surrogate(frame: pd.DataFrame):
    """Forward spike (step) and its ATan surrogate, and the surrogate gradient: the analytic formula
    against the gradient measured through the library's neuron (``surrogate_frame``)."""
    fig, axes = figure(2, 1, width=3.6, height=2.8)
    a, b = axes[0]
    a.plot(frame["u"], frame["heaviside"], color="black", label="forward: step")
    a.plot(frame["u"], frame["atan"], color=METHOD_COLORS["uticket"], label="ATan (smooth stand-in)")
    a.set_xlabel("h - threshold")
    a.set_ylabel("spike")
    b.plot(frame["u"], frame["formula"], color=METHOD_COLORS["uticket"], label="alpha/2 / (1 + (pi alpha u / 2)^2)")
    b.plot(frame["u"][::8], frame["autograd"][::8], "o", ms=3, color=METHOD_COLORS["lth"],
           label="autograd through lif()")
    b.set_xlabel("h - threshold")
    b.set_ylabel("d spike / d h")
    legend_below(fig, ncols=2)
    return fig


def levels(frame: pd.DataFrame, metrics=("test_accuracy", "spike_sparsity"), x: str = "level",
           expected: bool = True, paper: dict | None = None, paper_label: str = "paper"):
    """One panel per metric, one line per (arch, method) over the levels of a ``method_levels``
    frame. With ``expected`` and a sparsity panel, the 1 - (1 - p)^k curve is drawn dashed.

    ``paper``: {(arch, method): {metric: value}} (``paper_compare.level_points``): each value is a
    star at that line's final level, edged in the method's colour, labelled ``paper_label``."""
    fig, axes = figure(len(metrics), 1, width=3.6, height=2.8)
    styles = {"vgg16": "-o", "resnet19": "--s"}
    for ax, metric in zip(axes[0], metrics):
        for (arch, method), g in frame.groupby(["arch", "method"], sort=False):
            ax.plot(g[x], g[metric], styles.get(arch, "-o"), ms=4, color=METHOD_COLORS.get(method), **trend(len(g)),
                    label=f"{ARCH_LABELS.get(arch, arch)} {METHOD_LABELS.get(method, method)}")
            value = (paper or {}).get((arch, method), {}).get(metric)
            if value is not None and len(g):
                paper_points(ax, [g[x].iloc[-1]], [value], f"{paper_label}, {ARCH_LABELS.get(arch, arch)}",
                             marker=PAPER_ARCH_MARKERS.get(arch, "*"), edgecolors=METHOD_COLORS.get(method),
                             linewidths=0.8)
        if expected and metric == "sparsity" and "expected_sparsity" in frame:
            g = frame.drop_duplicates("level").sort_values("level")
            ax.plot(g["level"], g["expected_sparsity"], ":", color="black", label="1 - (1-p)^k")
        ax.set_xlabel("weight sparsity" if x == "sparsity" else "level (pruning round)")
        if x == "level":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    legend_below(fig)
    return fig


def pe_loads(frame: pd.DataFrame, workload: pd.DataFrame | None = None):
    """Fig. 3 on the toy layer: bars of the load of every PE, one panel per mask, with the slowest
    PE's load (latency) dashed and the idle cycles hatched on top of each bar."""
    names = list(dict.fromkeys(frame["mask"]))
    fig, axes = figure(len(names), 1, width=3.0, height=2.6, sharey=True)
    for ax, name in zip(axes[0], names):
        g = frame[frame["mask"] == name]
        top = g["load"].max()
        ax.bar(g["pe"], g["load"], color=METHOD_COLORS["uticket" if name == "balanced" else "lth"],
               label="work")
        ax.bar(g["pe"], top - g["load"], bottom=g["load"], color="none", edgecolor="grey",
               hatch="//", label="idle")
        ax.axhline(top, color="black", ls="--", lw=1)
        title = name
        if workload is not None and name in workload.index:
            title += f": utilization {workload.loc[name, 'utilization']:.2f}"
        ax.set_title(title, fontsize=9)
        ax.set_xticks(g["pe"])
        ax.set_xticklabels([f"PE{j}" for j in g["pe"]])
        ax.set_ylabel("non-zero weights (cycles)")
    legend_below(fig, ncols=2)
    return fig


def utilization_levels(frames: dict, x: str = "level", paper: dict | None = None,
                       paper_label: str = "paper"):
    """Fig. 4: network utilization (and weight sparsity, right axis) over the pruning levels.

    ``frames``: {label: DataFrame with columns sparsity, utilization (``analysis.utilization_frame``)}
    where label is "<arch> <method>" or any text; the method colour is picked from the label.
    ``paper``: {label: the paper's final utilization}, a star at that line's last level.
    """
    fig, axes = figure(1, 1, width=5.5, height=3.2)
    ax = axes[0][0]
    ax2 = ax.twinx()
    for label, f in frames.items():
        method = "uticket" if "u-Ticket" in label or "uticket" in label else "lth"
        style = "--s" if "ResNet" in label or "resnet" in label else "-o"
        ax.plot(f.index, f["utilization"], style, ms=4, color=METHOD_COLORS[method], label=label, **trend(len(f)))
        ax2.plot(f.index, f["sparsity"], ":", color="black", lw=0.8)
        if (paper or {}).get(label) is not None:
            arch = "resnet19" if "ResNet" in label or "resnet" in label else "vgg16"
            paper_points(ax, [f.index[-1]], [paper[label]], f"{paper_label}, {ARCH_LABELS[arch]}",
                         marker=PAPER_ARCH_MARKERS[arch], edgecolors=METHOD_COLORS[method], linewidths=0.8)
    ax.set_xlabel("level (pruning round)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("utilization (Eq. 2, parameter-weighted)")
    ax2.set_ylabel("weight sparsity (dotted)")
    ax2.grid(False)
    ax2.set_ylim(0, 1)
    ax.set_ylim(0, 1.05)
    legend_below(fig)
    return fig


def origins(frame: pd.DataFrame, layer_frame: pd.DataFrame | None = None):
    """Utilization of trained, random and untrained-magnitude masks of equal per-layer sparsity:
    over the levels (left) and, with ``layer_frame``, per covered layer at the last level (right)."""
    cols = [c for c in ORIGIN_COLORS if c in frame.columns]
    n = 2 if layer_frame is not None else 1
    fig, axes = figure(n, 1, width=3.8 if n == 2 else 5.0, height=3.0)
    ax = axes[0][0]
    for c in cols:
        ax.plot(frame.index, frame[c], "-o", ms=4, color=ORIGIN_COLORS[c], label=c)
    ax.set_xlabel("level (pruning round)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("network utilization")
    if layer_frame is not None:
        ax = axes[0][1]
        pos = np.arange(len(layer_frame))
        w = 0.8 / len(cols)
        for i, c in enumerate(cols):
            ax.bar(pos + (i - (len(cols) - 1) / 2) * w, layer_frame[c], w, color=ORIGIN_COLORS[c], label=c)
        ax.set_xticks(pos, [str(i + 1) for i in pos])
        ax.set_xlabel("covered layer")
        ax.set_ylabel("layer utilization (last level)")
    legend_below(fig)
    return fig


def walkthrough(frame: pd.DataFrame, n_blocks: int = 4):
    """Algorithm 1 on one layer: load of every filter before (bars) and after (line) balancing,
    with each block's target; the first ``n_blocks`` blocks."""
    f = frame[frame["block"] < n_blocks]
    fig, axes = figure(1, 1, width=7.0, height=2.8)
    ax = axes[0][0]
    x = f.index.to_numpy()
    ax.bar(x, f["load before"], color=METHOD_COLORS["lth"], alpha=0.8, label="after pruning (LTH)")
    ax.step(x, f["target"], where="mid", color="black", ls="--", label="target = ceil(block mean)")
    ax.plot(x, f["load after"], "o", ms=3, color=METHOD_COLORS["uticket"], label="after balancing")
    for b in range(1, int(f["block"].max()) + 1):
        ax.axvline(f.index[f["block"] == b][0] - 0.5, color="grey", lw=0.8)
    ax.set_xlabel("filter (PE = filter mod n_PE; blocks separated by grey lines)")
    ax.set_ylabel("non-zero weights")
    legend_below(fig)
    return fig


def switches(frame: pd.DataFrame, metrics=("accuracy", "sparsity", "utilization")):
    """Chapter 9: each metric over the levels, the paper behaviour against each code switch
    (``analysis.switches.switch_levels``)."""
    fig, axes = figure(len(metrics), 1, width=3.0, height=2.8)
    others = [c for c in OTHER_COLORS if c != "#000000"]
    for ax, metric in zip(axes[0], metrics):
        for i, (setting, g) in enumerate(frame.groupby("setting", sort=False)):
            style = "-o" if setting == "paper behaviour" else "--s"
            ax.plot(g["level"], g[metric], style, ms=4,
                    color="black" if i == 0 else others[(i - 1) % len(others)], label=setting)
        ax.set_xlabel("level")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    legend_below(fig, ncols=2)
    return fig


def curves(frame: pd.DataFrame, kind: str = "dense"):
    """Validation accuracy against training images seen, one line per recipe, one panel per
    network (``analysis.recipes.curves_frame``)."""
    sub = frame[frame["kind"] == kind]
    archs = list(dict.fromkeys(sub["arch"]))
    fig, axes = figure(max(1, len(archs)), 1, width=3.8, height=3.0)
    curves_ = list(dict.fromkeys(zip(sub["recipe"], sub["budget"])))
    short = min(b for _, b in curves_) if curves_ else 0
    for ax, arch in zip(axes[0], archs):
        for i, (r, b) in enumerate(curves_):
            c = sub[(sub["arch"] == arch) & (sub["recipe"] == r) & (sub["budget"] == b)].sort_values("images")
            if len(c):
                label = r if b == short else f"{r}, {b // 1000}k budget"
                ax.plot(c["images"] / 1000, 100 * c["val_accuracy"], "-o", ms=3, color=OTHER_COLORS[i % len(OTHER_COLORS)],
                        label=label)
        ax.set_title(ARCH_LABELS.get(arch, arch), fontsize=10)
        ax.set_xlabel("training images seen (thousands)")
        ax.set_ylabel("validation accuracy (%)")
        ax.grid(alpha=0.3)
    # one legend for every curve of every panel (a recipe keeps its colour across panels)
    seen = {}
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    axes[0][-1].legend(list(seen.values()), list(seen), fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig


def origin_length(frame: pd.DataFrame, recipe: str = "noaug"):
    """Utilization of one-shot 98 % masks of dense states against training images seen: the trained
    mask (line) and the range of random masks with the same per-layer counts (band), per network
    (``analysis.recipes.origin_frame``)."""
    sub = frame[frame["recipe"] == recipe]
    archs = list(dict.fromkeys(sub["arch"]))
    fig, axes = figure(max(1, len(archs)), 1, width=3.6, height=2.8)
    for ax, arch in zip(axes[0], archs):
        c = sub[sub["arch"] == arch].sort_values("images")
        x = c["images"] / 1000
        ax.fill_between(x, c["random_min"], c["random_max"], color=METHOD_COLORS["random"], alpha=0.3,
                        label="random masks (range)")
        ax.plot(x, c["random_mean"], "--", color=METHOD_COLORS["random"], lw=1)
        ax.plot(x, c["trained"], "-o", ms=3, color=METHOD_COLORS["lth"], label="trained (one-shot)")
        ax.set_title(ARCH_LABELS.get(arch, arch), fontsize=10)
        ax.set_xlabel("training images seen (thousands)")
        ax.set_ylabel("network utilization")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig
