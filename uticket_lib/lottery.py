"""The lottery-ticket driver: train -> prune -> (balance) -> rewind, one level at a time.

Level 0 trains the dense network and records the rewind point (the state after epoch
``prune.rewind_epoch``). Level k >= 1 prunes the previous level's trained weights, balances the mask
(u-Ticket, Algorithm 1 step 3), rewinds every parameter to the rewind point (so recovered weights take
their rewind values) and trains again under the mask.

Every stage skips work already on disk and every file is written atomically; ``metrics.json`` is
written last, so its presence means the level is complete, and ``manifest.json`` just before it records
the size and SHA-256 of every other artifact of the level: a rerun checks them before it skips a level
or copies the shared dense level, and names the damaged file and the repair. One process at a time
works on a run directory (``io.folder_lock``); a second one waits and then reuses the work. A level interrupted mid-training resumes
from ``partial.pt`` (saved after every epoch) and ends with the same masks and metrics as an
uninterrupted run (CPU, same seed). Level 0 lives in ``runs/dense/<dense_hash>/`` and is shared by
the LTH and u-Ticket runs of the same configuration.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
import weakref
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from . import data as datalib
from . import io, models, paths
from . import progress as progress_lines
from . import quant as quantlib
from .config import QuantConfig, RunConfig, from_dict, stable_hash
from .pruning.balance import balance as balance_masks
from .pruning import magnitude
from .pruning import mask as masklib
from .training import (barrier, device_for, et_choice, et_kl_raw, et_normalise, eval_loader,
                       evaluate, fit, is_main, ET_IMAGES)

METHODS = ("lth", "uticket")


class RunConfigError(ValueError):
    """A run configuration that cannot be executed."""


class ArtifactError(RunConfigError):
    """A file of a run that is missing, damaged or not the one the run wrote."""


# ----------------------------------------------------------------------------- building blocks
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_str(v) -> bool:
    return isinstance(v, str)


def _is_num(v) -> bool:
    """A finite int or float (not a bool, not inf or nan)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _device_ok(device) -> bool:
    if device is None:
        return True
    try:
        torch.device(device)
    except (RuntimeError, TypeError):
        return False
    return True


def _device_missing(device: str | None) -> str | None:
    """Why ``train.device`` names a device this machine lacks, or None when it has it."""
    if device is None:
        return None
    dev = torch.device(device)
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            return f"train.device={device!r} but this machine has no CUDA GPU; --set train.device=cpu"
        if dev.index is not None and dev.index >= n:
            return f"train.device={device!r} but this machine has {n} CUDA GPU(s) (cuda:0..cuda:{n - 1})"
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        return f"train.device={device!r} but MPS is not available here; --set train.device=cpu"
    elif dev.type not in ("cpu", "cuda", "mps"):
        return f"train.device={device!r}: uticket trains on cpu, cuda or mps"
    return None


MAX_WIDTH = 16.0   # channel multiplier: 16 x the paper's network is ~4e9 VGG-16 weights
MAX_LR = 10.0      # the paper's SGD uses 0.1, the cpu profile's AdamW 2e-3


def memory_estimate(cfg: RunConfig) -> dict:
    """Bytes the run's parameters need while training, from the network built on the meta device
    (no memory allocated): weights, gradients, two optimizer moments and the checkpoint copy, 5 x 4
    bytes per parameter. Activations (batch x T x feature maps) come on top and are not counted."""
    spec = datalib.DATASETS[cfg.data.dataset]
    with torch.device("meta"):
        net = models.build(cfg.model.arch, in_channels=spec.in_channels,
                           num_classes=spec.num_classes, width=cfg.model.width,
                           timesteps=cfg.model.timesteps)
    n = sum(p.numel() for p in net.parameters())
    return {"parameters": n, "bytes": 5 * 4 * n}


