#!/usr/bin/env python
"""Open every page of the built book in headless Chromium and fail on what a reader would see.

    .venv/bin/python ci/check_browser.py [--html book/_build/html] [--shots book/_build/screenshots]

Each page (every ``.html`` under the build, except Sphinx's search/genindex pages) is loaded at
1280 x 900 px through Chromium's DevTools protocol (a websocket; the client is tornado's, which
ipykernel already pins, so no extra package). The check fails on

- a console error, an uncaught exception or a resource that fails to load (e.g. a script injected
  twice, a deleted MathJax file);
- a figure that does not load (``img`` with no pixels), an image without real alt text (empty or a
  hash file name), a figure narrower than ``MIN_SCALE`` of its own size (labels too small to read);
- math left untypeset: a ``.math`` element with no MathJax output once MathJax has finished, or
  MathJax missing on a page with math; display math wider than the text column (cut off);
- a glue placeholder (``{glue`` left in the text, an empty pasted glue value, ``??``);
- NaN/None in a table cell, a cell cut with "...", a number in scientific notation, a table
  wider than its scroll container with its overflow hidden;
- a markdown heading inside a code cell (a comment line ``# ## Title``: a missing cell marker);
- a claim table (``.uticket-claims``) without rows;
- a figure without a numbered caption that says more than its number;
- at a wide window (>= ``WIDE_SCREEN`` px) a table wider than the text column; at any width a page
  wider than the window (``--width 390`` checks a phone);
- a link to a page or an anchor of the book that does not exist (downloads included), and a
  notebook page without a link to its ``.ipynb``.

A screenshot of each page (whole, up to 12,000 px long) goes to ``--shots`` (default book/_build/screenshots/).
Where no Chromium binary is found the check prints one line saying so and how to install it, and
exits 0 (``--require`` makes it exit 2 instead). Exit 1 lists every problem as ``page: problem``.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
WIDTH, HEIGHT = 1280, 900   # --width / --height (a phone: 390 x 844)
WIDE_SCREEN = 1000          # px from which no table may be wider than the text column
MIN_SCALE = 0.7          # shown width / natural width below which a figure's 9 pt labels fall under ~6 px
SKIP_PAGES = {"search.html", "genindex.html", "py-modindex.html"}
PAGE_TIMEOUT = 30.0      # seconds for load + MathJax per page
SHOT_MAX_HEIGHT = 12000  # px of a page's screenshot

# Runs in the page once it has loaded and MathJax has finished; returns {"problems": [...], "links": [...]}.
PAGE_CHECK = r"""
(() => {
  const problems = [];
  const main = document.querySelector('main, article, .bd-article, [role=main]') || document.body;
  const text = (el) => (el.innerText || el.textContent || '').trim();
  const short = (s) => s.replace(/\s+/g, ' ').slice(0, 80);
  // figures
  for (const img of main.querySelectorAll('img')) {
    const src = img.getAttribute('src') || '';
    const name = src.startsWith('data:') ? 'inline image' : src.split('/').pop();
    if (!img.complete || img.naturalWidth === 0) { problems.push(`figure does not load: ${name}`); continue; }
    const alt = (img.getAttribute('alt') || '').trim();
    const altName = alt.split('/').pop();   // Sphinx writes the image's path as its alt text
    if (!alt || /^[0-9a-f]{16,}(\.\w+)?$/i.test(altName) || altName === src.split('/').pop())
      problems.push(`figure without alt text: ${name}`);
    const shown = img.getBoundingClientRect().width;
    // on a phone every figure is shrunk to the screen (a reader zooms): checked on wide screens only
    if (%(wide)s && img.naturalWidth > 200 && shown > 0 && shown / img.naturalWidth < %(min_scale)s)
      problems.push(`figure shrunk to ${Math.round(100 * shown / img.naturalWidth)} % of its size (labels unreadable): ${name}`);
  }
  // math
  const maths = main.querySelectorAll('.math, span.math, div.math');
  if (maths.length && !window.MathJax) problems.push(`math left untypeset: MathJax not loaded (${maths.length} formulas)`);
  else {
    let raw = 0;
    for (const m of maths) if (!m.querySelector('mjx-container')) raw++;
    if (raw) problems.push(`math left untypeset: ${raw} of ${maths.length} formulas`);
  }
  for (const m of main.querySelectorAll('mjx-container[display="true"]')) {
    const box = m.closest('.math') || m.parentElement;
    const w = m.firstElementChild ? m.firstElementChild.getBoundingClientRect().width : 0;
    const scrolls = ['auto', 'scroll'].includes(getComputedStyle(m).overflowX);  // book/_static/uticket.css
    if (w > main.getBoundingClientRect().width + 2 && !scrolls)
      problems.push(`equation wider than the text column (cut off): ${short(text(box))}`);
  }
  // glue and numbers
  const body = text(main);
  if (/\{glue(:\w+)?\}/.test(body)) problems.push('glue placeholder left in the text');
  for (const g of main.querySelectorAll('.pasted-inline, .pasted-text'))
    if (!text(g)) problems.push('empty glue value (missing number)');
  if (/\?\?/.test(body.replace(/```[\s\S]*?```/g, ''))) problems.push('unresolved reference "??"');
  // tables
  let nan = 0, sci = 0, cut = 0;
  const sciRe = /^[-+]?\d(\.\d+)?e[-+]?\d+$/i;
  for (const td of main.querySelectorAll('table td, table th')) {
    const t = text(td);
    if (/^(nan|NaN|None|<NA>|NaT)$/.test(t) || /(^|\s)(nan|NaN)(\s|$)/.test(t)) nan++;
    if (sciRe.test(t)) sci++;
    if (t === '...' || t.endsWith('...') || t === '…') cut++;
  }
  if (nan) problems.push(`NaN/None in ${nan} table cell(s)`);
  if (sci) problems.push(`${sci} table value(s) in scientific notation`);
  if (cut) problems.push(`${cut} table cell(s) cut with "..." (hidden columns or text)`);
  for (const tb of main.querySelectorAll('table')) {
    let el = tb.parentElement, clipped = false;
    while (el && el !== main.parentElement) {
      const ox = getComputedStyle(el).overflowX;
      if (ox === 'auto' || ox === 'scroll') break;
      if ((ox === 'hidden' || ox === 'clip') && tb.getBoundingClientRect().right > el.getBoundingClientRect().right + 2) { clipped = true; break; }
      el = el.parentElement;
    }
    if (clipped) problems.push(`table wider than its column with the overflow hidden: ${short(text(tb))}`);
  }
  // every figure numbered, with a caption that says something beyond its number
  for (const img of main.querySelectorAll('img')) {
    const fig = img.closest('figure');
    const cap = fig ? fig.querySelector('figcaption') : null;
    const num = cap ? cap.querySelector('.uticket-fignum, .caption-number') : null;
    const rest = cap ? text(cap).replace(num ? text(num) : '', '').trim() : '';
    if (!num || rest.length < 12)
      problems.push(`figure without a numbered caption: ${short(cap ? text(cap) : (img.getAttribute('alt') || ''))}`);
  }
  // tables: none wider than the text column on a wide screen; on any screen, nothing wider than the page
  if (%(wide)s) {
    const col = document.querySelector('article.bd-article, .bd-article, article') || main;
    const cs = getComputedStyle(col);     // the content box: the column's width less its padding
    const colW = col.getBoundingClientRect().width - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    for (const tb of main.querySelectorAll('table')) {
      // a table that scrolls inside its own box (uticket.css) is as wide as its content, not its box
      const w = Math.max(tb.getBoundingClientRect().width, tb.scrollWidth);
      if (w > colW + 2)
        problems.push(`table wider than the text column (${Math.round(w)} > ${Math.round(colW)} px): ${short(text(tb))}`);
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    problems.push(`page wider than the window (${document.documentElement.scrollWidth} > ${window.innerWidth} px)`);
  // markdown inside code cells
  for (const pre of main.querySelectorAll('.cell_input pre, div.highlight-ipython3 pre')) {
    const m = text(pre).match(/^\s*#\s+#{1,6}\s+\S.*$/m);
    if (m) problems.push(`markdown heading inside a code cell: ${short(m[0])}`);
  }
  // claim tables
  for (const c of main.querySelectorAll('.uticket-claims')) {
    const tb = c.querySelector('table');
    if (!tb || tb.querySelectorAll('tbody tr').length === 0) problems.push('claim table without rows');
  }
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href).filter(h => h.startsWith('file:'));
  return JSON.stringify({problems, links: [...new Set(links)]});
})()
"""


def page_check() -> str:
    """The in-page script for the current window size (the table-width rule applies on wide screens)."""
    return (PAGE_CHECK.replace("%(min_scale)s", str(MIN_SCALE))
            .replace("%(wide)s", "true" if WIDTH >= WIDE_SCREEN else "false"))


def find_browser() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    return None


def pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html")
                  if p.name not in SKIP_PAGES and not any(part.startswith(("_", ".")) for part in p.relative_to(html).parts))


def link_problems(links: list[str], html: Path) -> list[str]:
    """Internal links (file: URLs under the build) whose page or anchor does not exist."""
    out, cache = [], {}
    for url in links:
        parts = urllib.parse.urlsplit(url)
        path = Path(urllib.parse.unquote(parts.path))
        try:
            path.relative_to(html)
        except ValueError:
            continue  # outside the book (e.g. a download of a source file is still under html)
        if path.is_dir():
            path = path / "index.html"
        if not path.exists():
            out.append(f"broken link: {path.relative_to(html).as_posix()}")
            continue
        if parts.fragment and path.suffix == ".html":
            if path not in cache:
                cache[path] = set(re.findall(r'\bid="([^"]+)"', path.read_text(errors="replace")))
            if urllib.parse.unquote(parts.fragment) not in cache[path]:
                out.append(f"broken link: {path.relative_to(html).as_posix()}#{parts.fragment}")
    return out


def redirect_target(page: Path) -> str | None:
    """The URL of a ``<meta http-equiv="Refresh">`` page (Sphinx's root index.html), else None."""
    head = page.read_text(errors="replace")[:2000]
    m = re.search(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', head, flags=re.I)
    return m.group(1).strip() if m else None


class Browser:
    """A headless Chromium and one tab, driven over the DevTools websocket."""

    def __init__(self, binary: str):
        self.binary = binary
        self.profile = tempfile.mkdtemp(prefix="uticket-chromium-")
        self.proc = None
        self.ws = None
        self._id = 0
        self.events: list[dict] = []
        self._pending: dict[int, asyncio.Future] = {}

    async def start(self) -> None:
        from tornado.httpclient import AsyncHTTPClient, HTTPRequest
        from tornado.websocket import websocket_connect

        args = [self.binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--allow-file-access-from-files",
                "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}", "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}", "about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"{self.binary} did not start (exit {self.proc.poll()})")
            await asyncio.sleep(0.1)
        port = port_file.read_text().split()[0]
        client = AsyncHTTPClient()
        tab = json.loads((await client.fetch(HTTPRequest(f"http://127.0.0.1:{port}/json/new?about:blank",
                                                         method="PUT", body=b""))).body)
        self.ws = await websocket_connect(tab["webSocketDebuggerUrl"], max_message_size=256 * 2**20)
        asyncio.ensure_future(self._reader())
        for domain in ("Page", "Runtime", "Log", "Network"):
            await self.send(f"{domain}.enable")
        await self.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                        deviceScaleFactor=1, mobile=False)

    async def _reader(self) -> None:
        while True:
            msg = await self.ws.read_message()
            if msg is None:
                break
            data = json.loads(msg)
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def send(self, method: str, timeout: float = PAGE_TIMEOUT, **params) -> dict:
        self._id += 1
        fut = asyncio.get_event_loop().create_future()
        self._pending[self._id] = fut
        await self.ws.write_message(json.dumps({"id": self._id, "method": method, "params": params}))
        data = await asyncio.wait_for(fut, timeout)
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error'].get('message')}")
        return data.get("result", {})

    async def load(self, url: str) -> None:
        self.events.clear()
        await self.send("Page.navigate", url=url)
        deadline = time.time() + PAGE_TIMEOUT
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            if time.time() > deadline:
                raise TimeoutError(f"page did not finish loading in {PAGE_TIMEOUT:.0f} s")
            await asyncio.sleep(0.05)
        # MathJax 3 typesets asynchronously; wait for its startup promise where it exists
        await self.evaluate("(window.MathJax && MathJax.startup && MathJax.startup.promise) "
                            "? MathJax.startup.promise.then(() => true) : true", await_promise=True)
        await asyncio.sleep(0.2)

    async def evaluate(self, expression: str, await_promise: bool = False):
        res = await self.send("Runtime.evaluate", expression=expression, awaitPromise=await_promise,
                              returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"].get("text", "evaluation failed"))
        return res.get("result", {}).get("value")

    def console_problems(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                desc = d.get("exception", {}).get("description") or d.get("text", "")
                out.append(f"console error: {desc.splitlines()[0] if desc else 'uncaught exception'}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                out.append(f"console error: {args[:160]}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                out.append(f"console error: {entry.get('text', '')[:120]} {entry.get('url', '')}".rstrip())
        return list(dict.fromkeys(out))

    async def screenshot(self, path: Path, first_screen: bool = False) -> None:
        """The whole page down to ``SHOT_MAX_HEIGHT`` px (a long chapter is cut there), or with
        ``first_screen`` what the window shows before any scrolling."""
        metrics = await self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
        height = HEIGHT if first_screen else int(min(max(size.get("height", HEIGHT), HEIGHT), SHOT_MAX_HEIGHT))
        # A viewport as tall as the shot, at the checked width: captureBeyondViewport alone lays a
        # page with a wide table out again at its content width and cut the article's left edge.
        await self.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=height,
                        deviceScaleFactor=1, mobile=False)
        try:
            res = await self.send("Page.captureScreenshot", format="png",
                                  clip={"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1})
        finally:
            await self.send("Emulation.clearDeviceMetricsOverride")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(res["data"]))

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


async def check_async(html: Path, shots: Path | None, binary: str) -> dict[str, list[str]]:
    browser = Browser(binary)
    results: dict[str, list[str]] = {}
    try:
        await browser.start()
        for page in pages(html):
            rel = page.relative_to(html).as_posix()
            problems: list[str] = []
            target = redirect_target(page)
            if target is not None:  # e.g. index.html -> book/intro.html: check where it points
                results[rel] = ([] if (page.parent / target.split("#")[0]).is_file()
                                else [f"broken redirect: {target}"])
                continue
            try:
                await browser.load(page.resolve().as_uri())
                found = json.loads(await browser.evaluate(page_check()))
                problems += found["problems"] + link_problems(found["links"], html.resolve())
                if (html / "_sources" / rel).with_suffix(".ipynb").is_file() and \
                        not any(u.endswith(".ipynb") for u in found["links"]):
                    problems.append("no .ipynb download on a notebook page")
                problems = browser.console_problems() + problems
                if shots is not None:
                    await browser.screenshot(shots / (rel.replace("/", "__").removesuffix(".html") + ".png"))
            except (TimeoutError, asyncio.TimeoutError, RuntimeError) as exc:
                problems.append(f"could not check the page: {exc}")
            results[rel] = list(dict.fromkeys(problems))
    finally:
        browser.close()
    return results


def set_window(width: int, height: int) -> None:
    """The window every page is opened in (module-wide, as the browser class reads it)."""
    global WIDTH, HEIGHT
    WIDTH, HEIGHT = int(width), int(height)


def check(html: Path, shots: Path | None = None, binary: str | None = None) -> dict[str, list[str]]:
    """Problems per page (relative path -> list of strings; empty list = clean)."""
    binary = binary or find_browser()
    if binary is None:
        raise FileNotFoundError("no chromium binary")
    return asyncio.run(check_async(html, shots, binary))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--html", type=Path, default=ROOT / "book" / "_build" / "html")
    ap.add_argument("--shots", type=Path, default=ROOT / "book" / "_build" / "screenshots")
    ap.add_argument("--require", action="store_true", help="exit 2 when no Chromium is installed")
    ap.add_argument("--width", type=int, default=WIDTH, help="window width in px (390 for a phone)")
    ap.add_argument("--height", type=int, default=HEIGHT)
    args = ap.parse_args(argv)
    set_window(args.width, args.height)
    if not (args.html / "index.html").is_file():
        print(f"check_browser: {args.html}/index.html not found; build the book first "
              f"(bash ci/build_book.sh smoke)", file=sys.stderr)
        return 2
    binary = find_browser()
    if binary is None:
        print("check_browser: SKIPPED: no Chromium found (install Debian's chromium: "
              "apt-get install -y chromium, or set CHROMIUM=/path/to/chrome)", file=sys.stderr)
        return 2 if args.require else 0
    t0 = time.perf_counter()
    results = check(args.html, args.shots, binary)
    bad = {k: v for k, v in results.items() if v}
    for page, problems in bad.items():
        for p in problems:
            print(f"{page}: {p}")
    print(f"check_browser: {len(results)} page(s) opened in {Path(binary).name} at {WIDTH} px, "
          f"{sum(len(v) for v in bad.values())} problem(s) on {len(bad)} page(s), "
          f"{time.perf_counter() - t0:.0f} s; screenshots in {args.shots}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
