"""Spiking ResNet-19 with direct encoding (the released code's network, paper Sec. IV-A).

Stem conv3x3(64) + BN + LIF; three stages of BasicBlocks (128, 256, 512 channels; 3, 3, 2 blocks;
the first block of each stage has stride 2: 32 -> 16 -> 8 -> 4); global average pooling;
Linear(512, 256) + LIF; Linear(256, num_classes) read-out without neuron. Convs have no bias
(as released). Shapes: ``N`` batch, ``T`` timesteps, ``w`` the width multiplier.
"""
from __future__ import annotations

import torch
from torch import nn

from . import neurons
from .timeplan import TimePlanned, adapt
from .vgg import ConvBNLIF, scaled

STEM = 64
STAGES = ((128, 3), (256, 3), (512, 2))   # (channels, blocks) at width 1
HIDDEN = 256


class BasicBlock(nn.Module):
    """conv3x3-BN-LIF-conv3x3-BN, plus shortcut (1x1 conv + BN when the shape changes), then LIF."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.lif1 = neurons.lif()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()
        self.lif2 = neurons.lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, N, C_in, H, W]`` -> spikes ``[T, N, C_out, H/s, W/s]``."""
        tn = x.shape[:2]
        flat = x.flatten(0, 1)                                           # [T*N, C_in, H, W]
        h = self.lif1(self.bn1(self.conv1(flat)).unflatten(0, tn))       # [T, N, C_out, H', W']
        h = self.bn2(self.conv2(h.flatten(0, 1))) + self.shortcut(flat)  # [T*N, C_out, H', W']
        return self.lif2(h.unflatten(0, tn))


class SpikingResNet19(TimePlanned, nn.Module):
    """``forward(x [N, C, 32, 32]) -> logits [T, N, num_classes]``.

    Neurons are reset before and after every forward call. Stages of a time plan: the stem, each of
    the 8 residual blocks, the classifier (fc1 + LIF + fc2); logits have the last stage's T steps.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0,
                 timesteps: int = 4, time_plan=None, time_join: str = "sum"):
        super().__init__()
        self.timesteps = timesteps
        channels = scaled(STEM, width)
        self.encoder = ConvBNLIF(in_channels, channels, bias=False)
        blocks = []
        for stage_channels, n_blocks in STAGES:
            for i in range(n_blocks):
                stride = 2 if i == 0 else 1
                blocks.append(BasicBlock(channels, scaled(stage_channels, width), stride))
                channels = scaled(stage_channels, width)
        self.layers = nn.Sequential(*blocks)
        self.fc1 = nn.Linear(channels, scaled(HIDDEN, width))
        self.lif_fc = neurons.lif()
        self.fc2 = nn.Linear(scaled(HIDDEN, width), num_classes)
        self.encoder_name = "encoder.conv.weight"
        self.set_time_plan(time_plan, time_join)

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[self.encoder], *[[b] for b in self.layers], [self.fc1, self.lif_fc, self.fc2]]

    def entry_layers(self) -> set[str]:
        names = {"fc1.weight"}
        for i, b in enumerate(self.layers):
            names.add(f"layers.{i}.conv1.weight")
            if isinstance(b.shortcut, nn.Sequential):
                names.add(f"layers.{i}.shortcut.0.weight")
        return names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, C, 32, 32]`` -> logits ``[T, N, num_classes]``."""
        neurons.reset(self)
        plan = self.plan()
        h = self.encoder.encode(x, plan[0])                      # [T, N, 64w, 32, 32]
        for block, t in zip(self.layers, plan[1:-1]):            # adapted where T changes
            h = block(adapt(h, t, self.time_join))               # -> [T, N, 512w, 4, 4]
        h = adapt(h, plan[-1], self.time_join)
        h = self.lif_fc(self.fc1(h.mean((3, 4))))                # avg pool -> [T, N, 256w] spikes
        logits = self.fc2(h)                                     # [T, N, num_classes]
        neurons.reset(self)  # drop state tied to the autograd graph (keeps deepcopy working)
        return logits
