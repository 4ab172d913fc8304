"""What a pruned level starts from: the rewind point, by the paper's rule or the released code's.

``start_state`` combines the rewind state with the previous level's trained state
(``prune.released_rewind``); ``level_start_state`` reads both from a run directory.
"""
from __future__ import annotations

from pathlib import Path

from . import paths
from .config import RunConfig
from .runstore import load_state


BN_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def start_state(rewind: dict, trained_prev: dict, level: int, released: bool) -> dict:
    """State level ``level`` >= 1 starts from (before masking), from the rewind point ``rewind``
    and the previous level's trained state ``trained_prev``.

    Paper: everything rewound. ``released`` (the released ``original_initialization``): every
    weight (conv, linear, BN) rewound; every bias (conv, linear, BN) set to the rewind state's
    tensor *itself*, so training updates the stored rewind state in place: level 1 starts from the
    rewind-point biases, level k >= 2 from the biases trained in level k-1. BN running statistics
    are buffers the code never touches: every level starts from the previous level's.
    """
    state = {k: v.clone() for k, v in rewind.items()}
    if released:
        for k, v in trained_prev.items():
            if k.rsplit(".", 1)[-1] in BN_BUFFERS or (k.endswith("bias") and level >= 2):
                state[k] = v.clone()
    return state


def level_start_state(run: Path, cfg: RunConfig, level: int) -> dict:
    """``start_state`` of level ``level`` read from the run directory."""
    trained = (load_state(paths.checkpoint_path(paths.level_dir(run, level - 1)))["model"]
               if cfg.prune.released_rewind else {})
    return start_state(load_state(paths.rewind_path(run)), trained, level, cfg.prune.released_rewind)
