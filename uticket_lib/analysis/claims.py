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
import math
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
           table(main) if main else "<p>This chapter tests no statement of the paper on measured "
           "numbers: everything it checks holds by construction (below).</p>"]
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


# ============================================================================ building claims
# Every chapter's claims are a pure function of small inputs (frames, report dicts, paired
# differences), so tests can feed them synthetic data and mutated implementations
# (tests/test_claims_mutations.py). Kinds follow the contract above.
def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f} %"


def _ok(passed: bool) -> str:
    return verdict(bool(passed))


def _arch(arch: str) -> str:
    from .labels import name
    return name(arch)


NO_PREDICTIONS = ("INCONCLUSIVE: no per-image predictions (run written before level_k/predictions.pt); "
                  "rerun the level's evaluation to decide")


def paired_accuracy(statement: str, source: str, paper_value: str, diff, bound_lo: float,
                    bound_hi: float, why: str, seeds=None) -> Claim:
    """A reproduction claim on an accuracy difference (points) with a paired 95 % interval.

    ``diff``: ``stats.PairedDiff`` (fractions) or None when per-image predictions are missing.
    PASS if the interval lies inside [bound_lo, bound_hi] points, FAIL if wholly outside,
    INCONCLUSIVE otherwise. ``seeds``: per-seed differences (points) shown as a spread.
    """
    from . import stats
    tol = f"[{bound_lo:g}, {bound_hi:g}] pts; {why}" if math.isfinite(bound_lo) else f"<= {bound_hi:g} pts; {why}"
    if diff is None:
        return Claim(statement, "reproduction", source, paper_value, NO_PREDICTIONS, tol, "INCONCLUSIVE")
    measured = diff.text()
    if seeds is not None and len(seeds) > 1:
        s = stats.spread(seeds)
        measured += f"; {s['n']} seeds: {s['mean']:+.2f} +- {s['std']:.2f} pts (min {s['min']:+.2f}, max {s['max']:+.2f})"
    return Claim(statement, "reproduction", source, paper_value, measured, tol,
                 interval_verdict(100 * diff.lo, 100 * diff.hi, bound_lo, bound_hi))


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
def lottery(summary, accuracy, bound: float = 2.0) -> list[Claim]:
    """Chapter 2 per arch: the final sparsity follows the schedule (invariant) and the LTH ticket keeps
    the dense network's accuracy (reproduction, paired interval of ticket - dense on the same test
    images within +-``bound`` points).

    ``summary``: ``runs.ticket_summary`` (index arch); ``accuracy``: {arch: PairedDiff(ticket, dense) or None}.
    """
    out = []
    for arch, r in summary.iterrows():
        a = _arch(arch)
        out.append(Claim(f"{a} LTH final sparsity = 1-(1-p)^(L-1)", "invariant", "Sec. II-B (schedule)",
                         "98.2 % (Table I, FMNIST) at the paper's schedule",
                         f"{_pct(r['sparsity'], 2)} vs schedule {_pct(r['expected_sparsity'], 2)}",
                         "0.1 pt (rounding of the per-round pruned count)",
                         _ok(abs(r["sparsity"] - r["expected_sparsity"]) < 1e-3)))
        out.append(paired_accuracy(
            f"{a} LTH ticket keeps the dense network's accuracy (ticket - dense)", "Sec. II-B (LTH [14])",
            "'similar accuracy' (no number)", accuracy.get(arch), -bound, bound,
            "our reading of 'similar'; two-sided: a ticket far above an under-trained dense network fails too"))
    return out


