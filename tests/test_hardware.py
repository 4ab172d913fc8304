"""Accelerator model: geometry, workload (Eq. 2), cycle modes, reordering, report, sweep."""
import itertools

import pytest
import torch
from torch import nn

from uticket_lib.hardware import (HardwareInputError, Layer, check_masks, layer_stats, network_stats,
                                  pe_blocks, record_inputs, report, trace, utilization, layer_workload)
from uticket_lib.hardware.cycles import CYCLE_MODES, CycleMode, block_cycles, event_cycles, filter_cycles
from uticket_lib.hardware.reorder import grouped_stats, lpt, permutation, reorder_layers


def mask_from_loads(loads, c=2, k=3):
    """[K, c, k, k] mask whose filter i has loads[i] non-zeros (first positions)."""
    m = torch.zeros(len(loads), c * k * k)
    for i, n in enumerate(loads):
        m[i, :n] = 1
    return m.reshape(len(loads), c, k, k)


def conv_layer(K, C, hw=4, k=3, stride=1, pad=1, role="conv", name="c.weight"):
    out = (hw + 2 * pad - k) // stride + 1
    return Layer(name, "conv", K, C, (k, k), (stride, stride), (pad, pad), (hw, hw), (out, out), role)


class TinySNN(nn.Module):
    """Time merged into batch like the project's models: encoder once, then T steps of 0/1 spikes."""

    def __init__(self, T=2):
        super().__init__()
        self.T = T
        self.enc = nn.Conv2d(3, 4, 3, padding=1)
        self.conv1 = nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.short = nn.Conv2d(6, 5, 1)
        self.fc = nn.Linear(5 * 8 * 8, 7)
        self.head = nn.Linear(7, 3)

    def forward(self, x):                                        # [N, 3, 16, 16]
        h = self.enc(x)                                          # [N, 4, 16, 16], once
        s = torch.stack([(h * (t + 1) > 0.3).float() for t in range(self.T)]).flatten(0, 1)  # [T*N, 4, 16, 16]
        s = (self.conv1(s) > 0).float()                          # [T*N, 6, 8, 8]
        s = (self.short(s) > 0).float()                          # [T*N, 5, 8, 8]
        s = (self.fc(s.flatten(1)) > 0).float()                  # [T*N, 7]
        return self.head(s).reshape(self.T, -1, 3)               # [T, N, 3]


# ---------------------------------------------------------------- geometry
def test_trace_shapes_roles_and_mode_restore():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1),
                      nn.Conv2d(16, 16, 1), nn.Flatten(), nn.Linear(16 * 16 * 16, 32), nn.Linear(32, 10))
    m.train()
    m[2].eval()
    layers = trace(m, (1, 3, 32, 32))
    assert [l.name for l in layers] == ["0.weight", "2.weight", "3.weight", "5.weight", "6.weight"]
    assert [l.role for l in layers] == ["encoder", "conv", "shortcut", "linear", "classifier"]
    assert layers[1].in_hw == (32, 32) and layers[1].out_hw == (16, 16) and layers[1].stride == (2, 2)
    assert layers[2].kernel == (1, 1) and layers[2].out_hw == (16, 16)
    assert layers[3].weight_shape == (32, 4096) and layers[3].positions == 1
    assert {n: tuple(p.shape) for n, p in m.named_parameters() if n.endswith("weight")} == \
        {l.name: l.weight_shape for l in layers}
    assert m.training and m[0].training and not m[2].training       # per-module flags restored


def test_trace_time_merged_inputs():
    layers = trace(TinySNN(T=3), (2, 3, 16, 16))
    assert [l.role for l in layers] == ["encoder", "conv", "shortcut", "linear", "classifier"]
    assert layers[1].in_channels == 4 and layers[1].in_hw == (16, 16) and layers[1].out_hw == (8, 8)


