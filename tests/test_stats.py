"""analysis.stats: Wilson and Newcombe intervals on hand-computed cases, the paired difference."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from uticket_lib.analysis import claims, stats


def test_wilson_hand_case():
    # 5 of 10: centre (0.5 + z^2/20) / (1 + z^2/10) = 0.5, half-width z sqrt(0.025 + z^2/400) / (1 + z^2/10)
    lo, hi = stats.wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert stats.wilson(0, 10)[0] == 0.0 and stats.wilson(10, 10)[1] == pytest.approx(1.0)


def test_newcombe_matches_the_wald_interval_for_large_n():
    # b = 15 only-A, c = 5 only-B of n = 1000: diff 0.01, Wald sd sqrt((b+c)/n^2 - (b-c)^2/n^3)
    diff, lo, hi = stats.newcombe(800, 15, 5, 180)
    sd = math.sqrt(20 / 1e6 - 100 / 1e9)
    assert diff == pytest.approx(0.01)
    assert lo == pytest.approx(0.01 - 1.96 * sd, abs=1e-3) and hi == pytest.approx(0.01 + 1.96 * sd, abs=1e-3)
    assert lo < diff < hi


def test_newcombe_is_antisymmetric_and_bounded():
    d1, l1, h1 = stats.newcombe(40, 7, 2, 11)
    d2, l2, h2 = stats.newcombe(40, 2, 7, 11)
    assert d2 == pytest.approx(-d1) and l2 == pytest.approx(-h1) and h2 == pytest.approx(-l1)
    d, lo, hi = stats.newcombe(0, 3, 0, 0)            # A right on all 3, B on none
    assert d == 1.0 and -1.0 <= lo < hi <= 1.0


def test_paired_difference_counts_and_identical_classifiers():
    a = torch.tensor([1, 1, 0, 1, 0, 1], dtype=torch.bool)
    b = torch.tensor([1, 0, 0, 1, 1, 0], dtype=torch.bool)
    d = stats.paired_difference(a, b)
    assert (d.n, d.only_a, d.only_b) == (6, 2, 1)
    assert d.acc_a == pytest.approx(4 / 6) and d.diff == pytest.approx(1 / 6)
    same = stats.paired_difference(torch.ones(1000, dtype=torch.bool), torch.ones(1000, dtype=torch.bool))
    assert same.diff == 0 and same.lo <= 0 <= same.hi and same.hi - same.lo < 0.01
    with pytest.raises(ValueError, match="same test images"):
        stats.paired_difference(a, b[:5])


def test_interval_verdicts():
    assert claims.interval_verdict(-0.5, 0.8, -2, 2) == "PASS"
    assert claims.interval_verdict(2.5, 4.0, -2, 2) == "FAIL"
    assert claims.interval_verdict(1.0, 3.0, -2, 2) == "INCONCLUSIVE"
    wide = stats.PairedDiff(100, 0.9, 0.9, 0.0, -0.03, 0.03, 3, 3)
    c = claims.paired_accuracy("s", "Table I", "1", wide, float("-inf"), 1.1, "why")
    assert c.verdict == "INCONCLUSIVE" and "[-3.00, +3.00]" in c.measured


def test_spread():
    s = stats.spread([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == pytest.approx(1.0) and (s["min"], s["max"]) == (1.0, 3.0)
    assert math.isnan(stats.spread([1.0])["std"])
    with pytest.raises(ValueError):
        stats.spread([])


def test_seed_spread_widens_the_image_interval_in_quadrature():
    d = stats.PairedDiff(10000, 0.80, 0.86, -0.06, -0.067, -0.053, 300, 900)
    s = stats.SeedSpread(3, 0.5, "test")
    assert stats.t95(2) == 4.303 and s.half_width() == pytest.approx(4.303 * 0.5)
    lo, hi = stats.with_seeds(d, s)
    # by hand: -6 pts -+ sqrt(0.7^2 + 2.1515^2) = -6 -+ 2.2625
    assert 100 * lo == pytest.approx(-6 - math.hypot(0.7, 2.1515), abs=1e-9)
    assert 100 * hi == pytest.approx(-6 + math.hypot(0.7, 2.1515), abs=1e-9)
    wild = stats.SeedSpread(3, 30.0, "a collapsed seed")
    assert stats.with_seeds(d, wild) == (-1.0, 1.0)      # 4.303 x 30 points either way: clipped to +-100 points
    assert stats.t95(12) == 2.228 and stats.t95(100) == stats.Z95     # untabled df: the next smaller
    with pytest.raises(ValueError, match="2 seeds"):
        stats.t95(0)


def test_accuracy_claim_needs_the_seed_spread_to_pass():
    tight = stats.PairedDiff(10000, 0.9, 0.9, 0.0, -0.004, 0.004, 30, 30)
    no_seeds = claims.paired_accuracy("s", "Table I", "1", tight, -1.1, 1.1, "why")
    assert no_seeds.verdict == "INCONCLUSIVE" and no_seeds.seeds == 1 and claims.NO_SEEDS in no_seeds.measured
    quiet = claims.paired_accuracy("s", "Table I", "1", tight, -1.1, 1.1, "why", stats.SeedSpread(3, 0.1, "t"))
    noisy = claims.paired_accuracy("s", "Table I", "1", tight, -1.1, 1.1, "why", stats.SeedSpread(3, 0.5, "t"))
    assert (quiet.verdict, quiet.seeds) == ("PASS", 3) and noisy.verdict == "INCONCLUSIVE"
    far = stats.PairedDiff(10000, 0.8, 0.9, -0.1, -0.107, -0.093, 30, 1030)
    assert claims.paired_accuracy("s", "T", "1", far, -2, 2, "why").verdict == "FAIL"   # FAIL stands


@pytest.mark.parametrize("value,verdict", [(46.7, "PASS"), (36.0, "PASS"), (34.0, "DIRECTION"), (15.5, "DIRECTION"),
                                           (70.0, "DIRECTION"), (0.0, "FAIL"), (-3.0, "FAIL"),
                                           (float("nan"), "INCONCLUSIVE")])
def test_magnitude_verdicts_never_pass_on_the_sign_alone(value, verdict):
    c = claims.magnitude("u-Ticket reduces latency", "Table II", 46.7, value)
    assert c.verdict == verdict and c.kind == "reproduction"
    assert c.ratio == (pytest.approx(value / 46.7) if verdict != "INCONCLUSIVE" else None)


def test_recorded_seed_spread_matches_the_recipe_by_hash(tmp_path):
    from uticket_lib import profiles
    from uticket_lib.analysis import recipes
    cfg = profiles.get("cpu", "vgg16", "fmnist", "lth")
    rec = {"recipes": {"cpu": {"profile": "cpu", "archs": {"vgg16": {
        "hashes": {"lth": cfg.replace(**recipes.SEED_KEYS).hash()},
        "spread": {"ticket - dense": {"n": 3, "std": 0.4, "mean": -6.0, "values": [-6.4, -6.0, -5.6]},
                   "dense": {"n": 1, "std": None, "mean": 86.0, "values": [86.0]}}}}}}}
    path = tmp_path / "seed_spread.json"
    path.write_text(json.dumps(rec))
    s = recipes.seed_spread(cfg, "ticket - dense", path=path)
    assert (s.n, s.std) == (3, 0.4)
    assert recipes.seed_spread(cfg.replace(**{"train.seed": 7, "balance.seed": 7}), "ticket - dense",
                               path=path).std == 0.4                        # another seed: the same recipe
    assert recipes.seed_spread(cfg, "ticket - dense", between_runs=True, path=path).std == pytest.approx(0.4 * 2 ** 0.5)
    assert recipes.seed_spread(cfg.replace(**{"train.lr": 0.1}), "ticket - dense", path=path) is None
    assert recipes.seed_spread(cfg, "dense", path=path) is None             # one seed: no spread
    assert recipes.seed_spread(cfg, "ticket - dense", path=tmp_path / "missing.json") is None


def test_level_magnitude_has_no_direction():
    """A level (a firing rate) has no sign to agree on: outside the tolerance it FAILs."""
    assert claims.magnitude("firing", "Table I", 16.1, 15.0, level=True).verdict == "PASS"
    assert claims.magnitude("firing", "Table I", 16.1, 11.0, level=True).verdict == "FAIL"
    assert claims.magnitude("firing", "Table I", 16.1, 25.0, level=True).verdict == "FAIL"


def test_seed_table_and_sentence_name_a_collapsed_ticket(tmp_path):
    from uticket_lib.analysis import recipes
    seeds = [{"seed": s, "level": 1, "dense": 85.0, "lth": l, "uticket": 77.0, "ticket - dense": l - 85.0,
              "lth - uticket": l - 77.0} for s, l in ((0, 78.0), (1, 79.0), (2, 23.5))]
    path = tmp_path / "seed_spread.json"
    path.write_text(json.dumps({"recipes": {"cpu": {"profile": "cpu", "archs": {"resnet19": {"seeds": seeds}}}}}))
    f = recipes.seed_frame(path)
    assert list(f["seed"]) == [0, 1, 2] and f["lth"].iloc[2] == 23.5
    text = recipes.seed_text(f)
    assert text == ("ResNet-19 (recipe cpu; 3 seeds): LTH ticket minus dense from -61.5 to -6.0 points; with "
                    "seed 2 the LTH ticket failed to train in its pass (23.5 %, its u-Ticket 77.0 %).")
    assert recipes.seed_frame(tmp_path / "none.json").empty


def test_welch_interval_by_hand_and_the_recipe_shift_sentence():
    # before 1, 2, 3 (mean 2, var 1); after 4, 6, 8 (mean 6, var 4): se = sqrt(1/3 + 4/3) = 1.291;
    # df = (5/3)^2 / ((1/3)^2/2 + (4/3)^2/2) = 2.94 -> 2, t = 4.303: half-width 5.555
    d, lo, hi = stats.welch([1, 2, 3], [4, 6, 8])
    assert d == 4.0 and lo == pytest.approx(4 - 5.5553, abs=1e-3) and hi == pytest.approx(4 + 5.5553, abs=1e-3)
    assert stats.welch([1, 1], [3, 3]) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match=">= 2 values on each side"):
        stats.welch([1.0], [2.0, 3.0])
    m, lo, hi = stats.mean_t([1.0, 2.0, 3.0])              # sd 1, t(2) = 4.303: half-width 4.303 / sqrt 3
    assert (m, lo, hi) == pytest.approx((2.0, 2.0 - 4.303 / 3 ** 0.5, 2.0 + 4.303 / 3 ** 0.5), abs=1e-3)
    assert stats.mean_t([5.0])[0] == 5.0 and all(v != v for v in stats.mean_t([5.0])[1:])   # one seed: no interval
    # pairs (1, 4), (2, 6), (3, 8): differences 3, 4, 5 (mean 4, std 1), t(2) 4.303 / sqrt 3 = 2.484
    d, lo, hi = stats.paired_t([1, 2, 3], [4, 6, 8])
    assert d == 4.0 and lo == pytest.approx(4 - 2.4843, abs=1e-3) and hi == pytest.approx(4 + 2.4843, abs=1e-3)
    from uticket_lib.analysis import recipes
    rows = [{"recipe": r, "arch": "vgg16", "seed": k, "dense": 86.0 + (k if r == "other" else 0), "lth": v,
             "uticket": v, "ticket - dense": v - 86.0}
            for r, vals in (("old", (1, 2, 3)), ("new", (4, 6, 8)), ("other", (4, 6, 8))) for k, v in enumerate(vals)]
    frame = pd.DataFrame(rows)
    # the same seeds and dense networks: paired; other dense networks: the two means (Welch)
    assert recipes.recipe_shift_text(frame, "old", "new", ("lth",)) == \
        "VGG-16 (3 seeds, paired): LTH ticket +4.0 points [+1.5, +6.5]"
    assert recipes.recipe_shift_text(frame, "old", "other", ("lth",)) == \
        "VGG-16 (3 and 3 seeds, Welch): LTH ticket +4.0 points [-1.6, +9.6]"
    assert recipes.recipe_shift_text(frame, "old", "missing") == ""
    # another "after" recipe for one network: the change measured against the recipe right after it
    assert recipes.recipe_shift_text(frame, "old", "other", ("lth",), after_by_arch={"vgg16": "new"}) == \
        "VGG-16 (3 seeds, paired): LTH ticket +4.0 points [+1.5, +6.5]"


def test_a_collapsed_seed_lists_the_seeds_and_fails_only_when_every_seed_is_out():
    d = stats.PairedDiff(10000, 0.78, 0.85, -0.0672, -0.0744, -0.0601, 300, 1000)
    wild = stats.SeedSpread(3, 31.65, "test", values=(-6.72, -6.28, -61.32))
    c = claims.paired_accuracy("s", "T", "1", d, -2, 2, "why", wild)
    assert c.verdict == "FAIL" and c.measured.startswith("-6.72 pts; the seeds -6.72, -6.28, -61.32 (95 %")
    assert "every seed beyond the bound" in c.measured
    mixed = stats.SeedSpread(3, 30.7, "test", values=(0.23, 0.23, -52.95))
    near = stats.PairedDiff(10000, 0.78, 0.78, 0.0023, -0.0041, 0.0087, 500, 477)
    c = claims.paired_accuracy("s", "T", "1", near, -1.1, 1.1, "why", mixed)
    assert c.verdict == "INCONCLUSIVE" and "undecidable with 3 seeds" in c.measured
