"""bf16 autocast: where the profiles turn it on, that runs record it, and that the LIF neurons keep
their membrane arithmetic in fp32 under it."""
from __future__ import annotations

import pytest
import torch

from uticket_lib import lottery, machine, profiles, runstore
from uticket_lib.models import neurons
from uticket_lib.training import autocast

from conftest import tiny_config
from test_machine import EPYC, XEON_AVX2


def test_native_resolves_from_the_cpus_flags():
    assert profiles.resolve_amp("native", "cpu", machine.cpu_flags(EPYC)) is True
    assert profiles.resolve_amp("native", "cpu", machine.cpu_flags(XEON_AVX2)) is False
    assert profiles.resolve_amp("native", "cpu", {"avx2", "amx_tile", "amx_bf16"}) is True
    assert profiles.resolve_amp("native", "cpu", set()) is False
    for explicit in (True, False):  # a user's explicit choice is kept on every machine
        assert profiles.resolve_amp(explicit, "cpu", machine.cpu_flags(EPYC)) is explicit


@pytest.mark.parametrize("text, expected", [(EPYC, True), (XEON_AVX2, False)])
def test_the_cpu_profile_uses_bf16_exactly_where_native(monkeypatch, text, expected):
    monkeypatch.setattr(machine, "_cpuinfo", lambda t=None: text)
    cfg = profiles.get("cpu", "resnet19", "fmnist", overrides={"train.device": "cpu"})
    assert cfg.train.amp is expected
    # the choice is part of the run's identity: a bf16 run never reuses an fp32 run's levels
    other = profiles.get("cpu", "resnet19", "fmnist", overrides={"train.device": "cpu", "train.amp": not expected})
    assert cfg.hash() != other.hash() and cfg.dense_hash() != other.dense_hash()
    # VGG-16 too, since the C LIF kernel made bf16 pay for it (measured); smoke stays fp32 everywhere
    # (tests and the CI book give the same numbers on every x86-64)
    assert profiles.get("cpu", "vgg16", "fmnist", overrides={"train.device": "cpu"}).train.amp is expected
    assert profiles.get("smoke", "vgg16", "fmnist").train.amp is False


def test_a_run_records_its_precision_and_machine(tiny_data, runs_root):
    out = lottery.run(tiny_config("lth", **{"train.amp": True, "prune.levels": 2}), datasets=tiny_data,
                      progress=False)
    rows = runstore.levels(out)
    assert [r["amp"] for r in rows] == [True, True]
    assert rows[0]["machine"]["native_bf16"] == machine.native_bf16(machine.cpu_flags())
    fp32 = lottery.run(tiny_config("lth", **{"prune.levels": 2}), datasets=tiny_data, progress=False)
    assert [r["amp"] for r in runstore.levels(fp32)] == [False, False]


def test_autocast_reaches_the_cpu():
    conv = torch.nn.Conv2d(1, 2, 3)
    x = torch.rand(1, 1, 5, 5)
    with autocast(torch.device("cpu"), True):
        assert conv(x).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), False):
        assert conv(x).dtype == torch.float32


def test_lif_under_bf16_charges_in_fp32_and_passes_exact_spikes(monkeypatch):
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(4, 64, 256, generator=g) * 2).to(torch.bfloat16).requires_grad_()  # [T, N, C]
    ref = neurons.lif()(x.detach().float())        # the same bf16 inputs, charged in fp32
    monkeypatch.setattr(neurons, "LIF_FP32", False)
    in_bf16 = neurons.lif()(x.detach())
    # bf16 membranes (8 significant bits) fire differently somewhere: the fp32 path is needed
    assert not torch.equal(in_bf16.float(), ref)
    monkeypatch.setattr(neurons, "LIF_FP32", True)
    node = neurons.lif()
    s = node(x)
    assert s.dtype == torch.bfloat16 and torch.equal(s.float(), ref)
    assert node.v.dtype == torch.float32          # the membrane stays fp32 between calls
    s.sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.bfloat16 and bool(torch.isfinite(x.grad).all())
