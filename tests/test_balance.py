"""u-Ticket balancing (Algorithm 1, lines 6-16): hand cases, invariants, randomness, validation."""
from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch

from uticket_lib.pruning import block_targets, default_covered, filter_loads, loads
from uticket_lib.pruning.balance import (_first_distinct, _sample_distinct, balance,
                                         balance_released_loop)


def layer(filter_loads_: list[int], size: int, seed: int = 0) -> torch.Tensor:
    """A [K, 1, 1, size] mask whose filter k has exactly filter_loads_[k] ones at random places."""
    gen = torch.Generator().manual_seed(seed)
    rows = [torch.randperm(size, generator=gen) < n for n in filter_loads_]
    return torch.stack(rows).float().view(len(filter_loads_), 1, 1, size)


def random_net(seed: int = 0, density: float = 0.1) -> dict[str, torch.Tensor]:
    """Encoder conv, three covered convs (one with 10 filters, one 1x1 shortcut), a linear layer."""
    gen = torch.Generator().manual_seed(seed)
    shapes = {"enc.weight": (8, 3, 3, 3), "c1.weight": (16, 8, 3, 3), "c2.weight": (10, 16, 3, 3),
              "short.weight": (20, 16, 1, 1), "fc.weight": (5, 10)}
    return {n: (torch.rand(s, generator=gen) < density).float() for n, s in shapes.items()}


def block_view(mask: torch.Tensor, n_pe: int) -> list[list[int]]:
    """Real filter loads of every block, as Python lists."""
    block_loads, valid = loads(mask, n_pe)
    return [row[ok].tolist() for row, ok in zip(block_loads, valid)]


# ---------------------------------------------------------------- hand-computed cases

def test_hand_case_block_and_layer_reference():
    masks = {"enc": torch.ones(2, 1, 2, 2), "c": layer([1, 3, 0, 2], size=4)}
    # blocks of 2: (1, 3) -> ceil(2) = 2; (0, 2) -> ceil(1) = 1
    assert block_targets(masks["c"], n_pe=2).tolist() == [2, 1]
    assert filter_loads(balance(masks, n_pe=2)["c"]).tolist() == [2, 2, 1, 1]
    # one layer mean: 6 / 4 = 1.5 -> 2
    assert block_targets(masks["c"], n_pe=2, reference="layer").tolist() == [2, 2]
    assert filter_loads(balance(masks, n_pe=2, reference="layer")["c"]).tolist() == [2, 2, 2, 2]


def test_partial_last_block_uses_its_real_filters_only():
    mask = layer([1, 2, 3, 4, 5, 6, 7, 8, 9, 1], size=9)   # 10 filters, n_pe 4: blocks of 4, 4, 2
    block_loads, valid = loads(mask, n_pe=4)
    assert block_loads.shape == valid.shape == (3, 4)
    assert valid[2].tolist() == [True, True, False, False]
    assert block_loads[2].tolist() == [9, 1, 0, 0]
    # ceil(10/4) = 3, ceil(26/4) = 7, last block ceil((9 + 1) / 2) = 5 (padding would give 3)
    assert block_targets(mask, n_pe=4).tolist() == [3, 7, 5]
    out = balance({"enc": torch.ones(1, 1, 1, 1), "c": mask}, n_pe=4)["c"]
    assert filter_loads(out).tolist() == [3] * 4 + [7] * 4 + [5] * 2


def test_target_reaching_filter_size_recovers_every_pruned_position():
    mask = layer([9, 9, 9, 6], size=9)                     # ceil(33 / 4) = 9 = filter size
    out = balance({"enc": torch.ones(1, 1, 1, 1), "c": mask}, n_pe=4)["c"]
    assert torch.equal(out, torch.ones_like(mask))


# ---------------------------------------------------------------- invariants

@pytest.mark.parametrize("n_pe", [2, 4, 16])
@pytest.mark.parametrize("reference", ["block", "layer"])
def test_every_block_of_every_covered_layer_is_equal(n_pe, reference):
    masks = random_net()
    out = balance(masks, n_pe=n_pe, reference=reference)
    for name in default_covered(masks):
        blocks = block_view(out[name], n_pe)
        assert all(len(set(b)) == 1 for b in blocks), (name, blocks)
        if reference == "layer":
            assert len(set(filter_loads(out[name]).tolist())) == 1


def test_default_coverage_skips_encoder_and_linear_but_not_shortcut():
    masks = random_net()
    assert default_covered(masks) == ["c1.weight", "c2.weight", "short.weight"]
    out = balance(masks, n_pe=4)
    assert torch.equal(out["enc.weight"], masks["enc.weight"])
    assert torch.equal(out["fc.weight"], masks["fc.weight"])
    assert not torch.equal(out["short.weight"], masks["short.weight"])


@pytest.mark.parametrize("reference", ["block", "layer"])
def test_each_filter_moves_exactly_to_its_target_by_flipping_the_right_positions(reference):
    masks, n_pe = random_net(density=0.3), 4
    out = balance(masks, n_pe=n_pe, reference=reference)
    for name in default_covered(masks):
        before, after = masks[name].flatten(1), out[name].flatten(1)     # [K, F]
        load = filter_loads(masks[name])
        target = block_targets(masks[name], n_pe, reference).repeat_interleave(n_pe)[: len(load)]
        switched_on = ((after == 1) & (before == 0)).sum(1)             # recovered: were pruned
        switched_off = ((after == 0) & (before == 1)).sum(1)            # removed: were kept
        assert torch.equal(switched_on, (target - load).clamp(min=0))
        assert torch.equal(switched_off, (load - target).clamp(min=0))


