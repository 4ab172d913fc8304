"""Batch norm (plus a residual) fused into the LIF neuron's C kernel, bit for bit the separate modules.

``fire(lif, y, bn, ...)`` is the neuron's spikes for the current ``bn(y) [+ bn2(y2) | + y2]``.
Unfused, torch's batch norm writes the current to memory, the residual add writes it again, and
the neuron reads it back; fused, the neuron's kernel (``lif_kernel.c``) applies the batch norm's
per-channel scale and shift and the add as it reads ``y`` (and ``y2``), in forward and backward,
and the current is never stored. These passes are memory-bound, but what the fusion buys a whole
training step (``ci/bench_bnlif.py``, ``ci/bench_results/bnlif*.json``) was within the noise on a
2-core AVX2 EPYC in fp32: ResNet-19 0.99-1.03x, VGG-16 0.99-1.03x over the modules (four runs of
alternate steps, medians of each pair's ratio, quartiles straddling 1). So it is off by default (``FUSE``; ``UTICKET_FUSE_BN=1`` turns it on), kept
for machines where batch norm weighs more (bf16: 17 % of VGG-16's step on an AMX Xeon).

Bit for bit, by construction and by check:

- the batch statistics and the running-statistics update are torch's own
  (``torch.batch_norm_update_stats``, the routine ``native_batch_norm`` runs); invstd as torch
  forms it (``1 / sqrt(var + eps)`` in double in training; in float from the running variance in
  eval), scale ``alpha = invstd * weight`` and shift ``beta = bias - mean * alpha``, formed in C
  (``bn_affine``);
- the current ``x * alpha + beta`` rounded as torch's batch-norm kernel rounds it on this machine:
  one fused multiply-add where torch's kernels use FMA, a product and a sum where they do not
  (torch's DEFAULT float path). ``mode(dtype, layout)`` finds out which with a probe against
  ``nn.BatchNorm2d`` at first use (train and eval, with either residual); where neither matches,
  ``fire`` runs the separate modules;
- each term and the sum rounded to the current's dtype (bf16 under autocast), as torch writes them;
- the backward is torch's ``native_batch_norm_backward`` on the neuron's gradient, the very call
  autograd makes for ``nn.BatchNorm2d``.

``fire`` runs the separate modules (the same numbers) wherever the fusion does not
apply: SpikingJelly's stock neuron, no C kernel, a layout or dtype the kernel does not take, a
batch norm with hooks, with parameters or statistics not fp32, without affine parameters or
running statistics, with cumulative (``momentum=None``) averaging or eps 0, one value per channel
in training, or in eval mode with gradients; a neuron with forward pre-hooks or in single-step
mode; and unless ``FUSE`` (``UTICKET_FUSE_BN=1``). Forward hooks on the neuron still see
its spikes.
"""
from __future__ import annotations

import os
import threading

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from . import native, neurons

# Off by default: on a 2-core AVX2 EPYC in fp32 it bought nothing beyond the noise (bnlif*.json); on with
# UTICKET_FUSE_BN=1 (or FUSE = True), to measure where batch norm weighs more (bf16 machines).
FUSE = os.environ.get("UTICKET_FUSE_BN", "0").strip().lower() in ("1", "true", "yes", "on")

_modes: dict[tuple[torch.dtype, bool], bool | None] = {}   # (dtype, channels-last) -> fma, or None
_lock = threading.Lock()


# ---------------------------------------------------------------------------------------------
# the per-channel scale and shift, as torch forms them

def _batch_affine(bn: nn.BatchNorm2d, y: torch.Tensor, lib, fma: bool, tiled: bool):
    """Training: (mean, invstd, alpha, beta) of ``y``'s batch ``[B, C, H, W]``, updating ``bn``'s
    running statistics and batch count as its forward would (torch's own routine)."""
    with torch.no_grad():
        bn.num_batches_tracked.add_(1)
        mean, var = torch.batch_norm_update_stats(y.detach(), bn.running_mean, bn.running_var,
                                                  bn.momentum)
    return (mean, *_affine(lib, fma, bn, mean, var, True, tiled))


def _affines(bn, y, bn2, y2, lib, fma: bool, training: bool, tiled: bool):
    """(stats, (alpha, beta), stats2, (alpha2, beta2)) of both terms: batch statistics (mean,
    invstd) in training, None in eval; (None, None) for a term without batch norm."""
    if training:
        m, s, *aff = _batch_affine(bn, y, lib, fma, tiled)
        stats2, aff2 = None, (None, None)
        if bn2 is not None:
            m2, s2, *aff2 = _batch_affine(bn2, y2, lib, fma, tiled)
            stats2 = (m2, s2)
        return (m, s), aff, stats2, aff2
    aff2 = _running_affine(bn2, lib, fma, tiled) if bn2 is not None else (None, None)
    return None, _running_affine(bn, lib, fma, tiled), None, aff2


