"""Spiking neurons: the only module that imports SpikingJelly.

SpikingJelly LIF, tau 4/3, threshold 1, hard reset, ATan surrogate, multi-step mode. The LIF neuron
of the released code (SpikingJelly ``LIFNode``, tau = 4/3, decay_input=True):

    h[t] = v[t-1] + (x[t] - v[t-1]) / tau = 0.25 * v[t-1] + 0.75 * x[t]
    s[t] = 1 if h[t] >= 1 else 0          (backward: ATan surrogate, alpha = 2)
    v[t] = h[t] * (1 - s[t])              (hard reset to 0; the reset is detached from the graph)

Neurons run in multi-step mode: input and output are ``[T, N, ...]``.

Speed: ``lif()`` returns a ``FastLIFNode``, a ``LIFNode`` subclass whose multi-step forward runs
as one ``torch.autograd.Function``: the loop over T runs without autograd and the backward is the
analytic reverse-time recursion (no per-step graph). Spikes and the final ``v`` are bit-for-bit
SpikingJelly's (same float op order); gradients equal SpikingJelly's autograd up to float rounding.
On CPU a neuron layer trains ~4-8x faster, a VGG-16 / ResNet-19 step ~1.4-1.6x. Eval / no-grad
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
# images; ci/bench_results/amp_equivalence.json); VGG-16 showed none. fp32 membranes cost most of
# bf16's gain (the neuron's passes are memory-bound): end to end on a 2-core EPYC 0.92-1.05x
# (VGG-16) / 1.01-1.06x (ResNet-19) fp32 (ci/bench_results/book_cpu_bench_before/after.json),
# against 1.33x / 1.29x with bf16 membranes (ci/bench_results/train_bf16_membranes.json).
LIF_FP32 = True


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


class _LIFFunction(torch.autograd.Function):
    """(x ``[T, N, ...]``, v0 ``[N, ...]`` or None) -> (spikes ``[T, N, ...]``, v[T] ``[N, ...]``).

    Saves 1 / sg'(h - v_th) (in the buffer of g) and the spikes, which the next layer keeps anyway.
    """

    @staticmethod
    def forward(ctx, x, v0, tau: float, v_th: float, alpha: float):
        g, v_last = _charge_fire(x, v0, tau, v_th)
        spikes = torch.le(g, -v_th, out=torch.empty_like(x))          # h >= v_th -> 1., else 0. (x's dtype)
        # 1 / ATan'(h - v_th) = 2/alpha (1 + (pi/2 alpha (h - v_th))^2), in place of g
        k = 2.0 / alpha
        u = g.add_(v_th)                                              # -(h - v_th)
        torch.addcmul(g.new_full((), k), u, u, value=k * (math.pi / 2 * alpha) ** 2, out=g)
        ctx.save_for_backward(g, spikes)
        ctx.tau, ctx.v0_grad = tau, v0 is not None and ctx.needs_input_grad[1]
        ctx.set_materialize_grads(False)
        return spikes, v_last

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_s, grad_v):
        # grad_h[t] = grad_s[t] sg'[t] + grad_v[t] (1 - s[t])  (detach_reset: no d reset / d s term)
        # grad_v[t-1] = (1 - 1/tau) grad_h[t],  grad_x[t] = grad_h[t] / tau
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
