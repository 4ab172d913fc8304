"""Claims: a statement of the paper (or of a related work) checked against this build's numbers.

Every chapter ends with ``show(claims, profile, chapter)``: an HTML table (source, paper value,
measured value, ratio, tolerance and why, verdict) and the same list as JSON in
``book/executed/claims/<chapter>.json`` (keys ``statement, kind, source, paper, measured, tolerance,
verdict, ratio, expected, expected_basis, seeds``) for outside tools.

Kinds (counted separately everywhere):
- ``reproduction``: a statement tested on numbers this build measured; it must be able to FAIL.
- ``calibration``: the reconstructed model agrees with paper numbers it was fitted to; never counted
  as reproduced.
- ``invariant``: true by construction of the code (the unit tests own it); shown only as an
  implementation check, outside the verdict counts.

Verdicts:
- ``PASS``: the magnitude agrees with the paper's within a tolerance fixed before the run (for an
  effect: ``REL_TOL`` of the paper's value, ``magnitude``), or an accuracy interval lies inside the
  paper's bound (``paired_accuracy``). The sign alone is never a PASS.
- ``DIRECTION``: the effect has the paper's sign but not its magnitude (counted apart from PASS).
- ``FAIL``: the opposite sign, no effect, an interval wholly outside the bound, or every training
  seed of the recipe beyond the same bound (however wide the interval).
- ``INCONCLUSIVE``: an interval straddles the bound (and the seeds do not all lie beyond it), or the
  quantity cannot be decided at this scale
  (the claim says why).

``ratio`` is this build's value over the paper's (None where the paper gives no number);
``expected`` the value this scale predicts, derived from this build's own numbers as
``expected_basis`` says (None where the book derives none); ``seeds`` the training seeds whose spread
the accuracy interval includes (None for claims that are not about accuracy).

``headline`` (None for most claims): one of the landing page's ``HEADLINE`` metrics that the claim's
chapter measured for one network, ``{"metric", "arch", "value", "paper", "unit"}`` (numbers in
``unit``; ``paper`` None where the paper gives the network none). The landing page's short table and
dot plot read these; the claim's own statement may test something else about the same numbers.
"""
from __future__ import annotations

import dataclasses
import html
import math
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

KINDS = ("reproduction", "calibration", "invariant")
VERDICTS = ("PASS", "DIRECTION", "FAIL", "INCONCLUSIVE")
REL_TOL = 0.25      # magnitude claims: PASS within 25 % of the paper's value (fixed before any run)
CLAIM_MARKER = "Claims checked (profile"   # ci/check_html.py looks for this text
NOT_IN_PAPER = "not in the paper"
# The landing page's headline metrics, in its order: key -> (label, what the value is, whether this
# build / the paper is a meaningful size comparison). Accuracy is a level this scale cannot reach (the
# claims test the ticket against its own dense network instead), sparsity is set by the pruning
# schedule, and a balancing cost far below 1 % on either side is all the claim asks: those three show
# both numbers but no ratio. Utilization is compared as the claims compare it, as imbalance 1 - mu.
HEADLINE = {
    "accuracy": ("LTH accuracy", "final-level test accuracy of the LTH ticket (%)", False),
    "sparsity": ("LTH weight sparsity", "final-level weight sparsity of the LTH ticket (%), set by the schedule", False),
    "imbalance": ("LTH imbalance", "1 - network utilization (Eq. 2) of the final LTH ticket", True),
    "latency": ("latency saving", "u-Ticket's latency reduction against LTH (%)", True),
    "pe_energy": ("PE energy saving", "u-Ticket's PE energy reduction against LTH (%)", True),
    "system_energy": ("system energy saving", "u-Ticket's system energy reduction against LTH (%)", True),
    "balancing_cost": ("balancing cost", "balancing time as a share of one round's training (%)", False),
}


@dataclass(frozen=True)
class Claim:
    statement: str       # what is claimed, in checkable form
    kind: str            # one of KINDS
    source: str          # where the paper (or seed) says it: table, figure, section
    paper: str           # the paper's value as text (NOT_IN_PAPER where it gives none)
    measured: str        # this build's value (with its interval where noisy)
    tolerance: str       # the tolerance and why that tolerance
    verdict: str         # one of VERDICTS
    ratio: float | None = None           # this build / the paper (same unit); None: no paper number
    expected: float | None = None        # what this scale predicts (same unit), from this build's numbers
    expected_basis: str | None = None    # how ``expected`` is derived
    seeds: int | None = None             # training seeds in an accuracy interval (None: not accuracy)
    headline: dict | None = None         # a landing-page metric measured here (see HEADLINE)

    def __post_init__(self) -> None:
        if self.headline is not None and self.headline.get("metric") not in HEADLINE:
            raise ValueError(f"headline metric {self.headline.get('metric')!r} unknown; use one of {list(HEADLINE)}")
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
        def ratio(c: Claim) -> str:
            return "" if c.ratio is None else f"{c.ratio:.2f}"

        def expected(c: Claim) -> str:
            if c.expected is None:
                return ""
            return f"<br><small>expected here: {c.expected:.3g} ({html.escape(c.expected_basis or '')})</small>"

        body = "".join(
            f"<tr><td>{html.escape(c.statement)}</td>"
            f"<td>{html.escape(c.source)}</td><td>{html.escape(c.paper)}</td>"
            f"<td>{html.escape(c.measured)}{expected(c)}</td><td>{ratio(c)}</td><td>{html.escape(c.tolerance)}</td>"
            f'<td class="claim-{c.verdict.lower()}"><b>{c.verdict}</b></td></tr>' for c in rows)
        return ("<table><thead><tr><th>claim</th><th>source</th><th>paper</th>"
                "<th>measured</th><th>ratio</th><th>tolerance</th><th>verdict</th></tr></thead>"
                f"<tbody>{body}</tbody></table>")

    main = [c for c in claims if c.kind != "invariant"]
    checks = [c for c in claims if c.kind == "invariant"]
    out = [f'<div class="uticket-claims"><p class="uticket-summary"><strong>Summary.</strong> '
           f'{html.escape(summary(claims))}</p>'
           f'<p><strong>{CLAIM_MARKER} {html.escape(profile)})</strong></p>',
           table(main) if main else ""]
    if profile != "paper" and any(c.kind == "reproduction" for c in claims):
        out.append("<p><small>Not run at this profile: the paper's CIFAR-10 and SVHN rows (the <code>paper</code> "
                   "profile trains them).</small></p>")
    if checks:
        out += ["<p><em>Implementation checks (invariants, outside the verdict counts)</em></p>",
                table(checks)]
    return "".join(out) + "</div>"


