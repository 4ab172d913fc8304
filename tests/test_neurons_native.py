"""The LIF neuron's C kernel (models/native.py, lif_kernel.c) against the torch-op neuron it replaces.

Spikes and v[T] must be bit-for-bit the same everywhere. Gradients are bit-for-bit where torch's own
kernels use FMA (the AVX2 / AVX-512 float paths of every real x86-64 machine); on torch's DEFAULT
path (no FMA, used only by CI's emulation of an older CPU) the torch-op surrogate differs by float
rounding, so there they must agree to rounding.
"""
import shutil
import warnings

import pytest
import torch

from uticket_lib import models
from uticket_lib.models import native, neurons
from uticket_lib.training import spike_loss

HAVE_CC = bool(shutil.which("cc") or shutil.which("gcc"))
FMA_PATH = torch.backends.cpu.get_cpu_capability() != "DEFAULT"
needs_kernel = pytest.mark.skipif(not HAVE_CC, reason="no C compiler: the kernel cannot be built here")


def same(a, b, exact):
    if a is None or b is None:
        return a is None and b is None
    if exact:
        return a.dtype == b.dtype and a.stride() == b.stride() and torch.equal(a, b)
    return a.dtype == b.dtype and torch.allclose(a.float(), b.float(), rtol=1e-5, atol=1e-7)


def run(x, v0, use_native, grad_v=True, seed=1):
    """(spikes, v[T], grad x, grad v0) of _LIFFunction with the kernel on or off."""
    old, neurons.USE_NATIVE = neurons.USE_NATIVE, use_native
    try:
        x = x.detach().requires_grad_(True)          # a fresh leaf with x's strides
        v0 = None if v0 is None else v0.detach().clone().requires_grad_(True)
        s, v = neurons._LIFFunction.apply(x, v0, neurons.TAU, neurons.V_THRESHOLD, neurons.SURROGATE_ALPHA)
        g = torch.Generator().manual_seed(seed)
        loss = (s.float() * torch.randn(s.shape, generator=g)).sum()
        if grad_v:
            loss = loss + (v * torch.randn(v.shape, generator=g)).sum()
        loss.backward()
        return s, v, x.grad, None if v0 is None else v0.grad
    finally:
        neurons.USE_NATIVE = old


def layouts(dtype):
    torch.manual_seed(0)
    base = torch.randn(4 * 6, 5, 9, 7) * 1.2 + 0.5
    return {
        "contiguous": base.view(4, 6, 5, 9, 7).to(dtype),
        "channels-last": base.contiguous(memory_format=torch.channels_last).unflatten(0, (4, 6)).to(dtype),
        "repeated over T": base[:6].contiguous(memory_format=torch.channels_last).to(dtype)
                                  .unsqueeze(0).expand(4, -1, -1, -1, -1),
        "flat": (torch.randn(3, 1000) + 0.7).to(dtype),
    }


@needs_kernel
def test_kernel_builds_here():
    assert native.kernel() is not None
    x = layouts(torch.float32)["contiguous"]
    assert neurons._native_lib(x) is not None


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("layout", ["contiguous", "channels-last", "repeated over T", "flat"])
@pytest.mark.parametrize("with_v0", [False, True])
@pytest.mark.parametrize("grad_v", [False, True])
def test_kernel_equals_torch_ops(dtype, layout, with_v0, grad_v):
    x = layouts(dtype)[layout]
    assert neurons._native_lib(x) is not None, "the kernel must take this layout"
    v0 = torch.rand(x.shape[1:]) * 0.9 if with_v0 else None
    a, b = run(x, v0, True, grad_v), run(x, v0, False, grad_v)
    s, v = a[0], a[1]
    assert s.dtype == dtype and v.dtype == torch.float32
    assert same(a[0], b[0], True) and same(a[1], b[1], True)         # spikes, v[T]: everywhere
    assert 0.05 < s.float().mean() < 0.6
    for ga, gb in zip(a[2:], b[2:]):                                  # grad x (x's dtype), grad v0
        assert same(ga, gb, FMA_PATH)
    if dtype == torch.bfloat16:
        assert a[2].dtype == torch.bfloat16


