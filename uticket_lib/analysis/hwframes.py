"""Hardware frames of finished runs: cycles (Table II, Fig. 6), energy (Eq. 3, Fig. 7, Fig. 8),
PE scaling (Table III), memory and system energy (Fig. 9), filter reordering.

Absolute cycle counts scale with network width and input size, so comparisons with the paper are made
on ratios (utilization, idle share, reductions).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import torch

from .. import hardware, paper, runstore
from ..pruning import balance as balancelib
from ..hardware import energy as E
from ..hardware.sweep import PAPER_N_PE
from .labels import ARCH_LABELS, DATASET_LABELS, name
from .runs import (Runs, config, dataset_of, event_report, hardware_report, layers, level_of, levels_frame, pe_count,
                   record, roles)

# Every frame comparing two methods reads them from its pair (``runs.roles``: baseline first), so a
# pair {"lth": ..., "<another method>": ...} gives the same tables with that method's label.


COMPONENTS = ("mac_dyn", "mem_dyn", "lif_dyn", "mac_leak", "lif_leak", "mem_leak")


def reduction(base: float, new: float) -> float:
    """Percent reduction of ``new`` relative to ``base`` (nan if base is 0)."""
    return 100.0 * (1.0 - new / base) if base else float("nan")


def independent_cycles_error(masks: Mapping[str, torch.Tensor], rep: dict) -> float:
    """Largest relative deviation of a report's per-layer idle and latency (output mode) from counts
    made here from the masks alone: per-filter non-zeros x output positions x T as the PE loads,
    latency = sum over blocks of the block's largest load, idle = sum over PEs of (block max - load).

    An implementation check of the cycle model that does not reuse its code (Table II's identity
    Latency = (Work + Idle) / n_PE would hold for any idle defined as n_PE x latency - work).
    """
    n, T = rep["settings"]["n_pe"], rep["settings"]["timesteps"]
    worst = 0.0
    for r in rep["layers"]:
        if not r["covered"] or r.get("latency") is None:
            continue
        m = masks[r["name"]]
        per_filter = (m.reshape(m.shape[0], -1) != 0).sum(1).double() * r["positions"] * T
        pad = (-len(per_filter)) % n
        blocks = torch.cat([per_filter, per_filter.new_zeros(pad)]).reshape(-1, n)
        peak = blocks.max(1).values
        latency = float(peak.sum())
        idle = float((peak[:, None] - blocks).sum())
        for mine, theirs in ((latency, r["latency"]), (idle, r["idle"])):
            worst = max(worst, abs(mine - theirs) / max(abs(mine), 1.0))
    return worst


def final_reports(runs: Runs, level: int | None = None, **options: Any) -> dict:
    """{arch: {method: hardware report}} of every run of ``runs`` at one level (default: the last)."""
    return {arch: {m: hardware_report(run, level, **options) for m, run in pair.items()}
            for arch, pair in runs.items()}


def cycles_checks(runs: Runs, level: int | None = None) -> dict:
    """{arch: {method: ``independent_cycles_error``}} of the final-level reports."""
    return {arch: {m: independent_cycles_error(runstore.load_masks(run, level_of(run, level)),
                                               hardware_report(run, level)) for m, run in pair.items()}
            for arch, pair in runs.items()}


def _cycles_row(net: dict) -> dict:
    total = net["work"] + net["idle"]
    return {"work": net["work"], "idle": net["idle"], "latency": net["latency"],
            "utilization": net["utilization_params"], "utilization_mean": net["utilization_mean"],
            "idle_share": net["idle"] / total if total else 0.0}


def latency_reduction(pair: Mapping[str, Path], level: int | None = None, **options: Any) -> float:
    """Percent latency reduction of the candidate (u-Ticket) vs the baseline (LTH) (final levels,
    16 PEs unless ``n_pe`` given)."""
    lat = [hardware_report(pair[m], level, **options)["network"]["latency"] for m in roles(pair)]
    return reduction(*lat)


def layer_frame(pair: Mapping[str, Path], level: int | None = None, **options: Any) -> pd.DataFrame:
    """Fig. 6: per covered layer and method, work, idle, latency (cycles) and utilization."""
    rows = []
    for m in roles(pair):
        for i, r in enumerate(l for l in hardware_report(pair[m], level, **options)["layers"] if l["covered"]):
            rows.append({"layer": r["name"].removesuffix(".weight"), "index": i, "method": m,
                         "work": r["work"], "idle": r["idle"], "latency": r["latency"],
                         "utilization": r["utilization"], "nnz": r["nnz"],
                         "weight_sparsity": r["weight_sparsity"]})
    return pd.DataFrame(rows)


def cycle_modes(pair: Mapping[str, Path], level: int | None = None, n_images: int = 8,
                modes: Iterable[str] | None = None) -> pd.DataFrame:
    """Network cycles of LTH and u-Ticket in every cycle mode (event modes: per image, mean of
    ``n_images`` test images), with the latency reduction of u-Ticket in each mode.

    "output"/"valid" use the level's measured spike sparsity in energy; the event modes count the
    spike-matched cycles directly.
    """
    base, cand = roles(pair)
    rec = {m: None for m in (base, cand)}
    rows = []
    for mode in modes if modes is not None else hardware.CYCLE_MODES:
        lat = {}
        for m in (base, cand):
            if hardware.CYCLE_MODES[mode].needs_inputs:
                if rec[m] is None:
                    rec[m] = record(pair[m], level, n_images)
                net = event_report(pair[m], level, mode, rec[m])["network"]
            else:
                net = hardware_report(pair[m], level, mode=mode)["network"]
            lat[m] = net["latency"]
            rows.append({"mode": mode, "method": name(m), **_cycles_row(net)})
        rows[-2]["latency reduction %"] = 0.0
        rows[-1]["latency reduction %"] = reduction(lat[base], lat[cand])
    return pd.DataFrame(rows).set_index(["mode", "method"])


def energy_frame(runs: Runs, energy: str = "paper_calibrated", level: int | None = None) -> pd.DataFrame:
    """Fig. 7(a): Eq. 3 energy of LTH and u-Ticket per arch (final levels) and the reduction,
    beside the paper's reduction for the same dataset (CIFAR10 if the paper lacks ours)."""
    ds = dataset_of(runs)
    pds = ds if ds in paper.DATASETS else "cifar10"
    rows = []
    for arch, pair in runs.items():
        base, cand = roles(pair)
        nets = {m: hardware_report(pair[m], level, energy=energy)["network"] for m in (base, cand)}
        rows.append({"arch": ARCH_LABELS.get(arch, arch), "unit": nets[base]["energy_unit"],
                     f"energy {name(base)}": nets[base]["energy"], f"energy {name(cand)}": nets[cand]["energy"],
                     f"spike sparsity {name(base)}": nets[base]["spike_sparsity"],
                     f"spike sparsity {name(cand)}": nets[cand]["spike_sparsity"],
                     "reduction %": reduction(nets[base]["energy"], nets[cand]["energy"]),
                     f"paper reduction % ({DATASET_LABELS[pds]})": paper.lookup(paper.FIG7A_ENERGY_REDUCTION, (arch, pds))})
    return pd.DataFrame(rows).set_index("arch")