def summary(claims: Iterable[Claim]) -> str:
    """A chapter's claims in two sentences: what reproduced and how close (the median ratio of its
    PASS and DIRECTION claims with a paper number), then its implementation checks."""
    claims = list(claims)
    rep = [c for c in claims if c.kind == "reproduction"]
    checks = [c for c in claims if c.kind == "invariant"]
    n = {v: sum(c.verdict == v for c in rep) for v in VERDICTS}
    parts = []
    if rep:
        words = {"PASS": ("passes its", "pass their", "stated tolerance or bound"),
                 "DIRECTION": ("has", "have", "the paper's direction but not its size"),
                 "FAIL": ("fails", "fail", ""), "INCONCLUSIVE": ("cannot", "cannot", "be decided at this scale")}
        said = [f"{n[v]} {words[v][0] if n[v] == 1 else words[v][1]} {words[v][2]}".rstrip() for v in VERDICTS if n[v]]
        ratios = [c.ratio for c in rep if c.ratio is not None and c.verdict in ("PASS", "DIRECTION")]
        close = (f"; where the paper gives a number and the direction holds, this build's value is "
                 f"{'' if len(ratios) == 1 else 'a median '}{statistics.median(ratios):.2f} x the paper's"
                 if ratios else "")
        parts.append(f"Of {len(rep)} reproduction claim{'s' * (len(rep) != 1)} here, " + ", ".join(said) + close + ".")
    if checks:
        bad = sum(c.verdict != "PASS" for c in checks)
        head = "" if rep else "No claim here tests the paper on measured numbers; its "
        parts.append(f"{head}{len(checks)} implementation check{'s' * (len(checks) != 1)} (true by construction) "
                     + (("holds." if len(checks) == 1 else "hold.") if not bad else f"ran; {bad} did not hold."))
    elif not rep:
        parts.append("No claim here tests the paper on measured numbers.")
    return " ".join(parts)


def show(claims: Iterable[Claim], profile: str, chapter: str) -> list[Claim]:
    """Display the claim table in a notebook and write ``claims/<chapter>.json``; returns the list."""
    claims = list(claims)
    write_json(claims, chapter)
    from IPython.display import HTML, display
    display(HTML(to_html(claims, profile)))
    return claims


# ============================================================================ building claims
# Every chapter's claims are a pure function of small inputs (frames, report dicts, paired
# differences), so tests can feed them synthetic data and mutated implementations
# (tests/test_claims_mutations.py). Kinds follow the contract above.
def headline(metric: str, arch: str, value: float, paper_value: float | None, unit: str = "%") -> dict:
    """A ``Claim.headline`` record (plain floats, JSON-ready)."""
    def num(x):
        return None if x is None or x != x else float(x)
    return {"metric": metric, "arch": arch, "value": num(value), "paper": num(paper_value), "unit": unit}


def with_headline(claim: Claim, record: dict) -> Claim:
    return dataclasses.replace(claim, headline=record)


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f} %"


def _ok(passed: bool) -> str:
    return verdict(bool(passed))


def _arch(arch: str) -> str:
    from .labels import name
    return name(arch)


NO_PREDICTIONS = ("INCONCLUSIVE: no per-image predictions (run written before level_k/predictions.pt); "
                  "rerun the level's evaluation to decide")


def magnitude(statement: str, source: str, paper_value: float, value: float, unit: str = " %",
              paper_text: str | None = None, rel_tol: float = REL_TOL, why: str = "",
              expected: float | None = None, expected_basis: str | None = None, digits: int = 1,
              measured_note: str = "", level: bool = False) -> Claim:
    """A reproduction claim on the size of an effect the paper reports as a number.

    PASS if this build's ``value`` lies within ``rel_tol`` of ``paper_value`` (relative); DIRECTION
    if it has the paper's sign but not that size; FAIL if it has the opposite sign or is zero;
    INCONCLUSIVE if it is not a number. ``level``: the value is a level, not an effect with a sign
    (a firing rate): outside the tolerance is FAIL. ``expected``: what this scale predicts (same
    unit), derived from this build's own numbers as ``expected_basis`` says.
    """
    fmt = f"{{:.{digits}f}}{unit}"
    ratio = value / paper_value if paper_value and math.isfinite(value) else None
    if ratio is None:
        v = "INCONCLUSIVE"
    elif abs(ratio - 1) <= rel_tol:
        v = "PASS"
    else:
        v = "DIRECTION" if ratio > 0 and not level else "FAIL"
    measured = fmt.format(value) + (f" ({ratio:.2f} x the paper)" if ratio is not None else "") + measured_note
    tol = (f"within {100 * rel_tol:g} % of the paper's value" + ("" if level else "; DIRECTION: its sign only; "
           "FAIL: the opposite sign or none") + (f"; {why}" if why else ""))
    return Claim(statement, "reproduction", source, paper_text or fmt.format(paper_value), measured, tol, v,
                 ratio=ratio, expected=expected, expected_basis=expected_basis)


NO_SEEDS = "seed spread not measured for this recipe: a PASS cannot be issued on test-image noise alone"


