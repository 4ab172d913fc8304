import dataclasses

import pytest

from uticket_lib import machine, profiles
from uticket_lib.config import RunConfig, from_dict, local_reasons, science_dict, stable_hash


def test_default_config_hashes_empty_dict():
    assert science_dict(RunConfig()) == {}
    assert RunConfig().hash() == stable_hash({})


def test_golden_hashes():
    # Changing any of these renames existing runs on users' disks: add fields, never change defaults.
    assert RunConfig().hash() == "44136fa355b3"
    cfg = RunConfig().replace(**{"model.width": 0.25, "prune.method": "uticket",
                                 "prune.fraction": 0.5})
    assert cfg.hash() == "12f605e7d510"


def test_local_fields_do_not_change_the_hash():
    cfg = RunConfig()
    assert cfg.replace(**{"data.root": "/x", "train.device": "cpu", "train.channels_last": True,
                          "data.download": True, "train.eval_every_epoch": True,
                          "prune.levels": 3}).hash() == cfg.hash()


# A value other than the default for every field, and what must be set for the field to act.
OTHER_VALUE = {
    "model.arch": "resnet19", "model.width": 0.5, "model.timesteps": 2, "model.time_plan": (4, 2),
    "model.time_join": "or", "data.dataset": "cifar10", "data.train_subset": 10,
    "data.test_subset": 10, "data.augment": False, "data.subset_seed": 1, "data.val_split": 100,
    "data.root": "/x", "data.download": True, "data.num_workers": 2, "train.epochs_dense": 3,
    "train.epochs": 3, "train.batch_size": 16, "train.optimizer": "adam", "train.lr": 0.01, "train.lr_rounds": 0.02,
    "train.momentum": 0.5, "train.weight_decay": 0.0, "train.released_weight_decay": True,
    "train.label_smoothing": 0.1, "train.warmup": 0.1, "train.epochs_final": 5, "prune.rewind_images": 100, "train.seed": 1, "train.eval_every_epoch": True,
    "train.device": "cpu", "train.channels_last": True, "train.amp": True, "prune.levels": 3,
    "prune.fraction": 0.5, "prune.scope": "layer", "prune.rewind_epoch": 1,
    "prune.released_rewind": True, "prune.search_timesteps": 2, "prune.method": "uticket",
    "balance.n_pe": 8, "balance.reference": "layer", "balance.carry": False, "balance.seed": 1,
    "quant.bits": 4, "quant.mode": "joint", "quant.layers": "covered", "quant.epochs": 2,
    "quant.init": "surviving",
}
ACTS_WITH = {"model.time_join": {"model.time_plan": (4, 2)},   # joins act between stages only
             **{f"balance.{k}": {"prune.method": "uticket"} for k in ("n_pe", "reference", "carry", "seed")},
             **{f"quant.{k}": {"quant.bits": 4} for k in ("mode", "layers", "epochs", "init")}}


def _all_keys() -> list[str]:
    cfg = RunConfig()
    return [f"{f.name}.{sf.name}" for f in dataclasses.fields(cfg)
            for sf in dataclasses.fields(getattr(cfg, f.name))]


def test_every_field_is_hashed_or_has_a_reason_it_cannot_change_results():
    """The walk the reliability issue asks for: a new field must be hashed, or say why not."""
    keys, reasons = _all_keys(), local_reasons()
    assert set(OTHER_VALUE) == set(keys), "give every new field a value in OTHER_VALUE"
    assert set(reasons) == {"data.root", "data.download", "train.eval_every_epoch", "train.device",
                            "train.channels_last", "prune.levels"}
    assert all(len(why) > 40 for why in reasons.values())
    for key in keys:
        base = RunConfig().replace(**ACTS_WITH.get(key, {}))
        changed = base.replace(**{key: OTHER_VALUE[key]})
        if key in reasons:
            assert changed.hash() == base.hash(), key
        else:
            assert changed.hash() != base.hash(), f"{key} changes results but not the run hash"


def test_levels_enter_the_hash_with_an_early_time_search():
    base = RunConfig().replace(**{"prune.search_timesteps": 2})
    assert base.replace(**{"prune.levels": 3}).hash() != base.hash()


def test_a_local_field_without_a_reason_is_refused():
    from uticket_lib.config import _local
    with pytest.raises(ValueError, match="reason"):
        _local(0, "")


def test_science_fields_change_the_hash():
    cfg = RunConfig()
    assert cfg.replace(**{"train.epochs": 3}).hash() != cfg.hash()
    assert cfg.replace(**{"prune.released_rewind": True}).hash() != cfg.hash()


def test_balance_knobs_ignored_for_lth_but_not_uticket():
    lth = RunConfig()
    assert lth.replace(**{"balance.n_pe": 8}).hash() == lth.hash()
    ut = lth.replace(**{"prune.method": "uticket"})
    assert ut.replace(**{"balance.n_pe": 8}).hash() != ut.hash()