# ----------------------------------------------------------------------------- chapter 3: imbalance
def imbalance(toy_work, util, random_final, max_final: float = 0.8) -> list[Claim]:
    """Chapter 3: the toy layer (invariant); per LTH run, utilization falls as sparsity rises and ends
    below ``max_final`` (Fig. 4, Table II); random masks of equal per-layer sparsity are imbalanced too
    (Sec. II-C: imbalance from irregular sparsity).

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
        out.append(Claim(f"{a} LTH: final network utilization < {max_final:g}", "reproduction", "Table II",
                         paper.text(ref, "{:.2f} (FMNIST)"), f"{last:.3f}",
                         f"< {max_final:g}: well below 1 at a smaller network and fewer rounds", _ok(last < max_final)))
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
def uticket(final, covered, cost, accuracy, max_drop: float = 1.1, max_sparsity_gap: float = 0.01,
            max_cost_pct: float = 1.0, min_util: float = 0.99, n_pe: int = 16) -> list[Claim]:
    """Chapter 4 per arch. ``final``: ``runs.final_rows`` of a ``method_levels(..., utilization=True)``
    frame (index (arch, method)); ``covered``: {arch: ``masks.covered_layer_utilization``};
    ``cost``: frame per arch with ``percent_of_level``; ``accuracy``: {arch: PairedDiff(LTH, u-Ticket) or None}.
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
            out.append(Claim(f"{a}: u-Ticket network utilization above LTH's at the final level", "reproduction",
                             "Table II", f"{paper.text(pu, '{:.2f}')} vs {paper.text(pl, '{:.2f}')} (FMNIST)",
                             f"{ut['utilization']:.3f} vs {lth['utilization']:.3f}", "strict (deterministic in the masks)",
                             _ok(ut["utilization"] > lth["utilization"])))
        drops = [paper.TABLE_I[(arch, d, "lth")]["acc"] - paper.TABLE_I[(arch, d, "uticket")]["acc"]
                 for d in paper.DATASETS if (arch, d, "lth") in paper.TABLE_I]
        out.append(paired_accuracy(
            f"{a}: accuracy drop of u-Ticket vs LTH (LTH - u-Ticket)", "Table I, Sec. IV-B1",
            f"'less than ~1 %'; Table I drops {', '.join(f'{d:.1f}' for d in drops)} pts", accuracy.get(arch),
            float("-inf"), max_drop, "the paper's largest drop in Table I (one-sided: u-Ticket may be better)"))
        gap = ut["sparsity"] - lth["sparsity"]
        pg = [paper.TABLE_I[(arch, d, "uticket")]["weight_sparsity"] - paper.TABLE_I[(arch, d, "lth")]["weight_sparsity"]
              for d in paper.DATASETS if (arch, d, "lth") in paper.TABLE_I]
        out.append(Claim(f"{a}: u-Ticket final sparsity within {100 * max_sparsity_gap:g} point of LTH's",
                         "reproduction", "Table I", f"u-Ticket - LTH: {', '.join(f'{g:+.1f}' for g in pg)} pts",
                         f"{100 * gap:+.2f} pts ({_pct(ut['sparsity'], 2)} vs {_pct(lth['sparsity'], 2)})",
                         f"|gap| <= {100 * max_sparsity_gap:g} pt: the paper's largest gap is 1.0",
                         _ok(abs(gap) <= max_sparsity_gap)))
        if arch in cost.index:
            pct = float(cost.loc[arch, "percent_of_level"])
            ref = paper.TEXT["balancing_cost_pct_of_lth_round"]
            out.append(Claim(f"{a}: balancing costs < {max_cost_pct:g} % of one round's training", "reproduction",
                             ref[1], f"{ref[0]:g} % (RTX 2080Ti)", f"{pct:.3f} %",
                             f"< {max_cost_pct:g} %: 'negligible', on a CPU rather than a GPU",
                             _ok(pct < max_cost_pct)))
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
        red = reduction(lth["network"]["latency"], ut["network"]["latency"])
        pl, pu = paper.lookup(paper.TABLE_II, (arch, "fmnist", "lth")), paper.lookup(paper.TABLE_II, (arch, "fmnist", "uticket"))
        pref = (f"{reduction(pl['work'] + pl['idle'], pu['work'] + pu['idle']):.0f} % (FMNIST); up to "
                f"{paper.TEXT['max_latency_reduction_pct'][0]} %") if pl and pu else paper.NOT_IN_PAPER
        out.append(Claim(f"{a}: u-Ticket reduces latency vs LTH", "reproduction", "Table II, abstract", pref,
                         f"{red:.1f} %", "> 0 %: the sign, since our networks are narrower and less sparse",
                         _ok(red > 0)))
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
        out.append(Claim(f"{a}: u-Ticket reduces PE energy vs LTH ({preset})", "reproduction", paper.FIG7A_REF,
                         paper.text(p, "{:.1f} % (FMNIST)"), f"{red:.1f} %", "> 0 %: the sign under the calibrated ratio",
                         _ok(red > 0)))
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
    """Chapter 7 (Table III) on sweeps {name: ``hwframes.pe_sweep`` frame}: latency roughly halves per
    doubling and energy stays flat for the balanced masks; at the largest n_PE the balanced masks are
    faster than the unbalanced ones."""
    from .hwframes import halving_ratios
    pre = f"{label}: " if label else ""
    out = []
    f = sweeps[balanced]
    full = f[f["padded_layers"] == 0] if "padded_layers" in f else f
    for rows, what in ((full, "where every covered layer fills its blocks"), (f, "over the whole sweep")):
        h = halving_ratios(rows)
        ok = len(h) > 0 and bool(((h >= 0.45) & (h <= 0.6)).all())
        out.append(Claim(f"{pre}{balanced}: latency roughly halves per doubling of n_PE {what}", "reproduction",
                         "Table III", "0.49, 0.51, 0.48, 0.5, 0.5", ", ".join(f"{v:.2f}" for v in h) or "no such n_PE pair",
                         "every ratio in [0.45, 0.6] (the paper's range, widened for padding)", _ok(ok)))
        e = rows["energy_norm"]
        out.append(Claim(f"{pre}{balanced}: normalised energy flat {what}", "reproduction", "Table III",
                         "0.95-1.04", f"{e.min():.2f} .. {e.max():.2f}", "[0.9, 1.1] (the paper's 0.95-1.04, widened)",
                         _ok(bool(((e >= 0.9) & (e <= 1.1)).all()))))
    lu, lb = sweeps[unbalanced]["latency_norm"].iloc[-1], sweeps[balanced]["latency_norm"].iloc[-1]
    out.append(Claim(f"{pre}at the largest n_PE, {balanced} is faster than {unbalanced} (normalised latency)",
                     "reproduction", "Table III, Sec. IV-B5", "LTH not in Table III", f"{lb:.3f} vs {lu:.3f}",
                     "strict", _ok(lb < lu)))
    return out