def paired_accuracy(statement: str, source: str, paper_value: str, diff, bound_lo: float,
                    bound_hi: float, why: str, seeds=None) -> Claim:
    """A reproduction claim on an accuracy difference (points) whose 95 % interval includes training noise.

    ``diff``: ``stats.PairedDiff`` (fractions) or None when per-image predictions are missing.
    ``seeds``: ``stats.SeedSpread`` of this difference over training seeds (points), or None. The
    test-image interval (paired, Newcombe) and the seed part (t(n-1) x std) add in quadrature.
    PASS if the interval lies inside [bound_lo, bound_hi] points, FAIL if wholly outside,
    INCONCLUSIVE otherwise. Without ``seeds`` the interval holds test-image noise only: a PASS is then
    reported as INCONCLUSIVE (training noise could move it), a FAIL stands with that caveat.
    """
    from . import stats
    tol = f"[{bound_lo:g}, {bound_hi:g}] pts; {why}" if math.isfinite(bound_lo) else f"<= {bound_hi:g} pts; {why}"
    if diff is None:
        return Claim(statement, "reproduction", source, paper_value, NO_PREDICTIONS, tol, "INCONCLUSIVE")
    if seeds is None:
        v = interval_verdict(100 * diff.lo, 100 * diff.hi, bound_lo, bound_hi)
        return Claim(statement, "reproduction", source, paper_value, diff.text() + f"; {NO_SEEDS}", tol,
                     "INCONCLUSIVE" if v == "PASS" else v, seeds=1)
    lo, hi = stats.with_seeds(diff, seeds)
    v = interval_verdict(100 * lo, 100 * hi, bound_lo, bound_hi)
    head = f"{100 * diff.diff:+.2f} pts [{100 * lo:+.2f}, {100 * hi:+.2f}]"
    if seeds.values and (lo <= -1 or hi >= 1):     # clipped: the seeds say more than the interval
        head = f"{100 * diff.diff:+.2f} pts; the seeds {', '.join(f'{x:+.2f}' for x in seeds.values)}"
    measured = (f"{head} (95 %: test images, n = {diff.n}, image part [{100 * diff.lo:+.2f}, "
                f"{100 * diff.hi:+.2f}]; {seeds.text()})")
    outside = [x for x in seeds.values or () if not bound_lo <= x <= bound_hi]
    if v == "INCONCLUSIVE" and seeds.values and len(outside) == len(seeds.values) and \
            (all(x < bound_lo for x in outside) or all(x > bound_hi for x in outside)) and \
            interval_verdict(100 * diff.lo, 100 * diff.hi, bound_lo, bound_hi) == "FAIL":
        # every recorded seed and this build's own interval lie beyond the same bound: a spread made
        # wide by one failed seed does not make the claim undecided
        v = "FAIL"
        measured += "; every seed beyond the bound"
    elif seeds.half_width() >= (bound_hi - bound_lo) / 2:
        measured += f"; {seeds.n} seeds' spread alone is wider than the bound: undecidable with {seeds.n} seeds"
    return Claim(statement, "reproduction", source, paper_value, measured, tol, v, seeds=seeds.n)


# ----------------------------------------------------------------------------- chapter 1: neurons
def neurons(lif, surrogate, counts, tolerance: float = 0.05e6) -> list[Claim]:
    """Implementation checks of chapter 1: the LIF neuron against the hand recursion, the ATan
    surrogate against its formula, and the weight counts against the released code's (notes)."""
    from .paper_compare import NOTES_WEIGHTS, NOTES_WEIGHTS_SOURCE
    err = float((surrogate["autograd"] - surrogate["formula"]).abs().max())
    out = [Claim("The library LIF neuron (tau 4/3, threshold 1, hard reset) reproduces the hand-computed "
                 "sequence", "invariant", "Sec. II-A (LIF model)", "tau = 4/3, V_th = 1, hard reset",
                 f"{int(lif['match'].sum())}/{len(lif)} steps match", "every step: same spike, membrane within 1e-6",
                 _ok(bool(lif["match"].all()))),
           Claim("The backward pass is the ATan surrogate (alpha 2)", "invariant", "released code (SpikingJelly ATan)",
                 "alpha = 2", f"max |autograd - formula| = {err:.1e}", "< 1e-5 (float32 rounding)", _ok(err < 1e-5))]
    rows = counts[(counts["width"] == 1.0) & counts["arch"].isin(list(NOTES_WEIGHTS))]
    for _, r in rows.iterrows():
        n, ref = r["weights (conv+linear)"], NOTES_WEIGHTS[r["arch"]]
        out.append(Claim(f"{_arch(r['arch'])} has {ref / 1e6:.1f}M conv+linear weights at width 1", "invariant",
                         NOTES_WEIGHTS_SOURCE, f"{ref / 1e6:.1f}M (the paper gives none)", f"{n / 1e6:.2f}M",
                         f"+-{tolerance / 1e6:.2f}M (the notes round to 0.1M)", _ok(abs(n - ref) < tolerance)))
    return out


