"""The landing summary is computed from the profiles and the claims JSON (hand-checked values)."""
from __future__ import annotations

import json

from uticket_lib.analysis import landing


def test_smoke_gaps_against_the_paper():
    gaps = {a: (b, c) for a, b, c in landing.scale_gaps("smoke")}
    assert gaps["training images"] == ("256", "60,000")        # smoke subset vs Fashion-MNIST's training split
    assert gaps["test images"] == ("128", "10,000")
    assert "data set" not in gaps          # the paper reports Fashion-MNIST too: no dataset gap
    assert gaps["training epochs per run"][0].startswith("4 ")    # 2 dense + 2 rounds x 1
    assert gaps["training epochs per run"][1].startswith("2,720 ")  # 200 + 14 x 180
    assert gaps["network width"][0].startswith("0.125 ")


def test_paper_profile_on_cifar10_has_no_gap():
    assert landing.scale_gaps("paper", dataset="cifar10") == []


def test_verdicts_counted_by_kind_ratios_shown_and_claims_grouped(tmp_path):
    rows = [{"statement": "a", "kind": "reproduction", "paper": "1", "measured": "2", "verdict": "FAIL", "ratio": -0.5},
            {"statement": "b", "kind": "reproduction", "paper": "not in the paper", "measured": "3", "verdict": "PASS"},
            {"statement": "c", "kind": "reproduction", "paper": "4", "measured": "4", "verdict": "INCONCLUSIVE"},
            {"statement": "f", "kind": "reproduction", "paper": "40 %", "measured": "10 %", "verdict": "DIRECTION",
             "ratio": 0.25},
            {"statement": "g", "kind": "reproduction", "paper": "40 %", "measured": "44 %", "verdict": "PASS",
             "ratio": 1.1},
            {"statement": "d", "kind": "calibration", "paper": "5", "measured": "5", "verdict": "PASS"},
            {"statement": "e", "kind": "invariant", "paper": "-", "measured": "-", "verdict": "PASS"}]
    (tmp_path / "04_uticket.json").write_text(json.dumps(rows))
    counts = landing.verdict_counts(landing.load_claims(tmp_path))["04_uticket"]
    assert counts[("reproduction", "FAIL")] == 1 and counts[("reproduction", "PASS")] == 2
    md = landing.render("cpu", tmp_path, {"04_uticket": "u-Ticket"})
    # PASS / DIRECTION / FAIL / INCONCLUSIVE, then calibration and invariant
    assert "| [u-Ticket](executed/04_uticket.ipynb) | 2 | 1 | 1 | 1 | 1 | 1 |" in md
    paper = md.split("#### The u-Ticket paper's results")[1].split("####")[0]
    ours = md.split("#### This book's own extensions")[1].split("###")[0]
    assert "| a |" in paper and "| c |" in paper and "| b |" not in paper and "| d |" not in paper
    assert "| f | **DIRECTION** | 10 % | 40 % | 0.25 |" in paper and "| a | **FAIL** | 2 | 1 | -0.50 |" in paper
    assert "| b |" in ours and "| [4](executed/04_uticket.ipynb) | b |" in ours
    # 4 claims of the paper's own results; the median ratio over the PASS / DIRECTION ones (0.25, 1.1)
    assert ("Of 4 checks of the u-Ticket paper's own results, 1 match it within their stated tolerance, 1 have "
            "its direction but not its size, 1 fail and 1 cannot be decided at this scale; over the 2 PASS and "
            "DIRECTION claims with a paper number, this build's value is a median 0.68 x the paper's.") in md


def test_claims_of_other_sources_are_grouped_apart(tmp_path):
    row = {"statement": "q", "kind": "reproduction", "paper": "no loss", "measured": "-6", "verdict": "FAIL"}
    (tmp_path / "11_quantization.json").write_text(json.dumps([row]))
    md = landing.render("cpu", tmp_path)
    assert "#### Related work: quantization" in md and "#### The u-Ticket paper's results" not in md
    assert "No reproduction claim of the paper's results has been recorded yet." in md


def test_cpu_gaps_name_the_held_out_split_augmentation_and_the_rewind_point():
    gaps = {a: (b, c) for a, b, c in landing.scale_gaps("cpu")}
    assert gaps["training images"] == ("58,000 (the rest held out for validation)", "60,000")
    assert gaps["augmentation"] == ("none (chosen on validation)", "on")
    assert gaps["rewind point"] == ("after 8,000 training images of the dense round", "end of epoch 20")
    assert gaps["pruning rounds"][0].startswith("1 of 98 %")


def test_short_measured_keeps_the_value_and_drops_the_detail():
    assert landing.short_measured("-6.31 pts [-7.65, -4.97] (95 %: test images, n = 10000; seeds +-1.17)") == \
        "-6.31 pts [-7.65, -4.97]"
    assert landing.short_measured("0.443 (1.03 x the paper); utilization 0.557") == "0.443; utilization 0.557"
    assert landing.short_measured("1.000 (16 bit) -> 0.909 (ternary, QAT)") == "1.000 (16 bit) -> 0.909 (ternary, QAT)"
    long = "VGG-16 LTH: 1.01x; VGG-16 u-Ticket: 1.33x (max val drop 0.90 points, within the budget)"
    assert landing.short_measured(long) == "VGG-16 LTH: 1.01x; VGG-16 u-Ticket: 1.33x"
    assert landing.short_measured("a" * 50 + "; " + "b" * 20) == "a" * 50 + " ..."
