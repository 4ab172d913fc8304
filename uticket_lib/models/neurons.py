"""Spiking neurons: the only module that imports SpikingJelly.

SpikingJelly LIF, tau 4/3, threshold 1, hard reset, ATan surrogate, multi-step mode. The LIF neuron
of the released code (SpikingJelly ``LIFNode``, tau = 4/3, decay_input=True):

    h[t] = v[t-1] + (x[t] - v[t-1]) / tau = 0.25 * v[t-1] + 0.75 * x[t]
    s[t] = 1 if h[t] >= 1 else 0          (backward: ATan surrogate, alpha = 2)
    v[t] = h[t] * (1 - s[t])              (hard reset to 0; the reset is detached from the graph)

Neurons run in multi-step mode: input and output are ``[T, N, ...]``.

Speed: ``lif()`` returns a ``FastLIFNode``, a ``LIFNode`` subclass whose multi-step forward runs
as one ``torch.autograd.Function``: the loop over T runs without autograd and the backward is the
analytic reverse-time recursion (no per-step graph). Where a C compiler is at hand that function runs
the C kernel of ``models/native.py`` (``lif_kernel.c``: one pass over memory, bf16 read without a
cast pass, the backward recomputes the membrane from the saved input); elsewhere, or with
``USE_NATIVE = False`` / ``UTICKET_NATIVE_LIF=0``, the torch ops below. Both give spikes and ``v``
bit-for-bit SpikingJelly's (same float op order) and gradients equal to SpikingJelly's autograd up
to float rounding; kernel and torch ops agree bit for bit where torch uses FMA (AVX2 / AVX-512).
On CPU a neuron layer trains ~3-7x faster than with the torch ops (``ci/bench_results/train.json``:
``torch_op_lif``), a whole VGG-16 / ResNet-19 step ~1.1x (fp32) and ~1.4-1.7x (bf16). Eval / no-grad
calls take the same loop. ``lif(fast=False)``, or building a model inside ``with fast_lif(False):``,
gives SpikingJelly's stock ``LIFNode`` (backend 'torch'); ``FAST`` is the module-wide default.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from typing import Iterator

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from uticket_lib.models import native

# SpikingJelly decorates its kernels with torch.jit.script at import, which torch now deprecates.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", ".*torch.jit.script.* is deprecated", FutureWarning)
    from spikingjelly.activation_based import functional, neuron, surrogate

TAU = 4.0 / 3.0       # membrane time constant: leak factor 1 - 1/tau = 0.25
V_THRESHOLD = 1.0
V_RESET = 0.0
SURROGATE_ALPHA = 2.0
FAST = True           # default of lif(fast=None): the fused neuron (False: SpikingJelly's own)
# Under bf16 autocast the fused neuron keeps its membrane (charge, leak, threshold test) in fp32,
# reading the bf16 input in mixed-dtype ops, and emits spikes in the input's dtype (0 and 1 are
# exact in bf16). With bf16 membranes (LIF_FP32 = False: 8 significant bits, so a membrane within
# ~2^-8 of the threshold fires or not by rounding) ResNet-19's dense network lost 0.7-1.8 points at
# the cpu profile (83.1 / 84.2 % against 85.1 % with fp32 membranes and 84.9 % in fp32, 10,000 test
# images; ci/bench_results/amp_equivalence.json); VGG-16 showed none. On torch ops fp32 membranes
# cost most of bf16's gain (the neuron's passes are memory-bound): end to end on a 2-core EPYC
# 0.92-1.05x (VGG-16) / 1.01-1.06x (ResNet-19) fp32 (ci/bench_results/book_cpu_torchop_bench_
# before/after.json, beside the 371a68a build), against 1.33x / 1.29x with bf16 membranes (train_bf16_membranes.json). The C kernel
# (USE_NATIVE) reads bf16 and keeps the membrane in fp32 registers: bf16 then trains 1.35-1.50x /
# 1.51-1.58x faster than fp32 model-only at batch 32 on a 2-core EPYC (ci/bench_results/
# book_cpu_2baa1ba_bench_*.json and book_cpu_33ac3d2_bench_*.json, the readings beside two builds).
LIF_FP32 = True
# The C kernel (models/native.py, lif_kernel.c) runs the fused neuron where it can be built: the
# numbers of the torch ops below (bit for bit where torch uses FMA), one pass over memory.
USE_NATIVE = True


def _acc_dtype(x: torch.Tensor) -> torch.dtype:
    """The membrane's dtype for input ``x``: fp32 for bf16 / fp16 input when ``LIF_FP32``."""
    return torch.float32 if LIF_FP32 and x.dtype in (torch.bfloat16, torch.float16) else x.dtype


