"""Chapter 11 (quantization x pruning x u-Ticket): points, hardware of quantized tickets, claims.

Every point of the chapter is a (network, masks, bit width) triple: the float LTH / u-Ticket tickets
of chapters 2 and 4 (16 bits), the dense network quantized in isolation (QAT), the final tickets
quantized and fine-tuned (cumulative, ``quantized.quantize_level``), and a joint run (QAT in every
round from the rewind point). Hardware numbers come from ``hardware.report`` on the effective masks
(mask AND Q(w) != 0) with ``weight_bits`` = b.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import torch

from .. import hardware, io, parallel, paths, profiles, quant, rundata, runstore
from ..config import RunConfig
from ..pruning import mask as masklib
from ..training import eval_loader, evaluate
from . import config as run_config, last_level, layers
from ..quant.rebalance import check_survives
from .claims import NOT_IN_PAPER, REL_TOL, Claim, interval_verdict, verdict

SEED = "Schaefer et al. 2023"
# Seed 002's numbers (quoted as numbers): share of weights at zero after quantization, per bit width
# (%); pruning's iso-accuracy limit (% sparsity); energy of that pruned model over the best quantized
# one (abstract: "45 % more").
SEED_ZERO_SHARE_PCT = {2: 67.9, 3: 31.6, 4: 15.1, 6: 3.6, 8: 0.9}
SEED_ISO_ACCURACY_SPARSITY_PCT = 80.0
SEED_PRUNED_OVER_QUANT_ENERGY = 1.45
ACCURACY_BOUND_PP = 1.0   # "iso-accuracy": within 1 point of float (chapter 4's bound; u-Ticket Table I
                          # drops are <= 1.1 points, seed 002 reports no loss down to ternary)
ENERGY = "paper_calibrated"


# ----------------------------------------------------------------------------- runs
def isolation_config(profile: str, arch: str, dataset: str, overrides: Mapping[str, Any], bits: int,
                     epochs: int = 1) -> RunConfig:
    """The dense network quantized to ``bits`` and fine-tuned for ``epochs`` (QAT), as a run's config."""
    return profiles.get(profile, arch, dataset, "lth",
                        {**overrides, "quant.bits": bits, "quant.mode": "isolation", "quant.epochs": epochs})


def joint_overrides(cfg: RunConfig, rounds: int = 2) -> dict:
    """A joint run reaching the profile's final sparsity in ``rounds`` pruning rounds (cheaper)."""
    keep = (1 - cfg.prune.fraction) ** ((cfg.prune.levels - 1) / rounds)
    return {"prune.levels": rounds + 1, "prune.fraction": round(1 - keep, 4)}


def joint_config(profile: str, arch: str, dataset: str, method: str, overrides: Mapping[str, Any],
                 bits: int, rounds: int = 2) -> RunConfig:
    """Pruning and QAT at ``bits`` together in every round, ``rounds`` rounds to the final sparsity."""
    cfg = profiles.get(profile, arch, dataset, method, overrides)
    return profiles.get(profile, arch, dataset, method,
                        {**overrides, **joint_overrides(cfg, rounds), "quant.bits": bits, "quant.mode": "joint"})


def chapter_runs(profile: str, arch: str, dataset: str, overrides: Mapping[str, Any], bits_list,
                 qat_epochs: int, joint_bits: int, joint_rounds: int) -> dict[str, Any]:
    """Every run of the quantization chapter, trained side by side where that is faster
    (``parallel.run_all``): {"lth": dir, "uticket": dir, "iso": {bits: dir}, "joint": dir}."""
    cfgs = {"lth": profiles.get(profile, arch, dataset, "lth", overrides),
            "uticket": profiles.get(profile, arch, dataset, "uticket", overrides),
            **{("iso", b): isolation_config(profile, arch, dataset, overrides, b, qat_epochs) for b in bits_list},
            "joint": joint_config(profile, arch, dataset, "uticket", overrides, joint_bits, joint_rounds)}
    dirs = dict(zip(cfgs, parallel.run_all(list(cfgs.values()))))
    return {"lth": dirs["lth"], "uticket": dirs["uticket"], "joint": dirs["joint"],
            "iso": {b: dirs[("iso", b)] for b in bits_list}}


