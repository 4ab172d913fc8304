"""plotting.quant: the Pareto-front figure keeps shared point labels inside the page width."""
from __future__ import annotations

import io

import matplotlib
import pandas as pd

matplotlib.use("Agg")

from uticket_lib.plotting import quant as plots  # noqa: E402


def _frame(n: int) -> pd.DataFrame:
    """n points on top of each other (as a smoke run's chance-level accuracies put them)."""
    names = [f"u-Ticket ternary point number {i}" for i in range(n)]
    return pd.DataFrame({"point": names, "kind": ["ticket"] * n, "energy": [1e6] * n,
                         "latency": [2e5] * n, "accuracy": [0.125] * n, "pareto": [False] * n})


def test_shared_labels_wrap_and_the_figure_stays_its_width():
    groups = plots._groups([1e6] * 8, [12.5] * 8, list(_frame(8)["point"]))
    assert len(groups) == 1                                          # one shared label
    lines = groups[0][1].split("\n")
    assert len(lines) > 1 and max(map(len, lines)) <= plots.LABEL_CHARS
    fig = plots.front(_frame(8))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    width_px = int.from_bytes(buf.getvalue()[16:20], "big")
    assert width_px <= 1.05 * fig.get_size_inches()[0] * fig.dpi     # labels did not widen it
