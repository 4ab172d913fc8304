"""Figures as the book shows them: never wider than the text column, with alt text and a caption."""
from __future__ import annotations

import base64
import re

import matplotlib

matplotlib.use("agg")

from uticket_lib import plotting  # noqa: E402


def test_wide_figures_are_narrowed_to_the_column():
    fig, axes = plotting.figure(ncols=3, width=5.0, height=3.0)
    w, h = fig.get_size_inches()
    assert abs(w - plotting.MAX_WIDTH_IN) < 1e-9            # 15 in asked, 6.9 in given
    assert abs(h - 3.0 * (plotting.MAX_WIDTH_IN / 15.0) ** 0.5) < 1e-9
    fig, _ = plotting.figure(width=4.0)
    assert tuple(fig.get_size_inches()) == (4.0, 3.4)       # narrow figures keep their size


def test_figure_html_has_alt_text_caption_and_true_width():
    fig, axes = plotting.figure(ncols=2, width=3.0)
    axes[0, 0].plot([1, 2], [3, 4], label="u-Ticket")
    axes[0, 0].set_xlabel("number of PEs")
    axes[0, 0].set_ylabel("latency")
    axes[0, 0].legend()
    axes[0, 1].bar([0, 1], [1, 2])
    axes[0, 1].set_title("energy")
    fig.suptitle("VGG-16")
    page = plotting.figure_html(fig)
    alt = re.search(r'alt="([^"]*)"', page).group(1)
    assert alt.startswith("VGG-16. Panel 1: latency against number of PEs (u-Ticket). Panel 2: energy.")
    assert "<figcaption" in page and "VGG-16: latency against number of PEs; energy" in page
    png = base64.b64decode(re.search(r"base64,([^\"]+)", page).group(1))
    width = int(re.search(r'width="(\d+)"', page).group(1))
    assert width == int.from_bytes(png[16:20], "big") <= plotting.MAX_WIDTH_IN * plotting.DPI


def test_tables_print_plain_numbers():
    from uticket_lib import analysis
    assert analysis.plain_number(12_600_000.0) == "12,600,000"
    assert analysis.plain_number(0.98712) == "0.987"
    assert analysis.plain_number(-1.8e-7) == "-1.8×10⁻⁷"
    assert analysis.plain_number(0.0) == "0.000"
    import pandas as pd
    html = pd.DataFrame({"cycles": [1.946e7, 2.359e6]})._repr_html_()
    assert "19,460,000" in html and "e+" not in html
