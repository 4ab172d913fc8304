"""Choosing a layerwise time plan for a trained ticket (LD-SNN-style, seed 003), on a validation split.

Sits beside ``lottery`` (it uses models, data, hardware and training). For one level of a run:

1. ``sensitivity``: for every stage and every smaller T, the validation accuracy drop and the
   hardware saving with only that stage changed (all other stages at the run's uniform T);
2. ``greedy``: starting from the uniform plan, apply the candidates in order of saving per point of
   accuracy lost, keeping each one whose combined plan stays within ``budget`` of the uniform
   plan's validation accuracy (each kept or rejected step is one more validation pass);
3. optional ``finetune``: a few epochs at the chosen plan (masks kept), then re-measured.

Selection never sees the test set: the validation split is ``validation_set`` (held-out training
images, see there). The test accuracy of the chosen plan is measured once, after the choice.
Hardware numbers come from ``hardware.report`` in output mode with per-layer T, the bit-planes of
summed inputs and the spike sparsity of each layer's adapted input measured on validation images.
``search`` runs all of it and caches the result in ``level_k/timeplan_<hash>/search.json``.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Sequence

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from . import data as datalib
from . import hardware, io, paths, rundata, runstore
from .hardware.geometry import layer_hooks
from .config import RunConfig, stable_hash
from .models.timeplan import JOINS, TimePlanError
from .pruning import mask as masklib
from .training import device_for, eval_loader, fit, for_level, predict

COST_KEYS = ("latency", "work", "energy", "synaptic_updates", "neuron_evaluations", "utilization")


# ----------------------------------------------------------------------------- the validation split
def validation_set(cfg: RunConfig, size: int = 1000) -> tuple[Dataset, bool]:
    """``size`` training images the run never trained on -> (dataset, disjoint).

    With ``data.val_split`` set, the run's own validation split (``data.train_val``, recorded in
    ``validation.json``) gives them: its first ``size`` images. Otherwise the run trains on the first ``data.train_subset`` images of a permutation seeded by
    ``data.subset_seed`` (``data.dataset``); validation takes the next ``size`` of that permutation,
    so the two are disjoint. With the full training set in use (``train_subset`` None) no unseen
    training image exists: the last ``size`` images of the permutation are used and ``disjoint``
    is False (say so wherever the numbers are shown). Test transforms (no augmentation).
    """
    d = cfg.data
    if d.val_split is not None:
        _, val = datalib.train_val(d.dataset, d.val_split, root=d.root, download=d.download,
                                   augment=False, subset=d.train_subset, subset_seed=d.subset_seed)
        return Subset(val.dataset, val.indices[:size]), True
    full = datalib.dataset(d.dataset, train=True, root=d.root, download=d.download, augment=False)
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(d.subset_seed))
    used = len(full) if d.train_subset is None else d.train_subset
    free = len(full) - used
    if free >= 1:
        idx = order[used:used + min(size, free)]
        return Subset(full, idx.sort().values.tolist()), True
    return Subset(full, order[-size:].sort().values.tolist()), False


# ----------------------------------------------------------------------------- one plan
def with_plan(model: nn.Module, plan: Sequence[int] | None, join: str | None = None) -> nn.Module:
    """A copy of ``model`` running ``plan`` (the weights are shared, not copied)."""
    out = copy.copy(model)              # own __dict__, shared submodules and parameters
    out.set_time_plan(plan, join)
    return out


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device | None = None) -> dict:
    """Accuracy and each layer's adapted-input bit sparsity of ``model`` (with its plan) on ``loader``.

    ``input_sparsity[name]`` = share of zero bits over T_l steps x bit-planes of the layer's input
    (sum-adapted inputs are small integers, counted bit by bit); the encoder (analog input) is left out.
    """
    device = device or torch.device("cpu")
    model = model.to(device).eval()
    planes, encoder = model.layer_planes(), model.encoder_name
    ones: dict[str, float] = {}
    slots: dict[str, float] = {}

    def hook(name, module, args, _out):
        if name == encoder:
            return
        x = args[0].detach()
        p = planes[name]
        if p == 1:
            bits = (x != 0).sum().item()
        else:
            v = x.round().long()
            bits = sum(((v >> b) & 1).sum().item() for b in range(p))
        ones[name] = ones.get(name, 0.0) + bits
        slots[name] = slots.get(name, 0.0) + x.numel() * p

    correct = seen = 0
    with layer_hooks(model, hook):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            correct += (predict(model(x)) == y).sum().item()
            seen += y.numel()
    return {"accuracy": correct / max(seen, 1), "images": seen,
            "input_sparsity": {n: 1.0 - ones[n] / slots[n] for n in ones if slots[n]}}


def cost(model: nn.Module, masks: masklib.Masks, layers: list, input_sparsity: dict,
         n_pe: int = 16) -> dict:
    """Output-mode hardware report of ``model``'s plan: per-layer T, bit-planes, adapted-input S."""
    return hardware.report(masks, layers, n_pe=n_pe, mode="output", timesteps=model.layer_timesteps(),
                           input_planes=model.layer_planes(), spike_sparsity=dict(input_sparsity))


