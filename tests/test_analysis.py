"""Shared analysis helpers: notebook parameters -> configs, run pairs, cached hardware, claims."""
from __future__ import annotations

from uticket_lib import analysis, lottery, paths

from conftest import synthetic

TINY = {"model.width": 0.0625, "train.epochs_dense": 1, "prune.rewind_epoch": 0, "prune.levels": 2,
        "train.batch_size": 16}


def test_overrides_keep_profile_values_for_none():
    o = analysis.overrides(seed=3, n_pe=8, width=None, levels=5, train__lr=0.2)
    assert o == {"train.seed": 3, "balance.seed": 3, "balance.n_pe": 8, "prune.levels": 5,
                 "train.lr": 0.2}


def test_archs_parses_a_papermill_string():
    assert analysis.archs(" vgg16, resnet19 ,") == ["vgg16", "resnet19"]


def test_pairs_runs_both_methods_and_caches_hardware(runs_root, monkeypatch):
    monkeypatch.setattr(lottery, "load_datasets", lambda cfg: (synthetic(32), synthetic(16)))
    runs = analysis.pairs("smoke", "vgg16", "fmnist", {**TINY, "balance.n_pe": 4})
    assert set(runs) == {"vgg16"} and set(runs["vgg16"]) == {"lth", "uticket"}
    ut = runs["vgg16"]["uticket"]
    rep = analysis.hardware_report(ut)
    assert rep["settings"]["n_pe"] == 4                       # the run's own PE count
    covered = [r for r in rep["layers"] if r["covered"]]
    assert all(abs(r["utilization"] - 1.0) < 1e-9 for r in covered)
    cached = list(paths.level_dir(ut, 1).glob("hw_*/report.json"))
    assert len(cached) == 1
    assert analysis.hardware_report(ut) == rep               # read back from the cache
    frame = analysis.utilization_frame(ut)
    assert list(frame.index) == [0, 1] and frame.loc[1, "utilization"] > 0.999


def test_claims_render_marker_and_verdicts():
    claims = [analysis.claim("a holds", 0.5, True, "Table I"),
              analysis.claim("b holds", "x<y", False)]
    html = analysis.claims_html(claims, "smoke")
    assert f"{analysis.CLAIM_MARKER} smoke)" in html
    assert html.count("PASS") == 1 and html.count("FAIL") == 1 and "0.500" in html


def test_glue_outside_a_kernel_returns_the_value():
    assert analysis.glue("x", 1.25, "{:.1f}") == 1.25
