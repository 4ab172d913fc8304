"""analysis.stats: Wilson and Newcombe intervals on hand-computed cases, the paired difference."""
from __future__ import annotations

import math

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
