"""The book pipeline's pure-Python parts: ci/run_notebooks.py, ci/check_html.py, the config files.

Everything here is fast except ``test_pipeline_end_to_end`` (marked slow, ~15 s), which executes two
throwaway notebooks with papermill and builds the book strictly in a temporary copy of the repo.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


rn = _load("run_notebooks")
ch = _load("check_html")
# The chapters are the notebooks' sources; the table of contents must list exactly these (tested below).
CHAPTERS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))


# ----------------------------------------------------------------------------- run_notebooks

@pytest.mark.parametrize("text, value", [("True", True), ("False", False), ("None", None), ("8", 8),
                                         ("0.5", 0.5), ("1e-3", 1e-3), ("resnet19", "resnet19"),
                                         ("", "")])
def test_resolve_value_like_papermill(text, value):
    assert rn.resolve_value(text) == value and type(rn.resolve_value(text)) is type(value)


def test_parse_args_parameters(monkeypatch):
    monkeypatch.delenv("PROFILE", raising=False)
    args = rn.parse_args(["--profile", "smoke", "--only", "04_uticket", "-p", "ARCH", "resnet19",
                          "-p", "N_PE", "8"])
    assert args.parameters == {"PROFILE": "smoke", "ARCH": "resnet19", "N_PE": 8}
    assert args.only == ["04_uticket"]
    assert args.out == REPO / "book" / "executed" and args.failed == REPO / "book" / "failed"
    assert args.notebooks == REPO / "notebooks"


def test_parse_args_profile_default_and_env(monkeypatch):
    monkeypatch.delenv("PROFILE", raising=False)
    assert rn.parse_args([]).parameters == {"PROFILE": "cpu"}
    monkeypatch.setenv("PROFILE", "smoke")
    assert rn.parse_args([]).profile == "smoke"
    with pytest.raises(SystemExit):
        rn.parse_args(["--profile", "huge"])


def test_select_by_stem_number_or_path(tmp_path):
    sources = [tmp_path / f"{c}.py" for c in CHAPTERS]
    assert rn.select(sources, None) == sources
    assert rn.select(sources, ["04_uticket"]) == [sources[3]]
    assert rn.select(sources, ["04", "notebooks/01_neurons.py"]) == [sources[0], sources[3]]
    with pytest.raises(SystemExit, match="no notebook matches"):
        rn.select(sources, ["99_nothing"])


def test_toc_chapters_of_the_real_toc():
    toc = REPO / "book" / "_toc.yml"
    assert rn.toc_chapters(toc, REPO / "book" / "executed", REPO) == CHAPTERS


def test_parameter_names_and_title(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("PROFILE = 'cpu'\nN_PE: int = 16\nx == 3", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("OTHER = 1")])
    assert rn.parameter_names(nb) == ["PROFILE", "N_PE"]
    assert rn.parameter_names(nbformat.v4.new_notebook()) is None
    src = tmp_path / "03_imbalance.py"
    src.write_text("# %% [markdown]\n# # Workload imbalance\n#\n# text\n")
    assert rn.title_of(src) == "Workload imbalance"
    assert rn.title_of(tmp_path / "05_cycles.py") == "05_cycles"


def test_error_last_line():
    class CellError(Exception):
        ename, evalue = "ValueError", "bad mask\nshape [3, 4]"

    assert rn.error_last_line(CellError()) == "shape [3, 4]"
    assert rn.error_last_line(RuntimeError("Kernel died\n\nDeadKernelError: gone\n")) == "DeadKernelError: gone"
    assert rn.error_last_line(TimeoutError()) == "TimeoutError"


def test_stub_notebook_is_marked():
    pytest.importorskip("nbformat")
    nb = rn.stub_notebook("Energy", "it failed", "error")
    text = nb.cells[0].source
    assert text.startswith("# Energy\n") and f":class: {rn.STUB_CLASS}" in text and "{error}" in text
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_tag_cells_hides_plumbing_and_folds_outputs():
    nbformat = pytest.importorskip("nbformat")
    v4 = nbformat.v4
    cells = [v4.new_code_cell("PROFILE = 'cpu'", metadata={"tags": ["parameters"]}),
             v4.new_code_cell("PROFILE = 'smoke'", metadata={"tags": ["injected-parameters"]}),
             v4.new_code_cell("import pandas"),
             v4.new_code_cell("analysis.glue('x', 1)", outputs=[v4.new_output(
                 "display_data", data={"application/papermill.record/text/markdown": "1"})]),
             v4.new_code_cell("fig", outputs=[v4.new_output("display_data", data={"image/png": "AA=="})]),
             v4.new_code_cell("print(1)", outputs=[v4.new_output("stream", name="stdout", text="1")]),
             v4.new_code_cell("slow()", outputs=[v4.new_output("stream", name="stderr", text="10%|#")]),
             v4.new_code_cell("show()", metadata={"tags": ["show-input"]})]
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# T")] + cells)
    rn.tag_cells(nb)
    assert [c.metadata.get("tags") for c in nb.cells[1:]] == [
        ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], ["remove-input"],
        ["remove-input"], ["hide-input"], ["hide-input"], ["remove-input"], ["show-input"]]
    assert "tags" not in nb.cells[0].metadata


def test_number_figures_numbers_captioned_and_uncaptioned_figures_once():
    nbformat = pytest.importorskip("nbformat")
    v4 = nbformat.v4
    fig = lambda cap: (f'<figure class="uticket-figure" style="margin: 0.5em 0"><img src="data:," alt="a"/>'  # noqa: E731
                       + (f'<figcaption style="font-size: 0.9em">{cap}</figcaption>' if cap else "") + "</figure>")
    cells = [v4.new_code_cell("a", outputs=[v4.new_output("display_data", data={"text/html": fig("Loads even out.")})]),
             v4.new_code_cell("t", outputs=[v4.new_output("display_data", data={"text/html": "<table></table>"})]),
             v4.new_code_cell("b", outputs=[v4.new_output("display_data", data={"text/html": fig("")}),
                                            v4.new_output("display_data", data={"text/html": fig("Energy is flat.")})])]
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# T")] + cells)
    assert rn.chapter_number("05_cycles") == "5" and rn.chapter_number("intro") == ""
    assert rn.number_figures(nb, "5") == 3
    html = [o["data"]["text/html"] for c in nb.cells[1:] for o in c.get("outputs", [])]
    assert 'id="fig-5-1"' in html[0] and '<strong class="uticket-fignum">Figure 5.1.</strong> Loads even out.' in html[0]
    assert html[1] == "<table></table>"
    assert '<figcaption style="font-size: 0.9em"><strong class="uticket-fignum">Figure 5.2.</strong> </figcaption>' in html[2]
    assert "Figure 5.3.</strong> Energy is flat." in html[3]
    assert rn.number_figures(nb, "5") == 0          # numbered once: a second pass changes nothing
    assert html == [o["data"]["text/html"] for c in nb.cells[1:] for o in c.get("outputs", [])]


def test_code_shown_without_a_toggle_fails(tmp_path):
    shown = '<div class="cell docutils container"><div class="cell_input docutils container"><pre>x</pre></div></div>'
    folded = ('<div class="cell tag_hide-input docutils container"><details class="hide above-input">'
              '<summary>Show code</summary><div class="cell_input docutils container"><pre>x</pre></div>'
              '</details></div>')
    problems, _ = run_check(tmp_path, {"02_lottery": chapter_html(body=shown + folded)})
    assert problems == ["book/executed/02_lottery.html: 1 code cell(s) show their source without a toggle "
                        "(ci/run_notebooks.py tag_cells hides set-up and glue cells and folds the rest)"]
    assert run_check(tmp_path / "b", {"02_lottery": chapter_html(body=folded)})[0] == []


def _fake_status():
    previous = {"notebooks": {"01_neurons": {"name": "01_neurons", "status": "ok", "profile": "cpu",
                                             "seconds": 61.0, "parameters": {"PROFILE": "cpu"},
                                             "finished": "2024-05-01T10:00:00Z"}}}
    results = [rn.Result("02_lottery", "failed", "cpu", 12.5, {"PROFILE": "cpu", "N_PE": 8},
                         "ValueError: bad `mask`", "2024-05-01T10:01:00Z"),
               rn.Result("03_imbalance", "missing", "smoke", error="no source notebook")]
    env = {"date": "2024-05-01T10:02:00Z", "commit": "abc123def456+dirty", "run_seconds": 13.0,
           "versions": {"python": "3.11.7", "torch": "2.14.1", "spikingjelly": "0.0.0.0.14",
                        "jupyter-book": "1.0.4.post1"},
           "machine": {"cpus": "2", "platform": "Linux-x86_64", "gpu": "none"}}
    return rn.merge_status(previous, results, env)


def test_merge_status_keeps_previous_notebooks():
    status = _fake_status()
    assert list(status["notebooks"]) == ["01_neurons", "02_lottery", "03_imbalance"]
    assert status["total_seconds"] == 73.5
    assert status["notebooks"]["02_lottery"]["parameters"]["N_PE"] == 8
    json.dumps(status)  # JSON-ready


def test_status_page_counts_reproduction_claims_apart():
    status = _fake_status()
    status["claims"] = {"reproduction": {"PASS": 5, "DIRECTION": 4, "FAIL": 2, "INCONCLUSIVE": 3},
                        "calibration": {"PASS": 1, "DIRECTION": 0, "FAIL": 0, "INCONCLUSIVE": 0},
                        "invariant": {"PASS": 12, "FAIL": 0, "INCONCLUSIVE": 0}}   # an old record: no DIRECTION
    page = rn.render_status(status)
    assert "**Reproduction:** 5 PASS, 4 DIRECTION (the paper's sign, not its size), 2 FAIL, 3 INCONCLUSIVE." in page
    assert "| calibration | 1 | 0 | 0 | 0 |" in page and "| invariant | 12 | 0 | 0 | 0 |" in page


def test_render_status_page():
    page = rn.render_status(_fake_status())
    assert page.startswith("# Build status\n")
    rows = [ln for ln in page.splitlines() if re.match(r"\| 0\d_", ln)]
    assert len(rows) == 3
    assert "| 01_neurons | ok | cpu | 1 min 01 s | – | 05-01 10:00 |" in rows[0]
    assert "**FAILED**" in rows[1] and "N_PE=8" in rows[1] and "**missing**" in rows[2]
    assert "**Total notebook time:** 1 min 14 s" in page
    assert "`ValueError: bad 'mask'`" in page and "book/failed/02_lottery.ipynb" in page
    assert "different profiles" in page  # cpu and smoke mixed
    # the recorded build from an empty runs/ is shown only for a book of the cpu profile alone
    record = {"commit": "0123abcd", "date": "2026-12-06", "total_seconds": 1596.0,
              "bench_vgg16_images_per_s": 530.0, "normalised_seconds": 2866.2,
              "chapters": {"02_lottery": {"seconds": 772.3}, "03_imbalance": {"seconds": 8.0}}}
    assert "recorded cpu build" not in page and "recorded cpu build" not in rn.render_status(_fake_status(), record)
    cpu_only = _fake_status()
    for n in cpu_only["notebooks"].values():
        n["profile"] = "cpu"
    line = [ln for ln in rn.render_status(cpu_only, record).splitlines() if "recorded cpu build" in ln][0]
    assert "26 min 36 s" in line and "47.8 normalised minutes" in line and "530 VGG-16 images/s" in line
    assert "02_lottery 12 min 52 s" in line and "03_imbalance" not in line
    for text in ("abc123def456+dirty", "2024-05-01T10:02:00Z", "| torch | 2.14.1 |",
                 "| spikingjelly | 0.0.0.0.14 |", "| jupyter-book | 1.0.4.post1 |", "| gpu | none |",
                 "| cpus | 2 |"):
        assert text in page


@pytest.mark.parametrize("seconds, text", [(0, "0.0 s"), (12.34, "12.3 s"), (75, "1 min 15 s"),
                                           (3725, "1 h 02 min")])
def test_fmt_seconds(seconds, text):
    assert rn.fmt_seconds(seconds) == text


def test_environment_facts():
    v = rn.versions()
    assert set(rn.VERSIONS) <= set(v) and v["python"].count(".") == 2
    m = rn.machine()
    assert int(m["cpus"]) >= 1 and m["gpu"] and m["platform"]
    assert rn.git_commit(Path("/")) == "unknown"


# ----------------------------------------------------------------------------- check_html

TOC = """format: jb-book
root: book/intro
parts:
  - caption: Chapters
    chapters:
      - file: book/executed/01_neurons
      - file: book/executed/02_lottery
  - caption: Back matter
    chapters:
      - file: book/executed/status
