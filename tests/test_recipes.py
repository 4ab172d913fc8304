import json

import pandas as pd
import pytest

from uticket_lib.analysis import recipes


def _write(tmp_path, rows, name):
    p = tmp_path / name
    p.write_text(json.dumps({"rows": rows}))
    return p


def test_probe_choice_uses_validation_not_test(tmp_path):
    rows = [{"recipe": "a", "arch": "vgg16", "cpu_minutes_estimate": 1.0,
             "lth": {"val_accuracy": 0.70, "test_accuracy": 0.90}},
            {"recipe": "b", "arch": "vgg16", "cpu_minutes_estimate": 1.0,
             "lth": {"val_accuracy": 0.75, "test_accuracy": 0.60}},
            {"recipe": "c", "arch": "resnet19", "error": "boom"}]
    frame = recipes.probe_frame(_write(tmp_path, rows, "p.json"))
    assert list(frame["setting"]) == ["b", "a"]            # sorted by validation accuracy, best first


def test_sweep_frame_skips_unfinished_and_sorts_by_cost(tmp_path):
    m = {"sparsity": 0.98, "val_accuracy": 0.7, "test_accuracy": 0.7, "test_images": 10}
    rows = [{"recipe": "big", "arch": "vgg16", "overrides": {"x": 1}, "images_trained": 9,
             "cpu_minutes_estimate": 9.0, "lth": m, "uticket": m},
            {"recipe": "small", "arch": "vgg16", "overrides": {}, "images_trained": 1,
             "cpu_minutes_estimate": 1.0, "lth": m, "uticket": m},
            {"recipe": "cut", "arch": "vgg16", "overrides": {}}]
    frame = recipes.sweep_frame(_write(tmp_path, rows, "s.json"))
    assert list(frame["recipe"]) == ["small", "small", "big", "big"]
    assert set(frame["method"]) == {"lth", "uticket"}