def _running_affine(bn: nn.BatchNorm2d, lib, fma: bool, tiled: bool):
    """Eval: (alpha, beta) from ``bn``'s running statistics."""
    return _affine(lib, fma, bn, bn.running_mean, bn.running_var, False, tiled)[1:]


def _affine(lib, fma: bool, bn, mean, var, training: bool, tiled: bool):
    """(invstd, alpha, beta), formed in C as torch forms them (lif_kernel.c: bn_affine); alpha and
    beta tiled for the kernel where the channel cycles fastest."""
    C = mean.numel()
    L = C + native.BLOCK if tiled else C
    out = torch.empty(C + 2 * L)
    lib.bn_affine(mean.data_ptr(), var.data_ptr(), int(training), bn.eps, bn.weight.data_ptr(),
                  bn.bias.data_ptr(), out.data_ptr(), C, int(tiled), int(fma))
    return out[:C], out[C:C + L], out[C + L:]


# ---------------------------------------------------------------------------------------------
# layouts

def _channel_stride(y: torch.Tensor) -> int | None:
    """The stride of ``y [B, C, H, W]``'s channel dim if ``y`` is contiguous or channels-last (the
    two layouts whose torch kernels the probe checks; a neuron at flat offset i within a timestep
    then has channel (i / stride) % C), else None."""
    if y.dim() != 4 or not (y.is_contiguous() or y.is_contiguous(memory_format=torch.channels_last)):
        return None
    return y.stride(1) if y.shape[1] > 1 else 1


def _layout_ok(y: torch.Tensor, y2: torch.Tensor | None) -> bool:
    """The kernel takes ``y`` (dtype, device: ``neurons._native_lib``) with a known channel
    layout, and ``y2`` (if any) is laid out alike."""
    if neurons._native_lib(y) is None or _channel_stride(y) is None:
        return False
    return y2 is None or (y2.shape == y.shape and y2.stride() == y.stride() and y2.dtype == y.dtype)


def _bn_ok(bn) -> bool:
    return (type(bn) is nn.BatchNorm2d and bn.affine and bn.track_running_stats
            and bn.running_mean is not None and bn.momentum is not None and bn.eps > 0
            and all(t.dtype == torch.float32 and t.device.type == "cpu" and t.is_contiguous()
                    for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var))
            and not bn._forward_hooks and not bn._forward_pre_hooks
            and not nn.modules.module._global_forward_hooks
            and not nn.modules.module._global_forward_pre_hooks)


# ---------------------------------------------------------------------------------------------
# the probe

def _reference(bn, y, bn2, y2):
    """torch's own current: bn(y) [+ bn2(y2) | + y2]."""
    h = bn(y)
    if y2 is not None:
        h = h + (bn2(y2) if bn2 is not None else y2)
    return h


def _kernel_current(lib, fma, bn, y, bn2, y2, training):
    """The kernel's current for the same inputs (updates running statistics when ``training``)."""
    cstride = _channel_stride(y)
    _, aff, _, aff2 = _affines(bn, y, bn2, y2, lib, fma, training, cstride == 1)
    n = y[0].numel()
    desc = native.lif_in(y, n, *aff, y2, n, *aff2, y.shape[1], cstride, fma)
    out = torch.empty_strided(y.shape, y.stride(), dtype=y.dtype)
    fn = lib.lif_input_bf16 if y.dtype == torch.bfloat16 else lib.lif_input_f32
    fn(desc, out.data_ptr(), y.shape[0], n)
    return out


