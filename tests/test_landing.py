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


def test_verdicts_counted_by_kind_and_fails_linked(tmp_path):
    rows = [{"statement": "a", "kind": "reproduction", "paper": "1", "measured": "2", "verdict": "FAIL"},
            {"statement": "b", "kind": "reproduction", "paper": "not in the paper", "measured": "3", "verdict": "PASS"},
            {"statement": "c", "kind": "reproduction", "paper": "4", "measured": "4", "verdict": "INCONCLUSIVE"},
            {"statement": "d", "kind": "calibration", "paper": "5", "measured": "5", "verdict": "PASS"},
            {"statement": "e", "kind": "invariant", "paper": "-", "measured": "-", "verdict": "PASS"}]
    (tmp_path / "04_uticket.json").write_text(json.dumps(rows))
    counts = landing.verdict_counts(landing.load_claims(tmp_path))["04_uticket"]
    assert counts[("reproduction", "FAIL")] == 1 and counts[("reproduction", "PASS")] == 1
    md = landing.render("cpu", tmp_path, {"04_uticket": "u-Ticket"})
    assert "| [u-Ticket](executed/04_uticket.ipynb) | 1 | 1 | 1 | 1 | 1 |" in md
    assert "- [u-Ticket](executed/04_uticket.ipynb): a (paper 1, this build 2)" in md
    headline = md.split("### Headline")[1].split("### Claim")[0]
    assert "| a |" in headline and "| c |" in headline and "| b |" not in headline and "| d |" not in headline


def test_cpu_gaps_name_the_held_out_split_augmentation_and_the_rewind_point():
    gaps = {a: (b, c) for a, b, c in landing.scale_gaps("cpu")}
    assert gaps["training images"] == ("58,000 (the rest held out for validation)", "60,000")
    assert gaps["augmentation"] == ("none (chosen on validation)", "on")
    assert gaps["rewind point"] == ("after 8,000 training images of the dense round", "end of epoch 20")
    assert gaps["pruning rounds"][0].startswith("1 of 98 %")
