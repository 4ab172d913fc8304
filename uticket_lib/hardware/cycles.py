"""From non-zero weights to PE cycles (paper Table II), in four modes (``CYCLE_MODES``).

One cycle = one non-zero weight meeting one input spike bit in one PE (Sec. III-B1: one bit of the
input activation is cast to the PE at a time). Every mode returns per-block work [B] and latency [B]
in cycles; idle = n_pe * latency - work, so work + idle = n_pe * latency in every mode.

"output" (default, the reconstruction of Table II, see notes Sec. 4): every non-zero weight is used
    at every output position at every timestep: load = nnz(filter) * H_out * W_out * T.
"valid": padding-aware "output": weight (c, r, s) counts only at the output positions whose input tap
    (r, s) falls inside the image: load = sum_{c,r,s} mask * n_valid(r, s) * T.
"events": only (weight, input spike = 1) pairs cost a cycle, per timestep. The PEs of a block share
    the broadcast input and synchronise per (timestep, output position): block latency =
    sum over (t, p) of max over PEs; a (t, p) where no PE has work costs nothing.
"ticks": the paper's dataflow (Sec. III-B1): the activation unit drops input activations whose
    T-bit spike train is all zero; a non-zero activation is streamed bit by bit, so every
    (weight, non-zero activation) pair costs T cycles whatever its bits. PEs synchronise per output
    position: latency = T * sum over p of max over PEs of the matches at p.
In both event modes the counts are means per image over the recorded batch (float), and the encoder
conv (analog image, direct encoding, run once) is counted as dense: "valid" with T = 1.
Every mode but "events" charges zero spike bits: Eq. 3's (1 - S) takes care of them in energy.py.

A new mode is one ``CycleMode`` entry in ``CYCLE_MODES`` (static loads, or how recorded spikes become
rows of conv counts); the report, the reordering, the analysis and the CLI read the registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .geometry import HardwareInputError, Layer, layer_hooks
from .workload import filter_loads, pe_blocks

SYNCS = ("position", "block")
_CHUNK = 1 << 24  # elements of one conv-count chunk [M, K, H_out, W_out] (64 MB of float32)


def steps(layer: Layer, timesteps: int) -> int:
    """Times a layer runs per image: 1 for the encoder (direct encoding), else T."""
    return 1 if layer.role == "encoder" else timesteps


def valid_taps(layer: Layer) -> torch.Tensor:
    """int64 [R, S]: output positions at which kernel tap (r, s) reads inside the input image."""
    def one(n_out, n_in, k, st, pad, dil):
        pos = torch.arange(n_out)[None, :] * st - pad + torch.arange(k)[:, None] * dil  # [k, n_out]
        return ((pos >= 0) & (pos < n_in)).sum(1)                                       # [k]
    (R, S), (H, W), (Ho, Wo) = layer.kernel, layer.in_hw, layer.out_hw
    vh = one(Ho, H, R, layer.stride[0], layer.padding[0], layer.dilation[0])
    vw = one(Wo, W, S, layer.stride[1], layer.padding[1], layer.dilation[1])
    return vh[:, None] * vw[None, :]


def _output_loads(mask: torch.Tensor, layer: Layer, T: int):
    q = layer.positions * T
    return filter_loads(mask) * q, q


def _valid_loads(mask: torch.Tensor, layer: Layer, T: int):
    K = mask.shape[0]
    taps = mask.reshape(K, layer.in_channels, -1).sum(1).long()          # [K, R*S] non-zeros per tap
    return (taps * valid_taps(layer).reshape(1, -1).to(taps.device)).sum(1) * T, 1


@dataclass(frozen=True)
class CycleMode:
    """One way of counting cycles. A static mode has ``loads(mask, layer, T) -> (int64 [K], quantum)``;
    an event mode has ``rows(x [T, N, C, H, W]) -> (rows [M, C, H, W], scale)``: the 0/1 input rows
    whose conv counts, times ``scale``, are its work (and needs recorded inputs); where no spikes are
    known (the encoder, compile-time reordering) an event mode uses ``STATIC_FALLBACK``'s loads."""
    doc: str
    loads: Callable | None = None
    rows: Callable | None = None

    @property
    def needs_inputs(self) -> bool:
        return self.rows is not None


