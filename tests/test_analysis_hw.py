"""analysis.hwframes / paper_compare / claims and plotting.hardware on tiny synthetic runs (CPU, seconds)."""
from __future__ import annotations

import math

import matplotlib
import pandas as pd
import pytest
import torch

matplotlib.use("Agg")

from conftest import synthetic, tiny_config  # noqa: E402
from uticket_lib import lottery, paper, runstore  # noqa: E402
from uticket_lib.analysis import claims, hwframes, masks, paper_compare  # noqa: E402
from uticket_lib.analysis import runs as runlib  # noqa: E402
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
    assert hwframes.reduction(4.0, 1.0) == 75.0
    assert math.isnan(hwframes.reduction(0.0, 1.0))


def test_paper_table_ii_reductions():
    t = paper_compare.paper_table_ii()
    assert len(t) == 12
    assert t.loc[("VGG-16", "CIFAR10", "LTH"), "latency_reduction_pct"] == 0
    assert t.loc[("VGG-16", "CIFAR10", "u-Ticket"), "latency_reduction_pct"] == pytest.approx(100 * (1 - 0.94 / 1.75))
    assert (t.xs("u-Ticket", level="method")["idle_share"] == 0).all()
    assert len(paper_compare.paper_table_ii("fmnist")) == 4


def test_calibration_reproduces_paper():
    r = paper_compare.fitted_ratio()
    assert r == pytest.approx(0.2105, abs=1e-3)
    cal = paper_compare.calibration_frame()
    assert len(cal) == 6
    assert cal["difference (pp)"].abs().max() < 0.5
    # a much larger leakage ratio predicts larger savings: the fit is not trivially flat
    assert (paper_compare.calibration_frame(1.0)["predicted % (fit)"] > cal["predicted % (fit)"]).all()


def test_presets_frame_has_units_and_sources():
    f = hwframes.presets_frame()
    assert set(f.index.get_level_values(0)) == {"paper_calibrated", "bottom_up_32nm"}
    assert (f["unit"].str.len() > 0).all() and (f["source"].str.len() > 0).all()
    assert f.loc[("paper_calibrated", "E_l / E_d"), "value"] == pytest.approx(0.2105)


def test_table_ii_and_cycle_identity(runs):
    t = paper_compare.table_ii(runs)
    ut, lth = t.loc[("VGG-16", "u-Ticket")], t.loc[("VGG-16", "LTH")]
    assert ut["idle (1e6)"] == 0 and ut["utilization"] == pytest.approx(1.0)
    assert lth["idle (1e6)"] > 0 and lth["utilization"] < 1
    assert ut["latency reduction %"] == pytest.approx(hwframes.latency_reduction(runs["vgg16"]))
    assert t["paper utilization"].notna().all()
    for m in ("lth", "uticket"):
        rep = runlib.hardware_report(runs["vgg16"][m])
        assert rep["settings"]["n_pe"] == 4                      # the run's n_PE, not 16
        masks_ = runstore.load_masks(runs["vgg16"][m], runlib.last_level(runs["vgg16"][m]))
        assert hwframes.independent_cycles_error(masks_, rep) < 1e-12
        # the independent count is not the report's own identity: a wrong idle is caught
        bad = {**rep, "layers": [{**r, "idle": r["idle"] + 1.0} if r["covered"] else r for r in rep["layers"]]}
        assert hwframes.independent_cycles_error(masks_, bad) > 0
    assert sum(r["idle"] for r in runlib.hardware_report(runs["vgg16"]["uticket"])["layers"] if r["covered"]) == 0


def test_layer_frame(runs):
    f = hwframes.layer_frame(runs["vgg16"])
    n_cov = len(runlib.hardware_report(runs["vgg16"]["lth"])["settings"]["covered"])
    assert len(f) == 2 * n_cov
    assert ((f.work + f.idle - 4 * f.latency).abs() < 1e-6).all()
    assert (f[f.method == "uticket"].idle == 0).all()


def test_cycle_modes_events(runs):
    try:
        f = hwframes.cycle_modes(runs["vgg16"], n_images=2)
    except DataMissingError:
        pytest.skip("Fashion-MNIST not installed")
    assert set(f.index.get_level_values(0)) == {"output", "valid", "events", "ticks"}
    assert (f["work"] >= 0).all()
    # padding-aware counting never exceeds the output reconstruction
    assert (f.xs("valid")["work"] <= f.xs("output")["work"] + 1e-9).all()
    # event modes only count (weight, spike) matches: at most the dense "valid" work (x T for ticks)
    assert (f.xs("events")["work"] <= f.xs("valid")["work"] + 1e-6).all()