# ----------------------------------------------------------------------------- chapter 2: lottery
def lottery(summary, accuracy, bound: float = 2.0, seeds=None) -> list[Claim]:
    """Chapter 2 per arch: the final sparsity follows the schedule (invariant) and the LTH ticket keeps
    the dense network's accuracy (reproduction, paired interval of ticket - dense on the same test
    images, widened by the seed spread, within +-``bound`` points).

    ``summary``: ``runs.ticket_summary`` (index arch); ``accuracy``: {arch: PairedDiff(ticket, dense) or None};
    ``seeds``: {arch: ``stats.SeedSpread`` of ticket - dense} (``recipes.seed_spread``). With a
    ``spike_sparsity`` column, also the ticket's firing rate against Table I's.
    """
    from .. import paper
    out = []
    for arch, r in summary.iterrows():
        a = _arch(arch)
        out.append(Claim(f"{a} LTH final sparsity = 1-(1-p)^(L-1)", "invariant", "Sec. II-B (schedule)",
                         "98.2 % (Table I, FMNIST) at the paper's schedule",
                         f"{_pct(r['sparsity'], 2)} vs schedule {_pct(r['expected_sparsity'], 2)}",
                         "0.1 pt (rounding of the per-round pruned count)",
                         _ok(abs(r["sparsity"] - r["expected_sparsity"]) < 1e-3),
                         headline=headline("sparsity", arch, 100 * r["sparsity"],
                                           paper.lookup(paper.TABLE_I, (arch, "fmnist", "lth"), "weight_sparsity"))))
        out.append(with_headline(paired_accuracy(
            f"{a} LTH ticket keeps the dense network's accuracy (ticket - dense)", "Sec. II-B (LTH [14])",
            "'similar accuracy' (no number)", accuracy.get(arch), -bound, bound,
            "our reading of 'similar'; two-sided: a ticket far above an under-trained dense network fails too",
            (seeds or {}).get(arch)), headline("accuracy", arch, 100 * r.get("test_accuracy", float("nan")),
                                               paper.lookup(paper.TABLE_I, (arch, "fmnist", "lth"), "acc"))))
        ref = paper.lookup(paper.TABLE_I, (arch, "fmnist", "lth"), "spike_sparsity")
        if ref is not None and "spike_sparsity" in r and r["spike_sparsity"] == r["spike_sparsity"]:
            out.append(magnitude(f"{a} LTH ticket's firing rate (1 - spike sparsity)", "Table I", 100 - ref,
                                 100 * (1 - r["spike_sparsity"]), level=True,
                                 paper_text=f"{100 - ref:.1f} % (spike sparsity {ref:.1f} %, FMNIST)",
                                 why="the input spike density of Eq. 3's dynamic term"))
    return out


# ----------------------------------------------------------------------------- chapter 3: imbalance
def imbalance(toy_work, util, random_final, max_final: float = 0.8) -> list[Claim]:
    """Chapter 3: the toy layer (invariant); per LTH run, utilization falls as sparsity rises and its
    imbalance 1 - utilization at the final level has the paper's size (Fig. 4, Table II; expected: the
    imbalance of random masks with the same per-layer counts, the counting noise of this width);
    ResNet-19 more imbalanced than VGG-16 by the paper's margin; random masks of equal per-layer
    sparsity are imbalanced too (Sec. II-C: imbalance from irregular sparsity).

    ``util``: {arch: Series of network utilization per level (level 0 first)};
    ``random_final``: {arch: list of final-level utilizations of random masks, one per draw}.
    """
    from .. import paper
    t = toy_work
    out = [Claim("Toy layer: balancing the PE loads raises utilization to 1", "invariant", "Fig. 3, Eq. 2",
                 "1.00 after balancing", f"{t.loc['imbalanced', 'utilization']:.2f} -> {t.loc['balanced', 'utilization']:.2f}",
                 "exact (fixed toy input)",
                 _ok(t.loc["balanced", "utilization"] > 0.999 > t.loc["imbalanced", "utilization"]))]
    for arch, u in util.items():
        a = _arch(arch)
        first, last = float(u.iloc[min(1, len(u) - 1)]), float(u.iloc[-1])
        ref = paper.lookup(paper.TABLE_II, (arch, "fmnist", "lth"), "utilization")
        one_round = len(u) < 3      # a dense level and one pruned level: a single sparsity, no trend
        out.append(Claim(f"{a} LTH: utilization falls as sparsity rises (last level < first pruned level < 1)",
                         "reproduction", "Fig. 4", "falls from ~1 to 0.59 (VGG-16 CIFAR10)",
                         f"{first:.3f} -> {last:.3f}" + (" (one pruning round)" if one_round else ""),
                         "INCONCLUSIVE with one pruning round (one-shot: a single sparsity, no trend to test)"
                         if one_round else "strict order (a deterministic function of the masks)",
                         "INCONCLUSIVE" if one_round else _ok(last < first < 1.0)))
        draws = random_final.get(arch)
        expected = 1 - sum(draws) / len(draws) if draws else None
        if ref is None:
            continue
        out.append(with_headline(magnitude(
            f"{a} LTH: final imbalance 1 - utilization", "Table II", 1 - ref, 1 - last,
            unit="", digits=3, level=True, paper_text=f"{1 - ref:.2f} (utilization {ref:.2f}, FMNIST)",
            measured_note=f"; utilization {last:.3f}", expected=expected,
            expected_basis=None if expected is None else
            "1 - utilization of random masks with the LTH ticket's per-layer counts (mean of "
            f"{len(draws)} draws): the imbalance counting alone gives at this width"),
            headline("imbalance", arch, 1 - last, 1 - ref, unit="")))
    ref = {a: paper.lookup(paper.TABLE_II, (a, "fmnist", "lth"), "utilization") for a in ("vgg16", "resnet19")}
    if {"vgg16", "resnet19"} <= set(util) and None not in ref.values():
        iv, ir = 1 - float(util["vgg16"].iloc[-1]), 1 - float(util["resnet19"].iloc[-1])
        ours = ir / iv if iv > 0 else (float("inf") if ir > 0 else 1.0)     # both balanced: no excess
        theirs = (1 - ref["resnet19"]) / (1 - ref["vgg16"])
        out.append(magnitude("ResNet-19's LTH ticket is more imbalanced than VGG-16's (excess of the imbalance "
                             "ratio ResNet-19 / VGG-16 over 1)", "Table II, Fig. 7(a)", 100 * (theirs - 1),
                             100 * (ours - 1), paper_text=f"+{100 * (theirs - 1):.0f} % ({1 - ref['resnet19']:.2f} vs "
                             f"{1 - ref['vgg16']:.2f})", digits=0))
    for arch, draws in random_final.items():
        lo, hi = min(draws), max(draws)
        v = "PASS" if hi < max_final else ("FAIL" if lo >= max_final else "INCONCLUSIVE")
        out.append(Claim(f"{_arch(arch)}: random masks of the same per-layer sparsity are already imbalanced "
                         f"(utilization < {max_final:g})", "reproduction", "Sec. II-C (irregular sparsity)",
                         "imbalance from the irregular positions of surviving weights",
                         f"{sum(draws) / len(draws):.3f} (range {lo:.3f}-{hi:.3f} over {len(draws)} draws)",
                         f"< {max_final:g} in every draw; INCONCLUSIVE if the draws straddle it", v))
    return out


