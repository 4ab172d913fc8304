"""The lottery-ticket driver: train -> prune -> (balance) -> rewind, one level at a time.

Level 0 trains the dense network and records the rewind point (the state after epoch
``prune.rewind_epoch``). Level k >= 1 prunes the previous level's trained weights, balances the mask
(u-Ticket, Algorithm 1 step 3), rewinds every parameter to the rewind point (so recovered weights take
their rewind values) and trains again under the mask.

Every stage skips work already on disk and every file is written atomically; ``metrics.json`` is
written last, so its presence means the level is complete. A level interrupted mid-training resumes
from ``partial.pt`` (saved after every epoch) and ends with the same masks and metrics as an
uninterrupted run (CPU, same seed). Level 0 lives in ``runs/dense/<dense_hash>/`` and is shared by
the LTH and u-Ticket runs of the same configuration.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from . import data as datalib
from . import io, models, paths
from . import progress as progress_lines
from .config import RunConfig, from_dict
from .pruning.balance import balance as balance_masks
from .pruning import magnitude
from .pruning import mask as masklib
from .training import (barrier, device_for, eval_loader, evaluate, fit, is_main)

METHODS = ("lth", "uticket")


class RunConfigError(ValueError):
    """A run configuration that cannot be executed."""


# ----------------------------------------------------------------------------- building blocks
def validate(cfg: RunConfig) -> None:
    """Fail early, with the fix, on settings that cannot run."""
    checks = [
        (cfg.model.arch in models.REGISTRY,
         f"unknown arch {cfg.model.arch!r}; choose one of: {', '.join(sorted(models.REGISTRY))}"),
        (cfg.data.dataset in datalib.DATASETS,
         f"unknown dataset {cfg.data.dataset!r}; choose one of: {', '.join(sorted(datalib.DATASETS))}"),
        (cfg.balance.method in METHODS,
         f"unknown method {cfg.balance.method!r}; choose one of: {', '.join(METHODS)}"),
        (cfg.balance.n_pe >= 1, f"balance.n_pe must be >= 1, got {cfg.balance.n_pe}"),
        (cfg.balance.reference in ("block", "layer"),
         f"balance.reference must be 'block' or 'layer', got {cfg.balance.reference!r}"),
        (cfg.prune.scope in ("global", "layer"),
         f"prune.scope must be 'global' or 'layer', got {cfg.prune.scope!r}"),
        (0.0 <= cfg.prune.fraction < 1.0, f"prune.fraction must be in [0, 1), got {cfg.prune.fraction}"),
        (cfg.prune.levels >= 1, f"prune.levels must be >= 1, got {cfg.prune.levels}"),
        (0 <= cfg.prune.rewind_epoch <= cfg.train.epochs_dense,
         f"prune.rewind_epoch ({cfg.prune.rewind_epoch}) must lie in [0, train.epochs_dense="
         f"{cfg.train.epochs_dense}]"),
        (cfg.model.width > 0, f"model.width must be > 0, got {cfg.model.width}"),
        (cfg.model.timesteps >= 1, f"model.timesteps must be >= 1, got {cfg.model.timesteps}"),
    ]
    for ok, message in checks:
        if not ok:
            raise RunConfigError(message)


def build_model(cfg: RunConfig) -> nn.Module:
    """The run's network, initialised from ``train.seed``."""
    spec = datalib.DATASETS[cfg.data.dataset]
    torch.manual_seed(cfg.train.seed)
    return models.build(cfg.model.arch, in_channels=spec.in_channels, num_classes=spec.num_classes,
                        width=cfg.model.width, timesteps=cfg.model.timesteps)


def load_datasets(cfg: RunConfig) -> tuple[Dataset, Dataset]:
    d = cfg.data
    train = datalib.dataset(d.dataset, train=True, root=d.root, download=d.download,
                            augment=d.augment, subset=d.train_subset, subset_seed=d.subset_seed)
    test = datalib.dataset(d.dataset, train=False, root=d.root, download=d.download,
                           augment=False, subset=d.test_subset, subset_seed=d.subset_seed)
    return train, test


