"""Spiking neurons: the only module that imports SpikingJelly.

The LIF neuron of the released code (SpikingJelly ``LIFNode``, tau = 4/3, decay_input=True):

    v[t] = v[t-1] + (x[t] - v[t-1]) / tau = 0.25 * v[t-1] + 0.75 * x[t]
    s[t] = 1 if v[t] >= 1 else 0          (backward: ATan surrogate, alpha = 2)
    v[t] = 0 where s[t] = 1               (hard reset; the reset is detached from the graph)

Neurons run in multi-step mode: input and output are ``[T, N, ...]``.
"""
from __future__ import annotations

import warnings

from torch import nn

# SpikingJelly decorates its kernels with torch.jit.script at import, which torch now deprecates.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", ".*torch.jit.script.* is deprecated", FutureWarning)
    from spikingjelly.activation_based import functional, neuron, surrogate

TAU = 4.0 / 3.0       # membrane time constant: leak factor 1 - 1/tau = 0.25
V_THRESHOLD = 1.0
V_RESET = 0.0
SURROGATE_ALPHA = 2.0


def lif() -> nn.Module:
    """A multi-step LIF neuron: input current ``[T, N, ...]`` -> spikes ``[T, N, ...]`` (0./1.)."""
    return neuron.LIFNode(
        tau=TAU,
        decay_input=True,
        v_threshold=V_THRESHOLD,
        v_reset=V_RESET,
        surrogate_function=surrogate.ATan(alpha=SURROGATE_ALPHA),
        detach_reset=True,
        step_mode="m",
        backend="torch",
    )


def reset(model: nn.Module) -> None:
    """Reset the membrane potential of every neuron in ``model`` to its initial value."""
    functional.reset_net(model)


def neuron_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The spiking neurons of ``model`` by qualified name, in registration order.

    Forward hooks on these modules see outputs of shape ``[T, N, ...]`` holding 0/1 spikes: the
    training module uses them for firing rates (spikes per neuron per timestep).
    """
    return {name: m for name, m in model.named_modules() if isinstance(m, neuron.BaseNode)}
