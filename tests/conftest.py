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


@pytest.fixture(autouse=True)
def _no_chapter_pe_count():
    """A test that opens a chapter (``analysis.chapter``) must not leave its n_PE to the next test."""
    from uticket_lib.analysis import runs
    runs.ANALYSIS_N_PE = None
    yield
    runs.ANALYSIS_N_PE = None


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


# ----------------------------------------------------------------------------- exact arithmetic
def dyadic_(model: torch.nn.Module, seed: int = 0, low: int = -3, high: int = 5) -> torch.nn.Module:
    """Give ``model`` weights for which every forward pass is exact on every CPU, and that fire.

    Conv / Linear weights and biases become k/8 for integer k in [low, high) (positive on average,
    so spikes reach the read-out: the default fires 3 to 75 % per layer in the tiny VGG-16; the tiny
    ResNet-19, whose convs have no bias, needs ``low=-2, high=6`` for 18 to 100 %), BatchNorm becomes the identity (mean 0, var 1, eps 0, scale 1,
    shift 0). With inputs that are multiples of 1/16 (``dyadic_images``) every sum a conv or a linear
    layer forms is a small dyadic rational, which float32 holds exactly in any summation order: the
    result does not depend on the kernel, the vector width or the batch layout. The neuron's update
    is elementwise and correctly rounded (IEEE), so spikes are the same on every machine too.
    Returns the model (in place), in eval mode.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.copy_(torch.randint(low, high, m.weight.shape, generator=g) / 8)
                if m.bias is not None:
                    m.bias.copy_(torch.randint(low, high, m.bias.shape, generator=g) / 8)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
                m.weight.fill_(1.0)
                m.bias.zero_()
                m.eps = 0.0
    return model.eval()


def dyadic_images(n: int, channels: int = 1, seed: int = 0) -> TensorDataset:
    """``synthetic(n)`` with pixels rounded to multiples of 1/16 (exact in float32; see ``dyadic_``)."""
    x, y = synthetic(n, channels, seed).tensors
    return TensorDataset(torch.round(x * 16) / 16, y)


@pytest.fixture(autouse=True)
def _runs_in_process(monkeypatch):
    """Runs train in the test's own process (``parallel``: one worker), where monkeypatched data
    and functions apply; tests of the worker pool ask for workers explicitly."""
    monkeypatch.setenv("UTICKET_WORKERS", "1")
