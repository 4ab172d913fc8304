"""Weight quantization: the quantizer, attach, effective masks, re-balancing, runs and bit-aware hardware."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from uticket_lib import cli, hardware, io, lottery, models, paths, profiles, quant, quantized, runstore
from uticket_lib.config import RunConfig
from uticket_lib.pruning import mask as masklib
from uticket_lib.pruning.balance import filter_loads
from uticket_lib.quant.quantizer import QuantError, init_range, quantize
from uticket_lib.quant.rebalance import check_survives

from conftest import Interrupted, die_after_epochs, dyadic_, dyadic_images, strip_timing as _strip, tiny_config


# ----------------------------------------------------------------------------- the quantizer
def test_levels_and_hand_computed_values():
    assert [quant.levels(b) for b in (2, 3, 4, 8)] == [1, 3, 7, 127]
    w = torch.tensor([-1.0, -0.3, 0.1, 0.26, 0.8, 2.0])
    # n = 3: n*clip(w/1) = [-3, -0.9, 0.3, 0.78, 2.4, 3] -> round [-3, -1, 0, 1, 2, 3]
    q = quantize(w, 1.0, 0.5, 3)
    assert torch.allclose(q, 0.5 * torch.tensor([-3.0, -1, 0, 1, 2, 3]) / 3)


def test_ternary_is_exactly_minus_c_zero_c():
    w = torch.randn(1000)
    q = quantize(w, 0.7, 0.25, 2)
    assert set(q.unique().tolist()) == {-0.25, 0.0, 0.25}


def test_zeros_are_the_weights_below_half_a_step():
    a, bits = 0.8, 4
    n = quant.levels(bits)
    w = torch.linspace(-1, 1, 2001)
    q = quantize(w, a, 1.0, bits)
    inside = w.abs() < a / (2 * n) - 1e-6
    outside = w.abs() > a / (2 * n) + 1e-6
    assert bool((q[inside] == 0).all()) and bool((q[outside] != 0).all())


def test_gradients_ste_and_clip():
    w = torch.tensor([0.2, -0.5, 1.5, -3.0], requires_grad=True)   # a = 1: two inside, two outside
    a = torch.tensor(1.0, requires_grad=True)
    c = torch.tensor(0.5, requires_grad=True)
    q = quantize(w, a, c, 3)                                        # n = 3
    q.sum().backward()
    assert torch.allclose(w.grad, torch.tensor([0.5, 0.5, 0.0, 0.0]))          # STE: c / a inside
    assert torch.isclose(a.grad, torch.tensor(-0.5 * (0.2 - 0.5)))             # -c w / a^2, inside only
    assert torch.isclose(c.grad, torch.tensor((1 - 2 + 3 - 3) / 3))            # round(n clip) / n


def test_init_range_is_three_sigma_bound():
    w = torch.tensor([1.0, 2.0, 3.0, 10.0])
    mu, sd = w.mean().item(), w.std().item()
    assert init_range(w) == pytest.approx(max(abs(mu - 3 * sd), abs(mu + 3 * sd)))
    mask = torch.tensor([1.0, 1.0, 1.0, 0.0])
    assert init_range(w, mask) == pytest.approx(2.0 + 3 * 1.0)


@pytest.mark.parametrize("bits", [1, 0, 17, 2.5, True, "4"])
def test_bad_bits_one_clear_line(bits):
    with pytest.raises(QuantError, match=r"weight bits must be an integer in \[2, 16\]") as e:
        quant.levels(bits)
    assert "\n" not in str(e.value)


# ----------------------------------------------------------------------------- attach
def test_attach_keeps_names_masks_and_computes_with_q():
    torch.manual_seed(0)
    model = dyadic_(models.build("vgg16", in_channels=1, width=0.0625), low=-2, high=6)  # fires when half pruned
    names = set(model.state_dict())
    masks = {n: (torch.rand_like(p) > 0.5).float() for n, p in masklib.prunable(model).items()}
    masklib.apply(model, masks)
    ref = models.build("vgg16", in_channels=1, width=0.0625)
    ref.load_state_dict(model.state_dict())
    quant.attach(model, 3, masks=masks)
    new = set(model.state_dict())
    assert names <= new and all(".wq." in k for k in new - names)
    assert set(masklib.prunable(model)) == set(masks)
    masklib.apply(model, masks)                           # masks still apply by name
    qp = quant.qparams(model)
    assert set(qp) == set(masks)                          # "all": every conv and linear layer
    with torch.no_grad():                                 # same output as a float net holding Q(w)
        qw = quant.quantized_weights(dict(masklib.prunable(model)), qp)
        for n, p in masklib.prunable(ref).items():
            p.copy_(qw[n])
        x = dyadic_images(2).tensors[0]
        out = model.eval()(x)
        assert (out - model.classifier.bias).abs().sum() > 0  # spikes reach the read-out: not vacuous
        assert torch.allclose(out, ref.eval()(x), atol=1e-5)
    quant.detach(model)
    assert set(model.state_dict()) == names


def test_attach_init_tensor_counts_pruned_zeros_surviving_does_not():
    model = models.build("vgg16", in_channels=1, width=0.0625)
    name, p = next(iter(masklib.prunable(model).items()))
    with torch.no_grad():                                   # hand-made layer: 4 survivors +-1, rest 0
        p.zero_()
        p.view(-1)[:4] = torch.tensor([1.0, -1.0, 1.0, -1.0])
    mask = (p != 0).float()
    n = p.numel()
    sigma_all = (4 / (n - 1)) ** 0.5                        # std of the whole tensor (mean 0)
    sigma_surv = (4 / 3) ** 0.5                             # std of the survivors (unbiased)
    quant.attach(model, 2, masks={name: mask})
    assert quant.qparams(model)[name]["a"] == pytest.approx(3 * sigma_all, rel=1e-5)
    quant.attach(model, 2, masks={name: mask}, init="surviving")
    assert quant.qparams(model)[name]["a"] == pytest.approx(3 * sigma_surv, rel=1e-5)
    with pytest.raises(ValueError, match="quantizer init must be one of"):
        quant.attach(model, 2, init="dense")


def test_attach_covered_skips_encoder_and_linear():
    model = models.build("vgg16", in_channels=1, width=0.0625)
    quant.attach(model, 2, layers="covered")
    qp = quant.qparams(model)
    assert model.encoder_name not in qp
    shapes = dict((n, p.dim()) for n, p in masklib.prunable(model).items())
    assert qp and all(shapes[n] == 4 for n in qp)
    with pytest.raises(QuantError, match="quant layers"):
        quant.attach(model, 2, layers="some")


def test_effective_masks_only_remove():
    g = torch.Generator().manual_seed(0)
    w = {"a": torch.randn(8, 4, 3, 3, generator=g), "b": torch.randn(10, 5, generator=g)}
    m = {n: (torch.rand(t.shape, generator=g) > 0.3).float() for n, t in w.items()}
    qp = {"a": {"a": 1.0, "c": 1.0, "bits": 2}, "b": {"a": 2.0, "c": 1.0, "bits": 4}}
    eff = quant.effective_masks(w, m, qp)
    for n in w:
        assert bool((eff[n] <= m[n]).all())
        assert int(eff[n].sum()) < int(m[n].sum())       # ternary / 4-bit with a wide clip make zeros
        q = quantize(w[n], qp[n]["a"], qp[n]["c"], qp[n]["bits"])
        assert torch.equal(eff[n].bool(), (m[n] > 0) & (q != 0))


def test_zero_share_falls_with_bits():
    w = {"x": torch.randn(20000, generator=torch.Generator().manual_seed(1))}
    a = init_range(w["x"])
    shares = [quant.zero_share(w, {"x": {"a": a, "c": a, "bits": b}}) for b in (2, 3, 4, 6, 8)]
    assert all(x > y for x, y in zip(shares, shares[1:]))


# ----------------------------------------------------------------------------- re-balancing
def test_rebalance_restores_balance_and_survives_rounding():
    g = torch.Generator().manual_seed(3)
    w = {"c1": torch.randn(8, 4, 3, 3, generator=g), "c2": torch.randn(8, 8, 3, 3, generator=g)}
    m = {n: (torch.rand(t.shape, generator=g) > 0.5).float() for n, t in w.items()}
    w = {n: w[n] * m[n] for n in w}
    qp = {n: {"a": 1.5, "c": 1.0, "bits": 2} for n in w}
    eff = quant.effective_masks(w, m, qp)
    loads = filter_loads(eff["c2"]).view(-1, 4)
    assert bool((loads.max(1).values > loads.min(1).values).any())          # quantization unbalanced it
    out = quant.rebalance(w, m, qp, n_pe=4, covered=["c1", "c2"])
    for n in w:
        l = filter_loads(out["masks"][n]).view(-1, 4)
        assert torch.equal(l.max(1).values, l.min(1).values)                  # balanced again
    assert check_survives(out["weights"], out["masks"], qp)                  # recovered ones survive Q
    assert torch.equal(quant.effective_masks(out["weights"], out["masks"], qp)["c2"], out["masks"]["c2"])
    rec = (out["masks"]["c2"] > 0) & (eff["c2"] == 0)
    assert bool((out["weights"]["c2"][rec].abs() == 1.5).all())             # nearest non-zero level a/n
    assert out["stats"]["recovered"] > 0


# ----------------------------------------------------------------------------- configuration and runs
def test_existing_hashes_unchanged():
    assert RunConfig().hash() == "44136fa355b3"
    # the cpu profile of 2026-11 (a literal: the profile itself has moved on since)
    cpu = RunConfig().replace(**{
        "model.arch": "vgg16", "data.dataset": "fmnist", "prune.method": "uticket",
        "model.width": 0.25, "data.train_subset": 4000, "data.test_subset": 1000,
        "train.batch_size": 64, "train.epochs_dense": 4, "train.epochs": 2, "prune.levels": 7,
        "prune.fraction": 0.48, "prune.rewind_epoch": 1, "train.channels_last": True})
    assert cpu.hash() == "3d7b11a34b96" and cpu.dense_hash() == "3c00d09cd0c7"
    assert profiles.get("smoke", "resnet19", "fmnist", "lth").hash() == "90951ec1d983"
    same = cpu.replace(**{"quant.mode": "joint", "quant.epochs": 3})       # bits None: quant unhashed
    assert same.hash() == cpu.hash() and same.name == cpu.name
    q = cpu.replace(**{"quant.bits": 2})
    assert q.hash() != cpu.hash() and q.dense_hash() == cpu.dense_hash()


@pytest.mark.parametrize("key,value,match", [
    ("quant.bits", 1, r"quant.bits must be none \(float\) or an integer in \[2, 16\]"),
    ("quant.bits", 17, r"quant.bits must be"),
    ("quant.mode", "both", r"\(quant.mode\); choose one of: isolation, cumulative, joint"),
    ("quant.layers", "first", r"\(quant.layers\); choose one of: all, covered"),
    ("quant.epochs", 0, "quant.epochs must be an integer >= 1"),
    ("quant.init", "masked", r"\(quant.init\); choose one of: tensor, surviving"),
])
def test_bad_quant_configs_fail_before_any_work(key, value, match, runs_root):
    cfg = tiny_config("lth", **{"quant.bits": 2, key: value})
    with pytest.raises(lottery.RunConfigError, match=match):
        lottery.run(cfg, datasets=None, progress=False)
    assert not runs_root.exists() or not any(runs_root.iterdir())


def test_cli_run_bad_mode_exits_2(runs_root, capsys):
    assert cli.main(["run", "--profile", "smoke", "--set", "quant.bits=2", "--set", "quant.mode=both"]) == 2
    assert "(quant.mode); choose one of" in capsys.readouterr().err


def test_cumulative_run_quantizes_each_level_and_resumes(tiny_data, runs_root, monkeypatch):
    cfg = tiny_config("uticket", **{"quant.bits": 2, "quant.mode": "cumulative"})
    out = lottery.run(cfg, datasets=tiny_data, progress=False)
    float_out = runstore.run_dir(quantized.float_config(cfg))
    rows = runstore.levels(out)
    assert [r["level"] for r in rows] == [0, 1, 2]
    for k, r in enumerate(rows):
        assert r["quant"]["bits"] == 2 and r["quant"]["mode"] == "cumulative"
        assert r["quant"]["effective_sparsity"] >= r["sparsity"]
        assert torch.equal(runstore.load_masks(out, k)["features.0.conv.weight"],
                           runstore.load_masks(float_out, k)["features.0.conv.weight"])
        model = runstore.load_model(out, k)                                       # quantized level loads back
        assert quant.qparams(model) and all(p["bits"] == 2 for p in quant.qparams(model).values())
    calls = []
    monkeypatch.setattr(lottery, "fit", lambda *a, **k: calls.append(1))
    lottery.run(cfg, datasets=tiny_data, progress=False)                         # complete: no training
    assert calls == []


def test_isolation_quantizes_the_dense_network_only(tiny_data, runs_root):
    cfg = tiny_config("lth", **{"quant.bits": 4, "quant.mode": "isolation"})
    out = lottery.run(cfg, datasets=tiny_data, progress=False)
    rows = runstore.levels(out)
    assert [r["level"] for r in rows] == [0] and rows[0]["sparsity"] == 0.0
    assert rows[0]["quant"]["effective_sparsity"] == pytest.approx(rows[0]["quant"]["zero_share"], abs=1e-9)


def test_joint_run_trains_rounds_with_the_quantizer(tiny_data, runs_root):
    cfg = tiny_config("lth", **{"quant.bits": 2, "quant.mode": "joint", "prune.levels": 2})
    out = lottery.run(cfg, datasets=tiny_data, progress=False)
    rows = runstore.levels(out)
    assert "quant" not in rows[0] and rows[1]["quant"]["start"] == "rewind point"
    state = torch.load(paths.checkpoint_path(paths.level_dir(out, 1)), weights_only=True)["model"]
    assert any(".wq." in k for k in state)


# ----------------------------------------------------------------------------- hardware at b bits
def _masks_and_layers():
    model = models.build("vgg16", in_channels=1, width=0.125)
    layers = hardware.trace(model, (1, 1, 32, 32))
    g = torch.Generator().manual_seed(0)
    masks = {n: (torch.rand(p.shape, generator=g) < 0.3).float() for n, p in masklib.prunable(model).items()}
    return masks, layers


def test_bits_16_is_todays_report():
    masks, layers = _masks_and_layers()
    # network values of this mask computed by the code before weight bits existed (commit 843d3a8)
    today = {"paper_calibrated": 2516090.8159999996, "bottom_up_32nm": 3574554.4223999996}
    for energy, e in today.items():
        r = hardware.report(masks, layers, n_pe=4, energy=energy, spike_sparsity=0.8, weight_bits=16)
        assert r == hardware.report(masks, layers, n_pe=4, energy=energy, spike_sparsity=0.8)
        assert r["network"]["energy"] == pytest.approx(e, rel=1e-12)
        assert r["network"]["latency"] == 1602848.0
        assert r["network"]["memory"]["total_pj"] == pytest.approx(9414127.979347998, rel=1e-12)
        assert r["network"]["memory"]["wsp_bits"] == 1329968
        assert "weight_bits" not in r["settings"] and "weight_bits" not in r["constants"]


def test_cli_hw_bits_16_equals_default(tmp_path, capsys):
    masks, _ = _masks_and_layers()
    src = tmp_path / "m.pt"
    masklib.save(masks, src)
    argv = ["hw", "--masks", str(src), "--arch", "vgg16", "--dataset", "fmnist", "--width", "0.125",
            "--n-pe", "4", "--json"]
    assert cli.main(argv) == 0
    plain = json.loads(capsys.readouterr().out)
    assert cli.main(argv + ["--bits", "16"]) == 0
    assert json.loads(capsys.readouterr().out) == plain
    assert cli.main(argv + ["--bits", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--bits must be an integer in [2, 16]" in err


@pytest.mark.parametrize("energy", ["paper_calibrated", "bottom_up_32nm"])
def test_energy_and_memory_fall_with_bits(energy):
    masks, layers = _masks_and_layers()
    reps = [hardware.report(masks, layers, n_pe=4, energy=energy, spike_sparsity=0.8, weight_bits=b)
            for b in (2, 3, 4, 8, 16)]
    e = [r["network"]["energy"] for r in reps]
    mem = [r["network"]["memory"]["total_pj"] for r in reps]
    wsp = [r["network"]["memory"]["wsp_bits"] for r in reps]
    assert all(x < y for x, y in zip(e, e[1:])) and all(x < y for x, y in zip(mem, mem[1:]))
    assert all(x < y for x, y in zip(wsp, wsp[1:]))
    assert len({r["network"]["latency"] for r in reps}) == 1                 # cycles ignore b
    # the 24-bit accumulator and LIF do not scale: E_d(2) > (2/16) E_d(16)
    assert reps[0]["constants"]["weight_bits"]["e_dyn_at_min_bits"]["value"] > reps[-1]["constants"]["e_dyn"]["value"] / 8


def test_wsp_bits_hand_computed():
    from uticket_lib.hardware import memory as M
    layer = next(l for l in _masks_and_layers()[1] if l.kind == "conv" and l.role != "encoder")
    mask = torch.zeros(layer.weight_shape)
    mask[0, 0, 0, 0] = mask[1, 0, 1, 1] = mask[1, 1, 2, 2] = 1
    wb = M.weights(mask, layer, 2)
    assert wb["wsp_bits"] == layer.n_weights + 2 * 3 and wb["dense_bits"] == 2 * layer.n_weights


def test_per_layer_bits_and_bad_bits():
    masks, layers = _masks_and_layers()
    first = layers[1].name
    r = hardware.report(masks, layers, n_pe=4, weight_bits={first: 2})
    assert r["layers"][1]["weight_bits"] == 2 and "weight_bits" not in r["layers"][2]
    for bad, match in ((1, "weight_bits must be an integer in"), ({"nope": 4}, "unknown layer name")):
        with pytest.raises(hardware.HardwareInputError, match=match):
            hardware.report(masks, layers, n_pe=4, weight_bits=bad)


def test_interrupted_joint_level_resumes_to_identical_metrics(tiny_data, tmp_path, monkeypatch):
    cfg = tiny_config("lth", **{"quant.bits": 2, "quant.mode": "joint", "prune.levels": 2, "train.epochs": 2})
    ref = lottery.run(cfg, datasets=tiny_data, root=tmp_path / "a", progress=False)
    real = die_after_epochs(monkeypatch, 3)  # 2 dense epochs, then mid-way through quantized level 1
    with pytest.raises(Interrupted):
        lottery.run(cfg, datasets=tiny_data, root=tmp_path / "b", progress=False)
    out = runstore.run_dir(cfg, tmp_path / "b")
    assert paths.partial_path(paths.level_dir(out, 1)).exists()
    monkeypatch.setattr(lottery, "fit", real)
    out = lottery.run(cfg, datasets=tiny_data, root=tmp_path / "b", progress=False)
    assert _strip(runstore.levels(ref)) == _strip(runstore.levels(out))


def test_quantize_level_is_cached_in_the_level_folder(tiny_data, runs_root, monkeypatch):
    cfg = tiny_config("uticket")
    out = lottery.run(cfg, datasets=tiny_data, progress=False)
    here = quantized.quantize_level(out, 2, 3, datasets=tiny_data)
    assert here.parent == paths.level_dir(out, 2) and paths.metrics_path(here).exists()
    model = runstore.load_quantized(out, here)
    assert {p["bits"] for p in quant.qparams(model).values()} == {3}
    assert runstore.levels(out)[-1]["level"] == 2                                  # level list unchanged
    calls = []
    monkeypatch.setattr(lottery, "fit", lambda *a, **k: calls.append(1))
    assert quantized.quantize_level(out, 2, 3, datasets=tiny_data) == here and calls == []
