"""The fused LIF neuron (neurons.FastLIFNode) against SpikingJelly's stock LIFNode (CPU, fast)."""
import pytest
import torch
from torch import nn

from uticket_lib import models
from uticket_lib.models import neurons
from uticket_lib.training import spike_loss


def pair():
    """(fused, stock) LIF neurons with the library's parameters."""
    return neurons.lif(fast=True), neurons.lif(fast=False)


def current(*shape, grid=False, dtype=torch.float32):
    """Random input current around the threshold.

    ``grid``: multiples of 1/16, and every 5th entry tau, which charges the membrane to exactly
    the threshold at t = 0 (h = x / tau = 1: a spike, as SpikingJelly fires on h >= 1).
    """
    x = torch.randn(*shape, dtype=dtype) * 0.8 + 0.6
    if grid:
        x = (x * 16).round() / 16
        x.view(-1)[::5] = neurons.TAU
    return x


def test_types_and_switches():
    fast, stock = pair()
    assert type(stock) is neurons.neuron.LIFNode
    assert isinstance(fast, neurons.neuron.LIFNode) and isinstance(fast, neurons.neuron.BaseNode)
    assert isinstance(neurons.lif(), neurons.FastLIFNode) == neurons.FAST
    with neurons.fast_lif(False):
        assert type(neurons.lif()) is neurons.neuron.LIFNode
        with neurons.fast_lif(True):
            assert isinstance(neurons.lif(), neurons.FastLIFNode)
    assert (fast.tau, fast.v_threshold, fast.v_reset, fast.step_mode) == (4 / 3, 1.0, 0.0, "m")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("grid", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spikes_and_membrane_are_exactly_stock(training, grid, dtype):
    torch.manual_seed(0)
    fast, stock = (m.train(training) for m in pair())
    for _ in range(2):                        # the second call starts from the first call's v
        x = current(4, 8, 6, 10, 10, grid=grid, dtype=dtype)
        s_fast, s_stock = fast(x), stock(x)
        assert s_fast.dtype == dtype and set(s_fast.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(s_fast, s_stock)
        assert torch.equal(fast.v, stock.v)
    assert 0.05 < s_stock.mean() < 0.5


def test_no_grad_and_eval_match_training_forward():
    torch.manual_seed(1)
    x = current(4, 5, 3, 7, 7).requires_grad_()
    fast, stock = pair()
    ref = stock(x).detach()
    with torch.no_grad():
        assert torch.equal(fast(x), ref)
    neurons.reset(fast)
    assert torch.equal(fast.eval()(x), ref)


def assert_grads_close(a, b):
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), (a - b).abs().max()


def test_input_gradient_matches_stock():
    torch.manual_seed(2)
    x = current(4, 16, 4, 8, 8, grid=True)
    upstream = torch.randn_like(x)
    grads = []
    for m in pair():
        xx = x.clone().requires_grad_()
        (m(xx) * upstream).sum().backward()
        grads.append(xx.grad)
    assert_grads_close(*grads)
    assert grads[0].abs().sum() > 0


def test_gradient_through_two_layers_and_two_calls_matches_stock():
    """LIF -> Linear -> LIF, called twice without reset (gradient also flows through v)."""
    torch.manual_seed(3)
    x, upstream = current(4, 32, 20), torch.randn(2, 4, 32, 12)
    linear = nn.Linear(20, 12)
    with torch.no_grad():
        linear.weight.mul_(3)
    grads = []
    for fast in (True, False):
        first, second = neurons.lif(fast), neurons.lif(fast)
        linear.zero_grad()
        xx = x.clone().requires_grad_()
        out = torch.stack([second(linear(first(xx)) + 0.5) for _ in range(2)])  # [2, T, N, 12]
        (out * upstream).sum().backward()
        grads.append((xx.grad, linear.weight.grad.clone(), out.detach()))
    assert torch.equal(grads[0][2], grads[1][2])
    assert_grads_close(grads[0][0], grads[1][0])
    assert_grads_close(grads[0][1], grads[1][1])


def test_backward_twice_with_retain_graph():
    torch.manual_seed(4)
    x = current(4, 8, 16).requires_grad_()
    y = (neurons.lif(fast=True)(x) * torch.randn(4, 8, 16)).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward()
    assert_grads_close(x.grad, 2 * first)


def test_hooks_see_spikes_and_reset_clears_state():
    torch.manual_seed(5)
    node, seen = neurons.lif(fast=True), []
    node.register_forward_hook(lambda m, i, o: seen.append(o))
    x = current(4, 3, 5)
    out = node(x)
    assert len(seen) == 1 and seen[0] is out and out.shape == (4, 3, 5)
    assert isinstance(node.v, torch.Tensor) and node.v.shape == (3, 5)
    neurons.reset(node)
    assert node.v == 0.0
    assert torch.equal(node(x), out)          # from rest again: same spikes
    neurons.functional.reset_net(nn.Sequential(node))
    assert node.v == 0.0


@pytest.mark.parametrize("arch", ["vgg16", "resnet19"])
def test_whole_model_matches_stock(arch):
    nets = []
    for fast in (True, False):
        torch.manual_seed(6)
        with neurons.fast_lif(fast):
            nets.append(models.build(arch, in_channels=1, width=0.0625).train())
    fast_net, stock_net = nets
    lifs = neurons.neuron_modules(fast_net).values()
    assert lifs and all(isinstance(m, neurons.FastLIFNode) for m in lifs)
    assert not any(isinstance(m, neurons.FastLIFNode) for m in stock_net.modules())
    torch.manual_seed(7)
    x, y = torch.rand(8, 1, 32, 32), torch.randint(0, 10, (8,))
    logits = [net(x) for net in nets]
    assert torch.equal(logits[0], logits[1])
    for net, out in zip(nets, logits):
        spike_loss(out, y).backward()
    for (name, p), q in zip(fast_net.named_parameters(), stock_net.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6), name