@needs_kernel
def test_kernel_no_grad_path_and_output_layout():
    x = layouts(torch.bfloat16)["channels-last"]
    fast = neurons.lif(fast=True)
    with torch.no_grad():
        s = fast(x)
        v = fast.v
    neurons.reset(fast)
    old, neurons.USE_NATIVE = neurons.USE_NATIVE, False
    try:
        with torch.no_grad():
            s_ref = fast(x)
    finally:
        neurons.USE_NATIVE = old
    assert torch.equal(s, s_ref) and torch.equal(v, fast.v)
    assert s.stride() == x.stride()                  # channels-last in, channels-last out


def test_layouts_the_kernel_refuses_fall_back():
    x = torch.randn(4, 8, 10)
    assert neurons._t_stride(x) == 80
    assert neurons._t_stride(x[:, ::2]) is None                         # gaps
    assert neurons._t_stride(torch.randn(8, 4, 10).transpose(0, 1)) is None   # not timestep-major
    assert neurons._t_stride(torch.randn(8, 10).expand(4, 8, 10)) == 0  # repeated over T
    assert neurons._native_lib(x.double()) is None                      # fp64: torch ops
    y = x[:, ::2]
    assert neurons._native_lib(y) is None
    a, b = run(y, None, True), run(y, None, False)                      # still the same neuron
    assert all(same(p, q, True) for p, q in zip(a, b))


@needs_kernel
def test_whole_model_step_is_the_same_with_and_without_kernel():
    """One bf16 training step of ResNet-19 (residual, encoder repeated over T): same loss, grads."""
    torch.manual_seed(3)
    model = models.build("resnet19", in_channels=1, width=0.125).train()
    x, y = torch.rand(4, 1, 32, 32), torch.randint(0, 10, (4,))
    out = []
    for use in (True, False):
        neurons.reset(model)
        model.zero_grad(set_to_none=True)
        old, neurons.USE_NATIVE = neurons.USE_NATIVE, use
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = spike_loss(model(x).float(), y)
            loss.backward()
        finally:
            neurons.USE_NATIVE = old
        out.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (la, ga), (lb, gb) = out
    assert torch.equal(la, lb)
    if FMA_PATH:
        assert all(same(p, q, True) for p, q in zip(ga, gb))
    else:   # rounding differences of the surrogate, amplified through bf16 layers: same direction
        cos = [torch.nn.functional.cosine_similarity(p.flatten(), q.flatten(), dim=0)
               for p, q in zip(ga, gb) if not torch.equal(p, q)]
        assert not cos or min(cos) > 0.99, min(cos)
    assert any(p.abs().sum() > 0 for p in ga)


@pytest.fixture
def fresh_kernel_state(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("UTICKET_CACHE", str(tmp_path))
    return tmp_path


def test_failed_build_warns_and_falls_back(fresh_kernel_state, monkeypatch):
    monkeypatch.setenv("CC", shutil.which("false") or "/bin/false")
    with pytest.warns(UserWarning, match="compiling lif_kernel.c failed.*torch ops"):
        assert native.kernel() is None
    assert list(fresh_kernel_state.iterdir()) == []                      # nothing half-written
    x = layouts(torch.float32)["contiguous"]
    assert neurons._native_lib(x) is None
    s = neurons.lif(fast=True)(x)                                         # the neuron still works
    assert set(s.unique().tolist()) <= {0.0, 1.0}


def test_switched_off_by_environment(fresh_kernel_state, monkeypatch):
    monkeypatch.setenv("UTICKET_NATIVE_LIF", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert native.kernel() is None
    assert list(fresh_kernel_state.iterdir()) == []


@needs_kernel
def test_cache_is_keyed_by_cpu_flags(fresh_kernel_state, monkeypatch):
    assert native.kernel() is not None
    first = sorted(p.name for p in fresh_kernel_state.iterdir())
    assert len(first) == 1 and first[0].endswith(".so")
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setattr(native, "_cpu_flags", lambda: "some other machine")
    assert native.kernel() is not None
    assert len(list(fresh_kernel_state.iterdir())) == 2                  # rebuilt, not reused