"""
HEAD = ('<html><head><script src="../../_static/doctools.js?v=1"></script>'
        '<link rel="stylesheet" href="../../_static/style.css?v=2" />{extra}</head><body><article>')
CLAIMS = ('<div class="cell_output docutils container"><div class="output text_html">'
          '<div class="uticket-claims"><p><strong>Claims checked (profile {profile})</strong></p>'
          '<table><tr><th>Claim</th><th>Paper</th><th>Here</th><th>Result</th></tr>'
          '<tr><td>utilization</td><td>100%</td><td>99.8%</td><td>PASS</td></tr>'
          '<tr><td>latency</td><td>-76.9%</td><td>-40%</td><td>FAIL</td></tr></table></div></div></div>')
TQDM = ('<div class="cell_output docutils container"><div class="output stderr highlight-myst-ansi">'
        '<pre>100%|##########| 10/10 [00:01&lt;00:00]\nUserWarning: something harmless</pre></div></div>')


def chapter_html(profile="smoke", extra_head="", body=""):
    return (HEAD.format(extra=extra_head) + "<h1>Chapter</h1>"
            '<div class="cell_output"><img src="../../_images/fig.png" alt="fig"/></div>'
            '<p>The rate is <span class="output text_plain">0.25</span>.</p>'
            + TQDM + body + CLAIMS.format(profile=profile) + "</article></body></html>")


def make_book(tmp_path, pages=None):
    """A minimal built book: html/ with the pages, book/_toc.yml, an executed/ folder."""
    html = tmp_path / "html"
    (html / "book" / "executed").mkdir(parents=True)
    (html / "_images").mkdir()
    (html / "_images" / "fig.png").write_bytes(b"\x89PNG")
    (html / "_static").mkdir()
    (html / "_static" / "doctools.js").write_text("")
    (html / "_static" / "style.css").write_text("")
    (html / "_static" / "template.html").write_text('<script src="{{ pathto(x) }}"></script>')
    (html / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />')
    (html / "book" / "intro.html").write_text(HEAD.replace("../../", "../").format(extra="") + "<p>Intro</p>")
    (html / "book" / "executed" / "status.html").write_text(HEAD.format(extra="") + "<p>status</p>")
    pages = pages or {}
    for name in ("01_neurons", "02_lottery"):
        (html / "book" / "executed" / f"{name}.html").write_text(pages.get(name, chapter_html()))
    toc = tmp_path / "_toc.yml"
    toc.write_text(TOC)
    executed = tmp_path / "executed"
    executed.mkdir()
    return html, toc, executed


def run_check(tmp_path, pages=None, profile="smoke", notebook=None):
    html, toc, executed = make_book(tmp_path, pages)
    if notebook is not None:
        (executed / "01_neurons.ipynb").write_text(json.dumps(notebook))
    return ch.check(html, toc, profile, executed)


def test_good_book_passes(tmp_path):
    problems, summary = run_check(tmp_path)
    assert problems == []
    assert summary["chapters"] == 2 and summary["claim_blocks"] == 2
    assert summary["PASS"] == 2 and summary["FAIL"] == 2  # a FAIL verdict is a result, not a problem
    assert summary["images"] == 2 and summary["pages"] == 5  # _static/template.html is skipped


def test_missing_figure_fails(tmp_path):
    page = chapter_html(body='<img src="../../_images/gone.png"/>')
    problems, _ = run_check(tmp_path, {"02_lottery": page})
    assert problems == ["book/executed/02_lottery.html: image file missing: ../../_images/gone.png"]


def test_traceback_output_fails(tmp_path):
    tb = ('<div class="cell_output"><div class="output traceback highlight-ipythontb"><pre>'
          "ValueError  Traceback (most recent call last)\nValueError: bad</pre></div></div>")
    problems, _ = run_check(tmp_path, {"01_neurons": chapter_html(body=tb)})
    assert any("error output(s)" in p for p in problems)
    assert any("contains a traceback" in p for p in problems)


def test_traceback_in_stderr_fails_but_tqdm_does_not(tmp_path):
    err = ('<div class="cell_output"><div class="output stderr"><pre>'
           "RuntimeError: CUDA out of memory</pre></div></div>")
    problems, _ = run_check(tmp_path, {"01_neurons": chapter_html(body=err)})
    assert len(problems) == 1 and "stderr output shows an error: RuntimeError: CUDA" in problems[0]


def test_traceback_text_in_code_input_is_fine(tmp_path):
    code = ('<details class="hide above-input"><summary>Show code</summary>'
            '<div class="cell_input"><pre>print("Traceback (most recent call last)")\n'
            'claims = "Claims checked (profile paper)"</pre></div></details>')
    problems, _ = run_check(tmp_path, {"01_neurons": chapter_html(body=code)})
    assert problems == []


def test_missing_claim_block_fails(tmp_path):
    page = chapter_html().replace("Claims checked (profile smoke)", "Results")
    problems, _ = run_check(tmp_path, {"02_lottery": page})
    assert problems == ["book/executed/02_lottery.html: no claim-check block (text 'Claims checked (profile'...)"]


def test_claim_block_without_verdict_fails(tmp_path):
    page = chapter_html().replace(">PASS<", ">?<").replace(">FAIL<", ">?<")
    problems, _ = run_check(tmp_path, {"01_neurons": page})
    assert problems == ["book/executed/01_neurons.html: claim-check block without any verdict (PASS, DIRECTION, FAIL, INCONCLUSIVE)"]


def test_claims_of_another_profile_fail(tmp_path):
    problems, _ = run_check(tmp_path, {"01_neurons": chapter_html(profile="cpu")}, profile="smoke")
    assert problems == ["book/executed/01_neurons.html: claims checked under profile ['cpu'], expected 'smoke'"]
    assert run_check(tmp_path / "any", {"01_neurons": chapter_html(profile="cpu")}, profile=None)[0] == []


@pytest.mark.parametrize("tag", [
    '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>',
    '<script async src="//unpkg.com/thebe@0.8/lib/index.js"></script>',
    '<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/x.css"/>',
])
def test_cdn_resources_fail(tmp_path, tag):
    problems, _ = run_check(tmp_path, {"01_neurons": chapter_html(extra_head=tag)})
    assert len(problems) == 1 and "remote" in problems[0] and "CDN" in problems[0]


def test_missing_local_script_and_page_fail(tmp_path):
    html, toc, executed = make_book(tmp_path, {"01_neurons": chapter_html(
        extra_head='<script src="../../_static/mathjax/tex-chtml.js"></script>')})
    (html / "book" / "executed" / "02_lottery.html").unlink()
    problems, _ = ch.check(html, toc, "smoke", executed)
    assert "book/executed/01_neurons.html: script file missing: ../../_static/mathjax/tex-chtml.js" in problems
    assert "book/executed/02_lottery.html missing (named in _toc.yml)" in problems


def test_stub_page_and_papermill_marker_fail(tmp_path):
    stub = (HEAD.format(extra="") + '<h1>Energy</h1><div class="uticket-stub admonition error">'
            "<p>This chapter did not execute</p></div></article>")
    marker = chapter_html(body='<p><span id="papermill-error-cell">Execution stopped</span></p>')
    problems, _ = run_check(tmp_path, {"01_neurons": stub, "02_lottery": marker})
    assert any("01_neurons.html: placeholder page" in p for p in problems)
    assert not any("01_neurons.html: no claim-check block" in p for p in problems)
    assert any("02_lottery.html: papermill error marker" in p for p in problems)


def test_executed_notebook_errors_are_flagged(tmp_path):
    nb = {"cells": [
        {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stderr",
                                           "text": ["100%|#####| 5/5\n", "UserWarning: fine\n"]}]},
        {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stderr",
                                           "text": "Traceback (most recent call last):\n  x\nKeyError: 'a'\n"}]},
        {"cell_type": "code", "outputs": [{"output_type": "error", "ename": "ValueError", "evalue": "no"}]}]}
    problems, _ = run_check(tmp_path, notebook=nb)
    assert problems == ["executed/01_neurons.ipynb: cell 1: stderr shows an error: KeyError: 'a'",
                        "executed/01_neurons.ipynb: cell 2: error output ValueError: no"]


def test_check_html_main_exit_codes(tmp_path, capsys):
    html, toc, executed = make_book(tmp_path)
    assert ch.main(["--html", str(html), "--toc", str(toc), "--executed", str(executed),
                    "--profile", "smoke"]) == 0
    assert ch.main(["--html", str(html), "--toc", str(toc), "--executed", str(executed),
                    "--profile", "paper"]) == 1
    assert "problem(s)" in capsys.readouterr().err


# ----------------------------------------------------------------------------- config files

def _requirements(lines):
    return {ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith(("#", "-"))}


def test_environment_yml_mirrors_requirements():
    req = _requirements((REPO / "ci" / "requirements.txt").read_text().splitlines())
    env = (REPO / "environment.yml").read_text()
    pip = _requirements(re.findall(r"^\s{6}- (.+)$", env, flags=re.M))
    assert pip == req, f"environment.yml pip list differs from ci/requirements.txt: {pip ^ req}"
    assert "- -e ." in env


def test_config_and_toc():
    cfg = (REPO / "_config.yml").read_text()
    assert re.search(r'^\s+execute_notebooks:\s*"off"', cfg, flags=re.M)
    assert re.search(r"^only_build_toc_files:\s*true", cfg, flags=re.M)
    assert "sphinx-mathjax-offline" in cfg and "book/references.bib" in cfg
    root, files = ch.toc_docs(REPO / "book" / "_toc.yml")
    assert root == "book/intro"
    assert files == [f"book/executed/{c}" for c in CHAPTERS] + ["book/glossary", "book/references", "book/executed/status"]
    ignored = (REPO / ".gitignore").read_text()
    for path in ("/book/executed/", "/book/failed/", "/book/_build/"):
        assert path in ignored


def test_bibliography_keys_cited_in_intro_exist():
    bib = (REPO / "book" / "references.bib").read_text()
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, flags=re.M))
    cited = {k.strip() for group in re.findall(r"\{cite\}`([^`]+)`", (REPO / "book" / "intro.md").read_text())
             for k in group.split(",")}
    assert cited and cited <= keys
    assert {"yin2024uticket", "kim2022lottery", "frankle2019lottery", "frankle2020linear",
            "fang2023spikingjelly", "chen2016eyeriss", "chen2017eyeriss", "yin2023sata",
            "horowitz2014energy", "deng2021gospa", "gondimalla2019sparten", "schaefer2023hardware",
            "nallathambi2022ldsnn"} <= keys


# ----------------------------------------------------------------------------- end to end

PASSING = '''# %% [markdown]
# # Passing chapter
#
# $$ \\tau \\frac{dV}{dt} = -V + I $$

# %% tags=["parameters"]
PROFILE = "cpu"
N = 4

# %%
import matplotlib
matplotlib.use("agg")
import matplotlib.pyplot as plt
from IPython.display import HTML, display
from myst_nb import glue
glue("total", N * 2, display=False)
plt.plot(range(N)); plt.show()

# %% [markdown]
# Twice N is {glue:}`total`.

# %%
display(HTML(f"<p>Claims checked (profile {PROFILE})</p><table><tr><td>claim</td><td>PASS</td></tr></table>"))
'''
FAILING = '''# %% [markdown]
# # Failing chapter

# %% tags=["parameters"]
PROFILE = "cpu"

# %%
raise ValueError("deliberate")
'''


@pytest.mark.slow
def test_pipeline_end_to_end(tmp_path, monkeypatch):
    """Two notebooks (one fails) + 8 missing chapters -> stubs; strict jb build; check_html."""
    for key, value in (("UTICKET_RUNS", str(tmp_path / "runs")), ("TQDM_DISABLE", "1"),
                       ("PYDEVD_DISABLE_FILE_VALIDATION", "1")):
        monkeypatch.setenv(key, value)  # run_notebooks sets these for its kernels
    pytest.importorskip("papermill")
    jb = Path(sys.executable).parent / "jupyter-book"
    if not jb.exists():
        pytest.skip("jupyter-book not installed next to this Python")
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    shutil.copy(REPO / "_config.yml", root)
    (root / "ci").mkdir()
    shutil.copy(REPO / "ci" / "sphinx_uticket.py", root / "ci")  # the book's local Sphinx extension
    for name in ("_toc.yml", "intro.md", "glossary.md", "references.md", "references.bib"):
        shutil.copy(REPO / "book" / name, root / "book")
    shutil.copytree(REPO / "book" / "_static", root / "book" / "_static")
    (root / "notebooks").mkdir()
    (root / "notebooks" / "01_neurons.py").write_text(PASSING)
    (root / "notebooks" / "02_lottery.py").write_text(FAILING)

    assert rn.main(["--root", str(root), "--profile", "smoke", "-p", "N", "5"]) == 1
    executed, failed = root / "book" / "executed", root / "book" / "failed"
    assert (failed / "02_lottery.ipynb").is_file() and not (failed / "01_neurons.ipynb").exists()
    assert '"evalue": "deliberate"' in (failed / "02_lottery.ipynb").read_text()
    status = json.loads((executed / "_status.json").read_text())
    assert status["notebooks"]["01_neurons"]["status"] == "ok"
    assert status["notebooks"]["02_lottery"]["error"] == "ValueError: deliberate"
    assert status["notebooks"]["05_cycles"]["status"] == "missing"
    assert (executed / "status.md").is_file()

    build = subprocess.run([str(jb), "build", ".", "--config", "_config.yml", "--toc", "book/_toc.yml",
                            "--path-output", "book", "-W", "-n", "--keep-going", "--all"],
                           cwd=root, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    html = root / "book" / "_build" / "html"
    page = (html / "book" / "executed" / "01_neurons.html").read_text()
    assert "Twice N is" in page and ">10<" in page  # glue of N * 2 with N = 5
    assert "_static/mathjax/tex-chtml.js" in page and (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    problems, summary = ch.check(html, root / "book" / "_toc.yml", "smoke", executed)
    assert summary["PASS"] == 1
    assert not any("01_neurons" in p for p in problems), problems
    assert not any("remote" in p for p in problems), problems
    assert {p.split(":")[0] for p in problems} == {f"book/executed/{c}.html" for c in CHAPTERS[1:]}


def test_claim_marker_matches_the_library():
    from uticket_lib.analysis import claims
    assert ch.CLAIM_MARKER == claims.CLAIM_MARKER
    cs = [claims.Claim("x", "reproduction", "Table I", "1", "1", "exact", "INCONCLUSIVE"),
          claims.Claim("y", "invariant", "ours", "-", "1", "exact", "PASS")]
    page = ch.parse(claims.to_html(cs, "smoke"))
    problems, counts = ch.check_claims(page, "p.html", "smoke")
    assert problems == [] and counts["INCONCLUSIVE"] == 1 and counts["PASS"] == 1


def test_claim_counts_by_kind_from_json(tmp_path):
    import json
    d = tmp_path / "claims"
    d.mkdir()
    rows = [{"statement": "a", "kind": "reproduction", "verdict": "PASS"},
            {"statement": "b", "kind": "reproduction", "verdict": "INCONCLUSIVE"},
            {"statement": "b2", "kind": "reproduction", "verdict": "DIRECTION"},
            {"statement": "c", "kind": "calibration", "verdict": "PASS"},
            {"statement": "d", "kind": "invariant", "verdict": "FAIL"}]
    (d / "01_x.json").write_text(json.dumps(rows))
    (d / "02_y.json").write_text(json.dumps([{"statement": "e", "kind": "guess", "verdict": "PASS"}]))
    counts, problems = ch.claim_counts(d)
    assert counts["reproduction"] == {"PASS": 1, "DIRECTION": 1, "FAIL": 0, "INCONCLUSIVE": 1}
    assert counts["calibration"]["PASS"] == 1 and counts["invariant"]["FAIL"] == 1
    assert len(problems) == 1 and "guess" in problems[0]
    line = ch.format_claim_counts(counts)
    assert line.startswith("reproduction 1 PASS / 1 DIRECTION / 0 FAIL / 1 INCONCLUSIVE") and "calibration 1" in line


@pytest.mark.slow
def test_executed_chapter_reruns_under_plain_papermill(tmp_path, monkeypatch):
    """The README's command: papermill on an executed chapter with -p PROFILE smoke completes.

    Chapter 1 (no training) is executed once as run_notebooks does, then the executed notebook is
    run again by the papermill command line: its parameters cell keeps its tag, so papermill
    replaces the injected cell instead of stacking a second one."""
    pytest.importorskip("papermill")
    monkeypatch.setenv("UTICKET_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("UTICKET_CLAIMS_DIR", str(tmp_path / "claims"))
    args = rn.parse_args(["--profile", "smoke", "--out", str(tmp_path / "executed"),
                          "--failed", str(tmp_path / "failed"), "--only", "01_neurons"])
    res = rn.execute(REPO / "notebooks" / "01_neurons.py", args)
    assert res.status == "ok", res.error
    executed = tmp_path / "executed" / "01_neurons.ipynb"
    out = tmp_path / "out.ipynb"
    done = subprocess.run([sys.executable, "-m", "papermill", str(executed), str(out), "-p", "PROFILE", "smoke",
                           "--cwd", str(REPO), "-k", "python3"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    nb = json.loads(out.read_text())
    tags = [c.get("metadata", {}).get("tags", []) for c in nb["cells"]]
    assert sum("parameters" in t for t in tags) == 1
    assert sum("injected-parameters" in t for t in tags) == 1
    assert not any(o.get("output_type") == "error" for c in nb["cells"] for o in c.get("outputs", []))


def test_run_note_goes_under_the_title_once():
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title\n\nIntro text."),
                                         nbformat.v4.new_code_cell("x = 1")])
    rn.add_run_note(nb, "04_uticket", "notebooks/04_uticket.py", "smoke", 12.0)
    rn.add_run_note(nb, "04_uticket", "notebooks/04_uticket.py", "cpu", 100.0)  # rerun: replaced
    text = nb.cells[0].source
    assert text.startswith("# Title\n\n:::{admonition}") and text.endswith("Intro text.\n")
    assert text.count(rn.RUN_NOTE_CLASS) == 1 and "profile `cpu` in 1 min 40 s" in text
    assert "<../../notebooks/04_uticket.py>" in text and "papermill 04_uticket.ipynb" in text
    assert len(nb.cells) == 2


def test_every_profile_is_complete_for_the_book_runner_and_every_profile_table():
    """`uticket book --profile gpu` died in run_notebooks' own profile list, and chapter 12 on a
    missing TIMEPLAN_SEARCH entry: every table keyed by profile covers every profile."""
    from uticket_lib import profiles
    from uticket_lib.analysis import timesteps

    assert set(rn.PROFILES) == set(profiles.PROFILES) == set(rn.PROFILE_TIMES)
    assert set(profiles.TIMEPLAN_SEARCH) == set(profiles.PROFILES)
    for p in profiles.PROFILES:
        assert rn.parse_args(["--profile", p]).parameters["PROFILE"] == p
        assert timesteps.search_settings(p)["val_size"] >= 1


class _ReachedTraining(Exception):
    """Raised where a chapter first trains: its setup worked for the profile."""


@pytest.mark.parametrize("profile", ["gpu", "paper"])
def test_every_chapter_reaches_its_first_training_call_at_every_gpu_profile(profile, monkeypatch, tmp_path):
    """`uticket book --profile P` for the profiles CI cannot train: each chapter's cells run in order
    (parameters set as papermill sets them) until the first ``lottery.run``, which stops it."""
    import jupytext
    import matplotlib

    matplotlib.use("Agg")
    from uticket_lib import lottery

    def stop(*a, **k):
        raise _ReachedTraining

    monkeypatch.setattr(lottery, "run", stop)
    monkeypatch.setenv("UTICKET_RUNS", str(tmp_path / "runs"))
    reached = []
    for source in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py")):
        nb = jupytext.read(source)
        scope: dict = {}
        try:
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                exec(compile(cell.source, source.name, "exec"), scope)  # noqa: S102 - the book's own cells
                if "parameters" in cell.metadata.get("tags", []):
                    scope["PROFILE"] = profile
        except _ReachedTraining:
            reached.append(source.stem)
    assert set(reached) >= {"02_lottery", "04_uticket", "05_cycles", "06_energy", "07_pe_scaling",
                            "08_system", "09_paper_vs_code", "10_reordering", "11_quantization",
                            "12_timesteps"}, reached      # every chapter that trains got there


def test_ceiling_probe_summary_from_learning_curves(tmp_path):
    """ci/ceiling.py: per network, each recorded ticket budget's gap to the dense network, in passes."""
    ce = _load("ceiling")
    dense = {"arch": "vgg16", "recipe": "noaug", "kind": "dense", "final_val_accuracy": 0.875, "budget": 56000}
    tickets = [{"arch": "vgg16", "recipe": "noaug", "kind": k, "method": "lth", "final_val_accuracy": acc,
                "ticket_budget": b, "train_images": 56000, "sparsity": 0.98, "rewind_images": 8000, "lr": 1e-3}
               for k, acc, b in (("lth", 0.808, 56000), ("lth-tb224000", 0.858, 224000))]
    faster = {**tickets[0], "kind": "lth-lr0.005", "ticket_lr": 5e-3, "final_val_accuracy": 0.824}
    other = {**tickets[0], "recipe": "base"}                       # another recipe: not this probe
    later = {**tickets[0], "kind": "lth-rw24000", "rewind_images": 24000}   # another rewind point: neither
    warm = {**tickets[1], "kind": "lth-tb224000-w2-0.75", "ticket_warm": [2, 0.75],   # partly at T = 2:
            "final_val_accuracy": 0.9}                                                # another recipe
    assert "vgg16" not in ce.ceiling([dense, *tickets])   # VGG-16's profile recipe is noaug-b32
    r = ce.ceiling([dense, *tickets, faster, other, later, warm], {"vgg16": "noaug"})["vgg16"]
    assert r["recipe"] == "noaug"
    assert r["best"]["source_kind"] == "lth-tb224000" and r["best"]["val_accuracy"] == 0.858
    assert [t["passes"] for t in r["tickets"]] == [1.0, 1.0, 4.0]
    assert [t["ticket_lr"] for t in r["tickets"]] == [1e-3, 5e-3, 1e-3]
    assert [round(t["gap_points"], 1) for t in r["tickets"]] == [-6.7, -5.1, -1.7]
    assert [t["meets_target"] for t in r["tickets"]] == [False, False, True]
    out = tmp_path / "ceiling.json"
    out.write_text(json.dumps({"archs": {"vgg16": r}}))
    from uticket_lib.analysis import recipes
    assert recipes.ceiling_text(out) == ("VGG-16 -6.70 after 56,000 images (1.0 pass) at lr 0.001, -5.10 after 56,000 "
                                         "images (1.0 pass) at lr 0.005, -1.70 after 224,000 images (4.0 passes) at lr 0.001")
    assert recipes.ceiling_text(out, {"vgg16": 5e-3}) == "VGG-16 -5.10 after 56,000 images (1.0 pass) (lr 0.005)"
    assert list(recipes.longer_probe_frame({"vgg16": 5e-3}, out).columns) == ["1.0 pass (56,000 images)"]