def test_energy_tables(runs):
    ef = hwframes.energy_frame(runs)
    r = ef.loc["VGG-16"]
    assert r["reduction %"] == pytest.approx(hwframes.reduction(r["energy LTH"], r["energy u-Ticket"]))
    assert r["paper reduction % (FMNIST)"] == paper.FIG7A_ENERGY_REDUCTION[("vgg16", "fmnist")]
    vs = hwframes.energy_vs_sparsity(runs["vgg16"])
    assert list(vs.index) == [0, 1, 2]
    assert vs.loc[0, "reduction %"] == pytest.approx(0.0)      # the shared dense level
    assert vs["sparsity LTH"].is_monotonic_increasing
    br = hwframes.breakdown_frame(runs["vgg16"])
    assert br.loc["total", "LTH"] == pytest.approx(br.loc[list(hwframes.COMPONENTS), "LTH"].sum())
    sens = hwframes.preset_sensitivity(runs)
    assert list(sens.index) == ["paper_calibrated", "bottom_up_32nm"]
    c = hwframes.constants_frame(runlib.hardware_report(runs["vgg16"]["lth"], energy="bottom_up_32nm"))
    assert {"e_dyn", "e_leak", "mac_dyn", "dram"} <= set(c.index) and (c["unit"].str.len() > 0).all()


def test_pe_sweep(runs):
    run = runs["vgg16"]["uticket"]
    plain = hwframes.pe_sweep(run, n_pes=(2, 4, 8))
    assert plain["latency_norm"].iloc[0] == 1 and plain["energy_norm"].iloc[0] == 1
    assert plain["latency"].is_monotonic_decreasing
    bal = hwframes.pe_sweep(runs["vgg16"]["lth"], n_pes=(2, 4, 8), rebalance=True)
    # rebalanced for each n_PE: no idle while every layer fills its blocks (K = 4 at this width) ...
    assert (bal.loc[[2, 4], "idle"] == 0).all() and (bal.loc[[2, 4], "utilization"] > 0.999).all()
    # ... and at 8 PEs only the empty padding PEs of the 4-filter layers idle
    assert bal.loc[8, "idle"] > 0
    t = paper_compare.table_iii({"u-Ticket": plain, "LTH rebalanced": bal})
    assert t.loc[2, "latency paper"] == 1 and t.loc[8, "ideal latency 2/n"] == 0.25
    h = hwframes.halving_ratios(plain)
    assert len(h) == 2 and (h > 0).all() and (h <= 1).all()


def test_system_tables(runs):
    s = hwframes.system_frame(runs)
    parts = s[["DRAM pJ", "GLB pJ", "spad pJ", "PE pJ"]].sum(axis=1)
    assert (abs(parts - s["total pJ"]) < 1e-6 * s["total pJ"]).all()
    assert ((s["PE share %"] > 0) & (s["PE share %"] < 100)).all()
    m = hwframes.memory_frame(runs["vgg16"]["lth"])
    assert (m["weights WSP (kbit)"] > 0).all() and (m["DRAM words"] <= m["DRAM words dense"]).all()
    mv = hwframes.memory_vs_sparsity(runs["vgg16"]["lth"])
    assert mv["DRAM / dense"].iloc[-1] < mv["DRAM / dense"].iloc[0]


def test_reordering(runs):
    f = hwframes.reordering_frame(runs["vgg16"])
    assert list(f.index) == ["lth", "lth + sorted", "uticket", "uticket + sorted"]     # keys in data
    assert f.loc["lth + sorted", "latency"] <= f.loc["lth", "latency"]
    assert f.loc["lth + sorted", "accuracy"] == f.loc["lth", "accuracy"]
    assert f.loc["uticket + sorted", "latency"] == pytest.approx(f.loc["uticket", "latency"])
    chk = hwframes.reordering_checks(runs)["vgg16"]
    assert chk["is_permutation"] and chk["nnz_permuted"] == chk["nnz"] > 0 and chk["max_ratio"] <= 1 + 1e-12
    lay = hwframes.reorder_layers_frame(runs["vgg16"]["lth"])
    assert (lay["ratio"] <= 1 + 1e-12).all()


