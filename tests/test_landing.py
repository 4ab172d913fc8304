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
    paper = md.split("**The u-Ticket paper's results**")[1].split("\n**")[0]
    ours = md.split("**This book's own extensions")[1].split("::::")[0]
    assert "| a |" in paper and "| c |" in paper and "| b |" not in paper and "| d |" not in paper
    assert "| f | **DIRECTION** | 10 % | 40 % | 0.25 |" in paper and "| a | **FAIL** | 2 | 1 | -0.50 |" in paper
    assert "| b |" in ours and "| [4](executed/04_uticket.ipynb) | b |" in ours
    # 4 claims of the paper's own results; the median ratio over the PASS / DIRECTION ones (0.25, 1.1)
    assert ("Of 4 checks of the u-Ticket paper's own results, 1 pass their stated tolerance or bound, 1 have "
            "the paper's direction but not its size, 1 fail and 1 cannot be decided at this scale.") in md


def test_claims_of_other_sources_are_grouped_apart(tmp_path):
    row = {"statement": "q", "kind": "reproduction", "paper": "no loss", "measured": "-6", "verdict": "FAIL"}
    (tmp_path / "11_quantization.json").write_text(json.dumps([row]))
    md = landing.render("cpu", tmp_path)
    assert "**Related work: quantization" in md and "**The u-Ticket paper's results**" not in md
    assert "No reproduction claim of the paper's results has been recorded yet." in md


def test_cpu_gaps_name_the_held_out_split_augmentation_and_the_rewind_point(monkeypatch):
    gaps = {a: (b, c) for a, b, c in landing.scale_gaps("cpu")}
    assert gaps["training images"] == ("58,000 (the rest held out for validation)", "60,000")
    assert gaps["augmentation"] == ("none (chosen on validation)", "on")
    assert gaps["rewind point"] == ("after 8,000 training images of the dense round", "end of epoch 20 (the released code's; the paper does not say)")
    assert gaps["pruning rounds"][0].startswith("1 of 98 %")
    assert gaps["optimizer"] == ("VGG-16: AdamW, lr 0.001, tickets 0.005; ResNet-19: AdamW, lr 0.003, tickets 0.01 "
                                 "(chosen on validation)", "SGD with momentum, lr 0.1")
    assert "optimizer" not in {a for a, _, _ in landing.scale_gaps("smoke")}   # the paper's SGD at lr 0.1
    # each network's own epochs where they differ (VGG-16's tickets train four passes, ResNet-19's two)
    assert gaps["training epochs per run"] == ("VGG-16: 5 (1 dense + 1 x 4); ResNet-19: 3 (1 dense + 1 x 2)",
                                               "2,720 (200 dense + 14 x 180)")
    from uticket_lib import profiles
    monkeypatch.setitem(profiles.ARCH_OVERRIDES, ("cpu", "vgg16"),
                        {**profiles.ARCH_OVERRIDES[("cpu", "vgg16")], "train.epochs_final": 2})
    gaps = {a: (b, c) for a, b, c in landing.scale_gaps("cpu")}
    assert gaps["training epochs per run"] == ("3 (1 dense + 1 x 2)", "2,720 (200 dense + 14 x 180)")


def test_schedules_text_names_each_network_only_where_they_differ():
    from uticket_lib import profiles
    vgg = profiles.get("cpu", "vgg16")
    res = profiles.get("cpu", "resnet19", overrides={"train.epochs_final": 1})   # one ticket pass
    assert landing.schedules_text({"vgg16": vgg, "resnet19": vgg}) == "Every network " + landing.schedule_text(vgg)
    assert landing.schedules_text({"resnet19": res}) == "ResNet-19 " + landing.schedule_text(res)
    both = landing.schedules_text({"vgg16": vgg, "resnet19": res})
    assert both.startswith("VGG-16 trains 1 epoch at level 0 and 4 epochs in its one pruning round")
    assert "; ResNet-19 trains 1 epoch at level 0 and 1 epoch in its one pruning round" in both