def _available_bytes(device: str | None) -> int | None:
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        return torch.cuda.get_device_properties(dev.index or 0).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _checks(cfg: RunConfig) -> list[tuple[str, bool, str]]:
    """(field, ok, what it must be) for every field of the configuration."""
    m, d, t, p, b, q = cfg.model, cfg.data, cfg.train, cfg.prune, cfg.balance, cfg.quant
    opt_pos = lambda v: v is None or (_is_int(v) and v >= 1)  # noqa: E731
    st = p.search_timesteps
    vs = d.val_split
    return [
        ("model.arch", _is_str(m.arch) and m.arch in models.REGISTRY, f"one of: {', '.join(sorted(models.REGISTRY))}"),
        ("model.width", _is_num(m.width) and 0 < m.width <= MAX_WIDTH, f"a number in (0, {MAX_WIDTH:g}]"),
        ("model.timesteps", _is_int(m.timesteps) and m.timesteps >= 1, "an integer >= 1"),
        ("model.time_plan", m.time_plan is None or (isinstance(m.time_plan, tuple)
                                                   and all(_is_int(x) and x >= 1 for x in m.time_plan)),
         "none or integers >= 1, one per stage (e.g. 4,4,2)"),
        ("model.time_join", _is_str(m.time_join) and m.time_join in ("sum", "or"), "one of: sum, or"),
        ("data.dataset", _is_str(d.dataset) and d.dataset in datalib.DATASETS,
         f"one of: {', '.join(sorted(datalib.DATASETS))}"),
        ("data.train_subset", opt_pos(d.train_subset), "none or an integer >= 1"),
        ("data.test_subset", opt_pos(d.test_subset), "none or an integer >= 1"),
        ("data.augment", isinstance(d.augment, bool), "true or false"),
        ("data.subset_seed", _is_int(d.subset_seed) and d.subset_seed >= 0, "an integer >= 0"),
        ("data.val_split", vs is None or (_is_int(vs) and vs >= 1)
         or (isinstance(vs, float) and 0.0 < vs < 1.0),
         "none, a count >= 1 or a fraction in (0, 1)"),
        ("data.root", d.root is None or isinstance(d.root, str), "none or a directory"),
        ("data.download", isinstance(d.download, bool), "true or false"),
        ("data.num_workers", _is_int(d.num_workers) and d.num_workers >= 0, "an integer >= 0"),
        ("train.epochs_dense", _is_int(t.epochs_dense) and t.epochs_dense >= 1, "an integer >= 1"),
        ("train.epochs", _is_int(t.epochs) and t.epochs >= 1, "an integer >= 1"),
        ("train.batch_size", _is_int(t.batch_size) and t.batch_size >= 1, "an integer >= 1"),
        ("train.lr", _is_num(t.lr) and 0 < t.lr <= MAX_LR, f"a finite number in (0, {MAX_LR:g}]"),
        ("train.momentum", _is_num(t.momentum) and 0 <= t.momentum < 1, "a number in [0, 1)"),
        ("train.weight_decay", _is_num(t.weight_decay) and 0 <= t.weight_decay < 1, "a number in [0, 1)"),
        ("train.released_weight_decay", isinstance(t.released_weight_decay, bool), "true or false"),
        ("train.label_smoothing", _is_num(t.label_smoothing) and 0 <= t.label_smoothing < 1,
         "a number in [0, 1)"),
        ("train.seed", _is_int(t.seed) and t.seed >= 0, "an integer >= 0"),
        ("train.eval_every_epoch", isinstance(t.eval_every_epoch, bool), "true or false"),
        ("train.device", _device_ok(t.device), "none or a torch device such as cpu, cuda, cuda:1"),
        ("train.optimizer", _is_str(t.optimizer) and t.optimizer in ("sgd", "adam"), "one of: sgd, adam"),
        ("train.amp", isinstance(t.amp, bool), "true or false"),
        ("train.channels_last", isinstance(t.channels_last, bool), "true or false"),
        ("prune.levels", _is_int(p.levels) and p.levels >= 1, "an integer >= 1"),
        ("prune.fraction", _is_num(p.fraction) and 0.0 <= p.fraction < 1.0, "a number in [0, 1)"),
        ("prune.scope", _is_str(p.scope) and p.scope in magnitude.SCOPES, f"one of: {', '.join(magnitude.SCOPES)}"),
        ("prune.rewind_epoch", _is_int(p.rewind_epoch) and _is_int(t.epochs_dense)
         and 0 <= p.rewind_epoch <= t.epochs_dense,
         f"an integer in [0, train.epochs_dense={t.epochs_dense}]"),
        ("prune.released_rewind", isinstance(p.released_rewind, bool), "true or false"),
        ("prune.search_timesteps", st is None or (_is_str(st) and st == "et")
         or (_is_int(st) and _is_int(m.timesteps) and 1 <= st <= m.timesteps),
         f"none, 'et' or an integer in [1, model.timesteps={m.timesteps}]"),
        ("balance.method", _is_str(b.method) and b.method in METHODS, f"one of: {', '.join(METHODS)}"),
        ("balance.n_pe", _is_int(b.n_pe) and b.n_pe >= 1, "an integer >= 1"),
        ("balance.reference", _is_str(b.reference) and b.reference in ("block", "layer"), "'block' or 'layer'"),
        ("balance.carry", isinstance(b.carry, bool), "true or false"),
        ("balance.seed", _is_int(b.seed) and b.seed >= 0, "an integer >= 0"),
        ("quant.bits", q.bits is None or (_is_int(q.bits) and 2 <= q.bits <= 16),
         "none (float) or an integer in [2, 16]"),
        ("quant.mode", _is_str(q.mode) and q.mode in QUANT_MODES, f"one of: {', '.join(QUANT_MODES)}"),
        ("quant.layers", _is_str(q.layers) and q.layers in quantlib.quantizer.LAYER_SETS,
         f"one of: {', '.join(quantlib.quantizer.LAYER_SETS)}"),
        ("quant.epochs", _is_int(q.epochs) and q.epochs >= 1, "an integer >= 1"),
        ("quant.init", _is_str(q.init) and q.init in quantlib.quantizer.INITS,
         f"one of: {', '.join(quantlib.quantizer.INITS)}"),
    ]


