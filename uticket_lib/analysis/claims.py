"""Claims: a statement of the paper (or of a related work) checked against this build's numbers.

Every chapter ends with ``show(claims, profile, chapter)``: an HTML table (kind, source, paper value,
measured value, tolerance and why, verdict) and the same list as JSON in
``book/executed/claims/<chapter>.json`` (keys ``statement, kind, source, paper, measured, tolerance,
verdict``) for outside tools.

Kinds (counted separately everywhere):
- ``reproduction``: a statement tested on numbers this build measured; it must be able to FAIL.
- ``calibration``: the reconstructed model agrees with paper numbers it was fitted to; never counted
  as reproduced.
- ``invariant``: true by construction of the code (the unit tests own it); shown only as an
  implementation check, outside the verdict counts.

Verdicts: PASS, FAIL, INCONCLUSIVE (a noisy quantity whose interval straddles the bound).
"""
from __future__ import annotations

import dataclasses
import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

KINDS = ("reproduction", "calibration", "invariant")
VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")
CLAIM_MARKER = "Claims checked (profile"   # ci/check_html.py looks for this text
NOT_IN_PAPER = "not in the paper"


@dataclass(frozen=True)
class Claim:
    statement: str       # what is claimed, in checkable form
    kind: str            # one of KINDS
    source: str          # where the paper (or seed) says it: table, figure, section
    paper: str           # the paper's value as text (NOT_IN_PAPER where it gives none)
    measured: str        # this build's value (with its interval where noisy)
    tolerance: str       # the tolerance and why that tolerance
    verdict: str         # one of VERDICTS

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim kind {self.kind!r} unknown; use one of {KINDS}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim verdict {self.verdict!r} unknown; use one of {VERDICTS}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def interval_verdict(lo: float, hi: float, bound_lo: float = float("-inf"),
                     bound_hi: float = float("inf")) -> str:
    """PASS if [lo, hi] lies inside [bound_lo, bound_hi], FAIL if wholly outside, else INCONCLUSIVE."""
    if bound_lo <= lo and hi <= bound_hi:
        return "PASS"
    if hi < bound_lo or lo > bound_hi:
        return "FAIL"
    return "INCONCLUSIVE"


def claims_dir() -> Path:
    """Where chapters write their claims JSON (``$UTICKET_CLAIMS_DIR`` or book/executed/claims)."""
    env = os.environ.get("UTICKET_CLAIMS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "book" / "executed" / "claims"


def write_json(claims: Iterable[Claim], chapter: str, directory: Path | None = None) -> Path:
    from .. import io
    path = (directory or claims_dir()) / f"{chapter}.json"
    io.save_json([c.to_dict() for c in claims], path)
    return path


def to_html(claims: Iterable[Claim], profile: str) -> str:
    """The claim table: verdict-counted kinds first, invariants under "implementation checks"."""
    claims = list(claims)

    def table(rows: list[Claim]) -> str:
        body = "".join(
            f"<tr><td>{html.escape(c.statement)}</td><td>{html.escape(c.kind)}</td>"
            f"<td>{html.escape(c.source)}</td><td>{html.escape(c.paper)}</td>"
            f"<td>{html.escape(c.measured)}</td><td>{html.escape(c.tolerance)}</td>"
            f'<td class="claim-{c.verdict.lower()}"><b>{c.verdict}</b></td></tr>' for c in rows)
        return ("<table><thead><tr><th>claim</th><th>kind</th><th>source</th><th>paper</th>"
                "<th>measured</th><th>tolerance</th><th>verdict</th></tr></thead>"
                f"<tbody>{body}</tbody></table>")

    main = [c for c in claims if c.kind != "invariant"]
    checks = [c for c in claims if c.kind == "invariant"]
    out = [f'<div class="uticket-claims"><p><strong>{CLAIM_MARKER} {html.escape(profile)})</strong></p>',
           table(main)]
    if checks:
        out += ["<p><em>Implementation checks (invariants, outside the verdict counts)</em></p>",
                table(checks)]
    return "".join(out) + "</div>"


def show(claims: Iterable[Claim], profile: str, chapter: str) -> list[Claim]:
    """Display the claim table in a notebook and write ``claims/<chapter>.json``; returns the list."""
    claims = list(claims)
    write_json(claims, chapter)
    from IPython.display import HTML, display
    display(HTML(to_html(claims, profile)))
    return claims
