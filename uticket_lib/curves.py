"""Learning curves: validation accuracy against training images seen (what a CPU minute buys).

A curve trains one network for a budget of training images, with the learning-rate schedule of
``training.make_optimizer`` spanning the whole budget, and scores the validation split (held out of
the training set, ``data.val_split``; never the test set) every ``eval_every`` images. Points before
the end are snapshots of that one schedule, not runs with a smaller budget: only the last point is
what the budget buys. Each point records the training seconds so far (loading and augmentation
included, evaluation excluded) and the T-weighted images (``images x T / model.timesteps``), the cost
that does not depend on how loaded the machine was.

``dense_curve`` trains the dense network from its seeded initialisation (optionally at a smaller T,
``warm_timesteps``, for the first ``warm_fraction`` of the budget, then at ``model.timesteps``) and can
keep its state at chosen image counts (a rewind point, a trained network). ``ticket_curve`` prunes a
trained state one-shot to a weight sparsity (global magnitude, the lottery baseline's rule; or with
u-Ticket's balancing), rewinds to a kept state and trains the ticket under its mask.
The chosen recipes and their curves are recorded by ``ci/learning_curves.py``.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from . import data as datalib
from . import training
from .config import RunConfig
from .levelmetrics import cpu_state
from .pruning import balance as balancelib
from .pruning import magnitude
from .pruning import mask as masklib
from .rundata import load_datasets
from .runstore import build_model


@dataclass
class Curve:
    """One training run's validation curve; ``states`` holds the states asked for by image count."""
    points: list[dict] = field(default_factory=list)
    states: dict[int, dict] = field(default_factory=dict)

    @property
    def final(self) -> dict:
        return self.points[-1]

    def as_dict(self) -> dict:
        return {"points": self.points, "final_val_accuracy": self.final["val_accuracy"],
                "images": self.final["images"], "train_seconds": self.final["train_seconds"],
                "t_weighted_images": self.final["t_weighted_images"]}


def datasets(cfg: RunConfig) -> tuple[Dataset, Dataset]:
    """(training split, materialised validation split) of ``cfg``; ``data.val_split`` must be set."""
    if cfg.data.val_split is None:
        raise ValueError("a learning curve scores a validation split: set data.val_split")
    train, _test, val = load_datasets(cfg)
    return train, datalib.materialize(val)


def _chunks(n_train: int, budget: int, eval_every: int, seed: int, level: int):
    """(epoch, indices) pieces of ``eval_every`` images along each epoch's seeded permutation, until
    ``budget`` images; an epoch's last piece may be shorter."""
    seen, epoch = 0, 0
    while seen < budget:
        g = torch.Generator().manual_seed(training.epoch_seed(seed, level, epoch))
        order = torch.randperm(n_train, generator=g)
        for start in range(0, n_train, eval_every):
            take = min(eval_every, n_train - start, budget - seen)
            yield epoch, order[start:start + take]
            seen += take
            if seen >= budget:
                return
        epoch += 1


def scored_points(n_train: int, budget: int, eval_every: int) -> list[int]:
    """The image counts a curve scores (and can keep states) at: each ``eval_every`` images along
    an epoch, every epoch's end, and the budget."""
    points, seen = [], 0
    for _, idx in _chunks(n_train, budget, eval_every, 0, 0):
        seen += len(idx)
        points.append(seen)
    return points