# ---------------------------------------------------------------- workload, Eq. 2
def test_partial_block_by_hand():
    w = layer_workload(mask_from_loads([3, 1, 2, 2, 4]), n_pe=2)     # blocks [3,1] [2,2] [4,pad 0]
    assert (w["work"], w["latency"], w["idle"], w["n_blocks"]) == (12, 9, 6, 3)
    assert w["utilization"] == pytest.approx((1 / 3 + 1 + 0) / 3)  # 1-(3-2)/3*2, 1, 1-(4-2)/4*2
    assert w["busy_fraction"] == pytest.approx(12 / 18)


def test_single_pe_and_empty_block():
    w = layer_workload(mask_from_loads([3, 0, 5]), n_pe=1)
    assert (w["work"], w["latency"], w["idle"], w["utilization"]) == (8, 8, 0, 1.0)
    w = layer_workload(mask_from_loads([0, 0, 0, 0, 2, 2]), n_pe=4)  # one empty block, one partial
    assert w["utilization"] == pytest.approx((1 + (1 - (2 - 1) / 2 * 4 / 3)) / 2)
    assert w["work"] + w["idle"] == 4 * w["latency"]


def test_ceil_vs_mean_average():
    m = mask_from_loads([3, 1, 0, 1])                           # mean 1.25, ceil 2, max 3
    assert layer_workload(m, 4, "mean")["utilization"] == pytest.approx(2 / 9)
    assert layer_workload(m, 4, "ceil")["utilization"] == pytest.approx(5 / 9)
    L = conv_layer(4, 2)                                        # output mode: ceil on weight counts
    bc = block_cycles(m, L, 4, "output", timesteps=3)
    assert layer_stats(bc["work"], bc["latency"], 4, "ceil", bc["quantum"])["utilization"] == pytest.approx(5 / 9)


def test_balanced_mask_full_utilization():
    loads = [5] * 32
    for n_pe in (1, 2, 4, 16, 32):
        w = layer_workload(mask_from_loads(loads), n_pe)
        assert w["idle"] == 0 and w["utilization"] == 1.0 and w["busy_fraction"] == 1.0


def test_utilization_formula_equals_busy_share_of_other_pes():
    torch.manual_seed(0)
    blocks = torch.randint(0, 50, (20, 16)).double()
    work, lat = blocks.sum(1), blocks.amax(1)
    idle = 16 * lat - work
    assert torch.allclose(utilization(work, lat, 16), 1 - idle / (15 * lat))


def test_param_weighted_vs_plain_mean():
    stats = [{"work": 1, "idle": 0, "latency": 1, "utilization": 1.0},
             {"work": 1, "idle": 1, "latency": 1, "utilization": 0.5}]
    p = network_stats(stats, [100, 300], weighting="params")
    m = network_stats(stats, [100, 300], weighting="mean")
    assert p["utilization"] == pytest.approx(0.625) and m["utilization"] == pytest.approx(0.75)
    assert p["utilization_mean"] == m["utilization"] and m["utilization_params"] == p["utilization"]


def test_pe_blocks_padding():
    b = pe_blocks(torch.tensor([1, 2, 3, 4, 5]), 4)
    assert b.tolist() == [[1, 2, 3, 4], [5, 0, 0, 0]]


# ---------------------------------------------------------------- cycle modes
def _brute_valid(mask, L, T):
    K, C, R, S = mask.shape
    (H, W), (Ho, Wo) = L.in_hw, L.out_hw
    loads = torch.zeros(K)
    for k, c, r, s, oh, ow in itertools.product(range(K), range(C), range(R), range(S), range(Ho), range(Wo)):
        ih, iw = oh * L.stride[0] - L.padding[0] + r, ow * L.stride[1] - L.padding[1] + s
        if mask[k, c, r, s] and 0 <= ih < H and 0 <= iw < W:
            loads[k] += T
    return loads


