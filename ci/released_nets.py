"""The released code's spiking VGG-16 and ResNet-19, transcribed for speed comparisons.

RuokaiYin/u-Ticket (``archs/fmnist/vgg.py``, ``archs/fmnist/resnet.py``) builds its networks from
``torch.nn`` layers and SpikingJelly's ``clock_driven`` (single-step) LIF neurons, runs the first
conv + BN once and then the rest of the network once per timestep on the batch of N images
(``for t in range(T)``), and returns the T read-outs. These classes follow that forward pass
step by step, at a width multiplier and with ``T`` stacked logits ``[T, N, classes]`` for the
benchmark's loss; they are written for this comparison, no released code is copied.
``tests/test_released_nets.py`` checks that each computes the same function as our network
(loaded with our weights, in float64, eval mode), so a speed ratio between them compares equal work.

``PlainVGG`` / ``PlainResNet19`` are the other reference ``ci/bench_train.py`` has measured since
issue 9: the same networks written the way SpikingJelly's multi-step tutorials write them (``layer.*``
wrappers, time folded into the batch, the image repeated over T and the encoder run every step).
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from uticket_lib import models

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from spikingjelly.activation_based import functional, layer, neuron, surrogate
    from spikingjelly.clock_driven import functional as cd_functional
    from spikingjelly.clock_driven import neuron as cd_neuron
    from spikingjelly.clock_driven import surrogate as cd_surrogate


_scaled = models.vgg.scaled     # channels at a width multiplier, as our networks scale them


# ------------------------------------------------------------------------- the released networks
def _released_lif() -> nn.Module:
    """The released neuron: clock_driven LIFNode, tau 4/3, v_th 1, hard reset to 0, ATan."""
    return cd_neuron.LIFNode(v_threshold=1.0, v_reset=0.0, tau=4.0 / 3.0,
                             surrogate_function=cd_surrogate.ATan(), detach_reset=True)


class ReleasedVGG16(nn.Module):
    """features = [conv, BN, LIF] x 13 with max pools; classifier Linear; loop over T."""

    def __init__(self, in_channels: int = 1, width: float = 1.0, timesteps: int = 4,
                 num_classes: int = 10):
        super().__init__()
        self.timesteps, mods, c = timesteps, [], in_channels
        for v in models.vgg.PLAN:
            if v == "M":
                mods.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                v = _scaled(v, width)
                mods += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.BatchNorm2d(v), _released_lif()]
                c = v
        self.features = nn.Sequential(*mods)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cd_functional.reset_net(self)            # the released training loop resets per batch
        static_x = self.features[:2](x)          # first conv + BN, once
        out = []
        for _ in range(self.timesteps):
            h = torch.flatten(self.features[2:](static_x), 1)
            out.append(self.classifier(h))
        return torch.stack(out)                  # [T, N, classes]


class ReleasedBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.lif1, self.lif2 = _released_lif(), _released_lif()
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lif1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return self.lif2(out)


class ReleasedResNet19(nn.Module):
    """Stem conv + BN once; per timestep LIF, three stages of blocks, avgpool, fc1 + LIF, fc2."""

    def __init__(self, in_channels: int = 1, width: float = 1.0, timesteps: int = 4,
                 num_classes: int = 10):
        super().__init__()
        self.timesteps = timesteps
        c = _scaled(64, width)
        self.conv1 = nn.Conv2d(in_channels, c, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.lif_input = _released_lif()
        stages = []
        for planes, n in ((128, 3), (256, 3), (512, 2)):
            blocks = []
            for stride in [2] + [1] * (n - 1):
                blocks.append(ReleasedBlock(c, _scaled(planes, width), stride))
                c = _scaled(planes, width)
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc1 = nn.Linear(c, _scaled(256, width))
        self.lif_fc = _released_lif()
        self.fc2 = nn.Linear(_scaled(256, width), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cd_functional.reset_net(self)
        static_x = self.bn1(self.conv1(x))
        out = []
        for _ in range(self.timesteps):
            h = self.lif_input(static_x)
            h = self.layer3(self.layer2(self.layer1(h)))
            h = self.avgpool(h).view(h.size(0), -1)
            out.append(self.fc2(self.lif_fc(self.fc1(h))))
        return torch.stack(out)                  # [T, N, classes]


RELEASED = {"vgg16": ReleasedVGG16, "resnet19": ReleasedResNet19}


# ------------------------------------------------------------- plain SpikingJelly multi-step
def _lif():
    return neuron.LIFNode(tau=4 / 3, v_threshold=1.0, v_reset=0.0, detach_reset=True,
                          surrogate_function=surrogate.ATan(), step_mode="m")


def _cbl(cin, cout, stride=1, k=3, bias=False):
    return [layer.Conv2d(cin, cout, k, stride, k // 2, bias=bias, step_mode="m"),
            layer.BatchNorm2d(cout, step_mode="m")]


class PlainVGG(nn.Module):
    def __init__(self, cin, width, T=4):
        super().__init__()
        self.T, mods, c = T, [], cin
        for v in models.vgg.PLAN:
            if v == "M":
                mods.append(layer.MaxPool2d(2, step_mode="m"))
            else:
                v = _scaled(v, width)
                mods += _cbl(c, v, bias=True) + [_lif()]
                c = v
        self.net = nn.Sequential(*mods, layer.Flatten(step_mode="m"), layer.Linear(c, 10, step_mode="m"))

    def forward(self, x):
        functional.reset_net(self)
        return self.net(x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1))


class PlainBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(*_cbl(cin, cout, stride), _lif(), *_cbl(cout, cout))
        self.short = (nn.Sequential(*_cbl(cin, cout, stride, k=1))
                      if stride != 1 or cin != cout else nn.Identity())
        self.lif = _lif()

    def forward(self, x):
        return self.lif(self.body(x) + self.short(x))


class PlainResNet19(nn.Module):
    def __init__(self, cin, width, T=4):
        super().__init__()
        s = lambda c: _scaled(c, width)  # noqa: E731
        self.T, mods, c = T, _cbl(cin, s(64)) + [_lif()], s(64)
        for cout, n in ((128, 3), (256, 3), (512, 2)):
            for i in range(n):
                mods.append(PlainBlock(c, s(cout), 2 if i == 0 else 1))
                c = s(cout)
        self.net = nn.Sequential(*mods, layer.AdaptiveAvgPool2d(1, step_mode="m"),
                                 layer.Flatten(step_mode="m"), layer.Linear(c, s(256), step_mode="m"),
                                 _lif(), layer.Linear(s(256), 10, step_mode="m"))

    def forward(self, x):
        functional.reset_net(self)
        return self.net(x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1))


PLAIN = {"vgg16": PlainVGG, "resnet19": PlainResNet19}
