"""The multi-process path (what torchrun launches), on CPU with the gloo backend and 2 processes."""
from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from uticket_lib import lottery, runstore, training

from conftest import synthetic, tiny_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Augmented(torch.utils.data.Dataset):
    """Item i = (a random draw from torch's global generator, as a random crop or flip makes, i)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return torch.rand(()), i


def _worker(rank: int, world: int, port: int, root: str, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    assert training.distributed() and dist.get_backend() == "gloo"
    cfg = tiny_config("uticket", **{"train.batch_size": 8})
    # 0) one epoch's loader: disjoint shards, and each rank draws its own augmentation
    batches = list(training.epoch_loader(_Augmented(16), cfg.train, 0, training.epoch_seed(0, 0, 0)))
    index = torch.cat([b[1] for b in batches])
    draws = torch.cat([b[0] for b in batches])
    shards = [torch.zeros_like(index) for _ in range(world)]
    aug = [torch.zeros_like(draws) for _ in range(world)]
    dist.all_gather(shards, index)
    dist.all_gather(aug, draws)
    # 1) DDP keeps replicas identical although each rank sees a different shard
    model = runstore.build_model(cfg)
    training.fit(model, synthetic(32, seed=rank), cfg.train, 1, 0, None, torch.device("cpu"),
                 progress=False)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.zeros_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    # 2) a whole lottery run under 2 processes: rank 0 writes, both finish
    run = lottery.run(cfg, datasets=(synthetic(32), synthetic(16, seed=3)), root=root, progress=False)
    if rank == 0:
        torch.save({"shards": [x.tolist() for x in shards], "aug": aug,
                    "same": all(torch.equal(gathered[0], g) for g in gathered[1:]),
                    "levels": [m["level"] for m in runstore.levels(run)]}, out)
    dist.destroy_process_group()


def test_ddp_gloo_two_processes(tmp_path):
    out = tmp_path / "result.pt"
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path / "runs"), str(out)), nprocs=2, join=True)
    result = torch.load(out)
    assert result["same"] is True
    a, b = result["shards"]
    assert not set(a) & set(b) and len(set(a) | set(b)) == 16  # shards partition the epoch
    assert not torch.equal(result["aug"][0], result["aug"][1])  # per-rank augmentation streams
    # rank 0 keeps the single-process stream (seed + 0)
    assert training.augmentation_seed(5, 0) == 5 and training.augmentation_seed(5, 1) != 5
    assert result["levels"] == [0, 1, 2]
