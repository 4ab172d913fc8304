"""PE workload and utilization (paper Sec. II-C, Eq. 2).

Mapping ("sata" grouping, the paper's and the released code's): a layer's K output filters are cut
into B = ceil(K / n_pe) consecutive blocks of n_pe filters; PE j of block b holds filter b*n_pe + j.
Blocks run one after another and all PEs of a block wait for the slowest (a barrier, no FIFOs).
A last, partial block is padded with empty PEs (load 0): they are idle for the whole block.

Per block, with per-PE loads l_j (in cycles or in non-zero weights):
    work = sum_j l_j,  latency = max_j l_j,  idle = sum_j (latency - l_j)   (all n_pe PEs)
so work + idle = n_pe * latency holds per block, per layer and per network, by construction.
Eq. 2:  mu = 1 - (T_max - T_avg) / T_max * n / (n - 1),  T_max = latency, n = n_pe.
    T_avg = work / n_pe (avg="mean", the paper) or ceil of it (avg="ceil", the released code).
    The mean runs over all n_pe PEs, padding PEs included; then mu = 1 - idle / ((n-1) * latency),
    i.e. mu is the busy share of the n-1 PEs other than the slowest one.
    mu := 1 for an empty block (latency 0) and for n_pe = 1 (no PE can wait for another).
"""
from __future__ import annotations

import torch

AVGS = ("mean", "ceil")
WEIGHTINGS = ("params", "mean", "nnz")


def filter_loads(mask: torch.Tensor) -> torch.Tensor:
    """Non-zero weights per output filter: 0/1 mask [K, ...] -> int64 [K].

    Sums the mask (exact in float32 below 2**24 weights per filter): 0/1 values are the contract,
    checked by ``geometry.check_masks``; a plain sum is ~30x faster than counting ``mask != 0``.
    """
    m = mask.reshape(mask.shape[0], -1)
    low = m.is_floating_point() and m.dtype not in (torch.float32, torch.float64)   # fp16/bf16: sum in fp32
    return (m.sum(1, dtype=torch.float32) if low else m.sum(1)).long()


def pe_blocks(loads: torch.Tensor, n_pe: int) -> torch.Tensor:
    """Per-filter loads [K] -> [B, n_pe], B = ceil(K / n_pe), the last block zero-padded."""
    if n_pe < 1:
        raise ValueError(f"n_pe must be >= 1, got {n_pe}")
    pad = (-loads.shape[0]) % n_pe
    return torch.cat([loads, loads.new_zeros(pad)]).reshape(-1, n_pe)


def utilization(work: torch.Tensor, latency: torch.Tensor, n_pe: int, avg: str = "mean",
                quantum: float = 1.0) -> torch.Tensor:
    """Eq. 2 per block from block work [B] and latency [B] (same units) -> float64 [B].

    ``quantum``: the unit ``avg="ceil"`` rounds up to (cycles per non-zero weight in "output"
    mode, so that ceil acts on weight counts as in the released code; 1 otherwise).
    """
    if avg not in AVGS:
        raise ValueError(f"avg must be one of {AVGS}, got {avg!r}")
    work, latency = work.double(), latency.double()
    mean = work / n_pe
    t_avg = mean if avg == "mean" else torch.ceil(mean / quantum) * quantum
    if n_pe == 1:
        return torch.ones_like(work)
    mu = 1 - (latency - t_avg) / latency.clamp_min(1e-300) * n_pe / (n_pe - 1)
    return torch.where(latency > 0, mu, torch.ones_like(mu))


def layer_stats(work: torch.Tensor, latency: torch.Tensor, n_pe: int, avg: str = "mean",
                quantum: float = 1.0) -> dict:
    """Block work [B], latency [B] -> layer totals (python numbers).

    utilization: Eq. 2 per block, plain mean over blocks (the paper's layer utilization).
    busy_fraction: work / (n_pe * latency), the latency-weighted mean over blocks of each block's
    busy share work_b / (n_pe * latency_b); 1 for an empty layer.
    """
    W, L = work.sum().item(), latency.sum().item()
    mu = utilization(work, latency, n_pe, avg, quantum)
    return {"work": W, "idle": n_pe * L - W, "latency": L, "utilization": mu.mean().item(),
            "busy_fraction": W / (n_pe * L) if L > 0 else 1.0, "n_blocks": int(work.shape[0])}


def layer_workload(mask: torch.Tensor, n_pe: int = 16, avg: str = "mean") -> dict:
    """Eq. 2 on non-zero weight counts (the paper's 'workload', no cycle scaling)."""
    blocks = pe_blocks(filter_loads(mask), n_pe)                     # [B, n_pe]
    return layer_stats(blocks.sum(1), blocks.amax(1), n_pe, avg)


def network_stats(stats: list[dict], n_weights: list[float], nnz: list[float] | None = None,
                  weighting: str = "params") -> dict:
    """Sum work / idle / latency over layers; network utilization by ``weighting``.

    "params": mean weighted by each layer's dense weight count (the paper, Sec. IV-B2);
    "mean": plain mean of layer utilizations (the released code); "nnz": weighted by non-zeros.
    Both "params" and "mean" are always returned as utilization_params / utilization_mean.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if not stats:
        return {"work": 0, "idle": 0, "latency": 0, "utilization": 1.0, "utilization_params": 1.0,
                "utilization_mean": 1.0, "busy_fraction": 1.0}
    mu = torch.tensor([s["utilization"] for s in stats], dtype=torch.float64)
    wp = torch.tensor(n_weights, dtype=torch.float64)
    by = {"params": (mu * wp).sum() / wp.sum(), "mean": mu.mean()}
    if weighting == "nnz":
        wn = torch.tensor(nnz, dtype=torch.float64)
        by["nnz"] = (mu * wn).sum() / wn.sum() if wn.sum() > 0 else mu.mean()
    W = sum(s["work"] for s in stats)
    I = sum(s["idle"] for s in stats)
    return {"work": W, "idle": I, "latency": sum(s["latency"] for s in stats),
            "utilization": by[weighting].item(), "utilization_params": by["params"].item(),
            "utilization_mean": by["mean"].item(), "busy_fraction": W / (W + I) if W + I > 0 else 1.0}
