"""Switches (b) and (c) against literal numpy transcriptions of the released functions.

The transcriptions follow the behaviour of RuokaiYin/u-Ticket (commit ff2dccd,
utils_for_snn_lth.py and train_snn_earlyT_laterewindlth_ut.py) as described step by step in the
project notes: the global ``prune_by_percentile`` and ``original_initialization`` with its tensor
aliasing. They are written for these tests; no released code is copied.
"""
from __future__ import annotations

import numpy as np
import torch

from uticket_lib import rewind
from uticket_lib.pruning import magnitude
from uticket_lib.pruning.balance import balance


# ----------------------------------------------------------------------------- transcriptions
def released_prune_by_percentile(percent, mask, params):
    """params: list of (name, np.ndarray) in model order; mask: list, one per 'weight' param.
    Returns the new mask list (the released code also multiplies the weights; not needed here)."""
    alive = []
    for name, w in params:
        if "weight" in name and w.ndim > 1:
            alive.extend(w[np.nonzero(w)].tolist())
    thr = np.sort(np.abs(np.array(alive)))[int(np.floor(len(alive) * percent / 100))]
    out, k = list(mask), 0
    for name, w in params:
        if "weight" in name:
            if w.ndim > 1:
                out[k] = np.where(np.abs(w) < thr, 0, mask[k])
            k += 1
    return out


def released_original_initialization(mask, rewind_state, params):
    """params: dict name -> torch tensor (the model's parameters). Returns the new dict: weights
    are new tensors (mask * rewind), biases ARE the rewind state's tensors (aliasing)."""
    out, k = {}, 0
    for name in params:
        if "weight" in name:
            out[name] = torch.from_numpy(mask[k]).to(torch.float32) * rewind_state[name]
            k += 1
        if "bias" in name:
            out[name] = rewind_state[name]
    return out


# ----------------------------------------------------------------------------- helpers
def _random_model(seed):
    """(names, shapes) of a tiny network: a first conv, two covered convs, a BN, a linear."""
    g = np.random.default_rng(seed)
    shapes = {"enc.weight": (8, 1, 3, 3), "enc.bias": (8,), "c1.weight": (8, 8, 3, 3),
              "c1.bias": (8,), "bn.weight": (8,), "bn.bias": (8,), "c2.weight": (12, 8, 3, 3),
              "fc.weight": (10, 12), "fc.bias": (10,)}
    return {n: g.standard_normal(s).astype(np.float32) for n, s in shapes.items()}


def test_prune_released_matches_transcription_over_three_rounds():
    counts = []
    for seed in range(4):
        g = np.random.default_rng(100 + seed)
        params = _random_model(seed)
        rewind = {n: v.copy() for n, v in params.items()}
        prunable = [n for n, v in params.items() if "weight" in n and v.ndim > 1]
        code_mask = [np.ones_like(v) for n, v in params.items() if "weight" in n]  # incl. BN
        ours_stale = {n: torch.ones(params[n].shape) for n in prunable}
        trained = params
        for rnd in (1, 2, 3):
            fraction = 0.25 + 0.1 * seed
            code_mask = released_prune_by_percentile(100 * fraction, code_mask, list(trained.items()))
            ours = magnitude.prune_released({n: torch.from_numpy(trained[n]) for n in prunable},
                                            ours_stale, fraction)
            code_by_name = dict(zip([n for n in params if "weight" in n], code_mask))
            for n in prunable:
                assert np.array_equal(ours[n].numpy(), code_by_name[n]), (seed, rnd, n)
            paper = magnitude.prune({n: torch.from_numpy(trained[n]) for n in prunable},
                                    ours_stale, fraction)
            counts.append((sum(int(ours[n].sum()) for n in prunable),
                           sum(int(paper[n].sum()) for n in prunable)))
            # balance (both sides use the same balanced mask), then "train" under it
            balanced = balance(ours, n_pe=4, covered=["c1.weight", "c2.weight"], seed=rnd)
            ours_stale = ours
            trained = {n: (rewind[n] + 0.3 * g.standard_normal(v.shape).astype(np.float32))
                       * (balanced[n].numpy() if n in prunable else 1) for n, v in params.items()}
    # from round 2 on the released prune keeps a different number of weights than the paper's
    assert any(released != paper for released, paper in counts)


