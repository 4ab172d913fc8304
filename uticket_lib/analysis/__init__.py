"""From runs on disk to the tables, figures and claims the book shows, organised by what they hold.

- ``runs``: experiments on disk (run, reuse, levels, predictions, cached hardware reports).
- ``labels``: display names of the keys in data frames (applied only when displayed).
- ``paper_compare``: the paper's tables beside ours (Tables I-III, the Fig. 7(a) calibration).
- ``toys``: teaching toys (the LIF neuron by hand, the four-filter layer of Fig. 3).
- ``masks``: random / untrained-magnitude / synthetic masks beside a run's, the balancing walkthrough.
- ``hwframes``: cycles, energy, PE scaling, memory and reordering frames of finished runs.
- ``switches``: the paper-vs-released-code switches and their runs.
- ``stats``: paired accuracy intervals and the spread over seeds.
- ``claims``: the claim contract and every chapter's claims, as pure functions of small inputs.

The runs API and ``glue`` are re-exported here for the notebooks' parameters cells.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .labels import ARCH_LABELS, DATASET_LABELS, METHOD_LABELS
from .runs import (COMPARED, METHODS, archs, config, experiment, hardware_report, last_level, layers,
                   level_of, levels_frame, metrics, overrides, pair, pairs, predictions, utilization_frame)

__all__ = ["ARCH_LABELS", "DATASET_LABELS", "METHOD_LABELS", "METHODS", "Chapter", "archs", "chapter",
           "config", "experiment", "glue", "hardware_report", "last_level", "layers", "level_of", "levels_frame", "metrics",
           "overrides", "pair", "pairs", "predictions", "utilization_frame"]


# ----------------------------------------------------------------------------- how tables print
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def plain_number(x: float) -> str:
    """A float as a reader wants it in a table: 12,600,000 and 0.987, never 1.26e+07.

    Magnitudes from 1,000 up get thousands separators and no decimals; from 0.001 three decimals;
    smaller non-zero values two significant digits times a power of ten (1.8×10⁻⁷)."""
    if x != x:  # NaN: pandas prints its own marker before calling this; kept for direct calls
        return "–"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 0.001 or ax == 0:
        return f"{x:.3f}"
    mantissa, exp = f"{x:.1e}".split("e")
    return f"{mantissa}×10{str(int(exp)).translate(_SUPERSCRIPT)}"


def table(frame: pd.DataFrame):
    """``frame`` for display with an empty cell ("–") where a value does not apply (NaN / None) and
    floats in plain units: pandas' own HTML prints NaN, which a reader takes for a failure."""
    def fmt(v):
        return plain_number(float(v)) if isinstance(v, float) else v
    return for_display(frame).style.format(fmt, na_rep="–")


def words(name):
    """A column or index name as a reader reads it: ``latency_reduction_pct`` -> ``latency reduction pct``
    (names that are not strings, and tuples of a MultiIndex level by level, unchanged otherwise)."""
    if isinstance(name, tuple):
        return tuple(words(n) for n in name)
    return name.replace("_", " ") if isinstance(name, str) else name


