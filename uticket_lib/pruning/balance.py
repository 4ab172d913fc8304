"""u-Ticket workload balancing (paper Sec. III-A, Algorithm 1 lines 6-16).

Workload model (Sec. II-C): a layer's output filters are cut into consecutive blocks of n_PE
filters; PE j of block g holds filter g*n_PE + j, and its load is that filter's number of non-zero
weights. All PEs of a block wait for the slowest one, so utilization (Eq. 2) is 1 exactly when every
filter of a block has the same load.

Balancing sets every filter of a block to the block's target t = ceil(mean load) by switching on
(t - load) pruned positions or switching off (load - t) surviving positions, each chosen uniformly at
random within the filter (RandomlyRecover / RandomlyRemove). The paper's text takes one average per
layer (``reference="layer"``); the released code one per block (``reference="block"``, default).
A last, partial block (C_out not a multiple of n_PE) is balanced over its real filters only; the
empty PE slots are padding and count for nothing.

Only masks are returned: the values of recovered weights (their rewind values) are set by the caller.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from uticket_lib.pruning.mask import Masks

REFERENCES = ("block", "layer")


def default_covered(masks: Mapping[str, Tensor]) -> list[str]:
    """Every 4-D (conv) mask except the first one, the encoding conv. Linear layers are not covered."""
    return [name for name, m in masks.items() if m.dim() == 4][1:]


def filter_loads(mask: Tensor) -> Tensor:
    """Non-zero count of every output filter: [K] int64 for a 0/1 mask [K, ...]."""
    flat = mask.reshape(mask.shape[0], -1)
    return (flat if flat.is_floating_point() else flat.ne(0)).sum(1).long()  # float sum: fastest path


def loads(mask: Tensor, n_pe: int = 16) -> tuple[Tensor, Tensor]:
    """PE loads per block: (loads [n_blocks, n_pe] int64, valid [n_blocks, n_pe] bool).

    The last block is padded with empty PEs (load 0, valid False) when K is not a multiple of n_pe.
    """
    _check_n_pe(n_pe)
    return _pad_blocks(filter_loads(mask), n_pe)


def _pad_blocks(per_filter: Tensor, n_pe: int) -> tuple[Tensor, Tensor]:
    """[K] loads -> (loads [n_blocks, n_pe], valid [n_blocks, n_pe]), zero-padded at the end."""
    k = per_filter.numel()
    n_blocks = -(-k // n_pe)
    padded = per_filter.new_zeros(n_blocks * n_pe)
    padded[:k] = per_filter
    valid = torch.arange(n_blocks * n_pe, device=per_filter.device) < k
    return padded.view(n_blocks, n_pe), valid.view(n_blocks, n_pe)


def block_targets(mask: Tensor, n_pe: int = 16, reference: str = "block") -> Tensor:
    """Target load of every block, [n_blocks] int64: ceil of the mean load of its real filters
    ("block") or of all filters of the layer ("layer"), clamped to the filter size."""
    _check_n_pe(n_pe)
    _check_reference(reference)
    return _targets(filter_loads(mask), n_pe, reference, mask[0].numel())


def _targets(per_filter: Tensor, n_pe: int, reference: str, filter_size: int) -> Tensor:
    """[K] loads -> [n_blocks] targets (see `block_targets`)."""
    block_loads, valid = _pad_blocks(per_filter, n_pe)   # [B, n_pe] each
    if reference == "block":
        total, count = block_loads.sum(1), valid.sum(1)   # [B], [B]
    else:
        total, count = block_loads.sum().expand(len(block_loads)), valid.sum()
    return (-(-total // count)).clamp(max=filter_size)


def balance(masks: Mapping[str, Tensor], n_pe: int = 16, reference: str = "block",
            covered: Sequence[str] | None = None, seed: int = 0) -> Masks:
    """u-Ticket's layer-wise adjustment (Algorithm 1, lines 6-16) on every covered layer.

    Returns new float32 masks (inputs untouched); uncovered masks are copied unchanged. After it,
    every block of a covered layer has equal loads (utilization 1), and with ``reference="layer"``
    every filter of the layer. A balanced mask is a fixed point. The random choices of a layer come
    from a torch.Generator seeded from (seed, layer name): same inputs, same masks, whatever the
    thread count or the other layers.
    """
    _check_n_pe(n_pe)
    _check_reference(reference)
    covered = default_covered(masks) if covered is None else list(covered)
    _check_covered(masks, covered)
    out = {name: m.detach().to(torch.float32, memory_format=torch.contiguous_format, copy=True)
           for name, m in masks.items()}
    for name in covered:
        mask = out[name]
        out[name] = _balance_layer(mask.cpu(), n_pe, reference, _generator(seed, name)).to(mask.device)
    return out


def _balance_layer(mask: Tensor, n_pe: int, reference: str, gen: torch.Generator) -> Tensor:
    """Balance one float32 CPU mask [K, ...] in place and return it."""
    k, size = mask.shape[0], mask[0].numel()
    flat = mask.view(-1)                                                  # [K*F]
    load = filter_loads(mask)                                             # [K]
    target = _targets(load, n_pe, reference, size).repeat_interleave(n_pe)[:k]  # [K]
    rows = (target != load).nonzero().squeeze(1)                          # [R] filters to adjust
    if rows.numel() == 0:
        return mask
    recover = target[rows] > load[rows]                                   # [R]
    candidates = torch.where(recover, size - load[rows], load[rows])      # [R] pruned / kept positions
    owner, rank = _sample_distinct(candidates, (target[rows] - load[rows]).abs(), gen)  # [S], [S]
    filt, up = rows[owner], recover[owner]                                # [S]
    kept = flat.nonzero().squeeze(1)                                      # [nnz] flat indices, ascending
    first_kept = torch.cumsum(load, 0) - load                             # [K] offset of a filter in `kept`
    # r-th pruned position of a filter: global zero rank z, located by the zeros before each survivor
    zeros_before = kept - torch.arange(kept.numel())                     # [nnz], non-decreasing
    z = filt[up] * size - first_kept[filt[up]] + rank[up]
    flat[z + torch.searchsorted(zeros_before, z, right=True)] = 1.0       # RandomlyRecover
    flat[kept[first_kept[filt[~up]] + rank[~up]]] = 0.0                   # RandomlyRemove
    return mask


def _sample_distinct(n: Tensor, d: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """For every row j, d[j] distinct integers drawn uniformly from [0, n[j]) (1 <= d[j] <= n[j]).

    Returns (row [sum d], value [sum d]). Each row draws with replacement and keeps its first d[j]
    distinct values: an exact uniform sample without replacement, at a cost proportional to d rather
    than n. A row with too few distinct values is redrawn with twice the draws; the redraw keeps the
    sample exact because success depends only on how many distinct values came up, not which.
    """
    rows = torch.arange(n.numel())
    draws = _draw_budget(n, d)
    found_rows, found_values = [], []
    while rows.numel():
        ok, row, value = _first_distinct(n[rows], d[rows], draws, gen)
        found_rows.append(rows[row])
        found_values.append(value)
        rows, draws = rows[~ok], draws[~ok] * 2
    return torch.cat(found_rows), torch.cat(found_values)


def _draw_budget(n: Tensor, d: Tensor) -> Tensor:
    """Draws per row: 1.25x the expected number n (H_n - H_{n-d}) needed for d distinct values, + 4."""
    n64, d64 = n.double(), d.double()
    expected = n64 * (torch.special.digamma(n64 + 1) - torch.special.digamma(n64 - d64 + 1))
    return (1.25 * expected).ceil().long() + 4


def _first_distinct(n: Tensor, d: Tensor, draws: Tensor, gen: torch.Generator
                    ) -> tuple[Tensor, Tensor, Tensor]:
    """One attempt: (ok [R] bool, row [S], value [S]) with the first d distinct draws of each ok row."""
    row = torch.repeat_interleave(torch.arange(n.numel()), draws)             # [M] row of every draw
    value = (torch.rand(row.numel(), generator=gen, dtype=torch.float64) * n[row]).long()
    value = torch.minimum(value, n[row] - 1)                                  # [M] in [0, n)
    key = row * int(n.max()) + value                                          # [M] unique per (row, value)
    sorted_key, order = torch.sort(key, stable=True)                          # draw order kept among equals
    new = torch.ones_like(sorted_key, dtype=torch.bool)
    new[1:] = sorted_key[1:] != sorted_key[:-1]
    first = torch.zeros_like(new)
    first[order] = new                                                        # [M] first of its value
    seen = torch.cumsum(first, 0)                                             # [M] inclusive count
    end = torch.cumsum(draws, 0) - 1                                          # [R] last draw of each row
    start = end - draws + 1
    before = seen[start] - first[start].long()                                # [R] firsts before the row
    distinct = seen[end] - before                                             # [R]
    ok = distinct >= d
    keep = first & (seen - 1 - before[row] < d[row]) & ok[row]
    return ok, row[keep], value[keep]


def _generator(seed: int, name: str) -> torch.Generator:
    """A CPU generator seeded from (seed, layer name), stable across runs and platforms."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") >> 1)


