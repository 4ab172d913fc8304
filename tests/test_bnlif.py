"""Batch norm and residual fused into the LIF kernel (models/bnlif.py) against the separate modules.

The fused path must give the modules' numbers bit for bit: spikes, v[T], every gradient, the
running statistics and the batch count, in fp32 and bf16, channels-last and contiguous, training
and eval. Where it cannot (a hook, eval with gradients, ...) it must run the modules.
"""
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from uticket_lib import models
from uticket_lib.models import bnlif, native, neurons
from uticket_lib.training import spike_loss

HAVE_CC = bool(shutil.which("cc") or shutil.which("gcc"))
pytestmark = pytest.mark.skipif(not HAVE_CC, reason="no C compiler: the kernel cannot be built here")
DTYPES = [torch.float32, torch.bfloat16]


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the layers that run fused (each builds one ``bnlif._Spec``)."""
    calls = {"n": 0}
    init = bnlif._Spec.__init__

    def counting_init(self, *a, **k):
        calls["n"] += 1
        init(self, *a, **k)

    monkeypatch.setattr(bnlif._Spec, "__init__", counting_init)
    return calls


def bns(C, training, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [bnlif.random_bn(C, g).train(training) for _ in range(2)]


def inputs(kind, dtype, channels_last, T=3, N=4, C=12, H=6):
    """(y, y2 or None, with a BN on y2, repeat) for one kind of layer."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g = torch.Generator().manual_seed(7)

    def t(shape, scale, shift):
        return (torch.randn(shape, generator=g) * scale + shift).to(dtype).contiguous(memory_format=fmt)

    if kind == "encoder":
        return t((N, C, H, H), 2.5, 0.6), None, False, T
    y = t((T * N, C, H, H), 2.5, 0.4)
    if kind == "plain":
        return y, None, False, None
    if kind == "identity residual":
        return y, (torch.rand(y.shape, generator=g) < 0.3).to(dtype).contiguous(memory_format=fmt), False, None
    return y, t((T * N, C, H, H), 2.0, -0.2), True, None


def layer(kind, dtype, channels_last, training, fuse, grad=True, seed=3):
    """Spikes, v[T], gradients and the BNs' state of one layer, fused or through the modules."""
    y, y2, with_bn2, repeat = inputs(kind, dtype, channels_last)
    T, N = 3, 4
    bn, bn2 = bns(y.shape[1], training)
    lif = neurons.lif()
    y = y.detach().requires_grad_(grad)
    y2 = None if y2 is None else y2.detach().requires_grad_(grad)
    old, bnlif.FUSE = bnlif.FUSE, fuse
    try:
        with torch.set_grad_enabled(grad):
            s = bnlif.fire(lif, y, bn, tn=None if repeat else (T, N), repeat=repeat, y2=y2,
                           bn2=bn2 if with_bn2 else None)
        v = lif.v
        grads = []
        if grad:
            gen = torch.Generator().manual_seed(seed)
            loss = (s.float() * torch.randn(s.shape, generator=gen)).sum() + (v * torch.randn(v.shape, generator=gen)).sum()
            loss.backward()
            params = [y, y2, *bn.parameters(), *(bn2.parameters() if with_bn2 else [])]
            grads = [None if p is None else p.grad for p in params]
    finally:
        bnlif.FUSE = old
    state = [*bn.state_dict().values(), *(bn2.state_dict().values() if with_bn2 else [])]
    return s, v, grads, state