# ----------------------------------------------------------------------------- one point
def _weights(model: torch.nn.Module, names) -> dict:
    params = dict(model.named_parameters())
    return {n: params[n].detach().cpu() for n in names}


def point(run: Path, level: int | None = None, qdir: Path | None = None, label: str = "",
          n_pe: int = 16, energy: str = ENERGY) -> dict:
    """Accuracy, sparsity (mask and effective), hardware of one network: the float level of ``run``,
    or the quantized network in ``qdir`` (a ``quantize_level`` folder or a quantized run's level)."""
    level = last_level(run) if level is None else level
    here = qdir or paths.level_dir(run, level)
    metrics = io.load_json(paths.metrics_path(here))
    masks = runstore.load_masks(run, level)
    q = metrics.get("quant")
    bits, eff = 16, masks
    if q and "qparams" in q:
        model = runstore.load_quantized(run, here)
        bits = q["bits"]
        eff = quant.effective_masks(_weights(model, masks), masks, quant.qparams(model))
    rep = hardware.report(eff, layers(run), n_pe=n_pe, timesteps=run_config(run).model.timesteps,
                          spike_sparsity=metrics["spike_sparsity"], energy=energy, weight_bits=bits)
    net = rep["network"]
    return {"point": label, "bits": bits, "accuracy": metrics["test_accuracy"],
            "test_images": metrics["test_images"], "sparsity": masklib.sparsity(masks),
            "effective_sparsity": masklib.sparsity(eff), "zero_share": (q or {}).get("zero_share", 0.0),
            "utilization": net["utilization"], "energy": net["energy"], "latency": net["latency"],
            "system_pj": net["memory"]["total_pj"], "spike_sparsity": metrics["spike_sparsity"],
            "float_accuracy": (q or {}).get("float_test_accuracy")}


def zero_share_at_init(run: Path, bits_list=(2, 3, 4, 6, 8)) -> pd.Series:
    """Share of the trained dense weights that Q maps to zero with the quantizer's initial a, c."""
    model = runstore.load_model(run, 0)
    weights = {n: p.detach() for n, p in masklib.prunable(model).items()}
    out = {}
    for b in bits_list:
        qp = {n: {"a": quant.quantizer.init_range(w), "c": 1.0, "bits": b} for n, w in weights.items()}
        out[b] = quant.zero_share(weights, qp)
    return pd.Series(out, name="zero share at init")


def zero_frame(iso: Mapping[int, dict], init: pd.Series) -> pd.DataFrame:
    """Per bit width: zero share after QAT (ours), at initialisation (ours), and the seed's."""
    rows = []
    for b in sorted(set(init.index) | set(iso) | set(SEED_ZERO_SHARE_PCT)):
        rows.append({"bits": b, "after QAT": iso[b]["zero_share"] if b in iso else None,
                     "at init": init.get(b), "Schaefer et al.": SEED_ZERO_SHARE_PCT.get(b, math.nan) / 100})
    return pd.DataFrame(rows).set_index("bits")


# ----------------------------------------------------------------------------- re-balancing
def rebalance_point(run: Path, qdir: Path, n_pe: int = 16, seed: int = 0, label: str = "") -> dict:
    """Re-balance a quantized u-Ticket ticket (``quant.rebalance``) and measure its accuracy (no
    fine-tuning) and utilization; the recovered weights take the sign of the rewind weights."""
    level = int(qdir.parent.name.split("_")[1]) if qdir.parent.name.startswith("level_") else last_level(run)
    model = runstore.load_quantized(run, qdir)
    masks = runstore.load_masks(run, level)
    qp = quant.qparams(model)
    cov = runstore.covered_layers(model, masks)
    rewind = runstore.load_state(paths.rewind_path(run))
    out = quant.rebalance(_weights(model, masks), masks, qp, n_pe=n_pe, covered=cov, seed=seed,
                          signs={n: rewind[n] for n in masks if n in rewind})
    with torch.no_grad():
        params = dict(model.named_parameters())
        for n, w in out["weights"].items():
            params[n].copy_(w)
    cfg = run_config(run)
    test = rundata.load_datasets(cfg)[1]
    acc = evaluate(model, eval_loader(test), torch.device("cpu"))
    rep = hardware.report(out["masks"], layers(run), n_pe=n_pe, timesteps=cfg.model.timesteps,
                          spike_sparsity=acc["spike_sparsity"], energy=ENERGY, weight_bits=qp[cov[0]]["bits"])
    net = rep["network"]
    return {"point": label, "bits": qp[cov[0]]["bits"], "accuracy": acc["accuracy"], "test_images": acc["images"],
            "sparsity": masklib.sparsity(out["masks"]), "effective_sparsity": masklib.sparsity(out["masks"]),
            "utilization": net["utilization"], "energy": net["energy"], "latency": net["latency"],
            "system_pj": net["memory"]["total_pj"], "spike_sparsity": acc["spike_sparsity"],
            "survives": check_survives(out["weights"], out["masks"], qp),
            **out["stats"]}


