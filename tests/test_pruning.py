"""Masks (ones / prunable / apply / sparsity / save / load) and magnitude pruning."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from uticket_lib.pruning import (MaskError, apply, check, layer_sparsity, load, ones, prunable, prune,
                                 save, sparsity)


def net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.Conv2d(4, 6, 1)),
                         nn.Flatten(), nn.Linear(6, 2))


def random_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    shapes = {"a": (16, 8, 3, 3), "b": (32, 16, 3, 3), "c": (10, 32)}
    return {n: torch.randn(s, generator=gen) for n, s in shapes.items()}


def kept(masks: dict[str, torch.Tensor]) -> int:
    return sum(int(m.sum()) for m in masks.values())


# ---------------------------------------------------------------- mask basics

def test_ones_from_dict_and_from_pairs():
    model = net()
    from_pairs = ones(model.named_parameters())
    from_dict = ones(dict(model.named_parameters()))
    assert from_pairs.keys() == from_dict.keys()
    assert all(m.dtype == torch.float32 and bool((m == 1).all()) for m in from_pairs.values())
    assert not any(m.requires_grad for m in from_pairs.values())


def test_prunable_lists_conv_and_linear_weights_in_module_order():
    model = net()
    weights = prunable(model)
    assert list(weights) == ["0.weight", "2.0.weight", "4.weight"]
    params = dict(model.named_parameters())
    assert all(weights[n] is params[n] for n in weights)


def test_apply_multiplies_in_place_and_rejects_unknown_names():
    model = net()
    masks = ones(prunable(model))
    masks["0.weight"][0] = 0
    apply(model, masks)
    assert bool((model[0].weight[0] == 0).all()) and bool((model[0].weight[1] != 0).any())
    with pytest.raises(MaskError):
        apply(model, {"9.weight": torch.ones(1)})
    with pytest.raises(MaskError):
        apply(model, {"0.weight": torch.ones(2, 2)})


def test_sparsity_and_layer_sparsity():
    masks = {"a": torch.tensor([1.0, 0.0, 0.0, 0.0]), "b": torch.tensor([[1.0, 1.0], [1.0, 0.0]])}
    assert sparsity(masks) == pytest.approx(4 / 8)
    assert layer_sparsity(masks) == pytest.approx({"a": 0.75, "b": 0.25})
    with pytest.raises(MaskError):
        sparsity({})


# ---------------------------------------------------------------- save / load

def test_save_load_round_trip_stores_bool_loads_float(tmp_path):
    masks = prune(random_weights(), ones(random_weights()), 0.6)
    path = save(masks, tmp_path / "level_1" / "mask.pt")
    raw = torch.load(path, weights_only=True)
    assert all(t.dtype == torch.bool for t in raw.values())
    for reference in (None, random_weights(), {n: tuple(t.shape) for n, t in masks.items()}):
        back = load(path, reference)
        assert back.keys() == masks.keys()
        assert all(back[n].dtype == torch.float32 and torch.equal(back[n], masks[n]) for n in masks)
    assert [p.name for p in path.parent.iterdir()] == ["mask.pt"]   # no temp file left


def _write(path, obj):
    torch.save(obj, path)
    return path


@pytest.mark.parametrize("case, match", [
    ("missing", "not found"),
    ("garbage", "cannot read"),
    ("not_dict", "expected a dict"),
    ("non_tensor", "non-tensor"),
    ("non_binary", "non-binary"),
    ("missing_name", "missing masks"),
    ("extra_name", "unknown parameters"),
    ("wrong_shape", "wrong shape"),
])
def test_load_errors_are_one_line_mask_errors(tmp_path, case, match):
    reference = {"a": (2, 3), "b": (4,)}
    good = {"a": torch.ones(2, 3, dtype=torch.bool), "b": torch.zeros(4, dtype=torch.bool)}
    path = tmp_path / "mask.pt"
    if case == "garbage":
        path.write_bytes(b"\x00this is not a torch file\xff" * 10)
    elif case != "missing":
        obj = {
            "not_dict": [torch.ones(2, 3)],
            "non_tensor": {**good, "a": 1.0},
            "non_binary": {**good, "a": torch.full((2, 3), 0.5)},
            "missing_name": {"a": good["a"]},
            "extra_name": {**good, "c": torch.ones(1)},
            "wrong_shape": {**good, "a": torch.ones(3, 2)},
        }[case]
        _write(path, obj)
    with pytest.raises(MaskError, match=match) as info:
        load(path, reference)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_save_rejects_non_binary_masks(tmp_path):
    with pytest.raises(MaskError, match="non-binary"):
        save({"a": torch.tensor([0.0, 2.0])}, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


def test_check_accepts_tensors_as_reference():
    check({"a": torch.ones(2, 2)}, {"a": torch.empty(2, 2)})
    with pytest.raises(MaskError):
        check({"a": torch.ones(2, 2)}, {"a": torch.empty(4)})


# ---------------------------------------------------------------- magnitude pruning

def test_hand_case_global_and_layer_scope():
    weights = {"a": torch.tensor([0.1, -0.2, 0.3, 4.0]), "b": torch.tensor([5.0, -6.0, 7.0, 0.05])}
    masks = ones(weights)
    # global: round(0.5 * 8) = 4 smallest |w| overall: 0.05, 0.1, 0.2, 0.3
    out = prune(weights, masks, 0.5)
    assert out["a"].tolist() == [0, 0, 0, 1] and out["b"].tolist() == [1, 1, 1, 0]
    # layer: the 2 smallest of each tensor
    out = prune(weights, masks, 0.5, scope="layer")
    assert out["a"].tolist() == [0, 0, 1, 1] and out["b"].tolist() == [0, 1, 1, 0]


def test_count_uses_pythons_round_half_to_even():
    weights = {"a": torch.arange(1.0, 7.0), "b": torch.arange(1.0, 11.0)}
    out = prune(weights, ones(weights), 0.25, scope="layer")     # 1.5 -> 2, 2.5 -> 2
    assert out["a"].tolist() == [0, 0, 1, 1, 1, 1] and int(out["b"].sum()) == 8


def test_ties_pruned_in_dict_then_index_order():
    weights = {"a": torch.ones(5), "b": torch.ones(5)}
    out = prune(weights, ones(weights), 0.6)            # 6 of 10 equal weights
    assert out["a"].tolist() == [0] * 5 and out["b"].tolist() == [0, 1, 1, 1, 1]


def test_iterated_global_pruning_follows_iterated_rounding():
    weights, fraction = random_weights(), 0.25
    masks, survivors = ones(weights), sum(w.numel() for w in weights.values())
    for _ in range(8):
        previous = masks
        masks = prune(weights, masks, fraction)
        survivors -= round(fraction * survivors)
        assert kept(masks) == survivors
        assert all(bool((masks[n] <= previous[n]).all()) for n in masks)   # masks only shrink
    total = sum(w.numel() for w in weights.values())
    # each round's rounding moves the count by <= 0.5
    assert sparsity(masks) == pytest.approx(1 - (1 - fraction) ** 8, abs=8 * 0.5 / total)


def test_pruned_weights_are_never_larger_than_kept_ones():
    weights = random_weights(1)
    before = prune(weights, ones(weights), 0.5)
    after = prune(weights, before, 0.3)
    magnitude = torch.cat([weights[n].abs().flatten() for n in weights])
    was = torch.cat([before[n].flatten() for n in weights]).bool()
    now = torch.cat([after[n].flatten() for n in weights]).bool()
    removed, stayed = magnitude[was & ~now], magnitude[now]
    assert removed.numel() == round(0.3 * int(was.sum()))
    assert removed.max() <= stayed.min()


def test_layer_scope_prunes_each_tensor_by_its_own_fraction():
    weights = random_weights(2)
    masks = prune(weights, ones(weights), 0.5)               # global: layers end up uneven
    out = prune(weights, masks, 0.3, scope="layer")
    for n in weights:
        n_before = int(masks[n].sum())
        assert int(out[n].sum()) == n_before - round(0.3 * n_before)
        assert bool((out[n] <= masks[n]).all())


def test_fraction_zero_is_identity_and_inputs_are_not_mutated():
    weights = random_weights()
    masks = {n: (w > 0).float() for n, w in weights.items()}
    copies = {n: m.clone() for n, m in masks.items()}
    assert all(torch.equal(prune(weights, masks, 0.0)[n], masks[n]) for n in masks)
    prune(weights, masks, 0.4)
    assert all(torch.equal(masks[n], copies[n]) for n in masks)


def test_bool_masks_and_extra_weights_are_accepted():
    weights = random_weights()
    masks = {"a": torch.ones(16, 8, 3, 3, dtype=torch.bool)}
    out = prune({**weights, "bias": torch.zeros(3)}, masks, 0.5)
    assert list(out) == ["a"] and out["a"].dtype == torch.float32 and kept(out) == 16 * 8 * 9 // 2


@pytest.mark.parametrize("fraction, scope, weights_fn", [
    (1.0, "global", None),
    (-0.1, "global", None),
    (0.2, "network", None),
    (0.2, "global", lambda w: {k: v for k, v in w.items() if k != "b"}),
    (0.2, "global", lambda w: {**w, "a": torch.ones(3)}),
    (0.2, "global", lambda w: {**w, "c": torch.full((10, 32), float("nan"))}),
])
def test_bad_arguments_raise_value_error(fraction, scope, weights_fn):
    weights = random_weights()
    with pytest.raises(ValueError):
        prune(weights_fn(weights) if weights_fn else weights, ones(weights), fraction, scope)


def test_empty_masks_raise_value_error():
    with pytest.raises(ValueError, match="no masks"):
        prune(random_weights(), {}, 0.2)