def test_ceiling_probe_keeps_each_ticket_with_the_dense_curve_it_was_pruned_from():
    """A dense curve trained longer and its ticket form ``longer_dense``: the long ticket is measured
    against the long dense network, never against the one-pass one, and the one-pass probe keeps
    only its own tickets."""
    ce = _load("ceiling")
    one = {"arch": "resnet19", "recipe": "noaug", "kind": "dense", "final_val_accuracy": 0.86, "budget": 56000,
           "train_images": 58000}
    four = {**one, "final_val_accuracy": 0.89, "budget": 224000}
    t = {"arch": "resnet19", "recipe": "noaug", "method": "lth", "sparsity": 0.98, "rewind_images": 8000,
         "train_images": 58000, "ticket_lr": 0.01}
    short = {**t, "kind": "lth-lr0.01", "budget": 56000, "ticket_budget": 56000, "final_val_accuracy": 0.82}
    long_ = {**t, "kind": "lth-tb448000-lr0.01", "budget": 224000, "ticket_budget": 448000,
             "final_val_accuracy": 0.88}
    r = ce.ceiling([long_, four, short, one])["resnet19"]      # order of the record does not matter
    assert r["dense_budget"] == 56000 and [x["source_kind"] for x in r["tickets"]] == ["lth-lr0.01"]
    assert round(r["tickets"][0]["gap_points"], 2) == -4.0
    (longer,) = r["longer_dense"]
    assert longer["dense_budget"] == 224000 and round(longer["dense_passes"], 2) == round(224000 / 58000, 2)
    (lt,) = longer["tickets"]
    assert lt["source_kind"] == "lth-tb448000-lr0.01" and round(lt["gap_points"], 2) == -1.0   # 88 - 89
    assert lt["meets_target"] and round(lt["passes"], 2) == round(448000 / 58000, 2)
    assert ce.ceiling([one, short])["resnet19"]["longer_dense"] == []


