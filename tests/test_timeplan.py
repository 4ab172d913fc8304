"""Layerwise timesteps: time adapters, time-planned networks, per-layer T in the hardware model."""
import json

import pytest
import torch
from torch.utils.data import DataLoader

from conftest import dyadic_, dyadic_images, synthetic
from uticket_lib import cli, hardware, lottery, models, profiles, rundata, runstore, timeplan
from uticket_lib.config import RunConfig, from_dict
from uticket_lib.hardware import HardwareInputError
from uticket_lib.models.timeplan import TimePlanError, adapt, bit_planes, groups, max_group
from uticket_lib.pruning import mask as masklib


# ----------------------------------------------------------------------------- adapters
def spikes():
    """[4, 1, 3] hand-made spike train: neuron 0 fires at t=0,1; neuron 1 at 1,2,3; neuron 2 never."""
    return torch.tensor([[1., 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 0]]).reshape(4, 1, 3)


def test_groups_are_mtt_contiguous():
    assert [list(g) for g in groups(4, 3)] == [[0], [1, 2], [3]]
    assert [list(g) for g in groups(4, 2)] == [[0, 1], [2, 3]]
    assert [list(g) for g in groups(4, 1)] == [[0, 1, 2, 3]]
    assert [list(g) for g in groups(4, 4)] == [[0], [1], [2], [3]]


def test_sum_adapter_4_to_3_and_4_to_2_by_hand():
    x = spikes()
    assert adapt(x, 3, "sum").reshape(3, 3).tolist() == [[1, 0, 0], [1, 2, 0], [0, 1, 0]]
    assert adapt(x, 2, "sum").reshape(2, 3).tolist() == [[2, 1, 0], [0, 2, 0]]


def test_or_adapter_keeps_spikes_binary():
    x = spikes()
    assert adapt(x, 3, "or").reshape(3, 3).tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 0]]
    assert adapt(x, 2, "or").reshape(2, 3).tolist() == [[1, 1, 0], [0, 1, 0]]
    assert adapt(x, 1, "or").reshape(3).tolist() == [1, 1, 0]


