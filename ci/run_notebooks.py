#!/usr/bin/env python
"""Execute the book's chapters: jupytext source -> notebook -> papermill -> book/executed/.

    .venv/bin/python ci/run_notebooks.py [--profile smoke|cpu|paper] [--only 04_uticket ...]
                                         [-p KEY VALUE ...] [--out book/executed]

For every ``notebooks/NN_topic.py`` (jupytext percent format; sorted by name):

1. jupytext reads it into a notebook in memory, with the ``python3`` kernelspec;
2. papermill executes it with the parameters ``{"PROFILE": profile, **overrides}`` (each chapter has
   one cell tagged ``parameters``; papermill injects a cell after it);
3. the executed notebook goes to ``book/executed/NN_topic.ipynb``.

Working directory: the kernel runs in the repository root (as the ``uticket`` CLI does), so a
relative path in a chapter means the same thing everywhere. ``UTICKET_RUNS`` is set to
``<repo>/runs`` unless it is already set, so chapters share (and cache) their training runs, and
``TQDM_DISABLE=1`` unless set, so progress bars do not clutter the executed notebooks.

Progress: the console shows one line per finished training level (``uticket_lib.progress`` appends
it to the file named by ``UTICKET_PROGRESS``, which this script sets per chapter and prints while the
chapter runs), prefixed with the chapter's elapsed time and, when ``_status.json`` holds an earlier
build with the same profile and parameters, the time left by that build's measure. The kernel's own
log is silenced (see ``KERNEL_ARGUMENTS``), so a clean build prints no warnings.

Every notebook runs even after a failure. A failing notebook, executed up to the failing cell with
the error in it, is kept in ``book/failed/``, and the book gets a stub page for the chapter that
says so (so the rest of the book still builds); a chapter named in ``book/_toc.yml`` with no source
gets a "not written yet" stub. At the end the script lists the failures with each error's last line
and exits 1. ``book/executed/_status.json`` records every notebook's status, profile, parameters and
wall time (merged across ``--only`` runs), and ``book/executed/status.md`` renders it with the
versions, machine, git commit and date (the book's "Build status" page).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import difflib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the library of the repository being built, as the notebooks' kernels (cwd = the root) import it,
# not another checkout's that an editable install may point to
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from check_html import claim_counts, format_claim_counts  # noqa: E402  (ci/ is not a package)
from uticket_lib.profiles import PROFILES as _PROFILE_SETTINGS  # noqa: E402
from uticket_lib.progress import fmt_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROFILES = tuple(_PROFILE_SETTINGS)   # every profile of uticket_lib.profiles, nothing else
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
SOURCE_GLOB = "[0-9][0-9]_*.py"
STATUS_JSON = "_status.json"
STATUS_PAGE = "status.md"
STUB_CLASS = "uticket-stub"  # CSS class of the admonition on a stub page (ci/check_html.py looks for it)
# The kernel's own log (ipykernel's "Kernel is running over TCP without encryption" warning at start,
# and "KeyboardInterrupt caught in kernel" at the end: jupyter_client interrupts the kernel with SIGINT
# before every shutdown request, and ipykernel logs the interrupt as an error) goes to this process's
# stderr and looks like a fault. Cell errors reach papermill through the messaging protocol, not this
# log, so raising its level hides nothing a chapter does.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
PROGRESS_ENV = "UTICKET_PROGRESS"   # uticket_lib.progress appends one line per finished run level here
VERSIONS = ("python", "uticket", "torch", "torchvision", "spikingjelly", "numpy", "jupyter-book",
            "sphinx", "myst-nb", "papermill", "jupytext")


# ----------------------------------------------------------------------------- arguments

def resolve_value(text: str):
    """Command-line string -> Python value, as ``papermill -p`` does (True/False/None/int/float/str)."""
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; ``-p KEY VALUE`` pairs end up in ``args.parameters`` (a dict)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=PROFILES, default=os.environ.get("PROFILE") or "cpu",
                    help="value of the PROFILE parameter (default: $PROFILE or cpu)")
    ap.add_argument("--only", nargs="+", default=None, metavar="NAME",
                    help="run only these chapters: 04_uticket, 04 or notebooks/04_uticket.py")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                    metavar=("KEY", "VALUE"), help="extra papermill parameter (repeatable)")
    ap.add_argument("--root", type=Path, default=ROOT, help="repository root (default: %(default)s)")
    ap.add_argument("--notebooks", type=Path, default=None,
                    help="folder of jupytext sources (default: ROOT/notebooks)")
    ap.add_argument("--out", type=Path, default=None, help="executed notebooks (default: ROOT/book/executed)")
    ap.add_argument("--failed", type=Path, default=None, help="failed notebooks (default: ROOT/book/failed)")
    ap.add_argument("--toc", type=Path, default=None, help="table of contents (default: ROOT/book/_toc.yml)")
    ap.add_argument("--timeout", type=float, default=None, help="per-cell limit, seconds (default: none)")
    ap.add_argument("--log-output", action="store_true", help="stream the cells' output to this terminal")
    args = ap.parse_args(argv)
    args.root = args.root.resolve()
    args.notebooks = (args.notebooks or args.root / "notebooks").resolve()
    args.out = (args.out or args.root / "book" / "executed").resolve()
    args.failed = (args.failed or args.root / "book" / "failed").resolve()
    args.toc = (args.toc or args.root / "book" / "_toc.yml").resolve()
    args.parameters = {"PROFILE": args.profile}
    args.parameters.update({k: resolve_value(v) for k, v in args.parameter})
    return args


# ----------------------------------------------------------------------------- discovery

def toc_chapters(toc: Path, out: Path, root: Path) -> list[str]:
    """Names (``NN_topic``) of the executed notebooks that the table of contents expects in ``out``."""
    if not toc.is_file():
        return []
    try:
        prefix = out.relative_to(root).as_posix() + "/"
    except ValueError:
        return []
    names = re.findall(r"^\s*-?\s*file:\s*['\"]?([^'\"\s#]+)", toc.read_text(), flags=re.M)
    stems = [n[len(prefix):].removesuffix(".ipynb") for n in names if n.startswith(prefix)]
    return [s for s in stems if s != Path(STATUS_PAGE).stem]


def select(sources: list[Path], only: list[str] | None) -> list[Path]:
    """Filter sources by ``--only`` names (stem, number prefix or path); unknown names raise."""
    if not only:
        return sources
    chosen, unknown = [], []
    for name in only:
        key = Path(name).stem
        hits = [s for s in sources if s.stem == key or s.stem.split("_")[0] == key]
        if hits:
            chosen.extend(hits)
        else:
            unknown.append(name)
    if unknown:
        known = ", ".join(s.stem for s in sources) or "none"
        raise SystemExit(f"run_notebooks: no notebook matches {unknown}; known: {known}")
    return sorted(set(chosen))


def parameter_names(nb) -> list[str] | None:
    """Names assigned in the cell tagged ``parameters`` (None when there is no such cell)."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return None
    return re.findall(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", "\n".join(c.source for c in cells), flags=re.M)


def check_parameters(sources: list[Path], parameters: dict) -> None:
    """Refuse (SystemExit, one line) a ``-p`` name that no chosen chapter's parameters cell sets:
    papermill would inject it where nothing reads it and the chapter would run on its default."""
    declared: set[str] = {"PROFILE"}
    for source in sources:
        try:
            declared.update(parameter_names(to_notebook(source)) or [])
        except Exception:  # an unreadable source is reported as failed by execute()
            continue
    unknown = sorted(set(parameters) - declared)
    if unknown:
        close = {u: difflib.get_close_matches(u, declared, n=1) for u in unknown}
        hints = "".join(f" ({u}: did you mean {c[0]}?)" for u, c in close.items() if c)
        raise SystemExit(f"run_notebooks: no chosen chapter takes the parameter(s) {', '.join(unknown)}"
                         f"{hints}; the chosen chapters take: {', '.join(sorted(declared))}")


def title_of(source: Path) -> str:
    """First markdown ``# heading`` of a jupytext percent file, else the file stem."""
    if source.is_file():
        for line in source.read_text(errors="replace").splitlines():
            m = re.match(r"^#\s+#\s+(.+)$", line)  # '# # Title' inside a markdown cell
            if m:
                return m.group(1).strip()
    return source.stem


# ----------------------------------------------------------------------------- execution

@dataclass
class Result:
    """One notebook's outcome, as stored in ``_status.json``."""
    name: str
    status: str  # "ok" | "failed" | "missing"
    profile: str
    seconds: float = 0.0
    parameters: dict = field(default_factory=dict)
    error: str | None = None
    finished: str = ""
    source: str = ""
    output: str = ""


def error_last_line(exc: BaseException) -> str:
    """``ename: evalue`` for a papermill cell error, else the last non-empty line of ``str(exc)``."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}".strip().splitlines()[-1] if evalue else str(ename)
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1].strip() if lines else type(exc).__name__


def to_notebook(source: Path):
    """Read a jupytext source into an nbformat notebook with the python3 kernelspec."""
    import jupytext

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


RUN_NOTE_CLASS = "uticket-run-note"
BOOK_CPU = Path(__file__).resolve().parent / "bench_results" / "book_cpu.json"


def cpu_book_time(path: Path = BOOK_CPU) -> str:
    """The recorded cpu build's time in words (``ci/record_book_cpu.py``), for the run notes."""
    try:
        d = json.loads(path.read_text())
        speed = d["normalised_seconds"] * d["reference_images_per_s"] / d["total_seconds"]   # the record's basis
        return (f"{d['normalised_seconds'] / 60:.0f} min normalised to a {d['reference_images_per_s']:.0f} images/s "
                f"machine, {d['total_seconds'] / 60:.0f} min measured on one that benchmarks at {speed:.0f}")
    except (OSError, ValueError, KeyError, TypeError):
        return "no recorded build"


PROFILE_TIMES = {"smoke": "minutes on a CPU", "cpu": f"the book's numbers; about an hour for all chapters on 2 CPU cores ({cpu_book_time()})",
                 "gpu": "full width and data on one GPU (about an hour per network and method)",
                 "paper": "the paper's settings; needs a GPU (hours)"}


def run_note(name: str, source: str, profile: str, seconds: float) -> str:
    """What a downloaded notebook needs to run, as a MyST admonition (see ``add_run_note``)."""
    times = "; ".join(f"`-p PROFILE {p}`: {t}" for p, t in PROFILE_TIMES.items())
    return (f":::{{admonition}} Run this notebook yourself\n:class: tip dropdown {RUN_NOTE_CLASS}\n"
            f"Download it with the download button at the top of the page (`.ipynb`) or as its "
            f"{{download}}`jupytext source <../../{source}>`. It needs the `uticket_lib` package "
            f"(`pip install -e .` in a clone of the repository, which pins its dependencies) and, for "
            f"training, Fashion-MNIST (Debian's `dataset-fashion-mnist`, or `UTICKET_DATA`). Run it with\n"
            f"`papermill {name}.ipynb out.ipynb -p PROFILE smoke` from the clone's root ({times}). "
            f"Trained networks are cached under `$UTICKET_RUNS` (default `./runs`): with this build's "
            f"cache the chapter reruns without training; without it, it trains its runs again. This "
            f"page was executed under profile `{profile}` in {fmt_seconds(seconds)}.\n:::\n")


def add_run_note(nb, name: str, source: str, profile: str, seconds: float) -> None:
    """Put the run note into the first cell, right under the chapter's title (idempotent)."""
    import nbformat

    note = run_note(name, source, profile, seconds)
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "markdown":
        text = first.source
        if RUN_NOTE_CLASS in text:  # a rerun of an executed notebook: replace the old note
            text = re.sub(r"\n*:::\{admonition\} Run this notebook yourself.*?\n:::\n", "\n", text, flags=re.S)
        lines = text.split("\n")
        head = 1 if lines and lines[0].startswith("# ") else 0
        text = "\n".join(lines[:head] + ["", note, ""] + lines[head:])
        first.source = re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(note))