def _probe_cases(dtype: torch.dtype, channels_last: bool):
    """Inputs for the probe: (y, y2 or None, y2 is an identity shortcut). Channel counts off the
    vector widths, and two of about a million values: in bf16 the two roundings of x * alpha + beta
    differ after rounding to bf16 in only a few values per million."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g = torch.Generator().manual_seed(0)
    for shape in ((6, 11, 5, 3), (4, 40, 3, 5), (64, 16, 32, 32), (250, 40, 10, 10)):
        def t(scale, shift):
            return (torch.randn(shape, generator=g) * scale + shift).contiguous(memory_format=fmt).to(dtype)
        yield t(3.0, 0.5), None, False
        yield t(2.0, -0.3), t(1.5, 0.2), False
        yield t(2.0, 0.1), (torch.rand(shape, generator=g) < 0.3).to(dtype).contiguous(memory_format=fmt), True


def random_bn(C: int, generator: torch.Generator) -> nn.BatchNorm2d:
    """A batch norm with random affine parameters and running statistics (probe and tests)."""
    bn = nn.BatchNorm2d(C)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5, generator=generator)
        bn.bias.uniform_(-0.5, 0.5, generator=generator)
        bn.running_mean.uniform_(-0.5, 0.5, generator=generator)
        bn.running_var.uniform_(0.5, 2.0, generator=generator)
    return bn


def _matches(lib, fma: bool, y, y2, identity: bool, training: bool) -> bool:
    """The kernel's current equals torch's for these inputs, running statistics included."""
    C = y.shape[1]
    g = torch.Generator().manual_seed(1)
    ours, theirs = [], []
    for _ in range(2):
        bn = random_bn(C, g)
        twin = nn.BatchNorm2d(C)
        twin.load_state_dict(bn.state_dict())
        ours.append(bn.train(training))
        theirs.append(twin.train(training))
    second = y2 is not None and not identity
    with torch.no_grad():
        ref = _reference(theirs[0], y, theirs[1] if second else None, y2)
        got = _kernel_current(lib, fma, ours[0], y, ours[1] if second else None, y2, training)
    return torch.equal(ref, got) and all(
        torch.equal(p, q) for a, b in zip(ours, theirs)
        for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def _probe(lib, dtype: torch.dtype, channels_last: bool) -> bool | None:
    """The rounding of torch's batch norm here (True: one FMA), or None if the kernel matches
    neither: train and eval, alone and with either residual, running statistics included. Leaves
    torch's global random state as it found it (the probe may run in the middle of training)."""
    with torch.random.fork_rng(devices=[]):
        cases = list(_probe_cases(dtype, channels_last))
        for fma in (True, False):
            if all(_matches(lib, fma, y, y2, identity, training)
                   for y, y2, identity in cases for training in (True, False)):
                return fma
    return None


def mode(dtype: torch.dtype, channels_last: bool) -> bool | None:
    """How this machine's torch rounds a batch norm's ``x * alpha + beta`` for ``dtype`` and
    layout (True: one FMA, False: a product and a sum), or None where the kernel cannot match it
    (or there is no kernel): then ``fire`` runs the separate modules. Probed once per process."""
    key = (dtype, channels_last)
    if key not in _modes:
        with _lock:
            if key not in _modes:
                lib = native.kernel()
                _modes[key] = None if lib is None else _probe(lib, dtype, channels_last)
    return _modes[key]


# ---------------------------------------------------------------------------------------------
# the fused neuron

class _BNLIFFunction(torch.autograd.Function):
    """(y, weight, bias, y2, weight2, bias2, v0) -> (spikes [T, N, ...], v[T] [N, ...]).

    ``spec`` holds what is not differentiated: the shape, the statistics, the scales and shifts.
    Saves ``y``, ``y2`` and ``v0``; the backward recomputes the current in the kernel.
    """

    @staticmethod
    def forward(ctx, y, w, b, y2, w2, b2, v0, spec):
        ctx.spec = spec
        ctx.set_materialize_grads(False)
        ctx.v0_grad = v0 is not None and ctx.needs_input_grad[6]
        ctx.save_for_backward(y, y2, v0, w, w2)
        lib = native.kernel()
        return neurons._native_forward(lib, spec.view(y), v0, spec.tau, spec.v_th,
                                       current=spec.current(y, y2))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_s, grad_v):
        y, y2, v0, w, w2 = ctx.saved_tensors       # the weights as the forward saw them
        sp = ctx.spec
        x = sp.view(y)
        if grad_s is None and grad_v is None:
            return (None,) * 8
        grad_h, grad_v0 = neurons._native_backward(native.kernel(), x, v0, grad_s, grad_v, sp.tau,
                                                   sp.v_th, sp.k, sp.c, ctx.v0_grad,
                                                   current=sp.current(y, y2))
        # the gradient of the flat current [B, C, H, W], as autograd hands it to the batch norm
        g = (grad_h.sum([0], keepdim=True).view(y.shape) if sp.repeat else grad_h.flatten(0, 1))
        need = ctx.needs_input_grad
        gy, gw, gb = _bn_backward(g, y, w, sp.bn, sp.stats, need[0:3])
        gy2 = gw2 = gb2 = None
        if y2 is not None:
            if sp.bn2 is None:
                gy2 = g if need[3] else None
            else:
                gy2, gw2, gb2 = _bn_backward(g, y2, w2, sp.bn2, sp.stats2, need[3:6])
        return gy, gw, gb, gy2, gw2, gb2, grad_v0, None


