"""Spiking networks of the paper: ``build(arch, ...)`` -> ``nn.Module``.

``model(x [N, C, 32, 32]) -> logits [T, N, num_classes]``; ``model.encoder_name`` names the weight
of the encoding conv; ``model.timesteps`` is T. See ARCHITECTURE.md for the contract.
"""
from __future__ import annotations

from torch import nn

from . import timeplan
from .timeplan import JOINS, TimePlanError
from .resnet import SpikingResNet19
from .vgg import SpikingVGG16

REGISTRY = {"vgg16": SpikingVGG16, "resnet19": SpikingResNet19}


def build(arch: str, in_channels: int = 3, num_classes: int = 10, width: float = 1.0,
          timesteps: int = 4, time_plan=None, time_join: str = "sum") -> nn.Module:
    """A freshly initialised network from ``REGISTRY`` (``time_plan``: one T per stage, None = uniform)."""
    if arch not in REGISTRY:
        raise ValueError(f"unknown arch {arch!r}; choose one of: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[arch](in_channels=in_channels, num_classes=num_classes, width=width,
                          timesteps=timesteps, time_plan=time_plan, time_join=time_join)
