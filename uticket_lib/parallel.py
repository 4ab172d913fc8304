"""Independent runs side by side on a CPU: a few worker processes, each on a share of the cores.

At the cpu profile's sizes (width 0.25, 32 x 32 images, batches of 32) an op on two threads is far
from twice as fast as on one: the late layers of VGG-16 are a few pixels wide. Measured on the 2-core
AMD EPYC (``ci/bench_parallel.py``, ``ci/bench_results/parallel.json``), two VGG-16 runs on one thread
each train more images a second together than one run on both threads; ResNet-19, whose convs are
larger, gains about nothing but loses nothing either. So a chapter that needs several runs hands them
all to ``run_all``, which trains each shared dense level once, then the runs, ``workers`` at a time.

The float results depend on the thread count at the rounding level (oneDNN splits its reductions by
thread), as they depend on the CPU model: a run trained on one thread is another draw, not another
experiment. The thread count is not part of a run's hash (a run reused on another machine is still
the same configuration); every level records it (``metrics.json`` ``machine.threads``).

``UTICKET_WORKERS`` sets the number of workers (1 turns this off: every run in this process, one
after another, on all of torch's threads). On a GPU, or under torchrun, runs go one after another.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from pathlib import Path
from typing import Sequence

from . import lottery, paths
from .config import RunConfig
from .runstore import done, quant_levels, run_dir
from .training import device_for, distributed

WORKERS_ENV = "UTICKET_WORKERS"


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not Linux
        return os.cpu_count() or 1


def max_workers() -> int:
    """``$UTICKET_WORKERS`` if set (a positive integer), else one per core."""
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text:
        return cores()
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"${WORKERS_ENV}={text!r} is not a positive integer; set it to the number "
                         f"of runs to train at once (1 trains them one after another), or unset it")
    return n


def plan(cfgs: Sequence[RunConfig], limit: int | None = None, n_cores: int | None = None) -> tuple[int, int]:
    """(workers, threads per worker) for ``cfgs``: at most ``limit`` workers (``max_workers()``), no
    more than there are runs, none on CUDA or under torchrun; the cores shared evenly among them."""
    if not cfgs or any(device_for(c.train).type != "cpu" for c in cfgs) or distributed():
        return 1, 0
    return split(len(cfgs), limit, n_cores)


def split(n_runs: int, limit: int | None = None, n_cores: int | None = None) -> tuple[int, int]:
    """(workers, torch threads each) for ``n_runs`` CPU runs: at most ``limit`` workers
    (``max_workers()``), ``n_runs`` and ``n_cores`` (``cores()``); the cores shared evenly."""
    n_cores = cores() if n_cores is None else n_cores
    limit = max_workers() if limit is None else limit
    workers = max(1, min(limit, n_runs, n_cores))
    return workers, max(1, n_cores // workers)


def jobs(cfgs: Sequence[RunConfig], root: Path | None = None) -> list[tuple[str, RunConfig, str | None]]:
    """The work ``run_all`` schedules: ``("dense", cfg, None)`` once per dense level not yet trained
    (the first config that needs it), then ``("run", cfg, dense key or None)`` per unfinished run,
    the longest first (``cost``); a run waits for the dense job named by its key. Quantized isolation
    / cumulative runs train their float run first themselves (``quantized.run``) and wait for no
    dense job here."""
    out: list[tuple[str, RunConfig, str | None]] = []
    dense_jobs: set[str] = set()
    for cfg in cfgs:
        if lottery.finished(cfg, root):
            continue
        key = None
        if lottery.plain(cfg) and not lottery.dense_done(cfg, root):
            key = cfg.dense_hash()
            if key not in dense_jobs:
                dense_jobs.add(key)
                out.append(("dense", cfg, None))
        out.append(("run", cfg, key))
    dense = [j for j in out if j[0] == "dense"]
    runs = [j for j in out if j[0] == "run"]
    unique, seen = [], set()
    for j in runs:                       # the same configuration twice: one job
        h = (j[1].name, j[1].hash(), j[1].prune.levels)
        if h not in seen:
            seen.add(h)
            unique.append(j)
    # longest first (stable), so a long chain of levels does not run alone at the end on one core
    return dense + sorted(unique, key=lambda j: -cost(j[1], root))


def cost(cfg: RunConfig, root: Path | None = None) -> float:
    """A run's remaining training, in image-epochs at full T (for ordering only): the epochs of its
    unfinished pruning rounds (of its QAT levels for a quantized isolation / cumulative run) times
    its training images (the training subset, else 60,000)."""
    images = cfg.data.train_subset or 60_000
    if not lottery.plain(cfg):
        return float(cfg.quant.epochs * images * quant_levels(cfg))
    out = run_dir(cfg, root)
    epochs = sum(lottery.level_epochs(cfg, k) for k in range(1, cfg.prune.levels)
                 if not done(paths.level_dir(out, k)))
    return float(epochs * images)


def _init_worker(threads: int) -> None:
    import torch
    torch.set_num_threads(threads)


def _job(kind: str, cfg: RunConfig, root: Path | None) -> str:
    if kind == "dense":
        lottery.train_dense(cfg, root=root, progress=False)
        return cfg.dense_hash()
    lottery.run(cfg, root=root, progress=False)
    return cfg.hash()


def run_all(cfgs: Sequence[RunConfig], root: Path | None = None, workers: int | None = None,
            progress: bool = False) -> list[Path]:
    """Run (or reuse from the cache) every configuration; returns their run directories, in order.

    Every configuration is checked (``lottery.validate``) before anything trains. With one worker
    (``plan``) the runs go one after another in this process; otherwise each shared dense level is
    trained once, then the runs, in the order given, each in a worker process as soon as its dense
    level is on disk. A worker's error stops the rest (what finished stays on disk; rerunning resumes).
    """
    cfgs = list(cfgs)
    for cfg in cfgs:
        lottery.validate(cfg)
    todo = jobs(cfgs, root)
    n, threads = plan([j[1] for j in todo if j[0] == "run"], workers)
    if n <= 1:
        return [lottery.run(cfg, root=root, progress=progress) for cfg in cfgs]
    pending = list(todo)
    waiting_on = {j[1].dense_hash() for j in pending if j[0] == "dense"}
    ctx = multiprocessing.get_context("spawn")   # no fork of a process that holds torch's threads
    with cf.ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as pool:
        running: dict[cf.Future, tuple] = {}
        while pending or running:
            for j in [j for j in pending if j[2] is None or j[2] not in waiting_on]:
                if len(running) >= n:
                    break
                pending.remove(j)
                running[pool.submit(_job, j[0], j[1], root)] = j
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                kind, cfg, _key = running.pop(fut)
                try:
                    fut.result()
                except BaseException:
                    for other in running:
                        other.cancel()
                    raise
                if kind == "dense":
                    waiting_on.discard(cfg.dense_hash())
    return [run_dir(cfg, root) for cfg in cfgs]
