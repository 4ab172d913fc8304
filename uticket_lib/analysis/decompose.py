"""Where a latency or energy reduction comes from: less work, or less waiting (chapter 5).

Definitions (block model of ``hardware.cycles``: per block, work + idle = n_PE x latency, so the
same holds per network). With W work cycles, I idle cycles and the cycle utilization
u = W / (W + I) (the share of PE cycles doing work; not the paper's Eq. 2 average):

    latency  L = (W + I) / n_PE = W / (n_PE u)
    L_uT / L_LTH = (W_uT / W_LTH) x (u_LTH / u_uT)              [exact]
                 = work ratio     x  utilization ratio^-1

Eq. 3 energy with E_d = 1 and E_l = r (the fitted leak ratio), S the spike sparsity:

    E = W (1 - S) + (W + I) r = W [(1 - S) + r / u]
    E_uT / E_LTH = (W_uT / W_LTH)                                            work part
                 x [(1 - S_LTH) + r / u_uT] / [(1 - S_LTH) + r / u_LTH]      utilization part
                 x [(1 - S_uT) + r / u_uT] / [(1 - S_LTH) + r / u_uT]        spike part   [exact]

A part's share of a reduction is its share of log(ratio) (log shares add up to 1 exactly).

The work ratio itself splits into how many weights each ticket keeps and where they sit
(ws = weight sparsity, the fraction of weights pruned, as in Table I):

    W_uT / W_LTH = (1 - ws_uT) / (1 - ws_LTH)   x   (W_uT / nnz_uT) / (W_LTH / nnz_LTH)
                 = surviving-weight ratio        x   cycles-per-weight ratio               [exact]

At 98 % sparsity a 0.3-point gap in weight sparsity is a 15 % gap in surviving weights.

Width: u-Ticket sets every filter of a block to ceil(mean load), so a block of n filters gains
n (ceil(m) - m) < n weights over the LTH ticket it balances: less than one weight per filter. A
filter keeps fan_in x (1 - sparsity) weights on average (VGG-16's second conv at 98 % sparsity:
11.5 at full width, 2.9 at width 0.25), so the relative work added by the ceiling grows as the
network narrows. ``ceil_work_increase`` computes it for a mask.
"""
from __future__ import annotations

import math
from typing import Mapping

import pandas as pd
import torch

from .. import hardware, models, paper
from .labels import ARCH_LABELS
from ..pruning import balance as balancelib


def utilization(work: float, idle: float) -> float:
    """Cycle utilization W / (W + I) (1.0 for an empty network)."""
    return work / (work + idle) if work + idle else 1.0


def _log_share(part: float, total: float) -> float:
    return math.log(part) / math.log(total) if total != 1.0 and part > 0 and total > 0 else float("nan")


def latency_parts(lth: Mapping[str, float], ut: Mapping[str, float]) -> dict:
    """Latency ratio of u-Ticket vs LTH as work ratio x (utilization ratio)^-1.

    ``lth``/``ut``: {"work", "idle"} in cycles (any common unit).
    """
    work_ratio = ut["work"] / lth["work"]
    u_l, u_u = utilization(lth["work"], lth["idle"]), utilization(ut["work"], ut["idle"])
    latency_ratio = (ut["work"] + ut["idle"]) / (lth["work"] + lth["idle"])
    util_part = u_l / u_u
    return {"latency_ratio": latency_ratio, "work_ratio": work_ratio, "utilization_lth": u_l,
            "utilization_uticket": u_u, "utilization_part": util_part,
            "latency_reduction_pct": 100.0 * (1.0 - latency_ratio),
            "work_share": _log_share(work_ratio, latency_ratio),
            "utilization_share": _log_share(util_part, latency_ratio)}


