"""A reader's own spiking network, as the how-to chapter (13) and ``uticket hw --model`` use it.

Plain SpikingJelly, nothing from this library: the point is that the PE model takes any
``nn.Module`` whose weights sit in ``nn.Conv2d`` / ``nn.Linear`` layers (SpikingJelly's
``layer.Conv2d`` and ``layer.Linear`` are both). From the command line:

    uticket hw --masks MASKS.pt --model uticket_lib.examples:tiny_snn --model-arg width=8 \\
        --input-shape 1,28,28 --n-pe 16
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

with warnings.catch_warnings():   # SpikingJelly's torch.jit.script decorators warn at import
    warnings.simplefilter("ignore")
    from spikingjelly.activation_based import functional, layer, neuron, surrogate


class TinySNN(nn.Module):
    """Three 3x3 convolutions (batch norm, LIF) and a linear read-out for 28 x 28 images.

    x ``[N, C, H, W]`` -> logits ``[N, classes]``: the image is repeated over ``timesteps`` steps
    (direct encoding) and the read-out's outputs are averaged over them.
    """

    def __init__(self, width: int = 8, timesteps: int = 4, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        self.timesteps = timesteps

        def lif():
            return neuron.LIFNode(tau=4 / 3, detach_reset=True, surrogate_function=surrogate.ATan())

        self.features = nn.Sequential(
            layer.Conv2d(in_channels, width, 3, padding=1, bias=False), layer.BatchNorm2d(width), lif(),
            layer.Conv2d(width, 2 * width, 3, padding=1, bias=False), layer.BatchNorm2d(2 * width), lif(),
            layer.MaxPool2d(2),                                                       # 28 -> 14
            layer.Conv2d(2 * width, 4 * width, 3, padding=1, bias=False), layer.BatchNorm2d(4 * width), lif(),
            layer.MaxPool2d(2),                                                       # 14 -> 7
        )
        self.classifier = nn.Sequential(layer.Flatten(), layer.Linear(4 * width * 7 * 7, num_classes))
        functional.set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self)
        seq = x.unsqueeze(0).repeat(self.timesteps, 1, 1, 1, 1)    # [T, N, C, H, W]
        return self.classifier(self.features(seq)).mean(0)         # [N, classes]


def tiny_snn(width: int = 8, timesteps: int = 4, in_channels: int = 1, num_classes: int = 10) -> TinySNN:
    """The factory ``uticket hw --model uticket_lib.examples:tiny_snn`` calls (``--model-arg``s are
    its keyword arguments)."""
    return TinySNN(width, timesteps, in_channels, num_classes)