def test_sum_conserves_spike_counts_or_does_not():
    x = (torch.rand(6, 5, 7, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    for t in (5, 4, 3, 2, 1):
        assert adapt(x, t, "sum").sum() == x.sum()
        assert adapt(x, t, "or").sum() <= x.sum()
    assert adapt(x, 2, "or").sum() < x.sum()       # some group holds two spikes of one neuron


def test_grow_2_to_4_copies_steps():
    x = torch.tensor([[1., 0], [0, 1]]).reshape(2, 1, 2)
    assert adapt(x, 4, "sum").reshape(4, 2).tolist() == [[1, 0], [1, 0], [0, 1], [0, 1]]
    assert torch.equal(adapt(x, 4, "or"), adapt(x, 4, "sum"))


def test_same_T_is_the_identity_object():
    x = spikes()
    assert adapt(x, 4, "sum") is x


def test_or_adapter_passes_gradient_to_every_step():
    x = spikes().requires_grad_()
    adapt(x, 1, "or").sum().backward()
    assert x.grad.shape == x.shape and torch.isfinite(x.grad).all()


def test_bit_planes_of_summed_inputs():
    assert max_group(4, 3) == 2 and bit_planes(4, 3, "sum") == 2      # values 0..2 -> 2 bits
    assert bit_planes(4, 1, "sum") == 3                                # values 0..4 -> 3 bits
    assert bit_planes(4, 1, "or") == 1 and bit_planes(2, 4, "sum") == 1 and bit_planes(4, 4, "sum") == 1


# ----------------------------------------------------------------------------- networks
def _today(m, x):
    """The forward of the networks before time plans existed, written out."""
    from uticket_lib.models import neurons
    neurons.reset(m)
    h = m.encoder.encode(x, m.timesteps)
    if isinstance(m, models.SpikingVGG16):
        out = m.classifier(m.features(h).flatten(2))
    else:
        out = m.fc2(m.lif_fc(m.fc1(m.layers(h).mean((3, 4)))))
    neurons.reset(m)
    return out


@pytest.mark.parametrize("arch", ["vgg16", "resnet19"])
def test_uniform_plan_gives_todays_outputs_and_gradients(arch):
    torch.manual_seed(0)
    plain = models.build(arch, 1, 10, 0.125, 4)
    planned = models.build(arch, 1, 10, 0.125, 4)
    planned.load_state_dict(plain.state_dict())
    planned.set_time_plan((4,) * planned.n_stages)
    x = torch.rand(3, 1, 32, 32) * 3
    ref = _today(plain, x)
    ref.square().sum().backward()
    out = planned(x)
    out.square().sum().backward()
    assert torch.equal(out, ref) and torch.equal(plain(x), ref)
    for (n, p), q in zip(plain.named_parameters(), planned.parameters()):
        assert torch.equal(p.grad, q.grad), n


@pytest.mark.parametrize("arch,stages", [("vgg16", 13), ("resnet19", 10)])
def test_plan_sets_logit_steps_and_layer_T(arch, stages):
    m = models.build(arch, 1, 10, 0.125, 4, time_plan=(4,) * (stages - 1) + (2,))
    assert m.n_stages == stages
    assert m(torch.rand(2, 1, 32, 32)).shape == (2, 2, 10)        # last stage's T steps
    Ts = m.layer_timesteps()
    last = "classifier.weight" if arch == "vgg16" else "fc2.weight"
    assert Ts[last] == 2 and Ts["encoder.conv.weight"] == 4
    assert set(Ts) == {n for n, p in m.named_parameters() if p.dim() > 1}


def test_bad_plans_give_one_clear_line():
    with pytest.raises(TimePlanError, match="13 stages") as e:
        models.build("vgg16", 1, 10, 0.125, 4, time_plan=(4, 4))
    assert "\n" not in str(e.value)
    with pytest.raises(TimePlanError, match=">= 1"):
        models.build("resnet19", 1, 10, 0.125, 4, time_plan=(4,) * 9 + (0,))
    with pytest.raises(TimePlanError, match="time_join"):
        models.build("vgg16", 1, 10, 0.125, 4, time_join="max")


def test_cli_run_rejects_a_bad_plan_with_exit_2(capsys, runs_root):
    assert cli.main(["run", "--profile", "smoke", "--set", "model.time_plan=4,4,0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model.time_plan" in err


# ----------------------------------------------------------------------------- config
def test_time_plan_is_hashed_only_when_set():
    cfg = profiles.get("smoke")
    assert cfg.hash() == "c482d02136a6" and cfg.dense_hash() == "1fc1ce9ab188"   # as before time plans
    assert cfg.replace(**{"model.time_join": "or"}).hash() == cfg.hash()         # no plan: join inert
    planned = cfg.replace(**{"model.time_plan": "4,4,2"})
    assert planned.model.time_plan == (4, 4, 2) and planned.hash() != cfg.hash()
    assert planned.replace(**{"model.time_join": "or"}).hash() != planned.hash()
    back = from_dict(json.loads(json.dumps(planned.to_dict())))
    assert back == planned and back.hash() == planned.hash()


def test_time_plan_text_must_be_integers():
    with pytest.raises(ValueError, match="comma-separated"):
        RunConfig().replace(**{"model.time_plan": "4,x"})


# ----------------------------------------------------------------------------- hardware
def _vgg(width=0.125, plan=None):
    torch.manual_seed(0)
    m = models.build("vgg16", 1, 10, width, 4, time_plan=plan)
    layers = hardware.trace(m, (1, 1, 32, 32))
    g = torch.Generator().manual_seed(1)
    masks = {l.name: (torch.rand(l.weight_shape, generator=g) < 0.3).float() for l in layers}
    return m, layers, masks


def _values(rep):
    return {"layers": rep["layers"], "network": rep["network"]}


def test_uniform_mapping_reproduces_the_int_report():
    _, layers, masks = _vgg()
    for kw in ({}, {"spike_sparsity": 0.7}, {"mode": "valid", "reorder": "sorted"}):
        a = hardware.report(masks, layers, timesteps=4, **kw)
        b = hardware.report(masks, layers, timesteps={l.name: 4 for l in layers}, **kw)
        for ra, rb in zip(a["layers"], b["layers"]):
            assert {k: v for k, v in rb.items() if k not in ("timesteps", "input_planes")} == ra
        assert a["network"] == b["network"]


def test_layer_cycles_scale_with_its_T_and_utilization_does_not():
    _, layers, masks = _vgg()
    name = layers[5].name
    for mode in ("output", "valid"):
        base = hardware.report(masks, layers, mode=mode, spike_sparsity=0.8)
        Ts = {l.name: 4 for l in layers}
        for t in (1, 2, 3):
            Ts[name] = t
            rep = hardware.report(masks, layers, mode=mode, timesteps=Ts, spike_sparsity=0.8)
            for a, b in zip(base["layers"], rep["layers"]):
                if a["name"] == name:
                    assert b["work"] == pytest.approx(a["work"] * t / 4)
                    assert b["latency"] == pytest.approx(a["latency"] * t / 4)
                    assert b["utilization"] == pytest.approx(a["utilization"])
                    assert b["lif_updates"] * 4 == a["lif_updates"] * t
                else:
                    assert b["work"] == a["work"]


def test_bit_planes_multiply_cycles_not_neurons():
    _, layers, masks = _vgg()
    name = layers[3].name
    a = hardware.report(masks, layers, spike_sparsity=0.5)
    b = hardware.report(masks, layers, spike_sparsity=0.5, input_planes={name: 2})
    ra = next(r for r in a["layers"] if r["name"] == name)
    rb = next(r for r in b["layers"] if r["name"] == name)
    assert rb["work"] == 2 * ra["work"] and rb["lif_updates"] == ra["lif_updates"]
    assert rb["memory"]["input_dense_bits"] == 2 * ra["memory"]["input_dense_bits"]


def test_network_counts_neurons_and_synaptic_updates():
    m, layers, masks = _vgg()
    rep = hardware.report(masks, layers, spike_sparsity=0.75)
    assert rep["network"]["neuron_evaluations"] == sum(
        l.out_channels * l.positions * 4 for l in layers if l.role in ("encoder", "conv"))
    cov = [r for r in rep["layers"] if r["covered"]]
    assert rep["network"]["synaptic_updates"] == pytest.approx(sum(0.25 * r["work"] for r in cov))


def test_bad_timesteps_mapping_is_one_line():
    _, layers, masks = _vgg()
    with pytest.raises(HardwareInputError, match="one T per traced layer"):
        hardware.report(masks, layers, timesteps={layers[0].name: 4})
    with pytest.raises(HardwareInputError, match=">= 1"):
        hardware.report(masks, layers, timesteps={l.name: 0 for l in layers})


def test_record_inputs_follows_the_plan():
    plan = (4,) * 11 + (2, 1)
    m, layers, masks = _vgg(plan=plan)
    dyadic_(m)                                                   # fires by design: spikes reach the end
    rec = hardware.record_inputs(m, dyadic_images(2).tensors[0])
    assert rec["features.10.conv.weight"].shape[0] == 2          # its input adapted 4 -> 2
    assert rec["features.11.conv.weight"].shape[0] == 1
    assert all(rec[k].sum() > 0 for k in ("features.10.conv.weight", "features.11.conv.weight"))
    rep = hardware.report(masks, layers, mode="events", inputs=rec, timesteps=m.layer_timesteps(),
                          input_planes=m.layer_planes())
    assert rep["network"]["work"] > 0


def test_cli_hw_time_plan(tmp_path, capsys):
    _, layers, masks = _vgg()
    src = tmp_path / "m.pt"
    masklib.save(masks, src)
    base = ["hw", "--masks", str(src), "--arch", "vgg16", "--dataset", "fmnist", "--width", "0.125", "--json"]
    assert cli.main(base) == 0
    uniform = json.loads(capsys.readouterr().out)
    assert cli.main(base + ["--time-plan", "4"]) == 0
    assert json.loads(capsys.readouterr().out) == uniform
    assert cli.main(base + ["--time-plan", ",".join(["4"] * 12 + ["2"])]) == 0
    planned = json.loads(capsys.readouterr().out)
    # sum 4 -> 2: two steps of 2 bit-planes each cost what four binary steps cost
    assert planned["network"]["latency"] == uniform["network"]["latency"]
    assert planned["settings"]["input_planes"]["features.11.conv.weight"] == 2
    assert planned["network"]["neuron_evaluations"] < uniform["network"]["neuron_evaluations"]
    assert cli.main(base + ["--time-plan", ",".join(["4"] * 12 + ["2"]), "--time-join", "or"]) == 0
    assert json.loads(capsys.readouterr().out)["network"]["latency"] < uniform["network"]["latency"]
    assert cli.main(base + ["--time-plan", "4,2"]) == 2
    assert "13 stages" in capsys.readouterr().err


# ----------------------------------------------------------------------------- search
def test_sensitivity_and_greedy_on_a_tiny_ticket():
    m, layers, masks = _vgg()
    masklib.apply(m, masks)
    loader = DataLoader(synthetic(8, seed=3), batch_size=8)
    sens = timeplan.sensitivity(m, masks, layers, loader, candidates=(2,))
    assert [(r["scope"], r["stage"], r["T"]) for r in sens] == (
        [("stage", s, 2) for s in range(13)] + [("suffix", s, 2) for s in range(1, 13)])
    uniform = timeplan._summary(timeplan.with_plan(m, None), masks, layers, loader, 16, None)
    for r in sens:
        assert r["plan"].count(2) == (1 if r["scope"] == "stage" else 13 - r["stage"])
        assert r["latency"] <= uniform["latency"]
    # with the sum join a lone stage at T = 2 saves nothing (2 steps x 2 bit-planes); a suffix does
    assert all(r["latency_saving"] == 0 for r in sens if r["scope"] == "stage" and 0 < r["stage"] < 12)
    assert all(r["latency_saving"] > 0 for r in sens if r["scope"] == "suffix" and r["stage"] < 12)
    g = timeplan.greedy(m, masks, layers, loader, sens, budget=0.99)
    assert all(t <= 4 for t in g["plan"]) and g["summary"]["latency"] <= sens[0]["latency"] / (
        1 - sens[0]["latency_saving"]) + 1e-6
    kept = [s for s in g["steps"] if s["kept"]]
    assert all(g["plan"][s["stage"]] == 2 for s in kept)
    assert kept and g["summary"]["latency"] < uniform["latency"]      # budget 0.99: a suffix is taken
    for budget in (0.0, 0.1):                 # the budget holds on the search's own validation images
        g = timeplan.greedy(m, masks, layers, loader, sens, budget=budget)
        assert uniform["accuracy"] - g["summary"]["accuracy"] <= budget + 1e-12
    assert m.time_plan is None                                        # the ticket itself is untouched


def test_apply_change_lowers_one_stage_or_a_suffix_never_raises():
    assert timeplan.apply_change([4, 4, 4, 4], "stage", 1, 2) == [4, 2, 4, 4]
    assert timeplan.apply_change([4, 1, 4, 4], "suffix", 1, 2) == [4, 1, 2, 2]
    assert timeplan.apply_change([4, 1, 4, 4], "stage", 1, 2) == [4, 1, 4, 4]


def test_validation_split_is_disjoint_from_training_images():
    cfg = profiles.get("smoke")
    try:
        val, disjoint = timeplan.validation_set(cfg, 100)
        train, _ = rundata.load_datasets(cfg)
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST not installed")
    assert disjoint and len(val) == 100
    assert not set(val.indices) & set(train.indices)


def test_a_planned_run_trains_resumes_and_reloads_its_plan(tiny_data, runs_root, monkeypatch):
    from conftest import tiny_config
    plan = "4,4,3,3,2,2,2,2,2,2,2,2,1"
    cfg = tiny_config("lth", **{"model.time_plan": plan})
    out = lottery.run(cfg, datasets=tiny_data, progress=False)
    model = runstore.load_model(out, 1)
    assert model.time_plan == (4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1)
    assert model(torch.rand(2, 1, 32, 32)).shape[0] == 1
    calls = []
    monkeypatch.setattr(lottery, "fit", lambda *a, **k: calls.append(1))
    assert lottery.run(cfg, datasets=tiny_data, progress=False) == out and not calls   # resumes: nothing to do


def test_finetune_trains_a_copy_at_the_plan_and_keeps_the_mask():
    m, layers, masks = _vgg(width=0.0625)
    masklib.apply(m, masks)
    cfg = profiles.get("smoke", overrides={"model.width": 0.0625, "train.batch_size": 8})
    plan = (4,) * 12 + (2,)
    tuned = timeplan.finetune(m, masks, synthetic(16, seed=4), cfg, plan, epochs=1)
    assert tuned.time_plan == plan and m.time_plan is None
    w0, w1 = dict(m.named_parameters()), dict(tuned.named_parameters())
    assert any(not torch.equal(w0[n], w1[n]) for n in masks)
    assert all((w1[n][masks[n] == 0] == 0).all() for n in masks)


def test_validation_set_is_the_runs_own_validation_split_when_set():
    cfg = profiles.get("smoke", overrides={"data.val_split": 300})
    try:
        val, disjoint = timeplan.validation_set(cfg, 100)
        train, _, run_val = rundata.load_datasets(cfg)
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST not installed")
    assert disjoint and len(val) == 100
    assert set(val.indices) <= set(run_val.indices)          # a part of the recorded split
    assert not set(val.indices) & set(train.indices)