def test_prune_released_counts_hand_example():
    # trained weights: 6 non-zero (one recovered: stale mask 0), threshold index floor(6*0.5)=3
    w = {"a.weight": torch.tensor([[0.1, 0.2, 0.0], [0.4, 0.5, 0.6], [0.3, 0.0, 0.0]])}
    stale = {"a.weight": torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])}
    # sorted |alive| = .1 .2 .3 .4 .5 .6 -> thr = .4; keep stale where |w| >= .4: (1,1), (1,2)
    out = magnitude.prune_released(w, stale, 0.5)["a.weight"]
    assert out.tolist() == [[0, 0, 0], [0, 1, 1], [0, 0, 0]]
    # the paper's prune removes round(0.5 * 5 survivors) = 2 of the stale mask instead
    assert int(magnitude.prune(w, stale, 0.5)["a.weight"].sum()) == 3


def _state(params, buffers):
    return {**{n: t.detach().clone() for n, t in params.items()},
            **{n: t.clone() for n, t in buffers.items()}}


def test_released_rewind_matches_transcription_over_three_rounds():
    torch.manual_seed(0)
    names = ["c.weight", "c.bias", "bn.weight", "bn.bias", "fc.weight", "fc.bias"]
    shapes = {"c.weight": (4, 2, 3, 3), "c.bias": (4,), "bn.weight": (4,), "bn.bias": (4,),
              "fc.weight": (3, 4), "fc.bias": (3,)}
    params = {n: torch.randn(shapes[n]) for n in names}
    buffers = {"bn.running_mean": torch.randn(4), "bn.running_var": torch.rand(4) + 0.5,
               "bn.num_batches_tracked": torch.tensor(0)}

    def train(ps, bs):  # in-place updates, as an optimizer step and BN's forward do
        for t in ps.values():
            t.add_(torch.randn_like(t))
        bs["bn.running_mean"].mul_(0.9).add_(torch.randn(4))
        bs["bn.running_var"].mul_(0.9).add_(torch.rand(4))
        bs["bn.num_batches_tracked"].add_(3)

    train(params, buffers)                                     # round 0 up to the rewind epoch
    rewind_state = {n: t.clone() for n, t in params.items()}   # deepcopy of the state
    ours_rewind = _state(params, buffers)
    train(params, buffers)                                     # rest of round 0
    trained_prev = _state(params, buffers)
    for level in (1, 2, 3):
        mask = [(np.random.default_rng(level).random(shapes[n]) > 0.3).astype(np.float32)
                if params[n].dim() > 1 else np.ones(shapes[n], np.float32)
                for n in names if "weight" in n]
        params = released_original_initialization(mask, rewind_state, params)
        code_start = _state(params, buffers)
        ours = rewind.start_state(ours_rewind, trained_prev, level, released=True)
        for k, m in zip([n for n in names if "weight" in n], mask):
            ours[k] = ours[k] * torch.from_numpy(m)             # masking happens in _train_level
        assert set(ours) == set(code_start)
        for k in code_start:
            assert torch.equal(ours[k], code_start[k]), (level, k)
        if level == 1:  # round 1 starts from the true rewind-point biases
            assert torch.equal(code_start["c.bias"], ours_rewind["c.bias"])
        else:           # later rounds from the previous round's trained biases
            assert torch.equal(code_start["c.bias"], trained_prev["c.bias"])
            assert not torch.equal(code_start["c.bias"], ours_rewind["c.bias"])
        train(params, buffers)
        trained_prev = _state(params, buffers)
    # the paper's rewinding restores everything to the rewind point
    paper = rewind.start_state(ours_rewind, trained_prev, 3, released=False)
    assert all(torch.equal(paper[k], ours_rewind[k]) for k in paper)
