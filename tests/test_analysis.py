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
    # EPOCHS trains every pruning round, the last one too: it clears the cpu profile's epochs_final
    from uticket_lib import profiles
    cfg = profiles.get("cpu", "vgg16", overrides=analysis.overrides(epochs=3))
    assert (cfg.train.epochs, cfg.train.epochs_final) == (3, None)
    assert profiles.get("cpu", "vgg16", overrides=analysis.overrides()).train.epochs_final == 4
    assert profiles.get("cpu", "resnet19", overrides=analysis.overrides()).train.epochs_final == 2
    cfg = profiles.get("cpu", "resnet19", overrides=analysis.overrides(epochs=3))   # over the arch's own too
    assert (cfg.train.epochs, cfg.train.epochs_final) == (3, None)


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


def test_claims_render_marker_kinds_and_verdicts(tmp_path, monkeypatch):
    from uticket_lib.analysis import claims
    cs = [claims.Claim("a holds", "reproduction", "Table I", "1.0", "0.5", "0.1", "PASS"),
          claims.Claim("b holds", "calibration", "Fig. 7(a)", "2", "2", "0.5 pp", "FAIL"),
          claims.Claim("c holds", "invariant", "ours", claims.NOT_IN_PAPER, "x", "exact", "INCONCLUSIVE")]
    html = claims.to_html(cs, "smoke")
    assert f"{claims.CLAIM_MARKER} smoke)" in html
    assert html.count(">PASS<") == 1 and html.count(">FAIL<") == 1 and "Implementation checks" in html
    assert html.index("c holds") > html.index("Implementation checks")          # invariants apart
    monkeypatch.setenv("UTICKET_CLAIMS_DIR", str(tmp_path))
    path = claims.write_json(cs, "99_test")
    import json
    data = json.loads(path.read_text())
    assert [d["kind"] for d in data] == ["reproduction", "calibration", "invariant"]
    assert set(data[0]) == {"statement", "kind", "source", "paper", "measured", "tolerance", "verdict",
                            "ratio", "expected", "expected_basis", "seeds", "headline"}
    assert claims.counts(cs)["reproduction"] == {"PASS": 1, "DIRECTION": 0, "FAIL": 0, "INCONCLUSIVE": 0}


def test_glue_outside_a_kernel_returns_the_value():
    assert analysis.glue("x", 1.25, "{:.1f}") == 1.25


def test_hardware_cache_key_follows_mask_content_and_model_source(tmp_path, monkeypatch):
    import shutil

    import torch

    from uticket_lib import hardware
    from uticket_lib.analysis import runs
    from uticket_lib.pruning import mask as masklib
    m = tmp_path / "mask.pt"
    masklib.save({"w": torch.ones(4, 2, 3, 3)}, m)
    opts = {"n_pe": 4, "mode": "output"}
    k0 = runs.hardware_key(m, opts)
    assert runs.hardware_key(m, opts) == k0                               # deterministic
    masklib.save({"w": torch.zeros(4, 2, 3, 3)}, m)                        # same name, new content
    assert runs.hardware_key(m, opts) != k0
    assert runs.hardware_key(m, {**opts, "n_pe": 8}) != runs.hardware_key(m, opts)
    # a copy of the hardware sources: editing any file changes the model version, hence the key
    src = tmp_path / "hardware"
    shutil.copytree(next(iter(hardware.__path__)), src, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(hardware, "__file__", str(src / "__init__.py"))
    k1 = runs.hardware_key(m, opts)
    (src / "energy.py").write_text((src / "energy.py").read_text() + "\n# a changed constant\n")
    assert runs.hardware_key(m, opts) != k1


def test_for_display_names_in_words_whole_floats_as_integers_and_data_untouched():
    import pandas as pd
    from uticket_lib import analysis
    df = pd.DataFrame({"level_epochs": [1.0, 2.0], "latency_reduction_pct": [17.7, -0.0],
                       "with_gap": [960.0, float("nan")]}, index=pd.Index(["a", "b"], name="arch_name"))
    out = analysis.for_display(df)
    assert list(out.columns) == ["level epochs", "latency reduction pct", "with gap"]
    assert out.index.name == "arch name"
    assert str(out["level epochs"].dtype) == "Int64" and list(out["level epochs"]) == [1, 2]
    assert list(out["latency reduction pct"]) == ["17.7", "0.0"]      # its own decimals, no "-0.0"
    assert out["with gap"].dtype == float                     # a gap would print as <NA>
    wide = analysis.for_display(pd.DataFrame({"n": [3840000, 12], "u": [0.5571, 0.4], "f": [2404029.5, 1.25]}))
    assert list(wide["n"]) == ["3,840,000", "12"] and wide["f"].dtype == float   # thousands: no decimals, by value
    assert wide["u"].dtype == float                           # four decimals: pandas' precision decides
    assert list(df.columns) == ["level_epochs", "latency_reduction_pct", "with_gap"]   # the data keeps its keys


def test_constants_are_shown_by_name_in_index_and_source():
    import pandas as pd
    from uticket_lib.analysis import labels
    f = pd.DataFrame({"value": [1.0, 2.0, 3.0], "source": ["e_dyn x 0.5", "mac_dyn + mem_dyn", "ours"]},
                     index=pd.Index(["e_leak", "mac_dyn", "other_key"], name="constant"))
    out = labels.constants(f)
    assert list(out.index) == ["E_l", "MAC, dynamic", "other_key"]            # unknown keys kept
    assert list(out["source"]) == ["E_d x 0.5", "MAC, dynamic + scratchpad, dynamic", "ours"]
    assert list(f.index) == ["e_leak", "mac_dyn", "other_key"]                  # the data keeps its keys