def energy_levels(nets: Mapping[str, list[dict]]) -> pd.DataFrame:
    """Fig. 7(b) from per-level report networks {"lth": [net, ...], "uticket": [net, ...]} (level 0
    first): sparsity and energy of both methods, the baseline's utilization and the reduction."""
    base, cand = roles(nets)
    b, c = name(base), name(cand)
    rows = []
    for lv, (nl, nu) in enumerate(zip(nets[base], nets[cand])):
        rows.append({"level": lv, f"sparsity {b}": nl["weight_sparsity"], f"sparsity {c}": nu["weight_sparsity"],
                     f"energy {b}": nl["energy"], f"energy {c}": nu["energy"],
                     f"utilization {b}": nl["utilization_params"], "reduction %": reduction(nl["energy"], nu["energy"])})
    return pd.DataFrame(rows).set_index("level")


def energy_vs_sparsity(pair: Mapping[str, Path], energy: str = "paper_calibrated") -> pd.DataFrame:
    """Fig. 7(b): per pruning level, weight sparsity and Eq. 3 energy of both methods, the reduction
    and LTH's utilization (level 0, the shared dense network, has reduction 0 by construction)."""
    f = {m: levels_frame(pair[m]).index for m in roles(pair)}
    common = sorted(set.intersection(*(set(v) for v in f.values())))
    return energy_levels({m: [hardware_report(pair[m], int(lv), energy=energy)["network"] for lv in common]
                          for m in roles(pair)})


