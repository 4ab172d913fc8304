"""Training throughput (images/s) with the weight quantizer attached (QAT) against float training,
for our spiking VGG-16 / ResNet-19 at the cpu-profile width, on this machine.

    .venv/bin/python ci/bench_quant.py [--width 0.25] [--batch 64] [--steps 6] [--bits 2]

Writes ci/bench_results/quant.json. Target (issue 11): QAT within 20 % of float training.
Float and quantized steps alternate so that load on a shared machine hits both alike.
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time

import torch

from uticket_lib import io, machine, models, profiles, quant
from uticket_lib.training import spike_loss


def _step(model, opt, x, y) -> float:
    t0 = time.perf_counter()
    loss = spike_loss(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def compare(arch: str, width: float, batch: int, steps: int, bits: int) -> dict:
    """Median images/s of float and QAT training steps (forward + backward + SGD), interleaved."""
    torch.manual_seed(0)
    nets = {"float": models.build(arch, in_channels=1, width=width),
            "qat": quant.attach(models.build(arch, in_channels=1, width=width), bits)}
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for k, m in nets.items()}
    x, y = torch.rand(batch, 1, 32, 32), torch.randint(0, 10, (batch,))
    times = {k: [] for k in nets}
    for i in range(steps + 2):
        for k in nets:
            t = _step(nets[k], opts[k], x, y)
            if i >= 2:  # two warm-up steps
                times[k].append(t)
    ips = {k: batch / statistics.median(v) for k, v in times.items()}
    return {"float_images_per_s": ips["float"], "qat_images_per_s": ips["qat"],
            "qat_over_float": ips["qat"] / ips["float"], "within_20pct": ips["qat"] >= 0.8 * ips["float"]}


def main() -> None:
    cpu = profiles.get("cpu")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=float, default=cpu.model.width)
    ap.add_argument("--batch", type=int, default=cpu.train.batch_size)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--bits", type=int, default=2)
    ap.add_argument("--archs", default="vgg16,resnet19")
    args = ap.parse_args()
    results = {a: compare(a, args.width, args.batch, args.steps, args.bits) for a in args.archs.split(",")}
    for a, r in results.items():
        print(f"{a}: float {r['float_images_per_s']:.1f} img/s, QAT {r['qat_images_per_s']:.1f} img/s "
              f"({r['qat_over_float']:.2f}x)")
    io.save_json({"what": f"training images/s, float vs {args.bits}-bit QAT (forward + backward + SGD step), "
                          "T=4, 32x32, 1 channel", "width": args.width, "batch": args.batch,
                  "steps": args.steps, "bits": args.bits, "results": results,
                  "machine": machine.describe(),
                  "date": datetime.date.today().isoformat()},
                 os.path.join(os.path.dirname(__file__), "bench_results", "quant.json"))


if __name__ == "__main__":
    main()
