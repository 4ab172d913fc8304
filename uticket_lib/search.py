"""The early-time ticket (``prune.search_timesteps``): the search rounds' T, chosen or given.

The released ``find_ET_ticket``: at the rewind point, the KL between the time-averaged outputs at
each candidate T and at the full T, normalised by the largest; the first candidate under the bound
is the search T (``et_*``). ``search_record`` computes it once per dense level and keeps it in
``level_0/search.json``; ``level_timesteps`` gives each pruned level its T (the last level trains at
the full T).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from . import io, paths
from .config import RunConfig
from .training import _unwrap, is_main


# Released find_ET_ticket: candidate T values and the acceptance bound on the normalised KL
# (RuokaiYin/u-Ticket, train_snn_earlyT_laterewindlth_ut.py; see shared notes/released_code.md).
ET_CANDIDATES = (2, 3)
ET_BOUND = 1.5
ET_IMAGES = 1000      # one batch of up to this many training images


@torch.no_grad()
def et_kl_raw(model: nn.Module, images: torch.Tensor, reference_t: int,
              candidates: tuple[int, ...] = ET_CANDIDATES) -> dict[int, float]:
    """Raw KL of each candidate T against ``reference_t`` (the released early-time rule, before it
    normalises).

    Outputs are summed over time and divided by T; each candidate's value is
    ``1e4 * KLDivLoss(mean)(log_softmax(candidate), softmax(reference))``. The model runs in eval
    mode (BN statistics untouched) and keeps its ``timesteps``. ``images [N, C, H, W]``.
    """
    net = _unwrap(model)
    was_training, old_t = net.training, net.timesteps
    net.eval()
    try:
        def mean_out(t: int) -> torch.Tensor:
            net.timesteps = t
            return net(images).sum(0) / t                                   # [N, K]
        ref = F.softmax(mean_out(reference_t), dim=-1)
        # KLDivLoss(reduction="mean"): the sum over every element divided by their number (N * K)
        return {t: 1e4 * float(F.kl_div(F.log_softmax(mean_out(t), -1), ref, reduction="sum"))
                / ref.numel() for t in candidates}
    finally:
        net.timesteps = old_t
        net.train(was_training)


# Raw KL (x 1e4, as recorded) at or below which two outputs count as equal: identical
# distributions give up to about 1e-5 from log_softmax against log(softmax) rounding (measured in
# tests/test_training.py); the released runs' values are O(1) and above.
ET_ZERO = 1e-3
# Said in a level's search record when every raw KL is that small (see et_normalise).
ET_DEGENERATE = ("every candidate's raw KL is 0: the candidates' time-averaged outputs equal the "
                 "reference T's (typically no spike reaches the read-out, so the output is the bias "
                 "at every T); the released rule divides by the largest value and stops with "
                 "ZeroDivisionError here; this run takes the first candidate, a choice the KL did "
                 "not inform")


def et_normalise(raw: dict[int, float]) -> tuple[dict[int, float], str | None]:
    """(each raw KL divided by the largest, note): the released normalisation.

    Where the largest is at most ``ET_ZERO`` (every KL 0 up to float rounding: the outputs carry no
    difference), the released code divides by zero (or by rounding noise); here every normalised
    value is 0.0, so ``et_choice`` takes the first candidate, and the note (``ET_DEGENERATE``) says so.
    """
    top = max(raw.values())
    if top > ET_ZERO:
        return {t: v / top for t, v in raw.items()}, None
    return {t: 0.0 for t in raw}, ET_DEGENERATE


def et_kl(model: nn.Module, images: torch.Tensor, reference_t: int,
          candidates: tuple[int, ...] = ET_CANDIDATES) -> dict[int, float]:
    """Normalised KL of each candidate T (``et_kl_raw`` then ``et_normalise``)."""
    return et_normalise(et_kl_raw(model, images, reference_t, candidates))[0]


def et_choice(normalised: dict[int, float], fallback: int, bound: float = ET_BOUND) -> int:
    """The first candidate (in order) whose normalised KL is below ``bound``, else ``fallback``."""
    return next((t for t, v in normalised.items() if v < bound), fallback)


def search_record(level_dir: Path, cfg: RunConfig, model: nn.Module, train_ds: Dataset,
                   device: torch.device) -> dict:
    """The search T (and, for "et", the normalised KL per candidate), computed once per level 0.

    "et": the released find_ET_ticket on one batch of up to ``ET_IMAGES`` training images (a
    permutation and augmentation seeded by ``train.seed``) at the current (rewind-point) weights,
    candidates against T = ``model.timesteps``. An int is taken as given.
    """
    path = paths.search_path(level_dir)
    if path.exists():
        return io.load_json(path)
    choice = cfg.prune.search_timesteps
    if choice == "et":
        order = torch.randperm(len(train_ds), generator=torch.Generator().manual_seed(cfg.train.seed))
        torch.manual_seed(cfg.train.seed)  # the augmentation of the batch
        images = torch.stack([train_ds[int(i)][0] for i in order[:ET_IMAGES]]).to(device)
        raw = et_kl_raw(model, images, cfg.model.timesteps)
        kl, note = et_normalise(raw)
        record = {"search_timesteps": et_choice(kl, cfg.model.timesteps),
                  "et_kl": {str(t): v for t, v in kl.items()},
                  "et_kl_raw": {str(t): v for t, v in raw.items()}}
        if note:
            record["et_note"] = note
            if is_main():
                print(f"[uticket] early-time search of {level_dir.parent.name}: {note}", flush=True)
    else:
        record = {"search_timesteps": int(choice)}
    if is_main():
        io.save_json(record, path)
    return record


def level_timesteps(cfg: RunConfig, level: int, search: dict | None) -> int:
    """T of pruned level ``level``: the search T, except the last level (``prune.levels - 1``),
    which trains at ``model.timesteps`` (the released code's final round)."""
    if search is None or level == cfg.prune.levels - 1:
        return cfg.model.timesteps
    return int(search["search_timesteps"])
