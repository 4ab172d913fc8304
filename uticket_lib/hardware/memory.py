"""Memory traffic and system energy (paper Sec. III-B1 formats, Fig. 9). No public code counts this.

Formats (Sec. III-B1): weights in WSP form = one R*S-bit bitmask per (filter, input channel) plus
16 bits per non-zero weight; spikes in CSR per channel map = per non-zero activation (an activation
is a position's T-bit spike train; all-zero ones are dropped) T value bits + ceil(log2 W) column
bits, plus H + 1 row pointers of ceil(log2(H*W + 1)) bits. Dense: 16 bits per weight, T bits per
activation. The encoder's input (analog image) is read dense, 16 bits per pixel; the classifier
writes 16-bit logits per timestep.
Traffic per layer, in 16-bit words: DRAM = weights + inputs read once, outputs written once;
global buffer (GLB) = weights once + inputs once per filter block (inputs are re-broadcast to every
block); scratchpad = the layer's WSP weights written once. Scratchpad reads are one per work cycle
and are charged inside the PE energy (energy.py), not here.
"""
from __future__ import annotations

from math import ceil, log2

import torch

from .energy import Constant
from .geometry import Layer
from .workload import filter_loads

WORD_BITS = 16
_EY = "SATA_Sim per-16-bit-word energies following Eyeriss's ratios (notes Sec. 4)"
DRAM_PJ = Constant(55.58, "pJ/16-bit word", _EY + ": 200 x a 16-bit MAC of 0.2779 pJ")
GLB_PJ = Constant(1.95, "pJ/16-bit word", _EY)
SPAD_PJ = Constant(0.2779, "pJ/16-bit word", _EY)
SPAD_BITS = Constant(1024 * 16, "bits/PE", "paper Sec. III-B1: 1024 x 16-bit SRAM scratchpad per PE")


def active_fraction(sparsity: float, timesteps: int) -> float:
    """Expected share of activations with at least one spike: 1 - S**T (independent bits, an assumption)."""
    return 1.0 - sparsity ** timesteps


def _csr_bits(maps: int, h: int, w: int, timesteps: int, active: float) -> float:
    """Bits of ``maps`` CSR feature maps of h x w activations with an ``active`` share of non-zeros."""
    nz = active * maps * h * w
    col_bits = ceil(log2(w)) if w > 1 else 0
    return nz * (timesteps + col_bits) + maps * (h + 1) * ceil(log2(h * w + 1))


def weights(mask: torch.Tensor, layer: Layer, weight_bits: int = WORD_BITS) -> dict:
    """Dense vs WSP weight bits and the scratchpad check (does every filter's WSP form fit one PE?).

    ``weight_bits`` b: each stored value takes b bits (dense: every weight; WSP: every non-zero),
    packed into the 16-bit words the traffic is counted in. A b-bit value is the signed level index
    round(n clip(w/a)) in two's complement; ternary (b = 2) is stored as 2-bit codes {-1, 0, +1}
    (a 1-bit sign would do, since the WSP bitmask already marks the non-zeros, but is not assumed).
    The per-layer scale c (one 16-bit word per layer) is neglected.
    """
    per_filter_nnz = filter_loads(mask)                                                  # [K]
    per_filter = layer.n_weights // layer.out_channels + weight_bits * per_filter_nnz    # [K] bits
    return {"dense_bits": layer.n_weights * weight_bits, "wsp_bits": int(per_filter.sum()),
            "spad_max_filter_bits": int(per_filter.max()),
            "spad_overflow_filters": int((per_filter > SPAD_BITS.value).sum()),
            "spad_fits": bool((per_filter <= SPAD_BITS.value).all())}


def layer_memory(mask: torch.Tensor, layer: Layer, n_pe: int, timesteps: int,
                 in_active: float, out_active: float, in_steps: int | None = None,
                 weight_bits: int = WORD_BITS) -> dict:
    """Traffic of one layer in 16-bit words (sparse and dense) and its energy in pJ.

    in_steps: value bits per input activation (default T; a time plan passes T_l x bit-planes of
    the layer's adapted input; outputs are written as T_l binary steps).
    in_active / out_active: share of input / output activations with at least one spike
    (measured from recorded inputs, or ``active_fraction`` of a spike sparsity).
    """
    wb = weights(mask, layer, weight_bits)
    (H, W), (Ho, Wo) = layer.in_hw, layer.out_hw
    C, K, T = layer.in_channels, layer.out_channels, timesteps
    if layer.role == "encoder":
        in_bits = in_dense = C * H * W * WORD_BITS
    else:
        Ti = T if in_steps is None else in_steps
        in_bits, in_dense = _csr_bits(C, H, W, Ti, in_active), C * H * W * Ti
    if layer.role == "classifier":
        out_bits = out_dense = K * T * WORD_BITS
    else:
        out_bits, out_dense = _csr_bits(K, Ho, Wo, T, out_active), K * Ho * Wo * T
    blocks = -(-K // n_pe)
    w = lambda bits: bits / WORD_BITS                                  # noqa: E731  bits -> words
    out = {**wb, "input_bits": in_bits, "input_dense_bits": in_dense, "output_bits": out_bits,
           "output_dense_bits": out_dense,
           "dram_words": w(wb["wsp_bits"] + in_bits + out_bits),
           "dram_words_dense": w(wb["dense_bits"] + in_dense + out_dense),
           "glb_words": w(wb["wsp_bits"] + blocks * in_bits),
           "glb_words_dense": w(wb["dense_bits"] + blocks * in_dense),
           "spad_words": w(wb["wsp_bits"])}
    out.update(energy(out))
    return out


def energy(m: dict) -> dict:
    """pJ of DRAM, GLB and scratchpad traffic from a dict with dram_words / glb_words / spad_words."""
    return {"dram_pj": m["dram_words"] * DRAM_PJ.value, "glb_pj": m["glb_words"] * GLB_PJ.value,
            "spad_pj": m["spad_words"] * SPAD_PJ.value}


def system(layer_mems: list[dict], pe_pj: float) -> dict:
    """Network totals, accesses normalised to dense (Fig. 9a) and the PE share of energy (Fig. 9b)."""
    keys = ("dense_bits", "wsp_bits", "input_bits", "input_dense_bits", "output_bits", "output_dense_bits",
            "dram_words", "dram_words_dense", "glb_words", "glb_words_dense", "spad_words",
            "dram_pj", "glb_pj", "spad_pj", "spad_overflow_filters")
    tot = {k: sum(m[k] for m in layer_mems) for k in keys}
    total = tot["dram_pj"] + tot["glb_pj"] + tot["spad_pj"] + pe_pj
    return {**tot, "spad_fits": all(m["spad_fits"] for m in layer_mems),
            "dram_norm": tot["dram_words"] / max(tot["dram_words_dense"], 1e-300),
            "glb_norm": tot["glb_words"] / max(tot["glb_words_dense"], 1e-300),
            "pe_pj": pe_pj, "total_pj": total, "pe_share": pe_pj / total if total > 0 else 0.0}