CYCLE_MODES: dict[str, CycleMode] = {
    "output": CycleMode("every non-zero weight at every output position and timestep (Table II)",
                        loads=_output_loads),
    "valid": CycleMode("padding-aware output: only taps that read inside the image", loads=_valid_loads),
    "events": CycleMode("one cycle per (weight, input spike = 1) pair per timestep",
                        rows=lambda x: (x.flatten(0, 1), 1)),
    "ticks": CycleMode("the paper's dataflow: T cycles per (weight, non-zero activation) pair",
                       rows=lambda x: (x.amax(0), x.shape[0])),
}
# Views of the registry as it is at import (the CLI's choices, defaults); the functions below read
# CYCLE_MODES itself, so a mode registered later (a test's toy mode) works everywhere.
MODES = tuple(CYCLE_MODES)
EVENT_MODES = tuple(n for n, m in CYCLE_MODES.items() if m.needs_inputs)
STATIC_MODES = tuple(n for n in MODES if n not in EVENT_MODES)
STATIC_FALLBACK = "valid"


def _mode(mode: str, where: str) -> CycleMode:
    if mode not in CYCLE_MODES:
        raise ValueError(f"{where}: mode must be one of {tuple(CYCLE_MODES)}, got {mode!r}")
    return CYCLE_MODES[mode]


def static_mode(mode: str) -> str:
    """The static mode behind ``mode``: itself, or ``STATIC_FALLBACK`` for an event mode."""
    return STATIC_FALLBACK if CYCLE_MODES[mode].needs_inputs else mode


def filter_cycles(mask: torch.Tensor, layer: Layer, mode: str = "output", timesteps: int = 4):
    """Static per-filter loads in cycles -> (int64 [K], quantum).

    quantum = cycles per non-zero weight ("output"), used by Eq. 2's ceil average; 1 for "valid".
    """
    if _mode(mode, "filter_cycles").loads is None:
        raise ValueError(f"filter_cycles: {mode!r} counts recorded spikes; give a static mode "
                         f"({', '.join(n for n, m in CYCLE_MODES.items() if m.loads)})")
    return CYCLE_MODES[mode].loads(mask, layer, steps(layer, timesteps))


def spike_maps(x: torch.Tensor, layer: Layer, timesteps: int) -> torch.Tensor:
    """Recorded input -> float 0/1 event maps [T, N, C, H, W] ([T, N, F, 1, 1] for Linear).

    Accepts [T, N, C, H, W] or time-major merged [T*N, C, H, W] (Linear: [T, N, F] or [T*N, F]).
    """
    C = layer.in_channels
    if layer.kind == "linear":
        if x.shape[-1] != C or x.numel() % (timesteps * C):
            raise HardwareInputError(f"inputs '{layer.name}': shape {tuple(x.shape)} does not fit "
                                     f"[T={timesteps}, N, {C}]")
        if x.dim() >= 3 and x.shape[0] != timesteps:
            raise HardwareInputError(f"inputs '{layer.name}': T={x.shape[0]} != timesteps={timesteps}")
        return (x.reshape(timesteps, -1, C, 1, 1) != 0).float()
    chw = (C, *layer.in_hw)
    if tuple(x.shape[-3:]) != chw or x.dim() not in (4, 5):
        raise HardwareInputError(f"inputs '{layer.name}': shape {tuple(x.shape)} does not fit [T, N, {chw}]")
    if (x.dim() == 5 and x.shape[0] != timesteps) or (x.dim() == 4 and x.shape[0] % timesteps):
        raise HardwareInputError(f"inputs '{layer.name}': shape {tuple(x.shape)} does not fit T={timesteps}")
    return (x.reshape(timesteps, -1, *chw) != 0).float()


def _counts(x: torch.Tensor, w: torch.Tensor, layer: Layer) -> torch.Tensor:
    """Matches per output position per filter: x [M, C, H, W] 0/1, w [K, C, R, S] 0/1 -> [M, K, Ho, Wo]."""
    return F.conv2d(x, w, stride=layer.stride, padding=layer.padding, dilation=layer.dilation)