def covered_layers(model: nn.Module, masks: masklib.Masks) -> list[str]:
    """Layers u-Ticket balances: every conv except the encoding conv (linear layers excluded)."""
    return [n for n, m in masks.items() if m.dim() == 4 and n != model.encoder_name]


def load_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


# ----------------------------------------------------------------------------- one level
def _train_level(level_dir: Path, cfg: RunConfig, level: int, masks: masklib.Masks,
                 start_state: dict, epochs: int, datasets: tuple[Dataset, Dataset],
                 rewind_to: Path | None = None, extra: dict | None = None,
                 progress: bool = True) -> dict:
    """Train one level (resuming from ``partial.pt`` if present) and write its artifacts."""
    if paths.metrics_path(level_dir).exists():
        return io.load_json(paths.metrics_path(level_dir))
    device = device_for(cfg.train)
    model = build_model(cfg)
    partial = paths.partial_path(level_dir)
    resume = load_state(partial) if partial.exists() else None
    model.load_state_dict(resume["model"] if resume else start_state)
    dev_masks = {n: m.to(device) for n, m in masks.items()}
    masklib.apply(model.to(device), dev_masks)
    history: list[dict] = list(resume["history"]) if resume else []
    if rewind_to is not None and cfg.prune.rewind_epoch == 0 and is_main():
        io.save_torch(_cpu_state(model), rewind_to)
    train_ds, test_ds = datasets

    def on_epoch_end(epoch: int, stats, optim_state: dict) -> None:
        row = {"epoch": epoch, "loss": stats.loss, "train_accuracy": stats.accuracy,
               "images_per_s": stats.images_per_s, "seconds": stats.seconds}
        if cfg.train.eval_every_epoch and is_main():
            row["test_accuracy"] = _evaluate(model, test_ds, cfg, device)["accuracy"]
        history.append(row)
        if not is_main():
            return
        if rewind_to is not None and epoch == cfg.prune.rewind_epoch:
            io.save_torch(_cpu_state(model), rewind_to)
        io.save_torch({"epoch": epoch, "model": _cpu_state(model), "history": history,
                       **optim_state}, partial)

    t0 = time.perf_counter()
    fit(model, train_ds, cfg.train, epochs, level, dev_masks, device, cfg.data.num_workers,
        resume=resume, on_epoch_end=on_epoch_end, progress=progress)
    metrics = {}
    if is_main():
        test = _evaluate(model, test_ds, cfg, device)
        metrics = _metrics(level, epochs, masks, model, test, history, time.perf_counter() - t0,
                           extra or {})
        io.save_torch({"model": _cpu_state(model)}, paths.checkpoint_path(level_dir))
        io.save_json(metrics, paths.metrics_path(level_dir))
        partial.unlink(missing_ok=True)
        name = cfg.name if level else f"{cfg.name} (dense)"
        progress_lines.level_done(name, level, cfg.prune.levels, metrics)
    barrier()
    return metrics if is_main() else io.load_json(paths.metrics_path(level_dir))


def _evaluate(model: nn.Module, test_ds: Dataset, cfg: RunConfig, device: torch.device) -> dict:
    loader = eval_loader(test_ds, max(cfg.train.batch_size, 256), cfg.data.num_workers)
    return evaluate(model, loader, device, per_layer=True)