def _charge_fire(x: torch.Tensor, v0: torch.Tensor | None, tau: float, v_th: float):
    """LIF forward over T without autograd, in SpikingJelly's float op order.

    x ``[T, N, ...]``, v0 ``[N, ...]`` or None (all 0) -> ``g = -h [T, N, ...]``, ``v[T] [N, ...]``.
    Works on the negated charge g = -h (negation is exact), so that the hard reset
    ``-v = g if h < v_th else 0`` is a single ``torch.threshold``. g and v are in ``_acc_dtype(x)``:
    with bf16 input the arithmetic runs in fp32 on the bf16 values (mixed-dtype ops promote), with
    no separate cast pass over x.
    """
    acc = _acc_dtype(x)
    g = torch.empty_like(x, dtype=acc)                                # -h    [T, N, ...]
    w = torch.empty_like(x[0], dtype=acc)                             # -v[t] [N, ...]
    for t in range(x.shape[0]):
        if t == 0 and v0 is None:
            g[0].copy_(x[0]).div_(-tau)                               # -(0 + (x - 0) / tau)
        else:
            w_prev = w if t else -v0
            torch.add(x[t], w_prev, out=g[t]).div_(tau)               # (x - v) / tau
            torch.sub(w_prev, g[t], out=g[t])                         # -(v + (x - v) / tau)
        torch.threshold(g[t], -v_th, 0.0, out=w)                      # -v[t]: 0 where it fired
    return g, w.neg_()


def _graph_is_freed() -> bool:
    """True in a backward that frees the graph (no retain_graph): saved buffers may be reused."""
    keep_graph = getattr(torch._C._autograd, "_get_current_graph_task_keep_graph", None)
    return keep_graph is not None and not keep_graph()


def _dense(x: torch.Tensor) -> bool:
    """True if ``x`` fills its memory without gaps or overlaps (in any dim order, e.g. channels-last)."""
    expected = 1
    for size, stride in sorted(((sz, st) for sz, st in zip(x.shape, x.stride()) if sz != 1),
                               key=lambda p: p[1]):
        if stride != expected:
            return False
        expected *= size
    return True


def _t_stride(x: torch.Tensor) -> int | None:
    """The C kernel's step between timesteps of ``x [T, ...]``: ``n`` (timestep-major, each ``x[t]``
    the flat block at ``t * n``) or 0 (one input repeated over T, as the encoder's); None if neither
    or if ``x[0]`` is not dense."""
    n = x[0].numel()
    if not _dense(x[0]):
        return None
    if x.shape[0] == 1:
        return n
    return x.stride(0) if x.stride(0) in (0, n) else None


def _native_lib(x: torch.Tensor):
    """The C kernel if it can take ``x`` (CPU, fp32 or bf16 with fp32 membranes, dense), else None."""
    if not USE_NATIVE or x.device.type != "cpu" or x.dim() < 2 or _t_stride(x) is None:
        return None
    if x.dtype != torch.float32 and not (x.dtype == torch.bfloat16 and LIF_FP32):
        return None
    return native.kernel()


