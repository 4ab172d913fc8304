"""The released networks as ci/bench_train.py times them (ci/released_nets.py) compute our networks.

Loaded with our weights (in order; same shapes), in float64 and eval mode, the released forward
(first conv + BN once, the rest once per timestep on the N images, single-step neurons) gives our
logits: the speed ratio between them compares equal work. In training the two differ only in the
batch statistics (per timestep there, over all T here), not in cost.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from uticket_lib import models

spec = importlib.util.spec_from_file_location(
    "released_nets", Path(__file__).resolve().parents[1] / "ci" / "released_nets.py")
rn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rn)


def loaded_pair(arch, width=0.125, seed=0):
    torch.manual_seed(seed)
    ours = models.build(arch, in_channels=1, width=width).double()
    theirs = rn.RELEASED[arch](1, width).double()
    a, b = ours.state_dict(), theirs.state_dict()
    assert [v.shape for v in a.values()] == [v.shape for v in b.values()]
    with torch.no_grad():                           # BN statistics that let spikes through
        for k, v in a.items():
            if k.endswith("running_mean"):
                v.uniform_(-0.6, 0.0)
            elif k.endswith("running_var"):
                v.uniform_(0.05, 0.3)
            elif k.endswith("bn.weight") or k.endswith("bn1.weight") or k.endswith("bn2.weight"):
                v.uniform_(1.0, 2.0)
            elif k == "fc1.weight":                 # ResNet-19's hidden neurons: fire too
                v.mul_(8.0)
    theirs.load_state_dict(dict(zip(b.keys(), a.values())))
    return ours.eval(), theirs.eval()


@pytest.mark.parametrize("arch", ["vgg16", "resnet19"])
def test_released_forward_computes_our_network(arch):
    ours, theirs = loaded_pair(arch)
    x = torch.rand(3, 1, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert a.shape == b.shape == (4, 3, 10)
    assert a.abs().sum() > 0 and a.std(0).abs().sum() > 0      # spikes reach the read-out, vary in t
    assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)
    with torch.no_grad():                                       # and a changed weight shows
        next(p for n, p in theirs.named_parameters() if n.endswith("fc2.weight" if arch == "resnet19"
                                                                   else "classifier.weight")).mul_(1.5)
        assert not torch.allclose(ours(x), theirs(x), rtol=1e-6, atol=1e-6)