# ----------------------------------------------------------------------------- chapter 4: u-Ticket
def uticket(final, covered, cost, accuracy, max_drop: float = 1.1, max_cost_pct: float = 1.0,
            min_util: float = 0.99, n_pe: int = 16, seeds=None) -> list[Claim]:
    """Chapter 4 per arch. ``final``: ``runs.final_rows`` of a ``method_levels(..., utilization=True)``
    frame (index (arch, method)); ``covered``: {arch: ``masks.covered_layer_utilization``};
    ``cost``: frame per arch with ``percent_of_level``; ``accuracy``: {arch: PairedDiff(LTH, u-Ticket) or None};
    ``seeds``: {arch: ``stats.SeedSpread`` of LTH - u-Ticket}.
    """
    from .. import paper
    out = []
    for arch in dict.fromkeys(final.index.get_level_values(0)):
        a = _arch(arch)
        lth, ut = final.loc[(arch, "lth")], final.loc[(arch, "uticket")]
        c = covered.get(arch)
        full = None if c is None else c[c["filters"] % n_pe == 0]     # the layers the invariant is about
        if full is not None and len(full):
            left = len(c) - len(full)
            worst = full["utilization"].idxmin()
            lo = float(full.loc[worst, "utilization"])
            out.append(Claim(f"{a} u-Ticket utilization >= {min_util:g} in every covered layer whose C_out is a "
                             f"multiple of n_PE", "invariant", "Table II", "1.00",
                             f"min {lo:.4f} over {len(full)} layers ({worst})"
                             + (f"; {left} layer(s) with C_out not a multiple of {n_pe} left out" if left else ""),
                             "by construction of balance()", _ok(lo >= min_util)))
        if "utilization" in final:
            pu = paper.lookup(paper.TABLE_II, (arch, "fmnist", "uticket"), "utilization")
            pl = paper.lookup(paper.TABLE_II, (arch, "fmnist", "lth"), "utilization")
            out.append(Claim(f"{a}: u-Ticket network utilization above LTH's at the final level", "invariant",
                             "Table II", f"{paper.text(pu, '{:.2f}')} vs {paper.text(pl, '{:.2f}')} (FMNIST)",
                             f"{ut['utilization']:.3f} vs {lth['utilization']:.3f}",
                             "strict; by construction of balance() (covered layers reach 1)",
                             _ok(ut["utilization"] > lth["utilization"])))
        drops = [paper.TABLE_I[(arch, d, "lth")]["acc"] - paper.TABLE_I[(arch, d, "uticket")]["acc"]
                 for d in paper.DATASETS if (arch, d, "lth") in paper.TABLE_I]
        out.append(paired_accuracy(
            f"{a}: accuracy of u-Ticket vs LTH (LTH - u-Ticket)", "Table I, Sec. IV-B1",
            f"'less than ~1 %'; Table I drops {', '.join(f'{d:.1f}' for d in drops)} pts", accuracy.get(arch),
            -max_drop, max_drop, "the paper's largest drop in Table I; two-sided: a u-Ticket far above a "
            "collapsed LTH ticket fails too", (seeds or {}).get(arch)))
        gap = 100 * (ut["sparsity"] - lth["sparsity"])
        pg = {d: paper.TABLE_I[(arch, d, "uticket")]["weight_sparsity"] - paper.TABLE_I[(arch, d, "lth")]["weight_sparsity"]
              for d in paper.DATASETS if (arch, d, "lth") in paper.TABLE_I}
        if "fmnist" in pg:
            out.append(magnitude(f"{a}: u-Ticket's final sparsity above LTH's (u-Ticket - LTH)", "Table I",
                                 pg["fmnist"], gap, unit=" pts", digits=2,
                                 paper_text=f"{pg['fmnist']:+.1f} pts (FMNIST; all datasets "
                                 f"{', '.join(f'{g:+.1f}' for g in pg.values())})",
                                 measured_note=f"; {_pct(ut['sparsity'], 2)} vs {_pct(lth['sparsity'], 2)}",
                                 why="balancing to the rounded-up block mean adds weights in every round (the "
                                 "synthetic 4-round tickets of the tests too); Table II's work reduction follows "
                                 "from this gap"))
        if arch in cost.index:
            pct = float(cost.loc[arch, "percent_of_level"])
            ref = paper.TEXT["balancing_cost_pct_of_lth_round"]
            out.append(Claim(f"{a}: balancing costs < {max_cost_pct:g} % of one round's training", "reproduction",
                             ref[1], f"{ref[0]:g} % (RTX 2080Ti)", f"{pct:.3f} %",
                             f"< {max_cost_pct:g} %: 'negligible', on a CPU rather than a GPU",
                             _ok(pct < max_cost_pct), headline=headline("balancing_cost", arch, pct, ref[0])))
    return out


