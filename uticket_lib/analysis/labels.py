"""Display names of the keys kept in data (``vgg16``, ``lth``, ``fmnist``).

Frames built by ``analysis`` hold keys; ``label`` turns them into display names where a table is
shown, and ``plotting`` uses ``name`` for legends and titles. Keys never come back from labels.
"""
from __future__ import annotations

import pandas as pd

from ..pruning.methods import METHODS

METHOD_LABELS = {k: m.label for k, m in METHODS.items()}   # as registered at import
ARCH_LABELS = {"vgg16": "VGG-16", "resnet19": "ResNet-19"}
DATASET_LABELS = {"fmnist": "FMNIST", "cifar10": "CIFAR10", "svhn": "SVHN"}
LABELS = {**METHOD_LABELS, **ARCH_LABELS, **DATASET_LABELS}
# Display names of the hardware model's constants and energy components (``hwframes.constants_frame``,
# ``presets_frame``, ``breakdown_frame``)
CONSTANT_LABELS = {"clock_hz": "clock frequency", "e_dyn": "E_d", "e_leak": "E_l",
                   "mac_dyn": "MAC, dynamic", "mem_dyn": "scratchpad, dynamic", "lif_dyn": "LIF, dynamic",
                   "mac_leak": "MAC, leakage", "lif_leak": "LIF, leakage", "mem_leak": "scratchpad, leakage",
                   "dram": "DRAM", "glb": "GLB", "spad": "scratchpad", "spad_capacity": "scratchpad capacity"}


def name(key) -> str:
    """The display name of one key (the key itself when it has none); "lth + sorted" -> "LTH + sorted"."""
    if not isinstance(key, str):
        return str(key)
    head, sep, tail = key.partition(" + ")
    if head in METHODS:            # the registry, read now: a method registered later has its label
        return METHODS[head].label + sep + tail
    return LABELS.get(head, head) + sep + tail


def label(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` for display: every arch / method / dataset key in the index and in the
    ``arch``, ``method`` and ``dataset`` columns replaced by its display name."""
    out = frame.copy()
    for col in ("arch", "method", "dataset"):
        if col in out.columns:
            out[col] = out[col].map(name)
    if isinstance(out.index, pd.MultiIndex):
        out.index = out.index.set_levels([lv.map(name) for lv in out.index.levels])
    else:
        out.index = out.index.map(name)
    return out


def constants(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a frame of hardware constants or energy components for display: every key in its
    index (any level) and in a ``source`` column replaced by its name in ``CONSTANT_LABELS``."""
    out = frame.rename(index=CONSTANT_LABELS)
    if "source" in out.columns:
        pattern = r"\b(" + "|".join(sorted(CONSTANT_LABELS, key=len, reverse=True)) + r")\b"
        out["source"] = out["source"].astype(str).str.replace(pattern, lambda m: CONSTANT_LABELS[m.group(1)],
                                                              regex=True)
    return out