GLUE_MIME = "application/papermill.record/"   # myst-nb glue(display=False): data for the prose only
AUTHOR_TAGS = {"remove-cell", "remove-input", "hide-input", "hide-cell", "show-input"}


def visible_output(cell) -> bool:
    """Whether a code cell shows anything on the rendered page: a table, figure, text or error. Glued
    values (hidden until the prose cites them) and stderr (removed by _config.yml) do not count."""
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "error" or (kind == "stream" and out.get("name") == "stdout"):
            return True
        if kind in ("display_data", "execute_result") and any(
                not mime.startswith(GLUE_MIME) for mime in out.get("data", {})):
            return True
    return False


def tag_cells(nb) -> None:
    """Hide the plumbing of an executed chapter (the rendered page only; the .ipynb keeps every cell
    as it ran): the parameters and papermill's injected cell are removed, code cells that show
    nothing (imports, set-up, glue) lose their source, and every other code cell (tables, figures)
    folds its source into a "show code" toggle. A cell an author tagged with one of ``AUTHOR_TAGS``
    keeps its tags."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        if AUTHOR_TAGS & set(tags):
            continue
        if {"parameters", "injected-parameters"} & set(tags):
            tags.append("remove-cell")
        else:
            tags.append("hide-input" if visible_output(cell) else "remove-input")
        cell.metadata["tags"] = tags


FIGURE_TAG = '<figure class="uticket-figure"'


def chapter_number(name: str) -> str:
    """"5" from "05_cycles"; "" for a page without a number."""
    m = re.match(r"(\d+)_", name)
    return str(int(m.group(1))) if m else ""


def number_figures(nb, chapter: str) -> int:
    """Number the figures of an executed chapter in order ("Figure 5.2."), each with an anchor
    (``id="fig-5-2"``) so that the text can link to it. Figures are the HTML outputs of
    ``uticket_lib.plotting.figure_html``; one without a caption gets the number alone, which
    ``ci/check_browser.py`` reports. Returns the number of figures."""
    n = 0
    prefix = f"{chapter}." if chapter else ""
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            html = out.get("data", {}).get("text/html")
            if html is None:
                continue
            text = "".join(html) if isinstance(html, list) else html
            if FIGURE_TAG not in text or 'class="uticket-fignum"' in text:
                continue
            n += 1
            label = f"Figure {prefix}{n}."
            anchor = f"fig-{prefix.replace('.', '-')}{n}"
            text = text.replace(FIGURE_TAG, f'{FIGURE_TAG} id="{anchor}"', 1)
            num = f'<strong class="uticket-fignum">{label}</strong> '
            if "<figcaption" in text:
                text = re.sub(r"(<figcaption[^>]*>)", lambda m: m.group(1) + num, text, count=1)
            else:
                text = text.replace("</figure>", f'<figcaption style="font-size: 0.9em">{num}</figcaption></figure>', 1)
            out["data"]["text/html"] = text
    return n


def stub_notebook(title: str, body: str, kind: str):
    """A one-cell notebook that stands in for a chapter that failed or is missing."""
    import nbformat

    text = (f"# {title}\n\n```{{{kind}}}\n:class: {STUB_CLASS}\n{body}\n```\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["uticket"] = {"stub": kind}
    return nb


def kernel_environment(root: Path) -> None:
    """Environment the kernels inherit: shared run cache, no progress bars, quiet debugpy."""
    os.environ.setdefault("UTICKET_RUNS", str(root / "runs"))
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def execute(source: Path, args: argparse.Namespace) -> Result:
    """Run one jupytext source through papermill; move the result to out/ or failed/."""
    import nbformat
    import papermill

    name, rel = source.stem, _rel(source, args.root)
    res = Result(name, "ok", str(args.parameters.get("PROFILE")), parameters=dict(args.parameters),
                 source=rel, output=_rel(args.out / f"{name}.ipynb", args.root))
    args.out.mkdir(parents=True, exist_ok=True)
    args.failed.mkdir(parents=True, exist_ok=True)
    # papermill saves after every cell; keep that file out of the book's source tree until it is done
    partial = args.failed / f".{name}.running.ipynb"
    progress_file = args.failed / f".{name}.progress"
    progress_file.write_text("")
    os.environ[PROGRESS_ENV] = str(progress_file)   # the kernel inherits it
    tail = ProgressTail(progress_file, getattr(args, "expected", {}).get(name))
    tail.start()
    t0 = time.perf_counter()
    try:
        nb = to_notebook(source)
        names = parameter_names(nb)
        if names is None:
            print(f"  warning: {rel} has no cell tagged 'parameters'; papermill injects at the top")
        elif unknown := sorted(set(args.parameters) - set(names)):
            print(f"  warning: {rel}: {unknown} not set in its parameters cell (injected anyway)")
        papermill.execute_notebook(
            nb, str(partial), parameters=dict(args.parameters), kernel_name=KERNELSPEC["name"],
            language="python", cwd=str(args.root), progress_bar=sys.stdout.isatty(),
            log_output=args.log_output, execution_timeout=args.timeout,
            extra_arguments=list(KERNEL_ARGUMENTS))
    except Exception as exc:  # any failure: cell error, kernel death, timeout, bad source
        res.status, res.error = "failed", error_last_line(exc)
    finally:
        tail.stop()
        os.environ.pop(PROGRESS_ENV, None)
        progress_file.unlink(missing_ok=True)
    res.seconds = round(time.perf_counter() - t0, 2)
    res.finished = _now()
    if res.status == "ok":
        nb = nbformat.read(partial, as_version=4)
        add_run_note(nb, name, _rel(source, args.root), res.profile, res.seconds)
        tag_cells(nb)
        number_figures(nb, chapter_number(name))
        nbformat.write(nb, partial)
        partial.replace(args.out / f"{name}.ipynb")
        (args.failed / f"{name}.ipynb").unlink(missing_ok=True)
        return res
    failed = args.failed / f"{name}.ipynb"
    if partial.exists():
        shutil.move(str(partial), failed)
    else:  # failed before papermill wrote anything (e.g. a jupytext parse error)
        nbformat.write(stub_notebook(name, f"`{_code(res.error)}`", "error"), failed)
    body = (f"This chapter did not execute under profile `{res.profile}`:\n\n"
            f"`{_code(res.error)}`\n\nThe partially executed notebook is "
            f"`{_rel(failed, args.root)}`. Rerun it alone with\n"
            f"`.venv/bin/python ci/run_notebooks.py --profile {res.profile} --only {name}`.")
    nbformat.write(stub_notebook(title_of(source), body, "error"), args.out / f"{name}.ipynb")
    return res


class ProgressTail:
    """Print the lines a chapter's kernel appends to its progress file, while the chapter runs.

    Each line is prefixed with the chapter's elapsed time and, when a previous build of the same
    profile and parameters recorded one, that build's time for the chapter (an estimate of what is
    left: the run cache makes a rebuild faster, never slower). Polls once a second in a daemon thread.
    """

    def __init__(self, path: Path, expected: float | None = None, out=None, interval: float = 1.0):
        self.path, self.expected, self.interval = path, expected, interval
        self.out = out or sys.stdout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._pos, self._t0 = 0, time.perf_counter()

    def start(self) -> "ProgressTail":
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.poll()  # lines written just before the kernel finished

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> list[str]:
        """Print (and return) the complete lines added since the last poll."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._pos)
                chunk = f.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n") + 1  # only whole lines; a partial one waits for the next poll
        self._pos += end
        lines = [ln for ln in chunk[:end].decode(errors="replace").splitlines() if ln.strip()]
        for line in lines:
            print(f"    {self.prefix()} {line}", file=self.out, flush=True)
        return lines

    def prefix(self) -> str:
        elapsed = time.perf_counter() - self._t0
        if self.expected:
            left = max(self.expected - elapsed, 0.0)
            return f"[{fmt_seconds(elapsed)}, chapter ~{fmt_seconds(left)} left]"
        return f"[{fmt_seconds(elapsed)}]"