# ----------------------------------------------------------------------------- chapter 5: cycles
def cycles(reports, checks) -> list[Claim]:
    """Chapter 5 per arch. ``reports``: {arch: {"lth": report, "uticket": report}} (final levels);
    ``checks``: {arch: {method: ``hwframes.independent_cycles_error``}} (relative error of the
    report's idle and latency against per-PE loads and per-block maxima counted from the masks)."""
    from .. import paper
    from .hwframes import reduction
    out = []
    for arch, reps in reports.items():
        a = _arch(arch)
        ut, lth = reps["uticket"], reps["lth"]
        err = max(checks.get(arch, {}).values(), default=float("nan"))
        out.append(Claim(f"{a}: idle and latency of every covered layer equal the counts from per-PE loads and "
                         "per-block maxima of the masks", "invariant", "Table II, Eq. 2",
                         "Latency = (Work + Idle) / n_PE (all rows)", f"max rel. error {err:.1e}",
                         "< 1e-9 (float64 sums)", _ok(err < 1e-9)))
        n_pe = ut["settings"]["n_pe"]
        full = [r for r in ut["layers"] if r["covered"] and r["n_filters"] % n_pe == 0]
        left = sum(r["covered"] for r in ut["layers"]) - len(full)
        if full:
            idle, mu = sum(r["idle"] for r in full), min(r["utilization"] for r in full)
            out.append(Claim(f"{a}: u-Ticket has zero idle cycles and utilization 1 in the covered layers whose "
                             "C_out is a multiple of n_PE", "invariant", "Table II", "idle 0.00, utilization 1.00",
                             f"idle {idle:.0f}, min utilization {mu:.4f} over {len(full)} layers"
                             + (f"; {left} layer(s) with C_out not a multiple of {n_pe} left out" if left else ""),
                             "by construction of balance()", _ok(idle == 0 and abs(mu - 1) < 5e-3)))
        nl, nu = lth["network"], ut["network"]
        red = reduction(nl["latency"], nu["latency"])
        pl, pu = paper.lookup(paper.TABLE_II, (arch, "fmnist", "lth")), paper.lookup(paper.TABLE_II, (arch, "fmnist", "uticket"))
        if not (pl and pu):
            continue
        idle_share = 100 * nl["idle"] / (nl["work"] + nl["idle"]) if nl["work"] + nl["idle"] else float("nan")
        paper_idle = 100 * pl["idle"] / (pl["work"] + pl["idle"])
        out.append(with_headline(magnitude(f"{a}: u-Ticket reduces latency vs LTH", "Table II, abstract",
                             reduction(pl["work"] + pl["idle"], pu["work"] + pu["idle"]), red,
                             paper_text=f"{reduction(pl['work'] + pl['idle'], pu['work'] + pu['idle']):.1f} % "
                             f"(FMNIST; up to {paper.TEXT['max_latency_reduction_pct'][0]} %; its LTH idle share "
                             f"{paper_idle:.1f} %)",
                             expected=idle_share, expected_basis="the idle share of this build's LTH cycles "
                             "(covered layers): what removing every idle cycle buys at equal work (the paper's: "
                             f"{paper_idle:.1f} %; the rest of its reduction is the work its sparser ticket saves)"),
            headline("latency", arch, red, reduction(pl["work"] + pl["idle"], pu["work"] + pu["idle"]))))
    return out


# ----------------------------------------------------------------------------- chapter 6: energy
def energy(calibration, finals, levels, preset: str = "paper_calibrated") -> list[Claim]:
    """Chapter 6. ``calibration``: ``paper_compare.calibration_frame``; ``finals``: {arch: (E_LTH, E_u-Ticket)}
    at the final level; ``levels``: {arch: Series of the reduction % per level (level 0 first)}."""
    from .. import paper
    from .paper_compare import fitted_ratio
    from .hwframes import reduction
    worst = float(calibration["difference (pp)"].abs().max())
    out = [Claim("Eq. 3 with the fitted E_l/E_d reproduces the six Fig. 7(a) reductions", "calibration",
                 paper.FIG7A_REF + ", Tables I-II", "35.4-63.8 %", f"max |diff| {worst:.2f} pp (r = {fitted_ratio():.4f})",
                 "0.5 pp; a fit to the same six numbers, so it is not evidence of reproduction", _ok(worst < 0.5))]
    for arch, (e_lth, e_ut) in finals.items():
        a = _arch(arch)
        red = reduction(e_lth, e_ut)
        p = paper.lookup(paper.FIG7A_ENERGY_REDUCTION, (arch, "fmnist"))
        if p is not None:
            out.append(with_headline(magnitude(f"{a}: u-Ticket reduces PE energy vs LTH ({preset})", paper.FIG7A_REF,
                                               p, red, paper_text=paper.text(p, "{:.1f} % (FMNIST)")),
                                     headline("pe_energy", arch, red, p)))
        vs = levels[arch]
        first, last = float(vs.iloc[min(1, len(vs) - 1)]), float(vs.iloc[-1])
        one_round = len(vs) < 3     # a dense level and one pruned level: a single sparsity, no trend
        out.append(Claim(f"{a}: the energy reduction grows with sparsity (final level > first pruned level)",
                         "reproduction", "Fig. 7(b)", "grows with the pruning rounds",
                         f"{first:.1f} % -> {last:.1f} %" + (" (one pruning round)" if one_round else ""),
                         "INCONCLUSIVE with one pruning round (one-shot: a single sparsity, no trend to test)"
                         if one_round else "strict", "INCONCLUSIVE" if one_round else _ok(last > first)))
    return out