def _summary(model, masks, layers, loader, n_pe, device) -> dict:
    ev = evaluate(model, loader, device)
    net = cost(model, masks, layers, ev["input_sparsity"], n_pe)["network"]
    return {"plan": list(model.plan()), "accuracy": ev["accuracy"], **{k: net[k] for k in COST_KEYS}}


# ----------------------------------------------------------------------------- the search
def sensitivity(model: nn.Module, masks: masklib.Masks, layers: list, loader, candidates: Sequence[int],
                join: str = "sum", n_pe: int = 16, device=None, base: dict | None = None) -> list[dict]:
    """One row per (scope, stage, smaller T): accuracy drop and hardware saving of one change.

    scope "stage": only that stage runs at T. scope "suffix": that stage and every later one run at
    T (stages 1.. only). Both are needed: with the sum join a lone stage at T = 2 reads 2 steps x 2
    bit-planes and hands 2 steps on to be copied back to 4, so it saves no cycles at all; a run of
    consecutive stages at T = 2 saves in every stage after its first. Savings are fractions of the
    uniform plan's latency / energy / synaptic updates / neuron evaluations (1 - plan / uniform).
    """
    uniform = with_plan(model, None, join)
    base = base or _summary(uniform, masks, layers, loader, n_pe, device)
    T0, n, rows = uniform.timesteps, uniform.n_stages, []
    for scope in SCOPES:
        for stage in range(1 if scope == "suffix" else 0, n):
            for t in sorted({int(t) for t in candidates if 1 <= int(t) < T0}):
                plan = apply_change([T0] * n, scope, stage, t)
                r = _summary(with_plan(model, plan, join), masks, layers, loader, n_pe, device)
                rows.append({"scope": scope, "stage": stage, "T": t, **r, "drop": base["accuracy"] - r["accuracy"],
                             **{f"{k}_saving": 1 - r[k] / base[k] for k in COST_KEYS[:5] if base[k]}})
    return rows


SCOPES = ("stage", "suffix")


def apply_change(plan: Sequence[int], scope: str, stage: int, t: int) -> list[int]:
    """``plan`` with stage ``stage`` (scope "stage") or stages ``stage..`` (scope "suffix") lowered
    to at most ``t``; stages already below ``t`` keep their T."""
    out = list(plan)
    for i in ([stage] if scope == "stage" else range(stage, len(out))):
        out[i] = min(out[i], int(t))
    return out


def greedy(model: nn.Module, masks: masklib.Masks, layers: list, loader, sens: list[dict], budget: float,
           join: str = "sum", n_pe: int = 16, device=None, base: dict | None = None,
           key: str = "latency", max_steps: int | None = None) -> dict:
    """Greedy plan within ``budget`` (accuracy fraction, e.g. 0.01) of the uniform plan's validation accuracy.

    Candidates (``sensitivity`` rows) in order of ``key`` saving per accuracy drop (drops floored at
    one image); a candidate lowers its stage's (or suffix's) T only where below the T already
    chosen, and one that changes nothing is skipped. Returns {"plan", "steps", "summary"}.
    """
    uniform = with_plan(model, None, join)
    base = base or _summary(uniform, masks, layers, loader, n_pe, device)
    floor = 1.0 / max(len(loader.dataset), 1)
    order = sorted((r for r in sens if r.get(f"{key}_saving", 0) > 0),
                   key=lambda r: -r[f"{key}_saving"] / max(r["drop"], floor))
    plan, steps, best = list(uniform.plan()), [], base
    for r in order[:max_steps] if max_steps else order:
        trial = apply_change(plan, r["scope"], r["stage"], r["T"])
        if trial == plan:
            continue
        s = _summary(with_plan(model, trial, join), masks, layers, loader, n_pe, device)
        keep = base["accuracy"] - s["accuracy"] <= budget + 1e-12
        steps.append({"scope": r["scope"], "stage": r["stage"], "T": r["T"],
                      "accuracy": s["accuracy"], "kept": keep, key: s[key]})
        if keep:
            plan, best = trial, s
    return {"plan": plan, "steps": steps, "summary": best}


