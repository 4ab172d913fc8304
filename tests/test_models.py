"""Spiking VGG-16 / ResNet-19 and the LIF neuron (CPU, seconds)."""
import copy

import pytest
import torch
from torch import nn

from uticket_lib import models
from uticket_lib.models import neurons


def weight_count(model: nn.Module) -> int:
    """Number of conv + linear weights (the prunable parameters)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


@pytest.mark.parametrize("arch, expected, millions", [
    ("vgg16", 14_715_584, 14.7),
    ("resnet19", 12_619_968, 12.6),
])
def test_weight_counts_match_the_paper_networks(arch, expected, millions):
    n = weight_count(models.build(arch))
    assert n == expected
    assert round(n / 1e6, 1) == millions


def test_vgg16_layout():
    model = models.build("vgg16")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [c for c in models.vgg.PLAN if c != "M"]
    assert all(c.bias is not None and c.kernel_size == (3, 3) for c in convs)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 5
    assert [type(m) for m in model.modules() if isinstance(m, nn.Linear)] == [nn.Linear]
    assert len(neurons.neuron_modules(model)) == 13


def test_resnet19_layout():
    model = models.build("resnet19")
    convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    shortcuts = [m for n, m in convs.items() if "shortcut" in n]
    assert [(m.in_channels, m.out_channels, m.stride) for m in shortcuts] == [
        (64, 128, (2, 2)), (128, 256, (2, 2)), (256, 512, (2, 2))]
    assert len(convs) == 1 + 2 * 8 + 3
    assert all(m.bias is None for m in convs.values())
    # stem + 2 per block + the hidden linear
    assert len(neurons.neuron_modules(model)) == 1 + 2 * 8 + 1


@pytest.mark.parametrize("arch", sorted(models.REGISTRY))
@pytest.mark.parametrize("in_channels, width, timesteps", [(3, 0.125, 4), (1, 0.25, 2)])
def test_output_shape(arch, in_channels, width, timesteps):
    model = models.build(arch, in_channels=in_channels, num_classes=7, width=width,
                         timesteps=timesteps)
    assert model.timesteps == timesteps
    assert model(torch.randn(3, in_channels, 32, 32)).shape == (timesteps, 3, 7)


@pytest.mark.parametrize("arch", sorted(models.REGISTRY))
def test_width_scales_every_hidden_layer(arch):
    model = models.build(arch, width=0.25)
    params = dict(model.named_parameters())
    assert params[model.encoder_name].shape == (16, 3, 3, 3)     # 64 * 0.25 filters, 3 channels
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears[0].in_features == 128                         # 512 * 0.25
    assert linears[-1].out_features == 10
    tiny = models.build(arch, width=0.001)                       # every layer keeps >= 1 channel
    assert min(m.weight.shape[0] for m in tiny.modules() if isinstance(m, nn.Conv2d)) == 1


@pytest.mark.parametrize("arch", sorted(models.REGISTRY))
def test_encoder_name_is_the_first_conv_weight(arch):
    model = models.build(arch, in_channels=1, width=0.125)
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert dict(model.named_parameters())[model.encoder_name] is first_conv.weight


def spike_record(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The spikes [T, N, ...] of every neuron layer in one forward call (no grad)."""
    out = []
    handles = [m.register_forward_hook(lambda m, i, o: out.append(o.clone()))
               for m in neurons.neuron_modules(model).values()]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return out


@pytest.mark.parametrize("arch", sorted(models.REGISTRY))
def test_neuron_state_is_reset_between_calls(arch, monkeypatch):
    torch.manual_seed(0)
    model = models.build(arch, width=0.125)   # train mode: BN on batch statistics, ~10 % firing
    x = torch.randn(4, 3, 32, 32)
    first, second = spike_record(model, x), spike_record(model, x)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert sum(s.sum().item() for s in first) > 0
    monkeypatch.setattr(neurons, "reset", lambda model: None)  # the check can fail:
    spike_record(model, x)                                      # leaves its potential behind,
    carried_over = spike_record(model, x)                       # which changes the next spikes
    assert not all(torch.equal(a, b) for a, b in zip(second, carried_over))


@pytest.mark.parametrize("arch", sorted(models.REGISTRY))
def test_gradients_reach_the_encoder(arch):
    torch.manual_seed(0)
    model = models.build(arch, width=0.125)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    grad = dict(model.named_parameters())[model.encoder_name].grad
    assert grad is not None and grad.abs().sum() > 0  # through every spiking layer: surrogate works
    copy.deepcopy(model)  # no neuron state tied to the autograd graph is left after forward


def test_encoding_current_is_computed_once_per_forward():
    model = models.build("vgg16", width=0.125, timesteps=4)
    calls = []
    encoder_conv = dict(model.named_modules())[model.encoder_name.rsplit(".", 1)[0]]
    encoder_conv.register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape)))
    model(torch.randn(5, 3, 32, 32))
    assert calls == [(5, 3, 32, 32)]


def test_unknown_arch():
    with pytest.raises(ValueError, match=r"unknown arch 'x'; choose one of: resnet19, vgg16"):
        models.build("x")


# LIF: v[t] = 0.25 v[t-1] + 0.75 x[t]; spike when v >= 1, then v = 0.
# x = 1.2: v = 0.9 | 0.225 + 0.9 = 1.125 -> spike, v = 0 | 0.9 | 1.125 -> spike | 0.9
# x = 0.8: v = 0.6, 0.75, 0.7875, 0.796875, 0.79921875 -> never reaches 1 (fixed point 0.8)
# x = 1.4: v = 1.05 -> spike at every step
@pytest.mark.parametrize("training", [True, False])
def test_lif_dynamics_by_hand(training):
    node = neurons.lif().train(training)
    x = torch.tensor([1.2, 0.8, 1.4]).expand(5, 3)                # [T=5, 3 neurons], constant input
    spikes = node(x)
    assert spikes.tolist() == [[0., 0., 1.], [1., 0., 1.], [0., 0., 1.], [1., 0., 1.], [0., 0., 1.]]
    assert node.v[1].item() == pytest.approx(0.79921875)        # membrane after 5 steps at 0.8
    assert node.v[0].item() == pytest.approx(0.9)               # 1.2: reset at t=4, charged at t=5
    neurons.reset(node)
    assert node.v == 0.0


def test_lif_surrogate_gradient_is_atan_alpha_2():
    node = neurons.lif()
    x = torch.tensor([[0.0]], requires_grad=True)                # v = 0.75 x = 0 -> v - v_th = -1
    node(x).sum().backward()
    # d spike / d v = alpha / (2 (1 + (pi/2 alpha (v - 1))^2)) = 1 / (1 + pi^2); d v / d x = 0.75
    assert x.grad.item() == pytest.approx(0.75 / (1 + torch.pi ** 2))
