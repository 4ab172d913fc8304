"""Shared fixtures: tiny configurations and synthetic data, so tests run in seconds on CPU."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from uticket_lib import lottery, profiles


def synthetic(n: int, channels: int = 1, seed: int = 0) -> TensorDataset:
    """n random [C, 32, 32] images whose label is a function of the mean intensity (learnable)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, 32, 32, generator=g)
    y = (x.mean(dim=(1, 2, 3)) * 1000).long() % 10
    return TensorDataset(x, y)


@pytest.fixture
def tiny_data():
    return synthetic(48, seed=1), synthetic(24, seed=2)


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("UTICKET_RUNS", str(root))
    return root


def tiny_config(method: str = "lth", arch: str = "vgg16", **overrides):
    base = {"model.width": 0.0625, "train.batch_size": 16, "train.epochs_dense": 2,
            "train.epochs": 1, "prune.levels": 3, "prune.fraction": 0.5, "prune.rewind_epoch": 1,
            "balance.n_pe": 4}
    return profiles.get("smoke", arch=arch, method=method, overrides={**base, **overrides})


# ----------------------------------------------------------------------------- interrupted runs
TIMING = {"seconds", "train_images_per_s", "images_per_s"}


def strip_timing(x):
    """``x`` (metrics, lists of them) without the wall-clock keys, which differ between two runs."""
    if isinstance(x, dict):
        return {k: strip_timing(v) for k, v in x.items() if k not in TIMING}
    if isinstance(x, list):
        return [strip_timing(v) for v in x]
    return x


class Interrupted(Exception):
    """Raised by the ``fit`` that ``die_after_epochs`` installs: stands in for a killed process."""


def die_after_epochs(monkeypatch, n: int):
    """Make ``lottery.fit`` raise ``Interrupted`` right after its ``n``-th finished epoch, counted
    over the whole run (the epoch's partial checkpoint is written first); returns the real ``fit``
    to put back."""
    real, seen = lottery.fit, {"epochs": 0}

    def dying(*a, on_epoch_end=None, **k):
        def cb(epoch, stats, state):
            on_epoch_end(epoch, stats, state)
            seen["epochs"] += 1
            if seen["epochs"] == n:
                raise Interrupted
        return real(*a, on_epoch_end=cb, **k)

    monkeypatch.setattr(lottery, "fit", dying)
    return real
