"""Every field of a ``RunConfig`` checked against its range or its registry, before any work or file.

``check(cfg)`` raises ``RunConfigError`` with one line naming the key, what it must be and the fix;
it also refuses a device this machine lacks and a network too large for its memory (estimated on
the meta device, nothing allocated). ``uticket run`` and ``lottery.run`` call it first.
"""
from __future__ import annotations

import math
import os

import torch

from . import data as datalib
from . import models
from . import quant as quantlib
from .config import RunConfig, RunConfigError
from .pruning import magnitude, methods


METHODS = methods.METHODS   # the pruning methods' registry (pruning.methods)
QUANT_MODES = ("isolation", "cumulative", "joint")
BITS = (quantlib.quantizer.MIN_BITS, quantlib.quantizer.MAX_BITS)


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
        ("train.epochs_final", t.epochs_final is None or (_is_int(t.epochs_final) and t.epochs_final >= 1),
         "none or an integer >= 1"),
        ("train.batch_size", _is_int(t.batch_size) and t.batch_size >= 1, "an integer >= 1"),
        ("train.lr", _is_num(t.lr) and 0 < t.lr <= MAX_LR, f"a finite number in (0, {MAX_LR:g}]"),
        ("train.lr_rounds", t.lr_rounds is None or _is_num(t.lr_rounds) and 0 < t.lr_rounds <= MAX_LR,
         f"none (the rounds train at train.lr) or a finite number in (0, {MAX_LR:g}]"),
        ("train.momentum", _is_num(t.momentum) and 0 <= t.momentum < 1, "a number in [0, 1)"),
        ("train.weight_decay", _is_num(t.weight_decay) and 0 <= t.weight_decay < 1, "a number in [0, 1)"),
        ("train.released_weight_decay", isinstance(t.released_weight_decay, bool), "true or false"),
        ("train.label_smoothing", _is_num(t.label_smoothing) and 0 <= t.label_smoothing < 1,
         "a number in [0, 1)"),
        ("train.warmup", _is_num(t.warmup) and 0 <= t.warmup < 1, "a number in [0, 1)"),
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
        ("prune.rewind_images", p.rewind_images is None or (_is_int(p.rewind_images) and 1 <= p.rewind_images
                                                             < _round0_images(cfg)),
         f"none or an integer in [1, {_round0_images(cfg) - 1}] (the images round 0 trains on)"),
        ("prune.released_rewind", isinstance(p.released_rewind, bool), "true or false"),
        ("prune.search_timesteps", st is None or (_is_str(st) and st == "et")
         or (_is_int(st) and _is_int(m.timesteps) and 1 <= st <= m.timesteps),
         f"none, 'et' or an integer in [1, model.timesteps={m.timesteps}]"),
        ("prune.method", _is_str(p.method) and p.method in methods.METHODS,
         f"one of: {', '.join(methods.METHODS)}"),
        ("balance.n_pe", _is_int(b.n_pe) and b.n_pe >= 1, "an integer >= 1"),
        ("balance.reference", _is_str(b.reference) and b.reference in ("block", "layer"), "'block' or 'layer'"),
        ("balance.carry", isinstance(b.carry, bool), "true or false"),
        ("balance.seed", _is_int(b.seed) and b.seed >= 0, "an integer >= 0"),
        ("quant.bits", q.bits is None or (_is_int(q.bits) and BITS[0] <= q.bits <= BITS[1]),
         f"none (float) or an integer in [{BITS[0]}, {BITS[1]}]"),
        ("quant.mode", _is_str(q.mode) and q.mode in QUANT_MODES, f"one of: {', '.join(QUANT_MODES)}"),
        ("quant.layers", _is_str(q.layers) and q.layers in quantlib.quantizer.LAYER_SETS,
         f"one of: {', '.join(quantlib.quantizer.LAYER_SETS)}"),
        ("quant.epochs", _is_int(q.epochs) and q.epochs >= 1, "an integer >= 1"),
        ("quant.init", _is_str(q.init) and q.init in quantlib.quantizer.INITS,
         f"one of: {', '.join(quantlib.quantizer.INITS)}"),
    ]


def pass_images(cfg: RunConfig) -> int:
    """Training images of one pass: the training subset, or the whole training split less the
    validation split (``data.split_indices``)."""
    total = datalib.SPLIT_SIZES[cfg.data.dataset][0]
    val = datalib.validation_size(cfg.data.val_split, total) if cfg.data.val_split is not None else 0
    return int(cfg.data.train_subset or total - val)


def _round0_images(cfg: RunConfig) -> int:
    """Training images of round 0 (train.epochs_dense passes); 0 where a field it needs is itself
    invalid."""
    try:
        return pass_images(cfg) * int(cfg.train.epochs_dense)
    except (KeyError, ValueError, TypeError):
        return 0


def check(cfg: RunConfig) -> None:
    """Fail early, with the fix, on settings that cannot run: every field has a range or choice."""
    for key, ok, must in _checks(cfg):
        if not ok:
            section, name = key.split(".")
            value = getattr(getattr(cfg, section), name)
            if must.startswith("one of"):
                raise RunConfigError(f"unknown {name} {value!r} ({key}); choose {must}")
            raise RunConfigError(f"{key} must be {must}, got {value!r}; fix it with --set {key}=...")
    if cfg.prune.rewind_images is not None and cfg.prune.search_timesteps is not None:
        raise RunConfigError("prune.rewind_images cannot be combined with prune.search_timesteps (the "
                             "search T switches at an epoch); use prune.rewind_epoch")
    if cfg.prune.search_timesteps is not None and cfg.prune.levels < 2:
        raise RunConfigError(f"prune.search_timesteps needs prune.levels >= 2 (a search level and "
                             f"the final level), got {cfg.prune.levels}")
    if cfg.prune.method == "uticket" and not cfg.balance.carry and cfg.prune.scope != "global":
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
                spec = datalib.DATASETS[cfg.data.dataset]
                models.build(cfg.model.arch, in_channels=spec.in_channels, num_classes=spec.num_classes,
                             width=cfg.model.width, timesteps=cfg.model.timesteps,
                             time_plan=cfg.model.time_plan, time_join=cfg.model.time_join)
    except models.TimePlanError as err:
        raise RunConfigError(str(err)) from None