# ----------------------------------------------------------------------------- chapter 7: PE count
def pe_scaling(sweeps, unbalanced: str, balanced: str, label: str = "") -> list[Claim]:
    """Chapter 7 (Table III) on sweeps {name: ``hwframes.pe_sweep`` frame} of masks balanced after
    training: latency roughly halves per doubling and energy stays flat for the balanced masks where
    every covered layer fills its blocks, and the balanced masks are faster than the unbalanced ones
    at the largest n_PE. Balanced blocks make these hold by construction (implementation checks);
    over a sweep where layers with fewer filters than n_PE pad their blocks they are reproduction
    claims, always INCONCLUSIVE (a width artefact: Table III's full-width layers never pad, and no
    outcome here could fail them), shown with their numbers."""
    from .hwframes import halving_ratios
    pre = f"{label}: " if label else ""
    out = []
    f = sweeps[balanced]
    padded = bool((f["padded_layers"] > 0).any()) if "padded_layers" in f else False
    full = f[f["padded_layers"] == 0] if "padded_layers" in f else f
    for rows, what, kind in ((full, "where every covered layer fills its blocks", "invariant"),
                             (f, "over the whole sweep", "reproduction")):
        if kind == "reproduction" and not padded:
            continue              # no padded n_PE: the same rows as the implementation check above
        h = halving_ratios(rows)
        ok = len(h) > 0 and bool(((h >= 0.45) & (h <= 0.6)).all())
        e = rows["energy_norm"]
        flat = bool(((e >= 0.9) & (e <= 1.1)).all())
        why = ("; INCONCLUSIVE: at this width some layers have fewer filters than n_PE and pad their blocks"
               if kind == "reproduction" else "; by construction for balanced blocks")
        out.append(Claim(f"{pre}{balanced}: latency roughly halves per doubling of n_PE {what}", kind,
                         "Table III", "0.49, 0.51, 0.48, 0.5, 0.5", ", ".join(f"{v:.2f}" for v in h) or "no such n_PE pair",
                         "every ratio in [0.45, 0.6] (the paper's range, widened for padding)" + why,
                         "INCONCLUSIVE" if kind == "reproduction" else _ok(ok)))
        out.append(Claim(f"{pre}{balanced}: normalised energy flat {what}", kind, "Table III",
                         "0.95-1.04", f"{e.min():.2f} .. {e.max():.2f}", "[0.9, 1.1] (the paper's 0.95-1.04, widened)" + why,
                         "INCONCLUSIVE" if kind == "reproduction" else _ok(flat)))
    lu, lb = sweeps[unbalanced]["latency_norm"].iloc[-1], sweeps[balanced]["latency_norm"].iloc[-1]
    out.append(Claim(f"{pre}at the largest n_PE, {balanced} is faster than {unbalanced} (normalised latency)",
                     "invariant", "Table III, Sec. IV-B5", "LTH not in Table III", f"{lb:.3f} vs {lu:.3f}",
                     "strict; balancing the same masks cannot lengthen a block", _ok(lb < lu)))
    return out


# ----------------------------------------------------------------------------- chapter 8: system
def system(reports) -> list[Claim]:
    """Chapter 8 per arch on final-level reports with the memory model: sparse DRAM traffic below dense
    (invariant), WSP filters fit the scratchpad, the PE share of LTH system energy, u-Ticket's saving."""
    from .. import paper
    from .hwframes import reduction
    out = []
    for arch, reps in reports.items():
        a = _arch(arch)
        ml, mu = reps["lth"]["network"]["memory"], reps["uticket"]["network"]["memory"]
        out.append(Claim(f"{a}: DRAM traffic of the pruned LTH network below dense", "invariant", "Fig. 9(a)",
                         "falls with sparsity", f"{ml['dram_norm']:.3f} x dense",
                         "< 1: the sparse formats are smaller at any sparsity this high", _ok(ml["dram_norm"] < 1)))
        over = int(ml["spad_overflow_filters"]) + int(mu["spad_overflow_filters"])
        out.append(Claim(f"{a}: every WSP filter fits the 1024 x 16-bit scratchpad", "invariant", "Sec. III-B1",
                         f"{paper.TEXT['scratchpad_words_16bit'][0]} words", f"{over} overflowing filters",
                         "0 (a filter that overflows needs a second pass)", _ok(ml["spad_fits"] and mu["spad_fits"])))
        s = 100 * ml["pe_share"]
        ref = paper.TEXT["pe_share_of_system_energy_pct_at_95pct_sparsity"]
        other = None if arch == "vgg16" else "INCONCLUSIVE: Fig. 9 gives VGG-16 (CIFAR10) only"
        c = magnitude(f"{a}: PE share of LTH system energy", ref[1], ref[0], s, level=True,
                      paper_text=f"~{ref[0]:g} % (VGG-16)",
                      why="read off a bar chart, at 95 % sparsity; this build's tickets are 98 % sparse")
        out.append(dataclasses.replace(c, tolerance=other, verdict="INCONCLUSIVE", ratio=None) if other else c)
        sav = reduction(ml["total_pj"], mu["total_pj"])
        ref = paper.TEXT["system_energy_saving_pct"]
        pe = _pe_saving(reps)
        c = magnitude(f"{a}: u-Ticket saves system energy", ref[1], ref[0], sav, paper_text=f"~{ref[0]:g} % (VGG-16)",
                      expected=s / 100 * pe if pe is not None else None,
                      expected_basis="at most: this chapter's PE energy saving (its bottom-up PE energies) x the PE "
                      "share of LTH system energy, were memory traffic unchanged")
        if other:
            c = dataclasses.replace(c, tolerance=other, verdict="INCONCLUSIVE", ratio=None)
        out.append(with_headline(c, headline("system_energy", arch, sav, None if other else ref[0])))
    return out


def _pe_saving(reps) -> float | None:
    """u-Ticket's PE energy saving over LTH (%) from two reports' memory sections, or None."""
    from .hwframes import reduction
    ml, mu = reps["lth"]["network"]["memory"], reps["uticket"]["network"]["memory"]
    if "pe_pj" not in ml or "pe_pj" not in mu:
        return None
    return reduction(ml["pe_pj"], mu["pe_pj"])