def _like(ref: torch.Tensor, t: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """``t`` with ``ref``'s strides and ``dtype`` (a copy only where they differ); None stays None."""
    if t is None or (t.stride() == ref.stride() and t.dtype == dtype):
        return t
    return torch.empty_like(ref, dtype=dtype).copy_(t)


def _native_forward(lib, x, v0, tau: float, v_th: float):
    """C-kernel forward: (spikes in x's dtype, v[T] fp32); v0 fp32 with x[0]'s strides or None."""
    T, n = x.shape[0], x[0].numel()
    # outputs timestep-major with x[0]'s strides (e.g. channels-last), also where x repeats over T
    spikes = torch.empty_strided(x.shape, (n, *x[0].stride()), dtype=x.dtype)
    v_last = torch.empty_like(x[0], dtype=torch.float32)
    fn = lib.lif_forward_bf16 if x.dtype == torch.bfloat16 else lib.lif_forward_f32
    native.run(fn, T, n, x.data_ptr(), _t_stride(x), native.ptr(v0), spikes.data_ptr(),
               v_last.data_ptr(), (tau, v_th))
    return spikes, v_last


def _native_backward(lib, x, v0, grad_s, grad_v, tau: float, v_th: float, k: float, c: float,
                     v0_grad: bool):
    """C-kernel backward from the input alone: (grad_x in x's dtype, grad_v0 fp32 or None)."""
    T, n = x.shape[0], x[0].numel()
    shape, strides = x.shape, (n, *x[0].stride())
    grad_x = torch.empty_strided(shape, strides, dtype=x.dtype)
    grad_s = _like(grad_x, grad_s, x.dtype)
    grad_v = _like(grad_x[0], grad_v, torch.float32)
    grad_v0 = torch.empty_like(x[0], dtype=torch.float32) if v0_grad else None
    fn = lib.lif_backward_bf16 if x.dtype == torch.bfloat16 else lib.lif_backward_f32
    native.run(fn, T, n, x.data_ptr(), _t_stride(x), native.ptr(v0), native.ptr(grad_s),
               native.ptr(grad_v), grad_x.data_ptr(), native.ptr(grad_v0),
               (tau, v_th, k, c, 1.0 - 1.0 / tau))
    return grad_x, grad_v0


class _LIFFunction(torch.autograd.Function):
    """(x ``[T, N, ...]``, v0 ``[N, ...]`` or None) -> (spikes ``[T, N, ...]``, v[T] ``[N, ...]``).

    Saves 1 / sg'(h - v_th) (in the buffer of g) and the spikes, which the next layer keeps anyway.
    """

    @staticmethod
    def forward(ctx, x, v0, tau: float, v_th: float, alpha: float):
        # 1 / ATan'(h - v_th) = 2/alpha (1 + (pi/2 alpha (h - v_th))^2) = k + c (h - v_th)^2
        k, c = 2.0 / alpha, 2.0 / alpha * (math.pi / 2 * alpha) ** 2
        ctx.tau, ctx.v0_grad = tau, v0 is not None and ctx.needs_input_grad[1]
        ctx.set_materialize_grads(False)
        lib = _native_lib(x)
        if lib is not None:        # saves only the input: the backward recomputes the membrane
            v0 = _like(x[0], v0, torch.float32)
            spikes, v_last = _native_forward(lib, x, v0, tau, v_th)
            ctx.native, ctx.consts = True, (tau, v_th, k, c)
            ctx.save_for_backward(x, v0)
            return spikes, v_last
        ctx.native = False
        g, v_last = _charge_fire(x, v0, tau, v_th)
        spikes = torch.le(g, -v_th, out=torch.empty_like(x))          # h >= v_th -> 1., else 0. (x's dtype)
        u = g.add_(v_th)                                              # -(h - v_th), in place of g
        torch.addcmul(g.new_full((), k), u, u, value=c, out=g)
        ctx.save_for_backward(g, spikes)
        return spikes, v_last

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_s, grad_v):
        # grad_h[t] = grad_s[t] sg'[t] + grad_v[t] (1 - s[t])  (detach_reset: no d reset / d s term)
        # grad_v[t-1] = (1 - 1/tau) grad_h[t],  grad_x[t] = grad_h[t] / tau
        if ctx.native:
            x, v0 = ctx.saved_tensors
            return (*_native_backward(native.kernel(), x, v0, grad_s, grad_v, *ctx.consts,
                                      ctx.v0_grad), None, None, None)
        inv_sg, spikes = ctx.saved_tensors                            # [T, N, ...]
        if grad_s is None:
            gh = torch.zeros_like(inv_sg)
        else:                                                         # gh: grad_h [T, N, ...]
            gh = torch.div(grad_s, inv_sg, out=inv_sg if _graph_is_freed() else None)
        carry = torch.empty_like(gh[0])                               # grad_v (1 - s) [N, ...]
        if grad_v is not None:
            gh[-1].add_(torch.addcmul(grad_v, grad_v, spikes[-1], value=-1.0, out=carry))
        leak = 1.0 - 1.0 / ctx.tau
        for t in range(gh.shape[0] - 1, 0, -1):
            torch.addcmul(gh[t], gh[t], spikes[t - 1], value=-1.0, out=carry)  # 0 where s = 1
            gh[t - 1].add_(carry, alpha=leak)
        grad_v0 = gh[0] * leak if ctx.v0_grad else None
        return gh.div_(ctx.tau), grad_v0, None, None, None