def _gap_inputs(third: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A summary (VGG-16 80 %, ResNet-19 70 %) and a sweep of two VGG-16 LTH recipes plus ``third``."""
    summary = pd.DataFrame({"test_accuracy": [0.80, 0.70]}, index=pd.Index(["vgg16", "resnet19"], name="arch"))
    sweep = pd.DataFrame([
        {"recipe": "a", "arch": "vgg16", "method": "lth", "cpu_minutes": 5.0, "val_accuracy": 0.70},
        {"recipe": "b", "arch": "vgg16", "method": "lth", "cpu_minutes": 10.0, "val_accuracy": 0.75},
        {"recipe": "c", **third}])
    return summary, sweep


def test_gap_frame_against_hand_numbers():
    summary, sweep = _gap_inputs({"arch": "vgg16", "method": "uticket", "cpu_minutes": 20.0, "val_accuracy": 0.99})
    g = recipes.gap_frame(summary, sweep)
    assert g.loc["vgg16", "gap (points)"] == pytest.approx(100 * (recipes.AIMS["vgg16"] - 0.80))
    assert g.loc["resnet19", "gap (points)"] == pytest.approx(100 * (recipes.AIMS["resnet19"] - 0.70))
    assert g.loc["vgg16", "best swept recipe"] == "b"          # u-Ticket rows never pick the recipe
    assert abs(g.loc["vgg16", "gain over cheapest (points)"] - 5.0) < 1e-9
    assert pd.isna(g.loc["resnet19", "best swept recipe"])      # nothing swept for it


def test_gap_text_gives_the_ticket_against_its_dense_network():
    summary, sweep = _gap_inputs({"arch": "vgg16", "method": "lth", "cpu_minutes": 8.0, "val_accuracy": 0.60})
    summary["dense accuracy"] = [0.85, 0.71]
    g = recipes.gap_frame(summary, sweep)
    assert g.loc["vgg16", "ticket - dense (points)"] == pytest.approx(-5.0)
    t = recipes.gap_text(g)
    assert t["dense"].startswith(f"VGG-16: dense 85.0% against {recipes.DENSE_AIMS['vgg16']:.0%}, "
                                 "ticket minus dense -5.0 points against -2")


def test_gap_text_reads_the_frame_and_the_paper():
    summary, sweep = _gap_inputs({"arch": "resnet19", "method": "lth", "cpu_minutes": 8.0, "val_accuracy": 0.60})
    t = recipes.gap_text(recipes.gap_frame(summary, sweep))
    assert t["reached"] == (f"VGG-16: 80.0% against {recipes.AIMS['vgg16']:.0%}; "
                            f"ResNet-19: 70.0% against {recipes.AIMS['resnet19']:.0%}")
    assert t["gain"] == "VGG-16: +5.0 points on validation from 5 to 10 CPU minutes (b)"   # ResNet-19: one recipe
    accs = [v["acc"] for k, v in recipes.paper.TABLE_I.items() if k[1] == "fmnist"]
    assert t["paper"] == f"{min(accs):.1f}-{max(accs):.1f} %"


def test_training_trend_reads_the_last_two_levels(tmp_path):
    from uticket_lib import io, paths
    run = tmp_path / "run"
    for level, (l0, l1, acc) in enumerate([(2.0, 1.5, 0.5), (1.2, 1.0, 0.7), (1.6, 1.4, 0.6)]):
        io.save_json({"level": level, "test_accuracy": 0.1 * level,
                      "history": [{"loss": l0, "train_accuracy": acc - 0.1}, {"loss": l1, "train_accuracy": acc}]},
                     paths.metrics_path(paths.level_dir(run, level)))
    t = recipes.training_trend({"vgg16": run})
    assert list(t.index.get_level_values("level")) == [1, 2]
    assert t.loc[("vgg16", 2), "loss first epoch"] == 1.6 and t.loc[("vgg16", 2), "train accuracy"] == 0.6
    assert recipes.trend_text(t) == ("VGG-16: at level 2 the training loss went from 1.60 to 1.40 over its "
                                     "2 epochs and the training accuracy reached 60% (level 1: 70%)")


def test_imp_probe_text_by_level(tmp_path):
    import json
    p = tmp_path / "imp.json"
    p.write_text(json.dumps({"levels": [{"level": 0, "sparsity": 0.0, "val_accuracy": 0.88},
                                        {"level": 1, "sparsity": 0.859, "val_accuracy": None}]}))
    assert recipes.imp_probe_text(p) == ("level 0 at 0.0% sparsity 88.0% on validation; "
                                         "level 1 at 85.9% sparsity (validation not scored)")
    assert recipes.imp_probe_text(tmp_path / "missing.json") == "not recorded"


def test_trend_text_of_a_one_epoch_level():
    t = pd.DataFrame([{"arch": "vgg16", "level": 1, "epochs": 1, "loss first epoch": 0.8, "loss last epoch": 0.8,
                       "train accuracy": 0.77, "test accuracy": 0.80}]).set_index(["arch", "level"])
    assert recipes.trend_text(t) == "VGG-16: level 1 trained one epoch, mean training loss 0.80, training accuracy 77%"


def test_imp_probe_comparison_and_second_pass_cost(tmp_path):
    import json
    p = tmp_path / "imp.json"
    p.write_text(json.dumps({"levels": [{"level": 0, "val_accuracy": 0.88}, {"level": 1, "val_accuracy": None},
                                        {"level": 2, "val_accuracy": 0.81}]}))
    finals = pd.DataFrame([{"arch": "vgg16", "recipe": "noaug", "budget": 56000, "kind": "dense", "val_accuracy": 0.875},
                           {"arch": "vgg16", "recipe": "noaug", "budget": 56000, "kind": "lth", "val_accuracy": 0.81}]
                          ).set_index(["arch", "recipe", "budget", "kind"])
    assert recipes.imp_probe_comparison(finals, p) == {"dense_gap": "0.5", "imp_drop": "7.0", "one_shot_drop": "6.5"}
    levels = pd.DataFrame({"arch": ["vgg16", "vgg16", "resnet19", "resnet19"], "method": ["lth"] * 4,
                           "level": [0, 1, 0, 1], "seconds": [100.0, 120.0, 200.0, 240.0]})
    assert recipes.second_pass_text(levels) == ("a pass of a ticket level took VGG-16 2.0 min, ResNet-19 4.0 min in "
                                                "this build, so one more pass for the 2 tickets of each network would "
                                                "add about 12 minutes of this machine's time to it (the budget counts "
                                                "minutes of a machine that trains at 284 images/s; scale by this "
                                                "machine's speed, which the README's record gives)")
    levels["epochs"] = [1, 2, 1, 1]   # VGG-16's ticket level trained two passes: a pass is half of it
    assert recipes.second_pass_text(levels) == ("a pass of a ticket level took VGG-16 1.0 min, ResNet-19 4.0 min in "
                                                "this build, so one more pass for the 2 tickets of ResNet-19 (VGG-16's "
                                                "tickets train 2 passes already) would add about 8 minutes of "
                                                "this machine's time to it (the budget counts minutes of a machine "
                                                "that trains at 284 images/s; scale by this machine's speed, which "
                                                "the README's record gives)")
    levels["epochs"] = [1, 2, 1, 3]   # none trained once: the sentence prices a pass for every network
    assert "for the 2 tickets of each network would add about 5 minutes" in recipes.second_pass_text(levels)
    # two runs at a time (parallel): the wall time is half the runs' summed time
    text = recipes.second_pass_text(levels, at_once=2)
    assert "would add about 2 minutes of this machine's time to it (2 runs at a time" in text


def test_bf16_speedup_text_from_bench_readings(tmp_path):
    from uticket_lib import io
    def reading(name, model, e2e):
        path = tmp_path / name
        io.save_json({"results": {"vgg16": {"batch": 32, "bf16": {"model_speedup_over_fp32": model,
                                                                   "end_to_end_speedup_over_fp32": e2e}},
                                  "resnet19": {"batch": 32}}}, path)   # fp32 only: left out
        return path
    a, b = reading("a.json", 1.351, 1.2), reading("b.json", 1.37, 1.2)
    assert recipes.bf16_speedup_text([a, b]) == \
        "VGG-16 1.35-1.37x model-only, 1.20x end to end (batch 32, 2 readings)"
    assert recipes.bf16_speedup_text([a, tmp_path / "missing.json"]) == \
        "VGG-16 1.35x model-only, 1.20x end to end (batch 32, 1 reading)"
    assert recipes.bf16_speedup_text([tmp_path / "missing.json"]) == ""


def test_passes_text_reads_the_named_tickets_in_order():
    finals = pd.DataFrame([{"arch": "vgg16", "recipe": "r", "budget": 56000, "kind": "lth-lr0.005", "val_accuracy": 0.844},
                           {"arch": "vgg16", "recipe": "r", "budget": 56000, "kind": "lth-tb112000-lr0.005",
                            "val_accuracy": 0.858},
                           {"arch": "resnet19", "recipe": "r", "budget": 56000, "kind": "lth-lr0.005", "val_accuracy": 0.5}]
                          ).set_index(["arch", "recipe", "budget", "kind"])
    kinds = {"lth-tb112000-lr0.005": "after two passes", "lth-lr0.005": "after one"}
    assert recipes.passes_text(finals, "vgg16", "r", kinds) == "85.8% after two passes against 84.4% after one"
    assert recipes.passes_text(finals, "resnet19", "r", kinds) == "not recorded"
    assert recipes.passes_text(finals, "vgg16", "other", kinds) == "not recorded"


def test_amp_text_names_what_lies_outside_its_interval(tmp_path):
    import json
    def q(diff, half):
        return {"diff": diff, "half_width": half, "within_noise": abs(diff) <= half}
    p = tmp_path / "amp.json"
    p.write_text(json.dumps({"recipes": {
        "cpu/vgg16": {"n": {"bf16": 3, "fp32": 3}, "compare": {"dense": q(-0.08, 0.98), "lth": q(-0.09, 2.2)}},
        "cpu/resnet19": {"n": {"bf16": 3, "fp32": 2}, "compare": {"dense": q(0.07, 1.5), "uticket": q(1.257, 1.109),
                                                                  "lth_utilization": q(-0.05, 0.03)}}}}))
    assert recipes.amp_text(p) == (
        "VGG-16 (3 fp32 and 3 bf16 seeds): every quantity within seed noise; ResNet-19 (2 fp32 and 3 bf16 seeds): "
        "its u-Ticket +1.26 +- 1.11 points in bf16; its LTH utilization -0.05 +- 0.03 in bf16, the rest "
        "within seed noise")
    assert recipes.amp_text(tmp_path / "missing.json") == "not recorded"


def test_runs_at_once_reads_cores_over_threads(tmp_path):
    from uticket_lib import io
    def run(name, machine):
        io.save_json({"level": 1, "machine": machine}, tmp_path / name / "level_1" / "metrics.json")
        return tmp_path / name
    pool = {"vgg16": {"lth": run("a", {"cpus": 2, "threads": 1}), "uticket": run("b", {"cpus": 2, "threads": 1})}}
    assert recipes.runs_at_once(pool) == 2
    alone = {"vgg16": {"lth": run("c", {"cpus": 2, "threads": 2}), "uticket": run("d", {})}}
    assert recipes.runs_at_once(alone) == 1