def energy_parts(lth: Mapping[str, float], ut: Mapping[str, float], leak_ratio: float) -> dict:
    """Eq. 3 energy ratio as work part x utilization part x spike part (module docstring).

    ``lth``/``ut``: {"work", "idle", "spike_sparsity" (0..1)}; ``leak_ratio`` = E_l / E_d.
    """
    r = leak_ratio
    u_l, u_u = utilization(lth["work"], lth["idle"]), utilization(ut["work"], ut["idle"])
    s_l, s_u = lth["spike_sparsity"], ut["spike_sparsity"]
    e = [x["work"] * (1 - x["spike_sparsity"]) + (x["work"] + x["idle"]) * r for x in (lth, ut)]
    ratio = e[1] / e[0]
    work = ut["work"] / lth["work"]
    util = ((1 - s_l) + r / u_u) / ((1 - s_l) + r / u_l)
    spike = ((1 - s_u) + r / u_u) / ((1 - s_l) + r / u_u)
    return {"energy_ratio": ratio, "energy_reduction_pct": 100.0 * (1.0 - ratio),
            "work_part": work, "utilization_part": util, "spike_part": spike,
            "work_share": _log_share(work, ratio), "utilization_share": _log_share(util, ratio),
            "spike_share": _log_share(spike, ratio)}


def work_parts(lth: Mapping[str, float], ut: Mapping[str, float]) -> dict:
    """Work ratio of u-Ticket vs LTH as surviving-weight ratio x cycles-per-weight ratio.

    ``lth``/``ut``: {"work", "weight_sparsity" (0..1)}. The weight sparsity may count weights the
    work does not (the paper's Table I counts every weight; its Table II's cycles cover the conv
    layers): then the second factor also absorbs that difference.
    """
    work = ut["work"] / lth["work"]
    weights = (1.0 - ut["weight_sparsity"]) / (1.0 - lth["weight_sparsity"])
    return {"work_ratio": work, "surviving_weight_ratio": weights,
            "cycles_per_weight_ratio": work / weights}


def _row(source: str, arch: str, lth: dict, ut: dict, leak_ratio: float) -> dict:
    lat, en = latency_parts(lth, ut), energy_parts(lth, ut, leak_ratio)
    wk = work_parts(lth, ut)
    return {"source": source, "arch": arch,
            "weight sparsity LTH %": 100 * lth["weight_sparsity"],
            "weight sparsity u-Ticket %": 100 * ut["weight_sparsity"],
            "work ratio": lat["work_ratio"],
            "surviving-weight ratio": wk["surviving_weight_ratio"],
            "cycles-per-weight ratio": wk["cycles_per_weight_ratio"],
            "cycle utilization LTH": lat["utilization_lth"],
            "cycle utilization u-Ticket": lat["utilization_uticket"],
            "latency reduction %": lat["latency_reduction_pct"],
            "latency: work share": lat["work_share"],
            "latency: utilization share": lat["utilization_share"],
            "energy reduction %": en["energy_reduction_pct"],
            "energy: work share": en["work_share"],
            "energy: utilization share": en["utilization_share"],
            "energy: spike share": en["spike_share"]}


def paper_rows(dataset: str, leak_ratio: float) -> list[dict]:
    """The decomposition of the paper's Table II (+ Table I spike and weight sparsity) rows for
    ``dataset``."""
    rows = []
    for arch in paper.ARCHS:
        lth, ut = ({**paper.cycles(arch, dataset, m), "spike_sparsity": paper.spike_sparsity(arch, dataset, m),
                    "weight_sparsity": paper.TABLE_I[(arch, dataset, m)]["weight_sparsity"] / 100}
                   for m in ("lth", "uticket"))
        rows.append(_row("paper", arch, lth, ut, leak_ratio))
    return rows


def frame(ours: Mapping[str, Mapping[str, dict]], dataset: str, leak_ratio: float) -> pd.DataFrame:
    """Ours beside the paper's. ``ours``: {arch: {"lth": net, "uticket": net}} with each ``net`` a
    {"work", "idle", "spike_sparsity", "weight_sparsity"} dict (``analysis.hardware_report(...)["network"]``)."""
    rows = [_row("this build", a, p["lth"], p["uticket"], leak_ratio) for a, p in ours.items()]
    rows += [r for r in paper_rows(dataset, leak_ratio) if r["arch"] in ours]
    return pd.DataFrame(rows).set_index(["arch", "source"]).sort_index()