def _run(cfg: RunConfig, model: torch.nn.Module, train: Dataset, val: Dataset, budget: int,
         eval_every: int, masks: masklib.Masks | None = None, level: int = 0,
         warm_timesteps: int | None = None, warm_fraction: float = 0.5,
         keep_at: tuple[int, ...] | str = (), progress: bool = True, desc: str = "curve") -> Curve:
    if not 1 <= eval_every <= budget:
        raise ValueError(f"eval_every={eval_every} must lie in 1..budget ({budget})")
    device = training.device_for(cfg.train)
    net = training.prepare(model, cfg.train, device)
    steps = sum((len(idx) + cfg.train.batch_size - 1) // cfg.train.batch_size
                for _, idx in _chunks(len(train), budget, eval_every, cfg.train.seed, level))
    opt, sched = training.make_optimizer(net, training.for_level(cfg.train, level), 1, steps)
    full_t = cfg.model.timesteps
    dev_masks = {n: m.to(device) for n, m in masks.items()} if masks else None
    if dev_masks:
        masklib.apply(model, dev_masks)
    curve, seen, weighted, seconds, last_epoch = Curve(), 0, 0.0, 0.0, None
    for epoch, idx in _chunks(len(train), budget, eval_every, cfg.train.seed, level):
        if epoch != last_epoch:   # the augmentation stream of this epoch, as training.fit seeds it
            torch.manual_seed(training.augmentation_seed(training.epoch_seed(cfg.train.seed, level,
                                                                             epoch)))
            last_epoch = epoch
        t = warm_timesteps if warm_timesteps and seen < warm_fraction * budget else full_t
        model.timesteps = t
        loader = DataLoader(Subset(train, idx.tolist()), batch_size=cfg.train.batch_size,
                            shuffle=False, num_workers=cfg.data.num_workers)
        st = training.train_epoch(net, loader, opt, sched, device, dev_masks, cfg.train.label_smoothing,
                                  cfg.train.channels_last, desc=f"{desc} {seen}/{budget}",
                                  progress=progress, amp=cfg.train.amp)
        seen, seconds, weighted = seen + st.images, seconds + st.seconds, weighted + st.images * t / full_t
        model.timesteps = full_t
        t0 = time.perf_counter()
        ev = training.evaluate(net, training.eval_loader(val, device=device), device, amp=cfg.train.amp)
        curve.points.append({"images": seen, "epoch": epoch, "timesteps": t,
                             "val_accuracy": ev["accuracy"], "val_loss": ev["loss"],
                             "train_loss": st.loss, "train_accuracy": st.accuracy,
                             "train_seconds": round(seconds, 2), "t_weighted_images": round(weighted),
                             "eval_seconds": round(time.perf_counter() - t0, 2),
                             "spike_sparsity": ev["spike_sparsity"]})
        if progress:
            print(f"[curve] {desc}: {seen:>6} images  val {ev['accuracy']:.4f}  "
                  f"train loss {st.loss:.3f}  {seconds:.0f} s ({st.images_per_s:.0f} images/s)", flush=True)
        if keep_at == "all" or seen in keep_at:
            curve.states[seen] = cpu_state(model)
    return curve


def dense_curve(cfg: RunConfig, budget: int, eval_every: int, warm_timesteps: int | None = None,
                warm_fraction: float = 0.5, keep_at: tuple[int, ...] | str = (), progress: bool = True,
                sets: tuple[Dataset, Dataset] | None = None) -> Curve:
    """The dense network's curve from its seeded initialisation; ``keep_at`` (image counts of scored
    points, or ``"all"``) keeps the model's state there in ``Curve.states``."""
    train, val = sets or datasets(cfg)
    model = build_model(cfg)
    return _run(cfg, model, train, val, budget, eval_every, warm_timesteps=warm_timesteps,
                warm_fraction=warm_fraction, keep_at=keep_at, progress=progress,
                desc=f"{cfg.model.arch} dense")


def one_shot_mask(trained: dict, model: torch.nn.Module, sparsity: float, method: str = "lth",
                  n_pe: int = 16) -> masklib.Masks:
    """Global magnitude pruning of ``trained`` to ``sparsity`` in one step (every conv and linear
    weight, as the lottery driver prunes); ``method="uticket"`` then balances the mask (the
    encoder uncovered, as ``balance.default_covered``)."""
    weights = {n: trained[n].float() for n in masklib.prunable(model)}
    masks = magnitude.prune(weights, masklib.ones(weights), sparsity)
    if method == "uticket":
        masks = balancelib.balance(masks, n_pe=n_pe)          # covers every conv but the encoder
    return masks


def ticket_curve(cfg: RunConfig, trained: dict, rewind: dict, sparsity: float, budget: int,
                 eval_every: int, method: str = "lth", progress: bool = True,
                 sets: tuple[Dataset, Dataset] | None = None, warm_timesteps: int | None = None,
                 warm_fraction: float = 0.5) -> tuple[Curve, masklib.Masks]:
    """Prune ``trained`` one-shot to ``sparsity``, rewind every parameter to ``rewind`` and train
    the ticket for ``budget`` images (a level-1 seed stream, as the lottery driver's first round),
    at ``warm_timesteps`` for the first ``warm_fraction`` of them where that is set."""
    train, val = sets or datasets(cfg)
    model = build_model(cfg)
    masks = one_shot_mask(trained, model, sparsity, method, cfg.balance.n_pe)
    model.load_state_dict(copy.deepcopy(rewind))
    curve = _run(cfg, model, train, val, budget, eval_every, masks=masks, level=1, progress=progress,
                 warm_timesteps=warm_timesteps, warm_fraction=warm_fraction,
                 desc=f"{cfg.model.arch} {method} {sparsity:.0%}")
    return curve, masks
