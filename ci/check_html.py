#!/usr/bin/env python
"""Check the built book: every chapter there, figures present, no errors, claims shown, offline.

    .venv/bin/python ci/check_html.py [--profile smoke|cpu|paper] [--html book/_build/html]

Problems found (each one listed; exit status 1 if there is any):

* ``index.html`` or a page named in ``book/_toc.yml`` is missing from the HTML.
* An ``<img>`` whose ``src`` file does not exist (``data:`` URIs are fine), or that is remote.
* A ``<script src>`` or ``<link rel=stylesheet>`` that is remote (``http(s)://`` or ``//``: a CDN;
  the book must work offline) or a local one whose file does not exist.
* Errors in a page's cell outputs. myst-nb renders a notebook's error output as
  ``<div class="output traceback ...">`` and papermill marks the failing cell
  ``id="papermill-error-cell"``; both are flagged, and so is a stub page written by
  ``ci/run_notebooks.py`` for a failed or missing chapter (``class="uticket-stub"``). Any cell output
  (``cell_output`` / ``output`` blocks) whose text contains ``Traceback (most recent call last)`` is
  flagged; a stderr block (``output stderr``) is flagged only for a traceback or a line like
  ``ValueError: ...``, so a tqdm progress bar or a warning in stderr is *not* an error.
  The book hides stderr (``execute.stderr_output: remove`` in ``_config.yml``), so the executed
  notebooks in ``book/executed/`` are scanned too: an ``error`` output, or a stderr stream with a
  traceback, is a problem even though the page does not show it.
* A chapter page (a ``_toc.yml`` entry under ``book/executed/`` other than the status page) without a
  rendered claim-check block: the text ``Claims checked (profile <name>)`` (``CLAIM_MARKER``)
  followed somewhere after it by at least one ``PASS`` or ``FAIL``. With ``--profile``, every such
  marker on the page must name that profile. A FAIL verdict is a result, not a problem: the summary
  counts them.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
CLAIM_MARKER = "Claims checked (profile"
CLAIM_RE = re.compile(r"Claims checked \(profile[:=]?\s*([A-Za-z0-9_.-]+)")
VERDICT_RE = re.compile(r"\b(PASS|DIRECTION|FAIL|INCONCLUSIVE)\b")
KINDS = ("reproduction", "calibration", "invariant")
VERDICTS = ("PASS", "DIRECTION", "FAIL", "INCONCLUSIVE")
TRACEBACK_TEXT = "Traceback (most recent call last)"
ERROR_LINE_RE = re.compile(r"^\s*(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception):", re.M)
REMOTE_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)
STUB_CLASS = "uticket-stub"
CHAPTER_PREFIX = "book/executed/"
STATUS_DOC = "book/executed/status"
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr"}
INLINE = {"a", "abbr", "b", "code", "em", "i", "kbd", "mark", "s", "small", "span", "strong", "sub",
          "sup", "u", "var"}


# ----------------------------------------------------------------------------- parsing

@dataclass
class Page:
    """What check_html needs from one HTML page."""
    images: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    stylesheets: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)         # visible text outside code cells' input
    output_text: list[str] = field(default_factory=list)  # text inside cell outputs
    stderr_text: list[str] = field(default_factory=list)  # text inside stderr outputs
    tracebacks: int = 0       # error outputs (div.output.traceback)
    papermill_errors: int = 0  # papermill's "exception encountered here" marker
    stubs: int = 0            # placeholder of a failed or missing chapter
    shown_inputs: int = 0     # code cells whose source shows without a toggle (plumbing on show)

    @property
    def visible(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.text))


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[tuple[str, set[str]]] = []

    def _inside(self, *classes: str) -> bool:
        return any(c in cls for _, cls in self.stack for c in classes)

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        classes = set(a.get("class", "").split())
        p = self.page
        if tag == "img" and "src" in a:
            p.images.append(a["src"])
        elif tag == "script" and a.get("src"):
            p.scripts.append(a["src"])
        elif tag == "link" and "stylesheet" in a.get("rel", "").split() and a.get("href"):
            p.stylesheets.append(a["href"])
        if "traceback" in classes and ("output" in classes or "cell_output" in classes):
            p.tracebacks += 1
        if a.get("id") == "papermill-error-cell":
            p.papermill_errors += 1
        if STUB_CLASS in classes:
            p.stubs += 1
        # run_notebooks.tag_cells folds every code cell's source into a toggle (<details>) or removes
        # it; a cell an author tags show-input is shown on purpose
        if "cell_input" in classes and not any(t == "details" for t, _ in self.stack) \
                and not self._inside("tag_show-input"):
            p.shown_inputs += 1
        if tag not in VOID:
            self.stack.append((tag, classes))
        if tag not in INLINE:
            self.handle_data("\n")  # a cell or block boundary separates words ("285", "PASS")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in INLINE:
            self.handle_data("\n")
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        if any(t in ("script", "style") for t, _ in self.stack):
            return
        if not self._inside("cell_input"):
            self.page.text.append(data)
        if self._inside("cell_output", "output"):
            self.page.output_text.append(data)
        if self._inside("stderr"):
            self.page.stderr_text.append(data)


def parse(html: str) -> Page:
    """Parse an HTML string into a ``Page``."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.page


