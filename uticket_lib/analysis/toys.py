"""Teaching toys: the LIF neuron by hand next to the library's, the surrogate gradient, layer tables of
the two networks, and the four-filter toy layer of Fig. 3.
"""
from __future__ import annotations

import math
import time
from typing import Mapping

import pandas as pd
import torch

from .. import hardware, models
from ..models import neurons
from ..pruning import balance as balancelib
from ..pruning import mask as masklib
from .paper_compare import NOTES_WEIGHTS


def toy_current(steps: int = 16) -> torch.Tensor:
    """A piecewise-constant input current [steps] that shows the LIF regimes.

    Quarter by quarter: 0.5 (sub-threshold: the potential saturates at 0.5 and never fires), 1.2
    (fires every other step), 2.0 (fires every step), 0 (silence, the potential stays at 0).
    No value lands exactly on the threshold, so spikes do not depend on float rounding.
    """
    q = max(1, steps // 4)
    levels = [0.5, 1.2, 2.0, 0.0]
    values = [levels[min(i // q, 3)] for i in range(steps)]
    return torch.tensor(values, dtype=torch.float32)


def lif_reference(current, tau: float = neurons.TAU, v_th: float = neurons.V_THRESHOLD,
                  v_reset: float = neurons.V_RESET) -> pd.DataFrame:
    """The LIF recursion computed by hand in Python floats, one row per timestep.

    charge h[t] = v[t-1] + (x[t] - v[t-1]) / tau = (1 - 1/tau) v[t-1] + x[t] / tau;
    spike s[t] = [h[t] >= v_th]; membrane after reset v[t] = h[t] (1 - s[t]) + v_reset s[t].
    """
    v, rows = 0.0, []
    for t, x in enumerate(float(c) for c in current):
        h = v + (x - v) / tau
        s = 1.0 if h >= v_th else 0.0
        v = h * (1 - s) + v_reset * s
        rows.append({"t": t, "input": x, "charge": h, "spike": s, "membrane": v})
    return pd.DataFrame(rows).set_index("t")


def lif_simulate(current) -> pd.DataFrame:
    """The library's neuron (``models.neurons.lif()``) fed one timestep at a time.

    Returns per timestep the input, the spike and the membrane potential after the reset (the state
    the neuron carries to the next step).
    """
    x = torch.as_tensor(current, dtype=torch.float32).reshape(-1, 1, 1)   # [T, N=1, 1]
    node = neurons.lif()
    neurons.reset(node)
    rows = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            s = node(x[t:t + 1])                                          # [1, 1, 1]
            v = node.v if torch.is_tensor(node.v) else torch.tensor(float(node.v))
            rows.append({"t": t, "input": float(x[t]), "spike": float(s.reshape(-1)[0]),
                         "membrane": float(v.reshape(-1)[0]) + 0.0})
    return pd.DataFrame(rows).set_index("t")


def lif_table(current) -> pd.DataFrame:
    """Hand computation next to the library neuron: charge, spikes and membrane of both, per step.

    Columns: input, charge (hand), spike (hand), spike (library), membrane (hand),
    membrane (library), match (spikes equal and membranes within 1e-6).
    """
    ref, sim = lif_reference(current), lif_simulate(current)
    out = pd.DataFrame({"input": ref["input"], "charge (hand)": ref["charge"],
                        "spike (hand)": ref["spike"].astype(int), "spike (library)": sim["spike"].astype(int),
                        "membrane (hand)": ref["membrane"], "membrane (library)": sim["membrane"]})
    out["match"] = ((out["spike (hand)"] == out["spike (library)"])
                    & ((out["membrane (hand)"] - out["membrane (library)"]).abs() < 1e-6))
    return out


def surrogate_frame(lo: float = -2.0, hi: float = 2.0, points: int = 201,
                    alpha: float = neurons.SURROGATE_ALPHA) -> pd.DataFrame:
    """Forward step and backward surrogate of the spike function around the threshold.

    u = h - v_th (distance of the charge from the threshold). Columns: ``heaviside`` (the forward
    spike), ``atan`` (the smooth function whose slope the backward pass uses,
    1/pi arctan(pi/2 alpha u) + 1/2), ``formula`` (its derivative alpha/2 / (1 + (pi/2 alpha u)^2))
    and ``autograd`` (the gradient that actually flows through ``models.neurons.lif()``, measured
    by backpropagating one step of the neuron: ds/dx = sg'(u) / tau, multiplied back by tau).
    """
    u = torch.linspace(lo, hi, points, dtype=torch.float32)
    x = ((u + neurons.V_THRESHOLD) * neurons.TAU).reshape(1, -1).requires_grad_(True)   # [T=1, N]
    node = neurons.lif()
    neurons.reset(node)
    spikes = node(x)
    spikes.sum().backward()
    k = math.pi / 2 * alpha
    return pd.DataFrame({
        "u": u.numpy(), "heaviside": spikes.detach().reshape(-1).numpy(),
        "atan": (torch.atan(k * u) / math.pi + 0.5).numpy(),
        "formula": (alpha / 2 / (1 + (k * u) ** 2)).numpy(),
        "autograd": (x.grad.reshape(-1) * neurons.TAU).numpy(),
    })


def layer_table(arch: str, width: float = 1.0, in_channels: int = 1, num_classes: int = 10,
                timesteps: int = 4) -> pd.DataFrame:
    """One row per conv / linear layer of a network, in execution order (``hardware.trace``).

    Columns: layer (weight name), kind, role, weight shape (K x C x R x S or K x C), stride,
    input and output feature maps (C x H x W), weights (dense count) and covered (balanced by
    u-Ticket and counted by the workload model: every conv except the encoder).
    """
    torch.manual_seed(0)
    model = models.build(arch, in_channels=in_channels, num_classes=num_classes, width=width,
                         timesteps=timesteps)
    traced = hardware.trace(model, (1, in_channels, 32, 32))
    covered = set(hardware.covered_layers(traced))
    rows = [{"layer": l.name.removesuffix(".weight"), "kind": l.kind, "role": l.role,
             "weight shape": " x ".join(map(str, l.weight_shape)),
             "stride": str(l.stride[0]) if l.kind == "conv" else "–",   # a linear layer has none
             "input": f"{l.in_channels} x {l.in_hw[0]} x {l.in_hw[1]}",
             "output": f"{l.out_channels} x {l.out_hw[0]} x {l.out_hw[1]}",
             "weights": l.n_weights, "covered": l.name in covered} for l in traced]
    return pd.DataFrame(rows)


def param_counts(archs, widths, in_channels: int = 3, num_classes: int = 10) -> pd.DataFrame:
    """Dense weight counts per (arch, width): conv + linear weights (what is pruned), all
    parameters (biases and BN included), conv layers, covered share, and the notes' count at width 1.
    """
    rows = []
    for arch in archs:
        for width in widths:
            model = models.build(arch, in_channels=in_channels, num_classes=num_classes, width=width)
            prunable = masklib.prunable(model)
            traced = hardware.trace(model, (1, in_channels, 32, 32))
            covered = set(hardware.covered_layers(traced))
            n_prunable = sum(p.numel() for p in prunable.values())
            rows.append({
                "arch": arch, "width": width, "in channels": in_channels,
                "weights (conv+linear)": n_prunable,
                "all parameters": sum(p.numel() for p in model.parameters()),
                "conv layers": sum(1 for l in traced if l.kind == "conv"),
                "linear layers": sum(1 for l in traced if l.kind == "linear"),
                "covered share": sum(prunable[n].numel() for n in covered) / n_prunable,
                # the notes give the count at width 1 only; a dash elsewhere (not NaN)
                "notes (width 1)": (f"{NOTES_WEIGHTS[arch]:,.0f}" if width == 1 and arch in NOTES_WEIGHTS
                                    else "–"),
            })
    return pd.DataFrame(rows)


TOY_LOADS = (7, 2, 4, 3)   # non-zero weights of the four 3x3 filters of the toy layer (16 of 36)


def toy_masks(loads=TOY_LOADS, kernel: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    """A toy layer (one input channel, ``len(loads)`` filters of kernel x kernel) whose filter f
    keeps ``loads[f]`` weights at seeded random positions ("imbalanced"), and the same mask after
    u-Ticket's balancing with one PE per filter ("balanced", ``pruning.balance.balance``).
    """
    g = torch.Generator().manual_seed(seed)
    size = kernel * kernel
    mask = torch.zeros(len(loads), 1, kernel, kernel)
    for f, load in enumerate(loads):
        if not 0 <= load <= size:
            raise ValueError(f"load {load} of filter {f} must lie in [0, {size}]")
        mask[f].view(-1)[torch.randperm(size, generator=g)[:load]] = 1.0
    balanced = balancelib.balance({"toy": mask}, n_pe=len(loads), covered=["toy"], seed=seed)["toy"]
    return {"imbalanced": mask, "balanced": balanced}


def toy_workload(masks: Mapping[str, torch.Tensor], n_pe: int | None = None) -> pd.DataFrame:
    """Eq. 2 on each toy mask (``hardware.layer_workload``, loads = non-zero weights per PE):
    the PE loads, work, idle, latency (cycles of the slowest PE), utilization, work + idle and
    n_PE x latency (always equal)."""
    rows = []
    for name, m in masks.items():
        n = n_pe or m.shape[0]
        st = hardware.layer_workload(m, n)
        rows.append({"mask": name, "PE loads": str(hardware.filter_loads(m).tolist()),
                     "non-zeros": int(m.sum()), "work": st["work"], "idle": st["idle"],
                     "latency": st["latency"], "utilization": st["utilization"],
                     "work + idle": st["work"] + st["idle"], "n_PE x latency": n * st["latency"]})
    return pd.DataFrame(rows).set_index("mask")


def pe_loads_frame(masks: Mapping[str, torch.Tensor]) -> pd.DataFrame:
    """Long table mask, pe, load (one filter per PE) for the bar chart of Fig. 3."""
    return pd.DataFrame([{"mask": name, "pe": j, "load": int(v)}
                         for name, m in masks.items() for j, v in enumerate(hardware.filter_loads(m))])
