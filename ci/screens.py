#!/usr/bin/env python
"""Screenshots of the book as a reader first sees it, kept with the benchmark results.

    .venv/bin/python ci/screens.py [--html book/_build/html] [--out ci/bench_results/screens]

For each page in ``PAGES`` and each window in ``WINDOWS`` (a 1280 x 900 desktop and a 390 x 844
phone), the first screen (no scrolling) in headless Chromium (``ci/check_browser.py``'s browser),
saved as an 8-bit palette PNG (``<page>_<width>.png``, tens of KB each) so that the set stays small
enough to keep in the repository. Also prints, per shot, how far down the page the headline table
and figure end (the landing page's 30-second test: both should end inside the first screen).
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_browser as cb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"landing": "book/intro.html", "ch05_cycles": "book/executed/05_cycles.html",
         "ch11_quantization": "book/executed/11_quantization.html"}
WINDOWS = ((1280, 900), (390, 844))
# the bottom edge (px from the top of the page) of the landing page's headline table and figure
BOTTOMS = r"""
(() => {
  const main = document.querySelector('article.bd-article, main') || document.body;
  const table = main.querySelector('table');
  const fig = main.querySelector('figure');
  const bottom = (el) => el ? Math.round(el.getBoundingClientRect().bottom + window.scrollY) : null;
  return JSON.stringify({table: bottom(table), figure: bottom(fig)});
})()
"""


def shrink(png: bytes) -> bytes:
    """The screenshot as an adaptive 256-colour palette PNG (text pages lose nothing visible)."""
    from PIL import Image
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


async def shoot(html: Path, out: Path, binary: str) -> dict:
    found = {}
    for width, height in WINDOWS:
        cb.set_window(width, height)
        browser = cb.Browser(binary)
        try:
            await browser.start()
            for name, rel in PAGES.items():
                page = html / rel
                if not page.is_file():
                    print(f"screens: {rel} not in the build; skipped", file=sys.stderr)
                    continue
                await browser.load(page.resolve().as_uri())
                path = out / f"{name}_{width}.png"
                await browser.screenshot(path, first_screen=True)
                path.write_bytes(shrink(path.read_bytes()))
                found[path.name] = {"bytes": path.stat().st_size, "window": [width, height],
                                    **json.loads(await browser.evaluate(BOTTOMS))}
        finally:
            browser.close()
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--html", type=Path, default=ROOT / "book" / "_build" / "html")
    ap.add_argument("--out", type=Path, default=ROOT / "ci" / "bench_results" / "screens")
    args = ap.parse_args(argv)
    binary = cb.find_browser()
    if binary is None:
        print("screens: no Chromium found (apt-get install -y chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    found = asyncio.run(shoot(args.html, args.out, binary))
    for name, info in found.items():
        print(f"{name}: {info['bytes'] / 1024:.0f} KB; first table ends at {info['table']} px, first figure at "
              f"{info['figure']} px (window {info['window'][1]} px high)")
    print(f"screens: {len(found)} shot(s), {sum(i['bytes'] for i in found.values()) / 1024:.0f} KB in {args.out}")
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
