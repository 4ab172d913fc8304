"""Quantized runs after a float run (seed 002's isolation and cumulative modes), and one level.

Isolation quantizes the dense network only; cumulative quantizes each level's trained ticket, then
fine-tunes it for ``quant.epochs`` under the level's mask, in this run's level folders. The float
run comes first (``lottery.run``, reused when done). Joint mode (QAT in every round from the rewind
point) is a plain ``lottery.run``. ``quantize_level`` quantizes one level of a float run in place.
"""
from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from . import io, lottery, paths
from .config import RunConfig
from .pruning import mask as masklib
from .runstore import done, load_masks, load_state, quant_level_dir, read_config, read_metrics, run_dir
from .training import barrier, is_main
from .validation import check


def quant_levels(cfg: RunConfig) -> int:
    """Levels of a run: isolation quantizes the dense network only (level 0)."""
    return 1 if cfg.quant.bits is not None and cfg.quant.mode == "isolation" else cfg.prune.levels


def float_config(cfg: RunConfig) -> RunConfig:
    """The float run a quantized isolation / cumulative run starts from (same hash as without quant)."""
    f = cfg.replace(**{"quant.bits": None})
    return f.replace(**{"prune.levels": 1}) if cfg.quant.mode == "isolation" else f


def finished(cfg: RunConfig, root: Path | None = None) -> bool:
    """Every quantized level of ``cfg`` on disk and intact: ``run`` would only return its directory."""
    out = run_dir(cfg, root)
    return bool(lottery.check_config(out, cfg)) and all(
        done(paths.level_dir(out, k)) for k in range(quant_levels(cfg)))


def run(cfg: RunConfig, datasets=None, root: Path | None = None, progress: bool = True) -> Path:
    """Isolation / cumulative: run (or reuse) the float run, then quantize and fine-tune each level's
    trained network (``quant.epochs`` of QAT under the level's mask) into this run's level folder."""
    out = run_dir(cfg, root)
    n = quant_levels(cfg)
    if finished(cfg, root):
        return out
    datasets = datasets or lottery.load_datasets(cfg)
    src = lottery.run(float_config(cfg), datasets, root, progress)
    with lottery.lock(out):
        lottery.write_config(out, cfg)
        _quantize_levels(cfg, out, src, n, datasets, progress)
    return out


def _quantize_levels(cfg: RunConfig, out: Path, src: Path, n: int, datasets, progress: bool) -> None:
    for level in range(n):
        here, there = paths.level_dir(out, level), paths.level_dir(src, level)
        if done(here):
            continue
        if is_main():
            for name in (paths.mask_path(there).name, paths.balance_path(there).name):
                if (there / name).exists():
                    io.copy(there / name, here / name)
        barrier()
        masks = masklib.load(paths.mask_path(there))
        float_metrics = read_metrics(there)
        extra = {"quant": {"float_test_accuracy": float_metrics["test_accuracy"], "from_run": src.name}}
        if "balance" in float_metrics:
            extra["balance"] = float_metrics["balance"]
        lottery.train_level(here, cfg, level, masks, load_state(paths.checkpoint_path(there))["model"],
                     cfg.quant.epochs, datasets, extra=extra, progress=progress, quant=cfg.quant)


def quantize_level(out: Path, level: int, bits: int, epochs: int = 1, layers: str = "all",
                   datasets: tuple[Dataset, Dataset] | None = None, progress: bool = False) -> Path:
    """Quantize one trained level of a float run and fine-tune it (cumulative mode, one level).

    Cheaper than a whole ``quant.mode=cumulative`` run when only some levels matter. The result
    (checkpoint with ``wq.a/c``, metrics with a ``quant`` entry) lands in ``quant_level_dir`` inside
    the level folder; a finished one is reused, an interrupted one resumes.
    """
    cfg = read_config(out)
    qcfg = cfg.replace(**{"quant.bits": bits, "quant.mode": "cumulative", "quant.layers": layers,
                          "quant.epochs": epochs})
    check(qcfg)
    here = quant_level_dir(out, level, qcfg.quant)
    if not done(here):
        there = paths.level_dir(out, level)
        float_metrics = read_metrics(there)
        lottery.train_level(here, qcfg, level, load_masks(out, level),
                     load_state(paths.checkpoint_path(there))["model"], epochs,
                     datasets or lottery.load_datasets(cfg),
                     extra={"quant": {"float_test_accuracy": float_metrics["test_accuracy"]}},
                     progress=progress, quant=qcfg.quant)
    return here
