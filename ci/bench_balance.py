"""Benchmark u-Ticket balancing on full-width VGG-16 masks at the paper's final sparsity.

Builds the VGG-16 conv/linear weight shapes (hard-coded: no model code), prunes random normal
(fan-in scaled) weights globally 14 times by 25 % (1 - 0.75^14 = 98.22 % sparse), then times the
vectorised `balance` against the Python-loop reference `balance_released_loop` (loops over blocks
and filters, like the released code), at 1 thread and at torch's default thread count (on a shared
machine, extra OpenMP threads can make many short vectorised ops much slower). Writes
ci/bench_results/balance.json atomically and prints a summary.

    PYTHONPATH=. .venv/bin/python ci/bench_balance.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from uticket_lib import io, machine
from uticket_lib.pruning import loads, ones, prune, sparsity
from uticket_lib.pruning.balance import balance, balance_released_loop

# VGG-16 conv plan [64,64,M,128,128,M,256x3,M,512x3,M,512x3,M] on 3-channel input, then Linear(512, 10)
CONVS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
         (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
ROUNDS, FRACTION, N_PE = 14, 0.25, 16
RESULTS = Path(__file__).parent / "bench_results" / "balance.json"


def vgg16_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random normal weights with VGG-16's prunable shapes, named like its parameters, scaled by
    sqrt(2 / fan_in) as at initialisation (so global pruning spares the small layers, as it does)."""
    gen = torch.Generator().manual_seed(seed)
    shapes = {f"features.{i}.weight": (c_out, c_in, 3, 3) for i, (c_in, c_out) in enumerate(CONVS)}
    shapes["classifier.weight"] = (10, 512)
    return {name: torch.randn(shape, generator=gen) * (2 / math.prod(shape[1:])) ** 0.5
            for name, shape in shapes.items()}


def pruned_masks(weights: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[float]]:
    """14 rounds of global magnitude pruning at 25 %; returns the masks and the seconds of each round."""
    masks, times = ones(weights), []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        masks = prune(weights, masks, FRACTION)
        times.append(time.perf_counter() - start)
    return masks, times


def timed(fn, repeats: int) -> dict[str, object]:
    """Wall and CPU seconds (all threads) of `repeats` calls after one warm-up call, with medians.

    CPU time is the steadier number on a shared machine; wall time is what a user waits.
    """
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return {"median": statistics.median(wall), "cpu_median": statistics.median(cpu),
            "runs": wall, "cpu_runs": cpu}


def utilization(masks: dict[str, torch.Tensor], names: list[str]) -> float:
    """Eq. 2 per block (T_avg = mean load, n = real PEs), averaged over blocks, then layers, unweighted."""
    values = []
    for name in names:
        block_loads, valid = loads(masks[name], N_PE)           # [B, n_pe]
        n = valid.sum(1).double()                               # [B] real PEs
        top = block_loads.max(1).values.double()                # [B] T_max
        avg = block_loads.sum(1) / n                            # [B] T_avg
        values.append((1 - (top - avg) / top.clamp(min=1) * n / (n - 1).clamp(min=1)).mean())
    return float(torch.stack(values).mean())


def timed_per_threads(fn, repeats: int) -> dict[str, dict[str, object]]:
    """`timed` at 1 thread and at torch's default thread count (restored afterwards)."""
    default = torch.get_num_threads()
    out = {}
    try:
        for threads in sorted({1, default}):
            torch.set_num_threads(threads)
            out[str(threads)] = timed(fn, repeats)
    finally:
        torch.set_num_threads(default)
    return out


def measure(repeats: int) -> dict[str, object]:
    """Prune, balance, time both implementations; everything the JSON file holds."""
    masks, prune_s = pruned_masks(vgg16_weights())
    covered = [n for n in masks if n.startswith("features.")][1:]
    balanced = balance(masks, n_pe=N_PE)
    fast = timed_per_threads(lambda: balance(masks, n_pe=N_PE), repeats)
    loop = timed_per_threads(lambda: balance_released_loop(masks, n_pe=N_PE), max(1, repeats // 2))
    return {
        "what": "u-Ticket balance, full-width VGG-16 masks (fan-in scaled normal weights, 14 x 25 % IMP)",
        "n_pe": N_PE, "weights": sum(m.numel() for m in masks.values()),
        "sparsity_pruned": sparsity(masks), "sparsity_balanced": sparsity(balanced),
        "utilization_pruned": utilization(masks, covered),
        "utilization_balanced": utilization(balanced, covered),
        "prune_round_s": {"dense": prune_s[0], "median": statistics.median(prune_s), "runs": prune_s},
        "balance_s_by_threads": fast,
        "loop_reference_s_by_threads": loop,
        "speedup_by_threads": {t: loop[t]["median"] / fast[t]["median"] for t in fast},
        "machine": {**machine.describe(), "torch_default_threads": torch.get_num_threads(),
                    "python": platform.python_version(),
                    "load_average_1min_at_end": os.getloadavg()[0]},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    result = measure(parser.parse_args().repeats)
    io.save_json(result, RESULTS)
    print(f"sparsity {result['sparsity_pruned']:.4f} -> {result['sparsity_balanced']:.4f}; "
          f"utilization {result['utilization_pruned']:.3f} -> {result['utilization_balanced']:.3f}")
    for threads, fast in result["balance_s_by_threads"].items():
        loop = result["loop_reference_s_by_threads"][threads]
        print(f"{threads} thread(s): balance {fast['median'] * 1e3:.1f} ms wall "
              f"({fast['cpu_median'] * 1e3:.1f} ms CPU), loop reference {loop['median'] * 1e3:.0f} ms wall "
              f"({loop['cpu_median'] * 1e3:.0f} ms CPU): {result['speedup_by_threads'][threads]:.1f}x")
    prune_s = result["prune_round_s"]
    print(f"prune: dense round {prune_s['dense'] * 1e3:.0f} ms, "
          f"median round {prune_s['median'] * 1e3:.0f} ms; "
          f"1-min load average {result['machine']['load_average_1min_at_end']:.2f} (high = shared, noisy)")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