def break_even_ratio(net_lth: dict, net_ut: dict) -> float | None:
    """The E_l / E_d at which u-Ticket's Eq. 3 energy equals LTH's, from two report networks.

    Eq. 3 per network: E = D E_d + P E_l with D the spike-weighted work (``dynamic``) and P = work +
    idle (PE-cycles). Break-even r* = (D_u - D_l) / (P_l - P_u). Returns None when u-Ticket wins (or
    loses) at every ratio >= 0; otherwise u-Ticket saves energy for E_l / E_d above r* when it has
    fewer PE-cycles.
    """
    dl, du = net_lth["dynamic"], net_ut["dynamic"]
    pl, pu = net_lth["work"] + net_lth["idle"], net_ut["work"] + net_ut["idle"]
    if pl == pu:
        return None
    r = (du - dl) / (pl - pu)
    return r if r > 0 else None


def breakdown_frame(pair: Mapping[str, Path], energy: str = "bottom_up_32nm",
                    level: int | None = None) -> pd.DataFrame:
    """Fig. 8: PE energy components (pJ, covered layers) for LTH and u-Ticket; rows = components."""
    cols = {}
    base, cand = roles(pair)
    for m in (base, cand):
        br = hardware_report(pair[m], level, energy=energy)["network"]["energy_breakdown"]
        if br is None:
            raise ValueError(f"energy preset {energy!r} has no component split")
        cols[name(m)] = {k: br[k] for k in COMPONENTS}
    out = pd.DataFrame(cols)
    out.loc["total"] = out.sum()
    out["reduction %"] = [reduction(a, b) for a, b in zip(out[name(base)], out[name(cand)])]
    return out


def presets_frame() -> pd.DataFrame:
    """Every constant of every energy preset: value, unit, source (all are derived, none published)."""
    rows = []
    for preset, m in E.PRESETS.items():
        consts = {"E_d": m.e_dyn, "E_l": m.e_leak}
        if m.components is not None:
            consts.update(vars(m.components))
        for k, c in consts.items():
            rows.append({"preset": preset, "constant": k, "value": c.value, "unit": c.unit, "source": c.source})
        rows.append({"preset": preset, "constant": "E_l / E_d", "value": m.e_leak.value / m.e_dyn.value,
                     "unit": "1", "source": "derived"})
    return pd.DataFrame(rows).set_index(["preset", "constant"])


def constants_frame(rep: dict, keys: Iterable[str] | None = None) -> pd.DataFrame:
    """The constants a report used (value, unit, source), including the components if any."""
    c = rep["constants"]
    rows = []
    for k, v in c.items():
        if isinstance(v, dict) and "value" in v and (keys is None or k in keys):
            rows.append({"constant": k, **v})
        elif k == "components" and v and (keys is None or k in keys):
            rows += [{"constant": n, **x} for n, x in v.items()]
    return pd.DataFrame(rows).set_index("constant")


def preset_sensitivity(runs: Runs, level: int | None = None) -> pd.DataFrame:
    """u-Ticket's energy reduction vs LTH (%) per arch under every energy preset, with E_l / E_d."""
    rows = []
    for preset, m in E.PRESETS.items():
        row = {"preset": preset, "E_l / E_d": m.e_leak.value / m.e_dyn.value}
        for arch, pair in runs.items():
            e = [hardware_report(pair[k], level, energy=preset)["network"]["energy"] for k in roles(pair)]
            row[f"{ARCH_LABELS.get(arch, arch)} reduction %"] = reduction(*e)
        rows.append(row)
    return pd.DataFrame(rows).set_index("preset")


def pe_sweep(run: Path, level: int | None = None, n_pes: Iterable[int] = PAPER_N_PE, energy: str = "paper_calibrated",
             rebalance: bool = False) -> pd.DataFrame:
    """Table III from one level's mask (see ``pe_sweep_masks``); S = the level's spike sparsity."""
    level = level_of(run, level)
    c = config(run)
    return pe_sweep_masks(runstore.load_masks(run, level), layers(run), levels_frame(run).loc[level, "spike_sparsity"],
                          c.model.timesteps, n_pes, energy, rebalance, c.balance.reference, c.balance.seed)


