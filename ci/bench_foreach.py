"""What batching the optimizer's and the masks' per-parameter work buys, end to end, here.

    .venv/bin/python ci/bench_foreach.py [--images 640] [--rounds 3] [--out PATH]

Per arch and precision (bf16 only where the CPU has it natively), ``bench_train.end_to_end`` --
``training.fit`` on real Fashion-MNIST at the cpu profile with 90 %-sparse masks, the number the runs
record as ``train_images_per_s`` -- with ``training.FOREACH`` False (the optimizer's per-parameter
Python loop, torch's CPU default, and a multiply per mask) and True (one multi-tensor op per kind),
measured alternately ``--rounds`` times (medians), so that machine drift hits both alike. The two
give the same weights bit for bit (tests/test_training.py); only the time differs. Beside it, one
AdamW step alone over the network's parameters (random gradients, median of 40) as a loop, foreach
and ``fused=True`` -- the last is faster still but rounds differently (``fused_max_abs_diff`` after
40 steps), so it would change the recorded results. About 2-3 minutes on 2 quiet cores. Records
``ci/bench_results/optimizer_masks.json``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_train import end_to_end  # noqa: E402  (the very loop bench_train times)

from uticket_lib import io, machine, profiles, runstore, training  # noqa: E402


def adamw_step_ms(arch: str, steps: int = 40) -> dict:
    """Median ms of one AdamW step (the cpu profile's settings) over ``arch``'s parameters as a loop,
    foreach and fused, with the same random gradients; and the largest weight difference of foreach
    and fused from the loop after ``steps`` steps."""
    cfg = profiles.get("cpu", arch, "fmnist")
    out, weights = {}, {}
    for kind, kw in (("loop", {"foreach": False}), ("foreach", {"foreach": True}), ("fused", {"fused": True})):
        torch.manual_seed(0)
        model = runstore.build_model(cfg)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, betas=(cfg.train.momentum, 0.999),
                                weight_decay=cfg.train.weight_decay, **kw)
        g = torch.Generator().manual_seed(1)
        grads = [[torch.randn(p.shape, generator=g) for p in model.parameters()] for _ in range(5)]
        times = []
        for i in range(steps):
            for p, grad in zip(model.parameters(), grads[i % 5]):
                p.grad = grad.clone()
            t0 = time.perf_counter()
            opt.step()
            times.append(time.perf_counter() - t0)
        out[f"{kind}_ms"] = 1e3 * statistics.median(times)
        weights[kind] = [p.detach().clone() for p in model.parameters()]
    for kind in ("foreach", "fused"):
        out[f"{kind}_max_abs_diff"] = max(float((a - b).abs().max()) for a, b in zip(weights["loop"], weights[kind]))
    out["tensors"] = len(weights["loop"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=640, help="training images timed per reading")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "bench_results" / "optimizer_masks.json"))
    a = ap.parse_args()
    host = machine.describe()
    precisions = (False, True) if host.get("native_bf16") else (False,)
    results = {}
    for arch in ("vgg16", "resnet19"):
        step = results.setdefault(arch, {})["adamw_step"] = adamw_step_ms(arch)
        print(f"{arch:9s} one AdamW step: loop {step['loop_ms']:.2f} ms, foreach {step['foreach_ms']:.2f} ms "
              f"(max diff {step['foreach_max_abs_diff']:.1e}), fused {step['fused_ms']:.2f} ms "
              f"(max diff {step['fused_max_abs_diff']:.1e})", flush=True)
        for amp in precisions:
            runs: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(a.rounds):
                for foreach in (False, True):
                    training.FOREACH = foreach
                    runs[foreach].append(end_to_end(arch, a.images, amp)[0])
            training.FOREACH = True
            loop, batched = statistics.median(runs[False]), statistics.median(runs[True])
            results[arch]["bf16" if amp else "fp32"] = {
                "loop_images_per_s": loop, "foreach_images_per_s": batched, "speedup": batched / loop,
                "readings": {"loop": runs[False], "foreach": runs[True]}}
            print(f"{arch:9s} {'bf16' if amp else 'fp32'}  loop {loop:6.1f}  foreach {batched:6.1f} images/s "
                  f"({batched / loop:.3f}x)", flush=True)
    io.save_json({"what": "end-to-end training images/s (bench_train.end_to_end: training.fit, cpu profile, "
                          "90 %-sparse masks) with the optimizer's and the masks' per-parameter loop "
                          "(training.FOREACH = False) and with one multi-tensor op per kind (True); medians "
                          "of alternate readings; adamw_step: one optimizer step alone, ms",
                  "images": a.images, "rounds": a.rounds, "results": results,
                  "machine": {**host, "loadavg": os.getloadavg()}}, Path(a.out))


if __name__ == "__main__":
    main()
