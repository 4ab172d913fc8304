"""``report()``: the one entry point of the accelerator model (and of ``uticket hw``). JSON-ready."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from . import energy as E
from . import memory as M
from .cycles import CYCLE_MODES, SYNCS, block_cycles, spike_maps
from .geometry import HardwareInputError, Layer, check_masks
from .reorder import ORDERS, permutation, static_loads
from .workload import AVGS, WEIGHTINGS, layer_stats, network_stats



def covered_layers(layers: list[Layer], include_linear: bool = False) -> list[str]:
    """The paper's covered set: every conv but the encoder (1x1 shortcuts included); Linear optional."""
    return [l.name for l in layers
            if (l.kind == "conv" and l.role != "encoder") or (include_linear and l.kind == "linear")]


def _options(n_pe, mode, timesteps, avg, weighting, reorder, sync, energy):
    def need(ok, msg):
        if not ok:
            raise HardwareInputError(msg)
    need(isinstance(n_pe, int) and n_pe >= 1, f"n_pe must be an integer >= 1, got {n_pe!r}")
    if isinstance(timesteps, dict):
        bad = [(n, t) for n, t in timesteps.items() if isinstance(t, bool) or not isinstance(t, int) or t < 1]
        need(not bad, f"timesteps: T of layer {bad[0][0] if bad else ''!r} must be an integer >= 1, "
                      f"got {bad[0][1] if bad else None!r}")
    else:
        need(isinstance(timesteps, int) and timesteps >= 1, f"timesteps must be an integer >= 1 "
             f"(or a {{layer: T}} mapping), got {timesteps!r}")
    need(mode in CYCLE_MODES, f"mode must be one of {tuple(CYCLE_MODES)}, got {mode!r}")
    need(avg in AVGS, f"avg must be one of {AVGS}, got {avg!r}")
    need(weighting in WEIGHTINGS, f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    need(reorder is None or reorder in ORDERS, f"reorder must be None or one of {ORDERS}, got {reorder!r}")
    need(sync in SYNCS, f"sync must be one of {SYNCS}, got {sync!r}")
    need(isinstance(energy, E.EnergyModel) or energy in E.PRESETS,
         f"energy must be one of {sorted(E.PRESETS)}, got {energy!r}")


def _spikes(layers, cov, spike_sparsity, inputs, timesteps, Ts):
    """Input spike sparsity S_l and active share a_l (>= 1 spike in T) per layer, network S and a.

    Measured from ``inputs`` (network values: covered layers, weighted by input size), or given
    (scalar / per layer), or none (S = 0). The encoder's analog input counts as dense (S = 0, a = 1).
    """
    S, act = {}, {}
    if inputs is not None:
        zeros = bits = on = slots = 0.0
        for l in layers:
            if l.role != "encoder" and l.name in inputs:
                x = spike_maps(inputs[l.name], l, Ts[l.name])                # [T_l, N, C, H, W]
                S[l.name], act[l.name] = 1 - x.mean().item(), x.amax(0).mean().item()
                if l.name in cov:
                    zeros, bits, on = zeros + (1 - x).sum().item(), bits + x.numel(), on + x.amax(0).sum().item()
                    slots += x[0].numel()
        net = zeros / bits if bits else 0.0
        if isinstance(timesteps, int):
            net_act = on * timesteps / bits if bits else 1.0
        else:
            net_act = on / slots if slots else 1.0
        source = "measured from recorded inputs"
    elif isinstance(spike_sparsity, dict):
        need = [l.name for l in layers if l.name in cov and l.role != "encoder"]
        missing = [n for n in need if n not in spike_sparsity]
        if missing:
            raise HardwareInputError(f"spike_sparsity: no value for covered layer(s) {', '.join(missing[:5])}")
        S = {n: float(v) for n, v in spike_sparsity.items()}
        net = sum(S[n] for n in need) / len(need) if need else 0.0
        net_act = M.active_fraction(net, timesteps) if isinstance(timesteps, int) else None
        source = "given per layer (network: plain mean)"
    else:
        net = 0.0 if spike_sparsity is None else float(spike_sparsity)
        net_act = M.active_fraction(net, timesteps) if isinstance(timesteps, int) else None
        source = "none: S = 0 (every spike bit set, an upper bound)" if spike_sparsity is None else "given"
    if not 0.0 <= net <= 1.0 or any(not 0.0 <= v <= 1.0 for v in S.values()):
        raise HardwareInputError("spike_sparsity must lie in [0, 1]")
    for l in layers:
        if l.role == "encoder":
            S[l.name], act[l.name] = 0.0, 1.0
        S.setdefault(l.name, net)
        act.setdefault(l.name, M.active_fraction(S[l.name], Ts[l.name]))
    return S, act, net, net_act, source


def _const(c: E.Constant) -> dict:
    return asdict(c)


MIN_WEIGHT_BITS = 2   # bits: ternary weights as 2-bit codes, the narrowest the memory model stores


def _bits_of(weight_bits, names) -> dict:
    """{layer name: b} from an int or a per-layer dict (missing layers: 16 bits)."""
    per = weight_bits if isinstance(weight_bits, dict) else {n: weight_bits for n in names}
    unknown = sorted(set(per) - set(names))
    if unknown:
        raise HardwareInputError(f"weight_bits: unknown layer name(s) {', '.join(unknown[:5])}")
    for n, b in per.items():
        if isinstance(b, bool) or not isinstance(b, int) or not MIN_WEIGHT_BITS <= b <= M.WORD_BITS:
            raise HardwareInputError(f"weight_bits must be an integer in [{MIN_WEIGHT_BITS}, {M.WORD_BITS}] "
                                     f"(2 = ternary), got {b!r} for {n}")
    return {n: per.get(n, M.WORD_BITS) for n in names}


@dataclass(frozen=True)
class _Options:
    """What report() settles once for every layer."""
    n_pe: int
    mode: str
    timesteps: dict          # {layer: T_l}
    planes: dict             # {layer: input bit-planes}
    avg: str
    sync: str
    order: str | None        # filter reordering before mapping
    memory: bool
    per_layer: bool          # a time plan: rows record T_l and planes
    net_s: float             # the network's input spike sparsity


def _layer(l, mask, cov, o: "_Options", S, act, net_act, inputs, energy_model, bits=M.WORD_BITS):
    """One row of report()['layers']."""
    n_pe, mode = o.n_pe, o.mode
    T, P = o.timesteps[l.name], o.planes[l.name]
    TP = T * P                       # cycles: one per (weight, input bit) over T_l steps x bit-planes
    energy_model = E.at_bits(energy_model, bits)
    nnz = int(mask.sum())
    row = {"name": l.name, "role": l.role, "kind": l.kind, "covered": l.name in cov,
           "weight_shape": list(l.weight_shape), "n_weights": l.n_weights, "nnz": nnz,
           "weight_sparsity": 1 - nnz / l.n_weights, "n_filters": l.out_channels,
           "in_hw": list(l.in_hw), "out_hw": list(l.out_hw), "positions": l.positions,
           "spike_sparsity": S[l.name], "lif_updates": E.lif_updates(l, T)}
    if o.per_layer:
        row.update(timesteps=T, input_planes=P)
    if o.order is not None:
        mask = mask[permutation(static_loads(mask, l, mode, TP)[0], o.order)]   # a reordered copy
    spikes = None if inputs is None else inputs.get(l.name)
    if CYCLE_MODES[mode].needs_inputs and spikes is None and l.role != "encoder" and l.name not in cov:
        row.update(dict.fromkeys(("work", "idle", "latency", "latency_s", "utilization", "busy_fraction",
                                  "n_blocks", "dynamic", "energy", "energy_breakdown")))
    else:
        # event modes count recorded non-zero inputs per step (a summed input is one event there)
        bc = block_cycles(mask, l, n_pe, mode, T if CYCLE_MODES[mode].needs_inputs else TP, spikes, o.sync)
        st = layer_stats(bc["work"], bc["latency"], n_pe, o.avg, bc["quantum"])
        dyn = bc["dynamic"] if bc["dynamic"] is not None else st["work"] * (1 - S[l.name])
        row.update(st, latency_s=E.latency_seconds(st["latency"]), dynamic=dyn,
                   energy=E.eq3(st["work"], st["idle"], S[l.name], energy_model, dyn),
                   energy_breakdown=E.breakdown(st["work"], st["idle"], S[l.name], row["lif_updates"],
                                                energy_model, dyn))
        # PE energy for the system split: the preset itself where it is in pJ
        pj = energy_model if energy_model.unit == "pJ" else E.at_bits("bottom_up_32nm", bits)
        br = E.breakdown(st["work"], st["idle"], S[l.name], row["lif_updates"], pj, dyn)
        row["_pe_pj"] = sum(br.values()) if br else E.eq3(st["work"], st["idle"], S[l.name], pj, dyn)
    row["synaptic_updates"] = row.get("dynamic")   # event-mode count: (non-zero weight, set input bit) pairs
    # LIF neurons x steps; the encoder's conv runs once but its neurons fire over T_l steps
    row["neuron_evaluations"] = E.lif_updates(replace(l, role="conv") if l.role == "encoder" else l, T)
    if o.memory:
        out_act = net_act if net_act is not None else M.active_fraction(o.net_s, T)
        row["memory"] = M.layer_memory(mask, l, n_pe, T, act[l.name], out_act, in_steps=TP,
                                       weight_bits=bits)
    if bits != M.WORD_BITS:
        row["weight_bits"] = bits
    return row


def _network(rows, cov, weighting, energy_model, net_s, mem):
    c = [r for r in rows if r["covered"]]
    net = network_stats(c, [r["n_weights"] for r in c], [r["nnz"] for r in c], weighting)
    nw, nz = sum(r["n_weights"] for r in rows), sum(r["nnz"] for r in rows)
    cw, cz = sum(r["n_weights"] for r in c), sum(r["nnz"] for r in c)
    net.update(latency_s=E.latency_seconds(net["latency"]), energy=sum(r["energy"] for r in c),
               energy_unit=energy_model.unit, dynamic=sum(r["dynamic"] for r in c),
               n_weights=nw, nnz=nz, weight_sparsity=1 - nz / nw,
               weight_sparsity_covered=1 - cz / cw if cw else 0.0, spike_sparsity=net_s, n_covered=len(c))
    if energy_model.components is not None:
        net["energy_breakdown"] = {k: sum(r["energy_breakdown"][k] for r in c)
                                   for k in vars(energy_model.components)}
        net["energy_breakdown_total"] = sum(net["energy_breakdown"].values())
    else:
        net["energy_breakdown"] = net["energy_breakdown_total"] = None
    net["neuron_evaluations"] = sum(r["neuron_evaluations"] for r in rows)   # every LIF of the network
    net["synaptic_updates"] = sum(r["synaptic_updates"] for r in c)
    pe_pj = sum(r["_pe_pj"] for r in c)
    pe_preset = energy_model.name if energy_model.unit == "pJ" else "bottom_up_32nm"
    for r in rows:
        r.pop("_pe_pj", None)
    if mem:
        net["memory"] = {**M.system([r["memory"] for r in c], pe_pj), "pe_energy_preset": pe_preset,
                         "scope": "covered layers"}
    return net


def report(masks: dict, layers: list[Layer], n_pe: int = 16, mode: str = "output", timesteps: int = 4,
           energy="paper_calibrated", spike_sparsity=None, avg: str = "mean", weighting: str = "params",
           include_linear: bool = False, reorder: str | None = None, inputs: dict | None = None,
           sync: str = "position", covered: list[str] | None = None, memory: bool = True,
           input_planes: dict | None = None, weight_bits: int | dict = 16) -> dict:
    """Workload (Eq. 2), cycles (Table II), energy (Eq. 3, Fig. 8) and memory (Fig. 9) of masked layers.

    masks: {weight name: 0/1 tensor of the layer's weight shape}; layers: from ``geometry.trace``.
    mode: "output" | "valid" | "events" | "ticks" (cycles.py); event modes need ``inputs`` from
    ``cycles.record_inputs``. spike_sparsity: network S (float), per-layer {name: S}, or None
    (measured from ``inputs`` if given, else S = 0). reorder: None | "identity" | "sorted"
    (compile-time filter order from static loads: "output" cycles in output mode, padding-aware
    "valid" cycles otherwise; the mask is untouched). sync: PE barrier of the event modes
    ("position": per tick and output position; "block": once per block). covered: layer names to
    sum over (default: every conv but the encoder, plus Linear layers if ``include_linear``).
    timesteps: T (int) or a per-layer {name: T_l} (a time plan, models/timeplan.py): cycles, LIF
    updates, synaptic updates and spike memory of a layer use its T_l. input_planes: {name: bits per
    input value} (ceil(log2(g + 1)) after a ``sum`` time adapter; default 1): cycles and input memory
    scale with T_l x planes in the output / valid modes (event modes count a recorded non-zero input
    once per step), Eq. 3's S is then the share of zero bits over all planes. Rows carry
    ``synaptic_updates`` (= Eq. 3's dynamic count) and the network ``neuron_evaluations`` (sum of
    LIF neurons x T_l over all layers).
    weight_bits: b of every layer (int) or {name: b} (others 16); pass the effective masks of a
    quantized network (zeros made by quantization are skipped work). b < 16 scales the dynamic
    energy (scratchpad read + AND: ``energy.at_bits``) and the stored weights (``memory.weights``);
    at 16 the report is exactly the float one (no extra keys).
    Returns {"settings", "constants", "layers": [per-layer rows], "network": {totals}}; every layer
    gets a row, the network sums only covered layers. Raises HardwareInputError on bad input.
    """
    _options(n_pe, mode, timesteps, avg, weighting, reorder, sync, energy)
    check_masks(masks, layers)
    energy_model = E.preset(energy)
    names = [l.name for l in layers]
    cov = set(covered_layers(layers, include_linear) if covered is None else covered)
    if cov - set(names):
        raise HardwareInputError(f"covered: unknown layer(s) {', '.join(sorted(cov - set(names))[:5])}")
    if CYCLE_MODES[mode].needs_inputs and inputs is None:
        raise HardwareInputError(f"mode {mode!r} needs recorded inputs (cycles.record_inputs)")
    for what, d in (("inputs", inputs), ("spike_sparsity", spike_sparsity)):
        unknown = sorted(set(d) - set(names)) if isinstance(d, dict) else []
        if unknown:
            raise HardwareInputError(f"{what}: unknown layer name(s) {', '.join(map(str, unknown[:5]))}")
    Ts = dict(timesteps) if isinstance(timesteps, dict) else {n: timesteps for n in names}
    if isinstance(timesteps, dict) and set(Ts) != set(names):
        missing = sorted(set(names) - set(Ts)) or sorted(set(Ts) - set(names))
        raise HardwareInputError(f"timesteps: the mapping must give one T per traced layer; "
                                 f"mismatch at {', '.join(missing[:5])}")
    planes = None
    if input_planes is not None:
        bad = sorted(set(input_planes) - set(names))
        if bad or any(not isinstance(v, int) or v < 1 for v in input_planes.values()):
            raise HardwareInputError(f"input_planes: need {{traced layer: int >= 1}}, got {bad[:3] or input_planes}")
        planes = {n: int(input_planes.get(n, 1)) for n in names}
    S, act, net_s, net_act, source = _spikes(layers, cov, spike_sparsity, inputs, timesteps, Ts)
    per_layer = isinstance(timesteps, dict) or planes is not None
    opts = _Options(n_pe, mode, Ts, planes or dict.fromkeys(names, 1), avg, sync, reorder, memory, per_layer,
                    net_s)
    bits = _bits_of(weight_bits, names)
    with torch.no_grad():
        rows = [_layer(l, masks[l.name], cov, opts, S, act, net_act, inputs, energy_model, bits[l.name])
                for l in layers]
    net = _network(rows, cov, weighting, energy_model, net_s, memory)
    settings = {"n_pe": n_pe, "mode": mode, "timesteps": timesteps if isinstance(timesteps, int) else dict(Ts),
                "energy": energy_model.name,
                "spike_sparsity": spike_sparsity if not isinstance(spike_sparsity, dict) else dict(spike_sparsity),
                "spike_sparsity_source": source, "avg": avg, "weighting": weighting,
                "include_linear": include_linear, "reorder": reorder, "sync": sync,
                "inputs": None if inputs is None else sorted(inputs), "memory": memory,
                "covered": [n for n in names if n in cov]}
    if planes is not None:
        settings["input_planes"] = planes
    constants = {"e_dyn": _const(energy_model.e_dyn), "e_leak": _const(energy_model.e_leak),
                 "energy_unit": energy_model.unit,
                 "energy_source": energy_model.source, "clock_hz": _const(E.CLOCK_HZ),
                 "components": None if energy_model.components is None else
                 {k: _const(v) for k, v in vars(energy_model.components).items()},
                 "dram": _const(M.DRAM_PJ), "glb": _const(M.GLB_PJ), "spad": _const(M.SPAD_PJ),
                 "spad_capacity": _const(M.SPAD_BITS)}
    if any(b != M.WORD_BITS for b in bits.values()):
        settings["weight_bits"] = weight_bits if not isinstance(weight_bits, dict) else dict(weight_bits)
        b0 = min(bits.values())
        constants["weight_bits"] = {"e_dyn_at_min_bits": _const(E.at_bits(energy_model, b0).e_dyn),
                                    "min_bits": b0, "bit_fraction": _const(E.bit_fraction(energy_model)),
                                    "and16_32nm": _const(E.AND16_32NM),
                                    "storage": "b-bit two's-complement level index per stored value "
                                               "(ternary: 2-bit codes); WSP bitmask unchanged"}
    return {"settings": settings, "constants": constants, "layers": rows, "network": net}