def event_cycles(mask, layer, n_pe, spikes, mode="events", sync="position", timesteps=4):
    """Per-block work [B] and latency [B] in cycles per image, and spike-bit matches per image.

    spikes: recorded input (see ``spike_maps``). Returns (work, latency, dynamic) with dynamic =
    number of (non-zero weight, spike bit = 1) pairs, the exact dynamic-energy count of Eq. 3.
    """
    if mode not in CYCLE_MODES or not CYCLE_MODES[mode].needs_inputs or sync not in SYNCS:
        raise ValueError(f"event_cycles: mode {mode!r} / sync {sync!r} not supported")
    x = spike_maps(spikes, layer, timesteps)                                  # [T, N, C, H, W]
    T, N = x.shape[:2]
    K, B = mask.shape[0], -(-mask.shape[0] // n_pe)
    w = (mask != 0).float().reshape(K, layer.in_channels, *layer.kernel)     # [K, C, R, S]
    w = torch.cat([w, w.new_zeros(B * n_pe - K, *w.shape[1:])])               # zero-padded PEs
    dynamic = _counts(x.flatten(0, 1), w.sum(0, keepdim=True), layer).sum(dtype=torch.float64)
    rows, scale = CYCLE_MODES[mode].rows(x)                                   # [M, C, H, W]
    work = torch.zeros(B, dtype=torch.float64)
    lat = torch.zeros(B, dtype=torch.float64)
    per_pe = torch.zeros(B, n_pe, dtype=torch.float64)
    step = max(1, _CHUNK // (B * n_pe * layer.positions))
    for i in range(0, rows.shape[0], step):
        c = _counts(rows[i:i + step], w, layer).reshape(-1, B, n_pe, layer.positions)  # [M, B, P, Ho*Wo]
        work += c.sum((0, 2, 3), dtype=torch.float64)
        if sync == "position":
            lat += c.amax(2).sum((0, 2), dtype=torch.float64)
        else:
            per_pe += c.sum((0, 3), dtype=torch.float64)
    if sync == "block":
        lat = per_pe.amax(1)
    return work * scale / N, lat * scale / N, dynamic.item() / N


def block_cycles(mask, layer, n_pe=16, mode="output", timesteps=4, spikes=None, sync="position"):
    """Per-block cycles of one layer -> dict(work [B], latency [B] float64, quantum, dynamic).

    dynamic: spike-bit matches per image for the event modes (None otherwise: Eq. 3 uses 1 - S).
    """
    event = _mode(mode, "block_cycles").needs_inputs
    if not event or layer.role == "encoder":
        loads, q = filter_cycles(mask, layer, static_mode(mode), timesteps)
        blocks = pe_blocks(loads, n_pe).double()                             # [B, n_pe]
        dyn = blocks.sum().item() if event else None
        return {"work": blocks.sum(1), "latency": blocks.amax(1), "quantum": q, "dynamic": dyn}
    if spikes is None:
        raise HardwareInputError(f"mode {mode!r}: no recorded inputs for layer '{layer.name}'")
    work, lat, dyn = event_cycles(mask, layer, n_pe, spikes, mode, sync, timesteps)
    return {"work": work, "latency": lat, "quantum": 1, "dynamic": dyn}


def record_inputs(model: nn.Module, x: torch.Tensor, timesteps: int | None = None) -> dict:
    """Input non-zero pattern of every Conv2d / Linear: {weight name: bool [T, N, C, H, W] | [T, N, F]}.

    T: ``timesteps`` (int, or {weight name: T_l} for a time plan), else the model's
    ``layer_timesteps()`` / ``timesteps``, else the leading dim of the [T, N, classes] output.
    The encoder (first conv executed) sees the analog image once: stored as [1, N, C, H, W]; the
    cycle model treats it as dense and never reads it. Layers called once per timestep on
    un-merged inputs are stacked over calls. Runs in eval mode under no_grad; modes are restored.
    """
    raw: dict[str, list] = {}
    convs: list[str] = []

    def hook(name, module, args, output):
        if isinstance(module, nn.Conv2d) and name not in raw:
            convs.append(name)
        raw.setdefault(name, []).append(args[0].detach() != 0)

    with layer_hooks(model, hook):
        model.eval()
        with torch.no_grad():
            out = model(x)
    if timesteps is None and getattr(model, "time_plan", None) is not None:
        timesteps = model.layer_timesteps()
    per_layer = timesteps if isinstance(timesteps, dict) else {}
    T = (None if per_layer else timesteps) or getattr(model, "timesteps", None) or (
        out.shape[0] if out.dim() == 3 else 1)
    rec = {}
    for name, xs in raw.items():
        Tl = per_layer.get(name, T)
        t = torch.cat(xs) if len(xs) > 1 else xs[0]                 # [T*N, ...] time-major
        if convs and name == convs[0]:
            rec[name] = t.reshape(1, *t.shape)                       # encoder: [1, N, C, H, W]
        else:
            rec[name] = t.reshape(Tl, -1, *t.shape[-3 if name in convs else -1:])
    return rec