def equal(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_last", [True, False])
def test_probe_finds_the_rounding_and_tells_the_other_apart(dtype, channels_last):
    fma = bnlif.mode(dtype, channels_last)
    assert fma is not None, "the kernel cannot match torch's batch norm here: the model runs unfused"
    lib = native.kernel()
    big = [c for c in bnlif._probe_cases(dtype, channels_last) if c[0].numel() > 500_000]
    # the other rounding fails on at least one of the probe's large inputs: the probe can fail
    assert not all(bnlif._matches(lib, not fma, y, y2, ident, tr)
                   for y, y2, ident in big for tr in (True, False))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("kind", ["plain", "identity residual", "bn residual", "encoder"])
@pytest.mark.parametrize("training", [True, False])
def test_fused_layer_equals_the_modules(dtype, channels_last, kind, training, fused_calls):
    grad = training          # eval fuses only without gradients
    a = layer(kind, dtype, channels_last, training, True, grad)
    assert fused_calls["n"] == 1, "the fused path must have run"
    b = layer(kind, dtype, channels_last, training, False, grad)
    assert fused_calls["n"] == 1, "FUSE = False must run the modules"
    s, v = a[0], a[1]
    assert s.dtype == dtype and v.dtype == torch.float32 and 0.05 < s.float().mean() < 0.7
    assert equal(a[0], b[0]) and equal(a[1], b[1])                     # spikes, v[T]
    assert len(a[2]) == len(b[2]) and all(equal(p, q) for p, q in zip(a[2], b[2]))
    assert all(equal(p, q) for p, q in zip(a[3], b[3]))                # running stats, batch count
    if training:
        assert a[2][0] is not None and all(g is not None for g in a[2][2:])   # y and every BN param
        assert int(a[3][-1]) == 1                                      # num_batches_tracked


def model_steps(arch, fuse, amp=False, steps=2, channels_last=True):
    torch.manual_seed(3)
    m = models.build(arch, in_channels=1, width=0.125).train()
    x, y = torch.rand(4, 1, 32, 32), torch.randint(0, 10, (4,))
    if channels_last:
        m, x = m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    old, bnlif.FUSE = bnlif.FUSE, fuse
    try:
        losses = []
        for _ in range(steps):
            m.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                loss = spike_loss(m(x).float(), y)
            loss.backward()
            with torch.no_grad():
                for p in m.parameters():
                    p -= 0.1 * p.grad
            losses.append(loss.detach())
        m.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            logits = m(x)
    finally:
        bnlif.FUSE = old
    return losses, [p.grad for p in m.parameters()], m.state_dict(), logits


@pytest.mark.parametrize("arch,amp", [("resnet19", False), ("vgg16", False), ("resnet19", True)])
def test_whole_model_is_the_same_fused_or_not(arch, amp, fused_calls):
    a = model_steps(arch, True, amp)
    net = models.build(arch, in_channels=1, width=0.125)
    fed_by_bn = [n for n in neurons.neuron_modules(net) if n != "lif_fc"]  # ResNet's fc1 -> LIF: no BN
    assert fused_calls["n"] == 3 * len(fed_by_bn)                      # 2 steps + eval, all fused
    b = model_steps(arch, False, amp)
    assert all(equal(p, q) for p, q in zip(a[0], b[0]))
    assert all(equal(p, q) for p, q in zip(a[1], b[1]))
    assert a[2].keys() == b[2].keys() and all(equal(a[2][k], b[2][k]) for k in a[2])
    assert equal(a[3], b[3])


def test_the_wrong_rounding_would_be_caught(monkeypatch):
    """With the other rounding forced, the fused model is no longer the modules' (the comparison
    above can fail)."""
    key = (torch.float32, True)
    right = bnlif.mode(*key)
    monkeypatch.setitem(bnlif._modes, key, not right)
    a, b = model_steps("resnet19", True, steps=1), model_steps("resnet19", False, steps=1)
    assert not all(equal(p, q) for p, q in zip(a[1], b[1]))


def test_off_by_default():
    import os
    assert bnlif.FUSE == (os.environ.get("UTICKET_FUSE_BN", "0").lower() in ("1", "true", "yes", "on"))


def test_fallbacks_run_the_modules(fused_calls, monkeypatch):
    monkeypatch.setattr(bnlif, "FUSE", True)
    y, y2, _, _ = inputs("identity residual", torch.float32, True)
    seen = []
    bn, bn2 = bns(y.shape[1], True)
    handle = bn.register_forward_hook(lambda m, a, o: seen.append(o))
    bnlif.fire(neurons.lif(), y, bn, tn=(3, 4))
    handle.remove()
    assert fused_calls["n"] == 0 and len(seen) == 1                     # a BN hook: modules
    bnlif.fire(neurons.lif(fast=False), y, bn, tn=(3, 4))              # stock neuron
    bnlif.fire(neurons.lif(), y, bn, tn=(3, 4), y2=y2.contiguous())    # y2's layout differs
    bn.momentum = None
    bnlif.fire(neurons.lif(), y, bn, tn=(3, 4))                        # cumulative averaging
    bn.momentum = 0.1
    bn.eval()
    bnlif.fire(neurons.lif(), y.requires_grad_(), bn, tn=(3, 4))       # eval with gradients
    bnlif.fire(neurons.lif(), y.double(), nn.BatchNorm2d(12).double().eval(), tn=(3, 4))  # fp64
    lif = neurons.lif()
    lif.register_forward_pre_hook(lambda m, a: None)
    bnlif.fire(lif, y, bn, tn=(3, 4))                                  # a pre-hook on the neuron
    bnlif.fire(neurons.lif(), y[:3 * 4, :, :1, :1].contiguous(), bns(12, True)[0], tn=(3, 4))  # 1x1: fused
    assert fused_calls["n"] == 1
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bnlif.fire(neurons.lif(), y[:1, :, :1, :1].contiguous(), bns(12, True)[0], tn=(1, 1))   # as the module
    fused_calls["n"] = 0
    with torch.no_grad():
        bnlif.fire(neurons.lif(), y, bn, tn=(3, 4))                    # eval without: fused
    assert fused_calls["n"] == 1


def test_neuron_hooks_see_the_fused_spikes():
    torch.manual_seed(0)
    m = models.build("resnet19", in_channels=1, width=0.125).train()   # batch statistics
    x = torch.rand(2, 1, 32, 32)
    rates = {}
    for fuse in (True, False):
        seen = []
        hs = [n.register_forward_hook(lambda mod, a, o: seen.append(o.sum().item()))
              for n in neurons.neuron_modules(m).values()]
        old, bnlif.FUSE = bnlif.FUSE, fuse
        try:
            with torch.no_grad():
                m(x)
        finally:
            bnlif.FUSE = old
            for h in hs:
                h.remove()
        rates[fuse] = seen
    assert len(rates[True]) == len(neurons.neuron_modules(m))
    assert rates[True] == rates[False] and sum(rates[True]) > 0


def test_affine_terms_are_torchs_and_tiled_for_the_kernel():
    bn = bns(5, True)[0]
    mean, var = torch.randn(5), torch.rand(5) + 0.1
    fma = bnlif.mode(torch.float32, True)
    for training in (True, False):
        invstd, alpha, beta = bnlif._affine(native.kernel(), fma, bn, mean, var, training, True)
        want = ((1.0 / torch.sqrt(var.double() + bn.eps)).float() if training
                else torch.tensor((1.0 / np.sqrt(var.numpy() + np.float32(bn.eps))).astype(np.float32)))
        assert torch.equal(invstd, want)
        assert alpha.numel() == beta.numel() == 5 + native.BLOCK
        assert torch.equal(alpha[:5], invstd * bn.weight.detach())
        assert all(alpha[k] == alpha[k % 5] and beta[k] == beta[k % 5] for k in range(alpha.numel()))
    assert bnlif._affine(native.kernel(), fma, bn, mean, var, True, False)[1].numel() == 5


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_neuron_carried_over_two_calls_is_the_same(dtype):
    """The second call starts from the first call's membrane (v0): v0's gradient included."""
    out = []
    for fuse in (True, False):
        y, y2, _, _ = inputs("identity residual", dtype, True)
        y, y2 = y.requires_grad_(), y2.requires_grad_()
        bn, _ = bns(y.shape[1], True)
        lif = neurons.lif()
        old, bnlif.FUSE = bnlif.FUSE, fuse
        try:
            s1 = bnlif.fire(lif, y, bn, tn=(3, 4), y2=y2)
            s2 = bnlif.fire(lif, y * 0.5, bn, tn=(3, 4))
        finally:
            bnlif.FUSE = old
        gen = torch.Generator().manual_seed(0)
        ((s1.float() + 2 * s2.float()) * torch.randn(s1.shape, generator=gen)).sum().backward()
        out.append((s1, s2, lif.v, y.grad, y2.grad, bn.weight.grad))
    assert all(equal(p, q) for p, q in zip(*out))
    assert out[0][3].abs().sum() > 0


def test_the_probe_leaves_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    bnlif._probe(native.kernel(), torch.float32, True)
    assert torch.equal(torch.random.get_rng_state(), state)
