"""Chapter 12's reproduction claims can fail: each mutation of the measured numbers flips the verdict."""
import copy
import math

import pytest

from uticket_lib.analysis import timesteps as ts


def summary(latency, energy, syn, neurons, acc):
    return {"latency": latency, "energy": energy, "synaptic_updates": syn, "neuron_evaluations": neurons,
            "accuracy": acc, "utilization": 0.9, "work": latency * 16}


def results():
    """Hand-made search results: LTH and u-Ticket, uniform and layerwise (2x fewer of everything)."""
    def one(lat, acc):
        return {"uniform": summary(lat, 10.0, 100.0, 50.0, acc),
                "chosen": summary(lat / 2, 5.0, 40.0, 25.0, acc - 0.005),
                "test": {"uniform": acc, "chosen": acc - 0.01}, "settings": {"validation_images": 500}}
    return {"vgg16": {"lth": one(1000.0, 0.80), "uticket": one(800.0, 0.80)}}


def verdicts(claims):
    return [c.verdict for c in claims]


def test_reductions_pass_on_the_hand_made_results():
    assert verdicts(ts.reduction_claims(results(), 0.01)) == ["PASS"] * 3


def test_reduction_below_the_seed_low_end_fails():
    """Below the seed's lowest factor: DIRECTION (a smaller cut), with the ratio of the reductions;
    no cut at all (a plan that changes nothing, or a slower one): FAIL."""
    for key, (lo, _) in ts.SEED_RANGES.items():
        label = ts.METRIC_LABELS[key]
        r = results()
        u = r["vgg16"]["uticket"]
        u["chosen"][key] = u["uniform"][key] / (lo - 0.05)             # just below the seed's low end
        got = [c for c in ts.reduction_claims(r, 0.01) if label in c.statement]
        assert [c.verdict for c in got] == ["DIRECTION"]
        assert got[0].ratio == pytest.approx((lo - 0.05 - 1) / (lo - 1))
        for factor in (1.0, 1.02):                                      # no cut, or one too small to speak of
            u["chosen"][key] = u["uniform"][key] / factor
            assert [c.verdict for c in ts.reduction_claims(r, 0.01) if label in c.statement] == ["FAIL"]


def test_accuracy_half_is_reported_not_judged():
    """The search keeps every plan within the budget on these same validation images (tested in
    test_timeplan.py), so the drop is shown but no longer decides the verdict: it holds by construction."""
    r = results()
    r["vgg16"]["lth"]["chosen"]["accuracy"] = r["vgg16"]["lth"]["uniform"]["accuracy"] - 0.02
    cs = ts.reduction_claims(r, 0.01)
    assert verdicts(cs) == ["PASS"] * 3 and all("max val drop 2.00 points" in c.measured for c in cs)
    assert all(c.ratio is not None and c.ratio >= 1 for c in cs)


def test_uticket_saving_persists_and_can_fail():
    r = results()
    assert ts.uticket_claim(r).verdict == "PASS"                      # 20 % at uniform and layerwise
    assert ts.uticket_claim(r).measured == ("VGG-16: 20.0 % at uniform T, 20.0 % layerwise (test accuracy uniform "
                                            "-> plan: LTH 80.0 -> 79.0 %, u-Ticket 80.0 -> 79.0 %)")
    slower = copy.deepcopy(r)
    slower["vgg16"]["uticket"]["chosen"]["latency"] = 520.0            # u-Ticket's plan slower than LTH's
    assert ts.uticket_claim(slower).verdict == "FAIL"
    eroded = copy.deepcopy(r)
    eroded["vgg16"]["uticket"]["chosen"]["latency"] = 460.0            # 8 % < half of 20 %
    assert ts.uticket_claim(eroded).verdict == "FAIL"
    assert ts.uticket_claim({"vgg16": {"lth": r["vgg16"]["lth"]}}).verdict == "FAIL"   # nothing to compare
    stayed = copy.deepcopy(r)                                          # no plan found: both uniform
    for m in ("lth", "uticket"):
        stayed["vgg16"][m]["chosen"] = dict(stayed["vgg16"][m]["uniform"])
    assert ts.uticket_claim(stayed).verdict == "INCONCLUSIVE"


def test_silent_ticket_makes_the_reduction_inconclusive_not_infinite():
    r = results()
    for phase in ("uniform", "chosen"):                                # no events before or after
        r["vgg16"]["lth"][phase]["synaptic_updates"] = 0.0
    got = {c.statement: c.verdict for c in ts.reduction_claims(r, 0.01)}
    label = ts.METRIC_LABELS["synaptic_updates"]
    assert [v for s, v in got.items() if label in s] == ["INCONCLUSIVE"]
    assert [v for s, v in got.items() if label not in s] == ["PASS", "PASS"]


def test_reduction_factor_and_frames():
    assert ts.reduction(4.0, 2.0) == 2.0 and ts.reduction(1.0, 0.0) == float("inf")
    assert math.isnan(ts.reduction(0.0, 0.0))
    f = ts.plans_frame({a: {m: {**v, "chosen": {**v["chosen"], "plan": [4, 2]}} for m, v in by.items()}
                        for a, by in results().items()})
    assert f.loc[("VGG-16", "LTH"), "PE latency x"] == 2.0
    c = ts.combined_frame(results())
    assert c.loc[("VGG-16", "u-Ticket", "layerwise"), "latency (rel. LTH uniform)"] == 0.4


def test_plan_summary_names_the_plan_or_why_none_was_chosen():
    r = results()
    r["vgg16"]["lth"]["chosen"]["plan"] = [4, 2]
    r["vgg16"]["uticket"]["chosen"] = dict(r["vgg16"]["uticket"]["uniform"], plan=[4, 4])
    r["vgg16"]["uticket"]["sensitivity"] = [{"drop": 0.031, "latency_saving": 0.1}, {"drop": 0.017, "latency_saving": 0.2},
                                            {"drop": -0.05, "latency_saving": 0.0}]   # saves nothing: ignored
    text = ts.plan_summary(r, 0.01)
    assert "VGG-16 LTH: plan 4,2, 2.00x less latency" in text
    assert ("VGG-16 u-Ticket: kept uniform T; every one of the 2 latency-saving changes costs more than the "
            "1-point budget (the cheapest 1.7)") in text
    # a cheap change the capped greedy search never reached is named as such, not as "too costly"
    r["vgg16"]["uticket"]["sensitivity"].append({"drop": 0.004, "latency_saving": 0.01})
    r["vgg16"]["uticket"]["greedy"] = [{"kept": False}, {"kept": False}]
    assert ("1 of the 3 latency-saving changes fit the 1-point budget (the largest saves 1.0 % of the latency), but the "
            "search tried only the 2 with the most latency saved per point lost, and none of those fit") \
        in ts.plan_summary(r, 0.01)