def test_lth_and_uticket_share_the_dense_hash():
    lth = profiles.get("smoke", method="lth")
    ut = profiles.get("smoke", method="uticket")
    assert lth.hash() != ut.hash()
    assert lth.dense_hash() == ut.dense_hash()
    for key, value in (("prune.levels", 9), ("prune.fraction", 0.3), ("prune.scope", "layer"),
                       ("prune.released_rewind", True), ("train.lr_rounds", 0.05),
                       ("train.epochs_final", 3)):     # what only the pruning rounds use
        assert lth.replace(**{key: value}).dense_hash() == lth.dense_hash(), key
    for key, value in (("train.lr_rounds", 0.05), ("train.epochs_final", 3)):   # hashed for the run
        assert lth.replace(**{key: value}).hash() != lth.hash(), key
    assert lth.replace(**{"prune.rewind_epoch": 0}).dense_hash() != lth.dense_hash()
    assert lth.replace(**{"train.epochs_dense": 9}).dense_hash() != lth.dense_hash()


def test_overrides_parse_strings_to_field_types():
    cfg = RunConfig().replace(**{"train.epochs": "3", "model.width": "0.5",
                                 "train.released_weight_decay": "true", "data.train_subset": "100"})
    assert (cfg.train.epochs, cfg.model.width) == (3, 0.5)
    assert cfg.train.released_weight_decay is True and cfg.data.train_subset == 100


@pytest.mark.parametrize("key,value,match", [
    ("train.epochz", "3", "unknown config key 'train.epochz'"),
    ("train.epochs", "three", "train.epochs: expected int"),
    ("train.amp", "maybe", "expected true/false"),
    ("train.compile", "true", "train.compile was removed"),
])
def test_bad_overrides_are_clear(key, value, match):
    with pytest.raises((KeyError, ValueError), match=match):
        RunConfig().replace(**{key: value})


def test_config_json_with_the_removed_compile_field_still_reads():
    # run directories written before train.compile was removed hold it in config.json
    cfg = profiles.get("cpu", "vgg16")
    old = cfg.to_dict()
    old["train"]["compile"] = False
    assert from_dict(old) == cfg and from_dict(old).hash() == cfg.hash()


def test_dict_round_trip():
    cfg = profiles.get("cpu", "resnet19", "svhn", "uticket")
    assert from_dict(cfg.to_dict()) == cfg
    assert dataclasses.is_dataclass(cfg) and cfg.__dataclass_params__.frozen


def test_unknown_profile():
    with pytest.raises(KeyError, match="unknown profile 'tpu'"):
        profiles.get("tpu")


def test_paper_profile_is_the_papers_schedule():
    cfg = profiles.get("paper", "vgg16", "cifar10", "uticket")
    assert (cfg.model.width, cfg.model.timesteps) == (1.0, 4)
    assert (cfg.train.epochs_dense, cfg.train.epochs, cfg.train.batch_size, cfg.train.lr) == (200, 180, 128, 0.1)
    assert (cfg.prune.levels, cfg.prune.fraction, cfg.prune.rewind_epoch) == (15, 0.25, 20)
    assert cfg.balance.n_pe == 16 and cfg.data.train_subset is None
    assert abs(profiles.expected_sparsity(cfg) - (1 - 0.75 ** 14)) < 1e-12  # 98.22 %


def test_cpu_profile_reaches_about_98_percent():
    for arch in ("vgg16", "resnet19"):
        assert 0.975 <= profiles.expected_sparsity(profiles.get("cpu", arch)) <= 0.985


def test_gpu_profile_sits_between_cpu_and_paper():
    cpu, gpu, paper = (profiles.get(p, "resnet19") for p in ("cpu", "gpu", "paper"))
    assert gpu.model.width == paper.model.width == 1.0 and cpu.model.width < 1.0
    assert gpu.data.train_subset is None and gpu.data.test_subset is None       # full data
    assert gpu.train.amp and cpu.train.amp is machine.native_bf16(machine.cpu_flags())  # bf16 where native
    assert cpu.train.epochs < gpu.train.epochs < paper.train.epochs
    assert gpu.prune.levels < paper.prune.levels
    assert 0.975 <= profiles.expected_sparsity(gpu) <= 0.985
    assert gpu.train.lr == 0.1 and gpu.train.batch_size == 128             # no cpu arch overrides
    if "search_timesteps" in {f.name for f in dataclasses.fields(gpu.prune)}:  # issue 8's field
        assert gpu.prune.search_timesteps == "et"


def test_new_science_fields_keep_hashes_at_default():
    cfg = RunConfig().replace(**{"model.width": 0.25, "prune.method": "uticket",
                                 "prune.fraction": 0.5})
    assert cfg.replace(**{"prune.search_timesteps": None, "data.val_split": None}).hash() == cfg.hash()
    assert cfg.replace(**{"data.val_split": 1000}).hash() != cfg.hash()


def test_search_timesteps_hashes_the_level_count_and_enters_the_dense_hash():
    cfg = RunConfig().replace(**{"prune.levels": 3})
    et = cfg.replace(**{"prune.search_timesteps": "et"})
    assert et.hash() != cfg.hash()
    # levels are hashed only with a search T: the last level trains at full T
    assert cfg.replace(**{"prune.levels": 5}).hash() == cfg.hash()
    assert et.replace(**{"prune.levels": 5}).hash() != et.hash()
    # level 0 depends on the search T but not on the level count
    assert et.dense_hash() != cfg.dense_hash()
    assert et.replace(**{"prune.levels": 5}).dense_hash() == et.dense_hash()
    assert et.replace(**{"prune.method": "uticket"}).dense_hash() == et.dense_hash()
    assert cfg.replace(**{"prune.search_timesteps": "2"}).prune.search_timesteps == 2
