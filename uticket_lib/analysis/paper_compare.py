"""The paper's tables beside ours: Table I (accuracy, sparsities), Table II (cycles), Table III (PE
scaling), and the Fig. 7(a) calibration of Eq. 3's leakage ratio. Paper lookups go through
``paper.lookup`` and give ``paper.NOT_IN_PAPER`` (None in frames) for anything the paper lacks.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .. import hardware, paper
from ..hardware import energy as E
from .hwframes import _cycles_row, reduction
from .labels import ARCH_LABELS, DATASET_LABELS
from .labels import name as label_name
from .runs import Runs, dataset_of, final_rows, hardware_report, method_levels


# Dense weight counts (conv + linear .weight) of the two networks at width 1 with 3 input channels,
# as the reproduction notes give them for the released code (the paper gives none).
NOTES_WEIGHTS = {"vgg16": 14.7e6, "resnet19": 12.6e6}


NOTES_WEIGHTS_SOURCE = "reproduction notes (released code)"


# Network utilization of masks from untrained weights at the paper's scale (reproduction notes).
NOTES_UNTRAINED_UTILIZATION = 0.82


def table_i(pairs: Mapping[str, Mapping[str, Path]], dataset: str = "fmnist",
            methods=("lth", "uticket"), paper_dataset: str | None = None) -> pd.DataFrame:
    """Table I (final level: accuracy, weight sparsity, spike sparsity, all in %) with the paper's
    row for the same arch and method side by side.

    ``paper_dataset``: which of the paper's datasets to put next to ours (default: ``dataset``).
    Our accuracy is the final-epoch accuracy on the (held-out, possibly subset) test split.
    """
    ref = paper_dataset or dataset
    label = DATASET_LABELS.get(ref, ref)
    fin = final_rows(method_levels(pairs, methods))
    rows = []
    for (arch, method), r in fin.iterrows():
        p = paper.TABLE_I.get((arch, ref, method), {})
        sp = paper.spike_sparsity(arch, ref, method)
        rows.append({
            "arch": ARCH_LABELS.get(arch, arch), "method": label_name(method),
            "level": int(r["level"]),
            "accuracy %": 100 * r["test_accuracy"], f"paper ({label}) accuracy %": p.get("acc"),
            "weight sparsity %": 100 * r["sparsity"], f"paper ({label}) sparsity %": p.get("weight_sparsity"),
            "spike sparsity %": 100 * r["spike_sparsity"],
            f"paper ({label}) spike sparsity %": None if sp is None else 100 * sp,
        })
    return pd.DataFrame(rows).set_index(["arch", "method"]).round(1)


def utilization_table(frame: pd.DataFrame, dataset: str = "fmnist", paper_dataset: str | None = None
                      ) -> pd.DataFrame:
    """Final-level network utilization per (arch, method) of a ``method_levels(..., utilization=True)``
    frame, next to the paper's Table II utilization for the same arch, method and dataset."""
    ref = paper_dataset or dataset
    label = DATASET_LABELS.get(ref, ref)
    fin = final_rows(frame)
    rows = [{"arch": ARCH_LABELS.get(a, a), "method": label_name(m),
             "level": int(r["level"]), "weight sparsity": r["sparsity"], "utilization": r["utilization"],
             f"paper ({label}) utilization": paper.TABLE_II.get((a, ref, m), {}).get("utilization")}
            for (a, m), r in fin.iterrows()]
    return pd.DataFrame(rows).set_index(["arch", "method"]).round(3)


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
        rows.append({"arch": ARCH_LABELS[arch], "dataset": DATASET_LABELS[ds], "method": label_name(m),
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
            p = paper.lookup(paper.TABLE_II, (arch, pds, m)) or dict.fromkeys(("work", "idle", "latency", "utilization"))
            plth = paper.lookup(paper.TABLE_II, (arch, pds, "lth"))
            in_paper = p["work"] is not None and plth is not None
            rows.append({"arch": ARCH_LABELS.get(arch, arch), "method": label_name(m),
                         "work (1e6)": row["work"] / 1e6, "idle (1e6)": row["idle"] / 1e6,
                         "latency (1e6)": row["latency"] / 1e6, "utilization": row["utilization"],
                         "idle share": row["idle_share"],
                         "latency reduction %": reduction(base, row["latency"]),
                         f"paper work (1e8, {DATASET_LABELS[pds]})": p["work"],
                         "paper idle (1e8)": p["idle"], "paper latency (1e8)": p["latency"],
                         "paper utilization": p["utilization"],
                         "paper idle share": p["idle"] / (p["work"] + p["idle"]) if in_paper else None,
                         "paper latency reduction %": reduction(plth["work"] + plth["idle"],
                                                                p["work"] + p["idle"]) if in_paper else None})
    return pd.DataFrame(rows).set_index(["arch", "method"])


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


def paper_work_and_idle(dataset: str = "fmnist") -> pd.DataFrame:
    """Per arch, from the paper's Table II: u-Ticket's work change vs LTH (%), its latency reduction
    (from (work + idle) / 16) and the reduction that removing LTH's idle cycles alone would give at
    LTH's work (work / (work + idle)). Index: arch keys; archs the paper lacks are left out."""
    rows = []
    for arch in paper.ARCHS:
        lth = paper.lookup(paper.TABLE_II, (arch, dataset, "lth"))
        ut = paper.lookup(paper.TABLE_II, (arch, dataset, "uticket"))
        if lth is None or ut is None:
            continue
        total = lth["work"] + lth["idle"]
        rows.append({"arch": arch, "work change %": 100 * (ut["work"] / lth["work"] - 1),
                     "latency reduction %": reduction(total, ut["work"] + ut["idle"]),
                     "latency reduction from idle alone %": reduction(total, lth["work"])})
    return pd.DataFrame(rows).set_index("arch")


def level_points(dataset: str = "fmnist", archs=paper.ARCHS, methods=paper.METHODS) -> dict:
    """The paper's final-round values per (arch, method) in the units of ``runs.method_levels``
    (fractions): Table I accuracy, weight and spike sparsity, Table II utilization; for the level
    plots of chapters 2-4. A value the paper does not print (other dataset, garbled) is left out."""
    out = {}
    for a in archs:
        for m in methods:
            key = (a, dataset, m)
            acc = paper.lookup(paper.TABLE_I, key, "acc")
            ws = paper.lookup(paper.TABLE_I, key, "weight_sparsity")
            vals = {"test_accuracy": None if acc is None else acc / 100,
                    "sparsity": None if ws is None else ws / 100,
                    "spike_sparsity": paper.spike_sparsity(a, dataset, m, assumed=False),
                    "utilization": paper.lookup(paper.TABLE_II, key, "utilization")}
            vals = {k: v for k, v in vals.items() if v is not None}
            if vals:
                out[(a, m)] = vals
    return out


def fig7a_points(dataset: str = "fmnist", archs=paper.ARCHS) -> dict:
    """Per arch: (the paper's LTH weight sparsity %, Table I; its energy reduction %, Fig. 7(a)) for
    ``dataset``; archs the paper does not report are left out."""
    out = {}
    for a in archs:
        s = paper.lookup(paper.TABLE_I, (a, dataset, "lth"), "weight_sparsity")
        r = paper.FIG7A_ENERGY_REDUCTION.get((a, dataset))
        if s is not None and r is not None:
            out[a] = (s, r)
    return out
