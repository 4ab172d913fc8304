"""Training loop pieces: loss, prediction, masked gradients, spike statistics, determinism."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from uticket_lib import runstore, search, training
from uticket_lib.config import TrainConfig
from uticket_lib.pruning import mask as masklib

from conftest import dyadic_, dyadic_images, synthetic, tiny_config


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
    model = runstore.build_model(cfg)
    weights = masklib.prunable(model)
    masks = {n: (torch.rand_like(w) > 0.5).float() for n, w in weights.items()}
    masklib.apply(model, masks)
    training.fit(model, synthetic(32), cfg.train, epochs=1, level=0, masks=masks,
                 device=torch.device("cpu"), progress=False)
    for n, w in masklib.prunable(model).items():
        assert float((w.detach() * (1 - masks[n])).abs().max()) == 0.0
        assert float((w.detach() * masks[n]).abs().sum()) > 0.0


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_foreach_steps_equal_the_per_parameter_loop_bit_for_bit(monkeypatch, optimizer):
    # FOREACH only batches the optimizer's and the masks' per-parameter work: the weights after a few
    # masked steps (weight decay on) must be the loop's, bit for bit, and pruned weights exactly 0
    cfg = tiny_config("lth", **{"train.optimizer": optimizer, "train.weight_decay": 1e-2, "train.lr": 1e-2})
    torch.manual_seed(3)
    start = runstore.build_model(cfg)
    masks = {n: (torch.rand_like(w) > 0.7).float() for n, w in masklib.prunable(start).items()}
    masklib.apply(start, masks)
    out = {}
    for foreach in (True, False):
        monkeypatch.setattr(training, "FOREACH", foreach)
        model = runstore.build_model(cfg)
        model.load_state_dict(start.state_dict())
        opt, _ = training.make_optimizer(model, cfg.train, 1, 1)
        assert opt.param_groups[0]["foreach"] is foreach
        training.fit(model, synthetic(48), cfg.train, epochs=2, level=1, masks=masks,
                     device=torch.device("cpu"), progress=False)
        out[foreach] = {k: v.clone() for k, v in model.state_dict().items()}
    assert out[True].keys() == out[False].keys()
    for k in out[True]:
        assert torch.equal(out[True][k], out[False][k]), k
    for n, w in masklib.prunable(model).items():
        assert float((w.detach() * (1 - masks[n])).abs().max()) == 0.0
    assert any(not torch.equal(out[True][n], start.state_dict()[n]) for n in masks)   # it trained


def test_mask_lists_refuse_a_mask_of_the_wrong_shape():
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(masklib.MaskError):
        training.mask_lists(model, {"0.weight": torch.ones(3, 2)})
    ps, ms = training.mask_lists(model, {"0.weight": torch.ones(2, 3, dtype=torch.float64)})
    assert ps[0] is model[0].weight and ms[0].dtype == torch.float32
    assert training.mask_lists(model, None) == ([], [])


def test_released_weight_decay_switch():
    model = nn.Linear(2, 2)
    on, _ = training.make_optimizer(model, TrainConfig(), epochs=1, steps_per_epoch=1)
    off, _ = training.make_optimizer(model, TrainConfig(released_weight_decay=True), 1, 1)
    assert on.param_groups[0]["weight_decay"] == 5e-4
    assert off.param_groups[0]["weight_decay"] == 0.0


def test_evaluate_reports_firing_rate_in_unit_interval():
    cfg = tiny_config("lth")
    model = runstore.build_model(cfg)
    loader = training.eval_loader(synthetic(16), 8)
    out = training.evaluate(model, loader, torch.device("cpu"), per_layer=True)
    assert 0.0 <= out["firing_rate"] <= 1.0
    assert abs(out["spike_sparsity"] - (1 - out["firing_rate"])) < 1e-12
    assert out["images"] == 16 and out["layer_firing_rate"]


def test_same_seed_same_training():
    cfg = tiny_config("lth")
    finals = []
    for _ in range(2):
        model = runstore.build_model(cfg)
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
    # batch size, channels-last storage and the materialised-tensor path change nothing but speed.
    # Dyadic weights and pixels make every sum exact (conftest.dyadic_), so the network fires on
    # every CPU and "nothing" can be tested as equality, not as one machine's tolerance.
    cfg = tiny_config("lth")
    model = dyadic_(runstore.build_model(cfg))
    ds = dyadic_images(20)
    cpu = torch.device("cpu")
    ref = training.evaluate(model, training.eval_loader(ds, 3), cpu, per_layer=True)
    assert min(ref["layer_firing_rate"].values()) > 0            # every layer fires: not vacuous
    big = training.evaluate(model, training.eval_loader(ds), cpu, per_layer=True)
    plain = training.evaluate(model, torch.utils.data.DataLoader(ds, batch_size=7), cpu, per_layer=True)
    assert training.uses_channels_last(model) is False
    model = model.to(memory_format=torch.channels_last)
    assert training.uses_channels_last(model) is True
    cl = training.evaluate(model, training.eval_loader(ds, 8), cpu, per_layer=True)
    for other in (big, plain, cl):
        assert other["images"] == 20 and other["accuracy"] == ref["accuracy"]
        assert other["layer_firing_rate"] == ref["layer_firing_rate"]
        assert abs(other["firing_rate"] - ref["firing_rate"]) < 1e-12
        assert abs(other["loss"] - ref["loss"]) < 1e-5             # a mean over batches: order-rounded


def test_eval_loader_slices_tensor_datasets_in_order():
    ds = synthetic(10)
    batches = training.eval_loader(ds, 4)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([x for x, _ in batches]), ds.tensors[0])


def test_amp_evaluates_in_bf16_on_cpu_close_to_fp32():
    cfg = tiny_config("lth")
    model = dyadic_(runstore.build_model(cfg))                  # fires by design (conftest.dyadic_)
    loader = training.eval_loader(dyadic_images(8))
    cpu = torch.device("cpu")
    a = training.evaluate(model, loader, cpu)
    b = training.evaluate(model, loader, cpu, amp=True)
    assert a["firing_rate"] > 0
    assert b == training.evaluate(model, loader, cpu, amp=True)    # deterministic
    assert a["images"] == b["images"]
    assert abs(a["firing_rate"] - b["firing_rate"]) < 0.02          # bf16 rounding moves few spikes


def test_gpu_profile_trains_one_step_on_cpu():
    from uticket_lib import profiles
    cfg = profiles.get("gpu", "vgg16", overrides={"model.width": 0.0625, "train.batch_size": 8,
                                                  "data.num_workers": 0})
    model = runstore.build_model(cfg)
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


class _Timed(torch.nn.Module):
    """A read-out whose output at step t is ``pattern(t) * x @ w`` ([T, N, 3]): its time averages
    at each T are known exactly, so the KL arithmetic is tested without a network's float path."""

    def __init__(self, pattern):
        super().__init__()
        self.timesteps, self.pattern = 4, pattern
        self.w = torch.tensor([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]])

    def forward(self, x):                                           # x [N, 2]
        steps = [self.pattern(t) * (x @ self.w) for t in range(self.timesteps)]
        return torch.stack(steps)                                   # [T, N, 3]


