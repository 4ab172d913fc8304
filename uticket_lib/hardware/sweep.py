"""PE counts of the paper's Table III sweep (``analysis.hwframes.pe_sweep_masks`` runs the sweep)."""
from __future__ import annotations

PAPER_N_PE = (2, 4, 8, 16, 32, 64)