def validate(cfg: RunConfig) -> None:
    """Fail early, with the fix, on settings that cannot run: every field has a range or choice."""
    for key, ok, must in _checks(cfg):
        if not ok:
            section, name = key.split(".")
            value = getattr(getattr(cfg, section), name)
            if must.startswith("one of"):
                raise RunConfigError(f"unknown {name} {value!r} ({key}); choose {must}")
            raise RunConfigError(f"{key} must be {must}, got {value!r}; fix it with --set {key}=...")
    if cfg.prune.search_timesteps is not None and cfg.prune.levels < 2:
        raise RunConfigError(f"prune.search_timesteps needs prune.levels >= 2 (a search level and "
                             f"the final level), got {cfg.prune.levels}")
    if cfg.balance.method == "uticket" and not cfg.balance.carry and cfg.prune.scope != "global":
        raise RunConfigError("balance.carry=false is the released global prune_by_percentile; "
                             "use it with prune.scope=global")
    missing = _device_missing(cfg.train.device)
    if missing:
        raise RunConfigError(missing)
    need, have = memory_estimate(cfg), _available_bytes(cfg.train.device)
    if have is not None and need["bytes"] > have:
        raise RunConfigError(f"model.width={cfg.model.width:g} gives {cfg.model.arch} "
                             f"{need['parameters']:,} weights, {need['bytes'] / 2**30:.1f} GiB to train "
                             f"(weights, gradients, optimizer state, checkpoint) against "
                             f"{have / 2**30:.1f} GiB here; set model.width smaller")
    try:  # a time plan must fit the architecture's stages
        if cfg.model.time_plan is not None or cfg.model.time_join != "sum":
            with torch.device("meta"):
                build_model(cfg)
    except models.TimePlanError as err:
        raise RunConfigError(str(err)) from None


def build_model(cfg: RunConfig) -> nn.Module:
    """The run's network, initialised from ``train.seed``."""
    spec = datalib.DATASETS[cfg.data.dataset]
    torch.manual_seed(cfg.train.seed)
    return models.build(cfg.model.arch, in_channels=spec.in_channels, num_classes=spec.num_classes,
                        width=cfg.model.width, timesteps=cfg.model.timesteps,
                        time_plan=cfg.model.time_plan, time_join=cfg.model.time_join)


def load_datasets(cfg: RunConfig) -> tuple[Dataset, ...]:
    """(train, test), or (train, test, validation) when ``data.val_split`` is set."""
    d = cfg.data
    test = datalib.dataset(d.dataset, train=False, root=d.root, download=d.download,
                           augment=False, subset=d.test_subset, subset_seed=d.subset_seed,
                           subset_key="data.test_subset")
    if d.val_split is not None:
        train, val = datalib.train_val(d.dataset, d.val_split, root=d.root, download=d.download,
                                       augment=d.augment, subset=d.train_subset,
                                       subset_seed=d.subset_seed)
        return train, test, val
    train = datalib.dataset(d.dataset, train=True, root=d.root, download=d.download,
                            augment=d.augment, subset=d.train_subset, subset_seed=d.subset_seed,
                            subset_key="data.train_subset")
    return train, test


def with_validation(cfg: RunConfig, datasets: tuple[Dataset, ...]) -> tuple[Dataset, ...]:
    """Datasets passed in by a caller as (train, test): with ``data.val_split`` set, carve the
    validation split out of ``train`` (``data.split_indices``, seeded by ``data.subset_seed``)."""
    if cfg.data.val_split is None or len(datasets) == 3:
        return tuple(datasets)
    train, test = datasets
    train_idx, val_idx = datalib.split_indices(len(train), cfg.data.val_split, None,
                                               cfg.data.subset_seed)
    return Subset(train, train_idx), test, Subset(train, val_idx)


def validation_record(cfg: RunConfig, datasets: tuple[Dataset, ...]) -> dict | None:
    """What ``validation.json`` stores: the split's seed, size and indices into the training split."""
    if len(datasets) < 3:
        return None
    val = datasets[2]
    indices = list(val.indices) if isinstance(val, Subset) else None
    return {"val_split": cfg.data.val_split, "seed": cfg.data.subset_seed, "size": len(val),
            "indices": [int(i) for i in indices] if indices is not None else None}


def covered_layers(model: nn.Module, masks: masklib.Masks) -> list[str]:
    """Layers u-Ticket balances: every conv except the encoding conv (linear layers excluded)."""
    return [n for n, m in masks.items() if m.dim() == 4 and n != model.encoder_name]


