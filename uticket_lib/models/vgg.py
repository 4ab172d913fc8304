"""Spiking VGG-16 with direct encoding (the released code's network, paper Sec. IV-A).

Shapes: ``N`` batch, ``T`` timesteps, ``w`` the width multiplier. Stateless layers (conv, BN,
pooling) run on time merged into batch, ``[T*N, ...]``; neurons run on ``[T, N, ...]``.
"""
from __future__ import annotations

import torch
from torch import nn

from . import neurons
from .timeplan import TimePlanned, adapt

# Conv widths at width 1; "M" = 2x2 max pooling of the spikes of the conv before it.
PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def scaled(channels: int, width: float) -> int:
    """Channel count at width multiplier ``width``: ``max(1, round(channels * width))``."""
    return max(1, round(channels * width))


class ConvBNLIF(nn.Module):
    """conv3x3 (stride 1, pad 1) -> BN -> LIF, optionally then 2x2 max pooling of the spikes."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True, pool: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias)
        self.bn = nn.BatchNorm2d(out_channels)
        self.lif = neurons.lif()
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()

    def current(self, x: torch.Tensor) -> torch.Tensor:
        """Input current: ``[B, C_in, H, W]`` -> ``[B, C_out, H, W]`` (any batch B)."""
        return self.bn(self.conv(x))

    def fire(self, current: torch.Tensor) -> torch.Tensor:
        """Spikes (pooled if so built): ``[T, N, C_out, H, W]`` -> ``[T, N, C_out, H', W']``."""
        spikes = self.lif(current)                                         # [T, N, C_out, H, W]
        return self.pool(spikes.flatten(0, 1)).unflatten(0, spikes.shape[:2])

    def encode(self, x: torch.Tensor, timesteps: int) -> torch.Tensor:
        """Direct encoding: ``x [N, C_in, H, W]`` -> spikes ``[T, N, C_out, H', W']``.

        The conv and BN run once; the same current is fed to the neuron at every step.
        """
        current = self.current(x)                                          # [N, C_out, H, W]
        return self.fire(current.expand(timesteps, *current.shape))        # [T, N, C_out, H', W']

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, N, C_in, H, W]`` -> spikes ``[T, N, C_out, H', W']``."""
        return self.fire(self.current(x.flatten(0, 1)).unflatten(0, x.shape[:2]))


class SpikingVGG16(TimePlanned, nn.Module):
    """13 conv-BN-LIF layers (conv bias on), 5 max pools, one Linear read-out without neuron.

    ``forward(x [N, C, 32, 32]) -> logits [T, N, num_classes]``; neurons are reset before
    and after every call. Stages of a time plan: the 13 convs (the classifier runs at the last
    conv's T); logits have the last stage's T steps.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0,
                 timesteps: int = 4, time_plan=None, time_join: str = "sum"):
        super().__init__()
        self.timesteps = timesteps
        layers, channels = [], in_channels
        for i, c in enumerate(PLAN):
            if c != "M":
                pool = i + 1 < len(PLAN) and PLAN[i + 1] == "M"
                layers.append(ConvBNLIF(channels, scaled(c, width), pool=pool))
                channels = scaled(c, width)
        self.encoder = layers[0]
        self.features = nn.Sequential(*layers[1:])
        self.classifier = nn.Linear(channels, num_classes)  # 32x32 input -> 1x1 after 5 pools
        self.encoder_name = "encoder.conv.weight"
        self.set_time_plan(time_plan, time_join)

    def stage_modules(self) -> list[list[nn.Module]]:
        stages = [[self.encoder], *[[m] for m in self.features]]
        stages[-1].append(self.classifier)
        return stages

    def entry_layers(self) -> set[str]:
        return {f"features.{i}.conv.weight" for i in range(len(self.features))}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, C, 32, 32]`` -> logits ``[T, N, num_classes]``."""
        neurons.reset(self)
        plan = self.plan()
        h = self.encoder.encode(x, plan[0])              # [T, N, 64w, 32, 32]
        for layer, t in zip(self.features, plan[1:]):    # [T_l, N, ...]: adapted where T changes
            h = layer(adapt(h, t, self.time_join))       # -> [T_last, N, 512w, 1, 1]
        logits = self.classifier(h.flatten(2))           # [T, N, num_classes]
        neurons.reset(self)  # drop state tied to the autograd graph (keeps deepcopy working)
        return logits
