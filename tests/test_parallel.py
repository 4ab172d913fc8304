"""parallel: the plan (workers x threads), the jobs (shared dense levels once, first), and runs
trained in worker processes equal to the same runs trained here on as many threads."""
from __future__ import annotations

import pytest
import torch

from uticket_lib import io, lottery, parallel, paths, runstore

from conftest import strip_timing, tiny_config
from test_data import write_fmnist


def test_plan_shares_the_cores_and_stays_serial_where_it_must(monkeypatch):
    cfgs = [tiny_config("lth"), tiny_config("uticket"), tiny_config("lth", "resnet19")]
    assert parallel.plan(cfgs, limit=8, n_cores=2) == (2, 1)      # never more workers than cores
    assert parallel.plan(cfgs, limit=8, n_cores=12) == (3, 4)     # nor than runs; cores shared
    assert parallel.plan(cfgs, limit=1, n_cores=12)[0] == 1
    assert parallel.plan([], limit=4, n_cores=4)[0] == 1
    gpu = tiny_config("lth", **{"train.device": "cuda"})
    assert parallel.plan([*cfgs, gpu], limit=4, n_cores=4) == (1, 0)
    monkeypatch.setenv(parallel.WORKERS_ENV, "3")
    assert parallel.max_workers() == 3
    for bad in ("0", "two"):
        monkeypatch.setenv(parallel.WORKERS_ENV, bad)
        with pytest.raises(ValueError, match="UTICKET_WORKERS"):
            parallel.max_workers()


def test_jobs_train_each_dense_level_once_and_first(runs_root, tiny_data, monkeypatch):
    lth, ut = tiny_config("lth"), tiny_config("uticket")
    other = tiny_config("lth", **{"train.seed": 1})               # another dense level
    iso = tiny_config("lth", **{"quant.bits": 4, "quant.mode": "isolation"})
    long = tiny_config("uticket", **{"train.epochs_final": 5})     # rounds of 1 + 5 epochs: the longest
    todo = parallel.jobs([lth, ut, other, iso, ut, long])
    assert [(k, c.name, key) for k, c, key in todo] == [
        ("dense", lth.name, None), ("dense", other.name, None),
        ("run", long.name, long.dense_hash()),                       # longest first, the rest in order
        ("run", lth.name, lth.dense_hash()), ("run", ut.name, ut.dense_hash()),
        ("run", other.name, other.dense_hash()), ("run", iso.name, None)]   # the repeated run once
    assert [parallel.cost(c) for c in (long, lth, iso)] == [6 * 256, 2 * 256, 1 * 256]
    assert lth.dense_hash() == ut.dense_hash() != other.dense_hash() and long.dense_hash() == lth.dense_hash()
    lottery.train_dense(lth, tiny_data)                           # dense level on disk: no dense job
    assert lottery.dense_done(ut) and not lottery.finished(ut)
    assert [(k, key) for k, _c, key in parallel.jobs([lth, ut])] == [("run", None), ("run", None)]
    lottery.run(lth, tiny_data)                                    # finished: no job at all
    assert [c.name for _k, c, _key in parallel.jobs([lth, ut])] == [ut.name]


def _same_run(a, b, threads: int) -> None:
    for level in range(3):
        ma = io.load_json(paths.metrics_path(paths.level_dir(a, level)))
        mb = io.load_json(paths.metrics_path(paths.level_dir(b, level)))
        assert ma["machine"]["threads"] == mb["machine"]["threads"] == threads
        drop = ("machine",)
        assert strip_timing({k: v for k, v in ma.items() if k not in drop}) == \
            strip_timing({k: v for k, v in mb.items() if k not in drop})
        sa = runstore.load_state(paths.checkpoint_path(paths.level_dir(a, level)))["model"]
        sb = runstore.load_state(paths.checkpoint_path(paths.level_dir(b, level)))["model"]
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_runs_in_workers_equal_runs_here_on_as_many_threads(tmp_path, monkeypatch):
    write_fmnist(tmp_path / "data" / "FashionMNIST" / "raw", n_train=40, n_test=12)
    extra = {"data.root": str(tmp_path / "data"), "data.train_subset": None, "data.test_subset": None,
             "data.val_split": 8, "data.augment": False}
    cfgs = [tiny_config("lth", **extra), tiny_config("uticket", **extra)]
    pooled = parallel.run_all(cfgs, root=tmp_path / "pool", workers=2)   # two spawned workers
    assert [p.parent for p in pooled] == [tmp_path / "pool"] * 2
    workers, per_worker = parallel.plan(cfgs, limit=2)
    default = torch.get_num_threads()
    per_worker = per_worker if workers > 1 else default      # a 1-core machine: no pool, all here
    torch.set_num_threads(per_worker)
    try:
        here = [lottery.run(c, root=tmp_path / "here", progress=False) for c in cfgs]
    finally:
        torch.set_num_threads(default)
    for a, b in zip(pooled, here):
        _same_run(a, b, per_worker)
    again = parallel.run_all(cfgs, root=tmp_path / "pool", workers=2)    # all cached: nothing trains
    assert again == pooled


def test_an_error_in_a_worker_reaches_the_caller(tmp_path):
    from uticket_lib.data import DataMissingError
    extra = {"data.root": str(tmp_path / "empty"), "data.download": False, "data.dataset": "cifar10"}
    cfgs = [tiny_config("lth", **extra), tiny_config("lth", **{**extra, "train.seed": 1})]
    with pytest.raises(DataMissingError, match="cifar"):
        parallel.run_all(cfgs, root=tmp_path / "pool", workers=2)
    assert not any((tmp_path / "pool").rglob("metrics.json"))