def test_net_change_per_block_is_below_the_block_size():
    masks, n_pe = random_net(density=0.3), 4
    out = balance(masks, n_pe=n_pe)
    for name in default_covered(masks):
        before, after = loads(masks[name], n_pe)[0].sum(1), loads(out[name], n_pe)[0].sum(1)
        n_real = loads(masks[name], n_pe)[1].sum(1)
        assert ((after - before >= 0) & (after - before < n_real)).all()   # n * (ceil(mean) - mean)


def test_balanced_mask_is_a_fixed_point_whatever_the_seed():
    once = balance(random_net(), n_pe=4, seed=1)
    for seed in (1, 2):
        again = balance(once, n_pe=4, seed=seed)
        assert all(torch.equal(once[n], again[n]) for n in once)


def test_same_seed_same_masks_other_seed_other_masks():
    masks = random_net()
    a, b, c = (balance(masks, n_pe=4, seed=s) for s in (3, 3, 4))
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)


def test_same_masks_whatever_the_thread_count():
    masks, threads = random_net(density=0.5), torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = balance(masks, n_pe=4)
        torch.set_num_threads(max(2, threads))
        multi = balance(masks, n_pe=4)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(single[n], multi[n]) for n in single)


def test_n_pe_one_is_a_no_op():
    masks = random_net()
    out = balance(masks, n_pe=1)
    assert all(torch.equal(out[n], masks[n]) for n in masks)


def test_inputs_untouched_and_bool_masks_accepted():
    masks = {n: m.bool() for n, m in random_net().items()}
    copies = {n: m.clone() for n, m in masks.items()}
    out = balance(masks, n_pe=4)
    assert all(torch.equal(masks[n], copies[n]) for n in masks)
    assert all(m.dtype == torch.float32 for m in out.values())


def test_explicit_coverage_can_include_a_linear_layer():
    masks = random_net(density=0.4)
    out = balance(masks, n_pe=2, covered=["fc.weight"])
    assert all(len(set(b)) == 1 for b in block_view(out["fc.weight"], 2))
    assert torch.equal(out["c1.weight"], masks["c1.weight"])


def test_loop_reference_reaches_the_same_loads():
    masks = random_net(density=0.3)
    fast, slow = balance(masks, n_pe=4), balance_released_loop(masks, n_pe=4)
    for name in masks:
        assert torch.equal(filter_loads(fast[name]), filter_loads(slow[name]))
        changed = slow[name] != masks[name]
        assert torch.equal(filter_loads(changed.float()),
                           (filter_loads(masks[name]) - filter_loads(slow[name])).abs())


# ---------------------------------------------------------------- randomness is uniform

def test_recovered_and_removed_positions_are_uniform():
    # 3000 filters of 6 with 2 kept and 3000 with all 6 kept -> one layer target of 4:
    # each sparse filter recovers 2 of its 4 pruned positions, each dense one removes 2 of 6.
    n = 3000
    sparse = torch.zeros(n, 6)
    sparse[:, :2] = 1
    mask = torch.cat([sparse, torch.ones(n, 6)]).view(2 * n, 1, 1, 6)
    out = balance({"enc": torch.ones(1, 1, 1, 1), "c": mask}, n_pe=1, reference="layer")["c"]
    out = out.view(2 * n, 6)
    recovered = Counter(tuple(row[2:].nonzero().flatten().tolist()) for row in out[:n])
    removed = Counter(tuple((row == 0).nonzero().flatten().tolist()) for row in out[n:])
    for counts, options in ((recovered, list(itertools.combinations(range(4), 2))),
                            (removed, list(itertools.combinations(range(6), 2)))):
        assert sorted(counts) == options
        expected = n / len(options)
        sigma = (expected * (1 - 1 / len(options))) ** 0.5
        assert all(abs(c - expected) < 5 * sigma for c in counts.values()), counts


def test_sample_distinct_exact_counts_even_when_all_values_are_needed():
    n = torch.tensor([1, 5, 50, 1000, 1000])
    d = torch.tensor([1, 5, 49, 1000, 3])
    row, value = _sample_distinct(n, d, torch.Generator().manual_seed(0))
    for j in range(len(n)):
        picked = value[row == j]
        assert len(picked) == d[j] and len(set(picked.tolist())) == d[j]
        assert int(picked.min()) >= 0 and int(picked.max()) < n[j]


def test_a_row_without_enough_distinct_draws_is_reported_for_a_redraw():
    gen = torch.Generator().manual_seed(0)
    ok, row, value = _first_distinct(torch.tensor([100, 3]), torch.tensor([50, 1]), torch.tensor([5, 5]), gen)
    assert ok.tolist() == [False, True] and row.tolist() == [1] and 0 <= int(value) < 3


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs", [{"n_pe": 0}, {"n_pe": -3}, {"n_pe": 2.0}, {"reference": "filter"},
                                    {"covered": ["nope.weight"]}])
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        balance(random_net(), **kwargs)


def test_loads_and_targets_validate_too():
    with pytest.raises(ValueError):
        loads(torch.ones(4, 2), n_pe=0)
    with pytest.raises(ValueError):
        block_targets(torch.ones(4, 2), reference="network")
