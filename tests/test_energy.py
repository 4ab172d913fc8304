"""Energy (Eq. 3, Fig. 7(a), Fig. 8), presets with provenance, memory (Fig. 9), paper.py transcription."""
import pytest
import torch

from uticket_lib import paper
from uticket_lib.hardware import PRESETS, Layer, eq3, fit_leak_ratio, report
from uticket_lib.hardware import energy as E
from uticket_lib.hardware import memory as M


def _row(arch, dataset, method):
    r = paper.cycles(arch, dataset, method)
    r["spike_sparsity"] = paper.spike_sparsity(arch, dataset, method)   # ResNet-19 CIFAR10: assumed
    return r


def _pairs():
    return [(_row(a, d, "lth"), _row(a, d, "uticket"), paper.FIG7A_ENERGY_REDUCTION[(a, d)])
            for a in paper.ARCHS for d in paper.DATASETS]


def test_fig7a_reproduced_within_half_a_point():
    for lth, ut, target in _pairs():
        assert E.predicted_reduction(lth, ut, 0.2105) == pytest.approx(target, abs=0.5)
    r = PRESETS["paper_calibrated"]
    assert r.e_leak.value / r.e_dyn.value == 0.2105


def test_leak_ratio_fit_gives_the_preset():
    assert fit_leak_ratio(_pairs()) == pytest.approx(0.2105, abs=5e-4)


def test_bottom_up_32nm_within_two_points():
    p = PRESETS["bottom_up_32nm"]
    assert p.e_dyn.value == pytest.approx(1.521) and p.e_leak.value == pytest.approx(0.2808)
    for lth, ut, target in _pairs():
        assert E.predicted_reduction(lth, ut, p.e_leak.value / p.e_dyn.value) == pytest.approx(target, abs=2.0)


def test_eq3_by_hand_and_breakdown_sum():
    assert eq3(100, 20, 0.8) == pytest.approx(100 * (0.2 + 0.2105) + 20 * 0.2105)
    assert eq3(100, 20, 0.8, dynamic=5) == pytest.approx(5 + 120 * 0.2105)
    m = PRESETS["bottom_up_32nm"]
    br = E.breakdown(100, 20, 0.8, lif=10, model=m)
    assert sum(br.values()) == pytest.approx(eq3(100, 20, 0.8, m) + 10 * 0.312)
    assert br["lif_leak"] == pytest.approx(120 * 0.206)
    assert E.breakdown(1, 1, 0.5, 1, "paper_calibrated") is None


def test_every_constant_has_unit_and_source():
    consts = [E.CLOCK_HZ, M.DRAM_PJ, M.GLB_PJ, M.SPAD_PJ, M.SPAD_BITS]
    for p in PRESETS.values():
        assert p.unit and p.source and ("derived" in p.source)
        consts += [p.e_dyn, p.e_leak] + (list(vars(p.components).values()) if p.components else [])
    for c in consts:
        assert c.unit and c.source
    # every preset's leakage comes from the preset's own source, never borrowed from another preset
    assert "horowitz_45nm" not in PRESETS
    for p in PRESETS.values():
        assert "0.2105 x E_d" not in p.e_leak.source


def test_paper_table_ii_identity_and_assumption_label():
    for row in paper.TABLE_II.values():
        assert row["latency"] == pytest.approx((row["work"] + row["idle"]) / 16, abs=0.0051)
    assert paper.TABLE_I[("resnet19", "cifar10", "lth")]["spike_sparsity"] is None
    assert paper.spike_sparsity("resnet19", "cifar10", "lth") == 0.645
    assert paper.spike_sparsity("resnet19", "cifar10", "lth", assumed=False) is None
    assert "assumption" in paper.ASSUMED_NOTE


def test_wsp_and_scratchpad_by_hand():
    L = Layer("w", "conv", 2, 3, (3, 3), (1, 1), (1, 1), (4, 4), (4, 4))
    mask = torch.zeros(2, 3, 3, 3)
    mask[0].view(-1)[:4] = 1
    w = M.weights(mask, L)
    assert (w["dense_bits"], w["wsp_bits"], w["spad_max_filter_bits"]) == (54 * 16, 54 + 64, 27 + 64)
    big = Layer("b", "conv", 1, 512, (3, 3), (1, 1), (1, 1), (4, 4), (4, 4))
    assert not M.weights(torch.ones(1, 512, 3, 3), big)["spad_fits"]
    assert M.weights((torch.rand(1, 512, 3, 3) < 0.02).float(), big)["spad_fits"]


def test_csr_bits_by_hand():
    # one 2x4 map, T=4, half active: 4 x (4 value + 2 column bits) + 3 row pointers x 4 bits
    assert M._csr_bits(1, 2, 4, 4, 0.5) == 36
    assert M.active_fraction(0.5, 2) == 0.75


def test_report_energy_sparsity_forms_agree():
    L = [Layer(f"l{i}.weight", "conv", 8, 4, (3, 3), (1, 1), (1, 1), (8, 8), (8, 8), "conv") for i in range(2)]
    torch.manual_seed(0)
    masks = {l.name: (torch.rand(l.weight_shape) < 0.3).float() for l in L}
    a = report(masks, L, n_pe=4, spike_sparsity=0.7)["network"]
    b = report(masks, L, n_pe=4, spike_sparsity={l.name: 0.7 for l in L})["network"]
    assert a["energy"] == pytest.approx(b["energy"])
    expect = eq3(a["work"], a["idle"], 0.7)
    assert a["energy"] == pytest.approx(expect)
    c = report(masks, L, n_pe=4, spike_sparsity=0.7, energy="bottom_up_32nm")["network"]
    assert c["energy_unit"] == "pJ" and c["energy_breakdown_total"] > c["energy"]
    assert c["memory"]["dram_norm"] < 1.5 and 0 < c["memory"]["pe_share"] < 1
