"""What a finished level records (``metrics.json``): the schema, and the evaluations behind it.

``level_metrics`` builds the record from the level's masks, trained model, test (and validation)
evaluation and epoch history; ``score`` evaluates a model on a dataset, transforming a test set once
per process; ``validated`` says which levels are scored on the validation split.
"""
from __future__ import annotations

import weakref

import torch
from torch import nn
from torch.utils.data import Dataset

from . import data as datalib
from .config import RunConfig
from .pruning import mask as masklib
from .runstore import covered_layers
from .training import eval_loader, evaluate


def validated(cfg: RunConfig, level: int) -> bool:
    """Whether a level's finished network is scored on the validation split: at level 0 (the dense
    network, which recipe probes compare) and at the run's last level (``prune.levels - 1``, what a
    recipe sweep selects on); never in a quantized run (chapter 11 compares those on the test set).
    Nothing reads an intermediate level's validation accuracy (in the cpu book, skipping it saves
    about 2 minutes: 2,000 images at 24 levels); ``train.eval_every_epoch`` still records it per
    epoch at every level."""
    if cfg.quant.bits is not None:
        return False
    return level == 0 or level >= cfg.prune.levels - 1


# Test sets transformed once per process (deterministic transforms), keyed by the dataset object.
_MATERIALIZED: "weakref.WeakKeyDictionary[Dataset, Dataset]" = weakref.WeakKeyDictionary()


def score(model: nn.Module, test_ds: Dataset, cfg: RunConfig, device: torch.device,
              return_correct: bool = False) -> dict:
    if test_ds not in _MATERIALIZED:
        _MATERIALIZED[test_ds] = datalib.materialize(test_ds)
    loader = eval_loader(_MATERIALIZED[test_ds], device=device)
    return evaluate(model, loader, device, per_layer=True, amp=cfg.train.amp,
                    return_correct=return_correct)


def cpu_state(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def level_metrics(level: int, epochs: int, masks: masklib.Masks, model: nn.Module, test: dict,
             history: list[dict], seconds: float, extra: dict, val: dict | None = None) -> dict:
    covered = covered_layers(model, masks)
    speeds = [h["images_per_s"] for h in history]
    best = [h["test_accuracy"] for h in history if "test_accuracy" in h]
    by_val = [h for h in history if "val_accuracy" in h]
    chosen = max(by_val, key=lambda h: h["val_accuracy"]) if by_val else None  # first best epoch
    return {
        "level": level,
        "epochs": epochs,
        "timesteps": model.timesteps,                      # T trained (at the end) and evaluated
        "val_accuracy": val["accuracy"] if val else None,  # final epoch, validation split
        "val_images": val["images"] if val else None,
        "best_val_epoch": chosen["epoch"] if chosen else None,  # the selection a study may make
        "test_accuracy_at_best_val": chosen.get("test_accuracy") if chosen else None,
        "sparsity": masklib.sparsity(masks),                                  # all conv + linear
        "conv_sparsity": masklib.sparsity({n: masks[n] for n in covered}),    # covered convs
        "layer_sparsity": masklib.layer_sparsity(masks),
        "nonzero_weights": int(sum(int(m.sum()) for m in masks.values())),
        "test_accuracy": test["accuracy"],                 # final epoch, the number we report
        "best_test_accuracy": max(best) if best else None,  # released code's selection ON TEST
        "test_loss": test["loss"],
        "firing_rate": test["firing_rate"],
        "spike_sparsity": test["spike_sparsity"],          # Table I: 1 - firing rate
        "layer_firing_rate": test["layer_firing_rate"],
        "test_images": test["images"],
        "train_images_per_s": sum(speeds) / len(speeds) if speeds else None,
        "seconds": seconds,
        "history": history,
        **extra,
    }
