"""Frozen configuration dataclasses and the stable run hash.

Every number that changes the science lives in one of these dataclasses. Fields marked with
``_local(default, why)`` (data root, device, channels_last, ...) change how a run executes, not what it
computes, and are left out of the hash; ``why`` says why (``LOCAL_REASONS`` lists them, a test holds every
field to being hashed or having a reason). Anything that can change a weight is hashed. The hash covers only fields that differ from their defaults, so adding a
field with a default never renames existing runs (open_lth's rule): never change a default, add a field.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any

class RunConfigError(ValueError):
    """A run configuration (or a run directory's ``config.json``) that cannot be executed."""


def _local(default: Any, why: str) -> Any:
    """A field that does not change results (excluded from the run hash), and why it cannot."""
    if not why:
        raise ValueError("a field left out of the run hash needs its reason")
    return field(default=default, metadata={"science": False, "why": why})


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "vgg16"        # key of models.REGISTRY: "vgg16" | "resnet19"
    width: float = 1.0         # channel multiplier; 1.0 = the paper's network
    timesteps: int = 4         # T, direct encoding
    time_plan: tuple[int, ...] | None = None  # one T per stage (models/timeplan.py); None = uniform T
    time_join: str = "sum"     # time adapter where T shrinks: "sum" (spike counts) | "or" (binary)

    def __post_init__(self) -> None:
        plan = self.time_plan
        if isinstance(plan, str):              # "4,4,2" from --set / a notebook
            try:
                plan = tuple(int(v) for v in plan.replace(" ", "").strip("()[]").split(",") if v)
            except ValueError:
                raise ValueError(f"model.time_plan must be comma-separated integers like 4,4,2, "
                                 f"got {self.time_plan!r}") from None
        elif isinstance(plan, int) and not isinstance(plan, bool):
            plan = (plan,)
        elif isinstance(plan, list):           # read back from config.json
            plan = tuple(plan)
        object.__setattr__(self, "time_plan", plan)


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "fmnist"            # key of data.DATASETS: "fmnist" | "cifar10" | "svhn"
    train_subset: int | None = None    # seeded subset of the training set (None = all)
    test_subset: int | None = None     # seeded subset of the test set (None = all)
    augment: bool = True               # the paper's training transforms
    subset_seed: int = 0
    val_split: int | float | None = None  # validation images held out of the training set: a count
                                       # or a fraction; None = no validation split. Seeded by
                                       # subset_seed and disjoint from train_subset
                                       # (data.split_indices); written to <run>/validation.json
    root: str | None = _local(None,    # data root; None = $UTICKET_DATA or defaults
        "where the files are read from, not which: the dataset and the subset indices are hashed")
    download: bool = _local(False,     # let torchvision download when missing
        "whether missing files may be fetched; the files themselves are the same")
    num_workers: int = 0               # loader processes: hashed, since each worker draws its own
                                       # augmentation RNG stream, so 0 and 2 train different weights


@dataclass(frozen=True)
class TrainConfig:
    epochs_dense: int = 200            # round 0 (released code: 200)
    epochs: int = 180                  # every later round (released code: 180)
    epochs_final: int | None = None    # the last round (prune.levels - 1) only; None = train.epochs.
                                       # When set, prune.levels is hashed (it decides which is last)
    batch_size: int = 128
    optimizer: str = "sgd"             # "sgd" (paper/released: SGD + momentum) | "adam" (short budgets)
    lr: float = 0.1
    lr_rounds: float | None = None     # learning rate of the pruning rounds (level >= 1) where they
                                       # want another than the dense round; None = lr (the paper's
                                       # one schedule). Not in the dense hash: level 0 never uses it
    momentum: float = 0.9
    weight_decay: float = 5e-4
    released_weight_decay: bool = False  # True: the released code's bug (weight decay never applied)
    label_smoothing: float = 0.0
    warmup: float = 0.0                # share of a round's steps with a linear learning-rate warm-up
                                       # from 0 before the cosine decay (0 = the paper's plain cosine)
    seed: int = 0                      # init, shuffling and augmentation; under DDP rank r seeds
                                       # its augmentation with a rank-dependent offset (training.
                                       # augmentation_seed), the shard order stays common
    eval_every_epoch: bool = _local(False,  # also record the code's best-over-epochs test accuracy
        "evaluates in eval mode under torch.no_grad after each epoch: no RNG draw, no weight or BN "
        "statistic touched (tests/test_reliability.py compares the checkpoints)")
    device: str | None = _local(None,       # None = cuda if available else cpu
        "the same arithmetic on other hardware: results differ by float rounding only, as between "
        "two CPUs (tests hold on every float path)")
    channels_last: bool = _local(False,
        "a memory layout: the same operations in another order, float rounding only")
    amp: bool = False                       # bf16 autocast (CUDA, or CPU where bf16 is native: the
                                            # cpu profile's "native" resolves per machine, profiles.
                                            # resolve_amp); hashed: bf16 arithmetic changes results
                                            # beyond rounding noise


@dataclass(frozen=True)
class PruneConfig:
    method: str = "lth"                # key of pruning.methods.METHODS: "lth" | "uticket" | ...;
                                       # hashed as balance.method (its key until 2026-12-04), so
                                       # runs of that time keep their directories
    levels: int = _local(15,           # level 0 dense + (levels - 1) pruning rounds
        "level k never depends on how many levels follow it, so a run extends by more levels "
        "(hashed when prune.search_timesteps is set: the last level then trains at full T)")
    fraction: float = 0.25             # share of surviving weights removed per round
    scope: str = "global"              # "global" | "layer"
    rewind_epoch: int = 20             # late rewinding to the state after this epoch of round 0
    rewind_images: int | None = None   # instead: the state after this many training images of round
                                       # 0 (a point inside an epoch, for rounds of one or two passes
                                       # over a large split); None = rewind_epoch decides
    released_rewind: bool = False      # True: the released original_initialization (biases alias
                                       # the rewind state from round 2 on; BN statistics never rewound)
    search_timesteps: int | str | None = None  # T of the search rounds (early-time ticket):
                                       # None = every level at model.timesteps (the paper's text);
                                       # int = that T from the rewind epoch of level 0 on, the last
                                       # level (prune.levels - 1) at model.timesteps; "et" = the
                                       # released find_ET_ticket rule chooses that T at the rewind
                                       # epoch. When set, prune.levels enters the run hash (the last
                                       # level trains at full T, so the count decides what "last" is)


@dataclass(frozen=True)
class BalanceConfig:
    """u-Ticket's balancing knobs (hashed for every method but "lth", which never balances)."""
    n_pe: int = 16                     # PEs per block
    reference: str = "block"           # "block" (released code) | "layer" (paper text)
    carry: bool = True                 # Algorithm 1: balanced mask carried to the next round;
                                       # False = the released code: its global prune_by_percentile
                                       # on the unbalanced mask (magnitude.prune_released)
    seed: int = 0


@dataclass(frozen=True)
class QuantConfig:
    """Weight quantization (seed 002; ``uticket_lib.quant``). ``bits=None``: float, the section is unhashed."""
    bits: int | None = None            # None = float weights; 2 (ternary) .. 16
    mode: str = "cumulative"           # "isolation" (dense network only) | "cumulative" (each level's
                                       # trained ticket quantized, then fine-tuned) | "joint" (every
                                       # round trains with the quantizer on from the rewind point)
    layers: str = "all"                # "all" conv + linear layers (seed 002) | "covered" (u-Ticket's)
    epochs: int = 1                    # QAT fine-tuning epochs per level (isolation, cumulative)
    init: str = "tensor"               # a, c start from max|mu +- 3 sigma| of: "tensor" the whole stored
                                       # weight tensor, pruned zeros included (seed 002's "the layer's
                                       # weights") | "surviving" the unpruned weights only (at 98 %
                                       # sparsity it rounds ~98 % of the survivors to zero)


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    prune: PruneConfig = PruneConfig()
    balance: BalanceConfig = BalanceConfig()
    quant: QuantConfig = QuantConfig()

    @property
    def name(self) -> str:
        """Human-readable prefix of the run directory."""
        base = f"{self.model.arch}_{self.data.dataset}_{self.prune.method}"
        return base if self.quant.bits is None else f"{base}_q{self.quant.bits}{self.quant.mode[:3]}"

    def hash(self) -> str:
        return stable_hash(science_dict(self))

    def dense_hash(self) -> str:
        """Hash of what determines level 0 (dense training): LTH and u-Ticket runs share it."""
        d = science_dict(self)
        d.pop("balance", None)
        d.pop("quant", None)     # level 0 always trains float weights
        if "train" in d:         # the pruning rounds' learning rate and last round's epochs: level 0
            d["train"].pop("lr_rounds", None)    # never uses them
            d["train"].pop("epochs_final", None)
            if not d["train"]:
                d.pop("train")
        prune = {k: v for k, v in d.pop("prune", {}).items()
                 if k in ("rewind_epoch", "rewind_images", "search_timesteps")}
        if prune:  # the rewind point and the search T are all level 0 depends on of `prune`
            d["prune"] = prune
        return stable_hash(d)

    def replace(self, **overrides: Any) -> "RunConfig":
        """``cfg.replace(**{"train.epochs": 3, "model.width": 0.25})`` -> a new config."""
        return with_overrides(self, overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def local_reasons() -> dict[str, str]:
    """{"section.field": why} for every field left out of the run hash."""
    return {f"{f.name}.{sf.name}": sf.metadata["why"]
            for f in fields(RunConfig) for sf in fields(getattr(RunConfig(), f.name))
            if not sf.metadata.get("science", True)}


def science_dict(cfg: RunConfig) -> dict:
    """Nested dict of the science fields that differ from their defaults."""
    out: dict = {}
    for f in fields(cfg):
        sub = getattr(cfg, f.name)
        d = {
            sf.name: getattr(sub, sf.name)
            for sf in fields(sub)
            if sf.metadata.get("science", True) and getattr(sub, sf.name) != sf.default
        }
        if f.name == "balance":  # the method, under its old key, with the balancing knobs
            d = {} if cfg.prune.method == "lth" else {"method": cfg.prune.method, **d}
        if f.name == "model" and cfg.model.time_plan is None:
            d.pop("time_join", None)  # the join acts only between stages of a time plan
        if f.name == "prune":
            d.pop("method", None)  # hashed in the balance section (above)
        if f.name == "prune" and (cfg.prune.search_timesteps is not None
                                  or cfg.train.epochs_final is not None):
            d["levels"] = cfg.prune.levels  # the last level trains at full T or for epochs_final:
                                            # levels decide which level is the last
        if f.name == "quant" and cfg.quant.bits is None:
            d = {}  # quantization knobs do not touch a float run
        elif f.name == "quant":
            d["init"] = cfg.quant.init  # hashed even at its default: runs of the old rule ("surviving",
                                        # the default until 2026-11-30) must not be reused for it
        if d:
            out[f.name] = d
    return out


def stable_hash(d: dict) -> str:
    """sha256 of sorted JSON, 12 hex digits."""
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def _parse_value(text: str, current: Any, key: str) -> Any:
    if isinstance(current, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{key}: expected true/false, got {text!r}")
    if text.lower() in ("none", "null"):
        return None
    for kind in (int, float):
        if isinstance(current, kind) or current is None:
            try:
                return kind(text)
            except ValueError:
                if current is not None:
                    raise ValueError(f"{key}: expected {kind.__name__}, got {text!r}") from None
    return text


# Local fields that existed once and were removed, with the reason. Old ``config.json`` files may
# still hold them (they are dropped on reading); setting one is an error that says why.
REMOVED_LOCAL = {
    ("train", "compile"): "train.compile was removed: torch.compile crashed or ran slower than eager "
                          "on these spiking networks (ci/bench_results/compile.json); drop the setting",
}


# Fields that moved, old key -> new key: old config.json files and --set lines still read.
RENAMED = {("balance", "method"): ("prune", "method")}


def with_overrides(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """Apply {"section.field": value} overrides; string values are parsed to the field's type."""
    sections: dict[str, dict[str, Any]] = {}
    valid = {f.name: {sf.name for sf in fields(getattr(cfg, f.name))} for f in fields(cfg)}
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        section, name = RENAMED.get((section, name), (section, name))
        key = f"{section}.{name}"
        if (section, name) in REMOVED_LOCAL:
            raise KeyError(REMOVED_LOCAL[(section, name)])
        if section not in valid or name not in valid[section]:
            known = ", ".join(f"{s}.{n}" for s in valid for n in sorted(valid[s]))
            raise KeyError(f"unknown config key {key!r}; known keys: {known}")
        current = getattr(getattr(cfg, section), name)
        if isinstance(value, str) and not isinstance(current, str):
            value = _parse_value(value, current, key)
        sections.setdefault(section, {})[name] = value
    return dataclasses.replace(
        cfg, **{s: dataclasses.replace(getattr(cfg, s), **kv) for s, kv in sections.items()}
    )


def from_dict(d: dict) -> RunConfig:
    """Inverse of ``RunConfig.to_dict`` (used to read ``config.json`` back)."""
    types = {f.name: f.type for f in fields(RunConfig)}
    classes = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig,
               "prune": PruneConfig, "balance": BalanceConfig,
               "quant": QuantConfig}
    assert set(types) == set(classes)
    d = {k: dict(v) for k, v in d.items()}
    for (old_s, old_n), (new_s, new_n) in RENAMED.items():
        if old_n in d.get(old_s, {}):
            d.setdefault(new_s, {})[new_n] = d[old_s].pop(old_n)
    return RunConfig(**{k: classes[k](**{n: x for n, x in v.items() if (k, n) not in REMOVED_LOCAL})
                        for k, v in d.items()})
