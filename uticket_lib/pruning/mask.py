"""Pruning masks: dicts of 0/1 float32 tensors keyed by parameter name.

A mask has the shape of its parameter; 1 keeps a weight, 0 prunes it. Functions here accept
float or bool masks and return float32. Files store masks as bool (1 byte per entry) and load back
as float32, validated against a reference when one is given.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from uticket_lib import io

Masks = dict[str, Tensor]

_SHOWN = 3  # names listed in an error message before "..."


class MaskError(ValueError):
    """A mask (file) is missing, unreadable, or does not fit the model it is meant for."""


def ones(named: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]) -> Masks:
    """All-ones float32 masks with the shape (and device) of every named tensor."""
    items = named.items() if isinstance(named, Mapping) else named
    return {name: torch.ones_like(t, dtype=torch.float32) for name, t in items}


def prunable(model: nn.Module) -> OrderedDict[str, Tensor]:
    """The `.weight` of every nn.Conv2d and nn.Linear, in `model.named_modules()` order."""
    return OrderedDict(
        (f"{name}.weight" if name else "weight", module.weight)
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear))
    )


@torch.no_grad()
def apply(model: nn.Module, masks: Mapping[str, Tensor]) -> nn.Module:
    """Multiply every masked parameter of `model` by its mask, in place. Returns `model`."""
    params = dict(model.named_parameters())
    check(masks, {name: p.shape for name, p in params.items() if name in masks}, "masks")
    for name, m in masks.items():
        params[name].mul_(m.to(device=params[name].device, dtype=params[name].dtype))
    return model


def sparsity(masks: Mapping[str, Tensor]) -> float:
    """Fraction of zero entries over all masks together."""
    if not masks:
        raise MaskError("sparsity of an empty mask dict is undefined; pass at least one mask")
    total = sum(m.numel() for m in masks.values())
    kept = sum(int(torch.count_nonzero(m)) for m in masks.values())
    return 1.0 - kept / total


def layer_sparsity(masks: Mapping[str, Tensor]) -> dict[str, float]:
    """Fraction of zero entries of every mask."""
    return {name: 1.0 - int(torch.count_nonzero(m)) / m.numel() for name, m in masks.items()}


def save(masks: Mapping[str, Tensor], path: Path) -> Path:
    """Write `masks` atomically as bool tensors (validated as binary first)."""
    check(masks, None, "masks to save")
    return io.save_torch(
        {name: m.detach().to("cpu", torch.bool, copy=True) for name, m in masks.items()}, path
    )


def load(path: Path, reference: Mapping[str, Tensor | tuple[int, ...]] | None = None) -> Masks:
    """Read masks written by `save` as float32; validate against `reference` (name -> shape/tensor)."""
    path = Path(path)
    if not path.is_file():
        raise MaskError(f"mask file not found: {path}; check the path (every run keeps its masks in "
                        f"runs/<run>/level_<k>/mask.pt; 'uticket runs' lists the runs)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure means the file is unusable
        raise MaskError(
            f"cannot read mask file {path} (not a loadable torch file: {type(exc).__name__}); "
            f"it must be a torch.save'd dict {{parameter name: 0/1 tensor}}; a run's damaged mask is "
            f"rebuilt by removing its level_<k> folder and every later one, then rerunning 'uticket run'"
        ) from exc
    check(obj, reference, f"mask file {path}")
    return {name: m.to(torch.float32) for name, m in obj.items()}


def check(masks: object, reference: Mapping[str, Tensor | tuple[int, ...]] | None = None,
          where: str = "masks") -> None:
    """Raise MaskError unless `masks` is a dict of binary tensors matching `reference`.

    `reference` maps names to shapes or tensors; with it, names must match exactly and shapes agree.
    `where` names the source in the message (e.g. the file).
    """
    if not isinstance(masks, Mapping):
        raise MaskError(f"{where} holds a {type(masks).__name__}, expected a dict name -> tensor; "
                        f"rewrite it with uticket_lib.pruning.save")
    bad = [n for n, m in masks.items() if not isinstance(m, Tensor)]
    if bad:
        raise MaskError(f"{where}: non-tensor values for {_names(bad)}; every value must be a 0/1 tensor")
    bad = [n for n, m in masks.items() if m.dtype != torch.bool and not ((m == 0) | (m == 1)).all()]
    if bad:
        raise MaskError(f"{where}: non-binary values in {_names(bad)}; masks hold only 0 and 1")
    if reference is None:
        return
    _check_names(masks, reference, where)
    bad = [n for n in reference if tuple(masks[n].shape) != _shape(reference[n])]
    if bad:
        n = bad[0]
        raise MaskError(f"{where}: wrong shape for {_names(bad)} (e.g. {n}: {tuple(masks[n].shape)} "
                        f"vs model {_shape(reference[n])}); the mask belongs to another model or width")


def _check_names(masks: Mapping[str, Tensor], reference: Mapping[str, object], where: str) -> None:
    missing = [n for n in reference if n not in masks]
    if missing:
        raise MaskError(f"{where}: missing masks for {_names(missing)}; "
                        f"the mask was made for another model (check arch and width)")
    extra = [n for n in masks if n not in reference]
    if extra:
        raise MaskError(f"{where}: masks for unknown parameters {_names(extra)}; "
                        f"the mask was made for another model (check arch and width)")


def _shape(ref: Tensor | tuple[int, ...]) -> tuple[int, ...]:
    return tuple(ref.shape) if isinstance(ref, Tensor) else tuple(ref)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return f"{shown}, ... ({len(names)} in all)" if len(names) > _SHOWN else shown
