"""Decomposition of latency / energy reductions into work, utilization and spike parts."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from uticket_lib import hardware, models
from uticket_lib.analysis import decompose as D


def test_latency_ratio_is_work_ratio_times_inverse_utilization_ratio_by_hand():
    # LTH: W 100, I 60 -> u 0.625, L (n=16) 10; uT: W 80, I 0 -> u 1, L 5
    lth, ut = {"work": 100.0, "idle": 60.0}, {"work": 80.0, "idle": 0.0}
    p = D.latency_parts(lth, ut)
    assert p["latency_ratio"] == pytest.approx(0.5)
    assert p["work_ratio"] == pytest.approx(0.8)
    assert p["utilization_lth"] == pytest.approx(0.625) and p["utilization_uticket"] == 1.0
    assert p["utilization_part"] == pytest.approx(0.625)               # u_LTH / u_uT
    assert p["work_ratio"] * p["utilization_part"] == pytest.approx(p["latency_ratio"])
    assert p["latency_reduction_pct"] == pytest.approx(50.0)
    assert p["work_share"] == pytest.approx(math.log(0.8) / math.log(0.5))
    assert p["work_share"] + p["utilization_share"] == pytest.approx(1.0)


def test_equal_work_puts_the_whole_latency_reduction_on_utilization():
    p = D.latency_parts({"work": 50.0, "idle": 50.0}, {"work": 50.0, "idle": 0.0})
    assert p["latency_ratio"] == pytest.approx(0.5)
    assert p["work_share"] == pytest.approx(0.0) and p["utilization_share"] == pytest.approx(1.0)


def test_energy_parts_multiply_to_the_eq3_ratio_by_hand():
    lth = {"work": 100.0, "idle": 100.0, "spike_sparsity": 0.8}
    ut = {"work": 50.0, "idle": 0.0, "spike_sparsity": 0.9}
    r = 0.5
    # E_LTH = 100*0.2 + 200*0.5 = 120; E_uT = 50*0.1 + 50*0.5 = 30 -> ratio 0.25
    p = D.energy_parts(lth, ut, r)
    assert p["energy_ratio"] == pytest.approx(0.25)
    assert p["work_part"] == pytest.approx(0.5)
    # utilization part at S_LTH: (0.2 + 0.5/1) / (0.2 + 0.5/0.5) = 0.7 / 1.2
    assert p["utilization_part"] == pytest.approx(0.7 / 1.2)
    # spike part at u_uT = 1: (0.1 + 0.5) / (0.2 + 0.5) = 0.6 / 0.7
    assert p["spike_part"] == pytest.approx(0.6 / 0.7)
    assert p["work_part"] * p["utilization_part"] * p["spike_part"] == pytest.approx(0.25)
    assert p["work_share"] + p["utilization_share"] + p["spike_share"] == pytest.approx(1.0)


def test_work_ratio_splits_into_surviving_weights_and_cycles_per_weight_by_hand():
    # LTH keeps 2 % of its weights, u-Ticket 1.5 %: 0.75 of the weights; work 90 vs 100 -> 0.9,
    # so each surviving u-Ticket weight costs 0.9 / 0.75 = 1.2 times an LTH weight
    p = D.work_parts({"work": 100.0, "weight_sparsity": 0.98}, {"work": 90.0, "weight_sparsity": 0.985})
    assert p["surviving_weight_ratio"] == pytest.approx(0.75)
    assert p["cycles_per_weight_ratio"] == pytest.approx(1.2)
    assert p["surviving_weight_ratio"] * p["cycles_per_weight_ratio"] == pytest.approx(p["work_ratio"])


def test_paper_vgg16_fmnist_latency_reduction_from_table_ii():
    # Table II: LTH W 1.10 I 0.42, uT W 0.81 I 0 -> ratio 0.81 / 1.52
    row = [r for r in D.paper_rows("fmnist", 0.21) if r["arch"] == "vgg16"][0]
    assert row["latency reduction %"] == pytest.approx(100 * (1 - 0.81 / 1.52))
    assert row["work ratio"] == pytest.approx(0.81 / 1.10)
    # Table I: 98.2 % vs 98.5 % weight sparsity -> 1.5 / 1.8 of the weights survive
    assert row["surviving-weight ratio"] == pytest.approx(1.5 / 1.8)


def test_ceil_work_increase_by_hand():
    # one 3x3 conv covered layer with 4 filters, n_pe 4; loads 1, 2, 2, 2 -> mean 1.75, ceil 2:
    # added 4*2 - 7 = 1 weight; each weight costs positions (2x2 output) x T (4) = 16 cycles
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Conv2d(4, 4, 3, padding=1))
    layers = hardware.trace(net, (1, 1, 2, 2), timesteps=4)
    names = [l.name for l in layers]
    m = torch.zeros(4, 4, 3, 3)
    m[0, 0, 0, 0] = 1
    for k in (1, 2, 3):
        m[k, 0, 0, :2] = 1
    masks = {names[0]: torch.ones(4, 1, 3, 3), names[1]: m}
    out = D.ceil_work_increase(masks, layers, n_pe=4, timesteps=4)
    assert out["work"] == 7 * 16 and out["added"] == 1 * 16
    assert out["relative"] == pytest.approx(1 / 7)
    assert out["weights_per_filter"] == pytest.approx(7 / 4)


def test_ceiling_adds_under_one_weight_per_filter():
    layers = hardware.trace(models.build("vgg16", in_channels=1, width=0.125), (1, 1, 32, 32))
    from uticket_lib.analysis.masks import synthetic_masks
    masks = synthetic_masks(layers, 0.95)
    out = D.ceil_work_increase(masks, layers, n_pe=16, timesteps=1)
    cov = hardware.covered_layers(layers)
    filters = sum(masks[n].shape[0] for n in cov)
    assert 0 < out["added"] < sum(masks[n].shape[0] * l.positions for l in layers for n in [l.name]
                                  if n in cov)
    assert out["added"] / out["work"] > 0 and filters > 0


def test_text_reads_the_numbers_of_both_sources():
    ours = {"vgg16": {"lth": {"work": 100.0, "idle": 25.0, "spike_sparsity": 0.9, "weight_sparsity": 0.98},
                      "uticket": {"work": 105.0, "idle": 0.0, "spike_sparsity": 0.9, "weight_sparsity": 0.979}}}
    parts = D.frame(ours, "fmnist", 0.21)
    width = {"vgg16": pd.DataFrame({"LTH cycle utilization": [0.9, 0.8], "ceil adds work %": [0.3, 1.7]},
                                   index=pd.Index([1.0, 0.25], name="width"))}
    t = D.text(parts, width)
    # ours: latency (105 + 0) / (100 + 25) = 0.84 -> 16.0 %; the paper's VGG-16 row: 46.7 %
    assert "this build 16.0 %" in t["latency"] and "paper 46.7 %" in t["latency"]
    assert "this build 1.05x the weights" in t["weights"] and "paper 0.83x" in t["weights"]
    assert "0.90 at width 1 and 0.80 at 0.25" in t["width"] and "1.7 % work" in t["width"]
    assert t["balance"] == "VGG-16: this build 0.80; paper 0.72"
