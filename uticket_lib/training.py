"""Training, evaluation and spike statistics for the spiking networks (paper Sec. IV-A).

Loss is the mean over timesteps of the cross-entropy of each step's logits; the prediction is the
argmax of the logits summed over time (as in the released code). Pruned weights stay exactly zero:
their gradients are masked before the optimizer sees them and the mask is re-applied after each step.

Multi-GPU: launched under ``torchrun``, ``distributed()`` initialises the process group (NCCL on CUDA,
gloo on CPU), the model is wrapped in DDP and every rank reads its own shard of each epoch.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, TensorDataset
from tqdm import tqdm

from .config import TrainConfig
from .models import neurons
from .pruning import mask as masklib


# ----------------------------------------------------------------------------- devices & processes
def device_for(cfg: TrainConfig) -> torch.device:
    if cfg.device:
        return torch.device(cfg.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def distributed() -> bool:
    """True under torchrun (WORLD_SIZE > 1); initialises the default process group once."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def epoch_seed(seed: int, level: int, epoch: int) -> int:
    """Seed for one epoch's shuffling and augmentation, so a resumed epoch replays exactly."""
    return (seed * 1_000_003 + level * 10_007 + epoch) % (2**63)


def augmentation_seed(seed: int, rank_: int | None = None) -> int:
    """Seed of one rank's augmentation draws: ``seed`` on rank 0 (so single-process runs keep their
    numbers), offset per rank otherwise, so DDP ranks crop, flip and cut out independently."""
    r = rank() if rank_ is None else rank_
    return (seed + r * 1_000_000_007) % (2**63)


# ----------------------------------------------------------------------------- loaders
def train_loader(ds: Dataset, cfg: TrainConfig, num_workers: int, seed: int) -> DataLoader:
    """Shuffled loader whose order is fixed by ``seed`` (re-created every epoch).

    Under DDP the shard order comes from ``seed`` (common to all ranks, so shards stay disjoint);
    the generator that seeds the loader's workers is per rank (``augmentation_seed``)."""
    if distributed():
        gen = torch.Generator().manual_seed(augmentation_seed(seed))
        sampler = DistributedSampler(ds, shuffle=True, seed=seed % (2**31), drop_last=False)
        batch = max(1, cfg.batch_size // dist.get_world_size())
    else:
        gen = torch.Generator().manual_seed(seed)
        sampler, batch = RandomSampler(ds, generator=gen), cfg.batch_size
    return DataLoader(ds, batch_size=batch, sampler=sampler, num_workers=num_workers,
                      generator=gen, persistent_workers=False, drop_last=False)


def epoch_loader(ds: Dataset, cfg: TrainConfig, num_workers: int, seed: int) -> DataLoader:
    """One epoch's loader, with the global generator (augmentation in the main process) seeded
    per rank by ``augmentation_seed(seed)``."""
    torch.manual_seed(augmentation_seed(seed))
    return train_loader(ds, cfg, num_workers, seed)


# Images per evaluation batch, by device type. On a GPU large batches amortise launches and Python
# (VGG-16 at width 1: about 1 GB of float32 spikes per layer at 1,000 images x T = 4). On CPU they
# are slower: at width 0.25 a [T*N, C, 32, 32] activation of 1,000 images leaves the caches, and
# forward-only VGG-16 ran at 280-380 images/s at 1,000 against 610-730 at 64-100 (ResNet-19: 180
# against 320-360), measured on the 2-core machine on 2026-11-30 (ci/bench_train.py records it).
EVAL_BATCH = {"cpu": 64, "cuda": 1000}


def eval_batch(device: torch.device | str | None = None) -> int:
    """The evaluation batch for ``device`` (``EVAL_BATCH``; CPU where unknown)."""
    kind = torch.device(device).type if device is not None else "cpu"
    return EVAL_BATCH.get(kind, EVAL_BATCH["cpu"])


def eval_loader(ds: Dataset, batch_size: int | None = None, num_workers: int = 0,
                device: torch.device | str | None = None):
    """Batches ``(x, y)`` of ``ds`` in order, ``batch_size`` images each (default ``eval_batch(device)``).
    A ``TensorDataset`` (``data.materialize``) is sliced directly (no per-image Python); anything
    else goes through a ``DataLoader``."""
    if batch_size is None:
        batch_size = eval_batch(device)
    if isinstance(ds, TensorDataset) and len(ds.tensors) == 2:
        x, y = ds.tensors
        return list(zip(x.split(batch_size), y.split(batch_size)))
    return DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)


