"""Every figure the book shows. ``plotting.learning`` (chapters 1-4, 9) and ``plotting.hardware``
(chapters 5-8, 10); this module holds the shared look."""
from __future__ import annotations

import matplotlib.pyplot as plt

from ..analysis import ARCH_LABELS, METHOD_LABELS  # noqa: F401  (re-exported for the plot modules)

METHOD_COLORS = {"lth": "#d95f02", "uticket": "#1b9e77", "paper": "#7570b3", "random": "#999999"}


# The book's text column is about 760 px wide at a 1280 px window: at DPI 110 a figure up to
# MAX_WIDTH_IN inches shows at its own size, so 9 pt labels stay ~14 px instead of being shrunk.
DPI = 110
MAX_WIDTH_IN = 6.9


def figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.4, **kw):
    """A figure with the book's size and style; returns (fig, axes).

    ``width`` is per column; a figure wider than ``MAX_WIDTH_IN`` in total is narrowed to it (and
    its height by the square root of the same factor) so that the page never shrinks it."""
    plt.rcParams.update({"axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
                         "grid.alpha": 0.3, "figure.dpi": DPI, "font.size": 9})
    factor = min(1.0, MAX_WIDTH_IN / (width * ncols))
    return plt.subplots(nrows, ncols, figsize=(width * ncols * factor, height * nrows * factor ** 0.5),
                        squeeze=False, constrained_layout=True, **kw)