def test_trained_long_text_says_whether_the_width_or_the_budget_holds_the_gap(tmp_path):
    """The trained-long probe in words: what longer training bought the dense network and its
    ticket; the test-set aims compared after the validation-over-test offsets of the probe's own
    runs (dense and tickets apart), within a band of binomial noise, the offset's standard error and
    the seeds' spread; the rule lowers an aim only beyond that band."""
    from uticket_lib.analysis import recipes
    ticket = {"ticket_budget": 448000, "passes": 7.72, "val_accuracy": 0.875, "gap_points": -1.5,
              "meets_target": True, "ticket_lr": 0.01}
    short = {"ticket_budget": 224000, "passes": 3.86, "val_accuracy": 0.85, "gap_points": -1.0,
             "meets_target": True, "ticket_lr": 0.01}
    rows = [{"seed": 0, "passes": 4, "val_accuracy": 0.85, "test_accuracy": 0.84,
             "dense_val_accuracy": 0.87, "dense_test_accuracy": 0.85}]
    rec = {"archs": {"resnet19": {"dense_val_accuracy": 0.86, "tickets": [short], "longer_dense": [
               {"dense_budget": 224000, "dense_passes": 3.86, "dense_val_accuracy": 0.89, "tickets": [ticket]}]}},
           "book_tickets": {"archs": {"resnet19": {"rows": rows}}}}
    out = tmp_path / "ceiling.json"

    def text():
        out.write_text(json.dumps(rec))
        return recipes.trained_long_text(out)
    t = text()
    assert t["result"] == ("ResNet-19: the dense network 89.00 % after 3.9 passes, +3.00 points over the one-pass run; "
                           "its 98 % LTH ticket 87.50 % after 7.7 passes at lr 0.01, +2.50 over the one-pass dense "
                           "network's ticket after 3.9 passes at that rate (85.00 %)")
    assert "(ResNet-19 -1.50 points)" in t["verdict"] and "(ResNet-19 -1.00 after 3.9 passes)" in t["verdict"]
    assert t["offset"].startswith("ResNet-19 2.0 (dense) and 1.0 (tickets) points")
    # one seed, no val_images: no band; 89 - 2 = 87 and 87.5 - 1 = 86.5 both above their aims
    assert t["aims"] == ("ResNet-19's dense network about 87.0 % against 86 %: above it; its LTH ticket about "
                         "86.5 % against 84 %: above it")
    assert t["rule"].startswith("no trained-long result lies below an aim beyond its band, so the rule lowers no aim")
    frame = recipes.trained_long_frame(out)
    assert list(frame.columns) == ["ResNet-19"]
    assert frame.loc["ticket: learning rate", "ResNet-19"] == "0.01"       # not rounded away
    assert frame.loc["ticket minus its dense network (points)", "ResNet-19"] == "-1.50"
    ticket["val_accuracy"] = 0.835                                     # a broken ticket: below its aim
    t = text()
    assert "its LTH ticket about 82.5 % against 84 %: below it" in t["aims"]
    assert t["rule"].startswith("the rule lowers ResNet-19's LTH ticket aim to about 80.5 %")
    ticket["val_images"] = 2000                                        # one draw's noise, 0.83 points at 83.5 %
    rows.append({**rows[0], "seed": 1, "test_accuracy": 0.82, "val_accuracy": 0.83})  # seeds' spread 1.41
    t = text()
    assert "its LTH ticket about 82.5 % against 84 %: at it, within the uncertainty (+-1.6)" in t["aims"]
    assert t["rule"].startswith("no trained-long result lies below an aim")
    assert t["middle"] == "not measured"
    mid = {"ticket_budget": 224000, "passes": 3.86, "val_accuracy": 0.86, "gap_points": -2.5,
           "meets_target": False, "ticket_lr": 0.01}
    rec["archs"]["resnet19"]["longer_dense"].insert(0, {"dense_budget": 112000, "dense_passes": 1.93,
                                                        "dense_val_accuracy": 0.885, "tickets": [mid]})
    t = text()   # the longest probe still speaks for the aims; the shorter one is "middle"
    assert "its LTH ticket about 82.5 % against 84 %" in t["aims"]
    assert t["middle"] == ("ResNet-19 with its dense network trained 1.9 passes (88.50 %, about 86.5 % on the test "
                           "set against its aim of 86 %) and its ticket 3.9 (86.00 %): -2.50 points, outside the "
                           "2-point target; training the dense network longer buys its aim and costs the gap: the "
                           "two targets pull apart")
    mid["meets_target"] = True                                          # the gap held: no pulling apart
    assert "pull apart" not in text()["middle"]
    assert list(recipes.trained_long_frame(out).columns) == ["ResNet-19, 2 + 4 passes", "ResNet-19, 4 + 8 passes"]
    assert recipes.trained_long_text(tmp_path / "none.json")["verdict"] == "not measured"


