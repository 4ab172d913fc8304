"""Benchmark the accelerator model on full-width VGG-16 and ResNet-19 (synthetic masks).

Layer lists are built from the architectures' shapes here (no uticket_lib.models import). Masks:
global magnitude pruning of untrained fan-in-scaled normal weights (N(0, 1/fan_in), Kaiming-style)
to 1 - 0.75**14 = 98.22 % sparsity over all conv + linear weights (IMP's final sparsity; untrained
weights, so the masks are better balanced than trained ones). With PyTorch's default uniform init
instead, the 512-channel layers are pruned to nothing and VGG-16's Work is 1.97e8.
Writes ci/bench_results/hardware.json. Run:
    PYTHONPATH=. .venv/bin/python ci/bench_hardware.py
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import torch

from uticket_lib.hardware import Layer, layer_workload, report
from uticket_lib.analysis.masks import synthetic_masks
from uticket_lib import machine
from uticket_lib.io import save_json

SPARSITY = 1 - 0.75 ** 14
REPEATS = 7


def conv(name, cin, cout, hw, k=3, stride=1, role="conv") -> Layer:
    pad = k // 2
    out = (hw + 2 * pad - k) // stride + 1
    return Layer(name, "conv", cout, cin, (k, k), (stride, stride), (pad, pad), (hw, hw), (out, out), role)


def vgg16(in_ch=3, classes=10) -> list[Layer]:
    plan = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, c, hw, i = [], in_ch, 32, 0
    for v in plan:
        if v == "M":
            hw //= 2
        else:
            layers.append(conv(f"features.{i}.weight", c, v, hw, role="encoder" if not layers else "conv"))
            c = v
        i += 1
    return layers + [Layer("classifier.weight", "linear", classes, 512, role="classifier")]


def resnet19(in_ch=3, classes=10) -> list[Layer]:
    layers, c, hw = [conv("stem.weight", in_ch, 64, 32, role="encoder")], 64, 32
    for s, (width, blocks) in enumerate(zip((128, 256, 512), (3, 3, 2))):
        for b in range(blocks):
            stride = 2 if b == 0 else 1
            p = f"layer{s + 1}.{b}"
            layers.append(conv(f"{p}.conv1.weight", c, width, hw, stride=stride))
            layers.append(conv(f"{p}.conv2.weight", width, width, hw // stride))
            if b == 0:
                layers.append(conv(f"{p}.shortcut.weight", c, width, hw, k=1, stride=stride, role="shortcut"))
            c, hw = width, hw // stride
    return layers + [Layer("fc1.weight", "linear", 256, 512, role="linear"),
                     Layer("fc2.weight", "linear", classes, 256, role="classifier")]


MINS: dict[str, float] = {}


def timed(fn, repeats=REPEATS, key=None) -> tuple[float, object]:
    """Median wall time after one warm-up call (the minimum is kept in MINS[key]: shared CPUs are noisy)."""
    out = fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    if key:
        MINS[key] = min(times)
    return statistics.median(times), out


def bench(arch: str, layers: list[Layer], spike_sparsity=0.848) -> dict:
    masks = synthetic_masks(layers, SPARSITY)
    cov = [l for l in layers if l.kind == "conv" and l.role != "encoder"]
    t_wl, _ = timed(lambda: [layer_workload(masks[l.name], 16) for l in cov], key=f"{arch}.workload")
    res = {"n_weights": sum(l.n_weights for l in layers), "n_layers": len(layers), "n_covered": len(cov),
           "weight_sparsity": 1 - sum(float(m.sum()) for m in masks.values()) / sum(l.n_weights for l in layers),
           "workload_s": t_wl}
    for mode in ("output", "valid"):
        t, r = timed(lambda: report(masks, layers, n_pe=16, mode=mode, timesteps=4, spike_sparsity=spike_sparsity),
                     key=f"{arch}.{mode}")
        net = r["network"]
        res[mode] = {"report_s": t, "work": net["work"], "idle": net["idle"], "latency": net["latency"],
                     "utilization": net["utilization"], "utilization_mean": net["utilization_mean"],
                     "energy_E_d": net["energy"], "pe_share": net["memory"]["pe_share"]}
    t, r = timed(lambda: report(masks, layers, n_pe=16, reorder="sorted", spike_sparsity=spike_sparsity,
                                memory=False), repeats=3)
    res["output_sorted"] = {"report_s": t, "latency": r["network"]["latency"], "idle": r["network"]["idle"]}
    g = torch.Generator().manual_seed(1)                      # synthetic spikes, one image, 15 % density
    inputs = {l.name: (torch.rand(4, 1, l.in_channels, *l.in_hw, generator=g) < 1 - spike_sparsity)
              for l in layers if l.kind == "conv" and l.role != "encoder"}
    for mode in ("events", "ticks"):
        t, r = timed(lambda: report(masks, layers, n_pe=16, mode=mode, inputs=inputs, memory=False), repeats=3)
        res[mode] = {"report_s": t, "work": r["network"]["work"], "latency": r["network"]["latency"],
                     "utilization": r["network"]["utilization"], "batch": 1}
    return res


def main() -> int:
    # One intra-op thread by default: on a shared 2-core box two threads spin against other jobs
    # and the medians swing 10-30x; BENCH_THREADS overrides.
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    out = {"machine": {**machine.describe(), "python": sys.version.split()[0]},
           "settings": {"n_pe": 16, "timesteps": 4, "sparsity": SPARSITY, "repeats": REPEATS,
                        "masks": "global magnitude pruning of N(0, 1/fan_in) weights",
                        "spike_sparsity": 0.848, "timing": "median after one warm-up"},
           "vgg16": bench("vgg16", vgg16()), "resnet19": bench("resnet19", resnet19())}
    out["min_s"] = dict(MINS)
    v = out["vgg16"]["output"]
    print(f"VGG-16 synthetic {SPARSITY:.2%} sparse, output mode, T=4, 16 PEs: "
          f"Work = {v['work']:.3g} (notes ~1.25e8, paper 1.34e8), idle = {v['idle']:.3g}, "
          f"latency = {v['latency']:.3g}, utilization = {v['utilization']:.3f}")
    for a in ("vgg16", "resnet19"):
        r = out[a]
        print(f"{a}: workload {r['workload_s'] * 1e3:.1f} ms (min {MINS[a + '.workload'] * 1e3:.1f}), "
              f"report output {r['output']['report_s'] * 1e3:.1f} ms (min {MINS[a + '.output'] * 1e3:.1f}), "
              f"valid {r['valid']['report_s'] * 1e3:.1f} ms, events {r['events']['report_s']:.2f} s, "
              f"ticks {r['ticks']['report_s']:.2f} s")
    path = save_json(out, Path(__file__).parent / "bench_results" / "hardware.json")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