def expected_seconds(status: dict, profile: str, parameters: dict) -> dict[str, float]:
    """Per chapter, the wall time of its last successful run with the same profile and parameters."""
    return {name: float(n.get("seconds", 0.0)) for name, n in status.get("notebooks", {}).items()
            if n.get("status") == "ok" and n.get("profile") == profile
            and n.get("parameters", {}) == parameters and n.get("seconds")}


def missing(name: str, args: argparse.Namespace) -> Result:
    """Stub page for a chapter the table of contents names but that has no source yet."""
    import nbformat

    target = args.out / f"{name}.ipynb"
    args.out.mkdir(parents=True, exist_ok=True)
    body = f"`notebooks/{name}.py` does not exist yet, so this chapter was not executed."
    nbformat.write(stub_notebook(name, body, "warning"), target)
    return Result(name, "missing", str(args.parameters.get("PROFILE")), finished=_now(),
                  source=f"notebooks/{name}.py", output=_rel(target, args.root),
                  error="no source notebook")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _code(text: str | None) -> str:
    return (text or "").replace("`", "'")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ----------------------------------------------------------------------------- environment

def versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the results and the book."""
    out = {"python": platform.python_version()}
    for dist in VERSIONS[1:]:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def gpu_name() -> str:
    """Name(s) of the visible GPUs via nvidia-smi, else via torch, else 'none'."""
    if shutil.which("nvidia-smi"):
        try:
            names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                   capture_output=True, text=True, timeout=20).stdout.split("\n")
            names = [n.strip() for n in names if n.strip()]
            if names:
                return ", ".join(names)
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        import torch

        if torch.cuda.is_available():
            return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except Exception:  # no torch, broken CUDA: report no GPU
        pass
    return "none"


def cpu_precision() -> str:
    """Each network's training arithmetic under the cpu profile on this machine."""
    from uticket_lib import profiles
    from uticket_lib.analysis import ARCH_LABELS

    words = []
    for arch, label in ARCH_LABELS.items():
        amp = profiles.get("cpu", arch, overrides={"train.device": "cpu"}).train.amp
        words.append(f"{label} {'bf16 autocast (fp32 membranes)' if amp else 'fp32'}")
    return ", ".join(words) + "; side-study runs as VGG-16"


