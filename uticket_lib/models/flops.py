"""Multiply-accumulates of a forward pass, counted by hooks on every conv and linear layer.

``forward_macs(model, x)`` runs ``model(x)`` once and sums, over each ``Conv2d`` call,
``output elements x in_channels / groups x kernel area`` and over each ``Linear`` call
``output elements x in_features``. Calls on time merged into batch (``[T*N, ...]``) count every
timestep; the VGG/ResNet encoder conv runs once for all T (direct encoding), and is counted once.
Batch norm, LIF, pooling and the optimizer are left out (elementwise, a few % of the FLOPs but,
being memory-bound, a larger share of the time). One MAC = 2 FLOPs. A training step costs about
3x the forward MACs (forward, input gradient, weight gradient).
"""
from __future__ import annotations

import torch
from torch import nn


def forward_macs(model: nn.Module, x: torch.Tensor) -> int:
    """MACs of ``model(x)`` in conv and linear layers (for the whole batch of ``x``)."""
    total = [0]

    def conv(m: nn.Conv2d, _inp, out):
        k = m.kernel_size[0] * m.kernel_size[1]
        total[0] += out.numel() * (m.in_channels // m.groups) * k

    def linear(m: nn.Linear, _inp, out):
        total[0] += out.numel() * m.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear))
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total[0]


def train_flops_per_image(model: nn.Module, in_channels: int, size: int = 32) -> float:
    """FLOPs of one training step per image: 3 x 2 x forward MACs (see the module docstring)."""
    was = model.training
    model.eval()
    try:
        macs = forward_macs(model, torch.zeros(2, in_channels, size, size))
    finally:
        model.train(was)
    return 3 * 2 * macs / 2
