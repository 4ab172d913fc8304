"""Weight quantization (seed 002's learned-clip uniform quantizer) for the spiking networks. Torch only.

Models, data, pruning and hardware know nothing of this package: ``attach`` changes how a model's
``nn.Conv2d`` / ``nn.Linear`` layers compute (they use Q(weight)) without renaming any parameter,
so mask files keep working; ``effective_masks`` hands the hardware model plain 0/1 masks.
"""
from .quantizer import (QuantError, Quantizer, attach, detach, effective_masks, levels, qparams,
                        quantize, quantized_weights, quantizers, zero_share)
from .rebalance import nearest_nonzero, rebalance, rebalance_weights



def level_stats(model, masks, quant) -> dict:
    """What a quantized level's metrics record: ``quant``'s bits, mode, layers and init (a
    ``config.QuantConfig``), every layer's quantizer parameters, the share of surviving weights
    quantized to zero and the effective mask's sparsity and non-zero count (``effective_masks``)."""
    qp = qparams(model)
    weights = {n: p.detach().cpu() for n, p in model.named_parameters() if n in masks}
    eff = effective_masks(weights, {n: m.cpu() for n, m in masks.items()}, qp)
    total = sum(m.numel() for m in eff.values())
    kept = int(sum(int(m.sum()) for m in eff.values()))
    return {"bits": quant.bits, "mode": quant.mode, "layers": quant.layers, "init": quant.init,
            "qparams": qp, "zero_share": zero_share(weights, qp),
            "effective_sparsity": 1.0 - kept / total, "effective_nonzero_weights": kept}


__all__ = ["QuantError", "level_stats", "Quantizer", "attach", "detach", "effective_masks", "levels", "qparams",
           "quantize", "quantized_weights", "quantizers", "zero_share", "nearest_nonzero",
           "rebalance", "rebalance_weights"]