def side_by_side() -> str:
    """How ``parallel.run_all`` will train a chapter's independent runs here (chapters 2, 9 and 11)."""
    from uticket_lib import parallel

    try:
        n, threads = parallel.split(parallel.cores())
    except ValueError as e:      # a bad $UTICKET_WORKERS: the chapters will stop on it too
        return f"unknown ({e})"
    if n <= 1:
        return "one after another, on all of torch's threads"
    return (f"up to {n} at a time, {threads} torch thread{'s' * (threads != 1)} each "
            f"(uticket_lib.parallel; {parallel.WORKERS_ENV}=1: one after another)")


def machine() -> dict[str, str]:
    """CPU model, its vector extensions and torch's float path, cores, memory, platform and GPU."""
    from uticket_lib import machine as host

    d = host.describe()
    info = {"cpu": d["cpu"], "cpus": str(d["cpus"]),
            "vector extensions": " ".join(d["vector_extensions"]) or "unknown",
            "torch float path": str(d.get("aten_cpu_capability", "unknown")),
            # what profiles.resolve_amp makes of this CPU for each network of the cpu profile
            "training precision (cpu profile)": cpu_precision(),
            "independent runs (CPU)": side_by_side(),
            "platform": d["platform"], "gpu": gpu_name()}
    try:
        kb = int(re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), flags=re.M).group(1))
        info["memory"] = f"{kb / 2**20:.1f} GiB"
    except (OSError, AttributeError):
        pass
    return info


