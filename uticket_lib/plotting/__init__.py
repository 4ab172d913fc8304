"""Every figure the book shows. ``plotting.learning`` (chapters 1-4, 9) and ``plotting.hardware``
(chapters 5-8, 10); this module holds the shared look."""
from __future__ import annotations

import matplotlib.pyplot as plt

from ..analysis import ARCH_LABELS, METHOD_LABELS  # noqa: F401  (re-exported for the plot modules)

METHOD_COLORS = {"lth": "#d95f02", "uticket": "#1b9e77", "paper": "#7570b3", "random": "#999999"}


def figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.4, **kw):
    """A figure with the book's size and style; returns (fig, axes)."""
    plt.rcParams.update({"axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
                         "grid.alpha": 0.3, "figure.dpi": 110, "font.size": 9})
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                        constrained_layout=True, **kw)
