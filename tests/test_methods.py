"""The pruning-method registry: the two methods as registered, the old config key, and a third method
(random pruning) registered in the test alone, run end to end: smoke run, `uticket hw`, the tables."""
from __future__ import annotations

import torch

from uticket_lib import cli, config, lottery, paths, runstore
from uticket_lib.analysis import hwframes
from uticket_lib.analysis.labels import name
from uticket_lib.pruning import methods
from uticket_lib.pruning.mask import Masks

from conftest import synthetic, tiny_config


def random_prune(weights, previous: Masks, cfg, covered, level) -> methods.Step:
    """Toy method: remove ``prune.fraction`` of each layer's survivors at random (seeded by level)."""
    g = torch.Generator().manual_seed(1000 + level)
    out = {}
    for n, m in previous.items():
        alive = m.flatten().nonzero().flatten()
        drop = alive[torch.randperm(alive.numel(), generator=g)[:round(cfg.prune.fraction * alive.numel())]]
        flat = m.flatten().clone()
        flat[drop] = 0
        out[n] = flat.view_as(m)
    return methods.Step(out)


def test_the_registry_holds_the_two_methods_and_the_old_key_still_reads():
    assert list(methods.METHODS) == ["lth", "uticket"]
    new = config.RunConfig().replace(**{"prune.method": "uticket"})
    old = config.RunConfig().replace(**{"balance.method": "uticket"})      # the key until 2026-12-04
    assert new == old
    assert new.hash() == config.stable_hash({"balance": {"method": "uticket"}})   # the old run hash
    d = new.to_dict()
    legacy = {**d, "prune": {k: v for k, v in d["prune"].items() if k != "method"},
              "balance": {**d["balance"], "method": "uticket"}}            # an old config.json
    assert config.from_dict(legacy) == new


def test_a_third_method_needs_only_its_registry_entry(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(methods.METHODS, "random", methods.Method("Random", random_prune))
    data = (synthetic(48, seed=1), synthetic(24, seed=2))
    pair = {m: lottery.run(tiny_config(m), datasets=data, root=tmp_path, progress=False)
            for m in ("lth", "random")}
    rand = pair["random"]
    assert rand.name.startswith("vgg16_fmnist_random_")
    rows = runstore.levels(rand)
    assert [r["level"] for r in rows] == [0, 1, 2]
    for k in (1, 2):                             # per layer, half the survivors removed at random
        before, after = (runstore.load_masks(rand, j) for j in (k - 1, k))
        for n in before:
            alive = int(before[n].sum())
            assert int(after[n].sum()) == alive - round(0.5 * alive)
            assert bool((after[n] <= before[n]).all())
    lth2, rand2 = (runstore.load_masks(pair[m], 2) for m in ("lth", "random"))
    assert any(not torch.equal(lth2[n], rand2[n]) for n in lth2)    # not magnitude pruning

    mask_file = paths.mask_path(paths.level_dir(rand, 2))
    assert cli.main(["hw", "--masks", str(mask_file), "--arch", "vgg16", "--dataset", "fmnist",
                     "--width", "0.0625", "--n-pe", "4", "--json"]) == 0
    capsys.readouterr()

    runs = {"vgg16": pair}
    assert set(hwframes.layer_frame(pair).method) == {"lth", "random"}
    modes = hwframes.cycle_modes(pair, modes=("output",))
    assert list(modes.index.get_level_values("method")) == ["LTH", "Random"]
    assert {"energy LTH", "energy Random"} <= set(hwframes.energy_frame(runs).columns)
    assert set(hwframes.system_frame(runs).index.get_level_values("method")) == {"LTH", "Random"}
    assert list(hwframes.reordering_frame(pair).index)[2] == "random"
    assert name("random + sorted") == "Random + sorted"
    assert isinstance(hwframes.latency_reduction(pair), float)
