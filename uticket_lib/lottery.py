"""The lottery-ticket driver: train -> prune -> (balance) -> rewind, one level at a time.

Level 0 trains the dense network and records the rewind point (the state after epoch
``prune.rewind_epoch``). Level k >= 1 prunes the previous level's trained weights, balances the mask
(u-Ticket, Algorithm 1 step 3), rewinds every parameter to the rewind point (so recovered weights take
their rewind values) and trains again under the mask.

Every stage skips work already on disk (``runstore.done``: finished and intact) and every file is
written atomically, ``metrics.json`` last. A level interrupted mid-training resumes from
``partial.pt`` (saved after every epoch) and ends with the same masks and metrics as an
uninterrupted run (CPU, same seed). Level 0 lives in ``runs/dense/<dense_hash>/`` and is shared by
the LTH and u-Ticket runs of the same configuration. One process at a time works on a run directory
(``io.folder_lock``); a second one waits and then reuses the work. Reading runs back is
``runstore``'s; quantized runs after a float run are ``quantized``'s.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from . import io, machine, paths
from . import progress as progress_lines
from . import quant as quantlib
from .config import QuantConfig, RunConfig, RunConfigError  # noqa: F401 (RunConfigError: the API)
from .levelmetrics import cpu_state, level_metrics, score, validated
from .pruning import mask as masklib
from .pruning import methods
from .rewind import level_start_state
from .rundata import load_datasets, validation_record, with_validation
from .runstore import (ArtifactError, build_model, covered_layers, done, float_state,  # noqa: F401
                       load_state, quant_levels, read_balance, read_config, read_metrics, read_search,
                       repair_advice, run_dir, seal, verify)
from .search import level_timesteps, search_record
from .training import barrier, device_for, fit, for_level, is_main
from .validation import check as validate


def train_level(level_dir: Path, cfg: RunConfig, level: int, masks: masklib.Masks,
                 start_state: dict, epochs: int, datasets: tuple[Dataset, ...],
                 rewind_to: Path | None = None, extra: dict | None = None,
                 progress: bool = True, timesteps: int | None = None,
                 quant: QuantConfig | None = None) -> dict:
    """Train one level (resuming from ``partial.pt`` if present) and write its artifacts.

    ``timesteps``: T the level trains and is evaluated with (default ``model.timesteps``). Level 0
    (``rewind_to`` given) with ``prune.search_timesteps`` set switches to the search T at the
    rewind epoch (``search.search_record``; kept in ``search.json`` so a resumed level finds it again).
    With ``quant`` the model computes with quantized weights (quantizers initialised from
    ``start_state``'s surviving weights); its checkpoint then also holds every layer's ``wq.a/c``.
    """
    if done(level_dir):
        return read_metrics(level_dir)
    device = device_for(cfg.train)
    model = build_model(cfg)
    model.timesteps = timesteps or cfg.model.timesteps
    partial = paths.partial_path(level_dir)
    resume = load_state(partial) if partial.exists() else None
    if quant is not None:
        model.load_state_dict(float_state(start_state))
        quantlib.attach(model, quant.bits, quant.layers, masks, quant.init)
        if resume:
            model.load_state_dict(resume["model"])
    else:
        model.load_state_dict(resume["model"] if resume else start_state)
    dev_masks = {n: m.to(device) for n, m in masks.items()}
    masklib.apply(model.to(device), dev_masks)
    history: list[dict] = list(resume["history"]) if resume else []
    train_ds, test_ds, val_ds = (*datasets, None)[:3]
    extra = dict(extra or {})
    search = rewind_to is not None and cfg.prune.search_timesteps is not None

    def switch_timesteps() -> None:  # level 0 at the rewind epoch: the search T from here on
        record = search_record(level_dir, cfg, model, train_ds, device)
        model.timesteps = record["search_timesteps"]
        extra.update(record)

    by_images = rewind_to is not None and cfg.prune.rewind_images is not None
    if rewind_to is not None and not by_images and cfg.prune.rewind_epoch == 0 and is_main():
        io.save_torch(cpu_state(model), rewind_to)

    def on_images(n: int) -> None:   # prune.rewind_images: the first step at or past the point
        if n >= cfg.prune.rewind_images and is_main() and not rewind_to.exists():
            io.save_torch(cpu_state(model), rewind_to)
    if search and (cfg.prune.rewind_epoch == 0 or
                   (resume is not None and resume["epoch"] >= cfg.prune.rewind_epoch)):
        switch_timesteps()

    def on_epoch_end(epoch: int, stats, optim_state: dict) -> None:
        row = {"epoch": epoch, "loss": stats.loss, "train_accuracy": stats.accuracy,
               "images_per_s": stats.images_per_s, "seconds": stats.seconds,
               "timesteps": model.timesteps}
        if cfg.train.eval_every_epoch and is_main():
            row["test_accuracy"] = score(model, test_ds, cfg, device)["accuracy"]
            if val_ds is not None:
                row["val_accuracy"] = score(model, val_ds, cfg, device)["accuracy"]
        history.append(row)
        if is_main() and rewind_to is not None and not by_images and epoch == cfg.prune.rewind_epoch:
            io.save_torch(cpu_state(model), rewind_to)
        if search and epoch == cfg.prune.rewind_epoch:
            switch_timesteps()  # every rank: they all need the same T
        if not is_main():
            return
        io.save_torch({"epoch": epoch, "model": cpu_state(model), "history": history,
                       **optim_state}, partial)

    t0 = time.perf_counter()
    fit(model, train_ds, for_level(cfg.train, level), epochs, level, dev_masks, device, cfg.data.num_workers,
        resume=resume, on_epoch_end=on_epoch_end, progress=progress,
        on_images=on_images if by_images else None)
    metrics = {}
    if is_main():
        test = score(model, test_ds, cfg, device, return_correct=True)
        io.save_torch(test.pop("correct").to(torch.uint8), paths.predictions_path(level_dir))
        val = score(model, val_ds, cfg, device) if val_ds is not None and validated(cfg, level) else None
        precision = {"amp": bool(cfg.train.amp), "machine": machine.describe()}  # bf16 or fp32, where
        metrics = level_metrics(level, epochs, masks, model, test, history, time.perf_counter() - t0,
                           {**extra, **precision}, val)
        if quant is not None:
            metrics["quant"] = {**extra.get("quant", {}), **quantlib.level_stats(model, masks, quant)}
        io.save_torch({"model": cpu_state(model)}, paths.checkpoint_path(level_dir))
        seal(level_dir, (paths.init_path(level_dir.parent), rewind_to) if rewind_to else ())
        io.save_json(metrics, paths.metrics_path(level_dir))
        partial.unlink(missing_ok=True)
        name = cfg.name if level else f"{cfg.name} (dense)"
        progress_lines.level_done(name, level, quant_levels(cfg), metrics)
    barrier()
    return metrics if is_main() else read_metrics(level_dir)


def level_mask(run: Path, cfg: RunConfig, level: int, model: nn.Module) -> tuple[masklib.Masks, dict]:
    """The mask level ``level`` trains with: the method's step (``pruning.methods``) from the
    previous level's trained weights and mask (its unadjusted mask where the method asks for it)."""
    here, prev = paths.level_dir(run, level), paths.level_dir(run, level - 1)
    done = paths.mask_path(here).exists()
    barrier()  # every rank decides before rank 0 writes anything
    if done:
        return masklib.load(paths.mask_path(here)), read_balance(here)
    method = methods.METHODS[cfg.prune.method]
    base_path = paths.mask_path(prev)
    if method.unadjusted_previous(cfg) and paths.pruned_mask_path(prev).exists():
        base_path = paths.pruned_mask_path(prev)
    base = masklib.load(base_path)
    weights = load_state(paths.checkpoint_path(prev))["model"]
    step = method.step(weights, base, cfg, covered_layers(model, base), level)
    if is_main():
        if step.pruned is not None:
            masklib.save(step.pruned, paths.pruned_mask_path(here))
        if step.stats:
            io.save_json(step.stats, paths.balance_path(here))
        masklib.save(step.mask, paths.mask_path(here))
    barrier()
    return step.mask, step.stats


def _runs_root_ok(root: Path | None) -> None:
    r = Path(root) if root else paths.runs_root()
    if r.exists() and not r.is_dir():
        raise RunConfigError(f"the runs root {r} is a file, not a directory; pass --runs DIR "
                             f"(or set $UTICKET_RUNS) to a directory")


def run(cfg: RunConfig, datasets: tuple[Dataset, Dataset] | None = None, root: Path | None = None,
        progress: bool = True) -> Path:
    """Execute (or resume, or skip) every level of ``cfg``; return the run directory.

    Everything that can be checked without training is checked before the first file is written:
    the configuration (``validate``), a ``config.json`` already there, the datasets."""
    validate(cfg)
    _runs_root_ok(root)
    if not plain(cfg):
        from . import quantized  # above this module: it trains its levels through train_level
        return quantized.run(cfg, datasets, root, progress)
    out = run_dir(cfg, root)
    if finished(cfg, root):
        return out
    datasets = with_validation(cfg, datasets) if datasets else load_datasets(cfg)
    with lock(out):
        write_config(out, cfg)
        if not _complete(out, cfg):   # another process may have finished it while we waited
            _run_levels(cfg, out, datasets, root, progress)
    return out


def finished(cfg: RunConfig, root: Path | None = None) -> bool:
    """Every level of ``cfg`` on disk and intact: ``run`` would only return its directory."""
    if not plain(cfg):
        from . import quantized
        return quantized.finished(cfg, root)
    out = run_dir(cfg, root)
    return bool(check_config(out, cfg)) and _complete(out, cfg)


def plain(cfg: RunConfig) -> bool:
    """A run whose levels this module trains, starting from the shared dense level (not a quantized
    isolation / cumulative run, which starts from a float run: ``quantized``)."""
    return cfg.quant.bits is None or cfg.quant.mode == "joint"


def dense_done(cfg: RunConfig, root: Path | None = None) -> bool:
    """The shared dense level of ``cfg`` (``runs/dense/<dense_hash>/level_0``) is on disk and intact."""
    return done(paths.level_dir(paths.dense_dir(cfg.dense_hash(), root), 0))


def train_dense(cfg: RunConfig, datasets=None, root: Path | None = None, progress: bool = True) -> Path:
    """Train (or reuse) only the shared dense level of ``cfg``; returns its folder. ``run`` calls the
    same code; this lets a scheduler (``parallel``) train it before the runs that share it."""
    validate(cfg)
    _runs_root_ok(root)
    dense = paths.dense_dir(cfg.dense_hash(), root)
    if not dense_done(cfg, root):
        datasets = with_validation(cfg, datasets) if datasets else load_datasets(cfg)
        with lock(dense, "the shared dense level"):
            _train_dense(cfg, dense, datasets, progress)
    return dense


@contextlib.contextmanager
def lock(folder: Path, what: str = "run"):
    """A folder's lock, taken by rank 0 only; the other DDP ranks wait at a barrier until it holds
    the lock, so every rank then sees the same files."""
    with io.folder_lock(folder, what) if is_main() else contextlib.nullcontext():
        barrier()
        yield


def _run_levels(cfg: RunConfig, out: Path, datasets: tuple[Dataset, ...], root: Path | None,
                progress: bool) -> None:
    record = validation_record(cfg, datasets)
    if record is not None and is_main() and not paths.validation_path(out).exists():
        io.save_json(record, paths.validation_path(out))
    _ensure_dense(cfg, out, datasets, root, progress)
    model = build_model(cfg)
    search = read_search(out)
    joint = cfg.quant if cfg.quant.bits is not None else None   # joint: QAT in every round >= 1
    for level in range(1, cfg.prune.levels):
        here = paths.level_dir(out, level)
        if done(here):
            continue
        masks, stats = level_mask(out, cfg, level, model)
        extra = {"balance": stats} if stats else {}
        t = level_timesteps(cfg, level, search)
        if search is not None and t != cfg.model.timesteps:
            extra.update(search)
        if joint:
            extra["quant"] = {"start": "rewind point"}
        train_level(here, cfg, level, masks, level_start_state(out, cfg, level), level_epochs(cfg, level),
                     datasets, extra=extra, progress=progress, timesteps=t, quant=joint)


def level_epochs(cfg: RunConfig, level: int) -> int:
    """Epochs of pruning round ``level`` >= 1: ``train.epochs_final`` for the last one where set."""
    if cfg.train.epochs_final is not None and level == cfg.prune.levels - 1:
        return cfg.train.epochs_final
    return cfg.train.epochs


def _complete(out: Path, cfg: RunConfig) -> bool:
    """Every level finished and intact (``done``)."""
    return all(done(paths.level_dir(out, k)) for k in range(cfg.prune.levels))


def check_config(out: Path, cfg: RunConfig) -> RunConfig | None:
    """The configuration on disk (None for a new run); one that hashes differently is an error."""
    path = paths.config_path(out)
    if not path.exists():
        return None
    on_disk = read_config(out)
    if on_disk.hash() != cfg.hash():
        raise RunConfigError(f"{path} holds a different configuration (hash {on_disk.hash()}) "
                             f"than its folder's name says ({cfg.hash()}); {repair_advice(path)}")
    return on_disk


def write_config(out: Path, cfg: RunConfig) -> None:
    on_disk = check_config(out, cfg)
    if on_disk is not None and on_disk.prune.levels >= cfg.prune.levels:
        return
    if is_main():  # new run, or the same run extended by more levels
        io.save_json(cfg.to_dict(), paths.config_path(out))


def _ensure_dense(cfg: RunConfig, out: Path, datasets, root: Path | None, progress: bool) -> None:
    """Train level 0 once per dense hash, then copy its artifacts into the run directory (after
    checking them against the dense level's manifest; ``metrics.json`` last)."""
    if done(paths.level_dir(out, 0)):
        return
    dense = paths.dense_dir(cfg.dense_hash(), root)
    with lock(dense, "the shared dense level"):
        _train_dense(cfg, dense, datasets, progress)
    level0 = paths.level_dir(dense, 0)
    if is_main():
        for src in (paths.init_path(dense), paths.rewind_path(dense)):
            io.copy(src, out / src.name)
        files = [p for p in level0.iterdir() if p.is_file() and not p.name.startswith(".")]
        for src in sorted(files, key=lambda p: p.name == paths.metrics_path(level0).name):
            io.copy(src, paths.level_dir(out, 0) / src.name)
    barrier()
    verify(paths.level_dir(out, 0))


def _train_dense(cfg: RunConfig, dense: Path, datasets, progress: bool) -> None:
    level0 = paths.level_dir(dense, 0)
    if not done(level0):
        model = build_model(cfg)
        if is_main() and not paths.init_path(dense).exists():
            io.save_torch(cpu_state(model), paths.init_path(dense))
        barrier()
        init = load_state(paths.init_path(dense))
        masks = masklib.ones(masklib.prunable(model))
        if is_main():
            masklib.save(masks, paths.mask_path(level0))
        train_level(level0, cfg, 0, masks, init, cfg.train.epochs_dense, datasets,
                     rewind_to=paths.rewind_path(dense), progress=progress)