# ----------------------------------------------------------------------------- chapter 9: switches
def switches(table, analysis_table, accuracy, max_acc: float = 1.1, max_sparsity: float = 0.01,
             max_weighting: float = 0.05, max_avg: float = 0.01, seeds=None) -> list[Claim]:
    """Chapter 9: are the paper's numbers robust to each discrepancy of the released code?

    ``table``: ``switches.switch_table``; ``analysis_table``: ``switches.analysis_switch_table``;
    ``accuracy``: {switch label: PairedDiff(code, paper behaviour) or None}; ``seeds``:
    ``stats.SeedSpread`` of the difference between two independently trained runs of the recipe.
    Only switch (c) can move the final sparsity: the others prune the same count every round (the
    schedule), so their sparsity is an implementation check.
    """
    from .switches import SWITCHES, training_switches
    out = []
    for name in training_switches():
        label = SWITCHES[name]["label"]
        if (label, "u-Ticket") not in table.index:
            continue
        r = table.loc[(label, "u-Ticket")]
        out.append(paired_accuracy(f"{label}: u-Ticket accuracy (code - paper behaviour)", "released code vs paper",
                                   "no difference expected", accuracy.get(label), -max_acc, max_acc,
                                   "the paper's u-Ticket vs LTH bound; smaller changes cannot move its conclusions",
                                   seeds))
        by_schedule = name != "carry"
        out.append(Claim(f"{label}: sparsity within {100 * max_sparsity:g} point of the paper behaviour",
                         "invariant" if by_schedule else "reproduction",
                         "released code vs paper", "no difference expected", f"{100 * r['sparsity diff']:+.2f} pts",
                         f"{100 * max_sparsity:g} pt (the paper's u-Ticket vs LTH gaps are 0.2-1.0)"
                         + ("; fixed by the pruning schedule" if by_schedule else ""),
                         _ok(abs(r["sparsity diff"]) <= max_sparsity)))
        out.append(Claim(f"{label}: u-Ticket utilization still >= 0.99", "invariant", "Table II", "1.00",
                         f"{r['utilization code']:.3f}", "by construction of balance()",
                         _ok(r["utilization code"] >= 0.99)))
    for name, limit in (("weighting", max_weighting), ("avg", max_avg)):
        s = SWITCHES[name]
        p, c = f"{s['key']}={s['paper']}", f"{s['key']}={s['code']}"
        diff = (analysis_table[c] - analysis_table[p]).abs()
        worst = diff.idxmax()
        out.append(Claim(f"{s['label']}: network utilization changes by < {limit:g} on every run", "reproduction",
                         "Table II, Eq. 2", "paper's Table II utilizations", f"max |diff| {diff.max():.3f} ({' '.join(worst)})",
                         f"< {limit:g} (Table II prints two digits)", _ok(diff.max() < limit)))
    return out


# ----------------------------------------------------------------------------- chapter 10: reordering
def reordering(frames, permuted) -> list[Claim]:
    """Chapter 10 per arch. ``frames``: {arch: ``hwframes.reordering_frame``} and ``permuted``:
    {arch: ``hwframes.permutation_check``} (nnz of the permuted masks, whether every order is a
    permutation, the largest per-layer latency ratio sorted / identity). The paper does not reorder: the reproduction claim is ours."""
    from .hwframes import reduction
    out = []
    for arch, f in frames.items():
        a = _arch(arch)
        chk = permuted[arch]
        out.append(Claim(f"{a}: the sorted schedule is a permutation and keeps every weight (nnz of the permuted "
                         "masks)", "invariant", "ours", "the paper does not reorder",
                         f"{chk['nnz_permuted']} = {chk['nnz']} non-zeros; permutations: {chk['is_permutation']}",
                         "exact", _ok(chk["is_permutation"] and chk["nnz_permuted"] == chk["nnz"])))
        worst = float(chk["max_ratio"])
        out.append(Claim(f"{a}: sorted reordering never increases a layer's latency", "invariant",
                         "ours (proof in hardware.reorder)", "the paper does not reorder", f"max ratio {worst:.3f}",
                         "<= 1 (a theorem: sorting minimises the sum of block maxima)", _ok(worst <= 1 + 1e-12)))
        red = f.loc["lth + sorted", "latency reduction %"]
        out.append(Claim(f"{a}: reordering alone reduces LTH latency", "invariant", "ours",
                         "the paper does not reorder", f"{red:.1f} %",
                         "> 0 %; >= 0 by the sorting theorem above, > 0 wherever blocks are unequal", _ok(red > 0)))
        gain = reduction(f.loc["uticket", "latency"], f.loc["uticket + sorted", "latency"])
        out.append(Claim(f"{a}: reordering adds nothing on top of u-Ticket (blocks already equal)", "invariant",
                         "ours", "the paper does not reorder", f"{gain:.2f} %", "< 1 % (equal blocks stay equal)",
                         _ok(gain < 1)))
    return out


def own_network(chk: dict) -> list[Claim]:
    """Chapter 13 (your own network): implementation checks only; ``chk`` from ``own.checks``."""
    return [
        Claim("the trace finds a layer for every conv and linear weight of the network", "invariant", "ours",
              NOT_IN_PAPER, f"{chk['layers']} layers, {chk['weights']} weights", "exact",
              _ok(chk["layers"] == chk["weights"])),
        Claim("u-Ticket balancing gives every block of every covered layer equal loads", "invariant",
              "Algorithm 1", "utilization 1 by design", f"utilization {chk['utilization']:.3f}; "
              f"equal blocks: {chk['equal_blocks']}", ">= 0.99 and every block equal",
              _ok(chk["equal_blocks"] and chk["utilization"] >= 0.99)),
        Claim("balancing only adds weights, fewer than one per covered filter (each block is lifted to its "
              "rounded-up mean load)", "invariant", "Algorithm 1 (ceil targets)", NOT_IN_PAPER,
              f"{chk['added']:+d} weights ({chk['nonzero_change_pct']:+.2f} %) over {chk['covered_filters']} "
              "covered filters", "0 <= added < covered filters",
              _ok(0 <= chk["added"] < chk["covered_filters"])),
        Claim("`uticket hw --model` reports the same network totals as the library call", "invariant", "ours",
              NOT_IN_PAPER, f"equal: {chk['cli_matches']}", "relative 1e-9", _ok(chk["cli_matches"])),
    ]


def counts(claims: Iterable[Claim]) -> dict:
    """{kind: {verdict: n}} over a list of claims (every kind and verdict present, zeros included)."""
    out = {k: dict.fromkeys(VERDICTS, 0) for k in KINDS}
    for c in claims:
        out[c.kind][c.verdict] += 1
    return out