def pe_sweep_masks(masks: Mapping[str, torch.Tensor], lays: list, spike_sparsity: float, timesteps: int = 4,
                   n_pes: Iterable[int] = PAPER_N_PE, energy: str = "paper_calibrated", rebalance: bool = False,
                   reference: str = "block", seed: int = 0) -> pd.DataFrame:
    """Table III from one mask: latency and energy at every n_PE, normalised to the first.

    rebalance=False: the mask as it is (u-Ticket masks were balanced for the run's n_PE).
    rebalance=True: for every n_PE, the mask is first balanced by ``pruning.balance`` for that n_PE
    (no retraining: an estimate of what a u-Ticket run per n_PE would give in cycles and energy).
    """
    cov = hardware.covered_layers(lays)
    opts = {"timesteps": timesteps, "energy": energy, "spike_sparsity": spike_sparsity}
    rows = []
    for n in n_pes:
        m = balancelib.balance(masks, n_pe=n, reference=reference, covered=cov, seed=seed) if rebalance else masks
        net = hardware.report(dict(m), lays, n_pe=n, memory=False, **opts)["network"]
        rows.append({"n_pe": n, "latency": net["latency"], "energy": net["energy"], "work": net["work"],
                     "idle": net["idle"], "utilization": net["utilization_params"],
                     "weight_sparsity": net["weight_sparsity"]})
    out = pd.DataFrame(rows).set_index("n_pe")
    ks = [l.out_channels for l in lays if l.name in set(cov)]
    out["padded_layers"] = [sum(k % n != 0 for k in ks) for n in out.index]
    out["latency_norm"] = out["latency"] / out["latency"].iloc[0]
    out["energy_norm"] = out["energy"] / out["energy"].iloc[0]
    return out


def halving_ratios(f: pd.DataFrame) -> pd.Series:
    """latency(n_k) / latency(n_{k-1}) along a sweep (0.5 per doubling = perfect scaling)."""
    return (f["latency"] / f["latency"].shift(1)).iloc[1:]


def memory_frame(run: Path, level: int | None = None) -> pd.DataFrame:
    """Fig. 9 per covered layer: weight bits dense vs WSP, spike bits dense vs CSR, DRAM / GLB words
    (sparse and dense) and DRAM / GLB / scratchpad / PE energy in pJ."""
    rows = []
    for r in hardware_report(run, level)["layers"]:
        if not r["covered"]:
            continue
        m = r["memory"]
        rows.append({"layer": r["name"].removesuffix(".weight"), "weights dense (kbit)": m["dense_bits"] / 1e3,
                     "weights WSP (kbit)": m["wsp_bits"] / 1e3,
                     "spikes in dense (kbit)": m["input_dense_bits"] / 1e3,
                     "spikes in CSR (kbit)": m["input_bits"] / 1e3,
                     "DRAM words": m["dram_words"], "DRAM words dense": m["dram_words_dense"],
                     "GLB words": m["glb_words"], "GLB words dense": m["glb_words_dense"],
                     "DRAM pJ": m["dram_pj"], "GLB pJ": m["glb_pj"], "spad pJ": m["spad_pj"],
                     "max filter (bit)": m["spad_max_filter_bits"], "fits spad": m["spad_fits"]})
    return pd.DataFrame(rows).set_index("layer")


def system_frame(runs: Runs, level: int | None = None) -> pd.DataFrame:
    """Fig. 9(b): system energy (pJ, covered layers) split into DRAM, GLB, scratchpad and PE array
    (PE with the bottom_up_32nm preset), its PE share, and u-Ticket's system-level saving."""
    rows = []
    for arch, pair in runs.items():
        tot = {}
        base, cand = roles(pair)
        for m in (base, cand):
            net = hardware_report(pair[m], level)["network"]
            s = net["memory"]
            tot[m] = s["total_pj"]
            rows.append({"arch": ARCH_LABELS.get(arch, arch), "method": name(m),
                         "weight sparsity": net["weight_sparsity"], "DRAM pJ": s["dram_pj"],
                         "GLB pJ": s["glb_pj"], "spad pJ": s["spad_pj"], "PE pJ": s["pe_pj"],
                         "total pJ": s["total_pj"], "PE share %": 100 * s["pe_share"],
                         "DRAM / dense": s["dram_norm"], "GLB / dense": s["glb_norm"],
                         "spad fits": s["spad_fits"], "overflowing filters": s["spad_overflow_filters"]})
        rows[-2]["system saving %"] = 0.0
        rows[-1]["system saving %"] = reduction(tot[base], tot[cand])
    return pd.DataFrame(rows).set_index(["arch", "method"])


