"""Training throughput (images/s) of our spiking VGG-16 / ResNet-19 against a plain SpikingJelly
multi-step implementation of the same networks, at the cpu-profile width, on this machine.

    .venv/bin/python ci/bench_train.py [--width 0.25] [--batch 64] [--steps 6]

Writes ci/bench_results/train.json. The plain reference follows SpikingJelly's documented multi-step
style (``layer.*`` stateless wrappers, ``LIFNode(step_mode='m')``, the image repeated over T and
the encoding conv run every step); it exists here only to be measured against.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
import warnings

import torch
from torch import nn

from uticket_lib import io, models, profiles
from uticket_lib.models import neurons
from uticket_lib.training import spike_loss

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from spikingjelly.activation_based import functional, layer, neuron, surrogate


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
        for i, v in enumerate(models.vgg.PLAN):
            if v == "M":
                mods.append(layer.MaxPool2d(2, step_mode="m"))
            else:
                v = models.vgg.scaled(v, width)
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
        s = lambda c: models.vgg.scaled(c, width)  # noqa: E731
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


def images_per_s(model, batch, steps, cin=1) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.rand(batch, cin, 32, 32), torch.randint(0, 10, (batch,))
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        loss = spike_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:  # two warm-up steps
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main() -> None:
    cpu = profiles.PROFILES["cpu"]
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=float, default=cpu["model.width"])
    ap.add_argument("--batch", type=int, default=cpu["train.batch_size"])
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args()
    torch.manual_seed(0)
    results = {}
    for arch, plain in (("vgg16", PlainVGG), ("resnet19", PlainResNet19)):
        ours = models.build(arch, in_channels=1, width=args.width).train()
        with neurons.fast_lif(False):  # ours with SpikingJelly's stock LIFNode instead of the fused one
            ours_stock = models.build(arch, in_channels=1, width=args.width).train()
        ref = plain(1, args.width).train()
        n_ours = sum(p.numel() for p in ours.parameters())
        n_ref = sum(p.numel() for p in ref.parameters())
        results[arch] = {"uticket_images_per_s": images_per_s(ours, args.batch, args.steps),
                         "uticket_stock_lif_images_per_s": images_per_s(ours_stock, args.batch, args.steps),
                         "plain_spikingjelly_images_per_s": images_per_s(ref, args.batch, args.steps),
                         "params_uticket": n_ours, "params_plain": n_ref}
        r = results[arch]
        print(f"{arch:9s} ours {r['uticket_images_per_s']:7.1f} img/s   ours with stock LIF "
              f"{r['uticket_stock_lif_images_per_s']:7.1f} img/s   plain SpikingJelly "
              f"{r['plain_spikingjelly_images_per_s']:7.1f} img/s   (params {n_ours} vs {n_ref})")
    io.save_json({"what": "training images/s (forward + backward + SGD step), T=4, 32x32, 1 channel",
                  "width": args.width, "batch": args.batch, "steps": args.steps, "results": results,
                  "machine": {"cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                              "platform": platform.platform(), "torch": torch.__version__},
                  "date": datetime.date.today().isoformat()},
                 os.path.join(os.path.dirname(__file__), "bench_results", "train.json"))


if __name__ == "__main__":
    main()