def autocast(device: torch.device, amp: bool):
    """bf16 autocast on ``device`` (CUDA or CPU) when ``amp``, else a no-op context.

    On CPU, bf16 pays only where the CPU computes bf16 dot products natively (AVX512-BF16, AMX);
    elsewhere oneDNN emulates it, slower than fp32. The profiles decide ``amp`` per machine
    (``profiles.resolve_amp``); the LIF neurons keep their membrane arithmetic in fp32 either way
    (``models.neurons.LIF_FP32``)."""
    kind = device.type if device.type in ("cuda", "cpu") else "cpu"
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=amp and device.type in ("cuda", "cpu"))


def uses_channels_last(model: nn.Module) -> bool:
    """True when the model's conv weights are stored channels-last (the first 4-D parameter whose
    layout is unambiguous decides: a ``[C, 1, 3, 3]`` weight is contiguous both ways)."""
    for p in _unwrap(model).parameters():
        if p.dim() == 4:
            cl, plain = p.is_contiguous(memory_format=torch.channels_last), p.is_contiguous()
            if cl != plain:
                return cl
    return False


# ----------------------------------------------------------------------------- optimisation
def for_level(cfg: TrainConfig, level: int) -> TrainConfig:
    """The training settings of ``level``: the pruning rounds (level >= 1) at ``lr_rounds`` where set."""
    if level >= 1 and cfg.lr_rounds is not None:
        return dataclasses.replace(cfg, lr=cfg.lr_rounds)
    return cfg


# The optimizer's and the masks' per-step work as one multi-tensor op per kind (True) or a Python loop
# over the parameters (False: torch's CPU default, kept to measure the difference; ci/bench_foreach.py).
FOREACH = True


def make_optimizer(model: nn.Module, cfg: TrainConfig, epochs: int, steps_per_epoch: int):
    """SGD + momentum (or AdamW), cosine annealing over the round (stepped per batch), after a linear
    warm-up over ``cfg.warmup`` of the steps when that is set."""
    wd = 0.0 if cfg.released_weight_decay else cfg.weight_decay  # released code: wd silently lost
    # foreach=True on every device (torch picks it only for CUDA tensors by default): the same
    # arithmetic op for op, bit for bit (tests/test_training.py; the cpu book's dense VGG-16 too).
    # MEASURED on CPU (ci/bench_results/optimizer_masks.json, ci/bench_foreach.py): one AdamW step
    # 1.55 against 1.84 ms (VGG-16, 54 tensors), end to end within the readings' noise (0.96-1.07x).
    # fused=True would take 0.48 ms, about 3 % of a step, but rounds differently (2e-7 after 40
    # steps), so it would change the recorded results for little.
    if cfg.optimizer == "adam":  # AdamW: decoupled weight decay, betas (momentum, 0.999)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.momentum, 0.999),
                                weight_decay=wd, foreach=FOREACH)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd,
                              foreach=FOREACH)
    total = max(1, epochs * steps_per_epoch)
    warm = int(round(cfg.warmup * total))
    if warm == 0:   # the paper's schedule (and every run before train.warmup existed)
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda step: warmup_cosine(step, warm, total))


def warmup_cosine(step: int, warm: int, total: int) -> float:
    """Learning-rate factor at ``step``: linear from 1/warm to 1 over ``warm`` steps, then the cosine
    from 1 to 0 over the remaining ``total - warm`` steps."""
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1.0 + math.cos(math.pi * min(step - warm, total - warm) / max(1, total - warm)))


