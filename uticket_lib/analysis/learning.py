"""Tables and toy examples for the learning chapters (1-4) and the paper-vs-code chapter (9).

Every function returns plain data (pandas DataFrames, dicts, tensors) that a notebook shows or
passes to ``plotting.learning``. Nothing here trains except ``switch_runs`` (chapter 9's extra
runs), which goes through ``lottery.run`` and its run cache like every other run.

Chapter map:
  1  ``toy_current``, ``lif_reference``, ``lif_simulate``, ``lif_table``, ``surrogate_frame``,
     ``layer_table``, ``param_counts``
  2  ``method_levels``, ``final_rows``, ``table_i``
  3  ``toy_masks``, ``toy_workload``, ``pe_loads_frame``, ``random_masks``, ``magnitude_masks``,
     ``mask_utilization``, ``mask_origins``, ``origin_layers``
  4  ``walkthrough_layer``, ``balance_walkthrough``, ``covered_layer_utilization``, ``balance_cost``
  9  ``SWITCHES``, ``switch_configs``, ``switch_runs``, ``switch_levels``, ``switch_table``
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import torch

from .. import hardware, io, lottery, models, paper, paths, profiles
from ..config import RunConfig
from ..models import neurons
from ..pruning import balance as balancelib
from ..pruning import mask as masklib
from . import config as run_config
from . import (ARCH_LABELS, DATASET_LABELS, METHOD_LABELS, hardware_report, last_level, layers,
               levels_frame)

# Dense weight counts (conv + linear .weight) of the two networks at width 1 with 3 input channels,
# as the reproduction notes give them for the released code (the paper gives none).
NOTES_WEIGHTS = {"vgg16": 14.7e6, "resnet19": 12.6e6}
NOTES_WEIGHTS_SOURCE = "reproduction notes (released code)"
# Network utilization of masks from untrained weights at the paper's scale (reproduction notes).
NOTES_UNTRAINED_UTILIZATION = 0.82



# ============================================================================ chapter 1: neurons
def toy_current(steps: int = 16) -> torch.Tensor:
    """A piecewise-constant input current [steps] that shows the LIF regimes.

    Quarter by quarter: 0.5 (sub-threshold: the potential saturates at 0.5 and never fires), 1.2
    (fires every other step), 2.0 (fires every step), 0 (silence, the potential stays at 0).
    No value lands exactly on the threshold, so spikes do not depend on float rounding.
    """
    q = max(1, steps // 4)
    levels = [0.5, 1.2, 2.0, 0.0]
    values = [levels[min(i // q, 3)] for i in range(steps)]
    return torch.tensor(values, dtype=torch.float32)


def lif_reference(current, tau: float = neurons.TAU, v_th: float = neurons.V_THRESHOLD,
                  v_reset: float = neurons.V_RESET) -> pd.DataFrame:
    """The LIF recursion computed by hand in Python floats, one row per timestep.

    charge h[t] = v[t-1] + (x[t] - v[t-1]) / tau = (1 - 1/tau) v[t-1] + x[t] / tau;
    spike s[t] = [h[t] >= v_th]; membrane after reset v[t] = h[t] (1 - s[t]) + v_reset s[t].
    """
    v, rows = 0.0, []
    for t, x in enumerate(float(c) for c in current):
        h = v + (x - v) / tau
        s = 1.0 if h >= v_th else 0.0
        v = h * (1 - s) + v_reset * s
        rows.append({"t": t, "input": x, "charge": h, "spike": s, "membrane": v})
    return pd.DataFrame(rows).set_index("t")


def lif_simulate(current) -> pd.DataFrame:
    """The library's neuron (``models.neurons.lif()``) fed one timestep at a time.

    Returns per timestep the input, the spike and the membrane potential after the reset (the state
    the neuron carries to the next step).
    """
    x = torch.as_tensor(current, dtype=torch.float32).reshape(-1, 1, 1)   # [T, N=1, 1]
    node = neurons.lif()
    neurons.reset(node)
    rows = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            s = node(x[t:t + 1])                                          # [1, 1, 1]
            v = node.v if torch.is_tensor(node.v) else torch.tensor(float(node.v))
            rows.append({"t": t, "input": float(x[t]), "spike": float(s.reshape(-1)[0]),
                         "membrane": float(v.reshape(-1)[0]) + 0.0})
    return pd.DataFrame(rows).set_index("t")


def lif_table(current) -> pd.DataFrame:
    """Hand computation next to the library neuron: charge, spikes and membrane of both, per step.

    Columns: input, charge (hand), spike (hand), spike (library), membrane (hand),
    membrane (library), match (spikes equal and membranes within 1e-6).
    """
    ref, sim = lif_reference(current), lif_simulate(current)
    out = pd.DataFrame({"input": ref["input"], "charge (hand)": ref["charge"],
                        "spike (hand)": ref["spike"].astype(int), "spike (library)": sim["spike"].astype(int),
                        "membrane (hand)": ref["membrane"], "membrane (library)": sim["membrane"]})
    out["match"] = ((out["spike (hand)"] == out["spike (library)"])
                    & ((out["membrane (hand)"] - out["membrane (library)"]).abs() < 1e-6))
    return out


def surrogate_frame(lo: float = -2.0, hi: float = 2.0, points: int = 201,
                    alpha: float = neurons.SURROGATE_ALPHA) -> pd.DataFrame:
    """Forward step and backward surrogate of the spike function around the threshold.

    u = h - v_th (distance of the charge from the threshold). Columns: ``heaviside`` (the forward
    spike), ``atan`` (the smooth function whose slope the backward pass uses,
    1/pi arctan(pi/2 alpha u) + 1/2), ``formula`` (its derivative alpha/2 / (1 + (pi/2 alpha u)^2))
    and ``autograd`` (the gradient that actually flows through ``models.neurons.lif()``, measured
    by backpropagating one step of the neuron: ds/dx = sg'(u) / tau, multiplied back by tau).
    """
    u = torch.linspace(lo, hi, points, dtype=torch.float32)
    x = ((u + neurons.V_THRESHOLD) * neurons.TAU).reshape(1, -1).requires_grad_(True)   # [T=1, N]
    node = neurons.lif()
    neurons.reset(node)
    spikes = node(x)
    spikes.sum().backward()
    k = math.pi / 2 * alpha
    return pd.DataFrame({
        "u": u.numpy(), "heaviside": spikes.detach().reshape(-1).numpy(),
        "atan": (torch.atan(k * u) / math.pi + 0.5).numpy(),
        "formula": (alpha / 2 / (1 + (k * u) ** 2)).numpy(),
        "autograd": (x.grad.reshape(-1) * neurons.TAU).numpy(),
    })


def layer_table(arch: str, width: float = 1.0, in_channels: int = 1, num_classes: int = 10,
                timesteps: int = 4) -> pd.DataFrame:
    """One row per conv / linear layer of a network, in execution order (``hardware.trace``).

    Columns: layer (weight name), kind, role, weight shape (K x C x R x S or K x C), stride,
    input and output feature maps (C x H x W), weights (dense count) and covered (balanced by
    u-Ticket and counted by the workload model: every conv except the encoder).
    """
    torch.manual_seed(0)
    model = models.build(arch, in_channels=in_channels, num_classes=num_classes, width=width,
                         timesteps=timesteps)
    traced = hardware.trace(model, (1, in_channels, 32, 32))
    covered = set(hardware.covered_layers(traced))
    rows = [{"layer": l.name.removesuffix(".weight"), "kind": l.kind, "role": l.role,
             "weight shape": " x ".join(map(str, l.weight_shape)),
             "stride": str(l.stride[0]) if l.kind == "conv" else "–",   # a linear layer has none
             "input": f"{l.in_channels} x {l.in_hw[0]} x {l.in_hw[1]}",
             "output": f"{l.out_channels} x {l.out_hw[0]} x {l.out_hw[1]}",
             "weights": l.n_weights, "covered": l.name in covered} for l in traced]
    return pd.DataFrame(rows)


def param_counts(archs, widths, in_channels: int = 3, num_classes: int = 10) -> pd.DataFrame:
    """Dense weight counts per (arch, width): conv + linear weights (what is pruned), all
    parameters (biases and BN included), conv layers, covered share, and the notes' count at width 1.
    """
    rows = []
    for arch in archs:
        for width in widths:
            model = models.build(arch, in_channels=in_channels, num_classes=num_classes, width=width)
            prunable = masklib.prunable(model)
            traced = hardware.trace(model, (1, in_channels, 32, 32))
            covered = set(hardware.covered_layers(traced))
            n_prunable = sum(p.numel() for p in prunable.values())
            rows.append({
                "arch": arch, "width": width, "in channels": in_channels,
                "weights (conv+linear)": n_prunable,
                "all parameters": sum(p.numel() for p in model.parameters()),
                "conv layers": sum(1 for l in traced if l.kind == "conv"),
                "linear layers": sum(1 for l in traced if l.kind == "linear"),
                "covered share": sum(prunable[n].numel() for n in covered) / n_prunable,
                # the notes give the count at width 1 only; a dash elsewhere (not NaN)
                "notes (width 1)": (f"{NOTES_WEIGHTS[arch]:,.0f}" if width == 1 and arch in NOTES_WEIGHTS
                                    else "–"),
            })
    return pd.DataFrame(rows)


# ============================================================================ chapter 2: lottery
def method_levels(pairs: Mapping[str, Mapping[str, Path]], methods=("lth", "uticket"),
                  utilization: bool = False) -> pd.DataFrame:
    """Long table over archs, methods and levels: sparsity, accuracy, spike sparsity, seconds.

    ``pairs``: {arch: {method: run dir}} (what ``analysis.pair`` returns, per arch). Adds the
    sparsity that plain repeated pruning would reach (``expected_sparsity``: 1 - (1-p)^k) and, with
    ``utilization``, the network utilization of Eq. 2 (16 PEs unless the run says otherwise,
    parameter-weighted) from ``analysis.hardware_report``.
    """
    frames = []
    for arch, runs in pairs.items():
        for method in methods:
            if method not in runs:
                continue
            run = runs[method]
            cfg = run_config(run)
            f = levels_frame(run).reset_index()
            f.insert(0, "method", method)
            f.insert(0, "arch", arch)
            f["expected_sparsity"] = [1 - (1 - cfg.prune.fraction) ** k for k in f["level"]]
            if utilization:
                f["utilization"] = [hardware_report(run, int(k), n_pe=cfg.balance.n_pe)["network"]["utilization"]
                                    for k in f["level"]]
            frames.append(f)
    return pd.concat(frames, ignore_index=True)


def final_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The last level of every (arch, method) of a ``method_levels`` frame."""
    idx = frame.groupby(["arch", "method"], sort=False)["level"].idxmax()
    return frame.loc[idx].set_index(["arch", "method"])


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
        sp = paper.spike_sparsity(arch, ref, method) if (arch, ref, method) in paper.TABLE_I else None
        rows.append({
            "arch": ARCH_LABELS.get(arch, arch), "method": METHOD_LABELS[method],
            "level": int(r["level"]),
            "accuracy %": 100 * r["test_accuracy"], f"paper ({label}) accuracy %": p.get("acc"),
            "weight sparsity %": 100 * r["sparsity"], f"paper ({label}) sparsity %": p.get("weight_sparsity"),
            "spike sparsity %": 100 * r["spike_sparsity"],
            f"paper ({label}) spike sparsity %": None if sp is None else 100 * sp,
        })
    return pd.DataFrame(rows).set_index(["arch", "method"]).round(1)


# ============================================================================ chapter 3: imbalance
TOY_LOADS = (7, 2, 4, 3)   # non-zero weights of the four 3x3 filters of the toy layer (16 of 36)


def toy_masks(loads=TOY_LOADS, kernel: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    """A toy layer (one input channel, ``len(loads)`` filters of kernel x kernel) whose filter f
    keeps ``loads[f]`` weights at seeded random positions ("imbalanced"), and the same mask after
    u-Ticket's balancing with one PE per filter ("balanced", ``pruning.balance.balance``).
    """
    g = torch.Generator().manual_seed(seed)
    size = kernel * kernel
    mask = torch.zeros(len(loads), 1, kernel, kernel)
    for f, load in enumerate(loads):
        if not 0 <= load <= size:
            raise ValueError(f"load {load} of filter {f} must lie in [0, {size}]")
        mask[f].view(-1)[torch.randperm(size, generator=g)[:load]] = 1.0
    balanced = balancelib.balance({"toy": mask}, n_pe=len(loads), covered=["toy"], seed=seed)["toy"]
    return {"imbalanced": mask, "balanced": balanced}


def toy_workload(masks: Mapping[str, torch.Tensor], n_pe: int | None = None) -> pd.DataFrame:
    """Eq. 2 on each toy mask (``hardware.layer_workload``, loads = non-zero weights per PE):
    the PE loads, work, idle, latency (cycles of the slowest PE), utilization, work + idle and
    n_PE x latency (always equal)."""
    rows = []
    for name, m in masks.items():
        n = n_pe or m.shape[0]
        st = hardware.layer_workload(m, n)
        rows.append({"mask": name, "PE loads": str(hardware.filter_loads(m).tolist()),
                     "non-zeros": int(m.sum()), "work": st["work"], "idle": st["idle"],
                     "latency": st["latency"], "utilization": st["utilization"],
                     "work + idle": st["work"] + st["idle"], "n_PE x latency": n * st["latency"]})
    return pd.DataFrame(rows).set_index("mask")


def pe_loads_frame(masks: Mapping[str, torch.Tensor]) -> pd.DataFrame:
    """Long table mask, pe, load (one filter per PE) for the bar chart of Fig. 3."""
    return pd.DataFrame([{"mask": name, "pe": j, "load": int(v)}
                         for name, m in masks.items() for j, v in enumerate(hardware.filter_loads(m))])


def random_masks(masks: Mapping[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Masks with exactly the same number of non-zeros per layer, at uniformly random positions.

    Layer ``i`` (in dict order) draws from ``torch.Generator().manual_seed(seed * 1000 + i)``.
    """
    out = {}
    for i, (name, m) in enumerate(masks.items()):
        g = torch.Generator().manual_seed(seed * 1000 + i)
        keep = int(m.ne(0).sum())
        flat = torch.zeros(m.numel())
        flat[torch.randperm(m.numel(), generator=g)[:keep]] = 1.0
        out[name] = flat.view(m.shape)
    return out


def magnitude_masks(weights: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]
                    ) -> dict[str, torch.Tensor]:
    """Masks with the same number of non-zeros per layer as ``masks``, keeping the largest |w| of
    ``weights`` in each layer (e.g. the untrained initial weights). Ties go to the earlier position."""
    out = {}
    for name, m in masks.items():
        keep = int(m.ne(0).sum())
        w = weights[name].detach().abs().reshape(-1).double()
        # stable descending order: largest |w| first, earlier index first among equals
        order = torch.sort(-w, stable=True).indices[:keep]
        flat = torch.zeros(m.numel())
        flat[order] = 1.0
        out[name] = flat.view(m.shape)
    return out


def mask_utilization(masks: Mapping[str, torch.Tensor], layer_list, n_pe: int = 16,
                     weighting: str = "params", avg: str = "mean") -> float:
    """Network utilization (Eq. 2 per block, mean over blocks, ``weighting`` over covered layers)
    of a mask dict on a traced network (``hardware.report``, output-mode cycles, no memory model)."""
    rep = hardware.report(dict(masks), list(layer_list), n_pe=n_pe, weighting=weighting, avg=avg,
                          memory=False)
    return rep["network"]["utilization"]


def _origins(run: Path, level: int, seed: int) -> dict[str, dict[str, torch.Tensor]]:
    trained = lottery.load_masks(run, level)
    init = lottery.load_state(paths.init_path(run))
    return {"trained (LTH)": trained, "random": random_masks(trained, seed),
            "untrained magnitude": magnitude_masks(init, trained)}


def mask_origins(run: Path, n_pe: int = 16, seed: int = 0) -> pd.DataFrame:
    """Per level of a run: network utilization of its trained mask, of random masks and of
    magnitude masks of the untrained (initial) weights, all with the trained mask's per-layer
    non-zero counts (so equal sparsity, layer by layer)."""
    lyr = layers(run)
    rows = []
    for level in levels_frame(run).index:
        masks = _origins(run, int(level), seed)
        row = {"level": int(level), "sparsity": masklib.sparsity(masks["trained (LTH)"])}
        row.update({k: mask_utilization(m, lyr, n_pe) for k, m in masks.items()})
        rows.append(row)
    return pd.DataFrame(rows).set_index("level")


def origin_layers(run: Path, level: int | None = None, n_pe: int = 16, seed: int = 0) -> pd.DataFrame:
    """Per covered layer at one level (default: the last): weight sparsity and Eq. 2 utilization of
    the trained, random and untrained-magnitude masks."""
    level = last_level(run) if level is None else level
    masks = _origins(run, level, seed)
    lyr = layers(run)
    reps = {k: hardware.report(m, lyr, n_pe=n_pe, memory=False)["layers"] for k, m in masks.items()}
    rows = []
    for i, l in enumerate(reps["trained (LTH)"]):
        if not l["covered"]:
            continue
        rows.append({"layer": l["name"].removesuffix(".weight"), "weights": l["n_weights"],
                     "sparsity": l["weight_sparsity"],
                     **{k: reps[k][i]["utilization"] for k in masks}})
    return pd.DataFrame(rows).set_index("layer")


# ============================================================================ chapter 4: u-Ticket
def walkthrough_layer(masks: Mapping[str, torch.Tensor], layer_list, n_pe: int = 16) -> str:
    """The covered layer (with at least one full block of ``n_pe`` filters, if any) whose mask has
    the lowest Eq. 2 utilization: the layer where balancing has most to do."""
    covered = hardware.covered_layers(list(layer_list))
    full = [n for n in covered if masks[n].shape[0] >= n_pe] or covered
    return min(full, key=lambda n: hardware.layer_workload(masks[n], n_pe)["utilization"])


def balance_walkthrough(mask: torch.Tensor, n_pe: int = 16, reference: str = "block",
                        seed: int = 0) -> pd.DataFrame:
    """Algorithm 1 (lines 6-16) on one layer's mask, one row per filter (= PE of a block).

    Columns: block, pe, load before, target (ceil of the block mean, or of the layer mean with
    ``reference="layer"``), recovered (pruned positions switched back on), removed (surviving
    positions switched off), load after. Uses ``pruning.balance.balance`` on this layer only.
    """
    after = balancelib.balance({"layer": mask}, n_pe=n_pe, reference=reference, covered=["layer"],
                               seed=seed)["layer"]
    before = mask.detach().float()
    targets = balancelib.block_targets(before, n_pe, reference)
    k = before.shape[0]
    dims = tuple(range(1, before.dim()))
    recovered = ((after > 0) & (before == 0)).sum(dims)
    removed = ((after == 0) & (before > 0)).sum(dims)
    return pd.DataFrame({
        "block": [f // n_pe for f in range(k)], "pe": [f % n_pe for f in range(k)],
        "load before": balancelib.filter_loads(before).numpy(),
        "target": targets.repeat_interleave(n_pe)[:k].numpy(),
        "recovered": recovered.numpy(), "removed": removed.numpy(),
        "load after": balancelib.filter_loads(after).numpy(),
    }).rename_axis("filter")


def covered_layer_utilization(run: Path, level: int | None = None, **options: Any) -> pd.DataFrame:
    """Per covered layer of a run's level (default: the last): filters, weights, weight sparsity and
    Eq. 2 utilization, from ``analysis.hardware_report`` (options passed through, e.g. ``n_pe``).
    A layer with fewer filters than PEs leaves PEs empty, so its utilization stays below 1 whatever
    the mask."""
    rep = hardware_report(run, level, **options)
    rows = [{"layer": r["name"].removesuffix(".weight"), "filters": r["n_filters"], "weights": r["n_weights"],
             "sparsity": r["weight_sparsity"], "utilization": r["utilization"]}
            for r in rep["layers"] if r["covered"]]
    return pd.DataFrame(rows).set_index("layer")


def balance_cost(run: Path, level: int | None = None, repeats: int = 3) -> dict:
    """Time ``pruning.balance.balance`` on a level's mask and compare it with that level's training.

    Uses the level's mask straight after pruning (``mask_pruned.pt``, u-Ticket runs) or else its
    mask. Returns seconds (best of ``repeats``), the level's training seconds and epochs (from
    metrics.json), the ratio balance / level in percent, and the paper's 0.11 % for comparison.
    """
    level = last_level(run) if level is None else level
    here = paths.level_dir(run, level)
    src = paths.pruned_mask_path(here) if paths.pruned_mask_path(here).exists() else paths.mask_path(here)
    masks = masklib.load(src)
    cfg = run_config(run)
    covered = hardware.covered_layers(layers(run))
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        balancelib.balance(masks, n_pe=cfg.balance.n_pe, reference=cfg.balance.reference,
                           covered=covered, seed=cfg.balance.seed)
        best = min(best, time.perf_counter() - t0)
    metrics = io.load_json(paths.metrics_path(here))
    return {"level": level, "balance_seconds": best, "level_seconds": metrics["seconds"],
            "level_epochs": metrics["epochs"], "percent_of_level": 100 * best / metrics["seconds"],
            "paper_percent": paper.TEXT["balancing_cost_pct_of_lth_round"][0]}


# ============================================================================ chapter 9: paper vs code
SWITCHES: dict[str, dict[str, Any]] = {
    "weight_decay": {"label": "(a) weight decay not applied", "key": "train.released_weight_decay",
                     "paper": False, "code": True, "kind": "training",
                     "note": "weight decay 5e-4 passed where the optimizer expects dampening"},
    "rewind": {"label": "(b) biases not rewound", "key": "prune.released_rewind",
               "paper": False, "code": True, "kind": "training",
               "note": "biases and BN statistics keep the previous round's trained values"},
    "carry": {"label": "(c) balanced mask not carried", "key": "balance.carry",
              "paper": True, "code": False, "kind": "training",
              "note": "the next round prunes the unbalanced mask; recovered weights do not carry over"},
    "weighting": {"label": "(d) unweighted network utilization", "key": "weighting",
                  "paper": "params", "code": "mean", "kind": "analysis",
                  "note": "layers averaged with equal weight instead of by parameter count"},
    "avg": {"label": "(e) ceil average in Eq. 2", "key": "avg", "paper": "mean", "code": "ceil",
            "kind": "analysis", "note": "T_avg rounded up to whole weights"},
}


def training_switches() -> list[str]:
    return [k for k, s in SWITCHES.items() if s["kind"] == "training"]


def switch_configs(profile: str, arch: str = "vgg16", dataset: str = "fmnist",
                   overrides: Mapping[str, Any] | None = None, levels: int = 3,
                   method: str = "uticket") -> dict[str, RunConfig]:
    """One u-Ticket run configuration per training switch set to the released code's behaviour,
    with ``levels`` levels (``prune.levels`` is not hashed: a run with fewer levels is a prefix of
    the same configuration with more)."""
    base = {**dict(overrides or {}), "prune.levels": levels}
    return {name: profiles.get(profile, arch, dataset, method,
                               {**base, SWITCHES[name]["key"]: SWITCHES[name]["code"]})
            for name in training_switches()}


def switch_runs(configs: Mapping[str, RunConfig], datasets=None, progress: bool = False) -> dict[str, Path]:
    """Run (or reuse from the cache) every switch configuration; {switch: run dir}."""
    return {name: lottery.run(cfg, datasets=datasets, progress=progress) for name, cfg in configs.items()}


def _level_summary(run: Path, level: int, **options: Any) -> dict:
    m = io.load_json(paths.metrics_path(paths.level_dir(run, level)))
    n_pe = run_config(run).balance.n_pe
    net = hardware_report(run, level, **{"n_pe": n_pe, **options})["network"]
    return {"accuracy": m["test_accuracy"], "sparsity": m["sparsity"],
            "spike sparsity": m["spike_sparsity"], "utilization": net["utilization"]}


def switch_levels(baseline: Path, runs: Mapping[str, Path], levels: int | None = None) -> pd.DataFrame:
    """Long table per setting (paper = ``baseline``, and each switch) and level < ``levels``:
    accuracy, sparsity, spike sparsity, utilization."""
    rows = []
    sources = {"paper behaviour": baseline, **{SWITCHES[k]["label"]: r for k, r in runs.items()}}
    for setting, run in sources.items():
        for level in levels_frame(run).index:
            if levels is not None and level >= levels:
                continue
            rows.append({"setting": setting, "level": int(level), **_level_summary(run, int(level))})
    return pd.DataFrame(rows)


def switch_table(baseline: Path, lth: Path, runs: Mapping[str, Path], level: int) -> pd.DataFrame:
    """The paper-vs-code comparison at one level, one row per switch (a)-(e).

    Training switches compare the switch's u-Ticket run with ``baseline`` (the paper behaviour,
    same configuration otherwise); analysis switches recompute the utilization of the LTH run
    ``lth`` and of ``baseline`` with the code's option. Columns: switch, config key, run, then
    paper / code / difference (code - paper) for accuracy, sparsity, spike sparsity, utilization.
    """
    rows = []
    base = _level_summary(baseline, level)
    for name, s in SWITCHES.items():
        if s["kind"] == "training":
            if name not in runs:
                continue
            pairs = [("u-Ticket", base, _level_summary(runs[name], level))]
        else:
            pairs = []
            for label, run in (("LTH", lth), ("u-Ticket", baseline)):
                p = _level_summary(run, level, **{s["key"]: s["paper"]})
                c = _level_summary(run, level, **{s["key"]: s["code"]})
                pairs.append((label, p, c))
        for label, p, c in pairs:
            row = {"switch": s["label"], "config key": s["key"], "run": label}
            for metric in ("accuracy", "sparsity", "spike sparsity", "utilization"):
                row[f"{metric} paper"] = p[metric]
                row[f"{metric} code"] = c[metric]
                row[f"{metric} diff"] = c[metric] - p[metric]
            rows.append(row)
    return pd.DataFrame(rows).set_index(["switch", "run"])


def weight_count_claims(counts: pd.DataFrame, tolerance: float = 0.05e6) -> list:
    """Claims "<arch> has N M conv+linear weights at width 1" from a ``param_counts`` frame (rows at
    width 1 of the archs in ``NOTES_WEIGHTS``); passed when within ``tolerance`` weights."""
    from . import claim
    rows = counts[(counts["width"] == 1.0) & counts["arch"].isin(list(NOTES_WEIGHTS))]
    out = []
    for _, r in rows.iterrows():
        n, ref = r["weights (conv+linear)"], NOTES_WEIGHTS[r["arch"]]
        out.append(claim(f"{ARCH_LABELS[r['arch']]} has {ref / 1e6:.1f}M conv+linear weights at width 1",
                         f"{n / 1e6:.2f}M", abs(n - ref) < tolerance, source=NOTES_WEIGHTS_SOURCE))
    return out


def ticket_summary(frame: pd.DataFrame, method: str = "lth") -> pd.DataFrame:
    """Per arch, the final level of ``method`` from a ``method_levels`` frame next to the dense
    level: level, sparsity, expected sparsity, accuracy, spike sparsity, dense accuracy and the
    accuracy drop in points (dense - final)."""
    f = frame[frame["method"] == method]
    fin = final_rows(f).reset_index(level="method", drop=True)
    dense = f[f["level"] == 0].set_index("arch")["test_accuracy"]
    out = fin[["level", "sparsity", "expected_sparsity", "test_accuracy", "spike_sparsity"]].copy()
    out["dense accuracy"] = dense
    out["accuracy drop (points)"] = 100 * (out["dense accuracy"] - out["test_accuracy"])
    return out


def lottery_claims(frame: pd.DataFrame, max_drop: float = 2.0, min_sparsity: float = 0.95) -> list:
    """Chapter 2's checks on the LTH runs of a ``method_levels`` frame, per arch: the final sparsity
    follows 1 - (1-p)^(L-1) (within 0.1 point), the ticket keeps "similar accuracy" (drop vs dense
    <= ``max_drop`` points), and the final sparsity reaches ``min_sparsity``."""
    from . import claim
    out = []
    for arch, r in ticket_summary(frame, "lth").iterrows():
        name = ARCH_LABELS.get(arch, arch)
        out += [
            claim(f"{name} LTH final sparsity = 1-(1-p)^(L-1) within 0.1 point",
                  f"{r['sparsity']:.2%} vs {r['expected_sparsity']:.2%}",
                  abs(r["sparsity"] - r["expected_sparsity"]) < 1e-3, source="Sec. II-B"),
            claim(f"{name} LTH ticket keeps similar accuracy: drop vs dense <= {max_drop:g} points",
                  f"{r['accuracy drop (points)']:.1f} points", r["accuracy drop (points)"] <= max_drop,
                  source="Sec. II-B, Table I"),
            claim(f"{name} LTH final weight sparsity >= {min_sparsity:.0%}", f"{r['sparsity']:.1%}",
                  r["sparsity"] >= min_sparsity,
                  source=f"Table I ({paper.TABLE_I[(arch, 'fmnist', 'lth')]['weight_sparsity']} %)"
                  if (arch, "fmnist", "lth") in paper.TABLE_I else "Table I"),
        ]
    return out


def imbalance_claims(toy_work: pd.DataFrame, util: Mapping[str, pd.DataFrame], origins: pd.DataFrame,
                     max_final: float = 0.8) -> list:
    """Chapter 3's checks: the toy layer (Fig. 3), the fall of LTH utilization over the rounds for
    each run in ``util`` ({label: ``analysis.utilization_frame``}, Fig. 4), and the trained mask
    against random / untrained-magnitude masks at the last level of ``origins`` (``mask_origins``)."""
    from . import claim
    out = [claim("Toy layer: balancing the PE loads raises utilization to 1",
                 f"{toy_work.loc['imbalanced', 'utilization']:.2f} -> {toy_work.loc['balanced', 'utilization']:.2f}",
                 toy_work.loc["balanced", "utilization"] > 0.999 > toy_work.loc["imbalanced", "utilization"],
                 source="Fig. 3, Eq. 2")]
    for label, f in util.items():
        first = f["utilization"].iloc[min(1, len(f) - 1)]
        last = f["utilization"].iloc[-1]
        out.append(claim(f"{label}: utilization falls as sparsity rises (last level < first pruned level < 1)",
                         f"{first:.3f} -> {last:.3f}", last < first < 1.0, source="Fig. 4"))
        ref = ", ".join(f"{ARCH_LABELS[a]} {paper.TABLE_II[(a, 'fmnist', 'lth')]['utilization']:.2f}"
                        for a in paper.ARCHS)
        out.append(claim(f"{label}: final utilization < {max_final:g} (paper FMNIST: {ref})",
                         last, last < max_final, source="Table II"))
    last = origins.iloc[-1]
    out.append(claim("Trained (LTH) masks are less balanced than random masks of equal per-layer sparsity",
                     f"{last['trained (LTH)']:.3f} vs {last['random']:.3f}",
                     last["trained (LTH)"] < last["random"], source="Sec. II-C (notes)"))
    out.append(claim("Masks of untrained weights are better balanced than trained masks (imbalance comes from training)",
                     f"{last['untrained magnitude']:.3f} vs {last['trained (LTH)']:.3f}",
                     last["untrained magnitude"] > last["trained (LTH)"],
                     source=f"reproduction notes (~{NOTES_UNTRAINED_UTILIZATION})"))
    return out


def utilization_table(frame: pd.DataFrame, dataset: str = "fmnist", paper_dataset: str | None = None
                      ) -> pd.DataFrame:
    """Final-level network utilization per (arch, method) of a ``method_levels(..., utilization=True)``
    frame, next to the paper's Table II utilization for the same arch, method and dataset."""
    ref = paper_dataset or dataset
    label = DATASET_LABELS.get(ref, ref)
    fin = final_rows(frame)
    rows = [{"arch": ARCH_LABELS.get(a, a), "method": METHOD_LABELS[m],
             "level": int(r["level"]), "weight sparsity": r["sparsity"], "utilization": r["utilization"],
             f"paper ({label}) utilization": paper.TABLE_II.get((a, ref, m), {}).get("utilization")}
            for (a, m), r in fin.iterrows()]
    return pd.DataFrame(rows).set_index(["arch", "method"]).round(3)


def uticket_claims(frame: pd.DataFrame, covered: Mapping[str, pd.DataFrame], cost: pd.DataFrame,
                   min_util: float = 0.99, max_drop: float = 1.0, max_sparsity_gap: float = 0.01,
                   max_cost_pct: float = 1.0) -> list:
    """Chapter 4's checks per arch: every covered layer of the final u-Ticket mask has utilization
    >= ``min_util`` (``covered``: {arch: ``covered_layer_utilization``}); u-Ticket's final network
    utilization exceeds LTH's; accuracy drop vs LTH <= ``max_drop`` points; final sparsities within
    ``max_sparsity_gap``; balancing costs < ``max_cost_pct`` % of one level's training (``cost``:
    rows per arch of ``balance_cost``)."""
    from . import claim
    fin = final_rows(frame)
    out = []
    for arch in dict.fromkeys(frame["arch"]):
        name = ARCH_LABELS.get(arch, arch)
        lth, ut = fin.loc[(arch, "lth")], fin.loc[(arch, "uticket")]
        if arch in covered:
            c = covered[arch]
            worst = c["utilization"].idxmin()
            lo = c.loc[worst, "utilization"]
            out.append(claim(f"{name} u-Ticket utilization >= {min_util:g} in every covered layer",
                             f"min {lo:.4f} over {len(c)} layers ({worst}, {int(c.loc[worst, 'filters'])} filters)",
                             lo >= min_util, source="Table II"))
        if "utilization" in fin:
            out.append(claim(f"{name}: u-Ticket network utilization above LTH's at the final level",
                             f"{ut['utilization']:.3f} vs {lth['utilization']:.3f}",
                             ut["utilization"] > lth["utilization"], source="Table II"))
        drop = 100 * (lth["test_accuracy"] - ut["test_accuracy"])
        out.append(claim(f"{name}: accuracy drop of u-Ticket vs LTH <= {max_drop:g} point",
                         f"{drop:+.1f} points", drop <= max_drop, source="Table I, Sec. IV-B1"))
        gap = ut["sparsity"] - lth["sparsity"]
        out.append(claim(f"{name}: u-Ticket final sparsity within {100 * max_sparsity_gap:g} point of LTH's",
                         f"{100 * ut['sparsity']:.2f} % vs {100 * lth['sparsity']:.2f} %",
                         abs(gap) <= max_sparsity_gap, source="Table I"))
        if arch in cost.index:
            pct = float(cost.loc[arch, "percent_of_level"])
            ref = paper.TEXT["balancing_cost_pct_of_lth_round"][0]
            out.append(claim(f"{name}: balancing costs < {max_cost_pct:g} % of one round's training (paper {ref:g} %)",
                             f"{pct:.3f} %", pct < max_cost_pct, source="Sec. III-A"))
    return out


def analysis_switch_table(pairs: Mapping[str, Mapping[str, Path]], level: int | None = None) -> pd.DataFrame:
    """Switches (d) and (e) on every run of ``pairs`` ({arch: {method: run}}) at one level (default:
    each run's last): network utilization with the paper's choice and the code's, per switch."""
    rows = []
    for arch, runs in pairs.items():
        for method, run in runs.items():
            lv = last_level(run) if level is None else level
            n_pe = run_config(run).balance.n_pe
            row = {"arch": ARCH_LABELS.get(arch, arch), "method": METHOD_LABELS[method],
                   "level": lv}
            for name in ("weighting", "avg"):
                s = SWITCHES[name]
                for side in ("paper", "code"):
                    rep = hardware_report(run, lv, n_pe=n_pe, **{s["key"]: s[side]})
                    row[f"{s['key']}={s[side]}"] = rep["network"]["utilization"]
            rows.append(row)
    return pd.DataFrame(rows).set_index(["arch", "method"])


def switch_claims(table: pd.DataFrame, analysis_table: pd.DataFrame, max_acc: float = 1.0,
                  max_sparsity: float = 0.01, max_weighting: float = 0.05, max_avg: float = 0.01) -> list:
    """Chapter 9's checks: are the paper's numbers robust to each discrepancy of the released code?

    Training switches (``switch_table`` rows): accuracy within ``max_acc`` points and sparsity within
    ``max_sparsity`` of the paper behaviour, and u-Ticket's utilization still >= 0.99. Analysis
    switches (``analysis_switch_table``): the network utilization moves by less than
    ``max_weighting`` (unweighted mean) or ``max_avg`` (ceil average) on every run.
    """
    from . import claim
    out = []
    for name in training_switches():
        label = SWITCHES[name]["label"]
        if (label, "u-Ticket") not in table.index:
            continue
        r = table.loc[(label, "u-Ticket")]
        out.append(claim(f"{label}: u-Ticket accuracy within {max_acc:g} point of the paper behaviour",
                         f"{100 * r['accuracy diff']:+.1f} points", abs(100 * r["accuracy diff"]) <= max_acc,
                         source=SWITCHES[name]["key"]))
        out.append(claim(f"{label}: sparsity within {100 * max_sparsity:g} point of the paper behaviour",
                         f"{100 * r['sparsity diff']:+.2f} points", abs(r["sparsity diff"]) <= max_sparsity,
                         source=SWITCHES[name]["key"]))
        out.append(claim(f"{label}: u-Ticket utilization still >= 0.99", r["utilization code"],
                         r["utilization code"] >= 0.99, source="Table II"))
    for name, limit in (("weighting", max_weighting), ("avg", max_avg)):
        s = SWITCHES[name]
        p, c = f"{s['key']}={s['paper']}", f"{s['key']}={s['code']}"
        diff = (analysis_table[c] - analysis_table[p]).abs()
        worst = diff.idxmax()
        out.append(claim(f"{s['label']}: network utilization changes by < {limit:g} on every run",
                         f"max |diff| {diff.max():.3f} ({' '.join(worst)})", diff.max() < limit,
                         source="Table II, Eq. 2"))
    return out