# ----------------------------------------------------------------------------- chapter 8: system
def system(reports, share=(30.0, 60.0)) -> list[Claim]:
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
        out.append(Claim(f"{a}: every WSP filter fits the 1024 x 16-bit scratchpad", "reproduction", "Sec. III-B1",
                         f"{paper.TEXT['scratchpad_words_16bit'][0]} words", f"{over} overflowing filters",
                         "0 (a filter that overflows needs a second pass)", _ok(ml["spad_fits"] and mu["spad_fits"])))
        s = 100 * ml["pe_share"]
        ref = paper.TEXT["pe_share_of_system_energy_pct_at_95pct_sparsity"]
        out.append(Claim(f"{a}: PE share of LTH system energy", "reproduction", ref[1], f"~{ref[0]:g} %",
                         f"{s:.1f} %", f"[{share[0]:g} %, {share[1]:g} %] around the paper's ~45 %",
                         _ok(share[0] <= s <= share[1])))
        sav = reduction(ml["total_pj"], mu["total_pj"])
        ref = paper.TEXT["system_energy_saving_pct"]
        out.append(Claim(f"{a}: u-Ticket saves system energy", "reproduction", ref[1], f"~{ref[0]:g} %",
                         f"{sav:.1f} %", "> 0 %: the sign", _ok(sav > 0)))
    return out


# ----------------------------------------------------------------------------- chapter 9: switches
def switches(table, analysis_table, accuracy, max_acc: float = 1.1, max_sparsity: float = 0.01,
             max_weighting: float = 0.05, max_avg: float = 0.01) -> list[Claim]:
    """Chapter 9: are the paper's numbers robust to each discrepancy of the released code?

    ``table``: ``switches.switch_table``; ``analysis_table``: ``switches.analysis_switch_table``;
    ``accuracy``: {switch label: PairedDiff(code, paper behaviour) or None}.
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
                                   "the paper's u-Ticket vs LTH bound; smaller changes cannot move its conclusions"))
        out.append(Claim(f"{label}: sparsity within {100 * max_sparsity:g} point of the paper behaviour", "reproduction",
                         "released code vs paper", "no difference expected", f"{100 * r['sparsity diff']:+.2f} pts",
                         f"{100 * max_sparsity:g} pt (the paper's u-Ticket vs LTH gaps are 0.3-1.0)",
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
        out.append(Claim(f"{a}: reordering alone reduces LTH latency", "reproduction", "ours",
                         "the paper does not reorder", f"{red:.1f} %", "> 0 %", _ok(red > 0)))
        gain = reduction(f.loc["uticket", "latency"], f.loc["uticket + sorted", "latency"])
        out.append(Claim(f"{a}: reordering adds nothing on top of u-Ticket (blocks already equal)", "invariant",
                         "ours", "the paper does not reorder", f"{gain:.2f} %", "< 1 % (equal blocks stay equal)",
                         _ok(gain < 1)))
    return out


def counts(claims: Iterable[Claim]) -> dict:
    """{kind: {verdict: n}} over a list of claims (every kind and verdict present, zeros included)."""
    out = {k: dict.fromkeys(VERDICTS, 0) for k in KINDS}
    for c in claims:
        out[c.kind][c.verdict] += 1
    return out