def repair_advice(path: Path) -> str:
    """What to remove so that a rerun rebuilds ``path`` (an artifact of a run or a dense level)."""
    path = Path(path)
    if path.parent.name.startswith(("quant_", "hw_", "timeplan_")):
        return f"remove {path.parent} and rerun"
    level = path.parent if path.parent.name.startswith("level_") else None
    run = level.parent if level is not None else path.parent
    if run.parent.name == "dense":
        return f"remove {run} (the shared dense level; the next run trains it again) and rerun"
    if path.name == "config.json":
        return f"remove {path} and rerun the command that made this run (finished levels are kept)"
    if level is None:   # init.pt / rewind.pt / validation.json: copied or written with level 0
        level = paths.level_dir(run, 0)
    return f"remove {level} and every later level_N of {run}, then rerun (earlier levels are kept)"


def load_state(path: Path) -> dict:
    """A torch file of a run, on CPU; a damaged one raises ``ArtifactError`` naming it and the fix."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path} is missing; {repair_advice(path)}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling failure: truncated, overwritten, not a torch file
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ArtifactError(f"cannot read {path} ({type(err).__name__}: {first[:120]}); "
                            f"{repair_advice(path)}") from None


def read_config(run: Path) -> RunConfig:
    """The ``RunConfig`` in ``run/config.json``; a damaged or foreign file raises ``RunConfigError``."""
    path = paths.config_path(run)
    d = io.load_json(path, fix=repair_advice(path))
    try:
        return from_dict(d)
    except (TypeError, ValueError, AttributeError) as err:
        raise RunConfigError(f"{path} is not a uticket run configuration ({err}); "
                             f"{repair_advice(path)}") from None


def seal(level_dir: Path, extra: tuple[Path, ...] = ()) -> Path:
    """Write ``manifest.json``: size and SHA-256 of every file of the finished level (and of
    ``extra`` files beside the level, such as level 0's ``init.pt`` and ``rewind.pt``)."""
    base = level_dir.parent
    skip = {paths.metrics_path(level_dir).name, paths.manifest_path(level_dir).name,
            paths.partial_path(level_dir).name}
    files = [p for p in sorted(level_dir.iterdir())
             if p.is_file() and not p.name.startswith(".") and p.name not in skip]
    files += [p for p in extra if p.is_file()]
    record = {"files": {p.relative_to(base).as_posix(): io.file_record(p) for p in files}}
    return io.save_json(record, paths.manifest_path(level_dir))


def verify(level_dir: Path) -> None:
    """Check a finished level's files against its manifest (a level without one, written before
    manifests existed, is accepted); ``ArtifactError`` names the first bad file and the repair."""
    manifest = paths.manifest_path(level_dir)
    if not manifest.exists():
        return
    files = io.load_json(manifest, fix=repair_advice(manifest)).get("files", {})
    for rel, want in files.items():
        path = level_dir.parent / rel
        if not path.is_file():
            raise ArtifactError(f"{path} is missing (its level's manifest.json lists it); "
                                f"{repair_advice(path)}")
        got = io.file_record(path)
        if got != want:
            what = (f"{got['bytes']} bytes, {want['bytes']} recorded" if got["bytes"] != want["bytes"]
                    else "its SHA-256 differs from the one recorded")
            raise ArtifactError(f"{path} is damaged ({what} in manifest.json); {repair_advice(path)}")
    read_metrics(level_dir)


def read_metrics(level_dir: Path) -> dict:
    """A level's ``metrics.json``; a damaged one raises naming it and the repair."""
    path = paths.metrics_path(level_dir)
    return io.load_json(path, fix=repair_advice(path))


def done(level_dir: Path) -> bool:
    """Whether a level is finished (``metrics.json``) and its artifacts are intact (``verify``)."""
    if not paths.metrics_path(level_dir).exists():
        return False
    verify(level_dir)
    return True


# ----------------------------------------------------------------------------- one level
def _train_level(level_dir: Path, cfg: RunConfig, level: int, masks: masklib.Masks,
                 start_state: dict, epochs: int, datasets: tuple[Dataset, ...],
                 rewind_to: Path | None = None, extra: dict | None = None,
                 progress: bool = True, timesteps: int | None = None,
                 quant: QuantConfig | None = None) -> dict:
    """Train one level (resuming from ``partial.pt`` if present) and write its artifacts.

    ``timesteps``: T the level trains and is evaluated with (default ``model.timesteps``). Level 0
    (``rewind_to`` given) with ``prune.search_timesteps`` set switches to the search T at the
    rewind epoch (``_search_record``; kept in ``search.json`` so a resumed level finds it again).
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
        model.load_state_dict(_float_state(start_state))
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
        record = _search_record(level_dir, cfg, model, train_ds, device)
        model.timesteps = record["search_timesteps"]
        extra.update(record)

    if rewind_to is not None and cfg.prune.rewind_epoch == 0 and is_main():
        io.save_torch(_cpu_state(model), rewind_to)
    if search and (cfg.prune.rewind_epoch == 0 or
                   (resume is not None and resume["epoch"] >= cfg.prune.rewind_epoch)):
        switch_timesteps()

    def on_epoch_end(epoch: int, stats, optim_state: dict) -> None:
        row = {"epoch": epoch, "loss": stats.loss, "train_accuracy": stats.accuracy,
               "images_per_s": stats.images_per_s, "seconds": stats.seconds,
               "timesteps": model.timesteps}
        if cfg.train.eval_every_epoch and is_main():
            row["test_accuracy"] = _evaluate(model, test_ds, cfg, device)["accuracy"]
            if val_ds is not None:
                row["val_accuracy"] = _evaluate(model, val_ds, cfg, device)["accuracy"]
        history.append(row)
        if is_main() and rewind_to is not None and epoch == cfg.prune.rewind_epoch:
            io.save_torch(_cpu_state(model), rewind_to)
        if search and epoch == cfg.prune.rewind_epoch:
            switch_timesteps()  # every rank: they all need the same T
        if not is_main():
            return
        io.save_torch({"epoch": epoch, "model": _cpu_state(model), "history": history,
                       **optim_state}, partial)

    t0 = time.perf_counter()
    fit(model, train_ds, cfg.train, epochs, level, dev_masks, device, cfg.data.num_workers,
        resume=resume, on_epoch_end=on_epoch_end, progress=progress)
    metrics = {}
    if is_main():
        test = _evaluate(model, test_ds, cfg, device, return_correct=True)
        io.save_torch(test.pop("correct").to(torch.uint8), paths.predictions_path(level_dir))
        val = _evaluate(model, val_ds, cfg, device) if val_ds is not None and validated(cfg, level) else None
        metrics = _metrics(level, epochs, masks, model, test, history, time.perf_counter() - t0,
                           extra, val)
        if quant is not None:
            metrics["quant"] = {**extra.get("quant", {}), **_quant_stats(model, masks, quant)}
        io.save_torch({"model": _cpu_state(model)}, paths.checkpoint_path(level_dir))
        seal(level_dir, (paths.init_path(level_dir.parent), rewind_to) if rewind_to else ())
        io.save_json(metrics, paths.metrics_path(level_dir))
        partial.unlink(missing_ok=True)
        name = cfg.name if level else f"{cfg.name} (dense)"
        progress_lines.level_done(name, level, quant_levels(cfg), metrics)
    barrier()
    return metrics if is_main() else read_metrics(level_dir)


def validated(cfg: RunConfig, level: int) -> bool:
    """Whether a level's finished network is scored on the validation split: at level 0 (the dense
    network, which recipe probes compare) and at the run's last level (``prune.levels - 1``, what a
    recipe sweep selects on); never in a quantized run (chapter 11 compares those on the test set).
    Nothing reads an intermediate level's validation accuracy (in the cpu book, skipping it saves
    about 2 minutes: 2,000 images at 24 levels); ``train.eval_every_epoch`` still records it per
    epoch at every level."""
    if cfg.quant.bits is not None:
        return False
    return level == 0 or level >= cfg.prune.levels - 1


# Test sets transformed once per process (deterministic transforms), keyed by the dataset object.
_MATERIALIZED: "weakref.WeakKeyDictionary[Dataset, Dataset]" = weakref.WeakKeyDictionary()


def _search_record(level_dir: Path, cfg: RunConfig, model: nn.Module, train_ds: Dataset,
                   device: torch.device) -> dict:
    """The search T (and, for "et", the normalised KL per candidate), computed once per level 0.

    "et": the released find_ET_ticket on one batch of up to ``ET_IMAGES`` training images (a
    permutation and augmentation seeded by ``train.seed``) at the current (rewind-point) weights,
    candidates against T = ``model.timesteps``. An int is taken as given.
    """
    path = level_dir / "search.json"
    if path.exists():
        return io.load_json(path)
    choice = cfg.prune.search_timesteps
    if choice == "et":
        order = torch.randperm(len(train_ds), generator=torch.Generator().manual_seed(cfg.train.seed))
        torch.manual_seed(cfg.train.seed)  # the augmentation of the batch
        images = torch.stack([train_ds[int(i)][0] for i in order[:ET_IMAGES]]).to(device)
        raw = et_kl_raw(model, images, cfg.model.timesteps)
        kl, note = et_normalise(raw)
        record = {"search_timesteps": et_choice(kl, cfg.model.timesteps),
                  "et_kl": {str(t): v for t, v in kl.items()},
                  "et_kl_raw": {str(t): v for t, v in raw.items()}}
        if note:
            record["et_note"] = note
            if is_main():
                print(f"[uticket] early-time search of {level_dir.parent.name}: {note}", flush=True)
    else:
        record = {"search_timesteps": int(choice)}
    if is_main():
        io.save_json(record, path)
    return record


def level_timesteps(cfg: RunConfig, level: int, search: dict | None) -> int:
    """T of pruned level ``level``: the search T, except the last level (``prune.levels - 1``),
    which trains at ``model.timesteps`` (the released code's final round)."""
    if search is None or level == cfg.prune.levels - 1:
        return cfg.model.timesteps
    return int(search["search_timesteps"])


def _evaluate(model: nn.Module, test_ds: Dataset, cfg: RunConfig, device: torch.device,
              return_correct: bool = False) -> dict:
    if test_ds not in _MATERIALIZED:
        _MATERIALIZED[test_ds] = datalib.materialize(test_ds)
    loader = eval_loader(_MATERIALIZED[test_ds], device=device)
    return evaluate(model, loader, device, per_layer=True, amp=cfg.train.amp,
                    return_correct=return_correct)


def _cpu_state(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _metrics(level: int, epochs: int, masks: masklib.Masks, model: nn.Module, test: dict,
             history: list[dict], seconds: float, extra: dict, val: dict | None = None) -> dict:
    covered = covered_layers(model, masks)
    speeds = [h["images_per_s"] for h in history]
    best = [h["test_accuracy"] for h in history if "test_accuracy" in h]
    by_val = [h for h in history if "val_accuracy" in h]
    chosen = max(by_val, key=lambda h: h["val_accuracy"]) if by_val else None  # first best epoch
    return {
        "level": level,
        "epochs": epochs,
        "timesteps": model.timesteps,                      # T trained (at the end) and evaluated
        "val_accuracy": val["accuracy"] if val else None,  # final epoch, validation split
        "val_images": val["images"] if val else None,
        "best_val_epoch": chosen["epoch"] if chosen else None,  # the selection a study may make
        "test_accuracy_at_best_val": chosen.get("test_accuracy") if chosen else None,
        "sparsity": masklib.sparsity(masks),                                  # all conv + linear
        "conv_sparsity": masklib.sparsity({n: masks[n] for n in covered}),    # covered convs
        "layer_sparsity": masklib.layer_sparsity(masks),
        "nonzero_weights": int(sum(int(m.sum()) for m in masks.values())),
        "test_accuracy": test["accuracy"],                 # final epoch, the number we report
        "best_test_accuracy": max(best) if best else None,  # released code's selection ON TEST
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


def _float_state(state: dict) -> dict:
    """A state dict without quantizer parameters (``<layer>.wq.a`` / ``.wq.c``)."""
    tag = f".{quantlib.quantizer.QUANT_ATTR}."
    return {k: v for k, v in state.items() if tag not in k}


def _quant_stats(model: nn.Module, masks: masklib.Masks, quant: QuantConfig) -> dict:
    """Bits, mode, quantizer parameters and the zeros quantization adds to the mask."""
    qp = quantlib.qparams(model)
    weights = {n: p.detach().cpu() for n, p in model.named_parameters() if n in masks}
    cpu_masks = {n: m.cpu() for n, m in masks.items()}
    eff = quantlib.effective_masks(weights, cpu_masks, qp)
    return {"bits": quant.bits, "mode": quant.mode, "layers": quant.layers, "init": quant.init, "qparams": qp,
            "zero_share": quantlib.zero_share(weights, qp),
            "effective_sparsity": masklib.sparsity(eff),
            "effective_nonzero_weights": int(sum(int(m.sum()) for m in eff.values()))}


# ----------------------------------------------------------------------------- masks of a level
def level_mask(run: Path, cfg: RunConfig, level: int, model: nn.Module) -> tuple[masklib.Masks, dict]:
    """The mask level ``level`` trains with: prune the previous level, then balance (u-Ticket).

    Algorithm 1 (``balance.carry``) prunes the previous level's balanced mask by
    ``magnitude.prune``. With ``balance.carry = False`` (u-Ticket only) it follows the released code
    exactly: ``magnitude.prune_released`` thresholds the previous level's trained weights (trained
    under the balanced mask) and applies the threshold to its unbalanced mask (``mask_pruned.pt``),
    so recovered weights never carry over.
    """
    here, prev = paths.level_dir(run, level), paths.level_dir(run, level - 1)
    done = paths.mask_path(here).exists()
    barrier()  # every rank decides before rank 0 writes anything
    if done:
        return masklib.load(paths.mask_path(here)), _read_balance_stats(here)
    released = cfg.balance.method == "uticket" and not cfg.balance.carry
    base_path = paths.mask_path(prev)
    if released and paths.pruned_mask_path(prev).exists():
        base_path = paths.pruned_mask_path(prev)
    base = masklib.load(base_path)
    weights = load_state(paths.checkpoint_path(prev))["model"]
    if released:  # the released prune_by_percentile: trained weights, stale unbalanced mask
        pruned = magnitude.prune_released({n: weights[n] for n in base}, base, cfg.prune.fraction)
    else:
        pruned = magnitude.prune({n: weights[n] for n in base}, base, cfg.prune.fraction,
                                 cfg.prune.scope)
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
    return io.load_json(p, fix=repair_advice(p)) if p.exists() else {}


BN_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def start_state(rewind: dict, trained_prev: dict, level: int, released: bool) -> dict:
    """State level ``level`` >= 1 starts from (before masking), from the rewind point ``rewind``
    and the previous level's trained state ``trained_prev``.

    Paper: everything rewound. ``released`` (the released ``original_initialization``): every
    weight (conv, linear, BN) rewound; every bias (conv, linear, BN) set to the rewind state's
    tensor *itself*, so training updates the stored rewind state in place: level 1 starts from the
    rewind-point biases, level k >= 2 from the biases trained in level k-1. BN running statistics
    are buffers the code never touches: every level starts from the previous level's.
    """
    state = {k: v.clone() for k, v in rewind.items()}
    if released:
        for k, v in trained_prev.items():
            if k.rsplit(".", 1)[-1] in BN_BUFFERS or (k.endswith("bias") and level >= 2):
                state[k] = v.clone()
    return state


def level_start_state(run: Path, cfg: RunConfig, level: int) -> dict:
    """``start_state`` of level ``level`` read from the run directory."""
    trained = (load_state(paths.checkpoint_path(paths.level_dir(run, level - 1)))["model"]
               if cfg.prune.released_rewind else {})
    return start_state(load_state(paths.rewind_path(run)), trained, level, cfg.prune.released_rewind)


# ----------------------------------------------------------------------------- the run
def run_dir(cfg: RunConfig, root: Path | None = None) -> Path:
    return paths.run_dir(cfg.name, cfg.hash(), root)


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
    if cfg.quant.bits is not None and cfg.quant.mode != "joint":
        return _run_quantized_after(cfg, datasets, root, progress)
    out = run_dir(cfg, root)
    if _check_config(out, cfg) and _complete(out, cfg):
        return out
    datasets = with_validation(cfg, datasets) if datasets else load_datasets(cfg)
    with _lock(out):
        _write_config(out, cfg)
        if not _complete(out, cfg):   # another process may have finished it while we waited
            _run_levels(cfg, out, datasets, root, progress)
    return out


@contextlib.contextmanager
def _lock(folder: Path, what: str = "run"):
    """A folder's lock, taken by rank 0 only; the other DDP ranks wait at a barrier until it holds
    the lock, so every rank then sees the same files."""
    with io.folder_lock(folder, what) if is_main() else contextlib.nullcontext():
        barrier()
        yield


def _run_levels(cfg: RunConfig, out: Path, datasets: tuple[Dataset, ...], root: Path | None,
                progress: bool) -> None:
    record = validation_record(cfg, datasets)
    if record is not None and is_main() and not (out / "validation.json").exists():
        io.save_json(record, out / "validation.json")
    _ensure_dense(cfg, out, datasets, root, progress)
    model = build_model(cfg)
    search = _read_search(out)
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
        _train_level(here, cfg, level, masks, level_start_state(out, cfg, level), cfg.train.epochs,
                     datasets, extra=extra, progress=progress, timesteps=t, quant=joint)


QUANT_MODES = ("isolation", "cumulative", "joint")


def quant_levels(cfg: RunConfig) -> int:
    """Levels of a run: isolation quantizes the dense network only (level 0)."""
    return 1 if cfg.quant.bits is not None and cfg.quant.mode == "isolation" else cfg.prune.levels


def float_config(cfg: RunConfig) -> RunConfig:
    """The float run a quantized isolation / cumulative run starts from (same hash as without quant)."""
    f = cfg.replace(**{"quant.bits": None})
    return f.replace(**{"prune.levels": 1}) if cfg.quant.mode == "isolation" else f


def _run_quantized_after(cfg: RunConfig, datasets, root: Path | None, progress: bool) -> Path:
    """Isolation / cumulative: run (or reuse) the float run, then quantize and fine-tune each level's
    trained network (``quant.epochs`` of QAT under the level's mask) into this run's level folder."""
    out = run_dir(cfg, root)
    n = quant_levels(cfg)
    if _check_config(out, cfg) and all(done(paths.level_dir(out, k)) for k in range(n)):
        return out
    datasets = datasets or load_datasets(cfg)
    src = run(float_config(cfg), datasets, root, progress)
    with _lock(out):
        _write_config(out, cfg)
        _quantize_levels(cfg, out, src, n, datasets, progress)
    return out


def _quantize_levels(cfg: RunConfig, out: Path, src: Path, n: int, datasets, progress: bool) -> None:
    for level in range(n):
        here, there = paths.level_dir(out, level), paths.level_dir(src, level)
        if done(here):
            continue
        if is_main():
            for name in (paths.mask_path(there).name, "balance.json"):
                if (there / name).exists():
                    io.copy(there / name, here / name)
        barrier()
        masks = masklib.load(paths.mask_path(there))
        float_metrics = read_metrics(there)
        extra = {"quant": {"float_test_accuracy": float_metrics["test_accuracy"], "from_run": src.name}}
        if "balance" in float_metrics:
            extra["balance"] = float_metrics["balance"]
        _train_level(here, cfg, level, masks, load_state(paths.checkpoint_path(there))["model"],
                     cfg.quant.epochs, datasets, extra=extra, progress=progress, quant=cfg.quant)


def _read_search(out: Path) -> dict | None:
    path = paths.level_dir(out, 0) / "search.json"
    return io.load_json(path, fix=repair_advice(path)) if path.exists() else None


def _complete(out: Path, cfg: RunConfig) -> bool:
    """Every level finished and intact (``done``)."""
    return all(done(paths.level_dir(out, k)) for k in range(cfg.prune.levels))


def _check_config(out: Path, cfg: RunConfig) -> RunConfig | None:
    """The configuration on disk (None for a new run); one that hashes differently is an error."""
    path = paths.config_path(out)
    if not path.exists():
        return None
    on_disk = read_config(out)
    if on_disk.hash() != cfg.hash():
        raise RunConfigError(f"{path} holds a different configuration (hash {on_disk.hash()}) "
                             f"than its folder's name says ({cfg.hash()}); {repair_advice(path)}")
    return on_disk


def _write_config(out: Path, cfg: RunConfig) -> None:
    on_disk = _check_config(out, cfg)
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
    with _lock(dense, "the shared dense level"):
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
            io.save_torch(_cpu_state(model), paths.init_path(dense))
        barrier()
        init = load_state(paths.init_path(dense))
        masks = masklib.ones(masklib.prunable(model))
        if is_main():
            masklib.save(masks, paths.mask_path(level0))
        _train_level(level0, cfg, 0, masks, init, cfg.train.epochs_dense, datasets,
                     rewind_to=paths.rewind_path(dense), progress=progress)


# ----------------------------------------------------------------------------- reading runs back
def levels(out: Path) -> list[dict]:
    """Metrics of every completed level, in order."""
    found = []
    for d in sorted(out.glob("level_*"), key=lambda p: int(p.name.split("_")[1])):
        if paths.metrics_path(d).exists():
            found.append(read_metrics(d))
    return found


def list_runs(root: Path | None = None) -> list[dict]:
    """Every run under the runs root with its config, hash and progress."""
    root = Path(root) if root else paths.runs_root()
    if root.exists() and not root.is_dir():
        raise RunConfigError(f"the runs root {root} is a file, not a directory; pass --runs DIR")
    rows = []
    for cfg_file in sorted(root.glob("*/config.json")):
        try:
            cfg = read_config(cfg_file.parent)
            finished = len(levels(cfg_file.parent))
        except (ValueError, OSError) as err:  # one broken run must not hide the others
            rows.append({"name": cfg_file.parent.name, "path": str(cfg_file.parent), "hash": None,
                         "arch": None, "dataset": None, "method": None, "levels_done": None,
                         "levels": None, "config": None, "error": str(err)})
            continue
        rows.append({"name": cfg_file.parent.name, "path": str(cfg_file.parent), "hash": cfg.hash(),
                     "arch": cfg.model.arch, "dataset": cfg.data.dataset,
                     "method": cfg.balance.method, "levels_done": finished,
                     "levels": cfg.prune.levels, "config": cfg.to_dict(), "error": None})
    return rows


def load_masks(out: Path, level: int) -> masklib.Masks:
    return masklib.load(paths.mask_path(paths.level_dir(out, level)))


def load_model(out: Path, level: int) -> nn.Module:
    """The trained network of a level, in eval mode on CPU."""
    cfg = read_config(out)
    model = build_model(cfg)
    here = paths.level_dir(out, level)
    state = load_state(paths.checkpoint_path(here))["model"]
    if len(_float_state(state)) != len(state):     # a quantized level: attach, then load a and c
        quantlib.attach(model, cfg.quant.bits, cfg.quant.layers)
    model.load_state_dict(state)
    if paths.metrics_path(here).exists():  # the T this level trained with (early-time ticket)
        model.timesteps = read_metrics(here).get("timesteps", model.timesteps)
    return model.eval()


# ----------------------------------------------------------------------------- quantizing one level
def quant_level_dir(out: Path, level: int, quant: QuantConfig) -> Path:
    """``level_k/quant_<hash>/``: one level of a float run, quantized and fine-tuned."""
    return paths.level_dir(out, level) / f"quant_{stable_hash(dataclasses.asdict(quant))}"


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
    validate(qcfg)
    here = quant_level_dir(out, level, qcfg.quant)
    if not paths.metrics_path(here).exists():
        there = paths.level_dir(out, level)
        float_metrics = read_metrics(there)
        _train_level(here, qcfg, level, load_masks(out, level),
                     load_state(paths.checkpoint_path(there))["model"], epochs,
                     datasets or load_datasets(cfg),
                     extra={"quant": {"float_test_accuracy": float_metrics["test_accuracy"]}},
                     progress=progress, quant=qcfg.quant)
    return here


def load_quantized(out: Path, here: Path) -> nn.Module:
    """The network of a ``quantize_level`` folder (or a quantized run's level), eval mode, CPU."""
    cfg = read_config(out)
    q = read_metrics(here)["quant"]
    model = build_model(cfg)
    quantlib.attach(model, q["bits"], q["layers"])
    model.load_state_dict(load_state(paths.checkpoint_path(here))["model"])
    return model.eval()