# ----------------------------------------------------------------------------- checks

def _local_target(page_path: Path, url: str) -> Path | None:
    """File a relative URL on ``page_path`` points at (None for data: and fragment-only URLs)."""
    if url.startswith(("data:", "#")) or not url:
        return None
    path = unquote(urlsplit(url).path)
    return (page_path.parent / path) if path else None


def check_page(page_path: Path, page: Page, rel: str) -> list[str]:
    """Problems of one parsed page: files, remote resources, error outputs."""
    problems = []
    for kind, urls in (("image", page.images), ("script", page.scripts), ("stylesheet", page.stylesheets)):
        for url in urls:
            if REMOTE_RE.match(url):
                problems.append(f"{rel}: remote {kind} (needs the network / a CDN): {url}")
                continue
            target = _local_target(page_path, url)
            if target is not None and not target.is_file():
                problems.append(f"{rel}: {kind} file missing: {url}")
    if page.tracebacks:
        problems.append(f"{rel}: {page.tracebacks} error output(s) (traceback) in cells")
    if page.papermill_errors:
        problems.append(f"{rel}: papermill error marker (the notebook failed while executing)")
    if page.stubs:
        problems.append(f"{rel}: placeholder page: the chapter failed or is missing (see the status page)")
    if page.shown_inputs:
        problems.append(f"{rel}: {page.shown_inputs} code cell(s) show their source without a toggle "
                        "(ci/run_notebooks.py tag_cells hides set-up and glue cells and folds the rest)")
    out = "".join(page.output_text)
    if TRACEBACK_TEXT in out:
        problems.append(f"{rel}: a cell output contains a traceback")
    err = "".join(page.stderr_text)
    if TRACEBACK_TEXT not in out and (TRACEBACK_TEXT in err or ERROR_LINE_RE.search(err)):
        problems.append(f"{rel}: stderr output shows an error: {_first_error_line(err)}")
    return problems


def _first_error_line(text: str) -> str:
    m = ERROR_LINE_RE.search(text)
    line = text[m.start():].strip().splitlines()[0] if m else TRACEBACK_TEXT
    return line[:200]


def check_claims(page: Page, rel: str, profile: str | None) -> tuple[list[str], dict]:
    """Claim-check block present (marker then PASS/FAIL), with the expected profile."""
    text = page.visible
    markers = list(CLAIM_RE.finditer(text))
    counts = {"blocks": len(markers), **dict.fromkeys(VERDICTS, 0)}
    if not markers:
        return [f"{rel}: no claim-check block (text {CLAIM_MARKER!r}...)"], counts
    verdicts = VERDICT_RE.findall(text[markers[0].start():])
    for v in VERDICTS:
        counts[v] = verdicts.count(v)
    problems = []
    if not verdicts:
        problems.append(f"{rel}: claim-check block without any verdict (PASS, DIRECTION, FAIL, INCONCLUSIVE)")
    if profile:
        wrong = sorted({m.group(1) for m in markers} - {profile})
        if wrong:
            problems.append(f"{rel}: claims checked under profile {wrong}, expected {profile!r}")
    return problems, counts


def claim_counts(directory: Path) -> tuple[dict, list[str]]:
    """{kind: {verdict: n}} over the chapters' claims JSON (``book/executed/claims/*.json``), and the
    problems found (unreadable files, unknown kinds or verdicts)."""
    counts = {k: dict.fromkeys(VERDICTS, 0) for k in KINDS}
    problems = []
    for path in sorted(Path(directory).glob("*.json")) if Path(directory).is_dir() else []:
        try:
            items = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name}: unreadable claims file: {exc}")
            continue
        for c in items:
            kind, verdict = c.get("kind"), c.get("verdict")
            if kind not in counts or verdict not in VERDICTS:
                problems.append(f"{path.name}: claim {c.get('statement', '?')!r} has kind {kind!r} / verdict "
                                f"{verdict!r}; expected one of {KINDS} / {VERDICTS}")
                continue
            counts[kind][verdict] += 1
    return counts, problems