def finetune(model: nn.Module, masks: masklib.Masks, train_ds: Dataset, cfg: RunConfig,
             plan: Sequence[int], epochs: int, join: str = "sum", device=None) -> nn.Module:
    """A copy of ``model`` trained ``epochs`` more epochs at ``plan`` with the ticket's masks."""
    tuned = copy.deepcopy(model)
    tuned.set_time_plan(plan, join)
    if epochs > 0:
        device = device or torch.device("cpu")
        ticket_lr = for_level(cfg.train, 1).lr                            # the ticket's rounds' lr
        tuned_cfg = dataclasses.replace(cfg.train, lr=ticket_lr * 0.1)     # a tenth of it
        fit(tuned, train_ds, tuned_cfg, epochs, level=1000, masks={n: m.to(device) for n, m in masks.items()},
            device=device, progress=False)
    return tuned.cpu().eval()


def search(run, level: int | None = None, budget: float = 0.01, candidates: Sequence[int] = (1, 2),
           join: str = "sum", val_size: int = 1000, finetune_epochs: int = 0, max_steps: int | None = None,
           batch_size: int | None = None, n_pe: int | None = None) -> dict:
    """Sensitivity + greedy plan (+ optional fine-tuning) of one level's ticket; cached JSON.

    ``n_pe``: the PE count the plan's latency is counted at (default: the run's ``balance.n_pe``;
    an LTH run's is whichever chapter trained it first, so callers analysing at another n_PE pass it).

    Returns {"settings", "uniform", "sensitivity", "greedy", "chosen", "test"}: ``uniform`` and
    ``chosen`` are validation summaries (accuracy, latency, work, energy, synaptic updates, neuron
    evaluations, utilization); ``test`` = test accuracy of uniform and chosen plans, measured after
    the choice and never used by it.
    """
    if join not in JOINS:
        raise TimePlanError(f"join must be one of {JOINS}, got {join!r}")
    if not 0 <= budget < 1:
        raise TimePlanError(f"budget is a fraction of accuracy in [0, 1), e.g. 0.01 for one point; got {budget}")
    cfg = runstore.read_config(run)
    if level is None:
        level = max(r["level"] for r in runstore.levels(run))
    settings = {"level": level, "budget": budget, "candidates": sorted(set(candidates)), "join": join,
                "val_size": val_size, "finetune_epochs": finetune_epochs, "max_steps": max_steps,
                "scopes": list(SCOPES),   # the kinds of change tried: a cache of other kinds is not reused
                "n_pe": int(n_pe if n_pe is not None else cfg.balance.n_pe)}
    cache = paths.timeplan_dir(paths.level_dir(run, level), stable_hash(settings)) / "search.json"
    if cache.exists():
        return io.load_json(cache)
    device = device_for(cfg.train)
    model = runstore.load_model(run, level)
    masks = runstore.load_masks(run, level)
    spec = datalib.DATASETS[cfg.data.dataset]
    layers = hardware.trace(model, (1, spec.in_channels, 32, 32))
    val, disjoint = validation_set(cfg, val_size)
    loader = eval_loader(val, batch_size, device=device)
    n_pe = settings["n_pe"]
    base = _summary(with_plan(model, None, join), masks, layers, loader, n_pe, device)
    sens = sensitivity(model, masks, layers, loader, candidates, join, n_pe, device, base)
    g = greedy(model, masks, layers, loader, sens, budget, join, n_pe, device, base, max_steps=max_steps)
    chosen_model, chosen = with_plan(model, g["plan"], join), g["summary"]
    if finetune_epochs > 0:
        train_ds = rundata.load_datasets(cfg)[0]
        chosen_model = finetune(model, masks, train_ds, cfg, g["plan"], finetune_epochs, join, device)
        chosen = _summary(chosen_model, masks, layers, loader, n_pe, device)
    test_ds = rundata.load_datasets(cfg)[1]
    test_loader = eval_loader(test_ds, batch_size, device=device)
    recorded = io.load_json(paths.metrics_path(paths.level_dir(run, level)))      # uniform T, as trained
    uniform_test = recorded["test_accuracy"] if cfg.model.time_plan is None else \
        evaluate(with_plan(model, None, join), test_loader, device)["accuracy"]
    test = {"uniform": uniform_test, "chosen": evaluate(chosen_model, test_loader, device)["accuracy"]}
    out = {"settings": {**settings, "validation_images": len(val), "validation_disjoint": disjoint,
                        "arch": cfg.model.arch, "method": cfg.prune.method, "timesteps": cfg.model.timesteps},
           "uniform": base, "sensitivity": sens, "greedy": g["steps"], "chosen": chosen, "test": test}
    io.save_json(out, cache)
    return out