def memory_vs_sparsity(run: Path) -> pd.DataFrame:
    """Fig. 9(a): per level, weight sparsity and DRAM / GLB words normalised to the dense network,
    and the PE share of system energy."""
    rows = []
    for lv in levels_frame(run).index:
        net = hardware_report(run, int(lv))["network"]
        s = net["memory"]
        rows.append({"level": int(lv), "weight sparsity": net["weight_sparsity"], "DRAM / dense": s["dram_norm"],
                     "GLB / dense": s["glb_norm"], "PE share %": 100 * s["pe_share"]})
    return pd.DataFrame(rows).set_index("level")


def reordering_frame(pair: Mapping[str, Path], level: int | None = None,
                     energy: str = "paper_calibrated") -> pd.DataFrame:
    """Schedules lth, lth + sorted, uticket, uticket + sorted (keys; ``labels.label`` for display):
    latency, idle, utilization, energy, weight sparsity and accuracy (reordering leaves the mask,
    hence the accuracy, unchanged), and the latency / energy reduction vs plain LTH."""
    rows = []
    for m in roles(pair):
        acc = levels_frame(pair[m]).loc[level_of(pair[m], level), "test_accuracy"]
        for order in (None, "sorted"):
            net = hardware_report(pair[m], level, energy=energy, reorder=order)["network"]
            rows.append({"schedule": m + (" + sorted" if order else ""), "latency": net["latency"],
                         "idle": net["idle"], "work": net["work"], "utilization": net["utilization_params"],
                         "energy": net["energy"], "weight sparsity": net["weight_sparsity"], "accuracy": acc})
    out = pd.DataFrame(rows).set_index("schedule")
    out["latency reduction %"] = [reduction(out["latency"].iloc[0], v) for v in out["latency"]]
    out["energy reduction %"] = [reduction(out["energy"].iloc[0], v) for v in out["energy"]]
    return out


def permutation_check(masks: Mapping[str, torch.Tensor], lays: list, n_pe: int = 16, timesteps: int = 4) -> dict:
    """The sorted schedule of every covered layer applied to its mask: non-zeros before and after the
    permutation, whether every order is a permutation of the filters, and the largest per-layer
    latency ratio sorted / identity."""
    cov = set(hardware.covered_layers(lays))
    sel = [l for l in lays if l.name in cov]
    res = hardware.reorder_layers(dict(masks), sel, n_pe=n_pe, order="sorted", timesteps=timesteps)
    nnz = nnz_p = 0
    is_perm, ratio = True, 0.0
    for l in sel:
        m, perm = masks[l.name], res[l.name]["perm"]
        is_perm &= bool(torch.equal(torch.sort(perm).values, torch.arange(m.shape[0])))
        nnz += int((m != 0).sum())
        nnz_p += int((m[perm] != 0).sum())
        lat = res[l.name]["identity"]["latency"]
        ratio = max(ratio, res[l.name]["reordered"]["latency"] / lat if lat else 1.0)
    return {"nnz": nnz, "nnz_permuted": nnz_p, "is_permutation": is_perm, "max_ratio": ratio}


def reordering_checks(runs: Runs, level: int | None = None) -> dict:
    """{arch: ``permutation_check``} over both masks of every pair (non-zeros summed, worst ratio)."""
    out = {}
    for arch, pair in runs.items():
        chks = []
        for run in pair.values():
            c = config(run)
            chks.append(permutation_check(runstore.load_masks(run, level_of(run, level)), layers(run),
                                          pe_count(run), c.model.timesteps))
        out[arch] = {"nnz": sum(c["nnz"] for c in chks), "nnz_permuted": sum(c["nnz_permuted"] for c in chks),
                     "is_permutation": all(c["is_permutation"] for c in chks),
                     "max_ratio": max(c["max_ratio"] for c in chks)}
    return out


def reorder_layers_frame(run: Path, level: int | None = None) -> pd.DataFrame:
    """Per covered layer: latency before / after the sorted order, and the ratio (never above 1)."""
    level = level_of(run, level)
    c = config(run)
    lays = [l for l in layers(run) if l.name in set(hardware.covered_layers(layers(run)))]
    res = hardware.reorder_layers(runstore.load_masks(run, level), lays, n_pe=pe_count(run), order="sorted",
                                  timesteps=c.model.timesteps)
    rows = [{"layer": n.removesuffix(".weight"), "latency": r["identity"]["latency"],
             "latency sorted": r["reordered"]["latency"],
             "ratio": r["reordered"]["latency"] / r["identity"]["latency"] if r["identity"]["latency"] else 1.0,
             "utilization": r["identity"]["utilization"], "utilization sorted": r["reordered"]["utilization"]}
            for n, r in res.items()]
    return pd.DataFrame(rows).set_index("layer")