def test_record_book_cpu_normalises_by_the_mean_of_the_two_benchmarks(tmp_path, monkeypatch):
    rec = _load("record_book_cpu")
    monkeypatch.setenv("UTICKET_RUNS", str(tmp_path / "runs"))
    for name, speed in (("before", 300.0), ("after", 268.0)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"date": "d", "results": {"vgg16": {"model_images_per_s": speed}}}))
    out = tmp_path / "book.json"
    argv = ["record_book_cpu.py", "--seconds", "1000", "--bench", str(tmp_path / "before.json"),
            "--status", str(tmp_path / "none.json"), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    rec.main()
    one = json.loads(out.read_text())
    assert one["normalised_seconds"] == pytest.approx(1000 * 300 / rec.REFERENCE_IMAGES_PER_S)
    monkeypatch.setattr(sys, "argv", argv + ["--bench-after", str(tmp_path / "after.json")])
    rec.main()
    two = json.loads(out.read_text())
    assert two["bench_vgg16_images_per_s"] == 300 and two["bench_vgg16_images_per_s_after"] == 268
    assert two["normalised_seconds"] == pytest.approx(1000 * 284 / rec.REFERENCE_IMAGES_PER_S)
    assert "mean" in two["normalised_basis"]


def test_step_breakdown_counts_the_outermost_matching_event_whole():
    """ci/bench_step.py: a convolution's backward is "conv" whole (its inner adds too); an unmatched
    event's own time is "other", its matched children keep their part; hand-made event tree (us)."""
    bs = _load("bench_step")

    class E:
        def __init__(self, name, total, kids=()):
            self.name, self.cpu_time_total, self.cpu_children, self.cpu_parent = name, total, list(kids), None
            for k in self.cpu_children:
                k.cpu_parent = self

    add = E("aten::add", 5.0)
    conv_bwd = E("autograd::engine::evaluate_function: ConvolutionBackward0", 40.0, [add])
    lif = E("_LIFFunction", 20.0, [E("aten::threshold", 8.0)])
    step = E("ProfilerStep#5", 100.0, [conv_bwd, lif, E("Optimizer.step#AdamW.step", 10.0)])
    parts = bs.split([step, *step.cpu_children, add])          # only roots are walked
    assert parts == {"conv": 40.0, "lif": 20.0, "optimizer": 10.0, "other": 30.0}
    assert bs.part_of("aten::native_batch_norm") == "batch norm" and bs.part_of("aten::relu") is None


def test_status_says_how_independent_runs_train(monkeypatch):
    from uticket_lib import parallel
    monkeypatch.setattr(parallel, "cores", lambda: 4)
    monkeypatch.setenv("UTICKET_WORKERS", "2")
    assert rn.side_by_side().startswith("up to 2 at a time, 2 torch threads each")
    monkeypatch.setenv("UTICKET_WORKERS", "1")
    assert rn.side_by_side() == "one after another, on all of torch's threads"
    monkeypatch.setenv("UTICKET_WORKERS", "many")
    assert "UTICKET_WORKERS" in rn.side_by_side()
    assert "independent runs (CPU)" in rn.machine()


def test_ceiling_book_tickets_compare_the_same_ticket_trained_longer(tmp_path):
    """ci/ceiling.py --runs: the book's LTH ticket and the same ticket (same dense level, so the same
    mask) trained more passes, on the test set, with what the extra passes would add to the book."""
    from uticket_lib import lottery, profiles
    from conftest import synthetic
    ce = _load("ceiling")
    over = {"model.width": 0.0625, "train.batch_size": 16, "train.epochs_dense": 2, "prune.levels": 2,
            "prune.fraction": 0.5, "prune.rewind_epoch": 1, "balance.n_pe": 4}
    sets = (synthetic(32, seed=1), synthetic(16, seed=2))
    root = tmp_path / "runs"
    book = tmp_path / "book_cpu.json"
    book.write_text(json.dumps({"total_seconds": 100.0, "normalised_seconds": 150.0}))
    with pytest.raises(SystemExit, match="pass --train"):
        ce.book_tickets([root], (1, 2), archs=("vgg16",), book_cpu=book, profile="smoke", overrides=over)
    for seed in (0, 1):
        for p in (1, 2):
            cfg = profiles.get("smoke", "vgg16", "fmnist", "lth", {**over, "train.epochs_final": p, "train.seed": seed})
            lottery.run(cfg, datasets=sets, root=root, progress=False)
    rec = ce.book_tickets([root], (1, 2), archs=("vgg16",), book_cpu=book, profile="smoke", overrides=over,
                          seeds=(0, 1))
    r = rec["archs"]["vgg16"]
    assert r["same_mask"] is True                      # one dense level per seed, so one mask per seed
    one, two, one_b, two_b = r["rows"]
    assert [(x["seed"], x["passes"]) for x in r["rows"]] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert one["dense_test_accuracy"] == two["dense_test_accuracy"]
    for row in r["rows"]:
        assert row["gap_test_points"] == pytest.approx(100 * (row["test_accuracy"] - row["dense_test_accuracy"]))
    assert r["gap"]["2"]["mean"] == pytest.approx((two["gap_test_points"] + two_b["gap_test_points"]) / 2)
    from uticket_lib.analysis import stats
    assert r["longer_minus_book"] == pytest.approx(list(stats.paired_t(
        [one["gap_test_points"], one_b["gap_test_points"]], [two["gap_test_points"], two_b["gap_test_points"]])))
    # one more pass of LTH and u-Ticket (2 x seed 0's LTH seconds per pass), two side by side, x 1.5 normalised
    assert rec["extra_normalised_minutes"] == {"2": round(2 * one["seconds_per_pass"] / 2 * 1.5 / 60, 1)}
    out = tmp_path / "ceiling.json"
    out.write_text(json.dumps({"archs": {}, "book_tickets": rec}))
    from uticket_lib.analysis import recipes
    text = recipes.book_tickets_text(out, book)
    assert text["tickets"].startswith(f"VGG-16: {100 * one['test_accuracy']:.1f} % after 1 pass (")
    g2 = r["gap"]["2"]
    mean, low, high = stats.mean_t([two["gap_test_points"], two_b["gap_test_points"]])
    assert text["meets"].startswith(f"VGG-16's mean gap after 2 passes {mean:+.2f} points (95 % interval "
                                    f"[{low:+.2f}, {high:+.2f}] over 2 seeds): ")
    d = r["longer_minus_book"][0]
    if r["gap"]["1"]["mean"] < 0:
        assert text["recovered"].startswith(f"VGG-16 {100 * d / -r['gap']['1']['mean']:.0f} % of its 1-pass gap")
    assert text["threads"] == "Every pair trained on the same threads"
    # one network here, so its share is the whole estimate
    assert r["extra_normalised_minutes"] == rec["extra_normalised_minutes"]
    m = rec["extra_normalised_minutes"]["2"]
    assert text["cost"].startswith(f"VGG-16's two tickets at 2 passes instead of 1 pass about {m:g} normalised minutes (")
    assert text["cost"].endswith(f"would take this build's 2.5 to about {2.5 + m:.1f}: within the 60 of its budget")
    paid = recipes.book_tickets_text(out, book, profile_passes={"vgg16": 2})["cost"]   # the profile trains them so
    assert paid == (f"VGG-16's two tickets at 2 passes about {m:g} normalised minutes by this estimate, which would "
                    f"take this build's 2.5 to about {2.5 + m:.1f}: within the 60 of its budget; the profile now "
                    "spends them (this build trained them 2 passes)")
    assert text["build"] == "this book's build"   # the record names no commit: book_cpu.json here has none
    old = {**rec, "archs": {"vgg16": {k: v for k, v in r.items() if k != "extra_normalised_minutes"}}}
    out.write_text(json.dumps({"archs": {}, "book_tickets": old}))   # a record from before the per-network shares
    assert recipes.book_tickets_text(out, book)["cost"].startswith(f"about {m:g} normalised minutes (2 passes instead of 1 pass")
    out.write_text(json.dumps({"archs": {}, "book_tickets": {**rec, "book_commit": "abcdef0123"}}))
    assert recipes.book_tickets_text(out, book)["build"] == "the build at abcdef0"
    # a record naming its build's total adds to that total, not to the current build's
    out.write_text(json.dumps({"archs": {}, "book_tickets": {**rec, "book_commit": "abcdef0123",
                                                             "book_normalised_minutes": 59.0}}))
    assert recipes.book_tickets_text(out, book)["cost"].endswith(
        f"which would take that build's (abcdef0) 59.0 to about {59.0 + m:.1f}: "
        f"{'more than' if 59.0 + m > 60 else 'within'} the 60 of its budget")
    assert recipes.longer_book_frame(out).index[0] == "1 pass: seed 0 (the build at abcdef0)"
    out.write_text(json.dumps({"archs": {}, "book_tickets": rec}))
    mean_acc = 100 * (two["test_accuracy"] + two_b["test_accuracy"]) / 2
    assert text["aims"].startswith(f"VGG-16 {mean_acc:.1f} % [")
    dense_mean = 100 * (one["dense_test_accuracy"] + one_b["dense_test_accuracy"]) / 2
    assert text["dense"] == f"VGG-16 {dense_mean:.1f} % (mean of 2 seeds) against 88 %"
    frame = recipes.longer_book_frame(out)
    assert list(frame.index[:3]) == ["1 pass: seed 0 (this book's run)", "1 pass: seed 1", "1 pass: mean"]
    assert frame.loc["2 passes: mean", "VGG-16"] == pytest.approx(g2["mean"], abs=0.005)
    assert frame.loc["2 minus 1 passes (paired): mean", "VGG-16"] == pytest.approx(d, abs=0.005)
    # the verdict: seeds and interval on either side of a bound, and the case between
    assert recipes._verdict([1.0, 2.0], 0.5, 2.5, 0.0, "it") == "every seed and the interval clear it"
    assert recipes._verdict([-1.0, -2.0], -2.5, -0.5, 0.0, "it") == "every seed and the interval miss it"
    assert recipes._verdict([1.0, 2.0], -0.5, 3.5, 0.0, "it") == "every seed clears it, but the interval includes it"
    assert recipes._verdict([-1.0, 2.0], -5.0, 6.0, 0.0, "it") == "the seeds split on it, but the interval includes it"
    assert recipes._verdict([1.0], float("nan"), float("nan"), 0.0, "it") == "clears it (one draw)"


def test_own_gap_and_build_minutes_texts(tmp_path):
    from uticket_lib.analysis import recipes, stats
    d = stats.PairedDiff(n=100, acc_a=0.80, acc_b=0.83, diff=-0.03, lo=-0.05, hi=-0.01, only_a=2, only_b=5)
    text = recipes.own_gap_text({"vgg16": d, "resnet19": None}, {"vgg16": 4, "resnet19": 2})
    assert text == f"VGG-16 {d.text()} after 4 passes"          # a network without a paired difference is left out
    book = tmp_path / "book_cpu.json"
    assert recipes.build_minutes_text(book) == "not recorded"
    book.write_text(json.dumps({"total_seconds": 600.0, "normalised_seconds": 1200.0, "commit": "abcdef012345",
                                "machine": {"cpu": "Some CPU"}}))
    speed = 1200.0 * recipes.REFERENCE_IMAGES_PER_S / 600.0   # the benchmark speed the normalisation implies
    assert recipes.build_minutes_text(book) == (f"20.0 normalised minutes of the 60, 10.0 minutes on a machine at "
                                                f"{speed:.0f} images/s (Some CPU, commit abcdef0)")
