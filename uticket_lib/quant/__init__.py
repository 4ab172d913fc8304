"""Weight quantization (seed 002's learned-clip uniform quantizer) for the spiking networks. Torch only.

Models, data, pruning and hardware know nothing of this package: ``attach`` changes how a model's
``nn.Conv2d`` / ``nn.Linear`` layers compute (they use Q(weight)) without renaming any parameter,
so mask files keep working; ``effective_masks`` hands the hardware model plain 0/1 masks.
"""
from .quantizer import (QuantError, Quantizer, attach, detach, effective_masks, levels, qparams,
                        quantize, quantized_weights, quantizers, zero_share)
from .rebalance import nearest_nonzero, rebalance, rebalance_weights

__all__ = ["QuantError", "Quantizer", "attach", "detach", "effective_masks", "levels", "qparams",
           "quantize", "quantized_weights", "quantizers", "zero_share", "nearest_nonzero",
           "rebalance", "rebalance_weights"]