def format_claim_counts(counts: dict) -> str:
    """One line: reproduction PASS / DIRECTION / FAIL / INCONCLUSIVE, then calibration and invariants apart."""
    r, c, i = (counts[k] for k in KINDS)
    return (f"reproduction {r['PASS']} PASS / {r['DIRECTION']} DIRECTION / {r['FAIL']} FAIL / "
            f"{r['INCONCLUSIVE']} INCONCLUSIVE; "
            f"calibration {sum(c.values())} (fits, not counted); "
            f"implementation checks {sum(i.values())} ({i['FAIL']} FAIL)")


def check_notebook(path: Path, rel: str) -> list[str]:
    """Error outputs and stderr tracebacks in an executed notebook (hidden from the HTML)."""
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return [f"{rel}: unreadable notebook: {exc}"]
    problems = []
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"{rel}: cell {i}: error output {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = "".join(out.get("text", ""))
                if TRACEBACK_TEXT in text or ERROR_LINE_RE.search(text):
                    problems.append(f"{rel}: cell {i}: stderr shows an error: {_first_error_line(text)}")
    return problems


def toc_docs(toc: Path) -> tuple[str | None, list[str]]:
    """Root document and the ``file:`` entries of a jb-book table of contents (no suffixes)."""
    text = toc.read_text()
    root = re.search(r"^root:\s*['\"]?([^'\"\s#]+)", text, flags=re.M)
    files = re.findall(r"^\s*-?\s*file:\s*['\"]?([^'\"\s#]+)", text, flags=re.M)
    strip = lambda d: re.sub(r"\.(md|ipynb|rst)$", "", d)  # noqa: E731
    return (strip(root.group(1)) if root else None), [strip(f) for f in files]


# ----------------------------------------------------------------------------- driver

def check(html_root: Path, toc: Path, profile: str | None = None, executed: Path | None = None,
          chapter_prefix: str = CHAPTER_PREFIX) -> tuple[list[str], dict]:
    """All problems of a built book, and a summary dict (pages, images, claim verdicts)."""
    problems: list[str] = []
    summary = {"pages": 0, "images": 0, "chapters": 0, "claim_blocks": 0, **dict.fromkeys(VERDICTS, 0)}
    if not (html_root / "index.html").is_file():
        problems.append(f"{html_root / 'index.html'} missing (was the book built?)")
    root_doc, files = toc_docs(toc) if toc.is_file() else (None, [])
    if not toc.is_file():
        problems.append(f"{toc} missing")
    docs = ([root_doc] if root_doc else []) + files
    chapters = {d for d in files if d.startswith(chapter_prefix) and d != STATUS_DOC}
    for doc in docs:
        if not (html_root / f"{doc}.html").is_file():
            problems.append(f"{doc}.html missing (named in {toc.name})")
    for path in sorted(html_root.rglob("*.html")):
        rel = path.relative_to(html_root).as_posix()
        if SKIP_DIRS.intersection(path.relative_to(html_root).parts[:-1]):
            continue
        page = parse(path.read_text(errors="replace"))
        summary["pages"] += 1
        summary["images"] += len(page.images)
        problems += check_page(path, page, rel)
        if rel.removesuffix(".html") in chapters and not page.stubs:
            summary["chapters"] += 1
            found, counts = check_claims(page, rel, profile)
            problems += found
            summary["claim_blocks"] += counts["blocks"]
            for v in VERDICTS:
                summary[v] += counts[v]
    if executed is not None and executed.is_dir():
        summary["claims"], found = claim_counts(executed / "claims")
        problems += found
        for nb in sorted(executed.glob("*.ipynb")):
            if not nb.name.startswith("."):
                problems += check_notebook(nb, f"{executed.name}/{nb.name}")
    return problems, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="repository root (default: %(default)s)")
    ap.add_argument("--html", type=Path, default=None, help="built HTML (default: ROOT/book/_build/html)")
    ap.add_argument("--toc", type=Path, default=None, help="table of contents (default: ROOT/book/_toc.yml)")
    ap.add_argument("--executed", type=Path, default=None,
                    help="executed notebooks to scan (default: ROOT/book/executed)")
    ap.add_argument("--profile", default=None, help="every claim block must name this profile")
    args = ap.parse_args(argv)
    html = args.html or args.root / "book" / "_build" / "html"
    toc = args.toc or args.root / "book" / "_toc.yml"
    executed = args.executed or args.root / "book" / "executed"
    problems, s = check(html, toc, args.profile, executed)
    print(f"check_html: {s['pages']} pages, {s['images']} images, {s['chapters']} chapters, "
          f"{s['claim_blocks']} claim blocks, each with a verdict")
    if "claims" in s:
        print(f"check_html: claims by kind: {format_claim_counts(s['claims'])}")
    if problems:
        print(f"check_html: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("check_html: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