def spike_loss(logits: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean over t of CE(logits_t, y).  logits [T, N, K], y [N]."""
    T = logits.shape[0]
    return F.cross_entropy(logits.flatten(0, 1), y.repeat(T), label_smoothing=label_smoothing)


def predict(logits: torch.Tensor) -> torch.Tensor:
    """argmax of summed logits.  [T, N, K] -> [N]"""
    return logits.sum(0).argmax(-1)


def _unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)      # DDP


def mask_lists(model: nn.Module, masks: masklib.Masks | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(masked parameters, their masks on the parameters' device and dtype) in one order, for one
    multi-tensor multiply per step; two empty lists without masks. Checks names and shapes once."""
    if not masks:
        return [], []
    params = dict(_unwrap(model).named_parameters())
    masklib.check(masks, {n: p.shape for n, p in params.items() if n in masks}, "masks")
    ps = [params[n] for n in masks]
    return ps, [m.to(device=p.device, dtype=p.dtype) for m, p in zip(masks.values(), ps)]


@torch.no_grad()
def _mask_step(params: list[torch.Tensor], masks: list[torch.Tensor], grads: bool) -> None:
    """Multiply the gradients (``grads``) or the weights of ``params`` by ``masks``, in place: one
    foreach op (``FOREACH``) or a loop. Values are equal either way: 0/1 masks, one multiply each."""
    if grads:
        pairs = [(p.grad, m) for p, m in zip(params, masks) if p.grad is not None]
        params, masks = [g for g, _ in pairs], [m for _, m in pairs]
    if not params:
        return
    if FOREACH:
        torch._foreach_mul_(params, masks)
    else:
        for t, m in zip(params, masks):
            t.mul_(m)


# ----------------------------------------------------------------------------- one epoch
@dataclass
class EpochStats:
    loss: float
    accuracy: float
    images: int
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.images / max(self.seconds, 1e-9)


def train_epoch(model: nn.Module, loader: DataLoader, opt, sched, device: torch.device,
                masks: masklib.Masks | None = None, label_smoothing: float = 0.0,
                channels_last: bool = False, desc: str = "train", progress: bool = True,
                amp: bool = False, on_batch: Callable[[int], None] | None = None) -> EpochStats:
    """One pass over ``loader``. ``EpochStats.seconds`` is the wall time of the whole loop (loading,
    augmentation, forward, backward, optimizer, masks): the runs' ``train_images_per_s``.
    ``on_batch(images)`` is called after every step with the images this pass has trained on so
    far (all ranks together)."""
    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    mask_params, mask_values = mask_lists(model, masks)
    model.train()
    t0, seen, correct, loss_sum = time.perf_counter(), 0, 0, 0.0
    bar = tqdm(loader, desc=desc, leave=False, disable=not (progress and is_main()))
    for x, y in bar:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, amp):
            logits = model(x)                   # [T, N, K]
            loss = spike_loss(logits.float(), y, label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        _mask_step(mask_params, mask_values, grads=True)    # pruned weights get no update...
        opt.step()
        sched.step()
        _mask_step(mask_params, mask_values, grads=False)   # ... and stay exactly 0 under weight decay
        seen += y.numel()
        if on_batch is not None:
            on_batch(seen * world)
        correct += (predict(logits.detach()) == y).sum().item()
        loss_sum += loss.item() * y.numel()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    seen_t = torch.tensor([seen, correct, loss_sum], dtype=torch.float64)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(seen_t)
    n, c, s = seen_t.tolist()
    return EpochStats(loss=s / max(n, 1), accuracy=c / max(n, 1), images=int(n),
                      seconds=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- evaluation
@torch.inference_mode()
def evaluate(model: nn.Module, loader, device: torch.device, progress: bool = False,
             per_layer: bool = False, amp: bool = False, return_correct: bool = False) -> dict:
    """Accuracy, loss and firing statistics over a whole loader (any iterable of ``(x, y)``).

    Runs under ``inference_mode`` and feeds channels-last input to a channels-last model. Use
    ``eval_loader``'s default batch for the device and a materialised test set
    (``data.materialize``).

    With ``return_correct`` the result also holds ``correct``: a bool tensor [images], in loader
    order, True where the prediction was right (paired accuracy intervals need it per image).

    ``firing_rate`` = spikes / (neurons x timesteps x images), weighted by neuron count, over every
    LIF layer; ``spike_sparsity`` = 1 - firing_rate (Table I's "spike sparsity").
    """
    net = _unwrap(model)
    net.eval()
    counts: dict[str, list[float]] = {}

    def hook(name):
        def fn(_m, _inp, out):  # out: [T, N, ...] spikes in {0, 1}
            c = counts.setdefault(name, [0.0, 0.0])
            c[0] += float(out.sum(dtype=torch.float64))  # exact for bf16 spikes too
            c[1] += float(out.numel())
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in neurons.neuron_modules(net).items()]
    seen = correct = 0
    loss_sum = 0.0
    cl = uses_channels_last(net)
    per_image: list[torch.Tensor] = []
    try:
        for x, y in tqdm(loader, desc="eval", leave=False, disable=not progress):
            x, y = x.to(device), y.to(device)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, amp):
                logits = net(x).float()
            loss_sum += spike_loss(logits, y).item() * y.numel()
            hit = predict(logits) == y
            correct += hit.sum().item()
            if return_correct:
                per_image.append(hit.detach().cpu())
            seen += y.numel()
    finally:
        for h in handles:
            h.remove()
    spikes = sum(c[0] for c in counts.values())
    slots = sum(c[1] for c in counts.values())
    rate = spikes / slots if slots else 0.0
    out = {"accuracy": correct / max(seen, 1), "loss": loss_sum / max(seen, 1),
           "firing_rate": rate, "spike_sparsity": 1.0 - rate, "images": seen}
    if return_correct:
        out["correct"] = torch.cat(per_image) if per_image else torch.zeros(0, dtype=torch.bool)
    if per_layer:
        out["layer_firing_rate"] = {n: c[0] / c[1] for n, c in counts.items() if c[1]}
    return out


