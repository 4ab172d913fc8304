"""The three profiles. This module is the only place where default experiment numbers live.

- ``smoke``: the whole pipeline in minutes on 2 CPU cores; its numbers mean nothing.
- ``cpu``: the default book. Real training on Fashion-MNIST at reduced width and on a seeded subset,
  with harder pruning per round (fewer rounds) to reach about 98 % weight sparsity.
- ``paper``: the paper's settings (full width, full data, 200 + 14 x 180 epochs, 25 % per round,
  15 levels = 98.2 % sparsity, rewind to epoch 20). Needs a GPU; torchrun for several.
"""
from __future__ import annotations

from typing import Any, Mapping

from .config import RunConfig

PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "model.width": 0.125,
        "data.train_subset": 256,
        "data.test_subset": 128,
        "train.batch_size": 64,
        "train.epochs_dense": 2,
        "train.epochs": 1,
        "prune.levels": 3,
        "prune.fraction": 0.5,
        "prune.rewind_epoch": 1,
    },
    "cpu": {
        "model.width": 0.25,        # every covered layer keeps >= 16 filters (one full PE block)
        "data.train_subset": 4000,
        # whole test set (10,000 images): one standard error of an accuracy difference on 1,000
        # images is about 1 point, the size of the paper's u-Ticket vs LTH bound
        "train.batch_size": 64,
        "train.epochs_dense": 4,
        "train.epochs": 2,
        "prune.levels": 7,          # 1 dense + 6 prunes at 48 %: 1 - 0.52^6 = 98.0 % sparsity
        "prune.fraction": 0.48,
        "prune.rewind_epoch": 1,
        "train.channels_last": True,  # ~18 % faster on CPU with the fused LIF (ci/bench_train.py)
    },
    "paper": {
        "data.download": True,
        "train.eval_every_epoch": True,
    },
}


# Per-architecture adjustments of a profile. ResNet-19's read-out neuron (after fc1) is silent at
# initialisation: average-pooled spikes times PyTorch's default Linear init never reach threshold,
# so the classifier learns only through the surrogate gradient at first. With a few epochs that
# start needs more and larger steps. Measured at width 0.25 after 3 dense epochs: 19 % test accuracy
# at lr 0.1 / batch 64 (6,000 images), 24 % at lr 0.1 / batch 32 and 41 % at lr 0.3 / batch 32
# (4,000 images). VGG-16 reads its logits straight from spikes and needs no adjustment.
ARCH_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("cpu", "resnet19"): {"train.lr": 0.3, "train.batch_size": 32},
}


def get(profile: str, arch: str = "vgg16", dataset: str = "fmnist", method: str = "lth",
        overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """RunConfig of a profile for one (arch, dataset, method), with ``{"section.key": value}`` overrides."""
    if profile not in PROFILES:
        raise KeyError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    base = {"model.arch": arch, "data.dataset": dataset, "balance.method": method}
    arch_specific = ARCH_OVERRIDES.get((profile, arch), {})
    return RunConfig().replace(**{**base, **PROFILES[profile], **arch_specific, **dict(overrides or {})})


def expected_sparsity(cfg: RunConfig) -> float:
    """Weight sparsity after the last level if every round removes ``fraction`` (before balancing)."""
    return 1.0 - (1.0 - cfg.prune.fraction) ** (cfg.prune.levels - 1)
