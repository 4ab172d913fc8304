"""Layer geometry traced from any nn.Module by forward hooks, and mask validation.

The accelerator model never sees a model class: it sees a list of ``Layer`` records (one per
``nn.Conv2d`` / ``nn.Linear`` weight, in execution order) and a dict of 0/1 masks keyed by the
same weight-parameter names as ``model.named_parameters()``.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from math import prod

import torch
from torch import nn

ROLES = ("encoder", "conv", "shortcut", "classifier", "linear")


class HardwareInputError(ValueError):
    """Masks, inputs or options that do not fit the layers (one line, for the CLI's exit code)."""


@dataclass(frozen=True)
class Layer:
    """One weight layer as the accelerator sees it.

    name: weight parameter name ("features.3.weight"); kind: "conv" | "linear".
    kernel (R, S), stride, padding, dilation: per spatial dim; Linear layers use (1, 1) / (0, 0).
    in_hw (H, W), out_hw (H_out, W_out): feature-map sizes; (1, 1) for Linear.
    role: "encoder" (first conv executed: analog input, runs once), "conv", "shortcut" (1x1 conv),
    "classifier" (last Linear executed), "linear" (any other Linear).
    """
    name: str
    kind: str
    out_channels: int
    in_channels: int
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    in_hw: tuple[int, int] = (1, 1)
    out_hw: tuple[int, int] = (1, 1)
    role: str = "conv"
    dilation: tuple[int, int] = (1, 1)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """(K, C, R, S) for conv, (K, C) for linear: the mask's expected shape."""
        if self.kind == "linear":
            return (self.out_channels, self.in_channels)
        return (self.out_channels, self.in_channels, *self.kernel)

    @property
    def n_weights(self) -> int:
        return prod(self.weight_shape)

    @property
    def positions(self) -> int:
        """Output positions per image per step: H_out * W_out (1 for Linear)."""
        return self.out_hw[0] * self.out_hw[1]


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _padding(m: nn.Conv2d) -> tuple[int, int]:
    if m.padding == "valid":
        return (0, 0)
    if m.padding == "same":
        tot = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        if any(t % 2 for t in tot):
            raise HardwareInputError(f"{type(m).__name__}: asymmetric 'same' padding is not modelled")
        return (tot[0] // 2, tot[1] // 2)
    return _pair(m.padding)


def _record(module: nn.Module, name: str, x: torch.Tensor, y: torch.Tensor) -> Layer:
    if isinstance(module, nn.Conv2d):
        if module.groups != 1:
            raise HardwareInputError(f"{name}: grouped convolution (groups={module.groups}) is not modelled")
        c, h, w = x.shape[-3:]      # input [..., C, H, W] (time may be merged into batch)
        return Layer(name, "conv", module.out_channels, int(c), _pair(module.kernel_size),
                     _pair(module.stride), _padding(module), (int(h), int(w)),
                     (int(y.shape[-2]), int(y.shape[-1])), "conv", _pair(module.dilation))
    return Layer(name, "linear", module.out_features, module.in_features)


def _roles(layers: list[Layer]) -> list[Layer]:
    """First conv executed -> encoder; other 1x1 convs -> shortcut; last Linear -> classifier."""
    convs = [i for i, l in enumerate(layers) if l.kind == "conv"]
    lins = [i for i, l in enumerate(layers) if l.kind == "linear"]
    out = []
    for i, l in enumerate(layers):
        if l.kind == "conv":
            role = "encoder" if i == convs[0] else ("shortcut" if l.kernel == (1, 1) else "conv")
        else:
            role = "classifier" if i == lins[-1] else "linear"
        out.append(replace(l, role=role))
    return out


def weight_names(model: nn.Module) -> dict[int, str]:
    """{id(module): its weight's parameter name} for every ``nn.Conv2d`` / ``nn.Linear`` with a weight."""
    return {id(m): f"{n}.weight" if n else "weight" for n, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear)) and getattr(m, "weight", None) is not None}


@contextlib.contextmanager
def layer_hooks(model: nn.Module, hook):
    """Call ``hook(weight name, module, args, output)`` after every ``nn.Conv2d`` / ``nn.Linear``
    forward inside the block; on leaving it the hooks are removed and every module's training flag
    is restored (the block may switch to eval mode)."""
    names = weight_names(model)
    modes = {m: m.training for m in model.modules()}
    handles = [m.register_forward_hook(lambda mod, args, out: hook(names[id(mod)], mod, args, out))
               for m in model.modules() if id(m) in names]
    try:
        yield names
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training


def trace(model: nn.Module, input_shape=(1, 3, 32, 32), timesteps: int | None = None) -> list[Layer]:
    """Run one forward pass on zeros of ``input_shape`` and record every Conv2d / Linear layer.

    Order = first execution order (a module called twice is recorded once). The model is run in
    eval mode under ``torch.no_grad`` and every submodule's train/eval flag is restored.
    ``timesteps`` is accepted for the ARCHITECTURE contract; the geometry does not depend on T.
    """
    seen: dict[str, Layer] = {}

    def hook(name, module, args, output):
        if name not in seen:
            seen[name] = _record(module, name, args[0], output)

    with layer_hooks(model, hook):
        p = next(model.parameters(), None)
        x = torch.zeros(input_shape, device=p.device if p is not None else None,
                        dtype=p.dtype if p is not None and p.is_floating_point() else None)
        model.eval()
        with torch.no_grad():
            model(x)
    if not seen:
        raise HardwareInputError("trace: the model ran no nn.Conv2d / nn.Linear layer")
    return _roles(list(seen.values()))


def check_masks(masks: dict, layers: list[Layer]) -> None:
    """Raise ``HardwareInputError`` (one line) on missing / extra names, wrong shapes, non-0/1 values."""
    want = {l.name: l for l in layers}
    missing = [n for n in want if n not in masks]
    if missing:
        raise HardwareInputError(f"masks: missing {len(missing)} layer(s): {', '.join(missing[:5])}")
    extra = [n for n in masks if n not in want]
    if extra:
        raise HardwareInputError(f"masks: {len(extra)} name(s) not among the traced layers: "
                                 f"{', '.join(map(str, extra[:5]))}")
    for n, l in want.items():
        m = masks[n]
        if not isinstance(m, torch.Tensor):
            raise HardwareInputError(f"mask '{n}': expected a torch.Tensor, got {type(m).__name__}")
        if tuple(m.shape) != l.weight_shape:
            raise HardwareInputError(f"mask '{n}': shape {tuple(m.shape)} != layer weight shape {l.weight_shape}")
        if m.dtype != torch.bool and bool(torch.addcmul(m, m, m, value=-1).any()):  # m - m*m: 0 iff m in {0, 1}
            raise HardwareInputError(f"mask '{n}': values other than 0 and 1")
