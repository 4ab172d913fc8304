"""Compile-time filter reordering: balance PEs without touching the mask (notes Sec. 5).

A layer's filters may be mapped to (block, PE) slots in any order: the output scatter writes each
filter's result to its own channel, so the network computes the same function. Only the schedule
changes; the mask is never modified (functions here only read it).

order="sorted" (block model of workload.py: blocks of n_pe slots in sequence, latency = sum over
blocks of the block maximum). Claim: sorting loads in descending order and cutting consecutive
groups of n_pe minimises the sum of group maxima among all assignments to B = ceil(K / n_pe)
blocks of n_pe slots (padding slots hold load 0).
Proof: write the loads, zero padding included, as l_1 >= l_2 >= ... >= l_{B n}. For any
assignment, sort the block maxima m_1 >= m_2 >= ... >= m_B. The (j-1) n + 1 largest loads cannot
fit into j - 1 blocks of n slots, so at least j blocks contain one of them; hence at least j block
maxima are >= l_{(j-1)n+1}, i.e. m_j >= l_{(j-1)n+1}. Sorted grouping attains m_j = l_{(j-1)n+1} for
every j, so it attains the lower bound sum_j l_{(j-1)n+1}. Idle = n_pe * latency - work falls with it.

order="lpt" (a different hardware model, "grouped": each PE holds a fixed set of about K / n_pe
filters and runs them back to back, one barrier per layer; latency = max over PEs of its total):
longest-processing-time greedy with a cardinality cap of ceil(K / n_pe) filters per PE. A
heuristic for this NP-hard number-partitioning problem (LPT is within 4/3 of optimal without
the cap).
"""
from __future__ import annotations

import torch

from .cycles import filter_cycles, static_mode
from .workload import layer_stats, pe_blocks

ORDERS = ("identity", "sorted")


def permutation(loads: torch.Tensor, order: str = "sorted") -> torch.Tensor:
    """Filter order [K] (int64): slot i of the schedule runs filter perm[i]. Stable for ties."""
    if order == "identity":
        return torch.arange(loads.shape[0])
    if order == "sorted":
        return torch.sort(loads, descending=True, stable=True).indices
    raise ValueError(f"order must be one of {ORDERS}, got {order!r}")


def lpt(loads: torch.Tensor, n_pe: int) -> torch.Tensor:
    """Grouped model: PE index [K] of every filter, LPT with at most ceil(K / n_pe) filters per PE."""
    cap = -(-loads.shape[0] // n_pe)
    total = torch.zeros(n_pe, dtype=torch.float64)
    count = torch.zeros(n_pe, dtype=torch.int64)
    pe = torch.empty(loads.shape[0], dtype=torch.int64)
    for k in torch.sort(loads, descending=True, stable=True).indices.tolist():
        free = torch.where(count < cap, total, torch.full_like(total, float("inf")))
        j = int(free.argmin())
        pe[k], total[j], count[j] = j, total[j] + float(loads[k]), count[j] + 1
    return pe


def grouped_stats(loads: torch.Tensor, pe: torch.Tensor, n_pe: int) -> dict:
    """Grouped model: per-PE totals [n_pe]; work, idle, latency = max total (work + idle = n_pe * latency)."""
    totals = torch.zeros(n_pe, dtype=torch.float64).index_add_(0, pe, loads.double())
    W, L = totals.sum().item(), totals.max().item()
    return {"work": W, "idle": n_pe * L - W, "latency": L, "pe_totals": totals.tolist()}


def grouped_identity(K: int, n_pe: int) -> torch.Tensor:
    """Grouped model without reordering: filter k on PE k mod n_pe (the block order's PE slots)."""
    return torch.arange(K) % n_pe


def static_loads(mask: torch.Tensor, layer, mode: str = "output", timesteps: int = 4):
    """Loads a compiler can know (no spikes): a static mode's own, an event mode's fallback's."""
    return filter_cycles(mask, layer, static_mode(mode), timesteps)


def reorder_layers(masks: dict, layers: list, n_pe: int = 16, order: str = "sorted", mode: str = "output",
            timesteps: int = 4, avg: str = "mean") -> dict:
    """Per layer: the schedule and its workload before / after, in static cycles of ``mode``.

    order "identity" | "sorted": {"perm": int64 [K], "identity": stats, "reordered": stats} (block model).
    order "lpt": {"pe": int64 [K] PE of each filter, "identity": ..., "reordered": ...} (grouped model).
    The masks are only read.
    """
    out = {}
    for l in layers:
        loads, q = static_loads(masks[l.name], l, mode, timesteps)
        if order == "lpt":
            pe = lpt(loads, n_pe)
            out[l.name] = {"pe": pe, "identity": grouped_stats(loads, grouped_identity(len(loads), n_pe), n_pe),
                           "reordered": grouped_stats(loads, pe, n_pe)}
            continue
        perm = permutation(loads, order)
        stats = [layer_stats(b.sum(1), b.amax(1), n_pe, avg, q)
                 for b in (pe_blocks(loads, n_pe).double(), pe_blocks(loads[perm], n_pe).double())]
        out[l.name] = {"perm": perm, "identity": stats[0], "reordered": stats[1]}
    return out
