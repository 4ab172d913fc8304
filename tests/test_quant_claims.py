"""Chapter 11's claims: each reproduction claim passes on a good summary and fails on a mutated one."""
from __future__ import annotations

import copy

import pandas as pd
import pytest

from uticket_lib import profiles
from uticket_lib.analysis import quant as aq
from uticket_lib.analysis.stats import SeedSpread


def _point(name, kind, acc, energy, latency=1.0, sparsity=0.0, bits=16):
    return {"point": name, "kind": kind, "accuracy": acc, "energy": energy, "latency": latency,
            "sparsity": sparsity, "bits": bits, "test_images": 10000, "zero_share": 0.0}


def _summary():
    dense = _point("dense", "float", 0.90, 100.0)
    iso = {2: {**_point("d2", "isolation", 0.899, 40.0, bits=2), "zero_share": 0.6},
           4: {**_point("d4", "isolation", 0.901, 60.0, bits=4), "zero_share": 0.15},
           8: {**_point("d8", "isolation", 0.90, 80.0, bits=8), "zero_share": 0.01}}
    init = pd.Series({2: 0.5, 3: 0.3, 4: 0.14, 6: 0.03, 8: 0.01})
    ticket = _point("lth16", "pruned", 0.89, 50.0, latency=2.0, sparsity=0.8)
    front = pd.DataFrame([dense, *iso.values(), ticket, _point("cum", "cumulative", 0.895, 10.0, bits=2),
                          _point("joint", "joint", 0.88, 12.0, bits=2)])
    front["pareto"] = aq.pareto(front)
    return {"float": dense, "iso": iso, "zeros": aq.zero_frame(iso, init), "ticket": ticket,
            "ternary": iso[2], "util": {"uticket16": 1.0, "quantized": 0.8, "rebalanced": 1.0, "survives": True},
            "reduction": {2: 28.0, 16: 30.0}, "front": front, "seeds": SeedSpread(3, 0.05, "test")}


def _verdicts(s):
    return {c.statement: c.verdict for c in aq.claims(s)}


PRUNED_VS_TERNARY = "the pruned ticket (16 bit) costs more PE energy than the ternary dense network"


def test_good_summary_passes_everything_but_the_unmatchable_comparison():
    v = _verdicts(_summary())
    assert len(v) == 8 and v.pop(PRUNED_VS_TERNARY) == "INCONCLUSIVE"
    assert set(v.values()) == {"PASS"}


def test_pruned_vs_ternary_is_inconclusive_at_another_sparsity_whatever_the_energy():
    """The seed compares at its iso-accuracy 80 % sparsity with its own simulator: not matchable here."""
    s = _summary()
    for energy in (30.0, 50.0, 500.0):
        s["ticket"]["energy"] = energy
        assert _verdicts(s)[PRUNED_VS_TERNARY] == "INCONCLUSIVE"


def test_accuracy_claims_cannot_pass_without_the_seed_spread():
    s = _summary()
    del s["seeds"]
    v = _verdicts(s)
    assert v["2-bit QAT of the dense network stays within 1 point of float"] == "INCONCLUSIVE"
    s["iso"][2]["accuracy"] = 0.85                                    # far outside: FAIL stands
    assert _verdicts(s)["2-bit QAT of the dense network stays within 1 point of float"] == "FAIL"


def test_ternary_saving_smaller_is_direction_larger_keeps_it():
    name = "u-Ticket keeps its 16-bit PE energy saving over LTH with ternary weights (side-study tickets)"
    s = _summary()
    s["reduction"][2] = 0.5 * s["reduction"][16]      # half the 16-bit saving: smaller, same sign
    assert _verdicts(s)[name] == "DIRECTION"
    s["reduction"][2] = 0.8 * s["reduction"][16]      # within the one-sided 25 %
    assert _verdicts(s)[name] == "PASS"
    s["reduction"][2] = 1.5 * s["reduction"][16]      # a larger saving keeps it too
    assert _verdicts(s)[name] == "PASS"


def _mutate_accuracy(s):
    s["iso"][2]["accuracy"] = 0.85


def _mutate_accuracy4(s):
    s["iso"][4]["accuracy"] = 0.85


def _mutate_zeros(s):
    s["iso"][4]["zero_share"] = 0.7
    s["zeros"] = aq.zero_frame(s["iso"], pd.Series({2: 0.5}))


def _mutate_balance(s):
    s["util"]["quantized"] = 0.995


def _mutate_rebalance(s):
    s["util"]["survives"] = False


def _mutate_reduction(s):
    s["reduction"][2] = -3.0


def _mutate_front(s):
    f = s["front"]
    f.loc[f["kind"].isin(["cumulative", "joint"]), "energy"] = 1000.0
    f["pareto"] = aq.pareto(f)


@pytest.mark.parametrize("mutate,statement", [
    (_mutate_accuracy, "2-bit QAT of the dense network stays within"),
    (_mutate_accuracy4, "4-bit QAT of the dense network stays within"),
    (_mutate_zeros, "the share of weights quantization sets to zero falls"),
    (_mutate_balance, "ternary quantization breaks"),
    (_mutate_rebalance, "re-balancing after quantization restores"),
    (_mutate_reduction, "u-Ticket keeps its 16-bit PE energy saving"),
    (_mutate_front, "a pruned-and-quantized point lies on"),
])
def test_each_claim_can_fail(mutate, statement):
    s = copy.deepcopy(_summary())
    mutate(s)
    v = _verdicts(s)
    hit = [k for k in v if k.startswith(statement)]
    assert len(hit) == 1 and v[hit[0]] == "FAIL"
    assert sum(x == "FAIL" for x in v.values()) == 1           # only the mutated claim flips


def test_accuracy_claim_inconclusive_on_few_images():
    s = _summary()
    s["iso"][2]["accuracy"], s["iso"][2]["test_images"], s["float"]["test_images"] = 0.895, 100, 100
    assert _verdicts(s)["2-bit QAT of the dense network stays within 1 point of float"] == "INCONCLUSIVE"


def test_pareto_hand_case():
    f = pd.DataFrame({"energy": [1.0, 2.0, 2.0, 3.0], "accuracy": [0.5, 0.9, 0.8, 0.9]})
    assert aq.pareto(f).tolist() == [True, True, False, False]


def test_joint_overrides_reach_the_profile_sparsity():
    for cfg in (profiles.get("cpu", overrides=profiles.side_study("cpu")),   # chapter 11's pair
                profiles.get("smoke")):
        o = aq.joint_overrides(cfg, rounds=2)
        assert o["prune.levels"] == 3
        rounds = cfg.prune.levels - 1
        assert (1 - o["prune.fraction"]) ** 2 == pytest.approx((1 - cfg.prune.fraction) ** rounds, rel=1e-3)
