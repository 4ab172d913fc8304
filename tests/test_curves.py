"""Learning curves (uticket_lib.curves) and the warm-up schedule (train.warmup)."""
from __future__ import annotations

import math

import pytest
import torch

from uticket_lib import curves, training
from uticket_lib.config import TrainConfig
from uticket_lib.pruning import balance as balancelib
from uticket_lib.runstore import build_model

from conftest import synthetic, tiny_config


def test_warmup_cosine_by_hand():
    # warm = 2 of total = 6 steps: 1/2, 1, then the cosine over the 4 steps left
    f = [training.warmup_cosine(s, 2, 6) for s in range(7)]
    expect = [0.5, 1.0, 1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4)), 0.0]
    assert f == pytest.approx(expect)


def test_no_warmup_is_the_plain_cosine_and_leaves_run_hashes_alone():
    model = torch.nn.Linear(2, 2)
    _, sched = training.make_optimizer(model, TrainConfig(), 1, 10)
    assert isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR)
    _, warm = training.make_optimizer(model, TrainConfig(warmup=0.2), 1, 10)
    assert isinstance(warm, torch.optim.lr_scheduler.LambdaLR)
    assert tiny_config().replace(**{"train.warmup": 0.0}).hash() == tiny_config().hash()
    assert tiny_config().replace(**{"train.warmup": 0.1}).hash() != tiny_config().hash()


def test_warmup_learning_rates_follow_the_schedule():
    model = torch.nn.Linear(2, 2)
    opt, sched = training.make_optimizer(model, TrainConfig(lr=1.0, warmup=0.25), 2, 4)   # 8 steps, 2 warm
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert lrs == sorted(lrs[:2]) + sorted(lrs[2:], reverse=True)    # up, then down


def test_chunks_cover_the_budget_once_per_epoch():
    pieces = list(curves._chunks(10, 25, 4, seed=0, level=0))
    assert sum(len(i) for _, i in pieces) == 25
    assert all(len(i) <= 4 for _, i in pieces)
    for epoch in (0, 1):     # each full epoch is a permutation of the 10 images
        got = torch.cat([i for e, i in pieces if e == epoch])
        assert sorted(got.tolist()) == list(range(10))
    assert [e for e, _ in pieces][-1] == 2
    assert [i.tolist() for _, i in pieces] == [i.tolist() for _, i in curves._chunks(10, 25, 4, 0, 0)]


def test_dense_curve_points_states_and_t_weighted_cost():
    cfg = tiny_config(**{"data.val_split": 16})
    sets = (synthetic(32, seed=1), synthetic(16, seed=2))
    c = curves.dense_curve(cfg, budget=48, eval_every=16, warm_timesteps=2, warm_fraction=0.5,
                           keep_at=(16, 48), progress=False, sets=sets)
    assert [p["images"] for p in c.points] == [16, 32, 48]
    assert [p["timesteps"] for p in c.points] == [2, 2, 4]          # T = 2 while seen < 24
    assert c.final["t_weighted_images"] == 16 * 2 / 4 + 16 * 2 / 4 + 16
    assert set(c.states) == {16, 48}
    first = next(k for k in c.states[16] if k.endswith(".weight"))
    assert not torch.equal(c.states[16][first], c.states[48][first])   # it trained in between
    assert all(0.0 <= p["val_accuracy"] <= 1.0 for p in c.points)


def test_ticket_curve_keeps_pruned_weights_at_zero_and_balances():
    cfg = tiny_config(**{"data.val_split": 16})
    sets = (synthetic(32, seed=1), synthetic(16, seed=2))
    dense = curves.dense_curve(cfg, budget=32, eval_every=16, keep_at=(16, 32), progress=False, sets=sets)
    for method in ("lth", "uticket"):
        c, masks = curves.ticket_curve(cfg, dense.states[32], dense.states[16], 0.9, 16, 16,
                                       method=method, progress=False, sets=sets)
        kept = sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
        assert kept == pytest.approx(0.1, abs=0.02 if method == "lth" else 0.1)
        assert len(c.points) == 1
    # a ticket can train its first images at a smaller T too (ci/learning_curves.py --ticket-warm)
    warm, _ = curves.ticket_curve(cfg, dense.states[32], dense.states[16], 0.9, 48, 16, progress=False,
                                  sets=sets, warm_timesteps=2, warm_fraction=0.5)
    assert [p["timesteps"] for p in warm.points] == [2, 2, 4]
    # u-Ticket's one-shot mask: every covered block of n_PE filters carries equal loads
    full = 0
    for name in balancelib.default_covered(masks):
        loads, valid = balancelib.loads(masks[name], cfg.balance.n_pe)
        whole = valid.all(dim=-1)
        full += int(whole.sum())
        assert (loads[whole].max(dim=-1).values == loads[whole].min(dim=-1).values).all()
    assert full > 0


def test_a_curve_needs_a_validation_split():
    with pytest.raises(ValueError, match="data.val_split"):
        curves.datasets(tiny_config())