def _released_normalise(KDdivs):
    """The released find_ET_ticket after its KL loop, transcribed line for line (candidate_t [2, 3],
    threshold 1.5, new_timestep 4): returns (norm_KLdivs, new_timestep)."""
    candidate_t = [2, 3]
    max_KLdivs = max(KDdivs)
    norm_KLdivs = []
    threshold = 1.5
    new_timestep = 4
    for i, kldiv in enumerate(KDdivs):
        norm_KLdiv = kldiv/max_KLdivs
        norm_KLdivs.append(norm_KLdiv)
    for i, n_kldiv in enumerate(norm_KLdivs):
        if n_kldiv < threshold:
            new_timestep = candidate_t[i]
            break
    return norm_KLdivs, new_timestep


def test_et_kl_on_outputs_built_by_hand():
    from uticket_lib.search import et_choice, et_kl, et_kl_raw, et_normalise
    x = torch.tensor([[1.0, 0.5], [-0.5, 2.0], [0.3, -1.0]])
    # output only at odd steps: time averages are 1/2 (T = 2), 1/3 (T = 3), 1/2 (T = 4)
    model = _Timed(lambda t: float(t % 2))
    raw = et_kl_raw(model, x, 4)
    assert abs(raw[2]) <= search.ET_ZERO < 1.0 < raw[3]        # T = 2 equals T = 4 up to rounding
    ref = torch.softmax(0.5 * (x @ model.w), -1)
    want = 1e4 * float((ref * (ref.log() - torch.log_softmax((x @ model.w) / 3, -1))).sum()) / ref.numel()
    assert raw[3] == pytest.approx(want, rel=1e-5)
    kl = et_kl(model, x, 4)
    assert kl[3] == 1.0 and kl[2] == pytest.approx(0.0, abs=1e-5)
    assert et_choice(kl, 4) == 2
    assert model.timesteps == 4 and model.training            # restored
    assert et_normalise(raw)[1] is None


def test_et_kl_of_a_silent_network_is_flagged_not_divided_by_zero():
    from uticket_lib.search import ET_DEGENERATE, et_choice, et_kl_raw, et_normalise
    silent = _Timed(lambda t: 0.0)                              # the same output at every T
    raw = et_kl_raw(silent, torch.ones(4, 2), 4)
    assert set(raw) == {2, 3} and all(abs(v) <= search.ET_ZERO for v in raw.values())
    with pytest.raises(ZeroDivisionError):                      # what the released code does at 0
        _released_normalise([0.0, 0.0])
    kl, note = et_normalise(raw)
    assert kl == {2: 0.0, 3: 0.0} and note == ET_DEGENERATE
    assert et_choice(kl, 4) == 2


@pytest.mark.parametrize("kd", [[3.0, 1.0], [1.0, 3.0], [2.0, 2.0], [0.0, 5.0], [7.5, 0.0]])
def test_et_normalise_matches_the_released_loop(kd):
    from uticket_lib.search import et_choice, et_normalise
    norm, t = _released_normalise(kd)
    ours, note = et_normalise({2: kd[0], 3: kd[1]})
    assert list(ours.values()) == norm and et_choice(ours, 4) == t and note is None


def test_et_choice_takes_the_first_candidate_below_the_bound():
    from uticket_lib.search import et_choice
    assert et_choice({2: 1.0, 3: 0.4}, 4) == 2      # normalised values are <= 1: always the first
    assert et_choice({2: 1.6, 3: 0.4}, 4) == 3
    assert et_choice({2: 1.6, 3: 1.5}, 4) == 4      # none below 1.5: keep the reference T