def _bn_backward(g, y, w, bn, stats, need):
    if not any(need):
        return None, None, None
    mean, invstd = stats
    return torch.ops.aten.native_batch_norm_backward(
        g, y, w, bn.running_mean, bn.running_var, mean, invstd, True, bn.eps, list(need))


class _Spec:
    """What the fused function needs besides its tensors (shapes, statistics, scales, consts)."""

    def __init__(self, lif, y, tn, repeat, bn, bn2, y2, fma, lib, training):
        self.tn, self.repeat = tn, repeat
        self.bn, self.bn2 = bn, bn2
        self.tau, self.v_th = lif.tau, lif.v_threshold
        self.k, self.c = neurons.surrogate_consts(lif.surrogate_function.alpha)
        self.fma, self.C, self.cstride = fma, y.shape[1], _channel_stride(y)
        self.stats, self.aff, self.stats2, self.aff2 = _affines(bn, y, bn2, y2, lib, fma, training,
                                                                self.cstride == 1)

    def view(self, y: torch.Tensor) -> torch.Tensor:
        """The current's shape ``[T, N, C, H, W]`` as a view of ``y`` (strides of one timestep)."""
        return y.expand(self.repeat, *y.shape) if self.repeat else y.unflatten(0, self.tn)

    def current(self, y, y2) -> native.LifIn:
        n = y.numel() if self.repeat else y[0].numel() * self.tn[1]     # neurons per timestep
        xs = 0 if self.repeat else n
        return native.lif_in(y, xs, *self.aff, y2, n if y2 is not None else 0, *self.aff2,
                             self.C, self.cstride, self.fma)


def fire(lif: nn.Module, y: torch.Tensor, bn: nn.Module, tn=None, repeat: int | None = None,
         y2: torch.Tensor | None = None, bn2: nn.Module | None = None) -> torch.Tensor:
    """Spikes ``[T, N, C, H, W]`` of neuron ``lif`` driven by ``bn(y) [+ bn2(y2) | + y2]``.

    ``y`` (and ``y2``) ``[T*N, C, H, W]`` with ``tn = (T, N)``, or ``y [N, C, H, W]`` fed at every
    one of ``repeat`` timesteps (direct encoding; no ``y2``). ``bn2`` None adds ``y2`` as it is
    (an identity shortcut). Fused into the neuron's kernel where that is exact (module doc).
    """
    training = bn.training
    fused = (FUSE and isinstance(lif, neurons.FastLIFNode) and lif._fused()
             and lif.step_mode == "m" and not lif._forward_pre_hooks
             and (tn is None) != (repeat is None) and (repeat is None or y2 is None)
             and _bn_ok(bn) and (bn2 is None or (_bn_ok(bn2) and bn2.training == training))
             and _layout_ok(y, y2))
    if fused and not training:     # eval: only without gradients (the kernel's inference path)
        params = [*bn.parameters(), *(bn2.parameters() if bn2 is not None else ())]
        fused = not (torch.is_grad_enabled() and (y.requires_grad or (y2 is not None and y2.requires_grad)
                                                  or any(p.requires_grad for p in params)))
    if fused and training:     # one value per channel: the module raises, so let it
        fused = y.numel() // y.shape[1] > 1 and (y2 is None or y2.numel() // y2.shape[1] > 1)
    # torch takes its contiguous kernel wherever the input is contiguous (also when channels-last)
    fma = mode(y.dtype, not y.is_contiguous()) if fused else None
    if fma is None:
        h = _reference(bn, y, bn2, y2)
        return lif(h.expand(repeat, *h.shape) if repeat else h.unflatten(0, tn))
    lib = native.kernel()
    spec = _Spec(lif, y, tn, repeat, bn, bn2, y2, fma, lib, training)

    def run(node):
        x = spec.view(y)
        v0 = neurons._like(x[0], node.initial_v(x), torch.float32)
        if torch.is_grad_enabled():
            return _BNLIFFunction.apply(y, bn.weight, bn.bias, y2,
                                        bn2.weight if bn2 is not None else None,
                                        bn2.bias if bn2 is not None else None, v0, spec)
        with torch.no_grad():
            return neurons._native_forward(lib, x, v0, spec.tau, spec.v_th,
                                           current=spec.current(y, y2))

    return lif(spec.view(y), fused_current=run)