# ----------------------------------------------------------------------------- width effect
def ceil_work_increase(masks: Mapping[str, torch.Tensor], layers: list, n_pe: int = 16,
                       timesteps: int = 4) -> dict:
    """Work (output-mode cycles) the u-Ticket ceiling adds to an LTH mask, over covered layers.

    Per block of n real filters with loads l_j: added weights = n ceil(mean l) - sum l (< n); each
    weight costs H_out W_out T cycles. Returns {"work", "added", "relative", "weights_per_filter"}.
    """
    by_name = {l.name: l for l in layers}
    work = added = nnz = filters = 0.0
    for name in hardware.covered_layers(layers):
        mask, layer = masks[name], by_name[name]
        loads = balancelib.filter_loads(mask).to(torch.int64)             # [K]
        targets = balancelib.block_targets(mask, n_pe)                    # [B]
        counts = torch.bincount(torch.arange(len(loads)) // n_pe)         # real filters per block
        per_weight = layer.positions * timesteps
        work += float(loads.sum()) * per_weight
        added += float((targets * counts).sum() - loads.sum()) * per_weight
        nnz += float(loads.sum())
        filters += len(loads)
    return {"work": work, "added": added, "relative": added / work if work else float("nan"),
            "weights_per_filter": nnz / filters if filters else float("nan")}


def width_effect(widths=(1.0, 0.5, 0.25), sparsity: float = 0.98, arch: str = "vgg16",
                 in_channels: int = 1, n_pe: int = 16, timesteps: int = 4, seed: int = 0) -> pd.DataFrame:
    """For synthetic tickets (``analysis.masks.synthetic_masks``) of ``arch`` at each width and
    ``sparsity``: weights per filter, LTH cycle utilization, and the work the ceiling adds."""
    from .masks import synthetic_masks  # chapter 5's synthetic ticket
    rows = []
    for w in widths:
        layers = hardware.trace(models.build(arch, in_channels=in_channels, width=w),
                                (1, in_channels, 32, 32))
        masks = synthetic_masks(layers, sparsity, seed)
        net = hardware.report(masks, layers, n_pe=n_pe, timesteps=timesteps, memory=False)["network"]
        inc = ceil_work_increase(masks, layers, n_pe, timesteps)
        rows.append({"width": w, "weights per filter": inc["weights_per_filter"],
                     "LTH cycle utilization": utilization(net["work"], net["idle"]),
                     "ceil adds work %": 100 * inc["relative"]})
    return pd.DataFrame(rows).set_index("width")


# ----------------------------------------------------------------------------- book sentences
def text(parts: pd.DataFrame, width: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Sentences for chapter 5 from ``frame`` (``parts``) and {arch: ``width_effect``} (``width``):
    ``latency`` (the reductions and their work / utilization shares, ours against the paper's),
    ``weights`` (what each u-Ticket ticket keeps relative to LTH), ``width`` (what narrowing the
    network does to LTH's utilization and to the ceiling's added work), ``balance`` (LTH's cycle
    utilization, ours against the paper's)."""
    def label(a):
        return ARCH_LABELS.get(a, a)

    def pair(arch, fmt):
        rows = {src: parts.loc[(arch, src)] for src in ("this build", "paper") if (arch, src) in parts.index}
        return "; ".join(f"{src} {fmt(r)}" for src, r in rows.items())

    archs = list(dict.fromkeys(parts.index.get_level_values("arch")))
    latency = [f"{label(a)}: " + pair(a, lambda r: f"{r['latency reduction %']:.1f} % (work share "
                                       f"{r['latency: work share']:.2f}, utilization share "
                                       f"{r['latency: utilization share']:.2f})") for a in archs]
    weights = [f"{label(a)}: " + pair(a, lambda r: f"{r['surviving-weight ratio']:.2f}x the weights "
                                       f"({r['weight sparsity u-Ticket %']:.1f} % against "
                                       f"{r['weight sparsity LTH %']:.1f} % sparsity), work ratio "
                                       f"{r['work ratio']:.2f}") for a in archs]
    widths = []
    for a, f in width.items():
        hi, lo = f.index.max(), f.index.min()
        widths.append(f"{label(a)}: LTH cycle utilization {f.loc[hi, 'LTH cycle utilization']:.2f} at width "
                      f"{hi:g} and {f.loc[lo, 'LTH cycle utilization']:.2f} at {lo:g}; the ceiling adds "
                      f"{f.loc[hi, 'ceil adds work %']:.1f} % and {f.loc[lo, 'ceil adds work %']:.1f} % work")
    balance = [f"{label(a)}: " + pair(a, lambda r: f"{r['cycle utilization LTH']:.2f}") for a in archs]
    return {"latency": ". ".join(latency), "weights": ". ".join(weights), "width": ". ".join(widths),
            "balance": ". ".join(balance)}