def _decimals(col: pd.Series, most: int = 2) -> int | None:
    """The fewest decimals (0..``most``) that print every value of a float column exactly, else None."""
    for d in range(most + 1):
        if bool((col.round(d) - col).abs().le(1e-9 * col.abs().clip(lower=1)).all()):
            return d
    return None


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` as the book shows it: names in words (``words``); a float column whose values
    all have at most two decimals printed with exactly those ("97.9", not "97.900"; whole numbers as
    integers); integers from 10,000 up with thousands separators, as the floats are. Columns with a gap
    keep pandas' own formatting. The data keeps its keys."""
    out = frame.copy()
    out.columns = (pd.MultiIndex.from_tuples([words(c) for c in out.columns], names=out.columns.names)
                   if isinstance(out.columns, pd.MultiIndex) else [words(c) for c in out.columns])
    out.index = out.index.set_names([words(n) for n in out.index.names])
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if not len(col) or col.isna().any() or pd.api.types.is_bool_dtype(col.dtype):
            continue             # a gap: Int64 / text would print it as "<NA>" / "nan"
        if pd.api.types.is_float_dtype(col.dtype) and bool((col.abs() < 2 ** 53).all()):
            d = _decimals(col)
            if d and bool((col.abs() >= 1000).any()):
                d = None         # thousands: plain_number prints them without decimals, value by value
            if d == 0:
                col = col.astype("Int64")
            elif d is not None:
                out.isetitem(i, col.map(lambda v, d=d: f"{v + 0.0:,.{d}f}"))   # + 0.0: no "-0.0"
                continue
        if pd.api.types.is_integer_dtype(col.dtype) and bool((col.abs() >= 10_000).any()):
            out.isetitem(i, col.map(lambda v: f"{int(v):,}"))
        else:
            out.isetitem(i, col)
    return out


def ipython():
    """The running IPython shell, or None (plain Python, or IPython not installed)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def install_display() -> None:
    """In IPython, show every DataFrame through ``for_display`` (HTML and plain text). Called by
    ``chapter``; outside IPython a no-op."""
    ip = ipython()
    if ip is None:
        return
    ip.display_formatter.formatters["text/html"].for_type(
        pd.DataFrame, lambda df: pd.DataFrame._repr_html_(for_display(df)))
    ip.display_formatter.formatters["text/plain"].for_type(
        pd.DataFrame, lambda df, p, cycle: p.text(repr(for_display(df))))


# Every chapter imports this module: its DataFrames print in plain units.
pd.set_option("display.float_format", plain_number)
# ... no column or cell text hidden behind "...": wide tables scroll sideways on the page instead
pd.set_option("display.max_columns", None)
pd.set_option("display.max_colwidth", None)


@dataclass(frozen=True)
class Chapter:
    """What a chapter's opening cell sets up (``chapter``)."""
    profile: str
    archs: list[str]
    dataset: str
    overrides: dict
    pairs: dict[str, dict[str, Path]] = field(default_factory=dict)   # {arch: {method: run dir}}


def chapter(profile: str, arch_list: str | Sequence[str], dataset: str = "fmnist", *, seed: int = 0,
            n_pe: int = 16, width: float | None = None, levels: int | None = None,
            epochs: int | None = None, train: bool = True, methods: Sequence[str] = COMPARED,
            precision: int = 3, max_colwidth: int | None = None) -> Chapter:
    """Every chapter's opening: the tables' precision (and cell width), the notebook's parameters as
    config overrides (``overrides``), its architectures (``archs``) and, with ``train``, the
    baseline / candidate runs of each (``pairs``: run, or reuse from the run cache)."""
    pd.set_option("display.precision", precision)
    pd.set_option("display.max_colwidth", max_colwidth)
    install_display()
    over = overrides(seed=seed, n_pe=n_pe, width=width, levels=levels, epochs=epochs)
    from . import runs as _runs
    _runs.ANALYSIS_N_PE = int(n_pe)      # every run of the chapter is analysed at its N_PE (runs.pe_count)
    names = archs(arch_list) if isinstance(arch_list, str) else list(arch_list)
    found = pairs(profile, names, dataset, over, methods=methods) if train else {}
    return Chapter(profile, names, dataset, over, found)


def glue(name: str, value: Any, fmt: str | None = None) -> Any:
    """Publish a number for the book's prose: ``{glue:md}`name``` in markdown.

    With ``fmt`` the value is formatted first (``fmt.format(value)``). Outside a book build this is
    a no-op that returns the value.
    """
    text = fmt.format(value) if fmt else str(value)
    try:
        from IPython.display import Markdown
        from myst_nb import glue as _glue
    except ImportError:  # plain Python: nothing to publish
        return value
    _glue(name, Markdown(text), display=False)
    return value