def test_claims(runs):
    reps = hwframes.final_reports(runs)
    out = claims.cycles(reps, hwframes.cycles_checks(runs))
    out += claims.energy(paper_compare.calibration_frame(),
                         {a: (r["lth"]["network"]["energy"], r["uticket"]["network"]["energy"]) for a, r in reps.items()},
                         {"vgg16": hwframes.energy_vs_sparsity(runs["vgg16"])["reduction %"]})
    out += claims.system(reps)
    out += claims.reordering({a: hwframes.reordering_frame(p) for a, p in runs.items()}, hwframes.reordering_checks(runs))
    sweeps = {"u-Ticket": hwframes.pe_sweep(runs["vgg16"]["uticket"], n_pes=(2, 4)),
              "LTH": hwframes.pe_sweep(runs["vgg16"]["lth"], n_pes=(2, 4))}
    out += claims.pe_scaling(sweeps, "LTH", "u-Ticket", label="VGG-16")
    assert out[-1].statement.startswith("VGG-16: ")
    assert all(isinstance(c, claims.Claim) and c.statement and c.measured and c.tolerance for c in out)
    by = {c.statement: c for c in out}
    zero = by["VGG-16: u-Ticket has zero idle cycles and utilization 1 in the covered layers whose C_out is a multiple of n_PE"]
    assert zero.verdict == "PASS" and zero.kind == "invariant"
    assert by["VGG-16: sorted reordering never increases a layer's latency"].verdict == "PASS"
    cal = by["Eq. 3 with the fitted E_l/E_d reproduces the six Fig. 7(a) reductions"]
    assert cal.kind == "calibration" and cal.verdict == "PASS"
    n = claims.counts(out)
    # latency (ch. 5), PE energy and its trend (ch. 6), PE share and system saving (ch. 8); reordering,
    # the filled-block PE sweep and the scratchpad fit are implementation checks
    assert sum(n["reproduction"].values()) >= 5 and sum(n["calibration"].values()) == 1
    assert all(c.verdict in claims.VERDICTS for c in out)


def test_break_even_ratio():
    # LTH: D 100, P 200; u-Ticket: D 110 (more work), P 150 (fewer PE-cycles): equal at r = 10/50
    assert hwframes.break_even_ratio({"dynamic": 100, "work": 150, "idle": 50},
                                     {"dynamic": 110, "work": 150, "idle": 0}) == pytest.approx(0.2)
    # less dynamic work and fewer PE-cycles: u-Ticket wins at every ratio
    assert hwframes.break_even_ratio({"dynamic": 100, "work": 150, "idle": 50},
                                     {"dynamic": 90, "work": 140, "idle": 0}) is None


def test_plots(runs):
    pair = runs["vgg16"]
    figs = [hplot.layer_bars(hwframes.layer_frame(pair)), hplot.energy_bars(hwframes.energy_frame(runs)),
            hplot.energy_vs_sparsity({"VGG-16": hwframes.energy_vs_sparsity(pair)}),
            hplot.breakdown_bars({"VGG-16": hwframes.breakdown_frame(pair)}),
            hplot.pe_sweep(paper_compare.table_iii({"u-Ticket": hwframes.pe_sweep(pair["uticket"], n_pes=(2, 4))})),
            hplot.memory_bars(hwframes.memory_frame(pair["lth"])), hplot.system_bars(hwframes.system_frame(runs)),
            hplot.memory_vs_sparsity({"LTH": hwframes.memory_vs_sparsity(pair["lth"])}),
            hplot.reordering_bars({"VGG-16": hwframes.reordering_frame(pair)}),
            hplot.calibration_scatter(paper_compare.calibration_frame())]
    for f in figs:
        assert f.axes and any(ax.has_data() for ax in f.axes)
    import matplotlib.pyplot as plt
    plt.close("all")


def test_synthetic_masks_hit_the_sparsity_and_repeat_per_seed():
    from uticket_lib.hardware import Layer
    layers = [Layer("a.weight", "conv", 8, 4, (3, 3), in_hw=(8, 8), out_hw=(8, 8), role="encoder"),
              Layer("b.weight", "conv", 16, 8, (3, 3), in_hw=(8, 8), out_hw=(8, 8)),
              Layer("c.weight", "linear", 10, 16, role="classifier")]
    a = masks.synthetic_masks(layers, 0.9, seed=1)
    total = sum(m.numel() for m in a.values())
    assert sum(int(m.sum()) for m in a.values()) == round(0.1 * total)
    b = masks.synthetic_masks(layers, 0.9, seed=1)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert {tuple(m.shape) for m in a.values()} == {(8, 4, 3, 3), (16, 8, 3, 3), (10, 16)}


def test_an_lth_run_is_analysed_at_the_chapters_pe_count_not_its_creators(runs):
    """One LTH directory serves every N_PE (n_PE is not in its hash); its config.json keeps the PE
    count of the chapter that trained it (4 here). A chapter at N_PE = 8 must count it at 8."""
    from uticket_lib import analysis
    lth = runs["vgg16"]["lth"]
    assert runlib.config(lth).balance.n_pe == 4
    at4 = runlib.hardware_report(lth)
    analysis.chapter("smoke", "vgg16", n_pe=8, train=False)          # what a chapter's opening cell does
    at8 = runlib.hardware_report(lth)
    assert at4["settings"]["n_pe"] == 4 and at8["settings"]["n_pe"] == 8
    assert at8["network"]["idle"] != at4["network"]["idle"]          # 8-filter blocks idle differently
    util = runlib.method_levels({"vgg16": {"lth": lth}}, methods=("lth",), utilization=True)["utilization"]
    assert util.iloc[-1] == at8["network"]["utilization"]
    assert runlib.pe_count(lth) == 8
    runlib.ANALYSIS_N_PE = None                                      # outside a chapter: the run's own
    assert runlib.pe_count(lth) == 4