def _check_n_pe(n_pe: int) -> None:
    if isinstance(n_pe, bool) or not isinstance(n_pe, int) or n_pe < 1:
        raise ValueError(f"n_pe must be an integer >= 1, got {n_pe!r}")


def _check_reference(reference: str) -> None:
    if reference not in REFERENCES:
        raise ValueError(f"unknown balancing reference {reference!r}; use one of {REFERENCES}")


def _check_covered(masks: Mapping[str, Tensor], covered: list[str]) -> None:
    unknown = [n for n in covered if n not in masks]
    if unknown:
        raise ValueError(f"covered layers {unknown[:3]} have no mask; name layers present in the masks")
    flat = [n for n in covered if masks[n].dim() < 2]
    if flat:
        raise ValueError(f"covered layers {flat[:3]} are not weight matrices/kernels (need >= 2 dims)")


def balance_released_loop(masks: Mapping[str, Tensor], n_pe: int = 16,
                          covered: Sequence[str] | None = None, seed: int = 0) -> Masks:
    """REFERENCE ONLY (tests and benchmark): block balancing with plain Python loops over blocks and
    filters, the way the released code does it. Same targets and invariants as
    ``balance(reference="block")``; different random draws. Far slower: use `balance`.
    """
    _check_n_pe(n_pe)
    covered = default_covered(masks) if covered is None else list(covered)
    _check_covered(masks, covered)
    gen = torch.Generator().manual_seed(seed)
    out = {name: m.detach().to("cpu", torch.float32, copy=True) for name, m in masks.items()}
    for name in covered:
        mask = out[name].view(out[name].shape[0], -1)                      # [K, F]
        for start in range(0, mask.shape[0], n_pe):
            block = range(start, min(start + n_pe, mask.shape[0]))
            block_loads = [int(mask[f].count_nonzero()) for f in block]
            target = min(-(-sum(block_loads) // len(block_loads)), mask.shape[1])
            for f, load in zip(block, block_loads):
                value = 1.0 if load < target else 0.0
                where = (mask[f] != value).nonzero().squeeze(1)         # positions to flip from
                pick = torch.randperm(where.numel(), generator=gen)[: abs(target - load)]
                mask[f, where[pick]] = value
    return out
