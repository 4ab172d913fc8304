"""Every figure the book shows. ``plotting.learning`` (chapters 1-4, 9) and ``plotting.hardware``
(chapters 5-8, 10); this module holds the shared look."""
from __future__ import annotations

import base64
import html
import io

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..analysis import ARCH_LABELS, METHOD_LABELS  # noqa: F401  (re-exported for the plot modules)

# One colour per method and one per network, everywhere in the book (Dark2 / Paired hues).
METHOD_COLORS = {"lth": "#d95f02", "uticket": "#1b9e77", "paper": "#7570b3", "random": "#999999"}
ARCH_COLORS = {"vgg16": "#1f78b4", "resnet19": "#a6761d"}
PAPER_MARKER = dict(marker="*", s=90, color=METHOD_COLORS["paper"], zorder=4)   # the paper's values
PAPER_ARCH_MARKERS = {"vgg16": "*", "resnet19": "P"}   # where both networks' paper values share a panel
# Categories that are neither a method nor a network (recipes, code switches, energy components):
# hues that none of METHOD_COLORS / ARCH_COLORS uses, so green always means u-Ticket.
OTHER_COLORS = ("#e7298a", "#17becf", "#e6ab02", "#000000", "#bcbd22", "#6a51a3", "#fb9a99", "#08306b")
# The memory hierarchy and the PE array (chapters 6 and 8), from far (dark) to near (light).
LEVEL_COLORS = {"DRAM": "#08306b", "GLB": "#4292c6", "spad": "#c6dbef", "PE": "#e6ab02"}


def trend(n_points: int, linestyle: str | None = None) -> dict:
    """Line keywords for a series over pruning levels: joined (in ``linestyle``, else the caller's
    format) when it has a trend to show (3 or more points), markers only for two (a dense level and
    one pruned level: no trend, as the claims say)."""
    if n_points <= 2:
        return {"linestyle": "none"}
    return {} if linestyle is None else {"linestyle": linestyle}


def layer_ticks(n: int) -> list[str]:
    """Tick labels 1..n for the covered layers, every other one left blank beyond 12 (readable at 9 pt)."""
    return [str(i + 1) if n <= 12 or i % 2 == 0 else "" for i in range(n)]


def arch_color(label: str) -> str:
    """ARCH_COLORS for an arch key ("vgg16") or its label ("VGG-16"); grey for anything else."""
    key = {v: k for k, v in ARCH_LABELS.items()}.get(label, label)
    return ARCH_COLORS.get(key, "#555555")


def legend_below(fig, axes=None, ncols: int | None = None, **kw):
    """One legend for the whole figure, outside the axes under them (so it never covers data):
    the unique labels of all ``axes`` (default: every axes of ``fig``) in order of appearance."""
    seen = {}
    for ax in (fig.axes if axes is None else axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab and not lab.startswith("_"):
                seen.setdefault(lab, h)
    if not seen:
        return None
    seen = dict(sorted(seen.items(), key=lambda kv: kv[0].startswith("paper")))   # the paper's entries last
    n = ncols or min(len(seen), 3)
    return fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncols=n,
                      fontsize=kw.pop("fontsize", 8), frameon=False, **kw)


def paper_points(ax, xs, ys, label: str, **kw):
    """The paper's values as stars (``PAPER_MARKER``), labelled for the legend; None values skipped.
    The caller passes values from ``uticket_lib.paper``: no plotting function holds a paper number."""
    pts = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
    if not pts:
        return None
    style = {**PAPER_MARKER, **kw}
    return ax.scatter([x for x, _ in pts], [y for _, y in pts], label=label, **style)


# The book's text column is about 760 px wide at a 1280 px window: at DPI 110 a figure up to
# MAX_WIDTH_IN inches shows at its own size, so 9 pt labels stay ~14 px instead of being shrunk.
DPI = 110
MAX_WIDTH_IN = 6.9


def figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.4, **kw):
    """A figure with the book's size and style; returns (fig, axes).

    ``width`` is per column; a figure wider than ``MAX_WIDTH_IN`` in total is narrowed to it (and
    its height by the square root of the same factor) so that the page never shrinks it."""
    plt.rcParams.update({"axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
                         "grid.alpha": 0.3, "figure.dpi": DPI, "font.size": 9,
                         "xtick.labelsize": 9, "ytick.labelsize": 9})
    factor = min(1.0, MAX_WIDTH_IN / (width * ncols))
    out = plt.subplots(nrows, ncols, figsize=(width * ncols * factor, height * nrows * factor ** 0.5),
                       squeeze=False, constrained_layout=True, **kw)
    install_display()  # after pyplot chose its backend: the inline backend resets Figure formatters
    return out


# ----------------------------------------------------------------------------- display in notebooks
def _labels(ax) -> list[str]:
    handles, labels = ax.get_legend_handles_labels()
    return [lb for lb in labels if lb and not lb.startswith("_")]


def alt_text(fig: Figure) -> str:
    """A description of a figure for readers who cannot see it: title, and per panel its axes and series."""
    parts = []
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    if title:
        parts.append(title.rstrip(".") + ".")
    axes = [ax for ax in fig.axes if ax.get_visible() and (ax.has_data() or ax.get_title())]
    for i, ax in enumerate(axes, 1):
        what = ax.get_title() or (f"{ax.get_ylabel()} against {ax.get_xlabel()}"
                                  if ax.get_ylabel() and ax.get_xlabel() else ax.get_ylabel() or ax.get_xlabel())
        series = _labels(ax)
        text = (f"Panel {i}: " if len(axes) > 1 else "") + (what or "plot")
        if series:
            text += " (" + ", ".join(dict.fromkeys(series)) + ")"
        parts.append(text + ".")
    return " ".join(parts) or "Figure."


def captioned(figs, text: str):
    """Give a figure (or each of a list of figures) the caption a reader sees under it; returns it.

    A caption states the figure's point, not its axes. The book numbers captioned figures per chapter
    ("Figure 5.2.", ``ci/run_notebooks.py``); outside the book the caption shows unnumbered."""
    for fig in (figs if isinstance(figs, (list, tuple)) else [figs]):
        fig.uticket_caption = str(text).strip()
    return figs


def caption(fig: Figure) -> str:
    """The figure's caption: ``fig.uticket_caption`` where a chapter set one, else its title and panels."""
    given = getattr(fig, "uticket_caption", None)
    if given:
        return given
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    panels = [ax.get_title() or (f"{ax.get_ylabel()} against {ax.get_xlabel()}" if ax.get_ylabel() else "")
              for ax in fig.axes if ax.get_visible() and ax.has_data()]
    panels = [p for p in dict.fromkeys(panels) if p]
    body = "; ".join(panels)
    return f"{title}: {body}" if title and body else (title or body or "")


def figure_html(fig: Figure) -> str:
    """A figure as HTML: the PNG at its own size (the page never shrinks it), real alt text and a caption."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    png = buf.getvalue()
    width = int.from_bytes(png[16:20], "big")  # IHDR: width in pixels
    cap = caption(fig)
    return (f'<figure class="uticket-figure" style="margin: 0.5em 0">'
            f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" width="{width}" '
            f'style="max-width: 100%; height: auto" alt="{html.escape(alt_text(fig), quote=True)}"/>'
            + (f'<figcaption style="font-size: 0.9em">{html.escape(cap)}</figcaption>' if cap else "")
            + "</figure>")


def install_display() -> None:
    """In IPython, show figures through ``figure_html`` (the HTML output wins over the plain PNG).

    Checked on every call: activating matplotlib's inline backend (on the first figure of a kernel)
    removes every formatter registered for ``Figure``."""
    from ..analysis import ipython
    ip = ipython()
    if ip is None:
        return
    fmt = ip.display_formatter.formatters["text/html"]
    try:
        current = fmt.lookup_by_type(Figure)
    except KeyError:
        current = None
    if current is not figure_html:
        fmt.for_type(Figure, figure_html)
