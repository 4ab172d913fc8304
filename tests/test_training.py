"""Training loop pieces: loss, prediction, masked gradients, spike statistics, determinism."""
from __future__ import annotations

import torch
from torch import nn

from uticket_lib import lottery, training
from uticket_lib.config import TrainConfig
from uticket_lib.pruning import mask as masklib

from conftest import synthetic, tiny_config


def test_spike_loss_is_mean_over_time_of_cross_entropy():
    logits = torch.randn(4, 3, 10)
    y = torch.tensor([1, 2, 3])
    expected = sum(nn.functional.cross_entropy(logits[t], y) for t in range(4)) / 4
    assert torch.allclose(training.spike_loss(logits, y), expected)


def test_prediction_uses_summed_logits():
    logits = torch.zeros(2, 1, 3)
    logits[0, 0, 0] = 5.0                      # step 0 votes class 0 strongly
    logits[1, 0, 1] = 3.0
    logits[1, 0, 2] = 3.5                      # step 1 votes class 2; sum still favours 0
    assert training.predict(logits).tolist() == [0]


def test_pruned_weights_stay_zero_through_training():
    cfg = tiny_config("lth")
    model = lottery.build_model(cfg)
    weights = masklib.prunable(model)
    masks = {n: (torch.rand_like(w) > 0.5).float() for n, w in weights.items()}
    masklib.apply(model, masks)
    training.fit(model, synthetic(32), cfg.train, epochs=1, level=0, masks=masks,
                 device=torch.device("cpu"), progress=False)
    for n, w in masklib.prunable(model).items():
        assert float((w.detach() * (1 - masks[n])).abs().max()) == 0.0
        assert float((w.detach() * masks[n]).abs().sum()) > 0.0


def test_released_weight_decay_switch():
    model = nn.Linear(2, 2)
    on, _ = training.make_optimizer(model, TrainConfig(), epochs=1, steps_per_epoch=1)
    off, _ = training.make_optimizer(model, TrainConfig(released_weight_decay=True), 1, 1)
    assert on.param_groups[0]["weight_decay"] == 5e-4
    assert off.param_groups[0]["weight_decay"] == 0.0


def test_evaluate_reports_firing_rate_in_unit_interval():
    cfg = tiny_config("lth")
    model = lottery.build_model(cfg)
    loader = training.eval_loader(synthetic(16), 8)
    out = training.evaluate(model, loader, torch.device("cpu"), per_layer=True)
    assert 0.0 <= out["firing_rate"] <= 1.0
    assert abs(out["spike_sparsity"] - (1 - out["firing_rate"])) < 1e-12
    assert out["images"] == 16 and out["layer_firing_rate"]


def test_same_seed_same_training():
    cfg = tiny_config("lth")
    finals = []
    for _ in range(2):
        model = lottery.build_model(cfg)
        training.fit(model, synthetic(32), cfg.train, 1, 0, None, torch.device("cpu"), progress=False)
        finals.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(finals[0], finals[1])


def test_optimizer_switch_builds_adamw_or_sgd():
    import torch
    from uticket_lib.config import TrainConfig
    from uticket_lib.training import make_optimizer
    net = torch.nn.Linear(3, 2)
    opt, _ = make_optimizer(net, TrainConfig(optimizer="adam", lr=1e-3), epochs=1, steps_per_epoch=1)
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.9, 0.999)
    opt, _ = make_optimizer(net, TrainConfig(), epochs=1, steps_per_epoch=1)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9


def test_evaluation_is_independent_of_batching_layout_and_loader():
    # batch size, channels-last storage and the materialised-tensor path change nothing but speed
    cfg = tiny_config("lth")
    model = lottery.build_model(cfg)
    ds = synthetic(20)
    cpu = torch.device("cpu")
    ref = training.evaluate(model, training.eval_loader(ds, 3), cpu, per_layer=True)
    big = training.evaluate(model, training.eval_loader(ds), cpu, per_layer=True)
    plain = training.evaluate(model, torch.utils.data.DataLoader(ds, batch_size=7), cpu, per_layer=True)
    assert training.uses_channels_last(model) is False
    model = model.to(memory_format=torch.channels_last)
    assert training.uses_channels_last(model) is True
    cl = training.evaluate(model, training.eval_loader(ds, 8), cpu, per_layer=True)
    for other in (big, plain, cl):
        assert other["images"] == 20 and other["accuracy"] == ref["accuracy"]
        assert abs(other["firing_rate"] - ref["firing_rate"]) < 1e-9
        assert abs(other["loss"] - ref["loss"]) < 1e-4


def test_eval_loader_slices_tensor_datasets_in_order():
    ds = synthetic(10)
    batches = training.eval_loader(ds, 4)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([x for x, _ in batches]), ds.tensors[0])


def test_amp_is_a_no_op_on_cpu():
    cfg = tiny_config("lth")
    model = lottery.build_model(cfg)
    loader = training.eval_loader(synthetic(8))
    cpu = torch.device("cpu")
    a = training.evaluate(model, loader, cpu)
    b = training.evaluate(model, loader, cpu, amp=True)
    assert a == b


def test_gpu_profile_trains_one_step_on_cpu():
    from uticket_lib import profiles
    cfg = profiles.get("gpu", "vgg16", overrides={"model.width": 0.0625, "train.batch_size": 8,
                                                  "data.num_workers": 0})
    model = lottery.build_model(cfg)
    before = [p.detach().clone() for p in model.parameters()]
    stats = training.fit(model, synthetic(8), cfg.train, 1, 0, None, torch.device("cpu"),
                         progress=False)
    assert stats[0].images == 8 and stats[0].loss > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_forward_macs_of_a_hand_computed_net():
    from uticket_lib.models import flops
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    # conv: 3 x 4 x 4 outputs x 2 x 9 MACs = 864 per image; linear: 5 x 48 = 240; batch of 2
    assert flops.forward_macs(net, torch.zeros(2, 2, 4, 4)) == 2 * (864 + 240)


def test_et_choice_takes_the_first_candidate_below_the_bound():
    from uticket_lib.training import et_choice
    assert et_choice({2: 1.0, 3: 0.4}, 4) == 2      # normalised values are <= 1: always the first
    assert et_choice({2: 1.6, 3: 0.4}, 4) == 3
    assert et_choice({2: 1.6, 3: 1.5}, 4) == 4      # none below 1.5: keep the reference T
