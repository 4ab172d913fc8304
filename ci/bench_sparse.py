"""Do sparse kernels pay for the late levels on CPU? One conv layer of the cpu-width VGG-16.

    .venv/bin/python ci/bench_sparse.py [--out ci/bench_results/sparse.json]

Layer: VGG-16's 4th conv at width 0.25 (32 -> 32 channels, 3x3, 16x16 map) on a batch of
64 images x T = 4 = 256 maps, the cpu profile's step. For weight sparsity 0, 90, 95, 98 %:

- dense: ``F.conv2d`` forward, then autograd backward (input and weight gradients) with the masked
  weight -- what training does today;
- sparse: the weight as a CSR matrix [C_out, C_in x 9]; forward = ``unfold`` + ``torch.sparse.mm``;
  input gradient = CSR transpose x grad columns + ``fold``; weight gradient only at the kept
  weights = ``torch.sparse.sampled_addmm`` (CSR). These are the sparse kernels PyTorch offers on CPU.

Times are medians of a few repeats (seconds per layer call, forward + both gradients).
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time

import torch
import torch.nn.functional as F

from uticket_lib import machine

N, C, H, K = 256, 32, 16, 3


def timed(fn, reps: int = 5) -> float:
    fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "bench_results", "sparse.json"))
    args = ap.parse_args()
    torch.manual_seed(0)
    x = (torch.rand(N, C, H, H) < 0.2).float()          # spikes (~20 % firing)
    g = torch.randn(N, C, H, H)                          # upstream gradient
    rows = []
    for sparsity in (0.0, 0.9, 0.95, 0.98):
        w = torch.randn(C, C, K, K) * (torch.rand(C, C, K, K) >= sparsity)

        def dense():
            xi = x.clone().requires_grad_(True)
            wi = w.clone().requires_grad_(True)
            F.conv2d(xi, wi, padding=1).backward(g)

        wc = w.reshape(C, -1).to_sparse_csr()
        wct = w.reshape(C, -1).t().contiguous().to_sparse_csr()

        def sparse():
            cols = F.unfold(x, K, padding=1)                                  # [N, C*9, H*W]
            cols2 = cols.transpose(0, 1).reshape(C * K * K, -1)               # [C*9, N*H*W]
            torch.sparse.mm(wc, cols2)                                        # forward  [C, N*H*W]
            g2 = g.transpose(0, 1).reshape(C, -1)                             # [C, N*H*W]
            gcols = torch.sparse.mm(wct, g2)                                  # [C*9, N*H*W]
            F.fold(gcols.reshape(C * K * K, N, H * H).transpose(0, 1), (H, H), K, padding=1)
            torch.sparse.sampled_addmm(wc, g2, cols2.t(), beta=0.0)           # dW at kept weights

        row = {"sparsity": sparsity, "dense_s": timed(dense)}
        if sparsity > 0:
            row["sparse_s"] = timed(sparse)
            row["sparse_speedup"] = row["dense_s"] / row["sparse_s"]
        rows.append(row)
        print(row, flush=True)
    io_path = args.out
    os.makedirs(os.path.dirname(io_path), exist_ok=True)
    import json
    with open(io_path + ".tmp", "w") as f:
        json.dump({"what": __doc__.split("\n\n")[0], "layer": {"batch_maps": N, "channels": C,
                   "map": H, "kernel": K}, "rows": rows, "machine": machine.describe(),
                   "loadavg": os.getloadavg(), "date": datetime.date.today().isoformat()}, f, indent=2)
    os.replace(io_path + ".tmp", io_path)


if __name__ == "__main__":
    main()
