"""analysis.hw and plotting.hardware on tiny synthetic runs (CPU, seconds)."""
from __future__ import annotations

import math

import matplotlib
import pandas as pd
import pytest
import torch

matplotlib.use("Agg")

from conftest import synthetic, tiny_config  # noqa: E402
from uticket_lib import lottery, paper  # noqa: E402
from uticket_lib.analysis import Claim, hw  # noqa: E402
from uticket_lib.data import DataMissingError  # noqa: E402
from uticket_lib.plotting import hardware as hplot  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"vgg16": {"lth": dir, "uticket": dir}}: 3 levels, width 1/16, 4 PEs, synthetic data."""
    root = tmp_path_factory.mktemp("runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("UTICKET_RUNS", str(root))
    data = (synthetic(48, seed=1), synthetic(24, seed=2))
    pair = {m: lottery.run(tiny_config(m), datasets=data, progress=False) for m in ("lth", "uticket")}
    yield {"vgg16": pair}
    mp.undo()


def test_reduction():
    assert hw.reduction(4.0, 1.0) == 75.0
    assert math.isnan(hw.reduction(0.0, 1.0))


def test_paper_table_ii_reductions():
    t = hw.paper_table_ii()
    assert len(t) == 12
    assert t.loc[("VGG-16", "CIFAR10", "LTH"), "latency_reduction_pct"] == 0
    assert t.loc[("VGG-16", "CIFAR10", "u-Ticket"), "latency_reduction_pct"] == pytest.approx(100 * (1 - 0.94 / 1.75))
    assert (t.xs("u-Ticket", level="method")["idle_share"] == 0).all()
    assert len(hw.paper_table_ii("fmnist")) == 4


def test_calibration_reproduces_paper():
    r = hw.fitted_ratio()
    assert r == pytest.approx(0.2105, abs=1e-3)
    cal = hw.calibration_frame()
    assert len(cal) == 6
    assert cal["difference (pp)"].abs().max() < 0.5
    # a much larger leakage ratio predicts larger savings: the fit is not trivially flat
    assert (hw.calibration_frame(1.0)["predicted % (fit)"] > cal["predicted % (fit)"]).all()


def test_presets_frame_has_units_and_sources():
    f = hw.presets_frame()
    assert set(f.index.get_level_values(0)) == {"paper_calibrated", "bottom_up_32nm"}
    assert (f["unit"].str.len() > 0).all() and (f["source"].str.len() > 0).all()
    assert f.loc[("paper_calibrated", "E_l / E_d"), "value"] == pytest.approx(0.2105)


def test_table_ii_and_cycle_identity(runs):
    t = hw.table_ii(runs)
    ut, lth = t.loc[("VGG-16", "u-Ticket")], t.loc[("VGG-16", "LTH")]
    assert ut["idle (1e6)"] == 0 and ut["utilization"] == pytest.approx(1.0)
    assert lth["idle (1e6)"] > 0 and lth["utilization"] < 1
    assert ut["latency reduction %"] == pytest.approx(hw.latency_reduction(runs["vgg16"]))
    assert t["paper utilization"].notna().all()
    for m in ("lth", "uticket"):
        rep = hw.hardware_report(runs["vgg16"][m])
        assert rep["settings"]["n_pe"] == 4                      # the run's n_PE, not 16
        assert hw.identity_error(rep) < 1e-12
    assert hw.idle_in_covered(hw.hardware_report(runs["vgg16"]["uticket"])) == 0


def test_layer_frame(runs):
    f = hw.layer_frame(runs["vgg16"])
    n_cov = len(hw.hardware_report(runs["vgg16"]["lth"])["settings"]["covered"])
    assert len(f) == 2 * n_cov
    assert ((f.work + f.idle - 4 * f.latency).abs() < 1e-6).all()
    assert (f[f.method == "uticket"].idle == 0).all()


def test_cycle_modes_events(runs):
    try:
        f = hw.cycle_modes(runs["vgg16"], n_images=2)
    except DataMissingError:
        pytest.skip("Fashion-MNIST not installed")
    assert set(f.index.get_level_values(0)) == {"output", "valid", "events", "ticks"}
    assert (f["work"] >= 0).all()
    # padding-aware counting never exceeds the output reconstruction
    assert (f.xs("valid")["work"] <= f.xs("output")["work"] + 1e-9).all()
    # event modes only count (weight, spike) matches: at most the dense "valid" work (x T for ticks)
    assert (f.xs("events")["work"] <= f.xs("valid")["work"] + 1e-6).all()


def test_energy_tables(runs):
    ef = hw.energy_frame(runs)
    r = ef.loc["VGG-16"]
    assert r["reduction %"] == pytest.approx(hw.reduction(r["energy LTH"], r["energy u-Ticket"]))
    assert r["paper reduction % (FMNIST)"] == paper.FIG7A_ENERGY_REDUCTION[("vgg16", "fmnist")]
    vs = hw.energy_vs_sparsity(runs["vgg16"])
    assert list(vs.index) == [0, 1, 2]
    assert vs.loc[0, "reduction %"] == pytest.approx(0.0)      # the shared dense level
    assert vs["sparsity LTH"].is_monotonic_increasing
    br = hw.breakdown_frame(runs["vgg16"])
    assert br.loc["total", "LTH"] == pytest.approx(br.loc[list(hw.COMPONENTS), "LTH"].sum())
    sens = hw.preset_sensitivity(runs)
    assert list(sens.index) == ["paper_calibrated", "bottom_up_32nm"]
    c = hw.constants_frame(hw.hardware_report(runs["vgg16"]["lth"], energy="bottom_up_32nm"))
    assert {"e_dyn", "e_leak", "mac_dyn", "dram"} <= set(c.index) and (c["unit"].str.len() > 0).all()


def test_pe_sweep(runs):
    run = runs["vgg16"]["uticket"]
    plain = hw.pe_sweep(run, n_pes=(2, 4, 8))
    assert plain["latency_norm"].iloc[0] == 1 and plain["energy_norm"].iloc[0] == 1
    assert plain["latency"].is_monotonic_decreasing
    bal = hw.pe_sweep(runs["vgg16"]["lth"], n_pes=(2, 4, 8), rebalance=True)
    # rebalanced for each n_PE: no idle while every layer fills its blocks (K = 4 at this width) ...
    assert (bal.loc[[2, 4], "idle"] == 0).all() and (bal.loc[[2, 4], "utilization"] > 0.999).all()
    # ... and at 8 PEs only the empty padding PEs of the 4-filter layers idle
    assert bal.loc[8, "idle"] > 0
    t = hw.table_iii({"u-Ticket": plain, "LTH rebalanced": bal})
    assert t.loc[2, "latency paper"] == 1 and t.loc[8, "ideal latency 2/n"] == 0.25
    h = hw.halving_ratios(plain)
    assert len(h) == 2 and (h > 0).all() and (h <= 1).all()


def test_system_tables(runs):
    s = hw.system_frame(runs)
    parts = s[["DRAM pJ", "GLB pJ", "spad pJ", "PE pJ"]].sum(axis=1)
    assert (abs(parts - s["total pJ"]) < 1e-6 * s["total pJ"]).all()
    assert ((s["PE share %"] > 0) & (s["PE share %"] < 100)).all()
    m = hw.memory_frame(runs["vgg16"]["lth"])
    assert (m["weights WSP (kbit)"] > 0).all() and (m["DRAM words"] <= m["DRAM words dense"]).all()
    mv = hw.memory_vs_sparsity(runs["vgg16"]["lth"])
    assert mv["DRAM / dense"].iloc[-1] < mv["DRAM / dense"].iloc[0]


def test_reordering(runs):
    f = hw.reordering_frame(runs["vgg16"])
    assert list(f.index) == ["LTH", "LTH + sorted", "u-Ticket", "u-Ticket + sorted"]
    assert f.loc["LTH + sorted", "latency"] <= f.loc["LTH", "latency"]
    assert f.loc["LTH + sorted", "weight sparsity"] == f.loc["LTH", "weight sparsity"]
    assert f.loc["LTH + sorted", "accuracy"] == f.loc["LTH", "accuracy"]
    assert f.loc["u-Ticket + sorted", "latency"] == pytest.approx(f.loc["u-Ticket", "latency"])
    lay = hw.reorder_layers_frame(runs["vgg16"]["lth"])
    assert (lay["ratio"] <= 1 + 1e-12).all()


def test_claims(runs):
    claims = (hw.claims_cycles(runs) + hw.claims_energy(runs) + hw.claims_system(runs)
              + hw.claims_reordering(runs))
    sweeps = {"u-Ticket": hw.pe_sweep(runs["vgg16"]["uticket"], n_pes=(2, 4)),
              "LTH": hw.pe_sweep(runs["vgg16"]["lth"], n_pes=(2, 4))}
    claims += hw.claims_pe(sweeps, "LTH", "u-Ticket", label="VGG-16")
    assert claims[-1].statement.startswith("VGG-16: ")
    assert all(isinstance(c, Claim) and c.statement and c.measured for c in claims)
    by = {c.statement: c.passed for c in claims}
    assert by["VGG-16: u-Ticket has zero idle cycles in the covered layers"]
    assert by["VGG-16: sorted reordering never increases a layer's latency (max ratio <= 1)"]
    assert by["Eq. 3 with the fitted E_l/E_d reproduces the six Fig. 7(a) reductions within 0.5 pp"]


def test_plots(runs):
    pair = runs["vgg16"]
    figs = [hplot.layer_bars(hw.layer_frame(pair)), hplot.energy_bars(hw.energy_frame(runs)),
            hplot.energy_vs_sparsity({"VGG-16": hw.energy_vs_sparsity(pair)}),
            hplot.breakdown_bars({"VGG-16": hw.breakdown_frame(pair)}),
            hplot.pe_sweep(hw.table_iii({"u-Ticket": hw.pe_sweep(pair["uticket"], n_pes=(2, 4))})),
            hplot.memory_bars(hw.memory_frame(pair["lth"])), hplot.system_bars(hw.system_frame(runs)),
            hplot.memory_vs_sparsity({"LTH": hw.memory_vs_sparsity(pair["lth"])}),
            hplot.reordering_bars({"VGG-16": hw.reordering_frame(pair)}),
            hplot.calibration_scatter(hw.calibration_frame())]
    for f in figs:
        assert f.axes and any(ax.has_data() for ax in f.axes)
    import matplotlib.pyplot as plt
    plt.close("all")


def test_synthetic_masks_hit_the_sparsity_and_repeat_per_seed():
    from uticket_lib.hardware import Layer
    layers = [Layer("a.weight", "conv", 8, 4, (3, 3), in_hw=(8, 8), out_hw=(8, 8), role="encoder"),
              Layer("b.weight", "conv", 16, 8, (3, 3), in_hw=(8, 8), out_hw=(8, 8)),
              Layer("c.weight", "linear", 10, 16, role="classifier")]
    a = hw.synthetic_masks(layers, 0.9, seed=1)
    total = sum(m.numel() for m in a.values())
    assert sum(int(m.sum()) for m in a.values()) == round(0.1 * total)
    b = hw.synthetic_masks(layers, 0.9, seed=1)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert {tuple(m.shape) for m in a.values()} == {(8, 4, 3, 3), (16, 8, 3, 3), (10, 16)}
