"""PE-count sweep (paper Table III): latency and energy normalised to the first PE count."""
from __future__ import annotations

from .report import report

PAPER_N_PE = (2, 4, 8, 16, 32, 64)


def sweep(masks: dict, layers: list, n_pes=PAPER_N_PE, **kwargs) -> dict:
    """report() at every n_pe in ``n_pes`` (other options passed through, memory off).

    Returns lists aligned with n_pe: latency (cycles), energy (the preset's unit), utilization,
    idle, and latency_norm / energy_norm relative to n_pes[0] (Table III normalises to 2 PEs).
    """
    kwargs.setdefault("memory", False)
    nets = [report(masks, layers, n_pe=n, **kwargs)["network"] for n in n_pes]
    out = {"n_pe": list(n_pes)}
    for k in ("latency", "energy", "utilization", "idle", "work"):
        out[k] = [n[k] for n in nets]
    for k in ("latency", "energy"):
        out[f"{k}_norm"] = [v / out[k][0] if out[k][0] else float("nan") for v in out[k]]
    return out
