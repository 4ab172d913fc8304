"""Figure of chapter 12 (layerwise timesteps), from ``analysis.timesteps`` frames."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import figure

TITLES = {"drop (points)": "validation accuracy drop (points)", "latency saving %": "PE latency saving (%)",
          "synaptic updates saving %": "synaptic updates saving (%)"}


def sensitivity(frame: pd.DataFrame, metrics=("drop (points)", "latency saving %")):
    """Heatmaps of ``timesteps.sensitivity_frame`` (index scope, stage, T): one panel per metric,
    rows the stages, columns (scope, smaller T); every cell printed with its value."""
    wide = frame.unstack(["scope", "T"])
    fig, axes = figure(ncols=len(metrics), width=3.5, height=4.6)
    for ax, metric in zip(axes[0], metrics):
        block = wide[metric].sort_index(axis=1)                     # columns (scope, T)
        values = block.to_numpy(dtype=float)
        cmap = "RdBu_r" if "drop" in metric else "Greys"     # green and orange mean the methods
        lim = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
        im = ax.imshow(values, aspect="auto", cmap=cmap, vmin=-lim if "drop" in metric else 0, vmax=lim)
        ax.set_xticks(range(block.shape[1]), [f"{s}\nT={t}" for s, t in block.columns], fontsize=9)
        ax.set_yticks(range(block.shape[0]), [str(i) for i in block.index], fontsize=9)
        ax.set_ylabel("stage" if ax is axes[0, 0] else "")
        ax.set_title(TITLES.get(metric, metric), fontsize=9)
        ax.grid(False)
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                dark = abs(v) > 0.6 * lim
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
        fig.colorbar(im, ax=ax, shrink=0.6)
    return fig