def git_commit(root: Path) -> str:
    """Short commit hash, with '+dirty' when tracked files changed; 'unknown' outside git."""
    def git(*cmd: str) -> str:
        return subprocess.run(["git", "--no-optional-locks", "-C", str(root), *cmd],
                              capture_output=True, text=True, timeout=20, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short=12", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    try:
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return commit + ("+dirty" if dirty else "")


# ----------------------------------------------------------------------------- status

def merge_status(previous: dict, results: list[Result], env: dict) -> dict:
    """New status dict: ``previous`` notebooks updated with ``results``, fresh environment."""
    notebooks = dict(previous.get("notebooks", {}))
    notebooks.update({r.name: asdict(r) for r in results})
    notebooks = dict(sorted(notebooks.items()))
    return {"notebooks": notebooks,
            "total_seconds": round(sum(n.get("seconds", 0.0) for n in notebooks.values()), 2),
            **env}


BOOK_CPU_RECORD = Path(__file__).resolve().parent / "bench_results" / "book_cpu.json"


def render_status(status: dict, record: dict | None = None) -> str:
    """Markdown of the book's "Build status" page from a status dict (see ``merge_status``).

    ``record``: the recorded cpu build from an empty ``runs/`` (``ci/record_book_cpu.py``), shown
    beside this invocation's times, which are short where chapters reused runs already on disk."""
    label = {"ok": "ok", "failed": "**FAILED**", "missing": "**missing**"}
    nbs = status.get("notebooks", {})
    profiles = sorted({n.get("profile", "?") for n in nbs.values()})
    lines = ["# Build status", "",
             f"Chapters executed by `ci/run_notebooks.py` (papermill); this page was generated "
             f"{status.get('date', '?')} at commit `{status.get('commit', 'unknown')}`.", ""]
    if len(profiles) > 1:
        lines += [f"**Warning:** the chapters were executed under different profiles "
                  f"({', '.join(profiles)}); rerun them all with one profile before comparing.", ""]
    lines += ["| Chapter | Status | Profile | Wall time | Parameters | Finished (UTC) |",
              "|---|---|---|---:|---|---|"]
    for name, n in nbs.items():
        params = ", ".join(f"{k}={v!r}" for k, v in n.get("parameters", {}).items() if k != "PROFILE")
        finished = n.get("finished", "")[5:16].replace("T", " ")  # 'MM-DD HH:MM' of an ISO date
        lines.append(f"| {name} | {label.get(n.get('status'), n.get('status'))} | {n.get('profile', '')} "
                     f"| {fmt_seconds(n.get('seconds', 0.0))} | {_cell(params) or '–'} | {finished} |")
    claims = status.get("claims")
    if claims:
        r = claims["reproduction"]
        lines += ["", "## Claims", "",
                  "Counted from `book/executed/claims/*.json`. Only reproduction claims (a statement of the "
                  "paper tested on numbers this build measured) count as evidence; calibrations are fits to "
                  "the paper's own numbers and implementation checks hold by construction.", "",
                  "| Kind | PASS | DIRECTION | FAIL | INCONCLUSIVE |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {k} | {v.get('PASS', 0)} | {v.get('DIRECTION', 0)} | {v.get('FAIL', 0)} | {v.get('INCONCLUSIVE', 0)} |"
                  for k, v in claims.items()]
        lines += ["", f"**Reproduction:** {r.get('PASS', 0)} PASS, {r.get('DIRECTION', 0)} DIRECTION (the paper's "
                  f"sign, not its size), {r.get('FAIL', 0)} FAIL, {r.get('INCONCLUSIVE', 0)} INCONCLUSIVE."]
    lines += ["", f"**Total notebook time:** {fmt_seconds(status.get('total_seconds', 0.0))} "
              f"(sum over chapters; last invocation {fmt_seconds(status.get('run_seconds', 0.0))}). "
              "A chapter whose training runs were already on disk reuses them, so its time here can be "
              "far below what training it costs.", ""]
    if record and profiles == ["cpu"]:
        chapters = ", ".join(f"{k} {fmt_seconds(v.get('seconds', 0.0))}" for k, v in record.get("chapters", {}).items()
                             if v.get("seconds", 0.0) >= 60)
        lines += [f"**The recorded cpu build from an empty `runs/`** (`ci/bench_results/book_cpu.json`, commit "
                  f"`{record.get('commit', '?')}`, {record.get('date', '?')}): "
                  f"{fmt_seconds(record.get('total_seconds', 0.0))} on a machine that trains "
                  f"{_record_speed(record):.0f} "
                  f"VGG-16 images/s, {record.get('normalised_seconds', 0.0) / 60:.1f} normalised minutes; "
                  f"the chapters that train: {chapters or 'none over a minute'}.", ""]
    bad = {k: n for k, n in nbs.items() if n.get("status") != "ok"}
    if bad:
        lines += ["## Failures", ""]
        lines += [f"- **{k}** ({n.get('status')}): `{_code(n.get('error'))}`"
                  + (f" (partial notebook in `book/failed/{k}.ipynb`)" if n.get("status") == "failed" else "")
                  for k, n in bad.items()]
        lines.append("")
    lines += ["## Software", "", "| Package | Version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in status.get("versions", {}).items()]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {_cell(str(v))} |" for k, v in status.get("machine", {}).items()]
    lines.append("")
    return "\n".join(lines)


def _record_speed(record: dict) -> float:
    """The benchmark speed a cpu-build record normalises by: the mean of the readings before and after."""
    speeds = [v for v in (record.get("bench_vgg16_images_per_s"), record.get("bench_vgg16_images_per_s_after"))
              if v is not None]
    return sum(speeds) / len(speeds) if speeds else 0.0


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def write_status(out: Path, results: list[Result], run_seconds: float, root: Path) -> dict:
    """Merge ``results`` into out/_status.json and rewrite out/status.md; returns the status."""
    path = out / STATUS_JSON
    previous = json.loads(path.read_text()) if path.is_file() else {}
    env = {"date": _now(), "commit": git_commit(root), "run_seconds": round(run_seconds, 2),
           "versions": versions(), "machine": machine()}
    status = merge_status(previous, results, env)
    status["claims"], _ = claim_counts(out / "claims")
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(status, indent=2) + "\n")
    record = json.loads(BOOK_CPU_RECORD.read_text()) if BOOK_CPU_RECORD.is_file() else None
    (out / STATUS_PAGE).write_text(render_status(status, record))
    return status


