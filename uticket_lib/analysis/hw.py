"""Tables, sweeps and claim checks of the hardware chapters (5 cycles, 6 energy, 7 PE scaling,
8 system, 10 reordering).

Everything here reads finished runs (``{method: run_dir}`` pairs from ``analysis.pair``) and the
accelerator model in ``uticket_lib.hardware``; nothing trains. Tables are pandas DataFrames, with the
paper's numbers (``uticket_lib.paper``) side by side where the paper has them. Absolute cycle counts
scale with network width and input size, so the comparisons with the paper are made on ratios
(utilization, idle share, reductions).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import torch

from .. import data as datalib
from .. import hardware, lottery, models, paper, profiles
from ..hardware import energy as E
from ..hardware.sweep import PAPER_N_PE
from ..pruning.balance import balance as balance_masks
from . import (ARCH_LABELS, DATASET_LABELS, Claim, claim, config, hardware_report, last_level,
               layers, levels_frame)
from . import METHOD_LABELS as LABELS

Runs = Mapping[str, Mapping[str, Path]]          # {arch: {"lth": dir, "uticket": dir}}
COMPONENTS = ("mac_dyn", "mem_dyn", "lif_dyn", "mac_leak", "lif_leak", "mem_leak")


def reduction(base: float, new: float) -> float:
    """Percent reduction of ``new`` relative to ``base`` (nan if base is 0)."""
    return 100.0 * (1.0 - new / base) if base else float("nan")


def dataset_of(runs: Runs) -> str:
    """The dataset of the runs (the first run's config)."""
    first = next(iter(next(iter(runs.values())).values()))
    return config(first).data.dataset


# ----------------------------------------------------------------------------- chapter 5: cycles
def synthetic_masks(layers: list, sparsity: float, seed: int = 0) -> dict:
    """Global magnitude pruning of fan-in-scaled random weights (w ~ N(0, 1/fan_in)) to ``sparsity``.

    Stands in for a trained ticket where only the scale of the counts matters (benchmarks, and the
    scale check of the cycle reconstruction).
    """
    g = torch.Generator().manual_seed(seed)
    mags = {l.name: torch.randn(l.weight_shape, generator=g).abs() / (l.n_weights / l.out_channels) ** 0.5
            for l in layers}
    flat = torch.cat([m.flatten() for m in mags.values()])
    keep = round((1 - sparsity) * flat.numel())
    threshold = torch.topk(flat, keep, sorted=False).values.min()
    return {n: (m >= threshold).float() for n, m in mags.items()}


def synthetic_paper_vgg(n_pe: int = 16, seed: int = 0) -> dict:
    """Output-mode network work of a full-width VGG-16 (3-channel 32x32 input) pruned by
    ``synthetic_masks`` to the paper profile's final sparsity: the scale check of the cycle model
    against the paper's Table II (whose VGG-16 CIFAR10 LTH work is ``paper.TABLE_II``)."""
    cfg = profiles.get("paper", "vgg16", "cifar10")
    sparsity = profiles.expected_sparsity(cfg)
    layers = hardware.trace(models.build("vgg16", in_channels=3, width=1.0), (1, 3, 32, 32))
    net = hardware.report(synthetic_masks(layers, sparsity, seed), layers, n_pe=n_pe,
                          timesteps=cfg.model.timesteps, memory=False)["network"]
    return {"sparsity": sparsity, "nnz": net["nnz"], "work": net["work"]}


def identity_error(rep: dict) -> float:
    """Largest relative deviation from work + idle = n_pe * latency over a report's layers and network."""
    n = rep["settings"]["n_pe"]
    rows = [r for r in rep["layers"] if r.get("latency") is not None] + [rep["network"]]
    return max(abs(r["work"] + r["idle"] - n * r["latency"]) / max(n * r["latency"], 1.0) for r in rows)


def idle_in_covered(rep: dict) -> float:
    """Idle cycles summed over the covered layers of a report."""
    return sum(r["idle"] for r in rep["layers"] if r["covered"])


def _cycles_row(net: dict) -> dict:
    total = net["work"] + net["idle"]
    return {"work": net["work"], "idle": net["idle"], "latency": net["latency"],
            "utilization": net["utilization_params"], "utilization_mean": net["utilization_mean"],
            "idle_share": net["idle"] / total if total else 0.0}


def paper_table_ii(dataset: str | None = None) -> pd.DataFrame:
    """The paper's Table II (units of 1e8 PE cycles) with idle share and the latency reduction.

    The latency reduction is computed from (work + idle) / 16 (more digits than the printed latency).
    """
    rows = []
    for (arch, ds, m), r in paper.TABLE_II.items():
        if dataset is not None and ds != dataset:
            continue
        lth = paper.TABLE_II[(arch, ds, "lth")]
        lat = lambda x: x["work"] + x["idle"]                                     # noqa: E731
        rows.append({"arch": ARCH_LABELS[arch], "dataset": DATASET_LABELS[ds], "method": LABELS[m],
                     **r, "(work+idle)/16": (r["work"] + r["idle"]) / 16,
                     "idle_share": r["idle"] / (r["work"] + r["idle"]),
                     "latency_reduction_pct": reduction(lat(lth), lat(r))})
    return pd.DataFrame(rows).set_index(["arch", "dataset", "method"])


def table_ii(runs: Runs, level: int | None = None, **options: Any) -> pd.DataFrame:
    """Table II for our runs (final level by default) beside the paper's row of the same arch/method.

    Ours: cycles in units of 1e6 (our networks are narrower and our dataset may differ); the paper:
    1e8 for the dataset of our runs if the paper has it, else CIFAR10. Ratios (utilization = Eq. 2
    parameter-weighted, idle share, latency reduction) are comparable, absolute cycles are not.
    """
    ds = dataset_of(runs)
    pds = ds if ds in paper.DATASETS else "cifar10"
    rows = []
    for arch, pair in runs.items():
        base = None
        for m in ("lth", "uticket"):
            net = hardware_report(pair[m], level, **options)["network"]
            row = _cycles_row(net)
            base = row["latency"] if m == "lth" else base
            p = paper.TABLE_II[(arch, pds, m)]
            plth = paper.TABLE_II[(arch, pds, "lth")]
            rows.append({"arch": ARCH_LABELS.get(arch, arch), "method": LABELS[m],
                         "work (1e6)": row["work"] / 1e6, "idle (1e6)": row["idle"] / 1e6,
                         "latency (1e6)": row["latency"] / 1e6, "utilization": row["utilization"],
                         "idle share": row["idle_share"],
                         "latency reduction %": reduction(base, row["latency"]),
                         f"paper work (1e8, {DATASET_LABELS[pds]})": p["work"],
                         "paper idle (1e8)": p["idle"], "paper latency (1e8)": p["latency"],
                         "paper utilization": p["utilization"],
                         "paper idle share": p["idle"] / (p["work"] + p["idle"]),
                         "paper latency reduction %": reduction(plth["work"] + plth["idle"],
                                                                p["work"] + p["idle"])})
    return pd.DataFrame(rows).set_index(["arch", "method"])


def latency_reduction(pair: Mapping[str, Path], level: int | None = None, **options: Any) -> float:
    """Percent latency reduction of u-Ticket vs LTH (final levels, 16 PEs unless ``n_pe`` given)."""
    lat = [hardware_report(pair[m], level, **options)["network"]["latency"] for m in ("lth", "uticket")]
    return reduction(*lat)


def layer_frame(pair: Mapping[str, Path], level: int | None = None, **options: Any) -> pd.DataFrame:
    """Fig. 6: per covered layer and method, work, idle, latency (cycles) and utilization."""
    rows = []
    for m in ("lth", "uticket"):
        for i, r in enumerate(l for l in hardware_report(pair[m], level, **options)["layers"] if l["covered"]):
            rows.append({"layer": r["name"].removesuffix(".weight"), "index": i, "method": m,
                         "work": r["work"], "idle": r["idle"], "latency": r["latency"],
                         "utilization": r["utilization"], "nnz": r["nnz"],
                         "weight_sparsity": r["weight_sparsity"]})
    return pd.DataFrame(rows)


def test_images(run: Path, n: int = 8) -> torch.Tensor:
    """The first ``n`` images of a seeded subset of the run's test set, [n, C, 32, 32]."""
    c = config(run)
    ds = datalib.dataset(c.data.dataset, train=False, root=c.data.root, augment=False,
                         subset=n, subset_seed=c.data.subset_seed)
    return torch.stack([ds[i][0] for i in range(min(n, len(ds)))])


def record(run: Path, level: int | None = None, n_images: int = 8) -> dict:
    """Input spike patterns of every layer of a level's trained network on ``n_images`` test images."""
    level = last_level(run) if level is None else level
    return hardware.record_inputs(lottery.load_model(run, level), test_images(run, n_images),
                                  config(run).model.timesteps)


def event_report(run: Path, level: int | None = None, mode: str = "events", inputs: dict | None = None,
                 n_images: int = 8, **options: Any) -> dict:
    """``hardware.report`` of a level in an event mode, from spikes recorded on a few test images."""
    level = last_level(run) if level is None else level
    inputs = record(run, level, n_images) if inputs is None else inputs
    return hardware.report(lottery.load_masks(run, level), layers(run), mode=mode, inputs=inputs,
                           timesteps=config(run).model.timesteps, memory=False, **options)


def cycle_modes(pair: Mapping[str, Path], level: int | None = None, n_images: int = 8,
                modes: Iterable[str] = hardware.MODES) -> pd.DataFrame:
    """Network cycles of LTH and u-Ticket in every cycle mode (event modes: per image, mean of
    ``n_images`` test images), with the latency reduction of u-Ticket in each mode.

    "output"/"valid" use the level's measured spike sparsity in energy; the event modes count the
    spike-matched cycles directly.
    """
    rec = {m: None for m in ("lth", "uticket")}
    rows = []
    for mode in modes:
        lat = {}
        for m in ("lth", "uticket"):
            if mode in ("events", "ticks"):
                if rec[m] is None:
                    rec[m] = record(pair[m], level, n_images)
                net = event_report(pair[m], level, mode, rec[m])["network"]
            else:
                net = hardware_report(pair[m], level, mode=mode)["network"]
            lat[m] = net["latency"]
            rows.append({"mode": mode, "method": LABELS[m], **_cycles_row(net)})
        rows[-2]["latency reduction %"] = 0.0
        rows[-1]["latency reduction %"] = reduction(lat["lth"], lat["uticket"])
    return pd.DataFrame(rows).set_index(["mode", "method"])


def claims_cycles(runs: Runs, level: int | None = None) -> list[Claim]:
    """Chapter 5's checks on the final levels: zero idle in covered layers, the cycle identity,
    utilization 1 and a latency reduction for u-Ticket."""
    out = []
    for arch, pair in runs.items():
        a = ARCH_LABELS.get(arch, arch)
        ut, lth = (hardware_report(pair[m], level) for m in ("uticket", "lth"))
        out.append(claim(f"{a}: u-Ticket has zero idle cycles in the covered layers", idle_in_covered(ut),
                         idle_in_covered(ut) == 0, "Table II", "{:.0f}"))
        err = max(identity_error(ut), identity_error(lth))
        out.append(claim(f"{a}: Latency = (Work + Idle) / n_PE in every layer (rel. error < 1e-9)", err,
                         err < 1e-9, "Table II (all rows)", "{:.1e}"))
        mu = ut["network"]["utilization_params"]
        out.append(claim(f"{a}: u-Ticket utilization = 1.00", mu, abs(mu - 1) < 5e-3, "Table II"))
        red = latency_reduction(pair, level)
        out.append(claim(f"{a}: u-Ticket latency reduction vs LTH > 0 %", f"{red:.1f} %", red > 0,
                         f"Table II, abstract (up to {paper.TEXT['max_latency_reduction_pct'][0]} %)"))
    return out


# ----------------------------------------------------------------------------- chapter 6: energy
def paper_pairs() -> list[tuple[str, str, dict, dict, float]]:
    """(arch, dataset, LTH row, u-Ticket row, Fig. 7(a) reduction %) for the paper's six cases.

    Rows: Table II work / idle (PE cycles) and Table I spike sparsity (0..1; ResNet-19 CIFAR10 from
    ``paper.ASSUMED``)."""
    out = []
    for (arch, ds), red in paper.FIG7A_ENERGY_REDUCTION.items():
        rows = [{**paper.cycles(arch, ds, m), "spike_sparsity": paper.spike_sparsity(arch, ds, m)}
                for m in ("lth", "uticket")]
        out.append((arch, ds, rows[0], rows[1], red))
    return out


def fitted_ratio() -> float:
    """E_l / E_d fitted to the paper's six Fig. 7(a) reductions (``hardware.fit_leak_ratio``)."""
    return hardware.fit_leak_ratio([(l, u, r) for _, _, l, u, r in paper_pairs()])


def calibration_frame(ratio: float | None = None) -> pd.DataFrame:
    """Per paper case: Fig. 7(a)'s reduction and Eq. 3's prediction from Tables I-II with ``ratio``
    (default: the fitted one) and with the bottom-up 32 nm preset's E_l / E_d."""
    r = fitted_ratio() if ratio is None else ratio
    b = E.preset("bottom_up_32nm")
    rb = b.e_leak.value / b.e_dyn.value
    rows = []
    for arch, ds, l, u, red in paper_pairs():
        p = E.predicted_reduction(l, u, r)
        rows.append({"arch": ARCH_LABELS[arch], "dataset": DATASET_LABELS[ds], "paper %": red,
                     "predicted % (fit)": p, "difference (pp)": p - red,
                     "predicted % (bottom_up_32nm)": E.predicted_reduction(l, u, rb),
                     "spike sparsity LTH": l["spike_sparsity"], "spike sparsity u-Ticket": u["spike_sparsity"]})
    return pd.DataFrame(rows).set_index(["arch", "dataset"])


def energy_frame(runs: Runs, energy: str = "paper_calibrated", level: int | None = None) -> pd.DataFrame:
    """Fig. 7(a): Eq. 3 energy of LTH and u-Ticket per arch (final levels) and the reduction,
    beside the paper's reduction for the same dataset (CIFAR10 if the paper lacks ours)."""
    ds = dataset_of(runs)
    pds = ds if ds in paper.DATASETS else "cifar10"
    rows = []
    for arch, pair in runs.items():
        nets = {m: hardware_report(pair[m], level, energy=energy)["network"] for m in ("lth", "uticket")}
        rows.append({"arch": ARCH_LABELS.get(arch, arch), "unit": nets["lth"]["energy_unit"],
                     "energy LTH": nets["lth"]["energy"], "energy u-Ticket": nets["uticket"]["energy"],
                     "spike sparsity LTH": nets["lth"]["spike_sparsity"],
                     "spike sparsity u-Ticket": nets["uticket"]["spike_sparsity"],
                     "reduction %": reduction(nets["lth"]["energy"], nets["uticket"]["energy"]),
                     f"paper reduction % ({DATASET_LABELS[pds]})": paper.FIG7A_ENERGY_REDUCTION[(arch, pds)]})
    return pd.DataFrame(rows).set_index("arch")


def energy_vs_sparsity(pair: Mapping[str, Path], energy: str = "paper_calibrated") -> pd.DataFrame:
    """Fig. 7(b): per pruning level, weight sparsity and Eq. 3 energy of both methods, the reduction
    and LTH's utilization (level 0, the shared dense network, has reduction 0 by construction)."""
    f = {m: levels_frame(pair[m]).index for m in ("lth", "uticket")}
    rows = []
    for lv in sorted(set(f["lth"]) & set(f["uticket"])):
        n = {m: hardware_report(pair[m], int(lv), energy=energy)["network"] for m in ("lth", "uticket")}
        rows.append({"level": int(lv), "sparsity LTH": n["lth"]["weight_sparsity"],
                     "sparsity u-Ticket": n["uticket"]["weight_sparsity"],
                     "energy LTH": n["lth"]["energy"], "energy u-Ticket": n["uticket"]["energy"],
                     "utilization LTH": n["lth"]["utilization_params"],
                     "reduction %": reduction(n["lth"]["energy"], n["uticket"]["energy"])})
    return pd.DataFrame(rows).set_index("level")


def breakdown_frame(pair: Mapping[str, Path], energy: str = "bottom_up_32nm",
                    level: int | None = None) -> pd.DataFrame:
    """Fig. 8: PE energy components (pJ, covered layers) for LTH and u-Ticket; rows = components."""
    cols = {}
    for m in ("lth", "uticket"):
        br = hardware_report(pair[m], level, energy=energy)["network"]["energy_breakdown"]
        if br is None:
            raise ValueError(f"energy preset {energy!r} has no component split")
        cols[LABELS[m]] = {k: br[k] for k in COMPONENTS}
    out = pd.DataFrame(cols)
    out.loc["total"] = out.sum()
    out["reduction %"] = [reduction(a, b) for a, b in zip(out["LTH"], out["u-Ticket"])]
    return out


def presets_frame() -> pd.DataFrame:
    """Every constant of every energy preset: value, unit, source (all are derived, none published)."""
    rows = []
    for name, m in E.PRESETS.items():
        consts = {"E_d": m.e_dyn, "E_l": m.e_leak}
        if m.components is not None:
            consts.update(vars(m.components))
        for k, c in consts.items():
            rows.append({"preset": name, "constant": k, "value": c.value, "unit": c.unit, "source": c.source})
        rows.append({"preset": name, "constant": "E_l / E_d", "value": m.e_leak.value / m.e_dyn.value,
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
    for name, m in E.PRESETS.items():
        row = {"preset": name, "E_l / E_d": m.e_leak.value / m.e_dyn.value}
        for arch, pair in runs.items():
            e = [hardware_report(pair[k], level, energy=name)["network"]["energy"] for k in ("lth", "uticket")]
            row[f"{ARCH_LABELS.get(arch, arch)} reduction %"] = reduction(*e)
        rows.append(row)
    return pd.DataFrame(rows).set_index("preset")


def claims_energy(runs: Runs, energy: str = "paper_calibrated", level: int | None = None) -> list[Claim]:
    """Chapter 6's checks: the calibration reproduces Fig. 7(a), u-Ticket saves energy under every
    preset, the saving grows with sparsity, idle leakage falls in the breakdown."""
    cal = calibration_frame()
    worst = cal["difference (pp)"].abs().max()
    out = [claim("Eq. 3 with the fitted E_l/E_d reproduces the six Fig. 7(a) reductions within 0.5 pp",
                 f"{worst:.2f} pp (r = {fitted_ratio():.4f})", worst < 0.5, "Fig. 7(a), Tables I-II")]
    for arch, pair in runs.items():
        a = ARCH_LABELS.get(arch, arch)
        ef = energy_frame({arch: pair}, energy, level)
        red = float(ef["reduction %"].iloc[0])
        out.append(claim(f"{a}: energy reduction of u-Ticket vs LTH > 0 ({energy})", f"{red:.1f} %", red > 0,
                         "Fig. 7(a)"))
        sens = preset_sensitivity({arch: pair}, level).iloc[:, -1]
        out.append(claim(f"{a}: energy reduction > 0 under every preset", ", ".join(f"{v:.1f}" for v in sens),
                         bool((sens > 0).all()), "Fig. 7(a) (presets are ours)"))
        vs = energy_vs_sparsity(pair, energy)["reduction %"]
        out.append(claim(f"{a}: energy reduction at the final level >= at the first pruned level",
                         f"{vs.iloc[min(1, len(vs) - 1)]:.1f} % -> {vs.iloc[-1]:.1f} %",
                         vs.iloc[-1] >= vs.iloc[min(1, len(vs) - 1)], "Fig. 7(b)"))
        br = breakdown_frame(pair, level=level)
        leak = br.loc[["mac_leak", "lif_leak"], "reduction %"]
        out.append(claim(f"{a}: MAC and LIF leakage fall with u-Ticket", ", ".join(f"{v:.1f} %" for v in leak),
                         bool((leak > 0).all()), "Fig. 8"))
    return out


# ----------------------------------------------------------------------------- chapter 7: PE count
def pe_sweep(run: Path, level: int | None = None, n_pes: Iterable[int] = PAPER_N_PE, energy: str = "paper_calibrated", rebalance: bool = False) -> pd.DataFrame:
    """Table III from one mask: latency and energy at every n_PE, normalised to the first.

    rebalance=False: the level's mask as it is (u-Ticket masks were balanced for the run's n_PE).
    rebalance=True: for every n_PE, the mask is first balanced by ``pruning.balance`` for that n_PE
    (no retraining: an estimate of what a u-Ticket run per n_PE would give in cycles and energy).
    """
    level = last_level(run) if level is None else level
    masks, lays = lottery.load_masks(run, level), layers(run)
    c = config(run)
    S = levels_frame(run).loc[level, "spike_sparsity"]
    cov = hardware.covered_layers(lays)
    opts = {"timesteps": c.model.timesteps, "energy": energy, "spike_sparsity": S}
    if not rebalance:
        sw = hardware.sweep(masks, lays, tuple(n_pes), **opts)
        out = pd.DataFrame({k: sw[k] for k in ("latency", "energy", "work", "idle", "utilization")},
                           index=pd.Index(sw["n_pe"], name="n_pe"))
        out["weight_sparsity"] = lottery_sparsity(masks)
    else:
        rows = []
        for n in n_pes:
            m = balance_masks(masks, n_pe=n, reference=c.balance.reference, covered=cov, seed=c.balance.seed)
            net = hardware.report(m, lays, n_pe=n, memory=False, **opts)["network"]
            rows.append({"n_pe": n, "latency": net["latency"], "energy": net["energy"], "work": net["work"],
                         "idle": net["idle"], "utilization": net["utilization_params"],
                         "weight_sparsity": net["weight_sparsity"]})
        out = pd.DataFrame(rows).set_index("n_pe")
    ks = [l.out_channels for l in lays if l.name in set(cov)]
    out["padded_layers"] = [sum(k % n != 0 for k in ks) for n in out.index]
    out["latency_norm"] = out["latency"] / out["latency"].iloc[0]
    out["energy_norm"] = out["energy"] / out["energy"].iloc[0]
    return out


def lottery_sparsity(masks: Mapping[str, torch.Tensor]) -> float:
    """Weight sparsity of a mask dict (all prunable layers)."""
    n = sum(m.numel() for m in masks.values())
    return 1.0 - sum(float(m.sum()) for m in masks.values()) / n


PAPER_TABLE_III_ARCH = "vgg16"   # Table III sweeps u-Ticket VGG-16 (CIFAR10) only


def table_iii(sweeps: Mapping[str, pd.DataFrame], with_paper: bool = True) -> pd.DataFrame:
    """Normalised latency and energy of several sweeps beside the paper's Table III (rows: n_PE).

    ``with_paper=False`` leaves out the paper's columns: Table III is VGG-16's sweep, so it belongs
    beside a VGG-16 sweep only (see ``PAPER_TABLE_III_ARCH``)."""
    cols = {}
    for name, f in sweeps.items():
        cols[f"latency {name}"] = f["latency_norm"]
        cols[f"energy {name}"] = f["energy_norm"]
    out = pd.DataFrame(cols)
    if with_paper:
        ref = dict(zip(paper.TABLE_III["n_pe"], zip(paper.TABLE_III["latency"], paper.TABLE_III["energy"])))
        out["latency paper"] = [ref.get(n, (math.nan, math.nan))[0] for n in out.index]
        out["energy paper"] = [ref.get(n, (math.nan, math.nan))[1] for n in out.index]
    out["ideal latency 2/n"] = [out.index[0] / n for n in out.index]
    return out


def halving_ratios(f: pd.DataFrame) -> pd.Series:
    """latency(n_k) / latency(n_{k-1}) along a sweep (0.5 per doubling = perfect scaling)."""
    return (f["latency"] / f["latency"].shift(1)).iloc[1:]


def claims_pe(sweeps: Mapping[str, pd.DataFrame], unbalanced: str, balanced: str,
              label: str = "") -> list[Claim]:
    """Chapter 7's checks: latency roughly halves per doubling (balanced masks), energy stays within
    +-10 % of the 2-PE value, and imbalance makes scaling sub-linear for the unbalanced mask.
    ``label`` (e.g. the architecture) prefixes every statement."""
    out = []
    f = sweeps[balanced]
    full = f[f["padded_layers"] == 0] if "padded_layers" in f else f
    for rows, what in ((full, "where every covered layer fills its blocks"), (f, "over the whole sweep")):
        h = halving_ratios(rows)
        ok = len(h) > 0 and bool(((h >= 0.45) & (h <= 0.6)).all())
        out.append(claim(f"{balanced}: latency roughly halves per doubling of n_PE {what} (ratios in [0.45, 0.6])",
                         ", ".join(f"{v:.2f}" for v in h) or "no such n_PE pair", ok, "Table III"))
    for rows, what in ((full, "where every covered layer fills its blocks"), (f, "over the whole sweep")):
        e = rows["energy_norm"]
        out.append(claim(f"{balanced}: normalised energy within [0.9, 1.1] {what}",
                         f"{e.min():.2f} .. {e.max():.2f}", bool(((e >= 0.9) & (e <= 1.1)).all()), "Table III"))
    lu, lb = sweeps[unbalanced]["latency_norm"].iloc[-1], sweeps[balanced]["latency_norm"].iloc[-1]
    out.append(claim(f"latency at the largest n_PE, normalised: {balanced} <= {unbalanced}",
                     f"{lb:.3f} vs {lu:.3f}", lb <= lu + 1e-12, "Table III (LTH not in the paper)"))
    if label:
        out = [Claim(f"{label}: {c.statement}", c.measured, c.passed, c.source) for c in out]
    return out


# ----------------------------------------------------------------------------- chapter 8: system
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
        for m in ("lth", "uticket"):
            net = hardware_report(pair[m], level)["network"]
            s = net["memory"]
            tot[m] = s["total_pj"]
            rows.append({"arch": ARCH_LABELS.get(arch, arch), "method": LABELS[m],
                         "weight sparsity": net["weight_sparsity"], "DRAM pJ": s["dram_pj"],
                         "GLB pJ": s["glb_pj"], "spad pJ": s["spad_pj"], "PE pJ": s["pe_pj"],
                         "total pJ": s["total_pj"], "PE share %": 100 * s["pe_share"],
                         "DRAM / dense": s["dram_norm"], "GLB / dense": s["glb_norm"],
                         "spad fits": s["spad_fits"], "overflowing filters": s["spad_overflow_filters"]})
        rows[-2]["system saving %"] = 0.0
        rows[-1]["system saving %"] = reduction(tot["lth"], tot["uticket"])
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


def claims_system(runs: Runs, level: int | None = None) -> list[Claim]:
    """Chapter 8's checks: sparse traffic below dense, WSP filters fit the scratchpad, PE share of the
    LTH system energy in [30, 60] %, u-Ticket saves system energy."""
    sf = system_frame(runs, level)
    out = []
    for arch in runs:
        a = ARCH_LABELS.get(arch, arch)
        lth, ut = sf.loc[(a, "LTH")], sf.loc[(a, "u-Ticket")]
        out.append(claim(f"{a}: DRAM traffic of the pruned LTH network below dense", lth["DRAM / dense"],
                         lth["DRAM / dense"] < 1, "Fig. 9(a)"))
        out.append(claim(f"{a}: every WSP filter fits the 1024 x 16-bit scratchpad", int(lth["overflowing filters"]),
                         bool(lth["spad fits"] and ut["spad fits"]), "Sec. III-B1", "{}"))
        out.append(claim(f"{a}: PE share of LTH system energy in [30 %, 60 %]", f"{lth['PE share %']:.1f} %",
                         30 <= lth["PE share %"] <= 60, "Fig. 9(b) (~45 % at 95 % sparsity)"))
        out.append(claim(f"{a}: u-Ticket saves system energy (> 0 %)", f"{ut['system saving %']:.1f} %",
                         ut["system saving %"] > 0, "Fig. 9(b) (~19 %)"))
    return out


# ----------------------------------------------------------------------------- chapter 10: reordering
def reordering_frame(pair: Mapping[str, Path], level: int | None = None,
                     energy: str = "paper_calibrated") -> pd.DataFrame:
    """LTH, LTH + sorted filter order, u-Ticket, u-Ticket + sorted: latency, idle, utilization,
    energy, weight sparsity and accuracy (reordering leaves the mask, hence the accuracy, unchanged),
    and the latency / energy reduction vs plain LTH."""
    rows = []
    for m in ("lth", "uticket"):
        acc = levels_frame(pair[m]).loc[last_level(pair[m]) if level is None else level, "test_accuracy"]
        for order in (None, "sorted"):
            net = hardware_report(pair[m], level, energy=energy, reorder=order)["network"]
            rows.append({"schedule": LABELS[m] + (" + sorted" if order else ""), "latency": net["latency"],
                         "idle": net["idle"], "work": net["work"], "utilization": net["utilization_params"],
                         "energy": net["energy"], "weight sparsity": net["weight_sparsity"], "accuracy": acc})
    out = pd.DataFrame(rows).set_index("schedule")
    out["latency reduction %"] = [reduction(out["latency"].iloc[0], v) for v in out["latency"]]
    out["energy reduction %"] = [reduction(out["energy"].iloc[0], v) for v in out["energy"]]
    return out


def reorder_layers_frame(run: Path, level: int | None = None) -> pd.DataFrame:
    """Per covered layer: latency before / after the sorted order, and the ratio (never above 1)."""
    level = last_level(run) if level is None else level
    c = config(run)
    lays = [l for l in layers(run) if l.name in set(hardware.covered_layers(layers(run)))]
    res = hardware.reorder_layers(lottery.load_masks(run, level), lays, n_pe=c.balance.n_pe, order="sorted",
                                  timesteps=c.model.timesteps)
    rows = [{"layer": n.removesuffix(".weight"), "latency": r["identity"]["latency"],
             "latency sorted": r["reordered"]["latency"],
             "ratio": r["reordered"]["latency"] / r["identity"]["latency"] if r["identity"]["latency"] else 1.0,
             "utilization": r["identity"]["utilization"], "utilization sorted": r["reordered"]["utilization"]}
            for n, r in res.items()]
    return pd.DataFrame(rows).set_index("layer")


def claims_reordering(runs: Runs, level: int | None = None) -> list[Claim]:
    """Chapter 10's checks: reordering never increases a layer's latency, keeps the mask, helps LTH,
    and adds little to u-Ticket (whose blocks are already equal)."""
    out = []
    for arch, pair in runs.items():
        a = ARCH_LABELS.get(arch, arch)
        worst = max(reorder_layers_frame(pair[m], level)["ratio"].max() for m in ("lth", "uticket"))
        out.append(claim(f"{a}: sorted reordering never increases a layer's latency (max ratio <= 1)",
                         worst, worst <= 1 + 1e-12, "ours (proof in hardware.reorder)"))
        f = reordering_frame(pair, level)
        out.append(claim(f"{a}: reordering keeps the weight sparsity (mask unchanged)",
                         f"{f['weight sparsity'].iloc[0]:.4f} = {f['weight sparsity'].iloc[1]:.4f}",
                         f["weight sparsity"].iloc[0] == f["weight sparsity"].iloc[1], "ours"))
        red = f.loc["LTH + sorted", "latency reduction %"]
        out.append(claim(f"{a}: reordering alone reduces LTH latency (> 0 %)", f"{red:.1f} %", red > 0, "ours"))
        gain = reduction(f.loc["u-Ticket", "latency"], f.loc["u-Ticket + sorted", "latency"])
        out.append(claim(f"{a}: reordering adds < 1 % on top of u-Ticket", f"{gain:.2f} %", gain < 1, "ours"))
    return out
