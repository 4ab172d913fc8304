"""Every artifact path, one short function each. Nothing else builds paths."""
from __future__ import annotations

import os
from pathlib import Path


def runs_root() -> Path:
    """$UTICKET_RUNS, else ./runs under the working directory."""
    return Path(os.environ.get("UTICKET_RUNS", "runs")).resolve()


def _root(root: Path | str | None) -> Path:
    return Path(root) if root else runs_root()


def run_dir(name: str, hash_: str, root: Path | str | None = None) -> Path:
    return _root(root) / f"{name}_{hash_}"


def dense_dir(dense_hash: str, root: Path | str | None = None) -> Path:
    """Level-0 training shared by every run with the same dense hash (LTH and u-Ticket)."""
    return _root(root) / "dense" / dense_hash


def config_path(run: Path) -> Path:
    return run / "config.json"


def init_path(run: Path) -> Path:
    return run / "init.pt"


def rewind_path(run: Path) -> Path:
    return run / "rewind.pt"


def level_dir(run: Path, level: int) -> Path:
    return run / f"level_{level}"


def mask_path(level: Path) -> Path:
    """Mask the level trained with (after balancing, for u-Ticket)."""
    return level / "mask.pt"


def pruned_mask_path(level: Path) -> Path:
    """Mask straight after magnitude pruning, before balancing (u-Ticket levels only)."""
    return level / "mask_pruned.pt"


def checkpoint_path(level: Path) -> Path:
    return level / "checkpoint.pt"


def metrics_path(level: Path) -> Path:
    return level / "metrics.json"


def manifest_path(level: Path) -> Path:
    """Size and SHA-256 of every artifact of a finished level (``lottery.seal``), written just
    before ``metrics.json``; keys are paths relative to the level's parent (the run directory)."""
    return level / "manifest.json"


def predictions_path(level: Path) -> Path:
    """Per-image correctness of the level's final test evaluation (uint8 [test images], 1 = right,
    in test-set order); written before metrics.json. Older runs may lack it."""
    return level / "predictions.pt"


def partial_path(level: Path) -> Path:
    """Mid-level training state (epoch, model, optimizer, scheduler), removed when the level ends."""
    return level / "partial.pt"


def balance_path(level: Path) -> Path:
    """u-Ticket levels: weights recovered and removed by balancing, sparsity before it."""
    return level / "balance.json"


def search_path(level: Path) -> Path:
    """Level 0 with ``prune.search_timesteps``: the search T (and the early-time KLs)."""
    return level / "search.json"


def validation_path(run: Path) -> Path:
    """With ``data.val_split``: the validation split's seed, size and indices."""
    return run / "validation.json"


def quant_dir(level: Path, quant_hash: str) -> Path:
    """``level_k/quant_<hash>/``: one level of a float run quantized and fine-tuned."""
    return level / f"quant_{quant_hash}"


def hardware_dir(level: Path, hw_hash: str) -> Path:
    return level / f"hw_{hw_hash}"


def timeplan_dir(level: Path, search_hash: str) -> Path:
    """``level_k/timeplan_<hash>/``: one time-plan search (timeplan.py) of a level's ticket."""
    return level / f"timeplan_{search_hash}"


def data_root(explicit: str | None = None) -> Path:
    """Data root: explicit argument, else $UTICKET_DATA, else ~/.cache/uticket/data."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("UTICKET_DATA"):
        return Path(os.environ["UTICKET_DATA"]).expanduser()
    return default_data_root()


def default_data_root() -> Path:
    """Where data goes when no root is chosen: ~/.cache/uticket/data."""
    return Path.home() / ".cache" / "uticket" / "data"


FMNIST_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