class FastLIFNode(neuron.LIFNode):
    """SpikingJelly ``LIFNode`` whose multi-step forward is ``_LIFFunction`` (same numbers).

    Falls back to SpikingJelly for anything but a hard reset to 0 with decay_input, detach_reset,
    an ATan surrogate in spiking mode and store_v_seq off.
    """

    def _fused(self) -> bool:
        return (self.decay_input and self.v_reset == 0.0 and self.detach_reset
                and not self.store_v_seq and isinstance(self.surrogate_function, surrogate.ATan)
                and self.surrogate_function.spiking)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not self._fused():
            return super().multi_step_forward(x_seq)
        v0 = None if isinstance(self.v, float) and self.v == 0.0 else self.v
        if isinstance(v0, float):
            v0 = torch.full_like(x_seq[0], v0, dtype=_acc_dtype(x_seq))
        args = (self.tau, self.v_threshold, self.surrogate_function.alpha)
        if torch.is_grad_enabled() and (x_seq.requires_grad or v0 is not None and v0.requires_grad):
            spikes, self.v = _LIFFunction.apply(x_seq, v0, *args)
        else:
            with torch.no_grad():
                lib = _native_lib(x_seq)
                if lib is not None:
                    spikes, self.v = _native_forward(lib, x_seq, _like(x_seq[0], v0, torch.float32),
                                                     args[0], args[1])
                    return spikes
                g, self.v = _charge_fire(x_seq, v0, args[0], args[1])
                spikes = torch.le(g, -args[1], out=g if g.dtype == x_seq.dtype else torch.empty_like(x_seq))
        return spikes


def lif(fast: bool | None = None) -> nn.Module:
    """A multi-step LIF neuron: input current ``[T, N, ...]`` -> spikes ``[T, N, ...]`` (0./1.).

    ``fast`` (default: the module flag ``FAST``) picks the fused ``FastLIFNode`` over SpikingJelly's
    stock ``LIFNode``; both compute the same neuron.
    """
    cls = FastLIFNode if (FAST if fast is None else fast) else neuron.LIFNode
    return cls(
        tau=TAU,
        decay_input=True,
        v_threshold=V_THRESHOLD,
        v_reset=V_RESET,
        surrogate_function=surrogate.ATan(alpha=SURROGATE_ALPHA),
        detach_reset=True,
        step_mode="m",
        backend="torch",
    )


@contextlib.contextmanager
def fast_lif(enabled: bool) -> Iterator[None]:
    """Inside the block, ``lif()`` builds the fused (True) or the stock (False) neuron."""
    global FAST
    old, FAST = FAST, enabled
    try:
        yield
    finally:
        FAST = old


def reset(model: nn.Module) -> None:
    """Reset the membrane potential of every neuron in ``model`` to its initial value."""
    functional.reset_net(model)


def neuron_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The spiking neurons of ``model`` by qualified name, in registration order.

    Forward hooks on these modules see outputs of shape ``[T, N, ...]`` holding 0/1 spikes: the
    training module uses them for firing rates (spikes per neuron per timestep).
    """
    return {name: m for name, m in model.named_modules() if isinstance(m, neuron.BaseNode)}