# ----------------------------------------------------------------------------- a round of training
def prepare(model: nn.Module, cfg: TrainConfig, device: torch.device) -> nn.Module:
    """Move to device, optional channels_last / DDP.  Returns the model to call."""
    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if distributed():
        ids = [device.index] if device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    return model


EpochCallback = Callable[[int, EpochStats, dict], None]


def fit(model: nn.Module, train_ds: Dataset, cfg: TrainConfig, epochs: int, level: int,
        masks: masklib.Masks | None, device: torch.device, num_workers: int = 0,
        resume: dict | None = None, on_epoch_end: EpochCallback | None = None,
        progress: bool = True, on_images: Callable[[int], None] | None = None) -> list[EpochStats]:
    """Train ``model`` in place for ``epochs`` epochs of one pruning round.

    ``resume`` = {"epoch", "optimizer", "scheduler"} from an interrupted call (the caller restores
    the model's weights). After every epoch ``on_epoch_end(epoch_done, stats, optim_state)`` lets the
    caller persist progress. Each epoch's shuffle and augmentation are seeded by
    ``epoch_seed(cfg.seed, level, epoch)``, so an interrupted round resumes bit-for-bit on CPU.
    ``on_images(n)`` is called after every step with the images of the round trained on so far.
    """
    net = prepare(model, cfg, device)
    steps = len(train_loader(train_ds, cfg, 0, 0))
    opt, sched = make_optimizer(net, cfg, epochs, steps)
    start = 0
    if resume:
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        start = resume["epoch"]
        for group in opt.param_groups:     # a state saved before FOREACH carries foreach=None
            group["foreach"] = FOREACH
    history = []
    for epoch in tqdm(range(start, epochs), desc=f"level {level}", initial=start, total=epochs,
                      disable=not (progress and is_main()), leave=False):
        loader = epoch_loader(train_ds, cfg, num_workers, epoch_seed(cfg.seed, level, epoch))
        done = epoch * len(train_ds)
        stats = train_epoch(net, loader, opt, sched, device, masks, cfg.label_smoothing,
                            cfg.channels_last, desc=f"epoch {epoch + 1}/{epochs}",
                            progress=progress, amp=cfg.amp,
                            on_batch=None if on_images is None else (lambda n, d=done: on_images(d + n)))
        history.append(stats)
        if on_epoch_end:
            on_epoch_end(epoch + 1, stats, {"optimizer": opt.state_dict(),
                                            "scheduler": sched.state_dict()})
    return history