def test_short_measured_keeps_the_value_and_drops_the_detail():
    assert landing.short_measured("-6.31 pts [-7.65, -4.97] (95 %: test images, n = 10000; seeds +-1.17)") == \
        "-6.31 pts [-7.65, -4.97]"
    assert landing.short_measured("0.443 (1.03 x the paper); utilization 0.557") == "0.443; utilization 0.557"
    assert landing.short_measured("1.000 (16 bit) -> 0.909 (ternary, QAT)") == "1.000 (16 bit) -> 0.909 (ternary, QAT)"
    long = "VGG-16 LTH: 1.01x; VGG-16 u-Ticket: 1.33x (max val drop 0.90 points, within the budget)"
    assert landing.short_measured(long) == "VGG-16 LTH: 1.01x; VGG-16 u-Ticket: 1.33x"
    assert landing.short_measured("a" * 50 + "; " + "b" * 20) == "a" * 50 + " ..."


def _headline_claims(tmp_path):
    def claim(metric, arch, value, paper, unit="%", verdict="DIRECTION", kind="reproduction"):
        return {"statement": f"{metric} {arch}", "kind": kind, "paper": "p", "measured": "m",
                "verdict": verdict, "headline": {"metric": metric, "arch": arch, "value": value,
                                                 "paper": paper, "unit": unit}}
    (tmp_path / "02_lottery.json").write_text(json.dumps([
        claim("accuracy", "vgg16", 80.0, 94.6, verdict="FAIL"), claim("accuracy", "resnet19", 78.9, 94.4, verdict="FAIL"),
        claim("sparsity", "vgg16", 98.0, 98.2, verdict="PASS", kind="invariant")]))
    (tmp_path / "05_cycles.json").write_text(json.dumps([claim("latency", "vgg16", 17.7, 46.7),
                                                         claim("latency", "resnet19", 50.5, 76.8)]))
    (tmp_path / "03_imbalance.json").write_text(json.dumps([claim("imbalance", "vgg16", 0.443, 0.43, unit="",
                                                                  verdict="PASS")]))
    (tmp_path / "08_system.json").write_text(json.dumps([claim("system_energy", "resnet19", 6.2, None,
                                                               verdict="INCONCLUSIVE")]))


def test_headline_table_verdicts_ratios_only_for_sizes_and_missing_cells(tmp_path):
    _headline_claims(tmp_path)
    recs = landing.headline_records(landing.load_claims(tmp_path))
    # HEADLINE order: accuracy, sparsity, imbalance, latency, system energy (whatever the chapter order)
    assert [r["metric"] for r in recs] == ["accuracy", "accuracy", "sparsity", "imbalance", "latency", "latency",
                                           "system_energy"]
    rows = landing.headline_table(recs)
    assert rows[0] == ("| | VGG-16: this build / paper | verdict (ratio) | ResNet-19: this build / paper | "
                       "verdict (ratio) |")
    # accuracy is a level this scale cannot reach: both numbers, the verdict of the ticket-vs-dense claim, no ratio
    assert "| LTH accuracy | 80.0 % / 94.6 % | FAIL (vs dense) | 78.9 % / 94.4 % | FAIL (vs dense) |" in rows
    assert "| LTH weight sparsity | 98.0 % / 98.2 % | schedule | – |  |" in rows
    assert "| LTH imbalance | 0.44 / 0.43 | PASS (1.03) | – |  |" in rows
    assert "| latency saving | 17.7 % / 46.7 % | DIR. (0.38) | 50.5 % / 76.8 % | DIR. (0.66) |" in rows
    assert "| system energy saving | – |  | 6.2 % / – | INC. |" in rows


def test_headline_caption_and_summary_sort_sizes_by_the_tolerance_band(tmp_path):
    _headline_claims(tmp_path)
    claims = landing.load_claims(tmp_path)
    recs = landing.headline_records(claims)
    cap = landing.figure_caption(recs)
    # imbalance 1.03 within +-25 %; latency 0.38 / 0.66 below for both; accuracy is not a size: not named
    assert "Within it for every network: LTH imbalance" in cap and "below it for every network: latency saving" in cap
    assert "LTH accuracy" not in cap.split("Accuracy, sparsity")[0]
    md = landing.render("cpu", tmp_path, figure="executed/headline.png")
    assert ":::{figure} executed/headline.png" in md and ":name: fig-headline" in md
    assert "u-Ticket's savings over LTH (latency, PE and system energy, where the paper gives them) are " \
           "0.38-0.66 x the paper's." in md
    # the headline table and figure come before the scale box and the folded claim list
    assert md.index("| LTH accuracy |") < md.index(":::{figure}") < md.index("How this build is smaller") \
        < md.index(":class: dropdown")
    # the scale box names the accuracy gap
    assert "| LTH accuracy (final level) | 80.0 % (VGG-16), 78.9 % (ResNet-19) | 94.6 %, 94.4 % |" in md


