"""Masks beside a run's masks: random and untrained-magnitude masks of equal per-layer sparsity,
synthetic tickets of random weights, the balancing walkthrough on one layer and its cost.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import torch

from .. import hardware, io, models, paper, paths, profiles, runstore
from ..pruning import balance as balancelib
from ..pruning import magnitude
from ..pruning import mask as masklib
from ..config import RunConfig
from .runs import _layers, config, hardware_report, layers, level_of, levels_frame


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
    trained = runstore.load_masks(run, level)
    init = runstore.load_state(paths.init_path(run))
    return {"trained (LTH)": trained, "random": random_masks(trained, seed),
            "untrained magnitude": magnitude_masks(init, trained)}


def random_utilizations(run: Path, level: int | None = None, n_pe: int = 16, draws: int = 5) -> list[float]:
    """Network utilization of ``draws`` random masks (seeds 0..draws-1) with the per-layer non-zero
    counts of a level's trained mask: the spread that a single trained mask is compared against."""
    trained = runstore.load_masks(run, level_of(run, level))
    lyr = layers(run)
    return [mask_utilization(random_masks(trained, s), lyr, n_pe) for s in range(draws)]


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
    level = level_of(run, level)
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
    level = level_of(run, level)
    here = paths.level_dir(run, level)
    src = paths.pruned_mask_path(here) if paths.pruned_mask_path(here).exists() else paths.mask_path(here)
    masks = masklib.load(src)
    cfg = config(run)
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


def synthetic_masks(layers: list, sparsity: float, seed: int = 0) -> dict:
    """Global magnitude pruning of fan-in-scaled random weights (w ~ N(0, 1/fan_in)) to ``sparsity``.

    Stands in for a trained ticket where only the scale of the counts matters (benchmarks, and the
    scale check of the cycle reconstruction).
    """
    g = torch.Generator().manual_seed(seed)
    weights = {l.name: torch.randn(l.weight_shape, generator=g) / (l.n_weights / l.out_channels) ** 0.5
               for l in layers}
    return magnitude.prune(weights, {n: torch.ones_like(w) for n, w in weights.items()}, sparsity, "global")


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


def one_shot_origin(state: Mapping[str, torch.Tensor], arch: str, width: float, dataset: str = "fmnist",
                    sparsity: float = 0.98, n_pe: int = 16, draws: int = 5, timesteps: int = 4) -> dict:
    """Where a ticket's imbalance comes from, for one trained state: Eq. 2 network utilization of
    the state pruned one-shot to ``sparsity`` (global magnitude, ``curves.one_shot_mask``) against
    ``draws`` random masks with the same per-layer non-zero counts (seeds 0..draws-1).

    ``excess`` = mean random utilization - trained utilization: the imbalance that training adds
    beyond what counting noise at these per-filter counts gives by itself (positive = training
    makes filters more unequal than chance). ``uniform_random``: random masks with the same density
    in every layer (counting noise alone), so ``uniform_random - random_mean`` is what the per-layer
    allocation of the survivors costs."""
    from ..curves import one_shot_mask     # curves trains; only its pruning rule is used here
    lyr = list(_layers(arch, width, timesteps, dataset))
    cfg = RunConfig().replace(**{"model.arch": arch, "model.width": width, "model.timesteps": timesteps,
                                 "data.dataset": dataset})
    masks = one_shot_mask(dict(state), runstore.build_model(cfg), sparsity)
    trained = mask_utilization(masks, lyr, n_pe)
    rand = [mask_utilization(random_masks(masks, s), lyr, n_pe) for s in range(draws)]
    mean = sum(rand) / len(rand)
    # the same density in every layer, at random positions: counting noise alone
    density = 1.0 - masklib.sparsity(masks)
    even = {n: (torch.arange(m.numel()) < round(density * m.numel())).float().view(m.shape)
            for n, m in masks.items()}
    uniform = [mask_utilization(random_masks(even, s), lyr, n_pe) for s in range(draws)]
    covered = balancelib.default_covered(masks)
    per_filter = [float(masks[n].flatten(1).sum(1).float().mean()) for n in covered]
    return {"sparsity": masklib.sparsity(masks), "trained": trained, "random_mean": mean,
            "min_weights_per_filter": min(per_filter),      # the sparsest covered layer's mean count
            "median_weights_per_filter": sorted(per_filter)[len(per_filter) // 2],
            "random_min": min(rand), "random_max": max(rand), "draws": draws, "excess": mean - trained,
            "uniform_random": sum(uniform) / len(uniform)}