RESULTS_PAGE = "results.md"   # included by book/intro.md


HEADLINE_FIGURE = "headline.png"


def write_headline_figure(out: Path, records: list[dict]) -> Path | None:
    """The landing page's dot plot (``uticket_lib.plotting.summary``) as out/headline.png; None (and
    no file) when no chapter recorded a headline metric."""
    path = out / HEADLINE_FIGURE
    if not records:
        path.unlink(missing_ok=True)
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from uticket_lib import plotting
    from uticket_lib.plotting import summary

    fig = summary.ratio_dots(records)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=plotting.DPI, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def write_results(out: Path, notebooks: Path, parameters: dict) -> Path:
    """The landing summary (``uticket_lib.analysis.landing``) from the chapters' claims JSON."""
    from uticket_lib.analysis import landing

    titles = {s.stem: title_of(s) for s in sorted(notebooks.glob(SOURCE_GLOB))}
    out.mkdir(parents=True, exist_ok=True)
    figure = write_headline_figure(out, landing.headline_records(landing.load_claims(out / "claims")))
    text = landing.render(str(parameters.get("PROFILE", "cpu")), out / "claims", titles,
                          dataset=str(parameters.get("DATASET", "fmnist")),
                          figure=None if figure is None else f"executed/{figure.name}")
    (out / RESULTS_PAGE).write_text(text)
    return out / RESULTS_PAGE


# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    kernel_environment(args.root)
    sources = sorted(args.notebooks.glob(SOURCE_GLOB))
    todo = select(sources, args.only)
    check_parameters(todo, args.parameters)
    have = {s.stem for s in sources}
    absent = [n for n in toc_chapters(args.toc, args.out, args.root) if n not in have]
    print(f"run_notebooks: {len(todo)} notebook(s), parameters {args.parameters}, cwd {args.root}",
          flush=True)
    previous = args.out / STATUS_JSON
    previous = json.loads(previous.read_text()) if previous.is_file() else {}
    args.expected = expected_seconds(previous, str(args.parameters.get("PROFILE")), args.parameters)
    results = []
    for i, source in enumerate(todo, 1):
        known = [args.expected.get(s.stem) for s in todo[i - 1:]]
        hint = ""
        if source.stem in args.expected:
            hint = f" (last build: {fmt_seconds(args.expected[source.stem])}"
            if all(known):
                hint += f"; book ~{fmt_seconds(sum(known))} left"
            hint += ")"
        print(f"[{i}/{len(todo)}] {source.stem} ...{hint}", flush=True)
        res = execute(source, args)
        results.append(res)
        tail = f": {res.error}" if res.error else ""
        print(f"[{i}/{len(todo)}] {source.stem} {res.status} in {fmt_seconds(res.seconds)}{tail}", flush=True)
    for name in absent:  # keep the book buildable; only a full run counts them as failures
        if not args.only or not (args.out / f"{name}.ipynb").exists():
            print(f"  {name}: no notebooks/{name}.py; writing a stub page", flush=True)
            res = missing(name, args)
            if not args.only:
                results.append(res)
    status = write_status(args.out, results, time.perf_counter() - t0, args.root)
    write_results(args.out, args.notebooks, args.parameters)
    bad = [r for r in results if r.status != "ok"]
    print(f"run_notebooks: claims: {format_claim_counts(status['claims'])}", flush=True)
    print(f"run_notebooks: {len(results) - len(bad)} ok, {len(bad)} not ok, "
          f"{fmt_seconds(time.perf_counter() - t0)} (status page: {_rel(args.out / STATUS_PAGE, args.root)}, "
          f"all chapters: {fmt_seconds(status['total_seconds'])})", flush=True)
    if bad:
        print("run_notebooks: FAILED notebooks:", file=sys.stderr)
        for r in bad:
            where = _rel(args.failed / f"{r.name}.ipynb", args.root) if r.status == "failed" else r.source
            print(f"  {r.name} ({r.status}, {where}): {r.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