def test_one_shot_origin_compares_the_trained_mask_with_random_masks_of_equal_counts():
    from uticket_lib.analysis import masks as masktools
    cfg = tiny_config()
    model = build_model(cfg)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    out = masktools.one_shot_origin(state, "vgg16", cfg.model.width, sparsity=0.9, n_pe=4, draws=3)
    assert out["sparsity"] == pytest.approx(0.9, abs=0.01)
    assert 0 < out["random_min"] <= out["random_mean"] <= out["random_max"] <= 1
    assert out["excess"] == pytest.approx(out["random_mean"] - out["trained"])
    # the trained side is the one-shot magnitude mask of this very state
    lyr = list(masktools._layers("vgg16", cfg.model.width, 4, "fmnist"))
    again = masktools.mask_utilization(curves.one_shot_mask(state, model, 0.9), lyr, 4)
    assert out["trained"] == pytest.approx(again)


def test_epochs_final_trains_the_last_round_longer_and_names_a_new_run(tmp_path):
    from uticket_lib import lottery
    from uticket_lib.analysis import landing
    cfg = tiny_config(**{"train.epochs_final": 2})
    assert [lottery.level_epochs(cfg, k) for k in (1, 2)] == [1, 2]          # levels = 3: level 2 is last
    assert lottery.level_epochs(tiny_config(), 2) == 1
    assert cfg.hash() != tiny_config().hash()
    # levels enter the hash only with epochs_final: which level is "last" depends on them
    assert cfg.replace(**{"prune.levels": 4}).hash() != cfg.hash()
    assert tiny_config(**{"prune.levels": 4}).hash() == tiny_config().hash()
    assert landing.total_epochs(cfg) == 2 + 1 + 2
    assert landing.round_epochs(cfg) == "1 x 1 + 1 x 2"
    out = lottery.run(cfg, datasets=(synthetic(32, seed=1), synthetic(16, seed=2)), root=tmp_path,
                      progress=False)
    from uticket_lib import runstore
    assert [len(m["history"]) for m in runstore.levels(out)] == [2, 1, 2]


def _curves_json(tmp_path):
    import json
    def entry(recipe, kind, budget, accs):
        return {"arch": "vgg16", "recipe": recipe, "kind": kind, "budget": budget,
                "points": [{"images": 8000 * (i + 1), "val_accuracy": a, "train_seconds": 10.0 * (i + 1)}
                           for i, a in enumerate(accs)]}
    path = tmp_path / "lc.json"
    path.write_text(json.dumps({"entries": [
        entry("base", "dense", 16000, [0.70, 0.80]), entry("base", "lth", 16000, [0.60, 0.77]),
        entry("base", "dense", 32000, [0.70, 0.80, 0.83, 0.86]), entry("base", "lth-rw16000", 32000, [0.84]),
        entry("base", "lth-tb64000-lr0.005", 32000, [0.85]),
        {**entry("quick", "dense", 16000, [0.1]), "quick": True}]}))
    return path


def test_curve_finals_take_each_curves_last_point_and_the_gap_to_its_own_dense_network(tmp_path):
    from uticket_lib.analysis import recipes
    frame = recipes.curves_frame(_curves_json(tmp_path))
    assert "quick" not in set(frame["recipe"])                        # the script's self-check is left out
    finals = recipes.curve_finals(frame)
    assert finals.loc[("vgg16", "base", 16000, "lth"), "minus dense (points)"] == pytest.approx(-3.0)
    assert finals.loc[("vgg16", "base", 32000, "lth-rw16000"), "minus dense (points)"] == pytest.approx(-2.0)
    assert finals.loc[("vgg16", "base", 32000, "dense"), "val_accuracy"] == 0.86
    text = recipes.curves_text(finals)
    assert "86.0% (32,000 images)" in text["vgg16_dense"]
    assert "rewound to 16,000 images" in text["vgg16_tickets"] and "-2.0 points" in text["vgg16_tickets"]
    assert "trained 64,000 images, at lr 0.005) 85.0% (-1.0 points" in text["vgg16_tickets"]
    from uticket_lib.plotting import learning
    assert learning.curves(frame) is not None


def test_ticket_kinds_parse_in_any_order_and_reject_unknown_parts():
    from uticket_lib.analysis import recipes
    assert recipes.ticket_kind("uticket") == {"method": "uticket", "rewind": None, "budget": None, "lr": None,
                                              "warm": None}
    assert recipes.ticket_kind("lth-tb168000-lr0.005-w2-0.685")["warm"] == (2, 0.685)
    assert recipes.ticket_kind("lth-tb112000-lr0.003") == {"method": "lth", "rewind": None, "budget": 112000,
                                                           "lr": 0.003, "warm": None}
    assert recipes.ticket_kind("lth-lr1e-2-rw24000")["rewind"] == 24000
    for bad in ("lth-w2", "lth-tb1000-5"):          # a warm T without its fraction; a fraction without w
        with pytest.raises(ValueError, match="unknown part"):
            recipes.ticket_kind(bad)
    with pytest.raises(ValueError, match="unknown part in 'x9'"):
        recipes.ticket_kind("lth-x9")


