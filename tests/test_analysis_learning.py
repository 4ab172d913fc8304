"""analysis.runs / toys / masks / switches / claims and plotting.learning (chapters 1-4 and 9).

Tiny synthetic runs (width 1/16, 48 images, 3 levels, 4 PEs), trained once per module.
"""
from __future__ import annotations

import math

import pandas as pd

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from uticket_lib import analysis, hardware, lottery, paper, profiles, runstore  # noqa: E402
from uticket_lib.analysis import claims, masks, paper_compare, switches, toys
from uticket_lib.analysis import runs as runlib  # noqa: E402
from uticket_lib.plotting import learning as P  # noqa: E402
from uticket_lib.pruning import balance as balancelib  # noqa: E402
from uticket_lib.pruning import mask as masklib  # noqa: E402

from conftest import synthetic, tiny_config  # noqa: E402

N_PE = 4


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"lth": dir, "uticket": dir} of one tiny configuration (shared dense level)."""
    root = tmp_path_factory.mktemp("runs")
    data = (synthetic(48, seed=1), synthetic(24, seed=2))
    return {m: lottery.run(tiny_config(m), datasets=data, root=root, progress=False)
            for m in ("lth", "uticket")}


@pytest.fixture(scope="module")
def data():
    return synthetic(48, seed=1), synthetic(24, seed=2)


# ----------------------------------------------------------------------------- chapter 1
def test_lif_library_matches_hand_computation():
    table = toys.lif_table(toys.toy_current(16))
    assert table["match"].all()
    # sub-threshold quarter never fires, the strong quarter fires every step, silence never fires
    assert table["spike (library)"].iloc[:4].sum() == 0
    assert table["spike (library)"].iloc[8:12].sum() == 4
    assert table["spike (library)"].iloc[12:].sum() == 0
    # leak 0.25: constant input 0.5 converges to 0.5 from below
    assert table["charge (hand)"].iloc[3] == pytest.approx(0.5 - 0.5 * 0.25 ** 4)


def test_lif_reference_hard_reset():
    ref = toys.lif_reference([2.0, 0.0])
    assert ref["spike"].tolist() == [1.0, 0.0]
    assert ref["membrane"].tolist() == [0.0, 0.0]   # reset to 0, then no input


def test_surrogate_gradient_is_atan():
    f = toys.surrogate_frame(points=101)
    assert (f["autograd"] - f["formula"]).abs().max() < 1e-5
    assert f["formula"].max() == pytest.approx(1.0)        # alpha / 2 at the threshold
    assert set(f["heaviside"].unique()) == {0.0, 1.0}
    # below / above the threshold; the point at u ~ 0 is left out: whether the charge rounds to just
    # under or just over v_th there is one float path's last bit, not the neuron's definition
    assert (f.loc[f["u"] < -1e-6, "heaviside"] == 0).all()
    assert (f.loc[f["u"] > 1e-6, "heaviside"] == 1).all()


def test_layer_table_and_param_counts():
    t = toys.layer_table("vgg16", width=0.25)
    assert len(t) == 14 and t["covered"].sum() == 12        # 13 convs, one of them the encoder; 1 linear
    assert t.iloc[0]["role"] == "encoder" and not t.iloc[0]["covered"]
    counts = toys.param_counts(["resnet19"], [0.125], in_channels=1)
    row = counts.iloc[0]
    model = runstore.build_model(profiles.get("smoke", "resnet19", overrides={"model.width": 0.125}))
    assert row["weights (conv+linear)"] == sum(p.numel() for p in masklib.prunable(model).values())
    assert row["all parameters"] > row["weights (conv+linear)"]
    assert 0.9 < row["covered share"] < 1.0


# ----------------------------------------------------------------------------- chapter 2
def test_method_levels_and_table_i(runs):
    pairs = {"vgg16": runs}
    f = runlib.method_levels(pairs)
    assert set(f["method"]) == {"lth", "uticket"} and len(f) == 6
    lth = f[f["method"] == "lth"]
    assert lth["sparsity"].is_monotonic_increasing
    assert lth["sparsity"].to_numpy() == pytest.approx(lth["expected_sparsity"].to_numpy(), abs=0.01)
    t = paper_compare.table_i(pairs)
    assert list(t.columns)[:2] == ["level", "accuracy %"]
    assert t.loc[("VGG-16", "LTH"), "paper (FMNIST) accuracy %"] == paper.TABLE_I[("vgg16", "fmnist", "lth")]["acc"]
    assert 0 <= t.loc[("VGG-16", "u-Ticket"), "weight sparsity %"] <= 100


# ----------------------------------------------------------------------------- chapter 3
def test_toy_masks_balance_to_full_utilization():
    masks = toys.toy_masks()
    assert hardware.filter_loads(masks["imbalanced"]).tolist() == list(toys.TOY_LOADS)
    assert hardware.filter_loads(masks["balanced"]).tolist() == [4, 4, 4, 4]
    w = toys.toy_workload(masks)
    assert w.loc["balanced", "utilization"] == pytest.approx(1.0)
    assert w.loc["imbalanced", "utilization"] < 0.6
    assert (w["work + idle"] == w["n_PE x latency"]).all()
    # Eq. 2 by hand on the imbalanced loads 7, 2, 4, 3
    assert w.loc["imbalanced", "utilization"] == pytest.approx(1 - (7 - 4) / 7 * 4 / 3)
    bars = toys.pe_loads_frame(masks)
    assert len(bars) == 8 and bars["load"].sum() == 32


def test_random_and_magnitude_masks_keep_per_layer_counts(runs):
    trained = runstore.load_masks(runs["lth"], 2)
    rnd = masks.random_masks(trained, seed=0)
    assert all(int(rnd[n].sum()) == int(trained[n].sum()) for n in trained)
    assert all(torch.equal(rnd[n], masks.random_masks(trained, seed=0)[n]) for n in trained)
    assert any(not torch.equal(rnd[n], masks.random_masks(trained, seed=1)[n]) for n in trained)
    w = {n: torch.arange(m.numel(), dtype=torch.float32).view(m.shape) for n, m in trained.items()}
    mag = masks.magnitude_masks(w, trained)
    for n, m in trained.items():
        keep = int(m.sum())
        assert int(mag[n].sum()) == keep
        assert mag[n].view(-1)[m.numel() - keep:].all()   # the largest values are kept


def test_mask_origins_and_utilization(runs):
    f = masks.mask_origins(runs["lth"], n_pe=N_PE)
    assert list(f.index) == [0, 1, 2]
    assert f.loc[0, ["trained (LTH)", "random", "untrained magnitude"]].tolist() == pytest.approx([1, 1, 1])
    assert ((f[["trained (LTH)", "random", "untrained magnitude"]] <= 1 + 1e-9).all()).all()
    # the trained column equals the cached hardware report's network utilization
    rep = analysis.hardware_report(runs["lth"], 2, n_pe=N_PE)
    assert f.loc[2, "trained (LTH)"] == pytest.approx(rep["network"]["utilization"])
    layers = masks.origin_layers(runs["lth"], n_pe=N_PE)
    assert len(layers) == len(hardware.covered_layers(analysis.layers(runs["lth"])))


# ----------------------------------------------------------------------------- chapter 4
def test_balance_walkthrough_invariants():
    g = torch.Generator().manual_seed(3)
    mask = (torch.rand(10, 3, 3, 3, generator=g) < 0.3).float()
    t = masks.balance_walkthrough(mask, n_pe=4)
    assert len(t) == 10 and t["block"].max() == 2
    assert (t["load after"] == t["target"]).all()
    assert (t["load after"] - t["load before"] == t["recovered"] - t["removed"]).all()
    assert ((t["recovered"] == 0) | (t["removed"] == 0)).all()
    for _, b in t.groupby("block"):
        assert b["target"].iloc[0] == math.ceil(b["load before"].mean())


def test_uticket_layers_fully_utilized_and_cost(runs):
    lth_masks = runstore.load_masks(runs["lth"], 2)
    name = masks.walkthrough_layer(lth_masks, analysis.layers(runs["lth"]), n_pe=N_PE)
    assert name in hardware.covered_layers(analysis.layers(runs["lth"]))
    u = masks.covered_layer_utilization(runs["uticket"], n_pe=N_PE)
    assert (u["utilization"] > 0.999).all()
    cost = masks.balance_cost(runs["uticket"], repeats=1)
    assert cost["balance_seconds"] > 0 and cost["level_seconds"] > 0
    assert cost["percent_of_level"] == pytest.approx(100 * cost["balance_seconds"] / cost["level_seconds"])
    assert cost["paper_percent"] == 0.11


# ----------------------------------------------------------------------------- chapter 9
def test_switch_configs_change_one_key():
    base = {"model.width": 0.0625, "balance.n_pe": N_PE}
    cfgs = switches.switch_configs("smoke", overrides=base, levels=2)
    assert set(cfgs) == set(switches.training_switches()) == {"weight_decay", "rewind", "carry", "et"}
    ref = profiles.get("smoke", "vgg16", "fmnist", "uticket", base)
    assert cfgs["carry"].balance.carry is False and cfgs["carry"].dense_hash() == ref.dense_hash()
    assert cfgs["et"].prune.search_timesteps == "et" and cfgs["et"].dense_hash() != ref.dense_hash()
    assert cfgs["weight_decay"].train.released_weight_decay and cfgs["weight_decay"].dense_hash() != ref.dense_hash()
    assert all(c.prune.levels == 2 and c.hash() != ref.hash() for c in cfgs.values())


def test_switch_table(runs, data, tmp_path):
    base = {"model.width": 0.0625, "train.batch_size": 16, "train.epochs_dense": 2, "train.epochs": 1,
            "prune.fraction": 0.5, "prune.rewind_epoch": 1, "balance.n_pe": N_PE}
    cfgs = switches.switch_configs("smoke", overrides=base, levels=2)
    cfgs = {"carry": cfgs["carry"]}
    switched = {k: lottery.run(c, datasets=data, root=runs["lth"].parent, progress=False) for k, c in cfgs.items()}
    t = switches.switch_table(runs["uticket"], runs["lth"], switched, level=1)
    assert ("(c) balanced mask not carried", "u-Ticket") in t.index
    assert ("(d) unweighted network utilization", "LTH") in t.index
    # analysis-only switches leave accuracy and sparsity alone
    d = t.loc[("(e) ceil average in Eq. 2", "LTH")]
    assert d["accuracy diff"] == 0 and d["sparsity diff"] == 0
    # at level 1 the carry switch has nothing to carry yet: same masks as the baseline
    # (the released percentile keeps floor, not round: at most one weight apart)
    c = t.loc[("(c) balanced mask not carried", "u-Ticket")]
    total = sum(m.numel() for m in runstore.load_masks(runs["uticket"], 0).values())
    assert abs(c["sparsity diff"]) <= 1.0 / total + 1e-12
    assert c["seconds paper"] > 0 and c["seconds code"] > 0
    lv = switches.switch_levels(runs["uticket"], switched, levels=2)
    assert set(lv["setting"]) == {"paper behaviour", "(c) balanced mask not carried"}
    assert lv["level"].max() == 1


# ----------------------------------------------------------------------------- figures
def test_figures_build(runs):
    figs = [P.lif(toys.lif_table(toys.toy_current())), P.surrogate(toys.surrogate_frame(points=21)),
            P.levels(runlib.method_levels({"vgg16": runs}), metrics=("test_accuracy", "sparsity")),
            P.pe_loads(toys.pe_loads_frame(toys.toy_masks()), toys.toy_workload(toys.toy_masks())),
            P.utilization_levels({"VGG-16 LTH": analysis.utilization_frame(runs["lth"], n_pe=N_PE)}),
            P.origins(masks.mask_origins(runs["lth"], n_pe=N_PE), masks.origin_layers(runs["lth"], n_pe=N_PE)),
            P.walkthrough(masks.balance_walkthrough(runstore.load_masks(runs["lth"], 2)["features.1.conv.weight"]
                                                if "features.1.conv.weight" in runstore.load_masks(runs["lth"], 2)
                                                else list(runstore.load_masks(runs["lth"], 2).values())[1], n_pe=N_PE))]
    for fig in figs:
        assert fig.axes and any(ax.has_data() for ax in fig.axes)
    import matplotlib.pyplot as plt
    plt.close("all")


# ----------------------------------------------------------------------------- claims
def test_claim_builders(runs):
    pairs = {"vgg16": runs}
    frame = runlib.method_levels(pairs, utilization=True)
    s = runlib.ticket_summary(frame, "lth")
    assert s.loc["vgg16", "level"] == 2
    assert s.loc["vgg16", "accuracy drop (points)"] == pytest.approx(
        100 * (s.loc["vgg16", "dense accuracy"] - s.loc["vgg16", "test_accuracy"]))
    # every level of a fresh run stores its per-image correctness; the paired difference agrees
    acc = {"vgg16": runlib.paired_accuracy(runs["lth"], runs["lth"], 2, 0)}
    d = acc["vgg16"]
    assert d.n == 24 and d.diff == pytest.approx(s.loc["vgg16", "test_accuracy"] - s.loc["vgg16", "dense accuracy"])
    lc = claims.lottery(s, acc, bound=2.0)
    # the schedule (invariant), ticket vs dense accuracy, the firing rate against Table I
    assert [c.kind for c in lc] == ["invariant", "reproduction", "reproduction"] and lc[0].verdict == "PASS"
    assert "firing rate" in lc[2].statement and lc[2].ratio is not None
    assert claims.lottery(s, {"vgg16": None})[1].verdict == "INCONCLUSIVE"     # old run: no predictions
    covered = {"vgg16": masks.covered_layer_utilization(runs["uticket"], n_pe=N_PE)}
    cost = pd.DataFrame({"vgg16": masks.balance_cost(runs["uticket"], repeats=1)}).T
    uc = claims.uticket(runlib.final_rows(frame), covered, cost, {"vgg16": None}, max_cost_pct=1e9, n_pe=N_PE)
    by = {c.statement: c for c in uc}
    assert by["VGG-16 u-Ticket utilization >= 0.99 in every covered layer whose C_out is a multiple of n_PE"].verdict == "PASS"
    assert by["VGG-16 u-Ticket utilization >= 0.99 in every covered layer whose C_out is a multiple of n_PE"].kind == "invariant"
    assert any("balancing costs" in k and c.verdict == "PASS" for k, c in by.items())
    ut = paper_compare.utilization_table(frame)
    assert ut.loc[("VGG-16", "u-Ticket"), "utilization"] == pytest.approx(1.0, abs=1e-3)
    assert ut.loc[("VGG-16", "LTH"), "paper (FMNIST) utilization"] == 0.57
    counts = pd.DataFrame([{"arch": "vgg16", "width": 1.0, "weights (conv+linear)": 14_720_000},
                           {"arch": "resnet19", "width": 1.0, "weights (conv+linear)": 11_000_000}])
    lif = toys.lif_table(toys.toy_current(16))
    nc = claims.neurons(lif, toys.surrogate_frame(), counts)
    assert [c.verdict for c in nc] == ["PASS", "PASS", "PASS", "FAIL"]
    assert {c.kind for c in nc} == {"invariant"}


def test_imbalance_claims(runs):
    toy = toys.toy_workload(toys.toy_masks())
    util = {"vgg16": analysis.utilization_frame(runs["lth"], n_pe=N_PE)["utilization"]}
    draws = {"vgg16": masks.random_utilizations(runs["lth"], n_pe=N_PE, draws=3)}
    assert len(draws["vgg16"]) == 3 and len(set(draws["vgg16"])) > 1          # different seeds, different masks
    cl = claims.imbalance(toy, util, draws)
    assert len(cl) == 4 and cl[0].verdict == "PASS" and cl[0].kind == "invariant"
    last, first = util["vgg16"].iloc[-1], util["vgg16"].iloc[1]
    assert cl[1].verdict == claims.verdict(last < first < 1)
    # a draw range straddling the bound is INCONCLUSIVE, not PASS or FAIL
    assert claims.imbalance(toy, {}, {"vgg16": [0.7, 0.9]})[1].verdict == "INCONCLUSIVE"


def test_analysis_switch_table_and_claims(runs):
    t = switches.analysis_switch_table({"vgg16": runs})
    assert t.loc[("VGG-16", "u-Ticket"), "avg=ceil"] == pytest.approx(1.0)
    assert t.loc[("VGG-16", "u-Ticket"), "weighting=mean"] == pytest.approx(1.0)
    # ceil(T_avg) >= T_avg: the code's average never lowers utilization
    assert t.loc[("VGG-16", "LTH"), "avg=ceil"] >= t.loc[("VGG-16", "LTH"), "avg=mean"] - 1e-12
    empty = pd.DataFrame(columns=["accuracy diff"]).set_index(pd.MultiIndex.from_tuples([], names=["switch", "run"]))
    cl = claims.switches(empty, t, {}, max_weighting=1.0, max_avg=1.0)
    assert len(cl) == 2 and all(c.verdict == "PASS" for c in cl)


def test_paper_sparsity_gap_text_reads_table_i():
    lth, ut = (paper.TABLE_I[("resnet19", "fmnist", m)]["weight_sparsity"] for m in ("lth", "uticket"))
    assert switches.paper_sparsity_gap_text("resnet19", "fmnist") == f"{ut - lth:+.1f} points (ResNet-19, FMNIST)"
    assert switches.paper_sparsity_gap_text("vgg16", "nope") == "(no Table I row for this dataset)"


def test_imbalance_trend_claim_with_one_pruning_round_is_inconclusive():
    toy = pd.DataFrame({"utilization": [0.5, 1.0]}, index=["imbalanced", "balanced"])
    one = claims.imbalance(toy, {"vgg16": pd.Series([1.0, 0.55])}, {})
    assert one[1].verdict == "INCONCLUSIVE" and "one pruning round" in one[1].tolerance
    assert one[2].verdict == "PASS"                               # the final-level bound still tests
    two = claims.imbalance(toy, {"vgg16": pd.Series([1.0, 0.7, 0.55])}, {})
    assert two[1].verdict == "PASS"
    assert claims.imbalance(toy, {"vgg16": pd.Series([1.0, 0.5, 0.55])}, {})[1].verdict == "FAIL"


def test_energy_trend_claim_with_one_pruning_round_is_inconclusive():
    from uticket_lib.analysis import paper_compare
    one = claims.energy(paper_compare.calibration_frame(), {"vgg16": (10.0, 8.0)},
                        {"vgg16": pd.Series([0.0, 20.0])})
    trend = [c for c in one if "grows with sparsity" in c.statement][0]
    assert trend.verdict == "INCONCLUSIVE" and "one pruning round" in trend.tolerance
    two = claims.energy(paper_compare.calibration_frame(), {"vgg16": (10.0, 8.0)},
                        {"vgg16": pd.Series([0.0, 10.0, 20.0])})
    assert [c for c in two if "grows with sparsity" in c.statement][0].verdict == "PASS"
