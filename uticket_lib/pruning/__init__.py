"""Masks, magnitude pruning and u-Ticket balancing on dicts of tensors (no model knowledge).

The submodules are `mask`, `magnitude` and `balance`. Their public names are re-exported here,
except the function `balance.balance`: re-exporting it would hide the submodule `balance`
(``from uticket_lib.pruning import balance`` must keep giving the module). Call it as
``pruning.balance.balance(...)`` or ``from uticket_lib.pruning.balance import balance``.
"""
from uticket_lib.pruning import balance, magnitude, mask
from uticket_lib.pruning.balance import REFERENCES, block_targets, default_covered, filter_loads, loads
from uticket_lib.pruning.magnitude import SCOPES, prune
from uticket_lib.pruning.mask import (MaskError, Masks, apply, check, layer_sparsity, load, ones,
                                      prunable, save, sparsity)

__all__ = [
    "MaskError", "Masks", "REFERENCES", "SCOPES", "apply", "balance", "block_targets", "check",
    "default_covered", "filter_loads", "layer_sparsity", "load", "loads", "magnitude", "mask", "ones",
    "prunable", "prune", "save", "sparsity",
]