def test_origin_text_splits_the_utilization_loss(tmp_path):
    import json
    from uticket_lib.analysis import recipes
    row = {"arch": "vgg16", "recipe": "noaug", "optimizer": "adam", "weight_decay": 5e-4, "width": 0.25,
           "val_accuracy": 0.8, "min_weights_per_filter": 4.0, "uniform_random": 0.70,
           "random_mean": 0.62, "random_min": 0.60, "random_max": 0.64}
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"rows": [{**row, "images": 8000, "trained": 0.52, "excess": 0.10},
                                         {**row, "images": 16000, "trained": 0.55, "excess": 0.07}]}))
    frame = recipes.origin_frame(path)
    text = recipes.origin_text(frame)
    assert "after 16,000 images" in text["vgg16_length"] and "excess +0.07" in text["vgg16_length"]
    assert text["vgg16_factors"] == "VGG-16: noaug (adam, weight decay 0.0005, no augmentation) excess +0.07"
    assert text["vgg16_optimizer"] == "adam: excess +0.07"
    assert text["vgg16_weight_decay"] == "not recorded"             # no SGD curve in this input


def test_rewind_images_saves_the_state_inside_round_zero(tmp_path):
    from uticket_lib import lottery, paths
    from uticket_lib.runstore import load_state
    data = (synthetic(32, seed=1), synthetic(16, seed=2))

    def rewind_state(**over):
        cfg = tiny_config(**{"prune.levels": 1, **over})
        lottery.run(cfg, datasets=data, root=tmp_path / str(over), progress=False)
        dense = paths.dense_dir(cfg.dense_hash(), tmp_path / str(over))
        return load_state(paths.rewind_path(dense))

    one_epoch = rewind_state(**{"prune.rewind_epoch": 1})
    at_32 = rewind_state(**{"prune.rewind_images": 32})           # 32 images = one pass: the same state
    at_16 = rewind_state(**{"prune.rewind_images": 16})           # one step of 16 images
    assert all(torch.equal(one_epoch[k], at_32[k]) for k in one_epoch)
    assert any(not torch.equal(one_epoch[k], at_16[k]) for k in one_epoch if k.endswith("weight"))
    assert tiny_config(**{"prune.rewind_images": 16}).dense_hash() != tiny_config().dense_hash()


def test_rewind_images_beyond_round_zero_is_refused_before_any_work():
    from uticket_lib import validation
    from uticket_lib.config import RunConfigError
    cfg = tiny_config(**{"data.train_subset": 100, "prune.rewind_images": 200})   # 2 epochs x 100 images
    with pytest.raises(RunConfigError, match="prune.rewind_images"):
        validation.check(cfg)
    validation.check(tiny_config(**{"data.train_subset": 100, "prune.rewind_images": 199}))


def test_schedule_text_names_rounds_rewind_and_data():
    from uticket_lib import profiles
    from uticket_lib.analysis import landing
    old = profiles.get("cpu", overrides={"data.train_subset": 4000, "train.epochs_dense": 4, "train.epochs": 2,
                                         "prune.levels": 7, "prune.rewind_images": None, "data.augment": True,
                                         "train.epochs_final": None})
    assert landing.schedule_text(old) == (
        "trains 4 epochs at level 0 and 2 epochs in each of the 6 pruning rounds, rewinds to the end of "
        "epoch 1 of level 0, and uses width 0.25 and 4,000 training images (with augmentation)")
    new = old.replace(**{"data.train_subset": None, "train.epochs_dense": 1, "prune.rewind_images": 8000,
                         "data.augment": False, "prune.levels": 3, "train.epochs": 1, "train.epochs_final": 2})
    assert landing.schedule_text(new) == (
        "trains 1 epoch at level 0 and 1 epoch in the first pruning round and 2 epochs in the last, "
        "rewinds to the state after 8,000 training images of level 0, and uses width 0.25 and 58,000 "
        "training images (without augmentation)")


def test_training_images_without_augmentation_are_materialised_to_the_same_tensors():
    from torch.utils.data import TensorDataset
    from uticket_lib import rundata
    cfg = tiny_config(**{"data.train_subset": 40, "data.val_split": 20, "data.augment": False})
    train, _test, val = rundata.load_datasets(cfg)
    plain = rundata._load(cfg)[0]
    assert isinstance(train, TensorDataset) and len(train) == len(plain) == 40
    for i in (0, 17, 39):
        assert torch.equal(train[i][0], plain[i][0]) and int(train[i][1]) == int(plain[i][1])
    assert not isinstance(rundata.load_datasets(cfg.replace(**{"data.augment": True}))[0], TensorDataset)


def test_scored_points_are_the_chunk_ends():
    """Every eval_every images along an epoch, each epoch's end and the budget (10 images, budget
    25, every 4: hand-counted); a rewind point must be one of them for its state to be kept."""
    assert curves.scored_points(10, 25, 4) == [4, 8, 10, 14, 18, 20, 24, 25]
    assert 8000 not in curves.scored_points(58000, 224000, 28000)
    assert 8000 in curves.scored_points(58000, 224000, 8000)