def _brute_events(mask, L, x, n_pe, mode, sync):
    """Python loops: x [T, N, C, H, W] 0/1 -> (work per block, latency per block, dynamic), per image."""
    K, C, R, S = mask.shape
    T, N = x.shape[:2]
    (H, W), (Ho, Wo) = L.in_hw, L.out_hw
    B = -(-K // n_pe)

    def count(k, frame, oh, ow):
        n = 0
        for c, r, s in itertools.product(range(C), range(R), range(S)):
            ih, iw = oh * L.stride[0] - L.padding[0] + r, ow * L.stride[1] - L.padding[1] + s
            if 0 <= ih < H and 0 <= iw < W and mask[k, c, r, s] and frame[c, ih, iw]:
                n += 1
        return n
    frames = [x[t, n] for n in range(N) for t in range(T)] if mode == "events" else \
        [x[:, n].amax(0) for n in range(N)]
    scale = 1 if mode == "events" else T
    work, lat = [0.0] * B, [0.0] * B
    for b in range(B):
        totals = [0.0] * n_pe
        for f in frames:
            for oh, ow in itertools.product(range(Ho), range(Wo)):
                loads = [count(k, f, oh, ow) * scale if k < K else 0 for k in range(b * n_pe, (b + 1) * n_pe)]
                work[b] += sum(loads)
                lat[b] += max(loads)
                totals = [a + l for a, l in zip(totals, loads)]
        if sync == "block":
            lat[b] = max(totals)
    dyn = sum(count(k, x[t, n], oh, ow) for k in range(K) for t in range(T) for n in range(N)
              for oh in range(Ho) for ow in range(Wo))
    return [w / N for w in work], [l / N for l in lat], dyn / N


@pytest.mark.parametrize("stride", [1, 2])
def test_valid_mode_matches_brute_force(stride):
    torch.manual_seed(stride)
    L = conv_layer(5, 2, hw=5, stride=stride)
    mask = (torch.rand(5, 2, 3, 3) < 0.5).float()
    loads, q = filter_cycles(mask, L, "valid", timesteps=3)
    assert q == 1 and loads.tolist() == _brute_valid(mask, L, 3).tolist()
    out, _ = filter_cycles(mask, L, "output", timesteps=3)
    assert (out >= loads).all()                                 # padding only removes cycles


@pytest.mark.parametrize("mode,sync,stride", [("events", "position", 1), ("ticks", "position", 1),
                                              ("events", "position", 2), ("ticks", "position", 2),
                                              ("events", "block", 1), ("ticks", "block", 2)])
def test_event_modes_match_brute_force(mode, sync, stride):
    torch.manual_seed(3)
    L = conv_layer(5, 2, hw=4, stride=stride)
    mask = (torch.rand(5, 2, 3, 3) < 0.5).float()
    x = (torch.rand(2, 2, 2, 4, 4) < 0.4).float()               # [T=2, N=2, C, H, W]
    work, lat, dyn = event_cycles(mask, L, 2, x, mode, sync, timesteps=2)
    bw, bl, bd = _brute_events(mask, L, x, 2, mode, sync)
    assert work.tolist() == pytest.approx(bw) and lat.tolist() == pytest.approx(bl) and dyn == pytest.approx(bd)
    # the merged [T*N, C, H, W] layout gives the same counts
    w2, l2, _ = event_cycles(mask, L, 2, x.flatten(0, 1), mode, sync, timesteps=2)
    assert torch.equal(w2, work) and torch.equal(l2, lat)


def test_all_ones_spikes_equal_valid_mode():
    torch.manual_seed(4)
    L = conv_layer(6, 3, hw=6, stride=2)
    mask = (torch.rand(6, 3, 3, 3) < 0.4).float()
    loads, _ = filter_cycles(mask, L, "valid", timesteps=4)
    for mode in ("events", "ticks"):
        bc = block_cycles(mask, L, 4, mode, 4, spikes=torch.ones(4, 3, 3, 6, 6))
        assert bc["work"].sum().item() == loads.sum().item() == bc["dynamic"]


def _tiny():
    torch.manual_seed(0)
    model = TinySNN(T=2)
    layers = trace(model, (1, 3, 16, 16))
    masks = {l.name: (torch.rand(l.weight_shape) < 0.4).float() for l in layers}
    inputs = record_inputs(model, torch.randn(3, 3, 16, 16))
    return model, layers, masks, inputs


def test_record_inputs_shapes():
    _, layers, _, inputs = _tiny()
    assert inputs["enc.weight"].shape == (1, 3, 3, 16, 16)
    assert inputs["conv1.weight"].shape == (2, 3, 4, 16, 16)
    assert inputs["short.weight"].shape == (2, 3, 6, 8, 8)
    assert inputs["fc.weight"].shape == (2, 3, 320) and inputs["head.weight"].shape == (2, 3, 7)


@pytest.mark.parametrize("mode", list(CYCLE_MODES))
def test_identity_work_plus_idle_every_mode(mode):
    _, layers, masks, inputs = _tiny()
    for n_pe in (1, 4, 16):
        r = report(masks, layers, n_pe=n_pe, mode=mode, timesteps=2, inputs=inputs, include_linear=True)
        for row in r["layers"] + [r["network"]]:
            assert row["work"] + row["idle"] == pytest.approx(n_pe * row["latency"], rel=1e-12, abs=1e-9)
            assert row["idle"] >= -1e-9 and 0 <= row["utilization"] <= 1 + 1e-12


def test_event_modes_bounded_by_valid():
    _, layers, masks, inputs = _tiny()
    kw = dict(n_pe=4, timesteps=2, inputs=inputs, include_linear=True, memory=False)
    v, e, t = (report(masks, layers, mode=m, **kw)["network"] for m in ("valid", "events", "ticks"))
    assert e["work"] <= t["work"] <= v["work"]
    assert e["work"] == pytest.approx(e["dynamic"]) and t["dynamic"] == pytest.approx(e["dynamic"])


# ---------------------------------------------------------------- reordering
@pytest.mark.parametrize("seed", range(5))
def test_sorted_reorder_never_worse_and_mask_untouched(seed):
    g = torch.Generator().manual_seed(seed)
    L = [conv_layer(k, 8, name=f"l{k}.weight") for k in (5, 16, 37)]
    masks = {l.name: (torch.rand(l.weight_shape, generator=g) < 0.1 + 0.05 * seed).float() for l in L}
    before = {n: m.clone() for n, m in masks.items()}
    res = reorder_layers(masks, L, n_pe=4)
    for l in L:
        assert res[l.name]["reordered"]["latency"] <= res[l.name]["identity"]["latency"]
        assert sorted(res[l.name]["perm"].tolist()) == list(range(l.out_channels))
    a, b = (report(masks, L, n_pe=4, reorder=o, mode="valid")["network"] for o in (None, "sorted"))
    assert b["latency"] <= a["latency"] and b["work"] == a["work"]
    assert all(torch.equal(before[n], masks[n]) for n in masks)


def test_sorted_is_optimal_by_exhaustion():
    loads = torch.tensor([7, 1, 4, 4, 0, 9, 2])
    for n_pe in (2, 3):
        best = min(pe_blocks(loads[list(p)], n_pe).amax(1).sum().item()
                   for p in itertools.permutations(range(len(loads))))
        assert pe_blocks(loads[permutation(loads)], n_pe).amax(1).sum().item() == best


def test_balanced_mask_reorder_changes_nothing():
    L = [conv_layer(8, 2)]
    masks = {L[0].name: mask_from_loads([4] * 8)}
    res = reorder_layers(masks, L, n_pe=4)[L[0].name]
    assert res["reordered"] == res["identity"]


def test_lpt_grouped_model():
    loads = torch.tensor([9, 8, 7, 6, 5, 4, 3, 2])
    pe = lpt(loads, 4)
    assert torch.bincount(pe, minlength=4).tolist() == [2, 2, 2, 2]
    s = grouped_stats(loads, pe, 4)
    assert s["latency"] == 11 and s["work"] == 44 and s["work"] + s["idle"] == 4 * s["latency"]


# ---------------------------------------------------------------- report, sweep, errors
def test_pe_sweep_balanced_halves_latency():
    L = [conv_layer(64, 4, hw=8, name="a.weight"), conv_layer(128, 4, hw=4, name="b.weight")]
    masks = {l.name: mask_from_loads([6] * l.out_channels, c=4) for l in L}
    from uticket_lib.analysis import hwframes
    s = hwframes.pe_sweep_masks(masks, L, spike_sparsity=0.8)
    assert list(s["latency_norm"]) == pytest.approx([1, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32])
    assert list(s["energy_norm"]) == pytest.approx([1.0] * 6) and list(s["utilization"]) == [1.0] * 6


def test_report_layout_and_json():
    import json
    _, layers, masks, _ = _tiny()
    r = report(masks, layers, n_pe=4, timesteps=2, spike_sparsity=0.85, energy="bottom_up_32nm")
    json.dumps(r)
    assert set(r) == {"settings", "constants", "layers", "network"}
    assert r["settings"]["covered"] == ["conv1.weight", "short.weight"]
    cov = [row for row in r["layers"] if row["covered"]]
    assert r["network"]["work"] == pytest.approx(sum(row["work"] for row in cov))
    assert r["network"]["energy"] == pytest.approx(sum(row["energy"] for row in cov))
    assert r["network"]["latency_s"] == pytest.approx(r["network"]["latency"] / 400e6)
    assert 0 < r["network"]["memory"]["pe_share"] < 1


def test_bad_masks_raise_hardware_input_error():
    _, layers, masks, _ = _tiny()
    bad = [dict(list(masks.items())[1:]),                                          # missing
           {**masks, "extra.weight": torch.ones(2)},                               # extra
           {**masks, "conv1.weight": torch.ones(6, 4, 3)},                         # shape
           {**masks, "conv1.weight": torch.full((6, 4, 3, 3), 0.5)},               # non-binary
           {**masks, "conv1.weight": torch.full((6, 4, 3, 3), float("nan"))},      # NaN
           {**masks, "conv1.weight": 2 * masks["conv1.weight"]}]                   # value 2
    for m in bad:
        with pytest.raises(HardwareInputError) as e:
            check_masks(m, layers)
        assert "\n" not in str(e.value)
        with pytest.raises(ValueError):
            report(m, layers)
    check_masks({n: v.bool() for n, v in masks.items()}, layers)                  # bool is fine
    for kw in ({"mode": "cycles"}, {"n_pe": 0}, {"avg": "median"}, {"mode": "events"}, {"energy": "x"}):
        with pytest.raises(HardwareInputError):
            report(masks, layers, **kw)


def test_a_new_cycle_mode_is_one_registry_entry(monkeypatch):
    """The extension point: a static toy mode (every weight counted, pruned or not) and an event toy
    mode (each spike pair costs two cycles) registered in CYCLE_MODES alone reach report() and
    the reordering."""
    _, layers, masks, inputs = _tiny()
    monkeypatch.setitem(CYCLE_MODES, "dense", CycleMode(
        "toy: every weight, pruned or not", loads=lambda mask, layer, T: (
            torch.full((mask.shape[0],), mask[0].numel() * layer.positions * T, dtype=torch.long),
            layer.positions * T)))
    monkeypatch.setitem(CYCLE_MODES, "double", CycleMode(
        "toy: two cycles per spike pair", rows=lambda x: (x.flatten(0, 1), 2)))
    kw = dict(n_pe=4, timesteps=2, inputs=inputs, include_linear=False, memory=False)
    dense = report(masks, layers, mode="dense", **kw)
    ones = {n: torch.ones_like(m) for n, m in masks.items()}
    assert dense["network"]["work"] == report(ones, layers, mode="output", **kw)["network"]["work"]
    ev, double = (report(masks, layers, mode=m, **kw) for m in ("events", "double"))
    enc = [r["name"] for r in ev["layers"] if r["name"] == "enc.weight"]
    for a, b in zip(ev["layers"], double["layers"]):
        if a["name"] not in enc:      # the encoder is counted statically in every event mode
            assert b["work"] == pytest.approx(2 * a["work"]) and b["latency"] == pytest.approx(2 * a["latency"])
    assert reorder_layers(masks, layers, n_pe=4, mode="double", timesteps=2)
