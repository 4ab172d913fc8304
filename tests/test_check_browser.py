"""ci/check_browser.py against a tiny built-book fixture in headless Chromium (skipped without one).

The fixture is two pages in the shape Sphinx writes them: a figure file, offline MathJax from the
pinned sphinx-mathjax-offline package, a claim table and internal links. Each test breaks one thing
and checks the browser check names it."""
from __future__ import annotations

import base64
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_browser", REPO / "ci" / "check_browser.py")
cb = importlib.util.module_from_spec(spec)
sys.modules["check_browser"] = cb
spec.loader.exec_module(cb)

BROWSER = cb.find_browser()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (apt-get install -y chromium)")

# a 300 x 200 px PNG (one colour), shown at its own size
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAASwAAADICAIAAADdvUsCAAAAaklEQVR42u3BAQ0AAADCoPdPbQ8HFAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAPwZ7v8AAaPdaz4AAAAA"
    "SUVORK5CYII=")

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<script defer="defer" src="_static/mathjax/tex-chtml.js"></script></head>
<body><main><article class="bd-article">
<h1 id="top">{title}</h1>
<p>Inline math <span class="math notranslate nohighlight">\\(u^t = \\lambda u^{{t-1}}\\)</span>.</p>
<div class="math notranslate nohighlight">\\[h^t = v^{{t-1}} + x^t\\]</div>
<figure><img src="_images/fig.png" alt="Latency against the number of PEs" width="300">
<figcaption><span class="caption-number">Fig. 1 </span>Latency halves with every doubling of the PEs.</figcaption></figure>
<table><thead><tr><th>n_PE</th><th>latency</th></tr></thead><tbody><tr><td>2</td><td>1.00</td></tr></tbody></table>
<div class="cell_input"><pre>x = 1  # a code cell</pre></div>
<div class="uticket-claims"><table><tbody><tr><td>claim</td><td>PASS</td></tr></tbody></table></div>
{extra}
<p><a href="{other}#top">other page</a></p>
</article></main></body></html>"""


def build(root: Path, extra: str = "", extra2: str = "") -> Path:
    html = root / "html"
    (html / "_images").mkdir(parents=True)
    (html / "_images" / "fig.png").write_bytes(PNG)
    src = next(Path(p) for p in map(Path, sys.path) if (p / "sphinx-mathjax-offline").is_dir()) \
        / "sphinx-mathjax-offline" / "static" / "mathjax"
    shutil.copytree(src, html / "_static" / "mathjax")
    (html / "index.html").write_text(PAGE.format(title="Intro", extra=extra, other="chapter.html"))
    (html / "chapter.html").write_text(PAGE.format(title="Chapter", extra=extra2, other="index.html"))
    return html


def problems(html: Path, tmp: Path) -> list[str]:
    res = cb.check(html, tmp / "shots")
    return [f"{page}: {p}" for page, ps in res.items() for p in ps]


def test_clean_fixture_passes_and_screenshots(tmp_path):
    html = build(tmp_path)
    assert problems(html, tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == ["chapter.png", "index.png"]


def test_deleted_figure_fails(tmp_path):
    html = build(tmp_path)
    (html / "_images" / "fig.png").unlink()
    found = problems(html, tmp_path)
    assert any("figure does not load: fig.png" in p for p in found), found


def test_deleted_mathjax_fails(tmp_path):
    html = build(tmp_path)
    (html / "_static" / "mathjax" / "tex-chtml.js").unlink()
    found = problems(html, tmp_path)
    assert any("math left untypeset" in p for p in found), found
    assert any("console error" in p for p in found), found  # the failed script load


@pytest.mark.parametrize("extra, expected", [
    ("<script>const THEBE_JS_URL = 1;</script><script>const THEBE_JS_URL = 2;</script>", "console error"),
    ("<table><tbody><tr><td>nan</td><td>none</td></tr></tbody></table>", "NaN/None in 1 table cell"),
    ("<table><tbody><tr><td>3.2e+08</td></tr></tbody></table>", "scientific notation"),
    ("<table><tbody><tr><td>...</td></tr></tbody></table>", 'cut with "..."'),
    ('<div class="cell_input"><pre>x = 1\n#\n# ## Traffic per layer (Fig. 9)\n</pre></div>',
     "markdown heading inside a code cell"),
    ('<div class="uticket-claims"><table><tbody></tbody></table></div>', "claim table without rows"),
    ('<a href="missing.html">x</a>', "broken link: missing.html"),
    ('<a href="chapter.html#nowhere">x</a>', "broken link: chapter.html#nowhere"),
    ('<p>{glue:md}`ch1_tau`</p>', "glue placeholder"),
    ('<img src="_images/fig.png" alt="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.png">',
     "without alt text"),
    ('<img src="_images/fig.png" alt="../../_images/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b.png">',
     "without alt text"),
    ('<img src="_images/fig.png" alt="a figure" style="width:120px">', "figure shrunk"),
    ('<figure><img src="_images/fig.png" alt="a figure"></figure>', "figure without a numbered caption"),
    ('<figure><img src="_images/fig.png" alt="a figure"><figcaption>Latency halves with every doubling.'
     '</figcaption></figure>', "figure without a numbered caption"),
    ('<figure class="uticket-figure"><img src="_images/fig.png" alt="a figure"><figcaption>'
     '<strong class="uticket-fignum">Figure 5.1.</strong> </figcaption></figure>', "figure without a numbered caption"),
    ('<div style="overflow-x: auto"><table style="width: 1400px"><tbody><tr><td>1</td></tr></tbody></table></div>',
     "table wider than the text column"),
    ('<div style="width: 3000px">a long line</div>', "page wider than the window"),
    ('<div class="math notranslate nohighlight">\\[' + " + ".join(f"x_{{{i}}}" for i in range(400)) + "\\]</div>",
     "equation wider than the text column"),
])
def test_each_defect_class_is_caught(tmp_path, extra, expected):
    found = problems(build(tmp_path, extra=extra), tmp_path)
    assert any(expected in p and p.startswith("index.html") for p in found), found
    assert not any(p.startswith("chapter.html") for p in found), found


def test_numbered_figure_of_the_book_passes_and_phone_width_skips_the_table_rule(tmp_path):
    fig = ('<figure class="uticket-figure"><img src="_images/fig.png" alt="a figure"><figcaption>'
           '<strong class="uticket-fignum">Figure 5.1.</strong> Latency halves with every doubling.</figcaption></figure>')
    wide = '<div style="overflow-x: auto"><table style="width: 1400px"><tbody><tr><td>1</td></tr></tbody></table></div>'
    assert problems(build(tmp_path / "a", extra=fig), tmp_path / "a") == []
    try:
        cb.set_window(390, 844)        # a phone: a table may scroll in its box, the page may not
        assert problems(build(tmp_path / "b", extra=wide), tmp_path / "b") == []
        found = problems(build(tmp_path / "c", extra='<div style="width: 900px">x</div>'), tmp_path / "c")
        assert any("page wider than the window (" in p for p in found), found
    finally:
        cb.set_window(1280, 900)


def test_main_without_a_build_exits_2(tmp_path, capsys):
    assert cb.main(["--html", str(tmp_path / "none")]) == 2
    assert "build the book first" in capsys.readouterr().err


def test_redirect_page_is_followed_not_loaded(tmp_path):
    html = build(tmp_path)
    (html / "root.html").write_text('<meta http-equiv="Refresh" content="0; url=index.html" />')
    (html / "bad.html").write_text('<meta http-equiv="Refresh" content="0; url=nowhere.html" />')
    found = problems(html, tmp_path)
    assert found == ["bad.html: broken redirect: nowhere.html"], found


def test_notebook_page_needs_its_download(tmp_path):
    html = build(tmp_path)
    (html / "_sources").mkdir()
    (html / "_sources" / "chapter.ipynb").write_text("{}")
    found = problems(html, tmp_path)
    assert found == ["chapter.html: no .ipynb download on a notebook page"], found
    page = html / "chapter.html"
    page.write_text(page.read_text().replace("</article>", '<a href="_sources/chapter.ipynb">.ipynb</a></article>'))
    assert problems(html, tmp_path) == []
