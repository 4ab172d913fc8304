"""What fusing batch norm (and the residual add) into the LIF kernel buys a training step, here.

    .venv/bin/python ci/bench_bnlif.py [--pairs 30] [--bf16 | --no-bf16] [--out PATH]

Per arch at the cpu profile (width, batch, channels-last), two copies of the network built alike
train on one fixed random batch, one step fused (``bnlif.FUSE = True``) and one step unfused (the
separate modules, the default), alternately (which goes first alternates too), ``--pairs`` times
after two warm-up pairs: a shared
machine's drift hits both alike, and each pair's own ratio (unfused time / fused time) is recorded
beside the medians. The two give the same numbers bit for bit (``tests/test_bnlif.py``), so only the
time differs. bf16 autocast too where the CPU has it natively (``--bf16`` / ``--no-bf16`` force it).
Writes ci/bench_results/bnlif.json with the machine, its load, and its fp32 matmul rate before and
after (the same machine varies about 2x within an hour).
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from bench_train import sgd_step  # noqa: E402
from uticket_lib import io, machine, models, profiles  # noqa: E402
from uticket_lib.models import bnlif  # noqa: E402


def stepper(arch: str, width: float, batch: int, channels_last: bool, amp: bool, fuse: bool):
    """A function running one SGD step of a fresh network (fused or not) and returning its seconds."""
    torch.manual_seed(0)
    model = models.build(arch, in_channels=1, width=width).train()
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(batch, 1, 32, 32, generator=g), torch.randint(0, 10, (batch,), generator=g)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> float:
        bnlif.FUSE = fuse
        return sgd_step(model, opt, x, y, amp)

    return step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--bf16", dest="bf16", action="store_true", default=None)
    ap.add_argument("--no-bf16", dest="bf16", action="store_false")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "bench_results", "bnlif.json"))
    args = ap.parse_args()
    if args.bf16 is None:
        args.bf16 = machine.native_bf16(machine.cpu_flags())
    load_before = os.getloadavg()
    matmul_before = machine.measured_matmul_gflop_per_s()   # this machine's speed beside the timings
    results = {}
    for arch in ("vgg16", "resnet19"):
        cfg = profiles.get("cpu", arch, "fmnist")
        for amp in (False, True) if args.bf16 else (False,):
            steps = {fuse: stepper(arch, cfg.model.width, cfg.train.batch_size,
                                   cfg.train.channels_last, amp, fuse) for fuse in (True, False)}
            for _ in range(2):                       # warm-up (and the probe, once per process)
                steps[True](), steps[False]()
            fused, unfused = [], []
            for i in range(args.pairs):                 # which goes first alternates too
                for fuse in ((True, False) if i % 2 == 0 else (False, True)):
                    (fused if fuse else unfused).append(steps[fuse]())
            ratios = [u / f for f, u in zip(fused, unfused)]
            q = statistics.quantiles(ratios)
            row = {"fused_ms": 1e3 * statistics.median(fused), "unfused_ms": 1e3 * statistics.median(unfused),
                   "speedup_of_medians": statistics.median(unfused) / statistics.median(fused),
                   "median_pair_speedup": statistics.median(ratios), "pair_quartiles": [q[0], q[2]],
                   "pair_speedups": ratios, "batch": cfg.train.batch_size, "width": cfg.model.width}
            results.setdefault(arch, {})["bf16" if amp else "fp32"] = row
            print(f"{arch:9s} {'bf16' if amp else 'fp32'}: fused {row['fused_ms']:.1f} ms, unfused "
                  f"{row['unfused_ms']:.1f} ms per step (medians of {args.pairs}); unfused / fused "
                  f"{row['speedup_of_medians']:.3f}, per pair {row['median_pair_speedup']:.3f} "
                  f"(quartiles {q[0]:.3f}-{q[2]:.3f})", flush=True)
    bnlif.FUSE = False
    io.save_json({"what": "training step time with batch norm and the residual add fused into the LIF "
                          "kernel and as separate modules (the default), alternate steps of two "
                          "copies of the network (ci/bench_bnlif.py); the numbers are bit for bit "
                          "the same either way",
                  "pairs": args.pairs, "results": results, "commit": machine.git_commit(),
                  "machine": {**machine.describe(), "loadavg_before": load_before,
                              "loadavg_after": os.getloadavg(),
                              "matmul_gflop_per_s_before_after": [matmul_before,
                                                                  machine.measured_matmul_gflop_per_s()],
                              "matmul_basis": "fp32 1024 x 1024 matmul on all of torch's threads "
                                              "(machine.measured_matmul_gflop_per_s, median of 5)"},
                  "date": datetime.date.today().isoformat()}, args.out)


if __name__ == "__main__":
    main()