def _cpu_state(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _metrics(level: int, epochs: int, masks: masklib.Masks, model: nn.Module, test: dict,
             history: list[dict], seconds: float, extra: dict) -> dict:
    covered = covered_layers(model, masks)
    speeds = [h["images_per_s"] for h in history]
    best = [h["test_accuracy"] for h in history if "test_accuracy" in h]
    return {
        "level": level,
        "epochs": epochs,
        "sparsity": masklib.sparsity(masks),                                  # all conv + linear
        "conv_sparsity": masklib.sparsity({n: masks[n] for n in covered}),    # covered convs
        "layer_sparsity": masklib.layer_sparsity(masks),
        "nonzero_weights": int(sum(int(m.sum()) for m in masks.values())),
        "test_accuracy": test["accuracy"],                 # final epoch, the number we report
        "best_test_accuracy": max(best) if best else None,  # released code's test-set selection
        "test_loss": test["loss"],
        "firing_rate": test["firing_rate"],
        "spike_sparsity": test["spike_sparsity"],          # Table I: 1 - firing rate
        "layer_firing_rate": test["layer_firing_rate"],
        "test_images": test["images"],
        "train_images_per_s": sum(speeds) / len(speeds) if speeds else None,
        "seconds": seconds,
        "history": history,
        **extra,
    }


# ----------------------------------------------------------------------------- masks of a level
def level_mask(run: Path, cfg: RunConfig, level: int, model: nn.Module) -> tuple[masklib.Masks, dict]:
    """The mask level ``level`` trains with: prune the previous level, then balance (u-Ticket).

    Algorithm 1 (``balance.carry``) prunes the previous level's balanced mask; the released code
    prunes its unbalanced one (``mask_pruned.pt``) instead, so recovered weights do not carry over.
    """
    here, prev = paths.level_dir(run, level), paths.level_dir(run, level - 1)
    done = paths.mask_path(here).exists()
    barrier()  # every rank decides before rank 0 writes anything
    if done:
        return masklib.load(paths.mask_path(here)), _read_balance_stats(here)
    base_path = paths.mask_path(prev)
    if not cfg.balance.carry and paths.pruned_mask_path(prev).exists():
        base_path = paths.pruned_mask_path(prev)
    base = masklib.load(base_path)
    weights = load_state(paths.checkpoint_path(prev))["model"]
    pruned = magnitude.prune({n: weights[n] for n in base}, base, cfg.prune.fraction, cfg.prune.scope)
    stats: dict = {}
    final = pruned
    if cfg.balance.method == "uticket":
        covered = covered_layers(model, pruned)
        final = balance_masks(pruned, n_pe=cfg.balance.n_pe, reference=cfg.balance.reference,
                                   covered=covered, seed=cfg.balance.seed * 1000 + level)
        stats = _balance_stats(pruned, final)
        if is_main():
            masklib.save(pruned, paths.pruned_mask_path(here))
            io.save_json(stats, here / "balance.json")
    if is_main():
        masklib.save(final, paths.mask_path(here))
    barrier()
    return final, stats


def _balance_stats(before: masklib.Masks, after: masklib.Masks) -> dict:
    recovered = sum(int(((after[n] > 0) & (before[n] == 0)).sum()) for n in before)
    removed = sum(int(((after[n] == 0) & (before[n] > 0)).sum()) for n in before)
    return {"recovered": recovered, "removed": removed,
            "sparsity_before_balance": masklib.sparsity(before)}


def _read_balance_stats(level_dir: Path) -> dict:
    p = level_dir / "balance.json"
    return io.load_json(p) if p.exists() else {}


def level_start_state(run: Path, cfg: RunConfig, level: int) -> dict:
    """The rewind point; with ``prune.released_rewind`` biases and BN statistics are not rewound
    (they keep the previous level's trained values, the released code's aliasing bug)."""
    state = load_state(paths.rewind_path(run))
    if cfg.prune.released_rewind:
        trained = load_state(paths.checkpoint_path(paths.level_dir(run, level - 1)))["model"]
        for k, v in trained.items():
            if k.endswith("bias") or k.endswith("running_mean") or k.endswith("running_var"):
                state[k] = v
    return state


# ----------------------------------------------------------------------------- the run
def run_dir(cfg: RunConfig, root: Path | None = None) -> Path:
    return paths.run_dir(cfg.name, cfg.hash(), root)


def run(cfg: RunConfig, datasets: tuple[Dataset, Dataset] | None = None, root: Path | None = None,
        progress: bool = True) -> Path:
    """Execute (or resume, or skip) every level of ``cfg``; return the run directory."""
    validate(cfg)
    out = run_dir(cfg, root)
    _write_config(out, cfg)
    if _complete(out, cfg):
        return out
    datasets = datasets or load_datasets(cfg)
    _ensure_dense(cfg, out, datasets, root, progress)
    model = build_model(cfg)
    for level in range(1, cfg.prune.levels):
        here = paths.level_dir(out, level)
        if paths.metrics_path(here).exists():
            continue
        masks, stats = level_mask(out, cfg, level, model)
        _train_level(here, cfg, level, masks, level_start_state(out, cfg, level), cfg.train.epochs,
                     datasets, extra={"balance": stats} if stats else None, progress=progress)
    return out


def _complete(out: Path, cfg: RunConfig) -> bool:
    return all(paths.metrics_path(paths.level_dir(out, k)).exists() for k in range(cfg.prune.levels))


def _write_config(out: Path, cfg: RunConfig) -> None:
    path = paths.config_path(out)
    if path.exists():
        on_disk = from_dict(io.load_json(path))
        if on_disk.hash() != cfg.hash():
            raise RunConfigError(f"{path} holds a different configuration; remove {out} to start over")
        if on_disk.prune.levels >= cfg.prune.levels:
            return
    if is_main():  # new run, or the same run extended by more levels
        io.save_json(cfg.to_dict(), path)


def _ensure_dense(cfg: RunConfig, out: Path, datasets, root: Path | None, progress: bool) -> None:
    """Train level 0 once per dense hash, then copy its artifacts into the run directory."""
    dense = paths.dense_dir(cfg.dense_hash(), root)
    level0 = paths.level_dir(dense, 0)
    if not paths.metrics_path(level0).exists():
        model = build_model(cfg)
        if is_main() and not paths.init_path(dense).exists():
            io.save_torch(_cpu_state(model), paths.init_path(dense))
        barrier()
        init = load_state(paths.init_path(dense))
        masks = masklib.ones(masklib.prunable(model))
        if is_main():
            masklib.save(masks, paths.mask_path(level0))
        _train_level(level0, cfg, 0, masks, init, cfg.train.epochs_dense, datasets,
                     rewind_to=paths.rewind_path(dense), progress=progress)
    if is_main():
        for src in (paths.init_path(dense), paths.rewind_path(dense)):
            _copy(src, out / src.name)
        for src in level0.iterdir():
            if not src.name.startswith("."):
                _copy(src, paths.level_dir(out, 0) / src.name)
    barrier()


def _copy(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


# ----------------------------------------------------------------------------- reading runs back
def levels(out: Path) -> list[dict]:
    """Metrics of every completed level, in order."""
    found = []
    for d in sorted(out.glob("level_*"), key=lambda p: int(p.name.split("_")[1])):
        if paths.metrics_path(d).exists():
            found.append(io.load_json(paths.metrics_path(d)))
    return found


def list_runs(root: Path | None = None) -> list[dict]:
    """Every run under the runs root with its config, hash and progress."""
    root = Path(root) if root else paths.runs_root()
    rows = []
    for cfg_file in sorted(root.glob("*/config.json")):
        cfg = from_dict(io.load_json(cfg_file))
        done = len(levels(cfg_file.parent))
        rows.append({"name": cfg_file.parent.name, "path": str(cfg_file.parent), "hash": cfg.hash(),
                     "arch": cfg.model.arch, "dataset": cfg.data.dataset,
                     "method": cfg.balance.method, "levels_done": done,
                     "levels": cfg.prune.levels, "config": cfg.to_dict()})
    return rows


def load_masks(out: Path, level: int) -> masklib.Masks:
    return masklib.load(paths.mask_path(paths.level_dir(out, level)))


def load_model(out: Path, level: int) -> nn.Module:
    """The trained network of a level, in eval mode on CPU."""
    cfg = from_dict(io.load_json(paths.config_path(out)))
    model = build_model(cfg)
    model.load_state_dict(load_state(paths.checkpoint_path(paths.level_dir(out, level)))["model"])
    return model.eval()