# ----------------------------------------------------------------------------- the front
def pareto(frame: pd.DataFrame, x: str = "energy", y: str = "accuracy") -> pd.Series:
    """True for points no other point beats in both lower ``x`` and higher ``y`` (ties do not beat)."""
    flags = []
    for i, r in frame.iterrows():
        beaten = ((frame[x] <= r[x]) & (frame[y] >= r[y]) & ((frame[x] < r[x]) | (frame[y] > r[y]))).any()
        flags.append(not beaten)
    return pd.Series(flags, index=frame.index, name="pareto")


# ----------------------------------------------------------------------------- claims
def _diff_interval(a: float, na: int, b: float, nb: int, seed_half: float = 0.0) -> tuple[float, float, float]:
    """a - b in points with a 95 % normal interval (independent binomial test accuracies), each side
    widened in quadrature by ``seed_half`` points (the training-seed part, ``SeedSpread.half_width``)."""
    d = 100 * (a - b)
    se = 100 * math.sqrt(a * (1 - a) / max(na, 1) + b * (1 - b) / max(nb, 1))
    h = math.hypot(1.96 * se, seed_half)
    return d, d - h, d + h


def claims(s: Mapping[str, Any]) -> list[Claim]:
    """Chapter 11's claims from a summary dict (so that each can be tested to fail):

    float {accuracy, test_images}; iso {bits: point}; zeros (``zero_frame``); ticket, ternary
    (points: the float LTH ticket, the ternary dense network); util {"uticket16", "quantized",
    "rebalanced", "survives"}; reduction {2: %, 16: %}; front (frame with "point", "pareto", "kind");
    optional seeds (``stats.SeedSpread`` of the QAT-minus-float difference over training seeds;
    without it the accuracy intervals hold test-image noise only and cannot PASS).
    """
    out = []
    f = s["float"]
    seeds = s.get("seeds")
    for b in (2, 4):
        if b not in s["iso"]:
            continue
        p = s["iso"][b]
        d, lo, hi = _diff_interval(p["accuracy"], p["test_images"], f["accuracy"], f["test_images"],
                                   seeds.half_width() if seeds else 0.0)
        v = interval_verdict(lo, hi, -ACCURACY_BOUND_PP)
        noise = seeds.text() if seeds else ("QAT fine-tunes the same float network and the noise of that over "
                                            "seeds is not measured: a PASS cannot be issued on test-image noise alone")
        out.append(Claim(f"{b}-bit QAT of the dense network stays within {ACCURACY_BOUND_PP:g} point of float",
                         "reproduction", f"{SEED}, abstract: no loss down to ternary", "no loss",
                         f"{d:+.2f} pt [{lo:+.2f}, {hi:+.2f}] (95 %: {p['test_images']} test images; {noise})",
                         f">= -{ACCURACY_BOUND_PP:g} pt (iso-accuracy bound of chapter 4)",
                         "INCONCLUSIVE" if v == "PASS" and not seeds else v, seeds=seeds.n if seeds else 1))
    z = s["zeros"]["after QAT"].dropna()
    falls = len(z) >= 2 and all(x > y for x, y in zip(z, z.iloc[1:]))
    seed = s["zeros"]["Schaefer et al."].dropna()
    out.append(Claim("the share of weights quantization sets to zero falls as b grows", "invariant",
                     f"{SEED}, zeros per bit width",
                     ", ".join(f"b={b}: {100 * v:.1f} %" for b, v in seed.items()),
                     ", ".join(f"b={b}: {100 * v:.1f} %" for b, v in z.items()),
                     "strictly decreasing over the measured bit widths (after QAT); a finer grid rounds fewer "
                     "weights to zero by construction", verdict(falls)))
    t, q = s["ticket"], s["ternary"]
    ratio = t["energy"] / q["energy"]
    out.append(Claim("the pruned ticket (16 bit) costs more PE energy than the ternary dense network",
                     "reproduction", f"{SEED}, abstract (pruning at {SEED_ISO_ACCURACY_SPARSITY_PCT:g} % "
                     "sparsity vs best quantization)", f"{SEED_PRUNED_OVER_QUANT_ENERGY:.2f}x",
                     f"{ratio:.2f}x at {100 * t['sparsity']:.1f} % sparsity (latency {t['latency'] / q['latency']:.2f}x; "
                     f"accuracy {100 * t['accuracy']:.1f} vs {100 * q['accuracy']:.1f} %)",
                     f"INCONCLUSIVE: Schaefer et al. prune to their iso-accuracy {SEED_ISO_ACCURACY_SPARSITY_PCT:g} %, "
                     f"this ticket is {100 * t['sparsity']:.0f} % sparse and their simulator is not public",
                     "INCONCLUSIVE"))
    u = s["util"]
    out.append(Claim("ternary quantization breaks a balanced u-Ticket ticket's balance", "reproduction",
                     "u-Ticket Table II (utilization 1.00) + this chapter", NOT_IN_PAPER,
                     f"{u['uticket16']:.3f} (16 bit) -> {u['quantized']:.3f} (ternary, QAT)",
                     "utilization drops by more than 0.01", verdict(u["quantized"] < u["uticket16"] - 0.01)))
    out.append(Claim("re-balancing after quantization restores the float ticket's utilization and every "
                     "recovered weight survives rounding", "invariant", "quant.rebalance", NOT_IN_PAPER,
                     f"{u['rebalanced']:.3f}; survives: {u['survives']}",
                     "utilization >= the 16-bit ticket's (1 unless a layer has fewer filters than PEs)",
                     verdict(u["rebalanced"] >= u["uticket16"] - 1e-9 and bool(u["survives"]))))
    r = s["reduction"]
    keep = r[2] / r[16] if r[16] else float("nan")
    out.append(Claim("u-Ticket keeps its 16-bit PE energy saving over LTH with ternary weights (side-study tickets)",
                     "reproduction",
                     "u-Ticket Fig. 7(a) (16 bit only) + this chapter", NOT_IN_PAPER,
                     f"b=2: {r[2]:.1f} %, b=16: {r[16]:.1f} % ({keep:.2f} x the 16-bit saving)",
                     f"one-sided, as 'keeps' is: b=2 at least {100 * (1 - REL_TOL):.0f} % of the 16-bit saving (a "
                     "larger saving keeps it too); DIRECTION: a smaller saving; FAIL: none. One QAT fine-tune "
                     "per method, no seed spread: one draw",
                     "INCONCLUSIVE" if not math.isfinite(keep) else "PASS" if keep >= 1 - REL_TOL
                     else "DIRECTION" if keep > 0 else "FAIL",
                     expected=r[16], expected_basis="this build's 16-bit saving (no paper number for 2 bits)"))
    fr = s["front"]
    combined = fr[fr["kind"].isin(["cumulative", "joint"])]
    on = combined[combined["pareto"]]
    out.append(Claim("a pruned-and-quantized point lies on the accuracy / energy Pareto front",
                     "invariant", f"{SEED}, abstract (favourable trade-off)", "on the front",
                     ", ".join(on["point"]) if len(on) else "none of " + ", ".join(combined["point"]),
                     "at least one cumulative or joint point not dominated; the cheapest point is on the front by "
                     "construction", verdict(len(on) > 0)))
    return out