def test_headline_dots_only_for_size_comparisons_with_a_paper_value(tmp_path):
    from uticket_lib.analysis.claims import HEADLINE
    from uticket_lib.plotting import summary
    _headline_claims(tmp_path)
    recs = landing.headline_records(landing.load_claims(tmp_path))
    fig = summary.ratio_dots(recs, {k: v[0] for k, v in HEADLINE.items()},
                             compare=[k for k, v in HEADLINE.items() if v[2]])
    ax = fig.axes[0]
    xs = sorted(x for coll in ax.collections for x, _ in coll.get_offsets())
    assert [round(x, 2) for x in xs] == [0.38, 0.66, 1.03]   # no accuracy, no sparsity, no ResNet system energy
    assert [t.get_text() for t in ax.get_yticklabels()] == ["LTH imbalance", "latency saving"]


def test_chapter_summary_counts_verdicts_and_the_median_ratio():
    from uticket_lib.analysis.claims import Claim, summary
    c = lambda v, kind="reproduction", r=None: Claim("s", kind, "src", "p", "m", "t", v, ratio=r)  # noqa: E731
    text = summary([c("PASS", r=1.1), c("DIRECTION", r=0.3), c("DIRECTION", r=0.5), c("FAIL", r=-0.2),
                    c("INCONCLUSIVE"), c("PASS", "invariant"), c("FAIL", "invariant"), c("PASS", "calibration")])
    # the FAIL's ratio is left out of the median: over 1.1, 0.3, 0.5 it is 0.5
    assert text == ("Of 5 reproduction claims here, 1 passes its stated tolerance or bound, 2 have the paper's "
                    "direction but not its size, 1 fails, 1 cannot be decided at this scale; where the paper gives a "
                    "number and the direction holds, this build's value is a median 0.50 x the paper's. 2 "
                    "implementation checks (true by construction) ran; 1 did not hold.")
    assert summary([c("PASS", "invariant")]) == ("No claim here tests the paper on measured numbers; its 1 "
                                                 "implementation check (true by construction) holds.")


def test_headline_metric_must_be_known():
    import pytest
    from uticket_lib.analysis.claims import Claim, headline
    with pytest.raises(ValueError, match="headline metric 'speed' unknown"):
        Claim("s", "reproduction", "src", "p", "m", "t", "PASS", headline=headline("speed", "vgg16", 1.0, 2.0))


def test_expected_values_become_open_circles_and_the_summary_names_the_gap(tmp_path):
    from uticket_lib.analysis.claims import HEADLINE
    from uticket_lib.plotting import summary
    _headline_claims(tmp_path)
    path = tmp_path / "05_cycles.json"
    rows = json.loads(path.read_text())
    for r, expected in zip(rows, (18.6, 53.8)):      # the LTH tickets' idle share: what removing idle buys
        r["expected"] = expected
    path.write_text(json.dumps(rows))
    claims = landing.load_claims(tmp_path)
    md = landing.render("cpu", tmp_path, figure="executed/headline.png")
    # 17.7 / 18.6 = 0.95, 50.5 / 53.8 = 0.94
    assert ("are 0.38-0.66 x the paper's, and 0.94-0.95 x what this build's own LTH tickets leave to gain (the "
            "open circles of the figure): u-Ticket removes nearly all the idle time there is here") in md
    assert "Open circles: what this build's own numbers predict" in landing.figure_caption(landing.headline_records(claims))
    fig = summary.ratio_dots(landing.headline_records(claims), {k: v[0] for k, v in HEADLINE.items()},
                             compare=[k for k, v in HEADLINE.items() if v[2]])
    open_x = sorted(round(float(x), 2) for c in fig.axes[0].collections
                    if len(c.get_facecolors()) == 0 for x, _ in c.get_offsets())
    assert open_x == [0.4, 0.7]                       # 18.6 / 46.7 and 53.8 / 76.8
    # where this build falls short of its own tickets too, the summary does not blame the tickets
    for r in rows:
        r["expected"] = 40.0 if r["headline"]["arch"] == "vgg16" else 90.0
    path.write_text(json.dumps(rows))
    assert "removes nearly all the idle time" not in landing.render("cpu", tmp_path)
